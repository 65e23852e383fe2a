package fakeccs

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Stats is a snapshot of a server's counters since New. A connection
// publishes its counts just before each write of its replies, so a client
// never sees an answer that is not counted yet, and a snapshot taken while
// connections are busy is consistent to within the input read since each
// connection's last write. The JSON field names are a contract (results
// files, /stats.json, scripts).
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
	// closed abruptly by Config.DropEvery.
	Drains uint64 `json:"drains"`
	Drops  uint64 `json:"drops"`
	// Abandoned counts downstream messages the fake read and never
	// answered because their connection ended first: answers still held
	// (Config.AckDelay) when the client ended its stream or the
	// connection was lost; answers not yet written, and the messages read
	// but not yet handled, when Config.DropEvery dropped it (the message
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
	st.ReceiptsAckedUnprefixed += v(cReceiptsAckedUnprefixed)
	st.Drains += v(cDrains)
	st.Drops += v(cDrops)
	st.Abandoned += v(cAbandoned)
	st.Discarded += v(cDiscarded)
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

// ErrIdentity is wrapped by the error of Stats.CheckIdentity.
var ErrIdentity = errors.New("fakeccs: accounting identity broken")

// CheckIdentity checks the fake's accounting identity: every downstream
// message read ended in exactly one outcome, Received == Acks + the sum
// of Nacks + StanzaErrors + Abandoned + Discarded. It holds once no
// connection is open (after Server.Close, say); while connections are
// open, the messages whose answers are held or not yet written are
// missing from the right-hand side.
func (st *Stats) CheckIdentity() error {
	sum := st.Acks + st.StanzaErrors + st.Abandoned + st.Discarded
	for _, n := range st.Nacks {
		sum += n
	}
	if sum != st.Received {
		return fmt.Errorf("%w: received %d != acks %d + nacks %d + stanza_errors %d + abandoned %d + discarded %d",
			ErrIdentity, st.Received, st.Acks, sum-st.Acks-st.StanzaErrors-st.Abandoned-st.Discarded,
			st.StanzaErrors, st.Abandoned, st.Discarded)
	}
	return nil
}
