package fakeccs

import (
	"errors"
	"fmt"
	"io"
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

func TestKeepalive(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{Keepalive: 20 * time.Millisecond})
	c := dial(t, srv)
	for range 2 {
		it, err := c.nextErr(ioTimeout)
		if err != nil || it.Kind != ccs.KindKeepalive {
			t.Fatalf("got %+v, %v; want a keepalive", it, err)
		}
	}
	waitStats(t, srv, "keepalives", func(s Stats) bool { return s.Keepalives >= 2 })
}

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
