/*
 * network.c — Wi-Fi and a static address, in whatever the image's network
 * stack reads:
 *
 *   NetworkManager (Raspberry Pi OS bookworm and later): keyfiles in
 *     /etc/NetworkManager/system-connections/, mode 0600 root — NM ignores
 *     keyfiles other users can read.  The regulatory domain goes on the
 *     kernel command line (cmdline.txt cfg80211.ieee80211_regdom=CC) as
 *     Raspberry Pi Imager does; without one the Wi-Fi stays rfkill-blocked.
 *   dhcpcd + wpa_supplicant (bullseye and before):
 *     /etc/wpa_supplicant/wpa_supplicant.conf with country=, and a static
 *     block in /etc/dhcpcd.conf between herd's marker comments.
 *   netplan (Ubuntu): /etc/netplan/90-herd.yaml, 0600.
 *   systemd-networkd: /etc/systemd/network/10-herd-*.network, and for
 *     Wi-Fi wpa_supplicant@wlan0 enabled with its own config.
 *
 * The passphrase is never written: every backend gets the 256-bit PSK
 * (IEEE 802.11i-2004 Annex H.4, PBKDF2-HMAC-SHA1 over the passphrase with
 * the SSID as salt, 4096 iterations) as 64 hex digits, which all four
 * accept in place of the passphrase.  Connection UUIDs are RFC 4122
 * version 5 (name-based), so a rerun writes the same bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define NM_DIR "/etc/NetworkManager/system-connections"

int recipe_wpa_psk(const char *passphrase, const char *ssid, char ret[65])
{
	unsigned char key[32];
	size_t n = strlen(passphrase);
	static const char hex[] = "0123456789abcdef";

	if (n == 64) {
		/* Already a PSK in hex (wpa_supplicant's psk=<64 hex>). */
		for (size_t i = 0; i < 64; i++)
			if (!isxdigit((unsigned char)passphrase[i]))
				return -EINVAL;
		for (size_t i = 0; i < 64; i++)
			ret[i] = (char)tolower((unsigned char)passphrase[i]);
		ret[64] = '\0';
		return 0;
	}
	if (n < 8 || n > 63)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (passphrase[i] < 0x20 || passphrase[i] > 0x7e)
			return -EINVAL;
	if (!PKCS5_PBKDF2_HMAC_SHA1(passphrase, (int)n, (const unsigned char *)ssid,
				    (int)strlen(ssid), 4096, sizeof(key), key))
		return -EIO;
	for (size_t i = 0; i < sizeof(key); i++) {
		ret[2 * i] = hex[key[i] >> 4];
		ret[2 * i + 1] = hex[key[i] & 15];
	}
	ret[64] = '\0';
	return 0;
}

/* RFC 4122 §4.3 name-based UUID (SHA-1, version 5) in herd's namespace. */
int recipe_uuid_v5(const char *name, char ret[37])
{
	static const unsigned char ns[16] = {0x6b, 0x1f, 0x2e, 0x43, 0x8c, 0x55, 0x4d, 0x1a,
					     0x9e, 0x07, 0x3b, 0x5c, 0x21, 0xd4, 0x80, 0x9f};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, ns, sizeof(ns)) &&
	     EVP_DigestUpdate(ctx, name, strlen(name)) && EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok || len < 16)
		return -EIO;
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
		 md[11], md[12], md[13], md[14], md[15]);
	return 0;
}

static bool is_set(const struct herd_settings *s, const char *name)
{
	const struct settings_key *key = settings_key_find(name);

	return key && settings_is_set(s, key);
}

/* The passphrase from wifi.psk or the file wifi.psk_file (first line). */
int network_wifi_key(const struct herd_settings *s, char psk[65], struct herd_error *err)
{
	_cleanup_free_ char *text = NULL;
	const char *pass = s->wifi_psk;
	int r;

	if (!pass && s->wifi_psk_file) {
		r = recipe_read_local(s->wifi_psk_file, 4096, &text, NULL, err);
		if (r < 0)
			return herd_error_prefix(err, -r, "wifi.psk_file");
		text[strcspn(text, "\r\n")] = '\0';
		pass = text;
	}
	if (!pass)
		return herd_error_set(err, EINVAL,
				      "wifi.ssid: no passphrase (set wifi.psk or wifi.psk_file); "
				      "open networks are not supported");
	r = recipe_wpa_psk(pass, s->wifi_ssid, psk);
	if (r == -EINVAL)
		return herd_error_set(err, EINVAL,
				      "wifi.psk: a WPA passphrase is 8 to 63 printable ASCII "
				      "characters (or 64 hex digits), this one has %zu",
				      strlen(pass));
	if (r < 0)
		return herd_error_set(err, -r, "wifi.psk: PBKDF2 failed");
	return 0;
}

/* A keyfile value: GKeyFile escapes for backslash and leading blanks. */
static void keyfile_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; in[i] && o + 3 < len; i++) {
		if (in[i] == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (i == 0 && in[i] == ' ') {
			out[o++] = '\\';
			out[o++] = 's';
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

static void format_dns(const struct herd_settings *s, const char *sep, bool trailing, char *buf,
		       size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->dns.count && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? sep : "", s->dns.items[i]);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
	if (trailing && o && o + 1 < len) {
		buf[o++] = sep[0];
		buf[o] = '\0';
	}
}

static int nm_wifi(struct recipe *r, const struct herd_settings *s, const char *psk,
		   struct herd_error *err)
{
	char uuid[37], ssid[128], file[64], path[256], text[2048];
	int k;

	keyfile_escape(s->wifi_ssid, ssid, sizeof(ssid));
	snprintf(file, sizeof(file), "%s", s->wifi_ssid);
	for (char *p = file; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	snprintf(path, sizeof(path), NM_DIR "/%s.nmconnection", file);
	snprintf(text, sizeof(text), "wifi:%s", s->wifi_ssid);
	if (recipe_uuid_v5(text, uuid) < 0)
		return herd_error_set(err, EIO, "wifi: cannot make a UUID");
	snprintf(text, sizeof(text),
		 "[connection]\n"
		 "id=%s\n"
		 "uuid=%s\n"
		 "type=wifi\n"
		 "\n"
		 "[wifi]\n"
		 "mode=infrastructure\n"
		 "ssid=%s\n"
		 "%s"
		 "\n"
		 "[wifi-security]\n"
		 "auth-alg=open\n"
		 "key-mgmt=wpa-psk\n"
		 "psk=%s\n"
		 "\n"
		 "[ipv4]\n"
		 "method=auto\n"
		 "\n"
		 "[ipv6]\n"
		 "addr-gen-mode=default\n"
		 "method=auto\n"
		 "\n"
		 "[proxy]\n",
		 ssid, uuid, ssid, s->wifi_hidden ? "hidden=true\n" : "", psk);
	k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wifi.ssid", NM_DIR, NULL, 0, NULL, 0, 0755, 0,
		       0);
	if (k >= 0)
		k = recipe_add_text(r, "wifi.ssid", RECIPE_ROOT, path, text, 0600, 0, 0);
	return k;
}

static int nm_static(struct recipe *r, const struct herd_settings *s, const char *addr,
		     const char *gw, const char *dns, struct herd_error *err)
{
	char uuid[37], text[2048], a1[128];

	if (recipe_uuid_v5("ethernet:eth0", uuid) < 0)
		return herd_error_set(err, EIO, "ipaddr: cannot make a UUID");
	snprintf(a1, sizeof(a1), "%s%s%s", addr, gw[0] ? "," : "", gw);
	snprintf(text, sizeof(text),
		 "[connection]\n"
		 "id=eth0\n"
		 "uuid=%s\n"
		 "type=ethernet\n"
		 "interface-name=eth0\n"
		 "autoconnect-priority=100\n"
		 "\n"
		 "[ethernet]\n"
		 "\n"
		 "[ipv4]\n"
		 "method=manual\n"
		 "address1=%s\n"
		 "%s%s%s"
		 "\n"
		 "[ipv6]\n"
		 "addr-gen-mode=default\n"
		 "method=auto\n"
		 "\n"
		 "[proxy]\n",
		 uuid, a1, dns[0] ? "dns=" : "", dns, dns[0] ? "\n" : "");
	int k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "ipaddr", NM_DIR, NULL, 0, NULL, 0, 0755,
			   0, 0);
	if (k >= 0)
		k = recipe_add_text(r, "ipaddr", RECIPE_ROOT, NM_DIR "/eth0.nmconnection", text,
				    0600, 0, 0);
	return k;
}

/* SSID for wpa_supplicant.conf: quoted, or hex when quoting cannot carry it. */
static void wpa_ssid(const char *ssid, char *buf, size_t len)
{
	if (!strchr(ssid, '"')) {
		snprintf(buf, len, "\"%s\"", ssid);
		return;
	}
	size_t o = 0;
	for (size_t i = 0; ssid[i] && o + 3 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%02x", (unsigned char)ssid[i]);
}

static void wpa_conf(const struct herd_settings *s, const char *psk, char *buf, size_t len)
{
	char ssid[80], country[32] = "";

	wpa_ssid(s->wifi_ssid, ssid, sizeof(ssid));
	if (s->wifi_country)
		snprintf(country, sizeof(country), "country=%s\n", s->wifi_country);
	snprintf(buf, len,
		 "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\n"
		 "update_config=1\n"
		 "%s"
		 "\n"
		 "network={\n"
		 "\tssid=%s\n"
		 "%s"
		 "\tpsk=%s\n"
		 "}\n",
		 country, ssid, s->wifi_hidden ? "\tscan_ssid=1\n" : "", psk);
}

static int netplan(struct recipe *r, const struct herd_settings *s, bool wifi, const char *psk,
		   bool addr_set, const char *addr, const char *gw, const char *dns)
{
	char text[4096], eth[1024] = "", wl[1024] = "", ssid[80];
	size_t o = 0;

	if (addr_set) {
		o += (size_t)snprintf(eth + o, sizeof(eth) - o,
				      "  ethernets:\n"
				      "    eth0:\n"
				      "      dhcp4: false\n"
				      "      addresses: [%s]\n",
				      addr);
		if (gw[0])
			o += (size_t)snprintf(eth + o, sizeof(eth) - o,
					      "      routes:\n"
					      "        - to: default\n"
					      "          via: %s\n",
					      gw);
		if (dns[0] && o < sizeof(eth))
			snprintf(eth + o, sizeof(eth) - o,
				 "      nameservers:\n"
				 "        addresses: [%s]\n",
				 dns);
	}
	if (wifi) {
		/* YAML double-quoted scalar: escape backslash and quote. */
		size_t q = 0;
		for (const char *p = s->wifi_ssid; *p && q + 3 < sizeof(ssid); p++) {
			if (*p == '"' || *p == '\\')
				ssid[q++] = '\\';
			ssid[q++] = *p;
		}
		ssid[q] = '\0';
		char country[64] = "";
		if (s->wifi_country)
			snprintf(country, sizeof(country), "      regulatory-domain: \"%s\"\n",
				 s->wifi_country);
		snprintf(wl, sizeof(wl),
			 "  wifis:\n"
			 "    wlan0:\n"
			 "      dhcp4: true\n"
			 "%s"
			 "      access-points:\n"
			 "        \"%s\":\n"
			 "          password: \"%s\"\n"
			 "%s",
			 country, ssid, psk, s->wifi_hidden ? "          hidden: true\n" : "");
	}
	snprintf(text, sizeof(text), "# Written by herd.\nnetwork:\n  version: 2\n%s%s", eth, wl);
	int k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, wifi ? "wifi.ssid" : "ipaddr",
			   "/etc/netplan", NULL, 0, NULL, 0, 0755, 0, 0);
	if (k >= 0)
		k = recipe_add_text(r, wifi ? "wifi.ssid" : "ipaddr", RECIPE_ROOT,
				    "/etc/netplan/90-herd.yaml", text, 0600, 0, 0);
	return k;
}

static int networkd(struct recipe *r, const struct herd_settings *s, bool wifi, const char *psk,
		    bool addr_set, const char *addr, const char *gw, const char *dns)
{
	char text[4096];
	int k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, addr_set ? "ipaddr" : "wifi.ssid",
			   "/etc/systemd/network", NULL, 0, NULL, 0, 0755, 0, 0);

	if (k >= 0 && addr_set) {
		char g[96] = "", d[512] = "";
		if (gw[0])
			snprintf(g, sizeof(g), "Gateway=%s\n", gw);
		if (dns[0])
			snprintf(d, sizeof(d), "DNS=%s\n", dns);
		snprintf(text, sizeof(text), "[Match]\nName=eth0\n\n[Network]\nAddress=%s\n%s%s",
			 addr, g, d);
		k = recipe_add_text(r, "ipaddr", RECIPE_ROOT,
				    "/etc/systemd/network/10-herd-eth0.network", text, 0644, 0, 0);
	}
	if (k >= 0 && wifi) {
		wpa_conf(s, psk, text, sizeof(text));
		k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wifi.ssid", "/etc/wpa_supplicant",
			       NULL, 0, NULL, 0, 0755, 0, 0);
		if (k >= 0)
			k = recipe_add_text(r, "wifi.ssid", RECIPE_ROOT,
					    "/etc/wpa_supplicant/wpa_supplicant-wlan0.conf", text,
					    0600, 0, 0);
		if (k >= 0)
			k = recipe_add_text(r, "wifi.ssid", RECIPE_ROOT,
					    "/etc/systemd/network/11-herd-wlan0.network",
					    "[Match]\nName=wlan0\n\n[Network]\nDHCP=yes\n", 0644, 0,
					    0);
		if (k >= 0)
			k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wifi.ssid",
				       "/etc/systemd/system/multi-user.target.wants", NULL, 0, NULL,
				       0, 0755, 0, 0);
		if (k >= 0)
			k = recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "wifi.ssid",
				       "/etc/systemd/system/multi-user.target.wants/"
				       "wpa_supplicant@wlan0.service",
				       "/lib/systemd/system/wpa_supplicant@.service", 0, NULL, 0, 0,
				       0, 0);
	}
	return k;
}

/* The regulatory domain on the kernel command line, as Imager does. */
static int regdom(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s)
{
	struct vfs_stat st;
	char word[64];

	if (!s->wifi_country)
		return recipe_warn(r, "wifi.country is not set: the Wi-Fi may stay blocked until a "
				      "regulatory domain is set");
	if (!t->boot || vfs_stat(t->boot, "/cmdline.txt", &st, NULL) < 0)
		return recipe_warn(r, "wifi.country: no cmdline.txt on a boot partition; "
				      "the regulatory domain was not set");
	snprintf(word, sizeof(word), "cfg80211.ieee80211_regdom=%s", s->wifi_country);
	return recipe_add(r, RECIPE_SET_WORD, RECIPE_BOOT, "wifi.country", "/cmdline.txt", word, 0,
			  "cfg80211.ieee80211_regdom=", 0, 0755, 0, 0);
}

int network_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		 struct herd_error *err)
{
	bool wifi = s->wifi_ssid != NULL, addr_set = is_set(s, "ipaddr");
	char psk[65] = "", addr[64] = "", gw[64] = "", dns_nm[512], dns_sp[512], dns_comma[512];
	int k = 0;

	if (!wifi && !addr_set)
		return 0;
	if (wifi) {
		if (!validate_wifi_ssid(s->wifi_ssid))
			return herd_error_set(err, EINVAL, "wifi.ssid: '%s' is not a valid SSID",
					      s->wifi_ssid);
		k = network_wifi_key(s, psk, err);
		if (k < 0)
			return k;
	}
	if (addr_set) {
		settings_format_ipv4(&s->ipaddr, true, addr, sizeof(addr));
		if (is_set(s, "network.gateway"))
			settings_format_ipv4(&s->gateway, false, gw, sizeof(gw));
	}
	format_dns(s, ";", true, dns_nm, sizeof(dns_nm));
	format_dns(s, " ", false, dns_sp, sizeof(dns_sp));
	format_dns(s, ", ", false, dns_comma, sizeof(dns_comma));

	switch (r->network) {
	case RECIPE_NET_NETWORKMANAGER:
		if (wifi)
			k = nm_wifi(r, s, psk, err);
		if (k >= 0 && addr_set)
			k = nm_static(r, s, addr, gw, dns_nm, err);
		if (k >= 0 && wifi)
			k = regdom(r, t, s);
		break;
	case RECIPE_NET_DHCPCD:
		if (wifi) {
			char text[2048];
			wpa_conf(s, psk, text, sizeof(text));
			k = recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wifi.ssid",
				       "/etc/wpa_supplicant", NULL, 0, NULL, 0, 0755, 0, 0);
			if (k >= 0)
				k = recipe_add_text(r, "wifi.ssid", RECIPE_ROOT,
						    "/etc/wpa_supplicant/wpa_supplicant.conf", text,
						    0600, 0, 0);
		}
		if (k >= 0 && addr_set) {
			char block[1024], g[96] = "", d[600] = "";
			if (gw[0])
				snprintf(g, sizeof(g), "static routers=%s\n", gw);
			if (dns_sp[0])
				snprintf(d, sizeof(d), "static domain_name_servers=%s\n", dns_sp);
			snprintf(block, sizeof(block), "interface eth0\nstatic ip_address=%s\n%s%s",
				 addr, g, d);
			k = recipe_add(r, RECIPE_SET_LINE, RECIPE_ROOT, "ipaddr",
				       "/etc/dhcpcd.conf", block, 0, "herd eth0",
				       RECIPE_LINE_BLOCK | RECIPE_LINE_CREATE, 0644, 0, 0);
		}
		break;
	case RECIPE_NET_NETPLAN:
		k = netplan(r, s, wifi, psk, addr_set, addr, gw, dns_comma);
		break;
	case RECIPE_NET_NETWORKD:
		k = networkd(r, s, wifi, psk, addr_set, addr, gw, dns_sp);
		break;
	case RECIPE_NET_NONE:
		k = recipe_warn(r,
				"no network stack found in the image (NetworkManager, dhcpcd, "
				"netplan, systemd-networkd): skipped %s%s%s",
				wifi ? "wifi" : "", wifi && addr_set ? ", " : "",
				addr_set ? "ipaddr" : "");
		break;
	}
	if (k < 0 && err && !err->message[0])
		herd_error_set(err, -k, "network: out of memory");
	return k < 0 ? k : 0;
}
