/*
 * check_controller.c: the controller runtime against the in-process local
 * control plane, with a small reconciler for HTTPServers: each gets a
 * "<name>-peers" ConfigMap it controls, and a status with Ready and
 * observedGeneration. Every wait polls with a deadline.
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
static const peerop_kube_resource NSR = { "", "v1", "namespaces", 0 };
#define MANAGED "app.kubernetes.io/managed-by"

/* ---- the test reconciler ------------------------------------------------ */

typedef struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	peerop__map inflight;       /* key -> (void *)1 while reconciling */
	int overlaps;               /* a key reconciled by two workers at once */
	int calls, notfound;
	int fail_left;              /* fail this many calls (EUNAVAILABLE) */
	int requeue_after_left;     /* ask for requeue_after 100 ms this many times */
	const char *block_name;     /* a reconcile of this name waits for the gate */
	int gate_open, blocked;
	int calls_after_stop;
	int stopped;
	char last_key[256];
} rec;

static void rec_init(rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

static void rec_dispose(rec *r)
{
	peerop__map_dispose(&r->inflight);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

static int rec_get(rec *r, int *field)
{
	int v;
	pthread_mutex_lock(&r->lock);
	v = *field;
	pthread_mutex_unlock(&r->lock);
	return v;
}

static int reconcile_hs(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	rec *r = payload;
	char key[256];
	json_t *hs = NULL, *cm, *status, *conds, *old;
	long long replicas, gen;
	const char *rev;
	int rc = 0, fail = 0, changed;

	snprintf(key, sizeof(key), "%s/%s", req->ns, req->name);
	pthread_mutex_lock(&r->lock);
	r->calls++;
	if (r->stopped)
		r->calls_after_stop++;
	snprintf(r->last_key, sizeof(r->last_key), "%s", key);
	if (peerop__map_get(&r->inflight, key))
		r->overlaps++;
	peerop__map_put(&r->inflight, key, (void *)1, NULL);
	if (r->fail_left > 0) {
		r->fail_left--;
		fail = 1;
	}
	if (r->requeue_after_left > 0) {
		r->requeue_after_left--;
		result->requeue_after_ms = 100;
	}
	if (r->block_name && !strcmp(req->name, r->block_name)) {
		r->blocked = 1;
		pthread_cond_broadcast(&r->cond);
		while (!r->gate_open)
			pthread_cond_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);

	if (fail) {
		rc = peerop__error_set(PEEROP_EUNAVAILABLE, "test: failing on purpose");
		goto out;
	}
	if (peerop_informer_get(&hs, peerop_controller_cache(c, NULL), req->ns, req->name) != 0) {
		pthread_mutex_lock(&r->lock);
		r->notfound++;
		pthread_mutex_unlock(&r->lock);
		goto out;   /* deleted: its ConfigMap goes with it (garbage collection) */
	}
	replicas = json_integer_value(json_object_get(json_object_get(hs, "spec"), "replicas"));
	gen = json_integer_value(json_object_get(json_object_get(hs, "metadata"), "generation"));
	rev = json_string_value(json_object_get(json_object_get(json_object_get(hs, "metadata"),
		"annotations"), "rev"));

	cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:I, s:s}}", "apiVersion", "v1", "kind",
		"ConfigMap", "metadata", "name", "", "namespace", req->ns, "labels", MANAGED, "test-ctl",
		"data", "replicas", (json_int_t)0, "rev", rev ? rev : "");
	json_object_set_new(json_object_get(cm, "metadata"), "name",
		json_sprintf("%s-peers", req->name));
	json_object_set_new(json_object_get(cm, "data"), "replicas", json_sprintf("%lld", replicas));
	rc = peerop_object_set_controller(cm, hs);
	if (rc == 0)
		rc = peerop_controller_apply(NULL, c, &CM, cm, NULL);
	json_decref(cm);
	if (rc < 0)
		goto out;

	/* status: written only when it would change */
	old = json_object_get(hs, "status");
	status = old ? json_deep_copy(old) : json_object();
	conds = json_object_get(status, "conditions");
	if (!json_is_array(conds))
		json_object_set_new(status, "conditions", conds = json_array());
	changed = peerop_condition_set(conds, "Ready", "True", "ConfigMapApplied", "peers written", gen, 0);
	if (json_integer_value(json_object_get(status, "observedGeneration")) != gen ||
	    json_integer_value(json_object_get(status, "replicas")) != replicas)
		changed = 1;
	json_object_set_new(status, "observedGeneration", json_integer(gen));
	json_object_set_new(status, "replicas", json_integer(replicas));
	if (changed > 0) {
		json_t *patch = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "peerop.io/v1alpha1",
			"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns, "status", status);
		rc = peerop_controller_apply(NULL, c, &HS, patch, "status");
		json_decref(patch);
	}
	json_decref(status);
out:
	json_decref(hs);
	pthread_mutex_lock(&r->lock);
	peerop__map_remove(&r->inflight, key);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- environment ------------------------------------------------------- */

static env *e;
static rec R;

static void setup(void)
{
	e = env_start(NULL, false);
	dct_make_crd(e->t);
	rec_init(&R);
}

static void teardown(void)
{
	env_stop(e);
	rec_dispose(&R);
}

static peerop_controller *make_ctl(unsigned workers, unsigned grace_ms)
{
	peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c = NULL;

	o.name = "test-ctl";
	o.primary = HS;
	o.ns = "default";
	o.workers = workers;
	o.shutdown_grace_ms = grace_ms;
	o.reconcile = reconcile_hs;
	o.payload = &R;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), 0);
	ck_assert_int_eq(peerop_controller_owns(c, &CM, MANAGED "=test-ctl"), 0);
	return c;
}

static void make_hs(const char *name, int replicas)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "metadata", "name", name, "spec", "replicas", replicas);
	int rc = peerop_kube_create(NULL, e->client, &HS, "default", o, NULL);
	ck_assert_msg(rc == 0, "create %s: %s", name, peerop_error_last()->message);
	json_decref(o);
}

static void patch_hs(const char *name, const char *merge_patch)
{
	json_t *p = json_loads(merge_patch, 0, NULL);
	int rc = peerop_kube_patch(NULL, e->client, &HS, "default", name, PEEROP_KUBE_PATCH_MERGE, p, NULL);
	ck_assert_msg(rc == 0, "patch %s: %s", name, peerop_error_last()->message);
	json_decref(p);
}

/* 1 when the HTTPServer's status is current and its ConfigMap says replicas/rev. */
static int converged(const char *name, long long replicas, const char *rev)
{
	json_t *hs = NULL, *cm = NULL;
	char cmname[128];
	int ok = 0;

	snprintf(cmname, sizeof(cmname), "%s-peers", name);
	if (peerop_kube_get(&hs, e->client, &HS, "default", name) == 0 &&
	    peerop_kube_get(&cm, e->client, &CM, "default", cmname) == 0) {
		json_t *st = json_object_get(hs, "status"), *data = json_object_get(cm, "data");
		const char *r = json_string_value(json_object_get(data, "replicas"));
		const char *v = json_string_value(json_object_get(data, "rev"));
		char want[32];
		snprintf(want, sizeof(want), "%lld", replicas);
		ok = json_integer_value(json_object_get(st, "observedGeneration")) ==
				json_integer_value(json_object_get(json_object_get(hs, "metadata"), "generation")) &&
			json_integer_value(json_object_get(st, "replicas")) == replicas &&
			peerop_condition_is_true(json_object_get(st, "conditions"), "Ready") &&
			r && !strcmp(r, want) && (!rev || (v && !strcmp(v, rev))) &&
			peerop_object_controller_uid(cm) &&
			!strcmp(peerop_object_controller_uid(cm),
				json_string_value(json_object_get(json_object_get(hs, "metadata"), "uid")));
	}
	json_decref(hs);
	json_decref(cm);
	return ok;
}

static int idle(peerop_controller *c)
{
	peerop_controller_stats s;
	peerop_controller_get_stats(c, &s);
	return s.queue.depth == 0 && s.queue.delayed == 0 && s.active_workers == 0;
}

static int api_answers(void)
{
	json_t *o = NULL;
	int rc = peerop_kube_get(&o, e->client, &NSR, NULL, "default");
	json_decref(o);
	return rc == 0;
}

static int cm_exists(const char *name)
{
	json_t *cm = NULL;
	int rc = peerop_kube_get(&cm, e->client, &CM, "default", name);
	json_decref(cm);
	return rc == 0;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(reconciles_primaries_and_owned)
{
	peerop_controller *c = make_ctl(2, 0);
	peerop_controller_stats s;
	char name[32];
	int i;

	make_hs("early", 2);   /* exists before start: comes with the initial list */
	ck_assert_int_eq(peerop_controller_start(c), 0);
	ck_assert_int_eq(peerop_controller_wait_synced(c, 20000), 0);
	ck_assert(peerop_controller_ready(c));
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "web-%d", i);
		make_hs(name, i);
	}
	ck_assert(TH_WAIT_UNTIL(converged("early", 2, NULL), 20000));
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "web-%d", i);
		ck_assert_msg(TH_WAIT_UNTIL(converged(name, i, NULL), 20000), "%s did not converge", name);
	}

	/* a spec change (what kubectl scale does) flows to the ConfigMap and status */
	patch_hs("web-1", "{\"spec\":{\"replicas\":5}}");
	ck_assert(TH_WAIT_UNTIL(converged("web-1", 5, NULL), 20000));

	/* an owned object deleted by hand is recreated: its event maps to the owner */
	ck_assert_int_eq(peerop_kube_delete(NULL, e->client, &CM, "default", "web-2-peers", NULL), 0);
	ck_assert(TH_WAIT_UNTIL(cm_exists("web-2-peers"), 20000));
	ck_assert(TH_WAIT_UNTIL(converged("web-2", 2, NULL), 20000));

	/* an owned object changed by hand is put back */
	{
		json_t *p = json_pack("{s:{s:s}}", "data", "replicas", "99");
		ck_assert_int_eq(peerop_kube_patch(NULL, e->client, &CM, "default", "web-3-peers",
			PEEROP_KUBE_PATCH_MERGE, p, NULL), 0);
		json_decref(p);
	}
	ck_assert(TH_WAIT_UNTIL(converged("web-3", 3, NULL), 20000));

	/* a deleted primary: reconcile finds nothing; its ConfigMap is collected */
	ck_assert_int_eq(peerop_kube_delete(NULL, e->client, &HS, "default", "web-4", NULL), 0);
	ck_assert(TH_WAIT_UNTIL(!cm_exists("web-4-peers") && rec_get(&R, &R.notfound) > 0, 20000));

	peerop_controller_get_stats(c, &s);
	ck_assert_uint_ge(s.reconciles, 6);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert_uint_ge(s.queue.adds_total, 6);
	ck_assert_int_eq(rec_get(&R, &R.overlaps), 0);
	ck_assert_int_eq(peerop_controller_stop(c), 0);
	ck_assert(!peerop_controller_ready(c));
	peerop_controller_free(c);
}
END_TEST

START_TEST(errors_are_retried_with_backoff)
{
	peerop_controller *c = make_ctl(1, 0);
	peerop_controller_stats s;

	R.fail_left = 4;
	th_log_capture_start(PEEROP_LOG_ERROR);
	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("flaky", 1);
	ck_assert(TH_WAIT_UNTIL(converged("flaky", 1, NULL), 30000));
	ck_assert_int_eq(th_log_count("reconcile default/flaky failed (PEEROP_EUNAVAILABLE): test: failing on purpose"), 4);
	th_log_capture_stop();
	peerop_controller_get_stats(c, &s);
	ck_assert_uint_eq(s.errors, 4);
	ck_assert_uint_ge(s.queue.retries_total, 4);
	/* success forgot the key's backoff */
	ck_assert(TH_WAIT_UNTIL(peerop_workqueue_num_requeues(c->queue, "default/flaky") == 0, 10000));
	peerop_controller_free(c);
}
END_TEST

START_TEST(requeue_after_runs_again_without_events)
{
	peerop_controller *c = make_ctl(1, 0);
	peerop_controller_stats s;
	int before;

	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("timer", 1);
	ck_assert(TH_WAIT_UNTIL(converged("timer", 1, NULL), 20000));
	ck_assert(TH_WAIT_UNTIL(idle(c), 10000));
	before = rec_get(&R, &R.calls);
	pthread_mutex_lock(&R.lock);
	R.requeue_after_left = 3;
	pthread_mutex_unlock(&R.lock);
	ck_assert_int_eq(peerop_controller_enqueue(c, "default", "timer"), 0);
	/* one enqueue, three requeue_after: four calls with no change in the cluster */
	ck_assert(TH_WAIT_UNTIL(rec_get(&R, &R.calls) >= before + 4, 20000));
	peerop_controller_get_stats(c, &s);
	ck_assert_uint_ge(s.requeues_after, 3);
	peerop_controller_free(c);
}
END_TEST

START_TEST(one_worker_per_key_and_changes_during_reconcile_rerun)
{
	peerop_controller *c = make_ctl(4, 0);
	char name[32], patch[128];
	int i, round;

	ck_assert_int_eq(peerop_controller_start(c), 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "busy-%d", i);
		make_hs(name, 1);
	}
	/* a storm of changes while workers run: never two reconciles of one
	 * key at once, and the last change is always seen */
	for (round = 1; round <= 25; round++)
		for (i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "busy-%d", i);
			snprintf(patch, sizeof(patch), "{\"metadata\":{\"annotations\":{\"rev\":\"%d\"}}}", round);
			patch_hs(name, patch);
		}
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "busy-%d", i);
		ck_assert_msg(TH_WAIT_UNTIL(converged(name, 1, "25"), 30000), "%s missed the last change", name);
	}
	ck_assert_int_eq(rec_get(&R, &R.overlaps), 0);
	peerop_controller_free(c);
}
END_TEST

typedef struct stopper {
	peerop_controller *c;
	int rc, returned;
} stopper;

static void *stop_thread(void *arg)
{
	stopper *s = arg;
	int rc = peerop_controller_stop(s->c);
	pthread_mutex_lock(&R.lock);
	s->rc = rc;
	s->returned = 1;
	R.stopped = 1;
	pthread_mutex_unlock(&R.lock);
	return NULL;
}

static int returned(void *arg)
{
	stopper *s = arg;
	int r;
	pthread_mutex_lock(&R.lock);
	r = s->returned;
	pthread_mutex_unlock(&R.lock);
	return r;
}

START_TEST(stop_lets_inflight_reconcile_finish)
{
	peerop_controller *c = make_ctl(2, 0);
	stopper st = { c, 1, 0 }, st2 = { c, 1, 0 };
	pthread_t t, t2;

	R.block_name = "slow";
	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("slow", 1);
	ck_assert(TH_WAIT_UNTIL(rec_get(&R, &R.blocked), 20000));
	ck_assert_int_eq(pthread_create(&t, NULL, stop_thread, &st), 0);
	/* stop stops intake at once... */
	ck_assert(TH_WAIT_UNTIL(peerop_controller_enqueue(c, "default", "other") == PEEROP_ECANCELED, 10000));
	/* ...but cannot return while the reconcile runs; nor can a second
	 * stop, which waits for the first (it returned at once before) */
	ck_assert(!peerop_controller_ready(c));
	ck_assert_int_eq(pthread_create(&t2, NULL, stop_thread, &st2), 0);
	ck_assert_msg(!th_wait_until(2000, returned, &st2), "a second stop returned while a reconcile ran");
	pthread_mutex_lock(&R.lock);
	ck_assert_int_eq(st.returned, 0);
	R.gate_open = 1;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.lock);
	pthread_join(t, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(st.rc, 0);
	ck_assert_int_eq(st2.rc, 0);
	/* the reconcile that was running completed its writes */
	ck_assert(converged("slow", 1, NULL));
	ck_assert_int_eq(rec_get(&R, &R.calls_after_stop), 0);
	ck_assert_int_eq(peerop_controller_stop(c), 0);   /* idempotent */
	peerop_controller_free(c);
}
END_TEST

START_TEST(stop_gives_up_after_grace_period)
{
	peerop_controller *c = make_ctl(1, 300);

	R.block_name = "stuck";
	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("stuck", 1);
	ck_assert(TH_WAIT_UNTIL(rec_get(&R, &R.blocked), 20000));
	th_log_capture_start(PEEROP_LOG_WARN);
	ck_assert_int_eq(peerop_controller_stop(c), PEEROP_ETIMEOUT);
	ck_assert_int_eq(th_log_count("still running after the 300 ms grace period"), 1);
	th_log_capture_stop();
	/* free waits for the stuck worker rather than pull memory from under it */
	pthread_mutex_lock(&R.lock);
	R.gate_open = 1;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.lock);
	peerop_controller_free(c);
}
END_TEST

/* cluster-scoped keys are bare names, and the request's ns is "" */
static int reconcile_ns(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	rec *r = payload;
	(void)c;
	(void)result;
	pthread_mutex_lock(&r->lock);
	if (!strcmp(req->ns, "") && !strcmp(req->name, "team-a"))
		r->calls++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

START_TEST(cluster_scoped_primary)
{
	peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c = NULL;
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
		"metadata", "name", "team-a");

	o.name = "ns-ctl";
	o.primary = NSR;
	o.ns = "";
	o.reconcile = reconcile_ns;
	o.payload = &R;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), 0);
	ck_assert_int_eq(peerop_controller_start(c), 0);
	ck_assert_int_eq(peerop_kube_create(NULL, e->client, &NSR, NULL, ns, NULL), 0);
	ck_assert(TH_WAIT_UNTIL(rec_get(&R, &R.calls) >= 1, 20000));
	json_decref(ns);
	peerop_controller_free(c);
}
END_TEST

/* 500s on every call and dropped watches: the caches recover, the
 * failed reconciles are retried, new objects are reconciled. */
START_TEST(survives_api_errors_and_dropped_watches)
{
	peerop_controller *c = make_ctl(1, 0);

	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("before", 1);
	ck_assert(TH_WAIT_UNTIL(converged("before", 1, NULL), 20000));
	admin(e, "/_devcluster/fail?code=500&count=20");
	admin(e, "/_devcluster/close-watches");
	ck_assert(TH_WAIT_UNTIL(api_answers(), 30000));
	make_hs("after", 3);
	ck_assert(TH_WAIT_UNTIL(converged("after", 3, NULL), 30000));
	patch_hs("before", "{\"spec\":{\"replicas\":4}}");
	ck_assert(TH_WAIT_UNTIL(converged("before", 4, NULL), 30000));
	peerop_controller_free(c);
}
END_TEST

START_TEST(metrics_render_and_pass_promtool)
{
	peerop_controller *c = make_ctl(1, 0);
	peerop_metrics_collect_cb cbs[2] = { peerop_controller_collect_metrics, peerop_kube_client_collect_metrics };
	void *payloads[2];
	char *text = NULL, *path, cmd[4200];
	int rc;

	payloads[0] = c;
	payloads[1] = e->client;
	R.fail_left = 1;
	ck_assert_int_eq(peerop_controller_start(c), 0);
	make_hs("m", 1);
	ck_assert(TH_WAIT_UNTIL(converged("m", 1, NULL), 20000));
	ck_assert_int_eq(peerop_metrics_render(&text, cbs, payloads, 2), 0);
	ck_assert_msg(strstr(text, "controller_runtime_reconcile_total{controller=\"test-ctl\",result=\"error\"} 1\n"), "%s", text);
	ck_assert(strstr(text, "controller_runtime_reconcile_total{controller=\"test-ctl\",result=\"success\"}"));
	ck_assert(strstr(text, "controller_runtime_reconcile_time_seconds_bucket{controller=\"test-ctl\",le=\"+Inf\"}"));
	ck_assert(strstr(text, "workqueue_retries_total{name=\"test-ctl\"} 1\n"));
	ck_assert(strstr(text, "workqueue_depth{name=\"test-ctl\"}"));
	ck_assert(strstr(text, "rest_client_requests_total{code=\"200\",host=\"127.0.0.1:"));
	ck_assert(strstr(text, "method=\"PATCH\"}"));
	/* client-go's and controller-runtime's names for the queue, latency and caches */
	ck_assert(strstr(text, "workqueue_queue_duration_seconds_bucket{name=\"test-ctl\",le=\"1e-08\"}"));
	ck_assert(strstr(text, "workqueue_queue_duration_seconds_count{name=\"test-ctl\"}"));
	ck_assert(strstr(text, "workqueue_work_duration_seconds_bucket{name=\"test-ctl\",le=\"+Inf\"}"));
	ck_assert(strstr(text, "workqueue_unfinished_work_seconds{name=\"test-ctl\"}"));
	ck_assert(strstr(text, "controller_runtime_terminal_reconcile_errors_total{controller=\"test-ctl\"} 0\n"));
	ck_assert(strstr(text, "rest_client_request_duration_seconds_bucket{host=\"127.0.0.1:"));
	ck_assert(strstr(text, "verb=\"PATCH\",le=\"0.005\"}"));
	ck_assert(strstr(text, "peerop_informer_cache_objects{controller=\"test-ctl\",resource=\"httpservers.peerop.io\"} 1\n"));
	ck_assert(strstr(text, "peerop_informer_cache_objects{controller=\"test-ctl\",resource=\"configmaps\"} 1\n"));
	ck_assert(strstr(text, "peerop_informer_cache_bytes{controller=\"test-ctl\",resource=\"configmaps\"}"));

	path = th_path(e->t->dir, "metrics.txt");
	ck_assert_int_eq(th_write_str(path, text), 0);
	ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path), (int)sizeof(cmd));
	rc = system(cmd);
	ck_assert_msg(rc == 0, "promtool check metrics failed (Debian package prometheus; "
		"scripts/install-deps.sh test installs it):\n%s", text);
	free(path);
	peerop_free(text);
	peerop_controller_free(c);
}
END_TEST

START_TEST(bad_options)
{
	peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c = (peerop_controller *)1;
	static const peerop_kube_resource nores = { "", NULL, "x", 1 };

	ck_assert_int_eq(peerop_controller_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_controller_options_init(&o, PEEROP_CONTROLLER_OPTIONS_VERSION), 0);
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
	ck_assert_ptr_null(c);
	o.name = "x";
	o.primary = HS;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "reconcile"));
	o.reconcile = reconcile_hs;
	o.primary = nores;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
	o.primary = HS;
	o.workers = 100000;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), PEEROP_EINVAL);
	o.workers = 0;
	ck_assert_int_eq(peerop_controller_new(&c, NULL, &o), PEEROP_EINVAL);
	o.payload = &R;
	ck_assert_int_eq(peerop_controller_new(&c, e->client, &o), 0);
	ck_assert_int_eq(peerop_controller_owns(c, &HS, NULL), PEEROP_EEXISTS);
	ck_assert_int_eq(peerop_controller_owns(c, &nores, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_controller_watches(c, &CM, NULL, NULL, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_controller_owns(c, &CM, NULL), 0);
	ck_assert_int_eq(peerop_controller_owns(c, &CM, NULL), PEEROP_EEXISTS);
	ck_assert_ptr_nonnull(peerop_controller_cache(c, &CM));
	ck_assert_ptr_null(peerop_controller_cache(c, &NSR));
	ck_assert_str_eq(peerop_controller_field_manager(c), "x");
	ck_assert_int_eq(peerop_controller_start(c), 0);
	ck_assert_int_eq(peerop_controller_start(c), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_controller_owns(c, &NSR, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_controller_enqueue(c, "default", ""), PEEROP_EINVAL);
	{
		/* apply refuses objects the server would refuse, naming what is missing */
		json_t *bad = json_pack("{s:s, s:{s:s}}", "kind", "ConfigMap", "metadata", "name", "x");
		ck_assert_int_eq(peerop_controller_apply(NULL, c, &CM, bad, NULL), PEEROP_EINVAL);
		json_object_set_new(bad, "apiVersion", json_string("v1"));
		ck_assert_int_eq(peerop_controller_apply(NULL, c, &CM, bad, NULL), PEEROP_EINVAL);
		ck_assert(strstr(peerop_error_last()->message, "metadata.namespace"));
		json_decref(bad);
	}
	peerop_controller_free(c);
	peerop_controller_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("controller");
	TCase *tc = tcase_create("controller");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, reconciles_primaries_and_owned);
	tcase_add_test(tc, errors_are_retried_with_backoff);
	tcase_add_test(tc, requeue_after_runs_again_without_events);
	tcase_add_test(tc, one_worker_per_key_and_changes_during_reconcile_rerun);
	tcase_add_test(tc, stop_lets_inflight_reconcile_finish);
	tcase_add_test(tc, stop_gives_up_after_grace_period);
	tcase_add_test(tc, cluster_scoped_primary);
	tcase_add_test(tc, survives_api_errors_and_dropped_watches);
	tcase_add_test(tc, metrics_render_and_pass_promtool);
	tcase_add_test(tc, bad_options);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
