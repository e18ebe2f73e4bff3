/*
 * fuzz_dc_yaml.c: libFuzzer target for the local control plane's YAML
 * request bodies (kubectl and helm send YAML; go-yaml v2 typing, depth and
 * node limits against billion-laughs documents).
 */
#include "apiserver.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	json_t *j = dc_yaml_decode((const char *)data, size, &err);
	json_decref(j);
	free(err);
	return 0;
}
