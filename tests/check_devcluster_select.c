/* check_devcluster_select.c: label and field selectors, list paging with
 * limit/continue, expired continue tokens, resourceVersion on lists. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"

static size_t nitems(dct *t, const char *path, long *code)
{
	json_t *j = dct_call(t, code, "GET", path, NULL);
	size_t n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	return n;
}

static bool has_item(dct *t, const char *path, const char *name)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL), *it;
	size_t i;
	bool found = false;
	json_array_foreach(json_object_get(j, "items"), i, it)
		if (!strcmp(json_string_value(json_object_get(json_object_get(it, "metadata"), "name")), name))
			found = true;
	json_decref(j);
	return found;
}

START_TEST(test_label_selectors)
{
	dct *t = dct_start(NULL, false);
	long code;
	free(dct_make_cm(t, "default", "a", "{\"env\":\"prod\",\"tier\":\"web\"}"));
	free(dct_make_cm(t, "default", "b", "{\"env\":\"dev\",\"tier\":\"web\"}"));
	free(dct_make_cm(t, "default", "c", "{\"env\":\"prod\"}"));
	free(dct_make_cm(t, "default", "d", NULL));
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env%3Dprod", &code), 2);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env%3D%3Dprod", &code), 2);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env!%3Dprod", &code), 2);  /* b and d */
	ck_assert(has_item(t, CM "?labelSelector=env!%3Dprod", "d"));
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env%20in%20(prod,dev)", &code), 3);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env%20notin%20(prod)", &code), 2);
	/* client-go encodes spaces as '+' */
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env+in+%28prod%29", &code), 2);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=tier", &code), 2);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=!tier", &code), 2);
	ck_assert_int_eq(nitems(t, CM "?labelSelector=env%3Dprod,tier%3Dweb", &code), 1);
	ck_assert(has_item(t, CM "?labelSelector=env%3Dprod,tier%3Dweb", "a"));
	ck_assert_int_eq(nitems(t, CM "?labelSelector=", &code), 4);
	/* malformed selectors: 400 */
	nitems(t, CM "?labelSelector=env%20in%20prod", &code);
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?labelSelector=%3D%3Dx", &code);
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?labelSelector=a%20in%20(b", &code);
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?labelSelector=Bad%20Key%3Dx", &code);
	ck_assert_int_eq(code, 400);
	dct_stop(t);
}
END_TEST

START_TEST(test_field_selectors)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	free(dct_make_cm(t, "default", "a", NULL));
	free(dct_make_cm(t, "default", "b", NULL));
	free(dct_make_cm(t, "kube-system", "a", NULL));
	ck_assert_int_eq(nitems(t, CM "?fieldSelector=metadata.name%3Da", &code), 1);
	ck_assert_int_eq(nitems(t, CM "?fieldSelector=metadata.name!%3Da", &code), 1);
	ck_assert_int_eq(nitems(t, "/api/v1/configmaps?fieldSelector=metadata.name%3Da", &code), 2);
	ck_assert_int_eq(nitems(t, "/api/v1/configmaps?fieldSelector=metadata.namespace%3Dkube-system", &code), 1);
	ck_assert_int_eq(nitems(t, "/api/v1/configmaps?fieldSelector=metadata.name%3Da,metadata.namespace%3Ddefault", &code), 1);
	/* unsupported field: 400 BadRequest */
	j = dct_call(t, &code, "GET", CM "?fieldSelector=data.k%3Dv", NULL);
	ck_assert_int_eq(code, 400);
	ck_assert_str_eq(dct_reason(j), "BadRequest");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "message")), "field label not supported"));
	json_decref(j);
	nitems(t, CM "?fieldSelector=metadata.name", &code);
	ck_assert_int_eq(code, 400);
	/* events: involvedObject.* in any order, as kubectl describe asks */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/events",
		"{\"metadata\":{\"name\":\"e1\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p1\",\"namespace\":\"default\",\"uid\":\"u1\"},\"reason\":\"R\",\"type\":\"Warning\"}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/events",
		"{\"metadata\":{\"name\":\"e2\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p2\",\"namespace\":\"default\",\"uid\":\"u2\"},\"reason\":\"R\",\"type\":\"Normal\"}");
	json_decref(j);
	ck_assert_int_eq(nitems(t, "/api/v1/namespaces/default/events?fieldSelector="
		"involvedObject.uid%3Du1,involvedObject.name%3Dp1,involvedObject.namespace%3Ddefault,involvedObject.kind%3DPod", &code), 1);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(nitems(t, "/api/v1/namespaces/default/events?fieldSelector=type%3DNormal", &code), 1);
	ck_assert_int_eq(nitems(t, "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dp2", &code), 1);
	dct_stop(t);
}
END_TEST

START_TEST(test_paging)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char path[4096], name[16];
	const char *cont, *rv;
	char *first_rv;
	int i, total = 0, pages = 0;

	for (i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "cm-%02d", i);
		free(dct_make_cm(t, "default", name, i % 2 ? "{\"odd\":\"1\"}" : NULL));
	}
	free(dct_make_cm(t, "kube-system", "other", NULL));
	j = dct_call(t, &code, "GET", CM "?limit=10", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 10);
	cont = json_string_value(json_object_get(json_object_get(j, "metadata"), "continue"));
	ck_assert_ptr_nonnull(cont);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "metadata"), "remainingItemCount")), 15);
	first_rv = strdup(json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")));
	json_decref(j);
	/* walk every page: each key once, in order, with the first page's RV */
	snprintf(path, sizeof(path), CM "?limit=7");
	for (;;) {
		json_t *it;
		size_t k;
		j = dct_call(t, &code, "GET", path, NULL);
		ck_assert_int_eq(code, 200);
		pages++;
		json_array_foreach(json_object_get(j, "items"), k, it) {
			snprintf(name, sizeof(name), "cm-%02d", total);
			ck_assert_str_eq(json_string_value(json_object_get(json_object_get(it, "metadata"), "name")),
				total < 25 ? name : "zz-late");
			total++;
		}
		if (pages == 2) {
			/* a write between pages does not change the list's RV */
			free(dct_make_cm(t, "default", "zz-late", NULL));
		}
		rv = json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
		ck_assert_str_eq(rv, first_rv);
		cont = json_string_value(json_object_get(json_object_get(j, "metadata"), "continue"));
		if (!cont) {
			json_decref(j);
			break;
		}
		snprintf(path, sizeof(path), CM "?limit=7&continue=%s", cont);
		json_decref(j);
	}
	ck_assert_int_eq(total, 26);  /* 25 + zz-late, written before the last page */
	ck_assert_int_eq(pages, 4);
	/* paging with a selector */
	j = dct_call(t, &code, "GET", CM "?limit=5&labelSelector=odd%3D1", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 5);
	ck_assert_ptr_null(json_object_get(json_object_get(j, "metadata"), "remainingItemCount"));
	cont = json_string_value(json_object_get(json_object_get(j, "metadata"), "continue"));
	snprintf(path, sizeof(path), CM "?limit=50&labelSelector=odd%%3D1&continue=%s", cont);
	json_decref(j);
	ck_assert_int_eq(nitems(t, path, &code), 7);
	/* garbage tokens are 400 */
	nitems(t, CM "?limit=5&continue=!!!", &code);
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?limit=5&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", &code);  /* {"v":"meta.k8s.io/v1"} */
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?limit=abc", &code);
	ck_assert_int_eq(code, 400);
	free(first_rv);
	dct_stop(t);
}
END_TEST

START_TEST(test_continue_expired)
{
	dc_server_options o;
	dct *t;
	long code;
	json_t *j;
	char path[4096];
	int i;
	memset(&o, 0, sizeof(o));
	o.history_size = 5;
	t = dct_start(&o, false);
	for (i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		free(dct_make_cm(t, "default", name, NULL));
	}
	j = dct_call(t, &code, "GET", CM "?limit=2", NULL);
	snprintf(path, sizeof(path), CM "?limit=2&continue=%s",
		json_string_value(json_object_get(json_object_get(j, "metadata"), "continue")));
	json_decref(j);
	/* more writes than the history holds: the token expires */
	for (i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%d", i);
		free(dct_make_cm(t, "kube-system", name, NULL));
	}
	j = dct_call(t, &code, "GET", path, NULL);
	ck_assert_int_eq(code, 410);
	ck_assert_str_eq(dct_reason(j), "Expired");
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_list_resource_version)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char path[256];
	char *rv = dct_make_cm(t, "default", "a", NULL);
	unsigned long long n = strtoull(rv, NULL, 10);
	snprintf(path, sizeof(path), CM "?resourceVersion=%s", rv);
	ck_assert_int_eq(nitems(t, path, &code), 1);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(nitems(t, CM "?resourceVersion=0", &code), 1);
	/* far in the future: 504 ResourceVersionTooLarge with Retry-After */
	snprintf(path, sizeof(path), CM "?resourceVersion=%llu", n + 1000);
	j = dct_call(t, &code, "GET", path, NULL);
	ck_assert_int_eq(code, 504);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(j, "details"), "causes"), 0), "reason")),
		"ResourceVersionTooLarge");
	json_decref(j);
	nitems(t, CM "?resourceVersion=abc", &code);
	ck_assert_int_eq(code, 400);
	nitems(t, CM "?resourceVersionMatch=Exact", &code);
	ck_assert_int_eq(code, 422);
	nitems(t, CM "?resourceVersion=1&resourceVersionMatch=Bogus", &code);
	ck_assert_int_eq(code, 422);
	nitems(t, CM "?sendInitialEvents=true", &code);
	ck_assert_int_eq(code, 422);
	free(rv);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_select");
	TCase *tc = tcase_create("select");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_label_selectors);
	tcase_add_test(tc, test_field_selectors);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_continue_expired);
	tcase_add_test(tc, test_list_resource_version);
	suite_add_tcase(s, tc);
	return s;
}
