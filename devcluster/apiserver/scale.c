/* scale.c: the autoscaling/v1 Scale view of an object with a scale
 * subresource (deployments, and CRDs that declare one). */
#include "apiserver.h"

#include <stdlib.h>
#include <string.h>

json_t *dc_scale_get(const dc_rtype *rt, const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	json_t *spec_r = dc_json_path(obj, rt->scale_spec);
	json_t *status_r = dc_json_path(obj, rt->scale_status);
	json_t *sc, *m, *st;
	json_t *v;
	static const char *const keep[] = { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" };
	size_t i;

	sc = json_pack("{s:s,s:s}", "kind", "Scale", "apiVersion", "autoscaling/v1");
	m = json_object();
	for (i = 0; i < PEEROP__ARRAY_SIZE(keep); i++)
		if ((v = json_object_get(meta, keep[i])))
			json_object_set(m, keep[i], v);
	json_object_set_new(sc, "metadata", m);
	json_object_set_new(sc, "spec", json_pack("{s:I}", "replicas",
		(json_int_t)(json_is_integer(spec_r) ? json_integer_value(spec_r) : 0)));
	st = json_pack("{s:I}", "replicas",
		(json_int_t)(json_is_integer(status_r) ? json_integer_value(status_r) : 0));
	if (!(rt->flags & DC_RT_CUSTOM)) {
		/* built-ins report their label selector as a string */
		char *sel = dc_label_selector_format(dc_json_path(obj, "spec.selector"));
		if (sel && *sel)
			json_object_set_new(st, "selector", json_string(sel));
		free(sel);
	} else if (rt->scale_selector && *rt->scale_selector) {
		const char *sel = dc_json_str(obj, rt->scale_selector);
		if (sel)
			json_object_set_new(st, "selector", json_string(sel));
	}
	json_object_set_new(sc, "status", st);
	return sc;
}

int dc_scale_set(const dc_rtype *rt, json_t *obj, const json_t *scale, char **err)
{
	json_t *r = dc_json_path(scale, "spec.replicas");
	if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > INT32_MAX) {
		*err = strdup("spec.replicas: Invalid value: must be a non-negative 32-bit integer");
		return 422;
	}
	if (dc_json_set_path(obj, rt->scale_spec, json_integer(json_integer_value(r))) != 0) {
		*err = strdup("cannot set the replicas field");
		return 500;
	}
	return 0;
}
