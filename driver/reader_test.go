package driver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// halfStanza is the first half of an ACK, cut before its message id: a
// server sends it right behind a complete stanza, in the same write, and
// completes it only once the driver has answered what came before it.
const halfStanza = `<message><gcm xmlns="google:mobile:data">{"from":"regid",`

// restOfAck completes halfStanza into the ACK of message id.
func restOfAck(id string) []byte {
	return []byte(`"message_id":"` + id + `","message_type":"ack"}</gcm></message>`)
}

// What the reader has read is acted on before it waits for more bytes,
// even when the read buffer ends with half a stanza: the credit an ACK
// frees wakes the writer, and the ACK of an upstream message goes out.
// The servers below send a complete stanza and half of the next one in
// one write, then wait for what the driver owes them before they send
// the other half (a reader that blocked first would wait for ever; the
// servers give up after a few seconds, and the run fails).
func TestReaderActsBeforeItBlocks(t *testing.T) {
	t.Parallel()
	const patience = 5 * time.Second
	t.Run("ack frees credit", func(t *testing.T) {
		t.Parallel()
		// Window 1: the second message can be sent only once the first
		// one's ACK has given its credit back and woken the writer.
		srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
			switch n {
			case 0:
				c.Write(append(ccs.AppendAck(nil, []byte("regid"), []byte(id), nil), halfStanza...))
			case 1:
				c.Write(restOfAck(id))
			default:
				c.Ack(id)
			}
			return true
		})})
		cfg := badConfig(srv)
		cfg.Conns, cfg.Window, cfg.Messages = 1, 1, 3
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Run(ctx)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if c := res.Counts; c.Messages != 3 || c.Acked != 3 {
			t.Errorf("messages %d acked %d; want 3 and 3 (the second message waited for the credit of the first)", c.Messages, c.Acked)
		}
	})
	t.Run("upstream ack goes out", func(t *testing.T) {
		t.Parallel()
		// The first connection's server says whether the ACK came before
		// it gave up; replacements (after it gave up) answer everything.
		acked := make(chan bool, 1)
		srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
			if c.Index > 0 {
				badccs.AckAll(c)
				return
			}
			up := ccs.AppendUpstream(nil, &ccs.Upstream{From: []byte("regid-up"), ID: []byte("up-1"), Category: []byte("com.example"), Data: []byte("{}")})
			if _, err := c.Write(append(up, halfStanza...)); err != nil {
				acked <- false
				return
			}
			acked <- awaitUpstreamAck(c, patience)
			badccs.AckAll(c)
		}})
		cfg := badConfig(srv)
		cfg.Conns, cfg.Messages = 1, 2
		cfg.DrainTimeout = 2 * patience
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Run(context.Background())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !<-acked {
			t.Errorf("the server waited %v for the ACK of its upstream message; the driver wrote it only after more bytes came", patience)
		}
		if c := res.Counts; c.Upstream != 1 || c.Acked != 2 {
			t.Errorf("upstream %d acked %d; want 1 and 2", c.Upstream, c.Acked)
		}
	})
}

// awaitUpstreamAck reads until the ACK of upstream message up-1 and the
// first downstream message have come, then completes halfStanza as that
// message's ACK and ACKs the other messages it read (not before: they
// would land inside the half stanza); it reports false if they did not
// come within patience.
func awaitUpstreamAck(c *badccs.Conn, patience time.Duration) bool {
	c.Conn.SetReadDeadline(time.Now().Add(patience))
	defer c.Conn.SetReadDeadline(time.Time{})
	var jr ccs.JSONReader
	var m ccs.Message
	var ids []string
	sawAck := false
	for !sawAck || len(ids) == 0 {
		st, err := c.Framer.Next()
		if err != nil {
			return false
		}
		if st.Kind != ccs.KindMessage || !st.HasGCM || jr.Parse(st.GCM, &m) != nil {
			continue
		}
		switch id := string(m.MessageID.Str); {
		case m.Type == ccs.TypeAck && id == "up-1":
			sawAck = true
		case m.Type == ccs.TypeNone:
			ids = append(ids, id)
		}
	}
	if _, err := c.Write(restOfAck(ids[0])); err != nil {
		return false
	}
	for _, id := range ids[1:] {
		c.Ack(id)
	}
	return true
}

// A NACK code beyond those package ccs knows (from another Transport) is
// an unknown code: retried as INTERNAL_SERVER_ERROR, and counted by the
// text of its "error" once final.
func TestForeignNackCodeIsUnknown(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.sendWindow()
	r, idx := h.firstOnWire()
	r.retries = uint32(h.d.cfg.MaxRetries) // the next bounded NACK is final
	id := appendID(nil, h.d.cfg.IDPrefix, r.gen, idx)
	h.p.onNack(&Event{Kind: EventNack, ID: id, Code: ccs.NumNackCodes + 3, Error: []byte("FOREIGN_CODE")})
	var c countSnap
	c.addConn(h.p)
	if got := h.d.nackCounts(&c); c.nacked != 1 || len(got) != 1 || got["FOREIGN_CODE"] != 1 {
		t.Errorf("nacked %d, by code %v; want 1, under FOREIGN_CODE", c.nacked, got)
	}
}

// TestBackoffGrows: each SERVICE_UNAVAILABLE doubles the message's own
// backoff from InitialBackoff up to MaxBackoff, jittered by at most 20 %.
func TestBackoffGrows(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.sendWindow()
	r, idx := h.firstOnWire()
	want := time.Second
	for n := range 9 {
		h.rd.data, h.rd.off = ccs.AppendNack(h.rd.data[:0], ackFrom, appendID(nil, h.d.cfg.IDPrefix, r.gen, idx), "SERVICE_UNAVAILABLE", nil), 0
		if err := h.p.c.Next(&h.p.ev); err != nil || h.p.ev.Kind != EventNack {
			t.Fatalf("Next = %v, kind %v", err, h.p.ev.Kind)
		}
		before := h.d.now()
		h.p.onNack(&h.p.ev)
		after := h.d.now()
		if time.Duration(r.backoff) != want {
			t.Fatalf("NACK %d: backoff %v; want %v", n+1, time.Duration(r.backoff), want)
		}
		if lo, hi := before+int64(want), after+int64(float64(want)*1.2); r.due < lo || r.due > hi {
			t.Fatalf("NACK %d: due in %v; want %v..%v", n+1, time.Duration(r.due-before), want, time.Duration(hi-before))
		}
		// Take it back from the inbox and put it on the wire again, as the
		// writer's resend would.
		if l := h.p.lane.in.takeAll(); l != idx+1 {
			t.Fatalf("inbox holds %d; want record %d", l, idx+1)
		}
		h.p.win.claim()
		r.conn.Store(h.p.id)
		r.wire.Store(r.gen)
		want = min(2*want, DefaultMaxBackoff)
	}
	if r.lastNack != ccs.NackServiceUnavailable || !r.nacked {
		t.Errorf("last NACK %v", r.lastNack)
	}
}

// A server that answers twice, answers ids the driver never made, and
// answers on the other connection: strays, by kind, outside the identity.
func TestStrays(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	conns := map[int]*badccs.Conn{}
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
		mu.Lock()
		conns[c.Index] = c
		mu.Unlock()
		badccs.Each(func(c *badccs.Conn, _ int, id string) bool {
			mu.Lock()
			other := conns[c.Index^1]
			mu.Unlock()
			if other != nil {
				other.Ack(id)
				time.Sleep(2 * time.Millisecond) // let it be read first
			}
			c.Ack("not-an-id-of-ours")
			c.Ack(id)
			return c.Ack(id) == nil
		})(c)
	}})
	cfg := badConfig(srv)
	cfg.Conns = 2
	cfg.Messages = 100
	cfg.Pacer = workload.ConstantPacer{Freq: 1000}
	res := runRaw(t, cfg)
	c := res.Counts
	k := c.StrayKinds
	if err := res.Check(); err != nil || c.Acked != 100 {
		t.Errorf("Check = %v, acked %d; want every message acked once", err, c.Acked)
	}
	if k["unknown_id"] != 100 || k["duplicate"]+k["late"] < 100 || k["wrong_connection"] == 0 ||
		c.Strays != k["unknown_id"]+k["duplicate"]+k["late"]+k["wrong_connection"] {
		t.Errorf("strays %d by kind %v; want 100 unknown ids, 100 or more duplicates, some on the wrong connection, adding up", c.Strays, k)
	}
}
