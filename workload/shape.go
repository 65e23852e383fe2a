package workload

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// RateShapeHelp describes the syntax ParseRateShape accepts, for the CLI's
// --help.
const RateShapeHelp = `Rate shapes (--rate-shape; rates in messages per second, durations as in 30s, 1m30s, 500ms):
  RATE | constant:RATE         constant rate; 0 means unlimited (every window kept full)
  linear:FROM..TO/RAMP         ramp from FROM to TO over RAMP, then hold TO
                                 e.g. linear:1000..5000/30s, linear:5000..0/1m (stops at 0)
  step:START+STEP/EVERY[..LIMIT]
                               START for EVERY, then add STEP every EVERY, up to LIMIT
                                 (no limit when omitted); EVERY is at least 1ms
                                 e.g. step:1000+500/10s..5000
  step:START-STEP/EVERY[..LIMIT]
                               falling steps down to LIMIT (0 when omitted: stops at 0)
                                 e.g. step:5000-1000/10s..1000
  sine:MEAN±AMP/PERIOD[@PHASE] MEAN + AMP·sin(PHASE + 2π·t/PERIOD); AMP <= MEAN;
                                 write +- for ± in ASCII, e.g. sine:5000+-2000/60s
                                 PHASE: up (default), peak, down, trough, or an
                                 angle such as 90deg or 1.5708rad (within one turn)
RATE is a plain decimal (5000, 0.5) of at most 1e9; no signs, exponents or spaces.
Message n is due when the integral of the rate reaches n+1; --arrivals poisson
draws exponential gaps whose mean follows the shape instead.`

// ErrRateShape is the sentinel every rate-shape error wraps; test with
// errors.Is.
var ErrRateShape = errors.New("workload: bad rate shape")

// ShapeError reports a rate shape that cannot be parsed or describes an
// impossible pacer. It wraps ErrRateShape.
type ShapeError struct {
	// Shape is the offending input (or the pacer in rate-shape syntax).
	Shape string
	// Reason says what is wrong, and for syntax errors what was expected.
	Reason string
}

func shapeErr(shape, reason string) error { return &ShapeError{Shape: shape, Reason: reason} }

// Error returns `workload: bad rate shape "SHAPE": REASON`.
func (e *ShapeError) Error() string {
	return ErrRateShape.Error() + " " + strconv.Quote(e.Shape) + ": " + e.Reason
}

// Unwrap returns ErrRateShape.
func (e *ShapeError) Unwrap() error { return ErrRateShape }

// Syntax reminders appended to errors, one per kind.
const (
	linearSyntax = "want linear:FROM..TO/RAMP, e.g. linear:1000..5000/30s"
	stepSyntax   = "want step:START+STEP/EVERY[..LIMIT], e.g. step:1000+500/10s..5000"
	sineSyntax   = "want sine:MEAN±AMP/PERIOD[@PHASE], e.g. sine:5000+-2000/60s"
)

// ParseRateShape parses a rate shape (syntax in RateShapeHelp) into a valid
// ConstantPacer, LinearPacer, StepPacer or SinePacer. Errors are *ShapeError
// and wrap ErrRateShape. The String method of each pacer gives back a shape
// that parses to the same pacer.
func ParseRateShape(s string) (Pacer, error) {
	in := s
	s = strings.TrimSpace(s)
	kind, body, found := strings.Cut(s, ":")
	if !found {
		kind, body = "constant", s
	}
	fail := func(reason string) (Pacer, error) { return nil, shapeErr(in, reason) }
	var p interface {
		Pacer
		Validator
	}
	switch kind {
	case "constant":
		r, err := parseRate(body)
		if err != nil {
			if !found {
				return fail(err.Error() + " (want a rate, or one of constant:, linear:, step:, sine:)")
			}
			return fail(err.Error())
		}
		p = ConstantPacer{Freq: r}
	case "linear":
		rates, ramp, ok := strings.Cut(body, "/")
		if !ok {
			return fail(`missing "/RAMP" (` + linearSyntax + ")")
		}
		from, to, ok := strings.Cut(rates, "..")
		if !ok {
			return fail(`missing ".." between the rates (` + linearSyntax + ")")
		}
		var lp LinearPacer
		var err error
		if lp.Start, err = parseRate(from); err != nil {
			return fail("from " + err.Error())
		}
		if lp.End, err = parseRate(to); err != nil {
			return fail("to " + err.Error())
		}
		if lp.Ramp, err = parseDuration(ramp); err != nil {
			return fail("ramp " + err.Error())
		}
		p = lp
	case "step":
		main, limit, hasLimit := strings.Cut(body, "..")
		rates, every, ok := strings.Cut(main, "/")
		if !ok {
			return fail(`missing "/EVERY" (` + stepSyntax + ")")
		}
		i := strings.IndexAny(rates, "+-")
		if i < 0 {
			return fail(`missing "+STEP" or "-STEP" (` + stepSyntax + ")")
		}
		var sp StepPacer
		var err error
		if sp.Start, err = parseRate(rates[:i]); err != nil {
			return fail("start " + err.Error())
		}
		if sp.Step, err = parseRate(rates[i+1:]); err != nil {
			return fail("step " + err.Error())
		}
		if rates[i] == '-' {
			sp.Step = -sp.Step
		}
		if sp.Every, err = parseDuration(every); err != nil {
			return fail("step interval " + err.Error())
		}
		if hasLimit {
			if sp.Limit, err = parseRate(limit); err != nil {
				return fail("limit " + err.Error())
			}
		}
		p = sp
	case "sine":
		main, phase, hasPhase := strings.Cut(body, "@")
		rates, period, ok := strings.Cut(main, "/")
		if !ok {
			return fail(`missing "/PERIOD" (` + sineSyntax + ")")
		}
		mean, amp, ok := strings.Cut(rates, "±")
		if !ok {
			mean, amp, ok = strings.Cut(rates, "+-")
		}
		if !ok {
			return fail(`missing "±AMP" or "+-AMP" (` + sineSyntax + ")")
		}
		var sp SinePacer
		var err error
		if sp.Mean, err = parseRate(mean); err != nil {
			return fail("mean " + err.Error())
		}
		if sp.Amp, err = parseRate(amp); err != nil {
			return fail("amplitude " + err.Error())
		}
		if sp.Period, err = parseDuration(period); err != nil {
			return fail("period " + err.Error())
		}
		if hasPhase {
			if sp.Phase, err = parsePhase(phase); err != nil {
				return fail(err.Error())
			}
		}
		p = sp
	default:
		return fail("unknown kind " + strconv.Quote(kind) + " (want constant, linear, step or sine)")
	}
	if err := p.Validate(); err != nil {
		var se *ShapeError
		if errors.As(err, &se) {
			return fail(se.Reason)
		}
		return nil, err
	}
	return p, nil
}

// isDecimal reports whether s is DIGITS or DIGITS.DIGITS.
func isDecimal(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return s != ""
}

// parseRate parses a RATE: a plain decimal within 0..MaxRate.
func parseRate(s string) (float64, error) {
	if !isDecimal(s) {
		return 0, errors.New("rate " + strconv.Quote(s) + " is not a plain decimal number such as 5000 or 0.5")
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r > MaxRate {
		return 0, errors.New("rate " + strconv.Quote(s) + " is above the maximum of 1e9 msgs/s")
	}
	return r, nil
}

// parseDuration parses a positive Go duration.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("duration " + strconv.Quote(s) + " is not a duration such as 30s, 1m30s or 500ms")
	}
	if d <= 0 {
		return 0, errors.New("duration " + strconv.Quote(s) + " must be positive")
	}
	return d, nil
}

// parsePhase parses a PHASE: a name, or a signed decimal angle in deg or rad.
func parsePhase(s string) (float64, error) {
	switch s {
	case "up":
		return MeanUp, nil
	case "peak":
		return Peak, nil
	case "down":
		return MeanDown, nil
	case "trough":
		return Trough, nil
	}
	bad := errors.New("phase " + strconv.Quote(s) + " is not up, peak, down, trough or an angle such as 90deg or 1.5708rad within one turn")
	num, scale := s, 1.0
	switch {
	case strings.HasSuffix(s, "deg"):
		num, scale = strings.TrimSuffix(s, "deg"), math.Pi/180
	case strings.HasSuffix(s, "rad"):
		num = strings.TrimSuffix(s, "rad")
	default:
		return 0, bad
	}
	neg := strings.HasPrefix(num, "-")
	num = strings.TrimPrefix(num, "-")
	if !isDecimal(num) {
		return 0, bad
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	if neg {
		v = -v
	}
	v *= scale
	if !(math.Abs(v) <= maxPhase) {
		return 0, bad
	}
	return v, nil
}
