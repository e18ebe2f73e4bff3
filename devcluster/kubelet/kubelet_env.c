/* kubelet_env.c: what a container runs, by Kubernetes' rules.
 *
 * The image is an executable of this machine (--image IMAGE=PATH), its
 * ENTRYPOINT; images have no CMD. So: no command and no args runs PATH;
 * args alone run PATH ARGS...; a command replaces the entrypoint (PATH is
 * not run), with args appended. A command's program is found in the
 * container's PATH, except that one named like the image's executable
 * (same file name, e.g. "/usr/local/bin/peerop-server" for an image
 * mapped to ".../peerop-server") runs that executable: charts written for
 * a real image's layout work unchanged. $(VAR) in command, args and env
 * values expands to variables defined before it ($$ is a literal $).
 *
 * The environment starts empty, as in a container: PATH, HOSTNAME (the
 * pod's name), KUBERNETES_SERVICE_HOST/PORT (this API server, with --tls),
 * then envFrom, then env (value, or valueFrom: fieldRef, configMapKeyRef,
 * secretKeyRef, resourceFieldRef). */
#include "kubelet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- images ---- */

/* The length of image's name without :tag or @digest. */
static size_t image_name_len(const char *image)
{
	const char *at = strchr(image, '@'), *slash, *colon;
	size_t n = at ? (size_t)(at - image) : strlen(image);
	slash = memrchr(image, '/', n);
	colon = memrchr(slash ? slash : image, ':', n - (size_t)((slash ? slash : image) - image));
	return colon ? (size_t)(colon - image) : n;
}

const char *kl_image_lookup(const char *const *images, const char *image)
{
	const char *const *e;
	size_t n;
	if (!images || !image || !*image)
		return NULL;
	for (e = images; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && (size_t)(eq - *e) == strlen(image) && !strncmp(*e, image, (size_t)(eq - *e)))
			return eq + 1;
	}
	n = image_name_len(image);
	for (e = images; *e; e++) {
		const char *eq = strchr(*e, '=');
		char img[512];
		size_t en;
		if (!eq || (en = (size_t)(eq - *e)) >= sizeof(img))
			continue;
		memcpy(img, *e, en);
		img[en] = '\0';
		/* an entry without tag or digest matches every tag of its name */
		if (image_name_len(img) == en && en == n && !strncmp(img, image, n))
			return eq + 1;
	}
	return NULL;
}

/* ---- environment ---- */

typedef struct envb {
	char **v;
	size_t n, cap, bytes;
	bool too_big;
} envb;

static const char *env_get(char *const *env, const char *name, size_t len)
{
	size_t i;
	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

char *kl_expand(const char *s, char *const *env)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char *p = s;
	while (*p) {
		if (p[0] == '$' && p[1] == '$') {
			peerop__buf_putc(&b, '$');
			p += 2;
		} else if (p[0] == '$' && p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			const char *v = close ? env_get(env, p + 2, (size_t)(close - p - 2)) : NULL;
			if (v && close > p + 2) {
				peerop__buf_puts(&b, v);
				p = close + 1;
			} else {
				peerop__buf_putc(&b, *p++);
			}
		} else {
			peerop__buf_putc(&b, *p++);
		}
	}
	if (!b.ptr)
		peerop__buf_puts(&b, "");
	return peerop__buf_detach(&b);
}

/* Set (replacing) name=value. */
static void env_set(envb *e, const char *name, const char *value)
{
	size_t nl = strlen(name), i;
	char *kv;
	if (asprintf(&kv, "%s=%s", name, value) < 0)
		return;
	e->bytes += strlen(kv) + 1;
	if (e->bytes > KL_MAX_ENV_BYTES)
		e->too_big = true;
	for (i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, nl) && e->v[i][nl] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	if (e->n + 2 > e->cap) {
		size_t ncap = e->cap ? 2 * e->cap : 32;
		char **nv = realloc(e->v, ncap * sizeof(*nv));
		if (!nv) {
			free(kv);
			return;
		}
		e->v = nv;
		e->cap = ncap;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static bool env_name_ok(const char *n)
{
	/* what a process environment can carry: no '=', not empty */
	return n && *n && !strchr(n, '=');
}

char *kl_b64_decode(const char *s, size_t *len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	size_t in = strlen(s);
	unsigned char *out = in < INT_MAX / 2 ? malloc(in / 4 * 3 + 4) : NULL;
	int n = 0, fin = 0, rc = -1;
	if (ctx && out) {
		EVP_DecodeInit(ctx);
		rc = EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)s, (int)in);
		if (rc >= 0)
			rc = EVP_DecodeFinal(ctx, out + n, &fin);
	}
	EVP_ENCODE_CTX_free(ctx);
	if (rc < 0) {
		free(out);
		return NULL;
	}
	out[n + fin] = '\0';
	*len = (size_t)(n + fin);
	return (char *)out;
}

json_t *kl_store_get(dc_server *srv, const char *plural, const char *ns, const char *name)
{
	dc_store *s = srv->store;
	const dc_rtype *rt;
	dc_entry *e;
	json_t *o = NULL;
	pthread_mutex_lock(&s->mu);
	rt = dc_rtype_find(s, "", "v1", plural);
	e = rt && name ? dc_coll_get(rt->coll, ns, name) : NULL;
	if (e)
		o = dc_obj_parse(e->obj);
	pthread_mutex_unlock(&s->mu);
	return o;
}

static int fail(kl_exec *ex, const char *reason, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static int fail(kl_exec *ex, const char *reason, const char *fmt, ...)
{
	va_list ap;
	free(ex->reason);
	free(ex->message);
	ex->reason = strdup(reason);
	va_start(ap, fmt);
	if (vasprintf(&ex->message, fmt, ap) < 0)
		ex->message = NULL;
	va_end(ap);
	return -1;
}

/* A key of a ConfigMap (data, or binaryData) or Secret (decoded); malloc'd. */
static char *source_value(const json_t *obj, bool secret, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), key));
	size_t len;
	if (!secret) {
		if (v)
			return strdup(v);
		v = json_string_value(json_object_get(json_object_get(obj, "binaryData"), key));
		return v ? kl_b64_decode(v, &len) : NULL;
	}
	if (v)
		return kl_b64_decode(v, &len);
	v = json_string_value(json_object_get(json_object_get(obj, "stringData"), key));
	return v ? strdup(v) : NULL;
}

static const char *field_value(const json_t *pod, const char *path, const char *ip, const char *node, char *buf,
	size_t size)
{
	if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
		return ip;
	if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
		return "127.0.0.1";
	if (!strcmp(path, "spec.nodeName"))
		return node;
	if (!strcmp(path, "spec.serviceAccountName")) {
		const char *sa = dc_json_str(pod, "spec.serviceAccountName");
		return sa ? sa : "default";
	}
	if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") || !strcmp(path, "metadata.uid"))
		return dc_json_str(pod, path);
	if (!strncmp(path, "metadata.labels['", 17) || !strncmp(path, "metadata.annotations['", 22)) {
		bool labels = path[9] == 'l';
		const char *k = path + (labels ? 17 : 22);
		size_t n = strlen(k);
		if (n < 2 || strcmp(k + n - 2, "']") || n - 2 >= size)
			return NULL;
		memcpy(buf, k, n - 2);
		buf[n - 2] = '\0';
		return labels ? dc_label(pod, buf) : dc_annotation(pod, buf);
	}
	return NULL;
}

static int add_env_from(kl_exec *ex, envb *e, dc_server *srv, const json_t *pod, const json_t *ctr)
{
	const char *ns = dc_json_str(pod, "metadata.namespace");
	json_t *src;
	size_t i;
	json_array_foreach(json_object_get(ctr, "envFrom"), i, src) {
		const json_t *ref = json_object_get(src, "configMapRef");
		bool secret = !ref;
		const char *prefix = json_string_value(json_object_get(src, "prefix")), *k, *name;
		json_t *obj, *data, *v;
		if (!ref)
			ref = json_object_get(src, "secretRef");
		name = json_string_value(json_object_get(ref, "name"));
		if (!ref || !name)
			continue;
		obj = kl_store_get(srv, secret ? "secrets" : "configmaps", ns, name);
		if (!obj) {
			if (json_is_true(json_object_get(ref, "optional")))
				continue;
			return fail(ex, "CreateContainerConfigError", "%s \"%s\" not found", secret ? "secret" : "configmap",
				name);
		}
		data = json_object_get(obj, "data");
		json_object_foreach(data, k, v) {
			char *val = source_value(obj, secret, k), *full = NULL;
			if (val && asprintf(&full, "%s%s", prefix ? prefix : "", k) >= 0 && env_name_ok(full))
				env_set(e, full, val);
			free(full);
			free(val);
		}
		json_decref(obj);
	}
	return 0;
}

static int add_env(kl_exec *ex, envb *e, dc_server *srv, const json_t *pod, const json_t *ctr, const char *ip,
	const char *node)
{
	const char *ns = dc_json_str(pod, "metadata.namespace");
	json_t *ev;
	size_t i;
	json_array_foreach(json_object_get(ctr, "env"), i, ev) {
		const char *name = json_string_value(json_object_get(ev, "name"));
		const json_t *from = json_object_get(ev, "valueFrom"), *ref;
		char *val = NULL, buf[256];
		if (!env_name_ok(name))
			return fail(ex, "CreateContainerConfigError", "env[%zu]: invalid name", i);
		if (!from) {
			const char *v = json_string_value(json_object_get(ev, "value"));
			val = kl_expand(v ? v : "", e->v);
		} else if ((ref = json_object_get(from, "fieldRef"))) {
			const char *path = json_string_value(json_object_get(ref, "fieldPath"));
			const char *v = path ? field_value(pod, path, ip, node, buf, sizeof(buf)) : NULL;
			if (!v && path && strncmp(path, "metadata.labels[", 16) && strncmp(path, "metadata.annotations[", 21))
				return fail(ex, "CreateContainerConfigError", "env %s: unsupported fieldPath \"%s\"", name, path);
			val = strdup(v ? v : "");
		} else if ((ref = json_object_get(from, "resourceFieldRef"))) {
			/* limits are not enforced: report what the spec says, else 0 */
			const char *res = json_string_value(json_object_get(ref, "resource"));
			const char *v = NULL;
			if (res && !strncmp(res, "limits.", 7))
				v = json_string_value(json_object_get(dc_json_path(ctr, "resources.limits"), res + 7));
			else if (res && !strncmp(res, "requests.", 9))
				v = json_string_value(json_object_get(dc_json_path(ctr, "resources.requests"), res + 9));
			val = strdup(v ? v : "0");
		} else {
			bool secret = (ref = json_object_get(from, "configMapKeyRef")) == NULL;
			const char *cname, *key;
			json_t *obj;
			if (secret)
				ref = json_object_get(from, "secretKeyRef");
			cname = json_string_value(json_object_get(ref, "name"));
			key = json_string_value(json_object_get(ref, "key"));
			if (!ref || !cname || !key)
				return fail(ex, "CreateContainerConfigError", "env %s: an unsupported valueFrom", name);
			obj = kl_store_get(srv, secret ? "secrets" : "configmaps", ns, cname);
			if (!obj) {
				if (json_is_true(json_object_get(ref, "optional")))
					continue;
				return fail(ex, "CreateContainerConfigError", "%s \"%s\" not found", secret ? "secret" : "configmap",
					cname);
			}
			val = source_value(obj, secret, key);
			json_decref(obj);
			if (!val) {
				if (json_is_true(json_object_get(ref, "optional")))
					continue;
				return fail(ex, "CreateContainerConfigError", "couldn't find key %s in %s %s/%s", key,
					secret ? "Secret" : "ConfigMap", ns, cname);
			}
		}
		if (val)
			env_set(e, name, val);
		free(val);
	}
	return 0;
}

/* argv[0]: a path, the image's executable (same file name), or found in PATH. */
static char *resolve_program(const char *cmd, const char *image_path, char *const *env)
{
	const char *base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	const char *ibase = strrchr(image_path, '/') ? strrchr(image_path, '/') + 1 : image_path;
	const char *path, *p;
	if (*base && !strcmp(base, ibase))
		return strdup(image_path);
	if (strchr(cmd, '/') || !*cmd)
		return strdup(cmd);
	path = env_get(env, "PATH", 4);
	for (p = path ? path : DEFAULT_PATH; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		char *full = NULL;
		if (n && asprintf(&full, "%.*s/%s", (int)n, p, cmd) >= 0) {
			if (access(full, X_OK) == 0)
				return full;
			free(full);
		}
		p = colon ? colon + 1 : NULL;
	}
	return strdup(cmd);   /* exec fails: "executable file not found" */
}

static void argv_push(char ***v, size_t *n, size_t *bytes, char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!nv || !s) {
		free(s);
		return;
	}
	*v = nv;
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	*bytes += strlen(s) + 1;
}

int kl_exec_build(kl_exec *ex, const dc_kubelet *k, const json_t *pod, const json_t *ctr, const char *ip)
{
	dc_server *srv = k->srv;
	const char *node = k->node;
	const char *image = json_string_value(json_object_get(ctr, "image"));
	const char *wd = json_string_value(json_object_get(ctr, "workingDir"));
	const json_t *cmd = json_object_get(ctr, "command"), *args = json_object_get(ctr, "args"), *v;
	const char *path = kl_image_lookup(k->images, image);
	envb e = { NULL, 0, 0, 0, false };
	size_t i, n = 0, bytes = 0;
	char port[16];

	memset(ex, 0, sizeof(*ex));
	if (!path)
		return fail(ex, "ErrImagePull", "Failed to pull image \"%s\": the image is not mapped to an executable "
			"(peerop-devcluster --image %s=/path/to/program)", image ? image : "", image ? image : "IMAGE");
	if (access(path, X_OK) != 0)
		return fail(ex, "ErrImagePull", "Failed to pull image \"%s\": it maps to %s, which is not an executable "
			"file", image, path);
	ex->image_path = strdup(path);
	env_set(&e, "PATH", DEFAULT_PATH);
	env_set(&e, "HOSTNAME", dc_json_str(pod, "metadata.name") ? dc_json_str(pod, "metadata.name") : "");
	if (srv->opts.tls) {
		snprintf(port, sizeof(port), "%u", dc_server_port(srv));
		env_set(&e, "KUBERNETES_SERVICE_HOST", "127.0.0.1");
		env_set(&e, "KUBERNETES_SERVICE_PORT", port);
		env_set(&e, "KUBERNETES_SERVICE_PORT_HTTPS", port);
	}
	if (add_env_from(ex, &e, srv, pod, ctr) != 0 || add_env(ex, &e, srv, pod, ctr, ip, node) != 0)
		goto bad;
	if (e.too_big || !e.v) {
		fail(ex, "CreateContainerConfigError", "the environment is larger than %u bytes", KL_MAX_ENV_BYTES);
		goto bad;
	}
	ex->envp = e.v;
	e.v = NULL;
	if (json_array_size(cmd)) {
		json_array_foreach(cmd, i, v)
			argv_push(&ex->argv, &n, &bytes, kl_expand(json_string_value(v) ? json_string_value(v) : "", ex->envp));
		if (n) {
			char *prog = resolve_program(ex->argv[0], path, ex->envp);
			if (prog) {
				free(ex->argv[0]);
				ex->argv[0] = prog;
			}
		}
	} else {
		argv_push(&ex->argv, &n, &bytes, strdup(path));
	}
	json_array_foreach(args, i, v)
		argv_push(&ex->argv, &n, &bytes, kl_expand(json_string_value(v) ? json_string_value(v) : "", ex->envp));
	if (!ex->argv || !ex->argv[0] || !*ex->argv[0]) {
		fail(ex, "CreateContainerError", "the container has an empty command");
		goto bad;
	}
	if (bytes > KL_MAX_ARGS_BYTES) {
		fail(ex, "CreateContainerError", "the command line is larger than %u bytes", KL_MAX_ARGS_BYTES);
		goto bad;
	}
	if (wd && *wd) {
		if (wd[0] != '/') {
			fail(ex, "CreateContainerError", "workingDir \"%s\" is not an absolute path", wd);
			goto bad;
		}
		ex->workdir = strdup(wd);
	}
	return 0;
bad:
	for (i = 0; e.v && i < e.n; i++)
		free(e.v[i]);
	free(e.v);
	{
		char *reason = ex->reason, *message = ex->message;
		ex->reason = ex->message = NULL;
		kl_exec_dispose(ex);
		ex->reason = reason;
		ex->message = message;
	}
	return -1;
}

void kl_exec_dispose(kl_exec *ex)
{
	size_t i;
	for (i = 0; ex->argv && ex->argv[i]; i++)
		free(ex->argv[i]);
	for (i = 0; ex->envp && ex->envp[i]; i++)
		free(ex->envp[i]);
	free(ex->argv);
	free(ex->envp);
	free(ex->workdir);
	free(ex->image_path);
	free(ex->reason);
	free(ex->message);
	memset(ex, 0, sizeof(*ex));
}
