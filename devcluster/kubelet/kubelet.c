/* kubelet.c: the node. One follower (follow.c) on the store's events:
 *
 * - a pod without spec.nodeName (and the default scheduler) is scheduled
 *   here: spec.nodeName, the PodScheduled condition and a Scheduled event,
 *   as kube-scheduler does; a nodeSelector this node's labels do not meet
 *   leaves it Pending, Unschedulable;
 * - a pod bound to this node gets a worker (kubelet_pod.c), which is
 *   handed every newer version of the object, and told when the object is
 *   gone;
 * - a ConfigMap or Secret change refreshes the workers of the pods that
 *   use it (their volumes are rewritten, a start that waited for it is
 *   tried again).
 *
 * The Node object (Ready, addresses, capacity, nodeInfo) is written at
 * start. Pod directories live in DATA_DIR/pods (or a temporary directory
 * removed at stop). */
#include "kubelet.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCHEDULER "default-scheduler"

/* ---- the node object ---- */

static const char *arch(void)
{
	static struct utsname u;
	if (uname(&u) != 0)
		return "amd64";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return u.machine;
}

static void os_image(char *out, size_t size)
{
	char *text = NULL, *p;
	size_t len;
	snprintf(out, size, "Linux");
	if (peerop__read_file(&text, &len, "/etc/os-release", 65536) != 0)
		return;
	p = strstr(text, "PRETTY_NAME=");
	if (p) {
		p += 12;
		if (*p == '"')
			p++;
		snprintf(out, size, "%.*s", (int)strcspn(p, "\"\n"), p);
	}
	free(text);
}

static void register_node(dc_kubelet *k)
{
	struct utsname u;
	struct sysinfo si;
	char ts[32], cpus[16], mem[32], img[128];
	json_t *node, *status, *cond, *patch;
	dc_evref ref;
	long code;

	uname(&u);
	sysinfo(&si);
	os_image(img, sizeof(img));
	dc_now_rfc3339(ts, sizeof(ts));
	snprintf(cpus, sizeof(cpus), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(mem, sizeof(mem), "%lluKi", (unsigned long long)si.totalram * si.mem_unit / 1024u);
	node = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s,s:s,s:s}},s:{}}", "apiVersion", "v1", "kind", "Node",
		"metadata", "name", k->node, "labels", "kubernetes.io/hostname", k->node, "kubernetes.io/os", "linux",
		"kubernetes.io/arch", arch(), "beta.kubernetes.io/os", "linux", "beta.kubernetes.io/arch", arch(),
		"spec");
	code = dc_localf(k->srv, DC_AGENT_KUBELET, "POST", node, NULL, "/api/v1/nodes");
	json_decref(node);
	if (code != 201 && code != 409)
		peerop__warn("devcluster", "the node %s could not be registered (%ld)", k->node, code);
	cond = json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s,s:s},"
		"{s:s,s:s,s:s,s:s,s:s,s:s}]",
		"type", "MemoryPressure", "status", "False", "lastHeartbeatTime", ts, "lastTransitionTime", ts,
		"reason", "KubeletHasSufficientMemory", "message", "kubelet has sufficient memory available",
		"type", "DiskPressure", "status", "False", "lastHeartbeatTime", ts, "lastTransitionTime", ts,
		"reason", "KubeletHasNoDiskPressure", "message", "kubelet has no disk pressure",
		"type", "PIDPressure", "status", "False", "lastHeartbeatTime", ts, "lastTransitionTime", ts,
		"reason", "KubeletHasSufficientPID", "message", "kubelet has sufficient PID available",
		"type", "Ready", "status", "True", "lastHeartbeatTime", ts, "lastTransitionTime", ts,
		"reason", "KubeletReady", "message", "kubelet is posting ready status");
	status = json_pack("{s:o,s:[{s:s,s:s},{s:s,s:s}],s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},"
		"s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:{s:{s:i}}}",
		"conditions", cond,
		"addresses", "type", "InternalIP", "address", "127.0.0.1", "type", "Hostname", "address", k->node,
		"capacity", "cpu", cpus, "memory", mem, "pods", "110", "ephemeral-storage", "10Gi",
		"allocatable", "cpu", cpus, "memory", mem, "pods", "110", "ephemeral-storage", "10Gi",
		"nodeInfo", "machineID", "", "systemUUID", "", "bootID", "", "kernelVersion", u.release,
		"osImage", img, "containerRuntimeVersion", "devcluster://" PACKAGE_VERSION,
		"kubeletVersion", "v1.32.0", "operatingSystem", "linux",
		"daemonEndpoints", "kubeletEndpoint", "Port", 0);
	json_object_set_new(json_object_get(status, "nodeInfo"), "architecture", json_string(arch()));
	patch = json_pack("{s:o}", "status", status);
	dc_local_merge(k->srv, DC_AGENT_KUBELET, patch, NULL, "/api/v1/nodes/%s/status", k->node);
	json_decref(patch);
	memset(&ref, 0, sizeof(ref));
	ref.kind = "Node";
	ref.api_version = "v1";
	ref.name = k->node;
	ref.uid = k->node;
	dc_event_record(k->srv, KL_COMPONENT, k->node, &ref, "Normal", "Starting", "Starting kubelet.");
	dc_event_record(k->srv, KL_COMPONENT, k->node, &ref, "Normal", "NodeReady", "Node %s status is now: NodeReady",
		k->node);
}

/* ---- scheduling ---- */

static bool selector_fits(const dc_kubelet *k, const json_t *pod)
{
	const json_t *sel = dc_json_path(pod, "spec.nodeSelector"), *v;
	const char *key;
	json_object_foreach((json_t *)sel, key, v) {
		const char *want = json_string_value(v), *have = NULL;
		if (!strcmp(key, "kubernetes.io/hostname"))
			have = k->node;
		else if (!strcmp(key, "kubernetes.io/os") || !strcmp(key, "beta.kubernetes.io/os"))
			have = "linux";
		else if (!strcmp(key, "kubernetes.io/arch") || !strcmp(key, "beta.kubernetes.io/arch"))
			have = arch();
		if (!want || !have || strcmp(want, have))
			return false;
	}
	return true;
}

static void schedule(dc_kubelet *k, const json_t *pod)
{
	const char *ns = dc_json_str(pod, "metadata.namespace"), *name = dc_json_str(pod, "metadata.name");
	char ts[32];
	json_t *patch;
	dc_evref ref;
	dc_now_rfc3339(ts, sizeof(ts));
	dc_evref_of(&ref, pod, "Pod", "v1");
	if (!selector_fits(k, pod)) {
		const json_t *c;
		size_t i;
		json_array_foreach(dc_json_path(pod, "status.conditions"), i, c)
			if (!strcmp(dc_json_str(c, "type") ? dc_json_str(c, "type") : "", "PodScheduled"))
				return;   /* already said */
		patch = json_pack("{s:{s:[{s:s,s:s,s:n,s:s,s:s,s:s}]}}", "status", "conditions", "type", "PodScheduled",
			"status", "False", "lastProbeTime", "lastTransitionTime", ts, "reason", "Unschedulable",
			"message", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.");
		dc_local_merge(k->srv, DC_AGENT_SCHEDULER, patch, NULL, "/api/v1/namespaces/%s/pods/%s/status", ns, name);
		json_decref(patch);
		dc_event_record(k->srv, SCHEDULER, NULL, &ref, "Warning", "FailedScheduling",
			"0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.");
		return;
	}
	patch = json_pack("{s:{s:s}}", "spec", "nodeName", k->node);
	if (dc_local_merge(k->srv, DC_AGENT_SCHEDULER, patch, NULL, "/api/v1/namespaces/%s/pods/%s", ns, name) != 200) {
		json_decref(patch);
		return;
	}
	json_decref(patch);
	patch = json_pack("{s:{s:[{s:s,s:s,s:n,s:s}]}}", "status", "conditions", "type", "PodScheduled",
		"status", "True", "lastProbeTime", "lastTransitionTime", ts);
	dc_local_merge(k->srv, DC_AGENT_SCHEDULER, patch, NULL, "/api/v1/namespaces/%s/pods/%s/status", ns, name);
	json_decref(patch);
	dc_event_record(k->srv, SCHEDULER, NULL, &ref, "Normal", "Scheduled", "Successfully assigned %s/%s to %s", ns,
		name, k->node);
}

/* ---- workers ---- */

typedef struct find_arg {
	const char *ns, *name;
	kl_pod *found[16];
	size_t n;
} find_arg;

static int find_by_name(const char *key, void *val, void *arg)
{
	find_arg *f = arg;
	kl_pod *p = val;
	(void)key;
	if (!strcmp(p->ns, f->ns) && !strcmp(p->name, f->name) && f->n < PEEROP__ARRAY_SIZE(f->found))
		f->found[f->n++] = p;
	return 0;
}

typedef struct reap_arg {
	kl_pod **v;
	size_t n, cap;
} reap_arg;

static int collect_finished(const char *key, void *val, void *arg)
{
	reap_arg *r = arg;
	kl_pod *p = val;
	bool done;
	(void)key;
	pthread_mutex_lock(&p->mu);
	done = p->finished;
	pthread_mutex_unlock(&p->mu);
	if (done && r->n < r->cap)
		r->v[r->n++] = p;
	return 0;
}

static void reap(dc_kubelet *k)
{
	kl_pod *v[64];
	reap_arg r = { v, 0, PEEROP__ARRAY_SIZE(v) };
	size_t i;
	pthread_mutex_lock(&k->mu);
	peerop__map_each(&k->workers, collect_finished, &r);
	for (i = 0; i < r.n; i++)
		peerop__map_remove(&k->workers, v[i]->uid);
	pthread_mutex_unlock(&k->mu);
	for (i = 0; i < r.n; i++)
		kl_pod_free(v[i]);
}

static long kl_sync(dc_follow *f, const char *key, void *arg)
{
	dc_kubelet *k = arg;
	const char *slash = strchr(key, '/');
	char ns[256];
	const char *name, *node, *uid, *phase;
	json_t *pod;
	kl_pod *w;
	(void)f;
	reap(k);
	if (!slash || (size_t)(slash - key) >= sizeof(ns))
		return 0;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	name = slash + 1;
	pod = kl_store_get(k->srv, "pods", ns, name);
	if (!pod) {
		find_arg fa = { ns, name, { NULL }, 0 };
		size_t i;
		pthread_mutex_lock(&k->mu);
		peerop__map_each(&k->workers, find_by_name, &fa);
		for (i = 0; i < fa.n; i++)
			kl_pod_update(fa.found[i], NULL);
		pthread_mutex_unlock(&k->mu);
		return 0;
	}
	node = dc_json_str(pod, "spec.nodeName");
	uid = dc_json_str(pod, "metadata.uid");
	phase = dc_json_str(pod, "status.phase");
	if (!node || !*node) {
		const char *sched = dc_json_str(pod, "spec.schedulerName");
		if ((!sched || !strcmp(sched, SCHEDULER)) && !dc_json_path(pod, "metadata.deletionTimestamp"))
			schedule(k, pod);
		json_decref(pod);
		return 0;
	}
	if (strcmp(node, k->node) || !uid) {
		json_decref(pod);
		return 0;
	}
	pthread_mutex_lock(&k->mu);
	w = peerop__map_get(&k->workers, uid);
	if (w) {
		kl_pod_update(w, pod);
	} else if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")) ||
	    dc_json_path(pod, "metadata.deletionTimestamp")) {
		w = kl_pod_new(k, pod);
		if (!w || peerop__map_put(&k->workers, uid, w, NULL) != 0) {
			if (w)
				kl_pod_stop(w);
			kl_pod_free(w);
			peerop__errlog("devcluster", "pod %s/%s: cannot start a worker", ns, name);
		}
	}
	pthread_mutex_unlock(&k->mu);
	json_decref(pod);
	return 0;
}

typedef struct refresh_arg {
	const char *ns, *plural, *name;
} refresh_arg;

static int refresh_users(const char *key, void *val, void *arg)
{
	refresh_arg *r = arg;
	kl_pod *p = val;
	(void)key;
	if (!strcmp(p->ns, r->ns) && kl_pod_uses(p->spec0, r->plural, r->name))
		kl_pod_refresh(p);
	return 0;
}

static void kl_event(dc_follow *f, dc_store *s, const dc_event *ev, void *arg)
{
	dc_kubelet *k = arg;
	char key[600];
	(void)s;
	if (ev->coll == k->pods) {
		snprintf(key, sizeof(key), "%s/%s", ev->obj->ns, ev->obj->name);
		dc_follow_add(f, key);
	} else if (ev->coll == k->cms || ev->coll == k->secrets) {
		refresh_arg r = { ev->obj->ns, ev->coll == k->cms ? "configmaps" : "secrets", ev->obj->name };
		pthread_mutex_lock(&k->mu);
		peerop__map_each(&k->workers, refresh_users, &r);
		pthread_mutex_unlock(&k->mu);
	}
}

static void kl_resync(dc_follow *f, dc_store *s, void *arg)
{
	dc_kubelet *k = arg;
	size_t i;
	char key[600];
	(void)s;
	for (i = 0; i < k->pods->n; i++) {
		snprintf(key, sizeof(key), "%s/%s", k->pods->arr[i]->obj->ns, k->pods->arr[i]->obj->name);
		dc_follow_add(f, key);
	}
}

/* Can this process make the namespaces a container gets? (Root in a
 * container without CAP_SYS_ADMIN cannot.) */
static bool namespaces_work(void)
{
	pid_t pid;
	int ws;
	if (geteuid() != 0)
		return false;
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &ws, 0) != pid)
		return false;
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

/* Pod directories of pods that no longer exist (a restart with a data dir). */
static void remove_stale_dirs(dc_kubelet *k)
{
	dc_store *s = k->srv->store;
	DIR *d = opendir(k->root);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		bool live;
		if (de->d_name[0] == '.')
			continue;
		pthread_mutex_lock(&s->mu);
		live = dc_store_by_uid(s, de->d_name) != NULL;
		pthread_mutex_unlock(&s->mu);
		if (!live) {
			snprintf(path, sizeof(path), "%s/%s", k->root, de->d_name);
			kl_remove_tree(path);
		}
	}
	if (d)
		closedir(d);
}

int dc_kubelet_start(dc_kubelet **out, dc_server *srv, const dc_kubelet_options *opts)
{
	static const dc_follow_ops ops = { "kubelet", kl_event, kl_resync, kl_sync };
	dc_kubelet *k = calloc(1, sizeof(*k));
	dc_store *s = srv->store;
	const char *tmp = getenv("TMPDIR");
	int rc;

	*out = NULL;
	if (!k)
		return PEEROP_ENOMEM;
	k->srv = srv;
	k->node = strdup(opts->node_name && *opts->node_name ? opts->node_name : "devcluster");
	k->backoff_initial = opts->restart_backoff_s ? opts->restart_backoff_s : 10;
	k->images = opts->images;
	k->allow_host_path = opts->allow_host_path;
	k->ipam = dc_ipam_new();
	pthread_mutex_init(&k->mu, NULL);
	if (srv->opts.data_dir) {
		if (asprintf(&k->root, "%s/pods", srv->opts.data_dir) < 0)
			k->root = NULL;
		else
			mkdir(k->root, 0755);
	} else if (asprintf(&k->root, "%s/peerop-devcluster-pods-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= 0) {
		if (!mkdtemp(k->root)) {
			free(k->root);
			k->root = NULL;
		}
		k->temp_root = true;
	}
	if (!k->node || !k->ipam || !k->root) {
		dc_kubelet_stop(k);
		return peerop__error_set(PEEROP_ENOMEM, "the kubelet cannot start: %s", k->root ? "out of memory" :
			"no directory for pods");
	}
	k->namespaces = namespaces_work();
	if (!k->namespaces)
		peerop__warn("devcluster", "not running as root%s: pods run without their own mount and PID "
			"namespaces, so volumeMounts, readOnlyRootFilesystem and runAsUser are refused",
			geteuid() == 0 ? " with CAP_SYS_ADMIN" : "");
	if (!k->temp_root)
		remove_stale_dirs(k);
	pthread_mutex_lock(&s->mu);
	k->pods = dc_rtype_find(s, "", "v1", "pods")->coll;
	k->cms = dc_rtype_find(s, "", "v1", "configmaps")->coll;
	k->secrets = dc_rtype_find(s, "", "v1", "secrets")->coll;
	free(s->kubelet_node);
	s->kubelet_node = strdup(k->node);
	pthread_mutex_unlock(&s->mu);
	register_node(k);
	peerop__info("devcluster", "kubelet: node %s, pod directories in %s%s", k->node, k->root,
		k->namespaces ? "" : ", without namespaces (not root)");
	rc = dc_follow_start(&k->f, srv, &ops, k);
	if (rc) {
		dc_kubelet_stop(k);
		return rc;
	}
	*out = k;
	return 0;
}

static int stop_each(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	kl_pod_stop(val);
	return 0;
}

static int free_each(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	kl_pod_free(val);
	return 0;
}

void dc_kubelet_stop(dc_kubelet *k)
{
	dc_store *s;
	if (!k)
		return;
	dc_follow_stop(k->f);
	s = k->srv->store;
	if (s) {
		pthread_mutex_lock(&s->mu);
		free(s->kubelet_node);
		s->kubelet_node = NULL;
		pthread_mutex_unlock(&s->mu);
	}
	/* every pod stops at once, each within its own grace period */
	peerop__map_each(&k->workers, stop_each, NULL);
	peerop__map_each(&k->workers, free_each, NULL);
	peerop__map_dispose(&k->workers);
	if (k->temp_root && k->root)
		kl_remove_tree(k->root);
	dc_ipam_free(k->ipam);
	pthread_mutex_destroy(&k->mu);
	free(k->root);
	free(k->node);
	free(k);
}
