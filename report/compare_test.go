package report

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

// synth returns a result with the given rate and service/response p99 (µs);
// the other percentiles derive from p99.
func synth(rate, p99 float64) *Result {
	s := LatencySummary{P50: p99 / 3, P90: p99 / 2, P99: p99, P999: p99 * 2, Max: p99 * 4, Mean: p99 / 3}
	return &Result{
		Config:     map[string]any{"conns": 8, "rate": 5000},
		Target:     "embedded",
		Tool:       Tool{Version: "v1", Client: "native"},
		Counts:     Counts{Acked: uint64(rate * 10), Messages: uint64(rate * 10)},
		Throughput: Throughput{AckedPerS: rate},
		LatencyUS:  Latency{Service: s, Response: s},
	}
}

// row returns the comparison row of metric.
func row(t *testing.T, c Comparison, metric string) ComparisonRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q", metric)
	return ComparisonRow{}
}

func TestCompareSingleRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		base, new       *Result
		rate, p99       Verdict
		regressed       bool
		rateRel, p99Rel float64
	}{
		{"same", synth(5000, 1000), synth(5000, 1000), VerdictSame, VerdictSame, false, 0, 0},
		{"rate -6% regresses", synth(5000, 1000), synth(4700, 1000), VerdictRegression, VerdictSame, true, -0.06, 0},
		{"rate -5% exactly is tolerated", synth(5000, 1000), synth(4750, 1000), VerdictWorse, VerdictSame, false, -0.05, 0},
		{"rate up is better", synth(5000, 1000), synth(5200, 1000), VerdictBetter, VerdictSame, false, 0.04, 0},
		{"p99 +11% regresses", synth(5000, 1000), synth(5000, 1110), VerdictSame, VerdictRegression, true, 0, 0.11},
		{"p99 +9% is worse", synth(5000, 1000), synth(5000, 1090), VerdictSame, VerdictWorse, false, 0, 0.09},
		{"p99 down is better", synth(5000, 1000), synth(5000, 500), VerdictSame, VerdictBetter, false, 0, -0.5},
		{"from zero latency", synth(5000, 0), synth(5000, 10), VerdictSame, VerdictRegression, true, 0, math.Inf(1)},
	}
	for _, tt := range tests {
		c := Compare([]*Result{tt.base}, []*Result{tt.new}, DefaultThresholds)
		rr, pr := row(t, c, "rate"), row(t, c, "p99")
		if rr.Verdict != tt.rate || pr.Verdict != tt.p99 || c.Regressed != tt.regressed {
			t.Errorf("%s: verdicts rate %s p99 %s regressed %v; want %s %s %v", tt.name, rr.Verdict, pr.Verdict, c.Regressed, tt.rate, tt.p99, tt.regressed)
		}
		if math.Abs(rr.RelDelta-tt.rateRel) > 1e-9 || !(pr.RelDelta == tt.p99Rel || math.Abs(pr.RelDelta-tt.p99Rel) < 1e-9) {
			t.Errorf("%s: rel changes %v %v; want %v %v", tt.name, rr.RelDelta, pr.RelDelta, tt.rateRel, tt.p99Rel)
		}
		if rr.Tested || !math.IsNaN(rr.P) {
			t.Errorf("%s: single runs were tested (P=%v)", tt.name, rr.P)
		}
		// The response p99 row follows the same threshold.
		if rp := row(t, c, "rp99"); rp.Verdict != tt.p99 {
			t.Errorf("%s: rp99 verdict %s; want %s", tt.name, rp.Verdict, tt.p99)
		}
		// Rows without a threshold never regress.
		for _, m := range []string{"p50", "p90", "p999", "max", "rp50", "rmax"} {
			if v := row(t, c, m).Verdict; v == VerdictRegression {
				t.Errorf("%s: %s regressed without a threshold", tt.name, m)
			}
		}
	}
}

func TestCompareEmptySide(t *testing.T) {
	t.Parallel()
	c := Compare(nil, []*Result{synth(5000, 1000)}, DefaultThresholds)
	if c.Regressed || len(c.Rows) != len(compareMetrics) {
		t.Fatalf("Compare(nil, one) = regressed %v, %d rows", c.Regressed, len(c.Rows))
	}
	for _, r := range c.Rows {
		if r.Verdict != VerdictSame || r.Note == "" {
			t.Errorf("row %s = %s %q; want ~ with a note", r.Metric, r.Verdict, r.Note)
		}
	}
	if err := WriteComparison(io.Discard, c); err != nil {
		t.Errorf("WriteComparison(empty side) = %v", err)
	}
}

func TestCompareThresholdFlags(t *testing.T) {
	t.Parallel()
	base, newer := []*Result{synth(5000, 1000)}, []*Result{synth(4000, 2000)}
	if c := Compare(base, newer, Thresholds{MaxRateDrop: -1, MaxP99Rise: -1}); c.Regressed {
		t.Errorf("Compare with thresholds off regressed: %+v", c.Rows)
	}
	if c := Compare(base, newer, Thresholds{MaxRateDrop: 0.25, MaxP99Rise: 1.5}); c.Regressed {
		t.Errorf("Compare within wide thresholds regressed")
	}
	c := Compare(base, newer, Thresholds{MaxRateDrop: 0.1, MaxP99Rise: -1})
	if !c.Regressed || row(t, c, "p99").Verdict != VerdictWorse {
		t.Errorf("Compare(rate 10%%, p99 off) = regressed %v p99 %s", c.Regressed, row(t, c, "p99").Verdict)
	}
	if c.Thresholds.Alpha != 0.05 {
		t.Errorf("Alpha default = %v; want 0.05", c.Thresholds.Alpha)
	}
}

func TestCompareSeveralRuns(t *testing.T) {
	t.Parallel()
	runs := func(rates ...float64) []*Result {
		var out []*Result
		for _, r := range rates {
			out = append(out, synth(r, 1000))
		}
		return out
	}
	// Clearly separated samples: significant and beyond 5%.
	c := Compare(runs(5000, 5010, 4990, 5005, 4995), runs(4500, 4510, 4490, 4505, 4495), DefaultThresholds)
	rr := row(t, c, "rate")
	if !rr.Tested || rr.P >= 0.05 || rr.Verdict != VerdictRegression || !c.Regressed {
		t.Errorf("separated 5v5: tested %v P %v verdict %s regressed %v; want a significant regression", rr.Tested, rr.P, rr.Verdict, c.Regressed)
	}
	if rr.Base != 5000 || rr.New != 4500 {
		t.Errorf("medians %v %v; want 5000 4500", rr.Base, rr.New)
	}
	// Overlapping samples with a shifted median: not significant, not a regression.
	c = Compare(runs(5000, 4000, 5100, 4200, 5050), runs(4100, 5020, 4050, 4980, 4300), DefaultThresholds)
	rr = row(t, c, "rate")
	if !rr.Tested || rr.P < 0.05 || rr.Verdict != VerdictSame || c.Regressed {
		t.Errorf("overlapping 5v5: P %v verdict %s regressed %v; want ~", rr.P, rr.Verdict, c.Regressed)
	}
	// Two runs per side can never reach alpha 0.05.
	c = Compare(runs(5000, 5001), runs(1000, 1001), DefaultThresholds)
	rr = row(t, c, "rate")
	if rr.Verdict != VerdictSame || c.Regressed || !strings.Contains(rr.Note, "need >= 4 samples") {
		t.Errorf("2v2: verdict %s regressed %v note %q; want ~ with a note", rr.Verdict, c.Regressed, rr.Note)
	}
	// A looser alpha makes 3v3 decidable (minimum p is 0.1).
	c = Compare(runs(5000, 5001, 5002), runs(1000, 1001, 1002), Thresholds{MaxRateDrop: 0.05, MaxP99Rise: 0.1, Alpha: 0.2})
	if rr = row(t, c, "rate"); rr.Verdict != VerdictRegression {
		t.Errorf("3v3 at alpha 0.2: verdict %s P %v; want REGRESSION", rr.Verdict, rr.P)
	}
	// One run on one side: thresholds alone.
	c = Compare(runs(5000), runs(4000, 4010, 3990), DefaultThresholds)
	if rr = row(t, c, "rate"); rr.Tested || rr.Verdict != VerdictRegression {
		t.Errorf("1v3: tested %v verdict %s; want untested REGRESSION", rr.Tested, rr.Verdict)
	}
}

func TestWriteComparison(t *testing.T) {
	t.Parallel()
	c := Compare([]*Result{synth(5000, 1000)}, []*Result{synth(4700, 1200)}, DefaultThresholds)
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"rate (acked/s)", "5,000.0/s", "4,700.0/s", "-300.0/s", "-6.0%", "REGRESSION (limit -5.0%)", "+20.0%", "REGRESSION: rate (acked/s), service p99, response p99", "response p99.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteComparison lacks %q:\n%s", want, out)
		}
	}
	var md bytes.Buffer
	if err := WriteComparisonMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	checkMarkdownTables(t, md.String())
	for _, want := range []string{"## ccsbench comparison", "rate -5.0%, p99 +10.0%", "❌ **REGRESSION (limit -5.0%)**"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("WriteComparisonMarkdown lacks %q:\n%s", want, md.String())
		}
	}

	c = Compare([]*Result{synth(5000, 1000), synth(5000, 1000)}, []*Result{synth(5000, 1000), synth(5000, 1000)}, DefaultThresholds)
	buf.Reset()
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"base (median of 2)", "p=1.000", "no regression beyond thresholds"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteComparison(2v2) lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestWriteBenchfmt(t *testing.T) {
	t.Parallel()
	a, b := synth(5000, 1000), synth(4800, 1500)
	b.Config["rate-shape"] = "ramp 1/s"
	var buf bytes.Buffer
	if err := WriteBenchfmt(&buf, "base", a); err != nil {
		t.Fatal(err)
	}
	if err := WriteBenchfmt(&buf, "new", b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "BenchmarkCCS/conns=8/rate=5000 50000 5000 acked/s 333") {
		t.Errorf("benchfmt output lacks the expected line:\n%s", buf.String())
	}
	rd := benchfmt.NewReader(&buf, "out.txt")
	var got []*benchfmt.Result
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.Result:
			got = append(got, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt syntax error: %v", rec)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d results; want 2", len(got))
	}
	if got[0].GetConfig("side") != "base" || got[1].GetConfig("side") != "new" || got[0].GetConfig("target") != "embedded" {
		t.Errorf("config keys: %q %q %q", got[0].GetConfig("side"), got[1].GetConfig("side"), got[0].GetConfig("target"))
	}
	if got[1].Name.String() != "CCS/conns=8/rate=5000/rate-shape=ramp_1_s" {
		t.Errorf("name = %q", got[1].Name.String())
	}
	// ns units are tidied to seconds by the reader, as benchstat sees them.
	if v, ok := got[1].Value("p99-sec"); !ok || math.Abs(v-1.5e-3) > 1e-12 {
		t.Errorf("p99 of new = %v, %v; want 1.5e-3 s", v, ok)
	}
	if v, ok := got[0].Value("acked/s"); !ok || v != 5000 {
		t.Errorf("acked/s of base = %v, %v; want 5000", v, ok)
	}
	units := rd.Units()
	if m := units[benchfmt.UnitMetadataKey{Unit: "acked/s", Key: "better"}]; m == nil || m.Value != "higher" {
		t.Errorf("acked/s better = %+v; want higher", m)
	}
	if err := WriteBenchfmt(&buf, "x"); err == nil {
		t.Errorf("WriteBenchfmt with no results = nil; want an error")
	}
}
