/*
 * pinger_internal.h: the pinger's state, shared by pinger.c (the thread and
 * libcurl) and pinger_report.c (logging, /peers, metrics).
 */
#ifndef PEEROP_PINGER_INTERNAL_H
#define PEEROP_PINGER_INTERNAL_H

#include "peer_internal.h"

#include <pthread.h>
#include <curl/curl.h>

#define PEEROP__ID_MAX 254
#define PEEROP__LATENCY_BUCKETS 12
extern const double peerop__latency_bounds[PEEROP__LATENCY_BUCKETS];

/* What the epoll set holds for one descriptor. A connection's socket stays
 * in the set ("parked") between rounds, while libcurl keeps it in its
 * cache, so a ping on a kept-alive connection costs no epoll_ctl at all. */
typedef struct peerop__fd_watch {
	unsigned char state;            /* PEEROP__FD_NONE, _ACTIVE, _PARKED */
	unsigned char conn;             /* a connection's socket (opened by on_open) */
	uint32_t mask;                  /* the events registered */
} peerop__fd_watch;

/* One libcurl multi handle, with its own connection cache. Peers are
 * spread over several, PEEROP__SHARD_PEERS each (at most
 * PEEROP__SHARDS_MAX), because libcurl 7.88's curl_multi_remove_handle()
 * walks the multi's whole connection cache after every transfer (looking
 * for connect-only connections to close): with a thousand kept-alive
 * connections in one cache that walk was a fifth of a round's CPU, and
 * quadratic in the number of peers. A socket belongs to the shard whose
 * cache holds its connection; epoll events carry the shard's index. */
typedef struct peerop__ping_shard {
	struct peerop_pinger *p;
	CURLM *multi;
	unsigned int index;
	size_t npeers;                  /* peers assigned to it */
	uint64_t curl_due_ms;           /* libcurl's timer, UINT64_MAX when unset */
} peerop__ping_shard;
#define PEEROP__SHARD_PEERS 64
#define PEEROP__SHARDS_MAX 64
#define PEEROP__FD_NONE 0
#define PEEROP__FD_ACTIVE 1
#define PEEROP__FD_PARKED 2

typedef struct peerop__ping_peer {
	/* identity, fixed while the peer is in the set */
	char *host;
	unsigned int port;
	char *id;                       /* from the set, "" if none */
	peerop_peer_source source;
	char *url;
	CURLU *curlu;                   /* the URL parsed once, not on every transfer (NULL: url) */
	CURL *easy;                     /* kept between rounds: its connection stays in the multi's cache */
	peerop__ping_shard *shard;      /* the multi it runs in, for good */
	/* scheduling, pinger thread only */
	int present;                    /* in the latest snapshot */
	int in_flight;
	int round_member;               /* launched by the current round */
	uint64_t next_due_ms;           /* UINT64_MAX: at the next round */
	/* the reply being read, pinger thread only */
	char *body;                     /* body_cap + 1 bytes */
	size_t body_len, body_cap;
	int body_over;
	char responder[PEEROP__ID_MAX + 1];
	int have_responder;
	char errbuf[CURL_ERROR_SIZE];
	/* status, written by the pinger thread under the pinger's lock */
	int self;                       /* it answered with our identity: never again */
	int last_ok;                    /* -1 pending, 0 failed, 1 ok */
	unsigned int failures;          /* consecutive */
	char last_seen[PEEROP__ID_MAX + 1];
	int confirmed;
	char last_error[256];
	double lat_last, lat_min, lat_max, lat_sum;
	unsigned long long pongs, fails;
} peerop__ping_peer;

struct peerop_pinger {
	/* options, fixed */
	peerop_peerset *set;
	char *self_id;
	char *self_host;                /* NULL: no listen address given; "": wildcard */
	unsigned int self_port;
	unsigned int interval_ms, timeout_ms, backoff_ms, body_limit;
	double jitter;
	int quiet;
	int no_proxy;                   /* no proxy variable at start: tell libcurl, once per peer */
	peerop_ping_cb on_result;
	void *payload;
	/* libcurl's socket interface over epoll, pinger thread only; the
	 * eventfd wakes the thread from any other (wake, stop) */
	peerop__ping_shard *shards[PEEROP__SHARDS_MAX];
	size_t nshards;
	size_t shard_peers;             /* peers per shard before another is opened */
	int epfd, evfd;
	struct peerop__fd_watch *fds;   /* by descriptor: what epoll has of it */
	size_t nfds;
	struct curl_slist *headers;
	/* scheduling, pinger thread only */
	peerop__map by_addr;            /* "PORT/HOST" -> peer, so syncing with the set is linear */
	unsigned long synced_generation;
	int synced;                     /* synced_generation is meaningful */
	uint64_t retry_due_ms;          /* no failing peer is due before this */
	/* shared */
	pthread_mutex_t lock;           /* peers[] and the figures below */
	peerop__ping_peer **peers;
	size_t npeers;
	peerop_pinger_stats stats;
	unsigned long long lat_counts[PEEROP__LATENCY_BUCKETS];
	double lat_sum;
	pthread_t thread;
	int started;                    /* guarded by join_lock, with joined */
	int joined;
	pthread_mutex_t join_lock;
	int stop;                       /* atomic */
	int wake;                       /* atomic */
};

/* Report a finished ping: update the peer's status, log it, call the
 * callback (pinger_report.c). r->failures and r->next_try_ms are set. */
void peerop__pinger_report(peerop_pinger *p, peerop__ping_peer *peer, peerop_ping_result *r);

/* s with control characters, backslashes and non-ASCII bytes written
 * \xNN, for text log messages (pinger_report.c). */
const char *peerop__printable(char *buf, size_t size, const char *s);

#endif /* PEEROP_PINGER_INTERNAL_H */
