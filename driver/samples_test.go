package driver

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/workload"
)

// Samples go through batches and the collector into exactly the histogram
// recording them directly would give (1 µs to 60 s, 3 significant digits,
// clamped at both ends), and a flip splits them exactly at the flip.
func TestSamplesRecordedExactly(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.d.conns = append(h.d.conns, h.p) // for drainFull
	rng := rand.New(rand.NewPCG(3, 4))
	wantSvc, wantRsp := newHist(), newHist()
	record := func(n int) {
		for range n {
			// Log-uniform from 100 ns to 100 s: below, inside and above the range.
			svc := int64(100 * math.Pow(10, 9*rng.Float64()))
			rsp := svc + rng.Int64N(1_000_000)
			h.p.record(svc, rsp)
			_ = wantSvc.RecordValue(clampUS(svc))
			_ = wantRsp.RecordValue(clampUS(rsp))
		}
	}
	check := func(when string, n int) {
		t.Helper()
		c := &h.d.col
		if !c.ivSvc.Equals(wantSvc) || !c.ivRsp.Equals(wantRsp) || c.ivAcked != uint64(n) {
			t.Errorf("%s: collector holds %d service and %d response values, %d samples; want the %d recorded, exactly", when,
				c.ivSvc.TotalCount(), c.ivRsp.TotalCount(), c.ivAcked, n)
		}
		c.ivSvc.Reset()
		c.ivRsp.Reset()
		c.ivAcked = 0
		wantSvc.Reset()
		wantRsp.Reset()
	}
	record(1000) // several batches
	h.d.col.drainFull()
	if got, want := h.d.col.ivAcked, uint64(1000/batchLen*batchLen); got != want {
		t.Errorf("drainFull took %d samples; want the %d of the full batches", got, want)
	}
	h.drainSamples()
	check("first interval", 1000)
	record(batchLen + 1)
	h.drainSamples() // the flip: what was recorded is this interval's
	check("before the flip", batchLen+1)
	record(7) // and this is the next one's
	h.d.col.drainFull()
	if got := h.d.col.ivAcked; got != 0 {
		t.Errorf("the head batch was drained before the flip: %d samples", got)
	}
	h.drainSamples()
	check("after the flip", 7)
}

// Frequent draining replaces connections many times a second: their
// sample batches are reused per lane, not allocated for each new
// connection. The fake closes a drained connection as soon as nothing is
// pending on it (no linger), so that connections are replaced, not
// accumulated.
func TestRunDrainReusesBatches(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{DrainEvery: fakeccs.Every{D: 20 * time.Millisecond}, DrainLinger: -1})
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 2000}
	cfg.Duration = 600 * time.Millisecond
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	n := d.batchAllocs.Load()
	t.Logf("reconnects %d, sample batches allocated %d", res.Counts.Reconnects, n)
	if res.Counts.Reconnects < 10 || n > uint64(4*cfg.Conns) {
		t.Errorf("reconnects %d, sample batches allocated %d; want >= 10 reconnects and at most %d batches", res.Counts.Reconnects, n, 4*cfg.Conns)
	}
}
