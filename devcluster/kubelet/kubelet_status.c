/* kubelet_status.c: the PodStatus a worker reports, computed as the real
 * kubelet does (pkg/kubelet/kubelet_pods.go, status/generate.go):
 *
 * - phase: Pending while a container waits for its first start; Running
 *   while one runs or restarts; Succeeded or Failed once every container
 *   has ended for good (restartPolicy);
 * - conditions PodReadyToStartContainers, Initialized, ContainersReady,
 *   Ready (False with ContainersNotReady and the unready containers, or
 *   PodCompleted) and PodScheduled, each keeping lastTransitionTime while
 *   its status holds;
 * - containerStatuses: state (waiting with a reason, running since,
 *   terminated with exit code and reason), lastState, ready, started,
 *   restartCount, image, imageID, containerID; initContainerStatuses, and
 *   Initialized False (ContainersNotInitialized) until they all exited 0;
 * - podIP(s), hostIP(s) 127.0.0.1, startTime, qosClass. */
#include "kubelet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kl_phase(const kl_pod *p)
{
	size_t i, waiting = 0, running = 0, stopped = 0, succeeded = 0;
	const char *policy = dc_json_str(p->pod, "spec.restartPolicy");
	if (p->init_failed)
		return "Failed";
	if (p->init_next < p->ninits)
		return "Pending";
	for (i = p->ninits; i < p->nctrs; i++) {
		const kl_ctr *c = &p->ctrs[i];
		if (c->state == KL_RUNNING) {
			running++;
		} else if (c->state == KL_TERMINATED) {
			stopped++;
			if (c->exit_code == 0)
				succeeded++;
		} else if (c->last_state) {
			stopped++;
		} else {
			waiting++;
		}
	}
	if (waiting > 0)
		return "Pending";
	if (running > 0)
		return "Running";
	if (stopped > 0) {
		if (!policy || !strcmp(policy, "Always"))
			return "Running";
		if (stopped == succeeded)
			return "Succeeded";
		if (!strcmp(policy, "Never"))
			return "Failed";
		/* OnFailure: some failed and restart; still, if all ended for good */
		for (i = p->ninits; i < p->nctrs; i++)
			if (!p->ctrs[i].done)
				return "Running";
		return "Failed";
	}
	return "Pending";
}

/* A condition, keeping the previous lastTransitionTime while the status
 * holds. */
static json_t *cond(const json_t *old_status, const char *type, bool ok, const char *reason, const char *message)
{
	const json_t *c;
	size_t i;
	char ts[32];
	const char *st = ok ? "True" : "False", *when = NULL;
	json_t *o;
	json_array_foreach(json_object_get(old_status, "conditions"), i, c) {
		const char *t = dc_json_str(c, "type"), *s = dc_json_str(c, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, st))
			when = dc_json_str(c, "lastTransitionTime");
	}
	dc_now_rfc3339(ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status", st, "lastProbeTime", "lastTransitionTime",
		when ? when : ts);
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	if (message)
		json_object_set_new(o, "message", json_string(message));
	return o;
}

static json_t *ctr_state(const kl_ctr *c)
{
	switch (c->state) {
	case KL_RUNNING:
		return json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
	case KL_TERMINATED: {
		json_t *t = json_pack("{s:i,s:s,s:s,s:s,s:s}", "exitCode", c->exit_code, "reason", c->reason,
			"startedAt", c->started_at[0] ? c->started_at : c->finished_at, "finishedAt", c->finished_at,
			"containerID", c->id);
		if (c->message[0])
			json_object_set_new(t, "message", json_string(c->message));
		return json_pack("{s:o}", "terminated", t);
	}
	default: {
		json_t *w = json_pack("{s:s}", "reason", c->reason[0] ? c->reason : "ContainerCreating");
		if (c->message[0])
			json_object_set_new(w, "message", json_string(c->message));
		return json_pack("{s:o}", "waiting", w);
	}
	}
}

json_t *kl_status_build(kl_pod *p)
{
	const json_t *old = dc_json_path(p->pod, "status");
	json_t *st = json_object(), *conds = json_array(), *statuses = json_array(), *inits = json_array();
	peerop__buf unready = PEEROP__BUF_INIT, uninit = PEEROP__BUF_INIT;
	const char *phase = kl_phase(p);
	bool all_ready = true, terminal = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nctrs; i++) {
		kl_ctr *c = &p->ctrs[i];
		const char *image = json_string_value(json_object_get(c->spec, "image"));
		bool ready = c->state == KL_RUNNING && c->ready && c->started;
		json_t *cs = json_pack("{s:s,s:o,s:o,s:b,s:i,s:s,s:s}", "name", c->name, "state", ctr_state(c),
			"lastState", c->last_state ? json_deep_copy(c->last_state) : json_object(), "ready", ready,
			"restartCount", c->restarts, "image", image ? image : "",
			"imageID", c->ex.image_path ? c->ex.image_path : "");
		if (c->ever_started)
			json_object_set_new(cs, "containerID", json_string(c->id));
		json_object_set_new(cs, "started", json_boolean(c->state == KL_RUNNING && c->started));
		if (c->init) {
			/* done: terminated with 0 */
			json_object_set_new(cs, "ready", json_boolean(c->state == KL_TERMINATED && c->exit_code == 0));
			json_array_append_new(inits, cs);
			if (!(c->state == KL_TERMINATED && c->exit_code == 0))
				peerop__buf_printf(&uninit, "%s%s", uninit.len ? " " : "", c->name);
			continue;
		}
		json_array_append_new(statuses, cs);
		if (!ready) {
			all_ready = false;
			peerop__buf_printf(&unready, "%s%s", unready.len ? " " : "", c->name);
		}
	}
	pthread_mutex_unlock(&p->mu);
	json_array_append_new(conds, cond(old, "PodReadyToStartContainers", p->ip[0] != '\0', NULL, NULL));
	if (p->init_next < p->ninits) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "containers with incomplete status: [%s]", uninit.ptr ? uninit.ptr : "");
		json_array_append_new(conds, cond(old, "Initialized", false, "ContainersNotInitialized", msg));
	} else {
		json_array_append_new(conds, cond(old, "Initialized", true, NULL, NULL));
	}
	peerop__buf_dispose(&uninit);
	if (terminal) {
		json_array_append_new(conds, cond(old, "Ready", false, "PodCompleted", NULL));
		json_array_append_new(conds, cond(old, "ContainersReady", false, "PodCompleted", NULL));
	} else if (all_ready) {
		json_array_append_new(conds, cond(old, "Ready", true, NULL, NULL));
		json_array_append_new(conds, cond(old, "ContainersReady", true, NULL, NULL));
	} else {
		char msg[1200];
		snprintf(msg, sizeof(msg), "containers with unready status: [%s]", unready.ptr ? unready.ptr : "");
		json_array_append_new(conds, cond(old, "Ready", false, "ContainersNotReady", msg));
		json_array_append_new(conds, cond(old, "ContainersReady", false, "ContainersNotReady", msg));
	}
	json_array_append_new(conds, cond(old, "PodScheduled", true, NULL, NULL));
	peerop__buf_dispose(&unready);
	json_object_set_new(st, "phase", json_string(phase));
	json_object_set_new(st, "conditions", conds);
	json_object_set_new(st, "hostIP", json_string("127.0.0.1"));
	json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", "127.0.0.1"));
	if (p->ip[0]) {
		json_object_set_new(st, "podIP", json_string(p->ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->ip));
	}
	json_object_set_new(st, "startTime", json_string(p->start_time));
	if (json_array_size(inits))
		json_object_set_new(st, "initContainerStatuses", inits);
	else
		json_decref(inits);
	json_object_set_new(st, "containerStatuses", statuses);
	json_object_set_new(st, "qosClass", json_string(dc_pod_qos(dc_json_path(p->pod, "spec"))));
	return st;
}
