/* wqhelp.h: helpers shared by the work queue tests (Check assertions
 * inside: call them from a test). */
#ifndef PEEROP_WQHELP_H
#define PEEROP_WQHELP_H

#include "peerop/peerop.h"

#define MS 1000000ull

/* A queue with these options (0: the default); asserts it was made. */
peerop_workqueue *new_queue(unsigned base_ms, unsigned max_ms, double qps, unsigned burst);
peerop_workqueue_stats stats_of(peerop_workqueue *q);
/* Take a key that must be there now; the caller frees it. */
char *get_now(peerop_workqueue *q);
/* Nothing to take now. */
void expect_empty(peerop_workqueue *q);
/* Take the key, which must be want, and mark it done. */
void take_and_done(peerop_workqueue *q, const char *want);

#endif
