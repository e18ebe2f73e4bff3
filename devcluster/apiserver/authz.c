/* authz.c: what a request asks, as kube-apiserver's RequestInfoFactory
 * reads it from the path alone (so an unknown resource is a 403 before it
 * is a 404, as there), the authorization of every request with RBAC, the
 * 403 in the real server's words, and the reviews clients ask with:
 * SelfSubjectAccessReview (kubectl auth can-i), SelfSubjectRulesReview
 * (can-i --list), SubjectAccessReview, LocalSubjectAccessReview and
 * SelfSubjectReview (kubectl auth whoami).
 *
 * Request info, as there: GET of a collection is list, or watch with a
 * true watch parameter or under the legacy /watch/ prefix; a list or watch
 * whose fieldSelector requires metadata.name=X is authorized for the name
 * X (so a Role with resourceNames can watch its one object); DELETE of a
 * collection is deletecollection; /api/v1/namespaces/NS alone names the
 * namespace NS itself; non-resource paths (/api, /apis/g/v, /openapi/...)
 * use the lowercase HTTP method as the verb. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *method_verb(const char *m)
{
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return "get";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return "delete";
	return "";
}

/* The X of a fieldSelector that requires metadata.name=X (or ==X), into
 * buf; NULL when it does not. */
static const char *selected_name(const char *fs, char *buf, size_t size)
{
	const char *p = fs;
	while (p && *p) {
		const char *end = strchr(p, ','), *v;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 14 && !strncmp(p, "metadata.name=", 14)) {
			v = p + 14;
			if (*v == '=')
				v++;
			n -= (size_t)(v - p);
			if (n > 0 && n < size && !memchr(v, '/', n) && !memchr(v, '!', n)) {
				memcpy(buf, v, n);
				buf[n] = '\0';
				if (strcmp(buf, ".") && strcmp(buf, ".."))
					return buf;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

void dc_request_attrs(const dc_req *rq, dc_attrs *a, char *buf, size_t size)
{
	char **parts = rq->segs;
	int n = rq->nsegs;
	memset(a, 0, sizeof(*a));
	a->group = a->version = a->resource = a->subresource = a->name = a->ns = "";
	a->path = rq->path;
	/* /api/v1/... and /apis/g/v/...: anything shorter is discovery */
	if (n >= 3 && !strcmp(parts[0], "api")) {
		a->version = parts[1];
		parts += 2;
		n -= 2;
	} else if (n >= 4 && !strcmp(parts[0], "apis")) {
		a->group = parts[1];
		a->version = parts[2];
		parts += 3;
		n -= 3;
	} else {
		size_t i, len = strlen(rq->method);
		a->resource_request = false;
		for (i = 0; i < len && i + 1 < size; i++)
			buf[i] = (char)(rq->method[i] >= 'A' && rq->method[i] <= 'Z' ? rq->method[i] - 'A' + 'a' :
				rq->method[i]);
		buf[i < size ? i : 0] = '\0';
		a->verb = buf;
		return;
	}
	a->resource_request = true;
	a->verb = method_verb(rq->method);
	if (n > 0 && !strcmp(parts[0], "watch")) {
		/* the legacy /watch/ prefix */
		a->verb = "watch";
		parts++;
		n--;
	}
	if (n > 0 && !strcmp(parts[0], "namespaces") && n > 1) {
		a->ns = parts[1];
		/* namespaces/NS/status and /finalize are the namespace's own */
		if (n > 2 && strcmp(parts[2], "status") && strcmp(parts[2], "finalize")) {
			parts += 2;
			n -= 2;
		}
	}
	if (n >= 1)
		a->resource = parts[0];
	if (n >= 2)
		a->name = parts[1];
	if (n >= 3)
		a->subresource = parts[2];
	if (!*a->name && !strcmp(a->verb, "get")) {
		const char *fs = dc_req_query(rq, "fieldSelector"), *nm;
		a->verb = dc_req_query_bool(rq, "watch") ? "watch" : "list";
		if (fs && (nm = selected_name(fs, buf, size)))
			a->name = nm;
	}
	if (!*a->name && !strcmp(a->verb, "delete"))
		a->verb = "deletecollection";
}

/* forbiddenMessage() and NewForbidden() of the real server. */
json_t *dc_forbidden(const dc_user *u, const dc_attrs *a, const char *reason)
{
	char what[1400], msg[2400], gr[600];
	const char *user = u && u->name ? u->name : "";
	json_t *st;
	if (!a->resource_request) {
		snprintf(what, sizeof(what), "User \"%s\" cannot %s path \"%s\"", user, a->verb, a->path);
	} else {
		char res[520];
		snprintf(res, sizeof(res), "%s%s%s", a->resource, *a->subresource ? "/" : "", a->subresource);
		if (*a->ns)
			snprintf(what, sizeof(what), "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the "
				"namespace \"%s\"", user, a->verb, res, a->group, a->ns);
		else
			snprintf(what, sizeof(what), "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the "
				"cluster scope", user, a->verb, res, a->group);
	}
	if (reason && *reason) {
		size_t n = strlen(what);
		snprintf(what + n, sizeof(what) - n, ": %s", reason);
	}
	snprintf(gr, sizeof(gr), "%s%s%s", a->resource, *a->group ? "." : "", a->group);
	if (!a->resource_request || !*a->resource)
		snprintf(msg, sizeof(msg), "forbidden: %s", what);
	else if (!*a->name)
		snprintf(msg, sizeof(msg), "%s is forbidden: %s", gr, what);
	else
		snprintf(msg, sizeof(msg), "%s \"%s\" is forbidden: %s", gr, a->name, what);
	st = dc_status(403, "Forbidden", msg, a->name, a->resource_request ? a->group : NULL,
		a->resource_request ? a->resource : NULL);
	return st;
}

bool dc_authorize(dc_req *rq, dc_resp *rs)
{
	dc_attrs a;
	char buf[512], *reason = NULL;
	bool ok;
	if (!rq->user)
		return true;
	dc_request_attrs(rq, &a, buf, sizeof(buf));
	pthread_mutex_lock(&rq->srv->store->mu);
	ok = dc_rbac_allowed(rq->srv->store, rq->user, &a, &reason);
	pthread_mutex_unlock(&rq->srv->store->mu);
	if (!ok) {
		peerop__debug("devcluster", "forbidden: %s %s for %s", rq->method, rq->path, rq->user->name);
		dc_resp_status(rs, dc_forbidden(rq->user, &a, reason));
	}
	free(reason);
	return ok;
}

/* ---- reviews ---- */

static json_t *body_object(dc_req *rq, dc_resp *rs, const char *kind)
{
	json_t *in = dc_req_body(rq, rs);
	if (!in)
		return NULL;
	if (!json_is_object(json_object_get(in, "spec"))) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s.authorization.k8s.io \"\" is invalid: spec: Required value", kind);
		dc_resp_status(rs, dc_status(422, "Invalid", msg, NULL, "authorization.k8s.io", kind));
		json_decref(in);
		return NULL;
	}
	return in;
}

static const char *str_or(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* The attributes of a review's spec; false (and a 422) when it names
 * neither or both of resourceAttributes and nonResourceAttributes. */
static bool spec_attrs(const json_t *spec, dc_attrs *a, const char *kind, const char *ns_override, dc_resp *rs)
{
	const json_t *ra = json_object_get(spec, "resourceAttributes");
	const json_t *na = json_object_get(spec, "nonResourceAttributes");
	memset(a, 0, sizeof(*a));
	a->group = a->version = a->resource = a->subresource = a->name = a->ns = a->path = "";
	if (json_is_object(ra) == json_is_object(na)) {
		char msg[400];
		snprintf(msg, sizeof(msg), "%s.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid "
			"value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified", kind);
		dc_resp_status(rs, dc_status(422, "Invalid", msg, NULL, "authorization.k8s.io", kind));
		return false;
	}
	if (json_is_object(ra)) {
		a->resource_request = true;
		a->verb = str_or(ra, "verb");
		a->group = str_or(ra, "group");
		a->version = str_or(ra, "version");
		a->resource = str_or(ra, "resource");
		a->subresource = str_or(ra, "subresource");
		a->name = str_or(ra, "name");
		a->ns = ns_override ? ns_override : str_or(ra, "namespace");
	} else {
		a->verb = str_or(na, "verb");
		a->path = str_or(na, "path");
	}
	return true;
}

static void review_reply(dc_resp *rs, json_t *in, const char *kind, bool allowed, const char *reason)
{
	json_t *st = json_pack("{s:b}", "allowed", allowed);
	if (reason && *reason)
		json_object_set_new(st, "reason", json_string(reason));
	json_object_set_new(in, "status", st);
	json_object_set_new(in, "kind", json_string(kind));
	json_object_set_new(in, "apiVersion", json_string("authorization.k8s.io/v1"));
	if (!json_is_object(json_object_get(in, "metadata")))
		json_object_set_new(in, "metadata", json_object());
	json_object_set_new(json_object_get(in, "metadata"), "creationTimestamp", json_null());
	dc_resp_json(rs, 201, in);
}

/* The user a SubjectAccessReview names. */
static int spec_user(const json_t *spec, dc_user *u)
{
	const json_t *g, *groups = json_object_get(spec, "groups");
	size_t i;
	memset(u, 0, sizeof(*u));
	u->name = strdup(str_or(spec, "user"));
	if (!u->name)
		return PEEROP_ENOMEM;
	if (json_is_string(json_object_get(spec, "uid")))
		u->uid = strdup(json_string_value(json_object_get(spec, "uid")));
	json_array_foreach(groups, i, g)
		if (json_is_string(g) && dc_user_add_group(u, json_string_value(g)))
			return PEEROP_ENOMEM;
	if (json_is_object(json_object_get(spec, "extra")))
		u->extra = json_deep_copy(json_object_get(spec, "extra"));
	return 0;
}

static void access_review(dc_req *rq, dc_resp *rs, const char *kind, const char *ns)
{
	json_t *in = body_object(rq, rs, kind), *spec;
	dc_attrs a;
	dc_user subject;
	const dc_user *u = rq->user;
	char *reason = NULL;
	bool ok, self = !strcmp(kind, "SelfSubjectAccessReview");
	if (!in)
		return;
	spec = json_object_get(in, "spec");
	if (!spec_attrs(spec, &a, kind, ns, rs)) {
		json_decref(in);
		return;
	}
	if (ns && json_is_object(json_object_get(spec, "resourceAttributes"))) {
		const char *given = str_or(json_object_get(spec, "resourceAttributes"), "namespace");
		if (strcmp(given, ns)) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s.authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: "
				"Invalid value: \"%s\": must match metadata.namespace", kind, given);
			dc_resp_status(rs, dc_status(422, "Invalid", msg, NULL, "authorization.k8s.io", kind));
			json_decref(in);
			return;
		}
	}
	memset(&subject, 0, sizeof(subject));
	if (!self) {
		if (!json_string_value(json_object_get(spec, "user")) && !json_array_size(json_object_get(spec, "groups"))) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": "
				"at least one of user or group must be specified", kind);
			dc_resp_status(rs, dc_status(422, "Invalid", msg, NULL, "authorization.k8s.io", kind));
			json_decref(in);
			return;
		}
		if (spec_user(spec, &subject)) {
			dc_user_dispose(&subject);
			json_decref(in);
			dc_resp_error(rs, 500, "InternalError", "out of memory");
			return;
		}
		u = &subject;
	} else if (!u) {
		json_decref(in);
		dc_resp_error(rs, 400, "BadRequest", "no user to review");
		return;
	}
	pthread_mutex_lock(&rq->srv->store->mu);
	ok = dc_rbac_allowed(rq->srv->store, u, &a, &reason);
	pthread_mutex_unlock(&rq->srv->store->mu);
	if (self) {
		/* the spec of a self review names no user */
		json_t *copy = json_copy(spec);
		json_object_set_new(in, "spec", copy);
	}
	review_reply(rs, in, kind, ok, reason);
	free(reason);
	dc_user_dispose(&subject);
}

static void rules_review(dc_req *rq, dc_resp *rs)
{
	json_t *in = body_object(rq, rs, "SelfSubjectRulesReview"), *st;
	const char *ns;
	if (!in)
		return;
	ns = str_or(json_object_get(in, "spec"), "namespace");
	if (!rq->user) {
		json_decref(in);
		dc_resp_error(rs, 400, "BadRequest", "no user to review");
		return;
	}
	pthread_mutex_lock(&rq->srv->store->mu);
	st = dc_rbac_rules_status(rq->srv->store, rq->user, ns);
	pthread_mutex_unlock(&rq->srv->store->mu);
	json_object_set_new(in, "status", st);
	json_object_set_new(in, "kind", json_string("SelfSubjectRulesReview"));
	json_object_set_new(in, "apiVersion", json_string("authorization.k8s.io/v1"));
	json_object_set_new(in, "metadata", json_pack("{s:n}", "creationTimestamp"));
	dc_resp_json(rs, 201, in);
}

static void self_subject_review(dc_req *rq, dc_resp *rs)
{
	if (!rq->user) {
		dc_resp_error(rs, 400, "BadRequest", "no user to review");
		return;
	}
	dc_resp_json(rs, 201, json_pack("{s:s,s:s,s:{s:n},s:{s:o}}", "kind", "SelfSubjectReview",
		"apiVersion", "authentication.k8s.io/v1", "metadata", "creationTimestamp",
		"status", "userInfo", dc_user_info_json(rq->user)));
}

bool dc_api_reviews(dc_req *rq, dc_resp *rs)
{
	char **p = rq->segs;
	int n = rq->nsegs;
	const char *res, *ns = NULL;
	if (n < 4 || strcmp(p[0], "apis") || strcmp(p[2], "v1"))
		return false;
	if (n == 6 && !strcmp(p[3], "namespaces")) {
		ns = p[4];
		res = p[5];
	} else if (n == 4) {
		res = p[3];
	} else {
		return false;
	}
	if (!strcmp(p[1], "authorization.k8s.io")) {
		if (ns ? strcmp(res, "localsubjectaccessreviews") :
		    strcmp(res, "selfsubjectaccessreviews") && strcmp(res, "subjectaccessreviews") &&
		    strcmp(res, "selfsubjectrulesreviews"))
			return false;
	} else if (!strcmp(p[1], "authentication.k8s.io")) {
		if (ns || (strcmp(res, "tokenreviews") && strcmp(res, "selfsubjectreviews")))
			return false;
	} else {
		return false;
	}
	if (strcmp(rq->method, "POST")) {
		dc_resp_error(rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested "
			"resource (%s)", rq->method);
		return true;
	}
	if (!strcmp(res, "selfsubjectaccessreviews"))
		access_review(rq, rs, "SelfSubjectAccessReview", NULL);
	else if (!strcmp(res, "subjectaccessreviews"))
		access_review(rq, rs, "SubjectAccessReview", NULL);
	else if (!strcmp(res, "localsubjectaccessreviews"))
		access_review(rq, rs, "LocalSubjectAccessReview", ns);
	else if (!strcmp(res, "selfsubjectrulesreviews"))
		rules_review(rq, rs);
	else if (!strcmp(res, "tokenreviews"))
		dc_api_token_review(rq, rs);
	else
		self_subject_review(rq, rs);
	return true;
}
