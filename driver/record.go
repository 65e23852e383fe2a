package driver

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

// maxIDLen bounds an encoded message id: a prefix of at most 16 bytes,
// 16 hex digits of sequence, a dot and 8 hex digits of record index.
const maxIDLen = 16 + 16 + 1 + 8

// record is one unique downstream message from its creation to its
// outcome. A record's index and its message's sequence number are both
// written into the message id, so the reader finds the record from the id
// in constant time with no map and no lock. The message's payload is not
// kept: msg holds its random choices, from which the writer rebuilds the
// same JSON for every attempt.
//
// Ownership: a record is owned by exactly one goroutine at a time, handed
// over through the atomic operations of a pool, an inbox or the wire
// field: the scheduler (or a writer) creates it, a writer sends it, the
// reader of the connection it is on the wire of answers it. Plain fields
// are only touched by the owner.
type record struct {
	// wire is the message's generation while the message is on the
	// wire of connection conn (sent, answer awaited), 0 otherwise.
	wire atomic.Uint64
	conn atomic.Uint32
	// next links the record in a pool or an inbox (index+1, 0 ends).
	next atomic.Uint32

	gen      uint64 // generation: how many messages the record has carried; with the index, the message's unique sequence
	t0, t1   int64  // intended and actual (last attempt) send, ns since the driver's base
	due      int64  // earliest resend, ns since base, while queued
	backoff  int64  // current same-connection backoff, ns (grows per NACK)
	held     *pconn
	attempts uint32
	retries  uint32 // bounded-code resends so far
	losses   uint32 // connections that ended with it on their wire, unanswered
	origin   uint32 // the slot whose pool it belongs to
	msg      workload.Drawn
	live     bool // carries a message that has no outcome yet
	lastNack ccs.NackCode
	nacked   bool   // lastNack is set
	nackText []byte // the start of the "error" of the last NACK when its code is unknown (Driver.nackTextMax bytes)
}

// Records are allocated in chunks of recChunkLen, each slot's as its pool
// runs dry, up to Window+Backlog records a slot: a connection that keeps
// one message in flight holds one chunk, not its whole backlog.
const (
	recChunkShift = 4
	recChunkLen   = 1 << recChunkShift
)

type recChunk [recChunkLen]record

// recTable finds a record by its index: chunk i>>recChunkShift, entry
// i%recChunkLen. Slot s owns the chunks from s×(chunks per slot); a chunk
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

// recordPool is a lock-free stack of free records (a Treiber stack whose
// head carries a modification tag, so pops by several goroutines are safe
// from ABA). Each logical connection has one; it allocates its records a
// chunk at a time when it runs dry, up to size records.
type recordPool struct {
	head  atomic.Uint64 // tag<<32 | index+1
	grown atomic.Uint32 // chunks allocated
	// Fixed at New: the pool's first chunk in the table, how many chunks
	// it may allocate, how many records it may hold, and its slot.
	base, chunks, size, origin uint32
	_                          [40]byte
}

func (p *recordPool) init(origin, size uint32) {
	p.origin, p.size = origin, size
	p.chunks = (size + recChunkLen - 1) / recChunkLen
	p.base = origin * p.chunks
}

func (p *recordPool) push(t *recTable, i uint32) {
	r := t.at(i)
	for {
		h := p.head.Load()
		r.next.Store(uint32(h))
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// emptyHint reports whether the pool looked empty and unable to grow
// (racy, for sleep decisions).
func (p *recordPool) emptyHint() bool {
	return uint32(p.head.Load()) == 0 && p.grown.Load() >= p.chunks
}

func (p *recordPool) pop(t *recTable) (uint32, bool) {
	for {
		h := p.head.Load()
		top := uint32(h)
		if top == 0 {
			if !p.grow(t) {
				return 0, false
			}
			continue
		}
		n := t.at(top - 1).next.Load()
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(n)) {
			return top - 1, true
		}
	}
}

// grow allocates the pool's next chunk and pushes its records; false when
// the pool has all its records already. Concurrent callers allocate
// different chunks.
func (p *recordPool) grow(t *recTable) bool {
	var g uint32
	for {
		g = p.grown.Load()
		if g >= p.chunks {
			return false
		}
		if p.grown.CompareAndSwap(g, g+1) {
			break
		}
	}
	c := new(recChunk)
	for j := range c {
		c[j].origin = p.origin
	}
	k := p.base + g
	t.chunks[k].Store(c)
	for j := recChunkLen - 1; j >= 0; j-- {
		if g*recChunkLen+uint32(j) < p.size {
			p.push(t, k<<recChunkShift+uint32(j))
		}
	}
	return true
}

// inbox is a lock-free multi-producer stack of records waiting to be sent
// by a logical connection's current writer, which takes them all at once
// (so no ABA: the consumer never pops a single element).
type inbox struct {
	head atomic.Uint32 // index+1
	_    [60]byte
}

func (b *inbox) push(t *recTable, i uint32) {
	r := t.at(i)
	for {
		h := b.head.Load()
		r.next.Store(h)
		if b.head.CompareAndSwap(h, i+1) {
			return
		}
	}
}

// takeAll returns the list head (index+1, 0 if empty), newest first.
func (b *inbox) takeAll() uint32 { return b.head.Swap(0) }

func (b *inbox) empty() bool { return b.head.Load() == 0 }

// window is a connection's count of claimed slots, never more than max.
// Closing adds a large constant so that every later claim fails while
// releases still count down.
type window struct {
	v   atomic.Int64
	max int64
	_   [48]byte
}

const windowClosed = 1 << 40

func (w *window) claim() bool {
	for {
		v := w.v.Load()
		if v >= w.max {
			return false
		}
		if w.v.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (w *window) release()     { w.v.Add(-1) }
func (w *window) close()       { w.v.Add(windowClosed) }
func (w *window) pending() int { return int(w.v.Load() % windowClosed) }

// hexDigit is the lower-case hexadecimal alphabet of message ids.
const hexDigit = "0123456789abcdef"

// appendID appends the message id of sequence seq in record index idx:
// PREFIX + hex(seq) + "." + hex(idx).
func appendID(b []byte, prefix string, seq uint64, idx uint32) []byte {
	b = append(b, prefix...)
	b = appendHex(b, seq)
	b = append(b, '.')
	return appendHex(b, uint64(idx))
}

func appendHex(b []byte, v uint64) []byte {
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = hexDigit[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// parseID decodes an id made by setID with the given prefix. ok is false
// for anything else.
func parseID(prefix string, id []byte) (seq uint64, idx uint32, ok bool) {
	if len(id) <= len(prefix) || string(id[:len(prefix)]) != prefix {
		return 0, 0, false
	}
	id = id[len(prefix):]
	dot := -1
	for i, c := range id {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 1 || dot > 16 || len(id)-dot-1 < 1 || len(id)-dot-1 > 8 {
		return 0, 0, false
	}
	seq, ok = parseHex(id[:dot])
	if !ok {
		return 0, 0, false
	}
	v, ok := parseHex(id[dot+1:])
	if !ok {
		return 0, 0, false
	}
	return seq, uint32(v), true
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// findID looks for an id with the given prefix inside an echoed payload
// (a stanza error whose payload could not be parsed) and returns it.
func findID(prefix string, payload []byte) []byte {
	for i := 0; i+len(prefix) < len(payload); i++ {
		if string(payload[i:i+len(prefix)]) != prefix {
			continue
		}
		j := i + len(prefix)
		for j < len(payload) && (payload[j] == '.' || (payload[j] >= '0' && payload[j] <= '9') || (payload[j] >= 'a' && payload[j] <= 'f')) {
			j++
		}
		if _, _, ok := parseID(prefix, payload[i:j]); ok {
			return payload[i:j]
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// randomPrefix returns 6 random hex digits and a dash, so that the ids of
// different runs against one server differ.
func randomPrefix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}
