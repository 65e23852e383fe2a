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
// mellium.im/xmpp sessions to addr, secured as cfg.TLSMode says: TLS from
// the first byte (the default, as CCS), the library's STARTTLS feature,
// or none; with cfg.TLS (nil: system roots, server name from addr) in
// both TLS modes. Then SASL PLAIN with the identity SENDER@DOMAIN, or
// SENDER alone with cfg.BareIdentity (see ccs.ClientConfig.Login: DOMAIN
// is cfg.LoginDomain, by default gcm.googleapis.com, and also the
// stream's domain) and cfg.APIKey as the password, resource binding
// (cfg.Resource, or one the server chooses), the whole handshake bounded
// by cfg.Timeout (default ccs.DefaultHandshakeTimeout). cfg.Session and
// cfg.Framer are not used: the library binds without the optional
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
// naming the stage (dial, tls, starttls, stream, auth, bind); they never
// contain the API key.
func (t *transport) Dial(ctx context.Context, index int) (driver.Conn, error) {
	if !t.cfg.TLSMode.Valid() {
		return nil, &ccs.HandshakeError{Stage: "dial", Err: fmt.Errorf("%w %v", ccs.ErrTLSMode, t.cfg.TLSMode)}
	}
	timeout := t.cfg.Timeout
	if timeout <= 0 {
		timeout = ccs.DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tc := ccs.ClientTLSConfig(t.cfg.TLS, t.addr)
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, timedOut(ctx, &ccs.HandshakeError{Stage: "dial", Err: err})
	}

	identity, domain := t.cfg.Login()
	local := identity
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	origin, err := jid.New(local, domain, t.cfg.Resource)
	if err != nil {
		raw.Close()
		return nil, &ccs.HandshakeError{Stage: "stream", Kind: ccs.ErrUnexpected, Err: fmt.Errorf("sender id %q is not a JID localpart: %w", local, err)}
	}
	st := &stage{name: "stream", mode: t.cfg.TLSMode, plain: t.cfg.TLSMode != ccs.TLSDirect}
	features := []xmpp.StreamFeature{
		st.wrap("auth", xmpp.SASL("", t.cfg.APIKey, plainAs(identity))),
		st.wrap("bind", xmpp.BindResource()),
	}
	var rw io.ReadWriter
	var state xmpp.SessionState
	var nc *bufConn
	switch t.cfg.TLSMode {
	case ccs.TLSDirect:
		// TLS from the first byte to host:port with crypto/tls, as the
		// library's dial package does for its own targets (see the
		// package doc). The connection is secure already; the session
		// would only see that by itself for a bare *tls.Conn.
		tconn := tls.Client(raw, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, timedOut(ctx, &ccs.HandshakeError{Stage: "tls", Kind: ccs.ErrTLS, Err: ccs.ExplainTLS(err)})
		}
		nc = newBufConn(tconn)
		rw, state = nc, xmpp.Secure
	case ccs.TLSStartTLS:
		// The library's STARTTLS feature upgrades the plain stream; its
		// TLS connection is then handed back in a bufConn, so that the
		// session reads as it does after direct TLS.
		features = append([]xmpp.StreamFeature{st.startTLS(xmpp.StartTLS(tc), &nc)}, features...)
		rw = raw
	case ccs.TLSNone:
		// No TLS at all, as asked: the session is told the stream is
		// secure, or the library would not offer SASL on it; a server
		// that requires STARTTLS is refused (st.probeTLS).
		features = append(features, st.probeTLS())
		nc = newBufConn(raw)
		rw, state = nc, xmpp.Secure
	}
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, rw, state,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		raw.Close()
		return nil, st.err(ctx, err, identity)
	}
	if nc == nil {
		// A server that offered no STARTTLS, and a library that went on
		// without it: never in plain text when TLS was asked for.
		sess.Close()
		raw.Close()
		return nil, &ccs.HandshakeError{Stage: "starttls", Kind: ccs.ErrUnexpected,
			Err: errors.New("the session was negotiated without STARTTLS")}
	}
	return newConn(sess, nc), nil
}

// bufConn is the connection under a session (TLS, or TCP with
// ccs.TLSNone), with a read buffer the library's XML decoder reads
// through (encoding/xml uses a reader that has ReadByte as it is, and
// would otherwise add its own bufio.Reader). The buffer fills itself
// through fill, which calls before (the driver's BeforeRead hook, once the
// session is negotiated) ahead of every read from the connection.
type bufConn struct {
	net.Conn
	r      *bufio.Reader
	before func()
}

// newBufConn returns c with its read buffer.
func newBufConn(c net.Conn) *bufConn {
	b := &bufConn{Conn: c}
	b.r = bufio.NewReaderSize(fill{b}, readSize)
	return b
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
	name        string
	mode        ccs.TLSMode
	offered     []string // SASL mechanisms the server offered
	tlsRequired bool     // the server listed STARTTLS as required (ccs.TLSNone)
	tlsOffered  bool     // the server listed STARTTLS (ccs.TLSNone)
	plain       bool     // the stream is in plain TCP: ccs.TLSNone, or before STARTTLS
}

// startTLS returns f, the library's STARTTLS feature, recording the stage
// and finishing the TLS handshake it starts before the stream restarts,
// so that TLS errors are told apart; the TLS connection is handed back to
// the session in a bufConn, stored in *nc.
func (s *stage) startTLS(f xmpp.StreamFeature, nc **bufConn) xmpp.StreamFeature {
	negotiate := f.Negotiate
	f.Negotiate = func(ctx context.Context, sess *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		s.name = "starttls"
		mask, rw, err := negotiate(ctx, sess, data)
		if err != nil {
			return mask, rw, err
		}
		tconn, ok := rw.(*tls.Conn)
		if !ok {
			return mask, rw, fmt.Errorf("the library's STARTTLS gave a %T, not a TLS connection", rw)
		}
		s.name = "tls"
		if err := tconn.HandshakeContext(ctx); err != nil {
			return mask, nil, &tlsError{err}
		}
		s.name, s.plain = "stream", false
		*nc = newBufConn(tconn)
		return mask, *nc, nil
	}
	return f
}

// tlsError is a failed TLS handshake after STARTTLS.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// probeTLS is a feature that only reads the server's STARTTLS offer, for
// ccs.TLSNone: negotiating it fails when the server requires TLS, and does
// nothing otherwise (the session is already marked secure, so the
// library's own STARTTLS feature would not be tried).
func (s *stage) probeTLS() xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name: xml.Name{Space: ccs.NSTLS, Local: "starttls"},
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
			var offer struct {
				Required *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls required"`
			}
			err := d.DecodeElement(&offer, start)
			s.tlsOffered, s.tlsRequired = true, offer.Required != nil
			return s.tlsRequired, nil, err
		},
		Negotiate: func(context.Context, *xmpp.Session, any) (xmpp.SessionState, io.ReadWriter, error) {
			if s.tlsRequired {
				s.name = "starttls"
				return 0, nil, errTLSRequired
			}
			return 0, nil, nil
		},
	}
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
		if name == "auth" && s.tlsRequired {
			s.name = "starttls"
			return 0, nil, errTLSRequired
		}
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

// errTLSRequired is the error of a server that requires STARTTLS, with
// ccs.TLSNone.
var errTLSRequired = errors.New(ccs.TLSRequiredAdvice)

// startTLSFailed is the text of the library's error for a <failure/>
// answer to <starttls/> (mellium.im/xmpp v0.22.0 gives it no type).
const startTLSFailed = "receiver indicated that TLS negotiation failed"

// err types a negotiation error as the native handshake does.
func (s *stage) err(ctx context.Context, err error, identity string) error {
	e := &ccs.HandshakeError{Stage: s.name, Err: err}
	var se stream.Error
	var ne net.Error
	var te *tlsError
	switch {
	case errors.Is(err, errNoPlain):
		e.Kind = ccs.ErrUnexpected
		if s.mode == ccs.TLSNone && s.tlsOffered {
			e.Err = fmt.Errorf("%w %s", err, ccs.NoPlainTLSAdvice)
		}
	case errors.Is(err, errTLSRequired):
		e.Kind = ccs.ErrTLSRequired
	case errors.As(err, &te) && ctx.Err() == nil:
		e.Kind, e.Err = ccs.ErrTLS, te.err
	case s.name == "starttls" && strings.Contains(err.Error(), startTLSFailed):
		e.Kind, e.Err = ccs.ErrStartTLSRefused, errors.New(ccs.StartTLSFailureReason)
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
	if s.plain && s.name == "stream" && e.Kind == ccs.ErrClosed {
		// As the native client says it (see ccs.NoTLSAdvice).
		e.Err = fmt.Errorf("%w (%s)", e.Err, ccs.NoTLSAdvice)
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
