package ccs

import (
	"errors"
	"strings"
	"testing"
)

// failReader fails the test that reads from it.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("read from the reader that SetReader replaced")
	return 0, errors.New("replaced")
}

// SetReader keeps the buffered half of a stanza and reads the rest from
// the new reader.
func TestFramerSetReader(t *testing.T) {
	t.Parallel()
	const stanza = `<message id="m-1"><gcm xmlns="google:mobile:data">{"message_type":"ack","message_id":"m-1"}</gcm></message>`
	half := len(stanza) / 2
	f := NewFramer(strings.NewReader(testHeader+stanza[:half]), FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != KindStreamStart {
		t.Fatalf("Next = %v, %v; want the stream header", st, err)
	}
	if got := f.Buffered(); got != half {
		t.Fatalf("Buffered() = %d; want the %d bytes of half a stanza", got, half)
	}
	f.SetReader(strings.NewReader(stanza[half:]))
	st, err := f.Next()
	if err != nil || st.Kind != KindMessage || string(st.ID) != "m-1" {
		t.Fatalf("Next after SetReader = %+v, %v; want message m-1", st, err)
	}
	f.SetReader(failReader{t})
	if got := f.Buffered(); got != 0 {
		t.Errorf("Buffered() = %d after the whole stanza; want 0", got)
	}
}
