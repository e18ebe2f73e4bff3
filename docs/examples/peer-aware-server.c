/*
 * peer-aware-server.c: a program of your own that is a member of a peer
 * group: it answers /ping, pings the peers listed in a file, serves /peers
 * and /metrics, and adds a route and a metric of its own.
 *
 *   cc peer-aware-server.c $(pkg-config --cflags --libs libpeerop) -o peer-aware-server
 *   ./peer-aware-server 127.0.0.1:8080 my-name peers.json
 */
/* sigwait() and pthread_sigmask() are POSIX, not C99 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <peerop/peerop.h>

static unsigned long hellos;

/* A route: runs on a server thread; answers, never blocks. */
static int hello(peerop_httpd_request *req, void *payload)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "hello from %s\n", (const char *)payload);
	__atomic_add_fetch(&hellos, 1, __ATOMIC_RELAXED);
	return peerop_httpd_respond(req, 200, NULL, body, (size_t)n);
}

/* A metrics collector: called for each scrape of /metrics. */
static int my_metrics(peerop_metrics_writer *w, void *payload)
{
	int rc = peerop_metrics_family(w, "example_hellos_total", PEEROP_METRIC_COUNTER, "Hellos answered");
	(void)payload;
	return rc ? rc : peerop_metrics_sample(w, NULL, NULL, 0,
		(double)__atomic_load_n(&hellos, __ATOMIC_RELAXED));
}

/* Each result of a ping, on the pinger thread. */
static void on_result(const peerop_ping_result *r, void *payload)
{
	(void)payload;
	if (!r->ok && r->failures == 3)
		fprintf(stderr, "%s is failing: %s\n", r->url, r->reason);
}

static void on_change(peerop_peerset *set, void *payload)
{
	peerop_pinger **pinger = payload;
	if (*pinger)
		peerop_pinger_wake(*pinger); /* ping new peers now, not at the next round */
	(void)set;
}

int main(int argc, char **argv)
{
	peerop_httpd_options ho = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_peerset_options so = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_pinger_options po = PEEROP_PINGER_OPTIONS_INIT;
	peerop_log_stream out = { NULL, PEEROP_LOG_FORMAT_TEXT };
	peerop_httpd *httpd = NULL;
	peerop_peerset *set = NULL;
	peerop_pinger *pinger = NULL;
	sigset_t sigs;
	int sig, rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: %s ADDR:PORT ID PEERS_FILE\n", argv[0]);
		return 2;
	}
	out.stream = stdout;
	peerop_log_set_callback(peerop_log_stream_cb, PEEROP_LOG_INFO, &out);
	if (peerop_global_init() != 0)
		return 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any library thread starts */

	ho.listen = argv[1];
	ho.identity = argv[2];
	so.file = argv[3];
	so.on_change = on_change;
	so.payload = &pinger;
	if (peerop_httpd_new(&httpd, &ho) || peerop_peerset_new(&set, &so))
		goto out;
	po.peers = set;
	po.self_id = argv[2];
	po.self_listen = argv[1];
	po.interval_ms = 10000;
	po.on_result = on_result;
	if (peerop_pinger_new(&pinger, &po) ||
	    peerop_pinger_serve(pinger, httpd) ||
	    peerop_httpd_add_route(httpd, "/hello", PEEROP_HTTPD_GET, hello, argv[2]) ||
	    peerop_httpd_add_metrics(httpd, my_metrics, NULL) ||
	    peerop_httpd_start(httpd))
		goto out;
	peerop_httpd_set_ready(httpd, peerop_peerset_loaded(set));
	if (peerop_pinger_start(pinger) || peerop_peerset_watch(set))
		goto out;
	sigwait(&sigs, &sig);
	peerop_pinger_stop(pinger);
	peerop_httpd_stop(httpd, 10000); /* stop accepting, finish what is in flight */
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "error: %s\n", peerop_error_last()->message);
	peerop_httpd_free(httpd);   /* first: it serves /peers from the pinger */
	peerop_peerset_free(set);   /* stops the watcher, so on_change no longer runs */
	peerop_pinger_free(pinger);
	peerop_global_cleanup();
	return rc;
}
