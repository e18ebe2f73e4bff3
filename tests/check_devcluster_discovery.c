/* check_devcluster_discovery.c: what kubectl reads before anything else:
 * discovery (/api, /apis, resource lists, CRDs appearing and going),
 * OpenAPI v2/v3 (documents, patch operations, CRD schemas, hashes), and
 * meta.k8s.io Table output for lists, objects and watches. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_ACCEPT "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define HS "/apis/peerop.io/v1alpha1/namespaces/default/httpservers"

/* The entry named name in an APIResourceList, or NULL. */
static json_t *resource(const json_t *list, const char *name)
{
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(list, "resources"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "name")), name))
			return r;
	return NULL;
}

static json_t *group(const json_t *list, const char *name)
{
	json_t *g;
	size_t i;
	json_array_foreach(json_object_get(list, "groups"), i, g)
		if (!strcmp(json_string_value(json_object_get(g, "name")), name))
			return g;
	return NULL;
}

static bool has_string(const json_t *arr, const char *s)
{
	json_t *v;
	size_t i;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

START_TEST(test_discovery_builtin)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *r;
	j = dct_call(t, &code, "GET", "/api", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "APIVersions");
	ck_assert(has_string(json_object_get(j, "versions"), "v1"));
	json_decref(j);

	j = dct_call(t, &code, "GET", "/api/v1", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "APIResourceList");
	ck_assert_str_eq(json_string_value(json_object_get(j, "groupVersion")), "v1");
	r = resource(j, "configmaps");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "ConfigMap");
	ck_assert_str_eq(json_string_value(json_object_get(r, "singularName")), "configmap");
	ck_assert(json_is_true(json_object_get(r, "namespaced")));
	ck_assert(has_string(json_object_get(r, "shortNames"), "cm"));
	ck_assert(has_string(json_object_get(r, "verbs"), "watch"));
	ck_assert(has_string(json_object_get(r, "verbs"), "deletecollection"));
	ck_assert(json_is_false(json_object_get(resource(j, "namespaces"), "namespaced")));
	ck_assert(has_string(json_object_get(resource(j, "pods"), "categories"), "all"));
	r = resource(j, "pods/status");
	ck_assert_ptr_nonnull(r);
	ck_assert(has_string(json_object_get(r, "verbs"), "patch"));
	ck_assert(!has_string(json_object_get(r, "verbs"), "list"));
	ck_assert_ptr_nonnull(resource(j, "pods/log"));
	ck_assert_ptr_null(resource(j, "configmaps/status"));
	json_decref(j);

	j = dct_call(t, &code, "GET", "/apis", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "APIGroupList");
	ck_assert_ptr_nonnull(group(j, "apps"));
	ck_assert_ptr_nonnull(group(j, "coordination.k8s.io"));
	ck_assert_ptr_nonnull(group(j, "events.k8s.io"));
	ck_assert_ptr_nonnull(group(j, "apiextensions.k8s.io"));
	ck_assert_ptr_null(group(j, ""));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(group(j, "apps"), "preferredVersion"),
		"groupVersion")), "apps/v1");
	json_decref(j);

	j = dct_call(t, &code, "GET", "/apis/apps/v1", NULL);
	ck_assert_int_eq(code, 200);
	r = resource(j, "deployments/scale");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(r, "group")), "autoscaling");
	ck_assert_str_eq(json_string_value(json_object_get(r, "version")), "v1");
	ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "Scale");
	ck_assert_ptr_nonnull(resource(j, "deployments/status"));
	json_decref(j);

	j = dct_call(t, &code, "GET", "/apis/apps", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "APIGroup");
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/nope.example/v1", NULL);
	ck_assert_int_eq(code, 404);
	ck_assert_str_eq(dct_reason(j), "NotFound");
	json_decref(j);
	j = dct_call(t, &code, "GET", "/api/v2", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis", "{}");
	ck_assert_int_eq(code, 405);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_discovery_follows_crds)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *r, *want;
	j = dct_call(t, &code, "GET", "/apis", NULL);
	ck_assert_ptr_null(group(j, "peerop.io"));
	json_decref(j);
	dct_make_crd(t);
	/* at once: no wait */
	j = dct_call(t, &code, "GET", "/apis", NULL);
	ck_assert_ptr_nonnull(group(j, "peerop.io"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(group(j, "peerop.io"), "preferredVersion"),
		"version")), "v1alpha1");
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/peerop.io/v1alpha1", NULL);
	ck_assert_int_eq(code, 200);
	r = resource(j, "httpservers");
	ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "HTTPServer");
	ck_assert_str_eq(json_string_value(json_object_get(r, "singularName")), "httpserver");
	ck_assert(has_string(json_object_get(r, "shortNames"), "hs"));
	ck_assert(json_is_true(json_object_get(r, "namespaced")));
	ck_assert_ptr_nonnull(resource(j, "httpservers/status"));
	r = json_deep_copy(resource(j, "httpservers/scale"));
	ck_assert_ptr_nonnull(r);
	json_object_del(r, "verbs");
	json_object_del(r, "singularName");
	json_object_del(r, "namespaced");
	want = json_pack("{s:s,s:s,s:s,s:s}", "name", "httpservers/scale", "group", "autoscaling",
		"version", "v1", "kind", "Scale");
	ck_assert_msg(json_equal(r, want), "scale entry: %s", json_dumps(r, 0));
	json_decref(want);
	json_decref(r);
	json_decref(j);

	/* a multi-version CRD: versions in Kubernetes priority order */
	j = dct_call(t, &code, "POST", CRDS, "{\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{"
		"\"group\":\"example.com\",\"scope\":\"Cluster\",\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"},"
		"\"versions\":[{\"name\":\"v1alpha2\",\"served\":true,\"storage\":false},"
		"{\"name\":\"v1beta1\",\"served\":true,\"storage\":false},{\"name\":\"v1\",\"served\":true,\"storage\":true},"
		"{\"name\":\"v2alpha1\",\"served\":true,\"storage\":false}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/example.com", NULL);
	ck_assert_int_eq(code, 200);
	r = json_object_get(j, "versions");
	ck_assert_int_eq(json_array_size(r), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "version")), "v1");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 1), "version")), "v1beta1");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 2), "version")), "v2alpha1");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 3), "version")), "v1alpha2");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "preferredVersion"), "groupVersion")),
		"example.com/v1");
	json_decref(j);

	j = dct_call(t, &code, "DELETE", CRDS "/httpservers.peerop.io", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis", NULL);
	ck_assert_ptr_null(group(j, "peerop.io"));
	ck_assert_ptr_nonnull(group(j, "example.com"));
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/peerop.io/v1alpha1", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_version_priority)
{
	ck_assert_int_lt(dc_version_compare("v1", "v1beta1"), 0);
	ck_assert_int_lt(dc_version_compare("v2", "v1"), 0);
	ck_assert_int_lt(dc_version_compare("v1beta2", "v1beta1"), 0);
	ck_assert_int_lt(dc_version_compare("v1beta1", "v1alpha1"), 0);
	ck_assert_int_lt(dc_version_compare("v12alpha1", "v10alpha3"), 0);
	ck_assert_int_lt(dc_version_compare("v1alpha1", "foo"), 0);
	ck_assert_int_lt(dc_version_compare("bar", "foo"), 0);
	ck_assert_int_gt(dc_version_compare("v1beta0", "v1alpha1"), 0); /* not a Kube version */
	ck_assert_int_eq(dc_version_compare("v3", "v3"), 0);
}
END_TEST

/* ---- OpenAPI ---- */

/* Every "$ref" in doc names a component of doc. */
static void check_refs(const json_t *doc, const json_t *node)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			check_refs(doc, v);
	} else if (json_is_object(node)) {
		json_object_foreach((json_t *)node, k, v) {
			if (!strcmp(k, "$ref")) {
				const char *ref = json_string_value(v);
				ck_assert_ptr_nonnull(ref);
				ck_assert_msg(!strncmp(ref, "#/components/schemas/", 21), "ref %s", ref);
				ck_assert_msg(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
					ref + 21) != NULL, "dangling $ref %s", ref);
			} else {
				check_refs(doc, v);
			}
		}
	}
}

/* The patch operation for gvk, as kubectl's field validation check finds it. */
static json_t *patch_op(const json_t *doc, const char *group, const char *version, const char *kind)
{
	const char *path;
	json_t *p;
	json_object_foreach(json_object_get(doc, "paths"), path, p) {
		json_t *op = json_object_get(p, "patch"), *gvk = json_object_get(op, "x-kubernetes-group-version-kind");
		if (op && !strcmp(json_string_value(json_object_get(gvk, "group")), group) &&
		    !strcmp(json_string_value(json_object_get(gvk, "version")), version) &&
		    !strcmp(json_string_value(json_object_get(gvk, "kind")), kind) && !strstr(path, "/status"))
			return op;
	}
	return NULL;
}

static bool has_query_param(const json_t *op, const char *name)
{
	json_t *p;
	size_t i;
	json_array_foreach(json_object_get(op, "parameters"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "name")), name) &&
		    !strcmp(json_string_value(json_object_get(p, "in")), "query"))
			return true;
	return false;
}

static json_t *fetch_doc(dct *t, const json_t *root, const char *key)
{
	const char *url = json_string_value(json_object_get(json_object_get(json_object_get(root, "paths"), key),
		"serverRelativeURL"));
	long code;
	json_t *doc;
	ck_assert_msg(url != NULL, "no %s in /openapi/v3", key);
	doc = dct_call(t, &code, "GET", url, NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.0");
	check_refs(doc, doc);
	return doc;
}

START_TEST(test_openapi_v2)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	t->accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
	dct_req(t, &r, "GET", "/openapi/v2", NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(r.content_type, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
	ck_assert_str_eq(r.body, "");
	dct_resp_free(&r);
	dct_req(t, &r, "GET", "/openapi/v4", NULL, NULL);
	ck_assert_int_eq(r.code, 404);
	dct_resp_free(&r);
	dct_req(t, &r, "GET", "/openapi/v3/apis/nope/v1", NULL, NULL);
	ck_assert_int_eq(r.code, 404);
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

START_TEST(test_openapi_v3_builtin)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *root = dct_call(t, &code, "GET", "/openapi/v3", NULL), *doc, *op, *schemas;
	const char *url;
	ck_assert_int_eq(code, 200);
	url = json_string_value(json_object_get(json_object_get(json_object_get(root, "paths"), "api/v1"),
		"serverRelativeURL"));
	ck_assert_ptr_nonnull(url);
	ck_assert_msg(!strncmp(url, "/openapi/v3/api/v1?hash=", 24), "%s", url);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(root, "paths"), "apis/apps/v1"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(root, "paths"), "apis/apiextensions.k8s.io/v1"));

	doc = fetch_doc(t, root, "api/v1");
	op = patch_op(doc, "", "v1", "ConfigMap");
	ck_assert_ptr_nonnull(op);
	ck_assert(has_query_param(op, "fieldValidation"));
	ck_assert(has_query_param(op, "fieldManager"));
	ck_assert(has_query_param(op, "force"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
		"application/strategic-merge-patch+json"));
	schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	ck_assert_ptr_nonnull(json_object_get(schemas, "io.k8s.api.core.v1.ConfigMap"));
	ck_assert_ptr_nonnull(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
	ck_assert_ptr_nonnull(patch_op(doc, "", "v1", "Pod"));
	json_decref(doc);

	doc = fetch_doc(t, root, "apis/apps/v1");
	op = patch_op(doc, "apps", "v1", "Deployment");
	ck_assert(has_query_param(op, "fieldValidation"));
	schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	/* what strategic merge patch reads: containers merge by name */
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(schemas,
		"io.k8s.api.core.v1.PodSpec"), "properties"), "containers"), "x-kubernetes-patch-merge-key")), "name");
	ck_assert_ptr_nonnull(json_object_get(schemas, "io.k8s.api.autoscaling.v1.Scale"));
	json_decref(doc);
	json_decref(root);
	dct_stop(t);
}
END_TEST

START_TEST(test_openapi_v3_crd)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *root, *doc, *op, *hs, *replicas, *j;
	char *url1;
	root = dct_call(t, &code, "GET", "/openapi/v3", NULL);
	ck_assert_ptr_null(json_object_get(json_object_get(root, "paths"), "apis/peerop.io/v1alpha1"));
	json_decref(root);
	dct_make_crd(t);
	root = dct_call(t, &code, "GET", "/openapi/v3", NULL);
	doc = fetch_doc(t, root, "apis/peerop.io/v1alpha1");
	url1 = strdup(json_string_value(json_object_get(json_object_get(json_object_get(root, "paths"),
		"apis/peerop.io/v1alpha1"), "serverRelativeURL")));
	json_decref(root);
	op = patch_op(doc, "peerop.io", "v1alpha1", "HTTPServer");
	ck_assert_ptr_nonnull(op);
	ck_assert(has_query_param(op, "fieldValidation"));
	/* custom resources take no strategic merge patch */
	ck_assert_ptr_null(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
		"application/strategic-merge-patch+json"));
	ck_assert_ptr_nonnull(patch_op(doc, "autoscaling", "v1", "Scale"));
	hs = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "io.peerop.v1alpha1.HTTPServer");
	ck_assert_ptr_nonnull(hs);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(hs,
		"x-kubernetes-group-version-kind"), 0), "kind")), "HTTPServer");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dc_json_path(hs, "properties.metadata.allOf"), 0),
		"$ref")), "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	replicas = dc_json_path(hs, "properties.spec.properties.replicas");
	ck_assert_int_eq(json_integer_value(json_object_get(replicas, "minimum")), 0);
	ck_assert_ptr_nonnull(json_object_get(replicas, "description"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
		"io.peerop.v1alpha1.HTTPServerList"));
	json_decref(doc);

	/* a changed CRD is a new document under a new hash */
	j = dct_patch(t, &code, CRDS "/httpservers.peerop.io", "application/json-patch+json",
		"[{\"op\":\"add\",\"path\":\"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/extra\","
		"\"value\":{\"type\":\"string\",\"description\":\"added\"}}]");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	root = dct_call(t, &code, "GET", "/openapi/v3", NULL);
	ck_assert_str_ne(json_string_value(json_object_get(json_object_get(json_object_get(root, "paths"),
		"apis/peerop.io/v1alpha1"), "serverRelativeURL")), url1);
	doc = fetch_doc(t, root, "apis/peerop.io/v1alpha1");
	ck_assert_ptr_nonnull(dc_json_path(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
		"io.peerop.v1alpha1.HTTPServer"), "properties.spec.properties.extra"));
	json_decref(doc);
	json_decref(root);

	j = dct_call(t, &code, "DELETE", CRDS "/httpservers.peerop.io", NULL);
	json_decref(j);
	j = dct_call(t, &code, "GET", "/openapi/v3/apis/peerop.io/v1alpha1", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	free(url1);
	dct_stop(t);
}
END_TEST

/* ---- tables ---- */

static json_t *col_names(const json_t *table)
{
	json_t *a = json_array(), *c;
	size_t i;
	json_array_foreach(json_object_get(table, "columnDefinitions"), i, c)
		json_array_append(a, json_object_get(c, "name"));
	return a;
}

static void assert_columns(const json_t *table, const char *want_json)
{
	json_t *got = col_names(table), *want = json_loads(want_json, 0, NULL);
	char *g = json_dumps(got, JSON_COMPACT);
	ck_assert_msg(json_equal(got, want), "columns %s, want %s", g, want_json);
	free(g);
	json_decref(got);
	json_decref(want);
}

static json_t *table_get(dct *t, const char *path)
{
	dct_resp r;
	json_t *j;
	t->accept = TABLE_ACCEPT;
	dct_req(t, &r, "GET", path, NULL, NULL);
	t->accept = NULL;
	ck_assert_msg(r.code == 200, "%s: %ld %s", path, r.code, r.body);
	ck_assert_str_eq(r.content_type, "application/json;as=Table;v=v1;g=meta.k8s.io");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "Table");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "apiVersion")), "meta.k8s.io/v1");
	j = json_incref(r.json);
	dct_resp_free(&r);
	return j;
}

static json_t *cell(const json_t *table, size_t row, size_t col)
{
	return json_array_get(json_object_get(json_array_get(json_object_get(table, "rows"), row), "cells"), col);
}

START_TEST(test_table_builtin_types)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *tab, *obj;
	dct_resp r;

	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/configmaps",
		"{\"metadata\":{\"name\":\"cm1\",\"labels\":{\"a\":\"b\"}},\"data\":{\"x\":\"1\",\"y\":\"2\"},\"binaryData\":{\"z\":\"AA==\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	tab = table_get(t, "/api/v1/namespaces/default/configmaps");
	assert_columns(tab, "[\"Name\",\"Data\",\"Age\"]");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(tab, "columnDefinitions"), 0),
		"format")), "name");
	ck_assert_ptr_nonnull(dc_json_path(tab, "metadata.resourceVersion"));
	ck_assert_int_eq(json_array_size(json_object_get(tab, "rows")), 1);
	ck_assert_str_eq(json_string_value(cell(tab, 0, 0)), "cm1");
	ck_assert_int_eq(json_integer_value(cell(tab, 0, 1)), 3);
	ck_assert(json_string_value(cell(tab, 0, 2))[strlen(json_string_value(cell(tab, 0, 2))) - 1] == 's');
	obj = json_object_get(json_array_get(json_object_get(tab, "rows"), 0), "object");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "PartialObjectMetadata");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "apiVersion")), "meta.k8s.io/v1");
	ck_assert_str_eq(dc_json_str(obj, "metadata.labels.a"), "b");
	ck_assert_ptr_null(json_object_get(obj, "data"));
	json_decref(tab);

	tab = table_get(t, "/api/v1/namespaces/default/configmaps?includeObject=Object");
	obj = json_object_get(json_array_get(json_object_get(tab, "rows"), 0), "object");
	ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
	ck_assert_str_eq(dc_json_str(obj, "data.x"), "1");
	json_decref(tab);
	tab = table_get(t, "/api/v1/namespaces/default/configmaps?includeObject=None");
	ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(tab, "rows"), 0), "object"));
	json_decref(tab);
	t->accept = TABLE_ACCEPT;
	dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps?includeObject=All", NULL, NULL);
	ck_assert_int_eq(r.code, 400);
	dct_resp_free(&r);
	/* the first acceptable type wins: plain JSON listed first gives a List */
	t->accept = "application/json, application/json;as=Table;v=v1;g=meta.k8s.io";
	dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "ConfigMapList");
	dct_resp_free(&r);
	/* protobuf first (client-go's typed clients): served as JSON */
	t->accept = "application/vnd.kubernetes.protobuf,application/json";
	dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps/cm1", NULL, NULL);
	ck_assert_str_eq(r.content_type, "application/json");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "ConfigMap");
	dct_resp_free(&r);
	t->accept = NULL;
	/* one object */
	tab = table_get(t, "/api/v1/namespaces/default/configmaps/cm1");
	ck_assert_int_eq(json_array_size(json_object_get(tab, "rows")), 1);
	json_decref(tab);
	/* errors stay Status objects */
	t->accept = TABLE_ACCEPT;
	dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps/nope", NULL, NULL);
	ck_assert_int_eq(r.code, 404);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "Status");
	dct_resp_free(&r);
	t->accept = NULL;

	j = dct_call(t, &code, "POST", "/apis/apps/v1/namespaces/default/deployments",
		"{\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"d\"}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"},"
		"{\"name\":\"s\",\"image\":\"busybox\"}]}}}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_patch(t, &code, "/apis/apps/v1/namespaces/default/deployments/d/status", "application/merge-patch+json",
		"{\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":1}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	tab = table_get(t, "/apis/apps/v1/namespaces/default/deployments");
	assert_columns(tab, "[\"Name\",\"Ready\",\"Up-to-date\",\"Available\",\"Age\",\"Containers\",\"Images\",\"Selector\"]");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(tab, "columnDefinitions"), 5),
		"priority")), 1);
	ck_assert_str_eq(json_string_value(cell(tab, 0, 1)), "2/3");
	ck_assert_int_eq(json_integer_value(cell(tab, 0, 2)), 3);
	ck_assert_int_eq(json_integer_value(cell(tab, 0, 3)), 1);
	ck_assert_str_eq(json_string_value(cell(tab, 0, 5)), "c,s");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 6)), "nginx,busybox");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 7)), "app=d");
	json_decref(tab);

	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/pods",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_patch(t, &code, "/api/v1/namespaces/default/pods/p/status", "application/merge-patch+json",
		"{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.2.3\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":2,\"state\":{\"running\":{}}},"
		"{\"name\":\"b\",\"ready\":false,\"restartCount\":1,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	tab = table_get(t, "/api/v1/namespaces/default/pods");
	assert_columns(tab, "[\"Name\",\"Ready\",\"Status\",\"Restarts\",\"Age\",\"IP\",\"Node\",\"Nominated Node\",\"Readiness Gates\"]");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 1)), "1/2");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 2)), "CrashLoopBackOff");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 3)), "3");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 5)), "10.1.2.3");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 6)), "<none>");
	json_decref(tab);

	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/services",
		"{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"NodePort\",\"selector\":{\"b\":\"2\",\"a\":\"1\"},\"ports\":["
		"{\"port\":80},{\"port\":443,\"nodePort\":30443,\"protocol\":\"TCP\"}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	tab = table_get(t, "/api/v1/namespaces/default/services");
	assert_columns(tab, "[\"Name\",\"Type\",\"Cluster-IP\",\"External-IP\",\"Port(s)\",\"Age\",\"Selector\"]");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 1)), "NodePort");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 3)), "<none>");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 4)), "80/TCP,443:30443/TCP");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 6)), "a=1,b=2");
	json_decref(tab);

	tab = table_get(t, "/api/v1/namespaces");
	assert_columns(tab, "[\"Name\",\"Status\",\"Age\"]");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 1)), "Active");
	json_decref(tab);
	tab = table_get(t, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
	assert_columns(tab, "[\"Name\",\"Created At\"]");
	json_decref(tab);
	dct_stop(t);
}
END_TEST

START_TEST(test_table_paging)
{
	dct *t = dct_start(NULL, false);
	char name[32], path[256];
	json_t *tab;
	const char *cont;
	int i;
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "cm%d", i);
		free(dct_make_cm(t, "default", name, NULL));
	}
	tab = table_get(t, "/api/v1/namespaces/default/configmaps?limit=2");
	ck_assert_int_eq(json_array_size(json_object_get(tab, "rows")), 2);
	cont = dc_json_str(tab, "metadata.continue");
	ck_assert_ptr_nonnull(cont);
	ck_assert_int_eq(json_integer_value(dc_json_path(tab, "metadata.remainingItemCount")), 3);
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=10&continue=%s", cont);
	json_decref(tab);
	tab = table_get(t, path);
	ck_assert_int_eq(json_array_size(json_object_get(tab, "rows")), 3);
	ck_assert_str_eq(json_string_value(cell(tab, 0, 0)), "cm2");
	ck_assert_ptr_null(dc_json_str(tab, "metadata.continue"));
	json_decref(tab);
	dct_stop(t);
}
END_TEST

START_TEST(test_table_crd_columns)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j, *tab, *c;
	dct_make_crd(t);
	j = dct_call(t, &code, "POST", HS, "{\"apiVersion\":\"peerop.io/v1alpha1\",\"kind\":\"HTTPServer\","
		"\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	tab = table_get(t, HS);
	assert_columns(tab, "[\"Name\",\"Replicas\",\"Ready\",\"Peers\",\"Status\",\"Image\",\"Age\"]");
	c = json_object_get(tab, "columnDefinitions");
	ck_assert_str_eq(dc_json_str(json_array_get(c, 1), "type"), "integer");
	ck_assert_str_eq(dc_json_str(json_array_get(c, 1), "description"), "The number of servers asked for.");
	ck_assert_str_eq(dc_json_str(json_array_get(c, 6), "type"), "date");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 0)), "web");
	ck_assert_int_eq(json_integer_value(cell(tab, 0, 1)), 2);
	ck_assert(json_is_null(cell(tab, 0, 2)));   /* no status yet: <none> */
	ck_assert(json_string_value(cell(tab, 0, 6))[strlen(json_string_value(cell(tab, 0, 6))) - 1] == 's');
	json_decref(tab);
	j = dct_patch(t, &code, HS "/web/status", "application/merge-patch+json", "{\"status\":{\"readyReplicas\":1}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	tab = table_get(t, HS "/web");
	ck_assert_int_eq(json_integer_value(cell(tab, 0, 2)), 1);
	json_decref(tab);

	/* a CRD without columns: Name and Age; with a filter column */
	j = dct_call(t, &code, "POST", CRDS, "{\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{"
		"\"group\":\"example.com\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
		"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
		"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/example.com/v1/namespaces/default/gadgets",
		"{\"metadata\":{\"name\":\"g\"},\"spec\":{}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	tab = table_get(t, "/apis/example.com/v1/namespaces/default/gadgets");
	assert_columns(tab, "[\"Name\",\"Age\"]");
	json_decref(tab);
	j = dct_patch(t, &code, CRDS "/gadgets.example.com", "application/json-patch+json",
		"[{\"op\":\"add\",\"path\":\"/spec/versions/0/additionalPrinterColumns\",\"value\":["
		"{\"name\":\"Ready\",\"type\":\"string\",\"jsonPath\":\".status.conditions[?(@.type==\\\"Ready\\\")].status\"},"
		"{\"name\":\"Kinds\",\"type\":\"string\",\"jsonPath\":\".spec.items[*].kind\",\"priority\":1}]}]");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_patch(t, &code, "/apis/example.com/v1/namespaces/default/gadgets/g", "application/merge-patch+json",
		"{\"spec\":{\"items\":[{\"kind\":\"a\"},{\"kind\":\"b\"}]}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_patch(t, &code, "/apis/example.com/v1/namespaces/default/gadgets/g/status", "application/merge-patch+json",
		"{\"status\":{\"conditions\":[{\"type\":\"Synced\",\"status\":\"False\"},{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	tab = table_get(t, "/apis/example.com/v1/namespaces/default/gadgets");
	assert_columns(tab, "[\"Name\",\"Ready\",\"Kinds\"]");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 1)), "True");
	ck_assert_str_eq(json_string_value(cell(tab, 0, 2)), "a,b");
	json_decref(tab);
	dct_stop(t);
}
END_TEST

START_TEST(test_table_watch)
{
	dct *t = dct_start(NULL, false);
	dct_watch *w;
	json_t *ev, *o;
	char *rv = dct_make_cm(t, "default", "first", NULL);
	char path[256];
	long code;
	json_t *j;
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=%s", rv);
	t->accept = TABLE_ACCEPT;
	w = dct_watch_start(t, path);
	t->accept = NULL;
	free(dct_make_cm(t, "default", "a", NULL));
	free(dct_make_cm(t, "default", "b", NULL));
	j = dct_call(t, &code, "DELETE", "/api/v1/namespaces/default/configmaps/a", NULL);
	json_decref(j);
	ck_assert(dct_watch_wait(w, 3, 30000));
	ev = dct_watch_event(w, 0);
	ck_assert_str_eq(dct_ev_type(w, 0), "ADDED");
	o = json_object_get(ev, "object");
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "Table");
	ck_assert_int_eq(json_array_size(json_object_get(o, "columnDefinitions")), 3);
	ck_assert_int_eq(json_array_size(json_object_get(o, "rows")), 1);
	ck_assert_str_eq(json_string_value(cell(o, 0, 0)), "a");
	ck_assert_str_eq(dc_json_str(json_object_get(json_array_get(json_object_get(o, "rows"), 0), "object"),
		"metadata.name"), "a");
	/* later events leave the columns out (kubectl reuses the last ones) */
	o = json_object_get(dct_watch_event(w, 1), "object");
	ck_assert_int_eq(json_array_size(json_object_get(o, "columnDefinitions")), 0);
	ck_assert_str_eq(json_string_value(cell(o, 0, 0)), "b");
	ck_assert_str_eq(dct_ev_type(w, 2), "DELETED");
	o = json_object_get(dct_watch_event(w, 2), "object");
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "Table");
	ck_assert_str_eq(json_string_value(cell(o, 0, 0)), "a");
	dct_watch_stop(w);
	free(rv);
	dct_stop(t);
}
END_TEST

/* ---- units ---- */

static void jp(const char *expr, const char *doc, const char *want)
{
	json_t *d = json_loads(doc, 0, NULL), *out = json_array();
	char *got;
	ck_assert_int_eq(dc_jsonpath_eval(expr, d, out), 0);
	got = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_msg(!strcmp(got, want), "%s: got %s, want %s", expr, got, want);
	free(got);
	json_decref(out);
	json_decref(d);
}

START_TEST(test_jsonpath)
{
	json_t *out = json_array(), *d = json_object();
	jp(".spec.replicas", "{\"spec\":{\"replicas\":3}}", "[3]");
	jp("{.spec.replicas}", "{\"spec\":{\"replicas\":3}}", "[3]");
	jp(".spec.missing", "{\"spec\":{}}", "[]");
	jp(".a[1].b", "{\"a\":[{\"b\":1},{\"b\":2}]}", "[2]");
	jp(".a[-1].b", "{\"a\":[{\"b\":1},{\"b\":2}]}", "[2]");
	jp(".a[5].b", "{\"a\":[{\"b\":1}]}", "[]");
	jp(".a[*].b", "{\"a\":[{\"b\":1},{\"c\":0},{\"b\":3}]}", "[1,3]");
	jp(".metadata.labels['app.kubernetes.io/name']", "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\"}}}", "[\"x\"]");
	jp(".c[?(@.type==\"Ready\")].status", "{\"c\":[{\"type\":\"A\",\"status\":\"1\"},{\"type\":\"Ready\",\"status\":\"2\"}]}", "[\"2\"]");
	jp(".c[?(@.type!='Ready')].status", "{\"c\":[{\"type\":\"A\",\"status\":\"1\"},{\"type\":\"Ready\",\"status\":\"2\"}]}", "[\"1\"]");
	jp(".c[?(@.n==2)].v", "{\"c\":[{\"n\":1,\"v\":\"a\"},{\"n\":2,\"v\":\"b\"}]}", "[\"b\"]");
	jp(".c[?(@.on==true)].v", "{\"c\":[{\"on\":true,\"v\":\"a\"},{\"on\":false,\"v\":\"b\"}]}", "[\"a\"]");
	/* a number literal beyond any integer (found by fuzzing: converting it
	 * was undefined behaviour); and one that compares as a real */
	jp(".c[?(@.n==2222222222222222222222222222222222)].v", "{\"c\":[{\"n\":1,\"v\":\"a\"}]}", "[]");
	jp(".c[?(@.n==1e300)].v", "{\"c\":[{\"n\":1e300,\"v\":\"a\"}]}", "[\"a\"]");
	/* unsupported or malformed: an error, not a crash */
	ck_assert_int_ne(dc_jsonpath_eval("..spec", d, out), 0);
	ck_assert_int_ne(dc_jsonpath_eval(".a[", d, out), 0);
	ck_assert_int_ne(dc_jsonpath_eval(".a[?(@.x>1)]", d, out), 0);
	ck_assert_int_ne(dc_jsonpath_eval(".a['x", d, out), 0);
	ck_assert_int_ne(dc_jsonpath_eval(".a[?(@.x==\"unterminated)]", d, out), 0);
	ck_assert_int_ne(dc_jsonpath_eval(".a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g", d, out), 0);
	ck_assert_int_eq(json_array_size(out), 0);
	json_decref(out);
	json_decref(d);
}
END_TEST

static void hd(long long secs, const char *want)
{
	char buf[32];
	dc_human_duration(buf, sizeof(buf), secs);
	ck_assert_msg(!strcmp(buf, want), "%lld: %s, want %s", secs, buf, want);
}

START_TEST(test_human_duration)
{
	char buf[32];
	time_t t;
	hd(-5, "<invalid>");
	hd(-1, "0s");
	hd(0, "0s");
	hd(119, "119s");
	hd(120, "2m");
	hd(125, "2m5s");
	hd(600, "10m");
	hd(179 * 60 + 59, "179m");
	hd(3 * 3600, "3h");
	hd(3 * 3600 + 60, "3h1m");
	hd(8 * 3600, "8h");
	hd(47 * 3600, "47h");
	hd(48 * 3600, "2d");
	hd(49 * 3600, "2d1h");
	hd(8 * 86400, "8d");
	hd(729LL * 86400, "729d");
	hd(800LL * 86400, "2y70d");
	hd(730LL * 86400, "2y");
	hd(9LL * 365 * 86400, "9y");
	ck_assert(dc_parse_time("2026-01-02T03:04:05Z", &t));
	ck_assert_int_eq((long long)t, 1767323045LL);
	ck_assert(dc_parse_time("2026-01-02T03:04:05.123456Z", &t));
	ck_assert(!dc_parse_time("2026-01-02T03:04:05+01:00", &t));
	ck_assert(!dc_parse_time("yesterday", &t));
	ck_assert(!dc_parse_time(NULL, &t));
	dc_human_age(buf, sizeof(buf), "2026-01-02T03:04:05Z", 1767323045 + 3600);
	ck_assert_str_eq(buf, "60m");
	dc_human_age(buf, sizeof(buf), "garbage", 0);
	ck_assert_str_eq(buf, "<unknown>");
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_discovery");
	TCase *tc = tcase_create("discovery");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_discovery_builtin);
	tcase_add_test(tc, test_discovery_follows_crds);
	tcase_add_test(tc, test_version_priority);
	tcase_add_test(tc, test_openapi_v2);
	tcase_add_test(tc, test_openapi_v3_builtin);
	tcase_add_test(tc, test_openapi_v3_crd);
	tcase_add_test(tc, test_table_builtin_types);
	tcase_add_test(tc, test_table_paging);
	tcase_add_test(tc, test_table_crd_columns);
	tcase_add_test(tc, test_table_watch);
	tcase_add_test(tc, test_jsonpath);
	tcase_add_test(tc, test_human_duration);
	suite_add_tcase(s, tc);
	return s;
}
