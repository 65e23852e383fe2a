package driver

import "sync/atomic"

// recordPool is a lock-free stack of free records (a Treiber stack whose
// head carries a modification tag, so pops by several goroutines are safe
// from ABA). Each logical connection has one; it allocates its records a
// chunk at a time when it runs dry, up to size records.
type recordPool struct {
	head  atomic.Uint64 // tag<<32 | index+1
	grown atomic.Uint32 // chunks allocated
	// Fixed at New: the pool's first chunk in the table, how many chunks
	// it may allocate, how many records it may hold, and its lane.
	base, chunks, size, origin uint32
	_                          [40]byte
}

func (p *recordPool) init(origin, size uint32) {
	p.origin, p.size = origin, size
	p.chunks = (size + recChunkLen - 1) / recChunkLen
	p.base = origin * p.chunks
}

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

// emptyHint reports whether the pool looked empty and unable to grow
// (racy, for sleep decisions).
func (p *recordPool) emptyHint() bool {
	return uint32(p.head.Load()) == 0 && p.grown.Load() >= p.chunks
}

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
// by a logical connection's current writer, which takes them all at once
// (so no ABA: the consumer never pops a single element).
type inbox struct {
	head atomic.Uint32 // index+1
	_    [60]byte
}

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
// Closing adds a large constant so that every later claim fails while
// releases still count down.
type window struct {
	v   atomic.Int64
	max int64
	_   [48]byte
}

const windowClosed = 1 << 40

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

func (w *window) release() { w.v.Add(-1) }

func (w *window) close() { w.v.Add(windowClosed) }

func (w *window) pending() int { return int(w.v.Load() % windowClosed) }
