/*
 * dhcp_config.c — build and check a struct dhcp_config from the strings
 * of the command line or the serve config (see dhcp.h).  No I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/dhcp.h"

void dhcp_config_init(struct dhcp_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = DHCP_MODE_OFF;
	c->lease_time = DHCP_DEFAULT_LEASE_TIME;
	c->probe_ms = DHCP_DEFAULT_PROBE_MS;
	c->server_port = 67;
	c->client_port = 68;
}

void dhcp_config_clear(struct dhcp_config *c)
{
	free(c->statics);
	c->statics = NULL;
	c->static_count = 0;
}

static const char *const mode_names[] = {"off", "proxy", "server"};

int dhcp_mode_parse(const char *s, enum dhcp_mode *ret)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*ret = (enum dhcp_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *dhcp_mode_name(enum dhcp_mode mode)
{
	if ((size_t)mode < sizeof(mode_names) / sizeof(mode_names[0]))
		return mode_names[mode];
	return "unknown";
}

int dhcp_config_set_range(struct dhcp_config *c, const char *s, struct herd_error *err)
{
	char first[16];
	const char *dash = strchr(s, '-');
	uint32_t a, b;

	if (!dash || (size_t)(dash - s) >= sizeof(first))
		return herd_error_set(err, EINVAL, "dhcp range '%s': expected FIRST-LAST", s);
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = '\0';
	if (dhcp_ip_parse(first, &a) < 0 || dhcp_ip_parse(dash + 1, &b) < 0)
		return herd_error_set(err, EINVAL, "dhcp range '%s': not two IPv4 addresses", s);
	if (b < a)
		return herd_error_set(err, EINVAL, "dhcp range '%s': last address before first", s);
	if (b - a >= (1u << 20))
		return herd_error_set(err, EINVAL, "dhcp range '%s': more than 2^20 addresses", s);
	c->range_first = a;
	c->range_last = b;
	return 0;
}

static bool hostname_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
			return false;
	}
	return true;
}

int dhcp_config_add_static(struct dhcp_config *c, const char *s, struct herd_error *err)
{
	struct dhcp_static_lease entry = {0};
	const char *eq = strrchr(s, '=');
	size_t key_len;
	char key[64];
	struct dhcp_static_lease *grown;

	if (!eq)
		return herd_error_set(err, EINVAL,
				      "dhcp static lease '%s': expected MAC=IP or "
				      "HOSTNAME=IP",
				      s);
	key_len = (size_t)(eq - s);
	if (dhcp_ip_parse(eq + 1, &entry.ip) < 0)
		return herd_error_set(err, EINVAL,
				      "dhcp static lease '%s': '%s' is not an IPv4 "
				      "address",
				      s, eq + 1);
	if (key_len < sizeof(key)) {
		memcpy(key, s, key_len);
		key[key_len] = '\0';
		if (dhcp_mac_parse(key, entry.mac) == 0)
			entry.has_mac = true;
	}
	if (!entry.has_mac) {
		if (!hostname_ok(s, key_len))
			return herd_error_set(err, EINVAL,
					      "dhcp static lease '%s': '%.*s' is neither a MAC "
					      "address nor a host name",
					      s, (int)key_len, s);
		memcpy(entry.hostname, s, key_len);
		entry.hostname[key_len] = '\0';
	}
	for (size_t i = 0; i < c->static_count; i++) {
		const struct dhcp_static_lease *o = &c->statics[i];
		if (o->ip == entry.ip)
			return herd_error_set(err, EEXIST,
					      "dhcp static lease '%s': address already "
					      "given to another static lease",
					      s);
		if ((o->has_mac && entry.has_mac && memcmp(o->mac, entry.mac, 6) == 0) ||
		    (!o->has_mac && !entry.has_mac && strcmp(o->hostname, entry.hostname) == 0))
			return herd_error_set(err, EEXIST,
					      "dhcp static lease '%s': client already "
					      "has a static lease",
					      s);
	}
	if (c->static_count >= 65536)
		return herd_error_set(err, E2BIG, "dhcp: too many static leases");
	grown = realloc(c->statics, (c->static_count + 1) * sizeof(*grown));
	if (!grown)
		return herd_error_set(err, ENOMEM, "dhcp: out of memory");
	c->statics = grown;
	c->statics[c->static_count++] = entry;
	return 0;
}

int dhcp_config_validate(const struct dhcp_config *c, struct herd_error *err)
{
	char a[16], b[16];

	if (c->mode == DHCP_MODE_OFF)
		return 0;
	if (c->server_ip == 0)
		return herd_error_set(err, EINVAL, "dhcp: no server address");
	if (c->netmask == 0 || (~c->netmask & (~c->netmask + 1)) != 0)
		return herd_error_set(err, EINVAL, "dhcp: bad netmask %s",
				      dhcp_ip_string(c->netmask, a));
	if (c->lease_time < 10)
		return herd_error_set(
		    err, EINVAL, "dhcp: lease time %u s is under the 10 s minimum", c->lease_time);
	if (c->probe_ms > DHCP_PROBE_MS_MAX)
		return herd_error_set(err, EINVAL, "dhcp: ARP probe wait %u ms is over %u ms",
				      c->probe_ms, DHCP_PROBE_MS_MAX);
	if (c->mode != DHCP_MODE_SERVER)
		return 0;
	if (c->range_first == 0 || c->range_last < c->range_first)
		return herd_error_set(err, EINVAL, "dhcp: server mode needs --range FIRST-LAST");
	if ((c->range_first & c->netmask) != (c->server_ip & c->netmask) ||
	    (c->range_last & c->netmask) != (c->server_ip & c->netmask))
		return herd_error_set(err, EINVAL, "dhcp: range %s-%s is not in the subnet of %s",
				      dhcp_ip_string(c->range_first, a),
				      dhcp_ip_string(c->range_last, b),
				      dhcp_ip_string(c->server_ip, (char[16]){0}));
	if (c->server_ip >= c->range_first && c->server_ip <= c->range_last)
		return herd_error_set(err, EINVAL, "dhcp: range contains the server's address %s",
				      dhcp_ip_string(c->server_ip, a));
	for (size_t i = 0; i < c->static_count; i++)
		if ((c->statics[i].ip & c->netmask) != (c->server_ip & c->netmask) ||
		    c->statics[i].ip == c->server_ip)
			return herd_error_set(err, EINVAL,
					      "dhcp: static address %s is not a client address in "
					      "the subnet",
					      dhcp_ip_string(c->statics[i].ip, a));
	return 0;
}
