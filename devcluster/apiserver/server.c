/* server.c: the HTTP(S) server (libmicrohttpd), authentication, the
 * non-resource paths (/version, /healthz, /readyz, /livez), the kubeconfig,
 * and stop/restart.
 *
 * libmicrohttpd runs one thread per connection (see api_watch.c for why);
 * handlers lock the store for the short time they touch it. */
#include "apiserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

typedef struct reqctx {
	peerop__buf body;
	bool too_large;
	bool restart;        /* a restart was asked: do it once this reply is sent */
} reqctx;

const char *dc_req_query(const dc_req *rq, const char *key)
{
	const char *const *q;
	if (rq->conn)
		return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
	for (q = rq->local_query; q && q[0] && q[1]; q += 2)
		if (!strcmp(q[0], key))
			return q[1];
	return NULL;
}

/* The real server converts a query value to a bool with apimachinery's
 * Convert_Slice_string_To_bool: absent is false, "false" and "0" in any
 * case are false, anything else, even an empty value ("?watch"), is true.
 * That accepts every true of Go's strconv.ParseBool ("1", "t", "True",
 * "TRUE": the Python client sends watch=True). */
bool dc_req_query_bool(const dc_req *rq, const char *key)
{
	const char *v = NULL;
	if (rq->conn) {
		if (MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key),
			&v, NULL) != MHD_YES)
			return false;
	} else if (!(v = dc_req_query(rq, key))) {
		return false;
	}
	return !v || (strcasecmp(v, "false") != 0 && strcmp(v, "0") != 0);
}

const char *dc_req_header(const dc_req *rq, const char *name)
{
	if (rq->conn)
		return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
	return !strcasecmp(name, "User-Agent") ? rq->local_agent : NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;
	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	peerop__debug("devcluster", "libmicrohttpd: %s", buf);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of the path and query: "+" is a space (Go's
 * url.Values.Encode writes label selectors that way), and "%00" stays as
 * it is, so no C string is ever cut short by an encoded NUL. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s;
	(void)cls;
	(void)c;
	while (*r) {
		if (r[0] == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
			int v = hexval(r[1]) * 16 + hexval(r[2]);
			if (v != 0) {
				*w++ = (char)v;
				r += 3;
				continue;
			}
		} else if (r[0] == '+') {
			*w++ = ' ';
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void send_version(dc_resp *rs)
{
	/* kubectl's dispatcher on these machines picks its build from "minor" */
	dc_resp_json(rs, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		"major", "1", "minor", "32", "gitVersion", "v1.32.0",
		"gitCommit", "0000000000000000000000000000000000000000", "gitTreeState", "clean",
		"buildDate", "2025-01-01T00:00:00Z", "goVersion", "go1.23.4", "compiler", "gc",
		"platform", "linux/amd64"));
}

static bool is_probe(const char *path)
{
	static const char *const probes[] = { "/healthz", "/readyz", "/livez" };
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(probes); i++) {
		size_t n = strlen(probes[i]);
		if (!strncmp(path, probes[i], n) && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static int split_path(dc_req *rq, char *copy, char **segs, int max)
{
	char *save = NULL, *tok;
	int n = 0;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		segs[n++] = tok;
	}
	rq->segs = segs;
	rq->nsegs = n;
	return n;
}

static void handle(dc_server *srv, dc_req *rq, dc_resp *rs, reqctx *ctx)
{
	char *copy;
	char *segs[16];
	dc_user user;
	bool admin = !strncmp(rq->path, "/_devcluster/", 13) || !strcmp(rq->path, "/_devcluster");

	if (!admin) {
		unsigned delay = dc_faults_delay(srv);
		if (delay)
			peerop__sleep_ms(delay);
	}
	if (is_probe(rq->path) || !strcmp(rq->path, "/version") || !strcmp(rq->path, "/version/")) {
		if (!admin && dc_faults_take(srv, rs))
			return;
		if (rq->path[1] == 'v') {
			send_version(rs);
		} else {
			rs->content_type = "text/plain; charset=utf-8";
			dc_resp_raw(rs, 200, strdup("ok"), 2);
		}
		return;
	}
	if (dc_authenticate(srv, rq, rs, &user) != 0)
		return;
	rq->user = &user;
	if (admin && !dc_user_in_group(&user, "system:masters")) {
		/* the fault API is the operator of this server's, not a user's */
		dc_resp_status(rs, dc_status(403, "Forbidden", "forbidden: /_devcluster/ is for system:masters", NULL,
			NULL, NULL));
		goto out;
	}
	if (ctx->too_large) {
		dc_resp_error(rs, 413, "RequestEntityTooLarge", "Request entity too large: limit is %zu",
			srv->opts.max_body);
		goto out;
	}
	copy = strdup(rq->path);
	if (!copy) {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		goto out;
	}
	if (split_path(rq, copy, segs, (int)PEEROP__ARRAY_SIZE(segs)) < 0) {
		dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
	} else if (admin) {
		dc_faults_handle(rq, rs);
		if (rs->code == 202 && rq->nsegs == 2 && !strcmp(rq->segs[1], "restart"))
			ctx->restart = true;
	} else if (!dc_faults_take(srv, rs) && dc_authorize(rq, rs) && !dc_api_handle(rq, rs)) {
		dc_resp_error(rs, 404, "NotFound", "the server could not find the requested resource");
	}
	free(copy);
out:
	rq->user = NULL;
	dc_user_dispose(&user);
}

static enum MHD_Result queue(struct MHD_Connection *c, dc_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	if (rs->stream) {
		ret = MHD_queue_response(c, (unsigned)rs->code, rs->stream);
		MHD_destroy_response(rs->stream);
		return ret;
	}
	if (rs->body) {
		r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
		if (r)
			rs->body = NULL;
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type ? rs->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	if (rs->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rs->warnings) {
		/* RFC 7234 warn-text: a quoted string, \ and " escaped */
		const char *p = rs->warnings;
		while (*p) {
			const char *end = strchr(p, '\n');
			size_t n = end ? (size_t)(end - p) : strlen(p), i;
			peerop__buf h = PEEROP__BUF_INIT;
			peerop__buf_puts(&h, "299 - \"");
			for (i = 0; i < n; i++) {
				if (p[i] == '"' || p[i] == '\\')
					peerop__buf_putc(&h, '\\');
				peerop__buf_putc(&h, p[i]);
			}
			peerop__buf_putc(&h, '"');
			if (h.ptr)
				MHD_add_response_header(r, "Warning", h.ptr);
			peerop__buf_dispose(&h);
			p = end ? end + 1 : p + n;
		}
	}
	ret = MHD_queue_response(c, (unsigned)rs->code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	dc_server *srv = cls;
	reqctx *ctx = *con_cls;
	dc_req rq;
	dc_resp rs;
	enum MHD_Result ret;
	(void)version;

	if (!ctx) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->body.limit = srv->opts.max_body;
		if (cl && strtoull(cl, NULL, 10) > srv->opts.max_body)
			ctx->too_large = true;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!ctx->too_large && peerop__buf_put(&ctx->body, upload, *upload_size) != 0) {
			ctx->too_large = true;
			peerop__buf_dispose(&ctx->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.srv = srv;
	rq.conn = c;
	rq.method = method;
	rq.path = url;
	rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	rq.body = ctx->body.ptr;
	rq.body_len = ctx->body.len;
	handle(srv, &rq, &rs, ctx);
	if (!rs.code)
		dc_resp_error(&rs, 500, "InternalError", "no reply");
	peerop__debug("devcluster", "%s %s -> %d", method, url, rs.code);
	ret = queue(c, &rs);
	free(rs.body);
	free(rs.warnings);
	return ret;
}

static void *restart_main(void *arg)
{
	dc_server *srv = arg;
	if (dc_server_restart(srv) != 0) {
		peerop__errlog("devcluster", "restart failed: %s", peerop_error_last()->message);
		if (srv->opts.on_fatal)
			srv->opts.on_fatal(srv->opts.on_fatal_payload);
	}
	pthread_mutex_lock(&srv->restart_mu);
	srv->restart_running = false;
	pthread_cond_broadcast(&srv->restart_cond);
	pthread_mutex_unlock(&srv->restart_mu);
	return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	dc_server *srv = cls;
	reqctx *ctx = *con_cls;
	(void)c;
	(void)toe;
	if (!ctx)
		return;
	if (ctx->restart) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_mutex_lock(&srv->restart_mu);
		if (!srv->restart_running && !srv->closing) {
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			srv->restart_running = pthread_create(&t, &attr, restart_main, srv) == 0;
			pthread_attr_destroy(&attr);
		}
		pthread_mutex_unlock(&srv->restart_mu);
	}
	peerop__buf_dispose(&ctx->body);
	free(ctx);
	*con_cls = NULL;
}

static int parse_listen(dc_server *srv, const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(listen ? listen : "", ':');
	char host[128];
	char *end;
	unsigned long port;
	size_t hn;
	if (!colon || colon == listen)
		return peerop__error_set(PEEROP_EINVAL, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:0",
			listen ? listen : "(null)");
	hn = (size_t)(colon - listen);
	if (listen[0] == '[' && hn >= 2 && listen[hn - 1] == ']') {
		listen++;
		hn -= 2;
	}
	if (hn >= sizeof(host))
		return peerop__error_set(PEEROP_EINVAL, "--listen: host too long");
	memcpy(host, listen, hn);
	host[hn] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535 || colon[1] == '\0')
		return peerop__error_set(PEEROP_EINVAL, "--listen: bad port \"%s\"", colon + 1);
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
	} else {
		return peerop__error_set(PEEROP_EINVAL, "--listen: \"%s\" is not an IP address", host);
	}
	{
		/* a development server holds an admin token: other machines
		 * reach it only when asked, and never without TLS */
		bool loopback = ss->ss_family == AF_INET ?
			(ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127 :
			IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
		if (!loopback && !srv->opts.tls)
			return peerop__error_set(PEEROP_EINVAL, "--listen %s: plain HTTP is served on loopback only "
				"(127.0.0.0/8, ::1): drop --plain-http", host);
		if (!loopback && !srv->opts.allow_non_loopback)
			return peerop__error_set(PEEROP_EINVAL, "--listen %s: not a loopback address; other machines "
				"could reach this server: pass --allow-non-loopback to mean it", host);
	}
	free(srv->listen_host);
	srv->listen_host = strdup(host);
	srv->port = (unsigned)port;
	return 0;
}

static int start_daemon(dc_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_ERROR_LOG | MHD_USE_POLL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char listen[160];
	int rc;

	snprintf(listen, sizeof(listen), "%s%s%s:%u", strchr(srv->listen_host ? srv->listen_host : "", ':') ? "[" : "",
		srv->listen_host ? srv->listen_host : "127.0.0.1",
		strchr(srv->listen_host ? srv->listen_host : "", ':') ? "]" : "", srv->port);
	rc = parse_listen(srv, srv->listen_host ? listen : srv->opts.listen, &ss, &sl);
	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (srv->opts.tls)
		flags |= MHD_USE_TLS;
	{
		struct MHD_OptionItem o[] = {
			{ MHD_OPTION_SOCK_ADDR, 0, &ss },
			{ MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
			/* headers and URL together; longer requests get 431/414 */
			{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, 2048, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, 300, NULL },
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv },
			{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, srv },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls.key_pem },
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls.cert_pem },
			/* ask for (never require) client certificates of this CA */
			{ MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->tls.ca_pem },
			{ MHD_OPTION_END, 0, NULL },
		};
		if (!srv->opts.tls)
			o[8].option = MHD_OPTION_END;
		d = MHD_start_daemon(flags, (uint16_t)srv->port, NULL, NULL, on_request, srv,
			MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	}
	if (!d)
		return peerop__error_set(PEEROP_ECONNECT, "cannot listen on %s: %s",
			srv->listen_host ? listen : srv->opts.listen, errno ? strerror(errno) : "libmicrohttpd failed");
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info && info->port)
		srv->port = info->port;
	/* computed while nothing else runs: dc_server_url() only reads it */
	{
		const char *h = srv->listen_host ? srv->listen_host : "127.0.0.1";
		bool v6 = strchr(h, ':') != NULL;
		snprintf(srv->url, sizeof(srv->url), "%s://%s%s%s:%u", srv->opts.tls ? "https" : "http",
			v6 ? "[" : "", h, v6 ? "]" : "", srv->port);
	}
	srv->daemon = d;
	return 0;
}

static void stop_daemon(dc_server *srv)
{
	if (srv->store) {
		pthread_mutex_lock(&srv->store->mu);
		srv->store->stopping = true;
		pthread_cond_broadcast(&srv->store->cond);
		pthread_mutex_unlock(&srv->store->mu);
		/* log followers (kubectl logs -f) end too */
		dc_podlogs_close(srv->store->podlogs);
	}
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
}

/* The listen address when it is a particular non-loopback one, for the
 * serving certificate; NULL otherwise. */
static const char *san_ip(const char *listen, char *buf, size_t size)
{
	const char *colon = strrchr(listen ? listen : "", ':');
	size_t n;
	unsigned char a[16];
	if (!colon)
		return NULL;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n >= size)
		return NULL;
	memcpy(buf, listen, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return a[0] != 127 && (a[0] | a[1] | a[2] | a[3]) ? buf : NULL;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return !IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a) && !IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)a) ?
			buf : NULL;
	return NULL;
}

static char *random_token(void)
{
	unsigned char raw[32];
	static const char hex[] = "0123456789abcdef";
	char *t = malloc(65);
	size_t i;
	if (!t || RAND_bytes(raw, sizeof(raw)) != 1) {
		free(t);
		return NULL;
	}
	for (i = 0; i < sizeof(raw); i++) {
		t[2 * i] = hex[raw[i] >> 4];
		t[2 * i + 1] = hex[raw[i] & 15];
	}
	t[64] = '\0';
	return t;
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock(out, (const unsigned char *)s, (int)n);
	return (char *)out;
}

static int make_kubeconfig(dc_server *srv)
{
	json_t *cluster = json_pack("{s:s}", "server", dc_server_url(srv)), *kc;
	if (srv->opts.tls) {
		char *ca = b64(srv->tls.ca_pem);
		json_object_set_new(cluster, "certificate-authority-data", json_string(ca ? ca : ""));
		free(ca);
	}
	/* JSON is valid YAML: kubectl, client-go and libpeerop read it as is */
	kc = json_pack("{s:s,s:s,s:[{s:s,s:o}],s:[{s:s,s:{s:s}}],s:[{s:s,s:{s:s,s:s,s:s}}],s:s,s:{}}",
		"apiVersion", "v1", "kind", "Config",
		"clusters", "name", "devcluster", "cluster", cluster,
		"users", "name", "devcluster", "user", "token", srv->token,
		"contexts", "name", "devcluster", "context", "cluster", "devcluster", "user", "devcluster",
		"namespace", "default",
		"current-context", "devcluster", "preferences");
	srv->kubeconfig_json = kc ? json_dumps(kc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(kc);
	return srv->kubeconfig_json ? 0 : PEEROP_ENOMEM;
}

static int write_kubeconfig(dc_server *srv, const char *path)
{
	char *tmp = NULL;
	int fd, rc = 0;
	size_t n = strlen(srv->kubeconfig_json);
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return PEEROP_ENOMEM;
	/* it holds the token: owner-only, written whole then renamed */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, srv->kubeconfig_json, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		rc = peerop__error_set(PEEROP_EIO, "--kubeconfig-out %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* The in-process components run against the current store: they stop
 * before it is replaced or freed and start again on the new one. */
static int start_components(dc_server *srv)
{
	int rc = 0;
	if (srv->opts.components_start)
		rc = srv->opts.components_start(srv, srv->opts.components_arg);
	srv->components_running = rc == 0;
	return rc;
}

static void stop_components(dc_server *srv)
{
	if (srv->components_running && srv->opts.components_stop)
		srv->opts.components_stop(srv, srv->opts.components_arg);
	srv->components_running = false;
}

int dc_server_start(dc_server **out, const dc_server_options *opts)
{
	dc_server *srv = calloc(1, sizeof(*srv));
	dc_store_options so;
	char san[64];
	int rc;

	*out = NULL;
	if (!srv)
		return PEEROP_ENOMEM;
	srv->opts = *opts;
	if (!srv->opts.max_body)
		srv->opts.max_body = 3u * 1024u * 1024u;
	if (!srv->opts.bookmark_interval_s)
		srv->opts.bookmark_interval_s = 60;
	pthread_mutex_init(&srv->faults.mu, NULL);
	pthread_mutex_init(&srv->restart_mu, NULL);
	pthread_cond_init(&srv->restart_cond, NULL);
	srv->token = opts->token && *opts->token ? strdup(opts->token) : random_token();
	srv->sa_keys = dc_sa_keys_new();
	if (!srv->token || !srv->sa_keys) {
		dc_server_free(srv);
		return PEEROP_ENOMEM;
	}
	if (opts->tls && (rc = dc_tls_generate(&srv->tls, san_ip(opts->listen, san, sizeof(san)))) != 0) {
		dc_server_free(srv);
		return rc;
	}
	memset(&so, 0, sizeof(so));
	so.history_size = opts->history_size;
	so.data_dir = opts->data_dir;
	rc = dc_store_new(&srv->store, &so);
	if (rc == 0)
		rc = start_daemon(srv);
	if (rc == 0)
		rc = make_kubeconfig(srv);
	if (rc == 0)
		rc = start_components(srv);
	if (rc == 0 && opts->kubeconfig_out)
		rc = write_kubeconfig(srv, opts->kubeconfig_out);
	if (rc != 0) {
		dc_server_free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

int dc_server_restart(dc_server *srv)
{
	dc_store_options so;
	int rc;
	stop_components(srv);
	stop_daemon(srv);
	dc_store_free(srv->store);
	srv->store = NULL;
	memset(&so, 0, sizeof(so));
	so.history_size = srv->opts.history_size;
	so.data_dir = srv->opts.data_dir;
	rc = dc_store_new(&srv->store, &so);
	if (rc == 0)
		rc = start_daemon(srv);
	if (rc == 0)
		rc = start_components(srv);
	if (rc == 0) {
		__atomic_add_fetch(&srv->restarts, 1, __ATOMIC_RELAXED);
		peerop__info("devcluster", "restarted on %s", dc_server_url(srv));
	}
	return rc;
}

void dc_server_free(dc_server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->restart_mu);
	srv->closing = true;
	while (srv->restart_running)
		pthread_cond_wait(&srv->restart_cond, &srv->restart_mu);
	pthread_mutex_unlock(&srv->restart_mu);
	stop_components(srv);
	stop_daemon(srv);
	dc_store_free(srv->store);
	dc_tls_dispose(&srv->tls);
	dc_sa_keys_free(srv->sa_keys);
	if (srv->token) {
		OPENSSL_cleanse(srv->token, strlen(srv->token));
		free(srv->token);
	}
	free(srv->kubeconfig_json);
	free(srv->listen_host);
	pthread_mutex_destroy(&srv->faults.mu);
	pthread_mutex_destroy(&srv->restart_mu);
	pthread_cond_destroy(&srv->restart_cond);
	free(srv);
}

unsigned dc_server_port(const dc_server *srv)
{
	return srv->port;
}

const char *dc_server_token(const dc_server *srv)
{
	return srv->token;
}

const char *dc_server_url(const dc_server *srv)
{
	return srv->url;
}

const char *dc_server_kubeconfig(const dc_server *srv)
{
	return srv->kubeconfig_json;
}

const char *dc_server_ca_pem(const dc_server *srv)
{
	return srv->tls.ca_pem;
}
