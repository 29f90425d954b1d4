/*
 * ptable_internal.h — what mbr.c, gpt.c and ptable.c share and nobody else
 * sees: bounds-checked little-endian reads from a sector buffer, CRC32,
 * and helpers that append partitions, metadata ranges and warnings to a
 * struct ptable with their limits checked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk/ptable.h"

#define MBR_SECTOR_SIZE 512u

/* A byte buffer read from disk; reads outside it return 0 (callers only
 * use constant offsets inside the sector they read, so this is a guard,
 * not a code path). */
struct ptable_bytes {
	const uint8_t *data;
	size_t length;
};

static inline uint8_t ptable_u8(struct ptable_bytes b, size_t off)
{
	return off < b.length ? b.data[off] : 0;
}

static inline uint16_t ptable_le16(struct ptable_bytes b, size_t off)
{
	if (off > b.length || b.length - off < 2)
		return 0;
	return (uint16_t)(b.data[off] | b.data[off + 1] << 8);
}

static inline uint32_t ptable_le32(struct ptable_bytes b, size_t off)
{
	if (off > b.length || b.length - off < 4)
		return 0;
	return (uint32_t)b.data[off] | (uint32_t)b.data[off + 1] << 8 |
	       (uint32_t)b.data[off + 2] << 16 | (uint32_t)b.data[off + 3] << 24;
}

static inline uint64_t ptable_le64(struct ptable_bytes b, size_t off)
{
	return (uint64_t)ptable_le32(b, off) | (uint64_t)ptable_le32(b, off + 4) << 32;
}

/* CRC-32 as used by GPT (UEFI spec: the IEEE 802.3 polynomial, reflected,
 * initial value and final xor 0xffffffff). */
uint32_t ptable_crc32(const uint8_t *data, size_t length);

/* Append a partition (fields copied); -E2BIG past PTABLE_MAX_PARTITIONS. */
int ptable_add_partition(struct ptable *t, const struct ptable_partition *p,
			 struct herd_error *err);
/* Record a metadata byte range (silently merged/capped: the array is sized
 * for the worst case the readers allow). */
void ptable_add_meta(struct ptable *t, uint64_t offset, uint64_t length);
/* Append "; "-separated text to t->warning (truncated, never overflows). */
void ptable_add_warning(struct ptable *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Format a 16-byte on-disk GUID the way blkid and the kernel do: the first
 * three fields little-endian, the last two big-endian, lowercase. */
void ptable_format_guid(const uint8_t guid[16], char out[37]);

/* Parse an MBR whose sector 0 is `sector0` (signature already checked). */
int ptable_mbr_read(struct blockdev *bd, struct ptable_bytes sector0, struct ptable *t,
		    struct herd_error *err);

/* Look for a GPT header at LBA 1 for 512- then 4096-byte sectors.  Returns
 * 1 and fills t when one validates (primary or backup), 0 when there is no
 * "EFI PART" signature anywhere it looks (or, with require_primary, when
 * the primary header is not valid), <0 on error (including a GPT whose
 * primary and backup are both invalid). */
int ptable_gpt_read(struct blockdev *bd, bool require_primary, struct ptable *t,
		    struct herd_error *err);
