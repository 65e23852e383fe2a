//go:build !linux

package fakeccs

import "time"

func preciseTimers() {}

// sleepPrecise sleeps for d with the runtime's timers (no finer sleep is
// used off Linux).
func sleepPrecise(d time.Duration) { time.Sleep(d) }
