package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccsbench/ccsbench/driver"
)

// TestRunConfigErrorsNameFlags: a value the driver or the message
// generator refuses is reported under the flag that set it, with the
// other fields its reason names said as flags too, and no Go names.
func TestRunConfigErrorsNameFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--window", "101"}, "--window: 101 exceeds the protocol's 100 pending messages per connection (--window-override allows"},
		{[]string{"--payload-bytes", "5000"}, "--payload-bytes: 5000 is outside 0..4096"},
		{[]string{"--ttl", "-5"}, "--ttl: -5 is outside 0..2419200 seconds (-1 omits the field; --invalid-rate makes invalid messages)"},
		{[]string{"--warmup", "20s", "--duration", "10s"}, "--warmup: 20s (rounded up to whole intervals of 1s) leaves nothing of --duration 10s to measure"},
		{[]string{"--duration", "0"}, "--duration: 0 with --messages 0: nothing would end the run"},
		{[]string{"--conns", "1001"}, "--conns: 1001 is outside 1..1000"},
		{[]string{"--interval", "10ms"}, "--interval: 10ms is shorter than 100ms"},
	} {
		code, _, errs := callRun(append(tc.args, "--progress=false")...)
		if code != exitUsage || !strings.Contains(errs, "ccsbench run: "+tc.want) || strings.Contains(errs, "Config.") {
			t.Errorf("run %q = %d, stderr %q; want %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

// TestRunConfigErrorKeepsCause: the reworded error still is the driver's.
func TestRunConfigErrorKeepsCause(t *testing.T) {
	t.Parallel()
	_, err := driver.New(driver.Config{Target: "127.0.0.1:1", SenderID: "1", APIKey: "k", Window: 101, Duration: 1})
	got := runConfigError(err, false)
	if !errors.Is(got, driver.ErrConfig) || got.Error() == err.Error() || !strings.HasPrefix(got.Error(), "--window: ") {
		t.Errorf("runConfigError(%v) = %v; want --window: … wrapping driver.ErrConfig", err, got)
	}
	other := errors.New("driver: something else")
	if runConfigError(other, false) != other {
		t.Errorf("runConfigError changed an error that names no field")
	}
}
