/* check_devcluster_persist.c: the --data-dir write log: restart keeps
 * every acknowledged write (uids, resourceVersion counter, CRDs), a
 * truncated last record is dropped with a log line, a corrupt file is a
 * clear error; the restart fault over HTTP. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CM "/api/v1/namespaces/default/configmaps"
#define WAIT 30000

static const char *crd =
	"{\"metadata\":{\"name\":\"things.ex.io\"},\"spec\":{\"group\":\"ex.io\",\"scope\":\"Namespaced\","
	"\"names\":{\"plural\":\"things\",\"kind\":\"Thing\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
	"\"subresources\":{\"status\":{}}}]}}";

static json_t *get(dct *t, const char *path, long *code)
{
	return dct_call(t, code, "GET", path, NULL);
}

START_TEST(test_restart_keeps_everything)
{
	dct *t = dct_start(NULL, true);
	long code;
	json_t *a, *b;
	char *rv_before;
	unsigned port = dc_server_port(t->srv);
	free(dct_make_cm(t, "default", "keep", "{\"a\":\"b\"}"));
	free(dct_make_cm(t, "default", "drop", NULL));
	json_decref(dct_call(t, &code, "DELETE", CM "/drop", NULL));
	json_decref(dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd));
	ck_assert_int_eq(code, 201);
	json_decref(dct_call(t, &code, "POST", "/apis/ex.io/v1/namespaces/default/things", "{\"metadata\":{\"name\":\"t1\"},\"spec\":{\"x\":1}}"));
	ck_assert_int_eq(code, 201);
	json_decref(dct_call(t, &code, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"extra\"}}"));
	a = get(t, CM "/keep", &code);
	/* the last write is a deletion: the counter must survive it too */
	json_decref(dct_call(t, &code, "DELETE", "/apis/ex.io/v1/namespaces/default/things/t1", NULL));
	{
		json_t *l = get(t, CM, &code);
		rv_before = strdup(json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")));
		json_decref(l);
	}
	ck_assert_int_eq(dc_server_restart(t->srv), 0);
	ck_assert_uint_eq(dc_server_port(t->srv), port);
	b = get(t, CM "/keep", &code);
	ck_assert_int_eq(code, 200);
	ck_assert(json_equal(a, b));                 /* uid, rv, everything */
	json_decref(b);
	json_decref(get(t, CM "/drop", &code));
	ck_assert_int_eq(code, 404);
	json_decref(get(t, "/api/v1/namespaces/extra", &code));
	ck_assert_int_eq(code, 200);
	json_decref(get(t, "/apis/ex.io/v1/namespaces/default/things", &code));
	ck_assert_int_eq(code, 200);                 /* the CRD is served again */
	json_decref(get(t, "/apis/ex.io/v1/namespaces/default/things/t1", &code));
	ck_assert_int_eq(code, 404);
	{
		char *rv = dct_make_cm(t, "default", "after", NULL);
		ck_assert(strtoull(rv, NULL, 10) > strtoull(rv_before, NULL, 10));
		free(rv);
	}
	/* and once more, after the compaction of the first restart */
	ck_assert_int_eq(dc_server_restart(t->srv), 0);
	json_decref(get(t, CM "/after", &code));
	ck_assert_int_eq(code, 200);
	b = get(t, CM "/keep", &code);
	ck_assert(json_equal(a, b));
	json_decref(b);
	json_decref(a);
	free(rv_before);
	dct_stop(t);
}
END_TEST

static char *log_path(dct *t)
{
	char *d = th_path(t->dir, "data"), *p = th_path(d, "log.jsonl");
	free(d);
	return p;
}

START_TEST(test_truncated_last_record)
{
	dct *t = dct_start(NULL, true);
	dc_server *srv2 = NULL;
	dc_server_options o;
	char *path = log_path(t);
	long code;
	int fd;
	free(dct_make_cm(t, "default", "ok", NULL));
	/* stop, then leave what a crash in the middle of an append leaves */
	dct_stop_server(t);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "deadbeef {\"op\":\"put\",\"g\":\"\",\"p\":\"conf", 38), 38);
	close(fd);
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.data_dir = t->data_dir;
	th_log_capture_start(PEEROP_LOG_WARN);
	ck_assert_int_eq(dc_server_start(&srv2, &o), 0);
	ck_assert_int_eq(th_log_count("dropping a bad last record"), 1);
	th_log_capture_stop();
	t->srv = srv2;
	snprintf(t->url, sizeof(t->url), "%s", dc_server_url(srv2));
	free(t->token);
	t->token = strdup(dc_server_token(srv2));
	json_decref(get(t, CM "/ok", &code));
	ck_assert_int_eq(code, 200);
	free(dct_make_cm(t, "default", "more", NULL));
	free(path);
	dct_stop(t);
}
END_TEST

START_TEST(test_corrupt_log_is_an_error)
{
	dct *t = dct_start(NULL, true);
	dc_server *srv2 = NULL;
	dc_server_options o;
	char *path = log_path(t), *content, *p;
	int rc;
	free(dct_make_cm(t, "default", "a", NULL));
	free(dct_make_cm(t, "default", "b", NULL));
	dct_stop_server(t);
	/* flip a byte inside the second record */
	content = th_slurp(path);
	ck_assert_ptr_nonnull(content);
	p = strchr(content, '\n');
	ck_assert_ptr_nonnull(p);
	p[20] = p[20] == 'x' ? 'y' : 'x';
	ck_assert_int_eq(th_write_str(path, content), 0);
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.data_dir = t->data_dir;
	rc = dc_server_start(&srv2, &o);
	ck_assert_int_eq(rc, PEEROP_ESYNTAX);
	ck_assert_ptr_null(srv2);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "log.jsonl"));
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "line 2"));
	/* the file is left as it was, for a person to look at */
	{
		char *after = th_slurp(path);
		ck_assert_str_eq(after, content);
		free(after);
	}
	/* garbage that is not even our format */
	ck_assert_int_eq(th_write_str(path, "hello\nworld\n"), 0);
	ck_assert_int_eq(dc_server_start(&srv2, &o), PEEROP_ESYNTAX);
	free(content);
	free(path);
	dct_stop(t);
}
END_TEST

START_TEST(test_data_dir_locked)
{
	dct *t = dct_start(NULL, true);
	dc_server *srv2 = NULL;
	dc_server_options o;
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.data_dir = t->data_dir;
	ck_assert_int_eq(dc_server_start(&srv2, &o), PEEROP_EIO);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "in use"));
	dct_stop(t);
}
END_TEST

static int restarted(void *arg)
{
	dct *t = arg;
	dct_resp r;
	int ok;

	dct_req_ex(t, &r, "GET", "/_devcluster/status", NULL, NULL, 0, NULL);
	ok = r.code == 200 && json_integer_value(json_object_get(r.json, "restarts")) == 1;
	dct_resp_free(&r);
	return ok;
}

START_TEST(test_restart_fault_over_http)
{
	dct *t = dct_start(NULL, true);
	long code;
	dct_watch *w;
	free(dct_make_cm(t, "default", "x", NULL));
	w = dct_watch_start(t, CM "?watch=true");
	ck_assert(dct_watch_wait(w, 1, WAIT));
	json_decref(dct_call(t, &code, "POST", "/_devcluster/restart", NULL));
	ck_assert_int_eq(code, 202);
	/* open watches end with the old server */
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w), WAIT));
	dct_watch_stop(w);
	ck_assert(th_wait_until(WAIT, restarted, t));
	json_decref(get(t, CM "/x", &code));
	ck_assert_int_eq(code, 200);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_persist");
	TCase *tc = tcase_create("persist");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_restart_keeps_everything);
	tcase_add_test(tc, test_truncated_last_record);
	tcase_add_test(tc, test_corrupt_log_is_an_error);
	tcase_add_test(tc, test_data_dir_locked);
	tcase_add_test(tc, test_restart_fault_over_http);
	suite_add_tcase(s, tc);
	return s;
}
