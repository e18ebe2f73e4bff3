/* check_kube_devcluster.c: the Kubernetes client against the local control
 * plane (devcluster/), started in-process over TLS with its own CA, token
 * and kubeconfig: CRUD, Status errors, every patch type, preconditions,
 * paging with selectors, a CRD's /status and /scale, injected 429s, and a
 * watch stream through the internal streaming GET. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "kube_internal.h"
#include "testhelp.h"

static const peerop_kube_resource CMS = { "", "v1", "configmaps", 1 };
static const peerop_kube_resource CRDS = { "apiextensions.k8s.io", "v1", "customresourcedefinitions", 0 };
static const peerop_kube_resource GADGETS = { "peerop.example.com", "v1", "gadgets", 1 };

typedef struct env {
	char *dir;
	dc_server *srv;
	peerop_kube_client *c;
} env;

static void env_start(env *e)
{
	dc_server_options o;
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	char *kc;

	memset(e, 0, sizeof(*e));
	memset(&o, 0, sizeof(o));
	e->dir = th_tmpdir();
	kc = th_path(e->dir, "kubeconfig");
	o.listen = "127.0.0.1:0";
	o.tls = true;
	o.kubeconfig_out = kc;
	ck_assert_msg(dc_server_start(&e->srv, &o) == 0, "%s", peerop_error_last()->message);
	/* the kubeconfig devcluster writes is what a user would point us at */
	co.kubeconfig = kc;
	ck_assert_msg(peerop_kube_config_load(&cfg, &co) == 0, "%s", peerop_error_last()->message);
	ck_assert_str_eq(peerop_kube_config_server(cfg), dc_server_url(e->srv));
	ck_assert_msg(peerop_kube_client_new(&e->c, cfg, NULL) == 0, "%s", peerop_error_last()->message);
	peerop_kube_config_free(cfg);
	free(kc);
}

static void env_stop(env *e)
{
	peerop_kube_client_free(e->c);
	dc_server_free(e->srv);
	th_tmpdir_remove(e->dir);
}

static json_t *cm(const char *name, const char *app)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", name, "data", "k", "v1");
	if (app)
		json_object_set_new(json_object_get(o, "metadata"), "labels", json_pack("{s:s}", "app", app));
	return o;
}

static const char *meta(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

START_TEST(test_crud_and_errors)
{
	env e;
	json_t *obj = cm("alpha", NULL), *got = NULL, *stale, *p;
	peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;
	peerop_kube_delete_options dopt = PEEROP_KUBE_DELETE_OPTIONS_INIT;
	char uid[128];

	env_start(&e);
	ck_assert_msg(peerop_kube_create(&got, e.c, &CMS, NULL, obj, NULL) == 0, "%s", peerop_error_last()->message);
	snprintf(uid, sizeof(uid), "%s", meta(got, "uid"));
	stale = json_deep_copy(got);
	json_decref(got);
	/* already exists */
	ck_assert_int_eq(peerop_kube_create(NULL, e.c, &CMS, "default", obj, NULL), PEEROP_EEXISTS);
	ck_assert_int_eq(peerop_error_last()->http_status, 409);
	ck_assert_str_eq(peerop_error_last()->reason, "AlreadyExists");
	/* replace, then a replace with the old resourceVersion conflicts */
	json_object_set_new(json_object_get(stale, "data"), "k", json_string("v2"));
	ck_assert_msg(peerop_kube_replace(&got, e.c, &CMS, NULL, "alpha", stale, NULL) == 0, "%s", peerop_error_last()->message);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "k")), "v2");
	json_decref(got);
	ck_assert_int_eq(peerop_kube_replace(NULL, e.c, &CMS, NULL, "alpha", stale, NULL), PEEROP_ECONFLICT);
	ck_assert_str_eq(peerop_error_last()->reason, "Conflict");
	/* not found */
	ck_assert_int_eq(peerop_kube_get(&got, e.c, &CMS, NULL, "nope"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_error_last()->http_status, 404);
	ck_assert_str_eq(peerop_error_last()->reason, "NotFound");
	ck_assert_msg(strstr(peerop_error_last()->message, "nope") != NULL, "%s", peerop_error_last()->message);
	/* merge patch, JSON patch (with a test op that fails), server-side apply */
	p = json_pack("{s:{s:s}}", "data", "m", "merged");
	ck_assert_msg(peerop_kube_patch(&got, e.c, &CMS, NULL, "alpha", PEEROP_KUBE_PATCH_MERGE, p, NULL) == 0,
		"%s", peerop_error_last()->message);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "m")), "merged");
	json_decref(got);
	json_decref(p);
	p = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "op", "test", "path", "/data/k", "value", "v2",
		"op", "replace", "path", "/data/k", "value", "v3");
	ck_assert_msg(peerop_kube_patch(&got, e.c, &CMS, NULL, "alpha", PEEROP_KUBE_PATCH_JSON, p, NULL) == 0,
		"%s", peerop_error_last()->message);
	json_decref(got);
	ck_assert_int_lt(peerop_kube_patch(NULL, e.c, &CMS, NULL, "alpha", PEEROP_KUBE_PATCH_JSON, p, NULL), 0);
	json_decref(p);
	p = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", "alpha", "data", "applied", "yes");
	wo.field_manager = "peerop-test";
	wo.force = 1;
	/* devcluster does not implement server-side apply yet and answers 415;
	 * once it does, the applied field must be there */
	if (peerop_kube_patch(&got, e.c, &CMS, NULL, "alpha", PEEROP_KUBE_PATCH_APPLY, p, &wo) == 0) {
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "applied")), "yes");
		json_decref(got);
	} else {
		ck_assert_int_eq(peerop_error_last()->code, PEEROP_EHTTP);
		ck_assert_int_eq(peerop_error_last()->http_status, 415);
		ck_assert_str_eq(peerop_error_last()->reason, "UnsupportedMediaType");
	}
	json_decref(p);
	/* delete: a wrong uid precondition is refused, the right one works */
	dopt.precondition_uid = "00000000-0000-0000-0000-000000000000";
	ck_assert_int_eq(peerop_kube_delete(NULL, e.c, &CMS, NULL, "alpha", &dopt), PEEROP_ECONFLICT);
	dopt.precondition_uid = uid;
	dopt.propagation_policy = "Background";
	ck_assert_msg(peerop_kube_delete(NULL, e.c, &CMS, NULL, "alpha", &dopt) == 0, "%s", peerop_error_last()->message);
	ck_assert_int_eq(peerop_kube_get(&got, e.c, &CMS, NULL, "alpha"), PEEROP_ENOTFOUND);
	json_decref(stale);
	json_decref(obj);
	env_stop(&e);
}
END_TEST

START_TEST(test_list_paging_selectors)
{
	env e;
	json_t *list = NULL;
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	int i;

	env_start(&e);
	{
		static const peerop_kube_resource nss = { "", "v1", "namespaces", 0 };
		json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", "other");
		ck_assert_msg(peerop_kube_create(NULL, e.c, &nss, NULL, ns, NULL) == 0, "%s", peerop_error_last()->message);
		json_decref(ns);
	}
	for (i = 0; i < 25; i++) {
		char name[32];
		json_t *o;
		snprintf(name, sizeof(name), "cm-%02d", i);
		o = cm(name, i % 5 ? "web" : "db");
		ck_assert_msg(peerop_kube_create(NULL, e.c, &CMS, i < 20 ? "default" : "other", o, NULL) == 0,
			"%s", peerop_error_last()->message);
		json_decref(o);
	}
	lo.label_selector = "app=web";
	lo.page_size = 4;
	ck_assert_msg(peerop_kube_list(&list, e.c, &CMS, NULL, &lo) == 0, "%s", peerop_error_last()->message);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 16);
	ck_assert_ptr_nonnull(meta(list, "resourceVersion"));
	ck_assert_ptr_null(meta(list, "continue"));
	json_decref(list);
	/* all namespaces, every label */
	lo.label_selector = NULL;
	lo.page_size = 7;
	ck_assert_int_eq(peerop_kube_list(&list, e.c, &CMS, "", &lo), 0);
	ck_assert_int_ge(json_array_size(json_object_get(list, "items")), 25);
	json_decref(list);
	/* a field selector */
	lo.field_selector = "metadata.name=cm-03";
	ck_assert_int_eq(peerop_kube_list(&list, e.c, &CMS, "default", &lo), 0);
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	env_stop(&e);
}
END_TEST

static int crd_served(void *arg)
{
	json_t *l = NULL;
	int ok = peerop_kube_list(&l, arg, &GADGETS, "default", NULL) == 0;
	json_decref(l);
	return ok;
}

START_TEST(test_crd_status_and_scale)
{
	env e;
	json_t *crd, *g, *got = NULL;
	peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;

	env_start(&e);
	crd = json_loads("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"gadgets.peerop.example.com\"},"
		"\"spec\":{\"group\":\"peerop.example.com\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"gadgets\",\"singular\":\"gadget\",\"kind\":\"Gadget\"},"
		"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
		"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
		"\"subresources\":{\"status\":{},\"scale\":{\"specReplicasPath\":\".spec.replicas\","
		"\"statusReplicasPath\":\".status.replicas\"}}}]}}", 0, NULL);
	ck_assert_ptr_nonnull(crd);
	ck_assert_msg(peerop_kube_create(NULL, e.c, &CRDS, NULL, crd, NULL) == 0, "%s", peerop_error_last()->message);
	ck_assert(th_wait_until(10000, crd_served, e.c));
	g = json_pack("{s:s,s:s,s:{s:s},s:{s:i}}", "apiVersion", "peerop.example.com/v1", "kind", "Gadget",
		"metadata", "name", "g1", "spec", "replicas", 2);
	ck_assert_msg(peerop_kube_create(&got, e.c, &GADGETS, NULL, g, NULL) == 0, "%s", peerop_error_last()->message);
	/* /status changes only .status */
	json_object_set_new(got, "status", json_pack("{s:i}", "replicas", 2));
	wo.subresource = "status";
	json_decref(g);
	g = got;
	got = NULL;
	ck_assert_msg(peerop_kube_replace(&got, e.c, &GADGETS, NULL, "g1", g, &wo) == 0, "%s", peerop_error_last()->message);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "status"), "replicas")), 2);
	json_decref(got);
	/* /scale reads and patches spec.replicas */
	ck_assert_msg(peerop_kube_get_subresource(&got, e.c, &GADGETS, NULL, "g1", "scale") == 0, "%s",
		peerop_error_last()->message);
	ck_assert_str_eq(json_string_value(json_object_get(got, "kind")), "Scale");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "spec"), "replicas")), 2);
	json_decref(got);
	json_decref(g);
	g = json_pack("{s:{s:i}}", "spec", "replicas", 5);
	wo.subresource = "scale";
	ck_assert_msg(peerop_kube_patch(NULL, e.c, &GADGETS, NULL, "g1", PEEROP_KUBE_PATCH_MERGE, g, &wo) == 0, "%s",
		peerop_error_last()->message);
	ck_assert_int_eq(peerop_kube_get(&got, e.c, &GADGETS, NULL, "g1"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "spec"), "replicas")), 5);
	json_decref(got);
	json_decref(g);
	json_decref(crd);
	env_stop(&e);
}
END_TEST

START_TEST(test_injected_faults_are_retried)
{
	env e;
	json_t *o = cm("r", NULL), *got = NULL;

	env_start(&e);
	ck_assert_int_eq(peerop_kube_create(NULL, e.c, &CMS, NULL, o, NULL), 0);
	/* two 429s with Retry-After: the GET waits and succeeds */
	ck_assert_int_eq(peerop_kube_request(NULL, e.c, "POST", "/_devcluster/fail?code=429&count=2&retryAfter=1", NULL, NULL), 0);
	ck_assert_msg(peerop_kube_get(&got, e.c, &CMS, NULL, "r") == 0, "%s", peerop_error_last()->message);
	json_decref(got);
	/* a 429 on a create is not retried */
	ck_assert_int_eq(peerop_kube_request(NULL, e.c, "POST", "/_devcluster/fail?code=429&count=1", NULL, NULL), 0);
	json_object_set_new(json_object_get(o, "metadata"), "name", json_string("r2"));
	ck_assert_int_eq(peerop_kube_create(NULL, e.c, &CMS, NULL, o, NULL), PEEROP_ETOOMANY);
	ck_assert_int_eq(peerop_error_last()->http_status, 429);
	/* a 500 is an error at once */
	ck_assert_int_eq(peerop_kube_request(NULL, e.c, "POST", "/_devcluster/fail?code=500&count=1", NULL, NULL), 0);
	ck_assert_int_eq(peerop_kube_get(&got, e.c, &CMS, NULL, "r"), PEEROP_EUNAVAILABLE);
	ck_assert_str_eq(peerop_error_last()->reason, "InternalError");
	ck_assert_int_eq(peerop_kube_get(&got, e.c, &CMS, NULL, "r"), 0);
	json_decref(got);
	json_decref(o);
	env_stop(&e);
}
END_TEST

typedef struct watcher {
	peerop_kube_client *c;
	char path[256];
	int stop;
	int done;
	int rc;
	pthread_mutex_t lock;
	peerop__buf data;
} watcher;

static int on_watch_data(const char *d, size_t n, void *payload)
{
	watcher *w = payload;
	pthread_mutex_lock(&w->lock);
	peerop__buf_put(&w->data, d, n);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void *watch_main(void *arg)
{
	watcher *w = arg;
	peerop__kube_stream_opts o;
	memset(&o, 0, sizeof(o));
	o.on_data = on_watch_data;
	o.payload = w;
	o.stop = &w->stop;
	o.idle_timeout_ms = 120000;
	w->rc = peerop__kube_stream(w->c, w->path, &o);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int saw(watcher *w, const char *needle)
{
	int r;
	pthread_mutex_lock(&w->lock);
	r = w->data.ptr && strstr(w->data.ptr, needle) != NULL;
	pthread_mutex_unlock(&w->lock);
	return r;
}

static int watch_done(void *arg)
{
	return __atomic_load_n(&((watcher *)arg)->done, __ATOMIC_ACQUIRE);
}

START_TEST(test_watch_stream)
{
	env e;
	watcher w;
	pthread_t t;
	json_t *list = NULL, *o = cm("watched", NULL);

	env_start(&e);
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	w.c = e.c;
	ck_assert_int_eq(peerop_kube_list(&list, e.c, &CMS, NULL, NULL), 0);
	snprintf(w.path, sizeof(w.path), "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%s",
		meta(list, "resourceVersion"));
	json_decref(list);
	ck_assert_int_eq(pthread_create(&t, NULL, watch_main, &w), 0);
	/* events arrive while the stream stays open */
	ck_assert_int_eq(peerop_kube_create(NULL, e.c, &CMS, NULL, o, NULL), 0);
	ck_assert(TH_WAIT_UNTIL(saw(&w, "\"ADDED\"") && saw(&w, "\"watched\""), 15000));
	ck_assert(!watch_done(&w));
	/* the server ends every watch: a clean end */
	ck_assert_int_eq(peerop_kube_request(NULL, e.c, "POST", "/_devcluster/close-watches", NULL, NULL), 0);
	ck_assert(th_wait_until(15000, watch_done, &w));
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, 0);
	peerop__buf_dispose(&w.data);
	pthread_mutex_destroy(&w.lock);
	json_decref(o);
	env_stop(&e);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_devcluster");
	TCase *tc = tcase_create("devcluster");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_crud_and_errors);
	tcase_add_test(tc, test_list_paging_selectors);
	tcase_add_test(tc, test_crd_status_and_scale);
	tcase_add_test(tc, test_injected_faults_are_retried);
	tcase_add_test(tc, test_watch_stream);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;
	peerop_global_init();
	rc = th_run_suite(suite());
	peerop_global_cleanup();
	return rc;
}
