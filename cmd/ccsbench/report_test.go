package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ccsbench/ccsbench/report"
)

// writeTestResult writes a results file with the given rate and a service p99
// near p99US into dir and returns its path.
func writeTestResult(t *testing.T, dir, name string, rate float64, p99US int64) string {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range int64(1000) {
		v := 100 + i*p99US/1000
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := report.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Result{
		Tool:       report.Tool{Version: "test", Go: "go", Client: "native"},
		Config:     map[string]any{"conns": 8, "rate": 5000, "api-key": "topsecret"},
		Target:     "embedded",
		StartedAt:  time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
		DurationS:  1,
		Counts:     report.Counts{Messages: 1000, Acked: 1000, Nacks: map[string]uint64{}},
		Throughput: report.Throughput{AckedPerS: rate, OfferedPerS: 5000},
		LatencyUS:  report.Latency{Service: report.Summarize(h), Response: report.Summarize(h)},
		Histograms: report.Histograms{Service: enc, Response: enc},
		Timeline:   []report.TimelinePoint{{TS: 1, Sent: 1000, Acked: 1000}},
	}
	path := filepath.Join(dir, name)
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeTestResult(t, dir, "a.json", 5000, 1000)
	b := writeTestResult(t, dir, "b.json", 4000, 2000)

	code, out, errs := callCmd(reportCmd, a)
	if code != 0 || errs != "" || !strings.Contains(out, "p99.9") || strings.Contains(out, "topsecret") {
		t.Errorf("report a.json = %d, stderr %q, stdout:\n%s", code, errs, out)
	}

	md, html := filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html")
	code, _, errs = callCmd(reportCmd, a, "--md", md, b, "--html", html)
	if code != 0 || errs != "" {
		t.Fatalf("report --md --html = %d, %q", code, errs)
	}
	for _, p := range []string{md, html} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "a.json") || !strings.Contains(string(data), "b.json") {
			t.Errorf("%s does not cover both results", p)
		}
	}

	code, out, _ = callCmd(reportCmd, "--md", "-", a)
	if code != 0 || !strings.HasPrefix(out, "## ccsbench results") {
		t.Errorf("report --md - = %d:\n%s", code, out)
	}
	code, out, _ = callCmd(reportCmd, "-h")
	if code != 0 || !strings.Contains(out, "Usage: ccsbench report") {
		t.Errorf("report -h = %d:\n%s", code, out)
	}

	v2 := filepath.Join(dir, "v2.json")
	if err := os.WriteFile(v2, []byte(`{"schema":"ccsbench.result/v2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no results file given"},
		{[]string{filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{v2}, `"ccsbench.result/v2"`},
		{[]string{"--bogus", a}, "unknown flag --bogus"},
		{[]string{a, "--md", filepath.Join(dir, "no", "such", "dir.md")}, "no such file or directory"},
	} {
		code, _, errs := callCmd(reportCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "goroutine") {
			t.Errorf("report %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}
