package mellium

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"
)

// readSize is the size of the read buffer under the library's XML decoder.
const readSize = 32 << 10

// NewTransport returns a driver.Transport whose connections are
// mellium.im/xmpp sessions: TLS from the first byte to addr with cfg.TLS
// (nil: system roots, server name from addr), SASL PLAIN with the identity
// SENDER@DOMAIN, or SENDER alone with cfg.BareIdentity (see
// ccs.ClientConfig.Login: DOMAIN is cfg.LoginDomain, by default
// gcm.googleapis.com, and also the stream's domain) and cfg.APIKey as the password, resource
// binding (cfg.Resource, or one the server chooses), the whole handshake
// bounded by cfg.Timeout (default ccs.DefaultHandshakeTimeout). cfg.Session
// and cfg.Framer are not used: the library binds without the optional
// session IQ, and reads with its own XML decoder.
func NewTransport(addr string, cfg ccs.ClientConfig) driver.Transport {
	return &transport{addr: addr, cfg: cfg}
}

// transport is the driver.Transport NewTransport returns.
type transport struct {
	addr string
	cfg  ccs.ClientConfig
}

// Name implements driver.Transport.
func (t *transport) Name() string { return "mellium" }

// Dial implements driver.Transport. Failures are *ccs.HandshakeError
// naming the stage (dial, tls, stream, auth, bind); they never contain
// the API key.
func (t *transport) Dial(ctx context.Context, index int) (driver.Conn, error) {
	timeout := t.cfg.Timeout
	if timeout <= 0 {
		timeout = ccs.DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tc := t.cfg.TLS.Clone()
	if tc == nil {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" && !tc.InsecureSkipVerify {
		tc.ServerName, _, _ = net.SplitHostPort(t.addr)
	}
	// TLS from the first byte to host:port with crypto/tls, as the
	// library's dial package does for its own targets (see the package doc).
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, timedOut(ctx, &ccs.HandshakeError{Stage: "dial", Err: err})
	}
	nc := &bufConn{Conn: tls.Client(raw, tc)}
	if err := nc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, timedOut(ctx, &ccs.HandshakeError{Stage: "tls", Kind: ccs.ErrTLS, Err: ccs.ExplainTLS(err)})
	}
	nc.r = bufio.NewReaderSize(fill{nc}, readSize)

	identity, domain := t.cfg.Login()
	local := identity
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	origin, err := jid.New(local, domain, t.cfg.Resource)
	if err != nil {
		nc.Close()
		return nil, &ccs.HandshakeError{Stage: "stream", Kind: ccs.ErrUnexpected, Err: fmt.Errorf("sender id %q is not a JID localpart: %w", local, err)}
	}
	st := &stage{name: "stream"}
	features := []xmpp.StreamFeature{
		st.wrap("auth", xmpp.SASL("", t.cfg.APIKey, plainAs(identity))),
		st.wrap("bind", xmpp.BindResource()),
	}
	// The connection is secure already (TLS from the first byte); the
	// session would only see that by itself for a bare *tls.Conn.
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, nc, xmpp.Secure,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		nc.Close()
		return nil, st.err(ctx, err, identity)
	}
	return newConn(sess, nc), nil
}

// bufConn is the TLS connection under a session, with a read buffer the
// library's XML decoder reads through (encoding/xml uses a reader that has
// ReadByte as it is, and would otherwise add its own bufio.Reader). The
// buffer fills itself through fill, which calls before (the driver's
// BeforeRead hook, once the session is negotiated) ahead of every read
// from the connection.
type bufConn struct {
	*tls.Conn
	r      *bufio.Reader
	before func()
}

// Read reads through the buffer.
func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// ReadByte reads one byte through the buffer.
func (b *bufConn) ReadByte() (byte, error) { return b.r.ReadByte() }

// fill is what the read buffer reads from.
type fill struct{ b *bufConn }

func (f fill) Read(p []byte) (int, error) {
	if f.b.before != nil {
		f.b.before()
	}
	return f.b.Conn.Read(p)
}

// plainAs is SASL PLAIN with authcid as the authentication identity. The
// library's PLAIN sends the JID's localpart (SENDER); the CCS documentation
// asks for SENDER@gcm.googleapis.com, which a JID localpart cannot hold.
func plainAs(authcid string) sasl.Mechanism {
	return sasl.Mechanism{
		Name: sasl.Plain.Name,
		Start: func(n *sasl.Negotiator) (bool, []byte, any, error) {
			_, password, authzid := n.Credentials()
			resp := make([]byte, 0, len(authzid)+len(authcid)+len(password)+2)
			resp = append(resp, authzid...)
			resp = append(resp, 0)
			resp = append(resp, authcid...)
			resp = append(resp, 0)
			resp = append(resp, password...)
			return false, resp, nil, nil
		},
		Next: sasl.Plain.Next,
	}
}

// stage follows the handshake through the stream features, so that an
// error names where it happened. The features run one after the other on
// the dialling goroutine.
type stage struct {
	name    string
	offered []string // SASL mechanisms the server offered
}

// wrap returns f recording that the handshake is at stage name while f
// negotiates, and at the next stage after it succeeded.
func (s *stage) wrap(name string, f xmpp.StreamFeature) xmpp.StreamFeature {
	parse, negotiate := f.Parse, f.Negotiate
	f.Parse = func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
		req, data, err := parse(ctx, d, start)
		if mechs, ok := data.([]string); ok {
			s.offered = mechs
		}
		return req, data, err
	}
	f.Negotiate = func(ctx context.Context, sess *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		s.name = name
		if name == "auth" && !slices.Contains(s.offered, sasl.Plain.Name) {
			return 0, nil, errNoPlain
		}
		mask, rw, err := negotiate(ctx, sess, data)
		if err == nil && name == "auth" {
			s.name = "bind" // after the restart the server must offer binding
		}
		return mask, rw, err
	}
	return f
}

// errNoPlain is the error of a server that does not offer SASL PLAIN.
var errNoPlain = errors.New("the server does not offer SASL PLAIN")

// err types a negotiation error as the native handshake does.
func (s *stage) err(ctx context.Context, err error, identity string) error {
	e := &ccs.HandshakeError{Stage: s.name, Err: err}
	var se stream.Error
	var ne net.Error
	switch {
	case errors.Is(err, errNoPlain):
		e.Kind = ccs.ErrUnexpected
	case ctx.Err() != nil, errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind = ccs.ErrTimeout
	case errors.As(err, &se):
		e.Err = streamError(se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isUnexpectedEOF(err):
		e.Kind = ccs.ErrClosed
	case s.name == "auth":
		// What is left in the SASL exchange is the server's <failure/>.
		e.Kind, e.Err = ccs.ErrAuthRefused, fmt.Errorf("refused (%v) for %s", err, identity)
	default:
		e.Kind = ccs.ErrUnexpected
	}
	return e
}

// timedOut marks e as a timeout when the handshake's time ran out.
func timedOut(ctx context.Context, e *ccs.HandshakeError) error {
	if ctx.Err() != nil {
		e.Kind = ccs.ErrTimeout
	}
	return e
}

// streamError converts the library's stream error to the one the driver
// knows.
func streamError(se stream.Error) *ccs.StreamError {
	e := &ccs.StreamError{Condition: se.Err}
	if len(se.Text) > 0 {
		e.Text = se.Text[0].Value
	}
	return e
}

// isUnexpectedEOF reports whether err is encoding/xml's report of a
// connection that ended inside the stream.
func isUnexpectedEOF(err error) bool {
	var sx *xml.SyntaxError
	return errors.As(err, &sx) && sx.Msg == "unexpected EOF"
}
