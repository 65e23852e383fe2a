package judge

import (
	"math"
	"slices"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
)

// Thresholds of the rules.
const (
	// AnswerSeen is how long a connection must stay open after an answer
	// was written for the client to count as having received it: a
	// message sent again after its ACK (or final NACK) went out on a
	// connection that then lived this long is a duplicate, while one
	// whose connection died sooner may have lost the answer with it.
	AnswerSeen = time.Second
	// UpstreamGrace: upstream messages and receipts sent less than this
	// before their connection closed need no ACK.
	UpstreamGrace = time.Second
	// MinFirstBackoff is the shortest wait accepted between a
	// SERVICE_UNAVAILABLE NACK and the message's first resend (the
	// protocol asks for an exponential backoff from 1 s; this leaves room
	// for jitter).
	MinFirstBackoff = 800 * time.Millisecond
	// MinBackoffGrowth is the least factor by which each later wait of
	// one message must exceed the one before: exponential backoff, with
	// room for jitter.
	MinBackoffGrowth = 1.25
)

// facts is what one scenario showed, boiled down for the rules; the
// connection logs are dropped once it is made.
type facts struct {
	name     string
	messages int // CCS_MESSAGES

	conns        int
	logins       map[string]uint64
	authFailures uint64
	// connections the fake closed before they were bound for another
	// reason than a refused login (TLS, stream, bind), and the first line
	// the fake logged in the scenario (why, when nothing bound)
	handshakeFailures uint64
	fakeLog           string

	// window
	maxPending, violations uint64
	// ids and answers
	received, distinct, finalAnswered int
	unanswered                        string // an id with no final answer, for the evidence
	acks                              int
	nacks                             map[string]uint64
	first, last                       time.Duration // first read, last answer written
	// no-duplicates
	dupIDs  int
	dupEx   string
	dupWhen time.Duration // how long after the ACK the example came again
	// upstream messages and receipts
	up, rc upFacts
	// drains
	drains, drainsNack, unnoticed int
	late, lateDrains, waited      int
	reactions                     []time.Duration
	// drops
	drops, atDrop, notResent int
	notResentEx              string
	resends                  []time.Duration
	// SERVICE_UNAVAILABLE
	suNacks, neverResent, tooSoon, notGrowing, chains int
	fastest                                           time.Duration
	firstWaits, retryWaits                            []time.Duration
	suEx                                              string
	// final NACKs
	finalNacks   map[string]int
	finalResent  int
	finalEx      string
	finalExCode  string
	finalExAfter time.Duration

	// self-check: events against the fake's counters
	readEvents, flushedAnswers uint64
}

// upFacts is what happened to upstream messages or to receipts.
type upFacts struct {
	sent, acked, excused, unacked int
	wrongTo, unknown              int // ACKs refused: see connLog.wrongTo
	unprefixed                    int // receipts ACKed without "dr2:"
	latency                       []time.Duration
	// Of the unacked: how many were the first sent on a connection (a
	// client library that takes the next element for the answer to its
	// own request loses exactly those), and the earliest one, with how
	// long after its connection was bound it was first sent.
	unackedFirst int
	unackedEx    string
	unackedAfter time.Duration
}

// add adds x's counts and latencies to u.
func (u *upFacts) add(x *upFacts) {
	u.sent += x.sent
	u.acked += x.acked
	u.excused += x.excused
	u.unacked += x.unacked
	u.wrongTo += x.wrongTo
	u.unknown += x.unknown
	u.unprefixed += x.unprefixed
	u.latency = append(u.latency, x.latency...)
	u.unackedFirst += x.unackedFirst
	if u.unackedEx == "" {
		u.unackedEx, u.unackedAfter = x.unackedEx, x.unackedAfter
	}
}

// occurrence is one read or written answer of a message id.
type occurrence struct {
	conn int
	at   time.Duration
	kind fakeccs.AnswerKind
	code string
}

// history is everything that happened to one message id, in time order.
type history struct {
	reads   []occurrence // leftovers included
	answers []occurrence // written without an error
}

// nextRead returns the first read of h after t, and whether there is one.
func (h *history) nextRead(t time.Duration) (occurrence, bool) {
	for _, r := range h.reads {
		if r.at > t {
			return r, true
		}
	}
	return occurrence{}, false
}

// final reports whether an answer ends a message for good: an ACK, a
// stanza error, or a NACK whose code is not retried.
func final(a occurrence) bool {
	return a.kind != fakeccs.AnswerNack || ccs.ParseNackCode([]byte(a.code)).Retry() == ccs.Final
}

// analyze boils the logs of a scenario down to facts. end is when the
// scenario's connections were all closed, on the server's clock.
func analyze(name string, messages int, logs []*connLog, st *fakeccs.Stats) *facts {
	f := &facts{name: name, messages: messages, conns: len(logs), logins: map[string]uint64{},
		authFailures: st.AuthFailures, handshakeFailures: st.HandshakeFailures, nacks: map[string]uint64{}, finalNacks: map[string]int{}, first: -1, last: -1}
	ids := map[string]*history{}
	hist := func(id []byte) *history {
		h := ids[string(id)]
		if h == nil {
			h = &history{}
			ids[string(id)] = h
		}
		return h
	}
	for ci, l := range logs {
		f.logins[l.login]++
		if l.end < 0 { // cannot happen once the server is closed; be safe
			l.end = time.Duration(math.MaxInt64)
		}
		for i, r := range l.reads {
			f.readEvents++
			if !r.leftover {
				f.received++
				f.maxPending = max(f.maxPending, uint64(r.pending)+1)
				if r.pending >= ccs.MaxPending {
					f.violations++
				}
			}
			if f.first < 0 || r.at < f.first {
				f.first = r.at
			}
			if r.n > 0 {
				h := hist(l.id(i))
				h.reads = append(h.reads, occurrence{conn: ci, at: r.at})
			}
		}
		for _, a := range l.answers {
			code := l.code(&a)
			if a.at < 0 {
				continue // never written: the connection ended first
			}
			f.flushedAnswers++
			if !a.ok {
				continue
			}
			f.last = max(f.last, a.at)
			switch a.kind {
			case fakeccs.AnswerAck:
				f.acks++
			case fakeccs.AnswerNack:
				f.nacks[code]++
			}
			if a.read >= 0 && l.reads[a.read].n > 0 {
				h := hist(l.id(int(a.read)))
				h.answers = append(h.answers, occurrence{conn: ci, at: a.at, kind: a.kind, code: code})
			}
		}
		if l.cause == fakeccs.EndDropped {
			f.drops++
		}
	}
	for _, h := range ids {
		slices.SortFunc(h.reads, func(a, b occurrence) int { return cmpDur(a.at, b.at) })
		slices.SortFunc(h.answers, func(a, b occurrence) int { return cmpDur(a.at, b.at) })
	}
	f.distinct = len(ids)
	f.idFacts(ids, logs)
	f.upstreamFacts(logs)
	f.drainFacts(logs)
	f.dropFacts(ids, logs)
	return f
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// resentAfter returns the first read of h that sends the message again
// after its final answer a when the client must have had a: on the
// connection a was written on (the answer was ahead of it on that
// stream), or anywhere once that connection had lived AnswerSeen after
// it. A resend elsewhere after a connection that died sooner is
// at-least-once delivery: the answer may have died with it.
func resentAfter(h *history, a occurrence, logs []*connLog) (occurrence, bool) {
	seen := logs[a.conn].end-a.at >= AnswerSeen
	for _, r := range h.reads {
		if r.at > a.at && (seen || r.conn == a.conn) {
			return r, true
		}
	}
	return occurrence{}, false
}

// idFacts checks every id: final answers, duplicates after an ACK, resends
// after final NACKs and after SERVICE_UNAVAILABLE.
func (f *facts) idFacts(ids map[string]*history, logs []*connLog) {
	for id, h := range ids {
		if slices.ContainsFunc(h.answers, final) {
			f.finalAnswered++
		} else if f.unanswered == "" || id < f.unanswered {
			f.unanswered = id
		}
		dup, finalResent := false, false
		var waits []time.Duration
		for _, a := range h.answers {
			switch {
			case a.kind == fakeccs.AnswerAck:
				if r, ok := resentAfter(h, a, logs); ok && !dup {
					dup = true
					f.dupIDs++
					if f.dupEx == "" || id < f.dupEx {
						f.dupEx, f.dupWhen = id, r.at-a.at
					}
				}
			case a.kind == fakeccs.AnswerNack && final(a):
				f.finalNacks[a.code]++
				if r, ok := resentAfter(h, a, logs); ok && !finalResent {
					finalResent = true
					f.finalResent++
					if f.finalEx == "" || id < f.finalEx {
						f.finalEx, f.finalExCode, f.finalExAfter = id, a.code, r.at-a.at
					}
				}
			case a.code == "SERVICE_UNAVAILABLE":
				f.suNacks++
				r, ok := h.nextRead(a.at)
				if !ok {
					f.neverResent++
					if f.suEx == "" || id < f.suEx {
						f.suEx = id
					}
					continue
				}
				waits = append(waits, r.at-a.at)
			}
		}
		f.backoffFacts(waits)
	}
}

// backoffFacts checks the waits between the SERVICE_UNAVAILABLE NACKs of
// one message and its resends: the first at least MinFirstBackoff, each
// later one at least MinBackoffGrowth times the one before.
func (f *facts) backoffFacts(waits []time.Duration) {
	if len(waits) == 0 {
		return
	}
	f.firstWaits = append(f.firstWaits, waits[0])
	f.retryWaits = append(f.retryWaits, waits...)
	if f.fastest == 0 || waits[0] < f.fastest {
		f.fastest = waits[0]
	}
	for i, w := range waits {
		if w < MinFirstBackoff {
			f.tooSoon++
		}
		if i > 0 && float64(w) < MinBackoffGrowth*float64(waits[i-1]) {
			f.notGrowing++
		}
	}
	if len(waits) > 1 {
		f.chains++
	}
}

// upstreamFacts follows every upstream message and receipt: ACKed, or
// sent last less than UpstreamGrace before its connection closed.
func (f *facts) upstreamFacts(logs []*connLog) {
	type state struct {
		receipt  bool
		acked    bool
		lastSent time.Duration
		lastConn int
		first    bool          // sent first on some connection
		firstAt  time.Duration // its first send
		afterBnd time.Duration // how long after that connection was bound
	}
	all := map[string]*state{}
	for ci, l := range logs {
		for i, u := range l.ups {
			s := all[u.id]
			if s == nil {
				s = &state{receipt: u.receipt, firstAt: u.at, afterBnd: u.at - l.bound}
				all[u.id] = s
			}
			if u.at >= s.lastSent {
				s.lastSent, s.lastConn = u.at, ci
			}
			s.first = s.first || i == 0
		}
		for _, a := range l.upAcks {
			if s := all[a.id]; s != nil {
				s.acked = true
			}
			uf := &f.up
			if a.receipt {
				uf = &f.rc
				if a.unprefixed {
					uf.unprefixed++
				}
			}
			uf.latency = append(uf.latency, a.latency)
		}
		f.up.wrongTo += l.wrongTo[0]
		f.up.unknown += l.unknown[0]
		f.rc.wrongTo += l.wrongTo[1]
		f.rc.unknown += l.unknown[1]
	}
	exAt := map[*upFacts]time.Duration{}
	for id, s := range all {
		uf := &f.up
		if s.receipt {
			uf = &f.rc
		}
		uf.sent++
		switch {
		case s.acked:
			uf.acked++
		case logs[s.lastConn].end-s.lastSent < UpstreamGrace:
			uf.excused++
		default:
			uf.unacked++
			if s.first {
				uf.unackedFirst++
			}
			if at, ok := exAt[uf]; !ok || s.firstAt < at || s.firstAt == at && id < uf.unackedEx {
				exAt[uf] = s.firstAt
				uf.unackedEx, uf.unackedAfter = id, s.afterBnd
			}
		}
	}
}

// drainFacts checks every drain: nothing new on the draining connection,
// and the next message on another connection, before the draining one
// ended. A message on the draining connection is new when it was read
// DrainGrace or more after the notice, or when it is beyond what the
// client's window let it send before it could have read the notice: the
// answers written up to the notice, plus the window (answers after the
// notice come after it on the wire). The window is ccs.MaxPending, or the
// most the client was seen to leave unanswered on that connection when it
// overstepped ccs.MaxPending on at most one read in a hundred (a client
// one over the window, or one that flushed a queue once, still shows that
// it ignored the notice). A client that overstepped it more often has no
// window the fake can know, and is judged by the time alone.
func (f *facts) drainFacts(logs []*connLog) {
	for ci, l := range logs {
		d := l.drain
		if d == nil {
			continue
		}
		f.drains++
		if d.asNack {
			f.drainsNack++
		}
		if d.notice < 0 {
			f.unnoticed++ // the client was never told: nothing to judge
			continue
		}
		answered := 0
		for _, a := range l.answers {
			if a.at >= 0 && a.at <= d.notice {
				answered++
			}
		}
		reads, over, widest := 0, 0, 0
		for _, r := range l.reads {
			if !r.leftover {
				reads++
				widest = max(widest, int(r.pending)+1)
				if r.pending >= ccs.MaxPending {
					over++
				}
			}
		}
		window := -1 // none known
		if over*100 <= reads {
			window = max(ccs.MaxPending, widest)
		}
		late := 0
		for i, r := range l.reads {
			if r.at >= d.notice+DrainGrace || window > 0 && i >= answered+window {
				late++
			}
		}
		if late > 0 {
			f.late += late
			f.lateDrains++
		}
		next := time.Duration(-1)
		for cj, o := range logs {
			if cj == ci {
				continue
			}
			i, _ := slices.BinarySearchFunc(o.reads, d.notice, func(r readEv, t time.Duration) int {
				if r.at <= t {
					return -1
				}
				return 1
			})
			if i < len(o.reads) && (next < 0 || o.reads[i].at < next) {
				next = o.reads[i].at
			}
		}
		if next < 0 {
			continue // nothing was sent anywhere after it: nothing left to send
		}
		f.reactions = append(f.reactions, next-d.notice)
		if next > l.end {
			f.waited++
		}
	}
}

// dropFacts checks every dropped connection: each message it read and
// left without an answer written (and no final answer elsewhere before
// the drop) must arrive again on another connection.
func (f *facts) dropFacts(ids map[string]*history, logs []*connLog) {
	for ci, l := range logs {
		if l.cause != fakeccs.EndDropped {
			continue
		}
		answered := map[string]bool{}
		for _, a := range l.answers {
			if a.at >= 0 && a.ok && a.read >= 0 {
				answered[string(l.id(int(a.read)))] = true
			}
		}
		counted := map[string]bool{}
		for i := range l.reads {
			id := string(l.id(i))
			if id == "" || answered[id] || counted[id] {
				continue
			}
			counted[id] = true
			h := ids[id]
			if slices.ContainsFunc(h.answers, func(a occurrence) bool { return final(a) && a.at < l.end }) {
				continue // settled elsewhere before the drop
			}
			f.atDrop++
			again := slices.IndexFunc(h.reads, func(o occurrence) bool { return o.conn != ci && o.at > l.end })
			if again < 0 {
				f.notResent++
				if f.notResentEx == "" || id < f.notResentEx {
					f.notResentEx = id
				}
				continue
			}
			f.resends = append(f.resends, h.reads[again].at-l.end)
		}
	}
}

// spread summarizes durations (nearest-rank percentiles), or nil.
func spread(ds []time.Duration) *report.Spread {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return float64(s[max(i, 0)].Microseconds())
	}
	return &report.Spread{N: len(s), P50: rank(0.5), P99: rank(0.99), Max: float64(s[len(s)-1].Microseconds())}
}
