package workload

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// A Pacer decides when each downstream message is due. Its shape is the rate
// r(t) in messages per second at elapsed time t; the cumulative hits function
// H(t) is the integral of r from 0 to t, and message n (0-based) is due at the
// first elapsed time at which H reaches n+1. So at a constant 1000 msgs/s the
// first message is due after 1 ms, as in vegeta.
//
// Pacers are values: safe for concurrent use and cheap to copy. An invalid
// pacer (see each type's Validate) never sends: Due returns Never.
type Pacer interface {
	// Rate returns the intended rate in messages per second at elapsed
	// (+Inf for an unlimited pacer).
	Rate(elapsed time.Duration) float64
	// Due returns the elapsed time at which message number n (0-based) is
	// due: the inverse of the cumulative hits function at n+1, rounded to
	// the nanosecond. It is the intended send time used for coordinated-
	// omission correction. It returns Never when message n is never due.
	Due(n uint64) time.Duration
}

// A ContinuousPacer is a Pacer that can evaluate and invert its cumulative
// hits function at any real count. Schedule uses it for Poisson arrivals
// (time rescaling); for other Pacers it interpolates between Due(n-1) and
// Due(n). Every pacer of this package implements it.
type ContinuousPacer interface {
	Pacer
	// Hits returns H(elapsed), the number of messages due by elapsed: the
	// integral of Rate from 0 to elapsed (+Inf for an unlimited pacer).
	Hits(elapsed time.Duration) float64
	// DueAt returns the first elapsed time at which H reaches h (h >= 0),
	// rounded to the nanosecond, or Never. Due(n) == DueAt(n+1).
	DueAt(h float64) time.Duration
}

// Validator is a value that can tell whether it is usable: every pacer
// of this package, MessageConfig and Shard. The driver refuses a pacer
// whose Validate fails; a Pacer that is not a Validator is taken as it is.
type Validator interface {
	// Validate returns nil, or an error saying what is unusable and why.
	Validate() error
}

// UnlimitedPacer is a Pacer that says whether it is unlimited: every
// message due at once, so that the driver keeps every window full and
// needs no schedule (ConstantPacer with Freq 0). The driver takes a
// Pacer that is not an UnlimitedPacer as unlimited when its Rate(0) is
// +Inf.
type UnlimitedPacer interface {
	Pacer
	// Unlimited reports whether every message is due at once.
	Unlimited() bool
}

// Never is the Due time of a message that is never due: the rate has fallen
// to zero for good, or the time lies beyond what a time.Duration holds
// (about 292 years).
const Never = time.Duration(math.MaxInt64)

// MaxRate is the highest rate, in messages per second, a pacer accepts.
const MaxRate = 1e9

// MinStepEvery is the shortest step interval a StepPacer accepts.
const MinStepEvery = time.Millisecond

// SinePacer phases, in radians, named after where the wave starts.
const (
	// MeanUp starts at the mean rate, rising towards the peak (phase 0).
	MeanUp float64 = 0
	// Peak starts at the highest rate, falling towards the mean.
	Peak = math.Pi / 2
	// MeanDown starts at the mean rate, falling towards the trough.
	MeanDown = math.Pi
	// Trough starts at the lowest rate, rising towards the mean.
	Trough = 3 * math.Pi / 2
)

var (
	_ ContinuousPacer = ConstantPacer{}
	_ ContinuousPacer = LinearPacer{}
	_ ContinuousPacer = StepPacer{}
	_ ContinuousPacer = SinePacer{}

	_ Validator = ConstantPacer{}
	_ Validator = LinearPacer{}
	_ Validator = StepPacer{}
	_ Validator = SinePacer{}
	_ Validator = MessageConfig{}
	_ Validator = Shard{}

	_ UnlimitedPacer = ConstantPacer{}
)

// maxNanos is 2^63 as a float64: durations at or beyond it are Never.
const maxNanos = float64(math.MaxInt64)

// seconds converts an elapsed time to seconds, treating negative times as 0.
func seconds(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return d.Seconds()
}

// toDuration rounds a time in seconds to the nanosecond; NaN, +Inf and times
// past the range of time.Duration give Never, negative times give 0.
func toDuration(sec float64) time.Duration {
	ns := sec * 1e9
	if !(ns < maxNanos) {
		return Never
	}
	if ns <= 0 {
		return 0
	}
	return time.Duration(math.Round(ns))
}

// dueOf returns DueAt(n+1) for the integer-count Due methods.
func dueOf(p ContinuousPacer, n uint64) time.Duration {
	return p.DueAt(float64(n) + 1)
}

// validRate reports whether r is a rate a pacer accepts: 0 <= r <= MaxRate.
func validRate(r float64) bool { return r >= 0 && r <= MaxRate }

// formatRate formats a rate as the shortest decimal that parses back exactly.
func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// ConstantPacer sends at a constant rate. A zero Freq means unlimited: every
// message is due at once (Due returns 0), which lets the
// driver keep every window full.
type ConstantPacer struct {
	// Freq is the rate in messages per second, 0 <= Freq <= MaxRate; 0 means
	// unlimited.
	Freq float64
}

// String returns the pacer in rate-shape syntax, e.g. "constant:5000".
func (p ConstantPacer) String() string { return "constant:" + formatRate(p.Freq) }

// Validate reports whether the pacer is usable: Freq within 0..MaxRate.
func (p ConstantPacer) Validate() error {
	if !validRate(p.Freq) {
		return shapeErr(p.String(), fmt.Sprintf("rate must be between 0 and %g msgs/s", float64(MaxRate)))
	}
	return nil
}

// Unlimited reports whether the pacer sends as fast as the windows allow.
func (p ConstantPacer) Unlimited() bool { return p.Freq == 0 }

// Rate implements Pacer: Freq, or +Inf when unlimited.
func (p ConstantPacer) Rate(time.Duration) float64 {
	switch {
	case !validRate(p.Freq):
		return 0
	case p.Freq == 0:
		return math.Inf(1)
	}
	return p.Freq
}

// Due implements Pacer: (n+1)/Freq seconds, or 0 when unlimited.
func (p ConstantPacer) Due(n uint64) time.Duration { return dueOf(p, n) }

// Hits implements ContinuousPacer: Freq times elapsed, or +Inf when unlimited.
func (p ConstantPacer) Hits(elapsed time.Duration) float64 {
	switch {
	case !validRate(p.Freq):
		return 0
	case p.Freq == 0:
		return math.Inf(1)
	}
	return p.Freq * seconds(elapsed)
}

// DueAt implements ContinuousPacer.
func (p ConstantPacer) DueAt(h float64) time.Duration {
	switch {
	case !validRate(p.Freq) || math.IsNaN(h):
		return Never
	case p.Freq == 0 || h <= 0:
		return 0
	}
	return toDuration(h / p.Freq)
}

// LinearPacer ramps the rate linearly from Start to End over Ramp, then holds
// End. A ramp that ends at 0 stops once the ramp's messages are sent.
type LinearPacer struct {
	// Start is the rate at elapsed 0 in messages per second, 0..MaxRate.
	Start float64
	// End is the rate at the end of the ramp and afterwards, 0..MaxRate.
	End float64
	// Ramp is how long the rate takes to go from Start to End; > 0.
	Ramp time.Duration
}

// String returns the pacer in rate-shape syntax, e.g. "linear:1000..5000/30s".
func (p LinearPacer) String() string {
	return "linear:" + formatRate(p.Start) + ".." + formatRate(p.End) + "/" + p.Ramp.String()
}

// Validate reports whether the pacer is usable: both rates within 0..MaxRate,
// not both 0, and a positive Ramp.
func (p LinearPacer) Validate() error {
	switch {
	case !validRate(p.Start) || !validRate(p.End):
		return shapeErr(p.String(), fmt.Sprintf("rates must be between 0 and %g msgs/s", float64(MaxRate)))
	case p.Ramp <= 0:
		return shapeErr(p.String(), "ramp duration must be positive")
	case p.Start == 0 && p.End == 0:
		return shapeErr(p.String(), "rate is 0 throughout: no message would ever be sent")
	}
	return nil
}

func (p LinearPacer) valid() bool {
	return validRate(p.Start) && validRate(p.End) && p.Ramp > 0
}

// Slope returns the ramp's slope in messages per second per second.
func (p LinearPacer) Slope() float64 { return (p.End - p.Start) / p.Ramp.Seconds() }

// Rate implements Pacer.
func (p LinearPacer) Rate(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	if elapsed >= p.Ramp {
		return p.End
	}
	return p.Start + p.Slope()*seconds(elapsed)
}

// Due implements Pacer.
func (p LinearPacer) Due(n uint64) time.Duration { return dueOf(p, n) }

// rampHits returns the messages due by the end of the ramp.
func (p LinearPacer) rampHits() float64 { return (p.Start + p.End) / 2 * p.Ramp.Seconds() }

// Hits implements ContinuousPacer: Start·t + Slope·t²/2 during the ramp.
func (p LinearPacer) Hits(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	if elapsed >= p.Ramp {
		return p.rampHits() + p.End*(elapsed-p.Ramp).Seconds()
	}
	t := seconds(elapsed)
	return p.Start*t + p.Slope()*t*t/2
}

// DueAt implements ContinuousPacer with the closed-form inverse of Hits.
func (p LinearPacer) DueAt(h float64) time.Duration {
	switch {
	case !p.valid() || math.IsNaN(h):
		return Never
	case h <= 0:
		return 0
	}
	if hr := p.rampHits(); h > hr {
		if p.End == 0 {
			return Never
		}
		return toDuration(p.Ramp.Seconds() + (h-hr)/p.End)
	}
	// Solve Slope/2·t² + Start·t = h for t >= 0 in the form that cannot
	// cancel: t = 2h / (Start + sqrt(Start² + 2·Slope·h)). Within the ramp
	// the discriminant is >= 0 (rounding aside) and the denominator > 0.
	a, b := p.Start, p.Slope()
	den := a + math.Sqrt(math.Max(0, a*a+2*b*h))
	if !(den > 0) {
		return Never
	}
	return toDuration(math.Min(2*h/den, p.Ramp.Seconds()))
}
