/*
 * plan.c — settings → operations, for the offline backend.
 *
 * recipe_plan() reads what it needs from the image (never writes) and
 * appends operations in a fixed order: hostname, user and password, SSH,
 * network, timezone, locale, keymap, extra files, config.txt/cmdline.txt
 * (bootcfg.c), WireGuard (wireguard.c), firewall (firewall.c), systemd
 * units (units.c), first-boot work.  The
 * files each setting touches are the ones Raspberry Pi OS and Debian read
 * (see the comment at each function); users.c and network.c hold the two
 * larger settings.
 *
 * OS support: Debian, Raspberry Pi OS and Ubuntu get every setting.  Any
 * other root filesystem (or one without os-release) gets the portable ones
 * — hostname, timezone, authorized keys of an existing user, the sshd
 * drop-in, extra files, config.txt/cmdline.txt — and a warning naming
 * each setting skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "base/parse.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define KEY_FILE_MAX	 (256u << 10)
#define SOURCE_MAX	 (64u << 20)
#define WANTS_DIR	 "/etc/systemd/system/multi-user.target.wants"
#define FIRSTBOOT_SCRIPT "/usr/local/lib/herd/firstboot.sh"
#define FIRSTBOOT_UNIT	 "/etc/systemd/system/herd-firstboot.service"

static bool is_set(const struct herd_settings *s, const char *name)
{
	const struct settings_key *key = settings_key_find(name);

	return key && settings_is_set(s, key);
}

static int oom(struct herd_error *err)
{
	return herd_error_set(err, ENOMEM, "out of memory");
}

static bool exists(struct vfs *fs, const char *path, enum vfs_type type)
{
	struct vfs_stat st;

	return fs && vfs_lstat(fs, path, &st, NULL) == 0 && (!type || st.type == type);
}

/* ---- SSH public keys -------------------------------------------------- */

static const char *const key_types[] = {
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

/* Decode the first `want` bytes of RFC 4648 base64 text of length n;
 * false when the text is not base64 at all. */
static bool b64_prefix(const char *s, size_t n, unsigned char *out, size_t want, size_t *ret_got)
{
	size_t got = 0, pad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n == 0 || n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i + 2 < n)
				return false;
			pad++;
			continue;
		}
		int v = parse_base64_char(s[i]);
		if (v < 0 || pad)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (got < want)
				out[got] = (unsigned char)(acc >> bits);
			got++;
		}
	}
	*ret_got = got;
	return true;
}

int recipe_check_public_keys(const char *text, size_t len, char **ret, struct herd_error *err)
{
	char *out = malloc(len + 2);
	size_t o = 0, lineno = 0, keys = 0;

	if (!out)
		return oom(err);
	if (memchr(text, '\0', len)) {
		free(out);
		return herd_error_set(err, EINVAL, "not a public key file (binary data)");
	}
	for (const char *p = text; p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		const char *line = p;
		p += n + (nl ? 1 : 0);
		lineno++;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (n == 0 || *line == '#')
			continue;
		size_t tl = strcspn(line, " \t");
		if (tl > n)
			tl = n;
		const char *type = NULL;
		for (size_t i = 0; i < ELEMENTSOF(key_types); i++)
			if (strlen(key_types[i]) == tl && memcmp(key_types[i], line, tl) == 0)
				type = key_types[i];
		if (!type) {
			free(out);
			if (tl > 40)
				tl = 40;
			if (memmem(line, n, "PRIVATE KEY", 11))
				return herd_error_set(
				    err, EINVAL,
				    "line %zu: this is a private key; give the .pub "
				    "file",
				    lineno);
			return herd_error_set(err, EINVAL,
					      "line %zu: '%.*s' is not a known SSH key type",
					      lineno, (int)tl, line);
		}
		const char *b = line + tl;
		while (b < line + n && (*b == ' ' || *b == '\t'))
			b++;
		size_t bl = strcspn(b, " \t");
		if (b + bl > line + n)
			bl = (size_t)(line + n - b);
		unsigned char head[64];
		size_t got = 0;
		bool ok = bl > 0 && b64_prefix(b, bl, head, sizeof(head), &got) && got >= 4;
		if (ok) {
			/* RFC 4253 §6.6: the blob starts with the key type as an SSH string. */
			uint32_t sl = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
				      (uint32_t)head[2] << 8 | head[3];
			ok = sl == strlen(type) && 4 + sl <= got && 4 + sl <= sizeof(head) &&
			     memcmp(head + 4, type, sl) == 0;
		}
		if (!ok) {
			free(out);
			return herd_error_set(
			    err, EINVAL,
			    "line %zu: the %s key data is not valid base64 of a %s "
			    "key",
			    lineno, type, type);
		}
		memcpy(out + o, line, n);
		o += n;
		out[o++] = '\n';
		keys++;
	}
	if (keys == 0) {
		free(out);
		return herd_error_set(err, EINVAL, "no public key in the file");
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

/* ---- settings --------------------------------------------------------- */

static int plan_hostname(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	char text[300];

	if (!s->hostname)
		return 0;
	if (!validate_hostname(s->hostname))
		return herd_error_set(err, EINVAL, "hostname: '%s' is not a valid host name",
				      s->hostname);
	/* /etc/hostname holds one name; Debian maps it to 127.0.1.1 in
	 * /etc/hosts so the name resolves without DNS (Debian reference §5.1.1). */
	snprintf(text, sizeof(text), "%s\n", s->hostname);
	if (recipe_add_text(r, "hostname", RECIPE_ROOT, "/etc/hostname", text, 0644, 0, 0) < 0)
		return oom(err);
	snprintf(text, sizeof(text), "127.0.1.1\t%s", s->hostname);
	if (recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "hostname", "/etc/hosts", text, 0,
		       "127.0.1.1", RECIPE_LINE_CREATE, 0644, 0, 0) < 0)
		return oom(err);
	return 0;
}

static int plan_keys(struct recipe *r, const struct recipe_userdb *db, const char *user,
		     const struct herd_settings *s, struct herd_error *err)
{
	_cleanup_free_ char *home = NULL, *all = NULL;
	char dir[4200], file[4300];
	uint32_t uid, gid;
	size_t len = 0;

	if (s->ssh_authorized_keys.count == 0)
		return 0;
	if (!user)
		return herd_error_set(err, EINVAL,
				      "ssh.authorized_keys: the image has no first user "
				      "to install keys for; set user");
	if (userdb_user(db, user, &uid, &gid, &home) < 0)
		return herd_error_set(err, ENOENT, "ssh.authorized_keys: no user '%s'", user);
	for (size_t i = 0; i < s->ssh_authorized_keys.count; i++) {
		const char *path = s->ssh_authorized_keys.items[i];
		_cleanup_free_ char *text = NULL, *keys = NULL;
		size_t n = 0;
		int k = recipe_read_local(path, KEY_FILE_MAX, &text, &n, err);
		if (k < 0)
			return herd_error_prefix(err, -k, "ssh.authorized_keys");
		k = recipe_check_public_keys(text, n, &keys, err);
		if (k < 0)
			return herd_error_prefix(err, -k, "ssh.authorized_keys: %s", path);
		char *grown = realloc(all, len + strlen(keys) + 1);
		if (!grown)
			return oom(err);
		all = grown;
		memcpy(all + len, keys, strlen(keys) + 1);
		len += strlen(keys);
	}
	/* sshd's StrictModes refuses keys in a directory or file others can
	 * write; 0700/0600 owned by the user is what ssh-copy-id leaves. */
	snprintf(dir, sizeof(dir), "%s/.ssh", strcmp(home, "/") ? home : "");
	snprintf(file, sizeof(file), "%s/authorized_keys", dir);
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "ssh.authorized_keys", dir, NULL, 0, NULL, 0,
		       0700, uid, gid) < 0 ||
	    recipe_add(r, RECIPE_CHMOD, RECIPE_ROOT, "ssh.authorized_keys", dir, NULL, 0, NULL, 0,
		       0700, uid, gid) < 0 ||
	    recipe_add(r, RECIPE_CHOWN, RECIPE_ROOT, "ssh.authorized_keys", dir, NULL, 0, NULL, 0,
		       0700, uid, gid) < 0 ||
	    recipe_add_text(r, "ssh.authorized_keys", RECIPE_ROOT, file, all, 0600, uid, gid) < 0)
		return oom(err);
	return 0;
}

/* `systemctl enable ssh` offline: the [Install] section of Debian's
 * ssh.service is WantedBy=multi-user.target and Alias=sshd.service. */
static int plan_ssh_service(struct recipe *r, const struct recipe_target *t,
			    const struct herd_settings *s, struct herd_error *err)
{
	static const char unit[] = "/lib/systemd/system/ssh.service";
	bool on = s->ssh_enabled;
	int k = 0;

	if (!is_set(s, "ssh.enabled"))
		return 0;
	if (on && !exists(t->root, unit, 0) &&
	    !exists(t->root, "/usr/lib/systemd/system/ssh.service", 0))
		k = recipe_warn(r,
				"ssh.enabled: the image has no %s (openssh-server not "
				"installed?); enabled it anyway",
				unit);
	if (k >= 0 && on) {
		k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "ssh.enabled", WANTS_DIR, NULL, 0,
			       NULL, 0, 0755, 0, 0);
		if (k >= 0)
			k = recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "ssh.enabled",
				       WANTS_DIR "/ssh.service", unit, 0, NULL, 0, 0, 0, 0);
		if (k >= 0)
			k = recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "ssh.enabled",
				       "/etc/systemd/system/sshd.service", unit, 0, NULL, 0, 0, 0,
				       0);
	} else if (k >= 0) {
		k = recipe_add(r, RECIPE_REMOVE, RECIPE_ROOT, "ssh.enabled",
			       WANTS_DIR "/ssh.service", NULL, 0, NULL, 0, 0, 0, 0);
		if (k >= 0)
			k = recipe_add(r, RECIPE_REMOVE, RECIPE_ROOT, "ssh.enabled",
				       "/etc/systemd/system/sshd.service", NULL, 0, NULL, 0, 0, 0,
				       0);
	}
	/* Raspberry Pi OS's sshswitch.service enables sshd at boot when the
	 * boot partition holds a file named `ssh`; keep the two in step. */
	if (k >= 0 && r->os.raspberry_pi_os && t->boot) {
		if (on)
			k = recipe_add(r, RECIPE_WRITE, RECIPE_BOOT, "ssh.enabled", "/ssh", "", 0,
				       NULL, 0, 0644, 0, 0);
		else
			k = recipe_add(r, RECIPE_REMOVE, RECIPE_BOOT, "ssh.enabled", "/ssh", NULL,
				       0, NULL, 0, 0, 0, 0);
	}
	return k < 0 ? oom(err) : 0;
}

static int plan_password_auth(struct recipe *r, const struct recipe_target *t,
			      const struct herd_settings *s, struct herd_error *err)
{
	_cleanup_free_ char *conf = NULL;
	const char *line =
	    s->ssh_password_auth ? "PasswordAuthentication yes" : "PasswordAuthentication no";
	char text[64];

	if (!is_set(s, "ssh.password_auth"))
		return 0;
	/* sshd takes the first value it reads; Debian's sshd_config includes
	 * sshd_config.d/ (every .conf) on its first line, so a drop-in wins.  Without
	 * that Include, the main file itself is edited. */
	if (vfs_read_all(t->root, "/etc/ssh/sshd_config", 1u << 20, &conf, NULL, NULL) == 0 &&
	    !strstr(conf, "Include /etc/ssh/sshd_config.d/*.conf"))
		return recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "ssh.password_auth",
				  "/etc/ssh/sshd_config", line, 0, "PasswordAuthentication",
				  RECIPE_LINE_COMMENTED, 0644, 0, 0) < 0
			   ? oom(err)
			   : 0;
	snprintf(text, sizeof(text), "%s\n", line);
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "ssh.password_auth", "/etc/ssh/sshd_config.d",
		       NULL, 0, NULL, 0, 0755, 0, 0) < 0 ||
	    recipe_add_text(r, "ssh.password_auth", RECIPE_ROOT, "/etc/ssh/sshd_config.d/herd.conf",
			    text, 0644, 0, 0) < 0)
		return oom(err);
	return 0;
}

static int plan_timezone(struct recipe *r, const struct recipe_target *t,
			 const struct herd_settings *s, struct herd_error *err)
{
	char zone[600], text[300];
	struct vfs_stat st;

	if (!s->timezone)
		return 0;
	if (strlen(s->timezone) > 255 || s->timezone[0] == '/' || strstr(s->timezone, "..") ||
	    strchr(s->timezone, '\n'))
		return herd_error_set(err, EINVAL, "timezone: '%s' is not a time zone name",
				      s->timezone);
	/* tzdata's /etc/localtime is an absolute symlink into the zone
	 * database; the zone has to be there or glibc falls back to UTC. */
	snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", s->timezone);
	if (vfs_stat(t->root, zone, &st, NULL) < 0 || st.type != VFS_FILE)
		return herd_error_set(err, ENOENT,
				      "timezone: '%s' is not in the image's /usr/share/zoneinfo",
				      s->timezone);
	snprintf(text, sizeof(text), "%s\n", s->timezone);
	if (recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "timezone", "/etc/localtime", zone, 0, NULL,
		       0, 0, 0, 0) < 0 ||
	    recipe_add_text(r, "timezone", RECIPE_ROOT, "/etc/timezone", text, 0644, 0, 0) < 0)
		return oom(err);
	return 0;
}

static int plan_locale(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	char text[300], key[200], line[300], charset[64] = "ISO-8859-1";
	const char *dot;

	if (!s->locale)
		return 0;
	if (!validate_locale(s->locale))
		return herd_error_set(err, EINVAL, "locale: '%s' is not a locale name", s->locale);
	snprintf(text, sizeof(text), "LANG=%s\n", s->locale);
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "locale", "/etc/default", NULL, 0, NULL, 0,
		       0755, 0, 0) < 0 ||
	    recipe_add_text(r, "locale", RECIPE_ROOT, "/etc/default/locale", text, 0644, 0, 0) < 0)
		return oom(err);
	if (strcmp(s->locale, "C") == 0 || strncmp(s->locale, "C.", 2) == 0 ||
	    strcmp(s->locale, "POSIX") == 0)
		return 0;
	/* /etc/locale.gen lines are "<locale> <charset>", commented out
	 * until wanted; locale-gen builds the uncommented ones. */
	dot = strchr(s->locale, '.');
	if (dot) {
		size_t n = strcspn(dot + 1, "@");
		if (n >= sizeof(charset))
			n = sizeof(charset) - 1;
		memcpy(charset, dot + 1, n);
		charset[n] = '\0';
		if (strcasecmp(charset, "utf8") == 0 || strcasecmp(charset, "utf-8") == 0)
			memcpy(charset, "UTF-8", 6);
	}
	snprintf(key, sizeof(key), "%s ", s->locale);
	snprintf(line, sizeof(line), "%s %s", s->locale, charset);
	if (recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "locale", "/etc/locale.gen", line, 0, key,
		       RECIPE_LINE_COMMENTED | RECIPE_LINE_CREATE, 0644, 0, 0) < 0)
		return oom(err);
	return recipe_warn(r,
			   "locale: %s is enabled in /etc/locale.gen; unless the image has it "
			   "built, run locale-gen on first boot (firstboot.run)",
			   s->locale) < 0
		   ? oom(err)
		   : 0;
}

static int plan_keymap(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	char layout[64], variant[64] = "", line[160];
	const char *paren;

	if (!s->keymap)
		return 0;
	if (!validate_keymap(s->keymap))
		return herd_error_set(err, EINVAL, "keymap: '%s' is not an XKB layout", s->keymap);
	paren = strchr(s->keymap, '(');
	size_t n = paren ? (size_t)(paren - s->keymap) : strlen(s->keymap);
	if (n >= sizeof(layout))
		n = sizeof(layout) - 1;
	memcpy(layout, s->keymap, n);
	layout[n] = '\0';
	if (paren) {
		size_t v = strcspn(paren + 1, ")");
		if (v >= sizeof(variant))
			v = sizeof(variant) - 1;
		memcpy(variant, paren + 1, v);
		variant[v] = '\0';
	}
	/* keyboard-configuration's file, read by console-setup and X. */
	snprintf(line, sizeof(line), "XKBLAYOUT=\"%s\"", layout);
	if (recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "keymap", "/etc/default/keyboard", line, 0,
		       "XKBLAYOUT=", RECIPE_LINE_CREATE, 0644, 0, 0) < 0)
		return oom(err);
	snprintf(line, sizeof(line), "XKBVARIANT=\"%s\"", variant);
	if (recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "keymap", "/etc/default/keyboard", line, 0,
		       "XKBVARIANT=", RECIPE_LINE_CREATE, 0644, 0, 0) < 0)
		return oom(err);
	return 0;
}

static int plan_files(struct recipe *r, const struct recipe_userdb *db,
		      const struct herd_settings *s, struct herd_error *err)
{
	for (size_t i = 0; i < s->files.count; i++) {
		const struct herd_file_spec *f = &s->files.items[i];
		_cleanup_free_ char *data = NULL, *parent = NULL;
		size_t len = 0;
		uint32_t uid = 0, gid = 0;
		int k;

		if (!f->path || !validate_image_path(f->path) || strcmp(f->path, "/") == 0)
			return herd_error_set(err, EINVAL,
					      "files[%zu]: '%s' is not an absolute path", i,
					      f->path ? f->path : "");
		if (f->owner && userdb_owner(db, f->owner, &uid, &gid, err) < 0)
			return herd_error_prefix(err, ENOENT, "files[%zu] %s", i, f->path);
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
		parent = strdup(f->path);
		if (!parent)
			return oom(err);
		*strrchr(parent, '/') = '\0';
		if ((parent[0] && recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "files", parent, NULL, 0,
					     NULL, 0, 0755, 0, 0) < 0) ||
		    recipe_add(r, RECIPE_WRITE, RECIPE_ROOT, "files", f->path, data, len, NULL, 0,
			       f->has_mode ? f->mode : 0644, uid, gid) < 0)
			return oom(err);
	}
	return 0;
}

/* First-boot work: a oneshot unit that runs a script once, after the
 * network is up, and then disables and deletes both. */
static int plan_firstboot(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	static const char unit[] =
	    "# Written by herd: first-boot work, runs once and removes itself.\n"
	    "[Unit]\n"
	    "Description=herd first-boot work\n"
	    "Wants=network-online.target\n"
	    "After=network-online.target\n"
	    "ConditionPathExists=" FIRSTBOOT_SCRIPT "\n"
	    "\n"
	    "[Service]\n"
	    "Type=oneshot\n"
	    "ExecStart=" FIRSTBOOT_SCRIPT "\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n";
	size_t cap = 1024, len = 0;
	_cleanup_free_ char *script = NULL;

	if (s->firstboot_packages.count == 0 && s->firstboot_run.count == 0)
		return 0;
	for (size_t i = 0; i < s->firstboot_packages.count; i++) {
		if (!validate_package_name(s->firstboot_packages.items[i]))
			return herd_error_set(err, EINVAL,
					      "firstboot.packages: '%s' is not a package name",
					      s->firstboot_packages.items[i]);
		cap += strlen(s->firstboot_packages.items[i]) + 1;
	}
	for (size_t i = 0; i < s->firstboot_run.count; i++)
		cap += strlen(s->firstboot_run.items[i]) + 1;
	script = malloc(cap);
	if (!script)
		return oom(err);
#define PUT(str)                                                                                   \
	do {                                                                                       \
		size_t n_ = strlen(str);                                                           \
		memcpy(script + len, str, n_);                                                     \
		len += n_;                                                                         \
	} while (0)
	PUT("#!/bin/sh\n"
	    "# Written by herd: first-boot work.  Runs once; on success it disables\n"
	    "# its unit and deletes itself, on failure it runs again next boot.\n"
	    "set -e\n");
	if (s->firstboot_packages.count) {
		PUT("export DEBIAN_FRONTEND=noninteractive\n"
		    "apt-get update\n"
		    "apt-get install -y");
		for (size_t i = 0; i < s->firstboot_packages.count; i++) {
			PUT(" ");
			PUT(s->firstboot_packages.items[i]);
		}
		PUT("\n");
	}
	for (size_t i = 0; i < s->firstboot_run.count; i++) {
		PUT(s->firstboot_run.items[i]);
		PUT("\n");
	}
	PUT("rm -f " WANTS_DIR "/herd-firstboot.service " FIRSTBOOT_UNIT "\n"
	    "rm -f " FIRSTBOOT_SCRIPT "\n");
#undef PUT
	script[len] = '\0';
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "firstboot", "/usr/local/lib/herd", NULL, 0,
		       NULL, 0, 0755, 0, 0) < 0 ||
	    recipe_add_text(r, "firstboot", RECIPE_ROOT, FIRSTBOOT_SCRIPT, script, 0755, 0, 0) <
		0 ||
	    recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "firstboot", WANTS_DIR, NULL, 0, NULL, 0, 0755,
		       0, 0) < 0 ||
	    recipe_add_text(r, "firstboot", RECIPE_ROOT, FIRSTBOOT_UNIT, unit, 0644, 0, 0) < 0 ||
	    recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "firstboot",
		       WANTS_DIR "/herd-firstboot.service", FIRSTBOOT_UNIT, 0, NULL, 0, 0, 0,
		       0) < 0)
		return oom(err);
	return 0;
}

/* ---- the plan --------------------------------------------------------- */

static enum recipe_network detect_network(struct vfs *root)
{
	/* Newest first: bookworm images may still carry a stale dhcpcd.conf,
	 * but NetworkManager is what runs once it is installed. */
	if (exists(root, "/etc/NetworkManager", VFS_DIR))
		return RECIPE_NET_NETWORKMANAGER;
	if (exists(root, "/etc/dhcpcd.conf", VFS_FILE))
		return RECIPE_NET_DHCPCD;
	if (exists(root, "/etc/netplan", VFS_DIR))
		return RECIPE_NET_NETPLAN;
	if (exists(root, "/etc/systemd/network", VFS_DIR) ||
	    exists(root, "/lib/systemd/systemd-networkd", 0) ||
	    exists(root, "/usr/lib/systemd/systemd-networkd", 0))
		return RECIPE_NET_NETWORKD;
	return RECIPE_NET_NONE;
}

/* Settings the offline backend needs a known OS for, with the test for
 * "was it asked for". */
static void skipped_settings(const struct herd_settings *s, char *buf, size_t len)
{
	static const char *const names[] = {
	    "user",
	    "password_hash",
	    "ssh.enabled",
	    "wifi.ssid",
	    "ipaddr",
	    "locale",
	    "keymap",
	    "firstboot.packages",
	    "firstboot.run",
	    "wireguard.address",
	    "firewall.allow",
	    "systemd.enable",
	    "systemd.disable",
	    "systemd.mask",
	};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		if (!is_set(s, names[i]))
			continue;
		int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[i]);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

int recipe_plan(const struct recipe_target *t, const struct image_os *os,
		const struct herd_settings *s, struct recipe **ret, struct herd_error *err)
{
	struct recipe_userdb db;
	_cleanup_free_ char *user = NULL;
	struct recipe *r;
	int k;

	if (!t->root)
		return herd_error_set(err, ENOENT, "the image has no root filesystem");
	r = calloc(1, sizeof(*r));
	if (!r)
		return oom(err);
	if (os) {
		r->os = *os;
		r->os_known = os->raspberry_pi_os || strcmp(os->id, "debian") == 0 ||
			      strcmp(os->id, "raspbian") == 0 || strcmp(os->id, "ubuntu") == 0;
	}
	if (s->firstboot_backend && strcmp(s->firstboot_backend, "cloud-init") == 0)
		r->firstboot = RECIPE_FIRSTBOOT_CLOUD_INIT;
	else if (s->firstboot_backend && strcmp(s->firstboot_backend, "firstrun") == 0)
		r->firstboot = RECIPE_FIRSTBOOT_FIRSTRUN;
	if (r->firstboot == RECIPE_FIRSTBOOT_CLOUD_INIT) {
		/* cloud-init gets the settings themselves, not file edits;
		 * config.txt and cmdline.txt live on the boot partition and
		 * are edited directly in every backend. */
		k = firstboot_cloudinit_plan(r, t, s, err);
		if (k >= 0)
			k = bootcfg_plan(r, t, s, err);
		if (k >= 0 &&
		    (s->systemd_enable.count || s->systemd_disable.count || s->systemd_mask.count ||
		     s->wireguard_address || s->firewall_allow.count) &&
		    recipe_warn(r, "firstboot.backend cloud-init: systemd.*, wireguard.* and "
				   "firewall.allow are not rendered into the seed; use the offline "
				   "or firstrun backend for them") < 0)
			k = oom(err);
		if (k < 0) {
			recipe_free(r);
			return k;
		}
		*ret = r;
		return 0;
	}
	if (r->os_known) {
		r->network = detect_network(t->root);
	} else {
		char skipped[512];
		skipped_settings(s, skipped, sizeof(skipped));
		if (skipped[0] &&
		    recipe_warn(r,
				"unknown OS (%s): skipped %s; applied the portable settings only",
				os && os->id[0] ? os->id : "no os-release", skipped) < 0) {
			recipe_free(r);
			return oom(err);
		}
	}

	k = userdb_load(t->root, &db, err);
	if (k < 0) {
		recipe_free(r);
		return k;
	}
	k = plan_hostname(r, s, err);
	if (k >= 0)
		k = userdb_plan(r, t->root, &db, s, r->os_known, &user, err);
	if (k >= 0 && (k = userdb_emit(r, &db)) < 0)
		oom(err);
	if (k >= 0) {
		/* On an unknown OS, keys go to the named user only if it exists. */
		const char *key_user = user;
		uint32_t u, g;
		if (!r->os_known && s->user)
			key_user = userdb_user(&db, s->user, &u, &g, NULL) == 0 ? s->user : NULL;
		k = plan_keys(r, &db, key_user, s, err);
	}
	if (k >= 0 && r->os_known)
		k = plan_ssh_service(r, t, s, err);
	if (k >= 0)
		k = plan_password_auth(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = network_plan(r, t, s, err);
	if (k >= 0)
		k = plan_timezone(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = plan_locale(r, s, err);
	if (k >= 0 && r->os_known)
		k = plan_keymap(r, s, err);
	if (k >= 0)
		k = plan_files(r, &db, s, err);
	if (k >= 0)
		k = bootcfg_plan(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = wireguard_plan(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = firewall_plan(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = units_plan(r, t, s, err);
	if (k >= 0 && r->os_known)
		k = plan_firstboot(r, s, err);
	userdb_free(&db);
	/* firstrun: the same operations, replayed by a script at first boot. */
	if (k >= 0 && r->firstboot == RECIPE_FIRSTBOOT_FIRSTRUN)
		k = firstboot_firstrun_convert(r, t, s, err);
	if (k < 0) {
		recipe_free(r);
		return k;
	}
	*ret = r;
	return 0;
}
