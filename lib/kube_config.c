/*
 * kube_config.c: the configuration handle, in-cluster loading, the "auto"
 * loader, and helpers for the certificates and keys configs carry.
 *
 * Certificates and keys are read and checked with OpenSSL when the config
 * is loaded, so an unreadable or garbled CA fails at load time with
 * PEEROP_ECERT naming the file or field, not later as a vague TLS error.
 */
#include "kube_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define DEFAULT_INCLUSTER_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"
#define DEFAULT_MAX_FILE (4u << 20)

void peerop__secret_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void peerop__kube_blob_dispose(peerop__kube_blob *b)
{
	if (b->data) {
		OPENSSL_cleanse(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

int peerop__kube_blob_copy(peerop__kube_blob *dst, const peerop__kube_blob *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src->data)
		return 0;
	dst->data = malloc(src->len + 1);
	if (!dst->data)
		return PEEROP_ENOMEM;
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return 0;
}

int peerop__kube_base64_decode(peerop__kube_blob *out, const char *b64)
{
	EVP_ENCODE_CTX *ctx;
	size_t in_len = strlen(b64);
	int n = 0, fin = 0, rc;
	unsigned char *buf;

	out->data = NULL;
	out->len = 0;
	if (in_len > INT_MAX / 2)
		return PEEROP_ETOOLARGE;
	buf = malloc(in_len / 4 * 3 + 4);
	ctx = EVP_ENCODE_CTX_new();
	if (!buf || !ctx) {
		free(buf);
		EVP_ENCODE_CTX_free(ctx);
		return PEEROP_ENOMEM;
	}
	/* EVP_Decode* skips whitespace and newlines, as base64 in YAML has. */
	EVP_DecodeInit(ctx);
	rc = EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)b64, (int)in_len);
	if (rc >= 0)
		rc = EVP_DecodeFinal(ctx, buf + n, &fin);
	EVP_ENCODE_CTX_free(ctx);
	if (rc < 0) {
		free(buf);
		return PEEROP_ESYNTAX;
	}
	buf[n + fin] = '\0';
	out->data = (char *)buf;
	out->len = (size_t)(n + fin);
	return 0;
}

int peerop__kube_pem_check(const peerop__kube_blob *pem, int is_key, const char *what)
{
	BIO *bio;
	int ok = 0;

	if (!pem->data || pem->len == 0)
		return peerop__error_set(PEEROP_ECERT, "%s: empty", what);
	if (pem->len > INT_MAX)
		return peerop__error_set(PEEROP_ECERT, "%s: too large", what);
	bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	if (!bio)
		return peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", what);
	if (is_key) {
		EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		ok = k != NULL;
		EVP_PKEY_free(k);
	} else {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		ok = x != NULL;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!ok)
		return peerop__error_set(PEEROP_ECERT, "%s: not a PEM %s", what,
			is_key ? "private key" : "certificate");
	return 0;
}

int peerop__kube_read_pem(peerop__kube_blob *out, const char *path, int is_key, size_t limit,
	const char *field)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	out->data = NULL;
	out->len = 0;
	rc = peerop__read_file(&data, &len, path, limit);
	if (rc < 0) {
		/* Missing and unreadable both make the certificate unusable: one
		 * code (ECERT) for "this TLS material is bad", naming the file. */
		char msg[2048];
		snprintf(msg, sizeof(msg), "%s", peerop_error_last()->message);
		return peerop__error_set(PEEROP_ECERT, "%s: %s", field, msg);
	}
	out->data = data;
	out->len = len;
	{
		char what[1200];
		snprintf(what, sizeof(what), "%s %s", field, path);
		rc = peerop__kube_pem_check(out, is_key, what);
	}
	if (rc < 0)
		peerop__kube_blob_dispose(out);
	return rc;
}

int peerop__kube_token_bad(const char *token)
{
	const unsigned char *p;
	for (p = (const unsigned char *)token; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 1;
	return 0;
}

int peerop__kube_read_token(char **out, const char *path, size_t limit)
{
	char *data = NULL;
	size_t len = 0, start = 0, orig_len;
	int rc;

	*out = NULL;
	rc = peerop__read_file(&data, &len, path, limit);
	if (rc < 0)
		return rc;
	orig_len = len;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
			data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	while (start < len && (data[start] == ' ' || data[start] == '\t' || data[start] == '\n'))
		start++;
	if (start == len || memchr(data + start, '\n', len - start)) {
		OPENSSL_cleanse(data, len);
		free(data);
		return peerop__error_set(PEEROP_ECONFIG, "%s: %s", path,
			start == len ? "token file is empty" : "token file holds several lines");
	}
	memmove(data, data + start, len - start);
	/* what the move left behind the end is token too */
	OPENSSL_cleanse(data + (len - start), orig_len - (len - start));
	data[len - start] = '\0';
	if (peerop__kube_token_bad(data)) {
		peerop__secret_free(data);
		return peerop__error_set(PEEROP_ECONFIG, "%s: the token holds a control character", path);
	}
	*out = data;
	return 0;
}

char *peerop__kube_resolve_path(const char *dir, const char *path)
{
	char *r;
	size_t n;
	if (!path)
		return NULL;
	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	n = strlen(dir) + strlen(path) + 2;
	r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", dir, path);
	return r;
}

int peerop__kube_config_alloc(peerop_kube_config **out, const peerop_kube_config_options *opts)
{
	peerop_kube_config *cfg = calloc(1, sizeof(*cfg));
	*out = NULL;
	if (!cfg)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	cfg->refs = 1;
	pthread_mutex_init(&cfg->lock, NULL);
	pthread_cond_init(&cfg->exec_cond, NULL);
	cfg->token_reread_ms = opts && opts->token_reread_ms ? opts->token_reread_ms : 60000;
	cfg->exec_timeout_ms = opts && opts->exec_timeout_ms ? opts->exec_timeout_ms : 60000;
	cfg->max_file_size = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE;
	*out = cfg;
	return 0;
}

peerop_kube_config *peerop__kube_config_ref(peerop_kube_config *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

PEEROP_EXTERN(void) peerop_kube_config_free(peerop_kube_config *cfg)
{
	if (!cfg || __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(cfg->server);
	free(cfg->ns);
	free(cfg->context);
	free(cfg->source);
	peerop__kube_blob_dispose(&cfg->ca);
	free(cfg->tls_server_name);
	free(cfg->proxy_url);
	peerop__kube_blob_dispose(&cfg->cert);
	peerop__kube_blob_dispose(&cfg->key);
	free(cfg->token_file);
	peerop__kube_exec_dispose(&cfg->exec);
	json_decref(cfg->exec_cluster_info);
	peerop__secret_free(cfg->token);
	peerop__kube_exec_result_dispose(&cfg->exec_cred);
	pthread_mutex_destroy(&cfg->lock);
	pthread_cond_destroy(&cfg->exec_cond);
	free(cfg);
}

PEEROP_EXTERN(int) peerop_kube_config_options_init(peerop_kube_config_options *opts, unsigned int version)
{
	peerop_kube_config_options init = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	if (!opts || version != PEEROP_KUBE_CONFIG_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

PEEROP_EXTERN(const char *) peerop_kube_config_server(const peerop_kube_config *cfg)
{
	return cfg && cfg->server ? cfg->server : "";
}

PEEROP_EXTERN(const char *) peerop_kube_config_namespace(const peerop_kube_config *cfg)
{
	return cfg && cfg->ns ? cfg->ns : "default";
}

PEEROP_EXTERN(const char *) peerop_kube_config_context(const peerop_kube_config *cfg)
{
	return cfg && cfg->context ? cfg->context : "";
}

/* ---- in-cluster ---------------------------------------------------------- */

PEEROP_EXTERN(int) peerop_kube_config_in_cluster(peerop_kube_config **out, const peerop_kube_config_options *opts)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *root = opts && opts->incluster_root ? opts->incluster_root : DEFAULT_INCLUSTER_ROOT;
	peerop_kube_config *cfg = NULL;
	peerop__buf url = PEEROP__BUF_INIT;
	char *path = NULL;
	int rc;

	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_in_cluster: out is NULL");
	*out = NULL;
	if (opts && opts->version != PEEROP_KUBE_CONFIG_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_in_cluster: unknown options version %u", opts->version);
	if (!host || !*host || !port || !*port)
		return peerop__error_set(PEEROP_ECONFIG,
			"not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
	if ((rc = peerop__kube_config_alloc(&cfg, opts)) < 0)
		return rc;
	/* An IPv6 service address needs brackets in a URL. */
	if (strchr(host, ':') && host[0] != '[')
		rc = peerop__buf_printf(&url, "https://[%s]:%s", host, port);
	else
		rc = peerop__buf_printf(&url, "https://%s:%s", host, port);
	if (rc < 0)
		goto nomem;
	cfg->server = peerop__buf_detach(&url);
	cfg->source = strdup("in-cluster");
	cfg->context = strdup("");
	if (!cfg->source || !cfg->context)
		goto nomem;

	if (!(path = peerop__kube_resolve_path(root, "ca.crt")))
		goto nomem;
	rc = peerop__kube_read_pem(&cfg->ca, path, 0, cfg->max_file_size, "in-cluster CA");
	free(path);
	if (rc < 0)
		goto fail;

	if (!(cfg->token_file = peerop__kube_resolve_path(root, "token")))
		goto nomem;
	rc = peerop__kube_read_token(&cfg->token, cfg->token_file, cfg->max_file_size);
	if (rc < 0) {
		peerop__error_prefix("in-cluster token: ");
		goto fail;
	}
	cfg->auth = PEEROP__KUBE_AUTH_TOKEN_FILE;
	cfg->token_read_ms = peerop__now_ms();

	if (opts && opts->ns && *opts->ns) {
		cfg->ns = strdup(opts->ns);
	} else {
		char *nsdata = NULL;
		if (!(path = peerop__kube_resolve_path(root, "namespace")))
			goto nomem;
		/* The namespace file is optional: without it, "default". */
		if (peerop__kube_read_token(&nsdata, path, 4096) == 0)
			cfg->ns = nsdata;
		else
			cfg->ns = strdup("default");
		free(path);
		peerop_error_clear();
	}
	if (!cfg->ns)
		goto nomem;
	peerop__debug("kube", "in-cluster configuration: server %s, namespace %s", cfg->server, cfg->ns);
	*out = cfg;
	return 0;
nomem:
	rc = peerop__error_set(PEEROP_ENOMEM, "in-cluster configuration: out of memory");
fail:
	peerop__buf_dispose(&url);
	peerop_kube_config_free(cfg);
	return rc;
}

/* ---- auto ---------------------------------------------------------------- */

PEEROP_EXTERN(int) peerop_kube_config_auto(peerop_kube_config **out, const peerop_kube_config_options *opts)
{
	const char *env = getenv("KUBECONFIG");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_auto: out is NULL");
	*out = NULL;
	if ((opts && opts->kubeconfig && *opts->kubeconfig) || (env && *env))
		return peerop_kube_config_load(out, opts);
	if (host && *host)
		return peerop_kube_config_in_cluster(out, opts);
	return peerop_kube_config_load(out, opts);
}
