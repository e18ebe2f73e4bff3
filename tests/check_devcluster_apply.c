/* check_devcluster_apply.c: server-side apply and field ownership: Apply
 * and Update managers in metadata.managedFields (fieldsV1), removal of
 * fields a manager stops applying, conflicts (409, FieldManagerConflict)
 * and force, list-map items, status and scale, managedFields written by
 * clients, and malformed or hostile apply bodies. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY "application/apply-patch+yaml"
#define HS "/apis/peerop.io/v1alpha1/namespaces/default/httpservers"
#define DEP "/apis/apps/v1/namespaces/default/deployments"

static const char *msg(const json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));
	return m ? m : "";
}

/* Apply body (YAML or JSON) as manager; returns the reply, *code. */
static json_t *apply(dct *t, long *code, const char *path, const char *manager, const char *extra, const char *body)
{
	char url[512];
	snprintf(url, sizeof(url), "%s?fieldManager=%s%s", path, manager, extra ? extra : "");
	return dct_patch(t, code, url, APPLY, body);
}

static json_t *entry(const json_t *obj, const char *manager, const char *operation)
{
	json_t *e;
	size_t i;
	json_array_foreach(dc_json_path(obj, "metadata.managedFields"), i, e)
		if (!strcmp(dc_json_str(e, "manager"), manager) && !strcmp(dc_json_str(e, "operation"), operation))
			return e;
	return NULL;
}

static void assert_fields(const json_t *obj, const char *manager, const char *operation, const char *want)
{
	json_t *e = entry(obj, manager, operation), *w = json_loads(want, 0, NULL);
	char *got = e ? json_dumps(json_object_get(e, "fieldsV1"), JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ck_assert_ptr_nonnull(w);
	ck_assert_msg(e != NULL, "no %s entry for %s", operation, manager);
	ck_assert_msg(json_equal(json_object_get(e, "fieldsV1"), w), "%s/%s: %s, want %s", manager, operation, got, want);
	ck_assert_str_eq(dc_json_str(e, "fieldsType"), "FieldsV1");
	ck_assert_ptr_nonnull(dc_json_str(e, "time"));
	ck_assert_ptr_nonnull(dc_json_str(e, "apiVersion"));
	free(got);
	json_decref(w);
}

static json_t *get(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL);
	ck_assert_int_eq(code, 200);
	return j;
}

START_TEST(test_apply_create_update_remove)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char *rv;
	dct_make_crd(t);
	/* YAML, creating the object */
	j = apply(t, &code, HS "/web", "alice", NULL,
		"apiVersion: peerop.io/v1alpha1\nkind: HTTPServer\nmetadata:\n  name: web\n  labels:\n    team: a\n"
		"    tier: front\nspec:\n  replicas: 2\n  resources:\n    limits:\n      cpu: \"1\"\n");
	ck_assert_msg(code == 201, "%ld %s", code, msg(j));
	ck_assert_str_eq(dc_json_str(j, "spec.resources.limits.cpu"), "1");
	ck_assert_str_eq(dc_json_str(j, "spec.logFormat"), "text"); /* defaulted, not owned */
	assert_fields(j, "alice", "Apply", "{\"f:metadata\":{\"f:labels\":{\"f:team\":{},\"f:tier\":{}}},"
		"\"f:spec\":{\"f:replicas\":{},\"f:resources\":{\"f:limits\":{\"f:cpu\":{}}}}}");
	ck_assert_int_eq(json_array_size(dc_json_path(j, "metadata.managedFields")), 1);
	rv = strdup(dc_json_str(j, "metadata.resourceVersion"));
	json_decref(j);
	/* the same again: no change, no new resourceVersion */
	j = apply(t, &code, HS "/web", "alice", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"metadata\":{\"name\":\"web\",\"labels\":"
		"{\"team\":\"a\",\"tier\":\"front\"}},\"spec\":{\"replicas\":2,\"resources\":{\"limits\":{\"cpu\":\"1\"}}}}");
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(dc_json_str(j, "metadata.resourceVersion"), rv);
	json_decref(j);
	free(rv);
	/* bob co-owns tier (same value: no conflict) */
	j = apply(t, &code, HS "/web", "bob", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"metadata\":{\"labels\":{\"tier\":\"front\"}}}");
	ck_assert_msg(code == 200, "%ld %s", code, msg(j));
	assert_fields(j, "bob", "Apply", "{\"f:metadata\":{\"f:labels\":{\"f:tier\":{}}}}");
	json_decref(j);
	/* alice stops applying tier, resources and team: tier stays (bob's), the others go */
	j = apply(t, &code, HS "/web", "alice", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3}}");
	ck_assert_msg(code == 200, "%ld %s", code, msg(j));
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 3);
	ck_assert_ptr_null(dc_json_path(j, "spec.resources"));
	ck_assert_ptr_null(dc_json_path(j, "metadata.labels.team"));
	ck_assert_str_eq(dc_json_str(j, "metadata.labels.tier"), "front");
	assert_fields(j, "alice", "Apply", "{\"f:spec\":{\"f:replicas\":{}}}");
	json_decref(j);
	/* an applier that gives up everything leaves the managers */
	j = apply(t, &code, HS "/web", "bob", NULL, "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\"}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(entry(j, "bob", "Apply"));
	ck_assert_ptr_null(dc_json_path(j, "metadata.labels.tier"));
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_apply_conflicts_and_force)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *c;
	dct_make_crd(t);
	j = apply(t, &code, HS "/web", "alice", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"metadata\":{\"name\":\"web\"},"
		"\"spec\":{\"replicas\":2,\"port\":9000}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = apply(t, &code, HS "/web", "bob", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"replicas\":5}}");
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(dct_reason(j), "Conflict");
	ck_assert_str_eq(msg(j), "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
	c = json_array_get(dc_json_path(j, "details.causes"), 0);
	ck_assert_str_eq(dc_json_str(c, "reason"), "FieldManagerConflict");
	ck_assert_str_eq(dc_json_str(c, "message"), "conflict with \"alice\"");
	ck_assert_str_eq(dc_json_str(c, "field"), ".spec.replicas");
	json_decref(j);
	j = apply(t, &code, HS "/web", "bob", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"replicas\":5,\"port\":9001}}");
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(msg(j), "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.port\n- .spec.replicas");
	ck_assert_int_eq(json_array_size(dc_json_path(j, "details.causes")), 2);
	json_decref(j);
	/* nothing changed */
	j = get(t, HS "/web");
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 2);
	json_decref(j);
	/* force takes the field */
	j = apply(t, &code, HS "/web", "bob", "&force=true",
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"replicas\":5}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 5);
	assert_fields(j, "alice", "Apply", "{\"f:spec\":{\"f:port\":{}}}");
	assert_fields(j, "bob", "Apply", "{\"f:spec\":{\"f:replicas\":{}}}");
	json_decref(j);
	/* an ordinary update takes fields too; then the applier conflicts with
	 * an Update manager, named with its version and time */
	j = dct_patch(t, &code, HS "/web?fieldManager=editor", "application/merge-patch+json", "{\"spec\":{\"port\":9100}}");
	ck_assert_int_eq(code, 200);
	assert_fields(j, "editor", "Update", "{\"f:spec\":{\"f:port\":{}}}");
	ck_assert_ptr_null(entry(j, "alice", "Apply")); /* alice owned only port */
	json_decref(j);
	j = apply(t, &code, HS "/web", "alice", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"port\":9000}}");
	ck_assert_int_eq(code, 409);
	ck_assert_ptr_nonnull(strstr(msg(j), "conflict with \"editor\" using peerop.io/v1alpha1 at 20"));
	ck_assert_ptr_nonnull(strstr(msg(j), ": .spec.port"));
	json_decref(j);
	/* the same value is no conflict: shared ownership */
	j = apply(t, &code, HS "/web", "alice", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"port\":9100}}");
	ck_assert_int_eq(code, 200);
	assert_fields(j, "alice", "Apply", "{\"f:spec\":{\"f:port\":{}}}");
	assert_fields(j, "editor", "Update", "{\"f:spec\":{\"f:port\":{}}}");
	json_decref(j);
	dct_stop(t);
}
END_TEST

static const char dep_alice[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,"
	"\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1\",\"ports\":[{\"containerPort\":80}]}]}}}}";

START_TEST(test_apply_list_maps)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *cs;
	j = apply(t, &code, DEP "/web", "alice", NULL, dep_alice);
	ck_assert_msg(code == 201, "%ld %s", code, msg(j));
	assert_fields(j, "alice", "Apply", "{\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},\"f:template\":{"
		"\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{"
		"\".\":{},\"f:image\":{},\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{"
		"\".\":{},\"f:containerPort\":{}}}}}}}}}");
	json_decref(j);
	/* bob adds a sidecar: both containers, each owned by its applier */
	j = apply(t, &code, DEP "/web", "bob", NULL,
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":{\"spec\":{\"containers\":"
		"[{\"name\":\"side\",\"image\":\"busybox\"}]}}}}");
	ck_assert_msg(code == 200, "%ld %s", code, msg(j));
	cs = dc_json_path(j, "spec.template.spec.containers");
	ck_assert_int_eq(json_array_size(cs), 2);
	ck_assert_str_eq(dc_json_str(json_array_get(cs, 0), "name"), "app");
	ck_assert_str_eq(dc_json_str(json_array_get(cs, 1), "name"), "side");
	json_decref(j);
	/* bob changing alice's image conflicts, item by item */
	j = apply(t, &code, DEP "/web", "bob", NULL,
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"template\":{\"spec\":{\"containers\":"
		"[{\"name\":\"side\",\"image\":\"busybox\"},{\"name\":\"app\",\"image\":\"nginx:2\"}]}}}}");
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(msg(j), "Apply failed with 1 conflict: conflict with \"alice\": "
		".spec.template.spec.containers[name=\"app\"].image");
	json_decref(j);
	/* bob drops his container: it goes; alice's stays */
	j = apply(t, &code, DEP "/web", "bob", NULL, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}");
	ck_assert_int_eq(code, 200);
	cs = dc_json_path(j, "spec.template.spec.containers");
	ck_assert_int_eq(json_array_size(cs), 1);
	ck_assert_str_eq(dc_json_str(json_array_get(cs, 0), "name"), "app");
	json_decref(j);
	/* atomic lists are replaced and owned whole (args) */
	j = apply(t, &code, DEP "/web", "alice", NULL,
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,"
		"\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1\",\"args\":[\"-a\",\"-b\"]}]}}}}");
	ck_assert_int_eq(code, 200);
	cs = json_array_get(dc_json_path(j, "spec.template.spec.containers"), 0);
	ck_assert_int_eq(json_array_size(json_object_get(cs, "args")), 2);
	ck_assert_ptr_null(json_object_get(cs, "ports")); /* no longer applied */
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_update_managers)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	/* create: fieldManager names the manager */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=creator",
		"{\"metadata\":{\"name\":\"cm\",\"labels\":{\"a\":\"1\"}},\"data\":{\"k\":\"v\"}}");
	ck_assert_int_eq(code, 201);
	assert_fields(j, "creator", "Update", "{\"f:data\":{\".\":{},\"f:k\":{}},\"f:metadata\":{\"f:labels\":{\".\":{},\"f:a\":{}}}}");
	ck_assert_ptr_null(dc_json_str(entry(j, "creator", "Update"), "subresource"));
	json_decref(j);
	/* no fieldManager: the User-Agent's product name */
	t->user_agent = "kubectl/v1.34.5 (linux/amd64) kubernetes/ebfac05";
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm", "application/merge-patch+json",
		"{\"data\":{\"k\":\"w\",\"n\":\"1\"}}");
	t->user_agent = NULL;
	ck_assert_int_eq(code, 200);
	assert_fields(j, "kubectl", "Update", "{\"f:data\":{\"f:k\":{},\"f:n\":{}}}");
	/* a member without children is {} (data itself is still creator's) */
	assert_fields(j, "creator", "Update", "{\"f:data\":{},\"f:metadata\":{\"f:labels\":{\".\":{},\"f:a\":{}}}}");
	json_decref(j);
	/* a field removed is nobody's */
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm?fieldManager=x", "application/merge-patch+json",
		"{\"metadata\":{\"labels\":{\"a\":null}}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(entry(j, "x", "Update"));
	assert_fields(j, "creator", "Update", "{\"f:data\":{},\"f:metadata\":{\"f:labels\":{}}}");
	json_decref(j);
	/* status writes: subresource status */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/pods?fieldManager=c",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	json_decref(j);
	j = dct_patch(t, &code, "/api/v1/namespaces/default/pods/p/status?fieldManager=kubelet", "application/merge-patch+json",
		"{\"status\":{\"phase\":\"Running\"}}");
	ck_assert_int_eq(code, 200);
	assert_fields(j, "kubelet", "Update", "{\"f:status\":{\"f:phase\":{}}}");
	ck_assert_str_eq(dc_json_str(entry(j, "kubelet", "Update"), "subresource"), "status");
	json_decref(j);
	/* scale: subresource scale, the replicas field */
	j = dct_call(t, &code, "POST", DEP "?fieldManager=alice", dep_alice);
	json_decref(j);
	j = dct_patch(t, &code, DEP "/web/scale?fieldManager=scaler", "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = get(t, DEP "/web");
	assert_fields(j, "scaler", "Update", "{\"f:spec\":{\"f:replicas\":{}}}");
	ck_assert_str_eq(dc_json_str(entry(j, "scaler", "Update"), "subresource"), "scale");
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_status_and_scale_apply)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	dct_make_crd(t);
	j = apply(t, &code, HS "/web", "op", NULL, "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	/* status through apply on /status; status in a main-resource apply is ignored */
	j = apply(t, &code, HS "/web/status", "controller", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{\"replicas\":9},\"status\":{\"readyReplicas\":1}}");
	ck_assert_msg(code == 200, "%ld %s", code, msg(j));
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "status.readyReplicas")), 1);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 1);
	assert_fields(j, "controller", "Apply", "{\"f:status\":{\"f:readyReplicas\":{}}}");
	ck_assert_str_eq(dc_json_str(entry(j, "controller", "Apply"), "subresource"), "status");
	json_decref(j);
	j = apply(t, &code, HS "/web", "op", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"spec\":{},\"status\":{\"readyReplicas\":7}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "status.readyReplicas")), 1);
	json_decref(j);
	/* status applies are validated */
	j = apply(t, &code, HS "/web/status", "controller", NULL,
		"{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\",\"status\":{\"readyReplicas\":\"x\"}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	/* scale */
	j = apply(t, &code, HS "/web/scale", "hpa", NULL,
		"{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"spec\":{\"replicas\":6}}");
	ck_assert_msg(code == 200, "%ld %s", code, msg(j));
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Scale");
	json_decref(j);
	j = get(t, HS "/web");
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 6);
	assert_fields(j, "hpa", "Apply", "{\"f:spec\":{\"f:replicas\":{}}}");
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_managed_fields_writes)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	char body[1024];
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=a",
		"{\"metadata\":{\"name\":\"cm\"},\"data\":{\"k\":\"v\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	/* [] is ignored */
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm", "application/merge-patch+json",
		"{\"metadata\":{\"managedFields\":[]}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_nonnull(entry(j, "a", "Update"));
	json_decref(j);
	/* a client's own list is taken (kubectl moves client-side apply's
	 * fields to its server-side manager this way) */
	snprintf(body, sizeof(body), "[{\"op\":\"replace\",\"path\":\"/metadata/managedFields\",\"value\":[{\"manager\":"
		"\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"v1\",\"time\":\"2026-01-01T00:00:00Z\",\"fieldsType\":"
		"\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:k\":{}}}}]}]");
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm?fieldManager=kubectl", "application/json-patch+json", body);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(entry(j, "a", "Update"));
	assert_fields(j, "kubectl", "Apply", "{\"f:data\":{\"f:k\":{}}}");
	ck_assert_str_eq(dc_json_str(entry(j, "kubectl", "Apply"), "time"), "2026-01-01T00:00:00Z");
	json_decref(j);
	/* malformed: refused, nothing changes */
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm", "application/merge-patch+json",
		"{\"metadata\":{\"managedFields\":[{\"manager\":\"x\",\"operation\":\"Delete\"}]}}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm", "application/merge-patch+json",
		"{\"metadata\":{\"managedFields\":\"all\"}}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	/* [{}] strips them */
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm", "application/merge-patch+json",
		"{\"metadata\":{\"managedFields\":[{}]}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(dc_json_path(j, "metadata.managedFields"));
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_apply_bad_requests)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	dct_resp r;
	peerop__buf b = PEEROP__BUF_INIT;
	size_t i;
	static const struct { const char *query, *body; long code; const char *needle; } cases[] = {
		{ "", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", 422, "fieldManager: Required value" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"managedFields\":[]}}", 400,
		  "managedFields must be nil" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}", 400, "the URL names a v1 ConfigMap" },
		{ "?fieldManager=m", "{\"kind\":\"ConfigMap\"}", 400, "must set apiVersion and kind" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"other\"}}", 400,
		  "does not match the name on the URL" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"namespace\":\"kube-system\"}}",
		  400, "namespace of the provided object" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":7}", 400, "metadata must be an object" },
		{ "?fieldManager=m", "[1, 2]", 400, "must be an object" },
		{ "?fieldManager=m", "apiVersion: v1\nkind: [\n", 400, "yaml: line" },
		{ "?fieldManager=m", "", 400, "empty" },
		{ "?fieldManager=m", "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: ConfigMap\n", 400,
		  "more than one document" },
		{ "?fieldManager=m", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"1\"}}", 409,
		  "the object has been modified" },
	};
	free(dct_make_cm(t, "default", "cm", NULL));
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		char url[256];
		snprintf(url, sizeof(url), "/api/v1/namespaces/default/configmaps/cm%s", cases[i].query);
		j = dct_patch(t, &code, url, APPLY, cases[i].body);
		ck_assert_msg(code == cases[i].code, "case %zu: %ld %s", i, code, msg(j));
		ck_assert_msg(strstr(msg(j), cases[i].needle) != NULL, "case %zu: \"%s\"", i, msg(j));
		json_decref(j);
	}
	/* hostile YAML: billion laughs, deep nesting, a huge document */
	peerop__buf_puts(&b, "apiVersion: v1\nkind: ConfigMap\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
	for (i = 1; i < 9; i++)
		peerop__buf_printf(&b, "x%zu: &x%zu [*x%zu, *x%zu, *x%zu, *x%zu, *x%zu, *x%zu, *x%zu, *x%zu, *x%zu, *x%zu]\n",
			i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	j = apply(t, &code, "/api/v1/namespaces/default/configmaps/cm", "m", NULL, b.ptr);
	ck_assert_int_eq(code, 400);
	ck_assert_ptr_nonnull(strstr(msg(j), "too large"));
	json_decref(j);
	peerop__buf_clear(&b);
	peerop__buf_puts(&b, "apiVersion: v1\nkind: ConfigMap\ndata: ");
	for (i = 0; i < 10000; i++)
		peerop__buf_putc(&b, '[');
	j = apply(t, &code, "/api/v1/namespaces/default/configmaps/cm", "m", NULL, b.ptr);
	ck_assert_int_eq(code, 400);
	json_decref(j);
	peerop__buf_clear(&b);
	/* over the body limit: 413 before any parsing */
	peerop__buf_puts(&b, "apiVersion: v1\nkind: ConfigMap\ndata:\n");
	while (b.len < 4u * 1024 * 1024)
		peerop__buf_printf(&b, "  k%zu: %s\n", b.len, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	dct_req_ex(t, &r, "PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=m", APPLY, b.ptr, b.len, NULL);
	ck_assert_int_eq(r.code, 413);
	dct_resp_free(&r);
	peerop__buf_dispose(&b);
	/* force is for apply only */
	j = dct_patch(t, &code, "/api/v1/namespaces/default/configmaps/cm?force=true", "application/merge-patch+json", "{}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	/* a missing namespace, a missing object's subresource */
	j = apply(t, &code, "/api/v1/namespaces/ghost/configmaps/x", "m", NULL, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}");
	ck_assert_int_eq(code, 404);
	json_decref(j);
	j = apply(t, &code, "/api/v1/namespaces/default/pods/ghost/status", "m", NULL, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}");
	ck_assert_int_eq(code, 404);
	json_decref(j);
	/* dry run: answered, not stored */
	j = apply(t, &code, "/api/v1/namespaces/default/configmaps/dry", "m", "&dryRun=All",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "GET", "/api/v1/namespaces/default/configmaps/dry", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_apply");
	TCase *tc = tcase_create("apply");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_apply_create_update_remove);
	tcase_add_test(tc, test_apply_conflicts_and_force);
	tcase_add_test(tc, test_apply_list_maps);
	tcase_add_test(tc, test_update_managers);
	tcase_add_test(tc, test_status_and_scale_apply);
	tcase_add_test(tc, test_managed_fields_writes);
	tcase_add_test(tc, test_apply_bad_requests);
	suite_add_tcase(s, tc);
	return s;
}
