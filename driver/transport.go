package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Transport opens connections to a CCS endpoint. The driver runs the same
// workload, window, retry and accounting logic over any Transport, so that
// client implementations can be compared: NewNativeTransport is the one
// built on package ccs; another may wrap a general-purpose XMPP library.
type Transport interface {
	// Dial opens one connection, authenticated and bound, ready for
	// stanzas. index is the logical connection (0..Conns-1), for naming.
	// Failures should wrap a *ccs.HandshakeError naming the stage where
	// possible, and must never contain the API key.
	Dial(ctx context.Context, index int) (Conn, error)
	// Name names the client implementation in results ("native").
	Name() string
}

// Conn is one established CCS connection. It is used by exactly two
// goroutines at once: a writer, which calls the Send methods, Unflushed
// and Flush, and a reader, which calls Next. BeforeRead is called once,
// before the reader starts; Close and SetReadDeadline may be called from
// any goroutine. Send methods append to an internal buffer and must not
// allocate in steady state; Flush writes everything appended since the
// last Flush.
type Conn interface {
	// SendDownstream appends a downstream message carrying the JSON
	// payload (not yet XML-escaped).
	SendDownstream(payload []byte)
	// SendAck appends the ACK of an upstream message or receipt: to is
	// the "from" of that message, id its message_id, sent back unchanged.
	SendAck(to, id []byte)
	// SendPong appends the result of a XEP-0199 ping with IQ id id.
	SendPong(id []byte)
	// SendStreamEnd appends the end of the stream (</stream:stream>).
	SendStreamEnd()
	// Unflushed returns the number of bytes appended and not yet flushed.
	Unflushed() int
	// Flush writes what was appended.
	Flush() error
	// Next blocks until the next event and fills ev, whose slices stay
	// valid until the next call. io.EOF means the peer closed the TCP
	// connection; a *ccs.StreamError a stream error from the server.
	// Whitespace keepalives are consumed without an event. Before every
	// read from the network, Next calls the function set by BeforeRead.
	Next(ev *Event) error
	// BeforeRead sets the function that Next calls, on the reader's
	// goroutine, before every read from the network (any of which may
	// block): there the driver hands the ACKs its reader owes to the
	// writer and wakes whoever waits for the credit its answers freed,
	// so that nothing already read waits for bytes that may never come
	// (a read buffer may end with half a stanza).
	BeforeRead(f func())
	// SetReadDeadline bounds the reader's wait (as net.Conn's).
	SetReadDeadline(t time.Time) error
	// Close closes the connection at once.
	Close() error
}

// EventKind classifies what a Conn read.
type EventKind uint8

// The events a reader acts on.
const (
	EventOther       EventKind = iota // anything the driver ignores
	EventAck                          // ACK of a downstream message: ID
	EventNack                         // NACK: ID, Code, Error
	EventStanzaError                  // stanza error: ID if known, Payload (echoed gcm payload), Condition
	EventControl                      // control message: Control (e.g. CONNECTION_DRAINING)
	EventUpstream                     // upstream message from a device: ID, From
	EventReceipt                      // delivery receipt: ID ("dr2:..."), From
	EventPing                         // XEP-0199 ping: ID is the IQ id
	EventStreamEnd                    // </stream:stream> from the server
)

// Event is one thing read from a connection. Slices point into the
// Conn's buffers and are valid until its next Next.
type Event struct {
	Kind EventKind
	// ID is the message_id (or the IQ id of a ping).
	ID []byte
	// From is the "from" of an upstream message or receipt.
	From []byte
	// Code is the NACK code; Error the "error" field as sent.
	Code  ccs.NackCode
	Error []byte
	// Control is the control_type of a control message.
	Control []byte
	// Payload is the gcm payload of a stanza error (the server echoes
	// the message it refused); Condition its error condition.
	Payload, Condition []byte
}

// RoundRobin returns a Transport that opens logical connection i with
// ts[i % len(ts)] (one transport per sender id, say), named after ts[0].
// ts must not be empty. In a shard I of N (Config.Shard), the driver
// makes the choice by the job's connection number I + i·N instead, so
// that the job's connections, not each shard's, take the transports in
// turn.
func RoundRobin(ts ...Transport) Transport {
	if len(ts) == 1 {
		return ts[0]
	}
	return &roundRobin{ts: ts, stride: 1}
}

// roundRobin opens logical connection i with ts[(first + i·stride) mod
// len(ts)].
type roundRobin struct {
	ts            []Transport
	first, stride int
}

func (r *roundRobin) Dial(ctx context.Context, index int) (Conn, error) {
	return r.ts[(r.first+index*r.stride)%len(r.ts)].Dial(ctx, index)
}

func (r *roundRobin) Name() string { return r.ts[0].Name() }

// stageOf names the handshake stage of a dial error for people.
func stageOf(err error) string {
	var he *ccs.HandshakeError
	if errors.As(err, &he) {
		return he.Stage
	}
	return "dial"
}

// DialError is a connection that could not be made or authenticated when
// the run started. Its text reads "connection 3 of 8 could not connect to
// HOST:PORT: " and the cause (a *ccs.HandshakeError names its stage
// itself); it never contains the API key.
type DialError struct {
	Conn  int    // the lane (logical connection), 0-based
	Conns int    // how many connections the run makes
	Addr  string // Config.Target; empty with a Transport of the caller's
	Stage string // the handshake stage that failed: dial, tls, stream, auth, bind...
	Err   error
}

// Error implements error.
func (e *DialError) Error() string {
	to := ""
	if e.Addr != "" {
		to = " to " + e.Addr
	}
	return fmt.Sprintf("connection %d of %d could not connect%s: %v", e.Conn+1, e.Conns, to, e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }
