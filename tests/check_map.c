/* check_map.c: the internal string-keyed hash map, against a naive model. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testhelp.h"

START_TEST(test_map_basic)
{
	peerop__map m = PEEROP__MAP_INIT;
	void *old = (void *)1;
	ck_assert_ptr_null(peerop__map_get(&m, "a"));
	ck_assert_ptr_null(peerop__map_remove(&m, "a"));
	ck_assert_int_eq(peerop__map_put(&m, "a", (void *)10, &old), 0);
	ck_assert_ptr_null(old);
	ck_assert_int_eq(peerop__map_put(&m, "a", (void *)11, &old), 0);
	ck_assert_ptr_eq(old, (void *)10);
	ck_assert_ptr_eq(peerop__map_get(&m, "a"), (void *)11);
	ck_assert_uint_eq(peerop__map_count(&m), 1);
	ck_assert_ptr_eq(peerop__map_remove(&m, "a"), (void *)11);
	ck_assert_uint_eq(peerop__map_count(&m), 0);
	ck_assert_int_eq(peerop__map_put(&m, "", (void *)5, NULL), 0);
	ck_assert_ptr_eq(peerop__map_get(&m, ""), (void *)5);
	peerop__map_dispose(&m);
	peerop__map_dispose(&m); /* twice is harmless */
}
END_TEST

/* Random operations checked against a plain array model: exercises growth
 * and backward-shift deletion in long probe runs. */
START_TEST(test_map_model)
{
	enum { N = 2000, OPS = 200000 };
	peerop__map m = PEEROP__MAP_INIT;
	static intptr_t model[N];
	char key[32];
	int op;
	size_t count = 0, pos = 0, seen = 0;
	const char *k;
	void *v;

	memset(model, 0, sizeof(model));
	srand(42);
	for (op = 0; op < OPS; op++) {
		int i = rand() % N;
		snprintf(key, sizeof(key), "ns-%d/obj-%d", i % 7, i);
		switch (rand() % 3) {
		case 0:
		case 1: {
			intptr_t val = (intptr_t)op + 1;
			ck_assert_int_eq(peerop__map_put(&m, key, (void *)val, NULL), 0);
			if (!model[i])
				count++;
			model[i] = val;
			break;
		}
		default:
			ck_assert_ptr_eq(peerop__map_remove(&m, key), (void *)model[i]);
			if (model[i])
				count--;
			model[i] = 0;
		}
		if (op % 997 == 0) {
			int j;
			for (j = 0; j < N; j++) {
				snprintf(key, sizeof(key), "ns-%d/obj-%d", j % 7, j);
				ck_assert_ptr_eq(peerop__map_get(&m, key), (void *)model[j]);
			}
		}
		ck_assert_uint_eq(peerop__map_count(&m), count);
	}
	while (peerop__map_next(&m, &pos, &k, &v)) {
		int i = atoi(strchr(k, '-') + 1 + strcspn(strchr(k, '-') + 1, "-") + 1);
		(void)i;
		ck_assert_ptr_nonnull(v);
		seen++;
	}
	ck_assert_uint_eq(seen, count);
	peerop__map_dispose(&m);
}
END_TEST

typedef struct each_acc {
	size_t seen;
	uintptr_t sum;
	size_t stop_after;
} each_acc;

static int each_cb(const char *key, void *value, void *arg)
{
	each_acc *a = arg;
	ck_assert_ptr_nonnull(key);
	a->seen++;
	a->sum += (uintptr_t)value;
	return a->stop_after && a->seen == a->stop_after;
}

/* peerop__map_each visits every entry once, and stops when asked. */
START_TEST(test_map_each)
{
	peerop__map m = PEEROP__MAP_INIT;
	each_acc a = { 0, 0, 0 };
	char key[32];
	uintptr_t i, want = 0;
	peerop__map_each(&m, each_cb, &a);
	ck_assert_uint_eq(a.seen, 0);
	for (i = 1; i <= 500; i++) {
		snprintf(key, sizeof(key), "k%u", (unsigned)i);
		ck_assert_int_eq(peerop__map_put(&m, key, (void *)i, NULL), 0);
		want += i;
	}
	for (i = 1; i <= 500; i += 5) {
		snprintf(key, sizeof(key), "k%u", (unsigned)i);
		ck_assert_ptr_eq(peerop__map_remove(&m, key), (void *)i);
		want -= i;
	}
	peerop__map_each(&m, each_cb, &a);
	ck_assert_uint_eq(a.seen, 400);
	ck_assert_uint_eq(a.sum, want);
	a.seen = 0;
	a.stop_after = 7;
	peerop__map_each(&m, each_cb, &a);
	ck_assert_uint_eq(a.seen, 7);
	peerop__map_dispose(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("map");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_basic);
	tcase_add_test(tc, test_map_model);
	tcase_add_test(tc, test_map_each);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
