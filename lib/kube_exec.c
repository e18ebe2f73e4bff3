/*
 * kube_exec.c: exec credential plugins (client.authentication.k8s.io v1,
 * and v1beta1 which has the same ExecCredential shape).
 *
 * The plugin runs with posix_spawn (safe in a threaded program, unlike a
 * fork that then allocates), stdin from /dev/null (we are never
 * interactive), stdout and stderr read through pipes with a deadline: a
 * plugin that hangs is killed. Its stdout is a secret and never logged.
 */
#include "kube_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

extern char **environ;

#define EXEC_MAX_OUTPUT (1u << 20)

static void strv_free(char **v)
{
	size_t i;
	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void peerop__kube_exec_dispose(peerop__kube_exec *e)
{
	free(e->command);
	strv_free(e->args);
	strv_free(e->env);
	free(e->api_version);
	free(e->interactive_mode);
	free(e->install_hint);
	memset(e, 0, sizeof(*e));
}

void peerop__kube_exec_result_dispose(peerop__kube_exec_result *r)
{
	peerop__secret_free(r->token);
	r->token = NULL;
	peerop__kube_blob_dispose(&r->cert);
	peerop__kube_blob_dispose(&r->key);
	r->expiry_wall_ms = 0;
}

static const char *opt_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int peerop__kube_exec_parse(peerop__kube_exec *out, const json_t *exec, const char *dir, const char *field)
{
	const json_t *args = json_object_get(exec, "args");
	const json_t *env = json_object_get(exec, "env");
	const char *cmd = opt_str(exec, "command");
	const char *api = opt_str(exec, "apiVersion");
	const char *mode = opt_str(exec, "interactiveMode");
	const char *pci = opt_str(exec, "provideClusterInfo");
	const json_t *item;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(exec))
		return peerop__error_set(PEEROP_ECONFIG, "%s: expected a mapping", field);
	if (!cmd || !*cmd)
		return peerop__error_set(PEEROP_ECONFIG, "%s.command: missing", field);
	if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
	             strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
		return peerop__error_set(PEEROP_ECONFIG, "%s.apiVersion: \"%.100s\" is not supported %s", field,
			api ? api : "", "(client.authentication.k8s.io/v1 or v1beta1)");
	if (mode && strcmp(mode, "Never") && strcmp(mode, "IfAvailable") && strcmp(mode, "Always"))
		return peerop__error_set(PEEROP_ECONFIG, "%s.interactiveMode: \"%.40s\" is not Never, IfAvailable or Always",
			field, mode);
	/* A command with a slash but relative is relative to the kubeconfig;
	 * a bare name is looked up in PATH (as client-go does). */
	out->command = strchr(cmd, '/') ? peerop__kube_resolve_path(dir, cmd) : strdup(cmd);
	out->api_version = strdup(api);
	out->interactive_mode = strdup(mode ? mode : "IfAvailable");
	out->install_hint = peerop__strdup(opt_str(exec, "installHint"));
	out->provide_cluster_info = pci && !strcmp(pci, "true");
	if (!out->command || !out->api_version || !out->interactive_mode)
		goto nomem;

	n = json_is_array(args) ? json_array_size(args) : 0;
	if (args && !json_is_null(args) && !json_is_array(args))
		goto bad_args;
	if (!(out->args = calloc(n + 2, sizeof(char *))) || !(out->args[0] = strdup(out->command)))
		goto nomem;
	json_array_foreach(args, i, item) {
		if (!json_is_string(item))
			goto bad_args;
		if (!(out->args[i + 1] = strdup(json_string_value(item))))
			goto nomem;
	}

	n = json_is_array(env) ? json_array_size(env) : 0;
	if (env && !json_is_null(env) && !json_is_array(env)) {
		peerop__kube_exec_dispose(out);
		return peerop__error_set(PEEROP_ECONFIG, "%s.env: expected a list of {name, value}", field);
	}
	if (!(out->env = calloc(n + 1, sizeof(char *))))
		goto nomem;
	json_array_foreach(env, i, item) {
		const char *name = opt_str(item, "name"), *value = opt_str(item, "value");
		size_t len;
		if (!name || !*name || strchr(name, '=')) {
			peerop__kube_exec_dispose(out);
			return peerop__error_set(PEEROP_ECONFIG, "%s.env[%zu].name: missing or invalid", field, i);
		}
		if (!value)
			value = "";
		len = strlen(name) + strlen(value) + 2;
		if (!(out->env[i] = malloc(len)))
			goto nomem;
		snprintf(out->env[i], len, "%s=%s", name, value);
	}
	return 0;
bad_args:
	peerop__kube_exec_dispose(out);
	return peerop__error_set(PEEROP_ECONFIG, "%s.args: expected a list of strings", field);
nomem:
	peerop__kube_exec_dispose(out);
	return peerop__error_set(PEEROP_ENOMEM, "out of memory");
}

int peerop__parse_rfc3339(long long *out, const char *s)
{
	struct tm tm;
	const char *p;
	long long ms = 0, off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!p)
		return PEEROP_ESYNTAX;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (digits == 0)
			return PEEROP_ESYNTAX;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
		off = (long long)(hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return PEEROP_ESYNTAX;
	}
	if (*p)
		return PEEROP_ESYNTAX;
	t = timegm(&tm);
	*out = ((long long)t - off) * 1000 + ms;
	return 0;
}

/* Read both pipes until the child closes them or the deadline passes. */
static int collect(int out_fd, int err_fd, peerop__buf *out, peerop__buf *err, uint64_t deadline)
{
	struct pollfd p[2];
	char chunk[4096];
	int open_fds = 2;

	p[0].fd = out_fd;
	p[1].fd = err_fd;
	while (open_fds > 0) {
		uint64_t now = peerop__now_ms();
		int i, n;
		if (now >= deadline)
			return PEEROP_ETIMEOUT;
		p[0].events = p[1].events = POLLIN;
		n = poll(p, 2, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return PEEROP_EIO;
		for (i = 0; i < 2; i++) {
			ssize_t r;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			if (peerop__buf_put(i == 0 ? out : err, chunk, (size_t)r) < 0)
				return PEEROP_ETOOLARGE;
		}
	}
	return 0;
}

/* Wait for the plugin to exit, until the deadline (PEEROP_ETIMEOUT). A
 * child cannot be waited for with a timeout, so this polls: briefly at
 * first (a plugin that closed its output is usually exiting), then every
 * 10 ms. */
static int wait_exit(pid_t pid, int *status, uint64_t deadline)
{
	unsigned int us = 100;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return PEEROP_EIO;
		if (peerop__now_ms() >= deadline)
			return PEEROP_ETIMEOUT;
		usleep(us);
		if (us < 10000)
			us *= 2;
	}
}

/* Kill the plugin and its process group (what it started and left behind
 * would otherwise hold our pipes or live on), and reap it. */
static void kill_group(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL); /* if it left the group */
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Same name before the '=' (entry is "NAME=value"). */
static int same_name(const char *entry, const char *other)
{
	const char *eq = strchr(other, '=');
	size_t n = eq ? (size_t)(eq - other) : strlen(other);
	return strncmp(entry, other, n) == 0 && entry[n] == '=';
}

/* The program's environment, less what the plugin's env overrides, then the
 * plugin's env and KUBERNETES_EXEC_INFO (glibc's getenv takes the first
 * match, so overridden names must be dropped, not shadowed). */
static char **build_env(const peerop__kube_exec *e, const char *exec_info)
{
	size_t n = 0, m = 0, i, j;
	char **env;
	for (i = 0; environ && environ[i]; i++)
		n++;
	for (i = 0; e->env && e->env[i]; i++)
		m++;
	env = calloc(n + m + 2, sizeof(char *));
	if (!env)
		return NULL;
	n = 0;
	for (i = 0; environ && environ[i]; i++) {
		int keep = !same_name(environ[i], exec_info);
		for (j = 0; keep && j < m; j++)
			keep = !same_name(environ[i], e->env[j]);
		if (keep)
			env[n++] = environ[i];
	}
	for (j = 0; j < m; j++)
		env[n++] = e->env[j];
	env[n] = (char *)exec_info;
	return env;
}

int peerop__kube_exec_parse_output(peerop__kube_exec_result *out, const char *data, size_t len,
	const peerop__kube_exec *e)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, 0, &jerr);
	const json_t *status;
	const char *kind, *api, *token, *exp, *cd, *kd;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!root)
		return peerop__error_set(PEEROP_EEXEC, "exec plugin %s: output is not JSON (line %d)", e->command, jerr.line);
	kind = opt_str(root, "kind");
	api = opt_str(root, "apiVersion");
	status = json_object_get(root, "status");
	if (!kind || strcmp(kind, "ExecCredential") || !api || strcmp(api, e->api_version)) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: output is not an ExecCredential of %s",
			e->command, e->api_version);
		goto done;
	}
	token = opt_str(status, "token");
	exp = opt_str(status, "expirationTimestamp");
	cd = opt_str(status, "clientCertificateData");
	kd = opt_str(status, "clientKeyData");
	if ((!token || !*token) && (!cd || !kd)) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: ExecCredential has %s", e->command,
			"neither status.token nor status.clientCertificateData and clientKeyData");
		goto done;
	}
	if (exp && peerop__parse_rfc3339(&out->expiry_wall_ms, exp) < 0) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: status.expirationTimestamp \"%.40s\" is not RFC 3339",
			e->command, exp);
		goto done;
	}
	if (token && peerop__kube_token_bad(token)) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: status.token holds a control character", e->command);
		goto done;
	}
	if (token && *token && !(out->token = strdup(token))) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto done;
	}
	if (cd && kd) {
		/* Unlike kubeconfig fields, these are PEM text, not base64. */
		peerop__kube_blob c = { (char *)cd, strlen(cd) }, k = { (char *)kd, strlen(kd) };
		char what[600];
		snprintf(what, sizeof(what), "exec plugin %s: status.clientCertificateData", e->command);
		if ((rc = peerop__kube_pem_check(&c, 0, what)) < 0)
			goto done;
		snprintf(what, sizeof(what), "exec plugin %s: status.clientKeyData", e->command);
		if ((rc = peerop__kube_pem_check(&k, 1, what)) < 0)
			goto done;
		if (peerop__kube_blob_copy(&out->cert, &c) < 0 || peerop__kube_blob_copy(&out->key, &k) < 0) {
			rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
			goto done;
		}
	}
done:
	/* the parsed document holds the token: wipe its strings before freeing */
	if (status) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)status, k, v)
			if (json_is_string(v))
				OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
	}
	json_decref(root);
	if (rc < 0)
		peerop__kube_exec_result_dispose(out);
	return rc;
}

int peerop__kube_exec_run(peerop__kube_exec_result *out, const peerop__kube_exec *e,
	const json_t *cluster_info, unsigned int timeout_ms)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	peerop__buf o = PEEROP__BUF_INIT, er = PEEROP__BUF_INIT, info = PEEROP__BUF_INIT;
	char **env = NULL;
	char *spec = NULL;
	json_t *ei;
	pid_t pid = -1;
	int rc = 0, status = 0, spawn_rc;
	uint64_t t0 = peerop__now_ms();

	memset(out, 0, sizeof(*out));
	if (!strcmp(e->interactive_mode, "Always"))
		return peerop__error_set(PEEROP_EEXEC, "exec plugin %s: interactiveMode Always needs a terminal %s",
			e->command, "and this client is never interactive");
	ei = json_pack("{s:s,s:s,s:{s:b}}", "apiVersion", e->api_version, "kind", "ExecCredential",
		"spec", "interactive", 0);
	if (ei && cluster_info && e->provide_cluster_info)
		json_object_set(json_object_get(ei, "spec"), "cluster", (json_t *)cluster_info);
	spec = ei ? json_dumps(ei, JSON_COMPACT) : NULL;
	json_decref(ei);
	if (!spec || peerop__buf_printf(&info, "KUBERNETES_EXEC_INFO=%s", spec) < 0 ||
	    !(env = build_env(e, info.ptr))) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto done;
	}
	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: pipe: %s", e->command, strerror(errno));
		goto done;
	}
	o.limit = EXEC_MAX_OUTPUT;
	er.limit = 64 * 1024;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	/* The calling thread may block signals (a program's signal thread
	 * pattern) or ignore SIGPIPE: the plugin starts with neither. */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* Its own process group (pgid = its pid): what it starts is killed
	 * with it when it overstays (kill_group). */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	spawn_rc = posix_spawnp(&pid, e->command, &fa, &attr, e->args, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(out_pipe[1]);
	close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;
	if (spawn_rc != 0) {
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: cannot run: %s%s%s", e->command, strerror(spawn_rc),
			e->install_hint ? "; " : "", e->install_hint ? e->install_hint : "");
		pid = -1;
		goto done;
	}
	rc = collect(out_pipe[0], err_pipe[0], &o, &er, t0 + timeout_ms);
	/* It may close its output and go on running: the deadline holds for
	 * its exit too. */
	if (rc == 0)
		rc = wait_exit(pid, &status, t0 + timeout_ms);
	if (rc < 0) {
		kill_group(pid, &status);
		pid = -1;
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: %s", e->command,
			rc == PEEROP_ETIMEOUT ? "timed out" : rc == PEEROP_ETOOLARGE ? "output too large" :
			"cannot read its output");
		goto done;
	}
	pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* The plugin's stderr explains the failure; its stdout may hold a
		 * secret and is never shown. */
		size_t n = er.len;
		while (n > 0 && (er.ptr[n - 1] == '\n' || er.ptr[n - 1] == '\r'))
			n--;
		if (n > 300)
			n = 300;
		rc = peerop__error_set(PEEROP_EEXEC, "exec plugin %s: %s %d%s%.*s", e->command,
			WIFEXITED(status) ? "exited with status" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			n ? ": " : "", (int)n, n ? er.ptr : "");
		goto done;
	}
	rc = peerop__kube_exec_parse_output(out, o.ptr ? o.ptr : "", o.len, e);
done:
	if (pid > 0)
		kill_group(pid, &status);
	if (out_pipe[0] >= 0)
		close(out_pipe[0]);
	if (err_pipe[0] >= 0)
		close(err_pipe[0]);
	if (o.ptr)
		OPENSSL_cleanse(o.ptr, o.len);
	peerop__buf_dispose(&o);
	peerop__buf_dispose(&er);
	peerop__buf_dispose(&info);
	free(spec);
	free(env);
	return rc;
}
