package fakeccs

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// Reasons a connection's stanza loop ends (besides input errors).
var (
	errDrop        = errors.New("fakeccs: connection dropped (Config.DropEvery or DropTotal)")
	errDrained     = errors.New("fakeccs: connection drained")
	errClientEnd   = errors.New("fakeccs: client closed its stream")
	errClientError = errors.New("fakeccs: client sent a stream error")
)

// errMustWait is what read returns to the Framer, and the Framer to loop,
// when no input is readable without waiting: loop then runs beforeBlock,
// and the next read waits. The Framer reports a reader's error once and
// keeps what it has buffered, so the stanza loop goes on after it.
var errMustWait = errors.New("fakeccs: no input readable without waiting")

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

// Phases of a connection, which decide what read does.
const (
	phaseHandshake = iota // read passes through (ServerHandshake runs)
	phaseRun              // the stream is bound: see read
	phaseDone             // read passes through (closing)
)

// What the next read of a bound stream does (input.mode).
const (
	// readReady: run the timed work that is due, then return input that
	// is readable without waiting, or errMustWait.
	readReady = iota
	// readWait: beforeBlock has run; wait for input or the read deadline.
	readWait
	// readLast: a drained connection's last look for input that raced
	// the end of its stream; without any, the stream ends.
	readLast
)

// conn is one client connection, owned by one goroutine from the TLS
// handshake to the close. Once the stream is bound, loop reads stanzas through the Framer, whose reads come to
// read: it returns input that is readable without waiting, and when there
// is none says so (errMustWait), so that loop runs beforeBlock, which
// writes the replies of everything parsed so far in one TLS write and
// arms the read deadline for the next timed work (delayed answers,
// upstream messages, keepalives, periodic drops and drains), before the
// next read waits. So a connection needs no lock, no writer goroutine and
// no timer per message.
//
// Its state is grouped, as nats-server groups a client's: what it reads
// (in), what it writes (out), its clock and timers (tm), its drain
// (drain) and its upstream messages (up). A closed connection is reset
// and pooled whole, buffers included (pool.go).
type conn struct {
	// Set from other goroutines, hence atomic.
	//
	// wakeAt is the due time of the earliest held answer (0: none), for
	// the server's waker; the waker sets it to 0 when it interrupts a
	// read.
	wakeAt atomic.Int64
	// kicked is set by another goroutine that wants the timed work run
	// now (upstream messages moved to this connection); see kick.
	kicked atomic.Bool

	// Conn is the TLS connection. It is a named field, not embedded: a
	// conn is not a net.Conn. The handshake and the Framer use it through
	// framed, whose reads go through read.
	Conn   net.Conn
	framed framedConn
	raw    net.Conn // the TCP connection under TLS, for abrupt closes
	s      *Server
	cfg    *Config // the server's configuration
	seq    uint64  // connection number, from 1
	pcg    rand.PCG
	rng    *rand.Rand // every random choice: NACK and canonical-id rolls, jitter (over pcg)
	jid    []byte     // the bound full JID, for stanza errors
	phase  int
	stop   error // set by tick or a failed write: the stanza loop ends with it

	obs   ConnObserver // nil: not observed (Config.Observer)
	delta []uint64     // counts since the last publish, by counter index (stats.go)
	pub   counters     // the published counts, which Stats reads

	// The groups, small ones first: in ends with the JSON reader's
	// Message, which is large, so that the fields the per-message path
	// touches share fewer cache lines.
	tm    timers
	drain drainState
	out   output
	in    input
	up    upState
}

// input is what a connection reads, and what it remembers of it.
type input struct {
	// fr is the stream's Framer: before the bind a pooled one for
	// ServerHandshake to Reset (or nil), then the one it used.
	fr       *ccs.Framer
	probe    *inConn   // the TCP connection as TLS reads it (nil: no probe)
	mode     int       // what the next read does: readReady, readWait or readLast
	received uint64    // downstream messages read
	recent   recentIDs // the latest downstream message ids, to refuse a reused one
	jr       ccs.JSONReader
	msg      ccs.Message // the latest payload read (large: last)
}

// output is what a connection writes: replies not yet written, and
// answers held until they are due.
type output struct {
	buf      []byte // replies not yet written
	answers  uint64 // answers to downstream messages in buf
	released uint64 // answers to downstream messages written
	wdue     int64  // when the write deadline was last pushed forward

	delayed       bool      // answers are held (Config.AckDelay or AckJitter)
	delay, jitter int64     // Config.AckDelay and AckJitter
	held          heldQueue // answers waiting for their due time

	desc  []byte // scratch: NACK descriptions and stanza error texts
	canon []byte // scratch: canonical registration ids
}

// timers is a connection's clock and the due times of its timed work.
type timers struct {
	timed    bool  // some timed work is configured: reads run tick, beforeBlock arms deadlines
	clock    bool  // now is read after every read
	now      int64 // ns since the server's epoch, as of the latest read or tick
	deadline int64 // the read deadline armed: -1 none, -2 unknown

	keepalive int64 // when the next keepalive is due
	dropAt    int64 // when Config.DropEvery.D drops the connection, or 0
	drainAt   int64 // when Config.DrainEvery.D drains it, or 0
}

// drainState is a connection's drain (drain.go).
type drainState struct {
	active bool  // the connection drains
	start  int64 // when the drain began
	sent   int64 // when the control message was written, or 0
	asNack bool  // this drain has no control message (DrainAsNack, DrainAlternate)
}

// framedConn is the TLS connection as ccs.ServerHandshake and the Framer
// see it: reads go through conn.read, everything else to the TLS
// connection.
type framedConn struct {
	net.Conn
	c *conn
}

// Read reads through conn.read.
func (f *framedConn) Read(p []byte) (int, error) { return f.c.read(p) }

// run serves the bound stream until it ends, then closes the connection.
func (c *conn) run() {
	c.phase = phaseRun
	now := c.s.clockNow()
	c.tm.now = now
	if ka := c.cfg.Keepalive; ka > 0 {
		c.tm.keepalive = now + int64(ka)
	}
	if d := c.cfg.DropEvery.D; d > 0 {
		c.tm.dropAt = now + int64(d)
	}
	if d := c.cfg.DrainEvery.D; d > 0 {
		c.tm.drainAt = now + int64(d)
	}
	c.up.next = now
	c.up.settleBy = now + int64(UpstreamSettle)
	if c.up.backlog != nil {
		c.up.backlog.join(c)
		c.adoptBacklog()
	}
	err := c.loop()
	if errors.Is(c.stop, errDrop) || errors.Is(c.stop, errDrained) {
		err = c.stop // whatever the framer made of it
	}
	c.finish(err)
}

// loop reads and handles stanzas until an error ends the stream. When no
// input is readable without waiting, the Framer says so (errMustWait) and
// loop runs beforeBlock: the replies go out, and the next read waits.
func (c *conn) loop() error {
	for {
		st, err := c.in.fr.Next()
		if err == errMustWait {
			if err := c.beforeBlock(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := c.handle(st); err != nil {
			return err
		}
	}
}

// read is what the Framer reads from. Before the bind and after the end
// of the stream it reads the TLS connection as it is. While the stream is
// bound, as in.mode says:
//   - readReady: the timed work that is due runs first; then, while
//     replies wait to be written (fewer than flushAt bytes of them), input
//     that is already readable is returned, so that a burst a client wrote
//     is read whole before it is answered (the window rule depends on
//     it); otherwise errMustWait, and no answer is held back while no
//     input is ready.
//   - readWait: beforeBlock has run; the read waits for input, or for the
//     read deadline of the next timed work (then it goes on as readReady).
//   - readLast: a drained connection answers input that raced the end of
//     its stream; without any, the stream ends.
func (c *conn) read(p []byte) (int, error) {
	if c.phase != phaseRun {
		return c.Conn.Read(p)
	}
	switch c.in.mode {
	case readWait:
		c.in.mode = readReady
		n, err := c.Conn.Read(p)
		if c.tm.clock {
			c.tm.now = c.s.clockNow()
		}
		if err == nil || !c.tm.timed || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.tm.deadline = -2 // it may have been the waker's
		if n > 0 {
			return n, nil
		}
		// time for timed work
	case readLast:
		c.in.mode = readReady
		if n := c.readReady(p); n > 0 {
			return n, nil
		}
		c.stop = errDrained
		return 0, errDrained
	}
	if c.tm.timed {
		c.tm.now = c.s.clockNow()
		c.tick()
	}
	if c.stop == errDrop {
		return 0, errDrop
	}
	if len(c.out.buf) > 0 && len(c.out.buf) < flushAt && c.stop == nil {
		if n := c.readReady(p); n > 0 {
			return n, nil
		}
	}
	return 0, errMustWait
}

// beforeBlock runs when the connection is about to wait for input (no
// input is readable without waiting, or the replies have grown past
// flushAt). It publishes the counts, then writes the replies in one TLS
// write; a draining connection past Config.DrainDeadline ends now, and
// one whose work is done ends after a last look for input (readLast); the
// read deadline is armed for the next timed work. It returns the error
// that ends the stream, if any.
func (c *conn) beforeBlock() error {
	c.publish() // before the write: a client never sees an answer before its count
	if len(c.out.buf) > 0 {
		c.flush()
	}
	if c.drain.active && c.stop == nil {
		switch {
		case c.overdue():
			c.stop = errDrained // what is pending is abandoned
		case c.drained():
			c.in.mode = readLast
			return nil
		}
	}
	if c.stop != nil {
		return c.stop
	}
	if c.tm.timed {
		c.arm()
	}
	c.in.mode = readWait
	return nil
}

// readReady reads into p what is readable without waiting, and returns
// its length (0: nothing, or the connection cannot be probed).
func (c *conn) readReady(p []byte) int {
	if c.in.probe == nil {
		return 0
	}
	c.in.probe.probe = true
	n, _ := c.Conn.Read(p) // an error recurs at the next read (or was a timeout)
	c.in.probe.probe = false
	if n > 0 && c.tm.clock {
		c.tm.now = c.s.clockNow()
	}
	return n
}

// flush writes the replies and counts their answers as released. A write
// that fails ends the connection; its answers stay counted as written.
func (c *conn) flush() {
	o := &c.out
	if now := c.s.clockNow(); now-o.wdue > int64(time.Second) { // push the deadline at most once a second
		o.wdue = now
		c.Conn.SetWriteDeadline(c.s.epoch.Add(time.Duration(now) + c.s.writeTimeout))
	}
	_, err := c.Conn.Write(o.buf)
	if err == nil {
		o.released += o.answers
		if c.drain.active && c.drain.sent == 0 {
			c.drain.sent = max(1, c.s.clockNow()) // the control message is out
		}
	}
	if c.obs != nil {
		c.obs.Flush(time.Duration(c.s.clockNow()), err == nil)
	}
	o.answers = 0
	if cap(o.buf) > outKeep {
		o.buf = nil
	} else {
		o.buf = o.buf[:0]
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

// tick runs the timed work due at tm.now.
func (c *conn) tick() {
	now := c.tm.now
	for c.out.held.len() > 0 && c.out.held.top().due <= now {
		c.release(c.out.held.pop())
	}
	if c.tm.dropAt > 0 && now >= c.tm.dropAt {
		c.drop()
		return
	}
	if c.tm.drainAt > 0 && now >= c.tm.drainAt && !c.drain.active {
		c.startDrain()
	}
	if ka := int64(c.cfg.Keepalive); ka > 0 && now >= c.tm.keepalive {
		c.out.buf = append(c.out.buf, ' ')
		c.delta[cKeepalives]++
		c.tm.keepalive = now + ka
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
	if c.out.held.len() > 0 {
		due := max(1, c.out.held.top().due)
		consider(due)
		if c.wakeAt.Load() != due {
			c.wakeAt.Store(due)
		}
	} else if c.wakeAt.Load() != 0 {
		c.wakeAt.Store(0)
	}
	if c.cfg.Keepalive > 0 {
		consider(c.tm.keepalive)
	}
	consider(c.tm.dropAt)
	if !c.drain.active {
		consider(c.tm.drainAt)
	} else {
		// A linger end already past is checked before every wait: as a
		// deadline it would only spin the loop without reading.
		if end, ok := c.lingerEnd(); ok && end > c.tm.now {
			consider(end)
		}
		if d := c.cfg.DrainDeadline; d > 0 {
			consider(c.drain.start + int64(d))
		}
	}
	if next != c.tm.deadline {
		c.tm.deadline = next
		if next < 0 {
			c.Conn.SetReadDeadline(time.Time{})
		} else {
			c.Conn.SetReadDeadline(c.s.epoch.Add(time.Duration(next)))
		}
	}
	if c.kicked.Load() {
		c.Conn.SetReadDeadline(aLongTimeAgo)
		c.tm.deadline = -2
	}
}

// drop closes the connection abruptly, without writing the replies: read
// returns errDrop before anything is written, and finish counts the
// unwritten answers as abandoned.
func (c *conn) drop() {
	c.delta[cDrops]++
	c.stop = errDrop
}

func (c *conn) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}
