package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ccsbench/ccsbench/report"
)

func init() {
	register("compare", "compare new results with a baseline; exit 1 on regression", compareCmd)
}

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
--gate applies gate expressions to each NEW result.

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
	gateText := fs.String("gate", "", "gate `EXPRS` applied to each NEW result, e.g. \"p99<5ms,rate>4900,unresolved==0\"")
	mdPath := fs.String("md", "", "also write the comparison as markdown to `FILE` (- for stdout)")
	format := fs.String("format", "table", "output `FORMAT`: table, or benchfmt (Go benchmark format for benchstat)")
	pos, code, ok := rptParse(fs, args, compareUsage, stdout, stderr)
	if !ok {
		return code
	}

	if *format != "table" && *format != "benchfmt" {
		return rptFail(stderr, "compare", fmt.Errorf("unknown --format %q; want table or benchfmt", *format))
	}
	if th.Alpha <= 0 || th.Alpha >= 1 {
		return rptFail(stderr, "compare", fmt.Errorf("--alpha %v must be between 0 and 1", th.Alpha))
	}
	var basePaths, newPaths []string
	switch {
	case *baseList != "" || *newList != "":
		if len(pos) > 0 {
			return rptFail(stderr, "compare", fmt.Errorf("give results either as BASE NEW or with --base/--new, not both (extra %q)", strings.Join(pos, " ")))
		}
		if *baseList == "" || *newList == "" {
			return rptFail(stderr, "compare", errors.New("--base and --new go together"))
		}
		basePaths, newPaths = []string{*baseList}, []string{*newList}
	case len(pos) == 2:
		basePaths, newPaths = pos[:1], pos[1:]
	default:
		return rptFail(stderr, "compare", fmt.Errorf("want BASE.json NEW.json (or --base/--new), got %d file(s)", len(pos)))
	}
	var gate report.Gate
	if *gateText != "" {
		g, err := report.ParseGate(*gateText)
		if err != nil {
			return rptFail(stderr, "compare", err)
		}
		gate = g
	}
	base, err := rptReadResults(basePaths)
	if err != nil {
		return rptFail(stderr, "compare", err)
	}
	newer, err := rptReadResults(newPaths)
	if err != nil {
		return rptFail(stderr, "compare", err)
	}
	if len(base) == 0 || len(newer) == 0 {
		return rptFail(stderr, "compare", errors.New("both sides need at least one results file"))
	}
	for _, r := range append(append([]*report.Result{}, base...), newer...) {
		if err := r.Check(); err != nil {
			rptWarn(stderr, "compare", fmt.Errorf("%s: %w", r.Label, err))
		}
	}

	c := report.Compare(base, newer, th)
	gateFailed := false
	type gated struct {
		label   string
		results []report.GateResult
	}
	var gates []gated
	if gate != nil {
		for _, r := range newer {
			gr := gate.Evaluate(r)
			gates = append(gates, gated{r.Label, gr})
			if !report.GatesPassed(gr) {
				gateFailed = true
			}
		}
	}

	switch *format {
	case "benchfmt":
		if err := report.WriteBenchfmt(stdout, "base", base...); err != nil {
			return rptFail(stderr, "compare", err)
		}
		if err := report.WriteBenchfmt(stdout, "new", newer...); err != nil {
			return rptFail(stderr, "compare", err)
		}
	default:
		if err := report.WriteComparison(stdout, c); err != nil {
			return rptFail(stderr, "compare", err)
		}
		for _, g := range gates {
			for _, r := range g.results {
				fmt.Fprintf(stdout, "gate %s on %s: %s (measured %s)\n", r.Expr, g.label, r.Verdict(), r.MeasuredString())
			}
		}
	}
	if *mdPath != "" {
		err := rptWriteTo(*mdPath, stdout, func(w io.Writer) error {
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
		})
		if err != nil {
			return rptFail(stderr, "compare", err)
		}
	}
	switch {
	case c.Regressed:
		return 1
	case gateFailed:
		return 3
	}
	return 0
}

// fractionFlag is a flag.Value for a tolerated change: "5%", "0.05" or
// "off" (stored as -1, which disables the check).
type fractionFlag struct{ p *float64 }

// String implements flag.Value.
func (f *fractionFlag) String() string {
	if f.p == nil {
		return ""
	}
	if *f.p < 0 {
		return "off"
	}
	return strconv.FormatFloat(*f.p*100, 'f', -1, 64) + "%"
}

// Set implements flag.Value.
func (f *fractionFlag) Set(s string) error {
	v, err := parseFraction(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

// parseFraction reads "5%" as 0.05, "0.05" as 0.05 and "off" or "none" as -1.
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "off", "none":
		return -1, nil
	}
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1e9 {
		return 0, fmt.Errorf("%q is not a non-negative percentage (5%%), fraction (0.05) or off", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}
