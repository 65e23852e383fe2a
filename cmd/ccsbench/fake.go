package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
)

const fakeUsage = `Usage: ccsbench fake [flags]

Runs a fake Cloud Connection Server: XMPP over TLS from the first byte, SASL
PLAIN, JSON in <gcm xmlns="google:mobile:data">, an ACK or NACK for every
downstream message, as Google's CCS documentation describes it (see
docs/PROTOCOL.md). Faults are off unless asked for. Stop it with Ctrl-C
(SIGINT) or SIGTERM; it then writes --stats and prints a one-line summary.

--tls starttls and --tls none depart from CCS for client stacks that cannot
speak TLS from the first byte: the stream opens in plain TCP and STARTTLS is
required, or there is no TLS at all (the API key crosses in the clear).

Without --cert/--key it makes a self-signed ECDSA certificate for 127.0.0.1,
localhost and the CCS host names (gcm.googleapis.com, gcm-preprod, gcm-staging,
gcm-xmpp, fcm-xmpp and fcm .googleapis.com, for clients with the endpoint built
in that are pointed here by name resolution, and for libraries that check the
XMPP domain); --cert-out FILE writes it for clients to trust (ccsbench run --ca
FILE). Credentials default to sender id ` + fakeccs.DefaultSenderID + ` and the public test
key "` + fakeccs.DefaultAPIKey + `"; --sender-id/--api-key or CCSBENCH_SENDER_ID/CCSBENCH_API_KEY
set others (a key you set is never printed). A client may log in as SENDER,
SENDER@gcm.googleapis.com or SENDER@fcm.googleapis.com, and name either
domain in its stream header; it is answered from the domain it used (stream
header, bound JID, the "to" of upstream messages and receipts).

Periods (--drop-every, --drain-every) are a message count per connection
(1000) or a duration (30s). --nack takes CODE=RATE,... with any code, known
or not, and rates (0..1) summing to at most 1. Registration-id patterns are
globs where * matches any run of characters and ? one character.

Faults can also be set for the server as a whole, as ccsbench judge's
scenarios set them: --drop-total N drops the connection that reads every
N-th message of the server and --drain-total N drains the one that answers
it, however a client spreads its messages over connections; --drain-alternate
drains by control message and by NACKs in turn; --drain-deadline D ends a
draining connection's stream D after the drain began, whatever is pending;
--bad-registration-share F and --unregistered-share F NACK a share of all
registration ids (picked by a hash of the id and --seed, so that an id
always gets the same answer) BAD_REGISTRATION or DEVICE_UNREGISTERED.

Draining (--drain-every) is as the CCS documentation describes it: a
CONNECTION_DRAINING control message, and the connection stays open and keeps
reading. Messages that arrive within --drain-grace after it were in the
pipeline and are answered as usual; later ones are NACKed
CONNECTION_DRAINING. No upstream message or receipt is sent on a draining
connection: those it has not had ACKed move to another connection of the
sender, or to its next one. The stream ends once nothing is pending and
--drain-linger has passed since the drain began (0: at once; never: the
client must close it). --drain-as-nack drains without the control message:
every later message is NACKed CONNECTION_DRAINING.

The window: a message is a window violation when, as the fake reads it, 100
earlier messages of its connection have no answer written before that read
(--strict-window closes the connection on the first). A client that keeps to
the window never trips it, at any delay or load. The fake reads all the
input a client has sent before it writes the answers, so a burst of more
than 100 messages is caught even at zero delay; but a client that writes a
message at a time is answered as fast as it writes, so an --ack-delay of a
few milliseconds is what reliably exposes a client without flow control.

Upstream messages and receipts start after the client's first stanza
following the bind (a session IQ is answered first), or 1s after the bind
when it sends none: the session is offered as mandatory, as CCS did.

Receipt ACKs may carry the receipt's id (dr2:...) or the id without dr2:, as
some client libraries send them; both count in receipts_acked, the second
also in receipts_acked_unprefixed. --wire-form sets how the gcm element of
the fake's stanzas is written: documented (ACKs, upstream messages and
receipts as <gcm xmlns="google:mobile:data">, NACKs and control messages as
<data:gcm xmlns:data="google:mobile:data">, as the CCS documentation shows),
prefixed (all prefixed, as FCM was seen to send ACKs too) or default-ns (none
prefixed): a client must match the namespace, not the text.

Every downstream message the fake reads ends in one outcome: received = acks
+ nacks + stanza_errors + abandoned (unanswered when its connection ended:
held answers, a drop, a stream error) + discarded (sent after the fake ended
the stream). BAD_ACK NACKs answer ACKs and count in bad_acks only. The stats
(--stats, /stats.json, /metrics) carry every count; the exit summary checks
the identity.

Exit status: 0 after a clean stop, 1 when the server cannot start or fails
(or its accounting does not add up), 2 on bad usage.

Flags:
`

// fakeOptions holds the fake server's behaviour flags, shared by `fake`
// and, prefixed with "fake-", by `run` for its embedded fake. Most flags
// set a field of cfg directly; fakeValue flags parse their text into one.
type fakeOptions struct {
	prefix string // of every flag name: "" or "fake-"
	cfg    fakeccs.Config
	parsed []interface{ parseError() error } // the fakeValue flags, in order

	// Set on the command line in the words of the command line: lists of
	// patterns, and zero meaning none rather than the default.
	badRegistration, unregistered string
	drainGrace, drainLinger       time.Duration
}

// fakeFlagNames names the flag of every fakeccs.Config field the fake's
// behaviour flags set, without the prefix. fakeFlags defines them from it,
// and fakeFlagErrorOf names them from it.
var fakeFlagNames = map[string]string{
	"AckDelay": "ack-delay", "AckJitter": "ack-jitter", "Nack": "nack",
	"DropEvery": "drop-every", "DrainEvery": "drain-every", "DrainAsNack": "drain-as-nack",
	"DrainGrace": "drain-grace", "DrainLinger": "drain-linger", "DrainDeadline": "drain-deadline",
	"DrainAlternate": "drain-alternate", "DropTotal": "drop-total", "DrainTotal": "drain-total",
	"WireForm": "wire-form", "AuthTimeout": "auth-timeout", "UpstreamRate": "upstream-rate",
	"UpstreamResend": "upstream-resend", "Receipts": "receipts", "Keepalive": "keepalive",
	"TrackIDs": "track-ids", "StrictWindow": "strict-window", "CanonicalRate": "canonical-rate",
	"BadRegistration": "bad-registration", "Unregistered": "unregistered",
	"BadRegistrationShare": "bad-registration-share", "UnregisteredShare": "unregistered-share",
	"DeviceRate": "device-rate", "MaxStanza": "max-stanza", "Seed": "seed",
}

// credentialFlagNames names the flags of the credentials, which `fake`
// and `run` each define under the same names, without a prefix.
var credentialFlagNames = map[string]string{"SenderID": "sender-id", "SenderIDs": "sender-id", "APIKey": "api-key"}

// fakeFlags defines the fake's behaviour and fault flags on fs, each name
// prefixed with prefix ("" for `fake`, "fake-" for `run`). Flags that only
// make sense for a standalone server (listener, certificates, credentials,
// stats outputs) are defined by fakeCmd itself.
func fakeFlags(fs *flag.FlagSet, prefix string) *fakeOptions {
	o := &fakeOptions{prefix: prefix, drainLinger: fakeccs.DefaultDrainLinger} // fakeVar's default
	c := &o.cfg
	n := func(field string) string { return prefix + fakeFlagNames[field] }
	fs.DurationVar(&c.AckDelay, n("AckDelay"), 0, "hold every answer (ACK/NACK) for `D` after the message arrives")
	fs.DurationVar(&c.AckJitter, n("AckJitter"), 0, "add a uniformly random extra delay in [0, `D`) to every answer")
	fakeVar(fs, o, "Nack", &c.Nack, fakeccs.ParseNackRules, fakeccs.FormatNackRules,
		"NACK a fraction of valid messages: `CODE=RATE,...` (e.g. SERVICE_UNAVAILABLE=0.01)")
	fakeVar(fs, o, "DropEvery", &c.DropEvery, fakeccs.ParseEvery, fakeccs.Every.String,
		"close each connection abruptly (no stream end) after `N|D` messages or time")
	fakeVar(fs, o, "DrainEvery", &c.DrainEvery, fakeccs.ParseEvery, fakeccs.Every.String,
		"drain each connection (CONNECTION_DRAINING, then close) after `N|D` messages or time")
	fs.Uint64Var(&c.DropTotal, n("DropTotal"), 0, "close abruptly the connection that reads every `N`-th message of the whole server (that message unanswered)")
	fs.Uint64Var(&c.DrainTotal, n("DrainTotal"), 0, "drain the connection that answers every `N`-th message of the whole server")
	fs.BoolVar(&c.DrainAsNack, n("DrainAsNack"), false, "drain by NACKing later messages CONNECTION_DRAINING instead of a control message")
	fs.BoolVar(&c.DrainAlternate, n("DrainAlternate"), false, "drain by control message and by NACKs in turn, over the server's drains")
	fs.DurationVar(&o.drainGrace, n("DrainGrace"), fakeccs.DefaultDrainGrace, "after CONNECTION_DRAINING, answer messages as usual for `D` (the pipeline), then NACK them CONNECTION_DRAINING")
	fakeVar(fs, o, "DrainLinger", &o.drainLinger, parseLinger, formatLinger,
		"end a drained stream once nothing is pending and `D` has passed since the drain (0: at once; never: the client closes it)")
	fs.DurationVar(&c.DrainDeadline, n("DrainDeadline"), 0, "end a draining connection's stream `D` after the drain began, even with messages pending (0: no deadline)")
	fakeVar(fs, o, "WireForm", &c.WireForm, parseWireForm, ccs.WireForm.String,
		"write the gcm element of server stanzas `documented|prefixed|default-ns`")
	fs.DurationVar(&c.AuthTimeout, n("AuthTimeout"), fakeccs.DefaultAuthTimeout, "close connections not authenticated and bound within `D`")
	fs.Float64Var(&c.UpstreamRate, n("UpstreamRate"), 0, "send `R` upstream (device) messages per second on each connection")
	fs.DurationVar(&c.UpstreamResend, n("UpstreamResend"), fakeccs.DefaultUpstreamResend, "resend upstream messages and receipts not ACKed within `D`")
	fs.BoolVar(&c.Receipts, n("Receipts"), false, "send a delivery receipt after the ACK of messages with delivery_receipt_requested")
	fs.DurationVar(&c.Keepalive, n("Keepalive"), 0, "send a whitespace keepalive every `D`")
	fs.BoolVar(&c.TrackIDs, n("TrackIDs"), false, "count unique message ids and duplicates exactly across connections (memory grows with ids)")
	fs.BoolVar(&c.StrictWindow, n("StrictWindow"), false, "close a connection that exceeds 100 pending messages with a policy-violation stream error")
	fs.Float64Var(&c.CanonicalRate, n("CanonicalRate"), 0, "fraction `F` (0..1) of ACKs that carry a canonical registration_id")
	fs.StringVar(&o.badRegistration, n("BadRegistration"), "", "NACK BAD_REGISTRATION for registration ids matching `GLOB,...`")
	fs.StringVar(&o.unregistered, n("Unregistered"), "", "NACK DEVICE_UNREGISTERED for registration ids matching `GLOB,...`")
	fs.Float64Var(&c.BadRegistrationShare, n("BadRegistrationShare"), 0, "NACK BAD_REGISTRATION for a share `F` (0..1) of all registration ids, picked by a hash of the id and --seed")
	fs.Float64Var(&c.UnregisteredShare, n("UnregisteredShare"), 0, "NACK DEVICE_UNREGISTERED for a share `F` (0..1) of all registration ids, picked as --bad-registration-share's (the two sum to at most 1)")
	fs.Float64Var(&c.DeviceRate, n("DeviceRate"), 0, "limit each registration id to `R` messages/s (DEVICE_MESSAGE_RATE_EXCEEDED beyond; 0 = off)")
	fs.IntVar(&c.MaxStanza, n("MaxStanza"), 64<<10, "largest stanza accepted, in `BYTES` (larger: policy-violation)")
	fs.Uint64Var(&c.Seed, n("Seed"), 0, "seed of every random choice, so that a run can be repeated")
	return o
}

// config returns the fakeccs.Config the flags describe (credentials, TLS
// and logging are left to the caller), or the first flag whose text could
// not be parsed. The values themselves are checked by fakeccs.New, whose
// error flagError names by flag. Only what the command line says in its
// own words is checked here: zero means none for --drain-grace and
// --drain-linger (the default in a Config) and is refused for
// --auth-timeout and --upstream-resend (where a Config would take it for
// the default, which the flag shows).
func (o *fakeOptions) config() (fakeccs.Config, error) {
	for _, v := range o.parsed {
		if err := v.parseError(); err != nil {
			return fakeccs.Config{}, err
		}
	}
	cfg := o.cfg
	cfg.BadRegistration, cfg.Unregistered = splitList(o.badRegistration), splitList(o.unregistered)
	cfg.DrainGrace, cfg.DrainLinger = o.drainGrace, o.drainLinger
	if o.drainGrace == 0 {
		cfg.DrainGrace = -1
	}
	if o.drainLinger == 0 {
		cfg.DrainLinger = -1
	}
	switch {
	case o.drainGrace < 0:
		return cfg, o.valueError("DrainGrace", "%v is negative", o.drainGrace)
	case cfg.AuthTimeout <= 0:
		return cfg, o.valueError("AuthTimeout", "%v is not positive", cfg.AuthTimeout)
	case cfg.UpstreamResend <= 0:
		return cfg, o.valueError("UpstreamResend", "%v is not positive", cfg.UpstreamResend)
	}
	return cfg, nil
}

// valueError is the error of the flag of Config field field, as typed.
func (o *fakeOptions) valueError(field, format string, args ...any) error {
	return &fakeFlagError{msg: "--" + o.prefix + fakeFlagNames[field] + ": " + fmt.Sprintf(format, args...)}
}

// flagError returns an error of fakeccs.New for a Config made by config
// as the error of the flag that set the value: see fakeFlagError.
func (o *fakeOptions) flagError(err error) error { return fakeFlagErrorOf(o.prefix, err) }

// fakeFlagError is an unusable value of a flag of the fake, named as the
// user typed it, once: `--fake-nack: rule "X" is not CODE=RATE`.
type fakeFlagError struct {
	msg string
	err error // the fakeccs error, if any, for errors.Is and errors.As
}

func (e *fakeFlagError) Error() string { return e.msg }

func (e *fakeFlagError) Unwrap() error { return e.err }

// configRef is how a fakeccs.ConfigError's Reason names another field.
var configRef = regexp.MustCompile(`Config\.([A-Z][A-Za-z]*)`)

// fakeFlagErrorOf returns err, an error of fakeccs.New, as a
// *fakeFlagError of the flag that set the value (prefix: "" for `fake`,
// "fake-" for run's embedded fake), with the other fields its reason
// names given as flags too. An error of a field no flag sets is returned
// as it is.
func fakeFlagErrorOf(prefix string, err error) error {
	var ce *fakeccs.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	name, ok := fakeFlagName(prefix, ce.Field)
	if !ok {
		return err
	}
	reason := configRef.ReplaceAllStringFunc(ce.Reason, func(ref string) string {
		if n, ok := fakeFlagName(prefix, ref[len("Config."):]); ok {
			return "--" + n
		}
		return ref
	})
	return &fakeFlagError{msg: "--" + name + ": " + reason, err: err}
}

// fakeFlagName returns the name, prefix included when it has one, of the
// flag that sets Config field field.
func fakeFlagName(prefix, field string) (string, bool) {
	if n, ok := fakeFlagNames[field]; ok {
		return prefix + n, true
	}
	n, ok := credentialFlagNames[field]
	return n, ok
}

// fakeValue is a flag of the fake whose text is parsed into a Config
// field when it is set (NACK rules, a period, the drain linger, the wire
// form). Set keeps a parse error for fakeOptions.config, which reports it
// naming the flag as typed, once, in the words of every other error of
// the fake's flags (the flag package would say "invalid value ... for
// flag -fake-nack: ..."), before anything is started.
type fakeValue[T any] struct {
	name   string // as typed, prefix included
	dst    *T
	parse  func(string) (T, error)
	format func(T) string
	err    error // of the latest Set
}

// fakeVar defines the fakeValue flag of Config field field on fs, with
// the current value of dst as its default.
func fakeVar[T any](fs *flag.FlagSet, o *fakeOptions, field string, dst *T,
	parse func(string) (T, error), format func(T) string, usage string) {
	v := &fakeValue[T]{name: o.prefix + fakeFlagNames[field], dst: dst, parse: parse, format: format}
	o.parsed = append(o.parsed, v)
	fs.Var(v, v.name, usage)
}

// String formats the value as Set reads it.
func (v *fakeValue[T]) String() string {
	if v == nil || v.dst == nil {
		return ""
	}
	return v.format(*v.dst)
}

// Set parses s into the field, or keeps the error for config.
func (v *fakeValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		reason := err.Error()
		var ce *fakeccs.ConfigError
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		v.err = &fakeFlagError{msg: "--" + v.name + ": " + reason, err: err}
		return nil
	}
	*v.dst, v.err = x, nil
	return nil
}

func (v *fakeValue[T]) parseError() error { return v.err }

// parseLinger reads --drain-linger: a duration (0 or more) or "never"
// (fakeccs.DrainLingerForever).
func parseLinger(s string) (time.Duration, error) {
	if s == "never" {
		return fakeccs.DrainLingerForever, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf(`%q is neither a duration of 0 or more nor "never"`, s)
	}
	return d, nil
}

// formatLinger formats a drain linger as parseLinger reads it.
func formatLinger(d time.Duration) string {
	if d == fakeccs.DrainLingerForever {
		return "never"
	}
	return d.String()
}

// parseWireForm reads --wire-form, with an error in the flag's words.
func parseWireForm(s string) (ccs.WireForm, error) {
	f, err := ccs.ParseWireForm(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not documented, prefixed or default-ns", s)
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// fakeStandalone holds the flags only `ccsbench fake` has.
type fakeStandalone struct {
	listen, cert, key, certOut string
	senderID, apiKey           string
	statsFile, statsAddr       string
	verbose                    bool
	tlsMode                    ccs.TLSMode
}

// fakeCmd implements `ccsbench fake`.
func fakeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), fakeUsage)
		printFlags(fs.Output(), fs)
	}
	var st fakeStandalone
	fs.StringVar(&st.listen, "listen", "127.0.0.1:5235", "listen on `ADDR` (host:port)")
	fs.StringVar(&st.cert, "cert", "", "TLS certificate chain `FILE` (PEM); needs --key")
	fs.StringVar(&st.key, "key", "", "TLS private key `FILE` (PEM); needs --cert")
	fs.StringVar(&st.certOut, "cert-out", "", "write the self-signed certificate to `FILE` (PEM) for clients to trust")
	fs.Var(&tlsModeFlag{&st.tlsMode}, "tls", "how connections are secured (`direct|starttls|none`): direct is TLS from the first byte, as CCS; "+
		"starttls (STARTTLS required on a plain TCP stream) and none (plain TCP, credentials in the clear) are not CCS, and are for client stacks that cannot speak direct TLS")
	fs.StringVar(&st.senderID, "sender-id", "", "sender `ID` accepted, or several as ID,ID,... with the one API key (default $CCSBENCH_SENDER_ID or "+fakeccs.DefaultSenderID+")")
	fs.StringVar(&st.apiKey, "api-key", "", "API `KEY` accepted (default $CCSBENCH_API_KEY or the public test key)")
	fs.StringVar(&st.statsFile, "stats", "", "write the stats as JSON to `FILE` at exit")
	fs.StringVar(&st.statsAddr, "stats-addr", "", "serve /stats.json and /metrics (Prometheus) on `ADDR`")
	fs.BoolVar(&st.verbose, "verbose", false, "log connection events (refused logins, stream errors) to stderr")
	opts := fakeFlags(fs, "")
	// Asked-for help goes to stdout; usage errors go to stderr, one line.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "ccsbench fake: %v (see ccsbench help fake)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccsbench fake: unexpected argument %q (flags only; see ccsbench help fake)\n", fs.Arg(0))
		return 2
	}
	cfg, err := opts.config()
	if err != nil {
		fmt.Fprintf(stderr, "ccsbench fake: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveFake(ctx, cfg, &st, stdout, stderr, nil)
}

// serveFake runs the standalone fake until ctx ends; ready, if not nil, is
// called once the server listens. It returns the exit code.
func serveFake(ctx context.Context, cfg fakeccs.Config, st *fakeStandalone, stdout, stderr io.Writer,
	ready func(*fakeccs.Server, net.Addr)) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "ccsbench fake: "+format+"\n", args...)
		return code
	}
	cfg.SenderIDs = splitList(firstNonEmpty(st.senderID, os.Getenv("CCSBENCH_SENDER_ID"), fakeccs.DefaultSenderID))
	cfg.APIKey = firstNonEmpty(st.apiKey, os.Getenv("CCSBENCH_API_KEY"), fakeccs.DefaultAPIKey)
	cfg.TLSMode = st.tlsMode
	switch {
	case st.tlsMode == ccs.TLSNone && (st.cert != "" || st.key != "" || st.certOut != ""):
		return fail(2, "--cert, --key and --cert-out configure TLS, which --tls none does not use")
	case (st.cert == "") != (st.key == ""):
		return fail(2, "--cert and --key go together")
	case st.cert != "" && st.certOut != "":
		return fail(2, "--cert-out writes the self-signed certificate; it does not apply with --cert")
	case st.cert != "":
		pair, err := tls.LoadX509KeyPair(st.cert, st.key)
		if err != nil {
			return fail(2, "loading --cert/--key: %v", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
			DynamicRecordSizingDisabled: true}
	}
	if st.verbose {
		logger := log.New(stderr, "", log.LstdFlags)
		cfg.Logf = logger.Printf
	}
	srv, err := fakeccs.New(cfg)
	if err != nil {
		return fail(2, "%v", fakeFlagErrorOf("", err))
	}
	cfg = srv.Config()
	// Every connection is a file descriptor: take as many as allowed.
	if _, err := raiseOpenFiles(); err != nil {
		fmt.Fprintf(stderr, "ccsbench fake: warning: could not raise the open files limit: %v\n", err)
	}
	// Listen before writing --cert-out: a fake that cannot bind must not
	// replace the certificate a running one gave its clients.
	ln, err := net.Listen("tcp", st.listen)
	if err != nil {
		return fail(1, "%v", err)
	}
	if st.certOut != "" {
		if err := os.WriteFile(st.certOut, srv.CertPEM(), 0o644); err != nil {
			ln.Close()
			return fail(1, "writing --cert-out: %v", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var hs *http.Server
	httpDone := make(chan error, 1)
	if st.statsAddr != "" {
		hln, err := net.Listen("tcp", st.statsAddr)
		if err != nil {
			srv.Close()
			<-served
			return fail(1, "--stats-addr: %v", err)
		}
		hs = &http.Server{Handler: statsHandler(srv), ReadHeaderTimeout: 5 * time.Second}
		go func() { httpDone <- hs.Serve(hln) }()
		fmt.Fprintf(stdout, "stats on http://%s/stats.json and /metrics\n", hln.Addr())
	}

	keyNote := "the public test key \"" + fakeccs.DefaultAPIKey + "\""
	if cfg.APIKey != fakeccs.DefaultAPIKey {
		keyNote = "the key you set (not shown)"
	}
	certNote := "self-signed certificate"
	switch {
	case st.tlsMode == ccs.TLSNone:
		certNote = "no TLS: plain TCP, not CCS"
	case st.cert != "":
		certNote = "certificate " + st.cert
	case st.certOut != "":
		certNote += " written to " + st.certOut
	default:
		certNote += " (not saved; use --cert-out FILE to trust it)"
	}
	senders := "sender id " + cfg.SenderID
	if len(cfg.SenderIDs) > 1 {
		senders = fmt.Sprintf("%d sender ids (%s)", len(cfg.SenderIDs), strings.Join(cfg.SenderIDs, ","))
	}
	security := "TLS, "
	switch st.tlsMode {
	case ccs.TLSStartTLS:
		security = "STARTTLS (not CCS), "
	case ccs.TLSNone:
		security = ""
	}
	fmt.Fprintf(stdout, "fake CCS listening on %s (%s%s); %s, API key %s\n",
		ln.Addr(), security, certNote, senders, keyNote)
	if ready != nil {
		ready(srv, ln.Addr())
	}

	code := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil {
			fmt.Fprintf(stderr, "ccsbench fake: %v\n", err)
			code = 1
		}
	case err := <-httpDone:
		fmt.Fprintf(stderr, "ccsbench fake: stats server: %v\n", err)
		code = 1
	}
	srv.Close()
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		hs.Shutdown(sctx)
		cancel()
	}
	stats := srv.Stats()
	if st.statsFile != "" {
		if err := writeStatsFile(st.statsFile, stats); err != nil {
			fmt.Fprintf(stderr, "ccsbench fake: writing --stats: %v\n", err)
			code = 1
		}
	}
	fmt.Fprintln(stdout, fakeSummary(&stats))
	if err := stats.CheckIdentity(); err != nil {
		fmt.Fprintf(stderr, "ccsbench fake: %v\n", err)
		code = 1
	}
	return code
}

// fakeSummary is the line ccsbench fake prints when it stops: connections,
// messages received, and how many ended in each outcome of the accounting
// identity (fakeccs.Counter.Outcome), then the window violations.
func fakeSummary(st *fakeccs.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fake CCS stopped: %d connections, %d messages received", st.Connections, st.Received)
	for _, c := range fakeccs.Counters() {
		if c.Outcome {
			n, _ := c.Value(st)
			fmt.Fprintf(&b, ", %d %s", n, strings.ReplaceAll(c.Key, "_", " "))
		}
	}
	fmt.Fprintf(&b, ", %d window violations", st.WindowViolations)
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func writeStatsFile(path string, st fakeccs.Stats) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// statsHandler serves /stats.json (Stats as JSON) and /metrics
// (Prometheus text format, from a private registry).
func statsHandler(srv *fakeccs.Server) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(fakeCollector{srv})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/stats.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(srv.Stats())
	})
	return mux
}

// fakeCollector exports a fake server's Stats as Prometheus metrics,
// one per row of fakeccs.Counters: ccsbench_fake_KEY_total for totals
// (labelled by code for the NACKs), ccsbench_fake_KEY for gauges.
type fakeCollector struct{ srv *fakeccs.Server }

var _ prometheus.Collector = fakeCollector{}

// fakeMetric is the metric of one row of fakeccs.Counters.
type fakeMetric struct {
	counter fakeccs.Counter
	desc    *prometheus.Desc
	kind    prometheus.ValueType
}

var fakeMetrics = func() []fakeMetric {
	var ms []fakeMetric
	for _, c := range fakeccs.Counters() {
		m := fakeMetric{counter: c, kind: prometheus.CounterValue}
		name := "ccsbench_fake_" + c.Key + "_total"
		if c.Kind == fakeccs.CounterGauge {
			name, m.kind = "ccsbench_fake_"+c.Key, prometheus.GaugeValue
		}
		var labels []string
		if c.ByCode {
			labels = []string{"code"}
		}
		m.desc = prometheus.NewDesc(name, c.Help, labels, nil)
		ms = append(ms, m)
	}
	return ms
}()

// Describe implements prometheus.Collector.
func (fakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range fakeMetrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c fakeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	for _, m := range fakeMetrics {
		if m.counter.ByCode {
			for code, n := range m.counter.Codes(&st) {
				ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(n), code)
			}
		} else if v, ok := m.counter.Value(&st); ok {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(v))
		}
	}
}
