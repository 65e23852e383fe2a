package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/report"
)

func callRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runCmd(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunEmbeddedJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	hlog := filepath.Join(dir, "r.hlog")
	code, out, errs := callRun("--conns", "2", "--rate", "2000", "--duration", "1500ms", "--warmup", "500ms",
		"--fake-receipts", "--receipts", "--fake-track-ids", "--json", path, "--hlog", hlog, "--progress=false")
	if code != 0 {
		t.Fatalf("run = %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if r.Target != "embedded" || r.Counts.Messages == 0 || r.Counts.Acked != r.Counts.Messages || r.Counts.Receipts == 0 {
		t.Errorf("target %q counts %+v; want an embedded run with every message acked and receipts", r.Target, r.Counts)
	}
	if r.Throughput.AckedPerS <= 0 || r.LatencyUS.Service.P50 <= 0 || r.Histograms.Service == "" || len(r.Timeline) == 0 {
		t.Errorf("throughput %+v latency %+v timeline %d; want measured values", r.Throughput, r.LatencyUS, len(r.Timeline))
	}
	var st fakeccs.Stats
	if err := json.Unmarshal(r.Fake, &st); err != nil || st.WindowViolations != 0 || st.UniqueIDs == nil || *st.UniqueIDs != r.Counts.Messages {
		t.Errorf("fake stats %s (%v); want window_violations 0 and unique_ids = messages", r.Fake, err)
	}
	if _, ok := r.Config["api-key"]; ok {
		t.Errorf("config holds the api-key")
	}
	if c := r.Connect; c == nil || c.Conns != 2 || c.Handshakes != 2 || c.HandshakeUS.P50 <= 0 || c.AllConnectedS <= 0 {
		t.Errorf("connect = %+v; want 2 connections, 2 timed handshakes and the time to connect", c)
	} else if h, err := report.DecodeHistogram(r.Histograms.Handshake); err != nil || h.TotalCount() != 2 {
		t.Errorf("handshake histogram: %v, %v; want 2 values", h, err)
	}
	if !strings.Contains(out, "handshake p50 / p99") || !strings.Contains(out, "connected in") {
		t.Errorf("summary lacks the connection figures:\n%s", out)
	}
	if r.Config["dial-concurrency"] != float64(32) || r.Config["conn-rate"] != float64(0) {
		t.Errorf("config dial-concurrency=%v conn-rate=%v; want 32 and 0", r.Config["dial-concurrency"], r.Config["conn-rate"])
	}
	if r.Config["conns"] != float64(2) || r.Config["fake-receipts"] != true {
		t.Errorf("config conns=%v fake-receipts=%v", r.Config["conns"], r.Config["fake-receipts"])
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), fakeccs.DefaultAPIKey) {
		t.Errorf("results file contains the API key")
	}
	if b, err := os.ReadFile(hlog); err != nil || !bytes.Contains(b, []byte("service")) {
		t.Errorf("hlog: %v, %d bytes", err, len(b))
	}
	if !strings.Contains(out, "acked") {
		t.Errorf("summary missing:\n%s", out)
	}
}

// TestRunClientMellium runs the driver over the second built-in client:
// the same accounting, and the results name the client.
func TestRunClientMellium(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	code, out, errs := callRun("--client", "mellium", "--conns", "2", "--rate", "0", "--messages", "2000",
		"--fake-track-ids", "--fake-drain-every", "700", "--json", path, "--progress=false")
	if code != 0 {
		t.Fatalf("run = %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if r.Tool.Client != "mellium" || r.Config["client"] != "mellium" {
		t.Errorf("tool.client %q, config client %v; want mellium", r.Tool.Client, r.Config["client"])
	}
	var st fakeccs.Stats
	if err := json.Unmarshal(r.Fake, &st); err != nil || st.WindowViolations != 0 || st.UniqueIDs == nil || *st.UniqueIDs != r.Counts.Messages || r.Counts.Acked != 2000 {
		t.Errorf("counts %+v, fake stats %s (%v); want 2000 acked, window_violations 0 and unique_ids = messages", r.Counts, r.Fake, err)
	}
}

func TestRunGateFails(t *testing.T) {
	t.Parallel()
	code, out, errs := callRun("--conns", "1", "--rate", "500", "--duration", "300ms", "--progress=false",
		"--gate", "p99<1us,unresolved==0")
	if code != 3 {
		t.Fatalf("run = %d; want 3\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "p99<1us") || strings.Contains(errs, "unresolved==0 (") {
		t.Errorf("stderr %q; want the failed expression named, and only it", errs)
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--rate", "-1"},
		{"--rate", "100", "--rate-shape", "linear:1..2/1s"},
		{"--rate-shape", "bogus"},
		{"--gate", "p99<<5"},
		{"--target", "127.0.0.1:1", "--fake-ack-delay", "1ms", "--sender-id", "1", "--api-key", "k"},
		{"--target", "127.0.0.1:1"},
		{"--ca", "x.pem"},
		{"--window", "101"},
		{"--duration", "0"},
		{"--payload-bytes", "5000"},
		{"stray-argument"},
		{"--client", "bogus"},
		{"--dial-concurrency", "0"},
		{"--conn-rate", "-1"},
		{"--conns", "1001"},
		{"--conns", "2001", "--sender-id", "1,2"},
	} {
		if code, _, errs := callRun(args...); code != 2 {
			t.Errorf("run %q = %d; want 2 (stderr %q)", args, code, errs)
		}
	}
	if code, out, _ := callRun("-h"); code != 0 && !strings.Contains(out, "Usage") {
		t.Errorf("run -h = %d", code)
	}
}

func TestRunWrongKey(t *testing.T) {
	t.Parallel()
	srv := fakeccstest.Start(t, fakeccs.Config{SenderID: "42", APIKey: "right-key"})
	ca := writeCA(t, srv.CertPEM())
	const key = "wrong-key-77d1e0"
	start := time.Now()
	code, out, errs := callRun("--target", srv.Addr(), "--sender-id", "42", "--api-key", key,
		"--ca", ca, "--duration", "1s", "--progress=false")
	if code != 1 {
		t.Fatalf("run = %d; want 1\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "auth") || strings.Contains(errs, "goroutine") {
		t.Errorf("stderr %q; want the auth stage named and no stack trace", errs)
	}
	if strings.Contains(out+errs, key) {
		t.Errorf("output contains the API key")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("failing took %v", time.Since(start))
	}
}

// Output files are checked before the run: a bad path fails at once.
func TestRunOutputCheckedFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := time.Now()
	code, _, errs := callRun("--duration", "5s", "--progress=false", "--json", filepath.Join(dir, "no-such-dir", "x.json"))
	if code != 2 || !strings.Contains(errs, "--json") || time.Since(start) > 3*time.Second {
		t.Errorf("run = %d after %v, stderr %q; want 2 at once, naming --json", code, time.Since(start), errs)
	}
	// A writable new path is not left behind by the check.
	md := filepath.Join(dir, "r.md")
	if err := checkOutputs(output{"md", md}); err != nil {
		t.Fatalf("checkOutputs: %v", err)
	}
	if _, err := os.Stat(md); !os.IsNotExist(err) {
		t.Errorf("checkOutputs left %s behind (%v)", md, err)
	}
}

// Help goes to stdout, errors to stderr; --rate is named in its error.
func TestRunHelpAndRateMessages(t *testing.T) {
	t.Parallel()
	code, out, errs := callRun("--help")
	if code != 0 || !strings.Contains(out, "Usage: ccsbench [run]") || !strings.Contains(out, "--dial-timeout") && !strings.Contains(out, "-dial-timeout") || errs != "" {
		t.Errorf("--help = %d, stdout %d bytes, stderr %q; want the usage on stdout only", code, len(out), errs)
	}
	code, out, errs = callRun("--rate", "-1")
	if code != 2 || !strings.Contains(errs, "--rate") || strings.Contains(errs, "rate shape") || out != "" {
		t.Errorf("--rate -1 = %d, stderr %q; want 2 and an error about --rate", code, errs)
	}
}

// --dial-timeout bounds the handshake with a target that never speaks.
func TestRunDialTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	start := time.Now()
	code, _, errs := callRun("--target", ln.Addr().String(), "--sender-id", "1", "--api-key", "k", "--insecure",
		"--conns", "1", "--dial-timeout", "300ms", "--duration", "1s", "--progress=false")
	if code != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("run = %d after %v (stderr %q); want 1 within the dial timeout", code, time.Since(start), errs)
	}
}

// Messages the target could not take are counted and warned about, and
// the shortfall is put on the target: every window was full.
func TestRunUnsentWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	code, _, errs := callRun("--conns", "1", "--window", "10", "--rate", "2000", "--duration", "400ms", "--drain-timeout", "200ms",
		"--fake-ack-delay", "5s", "--progress=false", "--json", path)
	if code != 1 || !strings.Contains(errs, "of the 2,000 asked for;") || !strings.Contains(errs, "never sent: the target saturated: every window (1 connection × 10 pending) was full") {
		t.Errorf("run = %d, stderr %q; want 1 (unresolved) and the shortfall warning, blaming the target", code, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts.Unsent == 0 || r.Counts.Unsent+r.Counts.Messages < 790 || r.Counts.Unresolved != r.Counts.Messages {
		t.Errorf("counts %+v; want about 800 due, most unsent, every sent one unresolved", r.Counts)
	}
}

func TestRunAllowUnresolved(t *testing.T) {
	t.Parallel()
	// A fake that holds every answer past the drain deadline leaves the
	// 10 messages sent unresolved.
	args := []string{"--conns", "1", "--rate", "0", "--messages", "10", "--drain-timeout", "200ms",
		"--fake-ack-delay", "5s", "--progress=false"}
	code, _, errs := callRun(args...)
	if code != 1 || !strings.Contains(errs, "unresolved") || !strings.Contains(errs, "--allow-unresolved") {
		t.Errorf("run = %d, stderr %q; want 1 naming the unresolved messages and --allow-unresolved", code, errs)
	}
	if code, _, errs := callRun(append(args, "--allow-unresolved", "10")...); code != 0 {
		t.Errorf("run --allow-unresolved 10 = %d, stderr %q; want 0", code, errs)
	}
	if code, _, _ := callRun(append(args, "--allow-unresolved", "9")...); code != 1 {
		t.Errorf("run --allow-unresolved 9 = %d; want 1 with 10 unresolved", code)
	}
}

// --sender-id with several ids: the embedded fake accepts them all and the
// connections spread over them; the results say which were used.
func TestRunSeveralSenders(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	code, out, errs := callRun("--sender-id", "11,22,33", "--conns", "5", "--messages", "500", "--json", path, "--progress=false")
	if code != 0 {
		t.Fatalf("run = %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st fakeccs.Stats
	if err := json.Unmarshal(r.Fake, &st); err != nil || st.Connections != 5 || st.AuthFailures != 0 {
		t.Errorf("fake stats %s (%v); want 5 connections and no refused login", r.Fake, err)
	}
	if r.Config["sender-id"] != "11,22,33" || r.Connect == nil || r.Connect.Conns != 5 || r.Counts.Acked != 500 {
		t.Errorf("sender-id %v, connect %+v, acked %d; want 11,22,33, 5 connections, 500 acked", r.Config["sender-id"], r.Connect, r.Counts.Acked)
	}
}

// The standalone fake takes a list of sender ids with one key.
func TestFakeCommandSenderList(t *testing.T) {
	t.Parallel()
	cfg, err := fakeFlags(flag.NewFlagSet("fake", flag.ContinueOnError), "").config()
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	st := &fakeStandalone{listen: "127.0.0.1:0", certOut: certFile, senderID: "501, 502", apiKey: "list-key-123"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	addr, done := startServeFake(t, ctx, cfg, st, &stdout, &stderr)
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	for _, sender := range []string{"501", "502"} {
		c, err := ccs.Dial(ctx, addr.String(), ccs.ClientConfig{SenderID: sender, APIKey: "list-key-123", TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("Dial as %s: %v", sender, err)
		}
		c.Close()
	}
	if out := stdout.String(); !strings.Contains(out, "2 sender ids (501,502)") {
		t.Errorf("stdout %q; want the two sender ids named", out)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
}

// --interval sets the timeline's resolution.
func TestRunInterval(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	code, _, errs := callRun("--conns", "1", "--rate", "500", "--duration", "1s", "--interval", "200ms", "--progress=false", "--json", path)
	if code != 0 {
		t.Fatalf("run = %d, stderr %q", code, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Timeline); n < 5 || n > 6 || r.Config["interval"] != "200ms" {
		t.Fatalf("timeline of %d points, interval %v; want 5 of 200 ms", n, r.Config["interval"])
	}
	// The last interval ends with the run, at or just before 1 s.
	for i, pt := range r.Timeline[:4] {
		if want := 0.2 * float64(i+1); pt.TS < want-1e-9 || pt.TS > want+1e-9 || pt.PendingPeak < pt.Pending {
			t.Errorf("timeline[%d] = %+v; want t_s %.1f and a peak at least the pending count", i, pt, want)
		}
	}
	if code, _, errs := callRun("--interval", "50ms", "--progress=false"); code != 2 || !strings.Contains(errs, "--interval") {
		t.Errorf("run --interval 50ms = %d, stderr %q; want 2 naming --interval", code, errs)
	}
}

// An output file "-" is standard output, which then carries that output
// alone: the summary goes to standard error, and no file named "-" is
// made.
func TestRunOutputToStdout(t *testing.T) {
	t.Parallel()
	code, out, errs := callRun("--conns", "1", "--rate", "0", "--messages", "200", "--progress=false", "--json", "-")
	if code != 0 {
		t.Fatalf("run --json - = %d\nstderr:\n%s", code, errs)
	}
	r, err := report.Decode(strings.NewReader(out))
	if err != nil || r.Counts.Acked != 200 {
		t.Errorf("stdout of run --json - is not a results file of 200 acked messages (%v):\n%.300s", err, out)
	}
	if !strings.Contains(errs, "acked") || !strings.Contains(errs, "accounting") {
		t.Errorf("stderr lacks the summary:\n%s", errs)
	}
	if _, err := os.Stat("-"); !os.IsNotExist(err) {
		t.Errorf("run --json - made a file named - (%v)", err)
	}
	code, out, errs = callRun("--conns", "1", "--rate", "0", "--messages", "50", "--progress=false", "--md", "-", "--json", filepath.Join(t.TempDir(), "r.json"))
	if code != 0 || !strings.HasPrefix(out, "## ccsbench results") || strings.Contains(out, "┌") || !strings.Contains(errs, "┌") {
		t.Errorf("run --md - = %d; want the markdown alone on stdout, the summary on stderr\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = callRun("--json", "-", "--hlog", "-")
	if code != 2 || out != "" || !strings.Contains(errs, "--json - and --hlog -: only one output can go to standard output") {
		t.Errorf("run --json - --hlog - = %d, stdout %q, stderr %q; want 2 and a refusal naming both", code, out, errs)
	}
}

// --tls-server-name checks the target's certificate against another name
// than the host of --target: the fake's certificate names the CCS hosts,
// so a run to its address succeeds with gcm.googleapis.com and fails,
// naming the certificate check, with a name it does not hold.
func TestRunTLSServerName(t *testing.T) {
	t.Parallel()
	srv := fakeccstest.Start(t, fakeccs.Config{SenderID: "42", APIKey: "k"})
	ca := writeCA(t, srv.CertPEM())
	base := []string{"--target", srv.Addr(), "--sender-id", "42", "--api-key", "k", "--ca", ca,
		"--conns", "1", "--messages", "10", "--progress=false"}
	if code, _, errs := callRun(append(base, "--tls-server-name", "gcm.googleapis.com")...); code != 0 {
		t.Errorf("run --tls-server-name gcm.googleapis.com = %d; want 0 (stderr %q)", code, errs)
	}
	code, _, errs := callRun(append(base, "--tls-server-name", "elsewhere.invalid")...)
	if code != 1 || !strings.Contains(errs, "not elsewhere.invalid") {
		t.Errorf("run --tls-server-name elsewhere.invalid = %d, stderr %q; want 1 and the certificate's names", code, errs)
	}
	if code, _, errs := callRun("--tls-server-name", "x", "--duration", "1s"); code != 2 || !strings.Contains(errs, "--tls-server-name") {
		t.Errorf("run --tls-server-name without --target = %d, stderr %q; want 2 naming the flag", code, errs)
	}
}
