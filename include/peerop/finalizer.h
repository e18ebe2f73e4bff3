/**
 * @file peerop/finalizer.h
 * @brief Adding and removing a finalizer without losing anyone else's.
 *
 * A finalizer ("peerop.io/cleanup") keeps a deleted object in the API
 * until the controller that put it there has cleaned up what garbage
 * collection cannot (something outside the cluster, an object in another
 * namespace). Deleting the object then only sets
 * metadata.deletionTimestamp; the controller cleans up and removes its
 * finalizer, and the object goes.
 *
 * The list is shared by every controller that finalizes the object, so a
 * write must not be based on a stale copy: both functions send a JSON
 * patch whose `test` operation checks that the list (or the entry) is
 * still what the caller saw, and fail with PEEROP_ECONFLICT when it is
 * not (someone else changed it: read the object again and retry; a
 * controller's reconcile simply returns the code).
 *
 * A controller can have the runtime do all of this:
 * peerop_controller_options.finalizer (see peerop/reconcile.h).
 */
#ifndef PEEROP_FINALIZER_H
#define PEEROP_FINALIZER_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>

PEEROP_BEGIN_DECL

/** 1 if obj's metadata.finalizers holds name. */
PEEROP_EXTERN(int) peerop_finalizer_has(const json_t *obj, const char *name);

/**
 * Add a finalizer to an object, unless it is there already.
 *
 * @param out receives the object the server stored (NULL: discard); set to
 *        NULL when nothing needed writing
 * @param obj the object as the caller last saw it (a cache copy); borrowed
 * @param name a qualified name: `example.com/name` (a bare name the API
 *        server accepts only with a warning)
 * @return 0 (1 if it was there already and nothing was sent);
 *         PEEROP_ECONFLICT if the object changed meanwhile; PEEROP_EINVAL
 *         (no name, not a qualified name, obj lacks metadata.name or
 *         resourceVersion); the REST call's error
 */
PEEROP_EXTERN(int) peerop_finalizer_add(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const json_t *obj, const char *name);

/**
 * Remove a finalizer from an object, if it is there.
 *
 * @return 0 (1 if it was absent and nothing was sent); PEEROP_ECONFLICT if
 *         the list changed meanwhile; PEEROP_ENOTFOUND if the object is
 *         gone; the REST call's error
 */
PEEROP_EXTERN(int) peerop_finalizer_remove(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const json_t *obj, const char *name);

PEEROP_END_DECL

#endif /* PEEROP_FINALIZER_H */
