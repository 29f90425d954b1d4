/*
 * test_recipe_system.c — the system settings of the offline backend:
 * config.txt and cmdline.txt editors (recipe/bootcfg.c), the [Install]
 * parser and offline enable/disable/mask (units.c), the nftables ruleset
 * (firewall.c), WireGuard keys against RFC 7748's test vector and the
 * interface files (wireguard.c).  The pure functions are checked on
 * text; the plans are applied to scripts/make-sample-image.sh images and
 * read back through vfs: exact bytes, modes, owners and link targets,
 * idempotency, and bad input that leaves the image untouched.
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

#include "sample_testlib.h"

#include "config/settings.h"
#include "image/image.h"
#include "recipe/recipe.h"

/* RFC 7748 §6.1: Alice's private and public X25519 keys, base64. */
#define ALICE_PRIV "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define ALICE_PUB  "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define PEER_KEY   "YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wE="

static char nonm[300], keyfile[300], badkey[300];

/* ---- text editors --------------------------------------------------------- */

static void config_edit(const char *in, const char *key, const char *line, const char *want)
{
	char *out = NULL, *again = NULL;

	assert_int_equal(recipe_config_txt_edit(in, key, line, &out), 0);
	assert_string_equal(out, want);
	assert_int_equal(recipe_config_txt_edit(out, key, line, &again), 0);
	assert_string_equal(again, want);
	free(out);
	free(again);
}

#define SAMPLE_CONFIG                                                                              \
	"# Sample config.txt\narm_64bit=1\ndtparam=audio=on\ncamera_auto_detect=1\n"               \
	"display_auto_detect=1\n[all]\n"

static void test_config_txt(void **state)
{
	/* A new key goes to the end when the file ends in the global context. */
	config_edit(SAMPLE_CONFIG, "gpu_mem", "gpu_mem=128", SAMPLE_CONFIG "gpu_mem=128\n");
	/* An existing one is replaced where it is. */
	config_edit(SAMPLE_CONFIG, "dtparam=audio", "dtparam=audio=off",
		    "# Sample config.txt\narm_64bit=1\ndtparam=audio=off\ncamera_auto_detect=1\n"
		    "display_auto_detect=1\n[all]\n");
	/* Board filters are left alone; a global value goes after [all]. */
	config_edit("arm_boost=1\n[pi4]\narm_boost=0\n", "arm_boost", "arm_boost=2",
		    "arm_boost=2\n[pi4]\narm_boost=0\n");
	config_edit("[pi4]\narm_boost=0\n", "arm_boost", "arm_boost=1",
		    "[pi4]\narm_boost=0\n[all]\narm_boost=1\n");
	config_edit("[cm4]\notg_mode=1\n[all]\nx=1\n", "otg_mode", "otg_mode=0",
		    "[cm4]\notg_mode=1\n[all]\nx=1\notg_mode=0\n");
	/* Duplicates in the global context collapse into the first. */
	config_edit("a=1\nb=2\na=3\n[all]\na=4\n", "a", "a=5", "a=5\nb=2\n[all]\n");
	/* Comments and other keys that share a prefix are not the key. */
	config_edit("#gpu_mem=64\ngpu_mem_256=100\n", "gpu_mem", "gpu_mem=128",
		    "#gpu_mem=64\ngpu_mem_256=100\ngpu_mem=128\n");
	/* Removing: every global occurrence, none under a filter. */
	config_edit("arm_64bit=1\n[pi4]\narm_64bit=0\n[all]\narm_64bit=1\n", "arm_64bit", NULL,
		    "[pi4]\narm_64bit=0\n[all]\n");
	config_edit(SAMPLE_CONFIG, "hdmi_safe", NULL, SAMPLE_CONFIG);
	/* Overlays: one per name; new parameters replace the old line. */
	config_edit("dtoverlay=vc4-kms-v3d\n", "dtoverlay=disable-bt", "dtoverlay=disable-bt",
		    "dtoverlay=vc4-kms-v3d\ndtoverlay=disable-bt\n");
	config_edit("dtoverlay=gpio-fan,gpiopin=14\n", "dtoverlay=gpio-fan",
		    "dtoverlay=gpio-fan,gpiopin=18", "dtoverlay=gpio-fan,gpiopin=18\n");
	/* No final newline: kept when replacing in place, added when appending. */
	config_edit("a=1\nb=2", "b", "b=3", "a=1\nb=3");
	config_edit("a=1", "b", "b=3", "a=1\nb=3\n");
	config_edit(NULL, "b", "b=3", "b=3\n");
	config_edit("", "b", NULL, "");
	/* A line longer than any buffer is still found (fuzz_recipe_system:
	 * a 1398-byte line was added again on every edit). */
	{
		char line[3000], want[3002];
		memset(line, 'x', sizeof(line) - 1);
		memcpy(line, "a=", 2);
		line[sizeof(line) - 1] = '\0';
		snprintf(want, sizeof(want), "%s\n", line);
		config_edit(NULL, "a", line, want);
		config_edit(want, "a", NULL, "");
	}
}

static void cmdline_edit(const char *in, const char *key, const char *word, const char *want)
{
	char *out = NULL, *again = NULL;

	assert_int_equal(recipe_cmdline_edit(in, key, word, &out), 0);
	assert_string_equal(out, want);
	assert_int_equal(recipe_cmdline_edit(out, key, word, &again), 0);
	assert_string_equal(again, want);
	free(out);
	free(again);
}

#define CMDLINE                                                                                    \
	"console=serial0,115200 console=tty1 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 "           \
	"fsck.repair=yes rootwait"

static void test_cmdline(void **state)
{
	cmdline_edit(CMDLINE "\n", "quiet", "quiet", CMDLINE " quiet\n");
	cmdline_edit(CMDLINE "\n", "console", "console=ttyAMA0",
		     "console=ttyAMA0 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 fsck.repair=yes "
		     "rootwait\n");
	cmdline_edit(CMDLINE "\n", "console", NULL,
		     "root=PARTUUID=5e3da9a1-02 rootfstype=ext4 fsck.repair=yes rootwait\n");
	cmdline_edit(CMDLINE "\n", "rootwait", NULL,
		     "console=serial0,115200 console=tty1 root=PARTUUID=5e3da9a1-02 "
		     "rootfstype=ext4 fsck.repair=yes\n");
	/* "console" is not "consoleblank". */
	cmdline_edit("consoleblank=0 quiet\n", "console", "console=tty1",
		     "consoleblank=0 quiet console=tty1\n");
	cmdline_edit("consoleblank=0 quiet\n", "console", NULL, "consoleblank=0 quiet\n");
	/* No trailing newline stays without one; odd spacing is kept. */
	cmdline_edit("a=1  b c", "d", "d=4", "a=1  b c d=4");
	cmdline_edit("a=1  b\tc \n", "b", "b=2", "a=1  b=2\tc \n");
	cmdline_edit("a=1  b\tc \n", "a", NULL, "b\tc \n");
	/* Only the first line is the command line. */
	cmdline_edit("a b\n# second\n", "c", "c", "a b c\n# second\n");
	cmdline_edit("", "quiet", "quiet", "quiet");
	cmdline_edit(NULL, "quiet", NULL, "");
}

static void test_install_parse(void **state)
{
	struct recipe_unit_install u;

	assert_int_equal(recipe_unit_parse_install("[Unit]\nWantedBy=not-this.target\n"
						   "[Install]\n"
						   "# comment\n"
						   "WantedBy=multi-user.target graphical.target\n"
						   "WantedBy = extra.target\n"
						   "RequiredBy=a.target \\\n b.target\n"
						   "Alias=x.service\n"
						   "Also=y.socket z.timer\n"
						   "DefaultInstance=tty1\n"
						   "[Service]\nAlso=nope.service\n",
						   &u),
			 0);
	assert_int_equal(u.wanted_by.count, 3);
	assert_string_equal(u.wanted_by.items[0], "multi-user.target");
	assert_string_equal(u.wanted_by.items[2], "extra.target");
	assert_int_equal(u.required_by.count, 2);
	assert_string_equal(u.required_by.items[1], "b.target");
	assert_int_equal(u.alias.count, 1);
	assert_int_equal(u.also.count, 2);
	assert_string_equal(u.also.items[1], "z.timer");
	assert_string_equal(u.default_instance, "tty1");
	recipe_unit_install_free(&u);

	/* An empty assignment resets the list. */
	assert_int_equal(recipe_unit_parse_install("[Install]\nWantedBy=a.target\nWantedBy=\n"
						   "WantedBy=b.target\n",
						   &u),
			 0);
	assert_int_equal(u.wanted_by.count, 1);
	assert_string_equal(u.wanted_by.items[0], "b.target");
	recipe_unit_install_free(&u);
	assert_int_equal(recipe_unit_parse_install("[Unit]\nDescription=x\n", &u), 0);
	assert_int_equal(u.wanted_by.count + u.alias.count + u.also.count, 0);
	assert_null(u.default_instance);
	recipe_unit_install_free(&u);
}

#define NFT_HEAD                                                                                   \
	"#!/usr/sbin/nft -f\n"                                                                     \
	"# Written by herd from firewall.allow: inbound traffic is dropped except\n"               \
	"# replies, loopback, ICMP/ICMPv6 and the ports listed below.\n"                           \
	"\n"                                                                                       \
	"flush ruleset\n"                                                                          \
	"\n"                                                                                       \
	"table inet filter {\n"                                                                    \
	"\tchain input {\n"                                                                        \
	"\t\ttype filter hook input priority filter; policy drop;\n"                               \
	"\t\tct state established,related accept\n"                                                \
	"\t\tct state invalid drop\n"                                                              \
	"\t\tiifname \"lo\" accept\n"                                                              \
	"\t\tmeta l4proto { icmp, ipv6-icmp } accept\n"
#define NFT_TAIL                                                                                   \
	"\t}\n"                                                                                    \
	"\tchain forward {\n"                                                                      \
	"\t\ttype filter hook forward priority filter; policy accept;\n"                           \
	"\t}\n"                                                                                    \
	"\tchain output {\n"                                                                       \
	"\t\ttype filter hook output priority filter; policy accept;\n"                            \
	"\t}\n"                                                                                    \
	"}\n"

static void test_firewall_render(void **state)
{
	struct strv allow = STRV_INIT;
	struct herd_error err = {0};
	char *out = NULL;

	strv_push(&allow, "8000-8100/tcp");
	strv_push(&allow, "51820/udp");
	strv_push(&allow, "80");
	strv_push(&allow, "8050-8200/tcp");
	strv_push(&allow, "8201/tcp");
	strv_push(&allow, "80/tcp");
	assert_int_equal(recipe_firewall_render(&allow, true, &out, &err), 0);
	assert_string_equal(out, NFT_HEAD "\t\ttcp dport { 22, 80, 8000-8201 } accept\n"
					  "\t\tudp dport { 80, 51820 } accept\n" NFT_TAIL);
	free(out);
	/* ssh covered by a range: not added again; without ssh: not added. */
	strv_free(&allow);
	strv_push(&allow, "20-30/tcp");
	assert_int_equal(recipe_firewall_render(&allow, true, &out, &err), 0);
	assert_string_equal(out, NFT_HEAD "\t\ttcp dport { 20-30 } accept\n" NFT_TAIL);
	free(out);
	strv_free(&allow);
	strv_push(&allow, "53/udp");
	assert_int_equal(recipe_firewall_render(&allow, false, &out, &err), 0);
	assert_string_equal(out, NFT_HEAD "\t\tudp dport { 53 } accept\n" NFT_TAIL);
	free(out);
	strv_push(&allow, "53/sctp");
	assert_int_equal(recipe_firewall_render(&allow, false, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'53/sctp'"));
	strv_free(&allow);
}

static void test_wg_keys(void **state)
{
	char pub[45], a[45], b[45];

	assert_int_equal(recipe_wg_public_key(ALICE_PRIV, pub), 0);
	assert_string_equal(pub, ALICE_PUB);
	assert_int_equal(recipe_wg_public_key("not a key", pub), -EINVAL);
	assert_int_equal(recipe_wg_generate_key(a), 0);
	assert_int_equal(recipe_wg_generate_key(b), 0);
	assert_int_equal(strlen(a), 44);
	assert_string_not_equal(a, b);
	assert_int_equal(recipe_wg_public_key(a, pub), 0);
}

/* ---- on images ------------------------------------------------------------- */

static int setup(void **state)
{
	if (sample_setup("recipe-system") < 0)
		return -1;
	snprintf(nonm, sizeof(nonm), "%s/nonm.img", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/wg.key", tmpdir);
	snprintf(badkey, sizeof(badkey), "%s/bad.key", tmpdir);
	/* Without NetworkManager (wg-quick instead), via herd's own vfs. */
	copy_image(sample, nonm);
	image_put(nonm, "root", "/etc/NetworkManager/system-connections", NULL);
	image_put(nonm, "root", "/etc/NetworkManager", NULL);
	write_local(keyfile, ALICE_PRIV "\n");
	write_local(badkey, "-----BEGIN PRIVATE KEY-----\n");
	return 0;
}

static int teardown(void **state)
{
	sample_teardown();
	return 0;
}

static void read_back(const char *part, const char *path, char **ret, struct vfs_stat *st)
{
	struct herd_error err = {0};
	struct image *im = NULL;
	struct vfs *fs = NULL;

	assert_int_equal(image_open(img, IMAGE_READ_ONLY, &im, &err), 0);
	assert_int_equal(image_mount(im, part, false, &fs, &err), 0);
	if (vfs_read_all(fs, path, 1 << 20, ret, NULL, &err) < 0)
		fail_msg("%s:%s: %s", part, path, err.message);
	assert_int_equal(vfs_lstat(fs, path, st, &err), 0);
	vfs_close(fs, NULL);
	image_close(im);
}

static void expect_file(const char *part, const char *path, const char *want, uint32_t mode)
{
	struct vfs_stat st;
	char *data = NULL;

	read_back(part, path, &data, &st);
	assert_string_equal(data, want);
	if (strcmp(part, "root") == 0 && ((st.mode & 07777) != mode || st.uid || st.gid))
		fail_msg("%s: mode %04o %u:%u, want %04o 0:0", path, st.mode, st.uid, st.gid, mode);
	free(data);
}

static void expect_unchanged(const char *base)
{
	char cmd[800];

	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", base, img);
	if (system(cmd) != 0)
		fail_msg("the image changed");
}

static void expect_idempotent(const struct herd_settings *s)
{
	char copy[320], cmd[800];

	snprintf(copy, sizeof(copy), "%s/before.img", tmpdir);
	copy_image(img, copy);
	recipe_free(customize(s, 0, NULL, NULL));
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", copy, img);
	if (system(cmd) != 0)
		fail_msg("a second run changed the image");
}

#define WANTS "/etc/systemd/system/multi-user.target.wants"

static void test_units(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	settings_init(&s);
	set(&s, "systemd.enable", "ssh,avahi-daemon,getty@.service,wg-quick@wg1");
	set(&s, "systemd.mask", "systemd-journald.service,bluetooth.service");
	r = customize(&s, 0, NULL, NULL);
	recipe_free(r);
	expect_link(WANTS "/ssh.service", "/lib/systemd/system/ssh.service");
	expect_link("/etc/systemd/system/sshd.service", "/lib/systemd/system/ssh.service");
	/* Also= and Alias=. */
	expect_link(WANTS "/avahi-daemon.service", "/lib/systemd/system/avahi-daemon.service");
	expect_link("/etc/systemd/system/dbus-org.freedesktop.Avahi.service",
		    "/lib/systemd/system/avahi-daemon.service");
	expect_link("/etc/systemd/system/sockets.target.wants/avahi-daemon.socket",
		    "/lib/systemd/system/avahi-daemon.socket");
	/* Templates: DefaultInstance, and a named instance of another. */
	expect_link("/etc/systemd/system/getty.target.wants/getty@tty1.service",
		    "/lib/systemd/system/getty@.service");
	expect_link(WANTS "/wg-quick@wg1.service", "/lib/systemd/system/wg-quick@.service");
	/* Masks, also of a unit the image does not have (as systemctl). */
	expect_link("/etc/systemd/system/systemd-journald.service", "/dev/null");
	expect_link("/etc/systemd/system/bluetooth.service", "/dev/null");
	expect_idempotent(&s);
	settings_free(&s);

	/* Disable undoes enable: every link, Also= units too. */
	settings_init(&s);
	set(&s, "systemd.disable", "avahi-daemon.service,getty@.service,ssh");
	recipe_free(customize(&s, 0, NULL, NULL));
	expect_link(WANTS "/avahi-daemon.service", "");
	expect_link("/etc/systemd/system/dbus-org.freedesktop.Avahi.service", "");
	expect_link("/etc/systemd/system/sockets.target.wants/avahi-daemon.socket", "");
	expect_link("/etc/systemd/system/getty.target.wants/getty@tty1.service", "");
	expect_link(WANTS "/ssh.service", "");
	expect_link("/etc/systemd/system/sshd.service", "");
	expect_link(WANTS "/wg-quick@wg1.service", "/lib/systemd/system/wg-quick@.service");
	expect_link("/etc/systemd/system/systemd-journald.service", "/dev/null");
	expect_idempotent(&s);
	settings_free(&s);

	/* By an alias name while the alias link exists: the unit it names. */
	settings_init(&s);
	set(&s, "systemd.enable", "ssh");
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	settings_init(&s);
	set(&s, "systemd.disable", "sshd");
	recipe_free(customize(&s, 0, NULL, NULL));
	expect_link(WANTS "/ssh.service", "");
	expect_link("/etc/systemd/system/sshd.service", "");
	settings_free(&s);
}

static void test_units_errors(void **state)
{
	struct herd_settings s;
	struct recipe *r;

	fresh(sample);
	settings_init(&s);
	set(&s, "hostname", "red01");
	set(&s, "systemd.enable", "nosuch");
	customize(&s, -ENOENT, NULL, "systemd.enable: unit nosuch.service is not in the image");
	expect_unchanged(sample);
	settings_free(&s);

	settings_init(&s);
	set(&s, "systemd.enable", "wg-quick@.service");
	customize(&s, -EINVAL, NULL, "is a template without DefaultInstance=");
	settings_free(&s);

	settings_init(&s);
	set(&s, "systemd.enable", "ssh");
	set(&s, "systemd.disable", "ssh.service");
	customize(&s, -EINVAL, NULL,
		  "systemd: ssh.service is in both systemd.enable and systemd.disable");
	settings_free(&s);

	settings_init(&s);
	set(&s, "systemd.disable", "nosuch.timer");
	customize(&s, -ENOENT, NULL, "nosuch.timer is not in the image");
	settings_free(&s);
	expect_unchanged(sample);

	/* Masked first, then asked to enable: refused. */
	settings_init(&s);
	set(&s, "systemd.mask", "ssh");
	recipe_free(customize(&s, 0, NULL, NULL));
	settings_free(&s);
	settings_init(&s);
	set(&s, "systemd.enable", "ssh");
	customize(&s, -EPERM, NULL, "ssh.service is masked");
	settings_free(&s);

	/* A static unit: nothing to do, and a warning saying so. */
	fresh(sample);
	settings_init(&s);
	set(&s, "systemd.enable", "systemd-journald");
	r = customize(&s, 0, NULL, NULL);
	assert_int_equal(r->warnings.count, 1);
	assert_non_null(strstr(r->warnings.items[0], "has no [Install] section"));
	recipe_free(r);
	settings_free(&s);
}

static void test_bootcfg(void **state)
{
	struct herd_settings s;

	fresh(sample);
	settings_init(&s);
	set(&s, "config.set", "gpu_mem=128");
	set(&s, "config.set", "dtparam=audio=off");
	set(&s, "config.remove", "camera_auto_detect");
	set(&s, "config.dtoverlay", "disable-bt gpio-fan,gpiopin=14");
	set(&s, "cmdline.set", "quiet console=tty3");
	set(&s, "cmdline.remove", "fsck.repair");
	/* Wi-Fi's regulatory word goes through the same cmdline.txt. */
	set(&s, "wifi.ssid", "lab");
	set(&s, "wifi.psk", "correct horse");
	set(&s, "wifi.country", "DE");
	recipe_free(customize(&s, 0, NULL, NULL));
	expect_file("boot", "/config.txt",
		    "# Sample config.txt\narm_64bit=1\ndtparam=audio=off\ndisplay_auto_detect=1\n"
		    "[all]\ngpu_mem=128\ndtoverlay=disable-bt\ndtoverlay=gpio-fan,gpiopin=14\n",
		    0);
	expect_file("boot", "/cmdline.txt",
		    "console=tty3 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 rootwait "
		    "cfg80211.ieee80211_regdom=DE quiet\n",
		    0);
	expect_idempotent(&s);
	settings_free(&s);

	settings_init(&s);
	set(&s, "cmdline.set", "quiet");
	set(&s, "cmdline.remove", "quiet");
	customize(&s, -EINVAL, NULL, "quiet is in both cmdline.set and cmdline.remove");
	settings_free(&s);
}

static void test_firewall(void **state)
{
	struct herd_settings s;

	fresh(sample);
	settings_init(&s);
	set(&s, "ssh.enabled", "true");
	set(&s, "firewall.allow", "80/tcp,51820/udp");
	recipe_free(customize(&s, 0, NULL, NULL));
	expect_file("root", "/etc/nftables.conf",
		    NFT_HEAD "\t\ttcp dport { 22, 80 } accept\n"
			     "\t\tudp dport { 51820 } accept\n" NFT_TAIL,
		    0755);
	expect_link("/etc/systemd/system/sysinit.target.wants/nftables.service",
		    "/lib/systemd/system/nftables.service");
	expect_idempotent(&s);
	settings_free(&s);

	/* ssh off: no automatic 22. */
	fresh(sample);
	settings_init(&s);
	set(&s, "ssh.enabled", "false");
	set(&s, "firewall.allow", "443/tcp");
	recipe_free(customize(&s, 0, NULL, NULL));
	expect_file("root", "/etc/nftables.conf",
		    NFT_HEAD "\t\ttcp dport { 443 } accept\n" NFT_TAIL, 0755);
	settings_free(&s);

	settings_init(&s);
	set(&s, "firewall.allow", "443/tcp");
	set(&s, "systemd.mask", "nftables");
	customize(&s, -EINVAL, NULL,
		  "firewall.allow needs nftables.service, which systemd.mask lists");
	settings_free(&s);
}

static void test_wireguard_nm(void **state)
{
	struct herd_settings s;
	struct recipe *r;
	struct vfs_stat st;
	char *text = NULL, *first = NULL, pub[45];

	fresh(sample);
	settings_init(&s);
	set(&s, "wireguard.address", "10.99.0.2/24");
	set(&s, "wireguard.listen_port", "51820");
	set(&s, "wireguard.peers",
	    "public_key=" PEER_KEY " endpoint=vpn.example.com:51820 "
	    "allowed_ips=10.99.0.0/24,fd00::/64 persistent_keepalive=25");
	r = customize(&s, 0, NULL, NULL);
	assert_true(r->wireguard_key_generated);
	memcpy(pub, r->wireguard_public_key, sizeof(pub));
	assert_int_equal(strlen(pub), 44);
	recipe_free(r);
	read_back("root", "/etc/NetworkManager/system-connections/wg0.nmconnection", &text, &st);
	assert_int_equal(st.mode & 07777, 0600);
	assert_int_equal(st.uid, 0);
	const char *k = strstr(text, "\nprivate-key=");
	assert_non_null(k);
	char priv[45];
	memcpy(priv, k + 13, 44);
	priv[44] = '\0';
	char derived[45];
	assert_int_equal(recipe_wg_public_key(priv, derived), 0);
	assert_string_equal(derived, pub);
	char want[2048];
	snprintf(want, sizeof(want),
		 "# Written by herd (wireguard.*)\n[connection]\nid=wg0\nuuid=%.36s\n"
		 "type=wireguard\ninterface-name=wg0\nautoconnect=true\n\n[wireguard]\n"
		 "listen-port=51820\nprivate-key=%s\n\n[wireguard-peer." PEER_KEY "]\n"
		 "endpoint=vpn.example.com:51820\nallowed-ips=10.99.0.0/24;fd00::/64;\n"
		 "persistent-keepalive=25\n\n[ipv4]\naddress1=10.99.0.2/24\nmethod=manual\n\n"
		 "[ipv6]\naddr-gen-mode=default\nmethod=disabled\n",
		 strstr(text, "uuid=") + 5, priv);
	assert_string_equal(text, want);
	first = text;
	/* Second run: the image's key is kept, byte-identical image. */
	expect_idempotent(&s);
	r = customize(&s, 0, NULL, NULL);
	assert_false(r->wireguard_key_generated);
	assert_string_equal(r->wireguard_public_key, pub);
	recipe_free(r);
	free(first);
	settings_free(&s);
}

static void test_wireguard_quick(void **state)
{
	struct herd_settings s;
	struct recipe *r;
	struct vfs_stat st;
	char *text = NULL;

	fresh(nonm);
	settings_init(&s);
	set(&s, "wireguard.address", "fd00::2/64");
	set(&s, "wireguard.private_key_file", keyfile);
	set(&s, "wireguard.peers", "public_key=" PEER_KEY " allowed_ips=fd00::/64");
	r = customize(&s, 0, NULL, NULL);
	assert_string_equal(r->wireguard_public_key, ALICE_PUB);
	assert_false(r->wireguard_key_generated);
	recipe_free(r);
	expect_file("root", "/etc/wireguard/wg0.conf",
		    "# Written by herd (wireguard.*)\n[Interface]\nAddress = fd00::2/64\n"
		    "PrivateKey = " ALICE_PRIV "\n\n[Peer]\nPublicKey = " PEER_KEY "\n"
		    "AllowedIPs = fd00::/64\n",
		    0600);
	read_back("root", "/etc/wireguard/wg0.conf", &text, &st);
	free(text);
	expect_link(WANTS "/wg-quick@wg0.service", "/lib/systemd/system/wg-quick@.service");
	expect_idempotent(&s);
	settings_free(&s);

	/* Bad input: image untouched, the key's content never in the message. */
	fresh(nonm);
	settings_init(&s);
	set(&s, "wireguard.address", "10.0.0.2/24");
	set(&s, "wireguard.private_key_file", badkey);
	customize(&s, -EINVAL, NULL, "not a WireGuard private key");
	expect_unchanged(nonm);
	settings_free(&s);
	settings_init(&s);
	set(&s, "wireguard.listen_port", "51820");
	customize(&s, -EINVAL, NULL, "wireguard.address (--wg-address ADDR/N) is needed");
	settings_free(&s);
	expect_unchanged(nonm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_txt),	    cmocka_unit_test(test_cmdline),
	    cmocka_unit_test(test_install_parse),   cmocka_unit_test(test_firewall_render),
	    cmocka_unit_test(test_wg_keys),	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_units_errors),    cmocka_unit_test(test_bootcfg),
	    cmocka_unit_test(test_firewall),	    cmocka_unit_test(test_wireguard_nm),
	    cmocka_unit_test(test_wireguard_quick),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
