package fakeccs

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestDropAfterMessages(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DropEvery: Every{N: 3}})
	c := dial(t, srv)
	c.send(msg("m-0"))
	wantAck(t, c.next(), "m-0")
	c.send(msg("m-1"))
	c.send(msg("m-2")) // the third: dropped with the connection
	items, sawEnd, err := c.expectClosed()
	if sawEnd || err == nil {
		t.Fatalf("stream end %v, error %v; want an abrupt close", sawEnd, err)
	}
	for _, it := range items {
		if it.JSON["message_id"] == "m-2" {
			t.Fatalf("the message that triggered the drop was answered: %+v", it)
		}
	}
	waitStats(t, srv, "a drop", func(s Stats) bool { return s.Drops == 1 && s.ActiveConnections == 0 })
	witness(t, srv)
}

func TestDropAfterDuration(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DropEvery: Every{D: 30 * time.Millisecond}})
	c := dial(t, srv)
	start := time.Now()
	_, sawEnd, err := c.expectClosed()
	if sawEnd || err == nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("after %v: stream end %v, error %v; want an abrupt close after 30ms", time.Since(start), sawEnd, err)
	}
	waitStats(t, srv, "a drop", func(s Stats) bool { return s.Drops == 1 })
}

// TestDropAccounting: a dropped connection's unwritten answers, the
// message that triggered the drop and the messages read behind it are
// abandoned, none lost from the count.
func TestDropAccounting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DropEvery: Every{N: 3}})
	c := dial(t, srv)
	var burst []byte
	for i := range 10 {
		burst = ccs.AppendDownstream(burst, []byte(msg(fmt.Sprintf("m-%d", i))))
	}
	c.raw(string(burst)) // one TLS record: read at once
	if _, sawEnd, err := c.expectClosed(); sawEnd || err == nil {
		t.Fatalf("stream end %v, error %v; want an abrupt close", sawEnd, err)
	}
	st := waitStats(t, srv, "the drop", func(s Stats) bool { return s.Drops == 1 && s.ActiveConnections == 0 })
	if st.Received != 10 || st.Abandoned != 10 || st.Acks != 0 {
		t.Errorf("stats %+v; want 10 received, 10 abandoned, no ACK written", st)
	}
}

// TestDropTotal spreads messages over two connections: the one that
// reads the server's 4th message is dropped, whichever it is, its unread
// and unanswered messages are reported and no answer to them is flushed.
func TestDropTotal(t *testing.T) {
	t.Parallel()
	tp := &tape{}
	srv := startServer(t, Config{Observer: tp, DropTotal: 4})
	a, b := dial(t, srv), dial(t, srv)
	a.send(msg("m-0"))
	wantAck(t, a.next(), "m-0")
	b.send(msg("m-1"))
	wantAck(t, b.next(), "m-1")
	a.send(msg("m-2"))
	wantAck(t, a.next(), "m-2")
	b.raw(string(ccs.AppendDownstream(ccs.AppendDownstream(nil, []byte(msg("m-3"))), []byte(msg("m-4")))))
	items, sawEnd, err := b.expectClosed()
	if sawEnd || err == nil || len(items) != 0 {
		t.Fatalf("b got %v, stream end %v, error %v; want an abrupt close without answers", items, sawEnd, err)
	}
	a.send(msg("m-5"))
	wantAck(t, a.next(), "m-5")
	a.c.Close()
	st := waitStats(t, srv, "the drop", func(s Stats) bool { return s.Drops == 1 && s.ActiveConnections == 0 })
	if st.Abandoned != 2 || st.Acks != 4 {
		t.Fatalf("abandoned %d acks %d; want m-3 and m-4 abandoned, 4 ACKs", st.Abandoned, st.Acks)
	}
	var rb *reel
	for _, r := range tp.all() {
		if r.find("read m-1") >= 0 {
			rb = r
		}
	}
	want := []string{"read m-1 0", "answer m-1 ack", "read m-3 0", "leftover m-4", "end dropped"}
	if got := rb.kinds(); !slices.Equal(got, want) {
		t.Fatalf("dropped connection's events %q; want %q", got, want)
	}
}
