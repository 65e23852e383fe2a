package workload

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"testing"
	"time"
)

func TestParseArrivals(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Arrivals
	}{{"uniform", Uniform}, {"poisson", Poisson}} {
		got, err := ParseArrivals(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseArrivals(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%v.String() = %q; want %q", got, got.String(), tt.in)
		}
	}
	for _, in := range []string{"", "Poisson", "exponential", "uniform "} {
		if got, err := ParseArrivals(in); !errors.Is(err, ErrArrivals) {
			t.Errorf("ParseArrivals(%q) = %v, %v; want an ErrArrivals", in, got, err)
		}
	}
	// flag.Value and JSON text round trip.
	var a Arrivals
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&a, "arrivals", "")
	if err := fs.Parse([]string{"--arrivals", "poisson"}); err != nil || a != Poisson {
		t.Errorf("flag --arrivals poisson = %v, %v", a, err)
	}
	b, err := json.Marshal(struct{ A Arrivals }{Poisson})
	if err != nil || string(b) != `{"A":"poisson"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	var back struct{ A Arrivals }
	if err := json.Unmarshal(b, &back); err != nil || back.A != Poisson {
		t.Errorf("json.Unmarshal(%s) = %v, %v", b, back.A, err)
	}
	if _, err := Arrivals(9).MarshalText(); !errors.Is(err, ErrArrivals) {
		t.Errorf("Arrivals(9).MarshalText() error = %v; want an ErrArrivals", err)
	}
}

func TestScheduleUniformIsDue(t *testing.T) {
	t.Parallel()
	for _, tc := range pacerCases {
		s := NewSchedule(tc.p, Uniform, 1)
		scheduled := uint64(0)
		for n := uint64(0); n < 3000; n++ {
			got, want := s.Next(), tc.p.Due(n)
			if got != want {
				t.Fatalf("%v: Next() #%d = %v; want Due = %v", tc.p, n, got, want)
			}
			if got != Never {
				scheduled++
			}
		}
		if s.Count() != scheduled {
			t.Fatalf("%v: Count() = %d; want %d", tc.p, s.Count(), scheduled)
		}
	}
}

func TestSchedulePoissonDeterministic(t *testing.T) {
	t.Parallel()
	p := SinePacer{Mean: 1000, Amp: 500, Period: time.Second}
	a, b, c := NewSchedule(p, Poisson, 42), NewSchedule(p, Poisson, 42), NewSchedule(p, Poisson, 43)
	differ := 0
	prev := time.Duration(0)
	for i := range 5000 {
		x, y, z := a.Next(), b.Next(), c.Next()
		if x != y {
			t.Fatalf("seed 42: Next() #%d = %v and %v", i, x, y)
		}
		if x < prev {
			t.Fatalf("Next() #%d = %v < previous %v", i, x, prev)
		}
		prev = x
		if x != z {
			differ++
		}
	}
	if differ < 4900 {
		t.Errorf("seeds 42 and 43 gave %d different times of 5000; want nearly all", differ)
	}
}

func TestSchedulePoissonRate(t *testing.T) {
	t.Parallel()
	const n = 40000
	// At a constant rate the gaps are exponential with mean 1/rate: mean and
	// standard deviation both 1 ms (coefficient of variation 1).
	s := NewSchedule(ConstantPacer{Freq: 1000}, Poisson, 7)
	var sum, sumSq float64
	prev := time.Duration(0)
	for range n {
		d := s.Next()
		gap := (d - prev).Seconds()
		prev = d
		sum += gap
		sumSq += gap * gap
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	// The mean of n exponentials has relative sd 1/sqrt(n) = 0.5%.
	if math.Abs(mean-1e-3) > 0.025e-3 {
		t.Errorf("poisson at 1000/s: mean gap %.4g s; want 1e-3 ± 2.5%%", mean)
	}
	if cv := sd / mean; math.Abs(cv-1) > 0.05 {
		t.Errorf("poisson at 1000/s: coefficient of variation %.3f; want 1 ± 0.05", cv)
	}

	// With a varying rate the count in each window follows H: count the
	// arrivals in each quarter of a sine's period over 20 periods.
	p := SinePacer{Mean: 500, Amp: 400, Period: time.Second}
	s = NewSchedule(p, Poisson, 9)
	var counts [4]float64
	for {
		d := s.Next()
		if d >= 20*time.Second {
			break
		}
		counts[(d%time.Second)/(250*time.Millisecond)]++
	}
	for q := range counts {
		want := 20 * (p.Hits(time.Duration(q+1)*250*time.Millisecond) - p.Hits(time.Duration(q)*250*time.Millisecond))
		if math.Abs(counts[q]-want) > 5*math.Sqrt(want) {
			t.Errorf("poisson %v: %g arrivals in quarter %d over 20 periods; want %.0f ± 5σ", p, counts[q], q, want)
		}
	}
}

// pacerOnly hides a pacer's ContinuousPacer methods.
type pacerOnly struct{ p Pacer }

var _ Pacer = pacerOnly{}

func (o pacerOnly) Rate(e time.Duration) float64 { return o.p.Rate(e) }
func (o pacerOnly) Due(n uint64) time.Duration   { return o.p.Due(n) }

func TestSchedulePoissonInterpolates(t *testing.T) {
	t.Parallel()
	// For a Pacer without DueAt, Schedule interpolates between Due times;
	// at a constant rate that is exact up to nanosecond rounding.
	p := ConstantPacer{Freq: 3000}
	exact, interp := NewSchedule(p, Poisson, 5), NewSchedule(pacerOnly{p}, Poisson, 5)
	for i := range 10000 {
		x, y := exact.Next(), interp.Next()
		if d := x - y; d < -1 || d > 1 {
			t.Fatalf("Next() #%d: %v exact, %v interpolated", i, x, y)
		}
	}
	// A ramp down to 0 ends in Never for both, and stays there.
	lp := LinearPacer{Start: 100, End: 0, Ramp: time.Second} // 50 messages
	for _, s := range []*Schedule{NewSchedule(lp, Poisson, 1), NewSchedule(pacerOnly{lp}, Poisson, 1), NewSchedule(lp, Uniform, 1)} {
		n := 0
		for ; n < 1000 && s.Next() != Never; n++ {
		}
		if n < 20 || n > 100 {
			t.Errorf("%v: %d messages before Never; want about 50", lp, n)
		}
		for range 3 {
			if d := s.Next(); d != Never {
				t.Errorf("%v: Next() after Never = %v", lp, d)
			}
		}
	}
}

func TestScheduleUnlimited(t *testing.T) {
	t.Parallel()
	for _, a := range []Arrivals{Uniform, Poisson} {
		s := NewSchedule(ConstantPacer{}, a, 3)
		for range 100 {
			if d := s.Next(); d != 0 {
				t.Fatalf("unlimited %v: Next() = %v; want 0", a, d)
			}
		}
	}
}

func TestScheduleNextAllocs(t *testing.T) {
	for _, a := range []Arrivals{Uniform, Poisson} {
		for _, p := range []Pacer{ConstantPacer{Freq: 5000}, SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}, pacerOnly{StepPacer{Start: 1, Step: 1, Every: time.Second}}} {
			s := NewSchedule(p, a, 1)
			if n := testing.AllocsPerRun(1000, func() { s.Next() }); n != 0 {
				t.Errorf("%v %v: Next allocates %v times; want 0", p, a, n)
			}
		}
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	for _, a := range []Arrivals{Uniform, Poisson} {
		for _, tc := range []struct {
			name string
			p    Pacer
		}{
			{"constant", ConstantPacer{Freq: 5000}},
			{"linear", LinearPacer{Start: 1000, End: 5000, Ramp: 30 * time.Second}},
			{"step", StepPacer{Start: 1000, Step: 500, Every: 10 * time.Second, Limit: 5000}},
			{"sine", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
		} {
			b.Run(a.String()+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				s := NewSchedule(tc.p, a, 1)
				for b.Loop() {
					s.Next()
				}
			})
		}
	}
}
