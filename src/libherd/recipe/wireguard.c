/*
 * wireguard.c — wireguard.* as interface wg0: a NetworkManager keyfile
 * where the image runs NetworkManager (bookworm and later), else a
 * wg-quick configuration with wg-quick@wg0.service enabled.
 *
 * Keys are Curve25519 (RFC 7748 X25519) in WireGuard's base64 text form
 * (wg(8): `wg genkey`, `wg pubkey`).  The private key is, in order: the
 * file named by wireguard.private_key_file; the key already in the
 * image's wg0 configuration (so a second run writes the same bytes and a
 * re-customized node keeps its identity); or a new one from OpenSSL's
 * CSPRNG.  The public key goes to recipe->wireguard_public_key for the
 * CLI to print; the private key never leaves the image's 0600 file (it is
 * in no message and no operation description).
 *
 * File formats: NetworkManager's nm-settings-keyfile(5) with the
 * [wireguard] and [wireguard-peer.<public key>] groups of
 * nm-settings-nmcli(5); wg-quick(8)'s [Interface]/[Peer] file.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define WG_IF	     "wg0"
#define NM_WG_FILE   "/etc/NetworkManager/system-connections/" WG_IF ".nmconnection"
#define QUICK_DIR    "/etc/wireguard"
#define QUICK_FILE   QUICK_DIR "/" WG_IF ".conf"
#define TEXT_MAX     (64u << 10)
#define KEY_FILE_MAX 4096

/* ---- keys ------------------------------------------------------------------- */

static int b64_encode32(const unsigned char in[32], char out[45])
{
	if (EVP_EncodeBlock((unsigned char *)out, in, 32) != 44)
		return -EIO;
	out[44] = '\0';
	return 0;
}

static int b64_decode32(const char *in, unsigned char out[32])
{
	unsigned char buf[33];

	if (!validate_wg_key(in))
		return -EINVAL;
	/* 44 characters decode to 33 bytes, the last being the pad's zero. */
	if (EVP_DecodeBlock(buf, (const unsigned char *)in, 44) != 33)
		return -EINVAL;
	memcpy(out, buf, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

int recipe_wg_public_key(const char *private_b64, char ret[45])
{
	unsigned char priv[32], pub[32];
	size_t publen = sizeof(pub);
	EVP_PKEY *key;
	int r = 0;

	if (b64_decode32(private_b64, priv) < 0)
		return -EINVAL;
	/* X25519 clamps the scalar itself (RFC 7748 §5), as wg pubkey does. */
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv));
	OPENSSL_cleanse(priv, sizeof(priv));
	if (!key)
		return -EIO;
	if (EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1 || publen != 32)
		r = -EIO;
	EVP_PKEY_free(key);
	if (r == 0)
		r = b64_encode32(pub, ret);
	return r;
}

int recipe_wg_generate_key(char ret[45])
{
	unsigned char priv[32];
	int r;

	if (RAND_priv_bytes(priv, sizeof(priv)) != 1)
		return -EIO;
	/* Clamp as `wg genkey` does (RFC 7748 §5 decodeScalar25519), so the
	 * stored key is the canonical form other tools print. */
	priv[0] &= 248;
	priv[31] = (unsigned char)((priv[31] & 127) | 64);
	r = b64_encode32(priv, ret);
	OPENSSL_cleanse(priv, sizeof(priv));
	return r;
}

/* The value after `prefix` on a line of `text` (trimmed), if it is a key. */
static bool find_key(const char *text, const char *name, char ret[45])
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *s = p;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, name, n) != 0)
			continue;
		s += n;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '=')
			continue;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strcspn(s, " \t\r\n");
		if (len != 44)
			continue;
		char key[45];
		memcpy(key, s, 44);
		key[44] = '\0';
		if (validate_wg_key(key)) {
			memcpy(ret, key, 45);
			OPENSSL_cleanse(key, sizeof(key));
			return true;
		}
	}
	return false;
}

/* The private key, in the order the file comment gives. */
static int private_key(struct recipe *r, const struct recipe_target *t,
		       const struct herd_settings *s, char ret[45], struct herd_error *err)
{
	_cleanup_free_ char *text = NULL;
	int k;

	if (s->wireguard_private_key_file) {
		size_t len = 0;
		k = recipe_read_local(s->wireguard_private_key_file, KEY_FILE_MAX, &text, &len,
				      err);
		if (k < 0)
			return herd_error_prefix(err, -k, "wireguard.private_key_file");
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
			       text[len - 1] == ' ' || text[len - 1] == '\t'))
			text[--len] = '\0';
		k = validate_wg_key(text) ? 0 : -EINVAL;
		if (k == 0)
			memcpy(ret, text, 45);
		OPENSSL_cleanse(text, len);
		if (k < 0)
			return herd_error_set(
			    err, EINVAL,
			    "wireguard.private_key_file: %s: not a WireGuard "
			    "private key (one line of base64, as from 'wg genkey')",
			    s->wireguard_private_key_file);
		return 0;
	}
	if (vfs_read_all(t->root, NM_WG_FILE, TEXT_MAX, &text, NULL, NULL) == 0) {
		bool found = find_key(text, "private-key", ret);
		OPENSSL_cleanse(text, strlen(text));
		if (found)
			return 0;
	}
	free(text);
	text = NULL;
	if (vfs_read_all(t->root, QUICK_FILE, TEXT_MAX, &text, NULL, NULL) == 0) {
		bool found = find_key(text, "PrivateKey", ret);
		OPENSSL_cleanse(text, strlen(text));
		if (found)
			return 0;
	}
	if (recipe_wg_generate_key(ret) < 0)
		return herd_error_set(err, EIO, "wireguard: cannot generate a key");
	r->wireguard_key_generated = true;
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void __attribute__((format(printf, 2, 3))) add(struct text *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (!b->p || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void text_wipe(struct text *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	b->p = NULL;
}

/* allowed_ips "a,b" in NetworkManager's list form "a;b;". */
static void add_nm_list(struct text *b, const char *list)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		add(b, "%.*s;", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
}

static int render_nm(struct text *b, const struct herd_settings *s, const char *priv,
		     const struct herd_wg_peer *peers, size_t npeers, bool v6)
{
	char uuid[37];

	if (recipe_uuid_v5("wireguard:" WG_IF, uuid) < 0)
		return -EIO;
	add(b,
	    "# Written by herd (wireguard.*)\n"
	    "[connection]\n"
	    "id=" WG_IF "\n"
	    "uuid=%s\n"
	    "type=wireguard\n"
	    "interface-name=" WG_IF "\n"
	    "autoconnect=true\n"
	    "\n"
	    "[wireguard]\n",
	    uuid);
	if (s->wireguard_listen_port)
		add(b, "listen-port=%s\n", s->wireguard_listen_port);
	add(b, "private-key=%s\n", priv);
	for (size_t i = 0; i < npeers; i++) {
		add(b, "\n[wireguard-peer.%s]\n", peers[i].public_key);
		if (peers[i].endpoint[0])
			add(b, "endpoint=%s\n", peers[i].endpoint);
		add(b, "allowed-ips=");
		add_nm_list(b, peers[i].allowed_ips);
		add(b, "\n");
		if (peers[i].has_keepalive)
			add(b, "persistent-keepalive=%u\n", peers[i].keepalive);
	}
	if (v6)
		add(b,
		    "\n[ipv4]\nmethod=disabled\n"
		    "\n[ipv6]\naddr-gen-mode=default\naddress1=%s\nmethod=manual\n",
		    s->wireguard_address);
	else
		add(b,
		    "\n[ipv4]\naddress1=%s\nmethod=manual\n"
		    "\n[ipv6]\naddr-gen-mode=default\nmethod=disabled\n",
		    s->wireguard_address);
	return b->oom ? -ENOMEM : 0;
}

static int render_quick(struct text *b, const struct herd_settings *s, const char *priv,
			const struct herd_wg_peer *peers, size_t npeers)
{
	add(b,
	    "# Written by herd (wireguard.*)\n"
	    "[Interface]\n"
	    "Address = %s\n",
	    s->wireguard_address);
	if (s->wireguard_listen_port)
		add(b, "ListenPort = %s\n", s->wireguard_listen_port);
	add(b, "PrivateKey = %s\n", priv);
	for (size_t i = 0; i < npeers; i++) {
		add(b, "\n[Peer]\nPublicKey = %s\nAllowedIPs = ", peers[i].public_key);
		for (const char *p = peers[i].allowed_ips; *p;) {
			size_t n = strcspn(p, ",");
			add(b, "%s%.*s", p == peers[i].allowed_ips ? "" : ", ", (int)n, p);
			p += n + (p[n] ? 1 : 0);
		}
		add(b, "\n");
		if (peers[i].endpoint[0])
			add(b, "Endpoint = %s\n", peers[i].endpoint);
		if (peers[i].has_keepalive)
			add(b, "PersistentKeepalive = %u\n", peers[i].keepalive);
	}
	return b->oom ? -ENOMEM : 0;
}

static bool wireguard_asked(const struct herd_settings *s)
{
	return s->wireguard_address || s->wireguard_private_key_file || s->wireguard_listen_port ||
	       s->wireguard_peers.count;
}

int wireguard_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		   struct herd_error *err)
{
	struct herd_wg_peer *peers = NULL;
	struct text b = {0};
	char priv[45], why[200];
	bool v6 = false;
	int k;

	if (!wireguard_asked(s))
		return 0;
	if (!s->wireguard_address)
		return herd_error_set(
		    err, EINVAL,
		    "wireguard: wireguard.address (--wg-address ADDR/N) is needed "
		    "for the interface");
	if (validate_cidr(s->wireguard_address, &v6) < 0)
		return herd_error_set(err, EINVAL, "wireguard.address: '%s' is not ADDR/N",
				      s->wireguard_address);
	if (s->wireguard_peers.count) {
		peers = calloc(s->wireguard_peers.count, sizeof(*peers));
		if (!peers)
			return herd_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->wireguard_peers.count; i++) {
		if (validate_wg_peer(s->wireguard_peers.items[i], &peers[i], why, sizeof(why)) <
		    0) {
			free(peers);
			return herd_error_set(err, EINVAL, "wireguard.peers[%zu]: %s", i, why);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(peers[j].public_key, peers[i].public_key) == 0) {
				free(peers);
				return herd_error_set(
				    err, EINVAL,
				    "wireguard.peers[%zu]: the same public key as "
				    "peer %zu",
				    i, j);
			}
	}
	k = private_key(r, t, s, priv, err);
	if (k == 0 && recipe_wg_public_key(priv, r->wireguard_public_key) < 0)
		k = herd_error_set(err, EINVAL, "wireguard: the private key is not usable");
	if (k < 0) {
		free(peers);
		OPENSSL_cleanse(priv, sizeof(priv));
		return k;
	}
	if (r->network == RECIPE_NET_NETWORKMANAGER) {
		k = render_nm(&b, s, priv, peers, s->wireguard_peers.count, v6);
		if (k == 0 &&
		    (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wireguard",
				"/etc/NetworkManager/system-connections", NULL, 0, NULL, 0, 0755, 0,
				0) < 0 ||
		     recipe_add_text(r, "wireguard", RECIPE_ROOT, NM_WG_FILE, b.p, 0600, 0, 0) < 0))
			k = -ENOMEM;
	} else {
		k = render_quick(&b, s, priv, peers, s->wireguard_peers.count);
		if (k == 0 &&
		    (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "wireguard", QUICK_DIR, NULL, 0, NULL,
				0, 0700, 0, 0) < 0 ||
		     recipe_add(r, RECIPE_CHMOD, RECIPE_ROOT, "wireguard", QUICK_DIR, NULL, 0, NULL,
				0, 0700, 0, 0) < 0 ||
		     recipe_add_text(r, "wireguard", RECIPE_ROOT, QUICK_FILE, b.p, 0600, 0, 0) < 0))
			k = -ENOMEM;
	}
	text_wipe(&b);
	OPENSSL_cleanse(priv, sizeof(priv));
	free(peers);
	if (k < 0)
		return herd_error_set(err, -k, "wireguard: out of memory");
	if (r->network != RECIPE_NET_NETWORKMANAGER) {
		k = units_enable(r, t->root, "wireguard", "wg-quick@" WG_IF ".service", err);
		if (k == -ENOENT)
			return herd_error_set(err, ENOENT,
					      "wireguard: the image has no wg-quick@.service and "
					      "no NetworkManager (install wireguard-tools in the "
					      "image first)");
		if (k < 0)
			return k;
	}
	return 0;
}
