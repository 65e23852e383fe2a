package driver

import (
	"context"
	"errors"
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
// Progress and Tallies from any goroutine meanwhile.
type Driver struct {
	cfg       Config
	tr        Transport
	gen       *workload.Generator
	unlimited bool
	red       *ccs.Redactor // removes the API key from what the driver passes on

	recs  recTable
	lanes []*lane

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
	created     atomic.Uint64 // messages created by the scheduler (its only writer, see inc)

	// schedWait is 1 while the scheduler waits for room, schedWake its
	// one-token wake-up (see waitRoom).
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

// New validates cfg, applies defaults and prepares a Driver. An unusable
// field gives a *ConfigError (wrapping ErrConfig). Records are
// allocated during the run, a chunk at a time as a connection needs them
// (see recTable), and so are buffers, which grow with the load.
func New(cfg Config) (*Driver, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gen, err := workload.NewGenerator(c.Message)
	if err != nil {
		return nil, fieldError("Message", err)
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
	d.lanes = make([]*lane, c.Conns)
	for i := range d.lanes {
		l := &lane{d: d, index: i, events: make(chan laneEvent, 4), backoff: c.ReconnectBackoff,
			rng: rand.New(rand.NewPCG(d.jitterSeed, uint64(i)<<32|uint64(time.Now().UnixNano())))}
		l.pool.init(uint32(i), per)
		d.lanes[i] = l
	}
	d.recs.chunks = make([]atomic.Pointer[recChunk], len(d.lanes)*int(d.lanes[0].pool.chunks))
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
	for i, l := range d.lanes {
		p := newPconn(d, l, conns[i])
		d.register(p)
		l.cur.Store(p)
	}
	go d.col.run()
	for _, l := range d.lanes {
		l.cur.Load().start()
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

// connectAll dials every connection, at most DialConcurrency at once and
// no faster than ConnRate; the first failure cancels the dials in
// progress, closes the connections made and is returned as a *DialError.
func (d *Driver) connectAll(ctx context.Context) ([]Conn, error) {
	n := len(d.lanes)
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
				return &DialError{Conn: i, Conns: n, Addr: d.cfg.Target, Stage: stageOf(err), Err: d.red.Error(err)}
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
				err = &DialError{Conn: i, Conns: n, Addr: d.cfg.Target, Stage: "dial", Err: ctx.Err()}
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
