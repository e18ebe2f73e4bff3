/* cond.c: condition variables on the monotonic clock, and joining a
 * thread that several callers may stop.
 *
 * Every timed wait in the library is a deadline on CLOCK_MONOTONIC: a
 * wall clock set back by NTP or by hand must not stretch a lease renewal
 * or a queue's delay, nor cut one short. */
#include <errno.h>
#include <time.h>
#include "base.h"

int peerop__cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return PEEROP_ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc == 0 ? 0 : PEEROP_ENOMEM;
}

int peerop__cond_timedwait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t ms)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + (ms % 1000u) * 1000000u;
	ts.tv_sec += (time_t)(ms / 1000u + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return pthread_cond_timedwait(cond, lock, &ts) == ETIMEDOUT ? PEEROP_ETIMEOUT : 0;
}

void peerop__join_once(pthread_t thread, int started, pthread_mutex_t *join_lock, int *joined)
{
	/* from the thread itself (a stop from its own callback) there is
	 * nothing to wait for: it ends after the callback returns */
	if (!started || pthread_equal(pthread_self(), thread))
		return;
	pthread_mutex_lock(join_lock);
	if (!*joined) {
		pthread_join(thread, NULL);
		*joined = 1;
	}
	pthread_mutex_unlock(join_lock);
}
