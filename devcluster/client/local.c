/* local.c: API requests made inside the process by the controllers and the
 * kubelet.
 *
 * They go through dc_api_handle(), the same code as an HTTP request, so
 * what a controller writes is validated, defaulted, versioned and watched
 * exactly like a client's write, and carries managedFields under the
 * component's name. Authentication and /_devcluster/ faults are skipped:
 * the faults are for the clients under test, not for the cluster's own
 * components. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_QUERY 8
#define MAX_SEGS 16

long dc_local(dc_server *srv, const char *agent, const char *method, const char *path,
	const char *ctype, const json_t *body, json_t **out)
{
	char *copy = strdup(path), *q, *save = NULL, *tok, *segs[MAX_SEGS];
	const char *query[2 * MAX_QUERY + 1];
	char *bodytext = NULL;
	dc_req rq;
	dc_resp rs;
	int nq = 0, ns = 0;
	long code;

	if (out)
		*out = NULL;
	if (!copy)
		return 500;
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	q = strchr(copy, '?');
	if (q) {
		*q++ = '\0';
		for (tok = strtok_r(q, "&", &save); tok && nq < MAX_QUERY; tok = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(tok, '=');
			query[2 * nq] = tok;
			query[2 * nq + 1] = "";
			if (eq) {
				*eq = '\0';
				query[2 * nq + 1] = eq + 1;
			}
			nq++;
		}
	}
	query[2 * nq] = NULL;
	rq.path = path;
	save = NULL;
	for (tok = strtok_r(copy, "/", &save); tok && ns < MAX_SEGS; tok = strtok_r(NULL, "/", &save))
		segs[ns++] = tok;
	rq.segs = segs;
	rq.nsegs = ns;
	rq.srv = srv;
	rq.method = method;
	rq.local_query = query;
	rq.local_agent = agent;
	rq.accept = "application/json";
	if (body) {
		bodytext = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!bodytext) {
			free(copy);
			return 500;
		}
		rq.body = bodytext;
		rq.body_len = strlen(bodytext);
		rq.content_type = ctype ? ctype : "application/json";
	}
	if (!dc_api_handle(&rq, &rs))
		dc_resp_error(&rs, 404, "NotFound", "the server could not find the requested resource");
	code = rs.code ? rs.code : 500;
	if (out && rs.body && rs.len)
		*out = json_loadb(rs.body, rs.len, 0, NULL);
	if (code >= 400 && code != 404 && code != 409)
		peerop__debug("devcluster", "in-process %s %s -> %ld: %.*s", method, path, code,
			(int)(rs.len > 300 ? 300 : rs.len), rs.body ? rs.body : "");
	free(rs.body);
	free(rs.warnings);
	free(bodytext);
	free(copy);
	return code;
}

/* dc_local() with a formatted path. */
static long vlocal(dc_server *srv, const char *agent, const char *method, const char *ctype,
	const json_t *body, json_t **out, const char *pathfmt, va_list ap)
{
	char *path = NULL;
	long code;

	if (vasprintf(&path, pathfmt, ap) < 0) {
		if (out)
			*out = NULL;
		return 500;
	}
	code = dc_local(srv, agent, method, path, ctype, body, out);
	free(path);
	return code;
}

long dc_localf(dc_server *srv, const char *agent, const char *method, const json_t *body,
	json_t **out, const char *pathfmt, ...)
{
	va_list ap;
	long code;

	va_start(ap, pathfmt);
	code = vlocal(srv, agent, method, NULL, body, out, pathfmt, ap);
	va_end(ap);
	return code;
}

long dc_local_merge(dc_server *srv, const char *agent, const json_t *patch, json_t **out,
	const char *pathfmt, ...)
{
	va_list ap;
	long code;

	va_start(ap, pathfmt);
	code = vlocal(srv, agent, "PATCH", "application/merge-patch+json", patch, out, pathfmt, ap);
	va_end(ap);
	return code;
}

const char *dc_local_message(const json_t *reply)
{
	const char *m = json_string_value(json_object_get(reply, "message"));
	return m ? m : "";
}

/* ---- small helpers the components share ---- */

long long dc_json_int(const json_t *o, const char *path, long long def)
{
	const json_t *v = dc_json_path(o, path);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return def;
}

const char *dc_controller_uid(const json_t *obj)
{
	const json_t *refs = dc_json_path(obj, "metadata.ownerReferences"), *r;
	size_t i;
	json_array_foreach(refs, i, r)
		if (json_is_true(json_object_get(r, "controller")))
			return json_string_value(json_object_get(r, "uid"));
	return NULL;
}

const char *dc_label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(dc_json_path(obj, "metadata.labels"), key));
}

const char *dc_annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(dc_json_path(obj, "metadata.annotations"), key));
}
