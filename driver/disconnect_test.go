package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// disconnectLog collects what OnDisconnect is given.
type disconnectLog struct {
	mu   sync.Mutex
	list []Disconnect
}

func (l *disconnectLog) add(d Disconnect) {
	l.mu.Lock()
	l.list = append(l.list, d)
	l.mu.Unlock()
}

func (l *disconnectLog) get() []Disconnect {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Disconnect(nil), l.list...)
}

// Each way a server can end a connection is counted by its cause, and the
// first of each reported once, with the server's text cut to 200
// characters.
func TestDisconnectCauses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("überlastet ", 100)
	for _, tc := range []struct {
		cause, detail string
		serve         func(c *badccs.Conn)
	}{
		{CauseStreamError + "internal-server-error", "internal-server-error: " + long[:100],
			func(c *badccs.Conn) { c.StreamError(ccs.CondInternal, long) }},
		{CauseStreamError + "system-shutdown", "system-shutdown", func(c *badccs.Conn) { c.StreamError(ccs.CondSystemShutdown, "") }},
		{CauseStreamEnd, "", func(c *badccs.Conn) { c.Write([]byte(ccs.StreamEnd)) }},
		{CauseEOF, "closed", func(c *badccs.Conn) {
			// close_notify, then the TCP close once the client closed.
			c.Conn.(interface{ CloseWrite() error }).CloseWrite()
			badccs.Hold(c)
		}},
		{CauseReset, "reset", func(c *badccs.Conn) {
			c.Raw.(*net.TCPConn).SetLinger(0)
			c.Raw.Close()
		}},
		{CauseSyntax, "malformed", func(c *badccs.Conn) { c.Write([]byte("<message><<<</message>")) }},
		{CauseOversize, "size limit", func(c *badccs.Conn) {
			c.Write([]byte("<message>" + strings.Repeat("x", ccs.DefaultMaxStanza) + "</message>"))
		}},
		{CauseTLS, "tls", func(c *badccs.Conn) { c.Raw.Write([]byte("\x17\x03\x03\x00\x20not a sealed record, not at all!")) }},
	} {
		t.Run(tc.cause, func(t *testing.T) {
			t.Parallel()
			srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
				if c.Index > 0 {
					badccs.AckAll(c) // the replacement works
					return
				}
				tc.serve(c)
				time.Sleep(50 * time.Millisecond) // let the client read it before the close
			}})
			var log disconnectLog
			cfg := badConfig(srv)
			cfg.Conns = 1
			cfg.Pacer = workload.ConstantPacer{Freq: 200}
			cfg.Duration = 300 * time.Millisecond
			cfg.ReconnectBackoff = 10 * time.Millisecond
			cfg.OnDisconnect = log.add
			res := runRaw(t, cfg)
			if got := res.Counts.Disconnects; got[tc.cause] != 1 || len(got) != 1 {
				t.Errorf("disconnects %v; want {%s: 1}", got, tc.cause)
			}
			l := log.get()
			if len(l) != 1 || l[0].Cause != tc.cause || l[0].Conn != 0 || !strings.Contains(l[0].Detail, tc.detail) {
				t.Fatalf("OnDisconnect got %+v; want one call for %s with %q in the detail", l, tc.cause, tc.detail)
			}
			if n := utf8.RuneCountInString(l[0].Detail); n > MaxDetailLen || strings.ContainsAny(l[0].Detail, "\n\r") {
				t.Errorf("detail %q: %d characters; want one line of at most %d", l[0].Detail, n, MaxDetailLen)
			}
			if err := res.Check(); err != nil {
				t.Errorf("Check = %v; want every message resent and acked", err)
			}
		})
	}
}

func TestClassifyAndKeys(t *testing.T) {
	t.Parallel()
	red := ccs.NewRedactor("42", "secret-key-123")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&ccs.StreamError{Condition: "Policy_Violation<x>"}, CauseStreamError + "policyviolationx"},
		{&ccs.StreamError{Condition: "secret-key-123"}, CauseStreamError + "redacted"},
		{&ccs.StreamError{Condition: strings.Repeat("a", 500)}, CauseStreamError + strings.Repeat("a", MaxKeyLen)},
		{&ccs.StreamError{Condition: "\x00"}, CauseStreamError + "unknown"},
		{fmt.Errorf("read: %w", errStreamEnd), CauseStreamEnd},
		{&ccs.SyntaxError{Err: ccs.ErrTooDeep}, CauseOversize},
		{&ccs.SyntaxError{Err: ccs.ErrRestricted}, CauseSyntax},
		{errors.New("something else"), CauseOther},
	} {
		if got, _ := classify(tc.err, red); got != tc.want {
			t.Errorf("classify(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"SOMETHING_NEW":                  "SOMETHING_NEW",
		"":                               "UNKNOWN",
		" \t":                            "UNKNOWN",
		"bad\ncode\x00é":                 "bad?code???",
		"pre secret-key-123 post":        "pre [REDACTED] post",
		strings.Repeat("Z", 3*MaxKeyLen): strings.Repeat("Z", MaxKeyLen),
	} {
		if got := nackKey(red, []byte(in)); got != want {
			t.Errorf("nackKey(%q) = %q; want %q", in, got, want)
		}
	}
	tl := newTally(2, "OTHER")
	for i, k := range []string{"a", "b", "c", "a", "d"} {
		counted, first := tl.add(k)
		if wantFirst := i == 0 || i == 1 || i == 2; first != wantFirst {
			t.Errorf("tally.add(%q) first = %v; want %v", k, first, wantFirst)
		}
		if (k == "c" || k == "d") != (counted == "OTHER") {
			t.Errorf("tally.add(%q) counted under %q", k, counted)
		}
	}
	if got := tl.snapshot(); len(got) != 3 || got["a"] != 2 || got["OTHER"] != 2 {
		t.Errorf("tally = %v; want a:2 b:1 OTHER:2", got)
	}
}

// A server that NACKs every message with a distinct 2 KB unknown code:
// the codes are bounded in number and length.
func TestUnknownNackCodesBounded(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
		return c.Nack(id, fmt.Sprintf("%064d%s", n, strings.Repeat("X", 2000))) == nil
	})})
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Messages = 300
	cfg.MaxRetries = -1
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Nacked != 300 || len(c.Nacks) != MaxNackKeys+1 || c.Nacks[NackOther] != 300-MaxNackKeys {
		t.Errorf("nacked %d in %d codes, %s %d; want 300 in %d codes, the rest %d under %s", c.Nacked, len(c.Nacks), NackOther, c.Nacks[NackOther], MaxNackKeys+1, 300-MaxNackKeys, NackOther)
	}
	for k := range c.Nacks {
		if len(k) > MaxKeyLen {
			t.Errorf("NACK code of %d bytes; want at most %d", len(k), MaxKeyLen)
		}
	}
}

// A server that sends the API key and its PLAIN message back, as a stream
// error's text and as NACK codes, and at the auth step: neither reaches
// the Result, the disconnect details or the errors.
func TestRedactedEverywhere(t *testing.T) {
	t.Parallel()
	const key = "AIzaSy-driver-redaction-key"
	srv := badccs.Start(t, badccs.Options{APIKey: key, Serve: func(c *badccs.Conn) {
		blob := ccs.PlainMessage("42@"+ccs.Domain, key)
		if c.Index > 0 {
			badccs.Each(func(c *badccs.Conn, n int, id string) bool {
				if n < 5 {
					return c.Nack(id, []string{key, blob, "X" + key}[n%3]) == nil
				}
				return c.Ack(id) == nil
			})(c)
			return
		}
		c.StreamError(ccs.CondInternal, "echo "+key+" "+blob)
		time.Sleep(50 * time.Millisecond)
	}})
	var log disconnectLog
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Messages = 20
	cfg.MaxRetries = -1
	cfg.ReconnectBackoff = 10 * time.Millisecond
	cfg.OnDisconnect = log.add
	res := runRaw(t, cfg)
	text := fmt.Sprintf("%+v %v", res.Counts, log.get())
	if l := badccs.Leaks(text, key, ccs.PlainMessage("42@"+ccs.Domain, key)); len(l) > 0 {
		t.Errorf("result or disconnect details hold parts of the credentials %q:\n%s", l, text)
	}
	if res.Counts.Nacks[ccs.Redacted] != 4 || res.Counts.Nacks["X"+ccs.Redacted] != 1 || !strings.Contains(text, "echo "+ccs.Redacted) {
		t.Errorf("counts %v, disconnects %v; want the echoed secrets shown as %s", res.Counts.Nacks, log.get(), ccs.Redacted)
	}

	echo := badccs.Start(t, badccs.Options{APIKey: key, AuthReply: func(plain string) string {
		return "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" +
			plain + " " + key + "</text></stream:error>"
	}})
	cfg = badConfig(echo)
	cfg.Messages = 1
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Stage != "auth" {
		t.Fatalf("Run = %v; want a *DialError at auth", err)
	}
	if l := badccs.Leaks(err.Error(), key, ccs.PlainMessage("42@"+ccs.Domain, key)); len(l) > 0 {
		t.Errorf("Run error %q holds parts of the credentials %q", err, l)
	}
}
