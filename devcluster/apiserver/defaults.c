/* defaults.c: what the real server does to a built-in object when it
 * decodes a write, before admission: the defaulting of pod specs (in Pods
 * and in the pod templates of workloads; k8s.io/kubernetes
 * pkg/apis/core/v1/defaults.go), what the Pod admission plugins add at
 * creation (priority, default tolerations), and a Secret's stringData
 * merged into data.
 *
 * It runs as the built-in types' admit hook (dc_rtype.admit) on create,
 * update, patch and apply, so a field removed by an update comes back as it
 * does on a real server; status writes are left alone. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static void dflt(json_t *o, const char *key, json_t *v)
{
	if (json_is_object(o) && !json_object_get(o, key))
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

/* An object member, created empty when absent (NULL if o is no object or
 * the member is something else). */
static json_t *member_obj(json_t *o, const char *key)
{
	json_t *v;
	if (!json_is_object(o))
		return NULL;
	v = json_object_get(o, key);
	if (!v) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return json_is_object(v) ? v : NULL;
}

/* "Always" for :latest or no tag, "IfNotPresent" for another tag or a
 * digest (SetDefaults_Container). */
static const char *pull_policy(const char *image)
{
	const char *slash, *colon;
	if (strchr(image, '@'))
		return "IfNotPresent";
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	if (!colon || !strcmp(colon + 1, "latest"))
		return "Always";
	return "IfNotPresent";
}

static void probe_defaults(json_t *p)
{
	json_t *h;
	if (!json_is_object(p))
		return;
	dflt(p, "timeoutSeconds", json_integer(1));
	dflt(p, "periodSeconds", json_integer(10));
	dflt(p, "successThreshold", json_integer(1));
	dflt(p, "failureThreshold", json_integer(3));
	h = json_object_get(p, "httpGet");
	if (json_is_object(h)) {
		dflt(h, "path", json_string("/"));
		dflt(h, "scheme", json_string("HTTP"));
	}
}

static void env_defaults(json_t *env)
{
	json_t *e, *fr;
	size_t i;
	json_array_foreach(env, i, e) {
		fr = json_object_get(json_object_get(e, "valueFrom"), "fieldRef");
		dflt(fr, "apiVersion", json_string("v1"));
	}
}

static void container_defaults(json_t *c, bool host_network)
{
	json_t *ports, *p;
	const char *image;
	size_t i;
	if (!json_is_object(c))
		return;
	image = json_string_value(json_object_get(c, "image"));
	if (image && *image)
		dflt(c, "imagePullPolicy", json_string(pull_policy(image)));
	dflt(c, "terminationMessagePath", json_string("/dev/termination-log"));
	dflt(c, "terminationMessagePolicy", json_string("File"));
	/* a struct, not a pointer, in the Go type: always written */
	dflt(c, "resources", json_object());
	ports = json_object_get(c, "ports");
	json_array_foreach(ports, i, p) {
		dflt(p, "protocol", json_string("TCP"));
		if (host_network && json_object_get(p, "containerPort"))
			dflt(p, "hostPort", json_incref(json_object_get(p, "containerPort")));
	}
	env_defaults(json_object_get(c, "env"));
	probe_defaults(json_object_get(c, "livenessProbe"));
	probe_defaults(json_object_get(c, "readinessProbe"));
	probe_defaults(json_object_get(c, "startupProbe"));
}

static void items_mode(json_t *src)
{
	dflt(src, "defaultMode", json_integer(0644));
}

static void volume_defaults(json_t *v)
{
	static const char *const sources[] = { "hostPath", "emptyDir", "configMap", "secret", "projected",
		"downwardAPI", "persistentVolumeClaim", "nfs", "csi", "ephemeral", "iscsi", "image" };
	json_t *s, *src;
	size_t i;
	bool any = false;
	if (!json_is_object(v))
		return;
	for (i = 0; i < PEEROP__ARRAY_SIZE(sources); i++)
		if (json_object_get(v, sources[i]))
			any = true;
	/* SetDefaults_Volume: a volume without a source is an emptyDir */
	if (!any && json_object_size(v) <= 1)
		json_object_set_new(v, "emptyDir", json_object());
	items_mode(json_object_get(v, "configMap"));
	items_mode(json_object_get(v, "secret"));
	items_mode(json_object_get(v, "downwardAPI"));
	if ((s = json_object_get(v, "hostPath")))
		dflt(s, "type", json_string(""));
	if ((s = json_object_get(v, "projected"))) {
		items_mode(s);
		json_array_foreach(json_object_get(s, "sources"), i, src) {
			json_t *t = json_object_get(src, "serviceAccountToken");
			dflt(t, "expirationSeconds", json_integer(3600));
		}
	}
}

void dc_podspec_defaults(json_t *spec)
{
	json_t *c;
	size_t i;
	bool hn;
	if (!json_is_object(spec))
		return;
	hn = json_is_true(json_object_get(spec, "hostNetwork"));
	dflt(spec, "restartPolicy", json_string("Always"));
	dflt(spec, "dnsPolicy", json_string("ClusterFirst"));
	dflt(spec, "terminationGracePeriodSeconds", json_integer(30));
	dflt(spec, "schedulerName", json_string("default-scheduler"));
	dflt(spec, "securityContext", json_object());
	dflt(spec, "enableServiceLinks", json_true());
	json_array_foreach(json_object_get(spec, "containers"), i, c)
		container_defaults(c, hn);
	json_array_foreach(json_object_get(spec, "initContainers"), i, c)
		container_defaults(c, hn);
	json_array_foreach(json_object_get(spec, "volumes"), i, c)
		volume_defaults(c);
}

/* SetDefaults_Pod: requests default to the limits; then what the
 * ServiceAccount, Priority and DefaultTolerationSeconds admission plugins
 * add to a new pod. */
static void pod_create_defaults(json_t *pod)
{
	json_t *spec = json_object_get(pod, "spec"), *c, *tol, *t;
	const char *sa;
	size_t i;
	static const char *const taints[] = { "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable" };
	json_array_foreach(json_object_get(spec, "containers"), i, c) {
		json_t *res = json_object_get(c, "resources"), *lim = json_object_get(res, "limits"), *req;
		const char *k;
		json_t *v;
		if (!json_is_object(lim))
			continue;
		req = member_obj(res, "requests");
		json_object_foreach(lim, k, v)
			dflt(req, k, json_incref(v));
	}
	sa = json_string_value(json_object_get(spec, "serviceAccountName"));
	if (!sa || !*sa)
		sa = json_string_value(json_object_get(spec, "serviceAccount"));
	if (!sa || !*sa)
		sa = "default";
	{
		/* sa may be the very string replaced below */
		json_t *name = json_string(sa);
		json_object_set(spec, "serviceAccountName", name);
		json_object_set_new(spec, "serviceAccount", name);
	}
	dflt(spec, "priority", json_integer(0));
	dflt(spec, "preemptionPolicy", json_string("PreemptLowerPriority"));
	tol = json_object_get(spec, "tolerations");
	if (!tol) {
		tol = json_array();
		json_object_set_new(spec, "tolerations", tol);
	}
	if (!json_is_array(tol))
		return;
	for (i = 0; i < PEEROP__ARRAY_SIZE(taints); i++) {
		size_t j;
		bool have = false;
		json_array_foreach(tol, j, t) {
			const char *k = json_string_value(json_object_get(t, "key"));
			const char *e = json_string_value(json_object_get(t, "effect"));
			if (k && !strcmp(k, taints[i]) && (!e || !*e || !strcmp(e, "NoExecute")))
				have = true;
		}
		if (!have)
			json_array_append_new(tol, json_pack("{s:s,s:s,s:s,s:I}", "key", taints[i],
				"operator", "Exists", "effect", "NoExecute", "tolerationSeconds", (json_int_t)300));
	}
}

/* Secret.stringData is write-only: merged into data (base64), winning over
 * a data key of the same name, and not stored. */
static json_t *secret_string_data(const dc_rtype *rt, json_t *o)
{
	json_t *sd = json_object_get(o, "stringData"), *data, *v;
	const char *k;
	if (!sd || json_is_null(sd)) {
		json_object_del(o, "stringData");
		return NULL;
	}
	if (!json_is_object(sd))
		return dc_status(400, "BadRequest", "Secret in version \"v1\" cannot be handled as a Secret: "
			"json: cannot unmarshal into Go struct field Secret.stringData of type map[string]string",
			NULL, rt->group, rt->kind);
	json_object_foreach(sd, k, v)
		if (!json_is_string(v)) {
			char msg[512];
			snprintf(msg, sizeof(msg), "Secret in version \"v1\" cannot be handled as a Secret: "
				"json: cannot unmarshal %s into Go struct field Secret.stringData of type string",
				json_is_number(v) ? "number" : json_is_boolean(v) ? "bool" : json_is_array(v) ? "array" :
				json_is_null(v) ? "null" : "object");
			return dc_status(400, "BadRequest", msg, NULL, rt->group, rt->kind);
		}
	data = json_object_get(o, "data");
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(o, "data", data);
	}
	json_object_foreach(sd, k, v) {
		size_t n = json_string_length(v);
		char *b64 = malloc(4 * ((n + 2) / 3) + 1);
		if (!b64)
			return dc_status(500, "InternalError", "out of memory", NULL, NULL, NULL);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)json_string_value(v), (int)n);
		json_object_set_new(data, k, json_string(b64));
		free(b64);
	}
	json_object_del(o, "stringData");
	return NULL;
}

static json_t *builtin_admit(const dc_rtype *rt, json_t *obj, const json_t *old, unsigned flags)
{
	if (flags & DC_ADMIT_STATUS)
		return NULL;
	if (!rt->group[0] && !strcmp(rt->plural, "secrets"))
		return secret_string_data(rt, obj);
	if (!rt->group[0] && !strcmp(rt->plural, "pods")) {
		dc_podspec_defaults(json_object_get(obj, "spec"));
		if (!old)
			pod_create_defaults(obj);
		return NULL;
	}
	if (!strcmp(rt->group, "apps"))
		dc_podspec_defaults(dc_json_path(obj, "spec.template.spec"));
	return NULL;
}

dc_admit_fn dc_builtin_admit_for(const char *group, const char *plural)
{
	if (!group[0] && (!strcmp(plural, "secrets") || !strcmp(plural, "pods")))
		return builtin_admit;
	if (!strcmp(group, "apps"))
		return builtin_admit;
	return NULL;
}
