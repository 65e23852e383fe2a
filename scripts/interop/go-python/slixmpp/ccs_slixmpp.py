#!/usr/bin/python3
"""A CCS app server on slixmpp, run as `ccsbench judge -- python3 ccs_slixmpp.py`.

slixmpp does the stream, TLS (from the first byte: use_ssl), SASL PLAIN and
resource binding; this program registers the <gcm xmlns="google:mobile:data">
element, sends raw <message> stanzas and handles what comes back the way a
CCS app server must: at most 100 messages unanswered per connection, ACKs for
upstream messages and delivery receipts (with the receipt's own "dr2:" id),
a new connection at once on CONNECTION_DRAINING, a resend of whatever a lost
connection left unanswered, and SERVICE_UNAVAILABLE / INTERNAL_SERVER_ERROR
retried after a backoff that doubles from one second.

The contract is the judge's environment: CCS_HOST, CCS_PORT, CCS_SENDER_ID,
CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_RATE, CCS_RECEIPTS, CCS_SCENARIO.
CCS_CONNS sets the connections held (default 2); SLIX_DEBUG=1 logs the wire.
"""

import asyncio
import json
import logging
import os
import random
import sys
import time

import slixmpp
from slixmpp.xmlstream import ElementBase, register_stanza_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

GCM_NS = "google:mobile:data"
WINDOW = 100
MAX_RETRIES = 6
RETRYABLE = ("SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR")

log = logging.getLogger("ccs_slixmpp")


class GCM(ElementBase):
    """The gcm element: its text is the JSON payload."""

    name = "gcm"
    namespace = GCM_NS
    plugin_attrib = "gcm"
    interfaces = {"json"}

    def get_json(self):
        return self.xml.text or ""

    def set_json(self, value):
        self.xml.text = value


register_stanza_plugin(slixmpp.Message, GCM)


class Message:
    __slots__ = ("idx", "id", "reg", "attempts", "backoff", "final")

    def __init__(self, idx):
        self.idx, self.id, self.reg = idx, "m%d" % idx, "reg-%07d" % idx
        self.attempts, self.backoff, self.final = 0, 0.0, False


class Conn(slixmpp.ClientXMPP):
    """One CCS connection: a slixmpp client plus its window and pending ids."""

    def __init__(self, app, slot):
        super().__init__("%s@gcm.googleapis.com" % app.sender, app.key)
        self.app, self.slot = app, slot
        self.window = asyncio.Semaphore(WINDOW)
        self.pending = {}  # message id -> Message
        self.draining = self.ended = False
        self.answers = 0
        self.ccs_bound = asyncio.get_event_loop().create_future()
        self.stop = asyncio.get_event_loop().create_future()  # set on drain or end
        if app.ca_file:
            self.ca_certs = app.ca_file
        self.register_handler(Callback(
            "gcm", MatchXPath("{jabber:client}message/{%s}gcm" % GCM_NS), self.on_gcm))
        self.add_event_handler("session_bind", self.on_bound)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self.fail("connection failed: %s" % e))
        self.add_event_handler("disconnected", self.on_disconnected)

    def on_bound(self, _):
        if not self.ccs_bound.done():
            self.ccs_bound.set_result(True)

    def fail(self, why):
        if not self.ccs_bound.done():
            self.ccs_bound.set_exception(ConnectionError(why))
        self.cancel_connection_attempt()
        self.abort()

    def on_disconnected(self, reason):
        if not self.ccs_bound.done():
            self.ccs_bound.set_exception(ConnectionError("disconnected: %s" % reason))
        if not self.ended:
            self.ended = True
            self.halt()
            self.app.lost(self, reason)

    def halt(self):
        if not self.stop.done():
            self.stop.set_result(True)

    def send_gcm(self, payload):
        body = json.dumps(payload, separators=(",", ":"))
        # json.dumps leaves <, > and & as they are: escape them for XML.
        body = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.send_raw('<message id=""><gcm xmlns="%s">%s</gcm></message>' % (GCM_NS, body))

    def on_gcm(self, msg):
        try:
            p = json.loads(msg["gcm"]["json"])
        except ValueError as e:
            log.warning("unreadable gcm payload (%s): %.200r", e, msg["gcm"]["json"])
            return
        self.app.handle(self, msg["type"], p)


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
        self.msgs = [Message(i) for i in range(int(env["CCS_MESSAGES"]))]
        # (0, seq, m) for resends, (1, seq, m) for new messages: resends go first.
        self.ready = asyncio.PriorityQueue()
        self.seq = 0
        self.done = asyncio.get_event_loop().create_future()
        self.finals = 0
        self.live = set()
        self.c = dict(acked=0, nacked=0, stanza_errors=0, retries=0, resends=0, drains=0,
                      losses=0, dials=0, upstream_acked=0, receipts_acked=0)
        self.nacks = {}

    async def run(self, deadline):
        if not self.msgs:
            return True
        tasks = [asyncio.ensure_future(self.pace())]
        tasks += [asyncio.ensure_future(self.slot(i)) for i in range(self.nconns)]
        try:
            await asyncio.wait_for(asyncio.shield(self.done), deadline)
            ok = True
        except asyncio.TimeoutError:
            log.error("gave up after %ss with %d of %d messages answered",
                      deadline, self.finals, len(self.msgs))
            ok = False
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        closing = [c.disconnect(wait=2.0) for c in list(self.live)]
        if closing:
            await asyncio.wait(closing, timeout=3)
        return ok

    def put(self, m, prio=0):
        self.seq += 1
        self.ready.put_nowait((prio, self.seq, m))

    async def pace(self):
        start = time.monotonic()
        for m in self.msgs:
            if self.rate > 0:
                delay = start + m.idx / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.put(m, 1)

    async def slot(self, n):
        """Hold one logical connection: dial, send, dial again after a drain
        or a loss (at once if the connection worked, else backing off)."""
        backoff = 0.0
        while not self.done.done():
            if backoff:
                await asyncio.sleep(backoff * (1 + random.random() / 4))
            conn = Conn(self, n)
            self.c["dials"] += 1
            conn.connect((self.host, self.port), use_ssl=True)
            try:
                await asyncio.wait_for(conn.ccs_bound, 15)
            except (ConnectionError, asyncio.TimeoutError) as e:
                log.warning("slot %d: %s", n, e or "handshake timed out")
                conn.abort()
                backoff = min(max(0.5, 2 * backoff), 15)
                continue
            self.live.add(conn)
            await self.send(conn)
            backoff = 0.0 if conn.draining or conn.answers else min(max(0.5, 2 * backoff), 15)

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
            got, item = await self.until_stopped(conn, self.ready.get())
            if not got:
                conn.window.release()
                return
            m = item[2]
            if conn.draining or conn.ended or m.final:
                conn.window.release()
                if not m.final:
                    self.put(m)
                continue
            conn.pending[m.id] = m
            payload = {"to": m.reg, "message_id": m.id, "time_to_live": 600,
                       "data": {"n": m.id, "scenario": self.scenario}}
            if self.receipts:
                payload["delivery_receipt_requested"] = True
            conn.send_gcm(payload)

    def answer(self, conn, mid):
        m = conn.pending.pop(mid, None)
        if m is None:
            log.warning("answer for %r, which is not pending here", mid)
            return None
        conn.answers += 1
        conn.window.release()
        return m

    def finish(self, m):
        m.final = True
        self.finals += 1
        if self.finals == len(self.msgs) and not self.done.done():
            self.done.set_result(True)

    def handle(self, conn, mtype, p):
        kind = p.get("message_type", "")
        if mtype == "error":
            m = self.answer(conn, p.get("message_id"))
            if m:
                self.c["stanza_errors"] += 1
                self.finish(m)
        elif kind == "ack":
            m = self.answer(conn, p.get("message_id"))
            if m:
                self.c["acked"] += 1
                self.finish(m)
        elif kind == "nack":
            self.nack(conn, p)
        elif kind == "control":
            if p.get("control_type") == "CONNECTION_DRAINING":
                self.drain(conn)
        elif kind == "receipt":
            conn.send_gcm({"message_type": "ack", "to": p.get("from"), "message_id": p.get("message_id")})
            self.c["receipts_acked"] += 1
        elif kind == "":
            conn.send_gcm({"message_type": "ack", "to": p.get("from"), "message_id": p.get("message_id")})
            self.c["upstream_acked"] += 1

    def nack(self, conn, p):
        code = p.get("error", "").replace(":", " ").split(" ")[0]
        if code == "CONNECTION_DRAINING":
            self.drain(conn)
        m = self.answer(conn, p.get("message_id"))
        if m is None:
            return
        if code == "CONNECTION_DRAINING":
            self.c["resends"] += 1
            self.put(m)
        elif code in RETRYABLE and m.attempts < MAX_RETRIES:
            m.attempts += 1
            m.backoff = 1.0 if not m.backoff else min(2 * m.backoff, 16.0)
            self.c["retries"] += 1
            asyncio.get_event_loop().call_later(
                m.backoff * (1 + random.random() / 10), self.put, m)
        else:
            self.c["nacked"] += 1
            self.nacks[code] = self.nacks.get(code, 0) + 1
            self.finish(m)

    def drain(self, conn):
        if not conn.draining:
            conn.draining = True
            self.c["drains"] += 1
            conn.halt()

    def lost(self, conn, reason):
        self.live.discard(conn)
        if self.done.done():
            return
        if not conn.draining:
            self.c["losses"] += 1
        n = len(conn.pending)
        for m in conn.pending.values():
            self.c["resends"] += 1
            self.put(m)
        conn.pending.clear()
        if n or not conn.draining:
            log.info("connection ended (draining=%s, %d unanswered sent again): %s", conn.draining, n, reason)


async def main():
    app = App()
    start = time.monotonic()
    ok = await app.run(600)
    el = time.monotonic() - start
    log.info("scenario=%s messages=%d %s nacks=%s in %.2fs (%.0f acked/s)", app.scenario, len(app.msgs),
             " ".join("%s=%d" % kv for kv in app.c.items()), app.nacks, el, app.c["acked"] / el if el else 0)
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG if os.environ.get("SLIX_DEBUG") == "1" else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    if os.environ.get("SLIX_DEBUG") != "1":
        logging.getLogger("slixmpp").setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sys.exit(loop.run_until_complete(main()))
