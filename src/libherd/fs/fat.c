/*
 * fat.c — FAT12/16/32 file operations behind `vfs_fat_ops` (vfs.h).
 *
 * Every change first works out everything it will need — directory slots,
 * directory growth, data clusters — and claims free clusters with
 * fat_find_free() before touching the disk, so -ENOSPC ("FAT: no free
 * clusters", "FAT: root directory full") leaves the image byte-identical.
 * FAT changes stay in the cache (fat_table.c) until flush/unmount; data and
 * directory entries are written as they happen.
 *
 * FAT cannot store Unix owners, modes or links: mode/uid/gid are ignored
 * on create; chmod maps "no write bit at all" to ATTR_READ_ONLY and
 * accepts anything else; chown succeeds only for 0:0; symlink, link and
 * readlink fail with -EOPNOTSUPP.  Timestamps are UTC (see fat_name.c).
 * Reads never write (no access-date update), so a read-only session
 * leaves the image untouched.
 *
 * Write semantics (VFS_WRITE_*): TRUNCATE replaces the content, APPEND
 * writes at the end, neither overwrites from offset 0 keeping any longer
 * tail; CREATE makes a missing file, EXCL refuses an existing one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "base/parse.h"
#include "fs/fat_internal.h"

#define FAT_MAX_FILE_SIZE 0xffffffffull

static int need_writable(struct fat_fs *fs, struct herd_error *err)
{
	if (!fs->writable)
		return herd_error_set(err, EROFS, "FAT: mounted read-only");
	return 0;
}

/* Find the existing PATH that is about to change: a read-only mount is
 * refused before the walk, so EROFS wins over ENOENT. */
static int lookup_for_change(struct fat_fs *fs, const char *path, struct fat_node *ret,
			     struct herd_error *err)
{
	int r = need_writable(fs, err);

	if (r < 0)
		return r;
	return fat_lookup(fs, path, ret, err);
}

/*
 * Open the directory that is to hold PATH's last component, for a change:
 * refuse a read-only mount, refuse "/" itself with the caller's errno and
 * message (the root has no entry in any directory), look the parent up and
 * load its directory once, so the caller can both find and create in it.
 * Returns 1 and fills *ret_node when the name is there, 0 when it is not;
 * on both the caller owns *ret_dir and releases it.  On failure nothing is
 * loaded and no ret_* is written.
 */
static int open_parent_for_change(struct fat_fs *fs, const char *path, int root_errno,
				  const char *root_message, struct fat_node *ret_parent,
				  const char **ret_name, struct fat_dir *ret_dir,
				  struct fat_node *ret_node, struct herd_error *err)
{
	struct fat_node parent, node;
	struct fat_dir dir;
	const char *name;
	int r;

	r = need_writable(fs, err);
	if (r < 0)
		return r;
	if (strcmp(path, "/") == 0)
		return herd_error_set(err, root_errno, "%s", root_message);
	r = fat_lookup_parent(fs, path, &parent, &name, err);
	if (r < 0)
		return r;
	r = fat_dir_load(fs, fat_node_cluster(fs, &parent), path, &dir, err);
	if (r < 0)
		return r;
	/* fat_dir_find fails only with -ENOENT: "not there" is no error here. */
	r = fat_dir_find(fs, &dir, name, &node) == 0;
	if (r)
		*ret_node = node;
	*ret_parent = parent;
	*ret_name = name;
	*ret_dir = dir;
	return r;
}

/* Point a new short entry at its first cluster; the high half exists on
 * FAT32 only (fatgen103 "FAT Directory Structure", DIR_FstClusHI). */
static void entry_set_first_cluster(const struct fat_fs *fs, uint8_t *e, uint32_t cluster)
{
	fat_put16(e, FAT_DIRENT_SIZE, 26, (uint16_t)cluster);
	if (fs->g.type == FAT32)
		fat_put16(e, FAT_DIRENT_SIZE, 20, (uint16_t)(cluster >> 16));
}

static size_t clusters_for(const struct fat_fs *fs, uint64_t size)
{
	return (size_t)((size + fs->g.cluster_size - 1) / fs->g.cluster_size);
}

/* The time stamped on entries: SOURCE_DATE_EPOCH when set (as the ext4
 * side does, reproducible-builds.org), so `herd build` gives the same bytes
 * twice; otherwise the clock. */
static void fat_clock(struct timespec *ts)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	uint64_t v;

	if (epoch && *epoch && parse_u64(epoch, 0, INT64_MAX, &v) == 0) {
		ts->tv_sec = (time_t)v;
		ts->tv_nsec = 0;
		return;
	}
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Fill creation, access and modification stamps of a new short entry. */
static void stamp_entry(uint8_t *e, uint8_t attr)
{
	uint16_t date, tm;
	uint8_t tenth;
	struct timespec ts;

	fat_clock(&ts);
	fat_time_encode(ts.tv_sec, &date, &tm, &tenth);
	e[11] = attr;
	e[13] = (uint8_t)(tenth + ts.tv_nsec / 10000000);
	fat_put16(e, FAT_DIRENT_SIZE, 14, tm);
	fat_put16(e, FAT_DIRENT_SIZE, 16, date);
	fat_put16(e, FAT_DIRENT_SIZE, 18, date);
	fat_put16(e, FAT_DIRENT_SIZE, 22, tm);
	fat_put16(e, FAT_DIRENT_SIZE, 24, date);
}

static void touch_entry(uint8_t *e, int64_t t)
{
	uint16_t date, tm;

	fat_time_encode(t, &date, &tm, NULL);
	fat_put16(e, FAT_DIRENT_SIZE, 18, date);
	fat_put16(e, FAT_DIRENT_SIZE, 22, tm);
	fat_put16(e, FAT_DIRENT_SIZE, 24, date);
}

static void touch_now(uint8_t *e)
{
	struct timespec ts;

	fat_clock(&ts);
	touch_entry(e, (int64_t)ts.tv_sec);
}

/* The chain of a file, checked against its size: a chain that is shorter
 * or longer than the size says is corrupt (often cross-linked). */
static int file_chain(struct fat_fs *fs, const struct fat_node *node, const char *path,
		      uint32_t **ret, size_t *ret_count, struct herd_error *err)
{
	uint32_t size = fat_le32(node->entry, FAT_DIRENT_SIZE, 28);
	uint32_t first = fat_node_cluster(fs, node);
	uint32_t *chain;
	size_t count;
	int r;

	if (first == 0 && size != 0)
		return herd_error_set(err, EIO, "FAT: %s has %u bytes but no clusters", path, size);
	r = fat_chain_collect(fs, first, path, &chain, &count, err);
	if (r < 0)
		return r;
	if (count != clusters_for(fs, size)) {
		free(chain);
		return herd_error_set(err, EIO,
				      "FAT: cluster chain of %s has %zu clusters but its size "
				      "needs %zu (cross-linked or truncated chain)",
				      path, count, clusters_for(fs, size));
	}
	*ret = chain;
	*ret_count = count;
	return 0;
}

static int fat_lstat(void *opaque, const char *path, struct vfs_stat *ret, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	int r = fat_lookup(fs, path, &node, err);

	if (r < 0)
		return r;
	fat_node_stat(fs, &node, ret);
	return 0;
}

static int fat_read(void *opaque, const char *path, uint64_t offset, void *buf, size_t len,
		    size_t *ret_read, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	uint32_t *chain = NULL;
	size_t count;
	uint64_t size;
	int r;

	r = fat_lookup(fs, path, &node, err);
	if (r < 0)
		return r;
	if (fat_node_is_dir(&node))
		return herd_error_set(err, EISDIR, "FAT: %s is a directory", path);
	r = file_chain(fs, &node, path, &chain, &count, err);
	if (r < 0)
		return r;
	size = fat_le32(node.entry, FAT_DIRENT_SIZE, 28);
	if (offset >= size) {
		free(chain);
		*ret_read = 0;
		return 0;
	}
	if (len > size - offset)
		len = (size_t)(size - offset);
	r = fat_chain_io(fs, chain, count, offset, buf, len, false, err);
	free(chain);
	if (r < 0)
		return herd_error_prefix(err, r, "FAT: reading %s", path);
	*ret_read = len;
	return 0;
}

/* Resize a file's chain to hold new_size bytes.  `extra` are clusters
 * already claimed by fat_find_free (exactly the number missing). */
static int resize_chain(struct fat_fs *fs, struct fat_node *node, uint32_t **chain, size_t *count,
			size_t need, const uint32_t *extra, struct herd_error *err)
{
	int r;

	if (need < *count) {
		if (need == 0)
			fat_node_set_cluster(fs, node, 0);
		else if ((r = fat_set(fs, (*chain)[need - 1], fat_eoc(fs), err)) < 0)
			return r;
		r = fat_chain_free(fs, *chain + need, *count - need, err);
		if (r < 0)
			return r;
		*count = need;
	} else if (need > *count) {
		uint32_t *grown = realloc(*chain, need * sizeof(*grown));
		if (!grown)
			return herd_error_set(err, ENOMEM, "FAT: out of memory");
		*chain = grown;
		r = fat_chain_link(fs, *count ? grown[*count - 1] : 0, extra, need - *count, err);
		if (r < 0)
			return r;
		if (*count == 0)
			fat_node_set_cluster(fs, node, extra[0]);
		memcpy(grown + *count, extra, (need - *count) * sizeof(*grown));
		*count = need;
	}
	return 0;
}

/*
 * Give a file's chain room for exactly `new_size` bytes: read the chain as
 * it is (checked against the size by file_chain), claim any missing
 * clusters before changing anything, then resize.  On success the caller
 * frees *ret_chain.  A failure after the chain was read is prefixed with
 * PATH, as every later step of a write or truncate is; file_chain's own
 * errors already name the path and come back as they are.
 */
static int resize_file(struct fat_fs *fs, struct fat_node *node, const char *path,
		       uint64_t new_size, uint32_t **ret_chain, size_t *ret_count,
		       struct herd_error *err)
{
	uint32_t *chain = NULL, *extra = NULL;
	size_t count, need;
	int r;

	r = file_chain(fs, node, path, &chain, &count, err);
	if (r < 0)
		return r;
	need = clusters_for(fs, new_size);
	if (need > count) {
		r = fat_find_free(fs, need - count, &extra, err);
		if (r < 0)
			goto out;
	}
	r = resize_chain(fs, node, &chain, &count, need, extra, err);
out:
	free(extra);
	if (r < 0) {
		free(chain);
		return herd_error_prefix(err, r, "%s", path);
	}
	*ret_chain = chain;
	*ret_count = count;
	return 0;
}

/* Remove a file's (or an emptied directory's) entry and free its
 * clusters.  The chain is read first, so a broken chain stops the change
 * before the entry is gone. */
static int remove_entry_and_chain(struct fat_fs *fs, const struct fat_node *node, const char *path,
				  struct herd_error *err)
{
	uint32_t *chain = NULL;
	size_t count;
	int r;

	r = fat_chain_collect(fs, fat_node_cluster(fs, node), path, &chain, &count, err);
	if (r < 0)
		return r;
	r = fat_dir_remove(fs, node, err);
	if (r >= 0)
		r = fat_chain_free(fs, chain, count, err);
	free(chain);
	return r;
}

/* Create `name` in the loaded directory `dir` with the given content. */
static int create_file(struct fat_fs *fs, struct fat_dir *dir, const char *path, const char *name,
		       const void *buf, size_t len, struct herd_error *err)
{
	struct fat_entry_plan plan;
	uint8_t tmpl[FAT_DIRENT_SIZE] = {0};
	uint32_t *clusters = NULL;
	size_t data;
	uint64_t off;
	int r;

	if (len > FAT_MAX_FILE_SIZE)
		return herd_error_set(err, EFBIG, "FAT: %s: files are limited to 4 GiB - 1", path);
	stamp_entry(tmpl, FAT_ATTR_ARCHIVE);
	r = fat_dir_plan(fs, dir, name, tmpl, &plan, err);
	if (r < 0)
		goto out;
	data = clusters_for(fs, len);
	r = fat_find_free(fs, data + plan.grow_clusters, &clusters, err);
	if (r < 0)
		goto out;
	if (data) {
		uint8_t *e = plan.slots[plan.slot_count - 1];
		r = fat_chain_link(fs, 0, clusters, data, err);
		if (r < 0)
			goto out;
		r = fat_chain_io(fs, clusters, data, 0, (void *)buf, len, true, err);
		if (r < 0)
			goto out;
		entry_set_first_cluster(fs, e, clusters[0]);
		fat_put32(e, FAT_DIRENT_SIZE, 28, (uint32_t)len);
	}
	r = fat_dir_commit(fs, dir, &plan, clusters + data, &off, err);
out:
	free(clusters);
	if (r < 0)
		return herd_error_prefix(err, r, "%s", path);
	return 0;
}

static int fat_write(void *opaque, const char *path, const void *buf, size_t len, unsigned flags,
		     uint32_t mode, uint32_t uid, uint32_t gid, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node parent, node;
	struct fat_dir dir;
	const char *name;
	uint32_t *chain = NULL;
	size_t count;
	uint64_t old_size, offset, new_size;
	int r;

	/* One walk: load the parent once, and create in it if needed. */
	r = open_parent_for_change(fs, path, EISDIR, "FAT: / is a directory", &parent, &name, &dir,
				   &node, err);
	if (r < 0)
		return r;
	if (r == 0) {
		if (flags & VFS_WRITE_CREATE)
			r = create_file(fs, &dir, path, name, buf, len, err);
		else
			r = herd_error_set(err, ENOENT, "FAT: %s: no such file or directory", path);
		fat_dir_release(&dir);
		return r;
	}
	fat_dir_release(&dir);
	if (flags & VFS_WRITE_EXCL)
		return herd_error_set(err, EEXIST, "FAT: %s already exists", path);
	if (fat_node_is_dir(&node))
		return herd_error_set(err, EISDIR, "FAT: %s is a directory", path);
	old_size = fat_le32(node.entry, FAT_DIRENT_SIZE, 28);
	offset = (flags & VFS_WRITE_APPEND) ? old_size : 0;
	new_size = (flags & VFS_WRITE_TRUNCATE) ? (uint64_t)len : offset + len;
	if (new_size < old_size && !(flags & VFS_WRITE_TRUNCATE))
		new_size = old_size;
	if (flags & VFS_WRITE_TRUNCATE)
		offset = 0;
	if (new_size > FAT_MAX_FILE_SIZE)
		return herd_error_set(err, EFBIG, "FAT: %s: files are limited to 4 GiB - 1", path);
	r = resize_file(fs, &node, path, new_size, &chain, &count, err);
	if (r < 0)
		return r;
	r = fat_chain_io(fs, chain, count, offset, (void *)buf, len, true, err);
	if (r < 0)
		goto out;
	fat_put32(node.entry, FAT_DIRENT_SIZE, 28, (uint32_t)new_size);
	node.entry[11] |= FAT_ATTR_ARCHIVE;
	touch_now(node.entry);
	r = fat_node_store(fs, &node, err);
out:
	free(chain);
	if (r < 0)
		return herd_error_prefix(err, r, "%s", path);
	return 0;
}

static int fat_truncate(void *opaque, const char *path, uint64_t size, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	uint32_t *chain = NULL;
	uint8_t *zero = NULL;
	size_t count;
	uint64_t old_size;
	int r;

	r = lookup_for_change(fs, path, &node, err);
	if (r < 0)
		return r;
	if (fat_node_is_dir(&node))
		return herd_error_set(err, EISDIR, "FAT: %s is a directory", path);
	if (size > FAT_MAX_FILE_SIZE)
		return herd_error_set(err, EFBIG, "FAT: %s: files are limited to 4 GiB - 1", path);
	old_size = fat_le32(node.entry, FAT_DIRENT_SIZE, 28);
	r = resize_file(fs, &node, path, size, &chain, &count, err);
	if (r < 0)
		return r;
	/* Growing exposes bytes that were never written: zero them. */
	if (size > old_size) {
		zero = calloc(1, fs->g.cluster_size);
		if (!zero) {
			r = herd_error_set(err, ENOMEM, "FAT: out of memory");
			goto out;
		}
		for (uint64_t pos = old_size; pos < size && r >= 0;) {
			size_t n = size - pos < fs->g.cluster_size ? (size_t)(size - pos)
								   : fs->g.cluster_size;
			r = fat_chain_io(fs, chain, count, pos, zero, n, true, err);
			pos += n;
		}
		if (r < 0)
			goto out;
	}
	fat_put32(node.entry, FAT_DIRENT_SIZE, 28, (uint32_t)size);
	touch_now(node.entry);
	r = fat_node_store(fs, &node, err);
out:
	free(zero);
	free(chain);
	if (r < 0)
		return herd_error_prefix(err, r, "%s", path);
	return 0;
}

/* Write "." and ".." into a new directory cluster (fatgen103 "FAT
 * Directories": ".." of a child of the root holds cluster 0). */
static int write_dot_entries(struct fat_fs *fs, uint32_t self, uint32_t parent, const uint8_t *tmpl,
			     struct herd_error *err)
{
	uint8_t dots[2 * FAT_DIRENT_SIZE];

	memcpy(dots, tmpl, FAT_DIRENT_SIZE);
	memcpy(dots + FAT_DIRENT_SIZE, tmpl, FAT_DIRENT_SIZE);
	memcpy(dots, ".          ", 11);
	memcpy(dots + FAT_DIRENT_SIZE, "..         ", 11);
	dots[12] = dots[FAT_DIRENT_SIZE + 12] = 0;
	fat_put16(dots, sizeof(dots), 26, (uint16_t)self);
	fat_put16(dots, sizeof(dots), 20, fs->g.type == FAT32 ? (uint16_t)(self >> 16) : 0);
	fat_put16(dots, sizeof(dots), FAT_DIRENT_SIZE + 26, (uint16_t)parent);
	fat_put16(dots, sizeof(dots), FAT_DIRENT_SIZE + 20,
		  fs->g.type == FAT32 ? (uint16_t)(parent >> 16) : 0);
	return blockdev_pwrite(fs->bd, dots, sizeof(dots), fat_cluster_offset(fs, self), err);
}

static int fat_mkdir(void *opaque, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
		     struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node parent, existing;
	struct fat_dir dir;
	struct fat_entry_plan plan;
	uint8_t tmpl[FAT_DIRENT_SIZE] = {0};
	uint32_t *clusters = NULL, self;
	const char *name;
	uint64_t off;
	int r;

	r = open_parent_for_change(fs, path, EEXIST, "FAT: / already exists", &parent, &name, &dir,
				   &existing, err);
	if (r < 0)
		return r;
	if (r == 1) {
		fat_dir_release(&dir);
		return herd_error_set(err, EEXIST, "FAT: %s already exists", path);
	}
	stamp_entry(tmpl, FAT_ATTR_DIRECTORY);
	r = fat_dir_plan(fs, &dir, name, tmpl, &plan, err);
	if (r < 0)
		goto out;
	r = fat_find_free(fs, plan.grow_clusters + 1, &clusters, err);
	if (r < 0)
		goto out;
	self = clusters[plan.grow_clusters];
	r = fat_zero_clusters(fs, &self, 1, err);
	if (r >= 0)
		r = fat_chain_link(fs, 0, &self, 1, err);
	if (r >= 0)
		r = write_dot_entries(fs, self, fat_node_cluster(fs, &parent), tmpl, err);
	if (r < 0)
		goto out;
	entry_set_first_cluster(fs, plan.slots[plan.slot_count - 1], self);
	r = fat_dir_commit(fs, &dir, &plan, clusters, &off, err);
out:
	free(clusters);
	fat_dir_release(&dir);
	if (r < 0)
		return herd_error_prefix(err, r, "%s", path);
	return 0;
}

static int fat_unlink(void *opaque, const char *path, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	int r;

	r = lookup_for_change(fs, path, &node, err);
	if (r < 0)
		return r;
	if (fat_node_is_dir(&node))
		return herd_error_set(err, EISDIR, "FAT: %s is a directory", path);
	return remove_entry_and_chain(fs, &node, path, err);
}

/* Remove an empty directory's entry and clusters. */
static int remove_dir(struct fat_fs *fs, const struct fat_node *node, const char *path,
		      struct herd_error *err)
{
	int r;

	r = fat_dir_is_empty(fs, fat_node_cluster(fs, node), path, err);
	if (r < 0)
		return r;
	if (r == 0)
		return herd_error_set(err, ENOTEMPTY, "FAT: %s: directory not empty", path);
	return remove_entry_and_chain(fs, node, path, err);
}

static int fat_rmdir(void *opaque, const char *path, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	int r;

	r = lookup_for_change(fs, path, &node, err);
	if (r < 0)
		return r;
	if (node.is_root)
		return herd_error_set(err, EBUSY, "FAT: cannot remove the root directory");
	if (!fat_node_is_dir(&node))
		return herd_error_set(err, ENOTDIR, "FAT: %s is not a directory", path);
	return remove_dir(fs, &node, path, err);
}

/* Read the ".." entry of the directory at `dir_cluster`: the second slot
 * of its first cluster, where write_dot_entries (and every FAT
 * implementation) puts it.  A directory without one is corrupt. */
static int read_dotdot_entry(struct fat_fs *fs, uint32_t dir_cluster, uint8_t e[FAT_DIRENT_SIZE],
			     struct herd_error *err)
{
	int r = blockdev_pread(fs->bd, e, FAT_DIRENT_SIZE, fat_cluster_offset(fs, dir_cluster) + 32,
			       err);

	if (r < 0)
		return r;
	if (memcmp(e, "..         ", 11) != 0)
		return herd_error_set(err, EIO, "FAT: directory at cluster %u has no '..' entry",
				      dir_cluster);
	return 0;
}

/* Read the cluster a directory's ".." points at (0 = root). */
static int dotdot_of(struct fat_fs *fs, uint32_t dir_cluster, uint32_t *ret, struct herd_error *err)
{
	uint8_t e[FAT_DIRENT_SIZE];
	int r;

	if (!fat_cluster_valid(fs, dir_cluster))
		return herd_error_set(err, EIO, "FAT: directory cluster %u out of range",
				      dir_cluster);
	r = read_dotdot_entry(fs, dir_cluster, e, err);
	if (r < 0)
		return r;
	*ret = fat_le16(e, sizeof(e), 26) |
	       (fs->g.type == FAT32 ? (uint32_t)fat_le16(e, sizeof(e), 20) << 16 : 0);
	if (fs->g.type == FAT32 && *ret == fs->g.root_cluster)
		*ret = 0;
	return 0;
}

static int set_dotdot(struct fat_fs *fs, uint32_t dir_cluster, uint32_t parent,
		      struct herd_error *err)
{
	uint8_t e[FAT_DIRENT_SIZE];
	uint64_t off = fat_cluster_offset(fs, dir_cluster) + 32;
	int r;

	r = read_dotdot_entry(fs, dir_cluster, e, err);
	if (r < 0)
		return r;
	fat_put16(e, sizeof(e), 26, (uint16_t)parent);
	fat_put16(e, sizeof(e), 20, fs->g.type == FAT32 ? (uint16_t)(parent >> 16) : 0);
	return blockdev_pwrite(fs->bd, e, sizeof(e), off, err);
}

/* -EINVAL if directory `dir` is `ancestor` or lies below it. */
static int check_not_below(struct fat_fs *fs, uint32_t dir, uint32_t ancestor, const char *to,
			   struct herd_error *err)
{
	for (uint32_t steps = 0; dir != 0; steps++) {
		int r;
		if (dir == ancestor)
			return herd_error_set(err, EINVAL,
					      "FAT: cannot move a directory into itself (%s)", to);
		if (steps > fs->g.cluster_count)
			return herd_error_set(err, EIO, "FAT: '..' entries loop");
		r = dotdot_of(fs, dir, &dir, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int fat_rename(void *opaque, const char *from, const char *to, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node src, parent, target;
	struct fat_dir dir = {0};
	struct fat_entry_plan plan;
	uint32_t *clusters = NULL, new_parent;
	const char *name;
	bool replace = false, same_entry = false;
	uint64_t off;
	int r;

	r = lookup_for_change(fs, from, &src, err);
	if (r < 0)
		return r;
	if (src.is_root)
		return herd_error_set(err, EBUSY, "FAT: cannot rename the root directory");
	r = fat_lookup_parent(fs, to, &parent, &name, err);
	if (r < 0)
		return r;
	new_parent = fat_node_cluster(fs, &parent);
	if (fat_node_is_dir(&src)) {
		r = check_not_below(fs, new_parent, fat_node_cluster(fs, &src), to, err);
		if (r < 0)
			return r;
	}
	r = fat_dir_load(fs, new_parent, to, &dir, err);
	if (r < 0)
		return r;
	if (fat_dir_find(fs, &dir, name, &target) == 0) {
		same_entry = target.slot_offsets[target.slot_count - 1] ==
			     src.slot_offsets[src.slot_count - 1];
		if (same_entry && strcmp(target.name, name) == 0) {
			r = 0; /* rename to itself */
			goto out;
		}
		if (!same_entry) {
			if (fat_node_is_dir(&target) && !fat_node_is_dir(&src)) {
				r = herd_error_set(err, EISDIR, "FAT: %s is a directory", to);
				goto out;
			}
			if (!fat_node_is_dir(&target) && fat_node_is_dir(&src)) {
				r = herd_error_set(err, ENOTDIR, "FAT: %s is not a directory", to);
				goto out;
			}
			if (fat_node_is_dir(&target)) {
				r = fat_dir_is_empty(fs, fat_node_cluster(fs, &target), to, err);
				if (r < 0)
					goto out;
				if (r == 0) {
					r = herd_error_set(err, ENOTEMPTY,
							   "FAT: %s: directory not empty", to);
					goto out;
				}
			}
			replace = true;
		}
	}
	r = fat_dir_plan(fs, &dir, name, src.entry, &plan, err);
	if (r < 0)
		goto out;
	r = fat_find_free(fs, plan.grow_clusters, &clusters, err);
	if (r < 0)
		goto out;
	if (replace) {
		if (fat_node_is_dir(&target))
			r = remove_dir(fs, &target, to, err);
		else
			r = remove_entry_and_chain(fs, &target, to, err);
		if (r < 0)
			goto out;
	}
	r = fat_dir_commit(fs, &dir, &plan, clusters, &off, err);
	if (r < 0)
		goto out;
	r = fat_dir_remove(fs, &src, err);
	if (r < 0)
		goto out;
	if (fat_node_is_dir(&src) && src.parent_cluster != new_parent)
		r = set_dotdot(fs, fat_node_cluster(fs, &src), new_parent, err);
out:
	free(clusters);
	fat_dir_release(&dir);
	if (r < 0)
		return herd_error_prefix(err, r, "rename %s to %s", from, to);
	return 0;
}

static int fat_readdir(void *opaque, const char *path, vfs_readdir_cb cb, void *userdata,
		       struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	struct fat_dir dir;
	size_t pos = 0;
	int r;

	r = fat_lookup(fs, path, &node, err);
	if (r < 0)
		return r;
	if (!fat_node_is_dir(&node))
		return herd_error_set(err, ENOTDIR, "FAT: %s is not a directory", path);
	r = fat_dir_load(fs, fat_node_cluster(fs, &node), path, &dir, err);
	if (r < 0)
		return r;
	while (fat_dir_next(fs, &dir, &pos, &node) == 1) {
		struct vfs_dirent entry = {.name = node.name};
		fat_node_stat(fs, &node, &entry.st);
		r = cb(userdata, &entry);
		if (r < 0)
			break;
		r = 0;
	}
	fat_dir_release(&dir);
	return r;
}

static int fat_utimes(void *opaque, const char *path, int64_t mtime, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	int r;

	r = lookup_for_change(fs, path, &node, err);
	if (r < 0 || node.is_root)
		return r; /* the root has no entry to hold times */
	touch_entry(node.entry, mtime);
	return fat_node_store(fs, &node, err);
}

static int fat_chmod(void *opaque, const char *path, uint32_t mode, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	uint8_t attr;
	int r;

	r = lookup_for_change(fs, path, &node, err);
	if (r < 0 || node.is_root)
		return r;
	attr = node.entry[11];
	if (mode & 0222)
		node.entry[11] &= (uint8_t)~FAT_ATTR_READ_ONLY;
	else
		node.entry[11] |= FAT_ATTR_READ_ONLY;
	if (attr == node.entry[11])
		return 0;
	return fat_node_store(fs, &node, err);
}

static int fat_chown(void *opaque, const char *path, uint32_t uid, uint32_t gid,
		     struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct fat_node node;
	int r = fat_lookup(fs, path, &node, err);

	if (r < 0)
		return r;
	if (uid != 0 || gid != 0)
		return herd_error_set(
		    err, EPERM, "FAT: %s: FAT has no owners, only 0:0 is possible (got %u:%u)",
		    path, uid, gid);
	return 0;
}

static int fat_symlink(void *fs, const char *target, const char *path, uint32_t uid, uint32_t gid,
		       struct herd_error *err)
{
	return herd_error_set(err, EOPNOTSUPP, "FAT: %s: FAT has no symbolic links", path);
}

static int fat_link(void *fs, const char *existing, const char *path, struct herd_error *err)
{
	return herd_error_set(err, EOPNOTSUPP, "FAT: %s: FAT has no hard links", path);
}

static int fat_readlink(void *fs, const char *path, char *buf, size_t len, struct herd_error *err)
{
	return herd_error_set(err, EOPNOTSUPP, "FAT: %s: FAT has no symbolic links", path);
}

const struct vfs_ops vfs_fat_ops = {
    .name = "fat",
    .probe = fat_probe,
    .mount = fat_mount,
    .unmount = fat_unmount,
    .info = fat_info,
    .lstat = fat_lstat,
    .read = fat_read,
    .write = fat_write,
    .truncate = fat_truncate,
    .mkdir = fat_mkdir,
    .symlink = fat_symlink,
    .link = fat_link,
    .readlink = fat_readlink,
    .chmod = fat_chmod,
    .chown = fat_chown,
    .utimes = fat_utimes,
    .unlink = fat_unlink,
    .rmdir = fat_rmdir,
    .rename = fat_rename,
    .readdir = fat_readdir,
    .used_ranges = fat_used_ranges,
    .check = fat_check,
};
