/*
 * kube_kubeconfig.c: loading and merging kubeconfig files.
 *
 * Merging follows kubectl (client-go's loading rules): files are read in
 * order; for each named cluster, user and context the first file that
 * defines it wins; current-context comes from the first file that sets it.
 * Missing files in a list are skipped; relative paths in a file are
 * resolved against that file's directory.
 */
#include "kube_internal.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

typedef struct merged {
	json_t *clusters;  /* name -> { "v": entry, "file": path, "dir": dir } */
	json_t *users;
	json_t *contexts;
	char *current;     /* current-context */
	char *current_file;
	peerop__buf files; /* "a, b" for messages */
	json_t *strings;   /* every string read (tokens, keys among them): wiped at the end */
} merged;

/* A string field: NULL when absent or null; ECONFIG when of another type. */
static int get_str(const char **out, const json_t *obj, const char *key, const char *where)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return peerop__error_set(PEEROP_ECONFIG, "%s.%s: expected a string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* YAML 1.1 booleans, as kubectl's YAML reader accepts them. */
static int get_bool(int *out, const json_t *obj, const char *key, const char *where)
{
	const char *s;
	int rc = get_str(&s, obj, key, where);
	*out = 0;
	if (rc < 0 || !s)
		return rc;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "y"))
		*out = 1;
	else if (strcasecmp(s, "false") && strcasecmp(s, "no") && strcasecmp(s, "off") && strcmp(s, "n"))
		return peerop__error_set(PEEROP_ECONFIG, "%s.%s: expected true or false, not \"%.40s\"", where, key, s);
	return 0;
}

static int merge_list(merged *m, const json_t *root, const char *list, const char *inner,
	json_t *into, const char *file, const char *dir)
{
	const json_t *arr = json_object_get(root, list);
	size_t i;
	const json_t *item;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return peerop__error_set(PEEROP_ECONFIG, "kubeconfig %s: %s: expected a list", file, list);
	json_array_foreach(arr, i, item) {
		const json_t *name = json_object_get(item, "name");
		const json_t *v = json_object_get(item, inner);
		json_t *rec;
		if (!json_is_object(item) || !json_is_string(name) || json_string_length(name) == 0)
			return peerop__error_set(PEEROP_ECONFIG, "kubeconfig %s: %s[%zu]: missing name", file, list, i);
		if (v && !json_is_null(v) && !json_is_object(v))
			return peerop__error_set(PEEROP_ECONFIG, "kubeconfig %s: %s[%zu].%s: expected a mapping",
				file, list, i, inner);
		if (json_object_get(into, json_string_value(name)))
			continue; /* an earlier file (or entry) defined it: first wins */
		rec = json_pack("{s:O?,s:s,s:s}", "v", v, "file", file, "dir", dir);
		if (!rec || json_object_set_new(into, json_string_value(name), rec))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	(void)m;
	return 0;
}

/* Merge one file's text; name is its path (relative paths resolve
 * against its directory). */
static int merge_text(merged *m, const char *data, size_t len, const char *path)
{
	char *dcopy = NULL;
	json_t *root = NULL;
	const char *cur = NULL;
	int rc;

	if (!m->strings && !(m->strings = json_array()))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	rc = peerop__yaml_to_json_ex(&root, m->strings, data, len, path);
	if (rc < 0) {
		peerop__error_prefix("kubeconfig ");
		return rc;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return peerop__error_set(PEEROP_ESYNTAX, "kubeconfig %s:1:1: expected a mapping at the top", path);
	}
	dcopy = strdup(path);
	if (!dcopy) {
		json_decref(root);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	{
		const char *dir = dirname(dcopy);
		rc = merge_list(m, root, "clusters", "cluster", m->clusters, path, dir);
		if (rc == 0)
			rc = merge_list(m, root, "users", "user", m->users, path, dir);
		if (rc == 0)
			rc = merge_list(m, root, "contexts", "context", m->contexts, path, dir);
	}
	if (rc == 0) {
		char where[1100];
		snprintf(where, sizeof(where), "kubeconfig %s", path);
		rc = get_str(&cur, root, "current-context", where);
		if (rc == 0 && cur && *cur && !m->current) {
			m->current = strdup(cur);
			m->current_file = strdup(path);
			if (!m->current || !m->current_file)
				rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		}
	}
	free(dcopy);
	json_decref(root);
	return rc;
}

static int merge_file(merged *m, const char *path, size_t limit, int *found)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	rc = peerop__read_file(&data, &len, path, limit);
	if (rc == PEEROP_ENOENT) {
		peerop_error_clear();
		return 0;
	}
	if (rc < 0) {
		peerop__error_prefix("kubeconfig ");
		return rc;
	}
	*found = 1;
	rc = merge_text(m, data, len, path);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* The client certificate and key, from inline data or files. */
static int load_client_cert(peerop_kube_config *cfg, const json_t *u, const char *dir, const char *where)
{
	const char *cd, *cf, *kd, *kf;
	char field[1300];
	char *path;
	int rc;

	if ((rc = get_str(&cd, u, "client-certificate-data", where)) < 0 ||
	    (rc = get_str(&cf, u, "client-certificate", where)) < 0 ||
	    (rc = get_str(&kd, u, "client-key-data", where)) < 0 ||
	    (rc = get_str(&kf, u, "client-key", where)) < 0)
		return rc;
	if (!cd && !cf && !kd && !kf)
		return 0;
	if ((!cd && !cf) || (!kd && !kf))
		return peerop__error_set(PEEROP_ECONFIG, "%s: a client certificate needs both %s",
			where, "client-certificate(-data) and client-key(-data)");
	if (cd) {
		snprintf(field, sizeof(field), "%s.client-certificate-data", where);
		if (peerop__kube_base64_decode(&cfg->cert, cd) < 0)
			return peerop__error_set(PEEROP_ECERT, "%s: not base64", field);
		if ((rc = peerop__kube_pem_check(&cfg->cert, 0, field)) < 0)
			return rc;
	} else {
		snprintf(field, sizeof(field), "%s.client-certificate", where);
		if (!(path = peerop__kube_resolve_path(dir, cf)))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		rc = peerop__kube_read_pem(&cfg->cert, path, 0, cfg->max_file_size, field);
		free(path);
		if (rc < 0)
			return rc;
	}
	/* Key material: messages name the field, never the content. */
	if (kd) {
		snprintf(field, sizeof(field), "%s.client-key-data", where);
		if (peerop__kube_base64_decode(&cfg->key, kd) < 0)
			return peerop__error_set(PEEROP_ECERT, "%s: not base64", field);
		return peerop__kube_pem_check(&cfg->key, 1, field);
	}
	snprintf(field, sizeof(field), "%s.client-key", where);
	if (!(path = peerop__kube_resolve_path(dir, kf)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	rc = peerop__kube_read_pem(&cfg->key, path, 1, cfg->max_file_size, field);
	free(path);
	return rc;
}

static int load_cluster(peerop_kube_config *cfg, const json_t *rec, const char *name)
{
	const json_t *c = json_object_get(rec, "v");
	const char *file = json_string_value(json_object_get(rec, "file"));
	const char *dir = json_string_value(json_object_get(rec, "dir"));
	const char *server, *cad, *caf, *sni, *proxy;
	char where[1200], field[1300];
	size_t n;
	int rc;

	snprintf(where, sizeof(where), "kubeconfig %s: clusters[\"%.200s\"]", file, name);
	if ((rc = get_str(&server, c, "server", where)) < 0 ||
	    (rc = get_str(&cad, c, "certificate-authority-data", where)) < 0 ||
	    (rc = get_str(&caf, c, "certificate-authority", where)) < 0 ||
	    (rc = get_str(&sni, c, "tls-server-name", where)) < 0 ||
	    (rc = get_str(&proxy, c, "proxy-url", where)) < 0 ||
	    (rc = get_bool(&cfg->insecure, c, "insecure-skip-tls-verify", where)) < 0)
		return rc;
	if (!server || !*server)
		return peerop__error_set(PEEROP_ECONFIG, "%s.server: missing", where);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return peerop__error_set(PEEROP_ECONFIG, "%s.server: \"%.200s\" is not an http(s) URL", where, server);
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (!(cfg->server = peerop__strndup(server, n)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (cfg->insecure && (cad || caf))
		return peerop__error_set(PEEROP_ECONFIG, "%s: insecure-skip-tls-verify %s", where,
			"cannot be combined with a certificate-authority");
	if (sni && *sni) {
		if (strpbrk(sni, ":/[]@ "))
			return peerop__error_set(PEEROP_ECONFIG, "%s.tls-server-name: \"%.100s\" is not a host name", where, sni);
		if (!(cfg->tls_server_name = strdup(sni)))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	if (proxy && *proxy) {
		if (strncmp(proxy, "http://", 7) && strncmp(proxy, "https://", 8) &&
		    strncmp(proxy, "socks5://", 9) && strncmp(proxy, "socks5h://", 10))
			return peerop__error_set(PEEROP_ECONFIG, "%s.proxy-url: \"%.100s\" is not an http, https or socks5 URL",
				where, proxy);
		if (!(cfg->proxy_url = strdup(proxy)))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	if (cad) {
		snprintf(field, sizeof(field), "%s.certificate-authority-data", where);
		if (peerop__kube_base64_decode(&cfg->ca, cad) < 0)
			return peerop__error_set(PEEROP_ECERT, "%s: not base64", field);
		return peerop__kube_pem_check(&cfg->ca, 0, field);
	}
	if (caf) {
		char *path = peerop__kube_resolve_path(dir, caf);
		if (!path)
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		snprintf(field, sizeof(field), "%s.certificate-authority", where);
		rc = peerop__kube_read_pem(&cfg->ca, path, 0, cfg->max_file_size, field);
		free(path);
		return rc;
	}
	return 0;
}

static int load_user(peerop_kube_config *cfg, const json_t *rec, const char *name)
{
	const json_t *u = json_object_get(rec, "v");
	const char *file = json_string_value(json_object_get(rec, "file"));
	const char *dir = json_string_value(json_object_get(rec, "dir"));
	const json_t *exec = json_object_get(u, "exec");
	const char *token, *token_file;
	char where[1200], field[1300];
	int rc;

	snprintf(where, sizeof(where), "kubeconfig %s: users[\"%.200s\"]", file, name);
	if ((rc = load_client_cert(cfg, u, dir, where)) < 0)
		return rc;
	if (json_object_get(u, "auth-provider") && !json_is_null(json_object_get(u, "auth-provider")))
		return peerop__error_set(PEEROP_EUNSUPPORTED, "%s.auth-provider: not supported (use an exec plugin)", where);
	if ((json_object_get(u, "username") && !json_is_null(json_object_get(u, "username"))) ||
	    (json_object_get(u, "password") && !json_is_null(json_object_get(u, "password"))))
		return peerop__error_set(PEEROP_EUNSUPPORTED, "%s: basic authentication (username/password) is not supported", where);
	if ((rc = get_str(&token, u, "token", where)) < 0 ||
	    (rc = get_str(&token_file, u, "tokenFile", where)) < 0)
		return rc;

	if (exec && !json_is_null(exec)) {
		snprintf(field, sizeof(field), "%s.exec", where);
		if ((rc = peerop__kube_exec_parse(&cfg->exec, exec, dir, field)) < 0)
			return rc;
		cfg->auth = PEEROP__KUBE_AUTH_EXEC;
		return 0;
	}
	if (token && peerop__kube_token_bad(token))
		return peerop__error_set(PEEROP_ECONFIG, "%s.token: holds a control character", where);
	if (token && *token && !(cfg->token = strdup(token)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (token_file && *token_file) {
		/* client-go: the file, re-read periodically, wins over an inline token
		 * once read; an inline token covers a file that cannot be read. */
		char *t = NULL;
		if (!(cfg->token_file = peerop__kube_resolve_path(dir, token_file)))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		rc = peerop__kube_read_token(&t, cfg->token_file, cfg->max_file_size);
		if (rc < 0 && !cfg->token) {
			peerop__error_prefix("%s.tokenFile: ", where);
			return rc;
		}
		if (rc == 0) {
			peerop__secret_free(cfg->token);
			cfg->token = t;
		}
		peerop_error_clear();
		cfg->auth = PEEROP__KUBE_AUTH_TOKEN_FILE;
		cfg->token_read_ms = peerop__now_ms();
		return 0;
	}
	if (cfg->token)
		cfg->auth = PEEROP__KUBE_AUTH_TOKEN;
	return 0;
}

/* What an exec plugin with provideClusterInfo gets (client.authentication.k8s.io Cluster). */
static int make_cluster_info(peerop_kube_config *cfg)
{
	json_t *ci = json_pack("{s:s,s:b}", "server", cfg->server, "insecure-skip-tls-verify", cfg->insecure);
	if (!ci)
		return PEEROP_ENOMEM;
	if (cfg->ca.data) {
		size_t cap = (cfg->ca.len + 2) / 3 * 4 + 1;
		char *b64 = malloc(cap);
		if (!b64) {
			json_decref(ci);
			return PEEROP_ENOMEM;
		}
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cfg->ca.data, (int)cfg->ca.len);
		json_object_set_new(ci, "certificate-authority-data", json_string(b64));
		free(b64);
	}
	if (cfg->tls_server_name)
		json_object_set_new(ci, "tls-server-name", json_string(cfg->tls_server_name));
	if (cfg->proxy_url)
		json_object_set_new(ci, "proxy-url", json_string(cfg->proxy_url));
	cfg->exec_cluster_info = ci;
	return 0;
}

static int build(peerop_kube_config *cfg, merged *m, const peerop_kube_config_options *opts)
{
	const char *ctx_name = opts && opts->context && *opts->context ? opts->context : m->current;
	const json_t *crec, *ctx, *clrec, *urec;
	const char *cluster, *user, *ns, *cfile;
	char where[1200];
	int rc;

	if (!ctx_name)
		return peerop__error_set(PEEROP_ENOCONTEXT, "kubeconfig %s: no current-context is set and no context was given",
			m->files.ptr);
	crec = json_object_get(m->contexts, ctx_name);
	if (!crec)
		return peerop__error_set(PEEROP_ENOCONTEXT, "kubeconfig %s: context \"%.200s\" is not defined",
			m->files.ptr, ctx_name);
	ctx = json_object_get(crec, "v");
	cfile = json_string_value(json_object_get(crec, "file"));
	snprintf(where, sizeof(where), "kubeconfig %s: contexts[\"%.200s\"]", cfile, ctx_name);
	if ((rc = get_str(&cluster, ctx, "cluster", where)) < 0 ||
	    (rc = get_str(&user, ctx, "user", where)) < 0 ||
	    (rc = get_str(&ns, ctx, "namespace", where)) < 0)
		return rc;
	if (!cluster || !*cluster)
		return peerop__error_set(PEEROP_ECONFIG, "%s.cluster: missing", where);
	if (!(clrec = json_object_get(m->clusters, cluster)))
		return peerop__error_set(PEEROP_ENOCONTEXT, "%s: cluster \"%.200s\" is not defined", where, cluster);
	if (!(cfg->context = strdup(ctx_name)))
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if ((rc = load_cluster(cfg, clrec, cluster)) < 0)
		return rc;
	if (user && *user) {
		if (!(urec = json_object_get(m->users, user)))
			return peerop__error_set(PEEROP_ENOCONTEXT, "%s: user \"%.200s\" is not defined", where, user);
		if ((rc = load_user(cfg, urec, user)) < 0)
			return rc;
	}
	if (opts && opts->ns && *opts->ns)
		ns = opts->ns;
	cfg->ns = strdup(ns && *ns ? ns : "default");
	if (!cfg->ns)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (cfg->auth == PEEROP__KUBE_AUTH_EXEC && cfg->exec.provide_cluster_info && make_cluster_info(cfg) < 0)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	return 0;
}

static int finish(peerop_kube_config **out, merged *m, const peerop_kube_config_options *opts);

static void merged_dispose(merged *m)
{
	json_decref(m->clusters);
	json_decref(m->users);
	json_decref(m->contexts);
	free(m->current);
	free(m->current_file);
	peerop__buf_dispose(&m->files);
	peerop__json_strings_wipe(m->strings);
	json_decref(m->strings);
}

PEEROP_EXTERN(int) peerop_kube_config_load(peerop_kube_config **out, const peerop_kube_config_options *opts)
{
	const char *list = opts && opts->kubeconfig && *opts->kubeconfig ? opts->kubeconfig : getenv("KUBECONFIG");
	char *copy = NULL, *home_path = NULL, *tok, *save = NULL;
	merged m;
	int rc = 0, found = 0;

	if (!out)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_load: out is NULL");
	*out = NULL;
	if (opts && opts->version != PEEROP_KUBE_CONFIG_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_kube_config_load: unknown options version %u", opts->version);
	memset(&m, 0, sizeof(m));
	if (!list || !*list) {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return peerop__error_set(PEEROP_ENOENT, "no kubeconfig: KUBECONFIG and HOME are unset");
		home_path = peerop__kube_resolve_path(home, ".kube/config");
		list = home_path;
	}
	m.clusters = json_object();
	m.users = json_object();
	m.contexts = json_object();
	copy = list ? strdup(list) : NULL;
	if (!m.clusters || !m.users || !m.contexts || !copy) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto done;
	}
	for (tok = strtok_r(copy, ":", &save); tok && rc == 0; tok = strtok_r(NULL, ":", &save)) {
		if (!*tok)
			continue;
		if (m.files.len && peerop__buf_puts(&m.files, ", ") < 0)
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		if (rc == 0 && peerop__buf_puts(&m.files, tok) < 0)
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		if (rc == 0)
			rc = merge_file(&m, tok, opts && opts->max_file_size ? opts->max_file_size : (4u << 20), &found);
	}
	if (rc == 0 && !found)
		rc = peerop__error_set(PEEROP_ENOENT, "kubeconfig %s: no such file", m.files.ptr ? m.files.ptr : list);
	if (rc == 0)
		rc = finish(out, &m, opts);
done:
	merged_dispose(&m);
	free(copy);
	free(home_path);
	return rc;
}

static int finish(peerop_kube_config **out, merged *m, const peerop_kube_config_options *opts)
{
	peerop_kube_config *cfg = NULL;
	int rc = peerop__kube_config_alloc(&cfg, opts);
	if (rc == 0) {
		rc = build(cfg, m, opts);
		if (rc == 0) {
			peerop__buf src = PEEROP__BUF_INIT;
			if (peerop__buf_printf(&src, "kubeconfig %s", m->files.ptr) < 0)
				rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
			cfg->source = peerop__buf_detach(&src);
		}
	}
	if (rc == 0) {
		peerop__debug("kube", "kubeconfig %s: context %s, server %s, namespace %s",
			m->files.ptr, cfg->context, cfg->server, cfg->ns);
		*out = cfg;
		cfg = NULL;
	}
	peerop_kube_config_free(cfg);
	return rc;
}

int peerop__kubeconfig_load_mem(peerop_kube_config **out, const char *data, size_t len,
	const char *name, const peerop_kube_config_options *opts)
{
	merged m;
	int rc;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	m.clusters = json_object();
	m.users = json_object();
	m.contexts = json_object();
	if (!m.clusters || !m.users || !m.contexts || peerop__buf_puts(&m.files, name) < 0)
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	else
		rc = merge_text(&m, data, len, name);
	if (rc == 0)
		rc = finish(out, &m, opts);
	merged_dispose(&m);
	return rc;
}
