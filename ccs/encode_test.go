package ccs

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// xmlMessage is what encoding/xml sees of one encoded message stanza.
type xmlMessage struct {
	XMLName xml.Name `xml:"message"`
	ID      *string  `xml:"id,attr"`
	Type    string   `xml:"type,attr"`
	To      string   `xml:"to,attr"`
	From    string   `xml:"from,attr"`
	GCM     struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:"google:mobile:data gcm"`
	Error *struct {
		Code       string    `xml:"code,attr"`
		Type       string    `xml:"type,attr"`
		BadRequest *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-stanzas bad-request"`
		Text       string    `xml:"urn:ietf:params:xml:ns:xmpp-stanzas text"`
	} `xml:"error"`
}

// decodeStanza checks b with encoding/xml (inside a stream-like wrapper
// giving the jabber:client default namespace) and decodes its JSON payload.
func decodeStanza(t *testing.T, b []byte) (xmlMessage, map[string]any) {
	t.Helper()
	var m xmlMessage
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatalf("encoding/xml rejects %q: %v", b, err)
	}
	if m.GCM.XMLName.Space != NSGCM {
		t.Fatalf("gcm element in namespace %q; want %q in %q", m.GCM.XMLName.Space, NSGCM, b)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(m.GCM.Text), &j); err != nil {
		t.Fatalf("payload %q of %q is not JSON: %v", m.GCM.Text, b, err)
	}
	return m, j
}

const nasty = "a<b>&c\"d'e\\f\n\t\x01\x1f]]>é€😀"

func TestAppendDownstream(t *testing.T) {
	t.Parallel()
	payload, _ := json.Marshal(map[string]any{"to": nasty, "message_id": "m-1", "data": map[string]string{"k": nasty}})
	b := AppendDownstream([]byte("prefix"), payload)
	if !bytes.HasPrefix(b, []byte("prefix<message")) {
		t.Fatalf("AppendDownstream did not append: %q", b)
	}
	m, j := decodeStanza(t, b[len("prefix"):])
	if m.ID == nil || *m.ID != "" {
		t.Errorf("id attribute = %v; want empty and present", m.ID)
	}
	if j["to"] != nasty || j["data"].(map[string]any)["k"] != nasty {
		t.Errorf("payload round trip = %v", j)
	}
}

func TestAppendAckNack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    []byte
		want map[string]any
	}{
		{"ack", AppendAck(nil, []byte(nasty), []byte("m-1"), nil),
			map[string]any{"from": nasty, "message_id": "m-1", "message_type": "ack"}},
		{"ack canonical", AppendAck(nil, []byte("r"), []byte(nasty), []byte("canon")),
			map[string]any{"from": "r", "message_id": nasty, "message_type": "ack", "registration_id": "canon"}},
		{"nack", AppendNack(nil, []byte("r"), []byte("m-2"), "BAD_REGISTRATION", nil),
			map[string]any{"from": "r", "message_id": "m-2", "message_type": "nack", "error": "BAD_REGISTRATION"}},
		{"nack desc", AppendNack(nil, []byte("r"), []byte("m-3"), "INVALID_JSON", []byte(`InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live"`+"\n")),
			map[string]any{"from": "r", "message_id": "m-3", "message_type": "nack", "error": "INVALID_JSON",
				"error_description": `InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live"` + "\n"}},
		{"control", AppendControl(nil, "CONNECTION_DRAINING"),
			map[string]any{"message_type": "control", "control_type": "CONNECTION_DRAINING"}},
		{"upstream ack", AppendUpstreamAck(nil, []byte("REGID"), []byte("dr2:39")),
			map[string]any{"to": "REGID", "message_id": "dr2:39", "message_type": "ack"}},
		{"upstream", AppendUpstream(nil, &Upstream{To: []byte("1@gcm.googleapis.com"), Category: []byte("com.example"),
			From: []byte("REG&"), ID: []byte("u-1"), Data: []byte(`{"hello":"<world>"}`), TTL: 0}),
			map[string]any{"category": "com.example", "data": map[string]any{"hello": "<world>"}, "message_id": "u-1",
				"from": "REG&", "time_to_live": 0.0}},
		{"receipt", AppendReceipt(nil, &Receipt{To: []byte("1@gcm.googleapis.com"), Category: []byte("c"),
			RegistrationID: []byte("REG"), OriginalMessageID: []byte(`3"9`), SentMillis: 1498801519251}),
			map[string]any{"category": "c", "from": Domain, "message_id": `dr2:3"9`, "message_type": "receipt", "time_to_live": 0.0,
				"data": map[string]any{"device_registration_id": "REG", "message_sent_timestamp": "1498801519251",
					"message_status": "MESSAGE_SENT_TO_DEVICE", "original_message_id": `3"9`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, j := decodeStanza(t, tt.b)
			if !reflect.DeepEqual(j, tt.want) {
				t.Errorf("payload = %v; want %v", j, tt.want)
			}
		})
	}
}

func TestAppendNackPrefixedNamespace(t *testing.T) {
	t.Parallel()
	b := AppendNack(nil, []byte("r"), []byte("m"), "BAD_ACK", nil)
	if !bytes.Contains(b, []byte(`<data:gcm xmlns:data="google:mobile:data">`)) {
		t.Errorf("AppendNack = %q; want the prefixed data:gcm form CCS uses", b)
	}
}

func TestAppendUpstreamAttributes(t *testing.T) {
	t.Parallel()
	m, _ := decodeStanza(t, AppendUpstream(nil, &Upstream{To: []byte(`1"@x`), ID: []byte("u")}))
	if m.To != `1"@x` || m.From != DevicesJID || m.Type != "normal" {
		t.Errorf("attributes to=%q from=%q type=%q", m.To, m.From, m.Type)
	}
}

func TestAppendStanzaError(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"random": "<text>"}`)
	b := AppendStanzaError(nil, []byte("3"), []byte("1@gcm.googleapis.com/ABC"), payload,
		[]byte(`InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\n`))
	var m xmlMessage
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatalf("encoding/xml rejects %q: %v", b, err)
	}
	if m.Type != "error" || *m.ID != "3" || m.To != "1@gcm.googleapis.com/ABC" {
		t.Errorf("attributes = %+v", m)
	}
	if m.GCM.Text != string(payload) {
		t.Errorf("echoed payload = %q; want %q", m.GCM.Text, payload)
	}
	if m.Error == nil || m.Error.Code != "400" || m.Error.Type != "modify" || m.Error.BadRequest == nil ||
		!strings.HasPrefix(m.Error.Text, "InvalidJson: JSON_PARSING_ERROR") {
		t.Errorf("error = %+v", m.Error)
	}
}

func TestAppendStreamError(t *testing.T) {
	t.Parallel()
	b := AppendStreamError(nil, CondPolicyViolation, "too <big>")
	doc := `<stream:stream xmlns:stream="` + NSStream + `">` + string(b)
	d := xml.NewDecoder(strings.NewReader(doc))
	var names []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Space+" "+se.Name.Local)
		}
	}
	want := []string{NSStream + " stream", NSStream + " error", NSStreams + " policy-violation", NSStreams + " text"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("elements = %q; want %q", names, want)
	}
	if !bytes.HasSuffix(b, []byte(StreamEnd)) {
		t.Errorf("AppendStreamError = %q; want the stream closed", b)
	}
}

func TestAppendIQ(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{AppendIQResult(nil, []byte(`p"1`)), AppendIQError(nil, []byte("x")), AppendPing(nil, []byte("p1"))} {
		if err := xml.Unmarshal(b, new(struct{})); err != nil {
			t.Errorf("encoding/xml rejects %q: %v", b, err)
		}
	}
}

var (
	benchPayload = []byte(`{"to":"dXNlcl9yZWdpc3RyYXRpb25fdG9rZW5fMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo","message_id":"m-1234567","time_to_live":600,"data":{"hello":"world","n":"0123456789abcdef"}}`)
	benchFrom    = []byte("dXNlcl9yZWdpc3RyYXRpb25fdG9rZW5fMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo")
	benchID      = []byte("m-1234567")
)

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	up := &Upstream{To: []byte("1@gcm.googleapis.com"), Category: []byte("c"), From: benchFrom, ID: benchID, Data: []byte(`{"a":"b"}`)}
	rc := &Receipt{To: up.To, Category: up.Category, RegistrationID: benchFrom, OriginalMessageID: benchID}
	tests := map[string]func(){
		"AppendDownstream":  func() { buf = AppendDownstream(buf[:0], benchPayload) },
		"AppendAck":         func() { buf = AppendAck(buf[:0], benchFrom, benchID, nil) },
		"AppendNack":        func() { buf = AppendNack(buf[:0], benchFrom, benchID, "SERVICE_UNAVAILABLE", nil) },
		"AppendUpstreamAck": func() { buf = AppendUpstreamAck(buf[:0], benchFrom, benchID) },
		"AppendUpstream":    func() { buf = AppendUpstream(buf[:0], up) },
		"AppendReceipt":     func() { buf = AppendReceipt(buf[:0], rc) },
		"AppendControl":     func() { buf = AppendControl(buf[:0], "CONNECTION_DRAINING") },
	}
	for name, f := range tests {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call; want 0", name, n)
		}
	}
}

func BenchmarkAppendDownstream(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		buf = AppendDownstream(buf[:0], benchPayload)
	}
}

func BenchmarkAppendAck(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAck(buf[:0], benchFrom, benchID, nil)
	}
}

func BenchmarkAppendNack(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendNack(buf[:0], benchFrom, benchID, "SERVICE_UNAVAILABLE", nil)
	}
}

func BenchmarkAppendUpstreamAck(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendUpstreamAck(buf[:0], benchFrom, benchID)
	}
}

func TestAppendTextMatchesReference(t *testing.T) {
	t.Parallel()
	ref := func(s []byte) []byte {
		r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
		return []byte(r.Replace(string(s)))
	}
	alphabet := []byte("ab<>&\"\x00\xff")
	for n := 0; n < 40; n++ {
		for seed := 0; seed < 50; seed++ {
			s := make([]byte, n)
			x := uint32(seed*7919 + n)
			for i := range s {
				x = x*1664525 + 1013904223
				s[i] = alphabet[x>>29]
			}
			if got, want := appendText(nil, s), ref(s); !bytes.Equal(got, want) {
				t.Fatalf("appendText(%q) = %q; want %q", s, got, want)
			}
		}
	}
}

func TestParseWireForm(t *testing.T) {
	t.Parallel()
	for _, f := range []WireForm{WireDocumented, WirePrefixed, WireDefaultNS} {
		if got, err := ParseWireForm(f.String()); err != nil || got != f {
			t.Errorf("ParseWireForm(%q) = %v, %v; want %v", f.String(), got, err, f)
		}
	}
	if got, err := ParseWireForm(""); err != nil || got != WireDocumented {
		t.Errorf(`ParseWireForm("") = %v, %v; want documented`, got, err)
	}
	for _, s := range []string{"Prefixed", "default", "x"} {
		if _, err := ParseWireForm(s); !errors.Is(err, ErrWireForm) {
			t.Errorf("ParseWireForm(%q) error = %v; want ErrWireForm", s, err)
		}
	}
}

// TestWireForms checks every server stanza in every form: the gcm element
// is written as the form says, encoding/xml and the Framer both find it by
// namespace, and its payload is the same in every form.
func TestWireForms(t *testing.T) {
	t.Parallel()
	up := &Upstream{To: []byte("1@fcm.googleapis.com"), Category: []byte("c"), From: []byte("R"), ID: []byte("u-1"), Data: []byte(`{"a":"<b>"}`)}
	rc := &Receipt{To: up.To, Category: up.Category, RegistrationID: []byte("R"), OriginalMessageID: []byte("m&1"), SentMillis: 7}
	stanzas := []struct {
		name     string
		prefixed bool // in the documented form
		enc      func(WireForm) []byte
	}{
		{"ack", false, func(f WireForm) []byte { return f.AppendAck(nil, []byte("R"), []byte("m-1"), []byte("C")) }},
		{"nack", true, func(f WireForm) []byte { return f.AppendNack(nil, []byte("R"), []byte("m-1"), "BAD_ACK", []byte("d<")) }},
		{"control", true, func(f WireForm) []byte { return f.AppendControl(nil, "CONNECTION_DRAINING") }},
		{"upstream", false, func(f WireForm) []byte { return f.AppendUpstream(nil, up) }},
		{"receipt", false, func(f WireForm) []byte { return f.AppendReceipt(nil, rc) }},
		{"stanza error", false, func(f WireForm) []byte {
			return f.AppendStanzaError(nil, []byte("3"), []byte("1@gcm.googleapis.com/r"), []byte(`{"x":"<&>"}`), []byte("t"))
		}},
	}
	for _, st := range stanzas {
		want := st.enc(WireDocumented)
		_, wantJSON := decodeStanza(t, want)
		for _, f := range []WireForm{WireDocumented, WirePrefixed, WireDefaultNS} {
			b := st.enc(f)
			prefixed := f == WirePrefixed || f == WireDocumented && st.prefixed
			hasData := bytes.Contains(b, []byte(`<data:gcm xmlns:data="google:mobile:data">`)) && bytes.Contains(b, []byte(`</data:gcm>`))
			hasPlain := bytes.Contains(b, []byte(`<gcm xmlns="google:mobile:data">`)) && bytes.Contains(b, []byte(`</gcm>`))
			if hasData != prefixed || hasPlain == prefixed {
				t.Errorf("%s in form %v = %q; want the gcm element prefixed: %v", st.name, f, b, prefixed)
			}
			if st.name == "stanza error" {
				var m xmlMessage
				if err := xml.Unmarshal(b, &m); err != nil || m.GCM.XMLName.Space != NSGCM || m.GCM.Text != `{"x":"<&>"}` {
					t.Errorf("%s in form %v: encoding/xml gives %+v, %v", st.name, f, m, err)
				}
			} else if _, j := decodeStanza(t, b); !reflect.DeepEqual(j, wantJSON) {
				t.Errorf("%s in form %v: payload %v; want %v", st.name, f, j, wantJSON)
			}
			fr := NewFramer(bytes.NewReader(append([]byte(testHeader), b...)), FramerConfig{})
			if _, err := fr.Next(); err != nil {
				t.Fatal(err)
			}
			item, err := fr.Next()
			if err != nil || !item.HasGCM || !json.Valid(item.GCM) && st.name != "stanza error" {
				t.Errorf("%s in form %v: Framer gives %+v, %v; want the gcm payload", st.name, f, item, err)
			}
		}
	}
}

func TestWireFormAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	up := &Upstream{To: []byte("1@gcm.googleapis.com"), Category: []byte("c"), From: benchFrom, ID: benchID, Data: []byte(`{"a":"b"}`)}
	rc := &Receipt{To: up.To, Category: up.Category, RegistrationID: benchFrom, OriginalMessageID: benchID}
	for _, f := range []WireForm{WirePrefixed, WireDefaultNS} {
		for name, fn := range map[string]func(){
			"AppendAck":         func() { buf = f.AppendAck(buf[:0], benchFrom, benchID, nil) },
			"AppendNack":        func() { buf = f.AppendNack(buf[:0], benchFrom, benchID, "SERVICE_UNAVAILABLE", nil) },
			"AppendControl":     func() { buf = f.AppendControl(buf[:0], "CONNECTION_DRAINING") },
			"AppendUpstream":    func() { buf = f.AppendUpstream(buf[:0], up) },
			"AppendReceipt":     func() { buf = f.AppendReceipt(buf[:0], rc) },
			"AppendStanzaError": func() { buf = f.AppendStanzaError(buf[:0], benchID, benchFrom, benchPayload, benchID) },
		} {
			if n := testing.AllocsPerRun(100, fn); n != 0 {
				t.Errorf("%v.%s allocates %v times per call; want 0", f, name, n)
			}
		}
	}
}
