/* managed_fields.c: field sets and metadata.managedFields, the bookkeeping
 * of server-side apply (after structured-merge-diff, the real server's).
 *
 * A field set is kept in its wire form, fieldsV1: a JSON object whose keys
 * are path elements ("f:name" a field, "k:{"name":"web"}" a list item by
 * its keys, "v:"x"" a set item, "i:3" an index) and whose values are the
 * sets below them; "." marks a node that is itself a member, and an empty
 * object is a member without children (a leaf).
 *
 * How lists and maps split into fields comes from the type's schema
 * (schemas.c): x-kubernetes-list-type map (keyed by x-kubernetes-list-map-
 * keys, or a built-in's patch merge key) and set lists have one element
 * per item, other lists are atomic (one leaf), as are maps with
 * x-kubernetes-map-type atomic; structs and maps are granular. A list item
 * missing a key field uses the schema's default for it (ports' protocol
 * defaults to TCP), as the real server does.
 *
 * Every write records who changed what: an Update entry for the manager of
 * a create, update or patch (fieldManager, else the User-Agent's product
 * name), owning the fields it added or changed; the fields it changed are
 * taken from every other manager. Server-side apply (apply.c) keeps Apply
 * entries. Never tracked: apiVersion, kind, and the metadata the server
 * owns (name, namespace, uid, resourceVersion, generation,
 * creationTimestamp, deletionTimestamp, managedFields); on a type with a
 * status subresource, the main resource tracks everything but status and
 * the status subresource only status. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sets ---- */

static bool member(const json_t *n)
{
	return n && (json_object_size(n) == 0 || json_object_get(n, "."));
}

/* A set node from a membership flag and children (stolen); NULL if empty. */
static json_t *node(bool is_member, json_t *children)
{
	if (!children)
		children = json_object();
	json_object_del(children, ".");
	if (json_object_size(children) == 0) {
		if (!is_member) {
			json_decref(children);
			return NULL;
		}
		return children;
	}
	if (is_member)
		json_object_set_new(children, ".", json_object());
	return children;
}

bool dc_fs_empty(const json_t *s)
{
	return !s || json_object_size(s) == 0;
}

static json_t *op(const json_t *a, const json_t *b, int kind)
{
	json_t *out = json_object(), *v, *r;
	const char *k;
	json_object_foreach((json_t *)a, k, v) {
		json_t *bv = json_object_get(b, k);
		if (!strcmp(k, "."))
			continue;
		if (kind == 0) /* union */
			r = node(member(v) || member(bv), op(v, bv, 0));
		else if (kind == 1) /* difference */
			r = node(member(v) && !member(bv), op(v, bv, 1));
		else /* intersection */
			r = bv ? node(member(v) && member(bv), op(v, bv, 2)) : NULL;
		if (r)
			json_object_set_new(out, k, r);
	}
	if (kind == 0)
		json_object_foreach((json_t *)b, k, v)
			if (strcmp(k, ".") && !json_object_get(a, k))
				json_object_set_new(out, k, json_deep_copy(v));
	return out;
}

json_t *dc_fs_union(const json_t *a, const json_t *b) { return op(a, b, 0); }
json_t *dc_fs_diff(const json_t *a, const json_t *b) { return op(a, b, 1); }
json_t *dc_fs_intersect(const json_t *a, const json_t *b) { return op(a, b, 2); }

/* ---- how a schema splits values ---- */

dc_ltype dc_list_type(const json_t *s, const json_t **keys, json_t **own_keys)
{
	const char *lt = json_string_value(dc_schema_ext(s, "x-kubernetes-list-type"));
	const char *mk = json_string_value(dc_schema_ext(s, "x-kubernetes-patch-merge-key"));
	const char *ps = json_string_value(dc_schema_ext(s, "x-kubernetes-patch-strategy"));
	*keys = NULL;
	*own_keys = NULL;
	if (lt && !strcmp(lt, "map")) {
		*keys = dc_schema_ext(s, "x-kubernetes-list-map-keys");
		if (!json_array_size(*keys) && mk)
			*keys = *own_keys = json_pack("[s]", mk);
		return json_array_size(*keys) ? DC_LT_MAP : DC_LT_ATOMIC;
	}
	if (lt && !strcmp(lt, "set"))
		return DC_LT_SET;
	if (lt)
		return DC_LT_ATOMIC;
	if (mk) {
		*keys = *own_keys = json_pack("[s]", mk);
		return DC_LT_MAP;
	}
	return ps && strstr(ps, "merge") ? DC_LT_SET : DC_LT_ATOMIC;
}

bool dc_map_atomic(const json_t *s)
{
	const char *mt = json_string_value(dc_schema_ext(s, "x-kubernetes-map-type"));
	return mt && !strcmp(mt, "atomic");
}

/* Declared fields of a struct are not members of themselves; entries of a
 * map (labels, data, preserved unknown fields) are. */
static bool declared(const json_t *s, const char *key)
{
	const json_t *r = dc_schema_resolve(s);
	return json_object_get(json_object_get(r, "properties"), key) != NULL;
}

char *dc_fs_item_key(const json_t *item, const json_t *keys, const json_t *item_schema)
{
	json_t *k = json_object(), *name;
	char *enc, *out = NULL;
	size_t i;
	json_array_foreach(keys, i, name) {
		const char *n = json_string_value(name);
		json_t *v = n ? json_object_get(item, n) : NULL;
		if (!v && n)
			v = (json_t *)dc_schema_ext(dc_schema_prop(item_schema, n), "default");
		if (v)
			json_object_set(k, n, v);
	}
	enc = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	if (enc && asprintf(&out, "k:%s", enc) < 0)
		out = NULL;
	free(enc);
	return out;
}

static char *value_key(const json_t *v)
{
	char *enc = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS), *out = NULL;
	if (enc && asprintf(&out, "v:%s", enc) < 0)
		out = NULL;
	free(enc);
	return out;
}

/* The path element of item i of list x (schema s). */
char *dc_fs_item_pe(const json_t *x, size_t i, const json_t *s)
{
	const json_t *keys;
	json_t *own;
	dc_ltype lt = dc_list_type(s, &keys, &own);
	const json_t *item = json_array_get(x, i);
	char *pe = NULL;
	if (lt == DC_LT_MAP && json_is_object(item))
		pe = dc_fs_item_key(item, keys, dc_schema_items(s));
	else if (lt == DC_LT_SET || lt == DC_LT_MAP)
		pe = value_key(item);
	else if (asprintf(&pe, "i:%zu", i) < 0)
		pe = NULL;
	json_decref(own);
	return pe;
}

static bool granular_list(const json_t *s)
{
	const json_t *keys;
	json_t *own;
	dc_ltype lt = dc_list_type(s, &keys, &own);
	json_decref(own);
	return lt != DC_LT_ATOMIC;
}

/* ---- sets from objects ---- */

/* The fields of value x (schema s) below it; NULL when x is a leaf here. */
static json_t *fields_of(const json_t *x, const json_t *s)
{
	json_t *out, *v;
	const char *k;
	size_t i;
	if (json_is_object(x) && json_object_size(x) && !dc_map_atomic(s)) {
		out = json_object();
		json_object_foreach((json_t *)x, k, v) {
			const json_t *cs = dc_schema_prop(s, k);
			json_t *c = fields_of(v, cs);
			char *pe = NULL;
			if (asprintf(&pe, "f:%s", k) < 0)
				continue;
			json_object_set_new(out, pe, node(!c || !declared(s, k), c));
			free(pe);
		}
		return out;
	}
	if (json_is_array(x) && json_array_size(x) && granular_list(s)) {
		out = json_object();
		json_array_foreach(x, i, v) {
			char *pe = dc_fs_item_pe(x, i, s);
			if (pe)
				json_object_set_new(out, pe, node(true, fields_of(v, dc_schema_items(s))));
			free(pe);
		}
		return out;
	}
	return NULL;
}

json_t *dc_fs_from_object(const json_t *obj, const json_t *schema)
{
	json_t *f = fields_of(obj, schema);
	return f ? f : json_object();
}

/* ---- comparing two versions ---- */

typedef struct cmp {
	json_t *added, *modified, *removed;
	bool cr;   /* unstructured (custom resource): every added node is a member */
} cmp;

/* Compare old and new (either may be NULL) at one path; returns the three
 * child sets through a/m/r (new references, possibly empty objects). */
static void compare(const json_t *old, const json_t *nw, const json_t *s, bool cr, bool is_item,
	json_t **a, json_t **m, json_t **r)
{
	/* descend where both sides are structures (or absent) and one is not
	 * empty; otherwise it is a leaf, which keeps empty apart from absent */
	bool objs = (!old || json_is_object(old)) && (!nw || json_is_object(nw)) && !dc_map_atomic(s) &&
		(json_object_size(old) || json_object_size(nw));
	bool lists = (!old || json_is_array(old)) && (!nw || json_is_array(nw)) && granular_list(s) &&
		(json_array_size(old) || json_array_size(nw));
	json_t *ca, *cm, *cr2;
	*a = *m = *r = NULL;
	if (!objs && !lists) {
		/* a leaf: a scalar, an atomic list or map, or an empty one */
		if (!old && nw)
			*a = json_object();
		else if (old && !nw)
			*r = json_object();
		else if (old && nw && !json_equal(old, nw))
			*m = json_object();
		return;
	}
	ca = json_object();
	cm = json_object();
	cr2 = json_object();
	if (objs) {
		/* every key of old, then the keys only new has: no set of keys to
		 * build (this runs on every write) */
		int pass;
		for (pass = 0; pass < 2; pass++) {
			const char *k;
			json_t *v;
			json_object_foreach((json_t *)(pass ? nw : old), k, v) {
				json_t *xa, *xm, *xr;
				char buf[256], *pe = buf, *heap = NULL;
				size_t kl = strlen(k);
				if (pass && json_object_get(old, k))
					continue;
				compare(json_object_get(old, k), json_object_get(nw, k), dc_schema_prop(s, k), cr,
					!declared(s, k), &xa, &xm, &xr);
				if (!xa && !xm && !xr)
					continue;
				if (kl + 3 > sizeof(buf))
					pe = heap = malloc(kl + 3);
				if (pe) {
					pe[0] = 'f';
					pe[1] = ':';
					memcpy(pe + 2, k, kl + 1);
					if (xa)
						json_object_set_new(ca, pe, xa);
					if (xm)
						json_object_set_new(cm, pe, xm);
					if (xr)
						json_object_set_new(cr2, pe, xr);
				} else {
					json_decref(xa);
					json_decref(xm);
					json_decref(xr);
				}
				free(heap);
			}
		}
	} else {
		/* items matched by their path element */
		json_t *items = json_object();
		size_t i;
		const char *k;
		json_t *v;
		json_array_foreach(old, i, v) {
			char *pe = dc_fs_item_pe(old, i, s);
			if (pe && !json_object_get(items, pe))
				json_object_set_new(items, pe, json_pack("{s:O}", "old", v));
			free(pe);
		}
		json_array_foreach(nw, i, v) {
			char *pe = dc_fs_item_pe(nw, i, s);
			json_t *e = pe ? json_object_get(items, pe) : NULL;
			if (pe && !e)
				json_object_set_new(items, pe, json_pack("{s:O}", "new", v));
			else if (e && !json_object_get(e, "new"))
				json_object_set(e, "new", v);
			free(pe);
		}
		json_object_foreach(items, k, v) {
			json_t *xa, *xm, *xr;
			compare(json_object_get(v, "old"), json_object_get(v, "new"), dc_schema_items(s), cr, true,
				&xa, &xm, &xr);
			if (xa)
				json_object_set_new(ca, k, xa);
			if (xm)
				json_object_set_new(cm, k, xm);
			if (xr)
				json_object_set_new(cr2, k, xr);
		}
		json_decref(items);
	}
	/* the node itself: added or removed as a whole (a built-in's struct is
	 * never absent on the real server: Go zero values) */
	*a = node(!old && (is_item || cr || !json_object_get(dc_schema_resolve(s), "properties")), ca);
	*r = node(!nw && (is_item || cr || !json_object_get(dc_schema_resolve(s), "properties")), cr2);
	*m = node(false, cm);
}

void dc_fs_compare(const json_t *old, const json_t *nw, const json_t *schema, bool cr,
	json_t **added, json_t **modified, json_t **removed)
{
	json_t *a, *m, *r;
	compare(old, nw, schema, cr, false, &a, &m, &r);
	/* an object always has metadata: it is never added or removed itself */
	if (json_object_get(json_object_get(a, "f:metadata"), ".") &&
	    json_object_del(json_object_get(a, "f:metadata"), ".") == 0 &&
	    json_object_size(json_object_get(a, "f:metadata")) == 0)
		json_object_del(a, "f:metadata");
	if (json_object_get(json_object_get(r, "f:metadata"), ".") &&
	    json_object_del(json_object_get(r, "f:metadata"), ".") == 0 &&
	    json_object_size(json_object_get(r, "f:metadata")) == 0)
		json_object_del(r, "f:metadata");
	*added = a ? a : json_object();
	*modified = m ? m : json_object();
	*removed = r ? r : json_object();
	json_object_del(*added, ".");
	json_object_del(*modified, ".");
	json_object_del(*removed, ".");
}

/* ---- removing fields from objects ---- */

/* The child of x that path element pe names: an object key, or the index
 * of a list item. NULL if there is none. */
static json_t *child_at(json_t *x, const char *pe, const json_t *s, size_t *index)
{
	size_t i;
	if (!strncmp(pe, "f:", 2))
		return json_is_object(x) ? json_object_get(x, pe + 2) : NULL;
	if (!json_is_array(x))
		return NULL;
	for (i = 0; i < json_array_size(x); i++) {
		char *p = dc_fs_item_pe(x, i, s);
		bool hit = p && !strcmp(p, pe);
		free(p);
		if (hit) {
			*index = i;
			return json_array_get(x, i);
		}
	}
	return NULL;
}

static void drop_child(json_t *x, const char *pe, size_t index)
{
	if (json_is_object(x))
		json_object_del(x, pe + 2);
	else
		json_array_remove(x, index);
}

/* Keep only what keep (a set) covers in x; returns false when nothing is. */
static bool restrict_to(json_t *x, const json_t *keep, const json_t *s)
{
	const char *k;
	json_t *v;
	void *tmp;
	size_t i;
	if (keep && json_object_size(keep) == 0)
		return true; /* a leaf owned by someone: all of it stays */
	if (json_is_object(x)) {
		json_object_foreach_safe(x, tmp, k, v) {
			char *pe = NULL;
			json_t *kc;
			if (asprintf(&pe, "f:%s", k) < 0)
				continue;
			kc = json_object_get(keep, pe);
			if (!kc || !restrict_to(v, kc, dc_schema_prop(s, k)))
				json_object_del(x, k);
			free(pe);
		}
	} else if (json_is_array(x) && granular_list(s)) {
		for (i = json_array_size(x); i-- > 0;) {
			char *pe = dc_fs_item_pe(x, i, s);
			json_t *kc = pe ? json_object_get(keep, pe) : NULL;
			if (!kc || !restrict_to(json_array_get(x, i), kc, dc_schema_items(s)))
				json_array_remove(x, i);
			free(pe);
		}
	}
	return member(keep) || json_object_size(keep) > 0;
}

void dc_fs_remove(json_t *x, const json_t *rm, const json_t *keep, const json_t *s)
{
	const char *pe;
	json_t *sub;
	json_object_foreach((json_t *)rm, pe, sub) {
		size_t index = 0;
		const json_t *cs = !strncmp(pe, "f:", 2) ? dc_schema_prop(s, pe + 2) : dc_schema_items(s);
		json_t *c = child_at(x, pe, s, &index), *kc = json_object_get(keep, pe);
		if (!strcmp(pe, ".") || !c)
			continue;
		if (member(sub)) {
			/* the node itself goes, unless someone else still owns part of it */
			if (!kc || !restrict_to(c, kc, cs))
				drop_child(x, pe, index);
		} else {
			dc_fs_remove(c, sub, kc, cs);
			/* a field left empty that nobody owns anything under goes too
			 * (structured-merge-diff: named fields count as members) */
			if (!kc && ((json_is_object(c) && json_object_size(c) == 0) ||
				    (json_is_array(c) && json_array_size(c) == 0)))
				drop_child(x, pe, index);
		}
	}
}

/* ---- paths, for conflict messages ---- */

static void paths_rec(const json_t *s, peerop__buf *prefix, json_t *out)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)s, k, v) {
		size_t len = prefix->len;
		if (!strcmp(k, "."))
			continue;
		if (!strncmp(k, "f:", 2)) {
			peerop__buf_printf(prefix, ".%s", k + 2);
		} else if (!strncmp(k, "k:", 2)) {
			json_t *keys = json_loads(k + 2, 0, NULL), *kv;
			const char *kn;
			bool first = true;
			peerop__buf_putc(prefix, '[');
			json_object_foreach(keys, kn, kv) {
				char *enc = json_dumps(kv, JSON_ENCODE_ANY | JSON_COMPACT);
				peerop__buf_printf(prefix, "%s%s=%s", first ? "" : ",", kn, enc ? enc : "");
				free(enc);
				first = false;
			}
			peerop__buf_putc(prefix, ']');
			json_decref(keys);
		} else if (!strncmp(k, "v:", 2)) {
			peerop__buf_printf(prefix, "[=%s]", k + 2);
		} else if (!strncmp(k, "i:", 2)) {
			peerop__buf_printf(prefix, "[%s]", k + 2);
		}
		if (member(v))
			json_array_append_new(out, json_string(prefix->ptr ? prefix->ptr : ""));
		paths_rec(v, prefix, out);
		prefix->len = len;
		if (prefix->ptr)
			prefix->ptr[len] = '\0';
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *dc_fs_paths(const json_t *s)
{
	json_t *out = json_array(), *sorted;
	peerop__buf b = PEEROP__BUF_INIT;
	json_t **v;
	size_t i, n;
	paths_rec(s, &b, out);
	peerop__buf_dispose(&b);
	/* sorted, as the real server lists them */
	n = json_array_size(out);
	v = n ? malloc(n * sizeof(*v)) : NULL;
	for (i = 0; v && i < n; i++)
		v[i] = json_array_get(out, i);
	if (v)
		qsort(v, n, sizeof(*v), cmp_str);
	sorted = json_array();
	for (i = 0; v && i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(out);
	return sorted;
}

/* ---- what is tracked ---- */

json_t *dc_fs_tracked(const dc_rtype *rt, const json_t *obj, const char *subresource)
{
	static const char *const server_meta[] = { "name", "namespace", "uid", "resourceVersion", "generation",
		"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink" };
	json_t *t, *meta;
	size_t i;
	if (!json_is_object(obj))
		return json_object();
	if (subresource && !strcmp(subresource, "status"))
		return json_object_get(obj, "status") ? json_pack("{s:O}", "status", json_object_get(obj, "status"))
			: json_object();
	/* shallow copies: the result is only read, and shares the rest */
	t = json_copy((json_t *)obj);
	json_object_del(t, "apiVersion");
	json_object_del(t, "kind");
	if (rt->flags & DC_RT_STATUS)
		json_object_del(t, "status");
	meta = json_object_get(t, "metadata");
	if (json_is_object(meta)) {
		meta = json_copy(meta);
		json_object_set_new(t, "metadata", meta);
	}
	for (i = 0; meta && i < PEEROP__ARRAY_SIZE(server_meta); i++)
		json_object_del(meta, server_meta[i]);
	if (meta && json_object_size(meta) == 0)
		json_object_del(t, "metadata");
	return t;
}

/* ---- metadata.managedFields ---- */

json_t *dc_mf_find(json_t *entries, const char *manager, const char *operation, const char *sub)
{
	json_t *e;
	size_t i;
	json_array_foreach(entries, i, e) {
		const char *es = dc_json_str(e, "subresource");
		if (!strcmp(dc_json_str(e, "manager") ? dc_json_str(e, "manager") : "", manager) &&
		    !strcmp(dc_json_str(e, "operation") ? dc_json_str(e, "operation") : "", operation) &&
		    !strcmp(es ? es : "", sub ? sub : ""))
			return e;
	}
	return NULL;
}

void dc_mf_set(json_t *entries, const char *manager, const char *operation, const char *sub,
	const char *api_version, json_t *set)
{
	json_t *e = dc_mf_find(entries, manager, operation, sub);
	char ts[32];
	if (dc_fs_empty(set)) {
		size_t i;
		json_t *x;
		json_array_foreach(entries, i, x)
			if (x == e) {
				json_array_remove(entries, i);
				break;
			}
		json_decref(set);
		return;
	}
	if (e && json_equal(json_object_get(e, "fieldsV1"), set) &&
	    !strcmp(dc_json_str(e, "apiVersion") ? dc_json_str(e, "apiVersion") : "", api_version)) {
		json_decref(set); /* unchanged: keep its time, so a no-op write stays a no-op */
		return;
	}
	dc_now_rfc3339(ts, sizeof(ts));
	if (!e) {
		e = json_object();
		json_array_append_new(entries, e);
	}
	json_object_clear(e);
	json_object_set_new(e, "manager", json_string(manager));
	json_object_set_new(e, "operation", json_string(operation));
	json_object_set_new(e, "apiVersion", json_string(api_version));
	json_object_set_new(e, "time", json_string(ts));
	json_object_set_new(e, "fieldsType", json_string("FieldsV1"));
	json_object_set_new(e, "fieldsV1", set);
	if (sub && *sub)
		json_object_set_new(e, "subresource", json_string(sub));
}

/* Well-formed entries only: a client may write managedFields (kubectl
 * moves client-side apply's fields to its server-side manager that way). */
bool dc_mf_valid(const json_t *entries, char **err)
{
	json_t *e;
	size_t i;
	if (!json_is_array(entries)) {
		*err = strdup("metadata.managedFields must be a list");
		return false;
	}
	json_array_foreach(entries, i, e) {
		const char *opn = dc_json_str(e, "operation");
		if (!json_is_object(e) || !dc_json_str(e, "manager") || !opn ||
		    (strcmp(opn, "Apply") && strcmp(opn, "Update")) ||
		    (json_object_get(e, "fieldsType") && strcmp(dc_json_str(e, "fieldsType") ? dc_json_str(e, "fieldsType") : "", "FieldsV1")) ||
		    (json_object_get(e, "fieldsV1") && !json_is_object(json_object_get(e, "fieldsV1")))) {
			if (asprintf(err, "metadata.managedFields[%zu]: needs manager, operation Apply or Update, "
				"fieldsType FieldsV1 and an object fieldsV1", i) < 0)
				*err = NULL;
			return false;
		}
	}
	return true;
}

const char *dc_field_manager(const dc_req *rq, char *buf, size_t size)
{
	const char *fm = dc_req_query(rq, "fieldManager");
	const char *ua;
	size_t n;
	if (fm && *fm)
		return fm;
	/* as the real server: the User-Agent's product, "kubectl/v1.34 (...)" -> "kubectl" */
	ua = dc_req_header(rq, "User-Agent");
	n = ua ? strcspn(ua, "/") : 0;
	if (n > 128)
		n = 128;
	if (n == 0)
		return "unknown";
	snprintf(buf, size, "%.*s", (int)n, ua);
	return buf;
}

int dc_managed_update(const dc_req *rq, const dc_rtype *rt, json_t *nw, const json_t *old,
	const char *subresource, char **err)
{
	json_t *meta = dc_json_meta(nw), *given = json_object_get(meta, "managedFields");
	const json_t *live = old ? dc_json_path(old, "metadata.managedFields") : NULL;
	const json_t *schema = dc_type_schema(rt);
	json_t *entries, *o, *n, *added, *modified, *removed, *e, *changed, *mine;
	const char *manager;
	char mbuf[160];
	size_t i;
	bool cr = (rt->flags & DC_RT_CUSTOM) != 0;

	/* [{}] strips them; [] is ignored (clients unaware of the field) */
	if (json_is_array(given) && json_array_size(given) == 1 && json_object_size(json_array_get(given, 0)) == 0) {
		json_object_del(meta, "managedFields");
		return 0;
	}
	if (given && (!json_is_array(given) || json_array_size(given) > 0) && !json_equal(given, live)) {
		if (!dc_mf_valid(given, err))
			return 400;
		entries = json_deep_copy(given);
	} else {
		entries = live ? json_deep_copy(live) : json_array();
	}
	o = old ? dc_fs_tracked(rt, old, subresource) : json_object();
	n = dc_fs_tracked(rt, nw, subresource);
	dc_fs_compare(o, n, schema, cr, &added, &modified, &removed);
	changed = dc_fs_union(added, modified);
	/* the fields this write changed are no longer anyone else's */
	json_array_foreach(entries, i, e) {
		json_t *set = json_object_get(e, "fieldsV1"), *ns;
		if (!set)
			continue;
		ns = dc_fs_diff(set, changed);
		json_object_set_new(e, "fieldsV1", dc_fs_diff(ns, removed));
		json_decref(ns);
	}
	manager = dc_field_manager(rq, mbuf, sizeof(mbuf));
	e = dc_mf_find(entries, manager, "Update", subresource);
	mine = dc_fs_union(e ? json_object_get(e, "fieldsV1") : NULL, changed);
	dc_mf_set(entries, manager, "Update", subresource, rt->api_version, mine);
	/* managers left with nothing go */
	for (i = json_array_size(entries); i-- > 0;)
		if (dc_fs_empty(json_object_get(json_array_get(entries, i), "fieldsV1")))
			json_array_remove(entries, i);
	if (json_array_size(entries))
		json_object_set_new(meta, "managedFields", entries);
	else {
		json_object_del(meta, "managedFields");
		json_decref(entries);
	}
	json_decref(o);
	json_decref(n);
	json_decref(added);
	json_decref(modified);
	json_decref(removed);
	json_decref(changed);
	return 0;
}
