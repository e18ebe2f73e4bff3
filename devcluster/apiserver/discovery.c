/* discovery.c: the legacy discovery documents kubectl and client-go read
 * before anything else: /api (APIVersions), /apis (APIGroupList),
 * /apis/{g} (APIGroup), and /api/v1, /apis/{g}/{v} (APIResourceList).
 *
 * Everything is computed from the type table on each request, under the
 * store lock, so a CRD's group appears the moment the CRD is stored and goes
 * when it is deleted. Aggregated discovery (apidiscovery.k8s.io/v2) is not
 * offered: the reply to a client asking for it is plain application/json,
 * which client-go takes as "not supported" and then reads the legacy form. */
#include "apiserver.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Kubernetes version priority (apimachinery's CompareKubeAwareVersionStrings):
 * GA before beta before alpha, higher numbers first; other names after,
 * alphabetically. Parses "v<major>[(alpha|beta)<minor>]". */
static bool parse_kube_version(const char *v, long *major, int *stage, long *minor)
{
	char *end;
	if (v[0] != 'v' || !isdigit((unsigned char)v[1]) || v[1] == '0')
		return false;
	*major = strtol(v + 1, &end, 10);
	*minor = 0;
	if (*end == '\0') {
		*stage = 2;
		return true;
	}
	if (!strncmp(end, "beta", 4))
		*stage = 1, end += 4;
	else if (!strncmp(end, "alpha", 5))
		*stage = 0, end += 5;
	else
		return false;
	if (!isdigit((unsigned char)*end) || *end == '0')
		return false;
	*minor = strtol(end, &end, 10);
	return *end == '\0';
}

int dc_version_compare(const char *a, const char *b)
{
	long ma, mb, na, nb;
	int sa, sb;
	bool ka = parse_kube_version(a, &ma, &sa, &na), kb = parse_kube_version(b, &mb, &sb, &nb);
	if (ka && kb) {
		if (sa != sb)
			return sb - sa;
		if (ma != mb)
			return ma > mb ? -1 : 1;
		if (na != nb)
			return na > nb ? -1 : 1;
		return 0;
	}
	if (ka != kb)
		return ka ? -1 : 1;
	return strcmp(a, b);
}

static json_t *split_list(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

static json_t *verbs(const char *const *v)
{
	json_t *a = json_array();
	while (*v)
		json_array_append_new(a, json_string(*v++));
	return a;
}

static json_t *sub_entry(const dc_rtype *rt, const char *sub, const char *kind, const char *const *vs)
{
	char name[300];
	snprintf(name, sizeof(name), "%s/%s", rt->plural, sub);
	return json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "",
		"namespaced", rt->namespaced, "kind", kind, "verbs", verbs(vs));
}

/* The APIResourceList entries of one type, appended to out. */
static void resource_entries(const dc_rtype *rt, json_t *out)
{
	static const char *const all[] = { "create", "delete", "deletecollection", "get", "list",
		"patch", "update", "watch", NULL };
	static const char *const rw[] = { "get", "patch", "update", NULL };
	static const char *const ro[] = { "get", NULL };
	json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", rt->plural, "singularName",
		rt->singular ? rt->singular : "", "namespaced", rt->namespaced, "kind", rt->kind,
		"verbs", verbs(all));
	json_t *sn = split_list(rt->short_names), *cat = split_list(rt->categories);
	if (json_array_size(sn))
		json_object_set(e, "shortNames", sn);
	if (json_array_size(cat))
		json_object_set(e, "categories", cat);
	json_decref(sn);
	json_decref(cat);
	json_array_append_new(out, e);
	if (rt->flags & DC_RT_STATUS)
		json_array_append_new(out, sub_entry(rt, "status", rt->kind, rw));
	if (rt->flags & DC_RT_SCALE) {
		e = sub_entry(rt, "scale", "Scale", rw);
		json_object_set_new(e, "group", json_string("autoscaling"));
		json_object_set_new(e, "version", json_string("v1"));
		json_array_append_new(out, e);
	}
	if (rt->flags & DC_RT_LOG)
		json_array_append_new(out, sub_entry(rt, "log", "Pod", ro));
}

/* The group's versions, best first (lock held). NULL if none is served. */
static json_t *group_versions(dc_store *s, const char *group)
{
	json_t *vs = json_array(), *v;
	size_t i, j;
	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		bool seen = false;
		if (strcmp(rt->group, group))
			continue;
		json_array_foreach(vs, j, v)
			if (!strcmp(json_string_value(json_object_get(v, "version")), rt->version))
				seen = true;
		if (seen)
			continue;
		/* insertion sort by priority */
		for (j = 0; j < json_array_size(vs); j++)
			if (dc_version_compare(rt->version,
				json_string_value(json_object_get(json_array_get(vs, j), "version"))) < 0)
				break;
		json_array_insert_new(vs, j, json_pack("{s:s,s:s}", "groupVersion", rt->api_version,
			"version", rt->version));
	}
	if (json_array_size(vs) == 0) {
		json_decref(vs);
		return NULL;
	}
	return vs;
}

static json_t *api_group(dc_store *s, const char *group)
{
	json_t *vs = group_versions(s, group);
	if (!vs)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:o,s:O}", "kind", "APIGroup", "apiVersion", "v1", "name", group,
		"versions", vs, "preferredVersion", json_array_get(vs, 0));
}

static json_t *group_list(dc_store *s)
{
	json_t *groups = json_array(), *g;
	size_t i, j;
	for (i = 0; i < s->ntypes; i++) {
		const char *name = s->types[i]->group;
		bool seen = !name[0];
		json_array_foreach(groups, j, g)
			if (!strcmp(json_string_value(json_object_get(g, "name")), name))
				seen = true;
		if (!seen && (g = api_group(s, name)) != NULL) {
			json_object_del(g, "kind");
			json_object_del(g, "apiVersion");
			json_array_append_new(groups, g);
		}
	}
	return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

static json_t *resource_list(dc_store *s, const char *group, const char *version)
{
	json_t *res = json_array();
	const char *gv = NULL;
	size_t i;
	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		if (strcmp(rt->group, group) || strcmp(rt->version, version))
			continue;
		gv = rt->api_version;
		resource_entries(rt, res);
	}
	if (!gv) {
		json_decref(res);
		return NULL;
	}
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
		"groupVersion", gv, "resources", res);
}

bool dc_discovery_handle(dc_req *rq, dc_resp *rs)
{
	dc_store *s = rq->srv->store;
	bool core = rq->nsegs >= 1 && !strcmp(rq->segs[0], "api");
	json_t *doc = NULL;

	if (rq->nsegs < 1 || (core && rq->nsegs > 2) || (!core && rq->nsegs > 3) ||
	    (!core && strcmp(rq->segs[0], "apis")))
		return false;
	if (strcmp(rq->method, "GET")) {
		dc_resp_error(rs, 405, "MethodNotAllowed",
			"the server does not allow this method on the requested resource (%s)", rq->method);
		return true;
	}
	pthread_mutex_lock(&s->mu);
	if (core && rq->nsegs == 1)
		doc = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
			"serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1");
	else if (core)
		doc = resource_list(s, "", rq->segs[1]);
	else if (rq->nsegs == 1)
		doc = group_list(s);
	else if (rq->nsegs == 2)
		doc = api_group(s, rq->segs[1]);
	else
		doc = resource_list(s, rq->segs[1], rq->segs[2]);
	pthread_mutex_unlock(&s->mu);
	if (doc)
		dc_resp_json(rs, 200, doc);
	else
		dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
	return true;
}
