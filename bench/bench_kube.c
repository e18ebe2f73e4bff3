/*
 * bench_kube: GET one object N times through peerop_kube_get() from T
 * threads sharing one client; prints "requests seconds HTTP/version" for
 * bench-kube.sh.
 *
 *   bench_kube KUBECONFIG N THREADS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <peerop/peerop.h>

static const peerop_kube_resource pods = { "", "v1", "pods", 1 };
static peerop_kube_client *client;
static int per_thread;
static int failures;
static char http_version[8] = "?";

/* Debug records carry the HTTP version each request used. */
static void on_log(const peerop_log_record *rec, void *payload)
{
	size_t i;
	(void)payload;
	for (i = 0; i < rec->nfields; i++)
		if (!strcmp(rec->fields[i].key, "http"))
			snprintf(http_version, sizeof(http_version), "%s", rec->fields[i].value);
}

static void *worker(void *arg)
{
	int i, count = arg ? *(int *)arg : per_thread;
	for (i = 0; i < count; i++) {
		json_t *obj = NULL;
		if (peerop_kube_get(&obj, client, &pods, "default", "web") < 0) {
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
			fprintf(stderr, "bench_kube: %s\n", peerop_error_last()->message);
		}
		json_decref(obj);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	pthread_t t[64];
	struct timespec a, b;
	int n, threads, i;

	if (argc != 4)
		return 2;
	n = atoi(argv[2]);
	threads = atoi(argv[3]);
	if (threads < 1 || threads > 64 || n < threads)
		return 2;
	per_thread = n / threads;
	peerop_global_init();
	o.kubeconfig = argv[1];
	if (peerop_kube_config_load(&cfg, &o) < 0 || peerop_kube_client_new(&client, cfg, NULL) < 0) {
		fprintf(stderr, "bench_kube: %s\n", peerop_error_last()->message);
		return 1;
	}
	{
		int warm = 50; /* warm up: the connection, the TLS session */
		peerop_log_set_callback(on_log, PEEROP_LOG_DEBUG, NULL);
		worker(&warm);
		peerop_log_set_callback(NULL, PEEROP_LOG_OFF, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%d %.6f HTTP/%s\n", per_thread * threads,
		(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9, http_version);
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return failures ? 1 : 0;
}
