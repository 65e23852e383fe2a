package fakeccs

import "github.com/ccsbench/ccsbench/ccs"

// maxPooledHelds bounds the free helds a pooled connection state keeps.
const maxPooledHelds = 2 * ccs.MaxPending

// connBufs is the per-connection state that a closed connection leaves
// for the next one: the stanza framer (Reset for the next stream), the
// reply buffer, the recent-id tables, the held answers' free list, the
// counters' delta, scratch buffers and the list of upstream entries moved
// to the sender's backlog. A server
// keeps them in a sync.Pool, so that connection churn (--drain-every,
// --drop-every, reconnecting clients) does not allocate them anew; what
// the pool holds is bounded (outKeep for the reply buffer, 2*RecentIDs
// slots per recent-id table, maxPooledHelds helds, 2*MaxUnackedUpstream
// moved entries).
type connBufs struct {
	fr                   *ccs.Framer
	out                  []byte
	recent               recentIDs
	held                 heldQueue
	delta                []uint64
	desc, canon, scratch []byte
	upMove               []*upEntry
}

// takeBufs gives c the state of a closed connection, or fresh state.
func (s *Server) takeBufs(c *conn) {
	b, _ := s.bufs.Get().(*connBufs)
	if b == nil || len(b.delta) != len(s.totals) {
		b = &connBufs{delta: make([]uint64, len(s.totals))}
	}
	c.out, c.recent, c.held, c.delta = b.out, b.recent, b.held, b.delta
	c.desc, c.canon, c.scratch = b.desc, b.canon, b.scratch
	c.upMove = b.upMove
	c.spareFr = b.fr
	*b = connBufs{}
	c.bufs = b
}

// recycleBufs returns c's reusable state to the pool, cleared; c must not
// be used afterwards.
func (s *Server) recycleBufs(c *conn) {
	b := c.bufs
	if b == nil {
		return
	}
	c.bufs = nil
	if cap(c.out) <= outKeep {
		b.out = c.out[:0]
	}
	b.recent = c.recent
	b.recent.reset()
	b.held = c.held
	for b.held.len() > 0 {
		b.held.put(b.held.pop())
	}
	keep := min(len(b.held.free), maxPooledHelds)
	clear(b.held.free[keep:])
	b.held.free = b.held.free[:keep]
	b.held.seq = 0
	b.delta = c.delta
	clear(b.delta)
	b.desc, b.canon, b.scratch = c.desc[:0], c.canon[:0], c.scratch[:0]
	if cap(c.upMove) <= 2*MaxUnackedUpstream {
		clear(c.upMove[:cap(c.upMove)])
		b.upMove = c.upMove[:0]
	}
	// The framer the handshake used (a pooled one Reset, or a new one).
	b.fr = c.spareFr
	c.spareFr, c.fr = nil, nil
	c.out, c.recent, c.held, c.delta = nil, recentIDs{}, heldQueue{}, nil
	c.desc, c.canon, c.scratch, c.upMove = nil, nil, nil, nil
	s.bufs.Put(b)
}
