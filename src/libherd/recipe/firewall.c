/*
 * firewall.c — firewall.allow as an nftables ruleset: /etc/nftables.conf
 * (Debian's nftables.service loads it with `nft -f` at boot) and the
 * service enabled.
 *
 * The ruleset is Debian's default file shape (an inet table named filter
 * with input, forward and output base chains; nft(8) "ADDRESS FAMILIES",
 * "CHAINS") with a closed input chain:
 *
 *   policy drop; replies (ct state established,related) accepted, invalid
 *   packets dropped, loopback accepted, ICMP and ICMPv6 accepted (IPv6
 *   needs neighbour discovery; RFC 4890 recommends not filtering it
 *   blindly), then one rule per protocol with the allowed ports as an
 *   anonymous set.
 *
 * Forward and output keep policy accept, as in Debian's default file: this
 * setting is about what may reach the host.  Ports are merged (an nft
 * interval set refuses overlapping elements) and sorted, so the file is
 * the same for the same set of ports in any order.  When SSH is on (the
 * ssh.enabled setting, or the image already enables ssh.service) and the
 * list does not cover 22/tcp, 22/tcp is added so the rules cannot lock the
 * fleet out.  Not here: outbound filtering, rate limits, per-source rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define NFTABLES_CONF "/etc/nftables.conf"
#define MAX_RANGES    1024

struct port_span {
	unsigned first, last;
};

static int cmp_range(const void *a, const void *b)
{
	const struct port_span *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first ? 1 : (int)x->last - (int)y->last;
}

/* Sort and merge overlapping or adjacent ranges in place. */
static size_t merge(struct port_span *v, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if (v[i].first <= v[o].last + 1) {
			if (v[i].last > v[o].last)
				v[o].last = v[i].last;
		} else {
			v[++o] = v[i];
		}
	}
	return o + 1;
}

static void put_set(char *buf, size_t len, size_t *pos, const char *proto,
		    const struct port_span *v, size_t n)
{
	if (n == 0)
		return;
	*pos += (size_t)snprintf(buf + *pos, len - *pos, "\t\t%s dport { ", proto);
	for (size_t i = 0; i < n && *pos < len; i++) {
		if (v[i].first == v[i].last)
			*pos += (size_t)snprintf(buf + *pos, len - *pos, "%s%u", i ? ", " : "",
						 v[i].first);
		else
			*pos += (size_t)snprintf(buf + *pos, len - *pos, "%s%u-%u", i ? ", " : "",
						 v[i].first, v[i].last);
	}
	if (*pos < len)
		*pos += (size_t)snprintf(buf + *pos, len - *pos, " } accept\n");
}

int recipe_firewall_render(const struct strv *allow, bool add_ssh, char **ret,
			   struct herd_error *err)
{
	static const char head[] =
	    "#!/usr/sbin/nft -f\n"
	    "# Written by herd from firewall.allow: inbound traffic is dropped except\n"
	    "# replies, loopback, ICMP/ICMPv6 and the ports listed below.\n"
	    "\n"
	    "flush ruleset\n"
	    "\n"
	    "table inet filter {\n"
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter; policy drop;\n"
	    "\t\tct state established,related accept\n"
	    "\t\tct state invalid drop\n"
	    "\t\tiifname \"lo\" accept\n"
	    "\t\tmeta l4proto { icmp, ipv6-icmp } accept\n";
	static const char tail[] = "\t}\n"
				   "\tchain forward {\n"
				   "\t\ttype filter hook forward priority filter; policy accept;\n"
				   "\t}\n"
				   "\tchain output {\n"
				   "\t\ttype filter hook output priority filter; policy accept;\n"
				   "\t}\n"
				   "}\n";
	struct port_span *tcp, *udp;
	size_t ntcp = 0, nudp = 0, len, pos;
	char *buf;

	if (allow->count > MAX_RANGES)
		return herd_error_set(err, E2BIG, "firewall.allow: more than %d entries",
				      MAX_RANGES);
	tcp = calloc(allow->count + 1, sizeof(*tcp));
	udp = calloc(allow->count + 1, sizeof(*udp));
	if (!tcp || !udp) {
		free(tcp);
		free(udp);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < allow->count; i++) {
		struct herd_port_range pr;
		if (validate_port_spec(allow->items[i], &pr) < 0) {
			free(tcp);
			free(udp);
			return herd_error_set(err, EINVAL,
					      "firewall.allow: '%s' is not a port, range or "
					      "port/proto",
					      allow->items[i]);
		}
		if (pr.tcp)
			tcp[ntcp++] = (struct port_span){pr.first, pr.last};
		if (pr.udp)
			udp[nudp++] = (struct port_span){pr.first, pr.last};
	}
	ntcp = merge(tcp, ntcp);
	nudp = merge(udp, nudp);
	if (add_ssh) {
		bool covered = false;
		for (size_t i = 0; i < ntcp; i++)
			covered |= tcp[i].first <= 22 && tcp[i].last >= 22;
		if (!covered) {
			tcp[ntcp++] = (struct port_span){22, 22};
			ntcp = merge(tcp, ntcp);
		}
	}
	/* Each range prints in at most 13 bytes ("65535-65535, "). */
	len = sizeof(head) + sizeof(tail) + 80 + 14 * (ntcp + nudp);
	buf = malloc(len);
	if (!buf) {
		free(tcp);
		free(udp);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	memcpy(buf, head, sizeof(head) - 1);
	pos = sizeof(head) - 1;
	put_set(buf, len, &pos, "tcp", tcp, ntcp);
	put_set(buf, len, &pos, "udp", udp, nudp);
	memcpy(buf + pos, tail, sizeof(tail));
	free(tcp);
	free(udp);
	*ret = buf;
	return 0;
}

/* Is sshd on after this recipe: the setting, or the image as it is. */
static bool ssh_on(const struct recipe_target *t, const struct herd_settings *s)
{
	const struct settings_key *key = settings_key_find("ssh.enabled");
	struct vfs_stat st;

	if (key && settings_is_set(s, key))
		return s->ssh_enabled;
	return vfs_lstat(t->root, "/etc/systemd/system/multi-user.target.wants/ssh.service", &st,
			 NULL) == 0 ||
	       vfs_lstat(t->root, "/etc/systemd/system/multi-user.target.wants/sshd.service", &st,
			 NULL) == 0 ||
	       (t->boot && vfs_lstat(t->boot, "/ssh", &st, NULL) == 0);
}

int firewall_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		  struct herd_error *err)
{
	_cleanup_free_ char *conf = NULL;
	int k;

	if (s->firewall_allow.count == 0)
		return 0;
	if (strv_contains(&s->systemd_disable, "nftables.service") ||
	    strv_contains(&s->systemd_mask, "nftables.service"))
		return herd_error_set(
		    err, EINVAL,
		    "firewall.allow needs nftables.service, which systemd.%s "
		    "lists",
		    strv_contains(&s->systemd_mask, "nftables.service") ? "mask" : "disable");
	k = recipe_firewall_render(&s->firewall_allow, ssh_on(t, s), &conf, err);
	if (k < 0)
		return k;
	if (recipe_add_text(r, "firewall.allow", RECIPE_ROOT, NFTABLES_CONF, conf, 0755, 0, 0) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	k = units_enable(r, t->root, "firewall.allow", "nftables.service", err);
	if (k == -ENOENT)
		return herd_error_set(err, ENOENT,
				      "firewall.allow: the image has no nftables.service (install "
				      "the nftables package in the image first)");
	return k;
}
