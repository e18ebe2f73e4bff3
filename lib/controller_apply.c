/*
 * controller_apply.c: how a controller writes the objects it manages:
 * server-side apply with its field manager and force, refusing to take
 * over an object some other owner (or no one) controls.
 */
#include <string.h>
#include <peerop/reconcile.h>
#include "internal.h"
#include "controller_internal.h"

static int res_valid(const peerop_kube_resource *r)
{
	return r && r->version && *r->version && r->resource && *r->resource;
}

/* An object of this name that exists must be controlled by uid: forcing
 * an apply on anyone else's would adopt it (our ownerReference replaces
 * theirs, or becomes its first), and garbage collection would delete it
 * with our owner. The cache answers for objects we made (labelled, so
 * cached); anything else costs a GET, once per child that is not there. */
static int check_controlled(peerop_controller *c, const peerop_kube_resource *res, const char *ns,
	const char *name, const char *uid)
{
	peerop_informer *inf = peerop_controller_cache(c, res);
	json_t *cur = NULL, *refs, *r = NULL;
	const char *cuid;
	size_t i;
	int rc = PEEROP_ENOTFOUND;

	if (inf)
		rc = peerop_informer_get(&cur, inf, res->namespaced ? ns : NULL, name);
	if (rc == PEEROP_ENOTFOUND) {
		rc = peerop_kube_get(&cur, c->client, res, ns, name);
		if (rc == PEEROP_ENOTFOUND) {
			peerop_error_clear();
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	cuid = peerop_object_controller_uid(cur);
	if (cuid && !strcmp(cuid, uid)) {
		json_decref(cur);
		return 0;
	}
	refs = json_object_get(json_object_get(cur, "metadata"), "ownerReferences");
	json_array_foreach(refs, i, r)
		if (json_is_true(json_object_get(r, "controller")))
			break;
	if (cuid)
		rc = peerop__error_set_http(PEEROP_ECONFLICT, 0, "AlreadyOwned",
			"apply %s %s%s%s: it exists and is controlled by %s %s (uid %s), not by this owner (uid %s); "
			"not taking it over", res->resource, res->namespaced ? ns : "", res->namespaced ? "/" : "", name,
			json_string_value(json_object_get(r, "kind")) ? json_string_value(json_object_get(r, "kind")) : "?",
			json_string_value(json_object_get(r, "name")) ? json_string_value(json_object_get(r, "name")) : "?",
			cuid, uid);
	else
		rc = peerop__error_set_http(PEEROP_ECONFLICT, 0, "NotOwned",
			"apply %s %s%s%s: it exists and has no controller (made by someone else); not taking it over: "
			"delete or rename it", res->resource, res->namespaced ? ns : "", res->namespaced ? "/" : "", name);
	json_decref(cur);
	return rc;
}

int peerop_controller_apply(json_t **out, peerop_controller *c, const peerop_kube_resource *res,
	const json_t *object, const char *subresource)
{
	peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;
	json_t *meta = json_object_get(object, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));

	if (out)
		*out = NULL;
	if (!c || !res_valid(res) || !json_is_object(object))
		return peerop__error_set(PEEROP_EINVAL, "apply: a controller, a resource and an object are required");
	if (!name || !*name || !json_string_value(json_object_get(object, "apiVersion")) ||
	    !json_string_value(json_object_get(object, "kind")))
		return peerop__error_set(PEEROP_EINVAL, "apply %s: the object needs apiVersion, kind and metadata.name",
			res->resource);
	if (res->namespaced && (!ns || !*ns))
		return peerop__error_set(PEEROP_EINVAL, "apply %s/%s: a namespaced object needs metadata.namespace",
			res->resource, name);
	if (!subresource) {
		const char *uid = peerop_object_controller_uid(object);
		int rc = uid ? check_controlled(c, res, ns, name, uid) : 0;
		if (rc < 0)
			return rc;
	}
	wo.field_manager = c->field_manager;
	wo.force = 1;
	wo.subresource = subresource;
	return peerop_kube_patch(out, c->client, res, ns, name, PEEROP_KUBE_PATCH_APPLY, object, &wo);
}

int peerop_controller_apply_new(json_t **out, peerop_controller *c, const peerop_kube_resource *res,
	json_t *object, const char *subresource)
{
	int rc;

	if (out)
		*out = NULL;
	if (!object)
		return peerop__error_set(PEEROP_ENOMEM, "apply: no object (out of memory?)");
	rc = peerop_controller_apply(out, c, res, object, subresource);
	json_decref(object);
	return rc;
}
