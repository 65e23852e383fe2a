package fakeccs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestWindow(t *testing.T) {
	t.Parallel()
	// A client that respects the window never trips it, however slow the answers.
	srv := startServer(t, Config{AckDelay: 5 * time.Millisecond, AckJitter: 5 * time.Millisecond, StrictWindow: true})
	c := dial(t, srv)
	sent, acked := 0, 0
	for acked < 300 {
		for sent < 300 && sent-acked < ccs.MaxPending {
			c.send(msg(fmt.Sprintf("w-%d", sent)))
			sent++
		}
		if it := c.next(); it.JSON["message_type"] != "ack" {
			t.Fatalf("got %+v; want an ACK", it)
		}
		acked++
	}
	if v := srv.Stats().WindowViolations; v != 0 {
		t.Fatalf("window_violations %d for a client within the window", v)
	}

	// 101 at once: counted, or refused with StrictWindow.
	for _, strict := range []bool{false, true} {
		srv := startServer(t, Config{AckDelay: time.Hour, StrictWindow: strict})
		c := dial(t, srv)
		for i := range ccs.MaxPending + 1 {
			c.send(msg(fmt.Sprintf("v-%d", i)))
		}
		st := waitStats(t, srv, "a window violation", func(s Stats) bool { return s.WindowViolations == 1 })
		if strict {
			c.expectEnd(ccs.CondPolicyViolation)
		} else if st.Received != ccs.MaxPending+1 {
			t.Fatalf("received %d; want 101", st.Received)
		}
	}
}

// burstConn holds a TLS client's writes while corked and writes them in
// one call when uncorked, so that a burst reaches the server whole.
type burstConn struct {
	net.Conn
	corked bool
	buf    []byte
}

func (b *burstConn) Write(p []byte) (int, error) {
	if b.corked {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *burstConn) uncork() error {
	b.corked = false
	_, err := b.Conn.Write(b.buf)
	b.buf = nil
	return err
}

// dialBurst connects to srv through a burstConn.
func dialBurst(t *testing.T, srv *Server) (*client, *burstConn) {
	t.Helper()
	raw, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	bc := &burstConn{Conn: raw}
	tc := tls.Client(bc, &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"})
	c, err := ccs.ClientHandshake(context.Background(), tc, clientConfig(srv))
	if err != nil {
		t.Fatalf("ClientHandshake: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}, bc
}

func burstOf(n int, prefix string) []byte {
	var b []byte
	for i := range n {
		b = ccs.AppendDownstream(b, []byte(msg(fmt.Sprintf("%s-%d", prefix, i))))
	}
	return b
}

// TestWindowBurstWhole: 150 messages that reach the fake whole, from a
// client that does not read: the 50 beyond the window are violations.
func TestWindowBurstWhole(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	c, bc := dialBurst(t, srv)
	bc.corked = true
	c.raw(string(burstOf(150, "b")))
	if err := bc.uncork(); err != nil {
		t.Fatal(err)
	}
	st := waitStats(t, srv, "150 received", func(s Stats) bool { return s.Received == 150 })
	if st.WindowViolations != 50 {
		t.Errorf("window_violations %d; want 50 for a burst of 150 read whole", st.WindowViolations)
	}
}

// TestWindowBurstOneWrite: 150 messages in one Write of a TLS client,
// which sends them as several records: at least 45 violations (the first,
// small record may be answered before the rest arrives). A busy machine
// can stall the client between records, hence up to three tries.
func TestWindowBurstOneWrite(t *testing.T) {
	t.Parallel()
	var got []uint64
	for try := range 3 {
		srv := startServer(t, Config{})
		c := dial(t, srv)
		c.raw(string(burstOf(150, fmt.Sprintf("t%d", try))))
		st := waitStats(t, srv, "150 received", func(s Stats) bool { return s.Received == 150 })
		if got = append(got, st.WindowViolations); st.WindowViolations >= 45 {
			return
		}
	}
	t.Errorf("window_violations %v in 3 tries; want at least 45 for 150 messages in one write", got)
}

// TestWindowPacedNoReads: one message per write, never reading, with
// answers 5 ms late: the messages beyond the window are violations.
func TestWindowPacedNoReads(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{AckDelay: 5 * time.Millisecond})
	c := dial(t, srv)
	for i := range 300 {
		c.send(msg(fmt.Sprintf("p-%d", i)))
	}
	st := waitStats(t, srv, "300 received", func(s Stats) bool { return s.Received == 300 })
	if st.WindowViolations == 0 {
		t.Errorf("window_violations 0 for 300 messages written without reading; want some")
	}
}

// TestWindowCorrectClients: clients that wait at 100 pending never trip
// the rule, at full load with no delay and with delays (StrictWindow
// would close them).
func TestWindowCorrectClients(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		cfg          Config
		conns, quota int
	}{
		{"full load", Config{StrictWindow: true}, 4, 5000},
		{"delays", Config{StrictWindow: true, AckDelay: time.Millisecond, AckJitter: 2 * time.Millisecond}, 2, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tc.cfg)
			pipeline(t, dialPipelined(t, srv, tc.conns), tc.quota)
			st := waitStats(t, srv, "every message answered", func(s Stats) bool { return s.Acks == uint64(tc.conns*tc.quota) })
			if st.WindowViolations != 0 || st.StreamErrors != 0 {
				t.Errorf("window_violations %d, stream_errors %d; want 0 for clients within the window", st.WindowViolations, st.StreamErrors)
			}
		})
	}
}

// TestStrictWindowBurst: with StrictWindow the 101st message of a burst
// ends the connection; it and the messages behind it are never answered,
// and every one is counted.
func TestStrictWindowBurst(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{StrictWindow: true})
	c, bc := dialBurst(t, srv)
	bc.corked = true
	c.raw(string(burstOf(150, "s")))
	if err := bc.uncork(); err != nil {
		t.Fatal(err)
	}
	acks := 0
	for {
		it := c.next()
		if it.Kind == ccs.KindStreamError {
			if it.ErrorCondition != ccs.CondPolicyViolation {
				t.Fatalf("stream error %q; want policy-violation", it.ErrorCondition)
			}
			break
		}
		acks++
	}
	c.c.Close()
	st := waitStats(t, srv, "closed", func(s Stats) bool { return s.ActiveConnections == 0 })
	if acks != 100 || st.WindowViolations != 1 || st.Received != 150 || st.Abandoned+st.Discarded != 50 {
		t.Errorf("%d answers, stats %+v; want 100 answers, 1 violation, 150 received, 50 abandoned or discarded", acks, st)
	}
}

// TestEndlessWriterGetsAnswers: a client whose input never pauses still
// gets answers (the reply buffer is written once it passes flushAt), so
// its pending count stays far below MaxHeld and all is answered.
func TestEndlessWriterGetsAnswers(t *testing.T) {
	t.Parallel()
	const n = 4000
	srv := startServer(t, Config{})
	c, bc := dialBurst(t, srv)
	bc.corked = true
	c.raw(string(burstOf(n, "e")))
	done := make(chan error, 1)
	go func() { done <- bc.uncork() }() // the fake's answers must be read meanwhile
	for i := range n {
		if it := c.next(); it.Kind != ccs.KindMessage || it.JSON["message_type"] != "ack" {
			t.Fatalf("answer %d: %+v; want an ACK", i, it)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := waitStats(t, srv, "every message answered", func(s Stats) bool { return s.Acks == n })
	if st.StreamErrors != 0 {
		t.Errorf("stream_errors %d; want none", st.StreamErrors)
	}
}
