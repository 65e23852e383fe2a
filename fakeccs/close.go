package fakeccs

import (
	"errors"
	"io"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// How a connection ends: finish closes it as the error that ended its
// stream requires (abruptly, with a stream end or with a stream error)
// and accounts for every downstream message read and not answered.

// finish closes the connection as err requires, and accounts for every
// downstream message read and not answered.
func (c *conn) finish(err error) {
	var sx *ccs.SyntaxError
	var se *streamErr
	if c.up.backlog != nil {
		c.up.backlog.leave(c) // no kick may cut the reads after the stream's end short
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
		// drained let it end (every answer is on the wire), or overdue
		// did (held answers were abandoned above, unread input is below)
		c.out.buf = append(c.out.buf, ccs.StreamEnd...)
		c.endStream(true)
	case errors.Is(err, errClientEnd):
		c.out.buf = append(c.out.buf, ccs.StreamEnd...)
		c.endStream(false) // nothing follows the client's end
	case errors.As(err, &se):
		c.out.buf = ccs.AppendStreamError(c.out.buf, se.cond, se.text)
		c.delta[cStreamErrors]++
		c.endStream(true)
	case errors.As(err, &sx):
		c.logf("connection from %s: stream error %s: %s", c.raw.RemoteAddr(), ccs.Condition(err), sx.Detail)
		c.out.buf = ccs.AppendStreamError(c.out.buf, ccs.Condition(err), sx.Detail)
		c.delta[cStreamErrors]++
		c.endStream(false) // nothing can be read past bad XML
	default: // EOF, a reset, a failed write, the server closing
		c.discardOut() // empty: answers are written before every read that can fail
		c.phase = phaseDone
		c.raw.Close() // no TLS close_notify: it could block on a client that does not read
	}
	c.publish()
	if c.up.backlog != nil {
		c.leaveBacklog()
		c.publish()
	}
	if c.obs != nil {
		c.obs.End(time.Duration(c.s.clockNow()), endCause(err))
	}
}

// endCause classifies the error that ended a connection for the Observer.
func endCause(err error) EndCause {
	var sx *ccs.SyntaxError
	var se *streamErr
	switch {
	case errors.Is(err, errDrop):
		return EndDropped
	case errors.Is(err, errDrained):
		return EndDrained
	case errors.Is(err, errClientEnd):
		return EndClientEnd
	case errors.As(err, &se), errors.As(err, &sx), errors.Is(err, errClientError):
		return EndStreamError
	}
	return EndClosed
}

// abandonHeld drops the held answers, counting their messages abandoned.
func (c *conn) abandonHeld() {
	q := &c.out.held
	c.delta[cAbandoned] += uint64(q.len())
	for q.len() > 0 {
		q.put(q.pop())
	}
}

// discardOut drops the replies not yet written, which are never going to
// be (the connection is dropped or lost). Their answers were counted in
// delta, not yet published (publish always comes just before the write of
// the replies), so they are taken back and counted as abandoned instead.
func (c *conn) discardOut() {
	if c.out.answers > 0 {
		c.delta[cAbandoned] += c.out.answers
		c.delta[cAcks], c.delta[cCanonical], c.delta[cStanzaErrors] = 0, 0, 0
		clear(c.delta[numFixed:])
		c.out.answers = 0
	}
	c.out.buf = c.out.buf[:0]
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
		st, err := c.in.fr.Next()
		if err != nil || st.Kind == ccs.KindStreamEnd {
			return
		}
		if st.Kind != ccs.KindMessage || !st.HasGCM || string(st.Type) == "error" {
			continue
		}
		m := &c.in.msg
		parsed := c.in.jr.Parse(st.GCM, m) == nil // if not, a downstream message to be answered with a stanza error
		if parsed && m.Type != ccs.TypeNone {
			continue // an ACK or another kind: not a downstream message
		}
		c.delta[cReceived]++
		c.delta[ctr]++
		hasID := parsed && m.MessageID.Kind == ccs.JSONString && len(m.MessageID.Str) > 0
		if hasID && c.s.ids != nil {
			c.s.ids.add(hashID(c.s.seed, m.MessageID.Str))
		}
		if c.obs != nil {
			var id []byte
			if hasID {
				id = m.MessageID.Str
			}
			c.obs.Leftover(id, time.Duration(c.s.clockNow()))
		}
	}
}

// endStream writes the replies (which end with the stream's closing tag),
// the TLS close_notify alert, closes the TCP write side, and waits a little
// for the client to close its side, so that the client reads everything
// before the connection goes (an early close with unread input would reset
// it). TLS requires the close_notify, and OpenSSL 3 reports a close without
// it as an error even after </stream:stream>; crypto/tls bounds its write
// (5 s), and it is only tried once the replies were written. With framed
// (the framer can still read), the downstream messages the fake holds are
// counted as abandoned, and those that arrive after its stream end as
// discarded.
func (c *conn) endStream(framed bool) {
	c.phase = phaseDone
	if framed {
		c.countRest(cAbandoned)
	}
	c.publish()
	c.Conn.SetWriteDeadline(time.Now().Add(LingerTimeout))
	_, err := c.Conn.Write(c.out.buf)
	if c.obs != nil {
		c.obs.Flush(time.Duration(c.s.clockNow()), err == nil)
	}
	if err == nil {
		c.out.released += c.out.answers
		if cn, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			cn.CloseWrite() // tls.Conn: the close_notify alert only
		}
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
	c.out.answers = 0
	c.out.buf = c.out.buf[:0]
	c.raw.Close()
}
