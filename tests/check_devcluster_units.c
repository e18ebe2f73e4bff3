/* check_devcluster_units.c: the devcluster's building blocks without HTTP:
 * the sorted collections and history ring of the store,
 * label selector grammar, RFC 7386 and RFC 6902 vectors. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_store_order_and_history)
{
	dc_store *s;
	dc_store_options o = { 64, NULL };
	const dc_rtype *rt;
	char name[32];
	int i;
	size_t lo, hi, j, initial;
	ck_assert_int_eq(dc_store_new(&s, &o), 0);
	rt = dc_rtype_find(s, "", "v1", "configmaps");
	ck_assert_ptr_nonnull(rt);
	pthread_mutex_lock(&s->mu);
	/* the initial namespaces, their ServiceAccounts, the default roles */
	initial = peerop__map_count(&s->uids);
	ck_assert_uint_ge(initial, 4);
	/* random creates and deletes in three namespaces */
	for (i = 0; i < 3000; i++) {
		const char *ns = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "a-b";
		json_t *obj;
		char uid[64];
		snprintf(name, sizeof(name), "n%04d", (int)peerop__rand_below(500));
		/* one uid per ns/name: updates keep it, as the API layer does */
		snprintf(uid, sizeof(uid), "%s-%s", ns, name);
		if (dc_coll_get(rt->coll, ns, name)) {
			if (peerop__rand_below(2) == 0) {
				ck_assert_int_eq(dc_store_commit(s, rt->coll, ns, name, NULL, NULL), 0);
				continue;
			}
		}
		obj = json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", name, "namespace", ns, "uid", uid);
		ck_assert_int_eq(dc_store_commit(s, rt->coll, ns, name, obj, NULL), 0);
		json_decref(obj);
	}
	/* always sorted, and the namespace ranges hold exactly their own keys */
	for (j = 1; j < rt->coll->n; j++)
		ck_assert(strcmp(rt->coll->arr[j - 1]->key, rt->coll->arr[j]->key) < 0);
	dc_coll_range(rt->coll, "a", &lo, &hi);
	for (j = 0; j < rt->coll->n; j++) {
		bool in = !strncmp(rt->coll->arr[j]->key, "a/", 2);
		ck_assert(in == (j >= lo && j < hi));
	}
	ck_assert_uint_eq(peerop__map_count(&rt->coll->entries), rt->coll->n);
	/* every live object, and nothing else, is in the uid index (plus the
	 * initial objects) */
	ck_assert_uint_eq(peerop__map_count(&s->uids), rt->coll->n + initial);
	/* the history holds the last 64 revisions, consecutively */
	ck_assert_uint_eq(s->ring_len, 64);
	ck_assert_uint_eq(s->compacted_rv, s->rv - 64);
	for (j = 1; j <= 64; j++)
		ck_assert_uint_eq(dc_store_event(s, s->compacted_rv + j)->rv, s->compacted_rv + j);
	ck_assert_ptr_null(dc_store_event(s, s->compacted_rv));
	ck_assert_ptr_null(dc_store_event(s, s->rv + 1));
	dc_store_expire_history(s);
	ck_assert_uint_eq(s->ring_len, 0);
	ck_assert_uint_eq(s->compacted_rv, s->rv);
	pthread_mutex_unlock(&s->mu);
	dc_store_free(s);
}
END_TEST

static bool sel(const char *text, const char *labels)
{
	dc_selector *s;
	char *err = NULL;
	json_t *l = json_loads(labels, 0, NULL);
	bool r;
	ck_assert_msg(dc_label_selector_parse(&s, text, &err) == 0, "%s: %s", text, err ? err : "");
	r = dc_label_selector_match(s, l);
	dc_selector_free(s);
	json_decref(l);
	return r;
}

static bool sel_bad(const char *text)
{
	dc_selector *s = NULL;
	char *err = NULL;
	int rc = dc_label_selector_parse(&s, text, &err);
	bool bad = rc != 0 && err != NULL;
	free(err);
	dc_selector_free(s);
	return bad;
}

START_TEST(test_label_selector_grammar)
{
	ck_assert(sel("", "{}"));
	ck_assert(sel("a=b", "{\"a\":\"b\"}"));
	ck_assert(!sel("a=b", "{\"a\":\"c\"}"));
	ck_assert(sel(" a == b , c != d ", "{\"a\":\"b\",\"c\":\"e\"}"));
	ck_assert(sel("c!=d", "{}"));
	ck_assert(sel("x in (1, 2,3)", "{\"x\":\"2\"}"));
	ck_assert(!sel("x notin (1,2)", "{\"x\":\"2\"}"));
	ck_assert(sel("x notin (1,2)", "{}"));
	ck_assert(sel("example.com/app", "{\"example.com/app\":\"\"}"));
	ck_assert(sel("!gone", "{\"here\":\"1\"}"));
	ck_assert(sel("n>5,n<10", "{\"n\":\"7\"}"));
	ck_assert(!sel("n>5", "{\"n\":\"x\"}"));
	ck_assert(sel("a=", "{\"a\":\"\"}"));
	ck_assert(sel_bad("a in b"));
	ck_assert(sel_bad("a in (b"));
	ck_assert(sel_bad("=b"));
	ck_assert(sel_bad("a=b,"));
	ck_assert(sel_bad("a=-b"));
	ck_assert(sel_bad("-a=b"));
	ck_assert(sel_bad("a b"));
	ck_assert(sel_bad("a>x"));
	ck_assert(sel_bad("a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
}
END_TEST

/* RFC 7386 appendix A */
START_TEST(test_merge_patch_rfc7386)
{
	static const char *const v[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
	};
	size_t i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *t = json_loads(v[i][0], JSON_DECODE_ANY, NULL), *p = json_loads(v[i][1], JSON_DECODE_ANY, NULL);
		json_t *want = json_loads(v[i][2], JSON_DECODE_ANY, NULL), *got = dc_merge_patch(t, p);
		ck_assert_msg(json_equal(got, want), "vector %zu", i);
		json_decref(t);
		json_decref(p);
		json_decref(want);
		json_decref(got);
	}
}
END_TEST

/* RFC 6902 appendix A, and pointer escapes */
START_TEST(test_json_patch_rfc6902)
{
	static const char *const v[][3] = {
		{ "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]", "{\"baz\":\"qux\",\"foo\":\"bar\"}" },
		{ "{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]", "{\"foo\":[\"bar\",\"qux\",\"baz\"]}" },
		{ "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}" },
		{ "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}" },
		{ "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]", "{\"baz\":\"boo\",\"foo\":\"bar\"}" },
		{ "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
		  "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
		  "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}" },
		{ "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}", "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
		  "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}" },
		{ "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
		  "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
		  "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}" },
		{ "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
		  "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}" },
		{ "{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]", "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}" },
		{ "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10},{\"op\":\"remove\",\"path\":\"/~1\"}]", "{\"~1\":10}" },
		{ "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"a\":1,\"b\":1}" },
		{ "{\"a\":1}", "[]", "{\"a\":1}" },
	};
	static const char *const failing[][2] = {
		{ "{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]" },
		{ "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]" },
		{ "{\"foo\":[1]}", "[{\"op\":\"add\",\"path\":\"/foo/5\",\"value\":2}]" },
		{ "{\"foo\":[1]}", "[{\"op\":\"remove\",\"path\":\"/foo/01\"}]" },
		{ "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/c\"}]" },
		{ "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/x\",\"value\":1}]" },
		{ "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/a~2\"}]" },
	};
	size_t i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *t = json_loads(v[i][0], 0, NULL), *p = json_loads(v[i][1], 0, NULL);
		json_t *want = json_loads(v[i][2], 0, NULL), *got = NULL;
		char *err = NULL;
		int rc = dc_json_patch(&got, t, p, &err);
		ck_assert_msg(rc == 0, "vector %zu: %s", i, err ? err : "");
		ck_assert_msg(json_equal(got, want), "vector %zu", i);
		json_decref(t);
		json_decref(p);
		json_decref(want);
		json_decref(got);
	}
	for (i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		json_t *t = json_loads(failing[i][0], 0, NULL), *p = json_loads(failing[i][1], 0, NULL), *got = NULL;
		char *err = NULL;
		ck_assert_msg(dc_json_patch(&got, t, p, &err) == 422, "failing vector %zu", i);
		ck_assert_ptr_null(got);
		ck_assert_ptr_nonnull(err);
		free(err);
		json_decref(t);
		json_decref(p);
	}
}
END_TEST

START_TEST(test_label_selector_format)
{
	json_t *ls = json_loads("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
		"{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},{\"key\":\"x\",\"operator\":\"Exists\"},"
		"{\"key\":\"y\",\"operator\":\"DoesNotExist\"},{\"key\":\"z\",\"operator\":\"NotIn\",\"values\":[\"q\"]}]}", 0, NULL);
	char *s = dc_label_selector_format(ls);
	ck_assert_str_eq(s, "app=web,tier in (a,b),x,!y,z notin (q)");
	/* and it parses back */
	ck_assert(sel(s, "{\"app\":\"web\",\"tier\":\"b\",\"x\":\"1\"}"));
	free(s);
	json_decref(ls);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_units");
	TCase *tc = tcase_create("units");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_order_and_history);
	tcase_add_test(tc, test_label_selector_grammar);
	tcase_add_test(tc, test_merge_patch_rfc7386);
	tcase_add_test(tc, test_json_patch_rfc6902);
	tcase_add_test(tc, test_label_selector_format);
	suite_add_tcase(s, tc);
	return s;
}
