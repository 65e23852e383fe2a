package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

// The typed flag values of the CLI: each parses and checks its flag as it
// is set, so that a bad value is refused by flag parsing with the flag's
// name, and keeps the text given so that String returns it (a results
// file records flags by their String, a help text shows their defaults).
// Every String works on the zero value, which flag.PrintDefaults makes to
// tell a default worth showing, and returns "" for it.
var (
	_ flag.Getter = (*fractionFlag)(nil)
	_ flag.Getter = (*rateFlag)(nil)
	_ flag.Value  = (*rateShapeFlag)(nil)
	_ flag.Value  = (*arrivalsFlag)(nil)
	_ flag.Value  = (*shardFlag)(nil)
	_ flag.Value  = (*loginDomainFlag)(nil)
	_ flag.Value  = (*saslUserFlag)(nil)
	_ flag.Value  = (*targetFlag)(nil)
	_ flag.Value  = (*tlsModeFlag)(nil)
	_ flag.Value  = (*clientFlag)(nil)
	_ flag.Value  = (*listFlag)(nil)
	_ flag.Value  = (*startAtFlag)(nil)
	_ flag.Value  = (*jobFlag)(nil)
	_ flag.Value  = (*gateFlag)(nil)
)

// fractionFlag is a tolerated change (compare --max-rate-drop,
// --max-p99-rise): "5%", "0.05" or "off" (stored as -1, which disables
// the check).
type fractionFlag struct{ p *float64 }

// String returns the fraction as a percentage, or "off".
func (f *fractionFlag) String() string {
	if f.p == nil {
		return ""
	}
	if *f.p < 0 {
		return "off"
	}
	return strconv.FormatFloat(*f.p*100, 'f', -1, 64) + "%"
}

// Set implements flag.Value.
func (f *fractionFlag) Set(s string) error {
	v, err := parseFraction(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

// Get implements flag.Getter: the fraction, -1 for off.
func (f *fractionFlag) Get() any { return *f.p }

// parseFraction reads "5%" as 0.05, "0.05" as 0.05 and "off" or "none" as -1.
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "off", "none":
		return -1, nil
	}
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1e9 {
		return 0, fmt.Errorf("%q is not a non-negative percentage (5%%), fraction (0.05) or off", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// rateFlag is --rate: messages per second, 0 (as fast as the windows
// allow) to workload.MaxRate.
type rateFlag struct{ p *float64 }

// String returns the rate.
func (f *rateFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

// Set implements flag.Value.
func (f *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v >= 0 && v <= workload.MaxRate) {
		return fmt.Errorf("want a rate between 0 (as fast as the windows allow) and %g msgs/s", float64(workload.MaxRate))
	}
	*f.p = v
	return nil
}

// Get implements flag.Getter: the rate, a float64.
func (f *rateFlag) Get() any { return *f.p }

// rateShapeFlag is --rate-shape: a pacer in the syntax of
// workload.ParseRateShape.
type rateShapeFlag struct {
	pacer workload.Pacer
	text  string
}

// String returns the shape as given.
func (f *rateShapeFlag) String() string { return f.text }

// Set implements flag.Value; the error is the shape's problem alone (the
// flag's name and value are said by whoever prints it).
func (f *rateShapeFlag) Set(s string) error {
	p, err := workload.ParseRateShape(s)
	var se *workload.ShapeError
	switch {
	case errors.As(err, &se):
		return errors.New(se.Reason)
	case err != nil:
		return err
	}
	f.pacer, f.text = p, s
	return nil
}

// arrivalsFlag is --arrivals: uniform or poisson.
type arrivalsFlag struct{ p *workload.Arrivals }

// String returns "uniform" or "poisson".
func (f *arrivalsFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

// Set implements flag.Value.
func (f *arrivalsFlag) Set(s string) error {
	a, err := workload.ParseArrivals(s)
	if err != nil {
		return errors.New("want uniform or poisson")
	}
	*f.p = a
	return nil
}

// shardFlag is --shard I/N.
type shardFlag struct{ p *workload.Shard }

// String returns the shard as I/N.
func (f *shardFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

// Set implements flag.Value; the error is the shard's problem alone.
func (f *shardFlag) Set(s string) error {
	sh, err := workload.ParseShard(s)
	var se *workload.ShardError
	switch {
	case errors.As(err, &se):
		return errors.New(se.Reason)
	case err != nil:
		return err
	}
	*f.p = sh
	return nil
}

// loginDomainFlag is --login-domain: gcm or fcm, stored as the domain
// (ccs.Domain or ccs.FCMDomain).
type loginDomainFlag struct{ p *string }

// String returns "gcm" or "fcm".
func (f *loginDomainFlag) String() string {
	switch {
	case f.p == nil:
		return ""
	case *f.p == ccs.FCMDomain:
		return "fcm"
	}
	return "gcm"
}

// Set implements flag.Value.
func (f *loginDomainFlag) Set(s string) error {
	switch s {
	case "gcm":
		*f.p = ccs.Domain
	case "fcm":
		*f.p = ccs.FCMDomain
	default:
		return errors.New("want gcm or fcm")
	}
	return nil
}

// saslUserFlag is --sasl-user: full (SENDER@DOMAIN) or local (SENDER
// alone), stored as ccs.ClientConfig.BareIdentity.
type saslUserFlag struct{ bare *bool }

// String returns "full" or "local".
func (f *saslUserFlag) String() string {
	if f.bare != nil && *f.bare {
		return "local"
	}
	return "full"
}

// Set implements flag.Value.
func (f *saslUserFlag) Set(s string) error {
	switch s {
	case "full":
		*f.bare = false
	case "local":
		*f.bare = true
	default:
		return errors.New("want full or local")
	}
	return nil
}

// Named targets of --target.
const (
	stagingTarget    = "gcm-staging.googleapis.com:5236"
	productionTarget = "gcm.googleapis.com:5235"
)

// targetFlag is --target: host:port, staging or production; addr is the
// address to dial ("" for the embedded fake).
type targetFlag struct {
	addr, text string
}

// String returns the target as given.
func (f *targetFlag) String() string { return f.text }

// Set implements flag.Value.
func (f *targetFlag) Set(s string) error {
	switch s {
	case "staging":
		f.addr = stagingTarget
	case "production":
		f.addr = productionTarget
	default:
		if _, _, err := net.SplitHostPort(s); err != nil {
			return errors.New("want host:port, staging or production")
		}
		f.addr = s
	}
	f.text = s
	return nil
}

// tlsModeFlag is --tls: direct, starttls or none (ccs.ParseTLSMode).
type tlsModeFlag struct{ p *ccs.TLSMode }

// String returns the mode's name.
func (f *tlsModeFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

// Set implements flag.Value.
func (f *tlsModeFlag) Set(s string) error {
	m, err := ccs.ParseTLSMode(s)
	if err != nil {
		return errors.New("want direct, starttls or none")
	}
	*f.p = m
	return nil
}

// clientFlag is --client: the name of a built-in client (clientNames).
type clientFlag struct{ p *string }

// String returns the client's name.
func (f *clientFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

// Set implements flag.Value.
func (f *clientFlag) Set(s string) error {
	if err := checkClient(s); err != nil {
		return err
	}
	*f.p = s
	return nil
}

// listFlag is a comma-separated list (--sender-id ID,ID,...); blanks
// around the items and empty items are dropped.
type listFlag struct{ p *[]string }

// String returns the list, comma-separated.
func (f *listFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

// Set implements flag.Value.
func (f *listFlag) Set(s string) error {
	*f.p = splitList(s)
	return nil
}

// startAtFlag is --start-at: an RFC 3339 time with sub-second precision.
type startAtFlag struct{ p *time.Time }

// String returns the time in RFC 3339, or "" when not set.
func (f *startAtFlag) String() string {
	if f.p == nil || f.p.IsZero() {
		return ""
	}
	return f.p.Format(time.RFC3339Nano)
}

// Set implements flag.Value.
func (f *startAtFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-01-15T09:30:00.000Z")
	}
	*f.p = t
	return nil
}

// maxJobLen bounds --job.
const maxJobLen = 64

// jobFlag is --job: 1 to maxJobLen letters, digits, '.', '_', ':' or '-'.
type jobFlag struct{ p *string }

// String returns the job id.
func (f *jobFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

// Set implements flag.Value.
func (f *jobFlag) Set(s string) error {
	if len(s) > maxJobLen || !validJobID(s) {
		return fmt.Errorf("want 1 to %d letters, digits, '.', '_', ':' or '-'", maxJobLen)
	}
	*f.p = s
	return nil
}

// validJobID reports whether s is made of letters, digits, '.', '_', ':'
// and '-' only, and is not empty.
func validJobID(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:-", c)) {
			return false
		}
	}
	return s != ""
}

// gateFlag is --gate: gate expressions (report.ParseGate).
type gateFlag struct {
	gate report.Gate
	text string
}

// String returns the expressions as given.
func (f *gateFlag) String() string { return f.text }

// Set implements flag.Value; the error names the expression at fault when
// the value holds several.
func (f *gateFlag) Set(s string) error {
	g, err := report.ParseGate(s)
	var ge *report.GateError
	switch {
	case errors.As(err, &ge) && ge.Expr == strings.TrimSpace(s):
		return errors.New(ge.Reason)
	case errors.As(err, &ge):
		return fmt.Errorf("%q: %s", ge.Expr, ge.Reason)
	case err != nil:
		return err
	}
	f.gate, f.text = g, s
	return nil
}
