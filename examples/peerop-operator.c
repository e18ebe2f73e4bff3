/*
 * peerop-operator: runs HTTPServers (peerop.io/v1alpha1): for each, a
 * Deployment of peerop-servers, their peers ConfigMap and a Service; see
 * examples/operator/ for what it creates and docs/operator.md.
 *
 * This file is the program around the library's controller runtime:
 * flags, the Kubernetes client, optional leader election, /metrics,
 * /healthz and /readyz, and signals (first SIGTERM/SIGINT: finish
 * in-flight reconciles within the grace period and exit 0; a second one:
 * exit at once; losing the lease: exit 1, as controller-runtime does, so
 * a deposed replica never writes again).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <peerop/peerop.h>
#include "operator/operator.h"

#define DEFAULT_IMAGE "peerop-server:" PEEROP_VERSION

typedef struct opts {
	const char *kubeconfig, *context, *ns, *metrics_listen, *lease_name, *lease_ns, *id;
	const char *default_image, *log_format, *log_level;
	int all_namespaces, leader_elect;
	unsigned int workers, grace_s;
} opts;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: peerop-operator [--kubeconfig FILE] [--context NAME] [--namespace NS | --all-namespaces]\n"
"                       [--workers N] [--leader-elect] [--lease-name NAME] [--lease-namespace NS]\n"
"                       [--id NAME] [--metrics-listen ADDR:PORT] [--default-image IMAGE]\n"
"                       [--shutdown-grace SECONDS] [--log-format text|json] [--log-level LEVEL]\n"
"\n"
"Runs HTTPServers (peerop.io/v1alpha1): for each, a Deployment of peerop-servers that\n"
"ping each other, the ConfigMap listing their peers (updated in place as pods come and\n"
"go, so servers reload it without restarting) and a Service; reports readiness in the\n"
"HTTPServer's status. Every flag can also be set in the environment (a flag wins).\n"
"\n"
"  --kubeconfig FILE         kubeconfig; default: in-cluster configuration, else\n"
"                            $KUBECONFIG or ~/.kube/config (env KUBECONFIG)\n"
"  --context NAME            kubeconfig context (env PEEROP_CONTEXT)\n"
"  --namespace NS            watch this namespace only (env PEEROP_NAMESPACE, else\n"
"                            POD_NAMESPACE; default: the configuration's namespace)\n"
"  --all-namespaces          watch every namespace (needs cluster-wide RBAC)\n"
"  --workers N               concurrent reconciles (env PEEROP_WORKERS; default 2)\n"
"  --leader-elect            run only while holding a Lease, for several replicas\n"
"                            (env PEEROP_LEADER_ELECT=true)\n"
"  --lease-name NAME         the Lease (env PEEROP_LEASE_NAME; default peerop-operator)\n"
"  --lease-namespace NS      its namespace (env PEEROP_LEASE_NAMESPACE, else POD_NAMESPACE;\n"
"                            default: the watched namespace)\n"
"  --id NAME                 this replica's identity (env POD_NAME; default: host name)\n"
"  --metrics-listen ADDR:PORT  /metrics, /healthz, /readyz (env PEEROP_METRICS_LISTEN;\n"
"                            default :8081; \"off\" disables)\n"
"  --default-image IMAGE     server image when an HTTPServer names none\n"
"                            (env PEEROP_DEFAULT_IMAGE; default " DEFAULT_IMAGE ")\n"
"  --shutdown-grace SECONDS  time in-flight reconciles get on SIGTERM (default 30)\n"
"  --log-format text|json    (env PEEROP_LOG_FORMAT; default text)\n"
"  --log-level LEVEL         trace, debug, info, warn, error (env PEEROP_LOG_LEVEL; default info)\n"
"  --help, --version\n");
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int parse_uint(unsigned int *out, const char *s, unsigned int lo, unsigned int hi, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < lo || v > hi) {
		fprintf(stderr, "peerop-operator: %s: expected an integer from %u to %u, got \"%s\"\n", what, lo, hi, s);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

static int parse_args(opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "kubeconfig", required_argument, NULL, 'k' }, { "context", required_argument, NULL, 'c' },
		{ "namespace", required_argument, NULL, 'n' }, { "all-namespaces", no_argument, NULL, 'A' },
		{ "workers", required_argument, NULL, 'w' }, { "leader-elect", no_argument, NULL, 'L' },
		{ "lease-name", required_argument, NULL, 'l' }, { "lease-namespace", required_argument, NULL, 'N' },
		{ "id", required_argument, NULL, 'i' }, { "metrics-listen", required_argument, NULL, 'm' },
		{ "default-image", required_argument, NULL, 'I' }, { "shutdown-grace", required_argument, NULL, 'g' },
		{ "log-format", required_argument, NULL, 'f' }, { "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	const char *e;
	int ch;

	memset(o, 0, sizeof(*o));
	o->kubeconfig = NULL;
	o->context = env("PEEROP_CONTEXT");
	o->ns = env("PEEROP_NAMESPACE") ? env("PEEROP_NAMESPACE") : env("POD_NAMESPACE");
	o->lease_name = env("PEEROP_LEASE_NAME") ? env("PEEROP_LEASE_NAME") : "peerop-operator";
	o->lease_ns = env("PEEROP_LEASE_NAMESPACE") ? env("PEEROP_LEASE_NAMESPACE") : env("POD_NAMESPACE");
	o->id = env("POD_NAME");
	o->metrics_listen = env("PEEROP_METRICS_LISTEN") ? env("PEEROP_METRICS_LISTEN") : ":8081";
	o->default_image = env("PEEROP_DEFAULT_IMAGE") ? env("PEEROP_DEFAULT_IMAGE") : DEFAULT_IMAGE;
	o->log_format = env("PEEROP_LOG_FORMAT") ? env("PEEROP_LOG_FORMAT") : "text";
	o->log_level = env("PEEROP_LOG_LEVEL") ? env("PEEROP_LOG_LEVEL") : "info";
	o->leader_elect = (e = env("PEEROP_LEADER_ELECT")) && (!strcmp(e, "true") || !strcmp(e, "1"));
	o->workers = 2;
	o->grace_s = 30;
	if ((e = env("PEEROP_WORKERS")) && parse_uint(&o->workers, e, 1, 64, "PEEROP_WORKERS") < 0)
		return 2;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'k': o->kubeconfig = optarg; break;
		case 'c': o->context = optarg; break;
		case 'n': o->ns = optarg; break;
		case 'A': o->all_namespaces = 1; break;
		case 'w': if (parse_uint(&o->workers, optarg, 1, 64, "--workers") < 0) return 2; break;
		case 'L': o->leader_elect = 1; break;
		case 'l': o->lease_name = optarg; break;
		case 'N': o->lease_ns = optarg; break;
		case 'i': o->id = optarg; break;
		case 'm': o->metrics_listen = optarg; break;
		case 'I': o->default_image = optarg; break;
		case 'g': if (parse_uint(&o->grace_s, optarg, 1, 3600, "--shutdown-grace") < 0) return 2; break;
		case 'f': o->log_format = optarg; break;
		case 'v': o->log_level = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("peerop-operator %s\n", PEEROP_VERSION); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "peerop-operator: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (strcmp(o->log_format, "text") && strcmp(o->log_format, "json")) {
		fprintf(stderr, "peerop-operator: --log-format: expected text or json, got \"%s\"\n", o->log_format);
		return 2;
	}
	if (o->all_namespaces && o->ns && env("PEEROP_NAMESPACE")) {
		fprintf(stderr, "peerop-operator: --all-namespaces and a namespace were both given\n");
		return 2;
	}
	return 0;
}

/* ---- running ------------------------------------------------------------ */

typedef struct app {
	opts o;
	peerop_kube_client *client;
	peerop_controller *ctl;
	peerop_httpd *httpd;
	peerop_leader *leader;
	op_state state;
	pthread_mutex_t lock;
	int started, lost_lease, stopping;
} app;

static int start_controller(app *a)
{
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (!a->started) {
		rc = peerop_controller_start(a->ctl);
		a->started = rc == 0;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static void on_started_leading(void *payload)
{
	app *a = payload;

	peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "leading: starting the controller");
	if (start_controller(a) < 0) {
		peerop_log_emit(PEEROP_LOG_ERROR, "operator", NULL, 0, "cannot start the controller: %s",
			peerop_error_last()->message);
		kill(getpid(), SIGTERM);
	}
}

static void on_stopped_leading(void *payload)
{
	app *a = payload;

	int lost;

	/* also called when we release the lease on the way out: not a loss */
	pthread_mutex_lock(&a->lock);
	lost = a->lost_lease = a->started && !a->stopping;
	pthread_mutex_unlock(&a->lock);
	if (lost) {
		peerop_log_emit(PEEROP_LOG_ERROR, "operator", NULL, 0, "lost the lease: exiting");
		kill(getpid(), SIGTERM);
	}
}

static int build(app *a)
{
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_controller_options ctl = PEEROP_CONTROLLER_OPTIONS_INIT;
	const char *ns;
	int rc;

	co.kubeconfig = a->o.kubeconfig;
	co.context = a->o.context;
	rc = a->o.kubeconfig ? peerop_kube_config_load(&cfg, &co) : peerop_kube_config_auto(&cfg, &co);
	if (rc == 0)
		rc = peerop_kube_client_new(&a->client, cfg, NULL);
	peerop_kube_config_free(cfg);
	if (rc < 0) {
		fprintf(stderr, "peerop-operator: %s\n", peerop_error_last()->message);
		return rc;
	}
	ns = a->o.all_namespaces ? "" : a->o.ns ? a->o.ns :
		peerop_kube_config_namespace(peerop_kube_client_config(a->client));
	a->state.cfg.default_image = a->o.default_image;
	ctl.name = "httpserver";
	ctl.primary = OP_HTTPSERVERS;
	ctl.ns = ns ? ns : "default";
	ctl.workers = a->o.workers;
	ctl.field_manager = OP_MANAGER;
	ctl.shutdown_grace_ms = a->o.grace_s * 1000u;
	ctl.reconcile = op_reconcile;
	ctl.payload = &a->state;
	if ((rc = peerop_controller_new(&a->ctl, a->client, &ctl)) < 0 ||
	    (rc = peerop_controller_owns(a->ctl, &OP_DEPLOYMENTS, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_owns(a->ctl, &OP_CONFIGMAPS, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_owns(a->ctl, &OP_SERVICES, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_watches(a->ctl, &OP_PODS, OP_LABEL_MANAGED "=" OP_MANAGER, op_map_pod, NULL)) < 0 ||
	    (rc = peerop_informer_add_label_index(peerop_controller_cache(a->ctl, &OP_PODS), "instance",
			OP_LABEL_INSTANCE)) < 0) {
		fprintf(stderr, "peerop-operator: %s\n", peerop_error_last()->message);
		return rc;
	}
	peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "watching HTTPServers in %s",
		*ctl.ns ? ctl.ns : "every namespace");

	if (strcmp(a->o.metrics_listen, "off")) {
		peerop_httpd_options ho = PEEROP_HTTPD_OPTIONS_INIT;
		ho.listen = a->o.metrics_listen;
		ho.identity = a->o.id ? a->o.id : "peerop-operator";
		ho.threads = 1;
		if ((rc = peerop_httpd_new(&a->httpd, &ho)) < 0 ||
		    (rc = peerop_httpd_add_metrics(a->httpd, peerop_controller_collect_metrics, a->ctl)) < 0 ||
		    (rc = peerop_httpd_add_metrics(a->httpd, peerop_kube_client_collect_metrics, a->client)) < 0) {
			fprintf(stderr, "peerop-operator: --metrics-listen %s: %s\n", a->o.metrics_listen,
				peerop_error_last()->message);
			return rc;
		}
	}
	if (a->o.leader_elect) {
		peerop_leader_options lo = PEEROP_LEADER_OPTIONS_INIT;
		lo.ns = a->o.lease_ns ? a->o.lease_ns : (*ctl.ns ? ctl.ns : NULL);
		lo.name = a->o.lease_name;
		lo.identity = a->o.id;
		lo.on_started_leading = on_started_leading;
		lo.on_stopped_leading = on_stopped_leading;
		lo.payload = a;
		if ((rc = peerop_leader_start(&a->leader, a->client, &lo)) < 0) {
			fprintf(stderr, "peerop-operator: leader election: %s\n", peerop_error_last()->message);
			return rc;
		}
		if (a->httpd && (rc = peerop_httpd_add_metrics(a->httpd, peerop_leader_collect_metrics, a->leader)) < 0)
			return rc;
	}
	/* routes and collectors are added before the server starts */
	if (a->httpd) {
		if ((rc = peerop_httpd_start(a->httpd)) < 0) {
			fprintf(stderr, "peerop-operator: --metrics-listen %s: %s\n", a->o.metrics_listen,
				peerop_error_last()->message);
			return rc;
		}
		peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "serving /metrics, /healthz and /readyz on port %u",
			peerop_httpd_port(a->httpd));
	}
	if (!a->o.leader_elect && (rc = start_controller(a)) < 0) {
		fprintf(stderr, "peerop-operator: %s\n", peerop_error_last()->message);
		return rc;
	}
	return 0;
}

/* Ready: the caches have synced (or, as a standby, able to take over). */
static void *ready_main(void *arg)
{
	app *a = arg;

	if (a->o.leader_elect || peerop_controller_wait_synced(a->ctl, 0xffffffffu) == 0)
		peerop_httpd_set_ready(a->httpd, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	app a;
	peerop_log_stream logs = { NULL, PEEROP_LOG_FORMAT_TEXT };
	peerop_log_level level;
	sigset_t sigs;
	pthread_t ready;
	int sig, rc, ready_started = 0;

	memset(&a, 0, sizeof(a));
	if ((rc = parse_args(&a.o, argc, argv)) != 0)
		return rc;
	if (peerop_log_level_parse(&level, a.o.log_level) < 0) {
		fprintf(stderr, "peerop-operator: --log-level: unknown level \"%s\"\n", a.o.log_level);
		return 2;
	}
	/* signals are taken by sigwait() below; block them before any thread */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&a.lock, NULL);
	peerop_global_init();
	logs.stream = stderr;
	logs.format = strcmp(a.o.log_format, "json") ? PEEROP_LOG_FORMAT_TEXT : PEEROP_LOG_FORMAT_JSON;
	peerop_log_set_callback(peerop_log_stream_cb, level, &logs);

	rc = build(&a);
	if (rc == 0) {
		if (a.httpd && pthread_create(&ready, NULL, ready_main, &a) == 0)
			ready_started = 1;
		sigwait(&sigs, &sig);
		peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "%s: stopping (a second signal exits at once)",
			sig == SIGTERM ? "SIGTERM" : "SIGINT");
		/* a second signal ends the process at once, as kubectl users expect */
		pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		pthread_mutex_lock(&a.lock);
		a.stopping = 1;
		pthread_mutex_unlock(&a.lock);
		if (a.httpd)
			peerop_httpd_set_ready(a.httpd, 0);
		if (peerop_controller_stop(a.ctl) != 0)
			rc = 1;
	}
	/* the lease goes last: released only once no reconcile runs */
	pthread_mutex_lock(&a.lock);
	a.stopping = 1;
	pthread_mutex_unlock(&a.lock);
	peerop_leader_free(a.leader);
	peerop_controller_free(a.ctl);
	if (ready_started)
		pthread_join(ready, NULL);
	if (a.httpd)
		peerop_httpd_stop(a.httpd, 2000);
	peerop_httpd_free(a.httpd);
	peerop_kube_client_free(a.client);
	peerop_global_cleanup();
	pthread_mutex_destroy(&a.lock);
	if (a.lost_lease)
		return 1;
	return rc == 0 ? 0 : 1;
}
