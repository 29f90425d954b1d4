/*
 * test_settings.c — the key registry and the generic setting operations:
 * names, environment names, aliases, parsing each type, list append,
 * clearing, merging layers, the environment, formatting (issue:
 * foundation, scope 6).
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

#include "config/settings.h"

static const struct settings_origin from_flag = {.source = SETTINGS_SOURCE_FLAG};
static const struct settings_origin from_env = {.source = SETTINGS_SOURCE_ENV};
static const struct settings_origin from_file7 = {.source = SETTINGS_SOURCE_FILE, .line = 7};

/* No zoneinfo checks in this file: validate.c's tests cover those. */
static const struct settings_context ctx = {.zoneinfo_dir = "/nonexistent"};

static const struct settings_key *key(const char *name)
{
	const struct settings_key *k = settings_key_find(name);
	if (!k)
		fail_msg("no key '%s'", name);
	return k;
}

static void test_registry_names(void **state)
{
	size_t n;
	const struct settings_key *keys = settings_keys(&n);
	char env[96];

	assert_true(n > 20 && n <= SETTINGS_MAX_KEYS);
	/* Names are unique and every settable key has a field. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(strcmp(keys[i].name, keys[j].name), 0);
		assert_ptr_equal(settings_key_find(keys[i].name), &keys[i]);
		assert_int_equal(settings_key_index(&keys[i]), i);
		assert_non_null(keys[i].help);
	}
	assert_int_equal(settings_key_env_name("ssh.enabled", env, sizeof(env)), 0);
	assert_string_equal(env, "HERD_SSH_ENABLED");
	assert_int_equal(settings_key_env_name("wifi.country", env, sizeof(env)), 0);
	assert_string_equal(env, "HERD_WIFI_COUNTRY");
	assert_int_equal(settings_key_env_name("password_hash", env, sizeof(env)), 0);
	assert_string_equal(env, "HERD_PASSWORD_HASH");
	assert_int_equal(settings_key_env_name("hostname", env, 8), -ENAMETOOLONG);

	/* gateway/dns are aliases of the canonical network.* names. */
	assert_ptr_equal(key("gateway"), key("network.gateway"));
	assert_ptr_equal(key("dns"), key("network.dns"));
	assert_null(settings_key_find("timezon"));
	assert_string_equal(settings_key_suggest("timezon"), "timezone");
	assert_string_equal(settings_key_suggest("ssh.enabeld"), "ssh.enabled");
	assert_null(settings_key_suggest("completely-different"));
	assert_true(settings_is_section("wifi"));
	assert_true(settings_is_section("network"));
	assert_false(settings_is_section("wif"));
	assert_false(settings_is_section("timezone"));

	/* The flags of DESIGN.md's command line. */
	assert_string_equal(key("ssh.authorized_keys")->flag, "sshkey");
	assert_string_equal(key("wifi.psk")->flag, "wifipassword");
	assert_string_equal(key("ssh.enabled")->negated_flag, "no-ssh");
	assert_string_equal(key("password_hash")->flag, "password-hash");
	assert_string_equal(key("wifi.country")->flag, "wifi-country");
}

static void test_set_each_type(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};

	settings_init(&s);
	assert_int_equal(
	    settings_set_text(&s, key("hostname"), "red01", false, &ctx, &from_flag, &err), 0);
	assert_string_equal(s.hostname, "red01");
	assert_int_equal(
	    settings_set_text(&s, key("ipaddr"), "10.1.1.11", false, &ctx, &from_flag, &err), 0);
	assert_int_equal(s.ipaddr.address, 0x0a01010b);
	assert_int_equal(s.ipaddr.prefix, 24);
	assert_int_equal(
	    settings_set_text(&s, key("ipaddr"), "10.1.1.11/16", false, &ctx, &from_flag, &err), 0);
	assert_int_equal(s.ipaddr.prefix, 16);
	assert_int_equal(
	    settings_set_text(&s, key("gateway"), "10.1.1.1", false, &ctx, &from_flag, &err), 0);
	assert_int_equal(s.gateway.address, 0x0a010101);
	assert_int_equal(
	    settings_set_text(&s, key("ssh.enabled"), "yes", false, &ctx, &from_flag, &err), 0);
	assert_true(s.ssh_enabled);
	assert_int_equal(
	    settings_set_text(&s, key("ssh.enabled"), "false", false, &ctx, &from_flag, &err), 0);
	assert_false(s.ssh_enabled);
	assert_true(settings_is_set(&s, key("ssh.enabled")));
	assert_int_equal(settings_set_text(&s, key("network.dns"), "1.1.1.1, 8.8.8.8", false, &ctx,
					   &from_flag, &err),
			 0);
	assert_int_equal(s.dns.count, 2);
	assert_string_equal(s.dns.items[1], "8.8.8.8");
	assert_int_equal(settings_set_text(&s, key("firstboot.run"), "echo a, b\ntrue", false, &ctx,
					   &from_env, &err),
			 0);
	assert_int_equal(s.firstboot_run.count, 2);
	assert_string_equal(s.firstboot_run.items[0], "echo a, b");

	/* Errors name the key and the value, and leave the old value. */
	assert_int_equal(
	    settings_set_text(&s, key("ipaddr"), "10.1.1.300", false, &ctx, &from_flag, &err),
	    -EINVAL);
	assert_string_equal(err.message, "ipaddr: '10.1.1.300' is not an IPv4 address");
	assert_int_equal(s.ipaddr.prefix, 16);
	assert_int_equal(
	    settings_set_text(&s, key("gateway"), "10.1.1.1/24", false, &ctx, &from_flag, &err),
	    -EINVAL);
	assert_string_equal(err.message, "network.gateway: '10.1.1.1/24' is not an IPv4 address");
	assert_int_equal(
	    settings_set_text(&s, key("ssh.enabled"), "maybe", false, &ctx, &from_flag, &err),
	    -EINVAL);
	assert_string_equal(err.message, "ssh.enabled: 'maybe' is not true or false");
	assert_int_equal(
	    settings_set_text(&s, key("hostname"), "bad_name", false, &ctx, &from_flag, &err),
	    -EINVAL);
	assert_string_equal(err.message, "hostname: 'bad_name' is not a valid hostname (RFC 1123)");
	assert_string_equal(s.hostname, "red01");
	assert_int_equal(settings_set_text(&s, key("network.dns"), "1.1.1.1,,2.2.2.2", false, &ctx,
					   &from_flag, &err),
			 -EINVAL);
	assert_int_equal(s.dns.count, 2);
	assert_int_equal(settings_set_text(&s, key("password"), "x", false, &ctx, &from_flag, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "use password_hash"));
	assert_int_equal(settings_set_text(&s, key("files"), "x", false, &ctx, &from_flag, &err),
			 -EINVAL);
	settings_free(&s);
	assert_null(s.hostname);
}

static void test_list_append(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};

	settings_init(&s);
	/* A list from the file is replaced by the first flag, then flags append. */
	assert_int_equal(
	    settings_set_text(&s, key("dns"), "1.1.1.1", true, &ctx, &from_file7, &err), 0);
	assert_int_equal(settings_set_text(&s, key("dns"), "2.2.2.2", true, &ctx, &from_flag, &err),
			 0);
	assert_int_equal(s.dns.count, 1);
	assert_int_equal(
	    settings_set_text(&s, key("dns"), "3.3.3.3,4.4.4.4", true, &ctx, &from_flag, &err), 0);
	assert_int_equal(s.dns.count, 3);
	assert_string_equal(s.dns.items[0], "2.2.2.2");
	assert_string_equal(s.dns.items[2], "4.4.4.4");
	/* Without append the list is replaced. */
	assert_int_equal(
	    settings_set_text(&s, key("dns"), "5.5.5.5", false, &ctx, &from_flag, &err), 0);
	assert_int_equal(s.dns.count, 1);
	settings_free(&s);
}

static void test_clear_merge_copy(void **state)
{
	struct herd_settings lower, upper, copy;
	struct herd_error err = {0};
	char src[128];
	char *v;

	settings_init(&lower);
	settings_init(&upper);
	lower.origin_file = strdup("fleet.yaml");
	assert_int_equal(
	    settings_set_text(&lower, key("wifi.ssid"), "lab", false, &ctx, &from_file7, &err), 0);
	assert_int_equal(
	    settings_set_text(&lower, key("timezone"), "UTC", false, &ctx, &from_file7, &err), 0);
	assert_int_equal(
	    settings_set_text(&lower, key("dns"), "1.1.1.1", false, &ctx, &from_file7, &err), 0);

	settings_clear(&upper, key("wifi.ssid"), &from_file7);
	assert_int_equal(settings_set_text(&upper, key("timezone"), "Europe/Berlin", false, &ctx,
					   &from_env, &err),
			 0);
	assert_int_equal(settings_merge(&lower, &upper), 0);
	assert_null(lower.wifi_ssid);
	assert_false(settings_is_set(&lower, key("wifi.ssid")));
	assert_string_equal(lower.timezone, "Europe/Berlin");
	assert_int_equal(lower.dns.count, 1); /* untouched by upper */

	settings_format_source(&lower, key("wifi.ssid"), src, sizeof(src));
	assert_string_equal(src, "fleet.yaml:7 (null)");
	settings_format_source(&lower, key("timezone"), src, sizeof(src));
	assert_string_equal(src, "env HERD_TIMEZONE");
	settings_format_source(&lower, key("dns"), src, sizeof(src));
	assert_string_equal(src, "fleet.yaml:7");
	settings_format_source(&lower, key("locale"), src, sizeof(src));
	assert_string_equal(src, "-");

	assert_int_equal(settings_copy(&lower, &copy), 0);
	assert_string_equal(copy.timezone, "Europe/Berlin");
	assert_ptr_not_equal(copy.timezone, lower.timezone);
	assert_string_equal(copy.origin_file, "fleet.yaml");
	settings_free(&lower);
	v = settings_format_value(&copy, key("dns"));
	assert_string_equal(v, "1.1.1.1");
	free(v);
	assert_null(settings_format_value(&copy, key("wifi.ssid")));
	settings_free(&copy);
	settings_free(&upper);
}

static void test_format(void **state)
{
	struct herd_settings s;
	struct herd_error err = {0};
	char buf[64], *v;

	settings_init(&s);
	assert_int_equal(
	    settings_set_text(&s, key("ipaddr"), "10.1.1.11", false, &ctx, &from_flag, &err), 0);
	assert_int_equal(
	    settings_set_text(&s, key("wifi.psk"), "supersecret", false, &ctx, &from_flag, &err),
	    0);
	assert_int_equal(
	    settings_set_text(&s, key("ssh.enabled"), "on", false, &ctx, &from_flag, &err), 0);
	v = settings_format_value(&s, key("ipaddr"));
	assert_string_equal(v, "10.1.1.11/24");
	free(v);
	v = settings_format_value(&s, key("wifi.psk"));
	assert_string_equal(v, "(secret)");
	free(v);
	v = settings_format_value(&s, key("ssh.enabled"));
	assert_string_equal(v, "true");
	free(v);
	settings_format_source(&s, key("wifi.psk"), buf, sizeof(buf));
	assert_string_equal(buf, "flag --wifipassword");
	settings_format_ipv4(&s.ipaddr, false, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.1.11");
	settings_free(&s);
}

static void test_env(void **state)
{
	char *envp[] = {
	    "HOME=/nonexistent",
	    "HERD_HOSTNAME=envhost",
	    "HERD_SSH_ENABLED=false",
	    "HERD_WIFI_COUNTRY=DE",
	    "HERD_DNS=9.9.9.9,1.1.1.1",
	    "HERD_ZONEINFO_DIR=/nonexistent", /* not a setting: ignored */
	    "HERD_FILES=ignored",	      /* files has no variable */
	    NULL,
	};
	char *conflict[] = {"HERD_GATEWAY=10.0.0.1", "HERD_NETWORK_GATEWAY=10.0.0.2", NULL};
	char *same[] = {"HERD_GATEWAY=10.0.0.1", "HERD_NETWORK_GATEWAY=10.0.0.1", NULL};
	char *bad[] = {"HERD_IPADDR=10.1.1.300", NULL};
	char *reserved[] = {"HERD_PASSWORD=hunter2", NULL};
	struct herd_settings s;
	struct herd_error err = {0};
	char src[64];

	settings_init(&s);
	s.ssh_enabled = true;
	assert_int_equal(settings_apply_env(&s, envp, &ctx, &err), 0);
	assert_string_equal(s.hostname, "envhost");
	assert_false(s.ssh_enabled);
	assert_string_equal(s.wifi_country, "DE");
	assert_int_equal(s.dns.count, 2);
	assert_int_equal(s.files.count, 0);
	settings_format_source(&s, key("dns"), src, sizeof(src));
	assert_string_equal(src, "env HERD_DNS"); /* the spelling that was used */
	settings_free(&s);

	assert_int_equal(settings_apply_env(&s, conflict, &ctx, &err), -EINVAL);
	assert_string_equal(
	    err.message, "HERD_NETWORK_GATEWAY and HERD_GATEWAY are both set, to different values");
	settings_free(&s);
	assert_int_equal(settings_apply_env(&s, same, &ctx, &err), 0);
	assert_int_equal(s.gateway.address, 0x0a000001);
	settings_free(&s);
	assert_int_equal(settings_apply_env(&s, bad, &ctx, &err), -EINVAL);
	assert_string_equal(err.message, "HERD_IPADDR: '10.1.1.300' is not an IPv4 address");
	settings_free(&s);
	/* HERD_PASSWORD is not read at all (no variable for a reserved key). */
	assert_int_equal(settings_apply_env(&s, reserved, &ctx, &err), 0);
	settings_free(&s);
	assert_int_equal(settings_apply_env(&s, NULL, &ctx, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_names), cmocka_unit_test(test_set_each_type),
	    cmocka_unit_test(test_list_append),	   cmocka_unit_test(test_clear_merge_copy),
	    cmocka_unit_test(test_format),	   cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
