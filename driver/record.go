package driver

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"

	"github.com/ccsbench/ccsbench/ccs"
)

// maxIDLen bounds an encoded message id: a prefix of at most 16 bytes,
// 16 hex digits of sequence, a dot and 8 hex digits of record index.
const maxIDLen = 16 + 16 + 1 + 8

// record is one unique downstream message from its creation to its
// outcome. Records live in one array; a record's index and its message's
// sequence number are both written into the message id, so the reader
// finds the record from the id in constant time with no map and no lock.
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
	live     bool   // carries a message that has no outcome yet
	lastNack ccs.NackCode
	nacked   bool // lastNack is set
	idLen    uint8
	origin   uint16
	id       [maxIDLen]byte
	payload  []byte
	nackText []byte // the start of the "error" of the last NACK when its code is unknown (Driver.nackTextMax bytes)
}

// recordPool is a lock-free stack of free records (a Treiber stack whose
// head carries a modification tag, so pops by several goroutines are safe
// from ABA). Each logical connection has one.
type recordPool struct {
	head atomic.Uint64 // tag<<32 | index+1
	_    [56]byte
}

func (p *recordPool) push(recs []record, i uint32) {
	r := &recs[i]
	for {
		h := p.head.Load()
		r.next.Store(uint32(h))
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// emptyHint reports whether the pool looked empty (racy, for sleep decisions).
func (p *recordPool) emptyHint() bool { return uint32(p.head.Load()) == 0 }

func (p *recordPool) pop(recs []record) (uint32, bool) {
	for {
		h := p.head.Load()
		top := uint32(h)
		if top == 0 {
			return 0, false
		}
		n := recs[top-1].next.Load()
		if p.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(n)) {
			return top - 1, true
		}
	}
}

// inbox is a lock-free multi-producer stack of records waiting to be sent
// by a logical connection's current writer, which takes them all at once
// (so no ABA: the consumer never pops a single element).
type inbox struct {
	head atomic.Uint32 // index+1
	_    [60]byte
}

func (b *inbox) push(recs []record, i uint32) {
	r := &recs[i]
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

// setID writes the message id of sequence seq in record index idx:
// PREFIX + hex(seq) + "." + hex(idx).
func (r *record) setID(prefix string, seq uint64, idx uint32) {
	b := r.id[:0]
	b = append(b, prefix...)
	b = appendHex(b, seq)
	b = append(b, '.')
	b = appendHex(b, uint64(idx))
	r.idLen = uint8(len(b))
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
