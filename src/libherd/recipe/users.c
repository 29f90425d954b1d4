/*
 * users.c — the user setting and the password hash, offline.
 *
 * The image's /etc/passwd, /etc/shadow, /etc/group (and /etc/gshadow when
 * present) are read into lines, changed in memory and written back whole,
 * keeping each file's mode and owner.  Two cases, as Raspberry Pi OS's
 * userconf service handles them at first boot:
 *
 *  - rename: the image has a first user (uid 1000) with another name.
 *    Like `usermod -l NEW -d /home/NEW -m OLD; groupmod -n NEW OLD`: the
 *    passwd and shadow entries, the user's own group, every group
 *    membership, /etc/subuid, /etc/subgid and the sudoers drop-in
 *    010_pi-nopasswd follow the new name, and the home directory moves.
 *  - create: no uid-1000 user.  Like the distribution's first user:
 *    uid 1000, a group of the same name (gid 1000), home /home/NAME (0700
 *    as Debian 12's adduser) filled from /etc/skel, login shell /bin/bash,
 *    and membership in the groups of FIRST_USER_GROUPS that exist.
 *
 * A shadow entry written here never carries today's date: "days since the
 * last change" is copied from root's entry so the file is the same on
 * every run.  This file does not hash passwords (the setting is a crypt
 * hash already) and does not touch PAM or lightdm.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "base/parse.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define FIRST_UID  1000u
#define USERDB_MAX (4u << 20)

/* The groups Raspberry Pi OS gives its first user (and Debian's installer
 * most of them), in that order. */
static const char *const first_user_groups[] = {
    "adm",   "dialout", "cdrom",  "sudo",   "audio", "video", "plugdev", "games",
    "users", "input",	"render", "netdev", "gpio",  "i2c",   "spi",
};

int userdb_split_lines(const char *text, struct strv *lines)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (strv_pushn(lines, p, n) < 0)
			return -ENOMEM;
		p += n + (p[n] ? 1 : 0);
	}
	return 0;
}

int userdb_parse(struct recipe_userdb *db, const char *passwd, const char *shadow,
		 const char *group, const char *gshadow)
{
	int r;

	memset(db, 0, sizeof(*db));
	db->has_shadow = shadow != NULL;
	db->has_gshadow = gshadow != NULL;
	r = userdb_split_lines(passwd, &db->passwd);
	if (r >= 0 && shadow)
		r = userdb_split_lines(shadow, &db->shadow);
	if (r >= 0)
		r = userdb_split_lines(group, &db->group);
	if (r >= 0 && gshadow)
		r = userdb_split_lines(gshadow, &db->gshadow);
	if (r < 0)
		userdb_free(db);
	return r;
}

static int load_lines(struct vfs *root, const char *path, struct strv *lines, struct vfs_stat *st,
		      bool *ret_found, struct herd_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = vfs_read_all(root, path, USERDB_MAX, &text, NULL, err);

	if (r == -ENOENT) {
		herd_error_clear(err);
		*ret_found = false;
		return 0;
	}
	if (r < 0)
		return r;
	r = vfs_stat(root, path, st, err);
	if (r < 0)
		return r;
	if (userdb_split_lines(text, lines) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	*ret_found = true;
	return 0;
}

int userdb_load(struct vfs *root, struct recipe_userdb *db, struct herd_error *err)
{
	bool found;
	int r;

	memset(db, 0, sizeof(*db));
	r = load_lines(root, "/etc/passwd", &db->passwd, &db->st_passwd, &found, err);
	if (r >= 0 && !found)
		r = herd_error_set(err, ENOENT, "the image has no /etc/passwd");
	if (r >= 0)
		r = load_lines(root, "/etc/shadow", &db->shadow, &db->st_shadow, &db->has_shadow,
			       err);
	if (r >= 0) {
		r = load_lines(root, "/etc/group", &db->group, &db->st_group, &found, err);
		if (r >= 0 && !found)
			r = herd_error_set(err, ENOENT, "the image has no /etc/group");
	}
	if (r >= 0)
		r = load_lines(root, "/etc/gshadow", &db->gshadow, &db->st_gshadow,
			       &db->has_gshadow, err);
	if (r < 0)
		userdb_free(db);
	return r;
}

void userdb_free(struct recipe_userdb *db)
{
	strv_free(&db->passwd);
	strv_free(&db->shadow);
	strv_free(&db->group);
	strv_free(&db->gshadow);
}

/* Field `index` of a colon-separated line into buf; false when missing. */
static bool field(const char *line, unsigned index, char *buf, size_t len)
{
	const char *p = line;

	for (unsigned i = 0; i < index; i++) {
		p = strchr(p, ':');
		if (!p)
			return false;
		p++;
	}
	size_t n = strcspn(p, ":");
	if (n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* Replace field `index` of lines->items[i] with value. */
static int set_field(struct strv *lines, size_t i, unsigned index, const char *value)
{
	const char *line = lines->items[i], *p = line;

	for (unsigned k = 0; k < index; k++) {
		p = strchr(p, ':');
		if (!p)
			return -EINVAL;
		p++;
	}
	size_t before = (size_t)(p - line), old = strcspn(p, ":"), v = strlen(value);
	size_t after = strlen(p + old);
	char *n = malloc(before + v + after + 1);
	if (!n)
		return -ENOMEM;
	memcpy(n, line, before);
	memcpy(n + before, value, v);
	memcpy(n + before + v, p + old, after + 1);
	free(lines->items[i]);
	lines->items[i] = n;
	return 0;
}

ssize_t userdb_find_name(const struct strv *lines, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < lines->count; i++)
		if (strncmp(lines->items[i], name, n) == 0 && lines->items[i][n] == ':')
			return (ssize_t)i;
	return -1;
}

ssize_t userdb_find_uid(const struct strv *lines, uint32_t uid)
{
	char buf[32];
	uint32_t v;

	for (size_t i = 0; i < lines->count; i++)
		if (field(lines->items[i], 2, buf, sizeof(buf)) &&
		    parse_u32(buf, 0, UINT32_MAX, &v) == 0 && v == uid)
			return (ssize_t)i;
	return -1;
}

int userdb_user(const struct recipe_userdb *db, const char *name, uint32_t *ret_uid,
		uint32_t *ret_gid, char **ret_home)
{
	ssize_t i = userdb_find_name(&db->passwd, name);
	char uid[32], gid[32], home[4096];
	uint32_t u, g;

	if (i < 0 || !field(db->passwd.items[i], 2, uid, sizeof(uid)) ||
	    !field(db->passwd.items[i], 3, gid, sizeof(gid)) ||
	    !field(db->passwd.items[i], 5, home, sizeof(home)) ||
	    parse_u32(uid, 0, UINT32_MAX, &u) < 0 || parse_u32(gid, 0, UINT32_MAX, &g) < 0)
		return -ENOENT;
	if (ret_home) {
		*ret_home = strdup(home);
		if (!*ret_home)
			return -ENOMEM;
	}
	*ret_uid = u;
	*ret_gid = g;
	return 0;
}

int userdb_group(const struct recipe_userdb *db, const char *name, uint32_t *ret_gid)
{
	ssize_t i = userdb_find_name(&db->group, name);
	char gid[32];
	uint32_t g;

	if (i < 0 || !field(db->group.items[i], 2, gid, sizeof(gid)) ||
	    parse_u32(gid, 0, UINT32_MAX, &g) < 0)
		return -ENOENT;
	*ret_gid = g;
	return 0;
}

int userdb_owner(const struct recipe_userdb *db, const char *owner, uint32_t *ret_uid,
		 uint32_t *ret_gid, struct herd_error *err)
{
	char user[64], group[64];
	const char *colon = strchr(owner, ':');
	size_t n = colon ? (size_t)(colon - owner) : strlen(owner);
	uint32_t uid, gid = 0;
	bool have_gid = false;

	if (n == 0 || n >= sizeof(user) || (colon && strlen(colon + 1) >= sizeof(group)))
		return herd_error_set(err, EINVAL, "owner '%s' is not user[:group]", owner);
	memcpy(user, owner, n);
	user[n] = '\0';
	if (parse_u32(user, 0, UINT32_MAX - 1, &uid) < 0) {
		if (userdb_user(db, user, &uid, &gid, NULL) < 0)
			return herd_error_set(err, ENOENT,
					      "owner '%s': no user '%s' in the image's /etc/passwd",
					      owner, user);
		have_gid = true;
	}
	if (colon && colon[1]) {
		memcpy(group, colon + 1, strlen(colon + 1) + 1);
		if (parse_u32(group, 0, UINT32_MAX - 1, &gid) < 0 &&
		    userdb_group(db, group, &gid) < 0)
			return herd_error_set(err, ENOENT,
					      "owner '%s': no group '%s' in the image's /etc/group",
					      owner, group);
		have_gid = true;
	}
	if (!have_gid)
		gid = uid; /* a bare number: its own group, as chown 1000 would not do, but
			      as every Debian first user has */
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

/* In a comma-separated member list, replace `old` by `new` (new NULL:
 * add `add` if missing).  Returns a malloc'ed list. */
static char *members_edit(const char *list, const char *old, const char *rename, const char *add)
{
	size_t items = 1, cap;
	char *out;
	size_t len = 0;
	bool has_add = false;

	/* Room for every item renamed (a hostile image may list a member
	 * many times), the separators, the added name and the NUL. */
	for (const char *c = strchr(list, ','); c; c = strchr(c + 1, ','))
		items++;
	cap = strlen(list) + (rename ? strlen(rename) * items : 0) + (add ? strlen(add) : 0) + 4;
	out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		const char *item = p;
		size_t in = n;
		if (old && n == strlen(old) && memcmp(p, old, n) == 0 && rename) {
			item = rename;
			in = strlen(rename);
		}
		if (add && in == strlen(add) && memcmp(item, add, in) == 0)
			has_add = true;
		if (n) {
			if (len + in + 2 > cap) {
				free(out);
				return NULL;
			}
			if (len)
				out[len++] = ',';
			memcpy(out + len, item, in);
			len += in;
			out[len] = '\0';
		}
		p += n + (p[n] ? 1 : 0);
	}
	if (add && !has_add) {
		if (len)
			out[len++] = ',';
		memcpy(out + len, add, strlen(add) + 1);
	}
	return out;
}

static int edit_members(struct strv *lines, size_t i, unsigned index, const char *old,
			const char *rename, const char *add)
{
	_cleanup_free_ char *buf = NULL, *n = NULL;
	const char *p = lines->items[i];

	/* The whole field, however long: a fixed buffer would silently skip
	 * a long member list. */
	for (unsigned k = 0; k < index; k++) {
		p = strchr(p, ':');
		if (!p)
			return 0; /* a short line: leave it */
		p++;
	}
	buf = strndup(p, strcspn(p, ":"));
	if (!buf)
		return -ENOMEM;
	n = members_edit(buf, old, rename, add);
	if (!n)
		return -ENOMEM;
	if (strcmp(n, buf) == 0)
		return 0;
	return set_field(lines, i, index, n) < 0 ? -ENOMEM : 1;
}

/* Rename the lines "old:..." or "old ..." of a small optional file. */
static int rename_in_file(struct recipe *r, struct vfs *root, const char *path, const char *old,
			  const char *new_name, char sep, struct herd_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct vfs_stat st;
	size_t on = strlen(old);
	char *out;
	size_t len = 0, cap;
	int k;

	k = vfs_read_all(root, path, USERDB_MAX, &text, NULL, NULL);
	if (k < 0)
		return 0; /* optional */
	if (vfs_stat(root, path, &st, err) < 0)
		return -EIO;
	cap = strlen(text) * 2 + strlen(new_name) * 64 + 2;
	out = malloc(cap);
	if (!out)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n > on && memcmp(p, old, on) == 0 && p[on] == sep &&
		    len + strlen(new_name) < cap) {
			memcpy(out + len, new_name, strlen(new_name));
			len += strlen(new_name);
			p += on;
			n -= on;
		}
		if (len + n + 2 > cap)
			break;
		memcpy(out + len, p, n);
		len += n;
		out[len++] = '\n';
		p += n + (p[n] ? 1 : 0);
	}
	out[len] = '\0';
	k = strcmp(out, text) == 0 ? 0
				   : recipe_add_text(r, "user", RECIPE_ROOT, path, out,
						     st.mode & 07777, st.uid, st.gid);
	free(out);
	return k < 0 ? herd_error_set(err, ENOMEM, "out of memory") : 0;
}

int userdb_rename(struct recipe_userdb *db, size_t pw, const char *old, const char *name,
		  bool *ret_home_moved, struct herd_error *err)
{
	char home[4096], gid[32], oldhome[4096], newhome[4096];
	bool moved = false;
	ssize_t i;
	int k = 0;

	/* An entry without a name (":x:1000:...", or one too long to hold)
	 * would make "" the old name, and every nameless line of shadow and
	 * group would be renamed with it. */
	if (!old[0] || strncmp(db->passwd.items[pw], old, strlen(old)) != 0 ||
	    db->passwd.items[pw][strlen(old)] != ':')
		return herd_error_set(err, EINVAL, "/etc/passwd: line %zu has no usable user name",
				      pw + 1);
	snprintf(oldhome, sizeof(oldhome), "/home/%s", old);
	snprintf(newhome, sizeof(newhome), "/home/%s", name);
	if (!field(db->passwd.items[pw], 3, gid, sizeof(gid)) ||
	    !field(db->passwd.items[pw], 5, home, sizeof(home)))
		return herd_error_set(err, EINVAL, "/etc/passwd: malformed entry for '%s'", old);
	if (userdb_find_name(&db->group, name) >= 0)
		return herd_error_set(err, EEXIST,
				      "cannot rename user '%s' to '%s': group '%s' exists", old,
				      name, name);
	k |= set_field(&db->passwd, pw, 0, name);
	if (strcmp(home, oldhome) == 0) {
		k |= set_field(&db->passwd, pw, 5, newhome);
		moved = true;
	}
	db->dirty_passwd = true;
	i = userdb_find_name(&db->shadow, old);
	if (i >= 0) {
		k |= set_field(&db->shadow, (size_t)i, 0, name);
		db->dirty_shadow = true;
	}
	/* The user's own group (same name, the user's gid) follows the name;
	 * memberships everywhere else too. */
	for (size_t g = 0; g < db->group.count; g++) {
		char gname[256], ggid[32];
		int e;

		if (field(db->group.items[g], 0, gname, sizeof(gname)) &&
		    field(db->group.items[g], 2, ggid, sizeof(ggid)) && strcmp(gname, old) == 0 &&
		    strcmp(ggid, gid) == 0) {
			k |= set_field(&db->group, g, 0, name);
			db->dirty_group = true;
		}
		/* Memberships even on a line whose name or gid is odd. */
		e = edit_members(&db->group, g, 3, old, name, NULL);
		if (e > 0)
			db->dirty_group = true;
		else if (e < 0)
			k = -ENOMEM;
	}
	for (size_t g = 0; db->has_gshadow && g < db->gshadow.count; g++) {
		char gname[256];

		if (field(db->gshadow.items[g], 0, gname, sizeof(gname)) &&
		    strcmp(gname, old) == 0 && userdb_find_name(&db->group, name) >= 0) {
			k |= set_field(&db->gshadow, g, 0, name);
			db->dirty_gshadow = true;
		}
		for (unsigned f = 2; f <= 3; f++) {
			int e = edit_members(&db->gshadow, g, f, old, name, NULL);
			if (e > 0)
				db->dirty_gshadow = true;
			else if (e < 0)
				k = -ENOMEM;
		}
	}
	if (k < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	*ret_home_moved = moved;
	return 0;
}

static int rename_user(struct recipe *r, struct vfs *root, struct recipe_userdb *db, size_t pw,
		       const char *old, const char *name, struct herd_error *err)
{
	char oldhome[4096], newhome[4096];
	bool moved;
	int k = userdb_rename(db, pw, old, name, &moved, err);

	if (k < 0)
		return k;
	snprintf(oldhome, sizeof(oldhome), "/home/%s", old);
	snprintf(newhome, sizeof(newhome), "/home/%s", name);
	if (moved && recipe_add(r, RECIPE_RENAME, RECIPE_ROOT, "user", oldhome, newhome, 0, NULL, 0,
				0, 0, 0) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	k = rename_in_file(r, root, "/etc/subuid", old, name, ':', err);
	if (k >= 0)
		k = rename_in_file(r, root, "/etc/subgid", old, name, ':', err);
	if (k >= 0)
		k = rename_in_file(r, root, "/etc/sudoers.d/010_pi-nopasswd", old, name, ' ', err);
	return k;
}

int userdb_create(struct recipe_userdb *db, const char *name, const char *shell, uint32_t *ret_gid,
		  struct herd_error *err)
{
	char line[1024], lastchg[32] = "", home[300];
	uint32_t gid = FIRST_UID;
	int k;

	if (userdb_group(db, name, &gid) < 0) {
		/* A line for the group that cannot be read: adding a second
		 * one would give /etc/group two entries of that name. */
		if (userdb_find_name(&db->group, name) >= 0)
			return herd_error_set(err, EINVAL, "/etc/group: malformed entry for '%s'",
					      name);
		if (userdb_find_uid(&db->group, FIRST_UID) >= 0)
			return herd_error_set(err, EEXIST,
					      "cannot create user '%s': gid %u is taken by another "
					      "group",
					      name, FIRST_UID);
		snprintf(line, sizeof(line), "%s:x:%u:", name, FIRST_UID);
		if (strv_push(&db->group, line) < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
		if (db->has_gshadow) {
			snprintf(line, sizeof(line), "%s:!::", name);
			if (strv_push(&db->gshadow, line) < 0)
				return herd_error_set(err, ENOMEM, "out of memory");
			db->dirty_gshadow = true;
		}
		db->dirty_group = true;
	}
	snprintf(home, sizeof(home), "/home/%s", name);
	snprintf(line, sizeof(line), "%s:x:%u:%u:,,,:%s:%s", name, FIRST_UID, gid, home, shell);
	if (strv_push(&db->passwd, line) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	db->dirty_passwd = true;
	if (db->has_shadow) {
		ssize_t ri = userdb_find_name(&db->shadow, "root");
		if (ri >= 0 && (!field(db->shadow.items[ri], 2, lastchg, sizeof(lastchg)) ||
				parse_u32(lastchg, 0, UINT32_MAX, &(uint32_t){0}) < 0))
			lastchg[0] = '\0';
		snprintf(line, sizeof(line), "%s:*:%s:0:99999:7:::", name, lastchg);
		if (strv_push(&db->shadow, line) < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
		db->dirty_shadow = true;
	}
	for (size_t i = 0; i < ELEMENTSOF(first_user_groups); i++) {
		ssize_t g = userdb_find_name(&db->group, first_user_groups[i]);
		if (g < 0)
			continue;
		k = edit_members(&db->group, (size_t)g, 3, NULL, NULL, name);
		if (k < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
		if (k > 0)
			db->dirty_group = true;
		g = db->has_gshadow ? userdb_find_name(&db->gshadow, first_user_groups[i]) : -1;
		if (g >= 0) {
			k = edit_members(&db->gshadow, (size_t)g, 3, NULL, NULL, name);
			if (k < 0)
				return herd_error_set(err, ENOMEM, "out of memory");
			if (k > 0)
				db->dirty_gshadow = true;
		}
	}
	*ret_gid = gid;
	return 0;
}

static int create_user(struct recipe *r, struct vfs *root, struct recipe_userdb *db,
		       const char *name, struct herd_error *err)
{
	char home[300];
	struct vfs_stat st;
	const char *shell = "/bin/bash";
	uint32_t gid;
	int k;

	if (vfs_stat(root, shell, &st, NULL) < 0)
		shell = "/bin/sh";
	k = userdb_create(db, name, shell, &gid, err);
	if (k < 0)
		return k;
	snprintf(home, sizeof(home), "/home/%s", name);
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "user", home, NULL, 0, NULL, 0, 0700,
		       FIRST_UID, gid) < 0 ||
	    recipe_add(r, RECIPE_COPY_TREE, RECIPE_ROOT, "user", home, "/etc/skel", 0, NULL, 0, 0,
		       FIRST_UID, gid) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int userdb_set_password(struct recipe_userdb *db, const char *name, const char *hash,
			struct herd_error *err)
{
	ssize_t i;

	if (!db->has_shadow)
		return herd_error_set(err, ENOENT, "password_hash: the image has no /etc/shadow");
	i = userdb_find_name(&db->shadow, name);
	if (i < 0)
		return herd_error_set(err, ENOENT,
				      "password_hash: no entry for '%s' in /etc/shadow", name);
	if (set_field(&db->shadow, (size_t)i, 1, hash) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	db->dirty_shadow = true;
	return 0;
}

int userdb_plan(struct recipe *r, struct vfs *root, struct recipe_userdb *db,
		const struct herd_settings *s, bool os_known, char **ret_name,
		struct herd_error *err)
{
	ssize_t first = userdb_find_uid(&db->passwd, FIRST_UID);
	char old[256] = "";
	const char *name = NULL;
	int k = 0;

	if (first >= 0)
		field(db->passwd.items[first], 0, old, sizeof(old));
	if (s->user && os_known) {
		if (!validate_username(s->user))
			return herd_error_set(err, EINVAL, "user: '%s' is not a valid user name",
					      s->user);
		if (userdb_find_name(&db->passwd, s->user) >= 0)
			name = s->user;
		else if (first >= 0)
			k = rename_user(r, root, db, (size_t)first, old, s->user, err);
		else
			k = create_user(r, root, db, s->user, err);
		if (!name && k < 0)
			return herd_error_prefix(err, -k, "user");
		name = s->user;
	} else if (first >= 0 && old[0]) {
		name = old; /* (an entry without a usable name is no first user) */
	}

	if (s->password_hash && os_known) {
		if (!name)
			return herd_error_set(
			    err, EINVAL, "password_hash: the image has no first user; set user");
		if (!validate_crypt_hash(s->password_hash))
			return herd_error_set(err, EINVAL,
					      "password_hash: not a supported crypt(3) hash");
		k = userdb_set_password(db, name, s->password_hash, err);
		if (k < 0)
			return k;
	}
	*ret_name = name ? strdup(name) : NULL;
	if (name && !*ret_name)
		return herd_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int userdb_format(const struct strv *lines, char **ret_text)
{
	size_t len = 1;
	char *text, *p;

	for (size_t i = 0; i < lines->count; i++)
		len += strlen(lines->items[i]) + 1;
	text = malloc(len);
	if (!text)
		return -ENOMEM;
	p = text;
	for (size_t i = 0; i < lines->count; i++) {
		size_t n = strlen(lines->items[i]);
		memcpy(p, lines->items[i], n);
		p[n] = '\n';
		p += n + 1;
	}
	*p = '\0';
	*ret_text = text;
	return 0;
}

static int emit_one(struct recipe *r, const char *path, const struct strv *lines,
		    const struct vfs_stat *st)
{
	_cleanup_free_ char *text = NULL;
	int k = userdb_format(lines, &text);

	if (k < 0)
		return k;
	return recipe_add_text(r, "user", RECIPE_ROOT, path, text, st->mode & 07777, st->uid,
			       st->gid);
}

int userdb_emit(struct recipe *r, const struct recipe_userdb *db)
{
	int k = 0;

	if (db->dirty_passwd)
		k = emit_one(r, "/etc/passwd", &db->passwd, &db->st_passwd);
	if (k >= 0 && db->dirty_shadow)
		k = emit_one(r, "/etc/shadow", &db->shadow, &db->st_shadow);
	if (k >= 0 && db->dirty_group)
		k = emit_one(r, "/etc/group", &db->group, &db->st_group);
	if (k >= 0 && db->dirty_gshadow)
		k = emit_one(r, "/etc/gshadow", &db->gshadow, &db->st_gshadow);
	return k;
}
