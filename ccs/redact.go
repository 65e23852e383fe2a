package ccs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Redacted is what a Redactor puts where it removed a secret.
const Redacted = "[REDACTED]"

// MinSecretLen is the shortest API key a Redactor removes from free text,
// in bytes. A shorter key (a placeholder such as "k" in a test) would blank
// out every occurrence of a common word; the SASL PLAIN messages that
// carry it are long and always removed.
const MinSecretLen = 6

// Redactor removes an API key from text: the key itself, the base64 SASL
// PLAIN message that carries it for every identity a client may send
// (PlainIdentities), and the forms these take once escaped for JSON, XML
// or HTML. It is applied wherever text that may hold a secret leaves the
// program: errors, log lines, progress lines and files, whatever the text
// came from (a server may echo the credentials back). A nil *Redactor
// removes nothing. It is safe for concurrent use.
type Redactor struct {
	r       *strings.Replacer
	longest int
}

// PlainIdentities returns the SASL identities a client may send for
// senderID: the bare sender id, SENDER@gcm.googleapis.com (what CCS asks
// for) and SENDER@fcm.googleapis.com (FCM-era clients), and senderID as
// given when it names a domain itself.
func PlainIdentities(senderID string) []string {
	local, _, _ := strings.Cut(senderID, "@")
	ids := []string{senderID, local, local + "@" + Domain, local + "@" + FCMDomain}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// PlainMessage returns the base64 SASL PLAIN initial response for identity
// and password, with no authorization identity: base64("\x00" + identity
// + "\x00" + password).
func PlainMessage(identity, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + identity + "\x00" + password))
}

// NewRedactor returns a Redactor for apiKey used with senderID. It
// removes nothing when apiKey is empty.
func NewRedactor(senderID, apiKey string) *Redactor {
	return NewRedactorSenders(apiKey, senderID)
}

// NewRedactorSenders returns a Redactor for apiKey used with any of
// senderIDs (one API key shared by several sender ids). It removes
// nothing when apiKey is empty.
func NewRedactorSenders(apiKey string, senderIDs ...string) *Redactor {
	if apiKey == "" {
		return nil
	}
	var secrets []string
	if len(apiKey) >= MinSecretLen {
		secrets = append(secrets, apiKey)
	}
	for _, sender := range senderIDs {
		for _, id := range PlainIdentities(sender) {
			for _, authz := range []string{"", id} {
				raw := []byte(authz + "\x00" + id + "\x00" + apiKey)
				// The padded form, and the unpadded one that is its
				// prefix (a client or server that drops the padding).
				secrets = append(secrets, base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw))
			}
		}
	}
	for _, s := range secrets[:len(secrets):len(secrets)] {
		secrets = append(secrets, escapedForms(s)...)
	}
	// At one position the first secret listed that matches wins: the
	// longest first, so that a secret inside another is not matched
	// alone and the rest of the other left in place.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	secrets = slices.Compact(secrets)
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, Redacted)
	}
	return &Redactor{r: strings.NewReplacer(pairs...), longest: len(secrets[0])}
}

// htmlEscapers escape text as html/template.HTMLEscapeString does, and as
// html/template does in text (which escapes '+' too).
var htmlEscapers = []*strings.Replacer{
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;"),
}

// escapedForms returns s as JSON, XML and HTML writers escape it, where
// that differs from s (duplicates are removed by the caller).
func escapedForms(s string) []string {
	var out []string
	if b, err := json.Marshal(s); err == nil { // HTML-safe: <, > and & as \u003c...
		out = append(out, string(b[1:len(b)-1]))
	}
	out = append(out, string(appendText(nil, []byte(s))))
	for _, h := range htmlEscapers {
		out = append(out, h.Replace(s))
	}
	return slices.DeleteFunc(out, func(e string) bool { return e == s })
}

// String returns s with every secret replaced by Redacted.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Bytes returns b with every secret replaced by Redacted: b itself when
// it holds none, else a new slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	s := r.r.Replace(string(b))
	if len(s) == len(b) && s == string(b) {
		return b
	}
	return []byte(s)
}

// Longest returns the length in bytes of the longest form of a secret it
// removes (0 for a nil Redactor). Text cut to n bytes after redaction
// holds no part of a secret; text that must be cut before (to bound the
// memory it takes) keeps n + Longest() bytes, so that a secret starting
// within the first n is still whole when it is removed.
func (r *Redactor) Longest() int {
	if r == nil {
		return 0
	}
	return r.longest
}

// Error returns err with its message redacted: err itself when the message
// holds no secret, else an error whose Error() is redacted and which wraps
// err, so that errors.Is and errors.As still see the chain. Fields of the
// errors in the chain are not redacted: print an error with Error() only.
func (r *Redactor) Error(err error) error {
	if r == nil || err == nil {
		return err
	}
	msg := err.Error()
	red := r.r.Replace(msg)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

// redactedError is an error whose message had a secret removed; it still
// wraps the original for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

// Error returns the redacted message.
func (e *redactedError) Error() string { return e.msg }

// Unwrap returns the original error.
func (e *redactedError) Unwrap() error { return e.err }

// Writer returns a writer that redacts every Write before passing it to
// w. A secret split across two writes is not seen: write whole lines.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	if r == nil {
		return w
	}
	return redactWriter{r: r, w: w}
}

// redactWriter is Redactor.Writer's writer.
type redactWriter struct {
	r *Redactor
	w io.Writer
}

// Write writes p redacted, and reports len(p) written when it was.
func (rw redactWriter) Write(p []byte) (int, error) {
	if _, err := rw.w.Write(rw.r.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Logf returns a printf-style logger that formats, redacts and passes the
// line to logf (nil for a nil logf).
func (r *Redactor) Logf(logf func(format string, args ...any)) func(format string, args ...any) {
	if r == nil || logf == nil {
		return logf
	}
	return func(format string, args ...any) {
		logf("%s", r.String(fmt.Sprintf(format, args...)))
	}
}
