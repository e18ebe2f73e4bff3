/*
 * controller.c: the controller runtime: caches feeding a work queue,
 * worker threads calling the program's reconcile function.
 *
 * Caches are informers; their change callbacks only turn objects into
 * keys and add them to the queue, so a slow reconcile never holds up a
 * watch. The queue gives the guarantees (one worker per key, dirty keys
 * run again, backoff); this file decides what each reconcile result means
 * for the key and keeps the figures metrics show.
 *
 * Lifecycle: new -> owns/watches -> start (caches start; a starter thread
 * waits for every cache to sync, then starts the workers) -> stop (queue
 * shut down, in-flight reconciles get the grace period, caches stopped)
 * -> free (joins every thread, even ones past the grace period: freeing
 * memory a stuck reconcile still uses would be worse than waiting).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <peerop/reconcile.h>
#include <peerop/finalizer.h>
#include "internal.h"
#include "controller_internal.h"

#define DEFAULT_GRACE_MS 30000u
#define MAX_WORKERS 256u

static const double time_bounds[] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

int peerop_controller_options_init(peerop_controller_options *opts, unsigned int version)
{
	static const peerop_controller_options init = PEEROP_CONTROLLER_OPTIONS_INIT;

	if (!opts || version != PEEROP_CONTROLLER_OPTIONS_VERSION)
		return PEEROP_EINVAL;
	*opts = init;
	return 0;
}

static void res_dispose(peerop_kube_resource *r)
{
	free((char *)r->group);
	free((char *)r->version);
	free((char *)r->resource);
	memset(r, 0, sizeof(*r));
}

static int res_copy(peerop_kube_resource *dst, const peerop_kube_resource *src)
{
	dst->namespaced = src->namespaced;
	dst->group = peerop__strdup(src->group ? src->group : "");
	dst->version = peerop__strdup(src->version);
	dst->resource = peerop__strdup(src->resource);
	if (!dst->group || !dst->version || !dst->resource) {
		res_dispose(dst);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	return 0;
}

static int res_same(const peerop_kube_resource *a, const peerop_kube_resource *b)
{
	return !strcmp(a->group ? a->group : "", b->group ? b->group : "") &&
		!strcmp(a->version, b->version) && !strcmp(a->resource, b->resource);
}

static int res_valid(const peerop_kube_resource *r)
{
	return r && r->version && *r->version && r->resource && *r->resource;
}

/* ---- keys -------------------------------------------------------------- */

/* "ns/name", or "name" for cluster-scoped objects, as client-go. */
char *peerop__controller_key(const char *ns, const char *name)
{
	peerop__buf b = PEEROP__BUF_INIT;

	if (!name || !*name)
		return NULL;
	if ((ns && *ns && (peerop__buf_puts(&b, ns) < 0 || peerop__buf_putc(&b, '/') < 0)) ||
	    peerop__buf_puts(&b, name) < 0) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	return peerop__buf_detach(&b);
}

void peerop__controller_enqueue_key(peerop_controller *c, const char *ns, const char *name)
{
	char *key = peerop__controller_key(c->primary.namespaced ? ns : NULL, name);

	if (!key) {
		peerop__warn("controller", "%s: an object without a name was ignored", c->name);
		return;
	}
	if (peerop_workqueue_add(c->queue, key) == PEEROP_ENOMEM)
		peerop__errlog("controller", "%s: out of memory queueing %s", c->name, key);
	free(key);
}

int peerop_controller_enqueue(peerop_controller *c, const char *ns, const char *name)
{
	char *key;
	int rc;

	if (!c || !name || !*name)
		return PEEROP_EINVAL;
	if (!(key = peerop__controller_key(c->primary.namespaced ? ns : NULL, name)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	rc = peerop_workqueue_add(c->queue, key);
	free(key);
	return rc;
}

/* ---- caches -------------------------------------------------------------- */

static void on_synced(peerop_controller *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->nsynced < c->ncaches)
		c->nsynced++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void primary_changed(peerop_watch_event_type type, const json_t *obj, void *payload)
{
	ctl_cache *cc = payload;
	json_t *meta;

	if (type == PEEROP_WATCH_SYNCED) {
		if (!cc->synced_once) {
			cc->synced_once = 1;
			on_synced(cc->c);
		}
		return;
	}
	if (type != PEEROP_WATCH_DELETED && !cc->pass)
		return;   /* an update no predicate cares about */
	meta = json_object_get(obj, "metadata");
	peerop__controller_enqueue_key(cc->c, json_string_value(json_object_get(meta, "namespace")),
		json_string_value(json_object_get(meta, "name")));
}

/* Whether an update of a primary passes the predicates: compared with the
 * state the cache still holds (the transform runs before the store). */
static int predicates_pass(peerop_controller *c, peerop_informer *inf, const json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata"), *old = NULL;
	size_t i;
	int pass = 0;

	if (c->npreds == 0)
		return 1;
	if (peerop_informer_get(&old, inf, json_string_value(json_object_get(meta, "namespace")),
	    json_string_value(json_object_get(meta, "name"))) != 0)
		return 1;   /* a creation (or the initial list) */
	if (peerop_object_is_deleting(obj) != peerop_object_is_deleting(old))
		pass = 1;   /* the start of a deletion always counts */
	for (i = 0; !pass && i < c->npreds; i++)
		pass = c->preds[i].fn(old, obj, c->preds[i].payload) != 0;
	json_decref(old);
	return pass;
}

/* The primary's group, from an ownerReference's apiVersion ("g/v" or "v"). */
static int group_matches(const char *api_version, const char *group)
{
	const char *slash = api_version ? strchr(api_version, '/') : NULL;

	if (!api_version)
		return 0;
	if (!slash)
		return !*group;
	return strlen(group) == (size_t)(slash - api_version) && !strncmp(api_version, group, strlen(group));
}

/* Queue the primary that controls obj, if it is one of ours. */
static void enqueue_owner(ctl_cache *cc, const json_t *obj)
{
	peerop_controller *c = cc->c;
	json_t *meta = json_object_get(obj, "metadata"), *refs, *r, *found = NULL;
	const char *uid = NULL;
	size_t i;

	refs = json_object_get(meta, "ownerReferences");
	json_array_foreach(refs, i, r) {
		if (json_is_true(json_object_get(r, "controller"))) {
			uid = json_string_value(json_object_get(r, "uid"));
			break;
		}
	}
	if (!uid)
		return;
	if (peerop_informer_by_index(&found, c->caches[0]->inf, "uid", uid) == 0 &&
	    json_array_size(found) > 0) {
		json_t *pm = json_object_get(json_array_get(found, 0), "metadata");
		peerop__controller_enqueue_key(c, json_string_value(json_object_get(pm, "namespace")),
			json_string_value(json_object_get(pm, "name")));
	} else if (!peerop_informer_has_synced(c->caches[0]->inf)) {
		/* The owner may not be cached yet: match it by group and kind (the
		 * kind learned from primaries seen so far, if any); at worst this
		 * queues a key whose reconcile finds nothing. */
		const char *kind = json_string_value(json_object_get(r, "kind"));
		int kind_ok;
		pthread_mutex_lock(&c->lock);
		kind_ok = !c->primary_kind || (kind && !strcmp(kind, c->primary_kind));
		pthread_mutex_unlock(&c->lock);
		if (kind_ok && group_matches(json_string_value(json_object_get(r, "apiVersion")), c->primary.group))
			peerop__controller_enqueue_key(c, json_string_value(json_object_get(meta, "namespace")),
				json_string_value(json_object_get(r, "name")));
	}
	json_decref(found);
}

static void secondary_changed(peerop_watch_event_type type, const json_t *obj, void *payload)
{
	ctl_cache *cc = payload;

	if (type == PEEROP_WATCH_SYNCED) {
		if (!cc->synced_once) {
			cc->synced_once = 1;
			on_synced(cc->c);
		}
		return;
	}
	if (cc->map) {
		cc->map(obj, cc->enqueue_fn, cc, cc->map_payload);
		return;
	}
	enqueue_owner(cc, obj);
}

static void map_enqueue(const char *ns, const char *name, void *ctx)
{
	ctl_cache *cc = ctx;
	peerop__controller_enqueue_key(cc->c, ns, name);
}

static void uid_index(const json_t *obj, peerop_informer_index_emit emit, void *ctx, void *payload)
{
	const char *uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
	(void)payload;
	if (uid)
		emit(uid, ctx);
}

/* Learn the primary's kind from the objects (for ownerReferences seen
 * before the primary cache has synced). Runs before storing. */
static int primary_transform(json_t *obj, void *payload)
{
	ctl_cache *cc = payload;
	peerop_controller *c = cc->c;
	const char *kind = json_string_value(json_object_get(obj, "kind"));

	if (kind && !__atomic_load_n(&c->primary_kind_set, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&c->lock);
		if (!c->primary_kind)
			c->primary_kind = peerop__strdup(kind);
		__atomic_store_n(&c->primary_kind_set, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&c->lock);
	}
	if (!c->opts.keep_managed_fields)
		json_object_del(json_object_get(obj, "metadata"), "managedFields");
	cc->pass = predicates_pass(c, cc->inf, obj);
	return 0;
}

static int add_cache(peerop_controller *c, const peerop_kube_resource *res, const char *selector,
	peerop_controller_map_cb map, void *map_payload, int primary)
{
	peerop_informer_options io = PEEROP_INFORMER_OPTIONS_INIT;
	ctl_cache *cc, **grown;
	size_t i;
	int rc;

	if (!c || !res_valid(res))
		return peerop__error_set(PEEROP_EINVAL, "controller: a resource needs a version and a name");
	if (c->started)
		return peerop__error_set(PEEROP_EINVAL, "controller %s: resources are added before start", c->name);
	for (i = 0; i < c->ncaches; i++)
		if (res_same(&c->caches[i]->res, res))
			return peerop__error_set(PEEROP_EEXISTS, "controller %s: %s is already watched",
				c->name, res->resource);
	if (!(cc = calloc(1, sizeof(*cc))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	cc->c = c;
	cc->map = map;
	cc->map_payload = map_payload;
	cc->enqueue_fn = map_enqueue;
	if ((rc = res_copy(&cc->res, res)) < 0) {
		free(cc);
		return rc;
	}
	io.watch.ns = c->ns;
	io.watch.label_selector = selector;
	io.keep_managed_fields = c->opts.keep_managed_fields;
	io.on_change = primary ? primary_changed : secondary_changed;
	io.payload = cc;
	if (primary)
		io.transform = primary_transform;
	rc = peerop_informer_new(&cc->inf, c->client, &cc->res, &io);
	if (rc == 0 && primary)
		rc = peerop_informer_add_index(cc->inf, "uid", uid_index, NULL);
	if (rc == 0) {
		grown = realloc(c->caches, (c->ncaches + 1) * sizeof(*grown));
		if (!grown)
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		else
			c->caches = grown;
	}
	if (rc < 0) {
		peerop_informer_free(cc->inf);
		res_dispose(&cc->res);
		free(cc);
		return rc;
	}
	c->caches[c->ncaches++] = cc;
	return 0;
}

int peerop_controller_owns(peerop_controller *c, const peerop_kube_resource *res, const char *label_selector)
{
	return add_cache(c, res, label_selector, NULL, NULL, 0);
}

int peerop_controller_watches(peerop_controller *c, const peerop_kube_resource *res,
	const char *label_selector, peerop_controller_map_cb map, void *payload)
{
	if (!map)
		return peerop__error_set(PEEROP_EINVAL, "controller: watches needs a map function");
	return add_cache(c, res, label_selector, map, payload, 0);
}

peerop_informer *peerop_controller_cache(peerop_controller *c, const peerop_kube_resource *res)
{
	size_t i;

	if (!c)
		return NULL;
	if (!res)
		return c->caches[0]->inf;
	for (i = 0; i < c->ncaches; i++)
		if (res_valid(res) && res_same(&c->caches[i]->res, res))
			return c->caches[i]->inf;
	return NULL;
}

/* ---- creation ------------------------------------------------------------ */

int peerop_controller_new(peerop_controller **out, peerop_kube_client *client,
	const peerop_controller_options *opts)
{
	peerop_controller *c;
	peerop_workqueue_options qo;
	const char *ns;
	int rc;

	if (!out)
		return PEEROP_EINVAL;
	*out = NULL;
	if (!client || !opts || opts->version != PEEROP_CONTROLLER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "controller: a client and options are required");
	if (!opts->name || !*opts->name || !opts->reconcile || !res_valid(&opts->primary))
		return peerop__error_set(PEEROP_EINVAL, "controller: %s is required",
			!opts->name || !*opts->name ? "a name" : !opts->reconcile ? "a reconcile function" :
			"the primary resource");
	if (opts->workers > MAX_WORKERS)
		return peerop__error_set(PEEROP_EINVAL, "controller %s: at most %u workers", opts->name, MAX_WORKERS);
	if (!(c = calloc(1, sizeof(*c))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	c->client = client;
	c->opts = *opts;
	c->opts.workers = opts->workers ? opts->workers : 1;
	c->opts.shutdown_grace_ms = opts->shutdown_grace_ms ? opts->shutdown_grace_ms : DEFAULT_GRACE_MS;
	pthread_mutex_init(&c->lock, NULL);
	peerop__cond_init_monotonic(&c->cond);
	ns = opts->ns ? opts->ns : peerop_kube_config_namespace(peerop_kube_client_config(client));
	c->name = peerop__strdup(opts->name);
	c->ns = peerop__strdup(ns ? ns : "default");
	c->field_manager = peerop__strdup(opts->field_manager && *opts->field_manager ?
		opts->field_manager : opts->name);
	rc = (!c->name || !c->ns || !c->field_manager) ? peerop__error_set(PEEROP_ENOMEM, "out of memory") : 0;
	if (rc == 0 && opts->finalizer) {
		if (!peerop__qualified_name_ok(opts->finalizer))
			rc = peerop__error_set(PEEROP_EINVAL, "controller %s: finalizer \"%.100s\" is not a qualified name",
				opts->name, opts->finalizer);
		else if (!(c->finalizer = peerop__strdup(opts->finalizer)))
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	if (rc == 0 && opts->npredicates) {
		size_t i;
		if (!opts->predicates)
			rc = peerop__error_set(PEEROP_EINVAL, "controller %s: npredicates without predicates", opts->name);
		for (i = 0; rc == 0 && i < opts->npredicates; i++)
			if (!opts->predicates[i].fn)
				rc = peerop__error_set(PEEROP_EINVAL, "controller %s: predicate %zu has no function",
					opts->name, i);
		if (rc == 0 && !(c->preds = malloc(opts->npredicates * sizeof(*c->preds))))
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		if (rc == 0) {
			memcpy(c->preds, opts->predicates, opts->npredicates * sizeof(*c->preds));
			c->npreds = opts->npredicates;
		}
	}
	c->opts.predicates = NULL;
	c->opts.finalizer = NULL;
	if (rc == 0)
		rc = res_copy(&c->primary, &opts->primary);
	if (rc == 0) {
		qo = opts->queue;
		if (qo.version != PEEROP_WORKQUEUE_OPTIONS_VERSION)
			peerop_workqueue_options_init(&qo, PEEROP_WORKQUEUE_OPTIONS_VERSION);
		qo.name = c->name;
		rc = peerop_workqueue_new(&c->queue, &qo);
	}
	if (rc == 0)
		rc = add_cache(c, &c->primary, opts->label_selector, NULL, NULL, 1);
	if (rc < 0) {
		peerop_controller_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

peerop_kube_client *peerop_controller_client(peerop_controller *c)
{
	return c ? c->client : NULL;
}

const char *peerop_controller_field_manager(const peerop_controller *c)
{
	return c ? c->field_manager : NULL;
}

/* ---- workers ------------------------------------------------------------- */

static void record(peerop_controller *c, const char *outcome, double secs)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	c->stats.reconciles++;
	if (!strcmp(outcome, "terminal")) {
		c->stats.errors++;
		c->stats.terminal_errors++;
	} else if (!strcmp(outcome, "error"))
		c->stats.errors++;
	else if (!strcmp(outcome, "requeue"))
		c->stats.requeues++;
	else if (!strcmp(outcome, "requeue_after"))
		c->stats.requeues_after++;
	else
		c->stats.success++;
	for (i = 0; i < PEEROP__CTL_NBOUNDS; i++)
		if (secs <= time_bounds[i])
			c->time_counts[i]++;
	c->time_sum += secs;
	pthread_mutex_unlock(&c->lock);
}

/* With a finalizer: keep it on live primaries; on a primary being
 * deleted, call reconcile (req->deleting) and remove the finalizer once
 * it succeeded. *skip is set when reconcile need not run. */
static int finalizer_before(peerop_controller *c, const peerop_reconcile_request *req, int *skip)
{
	int rc;

	*skip = 0;
	if (!c->finalizer || !req->object)
		return 0;
	if (req->deleting) {
		/* not ours to finalize (added by no one, or removed already) */
		*skip = !peerop_finalizer_has(req->object, c->finalizer);
		return 0;
	}
	rc = peerop_finalizer_add(NULL, c->client, &c->primary, req->object, c->finalizer);
	if (rc == 0)
		peerop__debug("controller", "%s: added finalizer %s to %s", c->name, c->finalizer, req->name);
	return rc < 0 ? rc : 0;
}

static void run_one(peerop_controller *c, const char *key)
{
	peerop_reconcile_request req;
	peerop_reconcile_result res;
	const char *slash = strchr(key, '/');
	char *ns = NULL;
	uint64_t t0;
	int rc, skip = 0;
	double secs;

	memset(&req, 0, sizeof(req));
	if (slash) {
		ns = peerop__strndup(key, (size_t)(slash - key));
		req.name = slash + 1;
	} else {
		req.name = key;
	}
	req.ns = ns ? ns : "";
	memset(&res, 0, sizeof(res));
	__atomic_add_fetch(&c->active, 1, __ATOMIC_RELAXED);
	t0 = peerop__now_us();
	peerop_error_clear();
	if (slash && !ns) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	} else {
		if (peerop_informer_get(&req.object, c->caches[0]->inf, req.ns, req.name) != 0)
			req.object = NULL;
		req.deleting = req.object && peerop_object_is_deleting(req.object);
		rc = finalizer_before(c, &req, &skip);
		if (rc == 0 && !skip)
			rc = c->opts.reconcile(c, &req, &res, c->opts.payload);
		if (rc == 0 && !skip && req.deleting && c->finalizer && !res.requeue && !res.requeue_after_ms) {
			rc = peerop_finalizer_remove(NULL, c->client, &c->primary, req.object, c->finalizer);
			if (rc == PEEROP_ENOTFOUND)
				rc = 0;   /* gone already */
			else if (rc >= 0)
				peerop__debug("controller", "%s: cleaned up %s, removed finalizer %s", c->name, key,
					c->finalizer);
			if (rc > 0)
				rc = 0;
		}
		json_decref(req.object);
	}
	secs = (double)(peerop__now_us() - t0) / 1e6;
	__atomic_sub_fetch(&c->active, 1, __ATOMIC_RELAXED);

	if (rc < 0 && res.terminal) {
		const peerop_error *e = peerop_error_last();
		const char *msg = e && e->code == rc && e->message && *e->message ? e->message : peerop_strerror(rc);
		/* retrying cannot help; the next change to the object queues it again */
		peerop__log(PEEROP_LOG_ERROR, "controller", NULL, 0,
			"%s: reconcile %s failed terminally (%s): %s; not retried until it changes", c->name, key,
			peerop_error_name(rc), msg);
		record(c, "terminal", secs);
		peerop_workqueue_forget(c->queue, key);
	} else if (rc < 0) {
		const peerop_error *e = peerop_error_last();
		const char *msg = e && e->code == rc && e->message && *e->message ? e->message : peerop_strerror(rc);
		/* a conflict is routine: the next run reads the newer object */
		peerop__log(rc == PEEROP_ECONFLICT ? PEEROP_LOG_DEBUG : PEEROP_LOG_ERROR, "controller", NULL, 0,
			"%s: reconcile %s failed (%s): %s; retry %u", c->name, key, peerop_error_name(rc), msg,
			peerop_workqueue_num_requeues(c->queue, key) + 1);
		record(c, "error", secs);
		peerop_workqueue_add_rate_limited(c->queue, key);
	} else if (res.requeue_after_ms) {
		record(c, "requeue_after", secs);
		peerop_workqueue_forget(c->queue, key);
		peerop_workqueue_add_after(c->queue, key, res.requeue_after_ms);
	} else if (res.requeue) {
		record(c, "requeue", secs);
		peerop_workqueue_add_rate_limited(c->queue, key);
	} else {
		record(c, "success", secs);
		peerop_workqueue_forget(c->queue, key);
	}
	peerop__debug("controller", "%s: reconciled %s in %.3f ms", c->name, key, secs * 1e3);
	free(ns);
}

static void *worker_main(void *arg)
{
	peerop_controller *c = arg;
	char *key;

	while (peerop_workqueue_get(&key, c->queue, -1) == 0) {
		run_one(c, key);
		peerop_workqueue_done(c->queue, key);
		peerop_free(key);
	}
	return NULL;
}

/* Waits for every cache, then starts the workers (unless stopped first). */
static void *starter_main(void *arg)
{
	peerop_controller *c = arg;
	unsigned int i, n = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping && c->nsynced < c->ncaches)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->stopping) {
		for (i = 0; i < c->opts.workers; i++) {
			if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0) {
				peerop__errlog("controller", "%s: cannot start worker %u", c->name, i + 1);
				break;
			}
			n++;
		}
		c->nworkers = n;
		c->synced = 1;
		peerop__info("controller", "%s: caches synced, %u worker%s started", c->name, n, n == 1 ? "" : "s");
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int peerop_controller_start(peerop_controller *c)
{
	size_t i;
	int rc = 0;

	if (!c)
		return PEEROP_EINVAL;
	pthread_mutex_lock(&c->lock);
	if (c->started || c->stopping) {
		pthread_mutex_unlock(&c->lock);
		return peerop__error_set(PEEROP_EINVAL, "controller %s: already started", c->name);
	}
	c->started = 1;
	pthread_mutex_unlock(&c->lock);
	if (!(c->workers = calloc(c->opts.workers, sizeof(*c->workers))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	for (i = 0; i < c->ncaches && rc == 0; i++)
		rc = peerop_informer_start(c->caches[i]->inf);
	if (rc == 0 && pthread_create(&c->starter, NULL, starter_main, c) != 0)
		rc = peerop__error_set(PEEROP_ENOMEM, "controller %s: cannot start a thread", c->name);
	if (rc < 0) {
		peerop_controller_stop(c);
		return rc;
	}
	c->starter_running = 1;
	return 0;
}

int peerop_controller_wait_synced(peerop_controller *c, unsigned int timeout_ms)
{
	uint64_t deadline = peerop__now_ms() + timeout_ms;
	int rc = 0;

	if (!c)
		return PEEROP_EINVAL;
	pthread_mutex_lock(&c->lock);
	while (!c->synced && !c->stopping) {
		uint64_t now = peerop__now_ms();
		if (now >= deadline) {
			rc = PEEROP_ETIMEOUT;
			break;
		}
		peerop__cond_timedwait_ms(&c->cond, &c->lock, deadline - now);
	}
	if (rc == 0 && !c->synced)
		rc = PEEROP_ECANCELED;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int peerop_controller_ready(const peerop_controller *c)
{
	int r;

	if (!c)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	r = c->synced && !c->stopping;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
	return r;
}

int peerop_controller_stop(peerop_controller *c)
{
	size_t i;
	int rc = 0, first;

	if (!c)
		return PEEROP_EINVAL;
	pthread_mutex_lock(&c->lock);
	first = !c->stopping;
	c->stopping = 1;
	pthread_cond_broadcast(&c->cond);
	if (!first) {
		/* another stop is under way: wait for it, so that this one too
		 * returns only once no reconcile runs */
		while (!c->stop_done)
			pthread_cond_wait(&c->cond, &c->lock);
		rc = c->stop_rc;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	pthread_mutex_unlock(&c->lock);
	/* intake first: no key is handed out any more; then let reconciles in
	 * flight finish, while the caches still serve their reads */
	peerop_workqueue_shutdown(c->queue);
	if (c->starter_running) {
		pthread_join(c->starter, NULL);
		c->starter_running = 0;
	}
	if (peerop_workqueue_wait_idle(c->queue, (int)c->opts.shutdown_grace_ms) != 0) {
		peerop__warn("controller", "%s: reconciles still running after the %u ms grace period",
			c->name, c->opts.shutdown_grace_ms);
		rc = peerop__error_set(PEEROP_ETIMEOUT, "controller %s: reconciles still running after %u ms",
			c->name, c->opts.shutdown_grace_ms);
	}
	for (i = 0; i < c->ncaches; i++)
		peerop_informer_stop(c->caches[i]->inf);
	pthread_mutex_lock(&c->lock);
	c->stop_rc = rc;
	c->stop_done = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void peerop_controller_free(peerop_controller *c)
{
	unsigned int i;

	if (!c)
		return;
	if (c->queue)
		peerop_controller_stop(c);
	for (i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	for (i = 0; i < c->ncaches; i++) {
		peerop_informer_free(c->caches[i]->inf);
		res_dispose(&c->caches[i]->res);
		free(c->caches[i]);
	}
	peerop_workqueue_free(c->queue);
	free(c->caches);
	free(c->workers);
	res_dispose(&c->primary);
	free(c->name);
	free(c->ns);
	free(c->field_manager);
	free(c->finalizer);
	free(c->preds);
	free(c->primary_kind);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- figures ------------------------------------------------------------- */

void peerop_controller_get_stats(peerop_controller *c, peerop_controller_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
	out->active_workers = __atomic_load_n(&c->active, __ATOMIC_RELAXED);
	peerop_workqueue_get_stats(c->queue, &out->queue);
}

/* A family with a single sample. */
static int family1(peerop_metrics_writer *w, const char *name, peerop_metric_type type, const char *help,
	const peerop_metric_label *l, double value)
{
	int rc = peerop_metrics_family(w, name, type, help);
	return rc ? rc : peerop_metrics_sample(w, NULL, l, 1, value);
}

/* The size of each cache: what an operator's memory mostly is. */
static int collect_cache_sizes(peerop_metrics_writer *w, peerop_controller *c)
{
	static const char *const names[2] = { "peerop_informer_cache_objects", "peerop_informer_cache_bytes" };
	static const char *const helps[2] = {
		"Objects in a controller's cache, per resource",
		"Bytes of the objects in a controller's cache (serialized JSON), per resource"
	};
	peerop_metric_label l[2] = { { "controller", c->name }, { "resource", NULL } };
	char res[256];
	size_t i;
	int k, rc = 0;

	for (k = 0; rc == 0 && k < 2; k++) {
		rc = peerop_metrics_family(w, names[k], PEEROP_METRIC_GAUGE, helps[k]);
		for (i = 0; rc == 0 && i < c->ncaches; i++) {
			const peerop_kube_resource *r = &c->caches[i]->res;
			/* resource.group, as kubectl names it ("deployments.apps") */
			snprintf(res, sizeof(res), "%s%s%s", r->resource, *r->group ? "." : "", r->group);
			l[1].value = res;
			rc = peerop_metrics_sample(w, NULL, l, 2, k == 0 ? (double)peerop_informer_count(c->caches[i]->inf) :
				(double)peerop_informer_bytes(c->caches[i]->inf));
		}
	}
	return rc;
}

int peerop_controller_collect_metrics(peerop_metrics_writer *w, void *controller)
{
	peerop_controller *c = controller;
	peerop_controller_stats s;
	unsigned long long counts[PEEROP__CTL_NBOUNDS];
	double sum;
	peerop_metric_label l[2] = { { "controller", c->name }, { "result", NULL } };
	static const char *results[] = { "success", "error", "requeue", "requeue_after" };
	unsigned long long vals[4];
	int rc, i;

	peerop_controller_get_stats(c, &s);
	pthread_mutex_lock(&c->lock);
	memcpy(counts, c->time_counts, sizeof(counts));
	sum = c->time_sum;
	pthread_mutex_unlock(&c->lock);
	vals[0] = s.success;
	vals[1] = s.errors;
	vals[2] = s.requeues;
	vals[3] = s.requeues_after;

	rc = peerop_metrics_family(w, "controller_runtime_reconcile_total", PEEROP_METRIC_COUNTER,
		"Total number of reconciliations per controller");
	for (i = 0; rc == 0 && i < 4; i++) {
		l[1].value = results[i];
		rc = peerop_metrics_sample(w, NULL, l, 2, (double)vals[i]);
	}
	if (rc == 0)
		rc = family1(w, "controller_runtime_reconcile_errors_total", PEEROP_METRIC_COUNTER,
			"Total number of reconciliation errors per controller", l, (double)s.errors);
	if (rc == 0)
		rc = family1(w, "controller_runtime_terminal_reconcile_errors_total", PEEROP_METRIC_COUNTER,
			"Total number of terminal reconciliation errors per controller", l, (double)s.terminal_errors);
	if (rc == 0)
		rc = peerop_metrics_histogram(w, "controller_runtime_reconcile_time_seconds",
			"Length of time per reconciliation per controller", l, 1, time_bounds, counts,
			PEEROP__CTL_NBOUNDS, s.reconciles, sum);
	if (rc == 0)
		rc = family1(w, "controller_runtime_active_workers", PEEROP_METRIC_GAUGE,
			"Number of currently used workers per controller", l, (double)s.active_workers);
	if (rc == 0)
		rc = family1(w, "controller_runtime_max_concurrent_reconciles", PEEROP_METRIC_GAUGE,
			"Maximum number of concurrent reconciles per controller", l, (double)c->opts.workers);
	if (rc == 0)
		rc = peerop_workqueue_collect_metrics(w, c->queue);
	if (rc == 0)
		rc = collect_cache_sizes(w, c);
	return rc;
}
