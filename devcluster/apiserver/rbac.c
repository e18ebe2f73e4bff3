/* rbac.c: the RBAC authorizer as kube-apiserver's evaluates it
 * (plugin/pkg/auth/authorizer/rbac): every ClusterRoleBinding, then the
 * RoleBindings of the request's namespace, whose subjects name the user
 * (User), one of its groups (Group) or it as a ServiceAccount; the rules
 * of the role they refer to (a Role of the binding's namespace, or a
 * ClusterRole, with aggregationRule: the rules of the ClusterRoles its
 * selectors match); a rule allows when verbs, apiGroups, resources
 * ("pods", "pods/log", "*", "* /scale"), resourceNames or nonResourceURLs
 * ("/healthz", "/apis/ *", "*") match. Nothing allowed is a denial; a
 * binding to a missing role is an error named in the 403's message.
 *
 * Also the bootstrap policy: the default ClusterRoles (cluster-admin,
 * admin, edit, view, aggregated as on a real cluster, system:discovery,
 * system:basic-user, system:public-info-viewer) and their bindings. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define MAX_AGGREGATION_DEPTH 8

static bool has(const json_t *arr, const char *v)
{
	const json_t *x;
	size_t i;
	json_array_foreach(arr, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), v))
			return true;
	return false;
}

static bool rule_allows(const json_t *rule, const dc_attrs *a)
{
	const json_t *res, *x;
	size_t i;
	char combined[512];
	if (!has(json_object_get(rule, "verbs"), a->verb) && !has(json_object_get(rule, "verbs"), "*"))
		return false;
	if (!a->resource_request) {
		json_array_foreach(json_object_get(rule, "nonResourceURLs"), i, x) {
			const char *u = json_string_value(x);
			size_t n;
			if (!u)
				continue;
			n = strlen(u);
			if (!strcmp(u, "*") || !strcmp(u, a->path) ||
			    (n > 0 && u[n - 1] == '*' && !strncmp(u, a->path, n - 1)))
				return true;
		}
		return false;
	}
	if (!has(json_object_get(rule, "apiGroups"), a->group) && !has(json_object_get(rule, "apiGroups"), "*"))
		return false;
	snprintf(combined, sizeof(combined), "%s%s%s", a->resource, a->subresource[0] ? "/" : "", a->subresource);
	res = json_object_get(rule, "resources");
	{
		bool ok = false;
		json_array_foreach(res, i, x) {
			const char *r = json_string_value(x);
			if (!r)
				continue;
			if (!strcmp(r, "*") || !strcmp(r, combined) ||
			    (a->subresource[0] && !strncmp(r, "*/", 2) && !strcmp(r + 2, a->subresource)))
				ok = true;
		}
		if (!ok)
			return false;
	}
	x = json_object_get(rule, "resourceNames");
	return json_array_size(x) == 0 || has(x, a->name);
}

static dc_coll *rbac_coll(dc_store *s, const char *plural)
{
	return dc_store_coll(s, RBAC_GROUP, plural);
}

/* Append the rules of ClusterRole name to out (aggregation resolved). */
static bool cluster_role_rules(dc_store *s, const char *name, json_t *out, int depth)
{
	dc_coll *c = rbac_coll(s, "clusterroles");
	dc_entry *e = c ? dc_coll_get(c, "", name) : NULL;
	json_t *o, *sels, *sel, *r;
	size_t i, j;
	if (!e)
		return false;
	o = dc_obj_parse(e->obj);
	json_array_foreach(json_object_get(o, "rules"), i, r)
		json_array_append(out, r);
	sels = dc_json_path(o, "aggregationRule.clusterRoleSelectors");
	if (json_array_size(sels) && depth < MAX_AGGREGATION_DEPTH) {
		json_array_foreach(sels, i, sel) {
			char *text = dc_label_selector_format(sel), *err = NULL;
			dc_selector *ls = NULL;
			if (text && json_object_size(sel) && dc_label_selector_parse(&ls, text, &err) == 0) {
				for (j = 0; j < c->n; j++) {
					dc_obj *m = c->arr[j]->obj;
					if (!strcmp(m->name, name) || !m->labels || !dc_label_selector_match(ls, m->labels))
						continue;
					cluster_role_rules(s, m->name, out, depth + 1);
				}
			}
			dc_selector_free(ls);
			free(text);
			free(err);
		}
	}
	json_decref(o);
	return true;
}

/* The subject of binding b (in namespace ns, "" for a cluster binding)
 * that names u, or NULL. */
static const json_t *subject_for(const json_t *b, const char *ns, const dc_user *u)
{
	const json_t *sub;
	size_t i;
	json_array_foreach(json_object_get(b, "subjects"), i, sub) {
		const char *kind = json_string_value(json_object_get(sub, "kind"));
		const char *name = json_string_value(json_object_get(sub, "name"));
		if (!kind || !name)
			continue;
		if (!strcmp(kind, "User")) {
			if (!strcmp(name, u->name))
				return sub;
		} else if (!strcmp(kind, "Group")) {
			if (dc_user_in_group(u, name))
				return sub;
		} else if (!strcmp(kind, "ServiceAccount")) {
			const char *sns = json_string_value(json_object_get(sub, "namespace"));
			char full[600];
			if (!sns || !*sns)
				sns = ns;
			snprintf(full, sizeof(full), "system:serviceaccount:%s:%s", sns, name);
			if (sns && *sns && !strcmp(full, u->name))
				return sub;
		}
	}
	return NULL;
}

/* describeSubject(): a ServiceAccount is "name/namespace" */
static void describe_subject(char *buf, size_t size, const json_t *sub, const char *binding_ns)
{
	const char *kind = json_string_value(json_object_get(sub, "kind"));
	const char *name = json_string_value(json_object_get(sub, "name"));
	const char *ns = json_string_value(json_object_get(sub, "namespace"));
	if (!strcmp(kind, "ServiceAccount"))
		snprintf(buf, size, "%s \"%s/%s\"", kind, name, ns && *ns ? ns : binding_ns);
	else
		snprintf(buf, size, "%s \"%s\"", kind, name);
}

typedef struct visit {
	const dc_attrs *a;     /* NULL: collect every rule */
	bool allowed;
	char *reason;
	peerop__buf errors;
	int nerrors;
	json_t *rules;         /* collected rules (rules listing) */
} visit;

static void visit_error(visit *v, const char *kind, const char *name)
{
	peerop__buf_printf(&v->errors, "%s%s.rbac.authorization.k8s.io \"%s\" not found", v->nerrors ? ", " : "",
		kind, name);
	v->nerrors++;
}

/* Visit binding b (ns "" for a ClusterRoleBinding). */
static void visit_binding(dc_store *s, const json_t *b, const char *ns, const dc_user *u, visit *v)
{
	const json_t *sub = subject_for(b, ns, u);
	const char *kind = dc_json_str(b, "roleRef.kind"), *role = dc_json_str(b, "roleRef.name");
	json_t *rules, *r;
	size_t i;
	bool found = false;
	if (!sub || !kind || !role)
		return;
	rules = json_array();
	if (!strcmp(kind, "ClusterRole")) {
		found = cluster_role_rules(s, role, rules, 0);
		if (!found)
			visit_error(v, "clusterrole", role);
	} else if (!strcmp(kind, "Role") && *ns) {
		dc_coll *c = rbac_coll(s, "roles");
		dc_entry *e = c ? dc_coll_get(c, ns, role) : NULL;
		if (e) {
			json_t *o = dc_obj_parse(e->obj);
			json_array_extend(rules, json_object_get(o, "rules"));
			json_decref(o);
			found = true;
		} else {
			visit_error(v, "role", role);
		}
	}
	json_array_foreach(rules, i, r) {
		if (!v->a) {
			json_array_append(v->rules, r);
		} else if (!v->allowed && rule_allows(r, v->a)) {
			char subj[700];
			v->allowed = true;
			describe_subject(subj, sizeof(subj), sub, ns);
			if (*ns) {
				/* roleBindingDescriber: "name/namespace" */
				if (asprintf(&v->reason, "RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s",
					dc_json_str(b, "metadata.name"), ns, kind, role, subj) < 0)
					v->reason = NULL;
			} else if (asprintf(&v->reason, "RBAC: allowed by ClusterRoleBinding \"%s\" of %s \"%s\" to %s",
				dc_json_str(b, "metadata.name"), kind, role, subj) < 0) {
				v->reason = NULL;
			}
		}
	}
	json_decref(rules);
}

static void visit_all(dc_store *s, const dc_user *u, const char *ns, visit *v)
{
	dc_coll *c = rbac_coll(s, "clusterrolebindings");
	size_t i, lo, hi;
	for (i = 0; c && i < c->n && !v->allowed; i++) {
		json_t *b = dc_obj_parse(c->arr[i]->obj);
		visit_binding(s, b, "", u, v);
		json_decref(b);
	}
	c = rbac_coll(s, "rolebindings");
	if (!c || !ns || !*ns)
		return;
	dc_coll_range(c, ns, &lo, &hi);
	for (i = lo; i < hi && !v->allowed; i++) {
		json_t *b = dc_obj_parse(c->arr[i]->obj);
		visit_binding(s, b, ns, u, v);
		json_decref(b);
	}
}

bool dc_rbac_allowed(dc_store *s, const dc_user *u, const dc_attrs *a, char **reason)
{
	visit v;
	memset(&v, 0, sizeof(v));
	v.a = a;
	v.errors = (peerop__buf)PEEROP__BUF_INIT;
	if (reason)
		*reason = NULL;
	visit_all(s, u, a->ns, &v);
	if (v.allowed) {
		if (reason)
			*reason = v.reason;
		else
			free(v.reason);
	} else if (v.nerrors && reason) {
		/* utilerrors.NewAggregate: one error alone, else [e1, e2] */
		if (asprintf(reason, v.nerrors > 1 ? "RBAC: [%s]" : "RBAC: %s", v.errors.ptr) < 0)
			*reason = NULL;
	}
	peerop__buf_dispose(&v.errors);
	return v.allowed;
}

json_t *dc_rbac_rules_status(dc_store *s, const dc_user *u, const char *ns)
{
	visit v;
	json_t *res = json_array(), *nonres = json_array(), *r, *st;
	size_t i;
	static const char *const keys[] = { "verbs", "apiGroups", "resources", "resourceNames" };
	memset(&v, 0, sizeof(v));
	v.errors = (peerop__buf)PEEROP__BUF_INIT;
	v.rules = json_array();
	visit_all(s, u, ns, &v);
	json_array_foreach(v.rules, i, r) {
		json_t *o = json_object();
		size_t k;
		if (json_array_size(json_object_get(r, "nonResourceURLs"))) {
			json_object_set(o, "verbs", json_object_get(r, "verbs"));
			json_object_set(o, "nonResourceURLs", json_object_get(r, "nonResourceURLs"));
			json_array_append_new(nonres, o);
			continue;
		}
		for (k = 0; k < PEEROP__ARRAY_SIZE(keys); k++)
			if (json_object_get(r, keys[k]))
				json_object_set(o, keys[k], json_object_get(r, keys[k]));
		json_array_append_new(res, o);
	}
	st = json_pack("{s:o,s:o,s:b}", "resourceRules", res, "nonResourceRules", nonres, "incomplete", 0);
	if (v.nerrors)
		json_object_set_new(st, "evaluationError", json_string(v.errors.ptr));
	json_decref(v.rules);
	peerop__buf_dispose(&v.errors);
	return st;
}

/* ---- the bootstrap policy ---- */

#define RW "\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\""
#define RO "\"get\",\"list\",\"watch\""

static const char *const roles[][3] = {
	{ "cluster-admin", "",
	  "[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
	  "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]" },
	{ "admin", "{\"rbac.authorization.k8s.io/aggregate-to-admin\":\"true\"}", NULL },
	{ "edit", "{\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"}", NULL },
	{ "view", "{\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}", NULL },
	{ "system:aggregate-to-admin", "admin",
	  "[{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"localsubjectaccessreviews\"],\"verbs\":[\"create\"]},"
	  "{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"rolebindings\",\"roles\"],"
	  "\"verbs\":[" RW "," RO "]}]" },
	{ "system:aggregate-to-edit", "edit",
	  "[{\"apiGroups\":[\"\"],\"resources\":[\"pods/attach\",\"pods/exec\",\"pods/portforward\",\"pods/proxy\","
	  "\"secrets\",\"services/proxy\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts\"],\"verbs\":[\"impersonate\"]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/attach\",\"pods/exec\",\"pods/portforward\","
	  "\"pods/proxy\"],\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"pods/eviction\"],\"verbs\":[\"create\"]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"events\",\"persistentvolumeclaims\","
	  "\"replicationcontrollers\",\"replicationcontrollers/scale\",\"secrets\",\"serviceaccounts\",\"services\","
	  "\"services/proxy\"],\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts/token\"],\"verbs\":[\"create\"]},"
	  "{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"deployments\",\"deployments/rollback\","
	  "\"deployments/scale\",\"replicasets\",\"replicasets/scale\",\"statefulsets\",\"statefulsets/scale\"],"
	  "\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\"],\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"jobs\"],\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"networkpolicies\"],\"verbs\":[" RW "]},"
	  "{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\"],\"verbs\":[" RW "]}]" },
	{ "system:aggregate-to-view", "view",
	  "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\",\"persistentvolumeclaims\","
	  "\"persistentvolumeclaims/status\",\"pods\",\"replicationcontrollers\",\"replicationcontrollers/scale\","
	  "\"serviceaccounts\",\"services\",\"services/status\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"bindings\",\"events\",\"limitranges\",\"namespaces/status\","
	  "\"pods/log\",\"pods/status\",\"replicationcontrollers/status\",\"resourcequotas\",\"resourcequotas/status\"],"
	  "\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"apps\"],\"resources\":[\"controllerrevisions\",\"daemonsets\",\"daemonsets/status\","
	  "\"deployments\",\"deployments/scale\",\"deployments/status\",\"replicasets\",\"replicasets/scale\","
	  "\"replicasets/status\",\"statefulsets\",\"statefulsets/scale\",\"statefulsets/status\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\","
	  "\"horizontalpodautoscalers/status\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"cronjobs/status\",\"jobs\",\"jobs/status\"],"
	  "\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"ingresses/status\","
	  "\"networkpolicies\"],\"verbs\":[" RO "]},"
	  "{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\",\"poddisruptionbudgets/status\"],"
	  "\"verbs\":[" RO "]}]" },
	{ "system:discovery", "",
	  "[{\"nonResourceURLs\":[\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\",\"/livez\",\"/openapi\","
	  "\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]" },
	{ "system:basic-user", "",
	  "[{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"selfsubjectaccessreviews\","
	  "\"selfsubjectrulesreviews\"],\"verbs\":[\"create\"]},"
	  "{\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"selfsubjectreviews\"],\"verbs\":[\"create\"]}]" },
	{ "system:public-info-viewer", "",
	  "[{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]" },
};

static const char *const bindings[][3] = {
	{ "cluster-admin", "cluster-admin", "system:masters" },
	{ "system:discovery", "system:discovery", "system:authenticated" },
	{ "system:basic-user", "system:basic-user", "system:authenticated" },
	{ "system:public-info-viewer", "system:public-info-viewer", "system:authenticated,system:unauthenticated" },
};

static json_t *bootstrap_meta(const char *name)
{
	char uid[37], ts[32];
	dc_new_uid(uid);
	dc_now_rfc3339(ts, sizeof(ts));
	return json_pack("{s:s,s:s,s:s,s:{s:s},s:{s:s}}", "name", name, "uid", uid, "creationTimestamp", ts,
		"labels", "kubernetes.io/bootstrapping", "rbac-defaults",
		"annotations", "rbac.authorization.kubernetes.io/autoupdate", "true");
}

int dc_rbac_bootstrap(dc_store *s)
{
	dc_coll *cr = rbac_coll(s, "clusterroles"), *crb = rbac_coll(s, "clusterrolebindings");
	size_t i;
	int rc = 0;
	if (!cr || !crb)
		return 0;
	for (i = 0; rc == 0 && i < PEEROP__ARRAY_SIZE(roles); i++) {
		const char *name = roles[i][0], *agg = roles[i][1], *rules = roles[i][2];
		json_t *o, *meta;
		if (dc_coll_get(cr, "", name))
			continue;
		meta = bootstrap_meta(name);
		o = json_pack("{s:s,s:s,s:o}", "kind", "ClusterRole", "apiVersion", RBAC_GROUP "/v1", "metadata", meta);
		if (rules) {
			json_object_set_new(o, "rules", json_loads(rules, 0, NULL));
			/* the aggregated roles' parts: view into edit, edit into admin */
			if (*agg) {
				json_t *labels = json_object_get(meta, "labels");
				char key[128];
				snprintf(key, sizeof(key), "rbac.authorization.k8s.io/aggregate-to-%s", agg);
				json_object_set_new(labels, key, json_string("true"));
			}
		} else {
			json_object_set_new(o, "aggregationRule", json_pack("{s:[{s:o}]}", "clusterRoleSelectors",
				"matchLabels", json_loads(agg, 0, NULL)));
			json_object_set_new(o, "rules", json_array());
			if (!strcmp(name, "edit"))
				json_object_set_new(json_object_get(meta, "labels"),
					"rbac.authorization.k8s.io/aggregate-to-admin", json_string("true"));
			if (!strcmp(name, "view"))
				json_object_set_new(json_object_get(meta, "labels"),
					"rbac.authorization.k8s.io/aggregate-to-edit", json_string("true"));
		}
		rc = o && json_is_array(json_object_get(o, "rules")) ? dc_store_commit(s, cr, "", name, o, NULL) :
			PEEROP_ENOMEM;
		json_decref(o);
	}
	for (i = 0; rc == 0 && i < PEEROP__ARRAY_SIZE(bindings); i++) {
		json_t *o, *subs = json_array();
		const char *p = bindings[i][2];
		if (dc_coll_get(crb, "", bindings[i][0])) {
			json_decref(subs);
			continue;
		}
		while (p && *p) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			json_array_append_new(subs, json_pack("{s:s,s:s,s:s%}", "apiGroup", RBAC_GROUP, "kind", "Group",
				"name", p, n));
			p = comma ? comma + 1 : NULL;
		}
		o = json_pack("{s:s,s:s,s:o,s:{s:s,s:s,s:s},s:o}", "kind", "ClusterRoleBinding",
			"apiVersion", RBAC_GROUP "/v1", "metadata", bootstrap_meta(bindings[i][0]),
			"roleRef", "apiGroup", RBAC_GROUP, "kind", "ClusterRole", "name", bindings[i][1], "subjects", subs);
		rc = o ? dc_store_commit(s, crb, "", bindings[i][0], o, NULL) : PEEROP_ENOMEM;
		json_decref(o);
	}
	return rc;
}
