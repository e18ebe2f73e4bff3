/*
 * httpd.c: the embedded HTTP server over libmicrohttpd.
 *
 * Threading: MHD runs a pool of worker threads, each with its own epoll
 * set over the shared listening socket. Handlers run on those threads.
 * Routes and collectors are fixed before start, so request handling reads
 * them without a lock; counters are atomics.
 *
 * /ping is the hot path: its reply is one MHD_Response built at start and
 * queued for every request (MHD reference-counts it), so a ping costs no
 * allocation of ours.
 *
 * Graceful stop: MHD_quiesce_daemon() hands back the listening socket,
 * which we close (new connections are refused by the kernel); requests in
 * flight, counted from the request line (URI log callback) to completion
 * (NOTIFY_COMPLETED), are waited for; then MHD_stop_daemon() closes the rest.
 */
#include "peer_internal.h"
#include "httpd_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PEEROP_EXTERN(int) peerop_httpd_options_init(peerop_httpd_options *opts, unsigned int version)
{
	peerop_httpd_options def = PEEROP_HTTPD_OPTIONS_INIT;
	if (!opts || version != PEEROP_HTTPD_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "httpd options: unsupported version %u", version);
	*opts = def;
	return 0;
}

int peerop__header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

PEEROP_EXTERN(int) peerop_httpd_new(peerop_httpd **out, const peerop_httpd_options *opts)
{
	peerop_httpd *h;
	char *host = NULL;
	unsigned int port = 0;
	int rc;

	if (!out || !opts || opts->version != PEEROP_HTTPD_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "httpd: missing or unsupported options");
	*out = NULL;
	if (!opts->identity || !*opts->identity || strlen(opts->identity) > 253 ||
	    !peerop__header_safe(opts->identity))
		return peerop__error_set(PEEROP_EINVAL,
			"httpd: the identity must be 1-253 printable characters");
	if ((rc = peerop__split_hostport(&host, &port, opts->listen, "listen address")) != 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->identity = peerop__strdup(opts->identity))) {
		free(h);
		free(host);
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	}
	h->host = host;
	h->port_wanted = port;
	h->lsock = -1;
	h->threads = opts->threads;
	if (!h->threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		h->threads = n > 0 ? (unsigned int)n : 1;
	}
	h->connection_limit = opts->connection_limit ? opts->connection_limit : 1000;
	h->timeout_s = opts->connection_timeout_s ? opts->connection_timeout_s : 10;
	h->header_limit = opts->header_limit ? opts->header_limit : 16384;
	h->body_limit = opts->body_limit ? opts->body_limit : 65536;
	h->per_ip_limit = opts->per_ip_connection_limit ? opts->per_ip_connection_limit :
		(h->connection_limit > 1 ? h->connection_limit / 2 : 1);
	h->header_timeout_ms = opts->header_timeout_ms ? opts->header_timeout_ms : 10000;
	pthread_mutex_init(&h->conn_lock, NULL);
	peerop__cond_init_monotonic(&h->watch_cond);
	*out = h;
	return 0;
}

PEEROP_EXTERN(int) peerop_httpd_add_route(peerop_httpd *h, const char *path, unsigned int methods,
	peerop_httpd_handler handler, void *payload)
{
	/* /healthz and /readyz may be replaced (a manager's probes run checks) */
	static const char *builtin[] = { "/ping", "/metrics" };
	peerop__httpd_route *r;
	size_t i;

	if (!h || !path || path[0] != '/' || !handler || !methods)
		return peerop__error_set(PEEROP_EINVAL, "httpd route: missing path, handler or methods");
	if (h->daemon)
		return peerop__error_set(PEEROP_EINVAL, "httpd route %.128s: add routes before start", path);
	for (i = 0; i < PEEROP__ARRAY_SIZE(builtin); i++)
		if (strcmp(builtin[i], path) == 0)
			return peerop__error_set(PEEROP_EINVAL, "httpd route %s is built in", path);
	for (i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].path, path) == 0)
			return peerop__error_set(PEEROP_EINVAL, "httpd route %.128s added twice", path);
	r = realloc(h->routes, (h->nroutes + 1) * sizeof(*r));
	if (!r)
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	h->routes = r;
	r = &h->routes[h->nroutes];
	if (!(r->path = peerop__strdup(path)))
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	r->methods = methods;
	r->handler = handler;
	r->payload = payload;
	h->nroutes++;
	return 0;
}

PEEROP_EXTERN(int) peerop_httpd_add_metrics(peerop_httpd *h, peerop_metrics_collect_cb collect,
	void *payload)
{
	peerop__httpd_collector *c;
	if (!h || !collect)
		return peerop__error_set(PEEROP_EINVAL, "httpd metrics: missing collector");
	if (h->daemon)
		return peerop__error_set(PEEROP_EINVAL, "httpd metrics: add collectors before start");
	c = realloc(h->collectors, (h->ncollectors + 1) * sizeof(*c));
	if (!c)
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	h->collectors = c;
	c[h->ncollectors].collect = collect;
	c[h->ncollectors].payload = payload;
	h->ncollectors++;
	return 0;
}

/* Bind the listening socket ourselves: we choose dual-stack or not, learn
 * the port when it was 0, and get a clear error for "address in use". */
static int open_listener(peerop_httpd *h)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8];
	const char *node = h->host[0] ? h->host : "::";
	int fd = -1, gai, err = 0, one = 1, zero = 0;

	snprintf(portstr, sizeof(portstr), "%u", h->port_wanted);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(node, portstr, &hints, &res);
	if (gai != 0 && !h->host[0])
		gai = getaddrinfo("0.0.0.0", portstr, &hints, &res); /* no IPv6 here */
	if (gai != 0)
		return peerop__error_set(PEEROP_EINVAL, "listen %s:%u: %s", h->host, h->port_wanted,
			gai_strerror(gai));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, h->host[0] ? &one : &zero, sizeof(int));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return peerop__error_set(PEEROP_ECONNECT, "listen %s:%u: %s",
			h->host[0] ? h->host : "*", h->port_wanted, strerror(err));
	h->lsock = fd;
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			h->port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return 0;
}

static struct MHD_Response *static_response(const char *body, const char *ctype)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
		MHD_RESPMEM_PERSISTENT);
	if (r && ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return r;
}

static int build_responses(peerop_httpd *h)
{
	h->pong = static_response("pong\n", "text/plain");
	h->ping_405 = static_response("method not allowed\n", "text/plain");
	h->not_found = static_response("not found\n", "text/plain");
	h->too_large = static_response("request body too large\n", "text/plain");
	if (!h->pong || !h->ping_405 || !h->not_found || !h->too_large)
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	if (MHD_add_response_header(h->pong, PEEROP_HTTPD_ID_HEADER, h->identity) != MHD_YES ||
	    MHD_add_response_header(h->ping_405, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
		return peerop__error_set(PEEROP_ENOMEM, "httpd: out of memory");
	return 0;
}

static void destroy_responses(peerop_httpd *h)
{
	struct MHD_Response **all[] = { &h->pong, &h->ping_405, &h->not_found, &h->too_large };
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(all); i++) {
		if (*all[i])
			MHD_destroy_response(*all[i]);
		*all[i] = NULL;
	}
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	/* Garbage clients make MHD complain; debug keeps them from flooding logs. */
	PEEROP__UNUSED(cls);
	if (peerop__log_enabled(PEEROP_LOG_DEBUG))
		peerop__logv(PEEROP_LOG_DEBUG, "httpd", NULL, 0, fmt, ap);
}

PEEROP_EXTERN(int) peerop_httpd_start(peerop_httpd *h)
{
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	int rc;

	if (!h)
		return peerop__error_set(PEEROP_EINVAL, "httpd start: no server");
	if (h->daemon || h->stopped)
		return peerop__error_set(PEEROP_EINVAL, "httpd: started already");
	if ((rc = build_responses(h)) != 0 || (rc = open_listener(h)) != 0) {
		destroy_responses(h);
		return rc;
	}
	{
		/* The logger first: MHD reports problems with later options through it. */
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, h },
			{ MHD_OPTION_LISTEN_SOCKET, h->lsock, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, h->connection_limit, NULL },
			{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->per_ip_limit, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, h->timeout_s, NULL },
			{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->header_limit, NULL },
			{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)peerop__httpd_on_uri, h },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)peerop__httpd_on_completed, h },
			{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)peerop__httpd_on_connection, h },
			{ h->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, h->threads, NULL },
			{ MHD_OPTION_END, 0, NULL }
		};
		h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, peerop__httpd_on_request, h,
			MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	if (!h->daemon) {
		close(h->lsock);
		h->lsock = -1;
		destroy_responses(h);
		return peerop__error_set(PEEROP_ERROR, "httpd: libmicrohttpd could not start on %s:%u",
			h->host[0] ? h->host : "*", h->port);
	}
	if ((rc = peerop__httpd_watchdog_start(h)) != 0) {
		MHD_stop_daemon(h->daemon);
		h->daemon = NULL;
		h->lsock = -1; /* MHD closed it */
		destroy_responses(h);
		return rc;
	}
	peerop__info("httpd", "Listening on %s%s%s:%u as %s", strchr(h->host, ':') ? "[" : "",
		h->host[0] ? h->host : "*", strchr(h->host, ':') ? "]" : "", h->port, h->identity);
	return 0;
}

PEEROP_EXTERN(unsigned int) peerop_httpd_port(const peerop_httpd *h)
{
	return h && h->daemon ? h->port : 0;
}

PEEROP_EXTERN(void) peerop_httpd_set_ready(peerop_httpd *h, int ready)
{
	if (h)
		__atomic_store_n(&h->ready, ready ? 1 : 0, __ATOMIC_RELEASE);
}

PEEROP_EXTERN(int) peerop_httpd_stop(peerop_httpd *h, unsigned int grace_ms)
{
	uint64_t deadline;
	int rc = 0;

	if (!h || !h->daemon)
		return 0;
	__atomic_store_n(&h->stopping, 1, __ATOMIC_RELEASE);
	{
		MHD_socket s = MHD_quiesce_daemon(h->daemon);
		if (s != MHD_INVALID_SOCKET)
			close(s);
		h->lsock = -1;
	}
	deadline = peerop__now_ms() + grace_ms;
	while (__atomic_load_n(&h->in_flight, __ATOMIC_ACQUIRE) > 0) {
		if (peerop__now_ms() >= deadline) {
			rc = peerop__error_set(PEEROP_ETIMEOUT,
				"httpd stop: %ld requests still in flight after %u ms",
				__atomic_load_n(&h->in_flight, __ATOMIC_ACQUIRE), grace_ms);
			break;
		}
		peerop__sleep_ms(2);
	}
	MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	peerop__httpd_watchdog_stop(h);
	h->stopped = 1;
	destroy_responses(h);
	peerop__info("httpd", "Stopped serving on port %u", h->port);
	return rc;
}

PEEROP_EXTERN(void) peerop_httpd_free(peerop_httpd *h)
{
	size_t i;
	if (!h)
		return;
	peerop_httpd_stop(h, 0);
	if (h->lsock >= 0)
		close(h->lsock);
	for (i = 0; i < h->nroutes; i++)
		free(h->routes[i].path);
	free(h->routes);
	free(h->collectors);
	free(h->identity);
	free(h->host);
	pthread_mutex_destroy(&h->conn_lock);
	pthread_cond_destroy(&h->watch_cond);
	free(h);
}
