package judge

import (
	"slices"
	"strings"
	"sync"
	"time"

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
	l := &connLog{seq: ci.Seq, bound: ci.At, login: loginForm(ci.Identity, r.sender), end: -1,
		latest: map[string]int32{}}
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

// readEv is a downstream message read.
type readEv struct {
	id       string
	at       time.Duration
	pending  uint64
	leftover bool // read after the fake stopped answering: never answered
}

// answerEv is an answer to a downstream message. at is when the write
// that carried it went out, or -1 while it has not (it never did if the
// connection ended first).
type answerEv struct {
	read int32 // index of the read it answers in connLog.reads, -1 for none
	kind fakeccs.AnswerKind
	code string
	at   time.Duration
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
// called by the connection's goroutine only.
type connLog struct {
	seq   uint64
	bound time.Duration
	login string

	reads   []readEv
	answers []answerEv
	// unflushed is the first answer not yet written.
	unflushed int
	// latest maps a message id to its latest read, so that an answer
	// finds its read and the id's string is made once.
	latest map[string]int32

	drain   *drainEv
	ups     []upEv
	upAcks  []upAckEv
	wrongTo int // ACKs answered BAD_ACK
	unknown int // ACKs of ids with nothing unacknowledged here

	end   time.Duration // -1 while open
	cause fakeccs.EndCause
}

var _ fakeccs.ConnObserver = (*connLog)(nil)

// intern returns the string of id, made once per id and connection.
func (l *connLog) intern(id []byte) (string, int32) {
	if i, ok := l.latest[string(id)]; ok {
		return l.reads[i].id, i
	}
	return string(id), -1
}

// Read records a downstream message read.
func (l *connLog) Read(id []byte, at time.Duration, pending uint64) {
	s, _ := l.intern(id)
	if s != "" {
		l.latest[s] = int32(len(l.reads))
	}
	l.reads = append(l.reads, readEv{id: s, at: at, pending: pending})
}

// Leftover records a message read and never answered.
func (l *connLog) Leftover(id []byte, at time.Duration) {
	s, _ := l.intern(id)
	if s != "" {
		l.latest[s] = int32(len(l.reads))
	}
	l.reads = append(l.reads, readEv{id: s, at: at, leftover: true})
}

// Answer records an answer put into the reply buffer.
func (l *connLog) Answer(id []byte, kind fakeccs.AnswerKind, code string) {
	read := int32(-1)
	if len(id) > 0 {
		_, read = l.intern(id)
	}
	l.answers = append(l.answers, answerEv{read: read, kind: kind, code: code, at: -1})
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
		} else if slices.ContainsFunc(batch, func(a answerEv) bool { return a.code == codeDraining }) {
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
func (l *connLog) BadAck(_ []byte, unknown bool, _ time.Duration) {
	if unknown {
		l.unknown++
	} else {
		l.wrongTo++
	}
}

// End records the end of the connection.
func (l *connLog) End(at time.Duration, cause fakeccs.EndCause) {
	l.end, l.cause = at, cause
}

// codeDraining is the NACK code of a draining connection.
const codeDraining = "CONNECTION_DRAINING"
