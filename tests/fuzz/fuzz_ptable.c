/*
 * fuzz_ptable.c — libFuzzer harness for the partition-table readers.
 *
 * The input is a disk image in a memory blockdev.  ptable_read must either
 * fail with a message or return a table whose partitions all lie inside
 * the image; each partition is then opened as a view and its first and
 * last byte read, which must succeed.
 *
 * Each input is parsed twice: as given, and with every GPT header's CRCs
 * (entry array, then header) recomputed.  Random mutations almost never
 * keep a CRC32 valid, so without the second pass the code behind the CRC
 * checks (entry parsing, names, bounds) would hardly be reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk/ptable.h"
#include "blk/ptable_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_gpt_header(uint8_t *img, size_t size, uint32_t ss, uint64_t lba)
{
	struct ptable_bytes b;
	uint8_t *h;
	uint32_t header_size;
	uint64_t entries, bytes;

	if (lba == 0 || size / ss <= lba)
		return;
	h = img + lba * ss;
	b = (struct ptable_bytes){h, ss};
	if (memcmp(h, "EFI PART", 8) != 0)
		return;
	header_size = ptable_le32(b, 12);
	if (header_size < 92 || header_size > ss)
		return;
	entries = ptable_le64(b, 72);
	bytes = (uint64_t)ptable_le32(b, 80) * ptable_le32(b, 84);
	if (entries < size / ss && bytes <= size - entries * ss)
		put_le32(h + 88, ptable_crc32(img + entries * ss, (size_t)bytes));
	put_le32(h + 16, 0);
	put_le32(h + 16, ptable_crc32(h, header_size));
}

static void check(const uint8_t *data, size_t size)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	struct ptable *t;
	int r;

	if (blockdev_new_memory(data, size, &bd, NULL) < 0)
		return;
	t = malloc(sizeof(*t));
	if (!t)
		abort();
	r = ptable_read(bd, t, &err);
	if (r < 0) {
		if (err.message[0] == '\0')
			abort();
	} else {
		if (t->count > PTABLE_MAX_PARTITIONS ||
		    t->meta_count > sizeof(t->meta) / sizeof(t->meta[0]))
			abort();
		if (memchr(t->warning, '\0', sizeof(t->warning)) == NULL)
			abort();
		for (unsigned i = 0; i < t->count; i++) {
			const struct ptable_partition *p = &t->partitions[i];
			struct blockdev *view = NULL;
			uint8_t byte;

			if (p->start > size || p->size > size - p->start)
				abort();
			if (ptable_find(t, p->number) == NULL)
				abort();
			if (memchr(p->name, '\0', sizeof(p->name)) == NULL)
				abort();
			if (ptable_open_partition(bd, t, p->number, &view, &err) < 0)
				abort();
			if (blockdev_size(view) != p->size)
				abort();
			if (p->size > 0) {
				if (blockdev_pread(view, &byte, 1, 0, &err) < 0 ||
				    blockdev_pread(view, &byte, 1, p->size - 1, &err) < 0)
					abort();
			}
			blockdev_unref(view);
		}
	}
	free(t);
	blockdev_unref(bd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	if (size > (1u << 20))
		return 0;
	check(data, size);

	fixed = malloc(size ? size : 1);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	for (uint32_t ss = 512; ss <= 4096; ss *= 8) {
		fix_gpt_header(fixed, size, ss, 1);
		fix_gpt_header(fixed, size, ss, size / ss ? size / ss - 1 : 0);
	}
	if (memcmp(fixed, data, size) != 0)
		check(fixed, size);
	free(fixed);
	return 0;
}
