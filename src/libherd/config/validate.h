/*
 * validate.h — checks for the values of host settings.
 *
 * Each check answers "is this text an acceptable X?" and, where the value
 * has a normal form (a resolved path), produces it.  Messages are
 * "'<value>' is not <what>" without the key name; the caller adds the key
 * and the file:line.  Nothing here prints, and nothing reads the process
 * environment: what a check needs (base directory, HOME, the zoneinfo
 * directory) comes in `struct settings_context`.
 *
 * The rules, and why:
 *  - hostname: RFC 1123 §2.1 — labels of letters, digits and '-', 1..63
 *    characters, not starting or ending with '-', at most 253 in all, no
 *    trailing dot.
 *  - IPv4: exactly four decimal octets 0..255 without leading zeros
 *    ("010" is octal to inet_aton and decimal to others: refused), an
 *    optional "/N" prefix 0..32, again without leading zeros.
 *  - timezone: an Area/Location name of [A-Za-z0-9_+-.] components, no
 *    "..", not absolute; when the zoneinfo directory exists (HERD_ZONEINFO_DIR,
 *    else /usr/share/zoneinfo) the name must be a TZif file there.
 *  - locale: ll[l]_CC[.charset][@modifier] (en_GB.UTF-8), or C, C.UTF-8, POSIX.
 *  - keymap: an XKB layout name — lowercase letters, digits, '_' and '-',
 *    1..32 characters — optionally followed by "(variant)" with the same
 *    characters ("de(nodeadkeys)").
 *  - Wi-Fi country: two uppercase letters (ISO 3166-1 alpha-2); when the
 *    zoneinfo directory holds iso3166.tab the code must be listed there.
 *  - password hash: crypt(3) yescrypt ($y$), gost-yescrypt ($gy$),
 *    SHA-512 ($6$), SHA-256 ($5$) or bcrypt ($2b$).  MD5 ($1$), DES and
 *    unknown schemes are refused as weak or unusable.
 *  - file references: "~/" expands with HOME, relative paths resolve
 *    against the fleet file's directory; the file must exist and be a
 *    regular file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "config/settings.h"

bool validate_hostname(const char *s);
/* Parse "a.b.c.d" (allow_prefix false) or "a.b.c.d[/n]" (default prefix
 * `default_prefix`).  Returns 0 or -EINVAL; *ret written on success. */
int validate_ipv4(const char *s, bool allow_prefix, uint8_t default_prefix, struct herd_ipv4 *ret);
bool validate_locale(const char *s);
bool validate_keymap(const char *s);
bool validate_username(const char *s);
bool validate_package_name(const char *s);
bool validate_crypt_hash(const char *s);
bool validate_wifi_psk(const char *s);
bool validate_wifi_ssid(const char *s);
/* Owner "user", "user:group", numbers allowed. */
bool validate_owner(const char *s);
/* Absolute path on the image, no "." or ".." components, no empty ones. */
bool validate_image_path(const char *s);

/* The settings_validate_fn validators used by the registry. */
int validate_hostname_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err);
int validate_ipv4_addr_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err);
int validate_username_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err);
int validate_crypt_hash_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err);
int validate_timezone_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err);
int validate_locale_value(const char *value, const struct settings_context *ctx, char **ret,
			  struct herd_error *err);
int validate_keymap_value(const char *value, const struct settings_context *ctx, char **ret,
			  struct herd_error *err);
int validate_country_value(const char *value, const struct settings_context *ctx, char **ret,
			   struct herd_error *err);
int validate_ssid_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err);
int validate_psk_value(const char *value, const struct settings_context *ctx, char **ret,
		       struct herd_error *err);
int validate_package_value(const char *value, const struct settings_context *ctx, char **ret,
			   struct herd_error *err);
int validate_text_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err);
/* Resolve and check an existing local file; *ret is the resolved path. */
int validate_file_ref_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err);

/* ---- system settings (validate_system.c) ------------------------------- */

/* A port or port range with its protocols ("22", "8000-8100/tcp"). */
struct herd_port_range {
	uint16_t first, last;
	bool tcp, udp;
};

/* One WireGuard peer (wireguard.peers item): "public_key=K
 * allowed_ips=A[,A...] [endpoint=HOST:PORT] [persistent_keepalive=N]",
 * fields separated by blanks, in any order. */
struct herd_wg_peer {
	char public_key[45];
	char endpoint[300];
	char allowed_ips[1024];
	unsigned keepalive;
	bool has_keepalive;
};

/* True when `name` ends in a systemd unit type suffix (".service", ...). */
bool validate_unit_suffix(const char *name);
/* Check a unit name and write it normalized (".service" added when there
 * is no type suffix) to buf.  0, -EINVAL or -ENAMETOOLONG. */
int validate_unit_name(const char *s, char *buf, size_t len);
/* The key part of a config.txt line or key: "gpu_mem" of "gpu_mem=128",
 * "dtparam=audio" of "dtparam=audio=on".  *ret_len is its length. */
int validate_config_key(const char *s, size_t *ret_len);
/* The key part of a cmdline word ("console" of "console=tty1"). */
int validate_cmdline_key_len(const char *s, size_t *ret_len);
int validate_port_spec(const char *s, struct herd_port_range *ret);
/* A WireGuard key: canonical base64 of 32 bytes. */
bool validate_wg_key(const char *s);
/* "a.b.c.d/N" or an IPv6 address "/N"; the prefix is required. */
int validate_cidr(const char *s, bool *ret_ipv6);
/* "host:port", "a.b.c.d:port" or "[v6]:port". */
bool validate_endpoint(const char *s);
/* Parse a peer spec; `why` gets the reason on -EINVAL. */
int validate_wg_peer(const char *text, struct herd_wg_peer *ret, char *why, size_t whylen);
/* The normal text form of a peer (fields in a fixed order). */
int validate_wg_peer_format(const struct herd_wg_peer *p, char *buf, size_t len);

int validate_unit_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err);
int validate_config_set_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err);
int validate_config_key_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err);
int validate_dtoverlay_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err);
int validate_cmdline_word_value(const char *value, const struct settings_context *ctx, char **ret,
				struct herd_error *err);
int validate_cmdline_key_value(const char *value, const struct settings_context *ctx, char **ret,
			       struct herd_error *err);
int validate_port_spec_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err);
int validate_port_number_value(const char *value, const struct settings_context *ctx, char **ret,
			       struct herd_error *err);
int validate_cidr_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err);
int validate_wg_peer_value(const char *value, const struct settings_context *ctx, char **ret,
			   struct herd_error *err);
