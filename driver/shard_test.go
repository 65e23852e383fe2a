package driver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/workload"
)

func TestShardConfig(t *testing.T) {
	t.Parallel()
	base := Config{Transport: nopTransport{}, Conns: 8, Messages: 10, Duration: time.Second, IDPrefix: "job-", Seed: 7}
	base.Message = workload.DefaultMessageConfig()
	whole, err := base.withDefaults()
	if err != nil {
		t.Fatalf("withDefaults(whole run): %v", err)
	}
	seeds := map[uint64]string{}
	for _, tc := range []struct {
		shard          workload.Shard
		conns          int
		messages       uint64
		prefix         string
		derivedSeeding bool
	}{
		{workload.Shard{}, 8, 10, "job-", false},
		{workload.Shard{Index: 0, Count: 1}, 8, 10, "job-", false},
		{workload.Shard{Index: 0, Count: 3}, 3, 4, "job-0-", true},
		{workload.Shard{Index: 1, Count: 3}, 3, 3, "job-1-", true},
		{workload.Shard{Index: 2, Count: 3}, 2, 3, "job-2-", true},
		{workload.Shard{Index: 7, Count: 8}, 1, 1, "job-7-", true},
	} {
		cfg := base
		cfg.Shard = tc.shard
		got, err := cfg.withDefaults()
		if err != nil {
			t.Errorf("withDefaults(shard %v): %v", tc.shard, err)
			continue
		}
		if got.Conns != tc.conns || got.Messages != tc.messages || got.IDPrefix != tc.prefix || got.Seed != base.Seed {
			t.Errorf("withDefaults(shard %v) = conns %d, messages %d, prefix %q, seed %d; want %d, %d, %q, %d",
				tc.shard, got.Conns, got.Messages, got.IDPrefix, got.Seed, tc.conns, tc.messages, tc.prefix, base.Seed)
		}
		if derived := got.Message.Seed != whole.Message.Seed; derived != tc.derivedSeeding {
			t.Errorf("withDefaults(shard %v): message seed %d, whole run's %d; derived = %v, want %v",
				tc.shard, got.Message.Seed, whole.Message.Seed, derived, tc.derivedSeeding)
		}
		if tc.derivedSeeding {
			if other, dup := seeds[got.Message.Seed]; dup {
				t.Errorf("shard %v has the message seed of shard %s", tc.shard, other)
			}
			seeds[got.Message.Seed] = tc.shard.String()
		}
	}

	for _, tc := range []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"fewer conns than shards", func(c *Config) { c.Conns, c.Shard = 2, workload.Shard{Index: 0, Count: 3} }, "every shard needs at least one"},
		{"fewer messages than shards", func(c *Config) { c.Messages, c.Shard = 2, workload.Shard{Index: 2, Count: 3} }, "leave this shard none"},
		{"bad shard", func(c *Config) { c.Shard = workload.Shard{Index: 3, Count: 3} }, "index must be between"},
		{"prefix too long with the shard", func(c *Config) { c.IDPrefix, c.Shard = "fifteen-bytes-x", workload.Shard{Index: 1, Count: 2} }, "longer than 16"},
	} {
		cfg := base
		tc.tweak(&cfg)
		if _, err := cfg.withDefaults(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: withDefaults() error %v; want ErrConfig saying %q", tc.name, err, tc.want)
		}
	}
}

// TestShardsMakeOneRun runs three shards of one job at once against one
// fake, with Poisson arrivals: together they send exactly the messages of
// the whole run's schedule, under distinct ids, on a time axis that starts
// at the shared StartAt.
func TestShardsMakeOneRun(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	const shards = 3
	pacer := workload.ConstantPacer{Freq: 3000}
	const duration = 400 * time.Millisecond
	sch := workload.NewSchedule(pacer, workload.Poisson, 11)
	var want uint64
	for sch.Next() < duration {
		want++
	}
	start := time.Now().Add(800 * time.Millisecond).Round(time.Millisecond)
	results := make([]*Result, shards)
	prefixes := make([]string, shards)
	var wg sync.WaitGroup
	for i := range shards {
		cfg := fakeConfig(srv)
		cfg.Conns, cfg.Pacer, cfg.Arrivals, cfg.Seed, cfg.Duration = 5, pacer, workload.Poisson, 11, duration
		cfg.Shard = workload.Shard{Index: i, Count: shards}
		cfg.StartAt = start
		d, err := New(cfg)
		if err != nil {
			t.Fatalf("New(shard %d): %v", i, err)
		}
		prefixes[i] = d.Config().IDPrefix
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := d.Run(ctx)
			if err != nil {
				t.Errorf("Run(shard %d): %v", i, err)
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var sum uint64
	for i, res := range results {
		if err := res.Check(); err != nil {
			t.Errorf("shard %d: Check: %v", i, err)
		}
		if !res.Start.Equal(start) || res.StartSkew < 0 {
			t.Errorf("shard %d: Start %v, skew %v; want the StartAt %v and a skew >= 0", i, res.Start, res.StartSkew, start)
		}
		// The shard's part of the schedule: every third message.
		if lo, hi := want/shards, want/shards+1; res.Counts.Messages < lo || res.Counts.Messages > hi {
			t.Errorf("shard %d sent %d messages; want %d or %d (a third of %d)", i, res.Counts.Messages, lo, hi, want)
		}
		sum += res.Counts.Messages
	}
	st := srv.Stats()
	if sum != want || deref64(st.UniqueIDs) != want || deref64(st.Duplicates) != 0 {
		t.Errorf("shards sent %d messages, the fake saw %v unique ids and %v duplicates; want the whole run's %d, %d and 0",
			sum, deref(st.UniqueIDs), deref(st.Duplicates), want, want)
	}
	for i := range prefixes {
		for j := range i {
			if strings.HasPrefix(prefixes[i], prefixes[j]) || strings.HasPrefix(prefixes[j], prefixes[i]) {
				t.Errorf("id prefixes %q and %q: one starts the other", prefixes[j], prefixes[i])
			}
		}
	}
}

func TestStartAtLateAndPassed(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})

	// Late by less than MaxStartLateness: sending starts at once, on the
	// time axis of StartAt, the messages due meanwhile sent late.
	cfg := fakeConfig(srv)
	cfg.Conns, cfg.Pacer, cfg.Duration = 2, workload.ConstantPacer{Freq: 1000}, 500*time.Millisecond
	cfg.StartAt = time.Now().Add(-300 * time.Millisecond)
	res := run(t, srv, cfg)
	if !res.Start.Equal(cfg.StartAt) || res.StartSkew < 300*time.Millisecond {
		t.Errorf("late start: Start %v, skew %v; want StartAt %v and a skew of at least 300ms", res.Start, res.StartSkew, cfg.StartAt)
	}
	sch := workload.NewSchedule(cfg.Pacer, workload.Uniform, 1)
	var want uint64
	for sch.Next() < cfg.Duration {
		want++
	}
	if res.Counts.Messages != want || res.Response.Max() < 200_000 {
		t.Errorf("late start: %d messages, response max %d µs; want %d, the first ones late by about 300 ms", res.Counts.Messages, res.Response.Max(), want)
	}

	// Passed by more: refused after connecting, the connections closed.
	cfg.StartAt = time.Now().Add(-2 * time.Second)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(context.Background()); !errors.Is(err, ErrStartPassed) {
		t.Errorf("Run with a start 2s past: %v; want ErrStartPassed", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().ActiveConnections != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Stats().ActiveConnections; n != 0 {
		t.Errorf("after a refused start the fake holds %d connections; want 0", n)
	}
}

func TestStartAtCancelled(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns, cfg.Duration = 1, time.Second
	cfg.StartAt = time.Now().Add(time.Hour)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := d.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run cancelled while waiting for the start: %v; want context.DeadlineExceeded", err)
	}
	if p := d.Progress(); p.Messages != 0 || p.Elapsed != 0 {
		t.Errorf("Progress after a cancelled wait = %+v; want nothing sent", p)
	}
	if waited := time.Since(begin); waited > 20*time.Second {
		t.Errorf("Run returned %v after the cancel; want promptly", waited)
	}
}

func TestTallies(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "BAD_REGISTRATION", Rate: 0.2}, {Code: "DEVICE_UNREGISTERED", Rate: 0.1}}})
	cfg := fakeConfig(srv)
	cfg.Conns, cfg.Messages = 2, 2000
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n, dc := d.Tallies(); len(n) != 0 || len(dc) != 0 {
		t.Errorf("Tallies before Run = %v, %v; want empty", n, dc)
	}
	res, err := d.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nacks, disc := d.Tallies()
	if len(nacks) != 2 || nacks["BAD_REGISTRATION"] != res.Counts.Nacks["BAD_REGISTRATION"] || nacks["DEVICE_UNREGISTERED"] != res.Counts.Nacks["DEVICE_UNREGISTERED"] || len(disc) != len(res.Counts.Disconnects) {
		t.Errorf("Tallies() = %v, %v; want the result's %v, %v", nacks, disc, res.Counts.Nacks, res.Counts.Disconnects)
	}
}
