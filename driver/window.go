package driver

import "sync/atomic"

// recordPool is a lock-free stack of free records (a Treiber stack). Each
// lane has one; it allocates its records a chunk at a time when it runs
// dry, up to size records. The scheduler and the lane's writers pop, and
// readers push (a record whose message ended goes back to the pool of
// the lane that made it, whichever connection answered it). Several
// goroutines pop, so a pop could read the next of a head that another
// pops and pushes back meanwhile (ABA): the head carries a tag that
// every push and pop increments, and the CAS fails on a changed tag.
type recordPool struct {
	head  atomic.Uint64 // tag<<32 | index+1
	grown atomic.Uint32 // chunks allocated
	// Fixed at New: the pool's first chunk in the table, how many chunks
	// it may allocate, how many records it may hold, and its lane.
	base, chunks, size, origin uint32
	// At least 64 bytes between head and the next field that other
	// goroutines write, so that they share no cache line.
	_ [40]byte
}

func (p *recordPool) init(origin, size uint32) {
	p.origin, p.size = origin, size
	p.chunks = (size + recChunkLen - 1) / recChunkLen
	p.base = origin * p.chunks
}

// push returns record i to the pool. The record's next is written before
// the CAS publishes it, so a pop that sees it as the head sees its next.
func (p *recordPool) push(t *recTable, i uint32) {
	r := t.at(i)
	for {
		h := p.head.Load()
		r.next.Store(uint32(h))
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// emptyHint reports whether the pool looked empty and unable to grow: a
// racy reading, for sleep decisions only (the caller looks again, or
// polls, before it relies on it).
func (p *recordPool) emptyHint() bool {
	return uint32(p.head.Load()) == 0 && p.grown.Load() >= p.chunks
}

// pop takes a free record, growing the pool by a chunk when it is empty;
// false when it is empty and fully grown.
func (p *recordPool) pop(t *recTable) (uint32, bool) {
	for {
		h := p.head.Load()
		top := uint32(h)
		if top == 0 {
			if !p.grow(t) {
				return 0, false
			}
			continue
		}
		n := t.at(top - 1).next.Load()
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(n)) {
			return top - 1, true
		}
	}
}

// grow allocates the pool's next chunk and pushes its records; false when
// the pool has all its records already. Concurrent callers allocate
// different chunks.
func (p *recordPool) grow(t *recTable) bool {
	var g uint32
	for {
		g = p.grown.Load()
		if g >= p.chunks {
			return false
		}
		if p.grown.CompareAndSwap(g, g+1) {
			break
		}
	}
	c := new(recChunk)
	for j := range c {
		c[j].origin = p.origin
	}
	k := p.base + g
	t.chunks[k].Store(c)
	for j := recChunkLen - 1; j >= 0; j-- {
		if g*recChunkLen+uint32(j) < p.size {
			p.push(t, k<<recChunkShift+uint32(j))
		}
	}
	return true
}

// inbox is a lock-free multi-producer stack of records waiting to be sent
// by a lane's current writer: the scheduler pushes new messages, readers
// push resends, other writers give back what they held. The writer takes
// them all at once with a Swap, so no goroutine pops a single element and
// there is no ABA to guard against. The push and the Swap hand the
// record's plain fields from the producer to the writer.
type inbox struct {
	head atomic.Uint32 // index+1
	_    [60]byte      // head alone on its cache line (see recordPool)
}

// push adds record i. Its next is written before the CAS publishes it.
// The producer then wakes the writer (lane.wakeWriter).
func (b *inbox) push(t *recTable, i uint32) {
	r := t.at(i)
	for {
		h := b.head.Load()
		r.next.Store(h)
		if b.head.CompareAndSwap(h, i+1) {
			return
		}
	}
}

// takeAll returns the list head (index+1, 0 if empty), newest first.
func (b *inbox) takeAll() uint32 { return b.head.Swap(0) }

func (b *inbox) empty() bool { return b.head.Load() == 0 }

// window is a connection's count of claimed credits, never more than max.
// A credit is one unit of the window: the right to one more unanswered
// downstream message on the connection. It is claimed before a message
// is encoded (by the scheduler or the writer, with a CAS below max) and
// released by the reader once the answer is read, so the driver's count
// is never below the server's. Closing (on draining or loss) adds
// windowClosed, so that every later claim fails while releases still
// count down.
type window struct {
	v   atomic.Int64
	max int64
	_   [48]byte // v alone on its cache line with max (see recordPool)
}

// windowClosed is added to a closed window's count: far above any max.
const windowClosed = 1 << 40

// claim takes a credit; false when the window is full or closed.
func (w *window) claim() bool {
	for {
		v := w.v.Load()
		if v >= w.max {
			return false
		}
		if w.v.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release gives a credit back.
func (w *window) release() { w.v.Add(-1) }

// close makes every later claim fail.
func (w *window) close() { w.v.Add(windowClosed) }

// pending returns the credits claimed, whether the window is closed or not.
func (w *window) pending() int { return int(w.v.Load() % windowClosed) }
