package ccs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSender = "123456789012"
	testKey    = "AIzaSy-secret-key-never-printed"
)

func testAuth(identity, password string) bool {
	return SenderOf(identity) == testSender && password == testKey
}

// serve runs ServerHandshake on one end of a pipe and reports its result.
func serve(t *testing.T, c net.Conn, cfg ServerConfig) <-chan serverResult {
	t.Helper()
	if cfg.Authenticate == nil {
		cfg.Authenticate = testAuth
	}
	ch := make(chan serverResult, 1)
	go func() {
		sc, err := ServerHandshake(c, cfg)
		ch <- serverResult{sc, err}
	}()
	return ch
}

type serverResult struct {
	sc  *ServerConn
	err error
}

var jidRE = regexp.MustCompile(`^123456789012@gcm\.googleapis\.com/r1[0-9A-F]{8}$`)

func TestHandshakePipe(t *testing.T) {
	t.Parallel()
	for _, session := range []bool{false, true} {
		cc, sc := net.Pipe()
		defer cc.Close()
		defer sc.Close()
		srv := make(chan serverResult, 1)
		go func() {
			r, err := ServerHandshake(sc, ServerConfig{Authenticate: testAuth})
			if err == nil && session {
				// The session IQ comes after the server half returns: answer
				// it as the fake's stanza loop does.
				st, nerr := r.Framer.Next()
				if nerr != nil || st.Kind != KindIQ || string(st.ChildSpace) != NSSession {
					err = fmt.Errorf("after bind got %v, %v; want the session IQ", st, nerr)
				} else {
					_, err = r.Write(AppendIQResult(nil, st.ID))
				}
			}
			srv <- serverResult{r, err}
		}()
		c, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: testSender, APIKey: testKey, Resource: "r1", Session: session})
		if err != nil {
			t.Fatalf("ClientHandshake(session=%v): %v", session, err)
		}
		r := <-srv
		if r.err != nil {
			t.Fatalf("ServerHandshake: %v", r.err)
		}
		if !jidRE.MatchString(c.JID) || c.JID != r.sc.JID {
			t.Errorf("JID client %q server %q; want resource r1 + 8 hex characters", c.JID, r.sc.JID)
		}
		if r.sc.SenderID != testSender {
			t.Errorf("SenderID = %q; want %q", r.sc.SenderID, testSender)
		}
		if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(c.StreamID) {
			t.Errorf("StreamID = %q; want 16 upper-case hex characters", c.StreamID)
		}
	}
}

// scripted plays a client from raw strings and returns everything the
// server wrote.
func scripted(t *testing.T, cfg ServerConfig, script ...string) (string, error) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	srv := serve(t, sc, cfg)
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(&out, cc)
	}()
	for _, s := range script {
		cc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(cc, s); err != nil {
			break
		}
	}
	r := <-srv
	if r.err == nil {
		r.sc.Close()
	}
	wg.Wait()
	return out.String(), r.err
}

func plain(identity, password string) string {
	return `<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">` +
		base64.StdEncoding.EncodeToString([]byte("\x00"+identity+"\x00"+password)) + `</auth>`
}

const hdr = `<stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`

func TestServerHandshakeIdentities(t *testing.T) {
	t.Parallel()
	const gcm, fcm = "gcm.googleapis.com", "fcm.googleapis.com"
	header := func(to string) string {
		return `<stream:stream to="` + to + `" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`
	}
	tests := []struct {
		to, identity       string
		from1, from2, jidD string // the two headers' from, the bound JID's domain
	}{
		{gcm, testSender, gcm, gcm, gcm},
		{gcm, testSender + "@" + gcm, gcm, gcm, gcm},
		{fcm, testSender + "@" + fcm, fcm, fcm, fcm},
		{fcm, testSender, fcm, fcm, fcm},
		{"FCM.googleapis.COM", testSender + "@FCM.GOOGLEAPIS.COM", fcm, fcm, fcm},
		{gcm, testSender + "@" + fcm, gcm, gcm, fcm}, // each header answered from the domain it names
		{"fcm-xmpp.googleapis.com", testSender, gcm, gcm, gcm},
	}
	for _, tt := range tests {
		out, err := scripted(t, ServerConfig{}, header(tt.to), plain(tt.identity, testKey), header(tt.to),
			`<iq type="set" id="b"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>x</resource></bind></iq>`)
		if err != nil {
			t.Fatalf("to %q identity %q: ServerHandshake: %v", tt.to, tt.identity, err)
		}
		for _, want := range []string{"<mechanism>X-OAUTH2</mechanism><mechanism>X-GOOGLE-TOKEN</mechanism><mechanism>PLAIN</mechanism>",
			`<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>`, `<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>`,
			`<jid>123456789012@` + tt.jidD + `/x`} {
			if !strings.Contains(out, want) {
				t.Errorf("to %q identity %q: server output lacks %q:\n%s", tt.to, tt.identity, want, out)
			}
		}
		froms := regexp.MustCompile(`<stream:stream from="([^"]*)" id="`).FindAllStringSubmatch(out, -1)
		if len(froms) != 2 || froms[0][1] != tt.from1 || froms[1][1] != tt.from2 {
			t.Errorf("to %q identity %q: stream headers from %q; want %q then %q", tt.to, tt.identity, froms, tt.from1, tt.from2)
		}
	}
	for _, id := range []string{testSender + "@example.com", testSender + "@fcm.googleapis.com.evil", "x" + testSender} {
		out, err := scripted(t, ServerConfig{}, hdr, plain(id, testKey))
		if !errors.Is(err, ErrAuthRefused) || !strings.Contains(out, "<not-authorized/>") {
			t.Errorf("identity %q: ServerHandshake = %v, output %q; want it refused", id, err, out)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("identity %q: error %q contains the API key", id, err)
		}
	}
}

func TestSenderOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"42", "42"}, {"42@gcm.googleapis.com", "42"}, {"42@fcm.googleapis.com", "42"}, {"42@GCM.googleapis.com", "42"},
		{"42@example.com", "42@example.com"}, {"a@b@fcm.googleapis.com", "a@b"}, {"", ""},
	} {
		if got := SenderOf(tt.in); got != tt.want {
			t.Errorf("SenderOf(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// recordingConn keeps a copy of everything read through it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got.String()
}

func TestClientLoginDomain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sender, domain     string
		bare               bool
		wantTo, wantIdent  string
		wantJID, wantSrvDm string
	}{
		{testSender, "", false, "gcm.googleapis.com", testSender + "@gcm.googleapis.com", "@gcm.googleapis.com/", Domain},
		{testSender, FCMDomain, false, "fcm.googleapis.com", testSender + "@fcm.googleapis.com", "@fcm.googleapis.com/", FCMDomain},
		{testSender + "@fcm.googleapis.com", "", false, "fcm.googleapis.com", testSender + "@fcm.googleapis.com", "@fcm.googleapis.com/", FCMDomain},
		// BareIdentity: the local part alone, as standard XMPP servers
		// want it; the stream still names the login domain.
		{testSender, "", true, "gcm.googleapis.com", testSender, "@gcm.googleapis.com/", Domain},
		{testSender, FCMDomain, true, "fcm.googleapis.com", testSender, "@fcm.googleapis.com/", FCMDomain},
		{testSender + "@fcm.googleapis.com", "", true, "fcm.googleapis.com", testSender, "@fcm.googleapis.com/", FCMDomain},
	}
	for _, tt := range tests {
		cc, sc := net.Pipe()
		rec := &recordingConn{Conn: sc}
		srv := serve(t, rec, ServerConfig{})
		c, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: tt.sender, LoginDomain: tt.domain, BareIdentity: tt.bare, APIKey: testKey})
		if err != nil {
			t.Fatalf("ClientHandshake(%q, LoginDomain %q): %v", tt.sender, tt.domain, err)
		}
		r := <-srv
		if r.err != nil {
			t.Fatalf("ServerHandshake: %v", r.err)
		}
		got := rec.String()
		if n := strings.Count(got, `<stream:stream to="`+tt.wantTo+`" `); n != 2 {
			t.Errorf("LoginDomain %q: client sent %d stream headers to %q:\n%s", tt.domain, n, tt.wantTo, got)
		}
		m := regexp.MustCompile(`<auth mechanism="PLAIN" [^>]*>([^<]*)</auth>`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("no auth in %q", got)
		}
		creds, _ := base64.StdEncoding.DecodeString(m[1])
		if want := "\x00" + tt.wantIdent + "\x00" + testKey; string(creds) != want {
			t.Errorf("LoginDomain %q: PLAIN credentials %q; want %q", tt.domain, creds, want)
		}
		if !strings.HasPrefix(c.JID, testSender+tt.wantJID) || r.sc.Domain != tt.wantSrvDm || r.sc.SenderID != testSender {
			t.Errorf("LoginDomain %q: JID %q, server domain %q sender %q; want %s%s..., %s, %s",
				tt.domain, c.JID, r.sc.Domain, r.sc.SenderID, testSender, tt.wantJID, tt.wantSrvDm, testSender)
		}
		cc.Close()
		sc.Close()
	}
}

func TestHandshakeWrongKey(t *testing.T) {
	t.Parallel()
	cc, sc := net.Pipe()
	defer cc.Close()
	srv := serve(t, sc, ServerConfig{})
	_, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: testSender, APIKey: "wrong-key"})
	if !errors.Is(err, ErrAuthRefused) {
		t.Fatalf("ClientHandshake with a wrong key = %v; want ErrAuthRefused", err)
	}
	var he *HandshakeError
	if !errors.As(err, &he) || he.Stage != "auth" {
		t.Errorf("error %v; want a *HandshakeError at stage auth", err)
	}
	if strings.Contains(err.Error(), "wrong-key") {
		t.Errorf("error %q contains the API key", err)
	}
	if r := <-srv; !errors.Is(r.err, ErrAuthRefused) {
		t.Errorf("ServerHandshake = %v; want ErrAuthRefused", r.err)
	}
	out, _ := scripted(t, ServerConfig{}, hdr, plain(testSender, "nope"))
	if !strings.Contains(out, `<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/></failure>`) {
		t.Errorf("server output on a wrong key lacks <failure><not-authorized/>:\n%s", out)
	}
}

func TestServerHandshakeHostile(t *testing.T) {
	t.Parallel()
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` + hdr + `<message>&lol3;</message>`
	tests := []struct {
		name   string
		script []string
		want   string
	}{
		{"garbage", []string{"GET / HTTP/1.1\r\n\r\n"}, "<invalid-xml "},
		{"billion laughs", []string{laughs}, "<restricted-xml "},
		{"pi after prolog", []string{hdr, `<?evil?>`}, "<restricted-xml "},
		{"stanza before auth", []string{hdr, `<message><body>x</body></message>`}, "<not-authorized "},
		{"oversized", []string{hdr, `<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">` + strings.Repeat("A", 100<<10)}, "<policy-violation "},
		{"deep", []string{hdr, strings.Repeat("<a>", 1000)}, "<policy-violation "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			out, err := scripted(t, ServerConfig{Timeout: 5 * time.Second}, tt.script...)
			if err == nil {
				t.Fatalf("ServerHandshake accepted %s", tt.name)
			}
			if !strings.Contains(out, tt.want) || !strings.HasSuffix(out, StreamEnd) {
				t.Errorf("server output = %q; want a stream error %s and the stream closed", out, tt.want)
			}
			if !strings.HasPrefix(out, "<stream:stream ") {
				t.Errorf("server output = %q; want its stream header before the error", out)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("refusing %s took %v", tt.name, d)
			}
		})
	}
}

func TestServerHandshakeTimeout(t *testing.T) {
	t.Parallel()
	out, err := scripted(t, ServerConfig{Timeout: 50 * time.Millisecond}, hdr)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent client: ServerHandshake = %v; want ErrTimeout", err)
	}
	if !strings.Contains(out, "<connection-timeout ") {
		t.Errorf("server output = %q; want connection-timeout", out)
	}
}

func TestClientHandshakeTimeout(t *testing.T) {
	t.Parallel()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	go io.Copy(io.Discard, sc) // a server that never answers
	start := time.Now()
	_, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: testSender, APIKey: testKey, Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("ClientHandshake against a silent server = %v; want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestClientStreamError(t *testing.T) {
	t.Parallel()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	go func() {
		buf := make([]byte, 512)
		sc.Read(buf)
		io.WriteString(sc, `<stream:stream from="gcm.googleapis.com" id="0011223344556677" version="1.0" xmlns:stream="`+NSStream+`" xmlns="jabber:client">`+
			string(AppendStreamError(nil, CondSystemShutdown, "bye")))
	}()
	_, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: testSender, APIKey: testKey, Timeout: 2 * time.Second})
	var se *StreamError
	if !errors.As(err, &se) || se.Condition != CondSystemShutdown || se.Text != "bye" {
		t.Fatalf("ClientHandshake = %v; want a *StreamError system-shutdown", err)
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ccs test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestDialTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer acceptEach(ln, func(c net.Conn) {
		if sc, err := ServerHandshake(c, ServerConfig{Authenticate: testAuth, Timeout: 2 * time.Second}); err == nil {
			sc.Close()
		}
	})()
	addr := ln.Addr().String()
	ctx := context.Background()
	c, err := Dial(ctx, addr, ClientConfig{SenderID: testSender, APIKey: testKey, TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if _, ok := c.Conn.(*tls.Conn); !ok || !strings.HasPrefix(c.JID, testSender+"@gcm.googleapis.com/") {
		t.Errorf("Dial gave conn %T jid %q", c.Conn, c.JID)
	}
	c.Close()

	_, err = Dial(ctx, addr, ClientConfig{SenderID: testSender, APIKey: testKey, TLS: &tls.Config{RootCAs: x509.NewCertPool()}, Timeout: 2 * time.Second})
	if !errors.Is(err, ErrTLS) {
		t.Errorf("Dial with an untrusted certificate = %v; want ErrTLS", err)
	}
	_, err = Dial(ctx, addr, ClientConfig{SenderID: testSender, APIKey: "bad", TLS: &tls.Config{RootCAs: pool}, Timeout: 2 * time.Second})
	if !errors.Is(err, ErrAuthRefused) {
		t.Errorf("Dial with a wrong key = %v; want ErrAuthRefused", err)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	_, err = Dial(ctx, deadAddr, ClientConfig{SenderID: testSender, APIKey: testKey, Timeout: 2 * time.Second})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Stage != "dial" {
		t.Errorf("Dial to a closed port = %v; want a dial-stage HandshakeError", err)
	}
}

func TestNewStreamID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9A-F]{16}$`)
	a, b := NewStreamID(), NewStreamID()
	if !re.MatchString(a) || a == b {
		t.Errorf("NewStreamID() = %q, %q; want distinct 16 upper-case hex characters", a, b)
	}
}

// A HandshakeError names its stage once and says why in the cause's
// words, never repeating the sentinel it wraps; errors.Is finds both.
func TestHandshakeErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")
	for _, tc := range []struct {
		err  *HandshakeError
		want string
		is   []error
	}{
		{&HandshakeError{Stage: "tls", Kind: ErrTLS, Err: cause},
			"TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority", []error{ErrTLS, cause}},
		{&HandshakeError{Stage: "auth", Kind: ErrAuthRefused, Err: errors.New("refused (not-authorized) for 42@gcm.googleapis.com")},
			"SASL authentication: refused (not-authorized) for 42@gcm.googleapis.com", []error{ErrAuthRefused}},
		{&HandshakeError{Stage: "stream", Kind: ErrTimeout, Err: io.ErrNoProgress},
			"stream header: timed out: multiple Read calls return no data or error", []error{ErrTimeout, io.ErrNoProgress}},
		{&HandshakeError{Stage: "bind", Kind: ErrClosed, Err: io.EOF}, "resource binding: connection closed: EOF", []error{ErrClosed, io.EOF}},
		{&HandshakeError{Stage: "dial", Err: cause}, "TCP connection: " + cause.Error(), []error{cause}},
		{&HandshakeError{Stage: "auth", Kind: ErrAuthRefused}, "SASL authentication: failed", []error{ErrAuthRefused}},
		{&HandshakeError{Stage: "stream", Err: &StreamError{Condition: CondInternal, Text: "later"}},
			"stream header: stream error from peer: internal-server-error: later", nil},
		{&HandshakeError{Stage: "compress", Kind: ErrClosed}, "compress: connection closed", []error{ErrClosed}},
		{&HandshakeError{Stage: "starttls", Kind: ErrStartTLSRefused, Err: errors.New("refused")}, "STARTTLS negotiation: refused", []error{ErrStartTLSRefused}},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q; want %q", tc.err, got, tc.want)
		}
		for _, target := range tc.is {
			if !errors.Is(tc.err, target) {
				t.Errorf("errors.Is(%q, %v) = false; want true", tc.err, target)
			}
		}
		if errors.Is(tc.err, ErrUnexpected) {
			t.Errorf("errors.Is(%q, ErrUnexpected) = true; want false", tc.err)
		}
	}
}

// An authorization identity, when the client sends one, must name the
// sender it authenticated as (in any of its forms, as xmpp4r sends
// SENDER@gcm.googleapis.com beside the authentication identity SENDER):
// one sender's credentials may not act for another.
func TestServerHandshakeAuthzid(t *testing.T) {
	t.Parallel()
	auth := func(authzid, authcid string) string {
		return `<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">` +
			base64.StdEncoding.EncodeToString([]byte(authzid+"\x00"+authcid+"\x00"+testKey)) + `</auth>`
	}
	for _, tt := range []struct {
		authzid, authcid string
		ok               bool
	}{
		{testSender + "@gcm.googleapis.com", testSender, true},
		{testSender, testSender + "@fcm.googleapis.com", true},
		{testSender, testSender, true},
		{"999", testSender, false},
		{"999@gcm.googleapis.com", testSender + "@gcm.googleapis.com", false},
	} {
		out, err := scripted(t, ServerConfig{Timeout: 200 * time.Millisecond}, hdr, auth(tt.authzid, tt.authcid))
		success := strings.Contains(out, "<success ")
		if success != tt.ok {
			t.Errorf("authzid %q authcid %q: success %v, output %q; want %v", tt.authzid, tt.authcid, success, out, tt.ok)
		}
		if !tt.ok && (!errors.Is(err, ErrAuthRefused) || !strings.Contains(out, "<invalid-authzid/>") || strings.Contains(out, testKey)) {
			t.Errorf("authzid %q authcid %q: ServerHandshake = %v, output %q; want ErrAuthRefused and <invalid-authzid/>, no key", tt.authzid, tt.authcid, err, out)
		}
	}
}
