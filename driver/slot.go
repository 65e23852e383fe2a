package driver

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Kinds of slot events.
const (
	evDrain = iota + 1
	evLost
)

type slotEvent struct {
	p    *pconn
	kind int
}

// slot is one logical connection: the current physical connection, the
// records it creates (its pool), the messages waiting for its writer (its
// inbox), and a supervisor goroutine that replaces the connection at once
// when it drains or is lost.
type slot struct {
	d     *Driver
	index int

	cur  atomic.Pointer[pconn]
	in   inbox
	pool recordPool

	events chan slotEvent

	// hists holds interval histograms of this slot's retired connections
	// for the next ones: a replacement every few milliseconds (frequent
	// draining) must not allocate 4 histograms (~560 KB) each time.
	hists chan *[2]ivlHists

	draining, reconnects, dialFailures atomic.Uint64
}

// takeHists returns a reset pair of interval histograms, reused if the
// slot has one.
func (s *slot) takeHists() *[2]ivlHists {
	select {
	case h := <-s.hists:
		return h
	default:
	}
	s.d.histAllocs.Add(1)
	return &[2]ivlHists{{svc: newHist(), rsp: newHist()}, {svc: newHist(), rsp: newHist()}}
}

// putHists gives a retired connection's histograms back for reuse; the
// collector has merged and reset them.
func (s *slot) putHists(h *[2]ivlHists) {
	for i := range h {
		h[i].svc.Reset()
		h[i].rsp.Reset()
		h[i].acked = 0
	}
	select {
	case s.hists <- h:
	default:
	}
}

// event tells the supervisor about a drain or a loss.
func (s *slot) event(p *pconn, kind int) {
	select {
	case s.events <- slotEvent{p: p, kind: kind}:
	case <-s.d.done:
	}
}

// notifyCurrent wakes the current writer, which owns the inbox.
func (s *slot) notifyCurrent() {
	if p := s.cur.Load(); p != nil {
		p.notify()
	}
}

func (s *slot) supervise() {
	d := s.d
	defer d.swg.Done()
	for {
		select {
		case ev := <-s.events:
			if ev.p == s.cur.Load() {
				s.replace()
			}
		case <-d.done:
			return
		}
	}
}

// replace dials a new connection for the slot, at once, and makes it
// current. Only failed dials, handshakes or authentications back off.
func (s *slot) replace() {
	d := s.d
	backoff := d.cfg.ReconnectBackoff
	rng := rand.New(rand.NewPCG(d.cfg.Seed, uint64(s.index)<<32|uint64(time.Now().UnixNano())))
	for !d.closing.Load() {
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.DialTimeout)
		c, err := d.tr.Dial(ctx, s.index)
		cancel()
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
		s.spill()
		wait := backoff + time.Duration(rng.Int64N(int64(backoff)/2+1))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.done:
			t.Stop()
			return
		}
		backoff = min(2*backoff, d.cfg.MaxReconnectBackoff)
	}
}

// spill moves the inbox to other live slots while this one has no
// connection, so that waiting messages are not held up.
func (s *slot) spill() {
	d := s.d
	l := s.in.takeAll()
	for l != 0 {
		i := l - 1
		l = d.recs[i].next.Load()
		t := d.pickSlot(s)
		t.in.push(d.recs, i)
		t.notifyCurrent()
	}
}

// pickSlot returns the next slot after from whose connection is alive and
// not draining, or from itself when there is none.
func (d *Driver) pickSlot(from *slot) *slot {
	n := len(d.slots)
	for k := 1; k < n; k++ {
		t := d.slots[(from.index+k)%n]
		if p := t.cur.Load(); p != nil && !p.draining.Load() && !p.dead.Load() {
			return t
		}
	}
	return from
}
