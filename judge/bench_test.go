package judge

import (
	"context"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/workload"
)

// benchFake runs b.N messages of the native driver (8 connections, rate
// 0) through a fake, observed by the judge's recorder or not, and
// reports ACKs per second: what observing costs the throughput scenario.
// Both run on the same two cores, client and fake.
func benchFake(b *testing.B, observe bool) {
	rec := &recorder{sender: fakeccs.DefaultSenderID}
	cfg := fakeccs.Config{}
	if observe {
		cfg.Observer = rec
	}
	srv, err := fakeccstest.NewServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	d, err := driver.New(driver.Config{
		Target: srv.Addr(), SenderID: fakeccs.DefaultSenderID, APIKey: fakeccs.DefaultAPIKey,
		TLS:      srv.ClientTLS(),
		Messages: uint64(max(b.N, 1)), Pacer: workload.ConstantPacer{}, DrainTimeout: time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	res, err := d.Run(context.Background())
	el := time.Since(start)
	b.StopTimer()
	if err != nil || res.Counts.Acked != uint64(max(b.N, 1)) {
		b.Fatalf("run: %v, counts %+v", err, res.Counts)
	}
	b.ReportMetric(float64(res.Counts.Acked)/el.Seconds(), "acks/s")
}

// BenchmarkFakeUnobserved is the native driver against a plain fake.
func BenchmarkFakeUnobserved(b *testing.B) { benchFake(b, false) }

// BenchmarkFakeObserved is the same with the judge's recorder observing.
func BenchmarkFakeObserved(b *testing.B) { benchFake(b, true) }
