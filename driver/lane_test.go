package driver

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// openCounter is a Transport that counts the connections the driver holds:
// dialled (from the start of the dial) and not yet closed.
type openCounter struct {
	Transport
	open, max atomic.Int64
}

func (t *openCounter) Dial(ctx context.Context, i int) (Conn, error) {
	n := t.open.Add(1)
	for m := t.max.Load(); n > m && !t.max.CompareAndSwap(m, n); m = t.max.Load() {
	}
	c, err := t.Transport.Dial(ctx, i)
	if err != nil {
		t.open.Add(-1)
		return nil, err
	}
	return &countedConn{Conn: c, open: &t.open}, nil
}

type countedConn struct {
	Conn
	open   *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

// A server that drains every connection as soon as it is bound and never
// closes one: each logical connection keeps at most one draining
// connection besides its current one, and never holds more than two TCP
// connections. Those the server leaves open are closed by the driver
// after DrainCloseTimeout, counted and reported.
func TestDrainingBounded(t *testing.T) {
	t.Parallel()
	drainAtBind := badccs.Options{Serve: func(c *badccs.Conn) {
		if c.Drain() == nil {
			badccs.Hold(c)
		}
	}}
	base := func(srv *badccs.Server) Config {
		cfg := badConfig(srv)
		cfg.Conns = 2
		cfg.Pacer = workload.ConstantPacer{Freq: 1000}
		cfg.Duration = time.Second
		cfg.DrainTimeout = 300 * time.Millisecond
		return cfg
	}
	t.Run("never-closed", func(t *testing.T) {
		t.Parallel()
		srv := badccs.Start(t, drainAtBind)
		cfg := base(srv)
		cfg.DrainCloseTimeout = time.Minute
		res := runRaw(t, cfg)
		// Each logical connection: its first connection drains, the
		// replacement drains too and waits for the first to close,
		// which the server never does.
		if got, want := srv.Accepted(), int64(2*cfg.Conns); got != want || srv.MaxOpen() != want {
			t.Errorf("the server accepted %d connections, %d open at once; want 2 × conns = %d", got, srv.MaxOpen(), want)
		}
		if res.Counts.DrainTimeouts != 0 || res.Elapsed > 3*time.Second {
			t.Errorf("drain timeouts %d, run took %v; want none, and the run ended on time", res.Counts.DrainTimeouts, res.Elapsed)
		}
	})
	t.Run("closed-by-driver", func(t *testing.T) {
		t.Parallel()
		srv := badccs.Start(t, drainAtBind)
		var log disconnectLog
		cfg := base(srv)
		cfg.DrainCloseTimeout = 200 * time.Millisecond
		cfg.OnDisconnect = log.add
		tr := &openCounter{Transport: NewNativeTransport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: cfg.TLS})}
		cfg.Transport = tr
		res := runRaw(t, cfg)
		c := res.Counts
		if got, limit := tr.max.Load(), int64(2*cfg.Conns); got > limit {
			t.Errorf("the driver held %d connections at once; want at most 2 × conns = %d", got, limit)
		}
		// Per logical connection: the first two, which drain at once,
		// are closed 200 ms later, and so on: two more every 200 ms in
		// the 1.3 s run.
		if got, limit := srv.Accepted(), int64(cfg.Conns*(2+2*7)); got > limit {
			t.Errorf("the server accepted %d connections in 1.3 s; want at most %d", got, limit)
		}
		// The first connections drain at once and are closed 200 ms later
		// (later ones depend on how fast dials are on a busy machine).
		if c.DrainTimeouts < uint64(cfg.Conns) || c.Disconnects[CauseDrainTimeout] != c.DrainTimeouts {
			t.Errorf("drain timeouts %d, disconnects %v; want at least one per connection, each a %s disconnect", c.DrainTimeouts, c.Disconnects, CauseDrainTimeout)
		}
		if l := log.get(); len(l) != 1 || l[0].Cause != CauseDrainTimeout || !strings.Contains(l[0].Detail, "CONNECTION_DRAINING") {
			t.Errorf("OnDisconnect got %+v; want one call, for the first drain timeout", l)
		}
	})
}

// A draining server as the protocol has it: it keeps answering what was
// sent before it drained, NACKs with CONNECTION_DRAINING what arrives
// later, and closes its stream after a while. Every message ends acked.
func TestDrainLinger(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
		switch {
		case n == 40:
			c.Ack(id)
			c.Drain()
			// The end of the stream after a linger, then the close.
			time.AfterFunc(50*time.Millisecond, func() {
				c.Write([]byte(ccs.StreamEnd))
				c.Close()
			})
		case n < 45:
			c.Ack(id) // sent before the client saw the drain
		default:
			c.Nack(id, "CONNECTION_DRAINING")
		}
		return true
	})})
	cfg := badConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 2000}
	cfg.Duration = 600 * time.Millisecond
	cfg.DrainTimeout = 3 * time.Second
	res := runRaw(t, cfg)
	c := res.Counts
	if err := res.Check(); err != nil || c.Acked != c.Messages || c.Draining == 0 {
		t.Errorf("Check = %v, acked %d of %d, draining %d; want every message acked after drains", err, c.Acked, c.Messages, c.Draining)
	}
	if got, limit := srv.MaxOpen(), int64(2*cfg.Conns); got > limit {
		t.Errorf("the server saw %d connections open at once; want at most %d", got, limit)
	}
	if len(c.Disconnects) != 0 {
		t.Errorf("disconnects %v; want none (a drained connection closed by the server is not one)", c.Disconnects)
	}
}

// A server that closes every connection as soon as it is bound gets no
// reconnect storm: each loss before an answer is a failed attempt, and
// the next one waits a growing backoff.
func TestReconnectBackoff(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: func(*badccs.Conn) {}})
	var log disconnectLog
	cfg := badConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 1500 * time.Millisecond
	cfg.DrainTimeout = 500 * time.Millisecond
	cfg.ReconnectBackoff = 50 * time.Millisecond
	cfg.MaxReconnectBackoff = 400 * time.Millisecond
	cfg.OnDisconnect = log.add
	res := runRaw(t, cfg)
	// Without jitter a lane tries at 0, 0.05, 0.15, 0.35, 0.75, 1.15,
	// 1.55 and 1.95 s: at most 8 connections each in the 2 s run.
	if got := srv.Accepted(); got > 8*int64(cfg.Conns) {
		t.Errorf("accepted %d connections in 2 s; want at most %d with the backoff", got, 8*cfg.Conns)
	}
	// The close is an EOF, or a reset when the driver's messages were
	// still unread.
	// Every connection but those open at the end of the run ended so.
	d := res.Counts.Disconnects
	if n, rec := d[CauseEOF]+d[CauseReset], res.Counts.Reconnects; n == 0 || n != res.Counts.DisconnectTotal() || n < rec || n > rec+uint64(cfg.Conns) {
		t.Errorf("disconnects %v after %d reconnects; want one eof or reset per connection that ended", d, rec)
	}
	if l := log.get(); len(l) != len(d) || l[0].Cause != CauseEOF && l[0].Cause != CauseReset {
		t.Errorf("OnDisconnect got %+v; want one call per cause of %v", l, d)
	}
}

// A connection that answered and lived a second is replaced at once; one
// that dies young is a failed attempt.
func TestHealthy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		answered bool
		life     time.Duration
		want     bool
	}{{true, 2 * time.Second, true}, {false, 2 * time.Second, false}, {true, 500 * time.Millisecond, false}} {
		p := &pconn{nacksOrErrors: tc.answered, born: int64(time.Second), ended: int64(time.Second + tc.life)}
		if got := p.healthy(); got != tc.want {
			t.Errorf("healthy() with answer %v after %v = %v; want %v", tc.answered, tc.life, got, tc.want)
		}
	}
}

// A server that takes one message per connection and closes it: every
// message is resent on the next connection until it was lost more than
// MaxResends times, and then it is final as lost.
func TestLostAfterMaxResends(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) { c.Next() }})
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Window = 1
	cfg.Messages = 3
	cfg.Pacer = workload.ConstantPacer{Freq: 100}
	cfg.MaxResends = 2
	cfg.ReconnectBackoff = time.Millisecond
	cfg.MaxReconnectBackoff = 2 * time.Millisecond
	cfg.DrainTimeout = 3 * time.Second
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Lost != 3 || c.Messages != 3 || c.Retries != 6 {
		t.Errorf("lost %d of %d messages after %d retries; want all 3 lost after 2 resends each", c.Lost, c.Messages, c.Retries)
	}
	if err := res.Check(); !errors.Is(err, ErrLost) || errors.Is(err, ErrUnresolved) {
		t.Errorf("Check = %v; want ErrLost only", err)
	}
}
