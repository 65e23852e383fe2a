package fakeccs

import (
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
