/*
 * watch_internal.h: private declarations of the watch-stream module.
 */
#ifndef PEEROP_WATCH_INTERNAL_H
#define PEEROP_WATCH_INTERNAL_H

#include <jansson.h>
#include "internal.h"
#include "peerop/informer.h"

#define PEEROP__WATCH_DEFAULT_MAX_EVENT ((size_t)16 << 20)

/* ---- stream decoder (watch_decoder.c) ------------------------------------ */
typedef enum peerop__watch_raw_type {
	PEEROP__RAW_ADDED,
	PEEROP__RAW_MODIFIED,
	PEEROP__RAW_DELETED,
	PEEROP__RAW_BOOKMARK,
	PEEROP__RAW_ERROR
} peerop__watch_raw_type;

/* Called once per event; object is borrowed for the call. A nonzero return
 * stops decoding and is returned by feed/finish. */
typedef int (*peerop__watch_event_fn)(peerop__watch_raw_type type, json_t *object, void *arg);

typedef struct peerop__watch_decoder {
	peerop__buf pending;        /* start of an event whose newline has not come yet */
	size_t max_event;           /* bytes */
	unsigned long long events;  /* events delivered so far (for messages) */
	peerop__watch_event_fn fn;
	void *arg;
} peerop__watch_decoder;

void peerop__watch_decoder_init(peerop__watch_decoder *d, size_t max_event,
	peerop__watch_event_fn fn, void *arg);
/* Feed bytes as they arrive. Errors: PEEROP_EPROTO (malformed event, with
 * its number and the parser's message), PEEROP_ETOOLARGE, or the callback's
 * own nonzero return. After an error, reset before feeding a new stream. */
int peerop__watch_decoder_feed(peerop__watch_decoder *d, const char *data, size_t len);
/* The stream ended: parse a final event that had no newline, or report
 * PEEROP_ETRUNCATED if the stream stopped in the middle of one. */
int peerop__watch_decoder_finish(peerop__watch_decoder *d);
void peerop__watch_decoder_reset(peerop__watch_decoder *d);
void peerop__watch_decoder_dispose(peerop__watch_decoder *d);

/* ---- object store (informer_store.c) --------------------------------------
 * A thread-safe map from "namespace/name" (or "name" when cluster-scoped) to
 * an object, with secondary indexes. Objects are kept as compact serialized
 * JSON in immutable, reference-counted blobs: memory stays close to the
 * size of the JSON (a parsed json_t tree costs several times more), readers
 * parse outside the lock, and every caller gets its own copy to mutate. */
typedef struct peerop__store peerop__store;

/* An index function calls emit once per value the object has for this
 * index (none, one or several). */
typedef peerop_informer_index_emit peerop__index_emit;
typedef peerop_informer_index_cb peerop__index_fn;

int peerop__store_new(peerop__store **out);
void peerop__store_free(peerop__store *s);
/* Add an index; only before the first upsert. */
int peerop__store_add_index(peerop__store *s, const char *name, peerop__index_fn fn, void *payload);
/* The store key of an object: "ns/name" or "name". Caller frees. */
char *peerop__store_key(const json_t *obj);
/* Insert or replace the object (borrowed) under its key. */
int peerop__store_upsert(peerop__store *s, const json_t *obj);
/* Remove by key; *out_last (optional) receives the stored object. ENOTFOUND if absent. */
int peerop__store_delete(peerop__store *s, const char *key, json_t **out_last);
int peerop__store_get(peerop__store *s, const char *key, json_t **out);
/* A JSON array of copies: every object (ns NULL), or those of one namespace. */
int peerop__store_list(peerop__store *s, const char *ns, json_t **out);
/* A JSON array of copies of the objects whose index has this value. */
int peerop__store_by_index(peerop__store *s, const char *index, const char *value, json_t **out);
/* Keys only: a JSON array of strings. */
int peerop__store_keys(peerop__store *s, json_t **out);
size_t peerop__store_count(peerop__store *s);
/* Bytes of serialized JSON held (for the memory benchmark). */
size_t peerop__store_bytes(peerop__store *s);

/* Built-in index functions. */
void peerop__index_controller_uid(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload);
/* payload: the label key (a string that outlives the store). */
void peerop__index_label(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload);
void peerop__index_namespace(const json_t *obj, peerop__index_emit emit, void *ctx, void *payload);

#endif
