/*
 * peerop-server: an HTTP server that answers GET /ping with "pong\n" and
 * pings every other member of its peer set on an interval.
 *
 * A thin program over libpeerop's httpd.h and peer.h: it parses the
 * command line and the environment, wires a peer set, a pinger and a
 * server together, and turns SIGTERM/SIGINT into a graceful stop.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <peerop/peerop.h>

#define MAX_STATIC 256
#define GRACE_MS 10000

static const char usage[] =
"Usage: peerop-server --listen ADDR:PORT --id NAME --peers-file FILE --ping-interval SECONDS\n"
"                     [--peer URL]... [--peers-dns NAME:PORT] [--log-format text|json]\n"
"       peerop-server --check --peers-file FILE [--expect-peers N] [--check-timeout SECONDS]\n"
"\n"
"Answers GET /ping with \"pong\\n\" and the header X-Peerop-Id: NAME, and pings every\n"
"peer each interval, logging each reply with the identity of the peer that answered.\n"
"Every flag can also be set in the environment (a flag wins over its variable).\n"
"\n"
"  --listen ADDR:PORT        where to listen; :PORT or [::]:PORT is every IPv4 and IPv6\n"
"                            address, [::1]:PORT an IPv6 one, 0 as PORT a free port\n"
"                            (env PEEROP_LISTEN; default :8080)\n"
"  --id NAME                 this server's identity, sent in X-Peerop-Id on every pong\n"
"                            and with every ping (env POD_NAME; default: the host name)\n"
"  --peers-file FILE         JSON peers file, reloaded when it changes (also a ConfigMap\n"
"                            volume's ..data swap):\n"
"                            {\"peers\":[{\"id\":\"demoweb-0\",\"host\":\"10.1.2.3\",\"port\":8080}]}\n"
"                            It may list this server, which is never pinged.\n"
"                            (env PEEROP_PEERS_FILE)\n"
"  --ping-interval SECONDS   time between rounds of pings, fractions allowed, +/- 10%\n"
"                            jitter (env PEEROP_PING_INTERVAL; default 60)\n"
"  --peer URL                a static peer, http://HOST:PORT; repeatable\n"
"                            (env PEEROP_PEERS, comma-separated)\n"
"  --peers-dns NAME:PORT     every A/AAAA record of NAME is a peer on PORT, looked up\n"
"                            again each round (env PEEROP_PEERS_DNS)\n"
"  --log-format text|json    text: timestamp, level, message; json: one object per line\n"
"                            with \"msg\" and fields (env PEEROP_LOG_FORMAT; default text)\n"
"  --log-level LEVEL         trace, debug, info, warn or error; debug shows who pinged\n"
"                            this server (env PEEROP_LOG_LEVEL; default info)\n"
"  --ping-timeout SECONDS    how long one ping may take (env PEEROP_PING_TIMEOUT;\n"
"                            default 2, never more than the interval)\n"
"  --threads N               HTTP worker threads (env PEEROP_THREADS; default: CPUs)\n"
"  --check                   serve nothing: ping every peer of the set each second until\n"
"                            each one (at least --expect-peers of them) has answered\n"
"                            200 \"pong\\n\" as the identity the set gives it, then exit 0;\n"
"                            exit 1 with each failure after --check-timeout (default 60)\n"
"                            seconds. For `helm test` and scripts.\n"
"  --help                    this text\n"
"  --version                 the version\n"
"\n"
"Routes: /ping, /healthz, /readyz (200 once the peers file is loaded), /metrics\n"
"(Prometheus), /peers (JSON). SIGTERM or SIGINT: stop accepting, finish the requests\n"
"in flight, exit 0.\n";

typedef struct config {
	const char *listen, *id, *peers_file, *interval, *dns, *log_format, *log_level, *timeout, *threads;
	const char *peers[MAX_STATIC];
	int check;
	const char *expect_peers, *check_timeout;
	size_t npeers;
	char *env_peers;
} config;

typedef struct app {
	peerop_httpd *httpd;
	peerop_pinger *pinger;
	peerop_peerset *set;
	pthread_mutex_t lock;
} app;

static peerop_log_stream log_stream;

/* Text lines are "TIME LEVEL message": the fields are for the JSON format. */
static void log_cb(const peerop_log_record *rec, void *payload)
{
	peerop_log_record bare;
	if (log_stream.format == PEEROP_LOG_FORMAT_JSON) {
		peerop_log_stream_cb(rec, payload);
		return;
	}
	bare = *rec;
	bare.fields = NULL;
	bare.nfields = 0;
	peerop_log_stream_cb(&bare, payload);
}

static void on_change(peerop_peerset *set, void *payload)
{
	app *a = payload;
	pthread_mutex_lock(&a->lock);
	if (a->httpd && peerop_peerset_loaded(set))
		peerop_httpd_set_ready(a->httpd, 1);
	if (a->pinger)
		peerop_pinger_wake(a->pinger);
	pthread_mutex_unlock(&a->lock);
}

static const char *env_or(const char *flag, const char *var, const char *def)
{
	const char *v;
	if (flag)
		return flag;
	v = getenv(var);
	return v && *v ? v : def;
}

static int parse_seconds(unsigned int *out_ms, const char *s, const char *what)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.01 && v <= 86400)) {
		fprintf(stderr, "peerop-server: %s \"%s\": expected seconds between 0.01 and 86400\n", what, s);
		return -1;
	}
	*out_ms = (unsigned int)(v * 1000.0 + 0.5);
	return 0;
}

static int parse_args(config *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "id", required_argument, NULL, 'i' },
		{ "peers-file", required_argument, NULL, 'f' },
		{ "ping-interval", required_argument, NULL, 'p' },
		{ "peer", required_argument, NULL, 'P' },
		{ "peers-dns", required_argument, NULL, 'd' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "ping-timeout", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "check", no_argument, NULL, 'C' },
		{ "expect-peers", required_argument, NULL, 'E' },
		{ "check-timeout", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(c, 0, sizeof(*c));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': c->listen = optarg; break;
		case 'i': c->id = optarg; break;
		case 'f': c->peers_file = optarg; break;
		case 'p': c->interval = optarg; break;
		case 'd': c->dns = optarg; break;
		case 'F': c->log_format = optarg; break;
		case 'L': c->log_level = optarg; break;
		case 't': c->timeout = optarg; break;
		case 'T': c->threads = optarg; break;
		case 'C': c->check = 1; break;
		case 'E': c->expect_peers = optarg; break;
		case 'W': c->check_timeout = optarg; break;
		case 'P':
			if (c->npeers == MAX_STATIC) {
				fprintf(stderr, "peerop-server: at most %d --peer flags\n", MAX_STATIC);
				return 2;
			}
			c->peers[c->npeers++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return 1;
		case 'V': printf("peerop-server %s\n", peerop_version()); return 1;
		default: fputs("Try 'peerop-server --help'.\n", stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "peerop-server: unexpected argument \"%s\"\nTry 'peerop-server --help'.\n", argv[optind]);
		return 2;
	}
	c->listen = env_or(c->listen, "PEEROP_LISTEN", ":8080");
	c->id = env_or(c->id, "POD_NAME", NULL);
	c->peers_file = env_or(c->peers_file, "PEEROP_PEERS_FILE", NULL);
	c->interval = env_or(c->interval, "PEEROP_PING_INTERVAL", "60");
	c->dns = env_or(c->dns, "PEEROP_PEERS_DNS", NULL);
	c->log_format = env_or(c->log_format, "PEEROP_LOG_FORMAT", "text");
	c->log_level = env_or(c->log_level, "PEEROP_LOG_LEVEL", "info");
	c->timeout = env_or(c->timeout, "PEEROP_PING_TIMEOUT", "2");
	c->threads = env_or(c->threads, "PEEROP_THREADS", "0");
	if (c->npeers == 0 && getenv("PEEROP_PEERS") && (c->env_peers = strdup(getenv("PEEROP_PEERS")))) {
		char *save = NULL, *tok;
		for (tok = strtok_r(c->env_peers, ", ", &save); tok && c->npeers < MAX_STATIC;
		     tok = strtok_r(NULL, ", ", &save))
			c->peers[c->npeers++] = tok;
	}
	return 0;
}

static void raise_fd_limit(void)
{
	/* a pinger with thousands of peers holds a socket per peer */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int fail(const char *what)
{
	const peerop_error *e = peerop_error_last();
	peerop_log_emit(PEEROP_LOG_ERROR, "server", NULL, 0, "%s: %s", what, e->message);
	return 1;
}

/* Every peer's last ping answered pong from the identity the set names?
 * Fills why with the first that did not. */
static int all_pong(const json_t *status, size_t *count, char *why, size_t whysize)
{
	const json_t *peer;
	size_t i;

	*count = json_array_size(json_object_get(status, "peers"));
	json_array_foreach(json_object_get(status, "peers"), i, peer) {
		const char *url = json_string_value(json_object_get(peer, "url"));
		const char *id = json_string_value(json_object_get(peer, "id"));
		const char *seen = json_string_value(json_object_get(peer, "last_seen_id"));
		const char *res = json_string_value(json_object_get(peer, "last_result"));
		const char *err = json_string_value(json_object_get(peer, "last_error"));
		if (!res || strcmp(res, "ok")) {
			snprintf(why, whysize, "%s (%s): %s", url ? url : "?", id ? id : "?",
				err ? err : res ? res : "no result");
			return 0;
		}
		if (id && *id && (!seen || strcmp(seen, id))) {
			snprintf(why, whysize, "%s answered as \"%s\", not \"%s\"", url ? url : "?",
				seen ? seen : "(no X-Peerop-Id)", id);
			return 0;
		}
	}
	return 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --check: ping the set once a second until every peer (at least
 * `expect` of them) answered pong, or the deadline passes. */
static int check(const config *c, app *a, const char *id)
{
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_pinger_options po = PEEROP_PINGER_OPTIONS_INIT;
	unsigned int timeout_ms, deadline_ms;
	unsigned long expect = 0;
	char why[512] = "no result yet", *end;
	double deadline;
	size_t i, n = 0;

	if (parse_seconds(&timeout_ms, c->timeout, "--ping-timeout") ||
	    parse_seconds(&deadline_ms, c->check_timeout ? c->check_timeout : "60", "--check-timeout"))
		return 2;
	if (c->expect_peers) {
		errno = 0;
		expect = strtoul(c->expect_peers, &end, 10);
		if (errno || !*c->expect_peers || *end || expect > 100000) {
			fprintf(stderr, "peerop-server: --expect-peers \"%s\": expected 0-100000\n", c->expect_peers);
			return 2;
		}
	}
	if (!c->peers_file && !c->npeers && !c->dns) {
		fprintf(stderr, "peerop-server: --check needs peers (--peers-file, --peer or --peers-dns)\n");
		return 2;
	}
	so.file = c->peers_file;
	if (peerop_peerset_new(&a->set, &so) != 0)
		return fail("peer set");
	for (i = 0; i < c->npeers; i++)
		if (peerop_peerset_add_static(a->set, c->peers[i]) != 0)
			return fail("--peer");
	if (c->dns && peerop_peerset_set_dns(a->set, c->dns) != 0)
		return fail("--peers-dns");
	po.peers = a->set;
	po.self_id = id;
	po.interval_ms = 1000;
	po.timeout_ms = timeout_ms < 1000 ? timeout_ms : 1000;
	po.backoff_ms = 1000;
	if (peerop_pinger_new(&a->pinger, &po) != 0)
		return fail("pinger");
	if (peerop_peerset_watch(a->set) != 0 || peerop_pinger_start(a->pinger) != 0)
		return fail("start");
	deadline = now_s() + deadline_ms / 1000.0;
	for (;;) {
		json_t *st = NULL;
		int ok = 0;
		if (peerop_pinger_status(&st, a->pinger) == 0) {
			ok = all_pong(st, &n, why, sizeof(why));
			if (ok && (n == 0 || n < expect))
				snprintf(why, sizeof(why), "%zu peers in the set, %lu expected", n, expect ? expect : 1);
			ok = ok && n > 0 && n >= expect;
			if (ok) {
				const json_t *peer;
				printf("OK: %zu peers answered pong:", n);
				json_array_foreach(json_object_get(st, "peers"), i, peer)
					printf(" %s", json_string_value(json_object_get(peer, "id")));
				printf("\n");
			}
		}
		json_decref(st);
		if (ok)
			return 0;
		if (now_s() >= deadline)
			break;
		usleep(200 * 1000);
	}
	fprintf(stderr, "peerop-server: --check: FAILED after %g s: %s\n", deadline_ms / 1000.0, why);
	return 1;
}

static int run(const config *c, app *a, char *hostname)
{
	peerop_httpd_options ho = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_pinger_options po = PEEROP_PINGER_OPTIONS_INIT;
	unsigned int interval_ms, timeout_ms;
	const char *id = c->id ? c->id : hostname;
	sigset_t sigs;
	char *end;
	long threads;
	size_t i;
	int sig = 0, rc;

	if (c->check)
		return check(c, a, id);
	if (parse_seconds(&interval_ms, c->interval, "--ping-interval") ||
	    parse_seconds(&timeout_ms, c->timeout, "--ping-timeout"))
		return 2;
	threads = strtol(c->threads, &end, 10);
	if (*end || threads < 0 || threads > 256) {
		fprintf(stderr, "peerop-server: --threads \"%s\": expected 0-256\n", c->threads);
		return 2;
	}
	ho.listen = c->listen;
	ho.identity = id;
	ho.threads = (unsigned int)threads;
	if (peerop_httpd_new(&a->httpd, &ho) != 0)
		return fail("--listen/--id");
	so.file = c->peers_file;
	so.on_change = on_change;
	so.payload = a;
	if (peerop_peerset_new(&a->set, &so) != 0)
		return fail("peer set");
	for (i = 0; i < c->npeers; i++)
		if (peerop_peerset_add_static(a->set, c->peers[i]) != 0)
			return fail("--peer");
	if (c->dns && peerop_peerset_set_dns(a->set, c->dns) != 0)
		return fail("--peers-dns");
	po.peers = a->set;
	po.self_id = id;
	po.self_listen = c->listen;
	po.interval_ms = interval_ms;
	po.timeout_ms = timeout_ms;
	if (peerop_pinger_new(&a->pinger, &po) != 0)
		return fail("pinger");
	if (peerop_pinger_serve(a->pinger, a->httpd) != 0)
		return fail("/peers");

	/* Signals go to this thread only, through sigwait: block them before
	 * any library thread starts, so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (peerop_httpd_start(a->httpd) != 0)
		return fail("listen");
	peerop_log_emit(PEEROP_LOG_INFO, "server", NULL, 0,
		"peerop-server %s: %s on port %u, pinging every %g s%s%s", peerop_version(), id,
		peerop_httpd_port(a->httpd), interval_ms / 1000.0,
		c->peers_file ? ", peers file " : "", c->peers_file ? c->peers_file : "");
	on_change(a->set, a);
	if (peerop_pinger_start(a->pinger) != 0 || peerop_peerset_watch(a->set) != 0)
		return fail("start");

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	peerop_log_emit(PEEROP_LOG_INFO, "server", NULL, 0, "Received %s: stopping",
		sig == SIGTERM ? "SIGTERM" : "SIGINT");
	peerop_httpd_set_ready(a->httpd, 0);
	peerop_pinger_stop(a->pinger);
	rc = peerop_httpd_stop(a->httpd, GRACE_MS);
	if (rc)
		peerop_log_emit(PEEROP_LOG_WARN, "server", NULL, 0, "%s", peerop_error_last()->message);
	return 0;
}

int main(int argc, char **argv)
{
	config c;
	app a;
	char hostname[HOST_NAME_MAX + 1] = "peerop-server";
	peerop_log_level level;
	int rc;

	if ((rc = parse_args(&c, argc, argv)) != 0)
		return rc == 1 ? 0 : rc;
	if (strcmp(c.log_format, "text") != 0 && strcmp(c.log_format, "json") != 0) {
		fprintf(stderr, "peerop-server: --log-format \"%s\": expected text or json\n", c.log_format);
		free(c.env_peers);
		return 2;
	}
	if (peerop_log_level_parse(&level, c.log_level) != 0) {
		fprintf(stderr, "peerop-server: --log-level: %s\n", peerop_error_last()->message);
		free(c.env_peers);
		return 2;
	}
	log_stream.stream = stdout;
	log_stream.format = strcmp(c.log_format, "json") == 0 ? PEEROP_LOG_FORMAT_JSON : PEEROP_LOG_FORMAT_TEXT;
	peerop_log_set_callback(log_cb, level, &log_stream);
	if (gethostname(hostname, sizeof(hostname)) != 0 || !hostname[0])
		strcpy(hostname, "peerop-server");
	hostname[sizeof(hostname) - 1] = '\0';
	raise_fd_limit();
	if (peerop_global_init() != 0) {
		fprintf(stderr, "peerop-server: %s\n", peerop_error_last()->message);
		free(c.env_peers);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.lock, NULL);
	rc = run(&c, &a, hostname);
	/* Order matters: the server serves /peers from the pinger, and the
	 * watcher thread may call on_change until the set is freed. */
	peerop_pinger_stop(a.pinger);
	pthread_mutex_lock(&a.lock);
	peerop_httpd_free(a.httpd);
	a.httpd = NULL;
	pthread_mutex_unlock(&a.lock);
	peerop_peerset_free(a.set);
	peerop_pinger_free(a.pinger);
	pthread_mutex_destroy(&a.lock);
	peerop_global_cleanup();
	free(c.env_peers);
	return rc;
}
