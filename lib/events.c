/*
 * events.c: the event recorder (see peerop/events.h).
 *
 * State: one series per (regarding object, reason, action), the key
 * client-go's events broadcaster uses, each with the count of occurrences
 * and the count the server has; a token bucket per object (the spam
 * filter); a FIFO of series with something to write. record() only
 * changes that state under the lock; the thread does every request,
 * without the lock, one at a time, and is the only one that frees a
 * series, so a series it is writing cannot vanish under it.
 *
 * What a series writes: a create the first time (count 1), then the count
 * as a merge patch: at once for the first repetition (so `kubectl
 * describe` shows "x2"), then at most every series_refresh_ms, and a last
 * time when it has been quiet for series_finish_ms, after which it is
 * forgotten and the next occurrence creates a new Event. An Event that
 * vanished (404: expired by the server's TTL) is created again with the
 * series it has.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <peerop/events.h>
#include "internal.h"

#define DEF_QUEUE 1000u
#define DEF_REFRESH_MS 1800000u
#define DEF_FINISH_MS 360000u
#define DEF_BURST 25u
#define DEF_REFILL_MS 300000u
#define MAX_SERIES 16384u
#define MAX_NOTE 1024u
#define MAX_WORD 128u
#define TICK_MS 1000u
#define FREE_GRACE_MS 2000u

enum { API_UNKNOWN = 0, API_EVENTS = 1, API_CORE = 2 };

static const peerop_kube_resource EVENTS_V1 = { "events.k8s.io", "v1", "events", 1 };
static const peerop_kube_resource CORE_EVENTS = { "", "v1", "events", 1 };

typedef struct series {
	struct series *next_job;
	char *key;                  /* NULL once detached from the map */
	char *name, *ns;            /* the Event's */
	json_t *regarding;          /* the object reference */
	char *type, *reason, *action, *note;
	char first_time[40];        /* MicroTime of the first occurrence */
	char last_time[40];         /* of the last one */
	unsigned long long count, sent;
	uint64_t last_ms, patched_ms;
	int created, queued;
} series;

typedef struct bucket {
	double tokens;
	uint64_t at_ms;
} bucket;

struct peerop_events {
	peerop_kube_client *client;
	peerop_events_options opts;
	char *controller, *instance;
	pthread_t thread;
	int thread_started;

	pthread_mutex_t lock;       /* guards what follows */
	pthread_cond_t wake, idle;
	int stopping;
	peerop__map series;         /* key -> series */
	peerop__map buckets;        /* object key -> bucket */
	series *head, *tail;        /* jobs */
	size_t njobs;
	int busy;
	int api;
	unsigned long long seq;
	peerop_events_stats stats;
};

int peerop_events_options_init(peerop_events_options *opts, unsigned int version)
{
	static const peerop_events_options init = PEEROP_EVENTS_OPTIONS_INIT;

	if (!opts || version != PEEROP_EVENTS_OPTIONS_VERSION)
		return PEEROP_EINVAL;
	*opts = init;
	return 0;
}

/* MicroTime: RFC 3339 with microseconds, as metav1.MicroTime. */
static void micro_now(char *buf, size_t size, int micro)
{
	struct timespec ts;
	struct tm tm;
	char base[32];
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (micro)
		snprintf(buf, size, "%.20s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
	else
		snprintf(buf, size, "%.20sZ", base);
}

static void series_free(series *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->name);
	free(s->ns);
	json_decref(s->regarding);
	free(s->type);
	free(s->reason);
	free(s->action);
	free(s->note);
	free(s);
}

/* lock held */
static void enqueue(peerop_events *ev, series *s)
{
	if (s->queued)
		return;
	s->queued = 1;
	s->next_job = NULL;
	if (ev->tail)
		ev->tail->next_job = s;
	else
		ev->head = s;
	ev->tail = s;
	ev->njobs++;
	pthread_cond_broadcast(&ev->wake);
}

/* ---- the body of an Event ----------------------------------------------- */

/* With the lock held: what the thread needs, copied (it writes unlocked). */
static json_t *create_body(const peerop_events *ev, const series *s, int api)
{
	json_t *b;

	if (api == API_EVENTS) {
		b = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:s}",
			"apiVersion", "events.k8s.io/v1", "kind", "Event",
			"metadata", "name", s->name, "namespace", s->ns,
			"eventTime", s->first_time, "reportingController", ev->controller,
			"reportingInstance", ev->instance, "action", s->action, "regarding", s->regarding,
			"reason", s->reason, "note", s->note, "type", s->type);
		if (b && s->count >= 2)
			json_object_set_new(b, "series", json_pack("{s:I, s:s}", "count", (json_int_t)s->count,
				"lastObservedTime", s->last_time));
	} else {
		char first[40], last[40];
		/* core v1 timestamps are whole seconds */
		snprintf(first, sizeof(first), "%.19sZ", s->first_time);
		snprintf(last, sizeof(last), "%.19sZ", s->last_time);
		b = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:I}",
			"apiVersion", "v1", "kind", "Event", "metadata", "name", s->name, "namespace", s->ns,
			"involvedObject", s->regarding, "reason", s->reason, "message", s->note, "type", s->type,
			"source", "component", ev->controller, "reportingComponent", ev->controller,
			"reportingInstance", ev->instance, "action", s->action, "firstTimestamp", first,
			"lastTimestamp", last, "count", (json_int_t)s->count);
	}
	return b;
}

static json_t *patch_body(const series *s, int api)
{
	char last[40];

	if (api == API_EVENTS)
		return json_pack("{s:{s:I, s:s}}", "series", "count", (json_int_t)s->count, "lastObservedTime",
			s->last_time);
	snprintf(last, sizeof(last), "%.19sZ", s->last_time);
	return json_pack("{s:I, s:s}", "count", (json_int_t)s->count, "lastTimestamp", last);
}

/* ---- the thread --------------------------------------------------------- */

static int detect_api(peerop_events *ev)
{
	json_t *r = NULL;
	int rc;

	if (ev->opts.core_v1)
		return API_CORE;
	rc = peerop_kube_request(&r, ev->client, "GET", "/apis/events.k8s.io/v1", NULL, NULL);
	json_decref(r);
	if (rc == 0)
		return API_EVENTS;
	if (rc == PEEROP_ENOTFOUND) {
		peerop__info("events", "the server has no events.k8s.io/v1: writing core v1 Events");
		return API_CORE;
	}
	return API_UNKNOWN;
}

/* One job: create, or write the count. Called and returns with the lock held. */
static void send_one(peerop_events *ev, series *s)
{
	const peerop_kube_resource *res;
	unsigned long long count = s->count;
	json_t *body;
	int api = ev->api, create = !s->created, rc;
	char name[300], ns[300];

	if (api == API_UNKNOWN) {
		pthread_mutex_unlock(&ev->lock);
		api = detect_api(ev);
		pthread_mutex_lock(&ev->lock);
		ev->api = api;
		ev->stats.core_v1 = api == API_CORE;
		if (api == API_UNKNOWN) {
			ev->stats.failed++;
			peerop__warn("events", "cannot tell which Event API the server has: %s; event %s dropped",
				peerop_error_last()->message, s->reason);
			s->created = s->sent = 0;
			s->count = 0;   /* nothing to finish: the sweep forgets it */
			return;
		}
	}
	res = api == API_EVENTS ? &EVENTS_V1 : &CORE_EVENTS;
	body = create ? create_body(ev, s, api) : patch_body(s, api);
	snprintf(name, sizeof(name), "%s", s->name);
	snprintf(ns, sizeof(ns), "%s", s->ns);
	pthread_mutex_unlock(&ev->lock);
	if (!body)
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	else if (create)
		rc = peerop_kube_create(NULL, ev->client, res, ns, body, NULL);
	else
		rc = peerop_kube_patch(NULL, ev->client, res, ns, name, PEEROP_KUBE_PATCH_MERGE, body, NULL);
	json_decref(body);
	pthread_mutex_lock(&ev->lock);
	if (rc == 0) {
		s->created = 1;
		s->sent = count;
		s->patched_ms = peerop__now_ms();
		if (create)
			ev->stats.created++;
		else
			ev->stats.patched++;
		/* repeated while it was being created: show the series at once */
		if (create && s->count > s->sent && s->sent == 1)
			enqueue(ev, s);
		return;
	}
	if (!create && rc == PEEROP_ENOTFOUND) {
		/* expired on the server: create it again, series and all */
		s->created = 0;
		enqueue(ev, s);
		return;
	}
	ev->stats.failed++;
	peerop__warn("events", "%s Event %s/%s (%s): %s", create ? "creating" : "updating", ns, name, s->reason,
		peerop_error_last()->message);
	s->sent = s->count;   /* best effort: do not try this count again */
}

/* Forget finished series, queue the counts that are due; lock held. */
static void sweep(peerop_events *ev, uint64_t now, int final)
{
	size_t pos = 0;
	const char *key;
	void *v;
	series *done[64];
	size_t ndone = 0, i;

	while (peerop__map_next(&ev->series, &pos, &key, &v)) {
		series *s = v;
		int finished = now - s->last_ms >= ev->opts.series_finish_ms;
		if (s->queued)
			continue;
		if (s->created && s->count > s->sent &&
		    (final || finished || now - s->patched_ms >= ev->opts.series_refresh_ms))
			enqueue(ev, s);
		else if ((finished || final) && ndone < PEEROP__ARRAY_SIZE(done))
			done[ndone++] = s;
	}
	/* (removal after the walk: the map must not change during it) */
	for (i = 0; i < ndone; i++) {
		peerop__map_remove(&ev->series, done[i]->key);
		series_free(done[i]);
	}
	/* buckets that have refilled hold nothing worth keeping */
	pos = 0;
	ndone = 0;
	{
		char *keys[64];
		while (ndone < PEEROP__ARRAY_SIZE(keys) && peerop__map_next(&ev->buckets, &pos, &key, &v)) {
			bucket *b = v;
			if ((double)(now - b->at_ms) / (double)ev->opts.refill_ms + b->tokens >= (double)ev->opts.burst)
				keys[ndone++] = (char *)key;
		}
		for (i = 0; i < ndone; i++) {
			char *k = peerop__strdup(keys[i]);
			if (k)
				free(peerop__map_remove(&ev->buckets, k));
			free(k);
		}
	}
}

static void *events_main(void *arg)
{
	peerop_events *ev = arg;
	uint64_t deadline = 0, last_sweep = 0;
	int final_done = 0;

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		uint64_t now = peerop__now_ms();
		if (ev->stopping && !deadline)
			deadline = now + FREE_GRACE_MS;
		if (!ev->stopping && now - last_sweep >= TICK_MS) {
			/* also under a steady stream of jobs: counts come due */
			sweep(ev, now, 0);
			last_sweep = now;
		}
		if (ev->head && !(deadline && now >= deadline)) {
			series *s = ev->head;
			ev->head = s->next_job;
			if (!ev->head)
				ev->tail = NULL;
			ev->njobs--;
			s->queued = 0;
			ev->busy = 1;
			send_one(ev, s);
			ev->busy = 0;
			if (!s->key && !s->queued)
				series_free(s);   /* detached while queued */
			if (!ev->head)
				pthread_cond_broadcast(&ev->idle);
			continue;
		}
		if (ev->stopping) {
			if (!final_done && now < deadline) {
				sweep(ev, now, 1);
				final_done = 1;
				continue;
			}
			break;
		}
		peerop__cond_timedwait_ms(&ev->wake, &ev->lock, TICK_MS);
	}
	/* what could not be sent in time */
	while (ev->head) {
		series *s = ev->head;
		ev->head = s->next_job;
		s->queued = 0;
		if (!s->key)
			series_free(s);
	}
	ev->tail = NULL;
	ev->njobs = 0;
	pthread_cond_broadcast(&ev->idle);
	pthread_mutex_unlock(&ev->lock);
	return NULL;
}

/* ---- the API ------------------------------------------------------------ */

int peerop_events_new(peerop_events **out, peerop_kube_client *client, const peerop_events_options *opts)
{
	peerop_events *ev;
	char host[256];

	if (!out)
		return PEEROP_EINVAL;
	*out = NULL;
	if (!client || !opts || opts->version != PEEROP_EVENTS_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "events: a client and options are required");
	if (!opts->controller || !*opts->controller || strlen(opts->controller) > MAX_WORD)
		return peerop__error_set(PEEROP_EINVAL, "events: a reporting controller name (at most 128 bytes) is required");
	if (!(ev = calloc(1, sizeof(*ev))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	ev->client = client;
	ev->opts = *opts;
#define DEF(f, v) if (!ev->opts.f) ev->opts.f = (v)
	DEF(queue_max, DEF_QUEUE);
	DEF(series_refresh_ms, DEF_REFRESH_MS);
	DEF(series_finish_ms, DEF_FINISH_MS);
	DEF(burst, DEF_BURST);
	DEF(refill_ms, DEF_REFILL_MS);
#undef DEF
	if (!opts->instance || !*opts->instance) {
		if (gethostname(host, sizeof(host)) != 0 || !host[0])
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
	}
	ev->controller = peerop__strdup(opts->controller);
	ev->instance = peerop__strndup(opts->instance && *opts->instance ? opts->instance : host, MAX_WORD);
	ev->opts.controller = ev->opts.instance = NULL;
	pthread_mutex_init(&ev->lock, NULL);
	peerop__cond_init_monotonic(&ev->wake);
	peerop__cond_init_monotonic(&ev->idle);
	if (!ev->controller || !ev->instance) {
		peerop_events_free(ev);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	if (pthread_create(&ev->thread, NULL, events_main, ev) != 0) {
		peerop_events_free(ev);
		return peerop__error_set(PEEROP_ENOMEM, "events: cannot start a thread");
	}
	ev->thread_started = 1;
	*out = ev;
	return 0;
}

static int word_ok(const char *s)
{
	return s && *s && strlen(s) <= MAX_WORD;
}

/* Cut s to at most n bytes at a UTF-8 boundary. */
static void utf8_cut(char *s, size_t n)
{
	if (strlen(s) <= n)
		return;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* May this object create another Event? lock held. */
static int budget_take(peerop_events *ev, const char *objkey, uint64_t now)
{
	bucket *b = peerop__map_get(&ev->buckets, objkey);

	if (!b) {
		if (!(b = calloc(1, sizeof(*b))))
			return 0;
		b->tokens = ev->opts.burst;
		b->at_ms = now;
		if (peerop__map_put(&ev->buckets, objkey, b, NULL) < 0) {
			free(b);
			return 0;
		}
	}
	b->tokens += (double)(now - b->at_ms) / (double)ev->opts.refill_ms;
	if (b->tokens > ev->opts.burst)
		b->tokens = ev->opts.burst;
	b->at_ms = now;
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}

int peerop_events_record(peerop_events *ev, const json_t *regarding, const char *type, const char *reason,
	const char *action, const char *note_fmt, ...)
{
	json_t *meta = json_object_get(regarding, "metadata");
	const char *api = json_string_value(json_object_get(regarding, "apiVersion"));
	const char *kind = json_string_value(json_object_get(regarding, "kind"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	char note[MAX_NOTE + 8], now_s[40];
	peerop__buf key = PEEROP__BUF_INIT;
	size_t objlen;
	series *s;
	uint64_t now;
	va_list ap;
	int rc = 0;

	if (!ev)
		return PEEROP_EINVAL;
	if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning")))
		return peerop__error_set(PEEROP_EINVAL, "event: type must be Normal or Warning");
	if (!word_ok(reason) || !word_ok(action))
		return peerop__error_set(PEEROP_EINVAL, "event: a reason and an action (at most 128 bytes) are required");
	if (!api || !kind || !name || !*name)
		return peerop__error_set(PEEROP_EINVAL, "event %s: the object needs apiVersion, kind and metadata.name",
			reason);
	note[0] = '\0';
	if (note_fmt) {
		va_start(ap, note_fmt);
		vsnprintf(note, sizeof(note), note_fmt, ap);
		va_end(ap);
		utf8_cut(note, MAX_NOTE);
	}
	/* the object, then reason and action: client-go's isomorphic key */
	if (peerop__buf_printf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s", api, kind, ns ? ns : "", name, uid ? uid : "") < 0)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	objlen = key.len;
	if (peerop__buf_printf(&key, "\x1f%s\x1f%s", reason, action) < 0) {
		peerop__buf_dispose(&key);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	micro_now(now_s, sizeof(now_s), 1);
	now = peerop__now_ms();

	pthread_mutex_lock(&ev->lock);
	if (ev->stopping) {
		rc = PEEROP_ECANCELED;
		goto out;
	}
	s = peerop__map_get(&ev->series, key.ptr);
	if (s && now - s->last_ms < ev->opts.series_finish_ms) {
		/* a repetition: count it; the first one is written at once */
		s->count++;
		s->last_ms = now;
		snprintf(s->last_time, sizeof(s->last_time), "%s", now_s);
		if (s->count == 2 && s->created)
			enqueue(ev, s);
		ev->stats.recorded++;
		goto out;
	}
	if (s) {
		/* finished, not yet swept: the thread frees it after its last write */
		peerop__map_remove(&ev->series, key.ptr);
		free(s->key);
		s->key = NULL;
		if (!s->queued) {
			if (s->created && s->count > s->sent) {
				enqueue(ev, s);
			} else {
				series_free(s);
			}
		}
	}
	key.ptr[objlen] = '\0';
	if (ev->njobs >= ev->opts.queue_max || peerop__map_count(&ev->series) >= MAX_SERIES ||
	    !budget_take(ev, key.ptr, now)) {
		ev->stats.dropped++;
		rc = peerop__error_set(PEEROP_ETOOMANY, "event %s about %s %s dropped: too many events", reason, kind,
			name);
		goto out;
	}
	key.ptr[objlen] = '\x1f';
	s = calloc(1, sizeof(*s));
	if (s) {
		char nm[260];
		/* name.<hex>: client-go's pattern, unique per recorder */
		snprintf(nm, sizeof(nm), "%.200s.%llx%04llx", name, (unsigned long long)peerop__wall_ms(),
			++ev->seq & 0xffff);
		s->key = peerop__strdup(key.ptr);
		s->name = peerop__strdup(nm);
		s->ns = peerop__strdup(ns && *ns ? ns : "default");
		s->regarding = json_pack("{s:s, s:s, s:s}", "apiVersion", api, "kind", kind, "name", name);
		s->type = peerop__strdup(type);
		s->reason = peerop__strdup(reason);
		s->action = peerop__strdup(action);
		s->note = peerop__strdup(note);
		if (s->regarding && ns && *ns)
			json_object_set_new(s->regarding, "namespace", json_string(ns));
		if (s->regarding && uid)
			json_object_set_new(s->regarding, "uid", json_string(uid));
		if (s->regarding && rv)
			json_object_set_new(s->regarding, "resourceVersion", json_string(rv));
		snprintf(s->first_time, sizeof(s->first_time), "%s", now_s);
		snprintf(s->last_time, sizeof(s->last_time), "%s", now_s);
		s->count = 1;
		s->last_ms = s->patched_ms = now;
	}
	if (!s || !s->key || !s->name || !s->ns || !s->regarding || !s->type || !s->reason || !s->action ||
	    !s->note || peerop__map_put(&ev->series, s->key, s, NULL) < 0) {
		series_free(s);
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto out;
	}
	enqueue(ev, s);
	ev->stats.recorded++;
out:
	pthread_mutex_unlock(&ev->lock);
	peerop__buf_dispose(&key);
	return rc;
}

int peerop_events_flush(peerop_events *ev, unsigned int timeout_ms)
{
	uint64_t deadline = peerop__now_ms() + timeout_ms;
	int rc = 0;

	if (!ev)
		return PEEROP_EINVAL;
	pthread_mutex_lock(&ev->lock);
	while (ev->head || ev->busy) {
		uint64_t now = peerop__now_ms();
		if (now >= deadline) {
			rc = peerop__error_set(PEEROP_ETIMEOUT, "events: %zu still queued after %u ms", ev->njobs, timeout_ms);
			break;
		}
		peerop__cond_timedwait_ms(&ev->idle, &ev->lock, deadline - now);
	}
	pthread_mutex_unlock(&ev->lock);
	return rc;
}

void peerop_events_get_stats(peerop_events *ev, peerop_events_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	*out = ev->stats;
	out->open_series = peerop__map_count(&ev->series);
	pthread_mutex_unlock(&ev->lock);
}

static int free_bucket(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 0;
}

static int free_series(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	series_free(value);
	return 0;
}

void peerop_events_free(peerop_events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->stopping = 1;
	pthread_cond_broadcast(&ev->wake);
	pthread_mutex_unlock(&ev->lock);
	if (ev->thread_started)
		pthread_join(ev->thread, NULL);
	peerop__map_each(&ev->series, free_series, NULL);
	peerop__map_dispose(&ev->series);
	peerop__map_each(&ev->buckets, free_bucket, NULL);
	peerop__map_dispose(&ev->buckets);
	pthread_cond_destroy(&ev->wake);
	pthread_cond_destroy(&ev->idle);
	pthread_mutex_destroy(&ev->lock);
	free(ev->controller);
	free(ev->instance);
	free(ev);
}
