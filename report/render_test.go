package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// gatedPair returns the two fixture results, the second with gate verdicts.
func gatedPair(t *testing.T) (*Result, *Result) {
	t.Helper()
	a, b := baseFixture.build(t), slowFixture.build(t)
	g, err := ParseGate("p99<2ms,rate>4900,unresolved==0,rp999<=10ms")
	if err != nil {
		t.Fatal(err)
	}
	b.Gates = g.Evaluate(b)
	return a, b
}

func TestWriteSummaryGolden(t *testing.T) {
	t.Parallel()
	_, b := gatedPair(t)
	var buf bytes.Buffer
	if err := WriteSummary(&buf, b); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"p99.9", "1.32 ms", "BAD_REGISTRATION", "4,600.0/s", "api-key=REDACTED", "FAIL", "reconnects", "receipts", "upstream", "draining"} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteSummary lacks %q", want)
		}
	}
	if strings.Contains(out, "sekrit") {
		t.Errorf("WriteSummary prints the API key")
	}
	golden(t, "summary.txt", buf.Bytes())
}

func TestWriteSummaryBrokenAccounting(t *testing.T) {
	t.Parallel()
	r := baseFixture.build(t)
	r.Counts.Messages++
	var buf bytes.Buffer
	if err := WriteSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "WARNING: report: accounting identity broken") || !strings.Contains(buf.String(), "BROKEN") {
		t.Errorf("WriteSummary of broken accounting lacks the warning:\n%s", buf.String())
	}
}

func TestWriteMarkdownGolden(t *testing.T) {
	t.Parallel()
	a, b := gatedPair(t)
	var one, two bytes.Buffer
	if err := WriteMarkdown(&one, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&two, a, b); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{one.String(), two.String()} {
		if strings.Contains(out, "sekrit") {
			t.Errorf("markdown prints the API key")
		}
		// Every table row has the same number of unescaped pipes as its header.
		checkMarkdownTables(t, out)
	}
	if !strings.Contains(two.String(), "❌ **FAIL**") || !strings.Contains(two.String(), "**2 of 4 failed**") {
		t.Errorf("two-run markdown lacks the gate verdicts")
	}
	if !strings.Contains(one.String(), "| service | response |") {
		t.Errorf("one-run markdown lacks the latency header")
	}
	golden(t, "report-one.md", one.Bytes())
	golden(t, "report-two.md", two.Bytes())
}

// checkMarkdownTables verifies that every row of every table has as many
// cells as its header.
func checkMarkdownTables(t *testing.T, md string) {
	t.Helper()
	unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
	cols := -1
	for line := range strings.SplitSeq(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = -1
			continue
		}
		n := len(unescapedPipe.FindAllString(line, -1))
		if cols < 0 {
			cols = n
		} else if n != cols {
			t.Errorf("markdown table row has %d separators, header %d: %q", n, cols, line)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	t.Parallel()
	r := baseFixture.build(t)
	r.Label = "a|b<script>.json"
	r.Config["weird"] = "x|y`z"
	r.Counts.Nacks = map[string]uint64{"CODE|X": r.Counts.Nacked}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "<script>") {
		t.Errorf("markdown contains raw HTML from a label")
	}
	checkMarkdownTables(t, out)
}

func TestWriteHTMLGolden(t *testing.T) {
	t.Parallel()
	a, b := gatedPair(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, a, b); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	checkOffline(t, out)
	for _, want := range []string{
		"<svg", "percentile spectrum", "99.9%", "99.99%", "Throughput", "NACKs", "Pending messages", "new.json peak",
		"Latency p99 per interval", "new.json response", "Disconnects", "stream_error:internal-server-error",
		"base.json", "new.json", "BAD_REGISTRATION", "2 of 4 gates failed", "#0072b2", "#d55e00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteHTML lacks %q", want)
		}
	}
	if n := strings.Count(out, "<svg"); n != 7 {
		t.Errorf("WriteHTML has %d charts; want 7", n)
	}
	if strings.Contains(out, "sekrit") {
		t.Errorf("HTML prints the API key")
	}
	golden(t, "report-two.html", buf.Bytes())
}

// checkOffline fails if the page refers to anything outside itself.
func checkOffline(t *testing.T, page string) {
	t.Helper()
	for _, bad := range []string{"<script", "<link", "@import", "src=", "url(", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML report contains %q: it must work offline", bad)
		}
	}
	// Namespaces in SVG are identifiers, not fetched.
	rest := strings.NewReplacer("http://www.w3.org/2000/svg", "", "http://www.w3.org/1999/xlink", "").Replace(page)
	if strings.Contains(rest, "http://") {
		i := strings.Index(rest, "http://")
		t.Errorf("HTML report refers to %q", rest[i:min(len(rest), i+60)])
	}
}

func TestWriteHTMLEdgeCases(t *testing.T) {
	t.Parallel()
	empty := &Result{Label: "empty<b>.json"}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, empty); err != nil {
		t.Fatalf("WriteHTML(empty result) = %v", err)
	}
	out := buf.String()
	checkOffline(t, out)
	if strings.Contains(out, "<b>") || !strings.Contains(out, "empty&lt;b&gt;.json") {
		t.Errorf("WriteHTML does not escape labels")
	}
	if !strings.Contains(out, "no latency recorded") || !strings.Contains(out, "no timeline recorded") || !strings.Contains(out, "No NACKs.") {
		t.Errorf("WriteHTML(empty) lacks its notes")
	}
	if err := WriteHTML(&buf); err == nil {
		t.Errorf("WriteHTML() with no results = nil; want an error")
	}
	if err := WriteMarkdown(&buf); err == nil {
		t.Errorf("WriteMarkdown() with no results = nil; want an error")
	}
	bad := &Result{Histograms: Histograms{Service: "garbage"}}
	if err := WriteHTML(&buf, bad); err == nil {
		t.Errorf("WriteHTML(undecodable histogram) = nil; want an error")
	}
}

func TestFormatters(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{
		0: "0 µs", 7: "7 µs", 419: "419 µs", 999.4: "999 µs", 999.6: "1.00 ms", 1336: "1.34 ms", 12_345: "12.3 ms",
		999_700: "1.00 s", 2_500_000: "2.50 s", 474.63: "475 µs", 8.42: "8.42 µs", -1500: "-1.50 ms",
	} {
		if got := formatUS(in); got != want {
			t.Errorf("formatUS(%v) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", 100000: "100,000"} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0.0/s", 4999.96: "5,000.0/s", -12.34: "-12.3/s", 1234567.89: "1,234,567.9/s"} {
		if got := formatRate(in); got != want {
			t.Errorf("formatRate(%v) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.000239: "0.024%", 0.05: "5.00%", 0.5: "50.0%"} {
		if got := formatShare(in); got != want {
			t.Errorf("formatShare(%v) = %q; want %q", in, got, want)
		}
	}
	for i, want := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		if got := spectrumLabel(i); got != want {
			t.Errorf("spectrumLabel(%d) = %q; want %q", i, got, want)
		}
	}
	names := labels([]*Result{{Label: "a"}, {}, {Label: "a"}})
	if strings.Join(names, ",") != "a,run 2,a (2)" {
		t.Errorf("labels = %q", names)
	}
}
