package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ccsbench/ccsbench/report"
)

const reportUsage = `Usage: ccsbench report RESULT.json... [--md FILE] [--html FILE]

Reads one or more results files (schema ccsbench.result/v1), or one or more
scorecards of ccsbench judge (schema ` + report.JudgeSchema + `). With no output flag it
prints the terminal summary of each. --md writes a markdown report fit for a
pull-request comment, --html a self-contained HTML page with charts; several
results are shown side by side and overlaid in the charts. Several
scorecards are shown side by side: rules as rows, clients as columns, and
the throughput of each scenario beside them. Results and scorecards do not
mix in one report. FILE "-" means standard output (one of --md and --html
at most).

Exit status: 0 on success, 2 on bad usage or an unreadable or unwritable file.

Flags:
`

// reportCmd implements `ccsbench report`.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	md := fs.String("md", "", "write a markdown report to `FILE` (- for standard output)")
	html := fs.String("html", "", "write an HTML report with charts to `FILE` (- for standard output)")
	paths, code, ok := parseFlags(fs, args, interspersed, func(w io.Writer) { fmt.Fprint(w, reportUsage) }, stdout, stderr)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		return fail(stderr, "report", exitUsage, errors.New("no results file given (usage: ccsbench report RESULT.json... [--md FILE] [--html FILE])"))
	}
	outs := []output{{"md", *md}, {"html", *html}}
	if err := checkOutputs(outs...); err != nil {
		return fail(stderr, "report", exitUsage, err)
	}
	results, judgements, err := readAny(paths)
	if err != nil {
		return fail(stderr, "report", exitUsage, err)
	}
	if len(judgements) > 0 {
		if len(results) > 0 {
			return fail(stderr, "report", exitUsage, errors.New("results files and judge scorecards do not mix in one report"))
		}
		return judgeReport(judgements, *md, *html, stdout, stderr)
	}
	for _, r := range results {
		if err := r.Check(); err != nil {
			warn(stderr, "report", fmt.Errorf("%s: %w", r.Label, err))
		}
	}
	if *md == "" && *html == "" {
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if len(results) > 1 {
				fmt.Fprintf(stdout, "== %s\n", r.Label)
			}
			if err := report.WriteSummary(stdout, r); err != nil {
				return fail(stderr, "report", exitUsage, err)
			}
		}
		return exitOK
	}
	if *md != "" {
		if err := writeOutput(*md, stdout, nil, func(w io.Writer) error { return report.WriteMarkdown(w, results...) }); err != nil {
			return fail(stderr, "report", exitUsage, err)
		}
	}
	if *html != "" {
		if err := writeOutput(*html, stdout, nil, func(w io.Writer) error { return report.WriteHTML(w, results...) }); err != nil {
			return fail(stderr, "report", exitUsage, err)
		}
	}
	return exitOK
}

// judgeReport reports judge scorecards: the terminal scorecard without an
// output flag, else the markdown and HTML asked for.
func judgeReport(js []*report.Judgement, md, html string, stdout, stderr io.Writer) int {
	if md == "" && html == "" {
		if err := report.WriteScorecard(stdout, js...); err != nil {
			return fail(stderr, "report", exitUsage, err)
		}
		return exitOK
	}
	if md != "" {
		if err := writeOutput(md, stdout, nil, func(w io.Writer) error { return report.WriteJudgeMarkdown(w, js...) }); err != nil {
			return fail(stderr, "report", exitUsage, err)
		}
	}
	if html != "" {
		if err := writeOutput(html, stdout, nil, func(w io.Writer) error { return report.WriteJudgeHTML(w, js...) }); err != nil {
			return fail(stderr, "report", exitUsage, err)
		}
	}
	return exitOK
}

// splitPaths splits comma-separated lists of paths.
func splitPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		for q := range strings.SplitSeq(p, ",") {
			if q != "" {
				out = append(out, q)
			}
		}
	}
	return out
}

// readResults reads results files, each labelled with its path.
func readResults(paths []string) ([]*report.Result, error) {
	var out []*report.Result
	for _, p := range splitPaths(paths) {
		r, err := report.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// readAny reads results files and judge scorecards, telling them apart by
// their schema, each labelled with its path.
func readAny(paths []string) ([]*report.Result, []*report.Judgement, error) {
	var results []*report.Result
	var judgements []*report.Judgement
	for _, p := range splitPaths(paths) {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		if report.IsJudgeSchema(report.PeekSchema(data)) {
			j, err := report.ReadJudgementFile(p)
			if err != nil {
				return nil, nil, err
			}
			judgements = append(judgements, j)
			continue
		}
		r, err := report.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		results = append(results, r)
	}
	return results, judgements, nil
}
