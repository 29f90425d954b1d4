/*
 * test_fat.c — the FAT driver against independent witnesses.
 *
 * Images are made at test time with mkfs.fat (FAT12/16/32, also 512-byte
 * clusters to cross cluster boundaries often); herd writes through
 * vfs_fat_ops; afterwards fsck.fat -n must be silent and mtools must read
 * back exactly the names and bytes written.  The other direction too:
 * mtools populates, herd reads.  Bad input: nonsense BPB, truncated image,
 * cluster-chain loop, cross-linked chain, full filesystem (image unchanged,
 * compared byte for byte), full FAT12 root.  The randomized model test is
 * test_fat_model.c.
 */
#include "test_fat_util.h"

#include <time.h>

struct fixture {
	char dir[64];
	char img[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/herd-test-fat-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->img, sizeof(f->img), "%s/fat.img", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static uint8_t *read_image(const char *img, size_t *ret_len)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static void patch_image(const char *img, uint64_t off, const void *data, size_t len)
{
	int fd = open(img, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void expect_file(struct fixture *f, void *fs, const char *path, const uint8_t *data,
			size_t len)
{
	size_t got_len;
	uint8_t *got = fat_get_all(fs, path, &got_len);

	if (got_len != len || memcmp(got, data, len) != 0)
		fail_msg("herd read of %s differs (len %zu want %zu)", path, got_len, len);
	free(got);
}

static void expect_mtools_file(struct fixture *f, const char *path, const uint8_t *data, size_t len)
{
	size_t got_len;
	uint8_t *got = mtools_get(f->dir, f->img, path, &got_len);

	if (got_len != len || memcmp(got, data, len) != 0)
		fail_msg("mtools read of %s differs (len %zu want %zu)", path, got_len, len);
	free(got);
}

/* ---- probe / info ---- */

static void check_info(struct fixture *f, int type, unsigned kib, const char *extra,
		       const char *want_type, uint32_t want_cluster)
{
	struct herd_error err = {0};
	struct vfs_info info;
	char args[256];
	void *fs;

	snprintf(args, sizeof(args), "-n HERDVOL -i 1234ABCD %s", extra);
	make_image(f->img, type, kib, args);
	fs = fat_open(f->img, false);
	assert_int_equal(vfs_fat_ops.info(fs, &info, &err), 0);
	assert_string_equal(info.type, want_type);
	assert_string_equal(info.label, "HERDVOL");
	assert_string_equal(info.uuid, "1234-ABCD");
	assert_int_equal(info.size, (uint64_t)kib * 1024);
	assert_int_equal(info.block_size, want_cluster);
	assert_true(info.used > 0 && info.used < info.size);
	fat_close(fs);
}

static void test_info(void **state)
{
	struct fixture *f = *state;

	check_info(f, 12, 2048, "-s 4", "fat12", 2048);
	check_info(f, 16, 32768, "-s 4", "fat16", 2048);
	check_info(f, 32, 65536, "-s 1", "fat32", 512);
	check_info(f, 32, 524288, "-S 4096 -s 1", "fat32", 4096);
}

/* ---- write with herd, check with fsck.fat and mtools ---- */

static const char *long255(void)
{
	static char name[256];

	for (int i = 0; i < 251; i++)
		name[i] = (char)('a' + i % 26);
	memcpy(name + 251, ".txt", 5);
	return name;
}

static void roundtrip(struct fixture *f, int type, unsigned kib, const char *extra)
{
	struct herd_error err = {0};
	struct vfs_info info;
	uint32_t cs;
	size_t sizes[8], big = type == 12 ? 700 * 1024 + 17 : 3 * 1024 * 1024 + 17;
	uint8_t *data = malloc(big);
	char path[600], *tree;
	void *fs;

	fill_pattern(data, big, (uint32_t)type);
	make_image(f->img, type, kib, extra);
	fs = fat_open(f->img, true);
	assert_int_equal(vfs_fat_ops.info(fs, &info, &err), 0);
	cs = info.block_size;
	sizes[0] = 0, sizes[1] = 1, sizes[2] = cs - 1, sizes[3] = cs, sizes[4] = cs + 1;
	sizes[5] = 2 * cs + 3, sizes[6] = big, sizes[7] = 100;

	fat_put(fs, "/config.txt", "arm_64bit=1\n", 12, VFS_WRITE_CREATE);
	fat_put(fs, "/README.TXT", "upper\n", 6, VFS_WRITE_CREATE);
	fat_put(fs, "/Mixed.Txt", "mixed\n", 6, VFS_WRITE_CREATE);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/sub", 0755, 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/sub/deeper dir", 0755, 0, 0, &err), 0);
	for (size_t i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/deeper dir/Long Name %zu.txt", i);
		fat_put(fs, path, data, sizes[i], VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE);
	}
	fat_put(fs, "/grüße €.txt", "unicode", 7, VFS_WRITE_CREATE);
	snprintf(path, sizeof(path), "/sub/%s", long255());
	fat_put(fs, path, "x", 1, VFS_WRITE_CREATE);
	/* append and overwrite */
	fat_put(fs, "/config.txt", "dtparam=audio=on\n", 17, VFS_WRITE_APPEND);
	fat_put(fs, "/README.TXT", "UP", 2, 0);
	/* many files: directory growth past one cluster */
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "/sub/file with a long name number %02d.dat", i);
		fat_put(fs, path, data + i, (size_t)i * 37, VFS_WRITE_CREATE);
	}
	expect_file(f, fs, "/CONFIG.TXT", (const uint8_t *)"arm_64bit=1\ndtparam=audio=on\n", 29);
	fat_close(fs);

	fsck_clean(f->img);
	tree = mtools_tree(f->img);
	assert_true(line_present(tree, "::/config.txt"));
	assert_true(line_present(tree, "::/README.TXT"));
	assert_true(line_present(tree, "::/Mixed.Txt"));
	assert_true(line_present(tree, "::/sub/deeper dir/"));
	assert_true(line_present(tree, "::/grüße €.txt"));
	snprintf(path, sizeof(path), "::/sub/%s", long255());
	assert_true(line_present(tree, path));
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "::/sub/file with a long name number %02d.dat", i);
		assert_true(line_present(tree, path));
	}
	free(tree);
	expect_mtools_file(f, "/config.txt", (const uint8_t *)"arm_64bit=1\ndtparam=audio=on\n",
			   29);
	expect_mtools_file(f, "/README.TXT", (const uint8_t *)"UPper\n", 6);
	for (size_t i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/deeper dir/Long Name %zu.txt", i);
		expect_mtools_file(f, path, data, sizes[i]);
	}
	for (int i = 0; i < 40; i += 7) {
		snprintf(path, sizeof(path), "/sub/file with a long name number %02d.dat", i);
		expect_mtools_file(f, path, data + i, (size_t)i * 37);
	}

	/* truncate, delete, rmdir; then witnesses again */
	fs = fat_open(f->img, true);
	assert_int_equal(vfs_fat_ops.truncate(fs, "/sub/deeper dir/Long Name 6.txt", cs + 1, &err),
			 0);
	assert_int_equal(vfs_fat_ops.truncate(fs, "/config.txt", 40, &err), 0);
	assert_int_equal(vfs_fat_ops.unlink(fs, "/sub/deeper dir/long name 3.TXT", &err), 0);
	assert_int_equal(vfs_fat_ops.rmdir(fs, "/sub/deeper dir", &err), -ENOTEMPTY);
	assert_non_null(strstr(err.message, "not empty"));
	for (size_t i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/deeper dir/Long Name %zu.txt", i);
		if (i != 3)
			assert_int_equal(vfs_fat_ops.unlink(fs, path, &err), 0);
	}
	assert_int_equal(vfs_fat_ops.rmdir(fs, "/sub/deeper dir", &err), 0);
	fat_close(fs);
	fsck_clean(f->img);
	{
		uint8_t want[40] = "arm_64bit=1\ndtparam=audio=on\n";
		expect_mtools_file(f, "/config.txt", want, 40);
	}
	tree = mtools_tree(f->img);
	assert_false(line_present(tree, "::/sub/deeper dir/"));
	free(tree);
	free(data);
}

static void test_roundtrip_fat12(void **state)
{
	roundtrip(*state, 12, 2048, "-s 1 -S 512");
}

static void test_roundtrip_fat16(void **state)
{
	roundtrip(*state, 16, 32768, "");
}

static void test_roundtrip_fat32(void **state)
{
	roundtrip(*state, 32, 65536, "-s 1 -S 512");
}

/* 4 KiB sectors, and one FAT copy instead of two. */
static void test_roundtrip_fat16_4k_sectors(void **state)
{
	roundtrip(*state, 16, 65536, "-S 4096 -s 1");
}

static void test_roundtrip_fat12_one_fat(void **state)
{
	roundtrip(*state, 12, 4096, "-f 1");
}

static void test_roundtrip_fat32_4k(void **state)
{
	roundtrip(*state, 32, 524288, "-s 8");
}

/* ---- mtools writes, herd reads ---- */

struct listing {
	char names[64][300];
	int count;
};

static int collect(void *userdata, const struct vfs_dirent *e)
{
	struct listing *l = userdata;

	if (l->count < 64)
		snprintf(l->names[l->count++], sizeof(l->names[0]), "%s%s", e->name,
			 e->st.type == VFS_DIR ? "/" : "");
	return 0;
}

static bool listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->count; i++)
		if (strcmp(l->names[i], name) == 0)
			return true;
	return false;
}

static void test_mtools_populated(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct listing l = {0};
	char src[256], cmd[2048], *out = NULL;
	uint8_t data[5000];
	int fd;
	void *fs;

	fill_pattern(data, sizeof(data), 7);
	make_image(f->img, 16, 16384, "-s 1");
	snprintf(src, sizeof(src), "%s/src.bin", f->dir);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "set -e; I='%s'; S='%s'; mmd -i $I ::/boot ::/boot/overlays;"
		 "mcopy -i $I $S ::/boot/cmdline.txt; mcopy -i $I $S ::/KERNEL8.IMG;"
		 "mcopy -i $I $S '::/boot/overlays/A long file name.dtbo';"
		 "mcopy -i $I $S '::/boot/Ünïcödé naïve.txt'; mcopy -i $I $S ::/Mixed.Case",
		 f->img, src);
	char *argv[] = {"sh", "-c", cmd, NULL};
	if (tool_run(argv, &out) != 0)
		fail_msg("mtools populate: %s", out);
	free(out);

	fs = fat_open(f->img, false);
	assert_int_equal(vfs_fat_ops.readdir(fs, "/", collect, &l, &err), 0);
	assert_true(listed(&l, "boot/"));
	assert_true(listed(&l, "KERNEL8.IMG"));
	assert_true(listed(&l, "Mixed.Case"));
	memset(&l, 0, sizeof(l));
	assert_int_equal(vfs_fat_ops.readdir(fs, "/boot", collect, &l, &err), 0);
	assert_true(listed(&l, "cmdline.txt"));
	assert_true(listed(&l, "overlays/"));
	assert_true(listed(&l, "Ünïcödé naïve.txt"));
	assert_int_equal(l.count, 3);
	expect_file(f, fs, "/boot/cmdline.txt", data, sizeof(data));
	expect_file(f, fs, "/kernel8.img", data, sizeof(data));
	expect_file(f, fs, "/boot/overlays/A long file name.dtbo", data, sizeof(data));
	expect_file(f, fs, "/BOOT/OVERLAYS/ALONGF~1.DTB", data, sizeof(data)); /* short alias */
	expect_file(f, fs, "/boot/Ünïcödé naïve.txt", data, sizeof(data));
	/* read at an offset across a cluster boundary */
	{
		uint8_t part[600];
		size_t got;
		assert_int_equal(
		    vfs_fat_ops.read(fs, "/KERNEL8.IMG", 4700, part, sizeof(part), &got, &err), 0);
		assert_int_equal(got, 300);
		assert_memory_equal(part, data + 4700, 300);
	}
	fat_close(fs);
}

/* Non-BMP characters are stored as surrogate pairs; mtools 4.0 truncates
 * them, so the witness here is the raw LFN slot plus our own read-back. */
static void test_non_bmp(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct listing l = {0};
	size_t len;
	uint8_t *img;
	const uint8_t want[] = {0x34, 0xd8, 0x1e, 0xdd}; /* U+1D11E = D834 DD1E (LE) */
	void *fs;

	make_image(f->img, 12, 1024, "");
	fs = fat_open(f->img, true);
	fat_put(fs, "/a\xf0\x9d\x84\x9e.txt", "clef", 4, VFS_WRITE_CREATE);
	fat_close(fs);
	fsck_clean(f->img);
	img = read_image(f->img, &len);
	assert_non_null(memmem(img, len, want, sizeof(want)));
	free(img);
	fs = fat_open(f->img, false);
	assert_int_equal(vfs_fat_ops.readdir(fs, "/", collect, &l, &err), 0);
	assert_true(listed(&l, "a\xf0\x9d\x84\x9e.txt"));
	expect_file(f, fs, "/A\xf0\x9d\x84\x9e.TXT", (const uint8_t *)"clef", 4);
	fat_close(fs);
}

/* ---- rename, mkdir, metadata ops ---- */

static void test_rename_and_metadata(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct vfs_stat st;
	char *tree, *out = NULL;
	void *fs;

	make_image(f->img, 32, 65536, "-s 1");
	fs = fat_open(f->img, true);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/a", 0755, 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/a/b", 0755, 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/c", 0755, 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/a", 0755, 0, 0, &err), -EEXIST);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/x/y", 0755, 0, 0, &err), -ENOENT);
	fat_put(fs, "/a/b/file.txt", "one", 3, VFS_WRITE_CREATE);
	fat_put(fs, "/c/target.txt", "two", 3, VFS_WRITE_CREATE);
	assert_int_equal(vfs_fat_ops.write(fs, "/c/target.txt", "x", 1,
					   VFS_WRITE_CREATE | VFS_WRITE_EXCL, 0644, 0, 0, &err),
			 -EEXIST);
	assert_int_equal(vfs_fat_ops.write(fs, "/c/nothere", "x", 1, 0, 0644, 0, 0, &err), -ENOENT);
	/* file replaces file, across directories */
	assert_int_equal(vfs_fat_ops.rename(fs, "/a/b/file.txt", "/c/target.txt", &err), 0);
	expect_file(f, fs, "/c/target.txt", (const uint8_t *)"one", 3);
	assert_int_equal(vfs_fat_ops.lstat(fs, "/a/b/file.txt", &st, &err), -ENOENT);
	/* directory moves to another parent: '..' must follow (fsck checks) */
	assert_int_equal(vfs_fat_ops.rename(fs, "/a/b", "/c/b moved", &err), 0);
	assert_int_equal(vfs_fat_ops.rename(fs, "/c", "/c/b moved/inside", &err), -EINVAL);
	assert_int_equal(vfs_fat_ops.rename(fs, "/c/target.txt", "/a", &err), -EISDIR);
	/* case-only rename */
	assert_int_equal(vfs_fat_ops.rename(fs, "/c/target.txt", "/c/TARGET.txt", &err), 0);
	/* chmod -> read-only attribute; chown only 0:0 */
	assert_int_equal(vfs_fat_ops.chmod(fs, "/c/TARGET.txt", 0444, &err), 0);
	assert_int_equal(vfs_fat_ops.lstat(fs, "/c/target.txt", &st, &err), 0);
	assert_int_equal(st.mode, 0444);
	assert_int_equal(vfs_fat_ops.chown(fs, "/c/target.txt", 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.chown(fs, "/c/target.txt", 1000, 1000, &err), -EPERM);
	assert_non_null(strstr(err.message, "0:0"));
	assert_int_equal(vfs_fat_ops.symlink(fs, "x", "/l", 0, 0, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.message, "FAT has no symbolic links"));
	assert_int_equal(vfs_fat_ops.link(fs, "/c/target.txt", "/l", &err), -EOPNOTSUPP);
	/* utimes: 2021-03-04 05:06:08 UTC */
	assert_int_equal(vfs_fat_ops.utimes(fs, "/c/target.txt", 1614834368, &err), 0);
	assert_int_equal(vfs_fat_ops.lstat(fs, "/c/target.txt", &st, &err), 0);
	assert_int_equal(st.mtime, 1614834368);
	assert_int_equal(vfs_fat_ops.rmdir(fs, "/", &err), -EBUSY);
	/* "/" has no entry of its own to write or create. */
	assert_int_equal(vfs_fat_ops.write(fs, "/", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
			 -EISDIR);
	assert_string_equal(err.message, "FAT: / is a directory");
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/", 0755, 0, 0, &err), -EEXIST);
	assert_string_equal(err.message, "FAT: / already exists");
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/c", 0755, 0, 0, &err), -EEXIST);
	assert_string_equal(err.message, "FAT: /c already exists");
	assert_int_equal(vfs_fat_ops.write(fs, "/c/none", "x", 1, 0, 0644, 0, 0, &err), -ENOENT);
	assert_string_equal(err.message, "FAT: /c/none: no such file or directory");
	assert_int_equal(vfs_fat_ops.unlink(fs, "/a", &err), -EISDIR);
	assert_int_equal(vfs_fat_ops.rmdir(fs, "/c/TARGET.txt", &err), -ENOTDIR);
	/* empty directory replaced by a directory */
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/empty", 0755, 0, 0, &err), 0);
	assert_int_equal(vfs_fat_ops.rename(fs, "/a", "/empty", &err), 0);
	fat_close(fs);
	/* A read-only mount refuses every change before looking at the path,
	 * so EROFS wins over EISDIR/EEXIST for "/" and over ENOENT. */
	fs = fat_open(f->img, false);
	assert_int_equal(vfs_fat_ops.write(fs, "/", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
			 -EROFS);
	assert_string_equal(err.message, "FAT: mounted read-only");
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/", 0755, 0, 0, &err), -EROFS);
	assert_int_equal(vfs_fat_ops.truncate(fs, "/nothere", 0, &err), -EROFS);
	assert_int_equal(vfs_fat_ops.unlink(fs, "/nothere", &err), -EROFS);
	assert_int_equal(vfs_fat_ops.rename(fs, "/nothere", "/x", &err), -EROFS);
	assert_int_equal(vfs_fat_ops.chmod(fs, "/nothere", 0644, &err), -EROFS);
	fat_close(fs);
	fsck_clean(f->img);
	tree = mtools_tree(f->img);
	assert_true(line_present(tree, "::/c/b moved/"));
	assert_true(line_present(tree, "::/c/TARGET.txt"));
	assert_true(line_present(tree, "::/empty/"));
	assert_false(line_present(tree, "::/a/"));
	free(tree);
	expect_mtools_file(f, "/c/TARGET.txt", (const uint8_t *)"one", 3);
	{
		char *argv[] = {"mdir", "-i", f->img, "::/c/TARGET.txt", NULL};
		assert_int_equal(tool_run(argv, &out), 0);
		assert_non_null(strstr(out, "2021-03-04"));
		assert_non_null(strstr(out, " 5:06"));
		free(out);
	}
	{
		char *argv[] = {"mattrib", "-i", f->img, "::/c/TARGET.txt", NULL};
		assert_int_equal(tool_run(argv, &out), 0);
		assert_non_null(strchr(out, 'R'));
		free(out);
	}
}

/* ---- short names ---- */

static void test_short_names(void **state)
{
	struct fixture *f = *state;
	char *out = NULL;
	void *fs;

	make_image(f->img, 12, 1024, "");
	fs = fat_open(f->img, true);
	fat_put(fs, "/config.txt", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/Long Name 1.txt", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/Long Name 2.txt", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/a+b=c.tar.gz", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/.hidden", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/UPPER", "a", 1, VFS_WRITE_CREATE);
	{
		struct herd_error err = {0};
		char name[300];
		memset(name, 'n', 257);
		name[0] = '/';
		name[257] = '\0'; /* 256 characters */
		assert_int_equal(
		    vfs_fat_ops.write(fs, name, "a", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
		    -ENAMETOOLONG);
		assert_int_equal(
		    vfs_fat_ops.write(fs, "/a:b", "a", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
		    -EINVAL);
		assert_int_equal(
		    vfs_fat_ops.write(fs, "/trailing.", "a", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
		    -EINVAL);
		assert_int_equal(vfs_fat_ops.mkdir(fs, "/bad\xff", 0755, 0, 0, &err), -EINVAL);
		assert_non_null(strstr(err.message, "UTF-8"));
	}
	fat_close(fs);
	fsck_clean(f->img);
	char *argv[] = {"mdir", "-i", f->img, "::/", NULL};
	assert_int_equal(tool_run(argv, &out), 0);
	assert_non_null(strstr(out, "config   txt"));
	assert_non_null(strstr(out, "LONGNA~1 TXT"));
	assert_non_null(strstr(out, "LONGNA~2 TXT"));
	assert_non_null(strstr(out, "A_B_CT~1 GZ"));
	assert_non_null(strstr(out, "HIDDEN~1"));
	assert_non_null(strstr(out, "UPPER   "));
	free(out);
}

/* ---- bad input ---- */

static void expect_mount_fails(struct fixture *f, const char *fragment)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	void *fs = NULL;
	int r;

	assert_int_equal(blockdev_open_file(f->img, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	assert_int_equal(vfs_fat_ops.probe(bd), 0);
	r = vfs_fat_ops.mount(bd, false, &fs, &err);
	if (r != -EINVAL || !strstr(err.message, fragment))
		fail_msg("mount gave %d '%s', want -EINVAL '%s'", r, err.message, fragment);
	blockdev_unref(bd);
}

static void test_bad_bpb(void **state)
{
	struct fixture *f = *state;
	struct {
		uint64_t off;
		uint8_t bytes[4];
		size_t len;
		const char *fragment;
	} cases[] = {
	    {11, {0x00, 0x03}, 2, "bytes per sector"}, /* 768 */
	    {11, {0x00, 0x20}, 2, "bytes per sector"}, /* 8192 */
	    {13, {3}, 1, "sectors per cluster"},
	    {13, {0}, 1, "sectors per cluster"},
	    {14, {0, 0}, 2, "reserved"},
	    {16, {0}, 1, "FAT copies"},
	    {16, {9}, 1, "FAT copies"},
	    {22, {0, 0}, 2, "bad BPB"},
	    {22, {1, 0}, 2, "too small"},
	    {19, {0x10, 0}, 2, "fills the volume"},
	    {17, {0, 0}, 2, "without root directory"},
	    {0, {0}, 1, "jump"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_image(f->img, 16, 8192, "-s 1");
		patch_image(f->img, cases[i].off, cases[i].bytes, cases[i].len);
		expect_mount_fails(f, cases[i].fragment);
	}
	/* FAT32 root cluster outside the volume */
	make_image(f->img, 32, 65536, "-s 1");
	patch_image(f->img, 44, "\xff\xff\xff\x00", 4);
	expect_mount_fails(f, "root cluster");
	/* truncated image */
	make_image(f->img, 16, 8192, "-s 1");
	assert_int_equal(truncate(f->img, 4096 * 1024), 0);
	expect_mount_fails(f, "larger than the device");
	/* zeros are not FAT */
	make_image(f->img, 12, 1024, "");
	patch_image(f->img, 0, (uint8_t[64]){0}, 64);
	expect_mount_fails(f, "bad BPB");
}

/* Filesystem smaller than its device (slack at the end) mounts fine. */
static void test_smaller_than_device(void **state)
{
	struct fixture *f = *state;
	void *fs;

	make_image(f->img, 12, 1024, "");
	assert_int_equal(truncate(f->img, 2048 * 1024), 0);
	fs = fat_open(f->img, true);
	fat_put(fs, "/x", "y", 1, VFS_WRITE_CREATE);
	fat_close(fs);
}

/* Offset of a file's first cluster's FAT entry (FAT16, 2 bytes). */
static void test_chain_loop_and_crosslink(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct vfs_stat st;
	uint8_t buf[8192], small[4];
	size_t got;
	void *fs;

	fill_pattern(buf, sizeof(buf), 3);
	make_image(f->img, 16, 8192, "-s 1 -S 512");
	fs = fat_open(f->img, true);
	fat_put(fs, "/loop.bin", buf, 2048, VFS_WRITE_CREATE);	/* 4 clusters */
	fat_put(fs, "/other.bin", buf, 1024, VFS_WRITE_CREATE); /* 2 clusters */
	assert_int_equal(vfs_fat_ops.lstat(fs, "/loop.bin", &st, &err), 0);
	fat_close(fs);
	/* FAT16 at sector 1 (mkfs default reserved = 1? read from BPB) */
	{
		size_t len;
		uint8_t *img = read_image(f->img, &len);
		uint64_t fat = (uint64_t)(img[14] | img[15] << 8) * 512;
		uint32_t c = (uint32_t)st.ino;
		uint8_t link[2] = {(uint8_t)c, (uint8_t)(c >> 8)};
		free(img);
		/* third cluster points back at the first */
		patch_image(f->img, fat + (c + 2) * 2, link, 2);
		fs = fat_open(f->img, false);
		assert_int_equal(vfs_fat_ops.read(fs, "/loop.bin", 0, buf, sizeof(buf), &got, &err),
				 -EIO);
		assert_non_null(strstr(err.message, "loops at cluster"));
		fat_close(fs);
		/* cross-link: loop.bin's first cluster leads into other.bin */
		c = (uint32_t)st.ino;
		uint32_t other = c + 4;
		uint8_t to_other[2] = {(uint8_t)other, (uint8_t)(other >> 8)};
		patch_image(f->img, fat + c * 2, to_other, 2);
		fs = fat_open(f->img, false);
		assert_int_equal(vfs_fat_ops.read(fs, "/loop.bin", 0, buf, sizeof(buf), &got, &err),
				 -EIO);
		assert_non_null(strstr(err.message, "cross-linked"));
		/* other.bin itself still reads */
		assert_int_equal(vfs_fat_ops.read(fs, "/other.bin", 0, small, 4, &got, &err), 0);
		fat_close(fs);
		/* link outside the volume */
		uint8_t wild[2] = {0xf0, 0xff};
		patch_image(f->img, fat + c * 2, wild, 2);
		fs = fat_open(f->img, false);
		assert_int_equal(vfs_fat_ops.read(fs, "/loop.bin", 0, buf, sizeof(buf), &got, &err),
				 -EIO);
		assert_non_null(strstr(err.message, "outside the volume"));
		fat_close(fs);
	}
}

static void test_full_filesystem(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	size_t before_len, after_len, big = 900 * 1024;
	uint8_t *before, *after, *data = calloc(1, big);
	void *fs;
	int r;

	make_image(f->img, 12, 1024, "-s 1 -S 512");
	fs = fat_open(f->img, true);
	fat_put(fs, "/keep.txt", "keep", 4, VFS_WRITE_CREATE);
	fat_put(fs, "/big1", data, big / 2, VFS_WRITE_CREATE);
	fat_close(fs);
	before = read_image(f->img, &before_len);

	fs = fat_open(f->img, true);
	r = vfs_fat_ops.write(fs, "/big2", data, big, VFS_WRITE_CREATE, 0644, 0, 0, &err);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(err.message, "FAT: no free clusters"));
	r = vfs_fat_ops.write(fs, "/big1", data, big, VFS_WRITE_APPEND, 0644, 0, 0, &err);
	assert_int_equal(r, -ENOSPC);
	r = vfs_fat_ops.truncate(fs, "/keep.txt", big, &err);
	assert_int_equal(r, -ENOSPC);
	fat_close(fs);
	after = read_image(f->img, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	fsck_clean(f->img);
	free(before);
	free(after);
	free(data);
}

static void test_root_full(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	char name[32];
	int r = 0, i;
	void *fs;

	make_image(f->img, 12, 1024, "-r 16");
	fs = fat_open(f->img, true);
	for (i = 0; i < 100 && r == 0; i++) {
		snprintf(name, sizeof(name), "/F%d", i);
		r = vfs_fat_ops.write(fs, name, "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err);
	}
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(err.message, "root directory full"));
	assert_int_equal(i, 17);
	/* subdirectories still grow */
	fat_close(fs);
	fsck_clean(f->img);
}

/* Interleaved appends give fragmented chains; deleting a file leaves
 * holes that the next file fills.  mtools must read the same bytes. */
static void test_fragmented(void **state)
{
	struct fixture *f = *state;
	uint8_t a[4000], b[1500], c[5000];
	void *fs;

	fill_pattern(a, sizeof(a), 1);
	fill_pattern(b, sizeof(b), 2);
	fill_pattern(c, sizeof(c), 3);
	make_image(f->img, 16, 16384, "-s 1 -S 512");
	fs = fat_open(f->img, true);
	for (size_t off = 0; off < sizeof(a); off += 500) {
		fat_put(fs, "/a.bin", a + off, 500, VFS_WRITE_CREATE | VFS_WRITE_APPEND);
		fat_put(fs, "/b.bin", b + off % 1500, 100, VFS_WRITE_CREATE | VFS_WRITE_APPEND);
	}
	assert_int_equal(vfs_fat_ops.unlink(fs, "/b.bin", NULL), 0);
	/* FAT16 has no FSInfo hint: after a remount allocation starts at
	 * cluster 2 and c.bin lands in b.bin's holes. */
	fat_close(fs);
	fs = fat_open(f->img, true);
	fat_put(fs, "/c.bin", c, sizeof(c), VFS_WRITE_CREATE);
	expect_file(f, fs, "/a.bin", a, sizeof(a));
	expect_file(f, fs, "/c.bin", c, sizeof(c));
	fat_close(fs);
	fsck_clean(f->img);
	expect_mtools_file(f, "/a.bin", a, sizeof(a));
	expect_mtools_file(f, "/c.bin", c, sizeof(c));
}

/* Stale entries after the 0x00 end marker must stay hidden when new
 * entries are placed at the end. */
static void test_end_marker(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct listing l = {0};
	size_t len;
	uint8_t *img, zero = 0;
	void *fs;

	make_image(f->img, 12, 1024, "");
	fs = fat_open(f->img, true);
	fat_put(fs, "/A", "a", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/B", "b", 1, VFS_WRITE_CREATE);
	fat_put(fs, "/C", "c", 1, VFS_WRITE_CREATE);
	fat_close(fs);
	img = read_image(f->img, &len);
	uint8_t *b = memmem(img, len, "B          ", 11);
	assert_non_null(b);
	patch_image(f->img, (uint64_t)(b - img), &zero, 1); /* B becomes the end */
	free(img);
	fs = fat_open(f->img, true);
	fat_put(fs, "/N", "n", 1, VFS_WRITE_CREATE);
	assert_int_equal(vfs_fat_ops.readdir(fs, "/", collect, &l, &err), 0);
	assert_int_equal(l.count, 2);
	assert_true(listed(&l, "A") && listed(&l, "N"));
	fat_close(fs);
}

/* ---- used ranges ---- */

struct ranges {
	uint64_t total, last_end, first_len;
	int count;
	bool ordered;
};

static int range_cb(void *userdata, uint64_t off, uint64_t len)
{
	struct ranges *r = userdata;

	if (r->count == 0)
		r->first_len = len;
	if (r->count > 0 && off <= r->last_end)
		r->ordered = false; /* must be ascending and merged */
	r->last_end = off + len;
	r->total += len;
	r->count++;
	return 0;
}

static void test_used_ranges(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct ranges rg = {.ordered = true};
	struct vfs_info info;
	uint8_t data[3000] = {0};
	void *fs;

	make_image(f->img, 16, 16384, "-s 1 -S 512");
	fs = fat_open(f->img, true);
	fat_put(fs, "/a", data, sizeof(data), VFS_WRITE_CREATE);
	fat_put(fs, "/b", data, 10, VFS_WRITE_CREATE);
	assert_int_equal(vfs_fat_ops.unlink(fs, "/a", &err), 0);
	fat_put(fs, "/c", data, sizeof(data), VFS_WRITE_CREATE);
	assert_int_equal(vfs_fat_ops.used_ranges(fs, range_cb, &rg, &err), 0);
	assert_int_equal(vfs_fat_ops.info(fs, &info, &err), 0);
	assert_true(rg.ordered);
	assert_int_equal(rg.total, info.used);
	assert_true(rg.first_len >= 512 + 2 * 512); /* boot + FATs at least */
	fat_close(fs);
}

/* FSInfo with a broken signature is ignored; the free count written at
 * unmount is right either way (fsck.fat checks it). */
static void test_fsinfo(void **state)
{
	struct fixture *f = *state;
	void *fs;

	make_image(f->img, 32, 65536, "-s 1");
	fs = fat_open(f->img, true);
	fat_put(fs, "/a", "abc", 3, VFS_WRITE_CREATE);
	fat_close(fs);
	fsck_clean(f->img);
	patch_image(f->img, 512 + 488, "\xff\xff\xff\xff", 4); /* unknown free count */
	fs = fat_open(f->img, true);
	fat_put(fs, "/b", "abc", 3, VFS_WRITE_CREATE);
	fat_close(fs);
	fsck_clean(f->img);
	patch_image(f->img, 512 + 488, "\0\0\0\0", 4); /* claims full: only a hint */
	fs = fat_open(f->img, true);
	fat_put(fs, "/b2", "abc", 3, VFS_WRITE_CREATE);
	fat_close(fs);
	fsck_clean(f->img);
	patch_image(f->img, 512, "XXXX", 4); /* bad lead signature: ignored */
	fs = fat_open(f->img, true);
	fat_put(fs, "/c", "abc", 3, VFS_WRITE_CREATE);
	fat_close(fs);
}

/* ---- performance ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_small_put_speed(void **state)
{
	struct fixture *f = *state;
	double t0, t1;
	char data[700];
	void *fs;

	memset(data, 'x', sizeof(data));
	/* 256 MiB (mkfs.fat default 512-byte clusters: a 2 MiB FAT) and 4 GiB
	 * sparse (4 KiB clusters: 4 MiB FAT); only touched FAT chunks load. */
	for (int i = 0; i < 2; i++) {
		make_image(f->img, 32, i ? 4194304 : 262144, i ? "-s 8" : "");
		sync(); /* do not time the flush of mkfs.fat's own writes */
		t0 = now_ms();
		fs = fat_open(f->img, true);
		assert_int_equal(vfs_fat_ops.mkdir(fs, "/boot", 0755, 0, 0, NULL), 0);
		fat_put(fs, "/boot/cmdline.txt", data, sizeof(data), VFS_WRITE_CREATE);
		double t_ops = now_ms();
		fat_close(fs);
		t1 = now_ms();
		printf("# FAT32 %s: mount + mkdir + small put %.2f ms, unmount (FAT write-back + "
		       "fdatasync) %.2f ms\n",
		       i ? "4 GiB" : "256 MiB", t_ops - t0, t1 - t_ops);
		assert_true(t1 - t0 < 200);
		fsck_clean(f->img);
	}
	/* Throughput: one 64 MiB file (contiguous clusters, joined I/O). */
	{
		size_t big = 64u << 20, got;
		uint8_t *buf = malloc(big);
		fill_pattern(buf, big, 1);
		fs = fat_open(f->img, true);
		t0 = now_ms();
		fat_put(fs, "/big.bin", buf, big, VFS_WRITE_CREATE);
		t1 = now_ms();
		printf("# FAT32 4 GiB: write 64 MiB: %.1f ms\n", t1 - t0);
		memset(buf, 0, big);
		t0 = now_ms();
		assert_int_equal(vfs_fat_ops.read(fs, "/big.bin", 0, buf, big, &got, NULL), 0);
		t1 = now_ms();
		printf("# FAT32 4 GiB: read 64 MiB: %.1f ms\n", t1 - t0);
		fat_close(fs);
		free(buf);
		fsck_clean(f->img);
	}
}

/* Many long names with one prefix: "~N" tails must stay unique and cheap. */
static void test_many_collisions(void **state)
{
	struct fixture *f = *state;
	char path[64], *tree;
	double t0, t1;
	int lines = 0;
	void *fs;

	make_image(f->img, 32, 65536, "-s 1");
	fs = fat_open(f->img, true);
	assert_int_equal(vfs_fat_ops.mkdir(fs, "/many", 0755, 0, 0, NULL), 0);
	t0 = now_ms();
	for (int i = 0; i < 3000; i++) {
		snprintf(path, sizeof(path), "/many/Long Name %d.txt", i);
		fat_put(fs, path, path, strlen(path), VFS_WRITE_CREATE);
	}
	t1 = now_ms();
	printf("# 3000 colliding long names in one directory: %.0f ms\n", t1 - t0);
	fat_close(fs);
	fsck_clean(f->img);
	tree = mtools_tree(f->img);
	for (char *p = tree; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3001);
	assert_true(line_present(tree, "::/many/Long Name 2999.txt"));
	free(tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat12, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat16, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat32, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat32_4k, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat16_4k_sectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_fat12_one_fat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mtools_populated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_non_bmp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_and_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_bpb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smaller_than_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_loop_and_crosslink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_filesystem, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fragmented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_marker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_used_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fsinfo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_small_put_speed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_collisions, setup, teardown),
	};

	tool_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
