/**
 * @file peerop/httpd.h
 * @brief An embedded HTTP/1.1 server with the routes every peer answers.
 *
 * A peerop_httpd serves, out of the box:
 * - `GET`/`HEAD /ping`: 200, `text/plain`, body exactly `pong\n`, and the
 *   header `X-Peerop-Id: <identity>` (PEEROP_HTTPD_ID_HEADER). Other
 *   methods get 405 with `Allow: GET, HEAD`. A request carrying the
 *   header is a ping from a peer; who pinged is logged at debug level.
 * - `/healthz`: 200 `ok\n` while the server runs.
 * - `/readyz`: 200 `ready\n` once peerop_httpd_set_ready() said so,
 *   503 `not ready\n` before.
 * - `/metrics`: Prometheus text from the server's own counters and every
 *   collector added with peerop_httpd_add_metrics().
 * - any other path: 404, unless a route was added for it.
 *
 * Programs add their own routes (the pinger adds `/peers`). libmicrohttpd
 * does the HTTP underneath, on a pool of worker threads using epoll; the
 * connection limit, the per-connection idle timeout and the request size
 * limit keep slow or garbage clients from starving the others.
 */
#ifndef PEEROP_HTTPD_H
#define PEEROP_HTTPD_H

#include <peerop/common.h>
#include <peerop/metrics.h>

PEEROP_BEGIN_DECL

/** The header carrying a server's identity on /ping replies, and a pinger's on its requests. */
#define PEEROP_HTTPD_ID_HEADER "X-Peerop-Id"

/** An HTTP server. */
typedef struct peerop_httpd peerop_httpd;

/** One request being answered; valid only during the handler call. */
typedef struct peerop_httpd_request peerop_httpd_request;

/** Method bits for peerop_httpd_add_route(). */
#define PEEROP_HTTPD_GET    0x01u
#define PEEROP_HTTPD_HEAD   0x02u  /**< answered like GET, without the body */
#define PEEROP_HTTPD_POST   0x04u
#define PEEROP_HTTPD_PUT    0x08u
#define PEEROP_HTTPD_DELETE 0x10u
#define PEEROP_HTTPD_PATCH  0x20u

/** Options of peerop_httpd_new(). */
typedef struct peerop_httpd_options {
	unsigned int version;         /**< PEEROP_HTTPD_OPTIONS_VERSION */
	/**
	 * Where to listen: `ADDR:PORT`, `[IPV6]:PORT` or `:PORT`. `:PORT`
	 * and `[::]:PORT` accept IPv4 and IPv6; `0.0.0.0:PORT` IPv4 only.
	 * Port 0 picks a free port (see peerop_httpd_port()). Required.
	 */
	const char *listen;
	/** Identity sent in PEEROP_HTTPD_ID_HEADER on /ping replies. Required. */
	const char *identity;
	/** Worker threads; 0: one per online CPU. */
	unsigned int threads;
	/** Most connections open at once; more are refused. 0: 1000. */
	unsigned int connection_limit;
	/** Seconds a connection may stay idle (or trickle a request) before it is closed. 0: 10. */
	unsigned int connection_timeout_s;
	/** Bytes of request line and headers a connection may use. 0: 16384. Larger: 431. */
	unsigned int header_limit;
	/** Bytes of request body a route accepts. 0: 65536. Larger: 413. */
	unsigned int body_limit;
	/**
	 * Most connections open at once from one IP address; more are
	 * refused, so that one client cannot take every slot (and fail the
	 * liveness probe). 0: half of connection_limit.
	 */
	unsigned int per_ip_connection_limit;
	/**
	 * Milliseconds a connection may take to send a request's headers,
	 * from its accept (or the end of its previous request): the idle
	 * timeout alone lets a client that trickles a byte at a time keep a
	 * slot for ever. Longer: the connection is closed. 0: 10000.
	 */
	unsigned int header_timeout_ms;
} peerop_httpd_options;

#define PEEROP_HTTPD_OPTIONS_VERSION 1
#define PEEROP_HTTPD_OPTIONS_INIT { PEEROP_HTTPD_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 }

/** Fill opts with the defaults. @return 0 or PEEROP_EINVAL */
PEEROP_EXTERN(int) peerop_httpd_options_init(peerop_httpd_options *opts, unsigned int version);

/**
 * Create a server: checks the options, does not listen yet.
 *
 * @param out receives the handle, to release with peerop_httpd_free()
 * @return 0, PEEROP_EINVAL (bad listen address, missing identity), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_httpd_new(peerop_httpd **out, const peerop_httpd_options *opts);

/**
 * A route handler. Runs on a server worker thread, possibly concurrently
 * with itself for different connections. It must answer with
 * peerop_httpd_respond() and should not block: every ms it spends is a
 * worker unavailable to other connections.
 *
 * @return 0; a negative code answers 500 if nothing was answered yet
 */
typedef int (*peerop_httpd_handler)(peerop_httpd_request *req, void *payload);

/**
 * Add a route for an exact path. Only before peerop_httpd_start().
 * A path may not be added twice; /ping and /metrics are built in; a
 * route for /healthz or /readyz replaces the built-in one (for probes
 * that run checks; peerop_httpd_set_ready() then no longer matters).
 *
 * @param methods PEEROP_HTTPD_* bits; other methods get 405 with `Allow`
 * @return 0, PEEROP_EINVAL (started already, path taken, path not starting with '/')
 */
PEEROP_EXTERN(int) peerop_httpd_add_route(peerop_httpd *h, const char *path, unsigned int methods,
	peerop_httpd_handler handler, void *payload);

/**
 * Add a collector whose samples /metrics serves after the server's own.
 * Only before peerop_httpd_start().
 */
PEEROP_EXTERN(int) peerop_httpd_add_metrics(peerop_httpd *h, peerop_metrics_collect_cb collect,
	void *payload);

/**
 * Listen and start serving on the worker threads.
 *
 * @return 0, PEEROP_ECONNECT (address in use, cannot bind), PEEROP_EINVAL (started twice)
 */
PEEROP_EXTERN(int) peerop_httpd_start(peerop_httpd *h);

/** The port listened on (useful after listening on port 0), or 0 before start. */
PEEROP_EXTERN(unsigned int) peerop_httpd_port(const peerop_httpd *h);

/** Mark the server ready (/readyz 200) or not (503). Any thread. */
PEEROP_EXTERN(void) peerop_httpd_set_ready(peerop_httpd *h, int ready);

/**
 * Stop gracefully: stop accepting at once, let requests in flight finish
 * for up to grace_ms, then close every connection. Idle keep-alive
 * connections are closed without waiting. When it returns, no handler
 * or collector is running or will run again. Safe to call twice; not from
 * a handler.
 *
 * @return 0, or PEEROP_ETIMEOUT if some requests were still running at the deadline
 */
PEEROP_EXTERN(int) peerop_httpd_stop(peerop_httpd *h, unsigned int grace_ms);

/** Stop (without grace) if running, and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_httpd_free(peerop_httpd *h);

/* ---- inside a handler ------------------------------------------------- */

/** The method: "GET", "POST"... */
PEEROP_EXTERN(const char *) peerop_httpd_request_method(const peerop_httpd_request *req);

/** The path, without the query string. */
PEEROP_EXTERN(const char *) peerop_httpd_request_path(const peerop_httpd_request *req);

/** A request header (case-insensitive name), or NULL. */
PEEROP_EXTERN(const char *) peerop_httpd_request_header(const peerop_httpd_request *req, const char *name);

/** A query parameter, or NULL. */
PEEROP_EXTERN(const char *) peerop_httpd_request_query(const peerop_httpd_request *req, const char *name);

/** The client's address: `127.0.0.1:40212` or `[::1]:40212`. */
PEEROP_EXTERN(const char *) peerop_httpd_request_peer(const peerop_httpd_request *req);

/**
 * The request body (at most body_limit bytes; larger requests never reach
 * the handler). Not NUL-terminated; len 0 without a body.
 */
PEEROP_EXTERN(const void *) peerop_httpd_request_body(const peerop_httpd_request *req, size_t *len);

/**
 * Add a header to the response (before peerop_httpd_respond()). At most 8.
 * @return 0, PEEROP_EINVAL (CR or LF in name or value, too many), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_httpd_response_header(peerop_httpd_request *req, const char *name,
	const char *value);

/**
 * Answer the request; the body is copied. Once per request.
 * @param content_type NULL for `text/plain; charset=utf-8`
 * @return 0, PEEROP_EINVAL (answered already), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_httpd_respond(peerop_httpd_request *req, unsigned int status,
	const char *content_type, const void *body, size_t len);

PEEROP_END_DECL

#endif /* PEEROP_HTTPD_H */
