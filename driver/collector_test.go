package driver

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// The acked rate is over the sending period: answers delayed past it by a
// backoff do not drag it below the offered rate.
func TestRunAckedRateOverSending(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.05}}})
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 1000}
	cfg.Duration = 500 * time.Millisecond
	cfg.DrainTimeout = 3 * time.Second
	cfg.InitialBackoff = 400 * time.Millisecond
	cfg.MaxBackoff = 400 * time.Millisecond
	res := run(t, srv, cfg)
	if res.AckedRate < 0.9*res.OfferedRate || res.Measured > cfg.Duration+100*time.Millisecond {
		t.Errorf("acked rate %.0f/s offered %.0f/s over %v; want the acked rate over the sending period, close to the offered one", res.AckedRate, res.OfferedRate, res.Measured)
	}
}

// A target that freezes for 700 ms, ending 350 ms before an interval's
// end: the interval shows the peak of pending messages (not the few left
// at its end) and the response time the freeze cost. (The 350 ms leave the
// driver time to catch up after the thaw on a machine busy with -race.)
func TestTimelinePeakAndResponse(t *testing.T) {
	t.Parallel()
	var first sync.Once
	var t0 time.Time
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
		first.Do(func() { t0 = time.Now() })
		// Frozen from 0.95 s to 1.65 s after the first connection: what
		// arrives meanwhile is answered at 1.65 s.
		var mu sync.Mutex
		var held []string
		thaw := time.AfterFunc(time.Until(t0.Add(1650*time.Millisecond)), func() {
			mu.Lock()
			defer mu.Unlock()
			for _, h := range held {
				c.Ack(h)
			}
			held = nil
		})
		defer thaw.Stop()
		badccs.Each(func(c *badccs.Conn, _ int, id string) bool {
			mu.Lock()
			defer mu.Unlock()
			if e := time.Since(t0); e > 950*time.Millisecond && e < 1650*time.Millisecond {
				held = append(held, id)
				return true
			}
			return c.Ack(id) == nil
		})(c)
	}})
	cfg := badConfig(srv)
	cfg.Conns = 2
	cfg.Window = 50
	cfg.Pacer = workload.ConstantPacer{Freq: 1000}
	cfg.Duration = 2500 * time.Millisecond
	res := runRaw(t, cfg)
	if err := res.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(res.Intervals) < 2 {
		t.Fatalf("%d intervals; want at least 2", len(res.Intervals))
	}
	iv := res.Intervals[1]
	t.Logf("interval 2: pending %d, peak %d, service p99 %d µs, response p99 %d µs", iv.Pending, iv.PendingPeak, iv.ServiceP99, iv.ResponseP99)
	if iv.PendingPeak < 90 || iv.Pending > 40 {
		t.Errorf("interval 2: pending %d at its end, peak %d; want a peak near the windows' 100 and few at the end", iv.Pending, iv.PendingPeak)
	}
	if iv.ServiceP99 < 300_000 || iv.ResponseP99 < 500_000 {
		t.Errorf("interval 2: service p99 %d µs, response p99 %d µs; want the freeze in both, more in response time", iv.ServiceP99, iv.ResponseP99)
	}
	if first := res.Intervals[0]; first.PendingPeak < first.Pending || first.PendingPeak > 100 {
		t.Errorf("interval 1: pending %d, peak %d; want pending <= peak <= 100", first.Pending, first.PendingPeak)
	}
}

// --interval sets the timeline's resolution; the warm-up is rounded up to
// whole intervals.
func TestIntervalConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Transport: nopTransport{}, Duration: time.Second, Interval: 50 * time.Millisecond}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a 50 ms interval = %v; want ErrConfig", err)
	}
	d, err := New(Config{Transport: nopTransport{}, Duration: time.Second, Interval: 200 * time.Millisecond, Warmup: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Config(); c.Warmup != 400*time.Millisecond || c.DrainCloseTimeout != DefaultDrainCloseTimeout || c.MaxResends != DefaultMaxResends {
		t.Errorf("warmup %v drain close %v max resends %d; want 400ms and the defaults", c.Warmup, c.DrainCloseTimeout, c.MaxResends)
	}
	srv := badccs.Start(t, badccs.Options{})
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 600 * time.Millisecond
	cfg.Interval = 100 * time.Millisecond
	res := runRaw(t, cfg)
	if n := len(res.Intervals); n < 6 || n > 8 {
		t.Errorf("%d intervals of 100 ms in a 600 ms run; want 6 to 8", n)
	}
	for _, iv := range res.Intervals[:len(res.Intervals)-1] {
		if iv.End-iv.Start != 100*time.Millisecond {
			t.Errorf("interval %v..%v; want 100 ms", iv.Start, iv.End)
		}
	}
}
