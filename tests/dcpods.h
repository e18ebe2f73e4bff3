/*
 * dcpods.h: helpers for the tests of what devcluster runs (controllers,
 * kubelet): lists, counts, waiting for a state, playing the kubelet.
 */
#ifndef DCPODS_H
#define DCPODS_H

#include "dchelp.h"
#include "inproc.h"

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

#endif
