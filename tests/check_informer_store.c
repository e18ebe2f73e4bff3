/* check_informer_store.c: the informer's store and its indexes. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "watch_internal.h"
#include "testhelp.h"

static json_t *pod(const char *ns, const char *name, const char *app, const char *owner_uid, int rv)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Pod",
		"metadata", "name", name, "namespace", ns, "resourceVersion", "0");
	char rvs[16];
	snprintf(rvs, sizeof(rvs), "%d", rv);
	json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rvs));
	if (app)
		json_object_set_new(json_object_get(o, "metadata"), "labels", json_pack("{s:s}", "app", app));
	if (owner_uid)
		json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
			json_pack("[{s:s,s:s,s:b},{s:s,s:s}]", "kind", "HTTPServer", "uid", owner_uid, "controller", 1,
				"kind", "Other", "uid", "not-controller"));
	return o;
}

static size_t arr_len(json_t *a)
{
	return json_array_size(a);
}

static peerop__store *new_store(void)
{
	peerop__store *s = NULL;
	ck_assert_int_eq(peerop__store_new(&s), 0);
	ck_assert_int_eq(peerop__store_add_index(s, "owner", peerop__index_controller_uid, NULL), 0);
	ck_assert_int_eq(peerop__store_add_index(s, "app", peerop__index_label, (void *)"app"), 0);
	ck_assert_int_eq(peerop__store_add_index(s, "app", peerop__index_label, (void *)"app"), PEEROP_EEXISTS);
	return s;
}

START_TEST(test_store_crud)
{
	peerop__store *s = new_store();
	json_t *o, *got = NULL, *list = NULL;

	o = pod("ns1", "a", "web", "u1", 1);
	ck_assert_int_eq(peerop__store_upsert(s, o), 0);
	json_decref(o);
	o = pod("ns2", "a", "web", "u2", 2);
	ck_assert_int_eq(peerop__store_upsert(s, o), 0);
	json_decref(o);
	o = pod("ns1", "b", "db", "u1", 3);
	ck_assert_int_eq(peerop__store_upsert(s, o), 0);
	json_decref(o);
	ck_assert_uint_eq(peerop__store_count(s), 3);
	ck_assert_uint_gt(peerop__store_bytes(s), 100);

	ck_assert_int_eq(peerop__store_get(s, "ns1/a", &got), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")), "1");
	/* the copy belongs to the caller: changing it does not change the store */
	json_object_set_new(got, "kind", json_string("Mutated"));
	json_decref(got);
	ck_assert_int_eq(peerop__store_get(s, "ns1/a", &got), 0);
	ck_assert_str_eq(json_string_value(json_object_get(got, "kind")), "Pod");
	json_decref(got);
	ck_assert_int_eq(peerop__store_get(s, "ns1/zzz", &got), PEEROP_ENOTFOUND);
	ck_assert_ptr_null(got);

	ck_assert_int_eq(peerop__store_list(s, "ns1", &list), 0);
	ck_assert_uint_eq(arr_len(list), 2);
	json_decref(list);
	ck_assert_int_eq(peerop__store_list(s, "ns", &list), 0); /* prefix of a namespace is not it */
	ck_assert_uint_eq(arr_len(list), 0);
	json_decref(list);
	ck_assert_int_eq(peerop__store_list(s, NULL, &list), 0);
	ck_assert_uint_eq(arr_len(list), 3);
	json_decref(list);

	ck_assert_int_eq(peerop__store_by_index(s, "owner", "u1", &list), 0);
	ck_assert_uint_eq(arr_len(list), 2);
	json_decref(list);
	ck_assert_int_eq(peerop__store_by_index(s, "owner", "not-controller", &list), 0);
	ck_assert_uint_eq(arr_len(list), 0);
	json_decref(list);
	ck_assert_int_eq(peerop__store_by_index(s, "app", "web", &list), 0);
	ck_assert_uint_eq(arr_len(list), 2);
	json_decref(list);
	ck_assert_int_eq(peerop__store_by_index(s, "nope", "web", &list), PEEROP_ENOTFOUND);

	/* an update moves the object between index values */
	o = pod("ns1", "a", "db", NULL, 4);
	ck_assert_int_eq(peerop__store_upsert(s, o), 0);
	json_decref(o);
	ck_assert_int_eq(peerop__store_by_index(s, "app", "web", &list), 0);
	ck_assert_uint_eq(arr_len(list), 1);
	json_decref(list);
	ck_assert_int_eq(peerop__store_by_index(s, "app", "db", &list), 0);
	ck_assert_uint_eq(arr_len(list), 2);
	json_decref(list);
	ck_assert_int_eq(peerop__store_by_index(s, "owner", "u1", &list), 0);
	ck_assert_uint_eq(arr_len(list), 1);
	json_decref(list);

	ck_assert_int_eq(peerop__store_delete(s, "ns1/a", &got), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")), "4");
	json_decref(got);
	ck_assert_int_eq(peerop__store_delete(s, "ns1/a", NULL), PEEROP_ENOTFOUND);
	ck_assert_int_eq(peerop__store_by_index(s, "app", "db", &list), 0);
	ck_assert_uint_eq(arr_len(list), 1);
	json_decref(list);

	ck_assert_int_eq(peerop__store_keys(s, &list), 0);
	ck_assert_uint_eq(arr_len(list), 2);
	json_decref(list);

	/* indexes cannot be added once filled; nameless objects are refused */
	ck_assert_int_eq(peerop__store_add_index(s, "late", peerop__index_namespace, NULL), PEEROP_EINVAL);
	o = json_pack("{s:{}}", "metadata");
	ck_assert_int_eq(peerop__store_upsert(s, o), PEEROP_EINVAL);
	json_decref(o);
	peerop__store_free(s);
	peerop__store_free(NULL);
}
END_TEST

START_TEST(test_store_cluster_scoped_key)
{
	json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "node-1");
	char *k = peerop__store_key(o);
	ck_assert_str_eq(k, "node-1");
	free(k);
	json_decref(o);
}
END_TEST

typedef struct race {
	peerop__store *s;
	int stop;
	long reads;
} race;

static void *reader(void *arg)
{
	race *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		json_t *o = NULL, *l = NULL;
		if (peerop__store_get(r->s, "ns/p7", &o) == 0)
			json_decref(o);
		if (peerop__store_by_index(r->s, "app", "a3", &l) == 0)
			json_decref(l);
		if (peerop__store_list(r->s, "ns", &l) == 0)
			json_decref(l);
		__atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Readers never see freed memory while a writer replaces and deletes. */
START_TEST(test_store_concurrent)
{
	race r = { new_store(), 0, 0 };
	pthread_t t[3];
	int i;
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &r), 0);
	for (i = 0; i < 20000; i++) {
		char name[16], app[8];
		json_t *o;
		snprintf(name, sizeof(name), "p%d", i % 50);
		snprintf(app, sizeof(app), "a%d", i % 5);
		o = pod("ns", name, app, NULL, i);
		ck_assert_int_eq(peerop__store_upsert(r.s, o), 0);
		json_decref(o);
		if (i % 7 == 0) {
			char key[32];
			snprintf(key, sizeof(key), "ns/p%d", (i / 7) % 50);
			peerop__store_delete(r.s, key, NULL);
		}
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_gt(r.reads, 0);
	peerop__store_free(r.s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("informer_store");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_store_crud);
	tcase_add_test(tc, test_store_cluster_scoped_key);
	tcase_add_test(tc, test_store_concurrent);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
