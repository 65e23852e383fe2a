package fakeccs

import (
	"syscall"
	"time"
)

// preciseTimers sets the calling thread's timer slack to 1 ns (the
// default, 50 µs, would make every nanosleep that much late).
func preciseTimers() {
	const prSetTimerslack = 29
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
}

// sleepPrecise blocks the calling thread for d with nanosleep.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
