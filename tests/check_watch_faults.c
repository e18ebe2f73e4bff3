/*
 * check_watch_faults.c: the property test. Random creates, updates and
 * deletes run interleaved with the local control plane's faults (closed
 * watches, expired history and 410 storms, 429/500/504 bursts, stalled
 * streams, slow replies, restarts of the server, streams cut mid-event,
 * malformed lines, oversized events, empty answers). At the end, a raw
 * watch's replayed callbacks and an informer's cache (and its replayed
 * on_change callbacks) must all equal the server's state exactly.
 *
 * The seed is printed; PEEROP_TEST_SEED=N replays a run.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchhelp.h"

static int try_put(env *e, const char *name, const char *value)
{
	json_t *o = cm_obj(name, value), *patch;
	int rc = peerop_kube_create(NULL, e->client, &CM, "default", o, NULL);
	json_decref(o);
	if (rc != PEEROP_EEXISTS)
		return rc;
	patch = json_pack("{s:{s:s}}", "data", "v", value);
	rc = peerop_kube_patch(NULL, e->client, &CM, "default", name, PEEROP_KUBE_PATCH_MERGE, patch, NULL);
	json_decref(patch);
	return rc;
}

static void on_change(peerop_watch_event_type type, const json_t *obj, void *payload)
{
	model_apply(payload, type, obj);
}

/* Does the informer's cache hold exactly the server's objects? */
static int cache_matches_server(peerop_informer *inf, env *e, char *why, size_t whylen)
{
	json_t *server = NULL, *cache = NULL, *item;
	peerop__map rv = PEEROP__MAP_INIT;
	size_t i;
	int ok = 1;

	if (peerop_kube_list(&server, e->client, &CM, "default", NULL) != 0 ||
	    peerop_informer_list(&cache, inf, "default") != 0) {
		snprintf(why, whylen, "list: %s", peerop_error_last()->message);
		json_decref(server);
		return 0;
	}
	json_array_foreach(json_object_get(server, "items"), i, item)
		peerop__map_put(&rv, json_string_value(json_object_get(json_object_get(item, "metadata"), "name")),
			(void *)json_string_value(json_object_get(json_object_get(item, "metadata"), "resourceVersion")), NULL);
	if (json_array_size(cache) != peerop__map_count(&rv)) {
		snprintf(why, whylen, "server has %zu objects, the cache %zu", peerop__map_count(&rv), json_array_size(cache));
		ok = 0;
	}
	json_array_foreach(cache, i, item) {
		const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		const char *have = json_string_value(json_object_get(json_object_get(item, "metadata"), "resourceVersion"));
		const char *want = name ? peerop__map_get(&rv, name) : NULL;
		if (ok && (!want || !have || strcmp(want, have) != 0)) {
			snprintf(why, whylen, "%s: server rv %s, cache %s", name ? name : "?", want ? want : "(absent)",
				have ? have : "?");
			ok = 0;
		}
	}
	peerop__map_dispose(&rv);
	json_decref(server);
	json_decref(cache);
	return ok;
}

START_TEST(test_random_ops_with_faults)
{
	dc_server_options so;
	env *e;
	model raw, replay;
	peerop_watch *w;
	peerop_watch_options wo = PEEROP_WATCH_OPTIONS_INIT;
	peerop_informer_options io = PEEROP_INFORMER_OPTIONS_INIT;
	peerop_informer *inf = NULL;
	peerop_watch_stats st;
	unsigned seed = getenv("PEEROP_TEST_SEED") ? (unsigned)atoi(getenv("PEEROP_TEST_SEED")) : (unsigned)time(NULL);
	int op, writes = 0, failed_writes = 0, faults = 0, stalled = 0, i;
	char why[512] = "";

	fprintf(stderr, "check_watch_faults: seed %u (PEEROP_TEST_SEED=%u replays this run)\n", seed, seed);
	srand(seed);
	memset(&so, 0, sizeof(so));
	so.history_size = 64;        /* small: falling behind means 410 */
	so.bookmark_interval_s = 1;
	e = env_start(&so, true);
	model_init(&raw);
	model_init(&replay);

	wo.idle_timeout_ms = 1500;   /* bookmarks every second: silence means a stall */
	wo.max_event_bytes = 256 << 10; /* so that the injected 300 kB event is over it */
	wo.min_timeout_s = 2;        /* short watches: many reconnects from a resourceVersion */
	wo.max_timeout_s = 4;
	w = start_watch(e, &raw, PEEROP_WATCH_INITIAL_AUTO, &wo);

	io.watch = wo;
	io.watch.ns = "default";
	io.watch.initial = PEEROP_WATCH_INITIAL_LIST;
	io.watch.backoff_initial_ms = 50;
	io.watch.backoff_max_ms = 500;
	io.on_change = on_change;
	io.payload = &replay;
	ck_assert_int_eq(peerop_informer_new(&inf, e->client, &CM, &io), 0);
	ck_assert_int_eq(peerop_informer_start(inf), 0);

	for (op = 0; op < 400; op++) {
		int r = rand() % 100;
		char name[16], value[16];
		snprintf(name, sizeof(name), "p-%d", rand() % 25);
		snprintf(value, sizeof(value), "%d", op);
		if (r < 45) {
			writes++;
			if (try_put(e, name, value) != 0)
				failed_writes++; /* an injected fault took it: the state is still well defined */
		} else if (r < 65) {
			writes++;
			if (peerop_kube_delete(NULL, e->client, &CM, "default", name, NULL) != 0)
				failed_writes++;
		} else if (r < 72) {
			faults++;
			admin(e, "/_devcluster/close-watches");
		} else if (r < 78) {
			faults++;
			admin(e, "/_devcluster/expire-history");
			if (rand() % 2)
				admin(e, "/_devcluster/close-watches"); /* 410 on reconnect, not only in-stream */
		} else if (r < 84) {
			static const char *codes[] = { "429", "500", "504" };
			char path[96];
			faults++;
			snprintf(path, sizeof(path), "/_devcluster/fail?code=%s&count=%d", codes[rand() % 3], 1 + rand() % 3);
			admin(e, path);
			admin(e, "/_devcluster/close-watches");
		} else if (r < 90) {
			faults++;
			stalled = !stalled;
			admin(e, stalled ? "/_devcluster/stall-watches?on=true" : "/_devcluster/stall-watches?on=false");
		} else if (r < 94) {
			faults++;
			admin(e, rand() % 2 ? "/_devcluster/delay?ms=30" : "/_devcluster/delay?ms=0");
		} else if (r < 97) {
			faults++;
			ck_assert_int_eq(dc_server_restart(e->t->srv), 0);
		} else if (r < 99) {
			static const char *modes[] = { "truncate", "garbage", "oversize&bytes=300000", "empty" };
			char path[128];
			faults++;
			snprintf(path, sizeof(path), "/_devcluster/corrupt-watches?mode=%s&count=%d", modes[rand() % 4], 1 + rand() % 2);
			admin(e, path);
			admin(e, "/_devcluster/close-watches");
		} else {
			/* let the consumers catch up now and then */
			th_sleep_ms(50);
		}
	}
	admin(e, "/_devcluster/reset");
	admin(e, "/_devcluster/stall-watches?on=false");
	fprintf(stderr, "check_watch_faults: %d writes (%d failed by injection), %d faults\n",
		writes, failed_writes, faults);

	assert_converges(&raw, e, 60000);
	assert_converges(&replay, e, 60000);
	ck_assert_msg(TH_WAIT_UNTIL(cache_matches_server(inf, e, why, sizeof(why)), 60000),
		"the informer's cache never matched the server: %s", why);
	/* lookups agree with the replayed callbacks, object by object */
	for (i = 0; i < 25; i++) {
		json_t *one = NULL;
		char name[16], key[32];
		snprintf(name, sizeof(name), "p-%d", i);
		snprintf(key, sizeof(key), "default/%s", name);
		ck_assert_int_eq(peerop_informer_get(&one, inf, "default", name) == 0, model_has(&replay, key));
		json_decref(one);
	}
	peerop_watch_get_stats(w, &st);
	fprintf(stderr, "check_watch_faults: raw watch: %llu events, %llu lists, %llu watches, %llu errors, %llu bookmarks\n",
		st.events, st.lists, st.watches, st.errors, st.bookmarks);
	ck_assert_uint_ge(st.lists, 2); /* at least one relist happened */
	stop_watch(w, &raw);
	peerop_informer_free(inf);
	ck_assert_int_eq(raw.bad, 0);
	ck_assert_int_eq(replay.bad, 0);
	model_dispose(&raw);
	model_dispose(&replay);
	env_stop(e);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("watch_faults");
	TCase *tc = tcase_create("property");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_random_ops_with_faults);
	suite_add_tcase(s, tc);
	return s;
}
