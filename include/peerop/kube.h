/**
 * @file peerop/kube.h
 * @brief The Kubernetes client: configuration, and a generic REST client.
 *
 * A peerop_kube_config says where the API server is and how to authenticate
 * (from a kubeconfig file, or from inside a pod). A peerop_kube_client talks
 * to it: get, list (with transparent paging), create, replace, patch
 * (merge, JSON patch, strategic merge, server-side apply), delete, and the
 * `/status` and `/scale` subresources of any resource named by a
 * peerop_kube_resource. Objects are jansson json_t.
 *
 * Every function returns 0 or a negative PEEROP_E* code; on failure
 * peerop_error_last() holds the server's Status (HTTP status, reason,
 * message) or a message naming the file, field or URL involved. Bearer
 * tokens and key material never appear in an error message or a log record.
 */
#ifndef PEEROP_KUBE_H
#define PEEROP_KUBE_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/metrics.h>

PEEROP_BEGIN_DECL

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

/**
 * Where the API server is and how to authenticate to it. Immutable once
 * loaded, except for the credential it caches (exec plugin output, a token
 * re-read from a file), which is guarded by a lock: a config may be shared
 * between threads and between clients. Clients keep their own reference, so
 * the config may be freed as soon as the clients are created.
 */
typedef struct peerop_kube_config peerop_kube_config;

/** Options of the configuration loaders. */
typedef struct peerop_kube_config_options {
	unsigned int version;     /**< PEEROP_KUBE_CONFIG_OPTIONS_VERSION */
	/**
	 * Kubeconfig file(s), colon-separated, merged as kubectl merges them.
	 * NULL: `$KUBECONFIG`, else `~/.kube/config`.
	 */
	const char *kubeconfig;
	/** Context to use; NULL: the kubeconfig's `current-context`. */
	const char *context;
	/** Namespace overriding the context's (and in-cluster) namespace; NULL: keep. */
	const char *ns;
	/**
	 * In-cluster files: the directory holding `token`, `ca.crt` and
	 * `namespace`. NULL: `/var/run/secrets/kubernetes.io/serviceaccount`.
	 */
	const char *incluster_root;
	/**
	 * How often a token read from a file (in-cluster, or a kubeconfig
	 * `tokenFile`) is read again, in milliseconds. 0: 60000 (one minute).
	 */
	unsigned int token_reread_ms;
	/** Largest kubeconfig, token or certificate file accepted, in bytes. 0: 4 MiB. */
	size_t max_file_size;
	/** Longest an exec credential plugin may run, in milliseconds. 0: 60000. */
	unsigned int exec_timeout_ms;
} peerop_kube_config_options;

#define PEEROP_KUBE_CONFIG_OPTIONS_VERSION 1
/** Static initialiser for peerop_kube_config_options. */
#define PEEROP_KUBE_CONFIG_OPTIONS_INIT { PEEROP_KUBE_CONFIG_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0 }

/**
 * Initialise options to their defaults.
 *
 * @param opts the options to fill
 * @param version PEEROP_KUBE_CONFIG_OPTIONS_VERSION
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_kube_config_options_init(peerop_kube_config_options *opts, unsigned int version);

/**
 * Load a configuration from kubeconfig file(s).
 *
 * Files listed in opts->kubeconfig (or `$KUBECONFIG`) are merged as kubectl
 * merges them: for each named cluster, user and context, the first file
 * defining it wins, and `current-context` comes from the first file that
 * sets it. Relative paths in a file are resolved against that file's
 * directory. Missing files in a list are skipped, as kubectl does, unless
 * none exists. Certificates and keys are read at load time and kept in
 * memory; they never go to temporary files.
 *
 * Errors: PEEROP_ENOENT (no file), PEEROP_ESYNTAX (malformed or truncated
 * YAML; the message names the file and line), PEEROP_ENOCONTEXT (unknown
 * context, cluster or user), PEEROP_ECONFIG (missing or wrong field, named
 * in the message), PEEROP_ECERT (unreadable certificate, key or CA),
 * PEEROP_ETOOLARGE (file over max_file_size).
 *
 * @param out receives the configuration; free with peerop_kube_config_free()
 * @param opts options, or NULL for the defaults; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_config_load(peerop_kube_config **out, const peerop_kube_config_options *opts);

/**
 * Load the in-cluster configuration of a pod: the server from
 * `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, the token, CA and
 * namespace from opts->incluster_root. The token file is read again every
 * opts->token_reread_ms and after a 401; if a read fails, the last good
 * token is kept.
 *
 * @param out receives the configuration; free with peerop_kube_config_free()
 * @param opts options, or NULL for the defaults; borrowed
 * @return 0; PEEROP_ECONFIG when not running in a cluster (variables unset);
 *         PEEROP_ENOENT, PEEROP_EIO, PEEROP_ECERT for unreadable files
 */
PEEROP_EXTERN(int) peerop_kube_config_in_cluster(peerop_kube_config **out, const peerop_kube_config_options *opts);

/**
 * Load the configuration the way controller-runtime does: opts->kubeconfig
 * if set, else `$KUBECONFIG` if set, else in-cluster if
 * `KUBERNETES_SERVICE_HOST` is set, else `~/.kube/config`.
 *
 * @param out receives the configuration; free with peerop_kube_config_free()
 * @param opts options, or NULL for the defaults; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_config_auto(peerop_kube_config **out, const peerop_kube_config_options *opts);

/** Release a configuration (one reference). NULL is a no-op. */
PEEROP_EXTERN(void) peerop_kube_config_free(peerop_kube_config *cfg);

/** The API server's base URL ("https://10.0.0.1:6443"); owned by cfg. */
PEEROP_EXTERN(const char *) peerop_kube_config_server(const peerop_kube_config *cfg);

/** The default namespace ("default" if none is configured); owned by cfg. */
PEEROP_EXTERN(const char *) peerop_kube_config_namespace(const peerop_kube_config *cfg);

/** The context in use, or "" for in-cluster configuration; owned by cfg. */
PEEROP_EXTERN(const char *) peerop_kube_config_context(const peerop_kube_config *cfg);

/* ------------------------------------------------------------------------
 * Client
 * ---------------------------------------------------------------------- */

/**
 * A client for one API server. Thread-safe: any number of threads may make
 * calls on one client at once (see docs/threading.md). Connections are
 * reused between calls; HTTP/2 is used where the server offers it.
 */
typedef struct peerop_kube_client peerop_kube_client;

/** Options of peerop_kube_client_new(). Zero means "the default" everywhere. */
typedef struct peerop_kube_client_options {
	unsigned int version;              /**< PEEROP_KUBE_CLIENT_OPTIONS_VERSION */
	unsigned int connect_timeout_ms;   /**< TCP + TLS connect; default 10000 */
	unsigned int request_timeout_ms;   /**< whole request; default 60000 */
	/** Abort when fewer than low_speed_bytes per second arrive for low_speed_time_s; defaults 1 byte/s, 30 s. */
	unsigned int low_speed_bytes;
	unsigned int low_speed_time_s;     /**< see low_speed_bytes */
	/** Retries of a 429, a 503 or a failed connection, for idempotent verbs; default 5. -1: none. */
	int max_retries;
	unsigned int retry_base_ms;        /**< first backoff, doubled each retry, jittered; default 250 */
	unsigned int retry_max_ms;         /**< cap on one wait, including Retry-After; default 30000 */
	size_t max_response_bytes;         /**< largest reply body accepted; default 512 MiB */
	const char *user_agent;            /**< default "libpeerop/VERSION" */
	/**
	 * Client-side rate limit, as client-go's rest.Config QPS and Burst: a
	 * token bucket refilled qps times a second holding at most burst
	 * tokens; every request attempt (retries and watch connections too)
	 * takes one, waiting for it if none is left. 0: no limit (the
	 * default: the server's priority and fairness protects it, and a
	 * 429 is retried). Keeps a busy controller from crowding out others
	 * sharing the API server.
	 */
	double qps;
	unsigned int burst;                /**< bucket size; 0: max(1, qps rounded up) */
} peerop_kube_client_options;

#define PEEROP_KUBE_CLIENT_OPTIONS_VERSION 1
/** Static initialiser for peerop_kube_client_options. */
#define PEEROP_KUBE_CLIENT_OPTIONS_INIT { PEEROP_KUBE_CLIENT_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0 }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_kube_client_options_init(peerop_kube_client_options *opts, unsigned int version);

/**
 * Create a client. It takes its own reference to cfg.
 *
 * @param out receives the client; free with peerop_kube_client_free()
 * @param cfg the configuration; borrowed
 * @param opts options, or NULL for the defaults; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_client_new(peerop_kube_client **out, peerop_kube_config *cfg,
	const peerop_kube_client_options *opts);

/**
 * Release a client and its connections. No call on it may be running.
 * NULL is a no-op.
 */
PEEROP_EXTERN(void) peerop_kube_client_free(peerop_kube_client *client);

/** The client's configuration; owned by the client. */
PEEROP_EXTERN(peerop_kube_config *) peerop_kube_client_config(peerop_kube_client *client);

/**
 * A metrics collector (peerop_metrics_collect_cb), payload the client:
 * `rest_client_requests_total{code,host,method}`, each attempt counted
 * (retries too); code is `<error>` when no reply came; and
 * `rest_client_request_duration_seconds{host,verb}`, a histogram of the
 * attempts' latency (client-go's buckets), watches not included.
 */
PEEROP_EXTERN(int) peerop_kube_client_collect_metrics(peerop_metrics_writer *w, void *client);

/* ------------------------------------------------------------------------
 * Resources and REST calls
 * ---------------------------------------------------------------------- */

/** Names a kind of resource, e.g. { "apps", "v1", "deployments", 1 }. */
typedef struct peerop_kube_resource {
	const char *group;    /**< API group; "" or NULL for the core group */
	const char *version;  /**< "v1", "v1beta1"... */
	const char *resource; /**< plural, lowercase: "pods", "httpservers" */
	int namespaced;       /**< 1 if namespaced, 0 if cluster-scoped */
} peerop_kube_resource;

/** Options of peerop_kube_list(). */
typedef struct peerop_kube_list_options {
	unsigned int version;          /**< PEEROP_KUBE_LIST_OPTIONS_VERSION */
	const char *label_selector;    /**< "app=web,tier!=db"; NULL: all */
	const char *field_selector;    /**< "metadata.name=x"; NULL: all */
	/** Items per page; pages are fetched and joined transparently. 0: 500. */
	unsigned int page_size;
	/** resourceVersion to list at; NULL: the most recent (consistent read). */
	const char *resource_version;
} peerop_kube_list_options;

#define PEEROP_KUBE_LIST_OPTIONS_VERSION 1
/** Static initialiser for peerop_kube_list_options. */
#define PEEROP_KUBE_LIST_OPTIONS_INIT { PEEROP_KUBE_LIST_OPTIONS_VERSION, NULL, NULL, 0, NULL }

/** Options of the calls that write: create, replace, patch. */
typedef struct peerop_kube_write_options {
	unsigned int version;          /**< PEEROP_KUBE_WRITE_OPTIONS_VERSION */
	/** "status" or "scale" to write that subresource; NULL: the object. */
	const char *subresource;
	/** fieldManager; required for server-side apply. */
	const char *field_manager;
	/** Server-side apply: take over fields owned by other managers. */
	int force;
	/** Ask the server to validate only (dryRun=All). */
	int dry_run;
	/** fieldValidation: "Strict", "Warn", "Ignore"; NULL: the server's default. */
	const char *field_validation;
} peerop_kube_write_options;

#define PEEROP_KUBE_WRITE_OPTIONS_VERSION 1
/** Static initialiser for peerop_kube_write_options. */
#define PEEROP_KUBE_WRITE_OPTIONS_INIT { PEEROP_KUBE_WRITE_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL }

/** Options of peerop_kube_delete(). */
typedef struct peerop_kube_delete_options {
	unsigned int version;          /**< PEEROP_KUBE_DELETE_OPTIONS_VERSION */
	/** "Background", "Foreground" or "Orphan"; NULL: the server's default. */
	const char *propagation_policy;
	/** Delete only if the object still has this uid; NULL: no precondition. */
	const char *precondition_uid;
	/** Delete only if the object is at this resourceVersion; NULL: no precondition. */
	const char *precondition_resource_version;
	/** Seconds before the object is deleted; -1: the server's default. */
	long long grace_period_seconds;
	/** Ask the server to validate only (dryRun=All). */
	int dry_run;
} peerop_kube_delete_options;

#define PEEROP_KUBE_DELETE_OPTIONS_VERSION 1
/** Static initialiser for peerop_kube_delete_options. */
#define PEEROP_KUBE_DELETE_OPTIONS_INIT { PEEROP_KUBE_DELETE_OPTIONS_VERSION, NULL, NULL, NULL, -1, 0 }

/** Kinds of patch. */
typedef enum peerop_kube_patch_type {
	PEEROP_KUBE_PATCH_MERGE = 0,     /**< application/merge-patch+json (RFC 7386) */
	PEEROP_KUBE_PATCH_JSON = 1,      /**< application/json-patch+json (RFC 6902) */
	PEEROP_KUBE_PATCH_STRATEGIC = 2, /**< strategic merge; built-in types only */
	PEEROP_KUBE_PATCH_APPLY = 3      /**< server-side apply; needs field_manager */
} peerop_kube_patch_type;

/**
 * Initialise list, write or delete options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_kube_list_options_init(peerop_kube_list_options *opts, unsigned int version);
/** @copydoc peerop_kube_list_options_init */
PEEROP_EXTERN(int) peerop_kube_write_options_init(peerop_kube_write_options *opts, unsigned int version);
/** @copydoc peerop_kube_list_options_init */
PEEROP_EXTERN(int) peerop_kube_delete_options_init(peerop_kube_delete_options *opts, unsigned int version);

/**
 * GET one object.
 *
 * @param out receives the object (a new reference)
 * @param res the kind of resource; borrowed
 * @param ns namespace for namespaced resources (NULL: the config's
 *        default namespace); ignored for cluster-scoped ones
 * @param name the object's name
 * @return 0, PEEROP_ENOTFOUND, or another PEEROP_E* code
 */
PEEROP_EXTERN(int) peerop_kube_get(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const char *name);

/**
 * GET a subresource of an object ("status", "scale").
 *
 * @param out receives the reply (a new reference)
 */
PEEROP_EXTERN(int) peerop_kube_get_subresource(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const char *name, const char *subresource);

/**
 * LIST objects, following `continue` tokens until the last page. The
 * result is one List object holding every item, with the list's
 * `metadata.resourceVersion`. If a continue token expires (410) the list
 * starts again from the beginning, up to 3 times.
 *
 * @param out receives the List (a new reference)
 * @param ns namespace, or NULL for the config's default namespace; "" lists
 *        across all namespaces; ignored for cluster-scoped resources
 * @param opts options, or NULL; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_list(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const peerop_kube_list_options *opts);

/**
 * POST a new object. Never retried (not idempotent).
 *
 * @param out receives the created object, or NULL to discard it
 * @param obj the object; borrowed
 * @param opts options, or NULL; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_create(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const json_t *obj,
	const peerop_kube_write_options *opts);

/**
 * PUT an object (or its opts->subresource). Include
 * `metadata.resourceVersion` for optimistic concurrency: a stale one gives
 * PEEROP_ECONFLICT.
 *
 * @param out receives the stored object, or NULL to discard it
 * @param name the object's name
 * @param obj the object; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_replace(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const char *name, const json_t *obj,
	const peerop_kube_write_options *opts);

/**
 * PATCH an object (or its opts->subresource). Never retried.
 *
 * For PEEROP_KUBE_PATCH_APPLY, opts->field_manager is required and
 * opts->force is usually wanted by controllers; patch is the full intent
 * (apiVersion, kind, metadata.name and the fields this manager owns).
 *
 * @param out receives the patched object, or NULL to discard it
 * @param patch the patch document; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_patch(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const char *name,
	peerop_kube_patch_type type, const json_t *patch, const peerop_kube_write_options *opts);

/**
 * DELETE an object.
 *
 * @param out receives the server's reply (the object while finalizers
 *        run, or a Status), or NULL to discard it
 * @param opts options, or NULL; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_delete(json_t **out, peerop_kube_client *client,
	const peerop_kube_resource *res, const char *ns, const char *name,
	const peerop_kube_delete_options *opts);

/**
 * Any other request ("/version", discovery, a proxy subresource...).
 * Only GET, HEAD, PUT and DELETE are retried.
 *
 * @param out receives the reply parsed as JSON, or NULL to discard it
 * @param method "GET", "POST", "PUT", "PATCH", "DELETE"...
 * @param path_and_query absolute path on the server, already URL-encoded
 * @param content_type of body; NULL: "application/json"
 * @param body request body, or NULL for none; borrowed
 */
PEEROP_EXTERN(int) peerop_kube_request(json_t **out, peerop_kube_client *client,
	const char *method, const char *path_and_query, const char *content_type, const json_t *body);

PEEROP_END_DECL

#endif /* PEEROP_KUBE_H */
