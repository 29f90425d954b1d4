/*
 * test_fleet.c — loading fleet files and resolving hosts (issue:
 * foundation, scope 6): the DESIGN.md example, each error with its exact
 * "file:line: ..." message, host-list pairing and mismatches, null
 * resets, duplicate hosts, and precedence one level at a time
 * (defaults < host < environment < flag).
 *
 * Files referenced by the YAML (key.pub, wifi.psk) and a fake zoneinfo
 * directory live in a temp dir that is the fleet file's base directory.
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

#include "config/fleet.h"

struct fixture {
	char dir[64];
	char home_env[128];
	char zone_env[160];
	char *envp[4];
};

static struct fixture *fx;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_in(const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	write_file(path, text);
}

static int setup(void **state)
{
	char path[256];

	fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/herd-fleet-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/zoneinfo", fx->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/zoneinfo/Europe", fx->dir);
	mkdir(path, 0755);
	write_in("zoneinfo/Europe/Berlin", "TZif2");
	write_in("zoneinfo/UTC", "TZif2");
	write_in("zoneinfo/iso3166.tab", "DE\tGermany\nGB\tBritain (UK)\n");
	write_in("key.pub", "ssh-ed25519 AAAA test\n");
	write_in("wifi.psk", "passphrase\n");
	snprintf(fx->home_env, sizeof(fx->home_env), "HOME=%s", fx->dir);
	snprintf(fx->zone_env, sizeof(fx->zone_env), "HERD_ZONEINFO_DIR=%s/zoneinfo", fx->dir);
	fx->envp[0] = fx->home_env;
	fx->envp[1] = fx->zone_env;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct fleet *load(const char *yaml)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;

	if (fleet_load_memory("fleet.yaml", fx->dir, yaml, strlen(yaml), fx->envp, &fleet, &err) <
	    0)
		fail_msg("load failed: %s", err.message);
	return fleet;
}

static void expect_error(const char *yaml, const char *message)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	int r =
	    fleet_load_memory("fleet.yaml", fx->dir, yaml, strlen(yaml), fx->envp, &fleet, &err);

	if (r >= 0)
		fail_msg("loaded, want error '%s'", message);
	assert_null(fleet);
	if (strcmp(err.message, message) != 0)
		fail_msg("got  '%s'\nwant '%s'", err.message, message);
}

static void resolve(const struct fleet *fleet, const char *host, const struct herd_settings *over,
		    char **envp, struct herd_settings *ret)
{
	struct herd_error err = {0};

	if (fleet_resolve_host(fleet, host, over, envp ? envp : fx->envp, ret, &err) < 0)
		fail_msg("resolve %s: %s", host, err.message);
}

static void expect_source(const struct herd_settings *s, const char *name, const char *want)
{
	char buf[256];

	settings_format_source(s, settings_key_find(name), buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s: source '%s', want '%s'", name, buf, want);
}

static const char example[] =
    "image: raspios-lite-arm64@2025-10-01\n" /* 1 */
    "defaults:\n"			     /* 2 */
    "  user: pi\n"			     /* 3 */
    "  password_hash: "
    "\"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2\"\n"
    "  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }\n"  /* 5 */
    "  wifi: { ssid: lab, psk_file: wifi.psk, country: DE }\n"			    /* 6 */
    "  timezone: Europe/Berlin\n"						    /* 7 */
    "  locale: en_GB.UTF-8\n"							    /* 8 */
    "  keymap: de\n"								    /* 9 */
    "  network: { gateway: 10.1.1.1, dns: [10.1.1.1] }\n"			    /* 10 */
    "  firstboot: { packages: [htop], run: [ \"systemctl enable --now ssh\" ] }\n"  /* 11 */
    "  files: [ { path: /etc/motd, content: \"herd node\\n\", mode: \"0644\" } ]\n" /* 12 */
    "hosts:\n"									    /* 13 */
    "  red[01-04]:\n"								    /* 14 */
    "    ipaddr: 10.1.1.[11-14]\n"						    /* 15 */
    "  blue01:    { ipaddr: 10.1.1.30, wifi: null }\n";				    /* 16 */

static void test_example(void **state)
{
	struct fleet *fleet = load(example);
	const struct strv *hosts = fleet_hosts(fleet);
	struct herd_settings s;
	char path[256];

	assert_int_equal(hosts->count, 5);
	assert_string_equal(hosts->items[0], "red01");
	assert_string_equal(hosts->items[3], "red04");
	assert_string_equal(hosts->items[4], "blue01");
	assert_true(fleet_has_host(fleet, "red02"));
	assert_false(fleet_has_host(fleet, "red05"));
	assert_string_equal(fleet_path(fleet), "fleet.yaml");

	resolve(fleet, "red03", NULL, NULL, &s);
	assert_string_equal(s.image, "raspios-lite-arm64@2025-10-01");
	assert_string_equal(s.hostname, "red03");
	assert_int_equal(s.ipaddr.address, 0x0a01010d);
	assert_int_equal(s.ipaddr.prefix, 24);
	assert_int_equal(s.gateway.address, 0x0a010101);
	assert_string_equal(s.user, "pi");
	assert_true(s.ssh_enabled);
	assert_false(s.ssh_password_auth);
	assert_int_equal(s.ssh_authorized_keys.count, 1);
	snprintf(path, sizeof(path), "%s/key.pub", fx->dir);
	assert_string_equal(s.ssh_authorized_keys.items[0], path);
	assert_string_equal(s.wifi_ssid, "lab");
	assert_string_equal(s.wifi_country, "DE");
	assert_string_equal(s.timezone, "Europe/Berlin");
	assert_string_equal(s.keymap, "de");
	assert_int_equal(s.firstboot_packages.count, 1);
	assert_string_equal(s.firstboot_run.items[0], "systemctl enable --now ssh");
	assert_int_equal(s.files.count, 1);
	assert_string_equal(s.files.items[0].path, "/etc/motd");
	assert_string_equal(s.files.items[0].content, "herd node\n");
	assert_int_equal(s.files.items[0].mode, 0644);
	expect_source(&s, "image", "fleet.yaml:1");
	expect_source(&s, "user", "fleet.yaml:3");
	expect_source(&s, "timezone", "fleet.yaml:7");
	expect_source(&s, "hostname", "fleet.yaml:14");
	expect_source(&s, "ipaddr", "fleet.yaml:15");
	expect_source(&s, "wifi.psk", "-");
	settings_free(&s);

	/* blue01: wifi: null drops the whole inherited section. */
	resolve(fleet, "blue01", NULL, NULL, &s);
	assert_int_equal(s.ipaddr.address, 0x0a01011e);
	assert_null(s.wifi_ssid);
	assert_null(s.wifi_psk_file);
	assert_null(s.wifi_country);
	assert_false(settings_is_set(&s, settings_key_find("wifi.ssid")));
	expect_source(&s, "wifi.ssid", "fleet.yaml:16 (null)");
	assert_string_equal(s.timezone, "Europe/Berlin");
	settings_free(&s);
	fleet_free(fleet);
}

static void test_syntax_errors(void **state)
{
	expect_error("defaults:\n  user: pi\n  dns: [1.1.1.1\n",
		     "fleet.yaml:4: flow sequence without a closing bracket");
	expect_error("defaults:\n  user: pi\n  user: pj\n", "fleet.yaml:3: duplicate key");
	expect_error("defaults:\n\tuser: pi\n",
		     "fleet.yaml:2: tab character may not be used as indentation");
	expect_error("", "fleet.yaml: empty or unreadable YAML document");
	expect_error("- a\n- b\n",
		     "fleet.yaml:1: the fleet file must be a mapping with 'defaults' and 'hosts'");
	/* DESIGN.md's one-line `{ ipaddr: 10.1.1.[11-14] }` is not YAML: '['
	 * starts a flow sequence inside a flow mapping.  Quote it or use
	 * block style; the error says where. */
	expect_error("hosts:\n  red[01-02]: { ipaddr: 10.1.1.[11-12] }\n",
		     "fleet.yaml:2: missing comma in flow mapping");
}

static void test_key_errors(void **state)
{
	expect_error("defaults:\n  user: pi\n  timezon: UTC\n",
		     "fleet.yaml:3: unknown key 'timezon' (did you mean 'timezone'?)");
	expect_error("defaults:\n  frobnicate: 1\n", "fleet.yaml:2: unknown key 'frobnicate'");
	expect_error("defaults:\n  wifi:\n    ssid: lab\n    pks_file: x\n",
		     "fleet.yaml:4: unknown key 'wifi.pks_file' (did you mean 'wifi.psk_file'?)");
	expect_error("hosts:\n  a:\n    ipaddr: 10.1.1.300\n",
		     "fleet.yaml:3: ipaddr: '10.1.1.300' is not an IPv4 address");
	expect_error("defaults:\n  timezone: [UTC]\n",
		     "fleet.yaml:2: timezone: expected a single value, not a list");
	expect_error("defaults:\n  dns: { a: 1 }\n",
		     "fleet.yaml:2: network.dns: expected a list, not a mapping");
	expect_error("defaults:\n  dns: [1.1.1.1, [2.2.2.2]]\n",
		     "fleet.yaml:2: network.dns: expected a single value, not a list");
	expect_error("defaults:\n  wifi: lab\n",
		     "fleet.yaml:2: wifi: expected a mapping (or null), not a single value");
	expect_error("defaults:\n  ssh:\n    enabled: maybe\n",
		     "fleet.yaml:3: ssh.enabled: 'maybe' is not true or false");
	expect_error("defaults:\n  wifi: { country: de }\n",
		     "fleet.yaml:2: wifi.country: 'de' is not a country code (two uppercase "
		     "letters, ISO 3166-1)");
}

/* The timezone message ends in the (temp) zoneinfo path: check a prefix. */
static void test_timezone_message(void **state)
{
	const char *yaml = "defaults:\n  timezone: Europe/Nowhere\n";
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	char want[256];

	assert_int_equal(
	    fleet_load_memory("fleet.yaml", fx->dir, yaml, strlen(yaml), fx->envp, &fleet, &err),
	    -EINVAL);
	snprintf(want, sizeof(want),
		 "fleet.yaml:2: timezone: 'Europe/Nowhere' is not a timezone in %s/zoneinfo",
		 fx->dir);
	assert_string_equal(err.message, want);
}

static void test_secrets_refused(void **state)
{
	expect_error("defaults:\n  password: hunter2\n",
		     "fleet.yaml:2: password: clear-text passwords are not accepted; use "
		     "password_hash (e.g. from 'mkpasswd -m yescrypt'), or --passwd to be "
		     "prompted");
	expect_error(
	    "defaults:\n  wifi:\n    ssid: lab\n    psk: supersecret\n",
	    "fleet.yaml:4: wifi.psk: clear-text secrets are not allowed in the fleet file; "
	    "use wifi.psk_file");
	expect_error("defaults:\n  password_hash: \"$1$saltsalt$ZFzx6HPhS8PV6Wm4BIhbo/\"\n",
		     "fleet.yaml:2: password_hash: '$1$saltsalt$...' is a weak or unknown password "
		     "hash; use yescrypt ($y$) or SHA-512 ($6$), e.g. from 'mkpasswd -m yescrypt'");
}

static void test_structure_errors(void **state)
{
	char want[512];

	expect_error("timezone: UTC\n",
		     "fleet.yaml:1: 'timezone' belongs under 'defaults' or a host entry");
	expect_error("version: 2\n",
		     "fleet.yaml:1: unknown key 'version' (expected image, defaults, hosts)");
	expect_error("defaults: [a]\n",
		     "fleet.yaml:1: defaults: expected a mapping of settings, not a list");
	expect_error(
	    "hosts: [a, b]\n",
	    "fleet.yaml:1: hosts: expected a mapping of host lists to settings, not a list");
	expect_error("hosts:\n  a: 5\n",
		     "fleet.yaml:2: a: expected a mapping of settings, not a single value");
	expect_error("defaults:\n  user: &u pi\nhosts:\n  a:\n    user: *u\n",
		     "fleet.yaml:5: user: YAML aliases are not supported");
	expect_error("defaults:\n  wifi: &w { ssid: x }\nhosts:\n  a:\n    wifi: *w\n",
		     "fleet.yaml:5: wifi: YAML aliases are not supported");
	expect_error("defaults:\n  <<: { user: pi }\n", "fleet.yaml:2: unknown key '<<'");
	expect_error(
	    "defaults:\n  gateway: 10.0.0.1\n  network:\n    gateway: 10.0.0.2\n",
	    "fleet.yaml:4: 'network.gateway' sets network.gateway again (already set at line 2)");
	expect_error("image: a\ndefaults:\n  image: b\n",
		     "fleet.yaml:3: 'image' sets image again (already set at line 1)");
	expect_error("hosts:\n  red[3-1]: {}\n", "fleet.yaml:2: hosts: 'red[3-1]': range 3-1 at "
						 "column 5: upper bound is below lower bound");
	expect_error("hosts:\n  red_1: {}\n",
		     "fleet.yaml:2: host 'red_1' is not a valid hostname; set 'hostname' for it");
	expect_error(
	    "defaults:\n  ssh: { authorized_keys: [missing.pub] }\n",
	    (snprintf(
		 want, sizeof(want),
		 "fleet.yaml:2: ssh.authorized_keys: '%s/missing.pub': No such file or directory",
		 fx->dir),
	     want));
	expect_error("defaults:\n  firstboot:\n    packages: [htop, Bad]\n",
		     "fleet.yaml:3: firstboot.packages: 'Bad' is not a Debian package name");
}

static void test_files_errors(void **state)
{
	char want[512];

	expect_error("defaults:\n  files: /etc/motd\n",
		     "fleet.yaml:2: files: expected a list, not a single value");
	expect_error(
	    "defaults:\n  files:\n    - /etc/motd\n",
	    "fleet.yaml:3: files: each entry must be a mapping with path and content or source");
	expect_error(
	    "defaults:\n  files:\n    - content: x\n",
	    "fleet.yaml:3: files: an entry needs a path and exactly one of content or source");
	expect_error(
	    "defaults:\n  files:\n    - { path: /a, content: x, source: key.pub }\n",
	    "fleet.yaml:3: files: an entry needs a path and exactly one of content or source");
	expect_error(
	    "defaults:\n  files:\n    - { path: etc/motd, content: x }\n",
	    "fleet.yaml:3: files.path: 'etc/motd' is not an absolute path without '.' or '..'");
	expect_error("defaults:\n  files:\n    - path: /a\n      content: x\n      mode: 0999\n",
		     "fleet.yaml:5: files.mode: '0999' is not an octal mode like 0644");
	expect_error("defaults:\n  files:\n    - { path: /a, content: x, owner: Root }\n",
		     "fleet.yaml:3: files.owner: 'Root' is not user or user:group");
	expect_error(
	    "defaults:\n  files:\n    - { path: /a, content: x, perms: 1 }\n",
	    "fleet.yaml:3: files: unknown key 'perms' (path, content, source, mode, owner)");
	snprintf(want, sizeof(want),
		 "fleet.yaml:3: files.source: '%s/nope': No such file or directory", fx->dir);
	expect_error("defaults:\n  files:\n    - { path: /a, source: nope }\n", want);

	struct fleet *fleet = load("defaults:\n  files:\n    - { path: /etc/k, source: key.pub, "
				   "mode: 600, owner: \"pi:pi\" }\n"
				   "hosts:\n  a:\n");
	struct herd_settings s;
	resolve(fleet, "a", NULL, NULL, &s);
	assert_int_equal(s.files.count, 1);
	assert_int_equal(s.files.items[0].mode, 0600);
	assert_string_equal(s.files.items[0].owner, "pi:pi");
	assert_null(s.files.items[0].content);
	assert_non_null(strstr(s.files.items[0].source, "/key.pub"));
	settings_free(&s);
	fleet_free(fleet);
}

static void test_pairing(void **state)
{
	struct fleet *fleet = load("hosts:\n"
				   "  red[01-04]:\n"
				   "    ipaddr: 10.1.1.[11-14]/16\n"
				   "    hostname: node-[a-d]\n"
				   "    gateway: 10.1.1.1\n" /* one value: every host */
				   "  blue[1-2]:\n"
				   "    ipaddr: \"10.2.0.1,10.2.0.9\"\n");
	struct herd_settings s;

	resolve(fleet, "red01", NULL, NULL, &s);
	assert_int_equal(s.ipaddr.address, 0x0a01010b);
	assert_int_equal(s.ipaddr.prefix, 16);
	assert_string_equal(s.hostname, "node-a");
	assert_int_equal(s.gateway.address, 0x0a010101);
	expect_source(&s, "ipaddr", "fleet.yaml:3");
	settings_free(&s);
	resolve(fleet, "red04", NULL, NULL, &s);
	assert_int_equal(s.ipaddr.address, 0x0a01010e);
	assert_string_equal(s.hostname, "node-d");
	assert_int_equal(s.gateway.address, 0x0a010101);
	settings_free(&s);
	resolve(fleet, "blue2", NULL, NULL, &s);
	assert_int_equal(s.ipaddr.address, 0x0a020009);
	assert_string_equal(s.hostname, "blue2");
	settings_free(&s);
	fleet_free(fleet);

	expect_error("hosts:\n  red[01-04]:\n    ipaddr: 10.1.1.[11-13]\n",
		     "fleet.yaml:3: ipaddr: '10.1.1.[11-13]' gives 3 values for 4 hosts");
	expect_error("hosts:\n  red[01-04]:\n    ipaddr: 10.1.1.[1-9]\n",
		     "fleet.yaml:3: ipaddr: '10.1.1.[1-9]' gives 9 values for 4 hosts");
	expect_error("hosts:\n  red1:\n    ipaddr: 10.1.1.[1-2]\n",
		     "fleet.yaml:3: ipaddr: '10.1.1.[1-2]' gives 2 values for 1 hosts");
	expect_error("defaults:\n  ipaddr: 10.1.1.[1-2]\n",
		     "fleet.yaml:2: ipaddr: '10.1.1.[1-2]' gives 2 values; values pair with hosts "
		     "only in a hosts entry");
	/* Each paired value is still validated, with the value's line. */
	expect_error("hosts:\n  r[1-2]:\n    ipaddr: 10.1.1.[255-256]\n",
		     "fleet.yaml:3: ipaddr: '10.1.1.256' is not an IPv4 address");
	/* Non-per-host keys are not expanded: brackets are text there. */
	fleet = load("hosts:\n  r[1-2]:\n    firstboot: { run: [ \"echo [1-2]\" ] }\n");
	resolve(fleet, "r2", NULL, NULL, &s);
	assert_string_equal(s.firstboot_run.items[0], "echo [1-2]");
	settings_free(&s);
	fleet_free(fleet);
}

static void test_null_reset(void **state)
{
	struct fleet *fleet = load("defaults:\n"
				   "  timezone: Europe/Berlin\n"
				   "  dns: [1.1.1.1]\n"
				   "  wifi: { ssid: lab, country: DE }\n"
				   "hosts:\n"
				   "  a:\n"
				   "    timezone: null\n"
				   "    network: ~\n"
				   "  b:\n"
				   "    wifi:\n"
				   "      ssid:\n");
	struct herd_settings s;
	struct herd_error err = {0};

	resolve(fleet, "a", NULL, NULL, &s);
	assert_null(s.timezone);
	assert_int_equal(s.dns.count, 0);
	expect_source(&s, "timezone", "fleet.yaml:7 (null)");
	expect_source(&s, "network.dns", "fleet.yaml:8 (null)");
	assert_string_equal(s.wifi_ssid, "lab");
	settings_free(&s);
	resolve(fleet, "b", NULL, NULL, &s);
	assert_null(s.wifi_ssid);
	assert_string_equal(s.wifi_country, "DE");
	settings_free(&s);
	fleet_free(fleet);
	/* A quoted "null" is text, and not a timezone. */
	const char *quoted = "hosts:\n  c:\n    timezone: \"null\"\n";
	assert_int_equal(fleet_load_memory("fleet.yaml", fx->dir, quoted, strlen(quoted), fx->envp,
					   &fleet, &err),
			 -EINVAL);
	assert_non_null(
	    strstr(err.message, "fleet.yaml:3: timezone: 'null' is not a timezone in "));
}

static void test_duplicate_hosts(void **state)
{
	expect_error("hosts:\n  red[01-03]: {}\n  red02: {}\n",
		     "fleet.yaml:3: host 'red02' is already defined at line 2");
	expect_error("hosts:\n  a,b: {}\n  c,a: {}\n",
		     "fleet.yaml:3: host 'a' is already defined at line 2");
	expect_error("hosts:\n  a: {}\n  a: {}\n", "fleet.yaml:3: duplicate key");
}

/* One test per precedence level: each layer beats the one below. */
static const char layered[] = "defaults:\n"
			      "  timezone: Europe/Berlin\n"
			      "  locale: en_GB.UTF-8\n"
			      "hosts:\n"
			      "  a:\n"
			      "    locale: de_DE.UTF-8\n"
			      "  b: {}\n";

static void test_precedence_defaults(void **state)
{
	struct fleet *fleet = load(layered);
	struct herd_settings s;

	resolve(fleet, "b", NULL, NULL, &s);
	assert_string_equal(s.locale, "en_GB.UTF-8");
	expect_source(&s, "locale", "fleet.yaml:3");
	settings_free(&s);
	fleet_free(fleet);
}

static void test_precedence_host(void **state)
{
	struct fleet *fleet = load(layered);
	struct herd_settings s;

	resolve(fleet, "a", NULL, NULL, &s);
	assert_string_equal(s.locale, "de_DE.UTF-8");
	expect_source(&s, "locale", "fleet.yaml:6");
	assert_string_equal(s.timezone, "Europe/Berlin");
	settings_free(&s);
	fleet_free(fleet);
}

static void test_precedence_env(void **state)
{
	struct fleet *fleet = load(layered);
	char *envp[] = {fx->home_env, fx->zone_env, "HERD_LOCALE=fr_FR.UTF-8", NULL};
	char *bad[] = {fx->zone_env, "HERD_LOCALE=french", NULL};
	struct herd_settings s;
	struct herd_error err = {0};

	resolve(fleet, "a", NULL, envp, &s);
	assert_string_equal(s.locale, "fr_FR.UTF-8");
	expect_source(&s, "locale", "env HERD_LOCALE");
	settings_free(&s);
	assert_int_equal(fleet_resolve_host(fleet, "a", NULL, bad, &s, &err), -EINVAL);
	assert_string_equal(err.message, "HERD_LOCALE: 'french' is not a locale like en_GB.UTF-8 "
					 "(ll_CC[.charset][@modifier])");
	fleet_free(fleet);
}

static void test_precedence_flag(void **state)
{
	struct fleet *fleet = load(layered);
	char *envp[] = {fx->zone_env, "HERD_LOCALE=fr_FR.UTF-8", NULL};
	const struct settings_origin flag = {.source = SETTINGS_SOURCE_FLAG};
	const struct settings_context ctx = {0};
	struct herd_settings over, s;
	struct herd_error err = {0};

	settings_init(&over);
	assert_int_equal(settings_set_text(&over, settings_key_find("locale"), "nl_NL.UTF-8", false,
					   &ctx, &flag, &err),
			 0);
	resolve(fleet, "a", &over, envp, &s);
	assert_string_equal(s.locale, "nl_NL.UTF-8");
	expect_source(&s, "locale", "flag --locale");
	assert_string_equal(s.timezone, "Europe/Berlin"); /* untouched layers stay */
	expect_source(&s, "timezone", "fleet.yaml:2");
	settings_free(&s);
	settings_free(&over);
	fleet_free(fleet);
}

static void test_resolve_edges(void **state)
{
	struct fleet *fleet = load(layered);
	char *envp[] = {"HERD_HOSTNAME=solo", NULL};
	struct herd_settings s;
	struct herd_error err = {0};

	s.hostname = (char *)"untouched";
	assert_int_equal(fleet_resolve_host(fleet, "zzz", NULL, fx->envp, &s, &err), -ENOENT);
	assert_string_equal(err.message, "host 'zzz' is not in fleet.yaml");
	assert_string_equal(s.hostname, "untouched");
	fleet_free(fleet);

	/* No fleet: environment and flags alone. */
	assert_int_equal(fleet_resolve_host(NULL, NULL, NULL, envp, &s, &err), 0);
	assert_string_equal(s.hostname, "solo");
	expect_source(&s, "hostname", "env HERD_HOSTNAME");
	settings_free(&s);

	/* Dotted keys, an explicit hostname, an empty hosts entry. */
	fleet = load("hosts:\n  a:\n    ssh.enabled: true\n    hostname: alpha\n  b:\n");
	resolve(fleet, "a", NULL, NULL, &s);
	assert_true(s.ssh_enabled);
	assert_string_equal(s.hostname, "alpha");
	settings_free(&s);
	resolve(fleet, "b", NULL, NULL, &s);
	assert_string_equal(s.hostname, "b");
	settings_free(&s);
	fleet_free(fleet);

	/* No hosts at all is a valid (if useless) file. */
	fleet = load("defaults: { user: pi }\n");
	assert_int_equal(fleet_hosts(fleet)->count, 0);
	fleet_free(fleet);
}

static void test_load_path(void **state)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	struct herd_settings s;
	char path[256], want[512];

	write_in("site.yaml", "defaults:\n  ssh: { authorized_keys: [key.pub] }\nhosts:\n  a:\n");
	snprintf(path, sizeof(path), "%s/site.yaml", fx->dir);
	assert_int_equal(fleet_load(path, fx->envp, &fleet, &err), 0);
	resolve(fleet, "a", NULL, NULL, &s);
	snprintf(want, sizeof(want), "%s/key.pub", fx->dir);
	assert_string_equal(s.ssh_authorized_keys.items[0], want);
	snprintf(want, sizeof(want), "%s:2", path);
	expect_source(&s, "ssh.authorized_keys", want);
	settings_free(&s);
	fleet_free(fleet);
	fleet = NULL;

	write_in("bad.yaml", "defaults:\n  keymap: DE\n");
	snprintf(path, sizeof(path), "%s/bad.yaml", fx->dir);
	assert_int_equal(fleet_load(path, fx->envp, &fleet, &err), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: keymap: 'DE' is not a keymap like 'de' or 'de(nodeadkeys)'", path);
	assert_string_equal(err.message, want);

	snprintf(path, sizeof(path), "%s/none.yaml", fx->dir);
	assert_int_equal(fleet_load(path, fx->envp, &fleet, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err.message, want);
	assert_int_equal(fleet_load(fx->dir, fx->envp, &fleet, &err), -EINVAL);
	assert_null(fleet);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_key_errors),
	    cmocka_unit_test(test_timezone_message),
	    cmocka_unit_test(test_secrets_refused),
	    cmocka_unit_test(test_structure_errors),
	    cmocka_unit_test(test_files_errors),
	    cmocka_unit_test(test_pairing),
	    cmocka_unit_test(test_null_reset),
	    cmocka_unit_test(test_duplicate_hosts),
	    cmocka_unit_test(test_precedence_defaults),
	    cmocka_unit_test(test_precedence_host),
	    cmocka_unit_test(test_precedence_env),
	    cmocka_unit_test(test_precedence_flag),
	    cmocka_unit_test(test_resolve_edges),
	    cmocka_unit_test(test_load_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
