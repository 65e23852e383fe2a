package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

const runUsage = `Usage: ccsbench [run] [flags]

Sends downstream messages over --conns CCS connections (XMPP over TLS), keeps
at most --window of them unanswered per connection, and measures the time
from send to ACK as service time (from the actual send) and response time
(from the intended send, corrected for coordinated omission). Every message
ends acked, nacked, with a stanza error, lost (its connection died under it
more than --max-resends times) or unresolved, and the run checks that these
add up. Connections that end are counted by cause ("disconnects"), and the
first of each cause is printed on standard error as it happens.

Without --target, a fake CCS server is started on 127.0.0.1 with the same
credentials and its certificate is trusted; its behaviour and faults are set
with the --fake-* flags (the flags of ccsbench fake), and its own stats are
written under "fake" in the results file.

The summary goes to standard output, or to standard error when an output
file is "-" (standard output then carries that output alone). When the run
sent slower than the rate asked for, it says so at the end, and why: the
target (every window full, waiting for answers), failing or draining
connections, or the driver itself (windows had room, but this process
could not create and write messages faster).

With --shard I/N the run is one of N shards of a job spread over several
processes or machines, all started with the same flags: --conns, --rate,
--rate-shape and --messages are the job's totals, and this shard opens its
share of the connections and sends every N-th message of the job's schedule
(with the same --seed, the shards together send what one run would).
--start-at makes every shard connect first and begin sending at one
instant; ccsbench merge checks and merges the shards' results files.

Exit status: 0 ok; 1 the run failed (a connection could not be made, the
target refused messages with stanza errors and ACKed or NACKed none, the
accounting does not add up, or more messages were lost or left unresolved
than --allow-lost and --allow-unresolved tolerate); 2 bad usage; 3 a
--gate expression failed.

Flags:
`

// runHelp is the help of run after its flags: the rate shapes and the
// gate expressions.
const runHelp = `
%s

Gate expressions: METRIC OP VALUE, metrics p50 p90 p99 p999 max (service
time), rp50..rmax (response time), rate, and the counts unresolved, lost, nacks,
retries, disconnects, drain_timeouts, strays; operators < <= > >= ==;
latencies with a unit us, ms or s.
`

// runOptions are the flags of run that are not the embedded fake's.
type runOptions struct {
	client                     string
	target                     targetFlag
	senderIDs                  []string
	apiKey, ca                 string
	loginDomain                string
	bareIdentity               bool
	insecure                   bool
	serverName                 string
	tlsMode                    ccs.TLSMode
	conns, window              int
	windowOverride             bool
	rate                       float64
	rateShape                  rateShapeFlag
	arrivals                   workload.Arrivals
	duration, warmup, drain    time.Duration
	dialTimeout, drainClose    time.Duration
	dialConcurrency            int
	connRate                   float64
	interval                   time.Duration
	maxResends, maxRetries     int
	messages                   uint64
	allowUnresolved, allowLost uint64
	msg                        workload.MessageConfig
	jsonOut, mdOut, htmlOut    string
	hlogOut                    string
	gate                       gateFlag
	progress                   bool
	shard                      workload.Shard
	job, metricsAddr           string
	startAt                    time.Time
}

// outputFlags do not shape the run and are left out of the results'
// config; api-key is never written anywhere. shard, job and start-at are
// recorded in the results' shard and start instead, so that the configs
// of a job's shards are the same.
var outputFlags = map[string]bool{"json": true, "md": true, "html": true, "hlog": true, "progress": true, "api-key": true, "gate": true,
	"metrics-addr": true, "shard": true, "job": true, "start-at": true}

// flags defines the flags of run on a new FlagSet, the embedded fake's
// with them; progress is --progress's default.
func (o *runOptions) flags(progress bool) (*flag.FlagSet, *fakeOptions) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	def := workload.DefaultMessageConfig()
	o.client, o.loginDomain, o.rate, o.msg = clientNative, ccs.Domain, 5000, def
	fs.Var(&clientFlag{&o.client}, "client", "CCS client implementation `NAME` the driver runs over: "+clientNames()+" (same workload, window, retries and accounting; results name it)")
	fs.Var(&o.target, "target", "CCS endpoint `host:port`, staging ("+stagingTarget+") or production ("+productionTarget+"); default: the embedded fake")
	fs.Var(&listFlag{&o.senderIDs}, "sender-id", "sender `ID`, or several as ID,ID,... sharing --api-key: connections spread round-robin, at most 1000 per sender id (default $CCSBENCH_SENDER_ID; the fake's default for the embedded fake)")
	fs.StringVar(&o.apiKey, "api-key", "", "API `KEY` (default $CCSBENCH_API_KEY); never printed or written")
	fs.Var(&loginDomainFlag{&o.loginDomain}, "login-domain", "log in as SENDER@`gcm|fcm`.googleapis.com (fcm: as FCM-era clients do)")
	fs.Var(&saslUserFlag{&o.bareIdentity}, "sasl-user", "log in with the SASL user in `full|local` form: full is SENDER@DOMAIN, as the CCS documentation asks; local is SENDER alone, as some standard XMPP servers expect (Prosody refuses SENDER@DOMAIN; ejabberd takes either) (default full)")
	fs.Var(&tlsModeFlag{&o.tlsMode}, "tls", "how connections to --target are secured (`direct|starttls|none`): direct is TLS from the first byte, as CCS; "+
		"starttls is for a CCS-compatible server on a general XMPP server's client port (often 5222: Prosody, ejabberd, a mock on Apache Vysper) that offers STARTTLS; "+
		"none is plain TCP for test servers without TLS (the API key crosses the network in the clear)")
	fs.StringVar(&o.ca, "ca", "", "trust the target's certificate from this PEM `FILE`")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the target's certificate")
	fs.StringVar(&o.serverName, "tls-server-name", "", "check the target's certificate against `NAME` and send NAME as the TLS server name (SNI), instead of the host of --target: for a --target given as an address, or a gateway whose certificate names another host (e.g. gcm.googleapis.com)")
	fs.IntVar(&o.conns, "conns", driver.DefaultConns, "number of connections `N` (at most 1000 per sender id)")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", driver.DefaultDialConcurrency, "make at most `N` connections (TCP, TLS, authentication) at once at the start")
	fs.Float64Var(&o.connRate, "conn-rate", 0, "start at most `R` connections a second at the start (0: as fast as --dial-concurrency allows)")
	fs.IntVar(&o.window, "window", driver.DefaultWindow, "unanswered messages allowed per connection `N` (at most 100)")
	fs.BoolVar(&o.windowOverride, "window-override", false, "allow --window above 100 (breaks the protocol; for testing servers' flow control)")
	fs.Var(&rateFlag{&o.rate}, "rate", "messages per second `R` (0: as fast as the windows allow)")
	fs.Var(&o.rateShape, "rate-shape", "rate `SHAPE` instead of a constant --rate (syntax below)")
	fs.Var(&arrivalsFlag{&o.arrivals}, "arrivals", "arrival process: `uniform` or poisson")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "stop sending after `D` (unless --messages comes first)")
	fs.Uint64Var(&o.messages, "messages", 0, "stop after `N` unique messages (alone: no time limit)")
	fs.DurationVar(&o.warmup, "warmup", 0, "exclude the first `D` (rounded up to whole seconds) from latency statistics and rates")
	fs.DurationVar(&o.drain, "drain-timeout", driver.DefaultDrainTimeout, "after sending stops, wait up to `D` for pending answers (with --duration the run ends at the latest --duration + D)")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", driver.DefaultDialTimeout, "give up connecting (TCP, TLS and authentication of one connection) after `D`")
	fs.DurationVar(&o.drainClose, "drain-close-timeout", driver.DefaultDrainCloseTimeout, "close a connection the server left open `D` after CONNECTION_DRAINING, and resend what it did not answer")
	fs.IntVar(&o.maxResends, "max-resends", driver.DefaultMaxResends, "resend a message at most `N` times after connection losses; one more loss makes it lost")
	fs.IntVar(&o.maxRetries, "max-retries", driver.DefaultMaxRetries, "resend a message NACKed with INTERNAL_SERVER_ERROR or an unknown code at most `N` times (after a backoff from 1 s); then the NACK is final")
	fs.DurationVar(&o.interval, "interval", driver.DefaultInterval, "length `D` of the timeline's intervals and of the --hlog histograms (at least 100ms)")
	fs.IntVar(&o.msg.PayloadBytes, "payload-bytes", def.PayloadBytes, "size of the data object in `BYTES` (keys plus values, at most 4096)")
	fs.IntVar(&o.msg.ToPool, "to-pool", def.ToPool, "number `N` of distinct registration ids")
	fs.Float64Var(&o.msg.Zipf, "zipf", def.Zipf, "Zipf skew `S` of the registration-id choice (0: uniform)")
	fs.IntVar(&o.msg.TTL, "ttl", def.TTL, "time_to_live in `SECONDS` (0..2419200; -1 omits the field)")
	fs.StringVar(&o.msg.CollapseKey, "collapse-key", def.CollapseKey, "collapse_key `KEY` (empty: omitted)")
	fs.StringVar(&o.msg.Priority, "priority", def.Priority, "priority `normal|high` (empty: omitted)")
	fs.BoolVar(&o.msg.DelayWhileIdle, "delay-while-idle", def.DelayWhileIdle, "set delay_while_idle")
	fs.BoolVar(&o.msg.Receipts, "receipts", def.Receipts, "set delivery_receipt_requested (receipts are ACKed and counted)")
	fs.Float64Var(&o.msg.InvalidRate, "invalid-rate", def.InvalidRate, "fraction `F` of deliberately invalid messages (NACK INVALID_JSON)")
	fs.Uint64Var(&o.msg.Seed, "seed", def.Seed, "seed of messages, arrivals and jitter, so that a run can be repeated")
	fs.StringVar(&o.jsonOut, "json", "", "write the results file (JSON, schema "+report.Schema+") to `FILE` (- for standard output)")
	fs.StringVar(&o.mdOut, "md", "", "write a markdown report to `FILE` (- for standard output)")
	fs.StringVar(&o.htmlOut, "html", "", "write an HTML report (offline, with charts) to `FILE` (- for standard output)")
	fs.StringVar(&o.hlogOut, "hlog", "", "write HdrHistogram interval logs (one per --interval, tags service and response) to `FILE` (- for standard output)")
	fs.Uint64Var(&o.allowUnresolved, "allow-unresolved", 0, "tolerate up to `N` unresolved messages without failing the run (they are still counted and reported)")
	fs.Uint64Var(&o.allowLost, "allow-lost", 0, "tolerate up to `N` lost messages without failing the run (they are still counted and reported)")
	fs.Var(&o.gate, "gate", "thresholds `EXPR,...` (e.g. \"p99<5ms,rate>4900,unresolved==0\"); a failure exits 3")
	fs.BoolVar(&o.progress, "progress", progress, "live progress (default: on when the terminal shows it: standard output, or standard error when an output file is -)")
	fs.Var(&shardFlag{&o.shard}, "shard", "run shard `I/N` of a job spread over N processes or machines: --conns, --rate, --rate-shape and --messages stay the job's totals and this process sends its share (see README, \"Running on several machines\")")
	fs.Var(&jobFlag{&o.job}, "job", "`ID` of the sharded job, recorded with the shard for ccsbench merge (default: from --start-at, the shard count and --seed, so that shards started with the same flags agree)")
	fs.Var(&startAtFlag{&o.startAt}, "start-at", "connect and authenticate first, then begin sending at `TIME` (RFC 3339 with sub-second precision, e.g. 2026-01-15T09:30:00.000Z); refused when more than 1s past")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics on http://`ADDR`/metrics while the run lasts")
	return fs, fakeFlags(fs, "fake-")
}

// outputs are run's output file flags.
func (o *runOptions) outputs() []output {
	return []output{{"json", o.jsonOut}, {"md", o.mdOut}, {"html", o.htmlOut}, {"hlog", o.hlogOut}}
}

// runCmd implements `ccsbench run`: it parses the flags, starts the
// target, runs the driver, then reports. Each step is a method of
// runner.
func runCmd(args []string, stdout, stderr io.Writer) int {
	var o runOptions
	fs, fake := o.flags(isTerminal(stdout))
	help := func(w io.Writer) { fmt.Fprint(w, runUsage) }
	if _, code, ok := parseFlags(fs, args, flagsOnly, help, stdout, stderr); !ok {
		if code == exitOK {
			fmt.Fprintf(stdout, runHelp, workload.RateShapeHelp)
		}
		return code
	}
	r := &runner{o: &o, fs: fs, fake: fake, set: setFlags(fs), stdout: stdout, stderr: stderr}
	code, err := r.run()
	if err != nil {
		return fail(r.stderr, "run", exitCode(err, code), err)
	}
	return code
}

// runner is one `ccsbench run`, from its flags to its exit status.
type runner struct {
	o    *runOptions
	fs   *flag.FlagSet
	fake *fakeOptions
	set  map[string]bool // the flags given on the command line

	// stdout and stderr pass through red once configured; progressOut is
	// the terminal the live progress goes to as it is (numbers only, and
	// it must see it is a terminal): stdout, or stderr when an output file
	// is "-", as summaryOut; rawOut is stdout as given, for the output
	// files, which are redacted as a whole.
	stdout, stderr, progressOut, summaryOut, rawOut io.Writer
	red                                             *ccs.Redactor

	cfg    driver.Config
	target string          // "embedded" or the address, as the results name it
	srv    *fakeccs.Server // the embedded fake, or nil
}

// run runs the steps and returns the exit status; an error ends the run
// with its message and the status of an *exitError (else code).
func (r *runner) run() (code int, err error) {
	if err := r.configure(); err != nil {
		return exitUsage, err
	}
	stopTarget, err := r.startTarget()
	if err != nil {
		return exitFail, err
	}
	defer stopTarget()
	d, err := r.newDriver()
	if err != nil {
		return exitUsage, err
	}
	res, cpu, err := r.measure(d)
	if err != nil {
		return exitFail, err
	}
	return r.finish(d, res, cpu)
}

// configure checks the flags and builds the driver's configuration, sets
// up the redacted outputs, and checks the open files limit and the
// output files before anything runs. Its errors are usage errors.
func (r *runner) configure() error {
	o := r.o
	cfg, err := o.driverConfig(r.set)
	if err != nil {
		return err
	}
	r.cfg = cfg
	// From here on, nothing the run prints carries the API key, whatever
	// the target sends back. The live progress goes to the terminal as it
	// is (it must see it is one): it shows numbers only.
	r.red = ccs.NewRedactorSenders(firstNonEmpty(cfg.APIKey, fakeccs.DefaultAPIKey), append([]string{firstNonEmpty(cfg.SenderID, fakeccs.DefaultSenderID)}, cfg.SenderIDs...)...)
	rawErr := r.stderr
	r.rawOut, r.progressOut = r.stdout, r.stdout
	r.stdout, r.stderr = r.red.Writer(r.stdout), &lockedWriter{w: r.red.Writer(r.stderr)}
	r.summaryOut = r.stdout
	if toStdout(o.outputs()) {
		r.summaryOut, r.progressOut = r.stderr, rawErr
		if !r.set["progress"] {
			o.progress = isTerminal(r.progressOut)
		}
	}
	// Every connection is a file descriptor, and the embedded fake's end
	// of it another one.
	embedded := o.target.addr == ""
	if limit, err := raiseOpenFiles(); err != nil {
		warn(r.stderr, "run", fmt.Errorf("could not raise the open files limit: %w", err))
	} else if need := openFilesNeeded(cfg, embedded); limit > 0 && need > limit {
		why := ""
		if embedded {
			why = " (the embedded fake holds the other end of every connection)"
		}
		return usageErrorf("--conns %d needs about %d open files%s, and the limit (RLIMIT_NOFILE, raised to its hard limit) is %d: raise it (ulimit -Hn, or LimitNOFILE= in systemd) or use fewer connections",
			cfg.Conns, need, why, limit)
	}
	// Output files are checked before the run, not after an hour of it.
	return checkOutputs(o.outputs()...)
}

// startTarget aims the run at --target, or starts the embedded fake on
// loopback and aims it there. It returns what stops the target.
func (r *runner) startTarget() (stop func(), err error) {
	o, cfg := r.o, &r.cfg
	if o.target.addr != "" {
		cfg.Target, r.target = o.target.addr, o.target.addr
		return func() {}, nil
	}
	r.target = "embedded"
	fcfg, err := r.fake.config()
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	fcfg.SenderID = firstNonEmpty(cfg.SenderID, fakeccs.DefaultSenderID)
	fcfg.SenderIDs = cfg.SenderIDs
	fcfg.APIKey = firstNonEmpty(cfg.APIKey, fakeccs.DefaultAPIKey)
	cfg.SenderID, cfg.APIKey = fcfg.SenderID, fcfg.APIKey
	srv, err := fakeccs.New(fcfg)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: r.fake.flagError(err)}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded fake: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	r.srv = srv
	cfg.Target = ln.Addr().String()
	cfg.TLS = &tls.Config{RootCAs: srv.CertPool()}
	return func() {
		srv.Close()
		<-served
	}, nil
}

// newDriver makes the driver: the client's transport, and the first
// disconnect of each cause printed as it happens.
func (r *runner) newDriver() (*driver.Driver, error) {
	cfg := r.cfg
	cfg.IntervalHistograms = r.o.hlogOut != ""
	cfg.Transport = clientTransport(r.o.client, cfg)
	cfg.OnDisconnect = func(dc driver.Disconnect) {
		notef(r.stderr, "run", "connection %d ended (%s): %s [first of this cause; all are counted under disconnects]", dc.Conn+1, dc.Cause, dc.Detail)
	}
	d, err := driver.New(cfg)
	if err != nil {
		return nil, runConfigError(err, r.set["rate-shape"])
	}
	return d, nil
}

// measure runs the driver until it is done or interrupted, with the live
// metrics and progress asked for, and returns what it measured and the
// CPU this process used meanwhile.
func (r *runner) measure(d *driver.Driver) (*driver.Result, cpuUse, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the run ends gracefully; a second one
		// gets the default behaviour.
		<-ctx.Done()
		stop()
	}()
	eff := d.Config()
	if r.o.metricsAddr != "" {
		stopMetrics, addr, err := serveMetrics(r.o.metricsAddr, d, metricsInfo(r.o, eff, r.target))
		if err != nil {
			return nil, cpuUse{}, fmt.Errorf("--metrics-addr: %w", err)
		}
		defer stopMetrics()
		notef(r.stderr, "run", "metrics on http://%s/metrics", addr)
	}
	if !eff.StartAt.IsZero() {
		what := "run"
		if eff.Shard.Count > 1 {
			what += ": shard " + eff.Shard.String() + " of job " + r.o.job
		}
		notef(r.stderr, what, "connecting, then sending from %s (in %v)",
			eff.StartAt.UTC().Format(time.RFC3339Nano), time.Until(eff.StartAt).Round(time.Millisecond))
	}
	stopProgress := func() {}
	if r.o.progress {
		stopProgress = report.StartProgress(r.progressOut, func() report.Snapshot {
			p := d.Progress()
			return report.Snapshot{
				Elapsed:       p.Elapsed,
				Total:         eff.Duration,
				TotalMessages: eff.Messages,
				Sent:          p.Messages,
				Acked:         p.Acked,
				Nacks:         p.Nacked,
				Pending:       p.Pending,
				Rate:          p.Rate,
				P99:           p.P99,
			}
		})
	}
	cpu := startCPU()
	res, err := d.Run(ctx)
	used := cpu.stop()
	stopProgress()
	if err != nil {
		return nil, used, r.runError(err, eff)
	}
	return res, used, nil
}

// runError says what made Run fail, in one sentence: a connection that
// could not be made names itself, the target and the stage.
func (r *runner) runError(err error, eff driver.Config) error {
	var de *driver.DialError
	if !errors.As(err, &de) {
		return err
	}
	why := de.Err
	var he *ccs.HandshakeError
	if !errors.As(why, &he) {
		why = &ccs.HandshakeError{Stage: de.Stage, Err: de.Err}
	} else {
		why = he
	}
	hint := ""
	if errors.Is(why, ccs.ErrAuthRefused) && !eff.BareIdentity && r.srv == nil {
		// Prosody refuses SENDER@DOMAIN whatever the key; ejabberd takes
		// it, and refuses it only for wrong credentials.
		hint = " (a wrong --api-key or --sender-id is refused so; if the target is a standard XMPP server rather than CCS, it may want the sender id alone as the SASL user: --sasl-user local)"
	}
	if se := (*ccs.StreamError)(nil); errors.As(why, &se) && se.Condition == "host-unknown" && r.srv == nil {
		// ejabberd says host-unknown and nothing more; Prosody names the
		// host in a text.
		hint = " (--login-domain picks the domain: gcm or fcm)"
		if se.Text == "" {
			domain := ccs.CCSDomain(eff.LoginDomain)
			if domain == "" {
				domain = ccs.Domain
			}
			hint = " (the target does not serve " + domain + ", the domain the stream header names: --login-domain picks gcm or fcm)"
		}
	}
	return fmt.Errorf("connection %d of %d could not connect to %s: %w%s", de.Conn+1, eff.Conns, eff.Target, why, hint)
}

// finish writes the summary and the output files, says what went wrong
// and returns the exit status: 1 when the accounting does not add up or
// too many messages were lost or unresolved, else 3 when a gate failed.
func (r *runner) finish(d *driver.Driver, res *driver.Result, cpu cpuUse) (int, error) {
	o, eff := r.o, d.Config()
	rr, intervals, err := buildResult(res, r.target, eff.Conns, runConfig(r.fs, eff, r.cfg.Messages, r.target), r.srv)
	if err != nil {
		return exitFail, err
	}
	if eff.Shard.Count > 1 {
		rr.Shard = &report.Shard{Index: eff.Shard.Index, Count: eff.Shard.Count, Job: o.job}
	}
	if !eff.StartAt.IsZero() {
		rr.Start = &report.Start{At: eff.StartAt, SkewUS: float64(res.StartSkew) / float64(time.Microsecond)}
	}
	if o.gate.gate != nil {
		rr.Gates = o.gate.gate.Evaluate(rr)
	}
	code := exitOK
	if err := report.WriteSummary(r.summaryOut, rr); err != nil {
		code = fail(r.stderr, "run", exitFail, err)
	}
	if err := r.writeOutputs(rr, intervals); err != nil {
		code = fail(r.stderr, "run", exitFail, err)
	}
	if msg := shortfall(res, eff, r.cfg.Messages, cpu, r.srv != nil); msg != "" {
		notef(r.stderr, "run", "warning: %s", msg)
	}
	if msg := notCCS(res.Counts, eff.DrainTimeout, r.srv != nil); msg != "" {
		notef(r.stderr, "run", "%s", msg)
	}
	if res.LastDialError != nil {
		notef(r.stderr, "run", "%d replacement connection(s) failed; last: %s", res.Counts.DialFailures, errText(res.LastDialError))
	}
	if err := res.Counts.Check(); err != nil {
		return exitFail, err
	}
	// A run in which the target refused messages with stanza errors and
	// answered none with an ACK or NACK (a standard XMPP server bouncing
	// what it cannot route, as ejabberd does) measured nothing of CCS: it
	// fails, and notCCS said why. (Lost and unresolved messages have
	// their own tolerances.)
	c := res.Counts
	failed := r.srv == nil && c.StanzaErrors > 0 && c.Acked+c.Nacked == 0
	if c.Lost > o.allowLost {
		notef(r.stderr, "run", "%d of %d messages were lost: their connection ended under them more than --max-resends %d times (allowed: %d, see --allow-lost)",
			c.Lost, c.Messages, res.MaxResends, o.allowLost)
		failed = true
	}
	if c.Unresolved > o.allowUnresolved {
		notef(r.stderr, "run", "%d of %d messages were unresolved: they had no outcome when the drain deadline passed (allowed: %d, see --allow-unresolved)",
			c.Unresolved, c.Messages, o.allowUnresolved)
		failed = true
	}
	switch {
	case failed:
		return exitFail, nil
	case code != exitOK:
		return code, nil
	case !report.GatesPassed(rr.Gates):
		var failed []string
		for _, g := range rr.Gates {
			if !g.Pass {
				failed = append(failed, fmt.Sprintf("%s (measured %s)", g.Expr, g.MeasuredString()))
			}
		}
		notef(r.stderr, "run", "gate failed: %s", strings.Join(failed, ", "))
		return exitGate, nil
	}
	return exitOK, nil
}

// writeOutputs writes the files asked for. The text files pass through
// the redactor, so that no API key reaches them whatever the target sent
// (the driver redacts what it passes on already; this is the last
// boundary).
func (r *runner) writeOutputs(rr *report.Result, ivs []report.Interval) error {
	o, red := r.o, r.red.Bytes
	var errs []error
	write := func(path string, filter func([]byte) []byte, fn func(io.Writer) error) {
		if path != "" {
			errs = append(errs, writeOutput(path, r.rawOut, filter, fn))
		}
	}
	write(o.jsonOut, red, rr.Encode)
	write(o.mdOut, red, func(w io.Writer) error { return report.WriteMarkdown(w, rr) })
	write(o.htmlOut, red, func(w io.Writer) error { return report.WriteHTML(w, rr) })
	// Base64 histograms only: nothing a target sent.
	write(o.hlogOut, nil, func(w io.Writer) error { return report.WriteHlog(w, rr.StartedAt, ivs) })
	return errors.Join(errs...)
}

// driverConfig builds the driver's configuration from the flags; set
// holds the flags given on the command line. Its errors are usage errors.
func (o *runOptions) driverConfig(set map[string]bool) (driver.Config, error) {
	cfg, err := o.checkedConfig(set)
	if err != nil {
		return cfg, &exitError{code: exitUsage, err: err}
	}
	return cfg, nil
}

// checkedConfig is driverConfig. It checks only what the command line
// means by a value (a 0 the driver would take as its default, flags that
// exclude each other); driver.New checks the values themselves, and
// runConfigError names the flag in its errors.
func (o *runOptions) checkedConfig(set map[string]bool) (driver.Config, error) {
	senders := o.senderIDs
	if !set["sender-id"] {
		senders = splitList(os.Getenv("CCSBENCH_SENDER_ID"))
	}
	cfg := driver.Config{
		DialConcurrency:     o.dialConcurrency,
		ConnRate:            o.connRate,
		APIKey:              firstNonEmpty(o.apiKey, os.Getenv("CCSBENCH_API_KEY")),
		LoginDomain:         o.loginDomain,
		BareIdentity:        o.bareIdentity,
		Conns:               o.conns,
		Window:              o.window,
		AllowWindowOverride: o.windowOverride,
		Messages:            o.messages,
		Duration:            o.duration,
		Warmup:              o.warmup,
		Interval:            o.interval,
		DrainTimeout:        o.drain,
		DrainCloseTimeout:   o.drainClose,
		DialTimeout:         o.dialTimeout,
		MaxResends:          o.maxResends,
		MaxRetries:          o.maxRetries,
		Message:             o.msg,
		Seed:                o.msg.Seed,
		Arrivals:            o.arrivals,
	}
	if len(senders) > 0 {
		cfg.SenderID = senders[0]
	}
	if len(senders) > 1 {
		cfg.SenderIDs = senders
	}
	if err := o.shardConfig(&cfg); err != nil {
		return cfg, err
	}
	if err := o.targetConfig(&cfg, set); err != nil {
		return cfg, err
	}
	if o.conns <= 0 {
		return cfg, fmt.Errorf("--conns %d must be positive", o.conns)
	}
	if o.dialConcurrency <= 0 {
		return cfg, fmt.Errorf("--dial-concurrency %d must be positive", o.dialConcurrency)
	}
	if o.window <= 0 {
		return cfg, fmt.Errorf("--window %d must be positive", o.window)
	}
	if o.drain <= 0 {
		return cfg, fmt.Errorf("--drain-timeout %v must be positive", o.drain)
	}
	if o.dialTimeout <= 0 {
		return cfg, fmt.Errorf("--dial-timeout %v must be positive", o.dialTimeout)
	}
	if o.drainClose <= 0 {
		return cfg, fmt.Errorf("--drain-close-timeout %v must be positive", o.drainClose)
	}
	if o.maxResends < 0 || o.maxRetries < 0 {
		return cfg, fmt.Errorf("--max-resends %d and --max-retries %d must not be negative", o.maxResends, o.maxRetries)
	}
	// The driver's 0 means its default; none is negative.
	if o.maxResends == 0 {
		cfg.MaxResends = -1
	}
	if o.maxRetries == 0 {
		cfg.MaxRetries = -1
	}
	if set["messages"] && !set["duration"] {
		cfg.Duration = 0
	}
	switch {
	case set["rate"] && set["rate-shape"]:
		return cfg, errors.New("--rate and --rate-shape exclude each other")
	case o.rateShape.pacer != nil:
		cfg.Pacer = o.rateShape.pacer
	default:
		cfg.Pacer = workload.ConstantPacer{Freq: o.rate}
	}
	return cfg, nil
}

// targetConfig checks the flags that go with --target, or with the
// embedded fake when there is none, and sets the trust for --target.
func (o *runOptions) targetConfig(cfg *driver.Config, set map[string]bool) error {
	if o.target.addr == "" {
		switch {
		case set["ca"] || set["insecure"] || set["tls-server-name"]:
			return errors.New("--ca, --insecure and --tls-server-name apply to --target; the embedded fake's certificate is trusted already")
		case set["tls"]:
			return errors.New("--tls applies to --target; the embedded fake speaks TLS from the first byte, as CCS")
		}
		return nil
	}
	for name := range set {
		if strings.HasPrefix(name, "fake-") {
			return fmt.Errorf("--%s configures the embedded fake, which does not run with --target", name)
		}
	}
	if cfg.SenderID == "" || cfg.APIKey == "" {
		return errors.New("--target needs --sender-id and --api-key (or CCSBENCH_SENDER_ID and CCSBENCH_API_KEY)")
	}
	if o.ca != "" && o.insecure {
		return errors.New("--ca and --insecure exclude each other")
	}
	cfg.TLSMode = o.tlsMode
	if o.tlsMode == ccs.TLSNone {
		if set["ca"] || set["insecure"] || set["tls-server-name"] {
			return errors.New("--ca, --insecure and --tls-server-name configure TLS, which --tls none does not use")
		}
		return nil
	}
	tc, err := o.tlsConfig(o.target.addr)
	if err != nil {
		return err
	}
	cfg.TLS = tc
	return nil
}

// openFilesNeeded is how many file descriptors a run takes at least: one
// a connection it holds (its shard's part of --conns), two with the
// embedded fake, and some for everything else. Connections that drain
// may double it for a while.
func openFilesNeeded(cfg driver.Config, embedded bool) uint64 {
	conns := cfg.Conns
	if n, err := cfg.Shard.Conns(cfg.Conns); err == nil {
		conns = n
	}
	n := uint64(conns)
	if embedded {
		n *= 2
	}
	return n + 64
}

// shardConfig checks --shard, --job and --start-at and sets the driver's
// Shard and StartAt; the job id defaults to one derived from --start-at,
// the shard count and --seed.
func (o *runOptions) shardConfig(cfg *driver.Config) error {
	if !o.startAt.IsZero() {
		if late := time.Since(o.startAt); late > driver.MaxStartLateness {
			return fmt.Errorf("--start-at %s is %v in the past (at most %v is allowed): choose a time far enough ahead for every shard to connect",
				o.startAt.Format(time.RFC3339Nano), late.Round(time.Millisecond), driver.MaxStartLateness)
		}
		cfg.StartAt = o.startAt
	}
	sharded := o.shard.Count > 1
	switch {
	case o.job != "" && !sharded:
		return errors.New("--job names the job of a sharded run: it needs --shard I/N with N > 1")
	case sharded && o.job == "" && o.startAt.IsZero():
		return errors.New("--shard without --start-at needs --job ID: the shards of one job must be named alike (with --start-at the default job id comes from it)")
	case !sharded:
		return nil
	}
	if o.job == "" {
		o.job = defaultJobID(cfg.StartAt, o.shard.Count, o.msg.Seed)
	}
	cfg.Shard = o.shard
	return nil
}

// defaultJobID names a job by what its shards share on the command line:
// the start instant (UTC), the shard count and the seed, e.g.
// "20260115T093000.5Z-4shards-seed1".
func defaultJobID(at time.Time, shards int, seed uint64) string {
	return fmt.Sprintf("%s-%dshards-seed%d", at.UTC().Format("20060102T150405.999999999Z"), shards, seed)
}

// tlsConfig is the trust for --target: --ca, --insecure or the system's,
// for the host of target or --tls-server-name.
func (o *runOptions) tlsConfig(target string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(target)
	if o.serverName != "" {
		host = o.serverName
	}
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	switch {
	case o.insecure:
		c.InsecureSkipVerify = true
	case o.ca != "":
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate found", o.ca)
		}
		c.RootCAs = pool
	}
	return c, nil
}
