package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrGate is wrapped by every error of ParseGate.
var ErrGate = errors.New("report: bad gate expression")

// GateError describes one bad expression of a gate: Expr is its text, Reason
// what is wrong with it. It wraps ErrGate.
type GateError struct {
	Expr   string
	Reason string
}

// Error names the expression and the reason.
func (e *GateError) Error() string {
	return fmt.Sprintf("report: gate expression %q: %s", e.Expr, e.Reason)
}

// Unwrap returns ErrGate.
func (e *GateError) Unwrap() error { return ErrGate }

// Op is a comparison operator of a gate expression.
type Op uint8

// The operators of gate expressions.
const (
	OpLT Op = iota + 1 // <
	OpLE               // <=
	OpGT               // >
	OpGE               // >=
	OpEQ               // ==
)

// String returns the operator as written: "<", "<=", ">", ">=" or "==".
func (o Op) String() string {
	switch o {
	case OpLT:
		return "<"
	case OpLE:
		return "<="
	case OpGT:
		return ">"
	case OpGE:
		return ">="
	case OpEQ:
		return "=="
	}
	return "?"
}

// holds reports whether "a o b" is true.
func (o Op) holds(a, b float64) bool {
	switch o {
	case OpLT:
		return a < b
	case OpLE:
		return a <= b
	case OpGT:
		return a > b
	case OpGE:
		return a >= b
	case OpEQ:
		return a == b
	}
	return false
}

// metricKind tells how a gate metric's value is written.
type metricKind uint8

const (
	kindLatency metricKind = iota // microseconds; written with a unit
	kindCount                     // a whole number, no unit
	kindRate                      // messages per second, no unit
)

// gateMetric is one metric a gate can test.
type gateMetric struct {
	kind metricKind
	get  func(r *Result) float64
}

// gateMetrics maps metric names to their definitions.
var gateMetrics = map[string]gateMetric{
	"p50":            {kindLatency, func(r *Result) float64 { return r.LatencyUS.Service.P50 }},
	"p90":            {kindLatency, func(r *Result) float64 { return r.LatencyUS.Service.P90 }},
	"p99":            {kindLatency, func(r *Result) float64 { return r.LatencyUS.Service.P99 }},
	"p999":           {kindLatency, func(r *Result) float64 { return r.LatencyUS.Service.P999 }},
	"max":            {kindLatency, func(r *Result) float64 { return r.LatencyUS.Service.Max }},
	"rp50":           {kindLatency, func(r *Result) float64 { return r.LatencyUS.Response.P50 }},
	"rp90":           {kindLatency, func(r *Result) float64 { return r.LatencyUS.Response.P90 }},
	"rp99":           {kindLatency, func(r *Result) float64 { return r.LatencyUS.Response.P99 }},
	"rp999":          {kindLatency, func(r *Result) float64 { return r.LatencyUS.Response.P999 }},
	"rmax":           {kindLatency, func(r *Result) float64 { return r.LatencyUS.Response.Max }},
	"rate":           {kindRate, func(r *Result) float64 { return r.Throughput.AckedPerS }},
	"unresolved":     {kindCount, func(r *Result) float64 { return float64(r.Counts.Unresolved) }},
	"lost":           {kindCount, func(r *Result) float64 { return float64(r.Counts.Lost) }},
	"nacks":          {kindCount, func(r *Result) float64 { return float64(r.Counts.Nacked) }},
	"retries":        {kindCount, func(r *Result) float64 { return float64(r.Counts.Retries) }},
	"disconnects":    {kindCount, func(r *Result) float64 { return float64(r.Counts.DisconnectTotal()) }},
	"drain_timeouts": {kindCount, func(r *Result) float64 { return float64(r.Counts.DrainTimeouts) }},
	"strays":         {kindCount, func(r *Result) float64 { return float64(r.Counts.Strays) }},
}

// metricList is the list of metric names for error messages.
const metricList = "p50 p90 p99 p999 max (service time), rp50 rp90 rp99 rp999 rmax (response time), rate, unresolved, lost, nacks, retries, disconnects, drain_timeouts, strays"

// unitFactors maps latency units, canonical names only, to microseconds.
var unitFactors = map[string]float64{"us": 1, "ms": 1e3, "s": 1e6}

// unitExponents maps latency units to the decimal exponent of their factor.
var unitExponents = map[string]string{"us": "e0", "ms": "e3", "s": "e6"}

// GateExpr is one parsed expression METRIC OP VALUE.
type GateExpr struct {
	// Metric is one of p50 p90 p99 p999 max (service time in µs),
	// rp50 rp90 rp99 rp999 rmax (response time in µs), rate (acked messages
	// per second), or a count: unresolved, lost, nacks (final NACKs),
	// retries, disconnects, drain_timeouts, strays.
	Metric string
	// Op is the comparison.
	Op Op
	// Number is the value as written, in Unit.
	Number float64
	// Unit is "us", "ms" or "s" for latency metrics and "" otherwise.
	Unit string
}

// Threshold returns the expression's value in the metric's own unit:
// microseconds for latencies, messages per second for rate, a count otherwise.
// The conversion is decimal (1.1ms is exactly the float nearest 1100 µs).
func (e GateExpr) Threshold() float64 {
	exp, ok := unitExponents[e.Unit]
	if !ok {
		return e.Number
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(e.Number, 'f', -1, 64)+exp, 64)
	if err != nil {
		return e.Number * unitFactors[e.Unit]
	}
	return v
}

// String returns the expression in canonical form, e.g. "p99<5ms".
func (e GateExpr) String() string {
	return e.Metric + e.Op.String() + strconv.FormatFloat(e.Number, 'f', -1, 64) + e.Unit
}

// Gate is a list of expressions that must all hold, in the style of k6
// thresholds: "p99<5ms,rate>4900,unresolved==0".
type Gate []GateExpr

// String returns the gate in canonical form, expressions joined by commas;
// ParseGate of it gives the same gate.
func (g Gate) String() string {
	parts := make([]string, len(g))
	for i, e := range g {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// GateResult is the verdict of one expression on one result.
type GateResult struct {
	// Expr is the expression in canonical form.
	Expr string `json:"expr"`
	// Metric is the metric tested.
	Metric string `json:"metric"`
	// Value is the measured value: µs for latencies, messages per second
	// for rate, a count otherwise; NaN never occurs for a parsed gate.
	Value float64 `json:"value"`
	// Threshold is the expression's value in the same unit as Value.
	Threshold float64 `json:"threshold"`
	// Unit is the latency unit the expression was written in, for display.
	Unit string `json:"unit,omitempty"`
	// Pass reports whether the expression held.
	Pass bool `json:"pass"`
}

// MeasuredString formats Value for people, latencies in the expression's
// unit: "0.812 ms", "4,998.7/s", "0".
func (g GateResult) MeasuredString() string {
	if f, ok := unitFactors[g.Unit]; ok {
		v := g.Value / f
		s := strconv.FormatFloat(v, 'f', 3, 64)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s + " " + g.Unit
	}
	if g.Metric == "rate" {
		return formatRate(g.Value)
	}
	if g.Value >= 0 && g.Value == math.Trunc(g.Value) && g.Value < 1<<63 {
		return formatCount(uint64(g.Value))
	}
	return strconv.FormatFloat(g.Value, 'f', -1, 64)
}

// Verdict returns "pass" or "FAIL".
func (g GateResult) Verdict() string {
	if g.Pass {
		return "pass"
	}
	return "FAIL"
}

// GatesPassed reports whether every gate result passed (true for none).
func GatesPassed(results []GateResult) bool {
	for _, g := range results {
		if !g.Pass {
			return false
		}
	}
	return true
}

// Evaluate tests every expression of g against r, in order.
func (g Gate) Evaluate(r *Result) []GateResult {
	out := make([]GateResult, 0, len(g))
	for _, e := range g {
		gr := GateResult{Expr: e.String(), Metric: e.Metric, Threshold: e.Threshold(), Unit: e.Unit}
		if m, ok := gateMetrics[e.Metric]; ok {
			gr.Value = m.get(r)
			gr.Pass = e.Op.holds(gr.Value, gr.Threshold)
		} else {
			gr.Value = math.NaN()
		}
		out = append(out, gr)
	}
	return out
}

// ParseGate parses "EXPR,EXPR,..." where EXPR is METRIC OP VALUE: metrics
// p50 p90 p99 p999 max (service time), rp50 rp90 rp99 rp999 rmax (response
// time), rate (acked/s), counts unresolved, lost, nacks, retries,
// disconnects, drain_timeouts and strays; operators < <= > >= ==;
// latency values need a unit us (or µs), ms or s, and other values take none
// (counts must be whole numbers). Spaces around the parts are allowed. The
// error is a *GateError naming the bad expression.
func ParseGate(s string) (Gate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &GateError{Expr: s, Reason: "empty gate; want METRIC OP VALUE[,...], e.g. p99<5ms,rate>4900"}
	}
	var g Gate
	for part := range strings.SplitSeq(s, ",") {
		e, err := parseGateExpr(part)
		if err != nil {
			return nil, err
		}
		g = append(g, e)
	}
	return g, nil
}

// parseGateExpr parses one METRIC OP VALUE expression.
func parseGateExpr(raw string) (GateExpr, error) {
	bad := func(format string, args ...any) (GateExpr, error) {
		return GateExpr{}, &GateError{Expr: strings.TrimSpace(raw), Reason: fmt.Sprintf(format, args...)}
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return bad("empty expression (stray comma?); want METRIC OP VALUE, e.g. p99<5ms")
	}

	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_') {
		i++
	}
	name := s[:i]
	if name == "" {
		return bad("missing metric; want one of %s", metricList)
	}
	m, ok := gateMetrics[name]
	if !ok {
		return bad("unknown metric %q; want one of %s", name, metricList)
	}
	s = strings.TrimLeft(s[i:], " \t")

	var op Op
	switch {
	case strings.HasPrefix(s, "<="):
		op, s = OpLE, s[2:]
	case strings.HasPrefix(s, ">="):
		op, s = OpGE, s[2:]
	case strings.HasPrefix(s, "=="):
		op, s = OpEQ, s[2:]
	case strings.HasPrefix(s, "<"):
		op, s = OpLT, s[1:]
	case strings.HasPrefix(s, ">"):
		op, s = OpGT, s[1:]
	case strings.HasPrefix(s, "="):
		return bad("operator \"=\": write == for equality")
	case s == "":
		return bad("missing operator after %s; want one of < <= > >= ==", name)
	default:
		return bad("unknown operator at %q; want one of < <= > >= ==", s)
	}
	s = strings.TrimLeft(s, " \t")

	j := 0
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
		j++
	}
	numText := s[:j]
	if numText == "" {
		if s == "" {
			return bad("missing value after %s%s", name, op)
		}
		return bad("value %q is not a non-negative number", s)
	}
	num, err := strconv.ParseFloat(numText, 64)
	if err != nil || math.IsInf(num, 0) {
		return bad("value %q is not a number", numText)
	}
	unit := strings.TrimSpace(s[j:])

	switch m.kind {
	case kindLatency:
		switch unit {
		case "us", "µs", "μs": // micro sign and Greek mu
			unit = "us"
		case "ms", "s":
		case "":
			return bad("%s is a latency and needs a unit: us, ms or s (e.g. %s%s%sms)", name, name, op, numText)
		default:
			return bad("unknown unit %q for %s; want us, ms or s", unit, name)
		}
	case kindRate:
		if unit != "" {
			return bad("%s is in acked messages per second and takes no unit (got %q; write e.g. %s%s%s)", name, unit, name, op, numText)
		}
	case kindCount:
		if unit != "" {
			return bad("%s is a count and takes no unit (got %q)", name, unit)
		}
		if num != math.Trunc(num) {
			return bad("%s is a count and needs a whole number, not %s", name, numText)
		}
	}
	return GateExpr{Metric: name, Op: op, Number: num, Unit: unit}, nil
}
