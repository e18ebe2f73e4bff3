/* rs_ctl.c: the ReplicaSet controller: keeps spec.replicas active pods
 * (created from the template with generateName "<rs>-", its labels, and a
 * controller ownerReference), deletes the surplus through the normal
 * DELETE (graceful when a kubelet runs them), and writes the status
 * (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration, the ReplicaFailure condition).
 *
 * It reads the store directly, which is always current, so the real
 * controller's "expectations" (its informer cache lagging its own
 * creates) are not needed. Orphan pods matching the selector are not
 * adopted. */
#include "controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "replicaset-controller"

typedef struct rsctx {
	dc_server *srv;
	json_t *rs;
	json_t *pods;        /* every pod the RS controls */
	const char *ns, *name;
	char *create_error;  /* the last failed create, for ReplicaFailure */
} rsctx;

/* Store locked: the ReplicaSet and the pods it controls, parsed. */
static json_t *read_rs(dc_store *s, const char *ns, const char *name, json_t **pods)
{
	const dc_rtype *rsrt = dc_rtype_find(s, "apps", "v1", "replicasets");
	const dc_rtype *podrt = dc_rtype_find(s, "", "v1", "pods");
	dc_entry *e = rsrt ? dc_coll_get(rsrt->coll, ns, name) : NULL, **deps;
	size_t n, i;
	json_t *rs;
	*pods = NULL;
	if (!e || !podrt)
		return NULL;
	rs = dc_obj_parse(e->obj);
	*pods = json_array();
	n = dc_store_dependents(s, e->obj->uid, &deps);
	for (i = 0; rs && *pods && i < n; i++) {
		json_t *p;
		const char *cu;
		if (deps[i]->coll != podrt->coll)
			continue;
		p = dc_obj_parse(deps[i]->obj);
		cu = dc_controller_uid(p);
		if (cu && !strcmp(cu, e->obj->uid))
			json_array_append_new(*pods, p);
		else
			json_decref(p);
	}
	return rs;
}

static void rs_event(rsctx *c, const char *type, const char *reason, const char *fmt, const char *arg)
{
	dc_evref ref;
	dc_evref_of(&ref, c->rs, "ReplicaSet", "apps/v1");
	dc_event_record(c->srv, COMPONENT, NULL, &ref, type, reason, fmt, arg);
}

static json_t *pod_from_template(rsctx *c)
{
	json_t *tmpl = dc_json_path(c->rs, "spec.template");
	json_t *tmeta = json_object_get(tmpl, "metadata");
	json_t *spec = json_object_get(tmpl, "spec");
	char gen[300];
	json_t *pod, *meta;
	snprintf(gen, sizeof(gen), "%.240s-", c->name);
	meta = json_pack("{s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]}", "generateName", gen, "namespace", c->ns,
		"ownerReferences", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", c->name,
		"uid", dc_json_str(c->rs, "metadata.uid"), "controller", 1, "blockOwnerDeletion", 1);
	if (json_is_object(json_object_get(tmeta, "labels")))
		json_object_set_new(meta, "labels", json_deep_copy(json_object_get(tmeta, "labels")));
	if (json_is_object(json_object_get(tmeta, "annotations")))
		json_object_set_new(meta, "annotations", json_deep_copy(json_object_get(tmeta, "annotations")));
	if (json_is_object(json_object_get(tmeta, "finalizers")))
		json_object_set_new(meta, "finalizers", json_deep_copy(json_object_get(tmeta, "finalizers")));
	pod = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", meta,
		"spec", json_is_object(spec) ? json_deep_copy(spec) : json_object());
	return pod;
}

static void create_pods(rsctx *c, long long count)
{
	long long i;
	for (i = 0; i < count; i++) {
		json_t *pod = pod_from_template(c), *reply = NULL;
		long code = pod ? dc_localf(c->srv, DC_AGENT_CONTROLLERS, "POST", pod, &reply,
			"/api/v1/namespaces/%s/pods", c->ns) : 500;
		if (code == 201) {
			rs_event(c, "Normal", "SuccessfulCreate", "Created pod: %s", dc_json_str(reply, "metadata.name"));
		} else {
			free(c->create_error);
			c->create_error = strdup(dc_local_message(reply));
			rs_event(c, "Warning", "FailedCreate", "Error creating: %s", dc_local_message(reply));
			json_decref(pod);
			json_decref(reply);
			return;
		}
		json_decref(pod);
		json_decref(reply);
	}
}

/* The real controller's deletion ranking (ActivePodsWithRanks): the pods
 * that cost least to lose go first. */
typedef struct ranked {
	json_t *pod;
	int assigned, phase, ready;
	time_t ready_since, created;
	long long restarts;
} ranked;

static int phase_rank(const char *p)
{
	if (!p || !strcmp(p, "Pending"))
		return 0;
	if (!strcmp(p, "Unknown"))
		return 1;
	return 2; /* Running */
}

static int rank_cmp(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->assigned != y->assigned)
		return x->assigned - y->assigned;
	if (x->phase != y->phase)
		return x->phase - y->phase;
	if (x->ready != y->ready)
		return x->ready - y->ready;
	if (x->ready && x->ready_since != y->ready_since)
		return x->ready_since > y->ready_since ? -1 : 1; /* ready for less time first */
	if (x->restarts != y->restarts)
		return x->restarts > y->restarts ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;      /* newer first */
	return 0;
}

static void delete_pods(rsctx *c, json_t *active, long long count)
{
	size_t n = json_array_size(active), i, j;
	ranked *r = calloc(n, sizeof(*r));
	if (!r)
		return;
	for (i = 0; i < n; i++) {
		json_t *p = json_array_get(active, i), *cs;
		r[i].pod = p;
		r[i].assigned = dc_json_str(p, "spec.nodeName") != NULL;
		r[i].phase = phase_rank(dc_json_str(p, "status.phase"));
		r[i].ready = dc_pod_ready(p, &r[i].ready_since);
		r[i].created = dc_obj_created(p);
		json_array_foreach(dc_json_path(p, "status.containerStatuses"), j, cs)
			r[i].restarts += dc_json_int(cs, "restartCount", 0);
	}
	qsort(r, n, sizeof(*r), rank_cmp);
	for (i = 0; i < n && (long long)i < count; i++) {
		const char *pname = dc_json_str(r[i].pod, "metadata.name");
		json_t *reply = NULL;
		long code = dc_localf(c->srv, DC_AGENT_CONTROLLERS, "DELETE", NULL, &reply,
			"/api/v1/namespaces/%s/pods/%s", c->ns, pname);
		if (code == 200 || code == 202)
			rs_event(c, "Normal", "SuccessfulDelete", "Deleted pod: %s", pname);
		else if (code != 404)
			rs_event(c, "Warning", "FailedDelete", "Error deleting: %s", dc_local_message(reply));
		json_decref(reply);
	}
	free(r);
}

static bool labels_cover(const json_t *pod, const json_t *want)
{
	const json_t *have = dc_json_path(pod, "metadata.labels");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want, k, v) {
		const char *h = json_string_value(json_object_get(have, k));
		if (!h || !json_is_string(v) || strcmp(h, json_string_value(v)))
			return false;
	}
	return true;
}

/* The status from the pods as they were read; 0 or ms to look again. */
static long write_status(rsctx *c, json_t *active)
{
	long long min_ready = dc_json_int(c->rs, "spec.minReadySeconds", 0);
	const json_t *tlabels = dc_json_path(c->rs, "spec.template.metadata.labels");
	json_t *st = json_object(), *old = json_object_get(c->rs, "status"), *conds, *p, *upd, *reply = NULL;
	long long ready = 0, avail = 0, labeled = 0;
	long again = 0, wait;
	time_t now = time(NULL);
	size_t i;
	long code;

	json_array_foreach(active, i, p) {
		if (!tlabels || labels_cover(p, tlabels))
			labeled++;
		if (dc_pod_ready(p, NULL))
			ready++;
		if (dc_pod_available(p, min_ready, now, &wait))
			avail++;
		else if (wait && (!again || wait < again))
			again = wait;
	}
	json_object_set_new(st, "replicas", json_integer((json_int_t)json_array_size(active)));
	json_object_set_new(st, "fullyLabeledReplicas", json_integer(labeled));
	json_object_set_new(st, "readyReplicas", json_integer(ready));
	json_object_set_new(st, "availableReplicas", json_integer(avail));
	json_object_set_new(st, "observedGeneration", json_integer(dc_json_int(c->rs, "metadata.generation", 1)));
	conds = json_array();
	if (c->create_error) {
		char ts[32];
		const json_t *prev = NULL, *x;
		json_array_foreach(json_object_get(old, "conditions"), i, x)
			if (!strcmp(dc_json_str(x, "type") ? dc_json_str(x, "type") : "", "ReplicaFailure"))
				prev = x;
		dc_now_rfc3339(ts, sizeof(ts));
		json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "ReplicaFailure",
			"status", "True", "lastTransitionTime", prev && dc_json_str(prev, "lastTransitionTime") ?
			dc_json_str(prev, "lastTransitionTime") : ts, "reason", "FailedCreate", "message", c->create_error));
	} else {
		/* keep conditions other than ReplicaFailure (set by someone else) */
		json_array_foreach(json_object_get(old, "conditions"), i, p)
			if (strcmp(dc_json_str(p, "type") ? dc_json_str(p, "type") : "", "ReplicaFailure"))
				json_array_append(conds, p);
	}
	if (json_array_size(conds))
		json_object_set_new(st, "conditions", conds);
	else
		json_decref(conds);
	if (json_equal(st, old)) {
		json_decref(st);
		return again;
	}
	upd = json_deep_copy(c->rs);
	json_object_set_new(upd, "status", st);
	code = dc_localf(c->srv, DC_AGENT_CONTROLLERS, "PUT", upd, &reply,
		"/apis/apps/v1/namespaces/%s/replicasets/%s/status", c->ns, c->name);
	json_decref(upd);
	json_decref(reply);
	if (code == 409)
		return 50;     /* changed under us: the event requeues it too */
	return again;
}

long dc_rs_sync(dc_server *srv, const char *ns, const char *name)
{
	dc_store *s = srv->store;
	rsctx c;
	json_t *active, *p;
	long long want, diff;
	size_t i;
	long again = 0;

	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.ns = ns;
	c.name = name;
	pthread_mutex_lock(&s->mu);
	c.rs = read_rs(s, ns, name, &c.pods);
	pthread_mutex_unlock(&s->mu);
	if (!c.rs || dc_json_path(c.rs, "metadata.deletionTimestamp")) {
		json_decref(c.rs);
		json_decref(c.pods);
		return 0;
	}
	active = json_array();
	json_array_foreach(c.pods, i, p)
		if (dc_pod_active(p))
			json_array_append(active, p);
	want = dc_json_int(c.rs, "spec.replicas", 1);
	diff = (long long)json_array_size(active) - want;
	if (diff < 0)
		create_pods(&c, -diff);
	else if (diff > 0)
		delete_pods(&c, active, diff);
	again = write_status(&c, active);
	if (c.create_error && (!again || again > 5000))
		again = 5000;   /* retry failed creates, as the real controller's rate limiter does */
	json_decref(active);
	json_decref(c.rs);
	json_decref(c.pods);
	free(c.create_error);
	return again;
}
