package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
	"golang.org/x/sync/errgroup"
)

// errStreamEnd ends a reader when the server closed its stream.
var errStreamEnd = errors.New("driver: stream closed by the server")

// ErrRunning is returned by a second call of Run: a Driver runs once.
var ErrRunning = errors.New("driver: Run called twice")

// Driver runs one load test. Create it with New, call Run once, and read
// Progress from any goroutine meanwhile.
type Driver struct {
	cfg       Config
	tr        Transport
	gen       *workload.Generator
	unlimited bool
	red       *ccs.Redactor // removes the API key from what the driver passes on

	recs  recTable
	slots []*slot

	base    time.Time
	started atomic.Bool
	ran     atomic.Bool

	connIDs     atomic.Uint32
	batchAllocs atomic.Uint64 // sample batches allocated (reused across intervals and reconnects)

	stopCreate  atomic.Bool
	stopCreateC chan struct{}
	stopOnce    sync.Once
	closing     atomic.Bool
	frozen      atomic.Bool   // the drain deadline passed: outcomes are final
	unsent      atomic.Uint64 // messages due before the end of sending but never created
	budget      atomic.Uint64 // messages left to create (Messages > 0, unlimited pacer)
	created     atomic.Uint64 // messages created by the scheduler

	schedWait atomic.Uint32
	schedWake chan struct{}
	// The scheduler's waits for room (scheduler goroutine only, read
	// after it ended): with no connection able to send, and with
	// connections that could send but had no window or record free.
	waitNoConn, waitFull time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	swg    sync.WaitGroup // supervisors while they run
	rwg    sync.WaitGroup // readers

	mu      sync.Mutex
	conns   []*pconn // registered, not yet folded by the collector
	retired countSnap
	dialErr error

	// Connecting: the time (µs) of every successful handshake, and how
	// long Run took to make the initial connections.
	hsMu         sync.Mutex
	handshakes   *hdrhistogram.Histogram
	allConnected time.Duration

	// Counts keyed by what the server sent, bounded in keys and length:
	// final NACKs of unknown codes, and disconnects by cause.
	unknown, disc *tally
	// nackTextMax is how much of an unknown code a record keeps: enough
	// that a secret starting within the MaxKeyLen bytes of its key is
	// whole when it is redacted.
	nackTextMax   int
	discTotal     atomic.Uint64
	drainTimeouts atomic.Uint64

	col collector

	// jitterSeed seeds the backoff jitter: Config.Seed, derived per
	// shard so that the shards of a job do not back off in step.
	jitterSeed uint64
	startSkew  time.Duration // how late sending began after Config.StartAt
}

// New validates cfg, applies defaults and prepares a Driver. Records are
// allocated during the run, a chunk at a time as a connection needs them
// (see recTable), and so are buffers, which grow with the load.
func New(cfg Config) (*Driver, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gen, err := workload.NewGenerator(c.Message)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	d := &Driver{
		cfg:         c,
		tr:          c.Transport,
		gen:         gen,
		unlimited:   unlimited(c.Pacer),
		stopCreateC: make(chan struct{}),
		schedWake:   make(chan struct{}, 1),
		done:        make(chan struct{}),
		red:         ccs.NewRedactorSenders(c.APIKey, c.senders()...),
		unknown:     newTally(MaxNackKeys, NackOther),
		disc:        newTally(MaxCauseKeys, CauseOther),
		jitterSeed:  c.Seed,
	}
	if c.Shard.Count > 1 {
		d.jitterSeed = workload.DeriveSeed(c.Seed, uint64(c.Shard.Index))
	}
	d.nackTextMax = MaxKeyLen + d.red.Longest()
	d.handshakes = newHist()
	per := uint32(c.Window + c.Backlog)
	d.slots = make([]*slot, c.Conns)
	for i := range d.slots {
		s := &slot{d: d, index: i, events: make(chan slotEvent, 4), backoff: c.ReconnectBackoff,
			rng: rand.New(rand.NewPCG(d.jitterSeed, uint64(i)<<32|uint64(time.Now().UnixNano())))}
		s.pool.init(uint32(i), per)
		d.slots[i] = s
	}
	d.recs.chunks = make([]atomic.Pointer[recChunk], len(d.slots)*int(d.slots[0].pool.chunks))
	if c.Messages > 0 {
		d.budget.Store(c.Messages)
	}
	d.col.init(d)
	return d, nil
}

// Config returns the configuration in effect, defaults applied.
func (d *Driver) Config() Config { return d.cfg }

// now returns the monotonic time since the run's base, in ns.
func (d *Driver) now() int64 { return int64(time.Since(d.base)) }

func (d *Driver) stopCreating() {
	d.stopOnce.Do(func() {
		d.stopCreate.Store(true)
		close(d.stopCreateC)
	})
}

// takeBudget reserves one message of Config.Messages (always true without
// a message limit).
func (d *Driver) takeBudget() bool {
	if d.cfg.Messages == 0 {
		return true
	}
	for {
		v := d.budget.Load()
		if v == 0 {
			d.stopCreating()
			return false
		}
		if d.budget.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// initRecord makes r a new message intended at t0.
func (d *Driver) initRecord(r *record, t0 int64) {
	r.gen++
	r.live = true
	r.t0, r.t1 = t0, 0
	r.due, r.backoff = 0, 0
	r.held = nil
	r.attempts, r.retries, r.losses = 0, 0, 0
	r.lastNack, r.nacked = 0, false
}

// free ends record i's message and returns the record to its pool.
func (d *Driver) free(r *record, i uint32) {
	r.live = false
	d.slots[r.origin].pool.push(&d.recs, i)
}

func (d *Driver) wakeScheduler() {
	if d.schedWait.Load() == 1 && d.schedWait.Swap(0) == 1 {
		select {
		case d.schedWake <- struct{}{}:
		default:
		}
	}
}

func (d *Driver) setDialError(err error) {
	err = d.red.Error(err)
	d.mu.Lock()
	d.dialErr = err
	d.mu.Unlock()
}

// register adds a connection for the collector; false once the run is
// closing.
func (d *Driver) register(p *pconn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing.Load() {
		return false
	}
	d.conns = append(d.conns, p)
	d.rwg.Add(1)
	return true
}

// Run connects every connection (failing fast, with the handshake stage
// named, if one cannot be made), waits for StartAt if it is set, sends
// until Duration or Messages is reached or ctx is cancelled, waits up to
// DrainTimeout for the answers of pending messages, closes the streams
// and returns the result. A Driver runs once.
func (d *Driver) Run(ctx context.Context) (*Result, error) {
	if !d.ran.CompareAndSwap(false, true) {
		return nil, ErrRunning
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer d.cancel()
	conns, err := d.connectAll(ctx)
	if err != nil {
		return nil, err
	}
	d.base = time.Now()
	if !d.cfg.StartAt.IsZero() {
		if d.base, err = d.waitStart(ctx); err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, err
		}
		d.startSkew = time.Since(d.base)
	}
	d.started.Store(true)
	for i, s := range d.slots {
		p := newPconn(d, s, conns[i])
		d.register(p)
		s.cur.Store(p)
	}
	go d.col.run()
	for _, s := range d.slots {
		s.cur.Load().start()
	}
	schedDone := make(chan struct{})
	if d.unlimited {
		close(schedDone)
	} else {
		go func() {
			defer close(schedDone)
			d.schedule()
		}()
	}

	// A paced run stops when the schedule reaches Duration, so that every
	// message due before it is sent even when sending lags (its lateness
	// counts in response time), an unlimited run stops on the clock. One
	// absolute deadline, Duration + DrainTimeout after the start, ends both
	// the late sends and the wait for answers, so that a server that
	// stopped answering cannot hold the run longer.
	var durC <-chan time.Time
	var end time.Time // the absolute deadline; zero without Duration
	if d.cfg.Duration > 0 {
		end = d.base.Add(d.cfg.Duration + d.cfg.DrainTimeout)
		limit := d.cfg.Duration
		if !d.unlimited {
			limit += d.cfg.DrainTimeout
		}
		t := time.NewTimer(time.Until(d.base.Add(limit)))
		defer t.Stop()
		durC = t.C
	}
	select {
	case <-durC:
	case <-ctx.Done():
	case <-d.stopCreateC:
	}
	d.stopCreating()
	<-schedDone
	stopT := d.now()

	deadline := time.Now().Add(d.cfg.DrainTimeout)
	if !end.IsZero() && end.Before(deadline) {
		deadline = end
	}
	for time.Now().Before(deadline) {
		if c := d.sumCounts(); c.pending() == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// From here on every message's outcome is final: one still pending is
	// unresolved, and answers that arrive while the streams close are
	// strays, not outcomes.
	d.frozen.Store(true)

	d.close()
	res := d.result(stopT)
	res.StartSkew = d.startSkew
	return res, nil
}

// waitStart waits until Config.StartAt and returns it as the run's base:
// the same wall-clock instant, with a monotonic reading, so that the
// run's clock does not follow later steps of the wall clock. It fails
// with ErrStartPassed when StartAt is more than MaxStartLateness past,
// and with ctx's error when ctx ends first. The wait is coarse on a
// runtime timer, then fine (see fineTimer) for its last fineBelow.
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

// connectAll dials every connection, at most DialConcurrency at once and
// no faster than ConnRate; the first failure cancels the dials in
// progress, closes the connections made and is returned as a *DialError.
func (d *Driver) connectAll(ctx context.Context) ([]Conn, error) {
	n := len(d.slots)
	conns := make([]Conn, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.DialConcurrency)
	start := time.Now()
	ramp := time.NewTimer(time.Hour)
	defer ramp.Stop()
	for i := range n {
		if d.cfg.ConnRate > 0 {
			ramp.Reset(time.Until(start.Add(time.Duration(float64(i) / d.cfg.ConnRate * float64(time.Second)))))
			select {
			case <-ramp.C:
			case <-gctx.Done():
			}
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			c, err := d.dial(gctx, i)
			if err != nil {
				return &DialError{Conn: i, Stage: stageOf(err), Err: d.red.Error(err)}
			}
			conns[i] = c
			return nil
		})
	}
	err := g.Wait()
	d.allConnected = time.Since(start)
	if err == nil && ctx.Err() != nil {
		// Cancelled while waiting to start a dial.
		for i, c := range conns {
			if c == nil {
				err = &DialError{Conn: i, Stage: "dial", Err: ctx.Err()}
				break
			}
		}
	}
	if err != nil {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, err
	}
	return conns, nil
}

// dial opens logical connection i within DialTimeout and notes how long
// its handshake took.
func (d *Driver) dial(ctx context.Context, i int) (Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	start := time.Now()
	c, err := d.tr.Dial(ctx, i)
	if err == nil {
		us := clampUS(int64(time.Since(start)))
		d.hsMu.Lock()
		_ = d.handshakes.RecordValue(us)
		d.hsMu.Unlock()
	}
	return c, err
}

// close ends the run: no more sending, every stream closed with
// </stream:stream>, the server's end of stream awaited up to CloseTimeout,
// then every goroutine stopped.
func (d *Driver) close() {
	d.mu.Lock()
	d.closing.Store(true)
	list := append([]*pconn(nil), d.conns...)
	d.mu.Unlock()
	d.cancel()
	close(d.done)
	d.swg.Wait()
	d.mu.Lock()
	list = append(list[:0], d.conns...)
	d.mu.Unlock()
	deadline := time.Now().Add(d.cfg.CloseTimeout)
	for _, p := range list {
		p.stopWriter(true)
	}
	for _, p := range list {
		_ = p.c.SetReadDeadline(deadline)
	}
	d.rwg.Wait()
	d.col.stop()
}

// schedule creates messages at the pacer's due times and hands each to a
// connection with a free window slot (the unlimited pacer has no
// scheduler: writers fill their windows themselves).
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
	for !d.stopCreate.Load() {
		if d.cfg.Messages > 0 && d.created.Load() >= d.cfg.Messages {
			return
		}
		due := sch.Next()
		if due == workload.Never || (d.cfg.Duration > 0 && due >= d.cfg.Duration) {
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

// fineBelow is the wait under which the scheduler sleeps with its
// fineTimer rather than a runtime timer.
const fineBelow = 2 * time.Millisecond

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

// waitRoom waits until some window has room (a reader releases a slot),
// and adds the wait to waitNoConn or waitFull.
func (d *Driver) waitRoom(timer *time.Timer) bool {
	d.schedWait.Store(1)
	if d.anyRoom() {
		d.schedWait.Store(0)
		return true
	}
	start := time.Now()
	noConn := true
	for _, s := range d.slots {
		noConn = noConn && !s.sends()
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
	for _, s := range d.slots {
		if p := s.cur.Load(); p != nil && p.win.v.Load() < p.win.max && !s.pool.emptyHint() {
			return true
		}
	}
	return false
}

// place gives a new message intended at t0 to the next connection with a
// free window slot and a free record.
func (d *Driver) place(t0 int64, rr *int) bool {
	n := len(d.slots)
	for k := range n {
		s := d.slots[(*rr+k)%n]
		p := s.cur.Load()
		if p == nil || !p.win.claim() {
			continue
		}
		i, ok := s.pool.pop(&d.recs)
		if !ok {
			p.win.release()
			continue
		}
		r := d.recs.at(i)
		d.initRecord(r, t0)
		r.held = p
		d.created.Store(d.created.Load() + 1)
		s.in.push(&d.recs, i)
		p.notify()
		*rr = (*rr + k + 1) % n
		return true
	}
	return false
}
