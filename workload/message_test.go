package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// ccsVerdict applies the checks that CCS answers with a NACK INVALID_JSON
// (docs/PROTOCOL.md, "Downstream messages") to a downstream payload,
// independently of the generator: it returns the decoded message and
// whether CCS would NACK it INVALID_JSON. A payload that is not JSON or
// lacks a message_id fails the test (CCS would answer a stanza error
// instead).
func ccsVerdict(t *testing.T, payload []byte) (map[string]any, bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		t.Fatalf("payload is not one JSON object (%v): %s", err, payload)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil || !bytes.Equal(compact.Bytes(), payload) {
		t.Fatalf("payload is not compact JSON (%v): %s", err, payload)
	}
	if _, ok := m["message_id"].(string); !ok {
		t.Fatalf("payload has no string message_id: %s", payload)
	}
	invalid := false
	if _, ok := m["to"].(string); !ok {
		if _, ok := m["condition"].(string); !ok {
			invalid = true
		}
	}
	if v, ok := m["time_to_live"]; ok {
		n, isNum := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !isNum || err != nil || i < 0 || i > 2419200 {
			invalid = true
		}
	}
	for _, f := range []string{"delay_while_idle", "dry_run", "delivery_receipt_requested"} {
		if v, ok := m[f]; ok {
			if _, isBool := v.(bool); !isBool {
				invalid = true
			}
		}
	}
	if v, ok := m["priority"]; ok && v != "normal" && v != "high" {
		invalid = true
	}
	if _, ok := m["registration_ids"]; ok {
		invalid = true
	}
	if v, ok := m["data"]; ok {
		data, isObj := v.(map[string]any)
		if !isObj {
			invalid = true
		}
		size := 0
		for k, val := range data {
			s, _ := val.(string)
			size += len(k) + len(s)
			if k == "from" || strings.HasPrefix(k, "google") {
				invalid = true
			}
		}
		if size > 4096 {
			invalid = true
		}
	}
	return m, invalid
}

func dataSize(m map[string]any) int {
	size := 0
	for k, v := range m["data"].(map[string]any) {
		size += len(k) + len(v.(string))
	}
	return size
}

func mustGenerator(t testing.TB, cfg MessageConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

func TestGeneratorValidMessages(t *testing.T) {
	t.Parallel()
	base := DefaultMessageConfig()
	with := func(f func(*MessageConfig)) MessageConfig { c := base; f(&c); return c }
	configs := []MessageConfig{
		base,
		with(func(c *MessageConfig) { c.PayloadBytes = 0 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 1 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 2 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 101 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 102 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 103 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 1234 }),
		with(func(c *MessageConfig) { c.PayloadBytes = 4096 }),
		with(func(c *MessageConfig) { c.TTL = 0 }),
		with(func(c *MessageConfig) { c.TTL = MaxTTL }),
		with(func(c *MessageConfig) { c.ToPool = 1; c.Zipf = 2 }),
		with(func(c *MessageConfig) {
			c.CollapseKey = "a\"b\\c\n\t\x01\x7f</gcm>&é😀\u2028"
			c.Priority = "high"
			c.DelayWhileIdle = true
			c.Receipts = true
			c.TTL = 60
		}),
		with(func(c *MessageConfig) { c.Priority = "normal"; c.Zipf = 0.7 }),
	}
	for _, cfg := range configs {
		g := mustGenerator(t, cfg)
		pool := map[string]bool{}
		for i := range cfg.ToPool {
			pool[string(g.RegistrationID(i))] = true
		}
		var buf []byte
		for i := range 200 {
			id := "m-" + strconv.Itoa(i)
			buf = buf[:0]
			out, invalid := g.AppendJSON(buf, []byte(id))
			buf = out
			m, ccsInvalid := ccsVerdict(t, out)
			if invalid || ccsInvalid {
				t.Fatalf("%+v: message %d invalid (%v, CCS %v): %s", cfg, i, invalid, ccsInvalid, out)
			}
			want := map[string]any{"message_id": id, "to": m["to"], "data": m["data"]}
			if !pool[m["to"].(string)] {
				t.Fatalf("%+v: to %q not in the pool", cfg, m["to"])
			}
			if got := dataSize(m); got != cfg.PayloadBytes {
				t.Fatalf("%+v: data keys plus values = %d bytes; want %d: %s", cfg, got, cfg.PayloadBytes, out)
			}
			if cfg.TTL >= 0 {
				want["time_to_live"] = json.Number(strconv.Itoa(cfg.TTL))
			}
			if cfg.CollapseKey != "" {
				want["collapse_key"] = cfg.CollapseKey
			}
			if cfg.Priority != "" {
				want["priority"] = cfg.Priority
			}
			if cfg.DelayWhileIdle {
				want["delay_while_idle"] = true
			}
			if cfg.Receipts {
				want["delivery_receipt_requested"] = true
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("%+v: message %d decodes to\n%v; want\n%v", cfg, i, m, want)
			}
		}
	}
}

func TestGeneratorTTLZeroWritten(t *testing.T) {
	t.Parallel()
	cfg := DefaultMessageConfig()
	cfg.TTL = 0
	out, _ := mustGenerator(t, cfg).AppendJSON(nil, []byte("x"))
	if !bytes.Contains(out, []byte(`,"time_to_live":0,`)) && !bytes.HasSuffix(out, []byte(`,"time_to_live":0}`)) {
		t.Errorf("TTL 0: %s lacks \"time_to_live\":0", out)
	}
	cfg.TTL = -1
	out, _ = mustGenerator(t, cfg).AppendJSON(nil, []byte("x"))
	if bytes.Contains(out, []byte("time_to_live")) {
		t.Errorf("TTL -1: %s has a time_to_live", out)
	}
}

func TestGeneratorInvalidMessages(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, 0.1, 0.5, 1} {
		cfg := DefaultMessageConfig()
		cfg.InvalidRate = rate
		cfg.TTL = 3600
		cfg.DelayWhileIdle = true
		cfg.PayloadBytes = 300
		g := mustGenerator(t, cfg)
		const n = 12000
		count := 0
		defects := map[string]int{}
		for i := range n {
			out, invalid := g.AppendJSON(nil, []byte("id-"+strconv.Itoa(i)))
			m, ccsInvalid := ccsVerdict(t, out)
			if invalid != ccsInvalid {
				t.Fatalf("rate %g: AppendJSON says invalid=%v, CCS's rules say %v: %s", rate, invalid, ccsInvalid, out)
			}
			if invalid {
				count++
				defects[defectOf(m)]++
			}
		}
		// Binomial: within 5 standard deviations.
		want := rate * n
		if sd := math.Sqrt(n * rate * (1 - rate)); math.Abs(float64(count)-want) > 5*sd {
			t.Errorf("rate %g: %d invalid of %d; want %g ± %.0f", rate, count, n, want, 5*sd)
		}
		if rate > 0 {
			for _, d := range []string{"ttl=-1", "ttl=2419201", "data.from", "data.google", "dwi-string", "no-to"} {
				if c := defects[d]; math.Abs(float64(c)-float64(count)/6) > 1 {
					t.Errorf("rate %g: defect %s in %d of %d invalid messages; want an even rotation (%v)", rate, d, c, count, defects)
				}
			}
		}
	}
}

// defectOf names the one defect of an invalid message.
func defectOf(m map[string]any) string {
	data := m["data"].(map[string]any)
	switch {
	case m["to"] == nil:
		return "no-to"
	case data["from"] != nil:
		return "data.from"
	case data["google.sent"] != nil:
		return "data.google"
	case m["delay_while_idle"] != true:
		return "dwi-string"
	}
	return "ttl=" + string(m["time_to_live"].(json.Number))
}

func TestGeneratorZipf(t *testing.T) {
	t.Parallel()
	for _, s := range []float64{0, 0.5, 1, 1.5} {
		cfg := DefaultMessageConfig()
		cfg.ToPool = 50
		cfg.Zipf = s
		g := mustGenerator(t, cfg)
		index := map[string]int{}
		for i := range cfg.ToPool {
			index[string(g.RegistrationID(i))] = i
		}
		const n = 60000
		counts := make([]float64, cfg.ToPool)
		var buf []byte
		for range n {
			buf, _ = g.AppendJSON(buf[:0], []byte("m"))
			to := buf[len(`{"to":"`) : len(`{"to":"`)+RegIDLen]
			counts[index[string(to)]]++
		}
		var norm float64
		for k := range counts {
			norm += math.Pow(float64(k+1), -s)
		}
		for k, c := range counts {
			p := math.Pow(float64(k+1), -s) / norm
			want := p * n
			if sd := math.Sqrt(n * p * (1 - p)); math.Abs(c-want) > 5*sd {
				t.Errorf("zipf %g: id %d chosen %g times of %d; want %.0f ± %.0f", s, k, c, n, want, 5*sd)
			}
		}
		if s > 0 && !(counts[0] > counts[1] && counts[1] > counts[4] && counts[4] > counts[30]) {
			t.Errorf("zipf %g: counts not skewed towards low ids: %v", s, counts)
		}
	}
}

func TestZipfTableExact(t *testing.T) {
	t.Parallel()
	// The alias table's implied probabilities equal the Zipf weights.
	for _, tc := range []struct {
		n int
		s float64
	}{{2, 1}, {10, 0.3}, {1000, 1}, {1000, 2.5}, {5000, 0.01}, {300, 40}} {
		z := newZipfTable(tc.n, tc.s)
		got := make([]float64, tc.n)
		for i := range tc.n {
			got[i] += z.prob[i] / float64(tc.n)
			got[z.alias[i]] += (1 - z.prob[i]) / float64(tc.n)
		}
		var norm float64
		for k := range tc.n {
			norm += math.Pow(float64(k+1), -tc.s)
		}
		for k := range tc.n {
			if want := math.Pow(float64(k+1), -tc.s) / norm; math.Abs(got[k]-want) > 1e-12 {
				t.Errorf("zipf(n=%d, s=%g): P(%d) = %g; want %g", tc.n, tc.s, k, got[k], want)
			}
		}
	}
	if z := newZipfTable(100, 0); z != nil {
		t.Errorf("newZipfTable(100, 0) = %v; want nil (uniform)", z)
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	t.Parallel()
	cfg := DefaultMessageConfig()
	cfg.InvalidRate = 0.3
	cfg.Zipf = 1.1
	a, b := mustGenerator(t, cfg), mustGenerator(t, cfg)
	ca, cb := a.Clone(99), b.Clone(99)
	cfg.Seed++
	other := mustGenerator(t, cfg)
	same := 0
	for i := range 500 {
		id := []byte(strconv.Itoa(i))
		x, xi := a.AppendJSON(nil, id)
		y, yi := b.AppendJSON(nil, id)
		if !bytes.Equal(x, y) || xi != yi {
			t.Fatalf("same seed, message %d differs:\n%s\n%s", i, x, y)
		}
		x, _ = ca.AppendJSON(nil, id)
		y, _ = cb.AppendJSON(nil, id)
		if !bytes.Equal(x, y) {
			t.Fatalf("Clone(99), message %d differs:\n%s\n%s", i, x, y)
		}
		z, _ := other.AppendJSON(nil, id)
		if bytes.Equal(x, z) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 1 and 2 gave %d identical messages of 500", same)
	}
	if ca.Config() != a.Config() {
		t.Errorf("Clone changed the config: %+v", ca.Config())
	}
}

func TestRegistrationIDs(t *testing.T) {
	t.Parallel()
	cfg := DefaultMessageConfig()
	cfg.ToPool = 20000
	g := mustGenerator(t, cfg)
	seen := map[string]bool{}
	for i := range cfg.ToPool {
		id := string(g.RegistrationID(i))
		if len(id) != RegIDLen || id[11:18] != ":APA91b" || strings.Trim(id[:11]+id[18:], token) != "" {
			t.Fatalf("RegistrationID(%d) = %q; want 11 token characters, :APA91b, 134 token characters", i, id)
		}
		if seen[id] {
			t.Fatalf("RegistrationID(%d) = %q repeats an earlier id", i, id)
		}
		seen[id] = true
	}
	cfg.Seed = 2
	if h := mustGenerator(t, cfg); bytes.Equal(h.RegistrationID(0), g.RegistrationID(0)) {
		t.Errorf("seeds 1 and 2 give the same first id %s", g.RegistrationID(0))
	}
}

func TestMessageConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string
		f     func(*MessageConfig)
	}{
		{"PayloadBytes", func(c *MessageConfig) { c.PayloadBytes = -1 }},
		{"PayloadBytes", func(c *MessageConfig) { c.PayloadBytes = 4097 }},
		{"ToPool", func(c *MessageConfig) { c.ToPool = 0 }},
		{"ToPool", func(c *MessageConfig) { c.ToPool = MaxToPool + 1 }},
		{"Zipf", func(c *MessageConfig) { c.Zipf = -0.1 }},
		{"Zipf", func(c *MessageConfig) { c.Zipf = math.NaN() }},
		{"Zipf", func(c *MessageConfig) { c.Zipf = math.Inf(1) }},
		{"TTL", func(c *MessageConfig) { c.TTL = -2 }},
		{"TTL", func(c *MessageConfig) { c.TTL = MaxTTL + 1 }},
		{"CollapseKey", func(c *MessageConfig) { c.CollapseKey = "a\xffb" }},
		{"Priority", func(c *MessageConfig) { c.Priority = "urgent" }},
		{"Priority", func(c *MessageConfig) { c.Priority = "High" }},
		{"InvalidRate", func(c *MessageConfig) { c.InvalidRate = 1.01 }},
		{"InvalidRate", func(c *MessageConfig) { c.InvalidRate = -0.5 }},
		{"InvalidRate", func(c *MessageConfig) { c.InvalidRate = math.NaN() }},
	}
	for _, tt := range tests {
		cfg := DefaultMessageConfig()
		tt.f(&cfg)
		g, err := NewGenerator(cfg)
		var ce *ConfigError
		if g != nil || !errors.Is(err, ErrMessageConfig) || !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("NewGenerator(%+v) = %v, %v; want a *ConfigError for %s", cfg, g, err, tt.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), "workload: MessageConfig."+tt.field+": ") {
			t.Errorf("NewGenerator(%+v) error %q", cfg, err)
		}
	}
	if _, err := NewGenerator(MessageConfig{}); err == nil {
		t.Errorf("NewGenerator(MessageConfig{}) = nil error; want ToPool refused")
	}
}

// A drawn message appended again later, by another clone, is the same
// message: resends need no stored payload.
func TestAppendMessageRepeats(t *testing.T) {
	cfg := DefaultMessageConfig()
	cfg.InvalidRate = 0.3
	cfg.Zipf = 1.1
	g, ref := mustGenerator(t, cfg), mustGenerator(t, cfg)
	other := g.Clone(7)
	invalid := 0
	for i := range 500 {
		id := []byte("m-" + strconv.Itoa(i))
		want, wantInvalid := ref.AppendJSON(nil, id)
		m := g.Draw()
		first := g.AppendMessage(nil, id, m)
		again := other.AppendMessage(nil, id, m)
		if !bytes.Equal(first, want) || m.Invalid() != wantInvalid {
			t.Fatalf("message %d: Draw+AppendMessage = %s (invalid %v); AppendJSON = %s (invalid %v)", i, first, m.Invalid(), want, wantInvalid)
		}
		if !bytes.Equal(again, first) {
			t.Fatalf("message %d appended again by a clone: %s; want %s", i, again, first)
		}
		if m.Invalid() {
			invalid++
		}
	}
	if invalid == 0 {
		t.Errorf("no invalid message in 500 at rate 0.3")
	}
	buf := make([]byte, 0, g.MaxJSONLen(8))
	m := g.Draw()
	if n := testing.AllocsPerRun(1000, func() { buf = g.AppendMessage(buf[:0], []byte("m-1"), m) }); n != 0 {
		t.Errorf("AppendMessage allocates %v times; want 0", n)
	}
}

func TestAppendJSONEscapesID(t *testing.T) {
	t.Parallel()
	g := mustGenerator(t, DefaultMessageConfig())
	for _, id := range []string{"plain-1", `q"uote`, `back\slash`, "ctl\x00\x1f\x7f", "é😀\u2028", "bad\xff\xfeutf8", ""} {
		out, _ := g.AppendJSON(nil, []byte(id))
		var m struct {
			MessageID string `json:"message_id"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("AppendJSON(%q): %v: %s", id, err, out)
		}
		want, _ := json.Marshal(id) // replaces each invalid byte with U+FFFD
		var ws string
		_ = json.Unmarshal(want, &ws)
		if m.MessageID != ws {
			t.Errorf("AppendJSON(%q) message_id = %q; want %q", id, m.MessageID, ws)
		}
	}
}

func TestMaxJSONLen(t *testing.T) {
	t.Parallel()
	cfg := DefaultMessageConfig()
	cfg.InvalidRate = 1
	cfg.PayloadBytes = MaxPayloadBytes
	cfg.TTL = 100
	cfg.CollapseKey = "ck\x01"
	cfg.Priority = "normal"
	cfg.Receipts = true
	g := mustGenerator(t, cfg)
	id := []byte("\x01\x02\"\xff")
	for range 12 {
		out, _ := g.AppendJSON(nil, id)
		if len(out) > g.MaxJSONLen(len(id)) {
			t.Fatalf("len(AppendJSON) = %d > MaxJSONLen(%d) = %d", len(out), len(id), g.MaxJSONLen(len(id)))
		}
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	for _, rate := range []float64{0, 0.5} {
		cfg := DefaultMessageConfig()
		cfg.Zipf = 1.2
		cfg.TTL = 0
		cfg.CollapseKey = "c"
		cfg.InvalidRate = rate
		g := mustGenerator(t, cfg)
		buf := make([]byte, 0, g.MaxJSONLen(32))
		id := []byte("0123456789abcdef")
		if n := testing.AllocsPerRun(1000, func() { buf, _ = g.AppendJSON(buf[:0], id) }); n != 0 {
			t.Errorf("invalid rate %g: AppendJSON allocates %v times; want 0", rate, n)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte("m-1"), "ck", 100, 0.5)
	f.Add([]byte("\xff\"\\\x00"), "\u2028\"", 0, 1.0)
	f.Fuzz(func(t *testing.T, id []byte, collapseKey string, payload int, invalidRate float64) {
		cfg := DefaultMessageConfig()
		cfg.ToPool = 3
		cfg.CollapseKey = collapseKey
		cfg.PayloadBytes = payload
		cfg.InvalidRate = invalidRate
		g, err := NewGenerator(cfg)
		if err != nil {
			if !errors.Is(err, ErrMessageConfig) {
				t.Fatalf("NewGenerator: %v does not wrap ErrMessageConfig", err)
			}
			return
		}
		for range 3 {
			out, invalid := g.AppendJSON(nil, id)
			m, ccsInvalid := ccsVerdict(t, out)
			if invalid != ccsInvalid {
				t.Fatalf("invalid=%v, CCS's rules say %v: %s", invalid, ccsInvalid, out)
			}
			want, _ := json.Marshal(string(id))
			var ws string
			_ = json.Unmarshal(want, &ws)
			if m["message_id"] != ws || (collapseKey != "" && m["collapse_key"] != collapseKey) {
				t.Fatalf("AppendJSON(%q) with collapse key %q: %s", id, collapseKey, out)
			}
			if len(out) > g.MaxJSONLen(len(id)) {
				t.Fatalf("len %d > MaxJSONLen %d", len(out), g.MaxJSONLen(len(id)))
			}
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, tc := range []struct {
		name string
		f    func(*MessageConfig)
	}{
		{"default", func(*MessageConfig) {}},
		{"zipf-1M-ids", func(c *MessageConfig) { c.ToPool = MaxToPool; c.Zipf = 1.1 }},
		{"all-fields-invalid10%", func(c *MessageConfig) {
			c.TTL = 0
			c.CollapseKey = "k"
			c.Priority = "high"
			c.Receipts = true
			c.InvalidRate = 0.1
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultMessageConfig()
			tc.f(&cfg)
			g := mustGenerator(b, cfg)
			buf := make([]byte, 0, g.MaxJSONLen(20))
			id := []byte("m-0000000000000001")
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = g.AppendJSON(buf[:0], id)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkAppendJSONStdlib is the encoding/json equivalent, for scale.
func BenchmarkAppendJSONStdlib(b *testing.B) {
	g := mustGenerator(b, DefaultMessageConfig())
	out, _ := g.AppendJSON(nil, []byte("m-0000000000000001"))
	var msg struct {
		To        string            `json:"to"`
		MessageID string            `json:"message_id"`
		Data      map[string]string `json:"data"`
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _ = json.Marshal(&msg)
	}
	b.SetBytes(int64(len(out)))
}
