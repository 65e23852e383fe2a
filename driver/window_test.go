package driver

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWindowConcurrent(t *testing.T) {
	t.Parallel()
	const max, workers, rounds = 100, 8, 5000
	var w window
	w.max = max
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			mine := 0
			for range rounds {
				if rng.IntN(2) == 0 && w.claim() {
					n := held.Add(1)
					if n > max {
						t.Errorf("%d credits held; window is %d", n, max)
					}
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					mine++
				} else if mine > 0 {
					held.Add(-1)
					w.release()
					mine--
				}
			}
			for ; mine > 0; mine-- {
				held.Add(-1)
				w.release()
			}
		}()
	}
	wg.Wait()
	if w.pending() != 0 {
		t.Errorf("pending = %d after every release; want 0", w.pending())
	}
	if peak.Load() == 0 {
		t.Errorf("no credit was ever claimed")
	}
	w.claim()
	w.close()
	if w.claim() {
		t.Errorf("claim succeeded on a closed window")
	}
	w.release()
	if w.pending() != 0 {
		t.Errorf("pending = %d after close and release; want 0", w.pending())
	}
}

// newTestTable returns a table holding n records (all allocated) for one
// lane.
func newTestTable(n int) *recTable {
	t := &recTable{chunks: make([]atomic.Pointer[recChunk], (n+recChunkLen-1)/recChunkLen)}
	for k := range t.chunks {
		t.chunks[k].Store(new(recChunk))
	}
	return t
}

// The pool grows a chunk at a time while workers pop and push at once:
// every record is handed out to one worker at a time, and the pool ends
// holding exactly its size, no more.
func TestPoolConcurrent(t *testing.T) {
	t.Parallel()
	const n, workers = 250, 6
	recs := &recTable{chunks: make([]atomic.Pointer[recChunk], (n+recChunkLen-1)/recChunkLen)}
	var pool recordPool
	pool.init(0, n)
	var owner [n]atomic.Int32
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []uint32
			for k := range 20000 {
				if k%3 != 2 {
					if i, ok := pool.pop(recs); ok {
						if !owner[i].CompareAndSwap(0, int32(g+1)) {
							t.Errorf("record %d popped twice", i)
						}
						mine = append(mine, i)
					}
				} else if len(mine) > 0 {
					i := mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					owner[i].Store(0)
					pool.push(recs, i)
				}
			}
			for _, i := range mine {
				owner[i].Store(0)
				pool.push(recs, i)
			}
		}()
	}
	wg.Wait()
	seen := 0
	for {
		if _, ok := pool.pop(recs); !ok {
			break
		}
		seen++
	}
	if seen != n {
		t.Errorf("pool holds %d records at the end; want %d", seen, n)
	}
	if g := pool.grown.Load(); g != pool.chunks || !pool.emptyHint() {
		t.Errorf("pool grew %d chunks of %d, empty hint %v; want all, and empty", g, pool.chunks, pool.emptyHint())
	}
	if r := recs.lookup(n - 1); r == nil || r.origin != 0 {
		t.Errorf("lookup(%d) = %v; want the last record", n-1, r)
	}
	if r := recs.lookup(uint32(len(recs.chunks) * recChunkLen)); r != nil {
		t.Errorf("lookup past the table = %v; want nil", r)
	}
}

func TestInbox(t *testing.T) {
	t.Parallel()
	recs := newTestTable(1000)
	var in inbox
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * 250; i < (g+1)*250; i++ {
				in.push(recs, uint32(i))
			}
		}()
	}
	got := map[uint32]bool{}
	drain := func() {
		for l := in.takeAll(); l != 0; l = recs.at(l - 1).next.Load() {
			if got[l-1] {
				t.Errorf("record %d taken twice", l-1)
			}
			got[l-1] = true
		}
	}
	for range 100 {
		drain()
	}
	wg.Wait()
	drain()
	if len(got) != 1000 {
		t.Errorf("took %d records; want 1000", len(got))
	}
}
