package driver

import (
	"math/rand/v2"
	"testing"
)

func TestDueHeap(t *testing.T) {
	t.Parallel()
	recs := newTestTable(200)
	rng := rand.New(rand.NewPCG(1, 2))
	var h dueHeap
	for i := range uint32(200) {
		recs.at(i).due = rng.Int64N(1000)
		h.push(recs, i)
	}
	var ready fifo
	ready.init(4)
	h.promote(recs, 500, &ready)
	last := int64(-1)
	for ready.len() > 0 {
		d := recs.at(ready.pop()).due
		if d > 500 || d < last {
			t.Fatalf("promoted due %d after %d (limit 500)", d, last)
		}
		last = d
	}
	for h.len() > 0 {
		d := recs.at(h.pop(recs)).due
		if d <= 500 || d < last {
			t.Fatalf("popped due %d after %d", d, last)
		}
		last = d
	}
}
