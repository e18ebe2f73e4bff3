/*
 * kube_internal.h: what the kube files share, and what other modules (the
 * watch stream) use of the Kubernetes client without it being public.
 */
#ifndef PEEROP_KUBE_INTERNAL_H
#define PEEROP_KUBE_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <jansson.h>

#include "peerop/kube.h"

/* ---- byte blobs (certificates, keys) ------------------------------------
 * Key material is wiped before it is freed. */
typedef struct peerop__kube_blob {
	char *data;
	size_t len;
} peerop__kube_blob;
void peerop__kube_blob_dispose(peerop__kube_blob *b);
int peerop__kube_blob_copy(peerop__kube_blob *dst, const peerop__kube_blob *src);
/* Zero then free a string that held a secret. */
void peerop__secret_free(char *s);
/* Nonzero when a token holds a control character (bytes below 0x20, 0x7f):
 * it goes into an HTTP header, where a line break would end the header or
 * smuggle another. Such tokens are refused wherever they are read. */
int peerop__kube_token_bad(const char *token);

/* ---- YAML (kube_yaml.c) --------------------------------------------------
 * Parse the first YAML document of data into JSON: mappings become objects,
 * sequences arrays, every scalar a string (kubeconfig values are read as the
 * types their fields need). Aliases are resolved; a duplicate key, a
 * document nested deeper than 64 levels or more than 10000 alias uses is an
 * error. An empty document gives an empty object. On error: PEEROP_ESYNTAX
 * with "NAME:LINE:COLUMN: problem" in the message. */
int peerop__yaml_to_json(json_t **out, const char *data, size_t len, const char *name);
/* The same, appending every string scalar made to strings (an array, or
 * NULL), so that a caller can wipe the secrets among them when done:
 * peerop__json_strings_wipe(strings) zeroes each string's bytes in place. */
int peerop__yaml_to_json_ex(json_t **out, json_t *strings, const char *data, size_t len, const char *name);
void peerop__json_strings_wipe(json_t *strings);

/* ---- exec credential plugins (kube_exec.c) ------------------------------- */
typedef struct peerop__kube_exec {
	char *command;
	char **args;      /* NULL-terminated */
	char **env;       /* NULL-terminated "NAME=value" */
	char *api_version;
	char *interactive_mode;
	char *install_hint;
	int provide_cluster_info;
} peerop__kube_exec;

/* The credential an exec plugin returned. */
typedef struct peerop__kube_exec_result {
	char *token;
	peerop__kube_blob cert;
	peerop__kube_blob key;
	long long expiry_wall_ms; /* 0: never expires */
} peerop__kube_exec_result;

/* Parse the "exec" mapping of a kubeconfig user. field names it in errors. */
int peerop__kube_exec_parse(peerop__kube_exec *out, const json_t *exec, const char *dir, const char *field);
void peerop__kube_exec_dispose(peerop__kube_exec *e);
/* Run the plugin and parse its ExecCredential. cluster_info (borrowed, may
 * be NULL) is passed in KUBERNETES_EXEC_INFO when the plugin asks for it. */
int peerop__kube_exec_run(peerop__kube_exec_result *out, const peerop__kube_exec *e,
	const json_t *cluster_info, unsigned int timeout_ms);
void peerop__kube_exec_result_dispose(peerop__kube_exec_result *r);
/* Parse a plugin's stdout (an ExecCredential of e->api_version) into out;
 * PEEROP_EEXEC when it is not one (what peerop__kube_exec_run does with it;
 * the fuzzer's entry point). */
int peerop__kube_exec_parse_output(peerop__kube_exec_result *out, const char *data, size_t len,
	const peerop__kube_exec *e);
/* RFC 3339 ("2026-01-02T03:04:05Z", fractions, offsets) to ms since the epoch. */
int peerop__parse_rfc3339(long long *out, const char *s);

/* ---- configuration (kube_config.c, kube_incluster.c, kube_cred.c) -------- */
typedef enum peerop__kube_auth {
	PEEROP__KUBE_AUTH_NONE = 0,
	PEEROP__KUBE_AUTH_TOKEN,      /* a fixed bearer token */
	PEEROP__KUBE_AUTH_TOKEN_FILE, /* a token re-read from a file */
	PEEROP__KUBE_AUTH_EXEC        /* an exec credential plugin */
} peerop__kube_auth;

struct peerop_kube_config {
	int refs;                   /* atomic */
	char *server;               /* no trailing slash */
	char *ns;
	char *context;
	char *source;               /* "kubeconfig /path" or "in-cluster" for messages */
	peerop__kube_blob ca;       /* PEM; empty: the system's CAs */
	int insecure;               /* insecure-skip-tls-verify */
	char *tls_server_name;      /* name to verify the server's certificate for */
	char *proxy_url;            /* proxy-url, or NULL (then libcurl's *_PROXY environment) */
	peerop__kube_blob cert;     /* static client certificate (PEM) */
	peerop__kube_blob key;      /* its private key (PEM) */
	peerop__kube_auth auth;
	unsigned int token_reread_ms;
	unsigned int exec_timeout_ms;
	size_t max_file_size;
	char *token_file;
	peerop__kube_exec exec;
	json_t *exec_cluster_info;  /* for KUBERNETES_EXEC_INFO, or NULL */

	/* The credential, which changes: guarded by lock. */
	pthread_mutex_t lock;
	char *token;                /* current bearer token, or NULL */
	uint64_t token_read_ms;     /* monotonic time of the last file read */
	int token_stale;            /* re-read (or re-run exec) before next use */
	peerop__kube_exec_result exec_cred;
	int exec_valid;
	unsigned int generation;    /* bumped whenever the credential changes */
	/* An exec plugin runs without the lock held (it may take exec_timeout_ms);
	 * one thread runs it, the others wait on exec_cond for its outcome. */
	pthread_cond_t exec_cond;
	int exec_running;
	unsigned int exec_runs;     /* runs finished */
	int exec_rc;                /* outcome of the last run, and its message */
	char exec_err[600];
};

/* A snapshot of the credential for one request; the copies are wiped. */
typedef struct peerop__kube_cred {
	char *token;
	peerop__kube_blob cert;
	peerop__kube_blob key;
	unsigned int generation;
} peerop__kube_cred;

/* Load a kubeconfig held in memory (for the fuzzer); name stands for its
 * path in messages and for resolving relative paths. */
int peerop__kubeconfig_load_mem(peerop_kube_config **out, const char *data, size_t len,
	const char *name, const peerop_kube_config_options *opts);
int peerop__kube_config_alloc(peerop_kube_config **out, const peerop_kube_config_options *opts);
peerop_kube_config *peerop__kube_config_ref(peerop_kube_config *cfg);
/* Check that PEM data holds at least one certificate (or, with is_key, a
 * private key); what names the field or file in the PEEROP_ECERT message. */
int peerop__kube_pem_check(const peerop__kube_blob *pem, int is_key, const char *what);
int peerop__kube_base64_decode(peerop__kube_blob *out, const char *b64);
/* Read a file that must be a certificate or key into a blob (PEEROP_ECERT). */
int peerop__kube_read_pem(peerop__kube_blob *out, const char *path, int is_key, size_t limit, const char *field);
/* Read a token file, trimmed (ENOENT/EIO naming the file; ECONFIG if empty). */
int peerop__kube_read_token(char **out, const char *path, size_t limit);
/* "dir/path" unless path is absolute or dir is NULL. */
char *peerop__kube_resolve_path(const char *dir, const char *path);

/* The credential to use now: re-reads the token file when it is older than
 * token_reread_ms or stale, runs the exec plugin when its credential has
 * expired or is stale. A failed token re-read keeps the last good token. */
int peerop__kube_cred_get(peerop__kube_cred *out, peerop_kube_config *cfg, uint64_t now_ms);
/* The same with an explicit wall clock (exec expiry), for tests. */
int peerop__kube_cred_get_at(peerop__kube_cred *out, peerop_kube_config *cfg, uint64_t now_ms, long long wall_ms);
/* After a 401 with the credential of this generation: re-read or re-run
 * before the next use. Returns 1 if the credential can change (worth a retry). */
int peerop__kube_cred_invalidate(peerop_kube_config *cfg, unsigned int generation);
void peerop__kube_cred_dispose(peerop__kube_cred *c);

/* ---- URLs (kube_url.c) -------------------------------------------------- */
/* Append the path of a collection (name NULL), an object, or an object's
 * subresource: /api/v1/namespaces/NS/pods/NAME/status. ns NULL or "" for a
 * namespaced resource means all namespaces (collections only). Every segment
 * is percent-encoded. PEEROP_EINVAL for a missing group/version/resource, an
 * empty name, or a subresource without a name. */
int peerop__kube_path(peerop__buf *b, const peerop_kube_resource *res, const char *ns,
	const char *name, const char *subresource);
/* Append "?key=value" or "&key=value", both percent-encoded; value NULL
 * appends nothing. */
int peerop__kube_query_add(peerop__buf *b, const char *key, const char *value);

/* ---- the client (kube_client.c) ----------------------------------------
 * Easy handles are pooled (each keeps its own connections, which libcurl
 * does not support sharing between concurrent threads); DNS and TLS
 * sessions are shared between them through a curl share handle. */
#define PEEROP__KUBE_POOL_MAX 16
/* Most pages one LIST may take (5 million objects at the default 500 a
 * page): a server that hands out continue tokens forever ends with
 * PEEROP_EPROTO rather than a list that never ends. A continue token that
 * repeats the previous one is refused at once. */
#define PEEROP__KUBE_MAX_PAGES 10000

#define PEEROP__KUBE_COUNTS_MAX 64
#define PEEROP__KUBE_VERBS 6          /* GET PUT POST PATCH DELETE other */
#define PEEROP__KUBE_LAT_BOUNDS 12
typedef struct peerop__kube_count {
	char method[8];
	long code;
	unsigned long long n;
} peerop__kube_count;

struct peerop_kube_client {
	peerop_kube_config *cfg;
	peerop_kube_client_options opts;  /* defaults filled in */
	/* Requests go to base + path. With tls-server-name, base names that
	 * host (so TLS checks the certificate against it) and connect_to sends
	 * the connection to the server's real address. */
	char *base;
	void *connect_to;                 /* struct curl_slist *, or NULL */
	char *user_agent;
	void *share;                      /* CURLSH */
	pthread_mutex_t share_lock[8];    /* one per curl_lock_data we share */
	pthread_mutex_t pool_lock;
	void *idle[PEEROP__KUBE_POOL_MAX]; /* CURL * */
	size_t nidle;
	/* requests by method and status, for rest_client_requests_total */
	pthread_mutex_t count_lock;
	peerop__kube_count counts[PEEROP__KUBE_COUNTS_MAX];
	size_t ncounts;
	unsigned long long counts_other;  /* beyond the table */
	/* request latency by verb (kube_metrics.c), under count_lock */
	unsigned long long lat_counts[PEEROP__KUBE_VERBS][PEEROP__KUBE_LAT_BOUNDS];
	unsigned long long lat_n[PEEROP__KUBE_VERBS];
	double lat_sum[PEEROP__KUBE_VERBS];
	/* the qps/burst token bucket (kube_metrics.c), under count_lock */
	double tokens;
	uint64_t tokens_ns;               /* when tokens was computed; 0: never */
};

/* Count one request attempt; code is the HTTP status, or -1 when there
 * was no reply (connection or TLS failure, timeout). */
void peerop__kube_count_request(struct peerop_kube_client *c, const char *method, long code);
/* Observe one attempt's latency for rest_client_request_duration_seconds. */
void peerop__kube_observe_latency(struct peerop_kube_client *c, const char *method, double secs);
/* Wait for a token of the client's qps/burst bucket (no-op without a limit). */
void peerop__kube_throttle(struct peerop_kube_client *c);

/* A pooled easy handle (reset), or a new one; NULL when out of memory. */
void *peerop__kube_easy_take(struct peerop_kube_client *c);
void peerop__kube_easy_give(struct peerop_kube_client *c, void *easy);
/* Set everything a request needs on a reset easy handle: URL, method,
 * TLS (CA, client certificate from cred), auth header, timeouts,
 * keepalive, HTTP/2. *headers receives the list to free after the
 * transfer. The Authorization header is never logged (no VERBOSE). */
int peerop__kube_easy_setup(void *easy, struct peerop_kube_client *c, const char *method,
	const char *url, const char *content_type, const peerop__kube_cred *cred, void **headers);
/* Free the header list of peerop__kube_easy_setup(), wiping the token. NULL ok. */
void peerop__kube_headers_free(void *headers);
/* base + path into a buffer. */
int peerop__kube_url(peerop__buf *b, struct peerop_kube_client *c, const char *path);

/* ---- requests (kube_client.c) ------------------------------------------ */

typedef struct peerop__kube_req {
	const char *method;
	const char *path;          /* absolute path and query, encoded */
	const char *content_type;  /* of body; NULL: no body */
	const char *body;
	size_t body_len;
	int idempotent;            /* retry 429, 503 and failed connections */
} peerop__kube_req;

/* Send a request (with the retries above, and one retry after a 401 when
 * the credential can be refreshed) and return the parsed JSON reply of a
 * 2xx status in *out (may be NULL to discard it). A non-2xx status sets the
 * error from the Status in the body. */
int peerop__kube_call(json_t **out, struct peerop_kube_client *c, const peerop__kube_req *r);

/* Map an HTTP status (and Status reason) to a PEEROP_E* code. */
int peerop__kube_status_code(long http_status, const char *reason);
/* Record the error of a non-2xx reply: parses a Status body if there is
 * one. Never copies the body verbatim (it might echo a credential), and
 * replaces token (the request's bearer token, or NULL) wherever the
 * Status quotes it. */
int peerop__kube_set_http_error(long status, const char *body, size_t len,
	const char *method, const char *url, const char *token);
/* Record the error of a failed transfer (a CURLcode). */
int peerop__kube_set_curl_error(int curl_code, const char *method, const char *url, const char *detail);

/* ---- streaming requests, for the watch module (kube_stream.c) ----------- */

/* Called with each piece of the body of a 200 reply as it arrives (chunk
 * boundaries are arbitrary). Return 0 to go on; a negative PEEROP_E* code to
 * stop the stream with that code (set the error detail first); a positive
 * value to stop it with PEEROP_ECANCELED. */
typedef int (*peerop__kube_stream_data_cb)(const char *data, size_t len, void *payload);

typedef struct peerop__kube_stream_opts {
	peerop__kube_stream_data_cb on_data;
	void *payload;
	/* Polled (atomic load) at least every 50 ms; nonzero stops the stream
	 * with PEEROP_ECANCELED. May be NULL. */
	const int *stop;
	/* No byte for this long: PEEROP_ETIMEOUT. 0: no idle timeout. */
	unsigned int idle_timeout_ms;
	/* If not NULL, read (atomically) instead of idle_timeout_ms each time the
	 * stream wakes: lets the caller shorten or lengthen the idle timeout as
	 * the stream goes (a watch is stricter during a streaming list's
	 * initial events than afterwards). */
	const unsigned int *idle_timeout_live;
	/* If not NULL, receives the reply's Retry-After in milliseconds (0 when
	 * it had none), so the caller can honour it for 429 and 504. */
	unsigned int *retry_after_ms;
} peerop__kube_stream_opts;

/* GET path_and_query and stream the reply body to o->on_data, on the
 * calling thread. Returns 0 when the server ends a 200 reply cleanly;
 * PEEROP_ECANCELED when stopped (stop flag, or the callback); PEEROP_ETIMEOUT
 * after idle_timeout_ms without a byte; the mapped HTTP error (Status parsed
 * into peerop_error_last()) when the reply is not 200; PEEROP_ETRUNCATED when
 * the connection breaks mid-reply; ECONNECT/ETLS... when it cannot connect.
 * Not retried (the caller owns reconnection), except once after a 401 when
 * the credential can be refreshed. The request timeout of the client does
 * not apply (streams are long); its connect timeout and TCP keepalive do.
 * on_data is never called after this returns. */
int peerop__kube_stream(struct peerop_kube_client *c, const char *path_and_query,
	const peerop__kube_stream_opts *o);

#endif /* PEEROP_KUBE_INTERNAL_H */
