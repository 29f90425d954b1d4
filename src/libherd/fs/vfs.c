/*
 * vfs.c — the filesystem-independent half of the file API (see vfs.h):
 * probing and mounting, path normalisation, following symlinks inside the
 * filesystem, `mkdir -p`, and whole-file reads.  Everything
 * filesystem-specific lives behind `struct vfs_ops` in fat.c and ext4.c.
 */
#include "fs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"

#define VFS_PATH_MAX	4096
#define VFS_NAME_MAX	255
#define VFS_SYMLINK_MAX 40 /* hops, as Linux's MAXSYMLINKS */

struct vfs {
	const struct vfs_ops *ops;
	void *fs;
	struct blockdev *bd;
	bool writable;
};

/* Probe order: most specific signature first. */
static const struct vfs_ops *const filesystems[] = {
    &vfs_ext4_ops,
    &vfs_fat_ops,
};

/*
 * Normalise into `out`.  With clamp, ".." pops a component and stops at the
 * root (how a symlink target is resolved in a chroot); without clamp ".."
 * is refused, so a user-given path can never name anything outside the
 * filesystem — even where climbing would be harmless, it is a sign of a
 * mistake in a recipe or a hostile argument.
 */
static int normalize(const char *path, bool clamp, char *out, size_t outlen, struct herd_error *err)
{
	size_t len = 0;
	const char *p = path;

	if (!path || path[0] != '/')
		return herd_error_set(err, EINVAL, "'%s': path must be absolute", path ? path : "");
	if (outlen < 2)
		return herd_error_set(err, ENAMETOOLONG, "path too long");
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return herd_error_set(err, EINVAL, "path contains a control character");
	out[0] = '\0';
	while (*p) {
		const char *start;
		size_t n;

		while (*p == '/')
			p++;
		start = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - start);
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			if (!clamp)
				return herd_error_set(
				    err, EINVAL, "'%s': path escapes the filesystem ('..')", path);
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash */
			out[len] = '\0';
			continue;
		}
		if (n > VFS_NAME_MAX)
			return herd_error_set(err, ENAMETOOLONG,
					      "'%.*s…': name longer than %d bytes", 20, start,
					      VFS_NAME_MAX);
		if (len + 1 + n + 1 > outlen)
			return herd_error_set(err, ENAMETOOLONG, "path too long");
		out[len++] = '/';
		memcpy(out + len, start, n);
		len += n;
		out[len] = '\0';
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

int vfs_normalize_path(const char *path, char *out, size_t outlen, struct herd_error *err)
{
	return normalize(path, false, out, outlen, err);
}

const struct vfs_ops *vfs_probe(struct blockdev *bd)
{
	for (size_t i = 0; i < ELEMENTSOF(filesystems); i++)
		if (filesystems[i]->probe(bd) > 0)
			return filesystems[i];
	return NULL;
}

/*
 * Nothing claimed the blockdev.  If it still carries a filesystem's
 * signature (a FAT boot sector's "FAT" type string, ext's magic), let that
 * driver try to mount it so the user learns what is broken ("FAT: bad BPB:
 * bytes per sector 0") rather than only that nothing matched.
 */
static int explain_unclaimed(struct blockdev *bd, struct herd_error *err)
{
	uint8_t sector[1024 + 64];
	const struct vfs_ops *ops = NULL;
	void *fs = NULL;

	if (blockdev_size(bd) >= sizeof(sector) &&
	    blockdev_pread(bd, sector, sizeof(sector), 0, NULL) == 0) {
		bool fat_sig =
		    memcmp(sector + 54, "FAT", 3) == 0 || memcmp(sector + 82, "FAT", 3) == 0;
		bool ext_sig = sector[1024 + 56] == 0x53 && sector[1024 + 57] == 0xef;
		if (fat_sig)
			ops = &vfs_fat_ops;
		else if (ext_sig)
			ops = &vfs_ext4_ops;
	}
	if (ops && ops->mount(bd, false, &fs, err) < 0)
		return herd_error_prefix(err, EMEDIUMTYPE, "damaged %s filesystem", ops->name);
	if (fs)
		ops->unmount(fs, NULL);
	return herd_error_set(err, EMEDIUMTYPE, "no filesystem herd understands");
}

int vfs_mount(struct blockdev *bd, bool writable, struct vfs **ret, struct herd_error *err)
{
	const struct vfs_ops *ops = vfs_probe(bd);
	struct vfs *v;
	int r;

	if (!ops)
		return explain_unclaimed(bd, err);
	if (writable && !blockdev_writable(bd))
		return herd_error_set(err, EROFS, "%s is read-only", blockdev_name(bd));
	v = calloc(1, sizeof(*v));
	if (!v)
		return herd_error_set(err, ENOMEM, "out of memory");
	r = ops->mount(bd, writable, &v->fs, err);
	if (r < 0) {
		free(v);
		return r;
	}
	v->ops = ops;
	v->bd = blockdev_ref(bd);
	v->writable = writable;
	*ret = v;
	return 0;
}

int vfs_close(struct vfs *fs, struct herd_error *err)
{
	int r;

	if (!fs)
		return 0;
	r = fs->ops->unmount(fs->fs, err);
	blockdev_unref(fs->bd);
	free(fs);
	return r;
}

int vfs_info(struct vfs *fs, struct vfs_info *ret, struct herd_error *err)
{
	return fs->ops->info(fs->fs, ret, err);
}

int vfs_check(struct vfs *fs, vfs_problem_cb cb, void *userdata, struct herd_error *err)
{
	if (!fs->ops->check)
		return 0;
	return fs->ops->check(fs->fs, cb, userdata, err);
}

static int check_writable(struct vfs *fs, struct herd_error *err)
{
	if (!fs->writable)
		return herd_error_set(err, EROFS, "filesystem is mounted read-only");
	return 0;
}

int vfs_lstat(struct vfs *fs, const char *path, struct vfs_stat *ret, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->lstat(fs->fs, p, ret, err);
}

/* Follow a final symlink chain of `path` (already normalised) into `out`. */
static int resolve_final(struct vfs *fs, const char *path, char *out, size_t outlen,
			 struct vfs_stat *ret_st, struct herd_error *err)
{
	char cur[VFS_PATH_MAX];
	int r;

	if (strlen(path) >= sizeof(cur))
		return herd_error_set(err, ENAMETOOLONG, "path too long");
	memcpy(cur, path, strlen(path) + 1);
	for (int hop = 0; hop <= VFS_SYMLINK_MAX; hop++) {
		struct vfs_stat st;
		char target[VFS_PATH_MAX], joined[2 * VFS_PATH_MAX + 2];

		r = fs->ops->lstat(fs->fs, cur, &st, err);
		if (r < 0)
			return r;
		if (st.type != VFS_SYMLINK) {
			if (strlen(cur) >= outlen)
				return herd_error_set(err, ENAMETOOLONG, "path too long");
			memcpy(out, cur, strlen(cur) + 1);
			if (ret_st)
				*ret_st = st;
			return 0;
		}
		r = fs->ops->readlink(fs->fs, cur, target, sizeof(target), err);
		if (r < 0)
			return r;
		if (target[0] == '/') {
			snprintf(joined, sizeof(joined), "%s", target);
		} else {
			char *slash = strrchr(cur, '/');
			size_t dirlen = slash ? (size_t)(slash - cur) : 0;
			snprintf(joined, sizeof(joined), "%.*s/%s", (int)dirlen, cur, target);
		}
		r = normalize(joined, true, cur, sizeof(cur), err);
		if (r < 0)
			return r;
	}
	return herd_error_set(err, ELOOP, "'%s': too many levels of symbolic links", path);
}

int vfs_stat(struct vfs *fs, const char *path, struct vfs_stat *ret, struct herd_error *err)
{
	char p[VFS_PATH_MAX], real[VFS_PATH_MAX];
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	return r < 0 ? r : resolve_final(fs, p, real, sizeof(real), ret, err);
}

int vfs_read(struct vfs *fs, const char *path, uint64_t offset, void *buf, size_t len,
	     size_t *ret_read, struct herd_error *err)
{
	char p[VFS_PATH_MAX], real[VFS_PATH_MAX];
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	if (r < 0)
		return r;
	r = resolve_final(fs, p, real, sizeof(real), NULL, err);
	if (r < 0)
		return r;
	return fs->ops->read(fs->fs, real, offset, buf, len, ret_read, err);
}

int vfs_read_all(struct vfs *fs, const char *path, size_t max, char **ret_data, size_t *ret_len,
		 struct herd_error *err)
{
	char p[VFS_PATH_MAX], real[VFS_PATH_MAX];
	struct vfs_stat st;
	size_t got = 0;
	char *data;
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	if (r < 0)
		return r;
	r = resolve_final(fs, p, real, sizeof(real), &st, err);
	if (r < 0)
		return r;
	if (st.type == VFS_DIR)
		return herd_error_set(err, EISDIR, "'%s' is a directory", path);
	if (st.size > max)
		return herd_error_set(err, EFBIG, "'%s' is larger than %zu bytes", path, max);
	data = malloc((size_t)st.size + 1);
	if (!data)
		return herd_error_set(err, ENOMEM, "out of memory");
	if (st.size) {
		r = fs->ops->read(fs->fs, real, 0, data, (size_t)st.size, &got, err);
		if (r < 0) {
			free(data);
			return r;
		}
	}
	data[got] = '\0';
	*ret_data = data;
	if (ret_len)
		*ret_len = got;
	return 0;
}

/* Normalise and require a writable mount: the common prologue of every write op. */
static int prepare_write(struct vfs *fs, const char *path, char *out, size_t outlen,
			 struct herd_error *err)
{
	int r = check_writable(fs, err);

	if (r < 0)
		return r;
	r = vfs_normalize_path(path, out, outlen, err);
	if (r < 0)
		return r;
	if (strcmp(out, "/") == 0)
		return herd_error_set(err, EINVAL, "'/' cannot be changed this way");
	return 0;
}

int vfs_write(struct vfs *fs, const char *path, const void *buf, size_t len, unsigned flags,
	      uint32_t mode, uint32_t uid, uint32_t gid, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = prepare_write(fs, path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->write(fs->fs, p, buf, len, flags, mode, uid, gid, err);
}

int vfs_truncate(struct vfs *fs, const char *path, uint64_t size, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = prepare_write(fs, path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->truncate(fs->fs, p, size, err);
}

int vfs_mkdir(struct vfs *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
	      bool parents, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = check_writable(fs, err);

	if (r < 0)
		return r;
	r = vfs_normalize_path(path, p, sizeof(p), err);
	if (r < 0)
		return r;
	if (strcmp(p, "/") == 0)
		return parents ? 0 : herd_error_set(err, EEXIST, "'/' exists");
	if (!parents)
		return fs->ops->mkdir(fs->fs, p, mode, uid, gid, err);

	/* mkdir -p: walk each prefix; existing directories (or symlinks to
	 * them) are fine, anything else in the way is -ENOTDIR. */
	for (char *slash = p + 1;; slash++) {
		bool last;
		struct vfs_stat st;

		slash = strchr(slash, '/');
		last = slash == NULL;
		if (!last)
			*slash = '\0';
		r = vfs_stat(fs, p, &st, NULL);
		if (r == 0 && st.type != VFS_DIR)
			return herd_error_set(err, ENOTDIR, "'%s' exists and is not a directory",
					      p);
		if (r == -ENOENT)
			r = fs->ops->mkdir(fs->fs, p, mode, uid, gid, err);
		else if (r < 0)
			return vfs_stat(fs, p, &st, err); /* re-run to record the message */
		if (r < 0)
			return r;
		if (last)
			return 0;
		*slash = '/';
	}
}

int vfs_symlink(struct vfs *fs, const char *target, const char *path, uint32_t uid, uint32_t gid,
		struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = prepare_write(fs, path, p, sizeof(p), err);

	if (r < 0)
		return r;
	if (!target[0] || strlen(target) >= VFS_PATH_MAX)
		return herd_error_set(err, EINVAL, "symlink target must be 1 to %d bytes",
				      VFS_PATH_MAX - 1);
	return fs->ops->symlink(fs->fs, target, p, uid, gid, err);
}

int vfs_link(struct vfs *fs, const char *existing, const char *path, struct herd_error *err)
{
	char a[VFS_PATH_MAX], b[VFS_PATH_MAX];
	int r = prepare_write(fs, existing, a, sizeof(a), err);

	if (r < 0)
		return r;
	r = prepare_write(fs, path, b, sizeof(b), err);
	return r < 0 ? r : fs->ops->link(fs->fs, a, b, err);
}

int vfs_readlink(struct vfs *fs, const char *path, char *buf, size_t len, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->readlink(fs->fs, p, buf, len, err);
}

int vfs_chmod(struct vfs *fs, const char *path, uint32_t mode, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = check_writable(fs, err);

	if (r == 0)
		r = vfs_normalize_path(path, p, sizeof(p), err);
	return r < 0 ? r : fs->ops->chmod(fs->fs, p, mode & 07777, err);
}

int vfs_chown(struct vfs *fs, const char *path, uint32_t uid, uint32_t gid, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = check_writable(fs, err);

	if (r == 0)
		r = vfs_normalize_path(path, p, sizeof(p), err);
	return r < 0 ? r : fs->ops->chown(fs->fs, p, uid, gid, err);
}

int vfs_utimes(struct vfs *fs, const char *path, int64_t mtime, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = check_writable(fs, err);

	if (r == 0)
		r = vfs_normalize_path(path, p, sizeof(p), err);
	return r < 0 ? r : fs->ops->utimes(fs->fs, p, mtime, err);
}

int vfs_unlink(struct vfs *fs, const char *path, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = prepare_write(fs, path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->unlink(fs->fs, p, err);
}

int vfs_rmdir(struct vfs *fs, const char *path, struct herd_error *err)
{
	char p[VFS_PATH_MAX];
	int r = prepare_write(fs, path, p, sizeof(p), err);

	return r < 0 ? r : fs->ops->rmdir(fs->fs, p, err);
}

int vfs_rename(struct vfs *fs, const char *from, const char *to, struct herd_error *err)
{
	char a[VFS_PATH_MAX], b[VFS_PATH_MAX];
	int r = prepare_write(fs, from, a, sizeof(a), err);

	if (r < 0)
		return r;
	r = prepare_write(fs, to, b, sizeof(b), err);
	if (r < 0)
		return r;
	/* Moving a directory into itself would detach it from the tree. */
	size_t n = strlen(a);
	if (strncmp(a, b, n) == 0 && b[n] == '/')
		return herd_error_set(err, EINVAL, "cannot move '%s' into itself", a);
	return fs->ops->rename(fs->fs, a, b, err);
}

int vfs_readdir(struct vfs *fs, const char *path, vfs_readdir_cb cb, void *userdata,
		struct herd_error *err)
{
	char p[VFS_PATH_MAX], real[VFS_PATH_MAX];
	int r = vfs_normalize_path(path, p, sizeof(p), err);

	if (r < 0)
		return r;
	r = resolve_final(fs, p, real, sizeof(real), NULL, err);
	return r < 0 ? r : fs->ops->readdir(fs->fs, real, cb, userdata, err);
}

int vfs_used_ranges(struct vfs *fs, vfs_range_cb cb, void *userdata, struct herd_error *err)
{
	return fs->ops->used_ranges(fs->fs, cb, userdata, err);
}
