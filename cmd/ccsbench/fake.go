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
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
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
downstream message, as the CCS protocol document describes. Faults are off
unless asked for. Stop it with Ctrl-C (SIGINT) or SIGTERM; it then writes
--stats and prints a one-line summary.

Without --cert/--key it makes a self-signed ECDSA certificate for 127.0.0.1
and localhost; --cert-out FILE writes it for clients to trust (ccsbench run
--ca FILE). Credentials default to sender id ` + fakeccs.DefaultSenderID + ` and the public test
key "` + fakeccs.DefaultAPIKey + `"; --sender-id/--api-key or CCSBENCH_SENDER_ID/CCSBENCH_API_KEY
set others (a key you set is never printed). A client may log in as SENDER,
SENDER@gcm.googleapis.com or SENDER@fcm.googleapis.com, and name either
domain in its stream header; it is answered from the domain it used (stream
header, bound JID, the "to" of upstream messages and receipts).

Periods (--drop-every, --drain-every) are a message count per connection
(1000) or a duration (30s). --nack takes CODE=RATE,... with any code, known
or not, and rates (0..1) summing to at most 1. Registration-id patterns are
globs where * matches any run of characters and ? one character.

Draining (--drain-every) is as the protocol describes it: a
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

Receipt ACKs may carry the receipt's id (dr2:...) or the id without dr2:, as
some client libraries send them; both count in receipts_acked, the second
also in receipts_acked_unprefixed. --wire-form sets how the gcm element of
the fake's stanzas is written: documented (ACKs, upstream messages and
receipts as <gcm xmlns="google:mobile:data">, NACKs and control messages as
<data:gcm xmlns:data="google:mobile:data">, as the protocol document shows),
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
// and, prefixed with "fake-", by `run` for its embedded fake.
type fakeOptions struct {
	prefix                    string // of every flag name: "" or "fake-"
	ackDelay, ackJitter       time.Duration
	nack                      string
	dropEvery, drainEvery     string
	drainAsNack               bool
	drainGrace                time.Duration
	drainLinger               lingerFlag
	wireForm                  string
	authTimeout               time.Duration
	upstreamRate              float64
	upstreamResend            time.Duration
	receipts                  bool
	keepalive                 time.Duration
	trackIDs, strictWindow    bool
	canonicalRate             float64
	badRegistration, unregist string
	deviceRate                float64
	maxStanza                 int
	seed                      uint64
}

// fakeFlags defines the fake's behaviour and fault flags on fs, each name
// prefixed with prefix ("" for `fake`, "fake-" for `run`). Flags that only
// make sense for a standalone server (listener, certificates, credentials,
// stats outputs) are defined by fakeCmd itself.
func fakeFlags(fs *flag.FlagSet, prefix string) *fakeOptions {
	o := &fakeOptions{prefix: prefix}
	p := func(name string) string { return prefix + name }
	fs.DurationVar(&o.ackDelay, p("ack-delay"), 0, "hold every answer (ACK/NACK) for `D` after the message arrives")
	fs.DurationVar(&o.ackJitter, p("ack-jitter"), 0, "add a uniformly random extra delay in [0, `D`) to every answer")
	fs.StringVar(&o.nack, p("nack"), "", "NACK a fraction of valid messages: `CODE=RATE,...` (e.g. SERVICE_UNAVAILABLE=0.01)")
	fs.StringVar(&o.dropEvery, p("drop-every"), "", "close each connection abruptly (no stream end) after `N|D` messages or time")
	fs.StringVar(&o.drainEvery, p("drain-every"), "", "drain each connection (CONNECTION_DRAINING, then close) after `N|D` messages or time")
	fs.BoolVar(&o.drainAsNack, p("drain-as-nack"), false, "drain by NACKing later messages CONNECTION_DRAINING instead of a control message")
	fs.DurationVar(&o.drainGrace, p("drain-grace"), fakeccs.DefaultDrainGrace, "after CONNECTION_DRAINING, answer messages as usual for `D` (the pipeline), then NACK them CONNECTION_DRAINING")
	o.drainLinger = lingerFlag(fakeccs.DefaultDrainLinger)
	fs.Var(&o.drainLinger, p("drain-linger"), "end a drained stream once nothing is pending and `D` has passed since the drain (0: at once; never: the client closes it)")
	fs.StringVar(&o.wireForm, p("wire-form"), ccs.WireDocumented.String(), "write the gcm element of server stanzas `documented|prefixed|default-ns`")
	fs.DurationVar(&o.authTimeout, p("auth-timeout"), fakeccs.DefaultAuthTimeout, "close connections not authenticated and bound within `D`")
	fs.Float64Var(&o.upstreamRate, p("upstream-rate"), 0, "send `R` upstream (device) messages per second on each connection")
	fs.DurationVar(&o.upstreamResend, p("upstream-resend"), fakeccs.DefaultUpstreamResend, "resend upstream messages and receipts not ACKed within `D`")
	fs.BoolVar(&o.receipts, p("receipts"), false, "send a delivery receipt after the ACK of messages with delivery_receipt_requested")
	fs.DurationVar(&o.keepalive, p("keepalive"), 0, "send a whitespace keepalive every `D`")
	fs.BoolVar(&o.trackIDs, p("track-ids"), false, "count unique message ids and duplicates exactly across connections (memory grows with ids)")
	fs.BoolVar(&o.strictWindow, p("strict-window"), false, "close a connection that exceeds 100 pending messages with a policy-violation stream error")
	fs.Float64Var(&o.canonicalRate, p("canonical-rate"), 0, "fraction `F` (0..1) of ACKs that carry a canonical registration_id")
	fs.StringVar(&o.badRegistration, p("bad-registration"), "", "NACK BAD_REGISTRATION for registration ids matching `GLOB,...`")
	fs.StringVar(&o.unregist, p("unregistered"), "", "NACK DEVICE_UNREGISTERED for registration ids matching `GLOB,...`")
	fs.Float64Var(&o.deviceRate, p("device-rate"), 0, "limit each registration id to `R` messages/s (DEVICE_MESSAGE_RATE_EXCEEDED beyond; 0 = off)")
	fs.IntVar(&o.maxStanza, p("max-stanza"), 64<<10, "largest stanza accepted, in `BYTES` (larger: policy-violation)")
	fs.Uint64Var(&o.seed, p("seed"), 0, "seed of every random choice, so that a run can be repeated")
	return o
}

// config converts the options into a fakeccs.Config (credentials, TLS and
// logging left for the caller), checking every value.
func (o *fakeOptions) config() (fakeccs.Config, error) {
	cfg := fakeccs.Config{
		AckDelay: o.ackDelay, AckJitter: o.ackJitter,
		DrainAsNack: o.drainAsNack, DrainGrace: o.drainGrace, DrainLinger: time.Duration(o.drainLinger),
		AuthTimeout:  o.authTimeout,
		UpstreamRate: o.upstreamRate, UpstreamResend: o.upstreamResend,
		Receipts: o.receipts, Keepalive: o.keepalive,
		TrackIDs: o.trackIDs, StrictWindow: o.strictWindow,
		CanonicalRate:   o.canonicalRate,
		BadRegistration: splitList(o.badRegistration),
		Unregistered:    splitList(o.unregist),
		DeviceRate:      o.deviceRate, MaxStanza: o.maxStanza, Seed: o.seed,
	}
	// every error names the flag as the user typed it, prefix included
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("--%s%s: "+format, append([]any{o.prefix, name}, args...)...)
	}
	var err error
	if cfg.Nack, err = fakeccs.ParseNackRules(o.nack); err != nil {
		return cfg, bad("nack", "%w", err)
	}
	if cfg.DropEvery, err = fakeccs.ParseEvery(o.dropEvery); err != nil {
		return cfg, bad("drop-every", "%w", err)
	}
	if cfg.DrainEvery, err = fakeccs.ParseEvery(o.drainEvery); err != nil {
		return cfg, bad("drain-every", "%w", err)
	}
	if cfg.WireForm, err = ccs.ParseWireForm(o.wireForm); err != nil {
		return cfg, bad("wire-form", "%w", err)
	}
	// Zero on the command line means none; in the Config it means the
	// default, and none is negative.
	if o.drainGrace == 0 {
		cfg.DrainGrace = -1
	}
	if o.drainLinger == 0 {
		cfg.DrainLinger = -1
	}
	rateOK := func(r float64) bool { return !math.IsNaN(r) && !math.IsInf(r, 0) && r >= 0 }
	switch {
	case o.ackDelay < 0:
		return cfg, bad("ack-delay", "must not be negative")
	case o.ackJitter < 0:
		return cfg, bad("ack-jitter", "must not be negative")
	case o.authTimeout <= 0:
		return cfg, bad("auth-timeout", "must be positive")
	case o.upstreamResend <= 0:
		return cfg, bad("upstream-resend", "must be positive")
	case o.keepalive < 0:
		return cfg, bad("keepalive", "must not be negative")
	case o.drainGrace < 0:
		return cfg, bad("drain-grace", "must not be negative")
	case !rateOK(o.upstreamRate):
		return cfg, bad("upstream-rate", "%v must be finite and not negative", o.upstreamRate)
	case !rateOK(o.deviceRate):
		return cfg, bad("device-rate", "%v must be finite and not negative", o.deviceRate)
	case !rateOK(o.canonicalRate) || o.canonicalRate > 1:
		return cfg, bad("canonical-rate", "%v is outside 0..1", o.canonicalRate)
	case o.maxStanza < 512:
		return cfg, bad("max-stanza", "%d is below 512 bytes", o.maxStanza)
	}
	return cfg, nil
}

// lingerFlag is --drain-linger: a duration, or "never"
// (fakeccs.DrainLingerForever).
type lingerFlag time.Duration

func (l *lingerFlag) String() string {
	if time.Duration(*l) == fakeccs.DrainLingerForever {
		return "never"
	}
	return time.Duration(*l).String()
}

func (l *lingerFlag) Set(s string) error {
	if s == "never" {
		*l = lingerFlag(fakeccs.DrainLingerForever)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New(`want a duration (0 or more) or "never"`)
	}
	*l = lingerFlag(d)
	return nil
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
	switch {
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
		return fail(2, "%v", err)
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
	fmt.Fprintf(stdout, "fake CCS listening on %s (TLS, %s); %s, API key %s\n",
		ln.Addr(), certNote, senders, keyNote)
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
	nacks := uint64(0)
	for _, n := range stats.Nacks {
		nacks += n
	}
	fmt.Fprintf(stdout, "fake CCS stopped: %d connections, %d messages received, %d acks, %d nacks, %d stanza errors, "+
		"%d abandoned, %d discarded, %d window violations\n",
		stats.Connections, stats.Received, stats.Acks, nacks, stats.StanzaErrors, stats.Abandoned, stats.Discarded,
		stats.WindowViolations)
	if err := stats.CheckIdentity(); err != nil {
		fmt.Fprintf(stderr, "ccsbench fake: %v\n", err)
		code = 1
	}
	return code
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

// fakeCollector exports a fake server's Stats as Prometheus metrics named
// ccsbench_fake_*.
type fakeCollector struct{ srv *fakeccs.Server }

var _ prometheus.Collector = fakeCollector{}

// fakeMetric is one exported field of Stats.
type fakeMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*fakeccs.Stats) (float64, bool)
}

func counterOf(name, help string, f func(*fakeccs.Stats) uint64) fakeMetric {
	return fakeMetric{
		desc:  prometheus.NewDesc("ccsbench_fake_"+name+"_total", help, nil, nil),
		kind:  prometheus.CounterValue,
		value: func(s *fakeccs.Stats) (float64, bool) { return float64(f(s)), true },
	}
}

func optionalCounter(name, help string, f func(*fakeccs.Stats) *uint64) fakeMetric {
	return fakeMetric{
		desc: prometheus.NewDesc("ccsbench_fake_"+name+"_total", help, nil, nil),
		kind: prometheus.CounterValue,
		value: func(s *fakeccs.Stats) (float64, bool) {
			if p := f(s); p != nil {
				return float64(*p), true
			}
			return 0, false
		},
	}
}

var (
	fakeMetrics = []fakeMetric{
		counterOf("connections", "Connections authenticated and bound.", func(s *fakeccs.Stats) uint64 { return s.Connections }),
		{
			desc:  prometheus.NewDesc("ccsbench_fake_active_connections", "Bound connections open now.", nil, nil),
			kind:  prometheus.GaugeValue,
			value: func(s *fakeccs.Stats) (float64, bool) { return float64(s.ActiveConnections), true },
		},
		counterOf("auth_failures", "SASL logins refused.", func(s *fakeccs.Stats) uint64 { return s.AuthFailures }),
		counterOf("handshake_failures", "Connections closed before binding for reasons other than refused logins.", func(s *fakeccs.Stats) uint64 { return s.HandshakeFailures }),
		counterOf("received", "Downstream messages received, retries included.", func(s *fakeccs.Stats) uint64 { return s.Received }),
		optionalCounter("unique_ids", "Distinct downstream message ids (with --track-ids).", func(s *fakeccs.Stats) *uint64 { return s.UniqueIDs }),
		optionalCounter("duplicates", "Downstream messages whose id was seen before (with --track-ids).", func(s *fakeccs.Stats) *uint64 { return s.Duplicates }),
		counterOf("acks", "ACKs sent.", func(s *fakeccs.Stats) uint64 { return s.Acks }),
		counterOf("canonical", "ACKs with a canonical registration_id.", func(s *fakeccs.Stats) uint64 { return s.Canonical }),
		counterOf("stanza_errors", "Downstream messages answered with a stanza error.", func(s *fakeccs.Stats) uint64 { return s.StanzaErrors }),
		counterOf("window_violations", "Messages read while 100 earlier ones of their connection had no answer written.", func(s *fakeccs.Stats) uint64 { return s.WindowViolations }),
		counterOf("upstream_sent", "Upstream messages sent the first time.", func(s *fakeccs.Stats) uint64 { return s.UpstreamSent }),
		counterOf("upstream_acked", "Upstream messages ACKed by the app server.", func(s *fakeccs.Stats) uint64 { return s.UpstreamAcked }),
		counterOf("upstream_resent", "Upstream messages and receipts sent again.", func(s *fakeccs.Stats) uint64 { return s.UpstreamResent }),
		counterOf("upstream_dropped", "Upstream messages and receipts discarded from full queues.", func(s *fakeccs.Stats) uint64 { return s.UpstreamDropped }),
		counterOf("bad_acks", "Malformed ACKs from the app server (each answered with a BAD_ACK NACK).", func(s *fakeccs.Stats) uint64 { return s.BadAcks }),
		counterOf("unknown_acks", "ACKs of ids with nothing unacknowledged.", func(s *fakeccs.Stats) uint64 { return s.UnknownAcks }),
		counterOf("receipts_sent", "Delivery receipts sent the first time.", func(s *fakeccs.Stats) uint64 { return s.ReceiptsSent }),
		counterOf("receipts_acked", "Delivery receipts ACKed by the app server.", func(s *fakeccs.Stats) uint64 { return s.ReceiptsAcked }),
		counterOf("receipts_acked_unprefixed", "Delivery receipts ACKed with the id stripped of dr2:.", func(s *fakeccs.Stats) uint64 { return s.ReceiptsAckedUnprefixed }),
		counterOf("drains", "Connections drained.", func(s *fakeccs.Stats) uint64 { return s.Drains }),
		counterOf("drops", "Connections dropped abruptly.", func(s *fakeccs.Stats) uint64 { return s.Drops }),
		counterOf("abandoned", "Downstream messages left unanswered because their connection ended first (client stream end, lost or dropped connection, stream error).", func(s *fakeccs.Stats) uint64 { return s.Abandoned }),
		counterOf("discarded", "Downstream messages that arrived after the fake ended their stream.", func(s *fakeccs.Stats) uint64 { return s.Discarded }),
		counterOf("stream_errors", "Stream errors sent.", func(s *fakeccs.Stats) uint64 { return s.StreamErrors }),
		counterOf("keepalives", "Whitespace keepalives sent.", func(s *fakeccs.Stats) uint64 { return s.Keepalives }),
		counterOf("pings", "XEP-0199 pings answered.", func(s *fakeccs.Stats) uint64 { return s.Pings }),
		counterOf("iq_errors", "IQs answered with service-unavailable.", func(s *fakeccs.Stats) uint64 { return s.IQErrors }),
		counterOf("ignored", "Stanzas ignored.", func(s *fakeccs.Stats) uint64 { return s.Ignored }),
	}
	fakeNacksDesc = prometheus.NewDesc("ccsbench_fake_nacks_total", "NACKs of downstream messages sent, by code.", []string{"code"}, nil)
)

// Describe implements prometheus.Collector.
func (fakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range fakeMetrics {
		ch <- m.desc
	}
	ch <- fakeNacksDesc
}

// Collect implements prometheus.Collector.
func (c fakeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	for _, m := range fakeMetrics {
		if v, ok := m.value(&st); ok {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v)
		}
	}
	for code, n := range st.Nacks {
		ch <- prometheus.MustNewConstMetric(fakeNacksDesc, prometheus.CounterValue, float64(n), code)
	}
}
