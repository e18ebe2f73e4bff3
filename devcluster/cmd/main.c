/* main.c: peerop-devcluster, the program: flags, logging, signals. */
#include "config.h"
#include "cluster.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 256

static void usage(FILE *f)
{
	fputs(
"Usage: peerop-devcluster --listen 127.0.0.1:PORT --kubeconfig-out FILE [options]\n"
"\n"
"A local Kubernetes API server, in memory, for tests and development.\n"
"Serves in the foreground until SIGTERM or SIGINT, then exits 0.\n"
"\n"
"  --listen HOST:PORT         address to serve on; PORT 0 picks a free port\n"
"                             (the kubeconfig says which). IPv6: [::1]:PORT\n"
"  --kubeconfig-out FILE      write a kubeconfig for this server (mode 0600)\n"
"  --data-dir DIR             keep state in DIR: every acknowledged write is\n"
"                             logged and fsync'd, and replayed at start\n"
"  --tls                      serve HTTPS with a CA and certificate generated\n"
"                             at start (the CA goes into the kubeconfig): the\n"
"                             default\n"
"  --plain-http               serve plain HTTP instead (loopback only; kubectl\n"
"                             then sends no token: for curl and tests)\n"
"  --allow-non-loopback       allow a --listen address other machines reach\n"
"                             (HTTPS only)\n"
"  --token-file FILE          the admin bearer token to accept, read from FILE\n"
"                             (default: random, written to the kubeconfig)\n"
"  --bookmark-interval SECS   watch bookmarks every SECS seconds (default 60)\n"
"  --history-size N           watch events kept for resuming watches; older\n"
"                             resourceVersions get 410 Expired (default 10000)\n"
"  --max-body BYTES           largest request body (default 3145728)\n"
"  --run-pods                 run what is created: the Deployment and ReplicaSet\n"
"                             controllers, and a kubelet (one node) that runs\n"
"                             pods as local processes, each on its own loopback\n"
"                             IP (127.0.0.2, .3, ...)\n"
"  --image IMAGE=PATH         containers of IMAGE run the executable PATH\n"
"                             (repeatable). IMAGE with a tag or digest matches\n"
"                             exactly; without, it matches every tag. An\n"
"                             unmapped image leaves the pod in ErrImagePull\n"
"  --node-name NAME           the node's name (default devcluster)\n"
"  --allow-host-path          run pods with hostPath volumes (refused by default:\n"
"                             they are this machine's own files)\n"
"  --restart-backoff SECS     first restart back-off of a crashing container\n"
"                             (default 10, as the kubelet; doubles up to 300)\n"
"  --log-level LEVEL          trace, debug, info, warn or error (default info)\n"
"  --log-format text|json     log line format on stderr (default text)\n"
"  -h, --help                 show this help\n"
"\n"
"Fault injection for tests: POST /_devcluster/... with the same token\n"
"(close-watches, fail, delay, expire-history, stall-watches, restart,\n"
"reset; GET /_devcluster/status). See devcluster/README.md.\n", f);
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	uint64_t v;
	if (!dc_parse_rv(s, &v) || v > max)
		return false;
	*out = v;
	return true;
}

/* The token of --token-file: its first line, which must be printable
 * ASCII (it goes into an HTTP header). NULL after saying why. */
static char *read_token(const char *path)
{
	FILE *f = fopen(path, "re");
	char buf[1024], *nl;
	size_t n, i;
	if (!f) {
		fprintf(stderr, "peerop-devcluster: --token-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((nl = strpbrk(buf, "\r\n")))
		*nl = '\0';
	n = strlen(buf);
	for (i = 0; i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			break;
	if (n == 0 || i < n || n > 512) {
		fprintf(stderr, "peerop-devcluster: --token-file %s: expected one line of 1 to 512 printable "
			"characters, without spaces\n", path);
		return NULL;
	}
	return strdup(buf);
}

static void on_fatal(void *payload)
{
	(void)payload;
	kill(getpid(), SIGUSR1);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "kubeconfig-out", required_argument, NULL, 'k' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "tls", no_argument, NULL, 't' },
		{ "plain-http", no_argument, NULL, 'P' },
		{ "allow-non-loopback", no_argument, NULL, 'A' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "token", required_argument, NULL, 'X' },
		{ "bookmark-interval", required_argument, NULL, 'b' },
		{ "history-size", required_argument, NULL, 'H' },
		{ "max-body", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "run-pods", no_argument, NULL, 'R' },
		{ "image", required_argument, NULL, 'i' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "allow-host-path", no_argument, NULL, 'Y' },
		{ "restart-backoff", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	dc_cluster_options co;
	dc_cluster *cl = NULL;
	peerop_log_stream ls = { stderr, PEEROP_LOG_FORMAT_TEXT };
	peerop_log_level level = PEEROP_LOG_INFO;
	unsigned long long v;
	sigset_t set;
	int c, sig = 0, rc;
	static const char *images[MAX_IMAGES + 1];
	size_t nimages = 0;
	int tls = 0, plain = 0;
	char *token = NULL;

	memset(&co, 0, sizeof(co));
	co.node.images = images;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': co.server.listen = optarg; break;
		case 'k': co.server.kubeconfig_out = optarg; break;
		case 'd': co.server.data_dir = optarg; break;
		case 't': tls = 1; break;
		case 'P': plain = 1; break;
		case 'A': co.server.allow_non_loopback = true; break;
		case 'T':
			free(token);
			if (!(token = read_token(optarg)))
				return 2;
			co.server.token = token;
			break;
		case 'X':
			/* every user of the machine reads a command line (ps) */
			fprintf(stderr, "peerop-devcluster: --token is gone: a command line is public; "
				"put the token in a file (mode 0600) and pass --token-file FILE\n");
			return 2;
		case 'b':
			if (!parse_uint(optarg, 86400, &v) || v == 0) {
				fprintf(stderr, "peerop-devcluster: --bookmark-interval: expected 1..86400 seconds\n");
				return 2;
			}
			co.server.bookmark_interval_s = (unsigned)v;
			break;
		case 'H':
			if (!parse_uint(optarg, 100000000, &v) || v == 0) {
				fprintf(stderr, "peerop-devcluster: --history-size: expected 1..100000000\n");
				return 2;
			}
			co.server.history_size = (size_t)v;
			break;
		case 'm':
			if (!parse_uint(optarg, 1ull << 32, &v) || v < 1024) {
				fprintf(stderr, "peerop-devcluster: --max-body: expected at least 1024 bytes\n");
				return 2;
			}
			co.server.max_body = (size_t)v;
			break;
		case 'L':
			if (!strcmp(optarg, "trace")) level = PEEROP_LOG_TRACE;
			else if (!strcmp(optarg, "debug")) level = PEEROP_LOG_DEBUG;
			else if (!strcmp(optarg, "info")) level = PEEROP_LOG_INFO;
			else if (!strcmp(optarg, "warn")) level = PEEROP_LOG_WARN;
			else if (!strcmp(optarg, "error")) level = PEEROP_LOG_ERROR;
			else {
				fprintf(stderr, "peerop-devcluster: --log-level: trace, debug, info, warn or error\n");
				return 2;
			}
			break;
		case 'F':
			if (!strcmp(optarg, "json")) ls.format = PEEROP_LOG_FORMAT_JSON;
			else if (strcmp(optarg, "text")) {
				fprintf(stderr, "peerop-devcluster: --log-format: text or json\n");
				return 2;
			}
			break;
		case 'R':
			co.controllers = co.kubelet = true;
			break;
		case 'i': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || eq[1] != '/') {
				fprintf(stderr, "peerop-devcluster: --image %s: expected IMAGE=/ABSOLUTE/PATH\n", optarg);
				return 2;
			}
			if (nimages == MAX_IMAGES) {
				fprintf(stderr, "peerop-devcluster: --image: at most %d\n", MAX_IMAGES);
				return 2;
			}
			images[nimages++] = optarg;
			break;
		}
		case 'N':
			co.node.node_name = optarg;
			break;
		case 'Y':
			co.node.allow_host_path = true;
			break;
		case 'B':
			if (!parse_uint(optarg, 300, &v) || v == 0) {
				fprintf(stderr, "peerop-devcluster: --restart-backoff: expected 1..300 seconds\n");
				return 2;
			}
			co.node.restart_backoff_s = (unsigned)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !co.server.listen || !co.server.kubeconfig_out) {
		fprintf(stderr, "peerop-devcluster: %s\n", optind < argc ? "unexpected argument" :
			"--listen and --kubeconfig-out are required");
		usage(stderr);
		return 2;
	}
	if (tls && plain) {
		fprintf(stderr, "peerop-devcluster: --tls and --plain-http exclude each other\n");
		return 2;
	}
	co.server.tls = !plain;
	peerop_log_set_callback(peerop_log_stream_cb, level, &ls);
	signal(SIGPIPE, SIG_IGN);
	/* block the stop signals in every thread; main waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	co.server.on_fatal = on_fatal;
	if (peerop_global_init() != 0) {
		fprintf(stderr, "peerop-devcluster: initialisation failed\n");
		return 1;
	}
	rc = dc_cluster_start(&cl, &co);
	if (rc != 0) {
		fprintf(stderr, "peerop-devcluster: %s\n", peerop_error_last()->message[0] ?
			peerop_error_last()->message : peerop_strerror(rc));
		peerop_global_cleanup();
		return 1;
	}
	peerop_log_emit(PEEROP_LOG_INFO, "devcluster", NULL, 0, "serving on %s (kubeconfig %s%s%s)",
		dc_server_url(dc_cluster_server(cl)), co.server.kubeconfig_out, co.server.data_dir ? ", data dir " : "",
		co.server.data_dir ? co.server.data_dir : "");
	while (sigwait(&set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT && sig != SIGUSR1))
		;
	peerop_log_emit(PEEROP_LOG_INFO, "devcluster", NULL, 0, "%s: stopping",
		sig == SIGUSR1 ? "restart failed" : sig == SIGTERM ? "SIGTERM" : "SIGINT");
	dc_cluster_free(cl);
	peerop_global_cleanup();
	free(token);
	return sig == SIGUSR1 ? 1 : 0;
}
