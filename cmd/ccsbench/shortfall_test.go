package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/workload"
)

// The cause of messages sent late or not at all is read from where the
// scheduler waited: for a connection able to send, for a window with
// room, or nowhere (then the driver itself was too slow).
func TestShortfallCause(t *testing.T) {
	t.Parallel()
	cfg := driver.Config{Conns: 8, Window: 100}
	busy := cpuUse{cpu: 3920 * time.Millisecond, wall: 2 * time.Second, procs: 2, known: true}
	for _, tc := range []struct {
		name string
		res  driver.Result
		want string
	}{
		{"slow target", driver.Result{WaitFull: time.Second}, "the target saturated: every window (8 connections × 100 pending) was full for 1s"},
		{"a few drops", driver.Result{WaitFull: time.Second, Counts: driver.Counts{Disconnects: map[string]uint64{"eof": 1}}}, "the target saturated"},
		{"killed connections", driver.Result{WaitNoConnection: time.Second, WaitFull: time.Millisecond,
			Counts: driver.Counts{Disconnects: map[string]uint64{"eof": 2, "stream_error:internal-server-error": 39, "reset": 1, "tls": 1}, DialFailures: 3}},
			"connections kept failing (43 disconnects: stream_error:internal-server-error 39, eof 2, reset 1, …; 3 failed reconnects)"},
		{"many drops", driver.Result{WaitFull: time.Second, Counts: driver.Counts{Disconnects: map[string]uint64{"eof": 8}}}, "connections kept failing"},
		{"draining", driver.Result{WaitNoConnection: time.Second, Counts: driver.Counts{Draining: 12, DrainTimeouts: 4}},
			"connections kept draining (12 CONNECTION_DRAINING, 4 closed after --drain-close-timeout)"},
		{"full windows most of the time", driver.Result{Measured: 8 * time.Second, WaitFull: 7 * time.Second},
			"the target saturated: every window (8 connections × 100 pending) was full for 7s of the 8s of sending"},
		{"room in the windows", driver.Result{Measured: 8 * time.Second, WaitFull: 100 * time.Millisecond},
			"the driver saturated: windows had room (every one full for only 100ms of the 8s of sending), but this process did not create and write messages as fast as they were due (it used 1.96 of its 2 CPUs)"},
	} {
		if got := shortfallCause(&tc.res, cfg, busy, false); !strings.Contains(got, tc.want) {
			t.Errorf("%s: shortfallCause = %q; want %q in it", tc.name, got, tc.want)
		}
	}
	got := shortfallCause(&driver.Result{Measured: time.Second}, cfg, busy, true)
	if !strings.Contains(got, "the embedded fake's work included") {
		t.Errorf("shortfallCause with the embedded fake = %q; want its work counted in the CPU said", got)
	}
	if got := shortfallCause(&driver.Result{Measured: time.Second}, cfg, cpuUse{}, false); strings.Contains(got, "CPU") {
		t.Errorf("shortfallCause without CPU figures = %q; want none quoted", got)
	}
}

// A run is short when it offered clearly less than its pacer asked for
// over the time it was planned to send: --rate 3000000 achieving 500,000
// a second says so, with what was asked, what was sent and why.
func TestShortfall(t *testing.T) {
	t.Parallel()
	paced := func(rate float64, d time.Duration) driver.Config {
		return driver.Config{Conns: 8, Window: 100, Duration: d, Pacer: workload.ConstantPacer{Freq: rate}}
	}
	for _, tc := range []struct {
		name     string
		cfg      driver.Config
		messages uint64
		res      driver.Result
		want     string // "" for no shortfall
	}{
		{"on time", paced(5000, 10*time.Second), 0,
			driver.Result{Measured: 10*time.Second + 3*time.Millisecond, OfferedRate: 4998.5}, ""},
		{"target saturated", paced(3e6, 3*time.Second), 0,
			driver.Result{Measured: 8 * time.Second, OfferedRate: 526_836, WaitFull: 7247 * time.Millisecond, Counts: driver.Counts{Unsent: 4_785_312}},
			"sent 526,836 msgs/s of the 3,000,000 asked for; 4785312 messages due were never sent: the target saturated"},
		{"driver saturated", paced(3e6, 3*time.Second), 0,
			driver.Result{Measured: 7 * time.Second, OfferedRate: 1_200_000, WaitFull: 50 * time.Millisecond, Counts: driver.Counts{Unsent: 600_000}},
			"sent 1,200,000 msgs/s of the 3,000,000 asked for; 600000 messages due were never sent: the driver saturated"},
		{"late, all sent", paced(1e6, 2*time.Second), 0,
			driver.Result{Measured: 4 * time.Second, OfferedRate: 500_000},
			"sent 500,000 msgs/s of the 1,000,000 asked for, sending ending 2s later than planned: the driver saturated"},
		{"messages on time", paced(5000, 0), 500,
			driver.Result{Measured: 120 * time.Millisecond, OfferedRate: 500 / 0.12}, ""},
		{"messages late", paced(5000, 0), 5000,
			driver.Result{Measured: 2 * time.Second, OfferedRate: 2500}, "sent 2,500 msgs/s of the 5,000 asked for"},
		{"unlimited", paced(0, 10*time.Second), 0,
			driver.Result{Measured: 10 * time.Second, OfferedRate: 1000}, ""},
		{"unsent only", paced(5000, 10*time.Second), 0,
			driver.Result{Measured: 10 * time.Second, OfferedRate: 4990, WaitFull: 9 * time.Second, Counts: driver.Counts{Unsent: 12}},
			"12 messages due before the end of sending were never sent: the target saturated"},
	} {
		got := shortfall(&tc.res, tc.cfg, tc.messages, cpuUse{}, false)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: shortfall = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 999.6: "1,000", 1234: "1,234", 3e6: "3,000,000", 526835.9: "526,836"} {
		if got := rate(in); got != want {
			t.Errorf("rate(%v) = %q; want %q", in, got, want)
		}
	}
}
