package report

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseGate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Gate
		str  string
	}{
		{"p99<5ms", Gate{{"p99", OpLT, 5, "ms"}}, "p99<5ms"},
		{"p99<5ms,rate>4900,unresolved==0", Gate{{"p99", OpLT, 5, "ms"}, {"rate", OpGT, 4900, ""}, {"unresolved", OpEQ, 0, ""}}, "p99<5ms,rate>4900,unresolved==0"},
		{" p50 <= 1.5 ms , rp999>=250us ", Gate{{"p50", OpLE, 1.5, "ms"}, {"rp999", OpGE, 250, "us"}}, "p50<=1.5ms,rp999>=250us"},
		{"max<1s", Gate{{"max", OpLT, 1, "s"}}, "max<1s"},
		{"p90<800µs", Gate{{"p90", OpLT, 800, "us"}}, "p90<800us"},
		{"p90<800μs", Gate{{"p90", OpLT, 800, "us"}}, "p90<800us"},
		{"rmax<=2s,rp50<1ms,rp90<2ms,rp99<3ms", Gate{{"rmax", OpLE, 2, "s"}, {"rp50", OpLT, 1, "ms"}, {"rp90", OpLT, 2, "ms"}, {"rp99", OpLT, 3, "ms"}}, "rmax<=2s,rp50<1ms,rp90<2ms,rp99<3ms"},
		{"nacks<=10,retries<100", Gate{{"nacks", OpLE, 10, ""}, {"retries", OpLT, 100, ""}}, "nacks<=10,retries<100"},
		{"rate>=4999.5", Gate{{"rate", OpGE, 4999.5, ""}}, "rate>=4999.5"},
		{"p999<0005.50ms", Gate{{"p999", OpLT, 5.5, "ms"}}, "p999<5.5ms"},
		{"p99<5ms,p99<5ms", Gate{{"p99", OpLT, 5, "ms"}, {"p99", OpLT, 5, "ms"}}, "p99<5ms,p99<5ms"},
	}
	for _, tt := range tests {
		got, err := ParseGate(tt.in)
		if err != nil {
			t.Errorf("ParseGate(%q) = %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseGate(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseGate(%q).String() = %q; want %q", tt.in, s, tt.str)
		}
	}
}

func TestParseGateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // in the message
	}{
		{"", "empty gate"},
		{"   ", "empty gate"},
		{"p99<5", "needs a unit"},
		{"rp999 < 2", "needs a unit"},
		{"rate>4900/s", "takes no unit"},
		{"rate>4900ms", "takes no unit"},
		{"unresolved==0ms", "is a count and takes no unit"},
		{"nacks<1.5", "whole number"},
		{"p98<5ms", `unknown metric "p98"`},
		{"P99<5ms", `unknown metric "P99"`},
		{"<5ms", "missing metric"},
		{"p99", "missing operator"},
		{"p99=5ms", "write =="},
		{"p99!=5ms", "unknown operator"},
		{"p99=>5ms", "write =="},
		{"p99<", "missing value"},
		{"p99<ms", "not a non-negative number"},
		{"p99<-5ms", "not a non-negative number"},
		{"p99<5.5.5ms", "not a number"},
		{"p99<.ms", "not a number"},
		{"p99<5ns", `unknown unit "ns"`},
		{"p99<5 m s", `unknown unit "m s"`},
		{"p99<5ms,", "empty expression"},
		{",p99<5ms", "empty expression"},
		{"p99<5ms,,rate>1", "empty expression"},
		{"p99<5ms rate>1", "unknown unit"},
		{"p99<1" + strings.Repeat("0", 400) + "ms", "not a number"},
	}
	for _, tt := range tests {
		g, err := ParseGate(tt.in)
		if err == nil {
			t.Errorf("ParseGate(%q) = %v, nil; want an error", tt.in, g)
			continue
		}
		var ge *GateError
		if !errors.As(err, &ge) || !errors.Is(err, ErrGate) {
			t.Errorf("ParseGate(%q) error %T is not a *GateError wrapping ErrGate", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseGate(%q) = %q; want it to contain %q", tt.in, err, tt.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseGate(%q) error spans lines: %q", tt.in, err)
		}
	}
}

func TestGateEvaluate(t *testing.T) {
	t.Parallel()
	r := &Result{
		Counts:     Counts{Unresolved: 0, Nacked: 3, Retries: 7},
		Throughput: Throughput{AckedPerS: 4950.5},
		LatencyUS: Latency{
			Service:  LatencySummary{P50: 400, P90: 800, P99: 1100, P999: 2500, Max: 9000},
			Response: LatencySummary{P50: 450, P90: 900, P99: 1200, P999: 3000, Max: 12000},
		},
	}
	tests := []struct {
		expr  string
		value float64
		pass  bool
	}{
		{"p50<1ms", 400, true},
		{"p50<400us", 400, false},
		{"p50<=400us", 400, true},
		{"p90>0.8ms", 800, false},
		{"p90>=0.8ms", 800, true},
		{"p99==1.1ms", 1100, true},
		{"p999<2ms", 2500, false},
		{"max<0.01s", 9000, true},
		{"rp50<450us", 450, false},
		{"rp90<1ms", 900, true},
		{"rp99<=1.2ms", 1200, true},
		{"rp999<3ms", 3000, false},
		{"rmax<12.001ms", 12000, true},
		{"rate>4900", 4950.5, true},
		{"rate>=4950.6", 4950.5, false},
		{"unresolved==0", 0, true},
		{"nacks<3", 3, false},
		{"nacks<=3", 3, true},
		{"retries>5", 7, true},
	}
	for _, tt := range tests {
		g, err := ParseGate(tt.expr)
		if err != nil {
			t.Fatalf("ParseGate(%q) = %v", tt.expr, err)
		}
		res := g.Evaluate(r)
		if len(res) != 1 {
			t.Fatalf("Evaluate(%q) gave %d results", tt.expr, len(res))
		}
		got := res[0]
		if got.Value != tt.value || got.Pass != tt.pass || got.Expr != tt.expr {
			t.Errorf("Evaluate(%q) = %+v; want value %v pass %v", tt.expr, got, tt.value, tt.pass)
		}
	}

	g, _ := ParseGate("p99<5ms,rate>5000,unresolved==0")
	res := g.Evaluate(r)
	if GatesPassed(res) {
		t.Errorf("GatesPassed(%+v) = true; want false (rate)", res)
	}
	if !GatesPassed(res[:1]) || !GatesPassed(nil) {
		t.Errorf("GatesPassed of passing results = false")
	}
	if got := res[0].MeasuredString(); got != "1.1 ms" {
		t.Errorf("MeasuredString(p99) = %q; want \"1.1 ms\"", got)
	}
	if got := res[1].MeasuredString(); got != "4,950.5/s" {
		t.Errorf("MeasuredString(rate) = %q; want \"4,950.5/s\"", got)
	}
	if got := res[2].MeasuredString(); got != "0" {
		t.Errorf("MeasuredString(unresolved) = %q; want \"0\"", got)
	}
	if res[0].Verdict() != "pass" || res[1].Verdict() != "FAIL" {
		t.Errorf("Verdict() = %q, %q; want pass, FAIL", res[0].Verdict(), res[1].Verdict())
	}

	bad := Gate{{Metric: "bogus", Op: OpLT, Number: 1}}.Evaluate(r)
	if bad[0].Pass || !math.IsNaN(bad[0].Value) {
		t.Errorf("Evaluate(unknown metric) = %+v; want a failure with NaN", bad[0])
	}
}

func TestGateThresholdDecimal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		e    GateExpr
		want float64
	}{
		{GateExpr{"p99", OpLT, 1.1, "ms"}, 1100},
		{GateExpr{"p99", OpLT, 0.0003, "s"}, 300},
		{GateExpr{"p99", OpLT, 2.3, "ms"}, 2300},
		{GateExpr{"p99", OpLT, 17, "us"}, 17},
		{GateExpr{"rate", OpGT, 4900.25, ""}, 4900.25},
	} {
		if got := tt.e.Threshold(); got != tt.want {
			t.Errorf("%v.Threshold() = %v; want %v", tt.e, got, tt.want)
		}
	}
}

func FuzzParseGate(f *testing.F) {
	for _, s := range []string{
		"p99<5ms", "p99<5ms,rate>4900,unresolved==0", " p50 <= 1.5 ms ", "rp999>=250µs", "nacks<1.5",
		"p99=5", ",", "rate>1e3", "max<0.000001s", "p99<5ms,,", "retries==18446744073709551616",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGate(s)
		if err != nil {
			if !errors.Is(err, ErrGate) {
				t.Fatalf("ParseGate(%q) error %v does not wrap ErrGate", s, err)
			}
			return
		}
		if len(g) == 0 {
			t.Fatalf("ParseGate(%q) = empty gate, nil error", s)
		}
		canon := g.String()
		g2, err := ParseGate(canon)
		if err != nil {
			t.Fatalf("ParseGate(%q) failed on the canonical form %q of %q: %v", canon, canon, s, err)
		}
		if !reflect.DeepEqual(g, g2) || g2.String() != canon {
			t.Fatalf("canonical round trip of %q: %+v != %+v", s, g, g2)
		}
		for _, e := range g {
			if math.IsNaN(e.Number) || math.IsInf(e.Number, 0) || e.Number < 0 {
				t.Fatalf("ParseGate(%q) accepted value %v", s, e.Number)
			}
		}
		_ = g.Evaluate(&Result{})
	})
}
