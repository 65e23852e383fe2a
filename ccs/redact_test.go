package ccs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"strings"
	"testing"
)

// leaks returns the pieces of secrets (8 bytes or more) found in text.
func leaks(text string, secrets ...string) []string {
	var found []string
	for _, s := range secrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(text, s[i:i+8]) {
				found = append(found, s[i:i+8])
				break
			}
		}
	}
	return found
}

func TestRedactorForms(t *testing.T) {
	t.Parallel()
	const key = `AIza+key/with<&>"special'chars`
	r := NewRedactor(testSender, key)
	var secrets []string
	for _, id := range PlainIdentities(testSender) {
		secrets = append(secrets, PlainMessage(id, key))
	}
	jsonKey, _ := json.Marshal(key)
	for _, s := range append([]string{
		key,
		string(jsonKey),
		string(appendText(nil, []byte(key))),
		template.HTMLEscapeString(key),
		PlainMessage(testSender+"@"+FCMDomain, key),
		strings.TrimRight(PlainMessage(testSender, key), "="),
	}, secrets...) {
		in := "before " + s + " after"
		got := r.String(in)
		if strings.Contains(got, s) || !strings.Contains(got, Redacted) || !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
			t.Errorf("String(%q) = %q; want the secret replaced by %s and the rest kept", in, got, Redacted)
		}
		if got := r.Bytes([]byte(in)); bytes.Contains(got, []byte(s)) {
			t.Errorf("Bytes(%q) = %q; want the secret removed", in, got)
		}
	}
	// The HTML template escapes '+' too: the blob as an HTML page shows it.
	var page bytes.Buffer
	tpl := template.Must(template.New("p").Parse(`<p>{{.}}</p>`))
	if err := tpl.Execute(&page, secrets[0]+" "+key); err != nil {
		t.Fatal(err)
	}
	if got := r.String(page.String()); strings.Count(got, Redacted) != 2 {
		t.Errorf("String(%q) = %q; want both secrets, HTML-escaped, removed", page.String(), got)
	}
	in := []byte("nothing secret here")
	if got := r.Bytes(in); r.String(string(in)) != string(in) || &got[0] != &in[0] {
		t.Errorf("String and Bytes(%q) changed or copied text without a secret", in)
	}
	if r.Longest() < len(secrets[0]) {
		t.Errorf("Longest() = %d; want at least the PLAIN message's %d", r.Longest(), len(secrets[0]))
	}
}

// One key shared by several sender ids: the SASL PLAIN message of each
// one is removed.
func TestRedactorSenders(t *testing.T) {
	t.Parallel()
	const key = "shared-api-key-42"
	senders := []string{"111111111111", "222222222222", "333333333333"}
	r := NewRedactorSenders(key, senders...)
	for _, sender := range senders {
		for _, id := range PlainIdentities(sender) {
			in := "auth " + PlainMessage(id, key) + " key " + key
			if got := r.String(in); len(leaks(got, PlainMessage(id, key), key)) > 0 {
				t.Errorf("NewRedactorSenders(%v).String(%q) = %q; want both secrets removed", senders, in, got)
			}
		}
	}
	if got := NewRedactorSenders("", senders...); got != nil {
		t.Errorf("NewRedactorSenders with no key = %v; want nil", got)
	}
}

func TestRedactorShortKeyAndNil(t *testing.T) {
	t.Parallel()
	r := NewRedactor("42", "k")
	blob := PlainMessage("42@"+Domain, "k")
	if got := r.String("ok key k " + blob); got != "ok key k "+Redacted {
		t.Errorf("String = %q; want a short key left in text, its PLAIN message removed", got)
	}
	var none *Redactor
	if NewRedactor("42", "") != nil {
		t.Errorf("NewRedactor with no key is not nil")
	}
	err := errors.New("x")
	if none.String("a") != "a" || string(none.Bytes([]byte("a"))) != "a" || none.Error(err) != err || none.Longest() != 0 {
		t.Errorf("a nil Redactor changed its input")
	}
	var buf bytes.Buffer
	if none.Writer(&buf) != io.Writer(&buf) || none.Logf(nil) != nil {
		t.Errorf("a nil Redactor wrapped a writer or logger")
	}
}

func TestRedactorErrorWriterLogf(t *testing.T) {
	t.Parallel()
	r := NewRedactor(testSender, testKey)
	base := &HandshakeError{Stage: "auth", Err: &StreamError{Condition: "not-authorized", Text: "bad " + testKey}}
	err := r.Error(fmt.Errorf("dial: %w", base))
	var he *HandshakeError
	if strings.Contains(err.Error(), testKey) || !errors.As(err, &he) || he.Stage != "auth" {
		t.Errorf("Error = %q (As HandshakeError %v); want the key removed and the chain kept", err, he)
	}
	if plain := errors.New("no secret"); r.Error(plain) != plain || r.Error(nil) != nil {
		t.Errorf("Error changed an error without a secret")
	}
	var buf bytes.Buffer
	w := r.Writer(&buf)
	if n, err := fmt.Fprintf(w, "key=%s\n", testKey); err != nil || n != len("key=")+len(testKey)+1 {
		t.Errorf("Writer: %d, %v; want the length written by the caller", n, err)
	}
	var lines []string
	r.Logf(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })("auth %s from %s", PlainMessage(testSender, testKey), "x")
	if got := buf.String() + strings.Join(lines, ""); strings.Contains(got, testKey) || strings.Count(got, Redacted) != 2 {
		t.Errorf("Writer and Logf wrote %q; want both secrets removed", got)
	}
}

// echoServer plays a CCS server up to the auth step on c, and then sends
// reply(blob) where blob is the base64 PLAIN message the client sent.
func echoServer(c net.Conn, reply func(blob string) string) {
	defer c.Close()
	f := NewFramer(c, FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != KindStreamStart {
		return
	}
	io.WriteString(c, serverStreamHeader(Domain)+serverFeaturesSASL)
	for {
		st, err := f.Next()
		if err != nil {
			return
		}
		if st.Kind == KindAuth {
			io.WriteString(c, reply(string(st.Text)))
			io.Copy(io.Discard, c)
			return
		}
	}
}

// A server that echoes the API key and the PLAIN message back at the auth
// step, in a stream error's text or inside an unexpected element (which
// the error quotes, cut to 80 bytes), never gets them into the error.
func TestClientHandshakeRedactsEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply func(blob string) string
	}{
		{"stream-error", func(blob string) string {
			return string(AppendStreamError(nil, CondNotAuthorized, "refused "+testKey+" and "+blob))
		}},
		{"stream-error-condition", func(blob string) string {
			return `<stream:error><` + testKey + ` xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`
		}},
		{"unexpected-element", func(blob string) string { return "<x>" + blob + " " + testKey + "</x>" }},
		{"unexpected-key-first", func(blob string) string { return "<y>" + testKey + blob + "</y>" }},
		{"failure-condition", func(blob string) string {
			return `<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><` + testKey + `/></failure>`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc, sc := net.Pipe()
			defer cc.Close()
			go echoServer(sc, tc.reply)
			_, err := ClientHandshake(context.Background(), cc, ClientConfig{SenderID: testSender, APIKey: testKey})
			if err == nil {
				t.Fatalf("ClientHandshake succeeded against an echoing server")
			}
			msg := fmt.Sprintf("%v %+v", err, err)
			if l := leaks(msg, testKey, PlainMessage(testSender+"@"+Domain, testKey)); len(l) > 0 {
				t.Errorf("ClientHandshake error %q holds parts of the credentials: %q", msg, l)
			}
		})
	}
}
