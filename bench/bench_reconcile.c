/*
 * bench_reconcile.c: the controller runtime against a naive operator loop,
 * on the same local control plane, in the same run.
 *
 *   bench_reconcile KUBECONFIG CRD_YAML N WORKERS...
 *
 * Each mode gets a fresh namespace with N HTTPServers and must bring each
 * to the same end state: a "<name>-peers" ConfigMap controlled by it and a
 * status with observedGeneration and a Ready condition.
 *
 * - controller/W: peerop_controller with W workers (caches, work queue,
 *   server-side apply, status written only when it changes). Measured:
 *   time from start to all converged; then 200 spec changes, one at a
 *   time, each timed from the PATCH's reply to the status write that
 *   observes it (the latency a user of `kubectl scale` sees).
 * - naive: the loop the original Python operator ran: list the
 *   HTTPServers, and for each GET its ConfigMap, create or replace it, GET
 *   the HTTPServer and replace its status; one request after another, no
 *   cache. Measured: one pass over N objects (it converges in one pass).
 *
 * Prints one table row per mode; the ratio column is naive time over mode
 * time (higher is better).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "internal.h"
#include "kube_internal.h"
#include "apiserver.h"   /* dc_yaml_decode: YAML typed as the API server types it */

static const peerop_kube_resource HS = { "peerop.io", "v1alpha1", "httpservers", 1 };
static const peerop_kube_resource CMR = { "", "v1", "configmaps", 1 };
static const peerop_kube_resource NSR = { "", "v1", "namespaces", 0 };
static const peerop_kube_resource CRDR = { "apiextensions.k8s.io", "v1", "customresourcedefinitions", 0 };

static peerop_kube_client *client;

/* requests the client has made so far (rest_client_requests_total) */
static unsigned long long requests(void)
{
	unsigned long long n = 0;
	size_t i;
	pthread_mutex_lock(&client->count_lock);
	for (i = 0; i < client->ncounts; i++)
		n += client->counts[i].n;
	n += client->counts_other;
	pthread_mutex_unlock(&client->count_lock);
	return n;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_reconcile: %s: %s\n", what, peerop_error_last()->message);
	exit(1);
}

/* ---- what every mode writes ------------------------------------------ */

static json_t *peers_cm(const json_t *hs)
{
	json_t *meta = json_object_get(hs, "metadata");
	json_t *cm = json_pack("{s:s, s:s, s:{s:O, s:O, s:{s:s}}, s:{s:O}}", "apiVersion", "v1", "kind",
		"ConfigMap", "metadata", "name", json_object_get(meta, "name"), "namespace",
		json_object_get(meta, "namespace"), "labels", "app.kubernetes.io/managed-by", "bench",
		"data", "replicas", json_object_get(json_object_get(hs, "spec"), "replicas"));
	json_object_set_new(json_object_get(cm, "metadata"), "name",
		json_sprintf("%s-peers", json_string_value(json_object_get(meta, "name"))));
	json_object_set_new(json_object_get(cm, "data"), "replicas",
		json_sprintf("%lld", (long long)json_integer_value(json_object_get(json_object_get(hs, "spec"), "replicas"))));
	peerop_object_set_controller(cm, hs);
	return cm;
}

/* ---- controller mode -------------------------------------------------- */

typedef struct ctl_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t converged;              /* status writes for a new generation */
	long long watch_gen;           /* the generation of "watched" awaited */
	const char *watched;
	uint64_t seen_us;              /* when it was written */
} ctl_state;

static int reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	ctl_state *st = payload;
	json_t *hs = NULL, *cm, *status, *conds;
	long long gen;
	int rc, changed;
	(void)result;

	if (peerop_informer_get(&hs, peerop_controller_cache(c, NULL), req->ns, req->name) != 0)
		return 0;
	cm = peers_cm(hs);
	rc = peerop_controller_apply(NULL, c, &CMR, cm, NULL);
	json_decref(cm);
	if (rc < 0)
		goto out;
	gen = json_integer_value(json_object_get(json_object_get(hs, "metadata"), "generation"));
	status = json_deep_copy(json_object_get(hs, "status"));
	if (!status)
		status = json_object();
	conds = json_object_get(status, "conditions");
	if (!json_is_array(conds))
		json_object_set_new(status, "conditions", conds = json_array());
	changed = peerop_condition_set(conds, "Ready", "True", "ConfigMapApplied", "", gen, 0);
	if (json_integer_value(json_object_get(status, "observedGeneration")) != gen)
		changed = 1;
	if (changed > 0) {
		json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "peerop.io/v1alpha1",
			"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns, "status", status);
		json_object_set_new(json_object_get(p, "status"), "observedGeneration", json_integer(gen));
		rc = peerop_controller_apply(NULL, c, &HS, p, "status");
		json_decref(p);
		if (rc == 0) {
			pthread_mutex_lock(&st->lock);
			st->converged++;
			if (st->watched && !strcmp(st->watched, req->name) && gen >= st->watch_gen)
				st->seen_us = peerop__now_us();
			pthread_cond_broadcast(&st->cond);
			pthread_mutex_unlock(&st->lock);
		}
	}
	json_decref(status);
out:
	json_decref(hs);
	return rc;
}

static void make_ns_with_servers(const char *ns, size_t n)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", ns);
	char name[64];
	size_t i;

	if (peerop_kube_create(NULL, client, &NSR, NULL, o, NULL) < 0)
		die("create namespace");
	json_decref(o);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "web-%zu", i);
		o = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "peerop.io/v1alpha1", "kind",
			"HTTPServer", "metadata", "name", name, "spec", "replicas", (int)(i % 5) + 1);
		if (peerop_kube_create(NULL, client, &HS, ns, o, NULL) < 0)
			die("create httpserver");
		json_decref(o);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double run_controller(unsigned workers, size_t n, double *p50_ms, double *p99_ms,
	unsigned long long *reqs, unsigned long long *idle)
{
	peerop_controller_options o = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c;
	ctl_state st;
	char ns[64];
	uint64_t t0, t1, lat[200];
	size_t i, k = 0;

	memset(&st, 0, sizeof(st));
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	snprintf(ns, sizeof(ns), "bench-ctl-%u", workers);
	make_ns_with_servers(ns, n);
	o.name = "bench";
	o.primary = HS;
	o.ns = ns;
	o.workers = workers;
	o.reconcile = reconcile;
	o.payload = &st;
	/* the default 10/s overall limit only applies to retries; none expected */
	if (peerop_controller_new(&c, client, &o) < 0 ||
	    peerop_controller_owns(c, &CMR, "app.kubernetes.io/managed-by=bench") < 0)
		die("controller");
	*reqs = requests();
	t0 = peerop__now_us();
	if (peerop_controller_start(c) < 0)
		die("start");
	pthread_mutex_lock(&st.lock);
	while (st.converged < n)
		pthread_cond_wait(&st.cond, &st.lock);
	pthread_mutex_unlock(&st.lock);
	t1 = peerop__now_us();
	*reqs = requests() - *reqs;

	/* spec changes one at a time, each to an object not changed before
	 * (so its generation goes from 1 to 2): PATCH reply -> status write */
	for (i = 0; i < 200 && i < n; i++) {
		char name[64];
		json_t *p = json_pack("{s:{s:i}}", "spec", "replicas", 6 + (int)(i % 90));
		uint64_t start;
		snprintf(name, sizeof(name), "web-%zu", (i * 7) % n);
		pthread_mutex_lock(&st.lock);
		st.watched = name;
		st.watch_gen = 2;
		st.seen_us = 0;
		pthread_mutex_unlock(&st.lock);
		if (peerop_kube_patch(NULL, client, &HS, ns, name, PEEROP_KUBE_PATCH_MERGE, p, NULL) < 0)
			die("patch");
		start = peerop__now_us();
		pthread_mutex_lock(&st.lock);
		while (!st.seen_us && peerop__now_us() - start < 10000000u)
			peerop__cond_timedwait_ms(&st.cond, &st.lock, 100);
		if (st.seen_us)
			lat[k++] = st.seen_us > start ? st.seen_us - start : 0;
		st.watched = NULL;
		pthread_mutex_unlock(&st.lock);
		json_decref(p);
	}
	/* idle: requests made in 3 s while nothing changes (watches only) */
	{
		unsigned long long before = requests();
		peerop__sleep_ms(3000);
		*idle = requests() - before;
	}
	peerop_controller_free(c);
	qsort(lat, k, sizeof(lat[0]), cmp_u64);
	*p50_ms = k ? (double)lat[k / 2] / 1000.0 : -1;
	*p99_ms = k ? (double)lat[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] / 1000.0 : -1;
	pthread_cond_destroy(&st.cond);
	pthread_mutex_destroy(&st.lock);
	return (double)(t1 - t0) / 1e6;
}

/* ---- naive mode --------------------------------------------------------- */

static double run_naive(size_t n, unsigned long long *reqs)
{
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	json_t *list = NULL, *item;
	size_t i;
	uint64_t t0;
	const char *ns = "bench-naive";

	make_ns_with_servers(ns, n);
	*reqs = requests();
	t0 = peerop__now_us();
	if (peerop_kube_list(&list, client, &HS, ns, &lo) < 0)
		die("list");
	json_array_foreach(json_object_get(list, "items"), i, item) {
		json_t *meta = json_object_get(item, "metadata"), *cm = peers_cm(item), *old = NULL, *hs = NULL;
		const char *name = json_string_value(json_object_get(meta, "name"));
		char cmname[96];
		long long gen;
		snprintf(cmname, sizeof(cmname), "%s-peers", name);
		if (peerop_kube_get(&old, client, &CMR, ns, cmname) == 0) {
			json_object_set(json_object_get(cm, "metadata"), "resourceVersion",
				json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
			if (peerop_kube_replace(NULL, client, &CMR, ns, cmname, cm, NULL) < 0)
				die("replace configmap");
		} else if (peerop_kube_create(NULL, client, &CMR, ns, cm, NULL) < 0) {
			die("create configmap");
		}
		if (peerop_kube_get(&hs, client, &HS, ns, name) < 0)
			die("get httpserver");
		gen = json_integer_value(json_object_get(json_object_get(hs, "metadata"), "generation"));
		json_object_set_new(hs, "status", json_pack("{s:I, s:[{s:s, s:s, s:s, s:s, s:s, s:I}]}",
			"observedGeneration", (json_int_t)gen, "conditions", "type", "Ready", "status", "True",
			"reason", "ConfigMapApplied", "message", "", "lastTransitionTime", "2026-01-01T00:00:00Z",
			"observedGeneration", (json_int_t)gen));
		{
			peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;
			wo.subresource = "status";
			if (peerop_kube_replace(NULL, client, &HS, ns, name, hs, &wo) < 0)
				die("replace status");
		}
		json_decref(old);
		json_decref(hs);
		json_decref(cm);
	}
	json_decref(list);
	*reqs = requests() - *reqs;
	return (double)(peerop__now_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg;
	char *yaml, *err = NULL;
	size_t len, n;
	json_t *crd;
	double naive, t, p50, p99;
	unsigned long long reqs, idle, naive_reqs;
	char lat[48];
	int i;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_reconcile KUBECONFIG CRD_YAML N WORKERS...\n");
		return 2;
	}
	peerop_global_init();
	co.kubeconfig = argv[1];
	if (peerop_kube_config_load(&cfg, &co) < 0 || peerop_kube_client_new(&client, cfg, NULL) < 0)
		die("client");
	peerop_kube_config_free(cfg);
	if (peerop__read_file(&yaml, &len, argv[2], 0) < 0)
		die("CRD");
	if (!(crd = dc_yaml_decode(yaml, len, &err))) {
		fprintf(stderr, "bench_reconcile: %s: %s\n", argv[2], err ? err : "?");
		return 1;
	}
	free(yaml);
	if (peerop_kube_create(NULL, client, &CRDR, NULL, crd, NULL) < 0)
		die("create CRD");
	json_decref(crd);
	n = (size_t)strtoul(argv[3], NULL, 10);
	if (n < 200) {
		fprintf(stderr, "bench_reconcile: N must be at least 200 (one spec change per object)\n");
		return 2;
	}

	naive = run_naive(n, &reqs);
	naive_reqs = reqs;
	printf("| %-28s | %10s | %10s | %9s | %14s | %15s | %9s |\n", "mode", "converge", "objects/s", "requests",
		"idle 3 s", "change p50/p99", "vs naive");
	printf("| %-28s | %10s | %10s | %9s | %14s | %15s | %9s |\n", "---", "---:", "---:", "---:", "---:", "---:", "---:");
	printf("| %-28s | %8.2f s | %10.0f | %9llu | %9llu/pass | %15s | %8.2fx |\n", "naive loop (original)", naive,
		(double)n / naive, reqs, naive_reqs, "n/a", 1.0);
	for (i = 4; i < argc; i++) {
		unsigned w = (unsigned)strtoul(argv[i], NULL, 10);
		char label[64];
		t = run_controller(w, n, &p50, &p99, &reqs, &idle);
		snprintf(label, sizeof(label), "peerop_controller, %u worker%s", w, w == 1 ? "" : "s");
		snprintf(lat, sizeof(lat), "%.1f/%.1f ms", p50, p99);
		printf("| %-28s | %8.2f s | %10.0f | %9llu | %14llu | %15s | %8.2fx |\n", label, t, (double)n / t,
			reqs, idle, lat, naive / t);
		fflush(stdout);
	}
	peerop_kube_client_free(client);
	peerop_global_cleanup();
	return 0;
}
