package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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

// NewNativeTransport returns the Transport built on package ccs: direct
// TLS to addr, the stream handshake of ccs.Dial with cfg, ccs's framer and
// JSON reader on the read side and its encoders on the write side. Its
// framer reads NativeReadSize bytes at a time unless cfg.Framer says
// otherwise, and its connections share write buffers (see nativeConn).
func NewNativeTransport(addr string, cfg ccs.ClientConfig) Transport {
	if cfg.Framer.ReadSize == 0 {
		cfg.Framer.ReadSize = NativeReadSize
	}
	return &nativeTransport{addr: addr, cfg: cfg}
}

// NativeReadSize is the read size, in bytes, of the native client's
// framer: its read buffer, held by every connection even when idle. A
// TLS record holds at most 16 KiB, which a 4 KiB buffer takes in four
// reads from memory.
const NativeReadSize = 4 << 10

// writeBufs holds the native connections' write buffers. A writer takes
// one for a burst of stanzas and gives it back when it flushes, so that a
// thousand connections of which a few write at any moment hold a few
// buffers, not a thousand.
var writeBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, flushAt+8<<10)
	return &b
}}

type nativeTransport struct {
	addr string
	cfg  ccs.ClientConfig
}

func (t *nativeTransport) Name() string { return "native" }

func (t *nativeTransport) Dial(ctx context.Context, index int) (Conn, error) {
	c, err := ccs.Dial(ctx, t.addr, t.cfg)
	if err != nil {
		return nil, err
	}
	return newNativeConn(c, c.Conn), nil
}

// nativeConn is a Conn over a *ccs.Conn. Its write buffer comes from
// writeBufs at the first stanza after a flush and goes back at the flush.
// Its framer reads from src through in, which runs the BeforeRead hook
// first.
type nativeConn struct {
	c *ccs.Conn
	w *[]byte // writer goroutine only; nil between a flush and the next stanza

	in  hookReader     // reader goroutine only
	jr  ccs.JSONReader // reader goroutine only
	msg ccs.Message
}

// newNativeConn returns the Conn over c, whose framer reads from src (the
// TLS connection) from now on through the BeforeRead hook.
func newNativeConn(c *ccs.Conn, src io.Reader) *nativeConn {
	n := &nativeConn{c: c, in: hookReader{r: src}}
	c.Framer.SetReader(&n.in)
	return n
}

// hookReader reads from r after calling before, if set. The framer calls
// Read only when it has no whole item left to return, so before runs
// exactly when the reader is about to wait for the network. A read from
// TLS may be served from a record already decrypted and not block: before
// then runs needlessly, which costs two loads.
type hookReader struct {
	r      io.Reader
	before func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if h.before != nil {
		h.before()
	}
	return h.r.Read(p)
}

// buf returns the write buffer, taken from writeBufs if the writer has none.
func (n *nativeConn) buf() *[]byte {
	if n.w == nil {
		n.w = writeBufs.Get().(*[]byte)
	}
	return n.w
}

func (n *nativeConn) SendDownstream(payload []byte) {
	b := n.buf()
	*b = ccs.AppendDownstream(*b, payload)
}

func (n *nativeConn) SendAck(to, id []byte) {
	b := n.buf()
	*b = ccs.AppendUpstreamAck(*b, to, id)
}

func (n *nativeConn) SendPong(id []byte) {
	b := n.buf()
	*b = ccs.AppendIQResult(*b, id)
}

func (n *nativeConn) SendStreamEnd() {
	b := n.buf()
	*b = append(*b, ccs.StreamEnd...)
}

func (n *nativeConn) Unflushed() int {
	if n.w == nil {
		return 0
	}
	return len(*n.w)
}

func (n *nativeConn) BeforeRead(f func()) { n.in.before = f }
func (n *nativeConn) Close() error        { return n.c.Close() }

func (n *nativeConn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }

// Flush writes the buffer and gives it back to writeBufs.
func (n *nativeConn) Flush() error {
	if n.w == nil {
		return nil
	}
	var err error
	if len(*n.w) > 0 {
		_, err = n.c.Write(*n.w)
	}
	*n.w = (*n.w)[:0]
	writeBufs.Put(n.w)
	n.w = nil
	return err
}

var (
	typeError = []byte("error")
	typeGet   = []byte("get")
)

func (n *nativeConn) Next(ev *Event) error {
	for {
		st, err := n.c.Framer.Next()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return io.EOF
			}
			return err
		}
		*ev = Event{}
		switch st.Kind {
		case ccs.KindMessage:
			if n.message(st, ev) {
				return nil
			}
		case ccs.KindIQ:
			if bytes.Equal(st.Type, typeGet) && string(st.ChildSpace) == ccs.NSPing {
				ev.Kind = EventPing
				ev.ID = st.ID
				return nil
			}
		case ccs.KindStreamEnd:
			ev.Kind = EventStreamEnd
			return nil
		case ccs.KindStreamError:
			return &ccs.StreamError{Condition: string(st.ErrorCondition), Text: string(st.ErrorText)}
		}
	}
}

// message fills ev from a message stanza; false when there is nothing to
// act on.
func (n *nativeConn) message(st *ccs.Stanza, ev *Event) bool {
	if !st.HasGCM {
		return false
	}
	m := &n.msg
	if bytes.Equal(st.Type, typeError) {
		ev.Kind = EventStanzaError
		ev.Payload = st.GCM
		ev.Condition = st.ErrorCondition
		if n.jr.Parse(st.GCM, m) == nil && m.MessageID.Kind == ccs.JSONString {
			ev.ID = m.MessageID.Str
		}
		return true
	}
	if err := n.jr.Parse(st.GCM, m); err != nil {
		return false
	}
	ev.ID = m.MessageID.Str
	switch m.Type {
	case ccs.TypeAck:
		ev.Kind = EventAck
	case ccs.TypeNack:
		ev.Kind = EventNack
		ev.Error = m.Error.Str
		ev.Code = ccs.ParseNackCode(m.Error.Str)
	case ccs.TypeControl:
		ev.Kind = EventControl
		ev.Control = m.ControlType.Str
	case ccs.TypeReceipt:
		ev.Kind = EventReceipt
		ev.From = m.From.Str
	case ccs.TypeNone:
		if m.From.Kind != ccs.JSONString || m.MessageID.Kind != ccs.JSONString {
			return false
		}
		ev.Kind = EventUpstream
		ev.From = m.From.Str
	default:
		return false
	}
	return true
}

// stageOf names the handshake stage of a dial error for people.
func stageOf(err error) string {
	var he *ccs.HandshakeError
	if errors.As(err, &he) {
		return he.Stage
	}
	return "dial"
}

// DialError is a connection that could not be made or authenticated when
// the run started. It names the stage (dial, tls, stream, auth, bind...)
// and never contains the API key.
type DialError struct {
	Conn  int    // the logical connection, 0-based
	Stage string // handshake stage that failed
	Err   error
}

// Error implements error. A *ccs.HandshakeError names its stage itself.
func (e *DialError) Error() string {
	var he *ccs.HandshakeError
	if errors.As(e.Err, &he) {
		return fmt.Sprintf("driver: connection %d: %v", e.Conn+1, e.Err)
	}
	return fmt.Sprintf("driver: connection %d failed at %s: %v", e.Conn+1, e.Stage, e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }
