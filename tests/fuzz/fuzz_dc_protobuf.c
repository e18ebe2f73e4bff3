/*
 * fuzz_dc_protobuf.c: libFuzzer target for the local control plane's
 * protobuf request bodies (the k8s\0 envelope, runtime.Unknown, and the
 * messages of the kinds it decodes).
 */
#include "apiserver.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	json_t *j = NULL;
	if (dc_protobuf_decode((const char *)data, size, &j, &err) == 0)
		json_decref(j);
	free(err);
	return 0;
}
