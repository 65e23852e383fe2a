package fakeccs

// Draining, as the protocol describes it: "shutting off the flow of
// messages coming into a connection, but allowing whatever is already in
// the pipeline to continue". The server tells the client with a
// CONNECTION_DRAINING control message (or, with Config.DrainAsNack, only
// with NACKs), keeps reading and answering, stops sending upstream
// messages there, and closes the stream when it is ready. Every decision
// of a draining connection is made here: startDrain, drainNack for each
// downstream message, drained before each wait for input; Read writes the
// control message with the other replies (and flush notes when).

// startDrain begins draining at c.now: the control message (unless
// DrainAsNack) goes out with the next write, and the connection's
// upstream messages and receipts start moving to the sender's other
// connections.
func (c *conn) startDrain() {
	c.draining = true
	c.drainStart = c.now
	c.delta[cDrains]++
	if !c.cfg.DrainAsNack {
		c.out = c.s.form.AppendControl(c.out, "CONNECTION_DRAINING")
	}
	if c.backlog != nil {
		c.backlog.leave(c) // no more upstream messages come here
		c.pumpUpstream()   // the queued ones go to another connection now
	}
}

// drainNack reports whether a downstream message read now on a draining
// connection is NACKed CONNECTION_DRAINING: with DrainAsNack, every one;
// otherwise those read once Config.DrainGrace has passed since the
// control message was written (the client has had the time to see it;
// earlier ones were in the pipeline and are answered as usual).
func (c *conn) drainNack() bool {
	if c.cfg.DrainAsNack {
		return true
	}
	return c.drainSent > 0 && c.now-c.drainSent >= int64(max(c.cfg.DrainGrace, 0))
}

// drained reports whether a draining connection may end its stream now:
// every downstream message read has its answer on the wire, and
// Config.DrainLinger has passed since the drain began.
func (c *conn) drained() bool {
	if c.received != c.released || c.held.len() > 0 || len(c.out) > 0 {
		return false
	}
	end, ok := c.lingerEnd()
	return ok && c.now >= end
}

// lingerEnd returns when a draining connection's linger ends; false when
// it never does (DrainLingerForever).
func (c *conn) lingerEnd() (int64, bool) {
	linger := c.cfg.DrainLinger
	if linger == DrainLingerForever {
		return 0, false
	}
	return c.drainStart + int64(max(linger, 0)), true
}
