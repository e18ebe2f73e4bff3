/* check_devcluster_smp.c: strategic merge patch of built-in types (merge
 * keys, $patch, $retainKeys, $setElementOrder, $deleteFromPrimitiveList),
 * malformed patches, and 415 for custom resources. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMP "application/strategic-merge-patch+json"
#define DEP "/apis/apps/v1/namespaces/default/deployments"

static const char deployment[] =
	"{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"},\"finalizers\":[\"a/x\",\"b/y\"]},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
	"\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1\",\"args\":[\"-a\",\"-b\"],"
	"\"ports\":[{\"containerPort\":80,\"name\":\"http\"},{\"containerPort\":9090,\"name\":\"metrics\"}],"
	"\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
	"\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/etc/cfg\"}]},"
	"{\"name\":\"side\",\"image\":\"busybox\"}],"
	"\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\"}},{\"name\":\"tmp\",\"emptyDir\":{}}]}}}}";

static json_t *patched(dct *t, const char *path, const char *patch)
{
	long code;
	json_t *j = dct_patch(t, &code, path, SMP, patch);
	ck_assert_msg(code == 200, "%s: %ld %s", patch, code, json_string_value(json_object_get(j, "message")));
	return j;
}

static json_t *container(const json_t *d, const char *name)
{
	json_t *c;
	size_t i;
	json_array_foreach(dc_json_path(d, "spec.template.spec.containers"), i, c)
		if (!strcmp(dc_json_str(c, "name"), name))
			return c;
	return NULL;
}

static void assert_names(const json_t *list, const char *field, const char *want)
{
	peerop__buf b = PEEROP__BUF_INIT;
	json_t *v;
	size_t i;
	peerop__buf_puts(&b, "");
	json_array_foreach(list, i, v) {
		json_t *f = field ? json_object_get(v, field) : v;
		char *s = json_dumps(f, JSON_ENCODE_ANY);
		peerop__buf_printf(&b, "%s%s", i ? "," : "", s);
		free(s);
	}
	ck_assert_msg(!strcmp(b.ptr, want), "got %s want %s", b.ptr, want);
	peerop__buf_dispose(&b);
}

START_TEST(test_smp_containers_and_lists)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *d, *c;
	d = dct_call(t, &code, "POST", DEP, deployment);
	ck_assert_int_eq(code, 201);
	json_decref(d);
	/* update one container by name, add one; the others stay */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
		"{\"name\":\"side\",\"image\":\"busybox:2\"},{\"name\":\"extra\",\"image\":\"x\"}]}}}}");
	assert_names(dc_json_path(d, "spec.template.spec.containers"), "name", "\"app\",\"side\",\"extra\"");
	ck_assert_str_eq(dc_json_str(container(d, "side"), "image"), "busybox:2");
	ck_assert_str_eq(dc_json_str(container(d, "app"), "image"), "nginx:1");
	json_decref(d);
	/* env by name, ports by containerPort, args replaced whole */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"args\":[\"-c\"],\"env\":[{\"name\":\"B\",\"value\":\"20\"},{\"name\":\"C\",\"value\":\"3\"}],"
		"\"ports\":[{\"containerPort\":9090,\"name\":\"prom\"}]}]}}}}");
	c = container(d, "app");
	assert_names(json_object_get(c, "args"), NULL, "\"-c\"");
	assert_names(json_object_get(c, "env"), "value", "\"1\",\"20\",\"3\"");
	assert_names(json_object_get(c, "ports"), "name", "\"http\",\"prom\"");
	json_decref(d);
	/* $patch: delete of an item; null deletes a field */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
		"{\"name\":\"extra\",\"$patch\":\"delete\"},{\"name\":\"app\",\"env\":[{\"name\":\"A\",\"$patch\":\"delete\"}],"
		"\"args\":null}]}}}}");
	assert_names(dc_json_path(d, "spec.template.spec.containers"), "name", "\"app\",\"side\"");
	c = container(d, "app");
	assert_names(json_object_get(c, "env"), "name", "\"B\",\"C\"");
	ck_assert_ptr_null(json_object_get(c, "args"));
	json_decref(d);
	/* $patch: replace in a list: exactly the other items */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"env\":[{\"$patch\":\"replace\"},{\"name\":\"Z\",\"value\":\"26\"}]}]}}}}");
	assert_names(json_object_get(container(d, "app"), "env"), "name", "\"Z\"");
	json_decref(d);
	/* $setElementOrder: the listed items first, in that order */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":"
		"[{\"name\":\"side\"},{\"name\":\"app\"}]}}}}");
	assert_names(dc_json_path(d, "spec.template.spec.containers"), "name", "\"side\",\"app\"");
	ck_assert_ptr_null(dc_json_path(d, "spec.template.spec.$setElementOrder/containers"));
	json_decref(d);
	/* volumes merge by name; $retainKeys drops the old source */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{\"name\":\"tmp\","
		"\"$retainKeys\":[\"name\",\"secret\"],\"secret\":{\"secretName\":\"s\"}}]}}}}");
	c = json_array_get(dc_json_path(d, "spec.template.spec.volumes"), 1);
	ck_assert_str_eq(dc_json_str(c, "name"), "tmp");
	ck_assert_str_eq(dc_json_str(c, "secret.secretName"), "s");
	ck_assert_ptr_null(json_object_get(c, "emptyDir"));
	ck_assert_ptr_null(json_object_get(c, "$retainKeys"));
	ck_assert_str_eq(dc_json_str(json_array_get(dc_json_path(d, "spec.template.spec.volumes"), 0), "configMap.name"), "cfg");
	json_decref(d);
	/* strategy: a map $patch replace; labels merge as a map */
	d = patched(t, DEP "/web", "{\"metadata\":{\"labels\":{\"tier\":null,\"new\":\"1\"}},"
		"\"spec\":{\"strategy\":{\"$patch\":\"replace\",\"type\":\"Recreate\"}}}");
	ck_assert_ptr_null(dc_json_path(d, "spec.strategy.rollingUpdate"));
	ck_assert_str_eq(dc_json_str(d, "spec.strategy.type"), "Recreate");
	ck_assert_str_eq(dc_json_str(d, "metadata.labels.app"), "web");
	ck_assert_str_eq(dc_json_str(d, "metadata.labels.new"), "1");
	ck_assert_ptr_null(dc_json_path(d, "metadata.labels.tier"));
	json_decref(d);
	/* finalizers: a set; $deleteFromPrimitiveList removes */
	d = patched(t, DEP "/web", "{\"metadata\":{\"finalizers\":[\"b/y\",\"c/z\"]}}");
	assert_names(dc_json_path(d, "metadata.finalizers"), NULL, "\"a/x\",\"b/y\",\"c/z\"");
	json_decref(d);
	d = patched(t, DEP "/web", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a/x\",\"c/z\"]}}");
	assert_names(dc_json_path(d, "metadata.finalizers"), NULL, "\"b/y\"");
	json_decref(d);
	/* a map $patch: delete removes it */
	d = patched(t, DEP "/web", "{\"spec\":{\"template\":{\"metadata\":{\"$patch\":\"delete\"}}}}");
	ck_assert_ptr_null(dc_json_path(d, "spec.template.metadata"));
	json_decref(d);
	d = patched(t, DEP "/web", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b/y\"]}}");
	json_decref(d);
	dct_stop(t);
}
END_TEST

START_TEST(test_smp_service_pod_status)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/services",
		"{\"metadata\":{\"name\":\"s\"},\"spec\":{\"selector\":{\"a\":\"1\",\"b\":\"2\"},\"ports\":["
		"{\"port\":80,\"name\":\"http\"},{\"port\":443,\"name\":\"https\"}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	/* services' ports merge by port */
	j = patched(t, "/api/v1/namespaces/default/services/s", "{\"spec\":{\"ports\":[{\"port\":443,\"targetPort\":8443}]}}");
	assert_names(dc_json_path(j, "spec.ports"), "name", "\"http\",\"https\"");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(dc_json_path(j, "spec.ports"), 1), "targetPort")), 8443);
	json_decref(j);

	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/pods",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	/* conditions merge by type, through the status subresource */
	j = patched(t, "/api/v1/namespaces/default/pods/p/status", "{\"status\":{\"conditions\":["
		"{\"type\":\"Ready\",\"status\":\"False\"},{\"type\":\"Initialized\",\"status\":\"True\"}]}}");
	json_decref(j);
	j = patched(t, "/api/v1/namespaces/default/pods/p/status", "{\"status\":{\"conditions\":["
		"{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	assert_names(dc_json_path(j, "status.conditions"), "status", "\"True\",\"True\"");
	assert_names(dc_json_path(j, "status.conditions"), "type", "\"Ready\",\"Initialized\"");
	json_decref(j);
	/* configmaps, secrets, namespaces, serviceaccounts take it too */
	free(dct_make_cm(t, "default", "cm", NULL));
	j = patched(t, "/api/v1/namespaces/default/configmaps/cm", "{\"data\":{\"n\":\"1\"}}");
	ck_assert_str_eq(dc_json_str(j, "data.k"), "v");
	ck_assert_str_eq(dc_json_str(j, "data.n"), "1");
	json_decref(j);
	j = patched(t, "/api/v1/namespaces/default", "{\"metadata\":{\"labels\":{\"team\":\"a\"}}}");
	ck_assert_str_eq(dc_json_str(j, "metadata.labels.team"), "a");
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/serviceaccounts",
		"{\"metadata\":{\"name\":\"sa\"},\"secrets\":[{\"name\":\"one\"}]}");
	json_decref(j);
	j = patched(t, "/api/v1/namespaces/default/serviceaccounts/sa", "{\"secrets\":[{\"name\":\"two\"}]}");
	assert_names(json_object_get(j, "secrets"), "name", "\"one\",\"two\"");
	json_decref(j);
	/* the scale subresource */
	j = dct_call(t, &code, "POST", DEP, deployment);
	json_decref(j);
	j = dct_patch(t, &code, DEP "/web/scale", SMP, "{\"spec\":{\"replicas\":7}}");
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Scale");
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 7);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_smp_malformed_and_crs)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	size_t i;
	static const char *const bad[] = {
		"[1,2]",
		"\"str\"",
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"no-name\"}]}}}}",
		"{\"spec\":{\"$patch\":\"explode\"}}",
		"{\"spec\":{\"$patch\":7}}",
		"{\"metadata\":{\"$retainKeys\":\"name\"}}",
		"{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":\"x\"}}",
		"{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":{}}}}}",
		"{\"$patch\":\"delete\"}",
		"{not json",
	};
	char *rv;
	j = dct_call(t, &code, "POST", DEP, deployment);
	rv = strdup(dc_json_str(j, "metadata.resourceVersion"));
	json_decref(j);
	for (i = 0; i < PEEROP__ARRAY_SIZE(bad); i++) {
		j = dct_patch(t, &code, DEP "/web", SMP, bad[i]);
		ck_assert_msg(code == 400 || code == 422, "%s: %ld", bad[i], code);
		ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Status");
		json_decref(j);
	}
	/* nothing changed */
	j = dct_call(t, &code, "GET", DEP "/web", NULL);
	ck_assert_str_eq(dc_json_str(j, "metadata.resourceVersion"), rv);
	json_decref(j);
	free(rv);

	/* custom resources: 415, the real server's message */
	dct_make_crd(t);
	j = dct_call(t, &code, "POST", "/apis/peerop.io/v1alpha1/namespaces/default/httpservers",
		"{\"metadata\":{\"name\":\"web\"},\"spec\":{}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_patch(t, &code, "/apis/peerop.io/v1alpha1/namespaces/default/httpservers/web", SMP, "{\"spec\":{\"replicas\":2}}");
	ck_assert_int_eq(code, 415);
	ck_assert_str_eq(dct_reason(j), "UnsupportedMediaType");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "message")), "application/merge-patch+json"));
	json_decref(j);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_smp");
	TCase *tc = tcase_create("smp");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_smp_containers_and_lists);
	tcase_add_test(tc, test_smp_service_pod_status);
	tcase_add_test(tc, test_smp_malformed_and_crs);
	suite_add_tcase(s, tc);
	return s;
}
