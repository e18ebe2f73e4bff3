/* check_watch_decoder.c: framing and parsing of watch streams, however the
 * chunks are cut, and every kind of bad input. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "watch_internal.h"
#include "testhelp.h"

typedef struct seen {
	char log[8192];
	int count;
	int stop_at; /* return nonzero on this event number (1-based), 0: never */
} seen;

static int record(peerop__watch_raw_type type, json_t *obj, void *arg)
{
	seen *s = arg;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	static const char *tn[] = { "A", "M", "D", "B", "E" };
	size_t n = strlen(s->log);
	s->count++;
	snprintf(s->log + n, sizeof(s->log) - n, "%s:%s;", tn[type], name ? name : "-");
	if (s->stop_at && s->count == s->stop_at)
		return 99;
	return 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\\n}{\",\"resourceVersion\":\"2\"}}}\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}\r\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"4\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";
static const char expected[] = "A:a;M:b\n}{;B:-;D:c;E:-;";

static void decode_in_chunks(const char *data, size_t len, const size_t *cuts, size_t ncuts, seen *s)
{
	peerop__watch_decoder d;
	size_t start = 0, i;
	peerop__watch_decoder_init(&d, 0, record, s);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		ck_assert_int_eq(peerop__watch_decoder_feed(&d, data + start, end - start), 0);
		start = end;
	}
	ck_assert_int_eq(peerop__watch_decoder_finish(&d), 0);
	peerop__watch_decoder_dispose(&d);
}

START_TEST(test_every_two_way_split)
{
	size_t len = strlen(stream), cut;
	for (cut = 0; cut <= len; cut++) {
		seen s = { "", 0, 0 };
		decode_in_chunks(stream, len, &cut, 1, &s);
		ck_assert_str_eq(s.log, expected);
		ck_assert_int_eq(s.count, 5);
	}
}
END_TEST

START_TEST(test_byte_at_a_time_and_random)
{
	size_t len = strlen(stream), i, cuts[64];
	seen s = { "", 0, 0 };
	peerop__watch_decoder d;
	int round;

	peerop__watch_decoder_init(&d, 0, record, &s);
	for (i = 0; i < len; i++)
		ck_assert_int_eq(peerop__watch_decoder_feed(&d, stream + i, 1), 0);
	ck_assert_int_eq(peerop__watch_decoder_finish(&d), 0);
	peerop__watch_decoder_dispose(&d);
	ck_assert_str_eq(s.log, expected);

	srand(7);
	for (round = 0; round < 500; round++) {
		size_t n = (size_t)(rand() % 20), j;
		seen r = { "", 0, 0 };
		for (j = 0; j < n; j++)
			cuts[j] = (size_t)rand() % (len + 1);
		/* sort the cuts */
		for (i = 1; i < n; i++)
			for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j]; cuts[j] = cuts[j - 1]; cuts[j - 1] = t;
			}
		decode_in_chunks(stream, len, cuts, n, &r);
		ck_assert_str_eq(r.log, expected);
	}
}
END_TEST

START_TEST(test_several_objects_on_one_line_and_no_final_newline)
{
	const char *in = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}} "
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\"}}}\n"
		"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"z\"}}}";
	seen s = { "", 0, 0 };
	peerop__watch_decoder d;
	peerop__watch_decoder_init(&d, 0, record, &s);
	ck_assert_int_eq(peerop__watch_decoder_feed(&d, in, strlen(in)), 0);
	ck_assert_str_eq(s.log, "A:x;A:y;");
	ck_assert_int_eq(peerop__watch_decoder_finish(&d), 0);
	ck_assert_str_eq(s.log, "A:x;A:y;D:z;");
	peerop__watch_decoder_dispose(&d);
}
END_TEST

static int feed_all(const char *in, size_t max, seen *s)
{
	peerop__watch_decoder d;
	int rc;
	peerop__watch_decoder_init(&d, max, record, s);
	rc = peerop__watch_decoder_feed(&d, in, strlen(in));
	if (rc == 0)
		rc = peerop__watch_decoder_finish(&d);
	peerop__watch_decoder_dispose(&d);
	return rc;
}

START_TEST(test_malformed)
{
	static const char *bad[] = {
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}\n",            /* unbalanced */
		"[1,2,3]\n",                                                    /* not an object */
		"{\"object\":{}}\n",                                            /* no type */
		"{\"type\":\"ADDED\"}\n",                                       /* no object */
		"{\"type\":\"ADDED\",\"object\":[]}\n",                         /* object not an object */
		"{\"type\":\"EXPLODED\",\"object\":{}}\n",                      /* unknown type */
		"{\"type\":7,\"object\":{}}\n",                                 /* type not a string */
		"garbage\n",
		"\x01\x02\x03\xff\xfe\n",
		"{\"type\":\"ADDED\",\"object\":{\"a\":\"\xc3\x28\"}}\n",        /* invalid UTF-8 */
		"{\"type\":\"ADDED\",\"object\":{}} trailing\n",
	};
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(bad); i++) {
		seen s = { "", 0, 0 };
		int rc = feed_all(bad[i], 0, &s);
		ck_assert_msg(rc == PEEROP_EPROTO, "case %zu: rc %d", i, rc);
		ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "watch event #"));
	}
}
END_TEST

START_TEST(test_good_events_before_bad_are_delivered)
{
	const char *in = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n{bad\n"
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"never\"}}}\n";
	seen s = { "", 0, 0 };
	ck_assert_int_eq(feed_all(in, 0, &s), PEEROP_EPROTO);
	ck_assert_str_eq(s.log, "A:ok;");
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "#2"));
}
END_TEST

START_TEST(test_truncated)
{
	seen s = { "", 0, 0 };
	ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{\"metad", 0, &s), PEEROP_ETRUNCATED);
	ck_assert_int_eq(s.count, 0);
}
END_TEST

START_TEST(test_oversized)
{
	char *big;
	size_t n = 5000, i;
	seen s = { "", 0, 0 };
	peerop__watch_decoder d;

	big = malloc(n + 64);
	strcpy(big, "{\"type\":\"ADDED\",\"object\":{\"x\":\"");
	for (i = strlen(big); i < n; i++)
		big[i] = 'a';
	strcpy(big + n, "\"}}\n");
	/* whole line in one chunk */
	ck_assert_int_eq(feed_all(big, 1024, &s), PEEROP_ETOOLARGE);
	/* arriving in pieces, never completed: refused before it is buffered */
	peerop__watch_decoder_init(&d, 1024, record, &s);
	ck_assert_int_eq(peerop__watch_decoder_feed(&d, big, 600), 0);
	ck_assert_int_eq(peerop__watch_decoder_feed(&d, big + 600, 600), PEEROP_ETOOLARGE);
	ck_assert_uint_le(d.pending.len, 1024);
	peerop__watch_decoder_reset(&d);
	/* after a reset, a good stream decodes again */
	ck_assert_int_eq(peerop__watch_decoder_feed(&d, stream, strlen(stream)), 0);
	peerop__watch_decoder_dispose(&d);
	ck_assert_str_eq(s.log, expected);
	/* exactly at the limit is fine */
	{
		seen t = { "", 0, 0 };
		size_t ev = strlen(big) - 1;
		ck_assert_int_eq(feed_all(big, ev, &t), 0);
		ck_assert_int_eq(t.count, 1);
	}
	free(big);
}
END_TEST

START_TEST(test_deep_nesting_is_an_error_not_a_crash)
{
	size_t depth = 100000, i;
	char *p = malloc(depth * 2 + 64), *q = p;
	seen s = { "", 0, 0 };
	q += sprintf(q, "{\"type\":\"ADDED\",\"object\":{\"x\":");
	for (i = 0; i < depth; i++)
		*q++ = '[';
	for (i = 0; i < depth; i++)
		*q++ = ']';
	strcpy(q, "}}\n");
	ck_assert_int_eq(feed_all(p, 0, &s), PEEROP_EPROTO);
	free(p);
}
END_TEST

START_TEST(test_callback_stops_decoding)
{
	seen s = { "", 0, 2 };
	ck_assert_int_eq(feed_all(stream, 0, &s), 99);
	ck_assert_int_eq(s.count, 2);
}
END_TEST

START_TEST(test_nul_byte_rejected)
{
	const char in[] = "{\"type\":\"ADDED\",\"object\":{\"a\":\"x\0y\"}}\n";
	seen s = { "", 0, 0 };
	peerop__watch_decoder d;
	peerop__watch_decoder_init(&d, 0, record, &s);
	ck_assert_int_eq(peerop__watch_decoder_feed(&d, in, sizeof(in) - 1), PEEROP_EPROTO);
	peerop__watch_decoder_dispose(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch_decoder");
	TCase *tc = tcase_create("decoder");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_two_way_split);
	tcase_add_test(tc, test_byte_at_a_time_and_random);
	tcase_add_test(tc, test_several_objects_on_one_line_and_no_final_newline);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_good_events_before_bad_are_delivered);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_deep_nesting_is_an_error_not_a_crash);
	tcase_add_test(tc, test_callback_stops_decoding);
	tcase_add_test(tc, test_nul_byte_rejected);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
