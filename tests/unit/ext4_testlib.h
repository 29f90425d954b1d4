/*
 * ext4_testlib.h — helpers shared by test_ext4.c and test_ext4_model.c:
 * a temp dir, running the e2fsprogs tools (mke2fs, e2fsck, debugfs) as
 * independent witnesses, and mounting an image file through vfs_ext4_ops.
 * Header-only (static inline) so each test program stays one .c file.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk/blockdev.h"
#include "fs/vfs.h"

/* The feature set of a Raspberry Pi OS root filesystem. */
#define EXT4_RPI_FEATURES                                                                          \
	"has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,"               \
	"sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum"

struct tfs {
	struct blockdev *bd;
	void *fs;
};

static inline uint64_t t_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline void t_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)t_rng(&s);
}

static inline void t_mkdtemp(char *dir, size_t len, const char *what)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/herd-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
	assert_non_null(mkdtemp(dir));
}

__attribute__((format(printf, 1, 2))) static inline int t_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* stdout of a command, malloc'ed and NUL-terminated; *ret_len optional. */
__attribute__((format(printf, 2, 3))) static inline char *t_capture(size_t *ret_len,
								    const char *fmt, ...)
{
	char cmd[8192];
	size_t len = 0, cap = 65536;
	char *out = malloc(cap);
	va_list ap;
	FILE *p;
	size_t n;

	assert_non_null(out);
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	pclose(p);
	out[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return out;
}

static inline void t_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* mke2fs a sparse image of size_mb MiB; src may be NULL (mke2fs -d). */
static inline void t_mkfs(const char *img, unsigned size_mb, const char *opts, const char *src)
{
	char dflag[512] = "";

	if (src)
		snprintf(dflag, sizeof(dflag), "-d '%s'", src);
	assert_int_equal(t_sh("rm -f '%s' && truncate -s %uM '%s'", img, size_mb, img), 0);
	assert_int_equal(t_sh("mke2fs -F -q %s %s '%s' >/dev/null 2>&1", opts, dflag, img), 0);
}

/* e2fsck -fn must find nothing; print its report when it does. */
static inline void t_fsck_clean(const char *img)
{
	char *out = t_capture(NULL, "e2fsck -fn '%s' 2>&1; echo \"exit=$?\"", img);

	if (!strstr(out, "exit=0\n"))
		fprintf(stderr, "e2fsck -fn %s:\n%s\n", img, out);
	assert_non_null(strstr(out, "exit=0\n"));
	free(out);
}

static inline int t_mount(const char *img, bool writable, struct tfs *t, struct herd_error *err)
{
	int r;

	memset(t, 0, sizeof(*t));
	r = blockdev_open_file(img, writable ? BLOCKDEV_READ_WRITE : BLOCKDEV_READ_ONLY, &t->bd,
			       err);
	if (r < 0)
		return r;
	r = vfs_ext4_ops.mount(t->bd, writable, &t->fs, err);
	if (r < 0)
		t->bd = blockdev_unref(t->bd);
	return r;
}

static inline void t_mount_ok(const char *img, bool writable, struct tfs *t)
{
	struct herd_error err = {0};
	int r = t_mount(img, writable, t, &err);

	if (r < 0)
		fprintf(stderr, "mount %s: %s\n", img, err.message);
	assert_int_equal(r, 0);
}

static inline void t_umount(struct tfs *t)
{
	struct herd_error err = {0};
	int r = vfs_ext4_ops.unmount(t->fs, &err);

	if (r < 0)
		fprintf(stderr, "unmount: %s\n", err.message);
	assert_int_equal(r, 0);
	t->bd = blockdev_unref(t->bd);
	t->fs = NULL;
}

/* Read a whole file through herd (malloc'ed, *ret_len set). */
static inline uint8_t *t_read_all(struct tfs *t, const char *path, size_t *ret_len)
{
	struct vfs_stat st;
	struct herd_error err = {0};
	uint8_t *buf;
	size_t got = 0;

	if (vfs_ext4_ops.lstat(t->fs, path, &st, &err) < 0)
		fprintf(stderr, "lstat %s: %s\n", path, err.message);
	assert_int_equal(vfs_ext4_ops.lstat(t->fs, path, &st, &err), 0);
	buf = malloc(st.size + 1);
	assert_non_null(buf);
	assert_int_equal(vfs_ext4_ops.read(t->fs, path, 0, buf, st.size + 1, &got, &err), 0);
	assert_int_equal(got, st.size);
	*ret_len = got;
	return buf;
}

#define T_OK(call)                                                                                 \
	do {                                                                                       \
		struct herd_error _e = {0};                                                        \
		int _r = (call);                                                                   \
		if (_r < 0)                                                                        \
			fprintf(stderr, "%s:%d: %s failed: %d %s\n", __FILE__, __LINE__, #call,    \
				_r, _e.message);                                                   \
		assert_true(_r >= 0);                                                              \
	} while (0)
