package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ccsbench/ccsbench/report"
)

func init() {
	register("report", "terminal, markdown or HTML report of results files", reportCmd)
}

const reportUsage = `Usage: ccsbench report RESULT.json... [--md FILE] [--html FILE]

Reads one or more results files (schema ccsbench.result/v1), or one or more
scorecards of ccsbench judge (schema ` + report.JudgeSchema + `). With no output flag it
prints the terminal summary of each. --md writes a markdown report fit for a
pull-request comment, --html a self-contained HTML page with charts; several
results are shown side by side and overlaid in the charts. Several
scorecards are shown side by side: rules as rows, clients as columns, and
the throughput of each scenario beside them. Results and scorecards do not
mix in one report. FILE "-" means standard output.

Exit status: 0 on success, 2 on bad usage or an unreadable or unwritable file.

Flags:
`

// reportCmd implements `ccsbench report`.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	md := fs.String("md", "", "write a markdown report to `FILE`")
	html := fs.String("html", "", "write an HTML report with charts to `FILE`")
	paths, code, ok := rptParse(fs, args, reportUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		return rptFail(stderr, "report", errors.New("no results file given (usage: ccsbench report RESULT.json... [--md FILE] [--html FILE])"))
	}
	results, judgements, err := rptReadAny(paths)
	if err != nil {
		return rptFail(stderr, "report", err)
	}
	if len(judgements) > 0 {
		if len(results) > 0 {
			return rptFail(stderr, "report", errors.New("results files and judge scorecards do not mix in one report"))
		}
		return judgeReport(judgements, *md, *html, stdout, stderr)
	}
	for _, r := range results {
		if err := r.Check(); err != nil {
			rptWarn(stderr, "report", fmt.Errorf("%s: %w", r.Label, err))
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
				return rptFail(stderr, "report", err)
			}
		}
		return 0
	}
	if *md != "" {
		if err := rptWriteTo(*md, stdout, func(w io.Writer) error { return report.WriteMarkdown(w, results...) }); err != nil {
			return rptFail(stderr, "report", err)
		}
	}
	if *html != "" {
		if err := rptWriteTo(*html, stdout, func(w io.Writer) error { return report.WriteHTML(w, results...) }); err != nil {
			return rptFail(stderr, "report", err)
		}
	}
	return 0
}

// rptParse parses flags that may come before, between or after the
// positional arguments, as `ccsbench report a.json --md out.md` needs. It
// returns the positional arguments, or ok=false with the exit code: 0 after
// printing help for -h, 2 after a one-line error.
func rptParse(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (positional []string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, 0, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "ccsbench %s: %v (see ccsbench %s -h)\n", fs.Name(), err, fs.Name())
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// judgeReport reports judge scorecards: the terminal scorecard without an
// output flag, else the markdown and HTML asked for.
func judgeReport(js []*report.Judgement, md, html string, stdout, stderr io.Writer) int {
	if md == "" && html == "" {
		if err := report.WriteScorecard(stdout, js...); err != nil {
			return rptFail(stderr, "report", err)
		}
		return 0
	}
	if md != "" {
		if err := rptWriteTo(md, stdout, func(w io.Writer) error { return report.WriteJudgeMarkdown(w, js...) }); err != nil {
			return rptFail(stderr, "report", err)
		}
	}
	if html != "" {
		if err := rptWriteTo(html, stdout, func(w io.Writer) error { return report.WriteJudgeHTML(w, js...) }); err != nil {
			return rptFail(stderr, "report", err)
		}
	}
	return 0
}

// rptPaths splits comma-separated lists of paths.
func rptPaths(paths []string) []string {
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

// rptReadResults reads results files, each labelled with its path.
func rptReadResults(paths []string) ([]*report.Result, error) {
	var out []*report.Result
	for _, p := range rptPaths(paths) {
		r, err := report.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// rptReadAny reads results files and judge scorecards, telling them apart
// by their schema, each labelled with its path.
func rptReadAny(paths []string) ([]*report.Result, []*report.Judgement, error) {
	var results []*report.Result
	var judgements []*report.Judgement
	for _, p := range rptPaths(paths) {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("report: %w", err)
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

// rptWriteTo renders with fn and writes the output to path ("-" is stdout).
// The file is only touched when rendering succeeded.
func rptWriteTo(path string, stdout io.Writer, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return err
	}
	if path == "-" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return nil
}

// rptFail prints err as one line on stderr and returns exit status 2.
func rptFail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "ccsbench %s: %s\n", cmd, rptOneLine(err))
	return 2
}

// rptWarn prints a one-line warning on stderr.
func rptWarn(stderr io.Writer, cmd string, err error) {
	fmt.Fprintf(stderr, "ccsbench %s: warning: %s\n", cmd, rptOneLine(err))
}

// rptOneLine flattens a (possibly joined) error into one line and drops the
// package prefix "report: " that the command name already gives.
func rptOneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	s = strings.ReplaceAll(s, ": report: ", ": ")
	s = strings.ReplaceAll(s, "; report: ", "; ")
	return strings.TrimPrefix(s, "report: ")
}
