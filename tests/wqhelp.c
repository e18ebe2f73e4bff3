/* wqhelp.c: helpers shared by the work queue tests. */
#include "config.h"

#include <stdlib.h>

#include "internal.h"
#include "testhelp.h"
#include "wqhelp.h"

peerop_workqueue *new_queue(unsigned base_ms, unsigned max_ms, double qps, unsigned burst)
{
	peerop_workqueue_options o = PEEROP_WORKQUEUE_OPTIONS_INIT;
	peerop_workqueue *q = NULL;
	o.base_delay_ms = base_ms;
	o.max_delay_ms = max_ms;
	o.qps = qps;
	o.burst = burst;
	ck_assert_int_eq(peerop_workqueue_new(&q, &o), 0);
	ck_assert_ptr_nonnull(q);
	return q;
}

peerop_workqueue_stats stats_of(peerop_workqueue *q)
{
	peerop_workqueue_stats s;
	peerop_workqueue_get_stats(q, &s);
	return s;
}

/* Take a key that must be there now; the caller frees it. */
char *get_now(peerop_workqueue *q)
{
	char *k = NULL;
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 0), 0);
	ck_assert_ptr_nonnull(k);
	return k;
}

void expect_empty(peerop_workqueue *q)
{
	char *k = (char *)1;
	ck_assert_int_eq(peerop_workqueue_get(&k, q, 0), PEEROP_ETIMEOUT);
	ck_assert_ptr_null(k);
}

void take_and_done(peerop_workqueue *q, const char *want)
{
	char *k = get_now(q);
	ck_assert_str_eq(k, want);
	peerop_workqueue_done(q, k);
	peerop_free(k);
}

