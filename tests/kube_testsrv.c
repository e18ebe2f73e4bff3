/*
 * kube_testsrv.c: a scriptable HTTPS server on loopback for the kube tests,
 * over libmicrohttpd (GnuTLS underneath). Each request goes to a handler
 * the test supplies; the reply can be normal, cut short, stalled, or a
 * chunked stream the test feeds.
 */
#include "config.h"
#include "kube_testhelp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

struct kt_server {
	struct MHD_Daemon *d;
	kt_handler h;
	void *arg;
	int port;
	char url[64];
	int tls;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int requests;
	int connections;
	int stopping;
	/* the stream the test feeds */
	char *sdata;
	size_t slen;
	int send;        /* 0 open, 1 clean end, 2 abort */
	int sactive;
	int sstarted;    /* streams begun; the newest one owns the data */
};

typedef struct pending {
	char *body;
	size_t len;
} pending;

typedef struct reply_ctx {
	kt_server *s;
	kt_mode mode;
	char *body;
	size_t len;
	int gen;         /* KT_STREAM: which stream this is */
} reply_ctx;

static void timed_wait(kt_server *s, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	reply_ctx *r = cls;
	kt_server *s = r->s;
	size_t n;

	switch (r->mode) {
	case KT_TRUNCATE:
		if (pos < r->len) {
			n = r->len - pos < max ? r->len - (size_t)pos : max;
			memcpy(buf, r->body + pos, n);
			return (ssize_t)n;
		}
		return MHD_CONTENT_READER_END_WITH_ERROR;
	case KT_STALL:
		if (pos < r->len / 2) {
			n = r->len / 2 - (size_t)pos < max ? r->len / 2 - (size_t)pos : max;
			memcpy(buf, r->body + pos, n);
			return (ssize_t)n;
		}
		pthread_mutex_lock(&s->lock);
		while (!s->stopping)
			timed_wait(s, 20);
		pthread_mutex_unlock(&s->lock);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	case KT_STREAM:
		pthread_mutex_lock(&s->lock);
		for (;;) {
			if (r->gen != s->sstarted) {
				/* a newer stream began: the client left this one */
				pthread_mutex_unlock(&s->lock);
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			if (s->slen > 0) {
				n = s->slen < max ? s->slen : max;
				memcpy(buf, s->sdata, n);
				memmove(s->sdata, s->sdata + n, s->slen - n);
				s->slen -= n;
				pthread_mutex_unlock(&s->lock);
				return (ssize_t)n;
			}
			if (s->stopping || s->send) {
				ssize_t rc = s->send == 1 && !s->stopping ? MHD_CONTENT_READER_END_OF_STREAM
					: MHD_CONTENT_READER_END_WITH_ERROR;
				pthread_mutex_unlock(&s->lock);
				return rc;
			}
			timed_wait(s, 20);
		}
	default:
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void reader_free(void *cls)
{
	reply_ctx *r = cls;
	if (r->mode == KT_STREAM) {
		pthread_mutex_lock(&r->s->lock);
		r->s->sactive--;
		pthread_cond_broadcast(&r->s->cond);
		pthread_mutex_unlock(&r->s->lock);
	}
	free(r->body);
	free(r);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	json_object_set_new(cls, key, json_string(value ? value : ""));
	return MHD_YES;
}

static int client_cert_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned int status = 1;
	if (!ci || !ci->tls_session)
		return 0;
	if (gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) != 0)
		return 0;
	return status == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
	const char *method, const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	kt_server *s = cls;
	pending *p = *con_cls;
	kt_req req;
	kt_resp resp;
	struct MHD_Response *r;
	enum MHD_Result ret;
	(void)version;

	if (!p) {
		*con_cls = calloc(1, sizeof(pending));
		return MHD_YES;
	}
	if (*upload_size) {
		p->body = realloc(p->body, p->len + *upload_size + 1);
		memcpy(p->body + p->len, upload, *upload_size);
		p->len += *upload_size;
		p->body[p->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	req.path = url;
	req.args = json_object();
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, req.args);
	req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	req.body = p->body ? p->body : "";
	req.body_len = p->len;
	req.client_cert_ok = s->tls ? client_cert_ok(conn) : 0;
	pthread_mutex_lock(&s->lock);
	req.n = s->requests++;
	pthread_mutex_unlock(&s->lock);
	resp.status = 200;
	s->h(&req, &resp, s->arg);
	json_decref(req.args);

	if (resp.mode == KT_NORMAL) {
		size_t len = resp.body ? strlen(resp.body) : 0;
		r = MHD_create_response_from_buffer(len, resp.body ? resp.body : (char *)"",
			resp.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	} else {
		reply_ctx *rc = calloc(1, sizeof(*rc));
		uint64_t size;
		rc->s = s;
		rc->mode = resp.mode;
		rc->body = resp.body ? resp.body : strdup("");
		rc->len = strlen(rc->body);
		if (resp.mode == KT_TRUNCATE)
			size = rc->len + 1000;
		else if (resp.mode == KT_STALL)
			size = rc->len;
		else
			size = MHD_SIZE_UNKNOWN;
		if (resp.mode == KT_STREAM) {
			pthread_mutex_lock(&s->lock);
			s->sactive++;
			rc->gen = ++s->sstarted;
			s->send = 0;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
		}
		r = MHD_create_response_from_callback(size, 4096, reader, rc, reader_free);
	}
	MHD_add_response_header(r, "Content-Type", resp.content_type ? resp.content_type : "application/json");
	if (resp.retry_after)
		MHD_add_response_header(r, "Retry-After", resp.retry_after);
	ret = MHD_queue_response(conn, (unsigned)resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	pending *p = *con_cls;
	(void)cls; (void)conn; (void)toe;
	if (p) {
		free(p->body);
		free(p);
	}
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	enum MHD_ConnectionNotificationCode toe)
{
	kt_server *s = cls;
	(void)conn; (void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->lock);
		s->connections++;
		pthread_mutex_unlock(&s->lock);
	}
}

kt_server *kt_server_start(const char *cert_pem, const char *key_pem, const char *trust_pem,
	kt_handler h, void *arg)
{
	kt_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	const union MHD_DaemonInfo *di;

	s->h = h;
	s->arg = arg;
	s->tls = cert_pem != NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->tls)
		flags |= MHD_USE_TLS;
	if (s->tls && trust_pem)
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
			MHD_OPTION_HTTPS_MEM_TRUST, trust_pem, MHD_OPTION_END);
	else if (s->tls)
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
	if (!s->d) {
		fprintf(stderr, "kt_server_start: MHD_start_daemon failed\n");
		abort();
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di->port;
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", s->tls ? "https" : "http", s->port);
	return s;
}

static int locked_read(kt_server *s, const int *field)
{
	int n;
	pthread_mutex_lock(&s->lock);
	n = *field;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int kt_server_port(kt_server *s) { return s->port; }
const char *kt_server_url(kt_server *s) { return s->url; }

int kt_server_requests(kt_server *s)
{
	return locked_read(s, &s->requests);
}

int kt_server_connections(kt_server *s)
{
	return locked_read(s, &s->connections);
}

void kt_stream_push(kt_server *s, const char *data)
{
	size_t n = strlen(data);
	pthread_mutex_lock(&s->lock);
	s->sdata = realloc(s->sdata, s->slen + n + 1);
	memcpy(s->sdata + s->slen, data, n);
	s->slen += n;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void kt_stream_end(kt_server *s, int clean)
{
	pthread_mutex_lock(&s->lock);
	s->send = clean ? 1 : 2;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int kt_stream_started(kt_server *s)
{
	return locked_read(s, &s->sstarted);
}

int kt_stream_active(kt_server *s)
{
	return locked_read(s, &s->sactive);
}

void kt_server_stop(kt_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->sdata);
	free(s);
}
