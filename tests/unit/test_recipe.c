/*
 * test_recipe.c — the recipe's pure helpers (recipe/recipe.c, network.c,
 * plan.c): line and word edits and their idempotency, the WPA PSK
 * derivation against the IEEE 802.11i-2004 H.4 test vectors, and the
 * OpenSSH public key check.  No image involved; test_recipe_plan.c
 * applies recipes to images.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "recipe/recipe.h"

static void expect_edit(const char *in, const char *key, const char *line, unsigned flags,
			const char *want)
{
	char *out = NULL, *again = NULL;

	assert_int_equal(recipe_edit_lines(in, key, line, flags, &out), 0);
	assert_string_equal(out, want);
	/* Applying the same edit again changes nothing. */
	assert_int_equal(recipe_edit_lines(out, key, line, flags, &again), 0);
	assert_string_equal(again, want);
	free(out);
	free(again);
}

static void test_edit_lines(void **state)
{
	expect_edit("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n", "127.0.1.1",
		    "127.0.1.1\tred07", 0, "127.0.0.1\tlocalhost\n127.0.1.1\tred07\n");
	/* Appended when absent, also to a file without a final newline. */
	expect_edit("127.0.0.1\tlocalhost", "127.0.1.1", "127.0.1.1\tred07", 0,
		    "127.0.0.1\tlocalhost\n127.0.1.1\tred07\n");
	expect_edit(NULL, "127.0.1.1", "127.0.1.1\tred07", 0, "127.0.1.1\tred07\n");
	/* A whole-word key: 127.0.1.10 is another address. */
	expect_edit("127.0.1.10 other\n", "127.0.1.1", "127.0.1.1\tred07", 0,
		    "127.0.1.10 other\n127.0.1.1\tred07\n");
	/* Duplicates collapse into the first. */
	expect_edit("a\n127.0.1.1 x\nb\n127.0.1.1 y\n", "127.0.1.1", "127.0.1.1\tz", 0,
		    "a\n127.0.1.1\tz\nb\n");
	/* Commented lines count with RECIPE_LINE_COMMENTED (locale.gen). */
	expect_edit("# de_DE ISO-8859-1\n# de_DE.UTF-8 UTF-8\n# en_GB.UTF-8 UTF-8\n",
		    "de_DE.UTF-8 ", "de_DE.UTF-8 UTF-8", RECIPE_LINE_COMMENTED,
		    "# de_DE ISO-8859-1\nde_DE.UTF-8 UTF-8\n# en_GB.UTF-8 UTF-8\n");
	/* Deleting. */
	expect_edit("a\nX=1\nb\n", "X=", NULL, 0, "a\nb\n");
	/* Blocks between markers. */
	expect_edit("hostname\n", "herd eth0", "interface eth0\nstatic ip_address=10.0.0.2/24\n",
		    RECIPE_LINE_BLOCK,
		    "hostname\n# herd eth0 begin\ninterface eth0\nstatic "
		    "ip_address=10.0.0.2/24\n# herd eth0 end\n");
	expect_edit("a\n# herd eth0 begin\nold\n# herd eth0 end\nz\n", "herd eth0", "new\n",
		    RECIPE_LINE_BLOCK, "a\n# herd eth0 begin\nnew\n# herd eth0 end\nz\n");
}

static void test_edit_word(void **state)
{
	char *out = NULL, *again = NULL;
	const char *in = "console=tty1 root=PARTUUID=5e3da9a1-02 rootwait\n";

	assert_int_equal(recipe_edit_word(in, "cfg80211.ieee80211_regdom=",
					  "cfg80211.ieee80211_regdom=DE", &out),
			 0);
	assert_string_equal(out, "console=tty1 root=PARTUUID=5e3da9a1-02 rootwait "
				 "cfg80211.ieee80211_regdom=DE\n");
	assert_int_equal(recipe_edit_word(out, "cfg80211.ieee80211_regdom=",
					  "cfg80211.ieee80211_regdom=GB", &again),
			 0);
	assert_string_equal(again, "console=tty1 root=PARTUUID=5e3da9a1-02 rootwait "
				   "cfg80211.ieee80211_regdom=GB\n");
	free(out);
	free(again);
	assert_int_equal(recipe_edit_word(in, "rootwait", NULL, &out), 0);
	assert_string_equal(out, "console=tty1 root=PARTUUID=5e3da9a1-02\n");
	free(out);
}

static void test_wpa_psk(void **state)
{
	char psk[65];

	/* IEEE 802.11i-2004 Annex H.4.1 test vectors. */
	assert_int_equal(recipe_wpa_psk("password", "IEEE", psk), 0);
	assert_string_equal(psk,
			    "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e");
	assert_int_equal(recipe_wpa_psk("ThisIsAPassword", "ThisIsASSID", psk), 0);
	assert_string_equal(psk,
			    "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af");
	/* A 64-hex key is taken as the key itself (lower-cased). */
	assert_int_equal(
	    recipe_wpa_psk("F42C6FC52DF0EBEF9EBB4B90B38A5F902E83FE1B135A70E23AED762E9710A"
			   "12E",
			   "IEEE", psk),
	    0);
	assert_string_equal(psk,
			    "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e");
	assert_int_equal(recipe_wpa_psk("short", "IEEE", psk), -EINVAL);
	assert_int_equal(recipe_wpa_psk("1234567", "IEEE", psk), -EINVAL);
	assert_int_equal(recipe_wpa_psk("0123456789012345678901234567890123456789012345678901234567"
					"89012z",
					"IEEE", psk),
			 -EINVAL); /* 64 characters, not all hex */
	assert_int_equal(recipe_wpa_psk("tab\there!", "IEEE", psk), -EINVAL);
}

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz4gSSpo0cUUMdHvyGxW7dFXNKSD5fk8ZVjR1fQDnKe"

static void expect_key_error(const char *text, const char *fragment)
{
	struct herd_error err = {0};
	char *out = NULL;

	assert_int_equal(recipe_check_public_keys(text, strlen(text), &out, &err), -EINVAL);
	assert_null(out);
	if (!strstr(err.message, fragment))
		fail_msg("'%s' lacks '%s'", err.message, fragment);
}

static void test_public_keys(void **state)
{
	struct herd_error err = {0};
	const char *two = "# my keys\n\n" ED25519 " me@host\r\n  " ED25519 "\n";
	char *out = NULL;

	assert_int_equal(recipe_check_public_keys(two, strlen(two), &out, &err), 0);
	assert_string_equal(out, ED25519 " me@host\n" ED25519 "\n");
	free(out);

	expect_key_error("", "no public key");
	expect_key_error("# only a comment\n", "no public key");
	expect_key_error("ssh-foo AAAA\n", "'ssh-foo' is not a known SSH key type");
	expect_key_error("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", "private key");
	expect_key_error("ssh-ed25519\n", "not valid base64");
	expect_key_error("ssh-ed25519 AAAA!!!!\n", "not valid base64");
	/* Valid base64 of an ed25519 key, labelled as RSA. */
	expect_key_error(
	    "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGz4gSSpo0cUUMdHvyGxW7dFXNKSD5fk8ZVjR1fQDnKe",
	    "line 1");
	expect_key_error(
	    ED25519 "\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz4gSSpo0cUUMdHvyGxW7dFX\n", "line 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_edit_lines),
	    cmocka_unit_test(test_edit_word),
	    cmocka_unit_test(test_wpa_psk),
	    cmocka_unit_test(test_public_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
