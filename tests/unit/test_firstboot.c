/*
 * test_firstboot.c — the first-boot backends (recipe/firstboot_cloudinit.c,
 * firstboot_firstrun.c) on a sample image: every operation is on the boot
 * partition; user-data, network-config and meta-data parse back with
 * libfyaml to exactly the settings (hostname, user, hash, groups, keys,
 * ssh_pwauth, timezone, locale, keyboard, write_files, packages, runcmd,
 * static address, Wi-Fi PSK, regulatory domain), also for values that
 * would break naive YAML; the seed is deterministic and its instance-id
 * follows the settings; firstrun.sh is valid sh, carries the offline
 * backend's changes, and cmdline.txt gets and keeps exactly the three
 * systemd words; the root filesystem is byte-identical afterwards.
 */
#include <errno.h>
#include <libfyaml.h>
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

#include "config/settings.h"
#include "image/image.h"
#include "recipe/recipe.h"

#define HASH                                                                                       \
	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN."   \
	"Pq."                                                                                      \
	"H91p5hVO1"

static char keyfile[300];

static int setup(void **state)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	if (sample_setup("firstboot") < 0)
		return -1;
	snprintf(keyfile, sizeof(keyfile), "%s/key.pub", tmpdir);
	write_local(keyfile, ED25519 " me@laptop\n");
	return 0;
}

static int teardown(void **state)
{
	sample_teardown();
	return 0;
}

static void full_settings(struct herd_settings *s, const char *backend)
{
	struct herd_file_list list = {0};
	struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE, .line = 1};

	settings_init(s);
	set(s, "firstboot.backend", backend);
	set(s, "hostname", "red07");
	set(s, "user", "alice");
	set(s, "password_hash", HASH);
	set(s, "ssh.enabled", "true");
	set(s, "ssh.authorized_keys", keyfile);
	set(s, "ssh.password_auth", "false");
	set(s, "timezone", "Europe/Berlin");
	set(s, "locale", "en_GB.UTF-8");
	set(s, "keymap", "de(nodeadkeys)");
	set(s, "ipaddr", "10.1.1.7/24");
	set(s, "network.gateway", "10.1.1.1");
	set(s, "network.dns", "10.1.1.1");
	set(s, "wifi.ssid", "lab \"5G\": #1");
	set(s, "wifi.psk", "correct horse");
	set(s, "wifi.country", "DE");
	set(s, "firstboot.packages", "htop");
	set(s, "firstboot.run", "echo 'a: b' # not a comment");
	list.items = calloc(1, sizeof(*list.items));
	list.count = 1;
	list.items[0].path = strdup("/etc/motd");
	list.items[0].content = strdup("herd node\n\"quoted\"\n");
	list.items[0].mode = 0640;
	list.items[0].has_mode = true;
	list.items[0].owner = strdup("alice:video");
	settings_take_files(s, settings_key_find("files"), &list, &origin);
}

static struct recipe *plan(const char *image, const struct herd_settings *s)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct recipe_target t = {0};
	struct image_os os;
	struct recipe *r = NULL;

	assert_int_equal(image_open(image, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_detect_os(im, &os, &err), 0);
	assert_int_equal(image_mount(im, "root", false, &t.root, &err), 0);
	assert_int_equal(image_mount(im, "boot", false, &t.boot, &err), 0);
	if (recipe_plan(&t, &os, s, &r, &err) < 0)
		fail_msg("plan: %s", err.message);
	vfs_close(t.boot, NULL);
	vfs_close(t.root, NULL);
	image_close(im);
	return r;
}

static const struct recipe_op *find_op(const struct recipe *r, const char *path)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->ops[i].type == RECIPE_WRITE && strcmp(r->ops[i].path, path) == 0)
			return &r->ops[i];
	return NULL;
}

static const char *scalar(struct fy_document *d, const char *path)
{
	struct fy_node *n = fy_node_by_path(fy_document_root(d), path, FY_NT, FYNWF_DONT_FOLLOW);

	if (!n)
		fail_msg("no %s", path);
	return fy_node_get_scalar0(n);
}

static struct fy_document *parse(const struct recipe_op *op)
{
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
	struct fy_document *d;

	assert_non_null(op);
	d = fy_document_build_from_string(&cfg, op->data, op->len);
	if (!d)
		fail_msg("%s does not parse:\n%s", op->path, op->data);
	return d;
}

static void test_cloudinit_seed(void **state)
{
	struct herd_settings s;
	struct recipe *r;
	struct fy_document *d;

	full_settings(&s, "cloud-init");
	r = plan(sample, &s);
	assert_int_equal(r->firstboot, RECIPE_FIRSTBOOT_CLOUD_INIT);
	for (size_t i = 0; i < r->count; i++)
		assert_int_equal(r->ops[i].part, RECIPE_BOOT);

	const struct recipe_op *ud = find_op(r, "/user-data");
	assert_non_null(ud);
	assert_true(strncmp(ud->data, "#cloud-config\n", 14) == 0);
	d = parse(ud);
	assert_string_equal(scalar(d, "/hostname"), "red07");
	assert_string_equal(scalar(d, "/manage_etc_hosts"), "true");
	assert_string_equal(scalar(d, "/timezone"), "Europe/Berlin");
	assert_string_equal(scalar(d, "/locale"), "en_GB.UTF-8");
	assert_string_equal(scalar(d, "/keyboard/layout"), "de");
	assert_string_equal(scalar(d, "/keyboard/variant"), "nodeadkeys");
	assert_string_equal(scalar(d, "/enable_ssh"), "true");
	assert_string_equal(scalar(d, "/ssh_pwauth"), "false");
	assert_string_equal(scalar(d, "/users/0/name"), "alice");
	assert_string_equal(scalar(d, "/users/0/passwd"), HASH);
	assert_string_equal(scalar(d, "/users/0/lock_passwd"), "false");
	assert_non_null(strstr(scalar(d, "/users/0/groups"), "sudo"));
	assert_string_equal(scalar(d, "/users/0/ssh_authorized_keys/0"), ED25519 " me@laptop");
	assert_string_equal(scalar(d, "/write_files/0/path"), "/etc/motd");
	assert_string_equal(scalar(d, "/write_files/0/encoding"), "b64");
	/* "herd node\n\"quoted\"\n" in base64 */
	assert_string_equal(scalar(d, "/write_files/0/content"), "aGVyZCBub2RlCiJxdW90ZWQiCg==");
	assert_string_equal(scalar(d, "/write_files/0/permissions"), "0640");
	assert_string_equal(scalar(d, "/write_files/0/owner"), "alice:video");
	assert_string_equal(scalar(d, "/write_files/0/defer"), "true");
	assert_string_equal(scalar(d, "/packages/0"), "htop");
	assert_string_equal(scalar(d, "/runcmd/0"), "echo 'a: b' # not a comment");
	fy_document_destroy(d);

	d = parse(find_op(r, "/network-config"));
	assert_string_equal(scalar(d, "/network/version"), "2");
	assert_string_equal(scalar(d, "/network/ethernets/eth0/addresses/0"), "10.1.1.7/24");
	assert_string_equal(scalar(d, "/network/ethernets/eth0/routes/0/via"), "10.1.1.1");
	assert_string_equal(scalar(d, "/network/ethernets/eth0/nameservers/addresses/0"),
			    "10.1.1.1");
	assert_string_equal(scalar(d, "/network/wifis/wlan0/regulatory-domain"), "DE");
	struct fy_node *aps =
	    fy_node_by_path(fy_document_root(d), "/network/wifis/wlan0/access-points", FY_NT, 0);
	assert_non_null(aps);
	void *iter = NULL;
	struct fy_node_pair *pair = fy_node_mapping_iterate(aps, &iter);
	assert_non_null(pair);
	assert_string_equal(fy_node_get_scalar0(fy_node_pair_key(pair)), "lab \"5G\": #1");
	char psk[65];
	assert_int_equal(recipe_wpa_psk("correct horse", "lab \"5G\": #1", psk), 0);
	assert_string_equal(
	    fy_node_get_scalar0(fy_node_by_path(fy_node_pair_value(pair), "/password", FY_NT, 0)),
	    psk);
	fy_document_destroy(d);

	const struct recipe_op *md = find_op(r, "/meta-data");
	d = parse(md);
	char id[128];
	snprintf(id, sizeof(id), "%s", scalar(d, "/instance-id"));
	assert_true(strncmp(id, "herd-red07-", 11) == 0);
	fy_document_destroy(d);

	/* Deterministic; a changed setting is a new instance. */
	struct recipe *again = plan(sample, &s);
	assert_string_equal(find_op(again, "/user-data")->data, ud->data);
	assert_string_equal(find_op(again, "/meta-data")->data, md->data);
	recipe_free(again);
	set(&s, "hostname", "red08");
	again = plan(sample, &s);
	assert_string_not_equal(find_op(again, "/meta-data")->data, md->data);
	recipe_free(again);
	recipe_free(r);
	settings_free(&s);
}

static void test_cloudinit_minimal_and_errors(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};
	struct recipe *r = NULL;

	/* Keys only: the image's first user (pi), locked password. */
	settings_init(&s);
	set(&s, "firstboot.backend", "cloud-init");
	set(&s, "ssh.authorized_keys", keyfile);
	r = plan(sample, &s);
	assert_null(find_op(r, "/network-config"));
	struct fy_document *d = parse(find_op(r, "/user-data"));
	assert_string_equal(scalar(d, "/users/0/name"), "pi");
	assert_string_equal(scalar(d, "/users/0/lock_passwd"), "true");
	fy_document_destroy(d);
	recipe_free(r);
	settings_free(&s);

	/* A bad key file fails the plan, as in the offline backend. */
	settings_init(&s);
	set(&s, "firstboot.backend", "cloud-init");
	char bad[400];
	snprintf(bad, sizeof(bad), "%s/bad.pub", tmpdir);
	write_local(bad, "ssh-ed25519 not-base64!\n");
	set(&s, "ssh.authorized_keys", bad);
	struct image *im = NULL;
	struct recipe_target t = {0};
	assert_int_equal(image_open(sample, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, "root", false, &t.root, &err), 0);
	assert_int_equal(image_mount(im, "boot", false, &t.boot, &err), 0);
	assert_int_equal(recipe_plan(&t, NULL, &s, &r, &err), -EINVAL);
	assert_non_null(strstr(err.message, "ssh.authorized_keys"));
	/* No boot partition: refused. */
	struct recipe_target noboot = {.root = t.root};
	settings_free(&s);
	settings_init(&s);
	set(&s, "firstboot.backend", "cloud-init");
	set(&s, "hostname", "x1");
	assert_int_equal(recipe_plan(&noboot, NULL, &s, &r, &err), -ENOENT);
	set(&s, "firstboot.backend", "firstrun");
	assert_int_equal(recipe_plan(&noboot, NULL, &s, &r, &err), -ENOENT);
	vfs_close(t.boot, NULL);
	vfs_close(t.root, NULL);
	image_close(im);
	settings_free(&s);

	/* A bad backend name is refused when parsed. */
	settings_init(&s);
	struct settings_origin origin = {.source = SETTINGS_SOURCE_FLAG};
	assert_int_equal(settings_set_text(&s, settings_key_find("firstboot.backend"), "ignition",
					   false, NULL, &origin, &err),
			 -EINVAL);
	settings_free(&s);
}

static void test_firstrun(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};
	struct recipe *r = NULL;
	char cmd[2400];

	full_settings(&s, "firstrun");
	fresh(sample);
	if (recipe_customize(img, &s, false, NULL, &r, &err) < 0)
		fail_msg("customize: %s", err.message);
	assert_int_equal(r->firstboot, RECIPE_FIRSTBOOT_FIRSTRUN);
	for (size_t i = 0; i < r->count; i++)
		assert_int_equal(r->ops[i].part, RECIPE_BOOT);
	recipe_free(r);

	/* Root partition byte-identical to the sample's. */
	snprintf(
	    cmd, sizeof(cmd),
	    "bash -c 'o=$(( $(sfdisk -d %s | sed -n \"s|^%s2 : start= *\\([0-9]*\\),.*|\\1|p\") "
	    "* 512 )); cmp -s -i $o:$o %s %s'",
	    img, img, sample, img);
	run("%s", cmd);

	char *script = image_get(img, "boot", "/firstrun.sh");
	assert_non_null(script);
	assert_true(strncmp(script, "#!/bin/sh\n", 10) == 0);
	assert_non_null(strstr(script, "rm -f /boot/firmware/firstrun.sh\n"));
	assert_non_null(strstr(script, "chown 1000:1000 '/home/alice/.ssh/authorized_keys'"));
	assert_non_null(
	    strstr(script, "ln -sfn '/usr/share/zoneinfo/Europe/Berlin' '/etc/localtime'"));
	char path[400];
	snprintf(path, sizeof(path), "%s/firstrun.sh", tmpdir);
	write_local(path, script);
	run("sh -n %s", path);
	free(script);

	char *cmdline = image_get(img, "boot", "/cmdline.txt");
	assert_non_null(strstr(cmdline, " systemd.run=/boot/firmware/firstrun.sh "
					"systemd.run_success_action=reboot "
					"systemd.unit=kernel-command-line.target"));
	assert_non_null(strstr(cmdline, "cfg80211.ieee80211_regdom=DE"));
	/* Idempotent: a second run changes nothing, the words stay single. */
	assert_int_equal(recipe_customize(img, &s, false, NULL, &r, &err), 0);
	for (size_t i = 0; i < r->count; i++)
		assert_false(r->ops[i].changed);
	recipe_free(r);
	char *cmdline2 = image_get(img, "boot", "/cmdline.txt");
	assert_string_equal(cmdline, cmdline2);
	/* The script's own sed takes the words out again. */
	char cl[400];
	snprintf(cl, sizeof(cl), "%s/cmdline.txt", tmpdir);
	write_local(cl, cmdline);
	run("sed -i -e 's| systemd.run=[^ ]*||g' -e 's| systemd.run_success_action=[^ ]*||g' "
	    "-e 's| systemd.unit=kernel-command-line.target||g' %s && ! grep -q systemd %s",
	    cl, cl);
	free(cmdline);
	free(cmdline2);
	settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cloudinit_seed),
	    cmocka_unit_test(test_cloudinit_minimal_and_errors),
	    cmocka_unit_test(test_firstrun),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
