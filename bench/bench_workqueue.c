/*
 * bench_workqueue.c: the work queue's cost, against a naive queue in the
 * same run.
 *
 *   bench_workqueue throughput ADDS   4 producers, 4 workers, 10,000 keys
 *   bench_workqueue delayed N         add_after of N distinct keys (heap)
 *   bench_workqueue once wq|naive hot|distinct ADDS    one run, for profilers
 *
 * The naive peer is what a controller would write first: a mutex, a
 * condition variable and a linked list of copied keys, without collapsing
 * repeated adds and without keeping one key off two workers. It does less
 * per operation; the work queue's collapsing means fewer keys to process
 * when the same keys are added again and again, as with watch events.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "peerop/peerop.h"

enum { PRODUCERS = 4, WORKERS = 4, KEYS = 10000, ROUNDS = 7 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- the naive peer -------------------------------------------------------- */

typedef struct naive_node {
	struct naive_node *next;
	char key[];
} naive_node;

typedef struct naive {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	naive_node *head, *tail;
	int shut;
} naive;

static void naive_add(naive *n, const char *key)
{
	size_t len = strlen(key);
	naive_node *node = malloc(sizeof(*node) + len + 1);
	if (!node)
		abort();
	memcpy(node->key, key, len + 1);
	node->next = NULL;
	pthread_mutex_lock(&n->lock);
	if (n->tail)
		n->tail->next = node;
	else
		n->head = node;
	n->tail = node;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static naive_node *naive_get(naive *n)
{
	naive_node *node;
	pthread_mutex_lock(&n->lock);
	while (!n->head && !n->shut)
		pthread_cond_wait(&n->cond, &n->lock);
	node = n->head;
	if (node) {
		n->head = node->next;
		if (!n->head)
			n->tail = NULL;
	}
	pthread_mutex_unlock(&n->lock);
	return node;
}

/* ---- one run: producers add, workers get and mark done --------------------- */

typedef struct run {
	int use_naive;
	int distinct;               /* every add a new key: nothing to collapse */
	long adds_per_producer;
	peerop_workqueue *q;
	naive n;
	pthread_mutex_t count_lock;
	long processed;
} run;

typedef struct thread_arg {
	run *r;
	int index;
} thread_arg;

static void *producer(void *arg)
{
	thread_arg *t = arg;
	run *r = t->r;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(t->index + 1);
	char key[64];
	long i;
	for (i = 0; i < r->adds_per_producer; i++) {
		if (r->distinct)
			snprintf(key, sizeof(key), "ns-%d/obj-%ld", t->index, i);
		else
			snprintf(key, sizeof(key), "ns-%d/obj-%d", (int)(i % 7), (int)(xorshift(&rng) % KEYS));
		if (r->use_naive)
			naive_add(&r->n, key);
		else if (peerop_workqueue_add(r->q, key) != 0)
			abort();
	}
	return NULL;
}

static void *worker(void *arg)
{
	run *r = ((thread_arg *)arg)->r;
	long mine = 0;
	for (;;) {
		if (r->use_naive) {
			naive_node *node = naive_get(&r->n);
			if (!node)
				break;
			free(node);
		} else {
			char *key;
			if (peerop_workqueue_get(&key, r->q, -1) != 0)
				break;
			peerop_workqueue_done(r->q, key);
			peerop_free(key);
		}
		mine++;
	}
	pthread_mutex_lock(&r->count_lock);
	r->processed += mine;
	pthread_mutex_unlock(&r->count_lock);
	return NULL;
}

static int drained(run *r)
{
	if (r->use_naive) {
		int empty;
		pthread_mutex_lock(&r->n.lock);
		empty = r->n.head == NULL;
		pthread_mutex_unlock(&r->n.lock);
		return empty;
	} else {
		peerop_workqueue_stats s;
		peerop_workqueue_get_stats(r->q, &s);
		return s.depth == 0 && s.processing == 0;
	}
}

/* Seconds from the first add until every key is processed. */
static double run_once(int use_naive, int distinct, long adds, long *processed)
{
	run r;
	thread_arg args[PRODUCERS + WORKERS];
	pthread_t th[PRODUCERS + WORKERS];
	double t0, t1;
	int i;

	memset(&r, 0, sizeof(r));
	r.use_naive = use_naive;
	r.distinct = distinct;
	r.adds_per_producer = adds / PRODUCERS;
	pthread_mutex_init(&r.count_lock, NULL);
	pthread_mutex_init(&r.n.lock, NULL);
	pthread_cond_init(&r.n.cond, NULL);
	if (!use_naive && peerop_workqueue_new(&r.q, NULL) != 0)
		abort();
	for (i = 0; i < PRODUCERS + WORKERS; i++) {
		args[i].r = &r;
		args[i].index = i;
	}
	for (i = PRODUCERS; i < PRODUCERS + WORKERS; i++)
		pthread_create(&th[i], NULL, worker, &args[i]);
	t0 = now_s();
	for (i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, &args[i]);
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	/* A worker may still hold the last key when the list is empty: for
	 * the naive queue that key costs one free(), noise next to the run. */
	while (!drained(&r))
		sleep_ms(1);
	t1 = now_s();
	if (use_naive) {
		pthread_mutex_lock(&r.n.lock);
		r.n.shut = 1;
		pthread_cond_broadcast(&r.n.cond);
		pthread_mutex_unlock(&r.n.lock);
	} else {
		peerop_workqueue_shutdown(r.q);
	}
	for (i = PRODUCERS; i < PRODUCERS + WORKERS; i++)
		pthread_join(th[i], NULL);
	peerop_workqueue_free(r.q);
	pthread_cond_destroy(&r.n.cond);
	pthread_mutex_destroy(&r.n.lock);
	pthread_mutex_destroy(&r.count_lock);
	*processed = r.processed;
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs alternate between the queues, the first taking turns, so that a
 * change of load (other builds on the machine) hits both; each round's
 * ratio is taken against the peer's run next to it, and the median of
 * those is reported with their range. CPU time (user+system of the whole
 * process) depends less on the load than wall time. */
static void throughput(long adds)
{
	static const char *const scenario[2] = { "10,000 keys, random", "all distinct" };
	int distinct;

	printf("| keys added | queue | median time | adds/s | keys processed | CPU per add | time vs naive (median, range) |\n");
	printf("|---|---|---:|---:|---:|---:|---:|\n");
	for (distinct = 0; distinct < 2; distinct++) {
		double wall[2][ROUNDS], cpu[2][ROUNDS], ratio[ROUNDS], lo = 1e9, hi = 0, mwall[2], mcpu[2];
		long processed[2] = { 0, 0 };
		int round, which;
		for (round = 0; round < ROUNDS; round++) {
			for (which = 0; which < 2; which++) {
				int use_naive = (which + round) % 2;
				double c0 = cpu_s();
				wall[use_naive][round] = run_once(use_naive, distinct, adds, &processed[use_naive]);
				cpu[use_naive][round] = cpu_s() - c0;
			}
			ratio[round] = wall[0][round] / wall[1][round];
			lo = ratio[round] < lo ? ratio[round] : lo;
			hi = ratio[round] > hi ? ratio[round] : hi;
		}
		for (which = 0; which < 2; which++) {
			mwall[which] = median(wall[which], ROUNDS);
			mcpu[which] = median(cpu[which], ROUNDS);
		}
		for (which = 0; which < 2; which++) {
			char rel[64];
			if (which)
				snprintf(rel, sizeof(rel), "1.00x");
			else
				snprintf(rel, sizeof(rel), "%.2fx (%.2f-%.2f)", median(ratio, ROUNDS), lo, hi);
			printf("| %s | %s | %.3f s | %.0f | %ld | %.0f ns | %s |\n", scenario[distinct],
				which ? "naive list (peer)" : "peerop_workqueue",
				mwall[which], (double)adds / mwall[which], processed[which],
				mcpu[which] / (double)adds * 1e9, rel);
		}
	}
}

/* ---- delayed adds ------------------------------------------------------------ */

typedef struct delay_run {
	peerop_workqueue *q;
	const double *due;      /* when each key is due (seconds, now_s() clock) */
	double *late;           /* how late each was handed out */
} delay_run;

static void *delay_worker(void *arg)
{
	delay_run *d = arg;
	char *key;
	while (peerop_workqueue_get(&key, d->q, -1) == 0) {
		long i = atol(strchr(key, '-') + 1);
		d->late[i] = now_s() - d->due[i];
		peerop_workqueue_done(d->q, key);
		peerop_free(key);
	}
	return NULL;
}

static double time_adds(peerop_workqueue *q, long n, uint64_t *rng, unsigned base_ms, double *due)
{
	char key[64];
	double t0 = now_s();
	long i;
	for (i = 0; i < n; i++) {
		unsigned ms = base_ms ? base_ms + (unsigned)(xorshift(rng) % 500) : 0;
		snprintf(key, sizeof(key), "ns/obj-%ld", i);
		if (base_ms) {
			/* read before the call: the key is due no earlier */
			double at = now_s() + ms / 1e3;
			if (at < due[i])
				due[i] = at;
			peerop_workqueue_add_after(q, key, ms);
		} else {
			peerop_workqueue_add(q, key);
		}
	}
	return now_s() - t0;
}

/* Three rounds: immediate adds of n keys (the peer), then add_after of the
 * same keys due in 1.5-2 s in random order, then again due in 1-1.5 s (the
 * earlier time wins: each key moves up the heap). Four workers take them
 * as they come due; each key's lateness is when it was handed out minus
 * when it was due. */
static void delayed(long n)
{
	double t_now[ROUNDS], t_add[ROUNDS], t_redo[ROUNDS], *due, *late, *all_late;
	delay_run d;
	pthread_t th[WORKERS];
	uint64_t rng = 12345;
	int round, w;
	long i;

	due = malloc((size_t)n * sizeof(*due));
	late = malloc((size_t)n * sizeof(*late));
	all_late = malloc((size_t)n * 3 * sizeof(*all_late));
	if (!due || !late || !all_late)
		abort();
	for (round = 0; round < 3; round++) {
		peerop_workqueue_stats s;
		if (peerop_workqueue_new(&d.q, NULL) != 0)
			abort();
		t_now[round] = time_adds(d.q, n, &rng, 0, NULL);
		peerop_workqueue_free(d.q);

		for (i = 0; i < n; i++) {
			due[i] = 1e300;
			late[i] = -1;
		}
		if (peerop_workqueue_new(&d.q, NULL) != 0)
			abort();
		d.due = due;
		d.late = late;
		for (w = 0; w < WORKERS; w++)
			pthread_create(&th[w], NULL, delay_worker, &d);
		t_add[round] = time_adds(d.q, n, &rng, 1500, due);
		t_redo[round] = time_adds(d.q, n, &rng, 1000, due);
		for (;;) {
			peerop_workqueue_get_stats(d.q, &s);
			if (s.delayed == 0 && s.depth == 0 && s.processing == 0)
				break;
			sleep_ms(10);
		}
		peerop_workqueue_shutdown(d.q);
		for (w = 0; w < WORKERS; w++)
			pthread_join(th[w], NULL);
		peerop_workqueue_free(d.q);
		for (i = 0; i < n; i++)
			all_late[round * n + i] = late[i];
	}
	printf("| operation (%ld distinct keys; median of 3) | total | per key | vs add |\n", n);
	printf("|---|---:|---:|---:|\n");
	{
		double m_now = median(t_now, 3), m_add = median(t_add, 3), m_redo = median(t_redo, 3);
		printf("| add, immediate (peer) | %.1f ms | %.0f ns | 1.00x |\n", m_now * 1e3, m_now / (double)n * 1e9);
		printf("| add_after, due in 1.5-2 s, random order (heap push) | %.1f ms | %.0f ns | %.2fx |\n",
			m_add * 1e3, m_add / (double)n * 1e9, m_add / m_now);
		printf("| add_after again, due in 1-1.5 s (earliest wins: moves up) | %.1f ms | %.0f ns | %.2fx |\n",
			m_redo * 1e3, m_redo / (double)n * 1e9, m_redo / m_now);
	}
	qsort(all_late, (size_t)n * 3, sizeof(*all_late), cmp_double);
	printf("\nlateness of the %ld keys handed out (4 workers): median %.2f ms, 99th percentile %.2f ms, "
		"max %.2f ms; least %.3f ms%s\n", n * 3,
		all_late[n * 3 / 2] * 1e3, all_late[n * 3 * 99 / 100] * 1e3, all_late[n * 3 - 1] * 1e3, all_late[0] * 1e3,
		all_late[0] < 0 ? " (NEGATIVE: a key came early or never)" : " (none early)");
	free(due);
	free(late);
	free(all_late);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "throughput") == 0) {
		throughput(atol(argv[2]));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "delayed") == 0) {
		delayed(atol(argv[2]));
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "once") == 0) {
		/* one run of one queue, for profilers */
		long p;
		double t = run_once(strcmp(argv[2], "naive") == 0, strcmp(argv[3], "distinct") == 0, atol(argv[4]), &p);
		printf("%s %s: %.3f s, %ld processed\n", argv[2], argv[3], t, p);
		return 0;
	}
	fprintf(stderr, "usage: bench_workqueue throughput ADDS | delayed N | once wq|naive hot|distinct ADDS\n");
	return 2;
}
