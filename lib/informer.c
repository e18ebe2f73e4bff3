/*
 * informer.c: a watch feeding a store (informer_store.c), with handlers.
 *
 * The store is written only from the watch thread, so the order of
 * changes in the store is the order of the watch's events; on_change runs
 * after the store has changed, so a handler that reads the store sees at
 * least the state it is told about.
 */
#include "internal.h"
#include "watch_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct peerop_informer {
	peerop_kube_client *client;
	peerop_kube_resource res;
	char *group, *version, *resource;
	peerop_informer_options opts;
	char *ns, *label, *field;
	peerop__store *store;
	peerop_watch *watch;
	char **label_keys;
	size_t nlabel_keys;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int synced;   /* guarded by lock */
	int stopped;  /* guarded by lock */
};

PEEROP_EXTERN(int) peerop_informer_options_init(peerop_informer_options *opts, unsigned int version)
{
	peerop_informer_options init = PEEROP_INFORMER_OPTIONS_INIT;
	if (!opts || version != PEEROP_INFORMER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

static int default_transform(json_t *obj, void *payload)
{
	(void)payload;
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
	return 0;
}

static void on_event(peerop_watch_event_type type, json_t *obj, void *payload)
{
	peerop_informer *inf = payload;
	json_t *last = NULL;
	char *key;
	int keep;

	switch (type) {
	case PEEROP_WATCH_SYNCED:
		pthread_mutex_lock(&inf->lock);
		inf->synced = 1;
		pthread_cond_broadcast(&inf->cond);
		pthread_mutex_unlock(&inf->lock);
		if (inf->opts.on_change)
			inf->opts.on_change(type, NULL, inf->opts.payload);
		return;
	case PEEROP_WATCH_ADDED:
	case PEEROP_WATCH_MODIFIED:
		if (inf->opts.transform)
			keep = inf->opts.transform(obj, inf->opts.payload) == 0;
		else
			keep = inf->opts.keep_managed_fields ? 1 : default_transform(obj, NULL) == 0;
		if (keep) {
			if (peerop__store_upsert(inf->store, obj) != 0) {
				peerop__errlog("informer", "%s: %s", inf->resource, peerop_error_last()->message);
				return;
			}
			if (inf->opts.on_change)
				inf->opts.on_change(type, obj, inf->opts.payload);
			return;
		}
		/* dropped by the transform: no longer in the cache */
		/* fall through */
	case PEEROP_WATCH_DELETED:
		key = peerop__store_key(obj);
		if (!key)
			return;
		if (peerop__store_delete(inf->store, key, &last) == 0 && inf->opts.on_change)
			inf->opts.on_change(PEEROP_WATCH_DELETED, last ? last : obj, inf->opts.payload);
		json_decref(last);
		free(key);
		return;
	}
}

PEEROP_EXTERN(int) peerop_informer_new(peerop_informer **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const peerop_informer_options *opts)
{
	peerop_informer_options defaults = PEEROP_INFORMER_OPTIONS_INIT;
	peerop_informer *inf;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !client || !res || !res->version || !res->resource)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_new: client and resource are required");
	if (!opts)
		opts = &defaults;
	if (opts->version != PEEROP_INFORMER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_new: unknown options version %u", opts->version);
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return peerop__error_set(PEEROP_ENOMEM, "peerop_informer_new: out of memory");
	pthread_mutex_init(&inf->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&inf->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	inf->client = client;
	inf->opts = *opts;
	inf->group = strdup(res->group ? res->group : "");
	inf->version = strdup(res->version);
	inf->resource = strdup(res->resource);
	inf->ns = peerop__strdup(opts->watch.ns);
	inf->label = peerop__strdup(opts->watch.label_selector);
	inf->field = peerop__strdup(opts->watch.field_selector);
	if (!inf->group || !inf->version || !inf->resource || (opts->watch.ns && !inf->ns) ||
	    (opts->watch.label_selector && !inf->label) || (opts->watch.field_selector && !inf->field) ||
	    (rc = peerop__store_new(&inf->store)) != 0) {
		peerop_informer_free(inf);
		return peerop__error_set(PEEROP_ENOMEM, "peerop_informer_new: out of memory");
	}
	inf->res.group = inf->group;
	inf->res.version = inf->version;
	inf->res.resource = inf->resource;
	inf->res.namespaced = res->namespaced;
	inf->opts.watch.ns = inf->ns;
	inf->opts.watch.label_selector = inf->label;
	inf->opts.watch.field_selector = inf->field;
	inf->opts.watch.on_event = on_event;
	inf->opts.watch.payload = inf;
	*out = inf;
	return 0;
}

PEEROP_EXTERN(int) peerop_informer_add_index(peerop_informer *inf, const char *name,
	peerop_informer_index_cb fn, void *payload)
{
	if (!inf || !name || !fn)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_add_index: missing argument");
	if (inf->watch)
		return peerop__error_set(PEEROP_EINVAL, "informer index \"%s\": add indexes before start", name);
	return peerop__store_add_index(inf->store, name, fn, payload);
}

PEEROP_EXTERN(int) peerop_informer_add_owner_index(peerop_informer *inf, const char *name)
{
	if (!inf || !name)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_add_owner_index: missing argument");
	if (inf->watch)
		return peerop__error_set(PEEROP_EINVAL, "informer index \"%s\": add indexes before start", name);
	return peerop__store_add_index(inf->store, name, peerop__index_controller_uid, NULL);
}

PEEROP_EXTERN(int) peerop_informer_add_label_index(peerop_informer *inf, const char *name, const char *label_key)
{
	char **keys, *copy;
	int rc;
	if (!inf || !name || !label_key)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_add_label_index: missing argument");
	if (inf->watch)
		return peerop__error_set(PEEROP_EINVAL, "informer index \"%s\": add indexes before start", name);
	keys = realloc(inf->label_keys, (inf->nlabel_keys + 1) * sizeof(*keys));
	if (!keys)
		return PEEROP_ENOMEM;
	inf->label_keys = keys;
	if (!(copy = strdup(label_key)))
		return PEEROP_ENOMEM;
	rc = peerop__store_add_index(inf->store, name, peerop__index_label, copy);
	if (rc) {
		free(copy);
		return rc;
	}
	inf->label_keys[inf->nlabel_keys++] = copy;
	return 0;
}

PEEROP_EXTERN(int) peerop_informer_start(peerop_informer *inf)
{
	if (!inf)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_start: missing informer");
	if (inf->watch)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_start: already started");
	return peerop_watch_start(&inf->watch, inf->client, &inf->res, &inf->opts.watch);
}

PEEROP_EXTERN(int) peerop_informer_wait_synced(peerop_informer *inf, unsigned int timeout_ms)
{
	struct timespec ts;
	uint64_t ns;
	int rc = 0;
	if (!inf)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_wait_synced: missing informer");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + (uint64_t)(timeout_ms % 1000) * 1000000u;
	ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_mutex_lock(&inf->lock);
	while (!inf->synced && !inf->stopped && rc == 0)
		rc = pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
	rc = inf->synced ? 0 : inf->stopped ? PEEROP_ECANCELED : PEEROP_ETIMEOUT;
	pthread_mutex_unlock(&inf->lock);
	if (rc == PEEROP_ETIMEOUT)
		return peerop__error_set(rc, "informer %s: not synced after %u ms", inf->resource, timeout_ms);
	if (rc == PEEROP_ECANCELED)
		return peerop__error_set(rc, "informer %s: stopped before it synced", inf->resource);
	return 0;
}

PEEROP_EXTERN(int) peerop_informer_has_synced(const peerop_informer *inf)
{
	return inf && inf->watch ? peerop_watch_has_synced(inf->watch) : 0;
}

static char *object_key(const peerop_informer *inf, const char *ns, const char *name)
{
	peerop__buf b = PEEROP__BUF_INIT;
	if (inf->res.namespaced && ns && *ns && (peerop__buf_puts(&b, ns) || peerop__buf_putc(&b, '/'))) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	if (peerop__buf_puts(&b, name)) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	return peerop__buf_detach(&b);
}

PEEROP_EXTERN(int) peerop_informer_get(json_t **out, peerop_informer *inf, const char *ns, const char *name)
{
	char *key;
	int rc;
	if (out)
		*out = NULL;
	if (!out || !inf || !name)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_get: missing argument");
	if (!(key = object_key(inf, ns, name)))
		return PEEROP_ENOMEM;
	rc = peerop__store_get(inf->store, key, out);
	free(key);
	return rc;
}

PEEROP_EXTERN(int) peerop_informer_list(json_t **out, peerop_informer *inf, const char *ns)
{
	if (out)
		*out = NULL;
	if (!out || !inf)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_list: missing argument");
	return peerop__store_list(inf->store, ns && *ns ? ns : NULL, out);
}

PEEROP_EXTERN(int) peerop_informer_by_index(json_t **out, peerop_informer *inf, const char *index, const char *value)
{
	if (out)
		*out = NULL;
	if (!out || !inf || !index || !value)
		return peerop__error_set(PEEROP_EINVAL, "peerop_informer_by_index: missing argument");
	return peerop__store_by_index(inf->store, index, value, out);
}

PEEROP_EXTERN(size_t) peerop_informer_count(peerop_informer *inf)
{
	return inf ? peerop__store_count(inf->store) : 0;
}

PEEROP_EXTERN(size_t) peerop_informer_bytes(peerop_informer *inf)
{
	return inf ? peerop__store_bytes(inf->store) : 0;
}

PEEROP_EXTERN(peerop_watch *) peerop_informer_watch(peerop_informer *inf)
{
	return inf ? inf->watch : NULL;
}

PEEROP_EXTERN(void) peerop_informer_stop(peerop_informer *inf)
{
	if (!inf)
		return;
	peerop_watch_stop(inf->watch);
	pthread_mutex_lock(&inf->lock);
	inf->stopped = 1;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
}

PEEROP_EXTERN(void) peerop_informer_free(peerop_informer *inf)
{
	size_t i;
	if (!inf)
		return;
	peerop_informer_stop(inf);
	peerop_watch_free(inf->watch);
	peerop__store_free(inf->store);
	for (i = 0; i < inf->nlabel_keys; i++)
		free(inf->label_keys[i]);
	free(inf->label_keys);
	free(inf->group);
	free(inf->version);
	free(inf->resource);
	free(inf->ns);
	free(inf->label);
	free(inf->field);
	pthread_mutex_destroy(&inf->lock);
	pthread_cond_destroy(&inf->cond);
	free(inf);
}
