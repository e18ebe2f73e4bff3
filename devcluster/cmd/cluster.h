/*
 * cluster.h: the local control plane put together (cluster.c): an API
 * server, and beside it, when asked, the controller manager and a
 * kubelet. This is the top of devcluster's layers; main.c is the program
 * around it and the tests start it in-process.
 *
 * Layers, top down; a part includes only its own header and those below:
 *   cmd/          the program (main.c) and this composition
 *   controllers/  Deployment and ReplicaSet controllers (controllers.h)
 *   kubelet/      the node: scheduling, pods as processes (kubelet.h)
 *   client/       what components share to reach the API server (client.h)
 *   apiserver/    store, persistence, REST surface, admission (apiserver.h)
 *   base/         (top level) errors, logging, buffers, clocks, the map
 */
#ifndef DEVCLUSTER_CLUSTER_H
#define DEVCLUSTER_CLUSTER_H

#include "controllers.h"
#include "kubelet.h"

typedef struct dc_cluster_options {
	/* The API server. Its components_* hooks are the cluster's own and
	 * must be left NULL. */
	dc_server_options server;
	/* Running what operators create; all off by default, so the API
	 * server alone behaves as it does on its own. */
	bool controllers;             /* the Deployment and ReplicaSet controllers */
	bool kubelet;                 /* one node that runs pods as local processes */
	dc_kubelet_options node;      /* the kubelet's options */
} dc_cluster_options;

typedef struct dc_cluster dc_cluster;

/* Start the API server, then the components asked for (and again on the
 * new store after every restart of the server). */
int dc_cluster_start(dc_cluster **out, const dc_cluster_options *opts);
/* Stop the components (the kubelet stops every pod's processes within
 * their grace periods), then the server. NULL is a no-op. */
void dc_cluster_free(dc_cluster *c);
dc_server *dc_cluster_server(const dc_cluster *c);
/* The running kubelet, or NULL (none asked for, or between restarts). */
dc_kubelet *dc_cluster_kubelet(const dc_cluster *c);

#endif /* DEVCLUSTER_CLUSTER_H */
