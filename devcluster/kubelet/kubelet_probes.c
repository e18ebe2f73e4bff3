/* kubelet_probes.c: one run of a liveness, readiness or startup probe, as
 * the kubelet's prober does it:
 *
 *   httpGet    GET scheme://host:port/path (host: the pod IP) with the
 *              probe's headers; 200-399 is success; redirects followed
 *   tcpSocket  a TCP connection to host:port opens
 *   exec       the command, in the container's mount namespace, with its
 *              environment, working directory and user, exits 0
 *
 * each within timeoutSeconds (default 1). A named port is looked up in
 * the container's ports. The failure messages are the real prober's
 * words, which `kubectl describe` shows in Unhealthy events. grpc probes
 * are not supported (they fail, saying so). */
#include "kubelet.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EXEC_OUTPUT 10240

static long long probe_port(const json_t *port, const json_t *ctr)
{
	const json_t *p;
	size_t i;
	if (json_is_integer(port))
		return json_integer_value(port);
	if (!json_is_string(port))
		return -1;
	json_array_foreach(json_object_get(ctr, "ports"), i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		if (name && !strcmp(name, json_string_value(port)))
			return dc_json_int(p, "containerPort", -1);
	}
	{
		/* a number written as a string */
		char *end;
		long long v = strtoll(json_string_value(port), &end, 10);
		return *end ? -1 : v;
	}
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return s * n;
}

static int http_probe(const json_t *h, const json_t *ctr, const char *ip, long timeout_s, char *msg, size_t size)
{
	const char *path = json_string_value(json_object_get(h, "path"));
	const char *host = json_string_value(json_object_get(h, "host"));
	const char *scheme = json_string_value(json_object_get(h, "scheme"));
	long long port = probe_port(json_object_get(h, "port"), ctr);
	struct curl_slist *hdrs = NULL;
	const json_t *hv;
	char url[1200], ua[64], errbuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	size_t i;
	CURL *c;
	CURLcode rc;
	bool https = scheme && !strcasecmp(scheme, "HTTPS");

	if (port <= 0 || port > 65535) {
		snprintf(msg, size, "httpGet: invalid port");
		return 0;
	}
	snprintf(url, sizeof(url), "%s://%s:%lld%s%s", https ? "https" : "http", host && *host ? host : ip, port,
		path && path[0] == '/' ? "" : "/", path ? path : "");
	c = curl_easy_init();
	if (!c) {
		snprintf(msg, size, "httpGet: out of memory");
		return 0;
	}
	snprintf(ua, sizeof(ua), "kube-probe/1.32");
	json_array_foreach(json_object_get(h, "httpHeaders"), i, hv) {
		char line[1024];
		const char *n = json_string_value(json_object_get(hv, "name"));
		const char *v = json_string_value(json_object_get(hv, "value"));
		if (n && v && !strpbrk(n, "\r\n:") && !strpbrk(v, "\r\n")) {
			snprintf(line, sizeof(line), "%s: %s", n, v);
			hdrs = curl_slist_append(hdrs, line);
		}
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_s * 1000L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	/* the kubelet does not verify a probe's certificate */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (rc == CURLE_OPERATION_TIMEDOUT)
			snprintf(msg, size, "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting "
				"headers)", url);
		else if (rc == CURLE_COULDNT_CONNECT)
			snprintf(msg, size, "Get \"%s\": dial tcp %s:%lld: connect: connection refused", url,
				host && *host ? host : ip, port);
		else
			snprintf(msg, size, "Get \"%s\": %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 0;
	}
	if (code >= 200 && code < 400)
		return 1;
	snprintf(msg, size, "HTTP probe failed with statuscode: %ld", code);
	return 0;
}

static int tcp_probe(const json_t *t, const json_t *ctr, const char *ip, long timeout_s, char *msg, size_t size)
{
	const char *host = json_string_value(json_object_get(t, "host"));
	long long port = probe_port(json_object_get(t, "port"), ctr);
	struct sockaddr_in sa;
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t el = sizeof(err);
	if (port <= 0 || port > 65535) {
		snprintf(msg, size, "tcpSocket: invalid port");
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host && *host ? host : ip, &sa.sin_addr) != 1) {
		snprintf(msg, size, "dial tcp %s:%lld: unsupported address", host ? host : ip, port);
		return 0;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, size, "socket: %s", strerror(errno));
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, (int)(timeout_s * 1000)) <= 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
				err = errno;
		}
	}
	close(fd);
	if (!err)
		return 1;
	if (err == ETIMEDOUT)
		snprintf(msg, size, "dial tcp %s:%lld: i/o timeout", host && *host ? host : ip, port);
	else
		snprintf(msg, size, "dial tcp %s:%lld: connect: %s", host && *host ? host : ip, port,
			err == ECONNREFUSED ? "connection refused" : strerror(err));
	return 0;
}

static int exec_probe(const json_t *e, pid_t pid, const kl_exec *ex, long timeout_s, char *msg, size_t size)
{
	const json_t *cmd = json_object_get(e, "command"), *v;
	size_t n = json_array_size(cmd), i, got = 0;
	char **argv, mntns[64], out[MAX_EXEC_OUTPUT + 1];
	int pipefd[2], ws = 0;
	uint64_t deadline;
	pid_t child;
	bool timed_out = false;

	if (n == 0) {
		snprintf(msg, size, "exec: no command");
		return 0;
	}
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		return 0;
	json_array_foreach(cmd, i, v)
		argv[i] = (char *)(json_string_value(v) ? json_string_value(v) : "");
	snprintf(mntns, sizeof(mntns), "/proc/%d/ns/mnt", (int)pid);
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		free(argv);
		return 0;
	}
	child = fork();
	if (child == 0) {
		int nsfd = pid > 0 ? open(mntns, O_RDONLY | O_CLOEXEC) : -1;
		sigset_t none;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		if (nsfd >= 0 && geteuid() == 0)
			setns(nsfd, CLONE_NEWNS);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		if (chdir(ex && ex->workdir ? ex->workdir : "/") != 0) {
			/* the command runs where it can */
		}
		if (ex && ex->envp)
			execvpe(argv[0], argv, ex->envp);
		else
			execvp(argv[0], argv);
		dprintf(1, "exec: \"%s\": %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	free(argv);
	if (child < 0) {
		close(pipefd[0]);
		snprintf(msg, size, "fork: %s", strerror(errno));
		return 0;
	}
	deadline = peerop__now_ms() + (uint64_t)timeout_s * 1000u;
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		uint64_t now = peerop__now_ms();
		int r;
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0) {
			char buf[4096];
			ssize_t k = read(pipefd[0], buf, sizeof(buf));
			if (k <= 0)
				break;
			if (got < MAX_EXEC_OUTPUT) {
				size_t c = (size_t)k < MAX_EXEC_OUTPUT - got ? (size_t)k : MAX_EXEC_OUTPUT - got;
				memcpy(out + got, buf, c);
				got += c;
			}
		}
	}
	close(pipefd[0]);
	if (timed_out)
		kill(-child, SIGKILL);
	while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
		;
	out[got] = '\0';
	while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r'))
		out[--got] = '\0';
	if (timed_out) {
		snprintf(msg, size, "command timed out after %lds", timeout_s);
		return 0;
	}
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return 1;
	if (got)
		snprintf(msg, size, "%s", out);
	else
		snprintf(msg, size, "command %s exited with %d", json_string_value(json_array_get(cmd, 0)),
			WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
	return 0;
}

int kl_probe_run(const json_t *probe, const json_t *ctr, const char *ip, pid_t pid, const kl_exec *ex, char *msg,
	size_t msgsize)
{
	long timeout_s = (long)dc_json_int(probe, "timeoutSeconds", 1);
	const json_t *h;
	if (timeout_s < 1)
		timeout_s = 1;
	msg[0] = '\0';
	if ((h = json_object_get(probe, "httpGet")))
		return http_probe(h, ctr, ip, timeout_s, msg, msgsize);
	if ((h = json_object_get(probe, "tcpSocket")))
		return tcp_probe(h, ctr, ip, timeout_s, msg, msgsize);
	if ((h = json_object_get(probe, "exec")))
		return exec_probe(h, pid, ex, timeout_s, msg, msgsize);
	snprintf(msg, msgsize, "%s probes are not supported by peerop-devcluster",
		json_object_get(probe, "grpc") ? "grpc" : "these");
	return 0;
}
