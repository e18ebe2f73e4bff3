/*
 * fuzz_kubeconfig.c: libFuzzer target for the kubeconfig parser (YAML to
 * JSON, merging, context selection, field checks, base64 and PEM checks).
 * Built from the library sources with clang -fsanitize=fuzzer,address,
 * undefined (tests/fuzz.am); tests/fuzz-run.sh runs it over the seed corpus.
 */
#include "kube_internal.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	/* A name in a directory that does not exist: relative certificate and
	 * token paths in the input resolve to nothing rather than to real files. */
	o.max_file_size = 1 << 16;
	if (peerop__kubeconfig_load_mem(&cfg, (const char *)data, size,
			"/nonexistent-fuzz-dir/kubeconfig", &o) == 0) {
		/* exercise the accessors; never run exec plugins from fuzz input */
		(void)peerop_kube_config_server(cfg);
		(void)peerop_kube_config_namespace(cfg);
		(void)peerop_kube_config_context(cfg);
	}
	peerop_kube_config_free(cfg);
	return 0;
}
