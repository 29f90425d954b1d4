/*
 * test_hostlist.c — every semantic and error case of host-list expansion
 * (issue: foundation, scope 5).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/hostlist.h"

/* Expand and compare against a space-separated expectation. */
static void expect(const char *expr, const char *want)
{
	struct herd_error err = {0};
	struct strv out = STRV_INIT;
	char joined[8192] = "";
	size_t pos = 0;

	if (hostlist_expand(expr, 0, &out, &err) != 0)
		fail_msg("'%s' failed: %s", expr, err.message);
	for (size_t i = 0; i < out.count; i++)
		pos += (size_t)snprintf(joined + pos, sizeof(joined) - pos, "%s%s", i ? " " : "",
					out.items[i]);
	if (strcmp(joined, want) != 0)
		fail_msg("'%s' gave '%s', want '%s'", expr, joined, want);
	strv_free(&out);
}

/* Expect an error code and a message containing `fragment`. */
static void expect_error(const char *expr, int code, const char *fragment)
{
	struct herd_error err = {0};
	struct strv out = STRV_INIT;
	int r = hostlist_expand(expr, 0, &out, &err);

	if (r != code)
		fail_msg("'%s' returned %d, want %d (%s)", expr, r, code, err.message);
	if (!strstr(err.message, fragment))
		fail_msg("'%s': message '%s' lacks '%s'", expr, err.message, fragment);
	assert_null(out.items);
}

static void test_plain_and_commas(void **state)
{
	expect("red", "red");
	expect("a,b", "a b");
	expect("a,b,c", "a b c");
}

static void test_numeric_padding(void **state)
{
	expect("red00[1-2]", "red001 red002");
	expect("red[08-11]", "red08 red09 red10 red11");
	expect("red[1-03]", "red1 red2 red3");
	expect("red[001-003]", "red001 red002 red003");
	expect("n[9-11]", "n9 n10 n11");
	expect("n[0-2]", "n0 n1 n2");
	expect("n[5]", "n5");
	expect("n[05]", "n05");
}

static void test_letters(void **state)
{
	expect("red[a-c]", "reda redb redc");
	expect("/dev/sd[a-c]", "/dev/sda /dev/sdb /dev/sdc");
	expect("x[A-C]", "xA xB xC");
	expect("x[q]", "xq");
}

static void test_group_lists(void **state)
{
	expect("red[01-03,07]", "red01 red02 red03 red07");
	expect("red[1,3,5-6]", "red1 red3 red5 red6");
	expect("n[1,a]", "n1 na");
}

static void test_multiply(void **state)
{
	expect("r[1-2]x[1-2]", "r1x1 r1x2 r2x1 r2x2");
	expect("[a-b][1-2]", "a1 a2 b1 b2");
	expect("r[1-2]-[a-b]-z", "r1-a-z r1-b-z r2-a-z r2-b-z");
}

static void test_addresses(void **state)
{
	expect("10.1.1.[1-3]", "10.1.1.1 10.1.1.2 10.1.1.3");
	expect("10.1.[1-2].[1-2]", "10.1.1.1 10.1.1.2 10.1.2.1 10.1.2.2");
	expect("10.1.1.[11-14]", "10.1.1.11 10.1.1.12 10.1.1.13 10.1.1.14");
}

static void test_duplicates(void **state)
{
	expect("pi[1-2],pi1", "pi1 pi2");
	expect("b,a,b,a", "b a");
	expect("n[1-3,2-4]", "n1 n2 n3 n4");
}

static void test_errors(void **state)
{
	expect_error("x[3-1]", -EINVAL, "below lower bound");
	expect_error("x[c-a]", -EINVAL, "below lower bound");
	expect_error("x[1-3", -EINVAL, "unclosed '[' at column 2");
	expect_error("x[", -EINVAL, "unclosed '['");
	expect_error("x1-3]", -EINVAL, "unbalanced ']' at column 5");
	expect_error("x[[1-2]]", -EINVAL, "nested '['");
	expect_error("x[1[2]]", -EINVAL, "nested '['");
	expect_error("x[]", -EINVAL, "empty [] at column 2");
	expect_error("x[1,]", -EINVAL, "empty range");
	expect_error("x[1-c]", -EINVAL, "mixed letter/number range");
	expect_error("x[a-3]", -EINVAL, "mixed letter/number range");
	expect_error("x[a-C]", -EINVAL, "upper and lower case");
	expect_error("x[1-]", -EINVAL, "without upper bound");
	expect_error("x[ab]", -EINVAL, "single letters");
	expect_error("x[1 2]", -EINVAL, "unexpected ' '");
	expect_error("", -EINVAL, "empty host list");
	expect_error("a,,b", -EINVAL, "empty item at column 3");
	expect_error("a,", -EINVAL, "empty item");
	expect_error(",a", -EINVAL, "empty item at column 1");
	expect_error("n[1234567890123456789]", -EINVAL, "number too long");
}

static void test_limit(void **state)
{
	struct herd_error err = {0};
	struct strv out = STRV_INIT;
	size_t n = 0;

	/* Exactly at the limit works; one past it is refused before expanding. */
	assert_int_equal(hostlist_expand("n[1-100000]", 0, &out, &err), 0);
	assert_int_equal(out.count, 100000);
	assert_string_equal(out.items[99999], "n100000");
	strv_free(&out);
	expect_error("n[1-100001]", -E2BIG, "more than 100000");
	/* Products are counted before anything is built. */
	expect_error("a[1-1000]b[1-1000]", -E2BIG, "more than 100000");
	expect_error("a[0-999999999999]", -E2BIG, "more than 100000");
	expect_error("n[1-60000],m[1-60000]", -E2BIG, "more than 100000");
	/* Custom limit, and the count function agrees. */
	assert_int_equal(hostlist_expand("n[1-5]", 4, &out, &err), -E2BIG);
	assert_int_equal(hostlist_count("r[1-2]x[1-3],r1x1", 0, &n, &err), 0);
	assert_int_equal(n, 7);
}

static void test_output_untouched_on_error(void **state)
{
	struct strv out = STRV_INIT;
	struct herd_error err = {0};

	assert_int_equal(strv_push(&out, "keep"), 0);
	struct strv before = out;
	assert_int_equal(hostlist_expand("x[2-1]", 0, &out, &err), -EINVAL);
	assert_ptr_equal(out.items, before.items);
	assert_int_equal(out.count, 1);
	strv_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_commas),
	    cmocka_unit_test(test_numeric_padding),
	    cmocka_unit_test(test_letters),
	    cmocka_unit_test(test_group_lists),
	    cmocka_unit_test(test_multiply),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_output_untouched_on_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
