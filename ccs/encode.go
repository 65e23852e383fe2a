package ccs

import (
	"encoding/binary"
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
)

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

// AppendAck appends the ACK a server sends for a downstream message:
// {"from":FROM,"message_id":ID,"message_type":"ack"}, with
// "registration_id":CANONICAL when canonical is not empty.
func AppendAck(dst, from, id, canonical []byte) []byte {
	dst = append(dst, `<message>`+gcmOpen+`{"from":`...)
	dst = appendJSONString(dst, from)
	dst = append(dst, `,"message_id":`...)
	dst = appendJSONString(dst, id)
	if len(canonical) > 0 {
		dst = append(dst, `,"registration_id":`...)
		dst = appendJSONString(dst, canonical)
	}
	dst = append(dst, `,"message_type":"ack"}`...)
	return append(dst, gcmClose...)
}

// AppendNack appends a NACK in the prefixed-namespace form CCS uses:
// <message><data:gcm xmlns:data="google:mobile:data">{"message_type":"nack",
// "message_id":ID,"from":FROM,"error":CODE,"error_description":DESC}</data:gcm></message>.
// The description is omitted when empty.
func AppendNack(dst, from, id []byte, code string, desc []byte) []byte {
	dst = append(dst, `<message><data:gcm xmlns:data="google:mobile:data">{"message_type":"nack","message_id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"from":`...)
	dst = appendJSONString(dst, from)
	dst = append(dst, `,"error":`...)
	dst = appendJSONStr(dst, code)
	if len(desc) > 0 {
		dst = append(dst, `,"error_description":`...)
		dst = appendJSONString(dst, desc)
	}
	return append(dst, `}</data:gcm></message>`...)
}

// AppendControl appends a control message, e.g. with controlType
// "CONNECTION_DRAINING".
func AppendControl(dst []byte, controlType string) []byte {
	dst = append(dst, `<message><data:gcm xmlns:data="google:mobile:data">{"message_type":"control","control_type":`...)
	dst = appendJSONStr(dst, controlType)
	return append(dst, `}</data:gcm></message>`...)
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
	dst = append(dst, `<message to="`...)
	dst = appendAttr(dst, u.To)
	dst = append(dst, `" from="`+DevicesJID+`" type="normal">`+gcmOpen+`{"category":`...)
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
	return append(dst, gcmClose...)
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
	dst = append(dst, `<message to="`...)
	dst = appendAttr(dst, r.To)
	dst = append(dst, `" from="`+Domain+`" type="normal">`+gcmOpen+`{"category":`...)
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
	return append(dst, gcmClose...)
}

// AppendStanzaError appends the stanza error CCS sends for a payload it
// cannot read (not JSON, or no message_id): the message with type="error",
// the original payload echoed in <gcm>, and <error code="400" type="modify">
// with <bad-request/> and text. id and to are the stanza's attributes
// (to: the sender's full JID); payload is the decoded gcm character data.
func AppendStanzaError(dst, id, to, payload, text []byte) []byte {
	dst = append(dst, `<message id="`...)
	dst = appendAttr(dst, id)
	dst = append(dst, `" type="error" to="`...)
	dst = appendAttr(dst, to)
	dst = append(dst, `">`+gcmOpen...)
	dst = appendText(dst, payload)
	dst = append(dst, `</gcm><error code="400" type="modify"><bad-request xmlns="`+NSStanzas+`"/><text xmlns="`+NSStanzas+`">`...)
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
