/*
 * watch_decoder.c: splits a watch stream into events and parses each once.
 *
 * The API server writes one JSON object per event followed by '\n', but
 * chunk boundaries fall anywhere. A raw newline cannot occur inside a JSON
 * string (it must be escaped), so a '\n' always ends a line of whole
 * events: we find it with memchr and hand the line to jansson exactly once.
 * Only the tail of an incomplete line is copied into the pending buffer;
 * bytes are never rescanned. A line holding several objects without
 * newlines between them is parsed object by object (JSON_DISABLE_EOF_CHECK
 * reports how much each one consumed).
 */
#include "internal.h"
#include "watch_internal.h"

#include <stdlib.h>
#include <string.h>

void peerop__watch_decoder_init(peerop__watch_decoder *d, size_t max_event,
	peerop__watch_event_fn fn, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->max_event = max_event ? max_event : PEEROP__WATCH_DEFAULT_MAX_EVENT;
	d->fn = fn;
	d->arg = arg;
}

void peerop__watch_decoder_reset(peerop__watch_decoder *d)
{
	peerop__buf_clear(&d->pending);
	d->events = 0; /* messages count events within one stream */
	/* Give back a buffer that once held a huge event. */
	if (d->pending.cap > (1u << 20))
		peerop__buf_dispose(&d->pending);
}

void peerop__watch_decoder_dispose(peerop__watch_decoder *d)
{
	peerop__buf_dispose(&d->pending);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const struct {
	const char *name;
	peerop__watch_raw_type type;
} type_names[] = {
	{ "ADDED", PEEROP__RAW_ADDED },
	{ "MODIFIED", PEEROP__RAW_MODIFIED },
	{ "DELETED", PEEROP__RAW_DELETED },
	{ "BOOKMARK", PEEROP__RAW_BOOKMARK },
	{ "ERROR", PEEROP__RAW_ERROR },
};

/* Turn one parsed value into an event, or report why it is not one. */
static int deliver(peerop__watch_decoder *d, json_t *ev)
{
	json_t *type, *obj;
	const char *t;
	size_t i;
	int rc;

	if (!json_is_object(ev))
		return peerop__error_set(PEEROP_EPROTO, "watch event #%llu is not a JSON object",
			(unsigned long long)d->events + 1);
	type = json_object_get(ev, "type");
	obj = json_object_get(ev, "object");
	if (!json_is_string(type))
		return peerop__error_set(PEEROP_EPROTO, "watch event #%llu has no \"type\" string",
			(unsigned long long)d->events + 1);
	if (!json_is_object(obj))
		return peerop__error_set(PEEROP_EPROTO, "watch event #%llu has no \"object\"",
			(unsigned long long)d->events + 1);
	t = json_string_value(type);
	for (i = 0; i < PEEROP__ARRAY_SIZE(type_names); i++) {
		if (strcmp(t, type_names[i].name) == 0) {
			d->events++;
			rc = d->fn(type_names[i].type, obj, d->arg);
			return rc;
		}
	}
	return peerop__error_set(PEEROP_EPROTO, "watch event #%llu has unknown type \"%.32s\"",
		(unsigned long long)d->events + 1, t);
}

static int parse_line(peerop__watch_decoder *d, const char *p, size_t len)
{
	while (len) {
		json_error_t err;
		json_t *ev;
		int rc;

		while (len && is_ws(*p)) {
			p++;
			len--;
		}
		if (!len)
			break;
		if (len > d->max_event)
			return peerop__error_set(PEEROP_ETOOLARGE,
				"watch event #%llu is %zu bytes, over the limit of %zu",
				(unsigned long long)d->events + 1, len, d->max_event);
		ev = json_loadb(p, len, JSON_DISABLE_EOF_CHECK, &err);
		if (!ev)
			return peerop__error_set(PEEROP_EPROTO, "watch event #%llu is malformed JSON: %s (byte %d of the event)",
				(unsigned long long)d->events + 1, err.text, err.position);
		if (err.position <= 0 || (size_t)err.position > len) {
			json_decref(ev);
			return peerop__error_set(PEEROP_EPROTO, "watch event #%llu: decoder position out of range",
				(unsigned long long)d->events + 1);
		}
		rc = deliver(d, ev);
		json_decref(ev);
		if (rc)
			return rc;
		p += err.position;
		len -= (size_t)err.position;
	}
	return 0;
}

int peerop__watch_decoder_feed(peerop__watch_decoder *d, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take;
		int rc;

		if (!nl) {
			if (d->pending.len + len > d->max_event)
				return peerop__error_set(PEEROP_ETOOLARGE,
					"watch event #%llu exceeds the limit of %zu bytes",
					(unsigned long long)d->events + 1, d->max_event);
			return peerop__buf_put(&d->pending, data, len);
		}
		take = (size_t)(nl - data);
		if (d->pending.len == 0) {
			/* The whole line is in this chunk: parse it in place. */
			rc = parse_line(d, data, take);
		} else {
			if (d->pending.len + take > d->max_event)
				return peerop__error_set(PEEROP_ETOOLARGE,
					"watch event #%llu exceeds the limit of %zu bytes",
					(unsigned long long)d->events + 1, d->max_event);
			if ((rc = peerop__buf_put(&d->pending, data, take)) != 0)
				return rc;
			rc = parse_line(d, d->pending.ptr, d->pending.len);
			peerop__buf_clear(&d->pending);
		}
		if (rc)
			return rc;
		data = nl + 1;
		len -= take + 1;
	}
	return 0;
}

int peerop__watch_decoder_finish(peerop__watch_decoder *d)
{
	size_t i;
	int rc;
	for (i = 0; i < d->pending.len; i++)
		if (!is_ws(d->pending.ptr[i]))
			break;
	if (i == d->pending.len) {
		peerop__buf_clear(&d->pending);
		return 0;
	}
	/* The stream ended without a final newline: a complete last event is
	 * still an event; a partial one means the connection dropped mid-event. */
	rc = parse_line(d, d->pending.ptr, d->pending.len);
	peerop__buf_clear(&d->pending);
	if (rc == PEEROP_EPROTO)
		return peerop__error_set(PEEROP_ETRUNCATED,
			"watch stream ended in the middle of event #%llu",
			(unsigned long long)d->events + 1);
	return rc;
}
