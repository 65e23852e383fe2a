package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// ProgressInterval is the period at which StartProgress samples its source
// and redraws: at most 10 times a second.
const ProgressInterval = 100 * time.Millisecond

// Snapshot is what the live progress line shows, read by the caller from its
// counters (atomics), never from the hot path.
type Snapshot struct {
	// Elapsed is the time since the measured run started.
	Elapsed time.Duration
	// Total is the planned duration; 0 if the run is bounded by messages.
	Total time.Duration
	// TotalMessages is the planned number of messages; 0 if the run is
	// bounded by time.
	TotalMessages uint64
	// Sent, Acked and Nacks are cumulative counts of unique messages sent,
	// acked and finally NACKed; Pending is the number awaiting an answer now.
	Sent, Acked, Nacks, Pending uint64
	// Rate is acked messages per second over the last second.
	Rate float64
	// P99 is the service-time p99 of the last second.
	P99 time.Duration
}

// StartProgress draws a live progress bar on w, sampling src every
// ProgressInterval: elapsed and remaining time (or messages), sent, acked,
// NACKs, pending, the current rate and the p99 of the last second. src is
// called from one goroutine, never concurrently. The caller decides whether
// w is a terminal; StartProgress always redraws. stop takes a last sample,
// draws the final state, waits for the renderer and returns; it may be called
// more than once.
func StartProgress(w io.Writer, src func() Snapshot) (stop func()) {
	var cur atomic.Pointer[Snapshot]
	first := src()
	cur.Store(&first)

	p := mpb.New(
		mpb.WithOutput(w),
		mpb.WithAutoRefresh(),
		mpb.WithRefreshRate(ProgressInterval),
		mpb.WithWidth(120), // used only when w is not a terminal
	)
	left := decor.Any(func(decor.Statistics) string { return progressLeft(cur.Load()) })
	right := decor.Any(func(decor.Statistics) string { return progressRight(cur.Load()) })

	bounded := first.Total > 0 || first.TotalMessages > 0
	style := mpb.BarFillerBuilder(mpb.NopStyle())
	if bounded {
		style = mpb.BarStyle().Lbound("[").Rbound("]")
	}
	// Total 0 at creation disables completion by SetCurrent: the bar must
	// not finish while the run drains its last replies past the plan.
	bar := p.New(0, style, mpb.BarWidth(24), mpb.PrependDecorators(left), mpb.AppendDecorators(right))
	total := progressTotal(&first)
	if bounded {
		bar.SetTotal(total, false)
	}
	bar.SetCurrent(progressCurrent(&first))

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s := src()
				cur.Store(&s)
				bar.SetCurrent(progressCurrent(&s))
			}
		}
	}()

	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			s := src()
			cur.Store(&s)
			c := progressCurrent(&s)
			if bounded && c >= total {
				bar.SetCurrent(total)
				bar.SetTotal(-1, true)
			} else if bounded {
				bar.SetCurrent(c)
				bar.Abort(false)
			} else {
				bar.SetTotal(-1, true)
			}
			p.Wait()
		})
	}
}

// progressTotal is the bar's total: milliseconds or messages.
func progressTotal(s *Snapshot) int64 {
	if s.Total > 0 {
		return s.Total.Milliseconds()
	}
	return int64(min(s.TotalMessages, 1<<62))
}

// progressCurrent is the bar's position in the unit of progressTotal.
func progressCurrent(s *Snapshot) int64 {
	if s.Total > 0 {
		return max(s.Elapsed.Milliseconds(), 0)
	}
	return int64(min(s.Sent, 1<<62))
}

// progressLeft renders the time part: "3.2s / 10s  6.8s left".
func progressLeft(s *Snapshot) string {
	var b strings.Builder
	b.WriteString(fmtElapsed(s.Elapsed))
	switch {
	case s.Total > 0:
		b.WriteString(" / " + fmtElapsed(s.Total))
		rem := max(s.Total-s.Elapsed, 0)
		b.WriteString("  " + fmtElapsed(rem) + " left")
	case s.TotalMessages > 0:
		rem := uint64(0)
		if s.TotalMessages > s.Sent {
			rem = s.TotalMessages - s.Sent
		}
		b.WriteString("  " + formatCount(rem) + " msgs left")
	}
	return fmt.Sprintf("%-24s", b.String())
}

// progressRight renders the counters: "sent 1,000 acked 990 nacks 0 ...".
func progressRight(s *Snapshot) string {
	p99 := "-"
	if s.P99 > 0 {
		p99 = formatUS(float64(s.P99) / float64(time.Microsecond))
	}
	return fmt.Sprintf("sent %s  acked %s  nacks %s  pending %s  %s  p99 %s",
		formatCount(s.Sent), formatCount(s.Acked), formatCount(s.Nacks), formatCount(s.Pending),
		formatRate(s.Rate), p99)
}

// fmtElapsed formats a duration in seconds with one decimal: "12.3s".
func fmtElapsed(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
