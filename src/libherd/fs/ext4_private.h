/*
 * ext4_private.h — what ext4.c, ext4_path.c, ext4_inode.c and ext4_io.c
 * share, and nothing else.
 *
 * This header includes libext2fs and is therefore only for the ext4*.c
 * files: the rest of herd sees ext2/3/4 through `vfs_ext4_ops` (vfs.h)
 * and never a libext2fs type.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

#include "base/error.h"
#include "blk/blockdev.h"
#include "fs/vfs.h"

/* The io_manager that reads and writes a struct blockdev.  libext2fs opens
 * channels by name only, so the blockdev travels in the name:
 * ext4_io_channel_name() encodes it and the manager's open() decodes it.
 * The channel takes its own reference on the blockdev. */
extern const struct struct_io_manager ext4_io_manager;

/* "herd-blockdev:<hex pointer>"; len must be at least EXT4_IO_NAME_MAX. */
#define EXT4_IO_NAME_MAX 48
void ext4_io_channel_name(struct blockdev *bd, char *buf, size_t len);

/* The message of the last blockdev failure seen by this channel ("" when
 * none since the last clear), so "read past end of overlay" survives the
 * trip through errcode_t. */
const char *ext4_io_last_error(io_channel channel);
void ext4_io_clear_error(io_channel channel);

/* libext2fs error code → text, without registering com_err tables
 * globally (we look the ext2 table up directly). */
const char *ext4_strerror(errcode_t code);
/* libext2fs error code → negative errno. */
int ext4_errno(errcode_t code);

/* ---- a mounted filesystem (ext4.c) ----------------------------------- */

/* Like the kernel's MAXSYMLINKS. */
#define EXT4_MAX_SYMLINK_HOPS 40
/* Bound on a path being rewritten by symlink expansion. */
#define EXT4_MAX_WALK_PATH (64 * 1024)

struct ext4_fs {
	ext2_filsys fs;
	bool writable;
	bool bitmaps_loaded;
	bool have_epoch;
	int64_t epoch;
};

/* Record a libext2fs failure as "ext4: <what>: <why>"; returns -errno. */
int ext4_fail(struct ext4_fs *e, errcode_t code, struct herd_error *err, const char *what);
/* Now, or SOURCE_DATE_EPOCH. */
int64_t ext4_now(const struct ext4_fs *e);
size_t ext4_inode_size(const struct ext4_fs *e);

/* ---- paths (ext4_path.c) ---------------------------------------------- */

/* A resolved path: the directory holding the final component, its name
 * and, when it exists, its inode. */
struct ext4_where {
	ext2_ino_t parent;
	ext2_ino_t ino; /* 0 when the final component does not exist */
	char name[EXT2_NAME_LEN + 1];
	struct ext2_inode_large inode;
};

/* Resolve an absolute path (see ext4_path.c). */
int ext4_walk(struct ext4_fs *e, const char *path, bool follow_final, struct ext4_where *w,
	      struct herd_error *err);
/* The same, -ENOENT when the final component is missing. */
int ext4_walk_existing(struct ext4_fs *e, const char *path, bool follow_final, struct ext4_where *w,
		       struct herd_error *err);
/* A final component we may add or remove: not "/", ".", "..". */
bool ext4_nameable(const struct ext4_where *w);
/* A symlink's target into buf (cap >= block size + 1), NUL-terminated. */
errcode_t ext4_read_symlink(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in,
			    char *buf, size_t cap, size_t *ret_len);

/* ---- inodes and entries (ext4_inode.c) -------------------------------- */

enum {
	EXT4_ATIME = 1 << 0,
	EXT4_MTIME = 1 << 1,
	EXT4_CTIME = 1 << 2,
	EXT4_CRTIME = 1 << 3,
};

/* What a change does to an inode, for the chattr flags the kernel
 * enforces (ext4_setattr, ext4_file_write_iter, may_delete): immutable
 * inodes never change, append-only ones only grow (and, as directories,
 * only gain entries), fs-verity files keep their data, and encrypted
 * ones are opaque to us (their names and data are ciphertext). */
enum ext4_change {
	EXT4_CHANGE_APPEND,
	EXT4_CHANGE_DATA,
	EXT4_CHANGE_ATTR,
	EXT4_CHANGE_NAME,
	EXT4_CHANGE_ADD_ENTRY,
	EXT4_CHANGE_REMOVE_ENTRY,
};

errcode_t ext4_read_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in);
errcode_t ext4_write_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in);
/* Set the EXT4_*TIME fields in `which` to t. */
void ext4_stamp(const struct ext4_fs *e, struct ext2_inode_large *in, unsigned which, int64_t t);
uint32_t ext4_uid(const struct ext2_inode_large *in);
uint32_t ext4_gid(const struct ext2_inode_large *in);
void ext4_set_owner(struct ext2_inode_large *in, uint32_t uid, uint32_t gid);
int ext4_dirent_type(uint32_t mode);
void ext4_fill_stat(const struct ext4_fs *e, ext2_ino_t ino, const struct ext2_inode_large *in,
		    struct vfs_stat *st);

int ext4_may(const struct ext2_inode_large *in, enum ext4_change c, const char *path,
	     struct herd_error *err);
int ext4_may_dir(struct ext4_fs *e, ext2_ino_t dir, enum ext4_change c, const char *path,
		 struct herd_error *err);

errcode_t ext4_add_entry(struct ext4_fs *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			 int type);
errcode_t ext4_set_entry(struct ext4_fs *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			 int type);
errcode_t ext4_dir_is_empty(struct ext4_fs *e, ext2_ino_t dir, bool *ret_empty);
bool ext4_dir_can_add_link(struct ext4_fs *e, const struct ext2_inode_large *din);
/* Adjust a directory's subdirectory link count, stamp mtime/ctime. */
errcode_t ext4_touch_dir(struct ext4_fs *e, ext2_ino_t dir, int delta);
errcode_t ext4_release_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in);
errcode_t ext4_drop_link(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in);
/* Create a file, directory or symlink (target) where w says; -errno. */
int ext4_create(struct ext4_fs *e, const struct ext4_where *w, uint32_t mode, uint32_t uid,
		uint32_t gid, const char *target, const char *path, ext2_ino_t *ret_ino,
		struct herd_error *err);

/* ---- read-only consistency check (ext4_check.c) ------------------------ */

int ext4_check(void *fs, vfs_problem_cb cb, void *userdata, struct herd_error *err);
