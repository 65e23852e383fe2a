package report

// Tests of the counts of what went wrong (lost, disconnects by cause,
// strays, NACK codes) through the results file, the renderings, merge,
// compare and gates, with hostile keys kept bounded.

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileNacks returns n NACK codes of 2 KB each, with control characters.
func hostileNacks(n int) map[string]uint64 {
	m := map[string]uint64{}
	for i := range n {
		m[fmt.Sprintf("%04d\n\x1b[31m%s", i, strings.Repeat("Z", 2000))] = 1
	}
	return m
}

// Whatever NACK codes or disconnect causes a results file holds, the
// summary, markdown and HTML stay readable: one row per code, at most
// maxKeyRows rows, each code cut, no control characters.
func TestKeyedTablesBounded(t *testing.T) {
	t.Parallel()
	r := baseFixture.build(t)
	r.Counts.Nacks = hostileNacks(500)
	r.Counts.Nacks["BAD_REGISTRATION"] = 1000
	r.Counts.Nacked = 1500
	r.Counts.Messages = r.Counts.Acked + r.Counts.Nacked
	r.Counts.Disconnects = hostileNacks(300)
	var sum, md, html bytes.Buffer
	if err := WriteSummary(&sum, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"summary": sum.String(), "markdown": md.String()} {
		if len(out) > 20_000 || strings.Contains(out, "\x1b") {
			t.Errorf("%s: %d bytes; want a short report without control characters", name, len(out))
		}
		for line := range strings.SplitSeq(out, "\n") {
			if n := utf8.RuneCountInString(line); n > 200 && !strings.HasPrefix(line, "- **") {
				t.Errorf("%s: a line of %d characters: %.80q", name, n, line)
				break
			}
		}
		for _, want := range []string{"BAD_REGISTRATION", "(462 more codes)", "(261 more causes)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	checkMarkdownTables(t, md.String())
	if html.Len() > 400_000 || strings.Count(html.String(), "<tr>") > 2*(maxKeyRows+1)+40 {
		t.Errorf("HTML: %d bytes, %d rows; want the tables bounded", html.Len(), strings.Count(html.String(), "<tr>"))
	}
	// The largest first: BAD_REGISTRATION heads the table.
	if i, j := strings.Index(sum.String(), "BAD_REGISTRATION"), strings.Index(sum.String(), "0000?"); i < 0 || j < i {
		t.Errorf("summary lists codes out of order:\n%s", sum.String())
	}
}

func TestDisplayKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"OK":                       "OK",
		"a\nb\x00c":                "a?b?c",
		"bad\xffutf8":              "bad?utf8",
		strings.Repeat("é", 100):   strings.Repeat("é", maxKeyShown-1) + "…",
		strings.Repeat("x", 64):    strings.Repeat("x", 64),
		"stream_error:policy-viol": "stream_error:policy-viol",
	} {
		if got := displayKey(in); got != want {
			t.Errorf("displayKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// Rows for what went wrong in a rare way appear only when some run has it;
// lost and disconnects always.
func TestSummaryRowsWhenNonZero(t *testing.T) {
	t.Parallel()
	base := baseFixture.build(t)
	var buf bytes.Buffer
	if err := WriteSummary(&buf, base); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"strays", "drain timeouts", "dial failures", "disconnect cause"} {
		if strings.Contains(buf.String(), absent) {
			t.Errorf("summary of a clean run shows %q", absent)
		}
	}
	for _, present := range []string{"│ lost ", "│ disconnects "} {
		if !strings.Contains(buf.String(), present) {
			t.Errorf("summary lacks %q", present)
		}
	}
	bad := baseFixture.build(t)
	bad.Counts.DrainTimeouts, bad.Counts.DialFailures = 4, 2
	bad.Counts.Strays, bad.Counts.StrayKinds = 7, map[string]uint64{"duplicate": 5, "wrong_connection": 2}
	buf.Reset()
	if err := WriteMarkdown(&buf, base, bad); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| drain timeouts", "| dial failures", "7 (duplicate 5, wrong\\_connection 2)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
}

// A chart with nothing in it is one line of text: a run without NACKs or
// disconnects has no plot for them.
func TestHTMLLeavesOutEmptyCharts(t *testing.T) {
	t.Parallel()
	r := baseFixture.build(t)
	for i := range r.Timeline {
		r.Timeline[i].Nacked = 0
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"NACKs: <span class=\"note\">no NACKs</span>", "Disconnects: <span class=\"note\">no disconnects</span>", "No disconnects."} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if n := strings.Count(out, "<svg"); n != 5 {
		t.Errorf("HTML has %d charts; want 5 (two spectra, throughput, pending, p99)", n)
	}
}

// New counts and timeline fields survive the file, and files written
// before they existed still read and check.
func TestNewFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	r := slowFixture.build(t)
	r.Counts.DrainTimeouts, r.Counts.DialFailures = 2, 1
	var buf bytes.Buffer
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"lost": 3`, `"drain_timeouts": 2`, `"dial_failures": 1`, `"disconnects": {`, `"strays": 5`, `"stray_kinds": {`,
		`"pending_peak":`, `"rp99_us":`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("encoded result lacks %s", key)
		}
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Counts.Disconnects, r.Counts.Disconnects) || got.Counts.Lost != 3 || got.Timeline[2] != r.Timeline[2] {
		t.Errorf("round trip: counts %+v timeline %+v", got.Counts, got.Timeline[2])
	}
	old, err := Decode(strings.NewReader(firstV1Sample))
	if err != nil || old.Check() != nil || old.Counts.Disconnects == nil || old.Counts.Lost != 0 {
		t.Errorf("an older file: %v, Check %v, disconnects %v", err, old.Check(), old.Counts.Disconnects)
	}
	r.Counts.Lost++
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "lost 4") {
		t.Errorf("Check with lost off by one = %v; want the identity broken, naming lost", err)
	}
}

// Merge sums every new count and aligns timelines of 100 ms intervals on
// 100 ms.
func TestMergeNewCountsAndIntervals(t *testing.T) {
	t.Parallel()
	a, b := slowFixture.build(t), slowFixture.build(t)
	a.Label, b.Label = "a.json", "b.json"
	b.StartedAt = a.StartedAt.Add(200 * time.Millisecond)
	b.Counts.DrainTimeouts, b.Counts.DialFailures = 2, 1
	b.Counts.Disconnects["drain_timeout"] = 2
	b.Counts.StrayKinds["late"] = 1
	b.Counts.Strays++
	for _, r := range []*Result{a, b} {
		r.Config["interval"] = "100ms"
		for i := range r.Timeline {
			r.Timeline[i].TS = float64(i+1) / 10
		}
		r.DurationS = 1
	}
	m, warnings, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	c := m.Counts
	if c.Lost != 6 || c.DrainTimeouts != 2 || c.DialFailures != 1 || c.Strays != 11 ||
		!maps.Equal(c.Disconnects, map[string]uint64{"stream_error:internal-server-error": 6, "eof": 2, "drain_timeout": 2}) ||
		!maps.Equal(c.StrayKinds, map[string]uint64{"duplicate": 10, "late": 1}) {
		t.Errorf("merged counts %+v", c)
	}
	if err := m.Check(); err != nil {
		t.Errorf("merged Check = %v", err)
	}
	// b starts 0.2 s later: its point i lands on a's point i+2.
	if len(m.Timeline) != 12 {
		t.Fatalf("merged timeline has %d points; want 12", len(m.Timeline))
	}
	for i, pt := range m.Timeline {
		var want TimelinePoint
		want.TS = float64(i+1) / 10
		for _, src := range []struct {
			r *Result
			k int
		}{{a, i}, {b, i - 2}} {
			if src.k < 0 || src.k >= len(src.r.Timeline) {
				continue
			}
			p := src.r.Timeline[src.k]
			want.Sent += p.Sent
			want.Acked += p.Acked
			want.Nacked += p.Nacked
			want.Pending += p.Pending
			want.PendingPeak += p.PendingPeak
			want.Disconnects += p.Disconnects
			want.P99US = max(want.P99US, p.P99US)
			want.RP99US = max(want.RP99US, p.RP99US)
		}
		if pt != want {
			t.Errorf("merged timeline[%d] = %+v; want %+v", i, pt, want)
		}
	}

	b.Config["interval"] = "1s"
	_, warnings, err = Merge(a, b)
	if err != nil || !strings.Contains(strings.Join(warnings, "\n"), "different intervals (a.json 0.1s, b.json 1s); merged in intervals of 1s") {
		t.Errorf("Merge of 100 ms and 1 s timelines: %v, warnings %q; want one about the intervals", err, warnings)
	}
	delete(a.Config, "interval")
	if got := runStep(a); got != 0.1 {
		t.Errorf("runStep without the interval setting = %v; want 0.1 from the timeline", got)
	}
}

// Compare shows the counts of what went wrong, worse or better, never a
// regression; gates test them.
func TestCompareAndGateCounts(t *testing.T) {
	t.Parallel()
	base, next := baseFixture.build(t), slowFixture.build(t)
	next.Counts.DrainTimeouts = 2
	c := Compare([]*Result{base}, []*Result{next}, DefaultThresholds)
	verdicts := map[string]Verdict{}
	for _, row := range c.Rows {
		verdicts[row.Metric] = row.Verdict
	}
	for metric, want := range map[string]Verdict{"lost": VerdictWorse, "disconnects": VerdictWorse, "drain_timeouts": VerdictWorse, "strays": VerdictWorse, "unresolved": VerdictSame} {
		if verdicts[metric] != want {
			t.Errorf("Compare %s = %q; want %q", metric, verdicts[metric], want)
		}
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "drain timeouts") || !strings.Contains(buf.String(), "+4") {
		t.Errorf("comparison lacks the counts:\n%s", buf.String())
	}
	g, err := ParseGate("lost==0,disconnects<5,drain_timeouts==0,strays<=5")
	if err != nil {
		t.Fatal(err)
	}
	got := g.Evaluate(next)
	for i, want := range []bool{false, true, false, true} {
		if got[i].Pass != want {
			t.Errorf("gate %s on lost 3, disconnects 4, drain timeouts 2, strays 5: pass %v; want %v", got[i].Expr, got[i].Pass, want)
		}
	}
}
