/* store.c: collections, the global resourceVersion, indexes by uid and by
 * owner, and the bounded event history that watches read.
 *
 * Watches do not get a queue each: they keep a cursor (a resourceVersion)
 * into the one shared history ring. Writers append and never wait for
 * readers; a watcher whose cursor falls out of the ring (too slow, or the
 * history was expired) gets the in-stream 410 Expired ERROR and must relist.
 * That bounds memory by the history size, not by watchers x backlog. */
#include "apiserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct dc_deps {
	dc_entry **v;
	size_t n, cap;
} dc_deps;

static char *make_key(const char *ns, const char *name)
{
	size_t a = strlen(ns), b = strlen(name);
	char *k = malloc(a + b + 2);
	if (!k)
		return NULL;
	memcpy(k, ns, a);
	k[a] = '/';
	memcpy(k + a + 1, name, b + 1);
	return k;
}

dc_coll *dc_store_coll(dc_store *s, const char *group, const char *plural)
{
	size_t i;
	dc_coll *c;
	char buf[512];
	for (i = 0; i < s->ncolls; i++)
		if (!strcmp(s->colls[i]->group, group) && !strcmp(s->colls[i]->plural, plural))
			return s->colls[i];
	if (s->ncolls == s->colls_cap) {
		size_t ncap = s->colls_cap ? s->colls_cap * 2 : 16;
		dc_coll **nc = realloc(s->colls, ncap * sizeof(*nc));
		if (!nc)
			return NULL;
		s->colls = nc;
		s->colls_cap = ncap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (group[0])
		snprintf(buf, sizeof(buf), "%s.%s", plural, group);
	else
		snprintf(buf, sizeof(buf), "%s", plural);
	c->resource = strdup(buf);
	c->group = strdup(group);
	c->plural = strdup(plural);
	if (!c->resource || !c->group || !c->plural) {
		free(c->resource);
		free(c->group);
		free(c->plural);
		peerop__map_dispose(&c->entries);
		free(c);
		return NULL;
	}
	if (!strcmp(group, "apiextensions.k8s.io") && !strcmp(plural, "customresourcedefinitions"))
		c->on_commit = dc_crd_on_commit;
	s->colls[s->ncolls++] = c;
	return c;
}

static void coll_free(dc_coll *c)
{
	size_t i;
	for (i = 0; i < c->n; i++) {
		dc_obj_unref(c->arr[i]->obj);
		free(c->arr[i]->key);
		free(c->arr[i]);
	}
	free(c->arr);
	peerop__map_dispose(&c->entries);
	free(c->resource);
	free(c->group);
	free(c->plural);
	free(c);
}

dc_entry *dc_coll_get(dc_coll *c, const char *ns, const char *name)
{
	char stack[600];
	char *k;
	dc_entry *e;
	size_t a = strlen(ns), b = strlen(name);
	if (a + b + 2 <= sizeof(stack)) {
		memcpy(stack, ns, a);
		stack[a] = '/';
		memcpy(stack + a + 1, name, b + 1);
		return peerop__map_get(&c->entries, stack);
	}
	k = make_key(ns, name);
	if (!k)
		return NULL;
	e = peerop__map_get(&c->entries, k);
	free(k);
	return e;
}

dc_entry *dc_store_by_uid(dc_store *s, const char *uid)
{
	return uid && *uid ? peerop__map_get(&s->uids, uid) : NULL;
}

/* first index in [lo, hi) whose key is >= k (or > k when strict) */
static size_t lower_bound(dc_coll *c, size_t lo, size_t hi, const char *k, bool strict)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->arr[mid]->key, k);
		if (r < 0 || (strict && r == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void dc_coll_range(dc_coll *c, const char *ns, size_t *lo, size_t *hi)
{
	char *k;
	size_t n;
	*lo = 0;
	*hi = c->n;
	if (!ns)
		return;
	/* keys in namespace ns are exactly those in ["ns/", "ns0"): '0' follows '/' */
	n = strlen(ns);
	k = malloc(n + 2);
	if (!k)
		return;
	memcpy(k, ns, n);
	k[n] = '/';
	k[n + 1] = '\0';
	*lo = lower_bound(c, 0, c->n, k, false);
	k[n] = '0';
	*hi = lower_bound(c, *lo, c->n, k, false);
	free(k);
}

size_t dc_coll_after(dc_coll *c, size_t lo, size_t hi, const char *after)
{
	return lower_bound(c, lo, hi, after, true);
}

size_t dc_store_dependents(dc_store *s, const char *owner_uid, dc_entry ***out)
{
	dc_deps *d = peerop__map_get(&s->owners, owner_uid);
	*out = d ? d->v : NULL;
	return d ? d->n : 0;
}

static int deps_add(dc_store *s, dc_entry *e)
{
	size_t i, j;
	for (i = 0; i < e->obj->nowners; i++) {
		const char *uid = e->obj->owners[i];
		dc_deps *d = peerop__map_get(&s->owners, uid);
		if (!d) {
			d = calloc(1, sizeof(*d));
			if (!d || peerop__map_put(&s->owners, uid, d, NULL) != 0) {
				free(d);
				return PEEROP_ENOMEM;
			}
		}
		for (j = 0; j < d->n && d->v[j] != e; j++)
			;
		if (j < d->n)
			continue;
		if (d->n == d->cap) {
			size_t ncap = d->cap ? d->cap * 2 : 4;
			dc_entry **nv = realloc(d->v, ncap * sizeof(*nv));
			if (!nv)
				return PEEROP_ENOMEM;
			d->v = nv;
			d->cap = ncap;
		}
		d->v[d->n++] = e;
	}
	return 0;
}

static void deps_remove(dc_store *s, dc_entry *e, const dc_obj *o)
{
	size_t i, j;
	for (i = 0; i < o->nowners; i++) {
		dc_deps *d = peerop__map_get(&s->owners, o->owners[i]);
		if (!d)
			continue;
		for (j = 0; j < d->n; j++) {
			if (d->v[j] == e) {
				d->v[j] = d->v[--d->n];
				break;
			}
		}
		if (d->n == 0) {
			peerop__map_remove(&s->owners, o->owners[i]);
			free(d->v);
			free(d);
		}
	}
}

static void ring_pop(dc_store *s)
{
	dc_event *ev = &s->ring[s->ring_head];
	dc_obj_unref(ev->obj);
	dc_obj_unref(ev->old);
	s->compacted_rv = ev->rv;
	memset(ev, 0, sizeof(*ev));
	s->ring_head = (s->ring_head + 1) % s->ring_cap;
	s->ring_len--;
}

const dc_event *dc_store_event(const dc_store *s, uint64_t rv)
{
	if (rv <= s->compacted_rv || rv > s->rv)
		return NULL;
	return &s->ring[(s->ring_head + (size_t)(rv - s->compacted_rv - 1)) % s->ring_cap];
}

void dc_store_expire_history(dc_store *s)
{
	while (s->ring_len > 0)
		ring_pop(s);
	s->compacted_rv = s->rv;
	pthread_cond_broadcast(&s->cond);
}

int dc_store_apply(dc_store *s, dc_coll *c, const char *key, dc_obj *nobj,
	bool deleted, bool replay)
{
	dc_entry *e = peerop__map_get(&c->entries, key);
	dc_obj *old = e ? e->obj : NULL;
	dc_evtype type;

	if (deleted && !e) {
		dc_obj_unref(nobj);
		return replay ? 0 : PEEROP_ENOENT;
	}
	if (!replay && s->log) {
		int rc = deleted ? dc_persist_del(s->log, c, nobj, nobj->rv) : dc_persist_put(s->log, c, nobj);
		if (rc != 0) {
			dc_obj_unref(nobj);
			return rc;
		}
	}
	if (nobj->rv > s->rv)
		s->rv = nobj->rv;

	if (deleted) {
		type = DC_EV_DELETED;
		size_t at = lower_bound(c, 0, c->n, key, false);
		peerop__map_remove(&c->entries, key);
		/* keep the array sorted: lists, namespace ranges and continue
		 * tokens are binary searches, and a memmove of pointers is cheap
		 * next to sorting 100,000 entries for the next list */
		if (at < c->n && c->arr[at] == e) {
			memmove(c->arr + at, c->arr + at + 1, (c->n - at - 1) * sizeof(*c->arr));
			c->n--;
		}
		peerop__map_remove(&s->uids, old->uid);
		deps_remove(s, e, old);
		free(e->key);
		free(e);
	} else if (e) {
		type = DC_EV_MODIFIED;
		deps_remove(s, e, old);
		e->obj = dc_obj_ref(nobj);
		deps_add(s, e);
	} else {
		type = DC_EV_ADDED;
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strdup(key)) || peerop__map_put(&c->entries, key, e, NULL) != 0)
			goto oom;
		if (c->n == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 16;
			dc_entry **na = realloc(c->arr, ncap * sizeof(*na));
			if (!na) {
				peerop__map_remove(&c->entries, key);
				goto oom;
			}
			c->arr = na;
			c->cap = ncap;
		}
		{
			/* creates in key order (replay, bulk loads) append */
			size_t at = c->n > 0 && strcmp(c->arr[c->n - 1]->key, key) < 0 ? c->n
				: lower_bound(c, 0, c->n, key, false);
			memmove(c->arr + at + 1, c->arr + at, (c->n - at) * sizeof(*c->arr));
			c->arr[at] = e;
			c->n++;
		}
		e->coll = c;
		e->obj = dc_obj_ref(nobj);
		peerop__map_put(&s->uids, nobj->uid, e, NULL);
		deps_add(s, e);
	}

	if (c->on_commit)
		c->on_commit(s, c, deleted ? NULL : nobj, old);

	if (replay) {
		dc_obj_unref(old);
		dc_obj_unref(nobj);
		s->compacted_rv = s->rv;
		return 0;
	}
	if (s->ring_len == s->ring_cap)
		ring_pop(s);
	{
		dc_event *ev = &s->ring[(s->ring_head + s->ring_len) % s->ring_cap];
		ev->rv = nobj->rv;
		ev->type = type;
		ev->coll = c;
		ev->obj = nobj;   /* the reference we were given */
		ev->old = old;    /* the entry's former reference */
		s->ring_len++;
	}
	pthread_cond_broadcast(&s->cond);
	return 0;
oom:
	if (e)
		free(e->key);
	free(e);
	dc_obj_unref(nobj);
	return PEEROP_ENOMEM;
}

int dc_store_commit(dc_store *s, dc_coll *c, const char *ns, const char *name,
	json_t *obj, dc_obj **out)
{
	char rvs[32], *key;
	uint64_t rv = s->rv + 1;
	dc_obj *nobj;
	int rc;

	key = make_key(ns, name);
	if (!key)
		return PEEROP_ENOMEM;
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
	if (obj) {
		json_object_set_new(dc_json_meta(obj), "resourceVersion", json_string(rvs));
		nobj = dc_obj_new(obj, rv);
	} else {
		dc_entry *e = peerop__map_get(&c->entries, key);
		json_t *last;
		if (!e) {
			free(key);
			return PEEROP_ENOENT;
		}
		/* a deleted object is reported with the resourceVersion of its deletion */
		last = dc_obj_parse(e->obj);
		if (!last) {
			free(key);
			return PEEROP_ENOMEM;
		}
		json_object_set_new(dc_json_meta(last), "resourceVersion", json_string(rvs));
		nobj = dc_obj_new(last, rv);
		json_decref(last);
	}
	if (!nobj) {
		free(key);
		return PEEROP_ENOMEM;
	}
	rc = dc_store_apply(s, c, key, nobj, obj == NULL, false);
	if (rc == 0 && out)
		*out = nobj;
	free(key);
	return rc;
}

bool dc_store_wait(dc_store *s, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT;
}

bool dc_wait_rv(dc_store *s, uint64_t rv, unsigned ms)
{
	uint64_t deadline = peerop__now_ms() + ms;
	while (s->rv < rv) {
		uint64_t now = peerop__now_ms();
		if (now >= deadline || s->stopping)
			return false;
		dc_store_wait(s, (unsigned)(deadline - now));
	}
	return true;
}

/* The ServiceAccount "default" of a namespace, as the controller manager's
 * serviceaccounts controller makes it in every namespace. Lock held. */
int dc_store_ensure_default_sa(dc_store *s, const char *ns)
{
	const dc_rtype *rt = dc_rtype_find(s, "", "v1", "serviceaccounts");
	char uid[37], ts[32];
	json_t *o;
	int rc;
	if (!rt || dc_coll_get(rt->coll, ns, "default"))
		return 0;
	dc_new_uid(uid);
	dc_now_rfc3339(ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "kind", "ServiceAccount", "apiVersion", "v1",
		"metadata", "name", "default", "namespace", ns, "uid", uid, "creationTimestamp", ts);
	if (!o)
		return PEEROP_ENOMEM;
	rc = dc_store_commit(s, rt->coll, ns, "default", o, NULL);
	json_decref(o);
	return rc;
}

static int ensure_namespace(dc_store *s, const char *name)
{
	const dc_rtype *rt = dc_rtype_find(s, "", "v1", "namespaces");
	char uid[37], ts[32];
	json_t *o;
	int rc;
	if (dc_coll_get(rt->coll, "", name))
		return 0;
	dc_new_uid(uid);
	dc_now_rfc3339(ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "kind", "Namespace", "apiVersion", "v1",
		"metadata", "name", name, "uid", uid, "creationTimestamp", ts);
	if (!o)
		return PEEROP_ENOMEM;
	rt->defaults(o);
	rc = dc_store_commit(s, rt->coll, "", name, o, NULL);
	json_decref(o);
	return rc;
}

int dc_store_new(dc_store **out, const dc_store_options *opts)
{
	static const char *const initial_ns[] = { "default", "kube-system", "kube-public", "kube-node-lease" };
	dc_store *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	size_t i;
	int rc;

	*out = NULL;
	if (!s)
		return PEEROP_ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->ring_cap = opts && opts->history_size ? opts->history_size : 10000;
	s->ring = calloc(s->ring_cap, sizeof(*s->ring));
	s->podlogs = dc_podlogs_new();
	if (!s->ring || !s->podlogs) {
		dc_store_free(s);
		return PEEROP_ENOMEM;
	}
	rc = dc_rtypes_init_builtin(s);
	if (rc == 0 && opts && opts->data_dir)
		rc = dc_persist_open(s, opts->data_dir);
	pthread_mutex_lock(&s->mu);
	for (i = 0; rc == 0 && i < PEEROP__ARRAY_SIZE(initial_ns); i++)
		if ((rc = ensure_namespace(s, initial_ns[i])) == 0)
			rc = dc_store_ensure_default_sa(s, initial_ns[i]);
	if (rc == 0)
		rc = dc_rbac_bootstrap(s);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		dc_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int free_deps(const char *key, void *val, void *arg)
{
	dc_deps *d = val;
	(void)key;
	(void)arg;
	free(d->v);
	free(d);
	return 0;
}

int dc_store_pod_log_append(dc_store *s, const char *ns, const char *name, const char *data, size_t len)
{
	const dc_rtype *rt = dc_rtype_find(s, "", "v1", "pods");
	dc_entry *e = rt ? dc_coll_get(rt->coll, ns, name) : NULL;
	json_t *pod, *c;
	const char *cname;
	if (!e)
		return PEEROP_ENOENT;
	pod = dc_obj_parse(e->obj);
	c = json_array_get(dc_json_path(pod, "spec.containers"), 0);
	cname = json_string_value(json_object_get(c, "name"));
	dc_podlog_write(s->podlogs, e->obj->uid, cname ? cname : "", data, len);
	json_decref(pod);
	return 0;
}

void dc_store_free(dc_store *s)
{
	size_t i;
	if (!s)
		return;
	while (s->ring && s->ring_len > 0)
		ring_pop(s);
	free(s->ring);
	peerop__map_each(&s->owners, free_deps, NULL);
	peerop__map_dispose(&s->owners);
	peerop__map_dispose(&s->uids);
	dc_podlogs_free(s->podlogs);
	free(s->kubelet_node);
	for (i = 0; i < s->ntypes; i++)
		dc_rtype_free(s->types[i]);
	free(s->types);
	for (i = 0; i < s->ncolls; i++)
		coll_free(s->colls[i]);
	free(s->colls);
	dc_persist_close(s->log);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
