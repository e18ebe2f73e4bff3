/* kubelet_pod.c: a pod worker, one thread per pod, which owns the pod's
 * processes from its first start to the end of its last:
 *
 * - the pod's IP, directory and volumes (refreshed when a ConfigMap or
 *   Secret it uses changes);
 * - container starts, with Pulled/Created/Started events, and the reasons
 *   a container cannot start (ErrImagePull then ImagePullBackOff,
 *   CreateContainerConfigError, CreateContainerError, RunContainerError);
 * - restarts by restartPolicy, with the kubelet's back-off: at once the
 *   first time, then 10 s (--restart-backoff), doubling up to 5 minutes,
 *   reset after 10 minutes without a crash (CrashLoopBackOff, BackOff
 *   events); liveness and startup probe failures restart the container;
 * - output into the pod log;
 * - termination: SIGTERM, terminationGracePeriodSeconds (or the deletion's
 *   grace period; at least 2 s, as the kubelet), SIGKILL; then, for a
 *   deleted pod, the final status and the DELETE with grace period 0 that
 *   removes the object;
 * - status: written when it changes.
 *
 * The worker sleeps in poll() on its wake eventfd, each shim's pidfd and
 * report pipe and each container's stdout and stderr, until the next
 * timer (a back-off, a kill deadline, a retry). */
#include "kubelet.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIN_GRACE_S 2
#define MAX_BACKOFF_S 300
#define BACKOFF_RESET_MS (600u * 1000u)
#define CONFIG_RETRY_MS 5000u
#define VOLUME_RETRY_MS 2000u
#define MAX_FDS 512

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	return peerop__now_ms();
}

static void ctr_event(kl_pod *p, kl_ctr *c, const char *type, const char *reason, const char *fmt, ...)
	PEEROP_FORMAT(5, 6);
static void ctr_event(kl_pod *p, kl_ctr *c, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[1100], fp[160];
	dc_evref ref;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dc_evref_of(&ref, p->pod, "Pod", "v1");
	if (c) {
		snprintf(fp, sizeof(fp), "spec.containers{%s}", c->name);
		ref.field_path = fp;
	}
	dc_event_record(p->k->srv, KL_COMPONENT, p->k->node, &ref, type, reason, "%s", msg);
}

/* Copy, cutting what does not fit. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void kl_set_waiting(kl_ctr *c, const char *reason, const char *message)
{
	c->state = KL_WAITING;
	copy_str(c->reason, sizeof(c->reason), reason);
	copy_str(c->message, sizeof(c->message), message);
}

static long long grace_of(const kl_pod *p)
{
	long long g = dc_json_int(p->pod, "spec.terminationGracePeriodSeconds", 30);
	return g < 0 ? 30 : g;
}

static bool deleting(const json_t *pod)
{
	return dc_json_path(pod, "metadata.deletionTimestamp") != NULL;
}

bool kl_pod_uses(const json_t *pod, const char *plural, const char *name)
{
	bool cm = !strcmp(plural, "configmaps");
	const json_t *v, *src, *ctr, *e;
	size_t i, j, l;
	const char *lists[] = { "spec.containers", "spec.initContainers" };
	json_array_foreach(dc_json_path(pod, "spec.volumes"), i, v) {
		const char *n = cm ? dc_json_str(v, "configMap.name") : dc_json_str(v, "secret.secretName");
		if (n && !strcmp(n, name))
			return true;
		json_array_foreach(dc_json_path(v, "projected.sources"), j, src) {
			n = cm ? dc_json_str(src, "configMap.name") : dc_json_str(src, "secret.name");
			if (n && !strcmp(n, name))
				return true;
		}
	}
	for (l = 0; l < 2; l++) {
		json_array_foreach(dc_json_path(pod, lists[l]), i, ctr) {
			json_array_foreach(json_object_get(ctr, "env"), j, e) {
				const char *n = dc_json_str(e, cm ? "valueFrom.configMapKeyRef.name" : "valueFrom.secretKeyRef.name");
				if (n && !strcmp(n, name))
					return true;
			}
			json_array_foreach(json_object_get(ctr, "envFrom"), j, e) {
				const char *n = dc_json_str(e, cm ? "configMapRef.name" : "secretRef.name");
				if (n && !strcmp(n, name))
					return true;
			}
		}
	}
	return false;
}

/* ---- starting ---- */

static bool has_probe(const kl_ctr *c, const char *kind)
{
	return json_is_object(json_object_get(c->spec, kind));
}

static void new_container_id(kl_ctr *c)
{
	snprintf(c->id, sizeof(c->id), "devcluster://%016llx%016llx", (unsigned long long)peerop__rand_below(UINT64_MAX),
		(unsigned long long)peerop__rand_below(UINT64_MAX));
}

static void start_ctr(kl_pod *p, kl_ctr *c)
{
	const char *image = json_string_value(json_object_get(c->spec, "image"));
	kl_exec ex;
	kl_fs fs;
	kl_spawn sp;
	gid_t groups[34];
	size_t ngroups = 0;
	char err[512];
	uint64_t now = now_ms();

	if (json_array_size(dc_json_path(p->spec0, "spec.ephemeralContainers")) ||
	    (c->init && json_is_string(json_object_get(c->spec, "restartPolicy")))) {
		kl_set_waiting(c, "CreateContainerConfigError", c->init ? "sidecar containers (an init container with a "
			"restartPolicy) are not run by peerop-devcluster" : "ephemeralContainers are not run by peerop-devcluster");
		if (!c->backoff_until)
			ctr_event(p, c, "Warning", "Failed", "Error: %s", c->message);
		c->backoff_until = now + 3600u * 1000u;
		return;
	}
	if (kl_exec_build(&ex, p->k, p->pod, c->spec, p->ip) != 0) {
		bool pull = !strcmp(ex.reason ? ex.reason : "", "ErrImagePull");
		if (pull && c->backoff_until) {
			/* the retry of a failed pull: ImagePullBackOff until the next */
			char m[600];
			snprintf(m, sizeof(m), "Back-off pulling image \"%s\"", image ? image : "");
			kl_set_waiting(c, "ImagePullBackOff", m);
			ctr_event(p, c, "Normal", "BackOff", "%s", m);
		} else {
			kl_set_waiting(c, ex.reason, ex.message);
			ctr_event(p, c, "Warning", "Failed", "%s", ex.message ? ex.message : "");
			ctr_event(p, c, "Warning", "Failed", "Error: %s", pull ? "ErrImagePull" : ex.message);
		}
		if (pull) {
			unsigned b = c->backoff_s ? c->backoff_s : p->k->backoff_initial;
			c->backoff_until = now + (uint64_t)b * 1000u;
			c->backoff_s = b * 2 > MAX_BACKOFF_S ? MAX_BACKOFF_S : b * 2;
		} else {
			c->backoff_until = now + CONFIG_RETRY_MS;
		}
		kl_exec_dispose(&ex);
		return;
	}
	if (!kl_identity(p, c, &sp, groups, &ngroups) || !kl_build_fs(p, c, &fs)) {
		ctr_event(p, c, "Warning", "Failed", "Error: %s", c->message);
		c->backoff_until = now + CONFIG_RETRY_MS;
		kl_exec_dispose(&ex);
		return;
	}
	ctr_event(p, c, "Normal", "Pulled", "Container image \"%s\" already present on machine", image ? image : "");
	sp.ex = &ex;
	sp.fs = &fs;
	sp.namespaces = p->k->namespaces;
	sp.hostname = p->name;
	sp.groups = groups;
	sp.ngroups = ngroups;
	dc_podlog_start(p->k->srv->store->podlogs, p->uid, c->name);
	if (kl_proc_start(&c->proc, &sp, err, sizeof(err)) != 0) {
		kl_set_waiting(c, "RunContainerError", err);
		ctr_event(p, c, "Warning", "Failed", "Error: %s", err);
		c->backoff_until = now + CONFIG_RETRY_MS;
		kl_exec_dispose(&ex);
		kl_fs_dispose(&fs);
		return;
	}
	kl_fs_dispose(&fs);
	if (c->ever_started)
		c->restarts++;
	c->ever_started = true;
	new_container_id(c);
	ctr_event(p, c, "Normal", "Created", "Created container: %s", c->name);
	pthread_mutex_lock(&p->mu);
	kl_exec_dispose(&c->ex);
	c->ex = ex;
	c->running = true;
	c->exited = false;
	c->wstatus = 0;
	c->exec_err[0] = '\0';
	c->killing = false;
	c->run_id++;
	c->started_ms = now;
	c->backoff_until = 0;
	c->ready = !has_probe(c, "readinessProbe");
	c->started = !has_probe(c, "startupProbe");
	c->live_failed = c->startup_failed = false;
	pthread_cond_broadcast(&p->probe_cond);
	pthread_mutex_unlock(&p->mu);
	/* Running once the shim reports the exec went through */
	kl_set_waiting(c, "ContainerCreating", NULL);
	dc_now_rfc3339(c->started_at, sizeof(c->started_at));
}

/* ---- output, reports, exits ---- */

static void drain(kl_pod *p, kl_ctr *c, int *fd)
{
	char buf[65536];
	int rounds = 0;
	while (*fd >= 0 && rounds++ < 16) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			dc_podlog_write(p->k->srv->store->podlogs, p->uid, c->name, buf, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(*fd);
			*fd = -1;
		}
		break;
	}
}

static void on_exit_ctr(kl_pod *p, kl_ctr *c)
{
	const char *policy = dc_json_str(p->pod, "spec.restartPolicy");
	json_t *term;
	uint64_t now = now_ms();
	bool restart;

	drain(p, c, &c->proc.out_fd);
	drain(p, c, &c->proc.err_fd);
	dc_podlog_end(p->k->srv->store->podlogs, p->uid, c->name);
	/* the shim exits right after its last report: reap it */
	kl_proc_wait(&c->proc, 2000);
	kl_proc_close(&c->proc);
	pthread_mutex_lock(&p->mu);
	c->running = false;
	c->ready = false;
	pthread_cond_broadcast(&p->probe_cond);
	pthread_mutex_unlock(&p->mu);
	dc_now_rfc3339(c->finished_at, sizeof(c->finished_at));
	if (c->exec_err[0]) {
		c->exit_code = 128;
		snprintf(c->reason, sizeof(c->reason), "StartError");
		snprintf(c->message, sizeof(c->message), "%s", c->exec_err);
	} else {
		c->exit_code = WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) :
			WIFSIGNALED(c->wstatus) ? 128 + WTERMSIG(c->wstatus) : 128;
		snprintf(c->reason, sizeof(c->reason), "%s", c->exit_code == 0 ? "Completed" : "Error");
		c->message[0] = '\0';
	}
	c->state = KL_TERMINATED;
	peerop__info("devcluster", "pod %s/%s: container %s %s %d%s%s", p->ns, p->name, c->name,
		c->exec_err[0] ? "failed to start," : "exited with", c->exit_code, c->exec_err[0] ? ": " : "",
		c->exec_err);
	if (p->terminating) {
		c->done = true;
		return;
	}
	if (c->init) {
		/* an init container restarts only when it failed, and never
		 * under restartPolicy Never, which fails the pod */
		restart = c->exit_code != 0 && (!policy || strcmp(policy, "Never"));
		if (c->exit_code == 0)
			p->init_next++;
		else if (!restart)
			p->init_failed = true;
	} else {
		restart = !policy || !strcmp(policy, "Always") || (!strcmp(policy, "OnFailure") && c->exit_code != 0);
	}
	if (!restart) {
		c->done = true;
		return;
	}
	term = json_pack("{s:i,s:s,s:s,s:s,s:s}", "exitCode", c->exit_code, "reason", c->reason,
		"startedAt", c->started_at, "finishedAt", c->finished_at, "containerID", c->id);
	if (c->message[0])
		json_object_set_new(term, "message", json_string(c->message));
	json_decref(c->last_state);
	c->last_state = json_pack("{s:o}", "terminated", term);
	if (c->last_exit_ms && now - c->last_exit_ms > BACKOFF_RESET_MS && now - c->started_ms > BACKOFF_RESET_MS)
		c->backoff_s = 0;
	c->last_exit_ms = now;
	if (c->exec_err[0]) {
		/* what a failed start looks like until the next try */
		kl_set_waiting(c, "RunContainerError", c->exec_err);
		ctr_event(p, c, "Warning", "Failed", "Error: %s", c->exec_err);
	}
	if (c->backoff_s == 0) {
		/* the first restart is immediate; the back-off starts after it */
		c->backoff_s = p->k->backoff_initial;
		c->backoff_until = 0;
		if (!c->exec_err[0])
			kl_set_waiting(c, "", NULL);
		return;
	}
	c->backoff_until = now + (uint64_t)c->backoff_s * 1000u;
	{
		char m[600];
		snprintf(m, sizeof(m), "back-off %us restarting failed container=%s pod=%s_%s(%s)", c->backoff_s, c->name,
			p->name, p->ns, p->uid);
		kl_set_waiting(c, "CrashLoopBackOff", m);
		ctr_event(p, c, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c->name,
			p->name, p->ns, p->uid);
	}
	c->backoff_s = c->backoff_s * 2 > MAX_BACKOFF_S ? MAX_BACKOFF_S : c->backoff_s * 2;
}

static void read_reports(kl_pod *p, kl_ctr *c)
{
	int ws = 0, r;
	if (!c->running)
		return;
	/* the prober reads proc.pid under the mutex */
	pthread_mutex_lock(&p->mu);
	r = kl_proc_read_status(&c->proc, &ws, c->exec_err, sizeof(c->exec_err));
	/* the pid is what the prober waits for */
	pthread_cond_broadcast(&p->probe_cond);
	pthread_mutex_unlock(&p->mu);
	if (c->proc.pid > 0 && c->state == KL_WAITING && !c->exec_err[0]) {
		c->state = KL_RUNNING;
		ctr_event(p, c, "Normal", "Started", "Started container %s", c->name);
		peerop__info("devcluster", "pod %s/%s: container %s started, pid %d, IP %s", p->ns, p->name, c->name,
			(int)c->proc.pid, p->ip);
	}
	if (c->exited) {
		/* known already: what comes now (the shim's own end) is not the
		 * container's */
		kl_proc_reap(&c->proc, &ws);
	} else if (r == 1) {
		c->wstatus = ws;
		c->exited = true;
	} else if (r < 0 && kl_proc_reap(&c->proc, &ws)) {
		/* the shim is gone without a report: killed (SIGKILL) */
		c->wstatus = ws;
		if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0 && !c->exec_err[0] && c->proc.pid == 0)
			snprintf(c->exec_err, sizeof(c->exec_err), "the container could not be set up");
		c->exited = true;
	}
}

/* ---- termination ---- */

static void kill_ctr(kl_pod *p, kl_ctr *c, long long grace_s, const char *why)
{
	uint64_t deadline;
	if (!c->running)
		return;
	if (grace_s < MIN_GRACE_S)
		grace_s = MIN_GRACE_S;
	deadline = now_ms() + (uint64_t)grace_s * 1000u;
	if (c->killing) {
		if (deadline < c->kill_at)
			c->kill_at = deadline;
		return;
	}
	ctr_event(p, c, "Normal", "Killing", "%s", why);
	c->killing = true;
	c->kill_at = deadline;
	kl_proc_signal(&c->proc, SIGTERM);
}

static void terminate_all(kl_pod *p, long long grace_s)
{
	size_t i;
	p->terminating = true;
	for (i = 0; i < p->nctrs; i++) {
		char why[200];
		kl_ctr *c = &p->ctrs[i];
		snprintf(why, sizeof(why), "Stopping container %s", c->name);
		kill_ctr(p, c, grace_s, why);
		if (!c->running) {
			c->done = true;
			c->backoff_until = 0;
		}
	}
}

static bool any_running(const kl_pod *p)
{
	size_t i;
	for (i = 0; i < p->nctrs; i++)
		if (p->ctrs[i].running)
			return true;
	return false;
}

/* ---- status ---- */

static void write_status(kl_pod *p, const char *force_phase)
{
	json_t *st = kl_status_build(p), *patch, *old;
	const char *k;
	json_t *v;
	long code;
	if (force_phase)
		json_object_set_new(st, "phase", json_string(force_phase));
	if (p->written && json_equal(st, p->written) && !force_phase) {
		json_decref(st);
		return;
	}
	/* a merge patch of the whole status: keys it no longer has go */
	patch = json_pack("{s:O}", "status", st);
	old = dc_json_path(p->pod, "status");
	json_object_foreach(old, k, v)
		if (!json_object_get(st, k))
			json_object_set_new(json_object_get(patch, "status"), k, json_null());
	code = dc_local_merge(p->k->srv, DC_AGENT_KUBELET, patch, NULL, "/api/v1/namespaces/%s/pods/%s/status", p->ns,
		p->name);
	json_decref(patch);
	if (code == 200) {
		json_decref(p->written);
		p->written = st;
		p->write_retry = 0;
	} else {
		json_decref(st);
		if (code != 404)
			p->write_retry = now_ms() + 1000;
	}
}

/* ---- the loop ---- */

static void sync_volumes(kl_pod *p)
{
	char err[768];
	bool sa = false;
	size_t i;
	int64_t vt = 0;
	for (i = 0; i < p->nctrs; i++)
		sa |= kl_sa_mount(p, &p->ctrs[i]);
	p->token_refresh = 0;
	if (!p->k->allow_host_path) {
		const json_t *vol;
		json_array_foreach(dc_json_path(p->pod, "spec.volumes"), i, vol)
			if (json_object_get(vol, "hostPath")) {
				snprintf(err, sizeof(err), "MountVolume.SetUp failed for volume \"%s\" : hostPath volumes are "
					"refused: they are this machine's own files (start peerop-devcluster with "
					"--allow-host-path to allow them)", dc_json_str(vol, "name") ? dc_json_str(vol, "name") : "");
				goto failed;
			}
	}
	if (kl_volumes_sync_tokens(p->k->srv, p->pod, p->dir, &vt, err, sizeof(err)) == 0 &&
	    (!sa || kl_sa_volume(p, err, sizeof(err)) == 0)) {
		p->volumes_ok = true;
		p->volume_err[0] = '\0';
		if (vt && (!p->token_refresh || vt < p->token_refresh))
			p->token_refresh = vt;
		return;
	}
failed:
	p->volume_retry = now_ms() + VOLUME_RETRY_MS;
	if (strcmp(err, p->volume_err)) {
		snprintf(p->volume_err, sizeof(p->volume_err), "%s", err);
		ctr_event(p, NULL, "Warning", "FailedMount", "%s", err);
	}
}

static void take_desired(kl_pod *p, bool *stop, bool *gone, bool *refresh)
{
	pthread_mutex_lock(&p->mu);
	if (p->desired && p->desired != p->pod) {
		json_decref(p->pod);
		p->pod = json_incref(p->desired);
	}
	*stop = p->stop;
	*gone = p->gone;
	*refresh = p->refresh;
	p->refresh = false;
	pthread_mutex_unlock(&p->mu);
}

static void act_on_probes(kl_pod *p)
{
	size_t i;
	for (i = 0; i < p->nctrs; i++) {
		kl_ctr *c = &p->ctrs[i];
		bool live, startup;
		char why[700];
		pthread_mutex_lock(&p->mu);
		live = c->live_failed;
		startup = c->startup_failed;
		c->live_failed = c->startup_failed = false;
		pthread_mutex_unlock(&p->mu);
		if ((live || startup) && c->running && !c->killing) {
			snprintf(why, sizeof(why), "Container %s failed %s probe, will be restarted", c->name,
				live ? "liveness" : "startup");
			kill_ctr(p, c, grace_of(p), why);
		}
	}
}

/* One poll round: wait for anything, handle it. */
static void wait_once(kl_pod *p, uint64_t until)
{
	struct pollfd fds[MAX_FDS];
	kl_ctr *owner[MAX_FDS];
	nfds_t n = 0;
	size_t i;
	uint64_t now = now_ms();
	int timeout = until > now ? (int)(until - now > 60000 ? 60000 : until - now) : 0;

	fds[n].fd = p->wake_fd;
	fds[n].events = POLLIN;
	owner[n++] = NULL;
	for (i = 0; i < p->nctrs && n + 4 <= MAX_FDS; i++) {
		kl_ctr *c = &p->ctrs[i];
		int f[4] = { c->proc.pidfd, c->proc.status_fd, c->proc.out_fd, c->proc.err_fd }, j;
		if (!c->running)
			continue;
		for (j = 0; j < 4; j++) {
			if (f[j] < 0)
				continue;
			fds[n].fd = f[j];
			fds[n].events = POLLIN;
			owner[n++] = c;
		}
	}
	if (poll(fds, n, timeout) <= 0)
		return;
	if (fds[0].revents) {
		uint64_t v;
		if (read(p->wake_fd, &v, sizeof(v)) < 0) {
			/* nothing to clear */
		}
	}
	for (i = 1; i < n; i++) {
		kl_ctr *c = owner[i];
		if (!fds[i].revents || !c->running)
			continue;
		if (fds[i].fd == c->proc.out_fd)
			drain(p, c, &c->proc.out_fd);
		else if (fds[i].fd == c->proc.err_fd)
			drain(p, c, &c->proc.err_fd);
		else
			read_reports(p, c);
	}
}

static void setup(kl_pod *p)
{
	const json_t *statuses = dc_json_path(p->pod, "status.containerStatuses"), *cs;
	const char *st = dc_json_str(p->pod, "status.startTime");
	size_t i, j;
	if (json_is_true(dc_json_path(p->spec0, "spec.hostNetwork")))
		snprintf(p->ip, sizeof(p->ip), "127.0.0.1");   /* the node's address */
	else if (dc_ipam_get(p->k->ipam, p->uid, dc_json_str(p->pod, "status.podIP"), p->ip) != 0)
		p->ip[0] = '\0';
	if (st)
		snprintf(p->start_time, sizeof(p->start_time), "%s", st);
	else
		dc_now_rfc3339(p->start_time, sizeof(p->start_time));
	mkdir(p->dir, 0755);
	/* a pod run before a restart keeps its restart counts (and, like a
	 * rebooted node, runs its init containers again) */
	for (i = 0; i < p->nctrs; i++) {
		kl_ctr *c = &p->ctrs[i];
		if (c->init)
			continue;
		json_array_foreach(statuses, j, cs) {
			const char *n = dc_json_str(cs, "name");
			if (n && !strcmp(n, c->name)) {
				c->restarts = (int)dc_json_int(cs, "restartCount", 0);
				if (dc_json_path(cs, "state.running") || dc_json_path(cs, "lastState.terminated")) {
					c->ever_started = true;
					c->backoff_s = p->k->backoff_initial;
				}
			}
		}
	}
}

static void finish_deleted(kl_pod *p)
{
	json_t *body;
	size_t i;
	bool failed = false;
	for (i = 0; i < p->nctrs; i++)
		if (p->ctrs[i].state == KL_TERMINATED && p->ctrs[i].exit_code != 0)
			failed = true;
	write_status(p, failed ? "Failed" : "Succeeded");
	body = json_pack("{s:s,s:s,s:i,s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1", "gracePeriodSeconds", 0,
		"preconditions", "uid", p->uid);
	dc_localf(p->k->srv, DC_AGENT_KUBELET, "DELETE", body, NULL, "/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
	json_decref(body);
}

static void *worker_main(void *arg)
{
	kl_pod *p = arg;
	bool stop = false, gone = false, refresh = false, was_deleted = false;
	size_t i;

	setup(p);
	for (;;) {
		uint64_t now, until;
		take_desired(p, &stop, &gone, &refresh);
		if (stop || gone || deleting(p->pod)) {
			long long g = stop ? grace_of(p) : gone ? 0 :
				dc_json_int(p->pod, "metadata.deletionGracePeriodSeconds", grace_of(p));
			was_deleted = !stop;
			terminate_all(p, g);
		}
		now = now_ms();
		if (!p->terminating) {
			if (refresh || (!p->volumes_ok && now >= p->volume_retry) ||
			    (p->volumes_ok && p->token_refresh && (int64_t)time(NULL) >= p->token_refresh))
				sync_volumes(p);
			if (refresh)
				for (i = 0; i < p->nctrs; i++)
					if (!p->ctrs[i].running && !strcmp(p->ctrs[i].reason, "CreateContainerConfigError"))
						p->ctrs[i].backoff_until = 0;
			act_on_probes(p);
			for (i = 0; i < p->nctrs; i++) {
				kl_ctr *c = &p->ctrs[i];
				if (c->running || c->done || (c->backoff_until && now < c->backoff_until))
					continue;
				if (p->init_failed) {
					c->done = true;   /* the pod failed: nothing more starts */
					continue;
				}
				if (!p->volumes_ok) {
					kl_set_waiting(c, c->init || !p->ninits ? "ContainerCreating" : "PodInitializing", NULL);
					continue;
				}
				/* init containers one at a time, in order; the others after */
				if (c->init ? i != p->init_next : p->init_next < p->ninits) {
					if (!c->init)
						kl_set_waiting(c, "PodInitializing", NULL);
					continue;
				}
				start_ctr(p, c);
			}
		}
		/* exits, and kill deadlines */
		now = now_ms();
		for (i = 0; i < p->nctrs; i++) {
			kl_ctr *c = &p->ctrs[i];
			if (c->running && c->exited)
				on_exit_ctr(p, c);
			else if (c->running && c->killing && now >= c->kill_at) {
				kl_proc_signal(&c->proc, SIGKILL);
				c->kill_at = now + 60000;   /* the pidfd tells when it is gone */
			}
		}
		if (p->terminating && !any_running(p))
			break;
		if (!stop && !p->terminating && (!p->write_retry || now >= p->write_retry))
			write_status(p, NULL);
		/* sleep until the next timer */
		until = now + 60000;
		if (!p->volumes_ok && !p->terminating && p->volume_retry < until)
			until = p->volume_retry;
		if (p->write_retry && p->write_retry < until)
			until = p->write_retry;
		for (i = 0; i < p->nctrs; i++) {
			kl_ctr *c = &p->ctrs[i];
			if (c->backoff_until && !c->running && !c->done && c->backoff_until < until)
				until = c->backoff_until;
			if (c->running && c->killing && c->kill_at < until)
				until = c->kill_at;
			if (c->running && c->exited)
				until = now;
		}
		wait_once(p, until);
	}
	if (was_deleted && !gone)
		finish_deleted(p);
	pthread_mutex_lock(&p->mu);
	p->finished = true;
	pthread_cond_broadcast(&p->probe_cond);
	pthread_mutex_unlock(&p->mu);
	if (was_deleted) {
		dc_ipam_release(p->k->ipam, p->uid);
		dc_podlog_forget(p->k->srv->store->podlogs, p->uid);
		kl_remove_tree(p->dir);
	}
	return NULL;
}

/* ---- the kubelet's side ---- */

kl_pod *kl_pod_new(dc_kubelet *k, const json_t *pod)
{
	kl_pod *p = calloc(1, sizeof(*p));
	const json_t *ctrs, *inits, *c;
	size_t i;
	pthread_condattr_t ca;
	if (!p)
		return NULL;
	p->k = k;
	p->uid = strdup(dc_json_str(pod, "metadata.uid"));
	p->ns = strdup(dc_json_str(pod, "metadata.namespace"));
	p->name = strdup(dc_json_str(pod, "metadata.name"));
	p->desired = json_deep_copy(pod);
	p->pod = json_incref(p->desired);
	p->spec0 = json_deep_copy(pod);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->probe_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!p->uid || !p->ns || !p->name || !p->desired || !p->spec0 || p->wake_fd < 0 ||
	    asprintf(&p->dir, "%s/%s", k->root, p->uid) < 0)
		goto fail;
	inits = dc_json_path(p->spec0, "spec.initContainers");
	ctrs = dc_json_path(p->spec0, "spec.containers");
	p->ninits = json_array_size(inits);
	p->nctrs = p->ninits + json_array_size(ctrs);
	p->ctrs = calloc(p->nctrs ? p->nctrs : 1, sizeof(*p->ctrs));
	if (!p->ctrs)
		goto fail;
	for (i = 0; i < p->nctrs; i++) {
		kl_ctr *kc = &p->ctrs[i];
		const char *n;
		c = i < p->ninits ? json_array_get(inits, i) : json_array_get(ctrs, i - p->ninits);
		n = json_string_value(json_object_get(c, "name"));
		kc->name = strdup(n ? n : "");
		kc->spec = c;
		kc->init = i < p->ninits;
		kc->proc.pidfd = kc->proc.status_fd = kc->proc.out_fd = kc->proc.err_fd = -1;
		kl_set_waiting(kc, kc->init || !p->ninits ? "ContainerCreating" : "PodInitializing", NULL);
		if (!kc->name)
			goto fail;
		if (!kc->init && (has_probe(kc, "livenessProbe") || has_probe(kc, "readinessProbe") ||
		    has_probe(kc, "startupProbe")))
			p->has_prober = true;
	}
	if (pthread_create(&p->thread, NULL, worker_main, p) != 0)
		goto fail;
	if (p->has_prober && pthread_create(&p->prober, NULL, kl_prober_main, p) != 0) {
		/* probes are lost, the pod still runs */
		p->has_prober = false;
		peerop__warn("devcluster", "pod %s/%s: cannot start its prober thread", p->ns, p->name);
	}
	return p;
fail:
	p->finished = true;
	p->thread = 0;
	kl_pod_free(p);
	return NULL;
}

void kl_pod_wake(kl_pod *p)
{
	uint64_t one = 1;
	if (write(p->wake_fd, &one, sizeof(one)) < 0) {
		/* already readable */
	}
}

void kl_pod_update(kl_pod *p, const json_t *pod)
{
	pthread_mutex_lock(&p->mu);
	if (pod) {
		json_decref(p->desired);
		p->desired = json_deep_copy(pod);
	} else {
		p->gone = true;
	}
	pthread_mutex_unlock(&p->mu);
	kl_pod_wake(p);
}

void kl_pod_refresh(kl_pod *p)
{
	pthread_mutex_lock(&p->mu);
	p->refresh = true;
	pthread_mutex_unlock(&p->mu);
	kl_pod_wake(p);
}

void kl_pod_stop(kl_pod *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_mutex_unlock(&p->mu);
	kl_pod_wake(p);
}

void kl_pod_free(kl_pod *p)
{
	size_t i;
	if (!p)
		return;
	if (p->thread)
		pthread_join(p->thread, NULL);
	if (p->has_prober) {
		pthread_mutex_lock(&p->mu);
		p->finished = true;
		pthread_cond_broadcast(&p->probe_cond);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->prober, NULL);
	}
	for (i = 0; p->ctrs && i < p->nctrs; i++) {
		kl_proc_close(&p->ctrs[i].proc);
		kl_exec_dispose(&p->ctrs[i].ex);
		json_decref(p->ctrs[i].last_state);
		free(p->ctrs[i].name);
	}
	free(p->ctrs);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	json_decref(p->desired);
	json_decref(p->pod);
	json_decref(p->spec0);
	json_decref(p->written);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->probe_cond);
	free(p->dir);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p);
}
