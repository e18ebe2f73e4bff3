/*
 * log.c: the process-wide log callback, and a ready-made stdio sink.
 *
 * The callback and payload are read under a read lock and the lock is
 * released before the call: never hold a lock while calling user code.
 * The level is an atomic so that disabled levels cost one load.
 */
#include "base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static peerop_log_cb log_cb;
static void *log_payload;
static int log_level = PEEROP_LOG_OFF;

PEEROP_EXTERN(void) peerop_log_set_callback(peerop_log_cb cb, peerop_log_level min_level, void *payload)
{
	pthread_rwlock_wrlock(&log_lock);
	log_cb = cb;
	log_payload = payload;
	__atomic_store_n(&log_level, cb ? (int)min_level : (int)PEEROP_LOG_OFF, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&log_lock);
}

PEEROP_EXTERN(void) peerop_log_set_level(peerop_log_level min_level)
{
	pthread_rwlock_wrlock(&log_lock);
	__atomic_store_n(&log_level, log_cb ? (int)min_level : (int)PEEROP_LOG_OFF, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&log_lock);
}

int peerop__log_enabled(peerop_log_level level)
{
	return level < PEEROP_LOG_OFF && (int)level >= __atomic_load_n(&log_level, __ATOMIC_ACQUIRE);
}

PEEROP_EXTERN(int) peerop_log_enabled(peerop_log_level level)
{
	return peerop__log_enabled(level);
}

void peerop__logv(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, va_list ap)
{
	peerop_log_cb cb;
	void *payload;
	peerop_log_record rec;
	char small[512];
	char *msg = small;
	va_list ap2;
	int n;

	if (!peerop__log_enabled(level))
		return;
	pthread_rwlock_rdlock(&log_lock);
	cb = log_cb;
	payload = log_payload;
	pthread_rwlock_unlock(&log_lock);
	if (!cb)
		return;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
			msg = big;
		}
	}
	va_end(ap2);

	rec.level = level;
	rec.component = component ? component : "peerop";
	rec.message = msg;
	rec.fields = fields;
	rec.nfields = fields ? nfields : 0;
	rec.time_ms = peerop__wall_ms();
	cb(&rec, payload);
	if (msg != small)
		free(msg);
}

void peerop__log(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, ...)
{
	va_list ap;
	if (!peerop__log_enabled(level))
		return;
	va_start(ap, fmt);
	peerop__logv(level, component, fields, nfields, fmt, ap);
	va_end(ap);
}

PEEROP_EXTERN(void) peerop_log_emit(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, ...)
{
	va_list ap;
	if (!peerop__log_enabled(level))
		return;
	va_start(ap, fmt);
	peerop__logv(level, component, fields, nfields, fmt, ap);
	va_end(ap);
}

static const char *level_names[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF" };

PEEROP_EXTERN(const char *) peerop_log_level_name(peerop_log_level level)
{
	if ((unsigned)level < PEEROP__ARRAY_SIZE(level_names))
		return level_names[level];
	return "?";
}

PEEROP_EXTERN(int) peerop_log_level_parse(peerop_log_level *out, const char *name)
{
	size_t i;
	if (!out || !name)
		return peerop__error_set(PEEROP_EINVAL, "log level: missing argument");
	for (i = 0; i < PEEROP__ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(name, level_names[i]) == 0 ||
		    (i == PEEROP_LOG_WARN && strcasecmp(name, "warning") == 0)) {
			*out = (peerop_log_level)i;
			return 0;
		}
	}
	return peerop__error_set(PEEROP_EINVAL,
		"unknown log level \"%.64s\" (expected trace, debug, info, warn, error or off)", name);
}

/* A value needs quotes in the text format when it is empty or holds a space,
 * a quote or '=': keeps `key=value` pairs parseable (logfmt). */
static int needs_quotes(const char *v)
{
	if (!*v)
		return 1;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20)
			return 1;
	return 0;
}

/* The record as one line into b, with a newline when nl. Pieces are
 * appended rather than printf'd: this runs once per ping. */
static int format_into(peerop__buf *b, peerop_log_format format, const peerop_log_record *rec, int nl)
{
	const char *msg = rec->message ? rec->message : "";
	char ts[40];
	size_t i;
	int rc = 0;

	peerop__format_time_ms(ts, sizeof(ts), rec->time_ms);
	rc |= peerop__buf_grow(b, strlen(msg) + 64);
	if (format == PEEROP_LOG_FORMAT_JSON) {
		static const char *lower[] = { "trace", "debug", "info", "warn", "error", "off" };
		const char *lv = (unsigned)rec->level < PEEROP__ARRAY_SIZE(lower) ? lower[rec->level] : "?";
		rc |= peerop__buf_puts(b, "{\"time\":\"");
		rc |= peerop__buf_puts(b, ts);
		rc |= peerop__buf_puts(b, "\",\"level\":\"");
		rc |= peerop__buf_puts(b, lv);
		rc |= peerop__buf_puts(b, "\",\"component\":\"");
		rc |= peerop__buf_put_json_escaped(b, rec->component ? rec->component : "");
		rc |= peerop__buf_puts(b, "\",\"msg\":\"");
		rc |= peerop__buf_put_json_escaped(b, msg);
		rc |= peerop__buf_putc(b, '"');
		for (i = 0; i < rec->nfields; i++) {
			if (!rec->fields[i].key)
				continue;
			rc |= peerop__buf_puts(b, ",\"");
			rc |= peerop__buf_put_json_escaped(b, rec->fields[i].key);
			rc |= peerop__buf_puts(b, "\":\"");
			rc |= peerop__buf_put_json_escaped(b, rec->fields[i].value ? rec->fields[i].value : "");
			rc |= peerop__buf_putc(b, '"');
		}
		rc |= peerop__buf_putc(b, '}');
	} else {
		/* "%s %-5s %s": the level padded to five columns */
		const char *lv = peerop_log_level_name(rec->level);
		size_t pad = strlen(lv) < 5 ? 5 - strlen(lv) : 0;
		rc |= peerop__buf_puts(b, ts);
		rc |= peerop__buf_putc(b, ' ');
		rc |= peerop__buf_puts(b, lv);
		rc |= peerop__buf_put(b, "     ", pad);
		rc |= peerop__buf_putc(b, ' ');
		rc |= peerop__buf_puts(b, msg);
		for (i = 0; i < rec->nfields; i++) {
			const char *v = rec->fields[i].value ? rec->fields[i].value : "";
			if (!rec->fields[i].key)
				continue;
			rc |= peerop__buf_putc(b, ' ');
			rc |= peerop__buf_puts(b, rec->fields[i].key);
			rc |= peerop__buf_putc(b, '=');
			if (needs_quotes(v)) {
				rc |= peerop__buf_putc(b, '"');
				rc |= peerop__buf_put_json_escaped(b, v);
				rc |= peerop__buf_putc(b, '"');
			} else {
				rc |= peerop__buf_puts(b, v);
			}
		}
	}
	if (nl)
		rc |= peerop__buf_putc(b, '\n');
	return rc;
}

PEEROP_EXTERN(int) peerop_log_format_record(char **out, peerop_log_format format,
	const peerop_log_record *rec)
{
	peerop__buf b = PEEROP__BUF_INIT;

	if (!out || !rec)
		return peerop__error_set(PEEROP_EINVAL, "log format: missing argument");
	*out = NULL;
	if (format_into(&b, format, rec, 0) != 0) {
		peerop__buf_dispose(&b);
		return peerop__error_set(PEEROP_ENOMEM, "log format: out of memory");
	}
	*out = peerop__buf_detach(&b);
	return 0;
}

/* Batches, per thread: how deep, and the stream written without a flush. */
static __thread int batch_depth;
static __thread FILE *batch_stream;

void peerop__log_batch_begin(void)
{
	batch_depth++;
}

void peerop__log_batch_end(void)
{
	if (batch_depth > 0 && --batch_depth == 0 && batch_stream) {
		FILE *fp = batch_stream;
		batch_stream = NULL;
		fflush(fp);
	}
}

PEEROP_EXTERN(void) peerop_log_stream_cb(const peerop_log_record *rec, void *payload)
{
	const peerop_log_stream *s = payload;
	peerop__buf line = PEEROP__BUF_INIT;
	FILE *fp = (s && s->stream) ? s->stream : stderr;

	if (!rec || format_into(&line, s ? s->format : PEEROP_LOG_FORMAT_TEXT, rec, 1) != 0) {
		peerop__buf_dispose(&line);
		return;
	}
	/* Within a batch the flush waits for the batch's end; lines pending
	 * on another stream are flushed first (outside this stream's lock). */
	if (batch_depth > 0 && batch_stream && batch_stream != fp) {
		FILE *other = batch_stream;
		batch_stream = NULL;
		fflush(other);
	}
	/* One locked write per line so that threads never interleave. */
	flockfile(fp);
	fwrite(line.ptr, 1, line.len, fp);
	if (batch_depth > 0)
		batch_stream = fp;
	else
		fflush(fp);
	funlockfile(fp);
	peerop__buf_dispose(&line);
}
