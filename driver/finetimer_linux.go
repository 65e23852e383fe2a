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
