package ccs

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// loopReader serves head once, then body over and over: a stream that
// never ends, for benchmarks. Each Read copies what fits, like a socket.
type loopReader struct {
	head, body []byte
	off        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if len(l.head) > 0 {
		n := copy(p, l.head)
		l.head = l.head[n:]
		return n, nil
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.body[l.off:])
		n += c
		l.off += c
		if l.off == len(l.body) {
			l.off = 0
		}
	}
	return n, nil
}

// ackStanza is an ACK as CCS sends it to the app server.
func ackStanza(i int) []byte {
	return []byte(`<message><gcm xmlns="google:mobile:data">{"from":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","message_id":"m-` +
		itoa(1000000+i) + `","message_type":"ack"}</gcm></message>`)
}

// upstreamStanza is an upstream message as CCS delivers it.
func upstreamStanza(i int) []byte {
	return []byte(`<message to="123456789@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">{"category":"com.example.app","data":{"hello":"world","n":"42"},"message_id":"u-` +
		itoa(1000000+i) + `","from":"dGVzdC1yZWdpc3RyYXRpb24taWQtMDAwMDAwMDE","time_to_live":86400}</gcm></message>`)
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

func repeatStanzas(n int, mk func(int) []byte) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.Write(mk(i))
	}
	return b.Bytes()
}

func newLoopFramer(tb testing.TB, body []byte) *Framer {
	f := NewFramer(&loopReader{head: []byte(testHeader), body: body}, FramerConfig{})
	st, err := f.Next()
	if err != nil || st.Kind != KindStreamStart {
		tb.Fatalf("Next() = %v, %v; want the stream start", st, err)
	}
	return f
}

func BenchmarkFrameAcks1000(b *testing.B) {
	body := repeatStanzas(1000, ackStanza)
	f := newLoopFramer(b, body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		for range 1000 {
			st, err := f.Next()
			if err != nil || !st.HasGCM {
				b.Fatalf("Next() = %v, %v", st, err)
			}
		}
	}
}

func benchParse(b *testing.B, mk func(int) []byte) {
	body := repeatStanzas(100, mk)
	f := newLoopFramer(b, body)
	var r JSONReader
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(body) / 100))
	for b.Loop() {
		st, err := f.Next()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Parse(st.GCM, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAck frames one ACK and reads its JSON.
func BenchmarkParseAck(b *testing.B) { benchParse(b, ackStanza) }

// BenchmarkParseUpstream frames one upstream message and reads its JSON.
func BenchmarkParseUpstream(b *testing.B) { benchParse(b, upstreamStanza) }

var _ io.Reader = (*loopReader)(nil)

// BenchmarkFrameDrip frames a 32 KiB stanza (text full of '>', attributes,
// nested elements) arriving one byte per read: the cost stays linear in
// the stanza's length because the scan resumes at the cut token.
func BenchmarkFrameDrip(b *testing.B) {
	var s bytes.Buffer
	s.WriteString(`<message id="x>y>z"><gcm xmlns="google:mobile:data">`)
	for s.Len() < 16<<10 {
		s.WriteString(`{"a":"> > >"} `)
	}
	for s.Len() < 32<<10 {
		s.WriteString(`<x a='>'>&gt;&#62;<![CDATA[>>]]></x>`)
	}
	s.WriteString(`</gcm></message>`)
	stanza := s.Bytes()
	in := append([]byte(testHeader), stanza...)
	b.ReportAllocs()
	b.SetBytes(int64(len(stanza)))
	for b.Loop() {
		f := NewFramer(iotest.OneByteReader(bytes.NewReader(in)), FramerConfig{})
		for i := 0; i < 2; i++ {
			if _, err := f.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
