/* check_devcluster_psa.c: Pod Security admission from namespace labels:
 * enforce refuses Pods in the real server's words, warn and workloads' pod
 * templates get Warning headers, each level's checks. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void label_ns(dct *t, const char *ns, const char *labels)
{
	char body[512];
	long code;
	json_t *j;
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\",\"labels\":%s}}", ns, labels);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces", body);
	ck_assert_int_eq(code, 201);
	json_decref(j);
}

/* POST a pod with spec into ns: the code, the message and the warnings. */
static long pod(dct *t, const char *ns, const char *name, const char *spec, char *msg, size_t size, char *warn,
	size_t wsize)
{
	char path[128], body[4096];
	dct_resp r;
	long code;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":%s}",
		name, spec);
	dct_req(t, &r, "POST", path, NULL, body);
	code = r.code;
	if (msg)
		snprintf(msg, size, "%s", json_string_value(json_object_get(r.json, "message")) ?
			json_string_value(json_object_get(r.json, "message")) : "");
	if (warn)
		snprintf(warn, wsize, "%s", r.warnings);
	dct_resp_free(&r);
	return code;
}

#define PLAIN "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}"
#define GOOD "{\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}," \
	"\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{\"allowPrivilegeEscalation\":false," \
	"\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"NET_BIND_SERVICE\"]}}}],\"volumes\":[{\"name\":\"v\"," \
	"\"configMap\":{\"name\":\"x\"}}]}"

START_TEST(test_restricted)
{
	dct *t = dct_start(NULL, false);
	char msg[4096], warn[8192];
	label_ns(t, "r", "{\"pod-security.kubernetes.io/enforce\":\"restricted\"}");
	ck_assert_int_eq(pod(t, "r", "plain", PLAIN, msg, sizeof(msg), NULL, 0), 403);
	ck_assert_str_eq(msg, "pods \"plain\" is forbidden: violates PodSecurity \"restricted:latest\": "
		"allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), "
		"unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), "
		"runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
		"seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" "
		"or \"Localhost\")");
	ck_assert_int_eq(pod(t, "r", "good", GOOD, NULL, 0, warn, sizeof(warn)), 201);
	ck_assert_str_eq(warn, "");
	/* restricted volume types, runAsUser=0, a capability added */
	ck_assert_int_eq(pod(t, "r", "bad", "{\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":0,"
		"\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"containers\":[{\"name\":\"c\",\"image\":\"i\","
		"\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"],"
		"\"add\":[\"SYS_ADMIN\"]}}}],\"volumes\":[{\"name\":\"h\",\"hostPath\":{\"path\":\"/\"}}]}",
		msg, sizeof(msg), NULL, 0), 403);
	ck_assert_ptr_nonnull(strstr(msg, "unrestricted capabilities (container \"c\" must not include \"SYS_ADMIN\" in "
		"securityContext.capabilities.add)"));
	ck_assert_ptr_nonnull(strstr(msg, "restricted volume types (volume \"h\" uses restricted volume type "
		"\"hostPath\")"));
	ck_assert_ptr_nonnull(strstr(msg, "runAsUser=0 (pod must not set runAsUser=0)"));
	/* a workload's template: a warning, not a refusal */
	{
		dct_resp r;
		dct_req(t, &r, "POST", "/apis/apps/v1/namespaces/r/deployments", NULL,
			"{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":"
			"{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":" PLAIN "}}}");
		ck_assert_int_eq(r.code, 201);
		ck_assert_ptr_nonnull(strstr(r.warnings, "299 - \"would violate PodSecurity \\\"restricted:latest\\\": "
			"allowPrivilegeEscalation != false"));
		dct_resp_free(&r);
	}
	/* status and metadata updates of a pod are not judged again */
	{
		long code;
		json_t *j = dct_patch(t, &code, "/api/v1/namespaces/r/pods/good", "application/merge-patch+json",
			"{\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
		ck_assert_int_eq(code, 200);
		json_decref(j);
	}
	dct_stop(t);
}
END_TEST

START_TEST(test_baseline_and_warn)
{
	dct *t = dct_start(NULL, false);
	char msg[4096], warn[8192];
	label_ns(t, "b", "{\"pod-security.kubernetes.io/enforce\":\"baseline\","
		"\"pod-security.kubernetes.io/warn\":\"restricted\"}");
	ck_assert_int_eq(pod(t, "b", "hn", "{\"hostNetwork\":true,\"hostPID\":true,\"containers\":[{\"name\":\"c\","
		"\"image\":\"i\"}]}", msg, sizeof(msg), NULL, 0), 403);
	ck_assert_str_eq(msg, "pods \"hn\" is forbidden: violates PodSecurity \"baseline:latest\": "
		"host namespaces (hostNetwork=true, hostPID=true)");
	ck_assert_int_eq(pod(t, "b", "priv", "{\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":"
		"{\"privileged\":true,\"capabilities\":{\"add\":[\"NET_ADMIN\"]}},\"ports\":[{\"containerPort\":80,"
		"\"hostPort\":8080}]},{\"name\":\"b\",\"image\":\"i\",\"securityContext\":{\"privileged\":true}}],"
		"\"volumes\":[{\"name\":\"h\",\"hostPath\":{\"path\":\"/\"}}]}", msg, sizeof(msg), NULL, 0), 403);
	ck_assert_str_eq(msg, "pods \"priv\" is forbidden: violates PodSecurity \"baseline:latest\": "
		"non-default capabilities (container \"a\" must not include \"NET_ADMIN\" in securityContext.capabilities.add), "
		"hostPath volumes (volume \"h\"), hostPort (container \"a\" uses hostPort 8080), "
		"privileged (containers \"a\", \"b\" must not set securityContext.privileged=true)");
	/* baseline passes; restricted warns */
	ck_assert_int_eq(pod(t, "b", "plain", PLAIN, NULL, 0, warn, sizeof(warn)), 201);
	ck_assert_ptr_nonnull(strstr(warn, "would violate PodSecurity \\\"restricted:latest\\\": "
		"allowPrivilegeEscalation != false (container \\\"c\\\""));
	/* no labels: anything goes, silently */
	ck_assert_int_eq(pod(t, "default", "hn", "{\"hostNetwork\":true,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}",
		NULL, 0, warn, sizeof(warn)), 201);
	ck_assert_str_eq(warn, "");
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_psa");
	TCase *tc = tcase_create("psa");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_restricted);
	tcase_add_test(tc, test_baseline_and_warn);
	suite_add_tcase(s, tc);
	return s;
}
