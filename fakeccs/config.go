package fakeccs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Defaults applied by New to zero fields of Config.
const (
	// DefaultSenderID is the sender id accepted when Config.SenderID is empty.
	DefaultSenderID = "123456789012"
	// DefaultAPIKey is the API key accepted when Config.APIKey is empty. It
	// is a well-known test value, so printing it reveals nothing.
	DefaultAPIKey = "fakeccs-test-key"
	// DefaultAuthTimeout bounds the TLS and stream handshake when
	// Config.AuthTimeout is zero: a connection that has not authenticated
	// and bound within it is closed.
	DefaultAuthTimeout = 10 * time.Second
	// DefaultUpstreamResend is how long an upstream message or receipt may
	// stay unacknowledged before it is sent again on the same connection,
	// when Config.UpstreamResend is zero.
	DefaultUpstreamResend = 5 * time.Second
	// MaxUnackedUpstream is how many upstream messages and receipts one
	// connection may have unacknowledged; sending pauses at this count, as
	// CCS stops sending to an app server that does not ACK.
	MaxUnackedUpstream = 100
	// RecentIDs is how many of a connection's latest downstream message ids
	// the fake remembers at least (up to twice as many) to detect a reused
	// id, answered with INVALID_JSON.
	RecentIDs = 1024
	// MaxHeld is the most downstream messages one connection may have
	// waiting for a delayed answer; a client that exceeds it (it ignores the
	// window by far) gets a policy-violation stream error.
	MaxHeld = 16 * ccs.MaxPending
	// MaxQueuedUpstream bounds the upstream messages and receipts waiting
	// to be sent per connection and per sender backlog; the oldest beyond
	// it are discarded and counted in Stats.UpstreamDropped.
	MaxQueuedUpstream = 10000
	// DefaultDrainGrace is Config.DrainGrace when zero: how long after the
	// CONNECTION_DRAINING control message was written messages are still
	// taken as being in the pipeline (sent before the client could see it).
	DefaultDrainGrace = 100 * time.Millisecond
	// DefaultDrainLinger is Config.DrainLinger when zero: how long a
	// draining connection stays open at least.
	DefaultDrainLinger = time.Second
	// DrainLingerForever as Config.DrainLinger keeps draining connections
	// open until the client closes them.
	DrainLingerForever = time.Duration(math.MaxInt64)
	// LingerTimeout is how long the fake waits for the client's stream end
	// after it closed its own stream, before it closes the TCP connection.
	LingerTimeout = 2 * time.Second
	// MaxDevices bounds the per-registration-id rate limiter's table; when
	// it is full the table is cleared (each of 64 shards separately).
	MaxDevices = 1 << 20
)

// Config configures a fake CCS server. The zero value is a working server
// with default credentials, a self-signed certificate and every fault off.
type Config struct {
	// SenderID and APIKey are the credentials accepted (SASL identity
	// SENDER, SENDER@gcm.googleapis.com or SENDER@fcm.googleapis.com,
	// password the key). A client is answered from the domain it used: its
	// identity's, else its stream header's "to" (see ccs.ServerHandshake).
	// Empty values take DefaultSenderID and DefaultAPIKey.
	SenderID, APIKey string
	// SenderIDs, when not empty, are the sender ids accepted instead of
	// SenderID alone, all with APIKey (for runs of more than the 1000
	// connections CCS allows one sender id); SenderID is then its first.
	SenderIDs []string

	// TLS is the server's TLS configuration. Nil: a self-signed ECDSA P-256
	// certificate for 127.0.0.1, ::1, localhost and the CCS host names
	// (gcm.googleapis.com, fcm-xmpp.googleapis.com, …), made by New (see
	// Server.CertPool and Server.CertPEM).
	TLS *tls.Config
	// TLSMode is how connections are secured: ccs.TLSDirect (the zero
	// value), TLS from the first byte, as CCS; ccs.TLSStartTLS, the
	// stream opened in plain TCP with STARTTLS required (see
	// ccs.ServerStartTLS), or ccs.TLSNone, plain TCP throughout. The last
	// two are not CCS: they are for client stacks that cannot speak TLS
	// from the first byte.
	TLSMode ccs.TLSMode

	// AckDelay holds each answer to a downstream message (ACK or NACK) for
	// this long after the message was read; AckJitter adds a uniformly
	// random extra delay in [0, AckJitter). Zero: answer at once. Answers
	// still held when their connection ends (the client ends its stream,
	// or the connection is lost) are never sent: see Stats.Abandoned.
	AckDelay, AckJitter time.Duration

	// Nack answers a fraction of valid downstream messages with a NACK of
	// the given code instead of an ACK. Rates sum to at most 1.
	Nack []NackRule

	// DropEvery closes a connection abruptly (TCP close, no stream end,
	// pending messages unanswered) when its N-th downstream message
	// arrives (that message and the unwritten answers of its read buffer
	// stay unanswered), or D after it was bound.
	DropEvery Every
	// DrainEvery drains a connection once its N-th downstream message is
	// answered, or D after it was bound, as the protocol describes: a
	// CONNECTION_DRAINING control message, and the connection stays open
	// and keeps reading. Messages that arrive within DrainGrace after the
	// control message was written were in the pipeline and are answered
	// as usual; later ones are NACKed CONNECTION_DRAINING. No upstream
	// message or receipt is sent on a draining connection: its queued and
	// (once due for a resend) unacknowledged ones move to another
	// connection of the sender, or to its next one. The stream ends
	// (</stream:stream>) once nothing is pending and DrainLinger has
	// passed since the drain began. With DrainAsNack there is no control
	// message: every message after the drain point is NACKed
	// CONNECTION_DRAINING.
	DrainEvery  Every
	DrainAsNack bool
	// DrainGrace: see DrainEvery. Zero: DefaultDrainGrace; negative: none
	// (every message read after the control message was written is
	// NACKed).
	DrainGrace time.Duration
	// DrainLinger is how long a draining connection stays open at least
	// (see DrainEvery). Zero: DefaultDrainLinger; negative: it closes as
	// soon as nothing is pending; DrainLingerForever: never (for testing
	// clients that wait for the server's close).
	DrainLinger time.Duration
	// DrainDeadline is the longest a draining connection stays open: once
	// it has passed since the drain began, the stream ends even with
	// messages pending or still arriving (they are abandoned: the client
	// must send them again on another connection), as a server ends a
	// connection whose client keeps sending on it. Zero: no deadline.
	DrainDeadline time.Duration
	// DrainAlternate alternates the two forms of draining over the
	// server's drains: the first, third, fifth... send the control
	// message, the second, fourth... are made as with DrainAsNack. A
	// client must handle both. It excludes DrainAsNack.
	DrainAlternate bool

	// DropTotal and DrainTotal are DropEvery.N and DrainEvery.N counted
	// over the whole server rather than per connection: the connection
	// that reads the server's n-th, 2n-th, 3n-th... downstream message
	// (resends included) is dropped with that message unanswered, or
	// drained once that message is answered. A drain that falls on a
	// connection already draining goes to the next connection that
	// answers a message and is not. So a client spreading its messages
	// over many connections meets as many drops and drains as one that
	// uses one. Zero: off.
	DropTotal, DrainTotal uint64

	// WireForm is how the gcm element of the server's stanzas is written
	// (ccs.WireDocumented: as the CCS documentation shows; WirePrefixed,
	// WireDefaultNS: every one alike).
	WireForm ccs.WireForm

	// AuthTimeout closes connections that have not finished the TLS and
	// stream handshake (authenticated and bound) in time. Zero:
	// DefaultAuthTimeout.
	AuthTimeout time.Duration

	// UpstreamRate is the number of upstream (device) messages per second
	// each connection sends to the app server; zero: none.
	UpstreamRate float64
	// UpstreamResend is how long an upstream message or receipt may stay
	// unacknowledged before it is sent again. Zero: DefaultUpstreamResend.
	// Unacknowledged ones are also sent again on another connection of
	// the sender (an open one, or its next one) when their connection
	// closes, or drains (see DrainEvery).
	UpstreamResend time.Duration

	// Receipts sends a delivery receipt after the ACK of every message with
	// "delivery_receipt_requested": true. Receipts must be ACKed like
	// upstream messages.
	Receipts bool

	// Keepalive sends a single space every Keepalive on each authenticated
	// connection. Zero: none.
	Keepalive time.Duration

	// TrackIDs keeps the 64-bit hash of every downstream message id seen
	// on any connection, so that Stats.UniqueIDs and Stats.Duplicates are
	// exact across connections (to hash collisions, about n²/2⁶⁵ for n
	// ids). Memory grows with the number of distinct ids (about 16 bytes
	// each).
	TrackIDs bool

	// StrictWindow closes a connection that breaks the window (see
	// Stats.WindowViolations) with a policy-violation stream error.
	// Without it such messages are only counted.
	StrictWindow bool

	// CanonicalRate is the fraction (0..1) of ACKs that carry a
	// "registration_id" (a canonical id rewrite): "CANONICAL_" and 16 hex
	// digits derived from the message's "to".
	CanonicalRate float64

	// BadRegistration and Unregistered are registration-id patterns:
	// messages whose "to" matches one are NACKed with BAD_REGISTRATION or
	// DEVICE_UNREGISTERED. A pattern is a glob where '*' matches any run of
	// bytes ('/' included) and '?' any single byte; there are no other
	// metacharacters, so a pattern without them matches exactly that id.
	BadRegistration, Unregistered []string
	// BadRegistrationShare and UnregisteredShare are shares (0..1,
	// summing to at most 1) of all registration ids whose messages are
	// NACKed with BAD_REGISTRATION or DEVICE_UNREGISTERED. The ids are
	// picked by a hash of "to" and Seed, so that one registration id
	// always gets the same answer, whatever the connection and however
	// often it is sent to.
	BadRegistrationShare, UnregisteredShare float64

	// DeviceRate limits messages per second to one registration id,
	// across connections, with a burst of max(1, DeviceRate); messages
	// beyond it are NACKed with DEVICE_MESSAGE_RATE_EXCEEDED. Zero: off.
	DeviceRate float64

	// MaxStanza is the largest stanza accepted, in bytes (default
	// ccs.DefaultMaxStanza); a larger one gets a policy-violation stream
	// error.
	MaxStanza int

	// Seed seeds every random choice (NACK and canonical-id rolls, jitter):
	// connection k of a server draws from a generator seeded with (Seed, k).
	Seed uint64

	// Observer, if set, is told every event of every bound connection
	// (see Observer). Nil costs the per-message path nothing measurable.
	Observer Observer

	// Logf, if set, receives one line per notable event (connection
	// refused, stream error sent, listener error). It never receives the
	// API key.
	Logf func(format string, args ...any)
}

// NackRule answers the fraction Rate (0..1) of valid downstream messages
// with a NACK carrying Code, which may be any code, known to ccs or not.
type NackRule struct {
	Code string
	Rate float64
}

// Every is a period: after N downstream messages on a connection, or after
// the duration D since the connection was authenticated. At most one of
// the two is set; the zero value is off.
type Every struct {
	N uint64
	D time.Duration
}

// IsZero reports whether e is off.
func (e Every) IsZero() bool { return e.N == 0 && e.D == 0 }

// String formats e as ParseEvery reads it ("" when off).
func (e Every) String() string {
	switch {
	case e.N > 0:
		return strconv.FormatUint(e.N, 10)
	case e.D > 0:
		return e.D.String()
	}
	return ""
}

// ErrConfig is wrapped by every error New and the Parse functions return
// for a configuration value they cannot use (see ConfigError).
var ErrConfig = errors.New("fakeccs: invalid configuration")

// ConfigError is a Config value that New or a Parse function cannot use.
// It wraps ErrConfig.
type ConfigError struct {
	// Field is the Go name of the Config field, e.g. "AckDelay"; empty
	// when the value is not tied to one field yet (ParseEvery).
	Field string
	// Reason says what is wrong with the value, e.g. "-1s is negative".
	// Another field it conflicts with is named Config.Name.
	Reason string
}

// Error formats e as "fakeccs: Config.Field: Reason".
func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "fakeccs: " + e.Reason
	}
	return "fakeccs: Config." + e.Field + ": " + e.Reason
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// configError returns a *ConfigError for field, its reason formatted.
func configError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseEvery reads "N" (a positive count of messages) or a Go duration
// ("30s", "1m"); "" and "0" mean off.
func ParseEvery(s string) (Every, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Every{}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return Every{N: n}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return Every{}, configError("", "%q is neither a message count nor a duration (e.g. 1000 or 30s)", s)
	}
	return Every{D: d}, nil
}

// ParseNackRules reads "CODE=RATE,CODE=RATE,..." (e.g.
// "SERVICE_UNAVAILABLE=0.01,BAD_REGISTRATION=0.001"); "" gives no rules.
// Codes are upper-case letters, digits and underscores; rates are in 0..1
// and sum to at most 1. Its errors are *ConfigError for Config.Nack.
func ParseNackRules(s string) ([]NackRule, error) {
	var rules []NackRule
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		code, rate, ok := strings.Cut(part, "=")
		if !ok {
			return nil, configError("Nack", "rule %q is not CODE=RATE", part)
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil {
			return nil, configError("Nack", "rule %q: the rate is not a number", part)
		}
		rules = append(rules, NackRule{Code: strings.TrimSpace(code), Rate: r})
	}
	if err := checkNackRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// FormatNackRules formats rules as ParseNackRules reads them.
func FormatNackRules(rules []NackRule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.Code + "=" + strconv.FormatFloat(r.Rate, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func checkNackRules(rules []NackRule) error {
	sum := 0.0
	for _, r := range rules {
		if !validCode(r.Code) {
			return configError("Nack", "code %q is not upper-case letters, digits and underscores", r.Code)
		}
		if !shareOK(r.Rate) {
			return configError("Nack", "rate %v of %s is outside 0..1", r.Rate, r.Code)
		}
		sum += r.Rate
	}
	if sum > 1+1e-9 {
		return configError("Nack", "rates sum to %v, more than 1", sum)
	}
	return nil
}

func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// withDefaults checks c and returns a copy with the defaults filled in.
// Every value it cannot use gets a *ConfigError naming its field.
func (c Config) withDefaults() (Config, error) {
	senderField := "SenderID"
	if len(c.SenderIDs) > 0 {
		senderField = "SenderIDs"
		c.SenderIDs = slices.Clone(c.SenderIDs)
		c.SenderID = c.SenderIDs[0]
	}
	if c.SenderID == "" {
		c.SenderID = DefaultSenderID
	}
	if len(c.SenderIDs) == 0 {
		c.SenderIDs = []string{c.SenderID}
	}
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	for _, id := range c.SenderIDs {
		if id == "" || strings.ContainsAny(id, "@/ \t\r\n<>&\"'") {
			return c, configError(senderField, "%q is not a bare sender id (no '@', '/', spaces or markup)", id)
		}
	}
	if err := c.checkValues(); err != nil {
		return c, err
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.UpstreamResend == 0 {
		c.UpstreamResend = DefaultUpstreamResend
	}
	if c.MaxStanza == 0 {
		c.MaxStanza = ccs.DefaultMaxStanza
	}
	if c.DrainGrace == 0 {
		c.DrainGrace = DefaultDrainGrace
	}
	if c.DrainLinger == 0 {
		c.DrainLinger = DefaultDrainLinger
	}
	return c, nil
}

// checkValues checks every field but the credentials, before defaults.
func (c *Config) checkValues() error {
	for _, d := range []struct {
		field string
		d     time.Duration
	}{
		{"AckDelay", c.AckDelay}, {"AckJitter", c.AckJitter}, {"AuthTimeout", c.AuthTimeout},
		{"UpstreamResend", c.UpstreamResend}, {"Keepalive", c.Keepalive}, {"DrainDeadline", c.DrainDeadline},
		{"DropEvery", c.DropEvery.D}, {"DrainEvery", c.DrainEvery.D},
	} {
		if d.d < 0 {
			return configError(d.field, "%v is negative", d.d)
		}
	}
	for _, e := range []struct {
		field string
		e     Every
	}{{"DropEvery", c.DropEvery}, {"DrainEvery", c.DrainEvery}} {
		if e.e.N > 0 && e.e.D > 0 {
			return configError(e.field, "is a count (%d) or a duration (%v), not both", e.e.N, e.e.D)
		}
	}
	for _, r := range []struct {
		field string
		r     float64
	}{{"UpstreamRate", c.UpstreamRate}, {"DeviceRate", c.DeviceRate}} {
		if !rateOK(r.r) {
			return configError(r.field, "%v is not a finite rate of 0 or more", r.r)
		}
	}
	for _, f := range []struct {
		field string
		f     float64
	}{{"CanonicalRate", c.CanonicalRate}, {"BadRegistrationShare", c.BadRegistrationShare}, {"UnregisteredShare", c.UnregisteredShare}} {
		if !shareOK(f.f) {
			return configError(f.field, "%v is outside 0..1", f.f)
		}
	}
	switch {
	case c.BadRegistrationShare+c.UnregisteredShare > 1+1e-9:
		return configError("UnregisteredShare", "%v and Config.BadRegistrationShare %v sum to more than 1",
			c.UnregisteredShare, c.BadRegistrationShare)
	case c.MaxStanza != 0 && c.MaxStanza < 512:
		return configError("MaxStanza", "%d is below 512 bytes", c.MaxStanza)
	case c.WireForm > ccs.WireDefaultNS:
		return configError("WireForm", "%d is not a wire form", c.WireForm)
	case !c.TLSMode.Valid():
		return configError("TLSMode", "%v is not one of %v, %v and %v", c.TLSMode, ccs.TLSDirect, ccs.TLSStartTLS, ccs.TLSNone)
	case c.DrainAlternate && c.DrainAsNack:
		return configError("DrainAlternate", "excludes Config.DrainAsNack")
	}
	if err := checkNackRules(c.Nack); err != nil {
		return err
	}
	for _, p := range []struct {
		field    string
		patterns []string
	}{{"BadRegistration", c.BadRegistration}, {"Unregistered", c.Unregistered}} {
		if slices.Contains(p.patterns, "") {
			return configError(p.field, "has an empty pattern")
		}
	}
	return nil
}

func rateOK(r float64) bool { return !math.IsNaN(r) && !math.IsInf(r, 0) && r >= 0 }

func shareOK(f float64) bool { return f >= 0 && f <= 1 } // false for NaN
