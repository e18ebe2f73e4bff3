/* check_pinger.c: pingers and servers in process, on loopback: servers that
 * ping each other, bad peers of every kind, peers going down and coming
 * back, never pinging oneself, connections kept alive between rounds. */
#include "config.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd_internal.h"
#include "pinger_internal.h"
#include "testhelp.h"
#include "peertest.h"

/* ---- results seen by the callback --------------------------------------- */

#define MAX_SEEN 64

typedef struct seen {
	char url[128];
	char responder[64];
	int has_responder;
	int ok, error, count, oks;
	unsigned int failures, next_try_ms;
	char reason[256];
} seen;

typedef struct collector {
	pthread_mutex_t lock;
	seen s[MAX_SEEN];
	int n;
} collector;

static void on_result(const peerop_ping_result *r, void *payload)
{
	collector *c = payload;
	seen *e = NULL;
	int i;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->s[i].url, r->url) == 0)
			e = &c->s[i];
	if (!e && c->n < MAX_SEEN) {
		e = &c->s[c->n++];
		snprintf(e->url, sizeof(e->url), "%s", r->url);
	}
	if (e) {
		e->ok = r->ok;
		e->error = r->error;
		e->count++;
		e->oks += r->ok;
		e->failures = r->failures;
		e->next_try_ms = r->next_try_ms;
		e->has_responder = r->responder_id != NULL;
		snprintf(e->responder, sizeof(e->responder), "%s", r->responder_id ? r->responder_id : "");
		snprintf(e->reason, sizeof(e->reason), "%s", r->reason);
	}
	pthread_mutex_unlock(&c->lock);
}

static int get_seen(collector *c, unsigned int port, seen *out)
{
	char url[128];
	int i, found = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ping", port);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->s[i].url, url) == 0) {
			*out = c->s[i];
			found = 1;
		}
	pthread_mutex_unlock(&c->lock);
	return found;
}

static int seen_count(collector *c, unsigned int port)
{
	seen s;
	return get_seen(c, port, &s) ? s.count : 0;
}

static int seen_oks(collector *c, unsigned int port)
{
	seen s;
	return get_seen(c, port, &s) ? s.oks : 0;
}

static peerop_pinger *new_pinger(peerop_peerset *set, const char *id, const char *listen,
	unsigned int interval, unsigned int timeout, unsigned int backoff, collector *c)
{
	peerop_pinger_options o;
	peerop_pinger *p = NULL;
	ck_assert_int_eq(peerop_pinger_options_init(&o, PEEROP_PINGER_OPTIONS_VERSION), 0);
	o.peers = set;
	o.self_id = id;
	o.self_listen = listen;
	o.interval_ms = interval;
	o.timeout_ms = timeout;
	o.backoff_ms = backoff;
	o.jitter = -1;
	o.on_result = on_result;
	o.payload = c;
	ck_assert_int_eq(peerop_pinger_new(&p, &o), 0);
	return p;
}

static peerop_peerset *set_from_file(const char *path)
{
	peerop_peerset_options o = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *s = NULL;
	o.file = path;
	ck_assert_int_eq(peerop_peerset_new(&s, &o), 0);
	return s;
}

START_TEST(test_options)
{
	peerop_pinger_options o = PEEROP_PINGER_OPTIONS_INIT;
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *s = NULL;
	peerop_pinger *p = NULL;

	ck_assert_int_eq(peerop_pinger_options_init(&o, 0), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_pinger_new(&p, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_peerset_new(&s, &so), 0);
	o.peers = s;
	ck_assert_int_eq(peerop_pinger_new(&p, &o), PEEROP_EINVAL);
	o.self_id = "bad\nid";
	ck_assert_int_eq(peerop_pinger_new(&p, &o), PEEROP_EINVAL);
	o.self_id = "ok";
	o.self_listen = "nonsense";
	ck_assert_int_eq(peerop_pinger_new(&p, &o), PEEROP_EINVAL);
	o.self_listen = NULL;
	ck_assert_int_eq(peerop_pinger_new(&p, &o), 0);
	/* an empty set: rounds happen, nothing is pinged, stop is prompt */
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert_int_eq(peerop_pinger_start(p), PEEROP_EINVAL);
	peerop_pinger_stop(p);
	peerop_pinger_stop(p);
	peerop_pinger_free(p);
	peerop_pinger_free(NULL);
	peerop_peerset_free(s);
}
END_TEST

/* ---- bad peers ---------------------------------------------------------------- */

typedef struct bad_case {
	pt_mode mode;
	const char *id;
	int ok;
	int error;
	const char *reason;
} bad_case;

static const bad_case cases[] = {
	{ PT_PONG, "good-1", 1, 0, "" },
	{ PT_PONG_ANON, "anon-1", 1, 0, "" },
	{ PT_WRONG_BODY, "wrong-1", 0, PEEROP_EPROTO, "unexpected body \"hello\\n\" (expected \"pong\\n\")" },
	{ PT_STATUS_500, "err-1", 0, PEEROP_EUNAVAILABLE, "HTTP 500 (expected 200)" },
	{ PT_REDIRECT, "redir-1", 0, PEEROP_EPROTO, "HTTP 302 redirect to http://127.0.0.1:" },
	{ PT_HUGE_BODY, "huge-1", 0, PEEROP_ETOOLARGE, "reply body larger than 256 bytes" },
	{ PT_RESET, "reset-1", 0, PEEROP_ETRUNCATED, "mid-reply" },
	{ PT_SILENT, "silent-1", 0, PEEROP_ETIMEOUT, "timeout after 500 ms" },
	{ PT_GARBAGE, "junk-1", 0, PEEROP_EPROTO, "not an HTTP reply" },
};

START_TEST(test_bad_peers)
{
	pt_server *srv[PEEROP__ARRAY_SIZE(cases)];
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	peerop__buf file = PEEROP__BUF_INIT;
	collector c;
	peerop_peerset *set;
	peerop_pinger *p;
	peerop_pinger_stats st;
	unsigned int closed_port;
	int closed_fd;
	size_t i;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	th_log_capture_start(PEEROP_LOG_INFO);
	/* A port nobody listens on. Bound but never listening, so connections
	 * are refused and nothing else (another server of this test, another
	 * test running in parallel) can take the port meanwhile, as could
	 * happen to a port bound and closed. */
	{
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		closed_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(closed_fd, 0);
		ck_assert_int_eq(bind(closed_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(closed_fd, (struct sockaddr *)&sa, &salen), 0);
		closed_port = ntohs(sa.sin_port);
	}
	peerop__buf_puts(&file, "{\"peers\":[");
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		ck_assert_ptr_nonnull(srv[i] = pt_server_start(cases[i].mode, cases[i].id));
		peerop__buf_printf(&file, "{\"id\":\"%s\",\"host\":\"127.0.0.1\",\"port\":%u},", cases[i].id,
			pt_server_port(srv[i]));
	}
	peerop__buf_printf(&file, "{\"id\":\"gone-1\",\"host\":\"127.0.0.1\",\"port\":%u}]}", closed_port);
	ck_assert_int_eq(th_write_str(path, file.ptr), 0);
	set = set_from_file(path);
	p = new_pinger(set, "tester", NULL, 5000, 500, 100, &c);
	ck_assert_int_eq(peerop_pinger_start(p), 0);

	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		seen s;
		ck_assert_msg(TH_WAIT_UNTIL(seen_count(&c, pt_server_port(srv[i])) >= 2, 30000),
			"no two results for %s", cases[i].id);
		ck_assert(get_seen(&c, pt_server_port(srv[i]), &s));
		ck_assert_msg(s.ok == cases[i].ok, "%s: ok=%d (%s)", cases[i].id, s.ok, s.reason);
		ck_assert_msg(s.error == cases[i].error, "%s: error %s (%s)", cases[i].id,
			peerop_error_name(s.error), s.reason);
		ck_assert_msg(strstr(s.reason, cases[i].reason) != NULL, "%s: reason \"%s\"", cases[i].id, s.reason);
	}
	{
		seen s;
		ck_assert(TH_WAIT_UNTIL(seen_count(&c, closed_port) >= 3, 30000));
		ck_assert(get_seen(&c, closed_port, &s));
		ck_assert_str_eq(s.reason, "connection refused");
		ck_assert_int_eq(s.error, PEEROP_ECONNECT);
		/* backoff 100 ms doubling: the third failure waits 400 ms */
		ck_assert_uint_ge(s.failures, 3);
	}
	/* the log lines, in the original project's shape */
	{
		char want[256];
		snprintf(want, sizeof(want), "Pinged http://127.0.0.1:%u/ping - Response: pong from good-1 (",
			pt_server_port(srv[0]));
		ck_assert_int_ge(th_log_count(want), 1);
		snprintf(want, sizeof(want), "Pinged http://127.0.0.1:%u/ping - Response: pong from anon-1 (unconfirmed) (",
			pt_server_port(srv[1]));
		ck_assert_int_ge(th_log_count(want), 1);
		snprintf(want, sizeof(want), "Failed to ping http://127.0.0.1:%u/ping: timeout after 500 ms "
			"(1st failure, next try in 0.1 s)", pt_server_port(srv[7]));
		ck_assert_int_eq(th_log_count(want), 1);
		snprintf(want, sizeof(want), "Failed to ping http://127.0.0.1:%u/ping: connection refused "
			"(3rd failure, next try in 0.4 s)", closed_port);
		ck_assert_int_eq(th_log_count(want), 1);
	}
	/* /peers knows each one */
	{
		json_t *status = NULL, *peers;
		ck_assert_int_eq(peerop_pinger_status(&status, p), 0);
		peers = json_object_get(status, "peers");
		ck_assert_uint_eq(json_array_size(peers), PEEROP__ARRAY_SIZE(cases) + 1);
		for (i = 0; i < json_array_size(peers); i++) {
			json_t *e = json_array_get(peers, i);
			const char *id = json_string_value(json_object_get(e, "id"));
			if (strcmp(id, "anon-1") == 0) {
				ck_assert_str_eq(json_string_value(json_object_get(e, "last_seen_id")), "anon-1");
				ck_assert(json_is_false(json_object_get(e, "confirmed")));
				ck_assert_str_eq(json_string_value(json_object_get(e, "last_result")), "ok");
			} else if (strcmp(id, "silent-1") == 0) {
				ck_assert_str_eq(json_string_value(json_object_get(e, "last_result")), "failed");
				ck_assert_int_ge(json_integer_value(json_object_get(e, "consecutive_failures")), 1);
				ck_assert(json_is_string(json_object_get(e, "last_error")));
			}
		}
		json_decref(status);
	}
	peerop_pinger_get_stats(p, &st);
	ck_assert_uint_ge(st.failures, 8);
	ck_assert_uint_ge(st.pongs, 2);
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++)
		pt_server_stop(srv[i]);
	close(closed_fd);
	th_log_capture_stop();
	peerop__buf_dispose(&file);
	free(path);
	th_tmpdir_remove(dir);
	pthread_mutex_destroy(&c.lock);
}
END_TEST

/* ---- servers pinging each other -------------------------------------------------- */

#define NODES 3

static peerop_httpd *node_httpd(const char *id)
{
	peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_httpd *h = NULL;
	o.listen = "127.0.0.1:0";
	o.identity = id;
	o.threads = 1;
	ck_assert_int_eq(peerop_httpd_new(&h, &o), 0);
	return h;
}

START_TEST(test_mutual_ping)
{
	static const char *ids[NODES] = { "node-0", "node-1", "node-2" };
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	peerop__buf file = PEEROP__BUF_INIT;
	peerop_httpd *h[NODES];
	peerop_pinger *p[NODES];
	peerop_peerset *set;
	collector c[NODES];
	unsigned int port[NODES];
	char listen[64];
	int i, j;

	th_log_capture_start(PEEROP_LOG_INFO);
	for (i = 0; i < NODES; i++) {
		h[i] = node_httpd(ids[i]);
		ck_assert_int_eq(peerop_httpd_start(h[i]), 0);
		port[i] = peerop_httpd_port(h[i]);
	}
	/* every node, plus node-0 again under another name and another
	 * spelling of its address (skipped by address), plus node-1 by its
	 * name at an address that is not its own (skipped by identity) */
	peerop__buf_puts(&file, "{\"peers\":[");
	for (i = 0; i < NODES; i++)
		peerop__buf_printf(&file, "{\"id\":\"%s\",\"host\":\"127.0.0.1\",\"port\":%u},", ids[i], port[i]);
	peerop__buf_printf(&file, "{\"id\":\"alias-of-0\",\"host\":\"::ffff:127.0.0.1\",\"port\":%u},", port[0]);
	peerop__buf_printf(&file, "{\"id\":\"node-1\",\"host\":\"192.0.2.1\",\"port\":9}]}");
	ck_assert_int_eq(th_write_str(path, file.ptr), 0);
	set = set_from_file(path);
	ck_assert(peerop_peerset_loaded(set));
	for (i = 0; i < NODES; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		pthread_mutex_init(&c[i].lock, NULL);
		snprintf(listen, sizeof(listen), "127.0.0.1:%u", port[i]);
		p[i] = new_pinger(set, ids[i], listen, 150, 2000, 100, &c[i]);
		ck_assert_int_eq(peerop_pinger_serve(p[i], h[i]), PEEROP_EINVAL); /* started already */
		ck_assert_int_eq(peerop_pinger_start(p[i]), 0);
	}
	/* each node hears pongs carrying the others' identities */
	for (i = 0; i < NODES; i++)
		for (j = 0; j < NODES; j++) {
			seen s;
			if (i == j) {
				continue;
			}
			ck_assert_msg(TH_WAIT_UNTIL(seen_oks(&c[i], port[j]) >= 6, 30000), "%s never heard %s", ids[i], ids[j]);
			ck_assert(get_seen(&c[i], port[j], &s));
			ck_assert_str_eq(s.responder, ids[j]);
			ck_assert(s.has_responder);
		}
	/* nobody pinged itself: neither by name, nor by address, nor as node-1 elsewhere */
	for (i = 0; i < NODES; i++) {
		peerop_pinger_stats st;
		ck_assert_int_eq(seen_count(&c[i], port[i]), 0);
		peerop_pinger_get_stats(p[i], &st);
		ck_assert_uint_eq(st.peers, i == 2 ? 4 : 3);
	}
	/* keep-alive: many pings, few connections */
	for (i = 0; i < NODES; i++) {
		unsigned long long pings = __atomic_load_n(&h[i]->pings_received, __ATOMIC_ACQUIRE);
		unsigned long long conns = __atomic_load_n(&h[i]->connections_total, __ATOMIC_ACQUIRE);
		ck_assert_msg(pings >= 12 && conns <= 8, "%s: %llu pings over %llu connections", ids[i], pings, conns);
	}
	{
		char want[128];
		snprintf(want, sizeof(want), "Pinged http://127.0.0.1:%u/ping - Response: pong from node-1 (", port[1]);
		ck_assert_int_ge(th_log_count(want), 2);
	}
	for (i = 0; i < NODES; i++) {
		peerop_pinger_free(p[i]);
		peerop_httpd_free(h[i]);
		pthread_mutex_destroy(&c[i].lock);
	}
	peerop_peerset_free(set);
	th_log_capture_stop();
	peerop__buf_dispose(&file);
	free(path);
	th_tmpdir_remove(dir);
}
END_TEST

/* More peers than one multi handle takes: the peers spread over shards,
 * each keeps its connections alive, and peers leaving and joining free
 * and refill places without opening more shards than needed. */
#define SHARD_NODES 10

static void write_nodes_file(const char *path, const unsigned int *port, int from, int to)
{
	peerop__buf file = PEEROP__BUF_INIT;
	int i;
	peerop__buf_puts(&file, "{\"peers\":[");
	for (i = from; i < to; i++)
		peerop__buf_printf(&file, "%s{\"id\":\"shard-node-%d\",\"host\":\"127.0.0.1\",\"port\":%u}",
			i > from ? "," : "", i, port[i]);
	peerop__buf_puts(&file, "]}");
	ck_assert_int_eq(th_write_str(path, file.ptr), 0);
	peerop__buf_dispose(&file);
}

static void check_shards(peerop_pinger *p, size_t want_shards, size_t want_peers)
{
	size_t i, total = 0;
	ck_assert_uint_eq(p->nshards, want_shards);
	for (i = 0; i < p->nshards; i++) {
		ck_assert_uint_le(p->shards[i]->npeers, p->shard_peers);
		total += p->shards[i]->npeers;
	}
	ck_assert_uint_eq(total, want_peers);
	ck_assert_uint_eq(p->npeers, want_peers);
	ck_assert_uint_eq(peerop__map_count(&p->by_addr), want_peers);
}

START_TEST(test_shards)
{
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	peerop_httpd *h[SHARD_NODES];
	unsigned int port[SHARD_NODES];
	int before[SHARD_NODES];
	peerop_peerset *set;
	peerop_pinger *p;
	collector c;
	char id[32];
	int i;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	for (i = 0; i < SHARD_NODES; i++) {
		snprintf(id, sizeof(id), "shard-node-%d", i);
		h[i] = node_httpd(id);
		ck_assert_int_eq(peerop_httpd_start(h[i]), 0);
		port[i] = peerop_httpd_port(h[i]);
	}
	write_nodes_file(path, port, 0, SHARD_NODES);
	set = set_from_file(path);
	p = new_pinger(set, "shard-pinger", NULL, 150, 2000, 100, &c);
	p->shard_peers = 3;
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	for (i = 0; i < SHARD_NODES; i++)
		ck_assert_msg(TH_WAIT_UNTIL(seen_oks(&c, port[i]) >= 3, 30000), "node %d never answered 3 times", i);
	peerop_pinger_stop(p);
	check_shards(p, 4, SHARD_NODES);
	/* keep-alive within every shard: several pings, one connection each */
	for (i = 0; i < SHARD_NODES; i++) {
		unsigned long long pings = __atomic_load_n(&h[i]->pings_received, __ATOMIC_ACQUIRE);
		unsigned long long conns = __atomic_load_n(&h[i]->connections_total, __ATOMIC_ACQUIRE);
		ck_assert_msg(pings >= 3 && conns <= 2, "node %d: %llu pings over %llu connections", i, pings, conns);
	}

	/* half the peers leave... */
	write_nodes_file(path, port, 0, SHARD_NODES / 2);
	ck_assert_int_eq(peerop_peerset_reload(set), 0);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(({ peerop_pinger_stats st; peerop_pinger_get_stats(p, &st);
		st.peers == SHARD_NODES / 2; }), 20000));
	peerop_pinger_stop(p);
	check_shards(p, 4, SHARD_NODES / 2);

	/* ...and come back: they fill the places freed, no new shard */
	write_nodes_file(path, port, 0, SHARD_NODES);
	ck_assert_int_eq(peerop_peerset_reload(set), 0);
	for (i = 0; i < SHARD_NODES; i++)
		before[i] = seen_oks(&c, port[i]);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	for (i = 0; i < SHARD_NODES; i++)
		ck_assert_msg(TH_WAIT_UNTIL(seen_oks(&c, port[i]) >= before[i] + 2, 30000), "node %d not pinged again", i);
	peerop_pinger_stop(p);
	check_shards(p, 4, SHARD_NODES);

	peerop_pinger_free(p);
	peerop_peerset_free(set);
	for (i = 0; i < SHARD_NODES; i++)
		peerop_httpd_free(h[i]);
	free(path);
	th_tmpdir_remove(dir);
	pthread_mutex_destroy(&c.lock);
}
END_TEST

/* The pinger spares libcurl its proxy lookups only when no proxy variable
 * is set: one that is set when the pinger starts is still obeyed. */
START_TEST(test_proxy_variable_obeyed)
{
	pt_server *good = pt_server_start(PT_PONG, "behind-proxy"), *tmp = pt_server_start(PT_PONG, "x");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *set = NULL;
	peerop_pinger *p;
	collector c;
	char url[64], proxy[64];
	seen s;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	/* a proxy address nobody listens on */
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", pt_server_port(tmp));
	pt_server_stop(tmp);
	ck_assert_int_eq(setenv("http_proxy", proxy, 1), 0);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", pt_server_port(good));
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	p = new_pinger(set, "proxied", NULL, 200, 1000, 100, &c);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(seen_count(&c, pt_server_port(good)) >= 2, 20000));
	ck_assert(get_seen(&c, pt_server_port(good), &s));
	ck_assert_int_eq(s.oks, 0);
	ck_assert_str_eq(s.reason, "connection refused");
	ck_assert_uint_eq(pt_server_hits(good), 0);
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	pt_server_stop(good);
	unsetenv("http_proxy");
	pthread_mutex_destroy(&c.lock);
}
END_TEST

START_TEST(test_learns_self_from_pong)
{
	peerop_httpd *h = node_httpd("me");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *set = NULL;
	peerop_pinger *p;
	collector c;
	char url[64];

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://localhost:%u", peerop_httpd_port(h));
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	p = new_pinger(set, "me", NULL, 100, 1000, 100, &c);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(th_log_count("it is this server (me)") == 1, 20000));
	{
		/* after a few more rounds: still asked only once */
		peerop_pinger_stats st;
		peerop_pinger_get_stats(p, &st);
		ck_assert(TH_WAIT_UNTIL(({ peerop_pinger_stats s2; peerop_pinger_get_stats(p, &s2); s2.rounds >= st.rounds + 3; }), 20000));
	}
	ck_assert_int_eq(__atomic_load_n(&h->pings_received, __ATOMIC_ACQUIRE), 1);
	ck_assert_int_eq(c.n, 0);
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	peerop_httpd_free(h);
	th_log_capture_stop();
	pthread_mutex_destroy(&c.lock);
}
END_TEST

START_TEST(test_down_and_back)
{
	peerop_httpd *h = node_httpd("flaky");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *set = NULL;
	peerop_pinger *p;
	collector c;
	unsigned int port;
	char url[64], want[256];
	seen s;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	port = peerop_httpd_port(h);
	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	p = new_pinger(set, "watcher", NULL, 800, 300, 100, &c);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(seen_oks(&c, port) >= 1, 20000));

	/* down: failures back off 0.1, 0.2, 0.4, then the interval caps them */
	peerop_httpd_free(h);
	snprintf(want, sizeof(want), "Failed to ping %s/ping: connection refused (5th failure, next try in 0.8 s)", url);
	ck_assert(TH_WAIT_UNTIL(th_log_count(want) == 1, 30000));
	snprintf(want, sizeof(want), "Failed to ping %s/ping: connection refused (3rd failure, next try in 0.4 s)", url);
	ck_assert_int_eq(th_log_count(want), 1);
	snprintf(want, sizeof(want), "Failed to ping %s/ping: connection refused (4th failure, next try in 0.8 s)", url);
	ck_assert_int_eq(th_log_count(want), 1);

	/* back, on the same port: the next try is a pong again */
	{
		peerop_httpd_options o = PEEROP_HTTPD_OPTIONS_INIT;
		char listen[64];
		int before = seen_oks(&c, port);
		snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
		o.listen = listen;
		o.identity = "flaky-reborn";
		o.threads = 1;
		ck_assert_int_eq(peerop_httpd_new(&h, &o), 0);
		ck_assert_int_eq(peerop_httpd_start(h), 0);
		ck_assert(TH_WAIT_UNTIL(seen_oks(&c, port) > before, 20000));
	}
	ck_assert(get_seen(&c, port, &s));
	ck_assert_int_eq(s.failures, 0);
	ck_assert_str_eq(s.responder, "flaky-reborn");
	snprintf(want, sizeof(want), "Pinged %s/ping - Response: pong from flaky-reborn (", url);
	ck_assert_int_ge(th_log_count(want), 1);
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	peerop_httpd_free(h);
	th_log_capture_stop();
	pthread_mutex_destroy(&c.lock);
}
END_TEST

START_TEST(test_serve_peers_and_metrics)
{
	peerop_httpd *h = node_httpd("server-a"), *other = node_httpd("server-b");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *set = NULL;
	peerop_pinger *p;
	collector c;
	char url[64], *body = NULL;
	json_t *doc;
	json_error_t err;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	ck_assert_int_eq(peerop_httpd_start(other), 0);
	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", peerop_httpd_port(other));
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	p = new_pinger(set, "server-a", NULL, 100, 1000, 100, &c);
	ck_assert_int_eq(peerop_pinger_serve(p, h), 0);
	ck_assert_int_eq(peerop_httpd_start(h), 0);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(seen_oks(&c, peerop_httpd_port(other)) >= 3, 20000));

	ck_assert_int_eq(pt_get(peerop_httpd_port(h), "/peers", &body), 200);
	doc = json_loads(body, 0, &err);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "self")), "server-a");
	{
		json_t *e = json_array_get(json_object_get(doc, "peers"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(e, "last_seen_id")), "server-b");
		ck_assert_str_eq(json_string_value(json_object_get(e, "source")), "static");
		ck_assert(json_is_true(json_object_get(e, "confirmed")));
		ck_assert(json_is_real(json_object_get(json_object_get(e, "latency_ms"), "avg")));
	}
	json_decref(doc);
	free(body);
	ck_assert_int_eq(pt_get(peerop_httpd_port(h), "/metrics", &body), 200);
	ck_assert_ptr_nonnull(strstr(body, "# TYPE peerop_ping_latency_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(body, "peerop_ping_latency_seconds_bucket{le=\"+Inf\"} "));
	ck_assert_ptr_nonnull(strstr(body, "peerop_pings_total{result=\"pong\"} "));
	ck_assert_ptr_nonnull(strstr(body, "peerop_peers 1\n"));
	free(body);
	peerop_pinger_stop(p);
	peerop_httpd_free(h);
	peerop_httpd_free(other);
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	pthread_mutex_destroy(&c.lock);
}
END_TEST

/* ---- hostile identities, stopping from anywhere ------------------------------ */

/* A peer names itself: its identity reaches the text log escaped (an
 * escape sequence for the terminal, a backslash, a byte outside ASCII). */
START_TEST(test_hostile_identity_escaped)
{
	pt_server *srv = pt_server_start(PT_PONG, "evil\x1b[2J\x07\\x\xff");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *set = NULL;
	peerop_pinger *p;
	collector c;
	char url[64], *log;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", pt_server_port(srv));
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	p = new_pinger(set, "watcher", NULL, 200, 2000, 100, &c);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(seen_oks(&c, pt_server_port(srv)) >= 1, 20000));
	peerop_pinger_free(p);
	log = th_log_captured();
	ck_assert_msg(strstr(log, "pong from evil\\x1b[2J\\x07\\x5cx\\xff (") != NULL, "%s", log);
	ck_assert_ptr_null(strchr(log, '\x1b'));
	ck_assert_ptr_null(strchr(log, '\x07'));
	free(log);
	th_log_capture_stop();
	peerop_peerset_free(set);
	pt_server_stop(srv);
	pthread_mutex_destroy(&c.lock);
}
END_TEST

typedef struct stopper {
	peerop_pinger *p;      /* atomic */
	int results;           /* atomic */
	int after_stop;        /* results after the stop from the callback */
	int stopped;           /* atomic */
} stopper;

static void stop_on_result(const peerop_ping_result *r, void *payload)
{
	stopper *st = payload;
	(void)r;
	if (__atomic_load_n(&st->stopped, __ATOMIC_ACQUIRE))
		st->after_stop++;
	__atomic_add_fetch(&st->results, 1, __ATOMIC_ACQ_REL);
	peerop_pinger_stop(__atomic_load_n(&st->p, __ATOMIC_ACQUIRE));
	peerop_pinger_stop(__atomic_load_n(&st->p, __ATOMIC_ACQUIRE)); /* twice, too */
	__atomic_store_n(&st->stopped, 1, __ATOMIC_RELEASE);
}

static void *stop_main(void *arg)
{
	peerop_pinger_stop(arg);
	return NULL;
}

/* peerop_pinger_stop from the result callback asks (the thread ends after
 * the callback), and from two threads at once joins once. */
START_TEST(test_stop_anywhere)
{
	pt_server *srv = pt_server_start(PT_PONG, "peer");
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_pinger_options o;
	peerop_peerset *set = NULL;
	peerop_pinger *p = NULL;
	stopper st;
	pthread_t t[2];
	char url[64];
	int round, i;

	ck_assert_int_eq(peerop_peerset_new(&set, &so), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", pt_server_port(srv));
	ck_assert_int_eq(peerop_peerset_add_static(set, url), 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(peerop_pinger_options_init(&o, PEEROP_PINGER_OPTIONS_VERSION), 0);
	o.peers = set;
	o.self_id = "stopper";
	o.interval_ms = 100;
	o.timeout_ms = 2000;
	o.on_result = stop_on_result;
	o.payload = &st;
	ck_assert_int_eq(peerop_pinger_new(&p, &o), 0);
	__atomic_store_n(&st.p, p, __ATOMIC_RELEASE);
	ck_assert_int_eq(peerop_pinger_start(p), 0);
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&st.stopped, __ATOMIC_ACQUIRE), 20000));
	peerop_pinger_stop(p);   /* joins the thread the callback stopped */
	ck_assert_int_eq(st.after_stop, 0);
	/* started again, then stopped by two threads at once, a few times */
	for (round = 0; round < 5; round++) {
		ck_assert_int_eq(peerop_pinger_start(p), 0);
		for (i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, stop_main, p), 0);
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
	peerop_pinger_free(p);
	peerop_peerset_free(set);
	pt_server_stop(srv);
}
END_TEST

static Suite *pinger_suite(void)
{
	Suite *s = suite_create("pinger");
	TCase *tc = tcase_create("pinger");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_bad_peers);
	tcase_add_test(tc, test_mutual_ping);
	tcase_add_test(tc, test_shards);
	tcase_add_test(tc, test_proxy_variable_obeyed);
	tcase_add_test(tc, test_learns_self_from_pong);
	tcase_add_test(tc, test_down_and_back);
	tcase_add_test(tc, test_serve_peers_and_metrics);
	tcase_add_test(tc, test_hostile_identity_escaped);
	tcase_add_test(tc, test_stop_anywhere);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;
	peerop_global_init();
	rc = th_run_suite(pinger_suite());
	peerop_global_cleanup();
	return rc;
}
