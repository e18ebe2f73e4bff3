/**
 * @file peerop/log.h
 * @brief Logging through a callback the program installs.
 *
 * The library never writes to stdout or stderr by itself. A program installs
 * one callback with peerop_log_set_callback(); every record carries a level,
 * the component that produced it, a message and key/value fields. Bearer
 * tokens, client keys and other secrets never appear in a record.
 *
 * peerop_log_stream_cb() is a ready-made callback writing text or JSON lines
 * to a stdio stream, for programs that need nothing more.
 */
#ifndef PEEROP_LOG_H
#define PEEROP_LOG_H

#include <stdio.h>
#include <peerop/common.h>

PEEROP_BEGIN_DECL

/** Severity, in increasing order. */
typedef enum peerop_log_level {
	PEEROP_LOG_TRACE = 0,
	PEEROP_LOG_DEBUG = 1,
	PEEROP_LOG_INFO  = 2,
	PEEROP_LOG_WARN  = 3,
	PEEROP_LOG_ERROR = 4,
	PEEROP_LOG_OFF   = 5  /**< as a minimum level: log nothing */
} peerop_log_level;

/** One structured field of a record. Both strings are borrowed. */
typedef struct peerop_log_field {
	const char *key;
	const char *value;
} peerop_log_field;

/** A log record. Everything in it is borrowed for the duration of the callback. */
typedef struct peerop_log_record {
	peerop_log_level level;
	const char *component;         /**< "kube", "watch", "peer", "httpd"... */
	const char *message;           /**< one line, no trailing newline */
	const peerop_log_field *fields;
	size_t nfields;
	long long time_ms;             /**< wall-clock time, milliseconds since the epoch */
} peerop_log_record;

/**
 * The log callback. It may be called from any of the library's threads,
 * concurrently; it must not call back into the log API.
 */
typedef void (*peerop_log_cb)(const peerop_log_record *record, void *payload);

/**
 * Install the process-wide log callback.
 *
 * Set it once at start-up, before creating handles: records produced on
 * other threads while it changes may go to either callback.
 *
 * @param cb the callback, or NULL to discard every record
 * @param min_level records below this level are not produced at all
 * @param payload passed to every call of cb
 */
PEEROP_EXTERN(void) peerop_log_set_callback(peerop_log_cb cb, peerop_log_level min_level, void *payload);

/** Change the minimum level of the installed callback. */
PEEROP_EXTERN(void) peerop_log_set_level(peerop_log_level min_level);

/** True when a record at this level would reach the callback. */
PEEROP_EXTERN(int) peerop_log_enabled(peerop_log_level level);

/**
 * Produce a record, as the library does. For programs that want their own
 * messages in the same stream and format.
 *
 * @param fields may be NULL when nfields is 0
 */
PEEROP_EXTERN(void) peerop_log_emit(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, ...) PEEROP_FORMAT(5, 6);

/** Line formats of peerop_log_stream_cb(). */
typedef enum peerop_log_format {
	PEEROP_LOG_FORMAT_TEXT = 0, /**< `2026-01-02T03:04:05.678Z INFO  message key=value` */
	PEEROP_LOG_FORMAT_JSON = 1  /**< one JSON object per line: time, level, component, msg, fields */
} peerop_log_format;

/** The payload of peerop_log_stream_cb(). */
typedef struct peerop_log_stream {
	FILE *stream;              /**< where lines go; borrowed */
	peerop_log_format format;
} peerop_log_stream;

/**
 * A ready-made callback: writes each record as one line to a stdio stream
 * and flushes it. Lines from concurrent threads never interleave. Lines the
 * library logs in a burst on one of its threads (the replies of one
 * wake-up of the pinger, up to a thousand lines) are flushed together at
 * the end of the burst, before that thread waits again.
 *
 * @param payload a peerop_log_stream
 */
PEEROP_EXTERN(void) peerop_log_stream_cb(const peerop_log_record *record, void *payload);

/**
 * Format a record as one line (without the newline).
 *
 * @param out receives a string to release with peerop_free()
 * @return 0 or PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_log_format_record(char **out, peerop_log_format format,
	const peerop_log_record *record);

/** Parse "trace", "debug", "info", "warn", "error" or "off". @return 0 or PEEROP_EINVAL */
PEEROP_EXTERN(int) peerop_log_level_parse(peerop_log_level *out, const char *name);

/** "TRACE", "DEBUG", "INFO", "WARN", "ERROR" or "OFF". */
PEEROP_EXTERN(const char *) peerop_log_level_name(peerop_log_level level);

PEEROP_END_DECL

#endif /* PEEROP_LOG_H */
