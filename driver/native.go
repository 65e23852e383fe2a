package driver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// NewNativeTransport returns the Transport built on package ccs: a
// connection to addr secured as cfg.TLSMode says (TLS from the first byte
// by default), the stream handshake of ccs.Dial with cfg, ccs's framer and
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
// then runs early, which costs two loads when there is nothing to hand
// over.
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

func (n *nativeConn) Close() error { return n.c.Close() }

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
	isErr := bytes.Equal(st.Type, typeError)
	if !st.HasGCM && !isErr {
		return false
	}
	m := &n.msg
	if isErr {
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
