package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// newTextTable returns a terminal table writing to w: headers as given (no
// upper-casing), the first column left-aligned and the others right-aligned.
func newTextTable(w io.Writer, header ...string) *tablewriter.Table {
	return newTable(w, false, header...)
}

// newTable builds a tablewriter table, in markdown when md is set.
func newTable(w io.Writer, md bool, header ...string) *tablewriter.Table {
	return newTableLeft(w, md, nil, header...)
}

// newTableLeft is newTable with the columns in left (besides the first)
// left-aligned too, for text such as evidence.
func newTableLeft(w io.Writer, md bool, left []int, header ...string) *tablewriter.Table {
	aligns := make([]tw.Align, len(header))
	for i := range aligns {
		aligns[i] = tw.AlignRight
	}
	aligns[0] = tw.AlignLeft
	for _, i := range left {
		aligns[i] = tw.AlignLeft
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
	}
	header = slices.Clone(header)
	if md {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		for i, h := range header {
			header[i] = mdEscape(h)
		}
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	return t
}

// appendRow adds one row of cells as given (markdown callers escape them).
func appendRow(t *tablewriter.Table, cells ...string) error {
	if err := t.Append(cells); err != nil {
		return fmt.Errorf("report: table: %w", err)
	}
	return nil
}

// render renders t, wrapping its error.
func render(t *tablewriter.Table) error {
	if err := t.Render(); err != nil {
		return fmt.Errorf("report: table: %w", err)
	}
	return nil
}

// headline is the one-line description of a run used atop every report.
func headline(r *Result) string {
	target := r.Target
	if target == "" {
		target = "(unknown target)"
	}
	parts := []string{toolLine(r.Tool), "target " + target}
	if !r.StartedAt.IsZero() {
		parts = append(parts, "started "+r.StartedAt.UTC().Format(time.RFC3339))
	}
	parts = append(parts, "measured "+formatSeconds(r.DurationS))
	return strings.Join(parts, ", ")
}

// WriteSummary writes the terminal summary of r to w: a headline, the
// configuration, a table of counts and rates, the NACKs by code and the
// disconnects by cause (one row each, at most 40 rows), the
// percentiles p50 p90 p99 p99.9 max and mean of service and response time
// with units, the gate verdicts if any, and a warning when the accounting
// identity is broken.
func WriteSummary(w io.Writer, r *Result) error {
	if _, err := fmt.Fprintf(w, "%s\n", headline(r)); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if pairs := configPairs(r.Config); len(pairs) > 0 {
		if _, err := fmt.Fprintf(w, "config: %s\n", strings.Join(pairs, " ")); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}

	counts := newTextTable(w, "counts", "value")
	for _, row := range summaryRowsFor([]*Result{r}) {
		if err := appendRow(counts, row.name, row.f(r)); err != nil {
			return err
		}
	}
	if err := render(counts); err != nil {
		return err
	}

	if rows := nackRows([]*Result{r}); len(rows) > 0 {
		nt := newTextTable(w, "NACK code", "count", "share of messages")
		for _, row := range rows {
			n := row.counts[0]
			share := "-"
			if r.Counts.Messages > 0 {
				share = formatShare(float64(n) / float64(r.Counts.Messages))
			}
			if err := appendRow(nt, row.key, formatCount(n), share); err != nil {
				return err
			}
		}
		if err := render(nt); err != nil {
			return err
		}
	}

	if rows := disconnectRows([]*Result{r}); len(rows) > 0 {
		dt := newTextTable(w, "disconnect cause", "count")
		for _, row := range rows {
			if err := appendRow(dt, row.key, formatCount(row.counts[0])); err != nil {
				return err
			}
		}
		if err := render(dt); err != nil {
			return err
		}
	}

	lt := newTextTable(w, "latency", "service", "response")
	for _, row := range percentileRows {
		if err := appendRow(lt, row.name, formatUS(row.f(r.LatencyUS.Service)), formatUS(row.f(r.LatencyUS.Response))); err != nil {
			return err
		}
	}
	if err := render(lt); err != nil {
		return err
	}

	if len(r.Gates) > 0 {
		gt := newTextTable(w, "gate", "measured", "verdict")
		for _, g := range r.Gates {
			if err := appendRow(gt, g.Expr, g.MeasuredString(), g.Verdict()); err != nil {
				return err
			}
		}
		if err := render(gt); err != nil {
			return err
		}
	}

	if err := r.Check(); err != nil {
		if _, werr := fmt.Fprintf(w, "WARNING: %v\n", strings.ReplaceAll(err.Error(), "\n", "; ")); werr != nil {
			return fmt.Errorf("report: %w", werr)
		}
	}
	return nil
}
