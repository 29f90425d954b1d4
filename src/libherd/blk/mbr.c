/*
 * mbr.c — the classic DOS/MBR partition table: four primary entries in
 * sector 0 and, behind an extended partition, a chain of EBRs each holding
 * one logical partition and a link to the next EBR.
 *
 * Numbering follows the kernel and blkid: primaries keep their slot number
 * 1–4 (holes stay holes), logicals count from 5 in chain order, and the
 * extended container itself is listed (as sfdisk does) with its own type
 * so callers can skip it.  Entries with a zero sector count are unused, as
 * the kernel treats them.  PARTUUID is "<disk id>-<number as 2 hex
 * digits>", the form blkid and the kernel's root=PARTUUID= use.
 *
 * The EBR chain is untrusted: every EBR must lie inside its extended
 * partition, a chain that comes back to an EBR already visited is an error
 * (not an endless loop), and a missing 0x55AA signature ends the chain the
 * way the kernel stops there.  Sector size is always 512 here: MBR images
 * carry no sector size, and Raspberry Pi media are 512-byte devices.
 *
 * Not handled: the kernel's acceptance of data entries in EBR slots 3 and
 * 4, BSD/Solaris sub-labels, CHS-only (LBA zero) entries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "blk/ptable_internal.h"

#define MBR_ENTRIES_OFFSET 446
#define MBR_ENTRY_SIZE	   16
#define MBR_DISK_ID_OFFSET 440

struct mbr_entry {
	uint8_t status;
	uint8_t type;
	uint32_t lba;
	uint32_t sectors;
};

static struct mbr_entry mbr_entry_at(struct ptable_bytes sector, unsigned slot)
{
	size_t off = MBR_ENTRIES_OFFSET + (size_t)slot * MBR_ENTRY_SIZE;

	return (struct mbr_entry){
	    .status = ptable_u8(sector, off),
	    .type = ptable_u8(sector, off + 4),
	    .lba = ptable_le32(sector, off + 8),
	    .sectors = ptable_le32(sector, off + 12),
	};
}

static int mbr_add(struct ptable *t, unsigned number, uint64_t start_sector,
		   const struct mbr_entry *e, struct herd_error *err)
{
	struct ptable_partition p = {0};

	p.number = number;
	p.start = start_sector * MBR_SECTOR_SIZE;
	p.size = (uint64_t)e->sectors * MBR_SECTOR_SIZE;
	p.mbr_type = e->type;
	p.bootable = e->status == 0x80;
	snprintf(p.partuuid, sizeof(p.partuuid), "%.8s-%02x", t->disk_id, number & 0xffu);
	return ptable_add_partition(t, &p, err);
}

static bool has_signature(struct ptable_bytes sector)
{
	return ptable_u8(sector, 510) == 0x55 && ptable_u8(sector, 511) == 0xaa;
}

/* Walk the EBR chain of the extended partition in primary slot `number`.
 * Link entries are relative to the extended partition's start, data
 * entries to their own EBR. */
static int mbr_read_logicals(struct blockdev *bd, struct ptable *t, unsigned number,
			     const struct mbr_entry *ext, unsigned *next_number,
			     struct herd_error *err)
{
	uint64_t ext_start = ext->lba, ext_end = (uint64_t)ext->lba + ext->sectors;
	uint64_t visited[PTABLE_MAX_PARTITIONS];
	unsigned hops = 0;
	uint64_t ebr = ext_start;
	uint8_t buf[MBR_SECTOR_SIZE];
	struct ptable_bytes sector = {buf, sizeof(buf)};

	for (;;) {
		struct mbr_entry data = {0}, link = {0};
		bool have_data = false, have_link = false;
		int r;

		for (unsigned i = 0; i < hops; i++)
			if (visited[i] == ebr)
				return herd_error_set(err, EINVAL,
						      "extended partition %u: EBR chain loops "
						      "back to sector %" PRIu64,
						      number, ebr);
		if (hops == PTABLE_MAX_PARTITIONS)
			return herd_error_set(err, E2BIG,
					      "extended partition %u: more than %u EBRs", number,
					      PTABLE_MAX_PARTITIONS);
		if (ebr < ext_start || ebr >= ext_end)
			return herd_error_set(err, EINVAL,
					      "extended partition %u: EBR at sector %" PRIu64
					      " lies outside it (sectors %" PRIu64 "-%" PRIu64 ")",
					      number, ebr, ext_start, ext_end - 1);
		if (ebr >= blockdev_size(bd) / MBR_SECTOR_SIZE)
			return herd_error_set(err, EINVAL,
					      "extended partition %u: EBR at sector %" PRIu64
					      " lies beyond the end of the image",
					      number, ebr);
		visited[hops++] = ebr;

		r = blockdev_pread(bd, buf, sizeof(buf), ebr * MBR_SECTOR_SIZE, err);
		if (r < 0)
			return herd_error_prefix(
			    err, r, "extended partition %u: EBR at sector %" PRIu64, number, ebr);
		if (!has_signature(sector)) {
			ptable_add_warning(t,
					   "EBR at sector %" PRIu64 " has no 0x55AA signature; "
					   "logical partitions end there",
					   ebr);
			return 0;
		}
		ptable_add_meta(t, ebr * MBR_SECTOR_SIZE, MBR_SECTOR_SIZE);

		for (unsigned slot = 0; slot < 4; slot++) {
			struct mbr_entry e = mbr_entry_at(sector, slot);
			if (e.sectors == 0)
				continue;
			if (ptable_mbr_is_extended(e.type)) {
				if (!have_link) {
					link = e;
					have_link = true;
				}
			} else if (!have_data) {
				data = e;
				have_data = true;
			}
		}

		if (have_data) {
			uint64_t start = ebr + data.lba;
			unsigned n = (*next_number)++;

			if (start < ext_start || start + data.sectors > ext_end)
				return herd_error_set(err, EINVAL,
						      "partition %u (sectors %" PRIu64 "-%" PRIu64
						      ") lies outside extended partition %u",
						      n, start, start + data.sectors - 1, number);
			r = mbr_add(t, n, start, &data, err);
			if (r < 0)
				return r;
		}
		if (!have_link)
			return 0;
		ebr = ext_start + link.lba;
	}
}

int ptable_mbr_read(struct blockdev *bd, struct ptable_bytes sector0, struct ptable *t,
		    struct herd_error *err)
{
	unsigned next_logical = 5;
	int r;

	t->type = PTABLE_MBR;
	t->sector_size = MBR_SECTOR_SIZE;
	snprintf(t->disk_id, sizeof(t->disk_id), "%08" PRIx32,
		 ptable_le32(sector0, MBR_DISK_ID_OFFSET));
	ptable_add_meta(t, 0, MBR_SECTOR_SIZE);

	for (unsigned slot = 0; slot < 4; slot++) {
		struct mbr_entry e = mbr_entry_at(sector0, slot);

		if (e.sectors == 0)
			continue;
		r = mbr_add(t, slot + 1, e.lba, &e, err);
		if (r < 0)
			return r;
	}
	for (unsigned slot = 0; slot < 4; slot++) {
		struct mbr_entry e = mbr_entry_at(sector0, slot);

		if (e.sectors == 0 || !ptable_mbr_is_extended(e.type))
			continue;
		r = mbr_read_logicals(bd, t, slot + 1, &e, &next_logical, err);
		if (r < 0)
			return r;
	}
	return 0;
}
