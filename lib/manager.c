/*
 * manager.c: the operator lifecycle in one object (see peerop/manager.h).
 *
 * Threads: run() stays on the caller's thread and waits for a signal or a
 * stop request (sigtimedwait in 100 ms steps: the stop flag needs no
 * signal to be seen); the elector calls back on its own thread, and the
 * probe handlers run on HTTP server threads. What they share is under
 * m->lock; no lock is held while calling a controller, the elector or a
 * check.
 *
 * Order of a stop: not ready first (load balancers and kubelets stop
 * sending), then the controllers drain, then the Lease is released (a
 * successor may write only once we no longer do), then the servers go.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <peerop/manager.h>
#include <peerop/leader.h>
#include <peerop/httpd.h>
#include "internal.h"
#include "controller_internal.h"

#define DEF_GRACE_MS 30000u
#define SERVER_STOP_MS 2000u

typedef struct check {
	char *name;
	peerop_manager_check_fn fn;
	void *payload;
	int readyz;
} check;

typedef struct collector {
	peerop_metrics_collect_cb fn;
	void *payload;
} collector;

struct peerop_manager {
	peerop_manager_options opts;      /* strings below */
	char *metrics_addr, *health_addr, *lease_id, *lease_ns, *identity;
	peerop_kube_client *client;
	peerop_controller **ctls;
	size_t nctls;
	check *checks;
	size_t nchecks;
	collector *colls;
	size_t ncolls;
	peerop_httpd *health, *metrics;   /* the same server when the addresses are */
	peerop_leader *leader;
	sigset_t sigs;

	pthread_mutex_t lock;             /* guards what follows */
	int running, stop_requested, leading, ctls_started, stopping, lost;
};

int peerop_manager_options_init(peerop_manager_options *opts, unsigned int version)
{
	static const peerop_manager_options init = PEEROP_MANAGER_OPTIONS_INIT;

	if (!opts || version != PEEROP_MANAGER_OPTIONS_VERSION)
		return PEEROP_EINVAL;
	*opts = init;
	return 0;
}

/* NULL, "" and "0" disable a server, as controller-runtime's "0" does. */
static char *address(const char *a)
{
	return a && *a && strcmp(a, "0") ? peerop__strdup(a) : NULL;
}

int peerop_manager_new(peerop_manager **out, const peerop_manager_options *opts)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_manager *m;
	int rc;

	if (!out)
		return PEEROP_EINVAL;
	*out = NULL;
	if (!opts || opts->version != PEEROP_MANAGER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "manager: options are required");
	if (opts->leader_elect && (!opts->leader_election_id || !*opts->leader_election_id))
		return peerop__error_set(PEEROP_EINVAL, "manager: leader election needs a leader_election_id (the Lease)");
	if (!(m = calloc(1, sizeof(*m))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	m->opts = *opts;
	if (!m->opts.graceful_shutdown_ms)
		m->opts.graceful_shutdown_ms = DEF_GRACE_MS;
	pthread_mutex_init(&m->lock, NULL);
	/* before any thread exists: every later one inherits the mask, so only
	 * run() takes these signals */
	sigemptyset(&m->sigs);
	sigaddset(&m->sigs, SIGTERM);
	sigaddset(&m->sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &m->sigs, NULL);

	m->metrics_addr = address(opts->metrics_bind_address);
	m->health_addr = address(opts->health_probe_bind_address);
	m->lease_id = peerop__strdup(opts->leader_election_id);
	m->lease_ns = peerop__strdup(opts->leader_election_namespace);
	m->identity = peerop__strdup(opts->identity);
	m->opts.kubeconfig = m->opts.context = NULL;
	m->opts.client_options = NULL;
	co.kubeconfig = opts->kubeconfig;
	co.context = opts->context;
	rc = opts->kubeconfig ? peerop_kube_config_load(&cfg, &co) : peerop_kube_config_auto(&cfg, &co);
	if (rc == 0)
		rc = peerop_kube_client_new(&m->client, cfg, opts->client_options);
	peerop_kube_config_free(cfg);
	if (rc < 0) {
		peerop_manager_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

peerop_kube_client *peerop_manager_client(peerop_manager *m)
{
	return m ? m->client : NULL;
}

static int not_running(peerop_manager *m, const char *what)
{
	int r;

	pthread_mutex_lock(&m->lock);
	r = m->running;
	pthread_mutex_unlock(&m->lock);
	return r ? peerop__error_set(PEEROP_EINVAL, "manager: %s before run", what) : 0;
}

int peerop_manager_add_controller(peerop_controller **out, peerop_manager *m, const peerop_controller_options *opts)
{
	peerop_controller_options o;
	peerop_controller **grown, *c = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !m || !opts)
		return PEEROP_EINVAL;
	if ((rc = not_running(m, "controllers are added")) < 0)
		return rc;
	o = *opts;
	o.shutdown_grace_ms = m->opts.graceful_shutdown_ms;
	if (!(grown = realloc(m->ctls, (m->nctls + 1) * sizeof(*grown))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	m->ctls = grown;
	if ((rc = peerop_controller_new(&c, m->client, &o)) < 0)
		return rc;
	m->ctls[m->nctls++] = c;
	*out = c;
	return 0;
}

static int name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

int peerop_manager_add_check(peerop_manager *m, int readyz, const char *name, peerop_manager_check_fn fn,
	void *payload)
{
	check *grown;
	size_t i;
	int rc;

	if (!m || !fn || !name_ok(name))
		return peerop__error_set(PEEROP_EINVAL, "manager: a check needs a function and a name ([a-z0-9-]+)");
	if ((rc = not_running(m, "checks are added")) < 0)
		return rc;
	for (i = 0; i < m->nchecks; i++)
		if (m->checks[i].readyz == !!readyz && !strcmp(m->checks[i].name, name))
			return peerop__error_set(PEEROP_EEXISTS, "manager: check %s added twice", name);
	if (!strcmp(name, "caches") && readyz)
		return peerop__error_set(PEEROP_EEXISTS, "manager: the readyz check \"caches\" is built in");
	if (!(grown = realloc(m->checks, (m->nchecks + 1) * sizeof(*grown))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	m->checks = grown;
	if (!(grown[m->nchecks].name = peerop__strdup(name)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	grown[m->nchecks].fn = fn;
	grown[m->nchecks].payload = payload;
	grown[m->nchecks].readyz = !!readyz;
	m->nchecks++;
	return 0;
}

int peerop_manager_add_metrics(peerop_manager *m, peerop_metrics_collect_cb collect, void *payload)
{
	collector *grown;
	int rc;

	if (!m || !collect)
		return PEEROP_EINVAL;
	if ((rc = not_running(m, "collectors are added")) < 0)
		return rc;
	if (!(grown = realloc(m->colls, (m->ncolls + 1) * sizeof(*grown))))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	m->colls = grown;
	grown[m->ncolls].fn = collect;
	grown[m->ncolls].payload = payload;
	m->ncolls++;
	return 0;
}

/* ---- probes -------------------------------------------------------------- */

/* The built-in readiness: caches synced, or standing by for the Lease. */
static int caches_ready(peerop_manager *m, const char **why)
{
	int stopping, leading;
	size_t i;

	pthread_mutex_lock(&m->lock);
	stopping = m->stopping;
	leading = m->leading;
	pthread_mutex_unlock(&m->lock);
	if (stopping) {
		*why = "shutting down";
		return 0;
	}
	if (m->opts.leader_elect && !leading)
		return 1;   /* a standby is ready to take over */
	for (i = 0; i < m->nctls; i++)
		if (!peerop_controller_ready(m->ctls[i])) {
			*why = "caches not synced";
			return 0;
		}
	return 1;
}

static int probe(peerop_httpd_request *req, void *payload, int readyz)
{
	peerop_manager *m = payload;
	peerop__buf b = PEEROP__BUF_INIT;
	const char *why = NULL;
	int failed = 0, rc;
	size_t i;

	if (readyz && !caches_ready(m, &why)) {
		failed = 1;
		peerop__buf_printf(&b, "[-]caches failed: %s\n", why);
	}
	for (i = 0; i < m->nchecks; i++) {
		if (m->checks[i].readyz != readyz)
			continue;
		if (m->checks[i].fn(m->checks[i].payload) != 0) {
			failed = 1;
			peerop__buf_printf(&b, "[-]%s failed\n", m->checks[i].name);
		}
	}
	if (!failed)
		rc = peerop_httpd_respond(req, 200, NULL, "ok\n", 3);
	else {
		peerop__buf_printf(&b, "%s check failed\n", readyz ? "readyz" : "healthz");
		rc = peerop_httpd_respond(req, 500, NULL, b.ptr ? b.ptr : "failed\n", b.ptr ? b.len : 7);
	}
	peerop__buf_dispose(&b);
	return rc;
}

static int healthz(peerop_httpd_request *req, void *payload)
{
	return probe(req, payload, 0);
}

static int readyz(peerop_httpd_request *req, void *payload)
{
	return probe(req, payload, 1);
}

/* ---- leading ------------------------------------------------------------- */

static int start_controllers(peerop_manager *m)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (m->ctls_started || m->stopping) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	m->ctls_started = 1;
	m->leading = 1;
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < m->nctls && rc == 0; i++)
		rc = peerop_controller_start(m->ctls[i]);
	return rc;
}

static void on_started_leading(void *payload)
{
	peerop_manager *m = payload;

	peerop__info("manager", "leading (Lease %s): starting the controllers", m->lease_id);
	if (start_controllers(m) < 0) {
		peerop__errlog("manager", "cannot start the controllers: %s", peerop_error_last()->message);
		peerop_manager_stop(m);
	}
}

static void on_stopped_leading(void *payload)
{
	peerop_manager *m = payload;
	int lost;

	/* also called when the Lease is released on the way out: not a loss */
	pthread_mutex_lock(&m->lock);
	lost = m->leading && !m->stopping;
	m->leading = 0;
	if (lost) {
		m->lost = 1;
		m->stop_requested = 1;
	}
	pthread_mutex_unlock(&m->lock);
	if (!lost)
		return;
	if (!m->opts.no_exit_on_lost_lease) {
		/* at once: draining reconciles would write after the Lease may
		 * have passed to another replica */
		peerop__errlog("manager", "lost the Lease %s: exiting", m->lease_id);
		_exit(1);
	}
	peerop__errlog("manager", "lost the Lease %s: stopping the controllers", m->lease_id);
}

/* ---- running ------------------------------------------------------------- */

static int make_server(peerop_httpd **out, peerop_manager *m, const char *addr, int probes, int metrics)
{
	peerop_httpd_options ho = PEEROP_HTTPD_OPTIONS_INIT;
	size_t i;
	int rc;

	ho.listen = addr;
	ho.identity = m->identity ? m->identity : "peerop-manager";
	ho.threads = 1;
	if ((rc = peerop_httpd_new(out, &ho)) < 0)
		return rc;
	if (probes && ((rc = peerop_httpd_add_route(*out, "/healthz", PEEROP_HTTPD_GET | PEEROP_HTTPD_HEAD,
	    healthz, m)) < 0 || (rc = peerop_httpd_add_route(*out, "/readyz", PEEROP_HTTPD_GET | PEEROP_HTTPD_HEAD,
	    readyz, m)) < 0))
		return rc;
	if (!metrics)
		return 0;
	for (i = 0; i < m->nctls && rc == 0; i++)
		rc = peerop_httpd_add_metrics(*out, peerop_controller_collect_metrics, m->ctls[i]);
	if (rc == 0)
		rc = peerop_httpd_add_metrics(*out, peerop_kube_client_collect_metrics, m->client);
	if (rc == 0 && m->leader)
		rc = peerop_httpd_add_metrics(*out, peerop_leader_collect_metrics, m->leader);
	for (i = 0; i < m->ncolls && rc == 0; i++)
		rc = peerop_httpd_add_metrics(*out, m->colls[i].fn, m->colls[i].payload);
	return rc;
}

static int start_servers(peerop_manager *m)
{
	int same = m->health_addr && m->metrics_addr && !strcmp(m->health_addr, m->metrics_addr);
	int rc = 0;

	if (m->health_addr)
		rc = make_server(&m->health, m, m->health_addr, 1, same);
	if (rc == 0 && m->metrics_addr && !same)
		rc = make_server(&m->metrics, m, m->metrics_addr, 0, 1);
	if (rc == 0 && m->health && (rc = peerop_httpd_start(m->health)) < 0)
		peerop__error_prefix("health probes on %s: ", m->health_addr);
	if (rc == 0 && m->metrics && (rc = peerop_httpd_start(m->metrics)) < 0)
		peerop__error_prefix("metrics on %s: ", m->metrics_addr);
	if (rc == 0 && m->health)
		peerop__info("manager", "serving %s on port %u", same ? "/metrics, /healthz and /readyz" :
			"/healthz and /readyz", peerop_httpd_port(m->health));
	if (rc == 0 && m->metrics)
		peerop__info("manager", "serving /metrics on port %u", peerop_httpd_port(m->metrics));
	return rc;
}

static int wait_for_stop(peerop_manager *m)
{
	struct timespec step = { 0, 100 * 1000 * 1000 };
	int sig;

	for (;;) {
		pthread_mutex_lock(&m->lock);
		if (m->stop_requested) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		pthread_mutex_unlock(&m->lock);
		if ((sig = sigtimedwait(&m->sigs, NULL, &step)) > 0)
			return sig;
	}
}

int peerop_manager_run(peerop_manager *m)
{
	peerop_leader_options lo = PEEROP_LEADER_OPTIONS_INIT;
	size_t i;
	int rc = 0, sig, lost;

	if (!m)
		return PEEROP_EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->running) {
		pthread_mutex_unlock(&m->lock);
		return peerop__error_set(PEEROP_EINVAL, "manager: already run");
	}
	m->running = 1;
	pthread_mutex_unlock(&m->lock);
	/* this thread may not be the one that made the manager */
	pthread_sigmask(SIG_BLOCK, &m->sigs, NULL);

	if (m->opts.leader_elect) {
		lo.ns = m->lease_ns;
		lo.name = m->lease_id;
		lo.identity = m->identity;
		lo.lease_duration_ms = m->opts.lease_duration_ms;
		lo.renew_deadline_ms = m->opts.renew_deadline_ms;
		lo.retry_period_ms = m->opts.retry_period_ms;
		lo.on_started_leading = on_started_leading;
		lo.on_stopped_leading = on_stopped_leading;
		lo.payload = m;
		rc = peerop_leader_start(&m->leader, m->client, &lo);
		if (rc < 0)
			peerop__error_prefix("leader election: ");
	}
	if (rc == 0)
		rc = start_servers(m);
	if (rc == 0 && !m->opts.leader_elect)
		rc = start_controllers(m);
	if (rc == 0) {
		sig = wait_for_stop(m);
		if (sig > 0) {
			peerop__info("manager", "%s: stopping (a second signal exits at once)",
				sig == SIGTERM ? "SIGTERM" : "SIGINT");
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			pthread_sigmask(SIG_UNBLOCK, &m->sigs, NULL);
		}
	} else {
		peerop__errlog("manager", "%s", peerop_error_last()->message);
	}
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	lost = m->lost;
	pthread_mutex_unlock(&m->lock);
	if (m->health)
		peerop_httpd_set_ready(m->health, 0);
	if (m->metrics)
		peerop_httpd_set_ready(m->metrics, 0);
	for (i = 0; i < m->nctls; i++) {
		if (lost)
			m->ctls[i]->opts.shutdown_grace_ms = 1;   /* no more writes */
		if (peerop_controller_stop(m->ctls[i]) == PEEROP_ETIMEOUT && rc == 0)
			rc = PEEROP_ETIMEOUT;
	}
	/* the Lease last: released only once no reconcile runs */
	if (m->leader)
		peerop_leader_stop(m->leader);
	if (m->health)
		peerop_httpd_stop(m->health, SERVER_STOP_MS);
	if (m->metrics)
		peerop_httpd_stop(m->metrics, SERVER_STOP_MS);
	if (rc == 0 && lost)
		rc = peerop__error_set(PEEROP_ECANCELED, "manager: lost the Lease %s", m->lease_id);
	return rc;
}

void peerop_manager_stop(peerop_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop_requested = 1;
	pthread_mutex_unlock(&m->lock);
}

unsigned int peerop_manager_port(const peerop_manager *m, int which)
{
	const peerop_httpd *h;

	if (!m)
		return 0;
	h = which ? (m->metrics ? m->metrics : (m->metrics_addr ? m->health : NULL)) : m->health;
	return h ? peerop_httpd_port(h) : 0;
}

int peerop_manager_is_leader(const peerop_manager *m)
{
	int r;

	if (!m)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&m->lock);
	r = m->leading;
	pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
	return r;
}

void peerop_manager_free(peerop_manager *m)
{
	size_t i;

	if (!m)
		return;
	peerop_leader_free(m->leader);
	for (i = 0; i < m->nctls; i++)
		peerop_controller_free(m->ctls[i]);
	peerop_httpd_free(m->health);
	peerop_httpd_free(m->metrics);
	peerop_kube_client_free(m->client);
	for (i = 0; i < m->nchecks; i++)
		free(m->checks[i].name);
	free(m->checks);
	free(m->colls);
	free(m->ctls);
	free(m->metrics_addr);
	free(m->health_addr);
	free(m->lease_id);
	free(m->lease_ns);
	free(m->identity);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
