package main

// Tests of run against targets that misbehave (internal/badccs) or that
// refuse it: what the run says, counts and writes.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/report"
)

// targetArgs are the flags that aim a run at a badccs server.
func targetArgs(t *testing.T, srv *badccs.Server) []string {
	t.Helper()
	return []string{"--target", srv.Addr(), "--sender-id", srv.SenderID(), "--api-key", srv.APIKey(), "--ca", writeCA(t, certPEM(t, srv)), "--progress=false"}
}

// writeCA writes a certificate for --ca into a temporary file, and
// returns its path.
func writeCA(t *testing.T, pem []byte) string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// certPEM returns the server's certificate in PEM.
func certPEM(t *testing.T, srv *badccs.Server) []byte {
	t.Helper()
	pem := srv.CertPEM()
	if len(pem) == 0 {
		t.Fatal("badccs: no certificate")
	}
	return pem
}

// A target that kills every connection with a stream error: the run says
// so, once, as it happens; the summary and the files count it by cause;
// the warning about unsent messages names the failing connections, not a
// slow target.
func TestRunDisconnectsReported(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
		c.StreamError(ccs.CondInternal, "overloaded, try later")
		time.Sleep(20 * time.Millisecond)
	}})
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	md := filepath.Join(dir, "r.md")
	// The exit status depends on whether a message was on a connection
	// when it died (then it is unresolved or lost): not tested here.
	_, out, errs := callRun(append(targetArgs(t, srv), "--conns", "2", "--window", "10", "--rate", "2000", "--duration", "1s",
		"--drain-timeout", "300ms", "--json", path, "--md", md)...)
	if n := strings.Count(errs, "ended (stream_error:internal-server-error)"); n != 1 || !strings.Contains(errs, "overloaded, try later") {
		t.Errorf("stderr reports the stream error %d times; want once, with the server's text:\n%s", n, errs)
	}
	if !strings.Contains(errs, "never sent: connections kept failing") || strings.Contains(errs, "saturated") {
		t.Errorf("stderr does not name the failing connections as the cause of unsent messages:\n%s", errs)
	}
	if !strings.Contains(out, "disconnect cause") || !strings.Contains(out, "│ disconnects ") {
		t.Errorf("summary lacks the disconnects:\n%s", out)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Counts.Disconnects["stream_error:internal-server-error"]; n < 2 || n != r.Counts.DisconnectTotal() {
		t.Errorf("disconnects %v; want every one a stream error", r.Counts.Disconnects)
	}
	if b, _ := os.ReadFile(md); !strings.Contains(string(b), "### Disconnects by cause") {
		t.Errorf("markdown lacks the disconnects by cause")
	}
}

// A target that echoes the API key and its SASL PLAIN message, at the
// auth step and during the run (a stream error's text, NACK codes): they
// appear in no output, file or error.
func TestRunRedactsEchoedCredentials(t *testing.T) {
	t.Parallel()
	const key = "AIzaSy-cli-echo-key-7731"
	blob := ccs.PlainMessage("42@"+ccs.Domain, key)
	check := func(t *testing.T, what, text string) {
		t.Helper()
		if l := badccs.Leaks(text, key, blob); len(l) > 0 {
			t.Errorf("%s holds parts of the credentials (%q):\n%s", what, l, text)
		}
	}

	echo := badccs.Start(t, badccs.Options{APIKey: key, AuthReply: func(plain string) string {
		return `<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">` +
			plain + " " + key + `</text></stream:error><x>` + plain + key + `</x>`
	}})
	code, out, errs := callRun(append(targetArgs(t, echo), "--duration", "1s")...)
	if code != 1 || !strings.Contains(errs, "auth") || !strings.Contains(errs, ccs.Redacted) {
		t.Errorf("run = %d, stderr %q; want 1, the auth stage named and the echo redacted", code, errs)
	}
	check(t, "output", out+errs)

	srv := badccs.Start(t, badccs.Options{APIKey: key, Serve: func(c *badccs.Conn) {
		if c.Index == 0 {
			c.StreamError(ccs.CondInternal, "echo "+key+" "+blob)
			time.Sleep(20 * time.Millisecond)
			return
		}
		badccs.Each(func(c *badccs.Conn, n int, id string) bool {
			if n < 4 {
				return c.Nack(id, []string{key, blob}[n%2]) == nil
			}
			return c.Ack(id) == nil
		})(c)
	}})
	dir := t.TempDir()
	files := map[string]string{"--json": "r.json", "--md": "r.md", "--html": "r.html"}
	args := append(targetArgs(t, srv), "--conns", "1", "--rate", "200", "--duration", "500ms", "--max-retries", "0")
	for flag, name := range files {
		args = append(args, flag, filepath.Join(dir, name))
	}
	code, out, errs = callRun(args...)
	if code != 0 || !strings.Contains(out, "│ "+ccs.Redacted+" ") {
		t.Errorf("run = %d; want 0, and the NACK codes that were credentials shown as %s\nstdout:\n%s\nstderr:\n%s", code, ccs.Redacted, out, errs)
	}
	check(t, "output", out+errs)
	if !strings.Contains(errs, "echo "+ccs.Redacted+" "+ccs.Redacted) {
		t.Errorf("the stream error's text is not shown with %s:\n%s", ccs.Redacted, errs)
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		check(t, name, string(b))
	}
}

// Messages lost with their connections fail the run, unless allowed.
func TestRunLostFailsUnlessAllowed(t *testing.T) {
	t.Parallel()
	// Takes one message per connection and closes it: the three messages
	// sent together are lost with it, twice.
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) { c.Next() }})
	args := append(targetArgs(t, srv), "--conns", "1", "--rate", "0", "--messages", "3", "--max-resends", "1", "--drain-timeout", "5s")
	code, _, errs := callRun(args...)
	if code != 1 || !strings.Contains(errs, "3 of 3 messages were lost") || !strings.Contains(errs, "--allow-lost") {
		t.Errorf("run = %d, stderr %q; want 1, naming the lost messages and --allow-lost", code, errs)
	}
	if code, _, errs := callRun(append(args, "--allow-lost", "3")...); code != 0 {
		t.Errorf("run --allow-lost 3 = %d, stderr %q; want 0", code, errs)
	}
}

// A target that NACKs with a distinct 2 KB code each time: the summary
// stays small and readable.
func TestRunHostileNackCodes(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
		return c.Nack(id, fmt.Sprintf("CODE_%d_%s", n, strings.Repeat("y", 2000))) == nil
	})})
	path := filepath.Join(t.TempDir(), "r.json")
	code, out, errs := callRun(append(targetArgs(t, srv), "--conns", "1", "--rate", "0", "--messages", "500", "--max-retries", "0", "--json", path)...)
	if code != 0 {
		t.Errorf("run = %d; want 0\nstderr:\n%s", code, errs)
	}
	if len(out) > 12_000 {
		t.Errorf("summary is %d bytes; want a short one:\n%.2000s", len(out), out)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); len(r.Counts.Nacks) != driver.MaxNackKeys+1 || r.Counts.Nacks[driver.NackOther] != 500-driver.MaxNackKeys || st.Size() > 30_000 {
		t.Errorf("results file of %d bytes with %d NACK codes, %d under %s; want a small file, %d codes and the rest under %s",
			st.Size(), len(r.Counts.Nacks), r.Counts.Nacks[driver.NackOther], driver.NackOther, driver.MaxNackKeys+1, driver.NackOther)
	}
}

// Results files of runs against a target that drops connections carry
// every new count and timeline field; merge sums them exactly, compare
// and report show them.
func TestMergeCompareReportNewCounts(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
		if n == 150 {
			c.StreamError(ccs.CondSystemShutdown, "")
			time.Sleep(20 * time.Millisecond)
			return false
		}
		if n%50 == 0 {
			c.Ack(id) // a duplicate: a stray
		}
		return c.Ack(id) == nil
	})})
	dir := t.TempDir()
	var paths []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		paths = append(paths, p)
		code, _, errs := callRun(append(targetArgs(t, srv), "--conns", "2", "--rate", "1000", "--duration", "1s", "--interval", "250ms", "--json", p)...)
		if code != 0 {
			t.Fatalf("run = %d, stderr %q", code, errs)
		}
	}
	var rs []*report.Result
	for _, p := range paths {
		r, err := report.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts.Disconnects["stream_error:system-shutdown"] == 0 || r.Counts.Strays == 0 || r.Counts.StrayKinds["duplicate"] != r.Counts.Strays {
			t.Errorf("%s: counts %+v; want disconnects and duplicate strays", p, r.Counts)
		}
		rs = append(rs, r)
	}
	merged := filepath.Join(dir, "m.json")
	if code, _, errs := callCmd(mergeCmd, paths[0], paths[1], "-o", merged); code != 0 {
		t.Fatalf("merge = %d, stderr %q", code, errs)
	}
	m, err := report.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	a, b := rs[0].Counts, rs[1].Counts
	if m.Counts.Strays != a.Strays+b.Strays || m.Counts.DisconnectTotal() != a.DisconnectTotal()+b.DisconnectTotal() ||
		m.Counts.Lost != a.Lost+b.Lost || m.Counts.Reconnects != a.Reconnects+b.Reconnects {
		t.Errorf("merged counts %+v; want the sums of %+v and %+v", m.Counts, a, b)
	}
	var disc, tlDisc uint64
	for _, r := range rs {
		for _, pt := range r.Timeline {
			disc += pt.Disconnects
		}
	}
	for _, pt := range m.Timeline {
		tlDisc += pt.Disconnects
		if pt.PendingPeak < pt.Pending {
			t.Errorf("merged point %+v: peak below the end count", pt)
		}
	}
	if tlDisc != disc || disc == 0 {
		t.Errorf("merged timeline holds %d disconnects; want the runs' %d", tlDisc, disc)
	}
	code, out, errs := callCmd(compareCmd, "--max-rate-drop", "off", "--max-p99-rise", "off", paths[0], paths[1])
	if code != 0 || !strings.Contains(out, "disconnects") || !strings.Contains(out, "strays") || !strings.Contains(out, "lost") {
		t.Errorf("compare = %d, stderr %q; want the counts compared:\n%s", code, errs, out)
	}
	if code, out, _ := callCmd(reportCmd, merged); code != 0 || !strings.Contains(out, "stream_error:system-shutdown") || !strings.Contains(out, "│ strays ") {
		t.Errorf("report of the merge = %d; want the disconnects and strays:\n%s", code, out)
	}
}

// A connection that cannot be made fails the run with one sentence: which
// connection of how many, which target, the handshake stage and why, with
// no package prefixes.
func TestRunConnectError(t *testing.T) {
	t.Parallel()
	srv := fakeccstest.Start(t, fakeccs.Config{SenderID: "42", APIKey: "right-key"})
	addr := regexp.QuoteMeta(srv.Addr())
	for _, tc := range []struct {
		args []string
		want string
	}{
		// The fake's self-signed certificate is not in the system's roots.
		{[]string{"--api-key", "right-key"}, `^ccsbench run: connection [12] of 2 could not connect to ` + addr + `: TLS handshake: tls: failed to verify certificate: x509: .+\n$`},
		{[]string{"--api-key", "wrong-key", "--insecure"}, `^ccsbench run: connection [12] of 2 could not connect to ` + addr + `: SASL authentication: refused \(not-authorized\) for 42@gcm\.googleapis\.com \(a wrong --api-key or --sender-id is refused so; if the target is a standard XMPP server rather than CCS, it may want the sender id alone as the SASL user: --sasl-user local\)\n$`},
	} {
		args := append([]string{"--target", srv.Addr(), "--sender-id", "42", "--conns", "2", "--duration", "1s", "--progress=false"}, tc.args...)
		code, _, errs := callRun(args...)
		if code != 1 || !regexp.MustCompile(tc.want).MatchString(errs) {
			t.Errorf("run %q = %d, stderr %q; want 1 and one line matching %s", tc.args, code, errs, tc.want)
		}
	}
}
