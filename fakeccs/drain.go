package fakeccs

import "time"

// Draining, as CCS defines it: the server stops new messages from coming
// into a connection but lets what is already on its way through. The
// server tells the client with a CONNECTION_DRAINING control message (or,
// with Config.DrainAsNack, only with NACKs), keeps reading and answering,
// stops sending upstream messages there, and closes the stream when it is
// ready. Every decision of a draining connection is made here: startDrain,
// drainNack for each downstream message, overdue and drained before each
// wait for input (beforeBlock, which also writes the control message with
// the other replies; flush notes when).

// startDrain begins draining at tm.now: the control message (unless
// DrainAsNack) goes out with the next write, and the connection's
// upstream messages and receipts start moving to the sender's other
// connections.
func (c *conn) startDrain() {
	asNack := c.cfg.DrainAsNack
	if c.cfg.DrainAlternate {
		asNack = c.s.drainSeq.Add(1)%2 == 0
	}
	c.drain = drainState{active: true, start: c.tm.now, asNack: asNack}
	c.delta[cDrains]++
	if !asNack {
		c.out.buf = c.s.form.AppendControl(c.out.buf, "CONNECTION_DRAINING")
	}
	if c.obs != nil {
		c.obs.Drain(time.Duration(c.tm.now), asNack)
	}
	if c.up.backlog != nil {
		c.up.backlog.leave(c) // no more upstream messages come here
		c.pumpUpstream()      // the queued ones go to another connection now
	}
}

// drainNack reports whether a downstream message read now on a draining
// connection is NACKed CONNECTION_DRAINING: in a drain without the control
// message (DrainAsNack, DrainAlternate), every one; otherwise those read
// once Config.DrainGrace has passed since the control message was written
// (the client has had the time to see it; earlier ones were in the
// pipeline and are answered as usual).
func (c *conn) drainNack() bool {
	if c.drain.asNack {
		return true
	}
	return c.drain.sent > 0 && c.tm.now-c.drain.sent >= int64(max(c.cfg.DrainGrace, 0))
}

// overdue reports whether Config.DrainDeadline has passed since the drain
// began: the stream ends now, whatever is pending.
func (c *conn) overdue() bool {
	d := c.cfg.DrainDeadline
	return d > 0 && c.tm.now >= c.drain.start+int64(d)
}

// drained reports whether a draining connection may end its stream now:
// every downstream message read has its answer on the wire, and
// Config.DrainLinger has passed since the drain began.
func (c *conn) drained() bool {
	if c.in.received != c.out.released || c.out.held.len() > 0 || len(c.out.buf) > 0 {
		return false
	}
	end, ok := c.lingerEnd()
	return ok && c.tm.now >= end
}

// lingerEnd returns when a draining connection's linger ends; false when
// it never does (DrainLingerForever).
func (c *conn) lingerEnd() (int64, bool) {
	linger := c.cfg.DrainLinger
	if linger == DrainLingerForever {
		return 0, false
	}
	return c.drain.start + int64(max(linger, 0)), true
}
