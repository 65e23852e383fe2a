package ccs

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestJSONParseShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		typ  MessageType
		want map[string]string // field -> decoded string, or raw JSON for other kinds
	}{
		{"ack", `{"from":"REGID","message_id":"m-1","message_type":"ack"}`, TypeAck,
			map[string]string{"from": "REGID", "message_id": "m-1", "message_type": "ack"}},
		{"ack with registration_id", `{"from":"REGID","message_id":"m-1","message_type":"ack","registration_id":"CANONICAL"}`, TypeAck,
			map[string]string{"registration_id": "CANONICAL"}},
		{"nack INVALID_TTL", `{"error":"InvalidJson : INVALID_TTL : Invalid value (-1) for \"time_to_live\": must be between 0 and \"2419200\"\n","message_id":"msgId1","from":"APA91bHFOtaQGSwupt5l1og","message_type":"nack"}`, TypeNack,
			map[string]string{"error": "InvalidJson : INVALID_TTL : Invalid value (-1) for \"time_to_live\": must be between 0 and \"2419200\"\n", "message_id": "msgId1"}},
		{"nack with description", `{"message_type":"nack","message_id":"m-1","from":"R","error":"SERVICE_UNAVAILABLE","error_description":"try later"}`, TypeNack,
			map[string]string{"error": "SERVICE_UNAVAILABLE", "error_description": "try later"}},
		{"control", `{"message_type":"control","control_type":"CONNECTION_DRAINING"}`, TypeControl,
			map[string]string{"control_type": "CONNECTION_DRAINING"}},
		{"upstream", `{"category":"com.example.app","data":{"hello":"world"},"message_id":"m-123","from":"REGID","time_to_live":10}`, TypeNone,
			map[string]string{"category": "com.example.app", "data": `{"hello":"world"}`, "time_to_live": "10", "from": "REGID"}},
		{"receipt", `{"category":"com.example.app","data":{"device_registration_id":"REGID","message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":"39"},"from":"gcm.googleapis.com","message_id":"dr2:39","message_type":"receipt","time_to_live":0}`, TypeReceipt,
			map[string]string{"message_id": "dr2:39", "time_to_live": "0"}},
		{"downstream, every field", " \n{ \"to\" : \"R\", \"condition\":\"'a' in topics\",\"message_id\":\"m\",\"collapse_key\":\"k\",\"priority\":\"high\",\"content_available\":true,\"mutable_content\":false,\"time_to_live\":600,\"delay_while_idle\":true,\"dry_run\":false,\"delivery_receipt_requested\":true,\"data\":{\"a\":[1,2.5e3,null]},\"notification\":{\"title\":\"t\"},\"registration_ids\":[\"a\",\"b\"],\"unknown\":{\"x\":[{}]}}\r\n", TypeNone,
			map[string]string{"to": "R", "condition": "'a' in topics", "collapse_key": "k", "priority": "high",
				"content_available": "true", "mutable_content": "false", "delay_while_idle": "true", "dry_run": "false",
				"delivery_receipt_requested": "true", "data": `{"a":[1,2.5e3,null]}`, "notification": `{"title":"t"}`,
				"registration_ids": `["a","b"]`}},
		{"escapes", `{"message_id":"a\"b\\c\/d\b\f\n\r\t\u00e9\u65E5\ud83d\ude00"}`, TypeNone,
			map[string]string{"message_id": "a\"b\\c/d\b\f\n\r\t\u00e9\u65e5\U0001F600"}},
		{"lone surrogates", `{"message_id":"\ud800x\udc00\ud800\u0041\ud800\ud800\udc00"}`, TypeNone,
			map[string]string{"message_id": "\uFFFDx\uFFFD\uFFFDA\uFFFD\U00010000"}},
		{"invalid UTF-8", "{\"message_id\":\"a\xffb\xc3\"}", TypeNone,
			map[string]string{"message_id": "a\uFFFDb\uFFFD"}},
		{"duplicate key: last wins", `{"message_id":"1","message_id":"2"}`, TypeNone,
			map[string]string{"message_id": "2"}},
		{"escaped key", `{"message\u005fid":"k"}`, TypeNone, map[string]string{"message_id": "k"}},
		{"unknown type", `{"message_type":"pong"}`, TypeOther, nil},
		{"non-string type", `{"message_type":1}`, TypeOther, map[string]string{"message_type": "1"}},
		{"null field", `{"to":null}`, TypeNone, map[string]string{"to": "null"}},
		{"empty object", `{}`, TypeNone, nil},
	}
	var r JSONReader
	for _, tc := range cases {
		var m Message
		if err := r.Parse([]byte(tc.in), &m); err != nil {
			t.Errorf("%s: Parse(%q) = %v", tc.name, tc.in, err)
			continue
		}
		if m.Type != tc.typ {
			t.Errorf("%s: Type = %v; want %v", tc.name, m.Type, tc.typ)
		}
		for k, want := range tc.want {
			v := m.field([]byte(k))
			got := string(v.Raw)
			if v.Kind == JSONString {
				got = string(v.Str)
				if !bytes.HasPrefix(v.Raw, []byte(`"`)) {
					t.Errorf("%s: %s.Raw = %q; want the quoted string", tc.name, k, v.Raw)
				}
			}
			if got != want {
				t.Errorf("%s: %s = %q; want %q", tc.name, k, got, want)
			}
		}
	}
}

func TestJSONTTL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		ttl  int64
		has  bool
		kind ValueKind
	}{
		{"600", 600, true, JSONNumber},
		{"0", 0, true, JSONNumber},
		{"-1", -1, true, JSONNumber},
		{"-0", 0, true, JSONNumber},
		{"2419201", 2419201, true, JSONNumber},
		{"9223372036854775807", 1<<63 - 1, true, JSONNumber},
		{"-9223372036854775808", -1 << 63, true, JSONNumber},
		{"9223372036854775808", 0, false, JSONNumber},
		{"-9223372036854775809", 0, false, JSONNumber},
		{"99999999999999999999999", 0, false, JSONNumber},
		{"1.5", 0, false, JSONNumber},
		{"1e3", 0, false, JSONNumber},
		{"1.0", 0, false, JSONNumber},
		{`"600"`, 0, false, JSONString},
		{"true", 0, false, JSONBool},
		{"null", 0, false, JSONNull},
	}
	var r JSONReader
	for _, tc := range cases {
		var m Message
		in := `{"time_to_live":` + tc.raw + `}`
		if err := r.Parse([]byte(in), &m); err != nil {
			t.Errorf("Parse(%s) = %v", in, err)
			continue
		}
		if m.TTL != tc.ttl || m.HasTTL != tc.has || m.TimeToLive.Kind != tc.kind || string(m.TimeToLive.Raw) != tc.raw {
			t.Errorf("Parse(%s): TTL %d %v kind %v raw %q; want %d %v %v", in, m.TTL, m.HasTTL, m.TimeToLive.Kind, m.TimeToLive.Raw, tc.ttl, tc.has, tc.kind)
		}
	}
}

var jsonErrorCases = []struct {
	name string
	in   string
	off  int // offset of the error
}{
	{"empty", ``, 0},
	{"white space only", " \n", 2},
	{"array", `[1]`, 0},
	{"string", `"a"`, 0},
	{"number", `1`, 0},
	{"two objects", `{}{}`, 2},
	{"trailing garbage", `{"a":1} x`, 8},
	{"trailing comma", `{"a":1,}`, 7},
	{"trailing comma in array", `{"a":[1,]}`, 8},
	{"missing colon", `{"a" 1}`, 5},
	{"missing comma", `{"a":1 "b":2}`, 7},
	{"unquoted key", `{a:1}`, 1},
	{"single quotes", `{'a':1}`, 1},
	{"unterminated object", `{"a":1`, 6},
	{"unterminated string", `{"a":"x`, 5},
	{"unterminated array", `{"a":[1`, 7},
	{"leading zero", `{"a":01}`, 6},
	{"plus sign", `{"a":+1}`, 5},
	{"bare minus", `{"a":-}`, 5},
	{"dot without digits", `{"a":1.}`, 5},
	{"leading dot", `{"a":.5}`, 5},
	{"exponent without digits", `{"a":1e}`, 5},
	{"exponent sign only", `{"a":1e+}`, 5},
	{"NaN", `{"a":NaN}`, 5},
	{"Infinity", `{"a":Infinity}`, 5},
	{"hex number", `{"a":0x10}`, 6},
	{"bad literal", `{"a":tru}`, 5},
	{"literal prefix", `{"a":truex}`, 9},
	{"capital literal", `{"a":True}`, 5},
	{"raw newline in string", "{\"a\":\"x\ny\"}", 7},
	{"raw tab in string", "{\"a\":\"x\ty\"}", 7},
	{"NUL in string", "{\"a\":\"\x00\"}", 6},
	{"bad escape", `{"a":"\x"}`, 6},
	{"single-quote escape", `{"a":"\'"}`, 6},
	{`short \u escape`, `{"a":"\u12"}`, 6},
	{`bad \u digit`, `{"a":"\u12g4"}`, 6},
	{"escape at end", `{"a":"\`, 5},
	{"comment", `{"a":1 /* c */}`, 7},
	{"control in key", "{\"a\x01\":1}", 3},
	{"nested error", `{"a":{"b":[1,{"c":}]}}`, 18},
	{"too deep", strings.Repeat(`{"a":`, MaxJSONDepth) + `{}` + strings.Repeat(`}`, MaxJSONDepth), 5 * MaxJSONDepth},
	{"too deep arrays", `{"a":` + strings.Repeat(`[`, MaxJSONDepth) + strings.Repeat(`]`, MaxJSONDepth) + `}`, 5 + MaxJSONDepth - 1},
}

func TestJSONParseErrors(t *testing.T) {
	t.Parallel()
	var r JSONReader
	for _, tc := range jsonErrorCases {
		var m Message
		err := r.Parse([]byte(tc.in), &m)
		var je *JSONError
		if !errors.As(err, &je) {
			t.Errorf("%s: Parse(%q) = %v; want a *JSONError", tc.name, tc.in, err)
			continue
		}
		if je.Offset != tc.off || je.Detail == "" || !strings.HasPrefix(err.Error(), "ccs: invalid JSON payload: ") {
			t.Errorf("%s: Parse(%q) = %v at %d; want offset %d", tc.name, tc.in, err, je.Offset, tc.off)
		}
		if json.Valid([]byte(tc.in)) && !strings.HasPrefix(tc.name, "too deep") && tc.in != "[1]" && tc.in != `"a"` && tc.in != "1" {
			t.Errorf("%s: encoding/json accepts %q", tc.name, tc.in)
		}
	}
	// Exactly at the depth limit: accepted.
	ok := strings.Repeat(`{"a":`, MaxJSONDepth-1) + `{}` + strings.Repeat(`}`, MaxJSONDepth-1)
	var m Message
	if err := r.Parse([]byte(ok), &m); err != nil {
		t.Errorf("Parse at depth %d = %v", MaxJSONDepth, err)
	}
}

func TestJSONZeroCopy(t *testing.T) {
	t.Parallel()
	in := []byte(`{"message_id":"m-1","from":"a\nb"}`)
	var r JSONReader
	var m Message
	if err := r.Parse(in, &m); err != nil {
		t.Fatal(err)
	}
	if &m.MessageID.Str[0] != &in[15] {
		t.Errorf("MessageID.Str is a copy; want a slice of the input")
	}
	if string(m.From.Str) != "a\nb" || &m.From.Raw[0] != &in[27] {
		t.Errorf("From = %q raw %q", m.From.Str, m.From.Raw)
	}
}

func TestDataCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in        string
		size      int
		forbidden string
	}{
		{`{}`, 0, ""},
		{`{"hello":"world"}`, 10, ""},
		{` { "a" : 12 , "b" : [1, 2] , "c":null,"d":{"x":"y"}} `, 1 + 2 + 1 + 6 + 1 + 4 + 1 + 9, ""},
		{`{"k":"\u00e9\n"}`, 1 + 3, ""},
		{`{"from":"x"}`, 5, "from"},
		{`{"a":"b","google.x":"y","from":"z"}`, 2 + 9 + 5, "google.x"},
		{`{"googl":"x"}`, 6, ""},
		{`{"go\u006fgle":"x"}`, 7, "google"},
		{`{"From":"x"}`, 5, ""},
	}
	var r JSONReader
	for _, tc := range cases {
		size, forbidden, err := r.DataCheck([]byte(tc.in))
		if err != nil || size != tc.size || string(forbidden) != tc.forbidden {
			t.Errorf("DataCheck(%s) = %d, %q, %v; want %d, %q", tc.in, size, forbidden, err, tc.size, tc.forbidden)
		}
	}
	for _, in := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":1}x`, `{"a":1,}`} {
		var je *JSONError
		if _, _, err := r.DataCheck([]byte(in)); !errors.As(err, &je) {
			t.Errorf("DataCheck(%q) = %v; want a *JSONError", in, err)
		}
	}
	// DataCheck after Parse leaves the parsed values intact.
	var m Message
	if err := r.Parse([]byte(`{"message_id":"\u0041","data":{"g\u006f\u006fgle":"\u00e9"}}`), &m); err != nil {
		t.Fatal(err)
	}
	if _, f, err := r.DataCheck(m.Data.Raw); err != nil || string(f) != "google" || string(m.MessageID.Str) != "A" {
		t.Errorf("DataCheck after Parse: %q, %v; MessageID %q", f, err, m.MessageID.Str)
	}
}

func TestJSONAllocs(t *testing.T) {
	var r JSONReader
	var m Message
	for _, p := range benchPayloads {
		p := p
		if err := r.Parse(p.b, &m); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = r.Parse(p.b, &m) }); n != 0 {
			t.Errorf("Parse(%s): %v allocations; want 0", p.name, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			_ = r.Parse(p.b, &m)
			_, _, _ = r.DataCheck(m.Data.Raw)
		}); n != 0 && m.Data.Present() {
			t.Errorf("DataCheck(%s): %v allocations; want 0", p.name, n)
		}
	}
	esc := []byte(`{"message_id":"\u00e9\ud83d\ude00","from":"a\"b"}`)
	if n := testing.AllocsPerRun(100, func() { _ = r.Parse(esc, &m) }); n != 0 {
		t.Errorf("Parse with escapes: %v allocations; want 0", n)
	}
}

// jsonDepth returns the deepest nesting of a valid JSON text.
func jsonDepth(b []byte) int {
	depth, max := 0, 0
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			if depth++; depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// FuzzJSONReader checks Parse against encoding/json: the same verdict
// (json.Valid and an object at the top; the only intentional divergence is
// the nesting limit, MaxJSONDepth against encoding/json's 10000) and, for
// every known field, the same presence, raw text and decoded string.
func FuzzJSONReader(f *testing.F) {
	for _, p := range benchPayloads {
		f.Add(p.b)
	}
	for _, tc := range jsonErrorCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"message_id":"\ud800\u0041\ud83d\ude00\xff","time_to_live":-9223372036854775808}`))
	f.Add([]byte(`{"time_to_live":12.5e-3,"message_type":"nack","dry_run":[true,{"a":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r JSONReader
		var m Message
		err := r.Parse(b, &m)
		var je *JSONError
		if err != nil && !errors.As(err, &je) {
			t.Fatalf("Parse error %T; want *JSONError", err)
		}
		i := 0
		for i < len(b) && strings.IndexByte(" \t\r\n", b[i]) >= 0 {
			i++
		}
		valid := json.Valid(b) && i < len(b) && b[i] == '{' && jsonDepth(b) <= MaxJSONDepth
		if (err == nil) != valid {
			t.Fatalf("Parse(%q) = %v; encoding/json valid object: %v", b, err, valid)
		}
		if err != nil {
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatalf("json.Unmarshal: %v", err)
		}
		for _, name := range knownFields {
			v := m.field([]byte(name))
			raw, ok := fields[name]
			if v.Present() != ok || ok && !bytes.Equal(v.Raw, raw) {
				t.Fatalf("%s: %v %q; encoding/json %v %q", name, v.Present(), v.Raw, ok, raw)
			}
			if !ok {
				continue
			}
			if v.Kind == JSONString {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil || s != string(v.Str) {
					t.Fatalf("%s: Str %q; encoding/json %q (%v)", name, v.Str, s, err)
				}
			} else if kindOfRaw(raw) != v.Kind {
				t.Fatalf("%s: kind %v for %q", name, v.Kind, raw)
			}
		}
		if raw, ok := fields["time_to_live"]; ok {
			n, perr := strconv.ParseInt(string(raw), 10, 64)
			if (perr == nil) != m.HasTTL || m.HasTTL && n != m.TTL {
				t.Fatalf("TTL %d %v; strconv %d %v", m.TTL, m.HasTTL, n, perr)
			}
		}
	})
}

var knownFields = []string{"message_id", "message_type", "to", "from", "condition", "error",
	"error_description", "control_type", "category", "registration_id", "collapse_key", "priority",
	"time_to_live", "delay_while_idle", "dry_run", "delivery_receipt_requested", "content_available",
	"mutable_content", "data", "notification", "registration_ids"}

func kindOfRaw(raw []byte) ValueKind {
	switch raw[0] {
	case '"':
		return JSONString
	case '{':
		return JSONObject
	case '[':
		return JSONArray
	case 't', 'f':
		return JSONBool
	case 'n':
		return JSONNull
	}
	return JSONNumber
}

// FuzzDataCheck checks DataCheck against encoding/json's tokens: the same
// verdict, the size (keys and string values decoded, other values by their
// JSON text) and the first forbidden key.
func FuzzDataCheck(f *testing.F) {
	f.Add([]byte(`{"hello":"world","from":"x"}`))
	f.Add([]byte(`{"a":[1,{"b":"c"}],"google.x":"\u00e9","googlf":null}`))
	f.Add([]byte(`{"\u0066rom":1.5e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r JSONReader
		size, forbidden, err := r.DataCheck(b)
		i := 0
		for i < len(b) && strings.IndexByte(" \t\r\n", b[i]) >= 0 {
			i++
		}
		valid := json.Valid(b) && i < len(b) && b[i] == '{' && jsonDepth(b) <= MaxJSONDepth
		if (err == nil) != valid {
			t.Fatalf("DataCheck(%q) = %v; encoding/json valid object: %v", b, err, valid)
		}
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		if _, err := d.Token(); err != nil {
			t.Fatal(err)
		}
		wantSize := 0
		var wantForbidden []byte
		for d.More() {
			k, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			key := k.(string)
			wantSize += len(key)
			if wantForbidden == nil && (key == "from" || strings.HasPrefix(key, "google")) {
				wantForbidden = []byte(key)
			}
			var raw json.RawMessage
			if err := d.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if raw[0] == '"' {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				wantSize += len(s)
			} else {
				wantSize += len(raw)
			}
		}
		if size != wantSize || !bytes.Equal(forbidden, wantForbidden) {
			t.Fatalf("DataCheck(%q) = %d, %q; want %d, %q", b, size, forbidden, wantSize, wantForbidden)
		}
	})
}
