/*
 * test_ext4.c — ext2/3/4 through vfs_ext4_ops, checked against e2fsprogs.
 *
 * Images are made at test time with mke2fs (Raspberry Pi OS root feature
 * set, plain ext2 with 128-byte inodes, ext3, inline_data), populated with
 * mke2fs -d and debugfs.  herd must read exactly what those tools wrote;
 * after herd writes, e2fsck -fn must be clean and debugfs must show the
 * bytes, modes, owners and link targets herd wrote.  Also: symlinks in
 * the middle of paths, an indexed directory grown by herd, edits through
 * a copy-on-write overlay (base unchanged), refusal to write damaged or
 * unrecovered filesystems, a full filesystem, used ranges, and the CPU
 * cost of mounting a 2.5 GiB image and writing one file.
 */
#include <dirent.h>
#include <time.h>

#include "ext4_testlib.h"
#include "fs/ext4_private.h"

struct fixture {
	char dir[256];
	char img[300];
	char src[300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	t_mkdtemp(f->dir, sizeof(f->dir), "ext4");
	snprintf(f->img, sizeof(f->img), "%s/img", f->dir);
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	t_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* A source tree for mke2fs -d: sizes around block boundaries, a big file,
 * fast and slow symlinks, a hard link, odd modes. */
static void make_source_tree(const char *src)
{
	static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 1024 * 1024 + 17};
	char path[512], slow[300];
	uint8_t *buf = malloc(sizes[5]);

	assert_non_null(buf);
	assert_int_equal(t_sh("mkdir -p '%s/etc/sub' '%s/empty dir' '%s/usr/bin'", src, src, src),
			 0);
	for (size_t i = 0; i < 6; i++) {
		t_fill(buf, sizes[i], i + 1);
		snprintf(path, sizeof(path), "%s/etc/f%zu", src, i);
		t_write_file(path, buf, sizes[i]);
	}
	snprintf(path, sizeof(path), "%s/usr/bin/tool", src);
	t_write_file(path, "#!/bin/sh\necho hi\n", 18);
	assert_int_equal(t_sh("chmod 4755 '%s/usr/bin/tool' && chmod 0600 '%s/etc/f1' && "
			      "chmod 1777 '%s/empty dir'",
			      src, src, src),
			 0);
	assert_int_equal(t_sh("ln '%s/etc/f2' '%s/etc/hard'", src, src), 0);
	assert_int_equal(t_sh("ln -s f2 '%s/etc/fast' && ln -s /etc '%s/etcabs' && "
			      "ln -s ../etc/sub '%s/usr/rel' && ln -s loop2 '%s/loop1' && "
			      "ln -s loop1 '%s/loop2'",
			      src, src, src, src, src),
			 0);
	memset(slow, 'x', 200);
	memcpy(slow, "/etc/", 5);
	slow[200] = '\0';
	assert_int_equal(t_sh("ln -s '%s' '%s/slow'", slow, src), 0);
	snprintf(path, sizeof(path), "%s/etc/sub/deep", src);
	t_write_file(path, "deep\n", 5);
	free(buf);
}

static void expect_file(struct tfs *t, const char *path, const char *host)
{
	size_t len, hlen;
	uint8_t *a = t_read_all(t, path, &len);
	char *b = t_capture(&hlen, "cat '%s'", host);

	assert_int_equal(len, hlen);
	assert_memory_equal(a, b, len);
	free(a);
	free(b);
}

static void test_read_populated(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct vfs_stat st;
	char link[4096], host[512];
	struct tfs t;

	make_source_tree(f->src);
	/* chains of relative symlinks: 39 hops resolve, 41 do not (Linux's
	 * limit is 40; ext2fs_namei would stop at 8) */
	assert_int_equal(t_sh("mkdir '%s/chain' && cd '%s/chain' && ln -s /etc ok38 && "
			      "for i in $(seq 0 37); do ln -s ok$((i+1)) ok$i; done && "
			      "ln -s /etc bad40 && "
			      "for i in $(seq 0 39); do ln -s bad$((i+1)) bad$i; done",
			      f->src, f->src),
			 0);
	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	/* Owners only debugfs can set without root (high 16 bits too). */
	assert_int_equal(t_sh("debugfs -w -R 'sif /etc/f3 uid 100000' '%s' >/dev/null 2>&1 && "
			      "debugfs -w -R 'sif /etc/f3 gid 70001' '%s' >/dev/null 2>&1",
			      f->img, f->img),
			 0);
	t_mount_ok(f->img, false, &t);

	for (int i = 0; i < 6; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/etc/f%d", i);
		snprintf(host, sizeof(host), "%s/etc/f%d", f->src, i);
		expect_file(&t, p, host);
	}
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/f3", &st, &_e));
	assert_int_equal(st.uid, 100000);
	assert_int_equal(st.gid, 70001);
	assert_int_equal(st.type, VFS_FILE);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/usr/bin/tool", &st, &_e));
	assert_int_equal(st.mode, 04755);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/f1", &st, &_e));
	assert_int_equal(st.mode, 0600);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/empty dir", &st, &_e));
	assert_int_equal(st.mode, 01777);
	assert_int_equal(st.type, VFS_DIR);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/hard", &st, &_e));
	assert_int_equal(st.nlink, 2);

	/* Symlinks: lstat does not follow; fast and slow targets read back. */
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/fast", &st, &_e));
	assert_int_equal(st.type, VFS_SYMLINK);
	assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/etc/fast", link, sizeof(link), &err), 2);
	assert_string_equal(link, "f2");
	assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/slow", link, sizeof(link), &err), 200);
	assert_int_equal(strncmp(link, "/etc/xxx", 8), 0);
	assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/slow", link, 10, &err), -ERANGE);
	assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/etc/f2", link, sizeof(link), &err), -EINVAL);

	/* Symlinks in the middle of a path resolve inside the filesystem:
	 * absolute targets from its root, relative ones from their dir. */
	snprintf(host, sizeof(host), "%s/etc/sub/deep", f->src);
	expect_file(&t, "/etcabs/sub/deep", host);
	expect_file(&t, "/usr/rel/deep", host);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etcabs/fast", &st, &_e));
	assert_int_equal(st.type, VFS_SYMLINK);
	expect_file(&t, "/chain/ok0/sub/deep", host); /* 39 hops */
	assert_int_equal(vfs_ext4_ops.lstat(t.fs, "/chain/bad0/sub/deep", &st, &err), -ELOOP);
	assert_int_equal(vfs_ext4_ops.lstat(t.fs, "/loop1/x", &st, &err), -ELOOP);
	assert_non_null(strstr(err.message, "too many levels"));
	assert_int_equal(vfs_ext4_ops.lstat(t.fs, "/nope/x", &st, &err), -ENOENT);
	assert_int_equal(vfs_ext4_ops.lstat(t.fs, "/etc/f2/x", &st, &err), -ENOTDIR);
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/x", "a", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
			 -EROFS);
	t_umount(&t);
}

/* The io_manager on its own: byte counts (negative count), block size,
 * bounds, names, read-only blockdevs, stats, reference counting. */
static void test_herd_io_manager(void **state)
{
	io_manager mgr = (io_manager)&ext4_io_manager;
	struct blockdev *bd = NULL, *ro = NULL;
	uint8_t data[8192], buf[8192];
	char name[EXT4_IO_NAME_MAX];
	io_channel ch = NULL;
	io_stats stats = NULL;
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(blockdev_new_memory(data, sizeof(data), &bd, NULL), 0);
	ext4_io_channel_name(bd, name, sizeof(name));
	assert_int_equal(mgr->open("herd-blockdev:zz", IO_FLAG_RW, &ch), EXT2_ET_BAD_DEVICE_NAME);
	assert_int_equal(mgr->open("/dev/sda", 0, &ch), EXT2_ET_BAD_DEVICE_NAME);
	assert_int_equal(mgr->open(name, IO_FLAG_RW, &ch), 0);
	blockdev_unref(bd); /* the channel holds its own reference */
	assert_int_equal(ch->block_size, 1024);
	assert_int_equal(mgr->read_blk64(ch, 2, 1, buf), 0);
	assert_memory_equal(buf, data + 2048, 1024);
	assert_int_equal(mgr->read_blk64(ch, 3, -100, buf), 0); /* 100 bytes */
	assert_memory_equal(buf, data + 3072, 100);
	assert_int_equal(mgr->set_blksize(ch, 4096), 0);
	assert_int_equal(mgr->read_blk(ch, 1, 1, buf), 0);
	assert_memory_equal(buf, data + 4096, 4096);
	assert_int_equal(mgr->read_blk64(ch, 2, 1, buf), EXT2_ET_SHORT_READ);
	assert_non_null(strstr(ext4_io_last_error(ch), "past"));
	ext4_io_clear_error(ch);
	assert_string_equal(ext4_io_last_error(ch), "");
	memset(buf, 0xab, 4096);
	assert_int_equal(mgr->write_blk64(ch, 0, -10, buf), 0);
	assert_int_equal(mgr->write_byte(ch, 5000, 3, buf), 0);
	assert_int_equal(mgr->write_blk64(ch, 2, 1, buf), EXT2_ET_SHORT_WRITE);
	assert_int_equal(mgr->read_blk64(ch, 0, 2, buf), 0);
	assert_int_equal(buf[9], 0xab);
	assert_int_equal(buf[10], data[10]);
	assert_int_equal(buf[5000], 0xab);
	assert_int_equal(buf[5003], data[5003]);
	assert_int_equal(mgr->get_stats(ch, &stats), 0);
	assert_int_equal(stats->bytes_written, 13);
	assert_int_equal(stats->bytes_read, 1024 + 100 + 4096 + 8192);
	assert_int_equal(mgr->flush(ch), 0);
	assert_int_equal(mgr->set_option(ch, "offset", "0"), EXT2_ET_INVALID_ARGUMENT);
	assert_int_equal(mgr->close(ch), 0);

	/* a read-only blockdev cannot be opened for writing */
	t_write_file(f->img, data, sizeof(data));
	assert_int_equal(blockdev_open_file(f->img, BLOCKDEV_READ_ONLY, &ro, NULL), 0);
	ext4_io_channel_name(ro, name, sizeof(name));
	assert_int_equal(mgr->open(name, IO_FLAG_RW, &ch), EROFS);
	assert_int_equal(mgr->open(name, 0, &ch), 0);
	assert_int_equal(mgr->close(ch), 0);
	blockdev_unref(ro);

	/* error codes and texts */
	assert_int_equal(ext4_errno(EXT2_ET_BLOCK_ALLOC_FAIL), -ENOSPC);
	assert_int_equal(ext4_errno(EXT2_ET_BAD_MAGIC), -EUCLEAN);
	assert_int_equal(ext4_errno(EIO), -EIO);
	assert_string_equal(ext4_strerror(EXT2_ET_BAD_MAGIC), "Bad magic number in super-block");
	assert_string_equal(ext4_strerror(ENOSPC), strerror(ENOSPC));
}

struct names {
	char buf[4096];
	size_t len;
	int count;
};

static int collect_names(void *userdata, const struct vfs_dirent *d)
{
	struct names *n = userdata;

	int w = snprintf(n->buf + n->len, sizeof(n->buf) - n->len, "%s%s,", d->name,
			 d->st.type == VFS_DIR ? "/" : "");

	if (w > 0 && (size_t)w < sizeof(n->buf) - n->len)
		n->len += (size_t)w;
	n->count++;
	return 0;
}

static void test_readdir(void **state)
{
	struct fixture *f = *state;
	struct names n = {0};
	struct tfs t;

	make_source_tree(f->src);
	t_mkfs(f->img, 64, "-t ext4", f->src);
	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.readdir(t.fs, "/etc", collect_names, &n, &_e));
	assert_int_equal(n.count, 9); /* f0-f5, sub, hard, fast (no . ..) */
	assert_non_null(strstr(n.buf, "sub/,"));
	assert_non_null(strstr(n.buf, "f5,"));
	assert_null(strstr(n.buf, ".,"));
	/* readdir follows a final symlink, like opendir */
	memset(&n, 0, sizeof(n));
	T_OK(vfs_ext4_ops.readdir(t.fs, "/etcabs", collect_names, &n, &_e));
	assert_int_equal(n.count, 9);
	t_umount(&t);
}

/* A real tree from the host (/usr/share/zoneinfo: thousands of files,
 * symlinks, nested directories) through mke2fs -d must read back exactly:
 * every type, mode, size, content and link target, every directory's
 * entry count. */
static void compare_tree(struct tfs *t, const char *host, const char *inside, int *files)
{
	DIR *d = opendir(host);
	struct dirent *de;
	struct names n = {0};
	int count = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char hp[4096], ip[4096];
		struct vfs_stat st;
		struct stat hs;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		count++;
		snprintf(hp, sizeof(hp), "%s/%s", host, de->d_name);
		snprintf(ip, sizeof(ip), "%s/%s", strcmp(inside, "/") ? inside : "", de->d_name);
		assert_int_equal(lstat(hp, &hs), 0);
		T_OK(vfs_ext4_ops.lstat(t->fs, ip, &st, &_e));
		assert_int_equal(st.mode, hs.st_mode & 07777);
		if (S_ISDIR(hs.st_mode)) {
			assert_int_equal(st.type, VFS_DIR);
			compare_tree(t, hp, ip, files);
		} else if (S_ISLNK(hs.st_mode)) {
			char a[4096], b[4096];
			ssize_t bl = readlink(hp, b, sizeof(b) - 1);

			assert_true(bl > 0);
			b[bl] = '\0';
			assert_int_equal(st.type, VFS_SYMLINK);
			assert_int_equal(vfs_ext4_ops.readlink(t->fs, ip, a, sizeof(a), NULL), bl);
			assert_string_equal(a, b);
		} else if (S_ISREG(hs.st_mode)) {
			size_t len;
			uint8_t *mine;
			char *theirs;
			int fd = open(hp, O_RDONLY | O_CLOEXEC);

			assert_true(fd >= 0);
			assert_int_equal(st.type, VFS_FILE);
			assert_int_equal(st.size, (uint64_t)hs.st_size);
			theirs = malloc((size_t)hs.st_size + 1);
			assert_non_null(theirs);
			assert_int_equal(read(fd, theirs, (size_t)hs.st_size), hs.st_size);
			close(fd);
			mine = t_read_all(t, ip, &len);
			assert_memory_equal(mine, theirs, len);
			free(mine);
			free(theirs);
			(*files)++;
		}
	}
	closedir(d);
	T_OK(vfs_ext4_ops.readdir(t->fs, inside, collect_names, &n, &_e));
	assert_int_equal(n.count, count + (strcmp(inside, "/") == 0)); /* + lost+found */
}

static void test_read_host_tree(void **state)
{
	struct fixture *f = *state;
	const char *host = "/usr/share/zoneinfo";
	struct tfs t;
	int files = 0;

	if (access(host, R_OK) != 0)
		skip();
	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, host);
	t_mount_ok(f->img, false, &t);
	compare_tree(&t, host, "/", &files);
	t_umount(&t);
	fprintf(stderr, "compared %d files of %s\n", files, host);
	assert_true(files > 100);
}

/* debugfs witnesses: file bytes, mode/uid/gid, link targets. */
static char *debugfs(const char *img, const char *cmd)
{
	return t_capture(NULL, "debugfs -R '%s' '%s' 2>/dev/null", cmd, img);
}

static void expect_debugfs_cat(const char *img, const char *path, const void *data, size_t len)
{
	char cmd[600];
	size_t got;
	char *out;

	snprintf(cmd, sizeof(cmd), "debugfs -R 'cat \"%s\"' '%s' 2>/dev/null", path, img);
	out = t_capture(&got, "%s", cmd);
	assert_int_equal(got, len);
	assert_memory_equal(out, data, len);
	free(out);
}

static void expect_debugfs_stat(const char *img, const char *path, const char *needle)
{
	char cmd[600];
	char *out;

	snprintf(cmd, sizeof(cmd), "stat \"%s\"", path);
	out = debugfs(img, cmd);
	if (!strstr(out, needle))
		fprintf(stderr, "debugfs stat %s lacks \"%s\":\n%s\n", path, needle, out);
	assert_non_null(strstr(out, needle));
	free(out);
}

/* Write every kind of change on a freshly made image of `opts`, then let
 * e2fsck and debugfs judge. */
static void write_and_check(struct fixture *f, const char *opts)
{
	static const size_t sizes[] = {0, 1, 1023, 1024, 1025, 4095, 4096, 4097, 5 << 20};
	uint8_t *big = malloc(5 << 20);
	struct herd_error err = {0};
	char path[300], slow[301];
	struct vfs_stat st;
	struct tfs t;

	assert_non_null(big);
	t_mkfs(f->img, 64, opts, NULL);
	t_mount_ok(f->img, true, &t);
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/etc", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/etc/ssh", 0700, 1000, 1000, &_e));
	assert_int_equal(vfs_ext4_ops.mkdir(t.fs, "/etc", 0755, 0, 0, &err), -EEXIST);
	assert_int_equal(vfs_ext4_ops.mkdir(t.fs, "/no/such", 0755, 0, 0, &err), -ENOENT);
	for (size_t i = 0; i < 9; i++) {
		snprintf(path, sizeof(path), "/etc/size%zu", sizes[i]);
		t_fill(big, sizes[i], i + 7);
		T_OK(vfs_ext4_ops.write(t.fs, path, big, sizes[i],
					VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0640, 1000 + i,
					2000 + i, &_e));
	}
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/hostname", "raspberrypi\n", 12,
				VFS_WRITE_CREATE | VFS_WRITE_EXCL, 0644, 0, 0, &_e));
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/etc/hostname", "x", 1,
					    VFS_WRITE_CREATE | VFS_WRITE_EXCL, 0644, 0, 0, &err),
			 -EEXIST);
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/hostname", "red001\n", 7,
				VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/hostname", "# end\n", 6, VFS_WRITE_APPEND, 0, 0, 0,
				&_e));
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/hostname", "R", 1, 0, 0, 0, 0, &_e));
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/etc/missing", "x", 1, 0, 0644, 0, 0, &err),
			 -ENOENT);
	assert_int_equal(
	    vfs_ext4_ops.write(t.fs, "/etc", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err), -EISDIR);
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/ssh/sshd_config", "PasswordAuthentication no\n", 26,
				VFS_WRITE_CREATE, 0600, 0, 0, &_e));
	T_OK(vfs_ext4_ops.chown(t.fs, "/etc/ssh/sshd_config", 123456, 654321, &_e));
	T_OK(vfs_ext4_ops.chmod(t.fs, "/etc/ssh/sshd_config", 02751, &_e));
	T_OK(vfs_ext4_ops.utimes(t.fs, "/etc/ssh/sshd_config", 1700000000, &_e));

	/* symlinks: fast (< 60 bytes) and slow */
	T_OK(vfs_ext4_ops.symlink(t.fs, "/usr/share/zoneinfo/Europe/Berlin", "/etc/localtime", 0, 0,
				  &_e));
	memset(slow, 'y', 300);
	memcpy(slow, "/opt/", 5);
	slow[300] = '\0';
	T_OK(vfs_ext4_ops.symlink(t.fs, slow, "/etc/slow", 5, 6, &_e));
	assert_int_equal(vfs_ext4_ops.symlink(t.fs, "x", "/etc/slow", 0, 0, &err), -EEXIST);
	T_OK(vfs_ext4_ops.symlink(t.fs, "ssh", "/etc/sshlink", 0, 0, &_e));
	/* open(2) semantics on a final symlink: EXCL never follows it; a
	 * dangling link is created through; a missing directory is not */
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/etc/localtime", "x", 1,
					    VFS_WRITE_CREATE | VFS_WRITE_EXCL, 0644, 0, 0, &err),
			 -EEXIST);
	assert_int_equal(
	    vfs_ext4_ops.write(t.fs, "/etc/localtime", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err),
	    -ENOENT);
	T_OK(vfs_ext4_ops.symlink(t.fs, "through", "/etc/dangling", 0, 0, &_e));
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/dangling", "t", 1, VFS_WRITE_CREATE, 0600, 0, 0, &_e));
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/through", &st, &_e));
	assert_int_equal(st.type, VFS_FILE);
	assert_int_equal(st.mode, 0600);
	/* writing through a symlinked directory lands in its target */
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/sshlink/via_link", "v", 1, VFS_WRITE_CREATE, 0644, 0, 0,
				&_e));

	/* hard links, unlink, rmdir, rename */
	T_OK(vfs_ext4_ops.link(t.fs, "/etc/hostname", "/etc/hostname.bak", &_e));
	assert_int_equal(vfs_ext4_ops.link(t.fs, "/etc/ssh", "/etc/dirlink", &err), -EPERM);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/hostname", &st, &_e));
	assert_int_equal(st.nlink, 2);
	T_OK(vfs_ext4_ops.write(t.fs, "/etc/gone", big, 100000, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.unlink(t.fs, "/etc/gone", &_e));
	assert_int_equal(vfs_ext4_ops.unlink(t.fs, "/etc/gone", &err), -ENOENT);
	assert_int_equal(vfs_ext4_ops.unlink(t.fs, "/etc/ssh", &err), -EISDIR);
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/tmpdir", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/tmpdir/inner", 0755, 0, 0, &_e));
	assert_int_equal(vfs_ext4_ops.rmdir(t.fs, "/tmpdir", &err), -ENOTEMPTY);
	T_OK(vfs_ext4_ops.rmdir(t.fs, "/tmpdir/inner", &_e));
	T_OK(vfs_ext4_ops.rmdir(t.fs, "/tmpdir", &_e));
	assert_int_equal(vfs_ext4_ops.rmdir(t.fs, "/", &err), -EBUSY);
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/a", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/a/moved", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.write(t.fs, "/a/moved/file", "m", 1, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.rename(t.fs, "/a/moved", "/etc/moved", &_e)); /* dir across parents */
	assert_int_equal(vfs_ext4_ops.rename(t.fs, "/etc", "/etc/moved/etc", &err), -EINVAL);
	T_OK(vfs_ext4_ops.rename(t.fs, "/etc/size1", "/etc/size0", &_e)); /* replace a file */
	T_OK(vfs_ext4_ops.rename(t.fs, "/etc/size1023", "/a/size1023", &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/a/emptytarget", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/srcdir", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.rename(t.fs, "/srcdir", "/a/emptytarget", &_e)); /* replace a dir */
	T_OK(vfs_ext4_ops.truncate(t.fs, "/etc/size4097", 10, &_e));
	T_OK(vfs_ext4_ops.truncate(t.fs, "/etc/size4096", 100000, &_e));
	t_umount(&t);

	t_fsck_clean(f->img);
	for (size_t i = 2; i < 9; i++) {
		if (sizes[i] == 1023 || sizes[i] == 4097 || sizes[i] == 4096)
			continue;
		snprintf(path, sizeof(path), "/etc/size%zu", sizes[i]);
		t_fill(big, sizes[i], i + 7);
		expect_debugfs_cat(f->img, path, big, sizes[i]);
	}
	t_fill(big, 1, 1 + 7);
	expect_debugfs_cat(f->img, "/etc/size0", big, 1); /* renamed over */
	t_fill(big, 1023, 2 + 7);
	expect_debugfs_cat(f->img, "/a/size1023", big, 1023);
	t_fill(big, 4097, 7 + 7);
	expect_debugfs_cat(f->img, "/etc/size4097", big, 10);
	t_fill(big, 4096, 6 + 7);
	memset(big + 4096, 0, 100000 - 4096);
	expect_debugfs_cat(f->img, "/etc/size4096", big, 100000);
	expect_debugfs_cat(f->img, "/etc/hostname", "Red001\n# end\n", 13);
	expect_debugfs_cat(f->img, "/etc/hostname.bak", "Red001\n# end\n", 13);
	expect_debugfs_cat(f->img, "/etc/ssh/via_link", "v", 1);
	expect_debugfs_cat(f->img, "/etc/moved/file", "m", 1);
	expect_debugfs_stat(f->img, "/etc/ssh/sshd_config", "Mode:  02751");
	expect_debugfs_stat(f->img, "/etc/ssh/sshd_config", "User: 123456   Group: 654321");
	expect_debugfs_stat(f->img, "/etc/ssh/sshd_config", "mtime: 0x6553f100");
	expect_debugfs_stat(f->img, "/etc/ssh", "Mode:  0700");
	expect_debugfs_stat(f->img, "/etc/ssh", "User:  1000   Group:  1000");
	expect_debugfs_stat(f->img, "/etc/size4095", "Mode:  0640");
	expect_debugfs_stat(f->img, "/etc/hostname", "Links: 2");
	expect_debugfs_stat(f->img, "/etc/localtime",
			    "Fast link dest: \"/usr/share/zoneinfo/Europe/Berlin\"");
	expect_debugfs_stat(f->img, "/etc/slow", "User:     5   Group:     6");
	if (strstr(opts, "ext4"))
		expect_debugfs_stat(f->img, "/etc/size5242880", "EXTENTS:");

	/* And herd reads back what it wrote, including the slow link. */
	t_mount_ok(f->img, false, &t);
	{
		char link[1024];

		assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/etc/slow", link, sizeof(link), &err),
				 300);
		assert_string_equal(link, slow);
	}
	t_umount(&t);
	{
		char *out = t_capture(NULL,
				      "debugfs -R 'rdump /etc/slow %s' '%s' 2>/dev/null; "
				      "readlink '%s/slow'",
				      f->dir, f->img, f->dir);

		assert_int_equal(strncmp(out, slow, 300), 0);
		free(out);
	}
	free(big);
}

static void test_write_rpi_ext4(void **state)
{
	write_and_check(*state, "-t ext4 -O " EXT4_RPI_FEATURES);
}

static void test_write_ext4_no_journal(void **state)
{
	write_and_check(*state, "-t ext4 -O metadata_csum,64bit,extent,huge_file,flex_bg,"
				"dir_index,^has_journal");
}

static void test_write_ext2_small_inodes(void **state)
{
	write_and_check(*state, "-t ext2 -I 128 -b 1024");
}

static void test_write_ext3(void **state)
{
	write_and_check(*state, "-t ext3");
}

static void test_info(void **state)
{
	struct fixture *f = *state;
	struct vfs_info info;
	struct tfs t;
	char *out;
	unsigned long long free_blocks = 0;
	const char *p;

	t_mkfs(f->img, 100, "-t ext4 -b 4096 -L rootfs -U 0b3e1d2c-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
	       NULL);
	t_mount_ok(f->img, false, &t);
	assert_int_equal(vfs_ext4_ops.probe(t.bd), 1);
	T_OK(vfs_ext4_ops.info(t.fs, &info, &_e));
	assert_string_equal(info.type, "ext4");
	assert_string_equal(info.label, "rootfs");
	assert_string_equal(info.uuid, "0b3e1d2c-4f5a-6b7c-8d9e-0f1a2b3c4d5e");
	assert_int_equal(info.size, 100ull << 20);
	assert_int_equal(info.block_size, 4096);
	out = t_capture(NULL, "dumpe2fs -h '%s' 2>/dev/null", f->img);
	p = strstr(out, "Free blocks:");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "Free blocks: %llu", &free_blocks), 1);
	assert_int_equal(info.used, info.size - free_blocks * 4096);
	free(out);
	t_umount(&t);

	t_mkfs(f->img, 16, "-t ext3", NULL);
	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.info(t.fs, &info, &_e));
	assert_string_equal(info.type, "ext3");
	t_umount(&t);
	t_mkfs(f->img, 16, "-t ext2", NULL);
	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.info(t.fs, &info, &_e));
	assert_string_equal(info.type, "ext2");
	t_umount(&t);

	/* FAT and tiny devices are not ext. */
	{
		struct blockdev *bd = NULL;
		char fat[400];

		snprintf(fat, sizeof(fat), "%s.fat", f->img);
		assert_int_equal(
		    t_sh("truncate -s 64M '%s' && mkfs.vfat -F 32 '%s' >/dev/null 2>&1", fat, fat),
		    0);
		assert_int_equal(blockdev_open_file(fat, BLOCKDEV_READ_ONLY, &bd, NULL), 0);
		assert_int_equal(vfs_ext4_ops.probe(bd), 0);
		blockdev_unref(bd);
		assert_int_equal(blockdev_new_memory(NULL, 1500, &bd, NULL), 0);
		assert_int_equal(vfs_ext4_ops.probe(bd), 0);
		blockdev_unref(bd);
	}
	/* Not ext: probe says no, mount says why. */
	t_sh("truncate -s 1M '%s.zero'", f->img);
	{
		struct herd_error err = {0};
		char zero[400];

		snprintf(zero, sizeof(zero), "%s.zero", f->img);
		assert_int_equal(t_mount(zero, false, &t, &err), -EUCLEAN);
		assert_string_equal(err.message, "ext4: bad superblock magic");
	}
}

/* SOURCE_DATE_EPOCH stamps new inodes (crtime too, in the large-inode
 * extra fields); times after 2038 use the epoch bits; the journal and
 * the clean state are left alone. */
static void test_timestamps_and_inode_fields(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct vfs_stat st;
	struct tfs t;
	char *out;

	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, NULL);
	setenv("SOURCE_DATE_EPOCH", "not a number", 1);
	assert_int_equal(t_mount(f->img, true, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "SOURCE_DATE_EPOCH"));
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	t_mount_ok(f->img, true, &t);
	T_OK(vfs_ext4_ops.write(t.fs, "/f", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.mkdir(t.fs, "/d", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.write(t.fs, "/future", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.utimes(t.fs, "/future", 4102444800LL, &_e)); /* 2100-01-01 */
	T_OK(vfs_ext4_ops.lstat(t.fs, "/future", &st, &_e));
	assert_int_equal(st.mtime, 4102444800LL);
	assert_int_equal(st.atime, 4102444800LL);
	assert_int_equal(st.ctime, 1700000000);
	t_umount(&t);
	unsetenv("SOURCE_DATE_EPOCH");
	t_fsck_clean(f->img);
	expect_debugfs_stat(f->img, "/f", "crtime: 0x6553f100:00000000");
	expect_debugfs_stat(f->img, "/f", "mtime: 0x6553f100:00000000");
	expect_debugfs_stat(f->img, "/f", "Size of extra inode fields: 32");
	expect_debugfs_stat(f->img, "/d", "crtime: 0x6553f100:00000000");
	expect_debugfs_stat(f->img, "/future", "mtime: 0xf4865700:00000001");
	out = t_capture(NULL, "TZ=UTC dumpe2fs -h '%s' 2>/dev/null", f->img);
	assert_non_null(strstr(out, "Filesystem state:         clean"));
	assert_null(strstr(out, "needs_recovery"));
	assert_non_null(strstr(out, "Journal features:"));
	assert_non_null(strstr(out, "Last write time:          Tue Nov 14 22:13:20 2023"));
	free(out);
}

struct range_check {
	uint64_t last_end;
	uint64_t total;
	int count;
	uint64_t need_block; /* a block that must be inside some range */
	bool found;
	uint64_t bs;
};

static int check_range(void *userdata, uint64_t offset, uint64_t length)
{
	struct range_check *rc = userdata;

	assert_true(length > 0);
	if (rc->count)
		assert_true(offset > rc->last_end); /* sorted, merged */
	rc->last_end = offset + length;
	rc->total += length;
	rc->count++;
	if (rc->need_block * rc->bs >= offset && rc->need_block * rc->bs < offset + length)
		rc->found = true;
	return 0;
}

static void test_used_ranges(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = malloc(1 << 20);
	struct range_check rc = {0};
	struct vfs_info info;
	unsigned long long blk = 0;
	char *out;
	struct tfs t;

	assert_non_null(buf);
	t_mkfs(f->img, 300, "-t ext4 -b 4096 -O " EXT4_RPI_FEATURES, NULL);
	t_mount_ok(f->img, true, &t);
	t_fill(buf, 1 << 20, 3);
	T_OK(vfs_ext4_ops.write(t.fs, "/data", buf, 1 << 20, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	t_umount(&t);
	out = t_capture(NULL, "debugfs -R 'blocks /data' '%s' 2>/dev/null", f->img);
	assert_int_equal(sscanf(out, "%llu", &blk), 1);
	free(out);

	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.info(t.fs, &info, &_e));
	rc.bs = info.block_size;
	rc.need_block = blk;
	T_OK(vfs_ext4_ops.used_ranges(t.fs, check_range, &rc, &_e));
	assert_true(rc.found);
	assert_int_equal(rc.total, info.used);
	assert_true(rc.count > 1);
	t_umount(&t);

	/* 1 KiB blocks: block 0 (boot area) is reported too. */
	t_mkfs(f->img, 32, "-t ext2 -b 1024", NULL);
	memset(&rc, 0, sizeof(rc));
	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.info(t.fs, &info, &_e));
	rc.bs = 1024;
	rc.need_block = 0;
	T_OK(vfs_ext4_ops.used_ranges(t.fs, check_range, &rc, &_e));
	assert_true(rc.found);
	assert_int_equal(rc.total, info.used); /* block 0 counts as used */
	t_umount(&t);
	free(buf);
}

/* An indexed (htree) directory like /usr/share/zoneinfo, grown by herd. */
static void test_htree_directory(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct names n;
	struct tfs t;
	char *out;

	assert_int_equal(t_sh("mkdir -p '%s/zone' && cd '%s/zone' && "
			      "for i in $(seq 1 2000); do : > \"Zone_Name_$i\"; done",
			      f->src, f->src),
			 0);
	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	/* e2fsck -D builds the index the kernel would have built. */
	t_sh("e2fsck -fyD '%s' >/dev/null 2>&1", f->img);
	t_fsck_clean(f->img);
	out = debugfs(f->img, "stat /zone");
	assert_non_null(strstr(out, "Flags: 0x81000")); /* extents + index */
	free(out);

	t_mount_ok(f->img, true, &t);
	for (int i = 0; i < 1500; i++) {
		snprintf(path, sizeof(path), "/zone/herd_added_entry_with_a_longer_name_%d", i);
		T_OK(vfs_ext4_ops.write(t.fs, path, "z", 1, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	}
	for (int i = 1; i <= 2000; i += 3) {
		snprintf(path, sizeof(path), "/zone/Zone_Name_%d", i);
		T_OK(vfs_ext4_ops.unlink(t.fs, path, &_e));
	}
	T_OK(vfs_ext4_ops.rename(t.fs, "/zone/Zone_Name_2", "/zone/Renamed", &_e));
	t_umount(&t);
	t_fsck_clean(f->img);
	out = debugfs(f->img, "stat /zone");
	assert_non_null(strstr(out, "Flags: 0x81000"));
	free(out);
	expect_debugfs_cat(f->img, "/zone/herd_added_entry_with_a_longer_name_1499", "z", 1);

	t_mount_ok(f->img, false, &t);
	memset(&n, 0, sizeof(n));
	{
		/* count only: the buffer overflows quietly (snprintf bounds it) */
		struct names *big = calloc(1, sizeof(*big));

		T_OK(vfs_ext4_ops.readdir(t.fs, "/zone", collect_names, big, &_e));
		assert_int_equal(big->count, 2000 - 667 + 1500);
		free(big);
	}
	t_umount(&t);
}

static void test_inline_data_read(void **state)
{
	struct fixture *f = *state;
	char host[512];
	struct tfs t;

	assert_int_equal(t_sh("mkdir -p '%s/d' && printf 'tiny\\n' > '%s/d/tiny' && "
			      "ln -s tiny '%s/d/l'",
			      f->src, f->src, f->src),
			 0);
	t_mkfs(f->img, 32, "-t ext4 -O inline_data", f->src);
	expect_debugfs_stat(f->img, "/d/tiny", "Size of inline data");
	t_mount_ok(f->img, true, &t);
	snprintf(host, sizeof(host), "%s/d/tiny", f->src);
	expect_file(&t, "/d/tiny", host);
	{
		char link[64];

		assert_int_equal(vfs_ext4_ops.readlink(t.fs, "/d/l", link, sizeof(link), NULL), 4);
		assert_string_equal(link, "tiny");
	}
	/* Writing into an inline directory and growing an inline file. */
	for (int i = 0; i < 40; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/d/new%d", i);
		T_OK(vfs_ext4_ops.write(t.fs, p, "n", 1, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	}
	T_OK(vfs_ext4_ops.write(t.fs, "/d/tiny",
				"0123456789012345678901234567890123456789012345678"
				"901234567890123456789",
				70, VFS_WRITE_APPEND, 0, 0, 0, &_e));
	T_OK(vfs_ext4_ops.unlink(t.fs, "/d/new3", &_e));
	T_OK(vfs_ext4_ops.rename(t.fs, "/d", "/e", &_e));
	t_umount(&t);
	t_fsck_clean(f->img);
	expect_debugfs_cat(f->img, "/e/new39", "n", 1);
}

/* Edits through a copy-on-write overlay: the base file never changes, and
 * base + overlay extents written to a copy is a clean filesystem. */
struct copy_state {
	struct blockdev *from;
	int fd;
};

static int copy_extent(void *userdata, uint64_t offset, uint64_t length)
{
	struct copy_state *cs = userdata;
	uint8_t *buf = malloc(length);

	assert_non_null(buf);
	assert_int_equal(blockdev_pread(cs->from, buf, length, offset, NULL), 0);
	assert_int_equal(pwrite(cs->fd, buf, length, (off_t)offset), (ssize_t)length);
	free(buf);
	return 0;
}

static void test_overlay(void **state)
{
	struct fixture *f = *state;
	struct blockdev *base = NULL, *ov = NULL;
	struct herd_error err = {0};
	struct copy_state cs;
	char copy[400], *sum_before, *sum_after;
	void *fs;
	size_t got;
	char buf[64];

	make_source_tree(f->src);
	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	sum_before = t_capture(NULL, "sha256sum < '%s'", f->img);
	assert_int_equal(blockdev_open_file(f->img, BLOCKDEV_READ_ONLY, &base, &err), 0);
	/* A read-only base refuses a writable mount... */
	assert_true(vfs_ext4_ops.mount(base, true, &fs, &err) < 0);
	assert_int_equal(blockdev_new_overlay(base, NULL, &ov, &err), 0);
	assert_int_equal(vfs_ext4_ops.mount(ov, true, &fs, &err), 0);
	T_OK(vfs_ext4_ops.write(fs, "/etc/hostname", "node7\n", 6, VFS_WRITE_CREATE, 0644, 0, 0,
				&_e));
	T_OK(vfs_ext4_ops.unlink(fs, "/etc/f5", &_e));
	T_OK(vfs_ext4_ops.mkdir(fs, "/home", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.unmount(fs, &_e));
	/* ...the overlay shows the edits... */
	assert_int_equal(vfs_ext4_ops.mount(ov, false, &fs, &err), 0);
	T_OK(vfs_ext4_ops.read(fs, "/etc/hostname", 0, buf, sizeof(buf), &got, &_e));
	assert_int_equal(got, 6);
	assert_memory_equal(buf, "node7\n", 6);
	T_OK(vfs_ext4_ops.unmount(fs, &_e));
	/* ...a writable mount that changes nothing (failed and read-only
	 * calls only) writes nothing at all... */
	{
		struct blockdev *ov2 = NULL;
		struct vfs_stat st;

		assert_int_equal(blockdev_new_overlay(base, NULL, &ov2, &err), 0);
		assert_int_equal(vfs_ext4_ops.mount(ov2, true, &fs, &err), 0);
		T_OK(vfs_ext4_ops.read(fs, "/etc/f5", 0, buf, sizeof(buf), &got, &_e));
		T_OK(vfs_ext4_ops.lstat(fs, "/etc/f5", &st, &_e));
		assert_int_equal(vfs_ext4_ops.mkdir(fs, "/etc", 0755, 0, 0, &err), -EEXIST);
		assert_int_equal(vfs_ext4_ops.unlink(fs, "/nope", &err), -ENOENT);
		T_OK(vfs_ext4_ops.unmount(fs, &_e));
		assert_int_equal(blockdev_overlay_dirty_bytes(ov2), 0);
		blockdev_unref(ov2);
	}
	/* ...the base file is byte-for-byte unchanged... */
	sum_after = t_capture(NULL, "sha256sum < '%s'", f->img);
	assert_string_equal(sum_before, sum_after);
	/* ...and base + overlay extents make a clean filesystem. */
	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(t_sh("cp --sparse=always '%s' '%s'", f->img, copy), 0);
	cs.from = ov;
	cs.fd = open(copy, O_WRONLY | O_CLOEXEC);
	assert_true(cs.fd >= 0);
	assert_int_equal(blockdev_overlay_extents(ov, copy_extent, &cs, &err), 0);
	close(cs.fd);
	t_fsck_clean(copy);
	expect_debugfs_cat(copy, "/etc/hostname", "node7\n", 6);
	blockdev_unref(ov);
	blockdev_unref(base);
	free(sum_before);
	free(sum_after);
}

/* A filesystem inside a disk image, reached through a partition view. */
static void test_partition_view(void **state)
{
	struct fixture *f = *state;
	struct blockdev *disk = NULL, *part = NULL;
	char diskpath[400], out[400];
	void *fs = NULL;

	t_mkfs(f->img, 32, "-t ext4 -O " EXT4_RPI_FEATURES, NULL);
	snprintf(diskpath, sizeof(diskpath), "%s/disk", f->dir);
	snprintf(out, sizeof(out), "%s/part", f->dir);
	assert_int_equal(t_sh("truncate -s 4M '%s' && cat '%s' >> '%s' && truncate -s +1M '%s'",
			      diskpath, f->img, diskpath, diskpath),
			 0);
	assert_int_equal(blockdev_open_file(diskpath, BLOCKDEV_READ_WRITE, &disk, NULL), 0);
	assert_int_equal(blockdev_new_view(disk, 4 << 20, 32 << 20, &part, NULL), 0);
	assert_int_equal(vfs_ext4_ops.probe(disk), 0);
	assert_int_equal(vfs_ext4_ops.probe(part), 1);
	T_OK(vfs_ext4_ops.mount(part, true, &fs, &_e));
	T_OK(vfs_ext4_ops.mkdir(fs, "/boot", 0755, 0, 0, &_e));
	T_OK(vfs_ext4_ops.write(fs, "/boot/cmdline.txt", "console=serial0\n", 16, VFS_WRITE_CREATE,
				0644, 0, 0, &_e));
	T_OK(vfs_ext4_ops.unmount(fs, &_e));
	blockdev_unref(part);
	blockdev_unref(disk);
	assert_int_equal(
	    t_sh("dd if='%s' of='%s' bs=1M skip=4 count=32 2>/dev/null", diskpath, out), 0);
	t_fsck_clean(out);
	expect_debugfs_cat(out, "/boot/cmdline.txt", "console=serial0\n", 16);
	/* nothing outside the partition was touched */
	assert_int_equal(t_sh("cmp -n 4194304 '%s' /dev/zero >/dev/null && "
			      "tail -c 1048576 '%s' | cmp -n 1048576 - /dev/zero >/dev/null",
			      diskpath, diskpath),
			 0);
}

/* Inodes with an external xattr block and with several names: the block
 * is released with the last name, link counts drop one at a time. */
static void test_xattr_block_and_links(void **state)
{
	struct fixture *f = *state;
	char value[400];
	struct vfs_stat st;
	struct tfs t;
	char *out;

	assert_int_equal(t_sh("mkdir -p '%s' && echo one > '%s/x1' && echo two > '%s/x2' && "
			      "echo three > '%s/x3'",
			      f->src, f->src, f->src, f->src),
			 0);
	t_mkfs(f->img, 32, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	snprintf(value, sizeof(value), "%s/value", f->dir);
	{
		uint8_t big[500];

		t_fill(big, sizeof(big), 5);
		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (uint8_t)('a' + big[i] % 26);
		t_write_file(value, big, sizeof(big));
	}
	assert_int_equal(t_sh("debugfs -w -R 'ea_set -f %s /x1 user.big' '%s' >/dev/null 2>&1 && "
			      "debugfs -w -R 'ea_set -f %s /x2 user.big' '%s' >/dev/null 2>&1",
			      value, f->img, value, f->img),
			 0);
	out = debugfs(f->img, "stat /x1");
	assert_null(strstr(out, "File ACL: 0"));
	free(out);
	t_fsck_clean(f->img);

	t_mount_ok(f->img, true, &t);
	T_OK(vfs_ext4_ops.link(t.fs, "/x3", "/x3.link", &_e));
	T_OK(vfs_ext4_ops.rename(t.fs, "/x1", "/x3.link", &_e)); /* drops one name of x3 */
	T_OK(vfs_ext4_ops.lstat(t.fs, "/x3", &st, &_e));
	assert_int_equal(st.nlink, 1);
	T_OK(vfs_ext4_ops.unlink(t.fs, "/x2", &_e)); /* frees its xattr block */
	T_OK(vfs_ext4_ops.unlink(t.fs, "/x3.link", &_e));
	t_umount(&t);
	t_fsck_clean(f->img);
	expect_debugfs_cat(f->img, "/x3", "three\n", 6);
}

/* chattr flags are honoured as the kernel does: +i nothing changes, +a
 * only appends; reading is unaffected. */
static void test_chattr_flags(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	char buf[64];
	size_t got;
	struct tfs t;

	assert_int_equal(t_sh("mkdir -p '%s/d' && echo immutable > '%s/i' && echo log > '%s/a' && "
			      "echo x > '%s/d/x'",
			      f->src, f->src, f->src, f->src),
			 0);
	t_mkfs(f->img, 32, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	assert_int_equal(t_sh("debugfs -w -R 'sif /i flags 0x80010' '%s' >/dev/null 2>&1 && "
			      "debugfs -w -R 'sif /a flags 0x80020' '%s' >/dev/null 2>&1 && "
			      "debugfs -w -R 'sif /d flags 0x80010' '%s' >/dev/null 2>&1",
			      f->img, f->img, f->img),
			 0);
	t_mount_ok(f->img, true, &t);
	T_OK(vfs_ext4_ops.read(t.fs, "/i", 0, buf, sizeof(buf), &got, &_e));
	assert_int_equal(got, 10);
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/i", "x", 1, VFS_WRITE_TRUNCATE, 0, 0, 0, &err),
			 -EPERM);
	assert_non_null(strstr(err.message, "immutable"));
	assert_int_equal(vfs_ext4_ops.chmod(t.fs, "/i", 0600, &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.unlink(t.fs, "/i", &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.rename(t.fs, "/a", "/i", &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.link(t.fs, "/i", "/i2", &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.truncate(t.fs, "/i", 0, &err), -EPERM);
	T_OK(vfs_ext4_ops.write(t.fs, "/a", "more\n", 5, VFS_WRITE_APPEND, 0, 0, 0, &_e));
	assert_int_equal(vfs_ext4_ops.write(t.fs, "/a", "x", 1, VFS_WRITE_TRUNCATE, 0, 0, 0, &err),
			 -EPERM);
	assert_non_null(strstr(err.message, "append-only"));
	assert_int_equal(vfs_ext4_ops.unlink(t.fs, "/a", &err), -EPERM);
	/* an immutable directory gains and loses no entries */
	assert_int_equal(
	    vfs_ext4_ops.write(t.fs, "/d/new", "x", 1, VFS_WRITE_CREATE, 0644, 0, 0, &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.unlink(t.fs, "/d/x", &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.mkdir(t.fs, "/d/sub", 0755, 0, 0, &err), -EPERM);
	assert_int_equal(vfs_ext4_ops.rename(t.fs, "/d/x", "/x", &err), -EPERM);
	T_OK(vfs_ext4_ops.write(t.fs, "/d/x", "y\n", 2, VFS_WRITE_TRUNCATE, 0, 0, 0, &_e));
	t_umount(&t);
	t_fsck_clean(f->img);
	expect_debugfs_cat(f->img, "/a", "log\nmore\n", 9);
	expect_debugfs_cat(f->img, "/i", "immutable\n", 10);
	expect_debugfs_cat(f->img, "/d/x", "y\n", 2);
}

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct vfs_stat st;
	struct tfs t;
	char *out;

	make_source_tree(f->src);

	/* Journal needing recovery: read-only fine, writing refused. */
	t_mkfs(f->img, 64, "-t ext4 -O " EXT4_RPI_FEATURES, f->src);
	t_sh("debugfs -w -R 'feature needs_recovery' '%s' >/dev/null 2>&1", f->img);
	out = debugfs(f->img, "features");
	assert_non_null(strstr(out, "needs_recovery"));
	free(out);
	assert_int_equal(t_mount(f->img, true, &t, &err), -EROFS);
	assert_non_null(strstr(err.message, "journal needs recovery"));
	t_mount_ok(f->img, false, &t);
	T_OK(vfs_ext4_ops.lstat(t.fs, "/etc/f5", &st, &_e));
	t_umount(&t);

	/* Errors recorded in the superblock. */
	t_mkfs(f->img, 64, "-t ext4", f->src);
	t_sh("debugfs -w -R 'ssv state 3' '%s' >/dev/null 2>&1", f->img);
	assert_int_equal(t_mount(f->img, true, &t, &err), -EUCLEAN);
	assert_non_null(strstr(err.message, "has errors"));

	/* Truncated image: writes refused, reads fail cleanly past the end. */
	t_mkfs(f->img, 64, "-t ext4", f->src);
	t_sh("truncate -s 40M '%s'", f->img);
	assert_int_equal(t_mount(f->img, true, &t, &err), -EUCLEAN);
	assert_non_null(strstr(err.message, "truncated"));
	t_mount_ok(f->img, false, &t);
	{
		uint8_t *buf = malloc(4 << 20);
		size_t got;

		assert_non_null(buf);
		(void)vfs_ext4_ops.read(t.fs, "/etc/f5", 0, buf, 4 << 20, &got, &err);
		free(buf);
	}
	t_umount(&t);
	t_sh("truncate -s 3000 '%s'", f->img);
	assert_true(t_mount(f->img, false, &t, &err) < 0);
	assert_non_null(strstr(err.message, "ext4: "));

	/* Corrupt superblocks: bad magic, absurd geometry, random bytes. */
	t_mkfs(f->img, 16, "-t ext4", NULL);
	t_sh("printf '\\000\\000' | dd of='%s' bs=1 seek=1080 conv=notrunc 2>/dev/null", f->img);
	assert_int_equal(t_mount(f->img, false, &t, &err), -EUCLEAN);
	assert_string_equal(err.message, "ext4: bad superblock magic");
	for (int seed = 1; seed <= 40; seed++) {
		uint8_t junk[1024];
		char junkpath[400];

		t_mkfs(f->img, 16, "-t ext4 -O ^metadata_csum", NULL);
		t_fill(junk, sizeof(junk), (uint64_t)seed);
		/* keep the magic so libext2fs looks further */
		snprintf(junkpath, sizeof(junkpath), "%s/junk", f->dir);
		t_write_file(junkpath, junk, (size_t)(seed % 8) * 4 + 4);
		t_sh("dd if='%s' of='%s' bs=1 seek=%d conv=notrunc 2>/dev/null", junkpath, f->img,
		     1024 + (seed * 37) % 200);
		if (t_mount(f->img, seed % 2, &t, &err) == 0) {
			struct names n = {0};

			(void)vfs_ext4_ops.readdir(t.fs, "/", collect_names, &n, &err);
			(void)vfs_ext4_ops.lstat(t.fs, "/lost+found", &st, &err);
			if (seed % 2)
				(void)vfs_ext4_ops.write(t.fs, "/x", "x", 1, VFS_WRITE_CREATE, 0644,
							 0, 0, &err);
			(void)vfs_ext4_ops.unmount(t.fs, &err);
			t.bd = blockdev_unref(t.bd);
		} else {
			assert_true(strncmp(err.message, "ext4: ", 6) == 0);
		}
	}
}

/* Walk and read everything below `dir`, ignoring errors: damaged images
 * must give errors, never crashes. */
struct walk_ctx {
	struct tfs *t;
	const char *dir;
	int depth;
	int entries;
};

static int walk_cb(void *userdata, const struct vfs_dirent *d)
{
	struct walk_ctx *w = userdata;
	char path[4096], link[4096];
	uint8_t buf[8192];
	size_t got;

	if (++w->entries > 2000 || w->depth > 8)
		return -ELOOP;
	snprintf(path, sizeof(path), "%s%s%s", w->dir, strcmp(w->dir, "/") ? "/" : "", d->name);
	if (d->st.type == VFS_DIR) {
		struct walk_ctx sub = {.t = w->t, .dir = path, .depth = w->depth + 1};

		(void)vfs_ext4_ops.readdir(w->t->fs, path, walk_cb, &sub, NULL);
		w->entries += sub.entries;
	} else if (d->st.type == VFS_SYMLINK) {
		(void)vfs_ext4_ops.readlink(w->t->fs, path, link, sizeof(link), NULL);
	} else {
		(void)vfs_ext4_ops.read(w->t->fs, path, 0, buf, sizeof(buf), &got, NULL);
	}
	return 0;
}

static void test_corrupt_metadata(void **state)
{
	struct fixture *f = *state;
	char pristine[400];
	int mounted = 0;

	make_source_tree(f->src);
	snprintf(pristine, sizeof(pristine), "%s/pristine", f->dir);
	t_mkfs(pristine, 16, "-t ext4 -b 1024 -O ^metadata_csum,^has_journal", f->src);
	for (uint64_t seed = 1; seed <= 60; seed++) {
		struct herd_error err = {0};
		uint64_t s = seed * 7919;
		struct tfs t;
		int fd;

		assert_int_equal(t_sh("cp '%s' '%s'", pristine, f->img), 0);
		fd = open(f->img, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		/* scribble over metadata: group descriptors, bitmaps, inode
		 * table and the first directory blocks live in the first MiBs */
		for (int i = 0; i < 24; i++) {
			uint8_t junk[16];
			off_t at = (off_t)(2048 + t_rng(&s) % (3 << 20));

			t_fill(junk, sizeof(junk), t_rng(&s));
			assert_int_equal(pwrite(fd, junk, sizeof(junk), at), (ssize_t)sizeof(junk));
		}
		close(fd);
		if (t_mount(f->img, seed % 3 == 0, &t, &err) < 0) {
			assert_int_equal(strncmp(err.message, "ext4: ", 6), 0);
			continue;
		}
		mounted++;
		{
			struct walk_ctx w = {.t = &t, .dir = "/"};

			(void)vfs_ext4_ops.readdir(t.fs, "/", walk_cb, &w, NULL);
		}
		if (seed % 3 == 0) {
			(void)vfs_ext4_ops.write(t.fs, "/etc/new", "x", 1, VFS_WRITE_CREATE, 0644,
						 0, 0, NULL);
			(void)vfs_ext4_ops.unlink(t.fs, "/etc/f2", NULL);
			(void)vfs_ext4_ops.mkdir(t.fs, "/etc/sub/d", 0755, 0, 0, NULL);
		}
		(void)vfs_ext4_ops.unmount(t.fs, NULL);
		blockdev_unref(t.bd);
	}
	assert_true(mounted > 0);
}

static void test_full_filesystem(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	uint8_t *buf = malloc(1 << 20);
	char path[64];
	struct tfs t;
	int r = 0, i;

	assert_non_null(buf);
	t_mkfs(f->img, 8, "-t ext4 -O ^has_journal", NULL);
	t_mount_ok(f->img, true, &t);
	t_fill(buf, 1 << 20, 9);
	for (i = 0; i < 100 && r == 0; i++) {
		snprintf(path, sizeof(path), "/fill%d", i);
		r = vfs_ext4_ops.write(t.fs, path, buf, 1 << 20, VFS_WRITE_CREATE, 0644, 0, 0,
				       &err);
	}
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(err.message, "no space left"));
	/* The half-written file was removed again, not left as an orphan. */
	{
		struct vfs_stat st;

		assert_int_equal(vfs_ext4_ops.lstat(t.fs, path, &st, &err), -ENOENT);
	}
	/* Inodes run out too: tiny files until the table is full. */
	for (i = 0, r = 0; i < 100000 && r == 0; i++) {
		snprintf(path, sizeof(path), "/tiny%d", i);
		r = vfs_ext4_ops.write(t.fs, path, "", 0, VFS_WRITE_CREATE, 0644, 0, 0, &err);
	}
	assert_int_equal(r, -ENOSPC);
	T_OK(vfs_ext4_ops.unmount(t.fs, &_e));
	t.bd = blockdev_unref(t.bd);
	t_fsck_clean(f->img);
	free(buf);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Mounting a 2.5 GiB image and writing one small file must not scan the
 * filesystem: a few milliseconds of CPU. */
static void test_performance(void **state)
{
	struct fixture *f = *state;
	double t0, t1, t2, t3;
	struct tfs t;

	assert_int_equal(
	    t_sh("truncate -s 2500M '%s' && mke2fs -F -q -t ext4 '%s' >/dev/null", f->img, f->img),
	    0);
	t0 = cpu_seconds();
	t_mount_ok(f->img, true, &t);
	t1 = cpu_seconds();
	T_OK(vfs_ext4_ops.write(t.fs, "/hostname", "node\n", 5, VFS_WRITE_CREATE, 0644, 0, 0, &_e));
	t2 = cpu_seconds();
	t_umount(&t);
	t3 = cpu_seconds();
	fprintf(stderr,
		"ext4 2.5 GiB: mount %.2f ms, write one file %.2f ms, unmount %.2f ms CPU "
		"(total %.2f ms)\n",
		(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3);
	/* generous for sanitizer builds; the plain build is far below */
	assert_true(t3 - t0 < 0.25);
	t_fsck_clean(f->img);

	/* The same through a copy-on-write overlay over the read-only image:
	 * how much does one small edit cost in overlay bytes? */
	{
		struct blockdev *base = NULL, *ov = NULL;
		void *fs = NULL;

		assert_int_equal(blockdev_open_file(f->img, BLOCKDEV_READ_ONLY, &base, NULL), 0);
		assert_int_equal(blockdev_new_overlay(base, NULL, &ov, NULL), 0);
		t0 = cpu_seconds();
		T_OK(vfs_ext4_ops.mount(ov, true, &fs, &_e));
		T_OK(vfs_ext4_ops.write(fs, "/etc-hostname", "node\n", 5, VFS_WRITE_CREATE, 0644, 0,
					0, &_e));
		T_OK(vfs_ext4_ops.unmount(fs, &_e));
		t1 = cpu_seconds();
		fprintf(stderr,
			"ext4 2.5 GiB via overlay: mount+write+unmount %.2f ms CPU, overlay holds "
			"%llu KiB\n",
			(t1 - t0) * 1e3,
			(unsigned long long)blockdev_overlay_dirty_bytes(ov) / 1024);
		assert_true(t1 - t0 < 0.25);
		assert_true(blockdev_overlay_dirty_bytes(ov) < 4 << 20);
		blockdev_unref(ov);
		blockdev_unref(base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_herd_io_manager, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_populated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_host_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_rpi_ext4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_ext4_no_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_ext2_small_inodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_ext3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timestamps_and_inode_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_used_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_htree_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inline_data_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partition_view, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xattr_block_and_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chattr_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_filesystem, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_performance, setup, teardown),
	};

	/* HERD_TEST_FILTER=test_name runs one test */
	if (getenv("HERD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("HERD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
