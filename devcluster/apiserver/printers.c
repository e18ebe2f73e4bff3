/* printers.c: the server-side columns of `kubectl get` for the built-in
 * types, as the real API server prints them (pkg/printers/internalversion):
 * the same column names, types, priorities (1: only with -o wide) and cell
 * formats. Custom resources are printed from their CRD's columns (table.c).
 * Cells are computed from the stored (storage-version) object. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct col {
	const char *name, *type, *format, *desc;
	int priority;
} col;

#define NAME_COL { "Name", "string", "name", "Name must be unique within a namespace.", 0 }
#define AGE_COL { "Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0 }

/* ---- cell helpers ---- */

static const char *str(const json_t *o, const char *path)
{
	const char *s = dc_json_str(o, path);
	return s ? s : "";
}

static json_int_t num(const json_t *o, const char *path)
{
	return json_integer_value(dc_json_path(o, path));
}

static void add_str(json_t *cells, const char *s)
{
	json_array_append_new(cells, json_string(s && *s ? s : "<none>"));
}

static void add_int(json_t *cells, json_int_t v)
{
	json_array_append_new(cells, json_integer(v));
}

static void add_age(json_t *cells, const json_t *o, const char *path, time_t now)
{
	char buf[32];
	dc_human_age(buf, sizeof(buf), str(o, path), now);
	json_array_append_new(cells, json_string(buf));
}

static void add_fmt(json_t *cells, const char *fmt, ...) PEEROP_FORMAT(2, 3);
static void add_fmt(json_t *cells, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(cells, json_string(buf));
}

/* Join one string field of every element of an array ("a,b"). */
static void add_joined(json_t *cells, const json_t *arr, const char *field)
{
	peerop__buf b = PEEROP__BUF_INIT;
	json_t *v;
	size_t i;
	json_array_foreach(arr, i, v) {
		const char *s = dc_json_str(v, field);
		if (s)
			peerop__buf_printf(&b, "%s%s", b.len ? "," : "", s);
	}
	add_str(cells, b.ptr);
	peerop__buf_dispose(&b);
}

static void add_map_selector(json_t *cells, const json_t *m)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char **keys;
	size_t n = json_object_size(m), i = 0, j;
	const char *k;
	json_t *v;
	keys = n ? calloc(n, sizeof(*keys)) : NULL;
	json_object_foreach((json_t *)m, k, v)
		if (keys)
			keys[i++] = k;
	/* sorted, as labels.SelectorFromSet prints them */
	for (i = 1; keys && i < n; i++)
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (i = 0; keys && i < n; i++)
		peerop__buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], json_string_value(json_object_get(m, keys[i])));
	add_str(cells, b.ptr);
	peerop__buf_dispose(&b);
	free(keys);
}

/* ---- per type ---- */

static const col ns_cols[] = { NAME_COL, { "Status", "string", "", "The status of the namespace", 0 }, AGE_COL, { 0 } };
static void ns_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_str(c, str(o, "status.phase"));
	add_age(c, o, "metadata.creationTimestamp", now);
}

static const col cm_cols[] = { NAME_COL, { "Data", "string", "", "Data contains the configuration data.", 0 }, AGE_COL, { 0 } };
static void cm_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_int(c, (json_int_t)(json_object_size(json_object_get(o, "data")) +
		json_object_size(json_object_get(o, "binaryData"))));
	add_age(c, o, "metadata.creationTimestamp", now);
}

static const col secret_cols[] = { NAME_COL, { "Type", "string", "", "The type of the secret", 0 },
	{ "Data", "string", "", "The number of data entries in the secret", 0 }, AGE_COL, { 0 } };
static void secret_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_str(c, str(o, "type"));
	add_int(c, (json_int_t)json_object_size(json_object_get(o, "data")));
	add_age(c, o, "metadata.creationTimestamp", now);
}

static const col sa_cols[] = { NAME_COL, { "Secrets", "string", "", "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount.", 0 }, AGE_COL, { 0 } };
static void sa_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_int(c, (json_int_t)json_array_size(json_object_get(o, "secrets")));
	add_age(c, o, "metadata.creationTimestamp", now);
}

static const col svc_cols[] = { NAME_COL,
	{ "Type", "string", "", "The type of the service.", 0 },
	{ "Cluster-IP", "string", "", "The IP address of the service.", 0 },
	{ "External-IP", "string", "", "The external IP address of the service.", 0 },
	{ "Port(s)", "string", "", "The ports of the service.", 0 },
	AGE_COL,
	{ "Selector", "string", "", "Route service traffic to pods with label keys and values matching this selector.", 1 },
	{ 0 } };
static void svc_cells(const json_t *o, json_t *c, time_t now)
{
	const char *type = str(o, "spec.type");
	json_t *ports = dc_json_path(o, "spec.ports"), *p, *ext = json_array(), *v;
	peerop__buf b = PEEROP__BUF_INIT;
	size_t i;
	add_str(c, str(o, "metadata.name"));
	add_str(c, type);
	add_str(c, str(o, "spec.clusterIP"));
	json_array_foreach(dc_json_path(o, "status.loadBalancer.ingress"), i, v) {
		const char *s = json_string_value(json_object_get(v, "ip"));
		if (!s)
			s = json_string_value(json_object_get(v, "hostname"));
		if (s)
			json_array_append_new(ext, json_pack("{s:s}", "x", s));
	}
	json_array_foreach(dc_json_path(o, "spec.externalIPs"), i, v)
		if (json_is_string(v))
			json_array_append_new(ext, json_pack("{s:O}", "x", v));
	if (!strcmp(type, "ExternalName"))
		add_str(c, str(o, "spec.externalName"));
	else if (!strcmp(type, "LoadBalancer") && json_array_size(ext) == 0)
		add_str(c, "<pending>");
	else
		add_joined(c, ext, "x");
	json_decref(ext);
	json_array_foreach(ports, i, p) {
		json_int_t np = num(p, "nodePort");
		peerop__buf_printf(&b, "%s%lld", i ? "," : "", (long long)num(p, "port"));
		if (np)
			peerop__buf_printf(&b, ":%lld", (long long)np);
		peerop__buf_printf(&b, "/%s", dc_json_str(p, "protocol") ? dc_json_str(p, "protocol") : "TCP");
	}
	add_str(c, b.ptr);
	peerop__buf_dispose(&b);
	add_age(c, o, "metadata.creationTimestamp", now);
	add_map_selector(c, dc_json_path(o, "spec.selector"));
}

static const col pod_cols[] = { NAME_COL,
	{ "Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0 },
	{ "Status", "string", "", "The aggregate status of the containers in this pod.", 0 },
	{ "Restarts", "string", "", "The number of times the containers in this pod have been restarted.", 0 },
	AGE_COL,
	{ "IP", "string", "", "The IP address assigned to the pod", 1 },
	{ "Node", "string", "", "The name of the node assigned to the pod", 1 },
	{ "Nominated Node", "string", "", "The name of the node nominated by the scheduler", 1 },
	{ "Readiness Gates", "string", "", "The readiness gates of the pod", 1 },
	{ 0 } };
/* The STATUS column: the phase, overridden by what the containers say. */
static bool initialized(const json_t *o)
{
	json_t *c;
	size_t i;
	json_array_foreach(dc_json_path(o, "status.conditions"), i, c)
		if (!strcmp(str(c, "type"), "Initialized") && !strcmp(str(c, "status"), "True"))
			return true;
	return false;
}

/* The init containers' part of the STATUS column ("Init:0/2",
 * "Init:CrashLoopBackOff"...), or NULL once they are done. */
static const char *init_reason(const json_t *o, char *buf, size_t size)
{
	json_t *ics = dc_json_path(o, "status.initContainerStatuses"), *v;
	size_t i, n = json_array_size(dc_json_path(o, "spec.initContainers"));
	json_array_foreach(ics, i, v) {
		const char *r;
		if (dc_json_path(v, "state.terminated") && num(v, "state.terminated.exitCode") == 0)
			continue;
		if (dc_json_path(v, "state.terminated")) {
			r = dc_json_str(v, "state.terminated.reason");
			if (r && *r)
				snprintf(buf, size, "Init:%s", r);
			else if (num(v, "state.terminated.signal"))
				snprintf(buf, size, "Init:Signal:%lld", (long long)num(v, "state.terminated.signal"));
			else
				snprintf(buf, size, "Init:ExitCode:%lld", (long long)num(v, "state.terminated.exitCode"));
		} else if ((r = dc_json_str(v, "state.waiting.reason")) && *r && strcmp(r, "PodInitializing")) {
			snprintf(buf, size, "Init:%s", r);
		} else {
			snprintf(buf, size, "Init:%zu/%zu", i, n);
		}
		return buf;
	}
	return NULL;
}

static const char *pod_reason(const json_t *o, char *buf, size_t size)
{
	json_t *cs = dc_json_path(o, "status.containerStatuses"), *v;
	const char *reason = dc_json_str(o, "status.reason");
	bool running = false;
	size_t i;
	if (!reason)
		reason = str(o, "status.phase");
	{
		const char *init = init_reason(o, buf, size);
		if (init && !initialized(o)) {
			reason = init;
			cs = NULL;
		}
	}
	for (i = json_array_size(cs); i-- > 0;) {
		v = json_array_get(cs, i);
		if (dc_json_str(v, "state.waiting.reason")) {
			reason = dc_json_str(v, "state.waiting.reason");
		} else if (dc_json_str(v, "state.terminated.reason")) {
			reason = dc_json_str(v, "state.terminated.reason");
		} else if (dc_json_path(v, "state.terminated")) {
			if (num(v, "state.terminated.signal"))
				snprintf(buf, size, "Signal:%lld", (long long)num(v, "state.terminated.signal"));
			else
				snprintf(buf, size, "ExitCode:%lld", (long long)num(v, "state.terminated.exitCode"));
			reason = buf;
		} else if (json_is_true(json_object_get(v, "ready")) && dc_json_path(v, "state.running")) {
			running = true;
		}
	}
	if (!strcmp(reason, "Completed") && running)
		reason = "Running";
	if (dc_json_path(o, "metadata.deletionTimestamp")) {
		const char *phase = str(o, "status.phase");
		if (!strcmp(str(o, "status.reason"), "NodeLost"))
			reason = "Unknown";
		else if (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))
			reason = "Terminating";
	}
	return reason;
}
static void pod_cells(const json_t *o, json_t *c, time_t now)
{
	json_t *cs = dc_json_path(o, "status.containerStatuses"), *v;
	json_int_t ready = 0, restarts = 0;
	size_t i;
	char buf[64];
	const char *last_restart = NULL;
	json_array_foreach(dc_json_path(o, "status.initContainerStatuses"), i, v)
		restarts += num(v, "restartCount");
	json_array_foreach(cs, i, v) {
		const char *fin = dc_json_str(v, "lastState.terminated.finishedAt");
		if (json_is_true(json_object_get(v, "ready")) && dc_json_path(v, "state.running"))
			ready++;
		restarts += num(v, "restartCount");
		if (fin && (!last_restart || strcmp(fin, last_restart) > 0))
			last_restart = fin;
	}
	add_str(c, str(o, "metadata.name"));
	add_fmt(c, "%lld/%zu", (long long)ready, json_array_size(dc_json_path(o, "spec.containers")));
	add_str(c, pod_reason(o, buf, sizeof(buf)));
	if (restarts && last_restart) {
		/* as the real printer: "3 (12s ago)" */
		char ago[32];
		dc_human_age(ago, sizeof(ago), last_restart, now);
		add_fmt(c, "%lld (%s ago)", (long long)restarts, ago);
	} else {
		add_fmt(c, "%lld", (long long)restarts);
	}
	add_age(c, o, "metadata.creationTimestamp", now);
	add_str(c, str(o, "status.podIP"));
	add_str(c, str(o, "spec.nodeName"));
	add_str(c, str(o, "status.nominatedNodeName"));
	add_str(c, "");
}

static const col event_cols[] = {
	{ "Last Seen", "string", "", "Time when this Event was last observed.", 0 },
	{ "Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future.", 0 },
	{ "Reason", "string", "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0 },
	{ "Object", "string", "", "The object that this event is about.", 0 },
	{ "Subobject", "string", "", "The subobject this event is about.", 1 },
	{ "Source", "string", "", "The component reporting this event.", 1 },
	{ "Message", "string", "", "A human-readable description of the status of this operation.", 0 },
	{ "First Seen", "string", "", "The time at which the event was first recorded.", 1 },
	{ "Count", "string", "", "The number of times this event has occurred.", 1 },
	{ "Name", "string", "name", "Name must be unique within a namespace.", 1 },
	{ 0 } };
static void event_cells(const json_t *o, json_t *c, time_t now)
{
	const char *last = dc_json_str(o, "lastTimestamp");
	char kind[128], buf[32];
	size_t i;
	if (!last)
		last = dc_json_str(o, "eventTime");
	if (!last)
		last = str(o, "firstTimestamp");
	dc_human_age(buf, sizeof(buf), last, now);
	json_array_append_new(c, json_string(buf));
	add_str(c, str(o, "type"));
	add_str(c, str(o, "reason"));
	snprintf(kind, sizeof(kind), "%s", str(o, "involvedObject.kind"));
	for (i = 0; kind[i]; i++)
		if (kind[i] >= 'A' && kind[i] <= 'Z')
			kind[i] = (char)(kind[i] - 'A' + 'a');
	add_fmt(c, "%s/%s", kind, str(o, "involvedObject.name"));
	add_str(c, str(o, "involvedObject.fieldPath"));
	add_str(c, str(o, "source.component"));
	add_str(c, str(o, "message"));
	add_age(c, o, "firstTimestamp", now);
	add_int(c, num(o, "count"));
	add_str(c, str(o, "metadata.name"));
}

static const col deploy_cols[] = { NAME_COL,
	{ "Ready", "string", "", "Number of the pod with ready state", 0 },
	{ "Up-to-date", "string", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0 },
	{ "Available", "string", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0 },
	AGE_COL,
	{ "Containers", "string", "", "Names of each container in the template.", 1 },
	{ "Images", "string", "", "Images referenced by each container in the template.", 1 },
	{ "Selector", "string", "", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1 },
	{ 0 } };
/* The wide columns of workloads with a pod template: containers, images, selector. */
static void add_template_wide(json_t *c, const json_t *o)
{
	json_t *ctrs = dc_json_path(o, "spec.template.spec.containers");
	char *sel = dc_label_selector_format(dc_json_path(o, "spec.selector"));
	add_joined(c, ctrs, "name");
	add_joined(c, ctrs, "image");
	add_str(c, sel);
	free(sel);
}

static void deploy_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_fmt(c, "%lld/%lld", (long long)num(o, "status.readyReplicas"), (long long)num(o, "spec.replicas"));
	add_int(c, num(o, "status.updatedReplicas"));
	add_int(c, num(o, "status.availableReplicas"));
	add_age(c, o, "metadata.creationTimestamp", now);
	add_template_wide(c, o);
}

static const col rs_cols[] = { NAME_COL,
	{ "Desired", "integer", "", "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1.", 0 },
	{ "Current", "integer", "", "Replicas is the most recently observed number of non-terminating pods.", 0 },
	{ "Ready", "integer", "", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.", 0 },
	AGE_COL,
	{ "Containers", "string", "", "Names of each container in the template.", 1 },
	{ "Images", "string", "", "Images referenced by each container in the template.", 1 },
	{ "Selector", "string", "", "Selector is a label query over pods that should match the replica count.", 1 },
	{ 0 } };
static void rs_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_int(c, num(o, "spec.replicas"));
	add_int(c, num(o, "status.replicas"));
	add_int(c, num(o, "status.readyReplicas"));
	add_age(c, o, "metadata.creationTimestamp", now);
	add_template_wide(c, o);
}

static const col node_cols[] = { NAME_COL,
	{ "Status", "string", "", "The status of the node", 0 },
	{ "Roles", "string", "", "The roles of the node", 0 },
	AGE_COL,
	{ "Version", "string", "", "Kubelet Version reported by the node.", 0 },
	{ "Internal-IP", "string", "", "List of addresses reachable to the node.", 1 },
	{ "External-IP", "string", "", "List of addresses reachable to the node.", 1 },
	{ "OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1 },
	{ "Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1 },
	{ "Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1 },
	{ 0 } };
static void node_address(json_t *c, const json_t *o, const char *type)
{
	json_t *v;
	size_t i;
	json_array_foreach(dc_json_path(o, "status.addresses"), i, v)
		if (!strcmp(str(v, "type"), type)) {
			add_str(c, str(v, "address"));
			return;
		}
	add_str(c, "");
}
static void node_cells(const json_t *o, json_t *c, time_t now)
{
	json_t *v, *labels = dc_json_path(o, "metadata.labels");
	const char *k, *status = "Unknown";
	peerop__buf roles = PEEROP__BUF_INIT;
	size_t i;
	json_array_foreach(dc_json_path(o, "status.conditions"), i, v)
		if (!strcmp(str(v, "type"), "Ready"))
			status = !strcmp(str(v, "status"), "True") ? "Ready" : "NotReady";
	add_fmt(c, "%s", str(o, "metadata.name"));
	if (json_is_true(dc_json_path(o, "spec.unschedulable")))
		add_fmt(c, "%s,SchedulingDisabled", status);
	else
		add_str(c, status);
	json_object_foreach(labels, k, v)
		if (!strncmp(k, "node-role.kubernetes.io/", 24) && k[24])
			peerop__buf_printf(&roles, "%s%s", roles.len ? "," : "", k + 24);
	add_str(c, roles.ptr);
	peerop__buf_dispose(&roles);
	add_age(c, o, "metadata.creationTimestamp", now);
	add_str(c, str(o, "status.nodeInfo.kubeletVersion"));
	node_address(c, o, "InternalIP");
	node_address(c, o, "ExternalIP");
	add_str(c, str(o, "status.nodeInfo.osImage"));
	add_str(c, str(o, "status.nodeInfo.kernelVersion"));
	add_str(c, str(o, "status.nodeInfo.containerRuntimeVersion"));
}

static const col lease_cols[] = { NAME_COL, { "Holder", "string", "", "The holder of the lease", 0 }, AGE_COL, { 0 } };
static void lease_cells(const json_t *o, json_t *c, time_t now)
{
	add_str(c, str(o, "metadata.name"));
	add_str(c, str(o, "spec.holderIdentity"));
	add_age(c, o, "metadata.creationTimestamp", now);
}

/* Roles print like the real server's: NAME, CREATED AT. Bindings: NAME,
 * ROLE (Kind/name), AGE. */
static const col binding_cols[] = { NAME_COL, { "Role", "string", "", "Role of the binding", 0 }, AGE_COL, { 0 } };
static void binding_cells(const json_t *o, json_t *c, time_t now)
{
	const char *kind = str(o, "roleRef.kind"), *name = str(o, "roleRef.name");
	add_str(c, str(o, "metadata.name"));
	json_array_append_new(c, json_sprintf("%s/%s", kind ? kind : "", name ? name : ""));
	add_age(c, o, "metadata.creationTimestamp", now);
}

/* What the real server prints for types without a printer (CRDs). */
static const col default_cols[] = { NAME_COL, { "Created At", "date", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0 }, { 0 } };
static void default_cells(const json_t *o, json_t *c, time_t now)
{
	(void)now;
	add_str(c, str(o, "metadata.name"));
	add_str(c, str(o, "metadata.creationTimestamp"));
}

typedef struct printer {
	const char *group, *plural;
	const col *cols;
	void (*cells)(const json_t *o, json_t *cells, time_t now);
} printer;

static const printer printers[] = {
	{ "", "namespaces", ns_cols, ns_cells },
	{ "", "configmaps", cm_cols, cm_cells },
	{ "", "secrets", secret_cols, secret_cells },
	{ "", "serviceaccounts", sa_cols, sa_cells },
	{ "", "services", svc_cols, svc_cells },
	{ "", "pods", pod_cols, pod_cells },
	{ "", "events", event_cols, event_cells },
	{ "events.k8s.io", "events", event_cols, event_cells },
	{ "apps", "deployments", deploy_cols, deploy_cells },
	{ "apps", "replicasets", rs_cols, rs_cells },
	{ "", "nodes", node_cols, node_cells },
	{ "coordination.k8s.io", "leases", lease_cols, lease_cells },
	{ "rbac.authorization.k8s.io", "rolebindings", binding_cols, binding_cells },
	{ "rbac.authorization.k8s.io", "clusterrolebindings", binding_cols, binding_cells },
};
static const printer fallback = { "", "", default_cols, default_cells };

static const printer *find(const dc_rtype *rt)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(printers); i++)
		if (!strcmp(printers[i].group, rt->group) && !strcmp(printers[i].plural, rt->plural))
			return &printers[i];
	return &fallback;
}

json_t *dc_printer_columns(const dc_rtype *rt)
{
	const col *c;
	json_t *a = json_array();
	for (c = find(rt)->cols; c->name; c++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", c->name, "type", c->type,
			"format", c->format, "description", c->desc, "priority", c->priority));
	return a;
}

json_t *dc_printer_cells(const dc_rtype *rt, const json_t *obj, time_t now)
{
	json_t *cells = json_array();
	find(rt)->cells(obj, cells, now);
	return cells;
}

/* apimachinery's duration.HumanDuration: two or three significant figures. */
void dc_human_duration(char *buf, size_t size, long long secs)
{
	long long m = secs / 60, h = secs / 3600, d = h / 24;
	if (secs < -1)
		snprintf(buf, size, "<invalid>");
	else if (secs < 0)
		snprintf(buf, size, "0s");
	else if (secs < 120)
		snprintf(buf, size, "%llds", secs);
	else if (m < 10)
		secs % 60 ? snprintf(buf, size, "%lldm%llds", m, secs % 60) : snprintf(buf, size, "%lldm", m);
	else if (m < 180)
		snprintf(buf, size, "%lldm", m);
	else if (h < 8)
		m % 60 ? snprintf(buf, size, "%lldh%lldm", h, m % 60) : snprintf(buf, size, "%lldh", h);
	else if (h < 48)
		snprintf(buf, size, "%lldh", h);
	else if (h < 24 * 8)
		h % 24 ? snprintf(buf, size, "%lldd%lldh", d, h % 24) : snprintf(buf, size, "%lldd", d);
	else if (h < 24 * 365 * 2)
		snprintf(buf, size, "%lldd", d);
	else if (h < 24 * 365 * 8)
		d % 365 ? snprintf(buf, size, "%lldy%lldd", d / 365, d % 365) : snprintf(buf, size, "%lldy", d / 365);
	else
		snprintf(buf, size, "%lldy", d / 365);
}

bool dc_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *rest;
	memset(&tm, 0, sizeof(tm));
	if (!s || !(rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return false;
	if (*rest == '.')
		while (*++rest >= '0' && *rest <= '9')
			;
	if (*rest != 'Z' && *rest != 'z')
		return false; /* the server writes UTC; offsets are not expected */
	*out = timegm(&tm);
	return true;
}

void dc_human_age(char *buf, size_t size, const char *ts, time_t now)
{
	time_t t;
	if (!dc_parse_time(ts, &t))
		snprintf(buf, size, "<unknown>");
	else
		dc_human_duration(buf, size, (long long)(now - t));
}
