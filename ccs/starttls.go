package ccs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// NSTLS is the namespace of STARTTLS negotiation (<starttls/>, <proceed/>,
// <failure/>).
const NSTLS = "urn:ietf:params:xml:ns:xmpp-tls"

// TLSMode says how a client secures its connection. CCS itself speaks TLS
// from the first byte (TLSDirect, the zero value); the other modes are for
// CCS-compatible servers that differ, such as mocks built on general XMPP
// servers that only offer STARTTLS on a plain TCP port, or test servers
// without TLS.
type TLSMode uint8

// The TLS modes.
const (
	// TLSDirect is TLS from the first byte (XEP-0368 direct TLS), as CCS.
	TLSDirect TLSMode = iota
	// TLSStartTLS opens the stream in plain TCP, requires the server's
	// <starttls/> feature, upgrades the same connection to TLS (the same
	// trust and server name rules as TLSDirect) and then opens the stream
	// again (RFC 6120 section 5).
	TLSStartTLS
	// TLSNone speaks plain TCP throughout, credentials included; a server
	// whose features say STARTTLS is required is refused.
	TLSNone
)

// tlsModeNames are the names of the TLS modes, as ParseTLSMode reads them.
var tlsModeNames = [...]string{TLSDirect: "direct", TLSStartTLS: "starttls", TLSNone: "none"}

// String returns "direct", "starttls" or "none".
func (m TLSMode) String() string {
	if m.Valid() {
		return tlsModeNames[m]
	}
	return fmt.Sprintf("TLSMode(%d)", m)
}

// Valid reports whether m is one of the TLS modes.
func (m TLSMode) Valid() bool { return int(m) < len(tlsModeNames) }

// ErrTLSMode is wrapped by ParseTLSMode's error for an unknown name.
var ErrTLSMode = errors.New("ccs: unknown TLS mode")

// ParseTLSMode reads a TLS mode by its name: direct, starttls or none.
func ParseTLSMode(s string) (TLSMode, error) {
	for m, name := range tlsModeNames {
		if s == name {
			return TLSMode(m), nil
		}
	}
	return 0, fmt.Errorf("%w %q: want direct, starttls or none", ErrTLSMode, s)
}

// ClientTLSConfig is the TLS configuration a client uses for addr: a
// clone of tc (nil: system roots), with the host of addr as the server
// name when tc names none. The name is sent (SNI) even when tc verifies
// no certificate, so that a server with several names picks the right one.
func ClientTLSConfig(tc *tls.Config, addr string) *tls.Config {
	c := tc.Clone()
	if c == nil {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return c
}

// startTLS negotiates STARTTLS on the stream h opened in plain TCP, whose
// features are feat: it sends <starttls/>, expects <proceed/> and runs the
// TLS client handshake with tc over the same connection. It returns the
// TLS connection; the framer is then Reset to read from it.
func (h *clientHS) startTLS(ctx context.Context, feat *Element, tc *tls.Config) (*tls.Conn, *HandshakeError) {
	if feat.Child(NSTLS, "starttls") == nil {
		return nil, &HandshakeError{Stage: "starttls", Kind: ErrUnexpected,
			Err: errors.New("the server does not offer STARTTLS on this port: if it speaks no TLS at all, use --tls none")}
	}
	if err := h.write("starttls", `<starttls xmlns="`+NSTLS+`"/>`); err != nil {
		return nil, err
	}
	st, err := h.next("starttls")
	if err != nil {
		return nil, err
	}
	if st.Kind != KindOther && st.Kind != KindFailure {
		return nil, h.unexpected("starttls", st)
	}
	e, terr := h.f.Tree()
	if terr != nil {
		return nil, wrapIOError("starttls", terr)
	}
	switch {
	case e.Space == NSTLS && e.Local == "proceed":
	case e.Space == NSTLS && e.Local == "failure":
		return nil, &HandshakeError{Stage: "starttls", Kind: ErrStartTLSRefused, Err: errors.New(StartTLSFailureReason)}
	default:
		return nil, h.unexpected("starttls", st)
	}
	if n := h.f.Buffered(); n > 0 {
		// Bytes sent in plain text after <proceed/> would be read as if
		// they came over TLS: refused, whoever put them there.
		return nil, &HandshakeError{Stage: "starttls", Kind: ErrUnexpected,
			Err: fmt.Errorf("the server sent %d bytes after <proceed/>, before TLS started", n)}
	}
	conn := tls.Client(h.c, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, &HandshakeError{Stage: "tls", Kind: ErrTimeout, Err: err}
		}
		return nil, &HandshakeError{Stage: "tls", Kind: ErrTLS, Err: err}
	}
	return conn, nil
}

// StartTLSFailureReason is what a client says when the server answered
// <starttls/> with <failure/>.
const StartTLSFailureReason = "the server answered <starttls/> with <failure/>: it cannot start TLS on this connection (a server without a usable certificate does so)"

// plainFeatures checks the features a server offered on a stream in
// plain TCP (TLSNone): a server that requires STARTTLS is refused.
func plainFeatures(feat *Element) *HandshakeError {
	if st := feat.Child(NSTLS, "starttls"); st != nil && st.Child(NSTLS, "required") != nil {
		return &HandshakeError{Stage: "starttls", Kind: ErrTLSRequired, Err: errors.New(TLSRequiredAdvice)}
	}
	return nil
}

// TLSRequiredAdvice is what a client in TLSNone mode says when the
// server's features say STARTTLS is required.
const TLSRequiredAdvice = "the server requires STARTTLS (<starttls><required/></starttls>) and --tls none does not do TLS: use --tls starttls"

// noPlainAdvice is added to "the server does not offer SASL PLAIN" on a
// stream in plain TCP whose server offers STARTTLS.
func noPlainAdvice(feat *Element) string {
	if feat.Child(NSTLS, "starttls") == nil {
		return ""
	}
	return " " + NoPlainTLSAdvice
}

// NoPlainTLSAdvice follows "the server does not offer SASL PLAIN" on a
// stream in plain TCP whose server offers STARTTLS: servers commonly offer
// PLAIN only once the connection is encrypted.
const NoPlainTLSAdvice = "on a connection without TLS (it offers STARTTLS, after which servers commonly offer PLAIN: use --tls starttls)"

// explainNoTLS adds the likely reason to err, a handshake in plain TCP
// (TLSStartTLS or TLSNone) that failed before the server's first stream
// header, when the server closed the connection or answered something that
// is not XML: a port that speaks TLS from the first byte answers a plain
// stream header so.
func explainNoTLS(err *HandshakeError) *HandshakeError {
	var sx *SyntaxError
	if err.Stage != "stream" || !errors.Is(err, ErrClosed) && !(errors.As(err, &sx) && sx.Offset == 0) {
		return err
	}
	e := *err
	if e.Err = errors.New(NoTLSAdvice); err.Err != nil {
		e.Err = fmt.Errorf("%w (%s)", err.Err, NoTLSAdvice)
	}
	return &e
}

// NoTLSAdvice is what a client in plain TCP adds when the server closed
// the connection, or answered something that is not XML, instead of its
// first stream header.
const NoTLSAdvice = "a port that speaks TLS from the first byte closes a connection that starts in plain text: if this is one, use --tls direct"

// serverFeaturesStartTLS offers STARTTLS, as required, and nothing else:
// a server that offers TLS only by STARTTLS takes no credentials before.
const serverFeaturesStartTLS = `<stream:features><starttls xmlns="` + NSTLS + `"><required/></starttls></stream:features>`

// ServerStartTLS runs the server half of STARTTLS on c, a plain TCP
// connection, within timeout (default DefaultHandshakeTimeout): it
// answers the client's stream header (from the CCS domain its "to"
// names, gcm.googleapis.com when it names none) with features that
// require STARTTLS, answers <starttls/> with <proceed/>, and runs the TLS
// server handshake with cfg on c. The client then opens a new stream over
// the TLS connection it returns, for ServerHandshake. This is not part of
// CCS, which speaks TLS from the first byte; it is for clients that can
// only do STARTTLS. A client that starts with something else (a TLS
// ClientHello, say) is answered with a stream error. Failures are
// *HandshakeError with Stage "starttls" or "tls"; the caller closes c.
func ServerStartTLS(c net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	c.SetDeadline(time.Now().Add(timeoutOr(timeout)))
	h := &serverHS{hsStream: hsStream{c: c, f: NewFramer(c, FramerConfig{})}}
	tc, err := h.startTLS(cfg)
	if err != nil {
		h.fail(err)
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

// startTLS is ServerStartTLS on h's stream.
func (h *serverHS) startTLS(cfg *tls.Config) (*tls.Conn, *HandshakeError) {
	start, err := h.expect("starttls", KindStreamStart)
	if err != nil {
		return nil, err
	}
	domain := CCSDomain(string(start.To))
	if domain == "" {
		domain = Domain
	}
	if err := h.write("starttls", serverStreamHeader(domain)+serverFeaturesStartTLS); err != nil {
		return nil, err
	}
	h.headerSent = true
	st, err := h.next("starttls")
	if err != nil {
		return nil, err
	}
	if st.Kind != KindOther {
		return nil, h.unexpected("starttls", st)
	}
	if e, terr := h.f.Tree(); terr != nil {
		return nil, wrapIOError("starttls", terr)
	} else if e.Space != NSTLS || e.Local != "starttls" {
		return nil, h.unexpected("starttls", st)
	}
	if n := h.f.Buffered(); n > 0 {
		return nil, &HandshakeError{Stage: "starttls", Kind: ErrUnexpected,
			Err: fmt.Errorf("the client sent %d bytes after <starttls/>, before TLS started", n)}
	}
	if err := h.write("starttls", `<proceed xmlns="`+NSTLS+`"/>`); err != nil {
		return nil, err
	}
	tc := tls.Server(h.c, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, &HandshakeError{Stage: "tls", Kind: ErrTLS, Err: err}
	}
	return tc, nil
}
