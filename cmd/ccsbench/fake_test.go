package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
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

func TestFakeCommandServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, statsFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "stats.json")
	const key = "AIzaSy-a-secret-key-0123"
	var stdout, stderr syncBuffer
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	opts := fakeFlags(fs, "")
	if err := fs.Parse([]string{"--nack", "BAD_REGISTRATION=1", "--track-ids"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := opts.config()
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStandalone{listen: "127.0.0.1:0", certOut: certFile, statsFile: statsFile,
		statsAddr: "127.0.0.1:0", senderID: "777", apiKey: key}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readyc := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- serveFake(ctx, cfg, st, &stdout, &stderr, func(_ *fakeccs.Server, a net.Addr) { readyc <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-readyc:
	case code := <-done:
		t.Fatalf("serveFake exited with %d: %s", code, stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("serveFake did not start")
	}

	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("--cert-out: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("--cert-out did not write a PEM certificate")
	}
	c, err := ccs.Dial(ctx, addr.String(), ccs.ClientConfig{SenderID: "777", APIKey: key,
		TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"r","message_id":"m1"}`))); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	sn, err := c.Framer.Next()
	if err != nil || !bytes.Contains(sn.GCM, []byte(`"BAD_REGISTRATION"`)) {
		t.Fatalf("answer %q, %v; want a BAD_REGISTRATION NACK", sn.GCM, err)
	}

	// /stats.json and /metrics, on the address printed.
	out := stdout.String()
	i := strings.Index(out, "stats on http://")
	if i < 0 {
		t.Fatalf("stdout lacks the stats address: %q", out)
	}
	base := "http://" + strings.Fields(out[i+len("stats on http://"):])[0]
	base = strings.TrimSuffix(base, "/stats.json")
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(get("/stats.json")), &js); err != nil || js["received"] != float64(1) {
		t.Fatalf("/stats.json: %v, %v; want received 1", js, err)
	}
	metrics := get("/metrics")
	for _, want := range []string{"ccsbench_fake_received_total 1", `ccsbench_fake_nacks_total{code="BAD_REGISTRATION"} 1`,
		"ccsbench_fake_unique_ids_total 1", "ccsbench_fake_active_connections 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after the signal; want 0 (stderr %q)", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveFake did not stop")
	}
	b, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatalf("--stats: %v", err)
	}
	var stats fakeccs.Stats
	if err := json.Unmarshal(b, &stats); err != nil || stats.Received != 1 || stats.Nacks["BAD_REGISTRATION"] != 1 {
		t.Fatalf("--stats file %s: %v", b, err)
	}
	all := stdout.String() + stderr.String()
	if strings.Contains(all, key) {
		t.Fatalf("the API key appears in the output: %q", all)
	}
	if !strings.Contains(all, "not shown") || !strings.Contains(all, "fake CCS stopped: 1 connections, 1 messages received") {
		t.Errorf("output %q lacks the key note or the summary", all)
	}
}

func TestFakeCommandUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nack", "SERVICE_UNAVAILABLE"}, "--nack"},
		{[]string{"--drop-every", "soon"}, "--drop-every"},
		{[]string{"--drain-every", "-1s"}, "--drain-every"},
		{[]string{"--canonical-rate", "2"}, "--canonical-rate"},
		{[]string{"--cert", "x.pem"}, "--cert and --key"},
		{[]string{"--cert", "x.pem", "--key", "y.pem", "--cert-out", "z.pem"}, "--cert-out"},
		{[]string{"--cert", "/nonexistent.pem", "--key", "/nonexistent.key"}, "loading --cert"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--no-such-flag"}, "not defined"},
		{[]string{"--auth-timeout", "0s"}, "--auth-timeout"},
	} {
		var stdout, stderr bytes.Buffer
		if code := fakeCmd(tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("fake %v: exit %d; want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("fake %v: stderr %q; want it to mention %q", tc.args, stderr.String(), tc.want)
		}
	}
	for _, args := range [][]string{{"fake", "--help"}, {"fake", "-h"}, {"help", "fake"}} {
		var stdout, stderr bytes.Buffer
		var code int
		if args[0] == "help" {
			code = dispatch(args, &stdout, &stderr)
		} else {
			code = fakeCmd(args[1:], &stdout, &stderr)
		}
		if code != 0 || !strings.Contains(stdout.String(), "Usage: ccsbench fake") || !strings.Contains(stdout.String(), "-drop-every") ||
			stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want the usage on stdout only", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestFakeFlagErrorsNamePrefix checks that every error of a fake flag names
// it as typed: with the "fake-" prefix when run defines it.
func TestFakeFlagErrorsNamePrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value string }{
		{"nack", "FOO=2"}, {"nack", "SERVICE_UNAVAILABLE"}, {"drop-every", "soon"}, {"drain-every", "-1s"},
		{"ack-delay", "-1ms"}, {"ack-jitter", "-1ms"}, {"auth-timeout", "0s"}, {"upstream-resend", "0s"},
		{"keepalive", "-1s"}, {"upstream-rate", "-1"}, {"upstream-rate", "NaN"}, {"device-rate", "+Inf"},
		{"canonical-rate", "2"}, {"max-stanza", "100"},
	} {
		for _, prefix := range []string{"", "fake-"} {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts := fakeFlags(fs, prefix)
			flagName := "--" + prefix + tc.name
			if err := fs.Parse([]string{flagName, tc.value}); err != nil {
				t.Fatalf("%s %s: %v", flagName, tc.value, err)
			}
			_, err := opts.config()
			if err == nil || !strings.HasPrefix(err.Error(), flagName+": ") {
				t.Errorf("%s %s: error %v; want it to start with %q", flagName, tc.value, err, flagName+": ")
			}
		}
	}
}

func TestFakeFlagsPrefixed(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	opts := fakeFlags(fs, "fake-")
	for _, name := range []string{"fake-ack-delay", "fake-ack-jitter", "fake-nack", "fake-drop-every", "fake-drain-every",
		"fake-drain-as-nack", "fake-auth-timeout", "fake-upstream-rate", "fake-receipts", "fake-keepalive",
		"fake-track-ids", "fake-strict-window", "fake-canonical-rate", "fake-bad-registration",
		"fake-unregistered", "fake-device-rate", "fake-max-stanza", "fake-seed"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
	err := fs.Parse([]string{"--fake-ack-delay", "10ms", "--fake-nack", "X_Y=0.5", "--fake-drain-every", "1000",
		"--fake-drop-every", "30s", "--fake-bad-registration", "bad-*, worse-*", "--fake-seed", "9"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := opts.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AckDelay != 10*time.Millisecond || len(cfg.Nack) != 1 || cfg.Nack[0] != (fakeccs.NackRule{Code: "X_Y", Rate: 0.5}) ||
		cfg.DrainEvery != (fakeccs.Every{N: 1000}) || cfg.DropEvery != (fakeccs.Every{D: 30 * time.Second}) ||
		len(cfg.BadRegistration) != 2 || cfg.BadRegistration[1] != "worse-*" || cfg.Seed != 9 {
		t.Fatalf("config %+v", cfg)
	}
	if _, err := fakeccs.New(cfg); err != nil {
		t.Fatalf("New(config()): %v", err)
	}
}

// TestFakeCertOutAfterListen checks that a fake that cannot bind its
// address leaves --cert-out alone: a running fake's clients trust that file.
func TestFakeCertOutAfterListen(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(path, []byte("trusted"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := fakeCmd([]string{"--listen", busy.Addr().String(), "--cert-out", path}, &stdout, &stderr); code != 1 {
		t.Fatalf("fake on a busy address: exit %d, stderr %q; want 1", code, stderr.String())
	}
	if b, _ := os.ReadFile(path); string(b) != "trusted" {
		t.Errorf("--cert-out was overwritten by a fake that could not listen: %q", b)
	}
}
