package driver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/ccsbench/ccsbench/ccs"
)

// Causes of disconnects (keys of Counts.Disconnects). A stream error is
// "stream_error:" followed by its condition.
const (
	CauseStreamError  = "stream_error:"
	CauseStreamEnd    = "stream_end"    // the server ended the stream (</stream:stream>) unannounced
	CauseEOF          = "eof"           // the TCP connection closed without an end of stream
	CauseSyntax       = "syntax"        // the server sent XML that is not well-formed or not allowed
	CauseOversize     = "oversize"      // a stanza over the size or depth limit
	CauseTLS          = "tls"           // a TLS alert or a broken TLS record
	CauseTimeout      = "timeout"       // a read or write timed out
	CauseReset        = "reset"         // the connection was reset (or the pipe broken) by the peer
	CauseDrainTimeout = "drain_timeout" // the driver closed a connection the server left draining
	CauseOther        = "other"         // anything else, and causes beyond MaxCauseKeys
)

// Limits of the counts keyed by what a server sends.
const (
	// MaxCauseKeys is the most distinct disconnect causes counted; the
	// rest count under CauseOther.
	MaxCauseKeys = 32
	// MaxNackKeys is the most distinct unknown NACK codes counted; the
	// rest count under NackOther.
	MaxNackKeys = 32
	// MaxKeyLen is the longest key, in bytes, made from server text (an
	// unknown NACK code, a stream error condition).
	MaxKeyLen = 64
	// MaxDetailLen is the longest Disconnect.Detail, in characters.
	MaxDetailLen = 200
)

// NackOther counts the unknown NACK codes beyond MaxNackKeys.
const NackOther = "OTHER"

// Disconnect is a connection that ended during the run, other than by
// the driver's close at its end, as given to Config.OnDisconnect.
type Disconnect struct {
	// Conn is the logical connection, 0-based.
	Conn int
	// Cause is its key in Counts.Disconnects.
	Cause string
	// Detail is what the server or the network said: a stream error's
	// text, or the error. It is one line of at most MaxDetailLen
	// characters, with the API key removed.
	Detail string
}

// tally counts events by key with at most max distinct keys; the others
// count under overflow. It takes a mutex: not for hot paths.
type tally struct {
	mu       sync.Mutex
	m        map[string]uint64
	max      int
	overflow string
}

func newTally(max int, overflow string) *tally {
	return &tally{m: map[string]uint64{}, max: max, overflow: overflow}
}

// add counts one event of key and returns the key it was counted under
// and whether that was the first time: after max distinct keys, a new one
// counts under overflow (so there are at most max+1 keys).
func (t *tally) add(key string) (counted string, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; !ok && len(t.m) >= t.max {
		key = t.overflow
	}
	t.m[key]++
	return key, t.m[key] == 1
}

// snapshot copies the counts.
func (t *tally) snapshot() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]uint64, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}

// classify names why a connection ended from the error that ended its
// reader (or its writer), with what the server or the network said. red
// removes the API key from a stream error's condition before it becomes
// part of a key (where it would be changed past recognition).
func classify(err error, red *ccs.Redactor) (cause, detail string) {
	var se *ccs.StreamError
	var sx *ccs.SyntaxError
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var op *net.OpError
	var ne net.Error
	switch {
	case err == nil:
		return CauseOther, ""
	case errors.As(err, &se):
		d := se.Condition
		if se.Text != "" {
			d += ": " + se.Text
		}
		return CauseStreamError + condKey(red.String(se.Condition)), d
	case errors.Is(err, errStreamEnd):
		return CauseStreamEnd, "the server ended its stream"
	case errors.Is(err, ccs.ErrStanzaTooLarge), errors.Is(err, ccs.ErrTooDeep):
		return CauseOversize, err.Error()
	case errors.As(err, &sx):
		return CauseSyntax, err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return CauseEOF, "the server closed the connection"
	case errors.As(err, &rh), errors.As(err, &ae),
		errors.As(err, &op) && (op.Op == "remote error" || op.Op == "local error"):
		// crypto/tls reports alerts as a *net.OpError with these Ops.
		return CauseTLS, err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return CauseTimeout, err.Error()
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return CauseReset, err.Error()
	}
	return CauseOther, err.Error()
}

// condKey makes a stream error condition a bounded key: lower-case
// letters, digits and '-', at most MaxKeyLen bytes ("unknown" if none).
func condKey(cond string) string {
	var b strings.Builder
	for i := 0; i < len(cond) && b.Len() < MaxKeyLen; i++ {
		switch c := cond[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// nackKey makes the "error" of a NACK with an unknown code a bounded key:
// the API key removed, printable ASCII only (other bytes as '?'), at most
// MaxKeyLen bytes; "UNKNOWN" when empty.
func nackKey(red *ccs.Redactor, code []byte) string {
	s := strings.TrimSpace(red.String(string(code)))
	b := make([]byte, 0, min(len(s), MaxKeyLen))
	for i := 0; i < len(s) && len(b) < MaxKeyLen; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	if len(b) == 0 {
		return ccs.NackUnknown.String()
	}
	return string(b)
}

// oneLine makes s one line of at most n characters, valid UTF-8.
func oneLine(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// noteEnd counts why connection p ended (err ended its reader), unless it
// was draining and the server closed it as the protocol says.
func (d *Driver) noteEnd(p *pconn, err error, wasDraining bool) {
	var cause, detail string
	if p.closeReason.Load() == reasonDrainTimeout {
		d.drainTimeouts.Add(1)
		cause = CauseDrainTimeout
		detail = fmt.Sprintf("the server kept the connection open %v after CONNECTION_DRAINING; closed by the driver", d.cfg.DrainCloseTimeout)
	} else {
		if p.werr != nil && (err == nil || errors.Is(err, net.ErrClosed)) {
			// The writer failed and closed the connection under the reader.
			err = p.werr
		}
		cause, detail = classify(err, d.red)
		if wasDraining && (cause == CauseStreamEnd || cause == CauseEOF || cause == CauseReset) {
			// The close the drain announced. A reset counts too: the
			// driver's own end of stream (or an ACK) can cross the
			// server's close, and the server's kernel then answers it
			// with a reset that may reach the reader before the
			// server's </stream:stream> does.
			return
		}
	}
	d.discTotal.Add(1)
	counted, first := d.disc.add(cause)
	if first && d.cfg.OnDisconnect != nil {
		d.cfg.OnDisconnect(Disconnect{Conn: p.lane.index, Cause: counted, Detail: oneLine(d.red.String(detail), MaxDetailLen)})
	}
}
