package driver

// fifo is a growable ring of record indices owned by one goroutine.
type fifo struct {
	buf        []uint32
	head, size int
}

func (q *fifo) init(capacity int) {
	n := 1
	for n < capacity {
		n <<= 1
	}
	q.buf = make([]uint32, n)
}

func (q *fifo) len() int { return q.size }

func (q *fifo) push(i uint32) {
	if q.size == len(q.buf) {
		nb := make([]uint32, 2*len(q.buf))
		for k := 0; k < q.size; k++ {
			nb[k] = q.buf[(q.head+k)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)&(len(q.buf)-1)] = i
	q.size++
}

func (q *fifo) peek() uint32 { return q.buf[q.head] }

func (q *fifo) pop() uint32 {
	i := q.buf[q.head]
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.size--
	return i
}

// dueHeap is a binary min-heap of record indices ordered by record.due,
// owned by one writer: the messages waiting out a backoff.
type dueHeap struct {
	a []uint32
}

func (h *dueHeap) len() int     { return len(h.a) }
func (h *dueHeap) peek() uint32 { return h.a[0] }

func (h *dueHeap) push(t *recTable, i uint32) {
	h.a = append(h.a, i)
	k := len(h.a) - 1
	for k > 0 {
		parent := (k - 1) / 2
		if t.at(h.a[parent]).due <= t.at(h.a[k]).due {
			break
		}
		h.a[parent], h.a[k] = h.a[k], h.a[parent]
		k = parent
	}
}

func (h *dueHeap) pop(t *recTable) uint32 {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	k := 0
	for {
		l, r, m := 2*k+1, 2*k+2, k
		if l < len(h.a) && t.at(h.a[l]).due < t.at(h.a[m]).due {
			m = l
		}
		if r < len(h.a) && t.at(h.a[r]).due < t.at(h.a[m]).due {
			m = r
		}
		if m == k {
			break
		}
		h.a[m], h.a[k] = h.a[k], h.a[m]
		k = m
	}
	return top
}

// promote moves every record due by now to the ready queue.
func (h *dueHeap) promote(t *recTable, now int64, ready *fifo) {
	for len(h.a) > 0 && t.at(h.a[0]).due <= now {
		ready.push(h.pop(t))
	}
}
