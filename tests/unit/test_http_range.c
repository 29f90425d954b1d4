/*
 * test_http_range.c — the Range header of the HTTP service (RFC 9110
 * section 14.1.1): the three forms of one byte range, what is
 * unsatisfiable (416), what is ignored (200 with the whole file), and
 * hostile text (huge numbers, whitespace, signs, lists).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http_range.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

/* Parse and check the result; the out-parameters must stay untouched
 * unless a range is returned. */
static void expect(const char *header, uint64_t size, int want, uint64_t want_first,
		   uint64_t want_last)
{
	uint64_t first = SENTINEL, last = SENTINEL;
	int r = http_range_parse(header, size, &first, &last);

	if (r != want)
		fail_msg("'%s' size %llu: got %d, want %d", header ? header : "(null)",
			 (unsigned long long)size, r, want);
	if (want == 1) {
		assert_int_equal(first, want_first);
		assert_int_equal(last, want_last);
	} else {
		assert_int_equal(first, SENTINEL);
		assert_int_equal(last, SENTINEL);
	}
}

static void test_forms(void **state)
{
	expect("bytes=0-0", 100, 1, 0, 0);
	expect("bytes=0-99", 100, 1, 0, 99);
	expect("bytes=10-19", 100, 1, 10, 19);
	expect("bytes=10-", 100, 1, 10, 99);
	expect("bytes=99-", 100, 1, 99, 99);
	expect("bytes=-1", 100, 1, 99, 99);
	expect("bytes=-10", 100, 1, 90, 99);
	expect("bytes=-100", 100, 1, 0, 99);
	/* leading zeros are digits like any other (1*DIGIT) */
	expect("bytes=007-0010", 100, 1, 7, 10);
}

static void test_clamped(void **state)
{
	/* A last-pos at or past the end means "to the end"; a suffix longer
	 * than the file means the whole file (section 14.1.1). */
	expect("bytes=0-100", 100, 1, 0, 99);
	expect("bytes=50-1000000", 100, 1, 50, 99);
	expect("bytes=0-18446744073709551615", 100, 1, 0, 99);
	expect("bytes=-101", 100, 1, 0, 99);
	expect("bytes=-18446744073709551615", 100, 1, 0, 99);
	expect("bytes=0-", UINT64_MAX, 1, 0, UINT64_MAX - 1);
	expect("bytes=-1", UINT64_MAX, 1, UINT64_MAX - 1, UINT64_MAX - 1);
}

static void test_unsatisfiable(void **state)
{
	expect("bytes=100-", 100, -1, 0, 0);
	expect("bytes=100-200", 100, -1, 0, 0);
	expect("bytes=18446744073709551615-", 100, -1, 0, 0);
	expect("bytes=0-", 0, -1, 0, 0);
	expect("bytes=0-0", 0, -1, 0, 0);
	expect("bytes=-1", 0, -1, 0, 0);
	/* a suffix of zero bytes selects nothing */
	expect("bytes=-0", 100, -1, 0, 0);
	/* first > last is invalid (section 14.1.1); refused, not swapped */
	expect("bytes=20-10", 100, -1, 0, 0);
	expect("bytes=1-0", 100, -1, 0, 0);
}

static void test_garbage(void **state)
{
	expect("bytes=", 100, -1, 0, 0);
	expect("bytes=-", 100, -1, 0, 0);
	expect("bytes=10", 100, -1, 0, 0);
	expect("bytes=a-b", 100, -1, 0, 0);
	expect("bytes=1-2-3", 100, -1, 0, 0);
	expect("bytes=--5", 100, -1, 0, 0);
	expect("bytes=+1-2", 100, -1, 0, 0);
	expect("bytes=1-+2", 100, -1, 0, 0);
	expect("bytes=0x10-20", 100, -1, 0, 0);
	expect("bytes=1-2\n", 100, -1, 0, 0);
	/* whitespace is not in the grammar of one range-spec */
	expect("bytes= 1-2", 100, -1, 0, 0);
	expect("bytes=1 -2", 100, -1, 0, 0);
	expect("bytes=1- 2", 100, -1, 0, 0);
	expect("bytes=1-2 ", 100, -1, 0, 0);
	expect("bytes=- 5", 100, -1, 0, 0);
}

static void test_overflow(void **state)
{
	/* 2^64: no 64-bit first-pos is that large, so it is past any end */
	expect("bytes=18446744073709551616-", 100, -1, 0, 0);
	expect("bytes=99999999999999999999999999999999-", 100, -1, 0, 0);
	/* A last-pos or suffix past 2^64 is past any end: to the end, the
	 * whole file (section 14.1.1).  These were refused with 416 before. */
	expect("bytes=0-18446744073709551616", 100, 1, 0, 99);
	expect("bytes=5-99999999999999999999999999999999", 100, 1, 5, 99);
	expect("bytes=-18446744073709551616", 100, 1, 0, 99);
	expect("bytes=-99999999999999999999999999999999", 100, 1, 0, 99);
	/* Leading zeros are digits, however many (were refused past 23). */
	expect("bytes=000000000000000000000000001-000000000000000000000000005", 100, 1, 1, 5);
	expect("bytes=-0000000000000000000000000000000000000001", 100, 1, 99, 99);
	expect("bytes=-00000000000000000000000000000", 100, -1, 0, 0);
}

static void test_ignored(void **state)
{
	expect(NULL, 100, 0, 0, 0);
	expect("", 100, 0, 0, 0);
	expect("items=0-5", 100, 0, 0, 0);
	expect("bytes 0-5", 100, 0, 0, 0);
	expect("byte=0-5", 100, 0, 0, 0);
	/* several ranges: the whole file, which section 14.2 allows */
	expect("bytes=0-5,10-20", 100, 0, 0, 0);
	expect("bytes=0-5, 10-20", 100, 0, 0, 0);
	expect("bytes=,", 100, 0, 0, 0);
	expect("bytes=500-600,700-800", 100, 0, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),	  cmocka_unit_test(test_clamped),
	    cmocka_unit_test(test_unsatisfiable), cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_overflow),	  cmocka_unit_test(test_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
