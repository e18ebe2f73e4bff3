/* peertest.c: see peertest.h. */
#include "config.h"
#include "peertest.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

typedef struct grow {
	char *p;
	size_t n;
} grow;

static size_t on_data(char *d, size_t s, size_t n, void *u)
{
	grow *g = u;
	char *np = realloc(g->p, g->n + s * n + 1);
	if (!np)
		return 0;
	memcpy(np + g->n, d, s * n);
	g->n += s * n;
	np[g->n] = '\0';
	g->p = np;
	return s * n;
}

static size_t on_hdr(char *d, size_t s, size_t n, void *u)
{
	char **id = u;
	size_t len = s * n;
	if (len > 12 && strncasecmp(d, "X-Peerop-Id:", 12) == 0 && !*id) {
		const char *v = d + 12;
		while (*v == ' ')
			v++;
		*id = strndup(v, strcspn(v, "\r\n"));
	}
	return len;
}

long pt_http(const char *method, const char *url, const char *req_body, char **body, char **id)
{
	CURL *e = curl_easy_init();
	grow g = { NULL, 0 };
	char *got_id = NULL;
	long status = 0;

	if (!e)
		return 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &got_id);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (req_body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req_body);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	if (body)
		*body = g.p ? g.p : strdup("");
	else
		free(g.p);
	if (id)
		*id = got_id;
	else
		free(got_id);
	return status;
}

long pt_get(unsigned int port, const char *path, char **body)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	return pt_http("GET", url, NULL, body, NULL);
}

int pt_connect(unsigned int port, int v6)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;
	if (fd < 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 a;
		memset(&a, 0, sizeof(a));
		a.sin6_family = AF_INET6;
		a.sin6_port = htons((uint16_t)port);
		a.sin6_addr = in6addr_loopback;
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a;
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (rc != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int pt_send(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *pt_recv_all(int fd, unsigned int timeout_ms)
{
	grow g = { NULL, 0 };
	uint64_t deadline = peerop__now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t now = peerop__now_ms();
		char buf[4096];
		ssize_t n;
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		on_data(buf, 1, (size_t)n, &g);
	}
	return g.p ? g.p : strdup("");
}

/* ---- the bad peer ------------------------------------------------------- */

struct pt_server {
	pt_mode mode;
	char id[64];
	int lfd;
	unsigned int port;
	int stop;
	unsigned int hits;
	pthread_t thread;
};

static void answer(pt_server *s, int fd)
{
	char req[8192];
	size_t have = 0;
	char head[512];
	/* read one request's headers */
	while (have < sizeof(req) - 1) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 200) <= 0) {
			if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
				return;
			continue;
		}
		n = recv(fd, req + have, sizeof(req) - 1 - have, 0);
		if (n <= 0)
			return;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	__atomic_add_fetch(&s->hits, 1, __ATOMIC_ACQ_REL);
	switch (s->mode) {
	case PT_PONG:
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			"X-Peerop-Id: %s\r\nContent-Length: 5\r\nConnection: close\r\n\r\npong\n", s->id);
		pt_send(fd, head, strlen(head));
		break;
	case PT_PONG_ANON:
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\npong\n");
		pt_send(fd, head, strlen(head));
		break;
	case PT_WRONG_BODY:
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nX-Peerop-Id: %s\r\nContent-Length: 6\r\n"
			"Connection: close\r\n\r\nhello\n", s->id);
		pt_send(fd, head, strlen(head));
		break;
	case PT_STATUS_500:
		snprintf(head, sizeof(head), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n"
			"Connection: close\r\n\r\npong\n");
		pt_send(fd, head, strlen(head));
		break;
	case PT_REDIRECT:
		snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/elsewhere\r\n"
			"Content-Length: 0\r\nConnection: close\r\n\r\n", s->port);
		pt_send(fd, head, strlen(head));
		break;
	case PT_HUGE_BODY: {
		static char chunk[65536];
		int i;
		memset(chunk, 'x', sizeof(chunk));
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			128 * 65536);
		pt_send(fd, head, strlen(head));
		for (i = 0; i < 128 && pt_send(fd, chunk, sizeof(chunk)) == 0; i++)
			;
		break;
	}
	case PT_RESET: {
		struct linger lg = { 1, 0 };
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npo");
		pt_send(fd, head, strlen(head));
		peerop__sleep_ms(20);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* close sends RST */
		break;
	}
	case PT_SILENT:
		while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			char junk[256];
			if (poll(&pfd, 1, 50) > 0 && recv(fd, junk, sizeof(junk), 0) <= 0)
				break;
		}
		break;
	case PT_GARBAGE: {
		static const unsigned char junk[] = { 0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x00, 0x13, 0x37, 0x0a };
		pt_send(fd, junk, sizeof(junk));
		break;
	}
	}
}

static void *serve(void *arg)
{
	pt_server *s = arg;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { s->lfd, POLLIN, 0 };
		int fd;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		answer(s, fd);
		close(fd);
	}
	return NULL;
}

pt_server *pt_server_start(pt_mode mode, const char *id)
{
	pt_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1;

	if (!s)
		return NULL;
	s->mode = mode;
	snprintf(s->id, sizeof(s->id), "%s", id ? id : "bad");
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 64) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0) {
		close(s->lfd);
		free(s);
		return NULL;
	}
	s->port = ntohs(a.sin_port);
	if (pthread_create(&s->thread, NULL, serve, s) != 0) {
		close(s->lfd);
		free(s);
		return NULL;
	}
	return s;
}

unsigned int pt_server_port(const pt_server *s)
{
	return s->port;
}

unsigned int pt_server_hits(pt_server *s)
{
	return __atomic_load_n(&s->hits, __ATOMIC_ACQUIRE);
}

void pt_server_stop(pt_server *s)
{
	if (!s)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	free(s);
}
