// Package fakeccs is a fake Cloud Connection Server (CCS): it speaks the
// CCS wire protocol of package ccs from the server side, behaves as the
// protocol document says (ACK, NACK and stanza-error rules, the 100-message
// window, upstream messages, delivery receipts, draining, keepalives,
// pings), injects faults on demand (slow or NACKed answers, dropped and
// draining connections, canonical ids, unknown or rate-limited devices),
// and counts what it saw (Stats), including the exact set of message ids
// across connections for proving a load driver's accounting.
//
// It is built to never be what limits a measurement: each connection is
// one goroutine that parses a whole read buffer, appends every reply into
// one reused buffer and writes it once before reading again; timed work
// (delayed answers from a per-connection heap, upstream messages,
// keepalives) runs in the same goroutine, woken by the read deadline
// (delayed answers are made punctual by one waker thread per server, since
// the runtime's timers are only millisecond-precise). The
// path of a downstream message allocates nothing and takes no lock (unless
// Config.TrackIDs or Config.DeviceRate, which share sharded tables).
//
// Use it embedded:
//
//	srv, err := fakeccs.New(fakeccs.Config{AckDelay: 10 * time.Millisecond})
//	ln, err := net.Listen("tcp", "127.0.0.1:0")
//	go srv.Serve(ln)
//	defer srv.Close()
//	// dial ln.Addr() with TLS trusting srv.CertPool()
//
// or as `ccsbench fake`.
package fakeccs
