/* ratelimit.c: the work queue's rate limiter; see workqueue_internal.h. */
#include "internal.h"
#include "workqueue_internal.h"

#include <limits.h>
#include <math.h>
#include <time.h>

uint64_t peerop__mono_ns(void *unused)
{
	struct timespec ts;
	(void)unused;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t peerop__sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t peerop__sat_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

void peerop__ratelimit_init(peerop__ratelimit *rl, unsigned int base_ms,
	unsigned int max_ms, double qps, unsigned int burst)
{
	peerop__map empty = PEEROP__MAP_INIT;
	rl->base_ns = (uint64_t)base_ms * 1000000u;
	rl->max_ns = (uint64_t)max_ms * 1000000u;
	rl->interval_ns = 0;
	/* Above a billion per second a token is due every nanosecond or less:
	 * no bucket is the same thing, without the arithmetic. */
	if (qps > 0 && isfinite(qps) && qps < 1e9) {
		double ns = 1e9 / qps;
		rl->interval_ns = ns >= 1.8e19 ? UINT64_MAX : (uint64_t)(ns + 0.5);
	}
	rl->burst = burst ? burst : 1;
	rl->tat_ns = 0;
	rl->failures = empty;
	rl->clock = peerop__mono_ns;
	rl->clock_payload = NULL;
}

void peerop__ratelimit_set_clock(peerop__ratelimit *rl, peerop__clock_fn fn, void *payload)
{
	rl->clock = fn ? fn : peerop__mono_ns;
	rl->clock_payload = fn ? payload : NULL;
}

/* base * 2^n, capped; n counts earlier failures, so the first delay is base. */
static uint64_t backoff_ns(const peerop__ratelimit *rl, unsigned int n)
{
	if (n >= 64 || rl->base_ns > (UINT64_MAX >> n))
		return rl->max_ns;
	return rl->base_ns << n < rl->max_ns ? rl->base_ns << n : rl->max_ns;
}

/* Reserve one token: the bucket starts full (tat in the past), each
 * reservation moves tat one interval on, and a reservation must wait while
 * tat is more than burst intervals ahead of now. Tokens never pile up
 * beyond burst because tat never lags behind now. */
static uint64_t reserve_ns(peerop__ratelimit *rl, uint64_t now)
{
	uint64_t allowed;
	if (!rl->interval_ns)
		return 0;
	rl->tat_ns = peerop__sat_add(rl->tat_ns > now ? rl->tat_ns : now, rl->interval_ns);
	allowed = peerop__sat_add(now, peerop__sat_mul(rl->burst, rl->interval_ns));
	return rl->tat_ns > allowed ? rl->tat_ns - allowed : 0;
}

int peerop__ratelimit_when(peerop__ratelimit *rl, const char *key, uint64_t *delay_ns)
{
	uintptr_t n = (uintptr_t)peerop__map_get(&rl->failures, key);
	uint64_t exp, bucket;

	if (peerop__map_put(&rl->failures, key, (void *)(n < UINT_MAX ? n + 1 : n), NULL) != 0)
		return PEEROP_ENOMEM;
	exp = backoff_ns(rl, (unsigned int)n);
	bucket = reserve_ns(rl, rl->clock(rl->clock_payload));
	*delay_ns = exp > bucket ? exp : bucket;
	return 0;
}

void peerop__ratelimit_forget(peerop__ratelimit *rl, const char *key)
{
	peerop__map_remove(&rl->failures, key);
}

unsigned int peerop__ratelimit_requeues(const peerop__ratelimit *rl, const char *key)
{
	return (unsigned int)(uintptr_t)peerop__map_get(&rl->failures, key);
}

void peerop__ratelimit_dispose(peerop__ratelimit *rl)
{
	peerop__map_dispose(&rl->failures);
}
