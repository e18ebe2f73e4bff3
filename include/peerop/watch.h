/**
 * @file peerop/watch.h
 * @brief List+watch that never loses an event.
 *
 * A peerop_watch follows one kind of resource (optionally one namespace,
 * optionally filtered by label and field selectors) on a thread of its
 * own, and calls back with every change: ADDED, MODIFIED, DELETED, and
 * SYNCED once the initial state has been delivered and again after every
 * relist. It behaves as client-go's reflector and kube-rs's watcher:
 *
 * - it lists (or, where the server supports it, opens a streaming list with
 *   `sendInitialEvents=true`), then watches from the list's resourceVersion
 *   with bookmarks, and resumes from the last resourceVersion it saw;
 * - on 410 Gone (an HTTP reply or an in-stream ERROR event) it lists again
 *   and delivers the difference against what it delivered before: objects
 *   that vanished meanwhile come as DELETED, changed ones as MODIFIED, so a
 *   consumer never keeps a ghost;
 * - each watch request asks for a random timeout of 5 to 10 minutes; a
 *   stream that delivers no byte for longer than the idle timeout is
 *   reconnected; errors back off from 800 ms, doubling to 30 s, jittered,
 *   reset after 2 minutes without errors; Retry-After is honoured;
 * - events are parsed exactly once as they arrive; an oversized or
 *   malformed event is reported through the error callback and the stream
 *   restarts from the last good resourceVersion.
 *
 * The callbacks' sequence always replays to the server's state: applying
 * ADDED/MODIFIED as "set" and DELETED as "remove" to an empty map gives
 * the objects the server holds (as of the last SYNCED or later event).
 */
#ifndef PEEROP_WATCH_H
#define PEEROP_WATCH_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>

PEEROP_BEGIN_DECL

/** A running list+watch. */
typedef struct peerop_watch peerop_watch;

/** What a callback reports. */
typedef enum peerop_watch_event_type {
	PEEROP_WATCH_ADDED = 0,    /**< a new object (or one seen for the first time) */
	PEEROP_WATCH_MODIFIED = 1, /**< a known object changed */
	PEEROP_WATCH_DELETED = 2,  /**< an object is gone; the object is its last known state */
	PEEROP_WATCH_SYNCED = 3    /**< the full state has been delivered; object is NULL */
} peerop_watch_event_type;

/**
 * Called on the watch's thread for every change.
 *
 * For DELETED after a relist, the object may be a tombstone holding only
 * apiVersion, kind and metadata (name, namespace, uid, resourceVersion),
 * because the watch does not keep whole objects; peerop_informer delivers
 * the full last state instead.
 *
 * @param object borrowed for the duration of the call (json_incref() it to
 *        keep it); NULL for SYNCED
 */
typedef void (*peerop_watch_event_cb)(peerop_watch_event_type type, json_t *object, void *payload);

/**
 * Called on the watch's thread when something went wrong and the watch is
 * recovering by itself (reconnecting, relisting, backing off). For logging
 * and metrics: nothing needs to be done.
 *
 * @param code a PEEROP_E* code
 * @param message what happened, naming the URL or the event
 */
typedef void (*peerop_watch_error_cb)(int code, const char *message, void *payload);

/** How the initial state is fetched. */
typedef enum peerop_watch_initial {
	/** Streaming list if the server supports it, else LIST+WATCH (default). */
	PEEROP_WATCH_INITIAL_AUTO = 0,
	/** Always LIST (paged), then WATCH. */
	PEEROP_WATCH_INITIAL_LIST = 1,
	/** Always a streaming list (`sendInitialEvents=true`). */
	PEEROP_WATCH_INITIAL_STREAM = 2
} peerop_watch_initial;

/** Options of peerop_watch_start(). Zero means "the default" everywhere. */
typedef struct peerop_watch_options {
	unsigned int version;            /**< PEEROP_WATCH_OPTIONS_VERSION */
	/** Namespace to watch; NULL: the client's default namespace; "": all namespaces. */
	const char *ns;
	const char *label_selector;      /**< NULL: every object */
	const char *field_selector;      /**< NULL: every object */
	peerop_watch_initial initial;    /**< how to fetch the initial state */
	unsigned int page_size;          /**< LIST page size; default 500 */
	size_t max_event_bytes;          /**< largest event accepted; default 16 MiB */
	unsigned int min_timeout_s;      /**< watch timeoutSeconds is random in [min, max]; default 300 */
	unsigned int max_timeout_s;      /**< default 600 */
	/** Reconnect after this long without a byte; default 90000 (bookmarks come every 60 s). */
	unsigned int idle_timeout_ms;
	unsigned int backoff_initial_ms; /**< default 800 */
	unsigned int backoff_max_ms;     /**< default 30000 */
	unsigned int backoff_reset_ms;   /**< healthy this long resets the backoff; default 120000 */
	peerop_watch_event_cb on_event;  /**< required */
	peerop_watch_error_cb on_error;  /**< optional */
	void *payload;                   /**< passed to both callbacks */
} peerop_watch_options;

#define PEEROP_WATCH_OPTIONS_VERSION 1
/** Static initialiser for peerop_watch_options. */
#define PEEROP_WATCH_OPTIONS_INIT { PEEROP_WATCH_OPTIONS_VERSION, NULL, NULL, NULL, \
	PEEROP_WATCH_INITIAL_AUTO, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_watch_options_init(peerop_watch_options *opts, unsigned int version);

/**
 * Start following a resource on a new thread.
 *
 * @param out receives the watch; free with peerop_watch_free()
 * @param client the client; borrowed, and must outlive the watch
 * @param res the resource; copied
 * @param opts options (on_event is required); copied
 * @return 0, or PEEROP_EINVAL / PEEROP_ENOMEM; if it fails no callback is
 *         ever called
 */
PEEROP_EXTERN(int) peerop_watch_start(peerop_watch **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const peerop_watch_options *opts);

/**
 * Stop the watch. May be called from any thread, any number of times.
 *
 * Called from outside the watch's callbacks, it returns within about
 * 100 ms (plus the time a callback already running takes to return), and
 * once it has returned no callback runs any more. Called from inside a
 * callback, it returns at once and no further callback starts after the
 * current one returns.
 */
PEEROP_EXTERN(void) peerop_watch_stop(peerop_watch *w);

/** Stop (if needed) and release the watch. Not from its own callbacks. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_watch_free(peerop_watch *w);

/** 1 once the initial state has been delivered (a SYNCED callback ran), else 0. */
PEEROP_EXTERN(int) peerop_watch_has_synced(const peerop_watch *w);

/** Counters, for metrics and tests. */
typedef struct peerop_watch_stats {
	unsigned long long events;     /**< ADDED/MODIFIED/DELETED delivered */
	unsigned long long lists;      /**< initial lists and relists completed */
	unsigned long long watches;    /**< watch requests made */
	unsigned long long errors;     /**< errors reported (each also went to on_error) */
	unsigned long long bookmarks;  /**< bookmarks received */
} peerop_watch_stats;

/** Copy the counters. Thread-safe. */
PEEROP_EXTERN(void) peerop_watch_get_stats(const peerop_watch *w, peerop_watch_stats *out);

/**
 * The last resourceVersion the watch has seen.
 *
 * @param out receives a copy to release with peerop_free(), or NULL if none yet
 * @return 0 or PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_watch_resource_version(char **out, const peerop_watch *w);

PEEROP_END_DECL

#endif /* PEEROP_WATCH_H */
