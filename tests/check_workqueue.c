/*
 * check_workqueue.c: the rate-limited work queue (include/peerop/workqueue.h).
 *
 * Delays are checked through the deadline a delayed key is due at (bounded
 * by the clock read before and after the call); waits only have "not
 * before" lower bounds. The rate limiter has its own: check_ratelimit.c.
 * The concurrency property test takes its seed from PEEROP_TEST_SEED
 * (random otherwise) and prints it on failure.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "workqueue_internal.h"
#include "testhelp.h"

#include "wqhelp.h"

/* ---- options and lifecycle ---------------------------------------------- */

START_TEST(test_options)
{
	peerop_workqueue_options o;
	peerop_workqueue *q = (peerop_workqueue *)1;
	char name[32];

	ck_assert_int_eq(peerop_workqueue_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_options_init(NULL, PEEROP_WORKQUEUE_OPTIONS_VERSION), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_options_init(&o, PEEROP_WORKQUEUE_OPTIONS_VERSION), 0);
	ck_assert_uint_eq(o.version, PEEROP_WORKQUEUE_OPTIONS_VERSION);
	ck_assert_ptr_null(o.name);
	ck_assert_uint_eq(o.base_delay_ms, 0);

	ck_assert_int_eq(peerop_workqueue_new(NULL, NULL), PEEROP_EINVAL);
	o.version = 2;
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), PEEROP_EINVAL);
	ck_assert_ptr_null(q);
	o.version = PEEROP_WORKQUEUE_OPTIONS_VERSION;
	o.qps = NAN;
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), PEEROP_EINVAL);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "qps"));
	o.qps = 0;
	o.name = "bad\nname";
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), PEEROP_EINVAL);
	o.name = "with \"quotes\"";
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), PEEROP_EINVAL);

	/* Defaults: the name, and client-go's delays. */
	ck_assert_int_eq(peerop_workqueue_new(&q, NULL), 0);
	ck_assert_str_eq(peerop_workqueue_name(q), "workqueue");
	ck_assert_uint_eq(q->rl.base_ns, 5 * MS);
	ck_assert_uint_eq(q->rl.max_ns, 1000000 * MS);
	ck_assert_uint_eq(q->rl.interval_ns, 100 * MS);
	ck_assert_uint_eq(q->rl.burst, 100);
	peerop_workqueue_free(q);

	/* The name is copied. */
	snprintf(name, sizeof(name), "httpservers");
	o.name = name;
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), 0);
	name[0] = 'X';
	ck_assert_str_eq(peerop_workqueue_name(q), "httpservers");
	peerop_workqueue_free(q);

	ck_assert_ptr_nonnull(peerop_workqueue_name(NULL));
	peerop_workqueue_free(NULL);
}
END_TEST

/* ---- the queue's rules ---------------------------------------------------- */

START_TEST(test_dedup_and_order)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	peerop_workqueue_stats s;

	ck_assert_int_eq(peerop_workqueue_add(q, "ns/a"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "ns/b"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "ns/a"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "ns/c"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "ns/b"), 0);
	s = stats_of(q);
	ck_assert_uint_eq(s.depth, 3);
	ck_assert_uint_eq(s.adds_total, 3); /* collapsed adds do not count */
	take_and_done(q, "ns/a");
	take_and_done(q, "ns/b");
	take_and_done(q, "ns/c");
	expect_empty(q);
	s = stats_of(q);
	ck_assert_uint_eq(s.depth, 0);
	ck_assert_uint_eq(s.processing, 0);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	peerop_workqueue_free(q);
}
END_TEST

START_TEST(test_dirty_requeue)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	peerop_workqueue_stats s;
	char *k, *k2;

	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	k = get_now(q);
	ck_assert_str_eq(k, "a");
	/* Added twice while processing: not handed to a second worker, and
	 * queued once when done. */
	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	s = stats_of(q);
	ck_assert_uint_eq(s.depth, 0);
	ck_assert_uint_eq(s.processing, 1);
	ck_assert_uint_eq(s.adds_total, 2);
	expect_empty(q);
	peerop_workqueue_done(q, k);
	peerop_free(k);
	s = stats_of(q);
	ck_assert_uint_eq(s.depth, 1);
	ck_assert_uint_eq(s.processing, 0);
	k2 = get_now(q);
	ck_assert_str_eq(k2, "a");
	peerop_workqueue_done(q, k2);
	peerop_free(k2);
	expect_empty(q); /* exactly once more */

	/* done for keys not being processed is harmless */
	peerop_workqueue_done(q, "a");
	peerop_workqueue_done(q, "never-added");
	peerop_workqueue_done(q, NULL);
	peerop_workqueue_done(NULL, "a");
	ck_assert_int_eq(peerop_workqueue_add(q, "b"), 0);
	peerop_workqueue_done(q, "b"); /* queued, not processing: stays queued */
	take_and_done(q, "b");
	expect_empty(q);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	peerop_workqueue_free(q);
}
END_TEST

START_TEST(test_get_timeout)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char *k = NULL;
	uint64_t t0;

	ck_assert_int_eq(peerop_workqueue_get(NULL, q, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_get(&k, NULL, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_get(&k, q, -2), PEEROP_EINVAL);
	t0 = th_now_ms();
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 100), PEEROP_ETIMEOUT);
	ck_assert_uint_ge(th_now_ms() - t0, 100);
	ck_assert_ptr_null(k);
	ck_assert_int_eq(peerop_error_last()->code, PEEROP_ETIMEOUT);
	peerop_workqueue_free(q);
}
END_TEST

/* ---- delayed adds ----------------------------------------------------------- */

START_TEST(test_add_after_earliest_wins)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	uint64_t before, after, at = 0, at2 = 0;
	char *k = NULL;

	before = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "k", 3600000), 0);
	after = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "k", &at), 0);
	ck_assert_uint_ge(at, before + 3600000 * MS);
	ck_assert_uint_le(at, after + 3600000 * MS);
	ck_assert_uint_eq(stats_of(q).delayed, 1);
	ck_assert_uint_eq(stats_of(q).depth, 0);

	/* An earlier delay replaces it... */
	before = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "k", 150), 0);
	after = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "k", &at), 0);
	ck_assert_uint_ge(at, before + 150 * MS);
	ck_assert_uint_le(at, after + 150 * MS);
	/* ...a later one does not. */
	ck_assert_int_eq(peerop_workqueue_add_after(q, "k", 7200000), 0);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "k", &at2), 0);
	ck_assert_uint_eq(at2, at);
	ck_assert_uint_eq(stats_of(q).delayed, 1);

	/* It appears, not before it is due. */
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 30000), 0);
	ck_assert_uint_ge(peerop__mono_ns(NULL), at);
	ck_assert_str_eq(k, "k");
	ck_assert_uint_eq(stats_of(q).delayed, 0);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "k", &at2), PEEROP_ENOENT);
	peerop_workqueue_done(q, k);
	peerop_free(k);
	expect_empty(q);

	/* A delay of 0 is an add. */
	ck_assert_int_eq(peerop_workqueue_add_after(q, "now", 0), 0);
	ck_assert_uint_eq(stats_of(q).depth, 1);
	ck_assert_uint_eq(stats_of(q).delayed, 0);
	take_and_done(q, "now");

	/* A key waiting in the queue and also delayed runs now, then again
	 * when the delay ends (client-go's behaviour). */
	ck_assert_int_eq(peerop_workqueue_add(q, "both"), 0);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "both", 100), 0);
	take_and_done(q, "both");
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 30000), 0);
	ck_assert_str_eq(k, "both");
	peerop_workqueue_done(q, k);
	peerop_free(k);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	peerop_workqueue_free(q);
}
END_TEST

/* Many keys with random delays: each appears once, none before it is due,
 * and the heap hands them out in deadline order. */
START_TEST(test_add_after_many)
{
	enum { N = 2000 };
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	static uint64_t due[N];
	static int seen[N];
	char key[32];
	uint64_t deadline;
	int i, got = 0;

	memset(seen, 0, sizeof(seen));
	srand(7);
	for (i = 0; i < N; i++) {
		unsigned d = 1 + (unsigned)(rand() % 300);
		snprintf(key, sizeof(key), "ns/obj-%d", i);
		due[i] = peerop__mono_ns(NULL) + d * MS;
		ck_assert_int_eq(peerop_workqueue_add_after(q, key, d), 0);
	}
	deadline = th_now_ms() + 60000;
	while (got < N && th_now_ms() < deadline) {
		char *k = NULL;
		int rc = peerop_workqueue_get(&k, q, 1000);
		if (rc == PEEROP_ETIMEOUT)
			continue;
		ck_assert_int_eq(rc, 0);
		i = atoi(k + strlen("ns/obj-"));
		ck_assert_int_ge(i, 0);
		ck_assert_int_lt(i, N);
		ck_assert_int_eq(seen[i], 0);
		ck_assert_uint_ge(peerop__mono_ns(NULL), due[i]);
		seen[i] = 1;
		got++;
		peerop_workqueue_done(q, k);
		peerop_free(k);
	}
	ck_assert_int_eq(got, N);
	ck_assert_uint_eq(stats_of(q).delayed, 0);
	expect_empty(q);
	peerop_workqueue_free(q);
}
END_TEST

/* The delay heap's invariant: each parent due no later than its children,
 * each item knowing its slot. */
static int heap_ok(peerop_workqueue *q)
{
	size_t i;
	int ok = 1;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nheap; i++) {
		if (q->heap[i]->heap_index != i)
			ok = 0;
		if (i > 0 && q->heap[(i - 1) / 2]->ready_at_ns > q->heap[i]->ready_at_ns)
			ok = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

static size_t delayed_count(peerop_workqueue *q)
{
	return stats_of(q).delayed;
}

START_TEST(test_delay_heap)
{
	enum { N = 3000 };
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char key[32];
	int i;

	srand(11);
	/* Half due soon, half in hours, in random order; then some moved
	 * earlier (still in hours). */
	for (i = 0; i < N; i++) {
		unsigned d = i % 2 ? 3600000 + (unsigned)(rand() % 100000) : 1 + (unsigned)(rand() % 50);
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(peerop_workqueue_add_after(q, key, d), 0);
	}
	for (i = 1; i < N; i += 4) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(peerop_workqueue_add_after(q, key, 3500000 + (unsigned)(rand() % 100000)), 0);
	}
	ck_assert(heap_ok(q));
	/* The due half leaves the heap (popped by the delay thread). */
	ck_assert(TH_WAIT_UNTIL(delayed_count(q) == N / 2, 60000));
	ck_assert(heap_ok(q));
	ck_assert_uint_eq(stats_of(q).depth, N / 2);
	for (i = 0; i < N / 2; i++) {
		char *k = get_now(q);
		ck_assert_int_eq(atoi(k + 1) % 2, 0);
		peerop_workqueue_done(q, k);
		peerop_free(k);
	}
	peerop_workqueue_free(q);
}
END_TEST

/* ---- shutdown, draining, stats ------------------------------------------- */

typedef struct getter {
	peerop_workqueue *q;
	int timeout_ms;
	int rc;
	char *key;
} getter;

static void *getter_main(void *arg)
{
	getter *g = arg;
	g->rc = peerop_workqueue_get(&g->key, g->q, g->timeout_ms);
	return NULL;
}

START_TEST(test_shutdown)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	getter g1 = { q, -1, 1, NULL }, g2 = { q, 600000, 1, NULL };
	pthread_t t1, t2;
	char *busy, *k = (char *)1;

	ck_assert_int_eq(peerop_workqueue_add(q, "busy"), 0);
	busy = get_now(q);
	ck_assert_int_eq(peerop_workqueue_add(q, "busy"), 0); /* dirty */
	ck_assert_int_eq(pthread_create(&t1, NULL, getter_main, &g1), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, getter_main, &g2), 0);
	ck_assert(TH_WAIT_UNTIL(peerop__workqueue_waiters(q) == 2, 30000));
	peerop_workqueue_shutdown(q);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(g1.rc, PEEROP_ECANCELED);
	ck_assert_int_eq(g2.rc, PEEROP_ECANCELED);
	ck_assert_ptr_null(g1.key);
	ck_assert_ptr_null(g2.key);

	ck_assert_int_eq(peerop_workqueue_add(q, "x"), PEEROP_ECANCELED);
	ck_assert_int_eq(peerop_error_last()->code, PEEROP_ECANCELED);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "x", 10), PEEROP_ECANCELED);
	ck_assert_int_eq(peerop_workqueue_get(&k, q, -1), PEEROP_ECANCELED);
	ck_assert_ptr_null(k);
	peerop_workqueue_shutdown(q); /* idempotent */
	/* The key in flight may still be marked done; it is not queued again. */
	ck_assert_uint_eq(stats_of(q).processing, 1);
	peerop_workqueue_done(q, busy);
	peerop_free(busy);
	ck_assert_uint_eq(stats_of(q).processing, 0);
	ck_assert_uint_eq(stats_of(q).depth, 0);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, 0), 0);
	peerop_workqueue_free(q);
}
END_TEST

START_TEST(test_shutdown_drops_waiting)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char *k = NULL;
	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "b", 3600000), 0);
	peerop_workqueue_shutdown(q);
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 0), PEEROP_ECANCELED);
	ck_assert_uint_eq(stats_of(q).depth, 0);
	ck_assert_uint_eq(stats_of(q).delayed, 0);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	peerop_workqueue_free(q);
}
END_TEST

typedef struct idler {
	peerop_workqueue *q;
	int rc;
	atomic_int finished;
} idler;

static void *idler_main(void *arg)
{
	idler *w = arg;
	w->rc = peerop_workqueue_wait_idle(w->q, -1);
	atomic_store(&w->finished, 1);
	return NULL;
}

START_TEST(test_wait_idle)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	idler w = { q, 1, 0 };
	pthread_t t;
	char *a, *b;
	uint64_t t0;

	ck_assert_int_eq(peerop_workqueue_wait_idle(NULL, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, -5), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, 0), 0);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, -1), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "b"), 0);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, 0), 0); /* queued is not processing */
	a = get_now(q);
	b = get_now(q);
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, 0), PEEROP_ETIMEOUT);
	t0 = th_now_ms();
	ck_assert_int_eq(peerop_workqueue_wait_idle(q, 50), PEEROP_ETIMEOUT);
	ck_assert_uint_ge(th_now_ms() - t0, 50);

	/* Drain: shut down, the waiter returns once both are done. */
	peerop_workqueue_shutdown(q);
	ck_assert_int_eq(pthread_create(&t, NULL, idler_main, &w), 0);
	peerop_workqueue_done(q, a);
	ck_assert_int_eq(atomic_load(&w.finished), 0); /* b still runs */
	peerop_workqueue_done(q, b);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 0);
	peerop_free(a);
	peerop_free(b);
	peerop_workqueue_free(q);
}
END_TEST

START_TEST(test_stats)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	peerop_workqueue_stats s;
	uint64_t t0;
	char *k;

	memset(&s, 0xff, sizeof(s));
	peerop_workqueue_get_stats(NULL, &s);
	ck_assert_uint_eq(s.depth, 0);
	peerop_workqueue_get_stats(q, NULL);

	ck_assert_int_eq(peerop_workqueue_add(q, "a"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "b"), 0);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "c", 3600000), 0);
	/* let "a" wait a little (the queue's clock, read after the add) */
	t0 = peerop__mono_ns(NULL);
	ck_assert(TH_WAIT_UNTIL(peerop__mono_ns(NULL) >= t0 + 30 * MS, 10000));
	k = get_now(q);
	s = stats_of(q);
	ck_assert_uint_eq(s.depth, 1);
	ck_assert_uint_eq(s.processing, 1);
	ck_assert_uint_eq(s.delayed, 1);
	ck_assert_uint_eq(s.adds_total, 2);
	ck_assert_uint_eq(s.retries_total, 0);
	ck_assert(s.queue_wait_sum_s >= 0.030);
	ck_assert(s.work_sum_s == 0);
	/* The running key's age grows... */
	ck_assert(TH_WAIT_UNTIL(stats_of(q).longest_running_s >= 0.030, 10000));
	peerop_workqueue_done(q, k);
	peerop_free(k);
	/* ...and its time adds to the work sum once done. */
	s = stats_of(q);
	ck_assert(s.work_sum_s >= 0.030);
	ck_assert(s.longest_running_s == 0);
	ck_assert_uint_eq(s.processing, 0);
	peerop_workqueue_free(q);
}
END_TEST

/* ---- hostile and edge input ---------------------------------------------- */

START_TEST(test_bad_keys)
{
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	const char *odd[] = { "ns/name", "a b", "\xc3\xa9t\xc3\xa9/\xf0\x9f\x90\xb3", "line\nbreak", "%s%n%s", "/" };
	size_t i;

	ck_assert_int_eq(peerop_workqueue_add(q, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add(q, ""), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add(NULL, "a"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add_after(q, NULL, 5), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add_after(q, "", 5), PEEROP_EINVAL);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "empty"));
	ck_assert_uint_eq(stats_of(q).adds_total, 0);
	/* Any other bytes are just a key. */
	for (i = 0; i < PEEROP__ARRAY_SIZE(odd); i++)
		ck_assert_int_eq(peerop_workqueue_add(q, odd[i]), 0);
	for (i = 0; i < PEEROP__ARRAY_SIZE(odd); i++)
		take_and_done(q, odd[i]);
	/* A delay that overflows nanoseconds means "never" (until shutdown). */
	ck_assert_int_eq(peerop_workqueue_add_after(q, "never", ~0ull), 0);
	ck_assert_uint_eq(stats_of(q).delayed, 1);
	expect_empty(q);
	peerop_workqueue_free(q);
}
END_TEST

START_TEST(test_huge_key)
{
	enum { LEN = 1 << 20 };
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char *big = malloc(LEN + 1), *k;
	ck_assert_ptr_nonnull(big);
	memset(big, 'k', LEN);
	big[LEN] = '\0';
	ck_assert_int_eq(peerop_workqueue_add(q, big), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, big), 0);
	ck_assert_uint_eq(stats_of(q).depth, 1);
	k = get_now(q);
	ck_assert_uint_eq(strlen(k), LEN);
	ck_assert(memcmp(k, big, LEN) == 0);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, big), 0);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, big), 1);
	peerop_workqueue_done(q, k);
	peerop_free(k);
	free(big);
	peerop_workqueue_free(q); /* still delayed */
}
END_TEST

START_TEST(test_many_keys)
{
	enum { N = 100000 };
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char key[48];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "namespace-%d/object-%d", i % 13, i);
		ck_assert_int_eq(peerop_workqueue_add(q, key), 0);
	}
	ck_assert_uint_eq(stats_of(q).depth, N);
	for (i = 0; i < N; i++) {
		char *k = get_now(q);
		snprintf(key, sizeof(key), "namespace-%d/object-%d", i % 13, i);
		ck_assert_str_eq(k, key); /* FIFO order */
		peerop_workqueue_done(q, k);
		peerop_free(k);
	}
	expect_empty(q);
	ck_assert_uint_eq(peerop__map_count(&q->items), 0);
	ck_assert_uint_eq(stats_of(q).adds_total, N);
	peerop_workqueue_free(q);
}
END_TEST

/* Freed with keys queued, processing and delayed: nothing leaks (ASan). */
START_TEST(test_free_busy)
{
	enum { N = 100000 };
	peerop_workqueue *q = new_queue(0, 0, 0, 0);
	char key[48], *k;
	int i;

	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "delayed-%d", i);
		ck_assert_int_eq(peerop_workqueue_add_after(q, key, 3600000 + (unsigned)(i % 977)), 0);
	}
	ck_assert_uint_eq(stats_of(q).delayed, N);
	ck_assert_int_eq(peerop_workqueue_add(q, "queued"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "running"), 0);
	ck_assert_int_eq(peerop_workqueue_add(q, "queued2"), 0);
	k = get_now(q);
	peerop_free(k);
	peerop_workqueue_free(q);
}
END_TEST

/* ---- concurrency: the property test --------------------------------------- */

enum { PT_KEYS = 1000, PT_WORKERS = 8, PT_PRODUCERS = 4, PT_ADDS = 25000 };

typedef struct prop {
	peerop_workqueue *q;
	unsigned long seed;
	atomic_int running[PT_KEYS];
	atomic_ulong gen[PT_KEYS];   /* bumped before every add of the key */
	atomic_ulong seen[PT_KEYS];  /* gen read when a processing started */
	atomic_ulong runs;
	atomic_ulong hot_adds;       /* adds made while the key was processing */
	atomic_int overlaps;
	atomic_int errors;
} prop;

typedef struct prop_thread {
	prop *p;
	int index;
} prop_thread;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void prop_key(char *buf, size_t size, unsigned i)
{
	snprintf(buf, size, "ns-%u/obj-%u", i % 7, i);
}

/* Every add bumps the key's generation first: whatever processing starts
 * after the add must see at least that generation. */
static int prop_add(prop *p, unsigned i, uint64_t *rng)
{
	char key[32];
	unsigned op = (unsigned)(xorshift(rng) % 10);
	prop_key(key, sizeof(key), i);
	atomic_fetch_add(&p->gen[i], 1);
	if (atomic_load(&p->running[i]))
		atomic_fetch_add(&p->hot_adds, 1);
	if (op < 8)
		return peerop_workqueue_add(p->q, key);
	if (op == 8)
		return peerop_workqueue_add_after(p->q, key, xorshift(rng) % 4);
	return peerop_workqueue_add_rate_limited(p->q, key);
}

static void *prop_producer(void *arg)
{
	prop_thread *t = arg;
	uint64_t rng = t->p->seed * 0x9e3779b97f4a7c15ull + (uint64_t)t->index + 1;
	int n;
	for (n = 0; n < PT_ADDS; n++) {
		if (prop_add(t->p, (unsigned)(xorshift(&rng) % PT_KEYS), &rng) != 0)
			atomic_fetch_add(&t->p->errors, 1);
		/* let the workers keep up, so that many adds meet their key
		 * being processed instead of collapsing in the queue */
		if (xorshift(&rng) % 2 == 0)
			sched_yield();
	}
	return NULL;
}

static void *prop_worker(void *arg)
{
	prop_thread *t = arg;
	prop *p = t->p;
	uint64_t rng = p->seed * 0xbf58476d1ce4e5b9ull + (uint64_t)t->index + 101;
	for (;;) {
		char *k = NULL;
		unsigned i;
		int rc = peerop_workqueue_get(&k, p->q, -1);
		if (rc == PEEROP_ECANCELED)
			break;
		if (rc != 0) {
			atomic_fetch_add(&p->errors, 1);
			break;
		}
		i = strstr(k, "/obj-") ? (unsigned)atoi(strstr(k, "/obj-") + 5) : PT_KEYS;
		if (i >= PT_KEYS || atomic_fetch_add(&p->running[i], 1) != 0)
			atomic_fetch_add(&p->overlaps, 1);
		if (i < PT_KEYS) {
			atomic_store(&p->seen[i], atomic_load(&p->gen[i]));
			/* a little work, sometimes yielding, to widen the windows */
			if (xorshift(&rng) % 4 == 0)
				sched_yield();
			atomic_fetch_add(&p->runs, 1);
			/* Sometimes retry, as a failing reconcile does; always
			 * before done, so the queue is never idle with an add
			 * still to come. */
			switch (xorshift(&rng) % 16) {
			case 0:
				if (prop_add(p, i, &rng) != 0)
					atomic_fetch_add(&p->errors, 1);
				break;
			case 1:
				peerop_workqueue_forget(p->q, k);
				break;
			default:
				break;
			}
			atomic_fetch_sub(&p->running[i], 1);
		}
		peerop_workqueue_done(p->q, k);
		peerop_free(k);
	}
	return NULL;
}

static int prop_quiet(prop *p)
{
	peerop_workqueue_stats s;
	peerop_workqueue_get_stats(p->q, &s);
	return s.depth == 0 && s.processing == 0 && s.delayed == 0;
}

START_TEST(test_property_concurrent)
{
	static prop p;
	prop_thread pt[PT_WORKERS + PT_PRODUCERS];
	pthread_t th[PT_WORKERS + PT_PRODUCERS];
	const char *env = getenv("PEEROP_TEST_SEED");
	unsigned long seed = env ? strtoul(env, NULL, 10) : (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	int i, missed = -1;

	memset(&p, 0, sizeof(p));
	p.seed = seed;
	/* Backoff 1 ms doubling to 4 ms, no bucket: retries stay quick. */
	p.q = new_queue(1, 4, -1, 0);
	for (i = 0; i < PT_WORKERS + PT_PRODUCERS; i++) {
		pt[i].p = &p;
		pt[i].index = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL,
			i < PT_WORKERS ? prop_worker : prop_producer, &pt[i]), 0);
	}
	for (i = PT_WORKERS; i < PT_WORKERS + PT_PRODUCERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(TH_WAIT_UNTIL(prop_quiet(&p), 120000),
		"queue never drained (PEEROP_TEST_SEED=%lu)", seed);
	peerop_workqueue_shutdown(p.q);
	for (i = 0; i < PT_WORKERS; i++)
		pthread_join(th[i], NULL);

	ck_assert_msg(atomic_load(&p.errors) == 0, "%d calls failed (PEEROP_TEST_SEED=%lu)",
		atomic_load(&p.errors), seed);
	ck_assert_msg(atomic_load(&p.overlaps) == 0, "%d keys processed concurrently (PEEROP_TEST_SEED=%lu)",
		atomic_load(&p.overlaps), seed);
	for (i = 0; i < PT_KEYS; i++)
		if (atomic_load(&p.seen[i]) != atomic_load(&p.gen[i])) {
			missed = i;
			break;
		}
	ck_assert_msg(missed < 0, "key %d added (generation %lu) after its last processing started "
		"(generation %lu) was not processed again (%lu runs, %lu adds met their key processing; "
		"PEEROP_TEST_SEED=%lu)", missed,
		missed < 0 ? 0 : atomic_load(&p.gen[missed]), missed < 0 ? 0 : atomic_load(&p.seen[missed]),
		atomic_load(&p.runs), atomic_load(&p.hot_adds), seed);
	ck_assert_msg(atomic_load(&p.runs) > 0 &&
		atomic_load(&p.runs) <= (unsigned long)PT_PRODUCERS * PT_ADDS * 2,
		"implausible number of runs %lu (PEEROP_TEST_SEED=%lu)", atomic_load(&p.runs), seed);
	ck_assert_uint_eq(peerop__map_count(&p.q->items), 0);
	peerop_workqueue_free(p.q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workqueue");
	TCase *tc = tcase_create("queue");
	TCase *cc = tcase_create("concurrency");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_dedup_and_order);
	tcase_add_test(tc, test_dirty_requeue);
	tcase_add_test(tc, test_get_timeout);
	tcase_add_test(tc, test_add_after_earliest_wins);
	tcase_add_test(tc, test_add_after_many);
	tcase_add_test(tc, test_delay_heap);
	tcase_add_test(tc, test_shutdown);
	tcase_add_test(tc, test_shutdown_drops_waiting);
	tcase_add_test(tc, test_wait_idle);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_huge_key);
	tcase_add_test(tc, test_many_keys);
	tcase_add_test(tc, test_free_busy);
	suite_add_tcase(s, tc);

	tcase_set_timeout(cc, 300);
	tcase_add_test(cc, test_property_concurrent);
	suite_add_tcase(s, cc);
	return th_run_suite(s);
}
