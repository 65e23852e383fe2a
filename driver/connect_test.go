package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// gateTransport wraps a Transport: it counts the dials in progress (the
// most at once in peak), fails the dial of logical connection fail (if
// >= 0) after the others started, and notes which dials saw their context
// cancelled and which connections were closed.
type gateTransport struct {
	Transport
	fail             int
	delay            time.Duration
	inFlight, peak   atomic.Int32
	dials, cancelled atomic.Int32

	mu     sync.Mutex
	made   []*closeNote
	starts []time.Time
}

type closeNote struct {
	Conn
	closed atomic.Bool
}

func (c *closeNote) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

func (g *gateTransport) Dial(ctx context.Context, i int) (Conn, error) {
	g.dials.Add(1)
	g.mu.Lock()
	g.starts = append(g.starts, time.Now())
	g.mu.Unlock()
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if i == g.fail {
		time.Sleep(g.delay)
		return nil, &ccs.HandshakeError{Stage: "auth", Err: ccs.ErrAuthRefused}
	}
	if g.fail >= 0 && i > g.fail {
		// Dials after the failing one wait for the cancellation.
		select {
		case <-ctx.Done():
			g.cancelled.Add(1)
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
		}
	}
	time.Sleep(g.delay)
	c, err := g.Transport.Dial(ctx, i)
	if err != nil {
		return nil, err
	}
	cn := &closeNote{Conn: c}
	g.mu.Lock()
	g.made = append(g.made, cn)
	g.mu.Unlock()
	return cn, nil
}

// newGate wraps the native transport aimed at cfg's target.
func newGate(cfg Config, fail int, delay time.Duration) *gateTransport {
	tr := NewNativeTransport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: cfg.TLS})
	return &gateTransport{Transport: tr, fail: fail, delay: delay}
}

// At most DialConcurrency handshakes run at once, every one is timed, and
// the time to connect them all is measured.
func TestConnectConcurrencyAndHandshakes(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 24
	cfg.DialConcurrency = 3
	cfg.Messages = 200
	g := newGate(cfg, -1, 5*time.Millisecond)
	cfg.Transport = g
	res := run(t, srv, cfg)
	if p := g.peak.Load(); p != 3 {
		t.Errorf("at most %d dials at once with DialConcurrency 3; want 3", p)
	}
	if got := res.Handshakes.TotalCount(); got != int64(cfg.Conns) {
		t.Errorf("Handshakes holds %d values; want one per connection, %d", got, cfg.Conns)
	}
	// 24 dials of at least 5 ms, 3 at a time: at least 8 rounds.
	if min := time.Duration(res.Handshakes.Min()) * time.Microsecond; min < 5*time.Millisecond || res.AllConnected < 40*time.Millisecond {
		t.Errorf("handshake min %v, all connected in %v; want >= 5ms and >= 40ms", min, res.AllConnected)
	}
}

// The first failed dial cancels those in progress, starts no more, and
// closes the connections already made.
func TestConnectFailureCancelsTheRest(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 40
	cfg.DialConcurrency = 8
	cfg.Messages = 10
	g := newGate(cfg, 3, 20*time.Millisecond)
	cfg.Transport = g
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Conn != 3 || de.Stage != "auth" || !errors.Is(err, ccs.ErrAuthRefused) {
		t.Fatalf("Run = %v; want the *DialError of connection 3 at auth", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("failing took %v; the other dials should have been cancelled", el)
	}
	if n := g.dials.Load(); n >= int32(cfg.Conns) {
		t.Errorf("%d dials started; want the failure to stop new ones", n)
	}
	if g.cancelled.Load() == 0 {
		t.Errorf("no dial in progress saw its context cancelled")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, c := range g.made {
		if !c.closed.Load() {
			t.Errorf("connection %d made before the failure was not closed", i)
		}
	}
}

// ConnRate spaces the starts of the dials.
func TestConnectRamp(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 6
	cfg.ConnRate = 50
	cfg.Messages = 60
	g := newGate(cfg, -1, 0)
	cfg.Transport = g
	res := run(t, srv, cfg)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.starts) != cfg.Conns {
		t.Fatalf("%d dials; want %d", len(g.starts), cfg.Conns)
	}
	// Starts 20 ms apart: the last one no sooner than 100 ms after the
	// ramp began (the first may have started a little late).
	if span := g.starts[len(g.starts)-1].Sub(g.starts[0]); span < 80*time.Millisecond || res.AllConnected < 100*time.Millisecond {
		t.Errorf("dials started over %v, all connected in %v at 50 a second; want >= 80ms and >= 100ms", span, res.AllConnected)
	}
}

// nameTransport refuses every dial, naming itself in the error.
type nameTransport string

func (n nameTransport) Dial(context.Context, int) (Conn, error) { return nil, errors.New(string(n)) }
func (n nameTransport) Name() string                            { return string(n) }

// Several sender ids: connection i goes to sender i % n, and each sender
// takes at most MaxConnsPerSender connections.
func TestSenderIDsRoundRobin(t *testing.T) {
	t.Parallel()
	rr := RoundRobin(nameTransport("a"), nameTransport("b"), nameTransport("c"))
	for i, want := range []string{"a", "b", "c", "a", "b"} {
		if _, err := rr.Dial(context.Background(), i); err == nil || err.Error() != want {
			t.Errorf("RoundRobin(a, b, c).Dial(%d) = %v; want the dial of %s", i, err, want)
		}
	}
	if rr.Name() != "a" {
		t.Errorf("Name() = %q; want %q", rr.Name(), "a")
	}
	if one := nameTransport("x"); RoundRobin(one) != Transport(one) {
		t.Errorf("RoundRobin of one transport is not that transport")
	}
	d, err := New(Config{Target: "127.0.0.1:1", SenderIDs: []string{"1", "2"}, APIKey: "key-123456", Conns: 2 * MaxConnsPerSender, Duration: time.Second})
	if err != nil {
		t.Fatalf("New with 2 sender ids and %d connections: %v", 2*MaxConnsPerSender, err)
	}
	if rr, ok := d.tr.(*roundRobin); !ok || len(rr.ts) != 2 {
		t.Errorf("transport %T; want a round robin over 2 native transports", d.tr)
	}
	// A shard takes the job's connections in turn: shard 1 of 3 has the
	// job's connections 1, 4, 7, ..., so its connection i uses sender
	// (1 + 3i) mod 2.
	d, err = New(Config{Target: "127.0.0.1:1", SenderIDs: []string{"1", "2"}, APIKey: "key-123456", Conns: 9, Duration: time.Second,
		Shard: workload.Shard{Index: 1, Count: 3}})
	if err != nil {
		t.Fatal(err)
	}
	srr := d.tr.(*roundRobin)
	if srr.first != 1 || srr.stride != 3 || d.cfg.Conns != 3 {
		t.Errorf("shard 1/3 of 9 connections: round robin from %d by %d, %d connections; want from 1 by 3, 3 connections", srr.first, srr.stride, d.cfg.Conns)
	}
	sh := RoundRobin(nameTransport("a"), nameTransport("b"))
	sh.(*roundRobin).first, sh.(*roundRobin).stride = 1, 3
	for i, want := range []string{"b", "a", "b"} {
		if _, err := sh.Dial(context.Background(), i); err == nil || err.Error() != want {
			t.Errorf("shard 1/3 Dial(%d) = %v; want the dial of %s", i, err, want)
		}
	}
	if _, err := New(Config{Target: "127.0.0.1:1", APIKey: "key-123456", SenderID: "1", Conns: 2 * MaxConnsPerSender, Duration: time.Second,
		Shard: workload.Shard{Index: 0, Count: 2}}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a job of %d connections over one sender id, in 2 shards = %v; want ErrConfig (the limit is the job's)", 2*MaxConnsPerSender, err)
	}
}

// Against a fake that accepts three sender ids, connections spread over
// them all: a fourth sender id the fake does not know fails the
// connection it is used for, and only that one.
func TestSenderIDsAgainstFake(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{SenderIDs: []string{"111", "222", "333"}, APIKey: "shared-key-9"})
	cfg := fakeConfig(srv)
	cfg.SenderIDs = []string{"111", "222", "333"}
	cfg.Conns = 6
	cfg.Messages = 600
	res := run(t, srv, cfg)
	if got := srv.Stats().Connections; got != 6 {
		t.Errorf("fake saw %d connections; want 6", got)
	}
	if res.Handshakes.TotalCount() != 6 {
		t.Errorf("%d handshakes; want 6", res.Handshakes.TotalCount())
	}

	cfg.SenderIDs = []string{"111", "222", "333", "444"}
	cfg.Conns = 4
	cfg.DialConcurrency = 1 // one at a time, so that connection 3 fails alone
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Conn != 3 || de.Stage != "auth" {
		t.Errorf("Run with an unknown fourth sender id = %v; want the *DialError of connection 3 at auth", err)
	}
}

func TestRunDialErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	const key = "wrong-key-5f3a9c"
	cfg.APIKey = key
	cfg.Messages = 10
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Stage != "auth" || !errors.Is(err, ccs.ErrAuthRefused) {
		t.Fatalf("Run with a wrong key = %v; want a *DialError at auth wrapping ccs.ErrAuthRefused", err)
	}
	if strings.Contains(fmt.Sprint(err), key) {
		t.Errorf("error %q contains the API key", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("failing took %v", time.Since(start))
	}

	cfg = fakeConfig(srv)
	cfg.Target = "127.0.0.1:1" // nothing listens on port 1
	cfg.Messages = 10
	d, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(context.Background())
	if !errors.As(err, &de) || de.Stage != "dial" {
		t.Fatalf("Run against a closed port = %v; want a *DialError at dial", err)
	}
	if want := fmt.Sprintf("connection %d of 8 could not connect to 127.0.0.1:1: ", de.Conn+1); !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "driver:") {
		t.Errorf("Run against a closed port = %q; want %q and the cause, without the driver's prefix", err, want+"...")
	}
	if _, err := d.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v; want ErrRunning", err)
	}
}

// Config.TLSMode reaches the native transport: a server that offers only
// STARTTLS, and one without TLS, get every message, with the accounting
// identity checked by runRaw.
func TestTLSModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode ccs.TLSMode
		opts badccs.Options
	}{
		{ccs.TLSStartTLS, badccs.Options{StartTLS: true}},
		{ccs.TLSNone, badccs.Options{Plain: true}},
	} {
		srv := badccs.Start(t, tc.opts)
		cfg := badConfig(srv)
		cfg.TLSMode, cfg.Conns, cfg.Messages = tc.mode, 2, 300
		if tc.mode == ccs.TLSNone {
			cfg.TLS = nil
		}
		res := runRaw(t, cfg)
		if c := res.Counts; c.Acked != 300 || c.Messages != 300 || srv.Bound() != 2 {
			t.Errorf("TLSMode %v: acked %d of %d messages, %d connections bound; want 300 of 300 and 2", tc.mode, c.Acked, c.Messages, srv.Bound())
		}
	}
}
