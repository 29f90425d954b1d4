/*
 * validate.c — checks for host setting values (see validate.h for the
 * rules and their sources).
 *
 * Pure text checks come first; the ones that look at the filesystem
 * (timezone, country list, file references) open with O_CLOEXEC and fstat
 * the opened descriptor.  Nothing here prints or reads the environment.
 */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macros.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

bool validate_hostname(const char *s)
{
	size_t total = strlen(s), label = 0;

	if (total == 0 || total > 253)
		return false;
	for (size_t i = 0; i <= total; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			/* RFC 1123 §2.1: 1..63 characters, no '-' at either end. */
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		label++;
	}
	return true;
}

/* A decimal number without sign or leading zero, at most `max`. */
static int parse_small(const char **p, unsigned max, unsigned *ret)
{
	const char *s = *p;
	unsigned v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (unsigned)(s[n] - '0');
		n++;
		if (n > 3 || v > max)
			return -EINVAL;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*p = s + n;
	*ret = v;
	return 0;
}

int validate_ipv4(const char *s, bool allow_prefix, uint8_t default_prefix, struct herd_ipv4 *ret)
{
	const char *p = s;
	uint32_t address = 0;
	unsigned v, prefix = default_prefix;

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *p++ != '.')
			return -EINVAL;
		if (parse_small(&p, 255, &v) < 0)
			return -EINVAL;
		address = address << 8 | v;
	}
	if (*p == '/') {
		if (!allow_prefix)
			return -EINVAL;
		p++;
		if (parse_small(&p, 32, &prefix) < 0)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	ret->address = address;
	ret->prefix = (uint8_t)prefix;
	return 0;
}

bool validate_locale(const char *s)
{
	size_t n = 0;

	if (strcmp(s, "C") == 0 || strcmp(s, "POSIX") == 0 || strcmp(s, "C.UTF-8") == 0 ||
	    strcmp(s, "C.utf8") == 0)
		return true;
	while (s[n] >= 'a' && s[n] <= 'z')
		n++;
	if (n < 2 || n > 3 || s[n] != '_')
		return false;
	s += n + 1;
	if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'))
		return false;
	s += 2;
	if (*s == '.') {
		n = 0;
		s++;
		while (is_alnum(s[n]) || s[n] == '-' || s[n] == '_')
			n++;
		if (n == 0)
			return false;
		s += n;
	}
	if (*s == '@') {
		n = 0;
		s++;
		while (is_alnum(s[n]))
			n++;
		if (n == 0)
			return false;
		s += n;
	}
	return *s == '\0';
}

static size_t span_keymap(const char *s)
{
	size_t n = 0;

	while (is_lower_alnum(s[n]) || s[n] == '_' || s[n] == '-')
		n++;
	return n;
}

bool validate_keymap(const char *s)
{
	size_t n = span_keymap(s);

	if (n == 0 || n > 32 || !is_lower_alnum(s[0]))
		return false;
	s += n;
	if (*s == '(') {
		s++;
		n = span_keymap(s);
		if (n == 0 || n > 32 || s[n] != ')')
			return false;
		s += n + 1;
	}
	return *s == '\0';
}

/* useradd's default NAME_REGEX without the trailing '$': [a-z_][a-z0-9_-]*,
 * at most 32 characters. */
bool validate_username(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* Debian Policy §5.6.1: lowercase letters, digits, '+', '-', '.', at least
 * two characters, starting with an alphanumeric. */
bool validate_package_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 128 || !is_lower_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* The crypt(3) base64 alphabet. */
static bool is_crypt64(char c)
{
	return is_alnum(c) || c == '.' || c == '/';
}

static size_t span_crypt64(const char *s)
{
	size_t n = 0;

	while (is_crypt64(s[n]))
		n++;
	return n;
}

/* $id$[rounds=N$]salt$hash for SHA-crypt (hash 86 or 43 characters), and
 * $id$params$salt$hash for (gost-)yescrypt (hash 43).  bcrypt is
 * $2b$NN$ + 22 salt + 31 hash characters.  Only the shape is checked; a
 * wrong hash is a wrong password, not a broken image. */
bool validate_crypt_hash(const char *s)
{
	size_t n, want_hash;

	if (strncmp(s, "$2b$", 4) == 0) {
		s += 4;
		if (!(isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == '$'))
			return false;
		s += 3;
		return span_crypt64(s) == 53 && s[53] == '\0';
	}
	if (strncmp(s, "$6$", 3) == 0 || strncmp(s, "$5$", 3) == 0) {
		want_hash = s[1] == '6' ? 86 : 43;
		s += 3;
		if (strncmp(s, "rounds=", 7) == 0) {
			const char *p = s + 7;
			n = 0;
			while (isdigit((unsigned char)p[n]))
				n++;
			if (n == 0 || n > 9 || p[n] != '$')
				return false;
			s = p + n + 1;
		}
		n = span_crypt64(s);
		if (n == 0 || n > 16 || s[n] != '$')
			return false;
		s += n + 1;
		return span_crypt64(s) == want_hash && s[want_hash] == '\0';
	}
	if (strncmp(s, "$y$", 3) == 0 || strncmp(s, "$gy$", 4) == 0) {
		s += s[1] == 'y' ? 3 : 4;
		for (int part = 0; part < 2; part++) { /* params, salt */
			n = span_crypt64(s);
			if (n == 0 || s[n] != '$')
				return false;
			s += n + 1;
		}
		return span_crypt64(s) == 43 && s[43] == '\0';
	}
	return false;
}

/* IEEE 802.11i passphrase: 8..63 printable ASCII, or 64 hex digits (a raw PSK). */
bool validate_wifi_psk(const char *s)
{
	size_t n = strlen(s);
	bool hex = n == 64;

	if (n < 8 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
		if (!isxdigit((unsigned char)s[i]))
			hex = false;
	}
	return n < 64 || hex;
}

/* An SSID is 1..32 octets; we also refuse control characters, which no
 * configuration file format below us quotes reliably. */
bool validate_wifi_ssid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool is_owner_part(const char *s, size_t n)
{
	bool digits = true;

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			digits = false;
	if (digits)
		return true;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool validate_owner(const char *s)
{
	const char *colon = strchr(s, ':');

	if (!colon)
		return is_owner_part(s, strlen(s));
	return is_owner_part(s, (size_t)(colon - s)) && is_owner_part(colon + 1, strlen(colon + 1));
}

bool validate_image_path(const char *s)
{
	size_t len = strlen(s);

	if (len < 2 || len > 4095 || s[0] != '/')
		return false;
	for (const char *p = s + 1;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20)
				return false;
		if (!slash)
			break;
		p = slash + 1;
	}
	return true;
}

/* ---- registry validators ------------------------------------------------ */

static int keep(const char *value, char **ret)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

#define SIMPLE_VALIDATOR(fn, check, what)                                                          \
	int fn(const char *value, const struct settings_context *ctx, char **ret,                  \
	       struct herd_error *err)                                                             \
	{                                                                                          \
		if (!check(value))                                                                 \
			return herd_error_set(err, EINVAL, "'%s' is not %s", value, what);         \
		return keep(value, ret);                                                           \
	}

SIMPLE_VALIDATOR(validate_hostname_value, validate_hostname, "a valid hostname (RFC 1123)")
SIMPLE_VALIDATOR(validate_username_value, validate_username,
		 "a valid user name ([a-z_][a-z0-9_-]*, at most 32)")
SIMPLE_VALIDATOR(validate_locale_value, validate_locale,
		 "a locale like en_GB.UTF-8 (ll_CC[.charset][@modifier])")
SIMPLE_VALIDATOR(validate_keymap_value, validate_keymap, "a keymap like 'de' or 'de(nodeadkeys)'")
SIMPLE_VALIDATOR(validate_ssid_value, validate_wifi_ssid, "a Wi-Fi SSID (1 to 32 bytes)")
SIMPLE_VALIDATOR(validate_package_value, validate_package_name, "a Debian package name")

int validate_ipv4_addr_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err)
{
	struct herd_ipv4 ip;

	if (validate_ipv4(value, false, 32, &ip) < 0)
		return herd_error_set(err, EINVAL, "'%s' is not an IPv4 address", value);
	return keep(value, ret);
}

int validate_crypt_hash_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err)
{
	if (strncmp(value, "$1$", 3) == 0 || value[0] != '$')
		return herd_error_set(
		    err, EINVAL,
		    "'%.12s...' is a weak or unknown password hash; use "
		    "yescrypt ($y$) or SHA-512 ($6$), e.g. from 'mkpasswd -m yescrypt'",
		    value);
	if (!validate_crypt_hash(value))
		return herd_error_set(
		    err, EINVAL,
		    "'%.12s...' is not a valid crypt hash ($y$, $gy$, $6$, $5$ or $2b$)", value);
	return keep(value, ret);
}

int validate_psk_value(const char *value, const struct settings_context *ctx, char **ret,
		       struct herd_error *err)
{
	/* Never echo a secret into a message. */
	if (!validate_wifi_psk(value))
		return herd_error_set(
		    err, EINVAL,
		    "the passphrase must be 8 to 63 printable ASCII characters or "
		    "64 hex digits");
	return keep(value, ret);
}

int validate_text_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err)
{
	if (value[0] == '\0')
		return herd_error_set(err, EINVAL, "the value is empty");
	return keep(value, ret);
}

static const char *zoneinfo_dir(const struct settings_context *ctx)
{
	return ctx && ctx->zoneinfo_dir ? ctx->zoneinfo_dir : "/usr/share/zoneinfo";
}

/* Open `dir`/`name` read-only; -errno when absent.  ENOTDIR/ENOENT on the
 * directory itself mean "no database here". */
static int open_in_dir(const char *dir, const char *name, int *ret_fd)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (dfd < 0)
		return -ENOTDIR;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int validate_timezone_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err)
{
	size_t len = strlen(value);
	_cleanup_close_ int fd = -1;
	struct stat st;
	char magic[4];
	int r;

	if (len == 0 || len > 128 || value[0] == '/' || value[len - 1] == '/' ||
	    strstr(value, "//"))
		goto bad;
	for (const char *p = value; *p; p++)
		if (!is_alnum(*p) && !strchr("_+-./", *p))
			goto bad;
	/* No "." or ".." component: the name must stay inside the database. */
	for (const char *p = value; p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))
			goto bad;
		p = slash ? slash + 1 : NULL;
	}

	r = open_in_dir(zoneinfo_dir(ctx), value, &fd);
	if (r == -ENOTDIR)
		return keep(value, ret); /* no database to check against */
	if (r < 0)
		return herd_error_set(err, EINVAL, "'%s' is not a timezone in %s", value,
				      zoneinfo_dir(ctx));
	/* A zone is a regular TZif file (RFC 8536 §3.1); this refuses the
	 * directories and the *.tab tables that also live there. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || read(fd, magic, 4) != 4 ||
	    memcmp(magic, "TZif", 4) != 0)
		return herd_error_set(err, EINVAL, "'%s' is not a timezone in %s", value,
				      zoneinfo_dir(ctx));
	return keep(value, ret);
bad:
	return herd_error_set(err, EINVAL, "'%s' is not a timezone name like Europe/Berlin", value);
}

/* Is `code` listed in iso3166.tab (lines "CC<TAB>Name")?  1 yes, 0 no,
 * -errno when the table cannot be read. */
static int country_listed(const struct settings_context *ctx, const char *code)
{
	_cleanup_close_ int fd = -1;
	char buf[16384];
	size_t len = 0;
	ssize_t n;
	int r;

	r = open_in_dir(zoneinfo_dir(ctx), "iso3166.tab", &fd);
	if (r < 0)
		return r;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (const char *line = buf; line && *line;) {
		if (line[0] == code[0] && line[1] == code[1] && line[2] == '\t')
			return 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

int validate_country_value(const char *value, const struct settings_context *ctx, char **ret,
			   struct herd_error *err)
{
	if (!(value[0] >= 'A' && value[0] <= 'Z' && value[1] >= 'A' && value[1] <= 'Z' &&
	      value[2] == '\0'))
		return herd_error_set(
		    err, EINVAL, "'%s' is not a country code (two uppercase letters, ISO 3166-1)",
		    value);
	if (country_listed(ctx, value) == 0)
		return herd_error_set(err, EINVAL, "'%s' is not an ISO 3166-1 country code", value);
	return keep(value, ret);
}

int validate_file_ref_value(const char *value, const struct settings_context *ctx, char **ret,
			    struct herd_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (value[0] == '\0')
		return herd_error_set(err, EINVAL, "the file name is empty");
	if (value[0] == '~') {
		if (value[1] != '/')
			return herd_error_set(err, EINVAL, "'%s': only '~/' is expanded", value);
		if (!ctx || !ctx->home || !ctx->home[0])
			return herd_error_set(err, EINVAL, "'%s': HOME is not set", value);
		r = asprintf(&path, "%s/%s", ctx->home, value + 2);
	} else if (value[0] != '/' && ctx && ctx->base_dir && ctx->base_dir[0]) {
		r = asprintf(&path, "%s/%s", ctx->base_dir, value);
	} else {
		path = strdup(value);
		r = path ? 0 : -1;
	}
	if (r < 0) {
		path = NULL;
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return herd_error_set(err, EINVAL, "'%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return herd_error_set(err, EINVAL, "'%s' is not a regular file", path);
	*ret = TAKE_PTR(path);
	return 0;
}
