/*
 * image.h — a disk image as herd sees it: a blockdev, its partition table,
 * and the filesystems on its partitions, addressed by number or by role.
 *
 * Roles follow Raspberry Pi OS: `boot` is the FAT partition holding
 * config.txt (or labelled bootfs/boot), `root` is the ext2/3/4 partition
 * labelled rootfs (or holding /etc/os-release).  Partition 0 is the whole
 * device; an image with no partition table is one filesystem, reachable as
 * 0, 1, or by role.
 *
 * Edits go through a copy-on-write overlay (image_open with
 * IMAGE_OVERLAY): nothing reaches the file until image_commit(), so a
 * failure half-way leaves the image untouched.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rangeset.h"
#include "blk/blockdev.h"
#include "blk/ptable.h"
#include "fs/vfs.h"

enum image_open_flags {
	IMAGE_READ_ONLY = 0,
	IMAGE_WRITABLE = 1 << 0, /* writes possible (through the overlay if requested) */
	IMAGE_OVERLAY = 1 << 1,	 /* buffer every write in memory until image_commit() */
};

struct image {
	struct blockdev *file; /* the image file or device itself */
	struct blockdev *bd;   /* what everything reads and writes: file or overlay */
	struct ptable table;
	unsigned flags;
};

struct image_os {
	char id[32];	     /* os-release ID: "debian", "raspbian", "ubuntu" */
	char version_id[32]; /* "12" */
	char codename[32];   /* VERSION_CODENAME: "bookworm" */
	char pretty_name[128];
	char rpi_issue[256];  /* first line of /etc/rpi-issue, "" if absent */
	bool raspberry_pi_os; /* /etc/rpi-issue present or ID=raspbian */
};

int image_open(const char *path, unsigned flags, struct image **ret, struct herd_error *err);
/* Use an existing blockdev (takes a reference). */
int image_open_blockdev(struct blockdev *bd, unsigned flags, struct image **ret,
			struct herd_error *err);
/* Drop everything not committed.  Accepts NULL; returns NULL. */
struct image *image_close(struct image *img);

/* Write the overlay's changes onto the file and flush (no-op without overlay). */
int image_commit(struct image *img, struct herd_error *err);

/* Resolve "2", "boot", "root", "0" to a partition number (0 = whole device). */
int image_find_partition(struct image *img, const char *spec, unsigned *ret_number,
			 struct herd_error *err);
/* A blockdev for partition `number` (0 = whole device). */
int image_open_partition(struct image *img, unsigned number, struct blockdev **ret,
			 struct herd_error *err);
/* Mount the filesystem on partition `spec`. */
int image_mount(struct image *img, const char *spec, bool writable, struct vfs **ret,
		struct herd_error *err);

/* OS of the root partition from /etc/os-release and /etc/rpi-issue.
 * -ENOENT when there is no root filesystem or no os-release. */
int image_detect_os(struct image *img, struct image_os *ret, struct herd_error *err);

/* The used-block map: partition-table structures, every gap before and
 * between partitions, each understood filesystem's used ranges, and the
 * whole of every partition herd does not understand. */
int image_used_map(struct image *img, struct rangeset *ret, struct herd_error *err);

/* Split "IMAGE:PART:/path" (PART a number or role); IMAGE may itself
 * contain ':'.  Writes newly allocated strings; -EINVAL with a message
 * when the spec is malformed. */
int image_parse_location(const char *spec, char **ret_image, char **ret_part, char **ret_path,
			 struct herd_error *err);
