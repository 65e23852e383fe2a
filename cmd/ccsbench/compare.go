package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ccsbench/ccsbench/report"
)

const compareUsage = `Usage: ccsbench compare [flags] BASE.json NEW.json
       ccsbench compare [flags] --base a.json,b.json --new c.json,d.json

Compares the acked rate, every percentile of service and response time,
and the counts of what went wrong (unresolved, lost, disconnects, drain
timeouts, strays) of NEW against BASE, side by side with absolute and
relative change and a verdict per row. The counts are never a regression
by themselves: gate them (--gate "lost==0,disconnects==0"). A row regresses when it is worse beyond its threshold
(rate: --max-rate-drop, service and response p99: --max-p99-rise). With at
least two runs on both sides the medians are compared and a Mann-Whitney U
test must also find the difference significant at --alpha (as benchstat
does; a difference that is not significant is not a regression; with two
runs per side no difference can reach alpha 0.05, use four or more).
--gate applies gate expressions to each NEW result. With --md -, the
markdown goes to standard output and the table to standard error.

Exit status: 0 when nothing regressed and every gate passed, 1 on a
regression, 3 when only a gate failed, 2 on bad usage or unreadable input.

Flags:
`

// compareCmd implements `ccsbench compare`.
func compareCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	th := report.DefaultThresholds
	baseList := fs.String("base", "", "comma-separated base results `FILES`")
	newList := fs.String("new", "", "comma-separated new results `FILES`")
	fs.Var(&fractionFlag{&th.MaxRateDrop}, "max-rate-drop", "largest tolerated drop of the acked rate, `PCT` as 5% or 0.05, or off")
	fs.Var(&fractionFlag{&th.MaxP99Rise}, "max-p99-rise", "largest tolerated rise of service and response p99, `PCT` as 10% or 0.1, or off")
	fs.Float64Var(&th.Alpha, "alpha", th.Alpha, "significance level of the Mann-Whitney U test with several runs per side")
	var gate gateFlag
	fs.Var(&gate, "gate", "gate `EXPRS` applied to each NEW result, e.g. \"p99<5ms,rate>4900,unresolved==0\"")
	mdPath := fs.String("md", "", "also write the comparison as markdown to `FILE` (- for standard output)")
	format := fs.String("format", "table", "output `FORMAT`: table, or benchfmt (Go benchmark format for benchstat)")
	pos, code, ok := parseFlags(fs, args, interspersed, func(w io.Writer) { fmt.Fprint(w, compareUsage) }, stdout, stderr)
	if !ok {
		return code
	}
	usageErr := func(err error) int { return fail(stderr, "compare", exitUsage, err) }

	if *format != "table" && *format != "benchfmt" {
		return usageErr(fmt.Errorf("--format %q: want table or benchfmt", *format))
	}
	if th.Alpha <= 0 || th.Alpha >= 1 {
		return usageErr(fmt.Errorf("--alpha %v must be between 0 and 1", th.Alpha))
	}
	if *format == "benchfmt" && *mdPath == stdoutPath {
		return usageErr(errors.New("--format benchfmt and --md - both write to standard output"))
	}
	if err := checkOutputs(output{"md", *mdPath}); err != nil {
		return usageErr(err)
	}
	base, newer, err := compareSides(pos, *baseList, *newList)
	if err != nil {
		return usageErr(err)
	}
	for _, r := range append(append([]*report.Result{}, base...), newer...) {
		if err := r.Check(); err != nil {
			warn(stderr, "compare", fmt.Errorf("%s: %w", r.Label, err))
		}
	}

	c := report.Compare(base, newer, th)
	gates := evaluateGates(gate.gate, newer)
	gateFailed := false
	for _, g := range gates {
		gateFailed = gateFailed || !report.GatesPassed(g.results)
	}

	// The table goes to standard error when the markdown takes standard
	// output.
	tableOut := stdout
	if *mdPath == stdoutPath {
		tableOut = stderr
	}
	switch *format {
	case "benchfmt":
		if err := report.WriteBenchfmt(stdout, "base", base...); err != nil {
			return usageErr(err)
		}
		if err := report.WriteBenchfmt(stdout, "new", newer...); err != nil {
			return usageErr(err)
		}
	default:
		if err := report.WriteComparison(tableOut, c); err != nil {
			return usageErr(err)
		}
		for _, g := range gates {
			for _, r := range g.results {
				fmt.Fprintf(tableOut, "gate %s on %s: %s (measured %s)\n", r.Expr, g.label, r.Verdict(), r.MeasuredString())
			}
		}
	}
	if *mdPath != "" {
		err := writeOutput(*mdPath, stdout, nil, func(w io.Writer) error { return writeComparisonMarkdown(w, c, gates) })
		if err != nil {
			return usageErr(err)
		}
	}
	switch {
	case c.Regressed:
		return exitFail
	case gateFailed:
		return exitGate
	}
	return exitOK
}

// compareSides reads the results of both sides: BASE NEW as arguments,
// or the comma-separated lists of --base and --new.
func compareSides(args []string, baseList, newList string) (base, newer []*report.Result, err error) {
	var basePaths, newPaths []string
	switch {
	case baseList != "" || newList != "":
		if len(args) > 0 {
			return nil, nil, fmt.Errorf("give results either as BASE NEW or with --base/--new, not both (extra %q)", strings.Join(args, " "))
		}
		if baseList == "" || newList == "" {
			return nil, nil, errors.New("--base and --new go together")
		}
		basePaths, newPaths = []string{baseList}, []string{newList}
	case len(args) == 2:
		basePaths, newPaths = args[:1], args[1:]
	default:
		return nil, nil, fmt.Errorf("want BASE.json NEW.json (or --base/--new), got %d file(s)", len(args))
	}
	if base, err = readResults(basePaths); err != nil {
		return nil, nil, err
	}
	if newer, err = readResults(newPaths); err != nil {
		return nil, nil, err
	}
	if len(base) == 0 || len(newer) == 0 {
		return nil, nil, errors.New("both sides need at least one results file")
	}
	return base, newer, nil
}

// gated is the verdicts of the gate on one new result.
type gated struct {
	label   string
	results []report.GateResult
}

// evaluateGates applies gate, if any, to each of results.
func evaluateGates(gate report.Gate, results []*report.Result) []gated {
	if gate == nil {
		return nil
	}
	gates := make([]gated, 0, len(results))
	for _, r := range results {
		gates = append(gates, gated{r.Label, gate.Evaluate(r)})
	}
	return gates
}

// writeComparisonMarkdown writes the comparison and the gates' verdicts
// as markdown.
func writeComparisonMarkdown(w io.Writer, c report.Comparison, gates []gated) error {
	if err := report.WriteComparisonMarkdown(w, c); err != nil {
		return err
	}
	for _, g := range gates {
		fmt.Fprintf(w, "\nGates on `%s`:\n\n", g.label)
		for _, r := range g.results {
			mark := "✅"
			if !r.Pass {
				mark = "❌"
			}
			fmt.Fprintf(w, "- %s `%s`: measured %s\n", mark, r.Expr, r.MeasuredString())
		}
	}
	return nil
}
