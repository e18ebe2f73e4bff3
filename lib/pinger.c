/*
 * pinger.c: the pinger thread, over libcurl's multi interface.
 *
 * One thread, one easy handle per peer, the peers spread over a few multi
 * handles ("shards", see pinger_internal.h) of up to 64 peers each. A round
 * adds the easy handle of every due peer at once, so a thousand peers cost
 * a thousand concurrent transfers on one thread, not a thousand threads.
 * Between rounds an easy handle is removed from its multi, but its
 * connection stays in the multi's connection cache and the next round
 * reuses it (keep-alive), saving the TCP handshake.
 *
 * libcurl is driven through its socket interface (curl_multi_socket_action)
 * over epoll: each wake-up touches only the connections that have something
 * to say. curl_multi_perform()/curl_multi_poll() walk every transfer on
 * every call, which makes a round of a thousand pings quadratic.
 *
 * Scheduling: a healthy peer is due at each round (every interval, with
 * jitter so that a fleet started together does not ping in lockstep). A
 * failing peer is due after its backoff: backoff_ms, doubling with each
 * consecutive failure, capped at the interval.
 */
#include "pinger_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#define NOT_UNTIL_ROUND UINT64_MAX

PEEROP_EXTERN(int) peerop_pinger_options_init(peerop_pinger_options *opts, unsigned int version)
{
	peerop_pinger_options def = PEEROP_PINGER_OPTIONS_INIT;
	if (!opts || version != PEEROP_PINGER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "pinger options: unsupported version %u", version);
	*opts = def;
	return 0;
}

static peerop__fd_watch *fd_slot(peerop_pinger *p, curl_socket_t fd)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= p->nfds) {
		size_t n = p->nfds ? p->nfds : 64;
		peerop__fd_watch *grown;
		while (n <= (size_t)fd)
			n *= 2;
		if (!(grown = realloc(p->fds, n * sizeof(*grown))))
			return NULL;
		memset(grown + p->nfds, 0, (n - p->nfds) * sizeof(*grown));
		p->fds = grown;
		p->nfds = n;
	}
	return &p->fds[fd];
}

/* What an epoll event carries: the descriptor, and for a libcurl socket
 * the shard whose multi it belongs to (index + 1; 0 for the eventfd). */
static uint64_t ev_data(int fd, unsigned int shard_index)
{
	return ((uint64_t)(shard_index + 1) << 32) | (uint32_t)fd;
}

/* libcurl tells us which sockets to watch for what. When it stops
 * watching a connection's socket that stays open (the connection back in
 * its cache) we leave it in the epoll set, parked: the next round usually
 * wants the very same events, so reusing the connection needs no
 * epoll_ctl. A parked socket that does fire (the peer closed an idle
 * connection) is removed then. Only sockets opened through on_open() are
 * parked: libcurl closes its other descriptors (the threaded resolver's
 * wake-up pair) without telling on_close(), and a stale "parked" entry
 * would keep a new socket with the same number out of the set. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	peerop__ping_shard *sh = userp;
	peerop_pinger *p = sh->p;
	peerop__fd_watch *w = fd_slot(p, fd);
	struct epoll_event ev;
	PEEROP__UNUSED(e);
	PEEROP__UNUSED(socketp);
	if (what == CURL_POLL_REMOVE) {
		if (w && w->conn && w->state == PEEROP__FD_ACTIVE) {
			w->state = PEEROP__FD_PARKED;
		} else {
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
			if (w)
				w->state = PEEROP__FD_NONE;
		}
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	ev.data.u64 = ev_data(fd, sh->index);
	if (!w || w->state == PEEROP__FD_NONE) {
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
			epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
	} else if (w->mask != ev.events) {
		if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
			epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	if (w) {
		w->state = PEEROP__FD_ACTIVE;
		w->mask = ev.events;
	}
	return 0;
}

/* libcurl opens a connection's socket: remember that it is one (and
 * close-on-exec, which libcurl's own socket() call does not ask for). */
static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	peerop_pinger *p = clientp;
	peerop__fd_watch *w;
	int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	PEEROP__UNUSED(purpose);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	if ((w = fd_slot(p, fd)) != NULL) {
		w->state = PEEROP__FD_NONE;
		w->conn = 1;
	}
	return fd;
}

/* libcurl closes a socket: the kernel drops it from the epoll set. */
static int on_close(void *clientp, curl_socket_t fd)
{
	peerop_pinger *p = clientp;
	if (fd >= 0 && (size_t)fd < p->nfds) {
		p->fds[fd].state = PEEROP__FD_NONE;
		p->fds[fd].conn = 0;
	}
	return close(fd);
}

/* ...and when to call it back if no socket has anything to say. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	peerop__ping_shard *sh = userp;
	PEEROP__UNUSED(m);
	sh->curl_due_ms = timeout_ms < 0 ? UINT64_MAX : peerop__now_ms() + (uint64_t)timeout_ms;
	return 0;
}

/* A new multi handle for up to shard_peers more peers (NULL: out of memory). */
static peerop__ping_shard *shard_new(peerop_pinger *p)
{
	peerop__ping_shard *sh;
	if (p->nshards == PEEROP__SHARDS_MAX || !(sh = calloc(1, sizeof(*sh))))
		return NULL;
	if (!(sh->multi = curl_multi_init())) {
		free(sh);
		return NULL;
	}
	sh->p = p;
	sh->index = (unsigned int)p->nshards;
	sh->curl_due_ms = UINT64_MAX;
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
	p->shards[p->nshards++] = sh;
	return sh;
}

/* The shard a new peer joins: the emptiest, or a new one when every shard
 * is full (and the limit allows). */
static peerop__ping_shard *shard_for_new_peer(peerop_pinger *p)
{
	peerop__ping_shard *best = NULL, *fresh;
	size_t i;
	for (i = 0; i < p->nshards; i++)
		if (!best || p->shards[i]->npeers < best->npeers)
			best = p->shards[i];
	if (best && best->npeers < p->shard_peers)
		return best;
	fresh = shard_new(p);
	return fresh ? fresh : best;
}

PEEROP_EXTERN(int) peerop_pinger_new(peerop_pinger **out, const peerop_pinger_options *opts)
{
	peerop_pinger *p;
	char *id_header = NULL;

	if (!out || !opts || opts->version != PEEROP_PINGER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "pinger: missing or unsupported options");
	*out = NULL;
	if (!opts->peers || !opts->self_id || !*opts->self_id || strlen(opts->self_id) >= PEEROP__ID_MAX ||
	    strpbrk(opts->self_id, "\r\n"))
		return peerop__error_set(PEEROP_EINVAL, "pinger: a peer set and an identity (1-253 characters) are required");
	if (!(p = calloc(1, sizeof(*p))))
		return peerop__error_set(PEEROP_ENOMEM, "pinger: out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->join_lock, NULL);
	p->set = opts->peers;
	p->interval_ms = opts->interval_ms ? opts->interval_ms : 60000;
	p->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 2000;
	if (p->timeout_ms > p->interval_ms)
		p->timeout_ms = p->interval_ms;
	p->backoff_ms = opts->backoff_ms ? opts->backoff_ms : 2000;
	p->body_limit = opts->body_limit ? opts->body_limit : 256;
	p->jitter = opts->jitter < 0 ? 0 : opts->jitter > 0 ? opts->jitter : 0.1;
	if (p->jitter > 0.5)
		p->jitter = 0.5;
	p->quiet = opts->quiet;
	p->on_result = opts->on_result;
	p->payload = opts->payload;
	if (opts->self_listen && peerop__split_hostport(&p->self_host, &p->self_port, opts->self_listen,
	    "pinger self_listen") != 0) {
		peerop_pinger_free(p);
		return PEEROP_EINVAL;
	}
	if (p->self_host && (!strcmp(p->self_host, "0.0.0.0") || !strcmp(p->self_host, "::")))
		p->self_host[0] = '\0';
	if (!(p->self_id = peerop__strdup(opts->self_id)) ||
	    !(id_header = malloc(strlen(opts->self_id) + sizeof(PEEROP_HTTPD_ID_HEADER) + 3))) {
		peerop_pinger_free(p);
		return peerop__error_set(PEEROP_ENOMEM, "pinger: out of memory");
	}
	sprintf(id_header, "%s: %s", PEEROP_HTTPD_ID_HEADER, opts->self_id);
	p->headers = curl_slist_append(NULL, id_header);
	free(id_header);
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->shard_peers = PEEROP__SHARD_PEERS;
	/* libcurl reads its proxy variables (no_proxy, NO_PROXY, http_proxy,
	 * all_proxy, ALL_PROXY) before every transfer. Without one of the
	 * three that name a proxy for http, no proxy applies, and telling
	 * libcurl so saves those lookups on every ping. */
	p->no_proxy = !getenv("http_proxy") && !getenv("all_proxy") && !getenv("ALL_PROXY");
	p->retry_due_ms = UINT64_MAX;
	shard_new(p);
	if (p->epfd >= 0 && p->evfd >= 0) {
		struct epoll_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = (uint32_t)p->evfd;
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
			close(p->evfd);
			p->evfd = -1;
		}
	}
	if (!p->headers || !p->nshards || p->epfd < 0 || p->evfd < 0) {
		peerop_pinger_free(p);
		return peerop__error_set(PEEROP_ERROR, "pinger: libcurl could not start (peerop_global_init?)");
	}
	*out = p;
	return 0;
}

/* ---- reading a reply ---------------------------------------------------- */

/* Keep at most body_cap bytes: a peer streaming megabytes is a failed ping
 * ("larger than N bytes"), not a memory problem. Returning short aborts. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	peerop__ping_peer *peer = userp;
	size_t n = size * nmemb;
	if (n > peer->body_cap - peer->body_len) {
		peer->body_over = 1;
		return 0;
	}
	memcpy(peer->body + peer->body_len, data, n);
	peer->body_len += n;
	peer->body[peer->body_len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	peerop__ping_peer *peer = userp;
	size_t n = size * nmemb, name_len = sizeof(PEEROP_HTTPD_ID_HEADER) - 1, vlen;
	const char *v, *end;

	if (n > name_len && data[name_len] == ':' &&
	    strncasecmp(data, PEEROP_HTTPD_ID_HEADER, name_len) == 0) {
		v = data + name_len + 1;
		end = data + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		vlen = (size_t)(end - v);
		if (vlen > PEEROP__ID_MAX)
			vlen = PEEROP__ID_MAX;
		memcpy(peer->responder, v, vlen);
		peer->responder[vlen] = '\0';
		peer->have_responder = vlen > 0;
	}
	return n;
}

/* ---- peers: joining and leaving the set --------------------------------- */

static void peer_free(peerop_pinger *p, peerop__ping_peer *peer)
{
	if (!peer)
		return;
	if (peer->easy) {
		if (peer->in_flight)
			curl_multi_remove_handle(peer->shard->multi, peer->easy);
		curl_easy_cleanup(peer->easy);
	}
	if (peer->curlu)
		curl_url_cleanup(peer->curlu);
	if (peer->shard)
		peer->shard->npeers--;
	free(peer->host);
	free(peer->id);
	free(peer->url);
	free(peer->body);
	free(peer);
}

static peerop__ping_peer *peer_new(peerop_pinger *p, const peerop_peer *from)
{
	peerop__ping_peer *peer = calloc(1, sizeof(*peer));
	peerop__buf url = PEEROP__BUF_INIT;
	CURL *e;

	if (!peer)
		return NULL;
	peer->port = from->port;
	peer->source = from->source;
	peer->last_ok = -1;
	peer->next_due_ms = 0;
	peer->body_cap = p->body_limit;
	peer->host = peerop__strdup(from->host);
	peer->id = peerop__strdup(from->id);
	peer->body = malloc(p->body_limit + 1);
	if (!peer->host || !peer->id || !peer->body || peerop__peer_url(&url, from->host, from->port) != 0) {
		peerop__buf_dispose(&url);
		peer_free(p, peer);
		return NULL;
	}
	peer->url = peerop__buf_detach(&url);
	if (!(peer->shard = shard_for_new_peer(p)) || !(e = peer->easy = curl_easy_init())) {
		peer_free(p, peer);
		return NULL;
	}
	peer->shard->npeers++;
	/* The URL parsed once here: given as text, libcurl parses and
	 * re-assembles it before every transfer (a tenth of a round's CPU). */
	if ((peer->curlu = curl_url()) != NULL &&
	    curl_url_set(peer->curlu, CURLUPART_URL, peer->url, 0) != CURLUE_OK) {
		curl_url_cleanup(peer->curlu);
		peer->curlu = NULL;
	}
	if (peer->curlu)
		curl_easy_setopt(e, CURLOPT_CURLU, peer->curlu);
	else
		curl_easy_setopt(e, CURLOPT_URL, peer->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, peer);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "peerop/" PEEROP_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, peer);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, peer);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, peer->errbuf);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, p);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, p);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (p->no_proxy)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	/* libcurl allocates its receive buffer (16 KB by default) for every
	 * transfer in flight, so a round of a thousand pings held 16 MB at
	 * once. A pong is a couple of hundred bytes; a longer reply only
	 * takes more reads. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* An address never goes stale, so its DNS cache entry need not expire.
	 * This matters for speed: before each transfer libcurl prunes expired
	 * entries by walking the whole DNS cache (one entry per host:port), so
	 * a round of a thousand peers would walk it a thousand times. */
	if (peerop__is_numeric_addr(from->host))
		curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	return peer;
}

/* Is this peer the server the pinger belongs to? By identity, and by
 * address when the server's listen address is known. */
static int is_self(const peerop_pinger *p, const peerop_peer *peer)
{
	if (peer->id[0] && strcmp(peer->id, p->self_id) == 0)
		return 1;
	if (!p->self_host || peer->port != p->self_port)
		return 0;
	if (!p->self_host[0])
		return strcmp(peer->host, "localhost") == 0 || peerop__is_local_addr(peer->host);
	if (strcmp(peer->host, p->self_host) == 0)
		return 1;
	return peerop__same_addr(peer->host, p->self_host);
}

/* Bring the pinger's peers in line with the set: new peers are due now,
 * vanished ones are dropped (with their transfer, if one runs). Nothing
 * to do while the set's generation stays the same, unless it resolves a
 * DNS name, whose answer may change at any lookup. */
static void sync_peers(peerop_pinger *p)
{
	peerop_peer *list = NULL;
	size_t n = 0, i, kept;
	peerop__ping_peer **grown;
	unsigned int skipped = 0;
	unsigned long generation;
	int resolves;
	char key[PEEROP__PEER_KEY_MAX];

	generation = peerop__peerset_version(p->set, &resolves);
	if (p->synced && !resolves && generation == p->synced_generation)
		return;
	if (peerop_peerset_snapshot(&list, &n, p->set) != 0) {
		peerop__errlog("peer", "cannot read the peer set: %s", peerop_error_last()->message);
		return;
	}
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->npeers; i++)
		p->peers[i]->present = 0;
	grown = realloc(p->peers, (p->npeers + n + 1) * sizeof(*grown));
	if (grown)
		p->peers = grown;
	for (i = 0; grown && i < n; i++) {
		peerop__ping_peer *peer;
		int fresh;
		peerop__peer_key(key, list[i].host, list[i].port);
		peer = peerop__map_get(&p->by_addr, key);
		fresh = !peer;
		if (!peer && (peer = peer_new(p, &list[i])) != NULL) {
			if (peerop__map_put(&p->by_addr, key, peer, NULL) != 0) {
				peer_free(p, peer);
				continue;
			}
			p->peers[p->npeers++] = peer;
		}
		if (!peer)
			continue;
		peer->present = 1;
		if (strcmp(peer->id, list[i].id) != 0) {
			char *id = peerop__strdup(list[i].id);
			if (id) {
				free(peer->id);
				peer->id = id;
				fresh = 1;
			}
		}
		/* decided once per peer (and again if its identity changes): the
		 * address check may list the machine's interfaces */
		if (fresh)
			peer->self = is_self(p, &list[i]);
	}
	for (i = 0, kept = 0; i < p->npeers; i++) {
		peerop__ping_peer *peer = p->peers[i];
		if (peer->present) {
			p->peers[kept++] = peer;
			continue;
		}
		peerop__peer_key(key, peer->host, peer->port);
		peerop__map_remove(&p->by_addr, key);
		peer_free(p, peer);
	}
	p->npeers = kept;
	for (i = 0; i < kept; i++)
		skipped += p->peers[i]->self;
	p->stats.peers = (unsigned int)(kept - skipped);
	pthread_mutex_unlock(&p->lock);
	/* room in each connection cache for one connection per peer */
	for (i = 0; i < p->nshards; i++)
		curl_multi_setopt(p->shards[i]->multi, CURLMOPT_MAXCONNECTS, (long)(p->shards[i]->npeers + 16));
	if (grown) {
		p->synced = 1;
		p->synced_generation = generation;
	}
	if (skipped)
		peerop__debug("peer", "Not pinging %u peers: this server itself", skipped);
	peerop_peer_list_free(list, n);
}

/* ---- one ping ------------------------------------------------------------ */

static void launch(peerop_pinger *p, peerop__ping_peer *peer, int round_member)
{
	peer->body_len = 0;
	peer->body[0] = '\0';
	peer->body_over = 0;
	peer->have_responder = 0;
	peer->responder[0] = '\0';
	peer->errbuf[0] = '\0';
	if (curl_multi_add_handle(peer->shard->multi, peer->easy) != CURLM_OK) {
		peer->next_due_ms = peerop__now_ms() + p->backoff_ms;
		if (peer->next_due_ms < p->retry_due_ms)
			p->retry_due_ms = peer->next_due_ms;
		return;
	}
	peer->in_flight = 1;
	peer->round_member = round_member;
}

/* A printable excerpt of an unexpected body, for the reason text. */
static void excerpt(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;
	for (i = 0; i < len && o + 5 < size && i < 32; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (i < len && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o < size ? o : size - 1] = '\0';
}

static void classify(peerop_pinger *p, peerop__ping_peer *peer, CURLcode res, peerop_ping_result *r,
	char *reason, size_t rsize)
{
	long status = 0, oserr = 0;
	const char *detail = peer->errbuf[0] ? peer->errbuf : curl_easy_strerror(res);

	curl_easy_getinfo(peer->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(peer->easy, CURLINFO_OS_ERRNO, &oserr);
	r->http_status = (int)status;
	r->ok = 0;
	if (res == CURLE_OK) {
		if (status == 200 && peer->body_len == 5 && memcmp(peer->body, "pong\n", 5) == 0) {
			r->ok = 1;
			reason[0] = '\0';
		} else if (status >= 300 && status < 400) {
			char *loc = NULL;
			curl_easy_getinfo(peer->easy, CURLINFO_REDIRECT_URL, &loc);
			r->error = PEEROP_EPROTO;
			snprintf(reason, rsize, "HTTP %ld redirect to %.100s (not followed)", status,
				loc ? loc : "nowhere");
		} else if (status != 200) {
			r->error = status >= 500 ? PEEROP_EUNAVAILABLE : PEEROP_EHTTP;
			snprintf(reason, rsize, "HTTP %ld (expected 200)", status);
		} else {
			char ex[160];
			excerpt(ex, sizeof(ex), peer->body, peer->body_len);
			r->error = PEEROP_EPROTO;
			snprintf(reason, rsize, "unexpected body \"%s\" (expected \"pong\\n\")", ex);
		}
		return;
	}
	switch (res) {
	case CURLE_WRITE_ERROR:
		r->error = PEEROP_ETOOLARGE;
		snprintf(reason, rsize, "reply body larger than %u bytes", p->body_limit);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r->error = PEEROP_ETIMEOUT;
		snprintf(reason, rsize, "timeout after %u ms", p->timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
		r->error = PEEROP_ECONNECT;
		if (oserr == ECONNREFUSED)
			snprintf(reason, rsize, "connection refused");
		else
			snprintf(reason, rsize, "cannot connect: %.180s", detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		r->error = PEEROP_ECONNECT;
		snprintf(reason, rsize, "cannot resolve %.100s", peer->host);
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		r->error = PEEROP_ETRUNCATED;
		if (oserr == ECONNRESET)
			snprintf(reason, rsize, "connection reset mid-reply");
		else
			snprintf(reason, rsize, "connection failed mid-reply: %.160s", detail);
		break;
	case CURLE_GOT_NOTHING:
		r->error = PEEROP_ETRUNCATED;
		snprintf(reason, rsize, "connection closed without a reply");
		break;
	case CURLE_PARTIAL_FILE:
		r->error = PEEROP_ETRUNCATED;
		snprintf(reason, rsize, "reply truncated: %.180s", detail);
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		r->error = PEEROP_EPROTO;
		snprintf(reason, rsize, "not an HTTP reply: %.180s", detail);
		break;
	default:
		r->error = PEEROP_ERROR;
		snprintf(reason, rsize, "%.200s", detail);
	}
}

static void finish(peerop_pinger *p, peerop__ping_peer *peer, CURLcode res, uint64_t *round_left)
{
	peerop_ping_result r;
	char reason[256];
	curl_off_t total_us = 0;

	curl_multi_remove_handle(peer->shard->multi, peer->easy);
	peer->in_flight = 0;
	if (peer->round_member && *round_left > 0)
		(*round_left)--;
	peer->round_member = 0;
	memset(&r, 0, sizeof(r));
	classify(p, peer, res, &r, reason, sizeof(reason));
	curl_easy_getinfo(peer->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	r.url = peer->url;
	r.peer_id = peer->id;
	r.responder_id = peer->have_responder ? peer->responder : NULL;
	r.reason = reason;
	r.latency_ms = (double)total_us / 1000.0;
	if (r.ok) {
		r.failures = 0;
		r.next_try_ms = 0;
		peer->next_due_ms = NOT_UNTIL_ROUND;
	} else {
		uint64_t delay = p->backoff_ms;
		unsigned int k;
		r.failures = peer->failures + 1;
		for (k = 1; k < r.failures && delay < p->interval_ms; k++)
			delay *= 2;
		if (delay > p->interval_ms)
			delay = p->interval_ms;
		r.next_try_ms = (unsigned int)delay;
		peer->next_due_ms = peerop__now_ms() + delay;
		if (peer->next_due_ms < p->retry_due_ms)
			p->retry_due_ms = peer->next_due_ms;
	}
	peerop__pinger_report(p, peer, &r);
}

/* ---- the thread ----------------------------------------------------------- */

/* Launch the peers that are due; with a new round, every healthy peer is.
 * Also learns when the next failing peer will be due, so that the loop
 * need not look at every peer on every wake-up. Returns how many pings
 * of the round were launched. */
static uint64_t launch_due(peerop_pinger *p, uint64_t now, int full)
{
	uint64_t launched = 0, retry = UINT64_MAX;
	size_t i;

	/* No lock: the array changes only on this thread (sync_peers), and
	 * the scheduling fields are this thread's alone. */
	for (i = 0; i < p->npeers; i++) {
		peerop__ping_peer *peer = p->peers[i];
		if (peer->self || peer->in_flight)
			continue;
		if (full && peer->next_due_ms == NOT_UNTIL_ROUND)
			peer->next_due_ms = now;
		if (peer->next_due_ms <= now) {
			launch(p, peer, full);
			launched += full && peer->in_flight;
		}
		if (!peer->in_flight && peer->next_due_ms != NOT_UNTIL_ROUND && peer->next_due_ms < retry)
			retry = peer->next_due_ms;
	}
	p->retry_due_ms = retry;
	return launched;
}

/* Read the finished transfers of every shard. */
static void reap(peerop_pinger *p, uint64_t *round_left)
{
	size_t i;
	for (i = 0; i < p->nshards; i++) {
		CURLMsg *m;
		int left = 0;
		while ((m = curl_multi_info_read(p->shards[i]->multi, &left)) != NULL) {
			peerop__ping_peer *peer = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&peer);
			finish(p, peer, m->data.result, round_left);
		}
	}
}

/* Hand what epoll saw to libcurl. */
static void dispatch(peerop_pinger *p, const struct epoll_event *evs, int nev)
{
	int k, running = 0;
	for (k = 0; k < nev; k++) {
		int fd = (int)(uint32_t)evs[k].data.u64, flags = 0;
		uint32_t shard = (uint32_t)(evs[k].data.u64 >> 32);
		if (fd == p->evfd) {
			uint64_t junk;
			if (read(p->evfd, &junk, sizeof(junk)) < 0) {
				/* nothing pending: another read drained it */
			}
			continue;
		}
		if ((size_t)fd < p->nfds && p->fds[fd].state == PEEROP__FD_PARKED) {
			/* an idle cached connection spoke (closed, most likely):
			 * stop watching it; libcurl finds it dead when it next looks */
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
			p->fds[fd].state = PEEROP__FD_NONE;
			continue;
		}
		if (shard == 0 || shard > p->nshards)
			continue;
		if (evs[k].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (evs[k].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[k].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(p->shards[shard - 1]->multi, fd, flags, &running);
	}
}

static void *pinger_main(void *arg)
{
	peerop_pinger *p = arg;
	uint64_t next_round = 0, round_start_us = 0, round_left = 0;
	int round_open = 0;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = peerop__now_ms(), wait, soonest;
		struct epoll_event evs[256];
		int running = 0, nev;
		size_t i;

		/* what this wake-up logs is flushed once, before the thread sleeps */
		peerop__log_batch_begin();
		if (now >= next_round || __atomic_exchange_n(&p->wake, 0, __ATOMIC_ACQ_REL)) {
			int full = now >= next_round;
			uint64_t launched;
			sync_peers(p);
			now = peerop__now_ms();
			if (full) {
				next_round = now + peerop__jitter(p->interval_ms, p->jitter);
				round_start_us = peerop__now_us();
				round_left = 0;
				round_open = 1;
			}
			launched = launch_due(p, now, full);
			round_left += launched;
		} else if (now >= p->retry_due_ms) {
			/* failing peers whose backoff ran out, between rounds */
			launch_due(p, now, 0);
		}

		reap(p, &round_left);
		if (round_open && round_left == 0) {
			double ms = (double)(peerop__now_us() - round_start_us) / 1000.0;
			peerop_pinger_stats st;
			round_open = 0;
			pthread_mutex_lock(&p->lock);
			p->stats.rounds++;
			p->stats.last_round_ms = ms;
			st = p->stats;
			pthread_mutex_unlock(&p->lock);
			peerop__debug("peer", "Round %llu: %u peers in %.1f ms (%llu pongs, %llu failures so far)",
				st.rounds, st.peers, ms, st.pongs, st.failures);
		}
		peerop__log_batch_end();

		now = peerop__now_ms();
		soonest = next_round < p->retry_due_ms ? next_round : p->retry_due_ms;
		for (i = 0; i < p->nshards; i++)
			if (p->shards[i]->curl_due_ms < soonest)
				soonest = p->shards[i]->curl_due_ms;
		wait = soonest > now ? soonest - now : 0;
		if (wait > 1000)
			wait = 1000;
		nev = epoll_wait(p->epfd, evs, (int)PEEROP__ARRAY_SIZE(evs), (int)wait);
		dispatch(p, evs, nev);
		now = peerop__now_ms();
		for (i = 0; i < p->nshards; i++) {
			peerop__ping_shard *sh = p->shards[i];
			if (now >= sh->curl_due_ms) {
				sh->curl_due_ms = UINT64_MAX;
				curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
			}
		}
	}
	return NULL;
}

PEEROP_EXTERN(int) peerop_pinger_start(peerop_pinger *p)
{
	if (!p)
		return peerop__error_set(PEEROP_EINVAL, "pinger start: no pinger");
	pthread_mutex_lock(&p->join_lock);
	if (p->started && !p->joined) {
		pthread_mutex_unlock(&p->join_lock);
		return peerop__error_set(PEEROP_EINVAL, "pinger: started already");
	}
	__atomic_store_n(&p->stop, 0, __ATOMIC_RELEASE);
	if (pthread_create(&p->thread, NULL, pinger_main, p) != 0) {
		pthread_mutex_unlock(&p->join_lock);
		return peerop__error_set(PEEROP_ERROR, "pinger: cannot start a thread");
	}
	p->started = 1;
	p->joined = 0;
	pthread_mutex_unlock(&p->join_lock);
	return 0;
}

static void wake_thread(peerop_pinger *p)
{
	uint64_t one = 1;
	if (write(p->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so the thread is awake anyway */
	}
}

PEEROP_EXTERN(void) peerop_pinger_wake(peerop_pinger *p)
{
	if (!p)
		return;
	__atomic_store_n(&p->wake, 1, __ATOMIC_RELEASE);
	wake_thread(p);
}

PEEROP_EXTERN(void) peerop_pinger_stop(peerop_pinger *p)
{
	int started;
	if (!p)
		return;
	pthread_mutex_lock(&p->join_lock);
	started = p->started;
	pthread_mutex_unlock(&p->join_lock);
	if (!started)
		return;
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	wake_thread(p);
	/* Once, whoever calls (two threads, or twice); from the result
	 * callback, on the thread itself, nothing to wait for: it ends when
	 * the callback returns. */
	peerop__join_once(p->thread, 1, &p->join_lock, &p->joined);
}

PEEROP_EXTERN(void) peerop_pinger_free(peerop_pinger *p)
{
	size_t i;
	if (!p)
		return;
	peerop_pinger_stop(p);
	for (i = 0; i < p->npeers; i++)
		peer_free(p, p->peers[i]);
	free(p->peers);
	peerop__map_dispose(&p->by_addr);
	for (i = 0; i < p->nshards; i++) {
		/* may still close sockets through on_close */
		curl_multi_cleanup(p->shards[i]->multi);
		free(p->shards[i]);
	}
	free(p->fds);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->evfd >= 0)
		close(p->evfd);
	curl_slist_free_all(p->headers);
	free(p->self_id);
	free(p->self_host);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->join_lock);
	free(p);
}
