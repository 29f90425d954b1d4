/*
 * test_store_unpack.c — the sparse sink and every decompressor of
 * store/unpack.c on small generated images, compressed by the real tools
 * (xz, zstd, gzip, bzip2, zip) as independent witnesses.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
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

#include "store/sink.h"
#include "store/unpack.h"

#define IMG_SIZE (6u << 20)

static char tmpdir[] = "/tmp/herd-test-unpack.XXXXXX";
static unsigned char *image;
static char image_sha[STORE_SHA256_HEX];
static uint64_t image_nonzero;

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void sha256_of(const void *p, size_t len, char ret[STORE_SHA256_HEX])
{
	unsigned char d[32];
	unsigned int n = 0;
	EVP_Digest(p, len, d, &n, EVP_sha256(), NULL);
	store_sha256_hex(d, ret);
}

static void file_sha256(const char *p, char ret[STORE_SHA256_HEX])
{
	FILE *f = fopen(p, "rb");
	unsigned char *buf = malloc(64u << 20);
	size_t n;
	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 64u << 20, f);
	fclose(f);
	sha256_of(buf, n, ret);
	free(buf);
}

/* An "image": runs of zeros between blocks of pseudo-random and text data. */
static int setup(void **state)
{
	char p[512];
	FILE *f;
	uint32_t x = 12345;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	image = calloc(1, IMG_SIZE);
	if (!image)
		return -1;
	for (size_t off = 0; off < IMG_SIZE; off += 256 * 1024) {
		size_t len = (off / 4096) % 3 == 0 ? 70000 : 5000;
		for (size_t i = 0; i < len && off + 1000 + i < IMG_SIZE; i++) {
			x = x * 1103515245u + 12345u;
			image[off + 1000 + i] = (i % 7 == 0) ? (unsigned char)(x >> 24) : 'a';
		}
	}
	image[IMG_SIZE - 1] = 0; /* trailing zeros must become a hole, not be lost */
	for (size_t b = 0; b < IMG_SIZE; b += 4096)
		if (!store_is_zero(image + b, 4096))
			image_nonzero += 4096;
	sha256_of(image, IMG_SIZE, image_sha);
	path(p, sizeof(p), "disk.img");
	f = fopen(p, "wb");
	if (!f || fwrite(image, 1, IMG_SIZE, f) != IMG_SIZE || fclose(f) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	free(image);
	return system(cmd) == 0 ? 0 : -1;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Unpack `name` and compare with the image; returns the result code. */
static int unpack(const char *name, enum store_format want_format, struct herd_error *err)
{
	char in[512], out[512], dl_sha[STORE_SHA256_HEX];
	struct store_unpack_result res;
	struct stat st;
	int ifd, ofd, r;

	path(in, sizeof(in), name);
	path(out, sizeof(out), "out.raw");
	unlink(out);
	ifd = open(in, O_RDONLY | O_CLOEXEC);
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(ifd >= 0 && ofd >= 0);
	r = store_unpack_fd(ifd, ofd, 2, NULL, NULL, &res, err);
	close(ifd);
	if (r == 0) {
		unsigned char *got = malloc(IMG_SIZE + 1);
		assert_non_null(got);
		assert_int_equal(fstat(ofd, &st), 0);
		assert_int_equal(st.st_size, IMG_SIZE);
		assert_int_equal(pread(ofd, got, IMG_SIZE + 1, 0), IMG_SIZE);
		assert_memory_equal(got, image, IMG_SIZE);
		free(got);
		assert_int_equal(res.format, want_format);
		assert_string_equal(res.raw_sha256, image_sha);
		assert_int_equal(res.raw_size, IMG_SIZE);
		assert_int_equal(res.raw_written, image_nonzero);
		file_sha256(in, dl_sha);
		assert_string_equal(res.download_sha256, dl_sha);
		/* Sparse: what is allocated is about the non-zero blocks. */
		assert_true((uint64_t)st.st_blocks * 512 <= image_nonzero + 64 * 1024);
	}
	close(ofd);
	return r;
}

static void test_formats(void **state)
{
	struct herd_error err = {0};
	(void)state;

	assert_int_equal(unpack("disk.img", STORE_FORMAT_RAW, &err), 0);
	assert_int_equal(run("cd %s && xz -k -T1 -c disk.img > single.xz", tmpdir), 0);
	assert_int_equal(unpack("single.xz", STORE_FORMAT_XZ, &err), 0);
	assert_int_equal(run("cd %s && xz -k -T2 --block-size=1MiB -c disk.img > multi.xz", tmpdir),
			 0);
	assert_int_equal(unpack("multi.xz", STORE_FORMAT_XZ, &err), 0);
	/* 64 KiB blocks: many are all zero and byte-identical, so the
	 * block-parallel path decodes one and knows the rest. */
	assert_int_equal(
	    run("cd %s && xz -k -T2 --block-size=64KiB -c disk.img > multi64.xz", tmpdir), 0);
	assert_int_equal(unpack("multi64.xz", STORE_FORMAT_XZ, &err), 0);
	/* Two concatenated streams, several blocks each. */
	assert_int_equal(run("cd %s && head -c 3145728 disk.img | xz -T2 --block-size=512KiB > "
			     "cat.xz && tail -c +3145729 disk.img | xz -T2 --block-size=256KiB >> "
			     "cat.xz",
			     tmpdir),
			 0);
	assert_int_equal(unpack("cat.xz", STORE_FORMAT_XZ, &err), 0);
	assert_int_equal(run("cd %s && zstd -q -c disk.img > disk.zst", tmpdir), 0);
	assert_int_equal(unpack("disk.zst", STORE_FORMAT_ZSTD, &err), 0);
	assert_int_equal(run("cd %s && gzip -c disk.img > disk.gz", tmpdir), 0);
	assert_int_equal(unpack("disk.gz", STORE_FORMAT_GZIP, &err), 0);
	assert_int_equal(run("cd %s && bzip2 -c disk.img > disk.bz2", tmpdir), 0);
	assert_int_equal(unpack("disk.bz2", STORE_FORMAT_BZIP2, &err), 0);
	assert_int_equal(run("cd %s && echo readme > README.txt && zip -q disk.zip README.txt "
			     "disk.img",
			     tmpdir),
			 0);
	assert_int_equal(unpack("disk.zip", STORE_FORMAT_ZIP, &err), 0);
}

static void test_bad_inputs(void **state)
{
	struct herd_error err = {0};
	(void)state;

	/* Flip bytes in the middle of an xz stream. */
	assert_int_equal(run("cd %s && xz -c disk.img > bad.xz && printf 'XXXXXXXX' | dd of=bad.xz "
			     "bs=1 seek=2000 conv=notrunc status=none",
			     tmpdir),
			 0);
	assert_int_equal(unpack("bad.xz", STORE_FORMAT_XZ, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "xz"));
	herd_error_clear(&err);
	/* The same in a multi-block file: in a data block, and in one of the
	 * all-zero blocks (no longer identical to the others: decoded, caught). */
	assert_int_equal(
	    run("cd %s && cp multi64.xz bad64.xz && printf 'XXXXXXXX' | dd of=bad64.xz "
		"bs=1 seek=3000 conv=notrunc status=none",
		tmpdir),
	    0);
	assert_int_equal(unpack("bad64.xz", STORE_FORMAT_XZ, &err), -EBADMSG);
	herd_error_clear(&err);
	assert_int_equal(run("cd %s && cp multi64.xz badz.xz && size=$(stat -c %%s badz.xz) && "
			     "printf 'X' | dd of=badz.xz bs=1 seek=$((size * 3 / 4)) conv=notrunc "
			     "status=none",
			     tmpdir),
			 0);
	assert_true(unpack("badz.xz", STORE_FORMAT_XZ, &err) < 0);
	herd_error_clear(&err);
	assert_int_equal(run("cd %s && head -c $(( $(stat -c %%s multi64.xz) - 100 )) multi64.xz > "
			     "short64.xz",
			     tmpdir),
			 0);
	assert_true(unpack("short64.xz", STORE_FORMAT_XZ, &err) < 0);
	herd_error_clear(&err);
	assert_int_equal(run("cd %s && head -c 3000 single.xz > short.xz", tmpdir), 0);
	assert_true(unpack("short.xz", STORE_FORMAT_XZ, &err) < 0);
	herd_error_clear(&err);
	assert_int_equal(run("cd %s && head -c 3000 disk.zst > short.zst", tmpdir), 0);
	assert_true(unpack("short.zst", STORE_FORMAT_ZSTD, &err) < 0);
	herd_error_clear(&err);
	assert_int_equal(run("cd %s && zip -q noimg.zip README.txt", tmpdir), 0);
	assert_int_equal(unpack("noimg.zip", STORE_FORMAT_ZIP, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no .img"));
}

static void test_disk_full(void **state)
{
	struct herd_error err = {0};
	struct store_unpack_result res;
	char in[512];
	int ifd, ofd;
	(void)state;

	/* /dev/full fails every write with ENOSPC, like a full store disk. */
	path(in, sizeof(in), "disk.img");
	ifd = open(in, O_RDONLY | O_CLOEXEC);
	ofd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (ofd < 0) {
		close(ifd);
		skip();
	}
	assert_int_equal(store_unpack_fd(ifd, ofd, 1, NULL, NULL, &res, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "No space left"));
	close(ifd);
	close(ofd);
}

static void test_sink_chunks(void **state)
{
	char out[512], sha[STORE_SHA256_HEX];
	struct store_sink sink;
	struct stat st;
	unsigned char *got = malloc(IMG_SIZE);
	size_t off = 0, step = 1;
	int fd;

	(void)state;
	path(out, sizeof(out), "sink.raw");
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_non_null(got);
	assert_int_equal(store_sink_init(&sink, fd, NULL), 0);
	/* Odd chunk sizes: holes must still follow absolute 4 KiB blocks. */
	while (off < IMG_SIZE) {
		size_t n = step < IMG_SIZE - off ? step : IMG_SIZE - off;
		assert_int_equal(store_sink_write(&sink, image + off, n, NULL), 0);
		off += n;
		step = step * 3 + 7;
		if (step > 300000)
			step = 1;
	}
	assert_int_equal(store_sink_finish(&sink, sha, NULL), 0);
	store_sink_free(&sink);
	assert_string_equal(sha, image_sha);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SIZE);
	assert_int_equal(pread(fd, got, IMG_SIZE, 0), IMG_SIZE);
	assert_memory_equal(got, image, IMG_SIZE);
	assert_true((uint64_t)st.st_blocks * 512 <= image_nonzero + 64 * 1024);
	assert_true(sink.written <= image_nonzero && sink.written > image_nonzero / 2);
	close(fd);
	free(got);
}

static void test_detect_and_zero(void **state)
{
	unsigned char z[100] = {0};
	(void)state;

	assert_int_equal(store_detect_format("\xfd"
					     "7zXZ\0\0",
					     7),
			 STORE_FORMAT_XZ);
	assert_int_equal(store_detect_format("\x28\xb5\x2f\xfd", 4), STORE_FORMAT_ZSTD);
	assert_int_equal(store_detect_format("\x1f\x8b\x08", 3), STORE_FORMAT_GZIP);
	assert_int_equal(store_detect_format("BZh9", 4), STORE_FORMAT_BZIP2);
	assert_int_equal(store_detect_format("BZhx", 4), STORE_FORMAT_RAW);
	assert_int_equal(store_detect_format("PK\3\4", 4), STORE_FORMAT_ZIP);
	assert_int_equal(store_detect_format("", 0), STORE_FORMAT_RAW);
	assert_true(store_is_zero(z, sizeof(z)));
	assert_true(store_is_zero(z, 3));
	z[99] = 1;
	assert_false(store_is_zero(z, sizeof(z)));
	z[99] = 0;
	z[2] = 1;
	assert_false(store_is_zero(z, 5));
	assert_string_equal(store_format_name(STORE_FORMAT_ZSTD), "zstd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect_and_zero), cmocka_unit_test(test_sink_chunks),
	    cmocka_unit_test(test_formats),	    cmocka_unit_test(test_bad_inputs),
	    cmocka_unit_test(test_disk_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
