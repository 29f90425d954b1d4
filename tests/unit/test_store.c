/*
 * test_store.c — the store's metadata and rules: directory choice, names,
 * import of a local file (row, sizes, sums, sparse raw), cached import,
 * name conflicts, entry locks against rm, and resolving IMAGE arguments.
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

#include "store/store.h"

static char tmpdir[] = "/tmp/herd-test-store.XXXXXX";
static char storedir[600], imgpath[600];

static int setup(void **state)
{
	int fd;
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(storedir, sizeof(storedir), "%s/store", tmpdir);
	snprintf(imgpath, sizeof(imgpath), "%s/2025-01-02-test.img", tmpdir);
	fd = open(imgpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, "hello", 5, 1 << 20) != 5 || ftruncate(fd, 4 << 20) < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	char cmd[700];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_default_dir(void **state)
{
	char *d = NULL;
	(void)state;

	assert_int_equal(store_default_dir("/opt/x", &d, NULL), 0);
	assert_string_equal(d, "/opt/x");
	free(d);
	setenv("HERD_STORE", "/srv/herd", 1);
	assert_int_equal(store_default_dir(NULL, &d, NULL), 0);
	assert_string_equal(d, "/srv/herd");
	free(d);
	unsetenv("HERD_STORE");
	setenv("XDG_DATA_HOME", "/home/u/.data", 1);
	assert_int_equal(store_default_dir(NULL, &d, NULL), 0);
	assert_string_equal(d, "/home/u/.data/herd");
	free(d);
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(store_default_dir(NULL, &d, NULL), 0);
	assert_string_equal(d, "/home/u/.local/share/herd");
	free(d);
	/* The server ignores XDG/HOME: /var/lib/herd unless told otherwise. */
	setenv("XDG_DATA_HOME", "/home/u/.data", 1);
	assert_int_equal(store_default_dir_role(NULL, STORE_ROLE_SERVER, &d, NULL), 0);
	assert_string_equal(d, "/var/lib/herd");
	free(d);
	unsetenv("XDG_DATA_HOME");
	setenv("HERD_STORE", "/srv/herd", 1);
	assert_int_equal(store_default_dir_role(NULL, STORE_ROLE_SERVER, &d, NULL), 0);
	assert_string_equal(d, "/srv/herd");
	free(d);
	unsetenv("HERD_STORE");
	assert_int_equal(store_default_dir_role("/opt/x", STORE_ROLE_SERVER, &d, NULL), 0);
	assert_string_equal(d, "/opt/x");
	free(d);
}

static void test_names(void **state)
{
	char *n = NULL;
	(void)state;

	assert_true(store_name_valid("raspios-lite@2025-10-01"));
	assert_false(store_name_valid(""));
	assert_false(store_name_valid(".hidden"));
	assert_false(store_name_valid("a/b"));
	assert_false(store_name_valid("a b"));
	assert_int_equal(
	    store_name_from_source("https://h/d/2024-11-19-raspios-bookworm-arm64-lite.img.xz?x=1",
				   &n, NULL),
	    0);
	assert_string_equal(n, "2024-11-19-raspios-bookworm-arm64-lite");
	free(n);
	assert_int_equal(store_name_from_source("/tmp/my disk.zip", &n, NULL), 0);
	assert_string_equal(n, "my_disk");
	free(n);
	n = NULL;
	assert_int_equal(store_name_from_source("https://h/", &n, NULL), -EINVAL);
	assert_null(n);
}

static void test_import_and_rm(void **state)
{
	struct store *s = NULL;
	struct store_get_options o = {0};
	struct store_get_result res = {0}, again = {0};
	struct store_entry_info *list = NULL, info;
	struct store_entry *e = NULL;
	struct herd_error err = {0};
	size_t n = 0;
	(void)state;

	assert_int_equal(store_open(storedir, &s, NULL), 0);
	assert_int_equal(store_import(s, imgpath, &o, &res, &err), 0);
	assert_false(res.cached);
	assert_string_equal(res.info.name, "2025-01-02-test");
	assert_string_equal(res.info.version, "2025-01-02");
	assert_string_equal(res.info.format, "raw");
	assert_int_equal(res.info.raw_size, 4 << 20);
	assert_int_equal(res.info.download_size, 4 << 20);
	assert_string_equal(res.info.raw_sha256, res.info.download_sha256);
	assert_true(res.info.allocated <= 64 * 1024); /* sparse */
	assert_true(res.info.added > 0);
	assert_null(res.verified_by);

	/* Same source again: cached, no new entry. */
	assert_int_equal(store_import(s, imgpath, &o, &again, NULL), 0);
	assert_true(again.cached);
	store_entry_info_clear(&again.info);
	/* The same source with a sum that is not the stored one: refused. */
	o.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(store_import(s, imgpath, &o, &again, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "mismatch"));
	herd_error_clear(&err);
	o.sha256 = "xyz";
	assert_int_equal(store_import(s, imgpath, &o, &again, &err), -EINVAL);
	o.sha256 = NULL;
	o.name = "bad/name";
	assert_int_equal(store_import(s, imgpath, &o, &again, &err), -EINVAL);
	o.name = NULL;

	assert_int_equal(store_list(s, &list, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].raw_path, res.info.raw_path);
	store_entry_info_clear(&list[0]);
	free(list);

	/* rm refuses while the entry is open, works after. */
	assert_int_equal(store_open_entry(s, "2025-01-02-test", &e, NULL), 0);
	assert_int_equal(store_remove(s, "2025-01-02-test", &err), -EBUSY);
	assert_non_null(strstr(err.message, "in use"));
	e = store_entry_close(e);
	assert_int_equal(store_remove(s, "2025-01-02-test", NULL), 0);
	assert_int_equal(store_find(s, "2025-01-02-test", &info, &err), -ENOENT);
	assert_int_equal(access(res.info.raw_path, F_OK), -1);
	assert_int_equal(store_remove(s, "2025-01-02-test", NULL), -ENOENT);
	store_entry_info_clear(&res.info);
	s = store_close(s);
}

static void test_import_checksums(void **state)
{
	struct store *s = NULL;
	struct store_get_options o = {.name = "checked"};
	struct store_get_result res = {0};
	struct herd_error err = {0};
	struct store_entry_info info;
	char cmd[800];
	(void)state;

	assert_int_equal(store_open(storedir, &s, NULL), 0);
	o.sha256 = "1111111111111111111111111111111111111111111111111111111111111111";
	assert_int_equal(store_import(s, imgpath, &o, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "mismatch"));
	assert_int_equal(store_find(s, "checked", &info, NULL), -ENOENT);
	/* No temp files left behind. */
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/images')\"", storedir);
	assert_int_equal(system(cmd), 0);
	o.sha256 = NULL;
	assert_int_equal(store_import(s, imgpath, &o, &res, NULL), 0);
	store_entry_info_clear(&res.info);
	s = store_close(s);
}

static void test_resolve(void **state)
{
	char *p = NULL, *p2 = NULL, xz[700], copy[700], cmd[2400];
	struct store_entry *e = NULL, *e2 = NULL;
	struct herd_error err = {0};
	enum store_image_kind kind;
	(void)state;

	setenv("HERD_STORE", storedir, 1);
	assert_int_equal(store_resolve_image("checked", NULL, &p, &e, NULL), 0);
	assert_non_null(e);
	assert_non_null(strstr(p, "/images/checked.img"));
	free(p);
	e = store_entry_close(e);
	assert_int_equal(store_classify_image("checked", &kind, NULL), 0);
	assert_int_equal(kind, STORE_IMAGE_STORE_NAME);
	assert_int_equal(store_resolve_image("nosuch", NULL, &p, &e, &err), -ENOENT);
	assert_non_null(strstr(herd_error_message(&err), "nosuch: no such file"));
	assert_int_equal(store_classify_image("nosuch", &kind, NULL), 0);
	assert_int_equal(kind, STORE_IMAGE_MISSING);
	assert_int_equal(store_classify_image("http://example.invalid/a.img.xz", &kind, NULL), 0);
	assert_int_equal(kind, STORE_IMAGE_URL);
	assert_int_equal(store_resolve_image(imgpath, NULL, &p, &e, NULL), 0);
	assert_string_equal(p, imgpath);
	assert_null(e);
	free(p);

	/* A compressed file is unpacked into the store once ... */
	snprintf(xz, sizeof(xz), "%s/resolve-me.img.xz", tmpdir);
	snprintf(cmd, sizeof(cmd), "xz -c '%s' > '%s'", imgpath, xz);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_classify_image(xz, &kind, NULL), 0);
	assert_int_equal(kind, STORE_IMAGE_COMPRESSED);
	assert_int_equal(store_resolve_image(xz, NULL, &p, &e, NULL), 0);
	assert_non_null(e);
	assert_string_equal(e->info.name, "resolve-me");
	assert_non_null(strstr(p, "/images/resolve-me.img"));
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", imgpath, p);
	assert_int_equal(system(cmd), 0);
	/* ... and found again, by path and by content under another path. */
	assert_int_equal(store_resolve_image(xz, NULL, &p2, &e2, NULL), 0);
	assert_string_equal(p, p2);
	free(p2);
	e2 = store_entry_close(e2);
	snprintf(copy, sizeof(copy), "%s/copy.img.xz", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", xz, copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_resolve_image(copy, NULL, &p2, &e2, NULL), 0);
	assert_string_equal(p, p2);
	free(p2);
	e2 = store_entry_close(e2);
	/* Changed in place: new content, new entry (the old one stays). */
	snprintf(
	    cmd, sizeof(cmd),
	    "printf x | dd of='%s' bs=1 seek=100 conv=notrunc status=none && xz -c '%s' > '%s'",
	    imgpath, imgpath, xz);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(store_resolve_image(xz, NULL, &p2, &e2, NULL), 0);
	assert_string_not_equal(p, p2);
	assert_non_null(strstr(e2->info.name, "resolve-me-"));
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", imgpath, p2);
	assert_int_equal(system(cmd), 0);
	free(p2);
	e2 = store_entry_close(e2);
	free(p);
	e = store_entry_close(e);
	unsetenv("HERD_STORE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_dir),	  cmocka_unit_test(test_names),
	    cmocka_unit_test(test_import_and_rm), cmocka_unit_test(test_import_checksums),
	    cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
