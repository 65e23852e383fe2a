package fakeccs

import (
	"net"
	"time"
)

// Observer, set as Config.Observer, is told what happens on every bound
// connection of a server, as the server sees it: which downstream
// messages it read and when, which answers it wrote and when they went
// out, drains, upstream messages and their ACKs, and how the connection
// ended. It is how a tool judges a client from the server side alone
// (ccsbench judge) without any help from the client.
//
// Without an Observer the fake's per-message path does no more than
// compare a nil interface; with one, every event is a method call on the
// connection's own goroutine, so an implementation needs no lock per
// event and must be quick: it runs on the fake's hot path.
type Observer interface {
	// Bind is called once a connection has authenticated and bound its
	// stream, on the connection's goroutine, before any other of its
	// events. It returns the connection's ConnObserver, or nil to observe
	// nothing of it.
	Bind(ConnInfo) ConnObserver
}

// ConnInfo describes a connection when it is bound.
type ConnInfo struct {
	// Seq numbers the server's connections, from 1, in the order they
	// were accepted.
	Seq uint64
	// At is when the stream was bound, on the server's clock (see
	// ConnObserver).
	At time.Duration
	// Identity is the SASL PLAIN authentication identity as the client
	// sent it: SENDER, SENDER@gcm.googleapis.com or
	// SENDER@fcm.googleapis.com.
	Identity string
	// Domain is the CCS domain the client is answered from.
	Domain string
	// Remote is the client's address.
	Remote net.Addr
}

// AnswerKind is the kind of answer to a downstream message.
type AnswerKind uint8

// The answers to a downstream message.
const (
	AnswerAck         AnswerKind = iota // an ACK
	AnswerNack                          // a NACK, with a code
	AnswerStanzaError                   // a stanza error (no usable message_id, or a payload that is not JSON)
)

// String names the kind: "ack", "nack" or "stanza-error".
func (k AnswerKind) String() string {
	switch k {
	case AnswerNack:
		return "nack"
	case AnswerStanzaError:
		return "stanza-error"
	}
	return "ack"
}

// EndCause is why a connection ended.
type EndCause uint8

// The ends of a connection.
const (
	// EndClosed: the connection was lost or closed without a stream end
	// from either side (EOF, a reset, a failed write, Server.Close).
	EndClosed EndCause = iota
	// EndClientEnd: the client ended its stream (</stream:stream>).
	EndClientEnd
	// EndDropped: Config.DropEvery or DropTotal closed it abruptly.
	EndDropped
	// EndDrained: the fake ended the stream of a draining connection.
	EndDrained
	// EndStreamError: the fake sent a stream error (bad XML, a stanza too
	// large, the strict window) or the client did.
	EndStreamError
)

// String names the cause: "closed", "client-end", "dropped", "drained" or
// "stream-error".
func (e EndCause) String() string {
	switch e {
	case EndClientEnd:
		return "client-end"
	case EndDropped:
		return "dropped"
	case EndDrained:
		return "drained"
	case EndStreamError:
		return "stream-error"
	}
	return "closed"
}

// ConnObserver receives the events of one connection, in the order they
// happen, from the connection's goroutine. Times are on the server's
// monotonic clock: the time since New made the server, comparable across
// the server's connections. Byte slices are valid only during the call.
//
// The fake writes its replies in batches (see the package doc): Answer,
// Upstream and a drain's control message put something into the reply
// buffer, and the next Flush says when that buffer went out. A reply
// buffer that is never written (its connection was dropped or lost
// first) gets no Flush: the client never saw those answers.
type ConnObserver interface {
	// Read: a downstream message was read at at. id is its message_id
	// (nil when it has none the fake can use). pending is how many
	// earlier downstream messages of the connection had no answer written
	// before the read that brought this one: the message broke the window
	// when pending >= ccs.MaxPending (Stats.WindowViolations).
	Read(id []byte, at time.Duration, pending uint64)
	// Leftover: a downstream message was read at at after the fake had
	// stopped answering the connection (it was being dropped or its
	// stream had ended): it is never answered (Stats.Abandoned or
	// Discarded).
	Leftover(id []byte, at time.Duration)
	// Answer: the answer to downstream message id (nil for a stanza error
	// to a message without a usable id) went into the reply buffer; code
	// is the NACK code of AnswerNack. With Config.AckDelay this happens
	// when the delay is over.
	Answer(id []byte, kind AnswerKind, code string)
	// Flush: the reply buffer was written at at (ok: without an error).
	// Everything that went into it since the previous Flush is on the
	// wire (or, with !ok, may be partly).
	Flush(at time.Duration, ok bool)
	// Drain: the connection started draining at at; asNack: without the
	// control message (Config.DrainAsNack, DrainAlternate), otherwise the
	// control message went into the reply buffer.
	Drain(at time.Duration, asNack bool)
	// Upstream: an upstream message (receipt: a delivery receipt) went
	// into the reply buffer at at; resend: it was sent before, on this
	// or another connection.
	Upstream(id []byte, receipt, resend bool, at time.Duration)
	// UpstreamAck: the client ACKed, at at, the upstream message or
	// receipt id that was sent on this connection at sentAt; unprefixed:
	// a receipt ACKed with its id stripped of "dr2:".
	UpstreamAck(id []byte, receipt, unprefixed bool, sentAt, at time.Duration)
	// BadAck: the client sent an ACK at at that settles nothing: one
	// whose "to" is not the "from" of the message or that misses a field
	// (answered BAD_ACK; unknown false), or one of an id with nothing
	// unacknowledged on this connection (unknown true).
	BadAck(id []byte, unknown bool, at time.Duration)
	// End: the connection ended at at, for cause. No event of it follows.
	End(at time.Duration, cause EndCause)
}
