/* check_devcluster_crud.c: probes, auth, and create/get/update/patch/delete
 * semantics of the devcluster API server, over real HTTP on loopback. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdlib.h>
#include <string.h>

#define CM "/api/v1/namespaces/default/configmaps"

static const char *meta_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

START_TEST(test_probes_version_auth)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	dct_req_ex(t, &r, "GET", "/version", NULL, NULL, 0, "");
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "major")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "minor")), "32");
	ck_assert_ptr_nonnull(json_object_get(r.json, "gitVersion"));
	dct_resp_free(&r);
	dct_req_ex(t, &r, "GET", "/healthz", NULL, NULL, 0, "");
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(r.body, "ok");
	dct_resp_free(&r);
	dct_req_ex(t, &r, "GET", "/readyz", NULL, NULL, 0, "");
	ck_assert_int_eq(r.code, 200);
	dct_resp_free(&r);
	dct_req_ex(t, &r, "GET", "/livez", NULL, NULL, 0, "");
	ck_assert_int_eq(r.code, 200);
	dct_resp_free(&r);
	/* no token, a wrong token, a token of the right length but wrong */
	dct_req_ex(t, &r, "GET", CM, NULL, NULL, 0, "");
	ck_assert_int_eq(r.code, 401);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "Status");
	ck_assert_str_eq(dct_reason(r.json), "Unauthorized");
	dct_resp_free(&r);
	dct_req_ex(t, &r, "GET", CM, NULL, NULL, 0, "nope");
	ck_assert_int_eq(r.code, 401);
	dct_resp_free(&r);
	{
		char *bad = strdup(t->token);
		bad[0] = bad[0] == 'a' ? 'b' : 'a';
		dct_req_ex(t, &r, "GET", CM, NULL, NULL, 0, bad);
		ck_assert_int_eq(r.code, 401);
		dct_resp_free(&r);
		free(bad);
	}
	dct_req(t, &r, "GET", CM, NULL, NULL);
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), "ConfigMapList");
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

START_TEST(test_initial_namespaces)
{
	dct *t = dct_start(NULL, false);
	static const char *const ns[] = { "default", "kube-system", "kube-public", "kube-node-lease" };
	size_t i;
	long code;
	for (i = 0; i < 4; i++) {
		char path[128];
		json_t *j;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns[i]);
		j = dct_call(t, &code, "GET", path, NULL);
		ck_assert_int_eq(code, 200);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "phase")), "Active");
		json_decref(j);
	}
	dct_stop(t);
}
END_TEST

START_TEST(test_create_get_metadata)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *a, *b, *g;
	a = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"one\",\"resourceVersion\":\"999\",\"uid\":\"x\"},\"data\":{\"a\":\"1\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(a, "kind")), "ConfigMap");
	ck_assert_str_eq(json_string_value(json_object_get(a, "apiVersion")), "v1");
	ck_assert_str_eq(meta_str(a, "namespace"), "default");
	ck_assert_int_eq(strlen(meta_str(a, "uid")), 36);      /* the server's uid, not the client's */
	ck_assert_ptr_nonnull(meta_str(a, "creationTimestamp"));
	ck_assert_str_ne(meta_str(a, "resourceVersion"), "999");
	b = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"two\"}}");
	ck_assert_int_eq(code, 201);
	/* one global counter: different and increasing (opaque to clients, but
	 * this server's are decimal) */
	ck_assert(strtoull(meta_str(b, "resourceVersion"), NULL, 10) > strtoull(meta_str(a, "resourceVersion"), NULL, 10));
	ck_assert_str_ne(meta_str(a, "uid"), meta_str(b, "uid"));
	g = dct_call(t, &code, "GET", CM "/one", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert(json_equal(a, g));
	json_decref(g);
	/* AlreadyExists */
	g = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"one\"}}");
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(dct_reason(g), "AlreadyExists");
	ck_assert_str_eq(json_string_value(json_object_get(g, "message")), "configmaps \"one\" already exists");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g, "details"), "kind")), "configmaps");
	json_decref(g);
	/* NotFound, with details */
	g = dct_call(t, &code, "GET", CM "/nope", NULL);
	ck_assert_int_eq(code, 404);
	ck_assert_str_eq(dct_reason(g), "NotFound");
	ck_assert_str_eq(json_string_value(json_object_get(g, "status")), "Failure");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g, "details"), "name")), "nope");
	ck_assert_int_eq(json_integer_value(json_object_get(g, "code")), 404);
	json_decref(g);
	json_decref(a);
	json_decref(b);
	dct_stop(t);
}
END_TEST

START_TEST(test_namespace_checks_and_names)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/ghost/configmaps", "{\"metadata\":{\"name\":\"x\"}}");
	ck_assert_int_eq(code, 404);
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "namespaces \"ghost\" not found");
	json_decref(j);
	j = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"Bad_Name\"}}");
	ck_assert_int_eq(code, 422);
	ck_assert_str_eq(dct_reason(j), "Invalid");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "message")), "metadata.name"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "details"), "kind")), "ConfigMap");
	json_decref(j);
	j = dct_call(t, &code, "POST", CM, "{\"metadata\":{}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	/* the namespace in the body must match the URL */
	j = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"x\",\"namespace\":\"kube-system\"}}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	/* kind must match */
	j = dct_call(t, &code, "POST", CM, "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	/* generateName */
	j = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"generateName\":\"gen-\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(strncmp(meta_str(j, "name"), "gen-", 4), 0);
	ck_assert_int_eq(strlen(meta_str(j, "name")), 9);
	json_decref(j);
	/* a new namespace, then content in it */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"team-a\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "phase")), "Active");
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/team-a/configmaps", "{\"metadata\":{\"name\":\"x\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	/* a namespace name must be an RFC 1123 label */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"a.b\"}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_update_conflict_noop)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *a, *b, *c;
	char body[512];
	a = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"u\"},\"data\":{\"a\":\"1\"}}");
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"u\",\"resourceVersion\":\"%s\"},\"data\":{\"a\":\"2\"}}",
		meta_str(a, "resourceVersion"));
	b = dct_call(t, &code, "PUT", CM "/u", body);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "data"), "a")), "2");
	ck_assert_str_eq(meta_str(b, "uid"), meta_str(a, "uid"));
	ck_assert_str_eq(meta_str(b, "creationTimestamp"), meta_str(a, "creationTimestamp"));
	/* the same stale resourceVersion again: 409 Conflict */
	c = dct_call(t, &code, "PUT", CM "/u", body);
	ck_assert_int_eq(code, 409);
	ck_assert_str_eq(dct_reason(c), "Conflict");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(c, "message")), "the object has been modified"));
	json_decref(c);
	/* without a resourceVersion: unconditional */
	c = dct_call(t, &code, "PUT", CM "/u", "{\"metadata\":{\"name\":\"u\"},\"data\":{\"a\":\"3\"}}");
	ck_assert_int_eq(code, 200);
	json_decref(c);
	/* a write that changes nothing keeps the resourceVersion */
	c = dct_call(t, &code, "PUT", CM "/u", "{\"metadata\":{\"name\":\"u\"},\"data\":{\"a\":\"3\"}}");
	ck_assert_int_eq(code, 200);
	{
		json_t *d = dct_call(t, &code, "GET", CM "/u", NULL);
		ck_assert_str_eq(meta_str(c, "resourceVersion"), meta_str(d, "resourceVersion"));
		json_decref(d);
	}
	json_decref(c);
	/* name mismatch, missing object */
	c = dct_call(t, &code, "PUT", CM "/u", "{\"metadata\":{\"name\":\"other\"}}");
	ck_assert_int_eq(code, 400);
	json_decref(c);
	c = dct_call(t, &code, "PUT", CM "/missing", "{\"metadata\":{\"name\":\"missing\"}}");
	ck_assert_int_eq(code, 404);
	json_decref(c);
	json_decref(a);
	json_decref(b);
	dct_stop(t);
}
END_TEST

START_TEST(test_patch_merge_and_json)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *a, *p;
	char body[512];
	a = dct_call(t, &code, "POST", CM, "{\"metadata\":{\"name\":\"p\",\"labels\":{\"x\":\"1\",\"y\":\"2\"}},\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
	ck_assert_int_eq(code, 201);
	p = dct_patch(t, &code, CM "/p", "application/merge-patch+json",
		"{\"metadata\":{\"labels\":{\"y\":null,\"z\":\"3\"}},\"data\":{\"a\":\"9\"}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"), "y"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"), "z")), "3");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "data"), "a")), "9");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "data"), "b")), "2");
	json_decref(p);
	/* JSON patch with test, move, copy, add to arrays */
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json",
		"[{\"op\":\"test\",\"path\":\"/data/a\",\"value\":\"9\"},"
		"{\"op\":\"move\",\"from\":\"/data/b\",\"path\":\"/data/c\"},"
		"{\"op\":\"copy\",\"from\":\"/data/c\",\"path\":\"/data/d\"},"
		"{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[]},"
		"{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\",\"value\":\"x.io/a\"},"
		"{\"op\":\"add\",\"path\":\"/metadata/finalizers/0\",\"value\":\"x.io/b\"},"
		"{\"op\":\"replace\",\"path\":\"/data/a\",\"value\":\"10\"},"
		"{\"op\":\"remove\",\"path\":\"/metadata/labels/z\"}]");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(json_object_get(p, "data"), "b"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "data"), "c")), "2");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "data"), "d")), "2");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(p, "metadata"), "finalizers"), 0)), "x.io/b");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(p, "metadata"), "finalizers"), 1)), "x.io/a");
	json_decref(p);
	/* a failing test changes nothing: 422 */
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json",
		"[{\"op\":\"replace\",\"path\":\"/data/a\",\"value\":\"11\"},{\"op\":\"test\",\"path\":\"/data/a\",\"value\":\"nope\"}]");
	ck_assert_int_eq(code, 422);
	ck_assert_str_eq(dct_reason(p), "Invalid");
	json_decref(p);
	p = dct_call(t, &code, "GET", CM "/p", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "data"), "a")), "10");
	json_decref(p);
	/* missing path, bad op, malformed documents */
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json", "[{\"op\":\"remove\",\"path\":\"/data/zz\"}]");
	ck_assert_int_eq(code, 422);
	json_decref(p);
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json", "[{\"op\":\"frobnicate\",\"path\":\"/data\"}]");
	ck_assert_int_eq(code, 400);
	json_decref(p);
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json", "{\"op\":\"add\"}");
	ck_assert_int_eq(code, 400);
	json_decref(p);
	p = dct_patch(t, &code, CM "/p", "application/json-patch+json", "[{\"op\":\"add\",\"path\":\"/data/x\"}]");
	ck_assert_int_eq(code, 400);
	json_decref(p);
	p = dct_patch(t, &code, CM "/p", "application/merge-patch+json", "{not json");
	ck_assert_int_eq(code, 400);
	json_decref(p);
	p = dct_patch(t, &code, CM "/p", "application/merge-patch+json", "[1,2]");
	ck_assert_int_eq(code, 422);
	json_decref(p);
	/* a stale resourceVersion in the patch: 409 */
	snprintf(body, sizeof(body), "{\"metadata\":{\"resourceVersion\":\"%s\"},\"data\":{\"a\":\"x\"}}",
		meta_str(a, "resourceVersion"));
	p = dct_patch(t, &code, CM "/p", "application/merge-patch+json", body);
	ck_assert_int_eq(code, 409);
	json_decref(p);
	/* unknown patch types: 415, naming the supported ones */
	p = dct_patch(t, &code, CM "/p", "application/x-unknown-patch+json", "{}");
	ck_assert_int_eq(code, 415);
	ck_assert_str_eq(dct_reason(p), "UnsupportedMediaType");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(p, "message")), "application/apply-patch+yaml"));
	json_decref(p);
	p = dct_patch(t, &code, CM "/nope", "application/merge-patch+json", "{}");
	ck_assert_int_eq(code, 404);
	json_decref(p);
	json_decref(a);
	dct_stop(t);
}
END_TEST

START_TEST(test_dry_run)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", CM "?dryRun=All", "{\"metadata\":{\"name\":\"dry\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(meta_str(j, "name"), "dry");
	json_decref(j);
	j = dct_call(t, &code, "GET", CM "/dry", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	free(dct_make_cm(t, "default", "real", NULL));
	j = dct_patch(t, &code, CM "/real?dryRun=All", "application/merge-patch+json", "{\"data\":{\"k\":\"changed\"}}");
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "k")), "changed");
	json_decref(j);
	j = dct_call(t, &code, "DELETE", CM "/real?dryRun=All", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_call(t, &code, "GET", CM "/real", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "k")), "v");
	json_decref(j);
	j = dct_call(t, &code, "POST", CM "?dryRun=Some", "{\"metadata\":{\"name\":\"dry\"}}");
	ck_assert_int_eq(code, 400);
	json_decref(j);
	dct_stop(t);
}
END_TEST

#define DEP "/apis/apps/v1/namespaces/default/deployments"
static const char *const deployment =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}},"
	"\"status\":{\"replicas\":7}}";

static json_int_t gen_of(const json_t *o)
{
	return json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));
}

START_TEST(test_generation_status_scale)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *d, *j;
	d = dct_call(t, &code, "POST", DEP, deployment);
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(gen_of(d), 1);
	ck_assert_ptr_null(json_object_get(json_object_get(d, "status"), "replicas")); /* status ignored on create */
	/* a metadata-only change keeps the generation */
	j = dct_patch(t, &code, DEP "/web", "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(gen_of(j), 1);
	json_decref(j);
	/* status written through the main resource is ignored */
	j = dct_patch(t, &code, DEP "/web", "application/merge-patch+json", "{\"status\":{\"replicas\":5}}");
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(json_object_get(json_object_get(j, "status"), "replicas"));
	ck_assert_int_eq(gen_of(j), 1);
	json_decref(j);
	/* status subresource: only status changes, no generation bump */
	j = dct_patch(t, &code, DEP "/web/status", "application/merge-patch+json",
		"{\"status\":{\"replicas\":2,\"observedGeneration\":1},\"spec\":{\"replicas\":9}}");
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "status"), "replicas")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 2);
	ck_assert_int_eq(gen_of(j), 1);
	json_decref(j);
	/* a spec change bumps it */
	j = dct_patch(t, &code, DEP "/web", "application/merge-patch+json", "{\"spec\":{\"paused\":true}}");
	ck_assert_int_eq(gen_of(j), 2);
	json_decref(j);
	/* scale */
	j = dct_call(t, &code, "GET", DEP "/web/scale", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Scale");
	ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "autoscaling/v1");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "status"), "replicas")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "selector")), "app=web");
	json_decref(j);
	j = dct_patch(t, &code, DEP "/web/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":5}}");
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "Scale");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 5);
	json_decref(j);
	j = dct_call(t, &code, "GET", DEP "/web", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 5);
	ck_assert_int_eq(gen_of(j), 3);
	json_decref(j);
	j = dct_call(t, &code, "PUT", DEP "/web/scale", "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":1}}");
	ck_assert_int_eq(code, 409);
	json_decref(j);
	j = dct_call(t, &code, "PUT", DEP "/web/scale", "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":-1}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	/* a configmap has no scale, and no status subresource */
	free(dct_make_cm(t, "default", "c", NULL));
	j = dct_call(t, &code, "GET", CM "/c/scale", NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	json_decref(d);
	dct_stop(t);
}
END_TEST

static const char *const crd =
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	"\"metadata\":{\"name\":\"httpservers.peerop.io\"},"
	"\"spec\":{\"group\":\"peerop.io\",\"scope\":\"Namespaced\","
	"\"names\":{\"plural\":\"httpservers\",\"singular\":\"httpserver\",\"kind\":\"HTTPServer\",\"shortNames\":[\"hs\"]},"
	"\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":false},"
	"{\"name\":\"v1\",\"served\":true,\"storage\":true,"
	"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
	"\"subresources\":{\"status\":{},\"scale\":{\"specReplicasPath\":\".spec.replicas\","
	"\"statusReplicasPath\":\".status.replicas\",\"labelSelectorPath\":\".status.selector\"}}}]}}";

#define HS "/apis/peerop.io/v1/namespaces/default/httpservers"

START_TEST(test_crd_lifecycle)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "GET", HS, NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(json_object_get(j, "status"), "conditions"), 1), "type")), "Established");
	json_decref(j);
	/* served at once */
	j = dct_call(t, &code, "POST", HS, "{\"apiVersion\":\"peerop.io/v1\",\"kind\":\"HTTPServer\",\"metadata\":{\"name\":\"s1\"},"
		"\"spec\":{\"replicas\":3},\"status\":{\"replicas\":1}}");
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(gen_of(j), 1);
	ck_assert_ptr_null(json_object_get(j, "status"));
	json_decref(j);
	j = dct_call(t, &code, "GET", HS "/s1", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "peerop.io/v1");
	json_decref(j);
	/* the other served version sees the same object */
	j = dct_call(t, &code, "GET", "/apis/peerop.io/v1alpha1/namespaces/default/httpservers/s1", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "peerop.io/v1alpha1");
	json_decref(j);
	j = dct_patch(t, &code, HS "/s1/status", "application/merge-patch+json",
		"{\"status\":{\"replicas\":3,\"selector\":\"app=s1\"}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_call(t, &code, "GET", HS "/s1/scale", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "selector")), "app=s1");
	json_decref(j);
	j = dct_patch(t, &code, HS "/s1/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_call(t, &code, "GET", HS "/s1", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "spec"), "replicas")), 4);
	ck_assert_int_eq(gen_of(j), 2);
	json_decref(j);
	/* deleting the CRD deletes its objects and stops serving them */
	j = dct_call(t, &code, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httpservers.peerop.io", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	j = dct_call(t, &code, "GET", HS, NULL);
	ck_assert_int_eq(code, 404);
	json_decref(j);
	/* recreated: empty */
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "GET", HS, NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	/* invalid CRDs */
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
		"{\"metadata\":{\"name\":\"x.y\"},\"spec\":{\"group\":\"y\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"x\",\"kind\":\"X\"},\"versions\":[]}}");
	ck_assert_int_eq(code, 422);
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_cluster_scoped_crd_and_events)
{
	dct *t = dct_start(NULL, false);
	long code;
	json_t *j;
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
		"{\"metadata\":{\"name\":\"widgets.ex.io\"},\"spec\":{\"group\":\"ex.io\",\"scope\":\"Cluster\","
		"\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true}]}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/ex.io/v1/widgets", "{\"metadata\":{\"name\":\"w\"},\"spec\":{\"a\":1}}");
	ck_assert_int_eq(code, 201);
	ck_assert_ptr_null(json_object_get(json_object_get(j, "metadata"), "namespace"));
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/ex.io/v1/widgets/w", NULL);
	ck_assert_int_eq(code, 200);
	json_decref(j);
	/* core/v1 events read back through events.k8s.io/v1 */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/events",
		"{\"metadata\":{\"name\":\"e1\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\",\"namespace\":\"default\"},"
		"\"reason\":\"Started\",\"message\":\"hello\",\"type\":\"Normal\"}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "events.k8s.io/v1");
	ck_assert_str_eq(json_string_value(json_object_get(j, "note")), "hello");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "regarding"), "name")), "p");
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/events.k8s.io/v1/namespaces/default/events",
		"{\"metadata\":{\"name\":\"e2\"},\"regarding\":{\"kind\":\"Pod\",\"name\":\"q\"},\"reason\":\"X\",\"note\":\"n2\",\"type\":\"Normal\",\"eventTime\":\"2025-01-01T00:00:00.000000Z\",\"action\":\"A\",\"reportingController\":\"c\",\"reportingInstance\":\"i\"}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(j, "note")), "n2");
	json_decref(j);
	j = dct_call(t, &code, "GET", "/api/v1/namespaces/default/events/e2", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "n2");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "involvedObject"), "name")), "q");
	json_decref(j);
	/* pods: status defaults, an (empty) log */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/pods",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "phase")), "Pending");
	json_decref(j);
	{
		dct_resp r;
		dct_req(t, &r, "GET", "/api/v1/namespaces/default/pods/p/log", NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_str_eq(r.body, "");
		dct_resp_free(&r);
		pthread_mutex_lock(&t->srv->store->mu);
		dc_store_pod_log_append(t->srv->store, "default", "p", "line 1\n", 7);
		pthread_mutex_unlock(&t->srv->store->mu);
		dct_req(t, &r, "GET", "/api/v1/namespaces/default/pods/p/log", NULL, NULL);
		ck_assert_str_eq(r.body, "line 1\n");
		ck_assert_int_eq(strncmp(r.content_type, "text/plain", 10), 0);
		dct_resp_free(&r);
	}
	/* services get a cluster IP; leases and secrets and serviceaccounts work */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/services",
		"{\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(json_object_get(j, "spec"), "clusterIP")), "10.96.", 6), 0);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
		"{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"me\",\"leaseDurationSeconds\":15}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"Yg==\"}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "Opaque");
	json_decref(j);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"sa\"}}");
	ck_assert_int_eq(code, 201);
	json_decref(j);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_crud");
	TCase *tc = tcase_create("crud");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_probes_version_auth);
	tcase_add_test(tc, test_initial_namespaces);
	tcase_add_test(tc, test_create_get_metadata);
	tcase_add_test(tc, test_namespace_checks_and_names);
	tcase_add_test(tc, test_update_conflict_noop);
	tcase_add_test(tc, test_patch_merge_and_json);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_generation_status_scale);
	tcase_add_test(tc, test_crd_lifecycle);
	tcase_add_test(tc, test_cluster_scoped_crd_and_events);
	suite_add_tcase(s, tc);
	return s;
}
