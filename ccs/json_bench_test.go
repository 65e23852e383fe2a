package ccs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// Payloads shared by the JSON benchmarks and tests: what a client reads
// (ack, nack, upstream) and what the fake reads (a downstream message of
// about 2 KiB).
var (
	benchAck      = []byte(`{"from":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","message_id":"m-1234567","message_type":"ack"}`)
	benchNack     = []byte(`{"message_type":"nack","message_id":"m-1234567","from":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","error":"BAD_REGISTRATION","error_description":"The device has a registration ID, but it's invalid or expired"}`)
	benchUpstream = []byte(`{"category":"com.example.app","data":{"hello":"world","n":"42"},"message_id":"u-1234567","from":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","time_to_live":86400}`)
	benchDown2K   = func() []byte {
		var b bytes.Buffer
		b.WriteString(`{"to":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","message_id":"m-1234567","priority":"high","time_to_live":600,"delay_while_idle":false,"delivery_receipt_requested":true,"data":{`)
		for i := 0; b.Len() < 2000; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"key` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `":"` + strings.Repeat("v", 20+i%13) + `"`)
		}
		b.WriteString(`},"notification":{"title":"Hello","body":"World \u00e9\n"}}`)
		return b.Bytes()
	}()
)

var benchPayloads = []struct {
	name string
	b    []byte
}{
	{"Ack", benchAck}, {"Nack", benchNack}, {"Upstream", benchUpstream}, {"Down2K", benchDown2K},
}

// fastjsonReader fills a Message with github.com/valyala/fastjson, for the
// benchmark comparison only. strict adds fastjson.ValidateBytes, which
// Parse needs to reject what RFC 8259 forbids (raw control characters and
// bad escapes in strings, which fastjson's parser lets through).
type fastjsonReader struct {
	p       fastjson.Parser
	scratch []byte
	strict  bool
}

func (r *fastjsonReader) parse(b []byte, m *Message) error {
	*m = Message{}
	if r.strict {
		if err := fastjson.ValidateBytes(b); err != nil {
			return err
		}
	}
	v, err := r.p.ParseBytes(b)
	if err != nil {
		return err
	}
	o, err := v.Object()
	if err != nil {
		return err
	}
	r.scratch = r.scratch[:0]
	o.Visit(func(key []byte, v *fastjson.Value) {
		f := m.field(key)
		if f == nil {
			return
		}
		s := len(r.scratch)
		r.scratch = v.MarshalTo(r.scratch)
		f.Raw = r.scratch[s:]
		switch v.Type() {
		case fastjson.TypeString:
			f.Kind = JSONString
			f.Str, _ = v.StringBytes()
		case fastjson.TypeNumber:
			f.Kind = JSONNumber
		case fastjson.TypeTrue, fastjson.TypeFalse:
			f.Kind = JSONBool
		case fastjson.TypeNull:
			f.Kind = JSONNull
		case fastjson.TypeObject:
			f.Kind = JSONObject
		case fastjson.TypeArray:
			f.Kind = JSONArray
		}
	})
	m.finish()
	return nil
}

func BenchmarkJSONAck(b *testing.B) {
	var r JSONReader
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAck)))
	for b.Loop() {
		if err := r.Parse(benchAck, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHand(b *testing.B, p []byte) {
	var r JSONReader
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := r.Parse(p, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFast(b *testing.B, p []byte, strict bool) {
	r := fastjsonReader{strict: strict}
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := r.parse(p, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAck_Hand(b *testing.B)          { benchHand(b, benchAck) }
func BenchmarkParseAck_Fastjson(b *testing.B)      { benchFast(b, benchAck, true) }
func BenchmarkParseAck_FastjsonLax(b *testing.B)   { benchFast(b, benchAck, false) }
func BenchmarkParseNack_Hand(b *testing.B)         { benchHand(b, benchNack) }
func BenchmarkParseNack_Fastjson(b *testing.B)     { benchFast(b, benchNack, true) }
func BenchmarkParseNack_FastjsonLax(b *testing.B)  { benchFast(b, benchNack, false) }
func BenchmarkParseUpstreamJSON_Hand(b *testing.B) { benchHand(b, benchUpstream) }
func BenchmarkParseUpstreamJSON_Fastjson(b *testing.B) {
	benchFast(b, benchUpstream, true)
}
func BenchmarkParseUpstreamJSON_FastjsonLax(b *testing.B) { benchFast(b, benchUpstream, false) }
func BenchmarkParseDown2K_Hand(b *testing.B)              { benchHand(b, benchDown2K) }
func BenchmarkParseDown2K_Fastjson(b *testing.B)          { benchFast(b, benchDown2K, true) }
func BenchmarkParseDown2K_FastjsonLax(b *testing.B)       { benchFast(b, benchDown2K, false) }
