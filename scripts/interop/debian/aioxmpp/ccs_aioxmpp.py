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
import collections
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

    def resolve(self, mid):
        """The message mid, answered: out of the window, or None when it
        was not pending here."""
        if mid in self.pending:
            self.answers += 1
            self.window.release()
            return self.pending.pop(mid)
        log.warning("an answer for %r, which is not pending on this connection", mid)
        return None

    def begin_drain(self):
        """CONNECTION_DRAINING: nothing new here; a new connection at once."""
        if not self.draining:
            self.draining = True
            self.app.counts["drains"] += 1
            self.halt()

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


# What a NACK code makes the app do; any other code is final.
NACK_POLICY = {
    "CONNECTION_DRAINING": "move",  # again at once, on another connection
    "SERVICE_UNAVAILABLE": "retry",  # again after a backoff
    "INTERNAL_SERVER_ERROR": "retry",
}


class Ledger:
    """Every message of the run: which go out next (those sent again ahead
    of new ones, new ones at CCS_RATE) and how many have a final answer."""

    def __init__(self, count, rate):
        self.items = [Item(i) for i in range(count)]
        self.rate = rate
        self.again = collections.deque()  # to be sent again, oldest first
        self.fresh = 0  # index of the next new message
        self.final = 0
        self.start = time.monotonic()
        self.changed = asyncio.Event()
        self.complete = asyncio.get_running_loop().create_future()
        if not self.items:
            self.complete.set_result(True)

    def send_again(self, item):
        self.again.append(item)
        self.changed.set()

    def retry_later(self, item):
        item.attempts += 1
        item.backoff = min(2 * item.backoff, 16.0) if item.backoff else 1.0
        asyncio.get_running_loop().call_later(item.backoff * (1 + random.random() / 10), self.send_again, item)

    def settle(self, item):
        item.final = True
        self.final += 1
        if self.final == len(self.items) and not self.complete.done():
            self.complete.set_result(True)

    async def take(self):
        """The next message to send, waiting for one when none is due."""
        while True:
            while self.again:
                item = self.again.popleft()
                if not item.final:
                    return item
            if self.fresh < len(self.items):
                due = self.start + self.fresh / self.rate if self.rate > 0 else 0
                wait = due - time.monotonic()
                if wait <= 0:
                    self.fresh += 1
                    return self.items[self.fresh - 1]
            else:
                wait = None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), wait)
            except asyncio.TimeoutError:
                pass


class App:
    """The CCS logic over any number of Conn: dials, sends, reads answers."""

    def __init__(self, env):
        self.host, self.port = env["CCS_HOST"], int(env["CCS_PORT"])
        self.sender, self.key = env["CCS_SENDER_ID"], env.get("CCS_API_KEY", "")
        self.ca_file = env.get("CCS_CA_FILE", "")
        self.scenario = env.get("CCS_SCENARIO", "")
        self.receipts = env.get("CCS_RECEIPTS") == "1"
        self.nconns = int(env.get("CCS_CONNS", "2"))
        self.ping = float(env.get("AIOXMPP_PING", "0") or 0)
        self.probe = env.get("CCS_PROBE") == "1"
        self.ledger = Ledger(int(env["CCS_MESSAGES"]), float(env.get("CCS_RATE", "0") or 0))
        self.live = set()
        self.counts = collections.Counter()
        self.nacks = collections.Counter()

    def ssl_context(self):
        """aioxmpp's default pyOpenSSL context, trusting the fake's CA too."""
        ctx = aioxmpp.security_layer.default_ssl_context()
        if self.ca_file:
            ctx.load_verify_locations(self.ca_file)
        return ctx

    async def run(self, limit):
        slots = [asyncio.ensure_future(self.keep_connected(n)) for n in range(self.nconns)]
        try:
            await asyncio.wait_for(asyncio.shield(self.ledger.complete), limit)
        except asyncio.TimeoutError:
            log.error("gave up after %ss: %d of %d messages answered", limit,
                      self.ledger.final, len(self.ledger.items))
        for task in slots:
            task.cancel()
        await asyncio.gather(*slots, return_exceptions=True)
        for conn in self.live:
            conn.client.stop()  # aioxmpp ends the stream (</stream:stream>)
        for _ in range(30):
            if not any(conn.client.running for conn in self.live):
                break
            await asyncio.sleep(0.1)
        return self.ledger.complete.done()

    async def keep_connected(self, n):
        """One logical connection: a new Conn after a drain or a loss, at
        once when the last one worked, after a growing pause when not."""
        pause = 0.0
        while not self.ledger.complete.done():
            await asyncio.sleep(pause * (1 + random.random() / 4))
            conn = Conn(self, n)
            self.counts["dials"] += 1
            conn.start()
            try:
                await asyncio.wait_for(asyncio.shield(conn.bound), 15)
            except Exception as e:  # OSError, TLS, SASL and negotiation errors, the timeout
                log.warning("slot %d: %s: %s", n, type(e).__name__, e)
                conn.ended = True
                conn.client.stop()
                pause = min(max(0.5, 2 * pause), 15)
                continue
            self.live.add(conn)
            if self.probe:
                self.probe = False
                conn.send_gcm({"to": "reg-probe", "data": {"probe": "no message_id"}})
                conn.send_gcm('{"to": "reg-probe", not json')
            await self.feed(conn)
            pause = 0.0 if conn.draining or conn.answers else min(max(0.5, 2 * pause), 15)

    async def feed(self, conn):
        """Send on conn while it has room and is neither draining nor over."""
        stopped = asyncio.ensure_future(asyncio.shield(conn.stop))
        try:
            while True:
                room = asyncio.ensure_future(conn.window.acquire())
                await asyncio.wait([room, stopped], return_when=asyncio.FIRST_COMPLETED)
                if conn.stop.done():
                    if room.done() and not room.cancelled():
                        conn.window.release()
                    room.cancel()
                    return
                nxt = asyncio.ensure_future(self.ledger.take())
                await asyncio.wait([nxt, stopped], return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    conn.window.release()
                    return
                item = nxt.result()
                if conn.stop.done():  # stopped is a step behind: its callback may not have run
                    conn.window.release()
                    self.ledger.send_again(item)
                    return
                conn.pending[item.id] = item
                body = {"to": item.reg, "message_id": item.id, "time_to_live": 600,
                        "data": {"n": item.id, "scenario": self.scenario}}
                if self.receipts:
                    body["delivery_receipt_requested"] = True
                conn.send_gcm(body)
        finally:
            stopped.cancel()

    def stanza_error(self, conn, msg, p):
        item = conn.resolve(p["message_id"]) if p.get("message_id") else None
        if item is not None:
            self.counts["stanza_errors"] += 1
            self.ledger.settle(item)
            return
        err = msg.error
        self.counts["probe_errors"] += 1
        log.info("stanza error %s (%s) for a message that is not ours: %.120r",
                 err.condition if err is not None else None, err.text if err is not None else "", msg.gcm.text)

    def handle(self, conn, p):
        kind = p.get("message_type")
        if kind in (None, "receipt"):
            # An upstream message or a receipt: its ACK goes out at once,
            # window or not, with the receipt's own id.
            conn.send_gcm({"message_type": "ack", "to": p.get("from"), "message_id": p.get("message_id")})
            self.counts["receipts_acked" if kind else "upstream_acked"] += 1
        elif kind == "ack":
            item = conn.resolve(p.get("message_id"))
            if item is not None:
                self.counts["acked"] += 1
                self.ledger.settle(item)
        elif kind == "nack":
            code = p.get("error", "").replace(":", " ").split(" ")[0]
            action = NACK_POLICY.get(code, "final")
            if action == "move":
                conn.begin_drain()
            item = conn.resolve(p.get("message_id"))
            if item is None:
                return
            if action == "retry" and item.attempts < MAX_RETRIES:
                self.counts["retries"] += 1
                self.ledger.retry_later(item)
            elif action == "move":
                self.counts["resends"] += 1
                self.ledger.send_again(item)
            else:
                self.counts["nacked"] += 1
                self.nacks[code] += 1
                self.ledger.settle(item)
        elif kind == "control" and p.get("control_type") == "CONNECTION_DRAINING":
            conn.begin_drain()

    def lost(self, conn, why):
        self.live.discard(conn)
        if self.ledger.complete.done():
            return
        if not conn.draining:
            self.counts["losses"] += 1
        left = list(conn.pending.values())
        conn.pending.clear()
        for item in left:
            self.ledger.send_again(item)
        self.counts["resends"] += len(left)
        if left or not conn.draining:
            log.info("connection over (draining=%s; %d unanswered go out again): %s", conn.draining, len(left), why)


async def main():
    app = App(os.environ)
    began = time.monotonic()
    ok = await app.run(600)
    took = time.monotonic() - began
    log.info("scenario=%s messages=%d %s nacks=%s in %.2fs (%.0f acked/s)", app.scenario, len(app.ledger.items),
             " ".join("%s=%d" % kv for kv in sorted(app.counts.items())), dict(app.nacks), took,
             app.counts["acked"] / took if took else 0)
    return 0 if ok else 1


if __name__ == "__main__":
    debug = os.environ.get("AIOXMPP_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    if not debug:
        for name in ("aioxmpp", "aiosasl", "aioopenssl"):
            logging.getLogger(name).setLevel(logging.WARNING)
    sys.exit(asyncio.run(main()))
