/*
 * ext4.c — ext2/ext3/ext4 read-write for the vfs layer, through libext2fs.
 *
 * What it does: mounts an ext2/3/4 filesystem that lives on a blockdev
 * (via the io_manager in ext4_io.c, so writes can land in an overlay) and
 * implements `vfs_ext4_ops` (vfs.h): lookup with symlinks resolved inside
 * the filesystem, read, write/create/append/truncate, mkdir, symlink,
 * hard links, chmod/chown/utimes, unlink/rmdir, rename, readdir, info and
 * the list of used byte ranges.  Path lookup lives in ext4_path.c, the
 * inode and directory-entry steps in ext4_inode.c, the io_manager in
 * ext4_io.c; this file mounts and implements the operations.
 *
 * What it does not do: replay or write the journal (a filesystem whose
 * journal needs recovery, that has errors, or that was not cleanly
 * unmounted is mounted read-only or not at all; our changes go straight to
 * their final place and the journal is left clean and untouched), write
 * extended attributes, create inline-data files (reading them works), or
 * write filesystems with features whose bookkeeping libext2fs does not
 * keep for us on every allocation (quota, bigalloc, encryption, casefold,
 * ea_inode, shared blocks).
 *
 * Symlinks: vfs paths are absolute and normalised; a symlink met in the
 * middle of a path is resolved here, inside the filesystem (an absolute
 * target is taken relative to the filesystem root), at most 40 hops, like
 * the kernel's MAXSYMLINKS.  As with the system calls, lstat, readlink,
 * unlink, rmdir, rename, link, mkdir and symlink act on a final symlink
 * itself; read, write, truncate, chmod, chown, utimes and readdir follow
 * it.  readlink returns the target NUL-terminated and its length.
 * readdir calls back during the directory walk: the callback may read
 * this filesystem but must not change it.
 *
 * chattr flags are enforced as the kernel does: immutable inodes never
 * change, append-only ones only grow, fs-verity data stays, and encrypted
 * files are neither read nor written (we would see ciphertext).
 *
 * Cost: mounting reads the superblock and group descriptors only; the
 * bitmaps are read on the first change (or used_ranges, which needs only
 * the block bitmap).  libext2fs is asked for nothing more: no inode table
 * scans.
 *
 * Timestamps are the current time, or SOURCE_DATE_EPOCH when it is set
 * (reproducible builds), for the inodes we touch and for the superblock's
 * write time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/macros.h"
#include "base/parse.h"
#include "fs/ext4_private.h"
#include "fs/vfs.h"

static int ext4_require_writable(struct ext4_fs *e, const char *path, struct herd_error *err)
{
	errcode_t code;

	if (!e->writable)
		return herd_error_set(err, EROFS, "ext4: %s: filesystem is mounted read-only",
				      path);
	if (!e->bitmaps_loaded) {
		code = ext2fs_read_bitmaps(e->fs);
		if (code)
			return ext4_fail(e, code, err, "reading bitmaps");
		e->bitmaps_loaded = true;
	}
	return 0;
}

/* Walk to an existing PATH that is about to change: a read-only mount is
 * refused (and the bitmaps read) before the walk, so EROFS wins over
 * ENOENT. */
static int ext4_walk_changing(struct ext4_fs *e, const char *path, bool follow_final,
			      struct ext4_where *w, struct herd_error *err)
{
	int r = ext4_require_writable(e, path, err);

	if (r < 0)
		return r;
	return ext4_walk_existing(e, path, follow_final, w, err);
}

/* Data is written only into regular files: a directory is EISDIR, as for
 * open(2) with O_WRONLY; a device, fifo or socket has no data blocks. */
static int ext4_need_regular(const struct ext2_inode_large *in, const char *path,
			     struct herd_error *err)
{
	if (LINUX_S_ISDIR(in->i_mode))
		return herd_error_set(err, EISDIR, "ext4: %s: is a directory", path);
	if (!LINUX_S_ISREG(in->i_mode))
		return herd_error_set(err, EINVAL, "ext4: %s: not a regular file", path);
	return 0;
}

/* Re-read an inode that libext2fs changed behind our copy (file writes,
 * size changes, unlinks), stamp `which` times with now and write it back. */
static errcode_t ext4_restamp(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in,
			      unsigned which)
{
	errcode_t code = ext4_read_inode(e, ino, in);

	if (code)
		return code;
	ext4_stamp(e, in, which, ext4_now(e));
	return ext4_write_inode(e, ino, in);
}

/* Write back an inode whose attributes the caller changed in w->inode:
 * ctime says when (stat(2) "status change"). */
static int ext4_store_attr_change(struct ext4_fs *e, struct ext4_where *w, const char *path,
				  struct herd_error *err)
{
	errcode_t code;

	ext4_stamp(e, &w->inode, EXT4_CTIME, ext4_now(e));
	code = ext4_write_inode(e, w->ino, &w->inode);
	return code ? ext4_fail(e, code, err, path) : 0;
}

/* ---- mount ---------------------------------------------------------- */

static uint32_t ext4_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The superblock at byte 1024, read by hand so probing needs no
 * libext2fs handle.  Besides the magic, a few fields must be sane so that
 * a FAT table that happens to hold 0xEF53 at the right place is not
 * taken for ext (offsets from struct ext2_super_block). */
static int ext4_probe(struct blockdev *bd)
{
	uint8_t sb[1024];
	int r;

	if (blockdev_size(bd) < 2048)
		return 0;
	r = blockdev_pread(bd, sb, sizeof(sb), 1024, NULL);
	if (r < 0)
		return r;
	if ((sb[56] | sb[57] << 8) != EXT2_SUPER_MAGIC) /* s_magic */
		return 0;
	return ext4_le32(sb + 24) <= 6 && /* s_log_block_size: at most 64 KiB */
	       ext4_le32(sb + 20) <= 1 && /* s_first_data_block */
	       ext4_le32(sb + 32) != 0 && /* s_blocks_per_group */
	       ext4_le32(sb + 40) != 0 && /* s_inodes_per_group */
	       ext4_le32(sb + 76) <= 1;	  /* s_rev_level */
}

/* Why we will not write this filesystem, or NULL. */
static const char *ext4_write_refusal(ext2_filsys fs, uint64_t device_size, int *ret_code)
{
	struct ext2_super_block *sb = fs->super;

	*ret_code = EROFS;
	if (ext2fs_has_feature_journal_needs_recovery(sb))
		return "journal needs recovery (not cleanly unmounted); run e2fsck first";
	if (ext2fs_has_feature_orphan_present(sb) || sb->s_last_orphan)
		return "orphan inodes need processing (not cleanly unmounted); run e2fsck first";
	if (ext2fs_has_feature_journal_dev(sb))
		return "this is an external journal, not a filesystem";
	if (ext2fs_has_feature_quota(sb) || ext2fs_has_feature_bigalloc(sb) ||
	    ext2fs_has_feature_encrypt(sb) || ext2fs_has_feature_casefold(sb) ||
	    ext2fs_has_feature_ea_inode(sb) || ext2fs_has_feature_shared_blocks(sb) ||
	    ext2fs_has_feature_readonly(sb) || ext2fs_has_feature_compression(sb))
		return "filesystem has features herd cannot write (quota, bigalloc, encrypt, "
		       "casefold, ea_inode, shared_blocks, readonly or compression)";
	*ret_code = EUCLEAN;
	if (sb->s_state & EXT2_ERROR_FS)
		return "filesystem has errors; run e2fsck first";
	if (!(sb->s_state & EXT2_VALID_FS))
		return "filesystem was not cleanly unmounted; run e2fsck first";
	if (ext2fs_blocks_count(sb) > device_size / fs->blocksize)
		return "filesystem is larger than its device (truncated image?)";
	return NULL;
}

static int ext4_unmount(void *fsp, struct herd_error *err);

static int ext4_mount(struct blockdev *bd, bool writable, void **ret_fs, struct herd_error *err)
{
	_cleanup_free_ struct ext4_fs *e = calloc(1, sizeof(*e));
	char name[EXT4_IO_NAME_MAX];
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	const char *refusal;
	errcode_t code;
	int flags = EXT2_FLAG_64BITS, refusal_code = 0;

	if (!e)
		return herd_error_set(err, ENOMEM, "ext4: out of memory");
	if (epoch && *epoch) {
		uint64_t v;

		if (parse_u64(epoch, 0, INT64_MAX, &v) < 0)
			return herd_error_set(
			    err, EINVAL, "ext4: SOURCE_DATE_EPOCH is not a number of seconds: %s",
			    epoch);
		e->have_epoch = true;
		e->epoch = (int64_t)v;
	}
	if (writable)
		flags |= EXT2_FLAG_RW;
	ext4_io_channel_name(bd, name, sizeof(name));
	code = ext2fs_open2(name, NULL, flags, 0, 0, (io_manager)&ext4_io_manager, &e->fs);
	if (code) {
		e->fs = NULL;
		switch (code) {
		case EXT2_ET_BAD_MAGIC:
			return herd_error_set(err, EUCLEAN, "ext4: bad superblock magic");
		case EXT2_ET_RO_UNSUPP_FEATURE:
			return herd_error_set(err, EROFS,
					      "ext4: filesystem has read-only features libext2fs "
					      "cannot write");
		case EXT2_ET_SHORT_READ:
			return herd_error_set(err, EUCLEAN,
					      "ext4: cannot read superblock or group descriptors "
					      "(truncated image?)");
		default:
			return herd_error_set(err, -ext4_errno(code), "ext4: cannot open: %s",
					      ext4_strerror(code));
		}
	}
	if (e->have_epoch)
		e->fs->now = (time_t)e->epoch;
	e->writable = writable;
	if (writable) {
		refusal = ext4_write_refusal(e->fs, blockdev_size(bd), &refusal_code);
		if (refusal) {
			ext2fs_free(e->fs);
			e->fs = NULL;
			return herd_error_set(err, refusal_code, "ext4: refusing to write: %s",
					      refusal);
		}
	}
	*ret_fs = TAKE_PTR(e);
	return 0;
}

static int ext4_unmount(void *fsp, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	errcode_t code;
	int r = 0;

	if (!e)
		return 0;
	/* Like the kernel, update only the primary superblock and group
	 * descriptors: the backups' free counts are allowed to be stale
	 * (e2fsck compares geometry and features only), and rewriting every
	 * backup would put several blocks per edit into an overlay. */
	e->fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	code = ext2fs_close2(e->fs, 0);
	if (code) {
		r = ext4_fail(e, code, err, "writing superblock, group descriptors and bitmaps");
		ext2fs_free(e->fs);
	}
	free(e);
	return r;
}

static void ext4_format_uuid(const uint8_t u[16], char *out, size_t len)
{
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static int ext4_info(void *fsp, struct vfs_info *ret, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext2_super_block *sb = e->fs->super;
	/* What blkid calls ext4: anything beyond the ext3 feature set. */
	bool ext4 = (sb->s_feature_incompat &
		     ~(EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER |
		       EXT2_FEATURE_INCOMPAT_META_BG)) ||
		    (sb->s_feature_ro_compat &
		     ~(EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE));
	struct vfs_info info = {0};
	size_t n;

	info.type = ext4 ? "ext4" : ext2fs_has_feature_journal(sb) ? "ext3" : "ext2";
	for (n = 0; n < sizeof(sb->s_volume_name) && sb->s_volume_name[n]; n++)
		;
	memcpy(info.label, sb->s_volume_name, n);
	info.label[n] = '\0';
	ext4_format_uuid(sb->s_uuid, info.uuid, sizeof(info.uuid));
	info.block_size = e->fs->blocksize;
	info.size = ext2fs_blocks_count(sb) * e->fs->blocksize;
	info.used = (ext2fs_blocks_count(sb) - ext2fs_free_blocks_count(sb)) * e->fs->blocksize;
	*ret = info;
	return 0;
}

/* ---- read side ------------------------------------------------------ */

static int ext4_lstat(void *fsp, const char *path, struct vfs_stat *ret, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	int r = ext4_walk_existing(e, path, false, &w, err);

	if (r < 0)
		return r;
	ext4_fill_stat(e, w.ino, &w.inode, ret);
	return 0;
}

static int ext4_read(void *fsp, const char *path, uint64_t offset, void *buf, size_t len,
		     size_t *ret_read, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	ext2_file_t file;
	size_t total = 0;
	uint64_t size;
	errcode_t code;
	int r = ext4_walk_existing(e, path, true, &w, err);

	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(w.inode.i_mode))
		return herd_error_set(err, EISDIR, "ext4: %s: is a directory", path);
	if (!LINUX_S_ISREG(w.inode.i_mode))
		return herd_error_set(err, EINVAL, "ext4: %s: not a regular file", path);
	if (w.inode.i_flags & EXT4_ENCRYPT_FL)
		return herd_error_set(err, EOPNOTSUPP, "ext4: %s: encrypted", path);
	/* Never past i_size: libext2fs hands out the whole inline-data area
	 * of an inline file. */
	size = EXT2_I_SIZE(&w.inode);
	len = offset >= size ? 0 : (size_t)MIN((uint64_t)len, size - offset);
	code = ext2fs_file_open2(e->fs, w.ino, (struct ext2_inode *)&w.inode, 0, &file);
	if (code)
		return ext4_fail(e, code, err, path);
	code = ext2fs_file_llseek(file, offset, EXT2_SEEK_SET, NULL);
	while (!code && total < len) {
		unsigned chunk = (unsigned)MIN(len - total, (size_t)1 << 30), got = 0;

		code = ext2fs_file_read(file, (char *)buf + total, chunk, &got);
		if (code || got == 0)
			break;
		total += got;
	}
	ext2fs_file_close(file);
	if (code)
		return ext4_fail(e, code, err, path);
	*ret_read = total;
	return 0;
}

static int ext4_readlink(void *fsp, const char *path, char *buf, size_t len, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	_cleanup_free_ char *target = NULL;
	struct ext4_where w;
	size_t tlen = 0;
	errcode_t code;
	int r = ext4_walk_existing(e, path, false, &w, err);

	if (r < 0)
		return r;
	if (!LINUX_S_ISLNK(w.inode.i_mode))
		return herd_error_set(err, EINVAL, "ext4: %s: not a symbolic link", path);
	if (w.inode.i_flags & EXT4_ENCRYPT_FL)
		return herd_error_set(err, EOPNOTSUPP, "ext4: %s: encrypted", path);
	target = malloc(e->fs->blocksize + 1);
	if (!target)
		return herd_error_set(err, ENOMEM, "ext4: out of memory");
	code = ext4_read_symlink(e, w.ino, &w.inode, target, e->fs->blocksize + 1, &tlen);
	if (code)
		return ext4_fail(e, code, err, path);
	if (tlen + 1 > len)
		return herd_error_set(err, ERANGE, "ext4: %s: link target longer than buffer",
				      path);
	memcpy(buf, target, tlen + 1);
	return (int)tlen;
}

struct ext4_readdir {
	struct ext4_fs *e;
	vfs_readdir_cb cb;
	void *userdata;
	int result;
	errcode_t code;
	char name[EXT2_NAME_LEN + 1];
};

static int ext4_readdir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
			   int blocksize, char *buf, void *userdata)
{
	struct ext4_readdir *rd = userdata;
	int len = ext2fs_dirent_name_len(dirent);
	struct ext2_inode_large in;
	struct vfs_dirent de;

	if (dirent->inode == 0 || (len == 1 && dirent->name[0] == '.') ||
	    (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
		return 0;
	memcpy(rd->name, dirent->name, (size_t)len);
	rd->name[len] = '\0';
	rd->code = ext4_read_inode(rd->e, dirent->inode, &in);
	if (rd->code)
		return DIRENT_ABORT;
	de.name = rd->name;
	ext4_fill_stat(rd->e, dirent->inode, &in, &de.st);
	rd->result = rd->cb(rd->userdata, &de);
	return rd->result < 0 ? DIRENT_ABORT : 0;
}

static int ext4_readdir(void *fsp, const char *path, vfs_readdir_cb cb, void *userdata,
			struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_readdir rd = {.e = e, .cb = cb, .userdata = userdata};
	struct ext4_where w;
	errcode_t code;
	int r = ext4_walk_existing(e, path, true, &w, err);

	if (r < 0)
		return r;
	if (!LINUX_S_ISDIR(w.inode.i_mode))
		return herd_error_set(err, ENOTDIR, "ext4: %s: not a directory", path);
	code = ext2fs_dir_iterate2(e->fs, w.ino, 0, NULL, ext4_readdir_cb, &rd);
	if (rd.result < 0)
		return rd.result;
	if (!code)
		code = rd.code;
	if (code)
		return ext4_fail(e, code, err, path);
	return 0;
}

struct ext4_ranges {
	vfs_range_cb cb;
	void *userdata;
	uint64_t start, length;
};

/* Merge touching ranges before handing them out. */
static int ext4_range_add(struct ext4_ranges *rs, uint64_t start, uint64_t length)
{
	int r;

	if (rs->length && rs->start + rs->length == start) {
		rs->length += length;
		return 0;
	}
	if (rs->length) {
		r = rs->cb(rs->userdata, rs->start, rs->length);
		if (r < 0)
			return r;
	}
	rs->start = start;
	rs->length = length;
	return 0;
}

static int ext4_used_ranges(void *fsp, vfs_range_cb cb, void *userdata, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	ext2_filsys fs = e->fs;
	struct ext4_ranges rs = {.cb = cb, .userdata = userdata};
	uint64_t bs = fs->blocksize;
	blk64_t first = fs->super->s_first_data_block;
	blk64_t last = ext2fs_blocks_count(fs->super) - 1;
	blk64_t start = first;
	errcode_t code;
	int r;

	if (!fs->block_map) {
		code = ext2fs_read_block_bitmap(fs);
		if (code)
			return ext4_fail(e, code, err, "reading block bitmap");
	}
	/* 1 KiB-block filesystems start at block 1; block 0 holds the boot
	 * sector area, which is not ours to drop. */
	if (first > 0) {
		r = ext4_range_add(&rs, 0, first * bs);
		if (r < 0)
			return r;
	}
	while (start <= last) {
		blk64_t set, zero;

		code = ext2fs_find_first_set_block_bitmap2(fs->block_map, start, last, &set);
		if (code == ENOENT)
			break;
		if (code)
			return ext4_fail(e, code, err, "walking block bitmap");
		code = ext2fs_find_first_zero_block_bitmap2(fs->block_map, set, last, &zero);
		if (code == ENOENT)
			zero = last + 1;
		else if (code)
			return ext4_fail(e, code, err, "walking block bitmap");
		r = ext4_range_add(&rs, set * bs, (zero - set) * bs);
		if (r < 0)
			return r;
		start = zero;
	}
	if (rs.length) {
		r = cb(userdata, rs.start, rs.length);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- write side ----------------------------------------------------- */

/*
 * Will `new_bytes` of data beyond what the file holds fit?  Checked before
 * anything is changed, because libext2fs leaves a file it ran out of
 * blocks for in a state that is hard to unwind (its extent tree and block
 * count disagree).  The estimate is pessimistic for metadata: one extent
 * (or block pointer) per data block, plus index blocks and a directory
 * block for a new name.  Holes in sparse files are not counted, so a
 * write into one can still fail late; the caller then discards its
 * overlay as for any error.
 */
static bool ext4_space_for(struct ext4_fs *e, uint64_t new_bytes)
{
	ext2_filsys fs = e->fs;
	uint64_t bs = fs->blocksize;
	uint64_t per = ext2fs_has_feature_extents(fs->super) ? (bs - 12) / 12 : bs / 4;
	uint64_t data = (new_bytes + bs - 1) / bs;
	uint64_t need = data + data / per + data / (per * per) + 4;

	return ext2fs_free_blocks_count(fs->super) >= need;
}

static int ext4_write(void *fsp, const char *path, const void *buf, size_t len, unsigned flags,
		      uint32_t mode, uint32_t uid, uint32_t gid, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	struct ext2_inode_large in;
	bool created = false;
	ext2_file_t file;
	ext2_ino_t ino;
	size_t done = 0;
	errcode_t code, close_code;
	int r;

	r = ext4_require_writable(e, path, err);
	if (r < 0)
		return r;
	/* A final symlink is followed, except with EXCL: like open(2) with
	 * O_CREAT|O_EXCL, an existing link is "exists", whatever it points to. */
	r = ext4_walk(e, path, !(flags & VFS_WRITE_EXCL), &w, err);
	if (r < 0)
		return r;
	if (w.ino) {
		uint64_t size = EXT2_I_SIZE(&w.inode);
		/* Appending adds len bytes; truncating frees the old blocks
		 * first, so only growth beyond the old size needs new ones. */
		uint64_t grow = (flags & VFS_WRITE_APPEND) ? len : len > size ? len - size : 0;

		if (flags & VFS_WRITE_EXCL)
			return herd_error_set(err, EEXIST, "ext4: %s: file exists", path);
		r = ext4_need_regular(&w.inode, path, err);
		if (r < 0)
			return r;
		r = ext4_may(&w.inode,
			     (flags & VFS_WRITE_APPEND) && !(flags & VFS_WRITE_TRUNCATE)
				 ? EXT4_CHANGE_APPEND
				 : EXT4_CHANGE_DATA,
			     path, err);
		if (r < 0)
			return r;
		if (grow && !ext4_space_for(e, grow))
			return herd_error_set(err, ENOSPC, "ext4: %s: no space left", path);
		ino = w.ino;
	} else {
		if (!(flags & VFS_WRITE_CREATE))
			return herd_error_set(err, ENOENT, "ext4: %s: no such file or directory",
					      path);
		if (!ext4_nameable(&w))
			return herd_error_set(err, EINVAL, "ext4: %s: invalid name", path);
		if (!ext4_space_for(e, len))
			return herd_error_set(err, ENOSPC, "ext4: %s: no space left", path);
		r = ext4_create(e, &w, LINUX_S_IFREG | (mode & 07777), uid, gid, NULL, path, &ino,
				err);
		if (r < 0)
			return r;
		created = true;
	}

	code = ext2fs_file_open(e->fs, ino, EXT2_FILE_WRITE, &file);
	if (code)
		goto fail;
	if (flags & VFS_WRITE_TRUNCATE)
		code = ext2fs_file_set_size2(file, 0);
	if (!code && (flags & VFS_WRITE_APPEND)) {
		__u64 size = 0;

		code = ext2fs_file_get_lsize(file, &size);
		if (!code)
			code = ext2fs_file_llseek(file, size, EXT2_SEEK_SET, NULL);
	}
	while (!code && done < len) {
		unsigned chunk = (unsigned)MIN(len - done, (size_t)1 << 30), wrote = 0;

		code = ext2fs_file_write(file, (const char *)buf + done, chunk, &wrote);
		if (!code && wrote == 0)
			code = EXT2_ET_SHORT_WRITE;
		done += wrote;
	}
	close_code = ext2fs_file_close(file);
	if (!code)
		code = close_code;
	if (code)
		goto fail;
	code = ext4_restamp(e, ino, &in, EXT4_MTIME | EXT4_CTIME);
	if (code)
		goto fail;
	return 0;

fail:
	r = ext4_fail(e, code, err, path);
	/* A file we created and could not fill is removed again rather than
	 * left half-written (the caller discards its overlay anyway). */
	if (created && ext2fs_unlink(e->fs, w.parent, w.name, ino, 0) == 0 &&
	    ext4_read_inode(e, ino, &in) == 0)
		(void)ext4_release_inode(e, ino, &in);
	return r;
}

static int ext4_truncate(void *fsp, const char *path, uint64_t size, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	ext2_file_t file;
	errcode_t code, close_code;
	int r;

	r = ext4_walk_changing(e, path, true, &w, err);
	if (r < 0)
		return r;
	r = ext4_need_regular(&w.inode, path, err);
	if (r < 0)
		return r;
	r = ext4_may(&w.inode, EXT4_CHANGE_DATA, path, err);
	if (r < 0)
		return r;
	code = ext2fs_file_open(e->fs, w.ino, EXT2_FILE_WRITE, &file);
	if (code)
		return ext4_fail(e, code, err, path);
	code = ext2fs_file_set_size2(file, size);
	close_code = ext2fs_file_close(file);
	if (!code)
		code = close_code;
	if (!code)
		code = ext4_restamp(e, w.ino, &w.inode, EXT4_MTIME | EXT4_CTIME);
	return code ? ext4_fail(e, code, err, path) : 0;
}

/* Look up where a new name goes: parent must exist, name must not. */
static int ext4_walk_new(struct ext4_fs *e, const char *path, struct ext4_where *w,
			 struct herd_error *err)
{
	int r = ext4_require_writable(e, path, err);

	if (r < 0)
		return r;
	r = ext4_walk(e, path, false, w, err);
	if (r < 0)
		return r;
	if (w->ino)
		return herd_error_set(err, EEXIST, "ext4: %s: file exists", path);
	if (!ext4_nameable(w))
		return herd_error_set(err, EINVAL, "ext4: %s: invalid name", path);
	return 0;
}

static int ext4_mkdir(void *fsp, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
		      struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	int r = ext4_walk_new(e, path, &w, err);

	if (r < 0)
		return r;
	return ext4_create(e, &w, LINUX_S_IFDIR | (mode & 07777), uid, gid, NULL, path, NULL, err);
}

static int ext4_symlink(void *fsp, const char *target, const char *path, uint32_t uid, uint32_t gid,
			struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	size_t tlen = strlen(target);
	int r;

	if (tlen == 0)
		return herd_error_set(err, ENOENT, "ext4: %s: empty symlink target", path);
	/* The kernel keeps a symlink target in one block, NUL included. */
	if (tlen >= e->fs->blocksize)
		return herd_error_set(err, ENAMETOOLONG, "ext4: %s: symlink target too long", path);
	r = ext4_walk_new(e, path, &w, err);
	if (r < 0)
		return r;
	return ext4_create(e, &w, LINUX_S_IFLNK | 0777, uid, gid, target, path, NULL, err);
}

static int ext4_link(void *fsp, const char *existing, const char *path, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where from, to;
	errcode_t code;
	int r;

	r = ext4_require_writable(e, path, err);
	if (r < 0)
		return r;
	r = ext4_walk_existing(e, existing, false, &from, err);
	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(from.inode.i_mode))
		return herd_error_set(err, EPERM, "ext4: %s: cannot hard-link a directory",
				      existing);
	if (from.inode.i_links_count + 1 >= EXT2_LINK_MAX)
		return herd_error_set(err, EMLINK, "ext4: %s: too many links", existing);
	r = ext4_may(&from.inode, EXT4_CHANGE_NAME, existing, err);
	if (r < 0)
		return r;
	r = ext4_walk_new(e, path, &to, err);
	if (r < 0)
		return r;
	r = ext4_may_dir(e, to.parent, EXT4_CHANGE_ADD_ENTRY, path, err);
	if (r < 0)
		return r;
	code = ext4_add_entry(e, to.parent, to.name, from.ino, ext4_dirent_type(from.inode.i_mode));
	if (code)
		return ext4_fail(e, code, err, path);
	code = ext4_read_inode(e, from.ino, &from.inode);
	if (!code) {
		from.inode.i_links_count++;
		ext4_stamp(e, &from.inode, EXT4_CTIME, ext4_now(e));
		code = ext4_write_inode(e, from.ino, &from.inode);
	}
	if (!code)
		code = ext4_touch_dir(e, to.parent, 0);
	return code ? ext4_fail(e, code, err, path) : 0;
}

/* Read-modify-write of one existing inode, following a final symlink. */
static int ext4_modify(struct ext4_fs *e, const char *path, struct ext4_where *w,
		       struct herd_error *err)
{
	int r = ext4_walk_changing(e, path, true, w, err);

	if (r < 0)
		return r;
	return ext4_may(&w->inode, EXT4_CHANGE_ATTR, path, err);
}

static int ext4_chmod(void *fsp, const char *path, uint32_t mode, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	int r = ext4_modify(e, path, &w, err);

	if (r < 0)
		return r;
	w.inode.i_mode = (__u16)((w.inode.i_mode & LINUX_S_IFMT) | (mode & 07777));
	return ext4_store_attr_change(e, &w, path, err);
}

/* (uint32_t)-1 leaves that id unchanged, as with chown(2). */
static int ext4_chown(void *fsp, const char *path, uint32_t uid, uint32_t gid,
		      struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	int r = ext4_modify(e, path, &w, err);

	if (r < 0)
		return r;
	ext4_set_owner(&w.inode, uid == UINT32_MAX ? ext4_uid(&w.inode) : uid,
		       gid == UINT32_MAX ? ext4_gid(&w.inode) : gid);
	return ext4_store_attr_change(e, &w, path, err);
}

/* Sets both atime and mtime. */
static int ext4_utimes(void *fsp, const char *path, int64_t mtime, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	int r = ext4_modify(e, path, &w, err);

	if (r < 0)
		return r;
	ext4_stamp(e, &w.inode, EXT4_ATIME | EXT4_MTIME, mtime);
	return ext4_store_attr_change(e, &w, path, err);
}

/* Remove an existing name (walked without following). */
static int ext4_walk_victim(struct ext4_fs *e, const char *path, struct ext4_where *w,
			    struct herd_error *err)
{
	int r = ext4_walk_changing(e, path, false, w, err);

	if (r < 0)
		return r;
	if (!ext4_nameable(w))
		return herd_error_set(err, EBUSY, "ext4: %s: cannot remove the root", path);
	r = ext4_may(&w->inode, EXT4_CHANGE_NAME, path, err);
	if (r < 0)
		return r;
	return ext4_may_dir(e, w->parent, EXT4_CHANGE_REMOVE_ENTRY, path, err);
}

static int ext4_unlink(void *fsp, const char *path, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	errcode_t code;
	int r = ext4_walk_victim(e, path, &w, err);

	if (r < 0)
		return r;
	if (LINUX_S_ISDIR(w.inode.i_mode))
		return herd_error_set(err, EISDIR, "ext4: %s: is a directory", path);
	code = ext2fs_unlink(e->fs, w.parent, w.name, w.ino, 0);
	if (!code)
		code = ext4_drop_link(e, w.ino, &w.inode);
	if (!code)
		code = ext4_touch_dir(e, w.parent, 0);
	return code ? ext4_fail(e, code, err, path) : 0;
}

static int ext4_rmdir(void *fsp, const char *path, struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where w;
	bool empty = false;
	errcode_t code;
	int r = ext4_walk_victim(e, path, &w, err);

	if (r < 0)
		return r;
	if (!LINUX_S_ISDIR(w.inode.i_mode))
		return herd_error_set(err, ENOTDIR, "ext4: %s: not a directory", path);
	code = ext4_dir_is_empty(e, w.ino, &empty);
	if (code)
		return ext4_fail(e, code, err, path);
	if (!empty)
		return herd_error_set(err, ENOTEMPTY, "ext4: %s: directory not empty", path);
	code = ext2fs_unlink(e->fs, w.parent, w.name, w.ino, 0);
	if (!code)
		code = ext4_release_inode(e, w.ino, &w.inode);
	if (!code)
		code = ext4_touch_dir(e, w.parent, -1);
	return code ? ext4_fail(e, code, err, path) : 0;
}

/* Is `dir` equal to `ancestor` or below it?  Walks ".." up to the root. */
static errcode_t ext4_is_within(struct ext4_fs *e, ext2_ino_t dir, ext2_ino_t ancestor,
				bool *ret_within)
{
	for (unsigned depth = 0; depth < 65536; depth++) {
		ext2_ino_t up;
		errcode_t code;

		if (dir == ancestor) {
			*ret_within = true;
			return 0;
		}
		if (dir == EXT2_ROOT_INO) {
			*ret_within = false;
			return 0;
		}
		code = ext2fs_lookup(e->fs, dir, "..", 2, NULL, &up);
		if (code)
			return code;
		dir = up;
	}
	return EXT2_ET_DIR_CORRUPTED;
}

static int ext4_rename(void *fsp, const char *from_path, const char *to_path,
		       struct herd_error *err)
{
	struct ext4_fs *e = fsp;
	struct ext4_where from, to;
	bool from_dir, to_dir = false, within = false, empty = false;
	errcode_t code;
	int r;

	r = ext4_walk_victim(e, from_path, &from, err);
	if (r < 0)
		return r;
	r = ext4_walk(e, to_path, false, &to, err);
	if (r < 0)
		return r;
	if (!ext4_nameable(&to))
		return herd_error_set(err, EBUSY, "ext4: %s: cannot replace the root", to_path);
	if (to.ino == from.ino)
		return 0; /* same file: nothing to do (rename(2)) */
	r = ext4_may_dir(e, to.parent, EXT4_CHANGE_ADD_ENTRY, to_path, err);
	if (r < 0)
		return r;
	if (to.ino) {
		r = ext4_may(&to.inode, EXT4_CHANGE_NAME, to_path, err);
		if (r < 0)
			return r;
		r = ext4_may_dir(e, to.parent, EXT4_CHANGE_REMOVE_ENTRY, to_path, err);
		if (r < 0)
			return r;
	}
	from_dir = LINUX_S_ISDIR(from.inode.i_mode);
	/* A directory cannot move below itself (checked first, as Linux
	 * does, before anything about the target). */
	if (from_dir && to.parent != from.parent) {
		struct ext2_inode_large din;

		code = ext4_is_within(e, to.parent, from.ino, &within);
		if (code)
			return ext4_fail(e, code, err, to_path);
		if (within)
			return herd_error_set(
			    err, EINVAL, "ext4: %s: cannot move a directory into itself", to_path);
		code = ext4_read_inode(e, to.parent, &din);
		if (code)
			return ext4_fail(e, code, err, to_path);
		if (!to.ino && !ext4_dir_can_add_link(e, &din))
			return herd_error_set(err, EMLINK, "ext4: %s: too many links", to_path);
	}

	if (to.ino) {
		to_dir = LINUX_S_ISDIR(to.inode.i_mode);
		if (from_dir && !to_dir)
			return herd_error_set(err, ENOTDIR, "ext4: %s: not a directory", to_path);
		if (!from_dir && to_dir)
			return herd_error_set(err, EISDIR, "ext4: %s: is a directory", to_path);
		if (to_dir) {
			code = ext4_dir_is_empty(e, to.ino, &empty);
			if (code)
				return ext4_fail(e, code, err, to_path);
			if (!empty)
				return herd_error_set(err, ENOTEMPTY,
						      "ext4: %s: directory not empty", to_path);
		}
	}
	/* New name first (the only step that can run out of space), then
	 * the old one goes. */
	if (to.ino)
		code = ext4_set_entry(e, to.parent, to.name, from.ino,
				      ext4_dirent_type(from.inode.i_mode));
	else
		code = ext4_add_entry(e, to.parent, to.name, from.ino,
				      ext4_dirent_type(from.inode.i_mode));
	if (code)
		return ext4_fail(e, code, err, to_path);
	code = ext2fs_unlink(e->fs, from.parent, from.name, from.ino, 0);
	if (code)
		return ext4_fail(e, code, err, from_path);

	if (from_dir && to.parent != from.parent) {
		code = ext4_set_entry(e, from.ino, "..", to.parent, EXT2_FT_DIR);
		if (code)
			return ext4_fail(e, code, err, from_path);
	}
	/* Link counts: a moved directory's ".." leaves from.parent and joins
	 * to.parent; a replaced directory's ".." leaves to.parent. */
	code = ext4_touch_dir(e, from.parent, from_dir && to.parent != from.parent ? -1 : 0);
	if (!code && to.parent != from.parent)
		code = ext4_touch_dir(e, to.parent, (from_dir ? 1 : 0) - (to_dir ? 1 : 0));
	else if (!code && to_dir)
		code = ext4_touch_dir(e, to.parent, -1);
	if (code)
		return ext4_fail(e, code, err, to_path);

	if (to.ino) {
		code = ext4_read_inode(e, to.ino, &to.inode);
		if (!code)
			code = to_dir ? ext4_release_inode(e, to.ino, &to.inode)
				      : ext4_drop_link(e, to.ino, &to.inode);
		if (code)
			return ext4_fail(e, code, err, to_path);
	}
	code = ext4_restamp(e, from.ino, &from.inode, EXT4_CTIME);
	return code ? ext4_fail(e, code, err, to_path) : 0;
}

const struct vfs_ops vfs_ext4_ops = {
    .name = "ext4",
    .probe = ext4_probe,
    .mount = ext4_mount,
    .unmount = ext4_unmount,
    .info = ext4_info,
    .lstat = ext4_lstat,
    .read = ext4_read,
    .write = ext4_write,
    .truncate = ext4_truncate,
    .mkdir = ext4_mkdir,
    .symlink = ext4_symlink,
    .link = ext4_link,
    .readlink = ext4_readlink,
    .chmod = ext4_chmod,
    .chown = ext4_chown,
    .utimes = ext4_utimes,
    .unlink = ext4_unlink,
    .rmdir = ext4_rmdir,
    .rename = ext4_rename,
    .readdir = ext4_readdir,
    .used_ranges = ext4_used_ranges,
    .check = ext4_check,
};
