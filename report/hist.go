package report

import (
	"fmt"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// EncodeHistogram returns h as base64 HdrHistogram V2 compressed text, the
// form of Result.Histograms (hdrhistogram-go's
// Encode(V2CompressedEncodingCookieBase)). A nil h encodes as "".
func EncodeHistogram(h *hdrhistogram.Histogram) (string, error) {
	if h == nil {
		return "", nil
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("report: encoding histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram is the inverse of EncodeHistogram. An empty s is refused
// with an error wrapping ErrNoHistogram.
func DecodeHistogram(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return nil, ErrNoHistogram
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("report: decoding histogram: %w", err)
	}
	return h, nil
}

// quantile returns the value of h at quantile q in 0..1 (hdrhistogram-go's
// ValueAtQuantile takes a percentage, 0..100).
func quantile(h *hdrhistogram.Histogram, q float64) int64 {
	return h.ValueAtQuantile(q * 100)
}

// Summarize computes the percentiles of h, whose values are microseconds. A
// nil or empty histogram gives all zeros.
func Summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return LatencySummary{}
	}
	mean := h.Mean()
	if math.IsNaN(mean) {
		mean = 0
	}
	return LatencySummary{
		P50:  float64(quantile(h, 0.50)),
		P90:  float64(quantile(h, 0.90)),
		P99:  float64(quantile(h, 0.99)),
		P999: float64(quantile(h, 0.999)),
		Max:  float64(h.Max()),
		Mean: mean,
	}
}
