/*
 * httpd_internal.h: the server's state, shared by httpd.c (lifecycle) and
 * httpd_request.c (answering requests). Not exported.
 */
#ifndef PEEROP_HTTPD_INTERNAL_H
#define PEEROP_HTTPD_INTERNAL_H

#include "peer_internal.h"

#include <microhttpd.h>
#include <pthread.h>

typedef struct peerop__httpd_route {
	char *path;
	unsigned int methods;
	peerop_httpd_handler handler;
	void *payload;
} peerop__httpd_route;

typedef struct peerop__httpd_collector {
	peerop_metrics_collect_cb collect;
	void *payload;
} peerop__httpd_collector;

/* Status codes counted one by one in peerop_http_requests_total; others as "other". */
#define PEEROP__HTTPD_CODES 9
extern const unsigned int peerop__httpd_codes[PEEROP__HTTPD_CODES];

typedef struct peerop__httpd_conn peerop__httpd_conn;

struct peerop_httpd {
	char *host;                 /* "" for the wildcard */
	unsigned int port_wanted, port;
	char *identity;
	unsigned int threads, connection_limit, timeout_s, header_limit, body_limit;
	unsigned int per_ip_limit, header_timeout_ms;
	/* the header deadline (httpd_deadline.c) */
	pthread_mutex_t conn_lock;
	pthread_cond_t watch_cond;
	peerop__httpd_conn *conns;  /* open connections, guarded by conn_lock */
	pthread_t watchdog;
	int watch_started, watch_stop;
	unsigned long long header_timeouts;  /* atomic */
	peerop__httpd_route *routes;
	size_t nroutes;
	peerop__httpd_collector *collectors;
	size_t ncollectors;
	int lsock;
	struct MHD_Daemon *daemon;
	int stopped;
	/* shared with worker threads: atomics */
	int ready;
	int stopping;
	long in_flight;
	long connections;
	unsigned long long connections_total;
	unsigned long long pings_received;
	unsigned long long requests[PEEROP__HTTPD_CODES + 1];
	/* prebuilt replies, read-only while running */
	struct MHD_Response *pong, *ping_405, *not_found, *too_large;
};

/* No control characters: safe in an HTTP header (httpd.c). */
int peerop__header_safe(const char *s);

/* MHD callbacks (httpd_request.c). */
enum MHD_Result peerop__httpd_on_request(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload_data, size_t *upload_size,
	void **con_cls);
void *peerop__httpd_on_uri(void *cls, const char *uri, struct MHD_Connection *c);
void peerop__httpd_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	enum MHD_RequestTerminationCode toe);
void peerop__httpd_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
	enum MHD_ConnectionNotificationCode toe);

/* The header deadline (httpd_deadline.c): from the connection callbacks,
 * the first call of a request and its completion; the watchdog thread runs
 * between start and stop. */
void peerop__httpd_conn_started(peerop_httpd *h, struct MHD_Connection *c, void **socket_context);
void peerop__httpd_conn_closed(peerop_httpd *h, void **socket_context);
void peerop__httpd_conn_headers_in(struct MHD_Connection *c);
void peerop__httpd_conn_request_done(peerop_httpd *h, struct MHD_Connection *c);
int peerop__httpd_watchdog_start(peerop_httpd *h);
void peerop__httpd_watchdog_stop(peerop_httpd *h);

#endif /* PEEROP_HTTPD_INTERNAL_H */
