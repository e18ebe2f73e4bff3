/* dcpods.c: see dcpods.h. */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *dcp_items(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL), *items;
	items = code == 200 ? json_incref(json_object_get(j, "items")) : NULL;
	json_decref(j);
	return items ? items : json_array();
}

size_t dcp_count(dct *t, const char *path)
{
	json_t *items = dcp_items(t, path);
	size_t n = json_array_size(items);
	json_decref(items);
	return n;
}

json_t *dcp_get(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL);
	if (code != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void dcp_create(dct *t, const char *path, const char *body)
{
	long code;
	json_t *j = dct_call(t, &code, "POST", path, body);
	ck_assert_msg(code == 201, "POST %s: %ld %s", path, code,
		json_string_value(json_object_get(j, "message")) ? json_string_value(json_object_get(j, "message")) : "");
	json_decref(j);
}

int dcp_mark_ready(dct *t, const char *path)
{
	json_t *items = dcp_items(t, path), *p;
	size_t i;
	int n = 0;
	json_array_foreach(items, i, p) {
		char url[512], ts[32];
		const char *name = dc_json_str(p, "metadata.name");
		json_t *patch, *j;
		long code;
		if (dc_json_path(p, "metadata.deletionTimestamp") ||
		    !strcmp(dc_json_str(p, "status.phase") ? dc_json_str(p, "status.phase") : "", "Running"))
			continue;
		dc_now_rfc3339(ts, sizeof(ts));
		patch = json_pack("{s:{s:s,s:[{s:s,s:s,s:s}]}}", "status", "phase", "Running", "conditions",
			"type", "Ready", "status", "True", "lastTransitionTime", ts);
		snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods/%s/status", dc_json_str(p, "metadata.namespace"), name);
		{
			char *body = json_dumps(patch, JSON_COMPACT);
			j = dct_patch(t, &code, url, "application/merge-patch+json", body);
			free(body);
		}
		if (code == 200)
			n++;
		json_decref(j);
		json_decref(patch);
	}
	json_decref(items);
	return n;
}

long long dcp_int(dct *t, const char *path, const char *field)
{
	json_t *j = dcp_get(t, path), *v = j ? dc_json_path(j, field) : NULL;
	long long n = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(j);
	return n;
}

char *dcp_str(dct *t, const char *path, const char *field)
{
	json_t *j = dcp_get(t, path);
	const char *s = j ? dc_json_str(j, field) : NULL;
	char *r = s ? strdup(s) : NULL;
	json_decref(j);
	return r;
}

char *dcp_cond(dct *t, const char *path, const char *type, const char *field)
{
	json_t *j = dcp_get(t, path), *c;
	size_t i;
	char *r = NULL;
	json_array_foreach(j ? dc_json_path(j, "status.conditions") : NULL, i, c) {
		const char *ty = dc_json_str(c, "type");
		if (ty && !strcmp(ty, type) && dc_json_str(c, field))
			r = strdup(dc_json_str(c, field));
	}
	json_decref(j);
	return r;
}

bool dcp_has_event(dct *t, const char *reason, const char *msg)
{
	json_t *items = dcp_items(t, EVENTS), *e;
	size_t i;
	bool found = false;
	json_array_foreach(items, i, e) {
		const char *r = dc_json_str(e, "reason"), *m = dc_json_str(e, "message");
		if (r && !strcmp(r, reason) && (!msg || (m && strstr(m, msg))))
			found = true;
	}
	json_decref(items);
	return found;
}
