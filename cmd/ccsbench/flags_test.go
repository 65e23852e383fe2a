package main

import (
	"flag"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

func TestParseFraction(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, "10 %": 0.1, "0": 0, "off": -1, "NONE": -1, "150%": 1.5} {
		if got, err := parseFraction(in); err != nil || got != want {
			t.Errorf("parseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5%", "five", "NaN", "%"} {
		if got, err := parseFraction(in); err == nil {
			t.Errorf("parseFraction(%q) = %v, nil; want an error", in, got)
		}
	}
}

// Each typed flag keeps what it was given: String returns the text a
// results file records for it, the zero value's String is "" (so that a
// help text shows the default), and a bad value is refused.
func TestTypedFlags(t *testing.T) {
	t.Parallel()
	var (
		rate     float64
		arrivals workload.Arrivals
		shard    workload.Shard
		domain   string
		client   string
		list     []string
		at       time.Time
		job      string
		mode     ccs.TLSMode
	)
	for _, tc := range []struct {
		v        flag.Value
		zero     flag.Value
		in, out  string
		bad      string
		consumed func() bool
	}{
		{&rateFlag{&rate}, &rateFlag{}, "2500.5", "2500.5", "1e10", func() bool { return rate == 2500.5 }},
		{&rateShapeFlag{}, &rateShapeFlag{}, "linear:1..2/1s", "linear:1..2/1s", "linear:2", nil},
		{&arrivalsFlag{&arrivals}, &arrivalsFlag{}, "poisson", "poisson", "bursty", func() bool { return arrivals == workload.Poisson }},
		{&shardFlag{&shard}, &shardFlag{}, "2/8", "2/8", "8/8", func() bool { return shard == workload.Shard{Index: 2, Count: 8} }},
		{&loginDomainFlag{&domain}, &loginDomainFlag{}, "fcm", "fcm", "xmpp", func() bool { return domain == ccs.FCMDomain }},
		{&targetFlag{}, &targetFlag{}, "staging", "staging", "host", nil},
		{&tlsModeFlag{&mode}, &tlsModeFlag{}, "starttls", "starttls", "STARTTLS", func() bool { return mode == ccs.TLSStartTLS }},
		{&clientFlag{&client}, &clientFlag{}, "mellium", "mellium", "smack", func() bool { return client == "mellium" }},
		{&listFlag{&list}, &listFlag{}, " 1, 2,,3", "1,2,3", "", func() bool { return len(list) == 3 }},
		{&startAtFlag{&at}, &startAtFlag{}, "2026-01-15T09:30:00.5Z", "2026-01-15T09:30:00.5Z", "9:30", func() bool { return at.Nanosecond() == 5e8 }},
		{&jobFlag{&job}, &jobFlag{}, "run-1.a:b_c", "run-1.a:b_c", "run 1", func() bool { return job == "run-1.a:b_c" }},
		{&gateFlag{}, &gateFlag{}, "p99<5ms,rate>1", "p99<5ms,rate>1", "p99<5", nil},
	} {
		if err := tc.v.Set(tc.in); err != nil || tc.v.String() != tc.out || tc.consumed != nil && !tc.consumed() {
			t.Errorf("%T.Set(%q) = %v, String() = %q; want nil, %q and the value stored", tc.v, tc.in, err, tc.v.String(), tc.out)
		}
		if tc.bad != "" {
			if err := tc.v.Set(tc.bad); err == nil || tc.v.String() != tc.out {
				t.Errorf("%T.Set(%q) = nil, or changed the value to %q; want an error and the value kept", tc.v, tc.bad, tc.v.String())
			}
		}
		if s := tc.zero.String(); s != "" {
			t.Errorf("zero %T.String() = %q; want \"\"", tc.zero, s)
		}
	}
	target := &targetFlag{}
	for in, want := range map[string]string{"staging": stagingTarget, "production": productionTarget, "10.0.0.1:5235": "10.0.0.1:5235"} {
		if err := target.Set(in); err != nil || target.addr != want {
			t.Errorf("targetFlag.Set(%q): addr %q, %v; want %q", in, target.addr, err, want)
		}
	}
	gate := &gateFlag{}
	if err := gate.Set("rate>=4900"); err != nil || len(gate.gate) != 1 || gate.gate.Evaluate(&report.Result{}) == nil {
		t.Errorf("gateFlag.Set(rate>=4900) = %v, gate %v; want one expression", err, gate.gate)
	}
}
