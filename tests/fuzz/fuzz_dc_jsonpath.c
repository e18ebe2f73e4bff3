/*
 * fuzz_dc_jsonpath.c: libFuzzer target for the JSONPath the local control
 * plane evaluates (printer columns, kubectl's -o jsonpath through the
 * server's Table output). Input: the expression, a newline, a JSON object.
 */
#include "apiserver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char *expr;
	json_t *obj, *out;
	size_t elen;

	if (!nl)
		return 0;
	elen = (size_t)(nl - (const char *)data);
	if (!(expr = malloc(elen + 1)))
		return 0;
	memcpy(expr, data, elen);
	expr[elen] = '\0';
	obj = json_loadb(nl + 1, size - elen - 1, JSON_DECODE_ANY, NULL);
	out = json_array();
	if (obj && out)
		(void)dc_jsonpath_eval(expr, obj, out);
	json_decref(out);
	json_decref(obj);
	free(expr);
	return 0;
}
