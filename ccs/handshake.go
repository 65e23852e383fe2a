package ccs

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// ClientConfig configures the client half of the stream handshake.
type ClientConfig struct {
	// SenderID is the GCM sender id; the SASL identity is
	// SenderID@gcm.googleapis.com, as the CCS document says.
	SenderID string
	// APIKey is the SASL password. It never appears in errors or logs.
	APIKey string
	// Resource is the resource to request at bind; empty lets the server
	// choose.
	Resource string
	// Session sends the optional session IQ after bind.
	Session bool
	// TLS is the TLS configuration for Dial (nil: system roots, ServerName
	// from the address).
	TLS *tls.Config
	// Timeout bounds the whole handshake, dial included (default 10 s).
	Timeout time.Duration
	// Framer limits what the client accepts from the server.
	Framer FramerConfig
}

// Conn is an established, authenticated and bound CCS stream.
type Conn struct {
	net.Conn         // the TLS connection (or the conn given to ClientHandshake)
	Framer   *Framer // positioned after the handshake; owned by the reader goroutine
	JID      string  // the bound full JID, SENDER@gcm.googleapis.com/resource
	StreamID string  // the id of the server's (second) stream header
}

// Dial opens a TLS connection to addr (TLS from the first byte, no
// STARTTLS) and runs the client handshake. Failures are *HandshakeError.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*Conn, error) {
	return nil, errNotYet
}

// ClientHandshake runs the client half of the handshake over an existing
// connection: stream open, SASL PLAIN, stream restart, bind, optional
// session. Failures are *HandshakeError.
func ClientHandshake(ctx context.Context, c net.Conn, cfg ClientConfig) (*Conn, error) {
	return nil, errNotYet
}

// ServerConfig configures the server half of the stream handshake.
type ServerConfig struct {
	// Authenticate checks a SASL PLAIN identity and password. The identity
	// is given as sent (SENDER or SENDER@gcm.googleapis.com); use
	// SenderOf to normalise it. Required.
	Authenticate func(identity, password string) bool
	// Timeout bounds the whole handshake (default 10 s; the fake's
	// --auth-timeout).
	Timeout time.Duration
	// Framer limits what the server accepts.
	Framer FramerConfig
}

// ServerConn is the server side of an authenticated, bound stream.
type ServerConn struct {
	net.Conn
	Framer   *Framer // positioned after the bind IQ
	SenderID string  // the authenticated sender id (local part)
	JID      string  // the bound full JID
}

// ServerHandshake runs the server half: answers the stream header with a
// 16-hex-character id and the three SASL mechanisms, checks PLAIN with
// cfg.Authenticate (<failure><not-authorized/></failure> on refusal), then
// restart, bind (requested resource + 8 hex characters), and returns.
// Later session IQs and pings are answered by the caller's stanza loop
// (see AppendIQResult). Malformed or restricted XML is answered with the
// matching stream error before the connection is closed.
func ServerHandshake(c net.Conn, cfg ServerConfig) (*ServerConn, error) {
	return nil, errNotYet
}
