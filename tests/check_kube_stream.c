/* check_kube_stream.c: the internal streaming GET under watch streams:
 * chunks delivered as they arrive, clean end, stop flag, idle timeout,
 * HTTP errors with their Status, a connection cut mid-stream, and a data
 * callback that aborts. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "kube_testhelp.h"
#include "testhelp.h"

static kt_certs certs;
static char *dir;

typedef struct sink {
	pthread_mutex_t lock;
	peerop__buf data;
	int calls;
	int abort_with;   /* returned from the callback once data arrived */
} sink;

typedef struct runner {
	peerop_kube_client *c;
	const char *path;
	peerop__kube_stream_opts o;
	int stop;
	int done;         /* atomic */
	int rc;
	int http_status;
	char reason[64];
	pthread_t thread;
	sink s;
} runner;

static int on_data(const char *data, size_t len, void *payload)
{
	sink *s = payload;
	int rc;
	pthread_mutex_lock(&s->lock);
	peerop__buf_put(&s->data, data, len);
	s->calls++;
	rc = s->abort_with;
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		peerop__error_set(rc, "test callback says stop");
	return rc;
}

static void *run_main(void *arg)
{
	runner *r = arg;
	r->rc = peerop__kube_stream(r->c, r->path, &r->o);
	/* the error detail is per thread: copy it for the test thread */
	r->http_status = peerop_error_last()->http_status;
	snprintf(r->reason, sizeof(r->reason), "%s", peerop_error_last()->reason);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void run_start_opts(runner *r, peerop_kube_client *c, const char *path, unsigned idle_ms,
	int abort_with, int stop)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->s.lock, NULL);
	r->c = c;
	r->path = path;
	r->o.on_data = on_data;
	r->o.payload = &r->s;
	r->o.stop = &r->stop;
	r->o.idle_timeout_ms = idle_ms;
	r->s.abort_with = abort_with;
	r->stop = stop;
	ck_assert_int_eq(pthread_create(&r->thread, NULL, run_main, r), 0);
}

static void run_start(runner *r, peerop_kube_client *c, const char *path, unsigned idle_ms)
{
	run_start_opts(r, c, path, idle_ms, 0, 0);
}

static int run_done(void *arg)
{
	return __atomic_load_n(&((runner *)arg)->done, __ATOMIC_ACQUIRE);
}

static int run_finish(runner *r)
{
	ck_assert_msg(th_wait_until(20000, run_done, r), "stream did not return");
	pthread_join(r->thread, NULL);
	return r->rc;
}

static void run_dispose(runner *r)
{
	peerop__buf_dispose(&r->s.data);
	pthread_mutex_destroy(&r->s.lock);
}

static int received(runner *r, const char *needle)
{
	int found;
	pthread_mutex_lock(&r->s.lock);
	found = r->s.data.ptr && strstr(r->s.data.ptr, needle) != NULL;
	pthread_mutex_unlock(&r->s.lock);
	return found;
}

static void stream_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	(void)arg;
	if (!req->authorization || strcmp(req->authorization, "Bearer st")) {
		resp->status = 401;
		resp->body = strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Unauthorized\",\"code\":401}");
		return;
	}
	if (!strcmp(req->path, "/api/v1/namespaces/ns/pods") &&
	    json_string_value(json_object_get(req->args, "watch")) &&
	    !strcmp(json_string_value(json_object_get(req->args, "resourceVersion")), "5")) {
		resp->mode = KT_STREAM;
		return;
	}
	if (!strcmp(req->path, "/gone")) {
		resp->status = 410;
		resp->body = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			"\"message\":\"too old resource version: 5 (99)\",\"reason\":\"Expired\",\"code\":410}");
		return;
	}
	resp->status = 404;
	resp->body = strdup("{}");
}

static peerop_kube_client *make_client(kt_server *s)
{
	char *ca = kt_base64(certs.ca_pem), *path;
	const char *pairs[] = { "SERVER", kt_server_url(s), "CA_DATA", ca, "TOKEN", "st", NULL };
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *c = NULL;
	path = kt_fixture(dir, "token.yaml", pairs);
	o.kubeconfig = path;
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), 0);
	ck_assert_int_eq(peerop_kube_client_new(&c, cfg, NULL), 0);
	peerop_kube_config_free(cfg);
	free(ca);
	free(path);
	return c;
}

static void setup(void)
{
	dir = th_tmpdir();
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	th_tmpdir_remove(dir);
}

#define WATCH_PATH "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=5"

START_TEST(test_chunks_arrive_before_the_end)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	run_start(&r, c, WATCH_PATH, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_active(s) == 1, 10000));
	kt_stream_push(s, "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n");
	/* delivered while the stream is still open */
	ck_assert(TH_WAIT_UNTIL(received(&r, "\"n\":1"), 10000));
	ck_assert(!run_done(&r));
	kt_stream_push(s, "{\"type\":\"MODIFIED\",");
	kt_stream_push(s, "\"object\":{\"n\":2}}\n");
	ck_assert(TH_WAIT_UNTIL(received(&r, "\"n\":2"), 10000));
	kt_stream_end(s, 1);
	ck_assert_int_eq(run_finish(&r), 0);
	ck_assert_str_eq(r.s.data.ptr, "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n"
		"{\"type\":\"MODIFIED\",\"object\":{\"n\":2}}\n");
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_stop_flag)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	run_start(&r, c, WATCH_PATH, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_active(s) == 1, 10000));
	kt_stream_push(s, "x\n");
	ck_assert(TH_WAIT_UNTIL(received(&r, "x"), 10000));
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	/* a stream stopped before it starts never connects */
	run_dispose(&r);
	run_start_opts(&r, c, "/never", 0, 0, 1);
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_idle_timeout)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	run_start(&r, c, WATCH_PATH, 400);
	ck_assert(TH_WAIT_UNTIL(kt_stream_active(s) == 1, 10000));
	kt_stream_push(s, "one\n");
	ck_assert_int_eq(run_finish(&r), PEEROP_ETIMEOUT);
	ck_assert(received(&r, "one"));
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_http_error_has_status)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	run_start(&r, c, "/gone", 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_EGONE);
	ck_assert_int_eq(r.http_status, 410);
	ck_assert_str_eq(r.reason, "Expired");
	ck_assert_int_eq(r.s.calls, 0); /* the error body is not data */
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_cut_mid_stream)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	run_start(&r, c, WATCH_PATH, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_active(s) == 1, 10000));
	kt_stream_push(s, "{\"type\":\"ADDED\"");
	ck_assert(TH_WAIT_UNTIL(received(&r, "ADDED"), 10000));
	kt_stream_end(s, 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_ETRUNCATED);
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_callback_aborts)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	peerop_kube_client *c = make_client(s);
	runner r;

	/* a negative code is returned as is */
	run_start_opts(&r, c, WATCH_PATH, 0, PEEROP_EPROTO, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_active(s) == 1, 10000));
	kt_stream_push(s, "garbage\n");
	ck_assert_int_eq(run_finish(&r), PEEROP_EPROTO);
	ck_assert_int_eq(r.s.calls, 1);
	run_dispose(&r);
	/* a positive value is a stop */
	run_start_opts(&r, c, WATCH_PATH, 0, 1, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_started(s) == 2, 10000));
	kt_stream_push(s, "enough\n");
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	run_dispose(&r);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_stream");
	TCase *tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chunks_arrive_before_the_end);
	tcase_add_test(tc, test_stop_flag);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_http_error_has_status);
	tcase_add_test(tc, test_cut_mid_stream);
	tcase_add_test(tc, test_callback_aborts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;
	peerop_global_init();
	kt_certs_make(&certs);
	rc = th_run_suite(suite());
	kt_certs_remove(&certs);
	peerop_global_cleanup();
	return rc;
}
