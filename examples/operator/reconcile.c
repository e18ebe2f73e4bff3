/*
 * reconcile.c: peerop-operator's reconcile function: make an HTTPServer's
 * ConfigMap, Deployment and Service match its spec and its pods, then
 * report what is true in its status.
 *
 * Called with a key whenever the HTTPServer, something it owns, or one of
 * its pods changes; it works from the caches' current state, never from
 * an event, so running it twice changes nothing the second time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "operator.h"

static long long status_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(obj, "status"), key));
}

/* The status to report, from the Deployment the servers run in. */
static json_t *compute_status(const op_spec *s, const json_t *old_status, const json_t *deploy,
	size_t npeers)
{
	json_t *st = old_status ? json_deep_copy(old_status) : json_object(), *conds;
	long long ready = deploy ? status_int(deploy, "readyReplicas") : 0;
	long long have = deploy ? status_int(deploy, "replicas") : 0;
	long long updated = deploy ? status_int(deploy, "updatedReplicas") : 0;
	int rolled = deploy && status_int(deploy, "observedGeneration") >=
		json_integer_value(json_object_get(json_object_get(deploy, "metadata"), "generation"));
	char msg[160], *sel = op_selector(s->name);

	if (!st || !sel) {
		json_decref(st);
		free(sel);
		return NULL;
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds))
		json_object_set_new(st, "conditions", conds = json_array());
	if (rolled && ready == s->replicas && have == s->replicas && updated == s->replicas) {
		snprintf(msg, sizeof(msg), "%lld of %lld servers ready; %zu in the peer list", ready, s->replicas, npeers);
		peerop_condition_set(conds, "Ready", "True", "AllReplicasReady", msg, s->generation, 0);
	} else {
		snprintf(msg, sizeof(msg), "%lld of %lld servers ready%s", ready, s->replicas,
			rolled ? "" : "; the Deployment has not caught up with the spec yet");
		peerop_condition_set(conds, "Ready", "False", have > s->replicas ? "ScalingDown" : "ReplicasNotReady",
			msg, s->generation, 0);
	}
	json_object_set_new(st, "replicas", json_integer(have));
	json_object_set_new(st, "readyReplicas", json_integer(ready));
	json_object_set_new(st, "selector", json_string(sel));
	json_object_set_new(st, "observedGeneration", json_integer(s->generation));
	free(sel);
	return st;
}

int op_reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	op_state *st = payload;
	json_t *hs = NULL, *pods = NULL, *deploy = NULL, *obj = NULL, *status = NULL;
	char *peers = NULL, key[600];
	op_spec s;
	int rc;
	(void)result;

	if (peerop_informer_get(&hs, peerop_controller_cache(c, NULL), req->ns, req->name) != 0)
		return 0;   /* deleted: garbage collection removes what it owned */
	if (json_object_get(json_object_get(hs, "metadata"), "deletionTimestamp")) {
		json_decref(hs);
		return 0;
	}
	if (op_spec_read(&s, hs, &st->cfg) == PEEROP_EINVAL && !s.name) {
		json_decref(hs);
		return 0;
	}

	/* 1. the peer list, from the pods the cache has for this instance */
	snprintf(key, sizeof(key), "%s", req->name);
	rc = peerop_informer_by_index(&pods, peerop_controller_cache(c, &OP_PODS), "instance", key);
	if (rc == 0) {
		/* the index spans namespaces: keep this one's */
		size_t i = 0;
		while (i < json_array_size(pods)) {
			const char *ns = json_string_value(json_object_get(json_object_get(json_array_get(pods, i),
				"metadata"), "namespace"));
			if (ns && !strcmp(ns, req->ns))
				i++;
			else
				json_array_remove(pods, i);
		}
		rc = op_peers_json(&peers, pods, s.port);
	}
	if (rc == 0)
		rc = (obj = op_peers_configmap(&s, hs, peers)) ? peerop_controller_apply(NULL, c, &OP_CONFIGMAPS, obj, NULL)
			: PEEROP_ENOMEM;
	json_decref(obj);
	obj = NULL;

	/* 2. the servers, and 3. their Service */
	if (rc == 0)
		rc = (obj = op_deployment(&s, hs)) ? peerop_controller_apply(NULL, c, &OP_DEPLOYMENTS, obj, NULL)
			: PEEROP_ENOMEM;
	json_decref(obj);
	obj = NULL;
	if (rc == 0)
		rc = (obj = op_service(&s, hs)) ? peerop_controller_apply(NULL, c, &OP_SERVICES, obj, NULL)
			: PEEROP_ENOMEM;
	json_decref(obj);
	obj = NULL;

	/* 4. status, written only when it changes (each write wakes us again) */
	if (rc == 0) {
		size_t npeers = 0, i;
		json_t *p;
		json_array_foreach(pods, i, p)
			if (json_string_value(json_object_get(json_object_get(p, "status"), "podIP")))
				npeers++;
		peerop_informer_get(&deploy, peerop_controller_cache(c, &OP_DEPLOYMENTS), req->ns, req->name);
		status = compute_status(&s, json_object_get(hs, "status"), deploy, npeers);
		if (!status) {
			rc = PEEROP_ENOMEM;
		} else if (!json_equal(status, json_object_get(hs, "status"))) {
			obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "peerop.io/v1alpha1",
				"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns, "status", status);
			rc = obj ? peerop_controller_apply(NULL, c, &OP_HTTPSERVERS, obj, "status") : PEEROP_ENOMEM;
		}
	}
	if (rc == 0)
		peerop_log_emit(PEEROP_LOG_DEBUG, "operator", NULL, 0, "reconciled %s/%s", req->ns, req->name);
	json_decref(obj);
	json_decref(status);
	json_decref(deploy);
	json_decref(pods);
	peerop_free(peers);
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
