/*
 * kube_cred.c: the credential a request carries, kept fresh.
 *
 * Tokens from a file (in-cluster service-account tokens, kubeconfig
 * tokenFile) are re-read every token_reread_ms and after a 401, because
 * bound tokens rotate; a failed read keeps the last good token. Exec plugin
 * credentials are cached until their expirationTimestamp and re-run after a
 * 401. Refreshes are serialised, so concurrent requests run a plugin once,
 * not once each; the config's lock is not held while a plugin runs.
 */
#include "kube_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peerop__kube_cred_dispose(peerop__kube_cred *c)
{
	peerop__secret_free(c->token);
	c->token = NULL;
	peerop__kube_blob_dispose(&c->cert);
	peerop__kube_blob_dispose(&c->key);
}

/* What happened under the lock, logged after it is released: the log
 * callback is user code and must never run with one of our locks held. */
typedef struct cred_note {
	int level;             /* 0: nothing to log */
	char text[1200];
} cred_note;

static void note(cred_note *n, peerop_log_level level, const char *fmt, ...) PEEROP_FORMAT(3, 4);

static void note(cred_note *n, peerop_log_level level, const char *fmt, ...)
{
	va_list ap;
	if (!peerop__log_enabled(level))
		return;
	n->level = (int)level + 1;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
}

static void reread_token_locked(peerop_kube_config *cfg, uint64_t now_ms, cred_note *n)
{
	char *t = NULL;
	int rc = peerop__kube_read_token(&t, cfg->token_file, cfg->max_file_size);
	cfg->token_read_ms = now_ms;
	cfg->token_stale = 0;
	if (rc < 0) {
		/* Keep the last good token: a rotation in progress, or a brief
		 * unreadable moment, must not break a working client. */
		note(n, PEEROP_LOG_WARN, "%s: cannot re-read the token (%s); keeping the last good one",
			cfg->source, peerop_error_last()->message);
		return;
	}
	if (!cfg->token || strcmp(cfg->token, t) != 0) {
		peerop__secret_free(cfg->token);
		cfg->token = t;
		cfg->generation++;
		note(n, PEEROP_LOG_DEBUG, "%s: token file %s changed", cfg->source, cfg->token_file);
	} else {
		peerop__secret_free(t);
	}
}

/* Run the exec plugin; called and returns with cfg->lock held, which is
 * released while the plugin runs: it may take exec_timeout_ms, and every
 * request of every client of this configuration takes the lock. A thread
 * that finds a run under way waits for it and shares its outcome, so
 * concurrent requests still run the plugin once, not once each. */
static int run_exec(peerop_kube_config *cfg, cred_note *n)
{
	peerop__kube_exec_result r;
	uint64_t t0;
	int rc;

	if (cfg->exec_running) {
		unsigned int runs = cfg->exec_runs;
		while (cfg->exec_runs == runs)
			pthread_cond_wait(&cfg->exec_cond, &cfg->lock);
		return cfg->exec_rc < 0 ? peerop__error_set(cfg->exec_rc, "%s", cfg->exec_err) : 0;
	}
	cfg->exec_running = 1;
	pthread_mutex_unlock(&cfg->lock);
	t0 = peerop__now_ms();
	rc = peerop__kube_exec_run(&r, &cfg->exec, cfg->exec_cluster_info, cfg->exec_timeout_ms);
	pthread_mutex_lock(&cfg->lock);
	cfg->exec_running = 0;
	cfg->exec_runs++;
	cfg->exec_rc = rc;
	if (rc < 0) {
		snprintf(cfg->exec_err, sizeof(cfg->exec_err), "%s", peerop_error_last()->message);
	} else {
		peerop__kube_exec_result_dispose(&cfg->exec_cred);
		cfg->exec_cred = r;
		cfg->exec_valid = 1;
		cfg->token_stale = 0;
		cfg->generation++;
		note(n, PEEROP_LOG_DEBUG, "exec plugin %s: credential obtained in %llu ms", cfg->exec.command,
			(unsigned long long)(peerop__now_ms() - t0));
	}
	pthread_cond_broadcast(&cfg->exec_cond);
	return rc;
}

int peerop__kube_cred_get_at(peerop__kube_cred *out, peerop_kube_config *cfg, uint64_t now_ms, long long wall_ms)
{
	const char *token = NULL;
	const peerop__kube_blob *cert = &cfg->cert, *key = &cfg->key;
	cred_note n;
	int rc = 0;

	n.level = 0;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&cfg->lock);
	switch (cfg->auth) {
	case PEEROP__KUBE_AUTH_NONE:
		break;
	case PEEROP__KUBE_AUTH_TOKEN:
		token = cfg->token;
		break;
	case PEEROP__KUBE_AUTH_TOKEN_FILE:
		if (cfg->token_stale || now_ms - cfg->token_read_ms >= cfg->token_reread_ms)
			reread_token_locked(cfg, now_ms, &n);
		token = cfg->token;
		if (!token)
			rc = peerop__error_set(PEEROP_EAUTH, "%s: no token could be read from %s",
				cfg->source, cfg->token_file);
		break;
	case PEEROP__KUBE_AUTH_EXEC:
		if (!cfg->exec_valid || cfg->token_stale ||
		    (cfg->exec_cred.expiry_wall_ms && wall_ms >= cfg->exec_cred.expiry_wall_ms))
			rc = run_exec(cfg, &n);
		if (rc == 0) {
			token = cfg->exec_cred.token;
			if (cfg->exec_cred.cert.data) {
				cert = &cfg->exec_cred.cert;
				key = &cfg->exec_cred.key;
			}
		}
		break;
	}
	if (rc == 0 && token && !(out->token = strdup(token)))
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (rc == 0 && (peerop__kube_blob_copy(&out->cert, cert) < 0 || peerop__kube_blob_copy(&out->key, key) < 0))
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
	out->generation = cfg->generation;
	pthread_mutex_unlock(&cfg->lock);
	if (n.level)
		peerop__log((peerop_log_level)(n.level - 1), "kube", NULL, 0, "%s", n.text);
	if (rc < 0)
		peerop__kube_cred_dispose(out);
	return rc;
}

int peerop__kube_cred_get(peerop__kube_cred *out, peerop_kube_config *cfg, uint64_t now_ms)
{
	return peerop__kube_cred_get_at(out, cfg, now_ms, peerop__wall_ms());
}

int peerop__kube_cred_invalidate(peerop_kube_config *cfg, unsigned int generation)
{
	int refreshable;
	pthread_mutex_lock(&cfg->lock);
	refreshable = cfg->auth == PEEROP__KUBE_AUTH_TOKEN_FILE || cfg->auth == PEEROP__KUBE_AUTH_EXEC;
	/* Another thread may have refreshed it already: then just retry. */
	if (refreshable && cfg->generation == generation)
		cfg->token_stale = 1;
	pthread_mutex_unlock(&cfg->lock);
	return refreshable;
}
