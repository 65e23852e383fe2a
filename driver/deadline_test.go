package driver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/workload"
)

// A server that holds every answer past the drain deadline: no message
// may count as answered, whatever arrives while the streams close; the
// run ends at Duration + DrainTimeout (plus the close) even though the
// scheduler is blocked by full windows; the messages it could not create
// are counted as unsent.
func TestRunStalledServer(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{AckDelay: 30 * time.Second})
	cfg := fakeConfig(srv)
	cfg.Conns, cfg.Window = 1, 5
	cfg.Pacer = workload.ConstantPacer{Freq: 1000}
	cfg.Duration = 200 * time.Millisecond
	cfg.DrainTimeout = 600 * time.Millisecond
	cfg.CloseTimeout = 100 * time.Millisecond
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Acked != 0 || c.Nacked != 0 || c.Unresolved != c.Messages || c.Messages == 0 {
		t.Errorf("acked %d nacked %d unresolved %d of %d; want every message unresolved", c.Acked, c.Nacked, c.Unresolved, c.Messages)
	}
	if err := res.Check(); !errors.Is(err, ErrUnresolved) {
		t.Errorf("Check = %v; want ErrUnresolved", err)
	}
	// 200 messages are due in 200 ms at 1000/s; 5 fit in the window.
	if due := c.Messages + c.Unsent; c.Unsent == 0 || due < 199 || due > 201 {
		t.Errorf("messages %d + unsent %d = %d; want the 200 due, most of them unsent", c.Messages, c.Unsent, due)
	}
	// One deadline for late sends and the drain: not 200+600+600 ms.
	if limit := cfg.Duration + cfg.DrainTimeout + cfg.CloseTimeout + 250*time.Millisecond; res.Elapsed > limit {
		t.Errorf("run took %v; want at most Duration + DrainTimeout + CloseTimeout (+250 ms) = %v", res.Elapsed, limit)
	}
}

// A retryable NACK whose resend is still waiting at the drain deadline
// leaves its message unresolved, not nacked.
func TestRunRetryPendingUnresolved(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 1}}})
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 200 * time.Millisecond
	cfg.DrainTimeout = 200 * time.Millisecond
	cfg.InitialBackoff = time.Second
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Nacked != 0 || len(c.Nacks) != 0 || c.Unresolved != c.Messages || c.Messages == 0 {
		t.Errorf("nacked %d %v unresolved %d of %d; want every message unresolved", c.Nacked, c.Nacks, c.Unresolved, c.Messages)
	}
}

// lateTransport holds back every event its connections read until hold
// after their first read: the server's answers reach the driver after the
// drain deadline. (Timed from the first read, not the test's start, so a
// slow handshake on a busy machine cannot bring the answers back in time.)
type lateTransport struct {
	Transport
	hold time.Duration
}

func (t lateTransport) Dial(ctx context.Context, i int) (Conn, error) {
	c, err := t.Transport.Dial(ctx, i)
	if err != nil {
		return nil, err
	}
	return &lateConn{Conn: c, hold: t.hold}, nil
}

type lateConn struct {
	Conn
	hold  time.Duration
	until time.Time // set by the first Next (the reader's goroutine only)
}

func (c *lateConn) Next(ev *Event) error {
	if c.until.IsZero() {
		c.until = time.Now().Add(c.hold)
	}
	if w := time.Until(c.until); w > 0 {
		time.Sleep(w)
	}
	return c.Conn.Next(ev)
}

// Answers read after the drain deadline (while the streams close) are not
// outcomes: their messages stay unresolved and the answers are strays.
func TestRunLateAnswersNotCounted(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 1
	cfg.Pacer = workload.ConstantPacer{Freq: 200}
	cfg.Duration = 100 * time.Millisecond
	cfg.DrainTimeout = 100 * time.Millisecond
	cfg.CloseTimeout = 2 * time.Second
	hold := cfg.Duration + cfg.DrainTimeout + 300*time.Millisecond
	cfg.Transport = lateTransport{NewNativeTransport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: cfg.TLS}), hold}
	res := runRaw(t, cfg)
	c := res.Counts
	if c.Messages == 0 || c.Acked != 0 || c.Unresolved != c.Messages || c.Strays != c.Messages {
		t.Errorf("acked %d unresolved %d strays %d of %d; want every message unresolved and its late ACK a stray", c.Acked, c.Unresolved, c.Strays, c.Messages)
	}
}

// A target that answers, but slower than the pacer asks: the scheduler
// runs behind, placing each message as a credit frees, when the run's
// deadline stops it. Every message due before Duration is then created
// or counted as unsent, never dropped from both.
func TestRunBehindScheduleCountsUnsent(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{AckDelay: 20 * time.Millisecond})
	cfg := fakeConfig(srv)
	cfg.Conns, cfg.Window = 1, 10
	cfg.Pacer = workload.ConstantPacer{Freq: 2000}
	cfg.Duration = 300 * time.Millisecond
	cfg.DrainTimeout = 300 * time.Millisecond
	res := runRaw(t, cfg)
	c := res.Counts
	// The schedule's messages due before Duration (599 at 2000/s in
	// 300 ms: the first is due after 0.5 ms); about 500/s get through.
	sch := workload.NewSchedule(cfg.Pacer, cfg.Arrivals, cfg.Seed)
	var want uint64
	for sch.Next() < cfg.Duration {
		want++
	}
	if due := c.Messages + c.Unsent; c.Unsent == 0 || due != want {
		t.Errorf("messages %d + unsent %d = %d; want exactly the %d due, some unsent", c.Messages, c.Unsent, due, want)
	}
}
