/*
 * settings.c — the key registry and the operations every setting shares:
 * parse a text value, clear, copy, merge layers, read the environment,
 * format for display.
 *
 * The registry below is the single list of host settings.  Everything
 * else is generic over `enum settings_type`, so a new setting is one
 * field in struct herd_settings plus one entry here (and, if its values
 * need a new check, one validator in validate.c).
 *
 * Decisions recorded here:
 *  - network.gateway / network.dns are the canonical names (the fleet file
 *    groups them under `network:`); `gateway` and `dns` are aliases, in the
 *    file and as HERD_GATEWAY / HERD_DNS.  The flags are --gateway, --dns.
 *  - wifi.psk is a clear-text secret: accepted from --wifipassword and
 *    HERD_WIFI_PSK only; the fleet file names a file with wifi.psk_file.
 *  - `password` is the --passwd flag only (SETTINGS_PROMPT): the CLI reads
 *    the clear text from the terminal (or stdin with --passwd-stdin),
 *    hashes it (config/password.h) and sets password_hash; in the file
 *    and the environment it is refused with a pointer to password_hash.
 *  - List values from flags and the environment are split on ',' (on
 *    newlines for firstboot.run, config.set and wireguard.peers, whose
 *    values contain commas; on blanks for cmdline and dtoverlay words).
 */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "validate.h"

#define FIELD(f) offsetof(struct herd_settings, f)

/* firstboot.backend: how settings reach the image (recipe/firstboot.h). */
static int validate_firstboot_backend_value(const char *value, const struct settings_context *ctx,
					    char **ret, struct herd_error *err)
{
	if (strcmp(value, "cloud-init") != 0 && strcmp(value, "firstrun") != 0 &&
	    strcmp(value, "off") != 0)
		return herd_error_set(err, EINVAL, "'%s' is not cloud-init, firstrun or off",
				      value);
	*ret = strdup(value);
	return *ret ? 0 : herd_error_set(err, ENOMEM, "out of memory");
}

static const struct settings_key registry[] = {
    {.name = "image",
     .flag = NULL,
     .metavar = "IMAGE",
     .type = SETTINGS_STRING,
     .offset = FIELD(image),
     .validate = validate_text_value,
     .help = "OS image: store name, path or URL"},
    {.name = "hostname",
     .flag = "hostname",
     .metavar = "NAME",
     .type = SETTINGS_STRING,
     .flags = SETTINGS_KEY_PER_HOST,
     .offset = FIELD(hostname),
     .validate = validate_hostname_value,
     .help = "host name (default: the host's name)"},
    {.name = "ipaddr",
     .flag = "ipaddr",
     .metavar = "ADDR[/N]",
     .type = SETTINGS_IPV4_CIDR,
     .flags = SETTINGS_KEY_PER_HOST,
     .offset = FIELD(ipaddr),
     .help = "static IPv4 address, prefix /24 unless given"},
    {.name = "network.gateway",
     .alias = "gateway",
     .flag = "gateway",
     .metavar = "ADDR",
     .type = SETTINGS_IPV4_ADDR,
     .flags = SETTINGS_KEY_PER_HOST,
     .offset = FIELD(gateway),
     .help = "default IPv4 gateway"},
    {.name = "network.dns",
     .alias = "dns",
     .flag = "dns",
     .metavar = "ADDR[,ADDR...]",
     .type = SETTINGS_LIST,
     .offset = FIELD(dns),
     .validate = validate_ipv4_addr_value,
     .help = "DNS servers (repeatable)"},
    {.name = "user",
     .flag = "user",
     .metavar = "NAME",
     .type = SETTINGS_STRING,
     .offset = FIELD(user),
     .validate = validate_username_value,
     .help = "login user to create or rename"},
    {.name = "password_hash",
     .flag = "password-hash",
     .metavar = "HASH",
     .type = SETTINGS_STRING,
     .flags = SETTINGS_KEY_SECRET,
     .offset = FIELD(password_hash),
     .validate = validate_crypt_hash_value,
     .help = "the user's password as a crypt hash ($y$ or $6$)"},
    {.name = "password",
     .flag = "passwd",
     .type = SETTINGS_PROMPT,
     .flags = SETTINGS_KEY_NO_ENV | SETTINGS_KEY_NO_FILE | SETTINGS_KEY_SECRET,
     .offset = FIELD(password_input),
     .help = "prompt for the password (twice, no echo) and store its hash",
     .hint = "clear-text passwords are not accepted; use password_hash (e.g. from "
	     "'mkpasswd -m yescrypt'), or --passwd to be prompted"},
    {.name = "ssh.enabled",
     .flag = "ssh",
     .negated_flag = "no-ssh",
     .type = SETTINGS_BOOL,
     .offset = FIELD(ssh_enabled),
     .help = "enable (or disable) the SSH server"},
    {.name = "ssh.authorized_keys",
     .flag = "sshkey",
     .metavar = "FILE",
     .type = SETTINGS_LIST,
     .offset = FIELD(ssh_authorized_keys),
     .validate = validate_file_ref_value,
     .help = "public key file to authorize (repeatable)"},
    {.name = "ssh.password_auth",
     .type = SETTINGS_BOOL,
     .offset = FIELD(ssh_password_auth),
     .help = "allow SSH password logins"},
    {.name = "wifi.ssid",
     .flag = "ssid",
     .metavar = "SSID",
     .type = SETTINGS_STRING,
     .offset = FIELD(wifi_ssid),
     .validate = validate_ssid_value,
     .help = "Wi-Fi network name"},
    {.name = "wifi.psk_file",
     .metavar = "FILE",
     .type = SETTINGS_STRING,
     .offset = FIELD(wifi_psk_file),
     .validate = validate_file_ref_value,
     .help = "file holding the Wi-Fi passphrase"},
    {.name = "wifi.psk",
     .flag = "wifipassword",
     .metavar = "PASSPHRASE",
     .type = SETTINGS_STRING,
     .flags = SETTINGS_KEY_SECRET | SETTINGS_KEY_NO_FILE,
     .offset = FIELD(wifi_psk),
     .validate = validate_psk_value,
     .help = "Wi-Fi passphrase (not in files: use wifi.psk_file there)",
     .hint = "clear-text secrets are not allowed in the fleet file; use wifi.psk_file"},
    {.name = "wifi.country",
     .flag = "wifi-country",
     .metavar = "CC",
     .type = SETTINGS_STRING,
     .offset = FIELD(wifi_country),
     .validate = validate_country_value,
     .help = "Wi-Fi regulatory country (ISO 3166-1, e.g. DE)"},
    {.name = "wifi.hidden",
     .type = SETTINGS_BOOL,
     .offset = FIELD(wifi_hidden),
     .help = "the Wi-Fi network does not broadcast its SSID"},
    {.name = "timezone",
     .flag = "timezone",
     .metavar = "ZONE",
     .type = SETTINGS_STRING,
     .offset = FIELD(timezone),
     .validate = validate_timezone_value,
     .help = "timezone, e.g. Europe/Berlin"},
    {.name = "locale",
     .flag = "locale",
     .metavar = "LOCALE",
     .type = SETTINGS_STRING,
     .offset = FIELD(locale),
     .validate = validate_locale_value,
     .help = "locale, e.g. en_GB.UTF-8"},
    {.name = "keymap",
     .flag = "keymap",
     .metavar = "LAYOUT",
     .type = SETTINGS_STRING,
     .offset = FIELD(keymap),
     .validate = validate_keymap_value,
     .help = "keyboard layout, e.g. de or de(nodeadkeys)"},
    {.name = "firstboot.packages",
     .type = SETTINGS_LIST,
     .offset = FIELD(firstboot_packages),
     .validate = validate_package_value,
     .help = "packages to install on first boot"},
    {.name = "firstboot.run",
     .type = SETTINGS_LIST,
     .offset = FIELD(firstboot_run),
     .validate = validate_text_value,
     .separator = '\n',
     .help = "shell commands to run on first boot"},
    {.name = "firstboot.backend",
     .flag = "firstboot",
     .metavar = "cloud-init|firstrun|off",
     .type = SETTINGS_STRING,
     .offset = FIELD(firstboot_backend),
     .validate = validate_firstboot_backend_value,
     .help = "off: edit the root filesystem (default); cloud-init or firstrun: seed the "
	     "boot partition"},
    {.name = "files",
     .type = SETTINGS_FILES,
     .flags = SETTINGS_KEY_NO_ENV,
     .offset = FIELD(files),
     .help = "files to write: {path, content|source, mode, owner}"},
    {.name = "systemd.enable",
     .flag = "enable",
     .metavar = "UNIT",
     .type = SETTINGS_LIST,
     .offset = FIELD(systemd_enable),
     .validate = validate_unit_value,
     .help = "systemd unit to enable, as systemctl enable (repeatable)"},
    {.name = "systemd.disable",
     .flag = "disable",
     .metavar = "UNIT",
     .type = SETTINGS_LIST,
     .offset = FIELD(systemd_disable),
     .validate = validate_unit_value,
     .help = "systemd unit to disable (repeatable)"},
    {.name = "systemd.mask",
     .flag = "mask",
     .metavar = "UNIT",
     .type = SETTINGS_LIST,
     .offset = FIELD(systemd_mask),
     .validate = validate_unit_value,
     .help = "systemd unit to mask (link to /dev/null; repeatable)"},
    {.name = "config.set",
     .flag = "config-txt",
     .metavar = "KEY=VALUE",
     .type = SETTINGS_LIST,
     .offset = FIELD(config_set),
     .validate = validate_config_set_value,
     .separator = '\n',
     .help = "set KEY in config.txt's [all] section (repeatable)"},
    {.name = "config.remove",
     .flag = "config-txt-remove",
     .metavar = "KEY",
     .type = SETTINGS_LIST,
     .offset = FIELD(config_remove),
     .validate = validate_config_key_value,
     .help = "remove KEY from config.txt's [all] section (repeatable)"},
    {.name = "config.dtoverlay",
     .flag = "dtoverlay",
     .metavar = "NAME[,PARAMS]",
     .type = SETTINGS_LIST,
     .offset = FIELD(config_dtoverlay),
     .validate = validate_dtoverlay_value,
     .separator = ' ',
     .help = "add dtoverlay=NAME[,PARAMS] to config.txt once (repeatable)"},
    {.name = "cmdline.set",
     .flag = "cmdline",
     .metavar = "KEY[=VALUE]",
     .type = SETTINGS_LIST,
     .offset = FIELD(cmdline_set),
     .validate = validate_cmdline_word_value,
     .separator = ' ',
     .help = "set a kernel parameter in cmdline.txt (repeatable)"},
    {.name = "cmdline.remove",
     .flag = "cmdline-remove",
     .metavar = "KEY",
     .type = SETTINGS_LIST,
     .offset = FIELD(cmdline_remove),
     .validate = validate_cmdline_key_value,
     .separator = ' ',
     .help = "remove a kernel parameter from cmdline.txt (repeatable)"},
    {.name = "wireguard.address",
     .flag = "wg-address",
     .metavar = "ADDR/N",
     .type = SETTINGS_STRING,
     .offset = FIELD(wireguard_address),
     .validate = validate_cidr_value,
     .help = "WireGuard interface wg0's address (IPv4 or IPv6 CIDR)"},
    {.name = "wireguard.private_key_file",
     .flag = "wg-private-key-file",
     .metavar = "FILE",
     .type = SETTINGS_STRING,
     .offset = FIELD(wireguard_private_key_file),
     .validate = validate_file_ref_value,
     .help = "WireGuard private key (default: keep the image's, else generate)"},
    {.name = "wireguard.listen_port",
     .flag = "wg-listen-port",
     .metavar = "PORT",
     .type = SETTINGS_STRING,
     .offset = FIELD(wireguard_listen_port),
     .validate = validate_port_number_value,
     .help = "WireGuard UDP listen port"},
    {.name = "wireguard.peers",
     .flag = "wg-peer",
     .metavar = "SPEC",
     .type = SETTINGS_LIST,
     .offset = FIELD(wireguard_peers),
     .validate = validate_wg_peer_value,
     .separator = '\n',
     .help = "peer 'public_key=K allowed_ips=A[,A] [endpoint=H:P] [persistent_keepalive=N]'"},
    {.name = "firewall.allow",
     .flag = "allow",
     .metavar = "PORT[-PORT][/PROTO]",
     .type = SETTINGS_LIST,
     .offset = FIELD(firewall_allow),
     .validate = validate_port_spec_value,
     .help = "nftables: allow inbound port(s), tcp+udp unless /tcp or /udp (repeatable)"},
};

_Static_assert(ELEMENTSOF(registry) <= SETTINGS_MAX_KEYS, "raise SETTINGS_MAX_KEYS");

const struct settings_key *settings_keys(size_t *ret_count)
{
	*ret_count = ELEMENTSOF(registry);
	return registry;
}

const struct settings_key *settings_key_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(registry); i++)
		if (strcmp(registry[i].name, name) == 0 ||
		    (registry[i].alias && strcmp(registry[i].alias, name) == 0))
			return &registry[i];
	return NULL;
}

size_t settings_key_index(const struct settings_key *key)
{
	return (size_t)(key - registry);
}

bool settings_is_section(const char *prefix)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < ELEMENTSOF(registry); i++)
		if (strncmp(registry[i].name, prefix, n) == 0 && registry[i].name[n] == '.')
			return true;
	return false;
}

int settings_key_env_name(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n + 6 > len)
		return -ENAMETOOLONG;
	memcpy(buf, "HERD_", 5);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf[5 + i] = c;
	}
	buf[5 + n] = '\0';
	return 0;
}

/* Optimal string alignment distance, capped: we only care about <= 2. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][65];

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = MIN(prev[j] + 1, cur[j - 1] + 1);
			v = MIN(v, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				v = MIN(v, prev2[j - 2] + 1);
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

const char *settings_key_suggest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
		size_t dist = edit_distance(name, registry[i].name);
		if (dist < best_d) {
			best_d = dist;
			best = registry[i].name;
		}
	}
	return best;
}

static const char *env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	if (!envp)
		return NULL;
	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

void settings_context_init(struct settings_context *ctx, char *const *envp, const char *base_dir)
{
	ctx->base_dir = base_dir;
	ctx->home = env_lookup(envp, "HOME");
	ctx->zoneinfo_dir = env_lookup(envp, "HERD_ZONEINFO_DIR");
}

/* ---- typed field access --------------------------------------------------- */

static void *field(struct herd_settings *s, const struct settings_key *key)
{
	return (char *)s + key->offset;
}

static const void *field_const(const struct herd_settings *s, const struct settings_key *key)
{
	return (const char *)s + key->offset;
}

void settings_file_list_free(struct herd_file_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].path);
		free(list->items[i].content);
		free(list->items[i].source);
		free(list->items[i].owner);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* Reset a key's field to its zero value. */
static void field_free(struct herd_settings *s, const struct settings_key *key)
{
	void *f = field(s, key);

	switch (key->type) {
	case SETTINGS_STRING:
	case SETTINGS_PROMPT: {
		char **p = f;
		free(*p);
		*p = NULL;
		break;
	}
	case SETTINGS_BOOL:
		*(bool *)f = false;
		break;
	case SETTINGS_LIST:
		strv_free(f);
		break;
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR:
		memset(f, 0, sizeof(struct herd_ipv4));
		break;
	case SETTINGS_FILES:
		settings_file_list_free(f);
		break;
	case SETTINGS_RESERVED:
		break;
	}
}

static int file_list_copy(const struct herd_file_list *src, struct herd_file_list *ret)
{
	struct herd_file_list out = {0};

	if (src->count == 0) {
		*ret = out;
		return 0;
	}
	out.items = calloc(src->count, sizeof(*out.items));
	if (!out.items)
		return -ENOMEM;
	for (size_t i = 0; i < src->count; i++) {
		const struct herd_file_spec *a = &src->items[i];
		struct herd_file_spec *b = &out.items[i];
		out.count++;
		b->mode = a->mode;
		b->has_mode = a->has_mode;
		if ((a->path && !(b->path = strdup(a->path))) ||
		    (a->content && !(b->content = strdup(a->content))) ||
		    (a->source && !(b->source = strdup(a->source))) ||
		    (a->owner && !(b->owner = strdup(a->owner)))) {
			settings_file_list_free(&out);
			return -ENOMEM;
		}
	}
	*ret = out;
	return 0;
}

/* Copy one key's value from src into dst (dst's old value freed first). */
static int field_copy(struct herd_settings *dst, const struct herd_settings *src,
		      const struct settings_key *key)
{
	const void *from = field_const(src, key);
	void *to = field(dst, key);

	field_free(dst, key);
	switch (key->type) {
	case SETTINGS_STRING:
	case SETTINGS_PROMPT: {
		const char *v = *(char *const *)from;
		if (v && !(*(char **)to = strdup(v)))
			return -ENOMEM;
		return 0;
	}
	case SETTINGS_BOOL:
		*(bool *)to = *(const bool *)from;
		return 0;
	case SETTINGS_LIST:
		return strv_copy(from, to);
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR:
		memcpy(to, from, sizeof(struct herd_ipv4));
		return 0;
	case SETTINGS_FILES:
		return file_list_copy(from, to);
	case SETTINGS_RESERVED:
		return 0;
	}
	return 0;
}

void settings_init(struct herd_settings *s)
{
	memset(s, 0, sizeof(*s));
}

void settings_free(struct herd_settings *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ELEMENTSOF(registry); i++)
		field_free(s, &registry[i]);
	free(s->origin_file);
	settings_init(s);
}

int settings_copy(const struct herd_settings *src, struct herd_settings *ret)
{
	struct herd_settings out;

	settings_init(&out);
	for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
		if (field_copy(&out, src, &registry[i]) < 0) {
			settings_free(&out);
			return -ENOMEM;
		}
		out.origin[i] = src->origin[i];
	}
	if (src->origin_file && !(out.origin_file = strdup(src->origin_file))) {
		settings_free(&out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

bool settings_is_set(const struct herd_settings *s, const struct settings_key *key)
{
	const struct settings_origin *o = &s->origin[settings_key_index(key)];

	return o->source != SETTINGS_SOURCE_NONE && !o->cleared;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "on",	"1",  "True",
					  "TRUE", "Yes", "YES", "On", "ON"};
	static const char *const no[] = {"false", "no", "off", "0",   "False",
					 "FALSE", "No", "NO",  "Off", "OFF"};

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Validate every item of `value` (split on the key's separator) into *out. */
static int list_parse(const struct settings_key *key, const char *value,
		      const struct settings_context *ctx, struct strv *out, struct herd_error *err)
{
	char sep = key->separator ? key->separator : ',';
	const char *p = value;

	for (;;) {
		const char *end = strchr(p, sep);
		size_t n = end ? (size_t)(end - p) : strlen(p);
		_cleanup_free_ char *item = strndup(p, n);
		char *norm = NULL;
		int r;

		if (!item)
			return herd_error_set(err, ENOMEM, "out of memory");
		/* Tolerate "a, b": spaces around items carry no meaning in
		 * any list we have except commands, which split on newlines. */
		if (sep == ',') {
			char *s = item;
			size_t len;
			while (*s == ' ')
				s++;
			len = strlen(s);
			while (len && s[len - 1] == ' ')
				s[--len] = '\0';
			memmove(item, s, len + 1);
		}
		/* Blank-separated lists (cmdline words) take any run of blanks. */
		if (item[0] == '\0' && sep == ' ') {
			if (!end)
				return 0;
			p = end + 1;
			continue;
		}
		if (item[0] == '\0')
			return herd_error_set(err, EINVAL, "%s: empty item in '%s'", key->name,
					      value);
		r = key->validate ? key->validate(item, ctx, &norm, err)
				  : validate_text_value(item, ctx, &norm, err);
		if (r < 0)
			return herd_error_prefix(err, r, "%s", key->name);
		if (strv_push_take(out, norm) < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
		if (!end)
			return 0;
		p = end + 1;
	}
}

int settings_set_text(struct herd_settings *s, const struct settings_key *key, const char *value,
		      bool append, const struct settings_context *ctx,
		      const struct settings_origin *origin, struct herd_error *err)
{
	size_t idx = settings_key_index(key);
	void *f = field(s, key);
	int r;

	switch (key->type) {
	case SETTINGS_RESERVED:
		return herd_error_set(err, EINVAL, "%s: %s", key->name, key->hint);
	case SETTINGS_PROMPT:
		if (strcmp(value, "tty") != 0 && strcmp(value, "stdin") != 0)
			return herd_error_set(err, EINVAL, "%s: %s", key->name, key->hint);
		free(*(char **)f);
		if (!(*(char **)f = strdup(value)))
			return herd_error_set(err, ENOMEM, "out of memory");
		break;
	case SETTINGS_FILES:
		return herd_error_set(err, EINVAL, "%s: can only be set in the fleet file",
				      key->name);
	case SETTINGS_BOOL: {
		bool b;
		if (parse_bool(value, &b) < 0)
			return herd_error_set(err, EINVAL, "%s: '%s' is not true or false",
					      key->name, value);
		*(bool *)f = b;
		break;
	}
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR: {
		struct herd_ipv4 ip;
		bool cidr = key->type == SETTINGS_IPV4_CIDR;
		if (validate_ipv4(value, cidr, cidr ? 24 : 32, &ip) < 0)
			return herd_error_set(err, EINVAL, "%s: '%s' is not an IPv4 address",
					      key->name, value);
		*(struct herd_ipv4 *)f = ip;
		break;
	}
	case SETTINGS_STRING: {
		char *norm = NULL;
		r = key->validate ? key->validate(value, ctx, &norm, err)
				  : validate_text_value(value, ctx, &norm, err);
		if (r < 0)
			return herd_error_prefix(err, r, "%s", key->name);
		free(*(char **)f);
		*(char **)f = norm;
		break;
	}
	case SETTINGS_LIST: {
		struct strv items = STRV_INIT;
		struct strv *list = f;
		/* Appending continues a list only from the same source (repeated
		 * --sshkey); a list from a lower layer is replaced, not extended. */
		bool keep_old =
		    append && s->origin[idx].source == origin->source && !s->origin[idx].cleared;
		r = list_parse(key, value, ctx, &items, err);
		if (r < 0) {
			strv_free(&items);
			return r;
		}
		if (!keep_old) {
			strv_free(list);
			*list = items;
		} else {
			for (size_t i = 0; i < items.count; i++) {
				if (strv_push_take(list, items.items[i]) < 0) {
					items.items[i] = NULL;
					for (size_t j = i + 1; j < items.count; j++)
						free(items.items[j]);
					free(items.items);
					return herd_error_set(err, ENOMEM, "out of memory");
				}
			}
			free(items.items);
		}
		break;
	}
	}
	s->origin[idx] = *origin;
	s->origin[idx].cleared = false;
	return 0;
}

int settings_set_list(struct herd_settings *s, const struct settings_key *key,
		      const struct strv *items, const struct settings_context *ctx,
		      const struct settings_origin *origin, struct herd_error *err)
{
	size_t idx = settings_key_index(key);
	struct strv out = STRV_INIT;

	if (key->type != SETTINGS_LIST)
		return herd_error_set(err, EINVAL, "%s: expected a single value, not a list",
				      key->name);
	for (size_t i = 0; i < items->count; i++) {
		char *norm = NULL;
		int r = key->validate ? key->validate(items->items[i], ctx, &norm, err)
				      : validate_text_value(items->items[i], ctx, &norm, err);
		if (r < 0) {
			strv_free(&out);
			return herd_error_prefix(err, r, "%s", key->name);
		}
		if (strv_push_take(&out, norm) < 0) {
			strv_free(&out);
			return herd_error_set(err, ENOMEM, "out of memory");
		}
	}
	strv_free(field(s, key));
	*(struct strv *)field(s, key) = out;
	s->origin[idx] = *origin;
	s->origin[idx].cleared = false;
	return 0;
}

void settings_clear(struct herd_settings *s, const struct settings_key *key,
		    const struct settings_origin *origin)
{
	size_t idx = settings_key_index(key);

	field_free(s, key);
	s->origin[idx] = *origin;
	s->origin[idx].cleared = true;
}

void settings_take_files(struct herd_settings *s, const struct settings_key *key,
			 struct herd_file_list *list, const struct settings_origin *origin)
{
	size_t idx = settings_key_index(key);
	struct herd_file_list *f = field(s, key);

	settings_file_list_free(f);
	*f = *list;
	list->items = NULL;
	list->count = 0;
	s->origin[idx] = *origin;
	s->origin[idx].cleared = false;
}

int settings_merge(struct herd_settings *s, const struct herd_settings *upper)
{
	for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
		if (upper->origin[i].source == SETTINGS_SOURCE_NONE)
			continue;
		if (field_copy(s, upper, &registry[i]) < 0)
			return -ENOMEM;
		s->origin[i] = upper->origin[i];
	}
	if (upper->origin_file && !s->origin_file && !(s->origin_file = strdup(upper->origin_file)))
		return -ENOMEM;
	return 0;
}

int settings_apply_env(struct herd_settings *s, char *const *envp,
		       const struct settings_context *ctx, struct herd_error *err)
{
	for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
		const struct settings_key *key = &registry[i];
		char name[96], alias[96] = "";
		const char *v, *va = NULL;
		int r;

		if (key->flags & SETTINGS_KEY_NO_ENV)
			continue;
		if (settings_key_env_name(key->name, name, sizeof(name)) < 0)
			continue;
		v = env_lookup(envp, name);
		if (key->alias && settings_key_env_name(key->alias, alias, sizeof(alias)) == 0)
			va = env_lookup(envp, alias);
		if (v && va && strcmp(v, va) != 0)
			return herd_error_set(err, EINVAL,
					      "%s and %s are both set, to different values", name,
					      alias);
		if (!v)
			v = va;
		else
			va = NULL; /* same value under both names: report the canonical one */
		if (!v)
			continue;
		const struct settings_origin env = {.source = SETTINGS_SOURCE_ENV,
						    .via_alias = v == va};
		r = settings_set_text(s, key, v, false, ctx, &env, err);
		if (r < 0)
			return settings_error_rename(err, r, key, v == va ? alias : name, "");
	}
	return 0;
}

int settings_error_rename(struct herd_error *err, int code, const struct settings_key *key,
			  const char *name, const char *prefix)
{
	char msg[HERD_ERROR_MAX + 256];
	size_t n = strlen(key->name);

	if (code < 0)
		code = -code;
	if (!err)
		return -code;
	if (strncmp(err->message, key->name, n) == 0 && err->message[n] == ':')
		snprintf(msg, sizeof(msg), "%.8s%.100s%s", prefix, name, err->message + n);
	else
		snprintf(msg, sizeof(msg), "%.8s%.100s: %s", prefix, name, err->message);
	return herd_error_set(err, code, "%s", msg);
}

void settings_format_ipv4(const struct herd_ipv4 *ip, bool with_prefix, char *buf, size_t len)
{
	uint32_t a = ip->address;

	if (with_prefix)
		snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
			 a & 255, ip->prefix);
	else
		snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
			 a & 255);
}

static char *join_list(const struct strv *v, const char *sep)
{
	size_t len = 1, pos = 0;
	char *out;

	for (size_t i = 0; i < v->count; i++)
		len += strlen(v->items[i]) + strlen(sep);
	out = malloc(len);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < v->count; i++) {
		size_t n = strlen(v->items[i]);
		if (i) {
			memcpy(out + pos, sep, strlen(sep));
			pos += strlen(sep);
		}
		memcpy(out + pos, v->items[i], n);
		pos += n;
	}
	out[pos] = '\0';
	return out;
}

char *settings_format_value(const struct herd_settings *s, const struct settings_key *key)
{
	const void *f = field_const(s, key);
	char buf[64];

	if (!settings_is_set(s, key))
		return NULL;
	if (key->flags & SETTINGS_KEY_SECRET)
		return strdup("(secret)");
	switch (key->type) {
	case SETTINGS_STRING:
	case SETTINGS_PROMPT:
		return strdup(*(char *const *)f);
	case SETTINGS_BOOL:
		return strdup(*(const bool *)f ? "true" : "false");
	case SETTINGS_LIST:
		return join_list(f, ", ");
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR:
		settings_format_ipv4(f, key->type == SETTINGS_IPV4_CIDR, buf, sizeof(buf));
		return strdup(buf);
	case SETTINGS_FILES: {
		const struct herd_file_list *l = f;
		struct strv paths = STRV_INIT;
		char *out;
		for (size_t i = 0; i < l->count; i++)
			if (strv_push(&paths, l->items[i].path) < 0) {
				strv_free(&paths);
				return NULL;
			}
		out = paths.count ? join_list(&paths, ", ") : strdup("(none)");
		strv_free(&paths);
		return out;
	}
	case SETTINGS_RESERVED:
		return NULL;
	}
	return NULL;
}

void settings_format_source(const struct herd_settings *s, const struct settings_key *key,
			    char *buf, size_t len)
{
	const struct settings_origin *o = &s->origin[settings_key_index(key)];
	char env[96];

	switch (o->source) {
	case SETTINGS_SOURCE_NONE:
		snprintf(buf, len, "-");
		break;
	case SETTINGS_SOURCE_FILE:
		snprintf(buf, len, "%s:%u%s", s->origin_file ? s->origin_file : "(fleet)", o->line,
			 o->cleared ? " (null)" : "");
		break;
	case SETTINGS_SOURCE_ENV:
		if (settings_key_env_name(o->via_alias && key->alias ? key->alias : key->name, env,
					  sizeof(env)) < 0)
			env[0] = '\0';
		snprintf(buf, len, "env %s", env);
		break;
	case SETTINGS_SOURCE_FLAG:
		/* A bool flag that left false can only be the negated one. */
		if (key->type == SETTINGS_BOOL && key->negated_flag &&
		    !*(const bool *)field_const(s, key))
			snprintf(buf, len, "flag --%s", key->negated_flag);
		else
			snprintf(buf, len, "flag --%s", key->flag ? key->flag : key->name);
		break;
	}
}
