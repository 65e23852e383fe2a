package report

import (
	"bufio"
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Hlog tags of the two latencies.
const (
	// TagService tags service-time interval histograms in an hlog.
	TagService = "service"
	// TagResponse tags response-time interval histograms in an hlog.
	TagResponse = "response"
)

// Interval is one interval of a run (normally one second) with its
// histograms of microsecond values. A nil histogram is left out of the log.
type Interval struct {
	Start, End time.Time
	Service    *hdrhistogram.Histogram
	Response   *hdrhistogram.Histogram
}

// WriteHlog writes intervals as an HdrHistogram interval log (format 1.3,
// hdrhistogram-go's HistogramLogWriter), readable by HistogramLogAnalyzer
// and HdrHistogram's log readers: the format version, the start time, the
// base time (start rounded down to the second; interval timestamps are
// relative to it), a comment stating the units, the legend, then for each
// interval a line tagged "service" and one tagged "response".
//
// Histogram values are microseconds. The writer reports the Interval_Max
// column in value/1e6, so that column is in seconds; tools that scale values
// (HistogramLogAnalyzer's "max value unit ratio") need a ratio of 1000 to
// show milliseconds. The histograms' tags and start/end times are set while
// they are written and restored afterwards, so they must not be in use
// elsewhere during the call.
func WriteHlog(w io.Writer, start time.Time, intervals []Interval) error {
	bw := bufio.NewWriter(w)
	lw := hdrhistogram.NewHistogramLogWriter(bw)
	startMs := start.UnixMilli()
	baseMs := start.Unix() * 1000
	if startMs < 0 {
		return fmt.Errorf("report: hlog start time %v is before 1970", start)
	}
	lw.SetBaseTime(baseMs)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	if err := lw.OutputStartTime(startMs); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	if err := lw.OutputBaseTime(baseMs); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	if err := lw.OutputComment("[ccsbench: values in microseconds; tags service (ack - actual send) and response (ack - intended send); Interval_Max in seconds]"); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	if err := lw.OutputLegend(); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	for i, iv := range intervals {
		if iv.End.Before(iv.Start) {
			return fmt.Errorf("report: hlog interval %d ends (%v) before it starts (%v)", i, iv.End, iv.Start)
		}
		if iv.Start.UnixMilli() < baseMs {
			return fmt.Errorf("report: hlog interval %d starts (%v) before the log (%v)", i, iv.Start, start)
		}
		for _, th := range [...]struct {
			tag string
			h   *hdrhistogram.Histogram
		}{{TagService, iv.Service}, {TagResponse, iv.Response}} {
			if th.h == nil {
				continue
			}
			if err := writeInterval(lw, th.h, th.tag, iv.Start, iv.End); err != nil {
				return fmt.Errorf("report: writing hlog interval %d: %w", i, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: writing hlog: %w", err)
	}
	return nil
}

// writeInterval writes one tagged interval histogram, restoring its tag and
// times afterwards.
func writeInterval(lw *hdrhistogram.HistogramLogWriter, h *hdrhistogram.Histogram, tag string, start, end time.Time) error {
	oldTag, oldStart, oldEnd := h.Tag(), h.StartTimeMs(), h.EndTimeMs()
	defer func() {
		h.SetTag(oldTag)
		h.SetStartTimeMs(oldStart)
		h.SetEndTimeMs(oldEnd)
	}()
	h.SetTag(tag)
	h.SetStartTimeMs(start.UnixMilli())
	h.SetEndTimeMs(end.UnixMilli())
	return lw.OutputIntervalHistogram(h)
}
