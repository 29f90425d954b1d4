/*
 * firstboot_cloudinit.c — the cloud-init backend: the host's settings as a
 * NoCloud seed on the boot partition, laid out the way Raspberry Pi Imager
 * 2.x writes it for trixie-based Raspberry Pi OS (and Ubuntu reads it):
 *
 *   user-data       "#cloud-config": hostname + manage_etc_hosts (the
 *                   127.0.1.1 line), timezone, locale, keyboard (model
 *                   pc105, layout, variant), enable_ssh (Raspberry Pi OS's
 *                   cloud-init module), users (name, Imager's groups, shell,
 *                   lock_passwd/passwd with the crypt hash, ssh_authorized_keys,
 *                   sudo), ssh_pwauth, write_files (base64, permissions,
 *                   owner; deferred when owned by a user cloud-init creates),
 *                   package_update + packages, runcmd;
 *   network-config  network config version 2 (netplan syntax): eth0 with the
 *                   static address, routes and nameservers; wlan0 with the
 *                   regulatory domain and the access point, its password as
 *                   the 64-hex PSK (never the passphrase), hidden, optional;
 *   meta-data       one line, instance-id.  Imager uses its clock; herd
 *                   uses "herd-<host>-<SHA-256 prefix of the seed>", so the
 *                   same settings give the same bytes and changed settings a
 *                   new instance (cloud-init re-runs per-instance modules).
 *
 * The regulatory domain also goes on cmdline.txt as the offline backend
 * (and Imager) put it.  Nothing on the root filesystem changes; it is only
 * read for the first user's name and to warn when cloud-init is missing.
 *
 * Every string that is not a validated token is emitted as a YAML
 * double-quoted scalar with escapes (YAML 1.2 §7.3.1), so a value can never
 * break the document.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define KEY_FILE_MAX (256u << 10)
#define SOURCE_MAX   (64u << 20)
#define IMAGER_GROUPS                                                                              \
	"users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo"

static bool is_set(const struct herd_settings *s, const char *name)
{
	const struct settings_key *key = settings_key_find(name);

	return key && settings_is_set(s, key);
}

static int oom(struct herd_error *err)
{
	return herd_error_set(err, ENOMEM, "out of memory");
}

/* A YAML double-quoted scalar. */
static void yq(struct recipe_text *t, const char *s)
{
	recipe_text_put(t, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			recipe_text_put(t, "\\\"", 2);
			break;
		case '\\':
			recipe_text_put(t, "\\\\", 2);
			break;
		case '\n':
			recipe_text_put(t, "\\n", 2);
			break;
		case '\t':
			recipe_text_put(t, "\\t", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				recipe_textf(t, "\\x%02x", *p);
			else
				recipe_text_put(t, (const char *)p, 1);
		}
	}
	recipe_text_put(t, "\"", 1);
}

static int base64(const void *data, size_t len, char **ret)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(cap);

	if (!out)
		return -ENOMEM;
	/* EVP_EncodeBlock takes an int length; feed it in slices of whole
	 * 3-byte groups so inputs past 2 GiB cannot overflow it. */
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = len - i > (3u << 24) ? (3u << 24) : len - i;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o,
					     (const unsigned char *)data + i, (int)n);
		i += n;
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

static int emit_user(struct recipe_text *t, const struct recipe_target *tg,
		     const struct herd_settings *s, struct herd_error *err)
{
	_cleanup_free_ char *keys = NULL;
	struct recipe_userdb db;
	const char *name = s->user;
	char *first = NULL;
	int k;

	/* Collect and check the keys first: a bad key file is an error
	 * before anything is written, as in the offline backend. */
	for (size_t i = 0; i < s->ssh_authorized_keys.count; i++) {
		_cleanup_free_ char *text = NULL, *lines = NULL;
		size_t n = 0;
		k = recipe_read_local(s->ssh_authorized_keys.items[i], KEY_FILE_MAX, &text, &n,
				      err);
		if (k < 0)
			return herd_error_prefix(err, -k, "ssh.authorized_keys");
		k = recipe_check_public_keys(text, n, &lines, err);
		if (k < 0)
			return herd_error_prefix(err, -k, "ssh.authorized_keys: %s",
						 s->ssh_authorized_keys.items[i]);
		size_t have = keys ? strlen(keys) : 0;
		char *grown = realloc(keys, have + strlen(lines) + 1);
		if (!grown)
			return oom(err);
		keys = grown;
		memcpy(keys + have, lines, strlen(lines) + 1);
	}
	if (!s->user && !s->password_hash && !keys)
		return 0;
	/* Without `user`, the image's first user (uid 1000), as Imager
	 * falls back to the current one; "pi" when the image has none. */
	bool have_db = userdb_load(tg->root, &db, NULL) == 0;
	for (size_t i = 0; have_db && !name && i < db.passwd.count && !first; i++) {
		const char *line = db.passwd.items[i];
		const char *c1 = strchr(line, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 && strncmp(c2 + 1, "1000:", 5) == 0)
			first = strndup(line, (size_t)(c1 - line));
	}
	if (!name)
		name = first ? first : "pi";
	recipe_textf(t, "users:\n- name: %s\n", name);
	/* Imager's groups, but only those the image has: cloud-init creates
	 * a missing group before the user's own, which would then not get
	 * gid 1000 (seen on plain Debian: gpio, i2c, spi, netdev). */
	recipe_textf(t, "  groups: ");
	const char *g = IMAGER_GROUPS;
	bool any = false;
	while (*g) {
		size_t n = strcspn(g, ",");
		bool exists = !have_db;
		for (size_t i = 0; have_db && i < db.group.count && !exists; i++)
			exists =
			    strncmp(db.group.items[i], g, n) == 0 && db.group.items[i][n] == ':';
		if (exists) {
			recipe_textf(t, "%s%.*s", any ? "," : "", (int)n, g);
			any = true;
		}
		g += n + (g[n] == ',');
	}
	recipe_text_put(t, "\n", 1);
	if (have_db)
		userdb_free(&db);
	recipe_textf(t, "  shell: /bin/bash\n");
	if (s->password_hash) {
		recipe_textf(t, "  lock_passwd: false\n  passwd: ");
		yq(t, s->password_hash);
		recipe_text_put(t, "\n", 1);
	} else if (keys) {
		recipe_textf(t, "  lock_passwd: true\n");
	}
	if (keys) {
		recipe_textf(t, "  ssh_authorized_keys:\n");
		for (char *p = keys; *p;) {
			char *nl = strchr(p, '\n');
			*nl = '\0';
			recipe_textf(t, "    - ");
			yq(t, p);
			recipe_text_put(t, "\n", 1);
			p = nl + 1;
		}
		/* Imager's choice: with key login there is no password to
		 * type, so sudo must not ask for one. */
		recipe_textf(t, "  sudo: ALL=(ALL) NOPASSWD:ALL\n");
	}
	free(first);
	return 0;
}

static int emit_files(struct recipe_text *t, const struct herd_settings *s, struct herd_error *err)
{
	if (s->files.count == 0)
		return 0;
	recipe_textf(t, "write_files:\n");
	for (size_t i = 0; i < s->files.count; i++) {
		const struct herd_file_spec *f = &s->files.items[i];
		_cleanup_free_ char *data = NULL, *b64 = NULL;
		size_t len = 0;
		int k;

		if (!f->path || !validate_image_path(f->path) || strcmp(f->path, "/") == 0)
			return herd_error_set(err, EINVAL,
					      "files[%zu]: '%s' is not an absolute path", i,
					      f->path ? f->path : "");
		if (f->source) {
			k = recipe_read_local(f->source, SOURCE_MAX, &data, &len, err);
			if (k < 0)
				return herd_error_prefix(err, -k, "files[%zu] %s: source", i,
							 f->path);
		} else {
			data = strdup(f->content ? f->content : "");
			if (!data)
				return oom(err);
			len = strlen(data);
		}
		if (base64(data, len, &b64) < 0)
			return oom(err);
		recipe_textf(t, "- path: ");
		yq(t, f->path);
		recipe_textf(t, "\n  encoding: b64\n  content: %s\n  permissions: \"%04o\"\n", b64,
			     f->has_mode ? f->mode : 0644);
		if (f->owner) {
			recipe_textf(t, "  owner: ");
			yq(t, f->owner);
			/* write_files runs before users are created unless
			 * deferred to the final stage (cloud-init docs,
			 * write_files "defer"). */
			recipe_textf(t, "\n  defer: true\n");
		}
	}
	return 0;
}

static int render_user_data(const struct recipe_target *tg, const struct herd_settings *s,
			    char **ret, struct herd_error *err)
{
	struct recipe_text t = {0};
	int k;

	recipe_textf(&t, "#cloud-config\n"
			 "# Written by herd (cloud-init backend).\n");
	if (s->hostname) {
		if (!validate_hostname(s->hostname))
			return herd_error_set(
			    err, EINVAL, "hostname: '%s' is not a valid host name", s->hostname);
		recipe_textf(&t, "hostname: %s\nmanage_etc_hosts: true\n", s->hostname);
	}
	if (s->timezone) {
		char zone[600];
		struct vfs_stat st;
		if (strlen(s->timezone) > 255 || s->timezone[0] == '/' ||
		    strstr(s->timezone, "..") || strchr(s->timezone, '\n'))
			return herd_error_set(err, EINVAL, "timezone: '%s' is not a time zone name",
					      s->timezone);
		snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", s->timezone);
		if (vfs_stat(tg->root, zone, &st, NULL) < 0)
			return herd_error_set(err, ENOENT,
					      "timezone: '%s' is not in the image's "
					      "/usr/share/zoneinfo",
					      s->timezone);
		recipe_textf(&t, "timezone: ");
		yq(&t, s->timezone);
		recipe_text_put(&t, "\n", 1);
	}
	if (s->locale) {
		if (!validate_locale(s->locale))
			return herd_error_set(err, EINVAL, "locale: '%s' is not a locale name",
					      s->locale);
		recipe_textf(&t, "locale: ");
		yq(&t, s->locale);
		recipe_text_put(&t, "\n", 1);
	}
	if (s->keymap) {
		char layout[64] = "", variant[64] = "";
		if (!validate_keymap(s->keymap))
			return herd_error_set(err, EINVAL, "keymap: '%s' is not an XKB layout",
					      s->keymap);
		size_t n = strcspn(s->keymap, "(");
		snprintf(layout, sizeof(layout), "%.*s", (int)n, s->keymap);
		if (s->keymap[n] == '(')
			snprintf(variant, sizeof(variant), "%.*s",
				 (int)strcspn(s->keymap + n + 1, ")"), s->keymap + n + 1);
		recipe_textf(&t, "keyboard:\n  model: pc105\n  layout: ");
		yq(&t, layout);
		recipe_text_put(&t, "\n", 1);
		if (variant[0]) {
			recipe_textf(&t, "  variant: ");
			yq(&t, variant);
			recipe_text_put(&t, "\n", 1);
		}
	}
	if (is_set(s, "ssh.enabled") && s->ssh_enabled)
		recipe_textf(&t, "enable_ssh: true\n");
	k = emit_user(&t, tg, s, err);
	if (k >= 0 && is_set(s, "ssh.password_auth"))
		recipe_textf(&t, "ssh_pwauth: %s\n", s->ssh_password_auth ? "true" : "false");
	if (k >= 0)
		k = emit_files(&t, s, err);
	if (k >= 0 && s->firstboot_packages.count) {
		recipe_textf(&t, "package_update: true\npackages:\n");
		for (size_t i = 0; i < s->firstboot_packages.count; i++) {
			if (!validate_package_name(s->firstboot_packages.items[i])) {
				k = herd_error_set(err, EINVAL,
						   "firstboot.packages: '%s' is not a package name",
						   s->firstboot_packages.items[i]);
				break;
			}
			recipe_textf(&t, "- %s\n", s->firstboot_packages.items[i]);
		}
	}
	bool ssh_off = is_set(s, "ssh.enabled") && !s->ssh_enabled;
	if (k >= 0 && (s->firstboot_run.count || ssh_off)) {
		recipe_textf(&t, "runcmd:\n");
		/* cloud-init has no key to switch sshd off; the same as the
		 * offline backend's removal of the unit's links. */
		if (ssh_off)
			recipe_textf(&t, "- \"systemctl disable --now ssh\"\n");
		for (size_t i = 0; i < s->firstboot_run.count; i++) {
			recipe_textf(&t, "- ");
			yq(&t, s->firstboot_run.items[i]);
			recipe_text_put(&t, "\n", 1);
		}
	}
	if (k < 0) {
		recipe_text_free(&t);
		return k;
	}
	return recipe_text_take(&t, ret) < 0 ? oom(err) : 0;
}

static int render_network_config(const struct herd_settings *s, char **ret, struct herd_error *err)
{
	struct recipe_text t = {0};
	bool wifi = s->wifi_ssid != NULL, addr = is_set(s, "ipaddr");
	char psk[65], buf[64];

	*ret = NULL;
	if (!wifi && !addr)
		return 0;
	recipe_textf(&t, "network:\n  version: 2\n");
	if (addr) {
		settings_format_ipv4(&s->ipaddr, true, buf, sizeof(buf));
		recipe_textf(&t,
			     "  ethernets:\n"
			     "    eth0:\n"
			     "      dhcp4: false\n"
			     "      addresses: [\"%s\"]\n",
			     buf);
		if (is_set(s, "network.gateway")) {
			settings_format_ipv4(&s->gateway, false, buf, sizeof(buf));
			recipe_textf(&t,
				     "      routes:\n"
				     "        - to: default\n"
				     "          via: %s\n",
				     buf);
		}
		if (s->dns.count) {
			recipe_textf(&t, "      nameservers:\n        addresses: [");
			for (size_t i = 0; i < s->dns.count; i++)
				recipe_textf(&t, "%s%s", i ? ", " : "", s->dns.items[i]);
			recipe_textf(&t, "]\n");
		}
		recipe_textf(&t, "      optional: true\n");
	}
	if (wifi) {
		if (!validate_wifi_ssid(s->wifi_ssid)) {
			recipe_text_free(&t);
			return herd_error_set(err, EINVAL, "wifi.ssid: '%s' is not a valid SSID",
					      s->wifi_ssid);
		}
		int k = network_wifi_key(s, psk, err);
		if (k < 0) {
			recipe_text_free(&t);
			return k;
		}
		recipe_textf(&t, "  wifis:\n    wlan0:\n      dhcp4: true\n");
		if (s->wifi_country)
			recipe_textf(&t, "      regulatory-domain: \"%s\"\n", s->wifi_country);
		recipe_textf(&t, "      access-points:\n        ");
		yq(&t, s->wifi_ssid);
		recipe_textf(&t, ":\n");
		if (s->wifi_hidden)
			recipe_textf(&t, "          hidden: true\n");
		recipe_textf(&t, "          password: \"%s\"\n      optional: true\n", psk);
	}
	return recipe_text_take(&t, ret) < 0 ? oom(err) : 0;
}

static bool has_cloud_init(struct vfs *root)
{
	static const char *const paths[] = {"/usr/bin/cloud-init", "/etc/cloud/cloud.cfg",
					    "/usr/lib/python3/dist-packages/cloudinit"};
	struct vfs_stat st;

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (vfs_lstat(root, paths[i], &st, NULL) == 0)
			return true;
	return false;
}

int firstboot_cloudinit_plan(struct recipe *r, const struct recipe_target *t,
			     const struct herd_settings *s, struct herd_error *err)
{
	_cleanup_free_ char *user_data = NULL, *network = NULL;
	unsigned char d[32];
	char meta[200], host[80];
	EVP_MD_CTX *md;
	bool ok;
	int k;

	if (!t->boot)
		return herd_error_set(
		    err, ENOENT,
		    "firstboot.backend cloud-init: the image has no boot partition "
		    "for the seed");
	k = render_user_data(t, s, &user_data, err);
	if (k >= 0)
		k = render_network_config(s, &network, err);
	if (k < 0)
		return k;
	/* instance-id: stable for the same seed, new for a changed one. */
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, user_data, strlen(user_data)) == 1 &&
	     (!network || EVP_DigestUpdate(md, network, strlen(network)) == 1) &&
	     EVP_DigestFinal_ex(md, d, NULL) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return herd_error_set(err, EIO, "SHA-256 failed");
	snprintf(host, sizeof(host), "%s", s->hostname ? s->hostname : "host");
	snprintf(meta, sizeof(meta), "instance-id: herd-%s-%02x%02x%02x%02x%02x%02x\n", host, d[0],
		 d[1], d[2], d[3], d[4], d[5]);

	if (recipe_add_text(r, "firstboot.backend", RECIPE_BOOT, "/user-data", user_data, 0644, 0,
			    0) < 0 ||
	    recipe_add_text(r, "firstboot.backend", RECIPE_BOOT, "/meta-data", meta, 0644, 0, 0) <
		0 ||
	    (network && recipe_add_text(r, "firstboot.backend", RECIPE_BOOT, "/network-config",
					network, 0644, 0, 0) < 0))
		return oom(err);
	/* As the offline backend: the regulatory domain on the kernel
	 * command line too, so Wi-Fi is unblocked before cloud-init runs. */
	if (s->wifi_country) {
		struct vfs_stat st;
		char word[64];
		snprintf(word, sizeof(word), "cfg80211.ieee80211_regdom=%s", s->wifi_country);
		if (vfs_stat(t->boot, "/cmdline.txt", &st, NULL) == 0 &&
		    recipe_add(r, RECIPE_SET_WORD, RECIPE_BOOT, "wifi.country", "/cmdline.txt",
			       word, 0, "cfg80211.ieee80211_regdom=", 0, 0755, 0, 0) < 0)
			return oom(err);
	}
	if (!has_cloud_init(t->root) &&
	    recipe_warn(r, "firstboot.backend cloud-init: the image has no cloud-init "
			   "(/usr/bin/cloud-init); the seed is ignored unless it is installed") < 0)
		return oom(err);
	return 0;
}
