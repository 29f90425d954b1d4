/*
 * fuzz_fat.c — libFuzzer harness for the FAT driver.
 *
 * The input (at most 64 KiB) is the start of a 4 MiB memory blockdev,
 * zeros after it.  The harness mounts it read-write, walks the tree
 * (bounded depth and entry count, so a directory that contains its own
 * parent cannot recurse forever), stats and reads every file, asks for
 * info and used ranges, then tries a write, an append, a truncate, a
 * mkdir, a rename and an unlink, and unmounts.  Every failure must come
 * with a message; used ranges must be ascending and inside the device.
 *
 * Seed corpus (tests/fuzz/corpus/fat/) was made with mkfs.fat on 64 KiB
 * files (FAT12, and a FAT32 layout with 94 clusters) and the first 64 KiB
 * of a 3 MiB FAT16, plus mtools for long names, Unicode, subdirectories
 * and multi-cluster files.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk/blockdev.h"
#include "fs/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH   6
#define MAX_ENTRIES 256
#define DEVICE_SIZE (4u << 20)

struct walk {
	void *fs;
	int entries;
	char first_file[1024];
	uint8_t buf[4096];
};

struct names {
	char name[32][800];
	bool dir[32];
	int count;
};

static void check_error(int r, const struct herd_error *err)
{
	if (r < 0 && err->message[0] == '\0')
		abort();
}

static int collect(void *userdata, const struct vfs_dirent *e)
{
	struct names *n = userdata;

	if (n->count >= 32)
		return -ECANCELED; /* stop early: bounded work per directory */
	if (!e->name || !e->name[0] || strchr(e->name, '/'))
		abort();
	snprintf(n->name[n->count], sizeof(n->name[0]), "%s", e->name);
	n->dir[n->count++] = e->st.type == VFS_DIR;
	return 0;
}

static void walk_dir(struct walk *w, const char *path, int depth)
{
	struct herd_error err = {0};
	struct names *n;
	int r;

	if (depth > MAX_DEPTH || w->entries > MAX_ENTRIES)
		return;
	n = calloc(1, sizeof(*n));
	if (!n)
		return;
	r = vfs_fat_ops.readdir(w->fs, path, collect, n, &err);
	if (r < 0 && r != -ECANCELED)
		check_error(r, &err);
	for (int i = 0; i < n->count && w->entries <= MAX_ENTRIES; i++) {
		char child[1024];
		struct vfs_stat st;
		w->entries++;
		if (snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "",
			     n->name[i]) >= (int)sizeof(child))
			continue;
		herd_error_clear(&err);
		r = vfs_fat_ops.lstat(w->fs, child, &st, &err);
		check_error(r, &err);
		if (r < 0)
			continue;
		if (n->dir[i]) {
			walk_dir(w, child, depth + 1);
			continue;
		}
		if (!w->first_file[0])
			snprintf(w->first_file, sizeof(w->first_file), "%s", child);
		/* Read the head and the tail of the file. */
		size_t got = 0;
		herd_error_clear(&err);
		r = vfs_fat_ops.read(w->fs, child, 0, w->buf, sizeof(w->buf), &got, &err);
		check_error(r, &err);
		if (r == 0 && got > sizeof(w->buf))
			abort();
		if (r == 0 && st.size > sizeof(w->buf)) {
			r = vfs_fat_ops.read(w->fs, child, st.size - 100, w->buf, sizeof(w->buf),
					     &got, &err);
			check_error(r, &err);
		}
	}
	free(n);
}

struct range_check {
	uint64_t end, device;
};

static int range_cb(void *userdata, uint64_t off, uint64_t len)
{
	struct range_check *rc = userdata;

	if (off < rc->end || len == 0 || off + len > rc->device)
		abort();
	rc->end = off + len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	struct walk *w;
	struct vfs_info info;
	struct range_check rc = {0};
	void *fs = NULL;
	int r;

	if (size > 65536)
		return 0;
	/* The input is the head of a 4 MiB device (the rest reads as zeros),
	 * so FAT16 (at least 4085 clusters) is reachable from 64 KiB inputs
	 * and the metadata and first clusters are what gets mutated. */
	if (blockdev_new_memory(NULL, DEVICE_SIZE, &bd, &err) < 0)
		return 0;
	if (size && blockdev_pwrite(bd, data, size, 0, &err) < 0)
		abort();
	rc.device = DEVICE_SIZE;
	(void)vfs_fat_ops.probe(bd);
	r = vfs_fat_ops.mount(bd, true, &fs, &err);
	check_error(r, &err);
	if (r < 0) {
		blockdev_unref(bd);
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	w->fs = fs;
	walk_dir(w, "/", 0);

	herd_error_clear(&err);
	r = vfs_fat_ops.info(fs, &info, &err);
	check_error(r, &err);
	herd_error_clear(&err);
	r = vfs_fat_ops.used_ranges(fs, range_cb, &rc, &err);
	check_error(r, &err);

	herd_error_clear(&err);
	r = vfs_fat_ops.write(fs, "/fuzz written.txt", data, size < 3000 ? size : 3000,
			      VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, &err);
	check_error(r, &err);
	herd_error_clear(&err);
	r = vfs_fat_ops.mkdir(fs, "/fuzzdir", 0755, 0, 0, &err);
	check_error(r, &err);
	herd_error_clear(&err);
	r = vfs_fat_ops.rename(fs, "/fuzz written.txt", "/fuzzdir/moved.txt", &err);
	check_error(r, &err);
	if (w->first_file[0]) {
		herd_error_clear(&err);
		r = vfs_fat_ops.write(fs, w->first_file, "more", 4, VFS_WRITE_APPEND, 0644, 0, 0,
				      &err);
		check_error(r, &err);
		herd_error_clear(&err);
		r = vfs_fat_ops.truncate(fs, w->first_file, 1, &err);
		check_error(r, &err);
		herd_error_clear(&err);
		r = vfs_fat_ops.unlink(fs, w->first_file, &err);
		check_error(r, &err);
	}
	herd_error_clear(&err);
	r = vfs_fat_ops.rmdir(fs, "/fuzzdir", &err);
	check_error(r, &err);

	herd_error_clear(&err);
	r = vfs_fat_ops.unmount(fs, &err);
	check_error(r, &err);
	free(w);
	blockdev_unref(bd);
	return 0;
}
