package fakeccs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// tape is an Observer that writes every event of every connection down,
// for the tests to read once the server is closed.
type tape struct {
	mu    sync.Mutex
	conns []*reel
}

// reel is the events of one connection, as "kind id detail" lines, with
// the time of each event.
type reel struct {
	info   ConnInfo
	events []string
	times  []time.Duration
}

func (tp *tape) Bind(ci ConnInfo) ConnObserver {
	r := &reel{info: ci}
	tp.mu.Lock()
	tp.conns = append(tp.conns, r)
	tp.mu.Unlock()
	return r
}

func (tp *tape) all() []*reel {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.conns)
}

func (r *reel) add(at time.Duration, format string, args ...any) {
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.times = append(r.times, at)
}

func (r *reel) Read(id []byte, at time.Duration, pending uint64) {
	r.add(at, "read %s %d", id, pending)
}
func (r *reel) Leftover(id []byte, at time.Duration) { r.add(at, "leftover %s", id) }
func (r *reel) Answer(id []byte, kind AnswerKind, code string) {
	r.add(-1, "answer %s %s%s", id, kind, strings.TrimSpace(" "+code))
}
func (r *reel) Flush(at time.Duration, ok bool) { r.add(at, "flush %v", ok) }
func (r *reel) Drain(at time.Duration, asNack bool) {
	r.add(at, "drain nack=%v", asNack)
}
func (r *reel) Upstream(id []byte, receipt, resend bool, at time.Duration) {
	r.add(at, "upstream %s receipt=%v resend=%v", id, receipt, resend)
}
func (r *reel) UpstreamAck(id []byte, receipt, unprefixed bool, sentAt, at time.Duration) {
	r.add(at, "upack %s receipt=%v unprefixed=%v", id, receipt, unprefixed)
	if sentAt > at || sentAt <= 0 {
		r.add(at, "bad sentAt %v", sentAt)
	}
}
func (r *reel) BadAck(id []byte, unknown bool, at time.Duration) {
	r.add(at, "badack %s unknown=%v", id, unknown)
}
func (r *reel) End(at time.Duration, cause EndCause) { r.add(at, "end %s", cause) }

// kinds returns the events without flushes.
func (r *reel) kinds() []string {
	var out []string
	for _, e := range r.events {
		if !strings.HasPrefix(e, "flush") {
			out = append(out, e)
		}
	}
	return out
}

// find returns the index of the first event starting with prefix, or -1.
func (r *reel) find(prefix string) int {
	return slices.IndexFunc(r.events, func(e string) bool { return strings.HasPrefix(e, prefix) })
}

// flushedAt returns the time of the first flush after event i.
func (r *reel) flushedAt(i int) time.Duration {
	for j := i + 1; j < len(r.events); j++ {
		if r.events[j] == "flush true" {
			return r.times[j]
		}
	}
	return -1
}

// TestObserverEvents follows one connection over TLS: the bound identity,
// reads with their pending counts, answers, the flush that wrote them
// (after the reads, before the client read them), receipts and their
// ACKs, a drain and the end of the stream.
func TestObserverEvents(t *testing.T) {
	t.Parallel()
	tp := &tape{}
	srv := startServer(t, Config{Observer: tp, Receipts: true, DrainEvery: Every{N: 3}, DrainLinger: -1})
	c := dial(t, srv)
	sentAt := time.Now()
	c.send(msg("m-0", `"delivery_receipt_requested":true`))
	wantAck(t, c.next(), "m-0")
	rcpt := c.next()
	if rcpt.JSON["message_type"] != "receipt" {
		t.Fatalf("got %+v; want a receipt", rcpt)
	}
	c.ack("gcm.googleapis.com", "m-0") // the unprefixed form
	c.ack("someone-else", "up-unknown")
	c.send(msg("m-1"))
	wantAck(t, c.next(), "m-1")
	c.send(msg("m-2"))
	wantAck(t, c.next(), "m-2")
	if it := c.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
		t.Fatalf("got %+v; want the control message", it)
	}
	c.expectEnd("")
	if el := time.Since(sentAt); el > ioTimeout {
		t.Fatalf("took %v", el)
	}
	waitStats(t, srv, "the connection ended", func(s Stats) bool { return s.ActiveConnections == 0 })

	conns := tp.all()
	if len(conns) != 1 {
		t.Fatalf("%d connections observed; want 1", len(conns))
	}
	r := conns[0]
	if r.info.Seq != 1 || r.info.Identity != srv.cfg.SenderID+"@gcm.googleapis.com" || r.info.Domain != ccs.Domain || r.info.Remote == nil {
		t.Errorf("ConnInfo %+v; want connection 1 bound as %s@gcm.googleapis.com", r.info, srv.cfg.SenderID)
	}
	want := []string{
		"read m-0 0", "answer m-0 ack",
		"upstream dr2:m-0 receipt=true resend=false",
		"upack dr2:m-0 receipt=true unprefixed=true",
		"badack up-unknown unknown=true",
		"read m-1 0", "answer m-1 ack",
		"read m-2 0", "answer m-2 ack",
		"drain nack=false",
		"end drained",
	}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, id := range []string{"m-0", "m-1", "m-2"} {
		read := r.find("read " + id)
		ans := r.find("answer " + id)
		if f := r.flushedAt(ans); f < r.times[read] || f > time.Duration(srv.clockNow()) {
			t.Errorf("answer of %s flushed at %v, read at %v; want a flush after the read", id, f, r.times[read])
		}
	}
	if d := r.find("drain"); r.flushedAt(d) < 0 {
		t.Errorf("the control message was never flushed: %v", r.events)
	}
}

// TestObserverDelayedAnswers checks that held answers reach the observer
// when they are released, with their ids, and that pending counts what
// had no answer written before the read.
func TestObserverDelayedAnswers(t *testing.T) {
	t.Parallel()
	tp := &tape{}
	srv := startServer(t, Config{Observer: tp, AckDelay: 30 * time.Millisecond})
	c := dial(t, srv)
	c.send(msg("a"))
	c.send(msg("b"))
	wantAck(t, c.next(), "a")
	wantAck(t, c.next(), "b")
	c.send(msg("c"))
	wantAck(t, c.next(), "c")
	c.c.Close()
	waitStats(t, srv, "the connection ended", func(s Stats) bool { return s.ActiveConnections == 0 })
	r := tp.all()[0]
	got := r.kinds()
	// "b" may arrive in the read of "a" (pending 0) or after it (1).
	if len(got) != 7 || got[0] != "read a 0" || !strings.HasPrefix(got[1], "read b ") || got[2] != "answer a ack" ||
		got[3] != "answer b ack" || got[4] != "read c 0" || got[5] != "answer c ack" || got[6] != "end closed" {
		t.Fatalf("events %q; want the reads, then the delayed answers, then the end", got)
	}
	if a, f := r.times[r.find("read a")], r.flushedAt(r.find("answer a")); f-a < 25*time.Millisecond {
		t.Errorf("answer of a flushed %v after its read; want the 30ms delay", f-a)
	}
}
