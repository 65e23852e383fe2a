package workload

import (
	"math"
	"math/rand/v2"
)

// zipfTable samples ranks 0..n-1 with P(k) ∝ 1/(k+1)^s for any s >= 0, in
// constant time per draw, with Walker's alias method (Vose's construction).
// math/rand/v2's Zipf only covers s > 1. The table is immutable once built
// and shared by clones of a Generator; each entry takes 12 bytes.
type zipfTable struct {
	prob  []float64 // probability of keeping column i rather than its alias
	alias []uint32
}

// newZipfTable builds the table for n >= 1 ranks; s == 0 needs no table
// (uniform), and returns nil.
func newZipfTable(n int, s float64) *zipfTable {
	if s == 0 || n <= 1 {
		return nil
	}
	w := make([]float64, n)
	var sum float64
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
		sum += w[k]
	}
	t := &zipfTable{prob: make([]float64, n), alias: make([]uint32, n)}
	small := make([]uint32, 0, n)
	large := make([]uint32, 0, n)
	for k := range w {
		w[k] *= float64(n) / sum
		if w[k] < 1 {
			small = append(small, uint32(k))
		} else {
			large = append(large, uint32(k))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		t.prob[l] = w[l]
		t.alias[l] = g
		w[g] -= 1 - w[l]
		if w[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What is left is 1 up to rounding.
	for _, k := range large {
		t.prob[k], t.alias[k] = 1, k
	}
	for _, k := range small {
		t.prob[k], t.alias[k] = 1, k
	}
	return t
}

// pick draws a rank: 0 is the most frequent.
func (t *zipfTable) pick(r *rand.Rand, n int) int {
	if n <= 1 {
		return 0
	}
	i := r.IntN(n)
	if t == nil || r.Float64() < t.prob[i] {
		return i
	}
	return int(t.alias[i])
}
