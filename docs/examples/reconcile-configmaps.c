/*
 * reconcile-configmaps.c: a complete controller in one file (docs/reconcile.md).
 *
 * For every HTTPServer in the namespace it keeps a ConfigMap "<name>-peers"
 * (owned by the HTTPServer, so deleting it deletes the ConfigMap) and a
 * Ready condition in the HTTPServer's status. Metrics and probes on
 * 127.0.0.1:8081. Stops cleanly on SIGTERM or SIGINT.
 *
 *   cc reconcile-configmaps.c $(pkg-config --cflags --libs libpeerop)
 *   KUBECONFIG=... ./a.out
 */
#define _POSIX_C_SOURCE 200809L  /* sigwait, pthread_sigmask */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <peerop/peerop.h>

static const peerop_kube_resource HTTPSERVERS = { "peerop.io", "v1alpha1", "httpservers", 1 };
static const peerop_kube_resource CONFIGMAPS = { "", "v1", "configmaps", 1 };

static int reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	json_t *hs = NULL, *cm, *status, *conds, *patch;
	json_int_t replicas, generation;
	int rc, changed;
	(void)result;
	(void)payload;

	/* Level-based: read the current state from the cache, not the event. */
	if (peerop_informer_get(&hs, peerop_controller_cache(c, NULL), req->ns, req->name) != 0)
		return 0;   /* deleted; garbage collection removes its ConfigMap */
	replicas = json_integer_value(json_object_get(json_object_get(hs, "spec"), "replicas"));
	generation = json_integer_value(json_object_get(json_object_get(hs, "metadata"), "generation"));

	/* The whole intent, applied server-side: fields we stop setting go away. */
	cm = json_pack("{s:s, s:s, s:{s:o, s:s, s:{s:s}}, s:{s:o}}",
		"apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", json_sprintf("%s-peers", req->name), "namespace", req->ns,
		"labels", "app.kubernetes.io/managed-by", "example",
		"data", "replicas", json_sprintf("%" JSON_INTEGER_FORMAT, replicas));
	rc = peerop_object_set_controller(cm, hs);
	if (rc == 0)
		rc = peerop_controller_apply(NULL, c, &CONFIGMAPS, cm, NULL);
	json_decref(cm);
	if (rc < 0) {
		json_decref(hs);
		return rc;  /* retried with backoff */
	}

	/* Status: only written when it changes, or every write would wake us. */
	status = json_deep_copy(json_object_get(hs, "status"));
	if (!status)
		status = json_object();
	conds = json_object_get(status, "conditions");
	if (!json_is_array(conds))
		json_object_set_new(status, "conditions", conds = json_array());
	changed = peerop_condition_set(conds, "Ready", "True", "ConfigMapApplied", "", generation, 0);
	if (json_integer_value(json_object_get(status, "observedGeneration")) != generation)
		changed = 1;
	json_object_set_new(status, "observedGeneration", json_integer(generation));
	if (changed > 0) {
		patch = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "peerop.io/v1alpha1",
			"kind", "HTTPServer", "metadata", "name", req->name, "namespace", req->ns, "status", status);
		rc = peerop_controller_apply(NULL, c, &HTTPSERVERS, patch, "status");
		json_decref(patch);
	}
	json_decref(status);
	json_decref(hs);
	return rc;
}

int main(void)
{
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	peerop_controller *ctl = NULL;
	peerop_controller_options co = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_httpd_options ho = PEEROP_HTTPD_OPTIONS_INIT;
	peerop_httpd *httpd = NULL;
	peerop_log_stream logs = { NULL, PEEROP_LOG_FORMAT_TEXT };
	sigset_t sigs;
	int sig, rc;

	logs.stream = stderr;

	/* Block the signals before any thread starts; wait for them below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	peerop_global_init();
	peerop_log_set_callback(peerop_log_stream_cb, PEEROP_LOG_INFO, &logs);
	if ((rc = peerop_kube_config_auto(&cfg, NULL)) < 0 ||
	    (rc = peerop_kube_client_new(&client, cfg, NULL)) < 0) {
		fprintf(stderr, "kubernetes: %s\n", peerop_error_last()->message);
		return 1;
	}
	co.name = "example";
	co.primary = HTTPSERVERS;
	co.workers = 2;
	co.reconcile = reconcile;
	if ((rc = peerop_controller_new(&ctl, client, &co)) < 0 ||
	    /* label what you create and cache only that */
	    (rc = peerop_controller_owns(ctl, &CONFIGMAPS, "app.kubernetes.io/managed-by=example")) < 0 ||
	    (rc = peerop_controller_start(ctl)) < 0) {
		fprintf(stderr, "controller: %s\n", peerop_error_last()->message);
		return 1;
	}
	ho.listen = "127.0.0.1:8081";
	ho.identity = "example-controller";
	if (peerop_httpd_new(&httpd, &ho) == 0) {
		peerop_httpd_add_metrics(httpd, peerop_controller_collect_metrics, ctl);
		peerop_httpd_add_metrics(httpd, peerop_kube_client_collect_metrics, client);
		peerop_httpd_start(httpd);
	}
	if (peerop_controller_wait_synced(ctl, 60000) == 0 && httpd)
		peerop_httpd_set_ready(httpd, 1);

	sigwait(&sigs, &sig);
	if (httpd)
		peerop_httpd_set_ready(httpd, 0);
	rc = peerop_controller_stop(ctl);   /* in-flight reconciles finish */
	peerop_controller_free(ctl);
	peerop_httpd_free(httpd);
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return rc == 0 ? 0 : 1;
}
