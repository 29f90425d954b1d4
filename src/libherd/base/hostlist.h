/*
 * hostlist.h — expansion of host-list expressions like cloudmesh's
 * `red00[1-4]`, `10.1.1.[1-3]`, `red[a-c]`, `r[1-2]x[1-2]`, `a,b`.
 *
 * Grammar (no nesting):
 *   list   := item (',' item)*          top-level commas separate items
 *   item   := (text | group)+
 *   group  := '[' range (',' range)* ']'
 *   range  := NUM | NUM '-' NUM | LETTER | LETTER '-' LETTER
 * Numeric ranges keep the zero padding of the low bound (width of lo when
 * lo has a leading zero: `[08-11]` → 08 09 10 11, `[1-03]` → 1 2 3).
 * Letter ranges step through letters of one case.  Several groups in one
 * item multiply, leftmost varying slowest.  Duplicates are dropped, first
 * kept, order preserved.
 *
 * Errors are -EINVAL with a message naming the problem and its 1-based
 * column: hi < lo, unbalanced or nested brackets, empty [] or empty
 * range, mixed letter/number range, stray characters in a group, empty
 * items; -E2BIG when the result would exceed `max` items (computed before
 * expanding anything).
 */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

#define HOSTLIST_MAX_DEFAULT 100000

/* Expand `expr` into *ret (a fresh vector; on failure *ret is untouched).
 * max 0 means HOSTLIST_MAX_DEFAULT. */
int hostlist_expand(const char *expr, size_t max, struct strv *ret, struct herd_error *err);

/* Number of items before duplicate removal; same errors as above. */
int hostlist_count(const char *expr, size_t max, size_t *ret, struct herd_error *err);
