package judge

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/clients/mellium"
	"github.com/ccsbench/ccsbench/report"
)

// testMessages is CCS_MESSAGES in the tests: the fewest the judge takes.
const testMessages = MinMessages

// judgeOf runs cfg with the tests' settings and returns the judgement,
// failing the test on an error or a judge error.
func judgeOf(t *testing.T, cfg Config) (*report.Judgement, string) {
	t.Helper()
	var log syncBuffer
	cfg.Messages = testMessages
	cfg.PacedFor = 2 * time.Second
	cfg.ScenarioTimeout = 30 * time.Second
	cfg.Log = &log
	j, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, e := range j.JudgeErrors {
		t.Errorf("judge error: %s", e)
	}
	return j, log.String()
}

// syncBuffer is a bytes.Buffer safe for the writers of a client's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scorecard renders j for a failure message.
func scorecard(j *report.Judgement) string {
	var b bytes.Buffer
	report.WriteScorecard(&b, j)
	return b.String()
}

// TestBuiltinClientsPass judges ccsbench's own clients on every scenario:
// every rule passes, and the measures add up.
func TestBuiltinClientsPass(t *testing.T) {
	t.Parallel()
	for _, c := range []*Builtin{{Name: "native"}, {Name: "mellium", Transport: mellium.NewTransport}} {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			j, log := judgeOf(t, Config{Client: c})
			if len(j.Scenarios) != len(Scenarios) || len(j.Rules) != len(Rules) {
				t.Fatalf("%d scenarios, %d rules; want %d and %d", len(j.Scenarios), len(j.Rules), len(Scenarios), len(Rules))
			}
			for _, r := range j.Rules {
				if r.Verdict != report.VerdictPass {
					t.Errorf("rule %s: %s %s; want pass", r.ID, r.Verdict, r.Evidence)
				}
			}
			for _, s := range j.Scenarios {
				if s.Exit != 0 || s.TimedOut || s.UniqueIDs != testMessages || s.AckedPerS <= 0 || s.MaxPending == 0 || s.Connections < 8 {
					t.Errorf("scenario %s: exit %d, timed out %v, %d ids, %.0f acked/s, max pending %d, %d connections; want exit 0, every id, a rate and 8 connections or more",
						s.Name, s.Exit, s.TimedOut, s.UniqueIDs, s.AckedPerS, s.MaxPending, s.Connections)
				}
			}
			// The last drain or drop may find nothing left to act on.
			if d := j.Scenario(Drain); d.Drains < 3 || d.DrainReactionUS == nil {
				t.Errorf("drain scenario: %d drains, reaction %v; want 3 or more and a reaction time", d.Drains, d.DrainReactionUS)
			}
			if d := j.Scenario(Drop); d.Drops < 3 || d.ResendDelayUS == nil {
				t.Errorf("drop scenario: %d drops, resend delays %v; want 3 or more and delays", d.Drops, d.ResendDelayUS)
			}
			if u := j.Scenario(Upstream); u.UpstreamSent == 0 || u.UpstreamAckUS == nil {
				t.Errorf("upstream scenario: %d sent, latency %v; want upstream messages ACKed", u.UpstreamSent, u.UpstreamAckUS)
			}
			if !strings.Contains(log, "=== scenario final") || !strings.Contains(log, c.Name+": 1000 messages") {
				t.Errorf("the log lacks the scenarios' headers or the client's summary:\n%s", log)
			}
			if t.Failed() {
				t.Logf("%s\n%s", scorecard(j), log)
			}
		})
	}
}

var (
	naiveOnce sync.Once
	naivePath string
	naiveErr  error
)

// naive builds the example client that breaks one rule per switch.
func naive(t *testing.T) string {
	t.Helper()
	naiveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "judge-naive-")
		if err != nil {
			naiveErr = err
			return
		}
		naivePath = filepath.Join(dir, "naive")
		out, err := exec.Command("go", "build", "-o", naivePath, "github.com/ccsbench/ccsbench/examples/clients/naive").CombinedOutput()
		if err != nil {
			naiveErr = err
			naivePath = string(out)
		}
	})
	if naiveErr != nil {
		t.Fatalf("building the naive client: %v\n%s", naiveErr, naivePath)
	}
	return naivePath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if naivePath != "" && naiveErr == nil {
		os.RemoveAll(filepath.Dir(naivePath))
	}
	os.Exit(code)
}

// TestNaiveSwitches judges the naive client with each of its switches on
// the scenarios the switch can affect, plus cheap ones it cannot: exactly
// the rules the switch breaks fail, and every other rule run passes.
// Without a switch it passes everything. (make judge-matrix runs every
// switch on every scenario.)
func TestNaiveSwitches(t *testing.T) {
	t.Parallel()
	bin := naive(t)
	cases := []struct {
		flag      string
		scenarios []string
		fail      []string
	}{
		{"", nil, nil},
		{"-no-window", []string{Window, Final}, []string{RuleWindow}},
		{"-ignore-drain", []string{Throughput, Drain}, []string{RuleDrainMoves}},
		{"-lose-on-drain", []string{Throughput, Drain}, []string{RuleDrainNoLoss}},
		{"-no-upstream-ack", []string{Throughput, Upstream}, []string{RuleUpstreamAck}},
		{"-no-receipt-ack", []string{Throughput, Receipts}, []string{RuleReceiptAck}},
		{"-retry-now", []string{Throughput, Retry}, []string{RuleRetryBackoff}},
		{"-no-retry", []string{Throughput, Retry}, []string{RuleRetryBackoff}},
		{"-retry-final", []string{Throughput, Final}, []string{RuleNoRetryFinal}},
		{"-no-resend", []string{Throughput, Drop}, []string{RuleDropResend}},
		{"-resend-acked", []string{Throughput, Final}, []string{RuleNoDuplicates}},
		{"-bad-auth", []string{Throughput}, []string{RuleHandshake}},
		{"-no-bind", []string{Throughput}, []string{RuleHandshake}},
	}
	for _, tc := range cases {
		name := tc.flag
		if name == "" {
			name = "correct"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			argv := []string{bin}
			if tc.flag != "" {
				argv = append(argv, tc.flag)
			}
			j, log := judgeOf(t, Config{Client: &Command{Name: "naive", Argv: argv}, Scenarios: tc.scenarios})
			failed := j.Failed()
			if !slices.Equal(failed, tc.fail) {
				t.Errorf("naive %s failed %v; want %v\n%s", tc.flag, failed, tc.fail, scorecard(j))
			}
			ran := 0
			for _, r := range j.Rules {
				if r.Verdict != report.VerdictSkip {
					ran++
				}
			}
			if ran <= len(tc.fail) && tc.flag != "-bad-auth" && tc.flag != "-no-bind" {
				t.Errorf("naive %s: only %d rules judged; want others that pass too", tc.flag, ran)
			}
			if t.Failed() {
				t.Logf("client output:\n%s", log)
			}
		})
	}
}

// needShell skips a test that runs POSIX tools (sh, sleep, kill) where
// there are none.
func needShell(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sh", "sleep", "true"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
}

// TestCommandStopped runs a client that ignores SIGTERM: the judge stops
// it at the scenario timeout, kills it after KillAfter, kills what it
// started too, and reports the timeout.
func TestCommandStopped(t *testing.T) {
	t.Parallel()
	needShell(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell ignores SIGTERM and starts a child that would outlive it.
	script := `trap '' TERM; sleep 300 & echo $! > ` + pidFile + `; wait; wait`
	c := &Command{Argv: []string{"sh", "-c", script}, KillAfter: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	out := c.Run(ctx, Env{}, &syncBuffer{})
	if el := time.Since(start); !out.TimedOut || out.Exit != -1 || el > 10*time.Second {
		t.Errorf("Run = %+v after %v; want a timeout, killed (exit -1) soon after", out, el)
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script did not start its child: %v", err)
	}
	// The child was in the group: it is gone, or a zombie its new
	// parent has not reaped yet.
	alive := func() bool {
		if stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat"); err == nil {
			_, rest, _ := strings.Cut(string(stat), ") ")
			return !strings.HasPrefix(rest, "Z")
		}
		return exec.Command("kill", "-0", strings.TrimSpace(string(pid))).Run() == nil
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if !alive() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child %s outlived the judge's kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Info().Name != "sh" {
		t.Errorf("Info().Name = %q; want the program's base name", c.Info().Name)
	}
	if out := (&Command{Argv: []string{filepath.Join(dir, "missing")}}).Run(context.Background(), Env{}, &syncBuffer{}); out.Err == nil || out.Exit != -1 {
		t.Errorf("Run of a missing program = %+v; want an error", out)
	}
}

// TestCommandEnvironment checks the contract as a program sees it.
func TestCommandEnvironment(t *testing.T) {
	t.Parallel()
	needShell(t)
	var out syncBuffer
	c := &Command{Argv: []string{"sh", "-c", `echo "$CCS_HOST $CCS_PORT $CCS_MESSAGES $CCS_RATE $CCS_RECEIPTS $CCS_SCENARIO $SSL_CERT_FILE"; exit 3`}}
	env := Env{Host: "127.0.0.1", Port: "9", Messages: 7, Rate: 0, Receipts: true, Scenario: "window", CAFile: "/tmp/ca.pem"}
	o := c.Run(context.Background(), env, &out)
	want := "127.0.0.1 9 7 0 1 window "
	if os.Getenv("SSL_CERT_FILE") == "" {
		want += "/tmp/ca.pem"
	} else {
		want += os.Getenv("SSL_CERT_FILE")
	}
	if o.Exit != 3 || o.TimedOut || o.Err != nil || strings.TrimSpace(out.String()) != want {
		t.Errorf("Run = %+v, output %q; want exit 3 and %q", o, out.String(), want)
	}
}

// TestRunStops cancels a judgement in its first scenario: the client is
// stopped and what ran is returned with the context's error.
func TestRunStops(t *testing.T) {
	t.Parallel()
	needShell(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	j, err := Run(ctx, Config{Client: &Command{Argv: []string{"sleep", "30"}, KillAfter: time.Second}})
	if err != context.Canceled || j == nil || len(j.Scenarios) != 1 || !j.Scenarios[0].TimedOut {
		t.Fatalf("Run = %+v, %v; want the first scenario, stopped, and context.Canceled", j, err)
	}
	if r := j.Rules[0]; r.ID != RuleHandshake || r.Verdict != report.VerdictFail {
		t.Errorf("handshake = %+v; want a failure (the client never connected)", r)
	}
	if _, err := Run(context.Background(), Config{}); err == nil {
		t.Errorf("Run without a client = nil error")
	}
	if _, err := Run(context.Background(), Config{Client: &Command{Argv: []string{"true"}}, Scenarios: []string{"bogus"}}); err == nil {
		t.Errorf("Run with an unknown scenario = nil error")
	}
}

// certRefuser is a client that refuses the fake's certificate, as one
// does that checks a name the certificate does not carry.
type certRefuser struct{}

func (certRefuser) Info() report.JudgeClient { return report.JudgeClient{Name: "cert-refuser"} }

func (certRefuser) Run(_ context.Context, env Env, log io.Writer) Outcome {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(env.Host, env.Port),
		&tls.Config{RootCAs: env.RootCAs, ServerName: "elsewhere.invalid"})
	if err == nil {
		c.Close()
		return Outcome{Exit: 0}
	}
	fmt.Fprintln(log, "cert-refuser:", err)
	// Like a real process, it does not vanish the instant it fails: the
	// fake reads the alert before the scenario ends and closes it.
	time.Sleep(time.Second)
	return Outcome{Exit: 1}
}

// TestHandshakeEvidenceShowsWhyNothingBound: when no connection binds,
// the evidence carries what the fake saw go wrong, not only that nothing
// bound (here the client's refusal of the certificate).
func TestHandshakeEvidenceShowsWhyNothingBound(t *testing.T) {
	t.Parallel()
	j, log := judgeOf(t, Config{Client: certRefuser{}, Scenarios: []string{Throughput}})
	var r *report.JudgeRule
	for i := range j.Rules {
		if j.Rules[i].ID == RuleHandshake {
			r = &j.Rules[i]
		}
	}
	if r == nil || r.Verdict != report.VerdictFail || !strings.Contains(r.Evidence, "1 connection closed before binding") ||
		!strings.Contains(r.Evidence, "TLS handshake: remote error: tls: bad certificate") {
		t.Errorf("handshake = %+v; want a failure naming the TLS handshake the client broke off\n%s", r, log)
	}
}
