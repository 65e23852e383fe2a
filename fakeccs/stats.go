package fakeccs

import (
	"sync/atomic"
)

// Stats is a snapshot of a server's counters since New. A connection
// publishes its counts once per read buffer, before it writes the replies,
// so a client never sees an answer that is not counted yet, and a snapshot
// taken while connections are busy is consistent to within one read buffer
// per connection. The JSON field names are a contract (results files,
// /stats.json, scripts).
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
	// gcm payload that is not an ACK), valid or not, retries included.
	Received uint64 `json:"received"`
	// UniqueIDs and Duplicates count distinct downstream message ids and
	// receptions of an id seen before, across all connections; nil unless
	// Config.TrackIDs. Messages without a message_id are not counted.
	UniqueIDs  *uint64 `json:"unique_ids"`
	Duplicates *uint64 `json:"duplicates"`

	// Acks and Nacks count answers sent for downstream messages (and
	// BAD_ACK NACKs for malformed ACKs), Nacks by code.
	Acks  uint64            `json:"acks"`
	Nacks map[string]uint64 `json:"nacks"`
	// Canonical counts ACKs that carried a canonical registration_id.
	Canonical uint64 `json:"canonical"`
	// StanzaErrors counts downstream messages answered with a stanza
	// error (no message_id, or a payload that is not a JSON object).
	StanzaErrors uint64 `json:"stanza_errors"`
	// WindowViolations counts downstream messages that arrived while 100
	// earlier messages of their connection were unanswered by the fake.
	WindowViolations uint64 `json:"window_violations"`

	// UpstreamSent counts upstream messages sent the first time;
	// UpstreamResent those sent again (after Config.UpstreamResend, or on
	// the sender's next connection), receipts included; UpstreamAcked the
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
	// first time and ACKed by the app server.
	ReceiptsSent  uint64 `json:"receipts_sent"`
	ReceiptsAcked uint64 `json:"receipts_acked"`

	// Drains counts connections that started draining; Drops connections
	// closed abruptly by Config.DropEvery.
	Drains uint64 `json:"drains"`
	Drops  uint64 `json:"drops"`
	// Abandoned counts downstream messages the fake never answered on
	// the wire because their connection ended first: the client closed
	// its stream while their (Config.AckDelay) answers were still held,
	// or the connection ended otherwise (client gone, Config.DropEvery, a
	// failed write, a stream error) with answers held or not yet written. Answers are only valid
	// on their connection, so the client must send these again.
	Abandoned uint64 `json:"abandoned"`
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

// Indexes of the per-connection counters. Nack counters follow, one per
// code of the server's code table.
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
	cDrains
	cDrops
	cAbandoned
	cStreamErrors
	cKeepalives
	cPings
	cIQErrors
	cIgnored
	numFixed
)

// counters is a connection's published counts, read by Stats. The owning
// goroutine counts into a plain delta array and publishes it once per write.
type counters []atomic.Uint64

func (s *Server) fill(st *Stats, v func(i int) uint64) {
	st.Received += v(cReceived)
	st.Acks += v(cAcks)
	st.Canonical += v(cCanonical)
	st.StanzaErrors += v(cStanzaErrors)
	st.WindowViolations += v(cWindowViolations)
	st.UpstreamSent += v(cUpstreamSent)
	st.UpstreamAcked += v(cUpstreamAcked)
	st.UpstreamResent += v(cUpstreamResent)
	st.UpstreamDropped += v(cUpstreamDropped)
	st.BadAcks += v(cBadAcks)
	st.UnknownAcks += v(cUnknownAcks)
	st.ReceiptsSent += v(cReceiptsSent)
	st.ReceiptsAcked += v(cReceiptsAcked)
	st.Drains += v(cDrains)
	st.Drops += v(cDrops)
	st.Abandoned += v(cAbandoned)
	st.StreamErrors += v(cStreamErrors)
	st.Keepalives += v(cKeepalives)
	st.Pings += v(cPings)
	st.IQErrors += v(cIQErrors)
	st.Ignored += v(cIgnored)
	for i, code := range s.codes {
		if n := v(numFixed + i); n > 0 {
			st.Nacks[code] += n
		}
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{Nacks: map[string]uint64{}}
	s.mu.Lock()
	s.fill(&st, func(i int) uint64 { return s.totals[i] })
	for c := range s.conns {
		s.fill(&st, func(i int) uint64 { return c.pub[i].Load() })
	}
	st.ActiveConnections = uint64(len(s.conns))
	s.mu.Unlock()
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
