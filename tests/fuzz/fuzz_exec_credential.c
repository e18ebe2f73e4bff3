/*
 * fuzz_exec_credential.c: libFuzzer target for what an exec credential
 * plugin prints (an ExecCredential: token, expirationTimestamp, PEM client
 * certificate and key). The plugin is never run: its output is the input.
 */
#include "kube_internal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peerop__kube_exec e = { (char *)"fuzz-plugin", NULL, NULL, (char *)"client.authentication.k8s.io/v1",
		(char *)"Never", NULL, 0 };
	peerop__kube_exec_result r;
	if (peerop__kube_exec_parse_output(&r, (const char *)data, size, &e) == 0)
		peerop__kube_exec_result_dispose(&r);
	return 0;
}
