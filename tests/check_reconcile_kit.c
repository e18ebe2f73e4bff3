/*
 * check_reconcile_kit.c: the reconcile toolkit against the in-process
 * local control plane: terminal errors, ownership safety of apply,
 * finalizers (race-safe add/remove, cleanup before removal), predicates,
 * discovery's cached REST mapper and the client's QPS limit. Every wait
 * polls with a deadline.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "watchhelp.h"
#include "controller_internal.h"

static const peerop_kube_resource HS = { "peerop.io", "v1alpha1", "httpservers", 1 };
#define FIN "peerop.io/cleanup"

typedef struct kit {
	pthread_mutex_t lock;
	int calls[8];               /* by the digit ending the name: "hs-3" */
	int deleting_calls;
	int cleanup_saw_object;     /* the object was still on the server during cleanup */
	int write_status;           /* write status.replicas = calls on each reconcile */
	const char *terminal_name;  /* fail this one terminally */
} kit;

static env *e;
static kit K;

static int idx(const char *name)
{
	size_t n = strlen(name);
	return n && name[n - 1] >= '0' && name[n - 1] <= '7' ? name[n - 1] - '0' : 0;
}

static int kit_get(int *field)
{
	int v;
	pthread_mutex_lock(&K.lock);
	v = *field;
	pthread_mutex_unlock(&K.lock);
	return v;
}

static int reconcile_kit(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	int n, rc = 0;
	(void)payload;

	pthread_mutex_lock(&K.lock);
	n = ++K.calls[idx(req->name)];
	if (req->deleting)
		K.deleting_calls++;
	pthread_mutex_unlock(&K.lock);
	if (!req->object)
		return 0;
	if (K.terminal_name && !strcmp(req->name, K.terminal_name)) {
		result->terminal = 1;
		return peerop__error_set(PEEROP_EINVALID, "test: spec.replicas can never work");
	}
	if (req->deleting) {
		json_t *live = NULL;
		/* cleanup runs while the object is still there, finalizer and all */
		if (peerop_kube_get(&live, e->client, &HS, req->ns, req->name) == 0 &&
		    peerop_finalizer_has(live, FIN) && peerop_object_is_deleting(live)) {
			pthread_mutex_lock(&K.lock);
			K.cleanup_saw_object++;
			pthread_mutex_unlock(&K.lock);
		}
		json_decref(live);
		return 0;
	}
	if (K.write_status) {
		json_t *st = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1",
			"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns,
			"status", "replicas", n);
		rc = peerop_controller_apply_new(NULL, c, &HS, st, "status");
	}
	return rc;
}

static void setup(void)
{
	e = env_start(NULL, false);
	dct_make_crd(e->t);
	memset(&K, 0, sizeof(K));
	pthread_mutex_init(&K.lock, NULL);
}

static void teardown(void)
{
	env_stop(e);
	pthread_mutex_destroy(&K.lock);
}

static peerop_controller *make_ctl(const char *finalizer, const peerop_predicate *preds, size_t npreds)
{
	peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c = NULL;

	o.name = "kit";
	o.primary = HS;
	o.ns = "default";
	o.reconcile = reconcile_kit;
	o.finalizer = finalizer;
	o.predicates = preds;
	o.npredicates = npreds;
	ck_assert_msg(peerop_controller_new(&c, e->client, &o) == 0, "%s", peerop_error_last()->message);
	return c;
}

static json_t *hs_obj(const char *name, int replicas)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "metadata", "name", name, "namespace", "default", "spec", "replicas", replicas);
}

static json_t *make_hs(const char *name, int replicas)
{
	json_t *o = hs_obj(name, replicas), *out = NULL;
	int rc = peerop_kube_create(&out, e->client, &HS, "default", o, NULL);
	ck_assert_msg(rc == 0, "create %s: %s", name, peerop_error_last()->message);
	json_decref(o);
	return out;
}

static void merge_patch(const peerop_kube_resource *res, const char *name, const char *text)
{
	json_t *p = json_loads(text, 0, NULL);
	int rc = peerop_kube_patch(NULL, e->client, res, "default", name, PEEROP_KUBE_PATCH_MERGE, p, NULL);
	ck_assert_msg(rc == 0, "patch %s: %s", name, peerop_error_last()->message);
	json_decref(p);
}

static long long status_replicas(const char *name)
{
	json_t *o = NULL;
	long long v = -1;
	if (peerop_kube_get(&o, e->client, &HS, "default", name) == 0)
		peerop_fieldpath_int(&v, o, "status.replicas");
	json_decref(o);
	return v;
}

static int gone(const peerop_kube_resource *res, const char *name)
{
	json_t *o = NULL;
	int rc = peerop_kube_get(&o, e->client, res, "default", name);
	json_decref(o);
	return rc == PEEROP_ENOTFOUND;
}

static int has_fin(const char *name, const char *fin)
{
	json_t *o = NULL;
	int r = peerop_kube_get(&o, e->client, &HS, "default", name) == 0 && peerop_finalizer_has(o, fin);
	json_decref(o);
	return r;
}

/* ---- terminal errors ------------------------------------------------------ */

START_TEST(terminal_errors_are_counted_and_not_retried)
{
	peerop_controller *c;
	peerop_controller_stats s;
	peerop_metrics_collect_cb cb = peerop_controller_collect_metrics;
	void *pl;
	char *text = NULL;

	K.terminal_name = "hs-1";
	K.write_status = 1;
	c = make_ctl(NULL, NULL, 0);
	th_log_capture_start(PEEROP_LOG_ERROR);
	ck_assert_int_eq(peerop_controller_start(c), 0);
	json_decref(make_hs("hs-1", 1));
	ck_assert(TH_WAIT_UNTIL(kit_get(&K.calls[1]) == 1, 20000));
	/* a later object, reconciled by the one worker after hs-1: hs-1 was not queued again */
	json_decref(make_hs("hs-2", 1));
	ck_assert(TH_WAIT_UNTIL(status_replicas("hs-2") >= 1, 20000));
	peerop_controller_get_stats(c, &s);
	ck_assert_uint_eq(s.terminal_errors, 1);
	ck_assert_uint_eq(s.errors, 1);
	ck_assert_uint_eq(s.queue.delayed, 0);
	ck_assert_uint_eq(s.queue.retries_total, 0);
	ck_assert_int_eq(peerop_workqueue_num_requeues(c->queue, "default/hs-1"), 0);
	ck_assert_int_eq(kit_get(&K.calls[1]), 1);
	ck_assert_int_eq(th_log_count("reconcile default/hs-1 failed terminally (PEEROP_EINVALID): "
		"test: spec.replicas can never work; not retried until it changes"), 1);
	th_log_capture_stop();

	pl = c;
	ck_assert_int_eq(peerop_metrics_render(&text, &cb, &pl, 1), 0);
	ck_assert_msg(strstr(text, "controller_runtime_terminal_reconcile_errors_total{controller=\"kit\"} 1\n"), "%s", text);
	ck_assert(strstr(text, "controller_runtime_reconcile_errors_total{controller=\"kit\"} 1\n"));
	peerop_free(text);

	/* a change queues it again */
	merge_patch(&HS, "hs-1", "{\"spec\":{\"replicas\":2}}");
	ck_assert(TH_WAIT_UNTIL(kit_get(&K.calls[1]) == 2, 20000));
	peerop_controller_free(c);
}
END_TEST

/* ---- ownership ------------------------------------------------------------ */

static json_t *child_cm(const char *name, const json_t *owner)
{
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", name, "namespace", "default", "data", "k", "ours");
	if (owner)
		ck_assert_int_eq(peerop_object_set_controller(cm, owner), 0);
	return cm;
}

START_TEST(apply_refuses_to_adopt)
{
	peerop_controller *c = make_ctl(NULL, NULL, 0);
	json_t *owner = make_hs("owner-1", 1), *other = make_hs("other-2", 1), *cm, *got = NULL;

	/* a ConfigMap made by hand, no owner */
	put_cm(e, "handmade", "theirs");
	cm = child_cm("handmade", owner);
	ck_assert_int_eq(peerop_controller_apply(NULL, c, &CM, cm, NULL), PEEROP_ECONFLICT);
	ck_assert_msg(strstr(peerop_error_last()->message, "configmaps default/handmade: it exists and has no "
		"controller"), "%s", peerop_error_last()->message);
	ck_assert_str_eq(peerop_error_last()->reason, "NotOwned");
	json_decref(cm);

	/* one another HTTPServer controls */
	cm = child_cm("others", other);
	ck_assert_int_eq(peerop_controller_apply_new(NULL, c, &CM, cm, NULL), 0);
	cm = child_cm("others", owner);
	ck_assert_int_eq(peerop_controller_apply_new(NULL, c, &CM, cm, NULL), PEEROP_ECONFLICT);
	ck_assert_msg(strstr(peerop_error_last()->message, "controlled by HTTPServer other-2"), "%s",
		peerop_error_last()->message);

	/* both left as they were */
	ck_assert_int_eq(peerop_kube_get(&got, e->client, &CM, "default", "handmade"), 0);
	ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "ownerReferences"));
	ck_assert_str_eq(peerop_fieldpath_string(got, "data.v"), "theirs");
	json_decref(got);
	ck_assert_int_eq(peerop_kube_get(&got, e->client, &CM, "default", "others"), 0);
	ck_assert_str_eq(peerop_object_controller_uid(got), peerop_fieldpath_string(other, "metadata.uid"));
	json_decref(got);

	/* our own: created, then applied again */
	ck_assert_int_eq(peerop_controller_apply_new(NULL, c, &CM, child_cm("mine", owner), NULL), 0);
	ck_assert_int_eq(peerop_controller_apply_new(&got, c, &CM, child_cm("mine", owner), NULL), 0);
	ck_assert_str_eq(peerop_object_controller_uid(got), peerop_fieldpath_string(owner, "metadata.uid"));
	json_decref(got);
	/* without an ownerReference there is nothing to check (the old behaviour) */
	cm = child_cm("handmade", NULL);
	ck_assert_int_eq(peerop_controller_apply_new(NULL, c, &CM, cm, NULL), 0);
	/* a NULL object from a failed constructor */
	ck_assert_int_eq(peerop_controller_apply_new(NULL, c, &CM, NULL, NULL), PEEROP_ENOMEM);
	json_decref(owner);
	json_decref(other);
	peerop_controller_free(c);
}
END_TEST

/* ---- finalizers --------------------------------------------------------- */

START_TEST(finalizer_helpers_are_race_safe)
{
	json_t *hs = make_hs("fin-1", 1), *stale, *fresh = NULL, *out = NULL;

	ck_assert_int_eq(peerop_finalizer_add(NULL, e->client, &HS, hs, "not a name"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_finalizer_add(NULL, NULL, &HS, hs, FIN), PEEROP_EINVAL);
	/* first one: tested against the resourceVersion */
	ck_assert_int_eq(peerop_finalizer_add(&out, e->client, &HS, hs, FIN), 0);
	ck_assert(peerop_finalizer_has(out, FIN));
	ck_assert_int_eq(peerop_finalizer_add(NULL, e->client, &HS, out, FIN), 1);   /* there already */
	stale = out;
	out = NULL;
	/* someone else adds theirs; our stale copy must not overwrite it */
	ck_assert_int_eq(peerop_kube_get(&fresh, e->client, &HS, "default", "fin-1"), 0);
	ck_assert_int_eq(peerop_finalizer_add(NULL, e->client, &HS, fresh, "example.com/other"), 0);
	ck_assert_int_eq(peerop_finalizer_add(NULL, e->client, &HS, stale, "example.com/third"), PEEROP_ECONFLICT);
	ck_assert(strstr(peerop_error_last()->message, "changed meanwhile"));
	/* the same stale copy for the first add (no list yet) */
	ck_assert_int_eq(peerop_finalizer_add(NULL, e->client, &HS, hs, "example.com/third"), PEEROP_ECONFLICT);
	json_decref(fresh);
	fresh = NULL;
	ck_assert_int_eq(peerop_kube_get(&fresh, e->client, &HS, "default", "fin-1"), 0);
	ck_assert_int_eq(json_array_size(peerop_fieldpath_get(fresh, "metadata.finalizers")), 2);
	/* remove by a stale index: the list moved under it */
	ck_assert_int_eq(peerop_finalizer_remove(NULL, e->client, &HS, fresh, FIN), 0);
	{
		json_t *swapped = json_deep_copy(fresh);
		/* pretend we saw the other one at index 0 where FIN now is... */
		json_t *list = peerop_fieldpath_get(swapped, "metadata.finalizers");
		json_array_clear(list);
		json_array_append_new(list, json_string("x.io/a"));
		json_array_append_new(list, json_string("example.com/other"));
		ck_assert_int_eq(peerop_finalizer_remove(NULL, e->client, &HS, swapped, "example.com/other"),
			PEEROP_ECONFLICT);
		json_decref(swapped);
	}
	ck_assert(has_fin("fin-1", "example.com/other"));
	ck_assert(!has_fin("fin-1", FIN));
	/* the stale copy still lists it: refused, not a blind remove */
	ck_assert_int_eq(peerop_finalizer_remove(NULL, e->client, &HS, fresh, FIN), PEEROP_ECONFLICT);
	json_decref(fresh);
	fresh = NULL;
	ck_assert_int_eq(peerop_kube_get(&fresh, e->client, &HS, "default", "fin-1"), 0);
	ck_assert_int_eq(peerop_finalizer_remove(NULL, e->client, &HS, fresh, FIN), 1);   /* absent */
	json_decref(fresh);
	json_decref(stale);
	json_decref(hs);
}
END_TEST

START_TEST(finalizer_cleanup_before_removal)
{
	peerop_controller *c;

	c = make_ctl(FIN, NULL, 0);
	ck_assert_int_eq(peerop_controller_start(c), 0);
	json_decref(make_hs("del-1", 1));
	ck_assert(TH_WAIT_UNTIL(has_fin("del-1", FIN), 20000));
	ck_assert_int_eq(peerop_kube_delete(NULL, e->client, &HS, "default", "del-1", NULL), 0);
	ck_assert(TH_WAIT_UNTIL(gone(&HS, "del-1"), 20000));
	ck_assert_int_ge(kit_get(&K.deleting_calls), 1);
	ck_assert_int_ge(kit_get(&K.cleanup_saw_object), 1);
	peerop_controller_free(c);

	/* bad finalizer names are refused up front */
	{
		peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
		o.name = "x";
		o.primary = HS;
		o.reconcile = reconcile_kit;
		o.finalizer = "-bad-";
		ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
		o.finalizer = NULL;
		o.npredicates = 1;
		ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
	}
}
END_TEST

/* ---- predicates --------------------------------------------------------- */

START_TEST(predicates_skip_status_writes)
{
	static const peerop_predicate preds[2] = {
		{ peerop_predicate_generation_changed, NULL }, { peerop_predicate_labels_changed, NULL }
	};
	peerop_controller *c;

	K.write_status = 1;
	c = make_ctl(NULL, preds, 2);
	ck_assert_int_eq(peerop_controller_start(c), 0);
	json_decref(make_hs("pred-1", 1));
	ck_assert(TH_WAIT_UNTIL(status_replicas("pred-1") == 1, 20000));
	/* hs-2 comes after pred-1's status write in the watch; with one worker
	 * and a FIFO queue, a reconcile of pred-1 that write caused would have
	 * run before hs-2's */
	json_decref(make_hs("pred-2", 1));
	ck_assert(TH_WAIT_UNTIL(status_replicas("pred-2") == 1, 20000));
	ck_assert_int_eq(kit_get(&K.calls[1]), 1);
	/* a spec change (generation) and a label change do count */
	merge_patch(&HS, "pred-1", "{\"spec\":{\"replicas\":3}}");
	ck_assert(TH_WAIT_UNTIL(status_replicas("pred-1") == 2, 20000));
	merge_patch(&HS, "pred-1", "{\"metadata\":{\"labels\":{\"tier\":\"web\"}}}");
	ck_assert(TH_WAIT_UNTIL(status_replicas("pred-1") == 3, 20000));
	peerop_controller_free(c);
}
END_TEST

/* ---- discovery ------------------------------------------------------------ */

START_TEST(discovery_maps_kinds_and_caches)
{
	peerop_discovery *d = NULL;
	peerop_kube_resource r;
	unsigned long long n;
	json_t *obj;

	ck_assert_int_eq(peerop_discovery_new(&d, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_discovery_new(&d, e->client), 0);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "apps/v1", "Deployment"), 0);
	ck_assert_str_eq(r.group, "apps");
	ck_assert_str_eq(r.version, "v1");
	ck_assert_str_eq(r.resource, "deployments");
	ck_assert_int_eq(r.namespaced, 1);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "v1", "Namespace"), 0);
	ck_assert_str_eq(r.group, "");
	ck_assert_str_eq(r.resource, "namespaces");
	ck_assert_int_eq(r.namespaced, 0);
	obj = hs_obj("x", 1);
	ck_assert_int_eq(peerop_discovery_resource_of(&r, d, obj), 0);
	ck_assert_str_eq(r.resource, "httpservers");
	ck_assert_int_eq(r.namespaced, 1);
	json_decref(obj);
	n = peerop_discovery_requests(d);
	ck_assert_uint_eq(n, 3);
	/* cached: no request */
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "v1", "ConfigMap"), 0);
	ck_assert_str_eq(r.resource, "configmaps");
	ck_assert_uint_eq(peerop_discovery_requests(d), n);
	/* an unknown kind asks once, and not again within the second */
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "apps/v1", "Nope"), PEEROP_ENOTFOUND);
	ck_assert(strstr(peerop_error_last()->message, "apps/v1 has no kind Nope"));
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "apps/v1", "Nope"), PEEROP_ENOTFOUND);
	ck_assert_uint_le(peerop_discovery_requests(d), n + 1);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "nope.io/v1", "X"), PEEROP_ENOTFOUND);
	ck_assert(strstr(peerop_error_last()->message, "no API nope.io/v1"));
	/* subresources are not kinds */
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "apps/v1", "Scale"), PEEROP_ENOTFOUND);
	/* bad arguments */
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "a/b/c", "X"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "/v1", "X"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "v1", ""), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, NULL, "Pod"), PEEROP_EINVAL);
	/* invalidated: asked again */
	n = peerop_discovery_requests(d);
	peerop_discovery_invalidate(d);
	ck_assert_int_eq(peerop_discovery_resource_for(&r, d, "v1", "Pod"), 0);
	ck_assert_str_eq(r.resource, "pods");
	ck_assert_uint_eq(peerop_discovery_requests(d), n + 1);
	peerop_discovery_free(d);
	peerop_discovery_free(NULL);
}
END_TEST

/* ---- client QPS ----------------------------------------------------------- */

START_TEST(client_qps_limits_requests)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *cl = NULL;
	uint64_t t0, took;
	int i;

	co.kubeconfig = e->kubeconfig;
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &co), 0);
	o.qps = 50;
	o.burst = 5;
	ck_assert_int_eq(peerop_kube_client_new(&cl, cfg, &o), 0);
	peerop_kube_config_free(cfg);
	/* 5 from the burst, then one every 20 ms: 25 requests take >= 400 ms
	 * (a floor: contention can only make it slower) */
	t0 = th_now_ms();
	for (i = 0; i < 25; i++) {
		json_t *ns = NULL;
		ck_assert_int_eq(peerop_kube_request(&ns, cl, "GET", "/api/v1/namespaces/default", NULL, NULL), 0);
		json_decref(ns);
	}
	took = th_now_ms() - t0;
	ck_assert_msg(took >= 380, "25 requests at 50 qps (burst 5) took only %llu ms", (unsigned long long)took);
	{
		peerop_metrics_collect_cb cb = peerop_kube_client_collect_metrics;
		void *pl = cl;
		char *text = NULL;
		ck_assert_int_eq(peerop_metrics_render(&text, &cb, &pl, 1), 0);
		ck_assert_msg(strstr(text, "rest_client_request_duration_seconds_count{") &&
			strstr(text, "verb=\"GET\"} 25\n"), "%s", text);
		peerop_free(text);
	}
	peerop_kube_client_free(cl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reconcile_kit");
	TCase *tc = tcase_create("reconcile_kit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, terminal_errors_are_counted_and_not_retried);
	tcase_add_test(tc, apply_refuses_to_adopt);
	tcase_add_test(tc, finalizer_helpers_are_race_safe);
	tcase_add_test(tc, finalizer_cleanup_before_removal);
	tcase_add_test(tc, predicates_skip_status_writes);
	tcase_add_test(tc, discovery_maps_kinds_and_caches);
	tcase_add_test(tc, client_qps_limits_requests);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
