package main

// Tests of run against a standard XMPP server that does not speak CCS
// (internal/badccs in XMPP mode, which answers as Prosody did): what the
// run says and counts, with both clients.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/report"
)

// A standard XMPP server refuses SENDER@DOMAIN as a SASL user name: the
// run says with which identity and points at --sasl-user local, with
// which both clients get through its handshake (XML declaration,
// xml:lang, PLAIN offered last, extra stream features).
func TestRunXMPPServerIdentity(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{XMPP: true, Serve: badccs.Hold})
	for _, client := range []string{"native", "mellium"} {
		args := append(targetArgs(t, srv), "--client", client, "--conns", "2", "--messages", "10", "--drain-timeout", "200ms")
		code, _, errs := callRun(args...)
		want := `could not connect to .*: SASL authentication: refused \((malformed-request|Invalid username or password\.)\) for 42@gcm\.googleapis\.com \(.*--sasl-user local\)\n$`
		if code != 1 || !regexp.MustCompile(want).MatchString(errs) {
			t.Errorf("run --client %s = %d, stderr %q; want 1 and a line matching %s", client, code, errs, want)
		}
		code, _, errs = callRun(append(args, "--sasl-user", "local")...)
		want = `the target authenticated but answered none of 10 messages with an ACK or NACK: it does not look like a CCS server`
		if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "10 of 10 messages were unresolved") {
			t.Errorf("run --client %s --sasl-user local = %d, stderr %q; want 1, %q and the unresolved count", client, code, errs, want)
		}
	}
	if n := srv.Bound(); n != 4 {
		t.Errorf("server bound %d connections; want 4 (2 per client with --sasl-user local)", n)
	}
}

// A standard XMPP server bounces every message with a stanza error that
// carries no payload: both clients count the bounces by condition, as
// strays (they name no message), and the run says that the target looks
// like an XMPP server rather than CCS, and fails (the messages are
// unresolved).
func TestRunXMPPServerBounces(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{XMPP: true, Serve: badccs.Bounce})
	for _, client := range []string{"native", "mellium"} {
		out := filepath.Join(t.TempDir(), "r.json")
		args := append(targetArgs(t, srv), "--client", client, "--sasl-user", "local", "--conns", "2", "--messages", "20",
			"--drain-timeout", "300ms", "--json", out)
		code, _, errs := callRun(args...)
		want := "it bounced 20 with stanza errors that name no message (service-unavailable 20): it looks like a standard XMPP server, not a CCS server"
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("run --client %s = %d, stderr %q; want 1 and %q", client, code, errs, want)
		}
		c := resultCounts(t, out)
		if c.StrayKinds["no_id"] != 20 || c.ErrorConditions["service-unavailable"] != 20 || c.Unresolved != 20 || c.StanzaErrors != 0 {
			t.Errorf("--client %s counts: no_id strays %d, service-unavailable %d, unresolved %d, stanza errors %d; want 20, 20, 20, 0",
				client, c.StrayKinds["no_id"], c.ErrorConditions["service-unavailable"], c.Unresolved, c.StanzaErrors)
		}
	}
}

// A port that answers a TLS ClientHello in plain XML (a STARTTLS or
// plaintext XMPP port, as Prosody's port 5222): both clients say so and
// name the way out, instead of only "first record does not look like a
// TLS handshake".
func TestRunPlainTextPort(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{PlainText: "<?xml version='1.0'?><stream:stream xmlns='jabber:client' version='1.0' " +
		"xmlns:stream='http://etherx.jabber.org/streams'><stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"})
	for _, client := range []string{"native", "mellium"} {
		code, _, errs := callRun(append(targetArgs(t, srv), "--client", client, "--conns", "1", "--messages", "5")...)
		want := `TLS handshake: the server answered in plain text \("<\?xml"\.\.\.\), not TLS: this looks like an XMPP port that expects STARTTLS or no TLS`
		if code != 1 || !regexp.MustCompile(want).MatchString(errs) {
			t.Errorf("run --client %s = %d, stderr %q; want 1 and a line matching %s", client, code, errs, want)
		}
	}
}

// ejabberd takes SENDER@DOMAIN as the SASL identity and bounces every
// message (which has no "to", so goes to the user's own bare JID, where
// no resource is available) with a service-unavailable stanza error that
// keeps the gcm payload: each message ends as a stanza error. With not
// one ACK or NACK the run has measured nothing a CCS server does, so it
// says, as it does when Prosody bounces without the payload, that the
// target looks like a standard XMPP server, and fails, with both clients
// and both SASL identity forms.
func TestRunEjabberdBounces(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{XMPP: true, Ejabberd: true, Serve: badccs.BounceEcho})
	for _, client := range []string{"native", "mellium"} {
		for _, user := range []string{"full", "local"} {
			out := filepath.Join(t.TempDir(), "r.json")
			args := append(targetArgs(t, srv), "--client", client, "--sasl-user", user, "--conns", "2", "--messages", "20",
				"--drain-timeout", "2s", "--json", out)
			code, _, errs := callRun(args...)
			want := "it refused 20 with stanza errors that echo the message (service-unavailable 20): it looks like a standard XMPP server that could not route them, not a CCS server"
			if code != 1 || !strings.Contains(errs, want) {
				t.Errorf("run --client %s --sasl-user %s = %d, stderr %q; want 1 and %q", client, user, code, errs, want)
			}
			c := resultCounts(t, out)
			if c.StanzaErrors != 20 || c.ErrorConditions["service-unavailable"] != 20 || c.Unresolved != 0 || c.Strays != 0 {
				t.Errorf("--client %s --sasl-user %s counts: stanza errors %d, service-unavailable %d, unresolved %d, strays %d; want 20, 20, 0, 0",
					client, user, c.StanzaErrors, c.ErrorConditions["service-unavailable"], c.Unresolved, c.Strays)
			}
		}
	}
}

// ejabberd answers a stream header to a host it does not serve with a
// bare host-unknown stream error (Prosody adds a text that names the
// host): the run names the domain it asked for and the flag that picks
// it, with both clients.
func TestRunEjabberdHostUnknown(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{XMPP: true, Ejabberd: true, Serve: badccs.BounceEcho})
	for _, client := range []string{"native", "mellium"} {
		code, _, errs := callRun(append(targetArgs(t, srv), "--client", client, "--conns", "1", "--messages", "5", "--login-domain", "fcm")...)
		want := "stream header: stream error from peer: host-unknown (the target does not serve fcm.googleapis.com, the domain the stream header names: --login-domain picks gcm or fcm)"
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("run --client %s --login-domain fcm = %d, stderr %q; want 1 and %q", client, code, errs, want)
		}
	}
}

// ejabberd takes SENDER@DOMAIN, so when it refuses that identity the
// cause is the credentials, not the form of the user name: the hint after
// a refusal names a wrong --api-key or --sender-id before --sasl-user
// local, with both clients.
func TestRunEjabberdWrongKey(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{XMPP: true, Ejabberd: true, Serve: badccs.BounceEcho})
	for _, client := range []string{"native", "mellium"} {
		args := append(targetArgs(t, srv), "--client", client, "--conns", "1", "--messages", "5", "--api-key", "wrong-key")
		code, _, errs := callRun(args...)
		want := `SASL authentication: refused \((not-authorized|Invalid username or password)\) for 42@gcm\.googleapis\.com ` +
			`\(a wrong --api-key or --sender-id is refused so; if the target is a standard XMPP server rather than CCS, it may want the sender id alone as the SASL user: --sasl-user local\)\n$`
		if code != 1 || !regexp.MustCompile(want).MatchString(errs) {
			t.Errorf("run --client %s --api-key wrong-key = %d, stderr %q; want 1 and a line matching %s", client, code, errs, want)
		}
	}
}

// resultCounts reads the counts of the results file at path.
func resultCounts(t *testing.T, path string) report.Counts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("results file %s: %v", path, err)
	}
	return r.Counts
}
