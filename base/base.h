/*
 * base.h: the internal base library (libpeerop-base.la): errors, logging,
 * buffers, clocks and small utilities, condition variables, the hash map.
 *
 * Both the library (lib/) and the local control plane (devcluster/) link
 * it; it depends on nothing but libc, pthreads and the public headers (for
 * the error codes and log levels it implements). Nothing here is exported:
 * non-static names start with peerop__, the objects are compiled with
 * -fvisibility=hidden, and libpeerop.so is linked with
 * -export-symbols-regex '^peerop_[a-z]'. The public functions it
 * implements (peerop_error_*, peerop_log_*) are declared PEEROP_EXTERN in
 * include/peerop/ and exported from libpeerop.so alone.
 */
#ifndef PEEROP_BASE_H
#define PEEROP_BASE_H

#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "peerop/peerop.h"

#define PEEROP__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PEEROP__UNUSED(x) ((void)(x))

/* ---- errors (error.c) ---------------------------------------------------
 * Record the detail of a failure on this thread and return code, so a
 * failing path reads `return peerop__error_set(PEEROP_ENOENT, "...", ...);`.
 * Messages must never carry a secret. */
int peerop__error_set(int code, const char *fmt, ...) PEEROP_FORMAT(2, 3);
int peerop__error_setv(int code, const char *fmt, va_list ap) PEEROP_FORMAT(2, 0);
/* As above, with the HTTP status and the Kubernetes Status reason. */
int peerop__error_set_http(int code, int http_status, const char *reason,
	const char *fmt, ...) PEEROP_FORMAT(4, 5);
/* Prefix the current message with more context ("kubeconfig /x: " + old). */
void peerop__error_prefix(const char *fmt, ...) PEEROP_FORMAT(1, 2);

/* ---- logging (log.c) ----------------------------------------------------- */
int peerop__log_enabled(peerop_log_level level);
void peerop__log(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, ...) PEEROP_FORMAT(5, 6);
void peerop__logv(peerop_log_level level, const char *component,
	const peerop_log_field *fields, size_t nfields, const char *fmt, va_list ap) PEEROP_FORMAT(5, 0);
/* A burst of lines logged on one thread (the replies of one wake-up of the
 * pinger) reaches a peerop_log_stream_cb() stream with one flush at the
 * end of the burst instead of one per line. Nestable, per thread; every
 * begin needs its end, which flushes. */
void peerop__log_batch_begin(void);
void peerop__log_batch_end(void);
#define peerop__debug(comp, ...) \
	do { if (peerop__log_enabled(PEEROP_LOG_DEBUG)) peerop__log(PEEROP_LOG_DEBUG, comp, NULL, 0, __VA_ARGS__); } while (0)
#define peerop__info(comp, ...)  peerop__log(PEEROP_LOG_INFO, comp, NULL, 0, __VA_ARGS__)
#define peerop__warn(comp, ...)  peerop__log(PEEROP_LOG_WARN, comp, NULL, 0, __VA_ARGS__)
#define peerop__errlog(comp, ...) peerop__log(PEEROP_LOG_ERROR, comp, NULL, 0, __VA_ARGS__)

/* ---- growable byte buffer (buf.c) ----------------------------------------
 * Always NUL-terminated when ptr is not NULL. A failed append leaves the
 * contents as they were and returns PEEROP_ENOMEM. A buffer with a limit
 * refuses (PEEROP_ETOOLARGE) to grow past it. */
typedef struct peerop__buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unlimited */
} peerop__buf;
#define PEEROP__BUF_INIT { NULL, 0, 0, 0 }
int peerop__buf_grow(peerop__buf *b, size_t extra);
int peerop__buf_put(peerop__buf *b, const void *data, size_t len);
int peerop__buf_puts(peerop__buf *b, const char *s);
int peerop__buf_putc(peerop__buf *b, char c);
int peerop__buf_printf(peerop__buf *b, const char *fmt, ...) PEEROP_FORMAT(2, 3);
int peerop__buf_vprintf(peerop__buf *b, const char *fmt, va_list ap) PEEROP_FORMAT(2, 0);
/* Append s percent-encoded for a URL query or path segment (RFC 3986 unreserved kept). */
int peerop__buf_put_urlencoded(peerop__buf *b, const char *s);
/* Append s as the inside of a JSON string (no quotes). */
int peerop__buf_put_json_escaped(peerop__buf *b, const char *s);
void peerop__buf_consume(peerop__buf *b, size_t n); /* drop the first n bytes */
void peerop__buf_clear(peerop__buf *b);             /* len = 0, keep memory */
char *peerop__buf_detach(peerop__buf *b);           /* caller owns; buffer reset */
void peerop__buf_dispose(peerop__buf *b);

/* ---- small utilities (util.c) ------------------------------------------- */
uint64_t peerop__now_ms(void);        /* CLOCK_MONOTONIC, milliseconds */
uint64_t peerop__now_us(void);        /* CLOCK_MONOTONIC, microseconds */
long long peerop__wall_ms(void);      /* CLOCK_REALTIME, ms since the epoch */
/* Uniform random in [0, n) from a per-thread xorshift seeded from getrandom(). */
uint64_t peerop__rand_below(uint64_t n);
/* base + a uniform jitter of up to +/- fraction*base. */
uint64_t peerop__jitter(uint64_t base, double fraction);
char *peerop__strdup(const char *s);  /* NULL-safe */
char *peerop__strndup(const char *s, size_t n);
/* Read a whole file. limit 0 means 64 MiB. Sets the error (ENOENT, EIO,
 * ETOOLARGE) naming the path. */
int peerop__read_file(char **out, size_t *out_len, const char *path, size_t limit);
/* Format an RFC 3339 UTC timestamp with milliseconds into buf (>= 32 bytes). */
void peerop__format_time_ms(char *buf, size_t size, long long wall_ms);
/* Sleep, restarting after signals. */
void peerop__sleep_ms(uint64_t ms);

/* ---- condition variables on CLOCK_MONOTONIC (cond.c) ---------------- */
#include <pthread.h>
int peerop__cond_init_monotonic(pthread_cond_t *cond);
/* Wait at most ms; PEEROP_ETIMEOUT when the time ran out, else 0 (a
 * wake-up, perhaps spurious: callers re-check their predicate). */
int peerop__cond_timedwait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t ms);
/* Join a started thread exactly once, whichever of several stoppers comes
 * first (the others wait for it); a no-op from the thread itself or when
 * it never started. joined is guarded by join_lock. */
void peerop__join_once(pthread_t thread, int started, pthread_mutex_t *join_lock, int *joined);

/* ---- hash map (map.c) ----------------------------------------------------
 * A string-keyed hash map (open addressing, linear probing,
 * backward-shift deletion: no tombstones, so lookups stay short however
 * many deletions a long-running watch makes).
 *
 * Keys are copied; values are opaque pointers the caller owns. Not
 * thread-safe: callers lock around it. */
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
/* Visit every entry in no particular order; cb returns nonzero to stop.
 * The map must not change meanwhile. */
void peerop__map_each(const peerop__map *m, int (*cb)(const char *key, void *value, void *arg), void *arg);
/* Free keys and slots; values are the caller's (iterate first to free them). */
void peerop__map_dispose(peerop__map *m);

#endif /* PEEROP_BASE_H */
