/*
 * test_image.c — images (image/image.c, image/usedmap.c): location
 * parsing, partitions by number and role, OS detection, the overlay
 * commit rule (nothing reaches the file before image_commit), and the
 * used-block map's structure.  Uses scripts/make-sample-image.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "run_testlib.h"

#include "image/image.h"

static char tmpdir[] = "/tmp/herd-test-image.XXXXXX";
static char sample[300];

static void expect_location(const char *spec, const char *img, const char *part, const char *path)
{
	struct herd_error err = {0};
	char *a, *b, *c;

	if (image_parse_location(spec, &a, &b, &c, &err) < 0)
		fail_msg("%s: %s", spec, err.message);
	assert_string_equal(a, img);
	assert_string_equal(b, part);
	assert_string_equal(c, path);
	free(a);
	free(b);
	free(c);
}

static void test_location(void **state)
{
	struct herd_error err = {0};
	char *a = NULL, *b = NULL, *c = NULL;

	expect_location("pi.img:root:/etc/hostname", "pi.img", "root", "/etc/hostname");
	expect_location("pi.img:2:/", "pi.img", "2", "/");
	expect_location("/x/a:b.img:boot:/cmdline.txt", "/x/a:b.img", "boot", "/cmdline.txt");
	expect_location("pi.img:1:/a:/b", "pi.img", "1", "/a:/b");
	expect_location("my:img:root:/x", "my:img", "root", "/x");
	assert_int_equal(image_parse_location("pi.img", &a, &b, &c, &err), -EINVAL);
	assert_int_equal(image_parse_location("pi.img:/etc", &a, &b, &c, &err), -EINVAL);
	assert_int_equal(image_parse_location(":1:/etc", &a, &b, &c, &err), -EINVAL);
	assert_int_equal(image_parse_location("pi.img::/etc", &a, &b, &c, &err), -EINVAL);
	assert_int_equal(image_parse_location("pi.img:swap:/etc", &a, &b, &c, &err), -EINVAL);
	assert_null(a);
}

static void test_roles_and_os(void **state)
{
	struct herd_error err = {0};
	struct image *img = NULL;
	struct image_os os;
	unsigned n = 99;

	assert_int_equal(image_open(sample, IMAGE_READ_ONLY, &img, &err), 0);
	assert_int_equal(img->table.type, PTABLE_MBR);
	assert_string_equal(img->table.disk_id, "5e3da9a1");
	assert_int_equal(image_find_partition(img, "boot", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(image_find_partition(img, "root", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(image_find_partition(img, "0", &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(image_find_partition(img, "3", &n, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no partition 3"));
	assert_int_equal(image_find_partition(img, "swap", &n, &err), -EINVAL);
	assert_int_equal(image_detect_os(img, &os, &err), 0);
	assert_string_equal(os.id, "debian");
	assert_string_equal(os.version_id, "12");
	assert_string_equal(os.codename, "bookworm");
	assert_true(os.raspberry_pi_os);
	assert_non_null(strstr(os.rpi_issue, "Raspberry Pi reference"));
	image_close(img);
}

static void test_overlay_commit_rule(void **state)
{
	struct herd_error err = {0};
	struct image *img = NULL;
	struct vfs *fs = NULL;
	char copy[400], *data = NULL;
	FILE *p;
	char before[128] = "", after[128] = "";

	snprintf(copy, sizeof(copy), "%s/copy.img", tmpdir);
	run("cp --sparse=always %s %s", sample, copy);
#define SUM(buf)                                                                                   \
	do {                                                                                       \
		char cmd[600];                                                                     \
		snprintf(cmd, sizeof(cmd), "sha256sum < %s", copy);                                \
		p = popen(cmd, "r");                                                               \
		assert_non_null(fgets(buf, sizeof(buf), p));                                       \
		pclose(p);                                                                         \
	} while (0)
	SUM(before);

	/* Changes dropped without commit leave the file as it was. */
	assert_int_equal(image_open(copy, IMAGE_WRITABLE | IMAGE_OVERLAY, &img, &err), 0);
	assert_int_equal(image_mount(img, "root", true, &fs, &err), 0);
	assert_int_equal(vfs_write(fs, "/etc/hostname", "red01\n", 6,
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, &err),
			 0);
	assert_int_equal(vfs_close(fs, &err), 0);
	image_close(img);
	SUM(after);
	assert_string_equal(before, after);

	/* Committed changes are there after reopening, and fsck agrees. */
	assert_int_equal(image_open(copy, IMAGE_WRITABLE | IMAGE_OVERLAY, &img, &err), 0);
	assert_int_equal(image_mount(img, "root", true, &fs, &err), 0);
	assert_int_equal(vfs_write(fs, "/etc/hostname", "red01\n", 6,
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, &err),
			 0);
	assert_int_equal(vfs_close(fs, &err), 0);
	assert_int_equal(image_commit(img, &err), 0);
	image_close(img);
	assert_int_equal(image_open(copy, IMAGE_READ_ONLY, &img, &err), 0);
	assert_int_equal(image_mount(img, "root", false, &fs, &err), 0);
	assert_int_equal(vfs_read_all(fs, "/etc/hostname", 100, &data, NULL, &err), 0);
	assert_string_equal(data, "red01\n");
	free(data);
	vfs_close(fs, NULL);
	image_close(img);
	run("e2fsck -fn '%s?offset=%d' >/dev/null 2>&1", copy, (8192 + 131072) * 512);
}

static void test_used_map(void **state)
{
	struct herd_error err = {0};
	struct rangeset map = RANGESET_INIT;
	struct image *img = NULL;

	assert_int_equal(image_open(sample, IMAGE_READ_ONLY, &img, &err), 0);
	assert_int_equal(image_used_map(img, &map, &err), 0);
	/* MBR and the gap before partition 1 are one range starting at 0. */
	assert_int_equal(map.ranges[0].offset, 0);
	assert_true(map.ranges[0].length >= 8192 * 512);
	/* Sorted, disjoint, inside the image, far smaller than it. */
	for (size_t i = 1; i < map.count; i++)
		assert_true(map.ranges[i - 1].offset + map.ranges[i - 1].length <
			    map.ranges[i].offset);
	assert_true(map.ranges[map.count - 1].offset + map.ranges[map.count - 1].length <=
		    blockdev_size(img->bd));
	uint64_t total = rangeset_total(&map);
	assert_true(total > 4 * 1024 * 1024);
	assert_true(total < blockdev_size(img->bd) / 4);
	/* The FAT boot sector and the ext4 superblock are in the map. */
	assert_true(rangeset_covers(&map, 8192 * 512, 512));
	assert_true(rangeset_covers(&map, (8192 + 131072) * 512 + 1024, 1024));
	rangeset_free(&map);
	image_close(img);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sample, sizeof(sample), "%s/sample.img", tmpdir);
	run("%s/scripts/make-sample-image.sh %s 160M 0 64 >/dev/null", HERD_SOURCE_ROOT, sample);
	return 0;
}

static int teardown(void **state)
{
	run("rm -rf %s", tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_location),
	    cmocka_unit_test(test_roles_and_os),
	    cmocka_unit_test(test_overlay_commit_rule),
	    cmocka_unit_test(test_used_map),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
