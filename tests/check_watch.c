/*
 * check_watch.c: peerop_watch and peerop_informer against the local
 * control plane (in-process, ephemeral port), with its fault injection.
 *
 * The consumer model replays the callbacks into a map (ADDED/MODIFIED set,
 * DELETED remove); every test ends by checking that the model, and the
 * informer's cache, equal what the server holds.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "watch_internal.h"
#include "testhelp.h"
#include "dchelp.h"

#include "watchhelp.h"

/* ---- tests --------------------------------------------------------------- */

static void basic_flow(peerop_watch_initial initial)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_stats st;
	int i;
	char name[32];

	model_init(&m);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "pre-%d", i);
		put_cm(e, name, "1");
	}
	w = start_watch(e, &m, initial, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	ck_assert(peerop_watch_has_synced(w));
	ck_assert_int_eq(m.added, 7);
	put_cm(e, "new", "1");
	put_cm(e, "pre-0", "2");
	del_cm(e, "pre-1");
	assert_converges(&m, e, 10000);
	ck_assert(TH_WAIT_UNTIL(m.deleted == 1 && m.modified == 1 && m.added == 8, 5000));
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_eq(st.lists, 1);
	ck_assert_uint_ge(st.events, 10);
	stop_watch(w, &m);
	ck_assert_int_eq(m.after_stop, 0);
	model_dispose(&m);
	env_stop(e);
}

START_TEST(test_list_then_watch)
{
	basic_flow(PEEROP_WATCH_INITIAL_LIST);
}
END_TEST

START_TEST(test_streaming_list)
{
	basic_flow(PEEROP_WATCH_INITIAL_STREAM);
}
END_TEST

START_TEST(test_auto_initial)
{
	basic_flow(PEEROP_WATCH_INITIAL_AUTO);
}
END_TEST

/* A server without streaming lists: AUTO falls back to LIST+WATCH whether
 * the server rejects the parameters or ignores them. */
static void no_streaming(const char *mode)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_stats st;
	char path[96];

	model_init(&m);
	put_cm(e, "before", "1");
	snprintf(path, sizeof(path), "/_devcluster/streaming-lists?mode=%s", mode);
	admin(e, path);
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_AUTO, NULL);
	ck_assert(TH_WAIT_UNTIL(peerop_watch_has_synced(w), 15000));
	put_cm(e, "after", "1");
	del_cm(e, "before");
	assert_converges(&m, e, 10000);
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_ge(st.lists, 1);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}

START_TEST(test_fallback_when_rejected)
{
	no_streaming("reject");
}
END_TEST

START_TEST(test_fallback_when_ignored)
{
	no_streaming("ignore");
}
END_TEST

/* Objects deleted and changed while the watch was away come as DELETED and
 * MODIFIED after the 410 relist; unchanged ones produce nothing. */
static void relist_diff(peerop_watch_initial initial)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_stats st;
	int i, added, modified;
	char name[32];

	model_init(&m);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "o-%d", i);
		put_cm(e, name, "1");
	}
	w = start_watch(e, &m, initial, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=true");
	del_cm(e, "o-1");
	del_cm(e, "o-2");
	put_cm(e, "o-3", "changed");
	put_cm(e, "fresh", "1");
	/* delete and recreate under the same name: a new uid */
	del_cm(e, "o-4");
	put_cm(e, "o-4", "reborn");
	admin(e, "/_devcluster/expire-history");
	pthread_mutex_lock(&m.lock);
	added = m.added;
	modified = m.modified;
	peerop__buf_clear(&m.trace);
	pthread_mutex_unlock(&m.lock);
	admin(e, "/_devcluster/stall-watches?on=false");
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 2, 10000));
	assert_converges(&m, e, 10000);
	ck_assert(!model_has(&m, "default/o-1"));
	ck_assert(!model_has(&m, "default/o-2"));
	pthread_mutex_lock(&m.lock);
	ck_assert_msg(strstr(m.trace.ptr, "D:default/o-1;") && strstr(m.trace.ptr, "D:default/o-2;"), "%s", m.trace.ptr);
	ck_assert_msg(strstr(m.trace.ptr, "M:default/o-3;"), "%s", m.trace.ptr);
	ck_assert_msg(strstr(m.trace.ptr, "D:default/o-4;A:default/o-4;"), "%s", m.trace.ptr);
	ck_assert_msg(!strstr(m.trace.ptr, "default/o-5;"), "unchanged object re-delivered: %s", m.trace.ptr);
	ck_assert_int_eq(m.added, added + 2);      /* fresh, o-4 reborn */
	ck_assert_int_eq(m.modified, modified + 1); /* o-3 */
	pthread_mutex_unlock(&m.lock);
	ck_assert_int_ge(model_errors(&m, PEEROP_EGONE), 1);
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_eq(st.lists, 2);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}

START_TEST(test_relist_diff_list)
{
	relist_diff(PEEROP_WATCH_INITIAL_LIST);
}
END_TEST

START_TEST(test_relist_diff_stream)
{
	relist_diff(PEEROP_WATCH_INITIAL_STREAM);
}
END_TEST

/* A stream that goes silent without closing is reconnected by the idle timer. */
START_TEST(test_idle_timeout)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch_stats st;

	model_init(&m);
	o.idle_timeout_ms = 400;
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, &o);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=true");
	put_cm(e, "during-stall", "1");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_ETIMEOUT) >= 1, 10000));
	admin(e, "/_devcluster/stall-watches?on=false");
	assert_converges(&m, e, 10000);
	peerop_watch_get_stats(w, &st);
	ck_assert_uint_ge(st.watches, 2);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* 429, 500 and 504 bursts, with Retry-After, and closed watches. */
START_TEST(test_error_bursts)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;

	model_init(&m);
	put_cm(e, "a", "1");
	admin(e, "/_devcluster/fail?code=429&count=3&retryAfter=1");
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 15000));
	ck_assert_int_ge(model_errors(&m, PEEROP_ETOOMANY), 1);
	/* Writes first: the injected failures hit whatever request comes next,
	 * and writes are not retried. */
	put_cm(e, "b", "1");
	admin(e, "/_devcluster/fail?code=500&count=3");
	admin(e, "/_devcluster/close-watches");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 1, 15000));
	assert_converges(&m, e, 15000);
	put_cm(e, "c", "1");
	admin(e, "/_devcluster/fail?code=504&count=2&retryAfter=1");
	admin(e, "/_devcluster/close-watches");
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 2, 15000));
	assert_converges(&m, e, 15000);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* Streams spoiled on the wire: cut mid-event with the connection dropped,
 * a malformed line, an event over the size limit, and a 200 with an empty
 * body. Each is reported, the stream restarts from the last good
 * resourceVersion, and nothing is lost. */
START_TEST(test_corrupt_streams)
{
	static const struct {
		const char *arm;
		int code;
	} cases[] = {
		{ "/_devcluster/corrupt-watches?mode=truncate&count=1", 0 },
		{ "/_devcluster/corrupt-watches?mode=garbage&count=1", PEEROP_EPROTO },
		{ "/_devcluster/corrupt-watches?mode=oversize&count=1&bytes=2000000", PEEROP_ETOOLARGE },
		{ "/_devcluster/corrupt-watches?mode=empty&count=2", PEEROP_EPROTO },
	};
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	size_t i;

	model_init(&m);
	o.max_event_bytes = 1 << 20;
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, &o);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[16];
		int total_before = 0, k, total;
		pthread_mutex_lock(&m.lock);
		for (k = 0; k < 64; k++)
			total_before += m.errors[k];
		pthread_mutex_unlock(&m.lock);
		admin(e, cases[i].arm);
		admin(e, "/_devcluster/close-watches");
		snprintf(name, sizeof(name), "c-%zu", i);
		put_cm(e, name, "1");
		/* the fault was seen: an error of the expected kind (a dropped
		 * connection may surface as a truncated reply or a receive error) */
		ck_assert_msg(TH_WAIT_UNTIL(({
			pthread_mutex_lock(&m.lock);
			for (total = 0, k = 0; k < 64; k++)
				total += m.errors[k];
			pthread_mutex_unlock(&m.lock);
			total > total_before && (!cases[i].code || model_errors(&m, cases[i].code) > 0); }), 10000),
			"case %zu: no error reported", i);
		put_cm(e, name, "2");
		assert_converges(&m, e, 10000);
	}
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* The API server restarts (same port, same data): the watch resumes. */
START_TEST(test_server_restart)
{
	env *e = env_start(NULL, true);
	model m;
	peerop_watch *w;
	int i;
	char name[32];

	model_init(&m);
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_AUTO, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "r-%d", i);
		put_cm(e, name, "1");
		ck_assert_int_eq(dc_server_restart(e->t->srv), 0);
		put_cm(e, name, "2");
	}
	assert_converges(&m, e, 15000);
	stop_watch(w, &m);
	model_dispose(&m);
	env_stop(e);
}
END_TEST

/* Stop from another thread is prompt and final; stop from a callback works. */
START_TEST(test_stop)
{
	env *e = env_start(NULL, false);
	model m;
	peerop_watch *w;
	uint64_t t0, worst = 0;
	int i;

	for (i = 0; i < 20; i++) {
		model_init(&m);
		w = start_watch(e, &m, i % 2 ? PEEROP_WATCH_INITIAL_LIST : PEEROP_WATCH_INITIAL_STREAM, NULL);
		if (i % 3 == 0)
			TH_WAIT_UNTIL(model_synced(&m) == 1, 10000);
		if (i % 5 == 1)
			admin(e, "/_devcluster/stall-watches?on=true");
		t0 = th_now_ms();
		peerop_watch_stop(w);
		__atomic_store_n(&m.stop_returned, 1, __ATOMIC_RELEASE);
		if (th_now_ms() - t0 > worst)
			worst = th_now_ms() - t0;
		peerop_watch_stop(w); /* again: harmless */
		peerop_watch_free(w);
		ck_assert_int_eq(m.after_stop, 0);
		admin(e, "/_devcluster/stall-watches?on=false");
		model_dispose(&m);
	}
	/* Not a performance assertion: a hang would show as seconds. */
	fprintf(stderr, "check_watch: slowest peerop_watch_stop: %llu ms (promise: ~100 ms)\n",
		(unsigned long long)worst);
	ck_assert_uint_lt(worst, 5000);

	/* during backoff against a dead port */
	model_init(&m);
	admin(e, "/_devcluster/fail?code=500&count=1000");
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_errors(&m, PEEROP_EUNAVAILABLE) >= 2, 10000));
	stop_watch(w, &m);
	admin(e, "/_devcluster/reset");
	model_dispose(&m);

	/* from inside a callback */
	model_init(&m);
	m.stop_in_callback = 1;
	w = start_watch(e, &m, PEEROP_WATCH_INITIAL_LIST, NULL);
	ck_assert(TH_WAIT_UNTIL(model_synced(&m) == 1, 10000));
	put_cm(e, "after-stop", "1");
	peerop_watch_free(w);
	ck_assert(!model_has(&m, "default/after-stop"));
	model_dispose(&m);
	env_stop(e);
}
END_TEST

START_TEST(test_bad_arguments)
{
	env *e = env_start(NULL, false);
	peerop_watch_options o = PEEROP_WATCH_OPTIONS_INIT;
	peerop_watch *w = (peerop_watch *)1;
	ck_assert_int_eq(peerop_watch_start(&w, e->client, &CM, &o), PEEROP_EINVAL); /* no on_event */
	ck_assert_ptr_null(w);
	o.on_event = model_on_event;
	o.version = 99;
	ck_assert_int_eq(peerop_watch_start(&w, e->client, &CM, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_watch_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_watch_options_init(&o, PEEROP_WATCH_OPTIONS_VERSION), 0);
	peerop_watch_free(NULL);
	peerop_watch_stop(NULL);
	env_stop(e);
}
END_TEST

/* The informer's cache follows the server, with indexes and transform. */
START_TEST(test_informer)
{
	env *e = env_start(NULL, false);
	peerop_informer_options io = PEEROP_INFORMER_OPTIONS_INIT;
	peerop_informer *inf = NULL;
	json_t *got = NULL, *list = NULL, *o;
	int i;

	for (i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "i-%d", i);
		o = cm_obj(name, "x");
		json_object_set_new(json_object_get(o, "metadata"), "labels",
			json_pack("{s:s}", "app", i % 2 ? "odd" : "even"));
		ck_assert_int_eq(peerop_kube_create(NULL, e->client, &CM, "default", o, NULL), 0);
		json_decref(o);
	}
	io.watch.ns = "default";
	ck_assert_int_eq(peerop_informer_new(&inf, e->client, &CM, &io), 0);
	ck_assert_int_eq(peerop_informer_add_label_index(inf, "app", "app"), 0);
	ck_assert_int_eq(peerop_informer_add_owner_index(inf, "owner"), 0);
	ck_assert_int_eq(peerop_informer_wait_synced(inf, 0), PEEROP_ETIMEOUT);
	ck_assert_int_eq(peerop_informer_start(inf), 0);
	ck_assert_int_eq(peerop_informer_add_label_index(inf, "late", "x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_informer_wait_synced(inf, 10000), 0);
	ck_assert(peerop_informer_has_synced(inf));
	ck_assert_uint_eq(peerop_informer_count(inf), 5);
	ck_assert_int_eq(peerop_informer_get(&got, inf, "default", "i-3"), 0);
	/* managedFields dropped by default */
	ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
	ck_assert_str_eq(json_string_value(json_object_get(got, "kind")), "ConfigMap");
	json_decref(got);
	ck_assert_int_eq(peerop_informer_by_index(&list, inf, "app", "odd"), 0);
	ck_assert_uint_eq(json_array_size(list), 2);
	json_decref(list);
	del_cm(e, "i-1");
	ck_assert(TH_WAIT_UNTIL(peerop_informer_count(inf) == 4, 10000));
	ck_assert_int_eq(peerop_informer_by_index(&list, inf, "app", "odd"), 0);
	ck_assert_uint_eq(json_array_size(list), 1);
	json_decref(list);
	ck_assert_int_eq(peerop_informer_get(&got, inf, "default", "i-1"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_informer_list(&list, inf, NULL), 0);
	ck_assert_uint_eq(json_array_size(list), 4);
	json_decref(list);
	peerop_informer_free(inf);
	env_stop(e);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_list_then_watch);
	tcase_add_test(tc, test_streaming_list);
	tcase_add_test(tc, test_auto_initial);
	tcase_add_test(tc, test_fallback_when_rejected);
	tcase_add_test(tc, test_fallback_when_ignored);
	tcase_add_test(tc, test_relist_diff_list);
	tcase_add_test(tc, test_relist_diff_stream);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_error_bursts);
	tcase_add_test(tc, test_server_restart);
	tcase_add_test(tc, test_corrupt_streams);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_informer);
	suite_add_tcase(s, tc);
	return s;
}
