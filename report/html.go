package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// htmlTable is a table of the HTML report (first column left-aligned by CSS).
type htmlTable struct {
	Header []string
	Rows   [][]htmlCell
}

// htmlCell is one cell; Class styles it (e.g. "fail").
type htmlCell struct {
	Text  string
	Class string
}

// htmlRun is one run's header block.
type htmlRun struct {
	Name     string
	Color    string
	Headline string
	Config   []string
	Warning  string
	Gates    *htmlTable
	GateLine string
	GateFail bool
}

// htmlChart is one inlined chart, or a note when there was nothing to plot.
type htmlChart struct {
	Title string
	SVG   template.HTML
	Note  string
}

// htmlPage is the data of the HTML template.
type htmlPage struct {
	Runs        []htmlRun
	Summary     htmlTable
	Latency     htmlTable
	Nacks       *htmlTable
	Disconnects *htmlTable
	Charts      []htmlChart
}

// cssColor renders a colour as #rrggbb.
func cssColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// plainCells wraps strings as unstyled cells.
func plainCells(ss ...string) []htmlCell {
	out := make([]htmlCell, len(ss))
	for i, s := range ss {
		out[i] = htmlCell{Text: s}
	}
	return out
}

// WriteHTML writes a single self-contained HTML page reporting one or more
// results: the tables of WriteMarkdown plus SVG charts drawn with
// gonum.org/v1/plot and inlined: the latency percentile spectrum of service
// and response time on HdrHistogram's 1/(1-q) axis, and over time:
// throughput, NACKs, pending messages (peak and end of each interval),
// service and response p99 per interval, and disconnects. A chart with
// nothing to show (no NACKs, say) is one line of text instead. Several
// results are overlaid, one colour per run, with a legend. The page loads
// nothing from the network (no scripts, fonts or styles from elsewhere).
func WriteHTML(w io.Writer, results ...*Result) error {
	if len(results) == 0 {
		return errors.New("report: no results to report")
	}
	names := labels(results)
	page := htmlPage{}

	for i, r := range results {
		run := htmlRun{Name: names[i], Color: cssColor(runColor(i)), Headline: headline(r), Config: configPairs(r.Config)}
		if err := r.Check(); err != nil {
			run.Warning = strings.ReplaceAll(err.Error(), "\n", "; ")
		}
		if len(r.Gates) > 0 {
			gt := &htmlTable{Header: []string{"gate", "measured", "verdict"}}
			failed := 0
			for _, g := range r.Gates {
				cls := "pass"
				if !g.Pass {
					cls = "fail"
					failed++
				}
				gt.Rows = append(gt.Rows, []htmlCell{{Text: g.Expr}, {Text: g.MeasuredString()}, {Text: g.Verdict(), Class: cls}})
			}
			run.Gates = gt
			run.GateFail = failed > 0
			run.GateLine = "all " + strconv.Itoa(len(r.Gates)) + " gates passed"
			if failed > 0 {
				run.GateLine = strconv.Itoa(failed) + " of " + strconv.Itoa(len(r.Gates)) + " gates failed"
			}
		}
		page.Runs = append(page.Runs, run)
	}

	page.Summary.Header = append([]string{""}, names...)
	for _, row := range summaryRowsFor(results) {
		cells := plainCells(row.name)
		for _, r := range results {
			c := htmlCell{Text: row.f(r)}
			if c.Text == "BROKEN" {
				c.Class = "fail"
			}
			cells = append(cells, c)
		}
		page.Summary.Rows = append(page.Summary.Rows, cells)
	}

	page.Latency.Header = []string{"percentile"}
	for _, n := range names {
		if len(results) == 1 {
			page.Latency.Header = append(page.Latency.Header, "service", "response")
		} else {
			page.Latency.Header = append(page.Latency.Header, "service "+n, "response "+n)
		}
	}
	for _, row := range percentileRows {
		cells := plainCells(row.name)
		for _, r := range results {
			cells = append(cells, plainCells(formatUS(row.f(r.LatencyUS.Service)), formatUS(row.f(r.LatencyUS.Response)))...)
		}
		page.Latency.Rows = append(page.Latency.Rows, cells)
	}

	page.Nacks = keyedTable("code", names, nackRows(results))
	page.Disconnects = keyedTable("cause", names, disconnectRows(results))

	charts, err := htmlCharts(names, results)
	if err != nil {
		return err
	}
	page.Charts = charts

	return writeHTML(w, htmlTemplate, page)
}

// writeHTML renders tmpl with data and writes the page to w in one write.
func writeHTML(w io.Writer, tmpl *template.Template, data any) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("report: rendering HTML: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing HTML: %w", err)
	}
	return nil
}

// keyedTable is the HTML table of counts by key, nil without rows.
func keyedTable(column string, names []string, rows []keyedRow) *htmlTable {
	if len(rows) == 0 {
		return nil
	}
	t := &htmlTable{Header: append([]string{column}, names...)}
	for _, row := range rows {
		cells := plainCells(row.key)
		for _, n := range row.counts {
			cells = append(cells, htmlCell{Text: formatCount(n)})
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// htmlCharts renders every chart of the HTML report.
func htmlCharts(names []string, results []*Result) ([]htmlChart, error) {
	var charts []htmlChart
	for _, kind := range []struct {
		title string
		enc   func(r *Result) string
	}{
		{"Service time percentile spectrum (ack − actual send)", func(r *Result) string { return r.Histograms.Service }},
		{"Response time percentile spectrum (ack − intended send)", func(r *Result) string { return r.Histograms.Response }},
	} {
		hists := make([]*hdrhistogram.Histogram, len(results))
		for i, r := range results {
			s := kind.enc(r)
			if s == "" {
				continue
			}
			h, err := DecodeHistogram(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", names[i], err)
			}
			hists[i] = h
		}
		svg, err := spectrumChart(kind.title, names, hists)
		if err != nil {
			return nil, err
		}
		charts = append(charts, chartOrNote(kind.title, svg, "no latency recorded"))
	}

	hasTimeline := false
	for _, r := range results {
		hasTimeline = hasTimeline || len(r.Timeline) > 0
	}
	for _, tc := range []struct {
		title, yLabel, empty string
		lines                []timeLine
		scale                float64
	}{
		{"Throughput", "acked messages/s", "no message was acked",
			[]timeLine{{val: perSecond(func(p TimelinePoint) uint64 { return p.Acked })}}, 1},
		{"NACKs", "NACKs/s", "no NACKs",
			[]timeLine{{val: perSecond(func(p TimelinePoint) uint64 { return p.Nacked })}}, 1},
		{"Pending messages", "messages without an answer", "no message was ever pending", []timeLine{
			// The peak is at least the count at the end (files from before
			// the peak was kept have it 0).
			{" peak", func(p TimelinePoint, _ float64) (float64, bool) { return float64(max(p.PendingPeak, p.Pending)), true }, false},
			{" at end of interval", func(p TimelinePoint, _ float64) (float64, bool) { return float64(p.Pending), true }, true},
		}, 1},
		{"Latency p99 per interval", "p99 (ms)", "no message was acked", []timeLine{
			{" service", func(p TimelinePoint, _ float64) (float64, bool) { return p.P99US, true }, false},
			{" response", func(p TimelinePoint, _ float64) (float64, bool) { return p.RP99US, true }, true},
		}, 1e3},
		{"Disconnects", "disconnects per interval", "no disconnects",
			[]timeLine{{val: func(p TimelinePoint, _ float64) (float64, bool) { return float64(p.Disconnects), true }}}, 1},
	} {
		if !hasTimeline {
			charts = append(charts, htmlChart{Title: tc.title, Note: "no timeline recorded"})
			continue
		}
		svg, err := timeChart(tc.title, tc.yLabel, names, results, tc.lines, tc.scale)
		if err != nil {
			return nil, err
		}
		charts = append(charts, chartOrNote(tc.title, svg, tc.empty))
	}
	return charts, nil
}

// chartOrNote wraps an SVG chart, or a note when svg is nil.
func chartOrNote(title string, svg []byte, note string) htmlChart {
	if svg == nil {
		return htmlChart{Title: title, Note: note}
	}
	// The SVG comes from our own renderer, which escapes all text it draws.
	return htmlChart{Title: title, SVG: template.HTML(svg)}
}

// htmlTemplate is the page. It must never reference anything outside itself.
var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ccsbench report</title>
<style>
{{template "style"}}</style>
</head>
<body>
<h1>ccsbench report</h1>
{{range .Runs}}<div class="run">
<div><span class="swatch" style="background: {{.Color}}"></span><strong>{{.Name}}</strong>: {{.Headline}}</div>
{{if .Config}}<div class="config">config:{{range .Config}} <code>{{.}}</code>{{end}}</div>{{end}}
{{if .Warning}}<div class="warning">Warning: {{.Warning}}</div>{{end}}
</div>
{{end}}
<h2>Summary</h2>
{{template "table" .Summary}}
<h2>Latency</h2>
{{template "table" .Latency}}
<p class="note">Service time: ack − actual send. Response time: ack − intended send (corrected for coordinated omission).</p>
<h2>NACKs by code</h2>
{{if .Nacks}}{{template "table" .Nacks}}{{else}}<p>No NACKs.</p>{{end}}
<h2>Disconnects by cause</h2>
{{if .Disconnects}}{{template "table" .Disconnects}}{{else}}<p>No disconnects.</p>{{end}}
{{range .Runs}}{{if .Gates}}<h2>Gates: {{.Name}}</h2>
<p{{if .GateFail}} class="warning"{{end}}>{{.GateLine}}</p>
{{template "table" .Gates}}
{{end}}{{end}}
<h2>Charts</h2>
{{range .Charts}}<figure>
{{if .SVG}}{{.SVG}}{{else}}<figcaption>{{.Title}}: <span class="note">{{.Note}}</span></figcaption>{{end}}
</figure>
{{end}}
</body>
</html>
{{define "table"}}<table>
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{end}}{{define "style"}}body { font-family: -apple-system, "Segoe UI", "Liberation Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .3em .8em; border: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
tr:nth-child(even) td { background: #fafafa; }
td.fail { color: #b00020; font-weight: bold; }
td.pass { color: #1b5e20; }
.run { margin: .8em 0; }
.swatch { display: inline-block; width: 1em; height: 1em; border-radius: 2px; vertical-align: -.15em; margin-right: .4em; }
.config code { background: #f4f4f4; padding: 0 .25em; margin: 0 .15em; border-radius: 2px; font-size: .9em; line-height: 1.8; }
.warning { color: #b00020; font-weight: bold; }
.note { color: #666; font-style: italic; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
{{end}}`))
