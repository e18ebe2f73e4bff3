/* apply.c: server-side apply (PATCH with application/apply-patch+yaml), as
 * `kubectl apply --server-side`, helm 4 and controllers use it.
 *
 * The body (YAML or JSON, yaml_body.c) is the manager's whole intent for
 * the object. In the real server's order (structured-merge-diff's
 * Updater.Apply):
 *   1. merge it into the live object (maps and structs field by field,
 *      list-type map lists item by item by key, set lists as unions,
 *      everything else replaced);
 *   2. remove the fields this manager applied last time and omits now,
 *      unless another manager owns them;
 *   3. compare with the live object: fields other managers own that this
 *      apply changes are conflicts, 409 with FieldManagerConflict causes,
 *      unless force=true, which takes them over;
 *   4. record the manager's Apply entry (the fields of the body) in
 *      metadata.managedFields, drop removed and taken fields from the
 *      others, and write through the ordinary create/update path
 *      (admission, defaults, generation, persistence, watch events).
 * A missing object is created (201). fieldManager is required; the body
 * must name the type (apiVersion, kind), may not carry managedFields, and a
 * resourceVersion in it is a precondition. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* live merged with the applied config (both in the served form) */
static json_t *amerge(const json_t *live, const json_t *cfg, const json_t *s)
{
	const char *k;
	json_t *v, *res;
	size_t i, j;
	if (json_is_object(cfg) && (!live || json_is_object(live)) && !dc_map_atomic(s)) {
		res = live ? json_deep_copy(live) : json_object();
		json_object_foreach((json_t *)cfg, k, v) {
			if (json_is_null(v))
				json_object_del(res, k);
			else
				json_object_set_new(res, k, amerge(json_object_get(res, k), v, dc_schema_prop(s, k)));
		}
		return res;
	}
	if (json_is_array(cfg) && json_is_array(live)) {
		const json_t *keys;
		json_t *own;
		dc_ltype lt = dc_list_type(s, &keys, &own);
		json_decref(own);
		if (lt != DC_LT_ATOMIC) {
			res = json_deep_copy(live);
			json_array_foreach(cfg, i, v) {
				char *pe = dc_fs_item_pe(cfg, i, s);
				bool found = false;
				for (j = 0; pe && j < json_array_size(res) && !found; j++) {
					char *q = dc_fs_item_pe(res, j, s);
					if (q && !strcmp(q, pe)) {
						json_array_set_new(res, j, amerge(json_array_get(res, j), v, dc_schema_items(s)));
						found = true;
					}
					free(q);
				}
				if (!found)
					json_array_append_new(res, amerge(NULL, v, dc_schema_items(s)));
				free(pe);
			}
			return res;
		}
	}
	if (json_is_object(cfg) && !dc_map_atomic(s)) {
		/* a new structure replacing a value of another type: without the nulls */
		return amerge(NULL, cfg, s);
	}
	return json_deep_copy(cfg);
}

/* How the real server names a manager in conflict messages. */
static void describe_manager(peerop__buf *b, const json_t *e)
{
	const char *sub = dc_json_str(e, "subresource");
	peerop__buf_printf(b, "\"%s\"", dc_json_str(e, "manager"));
	if (sub && *sub)
		peerop__buf_printf(b, " with subresource \"%s\"", sub);
	if (!strcmp(dc_json_str(e, "operation"), "Update")) {
		peerop__buf_printf(b, " using %s", dc_json_str(e, "apiVersion") ? dc_json_str(e, "apiVersion") : "");
		if (dc_json_str(e, "time"))
			peerop__buf_printf(b, " at %s", dc_json_str(e, "time"));
	}
}

/* 409 Conflict: "Apply failed with N conflict(s): ..." with one
 * FieldManagerConflict cause per field. conflicts: [{entry, paths}] */
static json_t *conflict_status(const json_t *conflicts, const dc_rtype *rt, const char *name)
{
	peerop__buf msg = PEEROP__BUF_INIT, who = PEEROP__BUF_INIT;
	json_t *causes = json_array(), *c, *p, *st;
	size_t i, j, total = 0;
	json_array_foreach(conflicts, i, c)
		total += json_array_size(json_object_get(c, "paths"));
	peerop__buf_printf(&msg, "Apply failed with %zu conflict%s: ", total, total == 1 ? "" : "s");
	json_array_foreach(conflicts, i, c) {
		peerop__buf_clear(&who);
		describe_manager(&who, json_object_get(c, "entry"));
		if (total == 1)
			peerop__buf_printf(&msg, "conflict with %s: %s", who.ptr,
				json_string_value(json_array_get(json_object_get(c, "paths"), 0)));
		else
			peerop__buf_printf(&msg, "%sconflicts with %s:", i ? "\n" : "", who.ptr);
		json_array_foreach(json_object_get(c, "paths"), j, p) {
			char *cm = NULL;
			if (total > 1)
				peerop__buf_printf(&msg, "\n- %s", json_string_value(p));
			if (asprintf(&cm, "conflict with %s", who.ptr) < 0)
				cm = NULL;
			json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", "FieldManagerConflict",
				"message", cm ? cm : "", "field", json_string_value(p)));
			free(cm);
		}
	}
	st = dc_status(409, "Conflict", msg.ptr, name, rt->group, rt->plural);
	json_object_set_new(json_object_get(st, "details"), "causes", causes);
	peerop__buf_dispose(&msg);
	peerop__buf_dispose(&who);
	return st;
}

/* The body: an object naming the target type, without managedFields. */
static json_t *decode_config(dc_req *rq, dc_resp *rs, const dc_target *t, const char *want_av, const char *want_kind)
{
	char *err = NULL;
	json_t *cfg = dc_yaml_decode(rq->body, rq->body_len, &err);
	const char *av, *kind, *name, *ns;
	if (!cfg) {
		dc_resp_error(rs, 400, "BadRequest", "error decoding the apply patch: %s", err ? err : "malformed");
		free(err);
		return NULL;
	}
	av = json_string_value(json_object_get(cfg, "apiVersion"));
	kind = json_string_value(json_object_get(cfg, "kind"));
	name = dc_json_str(cfg, "metadata.name");
	ns = dc_json_str(cfg, "metadata.namespace");
	if (!json_is_object(cfg)) {
		dc_resp_error(rs, 400, "BadRequest", "the apply patch must be an object");
	} else if (!av || !kind || !*av || !*kind) {
		dc_resp_error(rs, 400, "BadRequest", "the apply patch must set apiVersion and kind (%s, %s)", want_av, want_kind);
	} else if (strcmp(av, want_av) || strcmp(kind, want_kind)) {
		dc_resp_error(rs, 400, "BadRequest", "the apply patch is a %s %s, the URL names a %s %s", av, kind, want_av, want_kind);
	} else if (json_object_get(cfg, "metadata") && !json_is_object(json_object_get(cfg, "metadata"))) {
		dc_resp_error(rs, 400, "BadRequest", "metadata must be an object");
	} else if (dc_json_path(cfg, "metadata.managedFields")) {
		dc_resp_error(rs, 400, "BadRequest", "metadata.managedFields must be nil");
	} else if (name && strcmp(name, t->name)) {
		dc_resp_error(rs, 400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)",
			name, t->name);
	} else if (ns && *ns && t->ns && t->namespaced && strcmp(ns, t->ns)) {
		dc_resp_error(rs, 400, "BadRequest",
			"the namespace of the provided object does not match the namespace sent on the request");
	} else {
		return cfg;
	}
	json_decref(cfg);
	return NULL;
}

/* Merge, prune, find conflicts, record managers. 0 and *out, or a reply. */
static int apply_fields(dc_req *rq, dc_resp *rs, const dc_rtype *rt, const json_t *live, const json_t *cfg,
	const char *manager, const char *sub, json_t **out)
{
	const json_t *schema = dc_type_schema(rt);
	bool force = dc_req_query_bool(rq, "force");
	bool cr = (rt->flags & DC_RT_CUSTOM) != 0;
	json_t *tcfg = dc_fs_tracked(rt, cfg, sub), *newset = dc_fs_from_object(tcfg, schema);
	json_t *entries = json_deep_copy(dc_json_path(live, "metadata.managedFields")), *mine, *e;
	json_t *others = json_object(), *keep, *rm, *tmp, *merged, *to, *tn, *added, *modified, *removed, *changed;
	json_t *conflicts = json_array();
	size_t i;

	if (!json_is_array(entries)) {
		json_decref(entries);
		entries = json_array();
	}
	mine = dc_mf_find(entries, manager, "Apply", sub);
	json_array_foreach(entries, i, e)
		if (e != mine) {
			tmp = dc_fs_union(others, json_object_get(e, "fieldsV1"));
			json_decref(others);
			others = tmp;
		}
	/* 1. merge what this write may touch */
	merged = live ? json_deep_copy(live) : json_object();
	tmp = amerge(merged, tcfg, schema);
	json_decref(merged);
	merged = tmp;
	if (!live) {
		json_object_set(merged, "apiVersion", json_object_get(cfg, "apiVersion"));
		json_object_set(merged, "kind", json_object_get(cfg, "kind"));
	}
	/* 2. what it applied before and omits now, and nobody else owns */
	if (mine) {
		keep = dc_fs_union(newset, others);
		rm = dc_fs_diff(json_object_get(mine, "fieldsV1"), keep);
		dc_fs_remove(merged, rm, keep, schema);
		json_decref(keep);
		json_decref(rm);
	}
	/* 3. conflicts */
	to = live ? dc_fs_tracked(rt, live, sub) : json_object();
	tn = dc_fs_tracked(rt, merged, sub);
	dc_fs_compare(to, tn, schema, cr, &added, &modified, &removed);
	changed = dc_fs_union(added, modified);
	json_array_foreach(entries, i, e) {
		json_t *c;
		if (e == mine)
			continue;
		c = dc_fs_intersect(json_object_get(e, "fieldsV1"), changed);
		if (!dc_fs_empty(c))
			json_array_append_new(conflicts, json_pack("{s:O,s:o}", "entry", e, "paths", dc_fs_paths(c)));
		json_decref(c);
	}
	if (json_array_size(conflicts) && !force) {
		dc_resp_status(rs, conflict_status(conflicts, rt, dc_json_str(merged, "metadata.name")));
		json_decref(merged);
		merged = NULL;
	} else {
		/* 4. ownership: taken and removed fields leave the others */
		json_array_foreach(entries, i, e) {
			json_t *ns;
			if (e == mine)
				continue;
			ns = dc_fs_diff(json_object_get(e, "fieldsV1"), changed);
			tmp = dc_fs_diff(ns, removed);
			json_decref(ns);
			json_object_set_new(e, "fieldsV1", tmp);
		}
		dc_mf_set(entries, manager, "Apply", sub, rt->api_version, json_incref(newset));
		for (i = json_array_size(entries); i-- > 0;)
			if (dc_fs_empty(json_object_get(json_array_get(entries, i), "fieldsV1")))
				json_array_remove(entries, i);
		if (json_array_size(entries))
			json_object_set(dc_json_meta(merged), "managedFields", entries);
		else
			json_object_del(dc_json_meta(merged), "managedFields");
	}
	json_decref(tcfg);
	json_decref(newset);
	json_decref(entries);
	json_decref(others);
	json_decref(to);
	json_decref(tn);
	json_decref(added);
	json_decref(modified);
	json_decref(removed);
	json_decref(changed);
	json_decref(conflicts);
	*out = merged;
	return merged ? 0 : -1;
}

void dc_apply_locked(dc_req *rq, dc_resp *rs, const dc_target *t, dc_entry *e, int dry)
{
	const dc_rtype *rt = t->rt;
	const char *manager = dc_req_query(rq, "fieldManager");
	const char *sub = t->sub ? t->sub : "";
	bool scale = !strcmp(sub, "scale");
	json_t *cfg, *live = NULL, *merged = NULL;
	const char *rv;

	if (!manager || !*manager) {
		dc_resp_status(rs, dc_status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
			"Required value: is required for apply patch", NULL, "meta.k8s.io", "PatchOptions"));
		return;
	}
	if (strlen(manager) > 128) {
		dc_resp_status(rs, dc_status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
			"Too long: may not be more than 128 bytes", NULL, "meta.k8s.io", "PatchOptions"));
		return;
	}
	cfg = decode_config(rq, rs, t, scale ? "autoscaling/v1" : rt->api_version, scale ? "Scale" : rt->kind);
	if (!cfg)
		return;
	if (e) {
		live = dc_obj_parse(e->obj);
		dc_rtype_out(rt, live);
	} else if (t->sub) {
		dc_resp_status(rs, dc_not_found(rt, t->name));
		goto out;
	}
	rv = dc_json_str(cfg, "metadata.resourceVersion");
	if (rv && *rv && live && strcmp(rv, dc_json_str(live, "metadata.resourceVersion"))) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": the object has been "
			"modified; please apply your changes to the latest version and try again",
			rt->coll->resource, t->name);
		dc_resp_status(rs, dc_status(409, "Conflict", msg, t->name, rt->group, rt->plural));
		goto out;
	}
	if (scale) {
		/* a Scale applies to the object's replicas field */
		json_t *obj = json_pack("{s:s,s:s}", "apiVersion", rt->api_version, "kind", rt->kind);
		json_t *r = dc_json_path(cfg, "spec.replicas");
		if (r)
			dc_json_set_path(obj, rt->scale_spec, json_incref(r));
		json_decref(cfg);
		cfg = obj;
	}
	if (apply_fields(rq, rs, rt, live, cfg, manager, sub, &merged) != 0)
		goto out;
	rq->managed_done = true;
	if (!e) {
		json_t *meta = dc_json_meta(merged);
		json_object_set_new(meta, "name", json_string(t->name));
		if (rt->namespaced)
			json_object_set_new(meta, "namespace", json_string(t->ns));
		dc_rtype_in(rt, merged);
		dc_create_locked(rq, rs, t, merged, dry);
	} else {
		json_object_set(dc_json_meta(merged), "resourceVersion", json_object_get(json_object_get(live, "metadata"),
			"resourceVersion"));
		dc_rtype_in(rt, merged);
		dc_update_locked(rq, rs, rt, e, merged, !strcmp(sub, "status"), dry, scale);
	}
out:
	json_decref(cfg);
	json_decref(live);
	json_decref(merged);
}
