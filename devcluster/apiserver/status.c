/* status.c: Status error objects and the reply helpers every handler uses. */
#include "apiserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dc_reason_for(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return "Unknown";
	}
}

json_t *dc_status(int code, const char *reason, const char *message,
	const char *name, const char *group, const char *kind)
{
	json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s}", "kind", "Status", "apiVersion", "v1",
		"metadata", "status", "Failure", "message", message ? message : "",
		"reason", reason ? reason : dc_reason_for(code));
	if (!st)
		return NULL;
	if ((name && *name) || (group && *group) || (kind && *kind)) {
		json_t *d = json_object();
		if (name && *name)
			json_object_set_new(d, "name", json_string(name));
		if (group && *group)
			json_object_set_new(d, "group", json_string(group));
		if (kind && *kind)
			json_object_set_new(d, "kind", json_string(kind));
		json_object_set_new(st, "details", d);
	}
	json_object_set_new(st, "code", json_integer(code));
	return st;
}

void dc_resp_raw(dc_resp *rs, int code, char *body, size_t len)
{
	free(rs->body);
	rs->code = code;
	rs->body = body;
	rs->len = len;
	if (!rs->content_type)
		rs->content_type = "application/json";
}

void dc_resp_json(dc_resp *rs, int code, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (!s) {
		s = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
			"\"message\":\"out of memory\",\"reason\":\"InternalError\",\"code\":500}");
		code = 500;
	}
	rs->content_type = "application/json";
	dc_resp_raw(rs, code, s, s ? strlen(s) : 0);
}

void dc_resp_status(dc_resp *rs, json_t *status)
{
	int code = (int)json_integer_value(json_object_get(status, "code"));
	dc_resp_json(rs, code ? code : 500, status);
}

void dc_resp_error(dc_resp *rs, int code, const char *reason, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	dc_resp_status(rs, dc_status(code, reason, msg ? msg : "", NULL, NULL, NULL));
	free(msg);
}

json_t *dc_not_found(const dc_rtype *rt, const char *name)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s \"%s\" not found", rt->coll->resource, name);
	return dc_status(404, "NotFound", msg, name, rt->group, rt->plural);
}

int dc_dry_run(const dc_req *rq, dc_resp *rs)
{
	const char *v = dc_req_query(rq, "dryRun");
	if (!v || !*v)
		return 0;
	if (strcmp(v, "All") != 0) {
		dc_resp_error(rs, 400, "BadRequest", "dryRun: Unsupported value: \"%s\": supported values: \"All\"", v);
		return -1;
	}
	return 1;
}

bool dc_parse_rv(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-' || *s == '+' || strlen(s) > 20)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return false;
	*out = v;
	return true;
}

void dc_resp_too_large_rv(dc_resp *rs, uint64_t want, uint64_t have)
{
	char msg[160];
	json_t *st, *d;
	snprintf(msg, sizeof(msg), "Too large resource version: %llu, current: %llu",
		(unsigned long long)want, (unsigned long long)have);
	st = dc_status(504, "Timeout", msg, NULL, NULL, NULL);
	d = json_pack("{s:[{s:s,s:s}],s:i}", "causes", "reason", "ResourceVersionTooLarge",
		"message", msg, "retryAfterSeconds", 1);
	json_object_set_new(st, "details", d);
	rs->retry_after = 1;
	dc_resp_status(rs, st);
}

void dc_resp_warning(dc_resp *rs, const char *text)
{
	size_t n = rs->warnings ? strlen(rs->warnings) : 0, m = strlen(text);
	char *w, *p;
	/* one line per warning: no line breaks inside one */
	if (n > 64 * 1024)
		return;
	w = realloc(rs->warnings, n + m + 2);
	if (!w)
		return;
	if (n)
		w[n++] = '\n';
	memcpy(w + n, text, m + 1);
	for (p = w + n; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	rs->warnings = w;
}
