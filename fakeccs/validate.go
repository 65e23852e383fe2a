package fakeccs

import (
	"bytes"
	"strconv"

	"github.com/ccsbench/ccsbench/ccs"
)

// Limits of a downstream payload that CCS enforces with INVALID_JSON.
const (
	// MaxTTL is the largest time_to_live, in seconds (4 weeks).
	MaxTTL = 2419200
	// MaxData is the largest "data" object, in bytes of keys plus values.
	MaxData = 4096
	// MaxTopicData is MaxData for messages to a topic or condition.
	MaxTopicData = 2048
	// maxEcho bounds how much of a bad value a description quotes.
	maxEcho = 64
)

// Descriptions of payload errors, in CCS's style.
const (
	textMissingID    = "InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\n"
	textParsePrefix  = "InvalidJson: JSON_PARSING_ERROR : "
	textIDTypePrefix = "InvalidJson: JSON_TYPE_ERROR : Field \"message_id\" must be a JSON java.lang.String: "
)

var topicsPrefix = []byte("/topics/")

// javaType names the Java type CCS's JSON_TYPE_ERROR descriptions use.
const (
	jBoolean = "java.lang.Boolean"
	jString  = "java.lang.String"
	jNumber  = "java.lang.Number"
	jMap     = "org.json.simple.JSONObject"
)

// validate checks a downstream payload with a string message_id the way
// CCS does before accepting it. It returns ok, or appends the INVALID_JSON
// description to desc and returns it.
func validate(r *ccs.JSONReader, m *ccs.Message, desc []byte) ([]byte, bool) {
	for _, f := range [...]struct {
		name string
		v    *ccs.Value
	}{
		{"delay_while_idle", &m.DelayWhileIdle},
		{"dry_run", &m.DryRun},
		{"delivery_receipt_requested", &m.DeliveryReceiptRequested},
		{"content_available", &m.ContentAvailable},
		{"mutable_content", &m.MutableContent},
	} {
		if f.v.Present() && f.v.Kind != ccs.JSONBool {
			return typeError(desc, f.name, jBoolean, f.v), false
		}
	}
	for _, f := range [...]struct {
		name string
		v    *ccs.Value
	}{
		{"to", &m.To},
		{"condition", &m.Condition},
		{"collapse_key", &m.CollapseKey},
	} {
		if f.v.Present() && f.v.Kind != ccs.JSONString {
			return typeError(desc, f.name, jString, f.v), false
		}
	}
	if m.TimeToLive.Present() {
		if m.TimeToLive.Kind != ccs.JSONNumber {
			return typeError(desc, "time_to_live", jNumber, &m.TimeToLive), false
		}
		if !m.HasTTL || m.TTL < 0 || m.TTL > MaxTTL {
			desc = append(desc, "InvalidJson : INVALID_TTL : Invalid value ("...)
			desc = appendEcho(desc, &m.TimeToLive)
			return append(desc, ") for \"time_to_live\": must be between 0 and \"2419200\"\n"...), false
		}
	}
	if m.Priority.Present() {
		if m.Priority.Kind != ccs.JSONString {
			return typeError(desc, "priority", jString, &m.Priority), false
		}
		if p := m.Priority.Str; string(p) != "normal" && string(p) != "high" {
			desc = append(desc, "InvalidJson : INVALID_PRIORITY : Invalid value ("...)
			desc = appendEcho(desc, &m.Priority)
			return append(desc, ") for \"priority\": must be \"normal\" or \"high\"\n"...), false
		}
	}
	if m.Notification.Present() && m.Notification.Kind != ccs.JSONObject {
		return typeError(desc, "notification", jMap, &m.Notification), false
	}
	if m.RegistrationIDs.Present() {
		return append(desc, "InvalidJson : INVALID_FIELD : Field \"registration_ids\" is not supported by CCS: send one message per recipient with \"to\"\n"...), false
	}
	if !m.To.Present() && !m.Condition.Present() {
		return append(desc, "InvalidJson : JSON_PARSING_ERROR : Missing Required Field: to\n"...), false
	}
	if m.Data.Present() {
		if m.Data.Kind != ccs.JSONObject {
			return typeError(desc, "data", jMap, &m.Data), false
		}
		limit := MaxData
		if m.Condition.Present() || bytes.HasPrefix(m.To.Str, topicsPrefix) {
			limit = MaxTopicData
		}
		if dataPlainlyOK(m.Data.Raw, limit) {
			return desc, true
		}
		size, bad, err := r.DataCheck(m.Data.Raw)
		if err != nil { // Parse accepted the payload, so this is not expected
			desc = append(desc, "InvalidJson : JSON_PARSING_ERROR : Field \"data\": "...)
			return append(desc, err.Error()...), false
		}
		if bad != nil {
			desc = append(desc, "InvalidJson : INVALID_DATA_KEY : Key \""...)
			desc = appendTrunc(desc, bad)
			return append(desc, "\" in \"data\" is reserved (\"from\" and keys starting with \"google\")\n"...), false
		}
		if size > limit {
			desc = append(desc, "InvalidJson : MESSAGE_TOO_BIG : Field \"data\" has "...)
			desc = strconv.AppendInt(desc, int64(size), 10)
			desc = append(desc, " bytes, over the limit of "...)
			desc = strconv.AppendInt(desc, int64(limit), 10)
			return append(desc, "\n"...), false
		}
	}
	return desc, true
}

var (
	quotedFrom   = []byte(`"from"`)
	quotedGoogle = []byte(`"google`)
)

// dataPlainlyOK reports whether a "data" object is certainly within limit
// and free of forbidden keys without walking it: its raw text is no longer
// than limit (decoding only shrinks it) and has no escape and no quoted
// "from" or "google... at all.
func dataPlainlyOK(raw []byte, limit int) bool {
	return len(raw) <= limit && bytes.IndexByte(raw, '\\') < 0 &&
		!bytes.Contains(raw, quotedFrom) && !bytes.Contains(raw, quotedGoogle)
}

func typeError(desc []byte, field, javaType string, v *ccs.Value) []byte {
	desc = append(desc, "InvalidJson : JSON_TYPE_ERROR : Field \""...)
	desc = append(desc, field...)
	desc = append(desc, "\" must be a JSON "...)
	desc = append(desc, javaType...)
	desc = append(desc, ": "...)
	desc = appendEcho(desc, v)
	return append(desc, '\n')
}

// appendEcho quotes a value as CCS does: a string's contents, anything
// else as its JSON text, cut at maxEcho bytes.
func appendEcho(desc []byte, v *ccs.Value) []byte {
	if v.Kind == ccs.JSONString {
		return appendTrunc(desc, v.Str)
	}
	return appendTrunc(desc, v.Raw)
}

func appendTrunc(desc, b []byte) []byte {
	if len(b) > maxEcho {
		n := maxEcho
		for n > 0 && b[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
			n--
		}
		desc = append(desc, b[:n]...)
		return append(desc, "..."...)
	}
	return append(desc, b...)
}
