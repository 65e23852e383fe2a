package workload

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestParseShard(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Shard
	}{
		{"0/1", Shard{0, 1}},
		{"0/4", Shard{0, 4}},
		{"3/4", Shard{3, 4}},
		{"6/7", Shard{6, 7}},
		{"007/8", Shard{7, 8}},
		{"65535/65536", Shard{65535, MaxShards}},
	} {
		got, err := ParseShard(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "/", "4", "0/", "/4", "0/0", "4/4", "5/4", "-1/4", "+1/4", "1/+4",
		"0/-4", " 0/4", "0/4 ", "0 /4", "1.0/4", "0/4/4", "a/4", "0/b", "0x1/4",
		"0/65537", "0/99999999999999999999", "99999999999999999999/4", "١/٤",
	} {
		got, err := ParseShard(in)
		var se *ShardError
		if !errors.Is(err, ErrShard) || !errors.As(err, &se) || se.Shard != in {
			t.Errorf("ParseShard(%q) = %v, %v; want a *ShardError for %q", in, got, err, in)
		}
	}
}

func TestShardStringValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sh    Shard
		str   string
		valid bool
	}{
		{Shard{}, "0/1", true},
		{Shard{0, 1}, "0/1", true},
		{Shard{2, 3}, "2/3", true},
		{Shard{3, 3}, "3/3", false},
		{Shard{-1, 3}, "-1/3", false},
		{Shard{1, 0}, "1/1", false},
		{Shard{0, -2}, "0/-2", false},
		{Shard{0, MaxShards + 1}, "0/65537", false},
	} {
		if got := tt.sh.String(); got != tt.str {
			t.Errorf("%#v.String() = %q; want %q", tt.sh, got, tt.str)
		}
		if err := tt.sh.Validate(); (err == nil) != tt.valid {
			t.Errorf("%#v.Validate() = %v; want valid %v", tt.sh, err, tt.valid)
		} else if err != nil && !errors.Is(err, ErrShard) {
			t.Errorf("%#v.Validate() = %v; want an ErrShard", tt.sh, err)
		}
	}
	// flag.Value, and the JSON object the results file records.
	var sh Shard
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&sh, "shard", "")
	if err := fs.Parse([]string{"--shard", "2/5"}); err != nil || sh != (Shard{2, 5}) {
		t.Errorf("flag --shard 2/5 = %v, %v", sh, err)
	}
	if err := sh.Set("5/5"); !errors.Is(err, ErrShard) || sh != (Shard{2, 5}) {
		t.Errorf("Set(5/5) = %v, shard now %v; want an ErrShard and 2/5 kept", err, sh)
	}
	b, err := json.Marshal(sh)
	if err != nil || string(b) != `{"index":2,"count":5}` {
		t.Errorf("json.Marshal(%v) = %s, %v", sh, b, err)
	}
}

func TestShardShareAndConns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		total, n int
		want     []int
	}{
		{10, 4, []int{3, 3, 2, 2}},
		{8, 4, []int{2, 2, 2, 2}},
		{7, 7, []int{1, 1, 1, 1, 1, 1, 1}},
		{9, 1, []int{9}},
		{100, 7, []int{15, 15, 14, 14, 14, 14, 14}},
	} {
		for i, want := range tt.want {
			sh := Shard{i, tt.n}
			if got, err := sh.Conns(tt.total); got != want || err != nil {
				t.Errorf("%v.Conns(%d) = %d, %v; want %d, nil", sh, tt.total, got, err, want)
			}
		}
	}
	for _, tt := range []struct {
		sh    Shard
		total int
	}{{Shard{0, 4}, 3}, {Shard{3, 4}, 0}, {Shard{0, 1}, 0}, {Shard{}, -1}, {Shard{4, 4}, 100}} {
		if got, err := tt.sh.Conns(tt.total); !errors.Is(err, ErrShard) {
			t.Errorf("%v.Conns(%d) = %d, %v; want an ErrShard", tt.sh, tt.total, got, err)
		}
	}
	// Message shares add up to the total, differ by at most one and match
	// the counts of the k < total with k mod N == I.
	for _, n := range []int{1, 2, 3, 4, 7, 64} {
		for _, total := range []uint64{0, 1, 2, 5, 63, 64, 65, 1000, 1001, math.MaxUint64} {
			var sum uint64
			lo, hi := uint64(math.MaxUint64), uint64(0)
			for i := range n {
				s := Shard{i, n}.Share(total)
				sum += s
				lo, hi = min(lo, s), max(hi, s)
				if total <= 1000 {
					want := uint64(0)
					for k := uint64(0); k < total; k++ {
						if k%uint64(n) == uint64(i) {
							want++
						}
					}
					if s != want {
						t.Errorf("Shard{%d, %d}.Share(%d) = %d; want %d", i, n, total, s, want)
					}
				}
			}
			if sum != total || hi-lo > 1 {
				t.Errorf("shares of %d over %d shards add to %d, spread %d..%d", total, n, sum, lo, hi)
			}
		}
	}
	if got := (Shard{5, 2}).Share(100); got != 0 {
		t.Errorf("Shard{5, 2}.Share(100) = %d; want 0 (invalid)", got)
	}
}

func TestDeriveSeed(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{0, 1, 42, math.MaxUint64} {
		seen := map[uint64]uint64{}
		for i := uint64(0); i < 10000; i++ {
			d := DeriveSeed(seed, i)
			if d != DeriveSeed(seed, i) {
				t.Fatalf("DeriveSeed(%d, %d) is not deterministic", seed, i)
			}
			if j, dup := seen[d]; dup {
				t.Fatalf("DeriveSeed(%d, %d) = DeriveSeed(%d, %d) = %#x", seed, i, seed, j, d)
			}
			seen[d] = i
		}
	}
	// Neighbouring seeds and indexes give unrelated seeds: about half the
	// bits differ.
	for _, tt := range [][4]uint64{{1, 0, 2, 0}, {1, 0, 1, 1}, {7, 3, 7, 4}} {
		a, b := DeriveSeed(tt[0], tt[1]), DeriveSeed(tt[2], tt[3])
		if d := popcount(a ^ b); d < 16 || d > 48 {
			t.Errorf("DeriveSeed(%d, %d) = %#x and DeriveSeed(%d, %d) = %#x differ in %d bits; want about 32",
				tt[0], tt[1], a, tt[2], tt[3], b, d)
		}
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestSchedulePoissonDefinition(t *testing.T) {
	t.Parallel()
	// The whole run's Poisson times, which shards must reproduce, are by
	// definition DueAt of the running sums of exponential draws from the
	// seeded PCG, never decreasing.
	for _, tc := range pacerCases {
		s := NewSchedule(tc.p, Poisson, 11)
		r := rand.New(rand.NewPCG(11, 0x9e3779b97f4a7c15))
		var sum float64
		var last time.Duration
		for i := range 2000 {
			sum += r.ExpFloat64()
			want := max(tc.p.DueAt(sum), last)
			last = want
			if got := s.Next(); got != want {
				t.Fatalf("%v poisson: Next() #%d = %v; want DueAt(%g) = %v", tc.p, i, got, sum, want)
			}
			if want == Never {
				break
			}
		}
	}
}

// wholeRun returns up to limit times of the whole run's schedule, stopping
// early at Never (not included).
func wholeRun(p Pacer, a Arrivals, seed uint64, limit int) []time.Duration {
	s := NewSchedule(p, a, seed)
	var out []time.Duration
	for range limit {
		d := s.Next()
		if d == Never {
			break
		}
		out = append(out, d)
	}
	return out
}

// checkShardsMerge checks that shard i of n schedules exactly the whole
// run's times number i, i+n, i+2n, ... of want, then Never once want ended
// before limit.
func checkShardsMerge(t *testing.T, p Pacer, a Arrivals, seed uint64, n int, want []time.Duration, limit int) {
	t.Helper()
	for i := range n {
		sh := Shard{i, n}
		s := NewShardSchedule(p, a, seed, sh)
		k := i
		for ; k < len(want); k += n {
			if got := s.Next(); got != want[k] {
				t.Fatalf("%v %v seed %d shard %v: Next() #%d = %v; the whole run's #%d is %v",
					p, a, seed, sh, k/n, got, k, want[k])
			}
		}
		if len(want) < limit {
			if got := s.Next(); got != Never {
				t.Fatalf("%v %v seed %d shard %v: Next() #%d = %v; want Never (the whole run ended after %d)",
					p, a, seed, sh, k/n, got, len(want))
			}
		}
		if c := s.Count(); c != sh.Share(uint64(len(want))) {
			t.Fatalf("%v %v shard %v: Count() = %d; want Share(%d) = %d", p, a, sh, c, len(want), sh.Share(uint64(len(want))))
		}
	}
}

var shardCounts = []int{1, 2, 3, 4, 7}

func TestShardSchedulesMergeToWholeRun(t *testing.T) {
	t.Parallel()
	const limit = 3000
	for _, tc := range pacerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, a := range []Arrivals{Uniform, Poisson} {
				for _, seed := range []uint64{1, 99} {
					want := wholeRun(tc.p, a, seed, limit)
					for _, n := range append(shardCounts, 64) {
						checkShardsMerge(t, tc.p, a, seed, n, want, limit)
					}
				}
			}
		})
	}
}

func TestShardSchedulesMergeEndOfRun(t *testing.T) {
	t.Parallel()
	// Ramps and steps down to 0 end: every shard ends where the whole run
	// does, with its share of the messages, interpolated pacers included.
	for _, p := range []Pacer{
		LinearPacer{Start: 1000, End: 0, Ramp: 2 * time.Second},           // 1000 messages
		StepPacer{Start: 300, Step: -100, Every: time.Second},             // 600
		pacerOnly{LinearPacer{Start: 999, End: 0, Ramp: 2 * time.Second}}, // 999
		pacerOnly{ConstantPacer{Freq: 3000}},
	} {
		for _, a := range []Arrivals{Uniform, Poisson} {
			want := wholeRun(p, a, 5, 5000)
			for _, n := range shardCounts {
				checkShardsMerge(t, p, a, 5, n, want, 5000)
			}
		}
	}
}

// randomPacer returns a valid pacer of a random kind with random
// parameters, rates up to 1e6 msgs/s.
func randomPacer(r *rand.Rand) Pacer {
	rate := func() float64 { return math.Round(math.Exp(r.Float64()*math.Log(1e6))*1000) / 1000 }
	dur := func() time.Duration { return time.Duration(1+r.IntN(20_000)) * time.Millisecond }
	for {
		var p interface {
			Pacer
			Validate() error
		}
		switch r.IntN(4) {
		case 0:
			p = ConstantPacer{Freq: rate()}
		case 1:
			p = LinearPacer{Start: rate() * float64(r.IntN(2)), End: rate() * float64(r.IntN(2)), Ramp: dur()}
		case 2:
			sp := StepPacer{Start: rate(), Step: rate() / 10, Every: dur()}
			if r.IntN(2) == 0 {
				sp.Step = -sp.Step
				sp.Limit = sp.Start * r.Float64() * float64(r.IntN(2))
			} else {
				sp.Limit = (sp.Start + sp.Step*float64(r.IntN(5))) * float64(r.IntN(2))
			}
			p = sp
		case 3:
			m := rate()
			p = SinePacer{Mean: m, Amp: m * r.Float64(), Period: dur(), Phase: (r.Float64()*2 - 1) * 2 * math.Pi}
		}
		if p.Validate() == nil {
			return p
		}
	}
}

func TestShardSchedulesMergeRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2026, 12))
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		p := randomPacer(r)
		a := Arrivals(r.IntN(2))
		seed := r.Uint64()
		n := shardCounts[r.IntN(len(shardCounts))]
		want := wholeRun(p, a, seed, 2000)
		checkShardsMerge(t, p, a, seed, n, want, 2000)
	}
}

func TestShardScheduleLaterMessages(t *testing.T) {
	t.Parallel()
	// Far into a run at a high rate (gaps of a few nanoseconds, times of
	// hours), shard 5 of 7 still lands on the whole run's times.
	p := SinePacer{Mean: 2e8, Amp: 1.5e8, Period: 3 * time.Second}
	for _, a := range []Arrivals{Uniform, Poisson} {
		whole := NewSchedule(p, a, 77)
		shard := NewShardSchedule(p, a, 77, Shard{5, 7})
		for k := 0; k < 700_000; k++ {
			w := whole.Next()
			if k%7 != 5 {
				continue
			}
			if got := shard.Next(); got != w {
				t.Fatalf("%v %v shard 5/7: message %d of the run at %v; the whole run has %v", p, a, k, got, w)
			}
		}
	}
}

func TestDueTimesNeverDecrease(t *testing.T) {
	t.Parallel()
	// Shards merge exactly into the whole run only if due times never go
	// backwards (see NewShardSchedule): check the raw times, before the
	// Schedule's guard, at high rates, from the start and far into a run.
	pacers := []ContinuousPacer{
		ConstantPacer{Freq: 1e9},
		LinearPacer{Start: 1e6, End: 1e9, Ramp: 10 * time.Second},
		LinearPacer{Start: 1e9, End: 0, Ramp: time.Second},
		StepPacer{Start: 1e6, Step: 1e6, Every: time.Millisecond},
		SinePacer{Mean: 5e8, Amp: 5e8, Period: 10 * time.Millisecond},
		SinePacer{Mean: 1e6, Amp: 1e6, Period: time.Second},
	}
	for _, p := range pacers {
		for _, from := range []float64{0, 1e11} {
			r := rand.New(rand.NewPCG(3, 4))
			sum := from
			var lastU, lastP time.Duration
			for k := range 200_000 {
				sum += r.ExpFloat64()
				u, q := p.DueAt(from+float64(k)+1), p.DueAt(sum)
				if u < lastU || q < lastP {
					t.Fatalf("%v from %g: time %d went backwards: uniform %v after %v, poisson %v after %v",
						p, from, k, u, lastU, q, lastP)
				}
				lastU, lastP = u, q
			}
		}
	}
}

func TestShardScheduleInvalid(t *testing.T) {
	t.Parallel()
	for _, sh := range []Shard{{4, 4}, {-1, 2}, {0, -1}, {0, MaxShards + 1}} {
		s := NewShardSchedule(ConstantPacer{Freq: 1000}, Uniform, 1, sh)
		if d := s.Next(); d != Never || s.Count() != 0 {
			t.Errorf("NewShardSchedule(shard %#v).Next() = %v, Count %d; want Never, 0", sh, d, s.Count())
		}
	}
	// The zero Shard is the whole run.
	a, b := NewSchedule(ConstantPacer{Freq: 7}, Poisson, 3), NewShardSchedule(ConstantPacer{Freq: 7}, Poisson, 3, Shard{})
	for i := range 100 {
		if x, y := a.Next(), b.Next(); x != y {
			t.Fatalf("Next() #%d: whole run %v, zero Shard %v", i, x, y)
		}
	}
}

func TestShardScheduleNextAllocs(t *testing.T) {
	for _, a := range []Arrivals{Uniform, Poisson} {
		s := NewShardSchedule(SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}, a, 1, Shard{3, 64})
		if n := testing.AllocsPerRun(1000, func() { s.Next() }); n != 0 {
			t.Errorf("%v shard 3/64: Next allocates %v times; want 0", a, n)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "4/4", "0/0", "-1/2", "1/65536", "x", "0/65537", "00/01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			var se *ShardError
			if !errors.As(err, &se) || !errors.Is(err, ErrShard) || se.Shard != s {
				t.Fatalf("ParseShard(%q) error %v (%T); want a *ShardError for the input", s, err, err)
			}
			if sh != (Shard{}) {
				t.Fatalf("ParseShard(%q) = %v with error %v; want the zero Shard", s, sh, err)
			}
			return
		}
		if err := sh.Validate(); err != nil || sh.Count < 1 {
			t.Fatalf("ParseShard(%q) = %#v, which does not validate: %v", s, sh, err)
		}
		back, err := ParseShard(sh.String())
		if err != nil || back != sh {
			t.Fatalf("ParseShard(%q) = %v; ParseShard(%q) = %v, %v", s, sh, sh.String(), back, err)
		}
		if want := strconv.Itoa(sh.Index) + "/" + strconv.Itoa(sh.Count); sh.String() != want {
			t.Fatalf("%#v.String() = %q; want %q", sh, sh.String(), want)
		}
	})
}

// benchShardCounts are the shard counts the benchmarks compare.
var benchShardCounts = []int{1, 4, 64}

// benchShards runs one benchmark per arrival process, pacer and shard
// count; next(p, a, n) returns the operation to time.
func benchShards(b *testing.B, next func(p Pacer, a Arrivals, n int) func()) {
	for _, a := range []Arrivals{Uniform, Poisson} {
		for _, tc := range []struct {
			name string
			p    Pacer
		}{
			{"constant", ConstantPacer{Freq: 5000}},
			{"sine", SinePacer{Mean: 5000, Amp: 2000, Period: time.Minute}},
		} {
			for _, n := range benchShardCounts {
				b.Run(a.String()+"/"+tc.name+"/N="+strconv.Itoa(n), func(b *testing.B) {
					b.ReportAllocs()
					op := next(tc.p, a, n)
					for b.Loop() {
						op()
					}
				})
			}
		}
	}
}

// BenchmarkShardScheduleNext measures the cost of one shard message (one
// Next of shard 0/N): what a shard's scheduler spends per message it sends.
func BenchmarkShardScheduleNext(b *testing.B) {
	benchShards(b, func(p Pacer, a Arrivals, n int) func() {
		s := NewShardSchedule(p, a, 1, Shard{0, n})
		return func() { s.Next() }
	})
}

// BenchmarkShardDecimate is the plain alternative NewShardSchedule is
// measured against: draw the whole run's schedule and keep every N-th time.
func BenchmarkShardDecimate(b *testing.B) {
	benchShards(b, func(p Pacer, a Arrivals, n int) func() {
		s := NewSchedule(p, a, 1)
		return func() {
			for range n {
				s.Next()
			}
		}
	})
}
