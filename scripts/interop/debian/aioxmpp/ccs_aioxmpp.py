#!/usr/bin/python3
"""A CCS app server on aioxmpp, run as `ccsbench judge -- /usr/bin/python3 ccs_aioxmpp.py`.

aioxmpp (Debian's python3-aioxmpp) opens the stream over TLS from the first
byte (its XEP-0368 connector, pointed at CCS_HOST:CCS_PORT by override_peer),
checks the certificate against CCS_CA_FILE and the JID's domain, and does
SASL PLAIN, the bind and the legacy session. The <gcm
xmlns="google:mobile:data"> element is an XSO registered on aioxmpp.Message,
so messages go out and come in as aioxmpp stanzas, not raw text.

On top of that, the app does what a CCS app server must: at most 100
messages unanswered per connection, an ACK for every upstream message and
delivery receipt (with the receipt's own "dr2:" id), a new connection at once
on CONNECTION_DRAINING while the old one is still read, every unanswered
message sent again when a connection is lost, and SERVICE_UNAVAILABLE /
INTERNAL_SERVER_ERROR retried after a backoff doubling from one second.

The contract is the judge's environment: CCS_HOST, CCS_PORT, CCS_SENDER_ID,
CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_RATE, CCS_RECEIPTS, CCS_SCENARIO.
CCS_CONNS sets the connections held (default 2). AIOXMPP_DEBUG=1 logs the
wire; AIOXMPP_PING=S makes aioxmpp ping (XEP-0199) after S idle seconds
(its default is 60). CCS_PROBE=1 first sends one message without a
message_id and one that is not JSON, which the fake answers with stanza
errors (for a run by hand against `ccsbench fake`; the judge never sets it).
"""

import asyncio
import json
import logging
import os
import random
import sys
import time
from datetime import timedelta

import OpenSSL.SSL
import aioxmpp
import aioxmpp.connector
import aioxmpp.security_layer
import aioxmpp.xso as xso

GCM_NS = "google:mobile:data"
WINDOW = 100
MAX_RETRIES = 6
RETRYABLE = ("SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR")

log = logging.getLogger("ccs_aioxmpp")


class GCM(xso.XSO):
    """<gcm xmlns="google:mobile:data">: its character data is the JSON."""

    TAG = (GCM_NS, "gcm")
    text = xso.Text(default="")


aioxmpp.Message.gcm = xso.Child([GCM])


class Item:
    """One downstream message of the run and its retry state."""

    __slots__ = ("idx", "id", "reg", "attempts", "backoff", "final")

    def __init__(self, idx):
        self.idx, self.id, self.reg = idx, "m%d" % idx, "reg-%07d" % idx
        self.attempts, self.backoff, self.final = 0, 0.0, False


class Conn:
    """One CCS connection: an aioxmpp.Client (one stream) plus its window."""

    def __init__(self, app, slot):
        self.app, self.slot = app, slot
        self.window = asyncio.Semaphore(WINDOW)
        self.pending = {}  # message id -> Item
        self.draining = self.ended = False
        self.answers = 0
        self.early = []  # stanzas to send once the stream is established
        loop = asyncio.get_running_loop()
        self.bound = loop.create_future()
        self.stop = loop.create_future()  # set on drain or end
        jid = aioxmpp.JID.fromstr("%s@gcm.googleapis.com" % app.sender)
        layer = aioxmpp.make_security_layer(app.key, ssl_context_factory=app.ssl_context)
        # XEP-0368: TLS from the first byte, to the judge's host and port.
        peer = [(app.host, app.port, aioxmpp.connector.XMPPOverTLSConnector())]
        # max_initial_attempts=1: the app, not aioxmpp, decides when to dial again.
        self.client = aioxmpp.Client(jid, layer, override_peer=peer, max_initial_attempts=1,
                                     logger=logging.getLogger("aioxmpp.slot%d" % slot))
        if app.ping:
            self.client.stream.soft_timeout = timedelta(seconds=app.ping)
        self.client.stream.on_message_received.connect(self.on_message)
        self.client.on_stream_established.connect(self.on_established)
        self.client.on_stream_destroyed.connect(self.on_destroyed)
        self.client.on_failure.connect(self.on_failure)
        self.client.on_stopped.connect(lambda: self.end("client stopped"))

    def start(self):
        self.client.start()

    def on_established(self):
        # aioxmpp hands the app stanzas that arrive between the bind and the
        # session's result, but refuses to send until the session is done:
        # the ACKs written for those wait here.
        early, self.early = self.early, None
        for msg in early:
            self.client.enqueue(msg)
        if not self.bound.done():
            self.bound.set_result(True)

    def on_destroyed(self, reason=None):
        # Without stream management a broken stream cannot be resumed: the
        # app counts the connection as over and dials a new one itself.
        self.end("stream destroyed: %s" % (reason,))
        self.client.stop()

    def on_failure(self, exc):
        self.end("client failed: %s" % (exc,))

    def end(self, why):
        if not self.bound.done():
            self.bound.set_exception(ConnectionError(why))
        if not self.ended:
            self.ended = True
            self.halt()
            self.app.lost(self, why)

    def halt(self):
        if not self.stop.done():
            self.stop.set_result(True)

    def send_gcm(self, payload):
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.NORMAL)
        msg.gcm = GCM()
        msg.gcm.text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        if self.early is not None:
            self.early.append(msg)
        elif not self.ended:
            self.client.enqueue(msg)

    def on_message(self, msg):
        # A listener that raises is disconnected by aioxmpp for good (it
        # logs "listener attached to signal raised"): never let one escape.
        try:
            self.read(msg)
        except Exception:
            log.exception("handling %r", msg)

    def read(self, msg):
        if msg.gcm is None:
            log.debug("message without gcm: %r", msg)
            return
        try:
            p = json.loads(msg.gcm.text)
        except ValueError as e:
            p = None
            if msg.type_ != aioxmpp.MessageType.ERROR:
                log.warning("unreadable gcm payload (%s): %.200r", e, msg.gcm.text)
                return
        if msg.type_ == aioxmpp.MessageType.ERROR:
            # A stanza error echoes the payload that caused it.
            self.app.stanza_error(self, msg, p if isinstance(p, dict) else {})
        else:
            self.app.handle(self, p)


class App:
    def __init__(self):
        env = os.environ
        self.host, self.port = env["CCS_HOST"], int(env["CCS_PORT"])
        self.sender, self.key = env["CCS_SENDER_ID"], env.get("CCS_API_KEY", "")
        self.ca_file = env.get("CCS_CA_FILE", "")
        self.scenario = env.get("CCS_SCENARIO", "")
        self.rate = float(env.get("CCS_RATE", "0") or 0)
        self.receipts = env.get("CCS_RECEIPTS") == "1"
        self.nconns = int(env.get("CCS_CONNS", "2"))
        self.ping = float(env.get("AIOXMPP_PING", "0") or 0)
        self.probe = env.get("CCS_PROBE") == "1"
        self.items = [Item(i) for i in range(int(env["CCS_MESSAGES"]))]
        # (0, seq, item) for resends, (1, seq, item) for new ones: resends first.
        self.ready = asyncio.PriorityQueue()
        self.seq = 0
        self.done = asyncio.get_running_loop().create_future()
        self.finals = 0
        self.live = set()
        self.c = dict(acked=0, nacked=0, stanza_errors=0, probe_errors=0, retries=0, resends=0,
                      drains=0, losses=0, dials=0, upstream_acked=0, receipts_acked=0)
        self.nacks = {}

    def ssl_context(self):
        """aioxmpp's default pyOpenSSL context, trusting the fake's CA too."""
        ctx = aioxmpp.security_layer.default_ssl_context()
        if self.ca_file:
            ctx.load_verify_locations(self.ca_file)
        return ctx

    async def run(self, deadline):
        if not self.items:
            return True
        tasks = [asyncio.ensure_future(self.pace())]
        tasks += [asyncio.ensure_future(self.slot(i)) for i in range(self.nconns)]
        try:
            await asyncio.wait_for(asyncio.shield(self.done), deadline)
            ok = True
        except asyncio.TimeoutError:
            log.error("gave up after %ss with %d of %d messages answered",
                      deadline, self.finals, len(self.items))
            ok = False
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self.live):
            conn.client.stop()  # aioxmpp closes the stream (</stream:stream>)
        for _ in range(30):
            if not any(conn.client.running for conn in self.live):
                break
            await asyncio.sleep(0.1)
        return ok

    def put(self, item, prio=0):
        self.seq += 1
        self.ready.put_nowait((prio, self.seq, item))

    async def pace(self):
        start = time.monotonic()
        for item in self.items:
            if self.rate > 0:
                delay = start + item.idx / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.put(item, 1)

    async def slot(self, n):
        """Hold one logical connection: dial, send, dial again after a drain
        or a loss (at once if the connection worked, else backing off)."""
        backoff = 0.0
        while not self.done.done():
            if backoff:
                await asyncio.sleep(backoff * (1 + random.random() / 4))
            conn = Conn(self, n)
            self.c["dials"] += 1
            conn.start()
            try:
                await asyncio.wait_for(asyncio.shield(conn.bound), 15)
            except (ConnectionError, asyncio.TimeoutError, OSError, OpenSSL.SSL.Error) as e:
                log.warning("slot %d: %s", n, e or "handshake timed out")
                conn.ended = True
                conn.client.stop()
                backoff = min(max(0.5, 2 * backoff), 15)
                continue
            except Exception as e:  # aiosasl and aioxmpp negotiation errors
                log.warning("slot %d: %s: %s", n, type(e).__name__, e)
                conn.ended = True
                conn.client.stop()
                backoff = min(max(0.5, 2 * backoff), 15)
                continue
            self.live.add(conn)
            if self.probe:
                self.probe = False
                self.send_probes(conn)
            await self.send(conn)
            backoff = 0.0 if conn.draining or conn.answers else min(max(0.5, 2 * backoff), 15)

    def send_probes(self, conn):
        conn.send_gcm({"to": "reg-probe", "data": {"probe": "no message_id"}})
        conn.send_gcm('{"to": "reg-probe", not json')

    @staticmethod
    async def until_stopped(conn, coro):
        """Await coro unless conn stops first; returns (done, result)."""
        task = asyncio.ensure_future(coro)
        await asyncio.wait([task, conn.stop], return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
        try:
            return True, await task
        except asyncio.CancelledError:
            return False, None

    async def send(self, conn):
        while not (conn.draining or conn.ended or self.done.done()):
            got, _ = await self.until_stopped(conn, conn.window.acquire())
            if not got:
                return
            got, entry = await self.until_stopped(conn, self.ready.get())
            if not got:
                conn.window.release()
                return
            item = entry[2]
            if conn.draining or conn.ended or item.final:
                conn.window.release()
                if not item.final:
                    self.put(item)
                continue
            conn.pending[item.id] = item
            payload = {"to": item.reg, "message_id": item.id, "time_to_live": 600,
                       "data": {"n": item.id, "scenario": self.scenario}}
            if self.receipts:
                payload["delivery_receipt_requested"] = True
            conn.send_gcm(payload)

    def answer(self, conn, mid):
        item = conn.pending.pop(mid, None)
        if item is None:
            log.warning("answer for %r, which is not pending here", mid)
            return None
        conn.answers += 1
        conn.window.release()
        return item

    def finish(self, item):
        item.final = True
        self.finals += 1
        if self.finals == len(self.items) and not self.done.done():
            self.done.set_result(True)

    def stanza_error(self, conn, msg, p):
        err = msg.error
        cond = err.condition if err is not None else None
        item = self.answer(conn, p.get("message_id")) if p.get("message_id") else None
        if item is None:
            self.c["probe_errors"] += 1
            log.info("stanza error %s (%s) for a message that is not ours: %.120r",
                     cond, err.text if err is not None else "", msg.gcm.text)
            return
        self.c["stanza_errors"] += 1
        self.finish(item)

    def handle(self, conn, p):
        kind = p.get("message_type", "")
        if kind == "ack":
            item = self.answer(conn, p.get("message_id"))
            if item:
                self.c["acked"] += 1
                self.finish(item)
        elif kind == "nack":
            self.nack(conn, p)
        elif kind == "control":
            if p.get("control_type") == "CONNECTION_DRAINING":
                self.drain(conn)
        elif kind in ("receipt", ""):
            # Upstream messages and receipts: ACK at once, whatever the window.
            conn.send_gcm({"message_type": "ack", "to": p.get("from"), "message_id": p.get("message_id")})
            self.c["receipts_acked" if kind else "upstream_acked"] += 1

    def nack(self, conn, p):
        code = p.get("error", "").replace(":", " ").split(" ")[0]
        if code == "CONNECTION_DRAINING":
            self.drain(conn)
        item = self.answer(conn, p.get("message_id"))
        if item is None:
            return
        if code == "CONNECTION_DRAINING":
            self.c["resends"] += 1
            self.put(item)
        elif code in RETRYABLE and item.attempts < MAX_RETRIES:
            item.attempts += 1
            item.backoff = 1.0 if not item.backoff else min(2 * item.backoff, 16.0)
            self.c["retries"] += 1
            asyncio.get_running_loop().call_later(
                item.backoff * (1 + random.random() / 10), self.put, item)
        else:
            self.c["nacked"] += 1
            self.nacks[code] = self.nacks.get(code, 0) + 1
            self.finish(item)

    def drain(self, conn):
        if not conn.draining:
            conn.draining = True
            self.c["drains"] += 1
            conn.halt()

    def lost(self, conn, why):
        self.live.discard(conn)
        if self.done.done():
            return
        if not conn.draining:
            self.c["losses"] += 1
        n = len(conn.pending)
        for item in conn.pending.values():
            self.c["resends"] += 1
            self.put(item)
        conn.pending.clear()
        if n or not conn.draining:
            log.info("connection ended (draining=%s, %d unanswered sent again): %s", conn.draining, n, why)


async def main():
    app = App()
    start = time.monotonic()
    ok = await app.run(600)
    el = time.monotonic() - start
    log.info("scenario=%s messages=%d %s nacks=%s in %.2fs (%.0f acked/s)", app.scenario, len(app.items),
             " ".join("%s=%d" % kv for kv in app.c.items()), app.nacks, el, app.c["acked"] / el if el else 0)
    return 0 if ok else 1


if __name__ == "__main__":
    debug = os.environ.get("AIOXMPP_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    if not debug:
        for name in ("aioxmpp", "aiosasl", "aioopenssl"):
            logging.getLogger(name).setLevel(logging.WARNING)
    sys.exit(asyncio.run(main()))
