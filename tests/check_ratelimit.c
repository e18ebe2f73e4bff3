/*
 * check_ratelimit.c: the work queue's rate limiter (lib/ratelimit.c) and
 * peerop_workqueue_add_rate_limited().
 *
 * The limiter runs on an injected clock, so every delay is checked exactly
 * without sleeping: client-go's 5 ms doubling to 1000 s per key, and a
 * token bucket of 10 per second with a burst of 100.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "workqueue_internal.h"
#include "testhelp.h"
#include "wqhelp.h"

/* A clock the test moves by hand. */
typedef struct fake_clock {
	uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *payload)
{
	return ((fake_clock *)payload)->ns;
}

/* ---- the rate limiter, with an injected clock -------------------------------- */

static uint64_t when(peerop__ratelimit *rl, const char *key)
{
	uint64_t d = 0;
	ck_assert_int_eq(peerop__ratelimit_when(rl, key, &d), 0);
	return d;
}

START_TEST(test_ratelimit_backoff)
{
	peerop__ratelimit rl;
	fake_clock clk = { 1000 * MS };
	uint64_t want = 5 * MS;
	unsigned i;

	peerop__ratelimit_init(&rl, 5, 1000000, -1, 100); /* no bucket */
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
	ck_assert_uint_eq(peerop__ratelimit_requeues(&rl, "a"), 0);
	/* 5, 10, 20, ... 655360 ms, then the cap: 1000 s */
	for (i = 0; i < 30; i++) {
		ck_assert_uint_eq(when(&rl, "a"), want < 1000000 * MS ? want : 1000000 * MS);
		want *= 2;
		ck_assert_uint_eq(peerop__ratelimit_requeues(&rl, "a"), i + 1);
	}
	/* Keys are independent. */
	ck_assert_uint_eq(when(&rl, "b"), 5 * MS);
	ck_assert_uint_eq(when(&rl, "b"), 10 * MS);
	/* Forget resets. */
	peerop__ratelimit_forget(&rl, "a");
	ck_assert_uint_eq(peerop__ratelimit_requeues(&rl, "a"), 0);
	ck_assert_uint_eq(when(&rl, "a"), 5 * MS);
	ck_assert_uint_eq(peerop__ratelimit_requeues(&rl, "b"), 2);
	peerop__ratelimit_forget(&rl, "never");
	/* Many failures neither overflow nor wrap. */
	for (i = 0; i < 200; i++)
		ck_assert_uint_eq(when(&rl, "c"), i < 18 ? (5 * MS) << i : 1000000 * MS);
	peerop__ratelimit_dispose(&rl);

	/* Extreme settings saturate at the cap. */
	peerop__ratelimit_init(&rl, 4000000000u, 4000000000u, -1, 1);
	for (i = 0; i < 70; i++)
		ck_assert_uint_eq(when(&rl, "x"), 4000000000ull * MS);
	peerop__ratelimit_dispose(&rl);
	/* A cap below the base caps the first delay too. */
	peerop__ratelimit_init(&rl, 100, 30, -1, 1);
	ck_assert_uint_eq(when(&rl, "x"), 30 * MS);
	peerop__ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_ratelimit_bucket)
{
	peerop__ratelimit rl;
	fake_clock clk = { 5000 * MS };
	char key[32];
	int i, n = 0;

	/* 10 qps, burst 100; each call a new key, so the backoff stays 1 ms. */
	peerop__ratelimit_init(&rl, 1, 1000000, 10, 100);
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
#define NEXT() (snprintf(key, sizeof(key), "k%d", n++), when(&rl, key))
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(NEXT(), 1 * MS); /* the burst */
	ck_assert_uint_eq(NEXT(), 100 * MS);       /* then one per 1/qps */
	ck_assert_uint_eq(NEXT(), 200 * MS);
	ck_assert_uint_eq(NEXT(), 300 * MS);
	/* One second refills 10 tokens; 3 were borrowed. */
	clk.ns += 1000 * MS;
	for (i = 0; i < 7; i++)
		ck_assert_uint_eq(NEXT(), 1 * MS);
	ck_assert_uint_eq(NEXT(), 100 * MS);
	/* A long pause refills the bucket to its size, never beyond. */
	clk.ns += 3600000 * MS;
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(NEXT(), 1 * MS);
	ck_assert_uint_eq(NEXT(), 100 * MS);
	/* Half an interval later the next token is half an interval nearer. */
	clk.ns += 50 * MS;
	ck_assert_uint_eq(NEXT(), 150 * MS);
	peerop__ratelimit_dispose(&rl);

	/* The later of both: backoff beyond the bucket's delay wins. */
	peerop__ratelimit_init(&rl, 500, 1000000, 10, 1);
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
	ck_assert_uint_eq(when(&rl, "a"), 500 * MS);  /* bucket: 0 */
	ck_assert_uint_eq(when(&rl, "b"), 500 * MS);  /* bucket: 100 ms */
	ck_assert_uint_eq(when(&rl, "c"), 500 * MS);  /* bucket: 200 ms */
	ck_assert_uint_eq(when(&rl, "a"), 1000 * MS);
	peerop__ratelimit_dispose(&rl);
	peerop__ratelimit_init(&rl, 1, 1000000, 10, 1);
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
	ck_assert_uint_eq(when(&rl, "a"), 1 * MS);
	ck_assert_uint_eq(when(&rl, "a"), 100 * MS);  /* bucket beyond backoff (2 ms) */
	peerop__ratelimit_dispose(&rl);

	/* A rate that is not a whole number of nanoseconds rounds. */
	peerop__ratelimit_init(&rl, 1, 1, 3, 1);
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
	ck_assert_uint_eq(when(&rl, "a"), 1 * MS);
	ck_assert_uint_eq(when(&rl, "b"), 333333333u);
	ck_assert_uint_eq(when(&rl, "c"), 666666666u);
	peerop__ratelimit_dispose(&rl);
	/* No bucket: negative, infinite or absurd rates. */
	peerop__ratelimit_init(&rl, 1, 1, INFINITY, 1);
	ck_assert_uint_eq(rl.interval_ns, 0);
	peerop__ratelimit_dispose(&rl);
	peerop__ratelimit_init(&rl, 1, 1, 1e12, 1);
	ck_assert_uint_eq(rl.interval_ns, 0);
	peerop__ratelimit_dispose(&rl);
	/* A tiny rate and a huge burst do not overflow. */
	peerop__ratelimit_init(&rl, 1, 1, 1e-12, 4000000000u);
	peerop__ratelimit_set_clock(&rl, fake_now, &clk);
	ck_assert_uint_eq(when(&rl, "a"), 1 * MS);
	peerop__ratelimit_dispose(&rl);
#undef NEXT
}
END_TEST

START_TEST(test_add_rate_limited)
{
	peerop_workqueue *q = new_queue(60000, 0, 1, 2); /* 1 qps, burst 2 */
	fake_clock clk = { 1000 * MS };
	uint64_t before, after, at = 0, at2 = 0;

	peerop__workqueue_set_clock(q, fake_now, &clk);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, ""), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(NULL, "a"), PEEROP_EINVAL);

	before = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "a"), 0);
	after = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "a", &at), 0);
	ck_assert_uint_ge(at, before + 60000 * MS);
	ck_assert_uint_le(at, after + 60000 * MS);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, "a"), 1);
	/* Again: 120 s of backoff, but the 60 s delay already pending wins. */
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "a"), 0);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "a", &at2), 0);
	ck_assert_uint_eq(at2, at);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, "a"), 2);
	/* "b" takes the bucket's third token, due in 1 s: its 60 s backoff is
	 * later, so that is its delay (the bucket alone: the next test). */
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "b"), 0);
	ck_assert_uint_eq(stats_of(q).delayed, 2);
	ck_assert_uint_eq(stats_of(q).retries_total, 3);
	ck_assert_uint_eq(stats_of(q).adds_total, 0); /* nothing queued yet */

	peerop_workqueue_forget(q, "a");
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, "a"), 0);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, "b"), 1);
	peerop_workqueue_forget(q, NULL);
	peerop_workqueue_forget(NULL, "a");
	ck_assert_uint_eq(peerop_workqueue_num_requeues(NULL, "a"), 0);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, NULL), 0);

	/* After shutdown: refused, not counted. */
	peerop_workqueue_shutdown(q);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "b"), PEEROP_ECANCELED);
	ck_assert_uint_eq(peerop_workqueue_num_requeues(q, "b"), 1);
	ck_assert_uint_eq(stats_of(q).retries_total, 3);
	ck_assert_uint_eq(stats_of(q).delayed, 0); /* dropped */
	peerop_workqueue_free(q);
}
END_TEST

/* The bucket through the queue: with a frozen clock and a backoff of 1 ms,
 * the third key of a burst of 2 at 1 qps is due one second later. */
START_TEST(test_add_rate_limited_bucket)
{
	peerop_workqueue *q = new_queue(1, 0, 1, 2);
	fake_clock clk = { 1000 * MS };
	uint64_t before, after, at = 0;
	char *k = NULL;

	peerop__workqueue_set_clock(q, fake_now, &clk);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "a"), 0);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "b"), 0);
	before = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop_workqueue_add_rate_limited(q, "c"), 0);
	after = peerop__mono_ns(NULL);
	ck_assert_int_eq(peerop__workqueue_ready_at(q, "c", &at), 0);
	ck_assert_uint_ge(at, before + 1000 * MS);
	ck_assert_uint_le(at, after + 1000 * MS);
	/* a and b come first (1 ms), c not before its second. */
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 30000), 0);
	ck_assert_str_ne(k, "c");
	peerop_workqueue_done(q, k);
	peerop_free(k);
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 30000), 0);
	ck_assert_str_ne(k, "c");
	peerop_workqueue_done(q, k);
	peerop_free(k);
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 30000), 0);
	ck_assert_str_eq(k, "c");
	ck_assert_uint_ge(peerop__mono_ns(NULL), at);
	peerop_workqueue_done(q, k);
	peerop_free(k);
	ck_assert_uint_eq(stats_of(q).retries_total, 3);
	ck_assert_uint_eq(stats_of(q).adds_total, 3);
	peerop_workqueue_free(q);
}
END_TEST


int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ratelimit_backoff);
	tcase_add_test(tc, test_ratelimit_bucket);
	tcase_add_test(tc, test_add_rate_limited);
	tcase_add_test(tc, test_add_rate_limited_bucket);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
