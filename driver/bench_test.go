package driver

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/workload"
)

// benchDuration is the length of one end-to-end benchmark run
// (CCSBENCH_BENCH_DURATION overrides it, e.g. 20s).
func benchDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CCSBENCH_BENCH_DURATION")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}

// benchRun runs the driver against an embedded fake with fcfg, once per
// b.N (each iteration is a whole run), and reports the last run's rates
// and percentiles.
func benchRun(b *testing.B, fcfg fakeccs.Config, cfg Config) {
	srv := fakeccstest.Start(b, fcfg)
	fc := srv.Config()
	cfg.Target, cfg.SenderID, cfg.APIKey = srv.Addr(), fc.SenderID, fc.APIKey
	cfg.TLS = srv.ClientTLS()
	if cfg.Duration == 0 && cfg.Messages == 0 {
		cfg.Duration = benchDuration()
	}
	b.ReportAllocs()
	var res *Result
	for i := 0; i < b.N; i++ {
		d, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if res, err = d.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := res.Check(); err != nil {
			b.Fatal(err)
		}
	}
	if st := srv.Stats(); st.WindowViolations != 0 {
		b.Fatalf("fake window_violations = %d", st.WindowViolations)
	}
	b.ReportMetric(res.AckedRate, "acked/s")
	b.ReportMetric(float64(res.Service.ValueAtQuantile(50)), "p50-us")
	b.ReportMetric(float64(res.Service.ValueAtQuantile(99)), "p99-us")
	b.ReportMetric(float64(res.Response.ValueAtQuantile(99)), "rp99-us")
	b.ReportMetric(float64(res.Counts.Messages)/float64(b.N), "msgs/run")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRunUnlimited: --rate 0 --conns 8, driver and fake sharing the
// machine's cores.
func BenchmarkRunUnlimited(b *testing.B) {
	benchRun(b, fakeccs.Config{}, Config{Conns: 8, Warmup: time.Second})
}

// BenchmarkRunRate5000: --conns 8 --rate 5000.
func BenchmarkRunRate5000(b *testing.B) {
	benchRun(b, fakeccs.Config{}, Config{Conns: 8, Pacer: workload.ConstantPacer{Freq: 5000}, Warmup: time.Second})
}

// BenchmarkRunAckDelay10ms: --fake-ack-delay 10ms at --rate 5000.
func BenchmarkRunAckDelay10ms(b *testing.B) {
	benchRun(b, fakeccs.Config{AckDelay: 10 * time.Millisecond}, Config{Conns: 8, Pacer: workload.ConstantPacer{Freq: 5000}, Warmup: time.Second})
}

// BenchmarkRunRate200k: --conns 8 --rate 200000 (the soak's load).
func BenchmarkRunRate200k(b *testing.B) {
	benchRun(b, fakeccs.Config{}, Config{Conns: 8, Pacer: workload.ConstantPacer{Freq: 200000}, Warmup: time.Second})
}

// BenchmarkSendPath is one message through the send path: claim a window
// credit and a record, generate the payload with its id, encode the stanza
// into the write buffer.
func BenchmarkSendPath(b *testing.B) {
	h := newPathHarness(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += DefaultWindow {
		h.sendWindow()
		b.StopTimer()
		h.releaseAll()
		b.StartTimer()
	}
}

// BenchmarkAckPath is one ACK through the ack path: frame and parse the
// stanza, find the record from the id, note both latencies, release the
// credit and the record; and the collector's part, recording the
// latencies into the interval histograms.
func BenchmarkAckPath(b *testing.B) {
	h := newPathHarness(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += DefaultWindow {
		b.StopTimer()
		h.sendWindow()
		h.rd.data, h.rd.off = h.rd.data[:0], 0
		h.d.recs.each(func(r *record, k uint32) {
			if r.wire.Load() != 0 {
				h.rd.data = appendAckFor(h.rd.data, h.d, r, k)
			}
		})
		b.StartTimer()
		for h.rd.off < len(h.rd.data) || h.nc.c.Framer.Buffered() > 0 {
			if err := h.p.c.Next(&h.p.ev); err != nil {
				b.Fatal(err)
			}
			h.p.onAck(h.p.ev.ID)
		}
		h.drainSamples()
	}
}
