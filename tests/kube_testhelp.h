/*
 * kube_testhelp.h: fixtures for the kube tests: a CA, server and client
 * certificates made at test time with the openssl CLI, kubeconfig files
 * written from templates, and a TLS API-server stand-in on loopback
 * (libmicrohttpd, test-only code).
 */
#ifndef PEEROP_KUBE_TESTHELP_H
#define PEEROP_KUBE_TESTHELP_H

#include <stddef.h>
#include <check.h>
#include <jansson.h>

/* ---- certificates ---- */
typedef struct kt_certs {
	char *dir;
	char *ca_crt, *ca_key;           /* paths */
	char *server_crt, *server_key;   /* SAN IP:127.0.0.1, DNS:localhost */
	char *client_crt, *client_key;   /* CN=alice, signed by the CA */
	char *other_ca_crt;              /* an unrelated CA */
	char *named_crt, *named_key;     /* SAN DNS:kubernetes.test only, signed by the CA */
	char *ca_pem, *server_crt_pem, *server_key_pem, *client_crt_pem, *client_key_pem, *other_ca_pem;
	char *named_crt_pem, *named_key_pem;
} kt_certs;

/* Make them in a new temp dir (once per test program; forked tests
 * inherit them). Aborts the program if openssl fails. */
void kt_certs_make(kt_certs *c);
void kt_certs_remove(kt_certs *c);
/* The main() of a kube test program: global init, certificates in
 * *certs, the suite, cleanup; returns the exit status. */
int kt_main(Suite *(*suite)(void), kt_certs *certs);
/* base64 of a string, malloc'd. */
char *kt_base64(const char *s);
/* Copy a fixture from tests/kube-fixtures into dir, replacing @NAME@
 * placeholders from the NULL-terminated pairs list; returns the new path. */
char *kt_fixture(const char *dir, const char *name, const char *const *pairs);
/* Write a file from a template with the same substitution. */
char *kt_write_template(const char *dir, const char *name, const char *tmpl, const char *const *pairs);

/* ---- the test server ---- */
typedef struct kt_server kt_server;

typedef enum kt_mode {
	KT_NORMAL = 0,   /* status + body */
	KT_TRUNCATE,     /* announce body_len + 1000 bytes, send body, close */
	KT_STALL,        /* send the headers and part of the body, then nothing */
	KT_STREAM        /* 200, chunked, body from kt_stream_push() */
} kt_mode;

typedef struct kt_req {
	const char *method;
	const char *path;          /* without the query */
	json_t *args;              /* decoded query arguments */
	const char *authorization; /* Authorization header or NULL */
	const char *content_type;
	const char *body;
	size_t body_len;
	int client_cert_ok;        /* a client certificate verified against the trust CA */
	int n;                     /* 0-based number of this request on the server */
} kt_req;

typedef struct kt_resp {
	int status;
	char *body;                /* malloc'd; the server frees it */
	const char *content_type;  /* default application/json */
	const char *retry_after;   /* Retry-After header value, or NULL */
	kt_mode mode;
} kt_resp;

typedef void (*kt_handler)(const kt_req *req, kt_resp *resp, void *arg);

/* Start on 127.0.0.1, an ephemeral port. TLS with cert/key PEM (NULL: plain
 * HTTP); trust_pem: ask for a client certificate signed by that CA. */
kt_server *kt_server_start(const char *cert_pem, const char *key_pem, const char *trust_pem,
	kt_handler h, void *arg);
int kt_server_port(kt_server *s);
/* "https://127.0.0.1:PORT" (or http), owned by the server. */
const char *kt_server_url(kt_server *s);
int kt_server_requests(kt_server *s);
/* Distinct TCP connections accepted so far. */
int kt_server_connections(kt_server *s);
void kt_server_stop(kt_server *s);

/* For KT_STREAM replies: the body is fed by the test. */
void kt_stream_push(kt_server *s, const char *data);
/* End the stream cleanly (1) or abort the connection (0). */
void kt_stream_end(kt_server *s, int clean);
/* Number of streams begun so far; only the newest one gets pushed data. */
int kt_stream_started(kt_server *s);
/* Number of streams currently being served. */
int kt_stream_active(kt_server *s);

/* A plain TCP server that answers every connection with `reply` and
 * closes; returns the port. */
typedef struct kt_raw kt_raw;
kt_raw *kt_raw_start(const char *reply);
int kt_raw_port(kt_raw *r);
/* What the last connection sent before the reply (its first read), malloc'd. */
char *kt_raw_received(kt_raw *r);
void kt_raw_stop(kt_raw *r);

#endif
