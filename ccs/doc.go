// Package ccs implements the wire protocol of the Cloud Connection Server
// (CCS): XMPP over TLS with SASL PLAIN, and JSON payloads inside
// <gcm xmlns="google:mobile:data"> message stanzas. It is shared by the load
// driver (client side) and the fake server (server side) and imports no
// other package of this project.
//
// The package has four parts:
//
//   - the stream handshake, both halves (Dial, ClientHandshake,
//     ServerHandshake), with typed errors;
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
package ccs
