package driver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

// Defaults applied by New to zero fields of Config.
const (
	// DefaultConns is the number of connections when Config.Conns is 0.
	DefaultConns = 8
	// DefaultWindow is the per-connection window when Config.Window is 0:
	// the protocol's limit of 100 unanswered downstream messages.
	DefaultWindow = ccs.MaxPending
	// DefaultDrainTimeout is how long Run waits for the answers of pending
	// messages after it stops scheduling, when Config.DrainTimeout is 0.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultMaxRetries bounds the resends of a message NACKed with
	// INTERNAL_SERVER_ERROR or an unknown code, when Config.MaxRetries is 0.
	DefaultMaxRetries = 3
	// DefaultInitialBackoff is the first resend delay after a NACK that is
	// retried on the same connection (SERVICE_UNAVAILABLE,
	// INTERNAL_SERVER_ERROR), when Config.InitialBackoff is 0: 1 s, as the
	// CCS documentation asks.
	DefaultInitialBackoff = time.Second
	// DefaultMaxBackoff caps the per-message resend delay, when
	// Config.MaxBackoff is 0.
	DefaultMaxBackoff = time.Minute
	// DefaultBackoffJitter is the jitter fraction when
	// Config.BackoffJitter is 0: each delay is the backoff times a uniform
	// factor in [1, 1.2).
	DefaultBackoffJitter = 0.2
	// DefaultDialTimeout bounds one dial and handshake when
	// Config.DialTimeout is 0.
	DefaultDialTimeout = 10 * time.Second
	// DefaultCloseTimeout bounds the wait for the server's end of stream
	// after Run closed its streams, when Config.CloseTimeout is 0.
	DefaultCloseTimeout = time.Second
	// DefaultDrainCloseTimeout is how long a draining connection may stay
	// open before the driver closes it, when Config.DrainCloseTimeout is 0.
	DefaultDrainCloseTimeout = 30 * time.Second
	// DefaultMaxResends bounds the resends of a message after connection
	// losses, when Config.MaxResends is 0.
	DefaultMaxResends = 10
	// DefaultInterval is the length of a timeline interval when
	// Config.Interval is 0.
	DefaultInterval = time.Second
	// DefaultDialConcurrency bounds the handshakes in progress at once
	// while Run connects, when Config.DialConcurrency is 0.
	DefaultDialConcurrency = 32
	// MinInterval is the shortest Config.Interval accepted.
	MinInterval = 100 * time.Millisecond

	// MaxConnsPerSender is the most connections Config.Conns may give
	// one sender id: CCS allows 1000 connections per sender id, so Conns
	// may be at most MaxConnsPerSender × the number of sender ids.
	MaxConnsPerSender = 1000
	// MaxSenders is the most sender ids of Config.SenderIDs.
	MaxSenders = 100
	// MaxWindow is the largest Config.Window accepted with
	// AllowWindowOverride (for testing servers' flow control); without it
	// the limit is ccs.MaxPending.
	MaxWindow = 4096
	// MaxRecords bounds Window+Backlog per connection.
	MaxRecords = 1 << 16
)

// ErrConfig is wrapped by every error New returns for an unusable Config
// (each a *ConfigError).
var ErrConfig = errors.New("driver: invalid configuration")

// ConfigError is a Config field New cannot use. It wraps ErrConfig, and
// the error of the check that failed when another package made it (such
// as a *workload.ShapeError), so that errors.Is and errors.As see both.
type ConfigError struct {
	// Field is the field's Go name in Config, e.g. "Conns", or a path
	// into a field, e.g. "Message.ToPool".
	Field string
	// Reason says what is wrong with the value and what is allowed.
	Reason string
	// Err is the failed check's own error, when another package made
	// it; nil otherwise.
	Err error
}

// Error returns "driver: Config.FIELD: REASON".
func (e *ConfigError) Error() string { return "driver: Config." + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig, and Err when it is set.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrConfig}
	}
	return []error{ErrConfig, e.Err}
}

// fieldError makes err, from the check of field by another package, a
// *ConfigError whose reason is err's own without its package's prefix
// (which the "driver:" of ConfigError would double).
func fieldError(field string, err error) *ConfigError {
	reason := err.Error()
	var mc *workload.ConfigError
	var sh *workload.ShapeError
	var sd *workload.ShardError
	switch {
	case errors.As(err, &mc):
		field, reason = field+"."+mc.Field, mc.Reason
	case errors.As(err, &sh):
		reason = strconv.Quote(sh.Shape) + ": " + sh.Reason
	case errors.As(err, &sd):
		reason = strconv.Quote(sd.Shard) + ": " + sd.Reason
	}
	return &ConfigError{Field: field, Reason: reason, Err: err}
}

// Config is everything a Driver needs. Zero fields take the documented
// defaults; New validates the rest.
type Config struct {
	// Target is the host:port of the CCS endpoint. Required unless
	// Transport is set.
	Target string
	// SenderID and APIKey are the credentials (SASL PLAIN identity
	// SENDER@LoginDomain and password). Required unless Transport is set.
	// The API key never appears in errors, logs or results.
	SenderID, APIKey string
	// SenderIDs, when not empty, replaces SenderID with several sender
	// ids sharing APIKey (at most MaxSenders): logical connection i
	// authenticates as SenderIDs[i % len(SenderIDs)], so connections are
	// spread round-robin, and each sender id gets at most
	// MaxConnsPerSender of them. With Transport set, it only sets that
	// limit.
	SenderIDs []string
	// LoginDomain is the XMPP domain the native transport logs in to:
	// ccs.Domain (gcm.googleapis.com, the default when empty) or
	// ccs.FCMDomain (fcm.googleapis.com, as FCM-era clients do).
	LoginDomain string
	// BareIdentity makes the native transport authenticate as the sender
	// id alone, without "@LoginDomain", as standard XMPP servers expect
	// (see ccs.ClientConfig.BareIdentity).
	BareIdentity bool
	// TLS is the client TLS configuration (nil: system roots, server name
	// from Target). It must be nil with TLSMode ccs.TLSNone.
	TLS *tls.Config
	// TLSMode is how the native transport secures its connections:
	// ccs.TLSDirect (the default; TLS from the first byte, as CCS),
	// ccs.TLSStartTLS or ccs.TLSNone, for CCS-compatible servers that
	// offer only STARTTLS or no TLS.
	TLSMode ccs.TLSMode

	// Conns is the number of connections, 1..MaxConnsPerSender × the
	// number of sender ids (default 8).
	Conns int
	// Window is the number of unanswered downstream messages allowed per
	// connection, 1..ccs.MaxPending (default 100). Larger values, up to
	// MaxWindow, need AllowWindowOverride: they break the protocol and are
	// only for testing a server's flow control.
	Window int
	// AllowWindowOverride lets Window exceed ccs.MaxPending.
	AllowWindowOverride bool
	// Backlog is the number of messages per connection, beyond its window,
	// that may wait for a resend (backoff after SERVICE_UNAVAILABLE or
	// INTERNAL_SERVER_ERROR, or moved from a lost connection). Default
	// 3×Window. When every connection's window and backlog are in use,
	// scheduling waits, and the wait counts in response time.
	Backlog int

	// Pacer decides when messages are due (nil: unlimited, every window
	// kept full, as workload.ConstantPacer{Freq: 0}).
	Pacer workload.Pacer
	// Arrivals spreads messages around the pacer's rate (uniform or
	// Poisson); ignored by an unlimited pacer.
	Arrivals workload.Arrivals
	// Seed fixes the Poisson draws and backoff jitter (0: 1). Messages are
	// seeded by Message.Seed.
	Seed uint64

	// Duration ends sending (0: no time limit): an unlimited pacer stops
	// this long after the start; a paced run stops at the first message
	// due at or after Duration, so that messages due before it are sent
	// even when sending lags (their lateness counts in response time), and
	// at the latest DrainTimeout after Duration. Messages stops after that
	// many unique messages (0: no limit). At least one of the two is
	// required; the first reached wins.
	Duration time.Duration
	Messages uint64
	// Warmup excludes the first part of the run from latency statistics
	// and throughput (never from accounting: every message counts in
	// Counts). It is rounded up to a whole number of intervals so that it
	// ends on an interval boundary, and must be shorter than Duration when
	// both are set.
	Warmup time.Duration
	// Interval is the length of a timeline interval and of the interval
	// histograms (default 1 s, at least MinInterval).
	Interval time.Duration
	// DrainTimeout bounds the wait for answers after scheduling stopped
	// (default 5 s), and with Duration the whole run: late sends and the
	// drain end at the latest Duration + DrainTimeout after the start.
	// Messages without an outcome then are unresolved, and answers read
	// later are strays.
	DrainTimeout time.Duration
	// CloseTimeout bounds the wait for the server's end of stream after
	// the driver closed its streams (default 1 s).
	CloseTimeout time.Duration
	// DialTimeout bounds one dial and handshake (default 10 s).
	DialTimeout time.Duration
	// DrainCloseTimeout is how long a connection may stay open after
	// CONNECTION_DRAINING (default 30 s). A draining connection the server
	// has not closed by then is closed by the driver, its unanswered
	// messages are resent elsewhere, and it counts in DrainTimeouts and as
	// a disconnect of cause "drain_timeout".
	DrainCloseTimeout time.Duration
	// DialConcurrency bounds the handshakes in progress at once while Run
	// connects (default 32).
	DialConcurrency int
	// ConnRate starts the initial handshakes at most this many a second,
	// evenly spaced (0: as fast as DialConcurrency allows). Sending
	// starts once every connection is made.
	ConnRate float64

	// Message says what downstream messages look like; a zero
	// MessageConfig takes workload.DefaultMessageConfig.
	Message workload.MessageConfig

	// MaxRetries bounds the resends of a message NACKed with
	// INTERNAL_SERVER_ERROR or an unknown code (default 3; negative: no
	// resend). SERVICE_UNAVAILABLE and CONNECTION_DRAINING are resent
	// without a bound until the run ends.
	MaxRetries int
	// InitialBackoff, MaxBackoff and BackoffJitter shape the per-message
	// exponential backoff of same-connection resends: the n-th resend of a
	// message waits min(InitialBackoff·2ⁿ⁻¹, MaxBackoff) times a uniform
	// factor in [1, 1+BackoffJitter). Defaults 1 s, 1 min and 0.2.
	InitialBackoff, MaxBackoff time.Duration
	BackoffJitter              float64
	// MaxResends bounds the resends of one message after the connection
	// it was on ended without answering it (default 10; negative: none).
	// A message lost once more is final, counted as Lost.
	MaxResends int
	// ReconnectBackoff is the first delay before a new attempt after a
	// failed one, doubling up to MaxReconnectBackoff, each delay jittered
	// by up to half of it (defaults 100 ms and 5 s). A failed attempt is a
	// failed dial, TLS handshake or authentication, or a connection lost
	// before it delivered any answer or sooner than a second after it was
	// bound. A connection lost after it answered and lived a second is
	// replaced at once, and resets the backoff.
	ReconnectBackoff, MaxReconnectBackoff time.Duration

	// OnDisconnect, if set, is called for the first disconnect of each
	// cause (see Counts.Disconnects), as it happens, from the goroutine of
	// the connection that ended: it must return quickly. Later disconnects
	// of the same cause are only counted.
	OnDisconnect func(Disconnect)

	// IntervalHistograms keeps the service and response histograms of
	// every timeline interval in Result.Intervals (for HdrHistogram
	// interval logs). Off, an interval keeps only its counts and
	// percentiles, and memory stays flat however long the run; on, it
	// grows by some tens of KiB per interval at high rates.
	IntervalHistograms bool

	// IDPrefix starts every message id, to keep the ids of different runs
	// apart (default: 6 random hexadecimal digits). Only letters, digits,
	// '-' and '_' are allowed, at most 16 bytes.
	IDPrefix string

	// Transport opens connections. Nil: the native client of package ccs
	// dialling Target with SenderID, APIKey and TLS.
	Transport Transport

	// Shard makes the run one of Shard.Count cooperating runs of one job
	// (processes or machines started with the same Config but for
	// Shard.Index); the zero Shard is the whole run. With Count > 1,
	// Conns, Messages and Pacer describe the whole job, and New takes the
	// shard's part: Shard.Conns(Conns) connections (Conns must be at
	// least Count), Shard.Share(Messages) messages, and the job's messages
	// number Index, Index+Count, ... of the schedule drawn with Seed, so
	// that the shards' send times together are exactly a single run's.
	// Seed must therefore be the same in every shard; the backoff jitter
	// and Message.Seed are derived per shard with workload.DeriveSeed, and
	// IDPrefix gets the shard's index (hexadecimal) and a '-' appended, so
	// that no two shards send the same id. Config returns the shard's part.
	Shard workload.Shard
	// StartAt, when set, is the instant sending begins: Run connects and
	// authenticates every connection first, waits until StartAt, and
	// starts its timeline and schedule at StartAt exactly (Result.Start),
	// so that runs started at the same StartAt on synchronised clocks
	// share their time axis. Run refuses, with an error wrapping
	// ErrStartPassed, a StartAt more than MaxStartLateness in the past
	// once connected; one less late starts at once, with the messages due
	// since StartAt sent late (their lateness counts in response time).
	// Result.StartSkew says how late sending actually began.
	StartAt time.Time
}

// MaxStartLateness is how far in the past Config.StartAt may be when Run
// has connected: later, Run fails with ErrStartPassed.
const MaxStartLateness = time.Second

// ErrStartPassed is wrapped by Run's error when Config.StartAt was more
// than MaxStartLateness in the past once every connection was made.
var ErrStartPassed = errors.New("driver: start time passed")

// withDefaults returns c with the defaults applied, or a *ConfigError
// for the first unusable field.
func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	bad := func(field, format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.Conns == 0 {
		cfg.Conns = DefaultConns
	}
	switch {
	case !cfg.TLSMode.Valid():
		return bad("TLSMode", "%v is not one of %v, %v and %v", cfg.TLSMode, ccs.TLSDirect, ccs.TLSStartTLS, ccs.TLSNone)
	case cfg.TLSMode == ccs.TLSNone && cfg.TLS != nil:
		return bad("TLS", "set with TLSMode %v, which uses no TLS", ccs.TLSNone)
	}
	// CCS allows MaxConnsPerSender connections per sender id; a sharded
	// job's shards share the sender ids, so the limit is on the job's
	// connections (and RoundRobin spreads the job's connections, not each
	// shard's).
	if len(cfg.SenderIDs) > MaxSenders {
		return bad("SenderIDs", "%d sender ids; at most %d", len(cfg.SenderIDs), MaxSenders)
	}
	for i, id := range cfg.SenderIDs {
		if id == "" {
			return bad("SenderIDs", "sender id %d of %d is empty", i+1, len(cfg.SenderIDs))
		}
	}
	if n := max(1, len(cfg.SenderIDs)); cfg.Conns < 0 || cfg.Conns > MaxConnsPerSender*n {
		return bad("Conns", "%d is outside 1..%d (%d per sender id, %d sender ids)", cfg.Conns, MaxConnsPerSender*n, MaxConnsPerSender, n)
	}
	if cfg.Shard.Count > 1 || cfg.Shard.Index != 0 {
		// A shard of a job: its part of the connections and messages.
		n, err := cfg.Shard.Conns(cfg.Conns)
		if err != nil {
			return Config{}, fieldError("Shard", err)
		}
		cfg.Conns = n
		if cfg.Messages > 0 {
			total := cfg.Messages
			if cfg.Messages = cfg.Shard.Share(total); cfg.Messages == 0 {
				return bad("Messages", "%d messages leave this shard none (shard %s; at least %d are needed)", total, cfg.Shard, cfg.Shard.Count)
			}
		}
	}
	if cfg.DialConcurrency == 0 {
		cfg.DialConcurrency = DefaultDialConcurrency
	}
	if cfg.DialConcurrency < 0 {
		return bad("DialConcurrency", "%d is negative", cfg.DialConcurrency)
	}
	if !(cfg.ConnRate >= 0) || math.IsInf(cfg.ConnRate, 1) {
		return bad("ConnRate", "%g is not a finite number >= 0", cfg.ConnRate)
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	switch {
	case cfg.Window < 0:
		return bad("Window", "%d is negative", cfg.Window)
	case cfg.Window > ccs.MaxPending && !cfg.AllowWindowOverride:
		return bad("Window", "%d exceeds the protocol's %d pending messages per connection (AllowWindowOverride allows up to %d)", cfg.Window, ccs.MaxPending, MaxWindow)
	case cfg.Window > MaxWindow:
		return bad("Window", "%d exceeds %d", cfg.Window, MaxWindow)
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = 3 * cfg.Window
	}
	if cfg.Backlog < 0 || cfg.Window+cfg.Backlog > MaxRecords {
		return bad("Backlog", "%d is outside 1..%d (Window + Backlog at most %d)", cfg.Backlog, MaxRecords-cfg.Window, MaxRecords)
	}
	// Record indices are 32 bits in message ids.
	if per := (cfg.Window + cfg.Backlog + recChunkLen - 1) / recChunkLen * recChunkLen; uint64(cfg.Conns)*uint64(per) > math.MaxUint32 {
		return bad("Conns", "%d connections of %d records each (Window + Backlog, rounded up to chunks of %d) exceed the 2^32 records message ids can name", cfg.Conns, per, recChunkLen)
	}
	if cfg.Pacer == nil {
		cfg.Pacer = workload.ConstantPacer{}
	}
	if v, ok := cfg.Pacer.(workload.Validator); ok {
		if err := v.Validate(); err != nil {
			return Config{}, fieldError("Pacer", err)
		}
	}
	if cfg.Arrivals != workload.Uniform && cfg.Arrivals != workload.Poisson {
		return bad("Arrivals", "%v is neither %v nor %v", cfg.Arrivals, workload.Uniform, workload.Poisson)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Duration < 0 {
		return bad("Duration", "%v is negative", cfg.Duration)
	}
	if cfg.Duration == 0 && cfg.Messages == 0 {
		return bad("Duration", "0 with Messages 0: nothing would end the run (set one of them)")
	}
	if cfg.Warmup < 0 {
		return bad("Warmup", "%v is negative", cfg.Warmup)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < MinInterval {
		return bad("Interval", "%v is shorter than %v", cfg.Interval, MinInterval)
	}
	cfg.Warmup = (cfg.Warmup + cfg.Interval - 1) / cfg.Interval * cfg.Interval
	if cfg.Duration > 0 && cfg.Warmup >= cfg.Duration {
		return bad("Warmup", "%v (rounded up to whole intervals of %v) leaves nothing of Duration %v to measure", cfg.Warmup, cfg.Interval, cfg.Duration)
	}
	for _, t := range []struct {
		field string
		d     *time.Duration
		def   time.Duration
	}{
		{"DrainTimeout", &cfg.DrainTimeout, DefaultDrainTimeout},
		{"CloseTimeout", &cfg.CloseTimeout, DefaultCloseTimeout},
		{"DialTimeout", &cfg.DialTimeout, DefaultDialTimeout},
		{"DrainCloseTimeout", &cfg.DrainCloseTimeout, DefaultDrainCloseTimeout},
	} {
		if *t.d == 0 {
			*t.d = t.def
		}
		if *t.d < 0 {
			return bad(t.field, "%v is negative", *t.d)
		}
	}
	if cfg.Message == (workload.MessageConfig{}) {
		cfg.Message = workload.DefaultMessageConfig()
	}
	if err := cfg.Message.Validate(); err != nil {
		return Config{}, fieldError("Message", err)
	}
	if cfg.Shard.Count > 1 {
		cfg.Message.Seed = workload.DeriveSeed(cfg.Message.Seed, uint64(cfg.Shard.Index))
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxResends == 0 {
		cfg.MaxResends = DefaultMaxResends
	}
	if cfg.MaxResends < 0 {
		cfg.MaxResends = 0
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.InitialBackoff)
	}
	if cfg.BackoffJitter == 0 {
		cfg.BackoffJitter = DefaultBackoffJitter
	}
	switch {
	case cfg.InitialBackoff < 0:
		return bad("InitialBackoff", "%v is negative", cfg.InitialBackoff)
	case cfg.MaxBackoff < cfg.InitialBackoff:
		return bad("MaxBackoff", "%v is below InitialBackoff %v", cfg.MaxBackoff, cfg.InitialBackoff)
	case !(cfg.BackoffJitter >= 0 && cfg.BackoffJitter <= 1):
		return bad("BackoffJitter", "%g is outside 0..1", cfg.BackoffJitter)
	}
	if cfg.ReconnectBackoff == 0 {
		cfg.ReconnectBackoff = 100 * time.Millisecond
	}
	if cfg.MaxReconnectBackoff == 0 {
		cfg.MaxReconnectBackoff = max(5*time.Second, cfg.ReconnectBackoff)
	}
	switch {
	case cfg.ReconnectBackoff < 0:
		return bad("ReconnectBackoff", "%v is negative", cfg.ReconnectBackoff)
	case cfg.MaxReconnectBackoff < cfg.ReconnectBackoff:
		return bad("MaxReconnectBackoff", "%v is below ReconnectBackoff %v", cfg.MaxReconnectBackoff, cfg.ReconnectBackoff)
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = randomPrefix()
	}
	if cfg.Shard.Count > 1 {
		cfg.IDPrefix += strconv.FormatUint(uint64(cfg.Shard.Index), 16) + "-"
	}
	if len(cfg.IDPrefix) > maxPrefixLen {
		return bad("IDPrefix", "%q is longer than %d bytes (a shard adds its index and a '-')", cfg.IDPrefix, maxPrefixLen)
	}
	for i := 0; i < len(cfg.IDPrefix); i++ {
		if !idChar(cfg.IDPrefix[i]) {
			return bad("IDPrefix", "%q: only letters, digits, '-' and '_' are allowed", cfg.IDPrefix)
		}
	}
	if cfg.Transport == nil {
		if err := cfg.nativeTransport(); err != nil {
			return Config{}, err
		}
	}
	if rr, ok := cfg.Transport.(*roundRobin); ok && cfg.Shard.Count > 1 {
		cfg.Transport = &roundRobin{ts: rr.ts, first: cfg.Shard.Index, stride: cfg.Shard.Count}
	}
	return cfg, nil
}

// nativeTransport checks the fields the native client needs and sets
// Transport to it: one transport per sender id, taken round-robin.
func (c *Config) nativeTransport() error {
	bad := func(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }
	switch {
	case c.Target == "":
		return bad("Target", "empty: the host:port of the CCS endpoint is needed unless Transport is set")
	case c.SenderID == "" && len(c.SenderIDs) == 0:
		return bad("SenderID", "empty (and no SenderIDs): a sender id is needed unless Transport is set")
	case c.APIKey == "":
		return bad("APIKey", "empty: the API key is needed unless Transport is set")
	case c.LoginDomain != "" && ccs.CCSDomain(c.LoginDomain) == "":
		return bad("LoginDomain", fmt.Sprintf("%q is neither %s nor %s", c.LoginDomain, ccs.Domain, ccs.FCMDomain))
	}
	ts := make([]Transport, 0, max(1, len(c.SenderIDs)))
	for _, id := range c.senders() {
		ts = append(ts, NewNativeTransport(c.Target, ccs.ClientConfig{
			SenderID:     id,
			LoginDomain:  c.LoginDomain,
			BareIdentity: c.BareIdentity,
			APIKey:       c.APIKey,
			TLS:          c.TLS,
			TLSMode:      c.TLSMode,
			Timeout:      c.DialTimeout,
		}))
	}
	c.Transport = RoundRobin(ts...)
	return nil
}

// senders returns the sender ids connections authenticate as.
func (c *Config) senders() []string {
	if len(c.SenderIDs) > 0 {
		return c.SenderIDs
	}
	return []string{c.SenderID}
}

// unlimited reports whether p sends as fast as the windows allow.
func unlimited(p workload.Pacer) bool {
	if u, ok := p.(workload.UnlimitedPacer); ok {
		return u.Unlimited()
	}
	return math.IsInf(p.Rate(0), 1)
}
