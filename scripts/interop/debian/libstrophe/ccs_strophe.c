/*
 * A CCS app server on libstrophe, run as `ccsbench judge -- ./ccs_strophe`.
 *
 * libstrophe (Debian's libstrophe-dev) opens the stream over TLS from the
 * first byte (XMPP_CONN_FLAG_LEGACY_SSL), checks the certificate against
 * CCS_CA_FILE and the JID's domain, and does SASL PLAIN, the bind and the
 * session. Messages are built with libstrophe's stanza API (a <gcm
 * xmlns="google:mobile:data"> child whose text is the JSON), and read back
 * by namespace; the JSON is read with Debian's libjansson.
 *
 * On top of that, the app does what a CCS app server must: at most 100
 * messages unanswered per connection, an ACK for every upstream message and
 * delivery receipt (with the receipt's own "dr2:" id), a new connection at
 * once on CONNECTION_DRAINING while the old one is still read, every
 * unanswered message sent again when a connection is lost, and
 * SERVICE_UNAVAILABLE / INTERNAL_SERVER_ERROR retried after a backoff
 * doubling from one second.
 *
 * The contract is the judge's environment: CCS_HOST, CCS_PORT,
 * CCS_SENDER_ID, CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_RATE,
 * CCS_RECEIPTS, CCS_SCENARIO. CCS_CONNS sets the connections held (default
 * 4); STROPHE_DEBUG=1 logs libstrophe's wire trace (SASL included: only with
 * a test key). CCS_PROBE=1 first sends one message without a message_id and
 * one that is not JSON, which the fake answers with stanza errors.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <time.h>

#define GCM_NS "google:mobile:data"
#define WINDOW 100
#define MAX_RETRIES 6

enum { QUEUED, PENDING, FINAL, WAITING };

struct item {
	int state, attempts, conn; /* conn: the id of the connection it is pending on */
	double backoff, due;       /* due: when a retry goes out (seconds, monotonic) */
};

struct cconn {
	xmpp_conn_t *x;
	int id, slot, bound, draining, ended, answers, pending, released;
	struct cconn *next;
};

static struct {
	const char *host, *sender, *key, *ca, *scenario;
	unsigned short port;
	int n, nconns, receipts, probe;
	double rate, start;
	xmpp_ctx_t *ctx;
	struct item *items;
	int *resend, rhead, rtail; /* ring of indexes to send again, ahead of new ones */
	int next_new, finals, dials, next_id;
	struct cconn *conns;   /* every connection not yet released */
	struct cconn **cur;    /* per slot: the connection new messages go to */
	double *redial_at;     /* per slot: when to dial (0: no dial due) */
	double *slot_backoff;
	long acked, nacked, stanza_errors, probe_errors, retries, resends, drains, losses,
	    upstream_acked, receipts_acked;
} app;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void logf_(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ccs_strophe [%s] %.3f ", app.scenario, now() - app.start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static void put_resend(int i)
{
	app.items[i].state = QUEUED;
	app.resend[app.rtail] = i;
	app.rtail = (app.rtail + 1) % (app.n + 1);
}

/* send_gcm writes <message><gcm xmlns="google:mobile:data">text</gcm></message>
 * with libstrophe's stanza API, which escapes the text. */
static void send_gcm(struct cconn *c, const char *text)
{
	xmpp_stanza_t *msg = xmpp_message_new(app.ctx, NULL, NULL, NULL);
	xmpp_stanza_t *gcm = xmpp_stanza_new(app.ctx);
	xmpp_stanza_t *body = xmpp_stanza_new(app.ctx);
	xmpp_stanza_set_name(gcm, "gcm");
	xmpp_stanza_set_ns(gcm, GCM_NS);
	xmpp_stanza_set_text(body, text);
	xmpp_stanza_add_child(gcm, body);
	xmpp_stanza_add_child(msg, gcm);
	xmpp_send(c->x, msg);
	xmpp_stanza_release(body);
	xmpp_stanza_release(gcm);
	xmpp_stanza_release(msg);
}

static void send_json(struct cconn *c, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	send_gcm(c, text);
	free(text);
	json_decref(j);
}

static void send_item(struct cconn *c, int i)
{
	char id[32], reg[32];
	snprintf(id, sizeof id, "m%d", i);
	snprintf(reg, sizeof reg, "reg-%07d", i);
	json_t *j = json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "to", reg, "message_id", id,
	                      "time_to_live", 600, "data", "n", id, "scenario", app.scenario);
	if (app.receipts)
		json_object_set_new(j, "delivery_receipt_requested", json_true());
	app.items[i].state = PENDING;
	app.items[i].conn = c->id;
	c->pending++;
	send_json(c, j);
}

static void finish(int i)
{
	app.items[i].state = FINAL;
	app.finals++;
}

/* answer resolves the message with id mid pending on c; -1 when it is not. */
static int answer(struct cconn *c, const char *mid)
{
	int i;
	char end;
	if (!mid || sscanf(mid, "m%d%c", &i, &end) != 1 || i < 0 || i >= app.n ||
	    app.items[i].state != PENDING || app.items[i].conn != c->id) {
		logf_("answer for \"%s\", which is not pending here", mid ? mid : "(none)");
		return -1;
	}
	c->pending--;
	c->answers++;
	return i;
}

static void drain(struct cconn *c)
{
	if (c->draining)
		return;
	c->draining = 1;
	app.drains++;
	if (app.cur[c->slot] == c)
		app.redial_at[c->slot] = now(); /* a parallel connection at once */
}

static void on_nack(struct cconn *c, json_t *p)
{
	const char *err = json_string_value(json_object_get(p, "error"));
	char code[64] = "";
	if (err)
		sscanf(err, "%63[^: ]", code);
	if (!strcmp(code, "CONNECTION_DRAINING"))
		drain(c);
	int i = answer(c, json_string_value(json_object_get(p, "message_id")));
	if (i < 0)
		return;
	struct item *it = &app.items[i];
	if (!strcmp(code, "CONNECTION_DRAINING")) {
		app.resends++;
		put_resend(i);
	} else if ((!strcmp(code, "SERVICE_UNAVAILABLE") || !strcmp(code, "INTERNAL_SERVER_ERROR")) &&
	           it->attempts < MAX_RETRIES) {
		it->attempts++;
		it->backoff = it->backoff == 0 ? 1 : (it->backoff * 2 > 16 ? 16 : it->backoff * 2);
		it->due = now() + it->backoff * (1 + (rand() % 100) / 1000.0);
		it->state = WAITING;
		app.retries++;
	} else {
		app.nacked++;
		finish(i);
	}
}

static int on_message(xmpp_conn_t *x, xmpp_stanza_t *st, void *ud)
{
	struct cconn *c = ud;
	(void)x;
	xmpp_stanza_t *gcm = xmpp_stanza_get_child_by_name_and_ns(st, "gcm", GCM_NS);
	if (!gcm)
		return 1;
	char *text = xmpp_stanza_get_text(gcm);
	json_error_t jerr;
	json_t *p = text ? json_loads(text, 0, &jerr) : NULL;
	const char *type = xmpp_stanza_get_type(st);
	if (type && !strcmp(type, "error")) {
		/* A stanza error echoes the payload that caused it. */
		int i = -1;
		const char *mid = json_string_value(json_object_get(p, "message_id"));
		if (mid)
			i = answer(c, mid);
		if (i >= 0) {
			app.stanza_errors++;
			finish(i);
		} else {
			xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error");
			xmpp_stanza_t *cond = e ? xmpp_stanza_get_children(e) : NULL;
			app.probe_errors++;
			logf_("stanza error %s for a message that is not ours: %.120s",
			      cond ? xmpp_stanza_get_name(cond) : "?", text ? text : "");
		}
	} else if (!p || !json_is_object(p)) {
		logf_("unreadable gcm payload: %.200s", text ? text : "");
	} else {
		const char *kind = json_string_value(json_object_get(p, "message_type"));
		if (!kind || !strcmp(kind, "receipt")) {
			/* Upstream messages and receipts: ACK at once, whatever the window. */
			send_json(c, json_pack("{s:s, s:O?, s:O?}", "message_type", "ack", "to",
			                       json_object_get(p, "from"), "message_id",
			                       json_object_get(p, "message_id")));
			if (kind)
				app.receipts_acked++;
			else
				app.upstream_acked++;
		} else if (!strcmp(kind, "ack")) {
			int i = answer(c, json_string_value(json_object_get(p, "message_id")));
			if (i >= 0) {
				app.acked++;
				finish(i);
			}
		} else if (!strcmp(kind, "nack")) {
			on_nack(c, p);
		} else if (!strcmp(kind, "control")) {
			const char *ct = json_string_value(json_object_get(p, "control_type"));
			if (ct && !strcmp(ct, "CONNECTION_DRAINING"))
				drain(c);
		}
	}
	json_decref(p);
	xmpp_free(app.ctx, text);
	return 1;
}

static void on_conn(xmpp_conn_t *x, xmpp_conn_event_t status, int error,
                    xmpp_stream_error_t *serr, void *ud)
{
	struct cconn *c = ud;
	(void)x;
	if (status == XMPP_CONN_CONNECT) {
		c->bound = 1;
		app.slot_backoff[c->slot] = 0;
		if (app.probe) {
			app.probe = 0;
			send_gcm(c, "{\"to\":\"reg-probe\",\"data\":{\"probe\":\"no message_id\"}}");
			send_gcm(c, "{\"to\": \"reg-probe\", not json");
		}
		return;
	}
	if (status != XMPP_CONN_DISCONNECT && status != XMPP_CONN_FAIL)
		return;
	if (c->ended)
		return;
	c->ended = 1;
	int n = 0;
	for (int i = 0; i < app.n; i++)
		if (app.items[i].state == PENDING && app.items[i].conn == c->id) {
			put_resend(i);
			app.resends++;
			n++;
		}
	c->pending = 0;
	if (app.finals == app.n)
		return;
	if (!c->draining && c->bound)
		app.losses++;
	if (n || !c->draining)
		logf_("connection %d ended (bound=%d draining=%d error=%d%s%s, %d unanswered sent again)",
		      c->id, c->bound, c->draining, error, serr ? " stream error " : "",
		      serr && serr->text ? serr->text : "", n);
	if (app.cur[c->slot] == c) {
		/* At once after a connection that worked, else back off. */
		double b = app.slot_backoff[c->slot];
		if (c->answers || c->draining)
			b = 0;
		else
			b = b < 0.5 ? 0.5 : (b * 2 > 15 ? 15 : b * 2);
		app.slot_backoff[c->slot] = b;
		app.redial_at[c->slot] = now() + b * (1 + (rand() % 250) / 1000.0);
	}
}

static void dial(int slot)
{
	struct cconn *c = calloc(1, sizeof *c);
	char jid[256];
	c->id = ++app.next_id;
	c->slot = slot;
	c->x = xmpp_conn_new(app.ctx);
	snprintf(jid, sizeof jid, "%s@gcm.googleapis.com", app.sender);
	xmpp_conn_set_jid(c->x, jid);
	xmpp_conn_set_pass(c->x, app.key);
	if (app.ca)
		xmpp_conn_set_cafile(c->x, app.ca);
	/* TLS from the first byte; no stream management (CCS offers none). */
	xmpp_conn_set_flags(c->x, XMPP_CONN_FLAG_LEGACY_SSL | XMPP_CONN_FLAG_DISABLE_SM);
	xmpp_handler_add(c->x, on_message, NULL, "message", NULL, c);
	app.dials++;
	c->next = app.conns;
	app.conns = c;
	app.cur[slot] = c;
	app.redial_at[slot] = 0;
	if (xmpp_connect_client(c->x, app.host, app.port, on_conn, c) != XMPP_EOK) {
		logf_("slot %d: xmpp_connect_client failed", slot);
		on_conn(c->x, XMPP_CONN_FAIL, ECONNREFUSED, NULL, c);
	}
}

/* reap releases the connections that have ended (never inside a handler). */
static void reap(void)
{
	for (struct cconn **pp = &app.conns; *pp;) {
		struct cconn *c = *pp;
		if (c->ended) {
			*pp = c->next;
			xmpp_conn_release(c->x);
			if (app.cur[c->slot] == c)
				app.cur[c->slot] = NULL;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

static void pump(void)
{
	double t = now();
	for (int i = 0; i < app.n; i++)
		if (app.items[i].state == WAITING && app.items[i].due <= t)
			put_resend(i);
	for (int s = 0; s < app.nconns; s++) {
		if (app.redial_at[s] > 0 && app.redial_at[s] <= t)
			dial(s);
		struct cconn *c = app.cur[s];
		if (!c || !c->bound || c->draining || c->ended)
			continue;
		while (c->pending < WINDOW) {
			int i;
			if (app.rhead != app.rtail) {
				i = app.resend[app.rhead];
				app.rhead = (app.rhead + 1) % (app.n + 1);
				if (app.items[i].state != QUEUED)
					continue;
			} else if (app.next_new < app.n &&
			           (app.rate <= 0 || app.next_new <= (t - app.start) * app.rate)) {
				i = app.next_new++;
			} else {
				break;
			}
			send_item(c, i);
		}
	}
}

int main(void)
{
	app.host = env("CCS_HOST", "127.0.0.1");
	app.port = (unsigned short)atoi(env("CCS_PORT", "5235"));
	app.sender = env("CCS_SENDER_ID", "123456789012");
	app.key = env("CCS_API_KEY", "");
	app.ca = getenv("CCS_CA_FILE");
	app.scenario = env("CCS_SCENARIO", "");
	app.n = atoi(env("CCS_MESSAGES", "0"));
	app.rate = atof(env("CCS_RATE", "0"));
	app.receipts = !strcmp(env("CCS_RECEIPTS", "0"), "1");
	app.nconns = atoi(env("CCS_CONNS", "4"));
	app.probe = !strcmp(env("CCS_PROBE", "0"), "1");
	app.start = now();
	/* libstrophe writes with plain write()/SSL_write(): a write to a
	 * connection the server has closed (a drop, a drained stream) raises
	 * SIGPIPE, which would kill the app. */
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL));
	if (app.n <= 0)
		return 0;
	if (app.nconns < 1)
		app.nconns = 1;
	app.items = calloc(app.n, sizeof *app.items);
	app.resend = calloc(app.n + 1, sizeof *app.resend);
	app.cur = calloc(app.nconns, sizeof *app.cur);
	app.redial_at = calloc(app.nconns, sizeof *app.redial_at);
	app.slot_backoff = calloc(app.nconns, sizeof *app.slot_backoff);

	xmpp_initialize();
	xmpp_log_t *lg = !strcmp(env("STROPHE_DEBUG", "0"), "1") ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG)
	                                                         : xmpp_get_default_logger(XMPP_LEVEL_WARN);
	app.ctx = xmpp_ctx_new(NULL, lg);
	for (int s = 0; s < app.nconns; s++)
		dial(s);
	double deadline = app.start + 600;
	while (app.finals < app.n && now() < deadline) {
		pump();
		xmpp_run_once(app.ctx, 1);
		reap();
	}
	int ok = app.finals == app.n;
	if (!ok)
		logf_("gave up with %d of %d messages answered", app.finals, app.n);
	/* End every stream (</stream:stream>) and wait a little for the server's end. */
	for (struct cconn *c = app.conns; c; c = c->next)
		if (!c->ended)
			xmpp_disconnect(c->x);
	for (double t = now() + 3; now() < t;) {
		int open = 0;
		for (struct cconn *c = app.conns; c; c = c->next)
			open += !c->ended;
		if (!open)
			break;
		xmpp_run_once(app.ctx, 10);
	}
	double el = now() - app.start;
	logf_("messages=%d acked=%ld nacked=%ld stanza_errors=%ld probe_errors=%ld retries=%ld "
	      "resends=%ld drains=%ld losses=%ld dials=%d upstream_acked=%ld receipts_acked=%ld "
	      "in %.2fs (%.0f acked/s)",
	      app.n, app.acked, app.nacked, app.stanza_errors, app.probe_errors, app.retries, app.resends,
	      app.drains, app.losses, app.dials, app.upstream_acked, app.receipts_acked, el,
	      el > 0 ? app.acked / el : 0);
	for (struct cconn *c = app.conns; c; c = c->next)
		c->ended = 1;
	reap();
	xmpp_ctx_free(app.ctx);
	xmpp_shutdown();
	return ok ? 0 : 1;
}
