/*
 * fuzz_http_request.c: libFuzzer target for requests to the embedded HTTP
 * server: each input is written as is to a fresh connection to a real
 * peerop_httpd (built-in routes and one route that reads everything a
 * handler can), the write side is closed, and the reply read to the end.
 * libmicrohttpd parses; the target checks our side of it (routing, limits,
 * the request accessors, the deadline bookkeeping) under the sanitizers.
 */
#include "httpd_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static peerop_httpd *server;
static unsigned int port;

static int echo(peerop_httpd_request *req, void *payload)
{
	size_t len;
	const char *b = peerop_httpd_request_body(req, &len);
	const char *q = peerop_httpd_request_query(req, "q");
	const char *hv = peerop_httpd_request_header(req, "X-Fuzz");
	peerop__buf out = PEEROP__BUF_INIT;
	int rc;
	(void)payload;
	peerop__buf_printf(&out, "%s %s %s %s %s %zu", peerop_httpd_request_method(req),
		peerop_httpd_request_path(req), q ? q : "-", hv ? hv : "-", peerop_httpd_request_peer(req), len);
	(void)b;
	if (hv)
		(void)peerop_httpd_response_header(req, "X-Echo", hv); /* refused when unsafe */
	rc = peerop_httpd_respond(req, 200, "text/plain", out.ptr, out.len);
	peerop__buf_dispose(&out);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
	(void)argc;
	(void)argv;
	o.listen = "127.0.0.1:0";
	o.identity = "fuzz";
	o.threads = 2;
	o.header_timeout_ms = 2000;
	o.body_limit = 4096;
	if (peerop_httpd_new(&server, &o) != 0 ||
	    peerop_httpd_add_route(server, "/echo", PEEROP_HTTPD_GET | PEEROP_HTTPD_POST | PEEROP_HTTPD_PUT,
		echo, NULL) != 0 || peerop_httpd_start(server) != 0)
		abort();
	peerop_httpd_set_ready(server, 1);
	port = peerop_httpd_port(server);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in a;
	char buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t off = 0;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return 0;
	}
	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0 || recv(fd, buf, sizeof(buf), 0) <= 0)
			break;
	}
	close(fd);
	return 0;
}
