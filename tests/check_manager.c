/*
 * check_manager.c: the manager against the in-process local control
 * plane: probes (registrable /healthz checks, /readyz after the caches
 * sync), /metrics on its own address, stop, and leader election (the
 * controllers run only while leading; a stolen Lease stops them). Every
 * wait polls with a deadline.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "watchhelp.h"

static const peerop_kube_resource HS = { "peerop.io", "v1alpha1", "httpservers", 1 };
static const peerop_kube_resource LEASES = { "coordination.k8s.io", "v1", "leases", 1 };

static env *e;
static int calls, healthy = 1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int get_int(int *v)
{
	int r;
	pthread_mutex_lock(&lock);
	r = *v;
	pthread_mutex_unlock(&lock);
	return r;
}

static int reconcile_count(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	(void)c; (void)req; (void)result; (void)payload;
	pthread_mutex_lock(&lock);
	calls++;
	pthread_mutex_unlock(&lock);
	return 0;
}

static int flaky_check(void *payload)
{
	(void)payload;
	return get_int(&healthy) ? 0 : PEEROP_EUNAVAILABLE;
}

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	peerop__buf *b = u;
	return peerop__buf_put(b, p, sz * n) == 0 ? sz * n : 0;
}

/* GET http://host:port/path: the status (0: no reply); *body the text if wanted. */
static long http_get(const char *host, unsigned port, const char *path, char **body)
{
	peerop__buf b = PEEROP__BUF_INIT;
	char url[256];
	long code = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (body)
		*body = b.ptr ? peerop__buf_detach(&b) : peerop__strdup("");
	peerop__buf_dispose(&b);
	return code;
}

typedef struct runner {
	peerop_manager *m;
	pthread_t t;
	int rc, done;
} runner;

static void *run_main(void *arg)
{
	runner *r = arg;
	int rc = peerop_manager_run(r->m);
	pthread_mutex_lock(&lock);
	r->rc = rc;
	r->done = 1;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void setup(void)
{
	e = env_start(NULL, false);
	dct_make_crd(e->t);
	calls = 0;
	healthy = 1;
}

static void teardown(void)
{
	env_stop(e);
}

static peerop_manager *make_mgr(const char *health, const char *metrics, const char *lease, const char *id)
{
	peerop_manager_options mo = PEEROP_MANAGER_OPTIONS_INIT;
	peerop_controller_options co = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_manager *m = NULL;
	peerop_controller *c = NULL;

	mo.kubeconfig = e->kubeconfig;
	mo.health_probe_bind_address = health;
	mo.metrics_bind_address = metrics;
	mo.identity = id;
	if (lease) {
		mo.leader_elect = 1;
		mo.leader_election_id = lease;
		mo.lease_duration_ms = 3000;
		mo.renew_deadline_ms = 2000;
		mo.retry_period_ms = 300;
		mo.no_exit_on_lost_lease = 1;
	}
	mo.graceful_shutdown_ms = 5000;
	ck_assert_msg(peerop_manager_new(&m, &mo) == 0, "%s", peerop_error_last()->message);
	co.name = id ? id : "mgr";
	co.primary = HS;
	co.ns = "default";
	co.reconcile = reconcile_count;
	ck_assert_int_eq(peerop_manager_add_controller(&c, m, &co), 0);
	ck_assert_ptr_nonnull(c);
	return m;
}

static void make_hs(const char *name)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "metadata", "name", name, "spec", "replicas", 1);
	ck_assert_int_eq(peerop_kube_create(NULL, e->client, &HS, "default", o, NULL), 0);
	json_decref(o);
}

static int run_done(runner *r)
{
	return get_int(&r->done);
}

START_TEST(probes_metrics_and_stop)
{
	runner r = { NULL, 0, 0, 0 };
	unsigned hp, mp;
	char *body = NULL;

	r.m = make_mgr("127.0.0.1:0", "127.0.0.2:0", NULL, NULL);
	ck_assert_int_eq(peerop_manager_add_check(r.m, 0, "flaky", flaky_check, NULL), 0);
	ck_assert_int_eq(peerop_manager_add_check(r.m, 0, "flaky", flaky_check, NULL), PEEROP_EEXISTS);
	ck_assert_int_eq(peerop_manager_add_check(r.m, 1, "caches", flaky_check, NULL), PEEROP_EEXISTS);
	ck_assert_int_eq(peerop_manager_add_check(r.m, 1, "Bad Name", flaky_check, NULL), PEEROP_EINVAL);
	make_hs("m-1");
	ck_assert_int_eq(pthread_create(&r.t, NULL, run_main, &r), 0);
	ck_assert(TH_WAIT_UNTIL(peerop_manager_port(r.m, 0) && peerop_manager_port(r.m, 1), 20000));
	hp = peerop_manager_port(r.m, 0);
	mp = peerop_manager_port(r.m, 1);
	ck_assert(TH_WAIT_UNTIL(http_get("127.0.0.1", hp, "/readyz", NULL) == 200, 20000));
	ck_assert(TH_WAIT_UNTIL(get_int(&calls) >= 1, 20000));
	ck_assert(peerop_manager_is_leader(r.m));   /* no election: always */
	ck_assert_int_eq(http_get("127.0.0.1", hp, "/healthz", NULL), 200);
	/* a failing check fails /healthz, naming it; readyz is not affected */
	pthread_mutex_lock(&lock);
	healthy = 0;
	pthread_mutex_unlock(&lock);
	ck_assert_int_eq(http_get("127.0.0.1", hp, "/healthz", &body), 500);
	ck_assert_msg(strstr(body, "[-]flaky failed"), "%s", body);
	free(body);
	ck_assert_int_eq(http_get("127.0.0.1", hp, "/readyz", NULL), 200);
	pthread_mutex_lock(&lock);
	healthy = 1;
	pthread_mutex_unlock(&lock);
	/* metrics on their own address: the controller's, the queue's and the client's */
	ck_assert_int_eq(http_get("127.0.0.2", mp, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "controller_runtime_reconcile_total{controller=\"mgr\",result=\"success\"}"),
		"%.2000s", body);
	ck_assert(strstr(body, "workqueue_work_duration_seconds_count{name=\"mgr\"}"));
	/* (a watch counts once it ends: the family may have no sample yet) */
	ck_assert(strstr(body, "# TYPE rest_client_requests_total counter"));
	free(body);
	/* nothing can be added while running */
	ck_assert_int_eq(peerop_manager_add_check(r.m, 0, "late", flaky_check, NULL), PEEROP_EINVAL);
	peerop_manager_stop(r.m);
	ck_assert(TH_WAIT_UNTIL(run_done(&r), 20000));
	pthread_join(r.t, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(peerop_manager_run(r.m), PEEROP_EINVAL);   /* once */
	peerop_manager_free(r.m);
	peerop_manager_free(NULL);
}
END_TEST

static int lease_holder_is(const char *name, const char *id)
{
	json_t *l = NULL;
	int r = peerop_kube_get(&l, e->client, &LEASES, "default", name) == 0 &&
		peerop_fieldpath_string(l, "spec.holderIdentity") &&
		!strcmp(peerop_fieldpath_string(l, "spec.holderIdentity"), id);
	json_decref(l);
	return r;
}

START_TEST(leader_election_runs_controllers_only_while_leading)
{
	runner a = { NULL, 0, 0, 0 }, b = { NULL, 0, 0, 0 };
	json_t *l = NULL;
	int before;

	a.m = make_mgr("127.0.0.1:0", "127.0.0.1:0", "mgr-test", "replica-a");
	ck_assert_int_eq(pthread_create(&a.t, NULL, run_main, &a), 0);
	ck_assert(TH_WAIT_UNTIL(lease_holder_is("mgr-test", "replica-a") && peerop_manager_is_leader(a.m), 20000));
	b.m = make_mgr("127.0.0.1:0", "0", "mgr-test", "replica-b");
	ck_assert_int_eq(pthread_create(&b.t, NULL, run_main, &b), 0);
	ck_assert(TH_WAIT_UNTIL(peerop_manager_port(b.m, 0) != 0, 20000));
	/* a standby is ready (to take over) but runs no controller */
	ck_assert(TH_WAIT_UNTIL(http_get("127.0.0.1", peerop_manager_port(b.m, 0), "/readyz", NULL) == 200, 20000));
	ck_assert_int_eq(peerop_manager_port(b.m, 1), 0);
	make_hs("le-1");
	ck_assert(TH_WAIT_UNTIL(get_int(&calls) >= 1, 20000));
	ck_assert(!peerop_manager_is_leader(b.m));

	/* someone else takes the Lease: a stops its controllers and returns */
	ck_assert_int_eq(peerop_kube_get(&l, e->client, &LEASES, "default", "mgr-test"), 0);
	ck_assert_int_eq(peerop_fieldpath_set_new(l, "spec.holderIdentity", json_string("intruder")), 0);
	ck_assert_int_eq(peerop_fieldpath_set_new(l, "spec.leaseDurationSeconds", json_integer(3600)), 0);
	ck_assert_int_eq(peerop_kube_replace(NULL, e->client, &LEASES, "default", "mgr-test", l, NULL), 0);
	json_decref(l);
	ck_assert(TH_WAIT_UNTIL(run_done(&a), 20000));
	pthread_join(a.t, NULL);
	ck_assert_int_eq(a.rc, PEEROP_ECANCELED);
	before = get_int(&calls);
	ck_assert(!peerop_manager_is_leader(b.m));   /* the intruder holds it for an hour */
	peerop_manager_free(a.m);
	ck_assert_int_eq(get_int(&calls), before);

	peerop_manager_stop(b.m);
	ck_assert(TH_WAIT_UNTIL(run_done(&b), 20000));
	pthread_join(b.t, NULL);
	ck_assert_int_eq(b.rc, 0);
	peerop_manager_free(b.m);
}
END_TEST

START_TEST(bad_options)
{
	peerop_manager_options mo = PEEROP_MANAGER_OPTIONS_INIT;
	peerop_manager *m = NULL;

	ck_assert_int_eq(peerop_manager_options_init(&mo, 7), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_manager_new(&m, NULL), PEEROP_EINVAL);
	mo.kubeconfig = e->kubeconfig;
	mo.leader_elect = 1;
	ck_assert_int_eq(peerop_manager_new(&m, &mo), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "leader_election_id"));
	mo.leader_elect = 0;
	mo.kubeconfig = "/nonexistent/kubeconfig";
	ck_assert_int_eq(peerop_manager_new(&m, &mo), PEEROP_ENOENT);
	ck_assert_ptr_null(m);
	/* a bad address fails run, not silently */
	mo.kubeconfig = e->kubeconfig;
	mo.health_probe_bind_address = "not an address";
	ck_assert_int_eq(peerop_manager_new(&m, &mo), 0);
	ck_assert_int_lt(peerop_manager_run(m), 0);
	peerop_manager_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manager");
	TCase *tc = tcase_create("manager");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, probes_metrics_and_stop);
	tcase_add_test(tc, leader_election_runs_controllers_only_while_leading);
	tcase_add_test(tc, bad_options);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
