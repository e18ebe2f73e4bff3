/*
 * watch.c: list+watch on a thread of its own, with relist diffs.
 *
 * The thread alternates between getting the full state (a streaming list
 * or a paged LIST) and watching from the last resourceVersion. It keeps,
 * per object key, the uid and resourceVersion it last delivered ("known"),
 * which is what turns a relist into the right ADDED/MODIFIED/DELETED
 * events and makes ADDED/MODIFIED consistent for consumers (a MODIFIED for
 * an unknown key is delivered as ADDED, an ADDED for a known one as
 * MODIFIED).
 *
 * Every wait (backoff, streams, LIST pages) watches the stop flag, so that
 * peerop_watch_stop() returns within the 100 ms it promises.
 */
#include "internal.h"
#include "kube_internal.h"
#include "watch_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_MAX_BYTES ((size_t)1 << 30)
#define LIST_RESTARTS 3

typedef struct known {
	char *uid;
	char *rv;
	unsigned int gen;
} known;

struct peerop_watch {
	peerop_kube_client *client;
	peerop_kube_resource res;
	char *group, *version, *resource;
	char *ns;            /* resolved: "" for all namespaces */
	char *label, *field;
	peerop_watch_options opts;

	pthread_t thread;
	int thread_started;
	int joined;
	pthread_mutex_t join_lock;

	int stop;            /* atomic */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled by stop */
	char *rv;            /* guarded by lock (read by other threads) */
	int synced;          /* atomic */
	peerop_watch_stats stats; /* fields updated atomically */

	/* Only the watch thread touches what follows. */
	peerop__map known;
	unsigned int gen;
	char *api_version, *kind; /* for tombstones and list items */
	int stream_supported;     /* -1 unknown, 0 no, 1 yes */
	int stream_failures;
	peerop__watch_decoder dec;
	int in_initial;           /* a streaming list has not reached its end bookmark */
	unsigned long long session_events;
	uint64_t backoff_ms;
	uint64_t last_error_ms;
	int consecutive_gone;
	unsigned int retry_after_ms; /* of the last failed request */
	unsigned int idle_ms;        /* the stream's idle timeout now (read by the stream) */
};

/* A server streams a list's initial events without pause; silence before the
 * end bookmark means it ignored sendInitialEvents (or is stuck). */
#define INITIAL_IDLE_MS 5000u

static int stopped(const peerop_watch *w)
{
	return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
}

static void count(unsigned long long *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static void report(peerop_watch *w, int code, const char *message)
{
	count(&w->stats.errors);
	peerop__log(PEEROP_LOG_WARN, "watch", NULL, 0, "%s: %s", w->resource, message);
	if (w->opts.on_error && !stopped(w))
		w->opts.on_error(code, message, w->opts.payload);
}

static void deliver(peerop_watch *w, peerop_watch_event_type type, json_t *obj)
{
	if (stopped(w))
		return;
	if (type != PEEROP_WATCH_SYNCED)
		count(&w->stats.events);
	w->opts.on_event(type, obj, w->opts.payload);
}

static void set_rv(peerop_watch *w, const char *rv)
{
	char *copy;
	if (!rv || !*rv)
		return;
	copy = strdup(rv);
	if (!copy)
		return;
	pthread_mutex_lock(&w->lock);
	free(w->rv);
	w->rv = copy;
	pthread_mutex_unlock(&w->lock);
}

static const char *meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static void known_free(known *k)
{
	if (k) {
		free(k->uid);
		free(k->rv);
		free(k);
	}
}

/* Lists omit apiVersion and kind on items of built-in types; consumers
 * should not have to know that. */
static void fill_type(peerop_watch *w, json_t *obj)
{
	if (w->api_version && !json_is_string(json_object_get(obj, "apiVersion")))
		json_object_set_new(obj, "apiVersion", json_string(w->api_version));
	if (w->kind && !json_is_string(json_object_get(obj, "kind")))
		json_object_set_new(obj, "kind", json_string(w->kind));
}

static void learn_type(peerop_watch *w, const json_t *obj, int is_list)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	if (av && !w->api_version)
		w->api_version = strdup(av);
	if (kind && !w->kind) {
		size_t n = strlen(kind);
		if (is_list && n > 4 && strcmp(kind + n - 4, "List") == 0)
			w->kind = strndup(kind, n - 4);
		else if (!is_list)
			w->kind = strdup(kind);
	}
}

static json_t *tombstone(peerop_watch *w, const char *key, const known *k)
{
	const char *slash = strchr(key, '/');
	json_t *md = json_object(), *obj = json_object();
	if (!md || !obj) {
		json_decref(md);
		json_decref(obj);
		return NULL;
	}
	if (slash && w->res.namespaced) {
		json_object_set_new(md, "namespace", json_stringn(key, (size_t)(slash - key)));
		json_object_set_new(md, "name", json_string(slash + 1));
	} else {
		json_object_set_new(md, "name", json_string(key));
	}
	if (k->uid)
		json_object_set_new(md, "uid", json_string(k->uid));
	if (k->rv)
		json_object_set_new(md, "resourceVersion", json_string(k->rv));
	if (w->api_version)
		json_object_set_new(obj, "apiVersion", json_string(w->api_version));
	if (w->kind)
		json_object_set_new(obj, "kind", json_string(w->kind));
	json_object_set_new(obj, "metadata", md);
	return obj;
}

static void deliver_tombstone(peerop_watch *w, const char *key, const known *k)
{
	json_t *t = tombstone(w, key, k);
	if (t) {
		deliver(w, PEEROP_WATCH_DELETED, t);
		json_decref(t);
	}
}

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* An object seen in a list, an initial event or an ADDED/MODIFIED event. */
static int apply_object(peerop_watch *w, json_t *obj, int from_state)
{
	char *key = peerop__store_key(obj);
	const char *uid = meta_str(obj, "uid"), *rv = meta_str(obj, "resourceVersion");
	known *k;

	if (!key)
		return peerop__error_set(PEEROP_EPROTO, "an object of %s has no metadata.name", w->resource);
	fill_type(w, obj);
	k = peerop__map_get(&w->known, key);
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k || peerop__map_put(&w->known, key, k, NULL) != 0) {
			free(k);
			free(key);
			return peerop__error_set(PEEROP_ENOMEM, "watch: out of memory");
		}
		k->uid = peerop__strdup(uid);
		k->rv = peerop__strdup(rv);
		k->gen = w->gen;
		deliver(w, PEEROP_WATCH_ADDED, obj);
	} else if (uid && k->uid && strcmp(uid, k->uid) != 0) {
		/* Same name, new object: the old one was deleted meanwhile. */
		deliver_tombstone(w, key, k);
		free(k->uid);
		free(k->rv);
		k->uid = peerop__strdup(uid);
		k->rv = peerop__strdup(rv);
		k->gen = w->gen;
		deliver(w, PEEROP_WATCH_ADDED, obj);
	} else {
		k->gen = w->gen;
		if (!from_state || !same(rv, k->rv)) {
			free(k->rv);
			k->rv = peerop__strdup(rv);
			deliver(w, PEEROP_WATCH_MODIFIED, obj);
		}
	}
	free(key);
	return 0;
}

static void apply_delete(peerop_watch *w, json_t *obj)
{
	char *key = peerop__store_key(obj);
	known *k;
	if (!key)
		return;
	k = peerop__map_remove(&w->known, key);
	if (k) {
		fill_type(w, obj);
		deliver(w, PEEROP_WATCH_DELETED, obj);
		known_free(k);
	}
	free(key);
}

/* After a full state: whatever was not seen in it is gone. */
static int sweep(peerop_watch *w)
{
	size_t pos = 0, n = 0, i;
	const char *key;
	void *v;
	char **gone = malloc((peerop__map_count(&w->known) + 1) * sizeof(*gone));
	if (!gone)
		return peerop__error_set(PEEROP_ENOMEM, "watch: out of memory");
	while (peerop__map_next(&w->known, &pos, &key, &v))
		if (((known *)v)->gen != w->gen && (gone[n] = strdup(key)) != NULL)
			n++;
	for (i = 0; i < n; i++) {
		known *k = peerop__map_remove(&w->known, gone[i]);
		if (k) {
			deliver_tombstone(w, gone[i], k);
			known_free(k);
		}
		free(gone[i]);
	}
	free(gone);
	return 0;
}

static void synced(peerop_watch *w)
{
	count(&w->stats.lists);
	__atomic_store_n(&w->synced, 1, __ATOMIC_RELEASE);
	w->consecutive_gone = 0;
	deliver(w, PEEROP_WATCH_SYNCED, NULL);
}

/* ---- the stream ---------------------------------------------------------- */

static int is_initial_end(const json_t *obj)
{
	json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
	const char *v = json_string_value(json_object_get(ann, "k8s.io/initial-events-end"));
	return v && strcmp(v, "true") == 0;
}

static int on_raw_event(peerop__watch_raw_type type, json_t *obj, void *arg)
{
	peerop_watch *w = arg;
	const char *rv = meta_str(obj, "resourceVersion");
	int rc = 0;

	if (stopped(w))
		return PEEROP_ECANCELED;
	switch (type) {
	case PEEROP__RAW_ERROR: {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *reason = json_string_value(json_object_get(obj, "reason"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		return peerop__error_set_http(peerop__kube_status_code((long)code, reason), (int)code,
			reason, "watch %s: ERROR event: %s", w->resource, msg ? msg : "(no message)");
	}
	case PEEROP__RAW_BOOKMARK:
		count(&w->stats.bookmarks);
		if (w->in_initial) {
			if (!is_initial_end(obj))
				/* A server with streaming lists ends the initial events with
				 * this bookmark before any other: one that sends a plain
				 * bookmark first has ignored sendInitialEvents. */
				return peerop__error_set(PEEROP_EUNSUPPORTED,
					"watch %s: the server does not support streaming lists", w->resource);
			w->in_initial = 0;
			w->stream_supported = 1;
			w->stream_failures = 0;
			__atomic_store_n(&w->idle_ms, w->opts.idle_timeout_ms, __ATOMIC_RELAXED);
			if ((rc = sweep(w)) != 0)
				return rc;
			set_rv(w, rv);
			synced(w);
			return 0;
		}
		set_rv(w, rv);
		return 0;
	case PEEROP__RAW_ADDED:
	case PEEROP__RAW_MODIFIED:
		if (w->in_initial && type != PEEROP__RAW_ADDED)
			/* A server that ignores sendInitialEvents sends changes without
			 * ever ending the initial state. */
			return peerop__error_set(PEEROP_EUNSUPPORTED,
				"watch %s: the server does not support streaming lists", w->resource);
		learn_type(w, obj, 0);
		rc = apply_object(w, obj, w->in_initial);
		break;
	case PEEROP__RAW_DELETED:
		if (w->in_initial)
			return peerop__error_set(PEEROP_EUNSUPPORTED,
				"watch %s: the server does not support streaming lists", w->resource);
		apply_delete(w, obj);
		break;
	}
	if (rc)
		return rc;
	w->session_events++;
	/* During the initial events, object RVs are not resume points: a broken
	 * streaming list restarts from scratch. */
	if (!w->in_initial)
		set_rv(w, rv);
	return 0;
}

static int on_stream_data(const char *data, size_t len, void *payload)
{
	peerop_watch *w = payload;
	return peerop__watch_decoder_feed(&w->dec, data, len);
}

static int collection_path(peerop_watch *w, peerop__buf *b)
{
	return peerop__kube_path(b, &w->res, w->res.namespaced ? w->ns : NULL, NULL, NULL);
}

static int add_selectors(peerop_watch *w, peerop__buf *b)
{
	int rc = 0;
	if (w->label && *w->label)
		rc = peerop__kube_query_add(b, "labelSelector", w->label);
	if (!rc && w->field && *w->field)
		rc = peerop__kube_query_add(b, "fieldSelector", w->field);
	return rc;
}

typedef enum { SESSION_STREAM_LIST, SESSION_WATCH } session_mode;

static int run_stream(peerop_watch *w, session_mode mode)
{
	peerop__buf path = PEEROP__BUF_INIT;
	peerop__kube_stream_opts so;
	char timeout[16], *rv = NULL;
	unsigned int lo = w->opts.min_timeout_s, hi = w->opts.max_timeout_s;
	int rc;

	snprintf(timeout, sizeof(timeout), "%u", lo + (unsigned)peerop__rand_below(hi - lo + 1));
	if (mode == SESSION_WATCH) {
		pthread_mutex_lock(&w->lock);
		rv = peerop__strdup(w->rv);
		pthread_mutex_unlock(&w->lock);
	}
	rc = collection_path(w, &path);
	if (!rc)
		rc = peerop__kube_query_add(&path, "watch", "1");
	if (!rc)
		rc = peerop__kube_query_add(&path, "allowWatchBookmarks", "true");
	if (!rc)
		rc = add_selectors(w, &path);
	if (!rc)
		rc = peerop__kube_query_add(&path, "timeoutSeconds", timeout);
	if (!rc && mode == SESSION_WATCH)
		rc = peerop__kube_query_add(&path, "resourceVersion", rv);
	if (!rc && mode == SESSION_STREAM_LIST) {
		rc = peerop__kube_query_add(&path, "sendInitialEvents", "true");
		if (!rc)
			rc = peerop__kube_query_add(&path, "resourceVersionMatch", "NotOlderThan");
	}
	free(rv);
	if (rc) {
		peerop__buf_dispose(&path);
		return rc;
	}

	peerop__watch_decoder_reset(&w->dec);
	w->in_initial = mode == SESSION_STREAM_LIST;
	if (w->in_initial)
		w->gen++;
	w->session_events = 0;
	count(&w->stats.watches);
	memset(&so, 0, sizeof(so));
	so.on_data = on_stream_data;
	so.payload = w;
	so.stop = &w->stop;
	__atomic_store_n(&w->idle_ms, w->in_initial && w->opts.idle_timeout_ms > INITIAL_IDLE_MS
		? INITIAL_IDLE_MS : w->opts.idle_timeout_ms, __ATOMIC_RELAXED);
	so.idle_timeout_live = &w->idle_ms;
	so.retry_after_ms = &w->retry_after_ms;
	rc = peerop__kube_stream(w->client, path.ptr, &so);
	if (rc == 0)
		rc = peerop__watch_decoder_finish(&w->dec);
	peerop__buf_dispose(&path);
	return rc;
}

/* ---- paged LIST (through the stream call, so that stop interrupts it) ---- */

typedef struct list_body {
	peerop_watch *w;
	peerop__buf buf;
} list_body;

static int on_list_data(const char *data, size_t len, void *payload)
{
	list_body *lb = payload;
	int rc = peerop__buf_put(&lb->buf, data, len);
	if (rc == PEEROP_ETOOLARGE)
		return peerop__error_set(rc, "list of %s is over %zu bytes", lb->w->resource, lb->buf.limit);
	return rc;
}

static int list_page(peerop_watch *w, const char *cont, json_t **out)
{
	peerop__buf path = PEEROP__BUF_INIT;
	peerop__kube_stream_opts so;
	list_body lb = { w, PEEROP__BUF_INIT };
	char limit[16];
	json_error_t err;
	int rc;

	*out = NULL;
	snprintf(limit, sizeof(limit), "%u", w->opts.page_size);
	rc = collection_path(w, &path);
	if (!rc)
		rc = peerop__kube_query_add(&path, "limit", limit);
	if (!rc)
		rc = add_selectors(w, &path);
	if (!rc && cont)
		rc = peerop__kube_query_add(&path, "continue", cont);
	if (rc) {
		peerop__buf_dispose(&path);
		return rc;
	}
	/* one page is one reply: the client's max_response_bytes holds */
	lb.buf.limit = w->client->opts.max_response_bytes < LIST_MAX_BYTES ?
		w->client->opts.max_response_bytes : LIST_MAX_BYTES;
	memset(&so, 0, sizeof(so));
	so.on_data = on_list_data;
	so.payload = &lb;
	so.stop = &w->stop;
	so.idle_timeout_ms = w->opts.idle_timeout_ms;
	so.retry_after_ms = &w->retry_after_ms;
	rc = peerop__kube_stream(w->client, path.ptr, &so);
	if (rc == 0) {
		*out = json_loadb(lb.buf.ptr ? lb.buf.ptr : "", lb.buf.len, 0, &err);
		if (!*out || !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			rc = peerop__error_set(PEEROP_EPROTO, "list %s: the reply is not a JSON object: %s (byte %d)",
				path.ptr, err.text, err.position);
		}
	}
	/* The raw page is not kept: only parsed items live on, one page at a time. */
	peerop__buf_dispose(&lb.buf);
	peerop__buf_dispose(&path);
	return rc;
}

static int do_list(peerop_watch *w)
{
	int restarts = 0;
	for (;;) {
		char *cont = NULL, *list_rv = NULL, *prev = NULL;
		unsigned int pages = 0;
		int rc = 0;
		w->gen++;
		do {
			json_t *page = NULL, *items, *item;
			const char *c, *rv;
			size_t i;
			rc = list_page(w, cont, &page);
			free(prev);
			prev = cont;
			cont = NULL;
			if (rc)
				break;
			pages++;
			learn_type(w, page, 1);
			items = json_object_get(page, "items");
			if (!json_is_array(items) && !json_is_null(items) && items) {
				json_decref(page);
				rc = peerop__error_set(PEEROP_EPROTO, "list %s: \"items\" is not an array", w->resource);
				break;
			}
			json_array_foreach(items, i, item) {
				if (!json_is_object(item))
					continue;
				if ((rc = apply_object(w, item, 1)) != 0)
					break;
			}
			rv = meta_str(page, "resourceVersion");
			if (rv && !list_rv)
				list_rv = strdup(rv);
			c = meta_str(page, "continue");
			if (!rc && c && *c && ((prev && !strcmp(prev, c)) || pages >= PEEROP__KUBE_MAX_PAGES))
				rc = peerop__error_set(PEEROP_EPROTO, "list %s: %s", w->resource, pages >= PEEROP__KUBE_MAX_PAGES ?
					"the list goes on past the page limit" :
					"the server repeated the continue token (a list that would never end)");
			else if (!rc && c && *c)
				cont = strdup(c);
			json_decref(page);
		} while (!rc && cont && !stopped(w));
		free(cont);
		free(prev);
		if (rc == PEEROP_EGONE && restarts++ < LIST_RESTARTS) {
			/* an expired continue token: start the list again */
			free(list_rv);
			continue;
		}
		if (!rc && stopped(w))
			rc = PEEROP_ECANCELED;
		if (!rc && !list_rv)
			rc = peerop__error_set(PEEROP_EPROTO, "list %s: no metadata.resourceVersion in the reply", w->resource);
		if (!rc)
			rc = sweep(w);
		if (!rc) {
			set_rv(w, list_rv);
			synced(w);
		}
		free(list_rv);
		return rc;
	}
}

/* ---- the thread ---------------------------------------------------------- */

/* Sleep until deadline or stop; returns nonzero if stopped. */
static int wait_ms(peerop_watch *w, uint64_t ms)
{
	struct timespec ts;
	uint64_t ns;
	int stop;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + (ms % 1000) * 1000000u;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_mutex_lock(&w->lock);
	while (!(stop = stopped(w)) && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
		;
	stop = stopped(w);
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static int backoff(peerop_watch *w, uint64_t at_least_ms)
{
	uint64_t now = peerop__now_ms(), wait;
	if (w->last_error_ms && now - w->last_error_ms >= w->opts.backoff_reset_ms)
		w->backoff_ms = w->opts.backoff_initial_ms;
	wait = peerop__jitter(w->backoff_ms, 0.25);
	if (wait < at_least_ms)
		wait = at_least_ms;
	if (wait > w->opts.backoff_max_ms && at_least_ms <= w->opts.backoff_max_ms)
		wait = w->opts.backoff_max_ms;
	w->backoff_ms = w->backoff_ms * 2 > w->opts.backoff_max_ms ? w->opts.backoff_max_ms : w->backoff_ms * 2;
	w->last_error_ms = now;
	peerop__debug("watch", "%s: retrying in %llu ms", w->resource, (unsigned long long)wait);
	return wait_ms(w, wait);
}

static int is_unsupported_reply(int rc)
{
	int http = peerop_error_last()->http_status;
	return rc == PEEROP_EUNSUPPORTED || rc == PEEROP_EINVALID ||
		http == 400 || http == 403 || http == 405 || http == 415 || http == 501;
}

static void *thread_main(void *arg)
{
	peerop_watch *w = arg;
	int need_state = 1;

	while (!stopped(w)) {
		uint64_t started = peerop__now_ms();
		int rc, was_initial = 0, stream_list = 0;

		if (need_state) {
			stream_list = w->opts.initial == PEEROP_WATCH_INITIAL_STREAM ||
				(w->opts.initial == PEEROP_WATCH_INITIAL_AUTO && w->stream_supported != 0);
			if (stream_list) {
				rc = run_stream(w, SESSION_STREAM_LIST);
				was_initial = w->in_initial;
				w->in_initial = 0;
				if (!was_initial)
					need_state = 0; /* the list completed and went on as a watch */
			} else {
				rc = do_list(w);
				if (rc == 0) {
					need_state = 0;
					continue; /* straight on to the watch */
				}
			}
		} else {
			rc = run_stream(w, SESSION_WATCH);
		}
		if (stopped(w))
			break;

		if (stream_list && was_initial) {
			/* The streaming list did not reach its end: fall back to LIST
			 * if the server plainly does not support it, or if it never
			 * worked and failed twice; otherwise retry after a backoff. */
			/* Events then silence, with no end bookmark: the server ignored
			 * sendInitialEvents and sent a plain watch's synthetic ADDEDs. */
			int ignored = rc == PEEROP_ETIMEOUT && w->session_events > 0;
			if (w->opts.initial == PEEROP_WATCH_INITIAL_AUTO && w->stream_supported != 1 &&
			    (ignored || is_unsupported_reply(rc) || ++w->stream_failures >= 2)) {
				peerop__info("watch", "%s: streaming list unavailable (%s); using LIST+WATCH",
					w->resource, rc ? peerop_error_last()->message : "no end bookmark");
				w->stream_supported = 0;
				continue;
			}
			if (rc == 0)
				rc = peerop__error_set(PEEROP_ETRUNCATED,
					"watch %s: the streaming list ended before its initial-events-end bookmark", w->resource);
		}
		if (rc == 0) {
			/* The server ended the watch (timeoutSeconds): reconnect at once,
			 * unless it ended too soon to be a real watch. */
			if (w->session_events == 0 && peerop__now_ms() - started < 1000) {
				report(w, PEEROP_EPROTO, "the watch ended in under a second without an event");
				if (backoff(w, 0))
					break;
			}
			continue;
		}
		if (rc == PEEROP_EGONE) {
			/* Our resourceVersion is too old: relist and send the difference. */
			count(&w->stats.errors);
			peerop__info("watch", "%s: %s; relisting", w->resource, peerop_error_last()->message);
			if (w->opts.on_error)
				w->opts.on_error(rc, peerop_error_last()->message, w->opts.payload);
			need_state = 1;
			if (w->consecutive_gone++ > 0 && backoff(w, 0))
				break;
			continue;
		}
		report(w, rc, peerop_error_last()->message);
		if (rc == PEEROP_ETOOMANY || rc == PEEROP_EUNAVAILABLE) {
			/* 429, and 504 "resource version too large": wait as told. */
			if (backoff(w, w->retry_after_ms))
				break;
			continue;
		}
		if (backoff(w, 0))
			break;
	}
	return NULL;
}

/* ---- public API ---------------------------------------------------------- */

PEEROP_EXTERN(int) peerop_watch_options_init(peerop_watch_options *opts, unsigned int version)
{
	peerop_watch_options init = PEEROP_WATCH_OPTIONS_INIT;
	if (!opts || version != PEEROP_WATCH_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_watch_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

static void watch_release(peerop_watch *w)
{
	size_t pos = 0;
	void *v;
	while (peerop__map_next(&w->known, &pos, NULL, &v))
		known_free(v);
	peerop__map_dispose(&w->known);
	peerop__watch_decoder_dispose(&w->dec);
	free(w->group);
	free(w->version);
	free(w->resource);
	free(w->ns);
	free(w->label);
	free(w->field);
	free(w->rv);
	free(w->api_version);
	free(w->kind);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->join_lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

PEEROP_EXTERN(int) peerop_watch_start(peerop_watch **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const peerop_watch_options *opts)
{
	peerop_watch *w;
	pthread_condattr_t ca;
	const char *ns;

	if (out)
		*out = NULL;
	if (!out || !client || !res || !res->version || !res->resource || !opts || !opts->on_event)
		return peerop__error_set(PEEROP_EINVAL, "peerop_watch_start: client, resource and on_event are required");
	if (opts->version != PEEROP_WATCH_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_watch_start: unknown options version %u", opts->version);
	w = calloc(1, sizeof(*w));
	if (!w)
		return peerop__error_set(PEEROP_ENOMEM, "peerop_watch_start: out of memory");
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->join_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);

	w->client = client;
	w->opts = *opts;
	ns = opts->ns ? opts->ns : peerop_kube_config_namespace(peerop_kube_client_config(client));
	w->group = strdup(res->group ? res->group : "");
	w->version = strdup(res->version);
	w->resource = strdup(res->resource);
	w->ns = strdup(ns ? ns : "");
	w->label = peerop__strdup(opts->label_selector);
	w->field = peerop__strdup(opts->field_selector);
	if (!w->group || !w->version || !w->resource || !w->ns ||
	    (opts->label_selector && !w->label) || (opts->field_selector && !w->field)) {
		watch_release(w);
		return peerop__error_set(PEEROP_ENOMEM, "peerop_watch_start: out of memory");
	}
	w->res.group = w->group;
	w->res.version = w->version;
	w->res.resource = w->resource;
	w->res.namespaced = res->namespaced;

#define DEFAULT(f, v) do { if (!w->opts.f) w->opts.f = (v); } while (0)
	DEFAULT(page_size, 500);
	DEFAULT(max_event_bytes, PEEROP__WATCH_DEFAULT_MAX_EVENT);
	DEFAULT(min_timeout_s, 300);
	DEFAULT(max_timeout_s, 600);
	DEFAULT(idle_timeout_ms, 90000);
	DEFAULT(backoff_initial_ms, 800);
	DEFAULT(backoff_max_ms, 30000);
	DEFAULT(backoff_reset_ms, 120000);
#undef DEFAULT
	if (w->opts.max_timeout_s < w->opts.min_timeout_s)
		w->opts.max_timeout_s = w->opts.min_timeout_s;
	w->opts.ns = w->ns;
	w->opts.label_selector = w->label;
	w->opts.field_selector = w->field;
	w->backoff_ms = w->opts.backoff_initial_ms;
	w->stream_supported = -1;
	peerop__watch_decoder_init(&w->dec, w->opts.max_event_bytes, on_raw_event, w);

	if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
		watch_release(w);
		return peerop__error_set(PEEROP_ERROR, "peerop_watch_start: cannot start a thread");
	}
	w->thread_started = 1;
	*out = w;
	return 0;
}

PEEROP_EXTERN(void) peerop_watch_stop(peerop_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	peerop__join_once(w->thread, w->thread_started, &w->join_lock, &w->joined);
}

PEEROP_EXTERN(void) peerop_watch_free(peerop_watch *w)
{
	if (!w)
		return;
	peerop_watch_stop(w);
	watch_release(w);
}

PEEROP_EXTERN(int) peerop_watch_has_synced(const peerop_watch *w)
{
	return w ? __atomic_load_n(&w->synced, __ATOMIC_ACQUIRE) : 0;
}

PEEROP_EXTERN(void) peerop_watch_get_stats(const peerop_watch *w, peerop_watch_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!w)
		return;
	out->events = __atomic_load_n(&w->stats.events, __ATOMIC_RELAXED);
	out->lists = __atomic_load_n(&w->stats.lists, __ATOMIC_RELAXED);
	out->watches = __atomic_load_n(&w->stats.watches, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&w->stats.errors, __ATOMIC_RELAXED);
	out->bookmarks = __atomic_load_n(&w->stats.bookmarks, __ATOMIC_RELAXED);
}

PEEROP_EXTERN(int) peerop_watch_resource_version(char **out, const peerop_watch *w)
{
	peerop_watch *mw = (peerop_watch *)w;
	if (!out || !w)
		return peerop__error_set(PEEROP_EINVAL, "peerop_watch_resource_version: missing argument");
	pthread_mutex_lock(&mw->lock);
	*out = NULL;
	if (mw->rv && !(*out = strdup(mw->rv))) {
		pthread_mutex_unlock(&mw->lock);
		return PEEROP_ENOMEM;
	}
	pthread_mutex_unlock(&mw->lock);
	return 0;
}
