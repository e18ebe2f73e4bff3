/*
 * fuzz_peers_file.c: libFuzzer target for the peers file
 * ({"peers":[{"id":...,"host":...,"port":...}]}), which a ConfigMap fills.
 */
#include "peer_internal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peerop_peer *list = NULL;
	size_t n = 0;
	if (peerop_peers_parse(&list, &n, "fuzz-peers.json", (const char *)data, size) == 0)
		peerop_peer_list_free(list, n);
	return 0;
}
