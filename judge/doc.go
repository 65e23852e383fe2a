// Package judge scores a CCS client (an app server) from the server side
// alone: for each scenario it starts a fake CCS server (package fakeccs)
// with one kind of trouble, runs the client against it with a fixed
// environment contract, and judges rules of the protocol on what the fake
// observed, with no help from the client. It is `ccsbench judge`.
//
// # The contract
//
// A client is run once per scenario with CCS_HOST and CCS_PORT (the fake),
// CCS_SENDER_ID and CCS_API_KEY (credentials), CCS_CA_FILE (a PEM of the
// fake's certificate, also in SSL_CERT_FILE and NODE_EXTRA_CA_CERTS, as a
// bundle with the file they name where they are set), CCS_MESSAGES (send
// exactly this many unique downstream messages, ids of its choice),
// CCS_RATE (messages per second to aim for, 0 as fast as it can),
// CCS_RECEIPTS (1: set delivery_receipt_requested) and CCS_SCENARIO (the
// scenario's name); the rest of the judge's environment, other CCS_*
// variables included, passes through. It exits once every message has a
// final answer, or it gives up; at the scenario timeout it gets SIGTERM,
// and SIGKILL 5 s later (Command). ccsbench's own clients run in process
// with the same settings (Builtin).
//
// # Scenarios and rules
//
// Scenarios lists what each scenario does to the client and Rules what
// each rule asks; a rule is judged on its scenarios only, and is skipped
// when they did not run or the client never connected in them. Every
// verdict comes with one line of evidence with the numbers behind it.
//
// # How the fake observes
//
// The judge is the fake's Observer: every bound connection records, in a
// log of its own (no lock per event), each downstream message read and how
// many of its connection were pending, each answer and the time of the
// write that carried it, drains and when the client was told, upstream
// messages and their ACKs, and how the connection ended. Once the fake is
// closed the logs are boiled down into facts about every message id
// across connections, and the logs dropped. Two things make the rules
// exact about what the client could know:
//
//   - An answer counts from when it was written, not produced; one whose
//     write never happened (its connection was dropped first) does not
//     exist for the client.
//   - An answer counts as received only if its connection then stayed
//     open for AnswerSeen: a message sent again after an ACK whose
//     connection died at once may have lost the ACK with it, and sending
//     it again is at-least-once delivery, not a duplicate.
//
// The fake's accounting identity is checked in every scenario, and the
// observer's counts against the fake's counters; a failure there is an
// error of the judge (Judgement.JudgeErrors), not of the client.
package judge
