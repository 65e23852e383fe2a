package fakeccs

import (
	"runtime"
	"time"
)

// Go's network poller sleeps in whole milliseconds (epoll_wait), so a read
// deadline, like any runtime timer, fires up to 1 ms late in a quiet
// process: a 10 ms ack delay would come out as 10 to 11 ms. With
// Config.AckDelay or AckJitter, a waker goroutine locked to its own OS
// thread sleeps with nanosleep (tens of microseconds late at most) until
// the earliest due answer of any connection, then interrupts that
// connection's read by moving its deadline into the past; the connection
// releases the answer at once. Connections still arm their own deadlines,
// so the waker only makes them punctual. (The driver's scheduler sleeps
// on a timerfd instead: driver/finetimer_linux.go says why each measured
// better where it is.)

const (
	// wakeCoarse is how close to a due time the waker switches from the
	// runtime's sleep to nanosleep.
	wakeCoarse = 1500 * time.Microsecond
	// wakeIdle bounds every sleep of the waker (so that Close does not
	// wait longer for it).
	wakeIdle = 5 * time.Millisecond
)

// wakeLoop runs until stop is closed.
func (s *Server) wakeLoop(stop <-chan struct{}) {
	defer s.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	preciseTimers()
	// A new answer is due at least AckDelay after it is held, so sleeping
	// no longer than that (less the coarse margin) never misses one.
	horizon := max(time.Duration(s.cfg.AckDelay)-wakeCoarse, 0)
	for {
		select {
		case <-stop:
			return
		default:
		}
		now := s.clockNow()
		earliest := int64(-1)
		s.mu.Lock()
		for c := range s.conns {
			w := c.wakeAt.Load()
			switch {
			case w <= 0:
			case w <= now:
				if c.wakeAt.CompareAndSwap(w, 0) {
					c.Conn.SetReadDeadline(aLongTimeAgo)
				}
			case earliest < 0 || w < earliest:
				earliest = w
			}
		}
		s.mu.Unlock()
		switch d := time.Duration(earliest - now); {
		case earliest < 0:
			sleepCoarse(min(horizon, wakeIdle))
		case d > wakeCoarse:
			sleepCoarse(min(d-wakeCoarse, horizon, wakeIdle))
		default:
			sleepPrecise(d)
		}
	}
}

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// sleepCoarse sleeps with the runtime's timers, at least 100 µs.
func sleepCoarse(d time.Duration) {
	time.Sleep(max(d, 100*time.Microsecond))
}
