/* rtypes.c: the resource type table.
 *
 * Every built-in resource is one row of `builtin` below: group, version,
 * plural, singular, kind, scope, subresources, short names, categories and
 * the extra field selectors it supports, plus its behaviour hooks (defaults
 * on create, conversion between storage and served versions). CRDs add rows
 * at run time (crd.c). Discovery, OpenAPI and Table output read the
 * same rows. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- defaults applied on create, as the real server's defaulting does ---- */

static void set_default(json_t *o, const char *path, json_t *v)
{
	if (!dc_json_path(o, path))
		dc_json_set_path(o, path, v);
	else
		json_decref(v);
}

static void namespace_defaults(json_t *o)
{
	const char *name = dc_json_str(o, "metadata.name");
	set_default(o, "spec.finalizers", json_pack("[s]", "kubernetes"));
	set_default(o, "status.phase", json_string("Active"));
	/* the real server labels every namespace with its own name */
	if (name) {
		json_t *meta = dc_json_meta(o), *labels = json_object_get(meta, "labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(meta, "labels", labels);
		}
		json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
	}
}

static void secret_defaults(json_t *o)
{
	set_default(o, "type", json_string("Opaque"));
}

static void service_defaults(json_t *o)
{
	json_t *ports, *p;
	size_t i;
	const char *type;
	set_default(o, "spec.type", json_string("ClusterIP"));
	set_default(o, "spec.sessionAffinity", json_string("None"));
	type = dc_json_str(o, "spec.type");
	if (type && strcmp(type, "ExternalName") != 0 && !dc_json_path(o, "spec.clusterIP")) {
		/* a stable-looking address from the service range; nothing routes it */
		char ip[32];
		uint64_t r = peerop__rand_below(65534) + 1;
		snprintf(ip, sizeof(ip), "10.96.%u.%u", (unsigned)(r >> 8), (unsigned)(r & 0xff));
		dc_json_set_path(o, "spec.clusterIP", json_string(ip));
		dc_json_set_path(o, "spec.clusterIPs", json_pack("[s]", ip));
		set_default(o, "spec.ipFamilies", json_pack("[s]", "IPv4"));
		set_default(o, "spec.ipFamilyPolicy", json_string("SingleStack"));
	}
	ports = dc_json_path(o, "spec.ports");
	json_array_foreach(ports, i, p) {
		if (!json_object_get(p, "protocol"))
			json_object_set_new(p, "protocol", json_string("TCP"));
		if (!json_object_get(p, "targetPort") && json_object_get(p, "port"))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
	}
	set_default(o, "status.loadBalancer", json_object());
}

static void pod_defaults(json_t *o)
{
	set_default(o, "spec.restartPolicy", json_string("Always"));
	set_default(o, "spec.dnsPolicy", json_string("ClusterFirst"));
	set_default(o, "spec.schedulerName", json_string("default-scheduler"));
	set_default(o, "spec.terminationGracePeriodSeconds", json_integer(30));
	set_default(o, "status.phase", json_string("Pending"));
	/* the API server records the QoS class at creation */
	set_default(o, "status.qosClass", json_string(dc_pod_qos(dc_json_path(o, "spec"))));
}

static void deployment_defaults(json_t *o)
{
	set_default(o, "spec.replicas", json_integer(1));
	set_default(o, "spec.revisionHistoryLimit", json_integer(10));
	set_default(o, "spec.progressDeadlineSeconds", json_integer(600));
	set_default(o, "spec.strategy", json_pack("{s:s,s:{s:s,s:s}}", "type", "RollingUpdate",
		"rollingUpdate", "maxUnavailable", "25%", "maxSurge", "25%"));
}

static void replicaset_defaults(json_t *o)
{
	set_default(o, "spec.replicas", json_integer(1));
}

/* ---- conversion ---- */

/* Set kind and apiVersion, first in key order as the real server writes them. */
static void set_type_meta(json_t *o, const char *api_version, const char *kind)
{
	json_t *rest = json_copy(o);
	const char *k;
	json_t *v;
	json_object_clear(o);
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "apiVersion", json_string(api_version));
	json_object_foreach(rest, k, v)
		if (strcmp(k, "kind") && strcmp(k, "apiVersion"))
			json_object_set(o, k, v);
	json_decref(rest);
}

static void set_api_version(json_t *o, const dc_rtype *rt)
{
	set_type_meta(o, rt->api_version, rt->kind);
}

static void cr_to_version(json_t *o, const dc_rtype *rt)
{
	set_api_version(o, rt);
}

static void cr_from_version(json_t *o, const dc_rtype *rt)
{
	set_api_version(o, rt->coll->storage_type ? rt->coll->storage_type : rt);
}

/* core/v1 Event field <-> events.k8s.io/v1 Event field */
static const char *const event_renames[][2] = {
	{ "involvedObject", "regarding" },
	{ "message", "note" },
	{ "source", "deprecatedSource" },
	{ "firstTimestamp", "deprecatedFirstTimestamp" },
	{ "lastTimestamp", "deprecatedLastTimestamp" },
	{ "count", "deprecatedCount" },
	{ "reportingComponent", "reportingController" },
};

static void rename_fields(json_t *o, int from, int to)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(event_renames); i++) {
		json_t *v = json_object_get(o, event_renames[i][from]);
		if (v) {
			json_object_set(o, event_renames[i][to], v);
			json_object_del(o, event_renames[i][from]);
		}
	}
}

static void event_to_v1(json_t *o, const dc_rtype *rt)
{
	set_api_version(o, rt);
	rename_fields(o, 0, 1);
}

static void event_from_v1(json_t *o, const dc_rtype *rt)
{
	set_type_meta(o, "v1", "Event");
	(void)rt;
	rename_fields(o, 1, 0);
}

/* ---- field selectors beyond metadata.name and metadata.namespace ---- */

static const char *scalar_at(const json_t *o, const char *path)
{
	static __thread char num[32];
	const json_t *v = dc_json_path(o, path);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return num;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return "";
}

static const char *event_field(const json_t *o, const char *field)
{
	char path[128];
	/* events.k8s.io names (regarding.*) select the same stored fields */
	if (strncmp(field, "regarding.", 10) == 0) {
		snprintf(path, sizeof(path), "involvedObject.%s", field + 10);
		return scalar_at(o, path);
	}
	if (strcmp(field, "source") == 0)
		return scalar_at(o, "source.component");
	return scalar_at(o, field);
}

static const char *plain_field(const json_t *o, const char *field)
{
	return scalar_at(o, field);
}

/* ---- the table ---- */

typedef struct rtype_def {
	const char *group, *version, *plural, *singular, *kind;
	bool namespaced;
	unsigned flags;
	const char *short_names, *categories, *fields;
	const char *scale_spec, *scale_status, *scale_selector;
	void (*defaults)(json_t *);
	void (*to_version)(json_t *, const dc_rtype *);
	void (*from_version)(json_t *, const dc_rtype *);
	const char *(*field_value)(const json_t *, const char *);
	bool storage;
} rtype_def;

#define EVENT_FIELDS "involvedObject.kind,involvedObject.namespace,involvedObject.name," \
	"involvedObject.uid,involvedObject.apiVersion,involvedObject.resourceVersion," \
	"involvedObject.fieldPath,reason,reportingComponent,source,type"
#define EVENT_V1_FIELDS EVENT_FIELDS ",regarding.kind,regarding.namespace,regarding.name," \
	"regarding.uid,regarding.apiVersion,regarding.resourceVersion,regarding.fieldPath"

static const rtype_def builtin[] = {
	{ "", "v1", "namespaces", "namespace", "Namespace", false, DC_RT_STATUS | DC_RT_FINALIZE,
	  "ns", "", "status.phase", NULL, NULL, NULL, namespace_defaults, NULL, NULL, plain_field, true },
	{ "", "v1", "configmaps", "configmap", "ConfigMap", true, 0,
	  "cm", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "", "v1", "secrets", "secret", "Secret", true, 0,
	  "", "", "type", NULL, NULL, NULL, secret_defaults, NULL, NULL, plain_field, true },
	{ "", "v1", "services", "service", "Service", true, DC_RT_STATUS,
	  "svc", "all", "spec.clusterIP,spec.type", NULL, NULL, NULL, service_defaults, NULL, NULL,
	  plain_field, true },
	{ "", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, 0,
	  "sa", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "", "v1", "pods", "pod", "Pod", true, DC_RT_STATUS | DC_RT_LOG,
	  "po", "all", "spec.nodeName,spec.restartPolicy,spec.schedulerName,spec.serviceAccountName,"
	  "status.phase,status.podIP,status.nominatedNodeName", NULL, NULL, NULL,
	  pod_defaults, NULL, NULL, plain_field, true },
	{ "", "v1", "events", "event", "Event", true, 0,
	  "ev", "", EVENT_FIELDS, NULL, NULL, NULL, NULL, NULL, NULL, event_field, true },
	{ "events.k8s.io", "v1", "events", "event", "Event", true, 0,
	  "ev", "", EVENT_V1_FIELDS, NULL, NULL, NULL, NULL, event_to_v1, event_from_v1, event_field, false },
	{ "apps", "v1", "deployments", "deployment", "Deployment", true,
	  DC_RT_STATUS | DC_RT_SCALE | DC_RT_GENERATION,
	  "deploy", "all", "", "spec.replicas", "status.replicas", "", deployment_defaults,
	  NULL, NULL, NULL, true },
	{ "apps", "v1", "replicasets", "replicaset", "ReplicaSet", true,
	  DC_RT_STATUS | DC_RT_SCALE | DC_RT_GENERATION,
	  "rs", "all", "status.replicas", "spec.replicas", "status.replicas", "", replicaset_defaults,
	  NULL, NULL, plain_field, true },
	{ "", "v1", "nodes", "node", "Node", false, DC_RT_STATUS,
	  "no", "", "spec.unschedulable", NULL, NULL, NULL, NULL, NULL, NULL, plain_field, true },
	{ "coordination.k8s.io", "v1", "leases", "lease", "Lease", true, 0,
	  "", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	/* Stored and served (charts create them), not acted on: no evictions,
	 * and pods share the host's network, so nothing enforces a policy. */
	{ "policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true,
	  DC_RT_STATUS | DC_RT_GENERATION, "pdb", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true,
	  DC_RT_GENERATION, "netpol", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	/* RBAC objects: the authorizer (rbac.c) reads them on every request */
	{ "rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, 0,
	  "", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, 0,
	  "", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, 0,
	  "", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
	  false, 0, "", "", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
	{ "apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
	  "CustomResourceDefinition", false, DC_RT_STATUS | DC_RT_GENERATION,
	  "crd,crds", "api-extensions", "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, true },
};

dc_rtype *dc_rtype_new(void)
{
	return calloc(1, sizeof(dc_rtype));
}

void dc_rtype_free(dc_rtype *rt)
{
	if (!rt)
		return;
	free(rt->group);
	free(rt->version);
	free(rt->api_version);
	free(rt->plural);
	free(rt->singular);
	free(rt->kind);
	free(rt->list_kind);
	free(rt->short_names);
	free(rt->categories);
	free(rt->fields);
	free(rt->scale_spec);
	free(rt->scale_status);
	free(rt->scale_selector);
	json_decref(rt->printer_columns);
	json_decref(rt->schema);
	free(rt);
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

dc_rtype *dc_rtype_clone(const dc_rtype *rt)
{
	dc_rtype *c = dc_rtype_new();
	if (!c)
		return NULL;
	*c = *rt;
	c->group = sdup(rt->group);
	c->version = sdup(rt->version);
	c->api_version = sdup(rt->api_version);
	c->plural = sdup(rt->plural);
	c->singular = sdup(rt->singular);
	c->kind = sdup(rt->kind);
	c->list_kind = sdup(rt->list_kind);
	c->short_names = sdup(rt->short_names);
	c->categories = sdup(rt->categories);
	c->fields = sdup(rt->fields);
	c->scale_spec = sdup(rt->scale_spec);
	c->scale_status = sdup(rt->scale_status);
	c->scale_selector = sdup(rt->scale_selector);
	c->printer_columns = json_incref(rt->printer_columns);
	c->schema = json_incref(rt->schema);
	if (!c->group || !c->version || !c->api_version || !c->plural || !c->kind || !c->fields) {
		dc_rtype_free(c);
		return NULL;
	}
	return c;
}

int dc_rtype_add(dc_store *s, dc_rtype *rt)
{
	char buf[512];
	if (!rt->api_version) {
		if (rt->group[0])
			snprintf(buf, sizeof(buf), "%s/%s", rt->group, rt->version);
		else
			snprintf(buf, sizeof(buf), "%s", rt->version);
		rt->api_version = strdup(buf);
	}
	if (!rt->list_kind) {
		snprintf(buf, sizeof(buf), "%sList", rt->kind);
		rt->list_kind = strdup(buf);
	}
	if (!rt->short_names)
		rt->short_names = strdup("");
	if (!rt->categories)
		rt->categories = strdup("");
	if (!rt->fields)
		rt->fields = strdup("");
	if ((rt->flags & DC_RT_CUSTOM) && !rt->to_version) {
		rt->to_version = cr_to_version;
		rt->from_version = cr_from_version;
	}
	rt->coll = dc_store_coll(s, rt->group, rt->plural);
	if (!rt->api_version || !rt->list_kind || !rt->coll) {
		dc_rtype_free(rt);
		return PEEROP_ENOMEM;
	}
	rt->coll->namespaced = rt->namespaced;
	rt->coll->active = true;
	if (rt->storage)
		rt->coll->storage_type = rt;
	if (s->ntypes == s->types_cap) {
		size_t ncap = s->types_cap ? s->types_cap * 2 : 32;
		dc_rtype **nt = realloc(s->types, ncap * sizeof(*nt));
		if (!nt) {
			dc_rtype_free(rt);
			return PEEROP_ENOMEM;
		}
		s->types = nt;
		s->types_cap = ncap;
	}
	s->types[s->ntypes++] = rt;
	return 0;
}

int dc_rtypes_init_builtin(dc_store *s)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(builtin); i++) {
		const rtype_def *d = &builtin[i];
		dc_rtype *rt = dc_rtype_new();
		int rc;
		if (!rt)
			return PEEROP_ENOMEM;
		rt->group = sdup(d->group);
		rt->version = sdup(d->version);
		rt->plural = sdup(d->plural);
		rt->singular = sdup(d->singular);
		rt->kind = sdup(d->kind);
		rt->namespaced = d->namespaced;
		rt->flags = d->flags;
		rt->short_names = sdup(d->short_names);
		rt->categories = sdup(d->categories);
		rt->fields = sdup(d->fields);
		rt->scale_spec = sdup(d->scale_spec);
		rt->scale_status = sdup(d->scale_status);
		rt->scale_selector = sdup(d->scale_selector);
		rt->defaults = d->defaults;
		rt->to_version = d->to_version;
		rt->from_version = d->from_version;
		rt->field_value = d->field_value;
		rt->admit = dc_builtin_admit_for(d->group, d->plural);
		rt->storage = d->storage;
		/* events.k8s.io/v1 events are stored with core/v1 events */
		if (strcmp(d->group, "events.k8s.io") == 0) {
			free(rt->group);
			rt->group = strdup("");
			rc = dc_rtype_add(s, rt);
			if (rc == 0) {
				free(rt->group);
				rt->group = strdup("events.k8s.io");
				free(rt->api_version);
				rt->api_version = strdup("events.k8s.io/v1");
			}
		} else {
			rc = dc_rtype_add(s, rt);
		}
		if (rc != 0)
			return rc;
	}
	/* the built-in OpenAPI schema of each type, looked up once (every write
	 * reads it for managed fields) */
	for (i = 0; i < s->ntypes; i++) {
		const char *name = dc_builtin_schema_name(s->types[i]->group, s->types[i]->version, s->types[i]->kind);
		if (name && !s->types[i]->schema)
			s->types[i]->schema = json_incref(json_object_get(dc_builtin_schemas(), name));
	}
	return 0;
}

const dc_rtype *dc_rtype_find(dc_store *s, const char *group, const char *version, const char *plural)
{
	size_t i;
	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		if (strcmp(rt->plural, plural) == 0 && strcmp(rt->version, version) == 0 &&
		    strcmp(rt->group, group) == 0)
			return rt;
	}
	return NULL;
}

const dc_rtype *dc_rtype_find_kind(dc_store *s, const char *group, const char *kind)
{
	size_t i;
	const dc_rtype *any = NULL;
	for (i = 0; i < s->ntypes; i++) {
		const dc_rtype *rt = s->types[i];
		if (strcmp(rt->kind, kind) == 0 && strcmp(rt->group, group) == 0) {
			if (rt->storage)
				return rt;
			any = rt;
		}
	}
	return any;
}

void dc_rtypes_remove_coll(dc_store *s, dc_coll *c)
{
	size_t i, j = 0;
	for (i = 0; i < s->ntypes; i++) {
		if (s->types[i]->coll == c)
			dc_rtype_free(s->types[i]);
		else
			s->types[j++] = s->types[i];
	}
	s->ntypes = j;
	c->active = false;
	c->storage_type = NULL;
}

void dc_rtype_out(const dc_rtype *rt, json_t *obj)
{
	if (rt->to_version && !rt->storage)
		rt->to_version(obj, rt);
}

void dc_rtype_in(const dc_rtype *rt, json_t *obj)
{
	if (rt->from_version && !rt->storage)
		rt->from_version(obj, rt);
	else if (rt->storage) {
		/* clients may omit kind/apiVersion on writes; store them */
		set_api_version(obj, rt);
	}
}

const char *dc_rtype_field(const dc_rtype *rt, const json_t *obj, const char *field, bool *supported)
{
	const char *p = rt->fields;
	size_t n = strlen(field);
	*supported = false;
	if (strcmp(field, "metadata.name") == 0 || strcmp(field, "metadata.namespace") == 0) {
		*supported = true;
		return obj ? scalar_at(obj, field) : NULL;
	}
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, field, n) == 0) {
			*supported = true;
			break;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (!*supported || !obj)
		return NULL;
	return rt->field_value ? rt->field_value(obj, field) : scalar_at(obj, field);
}

int dc_rtype_render(const dc_rtype *rt, const dc_obj *o, peerop__buf *b)
{
	json_t *obj;
	if (rt->storage || !rt->to_version)
		return peerop__buf_put(b, o->json, o->len);
	obj = dc_obj_parse(o);
	if (!obj)
		return PEEROP_ENOMEM;
	return dc_rtype_render_json(rt, obj, b);
}

int dc_rtype_render_json(const dc_rtype *rt, json_t *obj, peerop__buf *b)
{
	char *s;
	int rc;
	dc_rtype_out(rt, obj);
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!s)
		return PEEROP_ENOMEM;
	rc = peerop__buf_puts(b, s);
	free(s);
	return rc;
}
