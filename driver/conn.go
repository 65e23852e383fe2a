package driver

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

// flushAt is the write-buffer size at which the writer flushes even if more
// is ready, so that one flush never grows without bound.
const flushAt = 64 << 10

// chunkSize is the size at which the reader hands a chunk of ACKs to the
// writer without waiting for the end of its read buffer.
const chunkSize = 16 << 10

// Kinds of entries in an ACK chunk.
const (
	entryUpstreamAck byte = iota + 1
	entryReceiptAck
	entryPong
	entryStreamEnd
)

// chunk carries ACKs (and pongs) from a reader to its writer: entries of
// kind, 2-byte length and "to", 2-byte length and id.
type chunk struct {
	b    []byte
	next *chunk
}

// sample is one ACK's service and response times, in µs (histLo..histHi).
type sample struct{ svc, rsp uint32 }

// batchLen is the number of samples in a batch: a batch is 1 KiB.
const batchLen = 126

// sampleBatch is a block of samples a reader recorded, for the collector
// to put into the interval histograms. Batches are chained through next:
// a reader's current chain (newest first, only the head being filled), a
// chain the collector drains, and a slot's list of spare batches.
type sampleBatch struct {
	next atomic.Pointer[sampleBatch]
	n    int
	s    [batchLen]sample
}

// Kinds of strays, indexes of readerCounts.strays.
const (
	strayUnknownID = iota
	strayDuplicate
	strayWrongConn
	strayLate
	numStrayKinds
)

// strayNames are the keys of Counts.StrayKinds.
var strayNames = [numStrayKinds]string{"unknown_id", "duplicate", "wrong_connection", "late"}

// readerCounts are written by one reader goroutine only and read by the
// collector and Progress.
type readerCounts struct {
	acked, nacked, stanzaErrors, lost atomic.Uint64
	strays                            [numStrayKinds]atomic.Uint64
	nacks                             [ccs.NumNackCodes]atomic.Uint64 // final NACKs by known code
	_                                 [64]byte
}

// writerCounts are written by one writer goroutine only. Upstream
// messages and receipts are counted when their ACK is written.
type writerCounts struct {
	created, sent, retries, upstream, receipts atomic.Uint64
	_                                          [64]byte
}

func inc(c *atomic.Uint64)           { c.Store(c.Load() + 1) }
func add(c *atomic.Uint64, n uint64) { c.Store(c.Load() + n) }

// pconn is one physical connection with its reader and writer goroutines.
// A logical connection (slot) has one current pconn, and for a while after
// CONNECTION_DRAINING also the draining one it replaced.
type pconn struct {
	d  *Driver
	s  *slot
	id uint32
	c  Conn

	win window

	draining atomic.Bool
	dead     atomic.Bool
	retired  atomic.Bool // reader done: handed to the collector, which folds and forgets it

	idle      atomic.Uint32
	needUnits atomic.Uint32
	wake      chan struct{}
	stop      chan struct{}
	stopOnce  sync.Once
	graceful  atomic.Bool
	wdone     chan struct{}
	rdone     chan struct{}

	acks  atomic.Pointer[chunk] // reader → writer
	spare atomic.Pointer[chunk] // writer → reader

	// The reader records into the chain ivl[cur]; the collector flips cur
	// at the end of an interval and drains the other chain. gen is odd
	// while the reader records.
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
	bfree    *sampleBatch // empty batches, taken from the slot's spares

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

type writerState struct {
	pre     fifo // due now, window slot already claimed on this connection
	ready   fifo // due now, needing a window slot
	heap    dueHeap
	gen     *workload.Generator
	timer   *time.Timer
	id      [maxIDLen]byte // scratch: the id of the message being sent
	payload []byte         // scratch: its JSON, grown to the largest message
}

func newPconn(d *Driver, s *slot, c Conn) *pconn {
	p := &pconn{
		d: d, s: s, c: c,
		id:    d.connIDs.Add(1),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		wdone: make(chan struct{}),
		rdone: make(chan struct{}),
		rng:   rand.New(rand.NewPCG(d.jitterSeed, uint64(d.connIDs.Load()))),
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

// notify wakes the writer if it sleeps.
func (p *pconn) notify() {
	if p.idle.Load() == 1 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *pconn) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
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

// ---- writer ----

func (p *pconn) writeLoop() {
	d := p.d
	defer close(p.wdone)
	defer p.giveBack()
	for {
		did := false
		if p.acks.Load() != nil {
			p.writeAcks()
			did = true
		}
		select {
		case <-p.stop:
			p.giveBack()
			if p.acks.Load() != nil {
				p.writeAcks()
			}
			if p.graceful.Load() {
				p.c.SendStreamEnd()
			}
			_ = p.c.Flush()
			return
		default:
		}
		if p.active() {
			now := d.now()
			if l := p.s.in.takeAll(); l != 0 {
				p.absorb(l, now)
			}
			p.w.heap.promote(&d.recs, now, &p.w.ready)
			n := p.sendReady(now)
			if d.unlimited && p.w.ready.len() == 0 && p.w.pre.len() == 0 {
				n += p.generate(now)
			}
			if n > 0 {
				add(&p.wc.sent, uint64(n))
				did = true
			}
		} else if p.queued() {
			p.giveBack()
		}
		if did && p.c.Unflushed() < flushAt {
			continue
		}
		if p.c.Unflushed() > 0 {
			if err := p.c.Flush(); err != nil {
				// The reader sees the broken connection and cleans up.
				p.werr = err
				_ = p.c.Close()
				<-p.stop
				return
			}
			continue
		}
		p.sleep()
	}
}

// active reports whether this writer sends downstream messages: it is its
// slot's current connection, not draining, and the run is not closing.
func (p *pconn) active() bool {
	return !p.draining.Load() && !p.d.closing.Load() && p.s.cur.Load() == p
}

func (p *pconn) sleep() {
	p.idle.Store(1)
	if p.hasWork() {
		p.idle.Store(0)
		return
	}
	var timerC <-chan time.Time
	if p.w.heap.len() > 0 {
		wait := time.Duration(p.d.recs.at(p.w.heap.peek()).due - p.d.now())
		if wait <= 0 {
			p.idle.Store(0)
			return
		}
		p.w.timer.Reset(wait)
		timerC = p.w.timer.C
	} else if p.d.unlimited && p.active() && !p.d.stopCreate.Load() && p.win.v.Load() < p.win.max {
		// Window room but no free record (all waiting to be resent
		// elsewhere): poll, a rare state.
		p.w.timer.Reset(time.Millisecond)
		timerC = p.w.timer.C
	}
	select {
	case <-p.wake:
	case <-p.stop:
	case <-timerC:
	}
	if timerC != nil {
		p.w.timer.Stop()
	}
	p.idle.Store(0)
}

func (p *pconn) hasWork() bool {
	if p.acks.Load() != nil {
		return true
	}
	if !p.active() {
		return p.queued()
	}
	if !p.s.in.empty() || p.w.pre.len() > 0 {
		return true
	}
	room := p.win.v.Load() < p.win.max
	if p.w.ready.len() > 0 {
		if room {
			return true
		}
		p.needUnits.Store(1)
		return p.win.v.Load() < p.win.max
	}
	if p.d.unlimited && !p.d.stopCreate.Load() {
		if room {
			return !p.s.pool.emptyHint()
		}
		p.needUnits.Store(1)
		return p.win.v.Load() < p.win.max
	}
	return false
}

// absorb moves an inbox list into the ready queue (due now) or the
// backoff heap.
func (p *pconn) absorb(l uint32, now int64) {
	recs := &p.d.recs
	// The inbox is newest first: reverse it into FIFO order.
	var rev uint32
	for l != 0 {
		i := l - 1
		r := recs.at(i)
		l = r.next.Load()
		r.next.Store(rev)
		rev = i + 1
	}
	for rev != 0 {
		i := rev - 1
		r := recs.at(i)
		rev = r.next.Load()
		switch {
		case r.due > now:
			p.w.heap.push(recs, i)
		case r.held == p:
			p.w.pre.push(i)
		default:
			p.w.ready.push(i)
		}
	}
}

// giveBack returns the writer's queued records to its slot's inbox for
// the next writer (on draining, loss or shutdown), or to another slot's
// while its slot has no connection that sends.
func (p *pconn) giveBack() {
	recs := &p.d.recs
	t := p.d.home(p.s)
	for p.w.pre.len() > 0 {
		t.in.push(recs, p.w.pre.pop())
	}
	for p.w.ready.len() > 0 {
		t.in.push(recs, p.w.ready.pop())
	}
	for p.w.heap.len() > 0 {
		t.in.push(recs, p.w.heap.pop(recs))
	}
	if cur := t.cur.Load(); cur != nil && cur != p {
		cur.notify()
	}
}

// queued reports whether the writer holds records to send.
func (p *pconn) queued() bool {
	return p.w.pre.len() > 0 || p.w.ready.len() > 0 || p.w.heap.len() > 0
}

// sendReady sends the records whose window slot is claimed already, then
// the others while the window has room.
func (p *pconn) sendReady(now int64) int {
	recs := &p.d.recs
	n := 0
	for p.w.pre.len() > 0 {
		i := p.w.pre.pop()
		r := recs.at(i)
		r.held = nil
		p.send(r, i, now)
		n++
	}
	for p.w.ready.len() > 0 {
		i := p.w.ready.peek()
		r := recs.at(i)
		if !p.win.claim() {
			p.needUnits.Store(1)
			break
		}
		if r.held != nil {
			r.held.win.release()
			r.held = nil
		}
		p.w.ready.pop()
		p.send(r, i, now)
		n++
	}
	return n
}

// generate creates and sends new messages while the window has room (the
// unlimited pacer: every window kept full).
func (p *pconn) generate(now int64) int {
	d := p.d
	n := 0
	for !d.stopCreate.Load() {
		if !p.win.claim() {
			p.needUnits.Store(1)
			break
		}
		i, ok := p.s.pool.pop(&d.recs)
		if !ok {
			p.win.release()
			break
		}
		if !d.takeBudget() {
			p.s.pool.push(&d.recs, i)
			p.win.release()
			break
		}
		r := d.recs.at(i)
		d.initRecord(r, now)
		inc(&p.wc.created)
		p.send(r, i, now)
		n++
	}
	return n
}

// send encodes one attempt of record i into the write buffer: its
// message is drawn at the first attempt and rebuilt from the draw at
// every attempt, in a scratch buffer of the writer. The record is
// published on the wire before its bytes can reach the server.
func (p *pconn) send(r *record, i uint32, now int64) {
	if r.attempts == 0 {
		r.msg = p.w.gen.Draw()
	} else {
		inc(&p.wc.retries)
	}
	r.attempts++
	r.t1 = now
	id := appendID(p.w.id[:0], p.d.cfg.IDPrefix, r.gen, i)
	p.w.payload = p.w.gen.AppendMessage(p.w.payload[:0], id, r.msg)
	r.conn.Store(p.id)
	r.wire.Store(r.gen)
	p.c.SendDownstream(p.w.payload)
}

func (p *pconn) writeAcks() {
	l := p.acks.Swap(nil)
	// Newest first: reverse.
	var rev *chunk
	for l != nil {
		n := l.next
		l.next = rev
		rev = l
		l = n
	}
	for c := rev; c != nil; {
		b := c.b
		for len(b) >= 5 {
			kind := b[0]
			tl := int(binary.LittleEndian.Uint16(b[1:]))
			to := b[3 : 3+tl]
			b = b[3+tl:]
			il := int(binary.LittleEndian.Uint16(b))
			id := b[2 : 2+il]
			b = b[2+il:]
			switch kind {
			case entryUpstreamAck:
				p.c.SendAck(to, id)
				inc(&p.wc.upstream)
			case entryReceiptAck:
				p.c.SendAck(to, id)
				inc(&p.wc.receipts)
			case entryPong:
				p.c.SendPong(id)
			case entryStreamEnd:
				p.c.SendStreamEnd()
			}
		}
		next := c.next
		c.b = c.b[:0]
		for {
			h := p.spare.Load()
			c.next = h
			if p.spare.CompareAndSwap(h, c) {
				break
			}
		}
		c = next
	}
}

// ---- reader ----

func (p *pconn) readLoop() {
	d := p.d
	ev := &p.ev
	var err error
	defer func() { p.finish(err) }()
	for {
		if err = p.c.Next(ev); err != nil {
			break
		}
		switch ev.Kind {
		case EventAck:
			p.onAck(ev.ID)
		case EventNack:
			p.onNack(ev)
		case EventStanzaError:
			p.onStanzaError(ev)
		case EventControl:
			if string(ev.Control) == ccs.NackConnectionDraining.String() {
				p.beginDrain()
			}
		case EventUpstream:
			p.queue(entryUpstreamAck, ev.From, ev.ID)
		case EventReceipt:
			p.queue(entryReceiptAck, ev.From, ev.ID)
		case EventPing:
			p.queue(entryPong, nil, ev.ID)
		case EventStreamEnd:
			if !d.closing.Load() {
				p.queue(entryStreamEnd, nil, nil)
			}
			err = errStreamEnd
		}
		if err != nil {
			break
		}
	}
	p.endBatch()
}

// endBatch runs before the reader may block (the Conn calls it before
// every read from the network, see Conn.BeforeRead) and when it ends:
// hand ACKs to the writer and wake whoever waits for window room.
func (p *pconn) endBatch() {
	if p.ch != nil && len(p.ch.b) > 0 {
		p.publish()
	}
	if p.released {
		p.released = false
		if p.needUnits.Load() == 1 && p.needUnits.Swap(0) == 1 {
			p.kick()
		}
		p.d.wakeScheduler()
	}
}

func (p *pconn) publish() {
	c := p.ch
	p.ch = nil
	for {
		h := p.acks.Load()
		c.next = h
		if p.acks.CompareAndSwap(h, c) {
			break
		}
	}
	p.kick()
}

// queue appends an entry for the writer.
func (p *pconn) queue(kind byte, to, id []byte) {
	if len(to) > 0xffff || len(id) > 0xffff {
		return
	}
	if p.ch == nil {
		if p.free == nil {
			p.free = p.spare.Swap(nil)
		}
		if p.free != nil {
			p.ch = p.free
			p.free = p.free.next
			p.ch.next = nil
		} else {
			p.ch = &chunk{b: make([]byte, 0, chunkSize+512)}
		}
	}
	b := p.ch.b
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(to)))
	b = append(b, to...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	p.ch.b = b
	if len(b) >= chunkSize {
		p.publish()
	}
}

// answered finds the record an answer with id refers to, if it is on this
// connection's wire, and takes it off the wire (releasing its window
// slot). Any other answer is a stray, counted by kind.
func (p *pconn) answered(id []byte) (*record, uint32) {
	d := p.d
	if d.frozen.Load() {
		// Past the drain deadline outcomes are final: a late answer is
		// a stray and its message stays unresolved.
		inc(&p.rc.strays[strayLate])
		return nil, 0
	}
	seq, i, ok := parseID(d.cfg.IDPrefix, id)
	if !ok {
		inc(&p.rc.strays[strayUnknownID])
		return nil, 0
	}
	r := d.recs.lookup(i)
	if r == nil {
		// One of our ids, of a record never allocated: never sent.
		inc(&p.rc.strays[strayDuplicate])
		return nil, 0
	}
	if r.wire.Load() != seq || r.conn.Load() != p.id {
		p.stray(r, seq)
		return nil, 0
	}
	r.wire.Store(0)
	p.win.release()
	p.released = true
	return r, i
}

// stray counts an answer for a message of ours that is not awaiting one
// on this connection: answered already or never sent (a duplicate), or
// awaited on another connection.
func (p *pconn) stray(r *record, seq uint64) {
	if r.wire.Load() == seq {
		inc(&p.rc.strays[strayWrongConn])
	} else {
		inc(&p.rc.strays[strayDuplicate])
	}
}

func (p *pconn) onAck(id []byte) {
	r, i := p.answered(id)
	if r == nil {
		return
	}
	now := p.d.now()
	p.record(now-r.t1, now-r.t0)
	inc(&p.rc.acked)
	p.d.free(r, i)
}

// record adds one ACK's service and response times (ns) to the current
// chain of samples. The generation counter is odd while recording, so the
// collector can flip the chains without a lock.
func (p *pconn) record(svc, rsp int64) {
	p.gen.Add(1)
	head := &p.ivl[p.cur.Load()]
	b := head.Load()
	if b == nil || b.n == batchLen {
		nb := p.takeBatch()
		nb.next.Store(b)
		head.Store(nb)
		b = nb
	}
	b.s[b.n] = sample{svc: uint32(clampUS(svc)), rsp: uint32(clampUS(rsp))}
	b.n++
	p.gen.Add(1)
}

// takeBatch returns an empty batch: one of the reader's, else the slot's
// spares (batches the collector drained), else a new one.
func (p *pconn) takeBatch() *sampleBatch {
	if p.bfree == nil {
		p.bfree = p.s.spare.Swap(nil)
	}
	if b := p.bfree; b != nil {
		p.bfree = b.next.Load()
		return b
	}
	p.d.batchAllocs.Add(1)
	return new(sampleBatch)
}

func (p *pconn) onNack(ev *Event) {
	r, i := p.answered(ev.ID)
	if r == nil {
		return
	}
	p.nacksOrErrors = true
	d := p.d
	code := ev.Code
	if code >= ccs.NumNackCodes {
		// Another Transport's code this package does not know.
		code = ccs.NackUnknown
	}
	now := d.now()
	r.lastNack = code
	r.nacked = true
	if code == ccs.NackUnknown {
		r.nackText = append(r.nackText[:0], ev.Error[:min(len(ev.Error), d.nackTextMax)]...)
	}
	switch code.Retry() {
	case ccs.RetrySameConnection:
		if code.Bounded() {
			if int(r.retries) >= d.cfg.MaxRetries {
				p.finalNack(r, i)
				return
			}
			r.retries++
		}
		if r.backoff == 0 {
			r.backoff = int64(d.cfg.InitialBackoff)
		} else {
			r.backoff = min(2*r.backoff, int64(d.cfg.MaxBackoff))
		}
		r.due = now + r.backoff + int64(float64(r.backoff)*d.cfg.BackoffJitter*p.rng.Float64())
		r.held = nil
		t := d.home(p.s)
		t.in.push(&d.recs, i)
		t.notifyCurrent()
	case ccs.RetryOtherConnection:
		p.beginDrain()
		r.due = 0
		r.held = nil
		t := d.home(p.s)
		t.in.push(&d.recs, i)
		t.notifyCurrent()
	default:
		p.finalNack(r, i)
	}
}

func (p *pconn) finalNack(r *record, i uint32) {
	inc(&p.rc.nacked)
	if r.lastNack == ccs.NackUnknown {
		p.d.unknown.add(nackKey(p.d.red, r.nackText))
	} else {
		inc(&p.rc.nacks[r.lastNack])
	}
	p.d.free(r, i)
}

func (p *pconn) onStanzaError(ev *Event) {
	id := ev.ID
	if len(id) == 0 {
		id = findID(p.d.cfg.IDPrefix, ev.Payload)
	}
	r, i := p.answered(id)
	if r == nil {
		return
	}
	p.nacksOrErrors = true
	inc(&p.rc.stanzaErrors)
	p.d.free(r, i)
}

// beginDrain stops sending on this connection and asks its slot for a
// replacement; the reader goes on to the end of the stream, for at most
// DrainCloseTimeout.
func (p *pconn) beginDrain() {
	if !p.draining.CompareAndSwap(false, true) {
		return
	}
	p.win.close()
	p.s.draining.Add(1)
	p.drainTimer = time.AfterFunc(p.d.cfg.DrainCloseTimeout, p.drainTimedOut)
	p.s.event(p, evDrain)
	p.kick()
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
// resent elsewhere, and the slot's supervisor is told.
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
		p.s.event(p, kind)
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
		t := d.pickSlot(p.s)
		t.in.push(&d.recs, i)
		t.notifyCurrent()
	})
}

// clampUS converts ns to µs within the histograms' range.
func clampUS(ns int64) int64 {
	us := ns / 1000
	if us < histLo {
		return histLo
	}
	if us > histHi {
		return histHi
	}
	return us
}
