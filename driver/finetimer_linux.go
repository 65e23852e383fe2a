package driver

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fineTimer sleeps with microsecond accuracy: a timerfd read through the
// runtime's network poller. The runtime's own timers wait in epoll with a
// millisecond timeout, so a 200 µs sleep often lasts 1 ms; a timerfd wakes
// epoll when it fires, and the sleeping goroutine holds no thread or P
// (unlike nanosleep, which keeps a P until sysmon takes it back).
//
// Why the fake does not sleep the same way (its waker sleeps with
// nanosleep on a thread of its own, fakeccs/waker.go): each mechanism
// measured better where it is used. Both were tried in both places, in
// one process with driver and fake on a shared 2-core machine, 11
// interleaved runs each (medians). The scheduler of a 5000 msgs/s run
// (BenchmarkRunRate5000) gave a response p99 of 1.40 ms on a timerfd and
// 1.91 ms on nanosleep, for 2.34 s and 1.83 s of CPU: the scheduler's
// lateness is part of every response time the driver reports, so it pays
// that CPU for the punctuality. The fake's waker with a 10 ms ack delay
// (BenchmarkRunAckDelay10ms) gave answers with a p99 of 11.55 ms on
// nanosleep and 11.95 ms on a timerfd (p50 10.07 ms both), for 2.07 s and
// 2.59 s of CPU, and fakeccs's BenchmarkAckDelayLateness (5 runs each) a
// p99 lateness of 1.01 ms and 1.27 ms: the waker is at least as punctual
// and cheaper on nanosleep, which reaches the connection it wakes without
// a round through the network poller.
type fineTimer struct {
	fd  int
	f   *os.File
	buf [8]byte
}

// newFineTimer returns a timer, or nil where timerfd is unavailable (the
// caller then sleeps with the runtime's timers).
func newFineTimer() *fineTimer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &fineTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

// sleep waits d (> 0).
func (t *fineTimer) sleep(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if unix.TimerfdSettime(t.fd, 0, &spec, nil) != nil {
		time.Sleep(d)
		return
	}
	_, _ = t.f.Read(t.buf[:])
}

func (t *fineTimer) close() { _ = t.f.Close() }
