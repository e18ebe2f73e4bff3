/* check_devcluster_schema.c: custom resources against their CRD's
 * structural schema: defaulting, pruning (and Strict refusing unknown
 * fields), validation with the real server's 422 messages, on create,
 * update, patch, scale and status writes. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define HS "/apis/peerop.io/v1alpha1/namespaces/default/httpservers"
#define GZ "/apis/example.com/v1/namespaces/default/gizmos"

static const char *msg(const json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));
	return m ? m : "";
}

static json_t *hs_create(dct *t, long *code, const char *spec_json, const char *query)
{
	char body[2048], path[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\","
		"\"metadata\":{\"name\":\"web\"}%s%s}", spec_json ? ",\"spec\":" : "", spec_json ? spec_json : "");
	snprintf(path, sizeof(path), HS "%s", query ? query : "");
	return dct_call(t, code, "POST", path, body);
}

START_TEST(test_defaults)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	dct_make_crd(t);
	j = hs_create(t, &code, "{\"replicas\":3}", NULL);
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 3);
	ck_assert_ptr_null(dc_json_path(j, "spec.image")); /* no default: the operator's --default-image */
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.port")), 8080);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.pingIntervalSeconds")), 60);
	ck_assert_str_eq(dc_json_str(j, "spec.logFormat"), "text");
	ck_assert_ptr_null(dc_json_path(j, "spec.resources"));
	json_decref(j);
	/* and they are stored */
	j = dct_call(t, &code, "GET", HS "/web", NULL);
	ck_assert_str_eq(dc_json_str(j, "spec.logFormat"), "text");
	json_decref(j);
	j = dct_call(t, &code, "DELETE", HS "/web", NULL);
	json_decref(j);
	/* an empty spec gets every default; a null non-nullable field is
	 * dropped, then defaulted */
	j = hs_create(t, &code, "{\"image\":null}", NULL);
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 1);
	ck_assert_ptr_null(dc_json_path(j, "spec.image"));
	json_decref(j);
	j = dct_call(t, &code, "DELETE", HS "/web", NULL);
	json_decref(j);
	/* no spec at all: nothing to default into (no default for spec) */
	j = hs_create(t, &code, NULL, NULL);
	ck_assert_int_eq(code, 201);
	ck_assert_ptr_null(json_object_get(j, "spec"));
	json_decref(j);
	/* an update that adds spec gets its defaults too */
	j = dct_patch(t, &code, HS "/web", "application/merge-patch+json", "{\"spec\":{\"port\":9090}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.port")), 9090);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 1);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_invalid_messages)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *causes, *c;
	dct_make_crd(t);
	j = hs_create(t, &code, "{\"replicas\":-1}", NULL);
	ck_assert_int_eq(code, 422);
	ck_assert_str_eq(dct_reason(j), "Invalid");
	ck_assert_str_eq(msg(j), "HTTPServer.peerop.io \"web\" is invalid: spec.replicas: Invalid value: -1: "
		"spec.replicas in body should be greater than or equal to 0");
	ck_assert_str_eq(dc_json_str(j, "details.name"), "web");
	ck_assert_str_eq(dc_json_str(j, "details.group"), "peerop.io");
	ck_assert_str_eq(dc_json_str(j, "details.kind"), "HTTPServer");
	causes = dc_json_path(j, "details.causes");
	ck_assert_int_eq(json_array_size(causes), 1);
	c = json_array_get(causes, 0);
	ck_assert_str_eq(dc_json_str(c, "reason"), "FieldValueInvalid");
	ck_assert_str_eq(dc_json_str(c, "field"), "spec.replicas");
	ck_assert_str_eq(dc_json_str(c, "message"), "Invalid value: -1: spec.replicas in body should be greater than or equal to 0");
	json_decref(j);

	/* several problems: all of them, in brackets */
	j = hs_create(t, &code, "{\"replicas\":\"two\",\"logFormat\":\"xml\",\"port\":70000,\"image\":\"\","
		"\"pingIntervalSeconds\":0}", NULL);
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "HTTPServer.peerop.io \"web\" is invalid: ["));
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""));
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.logFormat: Unsupported value: \"xml\": supported values: \"text\", \"json\""));
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535"));
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.image: Invalid value: \"\": spec.image in body should be at least 1 chars long"));
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.pingIntervalSeconds: Invalid value: 0: spec.pingIntervalSeconds in body should be greater than or equal to 1"));
	ck_assert_int_eq(json_array_size(dc_json_path(j, "details.causes")), 5);
	json_decref(j);
	/* nothing was stored */
	j = dct_call(t, &code, "GET", HS "/web", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	/* a whole float is an integer */
	j = hs_create(t, &code, "{\"replicas\":2.0}", NULL);
	ck_assert_int_eq(code, 201);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_pruning_and_strict)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	dct_make_crd(t);
	/* without Strict: unknown fields are dropped, in resources too (requests and limits only) */
	j = dct_call(t, &code, "POST", HS, "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\","
		"\"metadata\":{\"name\":\"web\",\"bogus\":1,\"labels\":{\"a\":\"b\"}},\"extra\":{\"x\":1},"
		"\"spec\":{\"replicas\":1,\"colour\":\"red\",\"resources\":{\"limits\":{\"cpu\":\"1\"},\"anything\":[1]}}}");
	ck_assert_int_eq(code, 201);
	ck_assert_ptr_null(json_object_get(j, "extra"));
	ck_assert_ptr_null(dc_json_path(j, "spec.colour"));
	ck_assert_ptr_null(dc_json_path(j, "metadata.bogus"));
	ck_assert_str_eq(dc_json_str(j, "metadata.labels.a"), "b");
	ck_assert_str_eq(dc_json_str(j, "spec.resources.limits.cpu"), "1");
	ck_assert_ptr_null(dc_json_path(j, "spec.resources.anything"));
	json_decref(j);
	j = dct_call(t, &code, "DELETE", HS "/web", NULL);
	json_decref(j);
	/* Strict (what kubectl sends): refused, every unknown field named */
	j = hs_create(t, &code, "{\"replicas\":1,\"colour\":\"red\",\"shape\":\"round\"}", "?fieldValidation=Strict");
	ck_assert_int_eq(code, 400);
	ck_assert_str_eq(dct_reason(j), "BadRequest");
	ck_assert_str_eq(msg(j), "HTTPServer in version \"v1alpha1\" cannot be handled as a HTTPServer: strict decoding "
		"error: unknown field \"spec.colour\", unknown field \"spec.shape\"");
	json_decref(j);
	j = hs_create(t, &code, "{\"replicas\":1,\"resources\":{\"free\":\"form\"}}", "?fieldValidation=Strict");
	ck_assert_int_eq(code, 400);
	ck_assert_ptr_nonnull(strstr(msg(j), "unknown field \"spec.resources.free\""));
	json_decref(j);
	j = hs_create(t, &code, "{\"replicas\":1,\"resources\":{\"limits\":{\"cpu\":\"1\"}}}", "?fieldValidation=Strict");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = hs_create(t, &code, "{}", "?fieldValidation=Bogus");
	ck_assert_int_eq(code, 400);
	ck_assert_ptr_nonnull(strstr(msg(j), "fieldValidation"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web?fieldValidation=Strict", "application/merge-patch+json", "{\"spec\":{\"nope\":1}}");
	ck_assert_int_eq(code, 400);
	ck_assert_ptr_nonnull(strstr(msg(j), "unknown field \"spec.nope\""));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web?fieldValidation=Ignore", "application/merge-patch+json", "{\"spec\":{\"nope\":1}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(dc_json_path(j, "spec.nope"));
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_update_patch_scale_status)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char body[1024];
	dct_make_crd(t);
	j = hs_create(t, &code, "{\"replicas\":1}", NULL);
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_patch(t, &code, HS "/web", "application/merge-patch+json", "{\"spec\":{\"replicas\":-1}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.replicas: Invalid value: -1"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web", "application/json-patch+json", "[{\"op\":\"replace\",\"path\":\"/spec/logFormat\",\"value\":\"yaml\"}]");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "Unsupported value: \"yaml\""));
	json_decref(j);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"metadata\":"
		"{\"name\":\"web\"},\"spec\":{\"replicas\":1,\"port\":\"http\"}}");
	j = dct_call(t, &code, "PUT", HS "/web", body);
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.port in body must be of type integer"));
	json_decref(j);
	/* the scale subresource obeys the schema's maximum */
	j = dct_patch(t, &code, HS "/web/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":1001}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "spec.replicas: Invalid value: 1001: spec.replicas in body should be less than or equal to 1000"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":1000}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);

	/* status writes validate .status */
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json",
		"{\"status\":{\"readyReplicas\":\"all\"}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "status.readyReplicas: Invalid value: \"string\""));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json",
		"{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Maybe\"}]}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "status.conditions[0].status: Unsupported value: \"Maybe\""));
	ck_assert_ptr_nonnull(strstr(msg(j), "status.conditions[0].reason: Required value"));
	ck_assert_ptr_nonnull(strstr(msg(j), "status.conditions[0].lastTransitionTime: Required value"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json",
		"{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Up\",\"message\":\"\","
		"\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"Down\","
		"\"message\":\"\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "status.conditions[1]: Duplicate value: {\"type\":\"Ready\"}"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json",
		"{\"status\":{\"readyReplicas\":1,\"bogus\":true,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
		"\"reason\":\"bad reason!\",\"message\":\"ok\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(msg(j), "status.conditions[0].reason: Invalid value: \"bad reason!\": "
		"status.conditions[0].reason in body should match"));
	json_decref(j);
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json",
		"{\"status\":{\"readyReplicas\":1,\"bogus\":true,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
		"\"reason\":\"AllUp\",\"message\":\"ok\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(dc_json_path(j, "status.bogus"));
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "status.readyReplicas")), 1);
	json_decref(j);
	/* a spec write does not trip over (or change) the status */
	j = dct_patch(t, &code, HS "/web", "application/merge-patch+json", "{\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":\"x\"}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "status.readyReplicas")), 1);
	json_decref(j);
	dct_stop(t);
}
END_TEST

/* A CRD exercising the rest of the schema keywords. */
static const char gizmo_crd[] =
	"{\"metadata\":{\"name\":\"gizmos.example.com\"},\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\","
	"\"names\":{\"plural\":\"gizmos\",\"kind\":\"Gizmo\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
	"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
	"\"digits\":{\"type\":\"string\",\"pattern\":\"^\\\\d+$\"},"
	"\"word\":{\"type\":\"string\",\"pattern\":\"^(?:ab|cd)[\\\\w.-]*$\"},"
	"\"look\":{\"type\":\"string\",\"pattern\":\"^(?!x).*$\"},"
	"\"short\":{\"type\":\"string\",\"maxLength\":3},"
	"\"ratio\":{\"type\":\"number\",\"minimum\":0,\"exclusiveMinimum\":true,\"maximum\":1,\"exclusiveMaximum\":true},"
	"\"step\":{\"type\":\"integer\",\"multipleOf\":5},"
	"\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":\"string\"},\"x-kubernetes-list-type\":\"set\"},"
	"\"port\":{\"x-kubernetes-int-or-string\":true},"
	"\"maybe\":{\"type\":\"string\",\"nullable\":true},"
	"\"flag\":{\"type\":\"boolean\",\"default\":true},"
	"\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},\"maxProperties\":2},"
	"\"inner\":{\"type\":\"object\",\"default\":{},\"properties\":{\"level\":{\"type\":\"integer\",\"default\":7}}},"
	"\"template\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,\"x-kubernetes-preserve-unknown-fields\":true},"
	"\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{\"n\":{\"type\":\"integer\"}}}"
	"},\"required\":[\"digits\"]}}}}}]}}";

static long gizmo(dct *t, const char *spec, json_t **out)
{
	char body[4096];
	long code;
	json_t *j;
	snprintf(body, sizeof(body), "{\"metadata\":{\"generateName\":\"g-\"},\"spec\":%s}", spec);
	j = dct_call(t, &code, "POST", GZ, body);
	if (out)
		*out = j;
	else
		json_decref(j);
	return code;
}

static void gizmo_invalid(dct *t, const char *spec, const char *needle)
{
	json_t *j;
	long code = gizmo(t, spec, &j);
	ck_assert_msg(code == 422, "%s: %ld %s", spec, code, msg(j));
	ck_assert_msg(strstr(msg(j), needle) != NULL, "%s: \"%s\" lacks \"%s\"", spec, msg(j), needle);
	json_decref(j);
}

START_TEST(test_schema_keywords)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", CRDS, gizmo_crd);
	ck_assert_int_eq(code, 201);
	json_decref(j);
	code = gizmo(t, "{\"digits\":\"123\",\"word\":\"ab_x.y-z\",\"short\":\"abc\",\"ratio\":0.5,\"step\":15,"
		"\"tags\":[\"a\",\"b\"],\"port\":\"http\",\"maybe\":null,\"labels\":{\"a\":\"1\"},"
		"\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"x\":1}},"
		"\"free\":{\"n\":1,\"other\":{\"deep\":true}}}", &j);
	ck_assert_msg(code == 201, "%ld %s", code, msg(j));
	ck_assert(json_is_true(dc_json_path(j, "spec.flag")));
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.inner.level")), 7); /* a default inside a default */
	ck_assert(json_is_null(dc_json_path(j, "spec.maybe")));
	ck_assert_str_eq(dc_json_str(j, "spec.template.kind"), "Pod");
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.template.spec.x")), 1);
	ck_assert(json_is_true(dc_json_path(j, "spec.free.other.deep")));
	json_decref(j);
	code = gizmo(t, "{\"digits\":\"1\",\"port\":8080}", NULL);
	ck_assert_int_eq(code, 201);
	/* lookarounds cannot be checked with POSIX regular expressions: not enforced */
	code = gizmo(t, "{\"digits\":\"1\",\"look\":\"xyz\"}", NULL);
	ck_assert_int_eq(code, 201);

	gizmo_invalid(t, "{}", "spec.digits: Required value");
	gizmo_invalid(t, "{\"digits\":\"12a\"}", "spec.digits: Invalid value: \"12a\": spec.digits in body should match '^\\d+$'");
	gizmo_invalid(t, "{\"digits\":\"1\",\"word\":\"xy\"}", "spec.word in body should match");
	gizmo_invalid(t, "{\"digits\":\"1\",\"short\":\"abcd\"}", "spec.short: Too long: may not be more than 3 bytes");
	gizmo_invalid(t, "{\"digits\":\"1\",\"ratio\":0}", "spec.ratio in body should be greater than 0");
	gizmo_invalid(t, "{\"digits\":\"1\",\"ratio\":1}", "spec.ratio in body should be less than 1");
	gizmo_invalid(t, "{\"digits\":\"1\",\"step\":7}", "spec.step in body should be a multiple of 5");
	gizmo_invalid(t, "{\"digits\":\"1\",\"tags\":[]}", "spec.tags in body should have at least 1 items");
	gizmo_invalid(t, "{\"digits\":\"1\",\"tags\":[\"a\",\"b\",\"c\"]}", "spec.tags: Too many: 3: must have at most 2 items");
	gizmo_invalid(t, "{\"digits\":\"1\",\"tags\":[\"a\",\"a\"]}", "spec.tags[1]: Duplicate value: \"a\"");
	gizmo_invalid(t, "{\"digits\":\"1\",\"tags\":[1]}", "spec.tags[0]: Invalid value: \"integer\": spec.tags[0] in body must be of type string");
	gizmo_invalid(t, "{\"digits\":\"1\",\"port\":true}", "spec.port in body must be of type integer,string");
	gizmo_invalid(t, "{\"digits\":\"1\",\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}", "spec.labels in body should have at most 2 properties");
	gizmo_invalid(t, "{\"digits\":\"1\",\"labels\":{\"a\":1}}", "spec.labels.a in body must be of type string");
	gizmo_invalid(t, "{\"digits\":\"1\",\"flag\":\"yes\"}", "spec.flag in body must be of type boolean");
	gizmo_invalid(t, "{\"digits\":\"1\",\"free\":{\"n\":\"x\"}}", "spec.free.n in body must be of type integer");
	gizmo_invalid(t, "[1]", "spec in body must be of type object");
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_schema");
	TCase *tc = tcase_create("schema");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_invalid_messages);
	tcase_add_test(tc, test_pruning_and_strict);
	tcase_add_test(tc, test_update_patch_scale_status);
	tcase_add_test(tc, test_schema_keywords);
	suite_add_tcase(s, tc);
	return s;
}
