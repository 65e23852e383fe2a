package driver

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Kinds of lane events.
const (
	evDrain   = iota + 1 // the current connection began draining
	evLost               // a connection that was not draining ended
	evDrained            // a draining connection ended
)

// healthyAfter is how long a connection must have been bound, having
// delivered an answer, for its loss not to count as a failed attempt.
const healthyAfter = time.Second

// spillEvery is how often a lane without a connection that sends moves
// the messages in its inbox to other lanes.
const spillEvery = 20 * time.Millisecond

type laneEvent struct {
	p    *pconn
	kind int
}

// lane is one logical connection (Config.Conns of them): its current
// physical connection (a pconn, with a reader and a writer goroutine),
// the records it creates (its pool), the messages waiting for its current
// writer (its inbox), and a supervisor goroutine, running only when
// needed, that replaces the connection when it drains or is lost. A lane
// holds at most two TCP connections: the current one (or the one being
// dialled) and at most one draining predecessor. While it has no
// connection that sends, its inbox spills to other lanes every
// spillEvery, so that nothing waits for a dial.
type lane struct {
	d     *Driver
	index int

	cur  atomic.Pointer[pconn]
	in   inbox
	pool recordPool

	events chan laneEvent

	// spare holds sample batches the collector drained, for the readers
	// of the lane's connections (which take the whole list at once): a
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
func (l *lane) event(p *pconn, kind int) {
	select {
	case l.events <- laneEvent{p: p, kind: kind}:
	case <-l.d.done:
		return
	}
	l.startSupervisor()
}

// startSupervisor starts the lane's supervisor goroutine unless it runs
// already or the run is closing. closing is checked and the supervisor
// added to d.swg under d.mu, which close holds when it sets closing
// before it waits on d.swg: no supervisor is added once close waits.
func (l *lane) startSupervisor() {
	if !l.supRunning.CompareAndSwap(false, true) {
		return
	}
	d := l.d
	d.mu.Lock()
	if d.closing.Load() {
		d.mu.Unlock()
		l.supRunning.Store(false)
		return
	}
	d.swg.Add(1)
	d.mu.Unlock()
	go l.supervise()
}

// wakeWriter wakes the current writer, which owns the inbox.
func (l *lane) wakeWriter() {
	if p := l.cur.Load(); p != nil {
		p.wakeIfIdle()
	}
}

// supervise replaces the lane's connection when it drains or is lost.
// It runs only while it has something to do: events to handle, or a
// draining connection that waits for its predecessor to end; then it
// exits, so that a thousand healthy connections have no supervisor
// goroutine (its state stays in the lane for the next one).
//
// A draining connection is replaced at once, unless its predecessor is
// still draining: then the lane waits for that one to end (the server
// closes it, or the driver after DrainCloseTimeout) before it dials, so
// that it never holds more than two TCP connections, and its messages go
// to other lanes meanwhile. A lost connection is replaced at once if it
// was healthy (it delivered an answer and lived healthyAfter), else after
// the backoff of a failed attempt.
func (l *lane) supervise() {
	d := l.d
	defer d.swg.Done()
	for {
		var ev laneEvent
		select {
		case ev = <-l.events:
		default:
			if l.waiting == nil {
				// Idle: exit. The flag is cleared before the queue is
				// looked at again, and a sender queues before it tries to
				// set the flag (event): so an event queued meanwhile is
				// seen here, or its sender starts a new supervisor. Both
				// may happen; the CAS lets only one of the two go on.
				l.supRunning.Store(false)
				if len(l.events) == 0 || !l.supRunning.CompareAndSwap(false, true) {
					return
				}
				continue
			}
			select {
			case ev = <-l.events:
			case <-l.waiting.C:
				l.spill()
				continue
			case <-d.done:
				l.setWaiting(false)
				return
			}
		}
		l.handle(ev)
	}
}

// handle acts on one event (supervisor goroutine only).
func (l *lane) handle(ev laneEvent) {
	d := l.d
	p, cur := ev.p, l.cur.Load()
	healthy := ev.kind != evDrain && p.healthy()
	if healthy {
		l.backoff = d.cfg.ReconnectBackoff
	}
	switch {
	case ev.kind == evDrain && p == cur && l.old != nil:
		l.setWaiting(true)
	case ev.kind == evDrain && p == cur:
		l.old = p
		l.replace(false)
	case ev.kind == evDrained && p == l.old:
		l.old = nil
		if l.waiting != nil {
			l.setWaiting(false)
			l.old = cur
			l.replace(false)
		}
	case ev.kind == evDrained && p == cur:
		// It waited for old to end, and ended first.
		l.setWaiting(false)
		l.replace(false)
	case ev.kind == evLost && p == cur:
		l.replace(!healthy)
	}
}

// setWaiting starts or stops waiting for the draining predecessor to end:
// meanwhile the lane's messages go to other lanes every spillEvery.
func (l *lane) setWaiting(on bool) {
	switch {
	case on && l.waiting == nil:
		l.spill()
		l.waiting = time.NewTicker(spillEvery)
	case !on && l.waiting != nil:
		l.waiting.Stop()
		l.waiting = nil
	}
}

// replace dials a new connection for the lane and makes it current: at
// once, or after the backoff when the connection it replaces was a failed
// attempt. Failed dials, handshakes or authentications back off too.
func (l *lane) replace(failed bool) {
	d := l.d
	if failed && !l.pause() {
		return
	}
	for !d.closing.Load() {
		c, err := d.dial(d.ctx, l.index)
		if err == nil {
			p := newPconn(d, l, c)
			if !d.register(p) {
				_ = c.Close()
				return
			}
			l.cur.Store(p)
			l.reconnects.Add(1)
			p.start()
			p.wake()
			return
		}
		if d.closing.Load() {
			return
		}
		l.dialFailures.Add(1)
		d.setDialError(err)
		if !l.pause() {
			return
		}
	}
}

// pause waits out the backoff, jittered by up to half of it, and doubles
// it up to MaxReconnectBackoff; the lane's messages go to other lanes
// meanwhile. It returns false when the run ends first.
func (l *lane) pause() bool {
	d := l.d
	wait := l.backoff + time.Duration(l.rng.Int64N(int64(l.backoff)/2+1))
	l.backoff = min(2*l.backoff, d.cfg.MaxReconnectBackoff)
	l.spill()
	t := time.NewTimer(wait)
	defer t.Stop()
	tick := time.NewTicker(spillEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-tick.C:
			l.spill()
		case <-d.done:
			return false
		}
	}
}

// spill moves the inbox to other live lanes while this one has no
// connection, so that waiting messages are not held up.
func (l *lane) spill() {
	d := l.d
	head := l.in.takeAll()
	for head != 0 {
		i := head - 1
		head = d.recs.at(i).next.Load()
		t := d.pickLane(l)
		t.in.push(&d.recs, i)
		t.wakeWriter()
	}
}

// sends reports whether the lane's current connection sends: alive and
// not draining.
func (l *lane) sends() bool {
	p := l.cur.Load()
	return p != nil && !p.draining.Load() && !p.dead.Load()
}

// pickLane returns the next lane after from whose connection sends, or
// from itself when there is none.
func (d *Driver) pickLane(from *lane) *lane {
	n := len(d.lanes)
	for k := 1; k < n; k++ {
		if t := d.lanes[(from.index+k)%n]; t.sends() {
			return t
		}
	}
	return from
}

// home returns the lane a message of l waiting for a resend goes to: l
// itself while its connection sends, else another lane whose connection
// sends (s itself when none does: the message waits for its replacement).
func (d *Driver) home(l *lane) *lane {
	if l.sends() {
		return l
	}
	return d.pickLane(l)
}
