package driver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/internal/badccs"
	"github.com/ccsbench/ccsbench/workload"
)

// startFake runs a fake CCS server with cfg (TrackIDs forced on, for its
// unique_ids) on a loopback port until the test ends, when its own
// accounting identity is checked.
func startFake(t testing.TB, cfg fakeccs.Config) *fakeccstest.Server {
	t.Helper()
	cfg.TrackIDs = true
	return fakeccstest.Start(t, cfg)
}

// fakeConfig returns a driver Config aimed at srv.
func fakeConfig(srv *fakeccstest.Server) Config {
	c := srv.Config()
	return Config{
		Target:   srv.Addr(),
		SenderID: c.SenderID,
		APIKey:   c.APIKey,
		TLS:      srv.ClientTLS(),
	}
}

// run runs the driver with cfg and checks what every run must satisfy:
// the identity, no unresolved message, no window violation, and as many
// unique ids at the fake as messages at the driver.
func run(t *testing.T, srv *fakeccstest.Server, cfg Config) *Result {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := d.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := srv.Stats()
	t.Logf("counts %+v", res.Counts)
	if res.LastDialError != nil {
		t.Logf("last dial error: %v", res.LastDialError)
	}
	t.Logf("fake: received %d unique %v acks %d nacks %v drains %d drops %d window_violations %d upstream %d/%d receipts %d/%d",
		st.Received, deref(st.UniqueIDs), st.Acks, st.Nacks, st.Drains, st.Drops, st.WindowViolations,
		st.UpstreamSent, st.UpstreamAcked, st.ReceiptsSent, st.ReceiptsAcked)
	if err := res.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if st.WindowViolations != 0 {
		t.Errorf("fake window_violations = %d; want 0", st.WindowViolations)
	}
	// The fake counts the ids it could read: a message answered with a
	// stanza error has none.
	if want := res.Counts.Messages - res.Counts.StanzaErrors; st.UniqueIDs == nil || *st.UniqueIDs != want {
		t.Errorf("fake unique_ids = %v; want driver messages %d - stanza errors %d", deref(st.UniqueIDs), res.Counts.Messages, res.Counts.StanzaErrors)
	}
	if res.Counts.Messages == 0 {
		t.Errorf("no message sent")
	}
	return res
}

func fakeccsConfig() fakeccs.Config { return fakeccs.Config{} }

func deref64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func deref(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestRunPlain(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns = 4
	cfg.Pacer = workload.ConstantPacer{Freq: 2000}
	cfg.Duration = 500 * time.Millisecond
	res := run(t, srv, cfg)
	if res.Counts.Acked != res.Counts.Messages {
		t.Errorf("acked %d of %d", res.Counts.Acked, res.Counts.Messages)
	}
	if got := res.Counts.Messages; got < 900 || got > 1000 {
		t.Errorf("messages = %d; want about 1000 (2000/s for 0.5 s)", got)
	}
}

func TestRunUnlimited(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Messages = 20000
	res := run(t, srv, cfg)
	if res.Counts.Messages != 20000 || res.Counts.Acked != 20000 {
		t.Errorf("messages %d acked %d; want 20000 each", res.Counts.Messages, res.Counts.Acked)
	}
}

// faultCase is one fault mode of the fake and what the run must show.
type faultCase struct {
	name  string
	fake  fakeccs.Config
	tweak func(*Config)
	check func(t *testing.T, res *Result, st fakeccs.Stats)
}

func TestRunFaults(t *testing.T) {
	t.Parallel()
	cases := []faultCase{
		{
			name: "final-nacks",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "BAD_REGISTRATION", Rate: 0.1}, {Code: "DEVICE_UNREGISTERED", Rate: 0.05}, {Code: "DEVICE_MESSAGE_RATE_EXCEEDED", Rate: 0.05}}},
			tweak: func(c *Config) {
				c.Message = workload.DefaultMessageConfig()
				c.Message.InvalidRate = 0.05
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				for _, code := range []string{"BAD_REGISTRATION", "DEVICE_UNREGISTERED", "DEVICE_MESSAGE_RATE_EXCEEDED", "INVALID_JSON"} {
					if res.Counts.Nacks[code] == 0 || res.Counts.Nacks[code] != st.Nacks[code] {
						t.Errorf("nacks[%s] = %d, fake sent %d; want equal and > 0", code, res.Counts.Nacks[code], st.Nacks[code])
					}
				}
				if res.Counts.Retries != 0 {
					t.Errorf("retries = %d; want 0 for final codes", res.Counts.Retries)
				}
			},
		},
		{
			name: "service-unavailable",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.3}}},
			tweak: func(c *Config) {
				c.InitialBackoff = 5 * time.Millisecond
				c.MaxBackoff = 40 * time.Millisecond
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if res.Counts.Acked != res.Counts.Messages {
					t.Errorf("acked %d of %d; every message should end acked after retries", res.Counts.Acked, res.Counts.Messages)
				}
				if res.Counts.Retries == 0 || res.Counts.Retries != st.Nacks["SERVICE_UNAVAILABLE"] {
					t.Errorf("retries = %d; want one per SERVICE_UNAVAILABLE (%d)", res.Counts.Retries, st.Nacks["SERVICE_UNAVAILABLE"])
				}
			},
		},
		{
			name: "internal-server-error-bounded",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "INTERNAL_SERVER_ERROR", Rate: 1}}},
			tweak: func(c *Config) {
				c.InitialBackoff = time.Millisecond
				c.MaxBackoff = 4 * time.Millisecond
				c.MaxRetries = 2
				c.Duration = 200 * time.Millisecond
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if res.Counts.Nacks["INTERNAL_SERVER_ERROR"] != res.Counts.Messages {
					t.Errorf("nacks = %v; want every one of %d messages INTERNAL_SERVER_ERROR", res.Counts.Nacks, res.Counts.Messages)
				}
				if res.Counts.Retries != 2*res.Counts.Messages {
					t.Errorf("retries = %d; want 2 per message (%d)", res.Counts.Retries, 2*res.Counts.Messages)
				}
			},
		},
		{
			name: "unknown-code-bounded",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SOMETHING_NEW", Rate: 0.5}}},
			tweak: func(c *Config) {
				c.InitialBackoff = time.Millisecond
				c.MaxBackoff = 4 * time.Millisecond
				c.MaxRetries = 1
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if res.Counts.Retries == 0 || res.Counts.Nacks["SOMETHING_NEW"] == 0 {
					t.Errorf("retries %d, nacks %v; want retries and final SOMETHING_NEW nacks", res.Counts.Retries, res.Counts.Nacks)
				}
				if res.Counts.Acked+res.Counts.Nacked != res.Counts.Messages {
					t.Errorf("acked %d + nacked %d != %d", res.Counts.Acked, res.Counts.Nacked, res.Counts.Messages)
				}
			},
		},
		{
			name: "drops",
			fake: fakeccs.Config{DropEvery: fakeccs.Every{N: 400}},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if st.Drops == 0 || res.Counts.Reconnects == 0 || st.Connections < 3+res.Counts.Reconnects {
					t.Errorf("reconnects %d, fake drops %d connections %d; want reconnects after drops", res.Counts.Reconnects, st.Drops, st.Connections)
				}
				if res.Counts.Retries < st.Received-deref64(st.UniqueIDs) {
					t.Errorf("retries %d < duplicates received by the fake %d", res.Counts.Retries, st.Received-deref64(st.UniqueIDs))
				}
				if res.Counts.Acked != res.Counts.Messages {
					t.Errorf("acked %d of %d; lost messages must be resent", res.Counts.Acked, res.Counts.Messages)
				}
			},
		},
		{
			name: "drain-control",
			fake: fakeccs.Config{DrainEvery: fakeccs.Every{N: 400}},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				// A drain at the very end may never reach the driver (no later
				// message to NACK, or the stream closing first).
				if res.Counts.Draining == 0 || res.Counts.Draining > st.Drains {
					t.Errorf("draining %d, fake drains %d; want 0 < draining <= drains", res.Counts.Draining, st.Drains)
				}
				if res.Counts.Acked != res.Counts.Messages {
					t.Errorf("acked %d of %d", res.Counts.Acked, res.Counts.Messages)
				}
			},
		},
		{
			name: "drain-nack",
			fake: fakeccs.Config{DrainEvery: fakeccs.Every{N: 400}, DrainAsNack: true},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				// A drain at the very end may never reach the driver (no later
				// message to NACK, or the stream closing first).
				if res.Counts.Draining == 0 || res.Counts.Draining > st.Drains {
					t.Errorf("draining %d, fake drains %d; want 0 < draining <= drains", res.Counts.Draining, st.Drains)
				}
				// Every NACKed message is resent; so are messages the server
				// never read because it closed the stream under them.
				if n := st.Nacks["CONNECTION_DRAINING"]; n == 0 || res.Counts.Retries < n {
					t.Errorf("retries %d; want at least one per CONNECTION_DRAINING NACK (%d)", res.Counts.Retries, n)
				}
				if res.Counts.Acked != res.Counts.Messages {
					t.Errorf("acked %d of %d", res.Counts.Acked, res.Counts.Messages)
				}
			},
		},
		{
			name: "upstream",
			fake: fakeccs.Config{UpstreamRate: 1000},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if res.Counts.Upstream == 0 || st.UpstreamAcked == 0 {
					t.Errorf("upstream %d, fake upstream_acked %d; want > 0", res.Counts.Upstream, st.UpstreamAcked)
				}
				if st.BadAcks != 0 || st.UnknownAcks != 0 {
					t.Errorf("fake bad_acks %d unknown_acks %d; want 0", st.BadAcks, st.UnknownAcks)
				}
			},
		},
		{
			name: "receipts",
			fake: fakeccs.Config{Receipts: true},
			tweak: func(c *Config) {
				c.Message = workload.DefaultMessageConfig()
				c.Message.Receipts = true
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				if res.Counts.Receipts == 0 || st.ReceiptsAcked == 0 || st.ReceiptsAcked != res.Counts.Receipts {
					t.Errorf("receipts %d, fake receipts_acked %d; want equal and > 0", res.Counts.Receipts, st.ReceiptsAcked)
				}
				if st.BadAcks != 0 || st.UnknownAcks != 0 {
					t.Errorf("fake bad_acks %d unknown_acks %d; want 0 (receipt ids keep dr2:)", st.BadAcks, st.UnknownAcks)
				}
			},
		},
		{
			name: "slow-acks",
			fake: fakeccs.Config{AckDelay: 50 * time.Millisecond, AckJitter: 10 * time.Millisecond, StrictWindow: true},
			tweak: func(c *Config) {
				c.Pacer = nil // unlimited: the window fills in far less than the ack delay
				c.Conns = 2
			},
			check: func(t *testing.T, res *Result, st fakeccs.Stats) {
				// No message can be answered before the ack delay.
				if min := res.Service.Min(); min < 50_000 {
					t.Errorf("service min = %d µs; want at least the 50 ms ack delay", min)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t, tc.fake)
			cfg := fakeConfig(srv)
			cfg.Conns = 3
			cfg.Pacer = workload.ConstantPacer{Freq: 4000}
			cfg.Duration = 600 * time.Millisecond
			cfg.DrainTimeout = 3 * time.Second
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			res := run(t, srv, cfg)
			tc.check(t, res, srv.Stats())
		})
	}
}

func TestRunPacedMessages(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns = 3
	cfg.Pacer = workload.ConstantPacer{Freq: 5000}
	cfg.Arrivals = workload.Poisson
	cfg.Messages = 700
	res := run(t, srv, cfg)
	if res.Counts.Messages != 700 || res.Counts.Acked != 700 {
		t.Errorf("messages %d acked %d; want 700 each", res.Counts.Messages, res.Counts.Acked)
	}
}

// corruptTransport renames message_id in every tenth message, so that
// the server answers with a stanza error echoing the payload.
type corruptTransport struct{ Transport }

func (t corruptTransport) Dial(ctx context.Context, i int) (Conn, error) {
	c, err := t.Transport.Dial(ctx, i)
	if err != nil {
		return nil, err
	}
	return &corruptConn{Conn: c}, nil
}

type corruptConn struct {
	Conn
	n   int
	buf []byte
}

func (c *corruptConn) SendDownstream(payload []byte) {
	c.n++
	if c.n%10 != 0 {
		c.Conn.SendDownstream(payload)
		return
	}
	c.buf = append(c.buf[:0], payload...)
	if i := bytes.Index(c.buf, []byte(`"message_id"`)); i >= 0 {
		c.buf[i+len(`"message_i`)] = 'X'
	}
	c.Conn.SendDownstream(c.buf)
}

func TestRunStanzaErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Messages = 2000
	cfg.Transport = corruptTransport{NewNativeTransport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: cfg.TLS})}
	res := run(t, srv, cfg)
	if res.Counts.StanzaErrors == 0 || res.Counts.StanzaErrors != srv.Stats().StanzaErrors {
		t.Errorf("stanza errors %d, fake sent %d; want equal and > 0", res.Counts.StanzaErrors, srv.Stats().StanzaErrors)
	}
}

func TestRunWarmup(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 2 * time.Second
	cfg.Warmup = 1 * time.Second
	cfg.IntervalHistograms = true
	res := run(t, srv, cfg)
	if len(res.Intervals) < 2 || !res.Intervals[0].Warmup || res.Intervals[1].Warmup {
		t.Fatalf("intervals %d, warmup flags wrong", len(res.Intervals))
	}
	var measured uint64
	for _, iv := range res.Intervals {
		if !iv.Warmup {
			measured += iv.Acked
		}
		if uint64(iv.Service.TotalCount()) != iv.Acked {
			t.Errorf("interval %v..%v: %d service values for %d acks", iv.Start, iv.End, iv.Service.TotalCount(), iv.Acked)
		}
	}
	if got := uint64(res.Service.TotalCount()); got != measured || got == 0 || got >= res.Counts.Acked {
		t.Errorf("service histogram holds %d values; want the %d acks after the warm-up (of %d)", got, measured, res.Counts.Acked)
	}
	if want := float64(measured) / res.Measured.Seconds(); res.AckedRate != want || res.AckedRate == 0 {
		t.Errorf("acked rate %.1f/s; want acks after the warm-up over the measured time, %.1f/s", res.AckedRate, want)
	}
}

// runRaw runs the driver with cfg and returns its result without the
// checks of run (these tests expect unresolved messages).
func runRaw(t *testing.T, cfg Config) *Result {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := d.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("counts %+v elapsed %v", res.Counts, res.Elapsed)
	if err := res.Counts.Check(); err != nil {
		t.Errorf("Counts.Check: %v", err)
	}
	return res
}

// badConfig returns a driver Config aimed at a misbehaving server.
func badConfig(srv *badccs.Server) Config {
	return Config{Target: srv.Addr(), SenderID: srv.SenderID(), APIKey: srv.APIKey(), TLS: srv.TLS()}
}
