/* api_delete.c: DELETE and deletecollection, finalizers, namespace
 * deletion, and ownerReference garbage collection.
 *
 * The real garbage collector runs asynchronously; here it runs inside the
 * deleting request, with the store locked, one commit (one resourceVersion,
 * one watch event) per object it changes. Clients see the same sequence of
 * states, only sooner. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FG_FINALIZER "foregroundDeletion"
#define ORPHAN_FINALIZER "orphan"

int dc_commit_update(dc_store *s, dc_entry *e, json_t *obj)
{
	return dc_store_commit(s, e->coll, e->obj->ns, e->obj->name, obj, NULL);
}

static void set_deletion(json_t *obj)
{
	char ts[32];
	json_t *m = dc_json_meta(obj);
	dc_now_rfc3339(ts, sizeof(ts));
	if (!json_object_get(m, "deletionTimestamp")) {
		json_object_set_new(m, "deletionTimestamp", json_string(ts));
		json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
	}
}

static void add_finalizer(json_t *obj, const char *f)
{
	json_t *m = dc_json_meta(obj), *fin = json_object_get(m, "finalizers"), *v;
	size_t i;
	if (!json_is_array(fin)) {
		fin = json_array();
		json_object_set_new(m, "finalizers", fin);
	}
	json_array_foreach(fin, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), f))
			return;
	json_array_append_new(fin, json_string(f));
}

static void remove_finalizer(json_t *obj, const char *f)
{
	json_t *m = dc_json_meta(obj), *fin = json_object_get(m, "finalizers"), *v;
	size_t i;
	for (i = 0; i < json_array_size(fin);) {
		v = json_array_get(fin, i);
		if (json_is_string(v) && !strcmp(json_string_value(v), f))
			json_array_remove(fin, i);
		else
			i++;
	}
	if (json_is_array(fin) && json_array_size(fin) == 0)
		json_object_del(m, "finalizers");
}

/* Remove the ownerReferences to owner_uid from e's object. */
static int drop_owner_ref(dc_store *s, dc_entry *e, const char *owner_uid)
{
	json_t *obj = dc_obj_parse(e->obj), *m = dc_json_meta(obj), *refs = json_object_get(m, "ownerReferences");
	size_t i;
	int rc;
	for (i = 0; i < json_array_size(refs);) {
		const char *u = dc_json_str(json_array_get(refs, i), "uid");
		if (u && !strcmp(u, owner_uid))
			json_array_remove(refs, i);
		else
			i++;
	}
	if (json_array_size(refs) == 0)
		json_object_del(m, "ownerReferences");
	rc = dc_commit_update(s, e, obj);
	json_decref(obj);
	return rc;
}

/* The uids of an owner's dependents: entries may be freed by nested
 * deletions, so callers look each one up again by uid. */
static size_t dependent_uids(dc_store *s, const char *uid, char ***out)
{
	dc_entry **v;
	size_t n = dc_store_dependents(s, uid, &v), i;
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return 0;
	for (i = 0; i < n; i++)
		(*out)[i] = strdup(v[i]->obj->uid);
	return n;
}

static void free_uids(char **u, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(u[i]);
	free(u);
}

/* Is e still in the store (not removed by a nested deletion)? */
static bool alive(dc_store *s, dc_entry *e, const char *uid)
{
	return dc_store_by_uid(s, uid) == e;
}

static int remove_now(dc_store *s, dc_entry *e)
{
	dc_obj *gone = dc_obj_ref(e->obj);
	int rc = dc_store_commit(s, e->coll, gone->ns, gone->name, NULL, NULL);
	if (rc == 0)
		rc = dc_gc_after_remove(s, gone);
	dc_obj_unref(gone);
	return rc;
}

/* A foreground-deleting owner whose blocking dependents are all gone
 * loses its foregroundDeletion finalizer (and goes, if it was the last). */
static int foreground_check(dc_store *s, dc_entry *owner)
{
	dc_entry **deps;
	size_t n, i, j;
	json_t *obj;
	int rc;
	if (!owner->obj->deleting || !dc_obj_has_finalizer(owner->obj, FG_FINALIZER))
		return 0;
	n = dc_store_dependents(s, owner->obj->uid, &deps);
	for (i = 0; i < n; i++)
		for (j = 0; j < deps[i]->obj->nowners; j++)
			if (deps[i]->obj->owner_block[j] && !strcmp(deps[i]->obj->owners[j], owner->obj->uid))
				return 0;
	obj = dc_obj_parse(owner->obj);
	remove_finalizer(obj, FG_FINALIZER);
	rc = dc_commit_update(s, owner, obj);
	json_decref(obj);
	if (rc == 0 && owner->obj->nfinalizers == 0)
		rc = remove_now(s, owner);
	return rc;
}

static int namespace_check_empty(dc_store *s, const char *ns);

int dc_gc_after_remove(dc_store *s, const dc_obj *gone)
{
	char **deps;
	size_t n, i, j;
	int rc = 0;
	char *uid = strdup(gone->uid);

	if (!uid)
		return PEEROP_ENOMEM;
	/* dependents: those with another live owner lose the reference, the
	 * rest are deleted in the background */
	n = dependent_uids(s, uid, &deps);
	for (i = 0; rc == 0 && i < n; i++) {
		dc_entry *d = deps[i] ? dc_store_by_uid(s, deps[i]) : NULL;
		bool other = false;
		if (!d)
			continue;
		for (j = 0; j < d->obj->nowners; j++)
			if (strcmp(d->obj->owners[j], uid) && dc_store_by_uid(s, d->obj->owners[j]))
				other = true;
		if (other)
			rc = drop_owner_ref(s, d, uid);
		else
			rc = dc_delete_entry(s, d, "Background", false, NULL);
	}
	free_uids(deps, n);
	/* owners waiting in foreground deletion for this dependent */
	for (i = 0; rc == 0 && i < gone->nowners; i++) {
		dc_entry *o = dc_store_by_uid(s, gone->owners[i]);
		if (o)
			rc = foreground_check(s, o);
	}
	if (rc == 0 && gone->ns[0])
		rc = namespace_check_empty(s, gone->ns);
	free(uid);
	return rc;
}

/* ---- namespaces ---- */

static dc_entry *namespace_entry(dc_store *s, const char *ns)
{
	const dc_rtype *nsrt = dc_rtype_find(s, "", "v1", "namespaces");
	return nsrt ? dc_coll_get(nsrt->coll, "", ns) : NULL;
}

static int namespace_check_empty(dc_store *s, const char *ns)
{
	dc_entry *e = namespace_entry(s, ns);
	size_t i, lo, hi;
	json_t *obj;
	int rc;
	if (!e || !e->obj->deleting)
		return 0;
	for (i = 0; i < s->ncolls; i++) {
		if (!s->colls[i]->namespaced)
			continue;
		dc_coll_range(s->colls[i], ns, &lo, &hi);
		if (hi > lo)
			return 0;
	}
	if (e->obj->nfinalizers > 0)
		return 0;
	/* the namespace controller's last step: drop spec.finalizers, remove */
	obj = dc_obj_parse(e->obj);
	json_object_del(json_object_get(obj, "spec"), "finalizers");
	rc = dc_commit_update(s, e, obj);
	json_decref(obj);
	if (rc == 0)
		rc = remove_now(s, e);
	return rc;
}

static int namespace_delete(dc_store *s, dc_entry *e)
{
	json_t *obj;
	char *ns;
	size_t i, j, lo, hi;
	int rc = 0;
	if (e->obj->deleting)
		return 0;
	obj = dc_obj_parse(e->obj);
	set_deletion(obj);
	dc_json_set_path(obj, "status.phase", json_string("Terminating"));
	rc = dc_commit_update(s, e, obj);
	json_decref(obj);
	ns = strdup(e->obj->name);
	if (!ns)
		return PEEROP_ENOMEM;
	for (i = 0; rc == 0 && i < s->ncolls; i++) {
		dc_coll *c = s->colls[i];
		dc_entry **snap;
		char **uids;
		size_t n;
		if (!c->namespaced)
			continue;
		dc_coll_range(c, ns, &lo, &hi);
		n = hi - lo;
		if (n == 0)
			continue;
		snap = malloc(n * sizeof(*snap));
		uids = calloc(n, sizeof(*uids));
		if (!snap || !uids) {
			free(snap);
			free(uids);
			rc = PEEROP_ENOMEM;
			break;
		}
		memcpy(snap, c->arr + lo, n * sizeof(*snap));
		for (j = 0; j < n; j++)
			uids[j] = strdup(snap[j]->obj->uid);
		for (j = 0; j < n; j++) {
			if (rc == 0 && uids[j] && alive(s, snap[j], uids[j]))
				rc = dc_delete_entry(s, snap[j], "Background", false, NULL);
			free(uids[j]);
		}
		free(snap);
		free(uids);
	}
	if (rc == 0)
		rc = namespace_check_empty(s, ns);
	free(ns);
	return rc;
}

/* A dependent whose owners are all gone is deleted, as the real garbage
 * collector does once it has checked each owner's uid: this is what
 * cleans up after a controller whose cache is a moment behind and
 * recreates an object for an owner just deleted. The real collector does
 * it in the background a little later; here it follows the write at once
 * (the client sees the write succeed, then a DELETED event). */
int dc_gc_dangling(dc_store *s, dc_coll *coll, const char *ns, const char *name)
{
	dc_entry *e = dc_coll_get(coll, ns, name);
	size_t j;

	if (!e || e->obj->nowners == 0 || e->obj->deleting)
		return 0;
	for (j = 0; j < e->obj->nowners; j++)
		if (dc_store_by_uid(s, e->obj->owners[j]))
			return 0;
	return dc_delete_entry(s, e, "Background", false, NULL);
}

static bool is_pod(const dc_entry *e)
{
	return e->coll->group[0] == '\0' && !strcmp(e->coll->plural, "pods");
}

/* A pod that the kubelet runs is deleted gracefully: marked now, removed
 * by the kubelet (grace 0) once its processes are gone. 1 when it was
 * handled here; 0 to go on with the ordinary deletion. */
static int pod_graceful(dc_store *s, dc_entry *e, long long grace, int *rc)
{
	json_t *obj, *m;
	const char *node, *phase;
	long long g, cur;
	char ts[32];
	time_t when;
	struct tm tm;

	if (!is_pod(e) || !s->kubelet_node)
		return 0;
	obj = dc_obj_parse(e->obj);
	m = dc_json_meta(obj);
	node = dc_json_str(obj, "spec.nodeName");
	phase = dc_json_str(obj, "status.phase");
	if (!node || strcmp(node, s->kubelet_node) || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))) {
		json_decref(obj);
		return 0;
	}
	g = grace >= 0 ? grace : json_is_integer(dc_json_path(obj, "spec.terminationGracePeriodSeconds")) ?
		json_integer_value(dc_json_path(obj, "spec.terminationGracePeriodSeconds")) : 30;
	if (g < 0)
		g = 30;
	cur = json_is_integer(json_object_get(m, "deletionGracePeriodSeconds")) ?
		json_integer_value(json_object_get(m, "deletionGracePeriodSeconds")) : -1;
	if (g == 0 || (e->obj->deleting && cur >= 0 && g >= cur)) {
		json_decref(obj);
		/* grace 0 removes it now (the kubelet's last word, or --force);
		 * a longer grace than the pending one changes nothing */
		if (g == 0 && e->obj->deleting && e->obj->nfinalizers == 0) {
			*rc = remove_now(s, e);
			return 1;
		}
		return g == 0 ? 0 : 1;
	}
	when = time(NULL) + (time_t)g;
	gmtime_r(&when, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(m, "deletionTimestamp", json_string(ts));
	json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(g));
	*rc = dc_commit_update(s, e, obj);
	json_decref(obj);
	return 1;
}

int dc_delete_entry(dc_store *s, dc_entry *e, const char *policy, bool dry, dc_obj **out_last)
{
	return dc_delete_entry_grace(s, e, policy, dry, -1, out_last);
}

int dc_delete_entry_grace(dc_store *s, dc_entry *e, const char *policy, bool dry, long long grace,
	dc_obj **out_last)
{
	json_t *obj;
	char **deps;
	size_t n, i;
	int rc = 0;
	char *uid;

	if (out_last)
		*out_last = dc_obj_ref(e->obj);
	if (!dry && pod_graceful(s, e, grace, &rc))
		return rc;
	if (dry || e->obj->deleting)
		return 0;
	if (e->coll->group[0] == '\0' && !strcmp(e->coll->plural, "namespaces"))
		return namespace_delete(s, e);
	if (e->coll->on_commit == dc_crd_on_commit) {
		json_t *crd = dc_obj_parse(e->obj);
		rc = dc_crd_delete_objects(s, crd);
		json_decref(crd);
		if (rc != 0)
			return rc;
	}
	uid = strdup(e->obj->uid);
	if (!uid)
		return PEEROP_ENOMEM;
	if (!strcmp(policy, "Orphan")) {
		n = dependent_uids(s, uid, &deps);
		for (i = 0; rc == 0 && i < n; i++) {
			dc_entry *d = deps[i] ? dc_store_by_uid(s, deps[i]) : NULL;
			if (d)
				rc = drop_owner_ref(s, d, uid);
		}
		free_uids(deps, n);
	} else if (!strcmp(policy, "Foreground")) {
		obj = dc_obj_parse(e->obj);
		set_deletion(obj);
		add_finalizer(obj, FG_FINALIZER);
		rc = dc_commit_update(s, e, obj);
		json_decref(obj);
		n = dependent_uids(s, uid, &deps);
		for (i = 0; rc == 0 && i < n; i++) {
			dc_entry *d = deps[i] ? dc_store_by_uid(s, deps[i]) : NULL;
			if (d)
				rc = dc_delete_entry(s, d, "Foreground", false, NULL);
		}
		free_uids(deps, n);
		if (rc == 0 && alive(s, e, uid))
			rc = foreground_check(s, e);
		free(uid);
		return rc;
	}
	if (rc == 0 && e->obj->nfinalizers > 0) {
		obj = dc_obj_parse(e->obj);
		set_deletion(obj);
		rc = dc_commit_update(s, e, obj);
		json_decref(obj);
	} else if (rc == 0) {
		rc = remove_now(s, e);
	}
	free(uid);
	return rc;
}

/* ---- the HTTP verbs ---- */

typedef struct delopts {
	const char *policy;
	const char *pre_uid, *pre_rv;
	int dry;
	long long grace;          /* gracePeriodSeconds, -1: the object's own */
	json_t *body;
} delopts;

static bool parse_delopts_body(dc_req *rq, dc_resp *rs, delopts *o);

static bool parse_delopts(dc_req *rq, dc_resp *rs, delopts *o)
{
	if (parse_delopts_body(rq, rs, o))
		return true;
	json_decref(o->body);
	o->body = NULL;
	return false;
}

static bool parse_delopts_body(dc_req *rq, dc_resp *rs, delopts *o)
{
	const char *q;
	json_t *dr;
	memset(o, 0, sizeof(*o));
	o->grace = -1;
	o->dry = dc_dry_run(rq, rs);
	if (o->dry < 0)
		return false;
	if (rq->body_len > 0) {
		json_error_t jerr;
		const char *ct = rq->content_type ? rq->content_type : "";
		while (*ct == ' ')
			ct++;
		if (!strncasecmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
			/* typed clients (helm's release storage) send it in protobuf */
			char *err = NULL;
			int code = dc_protobuf_decode(rq->body, rq->body_len, &o->body, &err);
			if (code) {
				dc_resp_error(rs, code, NULL, "the DeleteOptions in the body could not be decoded: %s",
					err ? err : "malformed");
				free(err);
				return false;
			}
		} else {
			o->body = json_loadb(rq->body, rq->body_len, 0, &jerr);
		}
		if (!json_is_object(o->body)) {
			json_decref(o->body);
			o->body = NULL;
			dc_resp_error(rs, 400, "BadRequest", "the DeleteOptions in the body could not be decoded: %s",
				o->body ? "not an object" : jerr.text);
			return false;
		}
		o->policy = json_string_value(json_object_get(o->body, "propagationPolicy"));
		if (json_is_integer(json_object_get(o->body, "gracePeriodSeconds")))
			o->grace = json_integer_value(json_object_get(o->body, "gracePeriodSeconds"));
		o->pre_uid = dc_json_str(o->body, "preconditions.uid");
		o->pre_rv = dc_json_str(o->body, "preconditions.resourceVersion");
		if (json_is_true(json_object_get(o->body, "orphanDependents")))
			o->policy = "Orphan";
		dr = json_object_get(o->body, "dryRun");
		if (json_is_array(dr) && json_array_size(dr) > 0) {
			const char *v = json_string_value(json_array_get(dr, 0));
			if (!v || strcmp(v, "All")) {
				dc_resp_error(rs, 400, "BadRequest", "dryRun: Unsupported value: supported values: \"All\"");
				return false;
			}
			o->dry = 1;
		}
	}
	if ((q = dc_req_query(rq, "propagationPolicy")) && *q)
		o->policy = q;
	if ((q = dc_req_query(rq, "gracePeriodSeconds")) && *q) {
		char *end;
		long long g = strtoll(q, &end, 10);
		if (*end) {
			dc_resp_error(rs, 400, "BadRequest", "gracePeriodSeconds: invalid value \"%s\"", q);
			return false;
		}
		o->grace = g;
	}
	if (o->grace < 0)
		o->grace = -1;
	if (dc_req_query_bool(rq, "orphanDependents"))
		o->policy = "Orphan";
	if (!o->policy)
		o->policy = "Background";
	if (strcmp(o->policy, "Background") && strcmp(o->policy, "Foreground") && strcmp(o->policy, "Orphan")) {
		dc_resp_error(rs, 422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
			"Unsupported value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
			o->policy);
		return false;
	}
	return true;
}

static void reply_deleted(dc_resp *rs, const dc_rtype *rt, dc_entry *still, dc_obj *last)
{
	peerop__buf b = PEEROP__BUF_INIT;
	size_t len;
	/* Objects still present (finalizers, foreground) are returned as they
	 * are now; pods and custom resources return their last state; other
	 * built-ins return a Success Status, as the real server does. */
	if (still) {
		dc_rtype_render(rt, still->obj, &b);
	} else if ((rt->flags & DC_RT_CUSTOM) || !strcmp(rt->plural, "pods")) {
		dc_rtype_render(rt, last, &b);
	} else {
		json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:{s:s,s:s,s:s}}", "kind", "Status", "apiVersion", "v1",
			"metadata", "status", "Success", "details", "name", last->name, "kind", rt->plural, "uid", last->uid);
		if (st && rt->group[0])
			json_object_set_new(json_object_get(st, "details"), "group", json_string(rt->group));
		dc_resp_json(rs, 200, st);
		return;
	}
	len = b.len;
	rs->content_type = "application/json";
	dc_resp_raw(rs, 200, peerop__buf_detach(&b), len);
}

void dc_api_delete(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	delopts o;
	dc_entry *e;
	dc_obj *last = NULL;
	char *uid = NULL;
	int rc;

	if (!parse_delopts(rq, rs, &o))
		return;
	if (!dc_target_lock(s, &t, rs)) {
		json_decref(o.body);
		return;
	}
	e = dc_coll_get(t.rt->coll, t.rt->namespaced ? t.ns : "", t.name);
	if (!e) {
		dc_resp_status(rs, dc_not_found(t.rt, t.name));
		goto out;
	}
	if (o.pre_uid && *o.pre_uid && strcmp(o.pre_uid, e->obj->uid)) {
		dc_resp_error(rs, 409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s",
			o.pre_uid, e->obj->uid);
		goto out;
	}
	if (o.pre_rv && *o.pre_rv) {
		char cur[32];
		snprintf(cur, sizeof(cur), "%llu", (unsigned long long)e->obj->rv);
		if (strcmp(o.pre_rv, cur)) {
			dc_resp_error(rs, 409, "Conflict", "Precondition failed: ResourceVersion in precondition: %s, "
				"ResourceVersion in object meta: %s", o.pre_rv, cur);
			goto out;
		}
	}
	if (!t.rt->group[0] && !strcmp(t.rt->plural, "namespaces") &&
	    (!strcmp(t.name, "default") || !strcmp(t.name, "kube-system") || !strcmp(t.name, "kube-public"))) {
		char msg[256];
		snprintf(msg, sizeof(msg), "namespaces \"%s\" is forbidden: this namespace may not be deleted", t.name);
		dc_resp_status(rs, dc_status(403, "Forbidden", msg, t.name, "", "namespaces"));
		goto out;
	}
	uid = strdup(e->obj->uid);
	rc = dc_delete_entry_grace(s, e, o.policy, o.dry, o.grace, &last);
	if (rc != 0) {
		dc_resp_error(rs, 500, "InternalError", "the deletion could not be persisted: %s",
			peerop_error_last()->message);
		goto out;
	}
	e = uid ? dc_store_by_uid(s, uid) : NULL;
	reply_deleted(rs, t.rt, o.dry ? NULL : e, last);
out:
	pthread_mutex_unlock(&s->mu);
	dc_obj_unref(last);
	json_decref(o.body);
	free(uid);
}

void dc_api_delete_collection(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	delopts o;
	dc_selector *lsel = NULL, *fsel = NULL;
	size_t lo, hi, i, n = 0;
	dc_entry **snap = NULL;
	char **uids = NULL;
	int rc = 0;

	if (!parse_delopts(rq, rs, &o))
		return;
	if (!dc_target_lock(s, &t, rs)) {
		json_decref(o.body);
		return;
	}
	if (!dc_parse_selectors(rq, rs, t.rt, &lsel, &fsel))
		goto out;
	dc_coll_range(t.rt->coll, t.rt->namespaced ? t.ns : NULL, &lo, &hi);
	if (hi > lo) {
		snap = malloc((hi - lo) * sizeof(*snap));
		uids = calloc(hi - lo, sizeof(*uids));
		if (!snap || !uids) {
			dc_resp_error(rs, 500, "InternalError", "out of memory");
			goto out;
		}
		for (i = lo; i < hi; i++) {
			dc_entry *e = t.rt->coll->arr[i];
			if (dc_obj_matches(t.rt, e->obj, NULL, lsel, fsel)) {
				uids[n] = strdup(e->obj->uid);
				snap[n++] = e;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && uids[i] && alive(s, snap[i], uids[i]))
			rc = dc_delete_entry_grace(s, snap[i], o.policy, o.dry, o.grace, NULL);
		free(uids[i]);
	}
	if (rc != 0)
		dc_resp_error(rs, 500, "InternalError", "the deletion could not be persisted: %s",
			peerop_error_last()->message);
	else
		dc_resp_json(rs, 200, json_pack("{s:s,s:s,s:{},s:s,s:{s:s}}", "kind", "Status", "apiVersion", "v1",
			"metadata", "status", "Success", "details", "kind", t.rt->plural));
out:
	pthread_mutex_unlock(&s->mu);
	free(snap);
	free(uids);
	dc_selector_free(lsel);
	dc_selector_free(fsel);
	json_decref(o.body);
}
