package fakeccs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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

func TestSenderIdentityForms(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{SenderID: "42", APIKey: "k"})
	for _, id := range []string{"42", "42@gcm.googleapis.com"} {
		cfg := clientConfig(srv)
		cfg.SenderID = id
		c, err := ccs.Dial(t.Context(), srv.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("Dial as %q: %v", id, err)
		}
		if !strings.HasPrefix(c.JID, "42@gcm.googleapis.com/") {
			t.Errorf("JID %q; want 42@gcm.googleapis.com/...", c.JID)
		}
		c.Close()
	}
	cfg := clientConfig(srv)
	cfg.APIKey = "wrong"
	if _, err := ccs.Dial(t.Context(), srv.Addr().String(), cfg); err == nil {
		t.Fatal("Dial with a wrong key succeeded")
	}
	waitStats(t, srv, "1 auth failure", func(s Stats) bool { return s.AuthFailures == 1 })
}
