/*
 * check_watch.c: peerop_watch and peerop_informer against the local
 * control plane (in-process, ephemeral port), with its fault injection.
 *
 * The consumer model replays the callbacks into a map (ADDED/MODIFIED set,
 * DELETED remove); every test ends by checking that the model, and the
 * informer's cache, equal what the server holds.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "map_internal.h"
#include "watch_internal.h"
#include "testhelp.h"
#include "dchelp.h"

static const peerop_kube_resource CM = { "", "v1", "configmaps", 1 };

/* ---- the consumer model -------------------------------------------------- */
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

static void model_init(model *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

static void model_dispose(model *m)
{
	size_t pos = 0;
	void *v;
	while (peerop__map_next(&m->objs, &pos, NULL, &v))
		free(v);
	peerop__map_dispose(&m->objs);
	peerop__buf_dispose(&m->trace);
	pthread_mutex_destroy(&m->lock);
}

static void on_event(peerop_watch_event_type type, json_t *obj, void *payload)
{
	model *m = payload;
	char *key = obj ? peerop__store_key(obj) : NULL;
	const char *rv = obj ? json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")) : NULL;
	void *old = NULL;

	pthread_mutex_lock(&m->lock);
	if (__atomic_load_n(&m->stop_returned, __ATOMIC_ACQUIRE))
		m->after_stop++;
	switch (type) {
	case PEEROP_WATCH_SYNCED:
		m->synced++;
		peerop__buf_puts(&m->trace, "S;");
		break;
	case PEEROP_WATCH_ADDED:
	case PEEROP_WATCH_MODIFIED:
		if (!key) {
			m->bad++;
			break;
		}
		if (type == PEEROP_WATCH_ADDED)
			m->added++;
		else
			m->modified++;
		/* the normalisation contract: ADDED only for unknown keys, MODIFIED only for known */
		if ((type == PEEROP_WATCH_ADDED) != (peerop__map_get(&m->objs, key) == NULL))
			m->bad++;
		peerop__map_put(&m->objs, key, strdup(rv ? rv : ""), &old);
		free(old);
		peerop__buf_printf(&m->trace, "%s:%s;", type == PEEROP_WATCH_ADDED ? "A" : "M", key);
		break;
	case PEEROP_WATCH_DELETED:
		if (!key) {
			m->bad++;
			break;
		}
		m->deleted++;
		old = peerop__map_remove(&m->objs, key);
		if (!old)
			m->bad++;
		free(old);
		peerop__buf_printf(&m->trace, "D:%s;", key);
		break;
	}
	pthread_mutex_unlock(&m->lock);
	free(key);
	if (m->stop_in_callback && type == PEEROP_WATCH_SYNCED)
		peerop_watch_stop(m->self);
}

static void on_error(int code, const char *message, void *payload)
{
	model *m = payload;
	pthread_mutex_lock(&m->lock);
	if (-code >= 0 && -code < 64)
		m->errors[-code]++;
	pthread_mutex_unlock(&m->lock);
	if (getenv("TH_LOG_ECHO"))
		fprintf(stderr, "[watch error] %s: %s\n", peerop_error_name(code), message);
}

static int model_errors(model *m, int code)
{
	int n;
	pthread_mutex_lock(&m->lock);
	n = m->errors[-code];
	pthread_mutex_unlock(&m->lock);
	return n;
}

static int model_synced(model *m)
{
	int n;
	pthread_mutex_lock(&m->lock);
	n = m->synced;
	pthread_mutex_unlock(&m->lock);
	return n;
}

static int model_has(model *m, const char *key)
{
	int has;
	pthread_mutex_lock(&m->lock);
	has = peerop__map_get(&m->objs, key) != NULL;
	pthread_mutex_unlock(&m->lock);
	return has;
}

/* ---- the server side ----------------------------------------------------- */
typedef struct env {
	dct *t;
	peerop_kube_client *client;
	char *kubeconfig;
} env;

static env *env_start(const dc_server_options *opts, bool data)
{
	env *e = calloc(1, sizeof(*e));
	peerop_kube_config *cfg = NULL;
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	e->t = dct_start(opts, data);
	e->kubeconfig = th_path(e->t->dir, "kubeconfig");
	ck_assert_int_eq(th_write_str(e->kubeconfig, dc_server_kubeconfig(e->t->srv)), 0);
	co.kubeconfig = e->kubeconfig;
	ck_assert_msg(peerop_kube_config_load(&cfg, &co) == 0, "%s", peerop_error_last()->message);
	ck_assert_int_eq(peerop_kube_client_new(&e->client, cfg, NULL), 0);
	peerop_kube_config_free(cfg);
	return e;
}

static void env_stop(env *e)
{
	peerop_kube_client_free(e->client);
	dct_stop(e->t);
	free(e->kubeconfig);
	free(e);
}

static void admin(env *e, const char *what)
{
	long code = 0;
	json_t *j = dct_call(e->t, &code, "POST", what, NULL);
	ck_assert_msg(code >= 200 && code < 300, "%s -> %ld", what, code);
	json_decref(j);
}

static json_t *cm_obj(const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", name, "data", "v", value);
}

static void put_cm(env *e, const char *name, const char *value)
{
	json_t *o = cm_obj(name, value), *got = NULL;
	int rc = peerop_kube_create(NULL, e->client, &CM, "default", o, NULL);
	if (rc == PEEROP_EEXISTS) {
		json_t *patch = json_pack("{s:{s:s}}", "data", "v", value);
		rc = peerop_kube_patch(&got, e->client, &CM, "default", name, PEEROP_KUBE_PATCH_MERGE, patch, NULL);
		json_decref(patch);
		json_decref(got);
	}
	ck_assert_msg(rc == 0, "put %s: %s", name, peerop_error_last()->message);
	json_decref(o);
}

static void del_cm(env *e, const char *name)
{
	int rc = peerop_kube_delete(NULL, e->client, &CM, "default", name, NULL);
	ck_assert_msg(rc == 0 || rc == PEEROP_ENOTFOUND, "delete %s: %s", name, peerop_error_last()->message);
}

/* Does the model hold exactly the server's configmaps (names and RVs)? */
static int model_matches_server(model *m, env *e, char *why, size_t whylen)
{
	json_t *list = NULL, *item;
	size_t i, n;
	int ok = 1;
	if (peerop_kube_list(&list, e->client, &CM, "default", NULL) != 0) {
		snprintf(why, whylen, "list: %s", peerop_error_last()->message);
		return 0;
	}
	pthread_mutex_lock(&m->lock);
	n = json_array_size(json_object_get(list, "items"));
	if (n != peerop__map_count(&m->objs)) {
		snprintf(why, whylen, "server has %zu objects, the consumer %zu", n, peerop__map_count(&m->objs));
		ok = 0;
	}
	json_array_foreach(json_object_get(list, "items"), i, item) {
		const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		const char *rv = json_string_value(json_object_get(json_object_get(item, "metadata"), "resourceVersion"));
		char key[256];
		const char *have;
		snprintf(key, sizeof(key), "default/%s", name);
		have = peerop__map_get(&m->objs, key);
		if (ok && (!have || strcmp(have, rv) != 0)) {
			snprintf(why, whylen, "%s: server rv %s, consumer %s", key, rv, have ? have : "(absent)");
			ok = 0;
		}
	}
	pthread_mutex_unlock(&m->lock);
	json_decref(list);
	return ok;
}

static void assert_converges(model *m, env *e, unsigned timeout_ms)
{
	char why[512] = "";
	int ok = TH_WAIT_UNTIL(model_matches_server(m, e, why, sizeof(why)), timeout_ms);
	ck_assert_msg(ok, "consumer never matched the server: %s", why);
	ck_assert_int_eq(m->bad, 0);
}

static peerop_watch *start_watch(env *e, model *m, peerop_watch_initial initial, peerop_watch_options *extra)
{
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch *w = NULL;
	if (extra)
		o = *extra;
	o.ns = "default";
	o.initial = initial;
	o.on_event = on_event;
	o.on_error = on_error;
	o.payload = m;
	/* short backoffs keep fault tests quick; the defaults are tested apart */
	if (!o.backoff_initial_ms)
		o.backoff_initial_ms = 50;
	if (!o.backoff_max_ms)
		o.backoff_max_ms = 500;
	ck_assert_msg(peerop_watch_start(&w, e->client, &CM, &o) == 0, "%s", peerop_error_last()->message);
	m->self = w;
	return w;
}

static void stop_watch(peerop_watch *w, model *m)
{
	peerop_watch_free(w);
	__atomic_store_n(&m->stop_returned, 1, __ATOMIC_RELEASE);
}

/* ---- tests --------------------------------------------------------------- */

static void basic_flow(peerop_watch_initial initial)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_stats st;
	int i;
	char name[32];

	model_init(&m);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "pre-%d", i);
		put_cm(e, name, "1");
	}
	w = start_watch(e, &m, initial, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	ck_assert(peerop_watch_has_synced(w));
	ck_assert_int_eq(m.added, 7);
	put_cm(e, "new", "1");
	put_cm(e, "pre-0", "2");
	del_cm(e, "pre-1");
	assert_converges(&m, e, 10000);
	ck_assert(TH_WAIT_UNTIL(m.deleted == 1 && m.modified == 1 && m.added == 8, 5000));
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_uint_ge(st.events, 10);
	stop_watch(w, &m);
	ck_assert_int_eq(m.after_stop, 0);
	model_dispose(&m);
	env_stop(e);
}

START_TEST(test_list_then_watch)
{
	basic_flow(PEEROP_WATCH_INITIAL_LIST);
}
END_TEST

START_TEST(test_streaming_list)
{
	basic_flow(PEEROP_WATCH_INITIAL_STREAM);
}
END_TEST

START_TEST(test_auto_initial)
{
	basic_flow(PEEROP_WATCH_INITIAL_AUTO);
}
END_TEST

/* Objects deleted and changed while the watch was away come as DELETED and
 * MODIFIED after the 410 relist; unchanged ones produce nothing. */
static void relist_diff(peerop_watch_initial initial)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_stats st;
	int i, added, modified;
	char name[32];

	model_init(&m);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "o-%d", i);
		put_cm(e, name, "1");
	}
	w = start_watch(e, &m, initial, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=true");
	del_cm(e, "o-1");
	del_cm(e, "o-2");
	put_cm(e, "o-3", "changed");
	put_cm(e, "fresh", "1");
	/* delete and recreate under the same name: a new uid */
	del_cm(e, "o-4");
	put_cm(e, "o-4", "reborn");
	admin(e, "/_devcluster/expire-history");
	pthread_mutex_lock(&m.lock);
	added = m.added;
	modified = m.modified;
	peerop__buf_clear(&m.trace);
	pthread_mutex_unlock(&m.lock);
	admin(e, "/_devcluster/stall-watches?on=false");
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 2, 10000));
	assert_converges(&m, e, 10000);
	ck_assert(!model_has(&m, "default/o-1"));
	ck_assert(!model_has(&m, "default/o-2"));
	pthread_mutex_lock(&m.lock);
	ck_assert_msg(strstr(m.trace.ptr, "D:default/o-1;") && strstr(m.trace.ptr, "D:default/o-2;"), "%s", m.trace.ptr);
	ck_assert_msg(strstr(m.trace.ptr, "M:default/o-3;"), "%s", m.trace.ptr);
	ck_assert_msg(strstr(m.trace.ptr, "D:default/o-4;A:default/o-4;"), "%s", m.trace.ptr);
	ck_assert_msg(!strstr(m.trace.ptr, "default/o-5;"), "unchanged object re-delivered: %s", m.trace.ptr);
	ck_assert_int_eq(m.added, added + 2);      /* fresh, o-4 reborn */
	ck_assert_int_eq(m.modified, modified + 1); /* o-3 */
	pthread_mutex_unlock(&m.lock);
	ck_assert_int_ge(model_errors(&m, PEEROP_EGONE), 1);
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_eq(st.lists, 2);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}

START_TEST(test_relist_diff_list)
{
	relist_diff(PEEROP_WATCH_INITIAL_LIST);
}
END_TEST

START_TEST(test_relist_diff_stream)
{
	relist_diff(PEEROP_WATCH_INITIAL_STREAM);
}
END_TEST

/* A stream that goes silent without closing is reconnected by the idle timer. */
START_TEST(test_idle_timeout)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch_stats st;

	model_init(&m);
	o.idle_timeout_ms = 400;
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, &o);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=true");
	put_cm(e, "during-stall", "1");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_ETIMEOUT) >= 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=false");
	assert_converges(&m, e, 10000);
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_ge(st.watches, 2);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* 429, 500 and 504 bursts, with Retry-After, and closed watches. */
START_TEST(test_error_bursts)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;

	model_init(&m);
	put_cm(e, "a", "1");
	admin(e, "/_devcluster/fail?code=429&count=3&retryAfter=1");
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 15000));
	ck_assert_int_ge(model_errors(&m, PEEROP_ETOOMANY), 1);
	/* Writes first: the injected failures hit whatever request comes next,
	 * and writes are not retried. */
	put_cm(e, "b", "1");
	admin(e, "/_devcluster/fail?code=500&count=3");
	admin(e, "/_devcluster/close-watches");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 1, 15000));
	assert_converges(&m, e, 15000);
	put_cm(e, "c", "1");
	admin(e, "/_devcluster/fail?code=504&count=2&retryAfter=1");
	admin(e, "/_devcluster/close-watches");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 2, 15000));
	assert_converges(&m, e, 15000);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* The API server restarts (same port, same data): the watch resumes. */
START_TEST(test_server_restart)
{
	env *e = env_start(NULL, true);
	model m;
	peerop_watch *w;
	int i;
	char name[32];

	model_init(&m);
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_AUTO, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "r-%d", i);
		put_cm(e, name, "1");
		ck_assert_int_eq(dc_server_restart(e->t->srv), 0);
		put_cm(e, name, "2");
	}
	assert_converges(&m, e, 15000);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* Stop from another thread is prompt and final; stop from a callback works. */
START_TEST(test_stop)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	uint64_t t0, worst = 0;
	int i;

	for (i = 0; i < 20; i++) {
		model_init(&m);
		w = start_watch(e, &m, i % 2 ? PEEROP_WATCH_INITIAL_LIST : PEEROP_WATCH_INITIAL_STREAM, NULL);
		if (i % 3 == 0)
			TH_WAIT_UNTIL(model_synced(&m) == 1, 10000);
		if (i % 5 == 1)
			admin(e, "/_devcluster/stall-watches?on=true");
		t0 = th_now_ms();
		peerop_watch_stop(w);
		__atomic_store_n(&m.stop_returned, 1, __ATOMIC_RELEASE);
		if (th_now_ms() - t0 > worst)
			worst = th_now_ms() - t0;
		peerop_watch_stop(w); /* again: harmless */
		peerop_watch_free(w);
		ck_assert_int_eq(m.after_stop, 0);
		admin(e, "/_devcluster/stall-watches?on=false");
		model_dispose(&m);
	}
	/* Not a performance assertion: a hang would show as seconds. */
	fprintf(stderr, "check_watch: slowest peerop_watch_stop: %llu ms (promise: ~100 ms)\n",
		(unsigned long long)worst);
	ck_assert_uint_lt(worst, 5000);

	/* during backoff against a dead port */
	model_init(&m);
	admin(e, "/_devcluster/fail?code=500&count=1000");
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 2, 10000));
	stop_watch(w, &m);
	admin(e, "/_devcluster/reset");
	model_dispose(&m);

	/* from inside a callback */
	model_init(&m);
	m.stop_in_callback = 1;
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	put_cm(e, "after-stop", "1");
	peerop_watch_free(w);
	ck_assert(!model_has(&m, "default/after-stop"));
	model_dispose(&m);
	env_stop(e);
}
END_TEST

START_TEST(test_bad_arguments)
{
	env *e = env_start(NULL, false);
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch *w = (peerop_watch *)1;
	ck_assert_int_eq(peerop_watch_start(&w, e->client, &CM, &o), PEEROP_EINVAL); /* no on_event */
	ck_assert_ptr_null(w);
	o.on_event = on_event;
	o.version = 99;
	ck_assert_int_eq(peerop_watch_start(&w, e->client, &CM, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_watch_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_watch_options_init(&o, PEEROP_WATCH_OPTIONS_VERSION), 0);
	peerop_watch_free(NULL);
	peerop_watch_stop(NULL);
	env_stop(e);
}
END_TEST

/* The informer's cache follows the server, with indexes and transform. */
START_TEST(test_informer)
{
	env *e = env_start(NULL, false);
	peerop_informer_options io = PEEROP_INFORMER_OPTIONS_INIT;
	peerop_informer *inf = NULL;
	json_t *got = NULL, *list = NULL, *o;
	int i;

	for (i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "i-%d", i);
		o = cm_obj(name, "x");
		json_object_set_new(json_object_get(o, "metadata"), "labels",
			json_pack("{s:s}", "app", i % 2 ? "odd" : "even"));
		ck_assert_int_eq(peerop_kube_create(NULL, e->client, &CM, "default", o, NULL), 0);
		json_decref(o);
	}
	io.watch.ns = "default";
	ck_assert_int_eq(peerop_informer_new(&inf, e->client, &CM, &io), 0);
	ck_assert_int_eq(peerop_informer_add_label_index(inf, "app", "app"), 0);
	ck_assert_int_eq(peerop_informer_add_owner_index(inf, "owner"), 0);
	ck_assert_int_eq(peerop_informer_wait_synced(inf, 0), PEEROP_ETIMEOUT);
	ck_assert_int_eq(peerop_informer_start(inf), 0);
	ck_assert_int_eq(peerop_informer_add_label_index(inf, "late", "x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_informer_wait_synced(inf, 10000), 0);
	ck_assert(peerop_informer_has_synced(inf));
	ck_assert_uint_eq(peerop_informer_count(inf), 5);
	ck_assert_int_eq(peerop_informer_get(&got, inf, "default", "i-3"), 0);
	/* managedFields dropped by default */
	ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
	ck_assert_str_eq(json_string_value(json_object_get(got, "kind")), "ConfigMap");
	json_decref(got);
	ck_assert_int_eq(peerop_informer_by_index(&list, inf, "app", "odd"), 0);
	ck_assert_uint_eq(json_array_size(list), 2);
	json_decref(list);
	del_cm(e, "i-1");
	ck_assert(TH_WAIT_UNTIL(peerop_informer_count(inf) == 4, 10000));
	ck_assert_int_eq(peerop_informer_by_index(&list, inf, "app", "odd"), 0);
	ck_assert_uint_eq(json_array_size(list), 1);
	json_decref(list);
	ck_assert_int_eq(peerop_informer_get(&got, inf, "default", "i-1"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_informer_list(&list, inf, NULL), 0);
	ck_assert_uint_eq(json_array_size(list), 4);
	json_decref(list);
	peerop_informer_free(inf);
	env_stop(e);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_list_then_watch);
	tcase_add_test(tc, test_streaming_list);
	tcase_add_test(tc, test_auto_initial);
	tcase_add_test(tc, test_relist_diff_list);
	tcase_add_test(tc, test_relist_diff_stream);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_error_bursts);
	tcase_add_test(tc, test_server_restart);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_informer);
	suite_add_tcase(s, tc);
	return s;
}
