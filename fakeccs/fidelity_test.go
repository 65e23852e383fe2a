package fakeccs

// End-to-end tests, over TLS on loopback, of what real CCS clients look
// at: the login domain, draining, receipt ACKs, the window, the wire form.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// dialWith connects to srv with a client configuration changed by edit.
func dialWith(t testing.TB, srv *Server, edit func(*ccs.ClientConfig)) *client {
	t.Helper()
	cfg := clientConfig(srv)
	edit(&cfg)
	c, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

func TestLoginDomains(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{SenderID: "42", APIKey: "k", Receipts: true, UpstreamRate: 200, UpstreamResend: time.Hour})
	for i, tc := range []struct{ sender, domain, want string }{
		{"42", "", ccs.Domain},
		{"42@gcm.googleapis.com", "", ccs.Domain},
		{"42@fcm.googleapis.com", "", ccs.FCMDomain},
		{"42", ccs.FCMDomain, ccs.FCMDomain},
		{"42", "", ccs.Domain}, // takes over what the fcm connections left unACKed
	} {
		c := dialWith(t, srv, func(cfg *ccs.ClientConfig) { cfg.SenderID, cfg.LoginDomain = tc.sender, tc.domain })
		bare := "42@" + tc.want
		if !strings.HasPrefix(c.c.JID, bare+"/") {
			t.Errorf("identity %q, login domain %q: bound JID %q; want %s/...", tc.sender, tc.domain, c.c.JID, bare)
		}
		id := fmt.Sprintf("r-%d", i)
		c.send(msg(id, `"delivery_receipt_requested":true`))
		var acked, receipt, upstream bool
		for n := 0; !(acked && receipt && upstream); n++ {
			if n > 300 {
				t.Fatalf("identity %q: no ACK, receipt and upstream message in %d items", tc.sender, n)
			}
			it := c.next()
			switch {
			case it.JSON["message_type"] == "ack":
				wantAck(t, it, id)
				acked = true
				continue
			case it.JSON["message_type"] == "receipt":
				receipt = receipt || it.JSON["message_id"] == "dr2:"+id
			case it.Type == "normal":
				upstream = true
			}
			// Upstream messages and receipts go to the JID of this
			// connection's login, whichever connection they were made on.
			if it.To != bare {
				t.Errorf("identity %q: upstream stanza to %q; want %q: %s", tc.sender, it.To, bare, it.Raw)
			}
		}
		c.c.Close()
		waitStats(t, srv, "the connection closed", func(s Stats) bool { return s.ActiveConnections == 0 })
	}

	// The server's stream header names the domain the client's names.
	for _, to := range []string{ccs.Domain, ccs.FCMDomain} {
		c := rawTLS(t, srv)
		io.WriteString(c, `<stream:stream to="`+to+`" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		st, err := ccs.NewFramer(c, ccs.FramerConfig{}).Next()
		if err != nil || st.Kind != ccs.KindStreamStart || string(st.From) != to {
			t.Errorf("stream to %q: server header %+v, %v; want from %q", to, st, err, to)
		}
		c.Close()
	}
}

// TestAPIKeyNeverLogged refuses logins in every way and checks that
// neither the fake's key nor the key a client tried shows in a log line or
// a client's error.
func TestAPIKeyNeverLogged(t *testing.T) {
	t.Parallel()
	const serverKey, clientKey = "AIzaSy-server-secret-0123", "AIzaSy-client-secret-4567"
	var mu sync.Mutex
	var logs []string
	srv := startServer(t, Config{APIKey: serverKey, Logf: func(format string, args ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})
	senders := []string{srv.cfg.SenderID, srv.cfg.SenderID + "@fcm.googleapis.com", "other@example.com"}
	for _, sender := range senders {
		cfg := clientConfig(srv)
		cfg.SenderID, cfg.APIKey = sender, clientKey
		_, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
		if !errors.Is(err, ccs.ErrAuthRefused) {
			t.Fatalf("Dial as %q with a wrong key = %v; want ErrAuthRefused", sender, err)
		}
		if strings.Contains(err.Error(), clientKey) {
			t.Errorf("client error %q shows the key", err)
		}
	}
	waitStats(t, srv, "refused logins", func(s Stats) bool { return s.AuthFailures == uint64(len(senders)) })
	deadline := time.Now().Add(ioTimeout)
	for { // the log line follows the count
		mu.Lock()
		n := len(logs)
		mu.Unlock()
		if n >= len(senders) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) < len(senders) {
		t.Fatalf("%d log lines for %d refused logins: %q", len(logs), len(senders), logs)
	}
	for _, l := range logs {
		if strings.Contains(l, serverKey) || strings.Contains(l, clientKey) {
			t.Errorf("log line shows an API key: %q", l)
		}
	}
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

// TestReceiptAckForms: a receipt may be ACKed with its id or without
// "dr2:" (as Google's Go client library does); both settle it.
func TestReceiptAckForms(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{Receipts: true, UpstreamResend: 100 * time.Millisecond})
	c := dial(t, srv)
	c.send(msg("r-1", `"delivery_receipt_requested":true`))
	c.send(msg("r-2", `"delivery_receipt_requested":true`))
	receipts := 0
	for acks := 0; acks < 2 || receipts < 2; {
		switch it := c.next(); it.JSON["message_type"] {
		case "ack":
			acks++
		case "receipt":
			receipts++
		default:
			t.Fatalf("got %+v; want ACKs and receipts", it)
		}
	}
	c.ack(ccs.Domain, "r-1") // stripped
	c.ack(ccs.Domain, "dr2:r-2")
	st := waitStats(t, srv, "both receipts ACKed", func(s Stats) bool { return s.ReceiptsAcked == 2 })
	if st.ReceiptsAckedUnprefixed != 1 || st.UnknownAcks != 0 || st.UpstreamResent != 0 {
		t.Errorf("stats %+v; want 1 unprefixed receipt ACK, none unknown or resent", st)
	}
	if it, err := c.nextErr(300 * time.Millisecond); err == nil {
		t.Errorf("got %+v after both receipts were ACKed; want nothing (no resend)", it)
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

// TestWireFormsOverTLS: every kind of server stanza in every wire form,
// read by the ccs framer by namespace.
func TestWireFormsOverTLS(t *testing.T) {
	t.Parallel()
	const plain, prefixed = `<gcm xmlns="google:mobile:data">`, `<data:gcm xmlns:data="google:mobile:data">`
	for _, form := range []ccs.WireForm{ccs.WireDocumented, ccs.WirePrefixed, ccs.WireDefaultNS} {
		t.Run(form.String(), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Config{WireForm: form, Receipts: true, UpstreamRate: 100, UpstreamResend: time.Hour,
				BadRegistration: []string{"bad*"}, DrainEvery: Every{N: 3}, DrainLinger: -1})
			c := dial(t, srv)
			c.send(msg("m-1", `"delivery_receipt_requested":true`))
			c.send(`{"to":"bad-1","message_id":"m-2"}`)
			c.send(`{"to":"x"}`) // no message_id: a stanza error
			seen := map[string]bool{}
			items, _ := readUntilEnd(t, c)
			for _, it := range items {
				kind := it.Type
				if it.Type != "error" {
					kind, _ = it.JSON["message_type"].(string)
					if kind == "" {
						kind = "upstream"
					}
				}
				seen[kind] = true
				want := plain
				if form == ccs.WirePrefixed || form == ccs.WireDocumented && (kind == "nack" || kind == "control") {
					want = prefixed
				}
				if !strings.Contains(it.Raw, want) {
					t.Errorf("%s in form %v: %s; want %s", kind, form, it.Raw, want)
				}
			}
			for _, k := range []string{"ack", "nack", "error", "control", "receipt", "upstream"} {
				if !seen[k] {
					t.Errorf("form %v: no %s among %d items", form, k, len(items))
				}
			}
		})
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

// A fake with several sender ids accepts each with the one key, and no
// other sender id.
func TestSeveralSenderIDs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{SenderIDs: []string{"111", "222", "333"}, APIKey: "shared-key-9"})
	if srv.Config().SenderID != "111" {
		t.Errorf("SenderID = %q; want the first of SenderIDs", srv.Config().SenderID)
	}
	for _, tc := range []struct {
		sender string
		ok     bool
	}{{"111", true}, {"222@gcm.googleapis.com", true}, {"333@fcm.googleapis.com", true}, {"444", false}, {"11", false}} {
		cfg := clientConfig(srv)
		cfg.SenderID = tc.sender
		c, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, ccs.ErrAuthRefused) {
			t.Errorf("Dial as %q = %v; want ok %v (or ErrAuthRefused)", tc.sender, err, tc.ok)
		}
		if c != nil {
			c.Close()
		}
	}
	if _, err := New(Config{SenderIDs: []string{"1", "a@b"}}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a sender id holding '@' = %v; want ErrConfig", err)
	}
}
