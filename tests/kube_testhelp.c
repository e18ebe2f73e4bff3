/* kube_testhelp.c: certificates, kubeconfig fixtures, a raw TCP server. */
#include "config.h"
#include "kube_testhelp.h"
#include "testhelp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>

static void run(const char *dir, const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof(full), "cd '%s' && %s >>openssl.log 2>&1", dir, cmd);
	if (system(full) != 0) {
		fprintf(stderr, "kube_testhelp: failed: %s (see %s/openssl.log)\n", cmd, dir);
		abort();
	}
}

/* EC keys: fast to make even on a loaded machine under ASan. */
#define NEWKEY "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

void kt_certs_make(kt_certs *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = th_tmpdir();
	if (!c->dir)
		abort();
	run(c->dir, "openssl req -x509 " NEWKEY " -keyout ca.key -out ca.crt -days 2 -subj /CN=peerop-test-ca");
	run(c->dir, "openssl req -x509 " NEWKEY " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca");
	run(c->dir, "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext");
	run(c->dir, "openssl req " NEWKEY " -keyout server.key -out server.csr -subj /CN=127.0.0.1");
	run(c->dir, "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext");
	run(c->dir, "printf 'subjectAltName=DNS:kubernetes.test\\nextendedKeyUsage=serverAuth\\n' > named.ext");
	run(c->dir, "openssl req " NEWKEY " -keyout named.key -out named.csr -subj /CN=kubernetes.test");
	run(c->dir, "openssl x509 -req -in named.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out named.crt -days 2 -extfile named.ext");
	run(c->dir, "printf 'extendedKeyUsage=clientAuth\\n' > client.ext");
	run(c->dir, "openssl req " NEWKEY " -keyout client.key -out client.csr -subj /CN=alice/O=peerop");
	run(c->dir, "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext");
	c->ca_crt = th_path(c->dir, "ca.crt");
	c->ca_key = th_path(c->dir, "ca.key");
	c->server_crt = th_path(c->dir, "server.crt");
	c->server_key = th_path(c->dir, "server.key");
	c->client_crt = th_path(c->dir, "client.crt");
	c->client_key = th_path(c->dir, "client.key");
	c->other_ca_crt = th_path(c->dir, "other-ca.crt");
	c->named_crt = th_path(c->dir, "named.crt");
	c->named_key = th_path(c->dir, "named.key");
	c->named_crt_pem = th_slurp(c->named_crt);
	c->named_key_pem = th_slurp(c->named_key);
	c->ca_pem = th_slurp(c->ca_crt);
	c->server_crt_pem = th_slurp(c->server_crt);
	c->server_key_pem = th_slurp(c->server_key);
	c->client_crt_pem = th_slurp(c->client_crt);
	c->client_key_pem = th_slurp(c->client_key);
	c->other_ca_pem = th_slurp(c->other_ca_crt);
	if (!c->ca_pem || !c->server_key_pem || !c->client_key_pem || !c->other_ca_pem)
		abort();
}

void kt_certs_remove(kt_certs *c)
{
	free(c->ca_crt); free(c->ca_key); free(c->server_crt); free(c->server_key);
	free(c->client_crt); free(c->client_key); free(c->other_ca_crt);
	free(c->named_crt); free(c->named_key); free(c->named_crt_pem); free(c->named_key_pem);
	free(c->ca_pem); free(c->server_crt_pem); free(c->server_key_pem);
	free(c->client_crt_pem); free(c->client_key_pem); free(c->other_ca_pem);
	th_tmpdir_remove(c->dir);
	memset(c, 0, sizeof(*c));
}

int kt_main(Suite *(*suite)(void), kt_certs *certs)
{
	int rc;
	peerop_global_init();
	kt_certs_make(certs);
	rc = th_run_suite(suite());
	kt_certs_remove(certs);
	peerop_global_cleanup();
	return rc;
}

char *kt_base64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc((n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char *substitute(const char *tmpl, const char *const *pairs)
{
	size_t cap = strlen(tmpl) + 1, len = 0;
	char *out;
	const char *p = tmpl;
	size_t i;
	for (i = 0; pairs && pairs[i]; i += 2)
		cap += strlen(pairs[i + 1]) * 8;
	out = malloc(cap);
	while (*p) {
		int done = 0;
		if (*p == '@') {
			for (i = 0; pairs && pairs[i]; i += 2) {
				size_t kl = strlen(pairs[i]);
				if (!strncmp(p + 1, pairs[i], kl) && p[1 + kl] == '@') {
					size_t vl = strlen(pairs[i + 1]);
					memcpy(out + len, pairs[i + 1], vl);
					len += vl;
					p += kl + 2;
					done = 1;
					break;
				}
			}
		}
		if (!done)
			out[len++] = *p++;
	}
	out[len] = '\0';
	return out;
}

char *kt_write_template(const char *dir, const char *name, const char *tmpl, const char *const *pairs)
{
	char *path = th_path(dir, name);
	char *text = substitute(tmpl, pairs);
	if (th_write_str(path, text) != 0)
		abort();
	free(text);
	return path;
}

char *kt_fixture(const char *dir, const char *name, const char *const *pairs)
{
	char *src, *tmpl, *path;
	char fdir[1024];
	snprintf(fdir, sizeof(fdir), "%s/kube-fixtures", TEST_SRCDIR);
	src = th_path(fdir, name);
	tmpl = th_slurp(src);
	if (!tmpl) {
		fprintf(stderr, "missing fixture %s\n", src);
		abort();
	}
	path = kt_write_template(dir, name, tmpl, pairs);
	free(src);
	free(tmpl);
	return path;
}

/* ---- raw TCP server ---- */
struct kt_raw {
	int fd;
	int port;
	char *reply;
	pthread_t thread;
	pthread_mutex_t lock;
	char received[4096];
};

static void *raw_main(void *arg)
{
	kt_raw *r = arg;
	for (;;) {
		char buf[4096];
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		/* read the request head, answer, close */
		ssize_t n = read(c, buf, sizeof(buf) - 1);
		pthread_mutex_lock(&r->lock);
		memcpy(r->received, buf, n > 0 ? (size_t)n : 0);
		r->received[n > 0 ? n : 0] = '\0';
		pthread_mutex_unlock(&r->lock);
		(void)!write(c, r->reply, strlen(r->reply));
		shutdown(c, SHUT_RDWR);
		close(c);
	}
}

kt_raw *kt_raw_start(const char *reply)
{
	kt_raw *r = calloc(1, sizeof(*r));
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	r->reply = strdup(reply);
	pthread_mutex_init(&r->lock, NULL);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(r->fd, 16) != 0)
		abort();
	getsockname(r->fd, (struct sockaddr *)&a, &al);
	r->port = ntohs(a.sin_port);
	pthread_create(&r->thread, NULL, raw_main, r);
	return r;
}

char *kt_raw_received(kt_raw *r)
{
	char *s;
	pthread_mutex_lock(&r->lock);
	s = strdup(r->received);
	pthread_mutex_unlock(&r->lock);
	return s;
}

int kt_raw_port(kt_raw *r)
{
	return r->port;
}

void kt_raw_stop(kt_raw *r)
{
	if (!r)
		return;
	shutdown(r->fd, SHUT_RDWR);
	close(r->fd);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	free(r->reply);
	free(r);
}
