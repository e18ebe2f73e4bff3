/* check_devcluster_watch.c: watch semantics (resourceVersion unset, "0"
 * and specific; bookmarks; timeoutSeconds; streaming lists; 410 Expired;
 * selectors with ADDED/DELETED transitions; namespaces) and the watch
 * faults (close, stall, expire). */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"
#define WAIT 20000

static const char *obj_rv(dct_watch *w, size_t i)
{
	json_t *o = json_object_get(dct_watch_event(w, i), "object");
	return json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

START_TEST(test_watch_from_now_and_initial)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w0, *w1;
	long code;
	json_t *j;
	free(dct_make_cm(t, "default", "pre", NULL));
	/* resourceVersion unset: synthetic ADDED for what exists, then changes */
	w1 = dct_watch_start(t, CM "?watch=true");
	w0 = dct_watch_start(t, CM "?watch=1&resourceVersion=0");
	ck_assert(dct_watch_wait(w1, 1, WAIT));
	ck_assert(dct_watch_wait(w0, 1, WAIT));
	ck_assert_str_eq(dct_ev_type(w1, 0), "ADDED");
	ck_assert_str_eq(dct_ev_name(w1, 0), "pre");
	free(dct_make_cm(t, "default", "post", NULL));
	j = dct_patch(t, &code, CM "/post", "application/merge-patch+json", "{\"data\":{\"k\":\"2\"}}");
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/post", NULL);
	json_decref(j);
	ck_assert(dct_watch_wait(w1, 4, WAIT));
	ck_assert(dct_watch_wait(w0, 4, WAIT));
	ck_assert_str_eq(dct_ev_type(w1, 1), "ADDED");
	ck_assert_str_eq(dct_ev_type(w1, 2), "MODIFIED");
	ck_assert_str_eq(dct_ev_type(w1, 3), "DELETED");
	ck_assert_str_eq(dct_ev_name(w1, 3), "post");
	/* the DELETED event carries the deletion's own resourceVersion */
	ck_assert_str_ne(obj_rv(w1, 3), obj_rv(w1, 2));
	ck_assert_str_eq(dct_ev_type(w0, 3), "DELETED");
	dct_watch_stop(w0);
	dct_watch_stop(w1);
	dct_stop(t);
}
END_TEST

START_TEST(test_watch_from_rv_and_namespaces)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w, *all;
	char path[256];
	char *rv1 = dct_make_cm(t, "default", "a", NULL);
	free(dct_make_cm(t, "default", "b", NULL));
	free(dct_make_cm(t, "kube-system", "c", NULL));
	/* from a specific RV: only what happened after it */
	snprintf(path, sizeof(path), CM "?watch=true&resourceVersion=%s", rv1);
	w = dct_watch_start(t, path);
	snprintf(path, sizeof(path), "/api/v1/configmaps?watch=true&resourceVersion=%s", rv1);
	all = dct_watch_start(t, path);
	ck_assert(dct_watch_wait(w, 1, WAIT));
	ck_assert(dct_watch_wait(all, 2, WAIT));
	ck_assert_str_eq(dct_ev_name(w, 0), "b");
	ck_assert_str_eq(dct_ev_name(all, 0), "b");
	ck_assert_str_eq(dct_ev_name(all, 1), "c");
	free(dct_make_cm(t, "kube-system", "d", NULL));
	free(dct_make_cm(t, "default", "e", NULL));
	ck_assert(dct_watch_wait(w, 2, WAIT));
	ck_assert(dct_watch_wait(all, 4, WAIT));
	ck_assert_str_eq(dct_ev_name(w, 1), "e");       /* d is in another namespace */
	ck_assert_int_eq(dct_watch_count(w), 2);
	ck_assert_str_eq(dct_ev_name(all, 2), "d");
	dct_watch_stop(w);
	dct_watch_stop(all);
	free(rv1);
	dct_stop(t);
}
END_TEST

START_TEST(test_watch_bookmarks_and_timeout)
{
	dc_server_options o;
	dct *t;
	dct_watch *w;
	uint64_t start;
	memset(&o, 0, sizeof(o));
	o.bookmark_interval_s = 1;
	t = dct_start(&o, false);
	start = th_now_ms();
	w = dct_watch_start(t, CM "?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=1");
	ck_assert(dct_watch_wait(w, 1, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 0), "BOOKMARK");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(dct_watch_event(w, 0), "object"), "kind")), "ConfigMap");
	ck_assert_ptr_nonnull(obj_rv(w, 0));
	/* timeoutSeconds ends the stream cleanly */
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w), WAIT));
	ck_assert_int_eq(dct_watch_code(w), 200);
	ck_assert(th_now_ms() - start >= 2500);
	dct_watch_stop(w);
	dct_stop(t);
}
END_TEST

START_TEST(test_streaming_list)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w;
	long code;
	json_t *j, *ann;
	free(dct_make_cm(t, "default", "x1", NULL));
	free(dct_make_cm(t, "default", "x2", NULL));
	w = dct_watch_start(t, CM "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
	ck_assert(dct_watch_wait(w, 3, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 0), "ADDED");
	ck_assert_str_eq(dct_ev_type(w, 1), "ADDED");
	ck_assert_str_eq(dct_ev_type(w, 2), "BOOKMARK");
	ann = json_object_get(json_object_get(json_object_get(dct_watch_event(w, 2), "object"), "metadata"), "annotations");
	ck_assert_str_eq(json_string_value(json_object_get(ann, "k8s.io/initial-events-end")), "true");
	free(dct_make_cm(t, "default", "x3", NULL));
	ck_assert(dct_watch_wait(w, 4, WAIT));
	ck_assert_str_eq(dct_ev_name(w, 3), "x3");
	dct_watch_stop(w);
	/* sendInitialEvents needs resourceVersionMatch=NotOlderThan */
	j = dct_call(t, &code, "GET", CM "?watch=true&sendInitialEvents=true", NULL);
	ck_assert_int_eq(code, 422);
	json_decref(j);
	j = dct_call(t, &code, "GET", CM "?watch=true&resourceVersionMatch=NotOlderThan", NULL);
	ck_assert_int_eq(code, 422);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_watch_expired)
{
	dc_server_options o;
	dct *t;
	dct_watch *w;
	json_t *obj;
	char path[256];
	char *rv;
	int i;
	long code;
	memset(&o, 0, sizeof(o));
	o.history_size = 4;
	t = dct_start(&o, false);
	rv = dct_make_cm(t, "default", "first", NULL);
	for (i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		free(dct_make_cm(t, "default", name, NULL));
	}
	/* a watch from before the history: 200, then an in-stream 410 ERROR */
	snprintf(path, sizeof(path), CM "?watch=true&resourceVersion=%s", rv);
	w = dct_watch_start(t, path);
	ck_assert(dct_watch_wait(w, 1, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 0), "ERROR");
	obj = json_object_get(dct_watch_event(w, 0), "object");
	ck_assert_int_eq(json_integer_value(json_object_get(obj, "code")), 410);
	ck_assert_str_eq(json_string_value(json_object_get(obj, "reason")), "Expired");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "Status");
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w), WAIT));
	ck_assert_int_eq(dct_watch_code(w), 200);
	dct_watch_stop(w);
	free(rv);
	/* the expire-history fault does the same for a recent resourceVersion */
	rv = dct_make_cm(t, "default", "later", NULL);
	free(dct_make_cm(t, "default", "later2", NULL));
	json_decref(dct_call(t, &code, "POST", "/_devcluster/expire-history", NULL));
	ck_assert_int_eq(code, 200);
	snprintf(path, sizeof(path), CM "?watch=true&resourceVersion=%s", rv);
	w = dct_watch_start(t, path);
	ck_assert(dct_watch_wait(w, 1, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 0), "ERROR");
	dct_watch_stop(w);
	free(rv);
	dct_stop(t);
}
END_TEST

START_TEST(test_watch_selector_transitions)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w, *f;
	long code;
	json_t *j;
	w = dct_watch_start(t, CM "?watch=true&labelSelector=app%3Dweb&resourceVersion=1");
	f = dct_watch_start(t, CM "?watch=true&fieldSelector=metadata.name%3Dm&resourceVersion=1");
	free(dct_make_cm(t, "default", "m", "{\"app\":\"db\"}"));
	free(dct_make_cm(t, "default", "other", "{\"app\":\"web\"}"));
	ck_assert(dct_watch_wait(w, 1, WAIT));
	ck_assert_str_eq(dct_ev_name(w, 0), "other");
	/* m starts matching: ADDED */
	j = dct_patch(t, &code, CM "/m", "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
	json_decref(j);
	ck_assert(dct_watch_wait(w, 2, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 1), "ADDED");
	ck_assert_str_eq(dct_ev_name(w, 1), "m");
	j = dct_patch(t, &code, CM "/m", "application/merge-patch+json", "{\"data\":{\"x\":\"1\"}}");
	json_decref(j);
	ck_assert(dct_watch_wait(w, 3, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 2), "MODIFIED");
	/* m stops matching: DELETED, with the previous state */
	j = dct_patch(t, &code, CM "/m", "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"app\":\"db\"}}}");
	json_decref(j);
	ck_assert(dct_watch_wait(w, 4, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 3), "DELETED");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
		json_object_get(dct_watch_event(w, 3), "object"), "metadata"), "labels"), "app")), "web");
	/* the field-selected watch saw only m, every change */
	ck_assert(dct_watch_wait(f, 4, WAIT));
	ck_assert_str_eq(dct_ev_type(f, 0), "ADDED");
	ck_assert_str_eq(dct_ev_name(f, 3), "m");
	j = dct_call(t, &code, "GET", CM "?watch=true&fieldSelector=data.x%3D1", NULL);
	ck_assert_int_eq(code, 400);
	json_decref(j);
	dct_watch_stop(w);
	dct_watch_stop(f);
	dct_stop(t);
}
END_TEST

static int watchers(dct *t)
{
	int n;
	pthread_mutex_lock(&t->srv->store->mu);
	n = t->srv->store->nwatchers;
	pthread_mutex_unlock(&t->srv->store->mu);
	return n;
}

START_TEST(test_watch_faults_close_and_stall)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w1, *w2;
	long code;
	w1 = dct_watch_start(t, CM "?watch=true&resourceVersion=1");
	w2 = dct_watch_start(t, "/api/v1/namespaces?watch=true&resourceVersion=1");
	ck_assert(TH_WAIT_UNTIL(watchers(t) == 2, WAIT));
	/* stall: nothing is sent, the connection stays open */
	json_decref(dct_call(t, &code, "POST", "/_devcluster/stall-watches?on=true", NULL));
	ck_assert_int_eq(code, 200);
	free(dct_make_cm(t, "default", "s1", NULL));
	/* the write is acknowledged while the watch is stalled; prove the watch
	 * saw nothing by reading the server's view first */
	{
		json_t *st = dct_call(t, &code, "GET", "/_devcluster/status", NULL);
		ck_assert(json_is_true(json_object_get(st, "watchesStalled")));
		json_decref(st);
	}
	ck_assert_int_eq(dct_watch_count(w1), 0);
	ck_assert(!dct_watch_ended(w1));
	json_decref(dct_call(t, &code, "POST", "/_devcluster/stall-watches?on=false", NULL));
	ck_assert(dct_watch_wait(w1, 1, WAIT));
	ck_assert_str_eq(dct_ev_name(w1, 0), "s1");
	/* close every watch */
	json_decref(dct_call(t, &code, "POST", "/_devcluster/close-watches", NULL));
	ck_assert_int_eq(code, 200);
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w1) && dct_watch_ended(w2), WAIT));
	ck_assert(TH_WAIT_UNTIL(watchers(t) == 0, WAIT));
	dct_watch_stop(w1);
	dct_watch_stop(w2);
	/* a new watch works after that */
	w1 = dct_watch_start(t, CM "?watch=true");
	ck_assert(dct_watch_wait(w1, 1, WAIT));
	dct_watch_stop(w1);
	dct_stop(t);
}
END_TEST

START_TEST(test_watch_client_gone_and_crd_removed)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w;
	long code;
	json_t *j;
	w = dct_watch_start(t, CM "?watch=true");
	ck_assert(TH_WAIT_UNTIL(watchers(t) == 1, WAIT));
	dct_watch_stop(w);   /* the client hangs up; the server notices */
	ck_assert(TH_WAIT_UNTIL(watchers(t) == 0, WAIT));
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
		"{\"metadata\":{\"name\":\"things.ex.io\"},\"spec\":{\"group\":\"ex.io\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"things\",\"kind\":\"Thing\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/ex.io/v1/namespaces/default/things", "{\"metadata\":{\"name\":\"t1\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	w = dct_watch_start(t, "/apis/ex.io/v1/namespaces/default/things?watch=true");
	ck_assert(dct_watch_wait(w, 1, WAIT));
	j = dct_call(t, &code, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.ex.io", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	/* the object's deletion is delivered, then the watch ends */
	ck_assert(dct_watch_wait(w, 2, WAIT));
	ck_assert_str_eq(dct_ev_type(w, 1), "DELETED");
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w), WAIT));
	dct_watch_stop(w);
	dct_stop(t);
}
END_TEST

START_TEST(test_slow_watcher_does_not_block_writers)
{
	dc_server_options o;
	dct *t;
	dct_watch *w;
	int i;
	memset(&o, 0, sizeof(o));
	o.history_size = 50;
	t = dct_start(&o, false);
	w = dct_watch_start(t, CM "?watch=true&resourceVersion=1");
	ck_assert(TH_WAIT_UNTIL(watchers(t) == 1, WAIT));
	json_decref(dct_call(t, &(long){0}, "POST", "/_devcluster/stall-watches?on=true", NULL));
	/* writes go on while the watcher reads nothing */
	for (i = 0; i < 120; i++) {
		char name[16];
		snprintf(name, sizeof(name), "w%03d", i);
		free(dct_make_cm(t, "default", name, NULL));
	}
	json_decref(dct_call(t, &(long){0}, "POST", "/_devcluster/stall-watches?on=false", NULL));
	/* it fell out of the history: 410, then the stream ends */
	ck_assert(TH_WAIT_UNTIL(dct_watch_ended(w), WAIT));
	ck_assert(dct_watch_count(w) >= 1);
	ck_assert_str_eq(dct_ev_type(w, dct_watch_count(w) - 1), "ERROR");
	dct_watch_stop(w);
	dct_stop(t);
}
END_TEST

typedef struct writer_arg {
	dct *t;
	int id;
} writer_arg;

/* Creates, patches and deletes, as fast as it can. */
static void *writer(void *arg)
{
	writer_arg *a = arg;
	int i;
	for (i = 0; i < 60; i++) {
		char name[32], path[128];
		long code;
		snprintf(name, sizeof(name), "w%d-%d", a->id, i);
		free(dct_make_cm(a->t, a->id % 2 ? "default" : "kube-public", name, i % 3 ? "{\"sel\":\"yes\"}" : NULL));
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", a->id % 2 ? "default" : "kube-public", name);
		json_decref(dct_patch(a->t, &code, path, "application/merge-patch+json", "{\"data\":{\"n\":\"2\"}}"));
		if (i % 4 == 0)
			json_decref(dct_call(a->t, &code, "DELETE", path, NULL));
	}
	return NULL;
}

/* Under concurrent writers every watcher sees every matching change, once,
 * in resourceVersion order, and what it saw adds up to the final list. */
START_TEST(test_concurrent_writers_consistent_watches)
{
	dc_server_options o;
	dct *t;
	dct_watch *all, *ns, *lab;
	pthread_t th[4];
	writer_arg args[4];
	json_t *list, *seen, *it;
	long code;
	size_t i, n;
	unsigned long long prev = 0, last_rv;
	memset(&o, 0, sizeof(o));
	o.history_size = 100000;
	t = dct_start(&o, false);
	all = dct_watch_start(t, "/api/v1/configmaps?watch=true&resourceVersion=1");
	ns = dct_watch_start(t, CM "?watch=true&resourceVersion=1");
	lab = dct_watch_start(t, "/api/v1/configmaps?watch=true&resourceVersion=1&labelSelector=sel%3Dyes");
	for (i = 0; i < 4; i++) {
		args[i].t = t;
		args[i].id = (int)i;
		ck_assert(pthread_create(&th[i], NULL, writer, &args[i]) == 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	list = dct_call(t, &code, "GET", "/api/v1/configmaps", NULL);
	last_rv = strtoull(json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion")), NULL, 10);
	/* wait until the all-namespaces watcher has seen the list's revision */
	ck_assert(TH_WAIT_UNTIL(({ size_t c = dct_watch_count(all); c > 0 &&
		strtoull(obj_rv(all, c - 1), NULL, 10) >= last_rv; }), 60000));
	/* strictly increasing, and replaying the events gives the list */
	seen = json_object();
	n = dct_watch_count(all);
	for (i = 0; i < n; i++) {
		unsigned long long rv = strtoull(obj_rv(all, i), NULL, 10);
		json_t *o2 = json_object_get(dct_watch_event(all, i), "object");
		char key[256];
		ck_assert_msg(rv > prev, "event %zu: rv %llu after %llu", i, rv, prev);
		prev = rv;
		snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(json_object_get(o2, "metadata"), "namespace")),
			dct_ev_name(all, i));
		if (!strcmp(dct_ev_type(all, i), "DELETED"))
			json_object_del(seen, key);
		else
			json_object_set(seen, key, o2);
	}
	ck_assert_uint_eq(json_object_size(seen), json_array_size(json_object_get(list, "items")));
	json_array_foreach(json_object_get(list, "items"), i, it) {
		char key[256];
		snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(json_object_get(it, "metadata"), "namespace")),
			json_string_value(json_object_get(json_object_get(it, "metadata"), "name")));
		ck_assert_msg(json_equal(json_object_get(seen, key), it), "%s differs", key);
	}
	/* the filtered watchers saw only their part */
	ck_assert(TH_WAIT_UNTIL(dct_watch_count(ns) > 0 && strtoull(obj_rv(ns, dct_watch_count(ns) - 1), NULL, 10) > 0, 60000));
	for (i = 0; i < dct_watch_count(ns); i++)
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
			dct_watch_event(ns, i), "object"), "metadata"), "namespace")), "default");
	for (i = 0; i < dct_watch_count(lab); i++) {
		json_t *labels = json_object_get(json_object_get(json_object_get(dct_watch_event(lab, i), "object"), "metadata"), "labels");
		ck_assert_str_eq(json_string_value(json_object_get(labels, "sel")), "yes");
	}
	json_decref(seen);
	json_decref(list);
	dct_watch_stop(all);
	dct_watch_stop(ns);
	dct_watch_stop(lab);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_watch_from_now_and_initial);
	tcase_add_test(tc, test_watch_from_rv_and_namespaces);
	tcase_add_test(tc, test_watch_bookmarks_and_timeout);
	tcase_add_test(tc, test_streaming_list);
	tcase_add_test(tc, test_watch_expired);
	tcase_add_test(tc, test_watch_selector_transitions);
	tcase_add_test(tc, test_watch_faults_close_and_stall);
	tcase_add_test(tc, test_watch_client_gone_and_crd_removed);
	tcase_add_test(tc, test_slow_watcher_does_not_block_writers);
	tcase_add_test(tc, test_concurrent_writers_consistent_watches);
	suite_add_tcase(s, tc);
	return s;
}
