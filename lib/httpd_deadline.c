/*
 * httpd_deadline.c: the embedded server's deadline for reading a request's
 * headers.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that
 * sends a byte of its headers every few seconds (slowloris) keeps its
 * connection for ever, and enough such clients take every slot; /healthz
 * then fails and the pod is restarted. (The per-IP connection limit keeps
 * one address from taking them all; this bounds how long any takes one.)
 *
 * Each connection is tracked from its accept until the headers of its
 * request are in; with keep-alive, from the end of its idle timeout after
 * the previous request until the headers of the next. A watchdog thread, waking every WATCH_TICK_MS while the server runs,
 * shuts down the socket of a connection that took longer than the
 * deadline: MHD reads the end of the stream and closes the connection
 * itself, on its own thread. The socket is shut down under conn_lock while
 * the connection is still listed: MHD reports a connection closed (which
 * unlists it, under the same lock) before it closes its descriptor.
 */
#include "httpd_internal.h"

#include <stdlib.h>
#include <sys/socket.h>

#define WATCH_TICK_MS 100u

struct peerop__httpd_conn {
	struct peerop__httpd_conn *prev, *next;  /* guarded by h->conn_lock */
	int fd;
	uint64_t since_ms;     /* atomic: when it began to wait for headers */
	int waiting;           /* atomic: reading a request's headers */
	int cut;               /* guarded by h->conn_lock */
};

static peerop__httpd_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void peerop__httpd_conn_started(peerop_httpd *h, struct MHD_Connection *c, void **socket_context)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	peerop__httpd_conn *k;

	*socket_context = NULL;
	if (!ci || !(k = calloc(1, sizeof(*k))))
		return; /* out of memory: this connection goes without a deadline */
	k->fd = ci->connect_fd;
	k->since_ms = peerop__now_ms();
	k->waiting = 1;
	pthread_mutex_lock(&h->conn_lock);
	k->next = h->conns;
	if (h->conns)
		h->conns->prev = k;
	h->conns = k;
	pthread_mutex_unlock(&h->conn_lock);
	*socket_context = k;
}

void peerop__httpd_conn_closed(peerop_httpd *h, void **socket_context)
{
	peerop__httpd_conn *k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&h->conn_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->conn_lock);
	free(k);
	*socket_context = NULL;
}

void peerop__httpd_conn_headers_in(struct MHD_Connection *c)
{
	peerop__httpd_conn *k = conn_of(c);
	if (k)
		__atomic_store_n(&k->waiting, 0, __ATOMIC_RELEASE);
}

void peerop__httpd_conn_request_done(peerop_httpd *h, struct MHD_Connection *c)
{
	peerop__httpd_conn *k = conn_of(c);
	if (k) {
		/* an idle keep-alive connection first has its idle timeout, then
		 * the deadline for the headers of the next request */
		__atomic_store_n(&k->since_ms, peerop__now_ms() + (uint64_t)h->timeout_s * 1000u, __ATOMIC_RELEASE);
		__atomic_store_n(&k->waiting, 1, __ATOMIC_RELEASE);
	}
}

static void *watchdog_main(void *arg)
{
	peerop_httpd *h = arg;
	pthread_mutex_lock(&h->conn_lock);
	while (!h->watch_stop) {
		uint64_t now = peerop__now_ms();
		peerop__httpd_conn *k;
		for (k = h->conns; k; k = k->next) {
			uint64_t since = __atomic_load_n(&k->since_ms, __ATOMIC_ACQUIRE);
			if (k->cut || !__atomic_load_n(&k->waiting, __ATOMIC_ACQUIRE) || now < since ||
			    now - since < h->header_timeout_ms)
				continue;
			k->cut = 1;
			/* counted first: whoever sees the connection end sees the count */
			__atomic_add_fetch(&h->header_timeouts, 1, __ATOMIC_RELEASE);
			shutdown(k->fd, SHUT_RDWR);
		}
		peerop__cond_timedwait_ms(&h->watch_cond, &h->conn_lock, WATCH_TICK_MS);
	}
	pthread_mutex_unlock(&h->conn_lock);
	return NULL;
}

int peerop__httpd_watchdog_start(peerop_httpd *h)
{
	h->watch_stop = 0;
	if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0)
		return peerop__error_set(PEEROP_ERROR, "httpd: cannot start a thread");
	h->watch_started = 1;
	return 0;
}

void peerop__httpd_watchdog_stop(peerop_httpd *h)
{
	if (!h->watch_started)
		return;
	pthread_mutex_lock(&h->conn_lock);
	h->watch_stop = 1;
	pthread_cond_broadcast(&h->watch_cond);
	pthread_mutex_unlock(&h->conn_lock);
	pthread_join(h->watchdog, NULL);
	h->watch_started = 0;
}
