/* crd.c: CustomResourceDefinitions. A stored CRD is served at once: one
 * resource type per served version, all sharing one storage collection.
 * Deleting the CRD deletes its objects and stops serving them. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : ""), *p;
	for (p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* ".spec.replicas" -> "spec.replicas" */
static char *jsonpath_dup(const char *p)
{
	if (!p)
		return NULL;
	return strdup(p[0] == '.' ? p + 1 : p);
}

static char *join_strings(const json_t *arr)
{
	peerop__buf b = PEEROP__BUF_INIT;
	json_t *v;
	size_t i;
	peerop__buf_puts(&b, "");
	json_array_foreach(arr, i, v)
		if (json_is_string(v))
			peerop__buf_printf(&b, "%s%s", b.len ? "," : "", json_string_value(v));
	return peerop__buf_detach(&b);
}

static void register_types(dc_store *s, const json_t *crd)
{
	const json_t *spec = json_object_get(crd, "spec");
	const json_t *names = json_object_get(spec, "names");
	const char *group = json_string_value(json_object_get(spec, "group"));
	const char *plural = json_string_value(json_object_get(names, "plural"));
	const char *kind = json_string_value(json_object_get(names, "kind"));
	const char *scope = json_string_value(json_object_get(spec, "scope"));
	json_t *v;
	size_t i;

	if (!group || !plural || !kind)
		return;
	json_array_foreach(json_object_get(spec, "versions"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const json_t *sub = json_object_get(v, "subresources");
		const json_t *scale = json_object_get(sub, "scale");
		const char *lk = json_string_value(json_object_get(names, "listKind"));
		const char *sg = json_string_value(json_object_get(names, "singular"));
		dc_rtype *rt;
		if (!name || json_is_false(json_object_get(v, "served")))
			continue;
		rt = dc_rtype_new();
		if (!rt)
			return;
		rt->group = strdup(group);
		rt->version = strdup(name);
		rt->plural = strdup(plural);
		rt->singular = sg && *sg ? strdup(sg) : lower_dup(kind);
		rt->kind = strdup(kind);
		if (lk && *lk)
			rt->list_kind = strdup(lk);
		rt->namespaced = !scope || strcmp(scope, "Cluster") != 0;
		rt->storage = json_is_true(json_object_get(v, "storage"));
		rt->flags = DC_RT_CUSTOM | DC_RT_GENERATION;
		if (json_object_get(sub, "status"))
			rt->flags |= DC_RT_STATUS;
		if (json_is_object(scale)) {
			rt->flags |= DC_RT_SCALE;
			rt->scale_spec = jsonpath_dup(json_string_value(json_object_get(scale, "specReplicasPath")));
			rt->scale_status = jsonpath_dup(json_string_value(json_object_get(scale, "statusReplicasPath")));
			rt->scale_selector = jsonpath_dup(json_string_value(json_object_get(scale, "labelSelectorPath")));
			if (!rt->scale_spec)
				rt->scale_spec = strdup("spec.replicas");
			if (!rt->scale_status)
				rt->scale_status = strdup("status.replicas");
			if (!rt->scale_selector)
				rt->scale_selector = strdup("");
		}
		rt->short_names = join_strings(json_object_get(names, "shortNames"));
		rt->categories = join_strings(json_object_get(names, "categories"));
		if (json_object_get(v, "additionalPrinterColumns"))
			rt->printer_columns = json_deep_copy(json_object_get(v, "additionalPrinterColumns"));
		if (dc_json_path(v, "schema.openAPIV3Schema")) {
			json_t *props;
			rt->schema = json_deep_copy(dc_json_path(v, "schema.openAPIV3Schema"));
			rt->admit = dc_schema_admit;
			/* metadata is an ObjectMeta whatever the CRD says (the real
			 * server decodes it so): field ownership splits it that way */
			props = json_object_get(rt->schema, "properties");
			if (!json_is_object(props)) {
				props = json_object();
				json_object_set_new(rt->schema, "properties", props);
			}
			json_object_set_new(props, "metadata", json_pack("{s:s}", "$ref",
				"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
		}
		if (!rt->group || !rt->version || !rt->plural || !rt->singular || !rt->kind) {
			dc_rtype_free(rt);
			return;
		}
		if (dc_rtype_add(s, rt) != 0)
			return;
	}
}

static dc_coll *crd_coll(dc_store *s, const json_t *crd, bool create)
{
	const char *group = dc_json_str(crd, "spec.group");
	const char *plural = dc_json_str(crd, "spec.names.plural");
	size_t i;
	if (!group || !plural)
		return NULL;
	if (create)
		return dc_store_coll(s, group, plural);
	for (i = 0; i < s->ncolls; i++)
		if (!strcmp(s->colls[i]->group, group) && !strcmp(s->colls[i]->plural, plural))
			return s->colls[i];
	return NULL;
}

void dc_crd_on_commit(dc_store *s, dc_coll *c, const dc_obj *obj, const dc_obj *old)
{
	(void)c;
	if (old) {
		json_t *o = dc_obj_parse(old);
		dc_coll *oc = crd_coll(s, o, false);
		if (oc)
			dc_rtypes_remove_coll(s, oc);
		json_decref(o);
	}
	if (obj) {
		json_t *o = dc_obj_parse(obj);
		register_types(s, o);
		json_decref(o);
	}
	/* watchers of a collection that stopped being served must end */
	pthread_cond_broadcast(&s->cond);
}

char *dc_crd_validate(dc_store *s, const json_t *crd, const json_t *old)
{
	const char *group = dc_json_str(crd, "spec.group");
	const char *plural = dc_json_str(crd, "spec.names.plural");
	const char *kind = dc_json_str(crd, "spec.names.kind");
	const char *scope = dc_json_str(crd, "spec.scope");
	const char *name = dc_json_str(crd, "metadata.name");
	json_t *versions = dc_json_path(crd, "spec.versions"), *v;
	size_t i, nstorage = 0;
	char *msg = NULL, want[512];
	const char *p;

	if (!group || !strchr(group, '.'))
		return strdup("spec.group: Invalid value: should be a domain with at least one dot");
	if (!plural || !*plural)
		return strdup("spec.names.plural: Required value");
	for (p = plural; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return strdup("spec.names.plural: Invalid value: must be a lowercase RFC 1123 label");
	if (!kind || !*kind)
		return strdup("spec.names.kind: Required value");
	if (!scope || (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster")))
		return strdup("spec.scope: Unsupported value: supported values: \"Cluster\", \"Namespaced\"");
	snprintf(want, sizeof(want), "%s.%s", plural, group);
	if (!name || strcmp(name, want)) {
		if (asprintf(&msg, "metadata.name: Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group",
			name ? name : "") < 0)
			msg = NULL;
		return msg ? msg : strdup("metadata.name: Invalid value");
	}
	if (!json_is_array(versions) || json_array_size(versions) == 0)
		return strdup("spec.versions: Invalid value: must have exactly one version marked as storage version");
	json_array_foreach(versions, i, v) {
		if (!json_is_string(json_object_get(v, "name")))
			return strdup("spec.versions[].name: Required value");
		if (json_is_true(json_object_get(v, "storage")))
			nstorage++;
	}
	if (nstorage != 1)
		return strdup("spec.versions: Invalid value: must have exactly one version marked as storage version");
	if (old) {
		const char *og = dc_json_str(old, "spec.group"), *os = dc_json_str(old, "spec.scope");
		if (og && strcmp(og, group))
			return strdup("spec.group: Invalid value: field is immutable");
		if (os && strcmp(os, scope))
			return strdup("spec.scope: Invalid value: field is immutable");
	}
	(void)s;
	return NULL;
}

void dc_crd_set_status(json_t *crd)
{
	json_t *names = json_deep_copy(dc_json_path(crd, "spec.names"));
	json_t *versions = dc_json_path(crd, "spec.versions"), *v, *stored = json_array();
	const char *kind = dc_json_str(crd, "spec.names.kind");
	char ts[32], buf[256];
	size_t i;
	dc_now_rfc3339(ts, sizeof(ts));
	if (!json_object_get(names, "singular") && kind)
		json_object_set_new(names, "singular", json_string_nocheck(""));
	if (kind) {
		char *lk = lower_dup(kind);
		if (!json_string_length(json_object_get(names, "singular")))
			json_object_set_new(names, "singular", json_string(lk));
		free(lk);
		if (!json_object_get(names, "listKind")) {
			snprintf(buf, sizeof(buf), "%sList", kind);
			json_object_set_new(names, "listKind", json_string(buf));
		}
	}
	json_array_foreach(versions, i, v)
		if (json_is_true(json_object_get(v, "storage")))
			json_array_append(stored, json_object_get(v, "name"));
	json_object_set_new(crd, "status", json_pack("{s:[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}],s:o,s:o}",
		"conditions",
		"type", "NamesAccepted", "status", "True", "lastTransitionTime", ts,
		"reason", "NoConflicts", "message", "no conflicts found",
		"type", "Established", "status", "True", "lastTransitionTime", ts,
		"reason", "InitialNamesAccepted", "message", "the initial names have been accepted",
		"acceptedNames", names, "storedVersions", stored));
}

int dc_crd_delete_objects(dc_store *s, const json_t *crd)
{
	dc_coll *c = crd_coll(s, crd, false);
	int rc = 0;
	/* custom resources go with their definition, finalizers or not */
	while (c && c->n > 0 && rc == 0) {
		dc_obj *gone = dc_obj_ref(c->arr[c->n - 1]->obj);
		rc = dc_store_commit(s, c, gone->ns, gone->name, NULL, NULL);
		if (rc == 0)
			rc = dc_gc_after_remove(s, gone);
		dc_obj_unref(gone);
	}
	return rc;
}
