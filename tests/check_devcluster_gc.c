/* check_devcluster_gc.c: DELETE options and preconditions, finalizers,
 * ownerReference garbage collection (background, foreground, orphan),
 * namespace deletion, deletecollection. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"
#define WAIT 20000

static char *uid_of(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL);
	char *u = code == 200 ? strdup(json_string_value(json_object_get(json_object_get(j, "metadata"), "uid"))) : NULL;
	json_decref(j);
	return u;
}

static long get_code(dct *t, const char *path)
{
	long code;
	json_decref(dct_call(t, &code, "GET", path, NULL));
	return code;
}

/* A configmap owned by owner (uid), blockOwnerDeletion as given. */
static void make_dependent(dct *t, const char *name, const char *owner, const char *owner_uid, bool block)
{
	char body[1024];
	long code;
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
		"\"kind\":\"ConfigMap\",\"name\":\"%s\",\"uid\":\"%s\",\"controller\":true,\"blockOwnerDeletion\":%s}]}}",
		name, owner, owner_uid, block ? "true" : "false");
	json_decref(dct_call(t, &code, "POST", CM, body));
	ck_assert_int_eq(code, 201);
}

/* A dependent written for an owner that no longer exists (a controller
 * with a stale cache) is collected, as the real garbage collector does;
 * one with at least one live owner stays, and so does its live owner. */
START_TEST(test_gc_dangling_owner)
{
	dct *t = dct_start(NULL, false);
	char *owner_rv = dct_make_cm(t, "default", "owner", NULL), *ouid = uid_of(t, CM "/owner");
	char body[1024];
	long code;
	json_t *j;

	make_dependent(t, "orphaned", "ghost", "00000000-dead-beef-0000-000000000000", true);
	ck_assert_int_eq(get_code(t, CM "/orphaned"), 404);
	make_dependent(t, "kept", "owner", ouid, true);
	ck_assert_int_eq(get_code(t, CM "/kept"), 200);
	/* an update that points the object at a vanished owner also collects it */
	snprintf(body, sizeof(body), "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"v1\","
		"\"kind\":\"ConfigMap\",\"name\":\"ghost\",\"uid\":\"gone-uid\"}]}}");
	j = dct_patch(t, &code, CM "/kept", "application/merge-patch+json", body);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert_int_eq(get_code(t, CM "/kept"), 404);
	ck_assert_int_eq(get_code(t, CM "/owner"), 200);
	free(owner_rv);
	free(ouid);
	dct_stop(t);
}
END_TEST

START_TEST(test_delete_preconditions_and_options)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char body[256];
	char *rv = dct_make_cm(t, "default", "d", NULL);
	j = dct_call(t, &code, "DELETE", CM "/d", "{\"preconditions\":{\"uid\":\"wrong\"}}");
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(dct_reason(j), "Conflict");
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/d", "{\"preconditions\":{\"resourceVersion\":\"1\"}}");
	ck_assert_int_eq(code, 409);
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/d", "{\"propagationPolicy\":\"Sideways\"}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/d", "{not json");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	snprintf(body, sizeof(body), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\","
		"\"gracePeriodSeconds\":0,\"preconditions\":{\"resourceVersion\":\"%s\"}}", rv);
	j = dct_call(t, &code, "DELETE", CM "/d", body);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "Success");
	json_decref(j);
	ck_assert_int_eq(get_code(t, CM "/d"), 404);
	j = dct_call(t, &code, "DELETE", CM "/d", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	/* protected namespaces */
	j = dct_call(t, &code, "DELETE", "/api/v1/namespaces/default", NULL);
	ck_assert_int_eq(code, 403);
	ck_assert_str_eq(dct_reason(j), "Forbidden");
	json_decref(j);
	free(rv);
	dct_stop(t);
}
END_TEST

START_TEST(test_finalizers)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"f\",\"finalizers\":[\"ex.io/cleanup\"]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/f", NULL);
	ck_assert_int_eq(code, 200);
	/* still there, marked */
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "metadata"), "deletionTimestamp"));
	json_decref(j);
	j = dct_call(t, &code, "GET", CM "/f", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "metadata"), "deletionTimestamp"));
	json_decref(j);
	/* no new finalizers while deleting */
	j = dct_patch(t, &code, CM "/f", "application/merge-patch+json", "{\"metadata\":{\"finalizers\":[\"ex.io/cleanup\",\"ex.io/more\"]}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	/* the last finalizer removed: gone */
	j = dct_patch(t, &code, CM "/f", "application/merge-patch+json", "{\"metadata\":{\"finalizers\":null}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert_int_eq(get_code(t, CM "/f"), 404);
	dct_stop(t);
}
END_TEST

START_TEST(test_gc_background)
{
	dct *t = dct_start(NULL, false);
	long code;
	char *ou, *ou2;
	json_t *j;
	free(dct_make_cm(t, "default", "owner", NULL));
	free(dct_make_cm(t, "default", "owner2", NULL));
	ou = uid_of(t, CM "/owner");
	ou2 = uid_of(t, CM "/owner2");
	make_dependent(t, "dep1", "owner", ou, false);
	make_dependent(t, "dep2", "owner", ou, false);
	/* dep3 has two owners: it loses one reference and stays */
	{
		char body[1024];
		snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"dep3\",\"ownerReferences\":["
			"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\"},"
			"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner2\",\"uid\":\"%s\"}]}}", ou, ou2);
		json_decref(dct_call(t, &code, "POST", CM, body));
	}
	{
		char *d1 = uid_of(t, CM "/dep1");
		make_dependent(t, "grandchild", "dep1", d1, false);
		free(d1);
	}
	j = dct_call(t, &code, "DELETE", CM "/owner", "{\"propagationPolicy\":\"Background\"}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/dep1") == 404, WAIT));
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/dep2") == 404, WAIT));
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/grandchild") == 404, WAIT));
	ck_assert(TH_WAIT_UNTIL(({ json_t *d = dct_call(t, &code, "GET", CM "/dep3", NULL);
		size_t n = json_array_size(json_object_get(json_object_get(d, "metadata"), "ownerReferences"));
		json_decref(d); code == 200 && n == 1; }), WAIT));
	free(ou);
	free(ou2);
	dct_stop(t);
}
END_TEST

START_TEST(test_gc_foreground)
{
	dct *t = dct_start(NULL, false);
	long code;
	char *ou;
	json_t *j, *fin;
	free(dct_make_cm(t, "default", "owner", NULL));
	ou = uid_of(t, CM "/owner");
	/* a blocking dependent that has a finalizer of its own */
	{
		char body[1024];
		snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"blocker\",\"finalizers\":[\"ex.io/f\"],\"ownerReferences\":["
			"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\",\"blockOwnerDeletion\":true}]}}", ou);
		json_decref(dct_call(t, &code, "POST", CM, body));
		ck_assert_int_eq(code, 201);
	}
	make_dependent(t, "plain", "owner", ou, false);
	j = dct_call(t, &code, "DELETE", CM "/owner?propagationPolicy=Foreground", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	/* the owner waits, with the foregroundDeletion finalizer */
	j = dct_call(t, &code, "GET", CM "/owner", NULL);
	ck_assert_int_eq(code, 200);
	fin = json_object_get(json_object_get(j, "metadata"), "finalizers");
	ck_assert_str_eq(json_string_value(json_array_get(fin, 0)), "foregroundDeletion");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "metadata"), "deletionTimestamp"));
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/plain") == 404, WAIT));
	ck_assert_int_eq(get_code(t, CM "/blocker"), 200);
	ck_assert_int_eq(get_code(t, CM "/owner"), 200);
	/* the blocker's finalizer goes: it goes, then the owner */
	j = dct_patch(t, &code, CM "/blocker", "application/merge-patch+json", "{\"metadata\":{\"finalizers\":null}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/blocker") == 404, WAIT));
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/owner") == 404, WAIT));
	free(ou);
	dct_stop(t);
}
END_TEST

START_TEST(test_gc_orphan)
{
	dct *t = dct_start(NULL, false);
	long code;
	char *ou;
	json_t *j;
	free(dct_make_cm(t, "default", "owner", NULL));
	ou = uid_of(t, CM "/owner");
	make_dependent(t, "kept", "owner", ou, true);
	j = dct_call(t, &code, "DELETE", CM "/owner", "{\"propagationPolicy\":\"Orphan\"}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(get_code(t, CM "/owner") == 404, WAIT));
	j = dct_call(t, &code, "GET", CM "/kept", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(json_object_get(j, "metadata"), "ownerReferences"));
	json_decref(j);
	free(ou);
	dct_stop(t);
}
END_TEST

START_TEST(test_namespace_deletion)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	json_decref(dct_call(t, &code, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"gone\"}}"));
	ck_assert_int_eq(code, 201);
	free(dct_make_cm(t, "gone", "a", NULL));
	json_decref(dct_call(t, &code, "POST", "/api/v1/namespaces/gone/configmaps",
		"{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"ex.io/f\"]}}"));
	json_decref(dct_call(t, &code, "POST", "/api/v1/namespaces/gone/secrets", "{\"metadata\":{\"name\":\"s\"}}"));
	free(dct_make_cm(t, "default", "other", NULL));
	j = dct_call(t, &code, "DELETE", "/api/v1/namespaces/gone", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(get_code(t, "/api/v1/namespaces/gone/configmaps/a") == 404, WAIT));
	ck_assert(TH_WAIT_UNTIL(get_code(t, "/api/v1/namespaces/gone/secrets/s") == 404, WAIT));
	/* held by a finalizer: the namespace stays Terminating, refuses content */
	j = dct_call(t, &code, "GET", "/api/v1/namespaces/gone", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "phase")), "Terminating");
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/gone/configmaps", "{\"metadata\":{\"name\":\"new\"}}");
	ck_assert_int_eq(code, 403);
	ck_assert_str_eq(dct_reason(j), "Forbidden");
	json_decref(j);
	json_decref(dct_patch(t, &code, "/api/v1/namespaces/gone/configmaps/held", "application/merge-patch+json",
		"{\"metadata\":{\"finalizers\":null}}"));
	ck_assert(TH_WAIT_UNTIL(get_code(t, "/api/v1/namespaces/gone") == 404, WAIT));
	ck_assert_int_eq(get_code(t, CM "/other"), 200);
	dct_stop(t);
}
END_TEST

START_TEST(test_delete_collection)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	free(dct_make_cm(t, "default", "a", "{\"x\":\"1\"}"));
	free(dct_make_cm(t, "default", "b", "{\"x\":\"1\"}"));
	free(dct_make_cm(t, "default", "c", "{\"x\":\"2\"}"));
	free(dct_make_cm(t, "kube-system", "d", "{\"x\":\"1\"}"));
	j = dct_call(t, &code, "DELETE", CM "?labelSelector=x%3D1", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert_int_eq(get_code(t, CM "/a"), 404);
	ck_assert_int_eq(get_code(t, CM "/b"), 404);
	ck_assert_int_eq(get_code(t, CM "/c"), 200);
	ck_assert_int_eq(get_code(t, "/api/v1/namespaces/kube-system/configmaps/d"), 200);
	j = dct_call(t, &code, "DELETE", CM "?dryRun=All", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert_int_eq(get_code(t, CM "/c"), 200);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_gc");
	TCase *tc = tcase_create("gc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_delete_preconditions_and_options);
	tcase_add_test(tc, test_finalizers);
	tcase_add_test(tc, test_gc_background);
	tcase_add_test(tc, test_gc_foreground);
	tcase_add_test(tc, test_gc_orphan);
	tcase_add_test(tc, test_gc_dangling_owner);
	tcase_add_test(tc, test_namespace_deletion);
	tcase_add_test(tc, test_delete_collection);
	suite_add_tcase(s, tc);
	return s;
}
