package fakeccs

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Upstream messages the fake sends, as a device would.
const (
	// UpstreamCategory is the "category" of upstream messages and receipts.
	UpstreamCategory = "com.example.fakeccs"
	// UpstreamTTL is the "time_to_live" of upstream messages, in seconds.
	UpstreamTTL = 86400
	// upstreamDevices is how many device ids upstream messages come from.
	upstreamDevices = 64
)

// UpstreamSettle is how long after the bind the fake holds upstream
// messages and receipts back from a client that sends nothing. The fake
// offers the session as mandatory, as CCS did, and a stanza that comes
// before the session's result is lost by client libraries that wait for it
// (libstrophe fires no handler before it, gosrc.io/xmpp reads it as the
// answer): so upstream messages start once the client sends its first
// stanza after the bind (the session IQ is answered first), or after
// UpstreamSettle when it sends none.
const UpstreamSettle = time.Second

// upPrefix starts every upstream message and receipt (ccs.AppendUpstream,
// ccs.AppendReceipt); the app server's JID follows. An entry keeps its
// stanza without it and without the JID, which each connection writes
// with its own login domain, so that an entry can move to a connection
// that logged in to the other domain.
const upPrefix = `<message to="`

// upEntry is an upstream message or delivery receipt the fake sends and
// the app server must ACK: kept until ACKed, sent again after
// Config.UpstreamResend, and handed to another connection of the sender
// (or its next one) when its connection drains or closes.
type upEntry struct {
	hash       uint64
	id         []byte // message_id, as the ACK must carry it
	ackTo      []byte // the "to" the ACK must carry: the message's "from"
	stanza     []byte // the encoded stanza after upPrefix and the JID
	receipt    bool
	everSent   bool  // sent before, on this or an earlier connection
	sentAt     int64 // when last sent on this connection (ns since epoch)
	prev, next *upEntry
}

// upState is one connection's upstream messages and receipts, owned by
// its goroutine.
type upState struct {
	backlog  *backlog // the sender's (nil: no upstream messages or receipts configured)
	toAttr   []byte   // SENDER@domain, attribute-escaped: the "to" of upstream messages
	interval int64    // ns between new upstream messages (Config.UpstreamRate), or 0
	next     int64    // when the next new upstream message is due
	settleBy int64    // nothing is sent before the client's first stanza or this time (0: settled; see UpstreamSettle)

	unacked    map[uint64]*upEntry // sent, not yet ACKed, by id hash
	head, tail *upEntry            // the same, oldest send first
	queue      []*upEntry          // waiting to be sent, oldest first
	qhead      int
	free       []*upEntry

	move    []*upEntry // scratch: entries handed to the backlog
	scratch []byte     // scratch: upstream payloads, receipt ids with "dr2:" put back
}

func (u *upState) queued() int { return len(u.queue) - u.qhead }

func (u *upState) get() *upEntry {
	if n := len(u.free); n > 0 {
		e := u.free[n-1]
		u.free = u.free[:n-1]
		return e
	}
	return &upEntry{}
}

func (u *upState) put(e *upEntry) {
	*e = upEntry{id: e.id[:0], ackTo: e.ackTo[:0], stanza: e.stanza[:0]}
	if len(u.free) < MaxUnackedUpstream {
		u.free = append(u.free, e)
	}
}

// enqueue appends e to the send queue, discarding the oldest queued entry
// when the queue is full; it reports whether one was discarded.
func (u *upState) enqueue(e *upEntry) (dropped bool) {
	if u.queued() >= MaxQueuedUpstream {
		u.put(u.pop())
		dropped = true
	}
	if u.qhead > 0 && u.qhead >= len(u.queue)/2 {
		n := copy(u.queue, u.queue[u.qhead:])
		clear(u.queue[n:])
		u.queue, u.qhead = u.queue[:n], 0
	}
	u.queue = append(u.queue, e)
	return dropped
}

func (u *upState) pop() *upEntry {
	e := u.queue[u.qhead]
	u.queue[u.qhead] = nil
	u.qhead++
	if u.qhead == len(u.queue) {
		u.queue, u.qhead = u.queue[:0], 0
	}
	return e
}

// link appends e to the unacked list and map.
func (u *upState) link(e *upEntry) {
	if u.unacked == nil {
		u.unacked = make(map[uint64]*upEntry, MaxUnackedUpstream)
	}
	u.unacked[e.hash] = e
	e.prev, e.next = u.tail, nil
	if u.tail != nil {
		u.tail.next = e
	} else {
		u.head = e
	}
	u.tail = e
}

// unlink removes e from the unacked list and map.
func (u *upState) unlink(e *upEntry) {
	delete(u.unacked, e.hash)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		u.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		u.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// backlog holds a sender's upstream messages and receipts that were not
// ACKed on a connection that drained or closed, for another connection
// of the sender: one that is open (woken to take them) or the next one.
type backlog struct {
	mu      sync.Mutex
	entries []*upEntry
	n       atomic.Int64 // len(entries), read without the lock
	conns   []*conn      // the sender's connections that take upstream messages
	next    int          // round robin over conns
}

// senderBacklog returns the backlog of a sender id, made on first use.
func (s *Server) senderBacklog(sender string) *backlog {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.senders[sender]
	if b == nil {
		b = &backlog{}
		s.senders[sender] = b
	}
	return b
}

// join makes c one of the connections that take the backlog.
func (b *backlog) join(c *conn) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
}

// leave removes c (draining or closing) from the connections that take
// the backlog, waking another one if entries wait.
func (b *backlog) leave(c *conn) {
	b.mu.Lock()
	for i, x := range b.conns {
		if x == c {
			last := len(b.conns) - 1
			b.conns[i] = b.conns[last]
			b.conns[last] = nil
			b.conns = b.conns[:last]
			break
		}
	}
	if len(b.entries) > 0 {
		b.wakeLocked()
	}
	b.mu.Unlock()
}

// add appends entries, oldest first, keeping at most MaxQueuedUpstream,
// wakes one connection to take them, and returns how many were dropped.
func (b *backlog) add(entries []*upEntry) (dropped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = append(b.entries, entries...)
	if over := len(b.entries) - MaxQueuedUpstream; over > 0 {
		clear(b.entries[:over])
		b.entries = b.entries[over:]
		dropped = over
	}
	b.n.Store(int64(len(b.entries)))
	b.wakeLocked()
	return dropped
}

// wakeLocked kicks one of the connections that take the backlog.
func (b *backlog) wakeLocked() {
	if len(b.conns) == 0 {
		return
	}
	b.next = (b.next + 1) % len(b.conns)
	b.conns[b.next].kick()
}

// take removes and returns every entry.
func (b *backlog) take() []*upEntry {
	b.mu.Lock()
	entries := b.entries
	b.entries = nil
	b.n.Store(0)
	b.mu.Unlock()
	return entries
}

// adoptBacklog moves the sender's backlog into the connection's queue.
func (c *conn) adoptBacklog() {
	for _, e := range c.up.backlog.take() {
		if c.up.enqueue(e) {
			c.delta[cUpstreamDropped]++
		}
	}
}

// handOff moves entries to the sender's backlog.
func (c *conn) handOff(entries []*upEntry) {
	if len(entries) > 0 {
		c.delta[cUpstreamDropped] += uint64(c.up.backlog.add(entries))
	}
}

// leaveBacklog hands every unacked and queued entry to the sender's
// backlog, oldest first, when the connection closes.
func (c *conn) leaveBacklog() {
	u := &c.up
	moved := u.move[:0]
	for e := u.head; e != nil; {
		next := e.next
		e.prev, e.next = nil, nil
		moved = append(moved, e)
		e = next
	}
	u.head, u.tail = nil, nil
	clear(u.unacked)
	for u.queued() > 0 {
		moved = append(moved, u.pop())
	}
	c.handOff(moved)
	clear(moved)
	u.move = moved[:0]
}

var upCategory = []byte(UpstreamCategory)

// newUpstream queues a new upstream message from one of the fake devices.
func (c *conn) newUpstream() {
	seq := c.s.upSeq.Add(1)
	e := c.up.get()
	e.id = append(e.id[:0], "up-"...)
	e.id = strconv.AppendUint(e.id, seq, 10)
	e.ackTo = append(e.ackTo[:0], "fakeccs-device-"...)
	e.ackTo = strconv.AppendUint(e.ackTo, seq%upstreamDevices, 10)
	data := append(c.up.scratch[:0], `{"seq":"`...)
	data = strconv.AppendUint(data, seq, 10)
	data = append(data, `","source":"fakeccs"}`...)
	c.up.scratch = data
	e.stanza = cutTo(c.s.form.AppendUpstream(e.stanza[:0], &ccs.Upstream{
		Category: upCategory, From: e.ackTo, ID: e.id,
		Data: data, TTL: UpstreamTTL,
	}))
	e.hash = hashID(c.s.seed, e.id)
	if c.up.enqueue(e) {
		c.delta[cUpstreamDropped]++
	}
}

// newReceipt queues the delivery receipt of an ACKed downstream message.
func (c *conn) newReceipt(regID, origID []byte) {
	e := c.up.get()
	e.receipt = true
	e.id = append(append(e.id[:0], ccs.ReceiptIDPrefix...), origID...)
	e.ackTo = append(e.ackTo[:0], ccs.Domain...)
	e.stanza = cutTo(c.s.form.AppendReceipt(e.stanza[:0], &ccs.Receipt{
		Category: upCategory, RegistrationID: regID,
		OriginalMessageID: origID, SentMillis: c.s.wallMillis(c.tm.now),
	}))
	e.hash = hashID(c.s.seed, e.id)
	if c.up.enqueue(e) {
		c.delta[cUpstreamDropped]++
	}
}

// cutTo removes upPrefix from a stanza encoded with an empty "to" (it
// then starts with the attribute's closing quote), in place.
func cutTo(stanza []byte) []byte {
	return stanza[:copy(stanza, stanza[len(upPrefix):])]
}

// pumpUpstream sends what is due: resends of entries unacked for too
// long, queued entries (the sender's backlog first taken over), and new
// upstream messages at Config.UpstreamRate, while fewer than
// MaxUnackedUpstream are unacked. A draining connection sends none: it
// hands its queued entries, and its unacked ones once due for a resend,
// to the sender's backlog (until then their ACKs are valid here).
func (c *conn) pumpUpstream() {
	u := &c.up
	now := c.tm.now
	resend := int64(c.s.cfg.UpstreamResend)
	if c.drain.active {
		if u.backlog == nil {
			return
		}
		moved := u.move[:0]
		for e := u.head; e != nil && e.sentAt+resend <= now; e = u.head {
			u.unlink(e)
			moved = append(moved, e)
		}
		for u.queued() > 0 {
			moved = append(moved, u.pop())
		}
		c.handOff(moved)
		clear(moved)
		u.move = moved[:0]
		return
	}
	if u.settleBy != 0 {
		if now < u.settleBy {
			return
		}
		c.settleUpstream()
	}
	if u.backlog != nil && u.backlog.n.Load() > 0 {
		c.adoptBacklog()
	}
	for e := u.head; e != nil && e.sentAt+resend <= now; e = u.head {
		u.unlink(e)
		c.sendUp(e, now)
	}
	for u.queued() > 0 && len(u.unacked) < MaxUnackedUpstream {
		c.sendUp(u.pop(), now)
	}
	if u.interval == 0 {
		return
	}
	for u.next <= now && len(u.unacked) < MaxUnackedUpstream {
		c.newUpstream()
		c.sendUp(u.pop(), now)
		u.next += u.interval
	}
	if u.next < now { // blocked by the limit: no burst of back pay later
		u.next = now
	}
}

// sendUp writes e and links it as unacked. An entry whose id is already
// unacked (a receipt for a message ACKed twice) is dropped.
func (c *conn) sendUp(e *upEntry, now int64) {
	if old := c.up.unacked[e.hash]; old != nil {
		c.delta[cUpstreamDropped]++
		c.up.put(e)
		return
	}
	c.out.buf = append(c.out.buf, upPrefix...)
	c.out.buf = append(c.out.buf, c.up.toAttr...)
	c.out.buf = append(c.out.buf, e.stanza...)
	if c.obs != nil {
		c.obs.Upstream(e.id, e.receipt, e.everSent, time.Duration(now))
	}
	switch {
	case e.everSent:
		c.delta[cUpstreamResent]++
	case e.receipt:
		c.delta[cReceiptsSent]++
	default:
		c.delta[cUpstreamSent]++
	}
	e.everSent = true
	e.sentAt = now
	c.up.link(e)
}

// settleUpstream ends the hold on upstream messages of a connection just bound
// (UpstreamSettle), without a burst of the new ones it held.
func (c *conn) settleUpstream() {
	c.up.settleBy = 0
	c.up.next = max(c.up.next, c.tm.now)
}

// nextUpstream returns when pumpUpstream has work next, or -1.
func (c *conn) nextUpstream() int64 {
	u := &c.up
	if u.settleBy != 0 && !c.drain.active {
		if u.interval > 0 || u.queued() > 0 || (u.backlog != nil && u.backlog.n.Load() > 0) {
			return u.settleBy
		}
		return -1
	}
	next := int64(-1)
	if u.head != nil {
		next = u.head.sentAt + int64(c.s.cfg.UpstreamResend)
	}
	if len(u.unacked) < MaxUnackedUpstream {
		if u.queued() > 0 {
			return c.tm.now
		}
		if u.interval > 0 && !c.drain.active && (next < 0 || u.next < next) {
			next = u.next
		}
	}
	return next
}

// clientAck settles an upstream message or receipt the app server ACKs,
// answering a malformed ACK with a BAD_ACK NACK. A receipt may be ACKed
// with its id or with the id stripped of "dr2:" (as some client libraries
// send it).
func (c *conn) clientAck(m *ccs.Message) {
	id, to := &m.MessageID, &m.To
	if id.Kind != ccs.JSONString || len(id.Str) == 0 || to.Kind != ccs.JSONString {
		c.badAck(m, descBadAckFields)
		return
	}
	u := &c.up
	e := u.unacked[hashID(c.s.seed, id.Str)]
	unprefixed := false
	if e == nil || !bytes.Equal(e.id, id.Str) {
		e = nil
		if !bytes.HasPrefix(id.Str, receiptPrefix) {
			u.scratch = append(append(u.scratch[:0], receiptPrefix...), id.Str...)
			if r := u.unacked[hashID(c.s.seed, u.scratch)]; r != nil && r.receipt && bytes.Equal(r.id, u.scratch) {
				e, unprefixed = r, true
			}
		}
		if e == nil {
			c.delta[cUnknownAcks]++
			if c.obs != nil {
				c.obs.BadAck(id.Str, true, time.Duration(c.tm.now))
			}
			return
		}
	}
	if !bytes.Equal(e.ackTo, to.Str) {
		c.badAck(m, descBadAckTo)
		return
	}
	u.unlink(e)
	if c.obs != nil {
		c.obs.UpstreamAck(e.id, e.receipt, unprefixed, time.Duration(e.sentAt), time.Duration(c.tm.now))
	}
	switch {
	case unprefixed:
		c.delta[cReceiptsAcked]++
		c.delta[cReceiptsAckedUnprefixed]++
	case e.receipt:
		c.delta[cReceiptsAcked]++
	default:
		c.delta[cUpstreamAcked]++
	}
	u.put(e)
}

var receiptPrefix = []byte(ccs.ReceiptIDPrefix)

// badAck answers a malformed ACK with a BAD_ACK NACK (counted in BadAcks,
// not among the NACKs of downstream messages).
func (c *conn) badAck(m *ccs.Message, desc []byte) {
	c.delta[cBadAcks]++
	id := m.MessageID.Str
	if m.MessageID.Kind != ccs.JSONString {
		id = m.MessageID.Raw
	}
	if c.obs != nil {
		c.obs.BadAck(id, false, time.Duration(c.tm.now))
	}
	c.out.buf = c.s.form.AppendNack(c.out.buf, m.To.Str, id, "BAD_ACK", desc)
}
