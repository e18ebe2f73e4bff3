/*
 * error.c: error codes and the per-thread detail of the last failure.
 *
 * The detail lives in fixed-size thread-local storage rather than on the
 * heap: a thread that exits leaks nothing, and recording an error can never
 * fail for lack of memory (which is itself one of the errors we record).
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 2048
#define REASON_MAX 64

typedef struct error_tls {
	peerop_error pub;
	char reason[REASON_MAX];
	char message[MESSAGE_MAX];
} error_tls;

static __thread error_tls tls_error;

static const struct {
	int code;
	const char *name;
	const char *text;
} error_table[] = {
	{ PEEROP_OK, "PEEROP_OK", "success" },
	{ PEEROP_ERROR, "PEEROP_ERROR", "error" },
	{ PEEROP_ENOMEM, "PEEROP_ENOMEM", "out of memory" },
	{ PEEROP_EINVAL, "PEEROP_EINVAL", "invalid argument" },
	{ PEEROP_ENOENT, "PEEROP_ENOENT", "no such file" },
	{ PEEROP_EIO, "PEEROP_EIO", "input/output error" },
	{ PEEROP_ESYNTAX, "PEEROP_ESYNTAX", "malformed input" },
	{ PEEROP_ECONFIG, "PEEROP_ECONFIG", "invalid configuration" },
	{ PEEROP_ENOCONTEXT, "PEEROP_ENOCONTEXT", "no such context, cluster or user" },
	{ PEEROP_ECERT, "PEEROP_ECERT", "unusable certificate or key" },
	{ PEEROP_ETLS, "PEEROP_ETLS", "TLS failure" },
	{ PEEROP_ECONNECT, "PEEROP_ECONNECT", "cannot connect" },
	{ PEEROP_ETIMEOUT, "PEEROP_ETIMEOUT", "timed out" },
	{ PEEROP_EPROTO, "PEEROP_EPROTO", "protocol error" },
	{ PEEROP_ETRUNCATED, "PEEROP_ETRUNCATED", "reply truncated" },
	{ PEEROP_EAUTH, "PEEROP_EAUTH", "unauthorized" },
	{ PEEROP_EFORBIDDEN, "PEEROP_EFORBIDDEN", "forbidden" },
	{ PEEROP_ENOTFOUND, "PEEROP_ENOTFOUND", "not found" },
	{ PEEROP_EEXISTS, "PEEROP_EEXISTS", "already exists" },
	{ PEEROP_ECONFLICT, "PEEROP_ECONFLICT", "conflict" },
	{ PEEROP_EGONE, "PEEROP_EGONE", "gone: resource version expired" },
	{ PEEROP_EINVALID, "PEEROP_EINVALID", "invalid object" },
	{ PEEROP_ETOOMANY, "PEEROP_ETOOMANY", "too many requests" },
	{ PEEROP_EUNAVAILABLE, "PEEROP_EUNAVAILABLE", "server unavailable" },
	{ PEEROP_EHTTP, "PEEROP_EHTTP", "HTTP error" },
	{ PEEROP_EEXEC, "PEEROP_EEXEC", "credential plugin failed" },
	{ PEEROP_ETOOLARGE, "PEEROP_ETOOLARGE", "too large" },
	{ PEEROP_ECANCELED, "PEEROP_ECANCELED", "canceled" },
	{ PEEROP_EUNSUPPORTED, "PEEROP_EUNSUPPORTED", "not supported" },
};

PEEROP_EXTERN(const char *) peerop_strerror(int code)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == code)
			return error_table[i].text;
	return "unknown error";
}

PEEROP_EXTERN(const char *) peerop_error_name(int code)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == code)
			return error_table[i].name;
	return "PEEROP_E?";
}

PEEROP_EXTERN(const peerop_error *) peerop_error_last(void)
{
	error_tls *e = &tls_error;
	e->pub.reason = e->reason;
	e->pub.message = e->message;
	return &e->pub;
}

PEEROP_EXTERN(void) peerop_error_clear(void)
{
	error_tls *e = &tls_error;
	e->pub.code = PEEROP_OK;
	e->pub.http_status = 0;
	e->reason[0] = '\0';
	e->message[0] = '\0';
}

int peerop__error_setv(int code, const char *fmt, va_list ap)
{
	error_tls *e = &tls_error;
	e->pub.code = code;
	e->pub.http_status = 0;
	e->reason[0] = '\0';
	if (fmt)
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
	else
		snprintf(e->message, sizeof(e->message), "%s", peerop_strerror(code));
	return code;
}

int peerop__error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	peerop__error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

int peerop__error_set_http(int code, int http_status, const char *reason, const char *fmt, ...)
{
	error_tls *e = &tls_error;
	va_list ap;
	va_start(ap, fmt);
	peerop__error_setv(code, fmt, ap);
	va_end(ap);
	e->pub.http_status = http_status;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	return code;
}

void peerop__error_prefix(const char *fmt, ...)
{
	error_tls *e = &tls_error;
	char old[MESSAGE_MAX];
	int n;
	va_list ap;

	memcpy(old, e->message, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->message))
		snprintf(e->message + n, sizeof(e->message) - (size_t)n, "%s", old);
}
