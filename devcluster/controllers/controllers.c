/* controllers.c: the controller manager: one follower thread (follow.c)
 * for the Deployment and ReplicaSet controllers. An event about a pod
 * queues its ReplicaSet (and that one's Deployment: Recreate waits for
 * pods); an event about a ReplicaSet queues it and its Deployment. */
#include "controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dc_ctlmgr {
	dc_follow *f;
	dc_coll *deploys, *rss, *pods;
};

static void add_key(dc_follow *f, const char *kind, const dc_obj *o)
{
	char key[600];
	snprintf(key, sizeof(key), "%s/%s/%s", kind, o->ns, o->name);
	dc_follow_add(f, key);
}

/* Queue the ReplicaSets and Deployments among o's owners. */
static void add_owners(dc_ctlmgr *m, dc_follow *f, dc_store *s, const dc_obj *o, int depth)
{
	size_t i;
	for (i = 0; o && i < o->nowners; i++) {
		dc_entry *e = dc_store_by_uid(s, o->owners[i]);
		if (!e)
			continue;
		if (e->coll == m->rss) {
			add_key(f, "rs", e->obj);
			if (depth == 0)
				add_owners(m, f, s, e->obj, 1);
		} else if (e->coll == m->deploys) {
			add_key(f, "deploy", e->obj);
		}
	}
}

static void ctl_event(dc_follow *f, dc_store *s, const dc_event *ev, void *arg)
{
	dc_ctlmgr *m = arg;
	if (ev->coll == m->deploys) {
		add_key(f, "deploy", ev->obj);
	} else if (ev->coll == m->rss) {
		add_key(f, "rs", ev->obj);
		add_owners(m, f, s, ev->obj, 1);
	} else if (ev->coll == m->pods) {
		add_owners(m, f, s, ev->obj, 0);
	}
}

static void ctl_resync(dc_follow *f, dc_store *s, void *arg)
{
	dc_ctlmgr *m = arg;
	size_t i;
	(void)s;
	for (i = 0; i < m->rss->n; i++)
		add_key(f, "rs", m->rss->arr[i]->obj);
	for (i = 0; i < m->deploys->n; i++)
		add_key(f, "deploy", m->deploys->arr[i]->obj);
}

static long ctl_sync(dc_follow *f, const char *key, void *arg)
{
	char *copy = strdup(key), *ns, *name;
	long again = 0;
	(void)arg;
	if (!copy)
		return 1000;
	ns = strchr(copy, '/');
	name = ns ? strchr(ns + 1, '/') : NULL;
	if (name) {
		*ns++ = '\0';
		*name++ = '\0';
		if (!strcmp(copy, "rs"))
			again = dc_rs_sync(dc_follow_server(f), ns, name);
		else if (!strcmp(copy, "deploy"))
			again = dc_deploy_sync(dc_follow_server(f), ns, name);
	}
	free(copy);
	return again;
}

int dc_ctlmgr_start(dc_ctlmgr **out, dc_server *srv)
{
	static const dc_follow_ops ops = { "controller-manager", ctl_event, ctl_resync, ctl_sync };
	dc_ctlmgr *m = calloc(1, sizeof(*m));
	dc_store *s = srv->store;
	int rc;
	*out = NULL;
	if (!m)
		return PEEROP_ENOMEM;
	pthread_mutex_lock(&s->mu);
	m->deploys = dc_rtype_find(s, "apps", "v1", "deployments")->coll;
	m->rss = dc_rtype_find(s, "apps", "v1", "replicasets")->coll;
	m->pods = dc_rtype_find(s, "", "v1", "pods")->coll;
	pthread_mutex_unlock(&s->mu);
	rc = dc_follow_start(&m->f, srv, &ops, m);
	if (rc) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void dc_ctlmgr_stop(dc_ctlmgr *m)
{
	if (!m)
		return;
	dc_follow_stop(m->f);
	free(m);
}
