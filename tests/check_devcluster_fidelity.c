/* check_devcluster_fidelity.c: what official clients (client-go, the Python
 * and JavaScript clients) rely on the real server for: boolean query
 * parameters read as apimachinery reads them, Secret stringData, and the
 * built-in defaulting of pods and pod templates. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"
#define SECRETS "/api/v1/namespaces/default/secrets"
#define PODS "/api/v1/namespaces/default/pods"

static const char *path_str(const json_t *o, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(o, a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

START_TEST(test_bool_query_values)
{
	/* every spelling the real server takes as true starts a watch; "false"
	 * and "0" in any case are a list */
	static const char *const trues[] = { "true", "True", "TRUE", "t", "T", "1", "yes", "" };
	static const char *const falses[] = { "false", "False", "FALSE", "0" };
	dct *t = dct_start(NULL, false);
	char path[128];
	size_t i;
	free(dct_make_cm(t, "default", "one", NULL));
	for (i = 0; i < (sizeof(trues) / sizeof(trues[0])); i++) {
		dct_watch *w;
		snprintf(path, sizeof(path), CM "?watch=%s&timeoutSeconds=30", trues[i]);
		w = dct_watch_start(t, path);
		ck_assert_msg(dct_watch_wait(w, 1, 20000), "watch=%s sent no event", trues[i]);
		ck_assert_str_eq(dct_ev_type(w, 0), "ADDED");
		ck_assert_str_eq(dct_ev_name(w, 0), "one");
		dct_watch_stop(w);
	}
	{
		/* "?watch" with no value at all is true too (Go's url.ParseQuery) */
		dct_watch *w = dct_watch_start(t, CM "?watch&timeoutSeconds=30");
		ck_assert(dct_watch_wait(w, 1, 20000));
		dct_watch_stop(w);
	}
	for (i = 0; i < (sizeof(falses) / sizeof(falses[0])); i++) {
		long code;
		json_t *j;
		snprintf(path, sizeof(path), CM "?watch=%s", falses[i]);
		j = dct_call(t, &code, "GET", path, NULL);
		ck_assert_int_eq(code, 200);
		ck_assert_str_eq(path_str(j, "kind", NULL, NULL), "ConfigMapList");
		json_decref(j);
	}
	dct_stop(t);
}
END_TEST

START_TEST(test_secret_string_data)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	/* stringData wins over data for the same key, and is not stored */
	j = dct_call(t, &code, "POST", SECRETS, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		"\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"eA==\",\"keep\":\"aw==\"},"
		"\"stringData\":{\"a\":\"override\",\"b\":\"hello\",\"e\":\"\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_ptr_null(json_object_get(j, "stringData"));
	ck_assert_str_eq(path_str(j, "data", "a", NULL), "b3ZlcnJpZGU=");
	ck_assert_str_eq(path_str(j, "data", "b", NULL), "aGVsbG8=");
	ck_assert_str_eq(path_str(j, "data", "e", NULL), "");
	ck_assert_str_eq(path_str(j, "data", "keep", NULL), "aw==");
	ck_assert_str_eq(path_str(j, "type", NULL, NULL), "Opaque");
	json_decref(j);
	j = dct_call(t, &code, "GET", SECRETS "/s", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(j, "stringData"));
	ck_assert_str_eq(path_str(j, "data", "b", NULL), "aGVsbG8=");
	json_decref(j);
	/* on patch (and so update) too */
	j = dct_patch(t, &code, SECRETS "/s", "application/merge-patch+json", "{\"stringData\":{\"c\":\"xyz\"}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(j, "stringData"));
	ck_assert_str_eq(path_str(j, "data", "c", NULL), "eHl6");
	ck_assert_str_eq(path_str(j, "data", "b", NULL), "aGVsbG8=");
	json_decref(j);
	/* no data at all: stringData alone makes it */
	j = dct_call(t, &code, "POST", SECRETS, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		"\"metadata\":{\"name\":\"only\"},\"stringData\":{\"k\":\"v\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(path_str(j, "data", "k", NULL), "dg==");
	json_decref(j);
	/* malformed stringData: 400, nothing stored */
	j = dct_call(t, &code, "POST", SECRETS, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		"\"metadata\":{\"name\":\"bad\"},\"stringData\":{\"k\":5}}");
	ck_assert_int_eq(code, 400);
	ck_assert_str_eq(dct_reason(j), "BadRequest");
	ck_assert_ptr_nonnull(strstr(path_str(j, "message", NULL, NULL), "Secret.stringData"));
	json_decref(j);
	j = dct_call(t, &code, "POST", SECRETS, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		"\"metadata\":{\"name\":\"bad\"},\"stringData\":[\"k\"]}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	j = dct_call(t, &code, "GET", SECRETS "/bad", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	dct_stop(t);
}
END_TEST

static json_t *container_named(const json_t *spec, const char *name)
{
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(spec, "containers"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	ck_abort_msg("no container %s", name);
	return NULL;
}

START_TEST(test_pod_defaults)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *spec, *c, *p, *v;
	size_t i;
	j = dct_call(t, &code, "POST", PODS, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
		"\"spec\":{\"containers\":["
		"{\"name\":\"latest\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],"
		" \"resources\":{\"limits\":{\"cpu\":\"100m\"}},"
		" \"env\":[{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
		" \"readinessProbe\":{\"httpGet\":{\"port\":80}}},"
		"{\"name\":\"tagged\",\"image\":\"reg:5000/a/b:1.2\",\"imagePullPolicy\":\"Never\"},"
		"{\"name\":\"tag\",\"image\":\"reg:5000/a/b:1.2\"},"
		"{\"name\":\"digest\",\"image\":\"b@sha256:0000000000000000000000000000000000000000000000000000000000000000\"},"
		"{\"name\":\"port\",\"image\":\"reg:5000/a/b\"}],"
		"\"volumes\":[{\"name\":\"cm\",\"configMap\":{\"name\":\"x\"}},{\"name\":\"none\"},"
		"{\"name\":\"tok\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"t\"}}]}}]}}");
	ck_assert_int_eq(code, 201);
	spec = json_object_get(j, "spec");
	ck_assert_str_eq(path_str(spec, "restartPolicy", NULL, NULL), "Always");
	ck_assert_str_eq(path_str(spec, "dnsPolicy", NULL, NULL), "ClusterFirst");
	ck_assert_str_eq(path_str(spec, "schedulerName", NULL, NULL), "default-scheduler");
	ck_assert_str_eq(path_str(spec, "serviceAccountName", NULL, NULL), "default");
	ck_assert_int_eq(json_integer_value(json_object_get(spec, "terminationGracePeriodSeconds")), 30);
	ck_assert(json_is_object(json_object_get(spec, "securityContext")));
	ck_assert(json_is_true(json_object_get(spec, "enableServiceLinks")));
	ck_assert_int_eq(json_array_size(json_object_get(spec, "tolerations")), 2);
	c = container_named(spec, "latest");
	ck_assert_str_eq(path_str(c, "imagePullPolicy", NULL, NULL), "Always");
	ck_assert_str_eq(path_str(c, "terminationMessagePath", NULL, NULL), "/dev/termination-log");
	ck_assert_str_eq(path_str(c, "terminationMessagePolicy", NULL, NULL), "File");
	ck_assert_str_eq(path_str(json_array_get(json_object_get(c, "ports"), 0), "protocol", NULL, NULL), "TCP");
	ck_assert_str_eq(path_str(c, "resources", "requests", "cpu"), "100m");
	ck_assert_str_eq(path_str(json_array_get(json_object_get(c, "env"), 0), "valueFrom", "fieldRef", "apiVersion"),
		"v1");
	p = json_object_get(c, "readinessProbe");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "periodSeconds")), 10);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "timeoutSeconds")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "failureThreshold")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "successThreshold")), 1);
	ck_assert_str_eq(path_str(p, "httpGet", "scheme", NULL), "HTTP");
	ck_assert_str_eq(path_str(p, "httpGet", "path", NULL), "/");
	ck_assert_str_eq(path_str(container_named(spec, "tagged"), "imagePullPolicy", NULL, NULL), "Never");
	ck_assert_str_eq(path_str(container_named(spec, "tag"), "imagePullPolicy", NULL, NULL), "IfNotPresent");
	ck_assert_str_eq(path_str(container_named(spec, "digest"), "imagePullPolicy", NULL, NULL), "IfNotPresent");
	/* a registry port is no tag */
	ck_assert_str_eq(path_str(container_named(spec, "port"), "imagePullPolicy", NULL, NULL), "Always");
	json_array_foreach(json_object_get(spec, "volumes"), i, v) {
		const char *n = path_str(v, "name", NULL, NULL);
		if (!strcmp(n, "cm"))
			ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "configMap"), "defaultMode")), 420);
		else if (!strcmp(n, "none"))
			ck_assert(json_is_object(json_object_get(v, "emptyDir")));
		else
			ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_array_get(
				json_object_get(json_object_get(v, "projected"), "sources"), 0), "serviceAccountToken"),
				"expirationSeconds")), 3600);
	}
	json_decref(j);
	/* a named ServiceAccount is kept, and mirrored in the deprecated field */
	j = dct_call(t, &code, "POST", PODS, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"q\"},"
		"\"spec\":{\"serviceAccountName\":\"bot\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(path_str(j, "spec", "serviceAccountName", NULL), "bot");
	ck_assert_str_eq(path_str(j, "spec", "serviceAccount", NULL), "bot");
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_template_defaults)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *spec, *c;
	j = dct_call(t, &code, "POST", "/apis/apps/v1/namespaces/default/deployments",
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}}}");
	ck_assert_int_eq(code, 201);
	spec = json_object_get(json_object_get(json_object_get(j, "spec"), "template"), "spec");
	ck_assert_str_eq(path_str(spec, "restartPolicy", NULL, NULL), "Always");
	ck_assert_str_eq(path_str(spec, "dnsPolicy", NULL, NULL), "ClusterFirst");
	ck_assert(json_is_object(json_object_get(spec, "securityContext")));
	/* pod templates get no admission-time fields */
	ck_assert_ptr_null(json_object_get(spec, "serviceAccountName"));
	ck_assert_ptr_null(json_object_get(spec, "tolerations"));
	c = container_named(spec, "c");
	ck_assert_str_eq(path_str(c, "imagePullPolicy", NULL, NULL), "IfNotPresent");
	ck_assert_str_eq(path_str(c, "terminationMessagePolicy", NULL, NULL), "File");
	json_decref(j);
	/* defaulting is part of decoding: an update that drops a defaulted
	 * field gets it back, and so does not change the generation */
	j = dct_patch(t, &code, "/apis/apps/v1/namespaces/default/deployments/d", "application/json-patch+json",
		"[{\"op\":\"remove\",\"path\":\"/spec/template/spec/containers/0/imagePullPolicy\"},"
		"{\"op\":\"remove\",\"path\":\"/spec/template/spec/dnsPolicy\"}]");
	ck_assert_int_eq(code, 200);
	spec = json_object_get(json_object_get(json_object_get(j, "spec"), "template"), "spec");
	ck_assert_str_eq(path_str(spec, "dnsPolicy", NULL, NULL), "ClusterFirst");
	ck_assert_str_eq(path_str(container_named(spec, "c"), "imagePullPolicy", NULL, NULL), "IfNotPresent");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "metadata"), "generation")), 1);
	json_decref(j);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_fidelity");
	TCase *tc = tcase_create("fidelity");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bool_query_values);
	tcase_add_test(tc, test_secret_string_data);
	tcase_add_test(tc, test_pod_defaults);
	tcase_add_test(tc, test_template_defaults);
	suite_add_tcase(s, tc);
	return s;
}
