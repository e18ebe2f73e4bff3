/* check_devcluster_rbac.c: identities and RBAC as the real server has them:
 * the admin token, ServiceAccount tokens from TokenRequest (and revoked with
 * their ServiceAccount), TokenReview, the RBAC authorizer (roles, cluster
 * roles, bindings, verbs, groups, subresources, resourceNames,
 * nonResourceURLs, aggregation, the default roles), 403s in the real
 * server's words, the access reviews and impersonation. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SA "system:serviceaccount:default:bot"

static const char *jstr(const json_t *o, const char *path)
{
	char buf[256], *save = NULL, *tok;
	const json_t *v = o;
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save))
		v = json_object_get(v, tok);
	return json_string_value(v);
}

static void must(dct *t, const char *method, const char *path, const char *body, long want)
{
	long code;
	json_t *j = dct_call(t, &code, method, path, body);
	ck_assert_msg(code == want, "%s %s: %ld, not %ld: %s", method, path, code, want,
		j ? jstr(j, "message") : "");
	json_decref(j);
}

/* A token of ServiceAccount default/name from TokenRequest (owned). */
static char *sa_token(dct *t, const char *name)
{
	char path[256];
	long code;
	json_t *j;
	char *tok;
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/serviceaccounts/%s/token", name);
	j = dct_call(t, &code, "POST", path, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
		"\"spec\":{\"expirationSeconds\":3600}}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(jstr(j, "kind"), "TokenRequest");
	ck_assert_ptr_nonnull(jstr(j, "status.expirationTimestamp"));
	tok = strdup(jstr(j, "status.token"));
	json_decref(j);
	return tok;
}

/* Code and message of a request with token tok. */
static long as(dct *t, const char *tok, const char *method, const char *path, const char *body, char *msg,
	size_t size)
{
	dct_resp r;
	long code;
	dct_req_ex(t, &r, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0, tok);
	code = r.code;
	if (msg)
		snprintf(msg, size, "%s", r.json && jstr(r.json, "message") ? jstr(r.json, "message") : "");
	dct_resp_free(&r);
	return code;
}

START_TEST(test_admin_and_bootstrap)
{
	dct *t = dct_start(NULL, false);
	static const char *const roles[] = { "cluster-admin", "admin", "edit", "view", "system:discovery",
		"system:basic-user", "system:public-info-viewer" };
	char path[256];
	size_t i;
	long code;
	json_t *j;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s", roles[i]);
		must(t, "GET", path, NULL, 200);
	}
	must(t, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin", NULL, 200);
	/* every namespace has its ServiceAccount "default" */
	must(t, "GET", "/api/v1/namespaces/default/serviceaccounts/default", NULL, 200);
	must(t, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"fresh\"}}", 201);
	must(t, "GET", "/api/v1/namespaces/fresh/serviceaccounts/default", NULL, 200);
	/* the kubeconfig's token is admin, system:masters (kubectl auth whoami) */
	j = dct_call(t, &code, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		"{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}");
	ck_assert_int_eq(code, 201);
	ck_assert_str_eq(jstr(j, "status.userInfo.username"), "admin");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(j, "status"),
		"userInfo"), "groups"), 0)), "system:masters");
	json_decref(j);
	dct_stop(t);
}
END_TEST

START_TEST(test_token_request_and_review)
{
	dct *t = dct_start(NULL, false);
	char *tok, msg[1024], body[20000];
	long code;
	json_t *j;
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"bot\"}}", 201);
	tok = sa_token(t, "bot");
	ck_assert_int_eq(strncmp(tok, "eyJ", 3), 0);
	/* who it is */
	snprintf(body, sizeof(body), "{\"spec\":{\"token\":\"%s\"}}", tok);
	j = dct_call(t, &code, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body);
	ck_assert_int_eq(code, 201);
	ck_assert(json_is_true(json_object_get(json_object_get(j, "status"), "authenticated")));
	ck_assert_str_eq(jstr(j, "status.user.username"), SA);
	json_decref(j);
	/* another audience: not for this API server */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/serviceaccounts/bot/token",
		"{\"spec\":{\"audiences\":[\"vault\"]}}");
	ck_assert_int_eq(code, 201);
	ck_assert_int_eq(as(t, jstr(j, "status.token"), "GET", "/api", NULL, NULL, 0), 401);
	snprintf(body, sizeof(body), "{\"spec\":{\"token\":\"%s\",\"audiences\":[\"vault\"]}}", jstr(j, "status.token"));
	json_decref(j);
	j = dct_call(t, &code, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body);
	ck_assert(json_is_true(json_object_get(json_object_get(j, "status"), "authenticated")));
	json_decref(j);
	/* bad requests */
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/serviceaccounts/bot/token",
		"{\"spec\":{\"expirationSeconds\":10}}");
	ck_assert_int_eq(code, 422);
	ck_assert_ptr_nonnull(strstr(jstr(j, "message"), "may not specify a duration less than 10 minutes"));
	json_decref(j);
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token", "{}", 404);
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/bot/token", "[1,2", 400);
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/bot/token", "{\"spec\":{\"audiences\":[5]}}", 400);
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/bot/token",
		"{\"spec\":{\"boundObjectRef\":{\"kind\":\"Pod\",\"name\":\"nopod\"}}}", 404);
	/* the token authenticates: discovery is for everyone authenticated */
	ck_assert_int_eq(as(t, tok, "GET", "/api", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/apis", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1", NULL, NULL, 0), 200);
	/* hostile tokens: 401, never a crash */
	{
		static const char *const bad[] = { "x", "a.b", "a.b.c", "....", "eyJ.eyJ.", "%%%.%%%.%%%",
			"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." };
		size_t i;
		char *tampered = strdup(tok), *big = malloc(12000);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_int_eq(as(t, bad[i], "GET", "/api", NULL, NULL, 0), 401);
		/* a changed claim breaks the signature */
		tampered[strchr(tampered, '.') - tampered + 5] ^= 1;
		ck_assert_int_eq(as(t, tampered, "GET", "/api", NULL, NULL, 0), 401);
		memset(big, 'A', 11999);
		big[11999] = '\0';
		big[100] = '.';
		big[200] = '.';
		ck_assert_int_eq(as(t, big, "GET", "/api", NULL, NULL, 0), 401);
		free(tampered);
		free(big);
	}
	/* deleting the ServiceAccount revokes its tokens, and a new one of the
	 * same name does not bring them back */
	must(t, "DELETE", "/api/v1/namespaces/default/serviceaccounts/bot", NULL, 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api", NULL, msg, sizeof(msg)), 401);
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"bot\"}}", 201);
	ck_assert_int_eq(as(t, tok, "GET", "/api", NULL, NULL, 0), 401);
	free(tok);
	dct_stop(t);
}
END_TEST

#define ROLES "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
#define RBS "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
#define CROLES "/apis/rbac.authorization.k8s.io/v1/clusterroles"
#define CRBS "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"

static void bind_sa(dct *t, const char *name, const char *kind, const char *role)
{
	char body[600];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"},\"roleRef\":{\"apiGroup\":"
		"\"rbac.authorization.k8s.io\",\"kind\":\"%s\",\"name\":\"%s\"},\"subjects\":[{\"kind\":"
		"\"ServiceAccount\",\"name\":\"bot\"}]}", name, kind, role);
	must(t, "POST", RBS, body, 201);
}

START_TEST(test_rbac_rules)
{
	dct *t = dct_start(NULL, false);
	char *tok, msg[2048];
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"bot\"}}", 201);
	free(dct_make_cm(t, "default", "one", NULL));
	free(dct_make_cm(t, "default", "two", NULL));
	tok = sa_token(t, "bot");
	/* nothing granted: the real server's message, word for word */
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/pods", NULL, msg, sizeof(msg)), 403);
	ck_assert_str_eq(msg, "pods is forbidden: User \"" SA "\" cannot list resource \"pods\" in API group \"\" in "
		"the namespace \"default\"");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps/one", NULL, msg, sizeof(msg)), 403);
	ck_assert_str_eq(msg, "configmaps \"one\" is forbidden: User \"" SA "\" cannot get resource \"configmaps\" in "
		"API group \"\" in the namespace \"default\"");
	ck_assert_int_eq(as(t, tok, "GET", "/apis/apps/v1/deployments", NULL, msg, sizeof(msg)), 403);
	ck_assert_str_eq(msg, "deployments.apps is forbidden: User \"" SA "\" cannot list resource \"deployments\" in "
		"API group \"apps\" at the cluster scope");
	/* an unknown resource is forbidden before it is missing, as there */
	ck_assert_int_eq(as(t, tok, "GET", "/apis/nope.io/v1/things", NULL, NULL, 0), 403);
	ck_assert_int_eq(as(t, tok, "GET", "/_devcluster/status", NULL, NULL, 0), 403);

	/* a Role: verbs, resources, subresources */
	must(t, "POST", ROLES, "{\"metadata\":{\"name\":\"pods\"},\"rules\":[{\"apiGroups\":[\"\"],"
		"\"resources\":[\"pods\",\"pods/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]}]}", 201);
	bind_sa(t, "pods", "Role", "pods");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1", NULL, NULL, 0),
		200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/pods/x/status", NULL, NULL, 0), 404);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/pods/x/log", NULL, msg, sizeof(msg)), 403);
	ck_assert_str_eq(msg, "pods \"x\" is forbidden: User \"" SA "\" cannot get resource \"pods/log\" in API group "
		"\"\" in the namespace \"default\"");
	ck_assert_int_eq(as(t, tok, "DELETE", "/api/v1/namespaces/default/pods", NULL, msg, sizeof(msg)), 403);
	ck_assert_ptr_nonnull(strstr(msg, "cannot deletecollection resource \"pods\""));
	/* a RoleBinding grants in its namespace only: across namespaces and
	 * in others it is forbidden */
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/pods", NULL, msg, sizeof(msg)), 403);
	ck_assert_ptr_nonnull(strstr(msg, "at the cluster scope"));
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/kube-system/pods", NULL, NULL, 0), 403);

	/* resourceNames: get and a list or watch selecting that one name */
	must(t, "POST", ROLES, "{\"metadata\":{\"name\":\"one\"},\"rules\":[{\"apiGroups\":[\"\"],"
		"\"resources\":[\"configmaps\"],\"resourceNames\":[\"one\"],\"verbs\":[\"get\",\"list\",\"watch\"]}]}", 201);
	bind_sa(t, "one", "Role", "one");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps/one", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps/two", NULL, NULL, 0), 403);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, 0), 403);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Done",
		NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dtwo",
		NULL, NULL, 0), 403);
	ck_assert_int_eq(as(t, tok, "PUT", "/api/v1/namespaces/default/configmaps/one", "{}", NULL, 0), 403);

	/* "*" verbs in a group, and a "* /scale" subresource rule */
	must(t, "POST", ROLES, "{\"metadata\":{\"name\":\"apps\"},\"rules\":[{\"apiGroups\":[\"apps\"],"
		"\"resources\":[\"deployments\"],\"verbs\":[\"*\"]},{\"apiGroups\":[\"*\"],\"resources\":[\"*/scale\"],"
		"\"verbs\":[\"get\"]}]}", 201);
	bind_sa(t, "apps", "Role", "apps");
	ck_assert_int_eq(as(t, tok, "POST", "/apis/apps/v1/namespaces/default/deployments",
		"{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":"
		"{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}",
		NULL, 0), 201);
	ck_assert_int_eq(as(t, tok, "GET", "/apis/apps/v1/namespaces/default/deployments/d/scale", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale", "{}", NULL, 0), 403);
	ck_assert_int_eq(as(t, tok, "GET", "/apis/apps/v1/namespaces/default/deployments/d/status", NULL, NULL, 0), 403);

	/* a binding to a missing role says so */
	bind_sa(t, "dangling", "Role", "missing");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/secrets", NULL, msg, sizeof(msg)), 403);
	ck_assert_ptr_nonnull(strstr(msg, ": RBAC: role.rbac.authorization.k8s.io \"missing\" not found"));

	/* ClusterRole aggregation, bound by a RoleBinding */
	must(t, "POST", CROLES, "{\"metadata\":{\"name\":\"agg\"},\"aggregationRule\":{"
		"\"clusterRoleSelectors\":[{\"matchLabels\":{\"test/agg\":\"yes\"}}]},\"rules\":[]}", 201);
	must(t, "POST", CROLES, "{\"metadata\":{\"name\":\"part\",\"labels\":{\"test/agg\":\"yes\"}},\"rules\":["
		"{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"list\"]}]}", 201);
	bind_sa(t, "agg", "ClusterRole", "agg");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL, 0), 200);
	/* taking the rule out takes the access away at once */
	must(t, "DELETE", CROLES "/part", NULL, 200);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL, 0), 403);

	/* the default roles: view reads but does not write, and not secrets */
	bind_sa(t, "view", "ClusterRole", "view");
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "GET", "/apis/apps/v1/namespaces/default/replicasets", NULL, NULL, 0), 200);
	ck_assert_int_eq(as(t, tok, "POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"x\"}}",
		NULL, 0), 403);
	/* a ClusterRoleBinding grants everywhere; a Group subject */
	must(t, "POST", CRBS, "{\"metadata\":{\"name\":\"sas\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
		"\"kind\":\"ClusterRole\",\"name\":\"edit\"},\"subjects\":[{\"kind\":\"Group\",\"name\":"
		"\"system:serviceaccounts:default\"}]}", 201);
	ck_assert_int_eq(as(t, tok, "POST", "/api/v1/namespaces/kube-system/configmaps", "{\"metadata\":{\"name\":\"x\"}}",
		NULL, 0), 201);
	ck_assert_int_eq(as(t, tok, "GET", "/api/v1/configmaps", NULL, NULL, 0), 200);
	/* edit does not reach RBAC objects */
	ck_assert_int_eq(as(t, tok, "GET", ROLES, NULL, NULL, 0), 403);
	free(tok);
	dct_stop(t);
}
END_TEST

START_TEST(test_reviews_and_impersonation)
{
	dct *t = dct_start(NULL, false);
	char *tok, msg[2048];
	long code;
	json_t *j;
	dct_resp r;
	must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"bot\"}}", 201);
	must(t, "POST", ROLES, "{\"metadata\":{\"name\":\"cm\"},\"rules\":[{\"apiGroups\":[\"\"],"
		"\"resources\":[\"configmaps\"],\"verbs\":[\"get\",\"list\"]}]}", 201);
	bind_sa(t, "cm", "Role", "cm");
	tok = sa_token(t, "bot");
	/* kubectl auth can-i */
	{
		const char *b = "{\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":\"list\","
			"\"resource\":\"configmaps\"}}}";
		dct_req_ex(t, &r, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", NULL, b, strlen(b), tok);
		ck_assert_int_eq(r.code, 201);
		ck_assert(json_is_true(json_object_get(json_object_get(r.json, "status"), "allowed")));
		ck_assert_ptr_nonnull(strstr(jstr(r.json, "status.reason"), "RBAC: allowed by RoleBinding \"cm/default\" of Role \"cm\" to ServiceAccount \"bot/default\""));
		dct_resp_free(&r);
	}
	{
		const char *b = "{\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":\"delete\","
			"\"resource\":\"configmaps\"}}}";
		dct_req_ex(t, &r, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", NULL, b, strlen(b), tok);
		ck_assert_int_eq(r.code, 201);
		ck_assert(json_is_false(json_object_get(json_object_get(r.json, "status"), "allowed")));
		dct_resp_free(&r);
		b = "{\"spec\":{}}";
		dct_req_ex(t, &r, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", NULL, b, strlen(b), tok);
		ck_assert_int_eq(r.code, 422);
		dct_resp_free(&r);
	}
	/* kubectl auth can-i --list */
	{
		const char *b = "{\"spec\":{\"namespace\":\"default\"}}";
		json_t *rule;
		size_t i;
		bool seen = false;
		dct_req_ex(t, &r, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", NULL, b, strlen(b), tok);
		ck_assert_int_eq(r.code, 201);
		json_array_foreach(json_object_get(json_object_get(r.json, "status"), "resourceRules"), i, rule)
			if (json_string_value(json_array_get(json_object_get(rule, "resources"), 0)) &&
			    !strcmp(json_string_value(json_array_get(json_object_get(rule, "resources"), 0)), "configmaps"))
				seen = true;
		ck_assert(seen);
		ck_assert(json_array_size(json_object_get(json_object_get(r.json, "status"), "nonResourceRules")) > 0);
		dct_resp_free(&r);
	}
	/* SubjectAccessReview: the admin may ask about anyone, the bot may not */
	j = dct_call(t, &code, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
		"{\"spec\":{\"user\":\"" SA "\",\"groups\":[\"system:serviceaccounts\"],\"resourceAttributes\":"
		"{\"namespace\":\"default\",\"verb\":\"get\",\"resource\":\"configmaps\"}}}");
	ck_assert_int_eq(code, 201);
	ck_assert(json_is_true(json_object_get(json_object_get(j, "status"), "allowed")));
	json_decref(j);
	ck_assert_int_eq(as(t, tok, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
		"{\"spec\":{\"user\":\"x\",\"nonResourceAttributes\":{\"path\":\"/api\",\"verb\":\"get\"}}}", msg,
		sizeof(msg)), 403);
	ck_assert_ptr_nonnull(strstr(msg, "cannot create resource \"subjectaccessreviews\" in API group "
		"\"authorization.k8s.io\" at the cluster scope"));
	/* impersonation: the admin may; the bot may not */
	{
		static const char *const h[] = { "Impersonate-User: bob", "Impersonate-Group: devs", NULL };
		t->headers = h;
		dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL);
		ck_assert_int_eq(r.code, 403);
		ck_assert_str_eq(jstr(r.json, "message"), "configmaps is forbidden: User \"bob\" cannot list resource "
			"\"configmaps\" in API group \"\" in the namespace \"default\"");
		dct_resp_free(&r);
		dct_req(t, &r, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", NULL, "{}");
		ck_assert_int_eq(r.code, 201);
		ck_assert_str_eq(jstr(r.json, "status.userInfo.username"), "bob");
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(r.json,
			"status"), "userInfo"), "groups"), 0)), "devs");
		dct_resp_free(&r);
		dct_req_ex(t, &r, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, 0, tok);
		ck_assert_int_eq(r.code, 403);
		ck_assert_str_eq(jstr(r.json, "message"), "users \"bob\" is forbidden: User \"" SA "\" cannot impersonate "
			"resource \"users\" in API group \"\" at the cluster scope");
		dct_resp_free(&r);
		/* as a ServiceAccount: its groups come with it */
		{
			static const char *const h2[] = { "Impersonate-User: " SA, NULL };
			t->headers = h2;
			dct_req(t, &r, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL);
			ck_assert_int_eq(r.code, 200);
			dct_resp_free(&r);
			dct_req(t, &r, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
			ck_assert_int_eq(r.code, 403);
			dct_resp_free(&r);
		}
		{
			static const char *const h3[] = { "Impersonate-Group: devs", NULL };
			t->headers = h3;
			dct_req(t, &r, "GET", "/api", NULL, NULL);
			ck_assert_int_eq(r.code, 500);
			dct_resp_free(&r);
		}
		t->headers = NULL;
	}
	free(tok);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_rbac");
	TCase *tc = tcase_create("rbac");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_admin_and_bootstrap);
	tcase_add_test(tc, test_token_request_and_review);
	tcase_add_test(tc, test_rbac_rules);
	tcase_add_test(tc, test_reviews_and_impersonation);
	suite_add_tcase(s, tc);
	return s;
}
