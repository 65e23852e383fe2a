package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mdEscape makes s safe as plain text in a markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer(
		`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "\n", " ",
	).Replace(s)
}

// mdCode renders s as an inline code span that is safe in a table cell.
func mdCode(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// errWriter accumulates the first write error, so report writers can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

// printf writes formatted text unless an earlier write failed.
func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

// WriteMarkdown writes a report of one or more results in GitHub-flavoured
// markdown, fit for a pull-request comment: the configuration line of each
// run, a summary table (counts, rates, duration, accounting), the
// percentiles of service and response time, the NACKs by code, the
// disconnects by cause and the gate verdicts if any. Several results are
// shown side by side, one column per run.
func WriteMarkdown(w io.Writer, results ...*Result) error {
	if len(results) == 0 {
		return errors.New("report: no results to report")
	}
	var buf bytes.Buffer
	ew := &errWriter{w: &buf}
	names := labels(results)

	ew.printf("## ccsbench results\n\n")
	for i, r := range results {
		line := mdEscape(toolLine(r.Tool)) + ", target " + mdCode(nonEmpty(r.Target, "unknown"))
		if !r.StartedAt.IsZero() {
			line += ", started " + r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		line += ", measured " + formatSeconds(r.DurationS)
		ew.printf("- **%s**: %s", mdEscape(names[i]), line)
		if pairs := configPairs(r.Config); len(pairs) > 0 {
			codes := make([]string, len(pairs))
			for j, p := range pairs {
				codes[j] = mdCode(p)
			}
			ew.printf("<br>config: %s", strings.Join(codes, " "))
		}
		ew.printf("\n")
	}
	for i, r := range results {
		if err := r.Check(); err != nil {
			ew.printf("\n> **Warning** (%s): %s\n", mdEscape(names[i]), mdEscape(strings.ReplaceAll(err.Error(), "\n", "; ")))
		}
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}

	ew.printf("\n### Summary\n\n")
	header := append([]string{""}, names...)
	t := newTable(&buf, true, header...)
	for _, row := range summaryRowsFor(results) {
		cells := []string{row.name}
		for _, r := range results {
			cells = append(cells, mdEscape(row.f(r)))
		}
		if err := appendRow(t, cells...); err != nil {
			return err
		}
	}
	if err := render(t); err != nil {
		return err
	}

	ew.printf("\n### Latency\n\n")
	header = []string{"percentile"}
	for _, n := range names {
		if len(results) == 1 {
			header = append(header, "service", "response")
		} else {
			header = append(header, "service "+n, "response "+n)
		}
	}
	t = newTable(&buf, true, header...)
	for _, row := range percentileRows {
		cells := []string{row.name}
		for _, r := range results {
			cells = append(cells, formatUS(row.f(r.LatencyUS.Service)), formatUS(row.f(r.LatencyUS.Response)))
		}
		if err := appendRow(t, cells...); err != nil {
			return err
		}
	}
	if err := render(t); err != nil {
		return err
	}
	ew.printf("\nService time: ack − actual send. Response time: ack − intended send (corrected for coordinated omission).\n")

	for _, kt := range []struct {
		title, column, none string
		rows                []keyedRow
	}{
		{"NACKs by code", "code", "No NACKs.", nackRows(results)},
		{"Disconnects by cause", "cause", "No disconnects.", disconnectRows(results)},
	} {
		ew.printf("\n### %s\n\n", kt.title)
		if len(kt.rows) == 0 {
			ew.printf("%s\n", kt.none)
			continue
		}
		t = newTable(&buf, true, append([]string{kt.column}, names...)...)
		for _, row := range kt.rows {
			cells := []string{mdCode(row.key)}
			for _, n := range row.counts {
				cells = append(cells, formatCount(n))
			}
			if err := appendRow(t, cells...); err != nil {
				return err
			}
		}
		if err := render(t); err != nil {
			return err
		}
	}

	if hasGates(results) {
		ew.printf("\n### Gates\n\n")
		for i, r := range results {
			if len(r.Gates) == 0 {
				continue
			}
			failed := 0
			for _, g := range r.Gates {
				if !g.Pass {
					failed++
				}
			}
			verdict := "all " + strconv.Itoa(len(r.Gates)) + " passed"
			if failed > 0 {
				verdict = "**" + strconv.Itoa(failed) + " of " + strconv.Itoa(len(r.Gates)) + " failed**"
			}
			ew.printf("%s: %s\n\n", mdEscape(names[i]), verdict)
			t = newTable(&buf, true, "gate", "measured", "verdict")
			for _, g := range r.Gates {
				v := "✅ pass"
				if !g.Pass {
					v = "❌ **FAIL**"
				}
				if err := appendRow(t, mdCode(g.Expr), mdEscape(g.MeasuredString()), v); err != nil {
					return err
				}
			}
			if err := render(t); err != nil {
				return err
			}
			ew.printf("\n")
		}
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	if _, err := w.Write(bytes.TrimRight(buf.Bytes(), "\n")); err != nil {
		return fmt.Errorf("report: writing markdown: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("report: writing markdown: %w", err)
	}
	return nil
}

// hasGates reports whether any result carries gate verdicts.
func hasGates(results []*Result) bool {
	for _, r := range results {
		if len(r.Gates) > 0 {
			return true
		}
	}
	return false
}

// nonEmpty returns s, or def when s is empty.
func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
