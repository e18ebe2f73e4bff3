/* controller_internal.h: the controller's private state (controller.c). */
#ifndef PEEROP_CONTROLLER_INTERNAL_H
#define PEEROP_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <peerop/reconcile.h>

#define PEEROP__CTL_NBOUNDS 14  /* reconcile time histogram buckets */

typedef struct ctl_cache {
	struct peerop_controller *c;
	peerop_kube_resource res;          /* strings owned */
	peerop_informer *inf;
	peerop_controller_map_cb map;      /* NULL: owned (by ownerReference) */
	void *map_payload;
	void (*enqueue_fn)(const char *ns, const char *name, void *ctx);
	int synced_once;                   /* informer thread only */
	int pass;                          /* the predicates' verdict on the event being stored (informer thread) */
} ctl_cache;

struct peerop_controller {
	peerop_kube_client *client;
	peerop_controller_options opts;    /* defaults filled; strings not used */
	char *name, *ns, *field_manager, *finalizer;
	peerop_predicate *preds;           /* copy of opts.predicates */
	size_t npreds;
	peerop_kube_resource primary;      /* strings owned */
	ctl_cache **caches;                /* [0] is the primary's */
	size_t ncaches;
	peerop_workqueue *queue;
	pthread_t *workers, starter;
	unsigned int nworkers;
	int starter_running;

	pthread_mutex_t lock;              /* guards what follows */
	pthread_cond_t cond;
	int started, stopping, synced, stop_rc;
	int stop_done;                     /* the first stop has finished */
	size_t nsynced;
	char *primary_kind;                /* learned from the primaries */
	int primary_kind_set;
	peerop_controller_stats stats;
	unsigned long long time_counts[PEEROP__CTL_NBOUNDS];
	double time_sum;
	unsigned int active;               /* atomic */
};

/* "ns/name", or "name" without a namespace; NULL for no name or no memory. */
char *peerop__controller_key(const char *ns, const char *name);
void peerop__controller_enqueue_key(struct peerop_controller *c, const char *ns, const char *name);

/* A Kubernetes qualified name ("Ready", "example.com/Ready"): condition
 * types, finalizers (reconcile_object.c). */
int peerop__qualified_name_ok(const char *s);

#endif
