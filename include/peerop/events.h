/**
 * @file peerop/events.h
 * @brief Recording Kubernetes Events about objects (what `kubectl describe` shows).
 *
 * A peerop_events recorder writes `events.k8s.io/v1` Events, or core v1
 * Events when the server lacks that group, by client-go's rules
 * (k8s.io/client-go/tools/events):
 *
 * - an event repeated about the same object (same regarding object,
 *   reason and action; the note may differ) does not create another
 *   Event: the first repetition turns the Event into a series (count 2,
 *   written at once), later ones only count, and the count is written at
 *   most once per series_refresh_ms (30 min by default) and when the
 *   series ends (no repetition for series_finish_ms, 6 min);
 * - each object may create `burst` (25) Events, then one more every
 *   refill_ms (5 min): a controller in a hot loop with a changing reason
 *   cannot flood the API; what is refused is counted as dropped;
 * - recording never blocks: events wait in a queue of queue_max (1000)
 *   that a thread of the recorder sends; when it is full, events are
 *   dropped and counted.
 *
 * Events are best effort, as in client-go: a failed write is logged (at
 * warn level) and not retried beyond the client's own retries.
 *
 * Threading: peerop_events_record() may be called from any thread
 * (reconcile workers), concurrently.
 */
#ifndef PEEROP_EVENTS_H
#define PEEROP_EVENTS_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>

PEEROP_BEGIN_DECL

/** An event recorder. */
typedef struct peerop_events peerop_events;

/** Options of peerop_events_new(). Zero means "the default" everywhere. */
typedef struct peerop_events_options {
	unsigned int version;            /**< PEEROP_EVENTS_OPTIONS_VERSION */
	/** reportingController, e.g. "peerop.io/peerop-operator"; required. */
	const char *controller;
	/** reportingInstance (the pod name); NULL: the host name. */
	const char *instance;
	unsigned int queue_max;          /**< events waiting to be sent; default 1000 */
	unsigned int series_refresh_ms;  /**< a growing series' count is written at most this often; default 1800000 */
	unsigned int series_finish_ms;   /**< a series without repetition this long ends; default 360000 */
	unsigned int burst;              /**< Events an object may create at once; default 25 */
	unsigned int refill_ms;          /**< one more Event per object after this long; default 300000 */
	/** Force core v1 Events even when the server has events.k8s.io/v1. */
	int core_v1;
} peerop_events_options;

#define PEEROP_EVENTS_OPTIONS_VERSION 1
/** Static initialiser for peerop_events_options. */
#define PEEROP_EVENTS_OPTIONS_INIT { PEEROP_EVENTS_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, 0 }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_events_options_init(peerop_events_options *opts, unsigned int version);

/**
 * Create a recorder and start its sending thread.
 *
 * @param out receives it; free with peerop_events_free()
 * @param client borrowed; must outlive the recorder
 * @param opts copied
 * @return 0, PEEROP_EINVAL (no controller), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_events_new(peerop_events **out, peerop_kube_client *client,
	const peerop_events_options *opts);

/**
 * Record an event about an object. Returns at once; the recorder's
 * thread writes it.
 *
 * @param regarding the object (apiVersion, kind, metadata.name, and
 *        namespace and uid when it has them); borrowed, only read during the call
 * @param type "Normal" or "Warning"
 * @param reason why, CamelCase ("ScalingReplicaSet"), at most 128 bytes
 * @param action what was done or failed, CamelCase ("Apply"), at most 128 bytes
 * @param note_fmt printf format of the human-readable note; cut to 1 KiB
 * @return 0; PEEROP_ETOOMANY when dropped (the object's budget or the
 *         queue is exhausted); PEEROP_EINVAL (a bad type, reason, action or
 *         object); PEEROP_ECANCELED after free began
 */
PEEROP_EXTERN(int) peerop_events_record(peerop_events *ev, const json_t *regarding, const char *type,
	const char *reason, const char *action, const char *note_fmt, ...) PEEROP_FORMAT(6, 7);

/**
 * Wait until every event recorded so far has been written (or failed).
 * @return 0, or PEEROP_ETIMEOUT
 */
PEEROP_EXTERN(int) peerop_events_flush(peerop_events *ev, unsigned int timeout_ms);

/** Figures of a recorder. */
typedef struct peerop_events_stats {
	unsigned long long recorded;   /**< calls that were accepted */
	unsigned long long created;    /**< Events created */
	unsigned long long patched;    /**< series counts written */
	unsigned long long dropped;    /**< refused: budget or queue exhausted */
	unsigned long long failed;     /**< writes the server refused or that could not be sent */
	int core_v1;                   /**< 1 once it writes core v1 Events */
	size_t open_series;            /**< series remembered (not yet finished) */
} peerop_events_stats;

/** Current figures. */
PEEROP_EXTERN(void) peerop_events_get_stats(peerop_events *ev, peerop_events_stats *out);

/**
 * Write what is queued (for up to 2 s), including the final counts of
 * open series, stop the thread and release. NULL is a no-op.
 */
PEEROP_EXTERN(void) peerop_events_free(peerop_events *ev);

PEEROP_END_DECL

#endif /* PEEROP_EVENTS_H */
