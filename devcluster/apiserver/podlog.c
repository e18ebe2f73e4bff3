/* podlog.c: container logs, what `kubectl logs` reads through the
 * pods/log subresource.
 *
 * Each container keeps its current instance's output and the previous
 * instance's (`--previous`), in memory, as lines stamped with the time
 * they were read ("2026-11-26T10:35:37.993514000Z text\n"), which serves
 * `timestamps`, `sinceSeconds` and `sinceTime`. A log is capped at
 * LOG_MAX bytes, oldest lines dropped first (the real kubelet rotates
 * files at 10 MiB). Followers (`follow=true`) block on the condition
 * variable until new lines come, the instance ends, the pod goes or the
 * server stops. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MAX (4u * 1024u * 1024u)
#define LOG_KEEP (3u * 1024u * 1024u)
#define PARTIAL_MAX (16u * 1024u)

typedef struct logbuf {
	peerop__buf b;          /* stamped lines */
	uint64_t base;          /* the absolute offset of b.ptr[0] */
	uint64_t instance;
	bool ended;
	peerop__buf partial;    /* an unterminated line so far */
} logbuf;

typedef struct ctrlog {
	logbuf cur, prev;
} ctrlog;

struct dc_podlogs {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	peerop__map logs;           /* "uid/container" -> ctrlog */
	uint64_t instances;
	bool closing;
};

dc_podlogs *dc_podlogs_new(void)
{
	dc_podlogs *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	return l;
}

static void logbuf_dispose(logbuf *b)
{
	peerop__buf_dispose(&b->b);
	peerop__buf_dispose(&b->partial);
}

static int free_ctrlog(const char *key, void *val, void *arg)
{
	ctrlog *c = val;
	(void)key;
	(void)arg;
	logbuf_dispose(&c->cur);
	logbuf_dispose(&c->prev);
	free(c);
	return 0;
}

void dc_podlogs_free(dc_podlogs *l)
{
	if (!l)
		return;
	peerop__map_each(&l->logs, free_ctrlog, NULL);
	peerop__map_dispose(&l->logs);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void dc_podlogs_close(dc_podlogs *l)
{
	pthread_mutex_lock(&l->mu);
	l->closing = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

static ctrlog *find(dc_podlogs *l, const char *uid, const char *ctr, bool create)
{
	char key[512];
	ctrlog *c;
	snprintf(key, sizeof(key), "%s/%s", uid, ctr);
	c = peerop__map_get(&l->logs, key);
	if (c || !create)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c || peerop__map_put(&l->logs, key, c, NULL) != 0) {
		free(c);
		return NULL;
	}
	c->cur.instance = ++l->instances;
	return c;
}

static void put_record(logbuf *lb, const char *text, size_t len)
{
	char ts[40];
	dc_now_rfc3339_nano(ts, sizeof(ts));
	peerop__buf_puts(&lb->b, ts);
	peerop__buf_putc(&lb->b, ' ');
	peerop__buf_put(&lb->b, text, len);
	peerop__buf_putc(&lb->b, '\n');
	if (lb->b.len > LOG_MAX) {
		/* drop the oldest lines, keeping whole lines */
		size_t cut = lb->b.len - LOG_KEEP;
		const char *nl = memchr(lb->b.ptr + cut, '\n', lb->b.len - cut);
		cut = nl ? (size_t)(nl - lb->b.ptr) + 1 : lb->b.len;
		peerop__buf_consume(&lb->b, cut);
		lb->base += cut;
	}
}

void dc_podlog_start(dc_podlogs *l, const char *uid, const char *ctr)
{
	ctrlog *c;
	pthread_mutex_lock(&l->mu);
	c = find(l, uid, ctr, true);
	if (c && (c->cur.b.len || c->cur.ended)) {
		logbuf_dispose(&c->prev);
		c->prev = c->cur;
		c->prev.ended = true;
		memset(&c->cur, 0, sizeof(c->cur));
		c->cur.base = c->prev.base + c->prev.b.len;
		c->cur.instance = ++l->instances;
	}
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

void dc_podlog_write(dc_podlogs *l, const char *uid, const char *ctr, const char *data, size_t len)
{
	ctrlog *c;
	pthread_mutex_lock(&l->mu);
	c = find(l, uid, ctr, true);
	while (c && len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len, room = PARTIAL_MAX - c->cur.partial.len;
		bool full = n >= room;
		if (full) {
			/* a line longer than PARTIAL_MAX is cut into lines of that size */
			n = room;
			nl = NULL;
		}
		if (nl || full) {
			if (c->cur.partial.len) {
				peerop__buf_put(&c->cur.partial, data, n);
				put_record(&c->cur, c->cur.partial.ptr, c->cur.partial.len);
				peerop__buf_clear(&c->cur.partial);
			} else {
				put_record(&c->cur, data, n);
			}
		} else {
			peerop__buf_put(&c->cur.partial, data, n);
		}
		if (nl)
			n++;
		data += n;
		len -= n;
	}
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

void dc_podlog_end(dc_podlogs *l, const char *uid, const char *ctr)
{
	ctrlog *c;
	pthread_mutex_lock(&l->mu);
	c = find(l, uid, ctr, false);
	if (c) {
		if (c->cur.partial.len) {
			put_record(&c->cur, c->cur.partial.ptr, c->cur.partial.len);
			peerop__buf_clear(&c->cur.partial);
		}
		c->cur.ended = true;
	}
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

typedef struct forget_arg {
	const char *prefix;
	size_t n;
	char **keys;
	size_t nkeys, cap;
} forget_arg;

static int collect(const char *key, void *val, void *arg)
{
	forget_arg *f = arg;
	(void)val;
	if (!strncmp(key, f->prefix, f->n) && key[f->n] == '/') {
		if (f->nkeys == f->cap) {
			size_t ncap = f->cap ? 2 * f->cap : 8;
			char **nk = realloc(f->keys, ncap * sizeof(*nk));
			if (!nk)
				return 1;
			f->keys = nk;
			f->cap = ncap;
		}
		f->keys[f->nkeys] = strdup(key);
		if (f->keys[f->nkeys])
			f->nkeys++;
	}
	return 0;
}

void dc_podlog_forget(dc_podlogs *l, const char *uid)
{
	forget_arg f = { uid, strlen(uid), NULL, 0, 0 };
	size_t i;
	pthread_mutex_lock(&l->mu);
	peerop__map_each(&l->logs, collect, &f);
	for (i = 0; i < f.nkeys; i++) {
		ctrlog *c = peerop__map_remove(&l->logs, f.keys[i]);
		if (c)
			free_ctrlog(NULL, c, NULL);
		free(f.keys[i]);
	}
	free(f.keys);
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

/* ---- reading ---- */

/* Append the records of [from, to) of text that pass q, as q wants them. */
static void emit(peerop__buf *out, const char *text, size_t len, const dc_logq *q)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp;
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		sp = memchr(p, ' ', n);
		if (sp && q->since) {
			char ts[40];
			time_t t;
			size_t tl = (size_t)(sp - p) < sizeof(ts) - 1 ? (size_t)(sp - p) : sizeof(ts) - 1;
			memcpy(ts, p, tl);
			ts[tl] = '\0';
			if (dc_parse_time(ts, &t) && t < q->since) {
				p += n;
				continue;
			}
		}
		if (q->timestamps || !sp)
			peerop__buf_put(out, p, n);
		else
			peerop__buf_put(out, sp + 1, (size_t)(p + n - sp - 1));
		p += n;
	}
}

/* The offset in lb of the last tail lines (or 0). */
static size_t tail_start(const logbuf *lb, long long tail)
{
	size_t i = lb->b.len;
	if (tail < 0)
		return 0;
	if (tail == 0)
		return lb->b.len;
	while (i > 0) {
		i--;
		if (i < lb->b.len - 1 && lb->b.ptr[i] == '\n' && --tail == 0)
			return i + 1;
	}
	return 0;
}

int dc_podlog_read(dc_podlogs *l, const char *uid, const char *ctr, const dc_logq *q, peerop__buf *out,
	uint64_t *end_off, uint64_t *instance)
{
	ctrlog *c;
	const logbuf *lb;
	int rc = 0;
	pthread_mutex_lock(&l->mu);
	c = find(l, uid, ctr, false);
	lb = c ? (q->previous ? &c->prev : &c->cur) : NULL;
	if (q->previous && (!c || !lb->ended || lb->instance == 0)) {
		rc = PEEROP_ENOENT;
	} else if (lb) {
		size_t from = tail_start(lb, q->tail_lines);
		emit(out, lb->b.ptr + from, lb->b.len - from, q);
	}
	if (end_off)
		*end_off = lb ? lb->base + lb->b.len : 0;
	if (instance)
		*instance = lb ? lb->instance : 0;
	pthread_mutex_unlock(&l->mu);
	if (q->limit_bytes >= 0 && out->len > (size_t)q->limit_bytes)
		out->len = (size_t)q->limit_bytes;
	return rc;
}

int dc_podlog_wait(dc_podlogs *l, const char *uid, const char *ctr, const dc_logq *q, uint64_t *off,
	uint64_t instance, peerop__buf *out, unsigned ms)
{
	ctrlog *c;
	int rc = 0;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		c = find(l, uid, ctr, false);
		if (l->closing || !c || c->cur.instance != instance) {
			rc = 1;
			break;
		}
		if (c->cur.base + c->cur.b.len > *off) {
			size_t from = *off > c->cur.base ? (size_t)(*off - c->cur.base) : 0;
			emit(out, c->cur.b.ptr + from, c->cur.b.len - from, q);
			*off = c->cur.base + c->cur.b.len;
			break;
		}
		if (c->cur.ended) {
			rc = 1;
			break;
		}
		if (ms == 0)
			break;
		{
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (long)(ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&l->cond, &l->mu, &ts) != 0)
				ms = 0;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}
