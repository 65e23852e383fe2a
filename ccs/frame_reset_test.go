package ccs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// items frames the whole stream and describes every item and the error
// that ended it.
func items(f *Framer) []string {
	var out []string
	for {
		st, err := f.Next()
		if err != nil {
			return append(out, fmt.Sprintf("err %v", err))
		}
		out = append(out, fmt.Sprintf("%v raw=%q id=%q gcm=%q/%v child=%q text=%q", st.Kind, st.Raw, st.ID, st.GCM, st.HasGCM, st.Child, st.Text))
	}
}

func TestFramerReset(t *testing.T) {
	t.Parallel()
	streams := []string{
		hdr + `<message id="1"><gcm xmlns="google:mobile:data">{"a":"&lt;b&gt;"}</gcm></message> <iq type="get" id="p"><ping xmlns="urn:xmpp:ping"/></iq></stream:stream>`,
		hdr + `<message><data:gcm xmlns:data="google:mobile:data"><![CDATA[{"x":1}]]></data:gcm></message>`,
		hdr + `<message><gcm xmlns="google:mobile:data">` + strings.Repeat("x", 40<<10) + `</gcm></message></stream:stream>`,
		hdr + `<message><unclosed>`,
		`<?xml version="1.0"?>` + hdr + `<!-- restricted -->`,
		hdr + `<message id="2"><gcm xmlns="google:mobile:data">{}</gcm></message></stream:stream>`,
	}
	cfg := FramerConfig{ReadSize: 1024}
	reused := NewFramer(strings.NewReader(""), cfg)
	items(reused)
	for i, s := range streams {
		want := items(NewFramer(strings.NewReader(s), cfg))
		reused.Reset(strings.NewReader(s))
		got := items(reused)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("stream %d after Reset:\n%s\nwant (a new Framer):\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// A Reset in the middle of a stanza forgets it.
	f := NewFramer(io.MultiReader(strings.NewReader(hdr+`<message><gcm xmlns="google:mobile:data">{`), errReader{}), cfg)
	if _, err := f.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Next(); !errors.Is(err, errBoom) {
		t.Fatalf("Next = %v; want the reader's error", err)
	}
	f.Reset(strings.NewReader(streams[5]))
	if got, want := items(f), items(NewFramer(strings.NewReader(streams[5]), cfg)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after a Reset mid-stanza: %q; want %q", got, want)
	}
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

func TestFramerResetAllocs(t *testing.T) {
	stream := []byte(hdr + `<message id="1"><gcm xmlns="google:mobile:data">{"a":1}</gcm></message></stream:stream>`)
	r := bytes.NewReader(stream)
	f := NewFramer(r, FramerConfig{})
	items(f)
	n := testing.AllocsPerRun(100, func() {
		r.Reset(stream)
		f.Reset(r)
		for {
			if _, err := f.Next(); err != nil {
				break
			}
		}
	})
	if n != 0 {
		t.Errorf("Reset and framing a stream allocate %v times; want 0", n)
	}
}
