/*
 * test_check.c — check/ (herd image check) on sample images: a fresh image
 * and a customized one are clean; the host's own settings are found
 * present and another host's are reported setting by setting; each
 * structure rule reports its corruption (authorized_keys 0644, a missing
 * 127.0.1.1 line, a world-readable NetworkManager keyfile, broken YAML in
 * user-data, firstrun.sh without its cmdline.txt word, a passwd line with
 * six fields); the filesystem checks report a wrong FAT FSInfo free count;
 * and the image is never changed by a check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sample_testlib.h"

#include "check/check.h"
#include "config/settings.h"
#include "image/image.h"
#include "recipe/recipe.h"

static char custom[300], keyfile[300];

static void host_settings(struct herd_settings *s, const char *host)
{
	settings_init(s);
	set(s, "hostname", host);
	set(s, "ssh.enabled", "true");
	set(s, "ssh.authorized_keys", keyfile);
	set(s, "ssh.password_auth", "false");
	set(s, "timezone", "Europe/Berlin");
	set(s, "ipaddr", "10.1.1.7/24");
	set(s, "wifi.ssid", "lab");
	set(s, "wifi.psk", "correct horse");
	set(s, "wifi.country", "DE");
}

static int setup(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};
	struct recipe *r = NULL;

	if (sample_setup("check") < 0)
		return -1;
	snprintf(custom, sizeof(custom), "%s/custom.img", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pub", tmpdir);
	write_local(keyfile, ED25519 " me@laptop\n");
	copy_image(sample, custom);
	host_settings(&s, "red07");
	if (recipe_customize(custom, &s, false, NULL, &r, &err) < 0)
		fail_msg("customize: %s", err.message);
	recipe_free(r);
	settings_free(&s);
	return 0;
}

static int teardown(void **state)
{
	sample_teardown();
	return 0;
}

static int check(const char *image, const struct herd_settings *s, struct strv *problems)
{
	struct herd_error err = {0};
	int r = check_image(image, s, problems, &err);

	if (r < 0)
		fail_msg("check: %s", err.message);
	return r;
}

static bool has(const struct strv *v, const char *fragment)
{
	for (size_t i = 0; i < v->count; i++)
		if (strstr(v->items[i], fragment))
			return true;
	return false;
}

static void dump(const struct strv *v)
{
	for (size_t i = 0; i < v->count; i++)
		fprintf(stderr, "  problem: %s\n", v->items[i]);
}

static void test_clean(void **state)
{
	struct strv p = STRV_INIT;
	struct herd_settings s;

	if (check(sample, NULL, &p) != 0)
		dump(&p);
	assert_int_equal(p.count, 0);
	if (check(custom, NULL, &p) != 0)
		dump(&p);
	assert_int_equal(p.count, 0);
	host_settings(&s, "red07");
	run("sha256sum < %s > %s/before", custom, tmpdir);
	if (check(custom, &s, &p) != 0)
		dump(&p);
	assert_int_equal(p.count, 0);
	run("sha256sum < %s | cmp -s - %s/before", custom, tmpdir);
	settings_free(&s);
	strv_free(&p);
}

static void test_other_host(void **state)
{
	struct strv p = STRV_INIT;
	struct herd_settings s;

	host_settings(&s, "red08");
	set(&s, "ipaddr", "10.1.1.8/24");
	assert_true(check(custom, &s, &p) >= 3);
	assert_true(has(&p, "hostname: root:/etc/hostname: content differs"));
	assert_true(has(&p, "'127.0.1.1\tred08' missing"));
	assert_true(
	    has(&p, "ipaddr: root:/etc/NetworkManager/system-connections/eth0.nmconnection"));
	/* The untouched sample lacks everything. */
	strv_free(&p);
	assert_true(check(sample, &s, &p) >= 5);
	assert_true(has(&p, "ssh.authorized_keys: root:/home/pi/.ssh/authorized_keys: missing"));
	settings_free(&s);
	strv_free(&p);
}

static void with_fs(const char *part, void (*fn)(struct vfs *fs))
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;

	assert_int_equal(image_open(img, IMAGE_WRITABLE, &im, &err), 0);
	assert_int_equal(image_mount(im, part, true, &fs, &err), 0);
	fn(fs);
	assert_int_equal(vfs_close(fs, &err), 0);
	image_close(im);
}

static void keys_0644(struct vfs *fs)
{
	assert_int_equal(vfs_chmod(fs, "/home/pi/.ssh/authorized_keys", 0644, NULL), 0);
}

static void hosts_line(struct vfs *fs)
{
	static const char hosts[] = "127.0.0.1\tlocalhost\n";
	assert_int_equal(vfs_write(fs, "/etc/hosts", hosts, strlen(hosts),
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, NULL),
			 0);
}

static void keyfile_0644(struct vfs *fs)
{
	assert_int_equal(
	    vfs_chmod(fs, "/etc/NetworkManager/system-connections/lab.nmconnection", 0644, NULL),
	    0);
}

static void passwd_fields(struct vfs *fs)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(vfs_read_all(fs, "/etc/passwd", 1 << 20, &text, &len, NULL), 0);
	static const char extra[] = "broken:x:1001:1001:home\n";
	char *more = malloc(len + sizeof(extra));
	memcpy(more, text, len);
	memcpy(more + len, extra, sizeof(extra));
	assert_int_equal(vfs_write(fs, "/etc/passwd", more, strlen(more),
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, NULL),
			 0);
	free(more);
	free(text);
}

static void bad_seed(struct vfs *fs)
{
	static const char ud[] = "#cloud-config\nusers: [\n  - name: x\n";
	static const char fr[] = "#!/bin/sh\nexit 0\n";
	assert_int_equal(vfs_write(fs, "/user-data", ud, strlen(ud),
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, NULL),
			 0);
	assert_int_equal(vfs_write(fs, "/firstrun.sh", fr, strlen(fr),
				   VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0755, 0, 0, NULL),
			 0);
}

static void test_corruptions(void **state)
{
	static const struct {
		const char *part;
		void (*fn)(struct vfs *fs);
		const char *want;
	} cases[] = {
	    {"root", keys_0644, "root: /home/pi/.ssh/authorized_keys: mode 0644, want 0600"},
	    {"root", hosts_line, "root: /etc/hosts: no 127.0.1.1 line for red07"},
	    {"root", keyfile_0644, "lab.nmconnection: mode 0644 owner 0; NetworkManager ignores"},
	    {"root", passwd_fields, "/etc/passwd line"},
	    {"boot", bad_seed, "boot: /user-data: not valid YAML"},
	    {"boot", bad_seed, "boot: /firstrun.sh present but cmdline.txt has no systemd.run="},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strv p = STRV_INIT;
		fresh(custom);
		with_fs(cases[i].part, cases[i].fn);
		assert_true(check(img, NULL, &p) > 0);
		if (!has(&p, cases[i].want)) {
			dump(&p);
			fail_msg("case %zu: no problem '%s'", i, cases[i].want);
		}
		strv_free(&p);
	}
}

static void test_fat_fsinfo(void **state)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct blockdev *boot = NULL;
	struct strv p = STRV_INIT;
	unsigned number;
	uint8_t v[4] = {1, 0, 0, 0};

	fresh(custom);
	assert_int_equal(image_open(img, IMAGE_WRITABLE, &im, &err), 0);
	assert_int_equal(image_find_partition(im, "boot", &number, &err), 0);
	assert_int_equal(image_open_partition(im, number, &boot, &err), 0);
	/* FSInfo sector 1 (mkfs.fat's default), free count at byte 488. */
	assert_int_equal(blockdev_pwrite(boot, v, 4, 512 + 488, &err), 0);
	assert_int_equal(blockdev_flush(boot, &err), 0);
	blockdev_unref(boot);
	image_close(im);
	assert_true(check(img, NULL, &p) > 0);
	if (!has(&p, "boot: FAT: FSInfo says 1 free clusters"))
		dump(&p);
	assert_true(has(&p, "boot: FAT: FSInfo says 1 free clusters"));
	strv_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_other_host),
	    cmocka_unit_test(test_corruptions),
	    cmocka_unit_test(test_fat_fsinfo),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
