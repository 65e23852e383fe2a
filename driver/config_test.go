package driver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

type nopTransport struct{}

func (nopTransport) Dial(context.Context, int) (Conn, error) {
	return nil, errors.New("nopTransport does not dial")
}

func (nopTransport) Name() string { return "nop" }

// Every unusable field gives a *ConfigError naming it, wrapping ErrConfig
// (and the workload error of a check made there), read as one sentence
// with one package prefix.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	base := func() Config { return Config{Transport: nopTransport{}, Duration: time.Second} }
	for _, tc := range []struct {
		field string
		mod   func(*Config)
		inner error // also wrapped, when a workload check failed
	}{
		{"Duration", func(c *Config) { c.Duration = 0 }, nil},
		{"Duration", func(c *Config) { c.Duration = -time.Second }, nil},
		{"Window", func(c *Config) { c.Window = 101 }, nil},
		{"Window", func(c *Config) { c.Window = MaxWindow + 1; c.AllowWindowOverride = true }, nil},
		{"Window", func(c *Config) { c.Window = -1 }, nil},
		{"Backlog", func(c *Config) { c.Backlog = -1 }, nil},
		{"Conns", func(c *Config) { c.Conns = MaxConnsPerSender + 1 }, nil},
		{"Conns", func(c *Config) { c.Conns = -1 }, nil},
		{"Conns", func(c *Config) { c.SenderIDs = []string{"1", "2"}; c.Conns = 2*MaxConnsPerSender + 1 }, nil},
		{"SenderIDs", func(c *Config) { c.SenderIDs = []string{"1", ""} }, nil},
		{"SenderIDs", func(c *Config) { c.SenderIDs = make([]string, MaxSenders+1) }, nil},
		{"DialConcurrency", func(c *Config) { c.DialConcurrency = -1 }, nil},
		{"ConnRate", func(c *Config) { c.ConnRate = -1 }, nil},
		{"Conns", func(c *Config) {
			c.SenderIDs = make([]string, MaxSenders)
			for i := range c.SenderIDs {
				c.SenderIDs[i] = fmt.Sprint(i + 1)
			}
			c.Conns, c.Backlog = MaxSenders*MaxConnsPerSender, MaxRecords-DefaultWindow
		}, nil},
		{"Warmup", func(c *Config) { c.Warmup = time.Second }, nil},
		{"Warmup", func(c *Config) { c.Warmup = -time.Second }, nil},
		{"Interval", func(c *Config) { c.Interval = time.Millisecond }, nil},
		{"DrainTimeout", func(c *Config) { c.DrainTimeout = -time.Second }, nil},
		{"CloseTimeout", func(c *Config) { c.CloseTimeout = -time.Second }, nil},
		{"DialTimeout", func(c *Config) { c.DialTimeout = -time.Second }, nil},
		{"DrainCloseTimeout", func(c *Config) { c.DrainCloseTimeout = -time.Second }, nil},
		{"InitialBackoff", func(c *Config) { c.InitialBackoff = -time.Second }, nil},
		{"MaxBackoff", func(c *Config) { c.InitialBackoff = time.Second; c.MaxBackoff = time.Millisecond }, nil},
		{"BackoffJitter", func(c *Config) { c.BackoffJitter = 2 }, nil},
		{"ReconnectBackoff", func(c *Config) { c.ReconnectBackoff = -time.Second }, nil},
		{"MaxReconnectBackoff", func(c *Config) { c.ReconnectBackoff = time.Second; c.MaxReconnectBackoff = time.Millisecond }, nil},
		{"IDPrefix", func(c *Config) { c.IDPrefix = "a.b" }, nil},
		{"IDPrefix", func(c *Config) { c.IDPrefix = "abcdefghijklmnopq" }, nil},
		{"Arrivals", func(c *Config) { c.Arrivals = 7 }, nil},
		{"Pacer", func(c *Config) { c.Pacer = workload.ConstantPacer{Freq: -1} }, workload.ErrRateShape},
		{"Message.ToPool", func(c *Config) { c.Message = workload.DefaultMessageConfig(); c.Message.ToPool = 0 }, workload.ErrMessageConfig},
		{"Shard", func(c *Config) { c.Shard = workload.Shard{Index: 0, Count: 9}; c.Conns = 8 }, workload.ErrShard},
		{"Messages", func(c *Config) { c.Shard = workload.Shard{Index: 2, Count: 3}; c.Conns = 3; c.Messages = 2 }, nil},
		{"TLSMode", func(c *Config) { c.TLSMode = 3 }, nil},
		{"TLS", func(c *Config) { c.TLSMode, c.TLS = ccs.TLSNone, &tls.Config{} }, nil},
		{"Target", func(c *Config) { c.Transport = nil }, nil},
		{"SenderID", func(c *Config) { c.Transport = nil; c.Target = "127.0.0.1:1" }, nil},
		{"APIKey", func(c *Config) { c.Transport = nil; c.Target = "127.0.0.1:1"; c.SenderID = "1" }, nil},
		{"LoginDomain", func(c *Config) {
			c.Transport, c.Target, c.SenderID, c.APIKey, c.LoginDomain = nil, "127.0.0.1:1", "1", "k", "example.com"
		}, nil},
	} {
		cfg := base()
		tc.mod(&cfg)
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("New(%s) = %v; want a *ConfigError for %s wrapping ErrConfig", tc.field, err, tc.field)
			continue
		}
		if tc.inner != nil && !errors.Is(err, tc.inner) {
			t.Errorf("New(%s) = %v; want it to wrap %v too", tc.field, err, tc.inner)
		}
		msg := err.Error()
		if want := "driver: Config." + tc.field + ": "; !strings.HasPrefix(msg, want) || ce.Reason == "" ||
			strings.Contains(msg, "workload:") || strings.Contains(msg, ErrConfig.Error()) {
			t.Errorf("New(%s) error %q; want %q and a reason, with no other package's prefix", tc.field, msg, want+"...")
		}
	}
	d, err := New(Config{Transport: nopTransport{}, Window: 500, AllowWindowOverride: true, Messages: 1, Warmup: 1500 * time.Millisecond})
	if err != nil {
		t.Fatalf("New with a window override: %v", err)
	}
	if c := d.Config(); c.Warmup != 2*time.Second || c.Conns != DefaultConns || c.DrainTimeout != DefaultDrainTimeout {
		t.Errorf("defaults: warmup %v conns %d drain %v", c.Warmup, c.Conns, c.DrainTimeout)
	}
}
