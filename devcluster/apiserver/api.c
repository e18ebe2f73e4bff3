/* api.c: resolve /api/v1/... and /apis/{group}/{version}/... paths to a
 * resource type, namespace, name and subresource, and dispatch on the verb.
 * Discovery paths (/api, /apis, /api/v1, /apis/g/v) go to discovery.c,
 * /openapi/... to openapi.c. */
#include "apiserver.h"

#include <stdlib.h>
#include <string.h>

static void not_found_path(dc_resp *rs)
{
	dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
}

static void method_not_allowed(dc_resp *rs, const char *method)
{
	dc_resp_error(rs, 405, "MethodNotAllowed",
		"the server does not allow this method on the requested resource (%s)", method);
}

static void dispatch_collection(dc_req *rq, dc_resp *rs, const dc_target *t, bool watch)
{
	const char *m = rq->method;
	if (!strcmp(m, "GET")) {
		if (watch || dc_req_query_bool(rq, "watch"))
			dc_api_watch(rq, rs, t);
		else
			dc_api_list(rq, rs, t);
	} else if (!strcmp(m, "POST") && !watch) {
		if (t->namespaced && !t->ns)
			method_not_allowed(rs, m);
		else
			dc_api_create(rq, rs, t);
	} else if (!strcmp(m, "DELETE") && !watch) {
		dc_api_delete_collection(rq, rs, t);
	} else {
		method_not_allowed(rs, m);
	}
}

static void dispatch_object(dc_req *rq, dc_resp *rs, const dc_target *t, bool watch)
{
	const char *m = rq->method;
	if (t->sub && !strcmp(t->sub, "token") && !t->rt->group[0] && !strcmp(t->plural, "serviceaccounts")) {
		dc_api_token_request(rq, rs, t->ns, t->name);
		return;
	}
	if (t->sub) {
		bool ok = (!strcmp(t->sub, "status") && (t->flags & DC_RT_STATUS)) ||
			(!strcmp(t->sub, "scale") && (t->flags & DC_RT_SCALE)) ||
			(!strcmp(t->sub, "log") && (t->flags & DC_RT_LOG));
		if (!ok || watch) {
			not_found_path(rs);
			return;
		}
		if (!strcmp(m, "GET"))
			dc_api_get(rq, rs, t);
		else if (!strcmp(m, "PUT") && strcmp(t->sub, "log"))
			dc_api_update(rq, rs, t);
		else if (!strcmp(m, "PATCH") && strcmp(t->sub, "log"))
			dc_api_patch(rq, rs, t);
		else
			method_not_allowed(rs, m);
		return;
	}
	if (watch) {
		/* legacy /watch/.../name: a watch on the collection, by name */
		if (strcmp(m, "GET"))
			method_not_allowed(rs, m);
		else
			dc_api_watch(rq, rs, t);
		return;
	}
	if (!strcmp(m, "GET"))
		dc_api_get(rq, rs, t);
	else if (!strcmp(m, "PUT"))
		dc_api_update(rq, rs, t);
	else if (!strcmp(m, "PATCH"))
		dc_api_patch(rq, rs, t);
	else if (!strcmp(m, "DELETE"))
		dc_api_delete(rq, rs, t);
	else
		method_not_allowed(rs, m);
}

/* rest: the segments after the group-version. */
static bool resource_path(dc_req *rq, dc_resp *rs, const char *group, const char *version,
	char **rest, int n)
{
	dc_store *s = rq->srv->store;
	dc_target t = { NULL, group, version, NULL, false, 0, NULL, NULL, NULL };
	bool watch = false;
	const dc_rtype *nsrt;

	if (n > 0 && !strcmp(rest[0], "watch")) {
		watch = true;
		rest++;
		n--;
	}
	if (n <= 0)
		return false;
	pthread_mutex_lock(&s->mu);
	/* namespaces/{ns}/{plural}[/{name}[/{sub}]] names a namespaced resource;
	 * namespaces/{name}[/{sub}] names a Namespace */
	nsrt = n >= 3 && !strcmp(rest[0], "namespaces") ? dc_rtype_find(s, group, version, rest[2]) : NULL;
	if (nsrt && nsrt->namespaced && n <= 5) {
		t.rt = nsrt;
		t.ns = rest[1];
		t.name = n >= 4 ? rest[3] : NULL;
		t.sub = n >= 5 ? rest[4] : NULL;
	} else if (n <= 3) {
		t.rt = dc_rtype_find(s, group, version, rest[0]);
		t.name = n >= 2 ? rest[1] : NULL;
		t.sub = n >= 3 ? rest[2] : NULL;
		/* a namespaced resource is only reachable by name inside its namespace */
		if (t.rt && t.rt->namespaced && t.name)
			t.rt = NULL;
	}
	if (t.rt) {
		t.plural = t.rt == nsrt ? rest[2] : rest[0];
		t.namespaced = t.rt->namespaced;
		t.flags = t.rt->flags;
	}
	pthread_mutex_unlock(&s->mu);
	if (!t.rt)
		return false;
	/* Types are only freed when a CRD is removed; the handlers re-find
	 * theirs under the lock before touching storage (see api_lock_type). */
	if (t.name)
		dispatch_object(rq, rs, &t, watch);
	else
		dispatch_collection(rq, rs, &t, watch);
	return true;
}

bool dc_target_lock(dc_store *s, dc_target *t, dc_resp *rs)
{
	pthread_mutex_lock(&s->mu);
	t->rt = dc_rtype_find(s, t->group, t->version, t->plural);
	if (!t->rt) {
		pthread_mutex_unlock(&s->mu);
		not_found_path(rs);
		return false;
	}
	return true;
}

bool dc_api_handle(dc_req *rq, dc_resp *rs)
{
	if (dc_discovery_handle(rq, rs) || dc_openapi_handle(rq, rs) || dc_api_reviews(rq, rs))
		return true;
	if (rq->nsegs >= 2 && !strcmp(rq->segs[0], "api")) {
		if (!resource_path(rq, rs, "", rq->segs[1], rq->segs + 2, rq->nsegs - 2))
			not_found_path(rs);
		return true;
	}
	if (rq->nsegs >= 3 && !strcmp(rq->segs[0], "apis")) {
		if (!resource_path(rq, rs, rq->segs[1], rq->segs[2], rq->segs + 3, rq->nsegs - 3))
			not_found_path(rs);
		return true;
	}
	return false;
}
