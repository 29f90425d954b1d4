/*
 * ext4_inode.c — inodes and directory entries for ext4.c.
 *
 * What it does: the inode-level steps every vfs operation is made of:
 * timestamps (with the ext4 extra-epoch bits), owners with their high 16
 * bits, stat, the chattr checks, adding / repointing / counting directory
 * entries, directory link counts (dir_nlink), creating a file, directory
 * or symlink with its first block and entry, and releasing an inode with
 * its blocks and xattr block when its last name goes.
 *
 * What it does not do: path lookup (ext4_path.c) or mounting and the vfs
 * op table (ext4.c).  Errors come back as libext2fs errcode_t here and are
 * turned into -errno with a message by ext4_fail().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/macros.h"
#include "fs/ext4_private.h"

int ext4_fail(struct ext4_fs *e, errcode_t code, struct herd_error *err, const char *what)
{
	int r = ext4_errno(code);
	const char *io = e ? ext4_io_last_error(e->fs->io) : "";
	bool from_io =
	    (code > 0 && code < 4096) || code == EXT2_ET_SHORT_READ || code == EXT2_ET_SHORT_WRITE;

	if (r == -ENOSPC)
		r = herd_error_set(err, ENOSPC, "ext4: %s: no space left", what);
	else if (from_io && io[0])
		r = herd_error_set(err, -r, "ext4: %s: %s", what, io);
	else
		r = herd_error_set(err, -r, "ext4: %s: %s", what, ext4_strerror(code));
	if (e)
		ext4_io_clear_error(e->fs->io);
	return r;
}

int64_t ext4_now(const struct ext4_fs *e)
{
	return e->have_epoch ? e->epoch : (int64_t)time(NULL);
}

size_t ext4_inode_size(const struct ext4_fs *e)
{
	return EXT2_INODE_SIZE(e->fs->super);
}

/* Does the inode's extra space reach `end` bytes (offset of a field's end
 * inside struct ext2_inode_large)?  (ext4 "i_extra_isize" rule.) */
static bool ext4_has_extra(const struct ext4_fs *e, const struct ext2_inode_large *in, size_t end)
{
	return ext4_inode_size(e) > EXT2_GOOD_OLD_INODE_SIZE &&
	       (size_t)EXT2_GOOD_OLD_INODE_SIZE + in->i_extra_isize >= end &&
	       end <= ext4_inode_size(e);
}

#define EXT4_FIELD_END(field)                                                                      \
	(offsetof(struct ext2_inode_large, field) + sizeof(((struct ext2_inode_large *)0)->field))

/* ext4 timestamps: 32 low bits in the classic field, and in the extra
 * field 2 epoch bits (bits 32-33 of the signed time) plus nanoseconds. */
static void ext4_encode_time(int64_t t, __u32 *lo, __u32 *extra)
{
	*lo = (__u32)t;
	if (extra)
		*extra = (__u32)(((uint64_t)(t - (int64_t)(int32_t)*lo) >> 32) & 3);
}

static int64_t ext4_decode_time(__u32 lo, const __u32 *extra)
{
	int64_t t = (int32_t)lo;

	if (extra)
		t += (int64_t)(*extra & 3) << 32;
	return t;
}

void ext4_stamp(const struct ext4_fs *e, struct ext2_inode_large *in, unsigned which, int64_t t)
{
	if (which & EXT4_ATIME)
		ext4_encode_time(t, &in->i_atime,
				 ext4_has_extra(e, in, EXT4_FIELD_END(i_atime_extra))
				     ? &in->i_atime_extra
				     : NULL);
	if (which & EXT4_MTIME)
		ext4_encode_time(t, &in->i_mtime,
				 ext4_has_extra(e, in, EXT4_FIELD_END(i_mtime_extra))
				     ? &in->i_mtime_extra
				     : NULL);
	if (which & EXT4_CTIME)
		ext4_encode_time(t, &in->i_ctime,
				 ext4_has_extra(e, in, EXT4_FIELD_END(i_ctime_extra))
				     ? &in->i_ctime_extra
				     : NULL);
	if ((which & EXT4_CRTIME) && ext4_has_extra(e, in, EXT4_FIELD_END(i_crtime_extra)))
		ext4_encode_time(t, &in->i_crtime, &in->i_crtime_extra);
}

errcode_t ext4_read_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in)
{
	memset(in, 0, sizeof(*in));
	return ext2fs_read_inode_full(e->fs, ino, (struct ext2_inode *)in, sizeof(*in));
}

/* Writes the first sizeof(*in) bytes; libext2fs keeps whatever follows
 * (in-inode extended attributes) and updates the checksum. */
errcode_t ext4_write_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in)
{
	return ext2fs_write_inode_full(e->fs, ino, (struct ext2_inode *)in, sizeof(*in));
}

uint32_t ext4_uid(const struct ext2_inode_large *in)
{
	return in->i_uid | ((uint32_t)in->osd2.linux2.l_i_uid_high << 16);
}

uint32_t ext4_gid(const struct ext2_inode_large *in)
{
	return in->i_gid | ((uint32_t)in->osd2.linux2.l_i_gid_high << 16);
}

void ext4_set_owner(struct ext2_inode_large *in, uint32_t uid, uint32_t gid)
{
	in->i_uid = (__u16)uid;
	in->osd2.linux2.l_i_uid_high = (__u16)(uid >> 16);
	in->i_gid = (__u16)gid;
	in->osd2.linux2.l_i_gid_high = (__u16)(gid >> 16);
}

int ext4_dirent_type(uint32_t mode)
{
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG:
		return EXT2_FT_REG_FILE;
	case LINUX_S_IFDIR:
		return EXT2_FT_DIR;
	case LINUX_S_IFLNK:
		return EXT2_FT_SYMLINK;
	case LINUX_S_IFCHR:
		return EXT2_FT_CHRDEV;
	case LINUX_S_IFBLK:
		return EXT2_FT_BLKDEV;
	case LINUX_S_IFIFO:
		return EXT2_FT_FIFO;
	case LINUX_S_IFSOCK:
		return EXT2_FT_SOCK;
	default:
		return EXT2_FT_UNKNOWN;
	}
}

void ext4_fill_stat(const struct ext4_fs *e, ext2_ino_t ino, const struct ext2_inode_large *in,
		    struct vfs_stat *st)
{
	memset(st, 0, sizeof(*st));
	if (LINUX_S_ISREG(in->i_mode))
		st->type = VFS_FILE;
	else if (LINUX_S_ISDIR(in->i_mode))
		st->type = VFS_DIR;
	else if (LINUX_S_ISLNK(in->i_mode))
		st->type = VFS_SYMLINK;
	else
		st->type = VFS_OTHER;
	st->mode = in->i_mode & 07777;
	st->uid = ext4_uid(in);
	st->gid = ext4_gid(in);
	st->size = EXT2_I_SIZE(in);
	st->nlink = in->i_links_count;
	st->ino = ino;
	st->atime = ext4_decode_time(
	    in->i_atime,
	    ext4_has_extra(e, in, EXT4_FIELD_END(i_atime_extra)) ? &in->i_atime_extra : NULL);
	st->mtime = ext4_decode_time(
	    in->i_mtime,
	    ext4_has_extra(e, in, EXT4_FIELD_END(i_mtime_extra)) ? &in->i_mtime_extra : NULL);
	st->ctime = ext4_decode_time(
	    in->i_ctime,
	    ext4_has_extra(e, in, EXT4_FIELD_END(i_ctime_extra)) ? &in->i_ctime_extra : NULL);
}

int ext4_may(const struct ext2_inode_large *in, enum ext4_change c, const char *path,
	     struct herd_error *err)
{
	bool data = c == EXT4_CHANGE_APPEND || c == EXT4_CHANGE_DATA;

	if (in->i_flags & EXT2_IMMUTABLE_FL)
		return herd_error_set(err, EPERM, "ext4: %s: immutable (chattr +i)", path);
	if ((in->i_flags & EXT2_APPEND_FL) && c != EXT4_CHANGE_APPEND && c != EXT4_CHANGE_ADD_ENTRY)
		return herd_error_set(err, EPERM, "ext4: %s: append-only (chattr +a)", path);
	if ((in->i_flags & EXT4_VERITY_FL) && data)
		return herd_error_set(err, EPERM, "ext4: %s: fs-verity file is read-only", path);
	if ((in->i_flags & EXT4_ENCRYPT_FL) && (data || c == EXT4_CHANGE_ADD_ENTRY))
		return herd_error_set(err, EOPNOTSUPP, "ext4: %s: encrypted", path);
	return 0;
}

int ext4_may_dir(struct ext4_fs *e, ext2_ino_t dir, enum ext4_change c, const char *path,
		 struct herd_error *err)
{
	struct ext2_inode_large din;
	errcode_t code = ext4_read_inode(e, dir, &din);

	if (code)
		return ext4_fail(e, code, err, path);
	return ext4_may(&din, c, path, err);
}

/* Add a directory entry, growing a linear directory by a block when it is
 * full.  An indexed (htree) directory grows its own tree inside
 * ext2fs_link; if even that is full we report no space rather than
 * appending a block the index does not know about. */
errcode_t ext4_add_entry(struct ext4_fs *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			 int type)
{
	for (int tries = 0;; tries++) {
		struct ext2_inode_large din;
		errcode_t code = ext2fs_link(e->fs, dir, name, ino, type);

		if (code != EXT2_ET_DIR_NO_SPACE || tries >= 2)
			return code;
		code = ext4_read_inode(e, dir, &din);
		if (code)
			return code;
		if (din.i_flags & EXT2_INDEX_FL)
			return EXT2_ET_DIR_NO_SPACE;
		code = ext2fs_expand_dir(e->fs, dir);
		if (code)
			return code;
	}
}

struct ext4_set_entry {
	const char *name;
	size_t len;
	ext2_ino_t ino;
	int type;
	bool set_type;
	bool found;
};

static int ext4_set_entry_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
			     int blocksize, char *buf, void *userdata)
{
	struct ext4_set_entry *s = userdata;

	if (dirent->inode == 0 || (size_t)ext2fs_dirent_name_len(dirent) != s->len ||
	    memcmp(dirent->name, s->name, s->len) != 0)
		return 0;
	dirent->inode = s->ino;
	if (s->set_type)
		ext2fs_dirent_set_file_type(dirent, s->type);
	s->found = true;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

/* Point the existing entry `name` of `dir` at `ino` (rename over a target,
 * or ".." of a moved directory). */
errcode_t ext4_set_entry(struct ext4_fs *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			 int type)
{
	struct ext4_set_entry s = {
	    .name = name,
	    .len = strlen(name),
	    .ino = ino,
	    .type = type,
	    .set_type = ext2fs_has_feature_filetype(e->fs->super),
	};
	errcode_t code = ext2fs_dir_iterate2(e->fs, dir, 0, NULL, ext4_set_entry_cb, &s);

	if (code)
		return code;
	return s.found ? 0 : EXT2_ET_FILE_NOT_FOUND;
}

static int ext4_empty_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
			 int blocksize, char *buf, void *userdata)
{
	int len = ext2fs_dirent_name_len(dirent);
	bool *empty = userdata;

	if (dirent->inode == 0 || (len == 1 && dirent->name[0] == '.') ||
	    (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
		return 0;
	*empty = false;
	return DIRENT_ABORT;
}

errcode_t ext4_dir_is_empty(struct ext4_fs *e, ext2_ino_t dir, bool *ret_empty)
{
	bool empty = true;
	errcode_t code = ext2fs_dir_iterate2(e->fs, dir, 0, NULL, ext4_empty_cb, &empty);

	if (code)
		return code;
	*ret_empty = empty;
	return 0;
}

/* Directory link counts with dir_nlink: a count of 1 means "too many
 * subdirectories to count" and stays 1 (ext4 ext4_inc_count/dec_count). */
bool ext4_dir_can_add_link(struct ext4_fs *e, const struct ext2_inode_large *din)
{
	return din->i_links_count == 1 || din->i_links_count + 1 < EXT2_LINK_MAX ||
	       ext2fs_has_feature_dir_nlink(e->fs->super);
}

static void ext4_dir_add_link(struct ext4_fs *e, struct ext2_inode_large *din)
{
	if (din->i_links_count == 1)
		return;
	if (din->i_links_count + 1 >= EXT2_LINK_MAX)
		din->i_links_count = 1;
	else
		din->i_links_count++;
}

static void ext4_dir_drop_link(struct ext2_inode_large *din)
{
	if (din->i_links_count > 2)
		din->i_links_count--;
}

/* Adjust a directory's subdirectory link count by delta and stamp its
 * mtime/ctime (it changed). */
errcode_t ext4_touch_dir(struct ext4_fs *e, ext2_ino_t dir, int delta)
{
	struct ext2_inode_large din;
	errcode_t code = ext4_read_inode(e, dir, &din);

	if (code)
		return code;
	for (; delta > 0; delta--)
		ext4_dir_add_link(e, &din);
	for (; delta < 0; delta++)
		ext4_dir_drop_link(&din);
	ext4_stamp(e, &din, EXT4_MTIME | EXT4_CTIME, ext4_now(e));
	return ext4_write_inode(e, dir, &din);
}

/* Free an inode whose last link is gone: its xattr block reference, its
 * blocks (extent, block-mapped or inline), then the inode itself. */
errcode_t ext4_release_inode(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in)
{
	ext2_filsys fs = e->fs;
	blk64_t acl = ext2fs_file_acl_block(fs, (struct ext2_inode *)in);
	bool isdir = LINUX_S_ISDIR(in->i_mode);
	errcode_t code;

	if (acl) {
		__u32 count = 0;

		code = ext2fs_adjust_ea_refcount3(fs, acl, NULL, -1, &count, ino);
		if (code)
			return code;
		if (count == 0)
			ext2fs_block_alloc_stats2(fs, acl, -1);
		ext2fs_file_acl_block_set(fs, (struct ext2_inode *)in, 0);
	}
	if (ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)in) ||
	    (in->i_flags & EXT4_INLINE_DATA_FL)) {
		code = ext2fs_punch(fs, ino, (struct ext2_inode *)in, NULL, 0, ~0ULL);
		if (code)
			return code;
	}
	in->i_links_count = 0;
	in->i_size = 0;
	in->i_size_high = 0;
	in->i_dtime = (__u32)ext4_now(e);
	code = ext4_write_inode(e, ino, in);
	if (code)
		return code;
	ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
	return 0;
}

/* Drop one name of a non-directory inode; free it with the last one. */
errcode_t ext4_drop_link(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in)
{
	if (in->i_links_count > 1) {
		in->i_links_count--;
		ext4_stamp(e, in, EXT4_CTIME, ext4_now(e));
		return ext4_write_inode(e, ino, in);
	}
	return ext4_release_inode(e, ino, in);
}

/*
 * Create a file, directory or symlink at w (which must not exist).  The
 * inode and its first block are accounted for before the entry is added,
 * so growing the directory cannot hand out the same block twice; if the
 * entry cannot be added they are given back, so a full directory leaves
 * no orphan behind.
 */
int ext4_create(struct ext4_fs *e, const struct ext4_where *w, uint32_t mode, uint32_t uid,
		uint32_t gid, const char *target, const char *path, ext2_ino_t *ret_ino,
		struct herd_error *err)
{
	ext2_filsys fs = e->fs;
	bool isdir = LINUX_S_ISDIR(mode), islnk = LINUX_S_ISLNK(mode);
	size_t tlen = target ? strlen(target) : 0;
	size_t isize = ext4_inode_size(e);
	bool fast = islnk && tlen < sizeof(((struct ext2_inode *)0)->i_block);
	_cleanup_free_ struct ext2_inode_large *in = NULL;
	_cleanup_free_ char *block = NULL;
	bool inode_counted = false;
	struct ext2_inode_large parent;
	ext2_ino_t ino = 0;
	blk64_t blk = 0;
	int64_t now = ext4_now(e);
	errcode_t code;
	int r;

	in = calloc(1, MAX(isize, sizeof(*in)));
	if (!in)
		return herd_error_set(err, ENOMEM, "ext4: out of memory");
	r = ext4_may_dir(e, w->parent, EXT4_CHANGE_ADD_ENTRY, path, err);
	if (r < 0)
		return r;
	if (isdir) {
		code = ext4_read_inode(e, w->parent, &parent);
		if (code)
			return ext4_fail(e, code, err, path);
		if (!ext4_dir_can_add_link(e, &parent))
			return herd_error_set(err, EMLINK, "ext4: %s: too many links", path);
	}

	code = ext2fs_new_inode(fs, w->parent, (int)mode, NULL, &ino);
	if (code)
		return ext4_fail(e, code, err, path);
	if (isdir || (islnk && !fast)) {
		blk64_t goal = ext2fs_find_inode_goal(fs, ino, (struct ext2_inode *)in, 0);

		code = ext2fs_new_block2(fs, goal, NULL, &blk);
		if (code)
			return ext4_fail(e, code, err, path);
		ext2fs_block_alloc_stats2(fs, blk, +1);
		if (isdir) {
			code = ext2fs_new_dir_block(fs, ino, w->parent, &block);
			if (!code)
				code = ext2fs_write_dir_block4(fs, blk, block, 0, ino);
		} else {
			block = calloc(1, fs->blocksize);
			if (!block)
				code = EXT2_ET_NO_MEMORY;
			else {
				memcpy(block, target, tlen);
				code = io_channel_write_blk64(fs->io, blk, 1, block);
			}
		}
		if (code)
			goto undo;
	}
	ext2fs_inode_alloc_stats2(fs, ino, +1, isdir);
	inode_counted = true;

	in->i_mode = (__u16)mode;
	ext4_set_owner(in, uid, gid);
	in->i_links_count = isdir ? 2 : 1;
	if (isize > EXT2_GOOD_OLD_INODE_SIZE)
		in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	ext4_stamp(e, in, EXT4_ATIME | EXT4_MTIME | EXT4_CTIME | EXT4_CRTIME, now);
	if (fast) {
		memcpy(in->i_block, target, tlen);
		in->i_size = (__u32)tlen;
	} else if (blk) {
		in->i_size = isdir ? fs->blocksize : (__u32)tlen;
		code = ext2fs_iblk_set(fs, (struct ext2_inode *)in, 1);
		if (code)
			goto undo;
		if (!ext2fs_has_feature_extents(fs->super))
			in->i_block[0] = (__u32)blk;
	}
	/* Write the whole inode (zeroing any stale bytes of a reused slot)
	 * before the extent code touches it on disk. */
	code = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)in, (int)isize);
	if (code)
		goto undo;
	if (ext2fs_has_feature_extents(fs->super) && !fast) {
		ext2_extent_handle_t handle = NULL;

		code = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &handle);
		if (!code && blk)
			code = ext2fs_extent_set_bmap(handle, 0, blk, 0);
		if (handle)
			ext2fs_extent_free(handle);
		if (code)
			goto undo;
		code = ext4_write_inode(e, ino, in);
		if (code)
			goto undo;
	}

	code = ext4_add_entry(e, w->parent, w->name, ino, ext4_dirent_type(mode));
	if (code)
		goto undo;
	code = ext4_touch_dir(e, w->parent, isdir ? 1 : 0);
	if (code)
		return ext4_fail(e, code, err, path);
	if (ret_ino)
		*ret_ino = ino;
	return 0;

undo:
	r = ext4_fail(e, code, err, path);
	if (blk)
		ext2fs_block_alloc_stats2(fs, blk, -1);
	if (inode_counted) {
		/* e2fsck treats an inode with links and no dtime as in use,
		 * bitmap or not: leave it deleted. */
		in->i_links_count = 0;
		in->i_dtime = (__u32)now;
		(void)ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)in, (int)isize);
		ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
	}
	return r;
}
