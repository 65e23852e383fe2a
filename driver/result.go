package driver

import (
	"errors"
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

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
	// another connection), late (after the drain deadline) and no_id (a
	// stanza error naming no message: no id and no echoed message_id, as
	// a standard XMPP server bounces a message it cannot route). Only
	// non-zero kinds are listed.
	Strays     uint64
	StrayKinds map[string]uint64
	// ErrorConditions counts every stanza error the server sent, outcome
	// or stray, by its RFC 6120 condition ("service-unavailable"; "other"
	// for any other). Only non-zero conditions are listed.
	ErrorConditions map[string]uint64
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
var ErrAccounting = errors.New("driver: accounting identity broken")

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
	// could send but had no credit or record free (the target did
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
		errs = append(errs, fmt.Errorf("%w: %d of %d (the connection of each ended under it more than %d times)", ErrLost, r.Counts.Lost, r.Counts.Messages, r.MaxResends))
	}
	if r.Counts.Unresolved > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d (no outcome when the drain deadline passed)", ErrUnresolved, r.Counts.Unresolved, r.Counts.Messages))
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
	for _, l := range d.lanes {
		rec += l.reconnects.Load()
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
