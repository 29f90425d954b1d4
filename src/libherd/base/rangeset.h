/*
 * rangeset.h — a set of byte ranges [offset, offset+length), kept sorted
 * and merged.  The used-block map is one; burn and build walk it to skip
 * free space, and verify reads back exactly its ranges.
 *
 * Adding is amortised O(1) (appended, then normalised lazily); every query
 * normalises first.  Zero-length additions are ignored.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t offset;
	uint64_t length;
};

struct rangeset {
	struct range *ranges;
	size_t count;
	size_t capacity;
	bool sorted; /* ranges are sorted, merged and non-overlapping */
};

#define RANGESET_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0, true                                                                   \
	}

/* Returns 0 or -ENOMEM; -EOVERFLOW when offset+length wraps. */
int rangeset_add(struct rangeset *set, uint64_t offset, uint64_t length);
/* Add every range of `other`, shifted by `shift`. */
int rangeset_add_set(struct rangeset *set, const struct rangeset *other, uint64_t shift);
/* Sort and merge touching or overlapping ranges. */
void rangeset_normalize(struct rangeset *set);
/* Total bytes covered (normalises). */
uint64_t rangeset_total(struct rangeset *set);
/* True if [offset, offset+length) lies wholly inside the set (normalises). */
bool rangeset_covers(struct rangeset *set, uint64_t offset, uint64_t length);
/* Clip to [0, limit). */
void rangeset_clip(struct rangeset *set, uint64_t limit);
/* Round every range outwards to multiples of `align` (a power of two),
 * then merge; used before sector-aligned I/O. */
void rangeset_align(struct rangeset *set, uint64_t align);
void rangeset_free(struct rangeset *set);
