package fakeccs

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// TestConnReused checks that a closed connection goes back to the pool
// whole and comes out for the next client with its buffers and nothing
// else of the previous one (sync.Pool may drop some under -race or a GC,
// hence the attempts).
func TestConnReused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Config{AckDelay: time.Hour, Seed: 3})
	reused := false
	for range 100 {
		c := srv.newConn(nil, nil)
		fr := ccs.NewFramer(nil, ccs.FramerConfig{})
		c.in.fr = fr
		c.in.received = 5
		c.in.recent.add(12345)
		c.out.buf = append(make([]byte, 0, 4096), "stale"...)
		c.out.answers, c.out.released = 2, 3
		h := c.out.held.get()
		h.buf = append(h.buf, "stale"...)
		c.out.held.push(h)
		c.up.put(c.up.get())
		c.delta[cAcks] = 7
		c.pub[cAcks].Store(3)
		c.drain = drainState{active: true, start: 1, sent: 2}
		c.tm.dropAt = 9
		c.stop = errors.New("stale")
		c.obs = nopObserver{}
		c.jid = []byte("stale")
		c.wakeAt.Store(9)
		c.kicked.Store(true)
		prev := c.seq
		srv.recycle(c)

		n := srv.newConn(nil, nil)
		if n.in.received != 0 || n.in.recent.contains(12345) || len(n.out.buf) != 0 || n.out.answers != 0 ||
			n.out.released != 0 || n.out.held.len() != 0 || len(n.up.unacked) != 0 || n.delta[cAcks] != 0 ||
			n.pub[cAcks].Load() != 0 || n.drain != (drainState{}) || n.tm.dropAt != 0 || n.stop != nil ||
			n.obs != nil || n.jid != nil || n.wakeAt.Load() != 0 || n.kicked.Load() || n.phase != phaseHandshake {
			t.Fatalf("a new connection inherited state: %+v", n)
		}
		if len(n.delta) != len(srv.totals) || len(n.pub) != len(srv.totals) || n.tm.deadline != -1 || !n.out.delayed ||
			n.framed.c != n || n.seq != prev+1 {
			t.Fatalf("a new connection is not set up: %+v", n)
		}
		if want := rand.New(rand.NewPCG(3, n.seq)).Uint64(); n.rng.Uint64() != want {
			t.Fatalf("connection %d draws from another generator than (Seed, %d)", n.seq, n.seq)
		}
		if n == c {
			if cap(n.out.buf) != 4096 || len(n.in.recent.cur) == 0 || len(n.out.held.free) != 1 || n.in.fr != fr ||
				len(n.up.free) != 1 {
				t.Fatalf("a reused connection lost its buffers: out cap %d, recent %d, free helds %d, framer kept %v, free entries %d",
					cap(n.out.buf), len(n.in.recent.cur), len(n.out.held.free), n.in.fr == fr, len(n.up.free))
			}
			reused = true
			break
		}
		srv.recycle(n)
	}
	if !reused {
		t.Error("no connection reused a closed connection in 100 tries")
	}
}
