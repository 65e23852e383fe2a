// Package fakeccs is a fake Cloud Connection Server (CCS): it speaks the
// CCS wire protocol of package ccs from the server side, behaves as
// Google's CCS documentation says (ACK, NACK and stanza-error rules, the
// 100-message window, upstream messages, delivery receipts, draining, keepalives,
// pings), injects faults on demand (slow or NACKed answers, dropped and
// draining connections, canonical ids, unknown or rate-limited devices),
// and counts what it saw (Stats), including the exact set of message ids
// across connections for proving a load driver's accounting.
//
// # Where real clients look
//
// TLS from the first byte, as CCS; Config.TLSMode can make the fake
// depart from CCS for client stacks that cannot do that: STARTTLS
// required on a plain TCP stream (ccs.ServerStartTLS), or no TLS.
//
// Logins: a client may authenticate as SENDER, SENDER@gcm.googleapis.com
// or SENDER@fcm.googleapis.com (FCM-era clients) and name either domain
// in its stream header; it is answered from the domain it used (stream
// header, bound JID, the "to" of its upstream messages and receipts).
//
// Draining follows the CCS documentation: after CONNECTION_DRAINING the
// connection stays open and keeps reading; what was in the pipeline (sent
// within Config.DrainGrace of the control message) is answered as usual,
// later messages get NACK CONNECTION_DRAINING; no upstream message or
// receipt is sent there, and those not ACKed move to another connection of
// the sender (or its next one); the stream ends once nothing is pending
// and Config.DrainLinger has passed.
//
// The window: a downstream message is a violation when, as the fake reads
// it, 100 earlier messages of its connection have no answer written before
// that read. No server can know whether a client read an answer, only
// whether it could have; a client that keeps to the window never trips
// the rule, at any delay and load. To see as much as the rule allows, the
// fake writes its answers only when no more input is readable without
// waiting, so a burst is read whole before it is answered. A client that
// writes one message at a time is answered as fast as it writes; an ACK
// delay of a few milliseconds is what exposes it.
//
// Receipt ACKs are accepted with the receipt's id ("dr2:"+original id) or
// without the prefix, as Google's Go client library sends them
// (Stats.ReceiptsAckedUnprefixed). Config.WireForm chooses how the gcm
// element of the fake's stanzas is written (the CCS documentation's mixed
// forms, all prefixed, or none), so that a client can be shown to match
// namespaces rather than text.
//
// Every downstream message read ends in one outcome: Received == Acks +
// Nacks + StanzaErrors + Abandoned + Discarded (Stats.CheckIdentity), where
// Abandoned are those whose connection ended before they were answered
// and Discarded those that arrived after the fake ended their stream.
// Counters describes every count of Stats (its JSON key, what it counts,
// whether it is an outcome); the JSON keys are a contract of results
// files and ccsbench fake's /stats.json and /metrics.
//
// New refuses a Config value it cannot use with a *ConfigError naming the
// field (Config.AckDelay, say), so that a caller can name its own option.
//
// Faults can also be set for the server as a whole (Config.DropTotal,
// DrainTotal: the connection that reads every n-th message of the server
// is dropped or drained, however a client spreads its messages), drains
// may alternate between the control message and the NACK form
// (Config.DrainAlternate) and end at a deadline whatever the client does
// (Config.DrainDeadline), and a share of registration ids, picked by a
// hash of the id, may get final NACKs (Config.BadRegistrationShare,
// UnregisteredShare).
//
// # Observing a client
//
// Config.Observer is told every event of every connection as the server
// sees it (each downstream message read and how many were pending, each
// answer and when the write that carried it went out, drains, upstream
// messages, their ACKs, the end of the connection and why), on the
// connection's goroutine. That is all ccsbench judge needs to score a
// client from the server side. Without an Observer the per-message path
// only compares a nil interface.
//
// # Speed
//
// It is built to never be what limits a measurement: each connection is
// one goroutine that parses everything a client has sent, appends every
// reply into one reused buffer and writes it once no more input is
// readable (or the buffer has grown past 32 KiB), just before it waits for
// more; it knows more input is readable by reading through TLS in a mode
// where the socket is read without waiting. Timed work (delayed answers from a
// per-connection heap, upstream messages, keepalives, drains) runs in the
// same goroutine, woken by the read deadline (delayed answers are made
// punctual by one waker thread per server, since the runtime's timers are
// only millisecond-precise). The path of a downstream message allocates
// nothing and takes no lock (unless Config.TrackIDs or Config.DeviceRate,
// which share sharded tables).
//
// Use it embedded:
//
//	srv, err := fakeccs.New(fakeccs.Config{AckDelay: 10 * time.Millisecond})
//	ln, err := net.Listen("tcp", "127.0.0.1:0")
//	go srv.Serve(ln)
//	defer srv.Close()
//	// dial ln.Addr() with TLS trusting srv.CertPool()
//
// in a test with package fakeccstest (which also checks the accounting
// identity when the test ends), or as `ccsbench fake`. docs/PROTOCOL.md
// describes the protocol as ccsbench implements it.
package fakeccs
