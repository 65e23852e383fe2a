package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

func init() {
	register("run", "load test a CCS endpoint (default: the embedded fake on loopback)", runCmd)
}

// Named targets of --target.
const (
	stagingTarget    = "gcm-staging.googleapis.com:5236"
	productionTarget = "gcm.googleapis.com:5235"
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

With --shard I/N the run is one of N shards of a job spread over several
processes or machines, all started with the same flags: --conns, --rate,
--rate-shape and --messages are the job's totals, and this shard opens its
share of the connections and sends every N-th message of the job's schedule
(with the same --seed, the shards together send what one run would).
--start-at makes every shard connect first and begin sending at one
instant; ccsbench merge checks and merges the shards' results files.

Exit status: 0 ok; 1 the run failed (a connection could not be made, the
accounting does not add up, or more messages were lost or left unresolved
than --allow-lost and --allow-unresolved tolerate); 2 bad usage; 3 a --gate
expression failed.

Flags:
`

// runOptions are the flags of run that are not the embedded fake's.
type runOptions struct {
	client                       string
	target, senderID, apiKey, ca string
	loginDomain                  string
	insecure                     bool
	conns, window                int
	windowOverride               bool
	rate                         float64
	rateShape, arrivals          string
	duration, warmup, drain      time.Duration
	dialTimeout, drainClose      time.Duration
	dialConcurrency              int
	connRate                     float64
	interval                     time.Duration
	maxResends, maxRetries       int
	messages                     uint64
	allowUnresolved, allowLost   uint64
	msg                          workload.MessageConfig
	jsonOut, mdOut, htmlOut      string
	hlogOut, gate                string
	progress                     bool
	shard                        workload.Shard
	job, startAt, metricsAddr    string
}

// outputFlags do not shape the run and are left out of the results'
// config; api-key is never written anywhere. shard, job and start-at are
// recorded in the results' shard and start instead, so that the configs
// of a job's shards are the same.
var outputFlags = map[string]bool{"json": true, "md": true, "html": true, "hlog": true, "progress": true, "api-key": true, "gate": true,
	"metrics-addr": true, "shard": true, "job": true, "start-at": true}

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	// Parse errors go to stderr; -h prints the usage to stdout below.
	fs.SetOutput(stderr)
	var o runOptions
	def := workload.DefaultMessageConfig()
	fs.StringVar(&o.client, "client", clientNative, "CCS client implementation `NAME` the driver runs over: "+clientNames()+" (same workload, window, retries and accounting; results name it)")
	fs.StringVar(&o.target, "target", "", "CCS endpoint `host:port`, staging ("+stagingTarget+") or production ("+productionTarget+"); default: the embedded fake")
	fs.StringVar(&o.senderID, "sender-id", "", "sender `ID`, or several as ID,ID,... sharing --api-key: connections spread round-robin, at most 1000 per sender id (default $CCSBENCH_SENDER_ID; the fake's default for the embedded fake)")
	fs.StringVar(&o.apiKey, "api-key", "", "API `KEY` (default $CCSBENCH_API_KEY); never printed or written")
	fs.StringVar(&o.loginDomain, "login-domain", "gcm", "log in as SENDER@`gcm|fcm`.googleapis.com (fcm: as FCM-era clients do)")
	fs.StringVar(&o.ca, "ca", "", "trust the target's certificate from this PEM `FILE`")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the target's certificate")
	fs.IntVar(&o.conns, "conns", driver.DefaultConns, "number of connections `N` (at most 1000 per sender id)")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", driver.DefaultDialConcurrency, "make at most `N` connections (TCP, TLS, authentication) at once at the start")
	fs.Float64Var(&o.connRate, "conn-rate", 0, "start at most `R` connections a second at the start (0: as fast as --dial-concurrency allows)")
	fs.IntVar(&o.window, "window", driver.DefaultWindow, "unanswered messages allowed per connection `N` (at most 100)")
	fs.BoolVar(&o.windowOverride, "window-override", false, "allow --window above 100 (breaks the protocol; for testing servers' flow control)")
	fs.Float64Var(&o.rate, "rate", 5000, "messages per second `R` (0: as fast as the windows allow)")
	fs.StringVar(&o.rateShape, "rate-shape", "", "rate `SHAPE` instead of a constant --rate (syntax below)")
	fs.StringVar(&o.arrivals, "arrivals", "uniform", "arrival process: `uniform` or poisson")
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
	fs.StringVar(&o.jsonOut, "json", "", "write the results file (JSON, schema "+report.Schema+") to `FILE`")
	fs.StringVar(&o.mdOut, "md", "", "write a markdown report to `FILE`")
	fs.StringVar(&o.htmlOut, "html", "", "write an HTML report (offline, with charts) to `FILE`")
	fs.StringVar(&o.hlogOut, "hlog", "", "write HdrHistogram interval logs (one per --interval, tags service and response) to `FILE`")
	fs.Uint64Var(&o.allowUnresolved, "allow-unresolved", 0, "tolerate up to `N` unresolved messages without failing the run (they are still counted and reported)")
	fs.Uint64Var(&o.allowLost, "allow-lost", 0, "tolerate up to `N` lost messages without failing the run (they are still counted and reported)")
	fs.StringVar(&o.gate, "gate", "", "thresholds `EXPR,...` (e.g. \"p99<5ms,rate>4900,unresolved==0\"); a failure exits 3")
	fs.BoolVar(&o.progress, "progress", isTerminal(stdout), "live progress (default: on when stdout is a terminal)")
	fs.Var(&o.shard, "shard", "run shard `I/N` of a job spread over N processes or machines: --conns, --rate, --rate-shape and --messages stay the job's totals and this process sends its share (see README, \"Running on several machines\")")
	fs.StringVar(&o.job, "job", "", "`ID` of the sharded job, recorded with the shard for ccsbench merge (default: from --start-at, the shard count and --seed, so that shards started with the same flags agree)")
	fs.StringVar(&o.startAt, "start-at", "", "connect and authenticate first, then begin sending at `TIME` (RFC 3339 with sub-second precision, e.g. 2026-01-15T09:30:00.000Z); refused when more than 1s past")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics on http://`ADDR`/metrics while the run lasts")
	fo := fakeFlags(fs, "fake-")
	fs.Usage = func() {} // a parse error is printed alone, the usage only on -h
	printUsage := func() {
		fs.SetOutput(stdout)
		defer fs.SetOutput(stderr)
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\n%s\n\nGate expressions: METRIC OP VALUE, metrics p50 p90 p99 p999 max (service\ntime), rp50..rmax (response time), rate, and the counts unresolved, lost, nacks,\nretries, disconnects, drain_timeouts, strays; operators < <= > >= ==;\nlatencies with a unit us, ms or s.\n", workload.RateShapeHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
			return 0
		}
		fmt.Fprintln(stderr, "see ccsbench help run")
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ccsbench run: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (flags only; see ccsbench help run)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg, err := o.driverConfig(set)
	if err != nil {
		return usageErr("%v", err)
	}
	// From here on, nothing the run prints carries the API key, whatever
	// the target sends back. The live progress goes to the terminal as it
	// is (it must see it is one): it shows numbers only.
	red := ccs.NewRedactorSenders(firstNonEmpty(cfg.APIKey, fakeccs.DefaultAPIKey), append([]string{firstNonEmpty(cfg.SenderID, fakeccs.DefaultSenderID)}, cfg.SenderIDs...)...)
	progressOut := stdout
	stdout, stderr = red.Writer(stdout), &lockedWriter{w: red.Writer(stderr)}
	var gate report.Gate
	if o.gate != "" {
		if gate, err = report.ParseGate(o.gate); err != nil {
			return usageErr("--gate: %v", err)
		}
	}

	// Every connection is a file descriptor, and the embedded fake's end
	// of it another one.
	if limit, err := raiseOpenFiles(); err != nil {
		fmt.Fprintf(stderr, "ccsbench run: warning: could not raise the open files limit: %v\n", err)
	} else if need := openFilesNeeded(cfg, o.target == ""); limit > 0 && need > limit {
		return usageErr("--conns %d needs about %d open files%s, and the limit (RLIMIT_NOFILE, raised to its hard limit) is %d: raise it (ulimit -Hn, or LimitNOFILE= in systemd) or use fewer connections",
			cfg.Conns, need, map[bool]string{true: " (the embedded fake holds the other end of every connection)", false: ""}[o.target == ""], limit)
	}

	// Output files are checked before the run, not after an hour of it.
	if err := checkOutputs(&o); err != nil {
		return usageErr("%v", err)
	}

	// The target: a named or given endpoint, or the embedded fake.
	targetName := "embedded"
	var srv *fakeccs.Server
	if o.target != "" {
		for name := range set {
			if strings.HasPrefix(name, "fake-") {
				return usageErr("--%s configures the embedded fake, which does not run with --target", name)
			}
		}
		switch o.target {
		case "staging":
			cfg.Target = stagingTarget
		case "production":
			cfg.Target = productionTarget
		default:
			if _, _, err := net.SplitHostPort(o.target); err != nil {
				return usageErr("--target %q: want host:port, staging or production", o.target)
			}
			cfg.Target = o.target
		}
		targetName = cfg.Target
		if cfg.SenderID == "" || cfg.APIKey == "" {
			return usageErr("--target needs --sender-id and --api-key (or CCSBENCH_SENDER_ID and CCSBENCH_API_KEY)")
		}
		if cfg.TLS, err = o.tlsConfig(cfg.Target); err != nil {
			return usageErr("%v", err)
		}
	} else {
		if set["ca"] || set["insecure"] {
			return usageErr("--ca and --insecure apply to --target; the embedded fake's certificate is trusted already")
		}
		fcfg, err := fo.config()
		if err != nil {
			return usageErr("%v", err)
		}
		fcfg.SenderID = firstNonEmpty(cfg.SenderID, fakeccs.DefaultSenderID)
		fcfg.SenderIDs = cfg.SenderIDs
		fcfg.APIKey = firstNonEmpty(cfg.APIKey, fakeccs.DefaultAPIKey)
		cfg.SenderID, cfg.APIKey = fcfg.SenderID, fcfg.APIKey
		srv, err = fakeccs.New(fcfg)
		if err != nil {
			return usageErr("%v", fo.flagError(err))
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintf(stderr, "ccsbench run: embedded fake: %v\n", err)
			return 1
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			srv.Close()
			<-served
		}()
		cfg.Target = ln.Addr().String()
		cfg.TLS = &tls.Config{RootCAs: srv.CertPool()}
	}

	cfg.IntervalHistograms = o.hlogOut != ""
	cfg.Transport = clientTransport(o.client, cfg)
	cfg.OnDisconnect = func(dc driver.Disconnect) {
		fmt.Fprintf(stderr, "ccsbench run: connection %d ended (%s): %s [first of this cause; all are counted under disconnects]\n", dc.Conn+1, dc.Cause, dc.Detail)
	}
	d, err := driver.New(cfg)
	if err != nil {
		return usageErr("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the run ends gracefully; a second one
		// gets the default behaviour.
		<-ctx.Done()
		stop()
	}()

	if o.metricsAddr != "" {
		stopMetrics, addr, err := serveMetrics(o.metricsAddr, d, metricsInfo(&o, d.Config(), targetName))
		if err != nil {
			fmt.Fprintf(stderr, "ccsbench run: --metrics-addr: %v\n", err)
			return 1
		}
		defer stopMetrics()
		fmt.Fprintf(stderr, "ccsbench run: metrics on http://%s/metrics\n", addr)
	}
	if !cfg.StartAt.IsZero() {
		what := "ccsbench run"
		if cfg.Shard.Count > 1 {
			what += ": shard " + cfg.Shard.String() + " of job " + o.job
		}
		fmt.Fprintf(stderr, "%s: connecting, then sending from %s (in %v)\n", what,
			cfg.StartAt.UTC().Format(time.RFC3339Nano), time.Until(cfg.StartAt).Round(time.Millisecond))
	}

	stopProgress := func() {}
	if o.progress {
		eff := d.Config()
		stopProgress = report.StartProgress(progressOut, func() report.Snapshot {
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
	res, err := d.Run(ctx)
	stopProgress()
	if err != nil {
		fmt.Fprintf(stderr, "ccsbench run: %v\n", err)
		return 1
	}

	rr, intervals, err := buildResult(res, targetName, d.Config().Conns, runConfig(fs, d.Config(), cfg.Messages, targetName), srv)
	if err != nil {
		fmt.Fprintf(stderr, "ccsbench run: %v\n", err)
		return 1
	}
	if cfg.Shard.Count > 1 {
		rr.Shard = &report.Shard{Index: cfg.Shard.Index, Count: cfg.Shard.Count, Job: o.job}
	}
	if !cfg.StartAt.IsZero() {
		rr.Start = &report.Start{At: cfg.StartAt, SkewUS: float64(res.StartSkew) / float64(time.Microsecond)}
	}
	if gate != nil {
		rr.Gates = gate.Evaluate(rr)
	}
	code := 0
	if err := report.WriteSummary(stdout, rr); err != nil {
		fmt.Fprintf(stderr, "ccsbench run: %v\n", err)
		code = 1
	}
	if err := writeOutputs(&o, rr, intervals, red); err != nil {
		fmt.Fprintf(stderr, "ccsbench run: %v\n", err)
		code = 1
	}
	if res.Counts.Unsent > 0 {
		fmt.Fprintf(stderr, "ccsbench run: warning: %d messages due before the end of sending were never sent: %s\n", res.Counts.Unsent, unsentCause(res, d.Config().Conns))
	}
	if res.LastDialError != nil {
		fmt.Fprintf(stderr, "ccsbench run: %d replacement connection(s) failed; last: %v\n", res.Counts.DialFailures, res.LastDialError)
	}
	if err := res.Counts.Check(); err != nil {
		fmt.Fprintf(stderr, "ccsbench run: %v\n", err)
		return 1
	}
	failed := false
	if c := res.Counts; c.Lost > o.allowLost {
		fmt.Fprintf(stderr, "ccsbench run: %d of %d messages were lost: their connection ended under them more than --max-resends %d times (allowed: %d, see --allow-lost)\n",
			c.Lost, c.Messages, res.MaxResends, o.allowLost)
		failed = true
	}
	if c := res.Counts; c.Unresolved > o.allowUnresolved {
		fmt.Fprintf(stderr, "ccsbench run: %v: %d of %d messages had no outcome when the drain deadline passed (allowed: %d, see --allow-unresolved)\n",
			driver.ErrUnresolved, c.Unresolved, c.Messages, o.allowUnresolved)
		failed = true
	}
	if failed {
		return 1
	}
	if code != 0 {
		return code
	}
	if !report.GatesPassed(rr.Gates) {
		var failed []string
		for _, g := range rr.Gates {
			if !g.Pass {
				failed = append(failed, fmt.Sprintf("%s (measured %s)", g.Expr, g.MeasuredString()))
			}
		}
		fmt.Fprintf(stderr, "ccsbench run: gate failed: %s\n", strings.Join(failed, ", "))
		return 3
	}
	return 0
}

// driverConfig builds the driver's configuration from the flags; set
// holds the flags given on the command line.
func (o *runOptions) driverConfig(set map[string]bool) (driver.Config, error) {
	senders := splitList(firstNonEmpty(o.senderID, os.Getenv("CCSBENCH_SENDER_ID")))
	cfg := driver.Config{
		DialConcurrency:     o.dialConcurrency,
		ConnRate:            o.connRate,
		APIKey:              firstNonEmpty(o.apiKey, os.Getenv("CCSBENCH_API_KEY")),
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
	}
	if err := checkClient(o.client); err != nil {
		return cfg, err
	}
	if len(senders) > 0 {
		cfg.SenderID = senders[0]
	}
	if len(senders) > 1 {
		cfg.SenderIDs = senders
	}
	if len(senders) > driver.MaxSenders {
		return cfg, fmt.Errorf("--sender-id: %d sender ids; at most %d", len(senders), driver.MaxSenders)
	}
	switch o.loginDomain {
	case "gcm":
		cfg.LoginDomain = ccs.Domain
	case "fcm":
		cfg.LoginDomain = ccs.FCMDomain
	default:
		return cfg, fmt.Errorf("--login-domain %q: want gcm or fcm", o.loginDomain)
	}
	if err := o.shardConfig(&cfg); err != nil {
		return cfg, err
	}
	if o.conns <= 0 {
		return cfg, fmt.Errorf("--conns %d must be positive", o.conns)
	}
	if n := max(1, len(senders)); o.conns > n*driver.MaxConnsPerSender {
		return cfg, fmt.Errorf("--conns %d: at most %d per sender id (CCS's limit), %d with %d sender id(s); give several sender ids as --sender-id A,B,C", o.conns, driver.MaxConnsPerSender, n*driver.MaxConnsPerSender, n)
	}
	if o.dialConcurrency <= 0 {
		return cfg, fmt.Errorf("--dial-concurrency %d must be positive", o.dialConcurrency)
	}
	if !(o.connRate >= 0) || math.IsInf(o.connRate, 1) {
		return cfg, fmt.Errorf("--conn-rate %g must be a number >= 0", o.connRate)
	}
	if o.window <= 0 {
		return cfg, fmt.Errorf("--window %d must be positive", o.window)
	}
	if o.duration < 0 || o.warmup < 0 || o.drain <= 0 {
		return cfg, errors.New("--duration and --warmup must not be negative, --drain-timeout must be positive")
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
	if o.interval < driver.MinInterval {
		return cfg, fmt.Errorf("--interval %v: at least %v", o.interval, driver.MinInterval)
	}
	if set["messages"] && !set["duration"] {
		cfg.Duration = 0
	}
	if cfg.Duration == 0 && cfg.Messages == 0 {
		return cfg, errors.New("--duration 0 needs --messages")
	}
	if set["rate"] && set["rate-shape"] {
		return cfg, errors.New("--rate and --rate-shape exclude each other")
	}
	if o.rateShape != "" {
		p, err := workload.ParseRateShape(o.rateShape)
		if err != nil {
			return cfg, fmt.Errorf("--rate-shape: %w", err)
		}
		cfg.Pacer = p
	} else {
		if !(o.rate >= 0 && o.rate <= workload.MaxRate) {
			return cfg, fmt.Errorf("--rate %g: must be between 0 (as fast as the windows allow) and %g msgs/s", o.rate, float64(workload.MaxRate))
		}
		p := workload.ConstantPacer{Freq: o.rate}
		if err := p.Validate(); err != nil {
			return cfg, fmt.Errorf("--rate: %w", err)
		}
		cfg.Pacer = p
	}
	a, err := workload.ParseArrivals(o.arrivals)
	if err != nil {
		return cfg, fmt.Errorf("--arrivals: %w", err)
	}
	cfg.Arrivals = a
	if err := o.msg.Validate(); err != nil {
		return cfg, err
	}
	if o.ca != "" && o.insecure {
		return cfg, errors.New("--ca and --insecure exclude each other")
	}
	return cfg, nil
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

// maxJobLen bounds --job.
const maxJobLen = 64

// shardConfig checks --shard, --job and --start-at and sets the driver's
// Shard and StartAt; the job id defaults to one derived from --start-at,
// the shard count and --seed.
func (o *runOptions) shardConfig(cfg *driver.Config) error {
	if o.startAt != "" {
		at, err := time.Parse(time.RFC3339Nano, o.startAt)
		if err != nil {
			return fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-01-15T09:30:00.000Z", o.startAt)
		}
		if late := time.Since(at); late > driver.MaxStartLateness {
			return fmt.Errorf("--start-at %s is %v in the past (at most %v is allowed): choose a time far enough ahead for every shard to connect",
				o.startAt, late.Round(time.Millisecond), driver.MaxStartLateness)
		}
		cfg.StartAt = at
	}
	sharded := o.shard.Count > 1
	switch {
	case o.job != "" && !sharded:
		return errors.New("--job names the job of a sharded run: it needs --shard I/N with N > 1")
	case sharded && o.job == "" && o.startAt == "":
		return errors.New("--shard without --start-at needs --job ID: the shards of one job must be named alike (with --start-at the default job id comes from it)")
	case !sharded:
		return nil
	}
	if o.job == "" {
		o.job = defaultJobID(cfg.StartAt, o.shard.Count, o.msg.Seed)
	}
	if len(o.job) > maxJobLen || !validJobID(o.job) {
		return fmt.Errorf("--job %q: want 1 to %d letters, digits, '.', '_', ':' or '-'", o.job, maxJobLen)
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

// tlsConfig is the trust for --target: --ca, --insecure or the system's.
func (o *runOptions) tlsConfig(target string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(target)
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

// runConfig records every flag that shaped the run, by name, with the
// effective values the driver used (messages: the run's or the job's
// total); never the API key.
func runConfig(fs *flag.FlagSet, eff driver.Config, messages uint64, target string) map[string]any {
	m := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		if outputFlags[f.Name] {
			return
		}
		if strings.HasPrefix(f.Name, "fake-") && target != "embedded" {
			return
		}
		var v any = f.Value.String()
		if g, ok := f.Value.(flag.Getter); ok {
			switch x := g.Get().(type) {
			case bool, int, uint64, float64:
				v = x
			case string:
				v = x
			}
		}
		m[f.Name] = v
	})
	m["target"] = target
	m["sender-id"] = eff.SenderID
	if len(eff.SenderIDs) > 0 {
		m["sender-id"] = strings.Join(eff.SenderIDs, ",")
	}
	m["duration"] = eff.Duration.String()
	m["warmup"] = eff.Warmup.String()
	m["messages"] = messages // the job's total for a shard, not its share
	m["rate-shape"] = fmt.Sprint(eff.Pacer)
	m["client"] = eff.Transport.Name()
	return m
}

// buildResult converts the driver's result into the results file, and
// the intervals after the warm-up for the hlog.
func buildResult(res *driver.Result, target string, conns int, config map[string]any, srv *fakeccs.Server) (*report.Result, []report.Interval, error) {
	c := res.Counts
	rr := &report.Result{
		Schema: report.Schema,
		Tool: report.Tool{
			Version: strings.TrimPrefix(versionString(), "ccsbench "),
			Go:      runtime.Version(),
			Client:  res.Client,
		},
		Config:    config,
		Target:    target,
		StartedAt: res.MeasureStart,
		DurationS: res.Measured.Seconds(),
		Counts: report.Counts{
			Messages: c.Messages, Acked: c.Acked, Nacked: c.Nacked, Nacks: c.Nacks,
			StanzaErrors: c.StanzaErrors, Lost: c.Lost, Unresolved: c.Unresolved, Unsent: c.Unsent, Retries: c.Retries,
			Reconnects: c.Reconnects, Draining: c.Draining, DrainTimeouts: c.DrainTimeouts, DialFailures: c.DialFailures,
			Disconnects: c.Disconnects, Upstream: c.Upstream, Receipts: c.Receipts, Strays: c.Strays, StrayKinds: c.StrayKinds,
		},
		Throughput: report.Throughput{AckedPerS: res.AckedRate, OfferedPerS: res.OfferedRate},
		Connect: &report.Connect{
			Conns:         conns,
			AllConnectedS: res.AllConnected.Seconds(),
			Handshakes:    uint64(res.Handshakes.TotalCount()),
			HandshakeUS:   report.Summarize(res.Handshakes),
		},
		LatencyUS: report.Latency{
			Service:  report.Summarize(res.Service),
			Response: report.Summarize(res.Response),
		},
	}
	var err error
	if rr.Histograms.Service, err = report.EncodeHistogram(res.Service); err != nil {
		return nil, nil, err
	}
	if rr.Histograms.Response, err = report.EncodeHistogram(res.Response); err != nil {
		return nil, nil, err
	}
	if rr.Histograms.Handshake, err = report.EncodeHistogram(res.Handshakes); err != nil {
		return nil, nil, err
	}
	var ivs []report.Interval
	for i := range res.Intervals {
		iv := &res.Intervals[i]
		if iv.Warmup {
			continue
		}
		rr.Timeline = append(rr.Timeline, report.TimelinePoint{
			TS:          (iv.End - res.Warmup).Seconds(),
			Sent:        iv.Sent,
			Acked:       iv.Acked,
			Nacked:      iv.Nacked,
			Pending:     iv.Pending,
			PendingPeak: iv.PendingPeak,
			Disconnects: iv.Disconnects,
			P99US:       float64(iv.ServiceP99),
			RP99US:      float64(iv.ResponseP99),
		})
		if svc, rsp := iv.Histograms(); svc != nil {
			ivs = append(ivs, report.Interval{
				Start: res.Start.Add(iv.Start), End: res.Start.Add(iv.End),
				Service: svc, Response: rsp,
			})
		}
	}
	if srv != nil {
		if rr.Fake, err = json.Marshal(srv.Stats()); err != nil {
			return nil, nil, err
		}
	}
	return rr, ivs, nil
}

// checkOutputs makes sure every output file asked for can be written,
// before the run: an existing file is opened for writing (not truncated:
// it keeps its content if the run fails), a new one is created and
// removed again.
func checkOutputs(o *runOptions) error {
	for _, out := range []struct{ flag, path string }{{"json", o.jsonOut}, {"md", o.mdOut}, {"html", o.htmlOut}, {"hlog", o.hlogOut}} {
		if out.path == "" {
			continue
		}
		_, statErr := os.Stat(out.path)
		existed := statErr == nil
		f, err := os.OpenFile(out.path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--%s: %w", out.flag, err)
		}
		err = f.Close()
		if !existed {
			err = errors.Join(err, os.Remove(out.path))
		}
		if err != nil {
			return fmt.Errorf("--%s: %w", out.flag, err)
		}
	}
	return nil
}

// writeOutputs writes the files asked for. The text files pass through
// red, so that no API key reaches them whatever the target sent (the
// driver redacts what it passes on already; this is the last boundary).
func writeOutputs(o *runOptions, rr *report.Result, ivs []report.Interval, red *ccs.Redactor) error {
	var errs []error
	write := func(path string, redact bool, fn func(io.Writer) error) {
		if path == "" {
			return
		}
		var buf bytes.Buffer
		if err := fn(&buf); err != nil {
			errs = append(errs, err)
			return
		}
		b := buf.Bytes()
		if redact {
			b = red.Bytes(b)
		}
		errs = append(errs, os.WriteFile(path, b, 0o644))
	}
	write(o.jsonOut, true, rr.Encode)
	write(o.mdOut, true, func(w io.Writer) error { return report.WriteMarkdown(w, rr) })
	write(o.htmlOut, true, func(w io.Writer) error { return report.WriteHTML(w, rr) })
	// Base64 histograms only: nothing a target sent.
	write(o.hlogOut, false, func(w io.Writer) error { return report.WriteHlog(w, rr.StartedAt, ivs) })
	return errors.Join(errs...)
}

// unsentCause says why messages due were never sent, from what the
// scheduler waited for and what happened to the connections.
func unsentCause(res *driver.Result, conns int) string {
	c := res.Counts
	disc := c.DisconnectTotal()
	waits := fmt.Sprintf("the scheduler waited %v with no connection able to send, %v with every window full", res.WaitNoConnection.Round(time.Millisecond), res.WaitFull.Round(time.Millisecond))
	switch {
	case disc+c.DialFailures > 0 && (res.WaitNoConnection > res.WaitFull || disc+c.DialFailures >= uint64(conns)):
		why := fmt.Sprintf("connections kept failing (%d disconnects", disc)
		if top := topCauses(c.Disconnects, 3); top != "" {
			why += ": " + top
		}
		if c.DialFailures > 0 {
			why += fmt.Sprintf("; %d failed reconnects", c.DialFailures)
		}
		return why + "); " + waits
	case c.Draining > 0 && res.WaitNoConnection > res.WaitFull:
		return fmt.Sprintf("connections kept draining (%d CONNECTION_DRAINING, %d closed after --drain-close-timeout); %s", c.Draining, c.DrainTimeouts, waits)
	}
	return "the target could not keep up (every window stayed full); " + waits
}

// topCauses lists the n most frequent causes: "eof 3, reset 1".
func topCauses(m map[string]uint64, n int) string {
	keys := report.KeysByCount(m)
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(keys) > n {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

// lockedWriter serializes writes: the driver reports disconnects from its
// connections' goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
