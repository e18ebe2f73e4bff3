/* kubelet_prober.c: a pod's prober thread (the kubelet's prober workers).
 *
 * For each running container and each probe it has: the first run
 * initialDelaySeconds after the container started, then every
 * periodSeconds (default 10); successThreshold (default 1) successes in a
 * row make it succeed, failureThreshold (default 3) failures in a row make
 * it fail. Readiness sets the container's ready flag (false until it
 * succeeds); liveness failing, or startup failing before it ever
 * succeeded, asks the worker to restart the container. Liveness and
 * readiness wait for the startup probe. Each failure records an Unhealthy
 * event ("Readiness probe failed: ..."). Results are handed to the worker
 * under the pod's mutex; probes run without it. */
#include "kubelet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kinds[] = { "livenessProbe", "readinessProbe", "startupProbe" };
static const char *const titles[] = { "Liveness", "Readiness", "Startup" };

typedef struct pstate {
	uint64_t run_id;
	uint64_t next;       /* monotonic ms */
	int successes, failures;
	bool succeeded;      /* current result (startup: ever) */
} pstate;

typedef struct cstate {
	pstate p[3];
	kl_exec env;         /* a copy of what the instance runs with, for exec probes */
	uint64_t env_run;
} cstate;

static char **copy_strv(char *const *v)
{
	size_t n = 0, i;
	char **c;
	while (v && v[n])
		n++;
	c = calloc(n + 1, sizeof(*c));
	for (i = 0; c && i < n; i++)
		c[i] = strdup(v[i]);
	return c;
}

static void wait_until(kl_pod *p, uint64_t until)
{
	struct timespec ts;
	uint64_t now = peerop__now_ms(), ms = until > now ? until - now : 0;
	if (ms == 0)
		return;
	if (ms > 5000)
		ms = 5000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->probe_cond, &p->mu, &ts);
}

static void unhealthy(kl_pod *p, kl_ctr *c, int kind, const char *msg)
{
	char fp[160];
	dc_evref ref;
	snprintf(fp, sizeof(fp), "spec.containers{%s}", c->name);
	dc_evref_of(&ref, p->spec0, "Pod", "v1");
	ref.field_path = fp;
	dc_event_record(p->k->srv, KL_COMPONENT, p->k->node, &ref, "Warning", "Unhealthy", "%s probe failed: %s",
		titles[kind], msg);
}

void *kl_prober_main(void *arg)
{
	kl_pod *p = arg;
	cstate *cs = calloc(p->nctrs ? p->nctrs : 1, sizeof(*cs));
	size_t i;
	int k;

	if (!cs)
		return NULL;
	pthread_mutex_lock(&p->mu);
	while (!p->finished && !p->stop) {
		uint64_t now = peerop__now_ms(), next = now + 60000;
		bool ran = false;
		for (i = 0; i < p->nctrs && !ran; i++) {
			kl_ctr *c = &p->ctrs[i];
			if (c->init || !c->running || c->proc.pid <= 0)
				continue;
			if (cs[i].env_run != c->run_id) {
				/* a new instance: fresh counters, and a copy of its environment */
				kl_exec_dispose(&cs[i].env);
				cs[i].env.envp = copy_strv(c->ex.envp);
				cs[i].env.workdir = c->ex.workdir ? strdup(c->ex.workdir) : NULL;
				cs[i].env_run = c->run_id;
			}
			for (k = 0; k < 3 && !ran; k++) {
				const json_t *probe = json_object_get(c->spec, kinds[k]);
				pstate *ps = &cs[i].p[k];
				long long period, success, failure;
				char msg[1024], ip[16];
				pid_t pid;
				uint64_t run;
				int ok;
				if (!json_is_object(probe))
					continue;
				if (ps->run_id != c->run_id) {
					memset(ps, 0, sizeof(*ps));
					ps->run_id = c->run_id;
					ps->next = c->started_ms + (uint64_t)dc_json_int(probe, "initialDelaySeconds", 0) * 1000u;
				}
				if (k == 2 ? c->started : !c->started)
					continue;   /* startup is done, or the others wait for it */
				if (ps->next > now) {
					if (ps->next < next)
						next = ps->next;
					continue;
				}
				period = dc_json_int(probe, "periodSeconds", 10);
				success = dc_json_int(probe, "successThreshold", 1);
				failure = dc_json_int(probe, "failureThreshold", 3);
				if (period < 1)
					period = 1;
				if (success < 1)
					success = 1;
				if (failure < 1)
					failure = 1;
				snprintf(ip, sizeof(ip), "%s", p->ip);
				pid = c->proc.pid;
				run = c->run_id;
				/* run it without the lock */
				pthread_mutex_unlock(&p->mu);
				ok = kl_probe_run(probe, c->spec, ip, pid, &cs[i].env, msg, sizeof(msg));
				if (!ok)
					unhealthy(p, c, k, msg);
				pthread_mutex_lock(&p->mu);
				ran = true;
				if (c->run_id != run || !c->running)
					break;
				ps->next = peerop__now_ms() + (uint64_t)period * 1000u;
				if (ok) {
					ps->failures = 0;
					if (++ps->successes >= success)
						ps->succeeded = true;
				} else {
					ps->successes = 0;
					if (++ps->failures >= failure)
						ps->succeeded = false;
				}
				if (k == 1) {
					c->ready = ps->succeeded;
				} else if (k == 2 && ps->succeeded) {
					c->started = true;
				} else if (!ok && ps->failures >= failure) {
					if (k == 0)
						c->live_failed = true;
					else
						c->startup_failed = true;
					snprintf(c->probe_msg, sizeof(c->probe_msg), "%.500s", msg);
					ps->failures = 0;
				}
				kl_pod_wake(p);
			}
		}
		if (!ran)
			wait_until(p, next);
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nctrs; i++)
		kl_exec_dispose(&cs[i].env);
	free(cs);
	return NULL;
}
