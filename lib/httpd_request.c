/*
 * httpd_request.c: answering requests, on libmicrohttpd's worker threads.
 *
 * MHD calls the access handler once when the headers are in, then once per
 * chunk of body, then once more with no data. Routes without a body
 * (GET/HEAD, and every built-in route) are answered on the first call;
 * routes that accept a body get a request context that gathers it, within
 * body_limit, and their handler runs on the last call.
 */
#include "httpd_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE_HEADERS 8

struct peerop_httpd_request {
	peerop_httpd *h;
	struct MHD_Connection *c;
	const char *method;
	const char *path;
	const peerop__httpd_route *route;
	peerop__buf body;
	int too_large;
	int responded;
	size_t nheaders;
	char *hname[MAX_RESPONSE_HEADERS];
	char *hvalue[MAX_RESPONSE_HEADERS];
	char peer[72];
};

const unsigned int peerop__httpd_codes[PEEROP__HTTPD_CODES] = {
	200, 400, 404, 405, 413, 431, 500, 503, 204
};

/* What a request carries as its context from the request line on: this
 * marker, or a peerop_httpd_request for routes that gather a body. Both
 * mean "in flight" until MHD reports completion. */
static char in_flight_marker;
/* The context after the first call, for requests without a body context. */
static char headers_marker;

void *peerop__httpd_on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	peerop_httpd *h = cls;
	PEEROP__UNUSED(uri);
	PEEROP__UNUSED(c);
	__atomic_add_fetch(&h->in_flight, 1, __ATOMIC_ACQ_REL);
	return &in_flight_marker;
}

static void request_free(peerop_httpd_request *req)
{
	size_t i;
	for (i = 0; i < req->nheaders; i++) {
		free(req->hname[i]);
		free(req->hvalue[i]);
	}
	peerop__buf_dispose(&req->body);
	free(req);
}

void peerop__httpd_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	peerop_httpd *h = cls;
	PEEROP__UNUSED(toe);
	peerop__httpd_conn_request_done(h, c);
	if (!*con_cls)
		return;
	if (*con_cls != &in_flight_marker && *con_cls != &headers_marker)
		request_free(*con_cls);
	*con_cls = NULL;
	__atomic_sub_fetch(&h->in_flight, 1, __ATOMIC_ACQ_REL);
}

void peerop__httpd_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
	enum MHD_ConnectionNotificationCode toe)
{
	peerop_httpd *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		__atomic_add_fetch(&h->connections, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&h->connections_total, 1, __ATOMIC_RELAXED);
		peerop__httpd_conn_started(h, c, socket_context);
	} else {
		peerop__httpd_conn_closed(h, socket_context);
		__atomic_sub_fetch(&h->connections, 1, __ATOMIC_RELAXED);
	}
}

static enum MHD_Result queue(peerop_httpd *h, struct MHD_Connection *c, unsigned int status,
	struct MHD_Response *r)
{
	size_t i;
	for (i = 0; i < PEEROP__HTTPD_CODES && peerop__httpd_codes[i] != status; i++)
		;
	__atomic_add_fetch(&h->requests[i], 1, __ATOMIC_RELAXED);
	return MHD_queue_response(c, status, r);
}

static enum MHD_Result reply(peerop_httpd *h, struct MHD_Connection *c, unsigned int status,
	const char *ctype, const void *body, size_t len, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = queue(h, c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int is_get_or_head(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static unsigned int method_bit(const char *m)
{
	static const struct { const char *name; unsigned int bit; } t[] = {
		{ "GET", PEEROP_HTTPD_GET }, { "HEAD", PEEROP_HTTPD_HEAD }, { "POST", PEEROP_HTTPD_POST },
		{ "PUT", PEEROP_HTTPD_PUT }, { "DELETE", PEEROP_HTTPD_DELETE }, { "PATCH", PEEROP_HTTPD_PATCH },
	};
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(t); i++)
		if (strcmp(m, t[i].name) == 0)
			return t[i].bit;
	return 0;
}

/* HEAD is answered wherever GET is: MHD drops the body. */
static int allowed(const peerop__httpd_route *route, const char *method)
{
	unsigned int bit = method_bit(method);
	return (route->methods & bit) || (bit == PEEROP_HTTPD_HEAD && (route->methods & PEEROP_HTTPD_GET));
}

static void allow_text(char *buf, size_t size, unsigned int methods)
{
	static const char *names[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH" };
	size_t i, n = 0;
	buf[0] = '\0';
	for (i = 0; i < PEEROP__ARRAY_SIZE(names); i++)
		if (methods & (1u << i))
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? ", " : "", names[i]);
}

/* The server's own metrics, first in every /metrics document. */
static int httpd_collect(peerop_metrics_writer *w, void *payload)
{
	peerop_httpd *h = payload;
	peerop_metric_label l[1];
	char code[16];
	size_t i;
	int rc;

	if ((rc = peerop_metrics_family(w, "peerop_http_requests_total", PEEROP_METRIC_COUNTER,
	    "HTTP requests answered, by status code")) != 0)
		return rc;
	l[0].name = "code";
	l[0].value = code;
	for (i = 0; i <= PEEROP__HTTPD_CODES; i++) {
		unsigned long long v = __atomic_load_n(&h->requests[i], __ATOMIC_RELAXED);
		if (i < PEEROP__HTTPD_CODES)
			snprintf(code, sizeof(code), "%u", peerop__httpd_codes[i]);
		else
			strcpy(code, "other");
		if ((rc = peerop_metrics_sample(w, NULL, l, 1, (double)v)) != 0)
			return rc;
	}
	if ((rc = peerop_metrics_family(w, "peerop_http_pings_received_total", PEEROP_METRIC_COUNTER,
	    "GET or HEAD /ping requests answered with pong")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0,
	    (double)__atomic_load_n(&h->pings_received, __ATOMIC_RELAXED))) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_http_connections", PEEROP_METRIC_GAUGE,
	    "HTTP connections open now")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0,
	    (double)__atomic_load_n(&h->connections, __ATOMIC_RELAXED))) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_http_connections_accepted_total", PEEROP_METRIC_COUNTER,
	    "HTTP connections accepted")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0,
	    (double)__atomic_load_n(&h->connections_total, __ATOMIC_RELAXED))) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_ready", PEEROP_METRIC_GAUGE,
	    "1 when /readyz answers 200")) != 0)
		return rc;
	return peerop_metrics_sample(w, NULL, NULL, 0, (double)__atomic_load_n(&h->ready, __ATOMIC_RELAXED));
}

static enum MHD_Result serve_metrics(peerop_httpd *h, struct MHD_Connection *c)
{
	peerop__buf b = PEEROP__BUF_INIT;
	enum MHD_Result ret;
	size_t i;
	int rc = peerop__metrics_run(&b, httpd_collect, h);

	for (i = 0; rc == 0 && i < h->ncollectors; i++)
		rc = peerop__metrics_run(&b, h->collectors[i].collect, h->collectors[i].payload);
	if (rc) {
		static const char msg[] = "metrics collection failed\n";
		peerop__errlog("httpd", "/metrics: %s", peerop_error_last()->message);
		peerop__buf_dispose(&b);
		return reply(h, c, 500, NULL, msg, sizeof(msg) - 1, NULL);
	}
	ret = reply(h, c, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr ? b.ptr : "", b.len, NULL);
	peerop__buf_dispose(&b);
	return ret;
}

static enum MHD_Result serve_builtin(peerop_httpd *h, struct MHD_Connection *c, const char *url,
	const char *method, int *handled)
{
	*handled = 1;
	if (strcmp(url, "/ping") == 0) {
		if (!is_get_or_head(method))
			return queue(h, c, 405, h->ping_405);
		if (peerop__log_enabled(PEEROP_LOG_DEBUG)) {
			const char *who = MHD_lookup_connection_value(c, MHD_HEADER_KIND, PEEROP_HTTPD_ID_HEADER);
			const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
				MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			char addr[64] = "?";
			if (ci && ci->client_addr)
				peerop__addr_text(addr, sizeof(addr), ci->client_addr);
			peerop__debug("httpd", "Ping from %s (%s)", who ? who : "an anonymous client", addr);
		}
		__atomic_add_fetch(&h->pings_received, 1, __ATOMIC_RELAXED);
		return queue(h, c, 200, h->pong);
	}
	if (strcmp(url, "/healthz") && strcmp(url, "/readyz") && strcmp(url, "/metrics")) {
		*handled = 0;
		return MHD_YES;
	}
	if (!is_get_or_head(method))
		return reply(h, c, 405, NULL, "method not allowed\n", 19, "GET, HEAD");
	if (strcmp(url, "/healthz") == 0)
		return reply(h, c, 200, NULL, "ok\n", 3, NULL);
	if (strcmp(url, "/readyz") == 0) {
		if (__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE))
			return reply(h, c, 200, NULL, "ready\n", 6, NULL);
		return reply(h, c, 503, NULL, "not ready\n", 10, NULL);
	}
	return serve_metrics(h, c);
}

static const peerop__httpd_route *find_route(const peerop_httpd *h, const char *url)
{
	size_t i;
	for (i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].path, url) == 0)
			return &h->routes[i];
	return NULL;
}

static enum MHD_Result run_handler(peerop_httpd_request *req)
{
	int rc = req->route->handler(req, req->route->payload);
	if (!req->responded) {
		static const char msg[] = "internal error\n";
		if (rc)
			peerop__errlog("httpd", "%s %s: %s", req->method, req->path, peerop_error_last()->message);
		return reply(req->h, req->c, 500, NULL, msg, sizeof(msg) - 1, NULL);
	}
	return MHD_YES;
}

enum MHD_Result peerop__httpd_on_request(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload_data, size_t *upload_size,
	void **con_cls)
{
	peerop_httpd *h = cls;
	peerop_httpd_request *req = NULL;
	const peerop__httpd_route *route;
	const char *clen;
	enum MHD_Result ret;
	int handled;
	PEEROP__UNUSED(version);

	/* First call, headers in. Answering now would make MHD close the
	 * connection (it cannot know the request was read whole), so only
	 * prepare; keep-alive needs the answer on a later call. */
	if (*con_cls == &in_flight_marker || !*con_cls) {
		peerop__httpd_conn_headers_in(c);
		if (!*con_cls)
			__atomic_add_fetch(&h->in_flight, 1, __ATOMIC_ACQ_REL);
		*con_cls = &headers_marker;
		route = find_route(h, url);
		clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (route && allowed(route, method) &&
		    !(clen && strtoull(clen, NULL, 10) > h->body_limit)) {
			if (!(req = calloc(1, sizeof(*req))))
				return MHD_NO;
			req->h = h;
			req->route = route;
			req->body.limit = h->body_limit;
			*con_cls = req;
		}
		return MHD_YES;
	}
	if (*con_cls != &headers_marker)
		req = *con_cls;
	if (*upload_size) {
		/* a body nobody asked for is read and dropped */
		if (req && !req->too_large && peerop__buf_put(&req->body, upload_data, *upload_size) != 0)
			req->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (req) {
		req->c = c;
		req->method = method;
		req->path = url;
		if (req->too_large)
			return queue(h, c, 413, h->too_large);
		return run_handler(req);
	}
	/* a route for /healthz or /readyz replaces the built-in one */
	if ((strcmp(url, "/healthz") && strcmp(url, "/readyz")) || !find_route(h, url)) {
		ret = serve_builtin(h, c, url, method, &handled);
		if (handled)
			return ret;
	}
	if (!(route = find_route(h, url)))
		return queue(h, c, 404, h->not_found);
	if (!allowed(route, method)) {
		char allow[64];
		allow_text(allow, sizeof(allow), route->methods);
		return reply(h, c, 405, NULL, "method not allowed\n", 19, allow);
	}
	return queue(h, c, 413, h->too_large);
}

/* ---- the handler-side API --------------------------------------------- */

PEEROP_EXTERN(const char *) peerop_httpd_request_method(const peerop_httpd_request *req)
{
	return req ? req->method : NULL;
}

PEEROP_EXTERN(const char *) peerop_httpd_request_path(const peerop_httpd_request *req)
{
	return req ? req->path : NULL;
}

PEEROP_EXTERN(const char *) peerop_httpd_request_header(const peerop_httpd_request *req, const char *name)
{
	return req && name ? MHD_lookup_connection_value(req->c, MHD_HEADER_KIND, name) : NULL;
}

PEEROP_EXTERN(const char *) peerop_httpd_request_query(const peerop_httpd_request *req, const char *name)
{
	return req && name ? MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

PEEROP_EXTERN(const char *) peerop_httpd_request_peer(const peerop_httpd_request *req)
{
	peerop_httpd_request *r = (peerop_httpd_request *)req;
	const union MHD_ConnectionInfo *ci;
	char addr[64];
	unsigned int port = 0;

	if (!req)
		return NULL;
	if (r->peer[0])
		return r->peer;
	ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return "?";
	peerop__addr_text(addr, sizeof(addr), ci->client_addr);
	if (ci->client_addr->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ci->client_addr)->sin6_port);
	else if (ci->client_addr->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ci->client_addr)->sin_port);
	snprintf(r->peer, sizeof(r->peer), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
	return r->peer;
}

PEEROP_EXTERN(const void *) peerop_httpd_request_body(const peerop_httpd_request *req, size_t *len)
{
	if (len)
		*len = req ? req->body.len : 0;
	return req && req->body.ptr ? req->body.ptr : "";
}

PEEROP_EXTERN(int) peerop_httpd_response_header(peerop_httpd_request *req, const char *name,
	const char *value)
{
	if (!req || !name || !value || !*name || !peerop__header_safe(name) || !peerop__header_safe(value) ||
	    strchr(name, ':'))
		return peerop__error_set(PEEROP_EINVAL, "httpd: invalid response header");
	if (req->nheaders == MAX_RESPONSE_HEADERS || req->responded)
		return peerop__error_set(PEEROP_EINVAL, "httpd: too many response headers, or answered already");
	req->hname[req->nheaders] = peerop__strdup(name);
	req->hvalue[req->nheaders] = peerop__strdup(value);
	if (!req->hname[req->nheaders] || !req->hvalue[req->nheaders]) {
		free(req->hname[req->nheaders]);
		free(req->hvalue[req->nheaders]);
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	}
	req->nheaders++;
	return 0;
}

PEEROP_EXTERN(int) peerop_httpd_respond(peerop_httpd_request *req, unsigned int status,
	const char *content_type, const void *body, size_t len)
{
	struct MHD_Response *r;
	size_t i;
	enum MHD_Result ret;

	if (!req || req->responded || status < 100 || status > 599 || (len && !body))
		return peerop__error_set(PEEROP_EINVAL, "httpd: invalid response, or answered already");
	if (content_type && !peerop__header_safe(content_type))
		return peerop__error_set(PEEROP_EINVAL, "httpd: invalid content type");
	r = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (!r)
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		content_type ? content_type : "text/plain; charset=utf-8");
	for (i = 0; i < req->nheaders; i++)
		MHD_add_response_header(r, req->hname[i], req->hvalue[i]);
	ret = queue(req->h, req->c, status, r);
	MHD_destroy_response(r);
	req->responded = 1;
	return ret == MHD_YES ? 0 : peerop__error_set(PEEROP_ERROR, "httpd: could not queue the response");
}
