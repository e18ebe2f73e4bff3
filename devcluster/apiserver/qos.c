/* qos.c: a pod's quality of service class, which the API server records
 * in status.qosClass when the pod is created (pkg/apis/core/helper/qos):
 *
 *   Guaranteed  every container has cpu and memory limits, and requests
 *               (defaulting to the limits) equal to them
 *   BestEffort  no container requests or limits cpu or memory
 *   Burstable   anything else
 *
 * Quantities are compared by value ("1" == "1000m", "1Gi" == "1024Mi"). */
#include "apiserver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool dc_quantity_parse(const char *s, double *out)
{
	static const struct { const char *sfx; double mul; } sfx[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
		{ "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 },
		{ "n", 1e-9 }, { "u", 1e-6 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
		{ "P", 1e15 }, { "E", 1e18 }, { "", 1.0 },
	};
	char *end;
	double v;
	size_t i;
	if (!s || !*s)
		return false;
	v = strtod(s, &end);
	if (end == s || !isfinite(v))
		return false;
	for (i = 0; i < PEEROP__ARRAY_SIZE(sfx); i++)
		if (!strcmp(end, sfx[i].sfx)) {
			*out = v * sfx[i].mul;
			return true;
		}
	return false;
}

static bool quantity(const json_t *v, double *out)
{
	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v);
		return true;
	}
	return dc_quantity_parse(json_string_value(v), out);
}

const char *dc_pod_qos(const json_t *spec)
{
	static const char *const res[] = { "cpu", "memory" };
	const json_t *c, *lists[2];
	bool any = false, guaranteed = true;
	size_t i, l, r;
	lists[0] = json_object_get(spec, "containers");
	lists[1] = json_object_get(spec, "initContainers");
	for (l = 0; l < 2; l++) {
		json_array_foreach(lists[l], i, c) {
			const json_t *req = dc_json_path(c, "resources.requests"), *lim = dc_json_path(c, "resources.limits");
			for (r = 0; r < 2; r++) {
				const json_t *q = json_object_get(req, res[r]), *m = json_object_get(lim, res[r]);
				double qv = 0, mv = 0;
				bool hq = q && quantity(q, &qv) && qv > 0, hm = m && quantity(m, &mv) && mv > 0;
				if (hq || hm)
					any = true;
				if (!hm || (hq && fabs(qv - mv) > 1e-9 * (mv > 1 ? mv : 1)))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}
