/*
 * check_files.c — structure checks: the files herd's settings produce (and
 * Raspberry Pi OS reads) are well-formed, whatever values they hold.
 *
 * Root filesystem: /etc/hostname is one valid name and /etc/hosts maps it
 * on a 127.0.1.1 line (Debian reference §5.1.1); every /etc/passwd line
 * has 7 fields, every login user (uid 1000..59999) a shadow entry and a
 * primary group that exists; ~/.ssh is a directory the user owns that no
 * one else can write (0700) and authorized_keys a file the user owns with
 * mode 0600 and keys that parse (sshd's StrictModes); herd's sshd drop-in
 * holds "Key value" lines; /etc/localtime points into the zone database
 * and agrees with /etc/timezone; NetworkManager keyfiles are INI with a
 * [connection] id and type, root-owned 0600 (NM skips others); dhcpcd.conf
 * `static ip_address=` values are addresses; wpa_supplicant.conf has
 * balanced network blocks with ssid and psk, and a country.
 *
 * Boot partition: user-data starts "#cloud-config" and, like meta-data
 * (with an instance-id) and network-config (version 2), parses as YAML
 * (libfyaml); firstrun.sh is a shell script and the systemd.run= word of
 * cmdline.txt names it.
 */
#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "check/check_internal.h"
#include "config/validate.h"
#include "recipe/recipe.h"

#define TEXT_MAX (4u << 20)

static char *read_text(struct vfs *fs, const char *path)
{
	char *data = NULL;

	if (vfs_read_all(fs, path, TEXT_MAX, &data, NULL, NULL) < 0)
		return NULL;
	return data;
}

/* Cut the next line out of *cursor, in place; NULL at the end. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

/* ---- hostname --------------------------------------------------------- */

static void check_hostname(struct check_ctx *c, struct vfs *root)
{
	_cleanup_free_ char *name = read_text(root, "/etc/hostname");
	_cleanup_free_ char *hosts = NULL;
	bool found = false;
	unsigned n = 1;

	if (!name)
		return;
	name[strcspn(name, "\r\n")] = '\0';
	if (!validate_hostname(name)) {
		check_problem(c, "root: /etc/hostname: '%s' is not a valid host name", name);
		return;
	}
	hosts = read_text(root, "/etc/hosts");
	if (!hosts) {
		check_problem(c, "root: /etc/hosts: missing");
		return;
	}
	for (char *cur_ = hosts, *line; (line = next_line(&cur_)); n++) {
		if (strncmp(line, "127.0.1.1", 9) != 0 || (line[9] != ' ' && line[9] != '\t'))
			continue;
		/* Any name on the line (the first is canonical, aliases follow). */
		for (char *w = line + 9; *w;) {
			w += strspn(w, " \t");
			size_t l = strcspn(w, " \t#");
			if (l == strlen(name) && strncmp(w, name, l) == 0)
				found = true;
			if (!l || w[l] == '#')
				break;
			w += l;
		}
	}
	if (!found)
		check_problem(c, "root: /etc/hosts: no 127.0.1.1 line for %s", name);
}

/* ---- users and keys --------------------------------------------------- */

struct pw {
	char name[64], home[512];
	unsigned long uid, gid;
};

static void check_keys(struct check_ctx *c, struct vfs *root, const struct pw *u)
{
	char dir[600], file[700];
	struct vfs_stat st;
	_cleanup_free_ char *text = NULL, *keys = NULL;
	size_t len = 0;
	struct herd_error err = {0};

	snprintf(dir, sizeof(dir), "%s/.ssh", strcmp(u->home, "/") ? u->home : "");
	snprintf(file, sizeof(file), "%s/authorized_keys", dir);
	if (vfs_lstat(root, dir, &st, NULL) < 0)
		return;
	if (st.type != VFS_DIR) {
		check_problem(c, "root: %s: not a directory", dir);
		return;
	}
	/* sshd StrictModes: no group/other write on the directory; 0700 is
	 * what ssh-copy-id and herd leave. */
	if ((st.mode & 07777) != 0700)
		check_problem(c, "root: %s: mode %04o, want 0700", dir, st.mode & 07777);
	if (st.uid != u->uid)
		check_problem(c, "root: %s: owner %u, want %s (%lu)", dir, st.uid, u->name, u->uid);
	if (vfs_lstat(root, file, &st, NULL) < 0)
		return;
	if (st.type != VFS_FILE) {
		check_problem(c, "root: %s: not a regular file", file);
		return;
	}
	if ((st.mode & 07777) != 0600)
		check_problem(c, "root: %s: mode %04o, want 0600", file, st.mode & 07777);
	if (st.uid != u->uid)
		check_problem(c, "root: %s: owner %u, want %s (%lu)", file, st.uid, u->name,
			      u->uid);
	if (vfs_read_all(root, file, TEXT_MAX, &text, &len, NULL) == 0 &&
	    recipe_check_public_keys(text, len, &keys, &err) < 0)
		check_problem(c, "root: %s: %s", file, herd_error_message(&err));
}

static bool db_has(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p;) {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static bool group_has_gid(const char *text, unsigned long gid)
{
	for (const char *p = text; p && *p;) {
		const char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		const char *nl = strchr(p, '\n');
		if (c2 && (!nl || c2 < nl) && strtoul(c2 + 1, NULL, 10) == gid &&
		    isdigit((unsigned char)c2[1]))
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

static void check_users(struct check_ctx *c, struct vfs *root)
{
	_cleanup_free_ char *passwd = read_text(root, "/etc/passwd");
	_cleanup_free_ char *shadow = read_text(root, "/etc/shadow");
	_cleanup_free_ char *group = read_text(root, "/etc/group");
	unsigned n = 1;

	if (!passwd) {
		check_problem(c, "root: /etc/passwd: missing");
		return;
	}
	for (char *cur_ = passwd, *line; (line = next_line(&cur_)); n++) {
		char *f[8];
		size_t nf = 0;
		struct pw u = {0};

		if (!*line)
			continue;
		for (char *p = line; nf < 8;) {
			f[nf++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf != 7) {
			check_problem(c, "root: /etc/passwd line %u: %zu fields, want 7", n, nf);
			continue;
		}
		snprintf(u.name, sizeof(u.name), "%s", f[0]);
		snprintf(u.home, sizeof(u.home), "%s", f[5]);
		char *end;
		u.uid = strtoul(f[2], &end, 10);
		bool ok = *f[2] && !*end;
		u.gid = strtoul(f[3], &end, 10);
		if (!ok || !*f[3] || *end) {
			check_problem(c, "root: /etc/passwd line %u: bad uid or gid", n);
			continue;
		}
		if (u.uid < 1000 || u.uid >= 60000)
			continue;
		if (shadow && !db_has(shadow, u.name))
			check_problem(c, "root: /etc/shadow: no entry for user %s", u.name);
		if (group && !group_has_gid(group, u.gid))
			check_problem(c, "root: /etc/group: no group %lu (primary group of %s)",
				      u.gid, u.name);
		check_keys(c, root, &u);
	}
}

/* ---- services and time ------------------------------------------------ */

static void check_sshd(struct check_ctx *c, struct vfs *root)
{
	_cleanup_free_ char *conf = read_text(root, "/etc/ssh/sshd_config.d/herd.conf");
	unsigned n = 1;

	if (!conf)
		return;
	for (char *cur_ = conf, *line; (line = next_line(&cur_)); n++) {
		if (!*line || *line == '#')
			continue;
		size_t k = strcspn(line, " \t");
		if (k == 0 || !line[k] || !line[k + strspn(line + k, " \t")])
			check_problem(c,
				      "root: /etc/ssh/sshd_config.d/herd.conf line %u: not "
				      "'Keyword value'",
				      n);
		if (strncmp(line, "PasswordAuthentication", k) == 0) {
			const char *v = line + k + strspn(line + k, " \t");
			if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
				check_problem(c,
					      "root: /etc/ssh/sshd_config.d/herd.conf line %u: "
					      "PasswordAuthentication '%s' is not yes or no",
					      n, v);
		}
	}
}

static void check_timezone(struct check_ctx *c, struct vfs *root)
{
	static const char zdb[] = "/usr/share/zoneinfo/";
	char target[4096];
	struct vfs_stat st;
	_cleanup_free_ char *tz = NULL;

	if (vfs_lstat(root, "/etc/localtime", &st, NULL) < 0 || st.type != VFS_SYMLINK)
		return;
	if (vfs_readlink(root, "/etc/localtime", target, sizeof(target), NULL) < 0)
		return;
	const char *zone = strstr(target, zdb);
	if (!zone) {
		check_problem(c, "root: /etc/localtime: links to %s, outside %s", target, zdb);
		return;
	}
	zone += strlen(zdb);
	if (vfs_stat(root, "/etc/localtime", &st, NULL) < 0 || st.type != VFS_FILE)
		check_problem(c, "root: /etc/localtime: zone %s is not in the image", zone);
	tz = read_text(root, "/etc/timezone");
	if (tz) {
		tz[strcspn(tz, "\r\n")] = '\0';
		if (strcmp(tz, zone) != 0)
			check_problem(c, "root: /etc/timezone says %s, /etc/localtime is %s", tz,
				      zone);
	}
}

/* ---- network files ---------------------------------------------------- */

struct names {
	struct strv list;
};

static int collect(void *userdata, const struct vfs_dirent *e)
{
	struct names *n = userdata;

	if (e->st.type != VFS_FILE)
		return 0;
	return strv_push(&n->list, e->name) < 0 ? -ENOMEM : 0;
}

static void check_keyfile(struct check_ctx *c, struct vfs *root, const char *path)
{
	_cleanup_free_ char *text = read_text(root, path);
	struct vfs_stat st;
	bool in_connection = false, has_id = false, has_type = false, any_section = false;
	unsigned n = 1;

	if (vfs_stat(root, path, &st, NULL) == 0 && ((st.mode & 077) != 0 || st.uid != 0))
		check_problem(c,
			      "root: %s: mode %04o owner %u; NetworkManager ignores keyfiles "
			      "not 0600 root",
			      path, st.mode & 07777, st.uid);
	if (!text)
		return;
	for (char *cur_ = text, *line; (line = next_line(&cur_)); n++) {
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');
			if (!close || close[1]) {
				check_problem(c, "root: %s line %u: bad section header", path, n);
				continue;
			}
			any_section = true;
			in_connection = strncmp(line, "[connection]", 12) == 0;
			continue;
		}
		char *eq = strchr(line, '=');
		if (!eq || eq == line || !any_section) {
			check_problem(c, "root: %s line %u: not 'key=value' in a section", path, n);
			continue;
		}
		if (in_connection && strncmp(line, "id=", 3) == 0)
			has_id = true;
		if (in_connection && strncmp(line, "type=", 5) == 0)
			has_type = true;
	}
	if (!has_id || !has_type)
		check_problem(c, "root: %s: [connection] lacks id= or type=", path);
}

static void check_nm(struct check_ctx *c, struct vfs *root)
{
	static const char dir[] = "/etc/NetworkManager/system-connections";
	struct names n = {STRV_INIT};
	char path[600];

	if (vfs_readdir(root, dir, collect, &n, NULL) < 0) {
		strv_free(&n.list);
		return;
	}
	for (size_t i = 0; i < n.list.count; i++) {
		size_t l = strlen(n.list.items[i]);
		if (l < 14 || strcmp(n.list.items[i] + l - 13, ".nmconnection") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, n.list.items[i]);
		check_keyfile(c, root, path);
	}
	strv_free(&n.list);
}

static void check_dhcpcd(struct check_ctx *c, struct vfs *root)
{
	_cleanup_free_ char *text = read_text(root, "/etc/dhcpcd.conf");
	unsigned n = 1;

	if (!text)
		return;
	for (char *cur_ = text, *line; (line = next_line(&cur_)); n++) {
		struct herd_ipv4 ip;
		const char *v;
		if (strncmp(line, "static ip_address=", 18) == 0) {
			v = line + 18;
			if (validate_ipv4(v, true, 24, &ip) < 0)
				check_problem(c,
					      "root: /etc/dhcpcd.conf line %u: '%s' is not an "
					      "address",
					      n, v);
		} else if (strncmp(line, "static routers=", 15) == 0) {
			v = line + 15;
			if (validate_ipv4(v, false, 32, &ip) < 0)
				check_problem(c,
					      "root: /etc/dhcpcd.conf line %u: '%s' is not an "
					      "address",
					      n, v);
		}
	}
}

static void check_wpa(struct check_ctx *c, struct vfs *root)
{
	static const char path[] = "/etc/wpa_supplicant/wpa_supplicant.conf";
	_cleanup_free_ char *text = read_text(root, path);
	bool in_net = false, ssid = false, psk = false, country = false, any = false;
	unsigned n = 1, start = 0;

	if (!text)
		return;
	for (char *cur_ = text, *line; (line = next_line(&cur_)); n++) {
		const char *l = line + strspn(line, " \t");
		if (!*l || *l == '#')
			continue;
		if (strncmp(l, "country=", 8) == 0)
			country = true;
		if (strncmp(l, "network={", 9) == 0) {
			if (in_net)
				check_problem(c, "root: %s line %u: network block inside another",
					      path, n);
			in_net = any = true;
			ssid = psk = false;
			start = n;
		} else if (*l == '}') {
			if (!in_net)
				check_problem(c, "root: %s line %u: '}' without network={", path,
					      n);
			else if (!ssid)
				check_problem(c, "root: %s line %u: network block without ssid",
					      path, start);
			(void)psk;
			in_net = false;
		} else if (in_net && strncmp(l, "ssid=", 5) == 0) {
			ssid = true;
		} else if (in_net && strncmp(l, "psk=", 4) == 0) {
			const char *v = l + 4;
			psk = true;
			bool hex = strlen(v) == 64 && strspn(v, "0123456789abcdefABCDEF") == 64;
			bool quoted = v[0] == '"' && strlen(v) >= 10 && v[strlen(v) - 1] == '"';
			if (!hex && !quoted)
				check_problem(
				    c,
				    "root: %s line %u: psk is neither 64 hex digits nor a "
				    "quoted passphrase",
				    path, n);
		}
	}
	if (in_net)
		check_problem(c, "root: %s: network block from line %u not closed", path, start);
	if (any && !country)
		check_problem(c, "root: %s: no country= line (Wi-Fi stays blocked)", path);
}

void check_root_files(struct check_ctx *c, struct vfs *root)
{
	check_hostname(c, root);
	check_users(c, root);
	check_sshd(c, root);
	check_timezone(c, root);
	check_nm(c, root);
	check_dhcpcd(c, root);
	check_wpa(c, root);
}

/* ---- boot partition: first-boot seeds --------------------------------- */

/* A parsed file; the document points into text, so both live together. */
struct yaml_file {
	struct fy_document *doc;
	char *text;
};

static struct fy_document *yaml(struct check_ctx *c, struct vfs *boot, const char *path,
				struct yaml_file *y)
{
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};

	*y = (struct yaml_file){0};
	y->text = read_text(boot, path);
	if (!y->text)
		return NULL;
	y->doc = fy_document_build_from_string(&cfg, y->text, FY_NT);
	if (!y->doc)
		check_problem(c, "boot: %s: not valid YAML", path);
	return y->doc;
}

static void yaml_free(struct yaml_file *y)
{
	fy_document_destroy(y->doc);
	free(y->text);
	*y = (struct yaml_file){0};
}

static const char *yaml_scalar(struct fy_document *d, const char *path)
{
	struct fy_node *n = fy_node_by_path(fy_document_root(d), path, FY_NT, FYNWF_DONT_FOLLOW);

	return n ? fy_node_get_scalar0(n) : NULL;
}

static void check_boot_seed(struct check_ctx *c, struct vfs *boot)
{
	_cleanup_free_ char *ud = read_text(boot, "/user-data");
	struct yaml_file y;
	struct fy_document *d;

	if (ud && strncmp(ud, "#cloud-config", 13) != 0)
		check_problem(c, "boot: /user-data: does not start with #cloud-config");
	d = yaml(c, boot, "/user-data", &y);
	if (d && fy_document_root(d) && !fy_node_is_mapping(fy_document_root(d)))
		check_problem(c, "boot: /user-data: not a mapping of cloud-config keys");
	yaml_free(&y);
	d = yaml(c, boot, "/meta-data", &y);
	if (d) {
		const char *id = yaml_scalar(d, "/instance-id");
		if (!id || !*id)
			check_problem(c, "boot: /meta-data: no instance-id");
	}
	yaml_free(&y);
	d = yaml(c, boot, "/network-config", &y);
	if (d) {
		const char *v = yaml_scalar(d, "/network/version");
		if (!v)
			v = yaml_scalar(d, "/version");
		if (v && strcmp(v, "2") != 0 && strcmp(v, "1") != 0)
			check_problem(c, "boot: /network-config: version %s is not 1 or 2", v);
	}
	yaml_free(&y);
}

static void check_firstrun(struct check_ctx *c, struct vfs *boot)
{
	_cleanup_free_ char *cmdline = read_text(boot, "/cmdline.txt");
	_cleanup_free_ char *script = NULL;
	const char *w = cmdline ? strstr(cmdline, "systemd.run=") : NULL;
	struct vfs_stat st;

	if (!w) {
		if (vfs_stat(boot, "/firstrun.sh", &st, NULL) == 0)
			check_problem(c, "boot: /firstrun.sh present but cmdline.txt has no "
					 "systemd.run= to run it");
		return;
	}
	w += strlen("systemd.run=");
	size_t n = strcspn(w, " \t\r\n");
	const char *slash = memrchr(w, '/', n);
	char name[300];
	snprintf(name, sizeof(name), "/%.*s", (int)(slash ? n - (size_t)(slash + 1 - w) : n),
		 slash ? slash + 1 : w);
	script = read_text(boot, name);
	if (!script) {
		check_problem(c, "boot: cmdline.txt runs %.*s, which is not on the boot partition",
			      (int)n, w);
		return;
	}
	if (strncmp(script, "#!/bin/sh", 9) != 0 && strncmp(script, "#!/bin/bash", 11) != 0)
		check_problem(c, "boot: %s: not a shell script", name);
	if (!strstr(cmdline, "systemd.unit=kernel-command-line.target"))
		check_problem(c, "boot: cmdline.txt: systemd.run= without "
				 "systemd.unit=kernel-command-line.target");
}

void check_boot_files(struct check_ctx *c, struct vfs *boot)
{
	check_boot_seed(c, boot);
	check_firstrun(c, boot);
}
