package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// badConfig returns a driver Config aimed at a misbehaving server.
func badConfig(srv *badccs.Server) Config {
	return Config{Target: srv.Addr(), SenderID: srv.SenderID(), APIKey: srv.APIKey(), TLS: srv.TLS()}
}

// disconnectLog collects what OnDisconnect is given.
type disconnectLog struct {
	mu   sync.Mutex
	list []Disconnect
}

func (l *disconnectLog) add(d Disconnect) {
	l.mu.Lock()
	l.list = append(l.list, d)
	l.mu.Unlock()
}

func (l *disconnectLog) get() []Disconnect {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Disconnect(nil), l.list...)
}

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
	// Without jitter a slot tries at 0, 0.05, 0.15, 0.35, 0.75, 1.15,
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

// Each way a server can end a connection is counted by its cause, and the
// first of each reported once, with the server's text cut to 200
// characters.
func TestDisconnectCauses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("überlastet ", 100)
	for _, tc := range []struct {
		cause, detail string
		serve         func(c *badccs.Conn)
	}{
		{CauseStreamError + "internal-server-error", "internal-server-error: " + long[:100],
			func(c *badccs.Conn) { c.StreamError(ccs.CondInternal, long) }},
		{CauseStreamError + "system-shutdown", "system-shutdown", func(c *badccs.Conn) { c.StreamError(ccs.CondSystemShutdown, "") }},
		{CauseStreamEnd, "", func(c *badccs.Conn) { c.Write([]byte(ccs.StreamEnd)) }},
		{CauseEOF, "closed", func(c *badccs.Conn) {
			// close_notify, then the TCP close once the client closed.
			c.Conn.(interface{ CloseWrite() error }).CloseWrite()
			badccs.Hold(c)
		}},
		{CauseReset, "reset", func(c *badccs.Conn) {
			c.Raw.(*net.TCPConn).SetLinger(0)
			c.Raw.Close()
		}},
		{CauseSyntax, "malformed", func(c *badccs.Conn) { c.Write([]byte("<message><<<</message>")) }},
		{CauseOversize, "size limit", func(c *badccs.Conn) {
			c.Write([]byte("<message>" + strings.Repeat("x", ccs.DefaultMaxStanza) + "</message>"))
		}},
		{CauseTLS, "tls", func(c *badccs.Conn) { c.Raw.Write([]byte("\x17\x03\x03\x00\x20not a sealed record, not at all!")) }},
	} {
		t.Run(tc.cause, func(t *testing.T) {
			t.Parallel()
			srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
				if c.Index > 0 {
					badccs.AckAll(c) // the replacement works
					return
				}
				tc.serve(c)
				time.Sleep(50 * time.Millisecond) // let the client read it before the close
			}})
			var log disconnectLog
			cfg := badConfig(srv)
			cfg.Conns = 1
			cfg.Pacer = workload.ConstantPacer{Freq: 200}
			cfg.Duration = 300 * time.Millisecond
			cfg.ReconnectBackoff = 10 * time.Millisecond
			cfg.OnDisconnect = log.add
			res := runRaw(t, cfg)
			if got := res.Counts.Disconnects; got[tc.cause] != 1 || len(got) != 1 {
				t.Errorf("disconnects %v; want {%s: 1}", got, tc.cause)
			}
			l := log.get()
			if len(l) != 1 || l[0].Cause != tc.cause || l[0].Conn != 0 || !strings.Contains(l[0].Detail, tc.detail) {
				t.Fatalf("OnDisconnect got %+v; want one call for %s with %q in the detail", l, tc.cause, tc.detail)
			}
			if n := utf8.RuneCountInString(l[0].Detail); n > MaxDetailLen || strings.ContainsAny(l[0].Detail, "\n\r") {
				t.Errorf("detail %q: %d characters; want one line of at most %d", l[0].Detail, n, MaxDetailLen)
			}
			if err := res.Check(); err != nil {
				t.Errorf("Check = %v; want every message resent and acked", err)
			}
		})
	}
}

func TestClassifyAndKeys(t *testing.T) {
	t.Parallel()
	red := ccs.NewRedactor("42", "secret-key-123")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&ccs.StreamError{Condition: "Policy_Violation<x>"}, CauseStreamError + "policyviolationx"},
		{&ccs.StreamError{Condition: "secret-key-123"}, CauseStreamError + "redacted"},
		{&ccs.StreamError{Condition: strings.Repeat("a", 500)}, CauseStreamError + strings.Repeat("a", MaxKeyLen)},
		{&ccs.StreamError{Condition: "\x00"}, CauseStreamError + "unknown"},
		{fmt.Errorf("read: %w", errStreamEnd), CauseStreamEnd},
		{&ccs.SyntaxError{Err: ccs.ErrTooDeep}, CauseOversize},
		{&ccs.SyntaxError{Err: ccs.ErrRestricted}, CauseSyntax},
		{errors.New("something else"), CauseOther},
	} {
		if got, _ := classify(tc.err, red); got != tc.want {
			t.Errorf("classify(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"SOMETHING_NEW":                  "SOMETHING_NEW",
		"":                               "UNKNOWN",
		" \t":                            "UNKNOWN",
		"bad\ncode\x00é":                 "bad?code???",
		"pre secret-key-123 post":        "pre [REDACTED] post",
		strings.Repeat("Z", 3*MaxKeyLen): strings.Repeat("Z", MaxKeyLen),
	} {
		if got := nackKey(red, []byte(in)); got != want {
			t.Errorf("nackKey(%q) = %q; want %q", in, got, want)
		}
	}
	tl := newTally(2, "OTHER")
	for i, k := range []string{"a", "b", "c", "a", "d"} {
		counted, first := tl.add(k)
		if wantFirst := i == 0 || i == 1 || i == 2; first != wantFirst {
			t.Errorf("tally.add(%q) first = %v; want %v", k, first, wantFirst)
		}
		if (k == "c" || k == "d") != (counted == "OTHER") {
			t.Errorf("tally.add(%q) counted under %q", k, counted)
		}
	}
	if got := tl.snapshot(); len(got) != 3 || got["a"] != 2 || got["OTHER"] != 2 {
		t.Errorf("tally = %v; want a:2 b:1 OTHER:2", got)
	}
}

// A server that NACKs every message with a distinct 2 KB unknown code:
// the codes are bounded in number and length.
func TestUnknownNackCodesBounded(t *testing.T) {
	t.Parallel()
	srv := badccs.Start(t, badccs.Options{Serve: badccs.Each(func(c *badccs.Conn, n int, id string) bool {
		return c.Nack(id, fmt.Sprintf("%064d%s", n, strings.Repeat("X", 2000))) == nil
	})})
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Messages = 300
	cfg.MaxRetries = -1
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Nacked != 300 || len(c.Nacks) != MaxNackKeys+1 || c.Nacks[NackOther] != 300-MaxNackKeys {
		t.Errorf("nacked %d in %d codes, %s %d; want 300 in %d codes, the rest %d under %s", c.Nacked, len(c.Nacks), NackOther, c.Nacks[NackOther], MaxNackKeys+1, 300-MaxNackKeys, NackOther)
	}
	for k := range c.Nacks {
		if len(k) > MaxKeyLen {
			t.Errorf("NACK code of %d bytes; want at most %d", len(k), MaxKeyLen)
		}
	}
}

// A server that sends the API key and its PLAIN message back, as a stream
// error's text and as NACK codes, and at the auth step: neither reaches
// the Result, the disconnect details or the errors.
func TestRedactedEverywhere(t *testing.T) {
	t.Parallel()
	const key = "AIzaSy-driver-redaction-key"
	srv := badccs.Start(t, badccs.Options{APIKey: key, Serve: func(c *badccs.Conn) {
		blob := ccs.PlainMessage("42@"+ccs.Domain, key)
		if c.Index > 0 {
			badccs.Each(func(c *badccs.Conn, n int, id string) bool {
				if n < 5 {
					return c.Nack(id, []string{key, blob, "X" + key}[n%3]) == nil
				}
				return c.Ack(id) == nil
			})(c)
			return
		}
		c.StreamError(ccs.CondInternal, "echo "+key+" "+blob)
		time.Sleep(50 * time.Millisecond)
	}})
	var log disconnectLog
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Messages = 20
	cfg.MaxRetries = -1
	cfg.ReconnectBackoff = 10 * time.Millisecond
	cfg.OnDisconnect = log.add
	res := runRaw(t, cfg)
	text := fmt.Sprintf("%+v %v", res.Counts, log.get())
	if l := badccs.Leaks(text, key, ccs.PlainMessage("42@"+ccs.Domain, key)); len(l) > 0 {
		t.Errorf("result or disconnect details hold parts of the credentials %q:\n%s", l, text)
	}
	if res.Counts.Nacks[ccs.Redacted] != 4 || res.Counts.Nacks["X"+ccs.Redacted] != 1 || !strings.Contains(text, "echo "+ccs.Redacted) {
		t.Errorf("counts %v, disconnects %v; want the echoed secrets shown as %s", res.Counts.Nacks, log.get(), ccs.Redacted)
	}

	echo := badccs.Start(t, badccs.Options{APIKey: key, AuthReply: func(plain string) string {
		return "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" +
			plain + " " + key + "</text></stream:error>"
	}})
	cfg = badConfig(echo)
	cfg.Messages = 1
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Stage != "auth" {
		t.Fatalf("Run = %v; want a *DialError at auth", err)
	}
	if l := badccs.Leaks(err.Error(), key, ccs.PlainMessage("42@"+ccs.Domain, key)); len(l) > 0 {
		t.Errorf("Run error %q holds parts of the credentials %q", err, l)
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

// A target that freezes for most of a second, ending just before an
// interval's end: the interval shows the peak of pending messages (not
// the few left at its end) and the response time the freeze cost.
func TestTimelinePeakAndResponse(t *testing.T) {
	t.Parallel()
	var first sync.Once
	var t0 time.Time
	srv := badccs.Start(t, badccs.Options{Serve: func(c *badccs.Conn) {
		first.Do(func() { t0 = time.Now() })
		// Frozen from 1.1 s to 1.8 s after the first connection: what
		// arrives meanwhile is answered at 1.8 s.
		var mu sync.Mutex
		var held []string
		thaw := time.AfterFunc(time.Until(t0.Add(1800*time.Millisecond)), func() {
			mu.Lock()
			defer mu.Unlock()
			for _, h := range held {
				c.Ack(h)
			}
			held = nil
		})
		defer thaw.Stop()
		badccs.Each(func(c *badccs.Conn, _ int, id string) bool {
			mu.Lock()
			defer mu.Unlock()
			if e := time.Since(t0); e > 1100*time.Millisecond && e < 1800*time.Millisecond {
				held = append(held, id)
				return true
			}
			return c.Ack(id) == nil
		})(c)
	}})
	cfg := badConfig(srv)
	cfg.Conns = 2
	cfg.Window = 50
	cfg.Pacer = workload.ConstantPacer{Freq: 1000}
	cfg.Duration = 2500 * time.Millisecond
	res := runRaw(t, cfg)
	if err := res.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(res.Intervals) < 2 {
		t.Fatalf("%d intervals; want at least 2", len(res.Intervals))
	}
	iv := res.Intervals[1]
	t.Logf("interval 2: pending %d, peak %d, service p99 %d µs, response p99 %d µs", iv.Pending, iv.PendingPeak, iv.ServiceP99, iv.ResponseP99)
	if iv.PendingPeak < 90 || iv.Pending > 30 {
		t.Errorf("interval 2: pending %d at its end, peak %d; want a peak near the windows' 100 and few at the end", iv.Pending, iv.PendingPeak)
	}
	if iv.ServiceP99 < 300_000 || iv.ResponseP99 < 500_000 {
		t.Errorf("interval 2: service p99 %d µs, response p99 %d µs; want the freeze in both, more in response time", iv.ServiceP99, iv.ResponseP99)
	}
	if first := res.Intervals[0]; first.PendingPeak < first.Pending || first.PendingPeak > 100 {
		t.Errorf("interval 1: pending %d, peak %d; want pending <= peak <= 100", first.Pending, first.PendingPeak)
	}
}

// --interval sets the timeline's resolution; the warm-up is rounded up to
// whole intervals.
func TestIntervalConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Transport: nopTransport{}, Duration: time.Second, Interval: 50 * time.Millisecond}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a 50 ms interval = %v; want ErrConfig", err)
	}
	d, err := New(Config{Transport: nopTransport{}, Duration: time.Second, Interval: 200 * time.Millisecond, Warmup: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Config(); c.Warmup != 400*time.Millisecond || c.DrainCloseTimeout != DefaultDrainCloseTimeout || c.MaxResends != DefaultMaxResends {
		t.Errorf("warmup %v drain close %v max resends %d; want 400ms and the defaults", c.Warmup, c.DrainCloseTimeout, c.MaxResends)
	}
	srv := badccs.Start(t, badccs.Options{})
	cfg := badConfig(srv)
	cfg.Conns = 1
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 600 * time.Millisecond
	cfg.Interval = 100 * time.Millisecond
	res := runRaw(t, cfg)
	if n := len(res.Intervals); n < 6 || n > 8 {
		t.Errorf("%d intervals of 100 ms in a 600 ms run; want 6 to 8", n)
	}
	for _, iv := range res.Intervals[:len(res.Intervals)-1] {
		if iv.End-iv.Start != 100*time.Millisecond {
			t.Errorf("interval %v..%v; want 100 ms", iv.Start, iv.End)
		}
	}
}
