/*
 * test_parse.c — bounded number parsing (base/parse.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/parse.h"

static void test_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_u64("4", 5, 10, &v), -ERANGE);
	v = 3;
	assert_int_equal(parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(v, 3); /* untouched on failure */
}

static void test_u32(void **state)
{
	uint32_t v;

	assert_int_equal(parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
}

static void test_size(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("4M", &v), 0);
	assert_true(v == 4ull << 20);
	assert_int_equal(parse_size("512k", &v), 0);
	assert_true(v == 512ull << 10);
	assert_int_equal(parse_size("2GiB", &v), 0);
	assert_true(v == 2ull << 30);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(parse_size("4X", &v), -EINVAL);
	assert_int_equal(parse_size("M", &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999T", &v), -ERANGE);
}

static void test_mode(void **state)
{
	uint32_t m;

	assert_int_equal(parse_mode("0644", &m), 0);
	assert_int_equal(m, 0644);
	assert_int_equal(parse_mode("4755", &m), 0);
	assert_int_equal(m, 04755);
	assert_int_equal(parse_mode("0800", &m), -EINVAL);
	assert_int_equal(parse_mode("17777", &m), -ERANGE);
	assert_int_equal(parse_mode("rw", &m), -EINVAL);
}

static void test_base64_char(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (int i = 0; i < 64; i++)
		assert_int_equal(parse_base64_char(alphabet[i]), i);
	assert_int_equal(parse_base64_char('='), -1);
	assert_int_equal(parse_base64_char('-'), -1);
	assert_int_equal(parse_base64_char('\0'), -1);
	assert_int_equal(parse_base64_char((char)0xc3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_u64),		cmocka_unit_test(test_u32),
	    cmocka_unit_test(test_size),	cmocka_unit_test(test_mode),
	    cmocka_unit_test(test_base64_char),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
