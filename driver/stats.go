package driver

import (
	"errors"
	"fmt"
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

// Counts are the outcomes of a run's messages and the events around them.
// Every unique message ends in exactly one outcome, so Messages == Acked +
// Nacked + StanzaErrors + Lost + Unresolved (Check). Resends are Retries,
// never Messages. Outcomes are frozen when the drain deadline passes:
// answers that arrive later (while the streams close) are Strays.
type Counts struct {
	// Messages is the number of unique downstream messages created.
	Messages uint64
	// Acked, Nacked and StanzaErrors count final outcomes; Nacks breaks
	// Nacked down by code (it sums to Nacked). A NACK is an outcome only
	// when it is final: a final code, or a bounded code
	// (INTERNAL_SERVER_ERROR, unknown codes) whose retries are exhausted.
	// Known codes are keyed by name; an unknown one by the start of its
	// "error" field (the code, never the description), printable ASCII
	// only, at most MaxKeyLen bytes, the API key removed, and after
	// MaxNackKeys distinct unknown codes the rest under NackOther.
	Acked, Nacked uint64
	Nacks         map[string]uint64
	StanzaErrors  uint64
	// Lost counts messages whose connection ended under them, unanswered,
	// more than MaxResends times.
	Lost uint64
	// Unresolved counts messages with no outcome when the drain deadline
	// passed: sent and unanswered, never sent, or waiting for the resend
	// of a retryable NACK (SERVICE_UNAVAILABLE, CONNECTION_DRAINING, a
	// bounded code with retries left).
	Unresolved uint64
	// Unsent counts messages due before the end of sending but never
	// created, because every window stayed full (the target could not
	// keep up). They are not part of Messages and not in the identity.
	Unsent uint64
	// Sent counts downstream stanzas written, first attempts and resends;
	// Retries counts the resends.
	Sent, Retries uint64
	// Reconnects counts replacement connections (after a loss or a drain);
	// Draining counts CONNECTION_DRAINING events (control or NACK);
	// DialFailures counts failed dials or handshakes of replacements;
	// DrainTimeouts counts draining connections the driver closed after
	// DrainCloseTimeout.
	Reconnects, Draining, DialFailures, DrainTimeouts uint64
	// Disconnects counts the connections that ended during the run
	// (other than by the driver's close at its end, and other than a
	// draining connection closed by the server) by cause:
	// "stream_error:CONDITION" (the condition reduced to lower-case
	// letters, digits and '-', at most MaxKeyLen bytes), stream_end, eof,
	// syntax, oversize, tls, timeout, reset, drain_timeout or other. After
	// MaxCauseKeys distinct causes, the rest count under other.
	Disconnects map[string]uint64
	// Upstream and Receipts count the ACKs written for upstream messages
	// and delivery receipts (those that arrive after the driver closed its
	// stream stay unacknowledged, and CCS delivers them again later).
	// Receipts includes receipts the server sent again after a lost
	// connection: each one is ACKed and counted again, so Receipts can
	// exceed Acked.
	Upstream, Receipts uint64
	// Strays counts answers (ACK, NACK, stanza error) that matched no
	// message awaiting an answer on their connection, outside the
	// identity; StrayKinds breaks them down: unknown_id (not an id the
	// driver made), duplicate (its message was not awaiting an answer:
	// answered already, or never sent), wrong_connection (awaited on
	// another connection) and late (after the drain deadline). Only
	// non-zero kinds are listed.
	Strays     uint64
	StrayKinds map[string]uint64
}

// DisconnectTotal is the number of disconnects, all causes.
func (c *Counts) DisconnectTotal() uint64 {
	var n uint64
	for _, v := range c.Disconnects {
		n += v
	}
	return n
}

// ErrAccounting is wrapped by Check's errors.
var ErrAccounting = errors.New("driver: accounting")

// Check verifies the identity Messages == Acked + Nacked + StanzaErrors +
// Lost + Unresolved and that Nacks sums to Nacked. It does not judge Lost
// or Unresolved; see Result.Check.
func (c *Counts) Check() error {
	if sum := c.Acked + c.Nacked + c.StanzaErrors + c.Lost + c.Unresolved; sum != c.Messages {
		return fmt.Errorf("%w: messages %d != acked %d + nacked %d + stanza errors %d + lost %d + unresolved %d (= %d)",
			ErrAccounting, c.Messages, c.Acked, c.Nacked, c.StanzaErrors, c.Lost, c.Unresolved, sum)
	}
	var n uint64
	for _, v := range c.Nacks {
		n += v
	}
	if n != c.Nacked {
		return fmt.Errorf("%w: nacks by code sum to %d, nacked is %d", ErrAccounting, n, c.Nacked)
	}
	return nil
}

// Interval is one interval of the timeline (Config.Interval long; the
// last one may be shorter). Counts are of events within it (Disconnects:
// connections that ended, as counted in Counts.Disconnects); Pending is
// the number of messages without an outcome at its end, PendingPeak the
// most there were at once within it, sampled every 10 ms (a peak shorter
// than that may show lower). The percentiles (µs) are of the ACKs
// received within it; so are the histograms, kept only with
// Config.IntervalHistograms (nil otherwise).
type Interval struct {
	Start, End                                       time.Duration // since Result.Start
	Messages, Sent, Acked, Nacked, StanzaErrors      uint64
	Pending, PendingPeak                             uint64
	Disconnects                                      uint64
	Service, Response                                *hdrhistogram.PackedHistogram
	ServiceP50, ServiceP99, ResponseP50, ResponseP99 int64 // µs, 0 when no ACK
	Warmup                                           bool  // within the warm-up
}

// Histograms returns the interval's histograms as dense ones, for log
// writers; nil without Config.IntervalHistograms.
func (iv *Interval) Histograms() (service, response *hdrhistogram.Histogram) {
	if iv.Service == nil || iv.Response == nil {
		return nil, nil
	}
	service, response = newHist(), newHist()
	iv.Service.MergeInto(service)
	iv.Response.MergeInto(response)
	return service, response
}

// Result is what a run measured.
type Result struct {
	// Client names the transport ("native").
	Client string
	// Start is the wall-clock time at which sending started;
	// MeasureStart is Start + Warmup.
	Start, MeasureStart time.Time
	// Warmup is the warm-up in effect (whole seconds).
	Warmup time.Duration
	// Elapsed is the whole run, drain included; Measured is the part the
	// rates are computed over: the sending period, from the end of the
	// warm-up to the end of sending.
	Elapsed, Measured time.Duration
	// Counts are the outcomes and events.
	Counts Counts
	// Service and Response are the merged histograms (µs) of the ACKs
	// received after the warm-up.
	Service, Response *hdrhistogram.Histogram
	// Intervals is the timeline.
	Intervals []Interval
	// MaxResends is the Config.MaxResends in effect.
	MaxResends int
	// WaitNoConnection and WaitFull are how long a paced run's scheduler
	// waited to place messages due: while no connection could send
	// (every one draining, lost or being replaced), and while connections
	// could send but had no window slot or record free (the target did
	// not answer fast enough, or messages waited to be resent). They say
	// why messages were Unsent.
	WaitNoConnection, WaitFull time.Duration
	// OfferedRate is messages created per second over the sending period
	// (Measured: end of the warm-up to end of sending), as vegeta's rate;
	// AckedRate is ACKs received after the warm-up (those of the drain
	// included) per second of the same period, so that a few answers
	// delayed by backoff do not drag it down. Both exclude the warm-up.
	OfferedRate, AckedRate float64
	// LastDialError is the last failed dial of a replacement connection,
	// if any.
	LastDialError error
	// Handshakes holds the time (µs) from the start of a dial to a
	// connection authenticated and bound, of every connection made: the
	// initial ones and their replacements.
	Handshakes *hdrhistogram.Histogram
	// AllConnected is how long making the initial connections took, from
	// the first dial to the last connection bound; sending starts then.
	AllConnected time.Duration
	// StartSkew is, with Config.StartAt, how much later than StartAt
	// sending began, by this machine's clock (Start is StartAt itself);
	// 0 without it.
	StartSkew time.Duration
}

// ErrUnresolved is wrapped by Result.Check when messages were left
// without an outcome.
var ErrUnresolved = errors.New("driver: unresolved messages")

// ErrLost is wrapped by Result.Check when messages were lost.
var ErrLost = errors.New("driver: lost messages")

// Check verifies the accounting identity and that no message was lost or
// left unresolved.
func (r *Result) Check() error {
	if err := r.Counts.Check(); err != nil {
		return err
	}
	var errs []error
	if r.Counts.Lost > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d messages were lost with their connection more than %d times", ErrLost, r.Counts.Lost, r.Counts.Messages, r.MaxResends))
	}
	if r.Counts.Unresolved > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d messages had no outcome when the drain deadline passed", ErrUnresolved, r.Counts.Unresolved, r.Counts.Messages))
	}
	return errors.Join(errs...)
}

// Progress is a cheap snapshot for a live display: cumulative counts, and
// the rate and p99 of the last complete interval.
type Progress struct {
	Elapsed                                     time.Duration
	Messages, Sent, Acked, Nacked, StanzaErrors uint64
	Lost, Pending, Retries, Reconnects          uint64
	Upstream, Disconnects                       uint64
	Rate                                        float64       // ACKs per second in the last complete interval
	P99, ResponseP99                            time.Duration // of the last complete interval
	P50, ResponseP50                            time.Duration // of the last complete interval
}

// Progress returns the current counts from atomics, without touching the
// hot path; call it at most a few times a second.
func (d *Driver) Progress() Progress {
	if !d.started.Load() {
		return Progress{}
	}
	c := d.sumCounts()
	var rec uint64
	for _, s := range d.slots {
		rec += s.reconnects.Load()
	}
	return Progress{
		Elapsed:      time.Since(d.base),
		Messages:     c.created,
		Sent:         c.sent,
		Acked:        c.acked,
		Nacked:       c.nacked,
		StanzaErrors: c.stanzaErrors,
		Lost:         c.lost,
		Pending:      c.pending(),
		Retries:      c.retries,
		Reconnects:   rec,
		Upstream:     c.upstream,
		Disconnects:  d.discTotal.Load(),
		Rate:         math.Float64frombits(d.col.lastRate.Load()),
		P99:          time.Duration(d.col.lastP99.Load()) * time.Microsecond,
		ResponseP99:  time.Duration(d.col.lastRP99.Load()) * time.Microsecond,
		P50:          time.Duration(d.col.lastP50.Load()) * time.Microsecond,
		ResponseP50:  time.Duration(d.col.lastRP50.Load()) * time.Microsecond,
	}
}

// Tallies returns the final NACKs so far by code and the disconnects so
// far by cause, keyed as Counts.Nacks and Counts.Disconnects are. It
// copies two small maps under the tallies' locks: call it a few times a
// second at most (a metrics scrape), never per message.
func (d *Driver) Tallies() (nacks, disconnects map[string]uint64) {
	c := d.sumCounts()
	return d.nackCounts(&c), d.disc.snapshot()
}

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
	// batches go back to their slot within milliseconds even when
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
// totals, and gives their batches back to their slots.
func (c *collector) foldRetired() {
	c.retMu.Lock()
	list := c.retList
	c.retList = nil
	c.retMu.Unlock()
	for _, p := range list {
		for i := range p.ivl {
			c.drain(p.s, p.ivl[i].Swap(nil))
		}
		if b := p.bfree; b != nil {
			p.bfree = nil
			last := b
			for last.next.Load() != nil {
				last = last.next.Load()
			}
			p.s.giveBatches(b, last)
		}
		c.d.fold(p)
	}
}

// drain records the samples of the chain b into the interval histograms
// and gives its batches back to slot s.
func (c *collector) drain(s *slot, b *sampleBatch) {
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
	s.giveBatches(first, b)
}

// drainFull drains the full batches of every connection's current chain
// (all but its head, which the reader fills) into the current interval.
func (c *collector) drainFull() {
	d := c.d
	d.mu.Lock()
	c.list = append(c.list[:0], d.conns...)
	d.mu.Unlock()
	for _, p := range c.list {
		if h := p.ivl[p.cur.Load()].Load(); h != nil {
			c.drain(p.s, h.next.Swap(nil))
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
	// interval are those before its boundary, not before a drain.
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
		c.drain(p.s, p.ivl[p.cur.Load()^1].Swap(nil))
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
	for _, s := range d.slots {
		cnt.Reconnects += s.reconnects.Load()
		cnt.Draining += s.draining.Load()
		cnt.DialFailures += s.dialFailures.Load()
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
