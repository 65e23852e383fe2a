package driver

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/ccsbench/ccsbench/ccs"
)

// Histogram range: latencies in microseconds from 1 µs to 60 s, three
// significant digits. Longer latencies are recorded as 60 s.
const (
	histLo  = 1
	histHi  = 60_000_000
	histSig = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histLo, histHi, histSig) }

// samplePeriod is how often the collector samples the number of pending
// messages for the peak of each interval.
const samplePeriod = 10 * time.Millisecond

// nackCounts returns the final NACKs of c by code, with the unknown codes.
func (d *Driver) nackCounts(c *countSnap) map[string]uint64 {
	m := d.unknown.snapshot()
	for i, n := range c.nacks {
		if n > 0 {
			m[ccs.NackCode(i).String()] += n
		}
	}
	return m
}

// countSnap sums the per-connection counters.
type countSnap struct {
	created, sent, retries            uint64
	acked, nacked, stanzaErrors, lost uint64
	upstream, receipts                uint64
	strays                            [numStrayKinds]uint64
	conds                             [numConds]uint64
	nacks                             [ccs.NumNackCodes]uint64
}

func (c *countSnap) pending() uint64 {
	done := c.acked + c.nacked + c.stanzaErrors + c.lost
	if done > c.created {
		return 0
	}
	return c.created - done
}

func (c *countSnap) addConn(p *pconn) {
	c.created += p.wc.created.Load()
	c.sent += p.wc.sent.Load()
	c.retries += p.wc.retries.Load()
	c.acked += p.rc.acked.Load()
	c.nacked += p.rc.nacked.Load()
	c.stanzaErrors += p.rc.stanzaErrors.Load()
	c.lost += p.rc.lost.Load()
	for i := range c.strays {
		c.strays[i] += p.rc.strays[i].Load()
	}
	for i := range c.conds {
		c.conds[i] += p.rc.conds[i].Load()
	}
	c.upstream += p.wc.upstream.Load()
	c.receipts += p.wc.receipts.Load()
	for i := range c.nacks {
		c.nacks[i] += p.rc.nacks[i].Load()
	}
}

func (d *Driver) sumCounts() countSnap {
	d.mu.Lock()
	c := d.retired
	for _, p := range d.conns {
		c.addConn(p)
	}
	d.mu.Unlock()
	c.created += d.created.Load()
	return c
}

// collector records the samples of every connection into the interval
// histograms, closes an interval at its end, and builds the timeline and
// the totals. Every samplePeriod it drains the full batches of samples of
// every connection (so that a busy connection holds a few batches, not an
// interval of them) and samples the number of pending messages for the
// interval's peak, from the same counters Progress reads, so that the hot
// path pays nothing for it (an exact peak would need one counter shared
// by every sender and reader, written twice per message). At the end of
// an interval it flips every connection to its other chain of samples
// (see pconn.record) and drains the one it left.
type collector struct {
	d        *Driver
	ivSvc    *hdrhistogram.Histogram
	ivRsp    *hdrhistogram.Histogram
	totSvc   *hdrhistogram.Histogram
	totRsp   *hdrhistogram.Histogram
	prev     countSnap
	prevDisc uint64
	peak     uint64 // most pending messages sampled in the current interval
	k        int
	list     []*pconn
	ivls     []Interval
	quit     chan struct{}
	finished chan struct{}
	once     sync.Once

	// Connections whose reader is done, handed over by the reader and
	// folded at once (not at the next interval boundary), so that their
	// batches go back to their lane within milliseconds even when
	// connections are replaced many times a second.
	retMu   sync.Mutex
	retList []*pconn
	retWake chan struct{}
	ivAcked uint64 // samples recorded into ivSvc and ivRsp: the interval's ACKs so far

	lastRate, lastP99, lastRP99 atomic.Uint64
	lastP50, lastRP50           atomic.Uint64
}

func (c *collector) init(d *Driver) {
	c.d = d
	c.ivSvc, c.ivRsp = newHist(), newHist()
	c.totSvc, c.totRsp = newHist(), newHist()
	c.quit = make(chan struct{})
	c.finished = make(chan struct{})
	c.retWake = make(chan struct{}, 1)
}

// retire hands over a connection whose reader is done.
func (c *collector) retire(p *pconn) {
	c.retMu.Lock()
	c.retList = append(c.retList, p)
	c.retMu.Unlock()
	select {
	case c.retWake <- struct{}{}:
	default:
	}
}

// foldRetired records the samples of the connections whose reader is
// done into the current interval, adds their counts to the retired
// totals, and gives their batches back to their lanes.
func (c *collector) foldRetired() {
	c.retMu.Lock()
	list := c.retList
	c.retList = nil
	c.retMu.Unlock()
	for _, p := range list {
		for i := range p.ivl {
			c.drain(p.lane, p.ivl[i].Swap(nil))
		}
		if b := p.bfree; b != nil {
			p.bfree = nil
			last := b
			for last.next.Load() != nil {
				last = last.next.Load()
			}
			p.lane.giveBatches(b, last)
		}
		c.d.fold(p)
	}
}

// drain records the samples of the chain b into the interval histograms
// and gives its batches back to lane l.
func (c *collector) drain(l *lane, b *sampleBatch) {
	if b == nil {
		return
	}
	first := b
	for {
		for _, x := range b.s[:b.n] {
			_ = c.ivSvc.RecordValue(int64(x.svc))
			_ = c.ivRsp.RecordValue(int64(x.rsp))
		}
		c.ivAcked += uint64(b.n)
		b.n = 0
		next := b.next.Load()
		if next == nil {
			break
		}
		b = next
	}
	l.giveBatches(first, b)
}

// drainFull drains the full batches of every connection's current chain
// (all but its head, which the reader fills) into the current interval.
// It takes them with a Swap of the head's next, which the reader wrote
// before it published that head and never writes again; a head the
// reader replaces meanwhile is full, and the next drainFull takes it.
func (c *collector) drainFull() {
	d := c.d
	d.mu.Lock()
	c.list = append(c.list[:0], d.conns...)
	d.mu.Unlock()
	for _, p := range c.list {
		if h := p.ivl[p.cur.Load()].Load(); h != nil {
			c.drain(p.lane, h.next.Swap(nil))
		}
	}
}

func (c *collector) run() {
	defer close(c.finished)
	iv := c.d.cfg.Interval
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	sample := time.NewTicker(samplePeriod)
	defer sample.Stop()
	for {
		next := c.d.base.Add(time.Duration(c.k+1) * iv)
		t.Reset(time.Until(next))
		select {
		case <-t.C:
			c.collect(time.Duration(c.k+1) * iv)
		case <-sample.C:
			snap := c.d.sumCounts()
			c.peak = max(c.peak, snap.pending())
			c.drainFull()
		case <-c.retWake:
			c.foldRetired()
		case <-c.quit:
			end := time.Duration(c.d.now())
			if end > time.Duration(c.k)*iv {
				c.collect(end)
			}
			return
		}
	}
}

func (c *collector) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.finished
}

// collect closes the interval ending at end.
func (c *collector) collect(end time.Duration) {
	d := c.d
	// Counts first, as close to the boundary as the timer allows: merging
	// the histograms below takes milliseconds, and the messages sent
	// meanwhile belong to the next interval.
	snap := d.sumCounts()
	disc := d.discTotal.Load()
	c.foldRetired()
	d.mu.Lock()
	c.list = append(c.list[:0], d.conns...)
	d.mu.Unlock()
	// Flip every connection's chains first, then drain: the ACKs of an
	// interval are those before its boundary, not before a drain. cur is
	// stored before gen is read, and the reader increments gen before it
	// reads cur (pconn.record): when gen is even here, every later record
	// goes into the new chain; when it is odd, a record into the old one
	// may be in progress, and it is done once gen moves. The wait is a
	// handful of stores long (a record does not block).
	for _, p := range c.list {
		old := p.cur.Load()
		p.cur.Store(old ^ 1)
		if g := p.gen.Load(); g&1 == 1 {
			for p.gen.Load() == g {
				runtime.Gosched()
			}
		}
	}
	for _, p := range c.list {
		c.drain(p.lane, p.ivl[p.cur.Load()^1].Swap(nil))
	}
	acked := c.ivAcked
	c.ivAcked = 0
	length := d.cfg.Interval
	start := time.Duration(c.k) * length
	pending := snap.pending()
	iv := Interval{
		Start:        start,
		End:          end,
		Messages:     snap.created - c.prev.created,
		Sent:         snap.sent - c.prev.sent,
		Acked:        acked,
		Nacked:       snap.nacked - c.prev.nacked,
		StanzaErrors: snap.stanzaErrors - c.prev.stanzaErrors,
		Pending:      pending,
		PendingPeak:  max(c.peak, pending),
		Disconnects:  disc - c.prevDisc,
		Warmup:       start < d.cfg.Warmup,
	}
	if d.cfg.IntervalHistograms {
		iv.Service = hdrhistogram.NewPacked(histLo, histHi, histSig)
		iv.Response = hdrhistogram.NewPacked(histLo, histHi, histSig)
		iv.Service.MergeFrom(c.ivSvc)
		iv.Response.MergeFrom(c.ivRsp)
		iv.Service.Compact()
		iv.Response.Compact()
	}
	if c.ivSvc.TotalCount() > 0 {
		iv.ServiceP50 = c.ivSvc.ValueAtQuantile(50)
		iv.ServiceP99 = c.ivSvc.ValueAtQuantile(99)
		iv.ResponseP50 = c.ivRsp.ValueAtQuantile(50)
		iv.ResponseP99 = c.ivRsp.ValueAtQuantile(99)
	}
	if !iv.Warmup {
		c.totSvc.Merge(c.ivSvc)
		c.totRsp.Merge(c.ivRsp)
	}
	c.ivSvc.Reset()
	c.ivRsp.Reset()
	// A short last interval in which nothing happened (the run ended just
	// after a boundary) says nothing and would show as a zero rate.
	if empty := iv.Messages == 0 && iv.Sent == 0 && iv.Acked == 0 && iv.Nacked == 0 && iv.StanzaErrors == 0 && iv.Disconnects == 0; !empty || end-start >= length/2 {
		c.ivls = append(c.ivls, iv)
	}
	c.prev = snap
	c.prevDisc = disc
	// The pending count at the boundary starts the next interval's peak.
	c.peak = pending
	c.k++
	if secs := (end - start).Seconds(); secs > 0 {
		c.lastRate.Store(math.Float64bits(float64(iv.Acked) / secs))
	}
	c.lastP99.Store(uint64(iv.ServiceP99))
	c.lastRP99.Store(uint64(iv.ResponseP99))
	c.lastP50.Store(uint64(iv.ServiceP50))
	c.lastRP50.Store(uint64(iv.ResponseP50))
}

// fold adds a finished connection's counters to the retired totals and
// forgets it.
func (d *Driver) fold(p *pconn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, q := range d.conns {
		if q == p {
			d.retired.addConn(p)
			d.conns = append(d.conns[:i], d.conns[i+1:]...)
			return
		}
	}
}

// result builds the Result after every goroutine stopped.
func (d *Driver) result(stopT int64) *Result {
	c := &d.col
	snap := d.sumCounts()
	r := &Result{
		Client:       d.tr.Name(),
		Start:        d.base,
		MeasureStart: d.base.Add(d.cfg.Warmup),
		Warmup:       d.cfg.Warmup,
		Elapsed:      time.Since(d.base),
		Service:      c.totSvc,
		Response:     c.totRsp,
		Intervals:    c.ivls,
		MaxResends:   d.cfg.MaxResends,
		// The scheduler has ended (Run waited for it).
		WaitNoConnection: d.waitNoConn,
		WaitFull:         d.waitFull,
	}
	d.mu.Lock()
	r.LastDialError = d.dialErr
	d.mu.Unlock()
	d.hsMu.Lock()
	r.Handshakes = d.handshakes.Clone()
	d.hsMu.Unlock()
	r.AllConnected = d.allConnected
	cnt := &r.Counts
	cnt.Messages = snap.created
	cnt.Acked = snap.acked
	cnt.Nacked = snap.nacked
	cnt.StanzaErrors = snap.stanzaErrors
	cnt.Lost = snap.lost
	cnt.Sent = snap.sent
	cnt.Retries = snap.retries
	cnt.Upstream = snap.upstream
	cnt.Receipts = snap.receipts
	cnt.StrayKinds = map[string]uint64{}
	for i, n := range snap.strays {
		cnt.Strays += n
		if n > 0 {
			cnt.StrayKinds[strayNames[i]] = n
		}
	}
	cnt.ErrorConditions = map[string]uint64{}
	for i, n := range snap.conds {
		if n > 0 {
			cnt.ErrorConditions[stanzaConds[i]] = n
		}
	}
	for _, l := range d.lanes {
		cnt.Reconnects += l.reconnects.Load()
		cnt.Draining += l.draining.Load()
		cnt.DialFailures += l.dialFailures.Load()
	}
	cnt.DrainTimeouts = d.drainTimeouts.Load()
	cnt.Disconnects = d.disc.snapshot()
	cnt.Nacks = d.nackCounts(&snap)
	// Messages without an outcome when the drain deadline passed are
	// unresolved, those waiting for the resend of a retryable NACK too.
	d.recs.each(func(r *record, _ uint32) {
		if r.live {
			cnt.Unresolved++
		}
	})
	cnt.Unsent = d.unsent.Load()
	// Both rates are over the sending period: from the end of the warm-up
	// to the end of sending (the wait for the last answers is left out, so
	// that a few backed-off retries do not drag the rate down).
	if m := time.Duration(stopT) - d.cfg.Warmup; m > 0 {
		r.Measured = m
		var acked, offered uint64
		for _, iv := range c.ivls {
			if !iv.Warmup {
				acked += iv.Acked
				offered += iv.Messages
			}
		}
		r.AckedRate = float64(acked) / m.Seconds()
		r.OfferedRate = float64(offered) / m.Seconds()
	}
	return r
}
