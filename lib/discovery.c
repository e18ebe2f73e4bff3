/*
 * discovery.c: the cached REST mapper (see peerop/discovery.h).
 *
 * One entry per group-version holds the kinds its APIResourceList named.
 * Entries are never freed before the discovery is: a lookup hands out
 * pointers into them, and a refresh adds a new entry in front of the old
 * one instead of rewriting it. Lookups use the newest entry. The server's
 * reply is untrusted: items that are not objects, lack a name or kind, or
 * name a subresource ("deployments/scale") are skipped; at most 4096
 * kinds per group-version are kept.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <peerop/discovery.h>
#include "internal.h"

#define MAX_KINDS 4096
#define REFRESH_MIN_MS 1000u

typedef struct kind_ent {
	char *kind, *resource;
	int namespaced;
} kind_ent;

typedef struct gv_ent {
	struct gv_ent *next;       /* every entry, newest first */
	char *api_version, *group, *version;
	kind_ent *kinds;
	size_t nkinds;
	uint64_t fetched_ms;
	int missing;               /* the server has no such group-version */
	int stale;                 /* invalidated */
} gv_ent;

struct peerop_discovery {
	peerop_kube_client *client;
	pthread_mutex_t lock;      /* guards what follows */
	gv_ent *all;
	unsigned long long requests;
};

int peerop_discovery_new(peerop_discovery **out, peerop_kube_client *client)
{
	peerop_discovery *d;

	if (!out)
		return PEEROP_EINVAL;
	*out = NULL;
	if (!client)
		return peerop__error_set(PEEROP_EINVAL, "discovery: a client is required");
	if (!(d = calloc(1, sizeof(*d))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	d->client = client;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

static void gv_free(gv_ent *g)
{
	size_t i;

	for (i = 0; i < g->nkinds; i++) {
		free(g->kinds[i].kind);
		free(g->kinds[i].resource);
	}
	free(g->kinds);
	free(g->api_version);
	free(g->group);
	free(g->version);
	free(g);
}

void peerop_discovery_free(peerop_discovery *d)
{
	gv_ent *g, *next;

	if (!d)
		return;
	for (g = d->all; g; g = next) {
		next = g->next;
		gv_free(g);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* The newest entry for api_version; lock held. */
static gv_ent *find_gv(peerop_discovery *d, const char *api_version)
{
	gv_ent *g;

	for (g = d->all; g; g = g->next)
		if (!strcmp(g->api_version, api_version))
			return g;
	return NULL;
}

static const kind_ent *find_kind(const gv_ent *g, const char *kind)
{
	size_t i;

	for (i = 0; g && i < g->nkinds; i++)
		if (!strcmp(g->kinds[i].kind, kind))
			return &g->kinds[i];
	return NULL;
}

/* Ask the server; a new entry (not yet linked) in *out. */
static int fetch(gv_ent **out, peerop_discovery *d, const char *api_version)
{
	const char *slash = strchr(api_version, '/');
	peerop__buf path = PEEROP__BUF_INIT;
	json_t *list = NULL, *items, *it;
	gv_ent *g;
	size_t i;
	int rc;

	*out = NULL;
	if (!(g = calloc(1, sizeof(*g))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	g->api_version = peerop__strdup(api_version);
	g->group = slash ? peerop__strndup(api_version, (size_t)(slash - api_version)) : peerop__strdup("");
	g->version = peerop__strdup(slash ? slash + 1 : api_version);
	if (!g->api_version || !g->group || !g->version) {
		gv_free(g);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	rc = slash ? peerop__buf_puts(&path, "/apis/") : peerop__buf_puts(&path, "/api/");
	if (rc == 0 && slash) {
		rc = peerop__buf_put_urlencoded(&path, g->group);
		if (rc == 0)
			rc = peerop__buf_putc(&path, '/');
	}
	if (rc == 0)
		rc = peerop__buf_put_urlencoded(&path, g->version);
	if (rc < 0) {
		peerop__buf_dispose(&path);
		gv_free(g);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	d->requests++;
	pthread_mutex_unlock(&d->lock);
	rc = peerop_kube_request(&list, d->client, "GET", path.ptr, NULL, NULL);
	peerop__buf_dispose(&path);
	g->fetched_ms = peerop__now_ms();
	if (rc == PEEROP_ENOTFOUND) {
		g->missing = 1;
		*out = g;
		return 0;
	}
	if (rc < 0) {
		gv_free(g);
		return rc;
	}
	items = json_object_get(list, "resources");
	if (!json_is_array(items)) {
		json_decref(list);
		gv_free(g);
		return peerop__error_set(PEEROP_EPROTO, "discovery %s: the reply is not an APIResourceList", api_version);
	}
	if (!(g->kinds = calloc(json_array_size(items) < MAX_KINDS ? json_array_size(items) + 1 : MAX_KINDS,
	    sizeof(*g->kinds)))) {
		json_decref(list);
		gv_free(g);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	json_array_foreach(items, i, it) {
		const char *name = json_string_value(json_object_get(it, "name"));
		const char *kind = json_string_value(json_object_get(it, "kind"));
		kind_ent *k;
		if (g->nkinds == MAX_KINDS)
			break;
		if (!name || !*name || !kind || !*kind || strchr(name, '/') || find_kind(g, kind))
			continue;
		k = &g->kinds[g->nkinds];
		k->kind = peerop__strdup(kind);
		k->resource = peerop__strdup(name);
		k->namespaced = json_is_true(json_object_get(it, "namespaced"));
		if (!k->kind || !k->resource) {
			free(k->kind);
			free(k->resource);
			json_decref(list);
			gv_free(g);
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		}
		g->nkinds++;
	}
	json_decref(list);
	*out = g;
	return 0;
}

static int same_kinds(const gv_ent *a, const gv_ent *b)
{
	size_t i;

	if (a->missing != b->missing || a->nkinds != b->nkinds)
		return 0;
	for (i = 0; i < a->nkinds; i++)
		if (strcmp(a->kinds[i].kind, b->kinds[i].kind) || strcmp(a->kinds[i].resource, b->kinds[i].resource) ||
		    a->kinds[i].namespaced != b->kinds[i].namespaced)
			return 0;
	return 1;
}

int peerop_discovery_resource_for(peerop_kube_resource *out, peerop_discovery *d,
	const char *api_version, const char *kind)
{
	gv_ent *g, *fresh = NULL;
	const kind_ent *k;
	int rc, ask;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || !d || !api_version || !*api_version || !kind || !*kind ||
	    api_version[0] == '/' || strchr(strchr(api_version, '/') ? strchr(api_version, '/') + 1 : api_version, '/'))
		return peerop__error_set(PEEROP_EINVAL, "discovery: an apiVersion (\"v1\", \"apps/v1\") and a kind are required");
	pthread_mutex_lock(&d->lock);
	g = find_gv(d, api_version);
	k = g && !g->stale ? find_kind(g, kind) : NULL;
	/* unknown: ask, unless asked less than a second ago */
	ask = !k && (!g || g->stale || peerop__now_ms() - g->fetched_ms >= REFRESH_MIN_MS);
	pthread_mutex_unlock(&d->lock);
	if (ask) {
		if ((rc = fetch(&fresh, d, api_version)) < 0)
			return rc;
		pthread_mutex_lock(&d->lock);
		g = find_gv(d, api_version);
		if (g && same_kinds(g, fresh)) {
			/* nothing new: keep the entry (memory grows only with real changes) */
			g->fetched_ms = fresh->fetched_ms;
			g->stale = 0;
			gv_free(fresh);
		} else {
			fresh->next = d->all;
			d->all = fresh;
			g = fresh;
		}
		k = find_kind(g, kind);
		pthread_mutex_unlock(&d->lock);
	} else if (!k) {
		pthread_mutex_lock(&d->lock);
		g = find_gv(d, api_version);
		pthread_mutex_unlock(&d->lock);
	}
	if (g && g->missing)
		return peerop__error_set(PEEROP_ENOTFOUND, "discovery: the server has no API %s", api_version);
	if (!k)
		return peerop__error_set(PEEROP_ENOTFOUND, "discovery: %s has no kind %s", api_version, kind);
	out->group = g->group;
	out->version = g->version;
	out->resource = k->resource;
	out->namespaced = k->namespaced;
	return 0;
}

int peerop_discovery_resource_of(peerop_kube_resource *out, peerop_discovery *d, const json_t *object)
{
	return peerop_discovery_resource_for(out, d, json_string_value(json_object_get(object, "apiVersion")),
		json_string_value(json_object_get(object, "kind")));
}

void peerop_discovery_invalidate(peerop_discovery *d)
{
	gv_ent *g;

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	for (g = d->all; g; g = g->next)
		g->stale = 1;
	pthread_mutex_unlock(&d->lock);
}

unsigned long long peerop_discovery_requests(const peerop_discovery *d)
{
	unsigned long long n;

	if (!d)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&d->lock);
	n = d->requests;
	pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
	return n;
}
