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
	unsigned int retry_after_ms;
	int done;         /* atomic */
	int rc;
	int http_status;
	char reason[64];
	char message[2048];
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
	snprintf(r->message, sizeof(r->message), "%s", peerop_error_last()->message);
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
	r->o.retry_after_ms = &r->retry_after_ms;
	r->retry_after_ms = 12345;
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
	if (!strcmp(req->path, "/busy")) {
		resp->status = 429;
		resp->retry_after = "3";
		resp->body = strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"TooManyRequests\",\"code\":429}");
		return;
	}
	if (!strcmp(req->path, "/echo")) {
		/* a reflecting proxy quoting the Authorization header */
		resp->status = 403;
		resp->body = strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Bearer st\","
			"\"message\":\"bad header Bearer st; again: st\",\"code\":403}");
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

static peerop_kube_client *make_client(kt_server *server)
{
	char *ca = kt_base64(certs.ca_pem), *path;
	const char *pairs[] = { "SERVER", kt_server_url(server), "CA_DATA", ca, "TOKEN", "st", NULL };
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

#define WATCH_PATH "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=5"

static kt_server *s;
static peerop_kube_client *c;

static void setup(void)
{
	dir = th_tmpdir();
	ck_assert_ptr_nonnull(dir);
	s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, stream_handler, NULL);
	c = make_client(s);
}

static void teardown(void)
{
	peerop_kube_client_free(c);
	kt_server_stop(s);
	th_tmpdir_remove(dir);
}

/* Start a watch, wait until it is the server's newest stream, send data,
 * and wait until the client has it. */
static void watch_and_push(runner *r, unsigned idle_ms, int abort_with, const char *data, const char *expect)
{
	int before = kt_stream_started(s);
	run_start_opts(r, c, WATCH_PATH, idle_ms, abort_with, 0);
	ck_assert(TH_WAIT_UNTIL(kt_stream_started(s) == before + 1, 10000));
	kt_stream_push(s, data);
	if (expect)
		ck_assert(TH_WAIT_UNTIL(received(r, expect), 10000));
}


START_TEST(test_chunks_arrive_before_the_end)
{
	runner r;

	/* delivered while the stream is still open */
	watch_and_push(&r, 0, 0, "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n", "\"n\":1");
	ck_assert(!run_done(&r));
	kt_stream_push(s, "{\"type\":\"MODIFIED\",");
	kt_stream_push(s, "\"object\":{\"n\":2}}\n");
	ck_assert(TH_WAIT_UNTIL(received(&r, "\"n\":2"), 10000));
	kt_stream_end(s, 1);
	ck_assert_int_eq(run_finish(&r), 0);
	ck_assert_str_eq(r.s.data.ptr, "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n"
		"{\"type\":\"MODIFIED\",\"object\":{\"n\":2}}\n");
	run_dispose(&r);
}
END_TEST

START_TEST(test_stop_flag)
{
	runner r;

	watch_and_push(&r, 0, 0, "x\n", "x");
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	/* a stream stopped before it starts never connects */
	run_dispose(&r);
	run_start_opts(&r, c, "/never", 0, 0, 1);
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	run_dispose(&r);
}
END_TEST

START_TEST(test_idle_timeout)
{
	runner r;

	watch_and_push(&r, 400, 0, "one\n", NULL);
	ck_assert_int_eq(run_finish(&r), PEEROP_ETIMEOUT);
	ck_assert(received(&r, "one"));
	run_dispose(&r);
}
END_TEST

START_TEST(test_http_error_has_status)
{
	runner r;

	run_start(&r, c, "/gone", 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_EGONE);
	ck_assert_int_eq(r.http_status, 410);
	ck_assert_str_eq(r.reason, "Expired");
	ck_assert_int_eq(r.s.calls, 0); /* the error body is not data */
	ck_assert_int_eq(r.retry_after_ms, 0);
	run_dispose(&r);
	/* a 429 hands its Retry-After to the caller, who owns the retries */
	run_start(&r, c, "/busy", 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_ETOOMANY);
	ck_assert_int_eq(r.retry_after_ms, 3000);
	ck_assert_int_eq(kt_server_requests(s), 2);
	run_dispose(&r);
}
END_TEST

/* The streaming path redacts a Status that quotes the token, as the
 * buffered one does. */
START_TEST(test_http_error_redacted)
{
	runner r;

	run_start(&r, c, "/echo", 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_EFORBIDDEN);
	ck_assert_msg(strstr(r.message, "bad header Bearer [REDACTED]; again: [REDACTED]") != NULL, "%s", r.message);
	ck_assert_msg(strstr(r.message, "st") == NULL, "%s", r.message);
	ck_assert_str_eq(r.reason, "Bearer [REDACTED]");
	run_dispose(&r);
}
END_TEST

START_TEST(test_cut_mid_stream)
{
	runner r;

	watch_and_push(&r, 0, 0, "{\"type\":\"ADDED\"", "ADDED");
	kt_stream_end(s, 0);
	ck_assert_int_eq(run_finish(&r), PEEROP_ETRUNCATED);
	run_dispose(&r);
}
END_TEST

START_TEST(test_callback_aborts)
{
	runner r;

	/* a negative code is returned as is */
	watch_and_push(&r, 0, PEEROP_EPROTO, "garbage\n", NULL);
	ck_assert_int_eq(run_finish(&r), PEEROP_EPROTO);
	ck_assert_int_eq(r.s.calls, 1);
	run_dispose(&r);
	/* a positive value is a stop */
	watch_and_push(&r, 0, 1, "enough\n", NULL);
	ck_assert_int_eq(run_finish(&r), PEEROP_ECANCELED);
	run_dispose(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *ts = suite_create("kube_stream");
	TCase *tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chunks_arrive_before_the_end);
	tcase_add_test(tc, test_stop_flag);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_http_error_has_status);
	tcase_add_test(tc, test_http_error_redacted);
	tcase_add_test(tc, test_cut_mid_stream);
	tcase_add_test(tc, test_callback_aborts);
	suite_add_tcase(ts, tc);
	return ts;
}

int main(void)
{
	return kt_main(suite, &certs);
}
