/*
 * sample_testlib.h — the fixture of the unit tests that work on a sample
 * image (test_recipe_plan.c, test_recipe_system.c, test_build.c,
 * test_firstboot.c, test_check.c): a scratch directory holding
 * scripts/make-sample-image.sh's image and a work copy to change,
 * settings set the way `--set NAME=VALUE` sets them, small local files,
 * and files put into or read back out of an image through libherd (vfs).
 * A test's own variants of the sample (bullseye, no NetworkManager, a
 * customized one) stay in the test.
 *
 * Header-only, like run_testlib.h: each test is its own program, so the
 * fixture's paths are file-scope statics here.  Include it after
 * <cmocka.h>; a test's setup() calls sample_setup(), its teardown()
 * sample_teardown().
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_testlib.h"

#include "config/settings.h"
#include "image/image.h"
#include "recipe/recipe.h"

/* The key every sample-image test authorizes (write it to a key file). */
#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz4gSSpo0cUUMdHvyGxW7dFXNKSD5fk8ZVjR1fQDnKe"

/* tmpdir: the scratch directory; sample: the pristine sample image in it;
 * img: the work copy that fresh() makes and the tests change. */
static char tmpdir[256] __attribute__((unused));
static char sample[300] __attribute__((unused));
static char img[300] __attribute__((unused));

/* Make /tmp/herd-test-NAME.XXXXXX with sample.img in it (160 MiB, no
 * fill, a 64 MiB boot partition: small, still FAT32).  -1 when the
 * directory cannot be made (cmocka then skips the group). */
static inline int sample_setup(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/herd-test-%s.XXXXXX", name);
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sample, sizeof(sample), "%s/sample.img", tmpdir);
	snprintf(img, sizeof(img), "%s/work.img", tmpdir);
	run(HERD_SOURCE_ROOT "/scripts/make-sample-image.sh %s 160M 0 64 >/dev/null", sample);
	return 0;
}

static inline void sample_teardown(void)
{
	run("rm -rf %s", tmpdir);
}

/* A copy of an image file that keeps its holes (images are mostly zero). */
static inline void copy_image(const char *from, const char *to)
{
	run("cp --sparse=always %s %s", from, to);
}

/* Start over: img becomes a copy of base. */
static inline void fresh(const char *base)
{
	copy_image(base, img);
}

static inline void write_local(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* One setting as `--set NAME=VALUE` gives it: a list named twice grows
 * (settings_cli.c passes append too), relative paths are under tmpdir. */
static inline void set(struct herd_settings *s, const char *name, const char *value)
{
	struct settings_context ctx = {.base_dir = tmpdir};
	struct settings_origin origin = {.source = SETTINGS_SOURCE_FLAG};
	struct herd_error err = {0};

	if (settings_set_text(s, settings_key_find(name), value, true, &ctx, &origin, &err) < 0)
		fail_msg("%s=%s: %s", name, value, err.message);
}

/* The contents of PART:PATH in an image (malloc'd, NUL-terminated), or
 * NULL when it cannot be read (absent, a directory, over 1 MiB). */
static inline char *image_get(const char *image, const char *part, const char *path)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;
	char *data = NULL;

	assert_int_equal(image_open(image, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, part, false, &fs, &err), 0);
	if (vfs_read_all(fs, path, 1u << 20, &data, NULL, &err) < 0)
		data = NULL;
	vfs_close(fs, NULL);
	image_close(im);
	return data;
}

/* Change PART:PATH inside an image through vfs (for building variants of
 * the sample): write text (mode 0644, root-owned), or with text NULL
 * remove the directory or file. */
static inline void image_put(const char *image, const char *part, const char *path,
			     const char *text)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;

	assert_int_equal(image_open(image, IMAGE_WRITABLE, &im, &err), 0);
	assert_int_equal(image_mount(im, part, true, &fs, &err), 0);
	if (text)
		assert_int_equal(vfs_write(fs, path, text, strlen(text),
					   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, &err),
				 0);
	else if (vfs_rmdir(fs, path, NULL) < 0)
		assert_int_equal(vfs_unlink(fs, path, &err), 0);
	assert_int_equal(vfs_close(fs, &err), 0);
	assert_int_equal(image_commit(im, &err), 0);
	image_close(im);
}

/* recipe_customize() on img: it must return want, and with fragment set
 * the error message must contain it.  The recipe, for the caller to free. */
static inline struct recipe *customize(const struct herd_settings *s, int want,
				       const struct recipe_exec_options *opt, const char *fragment)
{
	struct herd_error err = {0};
	struct recipe *r = NULL;
	int got = recipe_customize(img, s, false, opt, &r, &err);

	if (got != want)
		fail_msg("customize: %d, want %d: %s", got, want, err.message);
	if (fragment && !strstr(err.message, fragment))
		fail_msg("error '%s' lacks '%s'", err.message, fragment);
	return r;
}

/* img's root:PATH is a symlink to target; target "" means PATH must not
 * exist. */
static inline void expect_link(const char *path, const char *target)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;
	struct vfs_stat st;
	char buf[512] = "";

	assert_int_equal(image_open(img, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, "root", false, &fs, &err), 0);
	if (vfs_lstat(fs, path, &st, NULL) == 0 &&
	    vfs_readlink(fs, path, buf, sizeof(buf), &err) < 0)
		fail_msg("%s: %s", path, err.message);
	if (strcmp(buf, target) != 0)
		fail_msg("%s -> '%s', want '%s'", path, buf, target);
	vfs_close(fs, NULL);
	image_close(im);
}
