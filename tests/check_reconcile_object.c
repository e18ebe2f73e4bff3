/*
 * check_reconcile_object.c: the object helpers of reconcile.h:
 * conditions (SetStatusCondition semantics) and controller references,
 * with bad and hostile input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "controller_internal.h"
#include "testhelp.h"

static json_t *owner(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "metadata", "name", "web", "namespace", "default", "uid", "u-1");
}

START_TEST(condition_set_new_and_transition)
{
	json_t *conds = json_array(), *c;

	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "False", "Creating", "starting", 1, 1000), 1);
	c = peerop_condition_find(conds, "Ready");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "1970-01-01T00:16:40Z");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 1);
	ck_assert(!peerop_condition_is_true(conds, "Ready"));

	/* same values: nothing changes, not even the time */
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "False", "Creating", "starting", 1, 2000), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "1970-01-01T00:16:40Z");

	/* a new reason or generation changes, the time does not (status same) */
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "False", "Waiting", "pods", 2, 3000), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "1970-01-01T00:16:40Z");
	ck_assert_str_eq(json_string_value(json_object_get(c, "reason")), "Waiting");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 2);

	/* the status changes: so does the time */
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "AllReady", NULL, 2, 4000), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "1970-01-01T01:06:40Z");
	ck_assert_str_eq(json_string_value(json_object_get(c, "message")), "");
	ck_assert(peerop_condition_is_true(conds, "Ready"));

	/* another type is another entry */
	ck_assert_int_eq(peerop_condition_set(conds, "Degraded", "False", "AsExpected", "", 2, 0), 1);
	ck_assert_int_eq(peerop_condition_set(conds, "peerop.io/Peers-Reachable", "True", "All_Ok:Now", "", 2, 0), 1);
	ck_assert_int_eq(json_array_size(conds), 3);
	ck_assert_ptr_null(peerop_condition_find(conds, "Available"));
	ck_assert_ptr_null(peerop_condition_find(conds, NULL));
	json_decref(conds);
}
END_TEST

START_TEST(condition_bad_input)
{
	json_t *conds = json_array(), *obj = json_object();
	char *huge = malloc(40000);

	ck_assert_int_eq(peerop_condition_set(obj, "Ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(NULL, "Ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, NULL, "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "not ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "true", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", NULL, "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "Has space", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "Ends:", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "-Ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Example.com/Ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "a..b/Ready", "True", "Ok", "", 1, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "Ok", "", -1, 0), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "observedGeneration"));
	ck_assert_int_eq(json_array_size(conds), 0);

	/* a message over the API's 32768 bytes is cut, at a UTF-8 boundary */
	memset(huge, 'a', 39999);
	huge[39999] = '\0';
	huge[32767] = (char)0xC3;   /* a two-byte sequence straddling the cut */
	huge[32768] = (char)0xA9;
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "Ok", huge, 1, 0), 1);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(peerop_condition_find(conds, "Ready"),
		"message"))), 32767);
	/* conditions written by someone else with wrong types are fixed, not trusted */
	json_array_clear(conds);
	json_array_append_new(conds, json_pack("{s:s, s:i, s:s}", "type", "Ready", "status", 7,
		"observedGeneration", "x"));
	ck_assert_int_eq(peerop_condition_set(conds, "Ready", "True", "Ok", "", 3, 0), 1);
	ck_assert(peerop_condition_is_true(conds, "Ready"));
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(conds, 0), "observedGeneration")), 3);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(json_array_get(conds, 0), "lastTransitionTime")));
	free(huge);
	json_decref(obj);
	json_decref(conds);
}
END_TEST

START_TEST(controller_reference)
{
	json_t *o = owner(), *obj = json_object(), *refs, *ref, *other;

	ck_assert_int_eq(peerop_object_set_controller(obj, o), 0);
	refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	ck_assert_int_eq(json_array_size(refs), 1);
	ref = json_array_get(refs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ref, "kind")), "HTTPServer");
	ck_assert_str_eq(json_string_value(json_object_get(ref, "apiVersion")), "peerop.io/v1alpha1");
	ck_assert(json_is_true(json_object_get(ref, "controller")));
	ck_assert(json_is_true(json_object_get(ref, "blockOwnerDeletion")));
	ck_assert_str_eq(peerop_object_controller_uid(obj), "u-1");
	/* idempotent */
	ck_assert_int_eq(peerop_object_set_controller(obj, o), 0);
	ck_assert_int_eq(json_array_size(refs), 1);

	/* another controller: refused, nothing changed */
	other = json_deep_copy(o);
	json_object_set_new(json_object_get(other, "metadata"), "uid", json_string("u-2"));
	ck_assert_int_eq(peerop_object_set_controller(obj, other), PEEROP_ECONFLICT);
	ck_assert(strstr(peerop_error_last()->message, "already controlled"));
	ck_assert_int_eq(json_array_size(refs), 1);
	ck_assert_str_eq(peerop_object_controller_uid(obj), "u-1");

	/* a plain (non-controller) reference to the owner is upgraded in place */
	json_array_clear(refs);
	json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind", "X",
		"name", "x", "uid", "u-x"));
	json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "peerop.io/v1alpha1",
		"kind", "HTTPServer", "name", "web", "uid", "u-1"));
	ck_assert_ptr_null(peerop_object_controller_uid(obj));
	ck_assert_int_eq(peerop_object_set_controller(obj, o), 0);
	ck_assert_int_eq(json_array_size(refs), 2);
	ck_assert_str_eq(peerop_object_controller_uid(obj), "u-1");
	json_decref(other);
	json_decref(obj);
	json_decref(o);
}
END_TEST

START_TEST(controller_reference_bad_input)
{
	json_t *o = owner(), *obj;

	obj = json_array();
	ck_assert_int_eq(peerop_object_set_controller(obj, o), PEEROP_EINVAL);
	json_decref(obj);
	obj = json_pack("{s:s}", "metadata", "x");
	ck_assert_int_eq(peerop_object_set_controller(obj, o), PEEROP_EINVAL);
	json_decref(obj);
	obj = json_pack("{s:{s:i}}", "metadata", "ownerReferences", 3);
	ck_assert_int_eq(peerop_object_set_controller(obj, o), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "ownerReferences"));
	json_decref(obj);
	obj = json_object();
	json_object_del(json_object_get(o, "metadata"), "uid");
	ck_assert_int_eq(peerop_object_set_controller(obj, o), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "metadata.uid"));
	ck_assert_int_eq(peerop_object_set_controller(obj, NULL), PEEROP_EINVAL);
	ck_assert_ptr_null(peerop_object_controller_uid(NULL));
	ck_assert_ptr_null(peerop_object_controller_uid(obj));
	json_decref(obj);
	json_decref(o);
}
END_TEST

START_TEST(keys)
{
	char *k;

	k = peerop__controller_key("default", "web");
	ck_assert_str_eq(k, "default/web");
	free(k);
	k = peerop__controller_key("", "node-1");
	ck_assert_str_eq(k, "node-1");
	free(k);
	k = peerop__controller_key(NULL, "node-1");
	ck_assert_str_eq(k, "node-1");
	free(k);
	ck_assert_ptr_null(peerop__controller_key("default", ""));
	ck_assert_ptr_null(peerop__controller_key("default", NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reconcile_object");
	TCase *tc = tcase_create("object");

	tcase_add_test(tc, condition_set_new_and_transition);
	tcase_add_test(tc, condition_bad_input);
	tcase_add_test(tc, controller_reference);
	tcase_add_test(tc, controller_reference_bad_input);
	tcase_add_test(tc, keys);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
