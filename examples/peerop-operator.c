/*
 * peerop-operator: runs HTTPServers (peerop.io/v1alpha1): for each, a
 * Deployment of peerop-servers, their peers ConfigMap and a Service; see
 * examples/operator/ for what it creates and docs/operator.md.
 *
 * This file is a declaration on the library's manager (peerop/manager.h):
 * flags, then one controller with what it owns and watches. The manager
 * does the rest: the client, leader election (losing the Lease exits 1 at
 * once, as controller-runtime does, so a deposed replica never writes
 * again), /metrics, /healthz and /readyz, and signals (first SIGTERM or
 * SIGINT: in-flight reconciles get the grace period, exit 0; a second one:
 * exit at once).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>
#include "operator/operator.h"

#define DEFAULT_IMAGE "peerop-server:" PEEROP_VERSION

typedef struct opts {
	const char *kubeconfig, *context, *ns, *metrics_listen, *health_listen, *lease_name, *lease_ns, *id;
	const char *default_image, *log_format, *log_level;
	int all_namespaces, leader_elect;
	unsigned int workers, grace_s, coalesce_ms;
} opts;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: peerop-operator [--kubeconfig FILE] [--context NAME] [--namespace NS | --all-namespaces]\n"
"                       [--workers N] [--leader-elect] [--lease-name NAME] [--lease-namespace NS]\n"
"                       [--id NAME] [--metrics-bind-address ADDR:PORT]\n"
"                       [--health-probe-bind-address ADDR:PORT] [--default-image IMAGE]\n"
"                       [--shutdown-grace SECONDS] [--peers-coalesce-ms MS]\n"
"                       [--log-format text|json] [--log-level LEVEL]\n"
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
"  --metrics-bind-address ADDR:PORT  /metrics (env PEEROP_METRICS_LISTEN; default :8081;\n"
"                            \"0\" or \"off\" disables; --metrics-listen is the same flag)\n"
"  --health-probe-bind-address ADDR:PORT  /healthz and /readyz (env PEEROP_HEALTH_LISTEN;\n"
"                            default: the metrics address, one server for all three)\n"
"  --default-image IMAGE     server image when an HTTPServer names none\n"
"                            (env PEEROP_DEFAULT_IMAGE; default " DEFAULT_IMAGE ")\n"
"  --shutdown-grace SECONDS  time in-flight reconciles get on SIGTERM (default 30)\n"
"  --peers-coalesce-ms MS    least time between two writes of an HTTPServer's peers\n"
"                            ConfigMap; pod changes in between make one write\n"
"                            (env PEEROP_PEERS_COALESCE_MS; default 1000; 0: none)\n"
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
		{ "metrics-bind-address", required_argument, NULL, 'm' },
		{ "health-probe-bind-address", required_argument, NULL, 'H' },
		{ "default-image", required_argument, NULL, 'I' }, { "shutdown-grace", required_argument, NULL, 'g' },
		{ "log-format", required_argument, NULL, 'f' }, { "log-level", required_argument, NULL, 'v' },
		{ "peers-coalesce-ms", required_argument, NULL, 'C' },
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
	o->health_listen = env("PEEROP_HEALTH_LISTEN");
	o->default_image = env("PEEROP_DEFAULT_IMAGE") ? env("PEEROP_DEFAULT_IMAGE") : DEFAULT_IMAGE;
	o->log_format = env("PEEROP_LOG_FORMAT") ? env("PEEROP_LOG_FORMAT") : "text";
	o->log_level = env("PEEROP_LOG_LEVEL") ? env("PEEROP_LOG_LEVEL") : "info";
	o->leader_elect = (e = env("PEEROP_LEADER_ELECT")) && (!strcmp(e, "true") || !strcmp(e, "1"));
	o->workers = 2;
	o->grace_s = 30;
	o->coalesce_ms = 1000;
	if ((e = env("PEEROP_WORKERS")) && parse_uint(&o->workers, e, 1, 64, "PEEROP_WORKERS") < 0)
		return 2;
	if ((e = env("PEEROP_PEERS_COALESCE_MS")) &&
	    parse_uint(&o->coalesce_ms, e, 0, 600000, "PEEROP_PEERS_COALESCE_MS") < 0)
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
		case 'H': o->health_listen = optarg; break;
		case 'I': o->default_image = optarg; break;
		case 'g': if (parse_uint(&o->grace_s, optarg, 1, 3600, "--shutdown-grace") < 0) return 2; break;
		case 'C': if (parse_uint(&o->coalesce_ms, optarg, 0, 600000, "--peers-coalesce-ms") < 0) return 2; break;
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

/* "off" was this program's way to say none; the manager's is "0". */
static const char *addr(const char *a)
{
	return !a || !strcmp(a, "off") ? "0" : a;
}

int main(int argc, char **argv)
{
	opts o;
	peerop_log_stream logs = { NULL, PEEROP_LOG_FORMAT_TEXT };
	peerop_log_level level;
	peerop_manager_options mo = PEEROP_MANAGER_OPTIONS_INIT;
	peerop_controller_options co = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_manager *m = NULL;
	peerop_controller *c = NULL;
	static const peerop_predicate preds[] = {
		{ peerop_predicate_generation_changed, NULL }, { peerop_predicate_labels_changed, NULL },
		{ peerop_predicate_annotations_changed, NULL },
	};
	op_state state;
	const char *ns;
	int rc;

	if ((rc = parse_args(&o, argc, argv)) != 0)
		return rc;
	if (peerop_log_level_parse(&level, o.log_level) < 0) {
		fprintf(stderr, "peerop-operator: --log-level: unknown level \"%s\"\n", o.log_level);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	peerop_global_init();
	logs.stream = stderr;
	logs.format = strcmp(o.log_format, "json") ? PEEROP_LOG_FORMAT_TEXT : PEEROP_LOG_FORMAT_JSON;
	peerop_log_set_callback(peerop_log_stream_cb, level, &logs);

	mo.kubeconfig = o.kubeconfig;
	mo.context = o.context;
	mo.metrics_bind_address = addr(o.metrics_listen);
	mo.health_probe_bind_address = addr(o.health_listen ? o.health_listen : o.metrics_listen);
	mo.leader_elect = o.leader_elect;
	mo.leader_election_id = o.lease_name;
	/* the Lease lives in the watched namespace unless told otherwise (the
	 * manager's default, the client's namespace, is that namespace when
	 * --namespace is not given) */
	mo.leader_election_namespace = o.lease_ns ? o.lease_ns : !o.all_namespaces ? o.ns : NULL;
	mo.identity = o.id;
	mo.graceful_shutdown_ms = o.grace_s * 1000u;
	if ((rc = peerop_manager_new(&m, &mo)) < 0) {
		fprintf(stderr, "peerop-operator: %s\n", peerop_error_last()->message);
		peerop_global_cleanup();
		return 1;
	}
	ns = o.all_namespaces ? "" : o.ns ? o.ns : peerop_kube_config_namespace(
		peerop_kube_client_config(peerop_manager_client(m)));
	memset(&state, 0, sizeof(state));
	if (op_state_init(&state) != 0) {
		peerop_manager_free(m);
		peerop_global_cleanup();
		return 1;
	}
	state.cfg.default_image = o.default_image;
	state.cfg.peers_coalesce_ms = o.coalesce_ms;
	co.name = "httpserver";
	co.primary = OP_HTTPSERVERS;
	co.ns = ns ? ns : "default";
	co.workers = o.workers;
	co.field_manager = OP_MANAGER;
	co.reconcile = op_reconcile;
	co.payload = &state;
	/* its own status writes do not wake it again (it reads spec, labels
	 * and annotations; its children's changes still queue it) */
	co.predicates = preds;
	co.npredicates = sizeof(preds) / sizeof(preds[0]);
	if ((rc = peerop_manager_add_controller(&c, m, &co)) < 0 ||
	    (rc = peerop_controller_owns(c, &OP_DEPLOYMENTS, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_owns(c, &OP_CONFIGMAPS, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_owns(c, &OP_SERVICES, OP_LABEL_MANAGED "=" OP_MANAGER)) < 0 ||
	    (rc = peerop_controller_watches(c, &OP_PODS, OP_LABEL_MANAGED "=" OP_MANAGER, op_map_pod, NULL)) < 0 ||
	    (rc = peerop_informer_add_label_index(peerop_controller_cache(c, &OP_PODS), "instance",
			OP_LABEL_INSTANCE)) < 0) {
		fprintf(stderr, "peerop-operator: %s\n", peerop_error_last()->message);
		peerop_manager_free(m);
		op_state_dispose(&state);
		peerop_global_cleanup();
		return 1;
	}
	peerop_log_emit(PEEROP_LOG_INFO, "operator", NULL, 0, "watching HTTPServers in %s",
		*co.ns ? co.ns : "every namespace");
	rc = peerop_manager_run(m);
	peerop_manager_free(m);
	op_state_dispose(&state);
	peerop_global_cleanup();
	return rc == 0 ? 0 : 1;
}
