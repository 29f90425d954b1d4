/*
 * test_recipe_plan.c — recipes applied to sample images (recipe/plan.c,
 * users.c, network.c, recipe.c's executor): the exact bytes, mode and
 * owner of every file each setting writes on a bookworm-like tree
 * (NetworkManager) and a bullseye-like one (dhcpcd + wpa_supplicant);
 * creating a first user; idempotency (a second run leaves the image
 * byte-identical); failure atomicity (an injected failure mid-recipe, a
 * vanished source file: image unchanged); bad input; an unknown OS.
 * Uses scripts/make-sample-image.sh; reads back through vfs (the
 * integration test reads back with debugfs and mtools).
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

#include "config/settings.h"
#include "image/image.h"
#include "recipe/recipe.h"

static char bullseye[300], copy[300], keyfile[300], srcfile[300];

static void image_mkdir(const char *image, const char *path)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;

	assert_int_equal(image_open(image, IMAGE_WRITABLE, &im, &err), 0);
	assert_int_equal(image_mount(im, "root", true, &fs, &err), 0);
	assert_int_equal(vfs_mkdir(fs, path, 0755, 0, 0, true, &err), 0);
	assert_int_equal(vfs_close(fs, &err), 0);
	assert_int_equal(image_commit(im, &err), 0);
	image_close(im);
}

static int setup(void **state)
{
	if (sample_setup("recipe") < 0)
		return -1;
	snprintf(bullseye, sizeof(bullseye), "%s/bullseye.img", tmpdir);
	snprintf(copy, sizeof(copy), "%s/copy.img", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pub", tmpdir);
	snprintf(srcfile, sizeof(srcfile), "%s/motd.src", tmpdir);
	/* bullseye: dhcpcd instead of NetworkManager. */
	copy_image(sample, bullseye);
	image_put(
	    bullseye, "root", "/etc/os-release",
	    "PRETTY_NAME=\"Raspbian GNU/Linux 11 (bullseye)\"\nID=raspbian\nVERSION_ID=\"11\"\n"
	    "VERSION_CODENAME=bullseye\n");
	image_put(bullseye, "root", "/etc/dhcpcd.conf", "hostname\nclientid\n");
	image_put(bullseye, "root", "/etc/NetworkManager/system-connections", NULL);
	image_put(bullseye, "root", "/etc/NetworkManager", NULL);
	write_local(keyfile, ED25519 " me@laptop\n");
	write_local(srcfile, "from a source file\n");
	return 0;
}

static int teardown(void **state)
{
	sample_teardown();
	return 0;
}

static void add_file(struct herd_settings *s, const char *path, const char *content,
		     const char *source, uint32_t mode, const char *owner)
{
	struct herd_file_list list = {0};
	struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE, .line = 1};
	const struct settings_key *key = settings_key_find("files");

	/* Keep what is there: copy the existing items over. */
	list.count = s->files.count + 1;
	list.items = calloc(list.count, sizeof(*list.items));
	assert_non_null(list.items);
	for (size_t i = 0; i < s->files.count; i++) {
		list.items[i] = s->files.items[i];
		memset(&s->files.items[i], 0, sizeof(s->files.items[i]));
	}
	struct herd_file_spec *f = &list.items[list.count - 1];
	f->path = strdup(path);
	f->content = content ? strdup(content) : NULL;
	f->source = source ? strdup(source) : NULL;
	f->mode = mode;
	f->has_mode = mode != 0;
	f->owner = owner ? strdup(owner) : NULL;
	settings_take_files(s, key, &list, &origin);
}

/* Read a file from the customized image and check bytes, mode, owner. */
static void expect_file(const char *part, const char *path, const char *want, uint32_t mode,
			uint32_t uid, uint32_t gid)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;
	struct vfs_stat st;
	char *data = NULL;

	assert_int_equal(image_open(img, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, part, false, &fs, &err), 0);
	if (vfs_read_all(fs, path, 1 << 20, &data, NULL, &err) < 0)
		fail_msg("%s:%s: %s", part, path, err.message);
	assert_string_equal(data, want);
	assert_int_equal(vfs_lstat(fs, path, &st, &err), 0);
	if (strcmp(part, "root") == 0) {
		if ((st.mode & 07777) != mode || st.uid != uid || st.gid != gid)
			fail_msg("%s: mode %04o %u:%u, want %04o %u:%u", path, st.mode, st.uid,
				 st.gid, mode, uid, gid);
	}
	free(data);
	vfs_close(fs, NULL);
	image_close(im);
}

static void expect_absent(const char *part, const char *path)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;
	struct vfs_stat st;

	assert_int_equal(image_open(img, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, part, false, &fs, &err), 0);
	if (vfs_lstat(fs, path, &st, NULL) == 0)
		fail_msg("%s:%s exists", part, path);
	vfs_close(fs, NULL);
	image_close(im);
}

static bool has_warning(const struct recipe *r, const char *fragment)
{
	for (size_t i = 0; i < r->warnings.count; i++)
		if (strstr(r->warnings.items[i], fragment))
			return true;
	return false;
}

static void full_settings(struct herd_settings *s)
{
	settings_init(s);
	set(s, "hostname", "red07");
	set(s, "user", "alice");
	set(s, "password_hash",
	    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN."
	    "Pq.H91p5hVO1");
	set(s, "ssh.enabled", "true");
	set(s, "ssh.authorized_keys", keyfile);
	set(s, "ssh.password_auth", "false");
	set(s, "wifi.ssid", "IEEE");
	set(s, "wifi.psk", "password");
	set(s, "wifi.country", "DE");
	set(s, "wifi.hidden", "true");
	set(s, "ipaddr", "10.1.1.7/24");
	set(s, "network.gateway", "10.1.1.1");
	set(s, "network.dns", "10.1.1.1,9.9.9.9");
	set(s, "timezone", "Europe/Berlin");
	set(s, "locale", "de_DE.UTF-8");
	set(s, "keymap", "de(nodeadkeys)");
	set(s, "firstboot.packages", "htop");
	set(s, "firstboot.run", "echo hi");
	add_file(s, "/etc/motd", "herd node\n", NULL, 0, NULL);
	add_file(s, "/opt/app/conf", NULL, srcfile, 0640, "alice:video");
}

#define PSK "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"

static void test_bookworm(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	full_settings(&s);
	r = customize(&s, 0, NULL, NULL);
	assert_true(r->os_known);
	assert_int_equal(r->network, RECIPE_NET_NETWORKMANAGER);
	recipe_free(r);
	settings_free(&s);

	expect_file("root", "/etc/hostname", "red07\n", 0644, 0, 0);
	expect_file("root", "/etc/hosts",
		    "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
		    "127.0.1.1\tred07\n",
		    0644, 0, 0);
	/* pi (uid 1000) renamed to alice, as userconf does. */
	expect_file("root", "/etc/passwd",
		    "root:x:0:0:root:/root:/bin/bash\n"
		    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
		    "alice:x:1000:1000:,,,:/home/alice:/bin/bash\n",
		    0644, 0, 0);
	expect_file("root", "/etc/shadow",
		    "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
		    "alice:$6$saltsalt$"
		    "TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq."
		    "H91p5hVO1:19000:0:99999:7:::\n",
		    0640, 0, 0);
	expect_file("root", "/etc/group",
		    "root:x:0:\nadm:x:4:alice\nsudo:x:27:alice\nvideo:x:44:alice\nalice:x:1000:\n",
		    0644, 0, 0);
	expect_absent("root", "/home/pi");
	expect_file("root", "/home/alice/.ssh/authorized_keys", ED25519 " me@laptop\n", 0600, 1000,
		    1000);
	expect_link("/etc/systemd/system/multi-user.target.wants/ssh.service",
		    "/lib/systemd/system/ssh.service");
	expect_link("/etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service");
	expect_file("boot", "/ssh", "", 0, 0, 0);
	expect_file("root", "/etc/ssh/sshd_config.d/herd.conf", "PasswordAuthentication no\n", 0644,
		    0, 0);
	expect_file("boot", "/cmdline.txt",
		    "console=serial0,115200 console=tty1 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 "
		    "fsck.repair=yes rootwait cfg80211.ieee80211_regdom=DE\n",
		    0, 0, 0);
	expect_link("/etc/localtime", "/usr/share/zoneinfo/Europe/Berlin");
	expect_file("root", "/etc/timezone", "Europe/Berlin\n", 0644, 0, 0);
	expect_file("root", "/etc/default/locale", "LANG=de_DE.UTF-8\n", 0644, 0, 0);
	expect_file("root", "/etc/locale.gen", "de_DE.UTF-8 UTF-8\n", 0644, 0, 0);
	expect_file("root", "/etc/default/keyboard",
		    "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"de\"\nXKBVARIANT=\"nodeadkeys\"\n", 0644, 0,
		    0);
	expect_file("root", "/etc/motd", "herd node\n", 0644, 0, 0);
	expect_file("root", "/opt/app/conf", "from a source file\n", 0640, 1000, 44);
	expect_file("root", "/usr/local/lib/herd/firstboot.sh",
		    "#!/bin/sh\n"
		    "# Written by herd: first-boot work.  Runs once; on success it disables\n"
		    "# its unit and deletes itself, on failure it runs again next boot.\n"
		    "set -e\n"
		    "export DEBIAN_FRONTEND=noninteractive\n"
		    "apt-get update\n"
		    "apt-get install -y htop\n"
		    "echo hi\n"
		    "rm -f /etc/systemd/system/multi-user.target.wants/herd-firstboot.service "
		    "/etc/systemd/system/herd-firstboot.service\n"
		    "rm -f /usr/local/lib/herd/firstboot.sh\n",
		    0755, 0, 0);
	expect_link("/etc/systemd/system/multi-user.target.wants/herd-firstboot.service",
		    "/etc/systemd/system/herd-firstboot.service");
}

/* The NetworkManager keyfiles in full.  UUIDs are name-based (v5), so fixed;
 * the two here agree with Python's uuid.uuid5() in herd's namespace. */
static void test_bookworm_keyfiles(void **state)
{
	struct herd_settings s;

	fresh(sample);
	full_settings(&s);
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_file("root", "/etc/NetworkManager/system-connections/IEEE.nmconnection",
		    "[connection]\n"
		    "id=IEEE\n"
		    "uuid=5a310cda-6345-5e09-9424-ca5c49ba7bda\n"
		    "type=wifi\n"
		    "\n"
		    "[wifi]\n"
		    "mode=infrastructure\n"
		    "ssid=IEEE\n"
		    "hidden=true\n"
		    "\n"
		    "[wifi-security]\n"
		    "auth-alg=open\n"
		    "key-mgmt=wpa-psk\n"
		    "psk=" PSK "\n"
		    "\n"
		    "[ipv4]\n"
		    "method=auto\n"
		    "\n"
		    "[ipv6]\n"
		    "addr-gen-mode=default\n"
		    "method=auto\n"
		    "\n"
		    "[proxy]\n",
		    0600, 0, 0);
	expect_file("root", "/etc/NetworkManager/system-connections/eth0.nmconnection",
		    "[connection]\n"
		    "id=eth0\n"
		    "uuid=0be20feb-f473-5100-9268-8de2ffc03735\n"
		    "type=ethernet\n"
		    "interface-name=eth0\n"
		    "autoconnect-priority=100\n"
		    "\n"
		    "[ethernet]\n"
		    "\n"
		    "[ipv4]\n"
		    "method=manual\n"
		    "address1=10.1.1.7/24,10.1.1.1\n"
		    "dns=10.1.1.1;9.9.9.9;\n"
		    "\n"
		    "[ipv6]\n"
		    "addr-gen-mode=default\n"
		    "method=auto\n"
		    "\n"
		    "[proxy]\n",
		    0600, 0, 0);
}

static void test_bullseye(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(bullseye);
	full_settings(&s);
	r = customize(&s, 0, NULL, NULL);
	assert_true(r->os_known);
	assert_int_equal(r->network, RECIPE_NET_DHCPCD);
	recipe_free(r);
	settings_free(&s);
	expect_file("root", "/etc/wpa_supplicant/wpa_supplicant.conf",
		    "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\n"
		    "update_config=1\n"
		    "country=DE\n"
		    "\n"
		    "network={\n"
		    "\tssid=\"IEEE\"\n"
		    "\tscan_ssid=1\n"
		    "\tpsk=" PSK "\n"
		    "}\n",
		    0600, 0, 0);
	expect_file("root", "/etc/dhcpcd.conf",
		    "hostname\nclientid\n"
		    "# herd eth0 begin\n"
		    "interface eth0\n"
		    "static ip_address=10.1.1.7/24\n"
		    "static routers=10.1.1.1\n"
		    "static domain_name_servers=10.1.1.1 9.9.9.9\n"
		    "# herd eth0 end\n",
		    0644, 0, 0);
	expect_absent("root", "/etc/NetworkManager");
	expect_file("root", "/etc/hostname", "red07\n", 0644, 0, 0);
}

static void test_create_user(void **state)
{
	struct herd_settings s;

	fresh(sample);
	/* An image without a first user: drop pi everywhere. */
	image_put(img, "root", "/etc/passwd",
		  "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/"
		  "nologin\n");
	image_put(img, "root", "/etc/group",
		  "root:x:0:\nadm:x:4:\nsudo:x:27:\nvideo:x:44:\nplugdev:x:46:\n");
	image_put(img, "root", "/etc/shadow", "root:*:19000:0:99999:7:::\n");
	settings_init(&s);
	set(&s, "user", "bob");
	set(&s, "ssh.authorized_keys", keyfile);
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_file("root", "/etc/passwd",
		    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/"
		    "nologin\nbob:x:1000:1000:,,,:/home/bob:/bin/sh\n",
		    0644, 0, 0);
	expect_file("root", "/etc/group",
		    "root:x:0:\nadm:x:4:bob\nsudo:x:27:bob\nvideo:x:44:bob\nplugdev:x:46:bob\n"
		    "bob:x:1000:\n",
		    0644, 0, 0);
	expect_file("root", "/etc/shadow", "root:*:19000:0:99999:7:::\nbob:*:19000:0:99999:7:::\n",
		    0640, 0, 0);
	expect_file("root", "/home/bob/.bashrc", "# ~/.bashrc\n", 0644, 1000, 1000);
	expect_file("root", "/home/bob/.ssh/authorized_keys", ED25519 " me@laptop\n", 0600, 1000,
		    1000);
}

static void sha_copy(void)
{
	copy_image(img, copy);
}

static void expect_unchanged(void)
{
	run("cmp -s %s %s", img, copy);
}

static void test_idempotent(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	full_settings(&s);
	recipe_free(customize(&s, 0, NULL, NULL));
	sha_copy();
	r = customize(&s, 0, NULL, NULL);
	for (size_t i = 0; i < r->count; i++)
		if (r->ops[i].changed)
			fail_msg("second run changed %s", r->ops[i].path);
	recipe_free(r);
	settings_free(&s);
	/* Not only the files: the whole image is byte-identical. */
	expect_unchanged();

	fresh(bullseye);
	full_settings(&s);
	recipe_free(customize(&s, 0, NULL, NULL));
	sha_copy();
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_unchanged();
}

static void test_atomic(void **state)
{
	struct herd_settings s;
	struct recipe_exec_options opt = {0};
	char vanish[400];

	fresh(sample);
	sha_copy();
	full_settings(&s);
	/* Fail before op 1, in the middle, and before the last one. */
	for (size_t at = 1; at <= 30; at += 7) {
		opt.fail_at = at;
		customize(&s, -EIO, &opt, "injected failure");
		expect_unchanged();
	}
	settings_free(&s);

	/* A source file that vanished between loading and applying. */
	snprintf(vanish, sizeof(vanish), "%s/vanish.src", tmpdir);
	write_local(vanish, "x\n");
	settings_init(&s);
	set(&s, "hostname", "red07");
	add_file(&s, "/etc/x", NULL, vanish, 0, NULL);
	unlink(vanish);
	customize(&s, -ENOENT, NULL, "vanish.src");
	settings_free(&s);
	expect_unchanged();
}

static void test_bad_input(void **state)
{
	struct herd_settings s;
	char bad[400];

	fresh(sample);
	sha_copy();

	/* A key file that disappeared. */
	snprintf(bad, sizeof(bad), "%s/gone.pub", tmpdir);
	write_local(bad, ED25519 "\n");
	settings_init(&s);
	set(&s, "hostname", "red07");
	set(&s, "ssh.authorized_keys", bad);
	unlink(bad);
	customize(&s, -ENOENT, NULL, "gone.pub");
	settings_free(&s);

	/* A malformed key. */
	snprintf(bad, sizeof(bad), "%s/bad.pub", tmpdir);
	write_local(bad, "ssh-ed25519 not-base64!\n");
	settings_init(&s);
	set(&s, "hostname", "red07");
	set(&s, "ssh.authorized_keys", bad);
	customize(&s, -EINVAL, NULL, "not valid base64");
	settings_free(&s);

	/* Values that bypassed the settings layer's checks. */
	settings_init(&s);
	s.hostname = strdup("bad_name!");
	customize(&s, -EINVAL, NULL, "not a valid host name");
	settings_free(&s);

	settings_init(&s);
	set(&s, "timezone", "Europe/London");
	free(s.timezone);
	s.timezone = strdup("Mars/Olympus");
	customize(&s, -ENOENT, NULL, "not in the image");
	settings_free(&s);

	settings_init(&s);
	set(&s, "ipaddr", "10.1.1.7");
	set(&s, "wifi.ssid", "lab");
	free(s.wifi_psk);
	s.wifi_psk = strdup("short");
	customize(&s, -EINVAL, NULL, "8 to 63");
	settings_free(&s);

	settings_init(&s);
	add_file(&s, "/etc/x", "x", NULL, 0, "nobody:nogroup");
	customize(&s, -ENOENT, NULL, "no user 'nobody'");
	settings_free(&s);
	expect_unchanged();

	/* An image without a root filesystem (only the FAT partition). */
	run("rm -f %s && truncate -s 80M %s && printf 'label: dos\\nstart=8192, type=c\\n' | "
	    "sfdisk -q %s && "
	    "mkfs.fat -F 32 -s 1 --offset 8192 %s >/dev/null 2>&1",
	    img, img, img, img);
	sha_copy();
	settings_init(&s);
	set(&s, "hostname", "red07");
	customize(&s, -ENOENT, NULL, "root");
	settings_free(&s);
	expect_unchanged();
}

static void test_unknown_os(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	image_put(img, "root", "/etc/os-release", "ID=alpine\nVERSION_ID=3.20\n");
	image_put(img, "root", "/etc/rpi-issue", NULL);
	settings_init(&s);
	set(&s, "hostname", "red07");
	set(&s, "ssh.authorized_keys", keyfile);
	set(&s, "wifi.ssid", "lab");
	set(&s, "wifi.psk", "password");
	set(&s, "locale", "de_DE.UTF-8");
	r = customize(&s, 0, NULL, NULL);
	settings_free(&s);
	assert_false(r->os_known);
	if (!has_warning(r, "unknown OS (alpine): skipped wifi.ssid, locale"))
		fail_msg("warning: %s", r->warnings.count ? r->warnings.items[0] : "(none)");
	recipe_free(r);
	expect_file("root", "/etc/hostname", "red07\n", 0644, 0, 0);
	expect_file("root", "/home/pi/.ssh/authorized_keys", ED25519 " me@laptop\n", 0600, 1000,
		    1000);
	expect_absent("root", "/etc/NetworkManager/system-connections/lab.nmconnection");
	expect_file("root", "/etc/default/locale", "LANG=en_GB.UTF-8\n", 0644, 0, 0);
}

static void test_dryrun_plan(void **state)
{
	struct herd_error err = {0};
	struct herd_settings s;
	struct recipe *r = NULL;
	char line[512];

	fresh(sample);
	sha_copy();
	full_settings(&s);
	assert_int_equal(recipe_customize(img, &s, true, NULL, &r, &err), 0);
	settings_free(&s);
	expect_unchanged();
	assert_string_equal(r->ops[0].path, "/etc/hostname");
	recipe_op_describe(&r->ops[0], line, sizeof(line));
	assert_string_equal(line, "write   root:/etc/hostname 0644 0:0 (6 bytes)");
	recipe_op_describe(&r->ops[1], line, sizeof(line));
	assert_string_equal(line, "line    root:/etc/hosts '127.0.1.1\tred07'");
	recipe_op_describe(&r->ops[2], line, sizeof(line));
	assert_string_equal(line, "rename  root:/home/pi -> /home/alice");
	recipe_free(r);
}

static void network_settings(struct herd_settings *s)
{
	settings_init(s);
	set(s, "wifi.ssid", "IEEE");
	set(s, "wifi.psk", "password");
	set(s, "wifi.country", "DE");
	set(s, "wifi.hidden", "true");
	set(s, "ipaddr", "10.1.1.7/24");
	set(s, "network.gateway", "10.1.1.1");
	set(s, "network.dns", "10.1.1.1,9.9.9.9");
}

/* Ubuntu-style netplan, and plain systemd-networkd. */
static void test_netplan_networkd(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	image_put(img, "root", "/etc/NetworkManager/system-connections", NULL);
	image_put(img, "root", "/etc/NetworkManager", NULL);
	image_mkdir(img, "/etc/netplan");
	network_settings(&s);
	r = customize(&s, 0, NULL, NULL);
	assert_int_equal(r->network, RECIPE_NET_NETPLAN);
	recipe_free(r);
	settings_free(&s);
	expect_file("root", "/etc/netplan/90-herd.yaml",
		    "# Written by herd.\n"
		    "network:\n"
		    "  version: 2\n"
		    "  ethernets:\n"
		    "    eth0:\n"
		    "      dhcp4: false\n"
		    "      addresses: [10.1.1.7/24]\n"
		    "      routes:\n"
		    "        - to: default\n"
		    "          via: 10.1.1.1\n"
		    "      nameservers:\n"
		    "        addresses: [10.1.1.1, 9.9.9.9]\n"
		    "  wifis:\n"
		    "    wlan0:\n"
		    "      dhcp4: true\n"
		    "      regulatory-domain: \"DE\"\n"
		    "      access-points:\n"
		    "        \"IEEE\":\n"
		    "          password: \"" PSK "\"\n"
		    "          hidden: true\n",
		    0600, 0, 0);

	fresh(sample);
	image_put(img, "root", "/etc/NetworkManager/system-connections", NULL);
	image_put(img, "root", "/etc/NetworkManager", NULL);
	image_mkdir(img, "/etc/systemd/network");
	network_settings(&s);
	r = customize(&s, 0, NULL, NULL);
	assert_int_equal(r->network, RECIPE_NET_NETWORKD);
	recipe_free(r);
	settings_free(&s);
	expect_file("root", "/etc/systemd/network/10-herd-eth0.network",
		    "[Match]\nName=eth0\n\n[Network]\nAddress=10.1.1.7/24\nGateway=10.1.1.1\n"
		    "DNS=10.1.1.1 9.9.9.9\n",
		    0644, 0, 0);
	expect_file("root", "/etc/systemd/network/11-herd-wlan0.network",
		    "[Match]\nName=wlan0\n\n[Network]\nDHCP=yes\n", 0644, 0, 0);
	expect_file("root", "/etc/wpa_supplicant/wpa_supplicant-wlan0.conf",
		    "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\n"
		    "update_config=1\n"
		    "country=DE\n"
		    "\n"
		    "network={\n"
		    "\tssid=\"IEEE\"\n"
		    "\tscan_ssid=1\n"
		    "\tpsk=" PSK "\n"
		    "}\n",
		    0600, 0, 0);
	expect_link("/etc/systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service",
		    "/lib/systemd/system/wpa_supplicant@.service");
}

/* ssh.enabled=false undoes what true did; password_auth=true rewrites the drop-in. */
static void test_ssh_off(void **state)
{
	struct herd_settings s;

	fresh(sample);
	settings_init(&s);
	set(&s, "ssh.enabled", "true");
	set(&s, "ssh.password_auth", "false");
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_file("boot", "/ssh", "", 0, 0, 0);
	settings_init(&s);
	set(&s, "ssh.enabled", "false");
	set(&s, "ssh.password_auth", "true");
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_absent("root", "/etc/systemd/system/multi-user.target.wants/ssh.service");
	expect_absent("root", "/etc/systemd/system/sshd.service");
	expect_absent("boot", "/ssh");
	expect_file("root", "/etc/ssh/sshd_config.d/herd.conf", "PasswordAuthentication yes\n",
		    0644, 0, 0);
}

/* Without the Include line, sshd_config itself gets the setting. */
static void test_sshd_without_include(void **state)
{
	struct herd_settings s;

	fresh(sample);
	image_put(img, "root", "/etc/ssh/sshd_config",
		  "Port 22\n#PasswordAuthentication yes\nUsePAM yes\n");
	settings_init(&s);
	set(&s, "ssh.password_auth", "false");
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	expect_file("root", "/etc/ssh/sshd_config",
		    "Port 22\nPasswordAuthentication no\nUsePAM yes\n", 0644, 0, 0);
	expect_absent("root", "/etc/ssh/sshd_config.d/herd.conf");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bookworm),	cmocka_unit_test(test_bookworm_keyfiles),
	    cmocka_unit_test(test_bullseye),	cmocka_unit_test(test_create_user),
	    cmocka_unit_test(test_idempotent),	cmocka_unit_test(test_atomic),
	    cmocka_unit_test(test_bad_input),	cmocka_unit_test(test_unknown_os),
	    cmocka_unit_test(test_dryrun_plan), cmocka_unit_test(test_netplan_networkd),
	    cmocka_unit_test(test_ssh_off),	cmocka_unit_test(test_sshd_without_include),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
