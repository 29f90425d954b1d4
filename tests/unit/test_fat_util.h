/*
 * test_fat_util.h — helpers shared by test_fat.c and test_fat_model.c:
 * a temp directory, running the independent witnesses (mkfs.fat,
 * fsck.fat, mtools) with posix_spawnp, and mounting an image through
 * vfs_fat_ops on a file blockdev.  Header-only (static functions) because
 * each test is its own program.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <spawn.h>
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

extern char **environ;

/* Run argv (NULL-terminated); stdout+stderr captured into *ret_out
 * (malloc'ed, may be NULL to discard).  Returns the exit status or -1. */
static inline int tool_run(char *const argv[], char **ret_out)
{
	char path[] = "/tmp/herd-fat-tool-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC), status = -1;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (fd < 0)
		return -1;
	unlink(path);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
	    waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	else
		status = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (ret_out) {
		off_t len = lseek(fd, 0, SEEK_END);
		char *out = malloc((size_t)(len > 0 ? len : 0) + 1);
		if (out && len > 0 && pread(fd, out, (size_t)len, 0) == len)
			out[len] = '\0';
		else if (out)
			out[0] = '\0';
		*ret_out = out;
	}
	close(fd);
	return status;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void tmpdir_remove(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tool_env(void)
{
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	setenv("TZ", "UTC", 1);
}

/* mkfs.fat -C IMG SIZE_KIB -F TYPE [extra...] */
static inline void make_image(const char *img, int type, unsigned size_kib, const char *extra)
{
	char type_s[8], size_s[16], cmd[1024];
	char *out = NULL;

	snprintf(type_s, sizeof(type_s), "%d", type);
	snprintf(size_s, sizeof(size_s), "%u", size_kib);
	unlink(img);
	snprintf(cmd, sizeof(cmd), "mkfs.fat -C -F %s %s '%s' %s", type_s, extra ? extra : "", img,
		 size_s);
	char *argv[] = {"sh", "-c", cmd, NULL};
	if (tool_run(argv, &out) != 0)
		fail_msg("mkfs failed: %s: %s", cmd, out);
	free(out);
}

/* fsck.fat -n must exit 0 and print nothing but its banner and the
 * one-line summary ("IMG: N files, a/b clusters"). */
static inline void fsck_clean(const char *img)
{
	char *argv[] = {"fsck.fat", "-n", (char *)img, NULL};
	char *out = NULL;
	int rc = tool_run(argv, &out), lines = 0;

	for (char *p = out; p && *p; p++)
		lines += *p == '\n';
	if (rc != 0 || lines != 2 || strstr(out, "Dirty") || strstr(out, "fixed"))
		fail_msg("fsck.fat -n %s (rc %d):\n%s", img, rc, out);
	free(out);
}

static inline void *fat_open(const char *img, bool writable)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	void *fs = NULL;

	if (blockdev_open_file(img, writable ? BLOCKDEV_READ_WRITE : BLOCKDEV_READ_ONLY, &bd,
			       &err) < 0)
		fail_msg("open %s: %s", img, err.message);
	assert_int_equal(vfs_fat_ops.probe(bd), 1);
	if (vfs_fat_ops.mount(bd, writable, &fs, &err) < 0)
		fail_msg("mount %s: %s", img, err.message);
	blockdev_unref(bd);
	return fs;
}

static inline void fat_close(void *fs)
{
	struct herd_error err = {0};

	if (vfs_fat_ops.unmount(fs, &err) < 0)
		fail_msg("unmount: %s", err.message);
}

static inline void fat_put(void *fs, const char *path, const void *data, size_t len, unsigned flags)
{
	struct herd_error err = {0};

	if (vfs_fat_ops.write(fs, path, data, len, flags, 0644, 0, 0, &err) < 0)
		fail_msg("write %s: %s", path, err.message);
}

/* Whole file through herd. */
static inline uint8_t *fat_get_all(void *fs, const char *path, size_t *ret_len)
{
	struct herd_error err = {0};
	struct vfs_stat st;
	uint8_t *buf;
	size_t got = 0;

	if (vfs_fat_ops.lstat(fs, path, &st, &err) < 0)
		fail_msg("lstat %s: %s", path, err.message);
	buf = malloc(st.size + 1);
	assert_non_null(buf);
	if (vfs_fat_ops.read(fs, path, 0, buf, st.size, &got, &err) < 0)
		fail_msg("read %s: %s", path, err.message);
	assert_int_equal(got, st.size);
	*ret_len = got;
	return buf;
}

/* Whole file through mtools (mcopy to a scratch file). */
static inline uint8_t *mtools_get(const char *dir, const char *img, const char *path,
				  size_t *ret_len)
{
	char src[4096], dst[4096];
	char *out = NULL;
	uint8_t *buf;
	struct stat st;
	int fd;

	snprintf(src, sizeof(src), "::%s", path);
	snprintf(dst, sizeof(dst), "%s/mcopy.out", dir);
	unlink(dst);
	char *argv[] = {"mcopy", "-n", "-i", (char *)img, src, dst, NULL};
	if (tool_run(argv, &out) != 0)
		fail_msg("mcopy %s: %s", src, out);
	free(out);
	fd = open(dst, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	unlink(dst);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* `mdir -/ -b` recursive listing: one "::/path" per line, dirs end in '/'. */
static inline char *mtools_tree(const char *img)
{
	char *argv[] = {"mdir", "-/", "-b", "-i", (char *)img, "::/", NULL};
	char *out = NULL;

	if (tool_run(argv, &out) != 0)
		fail_msg("mdir %s: %s", img, out);
	return out;
}

static inline bool line_present(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == n && memcmp(p, line, n) == 0)
			return true;
		p = nl ? nl + 1 : p + len;
	}
	return false;
}

static inline void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}
