/*
 * kube_client.c: the client handle, libcurl setup, and sending a request
 * with retries.
 *
 * Threads: the client holds a small pool of easy handles. A call takes one
 * (or makes one), runs the transfer on the calling thread, and puts it
 * back, so connections are reused by later calls. libcurl does not support
 * sharing one connection cache between concurrent threads, so connections
 * stay with their easy handle; DNS results and TLS sessions are shared
 * through a curl share handle, whose locks we supply.
 */
#include "kube_internal.h"

#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#define DEF_CONNECT_MS 10000u
#define DEF_REQUEST_MS 60000u
#define DEF_LOW_SPEED_BYTES 1u
#define DEF_LOW_SPEED_S 30u
#define DEF_RETRIES 5
#define DEF_RETRY_BASE_MS 250u
#define DEF_RETRY_MAX_MS 30000u
#define DEF_MAX_RESPONSE ((size_t)512 << 20)
#define ERROR_BODY_MAX (256u << 10)

PEEROP_EXTERN(int) peerop_kube_client_options_init(peerop_kube_client_options *opts, unsigned int version)
{
	peerop_kube_client_options init = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	if (!opts || version != PEEROP_KUBE_CLIENT_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_client_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	peerop_kube_client *c = userp;
	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_lock[(unsigned)data % PEEROP__ARRAY_SIZE(c->share_lock)]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	peerop_kube_client *c = userp;
	(void)h;
	pthread_mutex_unlock(&c->share_lock[(unsigned)data % PEEROP__ARRAY_SIZE(c->share_lock)]);
}

/* tls-server-name: address requests to that name, so libcurl sends it as
 * SNI and verifies the certificate against it, and pin the name to the
 * server's real host and port with CURLOPT_CONNECT_TO. */
static int route_by_name(peerop_kube_client *c, const peerop_kube_config *cfg)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *url = NULL;
	peerop__buf ct = PEEROP__BUF_INIT;
	int rc = 0;

	if (!u)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		rc = peerop__error_set(PEEROP_ECONFIG, "%s: server %s with tls-server-name %s: not a valid URL",
			cfg->source, cfg->server, cfg->tls_server_name);
	} else {
		size_t n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			n--;
		c->base = peerop__strndup(url, n);
		if (!c->base || peerop__buf_printf(&ct, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port) < 0 ||
		    !(c->connect_to = curl_slist_append(NULL, ct.ptr)))
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		else
			peerop__debug("kube", "%s: requests name %s (tls-server-name) and connect to %s:%s",
				cfg->source, cfg->tls_server_name, host, port);
	}
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	peerop__buf_dispose(&ct);
	return rc;
}

PEEROP_EXTERN(int) peerop_kube_client_new(peerop_kube_client **out, peerop_kube_config *cfg,
	const peerop_kube_client_options *opts)
{
	peerop_kube_client *c;
	peerop__buf ua = PEEROP__BUF_INIT;
	size_t i;

	if (!out || !cfg)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_client_new: out and cfg are required");
	*out = NULL;
	if (opts && opts->version != PEEROP_KUBE_CLIENT_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_client_new: unknown options version %u", opts->version);
	c = calloc(1, sizeof(*c));
	if (!c)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (opts)
		c->opts = *opts;
	else
		peerop_kube_client_options_init(&c->opts, PEEROP_KUBE_CLIENT_OPTIONS_VERSION);
#define DEF(f, v) if (!c->opts.f) c->opts.f = (v)
	DEF(connect_timeout_ms, DEF_CONNECT_MS);
	DEF(request_timeout_ms, DEF_REQUEST_MS);
	DEF(low_speed_bytes, DEF_LOW_SPEED_BYTES);
	DEF(low_speed_time_s, DEF_LOW_SPEED_S);
	DEF(max_retries, DEF_RETRIES);
	DEF(retry_base_ms, DEF_RETRY_BASE_MS);
	DEF(retry_max_ms, DEF_RETRY_MAX_MS);
	DEF(max_response_bytes, DEF_MAX_RESPONSE);
#undef DEF
	if (c->opts.max_retries < 0)
		c->opts.max_retries = 0;
	if (peerop__buf_puts(&ua, c->opts.user_agent ? c->opts.user_agent : "libpeerop/" PEEROP_VERSION) < 0) {
		free(c);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	c->user_agent = peerop__buf_detach(&ua);
	c->opts.user_agent = c->user_agent;
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_mutex_init(&c->count_lock, NULL);
	for (i = 0; i < PEEROP__ARRAY_SIZE(c->share_lock); i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	c->share = curl_share_init();
	if (!c->share) {
		peerop_kube_client_free(c);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	c->cfg = peerop__kube_config_ref(cfg);
	if (cfg->tls_server_name && route_by_name(c, cfg) < 0) {
		int rc = peerop_error_last()->code;
		peerop_kube_client_free(c);
		return rc;
	}
	if (!c->base && !(c->base = strdup(cfg->server))) {
		peerop_kube_client_free(c);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	if (cfg->insecure)
		peerop__warn("kube", "%s: insecure-skip-tls-verify: the server's certificate is NOT verified",
			cfg->source);
	*out = c;
	return 0;
}

PEEROP_EXTERN(void) peerop_kube_client_free(peerop_kube_client *c)
{
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	if (c->share)
		curl_share_cleanup(c->share);
	for (i = 0; i < PEEROP__ARRAY_SIZE(c->share_lock); i++)
		pthread_mutex_destroy(&c->share_lock[i]);
	pthread_mutex_destroy(&c->pool_lock);
	pthread_mutex_destroy(&c->count_lock);
	peerop_kube_config_free(c->cfg);
	free(c->user_agent);
	free(c->base);
	curl_slist_free_all(c->connect_to);
	free(c);
}

PEEROP_EXTERN(peerop_kube_config *) peerop_kube_client_config(peerop_kube_client *c)
{
	return c ? c->cfg : NULL;
}

void *peerop__kube_easy_take(peerop_kube_client *c)
{
	CURL *e = NULL;
	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle > 0)
		e = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->pool_lock);
	if (e)
		curl_easy_reset(e); /* options go, connections stay */
	else
		e = curl_easy_init();
	return e;
}

void peerop__kube_easy_give(peerop_kube_client *c, void *easy)
{
	if (!easy)
		return;
	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle < PEEROP__KUBE_POOL_MAX) {
		c->idle[c->nidle++] = easy;
		easy = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (easy)
		curl_easy_cleanup(easy);
}

int peerop__kube_url(peerop__buf *b, peerop_kube_client *c, const char *path)
{
	if (peerop__buf_puts(b, c->base) < 0 || peerop__buf_puts(b, path) < 0)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	return 0;
}

void peerop__kube_headers_free(void *headers)
{
	struct curl_slist *h = headers, *p;
	for (p = h; p; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static int add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);
	if (!n)
		return PEEROP_ENOMEM;
	*h = n;
	return 0;
}

int peerop__kube_easy_setup(void *easy, peerop_kube_client *c, const char *method,
	const char *url, const char *content_type, const peerop__kube_cred *cred, void **headers_out)
{
	CURL *e = easy;
	peerop_kube_config *cfg = c->cfg;
	struct curl_slist *h = NULL;
	CURLcode cc = CURLE_OK;
	int rc = 0;

	*headers_out = NULL;
	rc = add_header(&h, "Accept: application/json");
	if (rc == 0)
		rc = add_header(&h, "Expect:"); /* no 100-continue round trip */
	if (rc == 0 && content_type) {
		peerop__buf ct = PEEROP__BUF_INIT;
		rc = peerop__buf_printf(&ct, "Content-Type: %s", content_type);
		if (rc == 0)
			rc = add_header(&h, ct.ptr);
		peerop__buf_dispose(&ct);
	}
	if (rc == 0 && cred->token && peerop__kube_token_bad(cred->token)) {
		/* refused where tokens are read; this is the last line */
		peerop__kube_headers_free(h);
		return peerop__error_set(PEEROP_EAUTH, "%s %s: the token holds a control character", method, url);
	}
	if (rc == 0 && cred->token) {
		peerop__buf auth = PEEROP__BUF_INIT;
		rc = peerop__buf_printf(&auth, "Authorization: Bearer %s", cred->token);
		if (rc == 0)
			rc = add_header(&h, auth.ptr);
		if (auth.ptr)
			OPENSSL_cleanse(auth.ptr, auth.len);
		peerop__buf_dispose(&auth);
	}
	if (rc < 0) {
		peerop__kube_headers_free(h);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	*headers_out = h;

#define SET(opt, val) do { if (cc == CURLE_OK) cc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_HTTPHEADER, h);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SHARE, (CURLSH *)c->share);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, (long)c->opts.low_speed_bytes);
	SET(CURLOPT_LOW_SPEED_TIME, (long)c->opts.low_speed_time_s);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 15L);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (c->connect_to)
		SET(CURLOPT_CONNECT_TO, (struct curl_slist *)c->connect_to);
	if (cfg->proxy_url)
		SET(CURLOPT_PROXY, cfg->proxy_url);
	if (cfg->ca.data) {
		struct curl_blob b = { cfg->ca.data, cfg->ca.len, CURL_BLOB_COPY };
		SET(CURLOPT_CAINFO_BLOB, &b);
	}
	if (cred->cert.data && cred->key.data) {
		struct curl_blob cb = { cred->cert.data, cred->cert.len, CURL_BLOB_COPY };
		struct curl_blob kb = { cred->key.data, cred->key.len, CURL_BLOB_COPY };
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLCERT_BLOB, &cb);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &kb);
	}
	if (!strcmp(method, "GET"))
		SET(CURLOPT_HTTPGET, 1L);
	else if (!strcmp(method, "HEAD"))
		SET(CURLOPT_NOBODY, 1L);
	else
		SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
	if (cc != CURLE_OK)
		return peerop__error_set(cc == CURLE_OUT_OF_MEMORY ? PEEROP_ENOMEM : PEEROP_EUNSUPPORTED,
			"%s %s: libcurl setup failed: %s", method, url, curl_easy_strerror(cc));
	return 0;
}

/* ---- error mapping -------------------------------------------------------- */

int peerop__kube_status_code(long status, const char *reason)
{
	switch (status) {
	case 400: return PEEROP_EINVALID;
	case 401: return PEEROP_EAUTH;
	case 403: return PEEROP_EFORBIDDEN;
	case 404: return PEEROP_ENOTFOUND;
	case 409: return reason && !strcmp(reason, "AlreadyExists") ? PEEROP_EEXISTS : PEEROP_ECONFLICT;
	case 410: return PEEROP_EGONE;
	case 422: return PEEROP_EINVALID;
	case 429: return PEEROP_ETOOMANY;
	default:
		return status >= 500 && status <= 599 ? PEEROP_EUNAVAILABLE : PEEROP_EHTTP;
	}
}

static const char *default_reason(long status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return "";
	}
}

/* Copy msg into b (cleared first) with every occurrence of token replaced
 * by [REDACTED]. The scan moves forward past each replacement, so neither a
 * token shorter than the replacement nor one found inside it can make it
 * grow or loop. */
static int redact(peerop__buf *b, const char *msg, const char *token)
{
	size_t tl = token ? strlen(token) : 0;
	const char *p = msg, *hit;
	int rc = 0;

	peerop__buf_clear(b);
	while (rc == 0 && tl && (hit = strstr(p, token)) != NULL) {
		rc = peerop__buf_put(b, p, (size_t)(hit - p));
		if (rc == 0)
			rc = peerop__buf_puts(b, "[REDACTED]");
		p = hit + tl;
	}
	if (rc == 0)
		rc = peerop__buf_puts(b, p);
	return rc;
}

int peerop__kube_set_http_error(long status, const char *body, size_t len,
	const char *method, const char *url, const char *token)
{
	json_t *st = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *reason = NULL, *message = NULL;
	peerop__buf rb = PEEROP__BUF_INIT, mb = PEEROP__BUF_INIT;
	int rc;

	if (json_is_object(st) && json_is_string(json_object_get(st, "kind")) &&
	    !strcmp(json_string_value(json_object_get(st, "kind")), "Status")) {
		reason = json_string_value(json_object_get(st, "reason"));
		message = json_string_value(json_object_get(st, "message"));
	}
	if (!reason || !*reason)
		reason = default_reason(status);
	rc = peerop__kube_status_code(status, reason);
	/* A reflecting proxy may quote the token: cut it out of the whole text
	 * before anything truncates it (a cut token would leak its start). */
	if (redact(&rb, reason, token) < 0 || (message && redact(&mb, message, token) < 0)) {
		rc = peerop__error_set_http(rc, (int)status, "", "%s %s: HTTP %ld (out of memory reading its Status)",
			method, url, status);
	} else if (message) {
		peerop__error_set_http(rc, (int)status, rb.ptr, "%s %s: %ld %.100s: %.1500s", method, url,
			status, rb.ptr, mb.ptr);
	} else {
		/* Not a Status: say so, but never quote the body. */
		peerop__error_set_http(rc, (int)status, rb.ptr, "%s %s: HTTP %ld%s%.100s (%zu-byte body, not a Status)",
			method, url, status, *rb.ptr ? " " : "", rb.ptr, len);
	}
	if (mb.ptr)
		OPENSSL_cleanse(mb.ptr, mb.len);
	peerop__buf_dispose(&rb);
	peerop__buf_dispose(&mb);
	json_decref(st);
	return rc;
}

int peerop__kube_set_curl_error(int curl_code, const char *method, const char *url, const char *detail)
{
	int rc;
	switch ((CURLcode)curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
		rc = PEEROP_ECONNECT;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = PEEROP_ETIMEOUT;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
		rc = PEEROP_ETLS;
		break;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		rc = PEEROP_ECERT;
		break;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		rc = PEEROP_ETRUNCATED;
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_HTTP3:
		rc = PEEROP_EPROTO;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		rc = PEEROP_ECANCELED;
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = PEEROP_ENOMEM;
		break;
	default:
		rc = PEEROP_ECONNECT;
		break;
	}
	return peerop__error_set(rc, "%s %s: %s%s%s", method, url, curl_easy_strerror((CURLcode)curl_code),
		detail && *detail ? ": " : "", detail ? detail : "");
}

/* ---- sending ------------------------------------------------------------- */

typedef struct sink {
	peerop__buf buf;
	CURL *easy;
	long status;       /* known once the body starts */
	int too_large;
	int error_cut;     /* an error body reached ERROR_BODY_MAX: the rest is not read */
} sink;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	sink *s = userp;
	size_t n = size * nmemb;
	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status > 299) {
		/* An error reply only gives its Status: keep its start, and stop
		 * reading there rather than take max_response_bytes of it. */
		size_t room = s->buf.len < ERROR_BODY_MAX ? ERROR_BODY_MAX - s->buf.len : 0;
		if (peerop__buf_put(&s->buf, ptr, n < room ? n : room) < 0) {
			s->too_large = 1;
			return 0;
		}
		if (n <= room)
			return n;
		s->error_cut = 1;
		return 0; /* CURLE_WRITE_ERROR, forgiven below */
	}
	if (peerop__buf_put(&s->buf, ptr, n) < 0) {
		s->too_large = 1;
		return 0; /* CURLE_WRITE_ERROR */
	}
	return n;
}

static int is_retry_status(long status)
{
	return status == 429 || status == 503;
}

static uint64_t retry_delay(peerop_kube_client *c, unsigned int attempt, long long retry_after_s)
{
	uint64_t d;
	if (retry_after_s > 0) {
		d = (uint64_t)retry_after_s * 1000u;
		if (d > c->opts.retry_max_ms)
			d = c->opts.retry_max_ms;
		/* spread clients told the same Retry-After a little */
		return d + peerop__rand_below(d / 10 + 1);
	}
	d = (uint64_t)c->opts.retry_base_ms << (attempt < 20 ? attempt : 20);
	if (d > c->opts.retry_max_ms)
		d = c->opts.retry_max_ms;
	return peerop__jitter(d, 0.2);
}

static const char *http_version_name(CURL *e)
{
	long v = 0;
	curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v);
	switch (v) {
	case CURL_HTTP_VERSION_1_0: return "1.0";
	case CURL_HTTP_VERSION_1_1: return "1.1";
	case CURL_HTTP_VERSION_2_0: return "2";
	case CURL_HTTP_VERSION_3: return "3";
	default: return "";
	}
}

static void log_request(CURL *e, const char *method, const char *url, long status, uint64_t t0, int attempt)
{
	char st[16], dur[24], att[16];
	peerop_log_field f[6];
	if (!peerop__log_enabled(PEEROP_LOG_DEBUG))
		return;
	snprintf(st, sizeof(st), "%ld", status);
	snprintf(dur, sizeof(dur), "%llu", (unsigned long long)(peerop__now_ms() - t0));
	snprintf(att, sizeof(att), "%d", attempt);
	f[0].key = "method"; f[0].value = method;
	f[1].key = "url"; f[1].value = url;
	f[2].key = "status"; f[2].value = st;
	f[3].key = "duration_ms"; f[3].value = dur;
	f[4].key = "attempt"; f[4].value = att;
	f[5].key = "http"; f[5].value = http_version_name(e);
	peerop__log(PEEROP_LOG_DEBUG, "kube", f, 6, "%s %s -> %s (%s ms)", method, url, st, dur);
}

int peerop__kube_call(json_t **out, peerop_kube_client *c, const peerop__kube_req *r)
{
	peerop__buf url = PEEROP__BUF_INIT;
	sink s;
	unsigned int retries = 0;
	int refreshed = 0, rc;
	long status = 0;

	if (out)
		*out = NULL;
	if ((rc = peerop__kube_url(&url, c, r->path)) < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.buf.limit = c->opts.max_response_bytes;
	for (;;) {
		peerop__kube_cred cred;
		CURL *e;
		void *headers = NULL;
		char errbuf[CURL_ERROR_SIZE];
		CURLcode cc;
		curl_off_t retry_after = 0;
		uint64_t t0, t0_us;

		peerop__kube_throttle(c);
		t0 = peerop__now_ms();
		t0_us = peerop__now_us();
		peerop__buf_clear(&s.buf);
		s.too_large = 0;
		s.error_cut = 0;
		s.status = 0;
		status = 0;
		if ((rc = peerop__kube_cred_get(&cred, c->cfg, t0)) < 0) {
			peerop__error_prefix("%s %s: ", r->method, url.ptr);
			break;
		}
		if (!(e = peerop__kube_easy_take(c))) {
			peerop__kube_cred_dispose(&cred);
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
			break;
		}
		rc = peerop__kube_easy_setup(e, c, r->method, url.ptr, r->content_type, &cred, &headers);
		if (rc == 0) {
			errbuf[0] = '\0';
			curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->opts.request_timeout_ms);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
			curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
			s.easy = e;
			if (r->body) {
				curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
				curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
			}
			cc = curl_easy_perform(e);
			if (cc == CURLE_WRITE_ERROR && s.error_cut)
				cc = CURLE_OK; /* we stopped reading an error body */
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
			curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
			log_request(e, r->method, url.ptr, cc == CURLE_OK ? status : -1, t0, (int)retries);
			peerop__kube_count_request(c, r->method, cc == CURLE_OK ? status : -1);
			peerop__kube_observe_latency(c, r->method, (double)(peerop__now_us() - t0_us) / 1e6);
			if (cc == CURLE_WRITE_ERROR && s.too_large)
				rc = peerop__error_set(PEEROP_ETOOLARGE, "%s %s: reply larger than %zu bytes",
					r->method, url.ptr, c->opts.max_response_bytes);
			else if (cc != CURLE_OK)
				rc = peerop__kube_set_curl_error(cc, r->method, url.ptr, errbuf);
		}
		if (headers)
			peerop__kube_headers_free(headers);
		peerop__kube_easy_give(c, e);
		if (rc == 0 && status == 401 && !refreshed &&
		    peerop__kube_cred_invalidate(c->cfg, cred.generation)) {
			/* The credential may have rotated: refresh it and try once more
			 * (a 401 means the request was not processed). */
			refreshed = 1;
			peerop__kube_cred_dispose(&cred);
			peerop__debug("kube", "%s %s: 401, refreshing the credential", r->method, url.ptr);
			continue;
		}
		if (r->idempotent && retries < (unsigned int)c->opts.max_retries &&
		    ((rc == 0 && is_retry_status(status)) ||
		     (rc == PEEROP_ECONNECT && status == 0))) {
			uint64_t d = retry_delay(c, retries, rc == 0 ? (long long)retry_after : 0);
			peerop__debug("kube", "%s %s: %s; retry %u of %d in %llu ms", r->method, url.ptr,
				rc == 0 ? "server busy" : "cannot connect", retries + 1, c->opts.max_retries,
				(unsigned long long)d);
			peerop__kube_cred_dispose(&cred);
			retries++;
			peerop__sleep_ms(d);
			continue;
		}
		if (rc == 0 && (status < 200 || status > 299)) {
			rc = peerop__kube_set_http_error(status, s.buf.ptr, s.buf.len, r->method, url.ptr, cred.token);
		}
		peerop__kube_cred_dispose(&cred);
		break;
	}
	if (rc == 0 && out && s.buf.len > 0) {
		json_error_t jerr;
		*out = json_loadb(s.buf.ptr, s.buf.len, 0, &jerr);
		if (!*out)
			rc = peerop__error_set(PEEROP_EPROTO, "%s %s: reply is not JSON (%zu bytes; error at line %d, column %d)",
				r->method, url.ptr, s.buf.len, jerr.line, jerr.column);
	}
	peerop__buf_dispose(&s.buf);
	peerop__buf_dispose(&url);
	return rc;
}
