package mellium

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"
)

// stanzaOverhead estimates the bytes a stanza adds around its payload
// (message and gcm tags, the id the library adds), for Unflushed.
const stanzaOverhead = 100

var (
	gcmStart = xml.StartElement{Name: xml.Name{Space: ccs.NSGCM, Local: "gcm"}}
	// downstream is the message stanza around every payload the client
	// sends; the library adds a random id.
	downstream = stanza.Message{Type: stanza.NormalMessage}
)

// conn is a driver.Conn over a negotiated *xmpp.Session.
type conn struct {
	sess *xmpp.Session
	nc   *bufConn

	// writer goroutine: the session's token writer is taken at the first
	// stanza after a flush and held (it locks the output stream) until
	// the flush.
	tw      xmlstream.TokenWriteFlushCloser
	pending int
	end     bool
	werr    error
	ack     bytes.Buffer
	ackEnc  *json.Encoder

	// reader goroutine: it holds the session's token reader for good.
	r    xml.TokenReader
	gcm  []byte
	cond []byte
	id   []byte
	jr   ccs.JSONReader
	msg  ccs.Message
}

// newConn wraps a negotiated session and the connection under it.
func newConn(sess *xmpp.Session, nc *bufConn) *conn {
	c := &conn{sess: sess, nc: nc, r: sess.TokenReader()}
	c.ackEnc = json.NewEncoder(&c.ack)
	c.ackEnc.SetEscapeHTML(false)
	return c
}

// send writes one stanza into the session's output stream.
func (c *conn) send(r xml.TokenReader, size int) {
	if c.werr != nil {
		return
	}
	if c.tw == nil {
		c.tw = c.sess.TokenWriter()
	}
	if _, err := xmlstream.Copy(c.tw, r); err != nil {
		c.werr = err
	}
	c.pending += size + stanzaOverhead
}

// SendDownstream implements driver.Conn: <message type="normal" id="...">
// <gcm xmlns="google:mobile:data">payload</gcm></message>, the payload
// escaped by the library's encoder.
func (c *conn) SendDownstream(payload []byte) {
	c.send(downstream.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData(payload)), gcmStart)), len(payload))
}

// upstreamAck is the JSON of an app server's ACK.
type upstreamAck struct {
	To          string `json:"to"`
	MessageID   string `json:"message_id"`
	MessageType string `json:"message_type"`
}

// SendAck implements driver.Conn.
func (c *conn) SendAck(to, id []byte) {
	c.ack.Reset()
	if err := c.ackEnc.Encode(upstreamAck{To: string(to), MessageID: string(id), MessageType: "ack"}); err != nil {
		return // strings always encode
	}
	payload := bytes.TrimSuffix(c.ack.Bytes(), []byte("\n"))
	c.SendDownstream(payload)
}

// SendPong implements driver.Conn.
func (c *conn) SendPong(id []byte) {
	c.send(stanza.IQ{ID: string(id), Type: stanza.ResultIQ}.Wrap(nil), len(id))
}

// SendStreamEnd implements driver.Conn: the session's Close, at the next
// Flush.
func (c *conn) SendStreamEnd() {
	c.end = true
	c.pending++
}

// Unflushed implements driver.Conn. It is an estimate (payloads plus a
// fixed overhead per stanza): the library's encoder does not tell what it
// holds.
func (c *conn) Unflushed() int { return c.pending }

// Flush implements driver.Conn: it releases the token writer, which
// flushes the encoder, and ends the output stream if asked.
func (c *conn) Flush() error {
	if c.tw != nil {
		if err := c.tw.Close(); err != nil && c.werr == nil {
			c.werr = err
		}
		c.tw = nil
	}
	if c.end && c.werr == nil {
		c.end = false
		c.werr = c.sess.Close()
	}
	c.pending = 0
	return c.werr
}

// BeforeRead implements driver.Conn: the read buffer under the decoder
// calls f before it reads from the connection.
func (c *conn) BeforeRead(f func()) { c.nc.before = f }

// SetReadDeadline implements driver.Conn.
func (c *conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close implements driver.Conn: it closes the connection at once, without
// the end of stream.
func (c *conn) Close() error { return c.nc.Close() }

// Next implements driver.Conn.
func (c *conn) Next(ev *driver.Event) error {
	for {
		tok, err := c.r.Token()
		if err != nil {
			return c.readError(err, ev)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue // whitespace keepalive between stanzas
		}
		*ev = driver.Event{}
		switch {
		case start.Name.Space != stanza.NSClient:
			err = xmlstream.Skip(c.r)
		case start.Name.Local == "message":
			ok, err = c.message(&start, ev)
			if ok && err == nil {
				return nil
			}
		case start.Name.Local == "iq":
			ok, err = c.iq(&start, ev)
			if ok && err == nil {
				return nil
			}
		default:
			err = xmlstream.Skip(c.r)
		}
		if err != nil {
			return c.readError(err, ev)
		}
	}
}

// readError maps the token reader's errors: the library reports the end
// of the input stream as io.EOF (an event here), encoding/xml a connection
// closed inside the stream as a syntax error (io.EOF for the driver).
func (c *conn) readError(err error, ev *driver.Event) error {
	var se stream.Error
	switch {
	case err == io.EOF:
		*ev = driver.Event{Kind: driver.EventStreamEnd}
		return nil
	case errors.As(err, &se):
		return streamError(se)
	case isUnexpectedEOF(err), errors.Is(err, io.ErrUnexpectedEOF):
		return io.EOF
	}
	return err
}

// attrValue returns the value of the un-namespaced attribute local of
// start, or "".
func attrValue(start *xml.StartElement, local string) string {
	for _, a := range start.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// rest reads the rest of the stanza whose start element was just read,
// calling f with each token and its depth (1 for the stanza's own
// character data and end tag, 2 for its children, and so on).
func (c *conn) rest(f func(depth int, tok xml.Token)) error {
	for depth := 1; depth > 0; {
		tok, err := c.r.Token()
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.StartElement); ok {
			depth++
		}
		f(depth, tok)
		if _, ok := tok.(xml.EndElement); ok {
			depth--
		}
	}
	return nil
}

// message reads a message stanza to its end and fills ev; false when
// there is nothing to act on.
func (c *conn) message(start *xml.StartElement, ev *driver.Event) (bool, error) {
	c.gcm, c.cond = c.gcm[:0], c.cond[:0]
	hasGCM, inGCM, inError := false, false, false
	err := c.rest(func(depth int, tok xml.Token) {
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 2 && t.Name.Space == ccs.NSGCM && t.Name.Local == "gcm" && !hasGCM:
				hasGCM, inGCM = true, true
			case depth == 2 && t.Name.Space == stanza.NSClient && t.Name.Local == "error":
				inError = true
			case depth == 3 && inError && t.Name.Space == ccs.NSStanzas && t.Name.Local != "text" && len(c.cond) == 0:
				c.cond = append(c.cond, t.Name.Local...)
			}
		case xml.EndElement:
			if depth == 2 {
				inGCM, inError = false, false
			}
		case xml.CharData:
			if inGCM && depth == 2 {
				c.gcm = append(c.gcm, t...)
			}
		}
	})
	isErr := attrValue(start, "type") == string(stanza.ErrorMessage)
	if err != nil || !hasGCM && !isErr {
		return false, err
	}
	return c.event(isErr, ev), nil
}

// event fills ev from the decoded gcm payload of a message stanza.
func (c *conn) event(stanzaError bool, ev *driver.Event) bool {
	m := &c.msg
	if stanzaError {
		ev.Kind = driver.EventStanzaError
		ev.Payload = c.gcm
		ev.Condition = c.cond
		if c.jr.Parse(c.gcm, m) == nil && m.MessageID.Kind == ccs.JSONString {
			ev.ID = m.MessageID.Str
		}
		return true
	}
	if c.jr.Parse(c.gcm, m) != nil {
		return false
	}
	ev.ID = m.MessageID.Str
	switch m.Type {
	case ccs.TypeAck:
		ev.Kind = driver.EventAck
	case ccs.TypeNack:
		ev.Kind = driver.EventNack
		ev.Error = m.Error.Str
		ev.Code = ccs.ParseNackCode(m.Error.Str)
	case ccs.TypeControl:
		ev.Kind = driver.EventControl
		ev.Control = m.ControlType.Str
	case ccs.TypeReceipt:
		ev.Kind = driver.EventReceipt
		ev.From = m.From.Str
	case ccs.TypeNone:
		if m.From.Kind != ccs.JSONString || m.MessageID.Kind != ccs.JSONString {
			return false
		}
		ev.Kind = driver.EventUpstream
		ev.From = m.From.Str
	default:
		return false
	}
	return true
}

// iq reads an IQ stanza to its end; a XEP-0199 ping becomes an event.
func (c *conn) iq(start *xml.StartElement, ev *driver.Event) (bool, error) {
	ping := false
	err := c.rest(func(depth int, tok xml.Token) {
		if t, ok := tok.(xml.StartElement); ok && depth == 2 && t.Name.Space == ccs.NSPing && t.Name.Local == "ping" {
			ping = true
		}
	})
	if err != nil {
		return false, err
	}
	if !ping || attrValue(start, "type") != string(stanza.GetIQ) {
		return false, nil
	}
	c.id = append(c.id[:0], attrValue(start, "id")...)
	ev.Kind = driver.EventPing
	ev.ID = c.id
	return true, nil
}
