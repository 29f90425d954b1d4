/*
 * test_build.c — build/: the output sink (sparse raw file with holes where
 * zero, zstd and multi-block xz streams that decompress to the same bytes,
 * the SHA-256 of both sides), the settings digest (stable, sensitive to
 * values and to key file content, not to key file paths), and build_run()
 * on a sample image: one file per host with its hostname, the base left
 * unchanged, raw output equal to the decompressed xz/zstd output, a failing
 * host leaving no file while the others build, and the manifest.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <cmocka.h>

#include "sample_testlib.h"

#include "build/build.h"
#include "build/build_internal.h"
#include "config/settings.h"
#include "image/image.h"

static char outdir[300], keyfile[300], keyfile2[300];

static unsigned char *read_local(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf;
	size_t got = 0;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	*ret_len = got;
	return buf;
}

static int setup(void **state)
{
	/* Reproducible timestamps: two builds of one host are byte-identical. */
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	if (sample_setup("build") < 0)
		return -1;
	snprintf(outdir, sizeof(outdir), "%s/out", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pub", tmpdir);
	snprintf(keyfile2, sizeof(keyfile2), "%s/moved.pub", tmpdir);
	write_local(keyfile, ED25519 " me@laptop\n");
	write_local(keyfile2, ED25519 " me@laptop\n");
	mkdir(outdir, 0755);
	return 0;
}

static int teardown(void **state)
{
	sample_teardown();
	return 0;
}

/* A 3 MiB stream: data, a long zero run, data at an unaligned end. */
static unsigned char *pattern(size_t *ret_len)
{
	size_t len = (3u << 20) + 1000;
	unsigned char *p = calloc(1, len);

	assert_non_null(p);
	for (size_t i = 0; i < 70000; i++)
		p[i] = (unsigned char)(i * 31 + 7);
	for (size_t i = len - 5000; i < len; i++)
		p[i] = (unsigned char)(i ^ 0x5a);
	*ret_len = len;
	return p;
}

static void sink_file(enum build_compress c, const unsigned char *data, size_t len,
		      const char *path, char raw_sha[BUILD_SHA256_HEX],
		      char file_sha[BUILD_SHA256_HEX], uint64_t *file_size)
{
	struct herd_error err = {0};
	struct build_sink *s = NULL;
	uint64_t written = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(build_sink_new(fd, c, len, 0, 2, 1u << 20, &s, &err), 0);
	/* Feed in odd pieces, marking the known-zero middle as such. */
	assert_int_equal(build_sink_write(s, data, 70001, false, &err), 0);
	assert_int_equal(
	    build_sink_write(s, data + 70001, len - 5000 - 70001, c == BUILD_COMPRESS_NONE, &err),
	    0);
	assert_int_equal(build_sink_write(s, data + len - 5000, 5000, false, &err), 0);
	assert_int_equal(build_sink_write(s, data, 1, false, &err), -EINVAL);
	assert_int_equal(build_sink_finish(s, raw_sha, file_sha, file_size, &written, &err), 0);
	build_sink_free(s);
	close(fd);
}

static void test_sink_raw_sparse(void **state)
{
	char path[400], raw_sha[BUILD_SHA256_HEX], file_sha[BUILD_SHA256_HEX], cmd[600];
	uint64_t fsize = 0;
	size_t len, got;
	unsigned char *data = pattern(&len), *back;
	struct stat st;

	snprintf(path, sizeof(path), "%s/raw.bin", tmpdir);
	sink_file(BUILD_COMPRESS_NONE, data, len, path, raw_sha, file_sha, &fsize);
	back = read_local(path, &got);
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);
	assert_int_equal(fsize, len);
	assert_string_equal(raw_sha, file_sha);
	assert_int_equal(stat(path, &st), 0);
	/* Holes: far fewer blocks than the 3 MiB length. */
	assert_true((uint64_t)st.st_blocks * 512 < 512u << 10);
	snprintf(cmd, sizeof(cmd), "test \"$(sha256sum < %s | cut -c1-64)\" = %s", path, raw_sha);
	run("%s", cmd);
	free(back);
	free(data);
}

static void test_sink_xz_multiblock(void **state)
{
	char path[400], raw_sha[BUILD_SHA256_HEX], file_sha[BUILD_SHA256_HEX];
	uint64_t fsize = 0;
	size_t len, got;
	unsigned char *data = pattern(&len), *xz;
	lzma_index *idx = NULL;
	uint64_t memlimit = UINT64_MAX;
	size_t pos = 0;

	snprintf(path, sizeof(path), "%s/out.xz", tmpdir);
	sink_file(BUILD_COMPRESS_XZ, data, len, path, raw_sha, file_sha, &fsize);
	xz = read_local(path, &got);
	assert_int_equal(got, fsize);
	unsigned char *out = malloc(len);
	size_t in_pos = 0, out_pos = 0;
	assert_int_equal(
	    lzma_stream_buffer_decode(&memlimit, 0, NULL, xz, &in_pos, got, out, &out_pos, len),
	    LZMA_OK);
	assert_int_equal(out_pos, len);
	assert_memory_equal(out, data, len);
	/* The index (before the 12-byte footer) lists one block per MiB. */
	lzma_stream_flags flags;
	assert_int_equal(lzma_stream_footer_decode(&flags, xz + got - 12), LZMA_OK);
	size_t index_start = got - 12 - flags.backward_size;
	memlimit = UINT64_MAX;
	assert_int_equal(lzma_index_buffer_decode(&idx, &memlimit, NULL, xz + index_start, &pos,
						  flags.backward_size),
			 LZMA_OK);
	assert_int_equal(lzma_index_block_count(idx), 4);
	lzma_index_end(idx, NULL);
	assert_string_not_equal(raw_sha, file_sha);
	free(out);
	free(xz);
	free(data);
}

static void test_sink_zstd(void **state)
{
	char path[400], raw_sha[BUILD_SHA256_HEX], file_sha[BUILD_SHA256_HEX],
	    raw_sha2[BUILD_SHA256_HEX];
	uint64_t fsize = 0;
	size_t len, got;
	unsigned char *data = pattern(&len), *z;

	snprintf(path, sizeof(path), "%s/out.zst", tmpdir);
	sink_file(BUILD_COMPRESS_ZSTD, data, len, path, raw_sha, file_sha, &fsize);
	z = read_local(path, &got);
	assert_int_equal(got, fsize);
	assert_int_equal(ZSTD_getFrameContentSize(z, got), len);
	unsigned char *out = malloc(len);
	assert_int_equal(ZSTD_decompress(out, len, z, got), len);
	assert_memory_equal(out, data, len);
	/* Raw hash is the same whatever the compression. */
	snprintf(path, sizeof(path), "%s/raw2.bin", tmpdir);
	sink_file(BUILD_COMPRESS_NONE, data, len, path, raw_sha2, file_sha, &fsize);
	assert_string_equal(raw_sha, raw_sha2);
	free(out);
	free(z);
	free(data);
}

static void test_compress_names(void **state)
{
	enum build_compress c;

	assert_int_equal(build_compress_parse("xz", &c), 0);
	assert_int_equal(c, BUILD_COMPRESS_XZ);
	assert_int_equal(build_compress_parse("zstd", &c), 0);
	assert_int_equal(c, BUILD_COMPRESS_ZSTD);
	assert_int_equal(build_compress_parse("none", &c), 0);
	assert_int_equal(c, BUILD_COMPRESS_NONE);
	assert_int_equal(build_compress_parse("gzip", &c), -EINVAL);
	assert_string_equal(build_compress_suffix(BUILD_COMPRESS_XZ), ".img.xz");
	assert_string_equal(build_compress_name(BUILD_COMPRESS_ZSTD), "zstd");
}

static void test_settings_digest(void **state)
{
	struct herd_settings a, b;
	char da[BUILD_SHA256_HEX], db[BUILD_SHA256_HEX];

	settings_init(&a);
	settings_init(&b);
	set(&a, "hostname", "red01");
	set(&a, "ssh.authorized_keys", keyfile);
	set(&b, "hostname", "red01");
	set(&b, "ssh.authorized_keys", keyfile2);
	assert_int_equal(build_settings_digest(&a, da, NULL), 0);
	assert_int_equal(build_settings_digest(&b, db, NULL), 0);
	assert_int_equal(strlen(da), 64);
	/* Same key content at another path: same digest. */
	assert_string_equal(da, db);
	/* The image setting does not count. */
	set(&b, "image", "/somewhere/else.img");
	assert_int_equal(build_settings_digest(&b, db, NULL), 0);
	assert_string_equal(da, db);
	/* A changed value does. */
	set(&b, "hostname", "red02");
	assert_int_equal(build_settings_digest(&b, db, NULL), 0);
	assert_string_not_equal(da, db);
	/* So does changed key content. */
	set(&b, "hostname", "red01");
	write_local(keyfile2, ED25519 " other@laptop\n");
	assert_int_equal(build_settings_digest(&b, db, NULL), 0);
	assert_string_not_equal(da, db);
	write_local(keyfile2, ED25519 " me@laptop\n");
	settings_free(&a);
	settings_free(&b);
}

static void test_build_run(void **state)
{
	struct herd_settings s[3];
	struct build_host hosts[3] = {0};
	const char *names[] = {"red01", "red02", "red03"};
	struct build_options opts = {.out_dir = outdir, .jobs = 2, .fail_host = 3};
	struct herd_error err = {0};
	char path[1000], before[80], after[80];
	FILE *p;

	snprintf(path, sizeof(path), "sha256sum < %s", sample);
	p = popen(path, "r");
	assert_non_null(fgets(before, sizeof(before), p));
	pclose(p);
	for (size_t i = 0; i < 3; i++) {
		settings_init(&s[i]);
		set(&s[i], "hostname", names[i]);
		set(&s[i], "ssh.authorized_keys", keyfile);
		hosts[i].name = names[i];
		hosts[i].settings = &s[i];
		hosts[i].image_path = sample;
	}
	assert_int_equal(build_run(hosts, 3, &opts, &err), -EIO);
	assert_true(hosts[0].ok);
	assert_true(hosts[1].ok);
	assert_false(hosts[2].ok);
	assert_non_null(strstr(herd_error_message(&hosts[2].error), "injected"));
	/* The failed host left nothing behind, not even a temporary file. */
	snprintf(path, sizeof(path), "test -z \"$(ls -A %s | grep red03)\"", outdir);
	run("%s", path);
	for (size_t i = 0; i < 2; i++) {
		char *hn;
		snprintf(path, sizeof(path), "%s/%s", outdir, hosts[i].file);
		assert_string_equal(hosts[i].file, i ? "red02.img" : "red01.img");
		hn = image_get(path, "root", "/etc/hostname");
		assert_non_null(hn);
		assert_true(strncmp(hn, names[i], 5) == 0);
		free(hn);
		assert_int_equal(strlen(hosts[i].image_sha256), 64);
		assert_string_equal(hosts[i].raw_sha256, hosts[i].file_sha256);
		run("test \"$(sha256sum < %s | cut -c1-64)\" = %s", path, hosts[i].raw_sha256);
	}
	assert_string_not_equal(hosts[0].raw_sha256, hosts[1].raw_sha256);
	assert_string_not_equal(hosts[0].settings_sha256, hosts[1].settings_sha256);
	/* The base is unchanged and its hash is what sha256sum says. */
	snprintf(path, sizeof(path), "sha256sum < %s", sample);
	p = popen(path, "r");
	assert_non_null(fgets(after, sizeof(after), p));
	pclose(p);
	assert_string_equal(before, after);
	assert_memory_equal(hosts[0].image_sha256, before, 64);

	/* The manifest. */
	struct build_manifest_info info = {.herd_version = "test", .build_time = 86400};
	assert_int_equal(build_manifest_write(outdir, &info, hosts, 3, &err), 0);
	snprintf(path, sizeof(path), "%s/manifest.json", outdir);
	json_error_t jerr;
	json_t *m = json_load_file(path, 0, &jerr);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "build_time")),
			    "1970-01-02T00:00:00Z");
	json_t *arr = json_object_get(m, "hosts");
	assert_int_equal(json_array_size(arr), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(arr, 1), "raw_sha256")),
	    hosts[1].raw_sha256);
	assert_true(json_is_false(json_object_get(json_array_get(arr, 2), "ok")));
	json_decref(m);

	/* xz of the same host decompresses to the raw output. */
	struct build_options xo = {.out_dir = outdir, .compress = BUILD_COMPRESS_XZ, .level = 1};
	struct build_host x = {.name = "red01", .settings = &s[0], .image_path = sample};
	assert_int_equal(build_run(&x, 1, &xo, &err), 0);
	assert_string_equal(x.raw_sha256, hosts[0].raw_sha256);
	run("xz -dc %s/red01.img.xz | cmp - %s/red01.img", outdir, outdir);
	struct build_options zo = {.out_dir = outdir, .compress = BUILD_COMPRESS_ZSTD};
	struct build_host z = {.name = "red01", .settings = &s[0], .image_path = sample};
	assert_int_equal(build_run(&z, 1, &zo, &err), 0);
	run("zstd -qdc %s/red01.img.zst | cmp - %s/red01.img", outdir, outdir);
	build_hosts_clear(&x, 1);
	build_hosts_clear(&z, 1);

	/* Bad input: a missing output directory, a bad host name. */
	struct build_options bad = {.out_dir = "/nonexistent/dir"};
	assert_int_equal(build_run(&x, 1, &bad, &err), -ENOENT);
	struct build_host bh = {.name = "bad_name", .settings = &s[0], .image_path = sample};
	assert_int_equal(build_run(&bh, 1, &opts, &err), -EINVAL);
	build_hosts_clear(hosts, 3);
	for (size_t i = 0; i < 3; i++)
		settings_free(&s[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_raw_sparse), cmocka_unit_test(test_sink_xz_multiblock),
	    cmocka_unit_test(test_sink_zstd),	    cmocka_unit_test(test_compress_names),
	    cmocka_unit_test(test_settings_digest), cmocka_unit_test(test_build_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
