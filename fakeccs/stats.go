package fakeccs

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
)

// Stats is a snapshot of a server's counters since New. A connection
// publishes its counts just before each write of its replies, so a client
// never sees an answer that is not counted yet, and a snapshot taken while
// connections are busy is consistent to within the input read since each
// connection's last write. The JSON field names are a contract (results
// files, /stats.json, scripts). Counters describes every field.
type Stats struct {
	// Connections is the number of connections that authenticated and
	// bound; ActiveConnections the number of those still open.
	Connections       uint64 `json:"connections"`
	ActiveConnections uint64 `json:"active_connections"`
	// AuthFailures counts SASL PLAIN attempts with wrong credentials.
	AuthFailures uint64 `json:"auth_failures"`
	// HandshakeFailures counts connections closed before they were bound
	// for any other reason (TLS failure, bad XML, auth timeout...).
	HandshakeFailures uint64 `json:"handshake_failures"`

	// Received counts downstream message stanzas (message stanzas with a
	// gcm payload that is not an ACK), valid or not, retries included:
	// every one the fake read, answered or not. Each ends in exactly one of
	// Acks, Nacks, StanzaErrors, Abandoned and Discarded (see
	// CheckIdentity).
	Received uint64 `json:"received"`
	// UniqueIDs and Duplicates count distinct downstream message ids and
	// receptions of an id seen before, across all connections; nil unless
	// Config.TrackIDs. Messages without a message_id are not counted.
	UniqueIDs  *uint64 `json:"unique_ids"`
	Duplicates *uint64 `json:"duplicates"`

	// Acks and Nacks count answers written for downstream messages (a
	// write that failed midway included: the fake cannot know what of it
	// the client got), Nacks by code. The BAD_ACK NACKs that answer
	// malformed ACKs are counted in BadAcks only.
	Acks  uint64            `json:"acks"`
	Nacks map[string]uint64 `json:"nacks"`
	// Canonical counts ACKs that carried a canonical registration_id.
	Canonical uint64 `json:"canonical"`
	// StanzaErrors counts downstream messages answered with a stanza
	// error (no message_id, or a payload that is not a JSON object).
	StanzaErrors uint64 `json:"stanza_errors"`
	// WindowViolations counts downstream messages that, when the fake
	// read them, found 100 earlier messages of their connection without
	// an answer written before that read. A client that keeps to the
	// window never trips it, whatever the delays and the load: it sends a
	// message only after it read an answer the fake had written. The fake
	// reads everything a client has sent before it writes the answers
	// (see the package doc), so a client that writes more than 100
	// messages at once without waiting is caught; one that paces its
	// writes is caught when the answers come late (Config.AckDelay).
	WindowViolations uint64 `json:"window_violations"`

	// UpstreamSent counts upstream messages sent the first time;
	// UpstreamResent those sent again (after Config.UpstreamResend, or on
	// another connection of the sender), receipts included; UpstreamAcked the
	// upstream messages the app server ACKed; UpstreamDropped upstream
	// messages and receipts discarded because a queue was full.
	UpstreamSent    uint64 `json:"upstream_sent"`
	UpstreamAcked   uint64 `json:"upstream_acked"`
	UpstreamResent  uint64 `json:"upstream_resent"`
	UpstreamDropped uint64 `json:"upstream_dropped"`
	// BadAcks counts malformed ACKs from the app server (each answered
	// with a BAD_ACK NACK); UnknownAcks ACKs of ids the connection has no
	// unacknowledged upstream message or receipt for.
	BadAcks     uint64 `json:"bad_acks"`
	UnknownAcks uint64 `json:"unknown_acks"`
	// ReceiptsSent and ReceiptsAcked count delivery receipts sent the
	// first time and ACKed by the app server. An ACK may carry the
	// receipt's id ("dr2:" + the original id) or, as some client libraries
	// send it, the id without "dr2:"; ReceiptsAckedUnprefixed counts those.
	ReceiptsSent            uint64 `json:"receipts_sent"`
	ReceiptsAcked           uint64 `json:"receipts_acked"`
	ReceiptsAckedUnprefixed uint64 `json:"receipts_acked_unprefixed"`

	// Drains counts connections that started draining; Drops connections
	// closed abruptly by Config.DropEvery or DropTotal.
	Drains uint64 `json:"drains"`
	Drops  uint64 `json:"drops"`
	// Abandoned counts downstream messages the fake read and never
	// answered because their connection ended first: answers still held
	// (Config.AckDelay) when the client ended its stream or the
	// connection was lost; answers not yet written, and the messages read
	// but not yet handled, when Config.DropEvery or DropTotal dropped it (the message
	// that triggered the drop included); the message that broke the
	// window with Config.StrictWindow and those read behind it. Answers
	// are only valid on their connection, so the client must send these
	// again.
	Abandoned uint64 `json:"abandoned"`
	// Discarded counts downstream messages that arrived after the fake
	// ended their stream (</stream:stream> after draining, or a stream
	// error): never answered. A client that stops sending on a connection
	// when told it drains never causes one.
	Discarded uint64 `json:"discarded"`
	// StreamErrors counts stream errors sent (bad XML, over-size stanzas,
	// strict window...), during or after the handshake.
	StreamErrors uint64 `json:"stream_errors"`
	// Keepalives counts whitespace keepalives sent; Pings XEP-0199 pings
	// answered; IQErrors IQs answered with service-unavailable.
	Keepalives uint64 `json:"keepalives"`
	Pings      uint64 `json:"pings"`
	IQErrors   uint64 `json:"iq_errors"`
	// Ignored counts stanzas the fake does not act on (presence, messages
	// without a gcm payload, client NACKs and other message types).
	Ignored uint64 `json:"ignored"`
}

// Indexes of the counters. A connection counts cReceived..cIgnored, then
// one NACK counter per code of the server's code table from numFixed on
// (conn.delta, conn.pub, Server.totals); the server keeps the others.
const (
	cReceived = iota
	cAcks
	cCanonical
	cStanzaErrors
	cWindowViolations
	cUpstreamSent
	cUpstreamAcked
	cUpstreamResent
	cUpstreamDropped
	cBadAcks
	cUnknownAcks
	cReceiptsSent
	cReceiptsAcked
	cReceiptsAckedUnprefixed
	cDrains
	cDrops
	cAbandoned
	cDiscarded
	cStreamErrors
	cKeepalives
	cPings
	cIQErrors
	cIgnored
	numFixed
)

// Indexes of the counters only the server keeps, after the per-connection
// ones in counterTable.
const (
	sConnections = numFixed + iota
	sActiveConnections
	sAuthFailures
	sHandshakeFailures
	sUniqueIDs
	sDuplicates
	sNacks
	numCounters
)

// CounterKind is how a count changes over time.
type CounterKind uint8

// The kinds of counts.
const (
	// CounterTotal only grows (a Prometheus counter).
	CounterTotal CounterKind = iota
	// CounterGauge goes up and down (ActiveConnections).
	CounterGauge
)

// Counter describes one field of Stats.
type Counter struct {
	// Name is the Go name of the field, e.g. "Received".
	Name string
	// Key is the field's JSON key, e.g. "received": a contract (results
	// files, /stats.json, and ccsbench fake's metric names).
	Key string
	// Help says in one sentence what it counts.
	Help string
	// Kind says whether it only grows.
	Kind CounterKind
	// Outcome marks the outcomes of a downstream message: Received is
	// their sum (CheckIdentity).
	Outcome bool
	// ByCode marks a count kept by NACK code (Nacks): see Codes.
	ByCode bool

	field int // index of the field in Stats
}

// counterTable describes every count of the fake, by counter index, in the
// order of the fields of Stats: it says which Stats field each
// per-connection counter feeds, the outcomes the identity sums, and
// through Counters the metrics and summaries of ccsbench fake. init
// checks it against Stats field by field.
var counterTable = [numCounters]Counter{
	sConnections:             {Name: "Connections", Help: "Connections authenticated and bound."},
	sActiveConnections:       {Name: "ActiveConnections", Kind: CounterGauge, Help: "Bound connections open now."},
	sAuthFailures:            {Name: "AuthFailures", Help: "SASL logins refused."},
	sHandshakeFailures:       {Name: "HandshakeFailures", Help: "Connections closed before binding for reasons other than refused logins."},
	cReceived:                {Name: "Received", Help: "Downstream messages received, retries included."},
	sUniqueIDs:               {Name: "UniqueIDs", Help: "Distinct downstream message ids (with --track-ids)."},
	sDuplicates:              {Name: "Duplicates", Help: "Downstream messages whose id was seen before (with --track-ids)."},
	cAcks:                    {Name: "Acks", Outcome: true, Help: "ACKs sent."},
	sNacks:                   {Name: "Nacks", Outcome: true, Help: "NACKs of downstream messages sent, by code."},
	cCanonical:               {Name: "Canonical", Help: "ACKs with a canonical registration_id."},
	cStanzaErrors:            {Name: "StanzaErrors", Outcome: true, Help: "Downstream messages answered with a stanza error."},
	cWindowViolations:        {Name: "WindowViolations", Help: "Messages read while 100 earlier ones of their connection had no answer written."},
	cUpstreamSent:            {Name: "UpstreamSent", Help: "Upstream messages sent the first time."},
	cUpstreamAcked:           {Name: "UpstreamAcked", Help: "Upstream messages ACKed by the app server."},
	cUpstreamResent:          {Name: "UpstreamResent", Help: "Upstream messages and receipts sent again."},
	cUpstreamDropped:         {Name: "UpstreamDropped", Help: "Upstream messages and receipts discarded from full queues."},
	cBadAcks:                 {Name: "BadAcks", Help: "Malformed ACKs from the app server (each answered with a BAD_ACK NACK)."},
	cUnknownAcks:             {Name: "UnknownAcks", Help: "ACKs of ids with nothing unacknowledged."},
	cReceiptsSent:            {Name: "ReceiptsSent", Help: "Delivery receipts sent the first time."},
	cReceiptsAcked:           {Name: "ReceiptsAcked", Help: "Delivery receipts ACKed by the app server."},
	cReceiptsAckedUnprefixed: {Name: "ReceiptsAckedUnprefixed", Help: "Delivery receipts ACKed with the id stripped of dr2:."},
	cDrains:                  {Name: "Drains", Help: "Connections drained."},
	cDrops:                   {Name: "Drops", Help: "Connections dropped abruptly."},
	cAbandoned:               {Name: "Abandoned", Outcome: true, Help: "Downstream messages left unanswered because their connection ended first (client stream end, lost or dropped connection, stream error)."},
	cDiscarded:               {Name: "Discarded", Outcome: true, Help: "Downstream messages that arrived after the fake ended their stream."},
	cStreamErrors:            {Name: "StreamErrors", Help: "Stream errors sent."},
	cKeepalives:              {Name: "Keepalives", Help: "Whitespace keepalives sent."},
	cPings:                   {Name: "Pings", Help: "XEP-0199 pings answered."},
	cIQErrors:                {Name: "IQErrors", Help: "IQs answered with service-unavailable."},
	cIgnored:                 {Name: "Ignored", Help: "Stanzas ignored."},
}

// counterList is counterTable in the order of the fields of Stats, and
// outcomes the counters with Outcome set, in the same order.
var counterList, outcomes []Counter

// init ties counterTable to the fields of Stats: every row names a field
// and every field has one row, whose Key is the field's JSON key.
func init() {
	t := reflect.TypeFor[Stats]()
	if t.NumField() != numCounters {
		panic(fmt.Sprintf("fakeccs: Stats has %d fields, counterTable %d rows", t.NumField(), numCounters))
	}
	counterList = make([]Counter, numCounters)
	for i := range counterTable {
		c := &counterTable[i]
		f, ok := t.FieldByName(c.Name)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !ok || key == "" || counterList[f.Index[0]].Name != "" {
			panic("fakeccs: counterTable row " + c.Name + " names no field of Stats with a JSON key, or one named before")
		}
		c.Key, c.field, c.ByCode = key, f.Index[0], f.Type.Kind() == reflect.Map
		counterList[c.field] = *c
	}
	for _, c := range counterList {
		if c.Outcome {
			outcomes = append(outcomes, c)
		}
	}
}

// Counters describes every field of Stats, in order.
func Counters() []Counter { return append([]Counter(nil), counterList...) }

// Value returns the count in st, summed over the codes for Nacks; ok is
// false when st does not have it (UniqueIDs and Duplicates without
// Config.TrackIDs).
func (c Counter) Value(st *Stats) (n uint64, ok bool) {
	switch v := reflect.ValueOf(st).Elem().Field(c.field); v.Kind() {
	case reflect.Uint64:
		return v.Uint(), true
	case reflect.Pointer:
		if v.IsNil() {
			return 0, false
		}
		return v.Elem().Uint(), true
	default: // the counts by code
		for _, k := range c.Codes(st) {
			n += k
		}
		return n, true
	}
}

// Codes returns the counts by NACK code of a counter kept by code
// (Nacks), or nil.
func (c Counter) Codes(st *Stats) map[string]uint64 {
	m, _ := reflect.ValueOf(st).Elem().Field(c.field).Interface().(map[string]uint64)
	return m
}

// counters is a connection's published counts, read by Stats. The owning
// goroutine counts into a plain delta array and publishes it once per write.
type counters []atomic.Uint64

// stats converts counts by counter index (the per-connection ones and the
// NACK codes') into Stats.
func (s *Server) stats(counts []uint64) Stats {
	st := Stats{Nacks: map[string]uint64{}}
	v := reflect.ValueOf(&st).Elem()
	for i := range numFixed {
		v.Field(counterTable[i].field).SetUint(counts[i])
	}
	for i, code := range s.codes {
		if n := counts[numFixed+i]; n > 0 {
			st.Nacks[code] = n
		}
	}
	return st
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	counts := make([]uint64, len(s.totals))
	s.mu.Lock()
	copy(counts, s.totals)
	for c := range s.conns {
		for i := range c.pub {
			counts[i] += c.pub[i].Load()
		}
	}
	active := len(s.conns)
	s.mu.Unlock()
	st := s.stats(counts)
	st.ActiveConnections = uint64(active)
	st.Connections = s.connections.Load()
	st.AuthFailures = s.authFailures.Load()
	st.HandshakeFailures = s.handshakeFailures.Load()
	st.StreamErrors += s.preStreamErrors.Load()
	if s.ids != nil {
		u, d := s.ids.counts()
		st.UniqueIDs, st.Duplicates = &u, &d
	}
	return st
}

// ErrIdentity is wrapped by the error of Stats.CheckIdentity.
var ErrIdentity = errors.New("fakeccs: accounting identity broken")

// CheckIdentity checks the fake's accounting identity: every downstream
// message read ended in exactly one outcome (the counters marked Outcome),
// Received == Acks + the sum of Nacks + StanzaErrors + Abandoned +
// Discarded. It holds once no connection is open (after Server.Close,
// say); while connections are open, the messages whose answers are held
// or not yet written are missing from the right-hand side.
func (st *Stats) CheckIdentity() error {
	var sum uint64
	for _, c := range outcomes {
		n, _ := c.Value(st)
		sum += n
	}
	if sum == st.Received {
		return nil
	}
	terms := make([]string, len(outcomes))
	for i, c := range outcomes {
		n, _ := c.Value(st)
		terms[i] = fmt.Sprintf("%s %d", c.Key, n)
	}
	return fmt.Errorf("%w: received %d != %s", ErrIdentity, st.Received, strings.Join(terms, " + "))
}
