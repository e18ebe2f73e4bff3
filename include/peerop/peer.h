/**
 * @file peerop/peer.h
 * @brief Peer sets and the pinger: every member pings every other member.
 *
 * A peerop_peerset says who the peers are. It merges three sources:
 * - a peers file, JSON:
 *   `{"peers":[{"id":"demoweb-0","host":"10.1.2.3","port":8080}]}`
 *   ("id" optional), reloaded without restart when it changes, including
 *   the atomic `..data` symlink swap Kubernetes does for a mounted
 *   ConfigMap (inotify on the directory, polling as a fallback). A bad
 *   file (malformed, empty, truncated, unreadable, too large) keeps the
 *   last good set and logs one error naming the file and the position;
 * - a DNS name whose every A/AAAA record is a peer, re-resolved for each
 *   round (a headless Kubernetes Service); a failed lookup only drops
 *   those peers for that round;
 * - static URLs (`http://host:port`).
 *
 * A peerop_pinger pings every peer of a set concurrently, once per
 * (jittered) interval, on its own thread, with libcurl's multi interface:
 * `GET /ping` must answer 200 with the body exactly `pong\n`. It sends its
 * own identity in the PEEROP_HTTPD_ID_HEADER request header and reads the
 * responder's from the reply. Connections are kept alive between rounds.
 * A failing peer is retried with exponential backoff (2 s, 4 s, 8 s...)
 * capped at the interval. The pinger never pings itself: not its own
 * identity, not its own address.
 *
 * Each result goes to a callback and to the log (component "peer"):
 * `Pinged http://10.1.2.3:8080/ping - Response: pong from demoweb-7d9f-abcde (0.8 ms)`
 * `Failed to ping http://10.1.2.4:8080/ping: timeout after 2000 ms (3rd failure, next try in 8 s)`
 * A pong without the identity header is reported with the identity the
 * set gives for that peer, followed by `(unconfirmed)`.
 */
#ifndef PEEROP_PEER_H
#define PEEROP_PEER_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/httpd.h>
#include <peerop/metrics.h>

PEEROP_BEGIN_DECL

/* ---- peer sets -------------------------------------------------------- */

/** A set of peers, shared by the pinger and the file watcher. */
typedef struct peerop_peerset peerop_peerset;

/** Where a peer came from. */
typedef enum peerop_peer_source {
	PEEROP_PEER_FILE = 0,
	PEEROP_PEER_DNS = 1,
	PEEROP_PEER_STATIC = 2
} peerop_peer_source;

/** One peer. Strings are owned by the list that holds it. */
typedef struct peerop_peer {
	const char *id;      /**< identity from the source, "" when it gives none */
	const char *host;    /**< name or address, as written (IPv6 without brackets) */
	unsigned int port;
	peerop_peer_source source;
} peerop_peer;

/** Called after the set changed (a reload with a different content, a new source). */
typedef void (*peerop_peerset_change_cb)(peerop_peerset *set, void *payload);

/** Options of peerop_peerset_new(). */
typedef struct peerop_peerset_options {
	unsigned int version;      /**< PEEROP_PEERSET_OPTIONS_VERSION */
	/** The peers file, or NULL for none. Watched once peerop_peerset_watch() runs. */
	const char *file;
	/** Largest peers file accepted, bytes. 0: 1 MiB. */
	size_t file_limit;
	/** How often to look at the file when inotify cannot be used (and as a safety net). 0: 2000 ms. */
	unsigned int poll_ms;
	/** Do not use inotify: poll only. */
	int poll_only;
	/** Called (from the watcher thread, or the caller's) after the set changed. May be NULL. */
	peerop_peerset_change_cb on_change;
	void *payload;
} peerop_peerset_options;

#define PEEROP_PEERSET_OPTIONS_VERSION 1
#define PEEROP_PEERSET_OPTIONS_INIT { PEEROP_PEERSET_OPTIONS_VERSION, NULL, 0, 0, 0, NULL, NULL }

/** Fill opts with the defaults. @return 0 or PEEROP_EINVAL */
PEEROP_EXTERN(int) peerop_peerset_options_init(peerop_peerset_options *opts, unsigned int version);

/**
 * Create a set. When a file is given it is loaded now; a missing or bad
 * file is not an error here (the set stays not loaded, the error is
 * logged, and the watcher loads it when it appears or is fixed).
 *
 * @param out receives the handle, to release with peerop_peerset_free()
 * @return 0, PEEROP_EINVAL, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_peerset_new(peerop_peerset **out, const peerop_peerset_options *opts);

/**
 * Add a static peer.
 * @param url `http://host:port` or `http://host:port/ping`, IPv6 in brackets;
 *        `host:port` alone is accepted too
 * @return 0, PEEROP_EINVAL naming what is wrong with the URL
 */
PEEROP_EXTERN(int) peerop_peerset_add_static(peerop_peerset *set, const char *url);

/**
 * Use a DNS name: every A and AAAA record of `name` is a peer on `port`.
 * @param name_port `NAME:PORT`
 * @return 0, PEEROP_EINVAL
 */
PEEROP_EXTERN(int) peerop_peerset_set_dns(peerop_peerset *set, const char *name_port);

/**
 * Read the peers file again now (the watcher does this by itself).
 * @return 0 (also when the content did not change), or the error that kept
 *         the last good set (PEEROP_ENOENT, PEEROP_EIO, PEEROP_ESYNTAX,
 *         PEEROP_ECONFIG, PEEROP_ETOOLARGE), detail in peerop_error_last()
 */
PEEROP_EXTERN(int) peerop_peerset_reload(peerop_peerset *set);

/**
 * Start watching the peers file on a thread of the set's own. Without a
 * file, does nothing.
 * @return 0, PEEROP_EINVAL (already watching), PEEROP_ERROR (no thread)
 */
PEEROP_EXTERN(int) peerop_peerset_watch(peerop_peerset *set);

/**
 * True once every configured source has been loaded at least once: the
 * file parsed successfully (DNS and static sources count as loaded).
 */
PEEROP_EXTERN(int) peerop_peerset_loaded(const peerop_peerset *set);

/** How many times the content of the set changed. */
PEEROP_EXTERN(unsigned long) peerop_peerset_generation(const peerop_peerset *set);

/**
 * The peers now: file and static peers, and the DNS name resolved now
 * (blocking; a failed lookup is logged and contributes no peer).
 *
 * @param out receives an array of *count peers, to release with
 *        peerop_peer_list_free(); NULL when empty
 * @return 0, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_peerset_snapshot(peerop_peer **out, size_t *count, peerop_peerset *set);

/** Release a peerop_peerset_snapshot() or peerop_peers_parse() list. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_peer_list_free(peerop_peer *list, size_t count);

/**
 * Parse a peers file's content (no I/O).
 * @param name the file name, for error messages
 * @return 0, PEEROP_ESYNTAX (with line and column), PEEROP_ECONFIG (naming
 *         the element: `peers[2].port`), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_peers_parse(peerop_peer **out, size_t *count, const char *name,
	const char *data, size_t len);

/**
 * Write a peers file's content, `{"peers":[{"id":..,"host":..,"port":..}]}`,
 * from a list (the inverse of peerop_peers_parse(): what it accepts, the
 * other reads back). The source field is ignored.
 *
 * @param out receives the text (NUL-terminated), to release with peerop_free()
 * @return 0, PEEROP_ECONFIG (naming the element: `peers[2].host`),
 *         PEEROP_ETOOLARGE (more peers than a file may hold), PEEROP_EINVAL,
 *         PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_peers_format(char **out, const peerop_peer *list, size_t count);

/** Stop watching and release. NULL is a no-op. The set must outlive its pinger. */
PEEROP_EXTERN(void) peerop_peerset_free(peerop_peerset *set);

/* ---- pinging ---------------------------------------------------------- */

/** A pinger. */
typedef struct peerop_pinger peerop_pinger;

/** The outcome of one ping. Strings are borrowed for the duration of the callback. */
typedef struct peerop_ping_result {
	const char *url;           /**< `http://10.1.2.3:8080/ping` */
	const char *peer_id;       /**< the identity the set gives, "" if none */
	const char *responder_id;  /**< identity from the reply's header, NULL if absent */
	int ok;                    /**< 1: 200 with body `pong\n` */
	int error;                 /**< PEEROP_E* when !ok, else 0 */
	const char *reason;        /**< when !ok: "timeout after 2000 ms", "HTTP 500"...; else "" */
	int http_status;           /**< 0 when no reply */
	double latency_ms;         /**< request start to end of reply */
	unsigned int failures;     /**< consecutive failures, this one included; 0 when ok */
	unsigned int next_try_ms;  /**< delay until this peer is pinged again */
} peerop_ping_result;

/** Receives every result, on the pinger thread. Must not block for long. */
typedef void (*peerop_ping_cb)(const peerop_ping_result *result, void *payload);

/** Options of peerop_pinger_new(). */
typedef struct peerop_pinger_options {
	unsigned int version;       /**< PEEROP_PINGER_OPTIONS_VERSION */
	peerop_peerset *peers;      /**< borrowed; must outlive the pinger. Required. */
	/** This server's identity: sent with each ping; peers with it are skipped. Required. */
	const char *self_id;
	/** This server's listen address, `ADDR:PORT` as for peerop_httpd: peers at it are skipped. May be NULL. */
	const char *self_listen;
	/** Milliseconds between rounds. 0: 60000. */
	unsigned int interval_ms;
	/** Jitter of the interval, as a fraction (0.1: +/- 10%). Negative: none. 0: 0.1. */
	double jitter;
	/** Milliseconds one ping may take. 0: 2000, and never more than the interval. */
	unsigned int timeout_ms;
	/** First backoff delay after a failure, doubling, capped at the interval. 0: 2000. */
	unsigned int backoff_ms;
	/** Largest reply body read, bytes. 0: 256. */
	unsigned int body_limit;
	/** Non-zero: do not log results (the callback still gets them). By default pongs log at info, failures at warn. */
	int quiet;
	peerop_ping_cb on_result;   /**< may be NULL */
	void *payload;
} peerop_pinger_options;

#define PEEROP_PINGER_OPTIONS_VERSION 1
#define PEEROP_PINGER_OPTIONS_INIT \
	{ PEEROP_PINGER_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }

/** Fill opts with the defaults. @return 0 or PEEROP_EINVAL */
PEEROP_EXTERN(int) peerop_pinger_options_init(peerop_pinger_options *opts, unsigned int version);

/**
 * Create a pinger (no thread yet).
 * @return 0, PEEROP_EINVAL (no set, no identity), PEEROP_ENOMEM, PEEROP_ERROR (libcurl)
 */
PEEROP_EXTERN(int) peerop_pinger_new(peerop_pinger **out, const peerop_pinger_options *opts);

/**
 * Start pinging on the pinger's own thread; the first round starts now.
 * @return 0, PEEROP_EINVAL (already started), PEEROP_ERROR
 */
PEEROP_EXTERN(int) peerop_pinger_start(peerop_pinger *p);

/** Start a round now (after the set changed, say). Any thread. */
PEEROP_EXTERN(void) peerop_pinger_wake(peerop_pinger *p);

/**
 * Stop: pings in flight are abandoned and the thread joined. When it
 * returns the result callback is not running and will not run again.
 * Safe to call twice, from two threads at once, and from the result
 * callback: there it only asks, and the thread ends once the callback
 * returns (free the pinger from another thread, after a stop there).
 */
PEEROP_EXTERN(void) peerop_pinger_stop(peerop_pinger *p);

/** Figures about the rounds so far. */
typedef struct peerop_pinger_stats {
	unsigned long long rounds;        /**< rounds completed */
	unsigned long long pongs;         /**< successful pings */
	unsigned long long failures;      /**< failed pings */
	unsigned int peers;               /**< peers in the last round */
	double last_round_ms;             /**< duration of the last complete round */
} peerop_pinger_stats;

/** Copy the figures. Any thread. */
PEEROP_EXTERN(void) peerop_pinger_get_stats(const peerop_pinger *p, peerop_pinger_stats *out);

/**
 * The state of every peer, as served on /peers:
 * `{"self":"ID","interval_ms":N,"peers":[{"url":..,"host":..,"port":..,
 * "id":..,"source":..,"last_seen_id":..,"confirmed":..,"last_result":"ok"|"failed"|"pending",
 * "last_error":..,"consecutive_failures":N,"latency_ms":{"last":..,"min":..,"avg":..,"max":..},
 * "pongs":N,"failures":N}]}`.
 * @param out a new reference
 * @return 0, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_pinger_status(json_t **out, const peerop_pinger *p);

/** A metrics collector (pings by result, latency histogram, rounds): payload is the pinger. */
PEEROP_EXTERN(int) peerop_pinger_collect_metrics(peerop_metrics_writer *w, void *payload);

/**
 * Serve the pinger's state on `h`: the /peers route and the metrics
 * collector. Before peerop_httpd_start(); the pinger must outlive h's serving.
 */
PEEROP_EXTERN(int) peerop_pinger_serve(peerop_pinger *p, peerop_httpd *h);

/** Stop if running, and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_pinger_free(peerop_pinger *p);

PEEROP_END_DECL

#endif /* PEEROP_PEER_H */
