/*
 * objects.c: what an HTTPServer becomes.
 *
 * - ConfigMap NAME-peers: peers.json, the servers' peer list (pod name,
 *   pod IP, port), rewritten as pods come and go. It is mounted as a
 *   volume, so the kubelet swaps the file in place and each server reloads
 *   it: peers change without restarting a pod. That is also why nothing in
 *   the pod template depends on the ConfigMap's content.
 * - Deployment NAME: spec.replicas peerop-servers, hardened: non-root,
 *   read-only root filesystem, no privilege escalation, no capabilities,
 *   the runtime's seccomp profile, no service account token (the servers
 *   never call the API), requests equal to limits (Guaranteed QoS) unless
 *   the HTTPServer says otherwise, readiness on /readyz, liveness on
 *   /healthz.
 * - Service NAME: the servers' port, for clients (peers use pod IPs).
 * - Service NAME-peers: headless (no cluster IP) and publishing pods that
 *   are not ready yet, so cluster DNS answers NAME-peers.NS.svc with every
 *   server's address: the peer list of spec.peerDiscovery DNS.
 *
 * Each is a server-side apply intent: the whole of what the operator
 * manages, nothing it does not (no status, no defaults the server fills).
 * Flags appear in the pod template only when the spec asks for them, so
 * HTTPServers written for an older operator keep the same template and
 * are not rolled by an upgrade.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "operator.h"

const peerop_kube_resource OP_HTTPSERVERS = { "peerop.io", "v1alpha1", "httpservers", 1 };
const peerop_kube_resource OP_DEPLOYMENTS = { "apps", "v1", "deployments", 1 };
const peerop_kube_resource OP_SERVICES = { "", "v1", "services", 1 };
const peerop_kube_resource OP_CONFIGMAPS = { "", "v1", "configmaps", 1 };
const peerop_kube_resource OP_PODS = { "", "v1", "pods", 1 };

/* An integer field: its value, dflt when absent; out of range or not an
 * integer marks the spec invalid (never replaced by the default: a typo
 * must not scale 500 servers down to 1). */
static long long int_field(op_spec *s, const json_t *spec, const char *key, long long dflt,
	long long lo, long long hi)
{
	json_t *v = json_object_get(spec, key);
	long long x;

	if (!v || json_is_null(v))
		return dflt;
	if (!json_is_integer(v) || (x = json_integer_value(v)) < lo || x > hi) {
		if (!s->invalid[0])
			snprintf(s->invalid, sizeof(s->invalid), "spec.%s: expected an integer from %lld to %lld", key,
				lo, hi);
		return dflt;
	}
	return x;
}

static const char *enum_field(op_spec *s, const json_t *spec, const char *key, const char *const *values,
	const char *dflt)
{
	json_t *v = json_object_get(spec, key);
	size_t i;

	if (!v || json_is_null(v))
		return dflt;
	for (i = 0; values[i]; i++)
		if (json_is_string(v) && !strcmp(json_string_value(v), values[i]))
			return values[i];
	if (!s->invalid[0]) {
		int n = snprintf(s->invalid, sizeof(s->invalid), "spec.%s: expected one of", key);
		for (i = 0; values[i] && n > 0 && (size_t)n < sizeof(s->invalid); i++)
			n += snprintf(s->invalid + n, sizeof(s->invalid) - (size_t)n, "%s %s", i ? "," : "", values[i]);
	}
	return dflt;
}

/* requests and limits, each a map of quantities (strings or integers):
 * the API server checks the quantities themselves. */
static int resources_ok(op_spec *s, const json_t *r)
{
	const char *key, *name;
	json_t *v, *q;

	if (!json_is_object(r))
		goto bad;
	json_object_foreach((json_t *)r, key, v) {
		if ((strcmp(key, "requests") && strcmp(key, "limits")) || !json_is_object(v))
			goto bad;
		json_object_foreach(v, name, q)
			if (!json_is_string(q) && !json_is_integer(q))
				goto bad;
	}
	return 1;
bad:
	if (!s->invalid[0])
		snprintf(s->invalid, sizeof(s->invalid),
			"spec.resources: expected requests and limits, each a map of quantities");
	return 0;
}

int op_spec_read(op_spec *out, const json_t *hs, const op_config *cfg)
{
	static const char *const formats[] = { "text", "json", NULL };
	static const char *const discovery[] = { "ConfigMap", "DNS", "ConfigMapAndDNS", NULL };
	const json_t *meta = json_object_get(hs, "metadata"), *spec = json_object_get(hs, "spec"), *v;
	const char *d;

	memset(out, 0, sizeof(*out));
	out->ns = json_string_value(json_object_get(meta, "namespace"));
	out->name = json_string_value(json_object_get(meta, "name"));
	out->generation = json_integer_value(json_object_get(meta, "generation"));
	if (!out->ns || !out->name)
		return PEEROP_EINVAL;
	/* The API server applied the CRD's defaults and validation; these
	 * checks guard against an older CRD or a hand-edited object, and
	 * report what they find in status rather than guess. */
	if (spec && !json_is_object(spec))
		snprintf(out->invalid, sizeof(out->invalid), "spec: expected an object");
	out->replicas = int_field(out, spec, "replicas", 1, 0, OP_MAX_REPLICAS);
	out->port = int_field(out, spec, "port", 8080, 1, 65535);
	out->ping_interval_s = int_field(out, spec, "pingIntervalSeconds", 60, 1, 86400);
	out->ping_timeout_s = int_field(out, spec, "pingTimeoutSeconds", 0, 1, 86400);
	if (out->ping_timeout_s > out->ping_interval_s && !out->invalid[0])
		snprintf(out->invalid, sizeof(out->invalid),
			"spec.pingTimeoutSeconds (%lld) must not exceed spec.pingIntervalSeconds (%lld)",
			out->ping_timeout_s, out->ping_interval_s);
	out->log_format = enum_field(out, spec, "logFormat", formats, "text");
	d = enum_field(out, spec, "peerDiscovery", discovery, "ConfigMap");
	out->discovery = !strcmp(d, "DNS") ? OP_DISCOVER_DNS :
		!strcmp(d, "ConfigMapAndDNS") ? OP_DISCOVER_CONFIGMAP | OP_DISCOVER_DNS : OP_DISCOVER_CONFIGMAP;
	v = json_object_get(spec, "image");
	if (v && !json_is_null(v) && (!json_is_string(v) || !*json_string_value(v)) && !out->invalid[0])
		snprintf(out->invalid, sizeof(out->invalid), "spec.image: expected a non-empty string");
	out->image = json_is_string(v) && *json_string_value(v) ? json_string_value(v) : cfg->default_image;
	v = json_object_get(spec, "resources");
	if (v && !json_is_null(v) && resources_ok(out, v))
		out->resources = v;
	return out->invalid[0] ? PEEROP_EINVAL : 0;
}

char *op_selector(const char *name)
{
	size_t n = strlen(name) + 96;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, OP_LABEL_INSTANCE "=%s," OP_LABEL_NAME "=" OP_APP, name);
	return s;
}

/* Labels of everything created for an HTTPServer (selector + manager). */
static json_t *labels(const op_spec *s)
{
	return json_pack("{s:s, s:s, s:s}", OP_LABEL_NAME, OP_APP, OP_LABEL_INSTANCE, s->name,
		OP_LABEL_MANAGED, OP_MANAGER);
}

static json_t *meta(const op_spec *s, const char *name)
{
	return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", s->ns, "labels", labels(s));
}

static json_t *owned(json_t *obj, const json_t *owner)
{
	if (obj && peerop_object_set_controller(obj, owner) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *op_peers_configmap(const op_spec *s, const json_t *owner, const char *peers_json)
{
	char name[300];

	snprintf(name, sizeof(name), "%s" OP_PEERS_SUFFIX, s->name);
	return owned(json_pack("{s:s, s:s, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", meta(s, name), "data", OP_PEERS_KEY, peers_json), owner);
}

static int add_arg(json_t *args, const char *flag, const char *value)
{
	return json_array_append_new(args, json_string(flag)) || json_array_append_new(args, json_string(value));
}

json_t *op_deployment(const op_spec *s, const json_t *owner)
{
	char listen[64], num[32], dns[600], cmname[300];
	json_t *resources, *container, *pod, *d, *args, *volumes, *mounts;

	/* $(POD_IP) is expanded by the kubelet: each pod listens on its own
	 * address, which is its only one in a cluster (and what keeps pods
	 * apart on the local control plane, where they share the host). */
	snprintf(listen, sizeof(listen), "$(POD_IP):%lld", s->port);
	snprintf(cmname, sizeof(cmname), "%s" OP_PEERS_SUFFIX, s->name);
	args = json_pack("[s,s,s,s]", "--listen", listen, "--id", "$(POD_NAME)");
	volumes = json_array();
	mounts = json_array();
	if (!args || !volumes || !mounts)
		goto fail;
	if ((s->discovery & OP_DISCOVER_CONFIGMAP) &&
	    (add_arg(args, "--peers-file", OP_PEERS_DIR "/" OP_PEERS_KEY) ||
	     json_array_append_new(volumes, json_pack("{s:s, s:{s:s}}", "name", "peers", "configMap", "name", cmname)) ||
	     json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", "peers", "mountPath", OP_PEERS_DIR,
		"readOnly", 1))))
		goto fail;
	snprintf(num, sizeof(num), "%lld", s->ping_interval_s);
	if (add_arg(args, "--ping-interval", num) || add_arg(args, "--log-format", s->log_format))
		goto fail;
	if (s->ping_timeout_s) {
		snprintf(num, sizeof(num), "%lld", s->ping_timeout_s);
		if (add_arg(args, "--ping-timeout", num))
			goto fail;
	}
	if (s->discovery & OP_DISCOVER_DNS) {
		/* relative to the pod's DNS search path: any cluster domain */
		snprintf(dns, sizeof(dns), "%s" OP_PEERS_SUFFIX ".%s.svc:%lld", s->name, s->ns, s->port);
		if (add_arg(args, "--peers-dns", dns))
			goto fail;
	}
	resources = s->resources ? json_deep_copy(s->resources) :
		json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", "50m", "memory", "32Mi",
			"limits", "cpu", "50m", "memory", "32Mi");
	container = json_pack(
		"{s:s, s:s, s:s, s:o,"
		" s:[{s:s, s:{s:{s:s}}}, {s:s, s:{s:{s:s}}}],"
		" s:[{s:s, s:I, s:s}], s:o,"
		" s:{s:{s:s, s:s}, s:i, s:i, s:i},"
		" s:{s:{s:s, s:s}, s:i, s:i, s:i},"
		" s:{s:b, s:b, s:b, s:{s:[s]}}}",
		"name", "server", "image", s->image, "imagePullPolicy", "IfNotPresent", "args", args,
		"env", "name", "POD_NAME", "valueFrom", "fieldRef", "fieldPath", "metadata.name",
		"name", "POD_IP", "valueFrom", "fieldRef", "fieldPath", "status.podIP",
		"ports", "name", "http", "containerPort", (json_int_t)s->port, "protocol", "TCP",
		"resources", resources,
		"readinessProbe", "httpGet", "path", "/readyz", "port", "http",
		"periodSeconds", 5, "timeoutSeconds", 2, "failureThreshold", 3,
		"livenessProbe", "httpGet", "path", "/healthz", "port", "http",
		"periodSeconds", 10, "timeoutSeconds", 2, "failureThreshold", 3,
		"securityContext", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
		"runAsNonRoot", 1, "capabilities", "drop", "ALL");
	args = NULL;
	if (!container)
		goto fail;
	if (json_array_size(mounts))
		json_object_set(container, "volumeMounts", mounts);
	pod = json_pack("{s:{s:o}, s:{s:[o], s:b, s:b, s:i, s:{s:b, s:i, s:i, s:{s:s}}}}",
		"metadata", "labels", labels(s),
		"spec", "containers", container,
		"automountServiceAccountToken", 0, "enableServiceLinks", 0,
		"terminationGracePeriodSeconds", 10,
		"securityContext", "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532,
		"seccompProfile", "type", "RuntimeDefault");
	if (!pod)
		goto fail;
	if (json_array_size(volumes))
		json_object_set(json_object_get(pod, "spec"), "volumes", volumes);
	json_decref(volumes);
	json_decref(mounts);
	d = json_pack("{s:s, s:s, s:o, s:{s:I, s:{s:{s:s, s:s}}, s:o}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", meta(s, s->name),
		"spec", "replicas", (json_int_t)s->replicas,
		"selector", "matchLabels", OP_LABEL_NAME, OP_APP, OP_LABEL_INSTANCE, s->name,
		"template", pod);
	return owned(d, owner);
fail:
	json_decref(args);
	json_decref(volumes);
	json_decref(mounts);
	return NULL;
}

json_t *op_service(const op_spec *s, const json_t *owner)
{
	return owned(json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:I, s:s, s:s}]}}",
		"apiVersion", "v1", "kind", "Service", "metadata", meta(s, s->name),
		"spec", "type", "ClusterIP",
		"selector", OP_LABEL_NAME, OP_APP, OP_LABEL_INSTANCE, s->name,
		"ports", "name", "http", "port", (json_int_t)s->port, "targetPort", "http", "protocol", "TCP"),
		owner);
}

json_t *op_peers_service(const op_spec *s, const json_t *owner)
{
	char name[300];

	snprintf(name, sizeof(name), "%s" OP_PEERS_SUFFIX, s->name);
	/* publishNotReadyAddresses: a server is ready once it has loaded its
	 * peers, so waiting for readiness to list it would be circular */
	return owned(json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:b, s:{s:s, s:s}, s:[{s:s, s:I, s:s, s:s}]}}",
		"apiVersion", "v1", "kind", "Service", "metadata", meta(s, name),
		"spec", "type", "ClusterIP", "clusterIP", "None", "publishNotReadyAddresses", 1,
		"selector", OP_LABEL_NAME, OP_APP, OP_LABEL_INSTANCE, s->name,
		"ports", "name", "http", "port", (json_int_t)s->port, "targetPort", "http", "protocol", "TCP"),
		owner);
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const peerop_peer *)a)->id, ((const peerop_peer *)b)->id);
}

int op_peers_json(char **out, json_t **members, const json_t *pods, long long port)
{
	peerop_peer *list;
	size_t i, n = 0;
	json_t *pod;
	int rc;

	*out = NULL;
	if (members)
		*members = NULL;
	list = calloc(json_array_size(pods) + 1, sizeof(*list));
	if (!list)
		return PEEROP_ENOMEM;
	json_array_foreach(pods, i, pod) {
		const json_t *m = json_object_get(pod, "metadata");
		const char *ip = json_string_value(json_object_get(json_object_get(pod, "status"), "podIP"));
		const char *name = json_string_value(json_object_get(m, "name"));
		/* a pod being deleted is leaving: stop pinging it now */
		if (!ip || !*ip || !name || json_object_get(m, "deletionTimestamp"))
			continue;
		list[n].id = name;
		list[n].host = ip;
		list[n].port = (unsigned int)port;
		n++;
	}
	qsort(list, n, sizeof(*list), by_id);
	rc = peerop_peers_format(out, list, n);
	if (rc == 0 && members) {
		*members = json_array();
		for (i = 0; i < n && *members; i++)
			if (json_array_append_new(*members, json_string(list[i].id)) != 0) {
				json_decref(*members);
				*members = NULL;
			}
		if (!*members) {
			peerop_free(*out);
			*out = NULL;
			rc = PEEROP_ENOMEM;
		}
	}
	free(list);
	return rc;
}

/* Does live already hold everything intent says? Objects: every key of
 * intent, satisfied; lists: the same length, item by item; scalars:
 * equal. What the server added (defaults, status, other managers'
 * fields) does not matter. */
int op_satisfied(const json_t *live, const json_t *intent)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(intent)) {
		if (!json_is_object(live))
			return 0;
		json_object_foreach((json_t *)intent, key, v)
			if (!op_satisfied(json_object_get(live, key), v))
				return 0;
		return 1;
	}
	if (json_is_array(intent)) {
		if (!json_is_array(live) || json_array_size(live) != json_array_size(intent))
			return 0;
		json_array_foreach(intent, i, v)
			if (!op_satisfied(json_array_get(live, i), v))
				return 0;
		return 1;
	}
	return live && json_equal((json_t *)live, (json_t *)intent);
}
