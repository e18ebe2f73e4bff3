/* check_devcluster_yaml.c: YAML request bodies (server-side apply) decoded
 * as the real server's go-yaml v2 does, and malformed or hostile YAML
 * (billion laughs, deep nesting, huge documents, bad bytes) refused with
 * a clean error. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void decodes_to(const char *yaml, const char *want_json)
{
	char *err = NULL, *got;
	json_t *j = dc_yaml_decode(yaml, strlen(yaml), &err), *want = json_loads(want_json, 0, NULL);
	ck_assert_msg(j != NULL, "%s: %s", yaml, err ? err : "?");
	ck_assert_ptr_nonnull(want);
	got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_msg(json_equal(j, want), "%s\ngot  %s\nwant %s", yaml, got, want_json);
	free(got);
	json_decref(j);
	json_decref(want);
}

static void fails_with(const char *yaml, size_t len, const char *needle)
{
	char *err = NULL;
	json_t *j = dc_yaml_decode(yaml, len, &err);
	ck_assert_msg(j == NULL, "accepted: %.80s", yaml);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
	ck_assert_msg(!strncmp(err, "yaml: ", 6), "error \"%s\"", err);
	free(err);
}

START_TEST(test_yaml_scalars)
{
	decodes_to("a: 1\nb: 1.5\nc: true\nd: yes\ne: \"yes\"\nf: ~\ng: 0x1F\nh: 0o17\ni: 017\nj: 1_000\n"
		"k: -0b101\nl: 1e3\nm: hello world\nnn: '1'\no: !!str 12\np: 08\nq: Off\nr: null\ns:\nt: -7\n"
		"u: 99999999999999999999\nv: .5\nw: 2001-12-14\nx: 1.0\nyy: \"\"\nz: n\n",
		"{\"a\":1,\"b\":1.5,\"c\":true,\"d\":true,\"e\":\"yes\",\"f\":null,\"g\":31,\"h\":15,\"i\":15,"
		"\"j\":1000,\"k\":-5,\"l\":1000,\"m\":\"hello world\",\"nn\":\"1\",\"o\":\"12\",\"p\":8,\"q\":false,"
		"\"r\":null,\"s\":null,\"t\":-7,\"u\":1e20,\"v\":0.5,\"w\":\"2001-12-14\",\"x\":1,\"yy\":\"\",\"z\":false}");
	/* block scalars and multi-line strings are strings */
	decodes_to("a: |\n  line1\n  line2\nb: >-\n  folded\n  text\n", "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\"}");
	/* keys are strings, as Go's YAML-to-JSON writes them; YAML 1.1 makes
	 * a plain y or n key a boolean, as on the real server */
	decodes_to("1: a\n~: c\n1.5: d\ny: e\n\"n\": f\nfalse: g\n",
		"{\"1\":\"a\",\"true\":\"e\",\"null\":\"c\",\"1.5\":\"d\",\"n\":\"f\",\"false\":\"g\"}");
	/* JSON is YAML */
	decodes_to("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"1\"},\"n\":[1,2.5,true,null]}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"1\"},\"n\":[1,2.5,true,null]}");
	decodes_to("- a\n- [b, c]\n- {d: e}\n", "[\"a\",[\"b\",\"c\"],{\"d\":\"e\"}]");
}
END_TEST

START_TEST(test_yaml_anchors_and_merge)
{
	decodes_to("base: &b\n  x: 1\n  w: 2\nd:\n  <<: *b\n  w: 3\nl: [*b, *b]\n",
		"{\"base\":{\"x\":1,\"w\":2},\"d\":{\"x\":1,\"w\":3},\"l\":[{\"x\":1,\"w\":2},{\"x\":1,\"w\":2}]}");
	decodes_to("a: &a {p: 1}\nb: &b {p: 2, q: 2}\nc:\n  <<: [*a, *b]\n", 
		"{\"a\":{\"p\":1},\"b\":{\"p\":2,\"q\":2},\"c\":{\"p\":1,\"q\":2}}");
	decodes_to("s: &s hello\nt: *s\n", "{\"s\":\"hello\",\"t\":\"hello\"}");
	/* a quoted "<<" is an ordinary key */
	decodes_to("\"<<\": 1\n", "{\"<<\":1}");
	fails_with("a: *nope\n", 9, "unknown anchor");
	/* an alias to the node being built would be a cycle */
	fails_with("a: &x [1, *x]\n", 14, "unknown anchor");
	fails_with("a: &x 1\nb:\n  <<: *x\n", 20, "map merge requires");
}
END_TEST

START_TEST(test_yaml_malformed)
{
	static const char nul[] = "a: \"x\\0y\"\n";
	fails_with("", 0, "empty");
	fails_with("# only a comment\n", 17, "empty");
	fails_with("~\n", 2, "empty");
	fails_with("a: [1, 2\n", 9, "line");
	fails_with("a: b\n  c: d\n", 12, "line 2");
	fails_with("a:\n\t- b\n", 8, "line");
	fails_with("a: 1\na: 2\n", 10, "already set");
	fails_with("a: 1\n---\nb: 2\n", 14, "more than one document");
	fails_with("? {a: 1}\n: b\n", 13, "mapping keys must be scalars");
	fails_with("a: .inf\n", 8, "infinity");
	fails_with("a: 1e400\n", 9, "out of range");
	fails_with("a: !!int abc\n", 13, "cannot decode");
	fails_with(nul, strlen(nul), "NUL");
	fails_with("a: \"\xff\xfe\"\n", 8, "line");
	fails_with("a: b\0c: d\n", 10, "line");
	/* a trailing empty document is fine */
	decodes_to("---\na: 1\n---\n", "{\"a\":1}");
}
END_TEST

START_TEST(test_yaml_hostile)
{
	peerop__buf b = PEEROP__BUF_INIT;
	char *err = NULL;
	json_t *j;
	int i;
	/* billion laughs: 10^9 values if expanded */
	peerop__buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 10; i++)
		peerop__buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
			i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	fails_with(b.ptr, b.len, "document too large");
	peerop__buf_clear(&b);
	/* nested too deep, both flow and block */
	for (i = 0; i < 5000; i++)
		peerop__buf_putc(&b, '[');
	for (i = 0; i < 5000; i++)
		peerop__buf_putc(&b, ']');
	fails_with(b.ptr, b.len, "nesting deeper");
	peerop__buf_clear(&b);
	for (i = 0; i < 200; i++)
		peerop__buf_printf(&b, "%*sk:\n", i, "");
	fails_with(b.ptr, b.len, "nesting deeper");
	peerop__buf_clear(&b);
	/* just within the limit: fine */
	for (i = 0; i < DC_YAML_MAX_DEPTH - 1; i++)
		peerop__buf_putc(&b, '[');
	for (i = 0; i < DC_YAML_MAX_DEPTH - 1; i++)
		peerop__buf_putc(&b, ']');
	j = dc_yaml_decode(b.ptr, b.len, &err);
	ck_assert_msg(j != NULL, "%s", err ? err : "");
	json_decref(j);
	peerop__buf_clear(&b);
	/* a huge flat document: more values than the budget */
	peerop__buf_putc(&b, '[');
	for (i = 0; i < DC_YAML_MAX_NODES + 10; i++)
		peerop__buf_puts(&b, "1,");
	peerop__buf_puts(&b, "1]");
	fails_with(b.ptr, b.len, "document too large");
	peerop__buf_clear(&b);
	/* a long scalar is fine */
	peerop__buf_puts(&b, "a: ");
	for (i = 0; i < 1000000; i++)
		peerop__buf_putc(&b, 'x');
	j = dc_yaml_decode(b.ptr, b.len, &err);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_string_length(json_object_get(j, "a")), 1000000);
	json_decref(j);
	/* random garbage never crashes and never succeeds silently as garbage */
	for (i = 0; i < 2000; i++) {
		char junk[64];
		size_t k, n = 1 + peerop__rand_below(sizeof(junk));
		for (k = 0; k < n; k++)
			junk[k] = "{}[]:,-&*!|>'\"%@` \n\tab0#?"[peerop__rand_below(26)];
		j = dc_yaml_decode(junk, n, &err);
		ck_assert(j != NULL || err != NULL);
		json_decref(j);
		free(err);
		err = NULL;
	}
	peerop__buf_dispose(&b);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_yaml");
	TCase *tc = tcase_create("yaml");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_yaml_scalars);
	tcase_add_test(tc, test_yaml_anchors_and_merge);
	tcase_add_test(tc, test_yaml_malformed);
	tcase_add_test(tc, test_yaml_hostile);
	suite_add_tcase(s, tc);
	return s;
}
