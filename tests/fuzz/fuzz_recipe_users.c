/*
 * fuzz_recipe_users.c — libFuzzer harness for the image's user database
 * (recipe/users.c): /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow
 * come from the image, which may be corrupt or hostile.
 *
 * Input: NUL-separated parts "passwd \0 group \0 shadow \0 gshadow \0
 * control"; a missing shadow or gshadow part means the image has none.
 * The control part's lines are a user name, an owner ("user[:group]")
 * and a crypt hash (a fixed one when the line is not a valid hash).
 *
 * The harness runs what the user setting's plan runs on the parsed files
 * (userdb_parse, then userdb_find_uid, userdb_rename or userdb_create,
 * userdb_set_password, and userdb_format as userdb_emit does) and the
 * lookups the rest of the plan makes (userdb_user, userdb_group,
 * userdb_owner).  Invariants: every file formats to text that parses back
 * to the same lines and formats to the same bytes; a name found in a file
 * is found again by its lookup, at or before its line; a renamed or
 * created user is found under the new name with the expected uid and gid,
 * and no group membership keeps a renamed user's old name;
 * a set password is in the user's shadow line; refusals carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/validate.h"
#include "recipe/recipe_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOOKUPS_MAX 64 /* lines checked per file: keeps each run fast */

static const char default_hash[] =
    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.";

static bool same_lines(const struct strv *a, const struct strv *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

/* format → split → same lines; format again → same bytes. */
static void check_round_trip(const struct strv *lines)
{
	struct strv again = {0};
	char *text = NULL, *text2 = NULL;

	if (userdb_format(lines, &text) < 0)
		return;
	if (userdb_split_lines(text, &again) == 0) {
		if (!same_lines(lines, &again))
			abort();
		if (userdb_format(&again, &text2) == 0 && strcmp(text, text2) != 0)
			abort();
	}
	strv_free(&again);
	free(text);
	free(text2);
}

static void check_db(const struct recipe_userdb *db)
{
	check_round_trip(&db->passwd);
	check_round_trip(&db->shadow);
	check_round_trip(&db->group);
	check_round_trip(&db->gshadow);
}

/* Every named line is found by name at or before itself; lookups agree. */
static void check_lookups(const struct recipe_userdb *db, const struct strv *lines, bool passwd)
{
	for (size_t i = 0; i < lines->count && i < LOOKUPS_MAX; i++) {
		const char *line = lines->items[i], *colon = strchr(line, ':');
		char name[256];
		uint32_t uid, gid, u2, g2;
		char *home = NULL;
		ssize_t j;

		if (!colon || (size_t)(colon - line) >= sizeof(name))
			continue;
		memcpy(name, line, (size_t)(colon - line));
		name[colon - line] = '\0';
		j = userdb_find_name(lines, name);
		if (j < 0 || (size_t)j > i || strncmp(lines->items[j], name, strlen(name)) != 0 ||
		    lines->items[j][strlen(name)] != ':')
			abort();
		if (passwd) {
			if (userdb_user(db, name, &uid, &gid, &home) == 0) {
				if (!home)
					abort();
				free(home);
				/* A name that is not a number is looked up as a user. */
				if (name[0] && strlen(name) < 64 &&
				    !strchr("0123456789", name[0]) &&
				    (userdb_owner(db, name, &u2, &g2, NULL) != 0 || u2 != uid ||
				     g2 != gid))
					abort();
			}
		} else if (userdb_group(db, name, &gid) == 0 && name[0] && strlen(name) < 64 &&
			   !strchr("0123456789", name[0])) {
			/* "0:group" looks the group up by name. */
			char owner[80] = "0:";

			memcpy(owner + 2, name, strlen(name) + 1);
			if (userdb_owner(db, owner, &u2, &g2, NULL) != 0 || u2 != 0 || g2 != gid)
				abort();
		}
	}
}

/* Is name an item of the comma-separated field `index` of line? */
static bool has_member(const char *line, unsigned index, const char *name)
{
	const char *p = line, *end;
	size_t len = strlen(name);

	for (unsigned k = 0; k < index; k++) {
		p = strchr(p, ':');
		if (!p)
			return false;
		p++;
	}
	end = p + strcspn(p, ":");
	while (p < end) {
		size_t m = strcspn(p, ",:");

		if (m == len && memcmp(p, name, len) == 0)
			return true;
		p += m;
		if (*p != ',')
			break;
		p++;
	}
	return false;
}

/* What userdb_plan does for `user` and the hash, without vfs or recipe. */
static void check_plan(struct recipe_userdb *db, const char *user, const char *hash)
{
	struct herd_error err = {0};
	ssize_t first = userdb_find_uid(&db->passwd, 1000), i;
	char old[256] = "";
	uint32_t uid, gid, newgid;
	bool moved;

	if (first >= 0) {
		size_t n = strcspn(db->passwd.items[first], ":");
		if (n < sizeof(old)) {
			memcpy(old, db->passwd.items[first], n);
			old[n] = '\0';
		}
	}
	if (!validate_username(user) || userdb_find_name(&db->passwd, user) >= 0) {
		/* nothing to change */
	} else if (first >= 0) {
		if (userdb_rename(db, (size_t)first, old, user, &moved, &err) < 0) {
			if (!err.message[0])
				abort();
			return;
		}
		if (userdb_find_name(&db->passwd, user) != first)
			abort();
		/* No membership keeps the old name. */
		for (size_t g = 0; g < db->group.count; g++)
			if (has_member(db->group.items[g], 3, old))
				abort();
		for (size_t g = 0; g < db->gshadow.count; g++)
			if (has_member(db->gshadow.items[g], 2, old) ||
			    has_member(db->gshadow.items[g], 3, old))
				abort();
		if (moved && userdb_user(db, user, &uid, &gid, NULL) == 0 && uid != 1000)
			abort();
	} else {
		if (userdb_create(db, user, "/bin/bash", &newgid, &err) < 0) {
			if (!err.message[0])
				abort();
			return;
		}
		if ((size_t)userdb_find_name(&db->passwd, user) != db->passwd.count - 1)
			abort();
		if (userdb_user(db, user, &uid, &gid, NULL) != 0 || uid != 1000 || gid != newgid)
			abort();
		if (userdb_group(db, user, &gid) != 0 || gid != newgid)
			abort();
		if (db->has_shadow && userdb_find_name(&db->shadow, user) < 0)
			abort();
	}
	if (!validate_username(user))
		return;
	i = db->has_shadow ? userdb_find_name(&db->shadow, user) : -1;
	err.message[0] = '\0';
	if (userdb_set_password(db, user, hash, &err) < 0) {
		if (i >= 0 || !err.message[0])
			abort();
		return;
	}
	if (i < 0 || strncmp(db->shadow.items[i] + strlen(user) + 1, hash, strlen(hash)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[5] = {NULL};
	struct recipe_userdb db;
	char *buf, *p, *user, *owner, *hash, *nl;
	size_t nparts = 0;
	uint32_t uid, gid;

	if (size > 65536)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; nparts < 5 && p <= buf + size; p += strlen(p) + 1)
		part[nparts++] = p;
	if (nparts < 2) {
		free(buf);
		return 0;
	}
	if (userdb_parse(&db, part[0], part[2], part[1], part[3]) < 0) {
		free(buf);
		return 0;
	}
	if (db.has_shadow != (part[2] != NULL) || db.has_gshadow != (part[3] != NULL))
		abort();
	check_db(&db);
	check_lookups(&db, &db.passwd, true);
	check_lookups(&db, &db.group, false);

	/* The control part: user name, owner, hash. */
	user = (char *)(part[4] ? part[4] : "");
	owner = strchr(user, '\n');
	if (owner)
		*owner++ = '\0';
	else
		owner = (char *)"";
	hash = strchr(owner, '\n');
	if (hash)
		*hash++ = '\0';
	if ((nl = hash ? strchr(hash, '\n') : NULL))
		*nl = '\0';
	if (!hash || !validate_crypt_hash(hash))
		hash = (char *)default_hash;
	if (owner[0]) {
		struct herd_error err = {0};
		if (userdb_owner(&db, owner, &uid, &gid, &err) < 0 && !err.message[0])
			abort();
	}

	check_plan(&db, user, hash);
	check_db(&db);
	check_lookups(&db, &db.passwd, true);
	check_lookups(&db, &db.group, false);
	userdb_free(&db);
	free(buf);
	return 0;
}
