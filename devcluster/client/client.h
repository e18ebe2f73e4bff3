/*
 * client.h: the client side of the API server, what the components of
 * peerop-devcluster (the controller manager, the kubelet) share:
 *
 *   local.c    API requests made inside the process: the very handlers an
 *              HTTP request reaches (validation, defaults, managedFields,
 *              generation, watch events), without authentication and
 *              without injected faults (/_devcluster/fail is for clients)
 *   follow.c   a keyed work queue fed by the store's own event history:
 *              what an informer and a workqueue give a real controller
 *   events.c   core/v1 Events, aggregated as client-go's recorder does
 *
 * Lock order: the store lock may be taken while holding nothing, or before
 * a component's own lock; never the other way round. Local calls take the
 * store lock themselves, so nothing may hold it when making one.
 */
#ifndef DEVCLUSTER_CLIENT_H
#define DEVCLUSTER_CLIENT_H

#include "apiserver.h"

/* ------------------------------------------------------------ local.c */
/* One in-process request. path may carry a query ("...?a=b&c=d", values
 * not escaped; a value may contain '='). agent is the User-Agent (its
 * product names the field manager: "kube-controller-manager/v1.32.0").
 * body is borrowed (NULL: none); ctype NULL means JSON. Returns the HTTP
 * status; *out (if not NULL) receives the parsed reply (NULL if it is not
 * JSON). */
long dc_local(dc_server *srv, const char *agent, const char *method, const char *path,
	const char *ctype, const json_t *body, json_t **out);
/* The same, with a formatted path. */
long dc_localf(dc_server *srv, const char *agent, const char *method, const json_t *body,
	json_t **out, const char *pathfmt, ...) PEEROP_FORMAT(6, 7);
/* A merge patch (application/merge-patch+json). */
long dc_local_merge(dc_server *srv, const char *agent, const json_t *patch, json_t **out,
	const char *pathfmt, ...) PEEROP_FORMAT(5, 6);
/* The message of a Status reply, or "". */
const char *dc_local_message(const json_t *reply);

#define DC_AGENT_CONTROLLERS "kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/devcluster"
#define DC_AGENT_KUBELET "kubelet/v1.32.0 (linux/amd64) kubernetes/devcluster"
#define DC_AGENT_SCHEDULER "kube-scheduler/v1.32.0 (linux/amd64) kubernetes/devcluster"

/* ------------------------------------------------------------ follow.c */
typedef struct dc_follow dc_follow;
typedef struct dc_follow_ops {
	const char *name;        /* the thread's name, for logs */
	/* Store locked: one event of the history; add the keys it affects. */
	void (*event)(dc_follow *f, dc_store *s, const dc_event *ev, void *arg);
	/* Store locked: the history is unknown (start, a gap): add every key. */
	void (*resync)(dc_follow *f, dc_store *s, void *arg);
	/* Store NOT locked: bring key's object to its desired state. Returns
	 * 0 when done, or the milliseconds after which to look again. */
	long (*sync)(dc_follow *f, const char *key, void *arg);
} dc_follow_ops;

/* Start a thread that follows srv's store. arg is passed to every op. */
int dc_follow_start(dc_follow **out, dc_server *srv, const dc_follow_ops *ops, void *arg);
/* Stop it (joins; no op runs afterwards). NULL is a no-op. */
void dc_follow_stop(dc_follow *f);
/* Queue key for sync now (dedup: a queued key is queued once), or after
 * ms. Only from the follower's own ops. */
void dc_follow_add(dc_follow *f, const char *key);
void dc_follow_add_after(dc_follow *f, const char *key, uint64_t ms);
dc_server *dc_follow_server(dc_follow *f);

/* ------------------------------------------------------------ events.c */
/* What an Event is about. */
typedef struct dc_evref {
	const char *kind, *api_version, *ns, *name, *uid, *rv;
	const char *field_path;  /* "spec.containers{app}" or NULL */
} dc_evref;
/* The reference to a stored object (borrowed strings from obj). */
void dc_evref_of(dc_evref *r, const json_t *obj, const char *kind, const char *api_version);
/* Record an Event (type "Normal" or "Warning") from component (and host).
 * The same reason and message about the same object within 10 minutes
 * bump count and lastTimestamp of one Event, as client-go does. Errors
 * are logged, never returned: events are best effort. */
void dc_event_record(dc_server *srv, const char *component, const char *host, const dc_evref *about,
	const char *type, const char *reason, const char *fmt, ...) PEEROP_FORMAT(7, 8);
/* Forget the aggregation cache (tests, restart). */
void dc_events_reset(void);

/* ------------------------------------------------------------ helpers */
/* Integer field, or def when absent or not an integer. */
long long dc_json_int(const json_t *o, const char *path, long long def);
/* The controller ownerReference's uid of obj, or NULL. */
const char *dc_controller_uid(const json_t *obj);
/* metadata.labels[key] or NULL (keys may contain dots). */
const char *dc_label(const json_t *obj, const char *key);
const char *dc_annotation(const json_t *obj, const char *key);

#endif /* DEVCLUSTER_CLIENT_H */
