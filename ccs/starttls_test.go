package ccs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptEach runs serve on every connection ln accepts, each in its own
// goroutine, until ln is closed; the returned function closes ln and
// waits for them.
func acceptEach(ln net.Listener, serve func(net.Conn)) func() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	return func() { ln.Close(); wg.Wait() }
}

// plainServer is a loopback server for the client's TLS modes: it
// answers the first stream header in plain TCP with features, then plays
// reply (after reading the client's next item) and, when reply is
// <proceed/>, upgrades to TLS and runs ServerHandshake. With features
// empty it runs ServerHandshake in plain TCP at once; with direct, it
// speaks TLS from the first byte.
type plainServer struct {
	features, reply string
	direct          bool
	serverStartTLS  bool // ServerStartTLS, then ServerHandshake
}

const plainHeader = `<stream:stream from="gcm.googleapis.com" id="0123456789ABCDEF" version="1.0" xmlns:stream="` +
	NSStream + `" xmlns="` + NSClient + `">`

// start listens on loopback until the test ends; it returns the address
// and a pool that trusts the server's certificate.
func (p plainServer) start(t testing.TB) (string, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(acceptEach(ln, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		p.serve(c, tc)
	}))
	return ln.Addr().String(), pool
}

func (p plainServer) serve(c net.Conn, tc *tls.Config) {
	auth := ServerConfig{Authenticate: testAuth, Timeout: 5 * time.Second}
	switch {
	case p.serverStartTLS:
		if tconn, err := ServerStartTLS(c, tc, 5*time.Second); err == nil {
			if sc, err := ServerHandshake(tconn, auth); err == nil {
				sc.Close()
			}
		}
		return
	case p.direct:
		if sc, err := ServerHandshake(tls.Server(c, tc), auth); err == nil {
			sc.Close()
		}
		return
	case p.features == "":
		if sc, err := ServerHandshake(c, auth); err == nil {
			sc.Close()
		}
		return
	}
	f := NewFramer(c, FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != KindStreamStart {
		// As XMPP servers answer a TLS ClientHello.
		io.WriteString(c, plainHeader+string(AppendStreamError(nil, CondInvalidXML, "")))
		return
	}
	if _, err := io.WriteString(c, plainHeader+p.features); err != nil {
		return
	}
	if _, err := f.Next(); err != nil {
		return
	}
	io.WriteString(c, p.reply)
	if !strings.Contains(p.reply, "<proceed") {
		return
	}
	if sc, err := ServerHandshake(tls.Server(c, tc), auth); err == nil {
		sc.Close()
	}
}

const (
	featStartTLS    = `<stream:features><starttls xmlns="` + NSTLS + `"/><mechanisms xmlns="` + NSSASL + `"><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`
	featStartTLSReq = `<stream:features><starttls xmlns="` + NSTLS + `"><required/></starttls></stream:features>`
	featNoStartTLS  = `<stream:features><mechanisms xmlns="` + NSSASL + `"><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`
	replyProceed    = `<proceed xmlns="` + NSTLS + `"/>`
	replyFailure    = `<failure xmlns="` + NSTLS + `"/></stream:stream>`
)

// Each TLS mode completes the handshake with a server that speaks it,
// with the connection it promises under the Conn.
func TestDialTLSModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode TLSMode
		srv  plainServer
		tls  bool
	}{
		{TLSDirect, plainServer{direct: true}, true},
		{TLSStartTLS, plainServer{features: featStartTLSReq, reply: replyProceed}, true},
		{TLSStartTLS, plainServer{features: featStartTLS, reply: replyProceed}, true},
		{TLSStartTLS, plainServer{serverStartTLS: true}, true},
		{TLSNone, plainServer{}, false},
	} {
		addr, pool := tc.srv.start(t)
		c, err := Dial(context.Background(), addr, ClientConfig{SenderID: testSender, APIKey: testKey, TLSMode: tc.mode,
			TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
		if err != nil {
			t.Errorf("Dial(%v) = %v; want a bound stream", tc.mode, err)
			continue
		}
		_, isTLS := c.Conn.(*tls.Conn)
		if isTLS != tc.tls || !strings.HasPrefix(c.JID, testSender+"@gcm.googleapis.com/") {
			t.Errorf("Dial(%v) gave conn %T jid %q; want TLS %v", tc.mode, c.Conn, c.JID, tc.tls)
		}
		c.Close()
	}
}

// Every way a TLS mode can fail gives a typed *HandshakeError naming its
// stage and the way through, without the API key.
func TestDialTLSModeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mode  TLSMode
		srv   plainServer
		trust bool
		stage string
		kind  error
		says  string
	}{
		{"direct to a STARTTLS port", TLSDirect, plainServer{features: featStartTLSReq, reply: replyProceed}, true,
			"tls", ErrTLS, "use --tls starttls"},
		{"direct to ServerStartTLS", TLSDirect, plainServer{serverStartTLS: true}, true,
			"tls", ErrTLS, "use --tls starttls"},
		{"none to ServerStartTLS", TLSNone, plainServer{serverStartTLS: true}, true,
			"starttls", ErrTLSRequired, "use --tls starttls"},
		{"starttls refused", TLSStartTLS, plainServer{features: featStartTLSReq, reply: replyFailure}, true,
			"starttls", ErrStartTLSRefused, "<failure/>"},
		{"starttls not offered", TLSStartTLS, plainServer{features: featNoStartTLS, reply: replyProceed}, true,
			"starttls", ErrUnexpected, "does not offer STARTTLS on this port: if it speaks no TLS at all, use --tls none"},
		{"starttls answered otherwise", TLSStartTLS, plainServer{features: featStartTLS, reply: `<success xmlns="` + NSSASL + `"/>`}, true,
			"starttls", ErrUnexpected, "unexpected"},
		{"bytes after proceed", TLSStartTLS, plainServer{features: featStartTLS, reply: replyProceed + `<message/>`}, true,
			"starttls", ErrUnexpected, "after <proceed/>"},
		{"starttls untrusted", TLSStartTLS, plainServer{features: featStartTLS, reply: replyProceed}, false,
			"tls", ErrTLS, "certificate"},
		{"starttls to a direct TLS port", TLSStartTLS, plainServer{direct: true}, true,
			"stream", ErrClosed, "use --tls direct"},
		{"none to a direct TLS port", TLSNone, plainServer{direct: true}, true,
			"stream", ErrClosed, "use --tls direct"},
		{"none, STARTTLS required", TLSNone, plainServer{features: featStartTLSReq, reply: replyProceed}, true,
			"starttls", ErrTLSRequired, "use --tls starttls"},
		{"none, PLAIN only after STARTTLS", TLSNone, plainServer{features: featStartTLS, reply: replyProceed}, true,
			"auth", ErrUnexpected, "does not offer SASL PLAIN on a connection without TLS (it offers STARTTLS"},
	} {
		addr, pool := tc.srv.start(t)
		if !tc.trust {
			pool = x509.NewCertPool()
		}
		_, err := Dial(context.Background(), addr, ClientConfig{SenderID: testSender, APIKey: testKey, TLSMode: tc.mode,
			TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
		var he *HandshakeError
		if !errors.As(err, &he) || he.Stage != tc.stage || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Dial(%v) = %v; want a %s-stage *HandshakeError wrapping %v that says %q", tc.name, tc.mode, err, tc.stage, tc.kind, tc.says)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: Dial(%v) error %q holds the API key", tc.name, tc.mode, err)
		}
	}
}

// An unknown TLS mode is refused before anything is dialled.
func TestDialUnknownTLSMode(t *testing.T) {
	t.Parallel()
	_, err := Dial(context.Background(), "127.0.0.1:1", ClientConfig{SenderID: testSender, APIKey: testKey, TLSMode: 9})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Stage != "dial" || !errors.Is(err, ErrTLSMode) {
		t.Errorf("Dial(TLSMode 9) = %v; want a dial-stage *HandshakeError wrapping ErrTLSMode", err)
	}
}

func TestParseTLSMode(t *testing.T) {
	t.Parallel()
	for _, m := range []TLSMode{TLSDirect, TLSStartTLS, TLSNone} {
		if got, err := ParseTLSMode(m.String()); err != nil || got != m {
			t.Errorf("ParseTLSMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	for _, s := range []string{"", "tls", "STARTTLS", "plain"} {
		if _, err := ParseTLSMode(s); !errors.Is(err, ErrTLSMode) {
			t.Errorf("ParseTLSMode(%q) error = %v; want ErrTLSMode", s, err)
		}
	}
	if s := TLSMode(7).String(); s != "TLSMode(7)" {
		t.Errorf("TLSMode(7).String() = %q", s)
	}
}

// BenchmarkDialTLSModes is the cost of one connection, dial to bound
// stream, in each TLS mode against a loopback server (whose half is in
// the figure too): STARTTLS adds a stream header, the features and one
// round trip before the TLS handshake.
func BenchmarkDialTLSModes(b *testing.B) {
	for _, tc := range []struct {
		mode TLSMode
		srv  plainServer
	}{
		{TLSDirect, plainServer{direct: true}},
		{TLSStartTLS, plainServer{features: featStartTLSReq, reply: replyProceed}},
		{TLSNone, plainServer{}},
	} {
		b.Run(tc.mode.String(), func(b *testing.B) {
			addr, pool := tc.srv.start(b)
			cfg := ClientConfig{SenderID: testSender, APIKey: testKey, TLSMode: tc.mode, TLS: &tls.Config{RootCAs: pool}}
			b.ReportAllocs()
			for b.Loop() {
				c, err := Dial(context.Background(), addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// ServerStartTLS refuses a client that does not ask for STARTTLS, with
// the stream error that says why, and never reads credentials.
func TestServerStartTLSRefuses(t *testing.T) {
	t.Parallel()
	header := clientStreamHeader(Domain)
	for _, tc := range []struct {
		name, script string
		kind         error
		cond         string
	}{
		{"credentials first", header + `<auth mechanism="PLAIN" xmlns="` + NSSASL + `">` + PlainMessage(testSender, testKey) + `</auth>`, ErrUnexpected, CondNotAuthorized},
		{"a TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrMalformed, CondInvalidXML},
		{"bytes after <starttls/>", header + `<starttls xmlns="` + NSTLS + `"/><x/>`, ErrUnexpected, ""},
	} {
		cc, sc := net.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := ServerStartTLS(sc, &tls.Config{}, 2*time.Second)
			sc.Close()
			done <- err
		}()
		var out strings.Builder
		copied := make(chan struct{})
		go func() { io.Copy(&out, cc); close(copied) }()
		cc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(cc, tc.script)
		err := <-done
		<-copied
		cc.Close()
		var he *HandshakeError
		if !errors.As(err, &he) || he.Stage != "starttls" || !errors.Is(err, tc.kind) {
			t.Errorf("%s: ServerStartTLS = %v; want a starttls-stage *HandshakeError wrapping %v", tc.name, err, tc.kind)
		}
		if tc.cond != "" && !strings.Contains(out.String(), "<"+tc.cond+" ") {
			t.Errorf("%s: the server wrote %q; want the stream error %s", tc.name, out.String(), tc.cond)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error %q holds the API key", tc.name, err)
		}
	}
}
