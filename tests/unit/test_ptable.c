/*
 * test_ptable.c — MBR and GPT reading.
 *
 * Two kinds of input: tables built by hand in memory blockdevs (exact
 * control over every byte: 4 KiB-sector GPTs, loops, overlaps, garbage)
 * and images made at test time by sfdisk and sgdisk in a temp dir, whose
 * parse is compared field by field against `sfdisk --json` — an
 * independent reader — for starts, sizes, types, disk id, UUIDs, names
 * and the bootable flag.  Bad input: truncated images, partitions past
 * the end, overlaps, a corrupt primary GPT (backup used, with a warning),
 * both GPT headers corrupt, an EBR chain that loops.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include "run_testlib.h"
#include <jansson.h>

#include "blk/ptable.h"
#include "blk/ptable_internal.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/herd-test-ptable-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A sparse image of `size` bytes partitioned by an sfdisk script. */
static void sfdisk_image(const char *path, uint64_t size, const char *script)
{
	run("rm -f '%s' && truncate -s %" PRIu64 " '%s' && printf '%%s' '%s' | sfdisk -q '%s' "
	    ">/dev/null",
	    path, size, path, script, path);
}

static void read_table(const char *path, struct ptable *t)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;

	assert_int_equal(blockdev_open_file(path, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	if (ptable_read(bd, t, &err) != 0)
		fail_msg("ptable_read(%s): %s", path, err.message);
	blockdev_unref(bd);
}

static int read_table_error(const char *path, struct herd_error *err)
{
	struct blockdev *bd = NULL;
	struct ptable *t = malloc(sizeof(*t));
	int r;

	assert_non_null(t);
	t->count = 777; /* must stay untouched on failure */
	assert_int_equal(blockdev_open_file(path, BLOCKDEV_READ_ONLY, &bd, err), 0);
	r = ptable_read(bd, t, err);
	if (r < 0)
		assert_int_equal(t->count, 777);
	blockdev_unref(bd);
	free(t);
	return r;
}

static bool meta_covers(const struct ptable *t, uint64_t offset, uint64_t length)
{
	for (unsigned i = 0; i < t->meta_count; i++)
		if (t->meta[i].offset <= offset &&
		    offset + length <= t->meta[i].offset + t->meta[i].length)
			return true;
	return false;
}

/* Compare our parse with `sfdisk --json` of the same image. */
static void compare_with_sfdisk(const char *path, const struct ptable *t)
{
	char cmd[512];
	json_error_t jerr;
	json_t *root, *pt, *parts;
	FILE *p;
	const char *label, *id;
	uint64_t ss;

	snprintf(cmd, sizeof(cmd), "sfdisk --json '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	root = json_loadf(p, 0, &jerr);
	pclose(p);
	if (!root)
		fail_msg("sfdisk --json: %s", jerr.text);
	pt = json_object_get(root, "partitiontable");
	label = json_string_value(json_object_get(pt, "label"));
	id = json_string_value(json_object_get(pt, "id"));
	ss = (uint64_t)json_integer_value(json_object_get(pt, "sectorsize"));
	parts = json_object_get(pt, "partitions");
	assert_non_null(label);
	assert_non_null(id);
	assert_int_equal(ss, t->sector_size);

	if (strcmp(label, "dos") == 0) {
		assert_int_equal(t->type, PTABLE_MBR);
		assert_true(strncmp(id, "0x", 2) == 0);
		assert_string_equal(t->disk_id, id + 2);
	} else {
		assert_string_equal(label, "gpt");
		assert_int_equal(t->type, PTABLE_GPT);
		assert_int_equal(strcasecmp(t->disk_id, id), 0);
		assert_int_equal(t->first_usable_lba,
				 json_integer_value(json_object_get(pt, "firstlba")));
		assert_int_equal(t->last_usable_lba,
				 json_integer_value(json_object_get(pt, "lastlba")));
	}
	assert_int_equal(json_array_size(parts), t->count);

	for (unsigned i = 0; i < t->count; i++) {
		json_t *jp = json_array_get(parts, i);
		const struct ptable_partition *q = &t->partitions[i];
		const char *node = json_string_value(json_object_get(jp, "node"));
		const char *type = json_string_value(json_object_get(jp, "type"));
		json_t *boot = json_object_get(jp, "bootable");
		unsigned number;

		assert_non_null(node);
		assert_true(strncmp(node, path, strlen(path)) == 0);
		number = (unsigned)strtoul(node + strlen(path), NULL, 10);
		assert_int_equal(q->number, number);
		assert_int_equal(q->start,
				 (uint64_t)json_integer_value(json_object_get(jp, "start")) * ss);
		assert_int_equal(q->size,
				 (uint64_t)json_integer_value(json_object_get(jp, "size")) * ss);
		if (t->type == PTABLE_MBR) {
			char hex[8];
			snprintf(hex, sizeof(hex), "%x", q->mbr_type);
			assert_string_equal(hex, type);
			assert_int_equal(q->bootable, boot && json_is_true(boot));
			assert_string_equal(q->type_guid, "");
			assert_string_equal(q->name, "");
			/* blkid's PARTUUID form. */
			char want[40];
			snprintf(want, sizeof(want), "%s-%02x", id + 2, number);
			assert_string_equal(q->partuuid, want);
		} else {
			const char *uuid = json_string_value(json_object_get(jp, "uuid"));
			const char *name = json_string_value(json_object_get(jp, "name"));
			assert_int_equal(strcasecmp(q->type_guid, type), 0);
			assert_int_equal(strcasecmp(q->partuuid, uuid), 0);
			assert_string_equal(q->name, name ? name : "");
			/* lowercase, as blkid prints them */
			for (const char *c = q->partuuid; *c; c++)
				assert_false(*c >= 'A' && *c <= 'F');
		}
	}
	json_decref(root);
}

/* ---- images made by sfdisk / sgdisk ------------------------------------ */

static void test_sfdisk_rpi_mbr(void **state)
{
	struct fixture *f = *state;
	struct ptable t;
	struct herd_error err = {0};
	struct blockdev *bd = NULL, *part = NULL;
	uint8_t byte = 0;

	/* Raspberry Pi OS layout: FAT32 (LBA) boot at 8192, Linux root. */
	sfdisk_image(f->path, 3ull << 30,
		     "label: dos\nlabel-id: 0x5e3da63c\n"
		     "start=8192, size=1048576, type=c, bootable\nstart=1056768, type=83\n");
	read_table(f->path, &t);
	compare_with_sfdisk(f->path, &t);
	assert_int_equal(t.count, 2);
	assert_string_equal(t.partitions[0].partuuid, "5e3da63c-01");
	assert_string_equal(t.partitions[1].partuuid, "5e3da63c-02");
	assert_int_equal(t.partitions[0].mbr_type, 0x0c);
	assert_true(t.partitions[0].bootable);
	assert_false(t.partitions[1].bootable);
	assert_string_equal(t.warning, "");
	assert_int_equal(t.meta_count, 1);
	assert_true(meta_covers(&t, 0, 512));
	assert_string_equal(ptable_type_name(t.type), "mbr");

	/* Partition views: sized right, named, writes land at the offset. */
	assert_int_equal(blockdev_open_file(f->path, BLOCKDEV_READ_WRITE, &bd, &err), 0);
	assert_int_equal(ptable_open_partition(bd, &t, 2, &part, &err), 0);
	assert_int_equal(blockdev_size(part), t.partitions[1].size);
	assert_non_null(strstr(blockdev_name(part), "partition 2"));
	assert_int_equal(blockdev_pwrite(part, "R", 1, 0, &err), 0);
	assert_int_equal(blockdev_pread(bd, &byte, 1, 1056768ull * 512, &err), 0);
	assert_int_equal(byte, 'R');
	assert_int_equal(blockdev_pread(part, &byte, 1, blockdev_size(part), &err), -EIO);
	assert_non_null(strstr(err.message, "partition 2"));
	blockdev_unref(part);
	assert_int_equal(ptable_open_partition(bd, &t, 3, &part, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no partition 3"));
	assert_null(ptable_find(&t, 5));
	assert_ptr_equal(ptable_find(&t, 1), &t.partitions[0]);
	blockdev_unref(bd);
}

static void test_sfdisk_logicals(void **state)
{
	struct fixture *f = *state;
	struct ptable t;

	sfdisk_image(f->path, 256ull << 20,
		     "label: dos\nlabel-id: 0xdeadbeef\n"
		     "start=2048, size=20480, type=83\n"
		     "start=22528, type=5\n"
		     "size=40960, type=83\n"
		     "size=20480, type=82\n");
	read_table(f->path, &t);
	compare_with_sfdisk(f->path, &t);
	assert_int_equal(t.count, 4);
	assert_int_equal(t.partitions[1].mbr_type, 0x05);
	assert_int_equal(t.partitions[2].number, 5);
	assert_int_equal(t.partitions[3].number, 6);
	assert_string_equal(t.partitions[3].partuuid, "deadbeef-06");
	/* The MBR and both EBRs are table space. */
	assert_int_equal(t.meta_count, 3);
	assert_true(meta_covers(&t, 0, 512));
	assert_true(meta_covers(&t, 22528ull * 512, 512));
	assert_true(meta_covers(&t, t.partitions[3].start - 2048 * 512, 512));
}

static void test_sgdisk_gpt(void **state)
{
	struct fixture *f = *state;
	struct ptable t;

	run("rm -f '%s' && truncate -s 64M '%s' && sgdisk -o "
	    "-n 1:2048:+16M -t 1:ef00 -c 1:'EFI system' -A 1:set:2 "
	    "-n 2:0:+24M -t 2:8300 -c 2:root "
	    "-n 3:0:0 -t 3:8300 -c 3:'données ☃' '%s' >/dev/null",
	    f->path, f->path, f->path);
	read_table(f->path, &t);
	compare_with_sfdisk(f->path, &t);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.sector_size, 512);
	assert_string_equal(t.partitions[0].type_guid, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
	assert_string_equal(t.partitions[1].type_guid, "0fc63daf-8483-4772-8e79-3d69d8477de4");
	assert_string_equal(t.partitions[0].name, "EFI system");
	assert_string_equal(t.partitions[2].name, "données ☃");
	assert_true(t.partitions[0].bootable);
	assert_false(t.partitions[1].bootable);
	assert_int_equal(t.partitions[0].mbr_type, 0);
	assert_false(t.hybrid_mbr);
	assert_string_equal(t.warning, "");
	/* pMBR + header + 16 KiB array at the front, array + header at the back. */
	assert_true(meta_covers(&t, 0, 34 * 512));
	assert_true(meta_covers(&t, (64ull << 20) - 33 * 512, 32 * 512));
	assert_true(meta_covers(&t, (64ull << 20) - 512, 512));
	assert_string_equal(ptable_type_name(t.type), "gpt");
}

static void test_sgdisk_hybrid(void **state)
{
	struct fixture *f = *state;
	struct ptable t;

	run("rm -f '%s' && truncate -s 64M '%s' && sgdisk -o -n 1:2048:+16M -t 1:0700 "
	    "-n 2:0:0 '%s' >/dev/null && sgdisk -h 1 '%s' >/dev/null",
	    f->path, f->path, f->path, f->path);
	read_table(f->path, &t);
	compare_with_sfdisk(f->path, &t);
	assert_int_equal(t.type, PTABLE_GPT);
	assert_true(t.hybrid_mbr);
	assert_int_equal(t.count, 2);
}

static void corrupt_byte(const char *path, uint64_t offset)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)offset), 1);
	close(fd);
}

static void test_gpt_corrupt_primary(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct ptable good, t;
	uint64_t last = (64ull << 20) - 512;

	run("rm -f '%s' && truncate -s 64M '%s' && sgdisk -o -n 1:2048:+8M -c 1:boot "
	    "-n 2:0:+8M -c 2:root -n 3:0:+1M -c 3:data '%s' >/dev/null",
	    f->path, f->path, f->path);
	read_table(f->path, &good);

	/* Primary header CRC broken (a byte of the disk GUID): backup used. */
	corrupt_byte(f->path, 512 + 60);
	read_table(f->path, &t);
	assert_int_equal(t.type, PTABLE_GPT);
	assert_non_null(strstr(t.warning, "primary GPT header invalid"));
	assert_non_null(strstr(t.warning, "CRC"));
	assert_non_null(strstr(t.warning, "using backup"));
	assert_int_equal(t.count, 3);
	assert_string_equal(t.disk_id, good.disk_id);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(t.partitions[i].start, good.partitions[i].start);
		assert_int_equal(t.partitions[i].size, good.partitions[i].size);
		assert_string_equal(t.partitions[i].partuuid, good.partitions[i].partuuid);
		assert_string_equal(t.partitions[i].name, good.partitions[i].name);
	}
	/* The damaged primary's place stays table space. */
	assert_true(meta_covers(&t, 512, 33 * 512));
	corrupt_byte(f->path, 512 + 60);

	/* Entry array CRC broken: also falls back. */
	corrupt_byte(f->path, 1024 + 56);
	read_table(f->path, &t);
	assert_non_null(strstr(t.warning, "entry array CRC mismatch"));
	assert_string_equal(t.partitions[0].name, "boot");

	/* Backup broken as well: an error giving both reasons. */
	corrupt_byte(f->path, last + 60);
	assert_int_equal(read_table_error(f->path, &err), -EINVAL);
	assert_non_null(strstr(err.message, "primary header invalid"));
	assert_non_null(strstr(err.message, "backup header invalid"));
	assert_non_null(strstr(err.message, f->path));

	/* Only the backup broken: primary used, warning about the backup. */
	corrupt_byte(f->path, 1024 + 56);
	read_table(f->path, &t);
	assert_int_equal(t.count, 3);
	assert_non_null(strstr(t.warning, "backup GPT header invalid"));
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct ptable t;

	/* MBR whose root partition runs past the (truncated) end. */
	sfdisk_image(f->path, 64ull << 20,
		     "label: dos\nstart=2048, size=20480, type=c\nstart=22528, type=83\n");
	run("truncate -s 32M '%s'", f->path);
	assert_int_equal(read_table_error(f->path, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partition 2"));
	assert_non_null(strstr(err.message, "beyond the end"));

	/* GPT truncated: the backup header is gone and the primary's usable
	 * range reaches past the end, so neither header can be trusted. */
	run("rm -f '%s' && truncate -s 64M '%s' && sgdisk -o -n 1:2048:+8M -n 2:0:0 '%s' "
	    ">/dev/null && truncate -s 32M '%s'",
	    f->path, f->path, f->path, f->path);
	assert_int_equal(read_table_error(f->path, &err), -EINVAL);
	assert_non_null(strstr(err.message, "primary header invalid (usable LBA range"));
	assert_non_null(strstr(err.message, "truncated?"));

	/* GPT grown (backup no longer at the end): primary used, a warning. */
	run("rm -f '%s' && truncate -s 64M '%s' && sgdisk -o -n 1:2048:+8M '%s' >/dev/null && "
	    "truncate -s 128M '%s'",
	    f->path, f->path, f->path, f->path);
	read_table(f->path, &t);
	assert_int_equal(t.type, PTABLE_GPT);
	assert_int_equal(t.count, 1);
	assert_string_equal(t.warning, "");

	/* Smaller than a sector: no table at all. */
	run("truncate -s 100 '%s'", f->path);
	read_table(f->path, &t);
	assert_int_equal(t.type, PTABLE_NONE);
	assert_int_equal(t.count, 0);
	assert_string_equal(ptable_type_name(t.type), "none");
}

static void test_superfloppy(void **state)
{
	struct fixture *f = *state;
	struct ptable t;

	run("rm -f '%s' && truncate -s 32M '%s' && mkfs.fat -F 32 '%s' >/dev/null 2>&1", f->path,
	    f->path, f->path);
	read_table(f->path, &t);
	assert_int_equal(t.type, PTABLE_NONE);
	assert_int_equal(t.count, 0);
}

/* ---- hand-built tables ------------------------------------------------- */

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void mbr_entry(uint8_t *sector, unsigned slot, uint8_t status, uint8_t type, uint32_t lba,
		      uint32_t count)
{
	uint8_t *e = sector + 446 + 16 * slot;

	e[0] = status;
	e[4] = type;
	put_le32(e + 8, lba);
	put_le32(e + 12, count);
	sector[510] = 0x55;
	sector[511] = 0xaa;
}

static int parse_memory(const uint8_t *img, size_t size, struct ptable *t, struct herd_error *err)
{
	struct blockdev *bd = NULL;
	int r;

	assert_int_equal(blockdev_new_memory(img, size, &bd, NULL), 0);
	r = ptable_read(bd, t, err);
	blockdev_unref(bd);
	return r;
}

static void test_crc32(void **state)
{
	assert_int_equal(ptable_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(ptable_crc32(NULL, 0), 0);
}

static void test_mbr_hand_built(void **state)
{
	size_t size = 4096 * 512;
	uint8_t *img = calloc(1, size);
	struct herd_error err = {0};
	struct ptable t;

	put_le32(img + 440, 0x0000beef);
	mbr_entry(img, 0, 0x80, 0x0c, 64, 100);
	mbr_entry(img, 2, 0x00, 0x83, 200, 3000); /* slot 3: number 3, hole at 2 */
	mbr_entry(img, 3, 0x00, 0x83, 3500, 0);	  /* size 0: unused */
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_MBR);
	assert_string_equal(t.disk_id, "0000beef");
	assert_int_equal(t.count, 2);
	assert_int_equal(t.partitions[0].number, 1);
	assert_int_equal(t.partitions[0].start, 64 * 512);
	assert_int_equal(t.partitions[0].size, 100 * 512);
	assert_true(t.partitions[0].bootable);
	assert_int_equal(t.partitions[1].number, 3);
	assert_string_equal(t.partitions[1].partuuid, "0000beef-03");

	/* Beyond the end: names the partition. */
	mbr_entry(img, 3, 0x00, 0x83, 3500, 1000);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partition 4"));
	assert_non_null(strstr(err.message, "beyond the end"));
	assert_non_null(strstr(err.message, "memory"));

	/* Overlapping: names both. */
	mbr_entry(img, 3, 0x00, 0x83, 150, 60);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partitions 1 and 4 overlap"));

	/* A status byte other than 0x00/0x80: boot code, not a table. */
	mbr_entry(img, 3, 0x12, 0x83, 150, 60);
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_NONE);

	/* No 0x55AA: no table. */
	memset(img + 446, 0, 66);
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_NONE);

	/* Signature and no entries: an empty MBR. */
	img[510] = 0x55;
	img[511] = 0xaa;
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_MBR);
	assert_int_equal(t.count, 0);

	/* Protective MBR without a GPT. */
	mbr_entry(img, 0, 0x00, 0xee, 1, 4095);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "no GPT header"));
	free(img);
}

static void test_mbr_ebr_chain(void **state)
{
	size_t size = 8192 * 512;
	uint8_t *img = calloc(1, size);
	struct herd_error err = {0};
	struct ptable t;

	/* Extended 1000-7999; EBRs at 1000, 3000, 5000 (links relative to 1000). */
	mbr_entry(img, 1, 0, 0x0f, 1000, 7000);
	mbr_entry(img + 1000 * 512, 0, 0, 0x83, 1, 999);
	mbr_entry(img + 1000 * 512, 1, 0, 0x05, 2000, 2000);
	mbr_entry(img + 3000 * 512, 0, 0, 0x83, 8, 992);
	mbr_entry(img + 3000 * 512, 1, 0, 0x05, 4000, 100);
	mbr_entry(img + 5000 * 512, 0, 0, 0x07, 100, 200);
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.count, 4);
	assert_int_equal(t.partitions[0].number, 2);
	assert_int_equal(t.partitions[1].number, 5);
	assert_int_equal(t.partitions[1].start, 1001 * 512);
	assert_int_equal(t.partitions[2].number, 6);
	assert_int_equal(t.partitions[2].start, 3008 * 512);
	assert_int_equal(t.partitions[3].number, 7);
	assert_int_equal(t.partitions[3].start, 5100 * 512);
	assert_int_equal(t.partitions[3].mbr_type, 0x07);
	assert_int_equal(t.meta_count, 4);

	/* The last EBR links back to the second: a loop, not a hang. */
	mbr_entry(img + 5000 * 512, 1, 0, 0x05, 2000, 100);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "loops back to sector 3000"));
	assert_non_null(strstr(err.message, "extended partition 2"));

	/* An EBR linking to itself. */
	mbr_entry(img + 5000 * 512, 1, 0, 0x05, 4000, 100);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "loops back to sector 5000"));

	/* A link outside the extended partition. */
	mbr_entry(img + 5000 * 512, 1, 0, 0x05, 7500, 100);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "lies outside it"));

	/* A logical reaching out of its container. */
	memset(img + 5000 * 512 + 446, 0, 32);
	mbr_entry(img + 5000 * 512, 0, 0, 0x83, 100, 5000);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partition 7"));
	assert_non_null(strstr(err.message, "outside extended partition 2"));

	/* An EBR without signature ends the chain, with a warning. */
	memset(img + 5000 * 512, 0, 512);
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.count, 3);
	assert_non_null(strstr(t.warning, "no 0x55AA signature"));

	/* A primary overlapping the logicals is an overlap. */
	mbr_entry(img, 0, 0, 0x83, 3500, 100);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "overlap"));
	free(img);
}

struct hand_part {
	uint8_t type[16];
	uint8_t uuid[16];
	uint64_t first, last, attributes;
	uint16_t name[36];
};

/* A GPT with 128 entries of 128 bytes, primary and backup. */
static void build_gpt(uint8_t *img, size_t size, uint32_t ss, const struct hand_part *parts,
		      unsigned n)
{
	uint64_t sectors = size / ss, array_sectors = 128 * 128 / ss;
	uint8_t *array = img + 2 * ss;
	uint32_t array_crc;

	memset(img, 0, size);
	mbr_entry(img, 0, 0, 0xee, 1, (uint32_t)(sectors - 1));
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = array + 128 * i;
		memcpy(e, parts[i].type, 16);
		memcpy(e + 16, parts[i].uuid, 16);
		put_le64(e + 32, parts[i].first);
		put_le64(e + 40, parts[i].last);
		put_le64(e + 48, parts[i].attributes);
		for (int k = 0; k < 36; k++)
			put_le16(e + 56 + 2 * k, parts[i].name[k]);
	}
	array_crc = ptable_crc32(array, 128 * 128);
	memcpy(img + (sectors - 1 - array_sectors) * ss, array, 128 * 128);

	for (int backup = 0; backup < 2; backup++) {
		uint64_t my = backup ? sectors - 1 : 1, alt = backup ? 1 : sectors - 1;
		uint8_t *h = img + my * ss;

		memcpy(h, "EFI PART", 8);
		put_le32(h + 8, 0x00010000);
		put_le32(h + 12, 92);
		put_le64(h + 24, my);
		put_le64(h + 32, alt);
		put_le64(h + 40, 2 + array_sectors);
		put_le64(h + 48, sectors - 2 - array_sectors);
		for (int k = 0; k < 16; k++)
			h[56 + k] = (uint8_t)(0x10 + k);
		put_le64(h + 72, backup ? sectors - 1 - array_sectors : 2);
		put_le32(h + 80, 128);
		put_le32(h + 84, 128);
		put_le32(h + 88, array_crc);
		put_le32(h + 16, ptable_crc32(h, 92));
	}
}

static void test_gpt_hand_built_4k(void **state)
{
	size_t size = 1024 * 4096;
	uint8_t *img = calloc(1, size);
	struct herd_error err = {0};
	struct ptable t;
	struct hand_part parts[3] = {0};

	for (int k = 0; k < 16; k++) {
		parts[0].type[k] = parts[1].type[k] = parts[2].type[k] = (uint8_t)(0xa0 + k);
		parts[0].uuid[k] = (uint8_t)k;
		parts[1].uuid[k] = (uint8_t)(0xf0 + k);
	}
	parts[0].first = 10;
	parts[0].last = 109;
	parts[0].attributes = 1ull << 2;
	/* "a" U+1F600 (surrogate pair) "é" and an unpaired low surrogate */
	parts[0].name[0] = 'a';
	parts[0].name[1] = 0xd83d;
	parts[0].name[2] = 0xde00;
	parts[0].name[3] = 0x00e9;
	parts[0].name[4] = 0xdc00;
	parts[1].first = 200;
	parts[1].last = 1000;
	for (int k = 0; k < 36; k++)
		parts[1].name[k] = 0x4e2d; /* 36 x U+4E2D (3 UTF-8 bytes each), no NUL */
	parts[2].first = 500;		   /* first > last: garbage, skipped */
	parts[2].last = 400;

	build_gpt(img, size, 4096, parts, 3);
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_GPT);
	assert_int_equal(t.sector_size, 4096);
	assert_int_equal(t.count, 2);
	assert_string_equal(t.disk_id, "13121110-1514-1716-1819-1a1b1c1d1e1f");
	assert_string_equal(t.partitions[0].partuuid, "03020100-0504-0706-0809-0a0b0c0d0e0f");
	assert_string_equal(t.partitions[0].type_guid, "a3a2a1a0-a5a4-a7a6-a8a9-aaabacadaeaf");
	assert_int_equal(t.partitions[0].start, 10 * 4096);
	assert_int_equal(t.partitions[0].size, 100 * 4096);
	assert_true(t.partitions[0].bootable);
	assert_string_equal(t.partitions[0].name, "a\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbd");
	assert_int_equal(strlen(t.partitions[1].name), 108);
	assert_int_equal(t.partitions[1].number, 2);
	assert_non_null(strstr(t.warning, "partition 3"));
	assert_int_equal(t.first_usable_lba, 6);
	assert_int_equal(t.last_usable_lba, 1024 - 6);
	assert_true(meta_covers(&t, 0, 6 * 4096));

	/* Overlap in a GPT. */
	parts[2].first = 100;
	parts[2].last = 150;
	build_gpt(img, size, 4096, parts, 3);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partitions 1 and 3 overlap"));

	/* Past the end. */
	parts[2].first = 1010;
	parts[2].last = 1024;
	build_gpt(img, size, 4096, parts, 3);
	assert_int_equal(parse_memory(img, size, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "partition 3 (LBA 1010-1024)"));

	/* Same table on 512-byte sectors, without the 0x55AA signature. */
	parts[2].first = 1010;
	parts[2].last = 1020;
	build_gpt(img, size, 512, parts, 3);
	img[510] = 0;
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.sector_size, 512);
	assert_int_equal(t.count, 3);
	assert_non_null(strstr(t.warning, "without a protective MBR"));
	/* ...but not from a backup header alone. */
	img[512 + 60] ^= 1;
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_NONE);
	/* With the protective MBR back, the backup is used. */
	img[510] = 0x55;
	assert_int_equal(parse_memory(img, size, &t, &err), 0);
	assert_int_equal(t.type, PTABLE_GPT);
	assert_int_equal(t.count, 3);
	assert_non_null(strstr(t.warning, "using backup"));
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32),
	    cmocka_unit_test(test_mbr_hand_built),
	    cmocka_unit_test(test_mbr_ebr_chain),
	    cmocka_unit_test(test_gpt_hand_built_4k),
	    cmocka_unit_test_setup_teardown(test_sfdisk_rpi_mbr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sfdisk_logicals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sgdisk_gpt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sgdisk_hybrid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpt_corrupt_primary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_superfloppy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
