/*
 * test_http_range.c — the Range header of the HTTP service (RFC 9110
 * section 14.1.1): the three forms of one byte range, what is
 * unsatisfiable (416), what is ignored (200 with the whole file), the
 * case-insensitive unit and the list syntax of a range-set, and hostile
 * text (huge numbers, whitespace, signs, lists).  Each test is a table
 * of headers and the answer each must get.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/http_range.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

/* One header against one file size.  want: 1 (206 with [first, last]),
 * 0 (ignored: 200, the whole file) or -1 (416); first and last only
 * matter for 1 (the other rows say 0, 0). */
struct range_case {
	const char *header;
	uint64_t size;
	int want;
	uint64_t first, last;
};

/* Parse every row and check the result; the out-parameters must stay
 * untouched unless a range is returned. */
static void expect_cases(const struct range_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct range_case *c = &cases[i];
		const char *shown = c->header ? c->header : "(null)";
		uint64_t first = SENTINEL, last = SENTINEL;
		int r = http_range_parse(c->header, c->size, &first, &last);

		if (r != c->want)
			fail_msg("'%s' size %llu: got %d, want %d", shown,
				 (unsigned long long)c->size, r, c->want);
		if (c->want == 1 && (first != c->first || last != c->last))
			fail_msg("'%s' size %llu: got %llu-%llu, want %llu-%llu", shown,
				 (unsigned long long)c->size, (unsigned long long)first,
				 (unsigned long long)last, (unsigned long long)c->first,
				 (unsigned long long)c->last);
		if (c->want != 1 && (first != SENTINEL || last != SENTINEL))
			fail_msg("'%s' size %llu: out-parameters written on %d", shown,
				 (unsigned long long)c->size, r);
	}
}

#define EXPECT_CASES(cases) expect_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_forms(void **state)
{
	static const struct range_case cases[] = {
	    {"bytes=0-0", 100, 1, 0, 0},
	    {"bytes=0-99", 100, 1, 0, 99},
	    {"bytes=10-19", 100, 1, 10, 19},
	    {"bytes=10-", 100, 1, 10, 99},
	    {"bytes=99-", 100, 1, 99, 99},
	    {"bytes=-1", 100, 1, 99, 99},
	    {"bytes=-10", 100, 1, 90, 99},
	    {"bytes=-100", 100, 1, 0, 99},
	    /* leading zeros are digits like any other (1*DIGIT) */
	    {"bytes=007-0010", 100, 1, 7, 10},
	};

	EXPECT_CASES(cases);
}

static void test_clamped(void **state)
{
	/* A last-pos at or past the end means "to the end"; a suffix longer
	 * than the file means the whole file (section 14.1.1). */
	static const struct range_case cases[] = {
	    {"bytes=0-100", 100, 1, 0, 99},
	    {"bytes=50-1000000", 100, 1, 50, 99},
	    {"bytes=0-18446744073709551615", 100, 1, 0, 99},
	    {"bytes=-101", 100, 1, 0, 99},
	    {"bytes=-18446744073709551615", 100, 1, 0, 99},
	    {"bytes=0-", UINT64_MAX, 1, 0, UINT64_MAX - 1},
	    {"bytes=-1", UINT64_MAX, 1, UINT64_MAX - 1, UINT64_MAX - 1},
	};

	EXPECT_CASES(cases);
}

static void test_unsatisfiable(void **state)
{
	static const struct range_case cases[] = {
	    {"bytes=100-", 100, -1, 0, 0},
	    {"bytes=100-200", 100, -1, 0, 0},
	    {"bytes=18446744073709551615-", 100, -1, 0, 0},
	    {"bytes=0-", 0, -1, 0, 0},
	    {"bytes=0-0", 0, -1, 0, 0},
	    {"bytes=-1", 0, -1, 0, 0},
	    /* a suffix of zero bytes selects nothing */
	    {"bytes=-0", 100, -1, 0, 0},
	    /* first > last is invalid (section 14.1.1); refused, not swapped */
	    {"bytes=20-10", 100, -1, 0, 0},
	    {"bytes=1-0", 100, -1, 0, 0},
	};

	EXPECT_CASES(cases);
}

static void test_garbage(void **state)
{
	static const struct range_case cases[] = {
	    {"bytes=", 100, -1, 0, 0},
	    {"bytes=-", 100, -1, 0, 0},
	    {"bytes=10", 100, -1, 0, 0},
	    {"bytes=a-b", 100, -1, 0, 0},
	    {"bytes=1-2-3", 100, -1, 0, 0},
	    {"bytes=--5", 100, -1, 0, 0},
	    {"bytes=+1-2", 100, -1, 0, 0},
	    {"bytes=1-+2", 100, -1, 0, 0},
	    {"bytes=0x10-20", 100, -1, 0, 0},
	    {"bytes=1-2\n", 100, -1, 0, 0},
	    /* whitespace is not in the grammar of one range-spec, and the list
	     * rule allows it only beside a comma (section 5.6.1) */
	    {"bytes= 1-2", 100, -1, 0, 0},
	    {"bytes=\t1-2", 100, -1, 0, 0},
	    {"bytes=1 -2", 100, -1, 0, 0},
	    {"bytes=1- 2", 100, -1, 0, 0},
	    {"bytes=1-2 ", 100, -1, 0, 0},
	    {"bytes=- 5", 100, -1, 0, 0},
	};

	EXPECT_CASES(cases);
}

static void test_overflow(void **state)
{
	static const struct range_case cases[] = {
	    /* 2^64: no 64-bit first-pos is that large, so it is past any end */
	    {"bytes=18446744073709551616-", 100, -1, 0, 0},
	    {"bytes=99999999999999999999999999999999-", 100, -1, 0, 0},
	    /* A last-pos or suffix past 2^64 is past any end: to the end, the
	     * whole file (section 14.1.1).  These were refused with 416 before. */
	    {"bytes=0-18446744073709551616", 100, 1, 0, 99},
	    {"bytes=5-99999999999999999999999999999999", 100, 1, 5, 99},
	    {"bytes=-18446744073709551616", 100, 1, 0, 99},
	    {"bytes=-99999999999999999999999999999999", 100, 1, 0, 99},
	    /* Leading zeros are digits, however many (were refused past 23). */
	    {"bytes=000000000000000000000000001-000000000000000000000000005", 100, 1, 1, 5},
	    {"bytes=-0000000000000000000000000000000000000001", 100, 1, 99, 99},
	    {"bytes=-00000000000000000000000000000", 100, -1, 0, 0},
	};

	EXPECT_CASES(cases);
}

static void test_ignored(void **state)
{
	static const struct range_case cases[] = {
	    {NULL, 100, 0, 0, 0},
	    {"", 100, 0, 0, 0},
	    /* another unit: an origin server must ignore it (section 14.2) */
	    {"items=0-5", 100, 0, 0, 0},
	    {"items=1-2", 100, 0, 0, 0},
	    {"ITEMS=1-2", 100, 0, 0, 0},
	    {"bytes 0-5", 100, 0, 0, 0},
	    {"byte=0-5", 100, 0, 0, 0},
	    {"bytesx=0-5", 100, 0, 0, 0},
	    /* no OWS around "=" in ranges-specifier: "bytes " is not our unit */
	    {"bytes =1-2", 100, 0, 0, 0},
	    /* several ranges: the whole file, which section 14.2 allows */
	    {"bytes=0-5,10-20", 100, 0, 0, 0},
	    {"bytes=0-5, 10-20", 100, 0, 0, 0},
	    {"bytes=500-600,700-800", 100, 0, 0, 0},
	};

	EXPECT_CASES(cases);
}

/* Section 14.1: range units are case-insensitive. */
static void test_unit_case(void **state)
{
	static const struct range_case cases[] = {
	    /* served, as "bytes=" is */
	    {"Bytes=0-1", 100, 1, 0, 1},
	    {"BYTES=1-2", 100, 1, 1, 2},
	    {"bYtEs=-10", 100, 1, 90, 99},
	    /* refused and ignored as "bytes=" is, too */
	    {"BYTES=100-", 100, -1, 0, 0},
	    {"BYTES=a-b", 100, -1, 0, 0},
	    {"BYTES=0-5,10-20", 100, 0, 0, 0},
	};

	EXPECT_CASES(cases);
}

/* Section 14.1.1: range-set = 1#range-spec; the list rule of section
 * 5.6.1 allows OWS (SP / HTAB) on both sides of each comma and makes a
 * recipient ignore empty elements.  Several ranges are still ignored;
 * one range with empty elements around it is that range; a malformed
 * element anywhere, or no element at all, is refused. */
static void test_range_set(void **state)
{
	static const struct range_case cases[] = {
	    /* several ranges: ignored, however the commas are spaced */
	    {"bytes=1-2 , 4-5", 100, 0, 0, 0},
	    {"bytes=1-2 ,4-5", 100, 0, 0, 0},
	    {"bytes=1-2\t,\t4-5", 100, 0, 0, 0},
	    {"bytes=1-2  ,  4-5  ,  -3", 100, 0, 0, 0},
	    {"bytes=1-2,,4-5", 100, 0, 0, 0},
	    /* one range among empty elements: that range, judged alone */
	    {"bytes=1-2,", 100, 1, 1, 2},
	    {"bytes=1-2 , ", 100, 1, 1, 2},
	    {"bytes=, 1-2", 100, 1, 1, 2},
	    {"bytes=,,-5,", 100, 1, 95, 99},
	    {"bytes=100-,", 100, -1, 0, 0},
	    /* no range at all, or a malformed element anywhere: refused */
	    {"bytes=,", 100, -1, 0, 0},
	    {"bytes= , ", 100, -1, 0, 0},
	    {"bytes=1-2 4-5", 100, -1, 0, 0},
	    {"bytes=1-2, x", 100, -1, 0, 0},
	    {"bytes=1-2, 4 -5", 100, -1, 0, 0},
	    {"bytes=1-2, 5-4", 100, -1, 0, 0},
	    {"bytes=1-2 ;, 4-5", 100, -1, 0, 0},
	    /* OWS is SP and HTAB only */
	    {"bytes=1-2\n, 4-5", 100, -1, 0, 0},
	};

	EXPECT_CASES(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),	  cmocka_unit_test(test_clamped),
	    cmocka_unit_test(test_unsatisfiable), cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_overflow),	  cmocka_unit_test(test_ignored),
	    cmocka_unit_test(test_unit_case),	  cmocka_unit_test(test_range_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
