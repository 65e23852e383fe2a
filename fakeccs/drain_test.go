package fakeccs

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestDrainControl(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DrainEvery: Every{N: 3}, AckDelay: 20 * time.Millisecond, DrainLinger: -1})
	c := dial(t, srv)
	for i := range 3 {
		c.send(msg(fmt.Sprintf("m-%d", i)))
	}
	var got []string
	items, sawEnd, err := c.expectClosed()
	for _, it := range items {
		switch {
		case it.JSON["message_type"] == "control":
			if it.JSON["control_type"] != "CONNECTION_DRAINING" {
				t.Fatalf("control %v", it.JSON)
			}
			got = append(got, "control")
		case it.JSON["message_type"] == "ack":
			got = append(got, "ack")
		case it.Kind == ccs.KindStreamEnd:
			got = append(got, "end")
		}
	}
	// The control message follows the third message; its pending answers
	// (held by the ack delay) still come, then the stream ends (at once:
	// no linger).
	if strings.Join(got, ",") != "control,ack,ack,ack,end" || !sawEnd || !errors.Is(err, io.EOF) {
		t.Fatalf("got %v then %v; want control, 3 acks, the stream end", got, err)
	}
	st := waitStats(t, srv, "a drain", func(s Stats) bool { return s.Drains == 1 && s.ActiveConnections == 0 })
	if st.Acks != 3 {
		t.Fatalf("acks %d; want 3", st.Acks)
	}
	witness(t, srv)
}

func TestDrainAsNack(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DrainEvery: Every{N: 2}, DrainAsNack: true, DrainLinger: 100 * time.Millisecond})
	c := dial(t, srv)
	c.send(msg("m-0"))
	c.send(msg("m-1"))
	wantAck(t, c.next(), "m-0")
	wantAck(t, c.next(), "m-1")
	c.send(msg("m-2"))
	wantNack(t, c.next(), "m-2", "CONNECTION_DRAINING")
	c.expectEnd("")
	waitStats(t, srv, "the drain", func(s Stats) bool {
		return s.Drains == 1 && s.Nacks["CONNECTION_DRAINING"] == 1 && s.ActiveConnections == 0
	})
}

func TestDrainAfterDuration(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DrainEvery: Every{D: 30 * time.Millisecond}, DrainLinger: 50 * time.Millisecond})
	c := dial(t, srv)
	c.send(msg("m-0"))
	wantAck(t, c.next(), "m-0")
	if it := c.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
		t.Fatalf("got %+v; want the draining control message", it)
	}
	c.expectEnd("")
}

// readUntilEnd reads items until the stream ends and returns them, with
// the time the stream end arrived.
func readUntilEnd(t *testing.T, c *client) ([]item, time.Time) {
	t.Helper()
	var items []item
	for {
		it := c.next()
		if it.Kind == ccs.KindStreamEnd {
			return items, time.Now()
		}
		items = append(items, it)
	}
}

// TestDrainPipeline: after CONNECTION_DRAINING the connection stays open,
// what was in the pipeline is answered as usual, a message sent after the
// grace period is NACKed CONNECTION_DRAINING, and the stream ends once
// nothing is pending and the linger has passed.
func TestDrainPipeline(t *testing.T) {
	t.Parallel()
	const grace, linger = 50 * time.Millisecond, 400 * time.Millisecond
	srv := startServer(t, Config{DrainEvery: Every{N: 1}, DrainGrace: grace, DrainLinger: linger})
	c := dial(t, srv)
	start := time.Now()
	var burst []byte
	for i := range ccs.MaxPending {
		burst = ccs.AppendDownstream(burst, []byte(msg(fmt.Sprintf("p-%d", i))))
	}
	c.raw(string(burst)) // a full window, sent before the client can know
	wantAck(t, c.next(), "p-0")
	if it := c.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
		t.Fatalf("got %+v; want CONNECTION_DRAINING after the first answer", it)
	}
	for i := 1; i < ccs.MaxPending; i++ {
		wantAck(t, c.next(), fmt.Sprintf("p-%d", i)) // in the pipeline: answered as usual
	}
	time.Sleep(grace + 20*time.Millisecond)
	c.send(msg("late"))
	wantNack(t, c.next(), "late", "CONNECTION_DRAINING")
	items, end := readUntilEnd(t, c)
	if len(items) != 0 {
		t.Errorf("items before the stream end: %+v", items)
	}
	if el := end.Sub(start); el < linger {
		t.Errorf("stream ended %v after the drain; want at least the linger %v", el, linger)
	}
	c.c.Close()
	st := waitStats(t, srv, "the connection closed", func(s Stats) bool { return s.ActiveConnections == 0 })
	if st.Acks != ccs.MaxPending || st.Nacks["CONNECTION_DRAINING"] != 1 || st.Drains != 1 || st.Abandoned != 0 || st.Discarded != 0 {
		t.Errorf("stats %+v; want 100 acks, 1 CONNECTION_DRAINING, 1 drain, nothing abandoned or discarded", st)
	}
}

// TestDrainLinger: a drained stream ends once nothing is pending and the
// linger has passed; at once without linger; never with
// DrainLingerForever, where the client's own end closes it.
func TestDrainLinger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		linger   time.Duration
		min, max time.Duration // bounds of the time from the drain to the stream end
	}{
		{"none", -1, 50 * time.Millisecond, time.Second}, // the held answer keeps it open
		{"300ms", 300 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second},
		{"forever", DrainLingerForever, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Config{DrainEvery: Every{N: 1}, DrainLinger: tc.linger, AckDelay: 50 * time.Millisecond})
			c := dial(t, srv)
			start := time.Now()
			c.send(msg("m-0"))
			if it := c.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
				t.Fatalf("got %+v; want CONNECTION_DRAINING", it)
			}
			wantAck(t, c.next(), "m-0")
			if tc.linger == DrainLingerForever {
				if it, err := c.nextErr(500 * time.Millisecond); err == nil {
					t.Fatalf("got %+v from a connection that should stay open and silent", it)
				}
				c.send(msg("m-1")) // still served: NACKed, the grace is over
				wantNack(t, c.next(), "m-1", "CONNECTION_DRAINING")
				c.raw(ccs.StreamEnd) // the client closes it
				if items, _ := readUntilEnd(t, c); len(items) != 0 {
					t.Errorf("items before the stream end: %+v", items)
				}
				c.c.Close()
				waitStats(t, srv, "the connection closed by the client", func(s Stats) bool { return s.ActiveConnections == 0 })
				return
			}
			_, end := readUntilEnd(t, c)
			if el := end.Sub(start); el < tc.min || el > tc.max {
				t.Errorf("stream ended %v after the drain; want %v..%v", el, tc.min, tc.max)
			}
			c.c.Close()
			waitStats(t, srv, "the connection closed", func(s Stats) bool { return s.ActiveConnections == 0 })
		})
	}
}

// TestDrainUpstreamMoves: no upstream message or receipt is sent on a
// draining connection; what it has not had ACKed moves to another
// connection of the sender once due for a resend, and a receipt made
// there (for a message of the pipeline) goes to the other connection.
func TestDrainUpstreamMoves(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 100, UpstreamResend: 200 * time.Millisecond, Receipts: true,
		DrainEvery: Every{N: 1}, DrainLinger: DrainLingerForever})
	a := dial(t, srv)
	unacked := map[string]bool{} // upstream ids a never ACKs
	for len(unacked) < 3 {
		it := a.next()
		if it.Type == "normal" {
			unacked[it.JSON["message_id"].(string)] = true
		}
	}
	b := dial(t, srv)
	a.send(msg("d-0", `"delivery_receipt_requested":true`)) // a drains after answering it
	unacked["dr2:d-0"] = true
	for {
		it := a.next()
		if it.JSON["control_type"] == "CONNECTION_DRAINING" {
			break
		}
		if it.Type == "normal" {
			unacked[it.JSON["message_id"].(string)] = true
		}
	}
	// From now on a gets its ACK and nothing else: no upstream message.
	go func() {
		for {
			it, err := a.nextErr(ioTimeout)
			if err != nil {
				return
			}
			if it.Type == "normal" {
				t.Errorf("upstream message or receipt %v on the draining connection", it.JSON["message_id"])
			}
		}
	}()
	deadline := time.Now().Add(ioTimeout)
	for len(unacked) > 0 && time.Now().Before(deadline) {
		it := b.next()
		if it.Type != "normal" {
			continue
		}
		id := it.JSON["message_id"].(string)
		delete(unacked, id)
		b.ack(it.JSON["from"].(string), id)
	}
	if len(unacked) > 0 {
		t.Fatalf("upstream messages %v never came on the other connection", unacked)
	}
	b.c.Close()
	a.c.Close()
	waitStats(t, srv, "both closed", func(s Stats) bool { return s.ActiveConnections == 0 })
}

// TestDrainUpstreamNextConnection: with no other connection open, what a
// draining connection did not have ACKed goes to the sender's next one.
func TestDrainUpstreamNextConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 50, UpstreamResend: 100 * time.Millisecond,
		DrainEvery: Every{N: 1}, DrainLinger: DrainLingerForever})
	a := dial(t, srv)
	first := a.next()
	id := first.JSON["message_id"].(string)
	a.send(msg("d-0"))
	waitStats(t, srv, "the drain, the first upstream message moved", func(s Stats) bool {
		return s.Drains == 1 && srv.senderBacklog(srv.cfg.SenderID).n.Load() > 0
	})
	b := dial(t, srv)
	if it := b.next(); it.JSON["message_id"] != id {
		t.Fatalf("first item on the next connection %+v; want the resend of %s", it, id)
	}
}

// TestDiscarded: what a client sends after the fake ended its stream is
// counted as discarded.
func TestDiscarded(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DrainEvery: Every{N: 1}, DrainLinger: -1})
	c := dial(t, srv)
	c.send(msg("m-0"))
	items, _ := readUntilEnd(t, c)
	if len(items) != 2 {
		t.Fatalf("items %+v; want an ACK and the control message", items)
	}
	for i := range 4 { // a client that does not listen
		c.send(msg(fmt.Sprintf("after-%d", i)))
	}
	c.send(`{"to":"no id"}`)          // downstream too (it would get a stanza error)
	c.ack("fakeccs-device-1", "up-1") // an ACK is not a downstream message
	c.raw(ccs.StreamEnd)
	c.c.Close()
	st := waitStats(t, srv, "5 discarded, closed", func(s Stats) bool { return s.Discarded == 5 && s.ActiveConnections == 0 })
	if st.Received != 6 || st.Acks != 1 || st.Abandoned != 0 {
		t.Errorf("stats %+v; want 6 received, 1 ack, 5 discarded", st)
	}
}

// TestDrainTotalAlternate drains the connection that answers the
// server's 2nd, 4th... message, alternating the control message and the
// NACK form; a drain that falls on a connection already draining goes to
// the next one.
func TestDrainTotalAlternate(t *testing.T) {
	t.Parallel()
	tp := &tape{}
	srv := startServer(t, Config{Observer: tp, DrainTotal: 2, DrainAlternate: true, DrainGrace: -1, DrainLinger: time.Hour})
	a, b := dial(t, srv), dial(t, srv)
	a.send(msg("m-0"))
	wantAck(t, a.next(), "m-0")
	b.send(msg("m-1")) // the server's 2nd: b drains, with the control message
	wantAck(t, b.next(), "m-1")
	if it := b.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
		t.Fatalf("got %+v; want the control message", it)
	}
	b.send(msg("m-2")) // after the (zero) grace: NACKed
	wantNack(t, b.next(), "m-2", "CONNECTION_DRAINING")
	b.send(msg("m-3")) // the 4th, but b drains already: the drain is owed
	wantNack(t, b.next(), "m-3", "CONNECTION_DRAINING")
	a.send(msg("m-4")) // a takes the owed drain, as a NACK drain: no control message
	wantAck(t, a.next(), "m-4")
	a.send(msg("m-5"))
	wantNack(t, a.next(), "m-5", "CONNECTION_DRAINING")
	a.c.Close()
	b.c.Close()
	st := waitStats(t, srv, "two drains", func(s Stats) bool { return s.ActiveConnections == 0 })
	if st.Drains != 2 {
		t.Fatalf("drains %d; want 2", st.Drains)
	}
	var drains []string
	for _, r := range tp.all() {
		if i := r.find("drain"); i >= 0 {
			drains = append(drains, r.events[i])
		}
	}
	slices.Sort(drains)
	if want := []string{"drain nack=false", "drain nack=true"}; !slices.Equal(drains, want) {
		t.Fatalf("drains %q; want %q", drains, want)
	}
}

// TestDrainDeadline keeps sending on a draining connection: the stream
// ends at the deadline anyway, and the fake's accounting holds.
func TestDrainDeadline(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DrainEvery: Every{N: 1}, DrainGrace: -1, DrainLinger: -1,
		AckDelay: 2 * time.Second, DrainDeadline: 100 * time.Millisecond})
	c := dial(t, srv)
	start := time.Now()
	c.send(msg("m-0"))
	if it := c.next(); it.JSON["control_type"] != "CONNECTION_DRAINING" {
		t.Fatalf("got %+v; want the control message", it)
	}
	c.send(msg("m-1")) // NACKed after its delay, which outlasts the deadline
	items, sawEnd, _ := c.expectClosed()
	// Without the deadline the stream would end after the answers.
	if el := time.Since(start); !sawEnd || len(items) != 1 || el < 90*time.Millisecond {
		t.Fatalf("got %v, stream end %v after %v; want the end at the 100ms deadline, before the answers", items, sawEnd, el)
	}
	st := waitStats(t, srv, "the end", func(s Stats) bool { return s.ActiveConnections == 0 })
	if st.Abandoned != 2 {
		t.Fatalf("abandoned %d; want both messages abandoned (stats %+v)", st.Abandoned, st)
	}
}
