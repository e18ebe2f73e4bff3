/*
 * watch-configmaps: print every change to the ConfigMaps of a namespace,
 * through an informer (a watch feeding a cache). Built by `make check`
 * so that docs/watch.md cannot drift from the API.
 *
 *   watch-configmaps [NAMESPACE]      (uses $KUBECONFIG or in-cluster config)
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <peerop/peerop.h>

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static void on_change(peerop_watch_event_type type, const json_t *obj, void *payload)
{
	static const char *names[] = { "ADDED", "MODIFIED", "DELETED", "SYNCED" };
	const json_t *md = json_object_get(obj, "metadata");
	(void)payload;
	printf("%-8s %s\n", names[type], type == PEEROP_WATCH_SYNCED ? "(initial state delivered)"
		: json_string_value(json_object_get(md, "name")));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	peerop_kube_resource configmaps = { "", "v1", "configmaps", 1 };
	peerop_informer_options io = PEEROP_INFORMER_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	peerop_informer *inf = NULL;
	int rc = 1;

	if (peerop_global_init() != 0)
		return 1;
	if (peerop_kube_config_auto(&cfg, NULL) != 0 || peerop_kube_client_new(&client, cfg, NULL) != 0) {
		fprintf(stderr, "watch-configmaps: %s\n", peerop_error_last()->message);
		goto out;
	}
	io.watch.ns = argc > 1 ? argv[1] : NULL; /* NULL: the config's namespace */
	io.on_change = on_change;
	if (peerop_informer_new(&inf, client, &configmaps, &io) != 0 ||
	    peerop_informer_add_label_index(inf, "app", "app") != 0 ||
	    peerop_informer_start(inf) != 0) {
		fprintf(stderr, "watch-configmaps: %s\n", peerop_error_last()->message);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!done)
		pause();
	printf("%zu configmaps cached\n", peerop_informer_count(inf));
	rc = 0;
out:
	peerop_informer_free(inf); /* stops the watch: no callback runs after this */
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return rc;
}
