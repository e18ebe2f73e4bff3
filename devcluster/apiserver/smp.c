/* smp.c: strategic merge patch (application/strategic-merge-patch+json),
 * what `kubectl patch` (by default) and client-side `kubectl apply` send
 * for built-in types.
 *
 * A JSON merge patch, except where the type's schema says otherwise (the
 * x-kubernetes-patch-strategy and x-kubernetes-patch-merge-key of
 * builtin-schemas.yaml, the values of the Kubernetes types):
 *   - lists with strategy "merge" and a merge key (containers by name,
 *     ports by containerPort, services' ports by port, env by name, volumes
 *     by name, volumeMounts by mountPath, conditions by type, ...) merge
 *     item by item: a patch item updates the item with the same key or is
 *     appended; {"$patch":"delete", key} removes it; an item
 *     {"$patch":"replace"} makes the list exactly the patch's other items;
 *   - lists of scalars with strategy "merge" (finalizers) are unions, and
 *     `$deleteFromPrimitiveList/<field>: [...]` removes values;
 *   - `$setElementOrder/<field>: [...]` (client-side apply sends it) puts
 *     the listed items first, in that order, then the others in their old
 *     order (the real server interleaves items only the server knows by
 *     their old positions; here they go last);
 *   - in a map, `$patch: replace` replaces the map, `$patch: delete`
 *     removes it, and `$retainKeys: [...]` drops the keys not listed;
 *   - every other list is replaced whole, as in a merge patch.
 * Custom resources get 415, as from the real server: they have no patch
 * strategies. Directive keys are never stored. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_ORDER "$setElementOrder/"
#define DEL_PRIM "$deleteFromPrimitiveList/"

static int bad(char **err, const char *fmt, ...) PEEROP_FORMAT(2, 3);
static int bad(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

static bool is_directive(const char *k)
{
	return k[0] == '$' && (!strcmp(k, "$patch") || !strcmp(k, "$retainKeys") ||
		!strncmp(k, SET_ORDER, strlen(SET_ORDER)) || !strncmp(k, DEL_PRIM, strlen(DEL_PRIM)));
}

static bool has_strategy(const json_t *fs, const char *what)
{
	const char *st = json_string_value(dc_schema_ext(fs, "x-kubernetes-patch-strategy"));
	const char *p = st;
	size_t n = strlen(what);
	while (p && *p) {
		if (!strncmp(p, what, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static int merge_map(json_t **out, const json_t *orig, const json_t *patch, const json_t *s, char **err);

/* The item of list whose merge key equals that of item, or -1. */
static long find_keyed(const json_t *list, const char *mk, const json_t *key)
{
	json_t *v;
	size_t i;
	json_array_foreach(list, i, v)
		if (json_equal(json_object_get(v, mk), key))
			return (long)i;
	return -1;
}

/* order lists the wanted order (maps with the merge key, or scalars). */
static json_t *reorder(json_t *list, const json_t *order, const char *mk)
{
	json_t *out = json_array(), *o, *v;
	char *taken = calloc(json_array_size(list) + 1, 1);
	size_t i, j;
	json_array_foreach(order, i, o) {
		const json_t *key = mk ? json_object_get(o, mk) : o;
		json_array_foreach(list, j, v)
			if (!taken[j] && json_equal(mk ? json_object_get(v, mk) : v, key)) {
				json_array_append(out, v);
				taken[j] = 1;
				break;
			}
	}
	json_array_foreach(list, j, v)
		if (!taken[j])
			json_array_append(out, v);
	free(taken);
	json_decref(list);
	return out;
}

static void delete_values(json_t *list, const json_t *values)
{
	json_t *v;
	size_t i, j;
	json_array_foreach(values, i, v)
		for (j = json_array_size(list); j-- > 0;)
			if (json_equal(json_array_get(list, j), v))
				json_array_remove(list, j);
}

static int merge_list(json_t **out, const json_t *orig, const json_t *patch, const json_t *fs, char **err)
{
	const json_t *is = dc_schema_items(fs);
	const char *mk = json_string_value(dc_schema_ext(fs, "x-kubernetes-patch-merge-key"));
	json_t *res, *p;
	size_t i;

	/* {"$patch": "replace"} among the items: the list is the other items */
	json_array_foreach(patch, i, p) {
		const char *d = json_string_value(json_object_get(p, "$patch"));
		if (d && !strcmp(d, "replace") && json_object_size(p) == 1) {
			size_t j;
			json_t *q;
			res = json_array();
			json_array_foreach(patch, j, q)
				if (j != i)
					json_array_append_new(res, json_deep_copy(q));
			*out = res;
			return 0;
		}
	}
	res = json_is_array(orig) ? json_deep_copy(orig) : json_array();
	json_array_foreach(patch, i, p) {
		if (!json_is_object(p)) {
			/* a list of scalars merges as a set */
			bool present = false;
			size_t j;
			json_t *v;
			json_array_foreach(res, j, v)
				if (json_equal(v, p))
					present = true;
			if (!present)
				json_array_append(res, p);
			continue;
		}
		if (!mk) {
			json_decref(res);
			return bad(err, "the list cannot be merged: it declares no merge key");
		} else {
			const json_t *key = json_object_get(p, mk);
			const char *d = json_string_value(json_object_get(p, "$patch"));
			long at;
			json_t *merged;
			if (!key) {
				char *item = json_dumps(p, JSON_COMPACT);
				json_decref(res);
				bad(err, "map: %s does not contain declared merge key: %s", item ? item : "", mk);
				free(item);
				return -1;
			}
			at = find_keyed(res, mk, key);
			if (d && !strcmp(d, "delete")) {
				while (at >= 0) {
					json_array_remove(res, (size_t)at);
					at = find_keyed(res, mk, key);
				}
				continue;
			}
			if (merge_map(&merged, at >= 0 ? json_array_get(res, (size_t)at) : NULL, p, is, err) != 0) {
				json_decref(res);
				return -1;
			}
			if (!merged)
				json_array_remove(res, (size_t)at);
			else if (at >= 0)
				json_array_set_new(res, (size_t)at, merged);
			else
				json_array_append_new(res, merged);
		}
	}
	*out = res;
	return 0;
}

/* Merge patch (an object) into orig (any value or NULL). *out: the new
 * value (new reference), or NULL when the patch removes the field. */
static int merge_map(json_t **out, const json_t *orig, const json_t *patch, const json_t *s, char **err)
{
	const char *d = json_string_value(json_object_get(patch, "$patch"));
	const json_t *retain = json_object_get(patch, "$retainKeys");
	json_t *res, *v;
	const char *k;

	*out = NULL;
	if (json_object_get(patch, "$patch") && !d)
		return bad(err, "$patch must be a string");
	if (d && !strcmp(d, "delete"))
		return 0;
	if (d && strcmp(d, "replace") && strcmp(d, "merge"))
		return bad(err, "Unknown patch type: %s in map: %s", d, "$patch");
	if (d && !strcmp(d, "replace")) {
		res = json_object();
		json_object_foreach((json_t *)patch, k, v)
			if (!is_directive(k))
				json_object_set_new(res, k, json_deep_copy(v));
		*out = res;
		return 0;
	}
	if (retain && !json_is_array(retain))
		return bad(err, "$retainKeys must be a list of field names");
	res = json_is_object(orig) ? json_deep_copy(orig) : json_object();
	json_object_foreach((json_t *)patch, k, v) {
		const json_t *fs;
		json_t *nv = NULL;
		if (is_directive(k))
			continue;
		fs = dc_schema_prop(s, k);
		if (json_is_null(v)) {
			json_object_del(res, k);
			continue;
		}
		if (json_is_object(v)) {
			if (merge_map(&nv, json_object_get(res, k), v, fs, err) != 0)
				goto fail;
		} else if (json_is_array(v) && has_strategy(fs, "merge")) {
			if (merge_list(&nv, json_object_get(res, k), v, fs, err) != 0)
				goto fail;
		} else {
			nv = json_deep_copy(v);
		}
		if (nv)
			json_object_set_new(res, k, nv);
		else
			json_object_del(res, k);
	}
	/* list directives apply whether or not the list itself is in the patch */
	json_object_foreach((json_t *)patch, k, v) {
		json_t *list;
		if (!strncmp(k, DEL_PRIM, strlen(DEL_PRIM))) {
			list = json_object_get(res, k + strlen(DEL_PRIM));
			if (!json_is_array(v))
				goto bad_directive;
			if (json_is_array(list))
				delete_values(list, v);
		} else if (!strncmp(k, SET_ORDER, strlen(SET_ORDER))) {
			const char *field = k + strlen(SET_ORDER);
			list = json_object_get(res, field);
			if (!json_is_array(v))
				goto bad_directive;
			if (json_is_array(list))
				json_object_set_new(res, field, reorder(json_incref(list), v,
					json_string_value(dc_schema_ext(dc_schema_prop(s, field), "x-kubernetes-patch-merge-key"))));
		}
	}
	if (retain) {
		void *tmp;
		json_object_foreach_safe(res, tmp, k, v) {
			bool keep = false;
			size_t i;
			json_t *r;
			json_array_foreach(retain, i, r)
				if (json_is_string(r) && !strcmp(json_string_value(r), k))
					keep = true;
			if (!keep)
				json_object_del(res, k);
		}
	}
	*out = res;
	return 0;
bad_directive:
	bad(err, "%s must be a list", k);
fail:
	json_decref(res);
	return -1;
}

int dc_smp_apply(json_t **out, const json_t *target, const json_t *patch, const dc_rtype *rt, char **err)
{
	const json_t *s;
	const char *kind = json_string_value(json_object_get(target, "kind"));
	*out = NULL;
	if (rt->flags & DC_RT_CUSTOM) {
		*err = strdup("the body of the request was in an unknown format - accepted media types include: "
			"application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
		return 415;
	}
	if (!json_is_object(patch)) {
		*err = strdup("json: cannot unmarshal the patch into Go value of type map[string]interface {}: "
			"a strategic merge patch is an object");
		return 400;
	}
	/* a patch of the scale subresource patches a Scale */
	s = kind && !strcmp(kind, "Scale") ? json_object_get(dc_builtin_schemas(), "io.k8s.api.autoscaling.v1.Scale")
		: dc_type_schema(rt);
	if (merge_map(out, target, patch, s, err) != 0)
		return 400;
	if (!*out) {
		*err = strdup("the patch deletes the whole object: $patch: delete is not allowed at the top");
		return 422;
	}
	return 0;
}
