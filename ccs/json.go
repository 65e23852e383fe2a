package ccs

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

// The JSON value kinds. KindAbsent means the field was not present.
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
type JSONReader struct {
	scratch []byte
}

// Parse checks that b is one well-formed JSON object and fills m with its
// fields (m is reset first). Errors are *JSONError.
func (r *JSONReader) Parse(b []byte, m *Message) error { return errNotYet }

// JSONError is a payload that is not well-formed JSON, or not an object.
type JSONError struct {
	Offset int    // byte offset in the payload
	Detail string // what was wrong
}

// Error implements error.
func (e *JSONError) Error() string { return "ccs: invalid JSON payload: " + e.Detail }

// DataCheck walks the JSON object raw (a "data" field) and returns its size
// as CCS counts it (the bytes of keys plus values, strings decoded), and the
// first key that CCS forbids ("from", or one starting with "google"), or nil.
func (r *JSONReader) DataCheck(raw []byte) (size int, forbidden []byte, err error) {
	return 0, nil, errNotYet
}
