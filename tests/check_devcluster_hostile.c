/* check_devcluster_hostile.c: malformed, truncated, oversized and hostile
 * requests get clean 4xx Status replies and change nothing; injected
 * failures (429 with Retry-After, 500, 504) and delays. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"

static void expect_status(dct_resp *r, long code, const char *reason)
{
	ck_assert_msg(r->code == code, "expected %ld, got %ld: %s", code, r->code, r->body);
	ck_assert_ptr_nonnull(r->json);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "kind")), "Status");
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "Failure");
	ck_assert_int_eq(json_integer_value(json_object_get(r->json, "code")), code);
	if (reason)
		ck_assert_str_eq(dct_reason(r->json), reason);
}

static size_t count_cms(dct *t)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", CM, NULL);
	size_t n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	return n;
}

START_TEST(test_bad_bodies)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	char *deep;
	size_t i, n = 100000;
	static const char *const bad[] = {
		"", "{", "{\"metadata\":", "null", "[]", "\"str\"", "42", "{\"metadata\":[]}",
		"{\"metadata\":{\"name\":\"x\"}} trailing", "{\"metadata\":{\"name\":17}}",
		"{\"kind\":5,\"metadata\":{\"name\":\"x\"}}", "\xff\xfe{}",
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dct_req(t, &r, "POST", CM, NULL, bad[i]);
		ck_assert_msg(r.code == 400 || r.code == 422, "body %zu: %ld", i, r.code);
		expect_status(&r, r.code, NULL);
		dct_resp_free(&r);
	}
	/* embedded NUL */
	dct_req_ex(t, &r, "POST", CM, NULL, "{\"metadata\":{\"name\":\"a\0b\"}}", 26, NULL);
	ck_assert(r.code == 400 || r.code == 422);
	dct_resp_free(&r);
	/* nesting far beyond any real object */
	deep = malloc(n * 2 + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	dct_req(t, &r, "POST", CM, NULL, deep);
	expect_status(&r, 400, "BadRequest");
	dct_resp_free(&r);
	dct_req(t, &r, "PATCH", CM, "application/merge-patch+json", deep);
	ck_assert_int_ge(r.code, 400);
	ck_assert_int_lt(r.code, 500);
	dct_resp_free(&r);
	free(deep);
	/* media types: broken protobuf and YAML bodies are refused cleanly
	 * (check_devcluster_protobuf and _yaml test them at length); unknown
	 * media types get 415 */
	dct_req(t, &r, "POST", CM, "application/vnd.kubernetes.protobuf", "k8s");
	expect_status(&r, 400, "BadRequest");
	dct_resp_free(&r);
	dct_req(t, &r, "POST", CM, "application/yaml", "metadata: {name: y}"); /* y is YAML 1.1's true */
	expect_status(&r, 422, "Invalid");
	dct_resp_free(&r);
	dct_req(t, &r, "POST", CM, "application/yaml", "metadata: [\n");
	expect_status(&r, 400, "BadRequest");
	dct_resp_free(&r);
	dct_req(t, &r, "POST", CM, "text/plain", "metadata");
	expect_status(&r, 415, "UnsupportedMediaType");
	dct_resp_free(&r);
	ck_assert_int_eq(count_cms(t), 0);
	dct_stop(t);
}
END_TEST

START_TEST(test_oversized_body)
{
	dc_server_options o;
	dct *t;
	dct_resp r;
	size_t n = 64 * 1024;
	char *big = malloc(n + 64);
	memset(&o, 0, sizeof(o));
	o.max_body = 16 * 1024;
	t = dct_start(&o, false);
	snprintf(big, 64, "{\"metadata\":{\"name\":\"big\"},\"data\":{\"k\":\"");
	memset(big + strlen(big), 'a', n);
	strcpy(big + n, "\"}}");
	dct_req(t, &r, "POST", CM, NULL, big);
	expect_status(&r, 413, "RequestEntityTooLarge");
	dct_resp_free(&r);
	/* just under the limit is fine */
	big[8000] = '\0';
	strcpy(big + 8000, "\"}}");
	dct_req(t, &r, "POST", CM, NULL, big);
	ck_assert_int_eq(r.code, 201);
	dct_resp_free(&r);
	/* the server still serves */
	ck_assert_int_eq(count_cms(t), 1);
	free(big);
	dct_stop(t);
}
END_TEST

START_TEST(test_hostile_urls)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	static const char *const paths[] = {
		"/apis/nope.io", "/api/v1x", "/api/v2/namespaces", "/apis/nope.io/v1/things",
		"/api/v1/nonsense", "/api/v1/namespaces/default/nonsense/x",
		"/api/v1/namespaces/default/configmaps/x/y/z/w",
		"/api/v1/configmaps/x",  /* a namespaced name outside its namespace */
		"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w",
		"/api/v1/namespaces/default/configmaps/%00",
		"/api/v1/namespaces/..%2F..%2Fetc/configmaps",
		"/api/v1/namespaces/default/pods/p/exec",
		"/_devcluster/nope",
	};
	size_t i;
	char *longname;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		dct_req(t, &r, "GET", paths[i], NULL, NULL);
		ck_assert_msg(r.code == 404 || r.code == 405, "%s: %ld", paths[i], r.code);
		expect_status(&r, r.code, NULL);
		dct_resp_free(&r);
	}
	/* methods */
	dct_req(t, &r, "OPTIONS", CM, NULL, NULL);
	expect_status(&r, 405, "MethodNotAllowed");
	dct_resp_free(&r);
	dct_req(t, &r, "POST", CM "/x", NULL, "{}");
	expect_status(&r, 405, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "PUT", CM, NULL, "{}");
	expect_status(&r, 405, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "POST", "/api/v1/configmaps", NULL, "{\"metadata\":{\"name\":\"x\"}}");
	expect_status(&r, 405, NULL);
	dct_resp_free(&r);
	/* a long name: 404 on read, 422 on create */
	longname = malloc(300 + sizeof(CM) + 2);
	strcpy(longname, CM "/");
	memset(longname + strlen(longname), 'a', 300);
	longname[sizeof(CM) + 300] = '\0';
	dct_req(t, &r, "GET", longname, NULL, NULL);
	expect_status(&r, 404, NULL);
	dct_resp_free(&r);
	free(longname);
	/* bad query values */
	dct_req(t, &r, "GET", CM "?watch=true&timeoutSeconds=-1", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "GET", CM "?watch=true&resourceVersion=99999999999999999999999", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "GET", CM "?limit=-5", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "GET", CM "?labelSelector=%28%28%28", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	/* admin endpoints take only sane values */
	dct_req(t, &r, "POST", "/_devcluster/fail?code=418&count=1", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "POST", "/_devcluster/delay?ms=abc", NULL, NULL);
	expect_status(&r, 400, NULL);
	dct_resp_free(&r);
	dct_req(t, &r, "GET", "/_devcluster/close-watches", NULL, NULL);
	expect_status(&r, 405, NULL);
	dct_resp_free(&r);
	dct_req_ex(t, &r, "POST", "/_devcluster/close-watches", NULL, NULL, 0, "");
	expect_status(&r, 401, NULL);
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

START_TEST(test_injected_failures)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	long code;
	int i;
	json_decref(dct_call(t, &code, "POST", "/_devcluster/fail?code=429&count=2&retryAfter=3", NULL));
	ck_assert_int_eq(code, 200);
	for (i = 0; i < 2; i++) {
		dct_req(t, &r, "GET", CM, NULL, NULL);
		expect_status(&r, 429, "TooManyRequests");
		ck_assert_str_eq(r.retry_after, "3");
		ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r.json, "details"), "retryAfterSeconds")), 3);
		dct_resp_free(&r);
	}
	dct_req(t, &r, "GET", CM, NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	dct_resp_free(&r);
	json_decref(dct_call(t, &code, "POST", "/_devcluster/fail?code=500&count=1", NULL));
	dct_req(t, &r, "POST", CM, NULL, "{\"metadata\":{\"name\":\"x\"}}");
	expect_status(&r, 500, "InternalError");
	dct_resp_free(&r);
	ck_assert_int_eq(count_cms(t), 0);   /* the failed write did nothing */
	json_decref(dct_call(t, &code, "POST", "/_devcluster/fail?code=504&count=1", NULL));
	dct_req(t, &r, "GET", CM, NULL, NULL);
	expect_status(&r, 504, "Timeout");
	dct_resp_free(&r);
	/* reset clears an armed failure */
	json_decref(dct_call(t, &code, "POST", "/_devcluster/fail?code=500&count=100", NULL));
	json_decref(dct_call(t, &code, "POST", "/_devcluster/reset", NULL));
	ck_assert_int_eq(code, 200);
	dct_req(t, &r, "GET", CM, NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

START_TEST(test_injected_delay)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	long code;
	uint64_t start;
	json_decref(dct_call(t, &code, "POST", "/_devcluster/delay?ms=400", NULL));
	ck_assert_int_eq(code, 200);
	start = th_now_ms();
	dct_req(t, &r, "GET", CM, NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	ck_assert_uint_ge(th_now_ms() - start, 400);
	dct_resp_free(&r);
	/* the admin API itself is never delayed, so a test can always undo */
	json_decref(dct_call(t, &code, "POST", "/_devcluster/delay?ms=0", NULL));
	ck_assert_int_eq(code, 200);
	dct_stop(t);
}
END_TEST

START_TEST(test_tls)
{
	dc_server_options o;
	dct *t;
	dct_resp r;
	json_t *kc;
	memset(&o, 0, sizeof(o));
	o.tls = true;
	t = dct_start(&o, false);
	ck_assert_int_eq(strncmp(t->url, "https://127.0.0.1:", 18), 0);
	/* verified against the generated CA */
	dct_req(t, &r, "GET", CM, NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	dct_resp_free(&r);
	/* a watch streams over TLS too */
	{
		dct_watch *w = dct_watch_start(t, CM "?watch=true");
		free(dct_make_cm(t, "default", "over-tls", NULL));
		ck_assert(dct_watch_wait(w, 1, 20000));
		ck_assert_str_eq(dct_ev_name(w, 0), "over-tls");
		dct_watch_stop(w);
	}
	kc = json_loads(dc_server_kubeconfig(t->srv), 0, NULL);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(json_array_get(json_object_get(kc, "clusters"), 0), "cluster"),
		"certificate-authority-data"));
	json_decref(kc);
	/* a client that trusts nothing else fails the handshake */
	{
		CURL *c = curl_easy_init();
		char url[256];
		CURLcode cc;
		snprintf(url, sizeof(url), "%s/version", t->url);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CAINFO, "/dev/null");
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		cc = curl_easy_perform(c);
		ck_assert_int_ne(cc, CURLE_OK);
		curl_easy_cleanup(c);
	}
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_hostile");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bad_bodies);
	tcase_add_test(tc, test_oversized_body);
	tcase_add_test(tc, test_hostile_urls);
	tcase_add_test(tc, test_injected_failures);
	tcase_add_test(tc, test_injected_delay);
	tcase_add_test(tc, test_tls);
	suite_add_tcase(s, tc);
	return s;
}
