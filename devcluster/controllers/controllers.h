/*
 * controllers.h: the in-process controllers of peerop-devcluster (what
 * kube-controller-manager runs for Deployments and ReplicaSets).
 *
 *   controllers.c  the controller manager: one follower (follow.c) whose
 *                  keys are "rs/NS/NAME" and "deploy/NS/NAME"
 *   rs_ctl.c       ReplicaSet -> Pods, and ReplicaSet status
 *   deploy_ctl.c   Deployment -> ReplicaSets (rolling update, recreate,
 *                  proportional scaling, history), and Deployment status
 *   workload.c     what both need: pod readiness and availability,
 *                  intstr values, sorting by age
 */
#ifndef DEVCLUSTER_CONTROLLERS_H
#define DEVCLUSTER_CONTROLLERS_H

#include "client.h"

typedef struct dc_ctlmgr dc_ctlmgr;
int dc_ctlmgr_start(dc_ctlmgr **out, dc_server *srv);
void dc_ctlmgr_stop(dc_ctlmgr *m);

/* Sync one object; return 0 or the ms after which to look again. */
long dc_rs_sync(dc_server *srv, const char *ns, const char *name);
long dc_deploy_sync(dc_server *srv, const char *ns, const char *name);

/* ---- workload.c ---- */
#define DC_REVISION_ANN "deployment.kubernetes.io/revision"
#define DC_DESIRED_ANN "deployment.kubernetes.io/desired-replicas"
#define DC_MAX_ANN "deployment.kubernetes.io/max-replicas"
#define DC_HASH_LABEL "pod-template-hash"

/* The pod's Ready condition is True; *since (if not NULL) gets its
 * lastTransitionTime (0 if unknown). */
bool dc_pod_ready(const json_t *pod, time_t *since);
/* Ready for at least min_ready seconds at now; *wait_ms (if not NULL) is
 * set to the ms until it will be, when ready but not yet available. */
bool dc_pod_available(const json_t *pod, long long min_ready, time_t now, long *wait_ms);
/* Neither terminal (Succeeded, Failed) nor being deleted. */
bool dc_pod_active(const json_t *pod);
/* An int-or-percent value scaled to total (percentages rounded up or
 * down); def when v is absent; -1 when malformed. */
long long dc_intstr_scaled(const json_t *v, long long total, bool round_up, long long def);
/* Sort an array of objects by creationTimestamp (then name), oldest first. */
void dc_sort_by_age(json_t *arr, bool newest_first);
/* A copy of obj's metadata.creationTimestamp as time_t (0 if none). */
time_t dc_obj_created(const json_t *obj);

#endif /* DEVCLUSTER_CONTROLLERS_H */
