/*
 * vfs.h — one file API over every filesystem herd understands.
 *
 * A `struct vfs` is a mounted filesystem on a blockdev (usually a partition
 * view, often an overlay).  Each filesystem is one file (fat.c, ext4.c)
 * exporting a `struct vfs_ops` table; vfs.c probes them in order, like
 * libarchive's bidders, and does the path handling common to all of them:
 * every path is absolute inside the filesystem, "." and empty components
 * are dropped, and ".." is refused (-EINVAL, "path escapes the
 * filesystem") so nothing can climb out.
 *
 * Filesystems without ownership or Unix modes (FAT) accept mode/uid/gid
 * arguments and ignore what they cannot store; chown/chmod there succeed
 * only for values they can represent (documented per op in fat.c).
 *
 * Writes go to the blockdev as they happen; vfs_close() flushes metadata
 * (FSInfo, superblock, bitmaps) and must be called for changes to be
 * complete.  On any error the caller should discard the overlay it wrote
 * through, which is how "no partial write left behind" is guaranteed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "blk/blockdev.h"

struct vfs;

enum vfs_type {
	VFS_FILE = 1,
	VFS_DIR,
	VFS_SYMLINK,
	VFS_OTHER, /* device nodes, fifos, sockets: listed, not written */
};

struct vfs_stat {
	enum vfs_type type;
	uint32_t mode; /* permission bits (07777); FAT synthesises 0755/0644 */
	uint32_t uid, gid;
	uint64_t size;
	uint32_t nlink;
	uint64_t ino;		     /* inode number; FAT: first cluster (0 for empty files) */
	int64_t mtime, atime, ctime; /* seconds since the epoch (UTC) */
};

struct vfs_dirent {
	const char *name;
	struct vfs_stat st;
};

struct vfs_info {
	const char *type; /* "fat12", "fat16", "fat32", "ext4", "ext3", "ext2" */
	char label[64];
	char uuid[40]; /* ext: UUID; FAT: volume id "ABCD-1234" */
	uint64_t size; /* bytes of the filesystem */
	uint64_t used; /* bytes allocated (data + metadata) */
	uint32_t block_size;
};

/* Callback for used ranges (byte offsets relative to the filesystem's blockdev). */
typedef int (*vfs_range_cb)(void *userdata, uint64_t offset, uint64_t length);
typedef int (*vfs_readdir_cb)(void *userdata, const struct vfs_dirent *entry);

enum vfs_write_flags {
	VFS_WRITE_CREATE = 1 << 0,   /* create if missing */
	VFS_WRITE_TRUNCATE = 1 << 1, /* replace content */
	VFS_WRITE_APPEND = 1 << 2,   /* write at end */
	VFS_WRITE_EXCL = 1 << 3,     /* fail with -EEXIST if present */
};

/* Per-filesystem operations.  Paths handed to ops are already normalised:
 * absolute, no "." / ".." / empty components, no trailing slash ("/" for
 * the root).  Every op returns 0 or -errno and fills err. */
/* One problem found by vfs_check(), as a line without a newline. */
typedef void (*vfs_problem_cb)(void *userdata, const char *problem);

struct vfs_ops {
	const char *name;
	/* Cheap check of the superblock/BPB: 1 = mine, 0 = not mine, <0 error. */
	int (*probe)(struct blockdev *bd);
	int (*mount)(struct blockdev *bd, bool writable, void **ret_fs, struct herd_error *err);
	/* Flush and release; called exactly once. */
	int (*unmount)(void *fs, struct herd_error *err);
	int (*info)(void *fs, struct vfs_info *ret, struct herd_error *err);
	/* lstat: does not follow a final symlink. */
	int (*lstat)(void *fs, const char *path, struct vfs_stat *ret, struct herd_error *err);
	int (*read)(void *fs, const char *path, uint64_t offset, void *buf, size_t len,
		    size_t *ret_read, struct herd_error *err);
	int (*write)(void *fs, const char *path, const void *buf, size_t len, unsigned flags,
		     uint32_t mode, uint32_t uid, uint32_t gid, struct herd_error *err);
	int (*truncate)(void *fs, const char *path, uint64_t size, struct herd_error *err);
	int (*mkdir)(void *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
		     struct herd_error *err);
	int (*symlink)(void *fs, const char *target, const char *path, uint32_t uid, uint32_t gid,
		       struct herd_error *err);
	int (*link)(void *fs, const char *existing, const char *path, struct herd_error *err);
	int (*readlink)(void *fs, const char *path, char *buf, size_t len, struct herd_error *err);
	int (*chmod)(void *fs, const char *path, uint32_t mode, struct herd_error *err);
	int (*chown)(void *fs, const char *path, uint32_t uid, uint32_t gid,
		     struct herd_error *err);
	int (*utimes)(void *fs, const char *path, int64_t mtime, struct herd_error *err);
	int (*unlink)(void *fs, const char *path, struct herd_error *err);
	int (*rmdir)(void *fs, const char *path, struct herd_error *err);
	int (*rename)(void *fs, const char *from, const char *to, struct herd_error *err);
	int (*readdir)(void *fs, const char *path, vfs_readdir_cb cb, void *userdata,
		       struct herd_error *err);
	/* Every byte range the filesystem uses (metadata + allocated data). */
	int (*used_ranges)(void *fs, vfs_range_cb cb, void *userdata, struct herd_error *err);
	/* Read-only consistency check: each problem found goes to cb as one
	 * line; returns the number of problems, or -errno when the check
	 * itself could not run.  NULL: the filesystem has no check. */
	int (*check)(void *fs, vfs_problem_cb cb, void *userdata, struct herd_error *err);
};

extern const struct vfs_ops vfs_fat_ops;
extern const struct vfs_ops vfs_ext4_ops;

/* Probe and mount.  -EMEDIUMTYPE with "no filesystem herd understands" when
 * nothing claims it.  Takes a reference on bd. */
int vfs_mount(struct blockdev *bd, bool writable, struct vfs **ret, struct herd_error *err);
/* Flush, unmount, drop the blockdev reference.  Accepts NULL. */
int vfs_close(struct vfs *fs, struct herd_error *err);
const struct vfs_ops *vfs_probe(struct blockdev *bd);

int vfs_info(struct vfs *fs, struct vfs_info *ret, struct herd_error *err);
int vfs_lstat(struct vfs *fs, const char *path, struct vfs_stat *ret, struct herd_error *err);
/* stat following symlinks (at most 40 hops, resolved inside the filesystem). */
int vfs_stat(struct vfs *fs, const char *path, struct vfs_stat *ret, struct herd_error *err);
int vfs_read(struct vfs *fs, const char *path, uint64_t offset, void *buf, size_t len,
	     size_t *ret_read, struct herd_error *err);
/* Whole file into a malloc'ed buffer (NUL-terminated for convenience);
 * refuses files larger than max. */
int vfs_read_all(struct vfs *fs, const char *path, size_t max, char **ret_data, size_t *ret_len,
		 struct herd_error *err);
int vfs_write(struct vfs *fs, const char *path, const void *buf, size_t len, unsigned flags,
	      uint32_t mode, uint32_t uid, uint32_t gid, struct herd_error *err);
int vfs_truncate(struct vfs *fs, const char *path, uint64_t size, struct herd_error *err);
/* parents: create missing parents with the same mode/owner; an existing
 * directory is then not an error. */
int vfs_mkdir(struct vfs *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
	      bool parents, struct herd_error *err);
int vfs_symlink(struct vfs *fs, const char *target, const char *path, uint32_t uid, uint32_t gid,
		struct herd_error *err);
int vfs_link(struct vfs *fs, const char *existing, const char *path, struct herd_error *err);
int vfs_readlink(struct vfs *fs, const char *path, char *buf, size_t len, struct herd_error *err);
int vfs_chmod(struct vfs *fs, const char *path, uint32_t mode, struct herd_error *err);
int vfs_chown(struct vfs *fs, const char *path, uint32_t uid, uint32_t gid, struct herd_error *err);
int vfs_utimes(struct vfs *fs, const char *path, int64_t mtime, struct herd_error *err);
int vfs_unlink(struct vfs *fs, const char *path, struct herd_error *err);
int vfs_rmdir(struct vfs *fs, const char *path, struct herd_error *err);
int vfs_rename(struct vfs *fs, const char *from, const char *to, struct herd_error *err);
int vfs_readdir(struct vfs *fs, const char *path, vfs_readdir_cb cb, void *userdata,
		struct herd_error *err);
int vfs_used_ranges(struct vfs *fs, vfs_range_cb cb, void *userdata, struct herd_error *err);
/* Check the filesystem's own consistency without changing it (FAT: every
 * cluster in one chain, free count; ext4: state, group and superblock
 * counts against the bitmaps).  Returns the number of problems reported
 * through cb (0 = consistent) or -errno. */
int vfs_check(struct vfs *fs, vfs_problem_cb cb, void *userdata, struct herd_error *err);

/* Normalise `path` into `out` (see above).  -EINVAL for relative paths,
 * "..", NUL/control bytes, or components longer than 255 bytes. */
int vfs_normalize_path(const char *path, char *out, size_t outlen, struct herd_error *err);
