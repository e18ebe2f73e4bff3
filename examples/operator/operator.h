/*
 * operator.h: peerop-operator's parts (examples/peerop-operator.c is the
 * program): what an HTTPServer becomes (objects.c) and the reconcile
 * function that keeps it so (reconcile.c).
 */
#ifndef PEEROP_OPERATOR_H
#define PEEROP_OPERATOR_H

#include <pthread.h>
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
/* NAME-peers: the ConfigMap and the headless Service of an HTTPServer. */
#define OP_PEERS_SUFFIX    "-peers"
/* The CRD's maximum of spec.replicas. */
#define OP_MAX_REPLICAS    1000

#define OP_DISCOVER_CONFIGMAP 1
#define OP_DISCOVER_DNS       2

/* The settings of one HTTPServer with the CRD's defaults filled in. */
typedef struct op_spec {
	const char *ns, *name;   /* borrowed from the object */
	long long generation;
	long long replicas;
	const char *image;
	long long port;
	long long ping_interval_s;
	long long ping_timeout_s;  /* 0: unset, the server's default */
	int discovery;             /* OP_DISCOVER_* bits */
	const char *log_format;
	const json_t *resources;  /* NULL: the operator's defaults */
	char invalid[256];        /* why the spec cannot be run; "" when it can */
} op_spec;

typedef struct op_config {
	const char *default_image;  /* when spec.image is absent */
	const char *field_manager;
	/* Least time between two writes of one peers ConfigMap: changes
	 * in between (a scale to 1000 changes pods a thousand times) are
	 * coalesced into one write at the end of the window. 0: none. */
	unsigned int peers_coalesce_ms;
} op_config;

/* Read an HTTPServer's spec, with defaults. 0, or PEEROP_EINVAL: no name
 * or namespace (out->name NULL), or an invalid spec (out->invalid says
 * which field and why; nothing is guessed). */
int op_spec_read(op_spec *out, const json_t *hs, const op_config *cfg);

/* "app.kubernetes.io/instance=NAME,app.kubernetes.io/name=peerop-server" */
char *op_selector(const char *name);

/* The objects an HTTPServer owns, as server-side apply intents (new references). */
json_t *op_peers_configmap(const op_spec *s, const json_t *owner, const char *peers_json);
json_t *op_deployment(const op_spec *s, const json_t *owner);
json_t *op_service(const op_spec *s, const json_t *owner);
json_t *op_peers_service(const op_spec *s, const json_t *owner);

/* The peers of an HTTPServer: its pods that have an address and are not
 * being deleted, sorted by name, on the spec's port. pods: a JSON array.
 * *out: peerop_free(); *members (if members is not NULL): a new array of
 * the pod names, sorted. */
int op_peers_json(char **out, json_t **members, const json_t *pods, long long port);

/* 1 if the live object already holds every field of intent (so applying
 * it would change nothing), else 0. */
int op_satisfied(const json_t *live, const json_t *intent);

/* When each peers ConfigMap was last written (for coalescing). */
typedef struct op_write_time {
	char *key;                   /* "ns/name" */
	unsigned long long at_ms;    /* monotonic */
	struct op_write_time *next;
} op_write_time;

/* State shared by the reconcile function. */
typedef struct op_state {
	op_config cfg;
	pthread_mutex_t lock;       /* guards writes */
	op_write_time *writes;
} op_state;

int op_state_init(op_state *st);
void op_state_dispose(op_state *st);

int op_reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload);

/* Map a pod to the HTTPServer it serves (its instance label). */
void op_map_pod(const json_t *pod, void (*enqueue)(const char *ns, const char *name, void *ctx),
	void *ctx, void *payload);

#endif
