// xmppjs.mjs: a small CCS client (app server) on @xmpp/client (xmpp.js), the
// generic Node.js XMPP library, under the ccsbench judge contract (see
// `ccsbench help judge`). xmpp.js does the XMPP part (TLS, SASL PLAIN, stream
// restart, bind, pings); this file does the CCS part:
//   - CCS_CONNS logical connections (default 2), each with at most 100
//     messages without an answer;
//   - CONNECTION_DRAINING (control message or NACK): no new message on that
//     connection, a new one opened at once, the old one kept reading (and
//     ACKing upstream messages) until the server closes it;
//   - a connection lost: its unanswered messages are sent again elsewhere;
//     reconnecting at once after a connection that worked, with backoff
//     after one that failed;
//   - SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR and unknown codes: sent again
//     after 1 s, doubling (jittered), at most 8 times; other NACKs are final;
//   - every upstream message and receipt ACKed at once on its connection,
//     window full or not.
import { client, xml } from "@xmpp/client";

const env = process.env;
const total = parseInt(env.CCS_MESSAGES || "1000", 10);
const rate = parseFloat(env.CCS_RATE || "0");
const receipts = env.CCS_RECEIPTS === "1";
const nconns = parseInt(env.CCS_CONNS || "2", 10);
const service = `xmpps://${env.CCS_HOST || "127.0.0.1"}:${env.CCS_PORT || "5235"}`;
const NS = "google:mobile:data";
const WINDOW = 100;
const RETRIES = 8;
const DRAIN_CLOSE = 30_000; // close a draining connection the server keeps open this long (ms)

const queue = []; // message numbers ready to go out, oldest first
const tries = new Map(); // message number -> resends so far after a retryable NACK
let next = 0; // the next new message number
let finals = 0;
let acked = 0;
const nacks = {};
let upstream = 0;
let upstreamAcked = 0;
let reconnects = 0;
let drains = 0;
let lastProgress = Date.now();
const start = Date.now();

function log(...a) {
  console.error("xmppjs:", ...a);
}

function payload(i) {
  return JSON.stringify({
    to: "device-" + i,
    message_id: "m-" + i,
    time_to_live: 0,
    data: { seq: String(i) },
    ...(receipts && { delivery_receipt_requested: true }),
  });
}

// Slot is one logical connection: an active Conn, and at most one that is
// draining.
class Slot {
  constructor(n) {
    this.n = n;
    this.active = null;
    this.draining = null;
    this.failures = 0;
    this.open();
  }

  open() {
    this.active = new Conn(this);
  }

  // lost is called when c ended; its unanswered messages go out again.
  lost(c) {
    for (const i of c.pending.keys()) queue.unshift(i);
    c.pending.clear();
    if (this.draining === c) {
      this.draining = null;
      pumpAll();
      return;
    }
    if (this.active !== c || finished) return;
    // A connection that delivered answers is replaced at once; one that
    // failed before any answer backs off.
    this.failures = c.answers > 0 ? 0 : this.failures + 1;
    const delay = this.failures === 0 ? 0 : Math.min(100 * 2 ** this.failures, 10_000) * (0.5 + Math.random() / 2);
    this.active = null;
    reconnects++;
    setTimeout(() => {
      if (!finished) this.open();
    }, delay);
  }

  // drain moves c aside and opens its successor at once.
  drain(c) {
    if (c.isDraining) return;
    c.isDraining = true;
    drains++;
    if (this.draining) this.draining.close(); // at most one draining connection
    this.draining = c;
    c.drainTimer = setTimeout(() => c.close(), DRAIN_CLOSE);
    if (this.active === c && !finished) this.open();
  }
}

class Conn {
  constructor(slot) {
    this.slot = slot;
    this.pending = new Map(); // message number -> true
    this.online = false;
    this.isDraining = false;
    this.ended = false;
    this.answers = 0;
    this.xmpp = client({
      service,
      domain: "gcm.googleapis.com",
      username: env.CCS_SENDER_ID,
      password: env.CCS_API_KEY,
    });
    this.xmpp.reconnect.stop(); // reconnecting is ours: a new Conn per connection
    this.xmpp.on("error", (e) => log("connection", slot.n, "error:", e.message || e));
    this.xmpp.on("online", () => {
      this.online = true;
      pump(this);
    });
    this.xmpp.on("offline", () => this.end());
    this.xmpp.on("disconnect", () => this.end());
    this.xmpp.on("stanza", (s) => this.stanza(s));
    this.xmpp.start().catch((e) => {
      log("connection", slot.n, "start failed:", e.message || e);
      this.end();
    });
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.online = false;
    clearTimeout(this.drainTimer);
    this.slot.lost(this);
    // stop() also ends a stream the server left half open.
    this.xmpp.stop().catch(() => {});
  }

  close() {
    clearTimeout(this.drainTimer);
    this.xmpp.stop().catch(() => {}).finally(() => this.end());
  }

  send(json) {
    this.xmpp.send(xml("message", { id: "" }, xml("gcm", { xmlns: NS }, json))).catch((e) => {
      log("send on connection", this.slot.n, "failed:", e.message || e);
    });
  }

  stanza(s) {
    if (!s.is("message")) return;
    const g = s.getChild("gcm", NS);
    if (s.attrs.type === "error") {
      // A stanza error echoes the payload: the message is final.
      let id;
      try {
        id = JSON.parse(g ? g.text() : "{}").message_id;
      } catch {}
      this.answer(id, "stanza-error");
      return;
    }
    if (!g) return;
    let m;
    try {
      m = JSON.parse(g.text());
    } catch (e) {
      log("unreadable gcm payload:", e.message);
      return;
    }
    switch (m.message_type) {
      case "ack":
        this.answer(m.message_id, null);
        break;
      case "nack":
        this.answer(m.message_id, m.error || "UNKNOWN");
        break;
      case "control":
        if (m.control_type === "CONNECTION_DRAINING") this.slot.drain(this);
        break;
      case "receipt":
      case undefined:
        // An upstream message or a delivery receipt: ACK it here, now,
        // with its id unchanged (dr2: and all).
        upstream++;
        if (m.from && m.message_id) {
          this.send(JSON.stringify({ to: m.from, message_id: m.message_id, message_type: "ack" }));
          upstreamAcked++;
        }
        break;
    }
  }

  answer(id, code) {
    if (typeof id !== "string" || !id.startsWith("m-")) return;
    const i = parseInt(id.slice(2), 10);
    if (!this.pending.delete(i)) return; // not ours on this connection, or answered already
    this.answers++;
    lastProgress = Date.now();
    if (code === null || code === "stanza-error") {
      if (code === null) acked++;
      else nacks[code] = (nacks[code] || 0) + 1;
      final();
    } else if (code === "CONNECTION_DRAINING") {
      queue.unshift(i);
      this.slot.drain(this);
    } else if (retryable(code) && (tries.get(i) || 0) < RETRIES) {
      const n = (tries.get(i) || 0) + 1;
      tries.set(i, n);
      const wait = 1000 * 2 ** (n - 1) * (1 + Math.random() / 10);
      setTimeout(() => {
        queue.push(i);
        pumpAll();
      }, wait);
    } else {
      nacks[code] = (nacks[code] || 0) + 1;
      final();
    }
    pump(this.slot.active);
  }
}

const FINAL = new Set([
  "INVALID_JSON", "BAD_REGISTRATION", "DEVICE_UNREGISTERED", "BAD_ACK",
  "DEVICE_MESSAGE_RATE_EXCEEDED", "QUOTA_EXCEEDED", "TOPICS_MESSAGE_RATE_EXCEEDED",
]);

function retryable(code) {
  return !FINAL.has(code);
}

// pump fills c's window from the queue, then with new messages as the pace
// allows.
function pump(c) {
  if (!c || !c.online || c.isDraining || c.ended) return;
  while (c.pending.size < WINDOW) {
    let i;
    if (queue.length > 0) {
      i = queue.shift();
    } else if (next < total && (rate <= 0 || next < ((Date.now() - start) / 1000) * rate + 1)) {
      i = next++;
    } else {
      return;
    }
    c.pending.set(i, true);
    c.send(payload(i));
  }
}

function pumpAll() {
  for (const s of slots) pump(s.active);
}

let finished = false;
function final() {
  finals++;
  if (finals === total) finish(0);
}

function finish(code) {
  if (finished) return;
  finished = true;
  // xmpp.js throws from its socket callbacks when a connection still in its
  // handshake (one opened after a drain or a drop) is stopped: once every
  // message has its answer, that must not change the exit status.
  const quiet = (e) => {
    log("while closing:", e && e.message ? e.message : e);
  };
  process.on("uncaughtException", quiet);
  process.on("unhandledRejection", quiet);
  const secs = (Date.now() - start) / 1000;
  log(
    `${total} messages in ${secs.toFixed(2)} s: ${acked} acked, nacked ${JSON.stringify(nacks)}, ` +
      `${total - finals} without a final answer; ${upstream} upstream/receipts (${upstreamAcked} ACKed), ` +
      `${drains} drains, ${reconnects} reconnects`,
  );
  // Receipts and upstream messages still on their way get a moment to be ACKed.
  setTimeout(
    async () => {
      const all = slots.flatMap((s) => [s.active, s.draining]).filter((c) => c && !c.ended);
      await Promise.race([Promise.allSettled(all.map((c) => c.xmpp.stop())), new Promise((r) => setTimeout(r, 2000))]);
      process.exit(code);
    },
    receipts || upstream > 0 ? 1000 : 0,
  );
}

const slots = [];
for (let n = 0; n < nconns; n++) slots.push(new Slot(n));

setInterval(() => {
  pumpAll();
  if (!finished && Date.now() - lastProgress > 30_000) {
    log("no answer for 30 s, giving up");
    finish(1);
  }
}, rate > 0 ? 5 : 50).unref();

process.on("SIGTERM", () => finish(1));
