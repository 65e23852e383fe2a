package fakeccs

import (
	"math/rand/v2"
	"net"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// A server pools its closed connections whole, in a sync.Pool, so that
// connection churn (--drain-every, --drop-every, reconnecting clients)
// does not allocate their buffers anew: newConn takes one and sets it up
// for a new client, recycle resets it and puts it back. What a pooled
// connection keeps is bounded: outKeep bytes of reply buffer,
// maxPooledHelds held answers, 2*RecentIDs slots per recent-id table,
// MaxUnackedUpstream free upstream entries, 2*MaxUnackedUpstream entries
// of scratch.

// maxPooledHelds bounds the free helds a pooled connection keeps.
const maxPooledHelds = 2 * ccs.MaxPending

// newConn prepares a connection over the TLS connection tc on raw, from
// the pool or new.
func (s *Server) newConn(tc net.Conn, raw net.Conn) *conn {
	c, _ := s.idle.Get().(*conn)
	if c == nil {
		c = &conn{delta: make([]uint64, len(s.totals)), pub: make(counters, len(s.totals))}
		c.rng = rand.New(&c.pcg)
	}
	c.seq = s.connSeq.Add(1)
	c.pcg.Seed(s.cfg.Seed, c.seq)
	c.Conn, c.raw, c.s, c.cfg = tc, raw, s, &s.cfg
	c.framed = framedConn{Conn: tc, c: c}
	c.tm = timers{deadline: -1, timed: s.timed, clock: s.timed || s.cfg.DeviceRate > 0}
	c.out.wdue = -int64(time.Hour)
	c.out.delay, c.out.jitter = int64(s.cfg.AckDelay), int64(s.cfg.AckJitter)
	c.out.delayed = c.out.delay > 0 || c.out.jitter > 0
	if s.cfg.UpstreamRate > 0 {
		c.up.interval = max(1, int64(float64(time.Second)/s.cfg.UpstreamRate))
	}
	return c
}

// recycle resets c, closed, and returns it to the pool; c must not be
// used afterwards.
func (s *Server) recycle(c *conn) {
	c.reset()
	s.idle.Put(c)
}

// reset readies c for another client: every field starts from zero, but
// for the buffers worth keeping (each group's reuse says which), the
// counters (zeroed) and the random generator (seeded again by newConn).
func (c *conn) reset() {
	clear(c.delta)
	for i := range c.pub {
		c.pub[i].Store(0)
	}
	*c = conn{
		pcg:   c.pcg,
		rng:   c.rng,
		in:    c.in.reuse(),
		out:   c.out.reuse(),
		up:    c.up.reuse(),
		delta: c.delta,
		pub:   c.pub,
	}
}

// reuse returns an empty input holding i's Framer (ServerHandshake Resets
// it), JSON reader and recent-id tables.
func (i *input) reuse() input {
	i.recent.reset()
	return input{fr: i.fr, jr: i.jr, recent: i.recent}
}

// reuse returns an empty output holding o's reply buffer (unless it grew
// past outKeep), scratch buffers and up to maxPooledHelds free helds.
func (o *output) reuse() output {
	q := &o.held
	for q.len() > 0 {
		q.put(q.pop())
	}
	keep := min(len(q.free), maxPooledHelds)
	clear(q.free[keep:])
	n := output{desc: o.desc[:0], canon: o.canon[:0], held: heldQueue{h: q.h[:0], free: q.free[:keep]}}
	if cap(o.buf) <= outKeep {
		n.buf = o.buf[:0]
	}
	return n
}

// reuse returns an empty upState holding u's free entries, its table of
// unacknowledged ones (cleared), and its scratch (unless it grew past
// 2*MaxUnackedUpstream entries). The connection handed its queued and
// unacknowledged entries to the sender's backlog when it closed.
func (u *upState) reuse() upState {
	clear(u.unacked)
	n := upState{unacked: u.unacked, free: u.free, scratch: u.scratch[:0]}
	if cap(u.move) <= 2*MaxUnackedUpstream {
		clear(u.move[:cap(u.move)])
		n.move = u.move[:0]
	}
	return n
}
