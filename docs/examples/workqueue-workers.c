/*
 * workqueue-workers: the shape of a controller's workers over a work
 * queue. A pretend reconcile fails the first time for one key, which is
 * retried with backoff. Built by `make check` so that docs/workqueue.md
 * cannot drift from the API.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <peerop/peerop.h>

enum { WORKERS = 2 };

/* Look at the object's latest state (in an informer's cache) and make
 * the world match it. Returns 0, or -1 to be retried later. */
static int reconcile(const char *key, unsigned int attempt)
{
	printf("reconcile %s (attempt %u)\n", key, attempt + 1);
	return strcmp(key, "default/web-1") == 0 && attempt == 0 ? -1 : 0;
}

static void *worker(void *arg)
{
	peerop_workqueue *q = arg;
	char *key;

	/* Until peerop_workqueue_shutdown(): get returns PEEROP_ECANCELED. */
	while (peerop_workqueue_get(&key, q, -1) == 0) {
		if (reconcile(key, peerop_workqueue_num_requeues(q, key)) == 0)
			peerop_workqueue_forget(q, key);           /* reset its backoff */
		else
			peerop_workqueue_add_rate_limited(q, key); /* 5 ms, 10 ms, 20 ms... */
		peerop_workqueue_done(q, key);
		peerop_free(key);
	}
	return NULL;
}

int main(void)
{
	peerop_workqueue_options opts = PEEROP_WORKQUEUE_OPTIONS_INIT;
	peerop_workqueue *q;
	peerop_workqueue_stats st;
	pthread_t th[WORKERS];
	struct timespec tick = { 0, 10 * 1000000L };
	int i;

	opts.name = "httpservers";
	if (peerop_workqueue_new(&q, &opts) < 0) {
		fprintf(stderr, "%s\n", peerop_error_last()->message);
		return 1;
	}
	for (i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, worker, q);

	/* Event handlers add keys; repeated adds of a waiting key collapse. */
	peerop_workqueue_add(q, "default/web-0");
	peerop_workqueue_add(q, "default/web-1");
	peerop_workqueue_add(q, "default/web-0");
	peerop_workqueue_add_after(q, "default/web-2", 50); /* a periodic resync */

	/* A real controller runs until SIGTERM; this one until all is done. */
	do {
		nanosleep(&tick, NULL);
		peerop_workqueue_get_stats(q, &st);
	} while (st.depth || st.processing || st.delayed);

	peerop_workqueue_shutdown(q);          /* stop intake, wake the workers */
	peerop_workqueue_wait_idle(q, 30000);  /* let in-flight work finish */
	for (i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	printf("%llu keys queued, %llu retries\n", st.adds_total, st.retries_total);
	peerop_workqueue_free(q);
	return 0;
}
