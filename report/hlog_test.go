package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestWriteHlogRoundTrip(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 3, 41, 0, 250_000_000, time.UTC) // a fractional second
	var intervals []Interval
	for i := range 3 {
		s, r := newHist(), newHist()
		for v := range 100 * (i + 1) {
			if err := s.RecordValue(int64(100 + v)); err != nil {
				t.Fatal(err)
			}
			if err := r.RecordValue(int64(150 + 2*v)); err != nil {
				t.Fatal(err)
			}
		}
		s.SetTag("keep")
		from := start.Add(time.Duration(i) * time.Second)
		intervals = append(intervals, Interval{Start: from, End: from.Add(time.Second), Service: s, Response: r})
	}
	intervals = append(intervals, Interval{Start: start.Add(3 * time.Second), End: start.Add(4 * time.Second), Service: newHist()}) // empty, no response

	var buf bytes.Buffer
	if err := WriteHlog(&buf, start, intervals); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	for _, want := range []string{
		"#[Histogram log format version 1.3]\n",
		"#[StartTime: 1795750860 (seconds since epoch), 2026-11-27T03:41:00Z]\n",
		"#[BaseTime: 1795750860 (seconds since epoch)]\n",
		"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
		"Tag=service,0.250000,1.000000,",
		"Tag=response,2.250000,1.000000,",
		"microseconds",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("hlog lacks %q:\n%s", want, log)
		}
	}

	rd := hdrhistogram.NewHistogramLogReader(strings.NewReader(log))
	type rec struct {
		tag        string
		startMs    int64
		endMs      int64
		count, max int64
	}
	var got []rec
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("reading the hlog back: %v", err)
		}
		if h == nil {
			break
		}
		got = append(got, rec{h.Tag(), h.StartTimeMs(), h.EndTimeMs(), h.TotalCount(), h.Max()})
	}
	var want []rec
	for _, iv := range intervals {
		for _, p := range []struct {
			tag string
			h   *hdrhistogram.Histogram
		}{{"service", iv.Service}, {"response", iv.Response}} {
			if p.h == nil {
				continue
			}
			want = append(want, rec{p.tag, iv.Start.UnixMilli(), iv.End.UnixMilli(), p.h.TotalCount(), p.h.Max()})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d interval histograms; want %d:\n%s", len(got), len(want), log)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("interval %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	if tag := intervals[0].Service.Tag(); tag != "keep" {
		t.Errorf("WriteHlog left tag %q on the caller's histogram; want it restored to \"keep\"", tag)
	}
	if intervals[0].Response.StartTimeMs() != 0 {
		t.Errorf("WriteHlog left a start time on the caller's histogram")
	}
}

func TestWriteHlogErrors(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, iv := range map[string]Interval{
		"backwards":    {Start: start.Add(2 * time.Second), End: start.Add(time.Second), Service: newHist()},
		"before start": {Start: start.Add(-2 * time.Second), End: start, Service: newHist()},
	} {
		if err := WriteHlog(&bytes.Buffer{}, start, []Interval{iv}); err == nil {
			t.Errorf("%s: WriteHlog = nil; want an error", name)
		}
	}
	if err := WriteHlog(&bytes.Buffer{}, time.Unix(-5, 0), nil); err == nil {
		t.Errorf("WriteHlog(start before 1970) = nil; want an error")
	}
	if err := WriteHlog(failWriter{}, start, nil); err == nil {
		t.Errorf("WriteHlog(failing writer) = nil; want an error")
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

var errFail = &writeError{}

type writeError struct{}

func (*writeError) Error() string { return "write failed" }
