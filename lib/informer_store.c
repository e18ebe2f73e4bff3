/*
 * informer_store.c: the informer's thread-safe object store and indexes.
 *
 * See watch_internal.h for why objects are stored serialized. Writers (the
 * watch thread) take the write lock only to swap pointers; serialization
 * and parsing happen outside the lock.
 */
#include "internal.h"
#include "watch_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct blob {
	int refs; /* atomic */
	size_t len;
	char data[];
} blob;

typedef struct entry {
	blob *obj;
	char **values; /* values[i]: NUL-separated list of index i's values, or NULL */
} entry;

typedef struct index_def {
	char *name;
	peerop__index_fn fn;
	void *payload;
	peerop__map by_value; /* value -> peerop__map (key -> (void *)1) */
} index_def;

struct peerop__store {
	pthread_rwlock_t lock;
	peerop__map objects; /* key -> entry */
	index_def *indexes;
	size_t nindexes;
	size_t bytes;
};

static void blob_release(blob *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

static blob *blob_retain(blob *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

static blob *blob_from_json(const json_t *obj)
{
	size_t len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	blob *b;
	if (len == 0)
		return NULL;
	b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	if (json_dumpb(obj, b->data, len, JSON_COMPACT) != len) {
		free(b);
		return NULL;
	}
	b->data[len] = '\0';
	b->len = len;
	b->refs = 1;
	return b;
}

static int blob_parse(json_t **out, const blob *b)
{
	json_error_t err;
	*out = json_loadb(b->data, b->len, 0, &err);
	if (!*out)
		return peerop__error_set(PEEROP_ENOMEM, "informer store: cannot copy object: %s", err.text);
	return 0;
}

int peerop__store_new(peerop__store **out)
{
	peerop__store *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s)
		return peerop__error_set(PEEROP_ENOMEM, "informer store: out of memory");
	pthread_rwlock_init(&s->lock, NULL);
	*out = s;
	return 0;
}

static void entry_free(peerop__store *s, entry *e)
{
	size_t i;
	if (!e)
		return;
	for (i = 0; i < s->nindexes; i++)
		free(e->values ? e->values[i] : NULL);
	free(e->values);
	blob_release(e->obj);
	free(e);
}

void peerop__store_free(peerop__store *s)
{
	size_t pos = 0, i;
	void *v;
	if (!s)
		return;
	while (peerop__map_next(&s->objects, &pos, NULL, &v))
		entry_free(s, v);
	peerop__map_dispose(&s->objects);
	for (i = 0; i < s->nindexes; i++) {
		peerop__map *m = &s->indexes[i].by_value;
		pos = 0;
		while (peerop__map_next(m, &pos, NULL, &v)) {
			peerop__map_dispose(v);
			free(v);
		}
		peerop__map_dispose(m);
		free(s->indexes[i].name);
	}
	free(s->indexes);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

int peerop__store_add_index(peerop__store *s, const char *name, peerop__index_fn fn, void *payload)
{
	index_def *n;
	size_t i;
	if (!name || !fn)
		return peerop__error_set(PEEROP_EINVAL, "informer index: name and function are required");
	if (peerop__map_count(&s->objects))
		return peerop__error_set(PEEROP_EINVAL, "informer index \"%s\": add indexes before the store is filled", name);
	for (i = 0; i < s->nindexes; i++)
		if (strcmp(s->indexes[i].name, name) == 0)
			return peerop__error_set(PEEROP_EEXISTS, "informer index \"%s\" already exists", name);
	n = realloc(s->indexes, (s->nindexes + 1) * sizeof(*n));
	if (!n)
		return PEEROP_ENOMEM;
	s->indexes = n;
	memset(&n[s->nindexes], 0, sizeof(*n));
	n[s->nindexes].name = strdup(name);
	if (!n[s->nindexes].name)
		return PEEROP_ENOMEM;
	n[s->nindexes].fn = fn;
	n[s->nindexes].payload = payload;
	s->nindexes++;
	return 0;
}

char *peerop__store_key(const json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	peerop__buf b = PEEROP__BUF_INIT;
	if (!name || !*name)
		return NULL;
	if (ns && *ns && (peerop__buf_puts(&b, ns) || peerop__buf_putc(&b, '/'))) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	if (peerop__buf_puts(&b, name)) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	return peerop__buf_detach(&b);
}

/* Collect an index's values for an object as "v1\0v2\0\0". */
typedef struct collect {
	peerop__buf b;
	int failed;
} collect;

static void collect_emit(const char *value, void *ctx)
{
	collect *c = ctx;
	if (!value || c->failed)
		return;
	if (peerop__buf_put(&c->b, value, strlen(value) + 1) != 0)
		c->failed = 1;
}

static int compute_values(peerop__store *s, const json_t *obj, char ***out)
{
	char **values;
	size_t i;
	*out = NULL;
	if (!s->nindexes)
		return 0;
	values = calloc(s->nindexes, sizeof(*values));
	if (!values)
		return PEEROP_ENOMEM;
	for (i = 0; i < s->nindexes; i++) {
		collect c = { PEEROP__BUF_INIT, 0 };
		s->indexes[i].fn(obj, collect_emit, &c, s->indexes[i].payload);
		if (!c.failed && c.b.len && peerop__buf_putc(&c.b, '\0') != 0)
			c.failed = 1;
		if (c.failed) {
			size_t j;
			peerop__buf_dispose(&c.b);
			for (j = 0; j < i; j++)
				free(values[j]);
			free(values);
			return PEEROP_ENOMEM;
		}
		values[i] = peerop__buf_detach(&c.b); /* NULL when no value */
	}
	*out = values;
	return 0;
}

/* Index maintenance runs under the write lock. */
static int index_add(index_def *ix, const char *value, const char *key)
{
	peerop__map *set = peerop__map_get(&ix->by_value, value);
	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set)
			return PEEROP_ENOMEM;
		if (peerop__map_put(&ix->by_value, value, set, NULL) != 0) {
			free(set);
			return PEEROP_ENOMEM;
		}
	}
	return peerop__map_put(set, key, (void *)1, NULL);
}

static void index_remove(index_def *ix, const char *value, const char *key)
{
	peerop__map *set = peerop__map_get(&ix->by_value, value);
	if (!set)
		return;
	peerop__map_remove(set, key);
	if (peerop__map_count(set) == 0) {
		peerop__map_remove(&ix->by_value, value);
		peerop__map_dispose(set);
		free(set);
	}
}

static void unindex(peerop__store *s, const char *key, entry *e)
{
	size_t i;
	const char *v;
	for (i = 0; i < s->nindexes && e->values; i++)
		for (v = e->values[i]; v && *v; v += strlen(v) + 1)
			index_remove(&s->indexes[i], v, key);
}

static int reindex(peerop__store *s, const char *key, entry *e)
{
	size_t i;
	const char *v;
	for (i = 0; i < s->nindexes && e->values; i++)
		for (v = e->values[i]; v && *v; v += strlen(v) + 1)
			if (index_add(&s->indexes[i], v, key) != 0)
				return PEEROP_ENOMEM;
	return 0;
}

int peerop__store_upsert(peerop__store *s, const json_t *obj)
{
	char *key = peerop__store_key(obj);
	entry *e, *old = NULL;
	int rc, taken;

	if (!key)
		return peerop__error_set(PEEROP_EINVAL, "informer store: object has no metadata.name");
	e = calloc(1, sizeof(*e));
	if (!e || !(e->obj = blob_from_json(obj)) || compute_values(s, obj, &e->values) != 0) {
		if (e)
			blob_release(e->obj);
		free(e);
		free(key);
		return peerop__error_set(PEEROP_ENOMEM, "informer store: out of memory storing an object");
	}

	pthread_rwlock_wrlock(&s->lock);
	rc = peerop__map_put(&s->objects, key, e, (void **)&old);
	taken = rc == 0;
	if (taken) {
		if (old) {
			unindex(s, key, old);
			s->bytes -= old->obj->len;
		}
		s->bytes += e->obj->len;
		/* On failure here the object is stored but partly indexed; the
		 * error is returned so the caller can relist. */
		rc = reindex(s, key, e);
	}
	pthread_rwlock_unlock(&s->lock);

	entry_free(s, old);
	if (!taken)
		entry_free(s, e);
	free(key);
	return rc ? peerop__error_set(PEEROP_ENOMEM, "informer store: out of memory indexing an object") : 0;
}

int peerop__store_delete(peerop__store *s, const char *key, json_t **out_last)
{
	entry *e;
	int rc = 0;
	if (out_last)
		*out_last = NULL;
	pthread_rwlock_wrlock(&s->lock);
	e = peerop__map_remove(&s->objects, key);
	if (e) {
		unindex(s, key, e);
		s->bytes -= e->obj->len;
	}
	pthread_rwlock_unlock(&s->lock);
	if (!e)
		return peerop__error_set(PEEROP_ENOTFOUND, "informer store: no object %s", key);
	if (out_last)
		rc = blob_parse(out_last, e->obj);
	entry_free(s, e);
	return rc;
}

int peerop__store_get(peerop__store *s, const char *key, json_t **out)
{
	entry *e;
	blob *b = NULL;
	int rc;
	*out = NULL;
	pthread_rwlock_rdlock(&s->lock);
	e = peerop__map_get(&s->objects, key);
	if (e)
		b = blob_retain(e->obj);
	pthread_rwlock_unlock(&s->lock);
	if (!b)
		return peerop__error_set(PEEROP_ENOTFOUND, "informer store: no object %s", key);
	rc = blob_parse(out, b);
	blob_release(b);
	return rc;
}

/* Take references to the selected blobs under the lock, parse after. */
static int parse_all(blob **blobs, size_t n, json_t **out)
{
	json_t *arr = json_array();
	size_t i;
	int rc = arr ? 0 : PEEROP_ENOMEM;
	for (i = 0; i < n; i++) {
		json_t *o = NULL;
		if (rc == 0 && (rc = blob_parse(&o, blobs[i])) == 0 && json_array_append_new(arr, o) != 0)
			rc = PEEROP_ENOMEM;
		blob_release(blobs[i]);
	}
	free(blobs);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int peerop__store_list(peerop__store *s, const char *ns, json_t **out)
{
	size_t pos = 0, n = 0, nslen = ns ? strlen(ns) : 0;
	const char *key;
	void *v;
	blob **blobs;

	*out = NULL;
	pthread_rwlock_rdlock(&s->lock);
	blobs = malloc((peerop__map_count(&s->objects) + 1) * sizeof(*blobs));
	if (!blobs) {
		pthread_rwlock_unlock(&s->lock);
		return PEEROP_ENOMEM;
	}
	while (peerop__map_next(&s->objects, &pos, &key, &v)) {
		if (ns && (strncmp(key, ns, nslen) != 0 || key[nslen] != '/'))
			continue;
		blobs[n++] = blob_retain(((entry *)v)->obj);
	}
	pthread_rwlock_unlock(&s->lock);
	return parse_all(blobs, n, out);
}

int peerop__store_by_index(peerop__store *s, const char *index, const char *value, json_t **out)
{
	size_t i, pos = 0, n = 0;
	index_def *ix = NULL;
	peerop__map *set;
	const char *key;
	blob **blobs;

	*out = NULL;
	for (i = 0; i < s->nindexes; i++)
		if (strcmp(s->indexes[i].name, index) == 0)
			ix = &s->indexes[i];
	if (!ix)
		return peerop__error_set(PEEROP_ENOTFOUND, "informer: no index named \"%s\"", index);
	pthread_rwlock_rdlock(&s->lock);
	set = peerop__map_get(&ix->by_value, value);
	blobs = malloc(((set ? peerop__map_count(set) : 0) + 1) * sizeof(*blobs));
	if (!blobs) {
		pthread_rwlock_unlock(&s->lock);
		return PEEROP_ENOMEM;
	}
	while (set && peerop__map_next(set, &pos, &key, NULL)) {
		entry *e = peerop__map_get(&s->objects, key);
		if (e)
			blobs[n++] = blob_retain(e->obj);
	}
	pthread_rwlock_unlock(&s->lock);
	return parse_all(blobs, n, out);
}

int peerop__store_keys(peerop__store *s, json_t **out)
{
	json_t *arr = json_array();
	size_t pos = 0;
	const char *key;
	int rc = arr ? 0 : PEEROP_ENOMEM;
	pthread_rwlock_rdlock(&s->lock);
	while (rc == 0 && peerop__map_next(&s->objects, &pos, &key, NULL))
		if (json_array_append_new(arr, json_string(key)) != 0)
			rc = PEEROP_ENOMEM;
	pthread_rwlock_unlock(&s->lock);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

size_t peerop__store_count(peerop__store *s)
{
	size_t n;
	pthread_rwlock_rdlock(&s->lock);
	n = peerop__map_count(&s->objects);
	pthread_rwlock_unlock(&s->lock);
	return n;
}

size_t peerop__store_bytes(peerop__store *s)
{
	size_t n;
	pthread_rwlock_rdlock(&s->lock);
	n = s->bytes;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

/* ---- built-in indexes ---------------------------------------------------- */

void peerop__index_controller_uid(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload)
{
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	json_t *ref;
	size_t i;
	(void)payload;
	json_array_foreach(refs, i, ref) {
		if (json_is_true(json_object_get(ref, "controller"))) {
			const char *uid = json_string_value(json_object_get(ref, "uid"));
			if (uid)
				emit(uid, ctx);
			return; /* at most one controller */
		}
	}
}

void peerop__index_label(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload)
{
	const char *label = payload;
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	const char *v = json_string_value(json_object_get(labels, label));
	if (v)
		emit(v, ctx);
}

void peerop__index_namespace(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload)
{
	const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	(void)payload;
	if (ns)
		emit(ns, ctx);
}
