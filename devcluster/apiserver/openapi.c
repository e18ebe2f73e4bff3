/* openapi.c: /openapi/v2 and /openapi/v3.
 *
 * kubectl validates `create` and `apply` on the server (fieldValidation)
 * when the group-version's OpenAPI v3 document has a PATCH operation tagged
 * with the kind's x-kubernetes-group-version-kind and a fieldValidation
 * query parameter; otherwise it fetches /openapi/v2 for client-side
 * validation. `kubectl explain` reads the v3 component schemas.
 *
 * /openapi/v3 lists one document per served group-version, addressed by a
 * content hash (clients cache by URL). Each document has paths for the
 * collection, object and subresource endpoints, and the component schemas
 * of its kinds plus everything they refer to. Custom resources' schemas
 * are their CRD's structural schema with metadata pointing at ObjectMeta,
 * as the real server publishes them.
 *
 * /openapi/v2 answers the protobuf media type with an empty body (a valid,
 * empty document): everything kubectl needs is in v3. */
#include "apiserver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define REF(name) "#/components/schemas/" name

/* "peerop.io" + "v1alpha1" + "HTTPServer" -> "io.peerop.v1alpha1.HTTPServer" */
static char *cr_schema_name(const char *group, const char *version, const char *kind)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char *end = group + strlen(group), *dot;
	while (end > group) {
		dot = end - 1;
		while (dot > group && *dot != '.')
			dot--;
		if (*dot == '.') {
			peerop__buf_put(&b, dot + 1, (size_t)(end - dot - 1));
			peerop__buf_putc(&b, '.');
			end = dot;
		} else {
			peerop__buf_put(&b, group, (size_t)(end - group));
			peerop__buf_putc(&b, '.');
			end = group;
		}
	}
	peerop__buf_printf(&b, "%s.%s", version, kind);
	return peerop__buf_detach(&b);
}

static char *schema_name(const dc_rtype *rt)
{
	const char *n = (rt->flags & DC_RT_CUSTOM) ? NULL
		: dc_builtin_schema_name(rt->group, rt->version, rt->kind);
	return n ? strdup(n) : cr_schema_name(rt->group, rt->version, rt->kind);
}

/* A CRD's structural schema as the real server publishes it. */
static json_t *cr_component(const dc_rtype *rt)
{
	json_t *s = rt->schema ? json_deep_copy(rt->schema) : json_pack("{s:s,s:b}", "type", "object",
		"x-kubernetes-preserve-unknown-fields", 1);
	json_t *props = json_object_get(s, "properties");
	if (!props) {
		props = json_object();
		json_object_set_new(s, "properties", props);
	}
	json_object_set_new(props, "apiVersion", json_pack("{s:s,s:s}", "type", "string", "description",
		"APIVersion defines the versioned schema of this representation of an object. Servers should "
		"convert recognized schemas to the latest internal value, and may reject unrecognized values."));
	json_object_set_new(props, "kind", json_pack("{s:s,s:s}", "type", "string", "description",
		"Kind is a string value representing the REST resource this object represents. In CamelCase."));
	json_object_set_new(props, "metadata", json_pack("{s:[{s:s}],s:s}", "allOf", "$ref", REF(META "ObjectMeta"),
		"description", "Standard object's metadata. More info: "
		"https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"));
	json_object_set_new(s, "x-kubernetes-group-version-kind", json_pack("[{s:s,s:s,s:s}]",
		"group", rt->group, "kind", rt->kind, "version", rt->version));
	return s;
}

static json_t *list_component(const dc_rtype *rt, const char *item_name)
{
	char ref[512];
	snprintf(ref, sizeof(ref), REF("%s"), item_name);
	return json_pack("{s:s,s:s,s:[s],s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:{s:s},s:s},s:{s:[{s:s}],s:s}},"
		"s:[{s:s,s:s,s:s}]}",
		"type", "object", "description", "A list of objects.", "required", "items",
		"properties",
		"apiVersion", "type", "string", "description", "APIVersion defines the versioned schema of this representation of an object.",
		"kind", "type", "string", "description", "Kind is a string value representing the REST resource this object represents.",
		"items", "type", "array", "items", "$ref", ref, "description", "List of objects.",
		"metadata", "allOf", "$ref", REF(META "ListMeta"), "description", "Standard list metadata.",
		"x-kubernetes-group-version-kind", "group", rt->group, "kind", rt->list_kind, "version", rt->version);
}

/* ---- paths ---- */

static json_t *qparam(const char *name, const char *type, const char *desc)
{
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:b}}", "name", name, "in", "query", "description", desc,
		"schema", "type", type, "uniqueItems", 1);
}

static json_t *write_params(bool with_force)
{
	json_t *p = json_array();
	json_array_append_new(p, qparam("dryRun", "string", "When present, indicates that modifications "
		"should not be persisted. Valid values are: - All: all dry run stages will be processed"));
	json_array_append_new(p, qparam("fieldManager", "string", "fieldManager is a name associated with "
		"the actor or entity that is making these changes."));
	json_array_append_new(p, qparam("fieldValidation", "string", "fieldValidation instructs the server "
		"on how to handle objects in the request containing unknown or duplicate fields. Valid values "
		"are: Ignore, Warn, Strict."));
	if (with_force)
		json_array_append_new(p, qparam("force", "boolean", "Force is going to \"force\" Apply "
			"requests. It means user will re-acquire conflicting fields owned by other people."));
	return p;
}

static json_t *body_of(const char *ref, bool patch, bool smp)
{
	static const char *const patch_types[] = { "application/apply-patch+yaml", "application/json-patch+json",
		"application/merge-patch+json", "application/strategic-merge-patch+json" };
	json_t *c = json_object();
	size_t i, n = smp ? 4 : 3;
	if (!patch)
		json_object_set_new(c, "*/*", json_pack("{s:{s:s}}", "schema", "$ref", ref));
	for (i = 0; patch && i < n; i++)
		json_object_set_new(c, patch_types[i], json_pack("{s:{s:s}}", "schema", "$ref", ref));
	return json_pack("{s:o,s:b}", "content", c, "required", 1);
}

static json_t *responses(const char *ref, bool created)
{
	json_t *r = json_pack("{s:{s:s,s:{s:{s:{s:s}}}},s:{s:s}}",
		"200", "description", "OK", "content", "application/json", "schema", "$ref", ref,
		"401", "description", "Unauthorized");
	if (created)
		json_object_set_new(r, "201", json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "Created",
			"content", "application/json", "schema", "$ref", ref));
	return r;
}

static json_t *op(const char *action, const char *verb_desc, const char *op_id, const json_t *gvk,
	json_t *params, json_t *body, json_t *resp)
{
	json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:s,s:O}", "description", verb_desc, "operationId", op_id,
		"parameters", params ? params : json_array(), "responses", resp,
		"x-kubernetes-action", action, "x-kubernetes-group-version-kind", gvk);
	if (body)
		json_object_set_new(o, "requestBody", body);
	return o;
}

/* "patch" + "core" "v1" "Namespaced" "ConfigMap" "Status" -> "patchCoreV1NamespacedConfigMapStatus" */
static void op_id(char *out, size_t size, const char *verb, const dc_rtype *rt, const char *suffix)
{
	char grp[256];
	size_t i, j = 0;
	bool up = true;
	const char *g = rt->group[0] ? rt->group : "core";
	for (i = 0; g[i] && j + 1 < sizeof(grp); i++) {
		if (g[i] == '.' || g[i] == '-') {
			up = true;
			continue;
		}
		grp[j++] = up ? (char)toupper((unsigned char)g[i]) : g[i];
		up = false;
	}
	grp[j] = '\0';
	snprintf(out, size, "%s%s%c%s%s%s%s", verb, grp, toupper((unsigned char)rt->version[0]), rt->version + 1,
		rt->namespaced ? "Namespaced" : "", rt->kind, suffix);
}

static json_t *path_params(bool name, bool ns)
{
	json_t *p = json_array();
	if (name)
		json_array_append_new(p, json_pack("{s:s,s:s,s:s,s:b,s:{s:s,s:b}}", "name", "name", "in", "path",
			"description", "name of the object", "required", 1, "schema", "type", "string", "uniqueItems", 1));
	if (ns)
		json_array_append_new(p, json_pack("{s:s,s:s,s:s,s:b,s:{s:s,s:b}}", "name", "namespace", "in", "path",
			"description", "object name and auth scope, such as for teams and projects", "required", 1,
			"schema", "type", "string", "uniqueItems", 1));
	json_array_append_new(p, qparam("pretty", "string", "If 'true', then the output is pretty printed."));
	return p;
}

static void add_paths(json_t *paths, const dc_rtype *rt, const char *item_ref, const char *list_ref)
{
	char base[512], coll[768], obj[1024], sub[1100], id[512], desc[256];
	json_t *gvk = json_pack("{s:s,s:s,s:s}", "group", rt->group, "version", rt->version, "kind", rt->kind);
	json_t *scale_gvk = json_pack("{s:s,s:s,s:s}", "group", "autoscaling", "version", "v1", "kind", "Scale");
	json_t *p;
	bool smp = !(rt->flags & DC_RT_CUSTOM);
	const char *status_ref = item_ref;

	if (rt->group[0])
		snprintf(base, sizeof(base), "/apis/%s/%s", rt->group, rt->version);
	else
		snprintf(base, sizeof(base), "/api/%s", rt->version);
	if (rt->namespaced) {
		snprintf(coll, sizeof(coll), "%s/%s", base, rt->plural);
		op_id(id, sizeof(id), "list", rt, "ForAllNamespaces");
		p = json_pack("{s:o,s:o}", "get", op("list", "list objects of the kind", id, gvk, NULL, NULL,
			responses(list_ref, false)), "parameters", path_params(false, false));
		json_object_set_new(paths, coll, p);
		snprintf(coll, sizeof(coll), "%s/namespaces/{namespace}/%s", base, rt->plural);
	} else {
		snprintf(coll, sizeof(coll), "%s/%s", base, rt->plural);
	}
	p = json_object();
	op_id(id, sizeof(id), "list", rt, "");
	json_object_set_new(p, "get", op("list", "list or watch objects of the kind", id, gvk, NULL, NULL,
		responses(list_ref, false)));
	op_id(id, sizeof(id), "create", rt, "");
	snprintf(desc, sizeof(desc), "create a %s", rt->kind);
	json_object_set_new(p, "post", op("post", desc, id, gvk, write_params(false), body_of(item_ref, false, false),
		responses(item_ref, true)));
	op_id(id, sizeof(id), "deletecollection", rt, "");
	json_object_set_new(p, "delete", op("deletecollection", "delete collection of the kind", id, gvk, NULL,
		NULL, responses(REF(META "Status"), false)));
	json_object_set_new(p, "parameters", path_params(false, rt->namespaced));
	json_object_set_new(paths, coll, p);

	snprintf(obj, sizeof(obj), "%s/{name}", coll);
	p = json_object();
	op_id(id, sizeof(id), "read", rt, "");
	snprintf(desc, sizeof(desc), "read the specified %s", rt->kind);
	json_object_set_new(p, "get", op("get", desc, id, gvk, NULL, NULL, responses(item_ref, false)));
	op_id(id, sizeof(id), "replace", rt, "");
	snprintf(desc, sizeof(desc), "replace the specified %s", rt->kind);
	json_object_set_new(p, "put", op("put", desc, id, gvk, write_params(false), body_of(item_ref, false, false),
		responses(item_ref, true)));
	op_id(id, sizeof(id), "patch", rt, "");
	snprintf(desc, sizeof(desc), "partially update the specified %s", rt->kind);
	json_object_set_new(p, "patch", op("patch", desc, id, gvk, write_params(true),
		body_of(REF(META "Patch"), true, smp), responses(item_ref, true)));
	op_id(id, sizeof(id), "delete", rt, "");
	snprintf(desc, sizeof(desc), "delete a %s", rt->kind);
	json_object_set_new(p, "delete", op("delete", desc, id, gvk, NULL,
		body_of(REF(META "DeleteOptions"), false, false), responses(REF(META "Status"), false)));
	json_object_set_new(p, "parameters", path_params(true, rt->namespaced));
	json_object_set_new(paths, obj, p);

	if (rt->flags & (DC_RT_STATUS | DC_RT_SCALE)) {
		int i;
		for (i = 0; i < 2; i++) {
			bool scale = i == 1;
			const char *ref = scale ? REF("io.k8s.api.autoscaling.v1.Scale") : status_ref;
			json_t *g = scale ? scale_gvk : gvk;
			const char *sfx = scale ? "Scale" : "Status";
			if (!(rt->flags & (scale ? DC_RT_SCALE : DC_RT_STATUS)))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", obj, scale ? "scale" : "status");
			p = json_object();
			op_id(id, sizeof(id), "read", rt, sfx);
			json_object_set_new(p, "get", op("get", "read the subresource", id, g, NULL, NULL, responses(ref, false)));
			op_id(id, sizeof(id), "replace", rt, sfx);
			json_object_set_new(p, "put", op("put", "replace the subresource", id, g, write_params(false),
				body_of(ref, false, false), responses(ref, true)));
			op_id(id, sizeof(id), "patch", rt, sfx);
			json_object_set_new(p, "patch", op("patch", "partially update the subresource", id, g,
				write_params(true), body_of(REF(META "Patch"), true, smp), responses(ref, true)));
			json_object_set_new(p, "parameters", path_params(true, rt->namespaced));
			json_object_set_new(paths, sub, p);
		}
	}
	json_decref(gvk);
	json_decref(scale_gvk);
}

/* The v3 document of one group-version (lock held), or NULL if not served. */
static json_t *gv_document(dc_store *s, const char *group, const char *version)
{
	json_t *paths = json_object(), *comps = json_object(), *refs = json_object(), *doc;
	const json_t *all = dc_builtin_schemas();
	size_t i, n = 0;
	static const char *const always[] = { META "Patch", META "Status", META "DeleteOptions",
		META "ListMeta", META "ObjectMeta" };

	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		char *name, *list_name = NULL, ref[600], lref[600];
		json_t *schema;
		if (strcmp(rt->group, group) || strcmp(rt->version, version))
			continue;
		n++;
		name = schema_name(rt);
		if (asprintf(&list_name, "%sList", name) < 0)
			list_name = NULL;
		if (!name || !list_name) {
			free(name);
			free(list_name);
			continue;
		}
		schema = (rt->flags & DC_RT_CUSTOM) ? cr_component(rt)
			: json_incref(json_object_get((json_t *)all, name));
		if (!schema)
			schema = json_pack("{s:s,s:b,s:[{s:s,s:s,s:s}]}", "type", "object",
				"x-kubernetes-preserve-unknown-fields", 1, "x-kubernetes-group-version-kind",
				"group", rt->group, "kind", rt->kind, "version", rt->version);
		json_object_set_new(comps, name, schema);
		json_object_set_new(comps, list_name, list_component(rt, name));
		snprintf(ref, sizeof(ref), REF("%s"), name);
		snprintf(lref, sizeof(lref), REF("%s"), list_name);
		add_paths(paths, rt, ref, lref);
		if (rt->flags & DC_RT_SCALE)
			json_object_set(comps, "io.k8s.api.autoscaling.v1.Scale",
				json_object_get((json_t *)all, "io.k8s.api.autoscaling.v1.Scale"));
		free(name);
		free(list_name);
	}
	if (n == 0) {
		json_decref(paths);
		json_decref(comps);
		json_decref(refs);
		return NULL;
	}
	for (i = 0; i < PEEROP__ARRAY_SIZE(always); i++)
		json_object_set(comps, always[i], json_object_get((json_t *)all, always[i]));
	/* every component the documents refer to, transitively */
	dc_schemas_add_referenced(refs, comps);
	json_object_update_missing(comps, refs);
	json_decref(refs);
	doc = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0",
		"info", "title", "Kubernetes", "version", "v1.32.0", "paths", paths, "components", "schemas", comps);
	return doc;
}

static char *hash_hex(const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char *out;
	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha512(), NULL))
		return NULL;
	out = malloc(2 * n + 1);
	for (i = 0; out && i < n; i++)
		sprintf(out + 2 * i, "%02X", md[i]);
	return out;
}

static char *dump(const json_t *doc)
{
	return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
}

/* {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."},...}} */
static json_t *v3_root(dc_store *s)
{
	json_t *paths = json_object();
	size_t i;
	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		char key[512], url[1024];
		json_t *doc;
		char *text, *h;
		if (rt->group[0])
			snprintf(key, sizeof(key), "apis/%s/%s", rt->group, rt->version);
		else
			snprintf(key, sizeof(key), "api/%s", rt->version);
		if (json_object_get(paths, key))
			continue;
		doc = gv_document(s, rt->group, rt->version);
		text = doc ? dump(doc) : NULL;
		h = text ? hash_hex(text) : NULL;
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, h ? h : "0");
		json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
		free(h);
		free(text);
		json_decref(doc);
	}
	return json_pack("{s:o}", "paths", paths);
}

bool dc_openapi_handle(dc_req *rq, dc_resp *rs)
{
	dc_store *s = rq->srv->store;
	json_t *doc = NULL;
	char *text;

	if (rq->nsegs < 2 || strcmp(rq->segs[0], "openapi"))
		return false;
	if (strcmp(rq->method, "GET")) {
		dc_resp_error(rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
		return true;
	}
	if (rq->nsegs == 2 && !strcmp(rq->segs[1], "v2")) {
		/* an empty protobuf message is a valid, empty OpenAPI v2 document */
		rs->content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
		dc_resp_raw(rs, 200, strdup(""), 0);
		return true;
	}
	if (strcmp(rq->segs[1], "v3") || rq->nsegs > 5) {
		dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
		return true;
	}
	pthread_mutex_lock(&s->mu);
	if (rq->nsegs == 2)
		doc = v3_root(s);
	else if (rq->nsegs == 4 && !strcmp(rq->segs[2], "api"))
		doc = gv_document(s, "", rq->segs[3]);
	else if (rq->nsegs == 5 && !strcmp(rq->segs[2], "apis"))
		doc = gv_document(s, rq->segs[3], rq->segs[4]);
	pthread_mutex_unlock(&s->mu);
	if (!doc) {
		dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
		return true;
	}
	text = dump(doc);
	json_decref(doc);
	if (!text) {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		return true;
	}
	rs->content_type = "application/json";
	dc_resp_raw(rs, 200, text, strlen(text));
	return true;
}
