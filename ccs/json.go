package ccs

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MessageType is the "message_type" of a CCS JSON payload.
type MessageType uint8

// The message types. A payload without message_type is TypeNone: a
// downstream message (app server to CCS) or an upstream one (CCS to app
// server, with "from" and "category").
const (
	TypeNone    MessageType = iota // no message_type field
	TypeAck                        // "ack"
	TypeNack                       // "nack"
	TypeControl                    // "control"
	TypeReceipt                    // "receipt"
	TypeOther                      // any other value; may be ignored
)

// String returns the wire name of the type, "" for TypeNone.
func (t MessageType) String() string {
	switch t {
	case TypeAck:
		return "ack"
	case TypeNack:
		return "nack"
	case TypeControl:
		return "control"
	case TypeReceipt:
		return "receipt"
	case TypeOther:
		return "other"
	}
	return ""
}

// ValueKind is the JSON type of a field's value.
type ValueKind uint8

// The JSON value kinds. JSONAbsent means the field was not present.
const (
	JSONAbsent ValueKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONNull
	JSONObject
	JSONArray
)

// Value is one top-level field of a payload. For a string, Str is the
// decoded string (escapes resolved); for any kind, Raw is the field's raw
// JSON text. Both point into the input or the Reader's scratch space and
// are valid until the next Parse.
type Value struct {
	Kind ValueKind
	Raw  []byte
	Str  []byte
}

// Present reports whether the field appeared in the payload.
func (v Value) Present() bool { return v.Kind != JSONAbsent }

// Message holds the fields of a CCS JSON payload that matter to ccsbench.
// Unknown fields are checked for well-formedness and skipped.
type Message struct {
	Type MessageType

	MessageID, MessageType, To, From, Condition  Value
	Error, ErrorDescription, ControlType         Value
	Category, RegistrationID, CollapseKey        Value
	Priority, TimeToLive, DelayWhileIdle, DryRun Value
	DeliveryReceiptRequested                     Value
	ContentAvailable, MutableContent             Value
	Data, Notification, RegistrationIDs          Value

	// TTL is time_to_live as an integer when it is a JSON integer
	// (HasTTL), whatever its range.
	TTL    int64
	HasTTL bool
}

// JSONReader parses CCS payloads into Messages. It keeps scratch space
// between calls so that parsing allocates nothing in steady state; it is
// not safe for concurrent use (one per reader goroutine).
//
// It is a strict RFC 8259 scanner: the whole payload must be exactly one
// JSON object (white space around it allowed); strings may hold only valid
// escapes and no raw control characters; numbers follow the grammar;
// objects and arrays nest at most MaxJSONDepth deep. Like encoding/json it
// accepts invalid UTF-8 inside strings and decodes it, and lone surrogate
// escapes, as U+FFFD. Of duplicate keys the last one wins.
type JSONReader struct {
	scratch []byte
}

// MaxJSONDepth is the deepest nesting of objects and arrays a JSONReader
// accepts, counting the payload object itself as 1.
const MaxJSONDepth = 64

// Parse checks that b is one well-formed JSON object and fills m with its
// fields (m is reset first). Errors are *JSONError.
func (r *JSONReader) Parse(b []byte, m *Message) error {
	*m = Message{}
	r.scratch = r.scratch[:0]
	i := skipJSONSpace(b, 0)
	if i == len(b) {
		return jsonErr(i, "empty payload")
	}
	if b[i] != '{' {
		return jsonErr(i, "payload is not a JSON object")
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return expected(b, i, "a string key")
			}
			ks := i
			end, esc, err := scanJSONString(b, i)
			if err != nil {
				return err
			}
			key := b[ks+1 : end-1]
			mark := len(r.scratch)
			if esc {
				r.scratch = appendUnquoted(r.scratch, key)
				key = r.scratch[mark:]
			}
			v := m.field(key)
			r.scratch = r.scratch[:mark]
			i = skipJSONSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return expected(b, i, "':' after an object key")
			}
			i = skipJSONSpace(b, i+1)
			vs := i
			kind, ve, vesc, err := scanJSONValue(b, i, 2)
			if err != nil {
				return err
			}
			if v != nil {
				*v = Value{Kind: kind, Raw: b[vs:ve]}
				if kind == JSONString {
					v.Str = b[vs+1 : ve-1]
					if vesc {
						s := len(r.scratch)
						r.scratch = appendUnquoted(r.scratch, v.Str)
						v.Str = r.scratch[s:len(r.scratch):len(r.scratch)]
					}
				}
			}
			i = skipJSONSpace(b, ve)
			if i < len(b) && b[i] == ',' {
				i = skipJSONSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return expected(b, i, "',' or '}' in object")
		}
	}
	if i = skipJSONSpace(b, i); i != len(b) {
		return jsonErr(i, "data after the JSON object")
	}
	m.finish()
	return nil
}

// field returns the Message field of a top-level key, or nil.
func (m *Message) field(key []byte) *Value {
	switch string(key) {
	case "message_id":
		return &m.MessageID
	case "message_type":
		return &m.MessageType
	case "to":
		return &m.To
	case "from":
		return &m.From
	case "condition":
		return &m.Condition
	case "error":
		return &m.Error
	case "error_description":
		return &m.ErrorDescription
	case "control_type":
		return &m.ControlType
	case "category":
		return &m.Category
	case "registration_id":
		return &m.RegistrationID
	case "collapse_key":
		return &m.CollapseKey
	case "priority":
		return &m.Priority
	case "time_to_live":
		return &m.TimeToLive
	case "delay_while_idle":
		return &m.DelayWhileIdle
	case "dry_run":
		return &m.DryRun
	case "delivery_receipt_requested":
		return &m.DeliveryReceiptRequested
	case "content_available":
		return &m.ContentAvailable
	case "mutable_content":
		return &m.MutableContent
	case "data":
		return &m.Data
	case "notification":
		return &m.Notification
	case "registration_ids":
		return &m.RegistrationIDs
	}
	return nil
}

// finish derives Type and TTL.
func (m *Message) finish() {
	switch mt := m.MessageType; {
	case mt.Kind == JSONAbsent:
	case mt.Kind != JSONString:
		m.Type = TypeOther
	default:
		switch string(mt.Str) {
		case "ack":
			m.Type = TypeAck
		case "nack":
			m.Type = TypeNack
		case "control":
			m.Type = TypeControl
		case "receipt":
			m.Type = TypeReceipt
		default:
			m.Type = TypeOther
		}
	}
	if m.TimeToLive.Kind == JSONNumber {
		m.TTL, m.HasTTL = jsonInt(m.TimeToLive.Raw)
	}
}

// jsonInt parses a JSON number that is an integer (no fraction or
// exponent) and fits in an int64.
func jsonInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // at most 2^63 + 9: no overflow
	}
	switch {
	case neg && n <= 1<<63:
		return -int64(n-1) - 1, true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// JSONError is a payload that is not well-formed JSON, or not an object.
type JSONError struct {
	Offset int    // byte offset in the payload
	Detail string // what was wrong
}

// Error implements error.
func (e *JSONError) Error() string { return "ccs: invalid JSON payload: " + e.Detail }

// jsonErr is a *JSONError at offset off.
func jsonErr(off int, detail string) *JSONError {
	return &JSONError{Offset: off, Detail: fmt.Sprintf("%s at offset %d", detail, off)}
}

// expected reports a missing token at b[i], or the end of the payload.
func expected(b []byte, i int, what string) *JSONError {
	if i >= len(b) {
		return jsonErr(i, "unexpected end of payload, expected "+what)
	}
	return jsonErr(i, fmt.Sprintf("unexpected %q, expected %s", b[i], what))
}

// DataCheck walks the JSON object raw (a "data" field) and returns its size
// as CCS counts it (the bytes of keys plus values, strings decoded), and the
// first key that CCS forbids ("from", or one starting with "google"), or nil.
// Non-string values count with the length of their JSON text. The object
// must be well-formed like a whole payload (Parse); errors are *JSONError.
// The forbidden key, when decoded, lives in the reader's scratch space
// until the next Parse.
func (r *JSONReader) DataCheck(raw []byte) (size int, forbidden []byte, err error) {
	i := skipJSONSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return 0, nil, expected(raw, i, "a JSON object")
	}
	i = skipJSONSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return 0, nil, expected(raw, i, "a string key")
			}
			ks := i
			end, esc, err := scanJSONString(raw, i)
			if err != nil {
				return 0, nil, err
			}
			key := raw[ks+1 : end-1]
			mark := len(r.scratch)
			if esc {
				r.scratch = appendUnquoted(r.scratch, key)
				key = r.scratch[mark:len(r.scratch):len(r.scratch)]
			}
			size += len(key)
			if forbidden == nil && (string(key) == "from" || len(key) >= 6 && string(key[:6]) == "google") {
				forbidden = key
			} else {
				r.scratch = r.scratch[:mark]
			}
			i = skipJSONSpace(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return 0, nil, expected(raw, i, "':' after an object key")
			}
			i = skipJSONSpace(raw, i+1)
			vs := i
			kind, ve, vesc, err := scanJSONValue(raw, i, 2)
			if err != nil {
				return 0, nil, err
			}
			switch {
			case kind != JSONString:
				size += ve - vs
			case vesc:
				mark := len(r.scratch)
				r.scratch = appendUnquoted(r.scratch, raw[vs+1:ve-1])
				size += len(r.scratch) - mark
				r.scratch = r.scratch[:mark]
			default:
				size += ve - vs - 2
			}
			i = skipJSONSpace(raw, ve)
			if i < len(raw) && raw[i] == ',' {
				i = skipJSONSpace(raw, i+1)
				continue
			}
			if i < len(raw) && raw[i] == '}' {
				i++
				break
			}
			return 0, nil, expected(raw, i, "',' or '}' in object")
		}
	}
	if i = skipJSONSpace(raw, i); i != len(raw) {
		return 0, nil, jsonErr(i, "data after the JSON object")
	}
	return size, forbidden, nil
}

// jsonClass marks the bytes that end a fast scan: in strings, '"', '\\',
// control characters and non-ASCII; and JSON white space.
const (
	jStr   = 1
	jSpace = 2
)

var jsonClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = jStr
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = jStr
	}
	t['"'], t['\\'] = jStr, jStr
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		t[c] |= jSpace
	}
	return t
}()

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON white space.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && jsonClass[b[i]]&jSpace != 0 {
		i++
	}
	return i
}

// scanJSONString scans the string at b[i] ('"') and returns the index after
// its closing quote and whether it needs decoding (escapes or invalid
// UTF-8).
func scanJSONString(b []byte, i int) (end int, dec bool, err error) {
	start := i
	i++
	for {
		for i+8 <= len(b) {
			w := b[i : i+8 : i+8]
			if (jsonClass[w[0]]|jsonClass[w[1]]|jsonClass[w[2]]|jsonClass[w[3]]|
				jsonClass[w[4]]|jsonClass[w[5]]|jsonClass[w[6]]|jsonClass[w[7]])&jStr != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && jsonClass[b[i]]&jStr == 0 {
			i++
		}
		if i >= len(b) {
			return 0, false, jsonErr(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, dec, nil
		case c == '\\':
			dec = true
			if i+1 >= len(b) {
				return 0, false, jsonErr(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || hex4(b[i+2:i+6]) < 0 {
					return 0, false, jsonErr(i, "invalid \\u escape in string")
				}
				i += 6
			default:
				return 0, false, jsonErr(i, fmt.Sprintf("invalid escape \\%c in string", b[i+1]))
			}
		case c < 0x20:
			return 0, false, jsonErr(i, fmt.Sprintf("control character %#x in string", c))
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				dec = true
			}
			i += n
		}
	}
}

// hex4 decodes four hexadecimal digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendUnquoted appends the decoded body s of a validated JSON string, as
// encoding/json decodes it: escapes resolved, surrogate pairs joined, lone
// surrogates and invalid UTF-8 bytes as U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			e := s[i+1]
			i += 2
			switch e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(s[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							break
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		}
	}
	return dst
}

// scanJSONNumber scans the number at b[i] and returns the index after it.
func scanJSONNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, jsonErr(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, jsonErr(start, "invalid number: no digit after '.'")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, jsonErr(start, "invalid number: no digit in exponent")
		}
		i = j
	}
	return i, nil
}

// skipDigits returns the index of the first byte at or after i that is
// not an ASCII digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanJSONValue scans the value at b[i], at nesting depth depth (the depth
// a container there would have), and returns its kind, the index after it
// and, for a string, whether it needs decoding.
func scanJSONValue(b []byte, i, depth int) (ValueKind, int, bool, error) {
	if i >= len(b) {
		return 0, 0, false, expected(b, i, "a value")
	}
	switch c := b[i]; c {
	case '"':
		end, dec, err := scanJSONString(b, i)
		return JSONString, end, dec, err
	case '{', '[':
		end, err := skipNested(b, i, depth)
		if c == '{' {
			return JSONObject, end, false, err
		}
		return JSONArray, end, false, err
	case 't':
		return literal(b, i, "true", JSONBool)
	case 'f':
		return literal(b, i, "false", JSONBool)
	case 'n':
		return literal(b, i, "null", JSONNull)
	}
	end, err := scanJSONNumber(b, i)
	if err != nil {
		return 0, 0, false, expected(b, i, "a value")
	}
	return JSONNumber, end, false, nil
}

// literal checks that the literal lit (true, false, null) is at b[i], and
// returns its kind and the index after it.
func literal(b []byte, i int, lit string, kind ValueKind) (ValueKind, int, bool, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, 0, false, jsonErr(i, "invalid literal, expected "+lit)
	}
	return kind, i + len(lit), false, nil
}

// skipNested validates the object or array at b[i], whose nesting depth is
// depth, and returns the index after it. It keeps one bit per open
// container, so it needs no allocation and no recursion.
func skipNested(b []byte, i, depth int) (int, error) {
	var objs uint64 // bit k: the k-th open container is an object
	n := 0          // open containers
	const (
		sOpen = iota // at '{' or '['
		sValue
		sAfter
	)
	state := sOpen
	for {
		switch state {
		case sOpen:
			if depth+n > MaxJSONDepth {
				return 0, jsonErr(i, fmt.Sprintf("objects and arrays nested deeper than %d", MaxJSONDepth))
			}
			obj := b[i] == '{'
			if obj {
				objs |= 1 << n
			} else {
				objs &^= 1 << n
			}
			n++
			i = skipJSONSpace(b, i+1)
			if i < len(b) && (obj && b[i] == '}' || !obj && b[i] == ']') {
				i++
				n--
				if n == 0 {
					return i, nil
				}
				state = sAfter
				continue
			}
			state = sValue
			if obj {
				var err error
				if i, err = objectKey(b, i); err != nil {
					return 0, err
				}
			}
		case sValue:
			if i >= len(b) {
				return 0, expected(b, i, "a value")
			}
			switch b[i] {
			case '{', '[':
				state = sOpen
				continue
			}
			_, end, _, err := scanJSONValue(b, i, 0)
			if err != nil {
				return 0, err
			}
			i, state = end, sAfter
		case sAfter:
			i = skipJSONSpace(b, i)
			obj := objs&(1<<(n-1)) != 0
			switch {
			case i >= len(b):
				return 0, expected(b, i, "',' or the end of a container")
			case b[i] == ',':
				i = skipJSONSpace(b, i+1)
				state = sValue
				if obj {
					var err error
					if i, err = objectKey(b, i); err != nil {
						return 0, err
					}
				}
			case obj && b[i] == '}' || !obj && b[i] == ']':
				i++
				n--
				if n == 0 {
					return i, nil
				}
			default:
				if obj {
					return 0, expected(b, i, "',' or '}' in object")
				}
				return 0, expected(b, i, "',' or ']' in array")
			}
		}
	}
}

// objectKey scans `"key" :` at b[i] and returns the index of the value.
func objectKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, expected(b, i, "a string key")
	}
	end, _, err := scanJSONString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipJSONSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return 0, expected(b, i, "':' after an object key")
	}
	return skipJSONSpace(b, i+1), nil
}
