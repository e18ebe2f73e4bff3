/*
 * check_fieldpath.c: field paths (peerop/fieldpath.h) and the built-in
 * predicates (peerop/predicate.h): well-formed paths, escapes, indexes,
 * and malformed, truncated, oversized and hostile ones.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "testhelp.h"

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	ck_assert_msg(j != NULL, "bad test JSON: %s", err.text);
	return j;
}

static const char *DEPLOY =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"labels\":{\"app.kubernetes.io/name\":\"web\",\"a\\\\b\":\"bs\"}},"
	"\"spec\":{\"replicas\":3,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"s\",\"image\":\"img:1\",\"ports\":[{\"containerPort\":8080}]}]}},"
	"\"paused\":null}}";

START_TEST(get_follows_keys_indexes_and_escapes)
{
	json_t *d = load(DEPLOY), *v = NULL;
	long long n = 0;

	ck_assert(json_is_object(peerop_fieldpath_get(d, "spec.template.metadata.labels")));
	ck_assert_str_eq(peerop_fieldpath_string(d, "spec.template.metadata.labels.app"), "web");
	ck_assert_str_eq(peerop_fieldpath_string(d, "spec.template.spec.containers[0].image"), "img:1");
	ck_assert_int_eq(peerop_fieldpath_int(&n, d, "spec.template.spec.containers[0].ports[0].containerPort"), 0);
	ck_assert_int_eq(n, 8080);
	ck_assert_str_eq(peerop_fieldpath_string(d, "metadata.labels.app\\.kubernetes\\.io/name"), "web");
	ck_assert_str_eq(peerop_fieldpath_string(d, "metadata.labels.a\\\\b"), "bs");
	ck_assert_int_eq(peerop_fieldpath_int(&n, d, "spec.replicas"), 0);
	ck_assert_int_eq(n, 3);

	/* absent: ENOTFOUND, naming the part that is missing */
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.template.spec.volumes"), PEEROP_ENOTFOUND);
	ck_assert_ptr_null(v);
	ck_assert(strstr(peerop_error_last()->message, "\"volumes\""));
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.template.spec.containers[1].image"), PEEROP_ENOTFOUND);
	ck_assert(strstr(peerop_error_last()->message, "[1]"));
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.paused"), PEEROP_ENOTFOUND);   /* null */
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.paused.x"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, NULL, "spec"), PEEROP_ENOTFOUND);
	/* the wrong type on the way: EINVAL */
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.replicas.x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, "spec.template[0]"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_fieldpath_int(&n, d, "metadata.name"), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "not an integer"));
	ck_assert_ptr_null(peerop_fieldpath_string(d, "spec.replicas"));
	json_decref(d);
}
END_TEST

START_TEST(malformed_and_hostile_paths)
{
	json_t *d = load(DEPLOY), *v = NULL;
	static const char *bad[] = {
		"", ".", "spec.", ".spec", "spec..replicas", "spec[", "spec[]", "spec[x]", "spec[-1]",
		"spec[1", "spec[0]x", "spec[0]]", "a\\", "a\\b", "spec.template[99999999999999999999999]",
		"[0]", "spec.[0]",
	};
	size_t i;
	char *big;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(peerop_fieldpath_lookup(&v, d, bad[i]) == PEEROP_EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_msg(peerop_fieldpath_set_new(d, bad[i], json_true()) == PEEROP_EINVAL, "set \"%s\"", bad[i]);
		ck_assert_msg(peerop_fieldpath_del(d, bad[i]) == PEEROP_EINVAL, "del \"%s\"", bad[i]);
	}
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_fieldpath_lookup(NULL, d, "spec"), PEEROP_EINVAL);

	/* oversized: 4097 bytes, and 65 segments */
	big = malloc(5000);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, big), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "longer than 4096"));
	for (i = 0; i < 65; i++) {
		big[2 * i] = 'a';
		big[2 * i + 1] = '.';
	}
	big[129] = '\0';
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, big), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "64 segments"));
	big[127] = '\0';   /* exactly 64 */
	ck_assert_int_eq(peerop_fieldpath_lookup(&v, d, big), PEEROP_ENOTFOUND);
	/* a deep set of 64 creates every level */
	ck_assert_int_eq(peerop_fieldpath_set_new(d, big, json_string("deep")), 0);
	ck_assert_str_eq(peerop_fieldpath_string(d, big), "deep");
	free(big);
	json_decref(d);
}
END_TEST

START_TEST(set_creates_the_way_and_steals)
{
	json_t *o = json_object(), *v;

	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.template.metadata.labels.app", json_string("web")), 0);
	ck_assert_str_eq(peerop_fieldpath_string(o, "spec.template.metadata.labels.app"), "web");
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "metadata.labels.app\\.kubernetes\\.io/name", json_string("x")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"),
		"labels"), "app.kubernetes.io/name")), "x");
	/* replace */
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.template.metadata.labels.app", json_string("db")), 0);
	ck_assert_str_eq(peerop_fieldpath_string(o, "spec.template.metadata.labels.app"), "db");
	/* through a null: replaced by an object */
	json_object_set_new(json_object_get(o, "spec"), "strategy", json_null());
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.strategy.type", json_string("Recreate")), 0);
	/* arrays: an existing index only */
	json_object_set_new(json_object_get(o, "spec"), "list", json_pack("[i, i]", 1, 2));
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.list[1]", json_integer(5)), 0);
	ck_assert_int_eq(json_integer_value(peerop_fieldpath_get(o, "spec.list[1]")), 5);
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.list[2]", json_integer(5)), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.nolist[0]", json_integer(5)), PEEROP_EINVAL);
	/* through a scalar: refused, nothing changed */
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.strategy.type.x", json_true()), PEEROP_EINVAL);
	ck_assert_str_eq(peerop_fieldpath_string(o, "spec.strategy.type"), "Recreate");
	/* a NULL value (a failed constructor) is ENOMEM, not a crash */
	ck_assert_int_eq(peerop_fieldpath_set_new(o, "spec.x", NULL), PEEROP_ENOMEM);
	/* set borrows: the caller keeps its reference */
	v = json_string("kept");
	ck_assert_int_eq(peerop_fieldpath_set(o, "spec.kept", v), 0);
	ck_assert_int_eq(v->refcount, 2);
	json_decref(v);
	/* not an object at the top */
	v = json_array();
	ck_assert_int_eq(peerop_fieldpath_set_new(v, "a", json_true()), PEEROP_EINVAL);
	json_decref(v);

	/* delete keys and elements */
	ck_assert_int_eq(peerop_fieldpath_del(o, "spec.list[0]"), 0);
	ck_assert_int_eq(json_array_size(peerop_fieldpath_get(o, "spec.list")), 1);
	ck_assert_int_eq(peerop_fieldpath_del(o, "spec.list[4]"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_fieldpath_del(o, "spec.strategy"), 0);
	ck_assert_int_eq(peerop_fieldpath_del(o, "spec.strategy"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_fieldpath_del(o, "nothing.here"), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop_fieldpath_del(o, "spec"), 0);
	ck_assert_ptr_null(peerop_fieldpath_get(o, "spec"));
	json_decref(o);
}
END_TEST

START_TEST(predicates)
{
	json_t *a = load("{\"metadata\":{\"generation\":1,\"labels\":{\"x\":\"1\"}}}");
	json_t *b = load("{\"metadata\":{\"generation\":1,\"labels\":{\"x\":\"1\"},\"annotations\":{}}}");
	json_t *c = load("{\"metadata\":{\"generation\":2,\"labels\":{\"x\":\"2\"},\"annotations\":{\"n\":\"v\"}}}");
	json_t *d = load("{\"metadata\":{\"generation\":2,\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"}}");
	json_t *nogen = load("{\"metadata\":{}}");

	ck_assert(!peerop_predicate_generation_changed(a, b, NULL));
	ck_assert(peerop_predicate_generation_changed(a, c, NULL));
	ck_assert(peerop_predicate_generation_changed(nogen, nogen, NULL));   /* unknown: counts */
	ck_assert(!peerop_predicate_labels_changed(a, b, NULL));
	ck_assert(peerop_predicate_labels_changed(a, c, NULL));
	ck_assert(peerop_predicate_labels_changed(c, d, NULL));               /* removed */
	ck_assert(!peerop_predicate_annotations_changed(a, b, NULL));         /* absent == {} */
	ck_assert(peerop_predicate_annotations_changed(b, c, NULL));
	ck_assert(!peerop_object_is_deleting(c));
	ck_assert(peerop_object_is_deleting(d));
	ck_assert(!peerop_object_is_deleting(NULL));
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(nogen);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fieldpath");
	TCase *tc = tcase_create("fieldpath");

	tcase_add_test(tc, get_follows_keys_indexes_and_escapes);
	tcase_add_test(tc, malformed_and_hostile_paths);
	tcase_add_test(tc, set_creates_the_way_and_steals);
	tcase_add_test(tc, predicates);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
