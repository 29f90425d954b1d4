/*
 * ptable.c — probing for a partition table and the checks common to all
 * formats (see ptable.h); the formats themselves are mbr.c and gpt.c.
 *
 * Probe order follows the kernel and blkid: sector 0 must end in 0x55AA
 * and every MBR status byte must be 0x00 or 0x80 (otherwise it is a boot
 * sector or garbage, not a table); an entry of type 0xEE (protective or
 * hybrid MBR) means GPT and nothing else; otherwise MBR.  When sector 0
 * is no MBR, a GPT is still accepted if its primary header is valid (some
 * tools write no protective MBR) — but never from the backup alone, which
 * may be a leftover at the end of a since-reformatted superfloppy.  A sector 0 with no partition
 * entries that looks like a FAT boot sector is a superfloppy: PTABLE_NONE.
 *
 * After a format has been parsed, every partition must lie inside the
 * image and no two may overlap (an MBR extended container and its
 * logicals excepted) — otherwise writing to one partition would clobber
 * another, so the whole table is refused.
 */
#include "blk/ptable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "blk/ptable_internal.h"

/* The loop has no branch worth a fuzzer's attention, and tracing its
 * comparisons cost three quarters of fuzz_ptable's time: keep coverage
 * instrumentation out of it in fuzz builds (clang only). */
#ifdef HERD_FUZZING
__attribute__((no_sanitize("coverage")))
#endif
uint32_t
ptable_crc32(const uint8_t *data, size_t length)
{
	/* Four bits at a time: entry i is the reflected CRC of nibble i
	 * (polynomial 0xedb88320).  Four times faster than bit by bit, which
	 * matters when a fuzzer checks a 16 KiB entry array per input. */
	static const uint32_t nibble[16] = {
	    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < length; i++) {
		crc ^= data[i];
		crc = (crc >> 4) ^ nibble[crc & 0xf];
		crc = (crc >> 4) ^ nibble[crc & 0xf];
	}
	return ~crc;
}

void ptable_format_guid(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
		 g[13], g[14], g[15]);
}

int ptable_add_partition(struct ptable *t, const struct ptable_partition *p, struct herd_error *err)
{
	if (t->count >= PTABLE_MAX_PARTITIONS)
		return herd_error_set(err, E2BIG, "more than %u partitions", PTABLE_MAX_PARTITIONS);
	t->partitions[t->count++] = *p;
	return 0;
}

void ptable_add_meta(struct ptable *t, uint64_t offset, uint64_t length)
{
	if (length == 0)
		return;
	/* Adjacent ranges (a GPT header followed by its array) merge. */
	if (t->meta_count > 0 &&
	    t->meta[t->meta_count - 1].offset + t->meta[t->meta_count - 1].length == offset) {
		t->meta[t->meta_count - 1].length += length;
		return;
	}
	if (t->meta_count >= sizeof(t->meta) / sizeof(t->meta[0]))
		return;
	t->meta[t->meta_count].offset = offset;
	t->meta[t->meta_count].length = length;
	t->meta_count++;
}

void ptable_add_warning(struct ptable *t, const char *fmt, ...)
{
	size_t used = strlen(t->warning);
	va_list ap;

	if (used > 0 && used + 2 < sizeof(t->warning)) {
		memcpy(t->warning + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= sizeof(t->warning))
		return;
	va_start(ap, fmt);
	vsnprintf(t->warning + used, sizeof(t->warning) - used, fmt, ap);
	va_end(ap);
}

const char *ptable_type_name(enum ptable_type type)
{
	switch (type) {
	case PTABLE_NONE:
		return "none";
	case PTABLE_MBR:
		return "mbr";
	case PTABLE_GPT:
		return "gpt";
	}
	return "unknown";
}

const struct ptable_partition *ptable_find(const struct ptable *t, unsigned number)
{
	for (unsigned i = 0; i < t->count; i++)
		if (t->partitions[i].number == number)
			return &t->partitions[i];
	return NULL;
}

int ptable_open_partition(struct blockdev *bd, const struct ptable *t, unsigned number,
			  struct blockdev **ret, struct herd_error *err)
{
	const struct ptable_partition *p = ptable_find(t, number);
	struct blockdev *view = NULL;
	char name[512];
	int r;

	if (!p)
		return herd_error_set(err, ENOENT, "%s: no partition %u", blockdev_name(bd),
				      number);
	r = blockdev_new_view(bd, p->start, p->size, &view, err);
	if (r < 0)
		return herd_error_prefix(err, r, "partition %u", number);
	snprintf(name, sizeof(name), "%s partition %u", blockdev_name(bd), number);
	r = blockdev_set_name(view, name, err);
	if (r < 0) {
		blockdev_unref(view);
		return r;
	}
	*ret = view;
	return 0;
}

/* A FAT boot sector (superfloppy): x86 jump, then a plausible BPB. */
static bool looks_like_fat_boot_sector(struct ptable_bytes s)
{
	uint8_t jump = ptable_u8(s, 0);
	uint16_t bytes_per_sector = ptable_le16(s, 11);
	uint8_t per_cluster = ptable_u8(s, 13), fats = ptable_u8(s, 16), media = ptable_u8(s, 21);

	if (!(jump == 0xeb && ptable_u8(s, 2) == 0x90) && jump != 0xe9)
		return false;
	if (bytes_per_sector < 512 || bytes_per_sector > 4096 ||
	    (bytes_per_sector & (bytes_per_sector - 1)) != 0)
		return false;
	if (per_cluster == 0 || (per_cluster & (per_cluster - 1)) != 0)
		return false;
	return ptable_le16(s, 14) != 0 && (fats == 1 || fats == 2) &&
	       (media == 0xf0 || media >= 0xf8);
}

static bool is_logical_of(const struct ptable *t, const struct ptable_partition *container,
			  const struct ptable_partition *p)
{
	return t->type == PTABLE_MBR && container->number <= 4 &&
	       ptable_mbr_is_extended(container->mbr_type) && p->number >= 5;
}

static int ptable_validate(struct blockdev *bd, const struct ptable *t, struct herd_error *err)
{
	uint64_t size = blockdev_size(bd);

	for (unsigned i = 0; i < t->count; i++) {
		const struct ptable_partition *p = &t->partitions[i];

		if (p->start > size || p->size > size - p->start)
			return herd_error_set(err, EINVAL,
					      "partition %u (bytes %" PRIu64 "+%" PRIu64
					      ") extends beyond the end of the image (%" PRIu64
					      " bytes)",
					      p->number, p->start, p->size, size);
	}
	for (unsigned i = 0; i < t->count; i++) {
		const struct ptable_partition *a = &t->partitions[i];
		for (unsigned j = i + 1; j < t->count; j++) {
			const struct ptable_partition *b = &t->partitions[j];

			if (is_logical_of(t, a, b) || is_logical_of(t, b, a))
				continue;
			if (a->start < b->start + b->size && b->start < a->start + a->size)
				return herd_error_set(err, EINVAL, "partitions %u and %u overlap",
						      a->number, b->number);
		}
	}
	return 0;
}

int ptable_read(struct blockdev *bd, struct ptable *ret, struct herd_error *err)
{
	uint8_t buf[MBR_SECTOR_SIZE];
	struct ptable_bytes sector0 = {buf, sizeof(buf)};
	_cleanup_free_ struct ptable *t = NULL;
	bool protective = false, other = false, bad_status = false;
	const char *kind = "GPT";
	int r;

	/* Parse into a scratch table: *ret is written only on success, so a
	 * caller never sees half a table. */
	t = calloc(1, sizeof(*t));
	if (!t)
		return herd_error_set(err, ENOMEM, "%s: partition table: out of memory",
				      blockdev_name(bd));
	if (blockdev_size(bd) < MBR_SECTOR_SIZE)
		goto done;
	r = blockdev_pread(bd, buf, sizeof(buf), 0, err);
	if (r < 0)
		return herd_error_prefix(err, r, "%s: partition table", blockdev_name(bd));

	for (unsigned slot = 0; slot < 4; slot++) {
		size_t off = 446 + 16 * slot;
		uint8_t status = ptable_u8(sector0, off), type = ptable_u8(sector0, off + 4);

		if (status != 0x00 && status != 0x80)
			bad_status = true;
		if (ptable_le32(sector0, off + 12) == 0)
			continue;
		if (type == 0xee)
			protective = true;
		else if (type != 0)
			other = true;
	}

	if (ptable_u8(sector0, 510) != 0x55 || ptable_u8(sector0, 511) != 0xaa || bad_status) {
		/* Not an MBR.  A GPT without protective MBR is still taken
		 * (some tools write none), but only on a valid primary. */
		r = ptable_gpt_read(bd, true, t, err);
		if (r == 0)
			goto done;
		if (r > 0)
			ptable_add_warning(t, "GPT without a protective MBR");
	} else if (protective) {
		r = ptable_gpt_read(bd, false, t, err);
		if (r == 0)
			r = herd_error_set(err, EINVAL,
					   "protective MBR (type 0xee) but no GPT header");
		t->hybrid_mbr = other;
	} else if (!other && looks_like_fat_boot_sector(sector0)) {
		goto done;
	} else {
		kind = "MBR";
		r = ptable_mbr_read(bd, sector0, t, err);
	}
	if (r >= 0)
		r = ptable_validate(bd, t, err);
	if (r < 0)
		return herd_error_prefix(err, r, "%s: %s partition table", blockdev_name(bd), kind);
done:
	*ret = *t;
	return 0;
}
