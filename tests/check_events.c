/*
 * check_events.c: the event recorder against the in-process local control
 * plane: events.k8s.io/v1 Events, series for repetitions (one create,
 * counts patched), the per-object budget, core v1, what kubectl describe
 * shows, and bad arguments. Every wait polls with a deadline.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "watchhelp.h"

static const peerop_kube_resource HS = { "peerop.io", "v1alpha1", "httpservers", 1 };
static const peerop_kube_resource EV = { "events.k8s.io", "v1", "events", 1 };
static const peerop_kube_resource CORE_EV = { "", "v1", "events", 1 };

static env *e;

static void setup(void)
{
	dc_server_options o;

	/* TLS: kubectl sends its token only over https */
	memset(&o, 0, sizeof(o));
	o.tls = true;
	e = env_start(&o, false);
	dct_make_crd(e->t);
}

static void teardown(void)
{
	env_stop(e);
}

static json_t *make_hs(const char *name)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "metadata", "name", name, "spec", "replicas", 1), *out = NULL;
	ck_assert_int_eq(peerop_kube_create(&out, e->client, &HS, "default", o, NULL), 0);
	json_decref(o);
	return out;
}

static peerop_events *make_rec(unsigned refresh_ms, unsigned finish_ms, unsigned burst, int core)
{
	peerop_events_options o = PEEROP_EVENTS_OPTIONS_INIT;
	peerop_events *ev = NULL;

	o.controller = "peerop.io/test";
	o.instance = "test-0";
	o.series_refresh_ms = refresh_ms;
	o.series_finish_ms = finish_ms;
	o.burst = burst;
	o.refill_ms = 3600000;
	o.core_v1 = core;
	ck_assert_int_eq(peerop_events_new(&ev, e->client, &o), 0);
	return ev;
}

/* The Events about an object, from the given API. */
static json_t *events_of(const peerop_kube_resource *res, const char *name)
{
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	char sel[200];
	json_t *l = NULL, *items;

	snprintf(sel, sizeof(sel), "%s.name=%s", res == &EV ? "regarding" : "involvedObject", name);
	lo.field_selector = sel;
	ck_assert_int_eq(peerop_kube_list(&l, e->client, res, "default", &lo), 0);
	items = json_incref(json_object_get(l, "items"));
	json_decref(l);
	return items;
}

static long long series_count(const char *name)
{
	json_t *items = events_of(&EV, name);
	long long n = -1;
	if (json_array_size(items) == 1)
		peerop_fieldpath_int(&n, json_array_get(items, 0), "series.count");
	json_decref(items);
	return n;
}

START_TEST(records_and_aggregates_into_a_series)
{
	json_t *hs = make_hs("ev-1"), *items, *evt;
	peerop_events *ev = make_rec(200, 60000, 0, 0);
	peerop_events_stats s;
	int i;

	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "Applied", "Apply", "applied %d objects", 3), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	items = events_of(&EV, "ev-1");
	ck_assert_int_eq(json_array_size(items), 1);
	evt = json_array_get(items, 0);
	ck_assert_str_eq(peerop_fieldpath_string(evt, "note"), "applied 3 objects");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "reason"), "Applied");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "action"), "Apply");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "type"), "Normal");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "reportingController"), "peerop.io/test");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "reportingInstance"), "test-0");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "regarding.kind"), "HTTPServer");
	ck_assert_str_eq(peerop_fieldpath_string(evt, "regarding.uid"), peerop_fieldpath_string(hs, "metadata.uid"));
	ck_assert_ptr_null(peerop_fieldpath_get(evt, "series"));
	json_decref(items);

	/* repetitions (the note may change): one Event, a series */
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "Applied", "Apply", "applied %d", i), 0);
	ck_assert(TH_WAIT_UNTIL(series_count("ev-1") == 10, 20000));
	/* the write the server has may not be counted yet: wait for the thread */
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	peerop_events_get_stats(ev, &s);
	ck_assert_uint_eq(s.created, 1);
	ck_assert_uint_eq(s.recorded, 10);
	/* the first repetition at once, then at most one per refresh: far fewer than 9 */
	ck_assert_uint_ge(s.patched, 1);
	ck_assert_uint_le(s.patched, 9);
	ck_assert_int_eq(s.core_v1, 0);

	/* another reason is another Event; kubectl describe shows both */
	ck_assert_int_eq(peerop_events_record(ev, hs, "Warning", "ApplyFailed", "Apply", "the server said no"), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	items = events_of(&EV, "ev-1");
	ck_assert_int_eq(json_array_size(items), 2);
	json_decref(items);
	{
		char *out = th_path(e->t->dir, "describe.txt"), cmd[2048], *text;
		snprintf(cmd, sizeof(cmd), "kubectl --kubeconfig '%s' describe httpserver ev-1 -n default > '%s' 2>&1",
			e->kubeconfig, out);
		ck_assert_msg(system(cmd) == 0, "kubectl describe failed: %s", th_slurp(out));
		text = th_slurp(out);
		ck_assert_msg(strstr(text, "Events:") && strstr(text, "Applied") && strstr(text, "x10") &&
			strstr(text, "ApplyFailed") && strstr(text, "the server said no") && strstr(text, "Warning"),
			"kubectl describe:\n%s", text);
		free(text);
		free(out);
	}
	peerop_events_free(ev);
	json_decref(hs);
}
END_TEST

START_TEST(series_end_and_budget)
{
	json_t *hs = make_hs("ev-2"), *items;
	peerop_events *ev = make_rec(100, 300, 3, 0);
	peerop_events_stats s;
	char reason[32];
	int i, dropped = 0;

	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "Synced", "Sync", "one"), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	/* quiet for longer than series_finish_ms: the recorder forgets the
	 * series, and the next occurrence is a new Event */
	ck_assert(TH_WAIT_UNTIL((peerop_events_get_stats(ev, &s), s.open_series == 0), 20000));
	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "Synced", "Sync", "two"), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	items = events_of(&EV, "ev-2");
	ck_assert_int_eq(json_array_size(items), 2);
	json_decref(items);
	/* the object's budget (3) has one Event left: the rest are dropped, not created */
	for (i = 0; i < 5; i++) {
		snprintf(reason, sizeof(reason), "Reason%d", i);
		if (peerop_events_record(ev, hs, "Normal", reason, "Act", "n") == PEEROP_ETOOMANY)
			dropped++;
	}
	ck_assert_int_eq(dropped, 4);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	peerop_events_get_stats(ev, &s);
	ck_assert_uint_eq(s.dropped, 4);
	ck_assert_uint_eq(s.created, 3);
	/* another object has its own budget */
	{
		json_t *other = make_hs("ev-2b");
		ck_assert_int_eq(peerop_events_record(ev, other, "Normal", "Reason9", "Act", "n"), 0);
		json_decref(other);
	}
	peerop_events_free(ev);
	json_decref(hs);
}
END_TEST

START_TEST(core_v1_events)
{
	json_t *hs = make_hs("ev-3"), *items;
	peerop_events *ev = make_rec(100, 60000, 0, 1);
	peerop_events_stats s;
	long long count = 0;

	ck_assert_int_eq(peerop_events_record(ev, hs, "Warning", "Failed", "Apply", "bad"), 0);
	ck_assert_int_eq(peerop_events_record(ev, hs, "Warning", "Failed", "Apply", "bad"), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	ck_assert(TH_WAIT_UNTIL((items = events_of(&CORE_EV, "ev-3"), json_array_size(items) == 1 &&
		peerop_fieldpath_int(&count, json_array_get(items, 0), "count") == 0 && count == 2) ||
		(json_decref(items), 0), 20000));
	ck_assert_str_eq(peerop_fieldpath_string(json_array_get(items, 0), "message"), "bad");
	ck_assert_str_eq(peerop_fieldpath_string(json_array_get(items, 0), "source.component"), "peerop.io/test");
	json_decref(items);
	peerop_events_get_stats(ev, &s);
	ck_assert_int_eq(s.core_v1, 1);
	ck_assert_uint_eq(s.created, 1);
	peerop_events_free(ev);
	json_decref(hs);
}
END_TEST

START_TEST(bad_arguments)
{
	peerop_events_options o = PEEROP_EVENTS_OPTIONS_INIT;
	peerop_events *ev = NULL;
	json_t *hs = make_hs("ev-4"), *nokind = json_pack("{s:s, s:{s:s}}", "apiVersion", "v1", "metadata", "name", "x");
	char big[3000];

	ck_assert_int_eq(peerop_events_options_init(&o, 9), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_new(&ev, e->client, &o), PEEROP_EINVAL);   /* no controller */
	o.controller = "peerop.io/test";
	ck_assert_int_eq(peerop_events_new(&ev, NULL, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_new(&ev, e->client, &o), 0);
	ck_assert_int_eq(peerop_events_record(ev, hs, "Bad", "R", "A", "n"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "", "A", "n"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "R", NULL, "n"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_record(ev, nokind, "Normal", "R", "A", "n"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_events_record(ev, NULL, "Normal", "R", "A", "n"), PEEROP_EINVAL);
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", big, "A", "n"), PEEROP_EINVAL);
	/* an oversized note is cut to 1 KiB, not refused */
	ck_assert_int_eq(peerop_events_record(ev, hs, "Normal", "Big", "A", "%s", big), 0);
	ck_assert_int_eq(peerop_events_flush(ev, 20000), 0);
	{
		json_t *items = events_of(&EV, "ev-4");
		ck_assert_int_eq(json_array_size(items), 1);
		ck_assert_uint_eq(strlen(peerop_fieldpath_string(json_array_get(items, 0), "note")), 1024);
		json_decref(items);
	}
	peerop_events_free(ev);
	peerop_events_free(NULL);
	json_decref(nokind);
	json_decref(hs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, records_and_aggregates_into_a_series);
	tcase_add_test(tc, series_end_and_budget);
	tcase_add_test(tc, core_v1_events);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
