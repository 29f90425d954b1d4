/*
 * test_vfs.c — the filesystem-independent layer (fs/vfs.c): path
 * normalisation, probing, symlinks followed inside the filesystem,
 * mkdir -p, whole-file reads, read-only mounts and the explanation given
 * for a damaged filesystem.  Filesystems come from mke2fs and mkfs.fat.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "run_testlib.h"

#include "fs/vfs.h"

static char tmpdir[] = "/tmp/herd-test-vfs.XXXXXX";

static struct vfs *mount_image(const char *path, bool writable)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	struct vfs *fs = NULL;

	if (blockdev_open_file(path, writable ? BLOCKDEV_READ_WRITE : BLOCKDEV_READ_ONLY, &bd,
			       &err) < 0)
		fail_msg("open %s: %s", path, err.message);
	if (vfs_mount(bd, writable, &fs, &err) < 0)
		fail_msg("mount %s: %s", path, err.message);
	blockdev_unref(bd);
	return fs;
}

static void test_normalize(void **state)
{
	struct herd_error err = {0};
	char out[64];

	assert_int_equal(vfs_normalize_path("/", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/");
	assert_int_equal(vfs_normalize_path("//etc/./ssh//", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/etc/ssh");
	assert_int_equal(vfs_normalize_path("/a/b/.", out, sizeof(out), &err), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(vfs_normalize_path("/etc/../x", out, sizeof(out), &err), -EINVAL);
	assert_non_null(strstr(err.message, "escapes"));
	assert_int_equal(vfs_normalize_path("/..", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(vfs_normalize_path("etc/passwd", out, sizeof(out), &err), -EINVAL);
	assert_non_null(strstr(err.message, "absolute"));
	assert_int_equal(vfs_normalize_path("/a\nb", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(vfs_normalize_path("/a\x7f", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(
	    vfs_normalize_path(
		"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", out,
		sizeof(out), &err),
	    -ENAMETOOLONG);
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	longname[0] = '/';
	longname[299] = '\0';
	char big[400];
	assert_int_equal(vfs_normalize_path(longname, big, sizeof(big), &err), -ENAMETOOLONG);
	assert_non_null(strstr(err.message, "255"));
}

static void test_ext4_symlinks_and_mkdir(void **state)
{
	struct herd_error err = {0};
	char img[256], tree[256];
	struct vfs_stat st;
	char *data = NULL;
	size_t len = 0;

	snprintf(tree, sizeof(tree), "%s/tree", tmpdir);
	snprintf(img, sizeof(img), "%s/ext.img", tmpdir);
	run("mkdir -p %s/usr/share/zoneinfo/Etc %s/etc %s/lib && printf UTC > "
	    "%s/usr/share/zoneinfo/Etc/UTC && ln -s ../usr/share/zoneinfo/Etc/UTC %s/etc/localtime "
	    "&& "
	    "ln -s /usr/share/zoneinfo %s/etc/zi && ln -s loop2 %s/etc/loop1 && ln -s loop1 "
	    "%s/etc/loop2 && ln -s ../../../../../../usr %s/lib/up",
	    tree, tree, tree, tree, tree, tree, tree, tree, tree);
	run("truncate -s 16M %s && mke2fs -F -q -t ext4 -d %s %s", img, tree, img);

	struct vfs *fs = mount_image(img, true);
	/* Relative target with "..": resolved inside the image. */
	assert_int_equal(vfs_read_all(fs, "/etc/localtime", 100, &data, &len, &err), 0);
	assert_string_equal(data, "UTC");
	free(data);
	/* Absolute target in an intermediate component: from the image's root. */
	assert_int_equal(vfs_stat(fs, "/etc/zi/Etc/UTC", &st, &err), 0);
	assert_int_equal(st.type, VFS_FILE);
	/* ".." in a target past the root clamps at the root, like a chroot. */
	assert_int_equal(vfs_stat(fs, "/lib/up/share", &st, &err), 0);
	assert_int_equal(st.type, VFS_DIR);
	/* lstat does not follow; stat does; loops end in ELOOP. */
	assert_int_equal(vfs_lstat(fs, "/etc/localtime", &st, &err), 0);
	assert_int_equal(st.type, VFS_SYMLINK);
	assert_int_equal(vfs_stat(fs, "/etc/loop1", &st, &err), -ELOOP);
	/* read_all refuses directories and oversized files. */
	assert_int_equal(vfs_read_all(fs, "/etc", 100, &data, &len, &err), -EISDIR);
	assert_int_equal(vfs_read_all(fs, "/etc/localtime", 2, &data, &len, &err), -EFBIG);

	/* mkdir -p: creates the chain, accepts existing dirs, refuses a file in the way. */
	assert_int_equal(vfs_mkdir(fs, "/home/pi/.ssh", 0700, 1000, 1000, true, &err), 0);
	assert_int_equal(vfs_mkdir(fs, "/home/pi/.ssh", 0700, 1000, 1000, true, &err), 0);
	assert_int_equal(vfs_stat(fs, "/home/pi", &st, &err), 0);
	assert_int_equal(st.mode, 0700);
	assert_int_equal(st.uid, 1000);
	assert_int_equal(vfs_mkdir(fs, "/home/pi/.ssh", 0700, 0, 0, false, &err), -EEXIST);
	assert_int_equal(vfs_mkdir(fs, "/etc/localtime/x", 0755, 0, 0, true, &err), -ENOTDIR);
	/* mkdir -p through a symlinked directory. */
	assert_int_equal(vfs_mkdir(fs, "/etc/zi/Europe", 0755, 0, 0, true, &err), 0);
	assert_int_equal(vfs_stat(fs, "/usr/share/zoneinfo/Europe", &st, &err), 0);
	/* A directory cannot be moved into itself; "/" cannot be written. */
	assert_int_equal(vfs_rename(fs, "/home", "/home/pi/x", &err), -EINVAL);
	assert_int_equal(vfs_write(fs, "/", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err), -EINVAL);
	assert_int_equal(vfs_close(fs, &err), 0);
	run("e2fsck -fn %s >/dev/null 2>&1", img);

	/* Read-only mounts refuse every change. */
	fs = mount_image(img, false);
	assert_int_equal(vfs_write(fs, "/x", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err), -EROFS);
	assert_int_equal(vfs_mkdir(fs, "/y", 0755, 0, 0, true, &err), -EROFS);
	assert_int_equal(vfs_chmod(fs, "/etc", 0700, &err), -EROFS);
	assert_int_equal(vfs_close(fs, &err), 0);
}

static void test_probe_and_damage(void **state)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	struct vfs *fs = NULL;
	char img[256];

	/* Zeros: nothing claims them. */
	assert_int_equal(blockdev_new_memory(NULL, 1 << 20, &bd, &err), 0);
	assert_null(vfs_probe(bd));
	assert_int_equal(vfs_mount(bd, false, &fs, &err), -EMEDIUMTYPE);
	assert_string_equal(err.message, "no filesystem herd understands");
	blockdev_unref(bd);

	/* A FAT boot sector with a nonsense BPB: the FAT driver explains. */
	snprintf(img, sizeof(img), "%s/fat.img", tmpdir);
	run("truncate -s 8M %s && mkfs.fat -F 16 -s 1 %s >/dev/null && printf '\\000\\000' | dd "
	    "of=%s bs=1 seek=11 conv=notrunc status=none",
	    img, img, img);
	assert_int_equal(blockdev_open_file(img, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	assert_true(vfs_mount(bd, false, &fs, &err) < 0);
	assert_non_null(strstr(err.message, "damaged fat filesystem"));
	assert_non_null(strstr(err.message, "BPB"));
	blockdev_unref(bd);

	/* A healthy FAT and ext4 are told apart. */
	run("truncate -s 8M %s/ok.img && mkfs.fat -F 12 %s/ok.img >/dev/null", tmpdir, tmpdir);
	snprintf(img, sizeof(img), "%s/ok.img", tmpdir);
	assert_int_equal(blockdev_open_file(img, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	assert_ptr_equal(vfs_probe(bd), &vfs_fat_ops);
	blockdev_unref(bd);
	snprintf(img, sizeof(img), "%s/ext.img", tmpdir);
	assert_int_equal(blockdev_open_file(img, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	assert_ptr_equal(vfs_probe(bd), &vfs_ext4_ops);
	blockdev_unref(bd);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	run("rm -rf %s", tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_ext4_symlinks_and_mkdir),
	    cmocka_unit_test(test_probe_and_damage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
