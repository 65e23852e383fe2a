package fakeccs

import (
	"errors"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// What the fake does with each item of a bound stream, and how it answers
// a downstream message: arrive counts it and applies the window, drop and
// drain rules; verdict decides the answer; ack or nack writes it, and
// answered settles it in the reply buffer or holds it until it is due.

// handle acts on one top-level item of the bound stream.
func (c *conn) handle(st *ccs.Stanza) error {
	if c.up.settleBy != 0 && st.Kind != ccs.KindKeepalive {
		c.settleUpstream() // its first stanza after the bind: upstream messages may follow
	}
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
		c.out.buf = ccs.AppendIQResult(c.out.buf, st.ID)
	case string(st.ChildSpace) == ccs.NSSession && string(st.Child) == "session":
		c.out.buf = ccs.AppendIQResult(c.out.buf, st.ID)
	default:
		c.delta[cIQErrors]++
		c.out.buf = ccs.AppendIQError(c.out.buf, st.ID)
	}
}

// message handles a message stanza with a gcm payload.
func (c *conn) message(st *ccs.Stanza) error {
	m := &c.in.msg
	if err := c.in.jr.Parse(st.GCM, m); err != nil {
		var je *ccs.JSONError
		c.out.desc = append(c.out.desc[:0], textParsePrefix...)
		if errors.As(err, &je) {
			c.out.desc = append(c.out.desc, je.Detail...)
		} else {
			c.out.desc = append(c.out.desc, err.Error()...)
		}
		c.out.desc = append(c.out.desc, '\n')
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
// only when no input is readable, in beforeBlock).
func (c *conn) arrive(id []byte) error {
	pending := c.in.received - c.out.released
	c.in.received++
	c.delta[cReceived]++
	if c.obs != nil {
		c.obs.Read(id, time.Duration(c.tm.now), pending)
	}
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
	drop := c.cfg.DropEvery.N > 0 && c.in.received == c.cfg.DropEvery.N
	if c.cfg.DropTotal > 0 || c.cfg.DrainTotal > 0 {
		v := c.s.total.Add(1)
		drop = drop || c.cfg.DropTotal > 0 && v%c.cfg.DropTotal == 0
		if c.cfg.DrainTotal > 0 && v%c.cfg.DrainTotal == 0 {
			c.s.drainsOwed.Add(1) // taken by afterAnswer, here or on another connection
		}
	}
	if drop {
		c.delta[cAbandoned]++ // dropped with its connection, unanswered
		c.drop()
		return errDrop
	}
	return nil
}

// downstreamStanzaError answers a downstream message whose payload cannot
// be read (no message_id, not a JSON object) with a stanza error whose
// text is in out.desc.
func (c *conn) downstreamStanzaError(st *ccs.Stanza) error {
	if err := c.arrive(nil); err != nil {
		return err
	}
	start := len(c.out.buf)
	c.out.buf = c.s.form.AppendStanzaError(c.out.buf, st.ID, c.jid, st.GCM, c.out.desc)
	c.answered(start, &answer{ctr: cStanzaErrors})
	c.afterAnswer()
	return nil
}

// afterAnswer starts draining after the DrainEvery.N-th message, or when
// DrainTotal owes a drain.
func (c *conn) afterAnswer() {
	if c.drain.active {
		return
	}
	if n := c.cfg.DrainEvery.N; n > 0 && c.in.received == n {
		c.startDrain()
		return
	}
	if c.cfg.DrainTotal > 0 {
		for owed := c.s.drainsOwed.Load(); owed > 0; owed = c.s.drainsOwed.Load() {
			if c.s.drainsOwed.CompareAndSwap(owed, owed-1) {
				c.startDrain()
				return
			}
		}
	}
}

// observeAnswer tells the Observer about the answer to id counted in ctr.
func (c *conn) observeAnswer(id []byte, ctr int) {
	switch {
	case ctr == cAcks:
		c.obs.Answer(id, AnswerAck, "")
	case ctr == cStanzaErrors:
		c.obs.Answer(id, AnswerStanzaError, "")
	default:
		c.obs.Answer(id, AnswerNack, c.s.codes[ctr-numFixed])
	}
}

// answered takes an answer just appended to the reply buffer from start:
// it is settled there, or held until it is due (Config.AckDelay).
func (c *conn) answered(start int, a *answer) {
	if c.out.delayed {
		c.hold(start, a)
		return
	}
	c.settle(a)
}

// settle counts an answer that is in the reply buffer, tells the
// Observer, and queues the delivery receipt that follows it.
func (c *conn) settle(a *answer) {
	if c.obs != nil {
		c.observeAnswer(a.id, a.ctr)
	}
	c.delta[a.ctr]++
	if a.canonical {
		c.delta[cCanonical]++
	}
	c.out.answers++
	if a.receipt {
		c.newReceipt(a.regID, a.id)
	}
}

// hold moves the answer appended to the reply buffer from start to the
// held queue, due Config.AckDelay (plus up to AckJitter) after the message
// was read.
func (c *conn) hold(start int, a *answer) {
	o := &c.out
	h := o.held.get()
	h.buf = append(h.buf[:0], o.buf[start:]...)
	o.buf = o.buf[:start]
	h.ctr, h.canonical, h.receipt = a.ctr, a.canonical, a.receipt
	if a.receipt || c.obs != nil {
		h.id = append(h.id[:0], a.id...)
	}
	if a.receipt {
		h.regID = append(h.regID[:0], a.regID...)
	}
	h.due = c.tm.now + o.delay
	if o.jitter > 0 {
		h.due += c.rng.Int64N(o.jitter)
	}
	o.held.push(h)
}

// release moves a held answer that is due into the reply buffer.
func (c *conn) release(h *held) {
	c.out.buf = append(c.out.buf, h.buf...)
	c.settle(&h.answer)
	c.out.held.put(h)
}

// verdictAck is the verdict of a message that gets an ACK.
const verdictAck = -1

// downstream answers a downstream message: it checks the message_id,
// counts the message in (arrive), decides the answer (verdict), and
// writes it (ack or nack).
func (c *conn) downstream(st *ccs.Stanza, m *ccs.Message) error {
	id := &m.MessageID
	switch {
	case !id.Present() || id.Kind == ccs.JSONString && len(id.Str) == 0 || id.Kind == ccs.JSONNull:
		c.out.desc = append(c.out.desc[:0], textMissingID...)
		return c.downstreamStanzaError(st)
	case id.Kind != ccs.JSONString:
		c.out.desc = append(c.out.desc[:0], textIDTypePrefix...)
		c.out.desc = appendTrunc(c.out.desc, id.Raw)
		c.out.desc = append(c.out.desc, '\n')
		return c.downstreamStanzaError(st)
	}
	s := c.s
	h := hashID(s.seed, id.Str)
	if s.ids != nil {
		s.ids.add(h)
	}
	if err := c.arrive(id.Str); err != nil {
		return err
	}
	var from []byte // the "from" of the answer: the message's "to", or else its "condition"
	switch {
	case m.To.Kind == ccs.JSONString:
		from = m.To.Str
	case m.Condition.Kind == ccs.JSONString:
		from = m.Condition.Str
	}
	seen := c.in.recent.contains(h)
	code, desc := c.verdict(m, from, seen)
	if !seen && (code == verdictAck || !s.retryable[code]) {
		c.in.recent.add(h) // after a retryable NACK the id may come again
	}
	if code == verdictAck {
		c.ack(m, from)
	} else {
		c.nack(id.Str, from, code, desc)
	}
	c.afterAnswer()
	return nil
}

// verdict decides the answer to a downstream message with a usable id,
// to be answered from from; seen: its id came before on the connection.
// It returns verdictAck, or the index of a NACK code in the server's code
// table and the NACK's description, checking in this order: draining,
// a reused id, the payload (validate), the registration-id patterns and
// shares, the device rate, and the NACK rules.
func (c *conn) verdict(m *ccs.Message, from []byte, seen bool) (code int, desc []byte) {
	s := c.s
	switch {
	case c.drain.active && c.drainNack():
		return s.ixDraining, descDraining
	case seen:
		return s.ixInvalidJSON, descDuplicate
	}
	var ok bool
	if c.out.desc, ok = validate(&c.in.jr, m, c.out.desc[:0]); !ok {
		return s.ixInvalidJSON, c.out.desc
	}
	switch {
	case len(s.cfg.BadRegistration) > 0 && matchAny(s.cfg.BadRegistration, m.To.Str):
		return s.ixBadRegistration, descBadRegistration
	case len(s.cfg.Unregistered) > 0 && matchAny(s.cfg.Unregistered, m.To.Str):
		return s.ixUnregistered, descUnregistered
	}
	if s.shareAny > 0 && m.To.Kind == ccs.JSONString {
		if code, desc := s.shareCode(m.To.Str); code >= 0 {
			return code, desc
		}
	}
	if s.devices != nil && !s.devices.allow(hashID(s.seed, from), c.tm.now) {
		return s.ixRateExceeded, descRateExceeded
	}
	if len(s.rules) > 0 {
		u := c.rng.Float64()
		for i := range s.rules {
			if r := &s.rules[i]; u < r.cum {
				return r.ix, r.desc
			}
		}
	}
	return verdictAck, nil
}

// ack answers message m with an ACK from from, carrying a canonical
// registration_id at Config.CanonicalRate, and followed by a delivery
// receipt when Config.Receipts and m asks for one.
func (c *conn) ack(m *ccs.Message, from []byte) {
	s := c.s
	a := answer{ctr: cAcks, id: m.MessageID.Str}
	start := len(c.out.buf)
	var canonical []byte
	if s.cfg.CanonicalRate > 0 && c.rng.Float64() < s.cfg.CanonicalRate {
		c.out.canon = appendCanonical(c.out.canon[:0], s, from)
		canonical, a.canonical = c.out.canon, true
	}
	c.out.buf = s.form.AppendAck(c.out.buf, from, a.id, canonical)
	if s.cfg.Receipts && m.DeliveryReceiptRequested.Kind == ccs.JSONBool &&
		string(m.DeliveryReceiptRequested.Raw) == "true" {
		a.receipt, a.regID = true, from
	}
	c.answered(start, &a)
}

// nack answers message id with a NACK from from, of the code with index
// code in the server's code table, and desc.
func (c *conn) nack(id, from []byte, code int, desc []byte) {
	start := len(c.out.buf)
	c.out.buf = c.s.form.AppendNack(c.out.buf, from, id, c.s.codes[code], desc)
	c.answered(start, &answer{ctr: numFixed + code, id: id})
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
// CCS documentation's table.
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
