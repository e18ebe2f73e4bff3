/*
 * kube_rest.c: the generic REST verbs over peerop__kube_call().
 *
 * Which verbs are retried (429, 503, failed connections) follows RFC 9110's
 * idempotent methods: GET (get, list), PUT (replace) and DELETE. POST
 * (create) and PATCH (including server-side apply) are never retried: a
 * retried create could make a second object with generateName, and a
 * retried JSON patch could apply twice. A retried PUT whose first attempt
 * did land gets 409 Conflict (its resourceVersion is now stale) and a
 * retried DELETE gets 404: both are answers callers handle already.
 */
#include "kube_internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_RESTARTS 3

PEEROP_EXTERN(int) peerop_kube_list_options_init(peerop_kube_list_options *opts, unsigned int version)
{
	peerop_kube_list_options init = PEEROP_KUBE_LIST_OPTIONS_INIT;
	if (!opts || version != PEEROP_KUBE_LIST_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_list_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

PEEROP_EXTERN(int) peerop_kube_write_options_init(peerop_kube_write_options *opts, unsigned int version)
{
	peerop_kube_write_options init = PEEROP_KUBE_WRITE_OPTIONS_INIT;
	if (!opts || version != PEEROP_KUBE_WRITE_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_write_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

PEEROP_EXTERN(int) peerop_kube_delete_options_init(peerop_kube_delete_options *opts, unsigned int version)
{
	peerop_kube_delete_options init = PEEROP_KUBE_DELETE_OPTIONS_INIT;
	if (!opts || version != PEEROP_KUBE_DELETE_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_delete_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

/* NULL means the config's namespace; cluster-scoped resources have none. */
static const char *effective_ns(peerop_kube_client *c, const peerop_kube_resource *res, const char *ns)
{
	if (!res->namespaced)
		return NULL;
	return ns ? ns : peerop_kube_config_namespace(c->cfg);
}

static int check_args(peerop_kube_client *c, const peerop_kube_resource *res, const char *fn)
{
	if (!c || !res)
		return peerop__error_set(PEEROP_EINVAL, "%s: client and resource are required", fn);
	return 0;
}

/* The reply of a verb that returns an object must be one. */
static int expect_object(json_t **out, json_t *v, const char *method, const char *path)
{
	if (!json_is_object(v)) {
		json_decref(v);
		if (out)
			*out = NULL;
		return peerop__error_set(PEEROP_EPROTO, "%s %s: reply is not a JSON object", method, path);
	}
	if (out)
		*out = v;
	else
		json_decref(v);
	return 0;
}

static int call_object(json_t **out, peerop_kube_client *c, const peerop__kube_req *r)
{
	json_t *v = NULL;
	int rc = peerop__kube_call(&v, c, r);
	if (rc < 0)
		return rc;
	return expect_object(out, v, r->method, r->path);
}

static int get_path(json_t **out, peerop_kube_client *c, const char *path)
{
	peerop__kube_req r = { "GET", path, NULL, NULL, 0, 1 };
	return call_object(out, c, &r);
}

PEEROP_EXTERN(int) peerop_kube_get_subresource(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const char *name, const char *subresource)
{
	peerop__buf path = PEEROP__BUF_INIT;
	int rc;

	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_get: out is NULL");
	*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_get")) < 0)
		return rc;
	if (!name)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_get: name is NULL");
	rc = peerop__kube_path(&path, res, effective_ns(c, res, ns), name, subresource);
	if (rc == 0)
		rc = get_path(out, c, path.ptr);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_get(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const char *name)
{
	return peerop_kube_get_subresource(out, c, res, ns, name, NULL);
}

/* One page; *cont receives the continue token (or NULL at the end). */
static int list_page(json_t **page, peerop_kube_client *c, const char *base,
	const peerop_kube_list_options *o, const char *rv, const char *cont, unsigned int limit)
{
	peerop__buf path = PEEROP__BUF_INIT;
	char lim[16];
	int rc;

	snprintf(lim, sizeof(lim), "%u", limit);
	rc = peerop__buf_puts(&path, base);
	if (rc == 0)
		rc = peerop__kube_query_add(&path, "limit", lim);
	if (rc == 0 && o)
		rc = peerop__kube_query_add(&path, "labelSelector", o->label_selector);
	if (rc == 0 && o)
		rc = peerop__kube_query_add(&path, "fieldSelector", o->field_selector);
	/* resourceVersion goes with the first page only; later pages are pinned
	 * by the continue token. */
	if (rc == 0 && !cont)
		rc = peerop__kube_query_add(&path, "resourceVersion", rv);
	if (rc == 0)
		rc = peerop__kube_query_add(&path, "continue", cont);
	if (rc == 0)
		rc = get_path(page, c, path.ptr);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_list(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const peerop_kube_list_options *o)
{
	peerop__buf base = PEEROP__BUF_INIT;
	json_t *result = NULL;
	char *cont = NULL;
	const char *rv;
	unsigned int limit, restarts = 0, pages = 0;
	int rc;

	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_list: out is NULL");
	*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_list")) < 0)
		return rc;
	if (o && o->version != PEEROP_KUBE_LIST_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_list: unknown options version %u", o->version);
	limit = o && o->page_size ? o->page_size : 500;
	rv = o ? o->resource_version : NULL;
	if ((rc = peerop__kube_path(&base, res, effective_ns(c, res, ns), NULL, NULL)) < 0)
		return rc;
	for (;;) {
		json_t *page = NULL, *items, *meta;
		const char *next;

		rc = list_page(&page, c, base.ptr, o, rv, cont, limit);
		if (rc == PEEROP_EGONE && cont && restarts < LIST_RESTARTS) {
			/* The continue token expired: start again, at the latest
			 * version (an old RV would be as expired). */
			peerop__debug("kube", "GET %s: continue token expired after %u pages; listing again",
				base.ptr, pages);
			restarts++;
			json_decref(result);
			result = NULL;
			free(cont);
			cont = NULL;
			rv = NULL;
			pages = 0;
			continue;
		}
		if (rc < 0)
			break;
		pages++;
		items = json_object_get(page, "items");
		meta = json_object_get(page, "metadata");
		if (!json_is_array(items) && !json_is_null(items) && items) {
			json_decref(page);
			rc = peerop__error_set(PEEROP_EPROTO, "GET %s: reply is not a List (items is not an array)", base.ptr);
			break;
		}
		if (!result) {
			result = page;
			if (!json_is_array(items)) {
				/* "items": null or absent for an empty list */
				if (json_object_set_new(result, "items", json_array())) {
					rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
					break;
				}
			}
		} else {
			if (items && json_array_extend(json_object_get(result, "items"), items)) {
				json_decref(page);
				rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
				break;
			}
			/* later pages carry the same RV; keep the last metadata */
			if (json_is_object(meta))
				json_object_set(result, "metadata", meta);
		}
		next = json_string_value(json_object_get(meta, "continue"));
		if (next && *next && ((cont && !strcmp(next, cont)) || pages >= PEEROP__KUBE_MAX_PAGES)) {
			if (pages >= PEEROP__KUBE_MAX_PAGES)
				rc = peerop__error_set(PEEROP_EPROTO, "GET %s: the list goes on past %d pages", base.ptr,
					PEEROP__KUBE_MAX_PAGES);
			else
				rc = peerop__error_set(PEEROP_EPROTO, "GET %s: the server repeated the continue token "
					"(a list that would never end)", base.ptr);
			if (result != page)
				json_decref(page);
			break;
		}
		free(cont);
		cont = next && *next ? strdup(next) : NULL;
		if (result != page)
			json_decref(page);
		if (next && *next && !cont) {
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
			break;
		}
		if (!cont)
			break;
	}
	if (rc == 0) {
		json_t *meta = json_object_get(result, "metadata");
		if (json_is_object(meta)) {
			json_object_del(meta, "continue");
			json_object_del(meta, "remainingItemCount");
		}
		*out = result;
		result = NULL;
	}
	json_decref(result);
	free(cont);
	peerop__buf_dispose(&base);
	return rc;
}

static int write_query(peerop__buf *path, const peerop_kube_write_options *o, int apply)
{
	int rc = 0;
	if (!o)
		return 0;
	rc = peerop__kube_query_add(path, "fieldManager", o->field_manager);
	if (rc == 0 && apply && o->force)
		rc = peerop__kube_query_add(path, "force", "true");
	if (rc == 0 && o->dry_run)
		rc = peerop__kube_query_add(path, "dryRun", "All");
	if (rc == 0)
		rc = peerop__kube_query_add(path, "fieldValidation", o->field_validation);
	return rc;
}

static int send_json(json_t **out, peerop_kube_client *c, const char *method, const char *path,
	const char *content_type, const json_t *body, int idempotent)
{
	char *text = json_dumps(body, JSON_COMPACT);
	peerop__kube_req r = { method, path, content_type, text, text ? strlen(text) : 0, idempotent };
	int rc;
	if (!text)
		return peerop__error_set(PEEROP_EINVAL, "%s %s: the body cannot be serialised as JSON", method, path);
	rc = call_object(out, c, &r);
	free(text);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_create(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const json_t *obj,
	const peerop_kube_write_options *o)
{
	peerop__buf path = PEEROP__BUF_INIT;
	const char *ens;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_create")) < 0)
		return rc;
	if (!json_is_object(obj))
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_create: obj is not a JSON object");
	ens = effective_ns(c, res, ns);
	if (res->namespaced && !*ens)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_create: %s are namespaced: a namespace is required",
			res->resource);
	rc = peerop__kube_path(&path, res, ens, NULL, NULL);
	if (rc == 0)
		rc = write_query(&path, o, 0);
	if (rc == 0)
		rc = send_json(out, c, "POST", path.ptr, "application/json", obj, 0);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_replace(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const char *name, const json_t *obj,
	const peerop_kube_write_options *o)
{
	peerop__buf path = PEEROP__BUF_INIT;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_replace")) < 0)
		return rc;
	if (!name || !json_is_object(obj))
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_replace: name and a JSON object are required");
	rc = peerop__kube_path(&path, res, effective_ns(c, res, ns), name, o ? o->subresource : NULL);
	if (rc == 0)
		rc = write_query(&path, o, 0);
	if (rc == 0)
		rc = send_json(out, c, "PUT", path.ptr, "application/json", obj, 1);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_patch(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const char *name,
	peerop_kube_patch_type type, const json_t *patch, const peerop_kube_write_options *o)
{
	static const char *const types[] = {
		"application/merge-patch+json",
		"application/json-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml", /* JSON is valid YAML */
	};
	peerop__buf path = PEEROP__BUF_INIT;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_patch")) < 0)
		return rc;
	if (!name || !patch || (unsigned)type >= PEEROP__ARRAY_SIZE(types))
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_patch: name, a known patch type and a patch are required");
	if (type == PEEROP_KUBE_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch))
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_patch: a %s patch must be a JSON %s",
			type == PEEROP_KUBE_PATCH_JSON ? "JSON" : "merge or apply",
			type == PEEROP_KUBE_PATCH_JSON ? "array" : "object");
	if (type == PEEROP_KUBE_PATCH_APPLY && (!o || !o->field_manager || !*o->field_manager))
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_patch: server-side apply needs a field_manager");
	rc = peerop__kube_path(&path, res, effective_ns(c, res, ns), name, o ? o->subresource : NULL);
	if (rc == 0)
		rc = write_query(&path, o, type == PEEROP_KUBE_PATCH_APPLY);
	if (rc == 0)
		rc = send_json(out, c, "PATCH", path.ptr, types[type], patch, 0);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_delete(json_t **out, peerop_kube_client *c,
	const peerop_kube_resource *res, const char *ns, const char *name,
	const peerop_kube_delete_options *o)
{
	peerop__buf path = PEEROP__BUF_INIT;
	json_t *body;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_args(c, res, "peerop_kube_delete")) < 0)
		return rc;
	if (!name)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_delete: name is NULL");
	if (o && o->version != PEEROP_KUBE_DELETE_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_delete: unknown options version %u", o->version);
	body = json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
	if (!body)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (o && o->propagation_policy)
		json_object_set_new(body, "propagationPolicy", json_string(o->propagation_policy));
	if (o && (o->precondition_uid || o->precondition_resource_version)) {
		json_t *pre = json_object();
		if (o->precondition_uid)
			json_object_set_new(pre, "uid", json_string(o->precondition_uid));
		if (o->precondition_resource_version)
			json_object_set_new(pre, "resourceVersion", json_string(o->precondition_resource_version));
		json_object_set_new(body, "preconditions", pre);
	}
	if (o && o->grace_period_seconds >= 0)
		json_object_set_new(body, "gracePeriodSeconds", json_integer(o->grace_period_seconds));
	if (o && o->dry_run)
		json_object_set_new(body, "dryRun", json_pack("[s]", "All"));
	rc = peerop__kube_path(&path, res, effective_ns(c, res, ns), name, NULL);
	if (rc == 0)
		rc = send_json(out, c, "DELETE", path.ptr, "application/json", body, 1);
	json_decref(body);
	peerop__buf_dispose(&path);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_request(json_t **out, peerop_kube_client *c,
	const char *method, const char *path, const char *content_type, const json_t *body)
{
	peerop__kube_req r;
	char *text = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!c || !method || !*method || !path || path[0] != '/')
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_request: client, method and an absolute path are required");
	if (body && !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)))
		return peerop__error_set(PEEROP_EINVAL, "%s %s: the body cannot be serialised as JSON", method, path);
	memset(&r, 0, sizeof(r));
	r.method = method;
	r.path = path;
	r.content_type = text ? (content_type ? content_type : "application/json") : NULL;
	r.body = text;
	r.body_len = text ? strlen(text) : 0;
	r.idempotent = !strcmp(method, "GET") || !strcmp(method, "HEAD") ||
		!strcmp(method, "PUT") || !strcmp(method, "DELETE");
	rc = peerop__kube_call(out, c, &r);
	free(text);
	return rc;
}
