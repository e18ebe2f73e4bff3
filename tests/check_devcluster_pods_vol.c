/* check_devcluster_pods_vol.c: what the kubelet puts in a container's file
 * system (as root: its own mount namespace): configMap, secret, emptyDir,
 * downwardAPI volumes laid out as the kubelet lays them out and updated by
 * the ..data swap (peerop-server reloads its peers file from one), subPath,
 * readOnly, readOnlyRootFilesystem, runAsUser; and hostile specs, which get
 * a clear waiting reason and never touch the host. */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"
#include "kubelet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT 30000
#define CMS "/api/v1/namespaces/default/configmaps"

static bool str_is(char *s, const char *want)
{
	bool ok = s && !strcmp(s, want);
	free(s);
	return ok;
}

static bool str_has(char *s, const char *part)
{
	bool ok = s && strstr(s, part);
	free(s);
	return ok;
}

/* A podapp pod; ctr: more container fields, spec: more pod spec fields
 * (each list ending with a comma). */
static void pod(dct *t, const char *name, const char *ctr, const char *spec)
{
	char body[16384];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"vol\",\"b\":\"2\"}},\"spec\":{%s"
		"\"terminationGracePeriodSeconds\":2,\"containers\":[{\"name\":\"app\",\"image\":\"podapp\","
		"\"args\":[\"--marker=%s\"],%s\"env\":["
		"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}]}]}}",
		name, spec ? spec : "", dcp_marker(), ctr ? ctr : "");
	dcp_create(t, PODS, body);
}

static char *pod_file(dct *t, const char *name, const char *path)
{
	char *ip = dcp_pod_ip(t, name), url[1024], *body;
	long code;
	if (!ip)
		return NULL;
	snprintf(url, sizeof(url), "http://%s:8080/file?path=%s", ip, path);
	free(ip);
	body = dcp_http(url, &code);
	if (code != 200) {
		free(body);
		return NULL;
	}
	return body;
}

/* "written", or why not (strerror) */
static char *pod_write(dct *t, const char *name, const char *path)
{
	char *ip = dcp_pod_ip(t, name), url[1024], *body;
	long code;
	if (!ip)
		return NULL;
	snprintf(url, sizeof(url), "http://%s:8080/write?path=%s", ip, path);
	free(ip);
	body = dcp_http(url, &code);
	return body;
}

static char *volume_dir(dct *t, const char *pod_name, const char *plugin, const char *vol)
{
	char *uid, *dir = NULL, path[512];
	snprintf(path, sizeof(path), PODS "/%s", pod_name);
	uid = dcp_str(t, path, "metadata.uid");
	if (uid && asprintf(&dir, "%s/%s/volumes/%s/%s", dc_cluster_kubelet(t->cluster)->root, uid, plugin, vol) < 0)
		dir = NULL;
	free(uid);
	return dir;
}

static void stop_and_check(dct *t)
{
	dct_stop(t);
	ck_assert_int_eq(dcp_procs(dcp_marker()), 0);
}

START_TEST(test_configmap_volume_updates)
{
	dct *t;
	char mnt[256], ctr[2048], file[512], *vdir, data1[256], data2[256], link[256], path[PATH_MAX + 300];
	long code;
	ssize_t n;
	struct stat st;

	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	snprintf(mnt, sizeof(mnt), "/etc/%s/conf", dcp_marker());
	dcp_create(t, CMS, "{\"metadata\":{\"name\":\"conf\"},\"data\":{\"peers.json\":\"version 1\",\"other\":\"o\"}}");
	snprintf(ctr, sizeof(ctr), "\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"%s\",\"readOnly\":true},"
		"{\"name\":\"items\",\"mountPath\":\"%s-items\"}],", mnt, mnt);
	pod(t, "cm", ctr, "\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"conf\"}},{\"name\":\"items\","
		"\"configMap\":{\"name\":\"conf\",\"defaultMode\":416,\"items\":[{\"key\":\"other\",\"path\":\"sub/o.txt\","
		"\"mode\":384},{\"key\":\"peers.json\",\"path\":\"p\"}]}}],");
	snprintf(file, sizeof(file), "%s/peers.json", mnt);
	ck_assert(TH_WAIT_UNTIL(str_is(pod_file(t, "cm", file), "version 1"), WAIT));
	/* made in the container's namespace only: the host has no such path */
	snprintf(path, sizeof(path), "/etc/%s", dcp_marker());
	ck_assert_int_ne(access(path, F_OK), 0);
	/* items: paths, modes */
	snprintf(file, sizeof(file), "%s-items/sub/o.txt", mnt);
	ck_assert(str_is(pod_file(t, "cm", file), "o"));
	snprintf(file, sizeof(file), "%s-items/p", mnt);
	ck_assert(str_is(pod_file(t, "cm", file), "version 1"));
	vdir = volume_dir(t, "cm", "kubernetes.io~configmap", "items");
	snprintf(path, sizeof(path), "%s/..data/sub/o.txt", vdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/..data/p", vdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	free(vdir);
	/* the kubelet's layout: ..data -> ..<timestamp>, key -> ..data/key */
	vdir = volume_dir(t, "cm", "kubernetes.io~configmap", "cfg");
	snprintf(path, sizeof(path), "%s/..data", vdir);
	n = readlink(path, data1, sizeof(data1) - 1);
	ck_assert_int_gt(n, 0);
	data1[n] = '\0';
	ck_assert_int_eq(strncmp(data1, "..20", 4), 0);
	snprintf(path, sizeof(path), "%s/peers.json", vdir);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "..data/peers.json");
	/* read-only */
	snprintf(file, sizeof(file), "%s/new", mnt);
	ck_assert(str_has(pod_write(t, "cm", file), "Read-only file system"));
	/* an update reaches the running process by the ..data swap */
	json_decref(dct_patch(t, &code, CMS "/conf", "application/merge-patch+json",
		"{\"data\":{\"peers.json\":\"version 2\",\"other\":null}}"));
	ck_assert_int_eq(code, 200);
	snprintf(file, sizeof(file), "%s/peers.json", mnt);
	ck_assert(TH_WAIT_UNTIL(str_is(pod_file(t, "cm", file), "version 2"), WAIT));
	snprintf(file, sizeof(file), "%s/other", mnt);
	ck_assert(TH_WAIT_UNTIL(pod_file(t, "cm", file) == NULL, WAIT));
	snprintf(path, sizeof(path), "%s/..data", vdir);
	n = readlink(path, data2, sizeof(data2) - 1);
	ck_assert_int_gt(n, 0);
	data2[n] = '\0';
	ck_assert_str_ne(data1, data2);
	snprintf(path, sizeof(path), "%s/%s", vdir, data1);
	ck_assert_int_ne(access(path, F_OK), 0);   /* the old version is gone */
	free(vdir);
	stop_and_check(t);
}
END_TEST

START_TEST(test_secret_emptydir_subpath_readonly_root)
{
	dct *t;
	char ctr[4096], base[200], p1[300], p2[300], p3[300], p4[300];
	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	snprintf(base, sizeof(base), "/var/%s", dcp_marker());
	dcp_create(t, "/api/v1/namespaces/default/secrets",
		"{\"metadata\":{\"name\":\"creds\"},\"data\":{\"token\":\"czNjcjN0\"}}");
	dcp_create(t, CMS, "{\"metadata\":{\"name\":\"single\"},\"data\":{\"app.conf\":\"key=value\"}}");
	snprintf(ctr, sizeof(ctr), "\"securityContext\":{\"readOnlyRootFilesystem\":true},\"volumeMounts\":["
		"{\"name\":\"sec\",\"mountPath\":\"%s/secret\"},{\"name\":\"scratch\",\"mountPath\":\"%s/scratch\"},"
		"{\"name\":\"conf\",\"mountPath\":\"%s/app.conf\",\"subPath\":\"app.conf\"},"
		"{\"name\":\"info\",\"mountPath\":\"%s/info\"}],", base, base, base, base);
	pod(t, "vols", ctr, "\"volumes\":[{\"name\":\"sec\",\"secret\":{\"secretName\":\"creds\"}},"
		"{\"name\":\"scratch\",\"emptyDir\":{}},{\"name\":\"conf\",\"configMap\":{\"name\":\"single\"}},"
		"{\"name\":\"info\",\"downwardAPI\":{\"items\":[{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":"
		"\"metadata.labels\"}},{\"path\":\"name\",\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}]}}],");
	snprintf(p1, sizeof(p1), "%s/secret/token", base);
	ck_assert(TH_WAIT_UNTIL(str_is(pod_file(t, "vols", p1), "s3cr3t"), WAIT));
	snprintf(p2, sizeof(p2), "%s/app.conf", base);
	ck_assert(str_is(pod_file(t, "vols", p2), "key=value"));
	snprintf(p3, sizeof(p3), "%s/info/labels", base);
	ck_assert(str_is(pod_file(t, "vols", p3), "app=\"vol\"\nb=\"2\"\n"));
	snprintf(p3, sizeof(p3), "%s/info/name", base);
	ck_assert(str_is(pod_file(t, "vols", p3), "vols"));
	/* the emptyDir is writable, the root file system is not */
	snprintf(p4, sizeof(p4), "%s/scratch/f", base);
	ck_assert(str_is(pod_write(t, "vols", p4), "written"));
	ck_assert(str_is(pod_file(t, "vols", p4), "x"));
	ck_assert(str_has(pod_write(t, "vols", "/tmp/dctest-should-not-exist"), "Read-only file system"));
	ck_assert_int_ne(access("/tmp/dctest-should-not-exist", F_OK), 0);
	ck_assert_int_ne(access(base, F_OK), 0);
	/* what the API server projects is read-only, readOnly or not */
	snprintf(p4, sizeof(p4), "%s/secret/new", base);
	ck_assert(str_has(pod_write(t, "vols", p4), "Read-only file system"));
	snprintf(p4, sizeof(p4), "%s/info/new", base);
	ck_assert(str_has(pod_write(t, "vols", p4), "Read-only file system"));
	/* hostPath volumes are refused unless the server allows them */
	pod(t, "host", NULL, "\"volumes\":[{\"name\":\"h\",\"hostPath\":{\"path\":\"/etc\"}}],");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "host", "FailedMount", "--allow-host-path"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "host", "state.waiting.reason"), "ContainerCreating"));
	stop_and_check(t);
}
END_TEST

START_TEST(test_run_as_user)
{
	dct *t;
	char *msg = NULL;
	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	pod(t, "nobody", "\"securityContext\":{\"runAsUser\":65534,\"runAsGroup\":65533},", NULL);
	pod(t, "nonroot", "\"securityContext\":{\"runAsNonRoot\":true},", NULL);
	pod(t, "podlevel", NULL, "\"securityContext\":{\"runAsUser\":65534,\"runAsGroup\":65534},");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "nobody", "/id", "uid=65534 gid=65533"), WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_says(t, "podlevel", "/id", "uid=65534 gid=65534"), WAIT));
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_ctr(t, "nonroot", "state.waiting.reason"), "CreateContainerConfigError"), WAIT));
	msg = dcp_ctr(t, "nonroot", "state.waiting.message");
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "container has runAsNonRoot and image will run as root"));
	free(msg);
	stop_and_check(t);
}
END_TEST

/* A missing ConfigMap: ContainerCreating and a FailedMount event; it
 * starts once the ConfigMap exists. */
START_TEST(test_missing_configmap)
{
	dct *t;
	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	pod(t, "waits", "\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/etc/waits\"}],",
		"\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"later\"}}],");
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "waits", "FailedMount",
		"MountVolume.SetUp failed for volume \"cfg\" : configmap \"later\" not found"), WAIT));
	/* the status write follows the event: poll, the kubelet sends them apart */
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_ctr(t, "waits", "state.waiting.reason"), "ContainerCreating"), WAIT));
	ck_assert(str_is(dcp_str(t, PODS "/waits", "status.phase"), "Pending"));
	dcp_create(t, CMS, "{\"metadata\":{\"name\":\"later\"},\"data\":{\"k\":\"here\"}}");
	ck_assert(TH_WAIT_UNTIL(str_is(pod_file(t, "waits", "/etc/waits/k"), "here"), WAIT));
	/* an env var from a missing key waits the same way */
	dcp_create(t, PODS, "{\"metadata\":{\"name\":\"envwait\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"podapp\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"later\","
		"\"key\":\"absent\"}}}]}]}}");
	ck_assert(TH_WAIT_UNTIL(str_is(dcp_ctr(t, "envwait", "state.waiting.message"),
		"couldn't find key absent in ConfigMap default/later"), WAIT));
	ck_assert(str_is(dcp_ctr(t, "envwait", "state.waiting.reason"), "CreateContainerConfigError"));
	stop_and_check(t);
}
END_TEST

/* Hostile specs: each gets a clear waiting reason; the server stays up,
 * the host is untouched. */
START_TEST(test_hostile_specs)
{
	dct *t;
	char *big, *body;
	size_t i;
	static const struct { const char *name, *ctr, *spec, *reason, *msg; } cases[] = {
		{ "root", "\"volumeMounts\":[{\"name\":\"e\",\"mountPath\":\"/\"}],", "\"volumes\":[{\"name\":\"e\","
		  "\"emptyDir\":{}}],", "CreateContainerConfigError", "must not be the root directory" },
		{ "dotdot", "\"volumeMounts\":[{\"name\":\"e\",\"mountPath\":\"/tmp/../etc/dctest-x\"}],",
		  "\"volumes\":[{\"name\":\"e\",\"emptyDir\":{}}],", "CreateContainerConfigError", "'..'" },
		{ "relative", "\"volumeMounts\":[{\"name\":\"e\",\"mountPath\":\"etc/x\"}],",
		  "\"volumes\":[{\"name\":\"e\",\"emptyDir\":{}}],", "CreateContainerConfigError", "absolute" },
		{ "subpath", "\"volumeMounts\":[{\"name\":\"e\",\"mountPath\":\"/etc/dctest-sub\",\"subPath\":\"../../../etc\"}],",
		  "\"volumes\":[{\"name\":\"e\",\"emptyDir\":{}}],", "CreateContainerConfigError", "without '..'" },
		{ "novolume", "\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/etc/dctest-nope\"}],", "",
		  "CreateContainerConfigError", "no volume of that name" },
		{ "pvc", "\"volumeMounts\":[{\"name\":\"p\",\"mountPath\":\"/data\"}],",
		  "\"volumes\":[{\"name\":\"p\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}],", "ContainerCreating",
		  NULL },
		{ "workdir", "\"workingDir\":\"relative/dir\",", "", "CreateContainerError", "absolute" },
	};
	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++)
		pod(t, cases[i].name, cases[i].ctr, cases[i].spec[0] ? cases[i].spec : NULL);
	/* an item path leaving its volume, a huge environment */
	pod(t, "escape", "\"volumeMounts\":[{\"name\":\"c\",\"mountPath\":\"/etc/dctest-esc\"}],",
		"\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"esc\",\"items\":[{\"key\":\"k\",\"path\":\"../../x\"}]}}],");
	dcp_create(t, CMS, "{\"metadata\":{\"name\":\"esc\"},\"data\":{\"k\":\"v\"}}");
	big = malloc(1600000);
	memset(big, 'a', 1599999);
	big[1599999] = '\0';
	if (asprintf(&body, "{\"metadata\":{\"name\":\"bigenv\"},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"image\":\"podapp\",\"env\":[{\"name\":\"BIG\",\"value\":\"%s\"}]}]}}", big) > 0) {
		long code;
		json_decref(dct_call(t, &code, "POST", PODS, body));
		ck_assert_int_eq(code, 201);
		free(body);
	}
	free(big);
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		char *msg = NULL;
		ck_assert_msg(TH_WAIT_UNTIL(str_is(dcp_ctr(t, cases[i].name, "state.waiting.reason"), cases[i].reason), WAIT),
			"%s", cases[i].name);
		if (cases[i].msg) {
			msg = dcp_ctr(t, cases[i].name, "state.waiting.message");
			ck_assert_msg(msg && strstr(msg, cases[i].msg), "%s: %s", cases[i].name, msg ? msg : "(none)");
			free(msg);
		}
	}
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "pvc", "FailedMount", "a volume kind peerop-devcluster does not provide"),
		WAIT));
	ck_assert(TH_WAIT_UNTIL(dcp_pod_event(t, "escape", "FailedMount", "invalid path \"../../x\""), WAIT));
	ck_assert(TH_WAIT_UNTIL(str_has(dcp_ctr(t, "bigenv", "state.waiting.message"), "environment is larger"), WAIT));
	ck_assert_int_ne(access("/etc/dctest-x", F_OK), 0);
	ck_assert_int_ne(access("/etc/dctest-sub", F_OK), 0);
	ck_assert_int_ne(access("/etc/dctest-nope", F_OK), 0);
	ck_assert_int_ne(access("/etc/x", F_OK), 0);
	/* still serving, and all of them delete */
	ck_assert(dcp_count(t, PODS) == PEEROP__ARRAY_SIZE(cases) + 2);
	{
		long code;
		json_decref(dct_call(t, &code, "DELETE", PODS, NULL));
		ck_assert_int_eq(code, 200);
	}
	ck_assert(TH_WAIT_UNTIL(dcp_count(t, PODS) == 0, WAIT));
	stop_and_check(t);
}
END_TEST

/* Whether some peer of the server at ip was last seen as id. */
static bool server_saw(const char *ip, const char *id)
{
	char url[128], *body;
	long code;
	json_t *j, *peers, *p;
	size_t i;
	bool seen = false;
	snprintf(url, sizeof(url), "http://%s:8080/peers", ip);
	body = dcp_http(url, &code);
	j = body && code == 200 ? json_loads(body, 0, NULL) : NULL;
	free(body);
	peers = json_is_array(j) ? j : json_object_get(j, "peers");
	json_array_foreach(peers, i, p) {
		const char *seen_id = json_string_value(json_object_get(p, "last_seen_id"));
		if (seen_id && !strcmp(seen_id, id))
			seen = true;
	}
	json_decref(j);
	return seen;
}

/* The real server as the image: peerop-server on its pod IP, its peers
 * file from a ConfigMap, reloaded by the ..data swap. */
START_TEST(test_peerop_server_reloads_peers)
{
	dct *t;
	char body[4096], cm[2048], *ip[2];
	const char *name[2];
	json_t *pods;
	long code;

	if (!dcp_root())
		return;
	t = dcp_start_kubelet(false);
	dcp_create(t, CMS, "{\"metadata\":{\"name\":\"peers\"},\"data\":{\"peers.json\":\"{\\\"peers\\\":[]}\"}}");
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"replicas\":2,"
		"\"selector\":{\"matchLabels\":{\"app\":\"demo\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"demo\"}},"
		"\"spec\":{\"terminationGracePeriodSeconds\":5,\"volumes\":[{\"name\":\"peers\",\"configMap\":{\"name\":\"peers\"}}],"
		"\"containers\":[{\"name\":\"server\",\"image\":\"peerop-server:latest\",\"args\":[\"--listen\",\"$(POD_IP):8080\","
		"\"--peers-file\",\"/etc/peerop/peers.json\",\"--ping-interval\",\"0.2\"],"
		"\"env\":[{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
		"{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
		"\"volumeMounts\":[{\"name\":\"peers\",\"mountPath\":\"/etc/peerop\",\"readOnly\":true}],"
		"\"readinessProbe\":{\"httpGet\":{\"path\":\"/readyz\",\"port\":8080},\"periodSeconds\":1}}]}}}}");
	dcp_create(t, DEPLOYS, body);
	ck_assert(TH_WAIT_UNTIL(dcp_int(t, DEPLOYS "/demo", "status.availableReplicas") == 2, 60000));
	pods = dcp_items(t, PODS "?labelSelector=app%3Ddemo");
	ck_assert_int_eq(json_array_size(pods), 2);
	name[0] = dc_json_str(json_array_get(pods, 0), "metadata.name");
	name[1] = dc_json_str(json_array_get(pods, 1), "metadata.name");
	ip[0] = dcp_pod_ip(t, name[0]);
	ip[1] = dcp_pod_ip(t, name[1]);
	ck_assert(!server_saw(ip[0], name[1]));
	/* the peers file changes: each server finds the other */
	snprintf(cm, sizeof(cm), "{\"data\":{\"peers.json\":\"{\\\"peers\\\":[{\\\"id\\\":\\\"%s\\\",\\\"host\\\":\\\"%s\\\","
		"\\\"port\\\":8080},{\\\"id\\\":\\\"%s\\\",\\\"host\\\":\\\"%s\\\",\\\"port\\\":8080}]}\"}}",
		name[0], ip[0], name[1], ip[1]);
	json_decref(dct_patch(t, &code, CMS "/peers", "application/merge-patch+json", cm));
	ck_assert_int_eq(code, 200);
	ck_assert(TH_WAIT_UNTIL(server_saw(ip[0], name[1]) && server_saw(ip[1], name[0]), 60000));
	{
		/* and says so in its log */
		char path[512];
		dct_resp r;
		snprintf(path, sizeof(path), PODS "/%s/log", name[0]);
		dct_req(t, &r, "GET", path, NULL, NULL);
		ck_assert_int_eq(r.code, 200);
		ck_assert_ptr_nonnull(strstr(r.body, "Response: pong from"));
		dct_resp_free(&r);
	}
	free(ip[0]);
	free(ip[1]);
	json_decref(pods);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_pods_vol");
	TCase *tc = tcase_create("volumes");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_configmap_volume_updates);
	tcase_add_test(tc, test_secret_emptydir_subpath_readonly_root);
	tcase_add_test(tc, test_run_as_user);
	tcase_add_test(tc, test_missing_configmap);
	tcase_add_test(tc, test_hostile_specs);
	tcase_add_test(tc, test_peerop_server_reloads_peers);
	suite_add_tcase(s, tc);
	return s;
}
