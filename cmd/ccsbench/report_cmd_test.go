package main

import (
	"bytes"
	"io"
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

// callCmd calls a subcommand and returns its exit code, stdout and stderr.
func callCmd(fn func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := fn(args, &out, &errb)
	return code, out.String(), errb.String()
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
		{[]string{"--bogus", a}, "flag provided but not defined: -bogus"},
		{[]string{a, "--md", filepath.Join(dir, "no", "such", "dir.md")}, "no such file or directory"},
	} {
		code, _, errs := callCmd(reportCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "goroutine") {
			t.Errorf("report %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}

func TestCompareCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := writeTestResult(t, dir, "base.json", 5000, 1000)
	same := writeTestResult(t, dir, "same.json", 4990, 1020)
	slow := writeTestResult(t, dir, "slow.json", 4500, 1000)

	code, out, errs := callCmd(compareCmd, base, same)
	if code != 0 || errs != "" || !strings.Contains(out, "no regression beyond thresholds") {
		t.Errorf("compare base same = %d, %q:\n%s", code, errs, out)
	}
	code, out, _ = callCmd(compareCmd, base, slow)
	if code != 1 || !strings.Contains(out, "REGRESSION: rate (acked/s)") {
		t.Errorf("compare base slow = %d:\n%s", code, out)
	}
	if code, _, _ = callCmd(compareCmd, "--max-rate-drop", "15%", base, slow); code != 0 {
		t.Errorf("compare --max-rate-drop 15%% = %d; want 0", code)
	}
	if code, _, _ = callCmd(compareCmd, "--max-rate-drop", "off", base, slow); code != 0 {
		t.Errorf("compare --max-rate-drop off = %d; want 0", code)
	}
	code, out, _ = callCmd(compareCmd, "--gate", "rate>4995", base, same)
	if code != 3 || !strings.Contains(out, "gate rate>4995 on") || !strings.Contains(out, "FAIL") {
		t.Errorf("compare --gate (failing) = %d; want 3:\n%s", code, out)
	}
	if code, _, _ = callCmd(compareCmd, "--gate", "rate>4995", base, slow); code != 1 {
		t.Errorf("compare regression and failed gate = %d; want 1", code)
	}

	md := filepath.Join(dir, "cmp.md")
	code, _, _ = callCmd(compareCmd, "--base", base+","+same, "--new", slow+","+slow, "--md", md)
	if code != 0 {
		t.Errorf("compare 2v2 = %d; want 0 (two runs per side cannot be significant)", code)
	}
	if data, err := os.ReadFile(md); err != nil || !strings.Contains(string(data), "p=") {
		t.Errorf("compare --md wrote %q, %v; want p-values", data, err)
	}

	code, out, _ = callCmd(compareCmd, "--format", "benchfmt", base, slow)
	if code != 1 || !strings.Contains(out, "side: base") || !strings.Contains(out, "side: new") || !strings.Contains(out, "BenchmarkCCS/conns=8/rate=5000 1000 5000 acked/s") {
		t.Errorf("compare --format benchfmt = %d:\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{base}, "want BASE.json NEW.json"},
		{[]string{base, same, slow}, "got 3 file(s)"},
		{[]string{"--base", base}, "--base and --new go together"},
		{[]string{"--base", base, "--new", same, slow}, "not both"},
		{[]string{"--gate", "p99<5", base, same}, "needs a unit"},
		{[]string{"--max-p99-rise", "ten", base, same}, "not a non-negative percentage"},
		{[]string{"--alpha", "2", base, same}, "between 0 and 1"},
		{[]string{"--format", "csv", base, same}, "unknown --format"},
		{[]string{base, filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		code, _, errs := callCmd(compareCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("compare %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}

func TestParseFraction(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, "10 %": 0.1, "0": 0, "off": -1, "NONE": -1, "150%": 1.5} {
		if got, err := parseFraction(in); err != nil || got != want {
			t.Errorf("parseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5%", "five", "NaN", "%"} {
		if got, err := parseFraction(in); err == nil {
			t.Errorf("parseFraction(%q) = %v, nil; want an error", in, got)
		}
	}
}

func TestMergeCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeTestResult(t, dir, "a.json", 5000, 1000)
	b := writeTestResult(t, dir, "b.json", 4000, 3000)
	out := filepath.Join(dir, "all.json")
	code, stdout, errs := callCmd(mergeCmd, a, b, "-o", out)
	if code != 0 || errs != "" || !strings.Contains(stdout, "merged 2 results") {
		t.Fatalf("merge = %d, %q, %q", code, stdout, errs)
	}
	m, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Messages != 2000 || m.Counts.Acked != 2000 {
		t.Errorf("merged counts = %+v", m.Counts)
	}
	if data, _ := os.ReadFile(out); strings.Contains(string(data), "topsecret") {
		t.Errorf("merged file contains the API key")
	}

	c := writeTestResult(t, dir, "c.json", 4000, 3000)
	cr, err := report.ReadFile(c)
	if err != nil {
		t.Fatal(err)
	}
	cr.Config["rate"] = 100
	if err := cr.WriteFile(c); err != nil {
		t.Fatal(err)
	}
	code, stdout, errs = callCmd(mergeCmd, "-o", "-", a, c)
	if code != 0 || !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "rate: 5000 vs 100") || !strings.Contains(stdout, `"schema": "ccsbench.result/v1"`) {
		t.Errorf("merge differing configs = %d, stderr %q", code, errs)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{a, b}, "missing -o FILE"},
		{[]string{"-o", out}, "no results files given"},
		{[]string{"-o", out, filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		code, _, errs := callCmd(mergeCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("merge %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}
