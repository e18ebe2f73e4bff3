/* follow.c: a keyed work queue fed by the store's own event history.
 *
 * A real controller gets an informer (list, then watch) and a rate-limited
 * work queue. In-process, the store's history ring is the watch: the
 * follower keeps a cursor (a resourceVersion) into it, like a watcher, and
 * maps each new event to the keys it affects; when the cursor falls out of
 * the ring (or at start) it resyncs, queueing every key, as a relist does.
 * Keys are synced one at a time on the follower's thread, without the store
 * lock; a key queued while queued is queued once. Nothing polls: the thread
 * sleeps on the store's condition variable, which every commit broadcasts,
 * until an event arrives or a delayed key falls due. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

typedef struct fitem {
	char *key;
	uint64_t due;       /* monotonic ms */
	uint64_t seq;       /* FIFO among keys due at once */
} fitem;

struct dc_follow {
	dc_server *srv;
	dc_store *store;
	dc_follow_ops ops;
	void *arg;
	pthread_t thread;
	bool stop;
	bool synced;        /* the first resync happened */
	uint64_t cursor;
	uint64_t seq;
	peerop__map queue;      /* key -> fitem */
};

dc_server *dc_follow_server(dc_follow *f)
{
	return f->srv;
}

void dc_follow_add_after(dc_follow *f, const char *key, uint64_t ms)
{
	fitem *it = peerop__map_get(&f->queue, key);
	uint64_t due = peerop__now_ms() + ms;
	if (it) {
		/* already queued: the earlier time wins */
		if (due < it->due)
			it->due = due;
		return;
	}
	it = calloc(1, sizeof(*it));
	if (!it || !(it->key = strdup(key)) || peerop__map_put(&f->queue, key, it, NULL) != 0) {
		if (it)
			free(it->key);
		free(it);
		peerop__warn("devcluster", "%s: out of memory queueing %s", f->ops.name, key);
		return;
	}
	it->due = due;
	it->seq = f->seq++;
}

void dc_follow_add(dc_follow *f, const char *key)
{
	dc_follow_add_after(f, key, 0);
}

typedef struct pick {
	fitem *best;
} pick;

static int pick_cb(const char *key, void *val, void *arg)
{
	pick *p = arg;
	fitem *it = val;
	(void)key;
	if (!p->best || it->due < p->best->due || (it->due == p->best->due && it->seq < p->best->seq))
		p->best = it;
	return 0;
}

/* Store locked: run the ops for every event since the cursor. */
static void catch_up(dc_follow *f)
{
	dc_store *s = f->store;
	uint64_t rv;
	if (!f->synced || f->cursor < s->compacted_rv) {
		f->ops.resync(f, s, f->arg);
		f->cursor = s->rv;
		f->synced = true;
		return;
	}
	for (rv = f->cursor + 1; rv <= s->rv; rv++) {
		const dc_event *ev = dc_store_event(s, rv);
		if (ev)
			f->ops.event(f, s, ev, f->arg);
	}
	f->cursor = s->rv;
}

static void *follow_main(void *arg)
{
	dc_follow *f = arg;
	dc_store *s = f->store;

	pthread_mutex_lock(&s->mu);
	while (!f->stop) {
		pick p = { NULL };
		uint64_t now;
		catch_up(f);
		peerop__map_each(&f->queue, pick_cb, &p);
		now = peerop__now_ms();
		if (p.best && p.best->due <= now) {
			fitem *it = p.best;
			long again;
			peerop__map_remove(&f->queue, it->key);
			pthread_mutex_unlock(&s->mu);
			again = f->ops.sync(f, it->key, f->arg);
			pthread_mutex_lock(&s->mu);
			if (again > 0 && !f->stop)
				dc_follow_add_after(f, it->key, (uint64_t)again);
			free(it->key);
			free(it);
			continue;
		}
		if (s->rv == f->cursor)
			dc_store_wait(s, p.best ? (unsigned)(p.best->due - now) : 5000);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int dc_follow_start(dc_follow **out, dc_server *srv, const dc_follow_ops *ops, void *arg)
{
	dc_follow *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return PEEROP_ENOMEM;
	f->srv = srv;
	f->store = srv->store;
	f->ops = *ops;
	f->arg = arg;
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
		peerop__map_dispose(&f->queue);
		free(f);
		return peerop__error_set(PEEROP_ENOMEM, "cannot start the %s thread", ops->name);
	}
	*out = f;
	return 0;
}

static int free_item(const char *key, void *val, void *arg)
{
	fitem *it = val;
	(void)key;
	(void)arg;
	free(it->key);
	free(it);
	return 0;
}

void dc_follow_stop(dc_follow *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->store->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->store->cond);
	pthread_mutex_unlock(&f->store->mu);
	pthread_join(f->thread, NULL);
	peerop__map_each(&f->queue, free_item, NULL);
	peerop__map_dispose(&f->queue);
	free(f);
}
