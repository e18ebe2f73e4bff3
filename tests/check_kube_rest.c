/* check_kube_rest.c: the REST client against a real HTTPS server on
 * loopback: TLS with a CA made by the openssl CLI, bearer-token and
 * client-certificate auth, paging, Status errors, retries, garbage, cut
 * and stalled replies, and a client shared between threads. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "kube_internal.h"
#include "kube_testhelp.h"
#include "testhelp.h"

static kt_certs certs;
static char *dir;
static const peerop_kube_resource PODS = { "", "v1", "pods", 1 };
static const peerop_kube_resource WIDGETS = { "example.com", "v1", "widgets", 1 };

/* An HTTPS server with the test CA's certificate, no client certificates. */
static kt_server *tls_server(kt_handler h, void *arg)
{
	return kt_server_start(certs.server_crt_pem, certs.server_key_pem, NULL, h, arg);
}

static void setup(void)
{
	dir = th_tmpdir();
	ck_assert_ptr_nonnull(dir);
	peerop_error_clear();
}

static void teardown(void)
{
	th_tmpdir_remove(dir);
	dir = NULL;
}

static char *status_json(int code, const char *reason, const char *message)
{
	json_t *j = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
		"metadata", "status", "Failure", "message", message, "reason", reason, "code", code);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int bearer_is(const kt_req *req, const char *token)
{
	char want[256];
	snprintf(want, sizeof(want), "Bearer %s", token);
	return req->authorization && !strcmp(req->authorization, want);
}

static void unauthorized(kt_resp *resp)
{
	resp->status = 401;
	resp->body = status_json(401, "Unauthorized", "Unauthorized");
}

typedef struct client_setup {
	const char *token;       /* bearer token, or NULL */
	const char *token_file;  /* or a token file */
	int client_cert;         /* present the client certificate */
	const char *ca_pem;      /* default: the test CA */
	const char *url;         /* default: the server's */
	const char *tls_server_name;
	const char *proxy_url;
} client_setup;

static peerop_kube_client *make_client(kt_server *s, const client_setup *cs, const peerop_kube_client_options *o)
{
	peerop__buf y = PEEROP__BUF_INIT;
	char *ca = kt_base64(cs->ca_pem ? cs->ca_pem : certs.ca_pem), *path;
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *c = NULL;

	peerop__buf_printf(&y, "current-context: t\nclusters:\n- name: c\n  cluster:\n    server: %s\n",
		cs->url ? cs->url : kt_server_url(s));
	if (!cs->url || !strncmp(cs->url, "https", 5))
		peerop__buf_printf(&y, "    certificate-authority-data: %s\n", ca);
	if (cs->tls_server_name)
		peerop__buf_printf(&y, "    tls-server-name: %s\n", cs->tls_server_name);
	if (cs->proxy_url)
		peerop__buf_printf(&y, "    proxy-url: %s\n", cs->proxy_url);
	peerop__buf_puts(&y, "users:\n- name: u\n  user:\n");
	if (cs->token)
		peerop__buf_printf(&y, "    token: %s\n", cs->token);
	if (cs->token_file)
		peerop__buf_printf(&y, "    tokenFile: %s\n", cs->token_file);
	if (cs->client_cert) {
		char *crt = kt_base64(certs.client_crt_pem), *key = kt_base64(certs.client_key_pem);
		peerop__buf_printf(&y, "    client-certificate-data: %s\n    client-key-data: %s\n", crt, key);
		free(crt);
		free(key);
	}
	if (!cs->token && !cs->token_file && !cs->client_cert)
		peerop__buf_puts(&y, "    {}\n");
	peerop__buf_puts(&y, "contexts:\n- name: t\n  context: {cluster: c, user: u, namespace: default}\n");
	path = kt_write_template(dir, "kubeconfig", y.ptr, NULL);
	co.kubeconfig = path;
	ck_assert_msg(peerop_kube_config_load(&cfg, &co) == 0, "%s", peerop_error_last()->message);
	ck_assert_msg(peerop_kube_client_new(&c, cfg, o) == 0, "%s", peerop_error_last()->message);
	peerop_kube_config_free(cfg); /* the client keeps its own reference */
	peerop__buf_dispose(&y);
	free(ca);
	free(path);
	return c;
}

/* ---- a small in-memory API for the happy paths ---- */

static void pods_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	(void)arg;
	if (!bearer_is(req, "tok-1")) {
		unauthorized(resp);
		return;
	}
	if (!strcmp(req->method, "GET") && !strcmp(req->path, "/api/v1/namespaces/default/pods/web")) {
		resp->body = strdup("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"}}");
		return;
	}
	if (!strcmp(req->path, "/version")) {
		resp->body = strdup("{\"major\":\"1\",\"minor\":\"32\"}");
		return;
	}
	resp->status = 404;
	resp->body = status_json(404, "NotFound", "pods \"x\" not found");
}

START_TEST(test_get_with_token)
{
	kt_server *s = tls_server(pods_handler, NULL);
	client_setup cs = { "tok-1", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	json_t *obj = NULL;

	ck_assert_msg(peerop_kube_get(&obj, c, &PODS, NULL, "web") == 0, "%s", peerop_error_last()->message);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "web");
	json_decref(obj);
	ck_assert_int_eq(peerop_kube_request(&obj, c, "GET", "/version", NULL, NULL), 0);
	ck_assert_str_eq(json_string_value(json_object_get(obj, "minor")), "32");
	json_decref(obj);
	/* invalid arguments never reach the server */
	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, NULL, ""), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_kube_request(&obj, c, "GET", "version", NULL, NULL), PEEROP_EINVAL);
	peerop_kube_client_free(c);
	peerop_kube_client_free(NULL);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_wrong_token_is_eauth)
{
	kt_server *s = tls_server(pods_handler, NULL);
	client_setup cs = { "tok-WRONG-secret", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c;
	json_t *obj = NULL;
	char *logs;

	th_log_capture_start(PEEROP_LOG_TRACE);
	c = make_client(s, &cs, NULL);
	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, NULL, "web"), PEEROP_EAUTH);
	ck_assert_ptr_null(obj);
	ck_assert_int_eq(peerop_error_last()->http_status, 401);
	ck_assert_str_eq(peerop_error_last()->reason, "Unauthorized");
	ck_assert_msg(strstr(peerop_error_last()->message, kt_server_url(s)) != NULL, "%s", peerop_error_last()->message);
	/* a fixed token cannot change: no retry */
	ck_assert_int_eq(kt_server_requests(s), 1);
	/* the token appears in no log line and no error message */
	ck_assert(strstr(peerop_error_last()->message, "tok-WRONG-secret") == NULL);
	logs = th_log_captured();
	ck_assert_msg(strstr(logs, "GET https://127.0.0.1") != NULL, "request not logged: %s", logs);
	ck_assert_msg(strstr(logs, "status=401") && strstr(logs, "http=1.1") && strstr(logs, "duration_ms="),
		"fields missing: %s", logs);
	ck_assert(strstr(logs, "tok-WRONG-secret") == NULL);
	ck_assert(strstr(logs, "Bearer") == NULL);
	free(logs);
	th_log_capture_stop();
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

static void cert_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	(void)arg;
	if (!req->client_cert_ok) {
		unauthorized(resp);
		return;
	}
	resp->body = strdup("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"}}");
}

START_TEST(test_client_certificate)
{
	kt_server *s = kt_server_start(certs.server_crt_pem, certs.server_key_pem, certs.ca_pem, cert_handler, NULL);
	client_setup with = { NULL, NULL, 1, NULL, NULL, NULL, NULL }, without = { NULL, NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &with, NULL), *anon = make_client(s, &without, NULL);
	json_t *obj = NULL;

	ck_assert_msg(peerop_kube_get(&obj, c, &PODS, "default", "web") == 0, "%s", peerop_error_last()->message);
	json_decref(obj);
	ck_assert_int_eq(peerop_kube_get(&obj, anon, &PODS, "default", "web"), PEEROP_EAUTH);
	peerop_kube_client_free(c);
	peerop_kube_client_free(anon);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_tls_verification)
{
	kt_server *s = tls_server(pods_handler, NULL);
	client_setup cs = { "tok-1", NULL, 0, certs.other_ca_pem, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	json_t *obj = NULL;
	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, NULL, "web"), PEEROP_ETLS);
	ck_assert_msg(strstr(peerop_error_last()->message, kt_server_url(s)) != NULL, "%s", peerop_error_last()->message);
	ck_assert_int_eq(kt_server_requests(s), 0);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_tls_server_name)
{
	/* a certificate for kubernetes.test only, served on 127.0.0.1 */
	kt_server *s = kt_server_start(certs.named_crt_pem, certs.named_key_pem, NULL, pods_handler, NULL);
	client_setup plain = { "tok-1", NULL, 0, NULL, NULL, NULL, NULL };
	client_setup named = { "tok-1", NULL, 0, NULL, NULL, "kubernetes.test", NULL };
	peerop_kube_client *c = make_client(s, &plain, NULL), *n = make_client(s, &named, NULL);
	json_t *obj = NULL;

	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, NULL, "web"), PEEROP_ETLS);
	ck_assert_msg(peerop_kube_get(&obj, n, &PODS, NULL, "web") == 0, "%s", peerop_error_last()->message);
	json_decref(obj);
	peerop_kube_client_free(c);
	peerop_kube_client_free(n);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_proxy_url)
{
	/* the proxy is asked to CONNECT to the server; this one refuses */
	kt_raw *proxy = kt_raw_start("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
	char purl[64], *seen;
	client_setup cs = { "tok-1", NULL, 0, NULL, "https://127.0.0.1:6443", NULL, purl };
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	peerop_kube_client *c;
	json_t *obj = NULL;

	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", kt_raw_port(proxy));
	o.max_retries = -1;
	c = make_client(NULL, &cs, &o);
	ck_assert_int_lt(peerop_kube_get(&obj, c, &PODS, NULL, "web"), 0);
	seen = kt_raw_received(proxy);
	ck_assert_msg(strncmp(seen, "CONNECT 127.0.0.1:6443 ", 23) == 0, "proxy got: %s", seen);
	/* the tunnel request carries no credential */
	ck_assert(strstr(seen, "tok-1") == NULL);
	free(seen);
	peerop_kube_client_free(c);
	kt_raw_stop(proxy);
}
END_TEST

/* ---- paging ---- */

typedef struct paging {
	int expire_once_at;  /* page index (1-based continue) to answer 410 once */
	int expired;
	int endless;         /* 1: the same continue token forever; 2: a new one each time */
	int requests;
} paging;

static void list_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	paging *p = arg;
	const char *cont = json_string_value(json_object_get(req->args, "continue"));
	const char *limit = json_string_value(json_object_get(req->args, "limit"));
	const char *sel = json_string_value(json_object_get(req->args, "labelSelector"));
	int start = cont ? atoi(cont) : 0, lim = limit ? atoi(limit) : 500, i, total = 7;
	json_t *items = json_array(), *list;

	if (strcmp(req->path, "/apis/example.com/v1/namespaces/team-a/widgets") || !sel || strcmp(sel, "app=web,tier!=db")) {
		resp->status = 400;
		resp->body = status_json(400, "BadRequest", "unexpected request");
		json_decref(items);
		return;
	}
	if (p && p->endless) {
		/* a server whose list never ends: the same token, or a new one each time */
		char next[32];
		snprintf(next, sizeof(next), "%d", p->endless == 1 ? 1 : start + 1);
		list = json_pack("{s:s,s:s,s:{s:s,s:s},s:[]}", "kind", "WidgetList", "apiVersion", "example.com/v1",
			"metadata", "resourceVersion", "4242", "continue", next, "items");
		resp->body = json_dumps(list, JSON_COMPACT);
		json_decref(list);
		json_decref(items);
		p->requests++;
		return;
	}
	if (p && cont && start == p->expire_once_at && !p->expired) {
		p->expired = 1;
		resp->status = 410;
		resp->body = status_json(410, "Expired", "The provided continue parameter is too old");
		json_decref(items);
		return;
	}
	for (i = start; i < total && i < start + lim; i++) {
		char name[16];
		snprintf(name, sizeof(name), "w-%d", i);
		json_array_append_new(items, json_pack("{s:{s:s}}", "metadata", "name", name));
	}
	list = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "WidgetList", "apiVersion", "example.com/v1",
		"metadata", "resourceVersion", "4242", "items", items);
	if (i < total) {
		char next[16];
		snprintf(next, sizeof(next), "%d", i);
		json_object_set_new(json_object_get(list, "metadata"), "continue", json_string(next));
		json_object_set_new(json_object_get(list, "metadata"), "remainingItemCount", json_integer(total - i));
	}
	resp->body = json_dumps(list, JSON_COMPACT);
	json_decref(list);
}

START_TEST(test_list_paging)
{
	paging p = { 0, 0, 0, 0 };
	kt_server *s = tls_server(list_handler, &p);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	peerop_kube_list_options lo;
	json_t *list = NULL, *items;
	size_t i;

	ck_assert_int_eq(peerop_kube_list_options_init(&lo, PEEROP_KUBE_LIST_OPTIONS_VERSION), 0);
	lo.label_selector = "app=web,tier!=db";
	lo.page_size = 3;
	ck_assert_msg(peerop_kube_list(&list, c, &WIDGETS, "team-a", &lo) == 0, "%s", peerop_error_last()->message);
	items = json_object_get(list, "items");
	ck_assert_int_eq(json_array_size(items), 7);
	for (i = 0; i < 7; i++) {
		const char *name = json_string_value(json_object_get(json_object_get(json_array_get(items, i), "metadata"), "name"));
		ck_assert_int_eq(name[strlen(name) - 1], '0' + (int)i);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion")), "4242");
	ck_assert_ptr_null(json_object_get(json_object_get(list, "metadata"), "continue"));
	ck_assert_ptr_null(json_object_get(json_object_get(list, "metadata"), "remainingItemCount"));
	ck_assert_int_eq(kt_server_requests(s), 3);
	json_decref(list);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

/* A list that never ends is refused, not followed forever. */
START_TEST(test_list_endless)
{
	paging p = { 0, 0, 1, 0 };
	kt_server *s = tls_server(list_handler, &p);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	json_t *list = NULL;

	lo.label_selector = "app=web,tier!=db";
	ck_assert_int_eq(peerop_kube_list(&list, c, &WIDGETS, "team-a", &lo), PEEROP_EPROTO);
	ck_assert_ptr_null(list);
	ck_assert_msg(strstr(peerop_error_last()->message, "repeated the continue token") != NULL, "%s",
		peerop_error_last()->message);
	ck_assert_int_eq(p.requests, 2);
	p.endless = 2;
	p.requests = 0;
	ck_assert_int_eq(peerop_kube_list(&list, c, &WIDGETS, "team-a", &lo), PEEROP_EPROTO);
	ck_assert_msg(strstr(peerop_error_last()->message, "past 10000 pages") != NULL, "%s",
		peerop_error_last()->message);
	ck_assert_int_eq(p.requests, 10000);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_list_continue_expired_restarts)
{
	paging p = { 6, 0, 0, 0 };
	kt_server *s = tls_server(list_handler, &p);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	json_t *list = NULL;

	lo.label_selector = "app=web,tier!=db";
	lo.page_size = 3;
	ck_assert_msg(peerop_kube_list(&list, c, &WIDGETS, "team-a", &lo) == 0, "%s", peerop_error_last()->message);
	/* pages 0, 3, then 410 at 6, then 0, 3, 6 again: no duplicates */
	ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 7);
	ck_assert_int_eq(kt_server_requests(s), 6);
	json_decref(list);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

/* ---- Status errors ---- */

static void status_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	static const struct { const char *name; int code; const char *reason; } table[] = {
		{ "nf", 404, "NotFound" }, { "exists", 409, "AlreadyExists" }, { "conflict", 409, "Conflict" },
		{ "invalid", 422, "Invalid" }, { "forbidden", 403, "Forbidden" }, { "gone", 410, "Expired" },
		{ "bad", 400, "BadRequest" }, { "teapot", 418, "Teapot" },
	};
	const char *name = strrchr(req->path, '/') + 1;
	size_t i;
	(void)arg;
	for (i = 0; i < PEEROP__ARRAY_SIZE(table); i++) {
		if (!strcmp(name, table[i].name)) {
			char msg[128];
			snprintf(msg, sizeof(msg), "widgets \"%s\" said %s", name, table[i].reason);
			resp->status = table[i].code;
			resp->body = status_json(table[i].code, table[i].reason, msg);
			return;
		}
	}
	if (!strcmp(name, "html500")) {
		resp->status = 500;
		resp->content_type = "text/html";
		resp->body = strdup("<html>upstream exploded: Bearer tok-secret-echo</html>");
		return;
	}
	if (!strcmp(name, "echo-long")) {
		/* quotes it over and over, past any fixed buffer, in the reason too */
		peerop__buf msg = PEEROP__BUF_INIT;
		json_t *st;
		while (msg.len < 3000)
			peerop__buf_printf(&msg, "bad header %s; ", req->authorization ? req->authorization : "");
		st = json_pack("{s:s,s:s,s:s,s:s,s:i}", "kind", "Status", "status", "Failure",
			"reason", req->authorization ? req->authorization : "", "message", msg.ptr, "code", 403);
		resp->status = 403;
		resp->body = json_dumps(st, JSON_COMPACT);
		json_decref(st);
		peerop__buf_dispose(&msg);
		return;
	}
	if (!strcmp(name, "huge-error")) {
		/* 8 MiB of an error body: only its start is read */
		resp->status = 403;
		resp->content_type = "text/plain";
		resp->body = malloc(8u << 20);
		memset(resp->body, 'x', (8u << 20) - 1);
		resp->body[(8u << 20) - 1] = '\0';
		return;
	}
	if (!strcmp(name, "echo")) {
		/* a reflecting proxy that quotes the Authorization header */
		char msg[256];
		snprintf(msg, sizeof(msg), "bad header %s", req->authorization ? req->authorization : "");
		resp->status = 403;
		resp->body = status_json(403, "Forbidden", msg);
		return;
	}
	resp->body = strdup("{}");
}

START_TEST(test_status_errors)
{
	static const struct { const char *name; int rc; int http; const char *reason; } cases[] = {
		{ "nf", PEEROP_ENOTFOUND, 404, "NotFound" },
		{ "exists", PEEROP_EEXISTS, 409, "AlreadyExists" },
		{ "conflict", PEEROP_ECONFLICT, 409, "Conflict" },
		{ "invalid", PEEROP_EINVALID, 422, "Invalid" },
		{ "forbidden", PEEROP_EFORBIDDEN, 403, "Forbidden" },
		{ "gone", PEEROP_EGONE, 410, "Expired" },
		{ "bad", PEEROP_EINVALID, 400, "BadRequest" },
		{ "teapot", PEEROP_EHTTP, 418, "Teapot" },
	};
	kt_server *s = tls_server(status_handler, NULL);
	client_setup cs = { "tok-secret-echo", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	json_t *obj = NULL;
	size_t i;

	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		const peerop_error *e;
		char want[128];
		ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", cases[i].name), cases[i].rc);
		ck_assert_ptr_null(obj);
		e = peerop_error_last();
		ck_assert_int_eq(e->code, cases[i].rc);
		ck_assert_int_eq(e->http_status, cases[i].http);
		ck_assert_str_eq(e->reason, cases[i].reason);
		snprintf(want, sizeof(want), "widgets \"%s\" said %s", cases[i].name, cases[i].reason);
		ck_assert_msg(strstr(e->message, want) != NULL, "%s", e->message);
		ck_assert_msg(strstr(e->message, "/apis/example.com/v1/namespaces/ns/widgets/") != NULL, "%s", e->message);
	}
	/* a 500 that is not a Status: the body is not quoted */
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "html500"), PEEROP_EUNAVAILABLE);
	ck_assert_int_eq(peerop_error_last()->http_status, 500);
	ck_assert_msg(strstr(peerop_error_last()->message, "not a Status") != NULL, "%s", peerop_error_last()->message);
	ck_assert(strstr(peerop_error_last()->message, "tok-secret-echo") == NULL);
	/* a Status quoting our token is redacted */
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "echo"), PEEROP_EFORBIDDEN);
	ck_assert_msg(strstr(peerop_error_last()->message, "[REDACTED]") != NULL, "%s", peerop_error_last()->message);
	ck_assert(strstr(peerop_error_last()->message, "tok-secret-echo") == NULL);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

/* Text with every "[REDACTED]" taken out. */
static char *unredacted(const char *msg)
{
	char *out = strdup(msg), *p;
	while ((p = strstr(out, "[REDACTED]")) != NULL)
		memmove(p, p + 10, strlen(p + 10) + 1);
	return out;
}

/* Tokens shorter than the replacement, or found inside it, are cut out of
 * a Status that quotes them many times (past any fixed buffer), and the
 * message stays whole; an error body is read only as far as its Status
 * could go. */
START_TEST(test_redaction_hostile_tokens)
{
	static const struct { const char *yaml; const char *token; } cases[] = {
		{ "Q", "Q" }, { "RED", "RED" }, { "ACTED", "ACTED" }, { "\"[REDACTED]\"", "[REDACTED]" },
		{ "\"ED]\"", "ED]" }, { "tok-secret-echo", "tok-secret-echo" },
	};
	kt_server *s = tls_server(status_handler, NULL);
	json_t *obj = NULL;
	size_t i;

	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		client_setup cs = { cases[i].yaml, NULL, 0, NULL, NULL, NULL, NULL };
		peerop_kube_client *c = make_client(s, &cs, NULL);
		const char *msg;
		char *rest;
		ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "echo-long"), PEEROP_EFORBIDDEN);
		msg = peerop_error_last()->message;
		ck_assert_msg(strstr(msg, "bad header Bearer [REDACTED]; bad header Bearer [REDACTED]; ") != NULL,
			"%s: %s", cases[i].token, msg);
		rest = unredacted(msg);
		ck_assert_msg(strstr(rest, cases[i].token) == NULL, "%s: %s", cases[i].token, msg);
		free(rest);
		ck_assert_str_eq(peerop_error_last()->reason, "Bearer [REDACTED]");
		peerop_kube_client_free(c);
	}
	{
		client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
		peerop_kube_client *c = make_client(s, &cs, NULL);
		ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "huge-error"), PEEROP_EFORBIDDEN);
		ck_assert_msg(strstr(peerop_error_last()->message, "(262144-byte body, not a Status)") != NULL, "%s",
			peerop_error_last()->message);
		/* and the connection is usable after the cut */
		ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "nf"), PEEROP_ENOTFOUND);
		peerop_kube_client_free(c);
	}
	kt_server_stop(s);
}
END_TEST

/* ---- retries ---- */

typedef struct retry_state {
	int fail_first;       /* answer this many requests with `status` */
	int status;
	const char *retry_after;
	uint64_t t[8];        /* when each request arrived */
} retry_state;

static void retry_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	retry_state *r = arg;
	if (req->n < 8)
		r->t[req->n] = th_now_ms();
	if (req->n < r->fail_first) {
		resp->status = r->status;
		resp->retry_after = r->retry_after;
		resp->body = status_json(r->status, r->status == 429 ? "TooManyRequests" : "ServiceUnavailable", "busy");
		return;
	}
	resp->body = strdup("{\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"}}");
}

START_TEST(test_retry_after_429)
{
	retry_state r = { 2, 429, "1", { 0 } };
	kt_server *s = tls_server(retry_handler, &r);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	json_t *obj = NULL;

	ck_assert_msg(peerop_kube_get(&obj, c, &WIDGETS, "ns", "w") == 0, "%s", peerop_error_last()->message);
	json_decref(obj);
	ck_assert_int_eq(kt_server_requests(s), 3);
	/* Retry-After: 1 was honoured (a lower bound: a loaded machine is only slower) */
	ck_assert_msg(r.t[1] - r.t[0] >= 950, "waited %llu ms", (unsigned long long)(r.t[1] - r.t[0]));
	ck_assert_msg(r.t[2] - r.t[1] >= 950, "waited %llu ms", (unsigned long long)(r.t[2] - r.t[1]));
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_retry_503_backoff_and_limits)
{
	retry_state r = { 100, 503, NULL, { 0 } };
	kt_server *s = tls_server(retry_handler, &r);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	peerop_kube_client *c;
	json_t *obj = NULL, *body = json_pack("{s:s,s:{s:s}}", "kind", "Widget", "metadata", "name", "w");

	o.max_retries = 3;
	o.retry_base_ms = 20;
	c = make_client(s, &cs, &o);
	/* GET: 1 + 3 retries, then the error */
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "w"), PEEROP_EUNAVAILABLE);
	ck_assert_int_eq(peerop_error_last()->http_status, 503);
	ck_assert_int_eq(kt_server_requests(s), 4);
	/* backoff doubles: 20, 40, 80 ms (+/-20%); lower bounds only */
	ck_assert(r.t[2] - r.t[1] >= 30);
	ck_assert(r.t[3] - r.t[2] >= 60);
	/* POST and PATCH are not idempotent: never retried */
	ck_assert_int_eq(peerop_kube_create(NULL, c, &WIDGETS, "ns", body, NULL), PEEROP_EUNAVAILABLE);
	ck_assert_int_eq(kt_server_requests(s), 5);
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_MERGE, body, NULL),
		PEEROP_EUNAVAILABLE);
	ck_assert_int_eq(kt_server_requests(s), 6);
	/* PUT and DELETE are idempotent: retried */
	ck_assert_int_eq(peerop_kube_replace(NULL, c, &WIDGETS, "ns", "w", body, NULL), PEEROP_EUNAVAILABLE);
	ck_assert_int_eq(kt_server_requests(s), 10);
	json_decref(body);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_retry_recovers_after_503)
{
	retry_state r = { 2, 503, NULL, { 0 } };
	kt_server *s = tls_server(retry_handler, &r);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	peerop_kube_client *c;
	json_t *obj = NULL;
	o.retry_base_ms = 10;
	c = make_client(s, &cs, &o);
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "w"), 0);
	ck_assert_int_eq(kt_server_requests(s), 3);
	json_decref(obj);
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

/* ---- broken servers ---- */

static void broken_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	const char *name = strrchr(req->path, '/') + 1;
	(void)arg;
	if (!strcmp(name, "garbage")) {
		resp->content_type = "text/plain";
		resp->body = strdup("this is not { json");
	} else if (!strcmp(name, "array")) {
		resp->body = strdup("[1, 2, 3]");
	} else if (!strcmp(name, "truncated")) {
		resp->mode = KT_TRUNCATE;
		resp->body = strdup("{\"kind\":\"Widget\",\"metadata\":{\"name\":");
	} else if (!strcmp(name, "stall")) {
		resp->mode = KT_STALL;
		resp->body = strdup("{\"kind\":\"Widget\",\"metadata\":{\"name\":\"stalled-forever\"}}");
	} else if (!strcmp(name, "big")) {
		char *b = malloc(300000);
		memset(b, ' ', 299999);
		b[0] = '{';
		b[299997] = '}';
		b[299998] = '\n';
		b[299999] = '\0';
		resp->body = b;
	} else {
		resp->body = strdup("{}");
	}
}

/* A GET against the broken server fails with code, naming the object; the
 * body is never quoted. o may be NULL. */
static void expect_broken(kt_server *s, const peerop_kube_client_options *o, const char *name, int code)
{
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, o);
	json_t *obj = NULL;
	char path[64];
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", name), code);
	ck_assert_ptr_null(obj);
	snprintf(path, sizeof(path), "/widgets/%s", name);
	ck_assert_msg(strstr(peerop_error_last()->message, path) != NULL, "%s", peerop_error_last()->message);
	ck_assert(strstr(peerop_error_last()->message, "this is not") == NULL);
	peerop_kube_client_free(c);
}

START_TEST(test_garbage_reply)
{
	kt_server *s = tls_server(broken_handler, NULL);
	expect_broken(s, NULL, "garbage", PEEROP_EPROTO);
	expect_broken(s, NULL, "array", PEEROP_EPROTO);
	kt_server_stop(s);
}
END_TEST

/* A GET from a server at url (no test server) fails with code, naming url. */
static void expect_url_fails(const char *url, int max_retries, int code)
{
	client_setup cs = { "t", NULL, 0, NULL, url, NULL, NULL };
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	peerop_kube_client *c;
	json_t *obj = NULL;
	o.max_retries = max_retries;
	o.retry_base_ms = 10;
	c = make_client(NULL, &cs, &o);
	ck_assert_int_eq(peerop_kube_get(&obj, c, &WIDGETS, "ns", "w"), code);
	ck_assert_ptr_null(obj);
	ck_assert_msg(strstr(peerop_error_last()->message, url) != NULL, "%s", peerop_error_last()->message);
	peerop_kube_client_free(c);
}

START_TEST(test_not_http_at_all)
{
	kt_raw *raw = kt_raw_start("SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03 garbage\r\n\r\n");
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", kt_raw_port(raw));
	expect_url_fails(url, -1, PEEROP_EPROTO);
	kt_raw_stop(raw);
}
END_TEST

START_TEST(test_closed_mid_body)
{
	kt_server *s = tls_server(broken_handler, NULL);
	expect_broken(s, NULL, "truncated", PEEROP_ETRUNCATED);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_stalled_server_times_out)
{
	kt_server *s = tls_server(broken_handler, NULL);
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	o.request_timeout_ms = 1500;
	expect_broken(s, &o, "stall", PEEROP_ETIMEOUT);
	/* the low-speed limit catches a stall too */
	o.request_timeout_ms = 60000;
	o.low_speed_time_s = 1;
	expect_broken(s, &o, "stall", PEEROP_ETIMEOUT);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_reply_size_limit)
{
	kt_server *s = tls_server(broken_handler, NULL);
	peerop_kube_client_options o = PEEROP_KUBE_CLIENT_OPTIONS_INIT;
	o.max_response_bytes = 100000;
	expect_broken(s, &o, "big", PEEROP_ETOOLARGE);
	ck_assert_msg(strstr(peerop_error_last()->message, "100000") != NULL, "%s", peerop_error_last()->message);
	kt_server_stop(s);
}
END_TEST

START_TEST(test_connection_refused)
{
	/* a port bound but never listening: connections are refused, and no
	 * other test can take the port meanwhile (as it could a closed one) */
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", ntohs(sa.sin_port));
	expect_url_fails(url, 2, PEEROP_ECONNECT);
	close(fd);
}
END_TEST

/* ---- writes ---- */

static void write_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	json_t *log = arg, *rec, *body;
	body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	rec = json_pack("{s:s,s:s,s:O,s:s?,s:o?}", "method", req->method, "path", req->path, "args", req->args,
		"ct", req->content_type, "body", body);
	json_array_append_new(log, rec);
	resp->status = !strcmp(req->method, "POST") ? 201 : 200;
	resp->body = strdup("{\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\",\"resourceVersion\":\"2\"}}");
}

static const json_t *nth(json_t *log, size_t i, const char *key)
{
	return json_object_get(json_array_get(log, i), key);
}

START_TEST(test_writes)
{
	json_t *log = json_array();
	kt_server *s = tls_server(write_handler, log);
	client_setup cs = { "t", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	peerop_kube_write_options wo;
	peerop_kube_delete_options dopt;
	json_t *obj = json_pack("{s:s,s:s,s:{s:s},s:{s:i}}", "apiVersion", "example.com/v1", "kind", "Widget",
		"metadata", "name", "w", "spec", "replicas", 2);
	json_t *jpatch = json_pack("[{s:s,s:s,s:i}]", "op", "replace", "path", "/spec/replicas", "value", 3);
	json_t *out = NULL;

	ck_assert_int_eq(peerop_kube_write_options_init(&wo, PEEROP_KUBE_WRITE_OPTIONS_VERSION), 0);
	ck_assert_int_eq(peerop_kube_delete_options_init(&dopt, PEEROP_KUBE_DELETE_OPTIONS_VERSION), 0);
	/* 0: create, with fieldManager and dryRun */
	wo.field_manager = "peerop-test";
	wo.dry_run = 1;
	ck_assert_int_eq(peerop_kube_create(&out, c, &WIDGETS, "ns", obj, &wo), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")), "2");
	json_decref(out);
	/* 1: replace /status */
	wo.dry_run = 0;
	wo.subresource = "status";
	ck_assert_int_eq(peerop_kube_replace(NULL, c, &WIDGETS, "ns", "w", obj, &wo), 0);
	/* 2: merge patch /scale; 3: JSON patch; 4: strategic; 5: apply with force */
	wo.subresource = "scale";
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_MERGE, obj, &wo), 0);
	wo.subresource = NULL;
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_JSON, jpatch, &wo), 0);
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_STRATEGIC, obj, &wo), 0);
	wo.force = 1;
	wo.field_validation = "Strict";
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_APPLY, obj, &wo), 0);
	/* 6: delete with preconditions; 7: get /scale */
	dopt.propagation_policy = "Foreground";
	dopt.precondition_uid = "uid-1";
	dopt.precondition_resource_version = "7";
	dopt.grace_period_seconds = 0;
	ck_assert_int_eq(peerop_kube_delete(&out, c, &WIDGETS, "ns", "w", &dopt), 0);
	json_decref(out);
	ck_assert_int_eq(peerop_kube_get_subresource(&out, c, &WIDGETS, "ns", "w", "scale"), 0);
	json_decref(out);
	/* refused before sending: apply without a manager, a JSON patch that is not a list */
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_APPLY, obj, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_kube_patch(NULL, c, &WIDGETS, "ns", "w", PEEROP_KUBE_PATCH_JSON, obj, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_kube_create(NULL, c, &WIDGETS, "", obj, NULL), PEEROP_EINVAL);

	ck_assert_int_eq(json_array_size(log), 8);
	ck_assert_str_eq(json_string_value(nth(log, 0, "method")), "POST");
	ck_assert_str_eq(json_string_value(nth(log, 0, "path")), "/apis/example.com/v1/namespaces/ns/widgets");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 0, "args"), "fieldManager")), "peerop-test");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 0, "args"), "dryRun")), "All");
	ck_assert(json_equal((json_t *)nth(log, 0, "body"), obj));
	ck_assert_str_eq(json_string_value(nth(log, 1, "method")), "PUT");
	ck_assert_str_eq(json_string_value(nth(log, 1, "path")), "/apis/example.com/v1/namespaces/ns/widgets/w/status");
	ck_assert_str_eq(json_string_value(nth(log, 2, "path")), "/apis/example.com/v1/namespaces/ns/widgets/w/scale");
	ck_assert_str_eq(json_string_value(nth(log, 2, "ct")), "application/merge-patch+json");
	ck_assert_str_eq(json_string_value(nth(log, 3, "ct")), "application/json-patch+json");
	ck_assert(json_equal((json_t *)nth(log, 3, "body"), jpatch));
	ck_assert_str_eq(json_string_value(nth(log, 4, "ct")), "application/strategic-merge-patch+json");
	ck_assert_ptr_null(json_object_get(nth(log, 4, "args"), "force")); /* force is for apply only */
	ck_assert_str_eq(json_string_value(nth(log, 5, "ct")), "application/apply-patch+yaml");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 5, "args"), "force")), "true");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 5, "args"), "fieldValidation")), "Strict");
	ck_assert_str_eq(json_string_value(nth(log, 6, "method")), "DELETE");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 6, "body"), "kind")), "DeleteOptions");
	ck_assert_str_eq(json_string_value(json_object_get(nth(log, 6, "body"), "propagationPolicy")), "Foreground");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(nth(log, 6, "body"), "preconditions"), "uid")), "uid-1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(nth(log, 6, "body"), "preconditions"),
		"resourceVersion")), "7");
	ck_assert_int_eq(json_integer_value(json_object_get(nth(log, 6, "body"), "gracePeriodSeconds")), 0);
	ck_assert_str_eq(json_string_value(nth(log, 7, "path")), "/apis/example.com/v1/namespaces/ns/widgets/w/scale");
	json_decref(obj);
	json_decref(jpatch);
	peerop_kube_client_free(c);
	kt_server_stop(s);
	json_decref(log);
}
END_TEST

/* ---- 401 and a rotated token ---- */

/* Accepts one bearer token: arg. */
static void token_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	if (!bearer_is(req, arg)) {
		unauthorized(resp);
		return;
	}
	resp->body = strdup("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"}}");
}

START_TEST(test_401_rereads_token_file)
{
	kt_server *s = tls_server(token_handler, (void *)"rotated-token");
	char *tok = th_path(dir, "token");
	client_setup cs = { NULL, tok, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c;
	json_t *obj = NULL;

	ck_assert_int_eq(th_write_str(tok, "old-token\n"), 0);
	c = make_client(s, &cs, NULL);
	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, NULL, "web"), PEEROP_EAUTH);
	ck_assert_int_eq(kt_server_requests(s), 2); /* one retry after re-reading */
	/* the file rotates: the next 401 re-reads it and the retry succeeds */
	ck_assert_int_eq(th_write_str(tok, "rotated-token\n"), 0);
	ck_assert_msg(peerop_kube_get(&obj, c, &PODS, NULL, "web") == 0, "%s", peerop_error_last()->message);
	ck_assert_int_eq(kt_server_requests(s), 4);
	json_decref(obj);
	peerop_kube_client_free(c);
	kt_server_stop(s);
	free(tok);
}
END_TEST

static int plugin_runs(void)
{
	char *p = th_path(dir, "count"), *s = th_slurp(p);
	int n = s ? atoi(s) : 0;
	free(p);
	free(s);
	return n;
}

START_TEST(test_401_reruns_exec_plugin)
{
	kt_server *s = tls_server(token_handler, (void *)"exec-token-2");
	char *ca = kt_base64(certs.ca_pem), *plugin = kt_fixture(dir, "plugin.sh", NULL), *path;
	const char *pairs[] = { "SERVER", kt_server_url(s), "CA_DATA", ca, "MODE", "ok", "STATE", dir,
		"API", "client.authentication.k8s.io/v1", NULL };
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *c = NULL;
	json_t *obj = NULL;

	ck_assert_int_eq(chmod(plugin, 0700), 0);
	path = kt_fixture(dir, "exec.yaml", pairs);
	co.kubeconfig = path;
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &co), 0);
	ck_assert_int_eq(peerop_kube_client_new(&c, cfg, NULL), 0);
	peerop_kube_config_free(cfg);
	/* exec-token-1 is refused; the plugin runs again and exec-token-2 works */
	ck_assert_msg(peerop_kube_get(&obj, c, &PODS, "default", "web") == 0, "%s", peerop_error_last()->message);
	json_decref(obj);
	ck_assert_int_eq(kt_server_requests(s), 2);
	ck_assert_int_eq(plugin_runs(), 2);
	/* then the credential is cached */
	ck_assert_int_eq(peerop_kube_get(&obj, c, &PODS, "default", "web"), 0);
	json_decref(obj);
	ck_assert_int_eq(plugin_runs(), 2);
	peerop_kube_client_free(c);
	kt_server_stop(s);
	free(ca);
	free(plugin);
	free(path);
}
END_TEST

/* ---- one client, many threads ---- */

typedef struct worker {
	peerop_kube_client *c;
	int ok;
	int wrong_error;
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;
	int i;
	for (i = 0; i < 25; i++) {
		json_t *obj = NULL;
		if (peerop_kube_get(&obj, w->c, &PODS, "default", i % 5 ? "web" : "missing") == 0)
			w->ok++;
		else if (peerop_error_last()->code != PEEROP_ENOTFOUND || peerop_error_last()->http_status != 404)
			w->wrong_error++; /* each thread sees its own error */
		json_decref(obj);
	}
	return NULL;
}

START_TEST(test_shared_between_threads)
{
	kt_server *s = tls_server(pods_handler, NULL);
	client_setup cs = { "tok-1", NULL, 0, NULL, NULL, NULL, NULL };
	peerop_kube_client *c = make_client(s, &cs, NULL);
	pthread_t t[4];
	worker w[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i].c = c;
		w[i].ok = w[i].wrong_error = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].ok, 20);
		ck_assert_int_eq(w[i].wrong_error, 0);
	}
	ck_assert_int_eq(kt_server_requests(s), 100);
	/* connections are reused: far fewer than requests */
	ck_assert_msg(kt_server_connections(s) <= 8, "%d connections for 100 requests", kt_server_connections(s));
	peerop_kube_client_free(c);
	kt_server_stop(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_rest");
	TCase *tc = tcase_create("rest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_get_with_token);
	tcase_add_test(tc, test_wrong_token_is_eauth);
	tcase_add_test(tc, test_client_certificate);
	tcase_add_test(tc, test_tls_verification);
	tcase_add_test(tc, test_tls_server_name);
	tcase_add_test(tc, test_proxy_url);
	tcase_add_test(tc, test_list_paging);
	tcase_add_test(tc, test_list_continue_expired_restarts);
	tcase_add_test(tc, test_status_errors);
	tcase_add_test(tc, test_redaction_hostile_tokens);
	tcase_add_test(tc, test_list_endless);
	tcase_add_test(tc, test_retry_after_429);
	tcase_add_test(tc, test_retry_503_backoff_and_limits);
	tcase_add_test(tc, test_retry_recovers_after_503);
	tcase_add_test(tc, test_garbage_reply);
	tcase_add_test(tc, test_not_http_at_all);
	tcase_add_test(tc, test_closed_mid_body);
	tcase_add_test(tc, test_stalled_server_times_out);
	tcase_add_test(tc, test_reply_size_limit);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_writes);
	tcase_add_test(tc, test_401_rereads_token_file);
	tcase_add_test(tc, test_401_reruns_exec_plugin);
	tcase_add_test(tc, test_shared_between_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kt_main(suite, &certs);
}
