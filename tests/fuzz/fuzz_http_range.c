/*
 * fuzz_http_range.c — libFuzzer harness for the Range header parser of
 * the HTTP service (http_range_parse): the header comes from any client
 * on the network.
 *
 * Input: the first line is the file size in decimal (anything else is a
 * size taken from its bytes), the rest is the header text, NUL-terminated
 * in a buffer of exactly its size so a read past the end is caught.
 * Invariants: an accepted range always satisfies first <= last < size;
 * the out-parameters are untouched otherwise; an accepted range written
 * back as "bytes=first-last" parses to itself; text without the "bytes="
 * unit (any case) is ignored, never refused; "bytes=" without a comma is
 * always judged (206 or 416), never ignored; the answer does not change
 * when the unit is spelled "BYTES=" (RFC 9110 section 14.1) or when
 * every comma gets a space on each side (OWS, section 5.6.1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/parse.h"
#include "net/http_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0xa5a5a5a5a5a5a5a5ull

/* The same answer for `variant` as `r` with [first, last] for the original. */
static void check_same(const char *variant, uint64_t file_size, int r, uint64_t first,
		       uint64_t last)
{
	uint64_t f2 = SENTINEL, l2 = SENTINEL;

	if (http_range_parse(variant, file_size, &f2, &l2) != r)
		abort();
	if (r == 1 && (f2 != first || l2 != last))
		abort();
}

static void check(const char *header, uint64_t file_size)
{
	uint64_t first = SENTINEL, last = SENTINEL;
	int r = http_range_parse(header, file_size, &first, &last);
	size_t len = strlen(header);
	char again[64], *variant;

	if (r < -1 || r > 1)
		abort();
	if (r != 1) {
		if (first != SENTINEL || last != SENTINEL)
			abort();
	} else if (first > last || last >= file_size) {
		abort();
	}
	if (strncasecmp(header, "bytes=", 6) != 0) {
		if (r != 0)
			abort();
		return;
	}
	if (r == 0 && !strchr(header, ','))
		abort(); /* one "bytes=" range is always judged */
	if (r == 1) {
		snprintf(again, sizeof(again), "bytes=%llu-%llu", (unsigned long long)first,
			 (unsigned long long)last);
		check_same(again, file_size, 1, first, last);
	}

	variant = malloc(3 * len + 1);
	if (!variant)
		return;
	memcpy(variant, "BYTES=", 6);
	memcpy(variant + 6, header + 6, len - 6 + 1);
	check_same(variant, file_size, r, first, last);
	/* The unit has no comma, so every comma is in the range-set. */
	for (size_t i = 0, o = 0;; i++) {
		if (header[i] == ',') {
			memcpy(variant + o, " , ", 3);
			o += 3;
		} else {
			variant[o++] = header[i];
		}
		if (!header[i])
			break;
	}
	check_same(variant, file_size, r, first, last);
	free(variant);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	uint64_t file_size = 0;
	size_t hlen;
	char *line, *header;

	if (size > 4096)
		return 0;
	if (nl) {
		line = malloc((size_t)(nl - data) + 1);
		if (!line)
			return 0;
		memcpy(line, data, (size_t)(nl - data));
		line[nl - data] = '\0';
		if (parse_u64(line, 0, UINT64_MAX, &file_size) < 0)
			for (size_t i = 0; i < (size_t)(nl - data) && i < 8; i++)
				file_size = file_size << 8 | data[i];
		free(line);
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	hlen = size;
	header = malloc(hlen + 1);
	if (!header)
		return 0;
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	check(header, file_size);
	free(header);
	return 0;
}
