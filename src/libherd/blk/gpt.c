/*
 * gpt.c — the GUID Partition Table (UEFI specification, chapter 5.3):
 * a header at LBA 1 and a backup header at the last LBA, each with a
 * CRC32 of itself and of the partition entry array it points at.
 *
 * A header is trusted only when its signature, size, CRC, own-LBA field,
 * usable range and entry array (position, size and CRC) all check out.
 * The primary is preferred; when it fails the backup at the image's last
 * LBA is used and t->warning says so, and when both fail the error gives
 * both reasons.  A good primary whose backup is missing or bad also earns
 * a warning (a truncated or grown image), not an error.
 *
 * Sector size is probed: the "EFI PART" signature at byte 512 means
 * 512-byte sectors, at 4096 means 4 KiB sectors (4Kn disk images).
 * Entries with an all-zero type GUID are unused; entries whose first LBA
 * is past their last are garbage and skipped as the kernel skips them;
 * entries reaching past the image are an error naming the partition.
 * Numbers are entry index + 1, as the kernel numbers them.  GUIDs are
 * formatted lowercase mixed-endian (blkid/kernel form), names converted
 * from UTF-16LE to UTF-8 (unpaired surrogates become U+FFFD).
 *
 * Not done: repairing either header, writing GPTs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "blk/ptable_internal.h"

#define GPT_HEADER_MIN_SIZE 92
#define GPT_ENTRY_MIN_SIZE  128
/* The spec only requires 128 * 2^n; bigger entries or arrays than this
 * exist nowhere and would only let a crafted image allocate memory. */
#define GPT_ENTRY_MAX_SIZE	      4096
#define GPT_ARRAY_MAX_BYTES	      (4u << 20)
#define GPT_NAME_UNITS		      36
#define GPT_ATTR_LEGACY_BIOS_BOOTABLE (1ull << 2)

struct gpt_header {
	uint64_t my_lba, alternate_lba, first_usable, last_usable, entries_lba;
	uint32_t entry_count, entry_size;
	uint8_t disk_guid[16];
	uint8_t *entries; /* entry_count * entry_size bytes, CRC-checked */
};

static bool gpt_signature_at(struct blockdev *bd, uint64_t offset)
{
	uint8_t sig[8];

	if (offset > blockdev_size(bd) || blockdev_size(bd) - offset < sizeof(sig))
		return false;
	if (blockdev_pread(bd, sig, sizeof(sig), offset, NULL) < 0)
		return false;
	return memcmp(sig, "EFI PART", 8) == 0;
}

/* Read and check the header at `lba`.  On failure `why` says what was
 * wrong (for the warning or error message) and nothing is allocated. */
static int gpt_header_read(struct blockdev *bd, uint32_t ss, uint64_t lba, struct gpt_header *h,
			   char *why, size_t why_size)
{
	uint64_t sectors = blockdev_size(bd) / ss;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ uint8_t *entries = NULL;
	struct ptable_bytes b;
	uint32_t header_size, crc, array_bytes;
	uint64_t array_sectors;

	if (lba >= sectors) {
		snprintf(why, why_size, "LBA %" PRIu64 " lies beyond the end of the image", lba);
		return -EINVAL;
	}
	buf = malloc(ss);
	if (!buf)
		return -ENOMEM;
	if (blockdev_pread(bd, buf, ss, lba * ss, NULL) < 0) {
		snprintf(why, why_size, "cannot read LBA %" PRIu64, lba);
		return -EIO;
	}
	b = (struct ptable_bytes){buf, ss};
	if (memcmp(buf, "EFI PART", 8) != 0) {
		snprintf(why, why_size, "no \"EFI PART\" signature at LBA %" PRIu64, lba);
		return -EINVAL;
	}
	header_size = ptable_le32(b, 12);
	if (header_size < GPT_HEADER_MIN_SIZE || header_size > ss) {
		snprintf(why, why_size, "header size %" PRIu32 " invalid", header_size);
		return -EINVAL;
	}
	crc = ptable_le32(b, 16);
	memset(buf + 16, 0, 4);
	if (ptable_crc32(buf, header_size) != crc) {
		snprintf(why, why_size, "header CRC mismatch at LBA %" PRIu64, lba);
		return -EINVAL;
	}
	h->my_lba = ptable_le64(b, 24);
	h->alternate_lba = ptable_le64(b, 32);
	h->first_usable = ptable_le64(b, 40);
	h->last_usable = ptable_le64(b, 48);
	memcpy(h->disk_guid, buf + 56, 16);
	h->entries_lba = ptable_le64(b, 72);
	h->entry_count = ptable_le32(b, 80);
	h->entry_size = ptable_le32(b, 84);

	if (h->my_lba != lba) {
		snprintf(why, why_size, "header at LBA %" PRIu64 " says it is at LBA %" PRIu64, lba,
			 h->my_lba);
		return -EINVAL;
	}
	if (h->first_usable > h->last_usable) {
		snprintf(why, why_size, "usable LBA range %" PRIu64 "-%" PRIu64 " invalid",
			 h->first_usable, h->last_usable);
		return -EINVAL;
	}
	if (h->last_usable >= sectors) {
		snprintf(why, why_size,
			 "usable LBA range %" PRIu64 "-%" PRIu64
			 " extends beyond the end of the image (%" PRIu64 " sectors; truncated?)",
			 h->first_usable, h->last_usable, sectors);
		return -EINVAL;
	}
	if (h->entry_size < GPT_ENTRY_MIN_SIZE || h->entry_size > GPT_ENTRY_MAX_SIZE ||
	    h->entry_size % GPT_ENTRY_MIN_SIZE != 0 ||
	    (uint64_t)h->entry_count * h->entry_size > GPT_ARRAY_MAX_BYTES) {
		snprintf(why, why_size, "entry array of %" PRIu32 " x %" PRIu32 " bytes invalid",
			 h->entry_count, h->entry_size);
		return -EINVAL;
	}
	array_bytes = h->entry_count * h->entry_size;
	array_sectors = (array_bytes + ss - 1) / ss;
	if (h->entries_lba >= sectors || array_sectors > sectors - h->entries_lba ||
	    (lba >= h->entries_lba && lba < h->entries_lba + array_sectors)) {
		snprintf(why, why_size, "entry array at LBA %" PRIu64 " invalid", h->entries_lba);
		return -EINVAL;
	}
	entries = malloc(array_bytes ? array_bytes : 1);
	if (!entries)
		return -ENOMEM;
	if (blockdev_pread(bd, entries, array_bytes, h->entries_lba * ss, NULL) < 0) {
		snprintf(why, why_size, "cannot read entry array at LBA %" PRIu64, h->entries_lba);
		return -EIO;
	}
	if (ptable_crc32(entries, array_bytes) != ptable_le32(b, 88)) {
		snprintf(why, why_size, "entry array CRC mismatch (header at LBA %" PRIu64 ")",
			 lba);
		return -EINVAL;
	}
	h->entries = TAKE_PTR(entries);
	return 0;
}

static void utf8_put(char *out, size_t size, size_t *pos, uint32_t cp)
{
	uint8_t tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (uint8_t)(0xc0 | cp >> 6);
		tmp[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (uint8_t)(0xe0 | cp >> 12);
		tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (uint8_t)(0xf0 | cp >> 18);
		tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*pos + n >= size)
		return;
	memcpy(out + *pos, tmp, n);
	*pos += n;
}

/* UTF-16LE name (36 units, NUL-terminated unless full) to UTF-8. */
static void gpt_name_to_utf8(struct ptable_bytes e, size_t off, char *out, size_t size)
{
	size_t pos = 0;

	for (unsigned i = 0; i < GPT_NAME_UNITS; i++) {
		uint32_t u = ptable_le16(e, off + 2 * i);

		if (u == 0)
			break;
		if (u >= 0xd800 && u <= 0xdbff && i + 1 < GPT_NAME_UNITS) {
			uint32_t lo = ptable_le16(e, off + 2 * (i + 1));
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				utf8_put(out, size, &pos,
					 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
				i++;
				continue;
			}
		}
		if (u >= 0xd800 && u <= 0xdfff)
			u = 0xfffd;
		utf8_put(out, size, &pos, u);
	}
	out[pos] = '\0';
}

static int gpt_parse_entries(struct ptable *t, const struct gpt_header *h, uint32_t ss,
			     uint64_t sectors, struct herd_error *err)
{
	static const uint8_t zero_guid[16];

	for (uint32_t i = 0; i < h->entry_count; i++) {
		struct ptable_bytes e = {h->entries + (size_t)i * h->entry_size, h->entry_size};
		struct ptable_partition p = {0};
		uint64_t first = ptable_le64(e, 32), last = ptable_le64(e, 40);
		int r;

		if (memcmp(e.data, zero_guid, 16) == 0)
			continue;
		p.number = i + 1;
		if (first > last) {
			ptable_add_warning(t,
					   "partition %u: first LBA %" PRIu64
					   " after last LBA %" PRIu64 "; skipped",
					   p.number, first, last);
			continue;
		}
		if (last >= sectors)
			return herd_error_set(err, EINVAL,
					      "partition %u (LBA %" PRIu64 "-%" PRIu64
					      ") extends beyond the end of the image (%" PRIu64
					      " sectors)",
					      p.number, first, last, sectors);
		if (first < h->first_usable || last > h->last_usable)
			ptable_add_warning(t, "partition %u lies outside the usable LBA range",
					   p.number);
		p.start = first * ss;
		p.size = (last - first + 1) * ss;
		p.bootable = (ptable_le64(e, 48) & GPT_ATTR_LEGACY_BIOS_BOOTABLE) != 0;
		ptable_format_guid(e.data, p.type_guid);
		ptable_format_guid(e.data + 16, p.partuuid);
		gpt_name_to_utf8(e, 56, p.name, sizeof(p.name));
		r = ptable_add_partition(t, &p, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void gpt_add_meta(struct ptable *t, const struct gpt_header *h, uint32_t ss)
{
	uint64_t array_bytes = (uint64_t)h->entry_count * h->entry_size;

	ptable_add_meta(t, h->my_lba * ss, ss);
	ptable_add_meta(t, h->entries_lba * ss, (array_bytes + ss - 1) / ss * ss);
}

int ptable_gpt_read(struct blockdev *bd, bool require_primary, struct ptable *t,
		    struct herd_error *err)
{
	static const uint32_t sector_sizes[] = {512, 4096};
	struct gpt_header primary = {0}, backup = {0};
	char why_primary[160] = "", why_backup[160] = "";
	uint64_t size = blockdev_size(bd), sectors, backup_lba;
	const struct gpt_header *h;
	uint32_t ss = 0;
	int rp, rb, r;

	for (size_t i = 0; i < ELEMENTSOF(sector_sizes) && !ss; i++) {
		uint32_t s = sector_sizes[i];
		if (size / s < 3)
			continue;
		if (gpt_signature_at(bd, s) || gpt_signature_at(bd, (size / s - 1) * s))
			ss = s;
	}
	if (!ss)
		return 0;
	sectors = size / ss;
	backup_lba = sectors - 1;

	rp = gpt_header_read(bd, ss, 1, &primary, why_primary, sizeof(why_primary));
	if (rp == -ENOMEM)
		return herd_error_set(err, ENOMEM, "GPT: out of memory");
	if (rp == 0 && primary.alternate_lba != backup_lba && primary.alternate_lba < sectors &&
	    primary.alternate_lba > 1)
		backup_lba = primary.alternate_lba;
	rb = gpt_header_read(bd, ss, backup_lba, &backup, why_backup, sizeof(why_backup));
	if (rb == -ENOMEM) {
		free(primary.entries);
		return herd_error_set(err, ENOMEM, "GPT: out of memory");
	}
	if (rp < 0 && require_primary) {
		/* No protective MBR and no valid primary: an old backup header
		 * at the end of, say, a FAT superfloppy is not a table. */
		free(backup.entries);
		return 0;
	}
	if (rp < 0 && rb < 0)
		return herd_error_set(
		    err, EINVAL, "GPT: primary header invalid (%s) and backup header invalid (%s)",
		    why_primary, why_backup);

	t->type = PTABLE_GPT;
	t->sector_size = ss;
	ptable_add_meta(t, 0, ss); /* protective MBR */
	if (rp == 0) {
		h = &primary;
		gpt_add_meta(t, &primary, ss);
		if (rb == 0)
			gpt_add_meta(t, &backup, ss);
		else if (primary.alternate_lba >= sectors)
			ptable_add_warning(t,
					   "backup GPT header at LBA %" PRIu64
					   " lies beyond the end of the image (truncated?)",
					   primary.alternate_lba);
		else
			ptable_add_warning(t, "backup GPT header invalid (%s)", why_backup);
	} else {
		h = &backup;
		ptable_add_warning(t,
				   "primary GPT header invalid (%s); using backup at LBA %" PRIu64,
				   why_primary, backup_lba);
		/* Keep the damaged primary's place (LBA 1 up to the first usable
		 * LBA) out of the free space: it is table space, not data. */
		if (backup.first_usable > 1)
			ptable_add_meta(t, ss, (backup.first_usable - 1) * ss);
		gpt_add_meta(t, &backup, ss);
	}
	t->first_usable_lba = h->first_usable;
	t->last_usable_lba = h->last_usable;
	ptable_format_guid(h->disk_guid, t->disk_id);
	r = gpt_parse_entries(t, h, ss, sectors, err);
	free(primary.entries);
	free(backup.entries);
	return r < 0 ? r : 1;
}
