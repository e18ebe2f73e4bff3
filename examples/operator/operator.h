/*
 * operator.h: peerop-operator's parts (examples/peerop-operator.c is the
 * program): what an HTTPServer becomes (objects.c) and the reconcile
 * function that keeps it so (reconcile.c).
 */
#ifndef PEEROP_OPERATOR_H
#define PEEROP_OPERATOR_H

#include <peerop/peerop.h>

extern const peerop_kube_resource OP_HTTPSERVERS, OP_DEPLOYMENTS, OP_SERVICES, OP_CONFIGMAPS, OP_PODS;

/* Labels on everything the operator creates: caches select on them. */
#define OP_LABEL_NAME      "app.kubernetes.io/name"
#define OP_LABEL_INSTANCE  "app.kubernetes.io/instance"
#define OP_LABEL_MANAGED   "app.kubernetes.io/managed-by"
#define OP_APP             "peerop-server"
#define OP_MANAGER         "peerop-operator"
/* Where the peers file is mounted in each server container. */
#define OP_PEERS_DIR       "/etc/peerop"
#define OP_PEERS_KEY       "peers.json"

/* The settings of one HTTPServer with the CRD's defaults filled in. */
typedef struct op_spec {
	const char *ns, *name;   /* borrowed from the object */
	long long generation;
	long long replicas;
	const char *image;
	long long port;
	long long ping_interval_s;
	const char *log_format;
	const json_t *resources;  /* NULL: the operator's defaults */
} op_spec;

typedef struct op_config {
	const char *default_image;  /* when spec.image is absent */
	const char *field_manager;
} op_config;

/* Read an HTTPServer's spec, with defaults. 0, or PEEROP_EINVAL naming the field. */
int op_spec_read(op_spec *out, const json_t *hs, const op_config *cfg);

/* "app.kubernetes.io/instance=NAME,app.kubernetes.io/name=peerop-server" */
char *op_selector(const char *name);

/* The objects an HTTPServer owns, as server-side apply intents (new references). */
json_t *op_peers_configmap(const op_spec *s, const json_t *owner, const char *peers_json);
json_t *op_deployment(const op_spec *s, const json_t *owner);
json_t *op_service(const op_spec *s, const json_t *owner);

/* The peers of an HTTPServer: its pods that have an address and are not
 * being deleted, sorted by name, on the spec's port. pods: a JSON array. */
int op_peers_json(char **out, const json_t *pods, long long port);

/* State shared by the reconcile function. */
typedef struct op_state {
	op_config cfg;
} op_state;

int op_reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload);

/* Map a pod to the HTTPServer it serves (its instance label). */
void op_map_pod(const json_t *pod, void (*enqueue)(const char *ns, const char *name, void *ctx),
	void *ctx, void *payload);

#endif
