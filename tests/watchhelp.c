/* watchhelp.c: see watchhelp.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchhelp.h"

const peerop_kube_resource CM = { "", "v1", "configmaps", 1 };

/* ---- the consumer model -------------------------------------------------- */

void model_init(model *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void model_dispose(model *m)
{
	size_t pos = 0;
	void *v;
	while (peerop__map_next(&m->objs, &pos, NULL, &v))
		free(v);
	peerop__map_dispose(&m->objs);
	peerop__buf_dispose(&m->trace);
	pthread_mutex_destroy(&m->lock);
}

void model_apply(model *m, peerop_watch_event_type type, const json_t *obj)
{
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
	if (m->stop_in_callback && type == PEEROP_WATCH_SYNCED) {
		/* the handle reaches the model only after peerop_watch_start()
		 * returns, which may be after this first callback */
		peerop_watch *self;
		while (!(self = __atomic_load_n(&m->self, __ATOMIC_ACQUIRE)))
			th_sleep_ms(1);
		peerop_watch_stop(self);
	}
}

void model_on_event(peerop_watch_event_type type, json_t *obj, void *payload)
{
	model_apply(payload, type, obj);
}

void model_on_error(int code, const char *message, void *payload)
{
	model *m = payload;
	pthread_mutex_lock(&m->lock);
	if (-code >= 0 && -code < 64)
		m->errors[-code]++;
	pthread_mutex_unlock(&m->lock);
	if (getenv("TH_LOG_ECHO"))
		fprintf(stderr, "[watch error] %s: %s\n", peerop_error_name(code), message);
}

int model_errors(model *m, int code)
{
	int n;
	pthread_mutex_lock(&m->lock);
	n = m->errors[-code];
	pthread_mutex_unlock(&m->lock);
	return n;
}

int model_synced(model *m)
{
	int n;
	pthread_mutex_lock(&m->lock);
	n = m->synced;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int model_has(model *m, const char *key)
{
	int has;
	pthread_mutex_lock(&m->lock);
	has = peerop__map_get(&m->objs, key) != NULL;
	pthread_mutex_unlock(&m->lock);
	return has;
}

/* ---- the server side ----------------------------------------------------- */

env *env_start(const dc_server_options *opts, bool data)
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

void env_stop(env *e)
{
	peerop_kube_client_free(e->client);
	dct_stop(e->t);
	free(e->kubeconfig);
	free(e);
}

void admin(env *e, const char *what)
{
	long code = 0;
	json_t *j = dct_call(e->t, &code, "POST", what, NULL);
	ck_assert_msg(code >= 200 && code < 300, "%s -> %ld", what, code);
	json_decref(j);
}

json_t *cm_obj(const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", name, "data", "v", value);
}

void put_cm(env *e, const char *name, const char *value)
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

void del_cm(env *e, const char *name)
{
	int rc = peerop_kube_delete(NULL, e->client, &CM, "default", name, NULL);
	ck_assert_msg(rc == 0 || rc == PEEROP_ENOTFOUND, "delete %s: %s", name, peerop_error_last()->message);
}

/* Does the model hold exactly the server's configmaps (names and RVs)? */
int model_matches_server(model *m, env *e, char *why, size_t whylen)
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

void assert_converges(model *m, env *e, unsigned timeout_ms)
{
	char why[512] = "";
	int ok = TH_WAIT_UNTIL(model_matches_server(m, e, why, sizeof(why)), timeout_ms);
	ck_assert_msg(ok, "consumer never matched the server: %s", why);
	ck_assert_int_eq(m->bad, 0);
}

peerop_watch *start_watch(env *e, model *m, peerop_watch_initial initial, peerop_watch_options *extra)
{
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch *w = NULL;
	if (extra)
		o = *extra;
	o.ns = "default";
	o.initial = initial;
	o.on_event = model_on_event;
	o.on_error = model_on_error;
	o.payload = m;
	/* short backoffs keep fault tests quick; the defaults are tested apart */
	if (!o.backoff_initial_ms)
		o.backoff_initial_ms = 50;
	if (!o.backoff_max_ms)
		o.backoff_max_ms = 500;
	ck_assert_msg(peerop_watch_start(&w, e->client, &CM, &o) == 0, "%s", peerop_error_last()->message);
	__atomic_store_n(&m->self, w, __ATOMIC_RELEASE);
	return w;
}

void stop_watch(peerop_watch *w, model *m)
{
	peerop_watch_free(w);
	__atomic_store_n(&m->stop_returned, 1, __ATOMIC_RELEASE);
}

