package driver

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ccsbench/ccsbench/workload"
)

// wakeScheduler wakes the scheduler if it waits for room (see waitRoom).
// The Load spares the common case a locked instruction; the Swap makes
// one reader send the token.
func (d *Driver) wakeScheduler() {
	if d.schedWait.Load() == 1 && d.schedWait.Swap(0) == 1 {
		select {
		case d.schedWake <- struct{}{}:
		default:
		}
	}
}

// waitStart waits until Config.StartAt and returns it as the run's base:
// the same wall-clock instant, with a monotonic reading, so that the
// run's clock does not follow later steps of the wall clock. It fails
// with ErrStartPassed when StartAt is more than MaxStartLateness past,
// and with ctx's error when ctx ends first. It sleeps as waitUntil does:
// on the runtime timer until 1 ms before the instant, and the rest (all
// of a wait under fineBelow) on the fineTimer.
func (d *Driver) waitStart(ctx context.Context) (time.Time, error) {
	at := d.cfg.StartAt
	if late := time.Since(at); late > MaxStartLateness {
		return time.Time{}, fmt.Errorf("%w: %s is %v ago, more than the %v allowed; connecting took until then (choose a start time further ahead)",
			ErrStartPassed, at.Format(time.RFC3339Nano), late.Round(time.Millisecond), MaxStartLateness)
	}
	fine := newFineTimer()
	if fine != nil {
		defer fine.close()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// The wall clock may be adjusted during a long wait: take the
		// instant anew from it each time, onto the monotonic clock.
		now := time.Now()
		base := now.Add(at.Sub(now))
		wait := base.Sub(now)
		switch {
		case wait <= 0:
			return base, nil
		case wait < fineBelow && fine != nil:
			fine.sleep(wait)
			// Sleeping ends at base, the instant read from the clock
			// before it: reading it again could move it.
			return base, nil
		case fine != nil:
			wait -= fineBelow / 2
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("driver: waiting for the start time: %w", ctx.Err())
		}
	}
}

// schedule is the scheduler goroutine of a paced run. It draws the
// intended send times t0 from a workload.Schedule (the whole run's, or
// the shard's part of the job's), sleeps until each (waitUntil), and
// hands the new message to the next lane, round-robin, whose current
// connection has a free credit and a free record (place); when none has,
// it waits (waitRoom), and that wait counts in the message's response
// time. It stops at the first message due at or after Duration, after
// Messages messages, or when Run stops it (at the latest DrainTimeout
// after Duration), and then counts what was due but never created as
// unsent. An unlimited pacer has no scheduler: writers fill their
// windows themselves (pconn.generate), with t0 = t1.
func (d *Driver) schedule() {
	defer d.stopCreating()
	// The whole run's schedule, or the shard's part of the job's (the
	// zero Shard is the whole run).
	sch := workload.NewShardSchedule(d.cfg.Pacer, d.cfg.Arrivals, d.cfg.Seed, d.cfg.Shard)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	fine := newFineTimer()
	if fine != nil {
		defer fine.close()
	}
	rr := 0
	for {
		if d.cfg.Messages > 0 && d.created.Load() >= d.cfg.Messages {
			return
		}
		due := sch.Next()
		if due == workload.Never || (d.cfg.Duration > 0 && due >= d.cfg.Duration) {
			return
		}
		if d.stopCreate.Load() {
			// Stopped while running behind (the last message placed at
			// once, with no wait in which to see the stop): what was
			// due by now is unsent all the same.
			d.countUnsent(sch, due)
			return
		}
		t0 := int64(due)
		if !d.waitUntil(t0, timer, fine) {
			d.countUnsent(sch, due)
			return
		}
		for !d.place(t0, &rr) {
			if !d.waitRoom(timer) {
				d.countUnsent(sch, due)
				return
			}
		}
	}
}

// countUnsent counts, when the scheduler was stopped before the end of
// the schedule, the messages due before the end of sending (Duration, or
// the moment of the stop if earlier) that were never created: due, the
// one in hand, and the rest of the schedule before that end.
func (d *Driver) countUnsent(sch *workload.Schedule, due time.Duration) {
	limit := time.Duration(d.now())
	if d.cfg.Duration > 0 {
		limit = min(limit, d.cfg.Duration)
	}
	var budget uint64 = math.MaxUint64
	if d.cfg.Messages > 0 {
		c := d.created.Load()
		if c >= d.cfg.Messages {
			return
		}
		budget = d.cfg.Messages - c
	}
	var n uint64
	for due != workload.Never && due < limit && n < budget {
		n++
		due = sch.Next()
	}
	d.unsent.Store(n)
}

// fineBelow is the wait under which the scheduler (and waitStart) sleeps
// with its fineTimer alone.
const fineBelow = 2 * time.Millisecond

// waitUntil sleeps until t0 (ns since the base); false if sending stopped
// first. A wait shorter than fineBelow (2 ms) is slept whole on the
// fineTimer. A longer one sleeps on the runtime timer until fineBelow/2
// (1 ms) before t0, and what is left after it fired, which is 1 ms at
// most and less (or nothing) when the timer fired late, on the fineTimer:
// the runtime's timers fire up to about a millisecond late (see
// fineTimer), the fineTimer within microseconds. Without a fineTimer
// (not Linux), the runtime timer sleeps the whole wait.
func (d *Driver) waitUntil(t0 int64, timer *time.Timer, fine *fineTimer) bool {
	for {
		wait := time.Duration(t0 - d.now())
		switch {
		case wait <= 0:
			return true
		case d.stopCreate.Load():
			return false
		case wait < fineBelow && fine != nil:
			fine.sleep(wait)
			continue
		}
		// Sleep coarsely to within fineBelow of the due time.
		if fine != nil {
			wait -= fineBelow / 2
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-d.stopCreateC:
			timer.Stop()
			return false
		}
	}
}

// waitRoom waits until some window has room (a reader releases a credit),
// and adds the wait to waitNoConn or waitFull. It stores schedWait before
// it looks at the windows; a reader releases credit and frees records
// before it reads schedWait (endBatch, wakeScheduler), so either anyRoom
// sees the room or the reader sees schedWait and wakes the scheduler.
// Room that comes without a reader's answer (a replacement connection,
// records freed when a connection is lost) wakes no one: the wait also
// ends after 10 ms, to look again.
func (d *Driver) waitRoom(timer *time.Timer) bool {
	d.schedWait.Store(1)
	if d.anyRoom() {
		d.schedWait.Store(0)
		return true
	}
	start := time.Now()
	noConn := true
	for _, l := range d.lanes {
		noConn = noConn && !l.sends()
	}
	defer func() {
		if noConn {
			d.waitNoConn += time.Since(start)
		} else {
			d.waitFull += time.Since(start)
		}
	}()
	timer.Reset(10 * time.Millisecond)
	select {
	case <-d.schedWake:
	case <-timer.C:
	case <-d.stopCreateC:
		timer.Stop()
		return false
	}
	timer.Stop()
	return true
}

func (d *Driver) anyRoom() bool {
	for _, l := range d.lanes {
		if p := l.cur.Load(); p != nil && p.win.v.Load() < p.win.max && !l.pool.emptyHint() {
			return true
		}
	}
	return false
}

// place gives a new message intended at t0 to the next lane (from *rr,
// round-robin) whose current connection has a free credit and whose pool
// a free record: it claims the credit (record.held), fills the record and
// pushes it to the lane's inbox for the writer. false when no lane could
// take it.
func (d *Driver) place(t0 int64, rr *int) bool {
	n := len(d.lanes)
	for k := range n {
		l := d.lanes[(*rr+k)%n]
		p := l.cur.Load()
		if p == nil || !p.win.claim() {
			continue
		}
		i, ok := l.pool.pop(&d.recs)
		if !ok {
			p.win.release()
			continue
		}
		r := d.recs.at(i)
		d.initRecord(r, t0)
		r.held = p
		inc(&d.created)
		l.in.push(&d.recs, i)
		p.wakeIfIdle()
		*rr = (*rr + k + 1) % n
		return true
	}
	return false
}
