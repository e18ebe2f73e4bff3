/**
 * @file peerop/fieldpath.h
 * @brief Reading and writing JSON objects by field path ("spec.template.metadata.labels").
 *
 * A path is a list of object keys separated by dots, each optionally
 * followed by array indexes: `spec.template.spec.containers[0].image`.
 * A key holding a dot or a backslash escapes it with a backslash:
 * `metadata.labels.app\.kubernetes\.io/name` (in C source:
 * `"metadata.labels.app\\.kubernetes\\.io/name"`). Paths longer than 4096
 * bytes or with more than 64 segments are refused.
 *
 * What fails says which path and which part of it failed, in
 * peerop_error_last(), so a reconcile can return the code as it is.
 *
 * Threading: these functions keep no state; a json_t is not thread-safe,
 * so an object shared between threads needs the caller's lock.
 */
#ifndef PEEROP_FIELDPATH_H
#define PEEROP_FIELDPATH_H

#include <jansson.h>
#include <peerop/common.h>

PEEROP_BEGIN_DECL

/**
 * The value at path.
 *
 * @param out receives the value, borrowed from obj (NULL on failure)
 * @param obj the object to read; borrowed
 * @return 0; PEEROP_ENOTFOUND if a key or index on the way is absent (or
 *         the value is JSON null); PEEROP_EINVAL for a malformed path or a
 *         part of the way that is not an object (or array, before an index)
 */
PEEROP_EXTERN(int) peerop_fieldpath_lookup(json_t **out, const json_t *obj, const char *path);

/**
 * The value at path (borrowed from obj), or NULL when it is absent or the
 * path cannot be followed: peerop_fieldpath_lookup() without the code.
 */
PEEROP_EXTERN(json_t *) peerop_fieldpath_get(const json_t *obj, const char *path);

/** The string at path (borrowed from obj), or NULL when absent or not a string. */
PEEROP_EXTERN(const char *) peerop_fieldpath_string(const json_t *obj, const char *path);

/**
 * The integer at path.
 *
 * @param out receives the value; left alone on failure
 * @return 0, PEEROP_ENOTFOUND, PEEROP_EINVAL (malformed path, or the value
 *         is not an integer)
 */
PEEROP_EXTERN(int) peerop_fieldpath_int(long long *out, const json_t *obj, const char *path);

/**
 * Set the value at path, creating the objects on the way that are absent
 * (array elements are never created: an index must exist).
 *
 * @param obj a JSON object, changed in place
 * @param value borrowed: obj takes its own reference
 * @return 0, PEEROP_EINVAL (malformed path; a part of the way is not an
 *         object; an index out of range), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_fieldpath_set(json_t *obj, const char *path, json_t *value);

/**
 * peerop_fieldpath_set() stealing value: the reference is released even
 * when the call fails, so `set_new(obj, "spec.replicas", json_integer(3))`
 * never leaks (a NULL value, from a failed json_* constructor, gives
 * PEEROP_ENOMEM).
 */
PEEROP_EXTERN(int) peerop_fieldpath_set_new(json_t *obj, const char *path, json_t *value);

/**
 * Remove the value at path (an object key, or an array element).
 * @return 0, PEEROP_ENOTFOUND (nothing there), PEEROP_EINVAL (malformed path)
 */
PEEROP_EXTERN(int) peerop_fieldpath_del(json_t *obj, const char *path);

PEEROP_END_DECL

#endif /* PEEROP_FIELDPATH_H */
