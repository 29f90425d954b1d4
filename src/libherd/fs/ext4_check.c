/*
 * ext4_check.c — a read-only consistency check of an ext2/3/4 filesystem,
 * the part of e2fsck's pass 5 that needs no full inode scan:
 *
 *   - the superblock state: cleanly unmounted (EXT2_VALID_FS) and no
 *     recorded errors (EXT2_ERROR_FS), no orphan list to process;
 *   - per block group, the free block and free inode counts in the group
 *     descriptor against the allocation bitmaps;
 *   - the superblock's free block and inode totals against the sums.
 *
 * libext2fs already verified the group descriptor checksums when the
 * filesystem was opened (ext2fs_open refuses bad ones) and verifies each
 * bitmap's checksum as it reads it.  What this does not do is walk every
 * inode and directory (e2fsck passes 1-4); herd image check runs e2fsck -fn
 * for that when it is installed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "fs/ext4_private.h"

static void report(vfs_problem_cb cb, void *userdata, int *problems, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(vfs_problem_cb cb, void *userdata, int *problems, const char *fmt, ...)
{
	char line[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cb(userdata, line);
	(*problems)++;
}

int ext4_check(void *fsp, vfs_problem_cb cb, void *userdata, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	ext2_filsys fs = e->fs;
	struct ext2_super_block *sb = fs->super;
	blk64_t free_blocks_total = 0;
	uint64_t free_inodes_total = 0;
	int problems = 0;
	errcode_t code;

	if (!(sb->s_state & EXT2_VALID_FS))
		report(cb, userdata, &problems,
		       "ext4: not cleanly unmounted (superblock state %#x)", sb->s_state);
	if (sb->s_state & EXT2_ERROR_FS)
		report(cb, userdata, &problems, "ext4: the superblock records errors");
	if (sb->s_last_orphan)
		report(cb, userdata, &problems, "ext4: orphan inode list not empty (inode %u)",
		       sb->s_last_orphan);
	if (!e->bitmaps_loaded) {
		code = ext2fs_read_bitmaps(fs);
		if (code)
			return ext4_fail(e, code, err, "reading the allocation bitmaps");
		e->bitmaps_loaded = true;
	}
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		blk64_t first = ext2fs_group_first_block2(fs, g);
		blk64_t last = ext2fs_group_last_block2(fs, g);
		blk64_t free_blocks = 0;
		uint32_t free_inodes = 0;

		for (blk64_t b = first; b <= last; b++)
			if (!ext2fs_fast_test_block_bitmap2(fs->block_map, b))
				free_blocks++;
		for (ext2_ino_t i = 1; i <= sb->s_inodes_per_group; i++) {
			ext2_ino_t ino = g * sb->s_inodes_per_group + i;
			if (ino > sb->s_inodes_count)
				break;
			if (!ext2fs_fast_test_inode_bitmap2(fs->inode_map, ino))
				free_inodes++;
		}
		if (ext2fs_bg_free_blocks_count(fs, g) != free_blocks)
			report(cb, userdata, &problems,
			       "ext4: group %u: descriptor says %llu free blocks, the bitmap "
			       "has %llu",
			       g, (unsigned long long)ext2fs_bg_free_blocks_count(fs, g),
			       (unsigned long long)free_blocks);
		if (ext2fs_bg_free_inodes_count(fs, g) != free_inodes)
			report(cb, userdata, &problems,
			       "ext4: group %u: descriptor says %u free inodes, the bitmap has %u",
			       g, ext2fs_bg_free_inodes_count(fs, g), free_inodes);
		free_blocks_total += free_blocks;
		free_inodes_total += free_inodes;
	}
	if (ext2fs_free_blocks_count(sb) != free_blocks_total)
		report(cb, userdata, &problems,
		       "ext4: superblock says %llu free blocks, the groups have %llu",
		       (unsigned long long)ext2fs_free_blocks_count(sb),
		       (unsigned long long)free_blocks_total);
	if (sb->s_free_inodes_count != free_inodes_total)
		report(cb, userdata, &problems,
		       "ext4: superblock says %u free inodes, the groups have %llu",
		       sb->s_free_inodes_count, (unsigned long long)free_inodes_total);
	return problems;
}
