package fakeccs

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Reasons a connection's stanza loop ends (besides input errors).
var (
	errDrop        = errors.New("fakeccs: connection dropped by --drop-every")
	errDrained     = errors.New("fakeccs: connection drained")
	errClientEnd   = errors.New("fakeccs: client closed its stream")
	errClientError = errors.New("fakeccs: client sent a stream error")
)

// streamErr ends a connection with a stream error.
type streamErr struct {
	cond, text string
}

func (e *streamErr) Error() string { return "fakeccs: stream error " + e.cond + ": " + e.text }

// Sizes of a connection's buffers.
const (
	// framerReadSize is the framer's read size: one TLS record of
	// plaintext at most arrives per read.
	framerReadSize = 16 << 10
	// flushAt is the size of the reply buffer at which it is written even
	// though more input is readable, so that a client that never stops
	// writing still gets answers. It holds the answers to far more than
	// 100 messages, so a burst that breaks the window is read whole first.
	flushAt = 32 << 10
	// outKeep is the largest reply buffer kept between writes; a larger
	// one (after a burst of upstream resends, say) is dropped after use.
	// It leaves room for a read buffer's answers beyond flushAt.
	outKeep = 64 << 10
)

// WriteTimeout is how long a write to a client may block (the client not
// reading) before the connection is closed.
const WriteTimeout = 30 * time.Second

// Phases of a connection, which decide what Read does.
const (
	phaseHandshake = iota // Read passes through (ServerHandshake runs)
	phaseRun              // Read flushes replies and runs timers first
	phaseDone             // Read passes through (closing)
)

// conn is one client connection. One goroutine owns it: it reads through
// the Framer, whose reads come back to conn.Read; there, once no input is
// readable without waiting, the replies of everything parsed so far are
// written in one TLS write, and timed work (delayed answers, upstream,
// keepalives, periodic drops and drains) runs, with the read deadline set
// to the next due time. So a connection needs no lock, no writer goroutine
// and no timer per message.
type conn struct {
	net.Conn          // the TLS connection
	s        *Server  // owner
	cfg      *Config  // the server's configuration
	raw      net.Conn // the TCP connection under TLS, for abrupt closes
	in       *inConn  // the same, as TLS reads it (nil: no probe)
	fr       *ccs.Framer
	jid      []byte // the bound full JID, for stanza errors
	toAttr   []byte // SENDER@domain, attribute-escaped: the "to" of upstream messages
	backlog  *backlog
	rng      *rand.Rand
	seq      uint64 // connection number, from 1

	phase    int
	timed    bool  // some timed work is configured: Read runs tick and arms deadlines
	clock    bool  // now is read after every read
	now      int64 // ns since the server's epoch, as of the latest read or tick
	start    int64 // when the connection was bound
	deadline int64 // the read deadline armed, -1 for none, -2 unknown
	// wakeAt is the due time of the earliest held answer (0: none), for
	// the server's waker; the waker sets it to 0 when it interrupts Read.
	wakeAt atomic.Int64
	// kicked is set by another goroutine that wants the timed work run
	// now (upstream messages moved to this connection); see kick.
	kicked atomic.Bool
	stop   error // set by tick or a failed write: Read returns it
	wdue   int64 // when the write deadline was last pushed forward

	out        []byte // replies not yet written
	outAnswers uint64 // answers to downstream messages in out
	received   uint64 // downstream messages read
	released   uint64 // answers to downstream messages written
	delta      []uint64
	pub        counters

	jr      ccs.JSONReader
	msg     ccs.Message
	desc    []byte // scratch for NACK descriptions and stanza error texts
	canon   []byte // scratch for canonical registration ids
	scratch []byte
	recent  recentIDs

	delayed       bool
	delay, jitter int64
	held          heldQueue

	nextKeepalive int64
	dropAt        int64 // when --drop-every D drops, or 0
	drainAt       int64 // when --drain-every D drains, or 0
	draining      bool
	drainStart    int64 // when the drain began
	drainSent     int64 // when the control message was written, or 0

	up         upState
	upInterval int64 // ns between upstream messages, or 0
	upNext     int64
	upMove     []*upEntry // scratch for entries handed to the backlog

	bufs *connBufs // the pooled state's holder, for recycleBufs
	// spareFr is the framer of this connection's stream: a pooled one for
	// ServerHandshake to Reset, then the one it used, for recycleBufs.
	spareFr *ccs.Framer
}

// newConn prepares a connection over the TLS connection tc on raw.
func (s *Server) newConn(tc net.Conn, raw net.Conn) *conn {
	seq := s.connSeq.Add(1)
	c := &conn{
		Conn:     tc,
		s:        s,
		cfg:      &s.cfg,
		raw:      raw,
		seq:      seq,
		deadline: -1,
		wdue:     -int64(time.Hour),
		rng:      rand.New(rand.NewPCG(s.cfg.Seed, seq)),
		delayed:  s.cfg.AckDelay > 0 || s.cfg.AckJitter > 0,
		delay:    int64(s.cfg.AckDelay),
		jitter:   int64(s.cfg.AckJitter),
		timed:    s.timed,
		clock:    s.timed || s.cfg.DeviceRate > 0,
	}
	s.takeBufs(c)
	if s.cfg.UpstreamRate > 0 {
		c.upInterval = max(1, int64(float64(time.Second)/s.cfg.UpstreamRate))
	}
	return c
}

// Read is what the Framer reads from. Once the stream is bound it first
// runs due timed work; then, while replies are waiting, it returns input
// that is already readable; only when there is none does it write every
// reply produced since the last write and wait, with the read deadline
// armed for the next timed work. So a burst a client wrote is read whole
// before it is answered (the window rule depends on it), and no answer is
// held back while no input is ready.
func (c *conn) Read(p []byte) (int, error) {
	if c.phase != phaseRun {
		return c.Conn.Read(p)
	}
	for {
		if c.timed {
			c.now = c.s.clockNow()
			c.tick()
		}
		if c.stop == errDrop {
			return 0, errDrop
		}
		if len(c.out) > 0 && len(c.out) < flushAt && c.stop == nil {
			if n := c.readReady(p); n > 0 {
				return n, nil
			}
		}
		c.publish() // before the write: a client never sees an answer before its count
		if len(c.out) > 0 {
			c.flush()
		}
		if c.draining && c.stop == nil && c.drained() {
			// Input that raced the end is answered, not discarded.
			if n := c.readReady(p); n > 0 {
				return n, nil
			}
			c.stop = errDrained
		}
		if c.stop != nil {
			return 0, c.stop
		}
		if c.timed {
			c.arm()
		}
		n, err := c.Conn.Read(p)
		if c.clock {
			c.now = c.s.clockNow()
		}
		if err != nil && c.timed && errors.Is(err, os.ErrDeadlineExceeded) {
			c.deadline = -2 // it may have been the waker's
			if n > 0 {
				return n, nil
			}
			continue // time for timed work
		}
		return n, err
	}
}

// readReady reads into p what is readable without waiting, and returns
// its length (0: nothing, or the connection cannot be probed).
func (c *conn) readReady(p []byte) int {
	if c.in == nil {
		return 0
	}
	c.in.probe = true
	n, _ := c.Conn.Read(p) // an error recurs at the next read (or was a timeout)
	c.in.probe = false
	if n > 0 && c.clock {
		c.now = c.s.clockNow()
	}
	return n
}

// flush writes out and counts its answers as released. A write that
// fails ends the connection; its answers stay counted as written.
func (c *conn) flush() {
	if now := c.s.clockNow(); now-c.wdue > int64(time.Second) { // push the deadline at most once a second
		c.wdue = now
		c.Conn.SetWriteDeadline(c.s.epoch.Add(time.Duration(now) + c.s.writeTimeout))
	}
	_, err := c.Conn.Write(c.out)
	if err == nil {
		c.released += c.outAnswers
		if c.draining && c.drainSent == 0 {
			c.drainSent = max(1, c.s.clockNow()) // the control message is out
		}
	}
	c.outAnswers = 0
	if cap(c.out) > outKeep {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	if err != nil && c.stop == nil {
		c.stop = err
	}
}

// publish adds the counts since the last publish to the shared counters.
func (c *conn) publish() {
	for i, d := range c.delta {
		if d != 0 {
			c.pub[i].Add(d)
			c.delta[i] = 0
		}
	}
}

// tick runs the timed work due at c.now.
func (c *conn) tick() {
	now := c.now
	for c.held.len() > 0 && c.held.top().due <= now {
		c.release(c.held.pop())
	}
	if c.dropAt > 0 && now >= c.dropAt {
		c.drop()
		return
	}
	if c.drainAt > 0 && now >= c.drainAt && !c.draining {
		c.startDrain()
	}
	if ka := int64(c.cfg.Keepalive); ka > 0 && now >= c.nextKeepalive {
		c.out = append(c.out, ' ')
		c.delta[cKeepalives]++
		c.nextKeepalive = now + ka
	}
	if c.kicked.Load() {
		c.kicked.Store(false) // before pumpUpstream looks: a later kick is not lost
	}
	c.pumpUpstream()
}

// kick makes the connection run its timed work at once; any goroutine may
// call it. The flag closes the race with arm, which may be setting a later
// deadline at the same time: arm checks it after setting its own.
func (c *conn) kick() {
	c.kicked.Store(true)
	c.Conn.SetReadDeadline(aLongTimeAgo)
}

// arm sets the read deadline to the next timed work, when it changed.
func (c *conn) arm() {
	next := c.nextUpstream()
	consider := func(t int64) {
		if t > 0 && (next < 0 || t < next) {
			next = t
		}
	}
	if c.held.len() > 0 {
		due := max(1, c.held.top().due)
		consider(due)
		if c.wakeAt.Load() != due {
			c.wakeAt.Store(due)
		}
	} else if c.wakeAt.Load() != 0 {
		c.wakeAt.Store(0)
	}
	if c.cfg.Keepalive > 0 {
		consider(c.nextKeepalive)
	}
	consider(c.dropAt)
	if !c.draining {
		consider(c.drainAt)
	} else if end, ok := c.lingerEnd(); ok {
		consider(end)
	}
	if next != c.deadline {
		c.deadline = next
		if next < 0 {
			c.Conn.SetReadDeadline(time.Time{})
		} else {
			c.Conn.SetReadDeadline(c.s.epoch.Add(time.Duration(next)))
		}
	}
	if c.kicked.Load() {
		c.Conn.SetReadDeadline(aLongTimeAgo)
		c.deadline = -2
	}
}

// release moves a held answer into out, followed by its receipt.
func (c *conn) release(h *held) {
	c.out = append(c.out, h.buf...)
	c.delta[h.ctr]++
	if h.canon {
		c.delta[cCanonical]++
	}
	c.outAnswers++
	if h.receipt {
		c.newReceipt(h.regID, h.origID)
	}
	c.held.put(h)
}

// drop closes the connection abruptly, without writing what out holds:
// Read returns errDrop before it writes anything, and finish counts the
// unwritten answers as abandoned.
func (c *conn) drop() {
	c.delta[cDrops]++
	c.stop = errDrop
}

// run serves the bound stream until it ends, then closes the connection.
func (c *conn) run() {
	c.phase = phaseRun
	c.now = c.s.clockNow()
	c.start = c.now
	if ka := c.cfg.Keepalive; ka > 0 {
		c.nextKeepalive = c.now + int64(ka)
	}
	if d := c.cfg.DropEvery.D; d > 0 {
		c.dropAt = c.now + int64(d)
	}
	if d := c.cfg.DrainEvery.D; d > 0 {
		c.drainAt = c.now + int64(d)
	}
	c.upNext = c.now
	if c.backlog != nil {
		c.backlog.join(c)
		c.adoptBacklog()
	}
	err := c.loop()
	if errors.Is(c.stop, errDrop) || errors.Is(c.stop, errDrained) {
		err = c.stop // whatever the framer made of it
	}
	c.finish(err)
}

// loop reads and handles stanzas until an error ends the stream.
func (c *conn) loop() error {
	for {
		st, err := c.fr.Next()
		if err != nil {
			return err
		}
		if err := c.handle(st); err != nil {
			return err
		}
	}
}

// finish closes the connection as err requires, and accounts for every
// downstream message read and not answered.
func (c *conn) finish(err error) {
	var sx *ccs.SyntaxError
	var se *streamErr
	if c.backlog != nil {
		c.backlog.leave(c) // no kick may cut the reads after the stream's end short
	}
	// Held answers die with their connection (answers are only valid on
	// it), whatever ends it: a client that ends its stream gives up on its
	// pending messages, and a stalled server stays stalled.
	c.abandonHeld()
	switch {
	case errors.Is(err, errDrop):
		c.discardOut()
		c.phase = phaseDone
		c.countRest(cAbandoned)
		c.raw.Close()
	case errors.Is(err, errDrained):
		// drained let it end: every answer is on the wire
		c.out = append(c.out, ccs.StreamEnd...)
		c.endStream(true)
	case errors.Is(err, errClientEnd):
		c.out = append(c.out, ccs.StreamEnd...)
		c.endStream(false) // nothing follows the client's end
	case errors.As(err, &se):
		c.out = ccs.AppendStreamError(c.out, se.cond, se.text)
		c.delta[cStreamErrors]++
		c.endStream(true)
	case errors.As(err, &sx):
		c.logf("stream error %s to %s: %s", ccs.Condition(err), c.raw.RemoteAddr(), sx.Detail)
		c.out = ccs.AppendStreamError(c.out, ccs.Condition(err), sx.Detail)
		c.delta[cStreamErrors]++
		c.endStream(false) // nothing can be read past bad XML
	default: // EOF, a reset, a failed write, the server closing
		c.discardOut() // empty: answers are written before every read that can fail
		c.phase = phaseDone
		c.raw.Close() // no TLS close_notify: it could block on a client that does not read
	}
	c.publish()
	if c.backlog != nil {
		c.leaveBacklog()
		c.publish()
	}
}

// abandonHeld drops the held answers, counting their messages abandoned.
func (c *conn) abandonHeld() {
	c.delta[cAbandoned] += uint64(c.held.len())
	for c.held.len() > 0 {
		c.held.put(c.held.pop())
	}
}

// discardOut drops the replies in out, which are never going to be
// written (the connection is dropped or lost). Their answers were counted in
// delta, not yet published (publish always comes just before the write of
// out), so they are taken back and counted as abandoned instead.
func (c *conn) discardOut() {
	if c.outAnswers > 0 {
		c.delta[cAbandoned] += c.outAnswers
		c.delta[cAcks], c.delta[cCanonical], c.delta[cStanzaErrors] = 0, 0, 0
		clear(c.delta[numFixed:])
		c.outAnswers = 0
	}
	c.out = c.out[:0]
}

// countRest counts the downstream messages among what the fake has read
// from the client and not handled yet (no further read waits), as
// received and in counter ctr, when the connection ends.
func (c *conn) countRest(ctr int) {
	c.Conn.SetReadDeadline(aLongTimeAgo)
	c.countLeftover(ctr)
}

// countLeftover reads the client's stanzas after the fake stopped
// handling them (phase done) until an error (a deadline, the end of the
// stream or of the connection), and counts each downstream message as
// received and in counter ctr: it is never answered. Their ids are
// tracked (Config.TrackIDs) like any other.
func (c *conn) countLeftover(ctr int) {
	for {
		st, err := c.fr.Next()
		if err != nil || st.Kind == ccs.KindStreamEnd {
			return
		}
		if st.Kind != ccs.KindMessage || !st.HasGCM || string(st.Type) == "error" {
			continue
		}
		m := &c.msg
		parsed := c.jr.Parse(st.GCM, m) == nil // if not, a downstream message to be answered with a stanza error
		if parsed && m.Type != ccs.TypeNone {
			continue // an ACK or another kind: not a downstream message
		}
		c.delta[cReceived]++
		c.delta[ctr]++
		if parsed && c.s.ids != nil && m.MessageID.Kind == ccs.JSONString && len(m.MessageID.Str) > 0 {
			c.s.ids.add(hashID(c.s.seed, m.MessageID.Str))
		}
	}
}

// endStream writes out (which ends with the stream's closing tag), closes
// the TCP write side, and waits a little for the client to close its side,
// so that the client reads everything before the connection goes (an early
// close with unread input would reset it). There is no TLS close_notify:
// its write could block for seconds on a client that does not read, and
// after </stream:stream> the client needs none. With framed (the framer
// can still read), the downstream messages the fake holds are counted as
// abandoned, and those that arrive after its stream end as discarded.
func (c *conn) endStream(framed bool) {
	c.phase = phaseDone
	if framed {
		c.countRest(cAbandoned)
	}
	c.publish()
	c.Conn.SetWriteDeadline(time.Now().Add(LingerTimeout))
	_, err := c.Conn.Write(c.out)
	if err == nil {
		c.released += c.outAnswers
		if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		deadline := time.Now().Add(LingerTimeout)
		if framed {
			c.Conn.SetReadDeadline(deadline)
			c.countLeftover(cDiscarded)
		}
		c.raw.SetReadDeadline(deadline)
		io.CopyN(io.Discard, c.raw, 4<<20)
	}
	c.outAnswers = 0
	c.out = c.out[:0] // kept for the next connection (recycleBufs)
	c.raw.Close()
}

func (c *conn) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// handle acts on one top-level item of the bound stream.
func (c *conn) handle(st *ccs.Stanza) error {
	switch st.Kind {
	case ccs.KindMessage:
		if !st.HasGCM || string(st.Type) == "error" {
			c.delta[cIgnored]++
			return nil
		}
		return c.message(st)
	case ccs.KindKeepalive:
		return nil
	case ccs.KindIQ:
		c.iq(st)
		return nil
	case ccs.KindPresence:
		c.delta[cIgnored]++
		return nil
	case ccs.KindStreamEnd:
		return errClientEnd
	case ccs.KindStreamError:
		return errClientError
	}
	return &streamErr{cond: "unsupported-stanza-type", text: "unexpected <" + st.Kind.String() + "> after bind"}
}

// iq answers pings and the session IQ with a result, other requests with
// service-unavailable; results and errors from the client are ignored.
func (c *conn) iq(st *ccs.Stanza) {
	switch string(st.Type) {
	case "get", "set":
	default:
		c.delta[cIgnored]++
		return
	}
	switch {
	case string(st.ChildSpace) == ccs.NSPing && string(st.Child) == "ping":
		c.delta[cPings]++
		c.out = ccs.AppendIQResult(c.out, st.ID)
	case string(st.ChildSpace) == ccs.NSSession && string(st.Child) == "session":
		c.out = ccs.AppendIQResult(c.out, st.ID)
	default:
		c.delta[cIQErrors]++
		c.out = ccs.AppendIQError(c.out, st.ID)
	}
}

// message handles a message stanza with a gcm payload.
func (c *conn) message(st *ccs.Stanza) error {
	m := &c.msg
	if err := c.jr.Parse(st.GCM, m); err != nil {
		var je *ccs.JSONError
		c.desc = append(c.desc[:0], textParsePrefix...)
		if errors.As(err, &je) {
			c.desc = append(c.desc, je.Detail...)
		} else {
			c.desc = append(c.desc, err.Error()...)
		}
		c.desc = append(c.desc, '\n')
		return c.downstreamStanzaError(st)
	}
	switch m.Type {
	case ccs.TypeNone:
		return c.downstream(st, m)
	case ccs.TypeAck:
		c.clientAck(m)
		return nil
	}
	c.delta[cIgnored]++
	return nil
}

// arrive counts a downstream message and applies the window, drop and
// drain rules that do not depend on its content. The window rule: the
// message breaks it when 100 earlier messages of the connection had no
// answer written before the read that brought it (answers are written
// only between reads, in Read).
func (c *conn) arrive() error {
	pending := c.received - c.released
	c.received++
	c.delta[cReceived]++
	if pending >= ccs.MaxPending {
		c.delta[cWindowViolations]++
		switch {
		case c.cfg.StrictWindow:
			c.delta[cAbandoned]++
			return &streamErr{cond: ccs.CondPolicyViolation, text: "more than 100 pending messages"}
		case pending >= MaxHeld:
			c.delta[cAbandoned]++
			return &streamErr{cond: ccs.CondPolicyViolation, text: "far more than 100 pending messages"}
		}
	}
	if n := c.cfg.DropEvery.N; n > 0 && c.received == n {
		c.delta[cAbandoned]++ // dropped with its connection, unanswered
		c.drop()
		return errDrop
	}
	return nil
}

// downstreamStanzaError answers a downstream message whose payload cannot
// be read (no message_id, not a JSON object) with a stanza error whose
// text is in c.desc.
func (c *conn) downstreamStanzaError(st *ccs.Stanza) error {
	if err := c.arrive(); err != nil {
		return err
	}
	start := len(c.out)
	c.out = c.s.form.AppendStanzaError(c.out, st.ID, c.jid, st.GCM, c.desc)
	c.answered(start, cStanzaErrors, false, false, nil, nil)
	c.afterAnswer()
	return nil
}

// afterAnswer starts draining after the DrainEvery.N-th message.
func (c *conn) afterAnswer() {
	if n := c.cfg.DrainEvery.N; n > 0 && c.received == n && !c.draining {
		c.startDrain()
	}
}

// answered takes the answer appended to out from start: it stays there
// (counted) or, with an ack delay, moves to the held queue.
func (c *conn) answered(start int, ctr int, ack, canon bool, regID, origID []byte) {
	receipt := ack && regID != nil
	if !c.delayed {
		c.delta[ctr]++
		if canon {
			c.delta[cCanonical]++
		}
		c.outAnswers++
		if receipt {
			c.newReceipt(regID, origID)
		}
		return
	}
	h := c.held.get()
	h.buf = append(h.buf[:0], c.out[start:]...)
	c.out = c.out[:start]
	h.ctr, h.canon, h.receipt = ctr, canon, receipt
	if receipt {
		h.regID = append(h.regID[:0], regID...)
		h.origID = append(h.origID[:0], origID...)
	}
	h.due = c.now + c.delay
	if c.jitter > 0 {
		h.due += c.rng.Int64N(c.jitter)
	}
	c.held.push(h)
}

// downstream validates a downstream message and answers it.
func (c *conn) downstream(st *ccs.Stanza, m *ccs.Message) error {
	id := &m.MessageID
	switch {
	case !id.Present() || id.Kind == ccs.JSONString && len(id.Str) == 0 || id.Kind == ccs.JSONNull:
		c.desc = append(c.desc[:0], textMissingID...)
		return c.downstreamStanzaError(st)
	case id.Kind != ccs.JSONString:
		c.desc = append(c.desc[:0], textIDTypePrefix...)
		c.desc = appendTrunc(c.desc, id.Raw)
		c.desc = append(c.desc, '\n')
		return c.downstreamStanzaError(st)
	}
	s := c.s
	h := hashID(s.seed, id.Str)
	if s.ids != nil {
		s.ids.add(h)
	}
	if err := c.arrive(); err != nil {
		return err
	}
	var from []byte
	switch {
	case m.To.Kind == ccs.JSONString:
		from = m.To.Str
	case m.Condition.Kind == ccs.JSONString:
		from = m.Condition.Str
	}

	code := -1 // index into s.codes, or -1 for an ACK
	var desc []byte
	seen := c.recent.contains(h)
	switch {
	case c.draining && c.drainNack():
		code, desc = s.ixDraining, descDraining
	case seen:
		code, desc = s.ixInvalidJSON, descDuplicate
	default:
		var ok bool
		if c.desc, ok = validate(&c.jr, m, c.desc[:0]); !ok {
			code, desc = s.ixInvalidJSON, c.desc
			break
		}
		switch {
		case len(s.cfg.BadRegistration) > 0 && matchAny(s.cfg.BadRegistration, m.To.Str):
			code, desc = s.ixBadRegistration, descBadRegistration
		case len(s.cfg.Unregistered) > 0 && matchAny(s.cfg.Unregistered, m.To.Str):
			code, desc = s.ixUnregistered, descUnregistered
		case s.devices != nil && !s.devices.allow(hashID(s.seed, from), c.now):
			code, desc = s.ixRateExceeded, descRateExceeded
		case len(s.rules) > 0:
			u := c.rng.Float64()
			for i := range s.rules {
				if r := &s.rules[i]; u < r.cum {
					code, desc = r.ix, r.desc
					break
				}
			}
		}
	}
	if !seen && (code < 0 || !s.retryable[code]) {
		c.recent.add(h)
	}

	start := len(c.out)
	if code >= 0 {
		c.out = s.form.AppendNack(c.out, from, id.Str, s.codes[code], desc)
		c.answered(start, numFixed+code, false, false, nil, nil)
	} else {
		var canonical []byte
		if s.cfg.CanonicalRate > 0 && c.rng.Float64() < s.cfg.CanonicalRate {
			c.canon = appendCanonical(c.canon[:0], s, from)
			canonical = c.canon
		}
		c.out = s.form.AppendAck(c.out, from, id.Str, canonical)
		var regID []byte
		if s.cfg.Receipts && m.DeliveryReceiptRequested.Kind == ccs.JSONBool &&
			string(m.DeliveryReceiptRequested.Raw) == "true" {
			regID = from
			if regID == nil {
				regID = []byte{}
			}
		}
		c.answered(start, cAcks, true, canonical != nil, regID, id.Str)
	}
	c.afterAnswer()
	return nil
}

// appendCanonical appends the canonical registration id the fake reports
// for to: "CANONICAL_" and 16 hex digits of its hash.
func appendCanonical(dst []byte, s *Server, to []byte) []byte {
	const hex = "0123456789ABCDEF"
	h := hashID(s.seed, to)
	dst = append(dst, "CANONICAL_"...)
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hex[(h>>uint(i))&0xF])
	}
	return dst
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
			c.scratch = append(append(c.scratch[:0], receiptPrefix...), id.Str...)
			if r := u.unacked[hashID(c.s.seed, c.scratch)]; r != nil && r.receipt && bytes.Equal(r.id, c.scratch) {
				e, unprefixed = r, true
			}
		}
		if e == nil {
			c.delta[cUnknownAcks]++
			return
		}
	}
	if !bytes.Equal(e.ackTo, to.Str) {
		c.badAck(m, descBadAckTo)
		return
	}
	u.unlink(e)
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
	c.out = c.s.form.AppendNack(c.out, m.To.Str, id, "BAD_ACK", desc)
}

// Descriptions of the NACKs the fake sends for its own reasons.
var (
	descDuplicate       = []byte("Message with the same id has been received before")
	descDraining        = []byte("The connection is draining; send the message again on another connection")
	descBadRegistration = []byte("The device has a registration ID, but it's invalid or expired.")
	descUnregistered    = []byte("The device is not registered.")
	descRateExceeded    = []byte("The rate of messages to this registration ID is too high.")
	descBadAckFields    = []byte("The ACK message is improperly formed: it needs a string \"message_id\" and \"to\".")
	descBadAckTo        = []byte("The ACK message is improperly formed: \"to\" is not the \"from\" of the acknowledged message.")
)

// nackDescriptions describes injected NACKs of known codes, from the
// protocol document's table.
var nackDescriptions = map[string]string{
	"BAD_ACK":                      "The ACK message is improperly formed.",
	"BAD_REGISTRATION":             string(descBadRegistration),
	"CONNECTION_DRAINING":          "The message couldn't be processed because the connection is draining.",
	"DEVICE_UNREGISTERED":          string(descUnregistered),
	"INTERNAL_SERVER_ERROR":        "The server encountered an error while trying to process the request.",
	"INVALID_JSON":                 "The JSON message payload was not valid.",
	"QUOTA_EXCEEDED":               "The rate of messages to a particular registration ID is too high.",
	"DEVICE_MESSAGE_RATE_EXCEEDED": string(descRateExceeded),
	"TOPICS_MESSAGE_RATE_EXCEEDED": "The rate of messages to subscribers to a particular topic is too high.",
	"SERVICE_UNAVAILABLE":          "CCS is not currently able to process the message.",
}
