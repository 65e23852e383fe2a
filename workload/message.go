package workload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"
)

// Limits of a MessageConfig.
const (
	// MaxPayloadBytes is CCS's limit on the data object (keys plus values);
	// larger payloads are always answered INVALID_JSON.
	MaxPayloadBytes = 4096
	// MaxTTL is the largest time_to_live CCS accepts, in seconds (4 weeks).
	MaxTTL = 2419200
	// MaxToPool is the largest registration-id pool (about 160 MiB of ids).
	MaxToPool = 1 << 20
	// RegIDLen is the length of every generated registration id, in bytes,
	// shaped like an FCM token: 11 characters, ':', "APA91b", 134 characters.
	RegIDLen = 152
)

// ErrMessageConfig is the sentinel every MessageConfig error wraps.
var ErrMessageConfig = errors.New("workload: bad message config")

// ConfigError reports a MessageConfig field with an unusable value. It wraps
// ErrMessageConfig.
type ConfigError struct {
	// Field is the field's Go name in MessageConfig, e.g. "ToPool".
	Field string
	// Reason says what is wrong and what is allowed.
	Reason string
}

// Error returns "workload: MessageConfig.FIELD: REASON".
func (e *ConfigError) Error() string {
	return "workload: MessageConfig." + e.Field + ": " + e.Reason
}

// Unwrap returns ErrMessageConfig.
func (e *ConfigError) Unwrap() error { return ErrMessageConfig }

// MessageConfig says what downstream messages look like. Its zero value is not
// valid (ToPool must be at least 1); DefaultMessageConfig is.
type MessageConfig struct {
	// PayloadBytes is the size of the data object counted as CCS does: the
	// lengths of its keys plus its values, 0..MaxPayloadBytes.
	PayloadBytes int
	// ToPool is how many distinct registration ids messages go to,
	// 1..MaxToPool.
	ToPool int
	// Zipf skews the choice of registration id: id k (0-based) is chosen
	// with probability ∝ 1/(k+1)^Zipf. 0 is uniform; any finite value >= 0.
	Zipf float64
	// TTL is time_to_live in seconds, 0..MaxTTL, or -1 to omit the field. 0
	// is written explicitly ("time_to_live":0), never dropped.
	TTL int
	// CollapseKey is collapse_key, omitted when empty; any valid UTF-8.
	CollapseKey string
	// Priority is "", "normal" or "high"; omitted when empty.
	Priority string
	// DelayWhileIdle writes "delay_while_idle":true.
	DelayWhileIdle bool
	// Receipts writes "delivery_receipt_requested":true.
	Receipts bool
	// InvalidRate is the fraction of messages, 0..1, made deliberately
	// invalid so that CCS answers NACK INVALID_JSON.
	InvalidRate float64
	// Seed fixes the registration ids, the payload, the id choices and which
	// messages are invalid.
	Seed uint64
}

// DefaultMessageConfig returns the configuration of the CLI's defaults: a
// 100-byte payload to one of 1000 uniformly chosen ids, time_to_live omitted,
// no invalid messages, seed 1.
func DefaultMessageConfig() MessageConfig {
	return MessageConfig{PayloadBytes: 100, ToPool: 1000, TTL: -1, Seed: 1}
}

// Validate returns a *ConfigError for the first unusable field.
func (c MessageConfig) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.PayloadBytes < 0 || c.PayloadBytes > MaxPayloadBytes:
		return bad("PayloadBytes", "%d is outside 0..%d (CCS refuses data over %d bytes)", c.PayloadBytes, MaxPayloadBytes, MaxPayloadBytes)
	case c.ToPool < 1 || c.ToPool > MaxToPool:
		return bad("ToPool", "%d is outside 1..%d", c.ToPool, MaxToPool)
	case !(c.Zipf >= 0) || math.IsInf(c.Zipf, 1):
		return bad("Zipf", "%g must be a finite number >= 0 (0 is uniform)", c.Zipf)
	case c.TTL < -1 || c.TTL > MaxTTL:
		return bad("TTL", "%d is outside 0..%d seconds (-1 omits the field; InvalidRate makes invalid messages)", c.TTL, MaxTTL)
	case !utf8.ValidString(c.CollapseKey):
		return bad("CollapseKey", "%q is not valid UTF-8", c.CollapseKey)
	case c.Priority != "" && c.Priority != "normal" && c.Priority != "high":
		return bad("Priority", "%q must be normal or high", c.Priority)
	case !(c.InvalidRate >= 0 && c.InvalidRate <= 1):
		return bad("InvalidRate", "%g is outside 0..1", c.InvalidRate)
	}
	return nil
}

// The deliberately invalid messages, rotated in this order. Each one is
// well-formed JSON with a message_id, so CCS answers NACK INVALID_JSON (not a
// stanza error).
const (
	invalidTTLNegative = iota // "time_to_live":-1
	invalidTTLTooLarge        // "time_to_live":2419201
	invalidDataFrom           // data key "from"
	invalidDataGoogle         // data key "google.sent"
	invalidDelayString        // "delay_while_idle":"true"
	invalidMissingTo          // no "to" and no "condition"
	numInvalid
	valid = numInvalid // index of the valid suffix
)

// generatorData is what NewGenerator precomputes once; immutable, shared by
// clones.
type generatorData struct {
	cfg     MessageConfig
	ids     []byte // ToPool ids of RegIDLen bytes each
	zipf    *zipfTable
	suffix  [numInvalid + 1][]byte // everything after the message id's closing quote
	maxSuff int
}

// Generator appends downstream JSON payloads. A Generator is used by one
// goroutine; give every connection its own with Clone. AppendJSON does not
// allocate (beyond growing dst).
type Generator struct {
	d       *generatorData
	pcg     rand.PCG
	rng     *rand.Rand
	invalid int // next invalid kind in the rotation
}

// token is the charset of registration ids (URL-safe base64, as FCM tokens).
const token = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// NewGenerator validates cfg and precomputes the registration ids, the Zipf
// table and the JSON after the message id for valid and invalid messages.
func NewGenerator(cfg MessageConfig) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &generatorData{cfg: cfg}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5851f42d4c957f2d))
	d.ids = make([]byte, 0, cfg.ToPool*RegIDLen)
	mask := r.Uint64()
	for i := range cfg.ToPool {
		// Six characters of a bijection of the index (an odd multiplier and
		// an xor, modulo 2^36) make every id unique while looking random.
		x := (uint64(i)*0x9e3779b97f4a7c15 ^ mask) & (1<<36 - 1)
		for shift := 30; shift >= 0; shift -= 6 {
			d.ids = append(d.ids, token[(x>>shift)&63])
		}
		for range 5 {
			d.ids = append(d.ids, token[r.IntN(64)])
		}
		d.ids = append(d.ids, ":APA91b"...)
		for range RegIDLen - 18 {
			d.ids = append(d.ids, token[r.IntN(64)])
		}
	}
	d.zipf = newZipfTable(cfg.ToPool, cfg.Zipf)
	data := appendData(nil, cfg.PayloadBytes, r)
	for kind := range d.suffix {
		d.suffix[kind] = appendSuffix(nil, cfg, data, kind)
		d.maxSuff = max(d.maxSuff, len(d.suffix[kind]))
	}
	g := &Generator{d: d}
	g.seed(cfg.Seed)
	return g, nil
}

func (g *Generator) seed(seed uint64) {
	g.pcg.Seed(seed, 0xda3e39cb94b95bdb)
	g.rng = rand.New(&g.pcg)
}

// Clone returns a Generator that shares g's precomputed ids and payload (so
// it costs a few hundred bytes) with its own random stream from seed, for
// another goroutine.
func (g *Generator) Clone(seed uint64) *Generator {
	c := &Generator{d: g.d}
	c.seed(seed)
	return c
}

// Config returns the configuration the Generator was built from.
func (g *Generator) Config() MessageConfig { return g.d.cfg }

// RegistrationID returns registration id i of the pool (0 is the most
// frequent under a Zipf skew), 0 <= i < ToPool. The slice must not be
// modified.
func (g *Generator) RegistrationID(i int) []byte {
	return g.d.ids[i*RegIDLen : (i+1)*RegIDLen : (i+1)*RegIDLen]
}

// MaxJSONLen returns an upper bound, in bytes, of what AppendJSON appends for
// a message id of idLen bytes, for sizing buffers.
func (g *Generator) MaxJSONLen(idLen int) int {
	return len(`{"to":"","message_id":"`) + RegIDLen + 6*idLen + len(`"`) + g.d.maxSuff
}

// AppendJSON appends the downstream JSON payload for message id (unique,
// chosen by the caller; bytes that need it are escaped, and invalid UTF-8 is
// replaced by U+FFFD, so plain ASCII ids are best) and reports whether this
// message was made deliberately invalid. The output is compact JSON:
//
//	{"to":REGID,"message_id":ID,"data":{...},"time_to_live":N,
//	 "collapse_key":K,"priority":P,"delay_while_idle":true,
//	 "delivery_receipt_requested":true}
//
// with the optional fields present as configured. An invalid message, drawn
// with probability InvalidRate, has exactly one defect that CCS answers with
// NACK INVALID_JSON, in rotation: time_to_live -1, time_to_live 2419201, a
// data key "from", a data key "google.sent", delay_while_idle as the string
// "true", and no "to".
func (g *Generator) AppendJSON(dst []byte, id []byte) (out []byte, invalid bool) {
	m := g.Draw()
	return g.AppendMessage(dst, id, m), m.Invalid()
}

// Drawn is what makes one message differ from another apart from its id:
// the registration id it goes to and its defect, if any. Draw picks it
// from the Generator's random stream; AppendMessage turns it into the same
// JSON every time, so that a message resent later is the same message
// without its payload being kept (five bytes instead of some hundreds).
type Drawn struct {
	to   uint32 // index in the registration-id pool
	kind uint8  // valid, or one of the invalid kinds
}

// Invalid reports whether the message was made deliberately invalid.
func (m Drawn) Invalid() bool { return m.kind != valid }

// Draw picks the next message's registration id (by the Zipf skew) and
// whether it is invalid (by InvalidRate, defects in rotation), advancing
// the random stream as AppendJSON does.
func (g *Generator) Draw() Drawn {
	d := g.d
	m := Drawn{to: uint32(d.zipf.pick(g.rng, d.cfg.ToPool)), kind: valid}
	if d.cfg.InvalidRate > 0 && g.rng.Float64() < d.cfg.InvalidRate {
		m.kind = uint8(g.invalid)
		g.invalid = (g.invalid + 1) % numInvalid
	}
	return m
}

// AppendMessage appends the JSON payload of the drawn message m with
// message id id, exactly as AppendJSON describes. It uses no randomness:
// the same m and id give the same bytes, from any Generator made from the
// same MessageConfig. It does not allocate (beyond growing dst).
func (g *Generator) AppendMessage(dst []byte, id []byte, m Drawn) []byte {
	d := g.d
	i := int(m.to)
	if m.kind == invalidMissingTo {
		dst = append(dst, `{"message_id":"`...)
	} else {
		dst = append(dst, `{"to":"`...)
		dst = append(dst, d.ids[i*RegIDLen:(i+1)*RegIDLen]...)
		dst = append(dst, `","message_id":"`...)
	}
	dst = appendJSONString(dst, id)
	dst = append(dst, '"')
	return append(dst, d.suffix[m.kind]...)
}

// payloadChars fill the data values; they need no JSON or XML escaping.
const payloadChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// maxValueLen is the usual length of one data value.
const maxValueLen = 100

// appendData appends a data object whose keys plus values hold exactly size
// bytes: keys "k", "k1", "k2", ... with values of up to maxValueLen
// characters (a little more for the last when the remainder is too short
// for another key).
func appendData(dst []byte, size int, r *rand.Rand) []byte {
	type pair struct{ key, val int }
	var pairs []pair
	for left, i := size, 0; left > 0; i++ {
		key := 1
		if i > 0 {
			key += len(strconv.Itoa(i))
		}
		if left < key {
			pairs[len(pairs)-1].val += left
			break
		}
		val := min(left-key, maxValueLen)
		pairs = append(pairs, pair{key, val})
		left -= key + val
	}
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"k`...)
		if i > 0 {
			dst = strconv.AppendInt(dst, int64(i), 10)
		}
		dst = append(dst, `":"`...)
		for range p.val {
			dst = append(dst, payloadChars[r.IntN(len(payloadChars))])
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendSuffix appends what follows the message id: data, the optional
// fields and the closing brace, with the defect of the given invalid kind.
func appendSuffix(dst []byte, c MessageConfig, data []byte, kind int) []byte {
	dst = append(dst, `,"data":`...)
	switch kind {
	case invalidDataFrom, invalidDataGoogle:
		key := `"from"`
		if kind == invalidDataGoogle {
			key = `"google.sent"`
		}
		dst = append(dst, '{')
		dst = append(dst, key...)
		dst = append(dst, `:"1"`...)
		if len(data) > 2 {
			dst = append(dst, ',')
		}
		dst = append(dst, data[1:]...)
	default:
		dst = append(dst, data...)
	}
	switch {
	case kind == invalidTTLNegative:
		dst = append(dst, `,"time_to_live":-1`...)
	case kind == invalidTTLTooLarge:
		dst = append(dst, `,"time_to_live":`...)
		dst = strconv.AppendInt(dst, MaxTTL+1, 10)
	case c.TTL >= 0:
		dst = append(dst, `,"time_to_live":`...)
		dst = strconv.AppendInt(dst, int64(c.TTL), 10)
	}
	if c.CollapseKey != "" {
		dst = append(dst, `,"collapse_key":"`...)
		dst = appendJSONString(dst, []byte(c.CollapseKey))
		dst = append(dst, '"')
	}
	if c.Priority != "" {
		dst = append(dst, `,"priority":"`...)
		dst = append(dst, c.Priority...)
		dst = append(dst, '"')
	}
	switch {
	case kind == invalidDelayString:
		dst = append(dst, `,"delay_while_idle":"true"`...)
	case c.DelayWhileIdle:
		dst = append(dst, `,"delay_while_idle":true`...)
	}
	if c.Receipts {
		dst = append(dst, `,"delivery_receipt_requested":true`...)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as the inside of a JSON string: '"' and '\\'
// and control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}
