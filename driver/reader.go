package driver

import (
	"encoding/binary"

	"github.com/ccsbench/ccsbench/ccs"
)

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

// readLoop is the reader goroutine: it acts on every event its Conn
// returns (an answer frees its credit and records its latency, an
// upstream message or receipt queues its ACK for the writer, a drain
// starts the replacement), and runs endBatch before every read that may
// block (the Conn calls it, see newPconn) and at its end.
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
// it hands the queued ACKs to the writer, and when this batch freed
// credit it wakes whoever waits for it. Once per batch rather than per
// answer: a burst of answers costs one wake-up.
//
// The credits were released (window.release) before needCredit is read
// here; the writer stores needCredit before it reads the window again
// (hasWork), so either it sees the credit or this sees needCredit. The
// Swap makes one batch, not every batch, pay for the wake-up; the Load
// in front spares the common case (nobody waits) a locked instruction.
// The scheduler waits the same way on schedWait (wakeScheduler).
func (p *pconn) endBatch() {
	if p.ch != nil && len(p.ch.b) > 0 {
		p.publish()
	}
	if p.released {
		p.released = false
		if p.needCredit.Load() == 1 && p.needCredit.Swap(0) == 1 {
			p.wake()
		}
		p.d.wakeScheduler()
	}
}

// publish pushes the current chunk of ACKs onto acks for the writer and
// wakes it. The push is a CAS because the writer may take the list whole
// between the load of its head and the store.
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
	p.wake()
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
// credit). Any other answer is a stray, counted by kind.
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
	// wire before conn: the writer stored them in the other order (send).
	if r.wire.Load() != seq || r.conn.Load() != p.id {
		p.stray(r, seq)
		return nil, 0
	}
	// Off the wire: the record's plain fields are this reader's now. Only
	// this connection's reader ever stores 0 here for this attempt, so
	// the load above and this store cannot race with another taker.
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
		t := d.home(p.lane)
		t.in.push(&d.recs, i)
		t.wakeWriter()
	case ccs.RetryOtherConnection:
		p.beginDrain()
		r.due = 0
		r.held = nil
		t := d.home(p.lane)
		t.in.push(&d.recs, i)
		t.wakeWriter()
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
	inc(&p.rc.conds[condIndex(ev.Condition)])
	id := ev.ID
	if len(id) == 0 {
		id = findID(p.d.cfg.IDPrefix, ev.Payload)
	}
	if len(id) == 0 {
		// A bounce that names no message (a standard XMPP server's
		// answer to a message it cannot route): no record to resolve.
		inc(&p.rc.strays[strayNoID])
		return
	}
	r, i := p.answered(id)
	if r == nil {
		return
	}
	p.nacksOrErrors = true
	inc(&p.rc.stanzaErrors)
	p.d.free(r, i)
}
