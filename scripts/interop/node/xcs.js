// xcs.js: the node-xcs library (npm node-xcs) as a user would drive it,
// under the ccsbench judge contract (see `ccsbench help judge`).
//
// The wrapper only configures the library and feeds it messages; all sending,
// acknowledging of upstream messages and receipts, draining and reconnecting
// is the library's own. What the library leaves to its user, the wrapper does
// the way its README and API suggest:
//   - it sends with sendNoRetry (the only send the library implements) and
//     counts each callback result as the message's final answer (the library
//     offers no retry, so an error result is final for its user);
//   - it holds back while Sender.isReady() is false: that is the library's
//     own window check;
//   - it catches the TypeError that Sender.start() throws (see below);
//   - it gives up when no answer has come for CCS_GIVEUP seconds (default 10),
//     since the library never reports a message it has lost.
"use strict";

const { Sender, Message, Constants } = require("node-xcs");

const env = process.env;
const total = parseInt(env.CCS_MESSAGES || "1000", 10);
const rate = parseFloat(env.CCS_RATE || "0");
const receipts = env.CCS_RECEIPTS === "1";
const giveUpMs = parseFloat(env.CCS_GIVEUP || "10") * 1000;

// node-xcs dials Constants.FCM_SEND_ENDPOINT on FCM_SEND_PRODUCTION_PORT and
// has no option for another host: these two constants are its only setting.
Constants.FCM_SEND_ENDPOINT = env.CCS_HOST || "127.0.0.1";
Constants.FCM_SEND_PRODUCTION_PORT = parseInt(env.CCS_PORT || "5235", 10);

const xcs = new Sender(env.CCS_SENDER_ID, env.CCS_API_KEY);

let sent = 0;
let answered = 0;
let acked = 0;
const nacked = {};
let upstream = 0;
let receiptsSeen = 0;
let lastAnswer = Date.now();
const start = Date.now();

xcs.on("message", () => upstream++);
xcs.on("receipt", () => receiptsSeen++);
xcs.on("error", (e) => console.error("xcs error:", e && e.message ? e.message : e));
xcs.on("message-error", (m) => console.error("xcs message-error:", m));
xcs.on("connected", () => console.error("xcs connected"));
xcs.on("disconnected", () => console.error("xcs disconnected"));

function onResult(result) {
  answered++;
  lastAnswer = Date.now();
  const err = result.getError();
  if (err) {
    nacked[err] = (nacked[err] || 0) + 1;
  } else {
    acked++;
  }
  pump();
  if (answered === total) finish(0);
}

// pump sends while the library says it is ready and the pace allows.
function pump() {
  while (sent < total && xcs.isReady()) {
    if (rate > 0 && sent >= ((Date.now() - start) / 1000) * rate) return;
    const i = sent++;
    const m = new Message("m-" + i)
      .addData("seq", String(i))
      .deliveryReceiptRequested(receipts)
      .build();
    xcs.sendNoRetry(m, "device-" + i, onResult);
  }
}

let done = false;
function finish(code) {
  if (done) return;
  done = true;
  const secs = (Date.now() - start) / 1000;
  console.error(
    `node-xcs: ${total} messages, ${sent} sent, ${answered} answered ` +
      `(${acked} acked, nacked ${JSON.stringify(nacked)}), ${total - answered} never answered; ` +
      `${upstream} upstream, ${receiptsSeen} receipts; ${secs.toFixed(2)} s`,
  );
  // Receipts and upstream messages still in flight get a moment to be ACKed.
  setTimeout(() => {
    xcs.close();
    setTimeout(() => process.exit(code), 500);
  }, receipts || upstream > 0 ? 1000 : 0);
}

const ticker = setInterval(() => {
  pump();
  if (!done && Date.now() - lastAnswer > giveUpMs) {
    console.error(`node-xcs: no answer for ${giveUpMs / 1000} s, giving up`);
    finish(1);
  }
}, rate > 0 ? 5 : 100);
ticker.unref();

process.on("SIGTERM", () => finish(1));

// Sender.start() starts the connection and then calls setTimeout and
// setKeepAlive on client.socket, which with @xmpp/client 0.13 (what node-xcs
// 0.1.8 resolves to) is xmpp.js's own socket wrapper without those methods:
// it throws a TypeError after the connection is under way. A user has to
// catch it to get any further; the connection itself is unaffected.
try {
  xcs.start();
} catch (e) {
  console.error("node-xcs: Sender.start threw after connecting:", e.message);
}
pump();
