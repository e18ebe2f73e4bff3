/*
 * testing-operator.c: testing an operator against the local control plane,
 * as controller-runtime users test with envtest (docs/testing.md).
 *
 * The operator under test is small on purpose: for every ConfigMap
 * labelled example.com/summarize=true it keeps the annotation
 * example.com/keys listing the ConfigMap's data keys, sorted. The test
 * starts peerop-devcluster as a child process, runs the controller in this
 * process against it, and checks that it converges, that it survives the
 * faults a real API server produces (closed watches, 410 Gone, 500s), and
 * that a Deployment's pods really run when the cluster runs pods.
 *
 *   cc testing-operator.c $(pkg-config --cflags --libs libpeerop)
 *   PEEROP_DEVCLUSTER=/usr/local/bin/peerop-devcluster ./a.out
 *
 * Every wait polls with a deadline: nothing sleeps a fixed time hoping the
 * system has converged.
 */
#define _POSIX_C_SOURCE 200809L  /* mkdtemp, nanosleep, clock_gettime */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <peerop/peerop.h>

static const peerop_kube_resource CONFIGMAPS = { "", "v1", "configmaps", 1 };
static const peerop_kube_resource DEPLOYMENTS = { "apps", "v1", "deployments", 1 };
static const peerop_kube_resource PODS = { "", "v1", "pods", 1 };

/* ---------------------------------------------------------------------
 * The operator under test. In a real project this lives in the operator's
 * own sources and the test links it.
 * ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int summarize(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	json_t *cm = NULL, *data, *patch;
	const char *keys[64], *k, *old;
	char list[1024] = "";
	size_t n = 0, i;
	json_t *v;
	int rc;
	(void)result;
	(void)payload;

	if (peerop_informer_get(&cm, peerop_controller_cache(c, NULL), req->ns, req->name) != 0)
		return 0;   /* deleted: nothing to do */
	data = json_object_get(cm, "data");
	json_object_foreach(data, k, v)
		if (n < sizeof(keys) / sizeof(keys[0]))
			keys[n++] = k;
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", keys[i]);

	old = json_string_value(json_object_get(json_object_get(json_object_get(cm, "metadata"),
		"annotations"), "example.com/keys"));
	if (old && !strcmp(old, list)) {
		json_decref(cm);
		return 0;   /* already right: do not write (a write wakes us again) */
	}
	patch = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", req->name, "namespace", req->ns, "annotations", "example.com/keys", list);
	rc = patch ? peerop_controller_apply(NULL, c, &CONFIGMAPS, patch, NULL) : PEEROP_ENOMEM;
	json_decref(patch);
	json_decref(cm);
	return rc;   /* an error is retried with backoff */
}

/* ---------------------------------------------------------------------
 * The harness: a local control plane per test, like envtest's Environment.
 * ------------------------------------------------------------------- */

typedef struct devcluster {
	pid_t pid;
	char dir[64];              /* kubeconfig and log */
	char kubeconfig[128];
	char log[128];
	peerop_kube_client *client;
} devcluster;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, 50 * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start peerop-devcluster with extra flags (NULL-terminated) on a free port
 * and connect a client to it. */
static int devcluster_start(devcluster *dc, const char *const *extra)
{
	const char *bin = getenv("PEEROP_DEVCLUSTER");
	const char *argv[24];
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	long long deadline;
	size_t n = 0;
	int status, rc;

	memset(dc, 0, sizeof(*dc));
	snprintf(dc->dir, sizeof(dc->dir), "%s/devcluster-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dc->dir))
		return PEEROP_EIO;
	snprintf(dc->kubeconfig, sizeof(dc->kubeconfig), "%s/kubeconfig", dc->dir);
	snprintf(dc->log, sizeof(dc->log), "%s/log", dc->dir);
	argv[n++] = bin ? bin : "peerop-devcluster";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";      /* a free port: tests may run in parallel */
	argv[n++] = "--kubeconfig-out";
	argv[n++] = dc->kubeconfig;
	while (extra && *extra && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;

	dc->pid = fork();
	if (dc->pid < 0)
		return PEEROP_ERROR;
	if (dc->pid == 0) {
		int fd = open(dc->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}

	/* The kubeconfig appears (written whole, then renamed) once it listens. */
	deadline = now_ms() + 30000;
	while (access(dc->kubeconfig, R_OK) != 0) {
		if (waitpid(dc->pid, &status, WNOHANG) == dc->pid) {
			dc->pid = 0;
			return PEEROP_ECONNECT;
		}
		if (now_ms() > deadline)
			return PEEROP_ETIMEOUT;
		nap();
	}
	co.kubeconfig = dc->kubeconfig;
	rc = peerop_kube_config_load(&cfg, &co);
	if (rc == 0)
		rc = peerop_kube_client_new(&dc->client, cfg, NULL);
	peerop_kube_config_free(cfg);
	return rc;
}

/* Stop it as a test ends: SIGTERM, a deadline, then SIGKILL. */
static void devcluster_stop(devcluster *dc, int show_log)
{
	long long deadline = now_ms() + 30000;
	int status;

	peerop_kube_client_free(dc->client);
	dc->client = NULL;
	if (dc->pid > 0) {
		kill(dc->pid, SIGTERM);
		while (waitpid(dc->pid, &status, WNOHANG) != dc->pid) {
			if (now_ms() > deadline) {
				kill(dc->pid, SIGKILL);
				waitpid(dc->pid, &status, 0);
				break;
			}
			nap();
		}
		dc->pid = 0;
	}
	if (show_log) {
		char line[512];
		FILE *f = fopen(dc->log, "r");
		fprintf(stderr, "--- peerop-devcluster log:\n");
		while (f && fgets(line, sizeof(line), f))
			fputs(line, stderr);
		if (f)
			fclose(f);
	}
	unlink(dc->kubeconfig);
	unlink(dc->log);
	rmdir(dc->dir);
}

/* Fault injection: POST /_devcluster/WHAT (see devcluster/README.md). */
static int devcluster_fault(devcluster *dc, const char *what)
{
	char path[256];
	snprintf(path, sizeof(path), "/_devcluster/%s", what);
	return peerop_kube_request(NULL, dc->client, "POST", path, NULL, NULL);
}

/* Poll until the ConfigMap's example.com/keys annotation is `want`
 * (NULL: until the ConfigMap is gone). Errors (a 500 we injected) are
 * simply retried until the deadline. */
static int wait_keys(devcluster *dc, const char *name, const char *want)
{
	long long deadline = now_ms() + 60000;
	const char *have = NULL;

	while (now_ms() < deadline) {
		json_t *cm = NULL;
		int rc = peerop_kube_get(&cm, dc->client, &CONFIGMAPS, "default", name);

		if (rc == PEEROP_ENOTFOUND && !want)
			return 0;
		have = json_string_value(json_object_get(json_object_get(json_object_get(cm, "metadata"),
			"annotations"), "example.com/keys"));
		if (rc == 0 && want && have && !strcmp(have, want)) {
			json_decref(cm);
			return 0;
		}
		json_decref(cm);
		nap();
	}
	fprintf(stderr, "FAIL: ConfigMap %s: example.com/keys never became %s\n", name, want ? want : "(gone)");
	return PEEROP_ETIMEOUT;
}

/* Poll the controller's primary cache until its watch has listed twice
 * (the initial list, then a relist). */
static int wait_relist(peerop_controller *c)
{
	long long deadline = now_ms() + 60000;
	peerop_watch_stats ws;

	while (now_ms() < deadline) {
		peerop_watch *w = peerop_informer_watch(peerop_controller_cache(c, NULL));
		if (w) {
			peerop_watch_get_stats(w, &ws);
			if (ws.lists >= 2)
				return 0;
		}
		nap();
	}
	return PEEROP_ETIMEOUT;
}

/* Poll the controller's figures until at least `errors` reconciles failed. */
static int wait_errors(peerop_controller *c, unsigned long long errors)
{
	long long deadline = now_ms() + 60000;
	peerop_controller_stats st;

	while (now_ms() < deadline) {
		peerop_controller_get_stats(c, &st);
		if (st.errors >= errors)
			return 0;
		nap();
	}
	return PEEROP_ETIMEOUT;
}

static int put_configmap(devcluster *dc, const char *name, json_t *data)
{
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:o}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", name, "labels", "example.com/summarize", "true", "data", data);
	peerop_kube_write_options wo = PEEROP_KUBE_WRITE_OPTIONS_INIT;
	int rc;

	/* The test is a second field manager: it owns data, the operator the annotation. */
	wo.field_manager = "the-test";
	wo.force = 1;
	rc = cm ? peerop_kube_patch(NULL, dc->client, &CONFIGMAPS, "default", name, PEEROP_KUBE_PATCH_APPLY,
		cm, &wo) : PEEROP_ENOMEM;
	json_decref(cm);
	return rc;
}

#define CHECK(what, expr) do { \
	int rc_ = (expr); \
	if (rc_ != 0) { \
		fprintf(stderr, "FAIL: %s: %s (%s)\n", what, peerop_error_name(rc_), peerop_error_last()->message); \
		goto out; \
	} \
	printf("ok: %s\n", what); \
	} while (0)

/* The operator against an API server alone: convergence and faults. */
static int test_operator(void)
{
	devcluster dc;
	peerop_controller_options opts = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_controller *c = NULL;
	int failed = 1;

	CHECK("start peerop-devcluster", devcluster_start(&dc, NULL));

	opts.name = "summarize";
	opts.primary = CONFIGMAPS;
	opts.ns = "default";
	opts.label_selector = "example.com/summarize=true";
	opts.reconcile = summarize;
	CHECK("create the controller", peerop_controller_new(&c, dc.client, &opts));
	CHECK("start it", peerop_controller_start(c));
	CHECK("caches synced", peerop_controller_wait_synced(c, 30000));

	CHECK("create a ConfigMap", put_configmap(&dc, "settings", json_pack("{s:s, s:s}", "b", "2", "a", "1")));
	CHECK("the operator annotates it", wait_keys(&dc, "settings", "a,b"));

	/* 410 Gone: hold the watches so the operator misses a change, make
	 * the server forget the history behind it, and cut every watch. The
	 * watch resumes from a resourceVersion the server no longer has, gets
	 * 410 Expired, and must list again to see the change. */
	CHECK("stall every watch", devcluster_fault(&dc, "stall-watches?on=true"));
	CHECK("change it", put_configmap(&dc, "settings", json_pack("{s:s, s:s}", "a", "1", "c", "3")));
	CHECK("expire the watch history", devcluster_fault(&dc, "expire-history"));
	CHECK("close every watch", devcluster_fault(&dc, "close-watches"));
	CHECK("resume the watches", devcluster_fault(&dc, "stall-watches?on=false"));
	CHECK("the cache listed again after the 410", wait_relist(c));
	CHECK("the change is seen", wait_keys(&dc, "settings", "a,c"));

	/* 500s on the operator's own writes: hold the watches, change the
	 * object, arm three failures, let the event through. The only requests
	 * now are the operator's (our waits read its stats, not the API), so
	 * its writes fail and must be retried with backoff until one passes. */
	CHECK("stall every watch", devcluster_fault(&dc, "stall-watches?on=true"));
	CHECK("change it", put_configmap(&dc, "settings", json_pack("{s:s}", "d", "4")));
	CHECK("arm three 500s", devcluster_fault(&dc, "fail?code=500&count=3"));
	CHECK("resume the watches", devcluster_fault(&dc, "stall-watches?on=false"));
	CHECK("the operator's write failed and was retried", wait_errors(c, 1));
	CHECK("converged despite the 500s", wait_keys(&dc, "settings", "d"));

	/* Only labelled ConfigMaps are the operator's. */
	{
		json_t *other = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			"metadata", "name", "unrelated", "data", "x", "1");
		json_t *got = NULL;
		CHECK("create an unlabelled ConfigMap", peerop_kube_create(NULL, dc.client, &CONFIGMAPS, "default",
			other, NULL));
		json_decref(other);
		/* Converged: the labelled one has been handled after it was created. */
		CHECK("label a second one", put_configmap(&dc, "second", json_pack("{s:s}", "z", "1")));
		CHECK("the second is annotated", wait_keys(&dc, "second", "z"));
		CHECK("read the unlabelled one", peerop_kube_get(&got, dc.client, &CONFIGMAPS, "default", "unrelated"));
		if (json_object_get(json_object_get(got, "metadata"), "annotations")) {
			fprintf(stderr, "FAIL: the operator touched an unlabelled ConfigMap\n");
			json_decref(got);
			goto out;
		}
		json_decref(got);
		printf("ok: the unlabelled one is left alone\n");
	}
	failed = 0;
out:
	peerop_controller_free(c);
	devcluster_stop(&dc, failed);
	return failed;
}

/* Pods that run: with --run-pods the cluster runs Deployments, and each
 * pod's container is a local program named by --image. */
static int test_pods(void)
{
	static const char *const flags[] = { "--run-pods", "--image", "example/sleeper=/bin/sleep", NULL };
	devcluster dc;
	json_t *deploy = NULL;
	long long deadline;
	int failed = 1, running = 0;

	CHECK("start peerop-devcluster --run-pods", devcluster_start(&dc, flags));
	deploy = json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:i, s:[{s:s, s:s, s:[s]}]}}}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", "sleepers",
		"spec", "replicas", 2, "selector", "matchLabels", "app", "sleepers",
		"template", "metadata", "labels", "app", "sleepers",
		"spec", "terminationGracePeriodSeconds", 2,
		"containers", "name", "main", "image", "example/sleeper", "args", "600");
	CHECK("create a Deployment of 2", deploy ? peerop_kube_create(NULL, dc.client, &DEPLOYMENTS, "default",
		deploy, NULL) : PEEROP_ENOMEM);

	deadline = now_ms() + 60000;
	while (now_ms() < deadline && running < 2) {
		json_t *list = NULL, *pod;
		peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
		size_t i;

		lo.label_selector = "app=sleepers";
		running = 0;
		if (peerop_kube_list(&list, dc.client, &PODS, "default", &lo) == 0)
			json_array_foreach(json_object_get(list, "items"), i, pod) {
				const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
				if (phase && !strcmp(phase, "Running"))
					running++;
			}
		json_decref(list);
		if (running < 2)
			nap();
	}
	CHECK("both pods are Running", running == 2 ? 0 : PEEROP_ETIMEOUT);
	failed = 0;
out:
	json_decref(deploy);
	devcluster_stop(&dc, failed);
	return failed;
}

int main(void)
{
	static peerop_log_stream ls;
	int failed;

	if (peerop_global_init() != 0)
		return 1;
	ls.stream = stderr;
	ls.format = PEEROP_LOG_FORMAT_TEXT;
	peerop_log_set_callback(peerop_log_stream_cb, PEEROP_LOG_WARN, &ls);
	failed = test_operator();
	failed += test_pods();
	peerop_global_cleanup();
	printf("%d passed, %d failed\n", 2 - failed, failed);
	return failed ? 1 : 0;
}
