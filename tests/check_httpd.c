/* check_httpd.c: the embedded server, its routes, hostile clients, graceful
 * stop, and the metrics writer. Real sockets on loopback. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd_internal.h"
#include "testhelp.h"
#include "peertest.h"

static peerop_httpd *start_server(const char *listen, unsigned int limit, unsigned int timeout_s)
{
	peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_httpd *h = NULL;
	o.listen = listen;
	o.identity = "web-0";
	o.threads = 2;
	o.connection_limit = limit;
	o.connection_timeout_s = timeout_s;
	/* every test client comes from 127.0.0.1: the per-IP limit has its
	 * own test (test_per_ip_limit) */
	o.per_ip_connection_limit = limit;
	o.body_limit = 1024;
	ck_assert_int_eq(peerop_httpd_new(&h, &o), 0);
	return h;
}

static int echo_route(peerop_httpd_request *req, void *payload)
{
	size_t len;
	const char *b = peerop_httpd_request_body(req, &len);
	peerop__buf out = PEEROP__BUF_INIT;
	const char *q = peerop_httpd_request_query(req, "q");
	int rc;
	PEEROP__UNUSED(payload);
	peerop__buf_printf(&out, "%s %s q=%s peer=%s body=%.*s", peerop_httpd_request_method(req),
		peerop_httpd_request_path(req), q ? q : "-", peerop_httpd_request_peer(req), (int)len, b);
	ck_assert_int_eq(peerop_httpd_response_header(req, "X-Test", "yes"), 0);
	ck_assert_int_eq(peerop_httpd_response_header(req, "Bad\r\nInjected", "x"), PEEROP_EINVAL);
	rc = peerop_httpd_respond(req, 201, NULL, out.ptr, out.len);
	ck_assert_int_eq(peerop_httpd_respond(req, 200, NULL, "x", 1), PEEROP_EINVAL);
	peerop__buf_dispose(&out);
	return rc;
}

static int failing_route(peerop_httpd_request *req, void *payload)
{
	PEEROP__UNUSED(req);
	PEEROP__UNUSED(payload);
	return peerop__error_set(PEEROP_EIO, "handler failed on purpose");
}

static int my_metrics(peerop_metrics_writer *w, void *payload)
{
	peerop_metric_label l[1] = { { "kind", "a \"quoted\"\\ value\nwith newline" } };
	int rc = peerop_metrics_family(w, "test_things_total", PEEROP_METRIC_COUNTER, "Things.\nCounted");
	PEEROP__UNUSED(payload);
	return rc ? rc : peerop_metrics_sample(w, NULL, l, 1, 42);
}

START_TEST(test_routes)
{
	peerop_httpd *h = start_server("127.0.0.1:0", 0, 0);
	char url[128], *body = NULL, *id = NULL;
	unsigned int port;

	ck_assert_int_eq(peerop_httpd_add_route(h, "/echo", PEEROP_HTTPD_GET | PEEROP_HTTPD_POST, echo_route, NULL), 0);
	ck_assert_int_eq(peerop_httpd_add_route(h, "/echo", PEEROP_HTTPD_GET, echo_route, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_httpd_add_route(h, "/ping", PEEROP_HTTPD_GET, echo_route, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_httpd_add_route(h, "nope", PEEROP_HTTPD_GET, echo_route, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_httpd_add_route(h, "/fail", PEEROP_HTTPD_GET, failing_route, NULL), 0);
	ck_assert_int_eq(peerop_httpd_add_metrics(h, my_metrics, NULL), 0);
	ck_assert_uint_eq(peerop_httpd_port(h), 0);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	ck_assert_int_eq(peerop_httpd_start(h), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_httpd_add_route(h, "/late", PEEROP_HTTPD_GET, echo_route, NULL), PEEROP_EINVAL);
	port = peerop_httpd_port(h);
	ck_assert_uint_gt(port, 0);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ping", port);
	ck_assert_int_eq(pt_http("GET", url, NULL, &body, &id), 200);
	ck_assert_str_eq(body, "pong\n");
	ck_assert_str_eq(id, "web-0");
	free(body);
	free(id);
	ck_assert_int_eq(pt_http("HEAD", url, NULL, &body, &id), 200);
	ck_assert_str_eq(body, "");
	ck_assert_str_eq(id, "web-0");
	free(body);
	free(id);
	ck_assert_int_eq(pt_http("POST", url, "x=1", NULL, NULL), 405);
	ck_assert_int_eq(pt_http("DELETE", url, NULL, NULL, NULL), 405);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ping?x=1", port);
	ck_assert_int_eq(pt_http("GET", url, NULL, NULL, NULL), 200);

	ck_assert_int_eq(pt_get(port, "/nowhere", NULL), 404);
	ck_assert_int_eq(pt_get(port, "/pingx", NULL), 404);
	ck_assert_int_eq(pt_get(port, "/healthz", &body), 200);
	ck_assert_str_eq(body, "ok\n");
	free(body);
	ck_assert_int_eq(pt_get(port, "/readyz", NULL), 503);
	peerop_httpd_set_ready(h, 1);
	ck_assert_int_eq(pt_get(port, "/readyz", NULL), 200);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo?q=42", port);
	ck_assert_int_eq(pt_http("POST", url, "hello body", &body, NULL), 201);
	ck_assert_ptr_nonnull(strstr(body, "POST /echo q=42 peer=127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(body, "body=hello body"));
	free(body);
	ck_assert_int_eq(pt_http("HEAD", url, NULL, NULL, NULL), 201);
	ck_assert_int_eq(pt_http("PUT", url, "x", NULL, NULL), 405);
	{
		char big[4096];
		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_int_eq(pt_http("POST", url, big, NULL, NULL), 413);
	}
	ck_assert_int_eq(pt_get(port, "/fail", NULL), 500);

	ck_assert_int_eq(pt_get(port, "/metrics", &body), 200);
	ck_assert_ptr_nonnull(strstr(body, "# TYPE peerop_http_requests_total counter\n"));
	ck_assert_ptr_nonnull(strstr(body, "peerop_http_requests_total{code=\"405\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(body, "peerop_http_pings_received_total 3\n"));
	ck_assert_ptr_nonnull(strstr(body, "# HELP test_things_total Things.\\nCounted\n"));
	ck_assert_ptr_nonnull(strstr(body, "test_things_total{kind=\"a \\\"quoted\\\"\\\\ value\\nwith newline\"} 42\n"));
	free(body);

	ck_assert_int_eq(peerop_httpd_stop(h, 1000), 0);
	ck_assert_int_eq(peerop_httpd_stop(h, 1000), 0);
	ck_assert_int_eq(pt_get(port, "/ping", NULL), 0);
	peerop_httpd_free(h);
	peerop_httpd_free(NULL);
}
END_TEST

START_TEST(test_bad_options)
{
	peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_httpd *h = NULL;
	static const char *bad_listen[] = { "", "8080", "::1:8080", "[::1]8080", "127.0.0.1:70000",
		"127.0.0.1:port", "127.0.0.1:-1", "a b:80" };
	size_t i;

	ck_assert_int_eq(peerop_httpd_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_httpd_options_init(&o, PEEROP_HTTPD_OPTIONS_VERSION), 0);
	o.identity = "x";
	for (i = 0; i < PEEROP__ARRAY_SIZE(bad_listen); i++) {
		o.listen = bad_listen[i];
		ck_assert_msg(peerop_httpd_new(&h, &o) == PEEROP_EINVAL, "accepted %s", bad_listen[i]);
		ck_assert_ptr_null(h);
	}
	o.listen = "127.0.0.1:0";
	o.identity = "evil\r\nSet-Cookie: x";
	ck_assert_int_eq(peerop_httpd_new(&h, &o), PEEROP_EINVAL);
	o.identity = "";
	ck_assert_int_eq(peerop_httpd_new(&h, &o), PEEROP_EINVAL);

	/* a port in use is a clear error at start */
	{
		peerop_httpd *a = start_server("127.0.0.1:0", 0, 0), *b;
		char listen[64];
		ck_assert_int_eq(peerop_httpd_start(a), 0);
		snprintf(listen, sizeof(listen), "127.0.0.1:%u", peerop_httpd_port(a));
		b = start_server(listen, 0, 0);
		ck_assert_int_eq(peerop_httpd_start(b), PEEROP_ECONNECT);
		ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "in use"));
		peerop_httpd_free(b);
		peerop_httpd_free(a);
	}
}
END_TEST

START_TEST(test_ipv6_and_dual_stack)
{
	peerop_httpd *h6 = start_server("[::1]:0", 0, 0), *hd = start_server(":0", 0, 0);
	char url[128], *body = NULL;
	ck_assert_int_eq(peerop_httpd_start(h6), 0);
	ck_assert_int_eq(peerop_httpd_start(hd), 0);
	snprintf(url, sizeof(url), "http://[::1]:%u/ping", peerop_httpd_port(h6));
	ck_assert_int_eq(pt_http("GET", url, NULL, &body, NULL), 200);
	ck_assert_str_eq(body, "pong\n");
	free(body);
	/* the wildcard listens on both families */
	snprintf(url, sizeof(url), "http://[::1]:%u/ping", peerop_httpd_port(hd));
	ck_assert_int_eq(pt_http("GET", url, NULL, NULL, NULL), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ping", peerop_httpd_port(hd));
	ck_assert_int_eq(pt_http("GET", url, NULL, NULL, NULL), 200);
	peerop_httpd_free(h6);
	peerop_httpd_free(hd);
}
END_TEST

/* ---- hostile clients ----------------------------------------------------- */

static int ping_ok(unsigned int port)
{
	char *body = NULL;
	long st = pt_get(port, "/ping", &body);
	int ok = st == 200 && body && strcmp(body, "pong\n") == 0;
	free(body);
	return ok;
}

START_TEST(test_garbage_clients)
{
	peerop_httpd *h = start_server("127.0.0.1:0", 400, 3);
	int fds[300], slow[20], n, i;
	unsigned int port;
	char *reply;

	ck_assert_int_eq(peerop_httpd_start(h), 0);
	port = peerop_httpd_port(h);

	/* many idle connections, below the limit */
	for (n = 0; n < 300; n++)
		ck_assert_int_ge(fds[n] = pt_connect(port, 0), 0);
	/* slowloris: request lines and headers that never finish */
	for (i = 0; i < 20; i++) {
		ck_assert_int_ge(slow[i] = pt_connect(port, 0), 0);
		ck_assert_int_eq(pt_send(slow[i], "GET /ping HTTP/1.1\r\nHost: x\r\nX-a: ", 34), 0);
	}
	ck_assert(ping_ok(port));
	for (i = 0; i < 20; i++)
		pt_send(slow[i], "b", 1);
	ck_assert(ping_ok(port));

	/* binary junk gets 400 or a closed connection, never a hang */
	{
		unsigned char junk[2048];
		int fd = pt_connect(port, 0);
		for (i = 0; i < (int)sizeof(junk); i++)
			junk[i] = (unsigned char)(i * 7 + 3);
		ck_assert_int_ge(fd, 0);
		pt_send(fd, junk, sizeof(junk));
		reply = pt_recv_all(fd, 10000);
		ck_assert(reply[0] == '\0' || strncmp(reply, "HTTP/1.1 400", 12) == 0);
		free(reply);
		close(fd);
	}
	/* oversized headers: refused, the server lives on */
	{
		char *big = malloc(100000);
		int fd = pt_connect(port, 0);
		strcpy(big, "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ");
		memset(big + strlen(big), 'a', 90000);
		strcpy(big + 90000, "\r\n\r\n");
		pt_send(fd, big, strlen(big));
		reply = pt_recv_all(fd, 10000);
		ck_assert_msg(reply[0] == '\0' || strstr(reply, " 431 ") || strstr(reply, " 413 ") ||
			strstr(reply, " 400 "), "reply to oversized headers: %.80s", reply);
		free(reply);
		free(big);
		close(fd);
	}
	/* a pipelined burst of valid pings on one connection is answered */
	{
		static const char req[] = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
		int fd = pt_connect(port, 0), count = 0;
		char *p;
		for (i = 0; i < 5; i++)
			pt_send(fd, req, sizeof(req) - 1);
		pt_send(fd, "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 51);
		reply = pt_recv_all(fd, 10000);
		for (p = reply; (p = strstr(p, "pong\n")) != NULL; p++)
			count++;
		ck_assert_int_eq(count, 6);
		free(reply);
		close(fd);
	}
	ck_assert(ping_ok(port));
	/* the idle ones time out (3 s) and are closed by the server */
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&h->connections, __ATOMIC_ACQUIRE) <= 1, 30000));
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&h->in_flight, __ATOMIC_ACQUIRE) == 0, 10000));
	for (i = 0; i < n; i++)
		close(fds[i]);
	for (i = 0; i < 20; i++)
		close(slow[i]);
	peerop_httpd_free(h);
}
END_TEST

START_TEST(test_connection_limit_recovers)
{
	/* Idle clients holding every slot: new clients are refused until the
	 * per-connection timeout frees the slots, then served again. */
	peerop_httpd *h = start_server("127.0.0.1:0", 40, 1);
	int fds[40], i;
	unsigned int port;

	ck_assert_int_eq(peerop_httpd_start(h), 0);
	port = peerop_httpd_port(h);
	for (i = 0; i < 40; i++)
		ck_assert_int_ge(fds[i] = pt_connect(port, 0), 0);
	ck_assert(TH_WAIT_UNTIL(ping_ok(port), 30000));
	for (i = 0; i < 40; i++)
		close(fds[i]);
	peerop_httpd_free(h);
}
END_TEST

/* ---- slow and greedy clients --------------------------------------------------- */

static peerop_httpd *start_guarded(unsigned int per_ip, unsigned int header_ms)
{
	peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_httpd *h = NULL;
	o.listen = "127.0.0.1:0";
	o.identity = "web-0";
	o.threads = 2;
	o.connection_limit = 20;
	o.connection_timeout_s = 60;   /* the idle timeout never decides here */
	o.per_ip_connection_limit = per_ip;
	o.header_timeout_ms = header_ms;
	ck_assert_int_eq(peerop_httpd_new(&h, &o), 0);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	return h;
}

/* A blocking TCP connection to 127.0.0.1:port from the address src. */
static int connect_from(const char *src, unsigned int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Did the server close fd (end of stream or reset) within timeout_ms? */
static int closed_within(int fd, unsigned int timeout_ms)
{
	uint64_t deadline = th_now_ms() + timeout_ms;
	char b[256];
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = th_now_ms();
		ssize_t n;
		if (now >= deadline)
			return 0;
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		n = recv(fd, b, sizeof(b), 0);
		if (n <= 0)
			return 1;
	}
}

static long connections_of(peerop_httpd *h)
{
	return __atomic_load_n(&h->connections, __ATOMIC_ACQUIRE);
}

static int get_healthz_from(const char *src, unsigned int port)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	int fd = connect_from(src, port), ok;
	char *reply;
	ck_assert_int_eq(pt_send(fd, req, sizeof(req) - 1), 0);
	reply = pt_recv_all(fd, 10000);
	ok = reply && strncmp(reply, "HTTP/1.1 200", 12) == 0;
	free(reply);
	close(fd);
	return ok;
}

/* One address cannot take every slot: past its limit its connections are
 * closed at once, and another address (the kubelet's probe) still gets in. */
START_TEST(test_per_ip_limit)
{
	peerop_httpd *h = start_guarded(4, 60000);
	unsigned int port = peerop_httpd_port(h);
	int fds[4], extra, i;

	for (i = 0; i < 4; i++)
		fds[i] = connect_from("127.0.0.1", port);
	ck_assert(TH_WAIT_UNTIL(connections_of(h) == 4, 20000));
	extra = connect_from("127.0.0.1", port);
	ck_assert_msg(closed_within(extra, 20000), "a fifth connection from one address was kept");
	close(extra);
	ck_assert(get_healthz_from("127.0.0.2", port));
	for (i = 0; i < 4; i++)
		close(fds[i]);
	peerop_httpd_free(h);
}
END_TEST

/* A client trickling its headers a byte at a time (never idle) is cut at
 * the header deadline, not kept for ever; a prompt client is served. */
START_TEST(test_header_deadline)
{
	static const char line[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
	peerop_httpd *h = start_guarded(0, 1000);
	unsigned int port = peerop_httpd_port(h);
	uint64_t t0, deadline;
	int fd, cut = 0;

	fd = connect_from("127.0.0.1", port);
	t0 = th_now_ms();
	ck_assert_int_eq(pt_send(fd, line, sizeof(line) - 1), 0);
	deadline = t0 + 30000;
	while (!cut && th_now_ms() < deadline) {
		if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
			cut = 1;
		else
			cut = closed_within(fd, 200);
	}
	ck_assert_msg(cut, "a client trickling its headers kept its connection for 30 s");
	ck_assert_uint_ge(th_now_ms() - t0, 1000);
	ck_assert_uint_eq(__atomic_load_n(&h->header_timeouts, __ATOMIC_ACQUIRE), 1);
	close(fd);
	ck_assert(get_healthz_from("127.0.0.1", port));
	peerop_httpd_free(h);
}
END_TEST

/* ---- graceful stop ------------------------------------------------------------ */

static int slow_entered;

static int slow_route(peerop_httpd_request *req, void *payload)
{
	PEEROP__UNUSED(payload);
	__atomic_store_n(&slow_entered, 1, __ATOMIC_RELEASE);
	peerop__sleep_ms(400);
	return peerop_httpd_respond(req, 200, NULL, "done\n", 5);
}

typedef struct client_arg {
	unsigned int port;
	long status;
	char *body;
} client_arg;

static void *client_thread(void *arg)
{
	client_arg *c = arg;
	c->status = pt_get(c->port, "/slow", &c->body);
	return NULL;
}

typedef struct stopper_arg {
	peerop_httpd *h;
	int rc;
} stopper_arg;

static void *stopper_thread(void *arg)
{
	stopper_arg *s = arg;
	s->rc = peerop_httpd_stop(s->h, 20000);
	return NULL;
}

static int refused(unsigned int port)
{
	int fd = pt_connect(port, 0);
	if (fd < 0)
		return 1;
	close(fd);
	return 0;
}

START_TEST(test_graceful_stop)
{
	peerop_httpd *h = start_server("127.0.0.1:0", 0, 0);
	client_arg c = { 0, 0, NULL };
	stopper_arg st = { NULL, -1 };
	pthread_t t, stopper;
	int fd;
	char *reply;

	ck_assert_int_eq(peerop_httpd_add_route(h, "/slow", PEEROP_HTTPD_GET, slow_route, NULL), 0);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	c.port = peerop_httpd_port(h);
	/* a request whose request line is in but whose headers are not */
	fd = pt_connect(c.port, 0);
	ck_assert_int_eq(pt_send(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n", 29), 0);
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&h->in_flight, __ATOMIC_ACQUIRE) == 1, 10000));
	/* and a request whose handler is running */
	ck_assert_int_eq(pthread_create(&t, NULL, client_thread, &c), 0);
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&slow_entered, __ATOMIC_ACQUIRE), 10000));

	st.h = h;
	ck_assert_int_eq(pthread_create(&stopper, NULL, stopper_thread, &st), 0);
	/* new connections are refused at once... */
	ck_assert(TH_WAIT_UNTIL(refused(c.port), 10000));
	/* ...while both requests in flight are still answered */
	ck_assert_int_eq(pt_send(fd, "\r\n", 2), 0);
	reply = pt_recv_all(fd, 10000);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 200", 12) == 0 && strstr(reply, "pong\n"), "got: %.100s", reply);
	free(reply);
	close(fd);
	pthread_join(t, NULL);
	ck_assert_int_eq(c.status, 200);
	ck_assert_str_eq(c.body, "done\n");
	pthread_join(stopper, NULL);
	ck_assert_int_eq(st.rc, 0);
	free(c.body);
	peerop_httpd_free(h);
}
END_TEST

static int refusing_collector(peerop_metrics_writer *w, void *payload)
{
	static const double bounds[] = { 0.1, 1 };
	static const unsigned long long counts[] = { 1, 3 };
	peerop_metric_label bad[1] = { { "__reserved", "x" } }, bad2[1] = { { "0digit", "x" } },
		ok[1] = { { "peer", "web-1" } };
	PEEROP__UNUSED(payload);
	ck_assert_int_eq(peerop_metrics_sample(w, NULL, NULL, 0, 1), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_family(w, "bad name", PEEROP_METRIC_GAUGE, "x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_family(w, "9lives", PEEROP_METRIC_GAUGE, "x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_family(w, "", PEEROP_METRIC_GAUGE, "x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_family(w, "test_up", PEEROP_METRIC_GAUGE, NULL), 0);
	ck_assert_int_eq(peerop_metrics_sample(w, NULL, bad, 1, 1), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_sample(w, NULL, bad2, 1, 1), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_sample(w, "_bucket", ok, 1, 1), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_metrics_sample(w, NULL, ok, 1, 0.25), 0);
	ck_assert_int_eq(peerop_metrics_histogram(w, "test_latency_seconds", "Latency", ok, 1,
		bounds, counts, 2, 4, 2.5), 0);
	return 0;
}

START_TEST(test_metrics_writer)
{
	peerop_metrics_collect_cb cbs[2] = { my_metrics, refusing_collector };
	void *payloads[2] = { NULL, NULL };
	char *out = NULL;

	ck_assert_int_eq(peerop_metrics_render(&out, cbs, payloads, 2), 0);
	ck_assert_str_eq(out,
		"# HELP test_things_total Things.\\nCounted\n# TYPE test_things_total counter\n"
		"test_things_total{kind=\"a \\\"quoted\\\"\\\\ value\\nwith newline\"} 42\n"
		"# HELP test_up test_up\n# TYPE test_up gauge\n"
		"test_up{peer=\"web-1\"} 0.25\n"
		"# HELP test_latency_seconds Latency\n# TYPE test_latency_seconds histogram\n"
		"test_latency_seconds_bucket{peer=\"web-1\",le=\"0.1\"} 1\n"
		"test_latency_seconds_bucket{peer=\"web-1\",le=\"1\"} 3\n"
		"test_latency_seconds_bucket{peer=\"web-1\",le=\"+Inf\"} 4\n"
		"test_latency_seconds_sum{peer=\"web-1\"} 2.5\n"
		"test_latency_seconds_count{peer=\"web-1\"} 4\n");
	peerop_free(out);
	ck_assert_int_eq(peerop_metrics_render(NULL, cbs, payloads, 2), PEEROP_EINVAL);
}
END_TEST

static Suite *httpd_suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("httpd");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_ipv6_and_dual_stack);
	tcase_add_test(tc, test_garbage_clients);
	tcase_add_test(tc, test_connection_limit_recovers);
	tcase_add_test(tc, test_per_ip_limit);
	tcase_add_test(tc, test_header_deadline);
	tcase_add_test(tc, test_graceful_stop);
	tcase_add_test(tc, test_metrics_writer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;
	peerop_global_init();
	rc = th_run_suite(httpd_suite());
	peerop_global_cleanup();
	return rc;
}
