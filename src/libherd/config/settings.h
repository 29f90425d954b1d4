/*
 * settings.h — the settings of one host, and the registry of their keys.
 *
 * A host's settings (hostname, address, user, SSH, Wi-Fi, locale, first-boot
 * work, extra files) arrive from four places: the fleet file's `defaults`,
 * its `hosts` entry, HERD_<KEY> environment variables and command-line
 * flags.  Every key is described once, in the registry table in
 * settings.c: its name in the file ("ssh.enabled"), its command-line flag
 * ("--ssh"/"--no-ssh"), its environment variable (derived: "HERD_" + the
 * name upper-cased with dots as underscores), its type, its validator and
 * the field of `struct herd_settings` that holds it.  Adding a setting is
 * one field below plus one registry entry; the fleet loader, the
 * environment reader, the command-line options (src/herd/settings_cli.c)
 * and `herd config show` all walk the registry.
 *
 * Every value remembers where it came from (`struct settings_origin`), so
 * `herd config show` can say "fleet.yaml:12" or "env HERD_TIMEZONE".
 *
 * This file does not read files (fleet.h does) and does not decide what a
 * setting does to an image (that is recipe/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"

/* Upper bound on registry entries; settings.c checks the table fits. */
#define SETTINGS_MAX_KEYS 80

/* An IPv4 address in host byte order with its prefix length.  Addresses
 * without a prefix (gateway, dns) carry prefix 32. */
struct herd_ipv4 {
	uint32_t address;
	uint8_t prefix;
};

/* One entry of `files`: write `content` (or the bytes of the local file
 * `source`) to `path` on the image. */
struct herd_file_spec {
	char *path;    /* absolute path on the image */
	char *content; /* exactly one of content / source is non-NULL */
	char *source;  /* local file, already resolved against the fleet file's directory */
	uint32_t mode; /* valid when has_mode */
	bool has_mode;
	char *owner; /* "user" or "user:group" (names or numbers); NULL = root */
};

struct herd_file_list {
	struct herd_file_spec *items;
	size_t count;
};

enum settings_source {
	SETTINGS_SOURCE_NONE = 0, /* never set: the value is the zero value */
	SETTINGS_SOURCE_FILE,	  /* fleet file, at `line` */
	SETTINGS_SOURCE_ENV,	  /* HERD_<KEY> environment variable */
	SETTINGS_SOURCE_FLAG,	  /* command-line flag */
};

struct settings_origin {
	enum settings_source source;
	unsigned line;	/* SETTINGS_SOURCE_FILE: 1-based line */
	bool cleared;	/* set to null there: the value is unset on purpose */
	bool via_alias; /* SETTINGS_SOURCE_ENV: the alias's variable (HERD_GATEWAY) */
};

struct herd_settings {
	char *image; /* store name, path or URL */
	char *hostname;
	struct herd_ipv4 ipaddr;
	struct herd_ipv4 gateway; /* network.gateway */
	struct strv dns;	  /* network.dns: IPv4 addresses */
	char *user;
	char *password_hash; /* crypt(3) hash */
	bool ssh_enabled;
	struct strv ssh_authorized_keys; /* public key files (resolved paths) */
	bool ssh_password_auth;
	char *wifi_ssid;
	char *wifi_psk_file; /* file holding the passphrase (resolved path) */
	char *wifi_psk;	     /* passphrase: flag or environment only, never the file */
	char *wifi_country;  /* ISO 3166-1 alpha-2 */
	bool wifi_hidden;
	char *timezone;
	char *locale;
	char *keymap;
	struct strv firstboot_packages;
	struct strv firstboot_run;
	char *firstboot_backend; /* "cloud-init", "firstrun", "off" (NULL = off) */
	struct herd_file_list files;
	struct strv systemd_enable; /* unit names, normalized ("ssh" -> "ssh.service") */
	struct strv systemd_disable;
	struct strv systemd_mask;
	struct strv config_set;		  /* config.txt "KEY=VALUE" lines for [all] */
	struct strv config_remove;	  /* config.txt keys ("gpu_mem", "dtparam=audio") */
	struct strv config_dtoverlay;	  /* "NAME[,PARAMS]" */
	struct strv cmdline_set;	  /* cmdline.txt words "KEY[=VALUE]" */
	struct strv cmdline_remove;	  /* cmdline.txt keys */
	char *wireguard_address;	  /* CIDR, IPv4 or IPv6 */
	char *wireguard_private_key_file; /* resolved path; unset = keep or generate */
	char *wireguard_listen_port;	  /* 1..65535 as text */
	struct strv wireguard_peers;	  /* normalized peer specs (validate_wg_peer) */
	struct strv firewall_allow;	  /* "22", "22/tcp", "8000-8100/udp" */
	char *password_input;		  /* "tty" or "stdin": --passwd / --passwd-stdin */
	/* enum password_scheme (config/password.h) from --passwd-scheme; CLI
	 * only, like password_input, so outside the registry: not copied or
	 * merged, consumed by settings_cli_resolve(). */
	unsigned password_scheme;

	/* Indexed like the registry (settings_key_index()). */
	struct settings_origin origin[SETTINGS_MAX_KEYS];
	char *origin_file; /* the fleet file's path as given, for sources; may be NULL */
};

enum settings_type {
	SETTINGS_STRING,    /* char * */
	SETTINGS_BOOL,	    /* bool */
	SETTINGS_LIST,	    /* struct strv; each item validated on its own */
	SETTINGS_IPV4_CIDR, /* struct herd_ipv4; "a.b.c.d[/n]", default /24 */
	SETTINGS_IPV4_ADDR, /* struct herd_ipv4; "a.b.c.d", prefix 32 */
	SETTINGS_FILES,	    /* struct herd_file_list; fleet file only */
	SETTINGS_RESERVED,  /* recognised but refused with `hint` (no field) */
	SETTINGS_PROMPT,    /* char *; a flag without value (--passwd): the CLI
			       reads a secret and sets another key; refused in files */
};

/* Key flags. */
enum {
	SETTINGS_KEY_SECRET = 1 << 0,	/* never printed by `config show` */
	SETTINGS_KEY_NO_FILE = 1 << 1,	/* refused in the fleet file (clear-text secrets) */
	SETTINGS_KEY_NO_ENV = 1 << 2,	/* no HERD_<KEY> variable */
	SETTINGS_KEY_PER_HOST = 1 << 3, /* in `hosts`, a host-list value pairs with the hosts */
};

/* What validators and path resolution need from the outside world.  Built
 * by settings_context_init() from an environment block, so nothing in
 * libherd calls getenv(). */
struct settings_context {
	const char *base_dir;	  /* relative paths resolve here; NULL = current directory */
	const char *home;	  /* "~/" expands here; NULL = "~/" is an error */
	const char *zoneinfo_dir; /* timezone database; checked only when it exists */
};

/* Validate `value` and store the normalized form (e.g. a resolved path) in
 * *ret (malloc'ed).  Errors are "'<value>' is not ..." without the key. */
typedef int (*settings_validate_fn)(const char *value, const struct settings_context *ctx,
				    char **ret, struct herd_error *err);

struct settings_key {
	const char *name;	  /* as in the file, dotted when nested: "ssh.enabled" */
	const char *alias;	  /* a second spelling accepted in file and environment, or NULL */
	const char *flag;	  /* long option without "--", or NULL */
	const char *negated_flag; /* SETTINGS_BOOL: option that sets false ("no-ssh") */
	const char *metavar;	  /* for help: "NAME", "ADDR[/N]" */
	const char *help;	  /* one line */
	enum settings_type type;
	unsigned flags;
	size_t offset;		       /* field in struct herd_settings */
	settings_validate_fn validate; /* STRING, and LIST items; NULL = any non-empty text */
	char separator;		       /* LIST from env/flag: split on this ('\0' = ',') */
	const char *hint;	       /* SETTINGS_RESERVED: why, and what to use instead */
};

/* The registry, in display order. */
const struct settings_key *settings_keys(size_t *ret_count);
/* By name or alias; NULL when unknown. */
const struct settings_key *settings_key_find(const char *name);
size_t settings_key_index(const struct settings_key *key);
/* True when `prefix` is the name of a section ("ssh", "wifi", "network"). */
bool settings_is_section(const char *prefix);
/* "HERD_SSH_ENABLED" for "ssh.enabled".  Returns 0 or -ENAMETOOLONG. */
int settings_key_env_name(const char *name, char *buf, size_t len);
/* A registry name within edit distance 2 of `name`, for "did you mean". */
const char *settings_key_suggest(const char *name);

/* Fill a context from an environment block (HOME, HERD_ZONEINFO_DIR). */
void settings_context_init(struct settings_context *ctx, char *const *envp, const char *base_dir);

/* A zeroed settings object is valid and empty; settings_init() zeroes. */
void settings_init(struct herd_settings *s);
void settings_free(struct herd_settings *s);
/* Deep copy; *ret is overwritten (not freed) only on success. */
int settings_copy(const struct herd_settings *src, struct herd_settings *ret);

bool settings_is_set(const struct herd_settings *s, const struct settings_key *key);

/* Parse one textual value (command line, environment, or a file scalar)
 * for `key` into `s`, recording `origin`.  Lists: `append` adds the items
 * (split on the key's separator) to what `s` holds from the same source;
 * otherwise the list is replaced.  Errors: "<key>: '<value>' is not ...". */
int settings_set_text(struct herd_settings *s, const struct settings_key *key, const char *value,
		      bool append, const struct settings_context *ctx,
		      const struct settings_origin *origin, struct herd_error *err);
/* Set a LIST key from separate items (no splitting), validating each. */
int settings_set_list(struct herd_settings *s, const struct settings_key *key,
		      const struct strv *items, const struct settings_context *ctx,
		      const struct settings_origin *origin, struct herd_error *err);
/* Unset `key` in `s` and remember where (a YAML null). */
void settings_clear(struct herd_settings *s, const struct settings_key *key,
		    const struct settings_origin *origin);
/* Replace the FILES value of `key` (takes ownership of *list, leaves it empty). */
void settings_take_files(struct herd_settings *s, const struct settings_key *key,
			 struct herd_file_list *list, const struct settings_origin *origin);
void settings_file_list_free(struct herd_file_list *list);

/* Layering: every key set (or cleared) in `upper` replaces the value in
 * `s`.  Returns 0 or -ENOMEM. */
int settings_merge(struct herd_settings *s, const struct herd_settings *upper);

/* Read HERD_<KEY> (and alias) variables from `envp` into `s` with source
 * ENV.  Both spellings of one key set to different values is an error. */
int settings_apply_env(struct herd_settings *s, char *const *envp,
		       const struct settings_context *ctx, struct herd_error *err);

/* Rename the key at the start of an error message: "ipaddr: 'x' is not..."
 * becomes "<prefix><name>: 'x' is not..." (prefix "--" for flags, "" for
 * environment variables).  Returns -code. */
int settings_error_rename(struct herd_error *err, int code, const struct settings_key *key,
			  const char *name, const char *prefix);

/* Text of a value for display ("10.1.1.11/24", "a, b", "true"); secrets
 * print as "(secret)".  Returns a malloc'ed string or NULL (unset, ENOMEM). */
char *settings_format_value(const struct herd_settings *s, const struct settings_key *key);
/* "fleet.yaml:12", "fleet.yaml:12 (null)", "env HERD_X", "flag --x", or "-". */
void settings_format_source(const struct herd_settings *s, const struct settings_key *key,
			    char *buf, size_t len);

/* IPv4 text helpers (also used by the fleet loader and recipes). */
void settings_format_ipv4(const struct herd_ipv4 *ip, bool with_prefix, char *buf, size_t len);
