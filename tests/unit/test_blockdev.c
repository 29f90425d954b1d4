/*
 * test_blockdev.c — the four blockdev kinds: memory, file (in a temp dir),
 * views and copy-on-write overlays (memory and side-file modes), checked
 * against a plain byte-array model; bounds and permission errors with
 * their messages; overlay extents and commit, with the base file's
 * sha256 (from sha256sum, an independent witness) unchanged until commit.
 */
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
#include <unistd.h>
#include <cmocka.h>

#include "blk/blockdev.h"

struct fixture {
	char dir[64];
	char path[128];
};

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng_next(&s);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void file_sha256(const char *path, char out[65])
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 65, p));
	assert_int_equal(strlen(out), 64);
	pclose(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/herd-test-blockdev-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/image", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_memory(void **state)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	uint8_t data[1000], buf[1000];

	fill_random(data, sizeof(data), 1);
	assert_int_equal(blockdev_new_memory(data, sizeof(data), &bd, &err), 0);
	assert_int_equal(blockdev_size(bd), 1000);
	assert_true(blockdev_writable(bd));
	assert_string_equal(blockdev_name(bd), "memory");
	assert_null(blockdev_base(bd));
	assert_int_equal(blockdev_pread(bd, buf, sizeof(buf), 0, &err), 0);
	assert_memory_equal(buf, data, sizeof(data));

	assert_int_equal(blockdev_pwrite(bd, "hello", 5, 995, &err), 0);
	assert_int_equal(blockdev_pread(bd, buf, 5, 995, &err), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(blockdev_pread(bd, buf, 0, 1000, &err), 0);

	assert_int_equal(blockdev_pread(bd, buf, 6, 995, &err), -EIO);
	assert_non_null(strstr(err.message, "memory"));
	assert_non_null(strstr(err.message, "offset 995"));
	assert_int_equal(blockdev_pread(bd, buf, 1, UINT64_MAX, &err), -EIO);
	assert_int_equal(blockdev_pwrite(bd, "x", 1, 1000, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "offset 1000"));
	assert_int_equal(blockdev_flush(bd, &err), 0);
	assert_null(blockdev_unref(bd));

	/* Zero-filled and zero-sized. */
	assert_int_equal(blockdev_new_memory(NULL, 16, &bd, NULL), 0);
	assert_int_equal(blockdev_pread(bd, buf, 16, 0, NULL), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
	blockdev_unref(bd);
	assert_int_equal(blockdev_new_memory(NULL, 0, &bd, NULL), 0);
	assert_int_equal(blockdev_pread(bd, buf, 1, 0, NULL), -EIO);
	blockdev_unref(bd);
	assert_null(blockdev_unref(NULL));
}

static void test_file(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	size_t len = 3 * 65536 + 123;
	uint8_t *data = malloc(len), *buf = malloc(len);

	fill_random(data, len, 2);
	write_file(f->path, data, len);

	assert_int_equal(blockdev_open_file(f->path, BLOCKDEV_READ_ONLY, &bd, &err), 0);
	assert_int_equal(blockdev_size(bd), len);
	assert_false(blockdev_writable(bd));
	assert_string_equal(blockdev_name(bd), f->path);
	assert_int_equal(blockdev_pread(bd, buf, len, 0, &err), 0);
	assert_memory_equal(buf, data, len);
	assert_int_equal(blockdev_pread(bd, buf, 10, 1000, &err), 0);
	assert_memory_equal(buf, data + 1000, 10);
	assert_int_equal(blockdev_pwrite(bd, "x", 1, 0, &err), -EROFS);
	assert_non_null(strstr(err.message, f->path));
	assert_int_equal(blockdev_pread(bd, buf, 2, len - 1, &err), -EIO);
	assert_non_null(strstr(err.message, f->path));
	assert_non_null(strstr(err.message, "past the end"));
	assert_int_equal(blockdev_flush(bd, &err), 0);
	blockdev_unref(bd);

	assert_int_equal(
	    blockdev_open_file(f->path, BLOCKDEV_READ_WRITE | BLOCKDEV_EXCLUSIVE | BLOCKDEV_DIRECT,
			       &bd, &err),
	    0);
	assert_true(blockdev_writable(bd));
	/* Size not a multiple of 4096: O_DIRECT is not used on a file. */
	assert_false(blockdev_is_direct(bd));
	assert_int_equal(blockdev_pwrite(bd, "abcdef", 6, 70000, &err), 0);
	memcpy(data + 70000, "abcdef", 6);
	assert_int_equal(blockdev_pwrite(bd, "z", 1, len, &err), -ENOSPC);
	assert_int_equal(blockdev_flush(bd, &err), 0);
	blockdev_unref(bd);

	/* What landed on disk, read with plain stdio. */
	{
		FILE *fp = fopen(f->path, "rbe");
		assert_non_null(fp);
		assert_int_equal(fread(buf, 1, len, fp), len);
		fclose(fp);
		assert_memory_equal(buf, data, len);
	}

	assert_int_equal(blockdev_open_file("/nonexistent/herd", 0, &bd, &err), -ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent/herd"));
	assert_int_equal(blockdev_open_file(f->dir, 0, &bd, &err), -EINVAL);
	assert_non_null(strstr(err.message, "not a regular file"));
	free(data);
	free(buf);
}

/* O_DIRECT on a regular file (best effort: used when the temp dir's
 * filesystem supports it): unaligned requests through the bounce buffer,
 * including ones longer than it, and aligned ones straight through. */
static void test_file_direct(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	size_t len = 3u << 20;
	uint8_t *model = malloc(len), *buf = malloc(len), *aligned = NULL;
	uint64_t seed = 7;
	bool supported;
	int fd;

	fill_random(model, len, 5);
	write_file(f->path, model, len);
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	supported = fd >= 0;
	if (fd >= 0)
		close(fd);

	assert_int_equal(
	    blockdev_open_file(f->path, BLOCKDEV_READ_WRITE | BLOCKDEV_DIRECT, &bd, &err), 0);
	assert_int_equal(blockdev_is_direct(bd), supported);

	/* Longer than the 1 MiB bounce buffer, unaligned at both ends. */
	fill_random(model + 1000, (3u << 19) + 7, 6);
	assert_int_equal(blockdev_pwrite(bd, model + 1000, (3u << 19) + 7, 1000, &err), 0);
	for (int i = 0; i < 200; i++) {
		uint64_t off = rng_next(&seed) % len;
		size_t n = (size_t)(rng_next(&seed) % 10000);
		if (n > len - off)
			n = len - off;
		fill_random(model + off, n, rng_next(&seed));
		assert_int_equal(blockdev_pwrite(bd, model + off, n, off, &err), 0);
		off = rng_next(&seed) % len;
		n = (size_t)(rng_next(&seed) % 10000);
		if (n > len - off)
			n = len - off;
		assert_int_equal(blockdev_pread(bd, buf, n, off, &err), 0);
		assert_memory_equal(buf, model + off, n);
	}
	assert_int_equal(blockdev_pread(bd, buf + 1, len - 1, 1, &err), 0);
	assert_memory_equal(buf + 1, model + 1, len - 1);

	/* Aligned: buffer, offset and length. */
	assert_int_equal(posix_memalign((void **)&aligned, 4096, 8192), 0);
	memset(aligned, 0x3c, 8192);
	memset(model + 8192, 0x3c, 8192);
	assert_int_equal(blockdev_pwrite(bd, aligned, 8192, 8192, &err), 0);
	assert_int_equal(blockdev_pread(bd, aligned, 8192, len - 8192, &err), 0);
	assert_memory_equal(aligned, model + len - 8192, 8192);
	assert_int_equal(blockdev_pread(bd, aligned, 4096, len - 2048, &err), -EIO);
	assert_int_equal(blockdev_flush(bd, &err), 0);
	blockdev_unref(bd);

	{
		FILE *fp = fopen(f->path, "rbe");
		assert_non_null(fp);
		assert_int_equal(fread(buf, 1, len, fp), len);
		fclose(fp);
		assert_memory_equal(buf, model, len);
	}
	free(aligned);
	free(model);
	free(buf);
}

static void test_view(void **state)
{
	struct herd_error err = {0};
	struct blockdev *base = NULL, *view = NULL, *inner = NULL;
	uint8_t data[8192], buf[8192];

	fill_random(data, sizeof(data), 3);
	assert_int_equal(blockdev_new_memory(data, sizeof(data), &base, &err), 0);
	assert_int_equal(blockdev_new_view(base, 1024, 4096, &view, &err), 0);
	/* The view holds its own reference. */
	blockdev_unref(base);
	base = blockdev_base(view);
	assert_non_null(base);
	assert_int_equal(blockdev_size(view), 4096);
	assert_true(blockdev_writable(view));

	assert_int_equal(blockdev_pread(view, buf, 4096, 0, &err), 0);
	assert_memory_equal(buf, data + 1024, 4096);
	assert_int_equal(blockdev_pwrite(view, "VIEW", 4, 4092, &err), 0);
	assert_int_equal(blockdev_pread(base, buf, 4, 1024 + 4092, &err), 0);
	assert_memory_equal(buf, "VIEW", 4);

	assert_int_equal(blockdev_pread(view, buf, 1, 4096, &err), -EIO);
	assert_non_null(strstr(err.message, "offset 4096"));
	assert_int_equal(blockdev_pwrite(view, buf, 5, 4092, &err), -ENOSPC);

	/* A view of a view. */
	assert_int_equal(blockdev_new_view(view, 4092, 4, &inner, &err), 0);
	assert_int_equal(blockdev_pread(inner, buf, 4, 0, &err), 0);
	assert_memory_equal(buf, "VIEW", 4);
	assert_int_equal(blockdev_set_name(inner, "inner part", &err), 0);
	assert_int_equal(blockdev_pread(inner, buf, 1, 4, &err), -EIO);
	assert_non_null(strstr(err.message, "inner part"));
	blockdev_unref(inner);

	/* Windows outside the base. */
	assert_int_equal(blockdev_new_view(view, 4000, 97, &inner, &err), -EINVAL);
	assert_non_null(strstr(err.message, "exceeds"));
	assert_int_equal(blockdev_new_view(view, UINT64_MAX, 2, &inner, &err), -EINVAL);
	assert_int_equal(blockdev_new_view(view, 4096, 0, &inner, &err), 0);
	blockdev_unref(inner);
	blockdev_unref(view);
}

static int collect_extents(void *userdata, uint64_t offset, uint64_t length)
{
	uint64_t *v = userdata;

	if (v[0] >= 31)
		return -E2BIG;
	v[1 + 2 * v[0]] = offset;
	v[2 + 2 * v[0]] = length;
	v[0]++;
	return 0;
}

static int stop_at_first(void *userdata, uint64_t offset, uint64_t length)
{
	(*(int *)userdata)++;
	return -ECANCELED;
}

/* Overlay over a file, memory or side-file mode, checked against a model. */
static void check_overlay(struct fixture *f, bool side_file)
{
	struct herd_error err = {0};
	struct blockdev *base = NULL, *ov = NULL;
	/* Not a multiple of the 4 KiB chunk: the last chunk is partial. */
	size_t len = 64 * 1024 + 1000;
	uint8_t *orig = malloc(len), *model = malloc(len), *buf = malloc(len);
	char side[160], sha_before[65], sha[65];
	uint64_t ext[64] = {0};
	uint64_t seed = 99;

	fill_random(orig, len, 4);
	memcpy(model, orig, len);
	write_file(f->path, orig, len);
	file_sha256(f->path, sha_before);
	snprintf(side, sizeof(side), "%s/side", f->dir);

	assert_int_equal(blockdev_open_file(f->path, BLOCKDEV_READ_WRITE, &base, &err), 0);
	assert_int_equal(blockdev_new_overlay(base, side_file ? side : NULL, &ov, &err), 0);
	assert_true(blockdev_is_overlay(ov));
	assert_false(blockdev_is_overlay(base));
	assert_true(blockdev_writable(ov));
	assert_int_equal(blockdev_size(ov), len);
	assert_ptr_equal(blockdev_base(ov), base);
	if (side_file) {
		struct blockdev *again = NULL;
		assert_int_equal(access(side, F_OK), 0);
		/* O_EXCL: an existing side file is never reused. */
		assert_int_equal(blockdev_new_overlay(base, side, &again, &err), -EEXIST);
		assert_non_null(strstr(err.message, side));
	}

	/* Empty overlay: no extents, reads are the base. */
	assert_int_equal(blockdev_overlay_extents(ov, collect_extents, ext, &err), 0);
	assert_int_equal(ext[0], 0);
	assert_int_equal(blockdev_pread(ov, buf, len, 0, &err), 0);
	assert_memory_equal(buf, orig, len);

	/* Unaligned write across the chunk boundaries 4096 and 8192. */
	memset(model + 4000, 0xAA, 5000);
	assert_int_equal(blockdev_pwrite(ov, model + 4000, 5000, 4000, &err), 0);
	/* One byte inside the partial last chunk. */
	model[len - 1] ^= 0xFF;
	assert_int_equal(blockdev_pwrite(ov, model + len - 1, 1, len - 1, &err), 0);
	/* A whole aligned chunk. */
	memset(model + 20480, 0x55, 4096);
	assert_int_equal(blockdev_pwrite(ov, model + 20480, 4096, 20480, &err), 0);

	assert_int_equal(blockdev_pread(ov, buf, len, 0, &err), 0);
	assert_memory_equal(buf, model, len);
	/* Bytes around the edits come from the base (copied on first write). */
	assert_int_equal(blockdev_pread(ov, buf, 200, 3900, &err), 0);
	assert_memory_equal(buf, orig + 3900, 100);
	assert_int_equal(blockdev_pread(ov, buf, 100, 9000, &err), 0);
	assert_memory_equal(buf, orig + 9000, 100);

	assert_int_equal(blockdev_overlay_extents(ov, collect_extents, ext, &err), 0);
	assert_int_equal(ext[0], 3);
	assert_int_equal(ext[1], 0);
	assert_int_equal(ext[2], 12288);
	assert_int_equal(ext[3], 20480);
	assert_int_equal(ext[4], 4096);
	assert_int_equal(ext[5], 64 * 1024);
	assert_int_equal(ext[6], 1000);
	assert_int_equal(blockdev_overlay_dirty_bytes(ov), 12288 + 4096 + 1000);
	{
		int calls = 0;
		assert_int_equal(blockdev_overlay_extents(ov, stop_at_first, &calls, &err),
				 -ECANCELED);
		assert_int_equal(calls, 1);
	}

	/* Many random unaligned writes against the model. */
	for (int i = 0; i < 300; i++) {
		uint64_t off = rng_next(&seed) % len;
		size_t n = (size_t)(rng_next(&seed) % 9000);
		if (n > len - off)
			n = len - off;
		fill_random(model + off, n, rng_next(&seed));
		assert_int_equal(blockdev_pwrite(ov, model + off, n, off, &err), 0);
		if (i % 50 == 0) {
			assert_int_equal(blockdev_pread(ov, buf, len, 0, &err), 0);
			assert_memory_equal(buf, model, len);
		}
	}
	assert_int_equal(blockdev_pread(ov, buf, len, 0, &err), 0);
	assert_memory_equal(buf, model, len);
	/* Small reads at odd offsets merge base and overlay too. */
	for (size_t off = 1; off + 777 < len; off += 3001) {
		assert_int_equal(blockdev_pread(ov, buf, 777, off, &err), 0);
		assert_memory_equal(buf, model + off, 777);
	}

	/* Bounds. */
	assert_int_equal(blockdev_pwrite(ov, "x", 1, len, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "overlay of"));
	assert_int_equal(blockdev_pread(ov, buf, 2, len - 1, &err), -EIO);

	/* The base file is untouched until commit. */
	file_sha256(f->path, sha);
	assert_string_equal(sha, sha_before);
	assert_int_equal(blockdev_pread(base, buf, len, 0, &err), 0);
	assert_memory_equal(buf, orig, len);

	assert_int_equal(blockdev_overlay_commit(ov, &err), 0);
	memset(ext, 0, sizeof(ext));
	assert_int_equal(blockdev_overlay_extents(ov, collect_extents, ext, &err), 0);
	assert_int_equal(ext[0], 0);
	assert_int_equal(blockdev_overlay_dirty_bytes(ov), 0);
	assert_int_equal(blockdev_pread(ov, buf, len, 0, &err), 0);
	assert_memory_equal(buf, model, len);
	file_sha256(f->path, sha);
	assert_string_not_equal(sha, sha_before);
	{
		FILE *fp = fopen(f->path, "rbe");
		assert_non_null(fp);
		assert_int_equal(fread(buf, 1, len, fp), len);
		fclose(fp);
		assert_memory_equal(buf, model, len);
	}

	/* Discard drops changes without touching the base. */
	assert_int_equal(blockdev_pwrite(ov, "zz", 2, 10, &err), 0);
	assert_int_equal(blockdev_overlay_discard(ov, &err), 0);
	assert_int_equal(blockdev_pread(ov, buf, 2, 10, &err), 0);
	assert_memory_equal(buf, model + 10, 2);

	blockdev_unref(base); /* the overlay keeps it alive */
	blockdev_unref(ov);
	if (side_file)
		assert_int_equal(access(side, F_OK), -1);
	free(orig);
	free(model);
	free(buf);
}

static void test_overlay_memory(void **state)
{
	check_overlay(*state, false);
}

static void test_overlay_side_file(void **state)
{
	check_overlay(*state, true);
}

static void test_overlay_errors(void **state)
{
	struct fixture *f = *state;
	struct herd_error err = {0};
	struct blockdev *base = NULL, *ov = NULL, *mem = NULL;
	uint8_t data[5000] = {0}, buf[16];

	write_file(f->path, data, sizeof(data));
	assert_int_equal(blockdev_open_file(f->path, BLOCKDEV_READ_ONLY, &base, &err), 0);
	/* An overlay is writable even over a read-only base... */
	assert_int_equal(blockdev_new_overlay(base, NULL, &ov, &err), 0);
	assert_int_equal(blockdev_pwrite(ov, "abc", 3, 4095, &err), 0);
	assert_int_equal(blockdev_pread(ov, buf, 3, 4095, &err), 0);
	assert_memory_equal(buf, "abc", 3);
	/* ...but cannot be committed to it, and keeps its changes. */
	assert_int_equal(blockdev_overlay_commit(ov, &err), -EROFS);
	assert_non_null(strstr(err.message, "read-only"));
	assert_int_equal(blockdev_overlay_dirty_bytes(ov), 5000);
	blockdev_unref(ov);
	blockdev_unref(base);

	/* Side file in a directory that does not exist. */
	assert_int_equal(blockdev_new_memory(NULL, 100, &mem, &err), 0);
	assert_int_equal(blockdev_new_overlay(mem, "/nonexistent/side", &ov, &err), -ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent/side"));
	/* Overlay-only calls on other kinds. */
	assert_int_equal(blockdev_overlay_commit(mem, &err), -EINVAL);
	assert_int_equal(blockdev_overlay_extents(mem, collect_extents, buf, &err), -EINVAL);
	assert_int_equal(blockdev_overlay_dirty_bytes(mem), 0);

	/* Overlay over a view over a memory blockdev, committed into the view. */
	{
		struct blockdev *view = NULL;
		uint8_t all[100];
		assert_int_equal(blockdev_new_view(mem, 10, 50, &view, &err), 0);
		assert_int_equal(blockdev_new_overlay(view, NULL, &ov, &err), 0);
		assert_int_equal(blockdev_pwrite(ov, "0123456789", 10, 45, &err), -ENOSPC);
		assert_int_equal(blockdev_pwrite(ov, "01234", 5, 45, &err), 0);
		assert_int_equal(blockdev_pread(mem, all, 100, 0, &err), 0);
		for (int i = 0; i < 100; i++)
			assert_int_equal(all[i], 0);
		assert_int_equal(blockdev_overlay_commit(ov, &err), 0);
		assert_int_equal(blockdev_pread(mem, all, 100, 0, &err), 0);
		assert_memory_equal(all + 55, "01234", 5);
		assert_int_equal(all[54], 0);
		assert_int_equal(all[60], 0);
		blockdev_unref(ov);
		blockdev_unref(view);
	}
	blockdev_unref(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test_setup_teardown(test_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_direct, setup, teardown),
	    cmocka_unit_test(test_view),
	    cmocka_unit_test_setup_teardown(test_overlay_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_side_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
