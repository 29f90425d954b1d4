/*
 * http_range.c — one "bytes=" Range header against a file size (see
 * http_range.h).  Pure string work: no allocation, no I/O.
 */
#include "net/http_range.h"

#include <string.h>

#include "base/parse.h"

int http_range_parse(const char *header, uint64_t size, uint64_t *ret_first, uint64_t *ret_last)
{
	char first_s[24], last_s[24];
	const char *spec, *dash;
	uint64_t first, last;

	if (!header || strncmp(header, "bytes=", 6) != 0)
		return 0;
	spec = header + 6;
	if (strchr(spec, ','))
		return 0;
	dash = strchr(spec, '-');
	if (!dash || (size_t)(dash - spec) >= sizeof(first_s) || strlen(dash + 1) >= sizeof(last_s))
		return -1;
	memcpy(first_s, spec, (size_t)(dash - spec));
	first_s[dash - spec] = '\0';
	memcpy(last_s, dash + 1, strlen(dash + 1) + 1);
	if (first_s[0] == '\0') {
		uint64_t suffix;

		/* "-N": the last N bytes. */
		if (parse_u64(last_s, 1, UINT64_MAX, &suffix) < 0 || size == 0)
			return -1;
		first = suffix >= size ? 0 : size - suffix;
		last = size - 1;
	} else {
		if (parse_u64(first_s, 0, UINT64_MAX, &first) < 0)
			return -1;
		if (last_s[0] == '\0')
			last = size ? size - 1 : 0;
		else if (parse_u64(last_s, 0, UINT64_MAX, &last) < 0 || last < first)
			return -1;
		if (first >= size)
			return -1;
		if (last >= size)
			last = size - 1;
	}
	*ret_first = first;
	*ret_last = last;
	return 1;
}
