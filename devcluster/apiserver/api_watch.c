/* api_watch.c: WATCH, streamed as chunked JSON lines.
 *
 * Threading: the server runs libmicrohttpd with one thread per connection,
 * so a watch's content reader may block: it waits on the store's condition
 * variable until there is something to send, a bookmark is due, the watch
 * times out, or the server stops. That keeps a watch a simple loop and
 * needs no suspend/resume bookkeeping; a few hundred watches cost a few
 * hundred mostly idle threads, which is fine for a development server.
 *
 * A watch reads the shared event history through a cursor (see store.c):
 * writers never wait for it. A watch that falls behind the history (a
 * stalled or slow client) gets the in-stream 410 Expired ERROR and ends. */
#include "apiserver.h"

#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES (256u * 1024u)
#define BATCH_INITIAL 512u

typedef struct watch {
	dc_server *srv;
	dc_store *s;
	/* a private copy of the type: a CRD's types go when it is deleted, and
	 * the watch still delivers the deletions before it ends */
	dc_rtype *rt;
	dc_coll *coll;             /* collections live as long as the store */
	char *ns;                 /* NULL: all namespaces */
	char *name;               /* legacy /watch/.../name, or NULL */
	dc_selector *lsel, *fsel;
	uint64_t cursor;          /* every event with rv <= cursor has been considered */
	dc_obj **initial;
	size_t ninitial, initial_pos;
	bool initial_end;         /* send the initial-events-end bookmark after them */
	bool bookmarks;
	uint64_t deadline_ms;
	uint64_t bookmark_ms;     /* interval */
	uint64_t next_bookmark;
	uint64_t epoch;
	peerop__buf out;
	size_t out_off;
	bool finished;
	int fd;
	dc_corrupt corrupt;       /* an injected fault, applied to the first output */
	size_t corrupt_bytes;
	bool drop;                /* end by dropping the connection, not the stream */
	bool table;               /* events carry one-row meta.k8s.io Tables (kubectl get -w) */
	bool table_headers_sent;  /* only the first carries the column definitions */
	dc_include include;
} watch;

static void watch_free(void *cls)
{
	watch *w = cls;
	size_t i;
	if (!w)
		return;
	pthread_mutex_lock(&w->s->mu);
	w->s->nwatchers--;
	pthread_mutex_unlock(&w->s->mu);
	for (i = w->initial_pos; i < w->ninitial; i++)
		dc_obj_unref(w->initial[i]);
	free(w->initial);
	dc_rtype_free(w->rt);
	free(w->ns);
	free(w->name);
	dc_selector_free(w->lsel);
	dc_selector_free(w->fsel);
	peerop__buf_dispose(&w->out);
	free(w);
}

static bool matches(const watch *w, const dc_rtype *rt, const dc_obj *o)
{
	if (w->name && strcmp(o->name, w->name))
		return false;
	return dc_obj_matches(rt, o, w->ns, w->lsel, w->fsel);
}

static void put_event(watch *w, const dc_rtype *rt, const char *type, const dc_obj *o)
{
	peerop__buf_printf(&w->out, "{\"type\":\"%s\",\"object\":", type);
	if (w->table) {
		char rv[32];
		json_t *meta;
		snprintf(rv, sizeof(rv), "%llu", (unsigned long long)o->rv);
		meta = json_pack("{s:s}", "resourceVersion", rv);
		dc_table_render(&w->out, rt, (dc_obj *const *)&o, 1, w->include, !w->table_headers_sent, meta);
		w->table_headers_sent = true;
		json_decref(meta);
	} else {
		dc_rtype_render(rt, o, &w->out);
	}
	peerop__buf_puts(&w->out, "}\n");
}

static void put_bookmark(watch *w, const dc_rtype *rt, uint64_t rv, bool initial_end)
{
	/* a Table watch gets an empty Table: only its resourceVersion counts */
	peerop__buf_printf(&w->out, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
		"\"metadata\":{\"resourceVersion\":\"%llu\"%s}%s}}\n", w->table ? "Table" : rt->kind,
		w->table ? "meta.k8s.io/v1" : rt->api_version, (unsigned long long)rv,
		initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "",
		w->table ? ",\"columnDefinitions\":[],\"rows\":[]" : "");
}

static void put_expired(watch *w, uint64_t rv, uint64_t oldest)
{
	peerop__buf_printf(&w->out, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		"\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: %llu (%llu)\","
		"\"reason\":\"Expired\",\"code\":410}}\n", (unsigned long long)rv, (unsigned long long)oldest);
}

/* An object that stopped matching is reported as DELETED: its previous
 * state, carrying the resourceVersion of the change (as the real cache). */
static void put_deleted_prev(watch *w, const dc_rtype *rt, const dc_obj *prev, uint64_t rv)
{
	json_t *o = dc_obj_parse(prev);
	char rvs[32];
	dc_obj *tmp;
	if (!o)
		return;
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
	json_object_set_new(dc_json_meta(o), "resourceVersion", json_string(rvs));
	if (w->table) {
		if ((tmp = dc_obj_new(o, rv)) != NULL)
			put_event(w, rt, "DELETED", tmp);
		dc_obj_unref(tmp);
		json_decref(o);
		return;
	}
	peerop__buf_puts(&w->out, "{\"type\":\"DELETED\",\"object\":");
	dc_rtype_render_json(rt, o, &w->out);
	peerop__buf_puts(&w->out, "}\n");
}

/* Produce the next output with the lock held. */
static void fill(watch *w)
{
	dc_store *s = w->s;
	const dc_rtype *rt = w->rt;
	uint64_t now = peerop__now_ms();

	if (s->stopping || w->epoch != s->watch_epoch) {
		w->finished = true;
		return;
	}
	if (s->stall_watches)
		return;
	if (w->initial_pos < w->ninitial) {
		size_t n = 0;
		while (w->initial_pos < w->ninitial && n++ < BATCH_INITIAL && w->out.len < BATCH_BYTES) {
			dc_obj *o = w->initial[w->initial_pos++];
			put_event(w, rt, "ADDED", o);
			dc_obj_unref(o);
		}
		if (w->initial_pos < w->ninitial)
			return;
	}
	if (w->initial_end) {
		put_bookmark(w, rt, w->cursor, true);
		w->initial_end = false;
		return;
	}
	if (w->cursor < s->compacted_rv) {
		put_expired(w, w->cursor, s->compacted_rv + 1);
		w->finished = true;
		return;
	}
	while (w->cursor < s->rv && w->out.len < BATCH_BYTES) {
		const dc_event *ev = dc_store_event(s, w->cursor + 1);
		w->cursor++;
		if (!ev || ev->coll != w->coll)
			continue;
		if (ev->type == DC_EV_ADDED) {
			if (matches(w, rt, ev->obj))
				put_event(w, rt, "ADDED", ev->obj);
		} else if (ev->type == DC_EV_DELETED) {
			if (matches(w, rt, ev->obj))
				put_event(w, rt, "DELETED", ev->obj);
		} else {
			bool was = ev->old && matches(w, rt, ev->old), is = matches(w, rt, ev->obj);
			if (was && is)
				put_event(w, rt, "MODIFIED", ev->obj);
			else if (is)
				put_event(w, rt, "ADDED", ev->obj);
			else if (was)
				put_deleted_prev(w, rt, ev->old, ev->rv);
		}
	}
	if (w->out.len > 0)
		return;
	/* its CRD was deleted: every deletion has been delivered above */
	if (!w->coll->active || now >= w->deadline_ms) {
		w->finished = true;
		return;
	}
	if (w->bookmarks && now >= w->next_bookmark) {
		put_bookmark(w, rt, w->cursor, false);
		w->next_bookmark = now + w->bookmark_ms;
	}
}

/* Fault injection: spoil the first output of a watch (see dc_corrupt).
 * Returns true when the stream ends after what is left in w->out. */
static bool spoil(watch *w)
{
	peerop__buf pre = PEEROP__BUF_INIT;
	dc_corrupt c = w->corrupt;
	char *nl;

	w->corrupt = DC_CORRUPT_NONE;
	switch (c) {
	case DC_CORRUPT_TRUNCATE:
		nl = memchr(w->out.ptr, '\n', w->out.len);
		w->out.len = (size_t)((nl ? nl : w->out.ptr + w->out.len) - w->out.ptr) / 2;
		w->finished = true;
		w->drop = true;
		return true;
	case DC_CORRUPT_GARBAGE:
		peerop__buf_puts(&pre, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\n");
		break;
	case DC_CORRUPT_OVERSIZE: {
		/* A valid bookmark at the watch's own position: harmless to a client
		 * that accepts it, over the limit of one that should not. */
		size_t pad = w->corrupt_bytes;
		peerop__buf_printf(&pre, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
			"\"metadata\":{\"resourceVersion\":\"%llu\",\"annotations\":{\"padding\":\"",
			w->rt->kind, w->rt->api_version, (unsigned long long)w->cursor);
		if (peerop__buf_grow(&pre, pad) == 0) {
			memset(pre.ptr + pre.len, 'x', pad);
			pre.len += pad;
			pre.ptr[pre.len] = '\0';
		}
		peerop__buf_puts(&pre, "\"}}}}\n");
		break;
	}
	default:
		return false;
	}
	peerop__buf_put(&pre, w->out.ptr, w->out.len);
	peerop__buf_dispose(&w->out);
	w->out = pre;
	return false;
}

static bool client_gone(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };
	if (fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	watch *w = cls;
	(void)pos;
	for (;;) {
		if (w->out_off < w->out.len) {
			size_t n = w->out.len - w->out_off;
			if (n > max)
				n = max;
			memcpy(buf, w->out.ptr + w->out_off, n);
			w->out_off += n;
			return (ssize_t)n;
		}
		peerop__buf_clear(&w->out);
		w->out_off = 0;
		if (w->finished)
			return w->drop ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&w->s->mu);
		fill(w);
		if (w->corrupt && w->out.len > 0 && spoil(w)) {
			/* send the half event, then drop the connection */
			pthread_mutex_unlock(&w->s->mu);
			continue;
		}
		if (w->out.len == 0 && !w->finished) {
			uint64_t now = peerop__now_ms(), until = now + 1000;
			if (w->deadline_ms < until)
				until = w->deadline_ms;
			if (w->bookmarks && w->next_bookmark < until)
				until = w->next_bookmark;
			if (until > now)
				dc_store_wait(w->s, (unsigned)(until - now));
			pthread_mutex_unlock(&w->s->mu);
			/* a client that went away is only noticed on a write; check */
			if (client_gone(w->fd))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		pthread_mutex_unlock(&w->s->mu);
	}
}

static bool flag(const dc_req *rq, const char *key)
{
	return dc_req_query_bool(rq, key);
}

void dc_api_watch(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	const char *rv_s = dc_req_query(rq, "resourceVersion");
	const char *match = dc_req_query(rq, "resourceVersionMatch");
	const char *sie = dc_req_query(rq, "sendInitialEvents");
	const char *to = dc_req_query(rq, "timeoutSeconds");
	uint64_t rv = 0, timeout_s = 0;
	bool has_rv = rv_s && *rv_s && strcmp(rv_s, "0");
	bool send_initial;
	dc_include inc;
	int table = dc_table_wanted(rq, rs, &inc);
	watch *w;
	struct MHD_Response *resp;
	const union MHD_ConnectionInfo *ci;
	size_t lo, hi, i;

	if (table < 0)
		return;
	if (has_rv && !dc_parse_rv(rv_s, &rv)) {
		dc_resp_error(rs, 400, "BadRequest", "resourceVersion: Invalid value: \"%s\": must be an integer", rv_s);
		return;
	}
	if (to && *to && !dc_parse_rv(to, &timeout_s)) {
		dc_resp_error(rs, 400, "BadRequest", "timeoutSeconds: Invalid value: \"%s\"", to);
		return;
	}
	switch (dc_faults_streaming_lists(rq->srv)) {
	case 1: /* a server from before streaming lists refuses the parameters */
		if (match && *match) {
			dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: "
				"Forbidden: resourceVersionMatch is forbidden for watch");
			return;
		}
		break;
	case 2: /* ...or does not know them */
		sie = match = NULL;
		break;
	}
	if (sie && *sie && (!match || strcmp(match, "NotOlderThan"))) {
		dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: "
			"Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
		return;
	}
	if (match && *match && (!sie || !*sie)) {
		dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: "
			"Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
		return;
	}
	/* RV unset or "0": synthetic ADDED for the current state first;
	 * sendInitialEvents decides explicitly when given */
	send_initial = sie && *sie ? flag(rq, "sendInitialEvents") : !has_rv;

	w = calloc(1, sizeof(*w));
	if (!w) {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		return;
	}
	w->srv = rq->srv;
	w->s = s;
	w->fd = -1;
	w->ns = t.namespaced && t.ns ? strdup(t.ns) : NULL;
	w->name = t.name ? strdup(t.name) : NULL;
	w->bookmarks = flag(rq, "allowWatchBookmarks");
	w->table = table == 1;
	w->include = inc;
	w->bookmark_ms = (uint64_t)(rq->srv->opts.bookmark_interval_s ? rq->srv->opts.bookmark_interval_s : 60) * 1000u;
	w->next_bookmark = peerop__now_ms() + w->bookmark_ms;
	/* without timeoutSeconds the real server picks 30-60 minutes */
	if (!timeout_s)
		timeout_s = 1800 + peerop__rand_below(1800);
	w->deadline_ms = peerop__now_ms() + timeout_s * 1000u;

	if (!dc_target_lock(s, &t, rs)) {
		s = NULL;
		goto fail_unlocked;
	}
	if (!dc_parse_selectors(rq, rs, t.rt, &w->lsel, &w->fsel))
		goto fail;
	w->coll = t.rt->coll;
	w->rt = dc_rtype_clone(t.rt);
	if (!w->rt) {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		goto fail;
	}
	if (has_rv && rv > s->rv && !dc_wait_rv(s, rv, 3000)) {
		dc_resp_too_large_rv(rs, rv, s->rv);
		goto fail;
	}
	w->cursor = send_initial || !has_rv ? s->rv : rv;
	if (send_initial) {
		dc_coll_range(w->coll, w->ns, &lo, &hi);
		w->initial = hi > lo ? malloc((hi - lo) * sizeof(*w->initial)) : NULL;
		for (i = lo; w->initial && i < hi; i++)
			if (matches(w, t.rt, w->coll->arr[i]->obj))
				w->initial[w->ninitial++] = dc_obj_ref(w->coll->arr[i]->obj);
		w->initial_end = sie && *sie && w->bookmarks;
	}
	w->epoch = s->watch_epoch;
	w->corrupt = dc_faults_take_corrupt(rq->srv, &w->corrupt_bytes);
	if (w->corrupt == DC_CORRUPT_EMPTY) {
		w->corrupt = DC_CORRUPT_NONE;
		w->finished = true; /* 200 and nothing: what a stale-RV answer looks like */
	}
	s->nwatchers++;
	pthread_mutex_unlock(&s->mu);

	ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		w->fd = ci->connect_fd;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, watch_read, w, watch_free);
	if (!resp) {
		watch_free(w);
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	rs->code = 200;
	rs->stream = resp;
	return;
fail:
	pthread_mutex_unlock(&s->mu);
fail_unlocked:
	/* not yet counted as a watcher */
	dc_selector_free(w->lsel);
	dc_selector_free(w->fsel);
	for (i = 0; i < w->ninitial; i++)
		dc_obj_unref(w->initial[i]);
	free(w->initial);
	dc_rtype_free(w->rt);
	free(w->ns);
	free(w->name);
	free(w);
}
