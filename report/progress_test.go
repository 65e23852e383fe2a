package report

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the renderer's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestProgressDurationBounded(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	var calls atomic.Int64
	begin := time.Now()
	src := func() Snapshot {
		n := uint64(calls.Add(1))
		return Snapshot{
			Elapsed: time.Duration(n) * 100 * time.Millisecond, Total: 2 * time.Second,
			Sent: 1000 * n, Acked: 990 * n, Nacks: n, Pending: 9, Rate: 4999.5, P99: 1234 * time.Microsecond,
		}
	}
	stop := StartProgress(&out, src)
	time.Sleep(350 * time.Millisecond)
	stop()
	stop() // idempotent
	elapsed := time.Since(begin)
	n := calls.Load()
	// The first sample, one per ProgressInterval, and the final one.
	if maxCalls := int64(elapsed/ProgressInterval) + 2; n > maxCalls {
		t.Errorf("src called %d times in %v; want at most %d (10 per second)", n, elapsed, maxCalls)
	}
	got := out.String()
	last := uint64(n)
	for _, want := range []string{
		"sent " + formatCount(1000*last), "acked " + formatCount(990*last), "nacks " + formatCount(last),
		"pending 9", "4,999.5/s", "p99 1.23 ms", "/ 2.0s", "left",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("progress output lacks %q (final sample %d):\n%q", want, last, got)
		}
	}
	if after := calls.Load(); after != n {
		t.Errorf("src called after stop: %d then %d", n, after)
	}
}

func TestProgressMessageBounded(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	var sent atomic.Uint64
	src := func() Snapshot {
		s := sent.Add(250)
		return Snapshot{Elapsed: time.Second, TotalMessages: 1000, Sent: min(s, 1000), Acked: min(s, 1000)}
	}
	stop := StartProgress(&out, src)
	time.Sleep(150 * time.Millisecond)
	stop()
	got := out.String()
	for _, want := range []string{"msgs left", "sent ", "p99 -"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress output lacks %q:\n%q", want, got)
		}
	}
}

func TestProgressUnbounded(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	stop := StartProgress(&out, func() Snapshot { return Snapshot{Elapsed: 1500 * time.Millisecond, Sent: 3} })
	stop()
	if got := out.String(); !strings.Contains(got, "1.5s") || !strings.Contains(got, "sent 3") || strings.Contains(got, "left") {
		t.Errorf("unbounded progress output = %q; want elapsed and counts, no remaining", got)
	}
}
