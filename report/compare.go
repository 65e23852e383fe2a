package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Thresholds decide when a worse value is a regression. Changes are
// fractions of the base value (0.05 is 5%); a negative threshold disables its
// check.
type Thresholds struct {
	// MaxRateDrop is the largest tolerated drop of the acked rate.
	MaxRateDrop float64
	// MaxP99Rise is the largest tolerated rise of the service-time p99 and
	// of the response-time p99.
	MaxP99Rise float64
	// Alpha is the significance level of the Mann-Whitney U test used when
	// both sides have several runs; values <= 0 mean 0.05.
	Alpha float64
}

// DefaultThresholds are the CI defaults: rate -5%, p99 +10%, alpha 0.05.
var DefaultThresholds = Thresholds{MaxRateDrop: 0.05, MaxP99Rise: 0.10, Alpha: 0.05}

// Verdict is the outcome of one compared metric.
type Verdict string

// The verdicts of a comparison row.
const (
	// VerdictSame: no change, or a change that is not statistically significant.
	VerdictSame Verdict = "~"
	// VerdictBetter: an improvement.
	VerdictBetter Verdict = "better"
	// VerdictWorse: worse, but within the row's threshold (or the row has none).
	VerdictWorse Verdict = "worse"
	// VerdictRegression: worse beyond the row's threshold (and significant).
	VerdictRegression Verdict = "REGRESSION"
)

// ComparisonRow compares one metric between the base and the new runs.
type ComparisonRow struct {
	// Metric is the gate metric name: rate, p50 ... max, rp50 ... rmax,
	// or one of the counts unresolved, lost, disconnects, drain_timeouts,
	// strays.
	Metric string
	// Label is the row's display name, e.g. "service p99".
	Label string
	// HigherIsBetter is true for rate and false for latencies.
	HigherIsBetter bool
	// BaseValues and NewValues are the per-run values, sorted ascending:
	// µs for latencies, acked messages per second for rate, else counts.
	BaseValues, NewValues []float64
	// Base and New are the medians of BaseValues and NewValues.
	Base, New float64
	// Delta is New - Base; RelDelta is Delta / Base (±Inf when Base is 0
	// and New is not, 0 when both are 0).
	Delta, RelDelta float64
	// Tested reports whether a Mann-Whitney U test was made (both sides
	// have at least two runs); P is its p-value, NaN when not tested.
	Tested bool
	P      float64
	// Threshold is the tolerated worsening as a fraction; negative when the
	// row has none.
	Threshold float64
	// Verdict is the row's outcome.
	Verdict Verdict
	// Note explains a verdict the numbers alone do not (e.g. too few runs
	// for the test to ever be significant).
	Note string
}

// Comparison is the result of Compare.
type Comparison struct {
	// BaseRuns and NewRuns are the number of results on each side.
	BaseRuns, NewRuns int
	// Thresholds are the thresholds applied, Alpha resolved.
	Thresholds Thresholds
	// Rows holds rate, the service and response percentiles, then the
	// counts.
	Rows []ComparisonRow
	// Regressed is true when any row's verdict is VerdictRegression.
	Regressed bool
}

// compareMetrics lists the compared metrics in display order: the rate,
// the percentiles, and the counts of what went wrong (lower is better; no
// threshold, so they are never a regression: gate them with --gate).
var compareMetrics = []struct{ metric, label string }{
	{"rate", "rate (acked/s)"},
	{"p50", "service p50"}, {"p90", "service p90"}, {"p99", "service p99"}, {"p999", "service p99.9"}, {"max", "service max"},
	{"rp50", "response p50"}, {"rp90", "response p90"}, {"rp99", "response p99"}, {"rp999", "response p99.9"}, {"rmax", "response max"},
	{"unresolved", "unresolved"}, {"lost", "lost"}, {"disconnects", "disconnects"}, {"drain_timeouts", "drain timeouts"}, {"strays", "strays"},
}

// Compare compares base against new results metric by metric: the acked
// rate, every percentile of both latencies, and the counts unresolved,
// lost, disconnects, drain timeouts and strays. With a single run on either
// side a metric regresses when it worsens beyond its threshold. With at
// least two runs on both sides the medians are compared and a Mann-Whitney U
// test (golang.org/x/perf/benchmath, as benchstat does) must also find the
// difference significant at th.Alpha; a difference that is not significant
// is never a regression. With no runs on a side every row is VerdictSame
// with a note.
func Compare(base, new []*Result, th Thresholds) Comparison {
	if th.Alpha <= 0 {
		th.Alpha = 0.05
	}
	c := Comparison{BaseRuns: len(base), NewRuns: len(new), Thresholds: th}
	bt := &benchmath.Thresholds{CompareAlpha: th.Alpha}
	for _, m := range compareMetrics {
		get := gateMetrics[m.metric].get
		row := ComparisonRow{Metric: m.metric, Label: m.label, HigherIsBetter: m.metric == "rate", P: math.NaN(), Threshold: -1}
		for _, r := range base {
			row.BaseValues = append(row.BaseValues, get(r))
		}
		for _, r := range new {
			row.NewValues = append(row.NewValues, get(r))
		}
		slices.Sort(row.BaseValues)
		slices.Sort(row.NewValues)
		row.Base, row.New = median(row.BaseValues), median(row.NewValues)
		row.Delta = row.New - row.Base
		switch {
		case row.Base != 0:
			row.RelDelta = row.Delta / row.Base
		case row.Delta > 0:
			row.RelDelta = math.Inf(1)
		case row.Delta < 0:
			row.RelDelta = math.Inf(-1)
		}
		switch m.metric {
		case "rate":
			row.Threshold = th.MaxRateDrop
		case "p99", "rp99":
			row.Threshold = th.MaxP99Rise
		}

		significant := true
		if len(row.BaseValues) == 0 || len(row.NewValues) == 0 {
			row.Delta, row.RelDelta = math.NaN(), math.NaN()
			row.Verdict = VerdictSame
			row.Note = "no runs on one side"
			c.Rows = append(c.Rows, row)
			continue
		}
		if len(row.BaseValues) >= 2 && len(row.NewValues) >= 2 {
			row.Tested = true
			s1 := benchmath.NewSample(slices.Clone(row.BaseValues), bt)
			s2 := benchmath.NewSample(slices.Clone(row.NewValues), bt)
			cmp := benchmath.AssumeNothing.Compare(s1, s2)
			row.P = cmp.P
			significant = cmp.P < th.Alpha
			var notes []string
			for _, w := range cmp.Warnings {
				notes = append(notes, w.Error())
			}
			row.Note = strings.Join(notes, "; ")
		}

		worse := row.Delta < 0
		if !row.HigherIsBetter {
			worse = row.Delta > 0
		}
		switch {
		case row.Delta == 0 || !significant:
			row.Verdict = VerdictSame
		case !worse:
			row.Verdict = VerdictBetter
		case row.Threshold >= 0 && math.Abs(row.RelDelta) > row.Threshold:
			row.Verdict = VerdictRegression
			c.Regressed = true
		default:
			row.Verdict = VerdictWorse
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// median returns the median of sorted values (NaN for none).
func median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// formatMetric formats a value of the row's metric.
func (row ComparisonRow) formatMetric(v float64) string {
	switch gateMetrics[row.Metric].kind {
	case kindRate:
		return formatRate(v)
	case kindCount:
		if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
			if v < 0 {
				return "-" + formatCount(uint64(-v))
			}
			return formatCount(uint64(v))
		}
		return formatFloat1(v) // a median of an even number of runs
	}
	return formatUS(v)
}

// formatDelta formats the absolute change with a sign.
func (row ComparisonRow) formatDelta() string {
	s := row.formatMetric(row.Delta)
	if row.Delta > 0 {
		return "+" + s
	}
	return s
}

// formatP formats the p-value, "-" when untested.
func (row ComparisonRow) formatP() string {
	if !row.Tested {
		return "-"
	}
	return "p=" + strconv.FormatFloat(row.P, 'f', 3, 64)
}

// verdictText is the verdict with the threshold it was judged against.
func (row ComparisonRow) verdictText() string {
	s := string(row.Verdict)
	if row.Verdict == VerdictRegression || row.Verdict == VerdictWorse {
		if row.Threshold >= 0 {
			lim := row.Threshold
			if row.HigherIsBetter {
				lim = -lim
			}
			s += " (limit " + signedPct(lim) + ")"
		}
	}
	return s
}

// comparisonHeader returns the table header for c.
func comparisonHeader(c Comparison) []string {
	b, n := "base", "new"
	if c.BaseRuns > 1 {
		b = "base (median of " + strconv.Itoa(c.BaseRuns) + ")"
	}
	if c.NewRuns > 1 {
		n = "new (median of " + strconv.Itoa(c.NewRuns) + ")"
	}
	return []string{"metric", b, n, "delta", "change", "p-value", "verdict"}
}

// comparisonFooter summarizes c in one line.
func comparisonFooter(c Comparison) string {
	var regs []string
	for _, r := range c.Rows {
		if r.Verdict == VerdictRegression {
			regs = append(regs, r.Label)
		}
	}
	if len(regs) > 0 {
		return "REGRESSION: " + strings.Join(regs, ", ")
	}
	return "no regression beyond thresholds"
}

// comparisonNotes lists the distinct notes of the rows.
func comparisonNotes(c Comparison) []string {
	var notes []string
	for _, r := range c.Rows {
		if r.Note != "" && !slices.Contains(notes, r.Note) {
			notes = append(notes, r.Note)
		}
	}
	return notes
}

// WriteComparison writes c as a terminal table: base and new values side by
// side, absolute and relative change, the p-value when tested, a verdict per
// row, then a one-line conclusion.
func WriteComparison(w io.Writer, c Comparison) error {
	t := newTextTable(w, comparisonHeader(c)...)
	for _, row := range c.Rows {
		if err := appendRow(t, row.Label, row.formatMetric(row.Base), row.formatMetric(row.New),
			row.formatDelta(), signedPct(row.RelDelta), row.formatP(), row.verdictText()); err != nil {
			return err
		}
	}
	if err := render(t); err != nil {
		return err
	}
	ew := &errWriter{w: w}
	for _, n := range comparisonNotes(c) {
		ew.printf("note: %s\n", n)
	}
	ew.printf("%s\n", comparisonFooter(c))
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	return nil
}

// WriteComparisonMarkdown writes c as markdown for a pull-request comment:
// the thresholds, the table of WriteComparison and the conclusion.
func WriteComparisonMarkdown(w io.Writer, c Comparison) error {
	var buf bytes.Buffer
	ew := &errWriter{w: &buf}
	ew.printf("## ccsbench comparison\n\n")
	ew.printf("%d base run(s) against %d new run(s). Thresholds: %s, alpha %s.\n\n",
		c.BaseRuns, c.NewRuns, thresholdText(c.Thresholds), strconv.FormatFloat(c.Thresholds.Alpha, 'f', -1, 64))
	t := newTable(&buf, true, comparisonHeader(c)...)
	for _, row := range c.Rows {
		v := mdEscape(row.verdictText())
		if row.Verdict == VerdictRegression {
			v = "❌ **" + v + "**"
		}
		if err := appendRow(t, mdEscape(row.Label), mdEscape(row.formatMetric(row.Base)), mdEscape(row.formatMetric(row.New)),
			mdEscape(row.formatDelta()), mdEscape(signedPct(row.RelDelta)), mdEscape(row.formatP()), v); err != nil {
			return err
		}
	}
	if err := render(t); err != nil {
		return err
	}
	ew.printf("\n")
	for _, n := range comparisonNotes(c) {
		ew.printf("Note: %s\n\n", mdEscape(n))
	}
	if c.Regressed {
		ew.printf("**%s**\n", mdEscape(comparisonFooter(c)))
	} else {
		ew.printf("✅ %s\n", comparisonFooter(c))
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing markdown: %w", err)
	}
	return nil
}

// thresholdText describes the thresholds: "rate -5.0%, p99 +10.0%".
func thresholdText(th Thresholds) string {
	rate, p99 := "rate off", "p99 off"
	if th.MaxRateDrop >= 0 {
		rate = "rate " + signedPct(-th.MaxRateDrop)
	}
	if th.MaxP99Rise >= 0 {
		p99 = "p99 " + signedPct(th.MaxP99Rise)
	}
	return rate + ", " + p99
}

// benchUnits are the benchfmt units written by WriteBenchfmt, in order, with
// the metric each one carries. Latencies are in nanoseconds so that
// benchstat recognises them as times and scales them ("p99-sec").
var benchUnits = []struct {
	unit, metric string
	better       string
}{
	{"acked/s", "rate", "higher"},
	{"p50-ns", "p50", "lower"}, {"p90-ns", "p90", "lower"}, {"p99-ns", "p99", "lower"}, {"p999-ns", "p999", "lower"}, {"max-ns", "max", "lower"},
	{"rp50-ns", "rp50", "lower"}, {"rp90-ns", "rp90", "lower"}, {"rp99-ns", "rp99", "lower"}, {"rp999-ns", "rp999", "lower"}, {"rmax-ns", "rmax", "lower"},
}

// benchNameKeys are the configuration keys that name a benchmark, in order.
var benchNameKeys = []string{"conns", "window", "rate", "rate-shape", "payload-bytes"}

// BenchName returns r's benchmark name without the "Benchmark" prefix:
// "CCS/conns=8/rate=5000", from the configuration keys conns, window, rate,
// rate-shape and payload-bytes that r has.
func BenchName(r *Result) string {
	var b strings.Builder
	b.WriteString("CCS")
	for _, k := range benchNameKeys {
		v, ok := r.Config[k]
		if !ok {
			continue
		}
		b.WriteString("/" + k + "=" + benchValue(formatConfigValue(v)))
	}
	return b.String()
}

// benchValue makes s safe inside a benchmark name part.
func benchValue(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == ' ' || r == '\t' || r == '\n' || r == '\r':
			return '_'
		}
		return r
	}, s)
}

// WriteBenchfmt writes results in Go's benchmark format
// (golang.org/x/perf/benchfmt) so that benchstat reads them: unit metadata,
// configuration lines (side, when not empty, then target, client,
// ccsbench version), and one line per result named by BenchName with the
// acked count as iterations and the units acked/s, p50-ns ... max-ns for
// service time and rp50-ns ... rmax-ns for response time.
func WriteBenchfmt(w io.Writer, side string, results ...*Result) error {
	if len(results) == 0 {
		return errors.New("report: no results to write")
	}
	var buf bytes.Buffer
	bw := benchfmt.NewWriter(&buf)
	for _, u := range benchUnits {
		for _, md := range []struct{ k, v string }{{"better", u.better}, {"assume", "nothing"}} {
			if err := bw.Write(&benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u.unit, Key: md.k}, OrigUnit: u.unit, Value: md.v}); err != nil {
				return fmt.Errorf("report: benchfmt: %w", err)
			}
		}
	}
	for _, r := range results {
		res := &benchfmt.Result{Name: benchfmt.Name(BenchName(r)), Iters: int(min(r.Counts.Acked, math.MaxInt32))}
		if res.Iters == 0 {
			res.Iters = 1
		}
		if side != "" {
			res.Config = append(res.Config, benchfmt.Config{Key: "side", Value: []byte(benchValue(side)), File: true})
		}
		res.Config = append(res.Config,
			benchfmt.Config{Key: "target", Value: []byte(benchValue(nonEmpty(r.Target, "unknown"))), File: true},
			benchfmt.Config{Key: "client", Value: []byte(benchValue(nonEmpty(r.Tool.Client, "unknown"))), File: true},
			benchfmt.Config{Key: "ccsbench", Value: []byte(benchValue(nonEmpty(r.Tool.Version, "unknown"))), File: true},
		)
		for _, u := range benchUnits {
			v := gateMetrics[u.metric].get(r)
			if u.metric != "rate" {
				v *= 1000 // µs to ns
			}
			res.Values = append(res.Values, benchfmt.Value{Value: v, Unit: u.unit})
		}
		if err := bw.Write(res); err != nil {
			return fmt.Errorf("report: benchfmt: %w", err)
		}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing benchfmt: %w", err)
	}
	return nil
}
