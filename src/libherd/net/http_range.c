/*
 * http_range.c — one "bytes=" Range header against a file size (see
 * http_range.h).  Pure string work: no allocation, no copy, no I/O.
 *
 * RFC 9110 section 14.1.1: byte-range-spec = first-pos "-" [ last-pos ],
 * suffix-range = "-" suffix-length, each a run of 1*DIGIT.  A last-pos at
 * or past the end, or a suffix longer than the file, selects up to the
 * end; a number too large for 64 bits is simply such a number, so it is
 * saturated rather than refused (a client may ask for "bytes=0-" spelled
 * with a huge last-pos, and leading zeros are digits like any other).
 */
#include "net/http_range.h"

#include <stdbool.h>
#include <string.h>

/* The digits of [p, end) as a number, UINT64_MAX when it does not fit.
 * False when the span is empty or holds anything but digits. */
static bool range_number(const char *p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9)
			return false;
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*ret = v;
	return true;
}

int http_range_parse(const char *header, uint64_t size, uint64_t *ret_first, uint64_t *ret_last)
{
	const char *spec, *dash, *end;
	uint64_t first, last;

	if (!header || strncmp(header, "bytes=", 6) != 0)
		return 0;
	spec = header + 6;
	/* Several ranges: the whole file (section 14.2 lets us ignore Range). */
	if (strchr(spec, ','))
		return 0;
	dash = strchr(spec, '-');
	if (!dash)
		return -1;
	end = dash + 1 + strlen(dash + 1);
	if (dash == spec) {
		uint64_t suffix;

		/* "-N": the last N bytes; none of an empty file, nothing for N = 0. */
		if (!range_number(dash + 1, end, &suffix) || suffix == 0 || size == 0)
			return -1;
		first = suffix >= size ? 0 : size - suffix;
		last = size - 1;
	} else {
		if (!range_number(spec, dash, &first))
			return -1;
		if (dash + 1 == end)
			last = UINT64_MAX;
		else if (!range_number(dash + 1, end, &last) || last < first)
			return -1; /* first > last is invalid: refused, not swapped */
		if (first >= size)
			return -1;
		if (last >= size)
			last = size - 1;
	}
	*ret_first = first;
	*ret_last = last;
	return 1;
}
