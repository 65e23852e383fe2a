package workload

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"
)

// Arrivals says how messages are spread in time around a pacer's rate.
type Arrivals uint8

const (
	// Uniform sends message n exactly at Pacer.Due(n): evenly spaced at a
	// constant rate.
	Uniform Arrivals = iota
	// Poisson sends messages as a Poisson process whose intensity is the
	// pacer's rate: exponential gaps with mean 1/rate at a constant rate.
	Poisson
)

// ErrArrivals is the sentinel ParseArrivals's errors wrap.
var ErrArrivals = errors.New("workload: bad arrivals")

// String returns "uniform" or "poisson".
func (a Arrivals) String() string {
	switch a {
	case Uniform:
		return "uniform"
	case Poisson:
		return "poisson"
	}
	return "Arrivals(" + strconv.Itoa(int(a)) + ")"
}

// ParseArrivals parses "uniform" or "poisson" (the --arrivals flag).
func ParseArrivals(s string) (Arrivals, error) {
	switch s {
	case "uniform":
		return Uniform, nil
	case "poisson":
		return Poisson, nil
	}
	return 0, fmt.Errorf("%w %q: want uniform or poisson", ErrArrivals, s)
}

// Set implements flag.Value.
func (a *Arrivals) Set(s string) error {
	v, err := ParseArrivals(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText implements encoding.TextMarshaler, for results files.
func (a Arrivals) MarshalText() ([]byte, error) {
	if a > Poisson {
		return nil, fmt.Errorf("%w: %s", ErrArrivals, a)
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Arrivals) UnmarshalText(b []byte) error { return a.Set(string(b)) }

// Schedule produces the intended send time of each successive message from a
// Pacer and an Arrivals process. It is stateful and meant for one goroutine;
// Next does not allocate.
//
// Uniform arrivals give Pacer.Due(n). Poisson arrivals rescale time: the
// arrival times S₁ < S₂ < ... of a unit-rate Poisson process (sums of
// exponential draws from a PCG generator seeded by the seed) are mapped
// through the inverse of the pacer's cumulative hits function, so message n
// is due at H⁻¹(S_{n+1}). That is exactly a Poisson process whose intensity
// is the pacer's rate at every instant, and the same seed gives the same times.
// A ContinuousPacer is inverted exactly; any other Pacer is interpolated
// linearly between Due(k-1) and Due(k).
//
// A shard's schedule (NewShardSchedule) keeps every stride-th message of the
// run, starting at message number first; the whole run has stride 1.
type Schedule struct {
	pacer    Pacer
	cont     ContinuousPacer
	arrivals Arrivals
	n        uint64 // messages scheduled so far by this schedule
	first    uint64 // run number of this schedule's first message
	stride   uint64 // run numbers between two of its messages, >= 1
	s        float64
	last     time.Duration
	pcg      rand.PCG
	rng      *rand.Rand
}

// NewSchedule returns a schedule of p's messages with the given arrivals; seed
// fixes the Poisson draws (Uniform ignores it). An Arrivals value other than
// Uniform and Poisson is treated as Uniform.
func NewSchedule(p Pacer, arrivals Arrivals, seed uint64) *Schedule {
	s := &Schedule{pacer: p, arrivals: arrivals, stride: 1}
	s.cont, _ = p.(ContinuousPacer)
	s.pcg.Seed(seed, 0x9e3779b97f4a7c15)
	s.rng = rand.New(&s.pcg)
	return s
}

// Next returns the elapsed time, since the start of the run, at which the
// next message is intended to be sent. The times never decrease. Once no
// further message is due it returns Never, and keeps returning it.
func (s *Schedule) Next() time.Duration {
	if s.last == Never {
		return Never
	}
	var due time.Duration
	if s.arrivals == Poisson {
		// Every message of the run up to this one adds its gap, in the
		// run's order, so that a shard's sums are the whole run's.
		draws := s.stride
		if s.n == 0 {
			draws = s.first + 1
		}
		for range draws {
			s.s += s.rng.ExpFloat64()
		}
		due = s.dueAt(s.s)
	} else {
		hi, lo := bits.Mul64(s.n, s.stride)
		k, carry := bits.Add64(lo, s.first, 0)
		if due = Never; hi|carry == 0 {
			due = s.pacer.Due(k)
		}
	}
	if due != Never {
		s.n++
	}
	if due < s.last {
		due = s.last
	}
	s.last = due
	return due
}

// Count returns how many messages Next has scheduled: the calls that did not
// return Never.
func (s *Schedule) Count() uint64 { return s.n }

// dueAt inverts the pacer's hits function at h > 0.
func (s *Schedule) dueAt(h float64) time.Duration {
	if s.cont != nil {
		return s.cont.DueAt(h)
	}
	k := math.Floor(h)
	if !(k < 1<<63) {
		return Never
	}
	var lo time.Duration
	if k >= 1 {
		lo = s.pacer.Due(uint64(k) - 1)
	}
	hi := s.pacer.Due(uint64(k))
	if lo == Never || hi == Never {
		return Never
	}
	return lo + time.Duration(math.Round((h-k)*float64(hi-lo)))
}
