package main

// Tests of ccsbench fake --tls: a standalone fake that serves STARTTLS or
// plain TCP, for client stacks that cannot speak TLS from the first byte.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
)

// A fake started with --tls starttls or none serves run --tls of the same
// mode with both clients: every message acked, the driver's and the
// fake's accounting identities hold; a client in direct TLS is told to
// use --tls starttls, and the banner says the fake is not CCS there.
func TestFakeTLSModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []ccs.TLSMode{ccs.TLSStartTLS, ccs.TLSNone} {
		dir := t.TempDir()
		certFile, statsFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "stats.json")
		st := &fakeStandalone{listen: "127.0.0.1:0", statsFile: statsFile, tlsMode: mode}
		if mode != ccs.TLSNone {
			st.certOut = certFile
		}
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		addr, done := startServeFake(t, ctx, fakeccs.Config{}, st, &stdout, &stderr)
		base := []string{"--target", addr.String(), "--sender-id", fakeccs.DefaultSenderID, "--api-key", fakeccs.DefaultAPIKey,
			"--progress=false", "--tls", mode.String()}
		if mode != ccs.TLSNone {
			base = append(base, "--ca", certFile)
		}
		for _, client := range clients {
			out := filepath.Join(dir, client+".json")
			code, _, errs := callRun(append(base, "--client", client, "--conns", "2", "--rate", "0", "--messages", "400", "--json", out)...)
			if code != 0 {
				t.Errorf("run --tls %v --client %s against fake --tls %v = %d; want 0\nstderr:\n%s", mode, client, mode, code, errs)
				continue
			}
			r, err := report.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if c := r.Counts; c.Acked != 400 || c.Messages != c.Acked+c.Nacked+c.StanzaErrors+c.Unresolved+c.Lost {
				t.Errorf("run --tls %v --client %s: counts %+v; want 400 acked and the identity", mode, client, c)
			}
		}
		if mode == ccs.TLSStartTLS {
			code, _, errs := callRun("--target", addr.String(), "--sender-id", fakeccs.DefaultSenderID, "--api-key", fakeccs.DefaultAPIKey,
				"--progress=false", "--ca", certFile, "--conns", "1", "--messages", "5")
			if code != 1 || !strings.Contains(errs, "use --tls starttls") {
				t.Errorf("run --tls direct against fake --tls starttls = %d, stderr %q; want 1 and the advice", code, errs)
			}
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("fake --tls %v exited %d: %s", mode, code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fake --tls %v did not stop", mode)
		}
		if want := map[ccs.TLSMode]string{ccs.TLSStartTLS: "(STARTTLS (not CCS), self-signed", ccs.TLSNone: "(no TLS: plain TCP, not CCS)"}[mode]; !strings.Contains(stdout.String(), want) {
			t.Errorf("fake --tls %v banner %q; want %q", mode, stdout.String(), want)
		}
		b, err := os.ReadFile(statsFile)
		if err != nil {
			t.Fatal(err)
		}
		var s fakeccs.Stats
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		var nacks uint64
		for _, n := range s.Nacks {
			nacks += n
		}
		if s.Received < 800 || s.Received != s.Acks+nacks+s.StanzaErrors+s.Abandoned+s.Discarded {
			t.Errorf("fake --tls %v stats: received %d acks %d nacks %d stanza errors %d abandoned %d discarded %d; want at least 800 and the identity",
				mode, s.Received, s.Acks, nacks, s.StanzaErrors, s.Abandoned, s.Discarded)
		}
	}
}

// fake --tls none refuses the flags that configure TLS.
func TestFakeTLSNoneUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--tls", "none", "--cert-out", "x.pem"}, {"--tls", "none", "--cert", "x.pem", "--key", "y.pem"}, {"--tls", "tls"}} {
		var stdout, stderr bytes.Buffer
		code := fakeCmd(args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "tls") {
			t.Errorf("fake %s = %d, stderr %q; want 2 naming --tls", strings.Join(args, " "), code, stderr.String())
		}
	}
}
