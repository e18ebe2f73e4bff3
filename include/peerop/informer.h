/**
 * @file peerop/informer.h
 * @brief A cache of one kind of resource, kept up to date by a watch.
 *
 * A peerop_informer runs a peerop_watch and keeps every object it reports
 * in a thread-safe store keyed by namespace/name, with secondary indexes.
 * Before an object is stored a transform runs on it; by default it drops
 * `metadata.managedFields`, which can be most of an object's size.
 *
 * Lookups return copies the caller owns: the store keeps objects
 * serialized (memory close to the size of their JSON) and each reader gets
 * its own json_t to read or change.
 */
#ifndef PEEROP_INFORMER_H
#define PEEROP_INFORMER_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>
#include <peerop/watch.h>

PEEROP_BEGIN_DECL

/** A watched cache of one resource. */
typedef struct peerop_informer peerop_informer;

/**
 * Runs on every object before it is stored and handed to on_change. It may
 * change the object in place.
 *
 * @return 0 to keep the object; nonzero to drop it (it is then treated as
 *         absent: stored objects are removed)
 */
typedef int (*peerop_informer_transform_cb)(json_t *object, void *payload);

/**
 * Called on the informer's thread after the store has changed.
 *
 * @param object the stored state (ADDED, MODIFIED), the last known state
 *        (DELETED), or NULL (SYNCED); borrowed for the call
 */
typedef void (*peerop_informer_change_cb)(peerop_watch_event_type type, const json_t *object, void *payload);

/** Options of peerop_informer_new(). */
typedef struct peerop_informer_options {
	unsigned int version;                   /**< PEEROP_INFORMER_OPTIONS_VERSION */
	/** The watch: namespace, selectors, timeouts... Its on_event and payload
	 *  are the informer's own and are ignored; on_error is passed through. */
	peerop_watch_options watch;
	/** Transform; NULL: drop metadata.managedFields. */
	peerop_informer_transform_cb transform;
	/** Keep metadata.managedFields when transform is NULL. */
	int keep_managed_fields;
	peerop_informer_change_cb on_change;    /**< optional */
	void *payload;                          /**< passed to transform and on_change */
} peerop_informer_options;

#define PEEROP_INFORMER_OPTIONS_VERSION 1
/** Static initialiser for peerop_informer_options. */
#define PEEROP_INFORMER_OPTIONS_INIT { PEEROP_INFORMER_OPTIONS_VERSION, PEEROP_WATCH_OPTIONS_INIT, \
	NULL, 0, NULL, NULL }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_informer_options_init(peerop_informer_options *opts, unsigned int version);

/**
 * Create an informer; it does not watch until peerop_informer_start(), so
 * that indexes can be added first.
 *
 * @param out receives the informer; free with peerop_informer_free()
 * @param client borrowed; must outlive the informer
 * @param res copied
 * @param opts copied; NULL for the defaults
 */
PEEROP_EXTERN(int) peerop_informer_new(peerop_informer **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const peerop_informer_options *opts);

/** Report one value of an index for an object (see peerop_informer_index_cb). */
typedef void (*peerop_informer_index_emit)(const char *value, void *ctx);

/**
 * An index function: calls emit(value, ctx) once for each value the object
 * has for this index (none, one or several). Runs on the informer's thread.
 */
typedef void (*peerop_informer_index_cb)(const json_t *object, peerop_informer_index_emit emit,
	void *ctx, void *payload);

/**
 * Add an index (before start).
 * @return 0, PEEROP_EEXISTS for a name already used, PEEROP_EINVAL after start
 */
PEEROP_EXTERN(int) peerop_informer_add_index(peerop_informer *inf, const char *name,
	peerop_informer_index_cb fn, void *payload);

/** Add an index of the UID of each object's controller (the ownerReference with controller: true). */
PEEROP_EXTERN(int) peerop_informer_add_owner_index(peerop_informer *inf, const char *name);

/** Add an index of each object's value for one label key. */
PEEROP_EXTERN(int) peerop_informer_add_label_index(peerop_informer *inf, const char *name,
	const char *label_key);

/** Start watching. @return 0, or the error of peerop_watch_start() */
PEEROP_EXTERN(int) peerop_informer_start(peerop_informer *inf);

/**
 * Wait until the initial state is in the store.
 *
 * @param timeout_ms how long to wait; 0: do not wait
 * @return 0 once synced, PEEROP_ETIMEOUT, or PEEROP_ECANCELED if stopped
 */
PEEROP_EXTERN(int) peerop_informer_wait_synced(peerop_informer *inf, unsigned int timeout_ms);

/** 1 once the initial state is in the store. */
PEEROP_EXTERN(int) peerop_informer_has_synced(const peerop_informer *inf);

/**
 * A copy of one object.
 *
 * @param out receives a new object the caller owns
 * @param ns the namespace (NULL or "" for cluster-scoped resources)
 * @return 0 or PEEROP_ENOTFOUND
 */
PEEROP_EXTERN(int) peerop_informer_get(json_t **out, peerop_informer *inf, const char *ns, const char *name);

/**
 * Copies of all objects, or of one namespace's.
 *
 * @param out receives a new JSON array the caller owns
 * @param ns a namespace, or NULL for all
 */
PEEROP_EXTERN(int) peerop_informer_list(json_t **out, peerop_informer *inf, const char *ns);

/**
 * Copies of the objects whose index has this value.
 *
 * @param out receives a new JSON array the caller owns
 * @return 0, or PEEROP_ENOTFOUND for an unknown index
 */
PEEROP_EXTERN(int) peerop_informer_by_index(json_t **out, peerop_informer *inf, const char *index,
	const char *value);

/** The number of objects in the store. */
PEEROP_EXTERN(size_t) peerop_informer_count(peerop_informer *inf);

/** The bytes the stored objects take (their serialized JSON; indexes not counted). */
PEEROP_EXTERN(size_t) peerop_informer_bytes(peerop_informer *inf);

/** The informer's watch (for its stats), or NULL before start. Owned by the informer. */
PEEROP_EXTERN(peerop_watch *) peerop_informer_watch(peerop_informer *inf);

/** Stop watching; same guarantees as peerop_watch_stop(). The store stays readable. */
PEEROP_EXTERN(void) peerop_informer_stop(peerop_informer *inf);

/** Stop and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_informer_free(peerop_informer *inf);

PEEROP_END_DECL

#endif /* PEEROP_INFORMER_H */
