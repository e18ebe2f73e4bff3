/*
 * replicate: an operator that copies ConfigMaps into every namespace.
 *
 * A ConfigMap labelled replicate.peerop.io/role=source is copied, with the
 * same name and data, into every other namespace, and the copies are kept
 * in sync: a change to the source, a copy edited or deleted by hand, a new
 * namespace, each brings the copies back to the source's data. Deleting the
 * source deletes its copies first: a finalizer on the source
 * (replicate.peerop.io/copies) holds the deletion until they are gone.
 *
 * Built out of tree against an installed libpeerop, with pkg-config alone
 * (see this directory's Makefile and docs/writing-an-operator.md):
 *
 *   make && ./replicate [--kubeconfig FILE] [--workers N]
 *
 * It uses one controller. Sources and copies share a label key, so one
 * cache (ConfigMaps with the key, in every namespace) holds both: a
 * reconcile of a copy hands over to its source. Namespaces are watched too,
 * and a namespace change queues every source.
 */
#define _POSIX_C_SOURCE 200809L  /* sigwait, pthread_sigmask */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/peerop.h>

#define ROLE       "replicate.peerop.io/role"     /* "source" or "copy" */
#define SOURCE_OF  "replicate.peerop.io/source"   /* on a copy: "NS.NAME" of its source */
#define FINALIZER  "replicate.peerop.io/copies"
#define MANAGER    "replicate"

static const peerop_kube_resource CONFIGMAPS = { "", "v1", "configmaps", 1 };
static const peerop_kube_resource NAMESPACES = { "", "v1", "namespaces", 0 };

typedef struct app {
	peerop_controller *ctl;   /* set before the controller starts */
} app;

/* ---- small readers of objects -------------------------------------------- */

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"),
		"labels"), key));
}

/* ---- writes ---------------------------------------------------------------- */

/* The copy of src in namespace ns, as we want it: applied server-side, so
 * keys removed from the source leave the copy too (we owned them). */
static int apply_copy(peerop_controller *c, const json_t *src, const char *ns, const char *source_key)
{
	json_t *copy = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind", "ConfigMap",
		"metadata", "name", meta_str(src, "name"), "namespace", ns,
		"labels", ROLE, "copy", SOURCE_OF, source_key);
	int rc;

	if (!copy)
		return PEEROP_ENOMEM;
	json_object_set(copy, "data", json_object_get(src, "data") ? json_object_get(src, "data") : json_object());
	if (json_object_get(src, "binaryData"))
		json_object_set(copy, "binaryData", json_object_get(src, "binaryData"));
	rc = peerop_controller_apply(NULL, c, &CONFIGMAPS, copy, NULL);
	json_decref(copy);
	return rc;
}

static int delete_copy(peerop_controller *c, const json_t *copy)
{
	int rc = peerop_kube_delete(NULL, peerop_controller_client(c), &CONFIGMAPS, meta_str(copy, "namespace"),
		meta_str(copy, "name"), NULL);
	return rc == PEEROP_ENOTFOUND ? 0 : rc;
}

/* ---- reconcile ------------------------------------------------------------- */

/* Delete every copy of source_key; returns 0 once none is left. */
static int delete_copies(peerop_controller *c, const char *source_key)
{
	json_t *all = NULL, *o;
	size_t i;
	int rc = peerop_informer_list(&all, peerop_controller_cache(c, NULL), NULL);

	json_array_foreach(all, i, o) {
		const char *of = label(o, SOURCE_OF);
		if (rc == 0 && of && !strcmp(of, source_key))
			rc = delete_copy(c, o);
	}
	json_decref(all);
	return rc;
}

static int reconcile_source(peerop_controller *c, const json_t *src, const char *source_key)
{
	json_t *nss = NULL, *n;
	size_t i;
	int rc;

	if (meta_str(src, "deletionTimestamp")) {
		/* Being deleted: remove the copies, then let the deletion finish. */
		if (!peerop_finalizer_has(src, FINALIZER))
			return 0;
		rc = delete_copies(c, source_key);
		if (rc == 0)
			rc = peerop_finalizer_remove(NULL, peerop_controller_client(c), &CONFIGMAPS, src, FINALIZER);
		/* gone already: a reconcile from a cache copy older than our removal */
		return rc == PEEROP_ENOTFOUND || rc == 1 ? 0 : rc;
	}
	if (!peerop_finalizer_has(src, FINALIZER)) {
		/* the update wakes us again, with the finalizer in the cache */
		rc = peerop_finalizer_add(NULL, peerop_controller_client(c), &CONFIGMAPS, src, FINALIZER);
		return rc == 1 ? 0 : rc;
	}

	rc = peerop_informer_list(&nss, peerop_controller_cache(c, &NAMESPACES), NULL);
	json_array_foreach(nss, i, n) {
		const char *ns = meta_str(n, "name");
		const char *phase = json_string_value(json_object_get(json_object_get(n, "status"), "phase"));
		if (rc != 0)
			break;
		if (!ns || !strcmp(ns, meta_str(src, "namespace")) || (phase && !strcmp(phase, "Terminating")))
			continue;
		rc = apply_copy(c, src, ns, source_key);
	}
	json_decref(nss);
	return rc;
}

static int reconcile(peerop_controller *c, const peerop_reconcile_request *req,
	peerop_reconcile_result *result, void *payload)
{
	json_t *obj = NULL;
	const char *role, *of;
	char key[512];
	int rc = 0;
	(void)result;
	(void)payload;

	if (peerop_informer_get(&obj, peerop_controller_cache(c, NULL), req->ns, req->name) != 0) {
		/* Gone. A source's finalizer made sure its copies went first; a copy
		 * deleted by hand is put back by its source, which has its name. */
		json_t *all = NULL, *o;
		size_t i;
		if (peerop_informer_list(&all, peerop_controller_cache(c, NULL), NULL) == 0)
			json_array_foreach(all, i, o)
				if (!strcmp(label(o, ROLE) ? label(o, ROLE) : "", "source") &&
				    !strcmp(meta_str(o, "name"), req->name) && strcmp(meta_str(o, "namespace"), req->ns))
					peerop_controller_enqueue(c, meta_str(o, "namespace"), req->name);
		json_decref(all);
		return 0;
	}
	role = label(obj, ROLE);
	snprintf(key, sizeof(key), "%s.%s", req->ns, req->name);
	if (role && !strcmp(role, "source")) {
		rc = reconcile_source(c, obj, key);
	} else if (role && !strcmp(role, "copy") && (of = label(obj, SOURCE_OF))) {
		/* A copy: its source decides. A copy whose source is gone goes too. */
		const char *dot = strchr(of, '.');
		json_t *src = NULL;
		char ns[256];

		if (dot && (size_t)(dot - of) < sizeof(ns)) {
			memcpy(ns, of, (size_t)(dot - of));
			ns[dot - of] = '\0';
			if (peerop_informer_get(&src, peerop_controller_cache(c, NULL), ns, dot + 1) == 0 &&
			    !strcmp(label(src, ROLE) ? label(src, ROLE) : "", "source"))
				rc = peerop_controller_enqueue(c, ns, dot + 1);
			else
				rc = delete_copy(c, obj);
			json_decref(src);
		}
	}
	json_decref(obj);
	return rc;
}

/* A namespace came, changed or went: every source has copies to check. */
static void map_namespace(const json_t *ns, void (*enqueue)(const char *ns, const char *name, void *ctx),
	void *ctx, void *payload)
{
	app *a = payload;
	json_t *all = NULL, *o;
	size_t i;
	(void)ns;

	if (!a->ctl || peerop_informer_list(&all, peerop_controller_cache(a->ctl, NULL), NULL) != 0)
		return;
	json_array_foreach(all, i, o)
		if (!strcmp(label(o, ROLE) ? label(o, ROLE) : "", "source"))
			enqueue(meta_str(o, "namespace"), meta_str(o, "name"), ctx);
	json_decref(all);
}

/* ---- main: flags, wiring, signals ------------------------------------------ */

int main(int argc, char **argv)
{
	static peerop_log_stream ls;
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_controller_options opts = PEEROP_CONTROLLER_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	app a = { NULL };
	sigset_t sigs;
	int i, sig, rc, workers = 2;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kubeconfig") && i + 1 < argc)
			co.kubeconfig = argv[++i];
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			workers = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--kubeconfig FILE] [--workers N]\n", argv[0]);
			return 2;
		}
	}
	if (workers < 1 || workers > 64) {
		fprintf(stderr, "%s: --workers takes 1 to 64\n", argv[0]);
		return 2;
	}

	/* Signals are taken by sigwait below: block them before any thread starts. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (peerop_global_init() != 0)
		return 1;
	ls.stream = stdout;
	ls.format = PEEROP_LOG_FORMAT_TEXT;
	peerop_log_set_callback(peerop_log_stream_cb, PEEROP_LOG_INFO, &ls);

	rc = peerop_kube_config_auto(&cfg, &co);
	if (rc == 0)
		rc = peerop_kube_client_new(&client, cfg, NULL);
	peerop_kube_config_free(cfg);

	opts.name = MANAGER;                 /* also the field manager of our applies */
	opts.primary = CONFIGMAPS;
	opts.ns = "";                        /* every namespace */
	opts.label_selector = ROLE;          /* sources and copies: the key exists */
	opts.workers = (unsigned int)workers;
	opts.reconcile = reconcile;
	opts.payload = &a;
	if (rc == 0)
		rc = peerop_controller_new(&a.ctl, client, &opts);
	if (rc == 0)
		rc = peerop_controller_watches(a.ctl, &NAMESPACES, NULL, map_namespace, &a);
	if (rc == 0)
		rc = peerop_controller_start(a.ctl);
	if (rc != 0) {
		fprintf(stderr, "replicate: %s: %s\n", peerop_error_name(rc), peerop_error_last()->message);
		peerop_controller_free(a.ctl);
		peerop_kube_client_free(client);
		peerop_global_cleanup();
		return 1;
	}
	peerop_log_emit(PEEROP_LOG_INFO, "replicate", NULL, 0, "replicating ConfigMaps labelled %s=source", ROLE);

	sigwait(&sigs, &sig);
	peerop_log_emit(PEEROP_LOG_INFO, "replicate", NULL, 0, "signal %d: stopping", sig);
	rc = peerop_controller_stop(a.ctl);
	peerop_controller_free(a.ctl);
	peerop_kube_client_free(client);
	peerop_global_cleanup();
	return rc == 0 ? 0 : 1;
}
