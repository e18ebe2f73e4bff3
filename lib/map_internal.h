/*
 * map_internal.h: a string-keyed hash map (open addressing, linear probing,
 * backward-shift deletion: no tombstones, so lookups stay short however
 * many deletions a long-running watch makes).
 *
 * Keys are copied; values are opaque pointers the caller owns. Not
 * thread-safe: callers lock around it.
 */
#ifndef PEEROP_MAP_INTERNAL_H
#define PEEROP_MAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct peerop__map_slot {
	char *key;      /* NULL: empty */
	uint64_t hash;
	void *value;
} peerop__map_slot;

typedef struct peerop__map {
	peerop__map_slot *slots;
	size_t cap;     /* power of two, or 0 */
	size_t count;
	uint64_t seed;  /* per map, so that hostile keys cannot be precomputed */
} peerop__map;

#define PEEROP__MAP_INIT { NULL, 0, 0, 0 }

void *peerop__map_get(const peerop__map *m, const char *key);
/* Insert or replace. *old (if not NULL) receives the replaced value or NULL.
 * Returns 0 or PEEROP_ENOMEM (the map is unchanged then). */
int peerop__map_put(peerop__map *m, const char *key, void *value, void **old);
/* Remove; returns the removed value or NULL. */
void *peerop__map_remove(peerop__map *m, const char *key);
/* Iterate: start with *pos = 0; returns 0 at the end. Do not modify the map
 * while iterating. */
int peerop__map_next(const peerop__map *m, size_t *pos, const char **key, void **value);
size_t peerop__map_count(const peerop__map *m);
/* Free keys and slots; values are the caller's (iterate first to free them). */
void peerop__map_dispose(peerop__map *m);

#endif
