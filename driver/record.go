package driver

import (
	"sync/atomic"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

// record carries one downstream message at a time, from its creation to
// its outcome, and is then reused for the next one: gen counts the
// messages it has carried. The record's index and gen are both written
// into the message id (see appendID), so the reader finds the record from
// the id in constant time with no map and no lock, and an answer to an
// earlier message of the same record is told apart. The message's
// payload is not kept: msg holds its random choices, from which the
// writer rebuilds the same JSON for every attempt.
//
// Ownership: a record is owned by exactly one goroutine at a time, and
// only its owner touches its plain fields. It changes hands through the
// atomic operations of a pool (pop, push), an inbox (push, and the
// writer's Swap) or the wire field: the scheduler (or, with an unlimited
// pacer, a writer) pops it and fills it, a writer takes it from its
// lane's inbox and sends it, putting it on the wire (pconn.send), and
// the reader of that connection takes it off the wire (pconn.answered)
// to end its message or queue a resend; when a connection ends, its
// reader takes what is left on its wire (pconn.resendWire).
type record struct {
	// wire is the message's generation while the message is on the
	// wire of connection conn (sent, answer awaited), 0 otherwise.
	wire atomic.Uint64
	conn atomic.Uint32
	// next links the record in a pool or an inbox (index+1, 0 ends).
	next atomic.Uint32

	gen     uint64 // generation: how many messages the record has carried; with the index, the message's unique sequence
	t0, t1  int64  // intended and actual (last attempt) send, ns since the driver's base
	due     int64  // earliest resend, ns since base, while queued
	backoff int64  // current same-connection backoff, ns (grows per NACK)
	// held is the connection whose credit the scheduler claimed for the
	// message (nil once sent, or when none was): its writer sends it
	// without claiming again; any other writer releases that credit.
	held     *pconn
	attempts uint32
	retries  uint32 // bounded-code resends so far
	losses   uint32 // connections that ended with it on their wire, unanswered
	origin   uint32 // the lane whose pool it belongs to
	msg      workload.Drawn
	live     bool // carries a message that has no outcome yet
	lastNack ccs.NackCode
	nacked   bool   // lastNack is set
	nackText []byte // the start of the "error" of the last NACK when its code is unknown (Driver.nackTextMax bytes)
}

// Records are allocated in chunks of recChunkLen, each lane's as its pool
// runs dry, up to Window+Backlog records a lane: a connection that keeps
// one message in flight holds one chunk, not its whole backlog.
const (
	recChunkShift = 4
	recChunkLen   = 1 << recChunkShift
)

type recChunk [recChunkLen]record

// recTable finds a record by its index: chunk i>>recChunkShift, entry
// i%recChunkLen. Lane l owns the chunks from l×(chunks per lane); a chunk
// is published with an atomic store before any of its records is handed
// to another goroutine.
type recTable struct {
	chunks []atomic.Pointer[recChunk]
}

// at returns record i, which must have been allocated (its index came
// from a pool, an inbox, a queue or the wire field).
func (t *recTable) at(i uint32) *record {
	return &t.chunks[i>>recChunkShift].Load()[i&(recChunkLen-1)]
}

// lookup returns record i, or nil when no such record was allocated (an
// index read from the network).
func (t *recTable) lookup(i uint32) *record {
	k := uint64(i >> recChunkShift)
	if k >= uint64(len(t.chunks)) {
		return nil
	}
	c := t.chunks[k].Load()
	if c == nil {
		return nil
	}
	return &c[i&(recChunkLen-1)]
}

// each calls f for every allocated record and its index.
func (t *recTable) each(f func(r *record, i uint32)) {
	for k := range t.chunks {
		c := t.chunks[k].Load()
		if c == nil {
			continue
		}
		for j := range c {
			f(&c[j], uint32(k<<recChunkShift+j))
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

// free ends record i's message and returns the record to its pool, for
// its next message.
func (d *Driver) free(r *record, i uint32) {
	r.live = false
	d.lanes[r.origin].pool.push(&d.recs, i)
}
