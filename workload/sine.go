package workload

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// SinePacer varies the rate as a sine wave:
//
//	r(t) = Mean + Amp·sin(Phase + 2π·t/Period)
//
// Its cumulative hits function has the closed form
//
//	H(t) = Mean·t + (Amp·Period/2π)·(cos(Phase) - cos(Phase + 2π·t/Period))
//
// which has no closed-form inverse, so Due solves it numerically (a Newton
// iteration kept inside a bisection bracket) within one period, after
// removing the whole periods exactly (each holds Mean·Period messages): the
// error does not grow with the length of the run. Amp may equal Mean, so that
// the rate touches 0 once per period.
type SinePacer struct {
	// Mean is the mean rate in messages per second, > 0 and <= MaxRate.
	Mean float64
	// Amp is the amplitude in messages per second, 0 <= Amp <= Mean.
	Amp float64
	// Period is the length of one wave, > 0.
	Period time.Duration
	// Phase is where the wave starts, in radians, |Phase| <= 2π; see MeanUp,
	// Peak, MeanDown and Trough.
	Phase float64
}

// String returns the pacer in rate-shape syntax, e.g. "sine:5000+-2000/1m0s@peak".
func (p SinePacer) String() string {
	s := "sine:" + formatRate(p.Mean) + "+-" + formatRate(p.Amp) + "/" + p.Period.String()
	switch p.Phase {
	case MeanUp:
	case Peak:
		s += "@peak"
	case MeanDown:
		s += "@down"
	case Trough:
		s += "@trough"
	default:
		s += "@" + strconv.FormatFloat(p.Phase, 'f', -1, 64) + "rad"
	}
	return s
}

// maxPhase bounds |Phase|, with room for rounding in degree conversions.
const maxPhase = 2 * math.Pi * (1 + 1e-12)

// Validate reports whether the pacer is usable: 0 < Mean <= MaxRate,
// 0 <= Amp <= Mean, Period > 0, |Phase| <= 2π.
func (p SinePacer) Validate() error {
	reason := ""
	switch {
	case !(p.Mean > 0 && p.Mean <= MaxRate):
		reason = fmt.Sprintf("mean rate must be above 0 and at most %g msgs/s", float64(MaxRate))
	case !(p.Amp >= 0 && p.Amp <= p.Mean):
		reason = "amplitude must be between 0 and the mean rate (rates cannot go below 0)"
	case p.Period <= 0:
		reason = "period must be positive"
	case !(math.Abs(p.Phase) <= maxPhase):
		reason = "phase must be within one turn (-360deg..360deg)"
	default:
		return nil
	}
	return shapeErr(p.String(), reason)
}

func (p SinePacer) valid() bool {
	return p.Mean > 0 && p.Mean <= MaxRate && p.Amp >= 0 && p.Amp <= p.Mean &&
		p.Period > 0 && math.Abs(p.Phase) <= maxPhase
}

// Rate implements Pacer.
func (p SinePacer) Rate(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	return p.rate(math.Mod(seconds(elapsed), p.Period.Seconds()))
}

// rate returns r(τ) for τ in seconds within the first period.
func (p SinePacer) rate(tau float64) float64 {
	return math.Max(0, p.Mean+p.Amp*math.Sin(p.Phase+2*math.Pi*tau/p.Period.Seconds()))
}

// periodHits returns H(τ) for τ in seconds within the first period.
func (p SinePacer) periodHits(tau float64) float64 {
	per := p.Period.Seconds()
	return p.Mean*tau + p.Amp*per/(2*math.Pi)*(math.Cos(p.Phase)-math.Cos(p.Phase+2*math.Pi*tau/per))
}

// Due implements Pacer.
func (p SinePacer) Due(n uint64) time.Duration { return dueOf(p, n) }

// Hits implements ContinuousPacer.
func (p SinePacer) Hits(elapsed time.Duration) float64 {
	if !p.valid() {
		return 0
	}
	per := p.Period.Seconds()
	t := seconds(elapsed)
	q := math.Floor(t / per)
	return q*p.Mean*per + p.periodHits(t-q*per)
}

// sineTol is the precision, in seconds, to which DueAt solves for the time
// within a period: well below the nanosecond it rounds to.
const sineTol = 1e-11

// DueAt implements ContinuousPacer.
func (p SinePacer) DueAt(h float64) time.Duration {
	switch {
	case !p.valid() || math.IsNaN(h):
		return Never
	case h <= 0:
		return 0
	}
	per := p.Period.Seconds()
	whole := p.Mean * per
	q := math.Floor(h / whole)
	if !(q*per < maxNanos/1e9) {
		return Never
	}
	rem := math.Min(math.Max(0, h-q*whole), whole)
	// Newton's method on periodHits(τ) = rem inside the bracket [lo, hi],
	// falling back to bisection where the rate is near 0 or a step would
	// leave the bracket. periodHits is strictly increasing on [0, per]. One
	// Sincos gives both periodHits and its derivative, the rate.
	omega := 2 * math.Pi / per
	c := p.Amp / omega
	c0 := c * math.Cos(p.Phase)
	lo, hi := 0.0, per
	tau := rem / p.Mean
	for range 200 {
		sin, cos := math.Sincos(p.Phase + omega*tau)
		f := p.Mean*tau + c0 - c*cos - rem
		if f == 0 {
			break
		}
		if f > 0 {
			hi = tau
		} else {
			lo = tau
		}
		if hi-lo < sineTol {
			tau = (lo + hi) / 2
			break
		}
		r := p.Mean + p.Amp*sin
		next := tau - f/r
		if !(r > 0) || !(next > lo && next < hi) {
			tau = (lo + hi) / 2
			continue
		}
		if math.Abs(next-tau) < sineTol {
			tau = next
			break
		}
		tau = next
	}
	return toDuration(q*per + tau)
}
