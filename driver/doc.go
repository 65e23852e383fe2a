// Package driver is ccsbench's load engine: it sends downstream messages
// over N CCS connections, keeps each connection's window of unanswered
// messages full but never over its limit, retries as the protocol says,
// accounts for every message, and measures send-to-ACK latency in HDR
// histograms. It is a library in the style of vegeta's lib (New, Run,
// Progress); the ccsbench command is a thin layer over it.
//
//	d, err := driver.New(driver.Config{Target: "127.0.0.1:5235", SenderID: id, APIKey: key,
//		TLS: tlsConfig, Pacer: workload.ConstantPacer{Freq: 5000}, Duration: 10 * time.Second})
//	res, err := d.Run(ctx)   // res.Check() verifies the accounting
//
// # Connections
//
// Each logical connection (a slot) has a current physical connection with
// one reader and one writer goroutine, a pool of message records, an inbox
// of messages waiting to be sent on it, and a supervisor that replaces the
// connection: a goroutine started by a drain or a loss, which exits when
// it has nothing left to do. A slot never holds more than two TCP connections: its
// current one (or the one being dialled) and at most one draining
// predecessor. The connection layer is the Transport and Conn interfaces;
// NewNativeTransport is the implementation over package ccs, and another
// client (a general-purpose XMPP library) can be plugged in and compared
// under the same workload. Their methods take and return byte slices into
// reused buffers, so the hot path makes no interface allocation.
//
// Run first makes every connection: at most DialConcurrency handshakes at
// once (an errgroup with a limit), started no faster than ConnRate a
// second when a ramp is asked for; the first failure cancels the dials in
// progress through the group's context, and closes the connections made.
// Sending starts when all are made. Every handshake (dial, TLS, stream,
// authentication and bind, the initial ones and replacements) is timed
// into Result.Handshakes, and Result.AllConnected is the time from the
// first dial to the last connection bound. With several sender ids
// (SenderIDs), connection i authenticates as sender i mod n (RoundRobin
// over one transport per sender id), at most MaxConnsPerSender each.
//
// The writer appends every stanza that is ready (new messages, resends,
// the ACKs its reader handed over) into one buffer and flushes only when
// nothing more is ready or the buffer passed 64 KiB: never one write per
// stanza. The native client takes that buffer from a pool shared by all
// connections for a burst and gives it back at the flush, so that a
// thousand mostly idle connections hold a few write buffers between them,
// and its framer reads 4 KiB at a time (NativeReadSize). The reader parses everything its framer has buffered before it
// can block, and only then hands its ACKs to the writer and wakes whoever
// waits for window room. Goroutines sleep on a one-slot channel and are
// woken only when an atomic flag says they sleep.
//
// # Memory
//
// A connection costs the driver under 50 KB resident at 1000 connections
// sending 10 messages a second each (751 MB in all before this layout, 73
// MB now; BenchmarkConnMemory measures heap and stacks, about 42 KB):
// per connection no histogram (samples in 1 KiB batches, see
// Measurement), records allocated 16 at a time as they are needed and
// without their payloads, no write buffer while idle (a pool shared by
// all connections), a 4 KiB framer read buffer, and two goroutines (the
// supervisor runs only when a connection must be replaced). What remains
// is mostly the TLS connection, the framer's tables and the two stacks. A
// busy connection holds more while busy: a TLS record buffer of 16 KiB,
// records up to its window, a write buffer while it writes.
//
// # Records and the window
//
// A record is one unique message from creation to outcome: its intended
// send time t0 (for response time), the actual send time t1 of its last
// attempt (for service time), attempts, backoff and last NACK. It keeps
// the message's random choices (workload.Drawn, five bytes), not its
// payload: the writer rebuilds the same JSON in a scratch buffer for every
// attempt. Each slot's pool is a lock-free stack (a Treiber stack whose
// head carries a modification tag against ABA) that allocates its records
// in chunks of 16 as it runs dry, up to Window+Backlog: a connection that
// keeps a few messages in flight holds one chunk. A table of chunks finds
// a record by its index.
//
// The message id is PREFIX + hex(generation) + "." + hex(record index),
// where the generation counts the messages the record has carried: unique
// in the run, stable across resends on any connection (so a server that
// tracks ids sees exactly as many unique ids as the driver counts
// messages), and it leads the reader straight to the record, with no map
// and no lock. A record is on the wire of connection C when its atomic
// wire field holds its generation and its conn field holds C's id; the
// reader accepts an answer only if both match, so a late duplicate, an
// answer on the wrong connection or a foreign id is counted as a stray and
// never frees a record twice. PREFIX differs per run (random by default).
//
// The window of a connection is an atomic counter claimed with a
// compare-and-swap below the limit and released with an atomic add when an
// ACK, NACK or stanza error arrives; closing it (on draining or loss) adds
// a large constant so that every later claim fails. A slot is claimed
// before a message is encoded and released only after its answer is read,
// so the driver's count is always at least the server's: the window cannot
// be exceeded whatever the ack delay, drops or draining. ACKs of upstream
// messages and receipts bypass the window.
//
// Records move between goroutines through lock-free structures only: the
// scheduler pushes a new record (with its window slot already claimed) to
// its slot's inbox, a multi-producer stack that the current writer takes
// whole with one atomic swap; readers push resends there too. The writer
// keeps private queues: records due now with a slot claimed, records due
// now needing a slot, and a heap of records waiting out a backoff.
// Ownership of a record's plain fields passes with these atomic
// operations, and the reader takes it back through the wire field.
//
// # Scheduling
//
// A paced run has one scheduler goroutine that draws intended times from a
// workload.Schedule (t0 = start + due), sleeps until then (a runtime timer
// for the coarse part, then a timerfd read through the network poller on
// Linux, which wakes within microseconds where the runtime's timers wait
// in whole milliseconds), and hands the message to the next connection
// with a free window slot; when none has one it waits, and that wait
// counts in response time. A paced run stops when the schedule reaches
// Duration, so that every message due before then is sent even if sending
// lags, but no later than DrainTimeout after Duration. Messages due before
// the end of sending that the scheduler never got to create (every window
// stayed full) are counted as Unsent, outside the accounting identity. An
// unlimited pacer (rate 0) has no scheduler: each writer creates messages
// itself whenever its window has room, with t0 = t1.
//
// # Shards and a set start
//
// A job too big for one machine runs as Config.Shard.Count drivers, each
// with the same Config but for Shard.Index: Conns, Messages and the Pacer
// are the job's totals, and each driver opens its share of the
// connections and schedules every Count-th message of the job's schedule
// (workload.NewShardSchedule, with the shared Seed), so that together they
// send what one driver would have sent. Ids carry the shard's index, and
// the message and jitter seeds are derived per shard. With
// Config.StartAt, Run connects every connection first, then sleeps until
// StartAt (coarsely on a runtime timer, then finely) and starts its
// timeline and schedule at that instant, taken onto the monotonic clock;
// Result.StartSkew is how late it actually began.
//
// # Retries (the rules of the protocol)
//
//   - SERVICE_UNAVAILABLE: resent on the same slot (its current connection,
//     or the replacement) after a per-message exponential backoff that
//     starts at InitialBackoff (1 s), doubles at each NACK up to MaxBackoff
//     and is jittered by up to BackoffJitter; no bound on attempts.
//   - INTERNAL_SERVER_ERROR and unknown codes: the same backoff, at most
//     MaxRetries resends, then final.
//   - CONNECTION_DRAINING, as a control message or a NACK code: the
//     connection stops sending, its slot dials a replacement at once and
//     NACKed messages go to a connection that sends, while the old
//     connection is read to its end and its upstream messages still ACKed
//     on it. When the server closes it, what it left unanswered is resent
//     elsewhere. A slot whose previous connection still drains waits for
//     it to end before it replaces a second draining one, and the driver
//     closes a draining connection the server left open for
//     DrainCloseTimeout (counted in DrainTimeouts), so that a server that
//     drains every connection at once cannot make the driver pile them up.
//   - A lost connection: its unanswered messages go at once to another
//     live connection's inbox. The slot reconnects at once if the lost
//     connection was healthy (it delivered an answer and lived a second
//     after it was bound); otherwise, and after a failed dial, TLS
//     handshake or authentication, it backs off (ReconnectBackoff, doubling
//     to MaxReconnectBackoff, jittered by up to half), so that a server
//     that kills every connection gets no reconnect storm. A healthy
//     connection resets the backoff.
//   - A message resent after its connection was lost more than MaxResends
//     times is final as lost.
//   - Every other code is final. Stanza errors are an outcome.
//
// Resends are counted as Retries, never as Messages.
//
// # Disconnects and strays
//
// Every connection that ends during the run, other than a draining one
// the server closed, is counted by cause in Counts.Disconnects (a stream
// error and its condition, the end of the stream, EOF, bad XML, an
// oversize stanza, TLS, a timeout, a reset, a drain timeout), and the
// first of each cause is passed to Config.OnDisconnect with what the
// server said. Keys made from what a server sends (stream error
// conditions, unknown NACK codes) are bounded in number and length, and
// the API key and the SASL PLAIN messages that carry it are removed from
// everything the driver passes on (ccs.Redactor). Answers that match no
// message awaiting one are strays, counted by kind outside the identity.
//
// # Accounting
//
// Every message ends in exactly one outcome: acked, nacked (final code),
// stanza error, lost or unresolved, so Messages == Acked + Nacked +
// StanzaErrors + Lost + Unresolved (Counts.Check). At the end of the run,
// sending stops and the driver waits for the answers of pending messages
// until the drain deadline: DrainTimeout after the end of sending, and never later than
// Duration + DrainTimeout after the start (one absolute deadline for the
// late sends of a paced run and the drain). Then every outcome is frozen
// and every stream closed with </stream:stream>; answers read while the
// streams close are counted as Strays, not as outcomes. A NACK is an
// outcome only when it is final (a final code, or a bounded code whose
// retries are exhausted); a message still waiting for the resend of a
// retryable NACK at the deadline, one sent and unanswered, or one never
// sent, is unresolved.
//
// # Measurement
//
// Service time is ACK time minus actual send time t1 of the last attempt;
// response time is ACK time minus intended send time t0 (corrected for
// coordinated omission, as wrk2 does, and including every resend). Only
// ACKs are timed. Each reader writes, once per ACK and with one clock
// read, both times (µs) as one sample into the head of the current one of
// its two chains of 1 KiB sample batches; a collector goroutine records
// the samples into one pair of interval histograms for the whole driver
// (1 µs to 60 s, 3 significant digits). Histograms per connection (four of
// about 139 KiB each, to swap a pair without a lock) were most of the
// driver's memory at a thousand connections, and merging them every
// interval most of its collector's work. Every 10 ms the collector takes
// the full batches behind the head of every current chain; at the end of
// every interval (Config.Interval, 1 s by default) it flips every
// connection to its other chain without a lock: the reader keeps a
// generation counter that is odd while it records, and the collector,
// after flipping the atomic index, waits only while the counter still
// shows the record in progress, then drains the chain left behind.
// Drained batches go back to the slot for its readers. The collector
// records the interval (kept as a compact sparse histogram) into the
// run's totals, and publishes the rate and p99 of the last complete
// interval for Progress. It first reads the counts and flips every
// chain, and only then drains, so that an interval's boundary is the
// schedule's. Every interval keeps
// service and response p50 and p99, its counts, its new disconnects, and
// the pending messages at its end and at their peak: the collector samples
// the counters every 10 ms for it, so that the hot path pays nothing (an
// exact peak would need a counter shared by every writer and reader).
// A connection whose reader ended is folded at once (not at the next
// boundary) and its batches go back to its slot for the next
// connection: frequent draining does not allocate per connection.
//
// Rates: OfferedRate is messages created, and AckedRate ACKs received,
// after the warm-up per second of the sending period (end of the warm-up
// to end of sending); ACKs of the drain count, its time does not, so a
// few answers held back by a backoff do not drag the rate down.
//
// Warm-up: ACKs received during Warmup (rounded up to whole intervals so
// that it ends on an interval boundary) are left out of the latency
// histograms and the rates, never out of the accounting.
package driver
