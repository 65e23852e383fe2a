package workload

import (
	"math"
	"testing"
	"time"
)

// pacerCases are valid pacers of every kind, including rates that touch 0.
var pacerCases = []struct {
	name string
	p    ContinuousPacer
}{
	{"constant", ConstantPacer{Freq: 5000}},
	{"constant-slow", ConstantPacer{Freq: 0.5}},
	{"constant-odd", ConstantPacer{Freq: 3}},
	{"linear-up", LinearPacer{Start: 1000, End: 5000, Ramp: 30 * time.Second}},
	{"linear-from-0", LinearPacer{Start: 0, End: 1000, Ramp: 10 * time.Second}},
	{"linear-down", LinearPacer{Start: 5000, End: 1000, Ramp: 10 * time.Second}},
	{"linear-to-0", LinearPacer{Start: 1000, End: 0, Ramp: 10 * time.Second}},
	{"linear-flat", LinearPacer{Start: 700, End: 700, Ramp: time.Second}},
	{"step-up", StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}},
	{"step-up-unbounded", StepPacer{Start: 100, Step: 100, Every: time.Second}},
	{"step-from-0", StepPacer{Start: 0, Step: 250, Every: 500 * time.Millisecond, Limit: 2000}},
	{"step-down", StepPacer{Start: 5000, Step: -1000, Every: 10 * time.Second, Limit: 1000}},
	{"step-to-0", StepPacer{Start: 300, Step: -100, Every: time.Second}},
	{"step-odd", StepPacer{Start: 1000, Step: 333.3, Every: 700 * time.Millisecond, Limit: 2500}},
	{"step-zero", StepPacer{Start: 1234}},
	{"sine", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
	{"sine-peak", SinePacer{Mean: 100, Amp: 50, Period: time.Second, Phase: Peak}},
	{"sine-touch-0", SinePacer{Mean: 100, Amp: 100, Period: time.Second, Phase: Trough}},
	{"sine-touch-0-mid", SinePacer{Mean: 1000, Amp: 1000, Period: 7 * time.Second, Phase: 1}},
	{"sine-flat", SinePacer{Mean: 250, Amp: 0, Period: time.Second}},
}

// sampleCounts are the message numbers the consistency tests probe.
func sampleCounts() []uint64 {
	var ns []uint64
	for n := uint64(0); n < 300; n++ {
		ns = append(ns, n)
	}
	for n := uint64(300); n < 2_000_000; n = n*5/4 + 7 {
		ns = append(ns, n)
	}
	return ns
}

func TestPacerDueInvertsHits(t *testing.T) {
	t.Parallel()
	for _, tc := range pacerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			if err := p.(interface{ Validate() error }).Validate(); err != nil {
				t.Fatalf("%v.Validate() = %v", p, err)
			}
			prev := time.Duration(0)
			for _, n := range sampleCounts() {
				due := p.Due(n)
				if due < prev {
					t.Fatalf("%v: Due(%d) = %v < Due of an earlier message %v", p, n, due, prev)
				}
				prev = due
				if due == Never {
					// Only allowed once the rate has fallen to 0 for good.
					if h := p.Hits(1 << 62); h >= float64(n)+1 {
						t.Fatalf("%v: Due(%d) = Never but Hits(∞) = %g", p, n, h)
					}
					continue
				}
				if d2 := p.DueAt(float64(n) + 1); d2 != due {
					t.Fatalf("%v: Due(%d) = %v; DueAt(%d) = %v", p, n, due, n+1, d2)
				}
				want := float64(n) + 1
				// Rounding to the nanosecond moves H by at most rate·0.5ns.
				tol := 1e-9*want + p.Rate(due)*0.6e-9 + 1e-9
				if h := p.Hits(due); math.Abs(h-want) > tol {
					t.Fatalf("%v: Hits(Due(%d) = %v) = %.12g; want %g ± %g", p, n, due, h, want, tol)
				}
				// Due is the first such time: 2 ns earlier H is below n+1,
				// 2 ns later above (where the rate is not 0 there).
				if due > 2 && p.Rate(due) > 1 {
					if h := p.Hits(due - 2); h >= want {
						t.Fatalf("%v: Hits(Due(%d)-2ns) = %.12g >= %g", p, n, h, want)
					}
					if h := p.Hits(due + 2); h <= want {
						t.Fatalf("%v: Hits(Due(%d)+2ns) = %.12g <= %g", p, n, h, want)
					}
				}
			}
		})
	}
}

func TestPacerRateIsDerivativeOfHits(t *testing.T) {
	t.Parallel()
	for _, tc := range pacerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			const delta = 10 * time.Microsecond
			for i := 1; i < 400; i++ {
				// 0.173 s steps avoid the step pacers' boundaries.
				at := time.Duration(i) * 173 * time.Millisecond
				if r := p.Rate(at); r < 0 {
					t.Fatalf("%v: Rate(%v) = %g < 0", p, at, r)
				}
				got := (p.Hits(at+delta) - p.Hits(at-delta)) / (2 * delta.Seconds())
				want := p.Rate(at)
				if math.Abs(got-want) > 1e-4*want+1e-3 {
					t.Fatalf("%v: dHits/dt at %v = %g; Rate = %g", p, at, got, want)
				}
			}
		})
	}
}

func TestPacerExactValues(t *testing.T) {
	t.Parallel()
	never := Never
	tests := []struct {
		p    Pacer
		n    uint64
		want time.Duration
	}{
		{ConstantPacer{Freq: 1000}, 0, time.Millisecond},
		{ConstantPacer{Freq: 1000}, 999, time.Second},
		{ConstantPacer{Freq: 5000}, 1e9 - 1, 200_000 * time.Second},     // no drift
		{ConstantPacer{Freq: 3}, 3*86400*365 - 1, 365 * 24 * time.Hour}, // a year
		{ConstantPacer{Freq: 0}, 0, 0},
		{ConstantPacer{Freq: 0}, math.MaxUint64, 0},
		// 0..1000 over 10 s: H = 50t² during the ramp, 5000 at its end.
		{LinearPacer{Start: 0, End: 1000, Ramp: 10 * time.Second}, 49, time.Second},
		{LinearPacer{Start: 0, End: 1000, Ramp: 10 * time.Second}, 4999, 10 * time.Second},
		{LinearPacer{Start: 0, End: 1000, Ramp: 10 * time.Second}, 5999, 11 * time.Second},
		// 1000..0 over 10 s: 5000 messages, then never.
		{LinearPacer{Start: 1000, End: 0, Ramp: 10 * time.Second}, 4999, 10 * time.Second},
		{LinearPacer{Start: 1000, End: 0, Ramp: 10 * time.Second}, 5000, never},
		// 1000, 1500, ... 5000 msgs/s, 10 s each: 100000 by 50 s.
		{StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}, 9999, 10 * time.Second},
		{StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}, 99_999, 50 * time.Second},
		{StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}, 100_000, 50*time.Second + 285714},
		// at the limit from 80 s: 1000+...+4500 = 22000 per second·10 = 220000.
		{StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}, 220_000 + 5000*20 - 1, 100 * time.Second},
		// 300, 200, 100 msgs/s for 1 s each, then 0.
		{StepPacer{Start: 300, Step: -100, Every: time.Second}, 599, 3 * time.Second},
		{StepPacer{Start: 300, Step: -100, Every: time.Second}, 600, never},
		// The first step at 0 msgs/s sends nothing.
		{StepPacer{Start: 0, Step: 100, Every: time.Second}, 0, time.Second + 10*time.Millisecond},
		// Whole periods hold Mean·Period messages.
		{SinePacer{Mean: 100, Amp: 50, Period: time.Second}, 99, time.Second},
		{SinePacer{Mean: 100, Amp: 100, Period: time.Second, Phase: Trough}, 199, 2 * time.Second},
		{SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}, 5000*60*1000 - 1, 1000 * time.Minute},
	}
	for _, tt := range tests {
		if got := tt.p.Due(tt.n); got != tt.want {
			t.Errorf("%v.Due(%d) = %v; want %v", tt.p, tt.n, got, tt.want)
		}
	}
}

func TestSineHalfPeriod(t *testing.T) {
	t.Parallel()
	// Phase 0 rises first: H(P/2) = M·P/2 + A·P/π.
	p := SinePacer{Mean: 100, Amp: 50, Period: time.Second}
	h := 50 + 50/math.Pi
	if got := p.DueAt(h); got != 500*time.Millisecond {
		t.Errorf("%v.DueAt(%g) = %v; want 500ms", p, h, got)
	}
	if got := p.Hits(500 * time.Millisecond); math.Abs(got-h) > 1e-9 {
		t.Errorf("%v.Hits(500ms) = %g; want %g", p, got, h)
	}
	for _, tt := range []struct {
		phase float64
		want  float64
	}{{MeanUp, 100}, {Peak, 150}, {MeanDown, 100}, {Trough, 50}} {
		p.Phase = tt.phase
		if got := p.Rate(0); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%v.Rate(0) = %g; want %g", p, got, tt.want)
		}
	}
}

func TestUnlimitedPacer(t *testing.T) {
	t.Parallel()
	p := ConstantPacer{}
	if !p.Unlimited() {
		t.Fatalf("%v.Unlimited() = false", p)
	}
	for _, n := range []uint64{0, 1, 1e12} {
		if d := p.Due(n); d != 0 {
			t.Errorf("%v.Due(%d) = %v; want 0", p, n, d)
		}
	}
	if r := p.Rate(time.Second); !math.IsInf(r, 1) {
		t.Errorf("%v.Rate(1s) = %g; want +Inf", p, r)
	}
}

func TestInvalidPacersStop(t *testing.T) {
	t.Parallel()
	invalid := []interface {
		ContinuousPacer
		Validator
	}{
		ConstantPacer{Freq: -1},
		ConstantPacer{Freq: math.NaN()},
		ConstantPacer{Freq: 2e9},
		LinearPacer{Start: 1, End: 2},
		LinearPacer{Start: -1, End: 2, Ramp: time.Second},
		LinearPacer{Start: 1, End: math.Inf(1), Ramp: time.Second},
		StepPacer{Start: 1, Step: 1},
		StepPacer{Start: 1, Step: 1, Every: time.Microsecond},
		StepPacer{Start: 10, Step: 1, Every: time.Second, Limit: 5},
		StepPacer{Start: 10, Step: -1, Every: time.Second, Limit: 50},
		StepPacer{Start: 10, Step: math.NaN(), Every: time.Second},
		SinePacer{Mean: 10, Amp: 11, Period: time.Second},
		SinePacer{Mean: 10, Amp: 1},
		SinePacer{Mean: 0, Amp: 0, Period: time.Second},
		SinePacer{Mean: 10, Amp: 1, Period: time.Second, Phase: 7},
	}
	for _, p := range invalid {
		if err := p.Validate(); err == nil {
			t.Errorf("%v.Validate() = nil; want an error", p)
		}
		if d := p.Due(0); d != Never {
			t.Errorf("%v.Due(0) = %v; want Never", p, d)
		}
		if r := p.Rate(time.Second); r != 0 {
			t.Errorf("%v.Rate(1s) = %g; want 0", p, r)
		}
		if h := p.Hits(time.Second); h != 0 {
			t.Errorf("%v.Hits(1s) = %g; want 0", p, h)
		}
	}
	// Valid but never sending: rejected by Validate, and Due says Never.
	for _, p := range []interface {
		Pacer
		Validate() error
	}{
		LinearPacer{Ramp: time.Second},
		StepPacer{Start: 0, Step: -1, Every: time.Second},
		StepPacer{},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%v.Validate() = nil; want an error (rate 0 throughout)", p)
		}
		if d := p.Due(0); d != Never {
			t.Errorf("%v.Due(0) = %v; want Never", p, d)
		}
	}
}

func TestPacerHugeCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range pacerCases {
		p := tc.p
		// Beyond ~292 years every pacer says Never; nothing panics or wraps.
		for _, n := range []uint64{1 << 53, math.MaxUint64} {
			if d := p.Due(n); d != Never && d < 0 {
				t.Errorf("%v.Due(%d) = %v", p, n, d)
			}
		}
		// Unless the rate grows without bound, 2^64 messages take longer
		// than a time.Duration holds.
		if d := p.Due(math.MaxUint64); d != Never && p.Hits(Never) < math.MaxUint64 {
			t.Errorf("%v.Due(MaxUint64) = %v; want Never", p, d)
		}
		if d := p.DueAt(math.Inf(1)); d != Never {
			t.Errorf("%v.DueAt(+Inf) = %v; want Never", p, d)
		}
		if d := p.DueAt(math.NaN()); d != Never {
			t.Errorf("%v.DueAt(NaN) = %v; want Never", p, d)
		}
		if d := p.DueAt(-1); d != 0 {
			t.Errorf("%v.DueAt(-1) = %v; want 0", p, d)
		}
	}
}

func TestPacerAllocs(t *testing.T) {
	for _, tc := range pacerCases {
		p := tc.p
		n := uint64(0)
		if a := testing.AllocsPerRun(200, func() {
			n += 37
			p.Due(n)
			p.Rate(time.Duration(n) * time.Microsecond)
		}); a != 0 {
			t.Errorf("%v: Due and Rate allocate %v times per call; want 0", p, a)
		}
	}
}

func BenchmarkDue(b *testing.B) {
	for _, tc := range []struct {
		name string
		p    Pacer
	}{
		{"constant", ConstantPacer{Freq: 5000}},
		{"linear", LinearPacer{Start: 1000, End: 5000, Ramp: 30 * time.Second}},
		{"step", StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}},
		{"sine", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink time.Duration
			for i := 0; b.Loop(); i++ {
				sink += tc.p.Due(uint64(i))
			}
			_ = sink
		})
	}
}
