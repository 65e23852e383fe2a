package judge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

// Env is what a client is given for one scenario: the environment
// contract of the judge.
type Env struct {
	// Host and Port are where the fake listens (CCS_HOST, CCS_PORT).
	Host, Port string
	// SenderID and APIKey are the credentials (CCS_SENDER_ID,
	// CCS_API_KEY).
	SenderID, APIKey string
	// CAFile is a PEM file of the fake's certificate (CCS_CA_FILE);
	// RootCAs holds the same certificate for clients run in process.
	CAFile  string
	RootCAs *x509.CertPool
	// Trust maps SSL_CERT_FILE and NODE_EXTRA_CA_CERTS, where the judge's
	// own environment set them, to a bundle of that file's certificates
	// and the fake's (see TrustVars).
	Trust map[string]string
	// Messages is how many unique downstream messages to send
	// (CCS_MESSAGES).
	Messages int
	// Rate is the rate to aim for, in messages per second; 0: as fast as
	// the client can (CCS_RATE).
	Rate float64
	// Receipts asks for delivery_receipt_requested (CCS_RECEIPTS=1).
	Receipts bool
	// Scenario names the scenario, for logs (CCS_SCENARIO).
	Scenario string
}

// Vars returns base (an os.Environ()-like list) with the contract's
// variables set: its CCS_* always (replacing any in base; other CCS_*
// variables of base, a client's own settings such as a connection count,
// pass through), SSL_CERT_FILE and
// NODE_EXTRA_CA_CERTS (for clients on OpenSSL or Node.js) to the bundle in
// Trust if there is one, else to the CA file when base does not set them.
func (e Env) Vars(base []string) []string {
	rcpt := "0"
	if e.Receipts {
		rcpt = "1"
	}
	set := []string{
		"CCS_HOST=" + e.Host, "CCS_PORT=" + e.Port,
		"CCS_SENDER_ID=" + e.SenderID, "CCS_API_KEY=" + e.APIKey,
		"CCS_CA_FILE=" + e.CAFile,
		"CCS_MESSAGES=" + strconv.Itoa(e.Messages),
		"CCS_RATE=" + strconv.FormatFloat(e.Rate, 'f', -1, 64),
		"CCS_RECEIPTS=" + rcpt,
		"CCS_SCENARIO=" + e.Scenario,
	}
	contract := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		contract[k] = true
	}
	out := make([]string, 0, len(base)+len(set)+2)
	has := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if contract[k] || e.Trust[k] != "" {
			continue
		}
		has[k] = true
		out = append(out, kv)
	}
	out = append(out, set...)
	for _, k := range TrustVars {
		switch {
		case e.Trust[k] != "":
			out = append(out, k+"="+e.Trust[k])
		case !has[k] && e.CAFile != "":
			out = append(out, k+"="+e.CAFile)
		}
	}
	return out
}

// TrustVars are the variables through which common TLS stacks take the
// certificates to trust: SSL_CERT_FILE (OpenSSL, Go, Python) and
// NODE_EXTRA_CA_CERTS (Node.js). Many machines already set them, to the
// system's bundle or a proxy's; pointing them at the fake's certificate
// alone would take that trust away, and leaving them as they are would
// make every such client refuse the fake.
var TrustVars = []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"}

// trustBundles writes, for each of TrustVars that getenv sets to a file
// other than caFile, a bundle of that file's content and pem (the fake's
// certificate) as dir/prefix-VAR.pem, and returns the variables mapped to
// their bundles. A file that cannot be read adds nothing: the bundle then
// holds the fake's certificate alone.
func trustBundles(dir, prefix, caFile string, pem []byte, getenv func(string) string) (map[string]string, error) {
	var trust map[string]string
	for _, k := range TrustVars {
		v := getenv(k)
		if v == "" || v == caFile {
			continue
		}
		mine, _ := os.ReadFile(v) // unreadable: the client could not have used it either
		if len(mine) > 0 && mine[len(mine)-1] != '\n' {
			mine = append(mine, '\n')
		}
		file := filepath.Join(dir, prefix+"-"+k+".pem")
		if err := os.WriteFile(file, append(mine, pem...), 0o644); err != nil {
			return nil, fmt.Errorf("judge: %w", err)
		}
		if trust == nil {
			trust = map[string]string{}
		}
		trust[k] = file
	}
	return trust, nil
}

// Outcome is how a client's run for one scenario ended.
type Outcome struct {
	// Exit is the exit status: 0 every message had a final answer, -1 the
	// client was ended by a signal or could not start.
	Exit int
	// TimedOut reports that the scenario's time ran out (or the judge
	// was stopped) and the client was told to stop.
	TimedOut bool
	// Err says why the client could not be started or run, if so.
	Err error
}

// Client is a CCS client the judge runs once per scenario.
type Client interface {
	// Info describes the client for the scorecard.
	Info() report.JudgeClient
	// Run runs the client against the fake env describes until it exits
	// or ctx ends (the scenario's timeout: the client is then told to
	// stop, and made to), writing its output to log.
	Run(ctx context.Context, env Env, log io.Writer) Outcome
}

// DefaultKillAfter is how long a command has, after SIGTERM, before
// SIGKILL.
const DefaultKillAfter = 5 * time.Second

// Command is a client run as a program: any language, any library. It is
// started with the contract's environment added to the judge's own, in
// its own process group; when the scenario's time runs out the group gets
// SIGTERM, and SIGKILL KillAfter later. Whatever of the group is left
// when the program exits is killed, so that no stray process keeps
// connections open into the next scenario.
type Command struct {
	// Name is the client's name in scorecards (default: commandName of
	// Argv, the base name of the program or of what a launcher runs).
	Name string
	// Argv is the program and its arguments.
	Argv []string
	// KillAfter is the time between SIGTERM and SIGKILL (default
	// DefaultKillAfter).
	KillAfter time.Duration
}

var _ Client = (*Command)(nil)

// Info implements Client.
func (c *Command) Info() report.JudgeClient {
	name := c.Name
	if name == "" {
		name = commandName(c.Argv)
	}
	return report.JudgeClient{Name: name, Command: c.Argv}
}

// launchers are programs that run the client rather than being it:
// `env CCS_CONNS=4 python3 app.py` is named after app.py.
var launchers = map[string]bool{
	"env": true, "sh": true, "bash": true, "node": true, "nodejs": true,
	"python": true, "python3": true, "ruby": true, "perl": true, "java": true, "go": true,
}

// commandName names a client after its command: the base name of the
// program, or of the script or package a launcher (env, an interpreter,
// `go run`) runs, without its extension; "" for an empty command.
func commandName(argv []string) string {
	name := ""
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case name != "" && !launchers[name]:
			return name
		case name == "":
		case strings.HasPrefix(a, "-"), strings.Contains(a, "="), name == "go" && a == "run":
			// an option, a variable for env, go's subcommand
			continue
		}
		if strings.ContainsAny(a, " \t\n") {
			// sh -c 'a command line': the shell names it
			return name
		}
		base := filepath.Base(a)
		if ext := filepath.Ext(base); ext != "" && ext != base {
			base = strings.TrimSuffix(base, ext)
		}
		name = base
	}
	return name
}

// Run implements Client.
func (c *Command) Run(ctx context.Context, env Env, log io.Writer) Outcome {
	if len(c.Argv) == 0 {
		return Outcome{Exit: -1, Err: errors.New("judge: no command")}
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = env.Vars(os.Environ())
	cmd.Stdout, cmd.Stderr = log, log
	// Output pipes left open by a process the client started do not
	// hold Wait up for long (its group is killed below).
	cmd.WaitDelay = time.Second
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return Outcome{Exit: -1, Err: fmt.Errorf("judge: starting %s: %w", c.Argv[0], err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killAfter := c.KillAfter
	if killAfter <= 0 {
		killAfter = DefaultKillAfter
	}
	var out Outcome
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		out.TimedOut = true
		signalGroup(cmd.Process, terminate)
		select {
		case err = <-done:
		case <-time.After(killAfter):
			signalGroup(cmd.Process, kill)
			err = <-done
		}
	}
	signalGroup(cmd.Process, kill) // what the program left behind
	out.Exit = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		out.Err = err
	}
	return out
}

// Builtin is one of ccsbench's own clients, run in process: the driver
// (the same workload, window, retry and accounting code as ccsbench run)
// over a transport, with the contract's settings (Messages, Rate,
// Receipts) and its default of 8 connections.
type Builtin struct {
	// Name is the client's name ("native", "mellium"...).
	Name string
	// Transport makes the transport for a target; nil: the driver's
	// native one.
	Transport func(addr string, cfg ccs.ClientConfig) driver.Transport
}

var _ Client = (*Builtin)(nil)

// Info implements Client.
func (b *Builtin) Info() report.JudgeClient {
	return report.JudgeClient{Name: b.Name, InProcess: true}
}

// Run implements Client: exit 0 when every message ended with an outcome
// and none was lost, 1 otherwise.
func (b *Builtin) Run(ctx context.Context, env Env, log io.Writer) Outcome {
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(log, "%s %s: "+format+"\n", append([]any{time.Now().Format("15:04:05.000000"), b.Name}, args...)...)
	}
	drainFor := 60 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		drainFor = max(time.Until(dl), time.Second)
	}
	msg := workload.DefaultMessageConfig()
	msg.Receipts = env.Receipts
	cfg := driver.Config{
		Target:   net.JoinHostPort(env.Host, env.Port),
		SenderID: env.SenderID, APIKey: env.APIKey,
		TLS:          &tls.Config{RootCAs: env.RootCAs, ServerName: env.Host, MinVersion: tls.VersionTLS12},
		Messages:     uint64(env.Messages),
		Pacer:        workload.ConstantPacer{Freq: env.Rate},
		Message:      msg,
		DrainTimeout: drainFor,
		OnDisconnect: func(dc driver.Disconnect) {
			logf("connection %d ended (%s): %s [first of this cause]", dc.Conn+1, dc.Cause, dc.Detail)
		},
	}
	if b.Transport != nil {
		cfg.Transport = b.Transport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey,
			TLS: cfg.TLS, Timeout: driver.DefaultDialTimeout})
	}
	d, err := driver.New(cfg)
	if err != nil {
		logf("%v", err)
		return Outcome{Exit: -1, Err: err}
	}
	res, err := d.Run(ctx)
	out := Outcome{TimedOut: ctx.Err() != nil}
	if err != nil {
		logf("%v", err)
		out.Exit = 1
		return out
	}
	c := res.Counts
	logf("%d messages in %v: %d acked, %d nacked %v, %d stanza errors, %d lost, %d unresolved; %d retries, %d reconnects, %d drains, %d upstream, %d receipts",
		c.Messages, res.Elapsed.Round(time.Millisecond), c.Acked, c.Nacked, c.Nacks, c.StanzaErrors, c.Lost, c.Unresolved,
		c.Retries, c.Reconnects, c.Draining, c.Upstream, c.Receipts)
	if err := res.Check(); err != nil {
		logf("%v", err)
		out.Exit = 1
	}
	return out
}
