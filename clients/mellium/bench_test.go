package mellium

import (
	"context"
	"runtime"
	"testing"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
)

// benchMessages is the number of messages of one benchmark run.
const benchMessages = 200_000

// BenchmarkRun compares the two clients over the same driver: each
// iteration is a whole run of benchMessages messages at --rate 0 over 8
// connections against an in-process fake (whose allocations count too,
// the same for both). It reports the run's acked/s and the heap
// allocations per message. Run it with -benchtime 1x -count 5.
func BenchmarkRun(b *testing.B) {
	clients := []struct {
		name string
		tr   func(addr string, cfg ccs.ClientConfig) driver.Transport
	}{
		{"native", driver.NewNativeTransport},
		{"mellium", NewTransport},
	}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			srv := startFake(b, fakeccs.Config{})
			var acked, msgs, allocs, bytes float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := driver.New(driver.Config{
					Transport: cl.tr(srv.Addr(), clientConfig(srv)),
					Conns:     8,
					Messages:  benchMessages,
				})
				if err != nil {
					b.Fatal(err)
				}
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				res, err := d.Run(context.Background())
				runtime.ReadMemStats(&m1)
				if err != nil {
					b.Fatal(err)
				}
				if err := res.Check(); err != nil {
					b.Fatal(err)
				}
				if res.Counts.Acked != benchMessages {
					b.Fatalf("acked %d of %d", res.Counts.Acked, benchMessages)
				}
				acked += res.AckedRate
				msgs += float64(res.Counts.Messages)
				allocs += float64(m1.Mallocs - m0.Mallocs)
				bytes += float64(m1.TotalAlloc - m0.TotalAlloc)
			}
			if st := srv.Stats(); st.WindowViolations != 0 {
				b.Fatalf("fake window_violations = %d", st.WindowViolations)
			}
			b.ReportMetric(acked/float64(b.N), "acked/s")
			b.ReportMetric(allocs/msgs, "allocs/msg")
			b.ReportMetric(bytes/msgs, "B/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}
