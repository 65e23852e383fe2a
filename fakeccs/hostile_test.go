package fakeccs

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// rawTLS opens a TLS connection to srv without any XMPP.
func rawTLS(t *testing.T, srv *Server) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", srv.Addr().String(), &tls.Config{RootCAs: srv.CertPool()})
	if err != nil {
		t.Fatalf("tls.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serverVerdict reads what the server sends on a raw connection until it
// closes it, and returns the stream error condition it sent, if any.
func serverVerdict(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	fr := ccs.NewFramer(c, ccs.FramerConfig{})
	cond := ""
	for {
		st, err := fr.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server did not close the connection within %v", ioTimeout)
			}
			return cond
		}
		if st.Kind == ccs.KindStreamError {
			cond = string(st.ErrorCondition)
		}
	}
}

// hostile runs attack against srv while a connection made before it is
// used after it, and checks that new connections are served too.
func hostile(t *testing.T, srv *Server, attack func()) {
	t.Helper()
	before := dial(t, srv)
	attack()
	before.send(msg("still-served"))
	wantAck(t, before.next(), "still-served")
	witness(t, srv)
}

func TestHostileGarbageBeforeStream(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	hostile(t, srv, func() {
		c := rawTLS(t, srv)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if cond := serverVerdict(t, c); cond != ccs.CondInvalidXML {
			t.Fatalf("stream error %q; want %q", cond, ccs.CondInvalidXML)
		}
	})
	// Not even TLS: the handshake fails and the connection closes.
	raw, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "<stream:stream>garbage\r\n\r\n")
	raw.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadAll(raw); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("plain-text client: %v; want the connection closed", err)
	}
	waitStats(t, srv, "handshake failures", func(s Stats) bool { return s.HandshakeFailures == 2 })
}

const billionLaughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
	`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
	`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">` +
	`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`

func TestHostileEntityBomb(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	hostile(t, srv, func() {
		c := rawTLS(t, srv)
		io.WriteString(c, billionLaughs+`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">&lol3;`)
		if cond := serverVerdict(t, c); cond != ccs.CondRestrictedXML {
			t.Fatalf("before the stream: stream error %q; want %q", cond, ccs.CondRestrictedXML)
		}
		// After authentication, inside the stream.
		a := dial(t, srv)
		a.raw(`<!DOCTYPE x [<!ENTITY a "b">]><message>&a;</message>`)
		a.expectEnd(ccs.CondRestrictedXML)
	})
}

func TestHostileOversizedStanza(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{MaxStanza: 16 << 10})
	hostile(t, srv, func() {
		a := dial(t, srv)
		go func() { // the server stops reading; this write may never finish
			a.c.SetWriteDeadline(time.Now().Add(ioTimeout))
			io.WriteString(a.c, `<message id="big"><gcm xmlns="google:mobile:data">{"x":"`+strings.Repeat("a", 1<<20)+`"}</gcm></message>`)
		}()
		a.expectEnd(ccs.CondPolicyViolation)
	})
}

func TestHostileDeepNesting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	hostile(t, srv, func() {
		a := dial(t, srv)
		go func() {
			a.c.SetWriteDeadline(time.Now().Add(ioTimeout))
			io.WriteString(a.c, `<message>`+strings.Repeat("<a>", 200000))
		}()
		a.expectEnd(ccs.CondPolicyViolation)
	})
}

func TestHostileMalformedXMLAfterBind(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	hostile(t, srv, func() {
		a := dial(t, srv)
		a.raw(`<message><gcm xmlns="google:mobile:data">{}</message>`)
		a.expectEnd(ccs.CondInvalidXML)
		b := dial(t, srv)
		b.raw(`<enable xmlns="urn:xmpp:sm:3"/>`)
		b.expectEnd("unsupported-stanza-type")
	})
	waitStats(t, srv, "stream errors", func(s Stats) bool { return s.StreamErrors == 2 })
}

func TestHostileSilentConnections(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{AuthTimeout: 150 * time.Millisecond})
	hostile(t, srv, func() {
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // TCP only
			defer wg.Done()
			raw, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer raw.Close()
			raw.SetReadDeadline(time.Now().Add(ioTimeout))
			if _, err := raw.Read(make([]byte, 1)); err == nil {
				t.Error("silent TCP client: read data; want the connection closed")
			}
		}()
		go func() { // TLS, no stream: the server opens one to say why it closes
			defer wg.Done()
			c := rawTLS(t, srv)
			if cond := serverVerdict(t, c); cond != ccs.CondConnectionTimeout {
				t.Errorf("silent TLS client: stream error %q; want %q", cond, ccs.CondConnectionTimeout)
			}
		}()
		go func() { // a stream opened, then silence: connection-timeout
			defer wg.Done()
			c := rawTLS(t, srv)
			io.WriteString(c, `<stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`)
			if cond := serverVerdict(t, c); cond != ccs.CondConnectionTimeout {
				t.Errorf("silent stream: stream error %q; want %q", cond, ccs.CondConnectionTimeout)
			}
		}()
		wg.Wait()
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("silent connections closed after %v; want about 150ms", el)
		}
	})
	waitStats(t, srv, "3 handshake failures", func(s Stats) bool { return s.HandshakeFailures == 3 })
}

func TestHostileWrongKeyFlood(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	const n = 40
	hostile(t, srv, func() {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := tls.Dial("tcp", srv.Addr().String(), &tls.Config{RootCAs: srv.CertPool()})
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				creds := base64.StdEncoding.EncodeToString([]byte("\x00" + srv.cfg.SenderID + "@gcm.googleapis.com\x00wrong-key"))
				io.WriteString(c, `<stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`+
					`<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">`+creds+`</auth>`)
				c.SetReadDeadline(time.Now().Add(ioTimeout))
				fr := ccs.NewFramer(c, ccs.FramerConfig{})
				failed := false
				for {
					st, err := fr.Next()
					if err != nil {
						break
					}
					if st.Kind == ccs.KindFailure && string(st.Child) == "not-authorized" {
						failed = true
					}
				}
				if !failed {
					t.Error("wrong key: no <failure><not-authorized/></failure>")
				}
			}()
		}
		wg.Wait()
	})
	st := waitStats(t, srv, "refused logins", func(s Stats) bool { return s.AuthFailures == n })
	if st.Connections != 2 {
		t.Fatalf("connections %d; want only the 2 good ones", st.Connections)
	}
}

func TestHostileBrokenJSON(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	hostile(t, srv, func() {
		a := dial(t, srv)
		for _, p := range []string{
			`{"to":"x","message_id":"a",}`,
			`{"to":"x","message_id":"a"}}`,
			`{"to":"x","message_id":"b","data":` + strings.Repeat("[", 10000) + "}",
			`{"message_id":"c","data":{"k":"\u12"}}`,
			`{"message_id":"d","to":"x","time_to_live":1e999999}`,
			``,
		} {
			a.send(p)
			it := a.next()
			if it.Type != "error" && it.JSON["message_type"] != "nack" {
				t.Fatalf("payload %.40q: got %+v; want a stanza error or NACK", p, it)
			}
		}
	})
}

func TestHostileClientNeverReads(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{}, func(s *Server) { s.writeTimeout = 100 * time.Millisecond })
	hostile(t, srv, func() {
		a := dial(t, srv)
		stanzas := messageStream(20000, "")
		go func() { // writes until the server stops reading; the answers are never read
			for range 20 {
				a.c.SetWriteDeadline(time.Now().Add(ioTimeout))
				if _, err := a.c.Write(stanzas); err != nil {
					return
				}
			}
		}()
		waitStats(t, srv, "the connection closed", func(s Stats) bool { return s.Connections == 2 && s.ActiveConnections == 1 })
	})
}
