/*
 * test_devices.c — burn/devices.c against the fake sysfs tree in
 * data/sysfs/basic (see its README): bus, model, serial, size, removable
 * (native SD slot included), read-only, mounts through partitions and dm
 * holders, swap, and the verdict with its reason, with and without --force.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "burn/devices.h"

#define SYSFS TEST_DATA_DIR "/sysfs/"

static const struct burn_device *find(const struct burn_device_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

static void scan(struct burn_device_list *l, const char *mountinfo, bool force)
{
	struct burn_devices_options o = {
	    .sysfs_root = SYSFS "basic",
	    .mountinfo = mountinfo,
	    .swaps = SYSFS "swaps",
	    .force = force,
	};
	struct herd_error err = {0};

	if (burn_devices_scan(&o, l, &err) < 0)
		fail_msg("scan: %s", err.message);
}

static void test_usb_reader(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo", false);
	d = find(&l, "sdb");
	assert_non_null(d);
	assert_string_equal(d->path, "/dev/sdb");
	assert_string_equal(d->bus, "usb");
	assert_string_equal(d->vendor, "Generic");
	assert_string_equal(d->model, "STORAGE DEVICE");
	assert_string_equal(d->serial, "READER123");
	assert_int_equal(d->size, 62333952ull * 512);
	assert_true(d->removable);
	assert_false(d->read_only);
	assert_false(d->system);
	assert_int_equal(d->mounts.count, 0);
	assert_true(d->writable);
	assert_string_equal(d->reason, "");
	assert_int_equal(d->devnum, makedev(8, 16));
	assert_true(burn_device_contains(d, makedev(8, 17)));
	assert_true(burn_device_contains(d, makedev(8, 18)));
	assert_false(burn_device_contains(d, makedev(8, 32)));
	assert_ptr_equal(burn_device_find(&l, makedev(8, 16)), d);
	assert_null(burn_device_find(&l, makedev(8, 17)));
	burn_device_list_free(&l);
}

static void test_native_sd_slot(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo", false);
	d = find(&l, "mmcblk0");
	assert_non_null(d);
	assert_string_equal(d->bus, "sd");
	assert_true(d->removable); /* although `removable` reads 0 */
	assert_string_equal(d->model, "SC64G");
	assert_string_equal(d->serial, "0x1234abcd");
	assert_true(d->writable);
	burn_device_list_free(&l);
}

static void test_nvme_system_disk(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo", true);
	d = find(&l, "nvme0n1");
	assert_non_null(d);
	assert_string_equal(d->bus, "nvme");
	assert_string_equal(d->model, "Samsung SSD 980 1TB");
	assert_string_equal(d->serial, "S64ANS0T");
	assert_false(d->removable);
	/* / is on dm-0, which sits on nvme0n1p2: found through holders. */
	assert_true(burn_device_contains(d, makedev(253, 0)));
	assert_true(d->system);
	assert_false(d->writable); /* --force does not lift it */
	assert_non_null(strstr(d->reason, "system disk"));
	/* Mounts: /, /boot/efi and the swap partition. */
	assert_int_equal(d->mounts.count, 3);
	assert_string_equal(d->mounts.items[2], "/dev/nvme0n1p3 (swap)");
	burn_device_list_free(&l);
}

static void test_read_only_card(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo", true);
	d = find(&l, "sdc");
	assert_non_null(d);
	assert_true(d->read_only);
	assert_false(d->writable);
	assert_string_equal(d->reason, "read-only");
	burn_device_list_free(&l);
}

static void test_mounted_partition(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo-mounted", true);
	d = find(&l, "sdb");
	assert_non_null(d);
	assert_false(d->writable);
	assert_int_equal(d->mounts.count, 1);
	/* mountinfo's \040 escape is undone. */
	assert_string_equal(d->mounts.items[0], "/dev/sdb1 on /media/pi/boot fs");
	assert_string_equal(d->reason, "mounted: /dev/sdb1 on /media/pi/boot fs");
	burn_device_list_free(&l);
}

static void test_too_large_and_force(void **state)
{
	struct burn_device_list l = {0};
	const struct burn_device *d;

	scan(&l, SYSFS "mountinfo", false);
	d = find(&l, "sdd");
	assert_non_null(d);
	assert_false(d->writable);
	assert_non_null(strstr(d->reason, "too large"));
	burn_device_list_free(&l);
	scan(&l, SYSFS "mountinfo", true);
	assert_true(find(&l, "sdd")->writable);
	burn_device_list_free(&l);
}

static void test_skipped_and_sorted(void **state)
{
	struct burn_device_list l = {0};

	scan(&l, SYSFS "mountinfo", false);
	assert_null(find(&l, "ram0"));
	assert_null(find(&l, "loop0")); /* unused loop: size 0 */
	assert_int_equal(l.count, 6);	/* dm-0 mmcblk0 nvme0n1 sdb sdc sdd */
	for (size_t i = 1; i < l.count; i++)
		assert_true(strcmp(l.items[i - 1].name, l.items[i].name) < 0);
	assert_string_equal(find(&l, "dm-0")->bus, "virtual");
	burn_device_list_free(&l);
}

static void test_missing_root(void **state)
{
	struct burn_devices_options o = {.sysfs_root = SYSFS "does-not-exist"};
	struct burn_device_list l = {0};
	struct herd_error err = {0};

	assert_int_equal(burn_devices_scan(&o, &l, &err), -ENOENT);
	assert_non_null(strstr(err.message, "does-not-exist"));
	assert_null(l.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usb_reader),	       cmocka_unit_test(test_native_sd_slot),
	    cmocka_unit_test(test_nvme_system_disk),   cmocka_unit_test(test_read_only_card),
	    cmocka_unit_test(test_mounted_partition),  cmocka_unit_test(test_too_large_and_force),
	    cmocka_unit_test(test_skipped_and_sorted), cmocka_unit_test(test_missing_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
