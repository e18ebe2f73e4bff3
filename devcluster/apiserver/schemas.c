/* schemas.c: the OpenAPI schemas of the served types, and walking them.
 *
 * Built-in types take theirs from builtin-schemas.yaml, compiled into the
 * program (builtin_schemas_data.c) and parsed once; custom resources use
 * their CRD's openAPIV3Schema. Three consumers walk them: the OpenAPI
 * documents (openapi.c), strategic merge patch (smp.c: patch strategies
 * and merge keys) and server-side apply (apply.c: list types and map keys).
 * Walking resolves `$ref` and `allOf: [{$ref}]`; an extension is looked up
 * on the referring node first, then on what it refers to. */
#include "apiserver.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define REF_PREFIX "#/components/schemas/"

extern const char *const dc_builtin_schemas_lines[];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static json_t *builtin;   /* name -> schema; never freed (read-only, process lifetime) */

/* Expand the file's shorthands in place: a bare $ref name gets the
 * components prefix; a $ref with siblings becomes allOf: [{$ref}]. */
static void normalize(json_t *node)
{
	const char *k;
	json_t *v, *ref;
	size_t i;
	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			normalize(v);
		return;
	}
	if (!json_is_object(node))
		return;
	ref = json_object_get(node, "$ref");
	if (json_is_string(ref) && strncmp(json_string_value(ref), "#/", 2)) {
		char *full = NULL;
		if (asprintf(&full, REF_PREFIX "%s", json_string_value(ref)) >= 0) {
			json_object_set_new(node, "$ref", json_string(full));
			free(full);
		}
		ref = json_object_get(node, "$ref");
	}
	if (ref && json_object_size(node) > 1) {
		json_object_set_new(node, "allOf", json_pack("[{s:O}]", "$ref", ref));
		json_object_del(node, "$ref");
	}
	json_object_foreach(node, k, v)
		normalize(v);
}

static void load(void)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char *const *l;
	char *err = NULL;
	for (l = dc_builtin_schemas_lines; *l; l++)
		peerop__buf_puts(&b, *l);
	builtin = dc_yaml_decode(b.ptr, b.len, &err);
	if (!builtin) {
		/* a build-time data error: say so loudly, serve no built-in schemas */
		peerop__errlog("devcluster", "builtin-schemas.yaml: %s", err ? err : "cannot parse");
		builtin = json_object();
	}
	free(err);
	peerop__buf_dispose(&b);
	normalize(builtin);
}

const json_t *dc_builtin_schemas(void)
{
	pthread_once(&once, load);
	return builtin;
}

static bool gvk_matches(const json_t *gvks, const char *group, const char *version, const char *kind)
{
	json_t *g;
	size_t i;
	json_array_foreach(gvks, i, g) {
		const char *gg = dc_json_str(g, "group"), *vv = dc_json_str(g, "version"), *kk = dc_json_str(g, "kind");
		if (gg && vv && kk && !strcmp(gg, group) && !strcmp(vv, version) && !strcmp(kk, kind))
			return true;
	}
	return false;
}

const char *dc_builtin_schema_name(const char *group, const char *version, const char *kind)
{
	const json_t *all = dc_builtin_schemas();
	const char *name;
	json_t *s;
	json_object_foreach((json_t *)all, name, s)
		if (gvk_matches(json_object_get(s, "x-kubernetes-group-version-kind"), group, version, kind))
			return name;
	return NULL;
}

const json_t *dc_type_schema(const dc_rtype *rt)
{
	const char *name;
	if (rt->schema || (rt->flags & DC_RT_CUSTOM))
		return rt->schema;
	name = dc_builtin_schema_name(rt->group, rt->version, rt->kind);
	return name ? json_object_get(dc_builtin_schemas(), name) : NULL;
}

/* The node a $ref or allOf: [{$ref}] points at (built-in components). */
static const json_t *target_of(const json_t *s)
{
	const json_t *r = json_object_get(s, "$ref");
	const char *ref;
	if (!r)
		r = json_object_get(json_array_get(json_object_get(s, "allOf"), 0), "$ref");
	ref = json_string_value(r);
	if (!ref || strncmp(ref, REF_PREFIX, strlen(REF_PREFIX)))
		return NULL;
	return json_object_get(dc_builtin_schemas(), ref + strlen(REF_PREFIX));
}

const json_t *dc_schema_resolve(const json_t *s)
{
	int hops;
	for (hops = 0; s && hops < 8; hops++) {
		const json_t *t = target_of(s);
		if (!t)
			return s;
		s = t;
	}
	return s;
}

const json_t *dc_schema_ext(const json_t *s, const char *name)
{
	int hops;
	for (hops = 0; s && hops < 8; hops++) {
		const json_t *v = json_object_get(s, name);
		if (v)
			return v;
		s = target_of(s);
	}
	return NULL;
}

const json_t *dc_schema_prop(const json_t *s, const char *key)
{
	const json_t *r = dc_schema_resolve(s), *p;
	if (!r)
		return NULL;
	p = json_object_get(json_object_get(r, "properties"), key);
	if (p)
		return p;
	p = json_object_get(r, "additionalProperties");
	return json_is_object(p) ? p : NULL;
}

const json_t *dc_schema_items(const json_t *s)
{
	const json_t *r = dc_schema_resolve(s);
	return r ? json_object_get(r, "items") : NULL;
}

bool dc_schema_is_map(const json_t *s)
{
	const json_t *r = dc_schema_resolve(s);
	return r && !json_object_get(r, "properties") &&
		(json_is_object(json_object_get(r, "additionalProperties")) ||
		 json_is_true(json_object_get(r, "additionalProperties")));
}

/* Collect the names of every component a schema refers to, transitively. */
static void collect_refs(const json_t *node, json_t *names)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			collect_refs(v, names);
		return;
	}
	if (!json_is_object(node))
		return;
	json_object_foreach((json_t *)node, k, v) {
		const char *ref = json_string_value(v);
		if (!strcmp(k, "$ref") && ref && !strncmp(ref, REF_PREFIX, strlen(REF_PREFIX))) {
			const char *name = ref + strlen(REF_PREFIX);
			const json_t *target = json_object_get(dc_builtin_schemas(), name);
			if (target && !json_object_get(names, name)) {
				json_object_set(names, name, (json_t *)target);
				collect_refs(target, names);
			}
		} else {
			collect_refs(v, names);
		}
	}
}

void dc_schemas_add_referenced(json_t *components, const json_t *from)
{
	collect_refs(from, components);
}
