/*
 * ext4_path.c — path lookup for ext4.c, with symlinks resolved inside the
 * filesystem.
 *
 * What it does: walks an absolute path from the root inode, one directory
 * entry at a time (ext2fs_lookup), following symlinks met on the way,
 * at most 40 hops like the kernel's MAXSYMLINKS.  An absolute target is
 * resolved from the filesystem's root, never the host's.  ext2fs_namei is
 * not used: it stops after 8 nested links.
 *
 * What it does not do: normalise user paths (vfs.c does) or change
 * anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "fs/ext4_private.h"

/* The target of a symlink inode into buf (NUL-terminated), cap >= block
 * size + 1.  Fast symlinks keep it in i_block, inline-data ones in the
 * inode's data area, slow ones in their first block. */
errcode_t ext4_read_symlink(struct ext4_fs *e, ext2_ino_t ino, struct ext2_inode_large *in,
			    char *buf, size_t cap, size_t *ret_len)
{
	uint64_t size = EXT2_I_SIZE(in);
	errcode_t code;

	if (size == 0 || size >= e->fs->blocksize || size >= cap)
		return EXT2_ET_INODE_CORRUPTED;
	if (ext2fs_is_fast_symlink((struct ext2_inode *)in)) {
		memcpy(buf, in->i_block, size);
	} else if (in->i_flags & EXT4_INLINE_DATA_FL) {
		_cleanup_free_ char *tmp = malloc(ext4_inode_size(e) + e->fs->blocksize);
		size_t got = 0;

		if (!tmp)
			return EXT2_ET_NO_MEMORY;
		code = ext2fs_inline_data_size(e->fs, ino, &got);
		if (code)
			return code;
		if (got > ext4_inode_size(e) + e->fs->blocksize || got < size)
			return EXT2_ET_INODE_CORRUPTED;
		code = ext2fs_inline_data_get(e->fs, ino, (struct ext2_inode *)in, tmp, NULL);
		if (code)
			return code;
		memcpy(buf, tmp, size);
	} else {
		ext2_file_t file;
		unsigned got = 0;

		code = ext2fs_file_open2(e->fs, ino, (struct ext2_inode *)in, 0, &file);
		if (code)
			return code;
		code = ext2fs_file_read(file, buf, (unsigned)size, &got);
		ext2fs_file_close(file);
		if (code)
			return code;
		if (got != size)
			return EXT2_ET_SHORT_READ;
	}
	buf[size] = '\0';
	if (strlen(buf) != size)
		return EXT2_ET_INODE_CORRUPTED;
	*ret_len = size;
	return 0;
}

/*
 * Resolve `path` from the root.  Intermediate symlinks are always
 * followed, the final one only with follow_final.  A missing final
 * component is not an error: w->ino is 0 and w->parent/name say where it
 * would be created.  When the path resolves to a directory with no final
 * name (e.g. "/" or a link to "/"), w->name is "" and w->parent is 0.
 */
int ext4_walk(struct ext4_fs *e, const char *path, bool follow_final, struct ext4_where *w,
	      struct herd_error *err)
{
	_cleanup_free_ char *buf = strdup(path);
	_cleanup_free_ char *target = NULL;
	ext2_ino_t cur = EXT2_ROOT_INO;
	unsigned hops = 0;
	size_t pos = 0;
	errcode_t code;

	if (!buf)
		return herd_error_set(err, ENOMEM, "ext4: %s: out of memory", path);
	memset(w, 0, sizeof(*w));
	for (;;) {
		size_t start, len, next;
		ext2_ino_t child;
		bool last;

		while (buf[pos] == '/')
			pos++;
		if (buf[pos] == '\0') {
			w->parent = 0;
			w->ino = cur;
			w->name[0] = '\0';
			code = ext4_read_inode(e, cur, &w->inode);
			if (code)
				return ext4_fail(e, code, err, path);
			return 0;
		}
		start = pos;
		while (buf[pos] && buf[pos] != '/')
			pos++;
		len = pos - start;
		next = pos;
		while (buf[next] == '/')
			next++;
		last = buf[next] == '\0';
		if (len > EXT2_NAME_LEN)
			return herd_error_set(err, ENAMETOOLONG, "ext4: %s: name too long", path);
		if (len == 1 && buf[start] == '.') {
			pos = next;
			continue;
		}

		code = ext2fs_lookup(e->fs, cur, buf + start, (int)len, NULL, &child);
		if (code == EXT2_ET_FILE_NOT_FOUND) {
			if (!last)
				return herd_error_set(err, ENOENT,
						      "ext4: %s: no such file or directory", path);
			w->parent = cur;
			w->ino = 0;
			memcpy(w->name, buf + start, len);
			w->name[len] = '\0';
			return 0;
		}
		if (code)
			return ext4_fail(e, code, err, path);
		code = ext4_read_inode(e, child, &w->inode);
		if (code)
			return ext4_fail(e, code, err, path);

		if (LINUX_S_ISLNK(w->inode.i_mode) && (!last || follow_final)) {
			size_t tlen = 0, rest = strlen(buf + next);
			char *joined;

			if (++hops > EXT4_MAX_SYMLINK_HOPS)
				return herd_error_set(err, ELOOP,
						      "ext4: %s: too many levels of symbolic links",
						      path);
			if (!target) {
				target = malloc(e->fs->blocksize + 1);
				if (!target)
					return herd_error_set(err, ENOMEM, "ext4: out of memory");
			}
			code = ext4_read_symlink(e, child, &w->inode, target, e->fs->blocksize + 1,
						 &tlen);
			if (code)
				return ext4_fail(e, code, err, path);
			if (tlen + 1 + rest + 1 > EXT4_MAX_WALK_PATH)
				return herd_error_set(err, ENAMETOOLONG,
						      "ext4: %s: symlink expansion too long", path);
			joined = malloc(tlen + 1 + rest + 1);
			if (!joined)
				return herd_error_set(err, ENOMEM, "ext4: out of memory");
			memcpy(joined, target, tlen);
			joined[tlen] = '/';
			memcpy(joined + tlen + 1, buf + next, rest + 1);
			free(buf);
			buf = joined;
			pos = 0;
			if (target[0] == '/')
				cur = EXT2_ROOT_INO;
			continue;
		}
		if (last) {
			w->parent = cur;
			w->ino = child;
			memcpy(w->name, buf + start, len);
			w->name[len] = '\0';
			return 0;
		}
		if (!LINUX_S_ISDIR(w->inode.i_mode))
			return herd_error_set(err, ENOTDIR, "ext4: %s: not a directory", path);
		cur = child;
		pos = next;
	}
}

/* Existing inode required. */
int ext4_walk_existing(struct ext4_fs *e, const char *path, bool follow_final, struct ext4_where *w,
		       struct herd_error *err)
{
	int r = ext4_walk(e, path, follow_final, w, err);

	if (r < 0)
		return r;
	if (w->ino == 0)
		return herd_error_set(err, ENOENT, "ext4: %s: no such file or directory", path);
	return 0;
}

/* A final component we may add or remove: not "/", ".", "..". */
bool ext4_nameable(const struct ext4_where *w)
{
	return w->parent != 0 && w->name[0] && strcmp(w->name, ".") != 0 &&
	       strcmp(w->name, "..") != 0;
}
