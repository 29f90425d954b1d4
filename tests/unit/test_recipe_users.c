/*
 * test_recipe_users.c — the pure layer of the image's user database
 * (recipe/users.c, recipe_internal.h): splitting and formatting the files,
 * lookups by name and uid, owners, and the edits of the user setting
 * (rename the first user, create one, set a password hash) on texts like
 * Raspberry Pi OS's, and on malformed or hostile ones.  The vfs side
 * (userdb_load, userdb_plan, userdb_emit on an image) is covered by
 * test_recipe_plan.c.
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

#include "recipe/recipe_internal.h"

#define HASH                                                                                       \
	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN."

static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			     "pi:x:1000:1000:,,,:/home/pi:/bin/bash\n";
static const char group[] = "root:x:0:\n"
			    "adm:x:4:pi\n"
			    "sudo:x:27:pi\n"
			    "audio:x:29:pi,pulse\n"
			    "video:x:44:\n"
			    "pi:x:1000:\n";
static const char shadow[] = "root:*:19500:0:99999:7:::\n"
			     "pi:" HASH ":19500:0:99999:7:::\n";
static const char gshadow[] = "root:*::\n"
			      "sudo:*::pi\n"
			      "audio:*:pi:pi,pulse\n"
			      "pi:!::\n";

static char *format(const struct strv *lines)
{
	char *text = NULL;

	assert_int_equal(userdb_format(lines, &text), 0);
	return text;
}

static void assert_file(const struct strv *lines, const char *want)
{
	char *text = format(lines);

	assert_string_equal(text, want);
	free(text);
}

static void test_split_lines(void **state)
{
	struct strv v = {0};

	assert_int_equal(userdb_split_lines("a\nb", &v), 0);
	assert_int_equal(v.count, 2);
	assert_string_equal(v.items[1], "b");
	strv_free(&v);

	/* empty lines stay; no empty line after the final newline */
	assert_int_equal(userdb_split_lines("a\n\nb\n", &v), 0);
	assert_int_equal(v.count, 3);
	assert_string_equal(v.items[1], "");
	strv_free(&v);

	assert_int_equal(userdb_split_lines("", &v), 0);
	assert_int_equal(v.count, 0);
	assert_int_equal(userdb_split_lines("\n", &v), 0);
	assert_int_equal(v.count, 1);
	assert_string_equal(v.items[0], "");
	strv_free(&v);
}

static void test_format_round_trip(void **state)
{
	const char *texts[] = {"", "\n", "a\n", "a", "a\n\n", "\n\nx:y\n", passwd};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct strv v = {0}, w = {0};
		char *a, *b;

		assert_int_equal(userdb_split_lines(texts[i], &v), 0);
		a = format(&v);
		/* every line ends in a newline; a last line without one gets it */
		assert_true(a[0] == '\0' || a[strlen(a) - 1] == '\n');
		assert_int_equal(userdb_split_lines(a, &w), 0);
		assert_int_equal(w.count, v.count);
		b = format(&w);
		assert_string_equal(a, b);
		free(a);
		free(b);
		strv_free(&v);
		strv_free(&w);
	}
}

static void test_parse(void **state)
{
	struct recipe_userdb db;

	assert_int_equal(userdb_parse(&db, passwd, shadow, group, gshadow), 0);
	assert_true(db.has_shadow && db.has_gshadow);
	assert_int_equal(db.passwd.count, 3);
	assert_int_equal(db.group.count, 6);
	assert_int_equal(db.shadow.count, 2);
	assert_int_equal(db.gshadow.count, 4);
	assert_false(db.dirty_passwd || db.dirty_shadow || db.dirty_group || db.dirty_gshadow);
	assert_file(&db.passwd, passwd);
	userdb_free(&db);

	assert_int_equal(userdb_parse(&db, passwd, NULL, group, NULL), 0);
	assert_false(db.has_shadow || db.has_gshadow);
	assert_int_equal(db.shadow.count, 0);
	userdb_free(&db);
}

static void test_lookups(void **state)
{
	struct recipe_userdb db;
	uint32_t uid = 7, gid = 7;
	char *home = NULL;

	assert_int_equal(userdb_parse(&db, passwd, shadow, group, gshadow), 0);
	assert_int_equal(userdb_find_name(&db.passwd, "pi"), 2);
	assert_int_equal(userdb_find_name(&db.passwd, "p"), -1); /* a prefix is not a name */
	assert_int_equal(userdb_find_name(&db.passwd, "pix"), -1);
	assert_int_equal(userdb_find_name(&db.passwd, ""), -1);
	assert_int_equal(userdb_find_uid(&db.passwd, 1000), 2);
	assert_int_equal(userdb_find_uid(&db.passwd, 0), 0);
	assert_int_equal(userdb_find_uid(&db.passwd, 5), -1);
	assert_int_equal(userdb_find_uid(&db.group, 27), 2);

	assert_int_equal(userdb_user(&db, "pi", &uid, &gid, &home), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 1000);
	assert_string_equal(home, "/home/pi");
	free(home);
	assert_int_equal(userdb_user(&db, "nobody", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_group(&db, "sudo", &gid), 0);
	assert_int_equal(gid, 27);
	assert_int_equal(userdb_group(&db, "wheel", &gid), -ENOENT);

	assert_int_equal(userdb_owner(&db, "pi", &uid, &gid, NULL), 0);
	assert_true(uid == 1000 && gid == 1000);
	assert_int_equal(userdb_owner(&db, "pi:sudo", &uid, &gid, NULL), 0);
	assert_true(uid == 1000 && gid == 27);
	assert_int_equal(userdb_owner(&db, "0:audio", &uid, &gid, NULL), 0);
	assert_true(uid == 0 && gid == 29);
	assert_int_equal(userdb_owner(&db, "1234", &uid, &gid, NULL), 0);
	assert_true(uid == 1234 && gid == 1234);
	assert_int_equal(userdb_owner(&db, "1234:5", &uid, &gid, NULL), 0);
	assert_true(uid == 1234 && gid == 5);
	assert_int_equal(userdb_owner(&db, "bob", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_owner(&db, "pi:wheel", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_owner(&db, ":sudo", &uid, &gid, NULL), -EINVAL);
	assert_int_equal(userdb_owner(&db, "", &uid, &gid, NULL), -EINVAL);
	userdb_free(&db);
}

static void test_lookups_malformed(void **state)
{
	struct recipe_userdb db;
	uint32_t uid = 7, gid = 7;

	/* Short lines, bad numbers, empty names: never found, never a crash. */
	assert_int_equal(userdb_parse(&db,
				      "a:x:1000\n"
				      "b:x:x:1:::\n"
				      "c:x:4294967296:1::/:\n"
				      ":x:1000:1000::/:\n"
				      "d\n",
				      NULL, "g:x\nh:x:-1:\n", NULL),
			 0);
	assert_int_equal(userdb_user(&db, "a", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_user(&db, "b", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_user(&db, "c", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_user(&db, "d", &uid, &gid, NULL), -ENOENT);
	assert_int_equal(userdb_group(&db, "g", &gid), -ENOENT);
	assert_int_equal(userdb_group(&db, "h", &gid), -ENOENT);
	assert_true(uid == 7 && gid == 7);
	/* "a:x:1000" has the uid field: it is the first user */
	assert_int_equal(userdb_find_uid(&db.passwd, 1000), 0);
	userdb_free(&db);
}

static void test_rename(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	bool moved = false;

	assert_int_equal(userdb_parse(&db, passwd, shadow, group, gshadow), 0);
	assert_int_equal(userdb_rename(&db, 2, "pi", "red07", &moved, &err), 0);
	assert_true(moved);
	assert_true(db.dirty_passwd && db.dirty_shadow && db.dirty_group && db.dirty_gshadow);
	assert_file(&db.passwd, "root:x:0:0:root:/root:/bin/bash\n"
				"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
				"red07:x:1000:1000:,,,:/home/red07:/bin/bash\n");
	assert_file(&db.group, "root:x:0:\n"
			       "adm:x:4:red07\n"
			       "sudo:x:27:red07\n"
			       "audio:x:29:red07,pulse\n"
			       "video:x:44:\n"
			       "red07:x:1000:\n");
	assert_file(&db.shadow, "root:*:19500:0:99999:7:::\n"
				"red07:" HASH ":19500:0:99999:7:::\n");
	assert_file(&db.gshadow, "root:*::\n"
				 "sudo:*::red07\n"
				 "audio:*:red07:red07,pulse\n"
				 "red07:!::\n");
	userdb_free(&db);
}

static void test_rename_other_home(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	bool moved = true;

	/* A home elsewhere stays; a group "pi" with another gid keeps its name. */
	assert_int_equal(userdb_parse(&db, "pi:x:1000:1000::/srv/pi:/bin/sh\n", NULL,
				      "pi:x:1001:\nusers:x:100:pi\n", NULL),
			 0);
	assert_int_equal(userdb_rename(&db, 0, "pi", "bob", &moved, &err), 0);
	assert_false(moved);
	assert_file(&db.passwd, "bob:x:1000:1000::/srv/pi:/bin/sh\n");
	assert_file(&db.group, "pi:x:1001:\nusers:x:100:bob\n");
	assert_false(db.dirty_shadow || db.dirty_gshadow);
	userdb_free(&db);
}

static void test_rename_refused(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	bool moved = false;

	assert_int_equal(userdb_parse(&db, passwd, shadow, "pi:x:1000:\nbob:x:1001:\n", gshadow),
			 0);
	assert_int_equal(userdb_rename(&db, 2, "pi", "bob", &moved, &err), -EEXIST);
	assert_non_null(strstr(err.message, "group 'bob' exists"));
	assert_false(db.dirty_passwd);
	userdb_free(&db);

	err = (struct herd_error){0};
	assert_int_equal(userdb_parse(&db, "pi:x:1000:1000\n", NULL, group, NULL), 0);
	assert_int_equal(userdb_rename(&db, 0, "pi", "bob", &moved, &err), -EINVAL);
	assert_non_null(strstr(err.message, "malformed"));
	assert_file(&db.passwd, "pi:x:1000:1000\n");
	userdb_free(&db);
}

static void test_create(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	uint32_t gid = 0, uid;

	assert_int_equal(userdb_parse(&db, "root:x:0:0:root:/root:/bin/bash\n", shadow,
				      "root:x:0:\nadm:x:4:\nsudo:x:27:other\nwheel:x:10:\n",
				      "root:*::\nsudo:*::other\n"),
			 0);
	assert_int_equal(userdb_create(&db, "bob", "/bin/sh", &gid, &err), 0);
	assert_int_equal(gid, 1000);
	assert_file(&db.passwd, "root:x:0:0:root:/root:/bin/bash\n"
				"bob:x:1000:1000:,,,:/home/bob:/bin/sh\n");
	/* first-user groups the image has; not wheel (not in the list) */
	assert_file(&db.group, "root:x:0:\nadm:x:4:bob\nsudo:x:27:other,bob\nwheel:x:10:\n"
			       "bob:x:1000:\n");
	assert_file(&db.gshadow, "root:*::\nsudo:*::other,bob\nbob:!::\n");
	/* the last change day is root's: no date of today in the file */
	assert_file(&db.shadow, "root:*:19500:0:99999:7:::\n"
				"pi:" HASH ":19500:0:99999:7:::\n"
				"bob:*:19500:0:99999:7:::\n");
	assert_int_equal(userdb_user(&db, "bob", &uid, &gid, NULL), 0);
	assert_true(uid == 1000 && gid == 1000);
	userdb_free(&db);
}

static void test_create_existing_group(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	uint32_t gid = 0;

	assert_int_equal(userdb_parse(&db, "root:x:0:0::/root:/bin/sh\n", NULL,
				      "root:x:0:\nbob:x:1234:\n", NULL),
			 0);
	assert_int_equal(userdb_create(&db, "bob", "/bin/bash", &gid, &err), 0);
	assert_int_equal(gid, 1234);
	assert_file(&db.group, "root:x:0:\nbob:x:1234:\n");
	assert_file(&db.passwd, "root:x:0:0::/root:/bin/sh\n"
				"bob:x:1000:1234:,,,:/home/bob:/bin/bash\n");
	assert_false(db.dirty_shadow);
	userdb_free(&db);
}

static void test_create_gid_taken(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	uint32_t gid = 0;

	assert_int_equal(userdb_parse(&db, "root:x:0:0::/root:/bin/sh\n", NULL,
				      "root:x:0:\nother:x:1000:\n", NULL),
			 0);
	assert_int_equal(userdb_create(&db, "bob", "/bin/bash", &gid, &err), -EEXIST);
	assert_non_null(strstr(err.message, "gid 1000"));
	assert_int_equal(gid, 0);
	assert_int_equal(db.passwd.count, 1);
	userdb_free(&db);
}

static void test_set_password(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;

	assert_int_equal(userdb_parse(&db, passwd, shadow, group, NULL), 0);
	assert_int_equal(userdb_set_password(&db, "root", "$y$j9T$abc$def", &err), 0);
	assert_true(db.dirty_shadow);
	assert_string_equal(db.shadow.items[0], "root:$y$j9T$abc$def:19500:0:99999:7:::");
	assert_int_equal(userdb_set_password(&db, "bob", "$y$j9T$abc$def", &err), -ENOENT);
	assert_non_null(strstr(err.message, "no entry for 'bob'"));
	userdb_free(&db);

	err = (struct herd_error){0};
	assert_int_equal(userdb_parse(&db, passwd, NULL, group, NULL), 0);
	assert_int_equal(userdb_set_password(&db, "pi", "$y$j9T$abc$def", &err), -ENOENT);
	assert_non_null(strstr(err.message, "no /etc/shadow"));
	userdb_free(&db);
}

static void test_rename_nameless_entry(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	bool moved = false;

	/* A first user without a name must not rename every nameless line
	 * of shadow and group (it did: "" matched them). */
	assert_int_equal(
	    userdb_parse(&db, ":x:1000:1000::/home/:/bin/sh\n", ":*:1::::::\n", ":x:1000:\n", NULL),
	    0);
	assert_int_equal(userdb_rename(&db, 0, "", "bob", &moved, &err), -EINVAL);
	assert_non_null(strstr(err.message, "no usable user name"));
	assert_file(&db.shadow, ":*:1::::::\n");
	assert_file(&db.group, ":x:1000:\n");
	assert_false(db.dirty_passwd || db.dirty_shadow || db.dirty_group);
	userdb_free(&db);

	/* old must be the line's name */
	err = (struct herd_error){0};
	assert_int_equal(userdb_parse(&db, passwd, shadow, group, gshadow), 0);
	assert_int_equal(userdb_rename(&db, 2, "root", "bob", &moved, &err), -EINVAL);
	assert_false(db.dirty_passwd);
	userdb_free(&db);
}

static void test_rename_many_memberships(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	char members[400] = "", want[800] = "", line[900];
	size_t ml = 0, wl = 0;
	bool moved;

	/* A member listed 20 times (was: "out of memory" past 8), and a
	 * member list longer than 8 KiB (was: silently not renamed). */
	for (int i = 0; i < 20; i++) {
		ml += (size_t)snprintf(members + ml, sizeof(members) - ml, "%spi", i ? "," : "");
		wl +=
		    (size_t)snprintf(want + wl, sizeof(want) - wl, "%saverylongname", i ? "," : "");
	}
	snprintf(line, sizeof(line), "audio:x:29:%s\n", members);
	assert_int_equal(userdb_parse(&db, passwd, NULL, line, NULL), 0);
	assert_int_equal(userdb_rename(&db, 2, "pi", "averylongname", &moved, &err), 0);
	snprintf(line, sizeof(line), "audio:x:29:%s", want);
	assert_string_equal(db.group.items[0], line);
	userdb_free(&db);

	{
		size_t n = 10000;
		char *big = malloc(n + 64), *got;
		size_t len = 0;

		assert_non_null(big);
		len += (size_t)snprintf(big, n + 64, "video:x:44:");
		while (len < n)
			len += (size_t)snprintf(big + len, n + 64 - len, "u%zu,", len);
		snprintf(big + len, n + 64 - len, "pi\n");
		assert_int_equal(userdb_parse(&db, passwd, NULL, big, NULL), 0);
		assert_int_equal(userdb_rename(&db, 2, "pi", "bob", &moved, &err), 0);
		got = db.group.items[0];
		assert_int_equal(strlen(got), strlen(big) - 1 + 1); /* "pi\n" -> "bob" */
		assert_string_equal(got + strlen(got) - 4, ",bob");
		userdb_free(&db);
		free(big);
	}
}

static void test_create_malformed_group(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	uint32_t gid = 0;

	/* A "bob" group line without a readable gid: refused, not a second
	 * "bob" entry in /etc/group. */
	assert_int_equal(
	    userdb_parse(&db, "root:x:0:0::/root:/bin/sh\n", NULL, "root:x:0:\nbob:x:abc:\n", NULL),
	    0);
	assert_int_equal(userdb_create(&db, "bob", "/bin/bash", &gid, &err), -EINVAL);
	assert_non_null(strstr(err.message, "malformed entry for 'bob'"));
	assert_int_equal(db.group.count, 2);
	assert_int_equal(db.passwd.count, 1);
	userdb_free(&db);
}

static void test_rename_members_of_odd_lines(void **state)
{
	struct herd_error err = {0};
	struct recipe_userdb db;
	bool moved;

	/* Memberships follow the name on group lines with a gid or name too
	 * long to read (they were skipped whole). */
	assert_int_equal(userdb_parse(&db, passwd, NULL,
				      "g:x:123456789012345678901234567890123456789:pi\n", NULL),
			 0);
	assert_int_equal(userdb_rename(&db, 2, "pi", "bob", &moved, &err), 0);
	assert_string_equal(db.group.items[0], "g:x:123456789012345678901234567890123456789:bob");
	userdb_free(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_lines),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_lookups),
	    cmocka_unit_test(test_lookups_malformed),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_rename_other_home),
	    cmocka_unit_test(test_rename_refused),
	    cmocka_unit_test(test_create),
	    cmocka_unit_test(test_create_existing_group),
	    cmocka_unit_test(test_create_gid_taken),
	    cmocka_unit_test(test_set_password),
	    cmocka_unit_test(test_rename_nameless_entry),
	    cmocka_unit_test(test_rename_many_memberships),
	    cmocka_unit_test(test_create_malformed_group),
	    cmocka_unit_test(test_rename_members_of_odd_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
