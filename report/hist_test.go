package report

import (
	"errors"
	"testing"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	h := newHist()
	for v := int64(1); v <= 1000; v++ {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	got := Summarize(h)
	want := LatencySummary{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000, Mean: 500.5}
	if got != want {
		t.Errorf("Summarize(1..1000) = %+v; want %+v", got, want)
	}
	if got := Summarize(nil); got != (LatencySummary{}) {
		t.Errorf("Summarize(nil) = %+v; want zeros", got)
	}
	if got := Summarize(newHist()); got != (LatencySummary{}) {
		t.Errorf("Summarize(empty) = %+v; want zeros", got)
	}
}

func TestHistogramRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHist()
	for _, v := range []int64{1, 7, 420, 420, 99_999, 12_345_678} {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeHistogram(s)
	if err != nil {
		t.Fatalf("DecodeHistogram(EncodeHistogram(h)) = %v", err)
	}
	if !got.Equals(h) {
		t.Errorf("round trip changed the histogram: %v != %v", got.Export(), h.Export())
	}
	if s, err := EncodeHistogram(nil); s != "" || err != nil {
		t.Errorf("EncodeHistogram(nil) = %q, %v; want \"\", nil", s, err)
	}
	if _, err := DecodeHistogram(""); !errors.Is(err, ErrNoHistogram) {
		t.Errorf("DecodeHistogram(\"\") = %v; want ErrNoHistogram", err)
	}
	for _, bad := range []string{"not base64!", "SElTVEZBQUFB", s[:len(s)/2]} {
		if _, err := DecodeHistogram(bad); err == nil {
			t.Errorf("DecodeHistogram(%q) = nil error; want one", bad)
		}
	}
}
