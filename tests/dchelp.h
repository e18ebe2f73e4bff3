/*
 * dchelp.h: drive an in-process devcluster from Check tests with plain
 * libcurl (no dependency on libpeerop's Kubernetes client).
 */
#ifndef DCHELP_H
#define DCHELP_H

#include <jansson.h>
#include <stdbool.h>
#include "cluster.h"

typedef struct dct {
	dc_cluster *cluster;
	dc_server *srv;     /* the cluster's API server */
	char *dir;          /* a temp dir (data dir lives under it when asked) */
	char url[192];
	char *token;
	char *ca_file;      /* with TLS */
	char *data_dir;     /* DIR/data when asked, else NULL */
	const char *accept; /* an Accept header for the next requests, or NULL */
	const char *user_agent; /* a User-Agent for the next requests, or NULL (none) */
	const char *const *headers; /* extra headers ("Name: value", NULL-ended) for the next requests */
} dct;

/* Start a server on 127.0.0.1:0. opts may be NULL. data: use DIR/data. */
dct *dct_start(const dc_server_options *opts, bool data);
/* The same with components (controllers, a kubelet). */
dct *dct_start_cluster(const dc_cluster_options *opts, bool data);
/* Stop it, remove the temp dir. */
void dct_stop(dct *t);
/* Stop the server (and its components) only, keeping the temp dir; a test
 * may then set t->srv to a server it started itself (dct_stop frees it). */
void dct_stop_server(dct *t);

typedef struct dct_resp {
	long code;
	char *body;
	json_t *json;       /* parsed body or NULL */
	char content_type[128];
	char retry_after[32];
	char warnings[8192]; /* the Warning headers' values, one per line */
} dct_resp;

/* One request. body may be NULL; ctype NULL means application/json when
 * there is a body. token NULL: the server's token; "" sends none. */
void dct_req_ex(dct *t, dct_resp *r, const char *method, const char *path,
	const char *ctype, const char *body, size_t len, const char *token);
void dct_req(dct *t, dct_resp *r, const char *method, const char *path, const char *ctype, const char *body);
void dct_resp_free(dct_resp *r);
/* Convenience: returns the parsed body (owned) and sets *code. */
json_t *dct_call(dct *t, long *code, const char *method, const char *path, const char *body);
json_t *dct_patch(dct *t, long *code, const char *path, const char *ctype, const char *body);
/* Create a configmap ns/name with labels JSON (or NULL); returns its rv. */
char *dct_make_cm(dct *t, const char *ns, const char *name, const char *labels_json);
/* Create the project's HTTPServer CRD from the canonical file
 * charts/peerop/crds/httpservers.peerop.io.yaml. */
void dct_make_crd(dct *t);
/* A parsed YAML file of the source tree (path relative to the top). */
json_t *dct_load_yaml(const char *relpath);
/* Status reason of a reply, "" if none. */
const char *dct_reason(const json_t *j);

/* A watch stream read on its own thread. */
typedef struct dct_watch dct_watch;
dct_watch *dct_watch_start(dct *t, const char *path);
/* Number of events so far; the i-th (borrowed, valid until stop). */
size_t dct_watch_count(dct_watch *w);
json_t *dct_watch_event(dct_watch *w, size_t i);
bool dct_watch_wait(dct_watch *w, size_t n, unsigned timeout_ms);
bool dct_watch_ended(dct_watch *w);
long dct_watch_code(dct_watch *w);
void dct_watch_stop(dct_watch *w);
/* Type of event i ("ADDED"...), or "". */
const char *dct_ev_type(dct_watch *w, size_t i);
const char *dct_ev_name(dct_watch *w, size_t i);

/* Suites share one main: each check_devcluster_*.c defines suite(). */
Suite *suite(void);

#endif
