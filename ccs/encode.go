package ccs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The encoders append one stanza to dst and return the extended slice, like
// strconv.AppendInt: with a reused buffer of sufficient capacity they
// allocate nothing. JSON string values are JSON-escaped and the JSON text is
// XML-escaped in the same pass, so any bytes are safe to pass; strings must
// be valid UTF-8 (bytes >= 0x80 are copied unchanged).

const (
	gcmOpen  = `<gcm xmlns="google:mobile:data">`
	gcmClose = `</gcm></message>`
	// The prefixed form of the gcm element (same namespace).
	dataOpen     = `<data:gcm xmlns:data="google:mobile:data">`
	dataEnd      = `</data:gcm>`
	gcmEnd       = `</gcm>`
	messageClose = `</message>`
)

// WireForm is how a server writes the <gcm> element of the stanzas it
// sends. All forms put the element in the namespace google:mobile:data, so
// a client that matches the namespace (never the prefix) reads them alike.
type WireForm uint8

// The wire forms of server stanzas.
const (
	// WireDocumented is the form the CCS documentation shows (see
	// docs/PROTOCOL.md): ACKs, upstream messages, receipts and stanza
	// errors as <gcm xmlns="google:mobile:data">, NACKs and control
	// messages as <data:gcm xmlns:data="google:mobile:data">.
	WireDocumented WireForm = iota
	// WirePrefixed writes every gcm element as
	// <data:gcm xmlns:data="google:mobile:data">, as traffic captured from
	// the FCM service shows for ACKs too.
	WirePrefixed
	// WireDefaultNS writes every gcm element as
	// <gcm xmlns="google:mobile:data">.
	WireDefaultNS
)

var wireFormNames = [...]string{"documented", "prefixed", "default-ns"}

// String returns the form's name as ParseWireForm reads it.
func (f WireForm) String() string {
	if int(f) < len(wireFormNames) {
		return wireFormNames[f]
	}
	return "invalid"
}

// ErrWireForm is wrapped by ParseWireForm's error for an unknown name.
var ErrWireForm = errors.New("ccs: unknown wire form")

// ParseWireForm reads "documented", "prefixed" or "default-ns"; "" is
// WireDocumented.
func ParseWireForm(s string) (WireForm, error) {
	if s == "" {
		return WireDocumented, nil
	}
	for i, n := range wireFormNames {
		if s == n {
			return WireForm(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q: want documented, prefixed or default-ns", ErrWireForm, s)
}

// gcm returns the open and close tags of the gcm element in form f, for a
// stanza that the CCS documentation shows prefixed (NACKs and control
// messages) or not.
func (f WireForm) gcm(documentedPrefixed bool) (open, end string) {
	if f == WirePrefixed || f == WireDocumented && documentedPrefixed {
		return dataOpen, dataEnd
	}
	return gcmOpen, gcmEnd
}

// esc classifies bytes: 0 copy as is, 1 XML-escape in text (<, >, &),
// 2 also JSON-escape inside a JSON string (", \, control characters).
var esc = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 2
	}
	t['"'], t['\\'] = 2, 2
	t['<'], t['>'], t['&'] = 1, 1, 1
	return t
}()

const hexDigits = "0123456789abcdef"

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasSpecial8 reports whether any of the 8 bytes of x is '<', '>' or '&'
// (the classic SWAR zero-byte test applied to x XOR each pattern).
func hasSpecial8(x uint64) bool {
	a := x ^ ('<' * lo8)
	b := x ^ ('>' * lo8)
	c := x ^ ('&' * lo8)
	return ((a-lo8)&^a|(b-lo8)&^b|(c-lo8)&^c)&hi8 != 0
}

// appendText appends s XML-escaped as character data. Runs of eight bytes
// without a special character are copied after one word-wide test.
func appendText(dst, s []byte) []byte {
	start, i := 0, 0
	for i < len(s) {
		if i+8 <= len(s) && !hasSpecial8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
			continue
		}
		if c := s[i]; esc[c] == 1 {
			dst = append(dst, s[start:i]...)
			dst = appendEntity(dst, c)
			start = i + 1
		}
		i++
	}
	return append(dst, s[start:]...)
}

// appendEntity appends the entity reference that escapes c.
func appendEntity(dst []byte, c byte) []byte {
	switch c {
	case '<':
		return append(dst, "&lt;"...)
	case '>':
		return append(dst, "&gt;"...)
	case '&':
		return append(dst, "&amp;"...)
	case '"':
		return append(dst, "&quot;"...)
	}
	return append(dst, c)
}

// appendAttr appends s XML-escaped for a double-quoted attribute value.
func appendAttr(dst []byte, s []byte) []byte {
	start := 0
	for i, c := range s {
		switch c {
		case '<', '>', '&', '"':
		case '\t', '\n', '\r':
			dst = append(dst, s[start:i]...)
			dst = append(dst, "&#"...)
			dst = strconv.AppendInt(dst, int64(c), 10)
			dst = append(dst, ';')
			start = i + 1
			continue
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEntity(dst, c)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendJSONString appends s as a quoted JSON string, XML-escaped for
// character data.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendJSONBody(dst, s)
	return append(dst, '"')
}

// appendJSONBody appends s JSON-escaped and XML-escaped, without quotes.
func appendJSONBody(dst []byte, s []byte) []byte {
	start := 0
	for i, c := range s {
		if esc[c] == 0 {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		switch c {
		case '<', '>', '&':
			dst = appendEntity(dst, c)
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
	}
	return append(dst, s[start:]...)
}

// appendJSONStr is appendJSONString for a string argument.
func appendJSONStr(dst []byte, s string) []byte {
	// The conversion does not allocate: the compiler sees it does not escape.
	return appendJSONString(dst, []byte(s))
}

// AppendDownstream appends a downstream message stanza carrying the JSON
// payload json (XML-escaped here):
// <message id=""><gcm xmlns="google:mobile:data">JSON</gcm></message>.
func AppendDownstream(dst, json []byte) []byte {
	dst = append(dst, `<message id="">`+gcmOpen...)
	dst = appendText(dst, json)
	return append(dst, gcmClose...)
}

// AppendAck appends the ACK a server sends for a downstream message, in
// the documented form: {"from":FROM,"message_id":ID,"message_type":"ack"},
// with "registration_id":CANONICAL when canonical is not empty.
func AppendAck(dst, from, id, canonical []byte) []byte {
	return WireDocumented.AppendAck(dst, from, id, canonical)
}

// AppendAck is the package's AppendAck in form f.
func (f WireForm) AppendAck(dst, from, id, canonical []byte) []byte {
	open, end := f.gcm(false)
	dst = append(dst, `<message>`...)
	dst = append(dst, open...)
	dst = append(dst, `{"from":`...)
	dst = appendJSONString(dst, from)
	dst = append(dst, `,"message_id":`...)
	dst = appendJSONString(dst, id)
	if len(canonical) > 0 {
		dst = append(dst, `,"registration_id":`...)
		dst = appendJSONString(dst, canonical)
	}
	dst = append(dst, `,"message_type":"ack"}`...)
	dst = append(dst, end...)
	return append(dst, messageClose...)
}

// AppendNack appends a NACK in the prefixed-namespace form CCS uses:
// <message><data:gcm xmlns:data="google:mobile:data">{"message_type":"nack",
// "message_id":ID,"from":FROM,"error":CODE,"error_description":DESC}</data:gcm></message>.
// The description is omitted when empty.
func AppendNack(dst, from, id []byte, code string, desc []byte) []byte {
	return WireDocumented.AppendNack(dst, from, id, code, desc)
}

// AppendNack is the package's AppendNack in form f.
func (f WireForm) AppendNack(dst, from, id []byte, code string, desc []byte) []byte {
	open, end := f.gcm(true)
	dst = append(dst, `<message>`...)
	dst = append(dst, open...)
	dst = append(dst, `{"message_type":"nack","message_id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"from":`...)
	dst = appendJSONString(dst, from)
	dst = append(dst, `,"error":`...)
	dst = appendJSONStr(dst, code)
	if len(desc) > 0 {
		dst = append(dst, `,"error_description":`...)
		dst = appendJSONString(dst, desc)
	}
	dst = append(dst, '}')
	dst = append(dst, end...)
	return append(dst, messageClose...)
}

// AppendControl appends a control message, e.g. with controlType
// "CONNECTION_DRAINING", in the prefixed form the CCS documentation shows.
func AppendControl(dst []byte, controlType string) []byte {
	return WireDocumented.AppendControl(dst, controlType)
}

// AppendControl is the package's AppendControl in form f.
func (f WireForm) AppendControl(dst []byte, controlType string) []byte {
	open, end := f.gcm(true)
	dst = append(dst, `<message>`...)
	dst = append(dst, open...)
	dst = append(dst, `{"message_type":"control","control_type":`...)
	dst = appendJSONStr(dst, controlType)
	dst = append(dst, '}')
	dst = append(dst, end...)
	return append(dst, messageClose...)
}

// AppendUpstreamAck appends the ACK an app server sends for an upstream
// message or a receipt: {"to":TO,"message_id":ID,"message_type":"ack"}.
// The id is sent exactly as received (receipt ids keep their "dr2:").
func AppendUpstreamAck(dst, to, id []byte) []byte {
	dst = append(dst, `<message id="">`+gcmOpen+`{"to":`...)
	dst = appendJSONString(dst, to)
	dst = append(dst, `,"message_id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"message_type":"ack"}`...)
	return append(dst, gcmClose...)
}

// Upstream describes a device-to-server message for AppendUpstream.
type Upstream struct {
	To       []byte // the app server's JID (SENDER@gcm.googleapis.com)
	Category []byte // the app's package name
	From     []byte // the device's registration id
	ID       []byte // message_id, unique per sender
	Data     []byte // the "data" object as raw JSON; "{}" when empty
	TTL      int64  // time_to_live in seconds
}

// AppendUpstream appends an upstream message as CCS delivers it:
// <message to=TO from="devices@gcm.googleapis.com" type="normal"><gcm ...>
// {"category":..,"data":..,"message_id":..,"from":..,"time_to_live":..}</gcm></message>.
// u.Data must be a valid JSON object; it is XML-escaped here.
func AppendUpstream(dst []byte, u *Upstream) []byte {
	return WireDocumented.AppendUpstream(dst, u)
}

// AppendUpstream is the package's AppendUpstream in form f.
func (f WireForm) AppendUpstream(dst []byte, u *Upstream) []byte {
	open, end := f.gcm(false)
	dst = append(dst, `<message to="`...)
	dst = appendAttr(dst, u.To)
	dst = append(dst, `" from="`+DevicesJID+`" type="normal">`...)
	dst = append(dst, open...)
	dst = append(dst, `{"category":`...)
	dst = appendJSONString(dst, u.Category)
	dst = append(dst, `,"data":`...)
	if len(u.Data) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = appendText(dst, u.Data)
	}
	dst = append(dst, `,"message_id":`...)
	dst = appendJSONString(dst, u.ID)
	dst = append(dst, `,"from":`...)
	dst = appendJSONString(dst, u.From)
	dst = append(dst, `,"time_to_live":`...)
	dst = strconv.AppendInt(dst, u.TTL, 10)
	dst = append(dst, '}')
	dst = append(dst, end...)
	return append(dst, messageClose...)
}

// ReceiptIDPrefix starts the message id of every delivery receipt.
const ReceiptIDPrefix = "dr2:"

// Receipt describes a delivery receipt for AppendReceipt.
type Receipt struct {
	To                []byte // the app server's JID
	Category          []byte // the app's package name
	RegistrationID    []byte // device_registration_id: the "to" of the original message
	OriginalMessageID []byte // the original downstream message_id
	SentMillis        int64  // message_sent_timestamp, Unix milliseconds
}

// AppendReceipt appends a delivery receipt (message_type "receipt", id
// "dr2:"+original id, status MESSAGE_SENT_TO_DEVICE), as CCS sends it after
// the ACK of a message that had delivery_receipt_requested. The app server
// must ACK it with its own id.
func AppendReceipt(dst []byte, r *Receipt) []byte {
	return WireDocumented.AppendReceipt(dst, r)
}

// AppendReceipt is the package's AppendReceipt in form f.
func (f WireForm) AppendReceipt(dst []byte, r *Receipt) []byte {
	open, end := f.gcm(false)
	dst = append(dst, `<message to="`...)
	dst = appendAttr(dst, r.To)
	dst = append(dst, `" from="`+Domain+`" type="normal">`...)
	dst = append(dst, open...)
	dst = append(dst, `{"category":`...)
	dst = appendJSONString(dst, r.Category)
	dst = append(dst, `,"data":{"device_registration_id":`...)
	dst = appendJSONString(dst, r.RegistrationID)
	dst = append(dst, `,"message_sent_timestamp":"`...)
	dst = strconv.AppendInt(dst, r.SentMillis, 10)
	dst = append(dst, `","message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":`...)
	dst = appendJSONString(dst, r.OriginalMessageID)
	dst = append(dst, `},"from":"`+Domain+`","message_id":"`+ReceiptIDPrefix...)
	dst = appendJSONBody(dst, r.OriginalMessageID)
	dst = append(dst, `","message_type":"receipt","time_to_live":0}`...)
	dst = append(dst, end...)
	return append(dst, messageClose...)
}

// AppendStanzaError appends the stanza error CCS sends for a payload it
// cannot read (not JSON, or no message_id): the message with type="error",
// the original payload echoed in <gcm>, and <error code="400" type="modify">
// with <bad-request/> and text. id and to are the stanza's attributes
// (to: the sender's full JID); payload is the decoded gcm character data.
func AppendStanzaError(dst, id, to, payload, text []byte) []byte {
	return WireDocumented.AppendStanzaError(dst, id, to, payload, text)
}

// AppendStanzaError is the package's AppendStanzaError in form f.
func (f WireForm) AppendStanzaError(dst, id, to, payload, text []byte) []byte {
	open, end := f.gcm(false)
	dst = append(dst, `<message id="`...)
	dst = appendAttr(dst, id)
	dst = append(dst, `" type="error" to="`...)
	dst = appendAttr(dst, to)
	dst = append(dst, `">`...)
	dst = append(dst, open...)
	dst = appendText(dst, payload)
	dst = append(dst, end...)
	dst = append(dst, `<error code="400" type="modify"><bad-request xmlns="`+NSStanzas+`"/><text xmlns="`+NSStanzas+`">`...)
	dst = appendText(dst, text)
	return append(dst, `</text></error></message>`...)
}

// AppendStreamError appends <stream:error> with the condition (e.g.
// CondPolicyViolation) and an optional text, followed by the stream's
// closing tag: a stream error always ends the stream.
func AppendStreamError(dst []byte, condition, text string) []byte {
	dst = append(dst, `<stream:error><`...)
	dst = append(dst, condition...)
	dst = append(dst, ` xmlns="`+NSStreams+`"/>`...)
	if text != "" {
		dst = append(dst, `<text xmlns="`+NSStreams+`">`...)
		dst = appendText(dst, []byte(text))
		dst = append(dst, `</text>`...)
	}
	return append(dst, `</stream:error></stream:stream>`...)
}

// AppendIQResult appends an empty IQ result answering id (for pings and
// the session IQ).
func AppendIQResult(dst, id []byte) []byte {
	dst = append(dst, `<iq type="result" id="`...)
	dst = appendAttr(dst, id)
	return append(dst, `"/>`...)
}

// AppendIQError appends an IQ error (service-unavailable, as RFC 6120 asks
// for IQs a server does not understand) answering id.
func AppendIQError(dst, id []byte) []byte {
	dst = append(dst, `<iq type="error" id="`...)
	dst = appendAttr(dst, id)
	return append(dst, `"><error type="cancel"><service-unavailable xmlns="`+NSStanzas+`"/></error></iq>`...)
}

// AppendPing appends a XEP-0199 ping IQ with the given id.
func AppendPing(dst, id []byte) []byte {
	dst = append(dst, `<iq type="get" id="`...)
	dst = appendAttr(dst, id)
	return append(dst, `"><ping xmlns="`+NSPing+`"/></iq>`...)
}

// StreamEnd closes a stream.
const StreamEnd = `</stream:stream>`
