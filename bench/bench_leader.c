/*
 * bench_leader.c: leader election failover time, after a release and after
 * an expiry, against the configured lease duration.
 *
 *   bench_leader KUBECONFIG ROUNDS LEASE_MS RENEW_MS RETRY_MS
 *
 * Each round: candidate A leads a fresh Lease, candidate B has seen A hold
 * it; A stops (releasing the Lease, or not); the failover time is from the
 * call to peerop_leader_stop() until B's peerop_leader_is_leader() is 1
 * (polled every millisecond). Prints one Markdown table row per mode.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static void sleep_1ms(void)
{
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
}

static int wait_for(int (*cond)(peerop_leader *, const char *), peerop_leader *l, const char *arg,
	uint64_t timeout_ms)
{
	uint64_t deadline = peerop__now_ms() + timeout_ms;
	while (!cond(l, arg)) {
		if (peerop__now_ms() > deadline)
			return -1;
		sleep_1ms();
	}
	return 0;
}

static int leads(peerop_leader *l, const char *unused)
{
	(void)unused;
	return peerop_leader_is_leader(l);
}

static int sees(peerop_leader *l, const char *holder)
{
	char *h = peerop_leader_holder(l);
	int eq = h && strcmp(h, holder) == 0;
	peerop_free(h);
	return eq;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One failover; its duration in ms, or 0 on failure. */
static uint64_t failover(peerop_kube_client *client, const peerop_leader_options *base, const char *name,
	int release)
{
	peerop_leader_options o = *base;
	peerop_leader *a = NULL, *b = NULL;
	uint64_t t0, ms = 0;

	o.name = name;
	o.no_release_on_stop = !release;
	o.identity = "bench-a";
	if (peerop_leader_start(&a, client, &o) != 0 || wait_for(leads, a, NULL, 30000) != 0)
		goto out;
	o.identity = "bench-b";
	if (peerop_leader_start(&b, client, &o) != 0 || wait_for(sees, b, "bench-a", 30000) != 0)
		goto out;
	t0 = peerop__now_ms();
	peerop_leader_stop(a);
	if (wait_for(leads, b, NULL, 60000 + 3 * (uint64_t)o.lease_duration_ms) == 0)
		ms = peerop__now_ms() - t0;
out:
	peerop_leader_free(a);
	peerop_leader_free(b);
	return ms;
}

int main(int argc, char **argv)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_leader_options o = PEEROP_LEADER_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	double median[2] = { 0, 0 };
	int rounds, mode, rc = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_leader KUBECONFIG ROUNDS LEASE_MS RENEW_MS RETRY_MS\n");
		return 2;
	}
	rounds = atoi(argv[2]);
	o.lease_duration_ms = (unsigned)atoi(argv[3]);
	o.renew_deadline_ms = (unsigned)atoi(argv[4]);
	o.retry_period_ms = (unsigned)atoi(argv[5]);
	o.ns = "default";
	if (rounds < 1 || peerop_global_init() != 0)
		return 2;
	co.kubeconfig = argv[1];
	if (peerop_kube_config_load(&cfg, &co) != 0 || peerop_kube_client_new(&client, cfg, NULL) != 0) {
		fprintf(stderr, "bench_leader: %s\n", peerop_error_last()->message);
		goto out;
	}
	for (mode = 0; mode < 2; mode++) {
		uint64_t *t = calloc((size_t)rounds, sizeof(*t));
		int i;
		if (!t)
			goto out;
		for (i = 0; i < rounds; i++) {
			char name[64];
			snprintf(name, sizeof(name), "bench-%s-%d", mode ? "expiry" : "release", i);
			if (!(t[i] = failover(client, &o, name, !mode))) {
				fprintf(stderr, "bench_leader: round %d (%s) failed\n", i, name);
				free(t);
				goto out;
			}
		}
		qsort(t, (size_t)rounds, sizeof(*t), cmp_u64);
		median[mode] = rounds % 2 ? (double)t[rounds / 2] : (t[rounds / 2 - 1] + t[rounds / 2]) / 2.0;
		printf("| %s | %d | %u | %.0f | %llu | %llu | %.2f |\n",
			mode ? "expiry (no release)" : "release on stop", rounds, o.lease_duration_ms, median[mode],
			(unsigned long long)t[0], (unsigned long long)t[rounds - 1],
			median[mode] / o.lease_duration_ms);
		free(t);
	}
	printf("\nfailover after a release / after an expiry (medians): %.3f\n", median[0] / median[1]);
	rc = 0;
out:
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return rc;
}
