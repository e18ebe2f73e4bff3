/*
 * fuzz_watch_decoder.c: libFuzzer target for the watch stream decoder (one
 * JSON event per line, arriving in arbitrary pieces). The first byte picks
 * where the stream is cut in two, as a network read would.
 */
#include "watch_internal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(peerop__watch_raw_type type, json_t *object, void *arg)
{
	(void)type;
	(void)arg;
	return json_object_get(object, "metadata") ? 0 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peerop__watch_decoder d;
	size_t cut = size ? data[0] % size : 0;
	const char *s = (const char *)data;
	/* a small event limit, so the fuzzer reaches it */
	peerop__watch_decoder_init(&d, 4096, on_event, NULL);
	if (peerop__watch_decoder_feed(&d, s, cut) == 0 && peerop__watch_decoder_feed(&d, s + cut, size - cut) == 0)
		(void)peerop__watch_decoder_finish(&d);
	peerop__watch_decoder_dispose(&d);
	return 0;
}
