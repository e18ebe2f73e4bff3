/*
 * bench_operator.c: the real peerop-operator's cold start and memory, on
 * one local control plane, against that control plane's raw server-side
 * apply rate measured in the same run.
 *
 *   bench_operator KUBECONFIG CRD_YAML OPERATOR N...
 *
 * - raw apply: 8 threads server-side apply 10,000 ConfigMaps, as fast as
 *   the API server takes them: the ceiling of any writer here.
 * - for each N: N HTTPServers are created in a fresh namespace, then the
 *   operator (4 workers) is started on it; measured: the time until every
 *   HTTPServer's status is written for its generation (the status is
 *   written after its ConfigMap, Deployment and Service were applied, so
 *   every child exists then), the requests it made per object (its own
 *   rest_client_requests_total), its peak RSS (VmHWM) and its RSS once
 *   idle. The operator's applies per second are compared with the raw
 *   rate: ratio = (N * 3 child applies + N status applies) / time / raw.
 * - idle: the operator on an empty namespace, once ready.
 *
 * The operator is polled through the API (a list every 500 ms), never
 * waited for with a fixed sleep.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <curl/curl.h>
#include <peerop/peerop.h>
#include "internal.h"
#include "apiserver.h"   /* dc_yaml_decode */

static const peerop_kube_resource HS = { "peerop.io", "v1alpha1", "httpservers", 1 };
static const peerop_kube_resource CMR = { "", "v1", "configmaps", 1 };
static const peerop_kube_resource NSR = { "", "v1", "namespaces", 0 };
static const peerop_kube_resource CRDR = { "apiextensions.k8s.io", "v1", "customresourcedefinitions", 0 };

#define RAW_N 10000
#define THREADS 8

static peerop_kube_client *client;
static const char *kubeconfig, *operator_bin;

static void die(const char *what)
{
	fprintf(stderr, "bench_operator: %s: %s\n", what, peerop_error_last()->message);
	exit(1);
}

static void make_ns(const char *ns)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", ns);
	if (peerop_kube_create(NULL, client, &NSR, NULL, o, NULL) < 0)
		die("create namespace");
	json_decref(o);
}

/* ---- parallel writers ---------------------------------------------------- */

typedef struct job {
	const char *ns;
	size_t from, to;
	int apply;   /* 1: apply ConfigMaps; 0: create HTTPServers */
} job;

static void *writer(void *arg)
{
	job *j = arg;
	peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;
	char name[64];
	size_t i;

	wo.field_manager = "bench";
	wo.force = 1;
	for (i = j->from; i < j->to; i++) {
		json_t *o;
		int rc;
		snprintf(name, sizeof(name), "web-%zu", i);
		if (j->apply) {
			o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
				"metadata", "name", name, "namespace", j->ns, "labels", "app", "bench", "data", "peers.json", "[]");
			rc = peerop_kube_patch(NULL, client, &CMR, j->ns, name, PEEROP_KUBE_PATCH_APPLY, o, &wo);
		} else {
			o = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1", "kind", "HTTPServer",
				"metadata", "name", name, "spec", "replicas", (int)(i % 5) + 1);
			rc = peerop_kube_create(NULL, client, &HS, j->ns, o, NULL);
		}
		json_decref(o);
		if (rc < 0)
			die(j->apply ? "apply configmap" : "create httpserver");
	}
	return NULL;
}

static double parallel(const char *ns, size_t n, int apply)
{
	pthread_t t[THREADS];
	job j[THREADS];
	uint64_t t0 = peerop__now_us();
	size_t k;

	for (k = 0; k < THREADS; k++) {
		j[k].ns = ns;
		j[k].from = n * k / THREADS;
		j[k].to = n * (k + 1) / THREADS;
		j[k].apply = apply;
		pthread_create(&t[k], NULL, writer, &j[k]);
	}
	for (k = 0; k < THREADS; k++)
		pthread_join(t[k], NULL);
	return (double)(peerop__now_us() - t0) / 1e6;
}

/* ---- the operator process ------------------------------------------------ */

static unsigned free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t start_operator(const char *ns, unsigned port)
{
	char listen[64], nsflag[128];
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(nsflag, sizeof(nsflag), "--namespace=%s", ns);
	if ((pid = fork()) == 0) {
		execl(operator_bin, operator_bin, "--kubeconfig", kubeconfig, nsflag, "--workers", "4",
			"--metrics-bind-address", listen, "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop_operator(pid_t pid)
{
	int st;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

/* VmRSS or VmHWM of a process, in KiB. */
static long mem_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	peerop__buf *b = u;
	return peerop__buf_put(b, p, sz * n) == 0 ? sz * n : 0;
}

/* GET a path of the operator; 0 on a 200, the body in *out if asked. */
static int op_get(unsigned port, const char *path, char **out)
{
	peerop__buf b = PEEROP__BUF_INIT;
	char url[128];
	long code = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (out)
		*out = peerop__buf_detach(&b);
	peerop__buf_dispose(&b);
	return code == 200 ? 0 : -1;
}

/* The sum of rest_client_requests_total in the operator's metrics. */
static double op_requests(unsigned port)
{
	char *text = NULL, *p;
	double sum = 0;

	if (op_get(port, "/metrics", &text) < 0 || !text) {
		free(text);
		return -1;
	}
	for (p = text; (p = strstr(p, "\nrest_client_requests_total{")) != NULL; p++) {
		char *sp = strchr(p + 1, '}');
		if (sp)
			sum += strtod(sp + 1, NULL);
	}
	free(text);
	return sum;
}

/* HTTPServers in ns whose status is written for their generation. */
static size_t converged(const char *ns)
{
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	json_t *l = NULL, *it;
	size_t i, n = 0;

	lo.page_size = 5000;
	if (peerop_kube_list(&l, client, &HS, ns, &lo) < 0)
		die("list");
	json_array_foreach(json_object_get(l, "items"), i, it) {
		long long g = -1, og = -2;
		peerop_fieldpath_int(&g, it, "metadata.generation");
		peerop_fieldpath_int(&og, it, "status.observedGeneration");
		if (g == og)
			n++;
	}
	json_decref(l);
	return n;
}

typedef struct result {
	double secs, reqs_per_obj;
	long peak_kib, idle_kib;
} result;

static int wait_ready(pid_t pid, unsigned port)
{
	uint64_t deadline = peerop__now_ms() + 60000;
	int st;

	while (peerop__now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		if (op_get(port, "/readyz", NULL) == 0)
			return 0;
		peerop__sleep_ms(20);
	}
	return -1;
}

static void cold_start(const char *ns, size_t n, result *r)
{
	unsigned port = free_port();
	uint64_t t0, deadline;
	pid_t pid;

	make_ns(ns);
	if (n)
		parallel(ns, n, 0);
	t0 = peerop__now_us();
	pid = start_operator(ns, port);
	if (wait_ready(pid, port) < 0) {
		fprintf(stderr, "bench_operator: the operator did not become ready\n");
		exit(1);
	}
	deadline = peerop__now_ms() + 900000;
	while (n && converged(ns) < n) {
		if (peerop__now_ms() > deadline) {
			fprintf(stderr, "bench_operator: %zu HTTPServers did not converge in 15 min\n", n);
			stop_operator(pid);
			exit(1);
		}
		peerop__sleep_ms(500);
	}
	r->secs = (double)(peerop__now_us() - t0) / 1e6;
	/* idle: the queue empty (each status write wakes it once more) */
	deadline = peerop__now_ms() + 60000;
	for (;;) {
		char *text = NULL;
		int busy = op_get(port, "/metrics", &text) < 0 || !text ||
			!strstr(text, "workqueue_depth{name=\"httpserver\"} 0\n") ||
			!strstr(text, "controller_runtime_active_workers{controller=\"httpserver\"} 0\n");
		free(text);
		if (!busy || peerop__now_ms() > deadline)
			break;
		peerop__sleep_ms(100);
	}
	r->reqs_per_obj = n ? op_requests(port) / (double)n : op_requests(port);
	r->peak_kib = mem_kib(pid, "VmHWM");
	r->idle_kib = mem_kib(pid, "VmRSS");
	stop_operator(pid);
}

int main(int argc, char **argv)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg;
	char *yaml, *err = NULL, ns[32];
	size_t len;
	json_t *crd;
	double raw_s, raw_rate;
	result r;
	int i;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_operator KUBECONFIG CRD_YAML OPERATOR N...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	peerop_global_init();
	kubeconfig = argv[1];
	operator_bin = argv[3];
	co.kubeconfig = argv[1];
	if (peerop_kube_config_load(&cfg, &co) < 0 || peerop_kube_client_new(&client, cfg, NULL) < 0)
		die("client");
	peerop_kube_config_free(cfg);
	if (peerop__read_file(&yaml, &len, argv[2], 0) < 0)
		die("CRD");
	if (!(crd = dc_yaml_decode(yaml, len, &err))) {
		fprintf(stderr, "bench_operator: %s: %s\n", argv[2], err ? err : "?");
		return 1;
	}
	free(yaml);
	if (peerop_kube_create(NULL, client, &CRDR, NULL, crd, NULL) < 0)
		die("create CRD");
	json_decref(crd);

	make_ns("raw");
	raw_s = parallel("raw", RAW_N, 1);
	raw_rate = RAW_N / raw_s;
	printf("raw server-side apply: %d ConfigMaps by %d threads in %.2f s: %.0f applies/s\n\n", RAW_N, THREADS,
		raw_s, raw_rate);
	printf("| %-24s | %10s | %12s | %9s | %10s | %9s | %9s |\n", "operator (4 workers)", "cold start",
		"applies/s", "vs raw", "reqs/obj", "peak RSS", "idle RSS");
	printf("| %-24s | %10s | %12s | %9s | %10s | %9s | %9s |\n", "---", "---:", "---:", "---:", "---:", "---:", "---:");
	cold_start("idle", 0, &r);
	printf("| %-24s | %10s | %12s | %9s | %10s | %6.1f MB | %6.1f MB |\n", "no HTTPServers", "n/a", "n/a", "n/a",
		"n/a", r.peak_kib / 1024.0, r.idle_kib / 1024.0);
	fflush(stdout);
	for (i = 4; i < argc; i++) {
		size_t n = (size_t)strtoul(argv[i], NULL, 10);
		char label[64];
		double applies;
		snprintf(ns, sizeof(ns), "cold-%d", i);
		cold_start(ns, n, &r);
		applies = (double)n * 4 / r.secs;
		snprintf(label, sizeof(label), "%zu HTTPServers", n);
		printf("| %-24s | %8.2f s | %12.0f | %8.2fx | %10.1f | %6.1f MB | %6.1f MB |\n", label, r.secs, applies,
			applies / raw_rate, r.reqs_per_obj, r.peak_kib / 1024.0, r.idle_kib / 1024.0);
		fflush(stdout);
	}
	peerop_kube_client_free(client);
	peerop_global_cleanup();
	return 0;
}
