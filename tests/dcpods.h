/*
 * dcpods.h: helpers for the tests of what devcluster runs (controllers,
 * kubelet): lists, counts, waiting for a state, playing the kubelet.
 */
#ifndef DCPODS_H
#define DCPODS_H

#include "dchelp.h"
#include "cluster.h"

#define DEPLOYS "/apis/apps/v1/namespaces/default/deployments"
#define RSS "/apis/apps/v1/namespaces/default/replicasets"
#define PODS "/api/v1/namespaces/default/pods"
#define EVENTS "/api/v1/namespaces/default/events"

/* GET path (a list) and return its items (new reference; [] on error). */
json_t *dcp_items(dct *t, const char *path);
size_t dcp_count(dct *t, const char *path);
/* GET path; NULL unless 200. */
json_t *dcp_get(dct *t, const char *path);
/* POST body to path; asserts 201. */
void dcp_create(dct *t, const char *path, const char *body);
/* Play the kubelet: every pod of the list at path that is not being
 * deleted gets phase Running and Ready True. Returns how many changed. */
int dcp_mark_ready(dct *t, const char *path);
/* An integer at a dotted path of the object at path (-1 if absent). */
long long dcp_int(dct *t, const char *path, const char *field);
/* The string at a dotted path of the object at path, malloc'd, or NULL. */
char *dcp_str(dct *t, const char *path, const char *field);
/* A condition's field ("status", "reason") of the object at path, malloc'd. */
char *dcp_cond(dct *t, const char *path, const char *type, const char *field);
/* An Event with this reason (and a message containing msg, if not NULL)
 * exists in the default namespace. */
bool dcp_has_event(dct *t, const char *reason, const char *msg);

/* ---- with a kubelet ---- */
/* Start a server with the controllers and the kubelet, the images
 * "podapp" (tests/dc-podapp), "shell" (/bin/sh) and "peerop-server"
 * (examples/peerop-server), a 1 s restart back-off. data: use DIR/data. */
dct *dcp_start_kubelet(bool data);
/* The same on an existing data directory (restart tests). */
dct *dcp_restart_kubelet(dct *t);
/* A unique marker for this test run, to find its processes in /proc. */
const char *dcp_marker(void);
/* How many processes have marker in their command line. */
int dcp_procs(const char *marker);
/* GET url (plain HTTP, 2 s timeout): body (malloc'd) or NULL; *code set. */
char *dcp_http(const char *url, long *code);
/* The pod's status.podIP (malloc'd) or NULL. */
char *dcp_pod_ip(dct *t, const char *name);
/* The pod's Ready condition is True. */
bool dcp_pod_ready(dct *t, const char *name);
/* The first container status' field (dotted, e.g. "state.waiting.reason"),
 * malloc'd, or NULL. */
char *dcp_ctr(dct *t, const char *name, const char *field);
/* GET http://<pod ip>:8080<path> == want (the whole body). */
bool dcp_pod_says(dct *t, const char *name, const char *path, const char *want);
/* An Event about a pod with this reason (and message part, if not NULL). */
bool dcp_pod_event(dct *t, const char *pod, const char *reason, const char *msg);
/* The pod object is gone. */
bool dcp_pod_gone(dct *t, const char *name);
/* Whether the tests run as root (namespaces, volumes). */
bool dcp_root(void);

#endif
