/*
 * http_range.c — one "bytes=" Range header against a file size (see
 * http_range.h).  Pure string work: no allocation, no copy, no I/O.
 *
 * RFC 9110 section 14.1.1: ranges-specifier = range-unit "=" range-set,
 * range-set = 1#range-spec; for bytes a range-spec is first-pos "-"
 * [ last-pos ] or the suffix-range "-" suffix-length, each a run of
 * 1*DIGIT.  The unit is a case-insensitive token (section 14.1).  The
 * list rule (section 5.6.1) puts optional whitespace (OWS: SP / HTAB)
 * only beside the commas — "bytes= 1-2" and "bytes=1-2 " stay malformed —
 * and a recipient ignores empty elements ("bytes=1-2,,").  A last-pos at
 * or past the end, or a suffix longer than the file, selects up to the
 * end; a number too large for 64 bits is simply such a number, so it is
 * saturated rather than refused (a client may ask for "bytes=0-" spelled
 * with a huge last-pos, and leading zeros are digits like any other).
 */
#include "net/http_range.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* One byte-range-spec as written: "-suffix" or "first-[last]". */
struct range_spec {
	bool is_suffix;
	uint64_t first; /* first-pos, or the suffix-length */
	uint64_t last;	/* last-pos; UINT64_MAX when absent */
};

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

/* The grammar of one range-spec in [p, end), no whitespace in it.  A
 * first-pos above last-pos is invalid (section 14.1.1): refused, not
 * swapped. */
static bool range_spec_parse(const char *p, const char *end, struct range_spec *ret)
{
	const char *dash = memchr(p, '-', (size_t)(end - p));

	if (!dash)
		return false;
	if (dash == p) {
		ret->is_suffix = true;
		ret->last = UINT64_MAX;
		return range_number(dash + 1, end, &ret->first);
	}
	ret->is_suffix = false;
	if (!range_number(p, dash, &ret->first))
		return false;
	if (dash + 1 == end) {
		ret->last = UINT64_MAX;
		return true;
	}
	return range_number(dash + 1, end, &ret->last) && ret->last >= ret->first;
}

/* A well-formed range-spec against the file: 1 with the bytes it selects,
 * -1 when it selects none. */
static int range_spec_select(const struct range_spec *spec, uint64_t size, uint64_t *ret_first,
			     uint64_t *ret_last)
{
	if (spec->is_suffix) {
		/* "-N": the last N bytes; none of an empty file, nothing for N = 0. */
		if (spec->first == 0 || size == 0)
			return -1;
		*ret_first = spec->first >= size ? 0 : size - spec->first;
		*ret_last = size - 1;
		return 1;
	}
	if (spec->first >= size)
		return -1;
	*ret_first = spec->first;
	*ret_last = spec->last >= size ? size - 1 : spec->last;
	return 1;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int http_range_parse(const char *header, uint64_t size, uint64_t *ret_first, uint64_t *ret_last)
{
	struct range_spec spec = {0};
	const char *p;
	size_t count = 0;
	bool after_comma = false;

	/* Another unit: ignored, as section 14.2 requires of an origin server. */
	if (!header || strncasecmp(header, "bytes=", 6) != 0)
		return 0;
	/* Every element is checked, so a malformed one anywhere is refused;
	 * only the last well-formed one is kept, which is all that is served. */
	for (p = header + 6;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);

		if (after_comma)
			while (p < end && is_ows(*p))
				p++;
		if (comma)
			while (end > p && is_ows(end[-1]))
				end--;
		if (p < end) {
			if (!range_spec_parse(p, end, &spec))
				return -1;
			count++;
		}
		if (!comma)
			break;
		p = comma + 1;
		after_comma = true;
	}
	/* 1#range-spec: at least one. */
	if (count == 0)
		return -1;
	/* Several ranges: the whole file (section 14.2 lets us ignore Range). */
	if (count > 1)
		return 0;
	return range_spec_select(&spec, size, ret_first, ret_last);
}
