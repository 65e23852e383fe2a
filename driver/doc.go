// Package driver is ccsbench's load engine: it sends downstream messages
// over many CCS connections at a rate you choose, never has more messages
// unanswered on a connection than its window (Config.Window, the
// protocol's 100 by default), retries as the protocol says, accounts for
// every message it created, and measures the time to each message's ACK
// in HDR histograms. The ccsbench command is a thin layer over it; a Go
// program can use it the same way.
//
// # Use
//
// Fill a Config, make a Driver with New, call Run once, and read the
// Result:
//
//	d, err := driver.New(driver.Config{
//		Target: "127.0.0.1:5235", SenderID: id, APIKey: key, TLS: tlsConfig,
//		Conns: 8, Pacer: workload.ConstantPacer{Freq: 5000}, Duration: 10 * time.Second,
//	})
//	if err != nil {
//		return err // a *ConfigError naming the field, e.g. Config.Conns
//	}
//	res, err := d.Run(ctx) // a *DialError if a connection could not be made
//	if err != nil {
//		return err
//	}
//	fmt.Println(res.Counts.Acked, res.AckedRate, res.Service.ValueAtQuantile(99))
//	return res.Check() // the accounting identity; lost or unresolved messages
//
// Zero fields of Config take documented defaults (DefaultConns and the
// like); New refuses the rest with a *ConfigError. While Run runs,
// Progress and Tallies give cheap snapshots for a live display or a
// metrics endpoint. Cancelling Run's context ends sending early; the
// answers of what was sent are still awaited.
//
// Run first makes every connection (TLS, stream, SASL PLAIN, bind), at
// most DialConcurrency at once and at most ConnRate a second, and fails
// with a *DialError naming the connection and the cause if one cannot be
// made. Then it sends until Duration or Messages is reached, waits up to
// DrainTimeout for the answers still due, closes every stream and returns.
// Every handshake is timed into Result.Handshakes.
//
// With a Pacer of rate 0 (the default) every connection keeps its window
// full: the rate is whatever the target answers. A paced run sends each
// message at the time the Pacer (and Arrivals: uniform or Poisson) says;
// when every window is full it waits, and that wait counts in response
// time. Messages due before the end that could never be sent are counted
// as Unsent, to tell that the target did not keep up.
//
// By default the driver speaks CCS through package ccs (NewNativeTransport).
// A Transport of your own, such as one built on a general-purpose XMPP
// library, runs the same workload, window, retries and accounting, so
// that clients can be compared.
//
// # Outcomes and the accounting identity
//
// Every message the driver creates ends in exactly one outcome:
//
//   - acked: the server ACKed it;
//   - nacked: the server NACKed it with a final code (Counts.Nacks by code);
//   - stanza error: the server answered with a stanza error;
//   - lost: its connection ended under it more often than MaxResends allows;
//   - unresolved: it had no outcome when the drain deadline passed (sent
//     and unanswered, waiting for a resend, or never sent).
//
// So Messages == Acked + Nacked + StanzaErrors + Lost + Unresolved, which
// Counts.Check verifies; Result.Check also fails when a message was lost
// or left unresolved. A resend is never a new message: it counts in
// Retries. Answers that match no message awaiting one (a second answer,
// an id the driver never made, an answer on the wrong connection, or one
// that came after the deadline) are Strays, outside the identity.
//
// # Retries
//
// The driver does what the CCS documentation asks of an app server:
//
//   - SERVICE_UNAVAILABLE: the message is sent again on the same logical
//     connection (on another while that one has no connection that
//     sends) after an exponential backoff of its own, from
//     InitialBackoff (1 s) doubling up to MaxBackoff and jittered by up to
//     BackoffJitter, for as long as the run lasts.
//   - INTERNAL_SERVER_ERROR and codes the driver does not know: the same
//     backoff, at most MaxRetries times; then the NACK is final.
//   - CONNECTION_DRAINING (as a control message or as a NACK code): the
//     connection stops sending, a replacement is dialled at once, and new
//     and NACKed messages go to connections that send; the draining one is
//     still read (and its upstream messages ACKed) until the server closes
//     it, or until DrainCloseTimeout, when the driver closes it. Whatever
//     it left unanswered is sent again elsewhere.
//   - A lost connection: its unanswered messages are sent again at once on
//     other connections, and it is replaced at once if it was healthy
//     (it answered something and lived a second); otherwise, as after a
//     failed dial, TLS handshake or authentication, the next attempt waits
//     ReconnectBackoff, doubling up to MaxReconnectBackoff: a server that
//     kills every connection gets no reconnect storm.
//   - Every other NACK code is final; a stanza error is an outcome.
//
// A logical connection never holds more than two TCP connections at once:
// its current one and at most one draining predecessor.
//
// # Measurement
//
// Only ACKs are timed. Service time is the ACK's arrival minus the actual
// send of the message's last attempt; response time is the ACK's arrival
// minus the time the message was due by the schedule, resends and waits
// for a full window included (corrected for coordinated omission, as wrk2
// does). Both are recorded in microseconds, 1 µs to 60 s at three
// significant digits, in Result.Service and Result.Response, and per
// interval (Config.Interval, 1 s by default) in Result.Intervals, with
// each interval's counts and the peak of pending messages (sampled every
// 10 ms). ACKs during Warmup (rounded up to whole intervals) count in
// the outcomes but not in the latencies or rates. OfferedRate and
// AckedRate are per second of the sending period after the warm-up.
//
// Disconnects are counted by cause (Counts.Disconnects: a stream error and
// its condition, the end of the stream, EOF, bad XML, TLS, a timeout...),
// and the first of each cause goes to Config.OnDisconnect with what the
// server said. Keys made from server text are bounded in number and
// length, and the API key never appears in anything the driver returns
// or passes on.
//
// # Shards and a set start
//
// A job too big for one machine runs as Shard.Count drivers with the same
// Config but for Shard.Index: Conns, Messages and the Pacer describe the
// whole job, and each driver takes its share of the connections and every
// Count-th message of the job's schedule, so that together they send what
// one driver would have. With StartAt, Run connects first, then starts
// sending at that instant exactly, so that shards on synchronised clocks
// share one time axis; Result.StartSkew says how late it actually began.
//
// How the engine works inside (lanes, the lock-free window, records and
// their ids, the writer's and reader's wake-ups, sample batches and the
// collector) is described beside the code: lane.go, conn.go, window.go,
// record.go, msgid.go, writer.go, reader.go, schedule.go, samples.go and
// collector.go.
package driver
