/*
 * finalizer.c: add and remove a finalizer with a JSON patch that tests
 * what it changes (see peerop/finalizer.h).
 *
 * Why JSON patch and not apply or a merge patch: metadata.finalizers is an
 * atomic list to server-side apply and a merge patch replaces lists whole,
 * so both would drop a finalizer another controller added a moment ago.
 * A JSON patch appends one entry or removes one index, and its `test`
 * makes the server refuse it if the list is not the one we looked at.
 * With no list at all there is nothing to test but the resourceVersion.
 *
 * The server reports a failed `test` as 422 Invalid; we validated the
 * name first, so that means "changed meanwhile": PEEROP_ECONFLICT.
 */
#include <stdio.h>
#include <string.h>
#include <peerop/finalizer.h>
#include "internal.h"
#include "controller_internal.h"

static json_t *finalizers(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "finalizers");
}

int peerop_finalizer_has(const json_t *obj, const char *name)
{
	json_t *v;
	size_t i;

	if (!name)
		return 0;
	json_array_foreach(finalizers(obj), i, v) {
		const char *s = json_string_value(v);
		if (s && !strcmp(s, name))
			return 1;
	}
	return 0;
}

static int send(json_t **out, peerop_kube_client *client, const peerop_kube_resource *res,
	const json_t *obj, json_t *patch, const char *what, const char *name)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *oname = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	int rc;

	if (!patch)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	rc = peerop_kube_patch(out, client, res, ns, oname, PEEROP_KUBE_PATCH_JSON, patch, NULL);
	json_decref(patch);
	if (rc == PEEROP_EINVALID || rc == PEEROP_ECONFLICT)
		return peerop__error_set_http(PEEROP_ECONFLICT, peerop_error_last()->http_status, "Conflict",
			"%s finalizer %s on %s %s%s%s: the object changed meanwhile; read it again",
			what, name, res->resource, ns ? ns : "", ns ? "/" : "", oname);
	return rc;
}

static int check(const peerop_kube_client *client, const peerop_kube_resource *res, const json_t *obj,
	const char *name)
{
	json_t *meta = json_object_get(obj, "metadata");

	if (!client || !res || !res->resource || !json_is_object(obj))
		return peerop__error_set(PEEROP_EINVAL, "finalizer: a client, a resource and an object are required");
	if (!name || !peerop__qualified_name_ok(name))
		return peerop__error_set(PEEROP_EINVAL, "finalizer \"%.100s\": not a qualified name (example.com/name)",
			name ? name : "(null)");
	if (!json_string_value(json_object_get(meta, "name")))
		return peerop__error_set(PEEROP_EINVAL, "finalizer %s: the object has no metadata.name", name);
	if (finalizers(obj) && !json_is_array(finalizers(obj)))
		return peerop__error_set(PEEROP_EINVAL, "finalizer %s: metadata.finalizers is not a list", name);
	return 0;
}

int peerop_finalizer_add(json_t **out, peerop_kube_client *client, const peerop_kube_resource *res,
	const json_t *obj, const char *name)
{
	json_t *list, *patch;
	const char *rv;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check(client, res, obj, name)) < 0)
		return rc;
	if (peerop_finalizer_has(obj, name))
		return 1;
	list = finalizers(obj);
	if (list && json_array_size(list) > 0) {
		patch = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:s}]",
			"op", "test", "path", "/metadata/finalizers", "value", list,
			"op", "add", "path", "/metadata/finalizers/-", "value", name);
	} else {
		rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
		if (!rv || !*rv)
			return peerop__error_set(PEEROP_EINVAL,
				"finalizer %s: the object has no metadata.resourceVersion to test", name);
		patch = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:[s]}]",
			"op", "test", "path", "/metadata/resourceVersion", "value", rv,
			"op", "add", "path", "/metadata/finalizers", "value", name);
	}
	return send(out, client, res, obj, patch, "add", name);
}

int peerop_finalizer_remove(json_t **out, peerop_kube_client *client, const peerop_kube_resource *res,
	const json_t *obj, const char *name)
{
	json_t *v;
	size_t i;
	char path[64];
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check(client, res, obj, name)) < 0)
		return rc;
	json_array_foreach(finalizers(obj), i, v) {
		const char *s = json_string_value(v);
		if (s && !strcmp(s, name)) {
			snprintf(path, sizeof(path), "/metadata/finalizers/%zu", i);
			return send(out, client, res, obj, json_pack("[{s:s, s:s, s:s}, {s:s, s:s}]",
				"op", "test", "path", path, "value", name, "op", "remove", "path", path),
				"remove", name);
		}
	}
	return 1;
}
