package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/judge"
	"github.com/ccsbench/ccsbench/report"
)

// judgeUsage is the whole contract of `ccsbench judge`; the scenario and
// rule lists are filled in from the judge package.
var judgeUsage = `Usage: ccsbench judge [flags] -- COMMAND [ARGS...]
       ccsbench judge [flags] --client ` + clientNames() + `

Scores a CCS client (an app server, in any language) against the fake CCS
server: is it correct under everything CCS does (the window, draining,
dropped connections, NACKs, upstream messages and receipts), and how fast
is it. For each scenario the judge starts a fresh fake on --listen, runs
COMMAND with the environment below, and judges rules on what the fake saw:
the client needs no instrumentation. --client runs one of ccsbench's own
clients in process instead, with the same settings (8 connections, the
same workload as ccsbench run).

The environment (the whole contract):

  CCS_HOST, CCS_PORT            where the fake listens (TLS from the first byte)
  CCS_SENDER_ID, CCS_API_KEY    credentials (SASL PLAIN)
  CCS_CA_FILE                   PEM of the fake's certificate; also exported as
                                SSL_CERT_FILE and NODE_EXTRA_CA_CERTS (where
                                these are already set: a bundle of their file
                                and the fake's certificate)
  CCS_MESSAGES                  send exactly this many unique downstream
                                messages (message ids of your choice)
  CCS_RATE                      messages per second to aim for (0: as fast as
                                you can)
  CCS_RECEIPTS                  1: set delivery_receipt_requested
  CCS_SCENARIO                  the scenario's name, for your logs

The rest of the judge's environment passes through, your own CCS_* settings
(a connection count, say) included; the variables above replace any of the
same name.

The client exits once every message has a final answer (an ACK, a final
NACK, a stanza error), or when it gives up. At --scenario-timeout it gets
SIGTERM (its whole process group), and SIGKILL 5 s later. Its output is kept
in a log (--log) beside the results.

Scenarios (--scenarios picks some; N is --messages):

%s
Rules (a rule is judged on its scenarios; skip when they did not run or the
client never connected in them):

%s
An answer counts from when the fake wrote it; one whose connection then
closed within 1 s may never have reached the client, so a message sent again
after it is not held against the client (at-least-once delivery).

Output: a terminal scorecard (rules with verdict and evidence, scenarios
with their measures); --json writes the scorecard (schema ` + report.JudgeSchema + `)
with per-scenario measures (acked/s from the first message to the last
answer, connections, max pending, upstream ACK latency, drain reaction time,
resend delays, the fake's own stats); --md and --html write it for people.
An output file given as - is standard output (one at most), and the
terminal scorecard then goes to standard error.
` + "`ccsbench report A.json B.json --md FILE`" + ` shows several clients side by side.
The fake's accounting identity is checked in every scenario: a failure
there is an error of the judge, not of the client.

Exit status: 0 every rule run passed; 1 a rule failed, or the judge itself
failed; 2 bad usage.

Flags:
`

// judgeOptions are the flags of judge.
type judgeOptions struct {
	client, name, scenarios string
	messages                int
	listen, cert, key       string
	senderID, apiKey        string
	timeout                 time.Duration
	jsonOut, mdOut, htmlOut string
	logOut                  string
}

// judgeCmd implements `ccsbench judge`.
func judgeCmd(args []string, stdout, stderr io.Writer) int {
	var o judgeOptions
	fs := o.flags()
	help := func(w io.Writer) { fmt.Fprintf(w, judgeUsage, scenarioHelp(), ruleHelp()) }
	command, code, ok := parseFlags(fs, args, flagsThenArgs, help, stdout, stderr)
	if !ok {
		return code
	}
	usageErr := func(err error) int {
		return fail(stderr, "judge", exitUsage, fmt.Errorf("%w (see ccsbench help judge)", err))
	}
	client, err := o.clientOf(command)
	if err != nil {
		return usageErr(err)
	}
	cfg, err := o.config(client)
	if err != nil {
		return usageErr(err)
	}
	if err := checkOutputs(o.outputs()...); err != nil {
		return usageErr(err)
	}
	red := ccs.NewRedactor(cfg.SenderID, cfg.APIKey)
	rawOut := stdout
	stdout, stderr = red.Writer(stdout), &lockedWriter{w: red.Writer(stderr)}
	scorecardOut := stdout
	if toStdout(o.outputs()) {
		scorecardOut = stderr
	}

	logPath := o.logPath(client.Info().Name)
	logFile, err := openLog(logPath, rawOut)
	if err != nil {
		return usageErr(err)
	}
	clientLog := &lineRedactor{r: red, w: logFile}
	cfg.Log = clientLog
	cfg.Progress = func(s report.JudgeScenario) { noteScenario(stderr, s) }
	logWhere := logPath
	if logPath == stdoutPath {
		logWhere = "standard output"
	}
	notef(stderr, "judge", "%s, %d scenarios of %d messages; client output in %s",
		client.Info().Name, len(cfg.Scenarios), cfg.Messages, logWhere)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	j, runErr := judge.Run(ctx, cfg)
	clientLog.flush()
	if err := logFile.Close(); err != nil {
		warn(stderr, "judge", fmt.Errorf("--log: %w", err))
	}
	if j == nil {
		return fail(stderr, "judge", exitFail, runErr)
	}
	j.Client.Log = logPath
	j.Tool = report.Tool{Version: buildVersion(), Go: runtime.Version(), Client: j.Client.Name}
	j.Config = o.record(cfg)
	code = exitOK
	if err := report.WriteScorecard(scorecardOut, j); err != nil {
		code = fail(stderr, "judge", exitFail, err)
	}
	if err := o.writeScorecards(j, rawOut, red); err != nil {
		code = fail(stderr, "judge", exitFail, err)
	}
	for _, e := range j.JudgeErrors {
		notef(stderr, "judge", "judge error (not the client's fault): %s", e)
	}
	if runErr != nil {
		code = fail(stderr, "judge", exitFail, fmt.Errorf("stopped: %w", runErr))
	}
	if !j.Passed() {
		code = exitFail
	}
	return code
}

// flags defines the flags of judge on a new FlagSet.
func (o *judgeOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("judge", flag.ContinueOnError)
	fs.Var(&clientFlag{&o.client}, "client", "judge the built-in client `NAME` ("+clientNames()+") in process instead of a COMMAND")
	fs.StringVar(&o.name, "name", "", "the client's `NAME` in scorecards (default: the command's base name, or that of the script or package env, an interpreter or go run runs; or --client)")
	fs.StringVar(&o.scenarios, "scenarios", "all", "scenarios to run, comma-separated `LIST` ("+judge.ScenarioNames()+")")
	fs.IntVar(&o.messages, "messages", judge.DefaultMessages, "unique downstream messages per scenario `N` (CCS_MESSAGES)")
	fs.StringVar(&o.listen, "listen", judge.DefaultListen, "the fake listens on `ADDR` (a fresh fake per scenario)")
	fs.StringVar(&o.cert, "cert", "", "the fake's TLS certificate chain `FILE` (PEM; also CCS_CA_FILE); needs --key (default: self-signed)")
	fs.StringVar(&o.key, "key", "", "the fake's TLS private key `FILE` (PEM); needs --cert")
	fs.StringVar(&o.senderID, "sender-id", "", "sender `ID` (default $CCSBENCH_SENDER_ID or "+fakeccs.DefaultSenderID+")")
	fs.StringVar(&o.apiKey, "api-key", "", "API `KEY` (default $CCSBENCH_API_KEY or the fake's public test key); never printed or written")
	fs.DurationVar(&o.timeout, "scenario-timeout", judge.DefaultScenarioTimeout, "stop the client (SIGTERM, SIGKILL 5 s later) after `D` in a scenario")
	fs.StringVar(&o.jsonOut, "json", "", "write the scorecard (JSON, schema "+report.JudgeSchema+") to `FILE` (- for standard output)")
	fs.StringVar(&o.mdOut, "md", "", "write a markdown scorecard to `FILE` (- for standard output)")
	fs.StringVar(&o.htmlOut, "html", "", "write an HTML scorecard to `FILE` (- for standard output)")
	fs.StringVar(&o.logOut, "log", "", "keep the client's output in `FILE` (- for standard output; default: beside --json, --md or --html, with .log; else in the temp directory)")
	return fs
}

// openLog opens the file that keeps the client's output, or standard
// output for "-".
func openLog(path string, stdout io.Writer) (io.WriteCloser, error) {
	if path == stdoutPath {
		return nopCloser{stdout}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--log: %w", err)
	}
	return f, nil
}

// noteScenario says on stderr how a scenario ended.
func noteScenario(stderr io.Writer, s report.JudgeScenario) {
	how := fmt.Sprintf("exit %d", s.Exit)
	if s.TimedOut {
		how = "stopped at the timeout"
	}
	notef(stderr, "judge", "%-10s %s after %.1f s: %d connections, %d of %d ids, %.0f acked/s",
		s.Name, how, s.DurationS, s.Connections, s.UniqueIDs, s.Messages, s.AckedPerS)
}

// outputs are judge's output file flags.
func (o *judgeOptions) outputs() []output {
	return []output{{"json", o.jsonOut}, {"md", o.mdOut}, {"html", o.htmlOut}, {"log", o.logOut}}
}

// nopCloser is a WriteCloser whose Close does nothing: the client's log
// on standard output.
type nopCloser struct{ io.Writer }

// Close does nothing.
func (nopCloser) Close() error { return nil }

// clientOf returns the client the options and COMMAND name.
func (o *judgeOptions) clientOf(command []string) (judge.Client, error) {
	switch {
	case o.client != "" && len(command) > 0:
		return nil, fmt.Errorf("--client %s and a COMMAND exclude each other", o.client)
	case o.client != "":
		return &judge.Builtin{Name: firstNonEmpty(o.name, o.client), Transport: clientFactories[o.client]}, nil
	case len(command) == 0:
		return nil, errors.New("no client: give -- COMMAND [ARGS...] or --client NAME")
	}
	return &judge.Command{Name: o.name, Argv: command}, nil
}

// config builds the judge's configuration from the flags.
func (o *judgeOptions) config(client judge.Client) (judge.Config, error) {
	cfg := judge.Config{
		Client:          client,
		Messages:        o.messages,
		Listen:          o.listen,
		SenderID:        firstNonEmpty(o.senderID, os.Getenv("CCSBENCH_SENDER_ID"), fakeccs.DefaultSenderID),
		APIKey:          firstNonEmpty(o.apiKey, os.Getenv("CCSBENCH_API_KEY"), fakeccs.DefaultAPIKey),
		ScenarioTimeout: o.timeout,
	}
	var err error
	if cfg.Scenarios, err = judge.ParseScenarios(o.scenarios); err != nil {
		return cfg, fmt.Errorf("--scenarios: %w", err)
	}
	if cfg.Scenarios == nil {
		cfg.Scenarios, _ = judge.ParseScenarios(judge.ScenarioNames())
	}
	switch {
	case o.messages < judge.MinMessages:
		return cfg, fmt.Errorf("--messages %d: at least %d (drains and drops come every N/4 messages, which must be well above a window of 100)", o.messages, judge.MinMessages)
	case o.timeout <= 0:
		return cfg, fmt.Errorf("--scenario-timeout %v must be positive", o.timeout)
	case (o.cert == "") != (o.key == ""):
		return cfg, errors.New("--cert and --key go together")
	case o.cert != "":
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return cfg, fmt.Errorf("loading --cert/--key: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true}
		if cfg.CAFile, err = filepath.Abs(o.cert); err != nil {
			return cfg, fmt.Errorf("--cert: %w", err)
		}
	}
	if strings.ContainsAny(cfg.SenderID, "@/ \t\r\n<>&\"'") {
		return cfg, fmt.Errorf("--sender-id %q must be a bare id", cfg.SenderID)
	}
	return cfg, nil
}

// logPath is --log, or a file beside the first output file asked for
// (its name with .log), or one in the temp directory.
func (o *judgeOptions) logPath(client string) string {
	if o.logOut != "" {
		return o.logOut
	}
	for _, out := range []string{o.jsonOut, o.mdOut, o.htmlOut} {
		if out != "" && out != stdoutPath {
			return strings.TrimSuffix(out, filepath.Ext(out)) + ".log"
		}
	}
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, client)
	return filepath.Join(os.TempDir(), "ccsbench-judge-"+safe+".log")
}

// record is the judge's configuration as the scorecard keeps it: never
// the API key.
func (o *judgeOptions) record(cfg judge.Config) map[string]any {
	m := map[string]any{
		"messages":         cfg.Messages,
		"scenarios":        strings.Join(cfg.Scenarios, ","),
		"scenario-timeout": cfg.ScenarioTimeout.String(),
		"listen":           cfg.Listen,
		"sender-id":        cfg.SenderID,
	}
	if o.client != "" {
		m["client"] = o.client
	}
	if o.cert != "" {
		m["cert"] = o.cert
	}
	return m
}

// writeScorecards writes the scorecard files asked for (to stdout for
// "-"), through the redactor.
func (o *judgeOptions) writeScorecards(j *report.Judgement, stdout io.Writer, red *ccs.Redactor) error {
	var errs []error
	for _, out := range []struct {
		path string
		fn   func(io.Writer) error
	}{
		{o.jsonOut, j.Encode},
		{o.mdOut, func(w io.Writer) error { return report.WriteJudgeMarkdown(w, j) }},
		{o.htmlOut, func(w io.Writer) error { return report.WriteJudgeHTML(w, j) }},
	} {
		if out.path != "" {
			errs = append(errs, writeOutput(out.path, stdout, red.Bytes, out.fn))
		}
	}
	return errors.Join(errs...)
}

// scenarioHelp lists the scenarios for the usage text.
func scenarioHelp() string {
	var b strings.Builder
	for _, s := range judge.Scenarios {
		extra := ""
		switch {
		case s.Paced && s.Receipts:
			extra = " (CCS_RATE: N messages over 5 s; CCS_RECEIPTS=1)"
		case s.Paced:
			extra = " (CCS_RATE: N messages over 5 s)"
		}
		b.WriteString(hangingIndent(fmt.Sprintf("  %-11s ", s.Name), s.Doc+extra))
	}
	return b.String()
}

// ruleHelp lists the rules for the usage text.
func ruleHelp() string {
	var b strings.Builder
	for _, r := range judge.Rules {
		where := "every scenario"
		if r.Scenarios != nil {
			where = strings.Join(r.Scenarios, ", ")
		}
		b.WriteString(hangingIndent(fmt.Sprintf("  %-15s ", r.ID), "["+where+"] "+r.Doc))
	}
	return b.String()
}

// hangingIndent writes head, then text wrapped at 79 columns with the
// lines after the first indented as far as head is long, and a newline.
func hangingIndent(head, text string) string {
	var b strings.Builder
	b.WriteString(head)
	line := len(head)
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
		case line+1+len(word) > 79:
			b.WriteString("\n" + strings.Repeat(" ", len(head)))
			line = len(head)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String() + "\n"
}

// lineRedactor passes whole lines through a redactor, so that no secret
// is split across writes (a client's output arrives in arbitrary chunks).
type lineRedactor struct {
	mu   sync.Mutex
	r    *ccs.Redactor
	w    io.Writer
	part []byte
}

// maxLine is the most of a line without an end that lineRedactor holds.
const maxLine = 64 << 10

// Write passes the whole lines of p, and of what came before, through the
// redactor, and keeps the rest of the last line for the next Write.
func (l *lineRedactor) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	cut := bytes.LastIndexByte(l.part, '\n')
	if cut < 0 && len(l.part) > maxLine {
		// A line that does not end is cut after its last blank: no
		// form of a secret holds one.
		cut = bytes.LastIndexAny(l.part, " \t\r")
		if cut < 0 {
			cut = len(l.part) - 1
		}
	}
	if cut >= 0 {
		if _, err := l.w.Write(l.r.Bytes(l.part[:cut+1])); err != nil {
			return 0, err
		}
		l.part = append(l.part[:0], l.part[cut+1:]...)
	}
	return len(p), nil
}

// flush writes what is left of the last line.
func (l *lineRedactor) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.part) > 0 {
		l.w.Write(l.r.Bytes(l.part))
		l.part = l.part[:0]
	}
}
