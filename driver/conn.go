package driver

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Kinds of strays, indexes of readerCounts.strays.
const (
	strayUnknownID = iota
	strayDuplicate
	strayWrongConn
	strayLate
	strayNoID
	numStrayKinds
)

// strayNames are the keys of Counts.StrayKinds.
var strayNames = [numStrayKinds]string{"unknown_id", "duplicate", "wrong_connection", "late", "no_id"}

// stanzaConds are the stanza error conditions of RFC 6120 (section
// 8.3.3), the keys of Counts.ErrorConditions; any other condition counts
// under the last, "other".
var stanzaConds = [...]string{
	"bad-request", "conflict", "feature-not-implemented", "forbidden", "gone",
	"internal-server-error", "item-not-found", "jid-malformed", "not-acceptable",
	"not-allowed", "not-authorized", "policy-violation", "recipient-unavailable",
	"redirect", "registration-required", "remote-server-not-found",
	"remote-server-timeout", "resource-constraint", "service-unavailable",
	"subscription-required", "undefined-condition", "unexpected-request", "other",
}

// numConds is the number of keys of Counts.ErrorConditions.
const numConds = len(stanzaConds)

// condIndex is the index in stanzaConds of condition cond, without
// allocating: "other" for one RFC 6120 does not define (or none).
func condIndex(cond []byte) int {
	for i, c := range stanzaConds[:numConds-1] {
		if string(cond) == c {
			return i
		}
	}
	return numConds - 1
}

// readerCounts are written by one reader goroutine only and read by the
// collector and Progress. Single writer: inc and add load and store
// instead of an atomic add, which spares the hot path a locked
// instruction; readers on other goroutines may see a count a message
// behind, never a torn one (they are atomics for that, and for the race
// detector). The padding keeps the reader's counters and the writer's
// (next in pconn) on different cache lines, so that each goroutine's
// stores do not keep invalidating the other's line.
type readerCounts struct {
	acked, nacked, stanzaErrors, lost atomic.Uint64
	strays                            [numStrayKinds]atomic.Uint64
	conds                             [numConds]atomic.Uint64         // stanza errors by condition
	nacks                             [ccs.NumNackCodes]atomic.Uint64 // final NACKs by known code
	_                                 [64]byte
}

// writerCounts are written by one writer goroutine only (see
// readerCounts). Upstream messages and receipts are counted when their
// ACK is written.
type writerCounts struct {
	created, sent, retries, upstream, receipts atomic.Uint64
	_                                          [64]byte
}

// inc and add update a counter that only the calling goroutine writes.
func inc(c *atomic.Uint64)           { c.Store(c.Load() + 1) }
func add(c *atomic.Uint64, n uint64) { c.Store(c.Load() + n) }

// pconn is one physical connection with its reader and writer goroutines.
// A lane (logical connection) has one current pconn, and for a while after
// CONNECTION_DRAINING also the draining one it replaced.
type pconn struct {
	d    *Driver
	lane *lane
	id   uint32
	c    Conn

	win window

	draining atomic.Bool
	dead     atomic.Bool
	retired  atomic.Bool // reader done: handed to the collector, which folds and forgets it

	// The writer's sleep (see sleep): idle is 1 while it sleeps or is
	// about to, needCredit 1 while it has messages to send and no credit
	// (the reader wakes it when its answers free one), and wakeCh holds
	// at most one wake-up token.
	idle       atomic.Uint32
	needCredit atomic.Uint32
	wakeCh     chan struct{}
	stop       chan struct{}
	stopOnce   sync.Once
	graceful   atomic.Bool
	wdone      chan struct{}
	rdone      chan struct{}

	// ACK chunks move from the reader to the writer on acks and back on
	// spare. Each is a stack with one producer that pushes with a CAS
	// (the consumer may have emptied it since the producer read its head)
	// and one consumer that takes it whole with a Swap: no goroutine pops
	// a single element, so there is no ABA to guard against.
	acks  atomic.Pointer[chunk] // reader → writer
	spare atomic.Pointer[chunk] // writer → reader

	// The reader records into the chain ivl[cur]; the collector flips cur
	// at the end of an interval and drains the other chain. gen is odd
	// while the reader records (see record and collector.collect).
	ivl [2]atomic.Pointer[sampleBatch]
	cur atomic.Uint32
	gen atomic.Uint64

	rc readerCounts
	wc writerCounts

	// reader goroutine state
	ev       Event
	ch       *chunk
	free     *chunk
	released bool
	rng      *rand.Rand
	bfree    *sampleBatch // empty batches, taken from the lane's spares

	// writer goroutine state
	w writerState

	// Off the hot paths (kept after their fields, so as not to move them
	// across cache lines):
	//
	// born and ended are when the connection was bound and when its
	// reader finished (ns since the base); nacksOrErrors is set by the
	// reader at a NACK or stanza error of a message on its wire (an ACK
	// shows in rc.acked). The supervisor reads them after the end event.
	born, ended   int64
	nacksOrErrors bool
	// drainTimer closes the connection DrainCloseTimeout after it began
	// draining (reader goroutine only); closeReason says the driver
	// closed it for that.
	drainTimer  *time.Timer
	closeReason atomic.Uint32
	// werr is the writer's failed flush, set before it closes the
	// connection; the reader reads it once the writer is done.
	werr error
}

func newPconn(d *Driver, l *lane, c Conn) *pconn {
	p := &pconn{
		d: d, lane: l, c: c,
		id:     d.connIDs.Add(1),
		wakeCh: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		wdone:  make(chan struct{}),
		rdone:  make(chan struct{}),
		rng:    rand.New(rand.NewPCG(d.jitterSeed, uint64(d.connIDs.Load()))),
	}
	if d.started.Load() {
		p.born = d.now()
	}
	p.win.max = int64(d.cfg.Window)
	p.w.gen = d.gen.Clone(d.cfg.Message.Seed ^ uint64(p.id)*0x9e3779b97f4a7c15)
	// The queues grow with the load (to the window at most, as a rule).
	p.w.pre.init(8)
	p.w.ready.init(8)
	p.w.timer = time.NewTimer(time.Hour)
	p.w.timer.Stop()
	c.BeforeRead(p.endBatch)
	return p
}

func (p *pconn) start() {
	go p.writeLoop()
	go func() {
		defer p.d.rwg.Done()
		p.readLoop()
	}()
}

// wakeIfIdle wakes the writer if it sleeps or is about to. Callers
// publish their work first (a push to the lane's inbox) and then read
// idle; the writer stores idle and then looks for work (sleep, hasWork).
// Atomics are sequentially consistent in Go, so of the two loads at least
// one sees the other side's store: the writer finds the work, or the
// caller sees idle and leaves a token. A token left for a writer that
// found the work anyway makes its next sleep return at once: one extra
// turn of its loop, no lost wake-up. The scheduler and the readers that
// resend call it for every message they queue, so it costs a load and
// no channel operation while the writer is busy.
func (p *pconn) wakeIfIdle() {
	if p.idle.Load() == 1 {
		p.wake()
	}
}

// wake leaves a wake-up token for the writer whether it sleeps or not.
// Its callers (the reader handing over ACKs or giving back the credit
// the writer waits for, a drain, a new connection) act once per batch
// of answers or more rarely, so they skip the idle check: the token is
// enough for correctness on its own (the writer's next sleep returns at
// once), and costs at most one turn of the writer's loop.
func (p *pconn) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default: // a token is there already
	}
}

// stopWriter tells the writer to exit; graceful adds the end of stream.
func (p *pconn) stopWriter(graceful bool) {
	p.stopOnce.Do(func() {
		if graceful {
			p.graceful.Store(true)
		}
		close(p.stop)
	})
}

// beginDrain stops sending on this connection and asks its lane for a
// replacement; the reader goes on to the end of the stream, for at most
// DrainCloseTimeout.
func (p *pconn) beginDrain() {
	if !p.draining.CompareAndSwap(false, true) {
		return
	}
	p.win.close()
	p.lane.draining.Add(1)
	p.drainTimer = time.AfterFunc(p.d.cfg.DrainCloseTimeout, p.drainTimedOut)
	p.lane.event(p, evDrain)
	p.wake()
}

// Reasons for the driver to close a connection during the run.
const reasonDrainTimeout = 1

// drainTimedOut closes a connection still open DrainCloseTimeout after it
// began draining; its reader then resends what it left unanswered.
func (p *pconn) drainTimedOut() {
	if p.d.closing.Load() || p.dead.Load() {
		return
	}
	p.closeReason.Store(reasonDrainTimeout)
	_ = p.c.Close()
}

// finish runs when the reader stops (err says why): the stream ended, the
// connection was lost, or the run is closing. Unless the run is closing,
// the cause is counted, messages still on this connection's wire are
// resent elsewhere, and the lane's supervisor is told.
func (p *pconn) finish(err error) {
	d := p.d
	wasDraining := !p.draining.CompareAndSwap(false, true)
	if !wasDraining {
		p.win.close()
	}
	if p.drainTimer != nil {
		p.drainTimer.Stop()
	}
	p.dead.Store(true)
	p.stopWriter(false)
	select {
	case <-p.wdone:
	case <-time.After(d.cfg.CloseTimeout):
		// The writer is stuck in a write the peer does not read.
	}
	_ = p.c.Close()
	<-p.wdone
	if !d.closing.Load() {
		p.ended = d.now()
		d.noteEnd(p, err, wasDraining)
		p.resendWire()
		kind := evLost
		if wasDraining {
			kind = evDrained
		}
		p.lane.event(p, kind)
	}
	p.retired.Store(true)
	d.col.retire(p)
	close(p.rdone)
}

// resendWire moves every message still on this connection's wire to
// another connection's inbox, to be sent again at once, unless it was lost
// more than MaxResends times: then it is final as lost.
func (p *pconn) resendWire() {
	d := p.d
	d.recs.each(func(r *record, i uint32) {
		if r.wire.Load() == 0 || r.conn.Load() != p.id {
			return
		}
		r.wire.Store(0)
		r.held = nil
		r.due = 0
		r.losses++
		if int(r.losses) > d.cfg.MaxResends {
			inc(&p.rc.lost)
			d.free(r, i)
			return
		}
		t := d.pickLane(p.lane)
		t.in.push(&d.recs, i)
		t.wakeWriter()
	})
}

// healthy reports whether a connection that ended delivered an answer and
// lived healthyAfter: its loss is not a failed attempt.
func (p *pconn) healthy() bool {
	answered := p.nacksOrErrors || p.rc.acked.Load() > 0
	return answered && time.Duration(p.ended-p.born) >= healthyAfter
}
