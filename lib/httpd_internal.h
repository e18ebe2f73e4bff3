/*
 * httpd_internal.h: the server's state, shared by httpd.c (lifecycle) and
 * httpd_request.c (answering requests). Not exported.
 */
#ifndef PEEROP_HTTPD_INTERNAL_H
#define PEEROP_HTTPD_INTERNAL_H

#include "peer_internal.h"

#include <microhttpd.h>

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

struct peerop_httpd {
	char *host;                 /* "" for the wildcard */
	unsigned int port_wanted, port;
	char *identity;
	unsigned int threads, connection_limit, timeout_s, header_limit, body_limit;
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

#endif /* PEEROP_HTTPD_INTERNAL_H */
