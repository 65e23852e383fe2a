package main

// Tests of run --tls against CCS-compatible servers that offer only
// STARTTLS or no TLS (internal/badccs in its StartTLS and Plain modes),
// with both clients.

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/report"
)

// clients are the --client values every --tls test runs with.
var clients = []string{"native", "mellium"}

// plainArgs are the flags that aim a run at a badccs server without
// saying anything about TLS.
func plainArgs(srv *badccs.Server) []string {
	return []string{"--target", srv.Addr(), "--sender-id", srv.SenderID(), "--api-key", srv.APIKey(), "--progress=false"}
}

// --tls starttls against a server that offers only STARTTLS, and --tls
// none against one without TLS: every message is delivered with both
// clients, every connection bound, and the accounting adds up.
func TestRunTLSModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode string
		opts badccs.Options
	}{
		{"starttls", badccs.Options{StartTLS: true}},
		{"none", badccs.Options{Plain: true}},
	} {
		srv := badccs.Start(t, tc.opts)
		for _, client := range clients {
			args := plainArgs(srv)
			if tc.mode != "none" {
				args = targetArgs(t, srv)
			}
			out := filepath.Join(t.TempDir(), "r.json")
			bound := srv.Bound()
			args = append(args, "--tls", tc.mode, "--client", client, "--conns", "2", "--rate", "0", "--messages", "500", "--json", out)
			code, _, errs := callRun(args...)
			if code != 0 {
				t.Errorf("run --tls %s --client %s = %d; want 0\nstderr:\n%s", tc.mode, client, code, errs)
				continue
			}
			r, err := report.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			c := r.Counts
			if c.Messages != 500 || c.Acked != 500 || c.Messages != c.Acked+c.Nacked+c.StanzaErrors+c.Unresolved+c.Lost {
				t.Errorf("run --tls %s --client %s counts: messages %d acked %d nacked %d stanza errors %d unresolved %d lost %d; want 500 acked and the identity",
					tc.mode, client, c.Messages, c.Acked, c.Nacked, c.StanzaErrors, c.Unresolved, c.Lost)
			}
			if r.Config["tls"] != tc.mode {
				t.Errorf("run --tls %s --client %s: results config tls = %v; want %q", tc.mode, client, r.Config["tls"], tc.mode)
			}
			if n := srv.Bound() - bound; n < 2 {
				t.Errorf("run --tls %s --client %s: server bound %d connections; want at least 2", tc.mode, client, n)
			}
		}
	}
}

// A server that does not speak what --tls asks for fails the run with the
// stage and the way through, never the API key.
func TestRunTLSModeRefused(t *testing.T) {
	t.Parallel()
	startTLS := badccs.Start(t, badccs.Options{StartTLS: true})
	failing := badccs.Start(t, badccs.Options{StartTLS: true, StartTLSFailure: true})
	direct := badccs.Start(t, badccs.Options{})
	for _, tc := range []struct {
		name    string
		srv     *badccs.Server
		mode    string
		trusted bool // --ca with the server's certificate
		want    []string
	}{
		{"direct to a STARTTLS port", startTLS, "direct", true,
			[]string{"TLS handshake: the server answered in plain text", "use --tls starttls"}},
		{"none to a server requiring STARTTLS", startTLS, "none", false,
			[]string{"STARTTLS negotiation: the server requires STARTTLS", "use --tls starttls"}},
		{"STARTTLS answered with <failure/>", failing, "starttls", true,
			[]string{"STARTTLS negotiation: the server answered <starttls/> with <failure/>"}},
		{"STARTTLS to an untrusted certificate", startTLS, "starttls", false,
			[]string{"TLS handshake: tls: failed to verify certificate"}},
		{"STARTTLS to a direct TLS port", direct, "starttls", true,
			[]string{"stream header: connection closed", "use --tls direct"}},
	} {
		for _, client := range clients {
			args := plainArgs(tc.srv)
			if tc.trusted {
				args = targetArgs(t, tc.srv)
			}
			code, _, errs := callRun(append(args, "--tls", tc.mode, "--client", client, "--conns", "1", "--messages", "5")...)
			ok := code == 1 && strings.Contains(errs, "could not connect to "+tc.srv.Addr())
			for _, w := range tc.want {
				ok = ok && strings.Contains(errs, w)
			}
			if !ok {
				t.Errorf("%s: run --tls %s --client %s = %d, stderr %q; want 1 and %q", tc.name, tc.mode, client, code, errs, tc.want)
			}
			if l := badccs.Leaks(errs, tc.srv.APIKey()); len(l) > 0 {
				t.Errorf("%s: run --tls %s --client %s: stderr holds the API key", tc.name, tc.mode, client)
			}
		}
	}
}

// --tls is checked with the flags it goes with: a known mode, only with
// --target, and none without any flag that configures TLS.
func TestRunTLSFlagUsage(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Plain: true})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls", "starttls", "--duration", "1s"}, "--tls applies to --target"},
		{[]string{"--tls", "tls"}, "want direct, starttls or none"},
		{append(targetArgs(t, srv), "--tls", "none"), "--tls none does not use"},
		{append(plainArgs(srv), "--tls", "none", "--insecure"), "--tls none does not use"},
		{append(plainArgs(srv), "--tls", "none", "--tls-server-name", "x"), "--tls none does not use"},
	} {
		if code, _, errs := callRun(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("run %s = %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, errs, tc.want)
		}
	}
}
