/*
 * recipe_internal.h — what the planner files (plan.c, users.c,
 * network.c) share: appending operations to a recipe, and the image's
 * user database as the planner sees and changes it.
 */
#pragma once

#include <sys/types.h>

#include "recipe/recipe.h"

/* Append an operation; strings are copied (NULL stays NULL).  data_len is
 * used for RECIPE_WRITE (data may hold any bytes); otherwise strlen.
 * Returns 0 or -ENOMEM. */
int recipe_add(struct recipe *r, enum recipe_op_type type, enum recipe_part part,
	       const char *setting, const char *path, const char *data, size_t data_len,
	       const char *key, unsigned flags, uint32_t mode, uint32_t uid, uint32_t gid);
/* RECIPE_WRITE of a NUL-terminated text. */
int recipe_add_text(struct recipe *r, const char *setting, enum recipe_part part, const char *path,
		    const char *text, uint32_t mode, uint32_t uid, uint32_t gid);
int recipe_warn(struct recipe *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The image's /etc/passwd, /etc/shadow and /etc/group as lines, changed
 * in memory by the user setting and written back as whole files. */
struct recipe_userdb {
	struct strv passwd, shadow, group, gshadow;
	bool has_shadow, has_gshadow;
	/* mode/owner of the files as found, kept when writing back */
	struct vfs_stat st_passwd, st_shadow, st_group, st_gshadow;
	bool dirty_passwd, dirty_shadow, dirty_group, dirty_gshadow;
};

int userdb_load(struct vfs *root, struct recipe_userdb *db, struct herd_error *err);
void userdb_free(struct recipe_userdb *db);

/* The pure layer under userdb_load/userdb_plan/userdb_emit, for tests and
 * the fuzz harness (the files are outside input: a corrupt or hostile
 * image).  No vfs, no recipe.
 *
 * Split text into lines at '\n' (a last line without its newline counts;
 * no empty line is made after a final newline), appended to lines.
 * Returns 0 or -ENOMEM. */
int userdb_split_lines(const char *text, struct strv *lines);
/* Fill db from the files' texts; shadow or gshadow NULL: the image has
 * none.  db is overwritten; on failure it is left empty.  0 or -ENOMEM. */
int userdb_parse(struct recipe_userdb *db, const char *passwd, const char *shadow,
		 const char *group, const char *gshadow);
/* The lines as a file's text, each ending in '\n' (*ret_text malloc'ed).
 * 0 or -ENOMEM. */
int userdb_format(const struct strv *lines, char **ret_text);
/* Index of the first line whose name field (before the first ':') is
 * name, or of the first line whose third field is the number uid; -1 when
 * none. */
ssize_t userdb_find_name(const struct strv *lines, const char *name);
ssize_t userdb_find_uid(const struct strv *lines, uint32_t uid);
/* Rename passwd entry pw (named old) to name in passwd, shadow, the user's
 * own group and every membership (group, gshadow).  *ret_home_moved: its
 * home was /home/OLD and is now /home/NAME (the caller moves the
 * directory).  -EINVAL (malformed entry: old is not the line's name, or
 * is empty), -EEXIST (a group named name exists), -ENOMEM. */
int userdb_rename(struct recipe_userdb *db, size_t pw, const char *old, const char *name,
		  bool *ret_home_moved, struct herd_error *err);
/* Add name as the first user (uid 1000, its own group gid 1000 unless a
 * group name exists, *ret_gid) with login shell shell, and to the
 * first-user groups the image has.  -EINVAL (the group's line is
 * malformed), -EEXIST (gid 1000 taken), -ENOMEM. */
int userdb_create(struct recipe_userdb *db, const char *name, const char *shell, uint32_t *ret_gid,
		  struct herd_error *err);
/* Set name's shadow password field to hash.  -ENOENT (no shadow, no
 * entry), -ENOMEM. */
int userdb_set_password(struct recipe_userdb *db, const char *name, const char *hash,
			struct herd_error *err);
/* Look up by name: fills uid, gid, home (malloc'ed); -ENOENT when absent. */
int userdb_user(const struct recipe_userdb *db, const char *name, uint32_t *ret_uid,
		uint32_t *ret_gid, char **ret_home);
int userdb_group(const struct recipe_userdb *db, const char *name, uint32_t *ret_gid);
/* "user" or "user:group", names or numbers → uid/gid. */
int userdb_owner(const struct recipe_userdb *db, const char *owner, uint32_t *ret_uid,
		 uint32_t *ret_gid, struct herd_error *err);
/* The user setting, password hash: changes db and adds home operations.
 * *ret_name is the user keys and files belong to (malloc'ed, or NULL when
 * the image has no first user and none was asked for). */
int userdb_plan(struct recipe *r, struct vfs *root, struct recipe_userdb *db,
		const struct herd_settings *s, bool os_known, char **ret_name,
		struct herd_error *err);
/* Write operations for the files that changed. */
int userdb_emit(struct recipe *r, const struct recipe_userdb *db);

/* Network settings (Wi-Fi, static address) for r->network. */
int network_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		 struct herd_error *err);

/* Read a local file (settings sources, key files) up to max bytes. */
int recipe_read_local(const char *path, size_t max, char **ret, size_t *ret_len,
		      struct herd_error *err);

/* RFC 4122 §4.3 name-based UUID (SHA-1, version 5) in herd's namespace
 * (NetworkManager connection ids that do not change between runs). */
int recipe_uuid_v5(const char *name, char ret[37]);

/* systemd units offline (units.c), like `systemctl --root`: */
/* Enable `name` (a validated unit name): the [Install] links. */
int units_enable(struct recipe *r, struct vfs *root, const char *setting, const char *name,
		 struct herd_error *err);
/* systemd.enable / systemd.disable / systemd.mask. */
int units_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
	       struct herd_error *err);
/* config.* and cmdline.* edits on the boot partition (bootcfg.c). */
int bootcfg_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		 struct herd_error *err);
/* firewall.allow (firewall.c). */
int firewall_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		  struct herd_error *err);
/* wireguard.* (wireguard.c). */
int wireguard_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		   struct herd_error *err);
/* The passphrase of the Wi-Fi settings as the 64-hex PSK (network.c). */
int network_wifi_key(const struct herd_settings *s, char psk[65], struct herd_error *err);

/* A growing text for generated files; after an allocation failure every
 * append is a no-op and recipe_text_take() returns -ENOMEM. */
struct recipe_text {
	char *p;
	size_t len, cap;
	bool oom;
};
void recipe_text_put(struct recipe_text *t, const char *s, size_t n);
void recipe_textf(struct recipe_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* *ret gets the text (NUL-terminated, "" when empty) and t is reset. */
int recipe_text_take(struct recipe_text *t, char **ret);
void recipe_text_free(struct recipe_text *t);

/* First-boot backends (firstboot_cloudinit.c, firstboot_firstrun.c).
 * cloud-init: the NoCloud seed on the boot partition, planned from the
 * settings directly.  firstrun: `r` holds the offline plan; its root
 * operations become firstrun.sh on the boot partition. */
int firstboot_cloudinit_plan(struct recipe *r, const struct recipe_target *t,
			     const struct herd_settings *s, struct herd_error *err);
int firstboot_firstrun_convert(struct recipe *r, const struct recipe_target *t,
			       const struct herd_settings *s, struct herd_error *err);
