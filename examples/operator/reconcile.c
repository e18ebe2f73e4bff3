/*
 * reconcile.c: peerop-operator's reconcile function: make an HTTPServer's
 * ConfigMap, Deployment and Services match its spec and its pods, then
 * report what is true in its status.
 *
 * Called with a key whenever the HTTPServer, something it owns, or one of
 * its pods changes; it works from the caches' current state, never from
 * an event, so running it twice changes nothing the second time. It
 * writes only what differs from the caches (a scale to 1000 would
 * otherwise send thousands of no-op applies), and a peers ConfigMap at
 * most once per peers_coalesce_ms: the changes in between are coalesced
 * into one write at the end of the window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "operator.h"

int op_state_init(op_state *st)
{
	st->writes = NULL;
	return pthread_mutex_init(&st->lock, NULL) ? PEEROP_ERROR : 0;
}

void op_state_dispose(op_state *st)
{
	op_write_time *w, *next;

	for (w = st->writes; w; w = next) {
		next = w->next;
		free(w->key);
		free(w);
	}
	st->writes = NULL;
	pthread_mutex_destroy(&st->lock);
}

static unsigned long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

/* When key's ConfigMap was last written (0: not in this process's life);
 * with set, record now. forget: drop the entry. */
static unsigned long long write_time(op_state *st, const char *key, int set, int forget)
{
	op_write_time **pw, *w;
	unsigned long long at = 0;

	pthread_mutex_lock(&st->lock);
	for (pw = &st->writes; *pw && strcmp((*pw)->key, key); pw = &(*pw)->next)
		;
	w = *pw;
	if (w && forget) {
		*pw = w->next;
		free(w->key);
		free(w);
		w = NULL;
	} else if (set) {
		if (!w && (w = calloc(1, sizeof(*w))) && !(w->key = strdup(key))) {
			free(w);
			w = NULL;
		} else if (w && !*pw) {
			*pw = w;
		}
		if (w)
			w->at_ms = now_ms();
	} else if (w) {
		at = w->at_ms;
	}
	pthread_mutex_unlock(&st->lock);
	return at;
}

static long long status_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(obj, "status"), key));
}

/* The Deployment's condition of type, or NULL. */
static const json_t *deploy_condition(const json_t *deploy, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(deploy, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* What reconcile found, for the status. */
typedef struct outcome {
	const json_t *deploy;    /* the cached Deployment, or NULL */
	json_t *members;         /* the peer list given to the servers, or NULL: unchanged */
	unsigned long long peers_due_ms;  /* a changed list waits this long (coalescing); 0: none */
	long long peers_now;     /* servers in the current list (written or not); -1: unknown */
	char failure[512];       /* an API error of this run, "" if none */
} outcome;

static json_t *compute_status(const op_spec *s, const json_t *old_status, const outcome *o)
{
	json_t *st = old_status ? json_deep_copy(old_status) : json_object(), *conds;
	const json_t *d = o->deploy, *stalled = deploy_condition(d, "Progressing"),
		*failed = deploy_condition(d, "ReplicaFailure");
	long long ready = d ? status_int(d, "readyReplicas") : 0;
	long long have = d ? status_int(d, "replicas") : 0;
	long long updated = d ? status_int(d, "updatedReplicas") : 0;
	int rolled = d && status_int(d, "observedGeneration") >=
		json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation"));
	char msg[600], *sel = op_selector(s->name);
	const char *reason;

	if (!st || !sel) {
		json_decref(st);
		free(sel);
		return NULL;
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds))
		json_object_set_new(st, "conditions", conds = json_array());

	if (s->invalid[0]) {
		/* nothing was changed: the servers run the last valid spec */
		snprintf(msg, sizeof(msg), "%s; the servers keep running the last valid spec", s->invalid);
		peerop_condition_set(conds, "Ready", "False", "InvalidSpec", msg, s->generation, 0);
		peerop_condition_set(conds, "Progressing", "False", "InvalidSpec", msg, s->generation, 0);
		peerop_condition_set(conds, "Degraded", "True", "InvalidSpec", msg, s->generation, 0);
	} else {
		int done = rolled && ready == s->replicas && have == s->replicas && updated == s->replicas;
		if (done && o->peers_now != s->replicas && !o->peers_due_ms) {
			/* the pod cache has not caught up with the Deployment yet */
			snprintf(msg, sizeof(msg), "%lld of %lld servers ready; %lld in the pods' peer list", ready,
				s->replicas, o->peers_now);
			peerop_condition_set(conds, "Ready", "False", "PeerListPending", msg, s->generation, 0);
			peerop_condition_set(conds, "Progressing", "True", "PeerListPending", msg, s->generation, 0);
		} else if (done && o->peers_due_ms) {
			/* Ready promises a current peer list: not while one waits */
			snprintf(msg, sizeof(msg), "%lld of %lld servers ready; their new peer list is written in %llu ms",
				ready, s->replicas, o->peers_due_ms);
			peerop_condition_set(conds, "Ready", "False", "PeerListPending", msg, s->generation, 0);
			peerop_condition_set(conds, "Progressing", "True", "PeerListPending", msg, s->generation, 0);
		} else if (done) {
			snprintf(msg, sizeof(msg), "%lld of %lld servers ready", ready, s->replicas);
			peerop_condition_set(conds, "Ready", "True", "AllReplicasReady", msg, s->generation, 0);
			peerop_condition_set(conds, "Progressing", "False", "Complete", msg, s->generation, 0);
		} else {
			reason = !d || !rolled ? "Updating" : have < s->replicas ? "ScalingUp" : have > s->replicas ?
				"ScalingDown" : updated < s->replicas ? "RollingUpdate" : "ReplicasNotReady";
			snprintf(msg, sizeof(msg), "%lld of %lld servers ready%s", ready, s->replicas,
				rolled ? "" : "; the Deployment has not caught up with the spec yet");
			peerop_condition_set(conds, "Ready", "False", reason, msg, s->generation, 0);
			peerop_condition_set(conds, "Progressing", "True", reason, msg, s->generation, 0);
		}
		if (o->failure[0]) {
			peerop_condition_set(conds, "Degraded", "True", "ApplyFailed", o->failure, s->generation, 0);
		} else if (stalled && !strcmp(str(stalled, "status"), "False")) {
			snprintf(msg, sizeof(msg), "Deployment %s: %s", s->name, str(stalled, "message"));
			peerop_condition_set(conds, "Degraded", "True", *str(stalled, "reason") ? str(stalled, "reason") :
				"ProgressDeadlineExceeded", msg, s->generation, 0);
		} else if (failed && !strcmp(str(failed, "status"), "True")) {
			snprintf(msg, sizeof(msg), "Deployment %s: %s", s->name, str(failed, "message"));
			peerop_condition_set(conds, "Degraded", "True", "ReplicaFailure", msg, s->generation, 0);
		} else {
			peerop_condition_set(conds, "Degraded", "False", "AsExpected", "", s->generation, 0);
		}
		json_object_set_new(st, "image", json_string(s->image));
	}
	if (o->members)
		json_object_set_new(st, "peers", json_pack("{s:I, s:O}", "count",
			(json_int_t)json_array_size(o->members), "members", o->members));
	json_object_set_new(st, "replicas", json_integer(have));
	json_object_set_new(st, "readyReplicas", json_integer(ready));
	json_object_set_new(st, "selector", json_string(sel));
	json_object_set_new(st, "observedGeneration", json_integer(s->generation));
	free(sel);
	return st;
}

/* Apply intent (stolen) unless the cache shows it is there already.
 * An error is kept in o->failure for the status. */
static int ensure(peerop_controller *c, const peerop_kube_resource *res, json_t *intent, const char *kind,
	outcome *o)
{
	json_t *live = NULL;
	const char *name = json_string_value(json_object_get(json_object_get(intent, "metadata"), "name"));
	const char *ns = json_string_value(json_object_get(json_object_get(intent, "metadata"), "namespace"));
	int rc;

	if (!intent)
		return PEEROP_ENOMEM;
	if (peerop_informer_get(&live, peerop_controller_cache(c, res), ns, name) == 0 && op_satisfied(live, intent)) {
		json_decref(live);
		json_decref(intent);
		return 0;
	}
	json_decref(live);
	rc = peerop_controller_apply(NULL, c, res, intent, NULL);
	if (rc < 0 && !o->failure[0])
		snprintf(o->failure, sizeof(o->failure), "applying %s %s: %s", kind, name ? name : "?",
			peerop_error_last()->message);
	json_decref(intent);
	return rc;
}

/* The peers ConfigMap: written when its content differs, at most once
 * per coalescing window. */
static int ensure_peers(peerop_controller *c, op_state *st, const op_spec *s, const json_t *hs,
	const json_t *pods, outcome *o, peerop_reconcile_result *result)
{
	char *peers = NULL, key[600], cmname[300];
	json_t *intent, *live = NULL, *members = NULL;
	unsigned long long last, now, window = st->cfg.peers_coalesce_ms;
	int rc;

	if ((rc = op_peers_json(&peers, &members, pods, s->port)) < 0)
		return rc;
	o->peers_now = (long long)json_array_size(members);
	intent = op_peers_configmap(s, hs, peers);
	peerop_free(peers);
	if (!intent) {
		json_decref(members);
		return PEEROP_ENOMEM;
	}
	snprintf(cmname, sizeof(cmname), "%s" OP_PEERS_SUFFIX, s->name);
	snprintf(key, sizeof(key), "%s/%s", s->ns, s->name);
	if (peerop_informer_get(&live, peerop_controller_cache(c, &OP_CONFIGMAPS), s->ns, cmname) == 0) {
		if (op_satisfied(live, intent)) {
			json_decref(live);
			json_decref(intent);
			o->members = members;
			return 0;
		}
		/* it exists: servers have a list; the next can wait for the window */
		last = write_time(st, key, 0, 0);
		now = now_ms();
		if (window && last && now - last < window) {
			result->requeue_after_ms = o->peers_due_ms = window - (now - last);
			json_decref(live);
			json_decref(intent);
			json_decref(members);
			return 0;
		}
	}
	json_decref(live);
	if ((rc = ensure(c, &OP_CONFIGMAPS, intent, "ConfigMap", o)) == 0) {
		write_time(st, key, 1, 0);
		o->members = members;
		peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "%s: peer list of %zu servers written", key,
			json_array_size(members));
	} else {
		json_decref(members);
	}
	return rc;
}

/* The HTTPServer's pods (the instance index spans namespaces). */
static json_t *pods_of(peerop_controller *c, const char *ns, const char *name)
{
	json_t *pods = NULL;
	size_t i = 0;

	if (peerop_informer_by_index(&pods, peerop_controller_cache(c, &OP_PODS), "instance", name) != 0)
		return NULL;
	while (i < json_array_size(pods)) {
		const char *pns = json_string_value(json_object_get(json_object_get(json_array_get(pods, i),
			"metadata"), "namespace"));
		if (pns && !strcmp(pns, ns))
			i++;
		else
			json_array_remove(pods, i);
	}
	return pods;
}

int op_reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	op_state *st = payload;
	json_t *hs = NULL, *pods = NULL, *deploy = NULL, *obj = NULL, *status = NULL;
	outcome o;
	op_spec s;
	char key[600];
	int rc = 0, rc2;

	memset(&o, 0, sizeof(o));
	o.peers_now = -1;
	snprintf(key, sizeof(key), "%s/%s", req->ns, req->name);
	if (peerop_informer_get(&hs, peerop_controller_cache(c, NULL), req->ns, req->name) != 0) {
		write_time(st, key, 0, 1);
		return 0;   /* deleted: garbage collection removes what it owned */
	}
	if (json_object_get(json_object_get(hs, "metadata"), "deletionTimestamp")) {
		json_decref(hs);
		return 0;
	}
	if (op_spec_read(&s, hs, &st->cfg) == PEEROP_EINVAL && !s.name) {
		json_decref(hs);
		return 0;
	}
	if (s.invalid[0]) {
		/* Change nothing: a guess could scale the servers down. The
		 * status says why; a new spec queues the key again. */
		peerop_log_emit(PEEROP_LOG_WARN, "operator", NULL, 0, "%s: invalid spec: %s", key, s.invalid);
	} else {
		/* 1. the peer list, from the pods the cache has for this instance */
		pods = pods_of(c, req->ns, req->name);
		rc = pods ? ensure_peers(c, st, &s, hs, pods, &o, result) : PEEROP_ENOMEM;
		/* 2. the servers, 3. their Services (each tried even if another failed) */
		rc2 = ensure(c, &OP_DEPLOYMENTS, op_deployment(&s, hs), "Deployment", &o);
		rc = rc ? rc : rc2;
		rc2 = ensure(c, &OP_SERVICES, op_service(&s, hs), "Service", &o);
		rc = rc ? rc : rc2;
		rc2 = ensure(c, &OP_SERVICES, op_peers_service(&s, hs), "Service", &o);
		rc = rc ? rc : rc2;
	}

	/* 4. status, written only when it changes (each write wakes us again) */
	peerop_informer_get(&deploy, peerop_controller_cache(c, &OP_DEPLOYMENTS), req->ns, req->name);
	o.deploy = deploy;
	status = compute_status(&s, json_object_get(hs, "status"), &o);
	if (!status) {
		rc2 = PEEROP_ENOMEM;
	} else if (!json_equal(status, json_object_get(hs, "status"))) {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "peerop.io/v1alpha1",
			"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns, "status", status);
		rc2 = obj ? peerop_controller_apply(NULL, c, &OP_HTTPSERVERS, obj, "status") : PEEROP_ENOMEM;
	} else {
		rc2 = 0;
	}
	rc = rc ? rc : rc2;
	if (rc == 0)
		peerop_log_emit(PEEROP_LOG_DEBUG, "operator", NULL, 0, "reconciled %s", key);
	json_decref(obj);
	json_decref(status);
	json_decref(deploy);
	json_decref(o.members);
	json_decref(pods);
	json_decref(hs);
	return rc;
}

void op_map_pod(const json_t *pod, void (*enqueue)(const char *ns, const char *name, void *ctx),
	void *ctx, void *payload)
{
	const json_t *m = json_object_get(pod, "metadata");
	const char *inst = json_string_value(json_object_get(json_object_get(m, "labels"), OP_LABEL_INSTANCE));
	(void)payload;

	if (inst)
		enqueue(json_string_value(json_object_get(m, "namespace")), inst, ctx);
}
