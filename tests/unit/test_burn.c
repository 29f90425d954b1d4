/*
 * test_burn.c — the burn engine (burn/writer.c) with memory and file
 * targets: only the map (plus each card's overlay changes) is written,
 * files read zero elsewhere, hashes agree, verify names the first bad
 * offset, a failing target fails alone, a slow one holds back nobody, a
 * too-small target refuses the run before anything is written, cancel
 * leaves targets incomplete; and the hostname overlay (burn/customize.c)
 * on a sample image.
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

#include "burn/customize.h"
#include "burn/writer.h"
#include "image/image.h"

#define SRC_SIZE ((1u << 20) + 3 * 4096) /* not a multiple of the block size */
#define BS	 (64u << 10)

static char tmpdir[] = "/tmp/herd-test-burn.XXXXXX";

static unsigned char *pattern(void)
{
	unsigned char *p = malloc(SRC_SIZE);
	assert_non_null(p);
	for (size_t i = 0; i < SRC_SIZE; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
	return p;
}

static struct blockdev *memdev(const void *data, uint64_t size)
{
	struct blockdev *bd = NULL;
	assert_int_equal(blockdev_new_memory(data, size, &bd, NULL), 0);
	return bd;
}

static void sample_map(struct rangeset *map)
{
	assert_int_equal(rangeset_add(map, 0, 8192), 0);
	assert_int_equal(rangeset_add(map, 200000, 300000), 0); /* unaligned: rounded out */
	assert_int_equal(rangeset_add(map, SRC_SIZE - 4096, 4096), 0);
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static void test_writes_map_to_memory_and_file(void **state)
{
	unsigned char *src = pattern(), *other = malloc(SRC_SIZE + 8192), *back = malloc(SRC_SIZE),
		      *file;
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct rangeset map = RANGESET_INIT, plan = RANGESET_INIT;
	struct burn_target t[3] = {0};
	struct burn_options o = {.blocksize = BS, .verify = true};
	char path[256];
	size_t flen;

	memset(other, 0xee, SRC_SIZE + 8192);
	sample_map(&map);
	path_in_tmp(path, sizeof(path), "file-target");
	t[0].bd = memdev(other, SRC_SIZE + 8192); /* larger than the image: fine */
	t[1].bd = memdev(other, SRC_SIZE);
	t[2].path = path;
	assert_int_equal(burn_run(source, &map, t, 3, &o, NULL), 0);
	assert_int_equal(burn_plan_ranges(source, &map, t, 3, &plan, NULL), 0);
	assert_int_equal(rangeset_total(&plan), 8192 + (503808 - 196608) + 4096);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].state, BURN_TARGET_WRITTEN);
		assert_int_equal(t[i].verify, BURN_VERIFY_OK);
		assert_int_equal(t[i].bytes_written, rangeset_total(&plan));
		assert_int_equal(t[i].bytes_verified, rangeset_total(&plan));
		assert_string_equal(t[i].sha256, t[0].sha256);
	}
	/* The hash is a hash list: SHA-256 over each BS chunk's SHA-256. */
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned char d[32], cd[32];
		unsigned dl;
		char hex[65];
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		for (size_t i = 0; i < plan.count; i++)
			for (uint64_t off = plan.ranges[i].offset;
			     off < plan.ranges[i].offset + plan.ranges[i].length; off += BS) {
				uint64_t end = plan.ranges[i].offset + plan.ranges[i].length;
				size_t len = end - off < BS ? (size_t)(end - off) : BS;
				EVP_Digest(src + off, len, cd, &dl, EVP_sha256(), NULL);
				EVP_DigestUpdate(md, cd, 32);
			}
		EVP_DigestFinal_ex(md, d, &dl);
		EVP_MD_CTX_free(md);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		assert_string_equal(t[0].sha256, hex);
	}
	/* Memory target: the plan's bytes, everything else untouched. */
	assert_int_equal(blockdev_pread(t[1].bd, back, SRC_SIZE, 0, NULL), 0);
	for (size_t off = 0; off < SRC_SIZE; off++) {
		bool in = rangeset_covers(&plan, off, 1);
		if (back[off] != (in ? src[off] : 0xee))
			fail_msg("memory target: byte %zu is %u", off, back[off]);
	}
	/* File target: the image's size, the plan's bytes, zero elsewhere. */
	file = slurp(path, &flen);
	assert_int_equal(flen, SRC_SIZE);
	for (size_t off = 0; off < SRC_SIZE; off++) {
		bool in = rangeset_covers(&plan, off, 1);
		if (file[off] != (in ? src[off] : 0))
			fail_msg("file target: byte %zu is %u", off, file[off]);
	}
	free(file);
	/* --full (NULL map): byte-identical. */
	assert_int_equal(burn_run(source, NULL, &t[2], 1, &o, NULL), 0);
	file = slurp(path, &flen);
	assert_int_equal(flen, SRC_SIZE);
	assert_memory_equal(file, src, SRC_SIZE);
	free(file);
	unlink(path);
	for (int i = 0; i < 2; i++)
		blockdev_unref(t[i].bd);
	blockdev_unref(source);
	rangeset_free(&map);
	rangeset_free(&plan);
	free(src);
	free(other);
	free(back);
}

/* Zero sub-blocks are skipped on files (they are holes after the
 * truncate), yet an old file's bytes never survive there. */
static void test_file_zero_blocks_and_old_content(void **state)
{
	unsigned char *src = pattern(), *junk = malloc(SRC_SIZE), *file;
	struct blockdev *source;
	struct burn_target t = {0};
	struct burn_options o = {.blocksize = BS, .verify = true};
	struct stat st;
	char path[256];
	size_t flen;
	FILE *f;

	memset(src + 3 * BS, 0, 2 * BS + 4096); /* whole and partial zero sub-blocks */
	memset(src + 9 * BS + 100, 0, 20000);	/* zeros not covering a sub-block */
	source = memdev(src, SRC_SIZE);
	memset(junk, 0xff, SRC_SIZE);
	path_in_tmp(path, sizeof(path), "old");
	f = fopen(path, "wb");
	assert_int_equal(fwrite(junk, 1, SRC_SIZE, f), SRC_SIZE);
	fclose(f);
	t.path = path;
	assert_int_equal(burn_run(source, NULL, &t, 1, &o, NULL), 0);
	assert_int_equal(t.verify, BURN_VERIFY_OK);
	assert_int_equal(t.bytes_written, SRC_SIZE);
	file = slurp(path, &flen);
	assert_int_equal(flen, SRC_SIZE);
	assert_memory_equal(file, src, SRC_SIZE);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < SRC_SIZE); /* the zeros are holes */
	free(file);
	unlink(path);
	blockdev_unref(source);
	free(src);
	free(junk);
}

static void test_verify_names_first_bad_offset(void **state)
{
	unsigned char *src = pattern();
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct rangeset map = RANGESET_INIT;
	struct burn_target t[2] = {0};
	struct burn_options o = {.blocksize = BS};
	char path[2][256];
	uint64_t bad = 250001;
	int fd;

	sample_map(&map);
	path_in_tmp(path[0], sizeof(path[0]), "v0");
	path_in_tmp(path[1], sizeof(path[1]), "v1");
	t[0].path = path[0];
	t[1].path = path[1];
	assert_int_equal(burn_run(source, &map, t, 2, &o, NULL), 0);
	assert_int_equal(t[0].verify, BURN_VERIFY_NOT_RUN);
	/* Flip one byte inside the map in target 1, and one outside it in
	 * target 0 (not compared: nothing there matters). */
	fd = open(path[1], O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x00", 1, (off_t)bad), 1);
	close(fd);
	fd = open(path[0], O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, "\x55", 1, 100000), 1);
	close(fd);
	o.verify_only = true;
	assert_int_equal(burn_run(source, &map, t, 2, &o, NULL), -EIO);
	assert_int_equal(t[0].state, BURN_TARGET_WRITTEN);
	assert_int_equal(t[0].verify, BURN_VERIFY_OK);
	assert_int_equal(t[1].state, BURN_TARGET_MISMATCH);
	assert_int_equal(t[1].verify, BURN_VERIFY_MISMATCH);
	assert_int_equal(t[1].bad_offset, bad);
	assert_non_null(strstr(t[1].error.message, "offset 250001"));
	unlink(path[0]);
	unlink(path[1]);
	blockdev_unref(source);
	rangeset_free(&map);
	free(src);
}

/* The after_write hook: flip one byte of the file in hook_userdata. */
static void flip_byte(void *userdata)
{
	const char *path = userdata;
	unsigned char b;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, 300007), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, 300007), 1);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* A byte changed on the target after writing (flushed, before the verify
 * pass): the verify pass (read back on two lanes, compared with the
 * source) names it; the other target verifies. */
static void test_verify_after_write_catches_flip(void **state)
{
	unsigned char *src = pattern();
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct burn_target t[2] = {0};
	char path[2][256];
	struct burn_options o = {
	    .blocksize = BS, .verify = true, .after_write = flip_byte, .hook_userdata = path[1]};

	path_in_tmp(path[0], sizeof(path[0]), "f0");
	path_in_tmp(path[1], sizeof(path[1]), "f1");
	t[0].path = path[0];
	t[1].path = path[1];
	assert_int_equal(burn_run(source, NULL, t, 2, &o, NULL), -EIO);
	assert_int_equal(t[0].state, BURN_TARGET_WRITTEN);
	assert_int_equal(t[0].verify, BURN_VERIFY_OK);
	assert_int_equal(t[0].bytes_verified, SRC_SIZE);
	assert_int_equal(t[1].state, BURN_TARGET_MISMATCH);
	assert_int_equal(t[1].verify, BURN_VERIFY_MISMATCH);
	assert_int_equal(t[1].bad_offset, 300007);
	assert_non_null(strstr(t[1].error.message, "offset 300007"));
	/* Both hash lists are the same: the same bytes were written. */
	assert_string_equal(t[0].sha256, t[1].sha256);
	unlink(path[0]);
	unlink(path[1]);
	blockdev_unref(source);
	free(src);
}

static void test_failing_target_fails_alone(void **state)
{
	unsigned char *src = pattern(), *back = malloc(SRC_SIZE);
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct burn_target t[3] = {0};
	struct burn_options o = {.blocksize = BS, .verify = true, .queue_depth = 2};

	for (int i = 0; i < 3; i++)
		t[i].bd = memdev(NULL, SRC_SIZE);
	t[1].fault_after = 3 * BS; /* the fourth chunk fails */
	assert_int_equal(burn_run(source, NULL, t, 3, &o, NULL), -EIO);
	assert_int_equal(t[1].state, BURN_TARGET_FAILED);
	assert_int_equal(t[1].bytes_written, 3 * BS);
	assert_non_null(strstr(t[1].error.message, "injected"));
	for (int i = 0; i < 3; i += 2) {
		assert_int_equal(t[i].state, BURN_TARGET_WRITTEN);
		assert_int_equal(t[i].verify, BURN_VERIFY_OK);
		assert_int_equal(blockdev_pread(t[i].bd, back, SRC_SIZE, 0, NULL), 0);
		assert_memory_equal(back, src, SRC_SIZE);
	}
	for (int i = 0; i < 3; i++)
		blockdev_unref(t[i].bd);
	blockdev_unref(source);
	free(src);
	free(back);
}

/* Progress of the slow target (index 0) when the fast one (1) was done. */
struct pace {
	uint64_t slow_done;
	uint64_t slow_done_when_fast_finished;
	bool fast_finished;
};

static void pace_progress(void *userdata, size_t target, enum burn_phase phase, uint64_t done,
			  uint64_t total)
{
	struct pace *p = userdata;

	(void)total;
	if (target == 0 && phase == BURN_PHASE_WRITE)
		__atomic_store_n(&p->slow_done, done, __ATOMIC_SEQ_CST);
	if (target == 1 && phase == BURN_PHASE_DONE && !p->fast_finished) {
		p->fast_finished = true;
		p->slow_done_when_fast_finished = __atomic_load_n(&p->slow_done, __ATOMIC_SEQ_CST);
	}
}

/* A slow card does not hold back a fast one: the fast card is written
 * and verified while the slow one has written less than half, and both
 * end intact (the slow one reads on by itself once it falls behind). */
static void test_slow_target_does_not_stall_others(void **state)
{
	unsigned char *src = pattern(), *back = malloc(SRC_SIZE);
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct burn_target t[2] = {0};
	struct pace pace = {0};
	struct burn_options o = {.blocksize = BS,
				 .verify = true,
				 .queue_depth = 2,
				 .progress = pace_progress,
				 .userdata = &pace};

	for (int i = 0; i < 2; i++)
		t[i].bd = memdev(NULL, SRC_SIZE);
	t[0].write_delay_us = 40000; /* 17 chunks: about 0.7 s */
	assert_int_equal(burn_run(source, NULL, t, 2, &o, NULL), 0);
	assert_true(pace.fast_finished);
	assert_true(pace.slow_done_when_fast_finished < SRC_SIZE / 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t[i].state, BURN_TARGET_WRITTEN);
		assert_int_equal(t[i].verify, BURN_VERIFY_OK);
		assert_int_equal(blockdev_pread(t[i].bd, back, SRC_SIZE, 0, NULL), 0);
		assert_memory_equal(back, src, SRC_SIZE);
		blockdev_unref(t[i].bd);
	}
	/* The same hash list whichever way each target was fed. */
	assert_string_equal(t[0].sha256, t[1].sha256);
	blockdev_unref(source);
	free(src);
	free(back);
}

static void test_too_small_refused_before_writing(void **state)
{
	unsigned char *src = pattern();
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct burn_target t[2] = {0};
	struct herd_error err = {0};
	char path[256], *data;
	size_t len;
	FILE *f;

	path_in_tmp(path, sizeof(path), "keep");
	f = fopen(path, "w");
	fputs("hello", f);
	fclose(f);
	t[0].path = path;
	t[1].bd = memdev(NULL, SRC_SIZE - 4096);
	assert_int_equal(burn_run(source, NULL, t, 2, NULL, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "too small"));
	data = (char *)slurp(path, &len);
	assert_int_equal(len, 5); /* not truncated, not written */
	assert_memory_equal(data, "hello", 5);
	free(data);
	unlink(path);
	blockdev_unref(t[1].bd);
	blockdev_unref(source);
	free(src);
}

static void test_overlay_changes_only_its_target(void **state)
{
	unsigned char *src = pattern(), *back = malloc(SRC_SIZE);
	struct blockdev *source = memdev(src, SRC_SIZE), *overlay = NULL;
	struct rangeset map = RANGESET_INIT;
	struct burn_target t[2] = {0};
	struct burn_options o = {.blocksize = BS, .verify = true};

	assert_int_equal(rangeset_add(&map, 0, 4096), 0);
	assert_int_equal(blockdev_new_overlay(source, NULL, &overlay, NULL), 0);
	/* A change inside the map and one far outside it. */
	assert_int_equal(blockdev_pwrite(overlay, "AB", 2, 10, NULL), 0);
	assert_int_equal(blockdev_pwrite(overlay, "card", 4, 700000, NULL), 0);
	t[0].bd = memdev(NULL, SRC_SIZE);
	t[1].bd = memdev(NULL, SRC_SIZE);
	t[1].source = overlay;
	assert_int_equal(burn_run(source, &map, t, 2, &o, NULL), 0);
	assert_int_equal(blockdev_pread(t[1].bd, back, SRC_SIZE, 0, NULL), 0);
	assert_memory_equal(back + 10, "AB", 2);
	assert_memory_equal(back + 700000, "card", 4);
	assert_memory_equal(back + 12, src + 12, 4096 - 12);
	assert_int_equal(blockdev_pread(t[0].bd, back, SRC_SIZE, 0, NULL), 0);
	assert_memory_equal(back, src, 4096);		     /* the plain image */
	assert_memory_equal(back + 700000, src + 700000, 4); /* in the plan for everyone */
	assert_string_not_equal(t[0].sha256, t[1].sha256);
	/* The shared source is untouched. */
	assert_int_equal(blockdev_pread(source, back, 16, 0, NULL), 0);
	assert_memory_equal(back, src, 16);
	for (int i = 0; i < 2; i++)
		blockdev_unref(t[i].bd);
	blockdev_unref(overlay);
	blockdev_unref(source);
	rangeset_free(&map);
	free(src);
	free(back);
}

struct cancel_ctx {
	atomic_int flag;
};

static void cancel_on_progress(void *userdata, size_t target, enum burn_phase phase, uint64_t done,
			       uint64_t total)
{
	struct cancel_ctx *c = userdata;
	if (phase == BURN_PHASE_WRITE && done >= 2 * BS)
		atomic_store(&c->flag, 1);
}

static void test_cancel_leaves_incomplete(void **state)
{
	unsigned char *src = pattern();
	struct blockdev *source = memdev(src, SRC_SIZE);
	struct burn_target t[2] = {0};
	struct cancel_ctx c = {0};
	struct burn_options o = {.blocksize = BS,
				 .verify = true,
				 .queue_depth = 1,
				 .cancel = &c.flag,
				 .progress = cancel_on_progress,
				 .userdata = &c};

	t[0].bd = memdev(NULL, SRC_SIZE);
	t[1].bd = memdev(NULL, SRC_SIZE);
	assert_int_equal(burn_run(source, NULL, t, 2, &o, NULL), -EINTR);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t[i].state, BURN_TARGET_INCOMPLETE);
		assert_true(t[i].bytes_written < SRC_SIZE);
		blockdev_unref(t[i].bd);
	}
	blockdev_unref(source);
	free(src);
}

static void test_bad_options(void **state)
{
	struct blockdev *source = memdev(NULL, 8192);
	struct burn_target t = {.bd = memdev(NULL, 8192)};
	struct burn_options o = {.blocksize = 1000};

	assert_int_equal(burn_run(source, NULL, &t, 1, &o, NULL), -EINVAL);
	assert_int_equal(burn_run(source, NULL, &t, 0, NULL, NULL), -EINVAL);
	t.path = "/nonexistent"; /* both path and bd */
	assert_int_equal(burn_run(source, NULL, &t, 1, NULL, NULL), -EINVAL);
	blockdev_unref(t.bd);
	blockdev_unref(source);
}

static void set_setting(struct herd_settings *s, const char *key, const char *value)
{
	struct settings_origin origin = {.source = SETTINGS_SOURCE_FLAG};
	struct settings_context ctx = {0};
	struct herd_error err = {0};

	if (settings_set_text(s, settings_key_find(key), value, false, &ctx, &origin, &err) < 0)
		fail_msg("%s: %s", key, err.message);
}

static void test_settings_overlay(void **state)
{
	char img_path[256], cmd[600], *data = NULL;
	struct blockdev *file = NULL, *overlay = NULL;
	struct herd_settings s;
	struct herd_error err = {0};
	struct strv warnings = STRV_INIT;
	struct image *img = NULL;
	struct vfs *fs = NULL;
	size_t len;

	path_in_tmp(img_path, sizeof(img_path), "pi.img");
	snprintf(cmd, sizeof(cmd), "%s/scripts/make-sample-image.sh %s 160M 0 64 >/dev/null",
		 HERD_SOURCE_ROOT, img_path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(blockdev_open_file(img_path, BLOCKDEV_READ_ONLY, &file, NULL), 0);

	/* Nothing set: an empty overlay, nothing to write. */
	settings_init(&s);
	assert_false(burn_settings_any(&s));
	assert_int_equal(burn_prepare_target_overlay(file, "c", &s, NULL, &overlay, &err), 0);
	assert_int_equal(blockdev_overlay_dirty_bytes(overlay), 0);
	overlay = blockdev_unref(overlay);

	/* A bad value from outside the registry's validation is refused. */
	s.hostname = strdup("bad_name");
	s.origin[settings_key_index(settings_key_find("hostname"))].source = SETTINGS_SOURCE_FLAG;
	assert_int_equal(burn_prepare_target_overlay(file, "c", &s, NULL, &overlay, &err), -EINVAL);
	assert_null(overlay);
	settings_free(&s);

	/* Several settings in one overlay: hostname, locale, keymap. */
	settings_init(&s);
	set_setting(&s, "hostname", "red07");
	set_setting(&s, "locale", "en_GB.UTF-8");
	set_setting(&s, "keymap", "de");
	assert_true(burn_settings_any(&s));
	if (burn_prepare_target_overlay(file, "red07", &s, &warnings, &overlay, &err) < 0)
		fail_msg("overlay: %s", err.message);
	assert_true(blockdev_overlay_dirty_bytes(overlay) > 0);
	assert_int_equal(image_open_blockdev(overlay, IMAGE_READ_ONLY, &img, NULL), 0);
	assert_int_equal(image_mount(img, "root", false, &fs, NULL), 0);
	assert_int_equal(vfs_read_all(fs, "/etc/hostname", 4096, &data, &len, NULL), 0);
	assert_string_equal(data, "red07\n");
	free(data);
	assert_int_equal(vfs_read_all(fs, "/etc/hosts", 65536, &data, &len, NULL), 0);
	assert_non_null(strstr(data, "127.0.1.1\tred07\n"));
	assert_non_null(strstr(data, "localhost")); /* other lines kept */
	assert_null(strstr(strstr(data, "127.0.1.1") + 1, "127.0.1.1"));
	free(data);
	assert_int_equal(vfs_read_all(fs, "/etc/default/locale", 4096, &data, &len, NULL), 0);
	assert_non_null(strstr(data, "LANG=en_GB.UTF-8"));
	free(data);
	assert_int_equal(vfs_read_all(fs, "/etc/default/keyboard", 4096, &data, &len, NULL), 0);
	assert_non_null(strstr(data, "XKBLAYOUT=\"de\""));
	free(data);
	vfs_close(fs, NULL);
	image_close(img);
	settings_free(&s);
	strv_free(&warnings);
	blockdev_unref(overlay);
	blockdev_unref(file);
	unlink(img_path);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writes_map_to_memory_and_file),
	    cmocka_unit_test(test_file_zero_blocks_and_old_content),
	    cmocka_unit_test(test_verify_names_first_bad_offset),
	    cmocka_unit_test(test_verify_after_write_catches_flip),
	    cmocka_unit_test(test_failing_target_fails_alone),
	    cmocka_unit_test(test_slow_target_does_not_stall_others),
	    cmocka_unit_test(test_too_small_refused_before_writing),
	    cmocka_unit_test(test_overlay_changes_only_its_target),
	    cmocka_unit_test(test_cancel_leaves_incomplete),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_settings_overlay),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
