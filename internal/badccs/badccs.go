// Package badccs is a CCS server for tests that misbehaves on purpose: it
// completes the TLS and stream handshake (or answers the auth step with
// whatever a test wants) and then runs a behaviour the test gives it,
// such as draining every connection at once and never closing, killing
// connections, sending stream errors, garbage or duplicate answers. It
// counts the TCP connections it accepted and the most that were open at
// once, so that tests can bound what a client holds. It is only for tests
// of this module: it is not a faithful CCS server (that is fakeccs).
package badccs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Options configure a Server. SenderID and APIKey are the credentials it
// accepts (defaults "42" and "badccs-api-key-0123").
type Options struct {
	SenderID, APIKey string
	// AuthReply, when set, answers the client's SASL PLAIN message (the
	// base64 text it sent) instead of authenticating: the returned bytes
	// are written and the connection is closed.
	AuthReply func(plain string) string
	// XMPP makes the server answer the handshake as a standard XMPP
	// server (Prosody) does rather than as CCS: see serveXMPP. It takes
	// the bare SenderID as the SASL identity and refuses one with an
	// "@" (malformed-request), as such servers do.
	XMPP bool
	// Ejabberd, with XMPP, answers as ejabberd 23.01 did instead of
	// Prosody: its stream header and features (DIGEST-MD5 and PLAIN
	// before the SCRAM mechanisms; after authentication only bind and an
	// optional session), and it takes SENDER@gcm.googleapis.com as well as
	// the bare SenderID as the SASL identity. BounceEcho answers messages
	// as it did.
	Ejabberd bool
	// PlainText, when set, makes the server speak no TLS: it writes
	// PlainText to every connection as soon as it has read the client's
	// first bytes, and closes it, as an XMPP port that expects STARTTLS
	// or no TLS answers a TLS ClientHello.
	PlainText string
	// StartTLS makes the server speak plain TCP first, as an XMPP
	// server's port for clients does: it answers the stream header with
	// features that offer only STARTTLS, as required (as Prosody does with
	// c2s_require_encryption), answers <starttls/> with <proceed/> and
	// upgrades the connection to TLS, then serves it as a connection with
	// TLS from the first byte (as CCS, or as XMPP with XMPP set). A client
	// that starts with a TLS ClientHello is answered with a stream error.
	StartTLS bool
	// StartTLSFailure, with StartTLS, answers <starttls/> with <failure/>
	// and closes the connection, as a server that cannot start TLS does.
	StartTLSFailure bool
	// Plain makes the server speak no TLS at all: it serves the handshake
	// (as CCS, or as XMPP with XMPP set) and the connection in plain TCP.
	Plain bool
	// Serve runs on every connection once it is bound, in its own
	// goroutine; the connection is closed when it returns. Nil: read and
	// ACK every message until the client closes.
	Serve func(c *Conn)
}

// Server is a misbehaving CCS server on a loopback port.
type Server struct {
	opts Options
	ln   net.Listener
	tls  *tls.Config
	pool *x509.CertPool
	pem  []byte
	wg   sync.WaitGroup

	accepted, bound atomic.Int64
	open, maxOpen   atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Start runs a Server until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.SenderID == "" {
		opts.SenderID = "42"
	}
	if opts.APIKey == "" {
		opts.APIKey = "badccs-api-key-0123"
	}
	if opts.Serve == nil {
		opts.Serve = AckAll
	}
	cert, pool, pemBytes, err := selfSigned()
	if err != nil {
		t.Fatalf("badccs: certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("badccs: %v", err)
	}
	s := &Server{
		opts: opts, ln: ln, pool: pool, pem: pemBytes, conns: map[net.Conn]struct{}{},
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.close)
	return s
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SenderID and APIKey are the credentials the server accepts.
func (s *Server) SenderID() string { return s.opts.SenderID }

// APIKey returns the API key the server accepts.
func (s *Server) APIKey() string { return s.opts.APIKey }

// TLS returns a client configuration that trusts the server.
func (s *Server) TLS() *tls.Config { return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1"} }

// CertPool returns the pool holding the server's self-signed certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CertPEM returns the server's self-signed certificate in PEM.
func (s *Server) CertPEM() []byte { return s.pem }

// Accepted is the number of TCP connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Bound is the number of connections that completed the handshake.
func (s *Server) Bound() int64 { return s.bound.Load() }

// MaxOpen is the most TCP connections open at once, sampled settle after
// each connection completed its handshake: by then the server has seen
// the end of every connection the client closed before it dialled that
// one, even on a busy machine where the goroutine reading a closed
// connection runs late.
func (s *Server) MaxOpen() int64 { return s.maxOpen.Load() }

// settle is how long after a bind the open connections are counted.
const settle = 20 * time.Millisecond

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.open.Add(1)
		s.mu.Lock()
		s.conns[raw] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(raw)
	}
}

func (s *Server) serve(raw net.Conn) {
	defer s.wg.Done()
	// The connection stops counting as open when the server closes it
	// (Conn.Close), or else when this goroutine ends (the client closed
	// it): a close by the server counts at once, not when a goroutine
	// still reading gets round to seeing it.
	var once sync.Once
	gone := func() { once.Do(func() { s.open.Add(-1) }) }
	defer func() {
		raw.Close()
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		gone()
	}()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if s.opts.PlainText != "" {
		var hello [512]byte
		raw.Read(hello[:])
		io.WriteString(raw, s.opts.PlainText)
		return
	}
	var tc net.Conn = raw
	switch {
	case s.opts.Plain:
	case s.opts.StartTLS:
		c, ok := s.startTLS(raw)
		if !ok {
			return
		}
		tc = c
	default:
		c := tls.Server(raw, s.tls)
		if err := c.Handshake(); err != nil {
			return
		}
		tc = c
	}
	if s.opts.AuthReply != nil {
		s.authReply(tc)
		return
	}
	if s.opts.XMPP {
		raw.SetDeadline(time.Time{})
		s.serveXMPP(tc, raw)
		return
	}
	sc, err := ccs.ServerHandshake(tc, ccs.ServerConfig{Authenticate: func(id, pw string) bool {
		return ccs.SenderOf(id) == s.opts.SenderID && pw == s.opts.APIKey
	}})
	if err != nil {
		return
	}
	raw.SetDeadline(time.Time{})
	n := s.bound.Add(1)
	time.AfterFunc(settle, func() {
		for {
			o, m := s.open.Load(), s.maxOpen.Load()
			if o <= m || s.maxOpen.CompareAndSwap(m, o) {
				break
			}
		}
	})
	s.opts.Serve(&Conn{Conn: tc, Raw: raw, Framer: sc.Framer, Index: int(n - 1), gone: gone})
}

// authReply plays the handshake up to the SASL step and answers it with
// AuthReply.
func (s *Server) authReply(c net.Conn) {
	f := ccs.NewFramer(c, ccs.FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		return
	}
	if _, err := io.WriteString(c, streamHeader+featuresSASL); err != nil {
		return
	}
	for {
		st, err := f.Next()
		if err != nil {
			return
		}
		if st.Kind == ccs.KindAuth {
			io.WriteString(c, s.opts.AuthReply(string(st.Text)))
			return
		}
	}
}

const (
	streamHeader = `<stream:stream from="gcm.googleapis.com" id="0123456789ABCDEF" version="1.0" xmlns:stream="` +
		ccs.NSStream + `" xmlns="` + ccs.NSClient + `">`
	featuresSASL = `<stream:features><mechanisms xmlns="` + ccs.NSSASL + `"><mechanism>PLAIN</mechanism></mechanisms></stream:features>`
)

// Conn is one bound connection, for a Serve function.
type Conn struct {
	net.Conn // the TLS connection (the TCP connection with Plain)
	// Raw is the TCP connection under it, for writing bytes that are not
	// TLS records.
	Raw    net.Conn
	Framer *ccs.Framer
	// Index counts the connections bound by the server, from 0.
	Index int
	// JID is the full JID the client was bound to (XMPP mode only).
	JID string

	jr      ccs.JSONReader
	msg     ccs.Message
	payload []byte // the gcm payload of the last message Next returned
	gone    func() // the server's count of open connections drops (once)
}

// Close closes the connection; it no longer counts as open (MaxOpen).
func (c *Conn) Close() error {
	err := c.Conn.Close()
	if c.gone != nil {
		c.gone()
	}
	return err
}

// ErrEnd is returned by Next when the client ended its stream.
var ErrEnd = errors.New("badccs: client ended the stream")

// Next returns the id of the next downstream message the client sent
// (copied), skipping everything else; ErrEnd when the client ended its
// stream, or the read error.
func (c *Conn) Next() (string, error) {
	for {
		st, err := c.Framer.Next()
		if err != nil {
			return "", err
		}
		switch st.Kind {
		case ccs.KindStreamEnd:
			return "", ErrEnd
		case ccs.KindMessage:
			if !st.HasGCM || c.jr.Parse(st.GCM, &c.msg) != nil || c.msg.Type != ccs.TypeNone {
				continue // an ACK of an upstream message, or junk
			}
			c.payload = append(c.payload[:0], st.GCM...)
			return string(c.msg.MessageID.Str), nil
		}
	}
}

// Payload is the JSON payload of the message Next returned last (valid
// until the next call of Next).
func (c *Conn) Payload() []byte { return c.payload }

// Write writes b, and closes the connection if it cannot.
func (c *Conn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Conn.Write(b)
	if err != nil {
		c.Conn.Close()
	}
	return n, err
}

// Ack writes the ACK of message id.
func (c *Conn) Ack(id string) error {
	_, err := c.Write(ccs.AppendAck(nil, []byte("regid"), []byte(id), nil))
	return err
}

// Nack writes a NACK of message id with code.
func (c *Conn) Nack(id, code string) error {
	_, err := c.Write(ccs.AppendNack(nil, []byte("regid"), []byte(id), code, nil))
	return err
}

// Drain writes the CONNECTION_DRAINING control message.
func (c *Conn) Drain() error {
	_, err := c.Write(ccs.AppendControl(nil, "CONNECTION_DRAINING"))
	return err
}

// StreamError writes a stream error with condition and text and the end
// of the stream.
func (c *Conn) StreamError(condition, text string) error {
	_, err := c.Write(ccs.AppendStreamError(nil, condition, text))
	return err
}

// Each returns a Serve function that calls fn with the n-th message the
// client sends (n from 0) and its id, until fn returns false or the
// client stops sending; when the client ends its stream, the server ends
// its own.
func Each(fn func(c *Conn, n int, id string) bool) func(*Conn) {
	return func(c *Conn) {
		for n := 0; ; n++ {
			id, err := c.Next()
			if errors.Is(err, ErrEnd) {
				c.Write([]byte(ccs.StreamEnd))
			}
			if err != nil || !fn(c, n, id) {
				return
			}
		}
	}
}

// AckAll ACKs every message until the client ends its stream.
func AckAll(c *Conn) {
	Each(func(c *Conn, _ int, id string) bool { return c.Ack(id) == nil })(c)
}

// Hold reads until the client closes the connection or ends its stream,
// answering nothing.
func Hold(c *Conn) {
	Each(func(*Conn, int, string) bool { return true })(c)
}

// Leaks returns the first piece of 8 bytes of each secret that text
// holds: text that passed through a redactor holds none, not even a part
// of a secret left by a cut.
func Leaks(text string, secrets ...string) []string {
	var found []string
	for _, s := range secrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(text, s[i:i+8]) {
				found = append(found, s[i:i+8])
				break
			}
		}
	}
	return found
}

// selfSigned makes a certificate for 127.0.0.1, a pool that trusts it and
// its PEM.
func selfSigned() (tls.Certificate, *x509.CertPool, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "badccs"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, pemBytes, nil
}
