/*
 * rangeset.c — sorted, merged byte-range sets (see rangeset.h).
 */
#include "rangeset.h"

#include <errno.h>
#include <stdlib.h>

int rangeset_add(struct rangeset *set, uint64_t offset, uint64_t length)
{
	if (length == 0)
		return 0;
	if (offset + length < offset)
		return -EOVERFLOW;
	if (set->count == set->capacity) {
		size_t cap = set->capacity ? set->capacity * 2 : 64;
		struct range *r = realloc(set->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		set->ranges = r;
		set->capacity = cap;
	}
	if (set->count > 0) {
		struct range *last = &set->ranges[set->count - 1];
		/* Fast path: extending the last range in order (allocation walks). */
		if (set->sorted && offset == last->offset + last->length) {
			last->length += length;
			return 0;
		}
		if (offset < last->offset + last->length)
			set->sorted = false;
	}
	set->ranges[set->count].offset = offset;
	set->ranges[set->count].length = length;
	set->count++;
	return 0;
}

int rangeset_add_set(struct rangeset *set, const struct rangeset *other, uint64_t shift)
{
	for (size_t i = 0; i < other->count; i++) {
		int r = rangeset_add(set, other->ranges[i].offset + shift, other->ranges[i].length);
		if (r < 0)
			return r;
	}
	return 0;
}

static int compare_ranges(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

void rangeset_normalize(struct rangeset *set)
{
	size_t out = 0;

	if (set->count == 0) {
		set->sorted = true;
		return;
	}
	if (!set->sorted)
		qsort(set->ranges, set->count, sizeof(*set->ranges), compare_ranges);
	for (size_t i = 1; i < set->count; i++) {
		struct range *cur = &set->ranges[out];
		const struct range *next = &set->ranges[i];
		uint64_t end = cur->offset + cur->length;
		if (next->offset <= end) {
			uint64_t nend = next->offset + next->length;
			if (nend > end)
				cur->length = nend - cur->offset;
		} else {
			set->ranges[++out] = *next;
		}
	}
	set->count = out + 1;
	set->sorted = true;
}

uint64_t rangeset_total(struct rangeset *set)
{
	uint64_t total = 0;

	rangeset_normalize(set);
	for (size_t i = 0; i < set->count; i++)
		total += set->ranges[i].length;
	return total;
}

bool rangeset_covers(struct rangeset *set, uint64_t offset, uint64_t length)
{
	size_t lo = 0, hi;

	rangeset_normalize(set);
	if (length == 0)
		return true;
	hi = set->count;
	/* Binary search for the last range starting at or before offset. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct range *r = &set->ranges[lo - 1];
	return offset + length <= r->offset + r->length;
}

void rangeset_clip(struct rangeset *set, uint64_t limit)
{
	size_t out = 0;

	rangeset_normalize(set);
	for (size_t i = 0; i < set->count; i++) {
		struct range r = set->ranges[i];
		if (r.offset >= limit)
			break;
		if (r.offset + r.length > limit)
			r.length = limit - r.offset;
		set->ranges[out++] = r;
	}
	set->count = out;
}

void rangeset_align(struct rangeset *set, uint64_t align)
{
	for (size_t i = 0; i < set->count; i++) {
		struct range *r = &set->ranges[i];
		uint64_t start = r->offset & ~(align - 1);
		uint64_t end = (r->offset + r->length + align - 1) & ~(align - 1);
		r->offset = start;
		r->length = end - start;
	}
	set->sorted = false;
	rangeset_normalize(set);
}

void rangeset_free(struct rangeset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = set->capacity = 0;
	set->sorted = true;
}
