package fakeccs

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestClientStreamEnd(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{AckDelay: time.Hour})
	c := dial(t, srv)
	c.send(msg("held1"))
	c.send(msg("held2"))
	waitStats(t, srv, "2 received", func(s Stats) bool { return s.Received == 2 })
	c.raw(ccs.StreamEnd)
	// A client that ends its stream gives up on its pending messages: the
	// held answers are dropped, never sent, and the stream ends.
	items, sawEnd, _ := c.expectClosed()
	if !sawEnd {
		t.Errorf("no </stream:stream> from the fake; items %+v", items)
	}
	for _, it := range items {
		if it.Kind != ccs.KindStreamEnd {
			t.Errorf("item %v after the client's stream end; want only </stream:stream>", it.Kind)
		}
	}
	waitStats(t, srv, "closed, 0 acks, 2 abandoned", func(s Stats) bool {
		return s.ActiveConnections == 0 && s.Acks == 0 && s.Abandoned == 2
	})
}

func TestLostConnectionAbandons(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{AckDelay: time.Hour})
	c := dial(t, srv)
	c.send(msg("held"))
	waitStats(t, srv, "1 received", func(s Stats) bool { return s.Received == 1 })
	c.c.Close()
	waitStats(t, srv, "closed, 0 acks, 1 abandoned", func(s Stats) bool {
		return s.ActiveConnections == 0 && s.Acks == 0 && s.Abandoned == 1
	})
}

// recorder keeps every byte read from the TCP connection under TLS.
type recorder struct {
	net.Conn
	got []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.got = append(r.got, p[:n]...)
	return n, err
}

// TestStreamEndCloseNotify: when the fake ends a stream (here after the
// client's end; a drain or a stream error end the same way) the TLS
// close_notify alert follows </stream:stream> before the TCP close, as
// TLS requires: OpenSSL 3 reports a close without it as an error
// ("unexpected eof while reading"), and aioxmpp logs it as a fatal read
// error on every drained connection. TLS 1.2, so that the last record's
// type (21, an alert) is visible on the wire.
func TestStreamEndCloseNotify(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	raw, err := net.DialTimeout("tcp", srv.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer raw.Close()
	rec := &recorder{Conn: raw}
	cfg := clientConfig(srv)
	cfg.TLS.ServerName = "127.0.0.1"
	cfg.TLS.MaxVersion = tls.VersionTLS12
	tc := tls.Client(rec, cfg.TLS)
	conn, err := ccs.ClientHandshake(context.Background(), tc, cfg)
	if err != nil {
		t.Fatalf("ClientHandshake: %v", err)
	}
	c := &client{t: t, c: conn}
	c.raw(ccs.StreamEnd)
	for it := c.next(); it.Kind != ccs.KindStreamEnd; it = c.next() {
	}
	raw.SetReadDeadline(time.Now().Add(ioTimeout))
	io.Copy(io.Discard, rec) // the rest, to the fake's TCP close (FIN)
	last := byte(0)
	for b := rec.got; len(b) >= 5; {
		n := 5 + int(binary.BigEndian.Uint16(b[3:5]))
		if n > len(b) {
			t.Fatalf("a TLS record cut short: %d bytes of %d", len(b), n)
		}
		last, b = b[0], b[n:]
	}
	if last != 21 {
		t.Errorf("the last TLS record before the TCP close has type %d; want 21 (the close_notify alert)", last)
	}
}
