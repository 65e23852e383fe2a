package ccs

import (
	"errors"
	"fmt"
)

// Sentinel errors of the framer. A *SyntaxError wraps exactly one of them;
// test with errors.Is. Each maps to the stream error condition a server
// sends before closing the stream (see Condition).
var (
	// ErrMalformed: the bytes are not well-formed XML (invalid-xml).
	ErrMalformed = errors.New("ccs: malformed XML")
	// ErrRestricted: a DOCTYPE, entity declaration, comment or processing
	// instruction after the prolog, which XMPP forbids (restricted-xml).
	ErrRestricted = errors.New("ccs: restricted XML")
	// ErrStanzaTooLarge: a stanza exceeds the configured size limit
	// (policy-violation).
	ErrStanzaTooLarge = errors.New("ccs: stanza exceeds size limit")
	// ErrTooDeep: elements nest deeper than the configured limit
	// (policy-violation).
	ErrTooDeep = errors.New("ccs: element nesting exceeds depth limit")
	// ErrBadNamespace: a stream header or stanza in the wrong namespace, or
	// an undeclared prefix (invalid-namespace).
	ErrBadNamespace = errors.New("ccs: invalid namespace")
)

// SyntaxError is a violation found by the framer in the input stream.
type SyntaxError struct {
	Err    error  // one of the sentinel errors above
	Offset int64  // byte offset in the stream where the violation was found
	Detail string // what was wrong, for people
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", e.Err, e.Offset, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Stream error conditions (RFC 6120 section 4.9.3) a CCS server sends.
const (
	CondInvalidXML        = "invalid-xml"
	CondRestrictedXML     = "restricted-xml"
	CondPolicyViolation   = "policy-violation"
	CondInvalidNamespace  = "invalid-namespace"
	CondNotAuthorized     = "not-authorized"
	CondConnectionTimeout = "connection-timeout"
	CondSystemShutdown    = "system-shutdown"
	CondBadFormat         = "bad-format"
	CondInternal          = "internal-server-error"
)

// Condition returns the stream error condition that answers err, or
// "internal-server-error" for errors that are not protocol violations.
func Condition(err error) string {
	switch {
	case errors.Is(err, ErrRestricted):
		return CondRestrictedXML
	case errors.Is(err, ErrStanzaTooLarge), errors.Is(err, ErrTooDeep):
		return CondPolicyViolation
	case errors.Is(err, ErrBadNamespace):
		return CondInvalidNamespace
	case errors.Is(err, ErrMalformed):
		return CondInvalidXML
	}
	return CondInternal
}

// StreamError is a <stream:error> received from the peer.
type StreamError struct {
	Condition string // e.g. "policy-violation"
	Text      string // the optional <text>, may be empty
}

// Error implements error: "stream error from peer: CONDITION: TEXT".
func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error from peer: " + e.Condition + ": " + e.Text
	}
	return "stream error from peer: " + e.Condition
}

// Handshake errors. A failed Dial, ClientHandshake or ServerHandshake
// returns a *HandshakeError whose Kind is one of these, or whose Err is a
// *StreamError, a *SyntaxError, a *tls.CertificateVerificationError, a
// network error and the like; errors.Is and errors.As find either.
var (
	// ErrAuthRefused: the server answered the SASL PLAIN attempt with
	// <failure/> (wrong sender id or API key), or the server refused it.
	ErrAuthRefused = errors.New("ccs: authentication refused")
	// ErrTimeout: the handshake did not finish within its time limit.
	ErrTimeout = errors.New("ccs: handshake timed out")
	// ErrTLS: the TLS handshake failed (certificate, protocol version...).
	ErrTLS = errors.New("ccs: TLS handshake failed")
	// ErrUnexpected: the peer sent something the handshake does not allow
	// at that point (a missing feature, a bind error...).
	ErrUnexpected = errors.New("ccs: unexpected element in handshake")
	// ErrClosed: the peer closed the connection during the handshake.
	ErrClosed = errors.New("ccs: connection closed during handshake")
	// ErrStartTLSRefused: the server answered <starttls/> with <failure/>
	// (TLSStartTLS).
	ErrStartTLSRefused = errors.New("ccs: STARTTLS refused")
	// ErrTLSRequired: the server requires STARTTLS and the client was
	// asked for no TLS (TLSNone).
	ErrTLSRequired = errors.New("ccs: the server requires TLS")
)

// HandshakeError reports which stage of the stream handshake failed, and
// why, in one line that names the stage once: "TLS handshake: tls: failed
// to verify certificate: ...", "SASL authentication: refused
// (not-authorized) for sender 42", "stream header: timed out: read tcp
// ...: i/o timeout". A caller adds where (which connection, which
// address) in front. It never contains the API key.
type HandshakeError struct {
	Stage string // "dial", "tls", "starttls", "stream", "auth", "bind", "session"
	// Kind is what went wrong as one of the sentinels above, for
	// errors.Is; nil when Err is all there is to say (a network error, a
	// *StreamError). The message says it in Err's words (or "timed out",
	// "connection closed"), not in the sentinel's.
	Kind error
	// Err is the cause: an error of the network, TLS or the peer, or the
	// details of Kind ("refused (not-authorized) for 42@gcm.googleapis.com").
	Err error
}

// stageNames names the handshake stages for people.
var stageNames = map[string]string{
	"dial":     "TCP connection",
	"tls":      "TLS handshake",
	"starttls": "STARTTLS negotiation",
	"stream":   "stream header",
	"auth":     "SASL authentication",
	"bind":     "resource binding",
	"session":  "session",
}

// Error implements error: the stage, then why it failed.
func (e *HandshakeError) Error() string {
	msg := e.Stage
	if name, ok := stageNames[e.Stage]; ok {
		msg = name
	}
	why := ""
	switch e.Kind {
	case nil, ErrTLS, ErrUnexpected, ErrAuthRefused, ErrStartTLSRefused, ErrTLSRequired:
		// Err says it: the stage names TLS, the details what was
		// unexpected or refused.
	case ErrTimeout:
		why = "timed out"
	case ErrClosed:
		why = "connection closed"
	default:
		why = e.Kind.Error()
	}
	if e.Err != nil {
		if why != "" {
			why += ": "
		}
		why += e.Err.Error()
	}
	if why == "" {
		why = "failed"
	}
	return msg + ": " + why
}

// Unwrap returns Kind and Err, those that are set.
func (e *HandshakeError) Unwrap() []error {
	var errs []error
	for _, err := range [...]error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
