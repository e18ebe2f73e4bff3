/**
 * @file peerop/reconcile.h
 * @brief A controller runtime: caches, a work queue and reconcile workers.
 *
 * A controller watches one primary resource (say HTTPServers) and the
 * resources it owns (the Deployments and ConfigMaps it creates). Any
 * change to a primary object, or to an object whose controller
 * ownerReference points at one, queues that primary's key
 * ("namespace/name"); worker threads take keys from the queue and call the
 * program's reconcile function, which reads the caches, makes the world
 * match the primary's spec (server-side apply is the easy way) and writes
 * the primary's status. It is level-based: reconcile gets a key, never an
 * event, and must work from the current state alone.
 *
 * The runtime guarantees what controller-runtime does:
 * - a key is never reconciled by two workers at once, and a change that
 *   arrives during a reconcile runs it again afterwards;
 * - workers start only once every cache has synced;
 * - a failed reconcile is retried with per-key exponential backoff (5 ms
 *   doubling to 1000 s) under an overall rate limit (10/s, burst 100);
 *   success resets the backoff;
 * - peerop_controller_stop() stops intake, lets reconciles in flight
 *   finish within a grace period (30 s by default) and returns once no
 *   reconcile runs; none starts after it returns.
 *
 * Leader election (peerop/leader.h) is the program's choice: start the
 * controller from on_started_leading, and exit (or stop it) on
 * on_stopped_leading, as controller-runtime does.
 *
 * Threading: the reconcile function runs on worker threads, possibly
 * several at once for different keys; it may call any libpeerop function
 * except peerop_controller_stop()/free() on its own controller.
 */
#ifndef PEEROP_RECONCILE_H
#define PEEROP_RECONCILE_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>
#include <peerop/informer.h>
#include <peerop/metrics.h>
#include <peerop/workqueue.h>
#include <peerop/predicate.h>

PEEROP_BEGIN_DECL

/** A controller. */
typedef struct peerop_controller peerop_controller;

/** What to reconcile: a primary object's namespace ("" when cluster-scoped) and name. */
typedef struct peerop_reconcile_request {
	const char *ns;
	const char *name;
	/** The primary as the cache holds it now (borrowed for the call; the
	 *  reconcile may change this copy), or NULL: it is gone (deleted, or
	 *  never cached). Reading the cache again gives the same state. */
	json_t *object;
	/** 1 when the primary is being deleted (metadata.deletionTimestamp).
	 *  With opts.finalizer, this is the cleanup call: returning 0 lets the
	 *  runtime remove the finalizer and the object go. */
	int deleting;
} peerop_reconcile_request;

/** What reconcile asks for besides its return code; zeroed before each call. */
typedef struct peerop_reconcile_result {
	/** Run again after the key's backoff (without counting an error). */
	int requeue;
	/** Run again after this many milliseconds (the backoff is reset); 0: no. */
	unsigned long long requeue_after_ms;
	/** With an error return: the error is terminal (a spec that can never
	 *  work): logged, counted in controller_runtime_terminal_reconcile_errors_total,
	 *  and not retried until the key is queued again by a change. */
	int terminal;
} peerop_reconcile_result;

/**
 * The program's reconcile function.
 *
 * @param req borrowed for the call
 * @param result what to do next on success
 * @return 0 on success; a negative PEEROP_E* code on failure: the key is
 *         retried with backoff (result is ignored, but for
 *         result->terminal, which stops the retries). PEEROP_ECONFLICT (a
 *         stale write) is retried the same way but logged at debug level:
 *         it is routine, the next run reads the newer object.
 */
typedef int (*peerop_reconcile_cb)(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload);

/** Options of peerop_controller_new(). Zero means "the default" everywhere. */
typedef struct peerop_controller_options {
	unsigned int version;              /**< PEEROP_CONTROLLER_OPTIONS_VERSION */
	/** Name: the `controller` label of metrics, the queue's name, and the
	 *  default field manager. Required. */
	const char *name;
	/** The primary resource; required (strings copied). */
	peerop_kube_resource primary;
	/** Namespace to watch: NULL: the client's default; "": all namespaces. */
	const char *ns;
	/** Only primaries matching this label selector; NULL: all. */
	const char *label_selector;
	/** Reconcile threads; default 1. */
	unsigned int workers;
	/** fieldManager of peerop_controller_apply(); default: name. */
	const char *field_manager;
	/** The work queue's backoff and rate limit (its name is ignored). */
	peerop_workqueue_options queue;
	/** How long peerop_controller_stop() lets reconciles in flight finish; default 30000. */
	unsigned int shutdown_grace_ms;
	/** Keep metadata.managedFields in the caches (dropped by default). */
	int keep_managed_fields;
	peerop_reconcile_cb reconcile;     /**< required */
	void *payload;                     /**< passed to reconcile */
	/** Updates of a primary are queued only if one of these says so
	 *  (peerop/predicate.h); creations and deletions always are. NULL:
	 *  every update. The array is copied. */
	const peerop_predicate *predicates;
	size_t npredicates;                /**< entries in predicates */
	/**
	 * A finalizer (a qualified name, "example.com/cleanup") the runtime
	 * keeps on every primary: added (race-safely) before the first
	 * reconcile of an object; when the object is being deleted, reconcile
	 * is called with req->deleting and, once it returns 0 without
	 * requeue, the finalizer is removed and the object goes. NULL: none.
	 */
	const char *finalizer;
} peerop_controller_options;

#define PEEROP_CONTROLLER_OPTIONS_VERSION 1
/** Static initialiser for peerop_controller_options. */
#define PEEROP_CONTROLLER_OPTIONS_INIT { PEEROP_CONTROLLER_OPTIONS_VERSION, NULL, { NULL, NULL, NULL, 0 }, \
	NULL, NULL, 0, NULL, PEEROP_WORKQUEUE_OPTIONS_INIT, 0, 0, NULL, NULL, NULL, 0, NULL }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_controller_options_init(peerop_controller_options *opts, unsigned int version);

/**
 * Create a controller: its primary cache and queue. Nothing runs until
 * peerop_controller_start(), so owned resources can be added first.
 *
 * @param out receives the controller; free with peerop_controller_free()
 * @param client borrowed; must outlive the controller
 * @param opts copied
 * @return 0, PEEROP_EINVAL (no name, resource or reconcile), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_controller_new(peerop_controller **out, peerop_kube_client *client,
	const peerop_controller_options *opts);

/**
 * Watch a resource the primaries own (before start): a change to an
 * object whose controller ownerReference names a primary of this
 * controller (by uid, or by group, kind and name while the primary cache
 * is not synced yet) queues that primary. Deleting an owned object queues
 * its owner too, so reconcile can recreate it.
 *
 * @param res the owned resource (copied); it is watched in the
 *        controller's namespace
 * @param label_selector only owned objects matching it are cached (keep
 *        caches small: label what you create); NULL: all
 * @return 0, PEEROP_EEXISTS (already watched), PEEROP_EINVAL after start
 */
PEEROP_EXTERN(int) peerop_controller_owns(peerop_controller *c, const peerop_kube_resource *res,
	const char *label_selector);

/**
 * Maps a changed object of a watched resource to the primaries to
 * reconcile: calls enqueue(ns, name, ctx) for each. Runs on the cache's
 * thread; must not block.
 */
typedef void (*peerop_controller_map_cb)(const json_t *object,
	void (*enqueue)(const char *ns, const char *name, void *ctx), void *ctx, void *payload);

/**
 * Watch another resource (before start) and map its changes to primaries
 * with map (for references that are not ownerReferences).
 *
 * @return as peerop_controller_owns()
 */
PEEROP_EXTERN(int) peerop_controller_watches(peerop_controller *c, const peerop_kube_resource *res,
	const char *label_selector, peerop_controller_map_cb map, void *payload);

/**
 * Start the caches, and the workers once every cache has synced. Returns
 * at once.
 * @return 0, PEEROP_EINVAL if already started, or a cache's start error
 */
PEEROP_EXTERN(int) peerop_controller_start(peerop_controller *c);

/**
 * Wait until every cache has synced (the workers then run).
 * @return 0, PEEROP_ETIMEOUT, PEEROP_ECANCELED once stopped
 */
PEEROP_EXTERN(int) peerop_controller_wait_synced(peerop_controller *c, unsigned int timeout_ms);

/** 1 once every cache has synced and the controller is not stopped (for /readyz). */
PEEROP_EXTERN(int) peerop_controller_ready(const peerop_controller *c);

/**
 * Queue a primary by hand (from outside the caches: a timer, a webhook).
 * @return 0, PEEROP_ECANCELED after stop
 */
PEEROP_EXTERN(int) peerop_controller_enqueue(peerop_controller *c, const char *ns, const char *name);

/**
 * The cache of the primary resource (res NULL) or of a resource added
 * with peerop_controller_owns()/peerop_controller_watches(); owned by the
 * controller. Reconcile reads from it instead of asking the API server.
 *
 * @return the informer, or NULL if res is not watched
 */
PEEROP_EXTERN(peerop_informer *) peerop_controller_cache(peerop_controller *c,
	const peerop_kube_resource *res);

/** The client (borrowed at creation). */
PEEROP_EXTERN(peerop_kube_client *) peerop_controller_client(peerop_controller *c);

/** The field manager used by peerop_controller_apply(). */
PEEROP_EXTERN(const char *) peerop_controller_field_manager(const peerop_controller *c);

/**
 * Server-side apply of an object the controller manages, with its field
 * manager and force (a controller owns what it applies).
 *
 * Ownership safety: when object carries a controller ownerReference
 * (peerop_object_set_controller()), an object of that name that already
 * exists must be controlled by that same owner (by uid). One that is not
 * (made by hand, or by another controller) is left alone and the call
 * fails with PEEROP_ECONFLICT naming it: forcing the apply would adopt it,
 * and garbage collection would later delete it with our owner. The check
 * reads the controller's cache of res when it has one, else GETs the
 * object; an object created between that read and the apply is not seen.
 *
 * @param out receives the object the server stored; may be NULL
 * @param res the object's resource
 * @param object must carry apiVersion, kind, metadata.name (and
 *        metadata.namespace for namespaced resources); borrowed
 * @param subresource NULL, or "status" to apply only the status (no
 *        ownership check)
 * @return 0, PEEROP_ECONFLICT (not ours, see above), or the REST call's error
 */
PEEROP_EXTERN(int) peerop_controller_apply(json_t **out, peerop_controller *c,
	const peerop_kube_resource *res, const json_t *object, const char *subresource);

/**
 * peerop_controller_apply() stealing object: its reference is released
 * whatever happens, so `peerop_controller_apply_new(NULL, c, res,
 * build_thing(), NULL)` is the whole idiom (a NULL object, from a failed
 * constructor, gives PEEROP_ENOMEM).
 */
PEEROP_EXTERN(int) peerop_controller_apply_new(json_t **out, peerop_controller *c,
	const peerop_kube_resource *res, json_t *object, const char *subresource);

/**
 * Stop: no new keys are handed out, reconciles in flight get the grace
 * period to finish, the caches stop. Returns once no reconcile runs (or
 * the grace period ended: stuck ones are then abandoned, logged, and the
 * call returns PEEROP_ETIMEOUT). Idempotent: a second call (from another
 * thread too) waits for the first and returns its result. Not from
 * reconcile.
 *
 * @return 0, or PEEROP_ETIMEOUT
 */
PEEROP_EXTERN(int) peerop_controller_stop(peerop_controller *c);

/** Stop (if needed) and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_controller_free(peerop_controller *c);

/** Figures of a controller. */
typedef struct peerop_controller_stats {
	unsigned long long reconciles;          /**< calls made */
	unsigned long long success;             /**< returned 0 without requeue */
	unsigned long long errors;              /**< returned an error (terminal ones too) */
	unsigned long long terminal_errors;     /**< returned an error marked terminal */
	unsigned long long requeues;            /**< returned 0 with requeue */
	unsigned long long requeues_after;      /**< returned 0 with requeue_after_ms */
	unsigned int active_workers;            /**< reconciles running now */
	peerop_workqueue_stats queue;           /**< the queue's figures */
} peerop_controller_stats;

/** Current figures. */
PEEROP_EXTERN(void) peerop_controller_get_stats(peerop_controller *c, peerop_controller_stats *out);

/**
 * A metrics collector (peerop_metrics_collect_cb) for a controller,
 * payload the peerop_controller: `controller_runtime_reconcile_total`
 * {controller,result}, `controller_runtime_reconcile_errors_total`,
 * `controller_runtime_terminal_reconcile_errors_total`,
 * `controller_runtime_reconcile_time_seconds`,
 * `controller_runtime_active_workers`,
 * `controller_runtime_max_concurrent_reconciles`, its queue's
 * (peerop_workqueue_collect_metrics()), and the size of each of its caches:
 * `peerop_informer_cache_objects` and `peerop_informer_cache_bytes`
 * {controller,resource}.
 */
PEEROP_EXTERN(int) peerop_controller_collect_metrics(peerop_metrics_writer *w, void *controller);

/* ------------------------------------------------------------------------
 * Object helpers for reconcile functions
 * ---------------------------------------------------------------------- */

/**
 * Make owner the controller of object: set (or replace) its
 * ownerReference with controller: true and blockOwnerDeletion: true, from
 * the owner's apiVersion, kind, name and uid. Garbage collection then
 * deletes the object with its owner.
 *
 * @return 0, PEEROP_EINVAL (owner lacks one of those fields, or object is
 *         malformed), PEEROP_ECONFLICT (object already has another controller)
 */
PEEROP_EXTERN(int) peerop_object_set_controller(json_t *object, const json_t *owner);

/** The uid of the object's controller ownerReference (borrowed), or NULL. */
PEEROP_EXTERN(const char *) peerop_object_controller_uid(const json_t *object);

/**
 * Set a condition in a `conditions` array (metav1.Condition, keyed by
 * type), as apimachinery's meta.SetStatusCondition: lastTransitionTime
 * changes only when status changes.
 *
 * @param conditions a JSON array (e.g. status.conditions), changed in place
 * @param type condition type: CamelCase ("Ready"), optionally prefixed ("example.com/Ready")
 * @param status "True", "False" or "Unknown"
 * @param reason CamelCase reason (`[A-Za-z][A-Za-z0-9_,:]*`, not ending in `,` or `:`)
 * @param message free text; NULL: ""
 * @param observed_generation the generation the condition was computed from
 * @param now_s wall-clock seconds for lastTransitionTime; 0: now
 * @return 1 if the array changed, 0 if not, PEEROP_EINVAL for a bad
 *         argument (not an array, status not True/False/Unknown, a type
 *         or reason the API server would refuse), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_condition_set(json_t *conditions, const char *type, const char *status,
	const char *reason, const char *message, long long observed_generation, long long now_s);

/** The condition of this type in a conditions array (borrowed), or NULL. */
PEEROP_EXTERN(json_t *) peerop_condition_find(const json_t *conditions, const char *type);

/** 1 if the condition of this type has status "True". */
PEEROP_EXTERN(int) peerop_condition_is_true(const json_t *conditions, const char *type);

PEEROP_END_DECL

#endif /* PEEROP_RECONCILE_H */
