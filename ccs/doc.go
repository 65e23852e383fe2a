// Package ccs implements the wire protocol of the Cloud Connection Server
// (CCS): XMPP over TLS with SASL PLAIN, and JSON payloads inside
// <gcm xmlns="google:mobile:data"> message stanzas. It is shared by the load
// driver (client side) and the fake server (server side) and imports no
// other package of this project.
//
// The package has four parts:
//
//   - the stream handshake, both halves (Dial, ClientHandshake,
//     ServerHandshake), with typed errors; the client speaks TLS from the
//     first byte as CCS does, or (TLSMode) STARTTLS or no TLS for
//     CCS-compatible servers that differ;
//   - the Framer, which splits a byte stream into top-level stanzas,
//     decoding the gcm payload's character data, with limits on size and
//     depth and refusal of DTDs, entity declarations and processing
//     instructions;
//   - the JSONReader, which reads the payload fields that matter while
//     checking that the whole payload is well-formed JSON;
//   - the encoders (AppendDownstream, AppendAck, AppendNack, ...), which
//     append stanzas into a caller's buffer.
//
// The framer, the JSON reader and the encoders are hot paths: they allocate
// nothing per message in steady state and take no lock.
//
// # JSON reader
//
// The payload reader is a hand-written RFC 8259 scanner, not
// github.com/valyala/fastjson, chosen by benchmark (BenchmarkParse*_Hand
// against *_Fastjson: the same payloads, the same Message filled, both at 0
// allocations with reused state, on a 2-core machine). An ack takes 85 ns
// against 275 ns, a nack 137 against 462 ns, an upstream message 186 against
// 513 ns, and a 2 KiB downstream message 1.35 µs against 4.1 µs. The scanner
// validates and extracts in a single pass: it slices string values out of
// the input, decodes only the strings that contain escapes, and reads only
// the top-level fields CCS uses. fastjson copies the input into its parser
// and builds a value tree, and accepts what RFC 8259 forbids inside strings
// (raw control characters, bad escapes) unless a separate
// fastjson.ValidateBytes pass runs first; even without that pass, which
// would leave the fake's INVALID_JSON checks too lax, it is 1.7-2x slower
// here.
//
// # Framer and encoding/xml
//
// FuzzFramer checks the framer's verdict and extracted values against
// encoding/xml on the same bytes. The framer is stricter where XMPP is:
// comments, processing instructions and DTDs are refused (RFC 6120 section
// 11.1), as are mismatched end tags, duplicate attributes, undeclared
// prefixes and character references to surrogates, which encoding/xml lets
// through; the fuzz test documents each divergence.
package ccs
