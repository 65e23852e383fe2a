package fakeccs

// answer is an answer to a downstream message, from when it is encoded
// until it is in the reply buffer: what it counts in and what follows it.
type answer struct {
	ctr int // the counter it counts in: cAcks, cStanzaErrors, or a NACK code's
	// canonical: an ACK that carries a canonical registration_id;
	// receipt: an ACK followed by a delivery receipt (for regID and id).
	canonical, receipt bool
	// id is the message_id of the message answered (nil: none usable),
	// for a receipt and for the Observer; regID the registration id of
	// the receipt.
	id, regID []byte
}

// held is an answer waiting for its due time (Config.AckDelay and
// AckJitter), with its encoded stanza. Helds are pooled per connection,
// with their buffers, so holding allocates nothing in steady state.
type held struct {
	answer
	due int64  // ns since the server's epoch
	seq uint64 // tie-break: equal due times leave in arrival order
	buf []byte // the encoded answer
}

// heldQueue is a binary min-heap of helds by (due, seq), with a free list.
type heldQueue struct {
	h    []*held
	free []*held
	seq  uint64
}

func (q *heldQueue) len() int { return len(q.h) }

func (q *heldQueue) top() *held { return q.h[0] }

// get returns an unused held, reset.
func (q *heldQueue) get() *held {
	if n := len(q.free); n > 0 {
		x := q.free[n-1]
		q.free = q.free[:n-1]
		return x
	}
	return &held{}
}

// put returns x to the free list.
func (q *heldQueue) put(x *held) {
	x.buf, x.regID, x.id = x.buf[:0], x.regID[:0], x.id[:0]
	x.canonical, x.receipt = false, false
	q.free = append(q.free, x)
}

func (q *heldQueue) less(i, j int) bool {
	a, b := q.h[i], q.h[j]
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

// push adds x, due at x.due.
func (q *heldQueue) push(x *held) {
	q.seq++
	x.seq = q.seq
	q.h = append(q.h, x)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// pop removes and returns the earliest held.
func (q *heldQueue) pop() *held {
	x := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = nil
	q.h = q.h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return x
}
