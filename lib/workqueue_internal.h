/*
 * workqueue_internal.h: the work queue's private parts (workqueue.c,
 * workqueue_delay.c) and its rate limiter (ratelimit.c).
 *
 * One mutex guards the whole queue. Each key known to the queue has one
 * peerop__wq_item, found through a hash map; the item says where the key is (the
 * ready FIFO, the processing list, the delay heap; several at once), so
 * every operation is O(1) apart from the heap's O(log n).
 */
#ifndef PEEROP_WORKQUEUE_INTERNAL_H
#define PEEROP_WORKQUEUE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ---- rate limiter (ratelimit.c) ------------------------------------------
 * client-go's default controller rate limiter: the later of a per-key
 * exponential backoff (base * 2^failures, capped) and an overall token
 * bucket (a reservation is always taken, as Go's rate.Limiter.Reserve()
 * does, so a burst of retries is spread at 1/qps).
 *
 * Not thread-safe: the queue calls it under its lock. Times are
 * nanoseconds of a monotonic clock, which tests replace so that delays
 * can be checked exactly without sleeping. */
typedef uint64_t (*peerop__clock_fn)(void *payload);

typedef struct peerop__ratelimit {
	uint64_t base_ns;
	uint64_t max_ns;
	/* Token bucket as a "theoretical arrival time" (GCRA): with one token
	 * every interval_ns and room for burst tokens, a reservation at t is
	 * due at tat + interval - burst * interval. 0 interval: no bucket. */
	uint64_t interval_ns;
	uint64_t burst;
	uint64_t tat_ns;
	peerop__map failures;   /* key -> (uintptr_t) rate-limited adds since forget */
	peerop__clock_fn clock;
	void *clock_payload;
} peerop__ratelimit;

/* The monotonic clock in nanoseconds (the default clock). */
uint64_t peerop__mono_ns(void *unused);
/* base/max in ms; qps <= 0 or infinite: no bucket; burst 0 means 1. */
void peerop__ratelimit_init(peerop__ratelimit *rl, unsigned int base_ms,
	unsigned int max_ms, double qps, unsigned int burst);
void peerop__ratelimit_set_clock(peerop__ratelimit *rl, peerop__clock_fn fn, void *payload);
/* The key's next delay: counts a failure for the key and reserves a
 * token. Returns 0 or PEEROP_ENOMEM (nothing counted, nothing reserved). */
int peerop__ratelimit_when(peerop__ratelimit *rl, const char *key, uint64_t *delay_ns);
void peerop__ratelimit_forget(peerop__ratelimit *rl, const char *key);
unsigned int peerop__ratelimit_requeues(const peerop__ratelimit *rl, const char *key);
void peerop__ratelimit_dispose(peerop__ratelimit *rl);

/* Saturating arithmetic for deadlines that may be "never". */
uint64_t peerop__sat_add(uint64_t a, uint64_t b);
uint64_t peerop__sat_mul(uint64_t a, uint64_t b);

/* ---- the queue ----------------------------------------------------------- */
typedef struct peerop__wq_item {
	struct peerop__wq_item *next;     /* ready FIFO */
	struct peerop__wq_item *run_prev; /* processing list, oldest first */
	struct peerop__wq_item *run_next;
	size_t heap_index;                /* slot in q->heap, or PEEROP__WQ_NOT_DELAYED */
	uint64_t ready_at_ns;             /* when delayed: when it is due */
	uint64_t added_ns;                /* when it last became dirty */
	uint64_t started_ns;              /* when it was last handed out */
	unsigned dirty : 1;               /* needs processing (queued, or after done) */
	unsigned processing : 1;          /* handed out, not done */
	char key[];
} peerop__wq_item;

#define PEEROP__WQ_NOT_DELAYED ((size_t)-1)

struct peerop_workqueue {
	pthread_mutex_t lock;
	pthread_cond_t ready;             /* a key was queued, or shutdown */
	pthread_cond_t idle;              /* processing reached 0 */
	pthread_cond_t delay_wake;        /* new earliest deadline, or shutdown */
	pthread_t delay_thread;
	int thread_started;
	int shutting_down;

	char *name;
	peerop__map items;                /* key -> item, while dirty, processing or delayed */
	peerop__wq_item *head, *tail;     /* ready FIFO */
	size_t depth;
	peerop__wq_item *run_head, *run_tail;
	size_t processing;
	peerop__wq_item **heap;           /* min-heap on ready_at_ns */
	size_t nheap, heap_cap;
	size_t waiters;                   /* getters blocked in peerop_workqueue_get() */
	peerop__ratelimit rl;

	unsigned long long adds_total;
	unsigned long long retries_total;
	uint64_t queue_wait_ns;
	uint64_t work_ns;
	unsigned long long gets, dones;
	/* per-bucket (not cumulative) counts of the duration histograms */
	unsigned long long wait_hist[PEEROP_WORKQUEUE_DURATION_BUCKETS + 1];
	unsigned long long work_hist[PEEROP_WORKQUEUE_DURATION_BUCKETS + 1];
};

/* workqueue.c: queue an item that is known (used when a delay ends). */
void peerop__wq_add_item_locked(peerop_workqueue *q, peerop__wq_item *it, uint64_t now);

/* workqueue_delay.c: the delay heap and its thread. All _locked functions
 * need q->lock held. */
/* Delay the item until ready_at (earliest wins); PEEROP_ENOMEM if the heap
 * cannot grow (nothing changed then). */
int peerop__wq_delay_locked(peerop_workqueue *q, peerop__wq_item *it, uint64_t ready_at);
/* Drop every delayed item from the heap (shutdown); items are not freed. */
void peerop__wq_heap_clear_locked(peerop_workqueue *q);
void *peerop__wq_delay_main(void *arg);

/* Free the item if nothing refers to it any more (not dirty, not
 * processing, not delayed). */
void peerop__wq_release_locked(peerop_workqueue *q, peerop__wq_item *it);

/* ---- for tests ----------------------------------------------------------- */
/* Replace the rate limiter's clock (the delay heap keeps real time). */
void peerop__workqueue_set_clock(peerop_workqueue *q, peerop__clock_fn fn, void *payload);
/* The monotonic time (peerop__mono_ns) at which a delayed key is due;
 * PEEROP_ENOENT if the key is not delayed. */
int peerop__workqueue_ready_at(peerop_workqueue *q, const char *key, uint64_t *out_ns);
/* How many getters are blocked waiting. */
size_t peerop__workqueue_waiters(peerop_workqueue *q);

#endif
