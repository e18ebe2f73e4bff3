/*
 * watch_internal.h: private declarations of the watch-stream module.
 */
#ifndef PEEROP_WATCH_INTERNAL_H
#define PEEROP_WATCH_INTERNAL_H

#include <jansson.h>
#include "internal.h"

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

#endif
