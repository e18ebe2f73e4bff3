/* faults.c: the fault-injection admin API, under /_devcluster/ on the
 * server's own port and guarded by the same bearer token (so it is as local
 * as the API itself). Every endpoint is a POST with query parameters, so
 * curl drives it as easily as a C test:
 *
 *   POST /_devcluster/close-watches              end every open watch now
 *   POST /_devcluster/fail?code=429&count=N[&retryAfter=S]
 *                                                the next N requests fail (429, 500 or 504)
 *   POST /_devcluster/delay?ms=N                 delay every response by N ms (0: off)
 *   POST /_devcluster/expire-history             forget the event history (watches get 410)
 *   POST /_devcluster/stall-watches?on=true|false  stop/resume sending on watches, kept open
 *   POST /_devcluster/corrupt-watches?mode=truncate|garbage|oversize|empty&count=N[&bytes=B]
 *                                                spoil the next N watch streams (see devcluster.h)
 *   POST /_devcluster/streaming-lists?mode=on|reject|ignore
 *                                                act as a server without streaming lists
 *   POST /_devcluster/restart                    restart on the same port and data dir
 *   POST /_devcluster/reset                      clear every fault
 *   GET  /_devcluster/status                     counters, as JSON
 */
#include "apiserver.h"

#include <openssl/crypto.h>

#include <stdlib.h>
#include <string.h>

void dc_faults_close_watches(dc_store *s)
{
	pthread_mutex_lock(&s->mu);
	s->watch_epoch++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

void dc_faults_stall_watches(dc_store *s, bool on)
{
	pthread_mutex_lock(&s->mu);
	s->stall_watches = on;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

bool dc_faults_take(dc_server *srv, dc_resp *rs)
{
	int code = 0, ra = 0;
	pthread_mutex_lock(&srv->faults.mu);
	if (srv->faults.fail_left > 0) {
		srv->faults.fail_left--;
		code = srv->faults.fail_code;
		ra = srv->faults.retry_after;
	}
	pthread_mutex_unlock(&srv->faults.mu);
	if (!code)
		return false;
	if (code == 429) {
		json_t *st = dc_status(429, "TooManyRequests", "Too many requests, please try again later.", NULL, NULL, NULL);
		json_object_set_new(st, "details", json_pack("{s:i}", "retryAfterSeconds", ra ? ra : 1));
		rs->retry_after = ra ? ra : 1;
		dc_resp_status(rs, st);
	} else if (code == 504) {
		rs->retry_after = ra;
		dc_resp_error(rs, 504, "Timeout", "the server was unable to return a response in the time allotted (injected fault)");
	} else {
		rs->retry_after = ra;
		dc_resp_error(rs, 500, "InternalError", "Internal error occurred: injected fault");
	}
	return true;
}

dc_corrupt dc_faults_take_corrupt(dc_server *srv, size_t *bytes)
{
	dc_corrupt c = DC_CORRUPT_NONE;
	pthread_mutex_lock(&srv->faults.mu);
	if (srv->faults.corrupt_left > 0) {
		srv->faults.corrupt_left--;
		c = srv->faults.corrupt;
		*bytes = srv->faults.corrupt_bytes;
	}
	pthread_mutex_unlock(&srv->faults.mu);
	return c;
}

int dc_faults_streaming_lists(dc_server *srv)
{
	int m;
	pthread_mutex_lock(&srv->faults.mu);
	m = srv->faults.no_streaming_lists;
	pthread_mutex_unlock(&srv->faults.mu);
	return m;
}

unsigned dc_faults_delay(dc_server *srv)
{
	unsigned d;
	pthread_mutex_lock(&srv->faults.mu);
	d = srv->faults.delay_ms;
	pthread_mutex_unlock(&srv->faults.mu);
	return d;
}

static bool num(const dc_req *rq, const char *key, uint64_t *out, uint64_t max)
{
	const char *v = dc_req_query(rq, key);
	return v && dc_parse_rv(v, out) && *out <= max;
}

static void ok(dc_resp *rs, int code, const char *what)
{
	dc_resp_json(rs, code, json_pack("{s:s}", "status", what));
}

static void status(dc_server *srv, dc_resp *rs)
{
	dc_store *s = srv->store;
	json_t *j;
	size_t i, objects = 0;
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->ncolls; i++)
		objects += s->colls[i]->n;
	pthread_mutex_lock(&srv->faults.mu);
	j = json_pack("{s:I,s:I,s:i,s:I,s:I,s:b,s:{s:i,s:i,s:i},s:I}",
		"resourceVersion", (json_int_t)s->rv, "compactedResourceVersion", (json_int_t)s->compacted_rv,
		"watchers", s->nwatchers, "objects", (json_int_t)objects, "history", (json_int_t)s->ring_len,
		"watchesStalled", s->stall_watches,
		"fail", "code", srv->faults.fail_code, "left", srv->faults.fail_left, "delayMs", (int)srv->faults.delay_ms,
		"restarts", (json_int_t)__atomic_load_n(&srv->restarts, __ATOMIC_RELAXED));
	pthread_mutex_unlock(&srv->faults.mu);
	pthread_mutex_unlock(&s->mu);
	dc_resp_json(rs, 200, j);
}

void dc_faults_handle(dc_req *rq, dc_resp *rs)
{
	dc_server *srv = rq->srv;
	const char *what = rq->nsegs == 2 ? rq->segs[1] : "";
	bool post = !strcmp(rq->method, "POST");
	uint64_t a, b;

	if (!strcmp(what, "status") && !strcmp(rq->method, "GET")) {
		status(srv, rs);
		return;
	}
	if (!post) {
		dc_resp_error(rs, 405, "MethodNotAllowed", "admin endpoints take POST (GET /_devcluster/status)");
		return;
	}
	if (!strcmp(what, "client-cert")) {
		/* ?user=NAME&group=G1,G2: a client certificate (CN=NAME, O=each
		 * group) signed by this server's CA, and its key */
		const char *user = dc_req_query(rq, "user"), *gq = dc_req_query(rq, "group");
		const char *groups[32];
		char *gcopy = gq ? strdup(gq) : NULL, *save = NULL, *g, *cert = NULL, *key = NULL;
		size_t ng = 0;
		for (g = gcopy ? strtok_r(gcopy, ",", &save) : NULL; g && ng < 32; g = strtok_r(NULL, ",", &save))
			groups[ng++] = g;
		if (!user || !*user || strlen(user) > 256) {
			dc_resp_error(rs, 400, "BadRequest", "client-cert needs user=NAME (and group=G1,G2...)");
		} else if (dc_tls_client_cert(&srv->tls, user, groups, ng, &cert, &key) != 0) {
			dc_resp_error(rs, 400, "BadRequest", "%s", peerop_error_last()->message);
		} else {
			dc_resp_json(rs, 201, json_pack("{s:s,s:s}", "certificate", cert, "key", key));
			OPENSSL_cleanse(key, strlen(key));
		}
		free(cert);
		free(key);
		free(gcopy);
	} else if (!strcmp(what, "close-watches")) {
		dc_faults_close_watches(srv->store);
		ok(rs, 200, "watches closed");
	} else if (!strcmp(what, "fail")) {
		if (!num(rq, "code", &a, 999) || (a != 429 && a != 500 && a != 504) || !num(rq, "count", &b, 1000000)) {
			dc_resp_error(rs, 400, "BadRequest", "fail needs code=429|500|504 and count=N");
			return;
		}
		pthread_mutex_lock(&srv->faults.mu);
		srv->faults.fail_code = (int)a;
		srv->faults.fail_left = (int)b;
		srv->faults.retry_after = num(rq, "retryAfter", &a, 3600) ? (int)a : 0;
		pthread_mutex_unlock(&srv->faults.mu);
		ok(rs, 200, "armed");
	} else if (!strcmp(what, "delay")) {
		if (!num(rq, "ms", &a, 600000)) {
			dc_resp_error(rs, 400, "BadRequest", "delay needs ms=N (0..600000)");
			return;
		}
		pthread_mutex_lock(&srv->faults.mu);
		srv->faults.delay_ms = (unsigned)a;
		pthread_mutex_unlock(&srv->faults.mu);
		ok(rs, 200, "delay set");
	} else if (!strcmp(what, "expire-history")) {
		pthread_mutex_lock(&srv->store->mu);
		dc_store_expire_history(srv->store);
		pthread_mutex_unlock(&srv->store->mu);
		ok(rs, 200, "history expired");
	} else if (!strcmp(what, "stall-watches")) {
		const char *on = dc_req_query(rq, "on");
		dc_faults_stall_watches(srv->store, !on || !strcmp(on, "true") || !strcmp(on, "1"));
		ok(rs, 200, "ok");
	} else if (!strcmp(what, "corrupt-watches")) {
		static const struct { const char *name; dc_corrupt mode; } modes[] = {
			{ "truncate", DC_CORRUPT_TRUNCATE }, { "garbage", DC_CORRUPT_GARBAGE },
			{ "oversize", DC_CORRUPT_OVERSIZE }, { "empty", DC_CORRUPT_EMPTY },
		};
		const char *mode = dc_req_query(rq, "mode");
		dc_corrupt m = DC_CORRUPT_NONE;
		size_t i;
		for (i = 0; mode && i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(mode, modes[i].name))
				m = modes[i].mode;
		if (m == DC_CORRUPT_NONE || !num(rq, "count", &a, 1000000)) {
			dc_resp_error(rs, 400, "BadRequest",
				"corrupt-watches needs mode=truncate|garbage|oversize|empty and count=N");
			return;
		}
		pthread_mutex_lock(&srv->faults.mu);
		srv->faults.corrupt = m;
		srv->faults.corrupt_left = (int)a;
		srv->faults.corrupt_bytes = num(rq, "bytes", &b, (uint64_t)256 << 20) ? (size_t)b : (size_t)17 << 20;
		pthread_mutex_unlock(&srv->faults.mu);
		ok(rs, 200, "armed");
	} else if (!strcmp(what, "streaming-lists")) {
		const char *mode = dc_req_query(rq, "mode");
		int m = !mode ? -1 : !strcmp(mode, "on") ? 0 : !strcmp(mode, "reject") ? 1 : !strcmp(mode, "ignore") ? 2 : -1;
		if (m < 0) {
			dc_resp_error(rs, 400, "BadRequest", "streaming-lists needs mode=on|reject|ignore");
			return;
		}
		pthread_mutex_lock(&srv->faults.mu);
		srv->faults.no_streaming_lists = m;
		pthread_mutex_unlock(&srv->faults.mu);
		ok(rs, 200, "ok");
	} else if (!strcmp(what, "restart")) {
		/* done after this reply is sent: see on_completed in server.c */
		ok(rs, 202, "restarting");
	} else if (!strcmp(what, "reset")) {
		pthread_mutex_lock(&srv->faults.mu);
		srv->faults.fail_left = 0;
		srv->faults.fail_code = 0;
		srv->faults.delay_ms = 0;
		srv->faults.corrupt_left = 0;
		srv->faults.corrupt = DC_CORRUPT_NONE;
		srv->faults.no_streaming_lists = 0;
		pthread_mutex_unlock(&srv->faults.mu);
		dc_faults_stall_watches(srv->store, false);
		ok(rs, 200, "reset");
	} else {
		dc_resp_error(rs, 404, "NotFound", "unknown admin endpoint /_devcluster/%s", what);
	}
}
