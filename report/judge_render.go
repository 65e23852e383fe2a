package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// judgeNames returns a column name for each judgement: its client's name,
// or its Label when two judgements name the same client; "client N" when
// neither is set.
func judgeNames(js []*Judgement) []string {
	seen := map[string]int{}
	for _, j := range js {
		seen[j.Client.Name]++
	}
	out := make([]string, len(js))
	for i, j := range js {
		n := j.Client.Name
		if n == "" || seen[n] > 1 {
			n = j.Label
		}
		if n == "" {
			n = "client " + strconv.Itoa(i+1)
		}
		out[i] = n
	}
	// Labels may repeat too (the same file twice): number them.
	count := map[string]int{}
	for i, n := range out {
		count[n]++
		if count[n] > 1 {
			out[i] = n + " (" + strconv.Itoa(count[n]) + ")"
		}
	}
	return out
}

// judgeHeadline describes one judgement in a line.
func judgeHeadline(j *Judgement) string {
	var b strings.Builder
	b.WriteString("client " + nonEmpty(j.Client.Name, "(unnamed)"))
	switch {
	case j.Client.InProcess:
		b.WriteString(" (built in, in process)")
	case len(j.Client.Command) > 0:
		b.WriteString(" (command: " + strings.Join(j.Client.Command, " ") + ")")
	}
	b.WriteString(", " + toolLine(Tool{Version: j.Tool.Version, Go: j.Tool.Go}))
	if n := len(j.Scenarios); n > 0 {
		b.WriteString(fmt.Sprintf(", %d scenario%s of %s messages", n, plural(n, "", "s"), formatCount(uint64(j.Scenarios[0].Messages))))
	}
	if !j.StartedAt.IsZero() {
		b.WriteString(", started " + j.StartedAt.UTC().Format(time.RFC3339))
	}
	b.WriteString(", took " + formatSeconds(j.DurationS))
	return b.String()
}

// verdictLine sums up the verdicts: "all 10 rules passed", "2 of 10 rules
// failed: window, drain-moves (1 skipped)".
func verdictLine(j *Judgement) string {
	run, skipped := 0, 0
	for _, r := range j.Rules {
		if r.Verdict == VerdictSkip {
			skipped++
		} else {
			run++
		}
	}
	skip := ""
	if skipped > 0 {
		skip = fmt.Sprintf(" (%d skipped)", skipped)
	}
	var line string
	if failed := j.Failed(); len(failed) > 0 {
		line = fmt.Sprintf("%d of %d rules failed: %s%s", len(failed), run, strings.Join(failed, ", "), skip)
	} else {
		line = fmt.Sprintf("all %d rules passed%s", run, skip)
	}
	if len(j.JudgeErrors) > 0 {
		line += fmt.Sprintf("; %d judge error%s (not the client's fault; the verdicts are unreliable)", len(j.JudgeErrors), plural(len(j.JudgeErrors), "", "s"))
	}
	return line
}

// VerdictLine sums up j's verdicts in one line, as the scorecard ends:
// "all 10 rules passed" or "2 of 10 rules failed: window, drain-moves".
func VerdictLine(j *Judgement) string { return verdictLine(j) }

// shownVerdict is a verdict as tables show it: failures in capitals.
func shownVerdict(v string) string {
	if v == VerdictFail {
		return "FAIL"
	}
	return v
}

// scenarioExit describes how the client ended a scenario.
func scenarioExit(s *JudgeScenario) string {
	if s.TimedOut {
		return "timeout"
	}
	return strconv.Itoa(s.Exit)
}

// short formats s as "p50 1.2 ms, p99 3 ms", or "-".
func (s *Spread) short() string {
	if s == nil || s.N == 0 {
		return "-"
	}
	return "p50 " + formatUS(s.P50) + ", p99 " + formatUS(s.P99)
}

// scenarioDetail lists what is particular to a scenario's measures.
func scenarioDetail(s *JudgeScenario) string {
	var parts []string
	if s.Drains > 0 {
		parts = append(parts, fmt.Sprintf("%d drain%s, next message elsewhere after %s", s.Drains, plural(int(s.Drains), "", "s"), s.DrainReactionUS.short()))
	}
	if s.Drops > 0 {
		parts = append(parts, fmt.Sprintf("%d drop%s", s.Drops, plural(int(s.Drops), "", "s")))
	}
	if s.ResendDelayUS != nil {
		parts = append(parts, "resent after "+s.ResendDelayUS.short())
	}
	if s.UpstreamSent > 0 {
		parts = append(parts, fmt.Sprintf("upstream %s of %s ACKed", formatCount(s.UpstreamAcked), formatCount(s.UpstreamSent)))
	}
	if s.ReceiptsSent > 0 {
		parts = append(parts, fmt.Sprintf("receipts %s of %s ACKed", formatCount(s.ReceiptsAcked), formatCount(s.ReceiptsSent)))
	}
	if s.UpstreamAckUS != nil {
		parts = append(parts, "ACKed after "+s.UpstreamAckUS.short())
	}
	if len(s.Nacks) > 0 {
		var n []string
		for _, k := range KeysByCount(s.Nacks) {
			n = append(n, displayKey(k)+" "+formatCount(s.Nacks[k]))
		}
		parts = append(parts, "NACKs: "+strings.Join(n, ", "))
	}
	if s.WindowViolations > 0 {
		parts = append(parts, fmt.Sprintf("%s window violations", formatCount(s.WindowViolations)))
	}
	return strings.Join(parts, "; ")
}

// scenarioColumns are the columns of the scenario tables.
var scenarioColumns = []string{"scenario", "exit", "time", "conns", "ids", "acked/s", "max pending", "detail"}

// scenarioCells returns the cells of one scenario's row.
func scenarioCells(s *JudgeScenario) []string {
	return []string{s.Name, scenarioExit(s), formatSeconds(s.DurationS), formatCount(s.Connections),
		formatCount(s.UniqueIDs) + " of " + formatCount(uint64(s.Messages)), formatRate(s.AckedPerS),
		formatCount(s.MaxPending), scenarioDetail(s)}
}

// firstSeen returns the keys that key gives the items of every
// judgement, each once, in the order first seen.
func firstSeen[T any](js []*Judgement, items func(*Judgement) []T, key func(*T) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, j := range js {
		list := items(j)
		for i := range list {
			if k := key(&list[i]); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// ruleIDs returns the rule ids of every judgement, in first-seen order.
func ruleIDs(js []*Judgement) []string {
	return firstSeen(js, func(j *Judgement) []JudgeRule { return j.Rules }, func(r *JudgeRule) string { return r.ID })
}

// scenarioNames returns the scenario names of every judgement, in
// first-seen order.
func scenarioNames(js []*Judgement) []string {
	return firstSeen(js, func(j *Judgement) []JudgeScenario { return j.Scenarios }, func(s *JudgeScenario) string { return s.Name })
}

// rule returns j's verdict of rule id, or nil.
func (j *Judgement) rule(id string) *JudgeRule {
	for i := range j.Rules {
		if j.Rules[i].ID == id {
			return &j.Rules[i]
		}
	}
	return nil
}

// sideBySide returns the rows of the side-by-side tables: rules by
// client (verdicts), and acked/s by scenario and client.
func sideBySide(js []*Judgement) (rules, rates [][]string) {
	for _, id := range ruleIDs(js) {
		row := []string{id}
		for _, j := range js {
			v := "-"
			if r := j.rule(id); r != nil {
				v = shownVerdict(r.Verdict)
			}
			row = append(row, v)
		}
		rules = append(rules, row)
	}
	for _, name := range scenarioNames(js) {
		row := []string{name}
		for _, j := range js {
			v := "-"
			if s := j.Scenario(name); s != nil {
				v = formatRate(s.AckedPerS)
				if s.TimedOut {
					v += " (timeout)"
				}
			}
			row = append(row, v)
		}
		rates = append(rates, row)
	}
	return rules, rates
}

// WriteScorecard writes the terminal scorecard of one or more
// judgements. One: a headline, the rules with verdict and evidence, the
// scenarios with their measures, and a verdict line. Several: the
// headlines, the verdicts side by side (rules as rows, clients as
// columns), acked/s by scenario side by side, then each client's
// evidence.
func WriteScorecard(w io.Writer, js ...*Judgement) error {
	if len(js) == 0 {
		return errors.New("report: no scorecard to report")
	}
	ew := &errWriter{w: w}
	names := judgeNames(js)
	if len(js) > 1 {
		for i, j := range js {
			ew.printf("%s: %s\n", names[i], judgeHeadline(j))
		}
		rules, rates := sideBySide(js)
		if err := textTable(ew, append([]string{"rule"}, names...), rules, seq(1, len(names))...); err != nil {
			return err
		}
		if err := textTable(ew, append([]string{"acked/s"}, names...), rates); err != nil {
			return err
		}
	}
	for i, j := range js {
		if len(js) > 1 {
			ew.printf("\n== %s\n", names[i])
		} else {
			ew.printf("%s\n", judgeHeadline(j))
		}
		var rows [][]string
		for _, r := range j.Rules {
			rows = append(rows, []string{r.ID, shownVerdict(r.Verdict), r.Evidence})
		}
		if err := textTable(ew, []string{"rule", "verdict", "evidence"}, rows, 1, 2); err != nil {
			return err
		}
		rows = rows[:0]
		for k := range j.Scenarios {
			rows = append(rows, scenarioCells(&j.Scenarios[k]))
		}
		if err := textTable(ew, scenarioColumns, rows, len(scenarioColumns)-1); err != nil {
			return err
		}
		for _, e := range j.JudgeErrors {
			ew.printf("JUDGE ERROR: %s\n", e)
		}
		ew.printf("%s: %s\n", nonEmpty(j.Client.Name, names[i]), verdictLine(j))
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	return nil
}

// textTable renders a terminal table into ew's writer (unless a write
// failed before); the columns in left are left-aligned, as the first.
func textTable(ew *errWriter, header []string, rows [][]string, left ...int) error {
	if ew.err != nil {
		return nil
	}
	t := newTableLeft(ew.w, false, left, header...)
	for _, r := range rows {
		if err := appendRow(t, r...); err != nil {
			return err
		}
	}
	return render(t)
}

// seq returns from, from+1, ..., to.
func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// mdTable writes a markdown table; every cell is escaped. The columns in
// left are left-aligned, as the first.
func mdTable(ew *errWriter, header []string, rows [][]string, left ...int) {
	esc := func(cells []string) string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = mdEscape(c)
		}
		return "| " + strings.Join(out, " | ") + " |\n"
	}
	ew.printf("%s", esc(header))
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = ":---"
	for _, i := range left {
		sep[i] = ":---"
	}
	ew.printf("|%s|\n", strings.Join(sep, "|"))
	for _, r := range rows {
		ew.printf("%s", esc(r))
	}
	ew.printf("\n")
}

// WriteJudgeMarkdown writes a markdown scorecard of one or more
// judgements, fit for a README or a pull request: each client's
// headline, the verdicts side by side (one column per client), acked/s
// by scenario side by side, and each client's evidence and measures.
func WriteJudgeMarkdown(w io.Writer, js ...*Judgement) error {
	if len(js) == 0 {
		return errors.New("report: no scorecard to report")
	}
	var buf bytes.Buffer
	ew := &errWriter{w: &buf}
	names := judgeNames(js)
	ew.printf("## ccsbench judge scorecard\n\n")
	for i, j := range js {
		ew.printf("- **%s**: %s; %s.\n", mdEscape(names[i]), mdEscape(judgeHeadline(j)), mdEscape(verdictLine(j)))
	}
	ew.printf("\n")
	rules, rates := sideBySide(js)
	mdTable(ew, append([]string{"rule"}, names...), rules, seq(1, len(names))...)
	ew.printf("### Throughput (ACKs written per second, first message to last answer)\n\n")
	mdTable(ew, append([]string{"scenario"}, names...), rates)
	for i, j := range js {
		ew.printf("### %s\n\n", mdEscape(names[i]))
		for _, e := range j.JudgeErrors {
			ew.printf("> **Judge error** (not the client's fault): %s\n\n", mdEscape(e))
		}
		var rows [][]string
		for _, r := range j.Rules {
			rows = append(rows, []string{r.ID, shownVerdict(r.Verdict), r.Evidence})
		}
		mdTable(ew, []string{"rule", "verdict", "evidence"}, rows, 1, 2)
		rows = rows[:0]
		for k := range j.Scenarios {
			rows = append(rows, scenarioCells(&j.Scenarios[k]))
		}
		mdTable(ew, scenarioColumns, rows, len(scenarioColumns)-1)
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing markdown: %w", err)
	}
	return nil
}

// judgePage is the data of the judge's HTML template.
type judgePage struct {
	Heads   []htmlRun
	Rules   htmlTable
	Rates   htmlTable
	Clients []judgeHTMLClient
}

// judgeHTMLClient is one client's section of the HTML scorecard.
type judgeHTMLClient struct {
	Name      string
	Verdict   string
	Failed    bool
	Errors    []string
	Evidence  htmlTable
	Scenarios htmlTable
}

// verdictCell styles a verdict.
func verdictCell(v string) htmlCell {
	c := htmlCell{Text: shownVerdict(v)}
	switch v {
	case VerdictPass:
		c.Class = "pass"
	case VerdictFail:
		c.Class = "fail"
	}
	return c
}

// WriteJudgeHTML writes a self-contained HTML page of one or more
// judgements: the tables of WriteJudgeMarkdown, verdicts coloured. It
// loads nothing from the network.
func WriteJudgeHTML(w io.Writer, js ...*Judgement) error {
	if len(js) == 0 {
		return errors.New("report: no scorecard to report")
	}
	names := judgeNames(js)
	var page judgePage
	for i, j := range js {
		page.Heads = append(page.Heads, htmlRun{Name: names[i], Color: cssColor(runColor(i)),
			Headline: judgeHeadline(j) + "; " + verdictLine(j) + "."})
	}
	page.Rules.Header = append([]string{"rule"}, names...)
	for _, id := range ruleIDs(js) {
		row := plainCells(id)
		for _, j := range js {
			c := htmlCell{Text: "-"}
			if r := j.rule(id); r != nil {
				c = verdictCell(r.Verdict)
			}
			row = append(row, c)
		}
		page.Rules.Rows = append(page.Rules.Rows, row)
	}
	_, rates := sideBySide(js)
	page.Rates.Header = append([]string{"scenario"}, names...)
	for _, r := range rates {
		page.Rates.Rows = append(page.Rates.Rows, plainCells(r...))
	}
	for i, j := range js {
		c := judgeHTMLClient{Name: names[i], Verdict: verdictLine(j), Failed: !j.Passed(), Errors: j.JudgeErrors}
		c.Evidence.Header = []string{"rule", "verdict", "evidence"}
		for _, r := range j.Rules {
			c.Evidence.Rows = append(c.Evidence.Rows, []htmlCell{{Text: r.ID}, verdictCell(r.Verdict), {Text: r.Evidence, Class: "text"}})
		}
		c.Scenarios.Header = scenarioColumns
		for k := range j.Scenarios {
			row := plainCells(scenarioCells(&j.Scenarios[k])...)
			row[len(row)-1].Class = "text"
			c.Scenarios.Rows = append(c.Scenarios.Rows, row)
		}
		page.Clients = append(page.Clients, c)
	}
	return writeHTML(w, judgeTemplate, page)
}

// judgeTemplate is the scorecard page; it shares the table template and
// style of the results report and references nothing outside itself.
var judgeTemplate = template.Must(template.Must(htmlTemplate.Clone()).New("judge").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ccsbench judge scorecard</title>
<style>
{{template "style"}}td.text { white-space: normal; text-align: left; }
</style>
</head>
<body>
<h1>ccsbench judge scorecard</h1>
{{range .Heads}}<div class="run"><span class="swatch" style="background: {{.Color}}"></span><strong>{{.Name}}</strong>: {{.Headline}}</div>
{{end}}
<h2>Rules</h2>
{{template "table" .Rules}}
<h2>Throughput</h2>
<p>ACKs written per second, from the first message read to the last answer written.</p>
{{template "table" .Rates}}
{{range .Clients}}<h2>{{.Name}}</h2>
<p{{if .Failed}} class="warning"{{end}}>{{.Verdict}}</p>
{{range .Errors}}<p class="warning">Judge error (not the client's fault): {{.}}</p>
{{end}}{{template "table" .Evidence}}
{{template "table" .Scenarios}}
{{end}}
</body>
</html>
`))
