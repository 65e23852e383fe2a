package fakeccs

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// TestCloseStopsEverything checks that Close returns at once with a
// connection open and answers held for an hour, closes the connection,
// and that Serve returns nil (checked by startServer), then ErrClosed.
func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{AckDelay: time.Hour, Keepalive: time.Hour})
	c := dial(t, srv)
	c.send(msg("x"))
	waitStats(t, srv, "1 received", func(s Stats) bool { return s.Received == 1 })
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return")
	}
	if _, _, _ = c.expectClosed(); srv.Stats().ActiveConnections != 0 {
		t.Fatal("connections still active after Close")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != ErrClosed {
		t.Fatalf("Serve after Close = %v; want ErrClosed", err)
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
