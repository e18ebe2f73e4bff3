/**
 * @file peerop/workqueue.h
 * @brief A rate-limited work queue of string keys, as controllers use.
 *
 * The queue holds keys ("namespace/name"), not events: a controller only
 * needs to know which object to look at again, and looks at its latest
 * state in a cache. Its rules are client-go's:
 *
 * - a key added while it waits in the queue is not added twice;
 * - a key is never handed to two workers at once: one added while it is
 *   being processed is marked dirty and queued again by
 *   peerop_workqueue_done();
 * - peerop_workqueue_add_rate_limited() delays a key by its own
 *   exponential backoff (5 ms doubling to 1000 s by default) and by an
 *   overall token bucket (10 per second, burst 100 by default), whichever
 *   is later; peerop_workqueue_forget() resets the key's backoff.
 *
 * Threading: every function may be called from any thread, concurrently.
 * peerop_workqueue_get() blocks; peerop_workqueue_shutdown() wakes every
 * blocked caller.
 */
#ifndef PEEROP_WORKQUEUE_H
#define PEEROP_WORKQUEUE_H

#include <stddef.h>
#include <peerop/common.h>
#include <peerop/metrics.h>

PEEROP_BEGIN_DECL

/** A work queue. */
typedef struct peerop_workqueue peerop_workqueue;

/** Options of peerop_workqueue_new(). Zero means "the default" everywhere. */
typedef struct peerop_workqueue_options {
	unsigned int version;            /**< PEEROP_WORKQUEUE_OPTIONS_VERSION */
	/** Name, used in log lines and as the `name` label of metrics; copied. */
	const char *name;
	unsigned int base_delay_ms;      /**< first per-key backoff; default 5 */
	unsigned int max_delay_ms;       /**< per-key backoff cap; default 1000000 (1000 s) */
	double qps;                      /**< token bucket refill per second; default 10; <0: no bucket */
	unsigned int burst;              /**< token bucket size; default 100 */
} peerop_workqueue_options;

#define PEEROP_WORKQUEUE_OPTIONS_VERSION 1
/** Static initialiser for peerop_workqueue_options. */
#define PEEROP_WORKQUEUE_OPTIONS_INIT { PEEROP_WORKQUEUE_OPTIONS_VERSION, NULL, 0, 0, 0, 0 }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_workqueue_options_init(peerop_workqueue_options *opts, unsigned int version);

/**
 * Create a queue. It runs one internal thread for delayed adds.
 *
 * @param out receives the queue; free with peerop_workqueue_free()
 * @param opts copied; NULL for the defaults
 * @return 0, PEEROP_EINVAL, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_workqueue_new(peerop_workqueue **out, const peerop_workqueue_options *opts);

/**
 * Add a key now (copied). A key already waiting is not added again.
 * @return 0, PEEROP_ECANCELED after shutdown (the key is dropped),
 *         PEEROP_EINVAL, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_workqueue_add(peerop_workqueue *q, const char *key);

/**
 * Add a key after a delay. Several delayed adds of one key keep the
 * earliest; a delay of 0 is peerop_workqueue_add().
 * @return as peerop_workqueue_add()
 */
PEEROP_EXTERN(int) peerop_workqueue_add_after(peerop_workqueue *q, const char *key,
	unsigned long long delay_ms);

/**
 * Add a key after its rate-limited delay: the later of its own backoff
 * (base * 2^failures, capped) and the token bucket's; counts a retry.
 * @return as peerop_workqueue_add()
 */
PEEROP_EXTERN(int) peerop_workqueue_add_rate_limited(peerop_workqueue *q, const char *key);

/** Reset a key's backoff (after it was processed successfully). */
PEEROP_EXTERN(void) peerop_workqueue_forget(peerop_workqueue *q, const char *key);

/** How many times the key was added rate-limited since it was last forgotten. */
PEEROP_EXTERN(unsigned int) peerop_workqueue_num_requeues(peerop_workqueue *q, const char *key);

/**
 * Take the next key, waiting for one.
 *
 * @param out receives the key (release with peerop_free()); the caller
 *        must call peerop_workqueue_done() with it when finished
 * @param timeout_ms how long to wait; 0: do not wait; -1: forever
 * @return 0, PEEROP_ETIMEOUT, or PEEROP_ECANCELED once the queue is shut
 *         down (keys still waiting are then dropped)
 */
PEEROP_EXTERN(int) peerop_workqueue_get(char **out, peerop_workqueue *q, int timeout_ms);

/**
 * Finish processing a key: if it was added meanwhile, it is queued again.
 */
PEEROP_EXTERN(void) peerop_workqueue_done(peerop_workqueue *q, const char *key);

/**
 * Stop handing out keys: blocked and later peerop_workqueue_get() calls
 * return PEEROP_ECANCELED, adds are refused. Keys being processed may
 * still be marked done. Idempotent.
 */
PEEROP_EXTERN(void) peerop_workqueue_shutdown(peerop_workqueue *q);

/**
 * Wait until no key is being processed (after peerop_workqueue_shutdown(),
 * to drain in-flight work).
 *
 * @param timeout_ms how long to wait; -1: forever
 * @return 0, or PEEROP_ETIMEOUT
 */
PEEROP_EXTERN(int) peerop_workqueue_wait_idle(peerop_workqueue *q, int timeout_ms);

/** Buckets of the queue's duration histograms: client-go's
 *  ExponentialBuckets(1e-8, 10, 12), 10 ns to 1000 s. */
#define PEEROP_WORKQUEUE_DURATION_BUCKETS 12

/** Figures of a queue, for metrics. */
typedef struct peerop_workqueue_stats {
	size_t depth;                    /**< keys waiting to be handed out now */
	size_t processing;               /**< keys handed out and not done */
	size_t delayed;                  /**< keys waiting for their delay */
	unsigned long long adds_total;   /**< keys queued (a collapsed add does not count) */
	unsigned long long retries_total;/**< rate-limited adds */
	/** Longest time a key now processing has been processing, in seconds. */
	double longest_running_s;
	/** Sum of the seconds keys waited in the queue before being handed out. */
	double queue_wait_sum_s;
	/** Sum of the seconds keys took between get and done. */
	double work_sum_s;
	/** Keys handed out so far (queue_wait observations). */
	unsigned long long gets_total;
	/** Keys marked done so far (work observations). */
	unsigned long long dones_total;
	/** Cumulative counts of queue waits <= 1e-8 * 10^i seconds. */
	unsigned long long queue_wait_buckets[PEEROP_WORKQUEUE_DURATION_BUCKETS];
	/** Cumulative counts of work durations <= 1e-8 * 10^i seconds. */
	unsigned long long work_buckets[PEEROP_WORKQUEUE_DURATION_BUCKETS];
	/** Seconds the keys processing now have been processing, summed. */
	double unfinished_work_s;
} peerop_workqueue_stats;

/** Current figures. */
PEEROP_EXTERN(void) peerop_workqueue_get_stats(peerop_workqueue *q, peerop_workqueue_stats *out);

/**
 * A metrics collector (peerop_metrics_collect_cb), payload the queue:
 * client-go's workqueue metrics, labelled {name}: `workqueue_depth`,
 * `workqueue_adds_total`, `workqueue_retries_total`,
 * `workqueue_queue_duration_seconds` and `workqueue_work_duration_seconds`
 * (histograms), `workqueue_unfinished_work_seconds`,
 * `workqueue_longest_running_processor_seconds`. A controller's collector
 * includes its queue's.
 */
PEEROP_EXTERN(int) peerop_workqueue_collect_metrics(peerop_metrics_writer *w, void *queue);

/** The queue's name (never NULL). */
PEEROP_EXTERN(const char *) peerop_workqueue_name(const peerop_workqueue *q);

/** Shut down (if needed), join the internal thread and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_workqueue_free(peerop_workqueue *q);

PEEROP_END_DECL

#endif /* PEEROP_WORKQUEUE_H */
