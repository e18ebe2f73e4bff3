/* events.c: core/v1 Events from the in-process components, shaped as
 * client-go's event recorder writes them (name "<object>.<hex ns time>",
 * source, first/lastTimestamp, count, reportingComponent), so
 * `kubectl describe` and `kubectl get events` show them.
 *
 * Like the recorder, repeats are aggregated: the same type, reason and
 * message about the same object within ten minutes bump the count and the
 * lastTimestamp of one Event instead of creating another (probe failures
 * and back-offs repeat every few seconds). The cache is bounded and
 * shared by every server in the process, keyed by server. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGG_WINDOW_MS (10u * 60u * 1000u)
#define AGG_MAX 4096
#define MESSAGE_MAX 1024

typedef struct agg {
	char *ns, *name;     /* the Event that carries the count */
	long long count;
	uint64_t last_ms;
} agg;

static pthread_mutex_t agg_mu = PTHREAD_MUTEX_INITIALIZER;
static peerop__map agg_cache = PEEROP__MAP_INIT;

static int free_agg(const char *key, void *val, void *arg)
{
	agg *a = val;
	(void)key;
	(void)arg;
	free(a->ns);
	free(a->name);
	free(a);
	return 0;
}

void dc_events_reset(void)
{
	pthread_mutex_lock(&agg_mu);
	peerop__map_each(&agg_cache, free_agg, NULL);
	peerop__map_dispose(&agg_cache);
	pthread_mutex_unlock(&agg_mu);
}

void dc_evref_of(dc_evref *r, const json_t *obj, const char *kind, const char *api_version)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->api_version = api_version;
	r->ns = dc_json_str(obj, "metadata.namespace");
	r->name = dc_json_str(obj, "metadata.name");
	r->uid = dc_json_str(obj, "metadata.uid");
	r->rv = dc_json_str(obj, "metadata.resourceVersion");
}

static json_t *event_object(const char *ns, const char *component, const char *host, const dc_evref *about,
	const char *type, const char *reason, const char *message, const char *ts)
{
	char name[400];
	struct timespec now;
	json_t *ref, *ev;
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(name, sizeof(name), "%.250s.%llx", about->name ? about->name : "object",
		(unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec);
	ref = json_pack("{s:s,s:s,s:s}", "kind", about->kind, "name", about->name ? about->name : "",
		"apiVersion", about->api_version);
	if (about->ns && *about->ns)
		json_object_set_new(ref, "namespace", json_string(about->ns));
	if (about->uid)
		json_object_set_new(ref, "uid", json_string(about->uid));
	if (about->rv)
		json_object_set_new(ref, "resourceVersion", json_string(about->rv));
	if (about->field_path)
		json_object_set_new(ref, "fieldPath", json_string(about->field_path));
	ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s,s:n,s:s,s:s}",
		"apiVersion", "v1", "kind", "Event",
		"metadata", "name", name, "namespace", ns,
		"involvedObject", ref,
		"reason", reason, "message", message,
		"source", "component", component,
		"firstTimestamp", ts, "lastTimestamp", ts, "count", 1, "type", type,
		"eventTime", "reportingComponent", component, "reportingInstance", host ? host : "");
	if (ev && host)
		json_object_set_new(json_object_get(ev, "source"), "host", json_string(host));
	return ev;
}

void dc_event_record(dc_server *srv, const char *component, const char *host, const dc_evref *about,
	const char *type, const char *reason, const char *fmt, ...)
{
	char message[MESSAGE_MAX + 1], ts[32], *key = NULL;
	const char *ns = about->ns && *about->ns ? about->ns : "default";
	va_list ap;
	agg *a;
	json_t *ev, *patch;
	uint64_t now = peerop__now_ms();
	long code;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	dc_now_rfc3339(ts, sizeof(ts));
	if (asprintf(&key, "%p|%s|%s|%s|%s|%s|%s", (void *)srv, about->uid ? about->uid : about->name,
		about->field_path ? about->field_path : "", type, reason, component, message) < 0)
		return;

	pthread_mutex_lock(&agg_mu);
	a = peerop__map_get(&agg_cache, key);
	if (a && now - a->last_ms < AGG_WINDOW_MS) {
		char *ens = strdup(a->ns), *ename = strdup(a->name);
		long long count = ++a->count;
		a->last_ms = now;
		pthread_mutex_unlock(&agg_mu);
		patch = json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", ts);
		code = ens && ename ? dc_local_merge(srv, DC_AGENT_CONTROLLERS, patch, NULL,
			"/api/v1/namespaces/%s/events/%s", ens, ename) : 500;
		json_decref(patch);
		free(ens);
		free(ename);
		if (code == 200) {
			free(key);
			return;
		}
		/* the Event is gone (deleted, expired): record a new one */
		pthread_mutex_lock(&agg_mu);
	}
	pthread_mutex_unlock(&agg_mu);

	ev = event_object(ns, component, host, about, type, reason, message, ts);
	code = ev ? dc_localf(srv, DC_AGENT_CONTROLLERS, "POST", ev, NULL, "/api/v1/namespaces/%s/events", ns) : 500;
	if (code != 201) {
		peerop__debug("devcluster", "event %s %s about %s/%s not recorded (%ld)", type, reason, ns,
			about->name ? about->name : "", code);
	} else {
		pthread_mutex_lock(&agg_mu);
		if (peerop__map_count(&agg_cache) >= AGG_MAX) {
			peerop__map_each(&agg_cache, free_agg, NULL);
			peerop__map_dispose(&agg_cache);
		}
		a = peerop__map_get(&agg_cache, key);
		if (!a && (a = calloc(1, sizeof(*a))) != NULL) {
			a->ns = strdup(ns);
			a->name = strdup(dc_json_str(ev, "metadata.name"));
			if (!a->ns || !a->name || peerop__map_put(&agg_cache, key, a, NULL) != 0) {
				free_agg(NULL, a, NULL);
				a = NULL;
			}
		} else if (a) {
			free(a->name);
			a->name = strdup(dc_json_str(ev, "metadata.name"));
			a->count = 0;
		}
		if (a) {
			a->count = 1;
			a->last_ms = now;
			if (!a->name) {
				peerop__map_remove(&agg_cache, key);
				free_agg(NULL, a, NULL);
			}
		}
		pthread_mutex_unlock(&agg_mu);
	}
	json_decref(ev);
	free(key);
}
