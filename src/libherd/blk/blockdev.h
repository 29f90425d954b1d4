/*
 * blockdev.h — random access to the bytes of an image.
 *
 * A blockdev is a refcounted handle with four kinds behind one interface:
 *   - file:    a regular file or a block device opened by path;
 *   - view:    a window (offset, length) of another blockdev — partitions
 *              are views, so a filesystem never knows where it lives;
 *   - overlay: copy-on-write over another blockdev.  Writes land in the
 *              overlay (memory, or a sparse side file when one is given);
 *              the base is never modified until overlay_commit().  The
 *              dirty extents can be enumerated so burn can stream them
 *              in-line and build can write a new image from base+overlay;
 *   - memory:  a fixed-size buffer (tests, fuzzers).
 *
 * All I/O is all-or-nothing: blockdev_pread/pwrite return 0 when the full
 * length was transferred and a negative errno otherwise (reading or writing
 * past the end is -ENOSPC for writes and -EIO for reads, with a message).
 * Views and overlays take a reference on their base, so the caller may
 * unref the base right after creating them.
 *
 * Threads: blockdev_pread keeps no state in any kind, so several threads
 * may read one handle tree at once while nobody writes to it (burn's
 * reader and its targets' controllers do).  Anything else — writes,
 * flush, overlay changes — needs one thread per handle tree at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct blockdev;

enum blockdev_open_flags {
	BLOCKDEV_READ_ONLY = 0,
	BLOCKDEV_READ_WRITE = 1 << 0,
	BLOCKDEV_EXCLUSIVE = 1 << 1, /* O_EXCL on block devices */
	BLOCKDEV_DIRECT = 1 << 2,    /* O_DIRECT where supported */
};

/* Open a regular file or block device.  The size of a block device comes
 * from BLKGETSIZE64.  The fd is opened O_CLOEXEC and fstat'ed, never
 * stat-then-open.  BLOCKDEV_EXCLUSIVE applies to block devices only.
 * BLOCKDEV_DIRECT is required to work on block devices and best effort on
 * regular files (used when the filesystem supports O_DIRECT and the size
 * is a multiple of 4096; see blockdev_is_direct()).  With it any
 * buffer/offset/length is still accepted: unaligned requests go through an
 * aligned bounce buffer. */
int blockdev_open_file(const char *path, unsigned flags, struct blockdev **ret,
		       struct herd_error *err);

/* A memory-backed blockdev of `size` zero bytes, or a copy of `data`. */
int blockdev_new_memory(const void *data, uint64_t size, struct blockdev **ret,
			struct herd_error *err);

/* A window of `base`.  offset+length must lie within base. */
int blockdev_new_view(struct blockdev *base, uint64_t offset, uint64_t length,
		      struct blockdev **ret, struct herd_error *err);

/* Copy-on-write overlay over `base`, always writable.  side_path NULL keeps
 * the changed blocks in memory; otherwise they go to a sparse file created
 * with O_EXCL (removed again on unref). */
int blockdev_new_overlay(struct blockdev *base, const char *side_path, struct blockdev **ret,
			 struct herd_error *err);

struct blockdev *blockdev_ref(struct blockdev *bd);
/* Drops a reference; returns NULL.  Accepts NULL. */
struct blockdev *blockdev_unref(struct blockdev *bd);

uint64_t blockdev_size(const struct blockdev *bd);
bool blockdev_writable(const struct blockdev *bd);
/* A short human name for messages: the path, "memory", "overlay of …". */
const char *blockdev_name(const struct blockdev *bd);

int blockdev_pread(struct blockdev *bd, void *buf, size_t len, uint64_t offset,
		   struct herd_error *err);
int blockdev_pwrite(struct blockdev *bd, const void *buf, size_t len, uint64_t offset,
		    struct herd_error *err);
/* Make writes durable (fsync for files; no-op for memory and overlays). */
int blockdev_flush(struct blockdev *bd, struct herd_error *err);

/* Overlay only: the byte ranges that differ from the base, in ascending
 * order, merged.  cb returns <0 to stop (that value is returned). */
typedef int (*blockdev_extent_cb)(void *userdata, uint64_t offset, uint64_t length);
int blockdev_overlay_extents(struct blockdev *overlay, blockdev_extent_cb cb, void *userdata,
			     struct herd_error *err);

/* Overlay only: write every changed extent onto the base (which must be
 * writable), flush the base, and empty the overlay. */
int blockdev_overlay_commit(struct blockdev *overlay, struct herd_error *err);

/* Overlay only: drop every change (the base is untouched). */
int blockdev_overlay_discard(struct blockdev *overlay, struct herd_error *err);

/* Overlay only: bytes held by the overlay (whole chunks); 0 otherwise. */
uint64_t blockdev_overlay_dirty_bytes(const struct blockdev *overlay);

bool blockdev_is_overlay(const struct blockdev *bd);
/* True when I/O bypasses the page cache (O_DIRECT is in effect). */
bool blockdev_is_direct(const struct blockdev *bd);

/* Replace the name used in messages (e.g. "image.img partition 2"). */
int blockdev_set_name(struct blockdev *bd, const char *name, struct herd_error *err);

/* The underlying base of a view or overlay (no new reference), NULL for files. */
struct blockdev *blockdev_base(struct blockdev *bd);
