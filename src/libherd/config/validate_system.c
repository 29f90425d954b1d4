/*
 * validate_system.c — checks for the system-level settings: systemd unit
 * names, config.txt and cmdline.txt edits, ports and port ranges, and
 * the WireGuard values (keys, CIDR addresses, endpoints, peers).
 *
 * The rules, and where they come from:
 *  - unit names: systemd.unit(5) — "prefix[@instance].suffix" of ASCII
 *    letters, digits and ":-_.\", at most 255 characters, with one of the
 *    unit type suffixes; a name without a suffix means ".service", as
 *    systemctl reads it.
 *  - config.txt: the Raspberry Pi firmware's "property=value" lines
 *    (config.txt documentation, "What is config.txt?"); dtparam and
 *    dtoverlay are multi-valued, so their key includes the parameter or
 *    overlay name ("dtparam=audio").
 *  - cmdline.txt: kernel parameters (kernel-parameters.rst) are words
 *    without blanks, "key" or "key=value".
 *  - WireGuard keys are 32 bytes as canonical base64 (44 characters, one
 *    '=' pad), as `wg genkey` prints them (wg(8)).
 *
 * Nothing here prints or touches the filesystem.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "base/parse.h"
#include "validate.h"

static int keep(const char *value, char **ret)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

static bool is_alnum_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Printable ASCII without blanks. */
static bool is_word_char(char c)
{
	return c > ' ' && c < 0x7f;
}

/* ---- systemd units ---------------------------------------------------- */

static const char *const unit_suffixes[] = {
    ".service",	  ".socket", ".target", ".timer",  ".path",  ".mount",
    ".automount", ".swap",   ".slice",	".device", ".scope",
};

static bool unit_char(char c)
{
	return is_alnum_ascii(c) || c == ':' || c == '-' || c == '_' || c == '.' || c == '\\';
}

bool validate_unit_suffix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
		size_t k = strlen(unit_suffixes[i]);
		if (n > k && strcmp(name + n - k, unit_suffixes[i]) == 0)
			return true;
	}
	return false;
}

int validate_unit_name(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s), ats = 0;

	if (n == 0 || n > 240)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '@')
			ats++;
		else if (!unit_char(s[i]))
			return -EINVAL;
	}
	if (ats > 1 || s[0] == '@' || s[0] == '.')
		return -EINVAL;
	if (validate_unit_suffix(s)) {
		if (n + 1 > len)
			return -ENAMETOOLONG;
		memcpy(buf, s, n + 1);
	} else {
		/* systemctl reads a name without a unit type suffix as a service. */
		if (snprintf(buf, len, "%s.service", s) >= (int)len)
			return -ENAMETOOLONG;
	}
	return 0;
}

int validate_unit_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err)
{
	char buf[256];

	if (validate_unit_name(value, buf, sizeof(buf)) < 0)
		return herd_error_set(err, EINVAL,
				      "'%s' is not a systemd unit name (like ssh.service, "
				      "getty@tty1.service, fstrim.timer)",
				      value);
	return keep(buf, ret);
}

/* ---- config.txt ---------------------------------------------------------- */

static bool config_name(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_ascii(s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Overlay and parameter names: letters, digits, '_' and '-'. */
static bool overlay_name(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_ascii(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool config_value(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s >= 0x7f || *s == '#')
			return false;
	return true;
}

int validate_config_key(const char *s, size_t *ret_len)
{
	size_t n = strcspn(s, "=");

	if (!config_name(s, n))
		return -EINVAL;
	if ((n == 7 && memcmp(s, "dtparam", 7) == 0) ||
	    (n == 9 && memcmp(s, "dtoverlay", 9) == 0)) {
		if (s[n] != '=')
			return -EINVAL;
		size_t m = strcspn(s + n + 1, "=,");
		if (!overlay_name(s + n + 1, m))
			return -EINVAL;
		n += 1 + m;
	}
	*ret_len = n;
	return 0;
}

int validate_config_key_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err)
{
	size_t n;

	if (validate_config_key(value, &n) < 0 || value[n] != '\0')
		return herd_error_set(err, EINVAL,
				      "'%s' is not a config.txt key (like gpu_mem, "
				      "dtparam=audio or dtoverlay=vc4-kms-v3d)",
				      value);
	return keep(value, ret);
}

int validate_config_set_value(const char *value, const struct settings_context *ctx, char **ret,
			      struct herd_error *err)
{
	size_t n;

	if (strncmp(value, "dtoverlay", 9) == 0 && (value[9] == '=' || value[9] == '\0'))
		return herd_error_set(err, EINVAL,
				      "'%s': overlays are config.dtoverlay (--dtoverlay NAME), "
				      "which adds them without replacing others",
				      value);
	if (validate_config_key(value, &n) < 0 || !config_value(value))
		return herd_error_set(err, EINVAL,
				      "'%s' is not a config.txt line KEY=VALUE (like gpu_mem=128 "
				      "or dtparam=audio=off)",
				      value);
	/* "dtparam=spi" alone means "on"; every other key needs a value. */
	if (value[n] != '=' && !(strncmp(value, "dtparam=", 8) == 0 && value[n] == '\0'))
		return herd_error_set(err, EINVAL, "'%s' is not KEY=VALUE", value);
	return keep(value, ret);
}

int validate_dtoverlay_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err)
{
	size_t n = strcspn(value, ",");

	if (!overlay_name(value, n) || !config_value(value) || strchr(value, ' ') ||
	    (value[n] == ',' && value[n + 1] == '\0'))
		return herd_error_set(err, EINVAL,
				      "'%s' is not an overlay NAME[,PARAM=VALUE...] "
				      "(like disable-bt or gpio-fan,gpiopin=14)",
				      value);
	return keep(value, ret);
}

/* ---- cmdline.txt --------------------------------------------------------- */

int validate_cmdline_key_len(const char *s, size_t *ret_len)
{
	size_t n = strcspn(s, "=");

	if (n == 0 || n > 128)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_ascii(s[i]) && !strchr("_.-:,/", s[i]))
			return -EINVAL;
	*ret_len = n;
	return 0;
}

int validate_cmdline_word_value(const char *value, const struct settings_context *ctx, char **ret,
				struct herd_error *err)
{
	size_t n;
	bool ok = validate_cmdline_key_len(value, &n) == 0 && strlen(value) <= 1024;

	for (const char *p = value; ok && *p; p++)
		if (!is_word_char(*p) || *p == '"')
			ok = false;
	if (!ok)
		return herd_error_set(err, EINVAL,
				      "'%s' is not a kernel parameter KEY[=VALUE] without blanks "
				      "or quotes",
				      value);
	return keep(value, ret);
}

int validate_cmdline_key_value(const char *value, const struct settings_context *ctx, char **ret,
			       struct herd_error *err)
{
	size_t n;

	if (validate_cmdline_key_len(value, &n) < 0 || value[n] != '\0')
		return herd_error_set(err, EINVAL,
				      "'%s' is not a kernel parameter name (like quiet or "
				      "console)",
				      value);
	return keep(value, ret);
}

/* ---- ports ------------------------------------------------------------------ */

int validate_port_spec(const char *s, struct herd_port_range *ret)
{
	char num[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	const char *dash;
	uint32_t first, last;
	struct herd_port_range out = {.tcp = true, .udp = true};

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	dash = strchr(num, '-');
	if (dash) {
		num[dash - num] = '\0';
		if (parse_u32(num, 1, 65535, &first) < 0 ||
		    parse_u32(dash + 1, 1, 65535, &last) < 0 || last < first)
			return -EINVAL;
	} else {
		if (parse_u32(num, 1, 65535, &first) < 0)
			return -EINVAL;
		last = first;
	}
	/* parse_u32 takes "+5" or " 5" in some libcs: digits only here. */
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return -EINVAL;
	if ((s[0] == '0') || (dash && dash[1] == '0'))
		return -EINVAL;
	if (slash) {
		if (strcmp(slash + 1, "tcp") == 0)
			out.udp = false;
		else if (strcmp(slash + 1, "udp") == 0)
			out.tcp = false;
		else
			return -EINVAL;
	}
	out.first = (uint16_t)first;
	out.last = (uint16_t)last;
	*ret = out;
	return 0;
}

int validate_port_spec_value(const char *value, const struct settings_context *ctx, char **ret,
			     struct herd_error *err)
{
	struct herd_port_range pr;

	if (validate_port_spec(value, &pr) < 0)
		return herd_error_set(err, EINVAL,
				      "'%s' is not a port, range or port/proto (like 22, "
				      "22/tcp, 51820/udp, 8000-8100/tcp)",
				      value);
	return keep(value, ret);
}

int validate_port_number_value(const char *value, const struct settings_context *ctx, char **ret,
			       struct herd_error *err)
{
	uint32_t port;

	if (value[0] < '1' || value[0] > '9' || parse_u32(value, 1, 65535, &port) < 0 ||
	    strspn(value, "0123456789") != strlen(value))
		return herd_error_set(err, EINVAL, "'%s' is not a port number (1 to 65535)", value);
	return keep(value, ret);
}

/* ---- WireGuard ---------------------------------------------------------------- */

bool validate_wg_key(const char *s)
{
	/* 32 bytes = 256 bits = 42 full sextets + 4 bits: 43 characters, the
	 * last with its low two bits zero (canonical), then one '='. */
	if (strlen(s) != 44 || s[43] != '=')
		return false;
	for (size_t i = 0; i < 43; i++)
		if (parse_base64_char(s[i]) < 0)
			return false;
	return (parse_base64_char(s[42]) & 3) == 0;
}

int validate_cidr(const char *s, bool *ret_ipv6)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	unsigned char bin[16];
	uint32_t prefix;
	bool v6;

	if (!slash || (size_t)(slash - s) >= sizeof(addr) || slash == s)
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	v6 = strchr(addr, ':') != NULL;
	if (v6) {
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return -EINVAL;
	} else {
		struct herd_ipv4 ip;
		if (validate_ipv4(addr, false, 32, &ip) < 0)
			return -EINVAL;
	}
	if (!slash[1] || (slash[1] == '0' && slash[2]) ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
	    parse_u32(slash + 1, 0, v6 ? 128 : 32, &prefix) < 0)
		return -EINVAL;
	if (ret_ipv6)
		*ret_ipv6 = v6;
	return 0;
}

int validate_cidr_value(const char *value, const struct settings_context *ctx, char **ret,
			struct herd_error *err)
{
	if (validate_cidr(value, NULL) < 0)
		return herd_error_set(err, EINVAL,
				      "'%s' is not an address with prefix (like 10.99.0.2/24 or "
				      "fd00::2/64)",
				      value);
	return keep(value, ret);
}

bool validate_endpoint(const char *s)
{
	char host[256];
	const char *colon;
	uint32_t port;
	unsigned char bin[16];

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, bin) != 1)
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
			return false;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (!validate_hostname(host))
			return false;
	}
	return colon[1] >= '1' && colon[1] <= '9' &&
	       strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	       parse_u32(colon + 1, 1, 65535, &port) == 0;
}

static bool allowed_ips_ok(const char *s)
{
	char item[64];

	if (!*s)
		return false;
	for (;;) {
		size_t n = strcspn(s, ",");
		if (n == 0 || n >= sizeof(item))
			return false;
		memcpy(item, s, n);
		item[n] = '\0';
		if (validate_cidr(item, NULL) < 0)
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
}

int validate_wg_peer(const char *text, struct herd_wg_peer *ret, char *why, size_t whylen)
{
	struct herd_wg_peer p = {0};
	const char *s = text;

	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, " \t");
		char field[1100];
		if (n >= sizeof(field)) {
			snprintf(why, whylen, "a value is too long");
			return -EINVAL;
		}
		memcpy(field, s, n);
		field[n] = '\0';
		s += n;
		char *eq = strchr(field, '=');
		if (!eq) {
			snprintf(why, whylen, "'%.40s' is not field=value", field);
			return -EINVAL;
		}
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(field, "public_key") == 0) {
			if (!validate_wg_key(v)) {
				snprintf(why, whylen, "public_key '%.50s' is not a WireGuard key",
					 v);
				return -EINVAL;
			}
			memcpy(p.public_key, v, 45);
		} else if (strcmp(field, "endpoint") == 0) {
			if (!validate_endpoint(v) || strlen(v) >= sizeof(p.endpoint)) {
				snprintf(why, whylen, "endpoint '%.60s' is not HOST:PORT", v);
				return -EINVAL;
			}
			memcpy(p.endpoint, v, strlen(v) + 1);
		} else if (strcmp(field, "allowed_ips") == 0) {
			if (!allowed_ips_ok(v) || strlen(v) >= sizeof(p.allowed_ips)) {
				snprintf(
				    why, whylen,
				    "allowed_ips '%.60s' is not a list of ADDR/N, comma-separated",
				    v);
				return -EINVAL;
			}
			memcpy(p.allowed_ips, v, strlen(v) + 1);
		} else if (strcmp(field, "persistent_keepalive") == 0) {
			uint32_t k;
			if (strspn(v, "0123456789") != strlen(v) ||
			    parse_u32(v, 0, 65535, &k) < 0) {
				snprintf(why, whylen,
					 "persistent_keepalive '%.20s' is not 0 to 65535 seconds",
					 v);
				return -EINVAL;
			}
			p.keepalive = k;
			p.has_keepalive = true;
		} else {
			snprintf(why, whylen,
				 "unknown field '%.30s' (public_key, endpoint, allowed_ips, "
				 "persistent_keepalive)",
				 field);
			return -EINVAL;
		}
	}
	if (!p.public_key[0] || !p.allowed_ips[0]) {
		snprintf(why, whylen, "a peer needs public_key and allowed_ips");
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

int validate_wg_peer_format(const struct herd_wg_peer *p, char *buf, size_t len)
{
	int w = snprintf(buf, len, "public_key=%s allowed_ips=%s", p->public_key, p->allowed_ips);

	if (w >= 0 && (size_t)w < len && p->endpoint[0])
		w += snprintf(buf + w, len - (size_t)w, " endpoint=%s", p->endpoint);
	if (w >= 0 && (size_t)w < len && p->has_keepalive)
		w += snprintf(buf + w, len - (size_t)w, " persistent_keepalive=%u", p->keepalive);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int validate_wg_peer_value(const char *value, const struct settings_context *ctx, char **ret,
			   struct herd_error *err)
{
	struct herd_wg_peer p;
	char why[200], norm[1600];

	if (validate_wg_peer(value, &p, why, sizeof(why)) < 0)
		return herd_error_set(err, EINVAL, "peer: %s", why);
	if (validate_wg_peer_format(&p, norm, sizeof(norm)) < 0)
		return herd_error_set(err, EINVAL, "peer: too long");
	return keep(norm, ret);
}
