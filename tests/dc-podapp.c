/*
 * dc-podapp: the "image" the devcluster pod tests run: a small HTTP server
 * (libmicrohttpd) on $POD_IP:$PORT that shows what a container sees.
 *
 *   GET /ping            "pong NAME" (NAME: $POD_NAME, else the host name)
 *   GET /env?name=X      the value of X, 404 if unset
 *   GET /file?path=P     the contents of P, 404 if unreadable
 *   GET /write?path=P    write "x" to P: 200, or 500 with strerror
 *   GET /ready           200 while $READY_FILE exists (or is unset), else 503
 *   GET /healthz         200 until $HEALTH_FILE exists, then 500
 *   GET /id              uid and gid, "uid=N gid=N"
 *   GET /hostname        the host name (the pod's, in its UTS namespace)
 *
 * Environment: PORT (default 8080), IGNORE_TERM=1 (SIGTERM is ignored:
 * only SIGKILL stops it), EXIT_AFTER_MS=N and EXIT_CODE=C (exit by itself),
 * NO_SERVER=1 (do not listen, just wait). Every argument is printed at
 * start; a --marker=X argument lets the tests find the process in /proc.
 * It prints "listening on IP:PORT", and "got SIGTERM" before exiting 0 on
 * SIGTERM.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_file(struct MHD_Connection *c, const char *path)
{
	static char buf[65536];
	FILE *f = path ? fopen(path, "r") : NULL;
	size_t n;
	if (!f)
		return reply(c, 404, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return reply(c, 200, buf);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	char text[512];
	const char *q;
	(void)cls;
	(void)method;
	(void)version;
	(void)upload;
	(void)upload_size;
	if (!*ctx) {
		*ctx = (void *)1;
		return MHD_YES;
	}
	if (!strcmp(url, "/ping")) {
		const char *n = getenv("POD_NAME");
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		snprintf(text, sizeof(text), "pong %s", n ? n : host);
		return reply(c, 200, text);
	}
	if (!strcmp(url, "/env")) {
		q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
		q = q ? getenv(q) : NULL;
		return q ? reply(c, 200, q) : reply(c, 404, "unset");
	}
	if (!strcmp(url, "/file"))
		return serve_file(c, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path"));
	if (!strcmp(url, "/write")) {
		FILE *f;
		q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
		f = q ? fopen(q, "w") : NULL;
		if (!f)
			return reply(c, 500, strerror(errno));
		fputs("x", f);
		return fclose(f) == 0 ? reply(c, 200, "written") : reply(c, 500, strerror(errno));
	}
	if (!strcmp(url, "/ready")) {
		q = getenv("READY_FILE");
		return !q || access(q, F_OK) == 0 ? reply(c, 200, "ready") : reply(c, 503, "not ready");
	}
	if (!strcmp(url, "/healthz")) {
		q = getenv("HEALTH_FILE");
		return q && access(q, F_OK) == 0 ? reply(c, 500, "unhealthy") : reply(c, 200, "ok");
	}
	if (!strcmp(url, "/id")) {
		snprintf(text, sizeof(text), "uid=%d gid=%d", (int)getuid(), (int)getgid());
		return reply(c, 200, text);
	}
	if (!strcmp(url, "/hostname")) {
		gethostname(text, sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		return reply(c, 200, text);
	}
	return reply(c, 404, "not found");
}

int main(int argc, char **argv)
{
	const char *ip = getenv("POD_IP"), *port_s = getenv("PORT"), *exit_after = getenv("EXIT_AFTER_MS");
	const char *code_s = getenv("EXIT_CODE");
	struct sigaction sa;
	struct sockaddr_in addr;
	struct MHD_Daemon *d = NULL;
	long long until = 0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < argc; i++)
		printf("arg[%d]=%s\n", i, argv[i]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	if (getenv("IGNORE_TERM") && !strcmp(getenv("IGNORE_TERM"), "1"))
		sa.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &sa, NULL);
	if (exit_after) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		until = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atoll(exit_after);
	}
	if (!getenv("NO_SERVER")) {
		memset(&addr, 0, sizeof(addr));
		addr.sin_family = AF_INET;
		addr.sin_port = htons((uint16_t)(port_s ? atoi(port_s) : 8080));
		if (inet_pton(AF_INET, ip ? ip : "127.0.0.1", &addr.sin_addr) != 1) {
			fprintf(stderr, "bad POD_IP %s\n", ip ? ip : "");
			return 2;
		}
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, NULL,
			MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
		if (!d) {
			fprintf(stderr, "cannot listen on %s:%s: %s\n", ip ? ip : "127.0.0.1", port_s ? port_s : "8080",
				strerror(errno));
			return 3;
		}
		printf("listening on %s:%s\n", ip ? ip : "127.0.0.1", port_s ? port_s : "8080");
	}
	while (!stop) {
		struct timespec ts = { 0, 20 * 1000000L };
		if (until) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 >= until) {
				printf("exiting with %s\n", code_s ? code_s : "0");
				if (d)
					MHD_stop_daemon(d);
				return code_s ? atoi(code_s) : 0;
			}
		}
		nanosleep(&ts, NULL);
	}
	printf("got SIGTERM\n");
	if (d)
		MHD_stop_daemon(d);
	return 0;
}
