/*
 * workqueue_delay.c: delayed adds. A binary min-heap of items ordered by
 * when they are due, and one thread that sleeps on a CLOCK_MONOTONIC
 * condition variable until the earliest is due (or an earlier one
 * arrives), then queues it. Each item knows its heap slot, so a key
 * delayed again moves in place: one heap entry per key, earliest wins.
 */
#include "internal.h"
#include "workqueue_internal.h"

#include <stdlib.h>
#include <time.h>

/* Sleep at most this long in one wait: a far-off deadline ("never") then
 * needs no timespec arithmetic near the limits of time_t. */
#define MAX_WAIT_NS (60ull * 1000000000u)

static void heap_set(peerop_workqueue *q, size_t i, peerop__wq_item *it)
{
	q->heap[i] = it;
	it->heap_index = i;
}

static void sift_up(peerop_workqueue *q, size_t i)
{
	peerop__wq_item *it = q->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (q->heap[parent]->ready_at_ns <= it->ready_at_ns)
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void sift_down(peerop_workqueue *q, size_t i)
{
	peerop__wq_item *it = q->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= q->nheap)
			break;
		if (child + 1 < q->nheap && q->heap[child + 1]->ready_at_ns < q->heap[child]->ready_at_ns)
			child++;
		if (it->ready_at_ns <= q->heap[child]->ready_at_ns)
			break;
		heap_set(q, i, q->heap[child]);
		i = child;
	}
	heap_set(q, i, it);
}

int peerop__wq_delay_locked(peerop_workqueue *q, peerop__wq_item *it, uint64_t ready_at)
{
	if (it->heap_index != PEEROP__WQ_NOT_DELAYED) {
		if (ready_at >= it->ready_at_ns)
			return 0; /* an earlier add is due first */
		it->ready_at_ns = ready_at;
		sift_up(q, it->heap_index);
	} else {
		if (q->nheap == q->heap_cap) {
			size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
			peerop__wq_item **h = realloc(q->heap, cap * sizeof(*h));
			if (!h)
				return PEEROP_ENOMEM;
			q->heap = h;
			q->heap_cap = cap;
		}
		it->ready_at_ns = ready_at;
		heap_set(q, q->nheap++, it);
		sift_up(q, it->heap_index);
	}
	/* The thread sleeps until the earliest deadline: wake it only when
	 * that changed. */
	if (it->heap_index == 0)
		pthread_cond_signal(&q->delay_wake);
	return 0;
}

static peerop__wq_item *heap_pop(peerop_workqueue *q)
{
	peerop__wq_item *top = q->heap[0];
	top->heap_index = PEEROP__WQ_NOT_DELAYED;
	if (--q->nheap > 0) {
		heap_set(q, 0, q->heap[q->nheap]);
		sift_down(q, 0);
	}
	return top;
}

void peerop__wq_heap_clear_locked(peerop_workqueue *q)
{
	while (q->nheap > 0)
		peerop__wq_release_locked(q, heap_pop(q));
}

void *peerop__wq_delay_main(void *arg)
{
	peerop_workqueue *q = arg;

	pthread_mutex_lock(&q->lock);
	while (!q->shutting_down) {
		uint64_t now = peerop__mono_ns(NULL);
		struct timespec ts;
		uint64_t until;

		/* Everything due is queued in one pass under the lock. */
		while (q->nheap > 0 && q->heap[0]->ready_at_ns <= now)
			peerop__wq_add_item_locked(q, heap_pop(q), now);
		if (q->nheap == 0) {
			pthread_cond_wait(&q->delay_wake, &q->lock);
			continue;
		}
		until = q->heap[0]->ready_at_ns;
		if (until - now > MAX_WAIT_NS)
			until = now + MAX_WAIT_NS;
		ts.tv_sec = (time_t)(until / 1000000000u);
		ts.tv_nsec = (long)(until % 1000000000u);
		pthread_cond_timedwait(&q->delay_wake, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}
