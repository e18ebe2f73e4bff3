/*
 * fuzz_dc_selector.c: libFuzzer target for label and field selectors (the
 * labelSelector and fieldSelector query parameters), matched against a
 * fixed object, and for formatting a metav1.LabelSelector (JSON) as text.
 */
#include "apiserver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *err = NULL, *f;
	json_t *labels = json_pack("{s:s,s:s,s:s}", "app", "web", "tier", "front", "a.b/c", "");
	dc_selector *sel = NULL;
	json_t *ls;

	if (!text || !labels) {
		free(text);
		json_decref(labels);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (dc_label_selector_parse(&sel, text, &err) == 0)
		(void)dc_label_selector_match(sel, labels);
	dc_selector_free(sel);
	free(err);
	sel = NULL;
	err = NULL;
	if (dc_field_selector_parse(&sel, text, &err) == 0)
		dc_selector_free(sel);
	free(err);
	ls = json_loadb((const char *)data, size, 0, NULL);
	if (ls && (f = dc_label_selector_format(ls)) != NULL)
		free(f);
	json_decref(ls);
	json_decref(labels);
	free(text);
	return 0;
}
