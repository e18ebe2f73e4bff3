/*
 * fuzz_dc_patch.c: libFuzzer target for the local control plane's patches:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
 * patch of a Deployment. Input: a byte choosing the kind, then the target
 * document, a newline, and the patch document.
 */
#include "apiserver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc_store *store;
static const dc_rtype *deployments;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1, *nl;
	json_t *target, *patch, *out = NULL;
	char *err = NULL;

	if (size < 2)
		return 0;
	if (!store) {
		dc_store_options o;
		memset(&o, 0, sizeof(o));
		if (dc_store_new(&store, &o) != 0)
			abort();
		deployments = dc_rtype_find(store, "apps", "v1", "deployments");
		if (!deployments)
			abort();
	}
	nl = memchr(s, '\n', size - 1);
	if (!nl)
		return 0;
	target = json_loadb(s, (size_t)(nl - s), JSON_DECODE_ANY, NULL);
	patch = json_loadb(nl + 1, size - 1 - (size_t)(nl + 1 - s), JSON_DECODE_ANY, NULL);
	if (target && patch) {
		switch (data[0] % 3) {
		case 0:
			out = dc_merge_patch(target, patch);
			break;
		case 1:
			(void)dc_json_patch(&out, target, patch, &err);
			break;
		default:
			if (json_is_object(target) && json_is_object(patch))
				(void)dc_smp_apply(&out, target, patch, deployments, &err);
			break;
		}
	}
	json_decref(out);
	json_decref(target);
	json_decref(patch);
	free(err);
	return 0;
}
