package judge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
)

// Defaults of Config.
const (
	// DefaultMessages is Config.Messages when zero.
	DefaultMessages = 20000
	// MinMessages is the fewest Config.Messages accepted: the drain and
	// drop scenarios act every N/4 messages, which must be well above a
	// window of 100, or a client's every full window would be dropped
	// before any of it was answered, and it could never finish.
	MinMessages = 1000
	// DefaultListen is Config.Listen when empty.
	DefaultListen = "127.0.0.1:0"
	// DefaultScenarioTimeout is Config.ScenarioTimeout when zero.
	DefaultScenarioTimeout = 60 * time.Second
	// settleTimeout bounds the wait for the fake's connections to end
	// after the client exited, before the fake is closed.
	settleTimeout = 5 * time.Second
)

// Errors of Run.
var (
	// ErrConfig is wrapped by errors of an unusable Config.
	ErrConfig = errors.New("judge: invalid configuration")
	// ErrIdentity is wrapped by judge errors of a fake whose accounting
	// did not add up, or whose observer missed events: the judge's own
	// failures, never the client's.
	ErrIdentity = errors.New("judge: the fake's accounting does not add up")
)

// Config is a judgement to make.
type Config struct {
	// Client is the client judged. Required.
	Client Client
	// Scenarios are the names of the scenarios to run; nil: all (in
	// Scenarios order whatever the order here).
	Scenarios []string
	// Messages is CCS_MESSAGES (default DefaultMessages).
	Messages int
	// Listen is the fake's listen address (default DefaultListen); each
	// scenario has a fresh fake on it.
	Listen string
	// TLS is the fake's TLS configuration and CAFile a PEM file of its
	// certificate chain for the client to trust; nil TLS: each fake makes
	// a self-signed certificate, written to a file in TempDir.
	TLS    *tls.Config
	CAFile string
	// SenderID and APIKey are the credentials the fake accepts (default
	// fakeccs.DefaultSenderID and DefaultAPIKey).
	SenderID, APIKey string
	// ScenarioTimeout bounds a client's run in one scenario (default
	// DefaultScenarioTimeout).
	ScenarioTimeout time.Duration
	// PacedFor is how long the paced scenarios ask the client to take
	// (default DefaultPacedFor).
	PacedFor time.Duration
	// TempDir holds the fakes' certificates; "" makes a temporary
	// directory, removed at the end.
	TempDir string
	// Log receives the client's output, each scenario's after a header
	// line; nil discards it.
	Log io.Writer
	// Progress, if set, is called after each scenario with what it
	// measured.
	Progress func(report.JudgeScenario)
}

// withDefaults checks c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Client == nil {
		return c, fmt.Errorf("%w: no client", ErrConfig)
	}
	if c.Messages == 0 {
		c.Messages = DefaultMessages
	}
	if c.Messages < MinMessages {
		return c, fmt.Errorf("%w: messages %d: at least %d (drains and drops come every N/4 messages, which must be well above a window of 100)", ErrConfig, c.Messages, MinMessages)
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.ScenarioTimeout == 0 {
		c.ScenarioTimeout = DefaultScenarioTimeout
	}
	if c.PacedFor == 0 {
		c.PacedFor = DefaultPacedFor
	}
	if c.ScenarioTimeout < 0 || c.PacedFor < 0 {
		return c, fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	}
	if (c.TLS == nil) != (c.CAFile == "") {
		return c, fmt.Errorf("%w: TLS and CAFile go together", ErrConfig)
	}
	if c.SenderID == "" {
		c.SenderID = fakeccs.DefaultSenderID
	}
	if c.APIKey == "" {
		c.APIKey = fakeccs.DefaultAPIKey
	}
	if c.Scenarios == nil {
		for _, s := range Scenarios {
			c.Scenarios = append(c.Scenarios, s.Name)
		}
	}
	for _, name := range c.Scenarios {
		if scenario(name) == nil {
			return c, fmt.Errorf("%w: unknown scenario %q", ErrConfig, name)
		}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c, nil
}

// Run judges cfg.Client: for each scenario it starts a fake on
// cfg.Listen, runs the client with the scenario's environment, stops it
// at the scenario timeout, and boils down what the fake observed; then it
// judges every rule. The Judgement's Tool and Config are left for the
// caller. Run returns an error only when the judgement could not be made
// (a bad Config, a listener that cannot be opened); when ctx ends it
// stops the running client and returns what ran so far, with ctx's
// error.
func Run(ctx context.Context, cfg Config) (*report.Judgement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.TempDir == "" {
		dir, err := os.MkdirTemp("", "ccsbench-judge-")
		if err != nil {
			return nil, fmt.Errorf("judge: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.TempDir = dir
	}
	j := &report.Judgement{Schema: report.JudgeSchema, Client: cfg.Client.Info(), StartedAt: time.Now()}
	var all []*facts
	for _, name := range cfg.Scenarios {
		if ctx.Err() != nil {
			break
		}
		js, f, judgeErr, err := runScenario(ctx, &cfg, scenario(name))
		if err != nil {
			return nil, err
		}
		if judgeErr != nil {
			j.JudgeErrors = append(j.JudgeErrors, name+": "+judgeErr.Error())
		}
		j.Scenarios = append(j.Scenarios, js)
		all = append(all, f)
		if cfg.Progress != nil {
			cfg.Progress(js)
		}
	}
	j.Rules = evaluate(all)
	j.DurationS = time.Since(j.StartedAt).Seconds()
	return j, ctx.Err()
}

// runScenario runs one scenario. judgeErr is a failure of the judge
// itself (the fake's accounting); err means the scenario could not run.
func runScenario(ctx context.Context, cfg *Config, sc *Scenario) (js report.JudgeScenario, f *facts, judgeErr, err error) {
	rec := &recorder{sender: cfg.SenderID}
	fc := sc.fake(cfg.Messages)
	fc.SenderID, fc.APIKey, fc.TLS, fc.Observer, fc.Seed = cfg.SenderID, cfg.APIKey, cfg.TLS, rec, Seed
	var fakeLog firstLine
	fc.Logf = fakeLog.logf
	srv, err := fakeccs.New(fc)
	if err != nil {
		return js, nil, nil, fmt.Errorf("judge: scenario %s: %w", sc.Name, err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return js, nil, nil, fmt.Errorf("judge: listening on %s: %w", cfg.Listen, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	closed := false
	closeFake := func() {
		if !closed {
			closed = true
			srv.Close()
			<-served
		}
	}
	defer closeFake()

	env, err := scenarioEnv(cfg, sc, srv, ln.Addr())
	if err != nil {
		return js, nil, nil, err
	}
	fmt.Fprintf(cfg.Log, "=== scenario %s: %s (CCS_MESSAGES=%d CCS_RATE=%g CCS_RECEIPTS=%v) on %s:%s\n",
		sc.Name, sc.Doc, env.Messages, env.Rate, env.Receipts, env.Host, env.Port)
	sctx, cancel := context.WithTimeout(ctx, cfg.ScenarioTimeout)
	start := time.Now()
	out := cfg.Client.Run(sctx, env, cfg.Log)
	elapsed := time.Since(start)
	cancel()
	if out.Err != nil {
		fmt.Fprintf(cfg.Log, "=== %v\n", out.Err)
	}
	// Let the fake see the client's connections end (and count their
	// last messages) before it is closed.
	for deadline := time.Now().Add(settleTimeout); srv.Stats().ActiveConnections > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	closeFake()
	st := srv.Stats()
	f = analyze(sc.Name, env.Messages, rec.logs(), &st)
	f.fakeLog = fakeLog.String()
	judgeErr = selfCheck(&st, f)

	js = report.JudgeScenario{
		Name: sc.Name, Messages: env.Messages, Rate: env.Rate, Receipts: env.Receipts,
		Exit: out.Exit, TimedOut: out.TimedOut, DurationS: elapsed.Seconds(),
		Connections: uint64(f.conns), Logins: f.logins, AuthFailures: st.AuthFailures,
		UniqueIDs: uint64(f.distinct), Received: st.Received, Acks: uint64(f.acks), Nacks: f.nacks,
		MaxPending: f.maxPending, WindowViolations: f.violations,
		Drains: st.Drains, Drops: st.Drops,
		UpstreamSent: uint64(f.up.sent), UpstreamAcked: uint64(f.up.acked),
		ReceiptsSent: uint64(f.rc.sent), ReceiptsAcked: uint64(f.rc.acked),
		UpstreamAckUS:   spread(slices.Concat(f.up.latency, f.rc.latency)),
		DrainReactionUS: spread(f.reactions),
		ResendDelayUS:   spread(slices.Concat(f.resends, f.retryWaits)),
	}
	if f.last > f.first && f.first >= 0 {
		js.AckedPerS = float64(f.acks) / (f.last - f.first).Seconds()
	}
	if js.Fake, err = json.Marshal(st); err != nil {
		return js, f, judgeErr, fmt.Errorf("judge: %w", err)
	}
	return js, f, judgeErr, nil
}

// firstLine keeps the first line the fake logs (it never logs the API
// key), cut to firstLineMax bytes.
type firstLine struct {
	mu   sync.Mutex
	line string
}

const firstLineMax = 300

func (l *firstLine) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line == "" {
		l.line = strings.TrimSpace(fmt.Sprintf(format, args...))
		if len(l.line) > firstLineMax {
			l.line = strings.ToValidUTF8(l.line[:firstLineMax], "") + "…"
		}
	}
}

func (l *firstLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// scenarioEnv makes the client's environment for a scenario served by
// srv on addr.
func scenarioEnv(cfg *Config, sc *Scenario, srv *fakeccs.Server, addr net.Addr) (Env, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return Env{}, fmt.Errorf("judge: %w", err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening everywhere: loopback reaches it, and the certificate names it
		if ip.To4() == nil {
			host = "::1"
		}
	}
	env := Env{Host: host, Port: port, SenderID: cfg.SenderID, APIKey: cfg.APIKey,
		Messages: cfg.Messages, Receipts: sc.Receipts, Scenario: sc.Name, CAFile: cfg.CAFile}
	if sc.Paced {
		env.Rate = float64(cfg.Messages) / cfg.PacedFor.Seconds()
	}
	pem := srv.CertPEM()
	if cfg.TLS == nil {
		env.CAFile = filepath.Join(cfg.TempDir, "fake-"+sc.Name+".pem")
		if err := os.WriteFile(env.CAFile, pem, 0o644); err != nil {
			return Env{}, fmt.Errorf("judge: %w", err)
		}
	} else if pem, err = os.ReadFile(cfg.CAFile); err != nil {
		return Env{}, fmt.Errorf("judge: %w", err)
	}
	env.RootCAs = x509.NewCertPool()
	if !env.RootCAs.AppendCertsFromPEM(pem) {
		return Env{}, fmt.Errorf("judge: %s: no PEM certificate", env.CAFile)
	}
	if env.Trust, err = trustBundles(cfg.TempDir, "trust-"+sc.Name, env.CAFile, pem, os.Getenv); err != nil {
		return Env{}, err
	}
	return env, nil
}

// selfCheck checks the judge against the fake: the fake's accounting
// identity, and the observer's events against the fake's counters.
func selfCheck(st *fakeccs.Stats, f *facts) error {
	var errs []error
	if err := st.CheckIdentity(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrIdentity, err))
	}
	answers := st.Acks + st.StanzaErrors
	for _, v := range st.Nacks {
		answers += v
	}
	if f.readEvents != st.Received || f.flushedAnswers != answers {
		errs = append(errs, fmt.Errorf("%w: the observer saw %d messages read and %d answers written, the fake counted %d and %d",
			ErrIdentity, f.readEvents, f.flushedAnswers, st.Received, answers))
	}
	return errors.Join(errs...)
}
