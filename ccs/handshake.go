package ccs

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake when the config sets none.
const DefaultHandshakeTimeout = 10 * time.Second

// ClientConfig configures the client half of the stream handshake.
type ClientConfig struct {
	// SenderID is the GCM sender id; the SASL identity is
	// SenderID@LoginDomain, as the CCS documentation asks. A SenderID that
	// already has an "@domain" is sent as it is.
	SenderID string
	// LoginDomain is the XMPP domain the client logs in to: the domain of
	// its SASL identity and the "to" of its stream headers. Empty: the
	// domain of a SenderID with one, else Domain (gcm.googleapis.com), as
	// the CCS documentation asks; FCM-era clients use FCMDomain.
	LoginDomain string
	// APIKey is the SASL password. It never appears in errors or logs.
	APIKey string
	// BareIdentity sends the sender id alone (its local part, without
	// "@domain") as the SASL identity, as generic XMPP libraries do and as
	// standard XMPP servers expect (they refuse an authentication identity
	// with an "@"). CCS accepted both; its documentation asks for the whole
	// form, the default.
	BareIdentity bool
	// Resource is the resource to request at bind; empty lets the server
	// choose.
	Resource string
	// Session sends the optional session IQ after bind.
	Session bool
	// TLS is the TLS configuration for Dial (nil: system roots, ServerName
	// from the address) and for STARTTLS (where ClientHandshake needs its
	// ServerName set, or InsecureSkipVerify).
	TLS *tls.Config
	// TLSMode is how the connection is secured: TLS from the first byte
	// (TLSDirect, the default, as CCS), STARTTLS, or not at all.
	TLSMode TLSMode
	// Timeout bounds the whole handshake, dial included (default 10 s).
	Timeout time.Duration
	// Framer limits what the client accepts from the server.
	Framer FramerConfig
}

// Conn is an established, authenticated and bound CCS stream.
type Conn struct {
	net.Conn         // the TLS connection, or the TCP connection with TLSNone
	Framer   *Framer // positioned after the handshake; owned by the reader goroutine
	JID      string  // the bound full JID, SENDER@gcm.googleapis.com/resource
	StreamID string  // the id of the server's (last) stream header
}

// Dial opens a TCP connection to addr, secures it as cfg.TLSMode says
// (TLS from the first byte by default, as CCS: no STARTTLS) and runs the
// client handshake. Failures are *HandshakeError with Stage "dial",
// "tls", "starttls" or a later stage.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*Conn, error) {
	if !cfg.TLSMode.Valid() {
		return nil, &HandshakeError{Stage: "dial", Err: fmt.Errorf("%w %v", ErrTLSMode, cfg.TLSMode)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(cfg.Timeout))
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &HandshakeError{Stage: "dial", Kind: ErrTimeout, Err: err}
		}
		return nil, &HandshakeError{Stage: "dial", Err: err}
	}
	var conn net.Conn = raw
	switch cfg.TLSMode {
	case TLSDirect:
		tc := tls.Client(raw, ClientTLSConfig(cfg.TLS, addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			if ctx.Err() != nil {
				return nil, &HandshakeError{Stage: "tls", Kind: ErrTimeout, Err: err}
			}
			return nil, &HandshakeError{Stage: "tls", Kind: ErrTLS, Err: ExplainTLS(err)}
		}
		conn = tc
	case TLSStartTLS:
		cfg.TLS = ClientTLSConfig(cfg.TLS, addr)
	}
	c, err := ClientHandshake(ctx, conn, cfg)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// ClientHandshake runs the client half of the handshake over an existing
// connection: stream open, STARTTLS when cfg.TLSMode asks for it (c is
// then the plain TCP connection, upgraded with cfg.TLS as it is), SASL
// PLAIN, stream restart, bind, optional session. With TLSDirect c is
// secured already; with TLSNone a server that requires STARTTLS is
// refused. Failures are *HandshakeError; the caller closes c.
func ClientHandshake(ctx context.Context, c net.Conn, cfg ClientConfig) (*Conn, error) {
	h := &clientHS{hsStream: hsStream{c: c, f: NewFramer(c, cfg.Framer), red: NewRedactor(cfg.SenderID, cfg.APIKey)}, cfg: cfg}
	deadline := time.Now().Add(timeoutOr(cfg.Timeout))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn, err := h.run(ctx)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrTimeout) {
			err.Kind = ErrTimeout
		}
		if !h.headerSeen && cfg.TLSMode != TLSDirect {
			err = explainNoTLS(err)
		}
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return conn, nil
}

// clientStreamHeader is what a client sends to open (and restart) its
// stream to domain: an open tag, never self-closing (a self-closing header
// made CCS drop the connection).
func clientStreamHeader(domain string) string {
	return `<stream:stream to="` + string(appendAttr(nil, []byte(domain))) + `" version="1.0" xmlns="` + NSClient + `" xmlns:stream="` + NSStream + `">`
}

// Login returns the SASL identity cfg authenticates as and the domain of
// its stream headers: SENDER@DOMAIN (SENDER alone with BareIdentity) and
// DOMAIN, which is LoginDomain, else the domain of a SenderID that has
// one, else Domain.
func (cfg *ClientConfig) Login() (identity, domain string) {
	identity, domain = cfg.SenderID, cfg.LoginDomain
	if at := strings.LastIndexByte(identity, '@'); at >= 0 {
		if domain == "" {
			domain = identity[at+1:]
		}
		if cfg.BareIdentity {
			identity = identity[:at]
		}
		return identity, domain
	}
	if domain == "" {
		domain = Domain
	}
	if cfg.BareIdentity {
		return identity, domain
	}
	return identity + "@" + domain, domain
}

// clientHS is the client half of one handshake.
type clientHS struct {
	hsStream
	cfg        ClientConfig
	headerSeen bool // the server's first stream header arrived
}

// run opens the stream, negotiates STARTTLS when cfg.TLSMode asks for it,
// authenticates with SASL PLAIN, restarts the stream, binds a resource
// and, with cfg.Session, opens a session.
func (h *clientHS) run(ctx context.Context) (*Conn, *HandshakeError) {
	identity, domain := h.cfg.Login()
	header := clientStreamHeader(domain)
	if err := h.write("stream", header); err != nil {
		return nil, err
	}
	if _, err := h.expect("stream", KindStreamStart); err != nil {
		return nil, err
	}
	h.headerSeen = true
	feat, err := h.features("stream")
	if err != nil {
		return nil, err
	}
	switch h.cfg.TLSMode {
	case TLSStartTLS:
		tc, err := h.startTLS(ctx, feat, h.cfg.TLS)
		if err != nil {
			return nil, err
		}
		// A new stream over TLS: the server forgets the plain one.
		h.c = tc
		h.f.Reset(tc)
		if err := h.write("stream", header); err != nil {
			return nil, err
		}
		if _, err := h.expect("stream", KindStreamStart); err != nil {
			return nil, err
		}
		if feat, err = h.features("stream"); err != nil {
			return nil, err
		}
	case TLSNone:
		if err := plainFeatures(feat); err != nil {
			return nil, err
		}
	}
	mechs := feat.Child(NSSASL, "mechanisms")
	plain := false
	for _, m := range mechs.childrenNamed(NSSASL, "mechanism") {
		if strings.TrimSpace(m.Text) == "PLAIN" {
			plain = true
		}
	}
	if !plain {
		why := "the server does not offer SASL PLAIN"
		if h.cfg.TLSMode == TLSNone {
			why += noPlainAdvice(feat)
		}
		return nil, &HandshakeError{Stage: "auth", Kind: ErrUnexpected, Err: errors.New(why)}
	}

	if err := h.write("auth", `<auth mechanism="PLAIN" xmlns="`+NSSASL+`">`+PlainMessage(identity, h.cfg.APIKey)+`</auth>`); err != nil {
		return nil, err
	}
	st, err := h.next("auth")
	if err != nil {
		return nil, err
	}
	switch st.Kind {
	case KindSuccess:
	case KindFailure:
		cond := h.red.String(string(st.Child))
		if cond == "" {
			cond = "failure"
		}
		return nil, &HandshakeError{Stage: "auth", Kind: ErrAuthRefused, Err: fmt.Errorf("refused (%s) for %s", cond, identity)}
	default:
		return nil, h.unexpected("auth", st)
	}

	h.f.Restart()
	if err := h.write("stream", header); err != nil {
		return nil, err
	}
	start, err := h.expect("stream", KindStreamStart)
	if err != nil {
		return nil, err
	}
	streamID := string(start.ID)
	feat, err = h.features("bind")
	if err != nil {
		return nil, err
	}
	if feat.Child(NSBind, "bind") == nil {
		return nil, &HandshakeError{Stage: "bind", Kind: ErrUnexpected, Err: errors.New("the server does not offer resource binding")}
	}
	bind := `<iq type="set" id="bind_1"><bind xmlns="` + NSBind + `"/></iq>`
	if h.cfg.Resource != "" {
		bind = `<iq type="set" id="bind_1"><bind xmlns="` + NSBind + `"><resource>` +
			string(appendText(nil, []byte(h.cfg.Resource))) + `</resource></bind></iq>`
	}
	if err := h.write("bind", bind); err != nil {
		return nil, err
	}
	res, err := h.iqResult("bind", "bind_1")
	if err != nil {
		return nil, err
	}
	jid := strings.TrimSpace(res.Child(NSBind, "bind").Child(NSBind, "jid").textOrEmpty())
	if jid == "" {
		return nil, &HandshakeError{Stage: "bind", Kind: ErrUnexpected, Err: errors.New("bind result without a jid")}
	}
	if h.cfg.Session {
		if err := h.write("session", `<iq type="set" id="sess_1"><session xmlns="`+NSSession+`"/></iq>`); err != nil {
			return nil, err
		}
		if _, err := h.iqResult("session", "sess_1"); err != nil {
			return nil, err
		}
	}
	return &Conn{Conn: h.c, Framer: h.f, JID: jid, StreamID: streamID}, nil
}

// hsStream is what both halves of the handshake share: the connection, its
// framer, and reading past keepalives with stream errors and ends typed.
// red removes the client's credentials from what the peer sent before it
// goes into an error (a server may echo them); nil on the server side.
type hsStream struct {
	c   net.Conn
	f   *Framer
	red *Redactor
}

// write sends s, an error failing stage.
func (h *hsStream) write(stage, s string) *HandshakeError {
	if _, err := io.WriteString(h.c, s); err != nil {
		return wrapIOError(stage, err)
	}
	return nil
}

// next returns the next item that is not a keepalive, turning a stream
// error into a *StreamError and a stream end into ErrClosed.
func (h *hsStream) next(stage string) (*Stanza, *HandshakeError) {
	for {
		st, err := h.f.Next()
		if err != nil {
			return nil, wrapIOError(stage, err)
		}
		switch st.Kind {
		case KindKeepalive:
			continue
		case KindStreamError:
			return nil, &HandshakeError{Stage: stage, Err: &StreamError{
				Condition: h.red.String(string(st.ErrorCondition)), Text: h.red.String(string(st.ErrorText))}}
		case KindStreamEnd:
			return nil, &HandshakeError{Stage: stage, Kind: ErrClosed, Err: errors.New("the peer ended its stream")}
		}
		return st, nil
	}
}

// expect returns the next item that is not a keepalive, which must be of
// kind k.
func (h *hsStream) expect(stage string, k Kind) (*Stanza, *HandshakeError) {
	st, err := h.next(stage)
	if err != nil {
		return nil, err
	}
	if st.Kind != k {
		return nil, h.unexpected(stage, st)
	}
	return st, nil
}

// unexpected is the error for an item the handshake does not allow at
// stage, quoting its start.
func (h *hsStream) unexpected(stage string, st *Stanza) *HandshakeError {
	return &HandshakeError{Stage: stage, Kind: ErrUnexpected, Err: fmt.Errorf("unexpected %s <%s>", st.Kind, describe(st, h.red))}
}

// features reads the server's <stream:features> as a tree.
func (h *clientHS) features(stage string) (*Element, *HandshakeError) {
	if _, err := h.expect(stage, KindFeatures); err != nil {
		return nil, err
	}
	e, err := h.f.Tree()
	if err != nil {
		return nil, wrapIOError(stage, err)
	}
	return e, nil
}

// iqResult waits for the IQ answering id, answering pings meanwhile.
func (h *clientHS) iqResult(stage, id string) (*Element, *HandshakeError) {
	for {
		st, err := h.next(stage)
		if err != nil {
			return nil, err
		}
		if st.Kind != KindIQ {
			return nil, h.unexpected(stage, st)
		}
		if string(st.ID) != id {
			if string(st.Type) == "get" && string(st.ChildSpace) == NSPing {
				if err := h.write(stage, string(AppendIQResult(nil, st.ID))); err != nil {
					return nil, err
				}
				continue
			}
			return nil, h.unexpected(stage, st)
		}
		if string(st.Type) != "result" {
			cond := h.red.String(string(st.ErrorCondition))
			if cond == "" {
				cond = h.red.String(string(st.Type))
			}
			return nil, &HandshakeError{Stage: stage, Kind: ErrUnexpected, Err: fmt.Errorf("refused: %s", cond)}
		}
		e, terr := h.f.Tree()
		if terr != nil {
			return nil, wrapIOError(stage, terr)
		}
		return e, nil
	}
}

// describe quotes the start of an item for an error: its first 80 bytes,
// after red removed any secret from the whole (cut first, a secret could
// be left in part).
func describe(st *Stanza, red *Redactor) string {
	raw := red.Bytes(st.Raw)
	if len(raw) > 80 {
		raw = raw[:80]
	}
	return strings.ToValidUTF8(string(raw), "?")
}

// wrapIOError types a read or write error of stage: a timeout, a
// connection closed, or the error as it is.
func wrapIOError(stage string, err error) *HandshakeError {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &HandshakeError{Stage: stage, Kind: ErrTimeout, Err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return &HandshakeError{Stage: stage, Kind: ErrClosed, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &HandshakeError{Stage: stage, Kind: ErrTimeout, Err: err}
	}
	return &HandshakeError{Stage: stage, Err: err}
}

// ExplainTLS returns err, a failed TLS handshake, with the reason said
// plainly when the server answered in plain text: an XMPP port that
// expects STARTTLS or no TLS answers a ClientHello with an XML stream
// header (and a stream error), and CCS needs TLS from the first byte. The
// advice names the way through: --tls starttls (or none), or the
// server's direct TLS port.
func ExplainTLS(err error) error {
	var re tls.RecordHeaderError
	if !errors.As(err, &re) || re.RecordHeader[0] != '<' {
		return err
	}
	return fmt.Errorf("the server answered in plain text (%q...), not TLS: this looks like an XMPP port that expects STARTTLS or no TLS, "+
		"while CCS speaks TLS from the first byte (XEP-0368 direct TLS): use --tls starttls (or --tls none for a server without TLS), "+
		"or point --target at the server's direct TLS port: %w",
		strings.ToValidUTF8(string(re.RecordHeader[:]), "?"), err)
}

// timeoutOr is d, or DefaultHandshakeTimeout when d is not positive.
func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultHandshakeTimeout
	}
	return d
}

// childrenNamed returns the children of e with that namespace and local
// name.
func (e *Element) childrenNamed(space, local string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Space == space && c.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// textOrEmpty is e's text, or "" for a nil e.
func (e *Element) textOrEmpty() string {
	if e == nil {
		return ""
	}
	return e.Text
}

// ServerConfig configures the server half of the stream handshake.
type ServerConfig struct {
	// Authenticate checks a SASL PLAIN identity and password. The identity
	// is given as sent (SENDER, SENDER@gcm.googleapis.com or
	// SENDER@fcm.googleapis.com); use SenderOf to normalise it. Required.
	Authenticate func(identity, password string) bool
	// Timeout bounds the whole handshake (default 10 s; the fake's
	// --auth-timeout).
	Timeout time.Duration
	// Framer limits what the server accepts.
	Framer FramerConfig
	// Reuse, when not nil, is a Framer no longer in use (from a closed
	// connection, made with the same FramerConfig) that is Reset and used
	// for this connection instead of a new one.
	Reuse *Framer
}

// ServerConn is the server side of an authenticated, bound stream.
type ServerConn struct {
	net.Conn
	Framer   *Framer // positioned after the bind IQ
	SenderID string  // the authenticated sender id (local part)
	// Domain is the CCS domain the client logged in to (Domain or
	// FCMDomain): its SASL identity's, else its stream header's "to".
	// The bound JID and the server's stream headers use it.
	Domain string
	JID    string // the bound full JID, SENDER@Domain/resource
}

// CCSDomain returns Domain or FCMDomain when d is one of them (in any
// letter case), or "".
func CCSDomain(d string) string {
	switch {
	case strings.EqualFold(d, Domain):
		return Domain
	case strings.EqualFold(d, FCMDomain):
		return FCMDomain
	}
	return ""
}

// SenderOf returns the sender id of a SASL identity: the identity without
// its "@gcm.googleapis.com" or "@fcm.googleapis.com". An identity with any
// other domain is returned whole (it names no CCS sender).
func SenderOf(identity string) string {
	if at := strings.LastIndexByte(identity, '@'); at >= 0 && CCSDomain(identity[at+1:]) != "" {
		return identity[:at]
	}
	return identity
}

// domainOf returns the CCS domain of a SASL identity, or "" when it has
// none (or another).
func domainOf(identity string) string {
	if at := strings.LastIndexByte(identity, '@'); at >= 0 {
		return CCSDomain(identity[at+1:])
	}
	return ""
}

// NewStreamID returns a stream id as CCS makes them: 16 upper-case hex
// characters.
func NewStreamID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

const (
	serverFeaturesSASL = `<stream:features><mechanisms xmlns="` + NSSASL + `"><mechanism>X-OAUTH2</mechanism>` +
		`<mechanism>X-GOOGLE-TOKEN</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>`
	serverFeaturesBind = `<stream:features><bind xmlns="` + NSBind + `"/><session xmlns="` + NSSession + `"/></stream:features>`
)

// serverStreamHeader is the server's stream header, from domain (one of
// the CCS domains, so it needs no escaping).
func serverStreamHeader(domain string) string {
	return `<stream:stream from="` + domain + `" id="` + NewStreamID() + `" version="1.0" xmlns:stream="` + NSStream + `" xmlns="` + NSClient + `">`
}

// ServerHandshake runs the server half: answers the stream header with a
// 16-hex-character id and the three SASL mechanisms (from the CCS domain
// the header's "to" names, gcm.googleapis.com when it names none), checks
// PLAIN with
// cfg.Authenticate (<failure><not-authorized/></failure> on refusal, then
// the stream is closed), then restart, bind (requested resource + 8 hex
// characters), and returns. Later session IQs and pings are answered by the
// caller's stanza loop (see AppendIQResult). Malformed or restricted XML is
// answered with the matching stream error, and a handshake that does not
// finish in time with connection-timeout, before the connection is closed;
// on any error the connection has been closed.
func ServerHandshake(c net.Conn, cfg ServerConfig) (*ServerConn, error) {
	if cfg.Authenticate == nil {
		c.Close()
		return nil, &HandshakeError{Stage: "stream", Err: errors.New("ccs: ServerConfig.Authenticate is required")}
	}
	f := cfg.Reuse
	if f != nil {
		f.Reset(c)
	} else {
		f = NewFramer(c, cfg.Framer)
	}
	h := &serverHS{hsStream: hsStream{c: c, f: f}, cfg: cfg}
	c.SetDeadline(time.Now().Add(timeoutOr(cfg.Timeout)))
	sc, err := h.run()
	if err != nil {
		h.fail(err)
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return sc, nil
}

// serverHS is the server half of one handshake.
type serverHS struct {
	hsStream
	cfg        ServerConfig
	headerSent bool
}

// run answers the stream header, checks SASL PLAIN, answers the
// restarted stream and the bind request.
func (h *serverHS) run() (*ServerConn, *HandshakeError) {
	start, err := h.expect("stream", KindStreamStart)
	if err != nil {
		return nil, err
	}
	// The domain a client names in its header is the one it is answered
	// from; the identity's domain, if any, then decides the bound JID.
	domain := CCSDomain(string(start.To))
	if domain == "" {
		domain = Domain
	}
	if err := h.write("stream", serverStreamHeader(domain)+serverFeaturesSASL); err != nil {
		return nil, err
	}
	h.headerSent = true

	st, err := h.expect("auth", KindAuth)
	if err != nil {
		return nil, err
	}
	auth, terr := h.f.Tree()
	if terr != nil {
		return nil, wrapIOError("auth", terr)
	}
	if mech := auth.AttrValue("mechanism"); mech != "PLAIN" {
		h.write("auth", `<failure xmlns="`+NSSASL+`"><invalid-mechanism/></failure>`+StreamEnd)
		return nil, &HandshakeError{Stage: "auth", Kind: ErrAuthRefused, Err: fmt.Errorf("mechanism %q is not supported", mech)}
	}
	authzid, identity, password, ok := decodePlain(strings.TrimSpace(string(st.Text)))
	if !ok || !h.cfg.Authenticate(identity, password) {
		h.write("auth", `<failure xmlns="`+NSSASL+`"><not-authorized/></failure>`+StreamEnd)
		return nil, &HandshakeError{Stage: "auth", Kind: ErrAuthRefused, Err: fmt.Errorf("refused for identity %q", identity)}
	}
	if authzid != "" && SenderOf(authzid) != SenderOf(identity) {
		// Credentials of one sender may not act for another: the
		// authorization identity, when sent, names the same sender in
		// any of its forms (xmpp4r sends SENDER@gcm.googleapis.com with
		// the authentication identity SENDER).
		h.write("auth", `<failure xmlns="`+NSSASL+`"><invalid-authzid/></failure>`+StreamEnd)
		return nil, &HandshakeError{Stage: "auth", Kind: ErrAuthRefused, Err: fmt.Errorf("authorization identity %q does not name the sender of %q", authzid, identity)}
	}
	if err := h.write("auth", `<success xmlns="`+NSSASL+`"/>`); err != nil {
		return nil, err
	}

	h.f.Restart()
	start, err = h.expect("stream", KindStreamStart)
	if err != nil {
		return nil, err
	}
	if d := domainOf(identity); d != "" {
		domain = d
	} else if d := CCSDomain(string(start.To)); d != "" {
		domain = d
	}
	from := CCSDomain(string(start.To))
	if from == "" {
		from = domain
	}
	if err := h.write("stream", serverStreamHeader(from)+serverFeaturesBind); err != nil {
		return nil, err
	}
	sender := SenderOf(identity)
	for {
		st, err := h.next("bind")
		if err != nil {
			return nil, err
		}
		if st.Kind != KindIQ {
			return nil, h.unexpected("bind", st)
		}
		if string(st.Type) == "get" && string(st.ChildSpace) == NSPing {
			if err := h.write("bind", string(AppendIQResult(nil, st.ID))); err != nil {
				return nil, err
			}
			continue
		}
		if string(st.Type) != "set" || string(st.ChildSpace) != NSBind || string(st.Child) != "bind" {
			return nil, h.unexpected("bind", st)
		}
		iq, terr := h.f.Tree()
		if terr != nil {
			return nil, wrapIOError("bind", terr)
		}
		resource := strings.TrimSpace(iq.Child(NSBind, "bind").Child(NSBind, "resource").textOrEmpty())
		var b [4]byte
		rand.Read(b[:])
		jid := sender + "@" + domain + "/" + resource + strings.ToUpper(hex.EncodeToString(b[:]))
		reply := AppendAttrEscaped([]byte(`<iq type="result" id="`), st.ID)
		reply = append(reply, `"><bind xmlns="`+NSBind+`"><jid>`...)
		reply = appendText(reply, []byte(jid))
		reply = append(reply, `</jid></bind></iq>`...)
		if err := h.write("bind", string(reply)); err != nil {
			return nil, err
		}
		return &ServerConn{Conn: h.c, Framer: h.f, SenderID: sender, Domain: domain, JID: jid}, nil
	}
}

// AppendAttrEscaped appends s escaped for a double-quoted XML attribute
// value.
func AppendAttrEscaped(dst, s []byte) []byte { return appendAttr(dst, s) }

// decodePlain splits a base64 SASL PLAIN message (RFC 4616): authzid NUL
// authcid NUL password. The identity is the authcid (or the authzid when
// it alone is set); authzid is the authorization identity as sent, often
// empty.
func decodePlain(b64 string) (authzid, identity, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", "", false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return "", "", "", false
	}
	authzid, identity = parts[0], parts[1]
	if identity == "" {
		identity = authzid
	}
	return authzid, identity, parts[2], identity != ""
}

// fail tells the client why the handshake ends, when the protocol has a
// stream error for it: malformed or restricted XML, an unexpected element
// (not-authorized before authentication, bad-format after), or a timeout.
func (h *serverHS) fail(err *HandshakeError) {
	var cond string
	var se *StreamError
	switch {
	case errors.Is(err, ErrAuthRefused), errors.Is(err, ErrClosed), errors.As(err, &se):
		return // already answered, or nobody to answer
	case errors.Is(err, ErrTimeout):
		cond = CondConnectionTimeout
	case errors.Is(err, ErrUnexpected):
		cond = CondNotAuthorized
		if err.Stage == "bind" {
			cond = CondBadFormat
		}
	default:
		var sx *SyntaxError
		if !errors.As(err, &sx) {
			return
		}
		cond = Condition(err)
	}
	var out []byte
	if !h.headerSent {
		out = append(out, serverStreamHeader(Domain)...)
	}
	out = AppendStreamError(out, cond, "")
	h.c.SetWriteDeadline(time.Now().Add(time.Second))
	h.c.Write(out)
}
