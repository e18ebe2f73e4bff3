/* deploy_ctl.c: the Deployment controller, after kube-controller-manager's
 * (pkg/controller/deployment): a Deployment owns ReplicaSets named
 * "<deployment>-<pod-template-hash>"; the one whose template equals the
 * Deployment's is the new one, the others are old. It
 *   - scales: a replicas change with one active ReplicaSet resizes it;
 *     with several (mid-rollout) it spreads the change in proportion to
 *     their sizes (the max-replicas annotation), the remainder to the
 *     largest;
 *   - rolls out: RollingUpdate creates the new ReplicaSet and moves pods
 *     over within maxSurge and maxUnavailable (default 25% each, surge
 *     rounded up, unavailable down); Recreate scales the old ones to 0,
 *     waits for their pods to be gone, then scales up the new one;
 *   - keeps history: revision annotations, at most revisionHistoryLimit
 *     old ReplicaSets at 0;
 *   - reports status: observedGeneration, replicas, updatedReplicas,
 *     readyReplicas, availableReplicas, unavailableReplicas, and the
 *     Available and Progressing conditions (with progressDeadlineSeconds),
 *     which `kubectl rollout status` and `kubectl wait` read.
 * Orphan ReplicaSets are not adopted; pod-template-hash is FNV-32a of the
 * template's canonical JSON (the real one hashes Go's printing of the
 * struct, so the values differ from a real cluster's). */
#include "controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "deployment-controller"

typedef struct dctx {
	dc_server *srv;
	json_t *d;
	const char *ns, *name, *uid;
	json_t *rss;           /* every ReplicaSet the Deployment controls */
	json_t *podcount;      /* RS name -> its pods not yet terminal (Recreate waits) */
	json_t *new_rs;        /* borrowed from rss, or NULL */
	json_t *olds;          /* the others */
	long long replicas, surge, unavail;
	json_t *progress;      /* a Progressing condition decided during this sync */
	long again;
} dctx;

/* ---- reading ---- */

static json_t *read_deploy(dc_store *s, dctx *c)
{
	const dc_rtype *drt = dc_rtype_find(s, "apps", "v1", "deployments");
	const dc_rtype *rsrt = dc_rtype_find(s, "apps", "v1", "replicasets");
	const dc_rtype *podrt = dc_rtype_find(s, "", "v1", "pods");
	dc_entry *e = drt ? dc_coll_get(drt->coll, c->ns, c->name) : NULL, **deps, **pdeps;
	size_t n, i, pn, j;
	if (!e || !rsrt || !podrt)
		return NULL;
	c->d = dc_obj_parse(e->obj);
	c->rss = json_array();
	c->podcount = json_object();
	n = dc_store_dependents(s, e->obj->uid, &deps);
	for (i = 0; i < n; i++) {
		json_t *rs;
		const char *cu;
		long long pods = 0;
		if (deps[i]->coll != rsrt->coll)
			continue;
		rs = dc_obj_parse(deps[i]->obj);
		cu = dc_controller_uid(rs);
		if (!cu || strcmp(cu, e->obj->uid)) {
			json_decref(rs);
			continue;
		}
		pn = dc_store_dependents(s, deps[i]->obj->uid, &pdeps);
		for (j = 0; j < pn; j++) {
			json_t *p;
			const char *phase;
			if (pdeps[j]->coll != podrt->coll)
				continue;
			p = dc_obj_parse(pdeps[j]->obj);
			phase = dc_json_str(p, "status.phase");
			if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
				pods++;
			json_decref(p);
		}
		json_object_set_new(c->podcount, deps[i]->obj->name, json_integer(pods));
		json_array_append_new(c->rss, rs);
	}
	return c->d;
}

/* ---- small helpers ---- */

static long long spec_replicas(const json_t *rs)
{
	return dc_json_int(rs, "spec.replicas", 0);
}

static long long status_int(const json_t *o, const char *field)
{
	const json_t *st = json_object_get(o, "status");
	return json_is_integer(json_object_get(st, field)) ? json_integer_value(json_object_get(st, field)) : 0;
}

static long long status_int_of(const json_t *st, const char *field)
{
	const json_t *v = json_object_get(st, field);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static long long ann_int(const json_t *o, const char *key, bool *ok)
{
	const char *v = dc_annotation(o, key);
	char *end;
	long long n;
	*ok = false;
	if (!v || !*v)
		return 0;
	n = strtoll(v, &end, 10);
	*ok = *end == '\0';
	return *ok ? n : 0;
}

static json_t *template_without_hash(const json_t *tmpl)
{
	json_t *t = json_deep_copy(tmpl);
	json_t *labels = dc_json_path(t, "metadata.labels");
	json_object_del(labels, DC_HASH_LABEL);
	if (labels && json_object_size(labels) == 0)
		json_object_del(json_object_get(t, "metadata"), "labels");
	return t;
}

/* FNV-32a of the canonical template (+ collisionCount, little-endian, as
 * the real hash), written with SafeEncodeString's alphabet. */
static void template_hash(const json_t *tmpl, long long collisions, bool has_collisions, char out[16])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	json_t *t = template_without_hash(tmpl);
	char *text = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	char num[16];
	size_t i;
	for (i = 0; text && text[i]; i++) {
		h ^= (unsigned char)text[i];
		h *= 16777619u;
	}
	if (has_collisions) {
		uint32_t cc = (uint32_t)collisions;
		for (i = 0; i < 4; i++) {
			h ^= (cc >> (8 * i)) & 0xffu;
			h *= 16777619u;
		}
	}
	free(text);
	json_decref(t);
	snprintf(num, sizeof(num), "%u", h);
	for (i = 0; num[i]; i++)
		out[i] = alphabet[(unsigned char)num[i] % (sizeof(alphabet) - 1)];
	out[i] = '\0';
}

static bool same_template(const json_t *rs, const json_t *d)
{
	json_t *a = template_without_hash(dc_json_path(rs, "spec.template"));
	json_t *b = template_without_hash(dc_json_path(d, "spec.template"));
	bool eq = json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return eq;
}

static void d_event(dctx *c, const char *type, const char *reason, const char *fmt, ...) PEEROP_FORMAT(4, 5);
static void d_event(dctx *c, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	dc_evref ref;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dc_evref_of(&ref, c->d, "Deployment", "apps/v1");
	dc_event_record(c->srv, COMPONENT, NULL, &ref, type, reason, "%s", msg);
}

static json_t *condition(const char *type, const char *status, const char *reason, const char *msg)
{
	char ts[32];
	dc_now_rfc3339(ts, sizeof(ts));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "lastUpdateTime", ts,
		"lastTransitionTime", ts, "reason", reason, "message", msg);
}

/* ---- writes ---- */

static bool is_rolling(const dctx *c)
{
	const char *t = dc_json_str(c->d, "spec.strategy.type");
	return !t || strcmp(t, "Recreate");
}

/* Resize rs (and refresh its desired/max annotations); true when its
 * size changed. */
static bool scale_rs(dctx *c, json_t *rs, long long to)
{
	long long from = spec_replicas(rs);
	char desired[24], maxr[24];
	bool ok1, ok2;
	long long ad = ann_int(rs, DC_DESIRED_ANN, &ok1), am = ann_int(rs, DC_MAX_ANN, &ok2);
	long long maxv = c->replicas + (is_rolling(c) ? c->surge : 0);
	json_t *patch, *reply = NULL;
	long code;
	if (to < 0)
		to = 0;
	if (from == to && ok1 && ad == c->replicas && ok2 && am == maxv)
		return false;
	snprintf(desired, sizeof(desired), "%lld", c->replicas);
	snprintf(maxr, sizeof(maxr), "%lld", maxv);
	patch = json_pack("{s:{s:{s:s,s:s}},s:{s:I}}", "metadata", "annotations", DC_DESIRED_ANN, desired,
		DC_MAX_ANN, maxr, "spec", "replicas", (json_int_t)to);
	code = dc_local_merge(c->srv, DC_AGENT_CONTROLLERS, patch, &reply,
		"/apis/apps/v1/namespaces/%s/replicasets/%s", c->ns, dc_json_str(rs, "metadata.name"));
	json_decref(patch);
	if (code != 200) {
		json_decref(reply);
		c->again = 1000;
		return false;
	}
	/* work on with what was stored */
	json_object_set(rs, "spec", json_object_get(reply, "spec"));
	json_object_set(rs, "metadata", json_object_get(reply, "metadata"));
	json_decref(reply);
	if (from != to) {
		d_event(c, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %lld to %lld",
			to > from ? "up" : "down", dc_json_str(rs, "metadata.name"), from, to);
		/* let the ReplicaSet act on it now, before this Deployment looks
		 * at its pods again (one thread runs both controllers) */
		dc_rs_sync(c->srv, c->ns, dc_json_str(rs, "metadata.name"));
	}
	return from != to;
}

static long long max_old_revision(const dctx *c)
{
	long long max = 0, r;
	json_t *rs;
	size_t i;
	bool ok;
	json_array_foreach(c->olds, i, rs) {
		r = ann_int(rs, DC_REVISION_ANN, &ok);
		if (ok && r > max)
			max = r;
	}
	return max;
}

static void set_deploy_revision(dctx *c, long long rev)
{
	char v[24];
	bool ok;
	json_t *patch;
	if (ann_int(c->d, DC_REVISION_ANN, &ok) == rev && ok)
		return;
	snprintf(v, sizeof(v), "%lld", rev);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", DC_REVISION_ANN, v);
	dc_local_merge(c->srv, DC_AGENT_CONTROLLERS, patch, NULL, "/apis/apps/v1/namespaces/%s/deployments/%s",
		c->ns, c->name);
	json_decref(patch);
}

/* The new ReplicaSet's revision is one past the old ones'. */
static void update_new_revision(dctx *c)
{
	long long want = max_old_revision(c) + 1, have;
	bool ok;
	char v[24];
	json_t *patch;
	have = ann_int(c->new_rs, DC_REVISION_ANN, &ok);
	if (!ok || have < want) {
		snprintf(v, sizeof(v), "%lld", want);
		patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", DC_REVISION_ANN, v);
		if (dc_local_merge(c->srv, DC_AGENT_CONTROLLERS, patch, NULL, "/apis/apps/v1/namespaces/%s/replicasets/%s",
			c->ns, dc_json_str(c->new_rs, "metadata.name")) == 200)
			have = want;
		json_decref(patch);
	}
	set_deploy_revision(c, ok || have == want ? have : want);
	if (!c->progress && !dc_json_path(c->d, "status.conditions")) {
		char msg[400];
		snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", dc_json_str(c->new_rs, "metadata.name"));
		c->progress = condition("Progressing", "True", "ReplicaSetUpdated", msg);
	}
}

/* How many pods the new ReplicaSet may have now (NewRSNewReplicas). */
static long long new_rs_target(const dctx *c, long long new_now)
{
	long long total = 0, max_total, up;
	json_t *rs;
	size_t i;
	if (!is_rolling(c))
		return c->replicas;
	json_array_foreach(c->olds, i, rs)
		total += spec_replicas(rs);
	total += new_now;
	max_total = c->replicas + c->surge;
	if (total >= max_total)
		return new_now;
	up = max_total - total;
	if (up > c->replicas - new_now)
		up = c->replicas - new_now;
	return new_now + up;
}

static bool create_new_rs(dctx *c)
{
	char hash[16], name[320], rev[24], desired[24], maxr[24];
	long long cc = dc_json_int(c->d, "status.collisionCount", 0);
	bool has_cc = dc_json_path(c->d, "status.collisionCount") != NULL;
	json_t *tmpl = json_deep_copy(dc_json_path(c->d, "spec.template")), *sel, *rs, *reply = NULL, *labels;
	long long replicas = new_rs_target(c, 0);
	long code;

	template_hash(dc_json_path(c->d, "spec.template"), cc, has_cc, hash);
	snprintf(name, sizeof(name), "%.240s-%s", c->name, hash);
	snprintf(rev, sizeof(rev), "%lld", max_old_revision(c) + 1);
	snprintf(desired, sizeof(desired), "%lld", c->replicas);
	snprintf(maxr, sizeof(maxr), "%lld", c->replicas + (is_rolling(c) ? c->surge : 0));
	if (!json_is_object(tmpl))
		tmpl = json_object();
	labels = dc_json_path(tmpl, "metadata.labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		dc_json_set_path(tmpl, "metadata.labels", labels);
	}
	json_object_set_new(labels, DC_HASH_LABEL, json_string(hash));
	sel = json_deep_copy(dc_json_path(c->d, "spec.selector"));
	if (!json_is_object(sel))
		sel = json_object();
	dc_json_set_path(sel, "matchLabels." DC_HASH_LABEL, json_string(hash));
	rs = json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:{s:s,s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},"
		"s:{s:I,s:I,s:o,s:o}}",
		"apiVersion", "apps/v1", "kind", "ReplicaSet",
		"metadata", "name", name, "namespace", c->ns, "labels", labels,
		"annotations", DC_REVISION_ANN, rev, DC_DESIRED_ANN, desired, DC_MAX_ANN, maxr,
		"ownerReferences", "apiVersion", "apps/v1", "kind", "Deployment", "name", c->name, "uid", c->uid,
		"controller", 1, "blockOwnerDeletion", 1,
		"spec", "replicas", (json_int_t)replicas, "minReadySeconds",
		(json_int_t)dc_json_int(c->d, "spec.minReadySeconds", 0), "selector", sel, "template", tmpl);
	code = rs ? dc_localf(c->srv, DC_AGENT_CONTROLLERS, "POST", rs, &reply,
		"/apis/apps/v1/namespaces/%s/replicasets", c->ns) : 500;
	json_decref(rs);
	if (code == 409 && !strcmp(json_string_value(json_object_get(reply, "reason")) ?
		json_string_value(json_object_get(reply, "reason")) : "", "AlreadyExists")) {
		/* a ReplicaSet of that name that is not ours (or another
		 * template): count a collision, which changes the hash */
		json_t *patch = json_pack("{s:{s:I}}", "status", "collisionCount", (json_int_t)cc + 1);
		dc_local_merge(c->srv, DC_AGENT_CONTROLLERS, patch, NULL,
			"/apis/apps/v1/namespaces/%s/deployments/%s/status", c->ns, c->name);
		json_decref(patch);
		json_decref(reply);
		c->again = 100;
		return false;
	}
	if (code != 201) {
		d_event(c, "Warning", "FailedCreate", "Failed to create new replica set \"%s\": %s", name,
			dc_local_message(reply));
		json_decref(reply);
		c->again = 5000;
		return false;
	}
	json_array_append_new(c->rss, reply);
	c->new_rs = reply;
	json_object_set_new(c->podcount, name, json_integer(0));
	{
		char msg[400];
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", name);
		json_decref(c->progress);
		c->progress = condition("Progressing", "True", "NewReplicaSetCreated", msg);
	}
	if (replicas > 0)
		d_event(c, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %lld", name, replicas);
	set_deploy_revision(c, max_old_revision(c) + 1);
	return true;
}

/* ---- scaling (a replicas change, not a template change) ---- */

static bool is_active(const json_t *rs)
{
	return spec_replicas(rs) > 0;
}

/* Some active ReplicaSet was sized for another replicas count. */
static bool scaling_event(const dctx *c)
{
	json_t *rs;
	size_t i;
	bool ok;
	json_array_foreach(c->rss, i, rs) {
		long long want;
		if (rs != c->new_rs && !is_active(rs))
			continue;
		want = ann_int(rs, DC_DESIRED_ANN, &ok);
		if (ok && want != c->replicas)
			return true;
	}
	return false;
}

typedef struct sized {
	json_t *rs;
	long long size;
	time_t created;
} sized;

static int by_size_newer(const void *a, const void *b)
{
	const sized *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->created > y->created ? -1 : x->created < y->created ? 1 : 0;
}

static int by_size_older(const void *a, const void *b)
{
	const sized *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->created < y->created ? -1 : x->created > y->created ? 1 : 0;
}

/* The share of a scaling that falls to rs (getProportion). */
static long long proportion(const dctx *c, const json_t *rs, long long to_add, long long added)
{
	long long size = spec_replicas(rs), annotated, fraction, allowed;
	bool ok;
	if (size == 0 || to_add == 0 || to_add == added)
		return 0;
	if (c->replicas == 0) {
		fraction = -size;
	} else {
		annotated = ann_int(rs, DC_MAX_ANN, &ok);
		if (!ok || annotated <= 0)
			annotated = status_int(c->d, "replicas");
		fraction = annotated > 0 ? (long long)((double)(size * (c->replicas + c->surge)) / (double)annotated + 0.5) - size
			: 0;
	}
	allowed = to_add - added;
	if (to_add > 0)
		return fraction < allowed ? fraction : allowed;
	return fraction > allowed ? fraction : allowed;
}

static void scale(dctx *c)
{
	json_t *rs, *active = json_array(), *latest = NULL;
	size_t i, n;
	sized *v;
	long long total = 0, allowed, to_add, added = 0;

	json_array_foreach(c->rss, i, rs) {
		if (is_active(rs))
			json_array_append(active, rs);
		if (rs != c->new_rs && (!latest || dc_obj_created(rs) > dc_obj_created(latest)))
			latest = rs;
	}
	n = json_array_size(active);
	if (n <= 1) {
		json_t *target = n == 1 ? json_array_get(active, 0) : c->new_rs ? c->new_rs : latest;
		if (target)
			scale_rs(c, target, c->replicas);
		json_decref(active);
		return;
	}
	/* the new one is saturated: the old ones go */
	if (c->new_rs && spec_replicas(c->new_rs) == c->replicas &&
	    status_int(c->new_rs, "availableReplicas") == c->replicas) {
		json_array_foreach(active, i, rs)
			if (rs != c->new_rs)
				scale_rs(c, rs, 0);
		json_decref(active);
		return;
	}
	if (!is_rolling(c)) {
		json_decref(active);
		return;
	}
	v = calloc(n, sizeof(*v));
	if (!v) {
		json_decref(active);
		return;
	}
	json_array_foreach(active, i, rs) {
		v[i].rs = rs;
		v[i].size = spec_replicas(rs);
		v[i].created = dc_obj_created(rs);
		total += v[i].size;
	}
	allowed = c->replicas > 0 ? c->replicas + c->surge : 0;
	to_add = allowed - total;
	qsort(v, n, sizeof(*v), to_add > 0 ? by_size_newer : by_size_older);
	for (i = 0; i < n; i++) {
		long long p = to_add ? proportion(c, v[i].rs, to_add, added) : 0;
		v[i].size += p;
		added += p;
	}
	if (to_add)
		v[0].size += to_add - added;
	for (i = 0; i < n; i++)
		scale_rs(c, v[i].rs, v[i].size < 0 ? 0 : v[i].size);
	free(v);
	json_decref(active);
}

/* ---- rollouts ---- */

static long long sum_spec(json_t *arr)
{
	long long n = 0;
	json_t *rs;
	size_t i;
	json_array_foreach(arr, i, rs)
		n += spec_replicas(rs);
	return n;
}

/* reconcileOldReplicaSets: scale the old ones down as far as
 * maxUnavailable allows, unhealthy pods first. */
static bool scale_down_old(dctx *c)
{
	long long all = sum_spec(c->rss), old = sum_spec(c->olds), min_avail = c->replicas - c->unavail;
	long long new_unavail = c->new_rs ? spec_replicas(c->new_rs) - status_int(c->new_rs, "availableReplicas") : 0;
	long long max_down = all - min_avail - new_unavail, done = 0, available = 0, total;
	bool changed = false;
	json_t *rs;
	size_t i;
	if (old == 0 || max_down <= 0)
		return false;
	dc_sort_by_age(c->olds, false);
	/* unhealthy replicas of old ReplicaSets can go at once */
	json_array_foreach(c->olds, i, rs) {
		long long size = spec_replicas(rs), unhealthy = size - status_int(rs, "availableReplicas"), cut;
		if (done >= max_down)
			break;
		if (size == 0 || unhealthy <= 0)
			continue;
		cut = max_down - done < unhealthy ? max_down - done : unhealthy;
		changed |= scale_rs(c, rs, size - cut);
		done += cut;
	}
	max_down -= done;
	if (max_down <= 0)
		return changed;
	/* then healthy ones, keeping minAvailable available */
	json_array_foreach(c->rss, i, rs)
		available += status_int(rs, "availableReplicas");
	if (available <= min_avail)
		return changed;
	total = available - min_avail;
	done = 0;
	json_array_foreach(c->olds, i, rs) {
		long long size = spec_replicas(rs), cut;
		if (done >= total)
			break;
		if (size == 0)
			continue;
		cut = size < total - done ? size : total - done;
		changed |= scale_rs(c, rs, size - cut);
		done += cut;
	}
	return changed;
}

static bool rollout_rolling(dctx *c)
{
	long long size, target;
	if (!c->new_rs && !create_new_rs(c))
		return true;
	size = spec_replicas(c->new_rs);
	if (size > c->replicas)
		target = c->replicas;
	else
		target = new_rs_target(c, size);
	if (target != size && scale_rs(c, c->new_rs, target))
		return true;
	return scale_down_old(c);
}

static bool old_pods_running(const dctx *c)
{
	json_t *rs;
	size_t i;
	json_array_foreach(c->olds, i, rs) {
		const char *n = dc_json_str(rs, "metadata.name");
		if (status_int(rs, "replicas") > 0 || json_integer_value(json_object_get(c->podcount, n ? n : "")) > 0) {
					return true;
		}
	}
	return false;
}

static bool rollout_recreate(dctx *c)
{
	json_t *rs;
	size_t i;
	bool changed = false;
	json_array_foreach(c->olds, i, rs)
		if (is_active(rs))
			changed |= scale_rs(c, rs, 0);
	if (changed)
		return true;
	if (old_pods_running(c)) {
		c->again = 0;      /* pod events bring us back */
		return true;
	}
	if (!c->new_rs && !create_new_rs(c))
		return true;
	return scale_rs(c, c->new_rs, c->replicas);
}

/* Old ReplicaSets at 0 beyond revisionHistoryLimit go, oldest revision first. */
static void cleanup(dctx *c)
{
	long long limit = dc_json_int(c->d, "spec.revisionHistoryLimit", 10), excess;
	json_t *cand = json_array(), *rs;
	size_t i;
	json_array_foreach(c->olds, i, rs)
		if (!dc_json_path(rs, "metadata.deletionTimestamp"))
			json_array_append(cand, rs);
	excess = (long long)json_array_size(cand) - limit;
	dc_sort_by_age(cand, false);
	for (i = 0; excess > 0 && i < json_array_size(cand); i++) {
		rs = json_array_get(cand, i);
		if (spec_replicas(rs) || status_int(rs, "replicas") ||
		    dc_json_int(rs, "metadata.generation", 1) > status_int(rs, "observedGeneration"))
			continue;
		dc_localf(c->srv, DC_AGENT_CONTROLLERS, "DELETE", NULL, NULL, "/apis/apps/v1/namespaces/%s/replicasets/%s",
			c->ns, dc_json_str(rs, "metadata.name"));
		excess--;
	}
	json_decref(cand);
}

/* ---- status ---- */

static json_t *find_cond(const json_t *status, const char *type)
{
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(status, "conditions"), i, c) {
		const char *t = dc_json_str(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

/* SetDeploymentCondition: the same status and reason changes nothing
 * (unless force: progress refreshes lastUpdateTime); the same status keeps
 * lastTransitionTime. Steals cond. */
static void set_cond(json_t *status, json_t *cond, bool force)
{
	json_t *conds = json_object_get(status, "conditions"), *cur = find_cond(status, dc_json_str(cond, "type"));
	size_t i;
	if (cur) {
		const char *cs = dc_json_str(cur, "status"), *cr = dc_json_str(cur, "reason");
		if (!force && cs && cr && !strcmp(cs, dc_json_str(cond, "status")) &&
		    !strcmp(cr, dc_json_str(cond, "reason"))) {
			json_decref(cond);
			return;
		}
		if (cs && !strcmp(cs, dc_json_str(cond, "status")) && dc_json_str(cur, "lastTransitionTime"))
			json_object_set(cond, "lastTransitionTime", json_object_get(cur, "lastTransitionTime"));
		for (i = 0; i < json_array_size(conds); i++)
			if (json_array_get(conds, i) == cur) {
				json_array_set_new(conds, i, cond);
				return;
			}
	}
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	json_array_append_new(conds, cond);
}

static bool complete(const dctx *c, const json_t *st)
{
	return status_int_of(st, "updatedReplicas") == c->replicas && status_int_of(st, "replicas") == c->replicas &&
		status_int_of(st, "availableReplicas") == c->replicas &&
		status_int_of(st, "observedGeneration") >= dc_json_int(c->d, "metadata.generation", 1);
}

static bool progressing(const json_t *old, const json_t *st)
{
	long long old_old = status_int_of(old, "replicas") - status_int_of(old, "updatedReplicas");
	long long new_old = status_int_of(st, "replicas") - status_int_of(st, "updatedReplicas");
	return status_int_of(st, "updatedReplicas") > status_int_of(old, "updatedReplicas") || new_old < old_old ||
		status_int_of(st, "readyReplicas") > status_int_of(old, "readyReplicas") ||
		status_int_of(st, "availableReplicas") > status_int_of(old, "availableReplicas");
}

static void progress_cond(dctx *c, json_t *st, const json_t *old)
{
	long long deadline = dc_json_int(c->d, "spec.progressDeadlineSeconds", -1);
	bool paused = json_is_true(dc_json_path(c->d, "spec.paused"));
	const char *subject = c->new_rs ? "ReplicaSet" : "Deployment";
	const char *sname = c->new_rs ? dc_json_str(c->new_rs, "metadata.name") : c->name;
	json_t *cur;
	const char *reason;
	char msg[512];
	time_t updated, now = time(NULL);

	if (c->progress) {
		set_cond(st, c->progress, false);
		c->progress = NULL;
	}
	cur = find_cond(st, "Progressing");
	reason = cur ? dc_json_str(cur, "reason") : NULL;
	if (paused) {
		if (!reason || strcmp(reason, "DeploymentPaused"))
			set_cond(st, condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"), false);
		return;
	}
	if (reason && !strcmp(reason, "DeploymentPaused"))
		set_cond(st, condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"), false);
	if (deadline < 0) {
		/* no deadline, no Progressing condition */
		json_t *conds = json_object_get(st, "conditions");
		size_t i;
		for (i = 0; i < json_array_size(conds); i++)
			if (!strcmp(dc_json_str(json_array_get(conds, i), "type"), "Progressing"))
				json_array_remove(conds, i--);
		return;
	}
	cur = find_cond(st, "Progressing");
	reason = cur ? dc_json_str(cur, "reason") : NULL;
	if (status_int_of(st, "replicas") == status_int_of(st, "updatedReplicas") && reason &&
	    !strcmp(reason, "NewReplicaSetAvailable"))
		return;
	if (complete(c, st)) {
		snprintf(msg, sizeof(msg), "%s \"%s\" has successfully progressed.", subject, sname);
		set_cond(st, condition("Progressing", "True", "NewReplicaSetAvailable", msg), false);
		return;
	}
	if (progressing(old, st)) {
		snprintf(msg, sizeof(msg), "%s \"%s\" is progressing.", subject, sname);
		set_cond(st, condition("Progressing", "True", "ReplicaSetUpdated", msg), true);
	} else if (cur && reason && strcmp(reason, "ProgressDeadlineExceeded") &&
	    dc_parse_time(dc_json_str(cur, "lastUpdateTime"), &updated) && updated + deadline < now) {
		snprintf(msg, sizeof(msg), "%s \"%s\" has timed out progressing.", subject, sname);
		set_cond(st, condition("Progressing", "False", "ProgressDeadlineExceeded", msg), false);
	}
	/* look again when the deadline passes (requeueStuckDeployment) */
	cur = find_cond(st, "Progressing");
	if (cur && !strcmp(dc_json_str(cur, "status"), "True") &&
	    dc_parse_time(dc_json_str(cur, "lastUpdateTime"), &updated)) {
		long ms = (long)(updated + deadline - now + 1) * 1000L;
		if (ms < 1000)
			ms = 1000;
		if (!c->again || ms < c->again)
			c->again = ms;
	}
}

static void sync_status(dctx *c)
{
	const json_t *old = json_object_get(c->d, "status");
	json_t *st = json_object(), *rs, *upd, *conds;
	long long avail = 0, total = 0, actual = 0, ready = 0, unavail, min_avail;
	size_t i;
	long code;

	json_array_foreach(c->rss, i, rs) {
		avail += status_int(rs, "availableReplicas");
		total += spec_replicas(rs);
		actual += status_int(rs, "replicas");
		ready += status_int(rs, "readyReplicas");
	}
	unavail = total - avail;
	json_object_set_new(st, "observedGeneration", json_integer(dc_json_int(c->d, "metadata.generation", 1)));
	json_object_set_new(st, "replicas", json_integer(actual));
	json_object_set_new(st, "updatedReplicas", json_integer(c->new_rs ? status_int(c->new_rs, "replicas") : 0));
	json_object_set_new(st, "readyReplicas", json_integer(ready));
	json_object_set_new(st, "availableReplicas", json_integer(avail));
	json_object_set_new(st, "unavailableReplicas", json_integer(unavail < 0 ? 0 : unavail));
	if (json_object_get(old, "collisionCount"))
		json_object_set(st, "collisionCount", json_object_get(old, "collisionCount"));
	conds = json_deep_copy(json_object_get(old, "conditions"));
	json_object_set_new(st, "conditions", json_is_array(conds) ? conds : json_array());
	if (conds && !json_is_array(conds))
		json_decref(conds);
	min_avail = c->replicas - (is_rolling(c) ? c->unavail : 0);
	if (avail >= min_avail)
		set_cond(st, condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
			false);
	else
		set_cond(st, condition("Available", "False", "MinimumReplicasUnavailable",
			"Deployment does not have minimum availability."), false);
	progress_cond(c, st, old);
	if (json_array_size(json_object_get(st, "conditions")) == 0)
		json_object_del(st, "conditions");
	if (json_equal(st, old)) {
		json_decref(st);
		return;
	}
	upd = json_deep_copy(c->d);
	json_object_set_new(upd, "status", st);
	code = dc_localf(c->srv, DC_AGENT_CONTROLLERS, "PUT", upd, NULL,
		"/apis/apps/v1/namespaces/%s/deployments/%s/status", c->ns, c->name);
	json_decref(upd);
	if (code == 409)
		c->again = 50;
}

/* ---- the sync ---- */

long dc_deploy_sync(dc_server *srv, const char *ns, const char *name)
{
	dc_store *s = srv->store;
	dctx c;
	json_t *rs;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.ns = ns;
	c.name = name;
	pthread_mutex_lock(&s->mu);
	read_deploy(s, &c);
	pthread_mutex_unlock(&s->mu);
	if (!c.d || dc_json_path(c.d, "metadata.deletionTimestamp"))
		goto out;
	c.uid = dc_json_str(c.d, "metadata.uid");
	c.replicas = dc_json_int(c.d, "spec.replicas", 1);
	/* absent parameters take the defaults, 25% each */
	c.surge = dc_intstr_scaled(dc_json_path(c.d, "spec.strategy.rollingUpdate.maxSurge"), c.replicas, true,
		(c.replicas * 25 + 99) / 100);
	c.unavail = dc_intstr_scaled(dc_json_path(c.d, "spec.strategy.rollingUpdate.maxUnavailable"), c.replicas,
		false, c.replicas * 25 / 100);
	if (c.surge < 0)
		c.surge = 0;
	if (c.unavail < 0)
		c.unavail = 0;
	if (c.unavail > c.replicas)
		c.unavail = c.replicas;
	if (c.surge == 0 && c.unavail == 0)
		c.unavail = 1;
	c.olds = json_array();
	json_array_foreach(c.rss, i, rs) {
		if (!c.new_rs && same_template(rs, c.d))
			c.new_rs = rs;
		else
			json_array_append(c.olds, rs);
	}
	if (c.new_rs)
		update_new_revision(&c);
	if (json_is_true(dc_json_path(c.d, "spec.paused"))) {
		if (scaling_event(&c))
			scale(&c);
	} else if (scaling_event(&c)) {
		scale(&c);
	} else if (is_rolling(&c) ? !rollout_rolling(&c) : !rollout_recreate(&c)) {
		if (c.new_rs && spec_replicas(c.new_rs) == c.replicas &&
		    status_int(c.new_rs, "availableReplicas") == c.replicas && old_pods_running(&c) == false)
			cleanup(&c);
	}
	sync_status(&c);
out:
	json_decref(c.progress);
	json_decref(c.olds);
	json_decref(c.rss);
	json_decref(c.podcount);
	json_decref(c.d);
	return c.again;
}
