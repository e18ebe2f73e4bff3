/* map.c: a string-keyed open-addressing hash map (linear probing, FNV-1a).
 * Deletion uses backward-shift, so there are no tombstones and lookups stay
 * short under churn (collections see create/delete cycles constantly). */
#include "devcluster.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
	char *key;     /* NULL: empty */
	void *val;
	uint64_t hash;
} slot;

struct dc_map {
	slot *slots;
	size_t cap;    /* a power of two */
	size_t count;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

dc_map *dc_map_new(void)
{
	dc_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof(slot));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void dc_map_free(dc_map *m)
{
	size_t i;
	if (!m)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static size_t find(const dc_map *m, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);
	while (m->slots[i].key) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0)
			return i;
		i = (i + 1) & (m->cap - 1);
	}
	return i;
}

void *dc_map_get(const dc_map *m, const char *key)
{
	size_t i = find(m, key, fnv1a(key));
	return m->slots[i].key ? m->slots[i].val : NULL;
}

static int grow(dc_map *m)
{
	size_t ncap = m->cap * 2, i;
	slot *ns = calloc(ncap, sizeof(slot));
	if (!ns)
		return PEEROP_ENOMEM;
	for (i = 0; i < m->cap; i++) {
		size_t j;
		if (!m->slots[i].key)
			continue;
		j = (size_t)m->slots[i].hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int dc_map_put(dc_map *m, const char *key, void *val)
{
	uint64_t h = fnv1a(key);
	size_t i;
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != 0)
		return PEEROP_ENOMEM;
	i = find(m, key, h);
	if (m->slots[i].key) {
		m->slots[i].val = val;
		return 0;
	}
	m->slots[i].key = strdup(key);
	if (!m->slots[i].key)
		return PEEROP_ENOMEM;
	m->slots[i].val = val;
	m->slots[i].hash = h;
	m->count++;
	return 0;
}

void *dc_map_del(dc_map *m, const char *key)
{
	uint64_t h = fnv1a(key);
	size_t i = find(m, key, h), j;
	void *val;
	if (!m->slots[i].key)
		return NULL;
	val = m->slots[i].val;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->count--;
	/* backward-shift the cluster after i so every key stays reachable */
	j = i;
	for (;;) {
		size_t home;
		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].key)
			break;
		home = (size_t)m->slots[j].hash & (m->cap - 1);
		/* move j to i if its home is not in the cyclic range (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return val;
}

size_t dc_map_count(const dc_map *m)
{
	return m->count;
}

void dc_map_each(const dc_map *m, int (*cb)(const char *key, void *val, void *arg), void *arg)
{
	size_t i;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key && cb(m->slots[i].key, m->slots[i].val, arg))
			return;
}
