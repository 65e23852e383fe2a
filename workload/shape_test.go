package workload

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseRateShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Pacer
	}{
		{"5000", ConstantPacer{Freq: 5000}},
		{"0", ConstantPacer{Freq: 0}},
		{"0.5", ConstantPacer{Freq: 0.5}},
		{" 5000\n", ConstantPacer{Freq: 5000}},
		{"constant:1000000000", ConstantPacer{Freq: 1e9}},
		{"constant:0", ConstantPacer{}},
		{"linear:1000..5000/30s", LinearPacer{Start: 1000, End: 5000, Ramp: 30 * time.Second}},
		{"linear:5000..0/1m", LinearPacer{Start: 5000, End: 0, Ramp: time.Minute}},
		{"linear:0.5..1.25/1m30s", LinearPacer{Start: 0.5, End: 1.25, Ramp: 90 * time.Second}},
		{"step:1000+500/10s..5000", StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}},
		{"step:1000+500/10s", StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second}},
		{"step:0+100/500ms", StepPacer{Start: 0, Step: 100, Every: 500 * time.Millisecond}},
		{"step:5000-1000/10s..1000", StepPacer{Start: 5000, Step: -1000, Every: 10 * time.Second, Limit: 1000}},
		{"step:5000-1000/10s", StepPacer{Start: 5000, Step: -1000, Every: 10 * time.Second}},
		{"step:1.5+0.25/1s..2.5", StepPacer{Start: 1.5, Step: 0.25, Every: time.Second, Limit: 2.5}},
		{"sine:5000±2000/60s", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
		{"sine:5000+-2000/60s", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
		{"sine:100+-100/1s@trough", SinePacer{Mean: 100, Amp: 100, Period: time.Second, Phase: Trough}},
		{"sine:100+-10/1s@peak", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: Peak}},
		{"sine:100+-10/1s@down", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: MeanDown}},
		{"sine:100+-10/1s@up", SinePacer{Mean: 100, Amp: 10, Period: time.Second}},
		{"sine:100+-10/1s@180deg", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: math.Pi}},
		{"sine:100+-10/1s@-90deg", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: -math.Pi / 2}},
		{"sine:100+-10/1s@0.5rad", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: 0.5}},
		{"sine:100+-10/1s@360deg", SinePacer{Mean: 100, Amp: 10, Period: time.Second, Phase: 2 * math.Pi}},
	}
	for _, tt := range tests {
		got, err := ParseRateShape(tt.in)
		if err != nil {
			t.Errorf("ParseRateShape(%q) error: %v", tt.in, err)
			continue
		}
		if !pacerNear(got, tt.want) {
			t.Errorf("ParseRateShape(%q) = %#v; want %#v", tt.in, got, tt.want)
		}
		// String gives back a shape that parses to the same pacer.
		s := got.(interface{ String() string }).String()
		again, err := ParseRateShape(s)
		if err != nil || again != got {
			t.Errorf("ParseRateShape(%q) = %#v, %v; want %#v (String of ParseRateShape(%q))", s, again, err, got, tt.in)
		}
	}
}

// pacerNear compares pacers allowing a relative 1e-15 on a sine's phase,
// which degrees reach through a multiplication.
func pacerNear(a, b Pacer) bool {
	sa, ok1 := a.(SinePacer)
	sb, ok2 := b.(SinePacer)
	if ok1 && ok2 {
		ph := math.Abs(sa.Phase-sb.Phase) <= 1e-15*math.Abs(sb.Phase)
		sa.Phase, sb.Phase = 0, 0
		return ph && sa == sb
	}
	return a == b
}

func TestParseRateShapeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want: a substring of the error
	}{
		{"", "not a plain decimal"},
		{"fast", "want a rate, or one of constant:"},
		{"-1", "not a plain decimal"},
		{"1e3", "not a plain decimal"},
		{"NaN", "not a plain decimal"},
		{"Inf", "not a plain decimal"},
		{"0x10", "not a plain decimal"},
		{"5.", "not a plain decimal"},
		{".5", "not a plain decimal"},
		{"5 000", "not a plain decimal"},
		{"2000000000", "above the maximum"},
		{"99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999", "above the maximum"},
		{"burst:100", `unknown kind "burst"`},
		{"Linear:1..2/1s", `unknown kind "Linear"`},
		{"constant:", "not a plain decimal"},
		{"linear:", `missing "/RAMP"`},
		{"linear:1000..5000", `missing "/RAMP"`},
		{"linear:1000-5000/30s", `missing ".."`},
		{"linear:1000..5000/30", "not a duration"},
		{"linear:1000..5000/0s", "must be positive"},
		{"linear:1000..5000/-5s", "must be positive"},
		{"linear:1000...5000/30s", `to rate ".5000"`},
		{"linear:0..0/30s", "rate is 0 throughout"},
		{"linear:x..5/1s", `from rate "x"`},
		{"step:1000/10s", `missing "+STEP"`},
		{"step:1000+500", `missing "/EVERY"`},
		{"step:1000+500/10s..", `limit rate ""`},
		{"step:1000+500/10s..500", "below the start rate"},
		{"step:1000-500/10s..5000", "above the start rate"},
		{"step:1000+500/10us", "at least 1ms"},
		{"step:0-5/1s", "rate is 0 throughout"},
		{"step:1000++500/1s", `step rate "+500"`},
		{"sine:5000/60s", `missing "±AMP"`},
		{"sine:5000+-2000", `missing "/PERIOD"`},
		{"sine:5000+-6000/60s", "amplitude must be between 0 and the mean"},
		{"sine:0+-0/60s", "mean rate must be above 0"},
		{"sine:5000+-2000/60s@top", `phase "top"`},
		{"sine:5000+-2000/60s@400deg", `phase "400deg"`},
		{"sine:5000+-2000/60s@90", `phase "90"`},
		{"sine:5000+-2000/60s@--1rad", `phase "--1rad"`},
		{"sine:5000+-2000/0s", "must be positive"},
	}
	for _, tt := range tests {
		p, err := ParseRateShape(tt.in)
		if err == nil {
			t.Errorf("ParseRateShape(%q) = %v; want an error containing %q", tt.in, p, tt.want)
			continue
		}
		if !errors.Is(err, ErrRateShape) {
			t.Errorf("ParseRateShape(%q) error %v does not wrap ErrRateShape", tt.in, err)
		}
		var se *ShapeError
		if !errors.As(err, &se) || se.Shape != tt.in {
			t.Errorf("ParseRateShape(%q) error %#v; want a *ShapeError for the input", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "workload: bad rate shape ") {
			t.Errorf("ParseRateShape(%q) error %q; want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestRateShapeHelpExamplesParse(t *testing.T) {
	t.Parallel()
	// Every "e.g." example in the help text is a valid shape.
	n := 0
	for _, f := range strings.Fields(RateShapeHelp) {
		f = strings.TrimSuffix(f, ",")
		if strings.Contains(f, ":") && strings.ContainsAny(f, "0123456789") && !strings.ContainsAny(f, "()") {
			if _, err := ParseRateShape(f); err != nil {
				t.Errorf("RateShapeHelp example %q: %v", f, err)
			}
			n++
		}
	}
	if n < 5 {
		t.Errorf("found %d examples in RateShapeHelp; want at least 5", n)
	}
}

func FuzzParseRateShape(f *testing.F) {
	for _, s := range []string{
		"5000", "0", "constant:12.5", "linear:1000..5000/30s", "linear:5000..0/1m",
		"step:1000+500/10s..5000", "step:5000-1000/10s", "sine:5000±2000/60s@peak",
		"sine:100+-100/1s@-45deg", "sine:1+-1/1ns@6.2rad", "step:0+1/1ms", "linear:0..1e9/1h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseRateShape(s)
		if err != nil {
			if p != nil || !errors.Is(err, ErrRateShape) {
				t.Fatalf("ParseRateShape(%q) = %v, %v; want nil and an ErrRateShape", s, p, err)
			}
			return
		}
		if err := p.(interface{ Validate() error }).Validate(); err != nil {
			t.Fatalf("ParseRateShape(%q) = %v, which does not validate: %v", s, p, err)
		}
		str := p.(interface{ String() string }).String()
		if again, err := ParseRateShape(str); err != nil || again != p {
			t.Fatalf("ParseRateShape(%q) = %#v, %v; want %#v", str, again, err, p)
		}
		prev := time.Duration(0)
		for _, n := range []uint64{0, 1, 2, 1000, 1 << 20, 1 << 40, math.MaxUint64} {
			d := p.Due(n)
			if d < prev {
				t.Fatalf("%v: Due(%d) = %v < %v", p, n, d, prev)
			}
			prev = d
		}
	})
}
