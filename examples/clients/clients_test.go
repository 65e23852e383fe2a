// Package clients_test builds the example clients and runs them against an
// in-process fake CCS server with the environment of `ccsbench judge`.
package clients_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
)

// runTimeout bounds one client run; the client gets SIGTERM then, and
// SIGKILL 5 s later.
const runTimeout = 60 * time.Second

var (
	buildOnce sync.Map // package dir -> *built
	binDir    string
)

type built struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ccs-examples-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the example in dir once per test binary.
func binary(t *testing.T, dir string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(dir, &built{})
	b := v.(*built)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, dir)
		out, err := exec.Command("go", "build", "-o", b.path, "./"+dir).CombinedOutput()
		if err != nil {
			b.err = err
			b.path = string(out)
		}
	})
	if b.err != nil {
		t.Fatalf("go build ./%s: %v\n%s", dir, b.err, b.path)
	}
	return b.path
}

// outcome is a finished client run.
type outcome struct {
	exit int
	log  string
	st   fakeccs.Stats
}

// run starts a fake with fc on loopback and runs the client bin with args
// and the judge's environment until it exits.
func run(t *testing.T, bin string, args []string, fc fakeccs.Config, messages int, rate float64, receipts bool) outcome {
	t.Helper()
	return runStop(t, bin, args, fc, messages, rate, receipts, 0)
}

// runStop is run, sending SIGTERM to the client after stopAfter when it
// is not zero.
func runStop(t *testing.T, bin string, args []string, fc fakeccs.Config, messages int, rate float64, receipts bool, stopAfter time.Duration) outcome {
	t.Helper()
	fc.TrackIDs = true
	srv, err := fakeccs.New(fc)
	if err != nil {
		t.Fatalf("fakeccs.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-done
	}()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg := srv.Config()
	rec := "0"
	if receipts {
		rec = "1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(),
		"CCS_HOST="+host, "CCS_PORT="+port,
		"CCS_SENDER_ID="+cfg.SenderID, "CCS_API_KEY="+cfg.APIKey,
		"CCS_CA_FILE="+ca,
		"CCS_MESSAGES="+strconv.Itoa(messages),
		"CCS_RATE="+strconv.FormatFloat(rate, 'f', -1, 64),
		"CCS_RECEIPTS="+rec,
		"CCS_SCENARIO="+t.Name(),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	if stopAfter > 0 {
		stop := time.AfterFunc(stopAfter, func() { cmd.Process.Signal(syscall.SIGTERM) })
		defer stop.Stop()
	}
	err = cmd.Wait()
	o := outcome{log: out.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		o.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	if ctx.Err() != nil {
		t.Errorf("%s %v did not finish within %v", filepath.Base(bin), args, runTimeout)
	}
	// The fake counts a connection's last messages when it ends.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().ActiveConnections > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	o.st = srv.Stats()
	return o
}

// checkDelivered asserts a correct run: exit 0, every message reached the
// fake, no window violation, and the fake's accounting identity.
func checkDelivered(t *testing.T, o outcome, messages int) {
	t.Helper()
	st := o.st
	if o.exit != 0 {
		t.Errorf("exit status %d; want 0", o.exit)
	}
	if st.UniqueIDs == nil || *st.UniqueIDs != uint64(messages) {
		t.Errorf("fake unique_ids = %v; want %d", st.UniqueIDs, messages)
	}
	if st.WindowViolations != 0 {
		t.Errorf("fake window_violations = %d; want 0", st.WindowViolations)
	}
	// The fake's identity (its connections are closed by now).
	if err := st.CheckIdentity(); err != nil {
		t.Error(err)
	}
	if st.BadAcks != 0 || st.UnknownAcks != 0 {
		t.Errorf("fake bad_acks %d unknown_acks %d; want 0", st.BadAcks, st.UnknownAcks)
	}
	if t.Failed() {
		t.Logf("fake stats: %+v", st)
		t.Logf("client output:\n%s", o.log)
	}
}

// scenarios are the faults both correct clients must get through.
func scenarios(n int) []struct {
	name     string
	fake     fakeccs.Config
	rate     float64
	receipts bool
	check    func(t *testing.T, st fakeccs.Stats)
} {
	quarter := fakeccs.Every{N: uint64(n / 4)}
	return []struct {
		name     string
		fake     fakeccs.Config
		rate     float64
		receipts bool
		check    func(t *testing.T, st fakeccs.Stats)
	}{
		{name: "plain"},
		{name: "window", fake: fakeccs.Config{AckDelay: 5 * time.Millisecond}},
		{name: "drain", fake: fakeccs.Config{DrainEvery: quarter}, check: func(t *testing.T, st fakeccs.Stats) {
			if st.Drains == 0 || st.Connections < 2 {
				t.Errorf("fake drains %d connections %d; want drains and a new connection", st.Drains, st.Connections)
			}
		}},
		{name: "drain-nack", fake: fakeccs.Config{DrainEvery: quarter, DrainAsNack: true}, check: func(t *testing.T, st fakeccs.Stats) {
			if st.Drains == 0 || st.Connections < 2 {
				t.Errorf("fake drains %d connections %d; want drains and a new connection", st.Drains, st.Connections)
			}
		}},
		{name: "drop", fake: fakeccs.Config{DropEvery: quarter}, check: func(t *testing.T, st fakeccs.Stats) {
			if st.Drops == 0 {
				t.Errorf("fake drops = 0; want drops")
			}
		}},
		{name: "retry", fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.05}}}, check: func(t *testing.T, st fakeccs.Stats) {
			if st.Nacks["SERVICE_UNAVAILABLE"] == 0 || st.Acks != uint64(n) {
				t.Errorf("fake nacks %v acks %d; want SERVICE_UNAVAILABLE NACKs and every message ACKed in the end", st.Nacks, st.Acks)
			}
		}},
		{name: "upstream", fake: fakeccs.Config{UpstreamRate: 200}, rate: float64(n), check: func(t *testing.T, st fakeccs.Stats) {
			if st.UpstreamAcked == 0 {
				t.Errorf("fake upstream_sent %d upstream_acked 0; want ACKs", st.UpstreamSent)
			}
		}},
		{name: "receipts", fake: fakeccs.Config{Receipts: true}, rate: float64(n), receipts: true, check: func(t *testing.T, st fakeccs.Stats) {
			if st.ReceiptsSent == 0 || st.ReceiptsAcked < st.ReceiptsSent/2 {
				t.Errorf("fake receipts_sent %d receipts_acked %d; want most ACKed", st.ReceiptsSent, st.ReceiptsAcked)
			}
		}},
	}
}

// TestCorrectClients runs the mellium example and the naive client without
// switches through every scenario: each must deliver every message.
func TestCorrectClients(t *testing.T) {
	t.Parallel()
	const messages = 2000
	for _, dir := range []string{"mellium", "naive"} {
		for _, sc := range scenarios(messages) {
			t.Run(dir+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				o := run(t, binary(t, dir), nil, sc.fake, messages, sc.rate, sc.receipts)
				checkDelivered(t, o, messages)
				if sc.check != nil {
					sc.check(t, o.st)
				}
			})
		}
	}
}

// TestNaiveSwitches runs the naive client with one switch at a time and
// checks that the fake's stats show the rule it breaks.
func TestNaiveSwitches(t *testing.T) {
	t.Parallel()
	const messages = 1000
	cases := []struct {
		flag  string
		fake  fakeccs.Config
		rate  float64
		rcpt  bool
		check func(o outcome) bool
		want  string
	}{
		{"-no-window", fakeccs.Config{AckDelay: 5 * time.Millisecond}, 0, false,
			func(o outcome) bool { return o.st.WindowViolations > 0 }, "window_violations > 0"},
		{"-no-upstream-ack", fakeccs.Config{UpstreamRate: 500}, messages, false,
			func(o outcome) bool { return o.st.UpstreamSent > 0 && o.st.UpstreamAcked == 0 }, "upstream sent and none ACKed"},
		{"-no-receipt-ack", fakeccs.Config{Receipts: true}, messages, true,
			func(o outcome) bool { return o.st.ReceiptsSent > 0 && o.st.ReceiptsAcked == 0 }, "receipts sent and none ACKed"},
		{"-retry-final", fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "BAD_REGISTRATION", Rate: 0.1}}}, 0, false,
			func(o outcome) bool { return *o.st.Duplicates > 0 }, "duplicates > 0 (final NACKs resent)"},
		{"-no-resend", fakeccs.Config{DropEvery: fakeccs.Every{N: messages / 4}}, 0, false,
			func(o outcome) bool { return o.st.Acks < messages && *o.st.Duplicates == 0 }, "fewer ACKs than messages and nothing resent"},
		{"-lose-on-drain", fakeccs.Config{DrainEvery: fakeccs.Every{N: messages / 4}, DrainAsNack: true}, 0, false,
			func(o outcome) bool { return o.st.Acks < messages }, "fewer ACKs than messages"},
		{"-no-retry", fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.1}}}, 0, false,
			func(o outcome) bool { return o.st.Acks < messages && *o.st.Duplicates == 0 }, "NACKed messages never resent"},
		{"-resend-acked", fakeccs.Config{}, messages, false,
			func(o outcome) bool { return *o.st.Duplicates > 0 && o.st.Nacks["SERVICE_UNAVAILABLE"] == 0 }, "duplicates > 0 without any fault"},
		{"-bad-auth", fakeccs.Config{}, 0, false,
			func(o outcome) bool { return o.exit != 0 && o.st.AuthFailures > 0 && o.st.Connections == 0 }, "exit != 0 and auth failures"},
		{"-no-bind", fakeccs.Config{}, 0, false,
			func(o outcome) bool { return o.exit != 0 && o.st.Received == 0 && o.st.Connections == 0 }, "exit != 0 and no bound connection"},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			o := run(t, binary(t, "naive"), []string{tc.flag}, tc.fake, messages, tc.rate, tc.rcpt)
			if !tc.check(o) {
				t.Errorf("naive %s: exit %d, fake stats %+v; want %s\n%s", tc.flag, o.exit, o.st, tc.want, o.log)
			}
		})
	}
}

// TestStop sends SIGTERM in the middle of a slow run: both clients end
// their streams and exit 1 (they gave up with messages unanswered) at
// once, leaving no connection open at the fake.
func TestStop(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"mellium", "naive"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := runStop(t, binary(t, dir), nil, fakeccs.Config{}, 1000, 100, false, 500*time.Millisecond)
			if o.exit != 1 || time.Since(start) > 10*time.Second {
				t.Errorf("exit %d after %v; want 1 soon after SIGTERM at 500ms\n%s", o.exit, time.Since(start), o.log)
			}
			if o.st.Connections == 0 || o.st.ActiveConnections != 0 || o.st.Received == 0 {
				t.Errorf("fake stats %+v; want messages received and every connection closed", o.st)
			}
		})
	}
}
