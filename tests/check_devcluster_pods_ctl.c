/* check_devcluster_pods_ctl.c: the Deployment and ReplicaSet controllers,
 * without a kubelet: the test plays the kubelet where readiness matters
 * (dcp_mark_ready), so the controllers are checked on their own. Pods are
 * deleted at once here (no kubelet, no graceful deletion). */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT 20000
#define WEB_PODS PODS "?labelSelector=app%3Dweb"
#define WEB_RS RSS "?labelSelector=app%3Dweb"

static dct *start(void)
{
	dc_cluster_options o;
	memset(&o, 0, sizeof(o));
	o.controllers = true;
	return dct_start_cluster(&o, false);
}

static void make_deploy(dct *t, const char *name, int replicas, const char *image, const char *extra_spec)
{
	char body[2048];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"replicas\":%d,%s"
		"\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"%s\"}]}}}}",
		name, replicas, extra_spec ? extra_spec : "", name, name, image);
	dcp_create(t, DEPLOYS, body);
}

static void set_image(dct *t, const char *name, const char *image)
{
	char path[256], body[512];
	long code;
	snprintf(path, sizeof(path), DEPLOYS "/%s", name);
	snprintf(body, sizeof(body), "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"%s\"}]}}}}",
		image);
	json_decref(dct_patch(t, &code, path, "application/strategic-merge-patch+json", body));
	ck_assert_int_eq(code, 200);
}

static void scale(dct *t, const char *name, int n)
{
	char path[256], body[128];
	long code;
	snprintf(path, sizeof(path), DEPLOYS "/%s/scale", name);
	snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", n);
	json_decref(dct_patch(t, &code, path, "application/merge-patch+json", body));
	ck_assert_int_eq(code, 200);
}

/* Mark pods ready until the deployment has rolled out completely (as
 * `kubectl rollout status` decides, plus the Progressing reason), all
 * read from one GET. */
static bool rolled_out(dct *t, const char *name, long long replicas)
{
	char path[256];
	json_t *d, *c;
	const char *reason = NULL;
	size_t i;
	bool ok;
	snprintf(path, sizeof(path), DEPLOYS "/%s", name);
	dcp_mark_ready(t, PODS);
	d = dcp_get(t, path);
	json_array_foreach(dc_json_path(d, "status.conditions"), i, c)
		if (!strcmp(dc_json_str(c, "type"), "Progressing"))
			reason = dc_json_str(c, "reason");
	ok = d && dc_json_int(d, "status.updatedReplicas", -1) == replicas &&
		dc_json_int(d, "status.replicas", -1) == replicas &&
		dc_json_int(d, "status.availableReplicas", -1) == replicas &&
		dc_json_int(d, "status.observedGeneration", -1) == dc_json_int(d, "metadata.generation", -2) &&
		reason && !strcmp(reason, "NewReplicaSetAvailable");
	json_decref(d);
	return ok;
}

START_TEST(test_deploy_creates_rs_and_pods)
{
	dct *t = start();
	json_t *rss, *pods, *rs, *p, *ref;
	const char *hash, *rsname;
	char want[128];
	size_t i;

	make_deploy(t, "web", 3, "nginx:1", NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 3, WAIT));
	rss = dcp_items(t, RSS);
	ck_assert_int_eq(json_array_size(rss), 1);
	rs = json_array_get(rss, 0);
	hash = dc_label(rs, "pod-template-hash");
	rsname = dc_json_str(rs, "metadata.name");
	ck_assert_ptr_nonnull(hash);
	snprintf(want, sizeof(want), "web-%s", hash);
	ck_assert_str_eq(rsname, want);
	ck_assert_str_eq(dc_json_str(rs, "spec.selector.matchLabels.pod-template-hash"), hash);
	ck_assert_str_eq(dc_annotation(rs, "deployment.kubernetes.io/revision"), "1");
	ref = json_array_get(dc_json_path(rs, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(dc_json_str(ref, "kind"), "Deployment");
	ck_assert_str_eq(dc_json_str(ref, "name"), "web");
	ck_assert(json_is_true(json_object_get(ref, "controller")));
	pods = dcp_items(t, WEB_PODS);
	json_array_foreach(pods, i, p) {
		snprintf(want, sizeof(want), "%s-", rsname);
		ck_assert_str_eq(dc_json_str(p, "metadata.generateName"), want);
		ck_assert_int_eq(strncmp(dc_json_str(p, "metadata.name"), want, strlen(want)), 0);
		ck_assert_str_eq(dc_label(p, "pod-template-hash"), hash);
		ck_assert_str_eq(dc_label(p, "app"), "web");
		ref = json_array_get(dc_json_path(p, "metadata.ownerReferences"), 0);
		ck_assert_str_eq(dc_json_str(ref, "kind"), "ReplicaSet");
		ck_assert_str_eq(dc_json_str(ref, "name"), rsname);
		ck_assert_str_eq(dc_json_str(ref, "uid"), dc_json_str(rs, "metadata.uid"));
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dc_json_path(p, "spec.containers"), 0),
			"image")), "nginx:1");
	}
	json_decref(pods);
	/* events, as the real controllers word them */
	ck_assert(TH_WAIT_UNTIL(dcp_has_event(t, "ScalingReplicaSet", "Scaled up replica set"), WAIT));
	ck_assert(dcp_has_event(t, "SuccessfulCreate", "Created pod: web-"));
	/* the deployment's status */
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/web", "status.replicas") == 3, WAIT));
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 3), WAIT));
	{
		char *avail = dcp_cond(t, DEPLOYS "/web", "Available", "status");
		ck_assert_str_eq(avail, "True");
		free(avail);
	}
	json_decref(rss);
	dct_stop(t);
}
END_TEST

START_TEST(test_scale_up_and_down)
{
	dct *t = start();
	make_deploy(t, "web", 3, "nginx:1", NULL);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 3, WAIT));
	scale(t, "web", 5);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 5, WAIT));
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 5), WAIT));
	scale(t, "web", 1);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 1, WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_has_event(t, "ScalingReplicaSet", "from 5 to 1"), WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_has_event(t, "SuccessfulDelete", "Deleted pod: web-"), WAIT));
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 1), WAIT));
	ck_assert_int_eq(dcp_count(t, RSS), 1);
	/* to zero and back */
	scale(t, "web", 0);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 0, WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/web", "status.replicas") == 0, WAIT));
	scale(t, "web", 2);
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 2), WAIT));
	dct_stop(t);
}
END_TEST

/* During a RollingUpdate of 4 replicas (maxSurge 1, maxUnavailable 1)
 * there are never more than 5 pods, nor fewer than 3 ready. */
START_TEST(test_rolling_update)
{
	dct *t = start();
	json_t *rss, *rs;
	size_t i, max_pods = 0, min_ready = 100;
	bool done = false;
	uint64_t deadline;

	make_deploy(t, "web", 4, "nginx:1", NULL);
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 4), WAIT));
	set_image(t, "web", "nginx:2");
	deadline = th_now_ms() + WAIT;
	while (!done && th_now_ms() < deadline) {
		json_t *pods = dcp_items(t, WEB_PODS), *p, *sets = dcp_items(t, RSS);
		size_t ready = 0, specs = 0;
		json_array_foreach(pods, i, p)
			if (!strcmp(dc_json_str(p, "status.phase") ? dc_json_str(p, "status.phase") : "", "Running"))
				ready++;
		/* what maxSurge bounds: the ReplicaSets' sizes (a pod on its way
		 * out may outlive its ReplicaSet's scale-down for a moment) */
		json_array_foreach(sets, i, p)
			specs += (size_t)dc_json_int(p, "spec.replicas", 0);
		if (specs > max_pods)
			max_pods = specs;
		if (ready < min_ready)
			min_ready = ready;
		json_decref(pods);
		json_decref(sets);
		done = rolled_out(t, "web", 4);
	}
	ck_assert(done);
	ck_assert_uint_le(max_pods, 5);
	ck_assert_uint_ge(min_ready, 3);
	rss = dcp_items(t, RSS);
	ck_assert_int_eq(json_array_size(rss), 2);
	json_array_foreach(rss, i, rs) {
		const char *img = json_string_value(json_object_get(json_array_get(
			dc_json_path(rs, "spec.template.spec.containers"), 0), "image"));
		const char *rev = dc_annotation(rs, "deployment.kubernetes.io/revision");
		if (!strcmp(img, "nginx:2")) {
			ck_assert_int_eq(dc_json_int(rs, "spec.replicas", -1), 4);
			ck_assert_str_eq(rev, "2");
		} else {
			ck_assert_int_eq(dc_json_int(rs, "spec.replicas", -1), 0);
			ck_assert_str_eq(rev, "1");
		}
	}
	json_decref(rss);
	{
		json_t *d = dcp_get(t, DEPLOYS "/web");
		ck_assert_str_eq(dc_annotation(d, "deployment.kubernetes.io/revision"), "2");
		json_decref(d);
	}
	ck_assert(dcp_has_event(t, "ScalingReplicaSet", "Scaled down replica set web-"));
	/* back to the first template: the old ReplicaSet is reused, revision 3 */
	set_image(t, "web", "nginx:1");
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 4), WAIT));
	ck_assert_int_eq(dcp_count(t, RSS), 2);
	rss = dcp_items(t, RSS);
	json_array_foreach(rss, i, rs) {
		const char *img = json_string_value(json_object_get(json_array_get(
			dc_json_path(rs, "spec.template.spec.containers"), 0), "image"));
		if (!strcmp(img, "nginx:1"))
			ck_assert_str_eq(dc_annotation(rs, "deployment.kubernetes.io/revision"), "3");
	}
	json_decref(rss);
	dct_stop(t);
}
END_TEST

START_TEST(test_recreate_and_history_limit)
{
	dct *t = start();
	bool overlap = false;
	uint64_t deadline;
	make_deploy(t, "web", 2, "nginx:1", "\"strategy\":{\"type\":\"Recreate\"},\"revisionHistoryLimit\":1,");
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 2), WAIT));
	set_image(t, "web", "nginx:2");
	/* never old and new pods at once */
	deadline = th_now_ms() + WAIT;
	while (th_now_ms() < deadline) {
		json_t *pods = dcp_items(t, WEB_PODS), *p;
		size_t i, n1 = 0, n2 = 0;
		json_array_foreach(pods, i, p) {
			const char *img = json_string_value(json_object_get(json_array_get(
				dc_json_path(p, "spec.containers"), 0), "image"));
			if (!strcmp(img, "nginx:1"))
				n1++;
			else
				n2++;
		}
		json_decref(pods);
		if (n1 && n2)
			overlap = true;
		if (rolled_out(t, "web", 2))
			break;
	}
	ck_assert(!overlap);
	ck_assert(rolled_out(t, "web", 2));
	set_image(t, "web", "nginx:3");
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 2), WAIT));
	/* revisionHistoryLimit 1: the new one and one old one */
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, RSS) == 2, WAIT));
	dct_stop(t);
}
END_TEST

START_TEST(test_progress_deadline_and_gc)
{
	dct *t = start();
	char *reason;
	long code;
	make_deploy(t, "web", 2, "nginx:1", "\"progressDeadlineSeconds\":1,");
	/* nobody makes the pods ready: the rollout times out */
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, WEB_PODS) == 2, WAIT));
	ck_assert(TH_WAIT_UNTIL((reason = dcp_cond(t, DEPLOYS "/web", "Progressing", "reason")) &&
		!strcmp(reason, "ProgressDeadlineExceeded") ? (free(reason), 1) : (free(reason), 0), WAIT));
	{
		char *st = dcp_cond(t, DEPLOYS "/web", "Progressing", "status");
		ck_assert_str_eq(st, "False");
		free(st);
	}
	/* progress again once pods get ready */
	ck_assert(TH_WAIT_UNTIL(rolled_out(t, "web", 2), WAIT));
	/* deleting the deployment takes its ReplicaSet and pods */
	json_decref(dct_call(t, &code, "DELETE", DEPLOYS "/web", NULL));
	ck_assert_int_eq(code, 200);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, RSS) == 0 && dcp_count(t, WEB_PODS) == 0, WAIT));
	dct_stop(t);
}
END_TEST

/* A ReplicaSet on its own, and its status. */
START_TEST(test_replicaset_alone)
{
	dct *t = start();
	long code;
	json_t *j;
	dcp_create(t, RSS, "{\"metadata\":{\"name\":\"solo\"},\"spec\":{\"replicas\":2,\"minReadySeconds\":1,"
		"\"selector\":{\"matchLabels\":{\"app\":\"solo\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"solo\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"x\"}]}}}}");
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS "?labelSelector=app%3Dsolo") == 2, WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, RSS "/solo", "status.replicas") == 2, WAIT));
	dcp_mark_ready(t, PODS);
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, RSS "/solo", "status.readyReplicas") == 2, WAIT));
	/* available only after minReadySeconds */
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, RSS "/solo", "status.availableReplicas") == 2, WAIT));
	ck_assert_int_eq(dcp_int(t, RSS "/solo", "status.fullyLabeledReplicas"), 2);
	ck_assert_int_eq(dcp_int(t, RSS "/solo", "status.observedGeneration"), 1);
	/* a pod deleted by hand is replaced */
	{
		json_t *pods = dcp_items(t, PODS "?labelSelector=app%3Dsolo");
		char path[256];
		snprintf(path, sizeof(path), PODS "/%s", dc_json_str(json_array_get(pods, 0), "metadata.name"));
		json_decref(dct_call(t, &code, "DELETE", path, NULL));
		ck_assert_int_eq(code, 200);
		ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS "?labelSelector=app%3Dsolo") == 2 && dcp_int(t, path,
			"metadata.generation") == -1 && !dcp_str(t, path, "metadata.name"), WAIT));
		json_decref(pods);
	}
	/* the scale subresource */
	j = dct_patch(t, &code, RSS "/solo/scale", "application/merge-patch+json", "{\"spec\":{\"replicas\":0}}");
	ck_assert_int_eq(code, 200);
	json_decref(j);
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS "?labelSelector=app%3Dsolo") == 0, WAIT));
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_pods_ctl");
	TCase *tc = tcase_create("controllers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_deploy_creates_rs_and_pods);
	tcase_add_test(tc, test_scale_up_and_down);
	tcase_add_test(tc, test_rolling_update);
	tcase_add_test(tc, test_recreate_and_history_limit);
	tcase_add_test(tc, test_progress_deadline_and_gc);
	tcase_add_test(tc, test_replicaset_alone);
	suite_add_tcase(s, tc);
	return s;
}
