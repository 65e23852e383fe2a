package fakeccs

import (
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

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
