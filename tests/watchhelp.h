/*
 * watchhelp.h: the consumer model and the devcluster environment shared by
 * the watch tests. The model replays callbacks into a map (ADDED/MODIFIED
 * set, DELETED remove) and checks the normalisation contract as it goes.
 */
#ifndef WATCHHELP_H
#define WATCHHELP_H

#include <pthread.h>
#include "internal.h"
#include "watch_internal.h"
#include "testhelp.h"
#include "dchelp.h"

extern const peerop_kube_resource CM;

typedef struct model {
	pthread_mutex_t lock;
	peerop__map objs;       /* key -> strdup'd resourceVersion */
	int synced;
	int added, modified, deleted;
	int errors[64];         /* by -code */
	int bad;                /* events that cannot be replayed (no key) */
	peerop__buf trace;      /* "A:key;D:key;..." */
	peerop_watch *self;     /* for stop-from-callback */
	int stop_in_callback;
	int after_stop;         /* callbacks that ran after stop returned */
	int stop_returned;
} model;
typedef struct env {
	dct *t;
	peerop_kube_client *client;
	char *kubeconfig;
} env;

void model_init(model *m);
void model_dispose(model *m);
void model_apply(model *m, peerop_watch_event_type type, const json_t *obj);
void model_on_event(peerop_watch_event_type type, json_t *obj, void *payload);
void model_on_error(int code, const char *message, void *payload);
int model_errors(model *m, int code);
int model_synced(model *m);
int model_has(model *m, const char *key);
env *env_start(const dc_server_options *opts, bool data);
void env_stop(env *e);
void admin(env *e, const char *what);
json_t *cm_obj(const char *name, const char *value);
void put_cm(env *e, const char *name, const char *value);
void del_cm(env *e, const char *name);
int model_matches_server(model *m, env *e, char *why, size_t whylen);
void assert_converges(model *m, env *e, unsigned timeout_ms);
peerop_watch *start_watch(env *e, model *m, peerop_watch_initial initial, peerop_watch_options *extra);
void stop_watch(peerop_watch *w, model *m);

#endif
