package driver

import (
	"io"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

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
	p := newPconn(d, d.lanes[0], nc)
	d.lanes[0].cur.Store(p)
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
	h.d.col.drain(h.p.lane, h.p.ivl[old].Swap(nil))
}

// firstOnWire returns the first record awaiting an answer, and its index.
func (h *pathHarness) firstOnWire() (*record, uint32) {
	var r *record
	var idx uint32
	h.d.recs.each(func(q *record, i uint32) {
		if r == nil && q.wire.Load() != 0 {
			r, idx = q, i
		}
	})
	return r, idx
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
