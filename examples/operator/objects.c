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
 *
 * Each is a server-side apply intent: the whole of what the operator
 * manages, nothing it does not (no status, no defaults the server fills).
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

static long long int_field(const json_t *obj, const char *key, long long dflt, long long lo, long long hi,
	const char *path, int *bad)
{
	json_t *v = json_object_get(obj, key);
	long long x;

	if (!v || json_is_null(v))
		return dflt;
	if (!json_is_integer(v) || (x = json_integer_value(v)) < lo || x > hi) {
		if (!*bad)
			peerop_log_emit(PEEROP_LOG_WARN, "operator", NULL, 0,
				"%s: expected an integer from %lld to %lld", path, lo, hi);
		*bad = 1;
		return dflt;
	}
	return x;
}

int op_spec_read(op_spec *out, const json_t *hs, const op_config *cfg)
{
	const json_t *meta = json_object_get(hs, "metadata"), *spec = json_object_get(hs, "spec");
	const char *fmt, *image;
	int bad = 0;

	memset(out, 0, sizeof(*out));
	out->ns = json_string_value(json_object_get(meta, "namespace"));
	out->name = json_string_value(json_object_get(meta, "name"));
	out->generation = json_integer_value(json_object_get(meta, "generation"));
	if (!out->ns || !out->name)
		return PEEROP_EINVAL;
	/* The API server applied the CRD's defaults and validation; these
	 * checks only guard against an older CRD or a hand-edited object. */
	out->replicas = int_field(spec, "replicas", 1, 0, 100, "spec.replicas", &bad);
	out->port = int_field(spec, "port", 8080, 1, 65535, "spec.port", &bad);
	out->ping_interval_s = int_field(spec, "pingIntervalSeconds", 60, 1, 86400, "spec.pingIntervalSeconds", &bad);
	fmt = json_string_value(json_object_get(spec, "logFormat"));
	out->log_format = fmt && !strcmp(fmt, "json") ? "json" : "text";
	image = json_string_value(json_object_get(spec, "image"));
	out->image = image && *image ? image : cfg->default_image;
	out->resources = json_is_object(json_object_get(spec, "resources")) ?
		json_object_get(spec, "resources") : NULL;
	return bad ? PEEROP_EINVAL : 0;
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

	snprintf(name, sizeof(name), "%s-peers", s->name);
	return owned(json_pack("{s:s, s:s, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", meta(s, name), "data", OP_PEERS_KEY, peers_json), owner);
}

json_t *op_deployment(const op_spec *s, const json_t *owner)
{
	char listen[64], interval[32];
	json_t *resources, *container, *pod, *d;

	/* $(POD_IP) is expanded by the kubelet: each pod listens on its own
	 * address, which is its only one in a cluster (and what keeps pods
	 * apart on the local control plane, where they share the host). */
	snprintf(listen, sizeof(listen), "$(POD_IP):%lld", s->port);
	snprintf(interval, sizeof(interval), "%lld", s->ping_interval_s);
	resources = s->resources ? json_deep_copy(s->resources) :
		json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", "50m", "memory", "32Mi",
			"limits", "cpu", "50m", "memory", "32Mi");
	container = json_pack(
		"{s:s, s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s],"
		" s:[{s:s, s:{s:{s:s}}}, {s:s, s:{s:{s:s}}}],"
		" s:[{s:s, s:I, s:s}], s:o,"
		" s:[{s:s, s:s, s:b}],"
		" s:{s:{s:s, s:s}, s:i, s:i, s:i},"
		" s:{s:{s:s, s:s}, s:i, s:i, s:i},"
		" s:{s:b, s:b, s:b, s:{s:[s]}}}",
		"name", "server", "image", s->image, "imagePullPolicy", "IfNotPresent",
		"args", "--listen", listen, "--id", "$(POD_NAME)", "--peers-file", OP_PEERS_DIR "/" OP_PEERS_KEY,
		"--ping-interval", interval, "--log-format", s->log_format,
		"env", "name", "POD_NAME", "valueFrom", "fieldRef", "fieldPath", "metadata.name",
		"name", "POD_IP", "valueFrom", "fieldRef", "fieldPath", "status.podIP",
		"ports", "name", "http", "containerPort", (json_int_t)s->port, "protocol", "TCP",
		"resources", resources,
		"volumeMounts", "name", "peers", "mountPath", OP_PEERS_DIR, "readOnly", 1,
		"readinessProbe", "httpGet", "path", "/readyz", "port", "http",
		"periodSeconds", 5, "timeoutSeconds", 2, "failureThreshold", 3,
		"livenessProbe", "httpGet", "path", "/healthz", "port", "http",
		"periodSeconds", 10, "timeoutSeconds", 2, "failureThreshold", 3,
		"securityContext", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
		"runAsNonRoot", 1, "capabilities", "drop", "ALL");
	if (!container)
		return NULL;
	{
		char cmname[300];
		snprintf(cmname, sizeof(cmname), "%s-peers", s->name);
		pod = json_pack("{s:{s:o}, s:{s:[o], s:[{s:s, s:{s:s}}], s:b, s:b, s:i,"
			" s:{s:b, s:i, s:i, s:{s:s}}}}",
			"metadata", "labels", labels(s),
			"spec", "containers", container,
			"volumes", "name", "peers", "configMap", "name", cmname,
			"automountServiceAccountToken", 0, "enableServiceLinks", 0,
			"terminationGracePeriodSeconds", 10,
			"securityContext", "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532,
			"seccompProfile", "type", "RuntimeDefault");
	}
	if (!pod)
		return NULL;
	d = json_pack("{s:s, s:s, s:o, s:{s:I, s:{s:{s:s, s:s}}, s:o}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", meta(s, s->name),
		"spec", "replicas", (json_int_t)s->replicas,
		"selector", "matchLabels", OP_LABEL_NAME, OP_APP, OP_LABEL_INSTANCE, s->name,
		"template", pod);
	return owned(d, owner);
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

static int by_id(const void *a, const void *b)
{
	return strcmp(((const peerop_peer *)a)->id, ((const peerop_peer *)b)->id);
}

int op_peers_json(char **out, const json_t *pods, long long port)
{
	peerop_peer *list;
	size_t i, n = 0;
	json_t *pod;
	int rc;

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
	free(list);
	return rc;
}
