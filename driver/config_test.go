package driver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/workload"
)

type nopTransport struct{}

func (nopTransport) Dial(context.Context, int) (Conn, error) {
	return nil, errors.New("nopTransport does not dial")
}

func (nopTransport) Name() string { return "nop" }

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	base := func() Config { return Config{Transport: nopTransport{}, Duration: time.Second} }
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no stop rule", func(c *Config) { c.Duration = 0 }},
		{"window over 100", func(c *Config) { c.Window = 101 }},
		{"window over max", func(c *Config) { c.Window = MaxWindow + 1; c.AllowWindowOverride = true }},
		{"conns", func(c *Config) { c.Conns = MaxConnsPerSender + 1 }},
		{"conns per sender", func(c *Config) { c.SenderIDs = []string{"1", "2"}; c.Conns = 2*MaxConnsPerSender + 1 }},
		{"empty sender", func(c *Config) { c.SenderIDs = []string{"1", ""} }},
		{"senders", func(c *Config) { c.SenderIDs = make([]string, MaxSenders+1) }},
		{"dial concurrency", func(c *Config) { c.DialConcurrency = -1 }},
		{"conn rate", func(c *Config) { c.ConnRate = -1 }},
		{"record ids", func(c *Config) {
			c.SenderIDs = make([]string, MaxSenders)
			for i := range c.SenderIDs {
				c.SenderIDs[i] = fmt.Sprint(i + 1)
			}
			c.Conns, c.Backlog = MaxSenders*MaxConnsPerSender, MaxRecords-DefaultWindow
		}},
		{"warmup", func(c *Config) { c.Warmup = time.Second }},
		{"backoff", func(c *Config) { c.InitialBackoff = time.Second; c.MaxBackoff = time.Millisecond }},
		{"jitter", func(c *Config) { c.BackoffJitter = 2 }},
		{"prefix", func(c *Config) { c.IDPrefix = "a.b" }},
		{"pacer", func(c *Config) { c.Pacer = workload.ConstantPacer{Freq: -1} }},
		{"message", func(c *Config) { c.Message = workload.DefaultMessageConfig(); c.Message.ToPool = 0 }},
		{"no target", func(c *Config) { c.Transport = nil }},
		{"no key", func(c *Config) { c.Transport = nil; c.Target = "127.0.0.1:1"; c.SenderID = "1" }},
	} {
		cfg := base()
		tc.mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v; want an error wrapping ErrConfig", tc.name, err)
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
