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
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/judge"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
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

// startServeFake runs serveFake until ctx ends and returns the address it
// listens on, and the channel of its exit code.
func startServeFake(t *testing.T, ctx context.Context, cfg fakeccs.Config, st *fakeStandalone, stdout, stderr *syncBuffer) (net.Addr, <-chan int) {
	t.Helper()
	readyc := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- serveFake(ctx, cfg, st, stdout, stderr, func(_ *fakeccs.Server, a net.Addr) { readyc <- a })
	}()
	select {
	case addr := <-readyc:
		return addr, done
	case code := <-done:
		t.Fatalf("serveFake exited with %d: %s", code, stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("serveFake did not start")
	}
	return nil, nil
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
	addr, done := startServeFake(t, ctx, cfg, st, &stdout, &stderr)

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
	if err := json.Unmarshal([]byte(get("/stats.json")), &js); err != nil || js["received"] != float64(1) ||
		js["discarded"] != float64(0) || js["receipts_acked_unprefixed"] != float64(0) {
		t.Fatalf("/stats.json: %v, %v; want received 1, discarded and receipts_acked_unprefixed 0", js, err)
	}
	metrics := get("/metrics")
	for _, want := range []string{"ccsbench_fake_received_total 1", `ccsbench_fake_nacks_total{code="BAD_REGISTRATION"} 1`,
		"ccsbench_fake_unique_ids_total 1", "ccsbench_fake_active_connections 1", "ccsbench_fake_discarded_total 0",
		"ccsbench_fake_abandoned_total 0", "ccsbench_fake_receipts_acked_unprefixed_total 0"} {
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
	if err := json.Unmarshal(b, &stats); err != nil || stats.Received != 1 || stats.Nacks["BAD_REGISTRATION"] != 1 ||
		!bytes.Contains(b, []byte(`"discarded": 0`)) {
		t.Fatalf("--stats file %s: %v", b, err)
	}
	if err := stats.CheckIdentity(); err != nil {
		t.Errorf("--stats file: %v", err)
	}
	all := stdout.String() + stderr.String()
	if strings.Contains(all, key) {
		t.Fatalf("the API key appears in the output: %q", all)
	}
	if !strings.Contains(all, "not shown") || !strings.Contains(all, "fake CCS stopped: 1 connections, 1 messages received") ||
		!strings.Contains(all, "0 abandoned, 0 discarded") {
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

// fakeFlagsError parses args with the fake's flags under prefix and
// returns the first error on the way to a server: of config, or of
// fakeccs.New as flagError gives it.
func fakeFlagsError(t *testing.T, prefix string, args []string) error {
	t.Helper()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := fakeFlags(fs, prefix)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	cfg, err := opts.config()
	if err != nil {
		return err
	}
	_, err = fakeccs.New(cfg)
	return opts.flagError(err)
}

// TestFakeFlagErrorsNamePrefix checks that every unusable value of a fake
// flag is refused with an error that names the flag as typed, with the
// "fake-" prefix when run defines it, once, and in the flags' words: no
// layer of fakeccs's own wording.
func TestFakeFlagErrorsNamePrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string // flag names without dashes or prefix, then values
		want string   // the whole error, with %s for the prefix
	}{
		{[]string{"nack", "FOO=2"}, "--%snack: rate 2 of FOO is outside 0..1"},
		{[]string{"nack", "SERVICE_UNAVAILABLE"}, `--%snack: rule "SERVICE_UNAVAILABLE" is not CODE=RATE`},
		{[]string{"drop-every", "soon"}, `--%sdrop-every: "soon" is neither a message count nor a duration (e.g. 1000 or 30s)`},
		{[]string{"drain-every", "-1s"}, `--%sdrain-every: "-1s" is neither a message count nor a duration (e.g. 1000 or 30s)`},
		{[]string{"drain-linger", "soon"}, `--%sdrain-linger: "soon" is neither a duration of 0 or more nor "never"`},
		{[]string{"wire-form", "fancy"}, `--%swire-form: "fancy" is not documented, prefixed or default-ns`},
		{[]string{"ack-delay", "-1ms"}, "--%sack-delay: -1ms is negative"},
		{[]string{"ack-jitter", "-1ms"}, "--%sack-jitter: -1ms is negative"},
		{[]string{"auth-timeout", "0s"}, "--%sauth-timeout: 0s is not positive"},
		{[]string{"upstream-resend", "0s"}, "--%supstream-resend: 0s is not positive"},
		{[]string{"keepalive", "-1s"}, "--%skeepalive: -1s is negative"},
		{[]string{"upstream-rate", "-1"}, "--%supstream-rate: -1 is not a finite rate of 0 or more"},
		{[]string{"upstream-rate", "NaN"}, "--%supstream-rate: NaN is not a finite rate of 0 or more"},
		{[]string{"device-rate", "+Inf"}, "--%sdevice-rate: +Inf is not a finite rate of 0 or more"},
		{[]string{"canonical-rate", "2"}, "--%scanonical-rate: 2 is outside 0..1"},
		{[]string{"max-stanza", "100"}, "--%smax-stanza: 100 is below 512 bytes"},
		{[]string{"drain-grace", "-1ms"}, "--%sdrain-grace: -1ms is negative"},
		{[]string{"drain-deadline", "-1s"}, "--%sdrain-deadline: -1s is negative"},
		{[]string{"bad-registration-share", "1.5"}, "--%sbad-registration-share: 1.5 is outside 0..1"},
		{[]string{"unregistered-share", "0.7", "bad-registration-share", "0.4"},
			"--%sunregistered-share: 0.7 and --%sbad-registration-share 0.4 sum to more than 1"},
		{[]string{"drain-alternate", "true", "drain-as-nack", "true"}, "--%sdrain-alternate: excludes --%sdrain-as-nack"},
	} {
		for _, prefix := range []string{"", "fake-"} {
			var args []string
			for i := 0; i < len(tc.args); i += 2 {
				args = append(args, "--"+prefix+tc.args[i]+"="+tc.args[i+1])
			}
			want := strings.ReplaceAll(tc.want, "%s", prefix)
			err := fakeFlagsError(t, prefix, args)
			if err == nil || err.Error() != want {
				t.Errorf("%v: error %v; want %q", args, err, want)
				continue
			}
			if !errors.Is(err, fakeccs.ErrConfig) && !strings.Contains(tc.want, "not positive") && !strings.Contains(tc.want, "drain-grace") &&
				!strings.Contains(tc.want, "drain-linger") && !strings.Contains(tc.want, "wire-form") {
				t.Errorf("%v: error %v does not wrap fakeccs.ErrConfig", args, err)
			}
		}
	}
	for _, tc := range []struct {
		cmd  func([]string, io.Writer, io.Writer) int
		args []string
		want string
	}{
		{fakeCmd, []string{"--nack", "SERVICE_UNAVAILABLE"}, `ccsbench fake: --nack: rule "SERVICE_UNAVAILABLE" is not CODE=RATE` + "\n"},
		{fakeCmd, []string{"--sender-id", "a@b"}, `ccsbench fake: --sender-id: "a@b" is not a bare sender id (no '@', '/', spaces or markup)` + "\n"},
		{runCmd, []string{"--fake-nack", "SERVICE_UNAVAILABLE", "--progress=false"}, `ccsbench run: --fake-nack: rule "SERVICE_UNAVAILABLE" is not CODE=RATE` + "\n"},
		{runCmd, []string{"--fake-ack-delay", "-1ms", "--progress=false"}, "ccsbench run: --fake-ack-delay: -1ms is negative\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := tc.cmd(tc.args, &stdout, &stderr); code != 2 || stderr.String() != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestFakeFlagNames checks fakeFlagNames against the flags fakeFlags
// defines and the fields of fakeccs.Config.
func TestFakeFlagNames(t *testing.T) {
	t.Parallel()
	fields := reflect.TypeFor[fakeccs.Config]()
	for _, prefix := range []string{"", "fake-"} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fakeFlags(fs, prefix)
		named := map[string]bool{}
		for field, name := range fakeFlagNames {
			named[prefix+name] = true
			if fs.Lookup(prefix+name) == nil {
				t.Errorf("fakeFlagNames[%q] = %q; fakeFlags defines no --%s", field, name, prefix+name)
			}
			if _, ok := fields.FieldByName(field); !ok {
				t.Errorf("fakeFlagNames has %q, which is no field of fakeccs.Config", field)
			}
		}
		fs.VisitAll(func(f *flag.Flag) {
			if !named[f.Name] {
				t.Errorf("--%s is not in fakeFlagNames", f.Name)
			}
		})
	}
	for field := range credentialFlagNames {
		if _, ok := fields.FieldByName(field); !ok {
			t.Errorf("credentialFlagNames has %q, which is no field of fakeccs.Config", field)
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
		"fake-unregistered", "fake-device-rate", "fake-max-stanza", "fake-seed", "fake-drain-grace", "fake-drain-linger",
		"fake-wire-form", "fake-drop-total", "fake-drain-total", "fake-drain-alternate", "fake-drain-deadline",
		"fake-bad-registration-share", "fake-unregistered-share"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
	err := fs.Parse([]string{"--fake-ack-delay", "10ms", "--fake-nack", "X_Y=0.5", "--fake-drain-every", "1000",
		"--fake-drop-every", "30s", "--fake-bad-registration", "bad-*, worse-*", "--fake-seed", "9",
		"--fake-drop-total", "7", "--fake-drain-total", "11", "--fake-drain-alternate", "--fake-drain-deadline", "2s",
		"--fake-bad-registration-share", "0.25", "--fake-unregistered-share", "0.5"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := opts.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AckDelay != 10*time.Millisecond || len(cfg.Nack) != 1 || cfg.Nack[0] != (fakeccs.NackRule{Code: "X_Y", Rate: 0.5}) ||
		cfg.DrainEvery != (fakeccs.Every{N: 1000}) || cfg.DropEvery != (fakeccs.Every{D: 30 * time.Second}) ||
		len(cfg.BadRegistration) != 2 || cfg.BadRegistration[1] != "worse-*" || cfg.Seed != 9 ||
		cfg.DropTotal != 7 || cfg.DrainTotal != 11 || !cfg.DrainAlternate || cfg.DrainDeadline != 2*time.Second ||
		cfg.BadRegistrationShare != 0.25 || cfg.UnregisteredShare != 0.5 {
		t.Fatalf("config %+v", cfg)
	}
	if _, err := fakeccs.New(cfg); err != nil {
		t.Fatalf("New(config()): %v", err)
	}
	for name, want := range map[string]string{"fake-nack": "X_Y=0.5", "fake-drop-every": "30s", "fake-drain-every": "1000",
		"fake-drain-linger": "1s", "fake-wire-form": "documented"} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s recorded as %q; want %q", name, got, want)
		}
	}
}

// TestFakeFlagsReproduceJudgeScenarios checks that every fault a judge
// scenario sets can be set with flags of ccsbench fake, so that a
// scenario can be replayed against a standalone fake.
func TestFakeFlagsReproduceJudgeScenarios(t *testing.T) {
	t.Parallel()
	const n = 1000 // messages per scenario: drains and drops every n/4
	grace, deadline := judge.DrainGrace.String(), judge.DrainDeadline.String()
	share := strconv.FormatFloat(judge.FinalShare, 'g', -1, 64)
	for _, tc := range []struct {
		name string
		args []string
		want fakeccs.Config
	}{
		{judge.Window, []string{"--ack-delay", judge.WindowAckDelay.String()}, fakeccs.Config{AckDelay: judge.WindowAckDelay}},
		{judge.Upstream, []string{"--upstream-rate", strconv.Itoa(judge.UpstreamRate)}, fakeccs.Config{UpstreamRate: judge.UpstreamRate}},
		{judge.Receipts, []string{"--receipts"}, fakeccs.Config{Receipts: true}},
		{judge.Drain, []string{"--drain-total", "250", "--drain-alternate", "--drain-grace", grace, "--drain-deadline", deadline},
			fakeccs.Config{DrainTotal: n / 4, DrainAlternate: true, DrainGrace: judge.DrainGrace, DrainDeadline: judge.DrainDeadline}},
		{judge.Drop, []string{"--drop-total", "250"}, fakeccs.Config{DropTotal: n / 4}},
		{judge.Retry, []string{"--nack", "SERVICE_UNAVAILABLE=" + strconv.FormatFloat(judge.RetryShare, 'g', -1, 64)},
			fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: judge.RetryShare}}}},
		{judge.Final, []string{"--bad-registration-share", share, "--unregistered-share", share},
			fakeccs.Config{BadRegistrationShare: judge.FinalShare, UnregisteredShare: judge.FinalShare}},
	} {
		fs := flag.NewFlagSet("fake", flag.ContinueOnError)
		opts := fakeFlags(fs, "")
		if err := fs.Parse(append(tc.args, "--seed", strconv.Itoa(judge.Seed))); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := opts.config()
		if err != nil {
			t.Fatalf("%s: config: %v", tc.name, err)
		}
		want, err := fakeccs.New(withFlagDefaults(tc.want, judge.Seed))
		if err != nil {
			t.Fatalf("%s: New: %v", tc.name, err)
		}
		srv, err := fakeccs.New(got)
		if err != nil {
			t.Fatalf("%s: New(config()): %v", tc.name, err)
		}
		if g, w := srv.Config(), want.Config(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: ccsbench fake %v gives\n%+v\nwant\n%+v", tc.name, tc.args, g, w)
		}
	}
}

// withFlagDefaults fills in what the fake's flags set when not given and
// a Config leaves to New: the maximum stanza size, and the seed.
func withFlagDefaults(c fakeccs.Config, seed uint64) fakeccs.Config {
	c.MaxStanza, c.Seed = 64<<10, seed
	return c
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

func TestFakeDrainAndWireFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args          []string
		grace, linger time.Duration
		form          ccs.WireForm
	}{
		{nil, fakeccs.DefaultDrainGrace, fakeccs.DefaultDrainLinger, ccs.WireDocumented},
		{[]string{"--drain-grace", "0", "--drain-linger", "0"}, -1, -1, ccs.WireDocumented},
		{[]string{"--drain-grace", "250ms", "--drain-linger", "never", "--wire-form", "prefixed"}, 250 * time.Millisecond,
			fakeccs.DrainLingerForever, ccs.WirePrefixed},
		{[]string{"--drain-linger", "3s", "--wire-form", "default-ns"}, fakeccs.DefaultDrainGrace, 3 * time.Second, ccs.WireDefaultNS},
	} {
		fs := flag.NewFlagSet("fake", flag.ContinueOnError)
		opts := fakeFlags(fs, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		cfg, err := opts.config()
		if err != nil {
			t.Fatalf("%v: config: %v", tc.args, err)
		}
		if cfg.DrainGrace != tc.grace || cfg.DrainLinger != tc.linger || cfg.WireForm != tc.form {
			t.Errorf("%v: grace %v linger %v form %v; want %v %v %v", tc.args, cfg.DrainGrace, cfg.DrainLinger, cfg.WireForm,
				tc.grace, tc.linger, tc.form)
		}
		if _, err := fakeccs.New(cfg); err != nil {
			t.Errorf("%v: New: %v", tc.args, err)
		}
	}
	for _, bad := range []string{"soon", "-1s"} {
		var stdout, stderr bytes.Buffer
		if code := fakeCmd([]string{"--drain-linger", bad}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "drain-linger") {
			t.Errorf("--drain-linger %s: exit %d, stderr %q; want 2 naming the flag", bad, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	fakeCmd([]string{"--help"}, &stdout, &stderr)
	for _, want := range []string{"SENDER@fcm.googleapis.com", "--drain-grace", "--drain-linger", "an --ack-delay of a\nfew milliseconds is what reliably exposes a client without flow control",
		"--drop-total N drops the connection", "--drain-total N", "--drain-alternate\ndrains by control message", "--drain-deadline D",
		"--bad-registration-share F and --unregistered-share F", "-drop-total N", "-unregistered-share F",
		"received = acks", "discarded", "receipts_acked_unprefixed", "default-ns", "(default 1s)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("ccsbench help fake lacks %q", want)
		}
	}
}

// TestDriverAgainstEveryWireForm runs the driver against the fake in every
// wire form, logging in to both domains, with drains, NACKs, upstream
// messages and receipts: the driver's parser matches namespaces, and the
// fake's accounting and the driver's agree.
func TestDriverAgainstEveryWireForm(t *testing.T) {
	t.Parallel()
	for i, form := range []ccs.WireForm{ccs.WireDocumented, ccs.WirePrefixed, ccs.WireDefaultNS} {
		domain := []string{ccs.Domain, ccs.FCMDomain}[i%2]
		t.Run(form.String(), func(t *testing.T) {
			t.Parallel()
			srv := fakeccstest.Start(t, fakeccs.Config{WireForm: form, TrackIDs: true, Receipts: true, UpstreamRate: 300,
				DrainEvery: fakeccs.Every{N: 300}, DrainLinger: 100 * time.Millisecond,
				Nack: []fakeccs.NackRule{{Code: "BAD_REGISTRATION", Rate: 0.05}}})
			msgs := workload.DefaultMessageConfig()
			msgs.Receipts, msgs.InvalidRate = true, 0.02
			d, err := driver.New(driver.Config{Target: srv.Addr(), SenderID: fakeccs.DefaultSenderID,
				APIKey: fakeccs.DefaultAPIKey, LoginDomain: domain, TLS: srv.ClientTLS(),
				Conns: 3, Pacer: workload.ConstantPacer{Freq: 3000}, Duration: 500 * time.Millisecond,
				DrainTimeout: 3 * time.Second, Message: msgs})
			if err != nil {
				t.Fatal(err)
			}
			res, err := d.Run(context.Background())
			st, cerr := srv.Close()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			c := res.Counts
			t.Logf("driver %+v", c)
			t.Logf("fake %+v", st)
			if err := res.Check(); err != nil {
				t.Errorf("driver Check: %v", err)
			}
			if cerr != nil {
				t.Errorf("fake Close: %v", cerr)
			}
			if c.Unresolved != 0 || c.Acked+c.Nacked != c.Messages || c.Nacks["BAD_REGISTRATION"] != st.Nacks["BAD_REGISTRATION"] ||
				c.Nacks["INVALID_JSON"] == 0 || c.Nacks["INVALID_JSON"] != st.Nacks["INVALID_JSON"] {
				t.Errorf("driver counts %+v against fake nacks %v; want every message acked or nacked as the fake said", c, st.Nacks)
			}
			if st.UniqueIDs == nil || *st.UniqueIDs != c.Messages || st.WindowViolations != 0 || st.Discarded != 0 ||
				st.BadAcks != 0 || st.UnknownAcks != 0 {
				t.Errorf("fake unique_ids %v of %d messages, window_violations %d, discarded %d, bad/unknown acks %d/%d; want equal and 0s",
					st.UniqueIDs, c.Messages, st.WindowViolations, st.Discarded, st.BadAcks, st.UnknownAcks)
			}
			// The driver ACKs (and counts) every upstream message and
			// receipt it reads, a resent one again; the fake counts each
			// one ACKed once. A resend the fake made after a drain or a
			// drop may find the first copy ACKed already (the ACK crossed
			// the move): at most UpstreamResent more on the driver's side.
			driverUp, fakeUp := c.Upstream+c.Receipts, st.UpstreamAcked+st.ReceiptsAcked
			if c.Draining == 0 || c.Upstream == 0 || c.Receipts == 0 || driverUp < fakeUp || driverUp > fakeUp+st.UpstreamResent {
				t.Errorf("driver draining %d upstream %d receipts %d, fake upstream_acked %d receipts_acked %d upstream_resent %d; want drains seen and the counts equal but for resends",
					c.Draining, c.Upstream, c.Receipts, st.UpstreamAcked, st.ReceiptsAcked, st.UpstreamResent)
			}
		})
	}
}

func TestRunLoginDomain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	var out, errb bytes.Buffer
	if code := runCmd([]string{"--login-domain", "fcm", "--conns", "2", "--messages", "300", "--rate", "3000",
		"--progress=false", "--json", path}, &out, &errb); code != 0 {
		t.Fatalf("run --login-domain fcm = %d; stderr %s", code, errb.String())
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Config["login-domain"] != "fcm" || r.Counts.Acked != 300 {
		t.Errorf("config login-domain %v, acked %d; want fcm and 300", r.Config["login-domain"], r.Counts.Acked)
	}
	out.Reset()
	errb.Reset()
	if code := runCmd([]string{"--login-domain", "xmpp"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--login-domain") {
		t.Errorf("run --login-domain xmpp = %d, stderr %q; want 2 naming the flag", code, errb.String())
	}
}

// TestFakeSummary checks the exit line of ccsbench fake, whose outcomes
// come from fakeccs.Counters.
func TestFakeSummary(t *testing.T) {
	t.Parallel()
	st := fakeccs.Stats{Connections: 2, Received: 12, Acks: 5, Nacks: map[string]uint64{"A": 1, "B": 2}, StanzaErrors: 1,
		Abandoned: 2, Discarded: 1, WindowViolations: 3}
	const want = "fake CCS stopped: 2 connections, 12 messages received, 5 acks, 3 nacks, 1 stanza errors, 2 abandoned, 1 discarded, 3 window violations"
	if got := fakeSummary(&st); got != want {
		t.Errorf("fakeSummary(%+v) = %q; want %q", st, got, want)
	}
}

// TestFakeCommandServerWideFaults runs ccsbench fake with the faults
// judge scenarios use, set by flags: a drop and NACKs of registration-id
// shares, and an alternating drain ended by its deadline.
func TestFakeCommandServerWideFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c *ccs.Conn)
		want  func(st *fakeccs.Stats) bool
	}{
		{"drop-total", []string{"--drop-total", "3", "--unregistered-share", "1"},
			func(t *testing.T, c *ccs.Conn) {
				for i := range 3 {
					c.Write(ccs.AppendDownstream(nil, []byte(fmt.Sprintf(`{"to":"r%d","message_id":"m%d"}`, i, i))))
					if i == 2 {
						break
					}
					if sn, err := c.Framer.Next(); err != nil || !bytes.Contains(sn.GCM, []byte(`"DEVICE_UNREGISTERED"`)) {
						t.Fatalf("answer to m%d: %q, %v; want a DEVICE_UNREGISTERED NACK", i, sn.GCM, err)
					}
				}
				if sn, err := c.Framer.Next(); err == nil {
					t.Fatalf("after the third message: %v %q; want the connection dropped", sn.Kind, sn.GCM)
				}
			},
			func(st *fakeccs.Stats) bool {
				return st.Drops == 1 && st.Nacks["DEVICE_UNREGISTERED"] == 2 && st.Abandoned == 1
			}},
		{"drain-total", []string{"--drain-total", "2", "--drain-alternate", "--drain-deadline", "200ms", "--drain-linger", "never"},
			func(t *testing.T, c *ccs.Conn) {
				c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"r","message_id":"m1"}`)))
				c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"r","message_id":"m2"}`)))
				var got []string
				for {
					sn, err := c.Framer.Next()
					if err != nil {
						t.Fatalf("after %q: %v; want the stream ended at the drain deadline", got, err)
					}
					if sn.Kind == ccs.KindStreamEnd {
						break
					}
					got = append(got, string(sn.GCM))
				}
				if len(got) != 3 || !strings.Contains(got[2], "CONNECTION_DRAINING") {
					t.Fatalf("got %q; want two ACKs and the CONNECTION_DRAINING control message", got)
				}
			},
			func(st *fakeccs.Stats) bool { return st.Drains == 1 && st.Acks == 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("fake", flag.ContinueOnError)
			opts := fakeFlags(fs, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := opts.config()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			statsFile, certFile := filepath.Join(dir, "stats.json"), filepath.Join(dir, "cert.pem")
			var stdout, stderr syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addr, done := startServeFake(t, ctx, cfg, &fakeStandalone{listen: "127.0.0.1:0", statsFile: statsFile, certOut: certFile},
				&stdout, &stderr)
			pemBytes, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pemBytes)
			c, err := ccs.Dial(ctx, addr.String(), ccs.ClientConfig{SenderID: fakeccs.DefaultSenderID,
				APIKey: fakeccs.DefaultAPIKey, TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			tc.check(t, c)
			c.Close()
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			b, err := os.ReadFile(statsFile)
			var st fakeccs.Stats
			if err == nil {
				err = json.Unmarshal(b, &st)
			}
			if err != nil || !tc.want(&st) {
				t.Errorf("--stats %s, %v", b, err)
			}
		})
	}
}
