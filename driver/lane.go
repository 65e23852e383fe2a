package driver

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Kinds of slot events.
const (
	evDrain   = iota + 1 // the current connection began draining
	evLost               // a connection that was not draining ended
	evDrained            // a draining connection ended
)

// healthyAfter is how long a connection must have been bound, having
// delivered an answer, for its loss not to count as a failed attempt.
const healthyAfter = time.Second

// spillEvery is how often a slot without a connection that sends moves
// the messages in its inbox to other slots.
const spillEvery = 20 * time.Millisecond

type slotEvent struct {
	p    *pconn
	kind int
}

// slot is one logical connection: the current physical connection, the
// records it creates (its pool), the messages waiting for its writer (its
// inbox), and a supervisor goroutine, running only when needed, that
// replaces the connection when it drains or is lost. A slot holds at most two TCP connections: the
// current one (or the one being dialled) and at most one draining
// predecessor.
type slot struct {
	d     *Driver
	index int

	cur  atomic.Pointer[pconn]
	in   inbox
	pool recordPool

	events chan slotEvent

	// spare holds sample batches the collector drained, for the readers
	// of the slot's connections (which take the whole list at once): a
	// replacement every few milliseconds (frequent draining) reuses them.
	spare atomic.Pointer[sampleBatch]

	draining, reconnects, dialFailures atomic.Uint64

	// supRunning is set while the supervisor goroutine runs; its state
	// below passes from one run of it to the next through this flag.
	supRunning atomic.Bool
	backoff    time.Duration // the delay before the next attempt after a failed one
	rng        *rand.Rand
	old        *pconn       // the draining predecessor of the current connection, until it ends
	waiting    *time.Ticker // set while the current connection drains and waits for old to end
}

// event tells the supervisor about a drain or a loss, and starts it if
// it is not running.
func (s *slot) event(p *pconn, kind int) {
	select {
	case s.events <- slotEvent{p: p, kind: kind}:
	case <-s.d.done:
		return
	}
	s.startSupervisor()
}

// startSupervisor starts the slot's supervisor goroutine unless it runs
// already or the run is closing. (Not under d.mu, the supervisor could be
// added to d.swg while close waits for it.)
func (s *slot) startSupervisor() {
	if !s.supRunning.CompareAndSwap(false, true) {
		return
	}
	d := s.d
	d.mu.Lock()
	if d.closing.Load() {
		d.mu.Unlock()
		s.supRunning.Store(false)
		return
	}
	d.swg.Add(1)
	d.mu.Unlock()
	go s.supervise()
}

// notifyCurrent wakes the current writer, which owns the inbox.
func (s *slot) notifyCurrent() {
	if p := s.cur.Load(); p != nil {
		p.notify()
	}
}

// supervise replaces the slot's connection when it drains or is lost.
// It runs only while it has something to do: events to handle, or a
// draining connection that waits for its predecessor to end; then it
// exits, so that a thousand healthy connections have no supervisor
// goroutine (its state stays in the slot for the next one).
//
// A draining connection is replaced at once, unless its predecessor is
// still draining: then the slot waits for that one to end (the server
// closes it, or the driver after DrainCloseTimeout) before it dials, so
// that it never holds more than two TCP connections, and its messages go
// to other slots meanwhile. A lost connection is replaced at once if it
// was healthy (it delivered an answer and lived healthyAfter), else after
// the backoff of a failed attempt.
func (s *slot) supervise() {
	d := s.d
	defer d.swg.Done()
	for {
		var ev slotEvent
		select {
		case ev = <-s.events:
		default:
			if s.waiting == nil {
				// Idle: exit, unless an event came in meanwhile whose
				// sender saw this goroutine still running.
				s.supRunning.Store(false)
				if len(s.events) == 0 || !s.supRunning.CompareAndSwap(false, true) {
					return
				}
				continue
			}
			select {
			case ev = <-s.events:
			case <-s.waiting.C:
				s.spill()
				continue
			case <-d.done:
				s.setWaiting(false)
				return
			}
		}
		s.handle(ev)
	}
}

// handle acts on one event (supervisor goroutine only).
func (s *slot) handle(ev slotEvent) {
	d := s.d
	p, cur := ev.p, s.cur.Load()
	healthy := ev.kind != evDrain && p.healthy()
	if healthy {
		s.backoff = d.cfg.ReconnectBackoff
	}
	switch {
	case ev.kind == evDrain && p == cur && s.old != nil:
		s.setWaiting(true)
	case ev.kind == evDrain && p == cur:
		s.old = p
		s.replace(false)
	case ev.kind == evDrained && p == s.old:
		s.old = nil
		if s.waiting != nil {
			s.setWaiting(false)
			s.old = cur
			s.replace(false)
		}
	case ev.kind == evDrained && p == cur:
		// It waited for old to end, and ended first.
		s.setWaiting(false)
		s.replace(false)
	case ev.kind == evLost && p == cur:
		s.replace(!healthy)
	}
}

// setWaiting starts or stops waiting for the draining predecessor to end:
// meanwhile the slot's messages go to other slots every spillEvery.
func (s *slot) setWaiting(on bool) {
	switch {
	case on && s.waiting == nil:
		s.spill()
		s.waiting = time.NewTicker(spillEvery)
	case !on && s.waiting != nil:
		s.waiting.Stop()
		s.waiting = nil
	}
}

// replace dials a new connection for the slot and makes it current: at
// once, or after the backoff when the connection it replaces was a failed
// attempt. Failed dials, handshakes or authentications back off too.
func (s *slot) replace(failed bool) {
	d := s.d
	if failed && !s.pause() {
		return
	}
	for !d.closing.Load() {
		c, err := d.dial(d.ctx, s.index)
		if err == nil {
			p := newPconn(d, s, c)
			if !d.register(p) {
				_ = c.Close()
				return
			}
			s.cur.Store(p)
			s.reconnects.Add(1)
			p.start()
			p.kick()
			return
		}
		if d.closing.Load() {
			return
		}
		s.dialFailures.Add(1)
		d.setDialError(err)
		if !s.pause() {
			return
		}
	}
}

// pause waits out the backoff, jittered by up to half of it, and doubles
// it up to MaxReconnectBackoff; the slot's messages go to other slots
// meanwhile. It returns false when the run ends first.
func (s *slot) pause() bool {
	d := s.d
	wait := s.backoff + time.Duration(s.rng.Int64N(int64(s.backoff)/2+1))
	s.backoff = min(2*s.backoff, d.cfg.MaxReconnectBackoff)
	s.spill()
	t := time.NewTimer(wait)
	defer t.Stop()
	tick := time.NewTicker(spillEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-tick.C:
			s.spill()
		case <-d.done:
			return false
		}
	}
}

// spill moves the inbox to other live slots while this one has no
// connection, so that waiting messages are not held up.
func (s *slot) spill() {
	d := s.d
	l := s.in.takeAll()
	for l != 0 {
		i := l - 1
		l = d.recs.at(i).next.Load()
		t := d.pickSlot(s)
		t.in.push(&d.recs, i)
		t.notifyCurrent()
	}
}

// sends reports whether the slot's current connection sends: alive and
// not draining.
func (s *slot) sends() bool {
	p := s.cur.Load()
	return p != nil && !p.draining.Load() && !p.dead.Load()
}

// pickSlot returns the next slot after from whose connection sends, or
// from itself when there is none.
func (d *Driver) pickSlot(from *slot) *slot {
	n := len(d.slots)
	for k := 1; k < n; k++ {
		if t := d.slots[(from.index+k)%n]; t.sends() {
			return t
		}
	}
	return from
}

// home returns the slot a message of s waiting for a resend goes to: s
// itself while its connection sends, else another slot whose connection
// sends (s itself when none does: the message waits for its replacement).
func (d *Driver) home(s *slot) *slot {
	if s.sends() {
		return s
	}
	return d.pickSlot(s)
}
