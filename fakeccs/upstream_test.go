package fakeccs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestUpstream(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 2000, UpstreamResend: time.Hour})
	c := dial(t, srv)
	var first map[string]any
	for i := range 10 {
		it := c.next()
		if it.Kind != ccs.KindMessage || it.Type != "normal" {
			t.Fatalf("got %+v; want an upstream message", it)
		}
		j := it.JSON
		if j["category"] != UpstreamCategory || j["message_id"] == nil || j["time_to_live"] != float64(UpstreamTTL) ||
			!strings.HasPrefix(j["from"].(string), "fakeccs-device-") || j["data"] == nil {
			t.Fatalf("upstream payload %v lacks fields", j)
		}
		if i == 0 {
			first = j
		}
		c.ack(j["from"].(string), j["message_id"].(string))
	}
	_ = first
	waitStats(t, srv, "10 upstream acked", func(s Stats) bool { return s.UpstreamAcked >= 10 })
	// Unacked, sending stops at MaxUnackedUpstream.
	n := 0
	for {
		it, err := c.nextErr(200 * time.Millisecond)
		if err != nil {
			break
		}
		if it.Kind == ccs.KindMessage {
			n++
		}
		if n > MaxUnackedUpstream+10 {
			t.Fatalf("more than %d unacked upstream messages sent", MaxUnackedUpstream)
		}
	}
	if n != MaxUnackedUpstream {
		t.Fatalf("%d unacked upstream messages sent before pausing; want %d", n, MaxUnackedUpstream)
	}
	st := srv.Stats()
	if st.UpstreamSent != st.UpstreamAcked+MaxUnackedUpstream {
		t.Fatalf("upstream_sent %d, upstream_acked %d; want sent = acked + 100", st.UpstreamSent, st.UpstreamAcked)
	}
}

func TestUpstreamResend(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 1, UpstreamResend: 50 * time.Millisecond})
	c := dial(t, srv)
	it := c.next()
	id := it.JSON["message_id"].(string)
	again := c.next() // not ACKed: sent again after UpstreamResend
	if again.JSON["message_id"] != id {
		t.Fatalf("second upstream message %v; want the resend of %s", again.JSON["message_id"], id)
	}
	c.ack(it.JSON["from"].(string), id)
	st := waitStats(t, srv, "one resend and its ACK", func(s Stats) bool { return s.UpstreamAcked == 1 })
	if st.UpstreamResent < 1 || st.UpstreamSent != 1 {
		t.Fatalf("stats %+v; want 1 sent, at least 1 resent", st)
	}
}

func TestUpstreamNextConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 5, UpstreamResend: time.Hour})
	c := dial(t, srv)
	it := c.next()
	id := it.JSON["message_id"].(string)
	c.c.Close()
	waitStats(t, srv, "the connection closed", func(s Stats) bool { return s.ActiveConnections == 0 })
	c2 := dial(t, srv)
	again := c2.next() // the unacked message comes first on the next connection
	if again.JSON["message_id"] != id {
		t.Fatalf("first message on the new connection is %v; want the resend of %s", again.JSON["message_id"], id)
	}
	c2.ack(again.JSON["from"].(string), id)
	st := waitStats(t, srv, "the resend ACKed", func(s Stats) bool { return s.UpstreamAcked == 1 })
	if st.UpstreamResent < 1 {
		t.Fatalf("upstream_resent %d; want at least 1", st.UpstreamResent)
	}
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{Receipts: true, UpstreamResend: time.Hour})
	c := dial(t, srv)
	c.send(msg("r-1", `"delivery_receipt_requested":true`))
	c.send(msg("r-2", `"delivery_receipt_requested":false`))
	wantAck(t, c.next(), "r-1")
	it := c.next() // the receipt follows the ACK
	j := it.JSON
	data, _ := j["data"].(map[string]any)
	if it.Type != "normal" || j["message_type"] != "receipt" || j["message_id"] != "dr2:r-1" || data == nil ||
		data["message_status"] != "MESSAGE_SENT_TO_DEVICE" || data["original_message_id"] != "r-1" ||
		data["device_registration_id"] != "REG-r-1" || j["from"] != ccs.Domain {
		t.Fatalf("got %+v; want the receipt of r-1", it)
	}
	wantAck(t, c.next(), "r-2") // no receipt for r-2
	c.ack(ccs.Domain, "dr2:r-1")
	c.ack("wrong", "dr2:r-1") // now unknown: already ACKed
	waitStats(t, srv, "1 receipt sent and ACKed, 2 acks", func(s Stats) bool {
		return s.ReceiptsAcked == 1 && s.UnknownAcks == 1 && s.ReceiptsSent == 1 && s.Acks == 2
	})
}

func TestReceiptWrongAckTo(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{Receipts: true, AckDelay: time.Millisecond})
	c := dial(t, srv)
	c.send(msg("r-1", `"delivery_receipt_requested":true`))
	wantAck(t, c.next(), "r-1")
	if it := c.next(); it.JSON["message_id"] != "dr2:r-1" {
		t.Fatalf("got %+v; want the receipt", it)
	}
	c.ack("REG-r-1", "dr2:r-1") // "to" must be the receipt's "from"
	wantNack(t, c.next(), "dr2:r-1", "BAD_ACK")
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

func TestBadAndUnknownAcks(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	c := dial(t, srv)
	c.raw(`<message id=""><gcm xmlns="google:mobile:data">{"message_type":"ack","to":"x"}</gcm></message>`)
	wantNack(t, c.next(), "", "BAD_ACK")
	c.raw(`<message id=""><gcm xmlns="google:mobile:data">{"message_type":"ack","message_id":"q"}</gcm></message>`)
	wantNack(t, c.next(), "q", "BAD_ACK")
	c.ack("dev", "never-sent")
	c.send(msg("after")) // the ACK of an unknown id gets no answer
	wantAck(t, c.next(), "after")
	// BAD_ACK NACKs answer ACKs, not downstream messages: counted apart.
	waitStats(t, srv, "1 unknown ACK, 2 bad ones NACKed, 1 message", func(s Stats) bool {
		return s.UnknownAcks == 1 && s.BadAcks == 2 && s.Nacks["BAD_ACK"] == 0 && s.Received == 1
	})
}

// TestUpstreamAfterSession: the fake offers the session as mandatory, as
// CCS did, so a client that asks for it gets the session's result before
// any upstream message (libstrophe fires no handler and gosrc.io/xmpp
// reads no message before it; ccs's own client takes anything else as a
// failed handshake); a client that sends nothing after the bind still gets
// its upstream messages, UpstreamSettle later.
func TestUpstreamAfterSession(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{UpstreamRate: 2000, UpstreamResend: time.Hour})
	for range 5 {
		cfg := clientConfig(srv)
		cfg.Session = true
		c, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("Dial with the session IQ, upstream at 2000/s: %v", err)
		}
		cl := &client{t: t, c: c}
		if it := cl.next(); it.Kind != ccs.KindMessage || it.Type != "normal" {
			t.Fatalf("after the session got %+v; want an upstream message", it)
		}
		c.Close()
	}
	silent := dial(t, srv)
	if it := silent.next(); it.Kind != ccs.KindMessage || it.Type != "normal" {
		t.Fatalf("a client silent after the bind got %+v; want an upstream message", it)
	}
}
