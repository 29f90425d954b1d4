/*
 * http_range.h — the Range request header of `herd serve`'s HTTP service
 * (RFC 9110 section 14), as a pure function of the header text and the
 * file size, so it can be unit-tested and fuzzed without a socket.
 *
 * One "bytes=" range is served: "first-last", "first-" and "-suffix";
 * the unit is case-insensitive ("Bytes=", section 14.1).  A range-set is
 * a comma-separated list with optional whitespace beside the commas and
 * empty elements ignored (section 5.6.1), so "bytes=, 0-5" is one range.
 * A list of several ranges, another range unit or no header at all mean
 * "send the whole file" (RFC 9110 section 14.2 lets a server ignore
 * Range); a malformed range anywhere in the set is refused.  This does
 * not build Content-Range or pick the status code; http.c does.
 */
#pragma once

#include <stdint.h>

/* Parse `header` (NULL: no Range header) against a file of `size` bytes.
 * Returns 1 with *ret_first <= *ret_last < size (answer 206), 0 to ignore
 * the header (answer 200 with the whole file), or -1 when the range
 * cannot be satisfied or is malformed (answer 416).  The out-parameters
 * are written only when 1 is returned. */
int http_range_parse(const char *header, uint64_t size, uint64_t *ret_first, uint64_t *ret_last);
