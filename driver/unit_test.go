package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/workload"
)

func TestIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		seq    uint64
		idx    uint32
	}{
		{"", 1, 0}, {"ab12cd-", 1, 0}, {"x", 0xffffffffffffffff, 0xffffffff}, {"run_7-", 12345, 678},
	} {
		id := appendID(nil, tc.prefix, tc.seq, tc.idx)
		seq, idx, ok := parseID(tc.prefix, id)
		if !ok || seq != tc.seq || idx != tc.idx {
			t.Errorf("parseID(%q, %q) = %d, %d, %v; want %d, %d, true", tc.prefix, id, seq, idx, ok, tc.seq, tc.idx)
		}
	}
	for _, bad := range []string{"", "p-", "p-1", "p-.1", "p-1.", "p-1.g", "p-G.1", "q-1.1", "p-1.2.3", "p-11111111111111111.1", "p-1.111111111"} {
		if seq, idx, ok := parseID("p-", []byte(bad)); ok {
			t.Errorf("parseID(%q, %q) = %d, %d, true; want false", "p-", bad, seq, idx)
		}
	}
}

func TestFindID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ payload, want string }{
		{`{"to":"x","message_iX":"ab-1f.3","data":{}}`, "ab-1f.3"},
		{`not json ab-2.0 trailing`, "ab-2.0"},
		{`ab-zz ab-3.4`, "ab-3.4"},
		{`nothing here`, ""},
	} {
		if got := findID("ab-", []byte(tc.payload)); string(got) != tc.want {
			t.Errorf("findID(%q) = %q; want %q", tc.payload, got, tc.want)
		}
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("ab-", "ab-1f.3")
	f.Add("", "0.0")
	f.Add("x", "x.")
	f.Fuzz(func(t *testing.T, prefix, id string) {
		seq, idx, ok := parseID(prefix, []byte(id))
		if !ok {
			return
		}
		if len(prefix) > 16 {
			return
		}
		// Parsing what appendID wrote gives the same numbers back.
		b := appendID(nil, prefix, seq, idx)
		if len(b) > maxIDLen {
			t.Fatalf("appendID wrote %d bytes; maxIDLen is %d", len(b), maxIDLen)
		}
		s2, i2, ok2 := parseID(prefix, b)
		if !ok2 || s2 != seq || i2 != idx {
			t.Fatalf("round trip of %q: %d,%d,%v; want %d,%d", b, s2, i2, ok2, seq, idx)
		}
		if got := findID(prefix, []byte(id)); prefix != "" && got == nil {
			t.Fatalf("findID(%q, %q) = nil for a valid id", prefix, id)
		}
	})
}

func TestWindowConcurrent(t *testing.T) {
	t.Parallel()
	const max, workers, rounds = 100, 8, 5000
	var w window
	w.max = max
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			mine := 0
			for range rounds {
				if rng.IntN(2) == 0 && w.claim() {
					n := held.Add(1)
					if n > max {
						t.Errorf("%d slots held; window is %d", n, max)
					}
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					mine++
				} else if mine > 0 {
					held.Add(-1)
					w.release()
					mine--
				}
			}
			for ; mine > 0; mine-- {
				held.Add(-1)
				w.release()
			}
		}()
	}
	wg.Wait()
	if w.pending() != 0 {
		t.Errorf("pending = %d after every release; want 0", w.pending())
	}
	if peak.Load() == 0 {
		t.Errorf("no slot was ever claimed")
	}
	w.claim()
	w.close()
	if w.claim() {
		t.Errorf("claim succeeded on a closed window")
	}
	w.release()
	if w.pending() != 0 {
		t.Errorf("pending = %d after close and release; want 0", w.pending())
	}
}

// newTestTable returns a table holding n records (all allocated) for one
// slot.
func newTestTable(n int) *recTable {
	t := &recTable{chunks: make([]atomic.Pointer[recChunk], (n+recChunkLen-1)/recChunkLen)}
	for k := range t.chunks {
		t.chunks[k].Store(new(recChunk))
	}
	return t
}

// The pool grows a chunk at a time while workers pop and push at once:
// every record is handed out to one worker at a time, and the pool ends
// holding exactly its size, no more.
func TestPoolConcurrent(t *testing.T) {
	t.Parallel()
	const n, workers = 250, 6
	recs := &recTable{chunks: make([]atomic.Pointer[recChunk], (n+recChunkLen-1)/recChunkLen)}
	var pool recordPool
	pool.init(0, n)
	var owner [n]atomic.Int32
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []uint32
			for k := range 20000 {
				if k%3 != 2 {
					if i, ok := pool.pop(recs); ok {
						if !owner[i].CompareAndSwap(0, int32(g+1)) {
							t.Errorf("record %d popped twice", i)
						}
						mine = append(mine, i)
					}
				} else if len(mine) > 0 {
					i := mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					owner[i].Store(0)
					pool.push(recs, i)
				}
			}
			for _, i := range mine {
				owner[i].Store(0)
				pool.push(recs, i)
			}
		}()
	}
	wg.Wait()
	seen := 0
	for {
		if _, ok := pool.pop(recs); !ok {
			break
		}
		seen++
	}
	if seen != n {
		t.Errorf("pool holds %d records at the end; want %d", seen, n)
	}
	if g := pool.grown.Load(); g != pool.chunks || !pool.emptyHint() {
		t.Errorf("pool grew %d chunks of %d, empty hint %v; want all, and empty", g, pool.chunks, pool.emptyHint())
	}
	if r := recs.lookup(n - 1); r == nil || r.origin != 0 {
		t.Errorf("lookup(%d) = %v; want the last record", n-1, r)
	}
	if r := recs.lookup(uint32(len(recs.chunks) * recChunkLen)); r != nil {
		t.Errorf("lookup past the table = %v; want nil", r)
	}
}

func TestInbox(t *testing.T) {
	t.Parallel()
	recs := newTestTable(1000)
	var in inbox
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * 250; i < (g+1)*250; i++ {
				in.push(recs, uint32(i))
			}
		}()
	}
	got := map[uint32]bool{}
	drain := func() {
		for l := in.takeAll(); l != 0; l = recs.at(l - 1).next.Load() {
			if got[l-1] {
				t.Errorf("record %d taken twice", l-1)
			}
			got[l-1] = true
		}
	}
	for range 100 {
		drain()
	}
	wg.Wait()
	drain()
	if len(got) != 1000 {
		t.Errorf("took %d records; want 1000", len(got))
	}
}

func TestDueHeap(t *testing.T) {
	t.Parallel()
	recs := newTestTable(200)
	rng := rand.New(rand.NewPCG(1, 2))
	var h dueHeap
	for i := range uint32(200) {
		recs.at(i).due = rng.Int64N(1000)
		h.push(recs, i)
	}
	var ready fifo
	ready.init(4)
	h.promote(recs, 500, &ready)
	last := int64(-1)
	for ready.len() > 0 {
		d := recs.at(ready.pop()).due
		if d > 500 || d < last {
			t.Fatalf("promoted due %d after %d (limit 500)", d, last)
		}
		last = d
	}
	for h.len() > 0 {
		d := recs.at(h.pop(recs)).due
		if d <= 500 || d < last {
			t.Fatalf("popped due %d after %d", d, last)
		}
		last = d
	}
}

type nopTransport struct{}

func (nopTransport) Dial(context.Context, int) (Conn, error) {
	return nil, errors.New("nopTransport does not dial")
}
func (nopTransport) Name() string { return "nop" }

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	base := func() Config { return Config{Transport: nopTransport{}, Duration: time.Second} }
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no stop rule", func(c *Config) { c.Duration = 0 }},
		{"window over 100", func(c *Config) { c.Window = 101 }},
		{"window over max", func(c *Config) { c.Window = MaxWindow + 1; c.AllowWindowOverride = true }},
		{"conns", func(c *Config) { c.Conns = MaxConnsPerSender + 1 }},
		{"conns per sender", func(c *Config) { c.SenderIDs = []string{"1", "2"}; c.Conns = 2*MaxConnsPerSender + 1 }},
		{"empty sender", func(c *Config) { c.SenderIDs = []string{"1", ""} }},
		{"senders", func(c *Config) { c.SenderIDs = make([]string, MaxSenders+1) }},
		{"dial concurrency", func(c *Config) { c.DialConcurrency = -1 }},
		{"conn rate", func(c *Config) { c.ConnRate = -1 }},
		{"record ids", func(c *Config) {
			c.SenderIDs = make([]string, MaxSenders)
			for i := range c.SenderIDs {
				c.SenderIDs[i] = fmt.Sprint(i + 1)
			}
			c.Conns, c.Backlog = MaxSenders*MaxConnsPerSender, MaxRecords-DefaultWindow
		}},
		{"warmup", func(c *Config) { c.Warmup = time.Second }},
		{"backoff", func(c *Config) { c.InitialBackoff = time.Second; c.MaxBackoff = time.Millisecond }},
		{"jitter", func(c *Config) { c.BackoffJitter = 2 }},
		{"prefix", func(c *Config) { c.IDPrefix = "a.b" }},
		{"pacer", func(c *Config) { c.Pacer = workload.ConstantPacer{Freq: -1} }},
		{"message", func(c *Config) { c.Message = workload.DefaultMessageConfig(); c.Message.ToPool = 0 }},
		{"no target", func(c *Config) { c.Transport = nil }},
		{"no key", func(c *Config) { c.Transport = nil; c.Target = "127.0.0.1:1"; c.SenderID = "1" }},
	} {
		cfg := base()
		tc.mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v; want an error wrapping ErrConfig", tc.name, err)
		}
	}
	d, err := New(Config{Transport: nopTransport{}, Window: 500, AllowWindowOverride: true, Messages: 1, Warmup: 1500 * time.Millisecond})
	if err != nil {
		t.Fatalf("New with a window override: %v", err)
	}
	if c := d.Config(); c.Warmup != 2*time.Second || c.Conns != DefaultConns || c.DrainTimeout != DefaultDrainTimeout {
		t.Errorf("defaults: warmup %v conns %d drain %v", c.Warmup, c.Conns, c.DrainTimeout)
	}
}

// loopReader serves data and then io.EOF; the test refills it.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(b []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(b, r.data[r.off:])
	r.off += n
	return n, nil
}

// pathHarness is a driver and one connection whose writes go to a buffer
// and whose reads come from a loopReader, for the hot paths without a
// network.
type pathHarness struct {
	d  *Driver
	p  *pconn
	nc *nativeConn
	rd *loopReader
}

func newPathHarness(t testing.TB) *pathHarness {
	d, err := New(Config{Transport: nopTransport{}, Conns: 1, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d.base = time.Now()
	rd := &loopReader{data: []byte(`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" from="gcm.googleapis.com" id="0123456789ABCDEF" version="1.0">`)}
	nc := newNativeConn(&ccs.Conn{Framer: ccs.NewFramer(rd, ccs.FramerConfig{ReadSize: NativeReadSize})}, rd)
	if st, err := nc.c.Framer.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		t.Fatalf("stream header: %v %v", st, err)
	}
	rd.data = make([]byte, 0, 256<<10)
	rd.off = 0
	p := newPconn(d, d.slots[0], nc)
	d.slots[0].cur.Store(p)
	return &pathHarness{d: d, p: p, nc: nc, rd: rd}
}

// sendWindow fills the window; it returns how many messages it sent.
func (h *pathHarness) sendWindow() int {
	if b := h.nc.w; b != nil {
		*b = (*b)[:0]
	}
	return h.p.generate(h.d.now())
}

// answerAll writes an ACK for every message on the wire into the reader
// and reads them back through the ack path.
func (h *pathHarness) answerAll() int {
	h.rd.data, h.rd.off = h.rd.data[:0], 0
	h.d.recs.each(func(r *record, i uint32) {
		if r.wire.Load() != 0 {
			h.rd.data = appendAckFor(h.rd.data, h.d, r, i)
		}
	})
	n := 0
	for h.rd.off < len(h.rd.data) || h.nc.c.Framer.Buffered() > 0 {
		if err := h.p.c.Next(&h.p.ev); err != nil {
			panic(err)
		}
		h.p.onAck(h.p.ev.ID)
		n++
	}
	h.p.endBatch()
	return n
}

var ackFrom = []byte("dGVzdC1yZWdpZC0w:APA91bHlongregistrationtokenlikeFCMsendsforeverydevice0123456789")

// appendAckFor appends the ACK the server sends for record i.
func appendAckFor(dst []byte, d *Driver, r *record, i uint32) []byte {
	var id [maxIDLen]byte
	return ccs.AppendAck(dst, ackFrom, appendID(id[:0], d.cfg.IDPrefix, r.gen, i), nil)
}

// drainSamples does the collector's part of the ack path: it flips the
// connection's chains of samples, records the ones it left into the
// interval histograms and gives their batches back for reuse.
func (h *pathHarness) drainSamples() {
	old := h.p.cur.Load()
	h.p.cur.Store(old ^ 1)
	h.d.col.drain(h.p.s, h.p.ivl[old].Swap(nil))
}

// releaseAll takes every message off the wire without the ack path.
func (h *pathHarness) releaseAll() {
	h.d.recs.each(func(r *record, i uint32) {
		if r.wire.Load() != 0 {
			r.wire.Store(0)
			h.p.win.release()
			h.d.free(r, i)
		}
	})
}

func TestHotPathAllocs(t *testing.T) {
	h := newPathHarness(t)
	// Warm up: buffers reach their steady size.
	for range 3 {
		h.sendWindow()
		h.answerAll()
		h.drainSamples()
	}
	var sent, acked int
	send := testing.AllocsPerRun(200, func() {
		sent = h.sendWindow()
		// Release without the ack path, to measure the send path alone.
		h.releaseAll()
	})
	if sent != DefaultWindow {
		t.Fatalf("sent %d messages per window; want %d", sent, DefaultWindow)
	}
	if send != 0 {
		t.Errorf("send path: %v allocations per window of %d messages; want 0", send, sent)
	}
	both := testing.AllocsPerRun(200, func() {
		h.sendWindow()
		acked = h.answerAll()
		h.drainSamples()
	})
	if acked != DefaultWindow {
		t.Fatalf("acked %d messages per window; want %d", acked, DefaultWindow)
	}
	if both != 0 {
		t.Errorf("send and ack paths: %v allocations per window of %d messages; want 0", both, acked)
	}
	if got := h.p.rc.acked.Load(); got < 200*DefaultWindow {
		t.Errorf("acked counter %d; want at least %d", got, 200*DefaultWindow)
	}
	if got, want := h.d.col.ivSvc.TotalCount(), h.d.col.ivAcked; got != int64(want) || want < 200*DefaultWindow {
		t.Errorf("interval histogram holds %d values, %d samples drained; want equal and at least %d", got, want, 200*DefaultWindow)
	}
}

// corruptTransport renames message_id in every tenth message, so that
// the server answers with a stanza error echoing the payload.
type corruptTransport struct{ Transport }

func (t corruptTransport) Dial(ctx context.Context, i int) (Conn, error) {
	c, err := t.Transport.Dial(ctx, i)
	if err != nil {
		return nil, err
	}
	return &corruptConn{Conn: c}, nil
}

type corruptConn struct {
	Conn
	n   int
	buf []byte
}

func (c *corruptConn) SendDownstream(payload []byte) {
	c.n++
	if c.n%10 != 0 {
		c.Conn.SendDownstream(payload)
		return
	}
	c.buf = append(c.buf[:0], payload...)
	if i := bytes.Index(c.buf, []byte(`"message_id"`)); i >= 0 {
		c.buf[i+len(`"message_i`)] = 'X'
	}
	c.Conn.SendDownstream(c.buf)
}

func TestRunStanzaErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Messages = 2000
	cfg.Transport = corruptTransport{NewNativeTransport(cfg.Target, ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: cfg.TLS})}
	res := run(t, srv, cfg)
	if res.Counts.StanzaErrors == 0 || res.Counts.StanzaErrors != srv.Stats().StanzaErrors {
		t.Errorf("stanza errors %d, fake sent %d; want equal and > 0", res.Counts.StanzaErrors, srv.Stats().StanzaErrors)
	}
}

func TestRunWarmup(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Pacer = workload.ConstantPacer{Freq: 500}
	cfg.Duration = 2 * time.Second
	cfg.Warmup = 1 * time.Second
	cfg.IntervalHistograms = true
	res := run(t, srv, cfg)
	if len(res.Intervals) < 2 || !res.Intervals[0].Warmup || res.Intervals[1].Warmup {
		t.Fatalf("intervals %d, warmup flags wrong", len(res.Intervals))
	}
	var measured uint64
	for _, iv := range res.Intervals {
		if !iv.Warmup {
			measured += iv.Acked
		}
		if uint64(iv.Service.TotalCount()) != iv.Acked {
			t.Errorf("interval %v..%v: %d service values for %d acks", iv.Start, iv.End, iv.Service.TotalCount(), iv.Acked)
		}
	}
	if got := uint64(res.Service.TotalCount()); got != measured || got == 0 || got >= res.Counts.Acked {
		t.Errorf("service histogram holds %d values; want the %d acks after the warm-up (of %d)", got, measured, res.Counts.Acked)
	}
	if want := float64(measured) / res.Measured.Seconds(); res.AckedRate != want || res.AckedRate == 0 {
		t.Errorf("acked rate %.1f/s; want acks after the warm-up over the measured time, %.1f/s", res.AckedRate, want)
	}
}

func TestRunDialErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccsConfig())
	cfg := fakeConfig(srv)
	const key = "wrong-key-5f3a9c"
	cfg.APIKey = key
	cfg.Messages = 10
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Run(context.Background())
	var de *DialError
	if !errors.As(err, &de) || de.Stage != "auth" || !errors.Is(err, ccs.ErrAuthRefused) {
		t.Fatalf("Run with a wrong key = %v; want a *DialError at auth wrapping ccs.ErrAuthRefused", err)
	}
	if strings.Contains(fmt.Sprint(err), key) {
		t.Errorf("error %q contains the API key", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("failing took %v", time.Since(start))
	}

	cfg = fakeConfig(srv)
	cfg.Target = "127.0.0.1:1" // nothing listens on port 1
	cfg.Messages = 10
	d, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Run(context.Background())
	if !errors.As(err, &de) || de.Stage != "dial" {
		t.Fatalf("Run against a closed port = %v; want a *DialError at dial", err)
	}
	if _, err := d.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v; want ErrRunning", err)
	}
}

// TestBackoffGrows: each SERVICE_UNAVAILABLE doubles the message's own
// backoff from InitialBackoff up to MaxBackoff, jittered by at most 20 %.
func TestBackoffGrows(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.sendWindow()
	var r *record
	var idx uint32
	h.d.recs.each(func(q *record, i uint32) {
		if r == nil && q.wire.Load() != 0 {
			r, idx = q, i
		}
	})
	want := time.Second
	for n := range 9 {
		h.rd.data, h.rd.off = ccs.AppendNack(h.rd.data[:0], ackFrom, appendID(nil, h.d.cfg.IDPrefix, r.gen, idx), "SERVICE_UNAVAILABLE", nil), 0
		if err := h.p.c.Next(&h.p.ev); err != nil || h.p.ev.Kind != EventNack {
			t.Fatalf("Next = %v, kind %v", err, h.p.ev.Kind)
		}
		before := h.d.now()
		h.p.onNack(&h.p.ev)
		after := h.d.now()
		if time.Duration(r.backoff) != want {
			t.Fatalf("NACK %d: backoff %v; want %v", n+1, time.Duration(r.backoff), want)
		}
		if lo, hi := before+int64(want), after+int64(float64(want)*1.2); r.due < lo || r.due > hi {
			t.Fatalf("NACK %d: due in %v; want %v..%v", n+1, time.Duration(r.due-before), want, time.Duration(hi-before))
		}
		// Take it back from the inbox and put it on the wire again, as the
		// writer's resend would.
		if l := h.p.s.in.takeAll(); l != idx+1 {
			t.Fatalf("inbox holds %d; want record %d", l, idx+1)
		}
		h.p.win.claim()
		r.conn.Store(h.p.id)
		r.wire.Store(r.gen)
		want = min(2*want, DefaultMaxBackoff)
	}
	if r.lastNack != ccs.NackServiceUnavailable || !r.nacked {
		t.Errorf("last NACK %v", r.lastNack)
	}
}

// Samples go through batches and the collector into exactly the histogram
// recording them directly would give (1 µs to 60 s, 3 significant digits,
// clamped at both ends), and a flip splits them exactly at the flip.
func TestSamplesRecordedExactly(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.d.conns = append(h.d.conns, h.p) // for drainFull
	rng := rand.New(rand.NewPCG(3, 4))
	wantSvc, wantRsp := newHist(), newHist()
	record := func(n int) {
		for range n {
			// Log-uniform from 100 ns to 100 s: below, inside and above the range.
			svc := int64(100 * math.Pow(10, 9*rng.Float64()))
			rsp := svc + rng.Int64N(1_000_000)
			h.p.record(svc, rsp)
			_ = wantSvc.RecordValue(clampUS(svc))
			_ = wantRsp.RecordValue(clampUS(rsp))
		}
	}
	check := func(when string, n int) {
		t.Helper()
		c := &h.d.col
		if !c.ivSvc.Equals(wantSvc) || !c.ivRsp.Equals(wantRsp) || c.ivAcked != uint64(n) {
			t.Errorf("%s: collector holds %d service and %d response values, %d samples; want the %d recorded, exactly", when,
				c.ivSvc.TotalCount(), c.ivRsp.TotalCount(), c.ivAcked, n)
		}
		c.ivSvc.Reset()
		c.ivRsp.Reset()
		c.ivAcked = 0
		wantSvc.Reset()
		wantRsp.Reset()
	}
	record(1000) // several batches
	h.d.col.drainFull()
	if got, want := h.d.col.ivAcked, uint64(1000/batchLen*batchLen); got != want {
		t.Errorf("drainFull took %d samples; want the %d of the full batches", got, want)
	}
	h.drainSamples()
	check("first interval", 1000)
	record(batchLen + 1)
	h.drainSamples() // the flip: what was recorded is this interval's
	check("before the flip", batchLen+1)
	record(7) // and this is the next one's
	h.d.col.drainFull()
	if got := h.d.col.ivAcked; got != 0 {
		t.Errorf("the head batch was drained before the flip: %d samples", got)
	}
	h.drainSamples()
	check("after the flip", 7)
}
