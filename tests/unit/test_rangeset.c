/*
 * test_rangeset.c — byte-range sets (base/rangeset.c): merging, totals,
 * coverage queries, clipping and alignment, against a bitmap model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/rangeset.h"

static void test_merge(void **state)
{
	struct rangeset s = RANGESET_INIT;

	assert_int_equal(rangeset_add(&s, 100, 10), 0);
	assert_int_equal(rangeset_add(&s, 0, 10), 0);
	assert_int_equal(rangeset_add(&s, 10, 5), 0);	/* touches [0,10) */
	assert_int_equal(rangeset_add(&s, 105, 20), 0); /* overlaps [100,110) */
	assert_int_equal(rangeset_add(&s, 50, 0), 0);	/* ignored */
	assert_int_equal(rangeset_total(&s), 15 + 25);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.ranges[0].offset, 0);
	assert_int_equal(s.ranges[0].length, 15);
	assert_int_equal(s.ranges[1].offset, 100);
	assert_int_equal(s.ranges[1].length, 25);
	assert_true(rangeset_covers(&s, 100, 25));
	assert_false(rangeset_covers(&s, 99, 2));
	assert_false(rangeset_covers(&s, 14, 2));
	assert_true(rangeset_covers(&s, 3, 0));
	assert_int_equal(rangeset_add(&s, UINT64_MAX, 2), -EOVERFLOW);
	rangeset_free(&s);
}

static void test_clip_align(void **state)
{
	struct rangeset s = RANGESET_INIT;

	rangeset_add(&s, 10, 10);
	rangeset_add(&s, 600, 10);
	rangeset_add(&s, 1000, 100);
	rangeset_align(&s, 512);
	assert_int_equal(s.count, 1); /* [0,512) [512,1024) [512,1536) merge */
	assert_int_equal(s.ranges[0].offset, 0);
	assert_int_equal(s.ranges[0].length, 1536);
	rangeset_clip(&s, 700);
	assert_int_equal(rangeset_total(&s), 700);
	rangeset_free(&s);
}

/* Random ranges against a bitmap of 4096 bytes. */
static void test_model(void **state)
{
	unsigned seed = 12345;

	for (int round = 0; round < 200; round++) {
		struct rangeset s = RANGESET_INIT, t = RANGESET_INIT;
		unsigned char model[4096] = {0};
		uint64_t want = 0;

		for (int i = 0; i < 30; i++) {
			uint64_t off = (uint64_t)(rand_r(&seed) % 4000);
			uint64_t len = (uint64_t)(rand_r(&seed) % 96);
			assert_int_equal(rangeset_add(&s, off, len), 0);
			memset(model + off, 1, len);
		}
		for (size_t i = 0; i < sizeof(model); i++)
			want += model[i];
		assert_int_equal(rangeset_total(&s), want);
		for (size_t i = 1; i < s.count; i++)
			assert_true(s.ranges[i - 1].offset + s.ranges[i - 1].length <
				    s.ranges[i].offset);
		for (int q = 0; q < 100; q++) {
			uint64_t off = (uint64_t)(rand_r(&seed) % 4000);
			uint64_t len = 1 + (uint64_t)(rand_r(&seed) % 50);
			bool all = true;
			for (uint64_t k = off; k < off + len; k++)
				all = all && model[k];
			assert_int_equal(rangeset_covers(&s, off, len), all);
		}
		assert_int_equal(rangeset_add_set(&t, &s, 10000), 0);
		assert_int_equal(rangeset_total(&t), want);
		assert_true(t.ranges[0].offset >= 10000);
		rangeset_free(&s);
		rangeset_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_clip_align),
	    cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
