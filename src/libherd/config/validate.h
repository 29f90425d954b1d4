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
