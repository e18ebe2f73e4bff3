/*
 * kube-list-pods: list the pods of a namespace and print name and phase.
 *
 *   kube-list-pods [NAMESPACE]
 *
 * The configuration comes from $KUBECONFIG, in-cluster files or
 * ~/.kube/config (peerop_kube_config_auto). Built by `make check`.
 */
#include <stdio.h>
#include <peerop/peerop.h>

static const char *str(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "-";
}

int main(int argc, char **argv)
{
	static const peerop_kube_resource pods = { "", "v1", "pods", 1 };
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	peerop_kube_list_options lo = PEEROP_KUBE_LIST_OPTIONS_INIT;
	json_t *list = NULL, *pod;
	size_t i;
	int rc = 1;

	if (peerop_global_init() != 0)
		return 1;
	if (peerop_kube_config_auto(&cfg, NULL) < 0 ||
	    peerop_kube_client_new(&client, cfg, NULL) < 0) {
		fprintf(stderr, "kube-list-pods: %s\n", peerop_error_last()->message);
		goto out;
	}
	lo.page_size = 200; /* pages are fetched and joined for us */
	if (peerop_kube_list(&list, client, &pods, argc > 1 ? argv[1] : NULL, &lo) < 0) {
		const peerop_error *e = peerop_error_last();
		fprintf(stderr, "kube-list-pods: %s (%s, HTTP %d)\n", e->message,
			peerop_error_name(e->code), e->http_status);
		goto out;
	}
	json_array_foreach(json_object_get(list, "items"), i, pod) {
		printf("%s\t%s\n", str(json_object_get(json_object_get(pod, "metadata"), "name")),
			str(json_object_get(json_object_get(pod, "status"), "phase")));
	}
	printf("# resourceVersion %s\n", str(json_object_get(json_object_get(list, "metadata"), "resourceVersion")));
	rc = 0;
out:
	json_decref(list);
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return rc;
}
