// Package mellium is a second CCS client for the driver: a
// driver.Transport built on the general-purpose XMPP library
// mellium.im/xmpp, so that the same workload, window, retry and accounting
// code can run over a client that other people wrote and the two can be
// compared (NewTransport; Name "mellium").
//
// # How it uses the library
//
// A connection is an *xmpp.Session negotiated by xmpp.NewSession with the
// library's stream features: xmpp.SASL with a PLAIN mechanism and
// xmpp.BindResource. The library's stream handling, its XML encoder and
// decoder (encoding/xml underneath) and its stanza package do the rest:
//
//   - Dial: TLS from the first byte with crypto/tls, as the library's dial
//     package does, but to the given host:port (that package only dials
//     SRV targets or ports 5222/5223, and falls back to plain TCP). The
//     session is told the connection is secure. With ccs.TLSStartTLS the
//     session starts on the TCP connection with the library's own
//     xmpp.StartTLS feature; the transport finishes the TLS handshake it
//     starts before the stream restarts (so that TLS errors are told
//     apart) and hands the TLS connection back in the same buffered
//     reader as direct TLS. With ccs.TLSNone the session is told the TCP
//     connection is secure, as asked, or the library would not offer SASL
//     on it; a feature that only reads the server's STARTTLS offer refuses
//     a server that requires it.
//   - SASL: CCS wants SENDER@gcm.googleapis.com as the authentication
//     identity; the library's PLAIN sends the JID's localpart, which cannot
//     hold an '@', so the transport passes its own sasl.Mechanism named
//     PLAIN (mechanisms are plain values in mellium.im/sasl) to xmpp.SASL.
//   - Writing: the writer takes the session's TokenWriter at its first
//     stanza after a flush and holds it until Flush, which closes it (the
//     library flushes its encoder then). Each downstream message is a
//     stanza.Message of type normal wrapping the gcm element, copied with
//     xmlstream.Copy; the library gives it a random id and escapes the JSON
//     text (a '"' becomes "&#34;"). The JSON of upstream ACKs is made with
//     encoding/json. SendStreamEnd is the session's Close at the next Flush.
//   - Reading: the reader holds the session's TokenReader for the life of
//     the connection and walks its tokens: encoding/xml resolves prefixes
//     to namespaces (so <data:gcm xmlns:data="google:mobile:data"> matches)
//     and decodes entities, character references and CDATA before the
//     payload reaches the JSON reader. The library turns </stream:stream>
//     into io.EOF and <stream:error> into its stream.Error; a connection
//     closed inside the stream is encoding/xml's "unexpected EOF".
//   - The JSON of payloads is read with ccs.JSONReader, the native client's
//     reader: the comparison is of the XMPP layers, not of JSON parsers.
//
// The TLS connection (the TCP connection with ccs.TLSNone) is wrapped in a buffered reader that has ReadByte, so
// that encoding/xml reads through it instead of adding a bufio.Reader of
// its own; the buffer calls the driver's BeforeRead hook before every read
// from the connection, as the native client's framer does. Unflushed is an estimate (payload sizes plus a fixed
// overhead per stanza): the library's encoder buffers 4 KiB by itself and
// writes whenever that fills, so the driver's 64 KiB coalescing becomes
// 4 KiB TLS writes. cfg.Session and cfg.Framer are not used.
//
// # Cost
//
// The library allocates per stanza, which the driver's hot path does not:
// BenchmarkRun, a whole run of 200,000 messages at --rate 0 over 8
// connections against an in-process fake (go test ./clients/mellium -run X
// -bench Run -benchtime 1x -count 5 -benchmem, medians, on a 2-core
// machine shared with other work; the fake's allocations are in both
// figures, so the difference is the client's):
//
//	client    acked/s   allocs/msg  B/msg
//	native    228,008   0.087          97
//	mellium    62,642   37.2         1487
//
// Throughput moves with the machine's load (an earlier session on a
// quieter machine measured 745,994 against 178,326 acked/s); the ratio
// stayed between 3.6 and 4.2, and the allocation figures do not move.
// A CPU profile of the mellium run (fake included) puts a third of the
// time in encoding/xml's decoder, which reads one byte at a time through
// ReadByte, a fifth in writing tokens (xmlstream.Copy and encoding/xml's
// escaping), and about a tenth in allocation.
//
// A memory profile puts about 60 % of mellium's allocations on the send
// side (stanza.Message.Wrap and the xmlstream readers it builds, the
// random stanza id, the stanza encoder's attribute handling) and 40 % on
// the read side (encoding/xml's tokens, names and attributes). That is the
// price of a token-stream API built for correctness and generality; the
// native client frames stanzas and writes bytes without either.
package mellium
