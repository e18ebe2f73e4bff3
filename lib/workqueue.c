/*
 * workqueue.c: the rate-limited work queue (include/peerop/workqueue.h).
 *
 * Invariants, all under q->lock:
 * - a key has an item in q->items while it is dirty, processing or delayed;
 * - an item is in the ready FIFO exactly when it is dirty and not
 *   processing (so it is there at most once: adds collapse);
 * - an item dirty and processing waits for peerop_workqueue_done(), which
 *   puts it in the FIFO again: one key never runs on two workers.
 */
#include "internal.h"
#include "workqueue_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMP "workqueue"
#define DEFAULT_NAME "workqueue"
#define DEFAULT_BASE_MS 5u
#define DEFAULT_MAX_MS 1000000u
#define DEFAULT_QPS 10.0
#define DEFAULT_BURST 100u

PEEROP_EXTERN(int) peerop_workqueue_options_init(peerop_workqueue_options *opts, unsigned int version)
{
	peerop_workqueue_options init = PEEROP_WORKQUEUE_OPTIONS_INIT;
	if (!opts || version != PEEROP_WORKQUEUE_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_workqueue_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

/* The name goes into log lines and metric labels: printable text only. */
static int name_ok(const char *s)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return 0;
	return n <= 253;
}

PEEROP_EXTERN(int) peerop_workqueue_new(peerop_workqueue **out, const peerop_workqueue_options *opts)
{
	peerop_workqueue_options defaults = PEEROP_WORKQUEUE_OPTIONS_INIT;
	peerop_workqueue *q;
	int err;

	if (out)
		*out = NULL;
	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_workqueue_new: out is required");
	if (!opts)
		opts = &defaults;
	if (opts->version != PEEROP_WORKQUEUE_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_workqueue_new: unknown options version %u", opts->version);
	if (isnan(opts->qps))
		return peerop__error_set(PEEROP_EINVAL, "peerop_workqueue_new: qps is not a number");
	if (opts->name && !name_ok(opts->name))
		return peerop__error_set(PEEROP_EINVAL,
			"peerop_workqueue_new: name must be printable, without quotes or backslashes, at most 253 bytes");
	q = calloc(1, sizeof(*q));
	if (!q || !(q->name = strdup(opts->name && *opts->name ? opts->name : DEFAULT_NAME))) {
		free(q);
		return peerop__error_set(PEEROP_ENOMEM, "peerop_workqueue_new: out of memory");
	}
	pthread_mutex_init(&q->lock, NULL);
	/* Cannot fail on Linux (glibc's pthread_cond_init always succeeds). */
	peerop__cond_init_monotonic(&q->ready);
	peerop__cond_init_monotonic(&q->idle);
	peerop__cond_init_monotonic(&q->delay_wake);
	peerop__ratelimit_init(&q->rl,
		opts->base_delay_ms ? opts->base_delay_ms : DEFAULT_BASE_MS,
		opts->max_delay_ms ? opts->max_delay_ms : DEFAULT_MAX_MS,
		opts->qps == 0 ? DEFAULT_QPS : opts->qps,
		opts->burst ? opts->burst : DEFAULT_BURST);
	err = pthread_create(&q->delay_thread, NULL, peerop__wq_delay_main, q);
	if (err) {
		peerop_workqueue_free(q);
		return peerop__error_set(err == EAGAIN ? PEEROP_ENOMEM : PEEROP_ERROR,
			"peerop_workqueue_new: cannot start the delay thread: %s", strerror(err));
	}
	q->thread_started = 1;
	peerop__debug(COMP, "work queue %s created", q->name);
	*out = q;
	return 0;
}

static int check_key(const char *fn, const peerop_workqueue *q, const char *key)
{
	if (!q)
		return peerop__error_set(PEEROP_EINVAL, "%s: missing queue", fn);
	if (!key || !*key)
		return peerop__error_set(PEEROP_EINVAL, "%s: the key is NULL or empty", fn);
	return 0;
}

static int canceled(const char *fn, const peerop_workqueue *q)
{
	return peerop__error_set(PEEROP_ECANCELED, "%s: work queue %s is shut down", fn, q->name);
}

/* A new item for a key that has none. PEEROP_ENOMEM leaves q unchanged. */
static int item_new(peerop_workqueue *q, const char *key, peerop__wq_item **out)
{
	size_t len = strlen(key);
	peerop__wq_item *it = calloc(1, sizeof(*it) + len + 1);

	if (!it)
		return PEEROP_ENOMEM;
	memcpy(it->key, key, len + 1);
	it->heap_index = PEEROP__WQ_NOT_DELAYED;
	if (peerop__map_put(&q->items, key, it, NULL) != 0) {
		free(it);
		return PEEROP_ENOMEM;
	}
	*out = it;
	return 0;
}

void peerop__wq_release_locked(peerop_workqueue *q, peerop__wq_item *it)
{
	if (it->dirty || it->processing || it->heap_index != PEEROP__WQ_NOT_DELAYED)
		return;
	peerop__map_remove(&q->items, it->key);
	free(it);
}

static void fifo_push(peerop_workqueue *q, peerop__wq_item *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->depth++;
	pthread_cond_signal(&q->ready);
}

void peerop__wq_add_item_locked(peerop_workqueue *q, peerop__wq_item *it, uint64_t now)
{
	if (it->dirty)
		return; /* waiting already: collapse */
	it->dirty = 1;
	it->added_ns = now;
	q->adds_total++;
	if (!it->processing)
		fifo_push(q, it);
}

/* Queue now (delay 0) or delay. Called with the lock held. */
static int add_locked(peerop_workqueue *q, const char *key, uint64_t delay_ns, uint64_t now)
{
	peerop__wq_item *it = peerop__map_get(&q->items, key);
	int rc;

	if (!delay_ns && it && it->dirty)
		return 0; /* collapsed: no item needed */
	if (!it && (rc = item_new(q, key, &it)) != 0)
		return rc;
	if (!delay_ns) {
		peerop__wq_add_item_locked(q, it, now);
		return 0;
	}
	rc = peerop__wq_delay_locked(q, it, peerop__sat_add(now, delay_ns));
	if (rc)
		peerop__wq_release_locked(q, it);
	return rc;
}

static int add_common(const char *fn, peerop_workqueue *q, const char *key, unsigned long long delay_ms)
{
	int rc;

	if ((rc = check_key(fn, q, key)) != 0)
		return rc;
	pthread_mutex_lock(&q->lock);
	rc = q->shutting_down ? PEEROP_ECANCELED :
		add_locked(q, key, peerop__sat_mul(delay_ms, 1000000u), peerop__mono_ns(NULL));
	pthread_mutex_unlock(&q->lock);
	if (rc == PEEROP_ECANCELED)
		return canceled(fn, q);
	if (rc)
		return peerop__error_set(rc, "%s: out of memory", fn);
	return 0;
}

PEEROP_EXTERN(int) peerop_workqueue_add(peerop_workqueue *q, const char *key)
{
	return add_common("peerop_workqueue_add", q, key, 0);
}

PEEROP_EXTERN(int) peerop_workqueue_add_after(peerop_workqueue *q, const char *key,
	unsigned long long delay_ms)
{
	return add_common("peerop_workqueue_add_after", q, key, delay_ms);
}

PEEROP_EXTERN(int) peerop_workqueue_add_rate_limited(peerop_workqueue *q, const char *key)
{
	static const char fn[] = "peerop_workqueue_add_rate_limited";
	uint64_t delay = 0;
	int rc;

	if ((rc = check_key(fn, q, key)) != 0)
		return rc;
	pthread_mutex_lock(&q->lock);
	if (q->shutting_down)
		rc = PEEROP_ECANCELED;
	else if ((rc = peerop__ratelimit_when(&q->rl, key, &delay)) == 0 &&
	         (rc = add_locked(q, key, delay, peerop__mono_ns(NULL))) == 0)
		q->retries_total++;
	/* A failed add keeps its counted failure: the next retry then waits a
	 * little longer, which errs on the safe side. */
	pthread_mutex_unlock(&q->lock);
	if (rc == PEEROP_ECANCELED)
		return canceled(fn, q);
	if (rc)
		return peerop__error_set(rc, "%s: out of memory", fn);
	return 0;
}

PEEROP_EXTERN(void) peerop_workqueue_forget(peerop_workqueue *q, const char *key)
{
	if (!q || !key)
		return;
	pthread_mutex_lock(&q->lock);
	peerop__ratelimit_forget(&q->rl, key);
	pthread_mutex_unlock(&q->lock);
}

PEEROP_EXTERN(unsigned int) peerop_workqueue_num_requeues(peerop_workqueue *q, const char *key)
{
	unsigned int n;
	if (!q || !key)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = peerop__ratelimit_requeues(&q->rl, key);
	pthread_mutex_unlock(&q->lock);
	return n;
}

static struct timespec deadline_ts(uint64_t ns)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/* The bucket of a duration: the first bound 1e-8 * 10^i it does not
 * exceed, or the +Inf slot. */
static size_t duration_bucket(uint64_t ns)
{
	uint64_t bound = 10;   /* 1e-8 s */
	size_t i;

	for (i = 0; i < PEEROP_WORKQUEUE_DURATION_BUCKETS; i++, bound *= 10)
		if (ns <= bound)
			return i;
	return PEEROP_WORKQUEUE_DURATION_BUCKETS;
}

/* Hand out the FIFO's head: it becomes processing. */
static void take_head(peerop_workqueue *q, uint64_t now)
{
	peerop__wq_item *it = q->head;

	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	it->next = NULL;
	q->depth--;
	it->dirty = 0;
	it->processing = 1;
	it->started_ns = now;
	q->queue_wait_ns += now - it->added_ns;
	q->wait_hist[duration_bucket(now - it->added_ns)]++;
	q->gets++;
	it->run_next = NULL;
	it->run_prev = q->run_tail;
	if (q->run_tail)
		q->run_tail->run_next = it;
	else
		q->run_head = it;
	q->run_tail = it;
	q->processing++;
}

PEEROP_EXTERN(int) peerop_workqueue_get(char **out, peerop_workqueue *q, int timeout_ms)
{
	static const char fn[] = "peerop_workqueue_get";
	uint64_t deadline = 0;
	int rc, timed_out = 0;

	if (out)
		*out = NULL;
	if (!out || !q || timeout_ms < -1)
		return peerop__error_set(PEEROP_EINVAL, "%s: missing argument or timeout below -1", fn);
	if (timeout_ms > 0)
		deadline = peerop__mono_ns(NULL) + (uint64_t)timeout_ms * 1000000u;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->shutting_down) {
			rc = PEEROP_ECANCELED;
			break;
		}
		if (q->head) {
			/* Copy first: if that fails the key stays queued. */
			if (!(*out = strdup(q->head->key))) {
				rc = PEEROP_ENOMEM;
				break;
			}
			take_head(q, peerop__mono_ns(NULL));
			rc = 0;
			break;
		}
		if (timeout_ms == 0 || timed_out) {
			rc = PEEROP_ETIMEOUT;
			break;
		}
		q->waiters++;
		if (timeout_ms < 0) {
			pthread_cond_wait(&q->ready, &q->lock);
		} else {
			struct timespec ts = deadline_ts(deadline);
			/* Look once more after a timeout: a key queued at that very
			 * moment may have spent its signal on this getter. */
			timed_out = pthread_cond_timedwait(&q->ready, &q->lock, &ts) == ETIMEDOUT;
		}
		q->waiters--;
	}
	pthread_mutex_unlock(&q->lock);
	if (rc == PEEROP_ECANCELED)
		return canceled(fn, q);
	if (rc == PEEROP_ETIMEOUT)
		return peerop__error_set(rc, "%s: no key within %d ms", fn, timeout_ms);
	if (rc)
		return peerop__error_set(rc, "%s: out of memory", fn);
	return 0;
}

PEEROP_EXTERN(void) peerop_workqueue_done(peerop_workqueue *q, const char *key)
{
	peerop__wq_item *it;
	uint64_t now;

	if (!q || !key)
		return;
	pthread_mutex_lock(&q->lock);
	it = peerop__map_get(&q->items, key);
	if (!it || !it->processing) {
		pthread_mutex_unlock(&q->lock);
		peerop__debug(COMP, "work queue %s: done for a key not being processed", q->name);
		return;
	}
	now = peerop__mono_ns(NULL);
	q->work_ns += now - it->started_ns;
	q->work_hist[duration_bucket(now - it->started_ns)]++;
	q->dones++;
	if (it->run_prev)
		it->run_prev->run_next = it->run_next;
	else
		q->run_head = it->run_next;
	if (it->run_next)
		it->run_next->run_prev = it->run_prev;
	else
		q->run_tail = it->run_prev;
	it->run_prev = it->run_next = NULL;
	it->processing = 0;
	if (--q->processing == 0)
		pthread_cond_broadcast(&q->idle);
	if (it->dirty && !q->shutting_down)
		fifo_push(q, it);
	else
		peerop__wq_release_locked(q, it);
	pthread_mutex_unlock(&q->lock);
}

PEEROP_EXTERN(void) peerop_workqueue_shutdown(peerop_workqueue *q)
{
	peerop__wq_item *it, *next;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->shutting_down) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->shutting_down = 1;
	/* Waiting and delayed keys are dropped now; keys being processed stay
	 * until their done(), which will not queue them again. */
	for (it = q->head; it; it = next) {
		next = it->next;
		it->next = NULL;
		it->dirty = 0;
		peerop__wq_release_locked(q, it);
	}
	q->head = q->tail = NULL;
	q->depth = 0;
	peerop__wq_heap_clear_locked(q);
	for (it = q->run_head; it; it = it->run_next)
		it->dirty = 0;
	pthread_cond_broadcast(&q->ready);
	pthread_cond_broadcast(&q->delay_wake);
	pthread_mutex_unlock(&q->lock);
	peerop__debug(COMP, "work queue %s shut down", q->name);
}

PEEROP_EXTERN(int) peerop_workqueue_wait_idle(peerop_workqueue *q, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	if (!q || timeout_ms < -1)
		return peerop__error_set(PEEROP_EINVAL, "peerop_workqueue_wait_idle: missing queue or timeout below -1");
	ts = deadline_ts(peerop__mono_ns(NULL) + (timeout_ms > 0 ? (uint64_t)timeout_ms * 1000000u : 0));
	pthread_mutex_lock(&q->lock);
	while (q->processing > 0 && timeout_ms != 0 && rc != ETIMEDOUT) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->idle, &q->lock);
		else
			rc = pthread_cond_timedwait(&q->idle, &q->lock, &ts);
	}
	rc = q->processing > 0 ? PEEROP_ETIMEOUT : 0;
	pthread_mutex_unlock(&q->lock);
	if (rc)
		return peerop__error_set(rc, "work queue %s: keys still processing after %d ms", q->name, timeout_ms);
	return 0;
}

PEEROP_EXTERN(void) peerop_workqueue_get_stats(peerop_workqueue *q, peerop_workqueue_stats *out)
{
	uint64_t now;
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	now = peerop__mono_ns(NULL);
	out->depth = q->depth;
	out->processing = q->processing;
	out->delayed = q->nheap;
	out->adds_total = q->adds_total;
	out->retries_total = q->retries_total;
	/* The processing list is in get order: its head has run longest. */
	if (q->run_head)
		out->longest_running_s = (double)(now - q->run_head->started_ns) / 1e9;
	out->queue_wait_sum_s = (double)q->queue_wait_ns / 1e9;
	out->work_sum_s = (double)q->work_ns / 1e9;
	out->gets_total = q->gets;
	out->dones_total = q->dones;
	{
		unsigned long long wsum = 0, ksum = 0;
		size_t i;
		peerop__wq_item *it;
		for (i = 0; i < PEEROP_WORKQUEUE_DURATION_BUCKETS; i++) {
			wsum += q->wait_hist[i];
			ksum += q->work_hist[i];
			out->queue_wait_buckets[i] = wsum;
			out->work_buckets[i] = ksum;
		}
		for (it = q->run_head; it; it = it->run_next)
			out->unfinished_work_s += (double)(now - it->started_ns) / 1e9;
	}
	pthread_mutex_unlock(&q->lock);
}

PEEROP_EXTERN(const char *) peerop_workqueue_name(const peerop_workqueue *q)
{
	return q ? q->name : DEFAULT_NAME;
}

PEEROP_EXTERN(void) peerop_workqueue_free(peerop_workqueue *q)
{
	size_t pos = 0;
	void *v;

	if (!q)
		return;
	peerop_workqueue_shutdown(q);
	if (q->thread_started)
		pthread_join(q->delay_thread, NULL);
	/* Keys still marked processing (their done() never came). */
	while (peerop__map_next(&q->items, &pos, NULL, &v))
		free(v);
	peerop__map_dispose(&q->items);
	peerop__ratelimit_dispose(&q->rl);
	free(q->heap);
	pthread_cond_destroy(&q->ready);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->delay_wake);
	pthread_mutex_destroy(&q->lock);
	free(q->name);
	free(q);
}

/* ---- for tests ----------------------------------------------------------- */

void peerop__workqueue_set_clock(peerop_workqueue *q, peerop__clock_fn fn, void *payload)
{
	pthread_mutex_lock(&q->lock);
	peerop__ratelimit_set_clock(&q->rl, fn, payload);
	pthread_mutex_unlock(&q->lock);
}

int peerop__workqueue_ready_at(peerop_workqueue *q, const char *key, uint64_t *out_ns)
{
	peerop__wq_item *it;
	int rc = PEEROP_ENOENT;
	pthread_mutex_lock(&q->lock);
	it = peerop__map_get(&q->items, key);
	if (it && it->heap_index != PEEROP__WQ_NOT_DELAYED) {
		*out_ns = it->ready_at_ns;
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

size_t peerop__workqueue_waiters(peerop_workqueue *q)
{
	size_t n;
	pthread_mutex_lock(&q->lock);
	n = q->waiters;
	pthread_mutex_unlock(&q->lock);
	return n;
}
