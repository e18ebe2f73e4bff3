/* check_devcluster_pods.c: the kubelet runs pods as real local processes
 * (tests/dc-podapp, serving HTTP on its pod IP): IPs, environment and
 * downward API, logs, graceful deletion (SIGTERM handled, or ignored until
 * SIGKILL after the grace period), restarts with back-off, images that are
 * not mapped, commands that do not exist, probes, Deployments scaled with
 * processes really started and killed, shutdown and restart. Every test
 * checks at its end that no process it started is left. */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT 30000

/* A pod of the podapp image. extra_ctr: more container fields; extra_spec:
 * more pod spec fields (each ending with a comma); extra_env: more env
 * entries (each ending with a comma). */
static void make_pod_env(dct *t, const char *name, const char *extra_ctr, const char *extra_spec,
	const char *extra_env)
{
	char body[8192];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"t\"}},\"spec\":{%s"
		"\"containers\":[{\"name\":\"app\",\"image\":\"podapp\",\"args\":[\"--marker=%s\"],%s"
		"\"env\":[%s{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}]}]}}",
		name, extra_spec ? extra_spec : "", dcp_marker(), extra_ctr ? extra_ctr : "", extra_env ? extra_env : "");
	dcp_create(t, PODS, body);
}

static void make_pod(dct *t, const char *name, const char *extra_ctr, const char *extra_spec)
{
	make_pod_env(t, name, extra_ctr, extra_spec, NULL);
}

static void delete_pod(dct *t, const char *name, const char *body)
{
	char path[512];
	long code;
	snprintf(path, sizeof(path), PODS "/%s", name);
	json_decref(dct_call(t, &code, "DELETE", path, body));
	ck_assert_int_eq(code, 200);
}

static bool str_is(char *s, const char *want)
{
	bool ok = s && !strcmp(s, want);
	free(s);
	return ok;
}

static bool str_in(char *s, const char *a, const char *b)
{
	bool ok = s && (!strcmp(s, a) || (b && !strcmp(s, b)));
	free(s);
	return ok;
}

static void stop_and_check(dct *t)
{
	dct_stop(t);
	ck_assert_int_eq(dcp_procs(dcp_marker()), 0);
}

START_TEST(test_pod_runs)
{
	dct *t = dcp_start_kubelet(false);
	char *ip1, *ip2, *log, path[256];
	json_t *p, *cs;
	long code;

	dcp_create(t, "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"k\":\"v1\"}}");
	dcp_create(t, "/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"sec\"},\"data\":{\"s\":\"czNjcjN0\"}}");
	make_pod(t, "one", "\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"},\"prefix\":\"CM_\"}],", NULL);
	/* env: fieldRef, configMapKeyRef, secretKeyRef and $(VAR) expansion */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"two\",\"labels\":{\"tier\":\"x\"}},\"spec\":{\"containers\":[{"
		"\"name\":\"app\",\"image\":\"podapp:1.2\",\"args\":[\"--marker=$(MARK)\",\"$(POD_NAME)\",\"$$(POD_NAME)\"],"
		"\"env\":[{\"name\":\"MARK\",\"value\":\"x\"},"
		"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
		"{\"name\":\"POD_NS\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}}},"
		"{\"name\":\"POD_UID\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.uid\"}}},"
		"{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}},"
		"{\"name\":\"TIER\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['tier']\"}}},"
		"{\"name\":\"FROM_CM\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"k\"}}},"
		"{\"name\":\"FROM_SECRET\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"s\"}}},"
		"{\"name\":\"GREETING\",\"value\":\"hello $(POD_NAME) in $(POD_NS), $(UNDEFINED) $$(POD_NAME)\"}],"
		"\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "one", "/ping", "pong one"), WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "two", "/ping", "pong two"), WAIT));
	/* each pod its own loopback address, the same port */
	ip1 = dcp_pod_ip(t, "one");
	ip2 = dcp_pod_ip(t, "two");
	ck_assert_ptr_nonnull(ip1);
	ck_assert_ptr_nonnull(ip2);
	ck_assert_int_eq(strncmp(ip1, "127.", 4), 0);
	ck_assert_str_ne(ip1, ip2);
	ck_assert_str_ne(ip1, "127.0.0.1");
	free(ip1);
	free(ip2);
	ck_assert(dcp_pod_says(t, "one", "/env?name=CM_k", "v1"));
	ck_assert(dcp_pod_says(t, "one", "/env?name=PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	ck_assert(dcp_pod_says(t, "one", "/env?name=HOSTNAME", "one"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=POD_NS", "default"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=NODE", "devcluster"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=TIER", "x"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=FROM_CM", "v1"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=FROM_SECRET", "s3cr3t"));
	ck_assert(dcp_pod_says(t, "two", "/env?name=GREETING", "hello two in default, $(UNDEFINED) $(POD_NAME)"));
	p = dcp_get(t, PODS "/two");
	ck_assert(dcp_pod_says(t, "two", "/env?name=POD_UID", dc_json_str(p, "metadata.uid")));
	/* the status a kubelet writes */
	ck_assert_str_eq(dc_json_str(p, "status.phase"), "Running");
	ck_assert_str_eq(dc_json_str(p, "status.hostIP"), "127.0.0.1");
	ck_assert_str_eq(dc_json_str(p, "spec.nodeName"), "devcluster");
	ck_assert_str_eq(dc_json_str(p, "status.qosClass"), "Burstable");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dc_json_path(p, "status.podIPs"), 0), "ip")),
		dc_json_str(p, "status.podIP"));
	cs = json_array_get(dc_json_path(p, "status.containerStatuses"), 0);
	ck_assert(json_is_true(json_object_get(cs, "ready")));
	ck_assert(json_is_true(json_object_get(cs, "started")));
	ck_assert_int_eq(dc_json_int(cs, "restartCount", -1), 0);
	ck_assert_ptr_nonnull(dc_json_str(cs, "state.running.startedAt"));
	ck_assert_str_eq(dc_json_str(cs, "image"), "podapp:1.2");
	json_decref(p);
	ck_assert(dcp_pod_ready(t, "two"));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "two", "Scheduled", "Successfully assigned default/two to devcluster"),
		WAIT));
	ck_assert(dcp_pod_event(t, "two", "Pulled", "already present on machine"));
	ck_assert(dcp_pod_event(t, "two", "Created", "Created container: app"));
	ck_assert(dcp_pod_event(t, "two", "Started", "Started container app"));
	/* arguments: expanded, $$ escaped; the output is the pod's log */
	{
		dct_resp r;
		dct_req(t, &r, "GET", PODS "/two/log", NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_ptr_nonnull(strstr(r.body, "arg[1]=--marker=x\n"));
		ck_assert_ptr_nonnull(strstr(r.body, "arg[2]=two\n"));
		ck_assert_ptr_nonnull(strstr(r.body, "arg[3]=$(POD_NAME)\n"));
		ck_assert_ptr_nonnull(strstr(r.body, "listening on 127."));
		dct_resp_free(&r);
		dct_req(t, &r, "GET", PODS "/two/log?timestamps=true&tailLines=1", NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_int_eq(strncmp(r.body, "20", 2), 0);
		ck_assert_ptr_nonnull(strstr(r.body, "Z listening on"));
		ck_assert_ptr_null(strstr(r.body, "arg["));
		dct_resp_free(&r);
		dct_req(t, &r, "GET", PODS "/two/log?container=nope", NULL, NULL);
		ck_assert_int_eq(r.code, 400);
		dct_resp_free(&r);
	}
	if (dcp_root())
		ck_assert(dcp_pod_says(t, "one", "/hostname", "one"));
	/* the node */
	snprintf(path, sizeof(path), "/api/v1/nodes/devcluster");
	log = dcp_cond(t, path, "Ready", "status");
	ck_assert_str_eq(log, "True");
	free(log);
	json_decref(dct_call(t, &code, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Ddevcluster", NULL));
	ck_assert_int_eq(code, 200);
	stop_and_check(t);
}
END_TEST

/* SIGTERM handled: the pod goes at once. Ignored: it goes after the grace
 * period, by SIGKILL. */
START_TEST(test_graceful_delete)
{
	dct *t = dcp_start_kubelet(false);
	uint64_t t0, took;
	char *reason;

	make_pod(t, "handles", NULL, "\"terminationGracePeriodSeconds\":30,");
	make_pod_env(t, "ignores", NULL, "\"terminationGracePeriodSeconds\":3,",
		"{\"name\":\"IGNORE_TERM\",\"value\":\"1\"},");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "handles", "/ping", "pong handles"), WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "ignores", "/ping", "pong ignores"), WAIT));
	ck_assert_int_eq(dcp_procs(dcp_marker()), 2);
	/* it handles SIGTERM: gone well before its 30 s */
	t0 = th_now_ms();
	delete_pod(t, "handles", NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_pod_gone(t, "handles"), 20000));
	ck_assert(dcp_pod_event(t, "handles", "Killing", "Stopping container app"));
	ck_assert(TH_WAIT_UNTIL(dcp_procs(dcp_marker()) == 1, WAIT));
	(void)t0;
	json_decref(dct_call(t, &(long){0}, "DELETE", PODS "/ignores", NULL));
	t0 = th_now_ms();
	/* Terminating meanwhile, still answering */
	reason = dcp_str(t, PODS "/ignores", "metadata.deletionTimestamp");
	ck_assert_ptr_nonnull(reason);
	free(reason);
	ck_assert_int_eq(dcp_int(t, PODS "/ignores", "metadata.deletionGracePeriodSeconds"), 3);
	ck_assert(dcp_pod_says(t, "ignores", "/ping", "pong ignores"));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_gone(t, "ignores"), WAIT));
	took = th_now_ms() - t0;
	/* SIGKILL came after the grace period, not before */
	ck_assert_uint_ge(took, 2500);
	ck_assert(TH_WAIT_UNTIL(dcp_procs(dcp_marker()) == 0, WAIT));
	/* a forced deletion (grace 0) removes the object at once; the
	 * process still gets SIGTERM, then SIGKILL */
	make_pod(t, "forced", NULL, NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "forced", "/ping", "pong forced"), WAIT));
	delete_pod(t, "forced", "{\"gracePeriodSeconds\":0}");
	ck_assert(dcp_pod_gone(t, "forced"));
	ck_assert(TH_WAIT_UNTIL(dcp_procs(dcp_marker()) == 0, WAIT));
	stop_and_check(t);
}
END_TEST

START_TEST(test_crash_loop)
{
	dct *t = dcp_start_kubelet(false);
	bool backoff = false;
	uint64_t deadline = th_now_ms() + 40000;
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"crash\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"podapp\",\"env\":[{\"name\":\"NO_SERVER\",\"value\":\"1\"},{\"name\":\"EXIT_AFTER_MS\","
		"\"value\":\"50\"},{\"name\":\"EXIT_CODE\",\"value\":\"3\"}]}]}}");
	/* restarts: at once, then after 1 s, 2 s (a 1 s back-off in tests) */
	while (th_now_ms() < deadline) {
		char *r = dcp_ctr(t, "crash", "state.waiting.reason"), *n = dcp_ctr(t, "crash", "restartCount");
		if (r && !strcmp(r, "CrashLoopBackOff"))
			backoff = true;
		if (n && atoi(n) >= 3 && backoff) {
			free(r);
			free(n);
			break;
		}
		free(r);
		free(n);
		th_sleep_ms(20);
	}
	ck_assert(backoff);
	{
		json_t *p = dcp_get(t, PODS "/crash");
		char *dump = json_dumps(dc_json_path(p, "status.containerStatuses"), JSON_COMPACT);
		json_t *cs = json_array_get(dc_json_path(p, "status.containerStatuses"), 0);
		ck_assert_msg(dc_json_int(cs, "lastState.terminated.exitCode", -1) == 3, "%s", dump);
		ck_assert_msg(!strcmp(dc_json_str(cs, "lastState.terminated.reason") ? dc_json_str(cs,
			"lastState.terminated.reason") : "", "Error"), "%s", dump);
		free(dump);
		json_decref(p);
	}
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "crash", "BackOff", "Back-off restarting failed container app"), WAIT));
	{
		char *msg = NULL;
		ck_assert(TH_WAIT_UNTIL((free(msg), msg = dcp_ctr(t, "crash", "state.waiting.message")) != NULL &&
			strstr(msg, "back-off") && strstr(msg, "restarting failed container=app pod=crash_default("), WAIT));
		free(msg);
	}
	/* the previous instance's log */
	{
		dct_resp r;
		dct_req(t, &r, "GET", PODS "/crash/log?previous=true", NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_ptr_nonnull(strstr(r.body, "exiting with 3"));
		dct_resp_free(&r);
	}
	/* restartPolicy Never: once, then Failed */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"once\"},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
		"\"name\":\"app\",\"image\":\"podapp\",\"env\":[{\"name\":\"NO_SERVER\",\"value\":\"1\"},"
		"{\"name\":\"EXIT_AFTER_MS\",\"value\":\"10\"},{\"name\":\"EXIT_CODE\",\"value\":\"1\"}]}]}}");
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, PODS "/once", "metadata.generation") != 0 &&
		str_is(dcp_str(t, PODS "/once", "status.phase"), "Failed"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "once", "state.terminated.exitCode"), "1"));
	ck_assert(str_is(dcp_ctr(t, "once", "restartCount"), "0"));
	/* OnFailure with success: Succeeded */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"job\"},\"spec\":{\"restartPolicy\":\"OnFailure\",\"containers\":[{"
		"\"name\":\"app\",\"image\":\"podapp\",\"env\":[{\"name\":\"NO_SERVER\",\"value\":\"1\"},"
		"{\"name\":\"EXIT_AFTER_MS\",\"value\":\"10\"}]}]}}");
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_str(t, PODS "/job", "status.phase"), "Succeeded"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "job", "state.terminated.reason"), "Completed"));
	stop_and_check(t);
}
END_TEST

START_TEST(test_image_and_command_errors)
{
	dct *t = dcp_start_kubelet(false);
	char *msg = NULL;
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"nowhere\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"registry.example/team/unknown:2.0\"}]}}");
	ck_assert(TH_WAIT_UNTIL(str_in(dcp_ctr(t, "nowhere", "state.waiting.reason"), "ErrImagePull", "ImagePullBackOff"),
		WAIT));
	ck_assert(TH_WAIT_UNTIL((free(msg), msg = dcp_ctr(t, "nowhere", "state.waiting.message")) != NULL, WAIT));
	ck_assert_ptr_nonnull(strstr(msg, "registry.example/team/unknown:2.0"));
	free(msg);
	msg = NULL;
	ck_assert(str_is(dcp_str(t, PODS "/nowhere", "status.phase"), "Pending"));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "nowhere", "Failed", "registry.example/team/unknown:2.0"), WAIT));
	/* then the back-off */
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_ctr(t, "nowhere", "state.waiting.reason"), "ImagePullBackOff"), WAIT));
	/* a command that does not exist, by name and by path */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"nocmd\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"shell\",\"command\":[\"no-such-command-here\",\"x\"]}]}}");
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"nopath\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"shell\",\"command\":[\"/no/such/program\"]}]}}");
	ck_assert(TH_WAIT_UNTIL((free(msg), msg = dcp_ctr(t, "nocmd", "lastState.terminated.message")) != NULL, WAIT));
	ck_assert_ptr_nonnull(strstr(msg, "exec: \"no-such-command-here\": executable file not found in $PATH"));
	ck_assert(str_is(dcp_ctr(t, "nocmd", "lastState.terminated.reason"), "StartError"));
	ck_assert(TH_WAIT_UNTIL(str_in(dcp_ctr(t, "nocmd", "state.waiting.reason"), "CrashLoopBackOff",
		"RunContainerError"), WAIT));
	free(msg);
	msg = NULL;
	ck_assert(TH_WAIT_UNTIL((free(msg), msg = dcp_ctr(t, "nopath", "lastState.terminated.message")) != NULL, WAIT));
	ck_assert_ptr_nonnull(strstr(msg, "/no/such/program"));
	ck_assert_ptr_nonnull(strstr(msg, "No such file or directory"));
	free(msg);
	/* a log request for a container that never ran */
	{
		dct_resp r;
		dct_req(t, &r, "GET", PODS "/nowhere/log", NULL, NULL);
		ck_assert_int_eq(r.code, 400);
		ck_assert_ptr_nonnull(strstr(r.body, "is waiting to start"));
		dct_resp_free(&r);
	}
	/* they are deleted at once: nothing runs */
	delete_pod(t, "nowhere", NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_pod_gone(t, "nowhere"), WAIT));
	stop_and_check(t);
}
END_TEST

/* A Deployment's pods are real processes: 3, then 5, then 1. */
START_TEST(test_deployment_scales_processes)
{
	dct *t = dcp_start_kubelet(false);
	char body[4096];
	json_t *pods, *p;
	size_t i;
	long code;

	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,"
		"\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		"\"spec\":{\"terminationGracePeriodSeconds\":5,\"containers\":[{\"name\":\"app\",\"image\":\"podapp\","
		"\"args\":[\"--marker=%s\"],\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":8080},"
		"\"periodSeconds\":1},\"env\":["
		"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}]}]}}}}", dcp_marker());
	dcp_create(t, DEPLOYS, body);
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/web", "status.availableReplicas") == 3, WAIT));
	ck_assert_int_eq(dcp_procs(dcp_marker()), 3);
	pods = dcp_items(t, PODS "?labelSelector=app%3Dweb");
	json_array_foreach(pods, i, p) {
		char want[128];
		snprintf(want, sizeof(want), "pong %s", dc_json_str(p, "metadata.name"));
		ck_assert(dcp_pod_says(t, dc_json_str(p, "metadata.name"), "/ping", want));
	}
	json_decref(pods);
	json_decref(dct_patch(t, &code, DEPLOYS "/web/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":5}}"));
	ck_assert_int_eq(code, 200);
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/web", "status.availableReplicas") == 5, WAIT));
	ck_assert_int_eq(dcp_procs(dcp_marker()), 5);
	json_decref(dct_patch(t, &code, DEPLOYS "/web/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":1}}"));
	ck_assert_int_eq(code, 200);
	/* four processes really killed, four objects really removed */
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS "?labelSelector=app%3Dweb") == 1 && dcp_procs(dcp_marker()) == 1, WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/web", "status.replicas") == 1 &&
		dcp_int(t, DEPLOYS "/web", "status.availableReplicas") == 1, WAIT));
	/* deleting the Deployment takes everything */
	json_decref(dct_call(t, &code, "DELETE", DEPLOYS "/web", NULL));
	ck_assert_int_eq(code, 200);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS) == 0 && dcp_procs(dcp_marker()) == 0, WAIT));
	stop_and_check(t);
}
END_TEST

START_TEST(test_probes)
{
	dct *t = dcp_start_kubelet(false);
	char *dir = th_tmpdir(), ready[512], health[512], extra[2048];
	char *n;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(health, sizeof(health), "%s/unhealthy", dir);
	/* readiness gates Ready; liveness restarts */
	snprintf(extra, sizeof(extra), "\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":8080},"
		"\"periodSeconds\":1,\"failureThreshold\":1},"
		"\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":\"web\"},\"initialDelaySeconds\":1,"
		"\"periodSeconds\":1,\"failureThreshold\":2},"
		"\"ports\":[{\"name\":\"web\",\"containerPort\":8080}],");
	{
		char body[8192];
		snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"probed\"},\"spec\":{\"terminationGracePeriodSeconds\":2,"
			"\"containers\":[{\"name\":\"app\",\"image\":\"podapp\",\"args\":[\"--marker=%s\"],%s\"env\":["
			"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
			"{\"name\":\"READY_FILE\",\"value\":\"%s\"},{\"name\":\"HEALTH_FILE\",\"value\":\"%s\"}]}]}}",
			dcp_marker(), extra, ready, health);
		dcp_create(t, PODS, body);
	}
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_str(t, PODS "/probed", "status.phase"), "Running"), WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "probed", "Unhealthy", "Readiness probe failed: HTTP probe failed with "
		"statuscode: 503"), WAIT));
	ck_assert(!dcp_pod_ready(t, "probed"));
	th_write_str(ready, "1");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_ready(t, "probed"), WAIT));
	unlink(ready);
	ck_assert(TH_WAIT_UNTIL(!dcp_pod_ready(t, "probed"), WAIT));
	th_write_str(ready, "1");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_ready(t, "probed"), WAIT));
	/* liveness fails twice: Killing, a restart */
	th_write_str(health, "1");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "probed", "Killing", "failed liveness probe, will be restarted"), WAIT));
	ck_assert(dcp_pod_event(t, "probed", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"));
	unlink(health);
	ck_assert(TH_WAIT_UNTIL((n = dcp_ctr(t, "probed", "restartCount")) && atoi(n) >= 1 ? (free(n), 1) : (free(n), 0),
		WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_ready(t, "probed"), WAIT));
	/* tcpSocket and exec probes */
	{
		char body[8192];
		snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"tcpexec\"},\"spec\":{\"containers\":[{\"name\":\"app\","
			"\"image\":\"podapp\",\"args\":[\"--marker=%s\"],"
			"\"readinessProbe\":{\"tcpSocket\":{\"port\":8080},\"periodSeconds\":1},"
			"\"livenessProbe\":{\"exec\":{\"command\":[\"sh\",\"-c\",\"test \\\"$MODE\\\" = ok\"]},\"periodSeconds\":1,"
			"\"timeoutSeconds\":10},"
			"\"env\":[{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
			"{\"name\":\"MODE\",\"value\":\"ok\"}]}]}}", dcp_marker());
		dcp_create(t, PODS, body);
	}
	ck_assert(TH_WAIT_UNTIL(dcp_pod_ready(t, "tcpexec"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "tcpexec", "restartCount"), "0"));
	th_tmpdir_remove(dir);
	stop_and_check(t);
}
END_TEST

/* Init containers: in order, to completion, then the others. */
START_TEST(test_init_containers)
{
	dct *t = dcp_start_kubelet(false);
	char *n = NULL;
	json_t *p, *ics;
	char body[4096];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"inits\"},\"spec\":{\"initContainers\":["
		"{\"name\":\"one\",\"image\":\"shell\",\"command\":[\"sh\",\"-c\",\"echo first\"]},"
		"{\"name\":\"two\",\"image\":\"shell\",\"command\":[\"sh\",\"-c\",\"echo second\"]}],"
		"\"containers\":[{\"name\":\"app\",\"image\":\"podapp\",\"args\":[\"--marker=%s\"],\"env\":["
		"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}]}]}}", dcp_marker());
	dcp_create(t, PODS, body);
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "inits", "/ping", "pong inits"), WAIT));
	p = dcp_get(t, PODS "/inits");
	ics = dc_json_path(p, "status.initContainerStatuses");
	ck_assert_int_eq(json_array_size(ics), 2);
	ck_assert_str_eq(dc_json_str(json_array_get(ics, 0), "state.terminated.reason"), "Completed");
	ck_assert_str_eq(dc_json_str(json_array_get(ics, 1), "state.terminated.reason"), "Completed");
	/* two ran after one */
	ck_assert_str_ge(dc_json_str(json_array_get(ics, 1), "state.terminated.startedAt"),
		dc_json_str(json_array_get(ics, 0), "state.terminated.finishedAt"));
	json_decref(p);
	ck_assert(str_is(dcp_cond(t, PODS "/inits", "Initialized", "status"), "True"));
	{
		dct_resp r;
		dct_req(t, &r, "GET", PODS "/inits/log?container=two", NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_str_eq(r.body, "second\n");
		dct_resp_free(&r);
	}
	/* a failing init container: retried with the back-off, the app waits */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"initretry\"},\"spec\":{\"initContainers\":["
		"{\"name\":\"check\",\"image\":\"shell\",\"command\":[\"sh\",\"-c\",\"exit 4\"]}],"
		"\"containers\":[{\"name\":\"app\",\"image\":\"podapp\"}]}}");
	ck_assert(TH_WAIT_UNTIL((p = dcp_get(t, PODS "/initretry")) != NULL &&
		dc_json_int(json_array_get(dc_json_path(p, "status.initContainerStatuses"), 0), "restartCount", 0) >= 2 ?
		(json_decref(p), 1) : (json_decref(p), 0), WAIT));
	ck_assert(str_is(dcp_ctr(t, "initretry", "state.waiting.reason"), "PodInitializing"));
	ck_assert(str_is(dcp_str(t, PODS "/initretry", "status.phase"), "Pending"));
	ck_assert(str_is(dcp_cond(t, PODS "/initretry", "Initialized", "reason"), "ContainersNotInitialized"));
	{
		/* kubectl's STATUS column */
		dct_resp r;
		t->accept = DC_TABLE_CONTENT_TYPE;
		dct_req(t, &r, "GET", PODS "/initretry", NULL, NULL);
		t->accept = NULL;
		ck_assert_int_eq(r.code, 200);
		/* Init:CrashLoopBackOff, Init:Error, Init:ContainerCreating... */
		ck_assert_msg(strstr(r.body, "\"initretry\",\"0/1\",\"Init:"), "%s", r.body);
		dct_resp_free(&r);
	}
	/* restartPolicy Never: the pod fails, the app never starts */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"initfail\"},\"spec\":{\"restartPolicy\":\"Never\","
		"\"initContainers\":[{\"name\":\"check\",\"image\":\"shell\",\"command\":[\"sh\",\"-c\",\"exit 4\"]}],"
		"\"containers\":[{\"name\":\"app\",\"image\":\"podapp\"}]}}");
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_str(t, PODS "/initfail", "status.phase"), "Failed"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "initfail", "state.waiting.reason"), "PodInitializing"));
	(void)n;
	stop_and_check(t);
}
END_TEST

/* Stopping the server stops every pod, gracefully, and nothing is left. */
START_TEST(test_shutdown_stops_pods)
{
	dct *t = dcp_start_kubelet(false);
	uint64_t t0;
	make_pod(t, "a", NULL, NULL);
	make_pod_env(t, "b", "\"command\":[\"/usr/local/bin/dc-podapp\",\"--first\"],",
		"\"terminationGracePeriodSeconds\":2,", "{\"name\":\"IGNORE_TERM\",\"value\":\"1\"},");
	make_pod(t, "c", NULL, NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "a", "/ping", "pong a") && dcp_pod_says(t, "c", "/ping", "pong c"), WAIT));
	/* a command named like the image's executable runs it */
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "b", "/ping", "pong b"), WAIT));
	ck_assert_int_eq(dcp_procs(dcp_marker()), 3);
	t0 = th_now_ms();
	dct_stop(t);
	(void)t0;
	ck_assert_int_eq(dcp_procs(dcp_marker()), 0);
}
END_TEST

static bool pod_answers(dct *t, const char *name, unsigned port, const char *want)
{
	char *ip = dcp_pod_ip(t, name), url[128], *body;
	long code;
	bool ok;
	if (!ip)
		return false;
	snprintf(url, sizeof(url), "http://%s:%u/ping", ip, port);
	free(ip);
	body = dcp_http(url, &code);
	ok = body && code == 200 && !strcmp(body, want);
	free(body);
	return ok;
}

/* With a data directory, pods run again after a restart, on their IPs.
 * (Pod IPs of its own, and a port no other test uses: servers of other
 * tests may take a freed address meanwhile otherwise.) */
START_TEST(test_restart_runs_pods_again)
{
	char *ips = th_tmpdir(), *ip, *ip2, env[128];
	unsigned port = 20000u + (unsigned)getpid() % 20000u;
	dct *t;
	setenv("PEEROP_DEVCLUSTER_IPS_DIR", ips, 1);
	t = dcp_start_kubelet(true);
	snprintf(env, sizeof(env), "{\"name\":\"PORT\",\"value\":\"%u\"},", port);
	make_pod_env(t, "keep", NULL, NULL, env);
	ck_assert(TH_WAIT_UNTIL(pod_answers(t, "keep", port, "pong keep"), WAIT));
	ip = dcp_pod_ip(t, "keep");
	t = dcp_restart_kubelet(t);
	ck_assert(TH_WAIT_UNTIL(pod_answers(t, "keep", port, "pong keep"), WAIT));
	ip2 = dcp_pod_ip(t, "keep");
	ck_assert_str_eq(ip, ip2);
	ck_assert_int_eq(dcp_procs(dcp_marker()), 1);
	ck_assert(str_is(dcp_ctr(t, "keep", "restartCount"), "1"));
	free(ip);
	free(ip2);
	stop_and_check(t);
	unsetenv("PEEROP_DEVCLUSTER_IPS_DIR");
	th_tmpdir_remove(ips);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_pods");
	TCase *tc = tcase_create("kubelet");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_pod_runs);
	tcase_add_test(tc, test_graceful_delete);
	tcase_add_test(tc, test_crash_loop);
	tcase_add_test(tc, test_image_and_command_errors);
	tcase_add_test(tc, test_deployment_scales_processes);
	tcase_add_test(tc, test_probes);
	tcase_add_test(tc, test_init_containers);
	tcase_add_test(tc, test_shutdown_stops_pods);
	tcase_add_test(tc, test_restart_runs_pods_again);
	suite_add_tcase(s, tc);
	return s;
}
