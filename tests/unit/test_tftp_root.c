/*
 * test_tftp_root.c — confined file access for the TFTP server: symlinks
 * and ".." cannot leave the root, per-serial fallback, non-regular files,
 * the shared cache and netascii conversion (issue 6, scope 3).
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

#include "net/tftp_root.h"

struct fixture {
	char dir[64];
	char root[96];
};

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[256];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/herd-tftp-root.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
	mkdir(fx->root, 0755);
	snprintf(p, sizeof(p), "%s/secret", fx->dir);
	write_file(p, "outside\n");
	snprintf(p, sizeof(p), "%s/start4.elf", fx->root);
	write_file(p, "shared start4\n");
	snprintf(p, sizeof(p), "%s/1234abcd", fx->root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/1234abcd/config.txt", fx->root);
	write_file(p, "per-device config\n");
	snprintf(p, sizeof(p), "%s/config.txt", fx->root);
	write_file(p, "shared config\n");
	snprintf(p, sizeof(p), "%s/overlays", fx->root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/overlays/a.dtbo", fx->root);
	write_file(p, "a\nb\rc");
	snprintf(p, sizeof(p), "%s/link-in", fx->root);
	assert_int_equal(symlink("overlays/a.dtbo", p), 0);
	snprintf(p, sizeof(p), "%s/link-out", fx->root);
	assert_int_equal(symlink("../secret", p), 0);
	snprintf(p, sizeof(p), "%s/link-abs", fx->root);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", fx->root);
	assert_int_equal(mkfifo(p, 0644), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct tftp_file *open_ok(struct tftp_root *root, const char *name, enum tftp_mode mode)
{
	struct tftp_file *f = NULL;
	enum tftp_error_code code;
	const char *why = NULL;

	if (tftp_root_open_file(root, name, mode, &f, &code, &why) != 0)
		fail_msg("'%s' refused: %s", name, why);
	return f;
}

static void expect_content(struct tftp_file *f, const char *want)
{
	char buf[256];
	ssize_t n = tftp_file_read(f, 0, buf, sizeof(buf));

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_int_equal(f->size, strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static void expect_refused(struct tftp_root *root, const char *name, enum tftp_error_code want)
{
	struct tftp_file *f = NULL;
	enum tftp_error_code code = 99;
	const char *why = NULL;

	assert_true(tftp_root_open_file(root, name, TFTP_MODE_OCTET, &f, &code, &why) < 0);
	assert_null(f);
	assert_non_null(why);
	if (code != want)
		fail_msg("'%s': code %d (%s), want %d", name, code, why, want);
}

static void test_confinement(void **state)
{
	struct fixture *fx = *state;
	struct tftp_root *root = NULL;
	struct herd_error err = {0};
	struct tftp_file *f;

	assert_int_equal(tftp_root_open(fx->root, NULL, &root, &err), 0);
	assert_false(tftp_root_is_image(root));
	f = open_ok(root, "link-in", TFTP_MODE_OCTET);
	expect_content(f, "a\nb\rc");
	tftp_file_unref(f);
	expect_refused(root, "link-out", TFTP_ERR_ACCESS);
	expect_refused(root, "link-abs", TFTP_ERR_ACCESS);
	expect_refused(root, "../secret", TFTP_ERR_ACCESS);
	expect_refused(root, "overlays/../../secret", TFTP_ERR_ACCESS);
	expect_refused(root, "/etc/passwd", TFTP_ERR_ACCESS);
	expect_refused(root, "a\x01", TFTP_ERR_ACCESS);
	expect_refused(root, "missing", TFTP_ERR_NOT_FOUND);
	expect_refused(root, "overlays", TFTP_ERR_NOT_FOUND);
	expect_refused(root, "fifo", TFTP_ERR_NOT_FOUND); /* and does not block */
	tftp_root_free(root);
}

static void test_serial_fallback(void **state)
{
	struct fixture *fx = *state;
	struct tftp_root *root = NULL;
	struct tftp_file *f;

	assert_int_equal(tftp_root_open(fx->root, NULL, &root, NULL), 0);
	f = open_ok(root, "1234abcd/config.txt", TFTP_MODE_OCTET);
	expect_content(f, "per-device config\n");
	assert_false(f->fallback);
	assert_string_equal(f->path, "1234abcd/config.txt");
	tftp_file_unref(f);
	f = open_ok(root, "1234abcd/start4.elf", TFTP_MODE_OCTET);
	expect_content(f, "shared start4\n");
	assert_true(f->fallback);
	assert_string_equal(f->path, "start4.elf");
	tftp_file_unref(f);
	f = open_ok(root, "dc-a6-32-01-36-c2/start4.elf", TFTP_MODE_OCTET);
	assert_true(f->fallback);
	tftp_file_unref(f);
	/* Not a device prefix: no fallback. */
	expect_refused(root, "boot/start4.elf", TFTP_ERR_NOT_FOUND);
	expect_refused(root, "1234abcd/../../secret", TFTP_ERR_ACCESS);
	tftp_root_free(root);
}

static void test_cache_shared_and_refreshed(void **state)
{
	struct fixture *fx = *state;
	struct tftp_root *root = NULL;
	struct tftp_file *a, *b, *c;
	char p[256];

	assert_int_equal(tftp_root_open(fx->root, NULL, &root, NULL), 0);
	a = open_ok(root, "config.txt", TFTP_MODE_OCTET);
	b = open_ok(root, "./config.txt", TFTP_MODE_OCTET);
	assert_non_null(a->data);
	assert_ptr_equal(a->data, b->data);
	assert_int_equal(tftp_root_cached_bytes(root), strlen("shared config\n"));
	/* Replace the file: a new open sees the new content, old ones keep theirs. */
	snprintf(p, sizeof(p), "%s/config.txt.new", fx->root);
	write_file(p, "new config, longer\n");
	char to[256];
	snprintf(to, sizeof(to), "%s/config.txt", fx->root);
	assert_int_equal(rename(p, to), 0);
	c = open_ok(root, "config.txt", TFTP_MODE_OCTET);
	expect_content(c, "new config, longer\n");
	expect_content(a, "shared config\n");
	tftp_file_unref(a);
	tftp_file_unref(b);
	/* The root may go before its files. */
	tftp_root_free(root);
	expect_content(c, "new config, longer\n");
	tftp_file_unref(c);
}

static void test_uncached_and_netascii(void **state)
{
	struct fixture *fx = *state;
	struct tftp_root_limits limits = {.cache_max = 1, .cache_file_max = 1};
	struct tftp_root *root = NULL;
	struct tftp_file *f;
	char buf[8];

	assert_int_equal(tftp_root_open(fx->root, &limits, &root, NULL), 0);
	f = open_ok(root, "overlays/a.dtbo", TFTP_MODE_OCTET);
	assert_null(f->data);
	assert_int_equal(tftp_file_read(f, 2, buf, 2), 2);
	assert_memory_equal(buf, "b\r", 2);
	tftp_file_unref(f);
	{
		struct tftp_file *g = NULL;
		assert_int_equal(tftp_root_open_file(root, "overlays/a.dtbo", TFTP_MODE_NETASCII,
						     &g, NULL, NULL),
				 -EFBIG);
	}
	tftp_root_free(root);

	assert_int_equal(tftp_root_open(fx->root, NULL, &root, NULL), 0);
	f = open_ok(root, "overlays/a.dtbo", TFTP_MODE_NETASCII);
	assert_int_equal(f->size, 7);
	assert_memory_equal(f->data, "a\r\nb\r\0c", 7);
	tftp_file_unref(f);
	tftp_root_free(root);
}

static void test_bad_roots(void **state)
{
	struct fixture *fx = *state;
	struct tftp_root *root = NULL;
	struct herd_error err = {0};
	char p[256];

	assert_int_equal(tftp_root_open("/nonexistent-herd-dir", NULL, &root, &err), -ENOENT);
	assert_non_null(strstr(err.message, "nonexistent"));
	snprintf(p, sizeof(p), "%s/secret:boot:/", fx->dir);
	assert_true(tftp_root_open(p, NULL, &root, &err) < 0);
	assert_null(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_confinement),
	    cmocka_unit_test(test_serial_fallback),
	    cmocka_unit_test(test_cache_shared_and_refreshed),
	    cmocka_unit_test(test_uncached_and_netascii),
	    cmocka_unit_test(test_bad_roots),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
