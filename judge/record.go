package judge

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
)

// recorder is the fake's Observer for one scenario: it gives every bound
// connection its own connLog, so that events take no lock; the logs are
// read once the server is closed (Server.Close waits for every
// connection's goroutine, which orders their writes before the reads).
type recorder struct {
	sender string // the sender id, replaced by SENDER in login forms

	mu    sync.Mutex
	conns []*connLog
}

var _ fakeccs.Observer = (*recorder)(nil)

// Bind starts the log of a connection.
func (r *recorder) Bind(ci fakeccs.ConnInfo) fakeccs.ConnObserver {
	l := &connLog{seq: ci.Seq, bound: ci.At, login: loginForm(ci.Identity, r.sender), end: -1}
	r.mu.Lock()
	r.conns = append(r.conns, l)
	r.mu.Unlock()
	return l
}

// logs returns the connection logs in the order the connections were
// accepted. Call it only after the server was closed.
func (r *recorder) logs() []*connLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.conns)
	slices.SortFunc(out, func(a, b *connLog) int { return int(a.seq) - int(b.seq) })
	return out
}

// loginForm shows a SASL identity with the sender id replaced by SENDER.
func loginForm(identity, sender string) string {
	if sender != "" && strings.HasPrefix(identity, sender) {
		return "SENDER" + identity[len(sender):]
	}
	return identity
}

// readEv is a downstream message read; its id is connLog.ids[off:off+n].
type readEv struct {
	off, n   uint32
	at       time.Duration
	pending  uint32 // saturated: a window is 100
	leftover bool   // read after the fake stopped answering: never answered
}

// answerEv is an answer to a downstream message. at is when the write
// that carried it went out, or -1 while it has not (it never did if the
// connection ended first).
type answerEv struct {
	at   time.Duration
	read int32  // index of the read it answers in connLog.reads, -1 for none
	code uint16 // NACK code: connLog.codes[code-1]; 0 for none
	kind fakeccs.AnswerKind
	ok   bool // the write succeeded
}

// drainEv is a drain. notice is when the client was told: the write of
// the control message, or of the first CONNECTION_DRAINING NACK of a
// drain without one; -1 until then.
type drainEv struct {
	start, notice time.Duration
	asNack        bool
}

// upEv is an upstream message or receipt sent.
type upEv struct {
	id      string
	receipt bool
	at      time.Duration
}

// upAckEv is the ACK of an upstream message or receipt.
type upAckEv struct {
	id                  string
	receipt, unprefixed bool
	latency             time.Duration
}

// connLog is everything the fake saw of one connection. Its methods are
// called by the connection's goroutine only, on the fake's hot path: a
// read or an answer appends a small record and the id's bytes, and
// allocates nothing once the slices have grown.
type connLog struct {
	seq   uint64
	bound time.Duration
	login string

	ids     []byte // the ids of reads, back to back
	reads   []readEv
	answers []answerEv
	codes   []string // NACK codes seen, for answerEv.code
	// unflushed is the first answer not yet written; next the read the
	// next answer most likely answers: the fake answers in the order it
	// reads, unless answers are jittered.
	unflushed, next int

	drain  *drainEv
	ups    []upEv
	upAcks []upAckEv
	// wrongTo counts ACKs answered BAD_ACK, unknown ACKs of ids with
	// nothing unacknowledged here: [0] of upstream messages, [1] of
	// receipts (by the id's "dr2:").
	wrongTo, unknown [2]int

	end   time.Duration // -1 while open
	cause fakeccs.EndCause
}

var _ fakeccs.ConnObserver = (*connLog)(nil)

// id returns the id of read i.
func (l *connLog) id(i int) []byte {
	r := &l.reads[i]
	return l.ids[r.off : r.off+r.n]
}

// add appends a read.
func (l *connLog) add(id []byte, at time.Duration, pending uint64, leftover bool) {
	l.reads = append(l.reads, readEv{off: uint32(len(l.ids)), n: uint32(len(id)), at: at,
		pending: uint32(min(pending, 1<<31)), leftover: leftover})
	l.ids = append(l.ids, id...)
}

// Read records a downstream message read.
func (l *connLog) Read(id []byte, at time.Duration, pending uint64) { l.add(id, at, pending, false) }

// Leftover records a message read and never answered.
func (l *connLog) Leftover(id []byte, at time.Duration) { l.add(id, at, 0, true) }

// Answer records an answer put into the reply buffer, and finds the read
// it answers: the next in order, else the latest read of its id.
func (l *connLog) Answer(id []byte, kind fakeccs.AnswerKind, code string) {
	read := -1
	if l.next < len(l.reads) && bytes.Equal(l.id(l.next), id) {
		read = l.next
	} else {
		for i := len(l.reads) - 1; i >= 0; i-- {
			if bytes.Equal(l.id(i), id) {
				read = i
				break
			}
		}
	}
	if read >= l.next {
		l.next = read + 1
	}
	c := 0
	if code != "" {
		if c = slices.Index(l.codes, code) + 1; c == 0 {
			l.codes = append(l.codes, code)
			c = len(l.codes)
		}
	}
	l.answers = append(l.answers, answerEv{read: int32(read), kind: kind, code: uint16(c), at: -1})
}

// code returns the NACK code of an answer, "" for none.
func (l *connLog) code(a *answerEv) string {
	if a.code == 0 {
		return ""
	}
	return l.codes[a.code-1]
}

// Flush dates every answer since the previous flush, and a drain's
// notice.
func (l *connLog) Flush(at time.Duration, ok bool) {
	batch := l.answers[l.unflushed:]
	for i := range batch {
		batch[i].at, batch[i].ok = at, ok
	}
	l.unflushed = len(l.answers)
	if d := l.drain; d != nil && d.notice < 0 && ok {
		if !d.asNack {
			d.notice = at
		} else if slices.ContainsFunc(batch, func(a answerEv) bool { return l.code(&a) == codeDraining }) {
			d.notice = at
		}
	}
}

// Drain records the start of a drain.
func (l *connLog) Drain(at time.Duration, asNack bool) {
	l.drain = &drainEv{start: at, notice: -1, asNack: asNack}
}

// Upstream records an upstream message or receipt sent.
func (l *connLog) Upstream(id []byte, receipt, _ bool, at time.Duration) {
	l.ups = append(l.ups, upEv{id: string(id), receipt: receipt, at: at})
}

// UpstreamAck records the ACK of an upstream message or receipt.
func (l *connLog) UpstreamAck(id []byte, receipt, unprefixed bool, sentAt, at time.Duration) {
	l.upAcks = append(l.upAcks, upAckEv{id: string(id), receipt: receipt, unprefixed: unprefixed, latency: at - sentAt})
}

// BadAck counts an ACK that settled nothing.
func (l *connLog) BadAck(id []byte, unknown bool, _ time.Duration) {
	k := 0
	if bytes.HasPrefix(id, []byte(ccs.ReceiptIDPrefix)) {
		k = 1
	}
	if unknown {
		l.unknown[k]++
	} else {
		l.wrongTo[k]++
	}
}

// End records the end of the connection.
func (l *connLog) End(at time.Duration, cause fakeccs.EndCause) {
	l.end, l.cause = at, cause
}

// codeDraining is the NACK code of a draining connection.
const codeDraining = "CONNECTION_DRAINING"
