package workload

import (
	"fmt"
	"math"
	"time"
)

// StepPacer changes the rate in steps: Start for the first Every, then
// Start+Step for the next Every, and so on, until the rate reaches Limit,
// where it stays. A negative Step steps down; falling steps stop at Limit, and
// a fall to 0 stops sending once the earlier steps' messages are sent.
type StepPacer struct {
	// Start is the rate of the first step in messages per second, 0..MaxRate.
	Start float64
	// Step is added to the rate at every step, in messages per second;
	// negative to step down, 0 for a constant rate.
	Step float64
	// Every is the length of each step, at least MinStepEvery (unused when
	// Step is 0).
	Every time.Duration
	// Limit is the rate at which stepping stops, in messages per second,
	// 0..MaxRate. For rising steps 0 means no limit (and Limit >= Start
	// otherwise); falling steps stop at Limit <= Start, 0 meaning they fall
	// to 0.
	Limit float64
}

// String returns the pacer in rate-shape syntax, e.g. "step:1000+500/10s..5000".
func (p StepPacer) String() string {
	op, step := "+", p.Step
	if math.Signbit(step) {
		op, step = "-", -step
	}
	s := "step:" + formatRate(p.Start) + op + formatRate(step) + "/" + p.Every.String()
	if p.Limit != 0 {
		s += ".." + formatRate(p.Limit)
	}
	return s
}

// Validate reports whether the pacer is usable: rates within 0..MaxRate,
// |Step| <= MaxRate, Every >= MinStepEvery when Step != 0, Limit on the right
// side of Start, and not a rate of 0 throughout.
func (p StepPacer) Validate() error {
	reason := ""
	switch {
	case !validRate(p.Start) || !validRate(p.Limit):
		reason = fmt.Sprintf("rates must be between 0 and %g msgs/s", float64(MaxRate))
	case !(math.Abs(p.Step) <= MaxRate):
		reason = fmt.Sprintf("step must be between -%g and %g msgs/s", float64(MaxRate), float64(MaxRate))
	case p.Step != 0 && p.Every < MinStepEvery:
		reason = fmt.Sprintf("step interval must be at least %s", MinStepEvery)
	case p.Step > 0 && p.Limit != 0 && p.Limit < p.Start:
		reason = "limit of rising steps is below the start rate"
	case p.Step < 0 && p.Limit > p.Start:
		reason = "limit of falling steps is above the start rate"
	case p.Start == 0 && p.Step <= 0:
		reason = "rate is 0 throughout: no message would ever be sent"
	default:
		return nil
	}
	return shapeErr(p.String(), reason)
}

func (p StepPacer) valid() bool {
	return validRate(p.Start) && validRate(p.Limit) && math.Abs(p.Step) <= MaxRate &&
		(p.Step == 0 || p.Every >= MinStepEvery) &&
		!(p.Step > 0 && p.Limit != 0 && p.Limit < p.Start) &&
		!(p.Step < 0 && p.Limit > p.Start)
}

// steps returns the step length E in seconds and K, the index of the first
// step whose rate is the clamped Limit (+Inf when stepping never stops).
// Steps j < K run at Start + j·Step.
func (p StepPacer) steps() (every, k float64) {
	every = p.Every.Seconds()
	if p.Step == 0 || (p.Step > 0 && p.Limit == 0) {
		return every, math.Inf(1)
	}
	return every, math.Ceil((p.Limit - p.Start) / p.Step)
}

// rateOf returns the rate of step j.
func (p StepPacer) rateOf(j, k float64) float64 {
	if j >= k {
		return p.Limit
	}
	return p.Start + j*p.Step
}

// hitsAt returns H(j·Every), the messages due by the start of step j.
func (p StepPacer) hitsAt(j, every, k float64) float64 {
	if j <= k {
		return every * (j*p.Start + p.Step*j*(j-1)/2)
	}
	return p.hitsAt(k, every, k) + (j-k)*every*p.Limit
}

// Rate implements Pacer.
func (p StepPacer) Rate(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	if p.Step == 0 {
		return p.Start
	}
	every, k := p.steps()
	return p.rateOf(math.Floor(seconds(elapsed)/every), k)
}

// Due implements Pacer.
func (p StepPacer) Due(n uint64) time.Duration { return dueOf(p, n) }

// Hits implements ContinuousPacer: the sum of the whole steps so far (an
// arithmetic series up to the limit) plus the current step's share.
func (p StepPacer) Hits(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	t := seconds(elapsed)
	if p.Step == 0 {
		return p.Start * t
	}
	every, k := p.steps()
	j := math.Floor(t / every)
	return p.hitsAt(j, every, k) + (t-j*every)*p.rateOf(j, k)
}

// DueAt implements ContinuousPacer with a closed-form inverse: the step is the
// root of a quadratic (corrected by at most a few integer steps for
// rounding), the time within it linear.
func (p StepPacer) DueAt(h float64) time.Duration {
	switch {
	case !p.valid() || math.IsNaN(h):
		return Never
	case h <= 0:
		return 0
	case p.Step == 0:
		if p.Start == 0 {
			return Never
		}
		return toDuration(h / p.Start)
	}
	every, k := p.steps()
	if !math.IsInf(k, 1) {
		if hk := p.hitsAt(k, every, k); h > hk {
			if p.Limit == 0 {
				return Never
			}
			return toDuration(k*every + (h-hk)/p.Limit)
		}
	}
	// Largest step j in [0, k-1] with hitsAt(j) <= h: solve
	// Every·(Step/2·j² + B·j) = h, B = Start - Step/2, stably.
	c := h / every
	b := p.Start - p.Step/2
	sq := math.Sqrt(math.Max(0, b*b+2*p.Step*c))
	var jr float64
	if b > 0 {
		jr = 2 * c / (b + sq)
	} else {
		jr = (sq - b) / p.Step
	}
	if !(jr*every < maxNanos/1e9) {
		return Never
	}
	jmax := k - 1
	j := math.Min(math.Max(0, math.Floor(jr)), jmax)
	for i := 0; i < 4 && j > 0 && p.hitsAt(j, every, k) > h; i++ {
		j--
	}
	for i := 0; i < 4 && j < jmax && p.hitsAt(j+1, every, k) <= h; i++ {
		j++
	}
	r := p.rateOf(j, k)
	if !(r > 0) {
		return Never
	}
	return toDuration(j*every + math.Min((h-p.hitsAt(j, every, k))/r, every))
}
