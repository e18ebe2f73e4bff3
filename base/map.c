/* map.c: the hash map of base.h. */
#include "base.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, seeded, then a final avalanche (splitmix64) so that the low bits
 * used for the slot index depend on every input byte. */
static uint64_t hash_key(uint64_t seed, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static size_t find_slot(const peerop__map *m, const char *key, uint64_t h, int *found)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;
	for (;;) {
		peerop__map_slot *s = &m->slots[i];
		if (!s->key) {
			*found = 0;
			return i;
		}
		if (s->hash == h && strcmp(s->key, key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

void *peerop__map_get(const peerop__map *m, const char *key)
{
	int found;
	size_t i;
	if (!m->count)
		return NULL;
	i = find_slot(m, key, hash_key(m->seed, key), &found);
	return found ? m->slots[i].value : NULL;
}

static int resize(peerop__map *m, size_t cap)
{
	peerop__map_slot *old = m->slots, *slots;
	size_t oldcap = m->cap, i;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return PEEROP_ENOMEM;
	m->slots = slots;
	m->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key) {
			size_t j = (size_t)old[i].hash & (cap - 1);
			while (slots[j].key)
				j = (j + 1) & (cap - 1);
			slots[j] = old[i];
		}
	}
	free(old);
	return 0;
}

int peerop__map_put(peerop__map *m, const char *key, void *value, void **old)
{
	uint64_t h;
	size_t i;
	int found;
	char *k;

	if (old)
		*old = NULL;
	if (!m->slots) {
		if (!m->seed)
			m->seed = peerop__rand_below(UINT64_MAX) | 1;
		if (resize(m, 16) != 0)
			return PEEROP_ENOMEM;
	} else if ((m->count + 1) * 4 > m->cap * 3) {
		/* keep the load under 3/4: linear probing degrades sharply above it */
		if (resize(m, m->cap * 2) != 0)
			return PEEROP_ENOMEM;
	}
	h = hash_key(m->seed, key);
	i = find_slot(m, key, h, &found);
	if (found) {
		if (old)
			*old = m->slots[i].value;
		m->slots[i].value = value;
		return 0;
	}
	k = strdup(key);
	if (!k)
		return PEEROP_ENOMEM;
	m->slots[i].key = k;
	m->slots[i].hash = h;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

void *peerop__map_remove(peerop__map *m, const char *key)
{
	size_t mask, i, j;
	int found;
	void *value;

	if (!m->count)
		return NULL;
	i = find_slot(m, key, hash_key(m->seed, key), &found);
	if (!found)
		return NULL;
	value = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->count--;
	/* Backward-shift: move later members of the probe run into the hole
	 * when their home slot is at or before it (cyclically). */
	mask = m->cap - 1;
	j = i;
	for (;;) {
		size_t home;
		j = (j + 1) & mask;
		if (!m->slots[j].key)
			break;
		home = (size_t)m->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return value;
}

int peerop__map_next(const peerop__map *m, size_t *pos, const char **key, void **value)
{
	while (*pos < m->cap) {
		peerop__map_slot *s = &m->slots[(*pos)++];
		if (s->key) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			return 1;
		}
	}
	return 0;
}

size_t peerop__map_count(const peerop__map *m)
{
	return m->count;
}

void peerop__map_dispose(peerop__map *m)
{
	size_t i;
	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

void peerop__map_each(const peerop__map *m, int (*cb)(const char *key, void *value, void *arg), void *arg)
{
	size_t i;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key && cb(m->slots[i].key, m->slots[i].value, arg))
			return;
}
