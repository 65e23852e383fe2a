package driver

import (
	"encoding/binary"
	"time"

	"github.com/ccsbench/ccsbench/workload"
)

// flushAt is the write-buffer size at which the writer flushes even if more
// is ready, so that one flush never grows without bound.
const flushAt = 64 << 10

// writerState is the writer goroutine's own: its queues of records and
// its scratch buffers, touched by no other goroutine.
type writerState struct {
	pre     fifo // due now, a credit of this connection already claimed
	ready   fifo // due now, needing a credit
	heap    dueHeap
	gen     *workload.Generator
	timer   *time.Timer
	id      [maxIDLen]byte // scratch: the id of the message being sent
	payload []byte         // scratch: its JSON, grown to the largest message
}

// writeLoop is the writer goroutine: it appends whatever is ready (the
// ACKs its reader handed over, then the lane's inbox, resends due and,
// with an unlimited pacer, new messages while there is credit) into one
// buffer, flushes only when nothing more is ready or the buffer reached
// flushAt, and sleeps when it has nothing to do.
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
			if l := p.lane.in.takeAll(); l != 0 {
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
		// More may have become ready while this turn appended: look
		// again before flushing, so that a burst goes out in one write.
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
// lane's current connection, not draining, and the run is not closing.
func (p *pconn) active() bool {
	return !p.draining.Load() && !p.d.closing.Load() && p.lane.cur.Load() == p
}

// sleep waits for work: a wake-up token, the stop, or the earliest due
// resend. It announces itself first (idle = 1) and only then looks for
// work in hasWork: a producer publishes its work before it reads idle
// (wakeIfIdle), so either hasWork sees the work or the producer sees
// idle and leaves a token (see wakeIfIdle).
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
		// Credit but no free record (all waiting to be resent
		// elsewhere): records come back without a wake-up, so poll; a
		// rare state.
		p.w.timer.Reset(time.Millisecond)
		timerC = p.w.timer.C
	}
	select {
	case <-p.wakeCh:
	case <-p.stop:
	case <-timerC:
	}
	if timerC != nil {
		p.w.timer.Stop()
	}
	// Producers that still see idle leave a token: the next sleep then
	// turns once more for nothing, which is harmless.
	p.idle.Store(0)
}

// hasWork reports whether the writer has something to do, for sleep
// (after it stored idle). Where it needs credit it has none of, it
// stores needCredit and then reads the window again: the reader frees a
// credit (window.release) before it reads needCredit (endBatch), so
// either this second read sees the credit or the reader sees needCredit
// and wakes the writer.
func (p *pconn) hasWork() bool {
	if p.acks.Load() != nil {
		return true
	}
	if !p.active() {
		return p.queued()
	}
	if !p.lane.in.empty() || p.w.pre.len() > 0 {
		return true
	}
	room := p.win.v.Load() < p.win.max
	if p.w.ready.len() > 0 {
		if room {
			return true
		}
		p.needCredit.Store(1)
		return p.win.v.Load() < p.win.max
	}
	if p.d.unlimited && !p.d.stopCreate.Load() {
		if room {
			return !p.lane.pool.emptyHint()
		}
		p.needCredit.Store(1)
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

// giveBack returns the writer's queued records to its lane's inbox for
// the next writer (on draining, loss or shutdown), or to another lane's
// while its lane has no connection that sends.
func (p *pconn) giveBack() {
	recs := &p.d.recs
	t := p.d.home(p.lane)
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
		cur.wakeIfIdle()
	}
}

// queued reports whether the writer holds records to send.
func (p *pconn) queued() bool {
	return p.w.pre.len() > 0 || p.w.ready.len() > 0 || p.w.heap.len() > 0
}

// sendReady sends the records whose credit is claimed already, then
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
			p.needCredit.Store(1)
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
			p.needCredit.Store(1)
			break
		}
		i, ok := p.lane.pool.pop(&d.recs)
		if !ok {
			p.win.release()
			break
		}
		if !d.takeBudget() {
			p.lane.pool.push(&d.recs, i)
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
// published on the wire before its bytes can reach the server, so that
// its reader recognises the answer: conn first, then wire, which the
// reader loads in the opposite order (answered), so a reader that sees
// this attempt's generation in wire sees this connection in conn. From
// the store to wire on, the writer no longer touches the record: its
// plain fields belong to whoever takes it off the wire.
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

// writeAcks appends the entries of every chunk its reader handed over
// (taken whole with one Swap, see pconn.acks) and gives the chunks back
// for the reader to fill again.
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
		// The reader may take spare whole meanwhile: push with a CAS.
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
