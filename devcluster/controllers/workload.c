/* workload.c: what the Deployment and ReplicaSet controllers share: pod
 * readiness and availability (minReadySeconds), int-or-percent values,
 * ordering by age. */
#include "controllers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool dc_pod_ready(const json_t *pod, time_t *since)
{
	const json_t *conds = dc_json_path(pod, "status.conditions"), *c;
	size_t i;
	if (since)
		*since = 0;
	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		if (type && !strcmp(type, "Ready")) {
			const char *st = json_string_value(json_object_get(c, "status"));
			if (since)
				dc_parse_time(json_string_value(json_object_get(c, "lastTransitionTime")), since);
			return st && !strcmp(st, "True");
		}
	}
	return false;
}

bool dc_pod_available(const json_t *pod, long long min_ready, time_t now, long *wait_ms)
{
	time_t since;
	if (wait_ms)
		*wait_ms = 0;
	if (!dc_pod_ready(pod, &since))
		return false;
	if (min_ready <= 0 || since == 0)
		return true;
	if (since + min_ready <= now)
		return true;
	if (wait_ms)
		*wait_ms = (long)(since + min_ready - now) * 1000L + 100;
	return false;
}

bool dc_pod_active(const json_t *pod)
{
	const char *phase = dc_json_str(pod, "status.phase");
	if (dc_json_path(pod, "metadata.deletionTimestamp"))
		return false;
	return !phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"));
}

long long dc_intstr_scaled(const json_t *v, long long total, bool round_up, long long def)
{
	const char *s;
	char *end;
	double pct;
	if (!v || json_is_null(v))
		return def;
	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? -1 : json_integer_value(v);
	s = json_string_value(v);
	if (!s || !*s)
		return -1;
	pct = strtod(s, &end);
	if (end == s || strcmp(end, "%") || pct < 0 || pct > 1e9) {
		/* a number in a string is taken as the number, as intstr does */
		long long n = strtoll(s, &end, 10);
		return *end || n < 0 ? -1 : n;
	}
	return round_up ? (long long)ceil(pct * (double)total / 100.0) : (long long)floor(pct * (double)total / 100.0);
}

time_t dc_obj_created(const json_t *obj)
{
	time_t t = 0;
	dc_parse_time(dc_json_str(obj, "metadata.creationTimestamp"), &t);
	return t;
}

static int age_cmp(const void *a, const void *b, void *arg)
{
	bool newest_first = *(const bool *)arg;
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	time_t tx = dc_obj_created(x), ty = dc_obj_created(y);
	int r = tx < ty ? -1 : tx > ty ? 1 : 0;
	if (r == 0) {
		const char *nx = dc_json_str(x, "metadata.name"), *ny = dc_json_str(y, "metadata.name");
		r = strcmp(nx ? nx : "", ny ? ny : "");
	}
	return newest_first ? -r : r;
}

void dc_sort_by_age(json_t *arr, bool newest_first)
{
	size_t n = json_array_size(arr), i;
	json_t **v;
	if (n < 2)
		return;
	v = malloc(n * sizeof(*v));
	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort_r(v, n, sizeof(*v), age_cmp, &newest_first);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}
