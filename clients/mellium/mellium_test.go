package mellium

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/workload"
)

// startFake runs a fake CCS server with cfg (TrackIDs on) on a loopback
// port until the test ends, when its accounting identity is checked.
func startFake(t testing.TB, cfg fakeccs.Config) *fakeccstest.Server {
	t.Helper()
	cfg.TrackIDs = true
	return fakeccstest.Start(t, cfg)
}

// clientConfig returns the credentials and trust for srv.
func clientConfig(srv *fakeccstest.Server) ccs.ClientConfig {
	fc := srv.Config()
	return ccs.ClientConfig{
		SenderID: fc.SenderID,
		APIKey:   fc.APIKey,
		TLS:      srv.ClientTLS(),
		Timeout:  5 * time.Second,
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	if got := NewTransport("127.0.0.1:1", ccs.ClientConfig{}).Name(); got != "mellium" {
		t.Errorf("Name() = %q; want mellium", got)
	}
}

// TestRunFaults runs the driver over this transport against the fake
// under each fault, and checks what every run must satisfy: the driver's
// accounting identity, nothing unresolved, no window violation, and as
// many unique ids at the fake as the driver counted messages.
func TestRunFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fake  fakeccs.Config
		tweak func(*driver.Config)
		check func(t *testing.T, c driver.Counts, st fakeccs.Stats)
	}{
		{name: "plain"},
		{
			name: "drain-control",
			fake: fakeccs.Config{DrainEvery: fakeccs.Every{N: 300}},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if c.Draining == 0 || c.Reconnects == 0 {
					t.Errorf("draining %d reconnects %d; want both > 0 (fake drains %d)", c.Draining, c.Reconnects, st.Drains)
				}
			},
		},
		{
			name: "drain-nack",
			fake: fakeccs.Config{DrainEvery: fakeccs.Every{N: 300}, DrainAsNack: true},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if n := st.Nacks["CONNECTION_DRAINING"]; n == 0 || c.Retries < n {
					t.Errorf("retries %d; want at least one per CONNECTION_DRAINING NACK (%d > 0)", c.Retries, n)
				}
			},
		},
		{
			name: "drop",
			fake: fakeccs.Config{DropEvery: fakeccs.Every{N: 300}},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if st.Drops == 0 || c.Reconnects == 0 {
					t.Errorf("fake drops %d, reconnects %d; want both > 0", st.Drops, c.Reconnects)
				}
			},
		},
		{
			name: "service-unavailable",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.2}}},
			tweak: func(c *driver.Config) {
				c.InitialBackoff = 5 * time.Millisecond
				c.MaxBackoff = 20 * time.Millisecond
			},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if n := st.Nacks["SERVICE_UNAVAILABLE"]; n == 0 || c.Retries != n {
					t.Errorf("retries %d; want one per SERVICE_UNAVAILABLE (%d > 0)", c.Retries, n)
				}
			},
		},
		{
			name: "final-and-stanza-errors",
			fake: fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "BAD_REGISTRATION", Rate: 0.1}}},
			tweak: func(c *driver.Config) {
				c.Message = workload.DefaultMessageConfig()
				c.Message.InvalidRate = 0.05
			},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if c.Nacks["BAD_REGISTRATION"] == 0 || c.Nacks["BAD_REGISTRATION"] != st.Nacks["BAD_REGISTRATION"] || c.Retries != 0 {
					t.Errorf("nacks %v retries %d, fake nacks %v; want equal BAD_REGISTRATION counts and no retry", c.Nacks, c.Retries, st.Nacks)
				}
				if c.StanzaErrors+c.Nacks["INVALID_JSON"] == 0 {
					t.Errorf("stanza errors %d, INVALID_JSON %d; want invalid messages answered", c.StanzaErrors, c.Nacks["INVALID_JSON"])
				}
			},
		},
		{
			name: "upstream",
			fake: fakeccs.Config{UpstreamRate: 2000, Keepalive: 20 * time.Millisecond},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if c.Upstream == 0 || st.UpstreamAcked == 0 || st.BadAcks != 0 || st.UnknownAcks != 0 {
					t.Errorf("upstream %d, fake upstream_acked %d bad_acks %d unknown_acks %d; want acks and none bad or unknown",
						c.Upstream, st.UpstreamAcked, st.BadAcks, st.UnknownAcks)
				}
			},
		},
		{
			name: "receipts",
			fake: fakeccs.Config{Receipts: true},
			tweak: func(c *driver.Config) {
				c.Message = workload.DefaultMessageConfig()
				c.Message.Receipts = true
			},
			check: func(t *testing.T, c driver.Counts, st fakeccs.Stats) {
				if c.Receipts == 0 || st.ReceiptsAcked != c.Receipts || st.BadAcks != 0 || st.UnknownAcks != 0 {
					t.Errorf("receipts %d, fake receipts_acked %d bad_acks %d unknown_acks %d; want equal and none bad or unknown",
						c.Receipts, st.ReceiptsAcked, st.BadAcks, st.UnknownAcks)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t, tc.fake)
			cfg := driver.Config{
				Transport:    NewTransport(srv.Addr(), clientConfig(srv)),
				Conns:        3,
				Pacer:        workload.ConstantPacer{Freq: 3000},
				Duration:     600 * time.Millisecond,
				DrainTimeout: 3 * time.Second,
			}
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			d, err := driver.New(cfg)
			if err != nil {
				t.Fatalf("driver.New: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := d.Run(ctx)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			st := srv.Stats()
			c := res.Counts
			t.Logf("counts %+v", c)
			if err := res.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
			if res.Client != "mellium" {
				t.Errorf("result client = %q; want mellium", res.Client)
			}
			if c.Messages == 0 || c.Unresolved != 0 || c.Acked+c.Nacked+c.StanzaErrors != c.Messages {
				t.Errorf("messages %d acked %d nacked %d stanza errors %d unresolved %d; want every message answered",
					c.Messages, c.Acked, c.Nacked, c.StanzaErrors, c.Unresolved)
			}
			if st.WindowViolations != 0 {
				t.Errorf("fake window_violations = %d; want 0", st.WindowViolations)
			}
			if st.UniqueIDs == nil || *st.UniqueIDs != c.Messages-c.StanzaErrors {
				t.Errorf("fake unique_ids = %v; want messages %d - stanza errors %d", st.UniqueIDs, c.Messages, c.StanzaErrors)
			}
			if tc.check != nil {
				tc.check(t, c, st)
			}
		})
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	good := clientConfig(srv)
	wrongKey := good
	wrongKey.APIKey = "not-the-key-0123"
	untrusted := good
	untrusted.TLS = &tls.Config{}
	cases := []struct {
		name  string
		addr  string
		cfg   ccs.ClientConfig
		stage string
		is    error
	}{
		{"refused", closedAddr, good, "dial", nil},
		{"untrusted", srv.Addr(), untrusted, "tls", ccs.ErrTLS},
		{"wrong-key", srv.Addr(), wrongKey, "auth", ccs.ErrAuthRefused},
	}
	t.Cleanup(func() { // after the parallel subtests
		if st := srv.Stats(); st.AuthFailures != 1 {
			t.Errorf("fake auth_failures = %d; want 1", st.AuthFailures)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewTransport(tc.addr, tc.cfg).Dial(context.Background(), 0)
			if err == nil {
				c.Close()
				t.Fatalf("Dial = nil error; want a failure at %s", tc.stage)
			}
			var he *ccs.HandshakeError
			if !errors.As(err, &he) || he.Stage != tc.stage {
				t.Errorf("Dial = %v; want a *ccs.HandshakeError at stage %s", err, tc.stage)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Dial = %v; want it to wrap %v", err, tc.is)
			}
			if strings.Contains(err.Error(), tc.cfg.APIKey) {
				t.Errorf("Dial error %q contains the API key", err)
			}
		})
	}
}

// TestLoginIdentity checks the SASL identity: the whole
// SENDER@gcm.googleapis.com, as the CCS documentation asks, not only the JID's
// localpart that the library's PLAIN would send.
func TestLoginIdentity(t *testing.T) {
	t.Parallel()
	for _, domain := range []string{"", ccs.Domain, ccs.FCMDomain} {
		var identity string
		s := startScripted(t, func(id, _ string) bool { identity = id; return true }, func(t *testing.T, sc *ccs.ServerConn) {})
		cfg := s.cfg
		cfg.LoginDomain = domain
		c, err := NewTransport(s.addr, cfg).Dial(context.Background(), 0)
		if err != nil {
			t.Fatalf("Dial with login domain %q: %v", domain, err)
		}
		c.Close()
		s.wait(t)
		want := s.cfg.SenderID + "@" + ccs.Domain
		if domain != "" {
			want = s.cfg.SenderID + "@" + domain
		}
		if identity != want {
			t.Errorf("login domain %q: SASL identity = %q; want %q", domain, identity, want)
		}
	}
}
