/*
 * test_validate.c — every accept/reject case of the setting validators
 * (issue: foundation, scope 6).  Filesystem checks run against a fake
 * zoneinfo directory in a temp dir, so the host's tzdata does not matter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/validate.h"

struct fixture {
	char dir[64];
	char zoneinfo[128];
	char home[128];
	struct settings_context ctx;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[256];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/herd-validate-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->zoneinfo, sizeof(fx->zoneinfo), "%s/zoneinfo", fx->dir);
	snprintf(fx->home, sizeof(fx->home), "%s/home", fx->dir);
	mkdir(fx->zoneinfo, 0755);
	mkdir(fx->home, 0755);
	snprintf(path, sizeof(path), "%s/Europe", fx->zoneinfo);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/Europe/Berlin", fx->zoneinfo);
	write_file(path, "TZif2 fake zone");
	snprintf(path, sizeof(path), "%s/UTC", fx->zoneinfo);
	write_file(path, "TZif2 fake zone");
	snprintf(path, sizeof(path), "%s/zone.tab", fx->zoneinfo);
	write_file(path, "# not a zone\n");
	snprintf(path, sizeof(path), "%s/iso3166.tab", fx->zoneinfo);
	write_file(path, "# comment\nDE\tGermany\nGB\tBritain (UK)\nUS\tUnited States\n");
	snprintf(path, sizeof(path), "%s/key.pub", fx->dir);
	write_file(path, "ssh-ed25519 AAAA test\n");
	snprintf(path, sizeof(path), "%s/id.pub", fx->home);
	write_file(path, "ssh-ed25519 AAAA home\n");
	fx->ctx.base_dir = fx->dir;
	fx->ctx.home = fx->home;
	fx->ctx.zoneinfo_dir = fx->zoneinfo;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void test_hostname(void **state)
{
	char l63[64], l64[65], long254[255];

	assert_true(validate_hostname("red01"));
	assert_true(validate_hostname("a"));
	assert_true(validate_hostname("Red-01"));
	assert_true(validate_hostname("node1.lab.example"));
	assert_true(validate_hostname("1abc")); /* RFC 1123 allows a leading digit */
	assert_false(validate_hostname(""));
	assert_false(validate_hostname("-red"));
	assert_false(validate_hostname("red-"));
	assert_false(validate_hostname("red_01"));
	assert_false(validate_hostname("red..lab"));
	assert_false(validate_hostname(".red"));
	assert_false(validate_hostname("red."));
	assert_false(validate_hostname("red lab"));
	assert_false(validate_hostname("a.-b.c"));
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	assert_true(validate_hostname(l63));
	assert_false(validate_hostname(l64));
	/* 253 characters in labels of 63: ok; 254: too long. */
	memset(long254, 'a', 254);
	for (int i = 63; i < 254; i += 64)
		long254[i] = '.';
	long254[253] = '\0';
	assert_true(validate_hostname(long254));
	long254[253] = 'a';
	long254[254] = '\0';
	assert_false(validate_hostname(long254));
}

static void test_ipv4(void **state)
{
	struct herd_ipv4 ip = {0};

	assert_int_equal(validate_ipv4("10.1.1.11", true, 24, &ip), 0);
	assert_int_equal(ip.address, 0x0a01010b);
	assert_int_equal(ip.prefix, 24);
	assert_int_equal(validate_ipv4("192.168.0.1/16", true, 24, &ip), 0);
	assert_int_equal(ip.address, 0xc0a80001);
	assert_int_equal(ip.prefix, 16);
	assert_int_equal(validate_ipv4("0.0.0.0/0", true, 24, &ip), 0);
	assert_int_equal(ip.prefix, 0);
	assert_int_equal(validate_ipv4("255.255.255.255/32", true, 24, &ip), 0);
	assert_int_equal(ip.address, 0xffffffff);
	assert_int_equal(validate_ipv4("10.0.0.1", false, 32, &ip), 0);
	assert_int_equal(ip.prefix, 32);

	ip.address = 42;
	assert_int_equal(validate_ipv4("10.1.1.300", true, 24, &ip), -EINVAL);
	assert_int_equal(ip.address, 42); /* untouched on failure */
	assert_int_equal(validate_ipv4("10.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("010.1.1.1", true, 24, &ip), -EINVAL); /* octal ambiguity */
	assert_int_equal(validate_ipv4("10.01.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1/33", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1/024", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1/", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1/24", false, 32, &ip), -EINVAL);
	assert_int_equal(validate_ipv4(" 10.1.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10.1.1.1 ", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("+10.1.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("10..1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("0x0a.1.1.1", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("", true, 24, &ip), -EINVAL);
	assert_int_equal(validate_ipv4("1000.1.1.1", true, 24, &ip), -EINVAL);
}

static void test_locale(void **state)
{
	assert_true(validate_locale("en_GB.UTF-8"));
	assert_true(validate_locale("de_DE"));
	assert_true(validate_locale("de_DE@euro"));
	assert_true(validate_locale("ca_ES.UTF-8@valencia"));
	assert_true(validate_locale("ast_ES.UTF-8"));
	assert_true(validate_locale("C"));
	assert_true(validate_locale("C.UTF-8"));
	assert_true(validate_locale("POSIX"));
	assert_false(validate_locale("en"));
	assert_false(validate_locale("EN_gb"));
	assert_false(validate_locale("en_GB."));
	assert_false(validate_locale("en_GB@"));
	assert_false(validate_locale("en_GBR"));
	assert_false(validate_locale("en-GB"));
	assert_false(validate_locale("en_GB.UTF-8 "));
	assert_false(validate_locale(""));
}

static void test_keymap(void **state)
{
	assert_true(validate_keymap("de"));
	assert_true(validate_keymap("us"));
	assert_true(validate_keymap("gb"));
	assert_true(validate_keymap("de(nodeadkeys)"));
	assert_true(validate_keymap("us(dvorak-intl)"));
	assert_false(validate_keymap(""));
	assert_false(validate_keymap("DE"));
	assert_false(validate_keymap("de("));
	assert_false(validate_keymap("de()"));
	assert_false(validate_keymap("de(x)y"));
	assert_false(validate_keymap("-de"));
	assert_false(validate_keymap("de us"));
	assert_false(validate_keymap("abcdefghijabcdefghijabcdefghijabc")); /* 33 */
}

static void test_username_package_owner_path(void **state)
{
	assert_true(validate_username("pi"));
	assert_true(validate_username("_svc"));
	assert_true(validate_username("user-1"));
	assert_false(validate_username("Pi"));
	assert_false(validate_username("1pi"));
	assert_false(validate_username(""));
	assert_false(validate_username("a b"));

	assert_true(validate_package_name("htop"));
	assert_true(validate_package_name("libc6"));
	assert_true(validate_package_name("g++"));
	assert_true(validate_package_name("python3.11"));
	assert_false(validate_package_name("h"));
	assert_false(validate_package_name("Htop"));
	assert_false(validate_package_name("-htop"));
	assert_false(validate_package_name("htop;rm"));

	assert_true(validate_owner("pi"));
	assert_true(validate_owner("pi:pi"));
	assert_true(validate_owner("1000:1000"));
	assert_false(validate_owner("pi:"));
	assert_false(validate_owner(":pi"));
	assert_false(validate_owner("Pi"));

	assert_true(validate_image_path("/etc/motd"));
	assert_true(validate_image_path("/home/pi/.bashrc"));
	assert_false(validate_image_path("etc/motd"));
	assert_false(validate_image_path("/"));
	assert_false(validate_image_path("/etc/../shadow"));
	assert_false(validate_image_path("/etc/./motd"));
	assert_false(validate_image_path("/etc//motd"));
	assert_false(validate_image_path("/etc/motd/"));
}

static void test_crypt_hash(void **state)
{
	/* Real hashes of "x" (openssl passwd / libcrypt via perl crypt()). */
	const char *sha512 =
	    "$6$saltsalt$8RWsOfwR6M6PpnoeQiEiWzNTPo1f0HjVYjDnLZhGx16aBFRkeqiHAzfXP/"
	    "LgrOWMBMXqiU2pLrXsSOHNUyUm91";
	const char *sha512_rounds =
	    "$6$rounds=5000$saltsalt$8RWsOfwR6M6PpnoeQiEiWzNTPo1f0HjVYjDnLZhGx16aBFRkeqiHAzfXP/"
	    "LgrOWMBMXqiU2pLrXsSOHNUyUm91";
	const char *sha256 = "$5$saltstring$8lNOPUYH/6hNVwI72WGU4WW1KQqblnIzRCd9nWOKs5A";
	const char *yescrypt =
	    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2";
	const char *gost =
	    "$gy$j9T$F5Jx5fExrKuPp53xLKQ..1$swDwqc9roxMj9t43.TdN6v6uEgFlLv6oDhMVx4g6bhA";
	const char *bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OFZpuItF3WweSp8FEkv/0/5FZHApM3fe";
	struct herd_error err = {0};
	char *out = NULL;

	assert_true(validate_crypt_hash(sha512));
	assert_true(validate_crypt_hash(sha512_rounds));
	assert_true(validate_crypt_hash(sha256));
	assert_true(validate_crypt_hash(yescrypt));
	assert_true(validate_crypt_hash(gost));
	assert_true(validate_crypt_hash(bcrypt));
	assert_false(validate_crypt_hash("$1$saltsalt$ZFzx6HPhS8PV6Wm4BIhbo/"));
	assert_false(validate_crypt_hash("abJnggxhB/yWI")); /* DES */
	assert_false(validate_crypt_hash("$6$saltsalt$short"));
	assert_false(
	    validate_crypt_hash("$6$$8RWsOfwR6M6PpnoeQiEiWzNTPo1f0HjVYjDnLZhGx16aBFRkeqiHAzfXP/"
				"LgrOWMBMXqiU2pLrXsSOHNUyUm91"));
	assert_false(validate_crypt_hash("$y$j9T$salt$tooshort"));
	assert_false(validate_crypt_hash("$2b$12$short"));
	assert_false(validate_crypt_hash("password"));
	assert_false(validate_crypt_hash(""));

	assert_int_equal(
	    validate_crypt_hash_value("$1$saltsalt$ZFzx6HPhS8PV6Wm4BIhbo/", NULL, &out, &err),
	    -EINVAL);
	assert_non_null(strstr(err.message, "weak or unknown"));
	assert_int_equal(validate_crypt_hash_value("secret", NULL, &out, &err), -EINVAL);
	assert_null(out);
	assert_int_equal(validate_crypt_hash_value(yescrypt, NULL, &out, &err), 0);
	assert_string_equal(out, yescrypt);
	free(out);
}

static void test_wifi(void **state)
{
	char hex64[65];

	assert_true(validate_wifi_ssid("lab"));
	assert_true(validate_wifi_ssid("My Lab Wi-Fi"));
	assert_false(validate_wifi_ssid(""));
	assert_false(validate_wifi_ssid("abcdefghijabcdefghijabcdefghijabc")); /* 33 */
	assert_false(validate_wifi_ssid("tab\there"));

	assert_true(validate_wifi_psk("12345678"));
	assert_true(validate_wifi_psk("a passphrase with spaces"));
	assert_false(validate_wifi_psk("1234567"));
	memset(hex64, 'a', 64);
	hex64[64] = '\0';
	assert_true(validate_wifi_psk(hex64));
	hex64[10] = 'x';
	assert_false(validate_wifi_psk(hex64));
	assert_false(validate_wifi_psk("passw\x01rd"));
}

static void test_country(void **state)
{
	struct fixture *fx = *state;
	struct settings_context none = {.zoneinfo_dir = "/nonexistent/zoneinfo"};
	struct herd_error err = {0};
	char *out = NULL;

	assert_int_equal(validate_country_value("DE", &fx->ctx, &out, &err), 0);
	assert_string_equal(out, "DE");
	free(out);
	out = NULL;
	assert_int_equal(validate_country_value("XX", &fx->ctx, &out, &err), -EINVAL);
	assert_string_equal(err.message, "'XX' is not an ISO 3166-1 country code");
	assert_int_equal(validate_country_value("de", &fx->ctx, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "two uppercase letters"));
	assert_int_equal(validate_country_value("DEU", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_country_value("", &fx->ctx, &out, &err), -EINVAL);
	/* Without a table only the format is checked. */
	assert_int_equal(validate_country_value("XX", &none, &out, &err), 0);
	free(out);
}

static void test_timezone(void **state)
{
	struct fixture *fx = *state;
	struct settings_context none = {.zoneinfo_dir = "/nonexistent/zoneinfo"};
	struct herd_error err = {0};
	char *out = NULL;

	assert_int_equal(validate_timezone_value("Europe/Berlin", &fx->ctx, &out, &err), 0);
	assert_string_equal(out, "Europe/Berlin");
	free(out);
	assert_int_equal(validate_timezone_value("UTC", &fx->ctx, &out, &err), 0);
	free(out);
	out = NULL;
	assert_int_equal(validate_timezone_value("Europe/Berln", &fx->ctx, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'Europe/Berln' is not a timezone in"));
	assert_int_equal(validate_timezone_value("Europe", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("zone.tab", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("../zoneinfo/UTC", &fx->ctx, &out, &err), -EINVAL);
	assert_string_equal(err.message,
			    "'../zoneinfo/UTC' is not a timezone name like Europe/Berlin");
	assert_int_equal(validate_timezone_value("Europe/../UTC", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("/etc/localtime", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("Europe//Berlin", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("Europe/", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_timezone_value("Europe/Ber lin", &fx->ctx, &out, &err), -EINVAL);
	assert_null(out);
	/* No database: names are checked for shape only. */
	assert_int_equal(validate_timezone_value("Mars/Olympus", &none, &out, &err), 0);
	free(out);
	out = NULL;
	assert_int_equal(validate_timezone_value("../x", &none, &out, &err), -EINVAL);
}

static void test_file_ref(void **state)
{
	struct fixture *fx = *state;
	struct settings_context nohome = {.base_dir = fx->dir};
	struct herd_error err = {0};
	char want[256], *out = NULL;

	assert_int_equal(validate_file_ref_value("key.pub", &fx->ctx, &out, &err), 0);
	snprintf(want, sizeof(want), "%s/key.pub", fx->dir);
	assert_string_equal(out, want);
	free(out);
	assert_int_equal(validate_file_ref_value("~/id.pub", &fx->ctx, &out, &err), 0);
	snprintf(want, sizeof(want), "%s/id.pub", fx->home);
	assert_string_equal(out, want);
	free(out);
	assert_int_equal(validate_file_ref_value(want, &nohome, &out, &err), 0); /* absolute */
	assert_string_equal(out, want);
	free(out);
	out = NULL;

	assert_int_equal(validate_file_ref_value("missing.pub", &fx->ctx, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "missing.pub': No such file or directory"));
	assert_int_equal(validate_file_ref_value("~/id.pub", &nohome, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "HOME is not set"));
	assert_int_equal(validate_file_ref_value("~other/id.pub", &fx->ctx, &out, &err), -EINVAL);
	assert_int_equal(validate_file_ref_value("home", &fx->ctx, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "is not a regular file"));
	assert_int_equal(validate_file_ref_value("", &fx->ctx, &out, &err), -EINVAL);
	assert_null(out);
}

static void test_registry_validators(void **state)
{
	struct herd_error err = {0};
	char *out = NULL;

	assert_int_equal(validate_hostname_value("red_1", NULL, &out, &err), -EINVAL);
	assert_string_equal(err.message, "'red_1' is not a valid hostname (RFC 1123)");
	assert_int_equal(validate_ipv4_addr_value("10.1.1.300", NULL, &out, &err), -EINVAL);
	assert_string_equal(err.message, "'10.1.1.300' is not an IPv4 address");
	assert_int_equal(validate_psk_value("short", NULL, &out, &err), -EINVAL);
	assert_null(strstr(err.message, "short")); /* secrets are never echoed */
	assert_int_equal(validate_text_value("", NULL, &out, &err), -EINVAL);
	assert_null(out);
	assert_int_equal(validate_keymap_value("de", NULL, &out, &err), 0);
	assert_string_equal(out, "de");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_locale),
	    cmocka_unit_test(test_keymap),
	    cmocka_unit_test(test_username_package_owner_path),
	    cmocka_unit_test(test_crypt_hash),
	    cmocka_unit_test(test_wifi),
	    cmocka_unit_test(test_country),
	    cmocka_unit_test(test_timezone),
	    cmocka_unit_test(test_file_ref),
	    cmocka_unit_test(test_registry_validators),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
