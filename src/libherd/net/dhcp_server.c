/*
 * dhcp_server.c — the DHCP request handler: packet in, reply out (see
 * dhcp.h).  No sockets, no clock of its own.
 *
 * Server mode follows RFC 2131 §4.3: DISCOVER picks an address (static
 * lease, the client's current one, the one it asks for, a never-used one,
 * the longest-expired) and holds it for DHCP_OFFER_HOLD_SECONDS; REQUEST
 * is told apart by its fields (§4.3.2: SELECTING has option 54,
 * INIT-REBOOT option 50 only, RENEWING/REBINDING ciaddr only) and ACKed or
 * NAKed; DECLINE quarantines the address; RELEASE frees it; INFORM gets
 * options only.  With config.probe_ms, a DISCOVER for an address nobody
 * holds is deferred (DHCP_HANDLE_PROBE) until the front end has asked the
 * link who has it; an answer quarantines the address like a DECLINE.  The
 * Pi 3 ROM never sends REQUEST, so its OFFER already binds the lease
 * (netboot notes).
 *
 * Proxy mode (PXE 2.1 §2.2.4, "proxyDHCP") answers a PXE client's
 * DISCOVER with an OFFER without an address, carrying only the boot
 * information, and never a non-PXE client.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "net/dhcp.h"
#include "net/dhcp_private.h"
#include "net/dhcp_pxe.h"
#include "net/netlog.h"

__attribute__((format(printf, 3, 4))) static void
logf_(struct dhcp_server *s, enum netlog_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	netlogv(s->log, level, "dhcp", fmt, ap);
	va_end(ap);
}

static const char *client_label(const struct dhcp_client_info *c, char *buf, size_t size)
{
	char mac[18];
	dhcp_mac_string(c->mac, mac);
	if (c->pi != DHCP_PI_NONE && c->serial[0])
		snprintf(buf, size, "%s (%s, serial %s)", mac, dhcp_pi_model_name(c->pi),
			 c->serial);
	else if (c->pi != DHCP_PI_NONE)
		snprintf(buf, size, "%s (%s)", mac, dhcp_pi_model_name(c->pi));
	else if (c->pxe)
		snprintf(buf, size, "%s (PXE)", mac);
	else
		snprintf(buf, size, "%s", mac);
	return buf;
}

int dhcp_server_create(const struct dhcp_config *config, const struct netlog *log,
		       struct dhcp_server **ret, struct herd_error *err)
{
	struct dhcp_server *s;
	const char *menu;
	int r;

	r = dhcp_config_validate(config, err);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return herd_error_set(err, ENOMEM, "out of memory");
	s->config = *config;
	s->config.statics = NULL;
	s->config.static_count = 0;
	s->config.db_path = NULL;
	if (s->config.lease_time == 0)
		s->config.lease_time = DHCP_DEFAULT_LEASE_TIME;
	if (s->config.tftp_server == 0)
		s->config.tftp_server = s->config.server_ip;
	s->log = log;
	s->fd = -1;
	dhcp_ip_string(s->config.tftp_server, s->tftp_string);

	menu = config->pxe_menu_text[0] ? config->pxe_menu_text : DHCP_PXE_MENU_TEXT;
	r = dhcp_pxe_menu(menu, s->pxe_menu, sizeof(s->pxe_menu));
	if (r < 0) {
		free(s);
		return herd_error_set(err, -r, "PXE menu text '%s' must be 1..64 bytes", menu);
	}
	s->pxe_menu_length = (size_t)r;
	menu = config->pxe_menu_text[0] ? config->pxe_menu_text : DHCP_PXE_MENU_TEXT_PI3B;
	r = dhcp_pxe_menu(menu, s->pxe_menu_pi3b, sizeof(s->pxe_menu_pi3b));
	s->pxe_menu_pi3b_length = (size_t)r;

	if (config->mode == DHCP_MODE_SERVER) {
		r = dhcp_leases_open(config->db_path, config->range_first, config->range_last,
				     config->statics, config->static_count, &s->leases, err);
	} else {
		/* Proxy mode keeps no leases, only the clients table. */
		r = dhcp_leases_open(config->db_path, 1, 1, NULL, 0, &s->leases, err);
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	dhcp_socket_close(s);
	dhcp_leases_free(s->leases);
	free(s);
}

struct dhcp_leases *dhcp_server_leases(struct dhcp_server *s)
{
	return s->leases;
}

const struct dhcp_config *dhcp_server_config(const struct dhcp_server *s)
{
	return &s->config;
}

const struct dhcp_stats *dhcp_server_stats(const struct dhcp_server *s)
{
	return &s->stats;
}

int dhcp_server_commit(struct dhcp_server *s, struct herd_error *err)
{
	return dhcp_leases_commit(s->leases, err);
}

/* Largest reply the client accepts (option 57, RFC 2132 §9.10), as DHCP
 * payload: the option counts the IP and UDP headers. */
static size_t reply_capacity(const struct dhcp_packet *p)
{
	uint16_t max;
	size_t cap = DHCP_REPLY_MIN_MAX;
	if (dhcp_packet_option_u16(p, DHCP_OPT_MAX_MESSAGE_SIZE, &max) == 0 && max > 576 + 28)
		cap = (size_t)max - 28;
	return MIN(cap, (size_t)DHCP_PACKET_MAX);
}

/* RFC 2131 §4.1: relay → giaddr:67; NAK or no address yet → broadcast;
 * a client with an address (ciaddr) → unicast.  Clients without an address
 * get broadcasts even without the broadcast flag: unicasting to yiaddr
 * would need an ARP entry for an address the client does not have yet,
 * and udhcpc, dhclient and the Pi bootloader all read broadcasts. */
static void set_destination(struct dhcp_server *s, const struct dhcp_packet *p,
			    struct dhcp_reply *r, uint8_t type)
{
	r->broadcast = false;
	if (p->giaddr) {
		r->dest_ip = p->giaddr;
		r->dest_port = s->config.server_port;
	} else if (type != DHCP_NAK && p->ciaddr) {
		r->dest_ip = p->ciaddr;
		r->dest_port = s->config.client_port;
	} else {
		r->dest_ip = 0xffffffffu;
		r->dest_port = s->config.client_port;
		r->broadcast = true;
	}
}

static void add_pxe(struct dhcp_server *s, struct dhcp_builder *b, const struct dhcp_packet *p,
		    const struct dhcp_client_info *c)
{
	size_t n;
	const uint8_t *uuid;

	dhcp_builder_set_siaddr(b, s->config.tftp_server);
	dhcp_builder_add_string(b, DHCP_OPT_VENDOR_CLASS, "PXEClient");
	/* The boot menu is what the Pi bootloader insists on; iPXE would take
	 * it as a PXE boot-server menu and never load the boot file. */
	if (c->pi3b_rom)
		dhcp_builder_add(b, DHCP_OPT_VENDOR_SPECIFIC, s->pxe_menu_pi3b,
				 s->pxe_menu_pi3b_length);
	else if (!c->ipxe)
		dhcp_builder_add(b, DHCP_OPT_VENDOR_SPECIFIC, s->pxe_menu, s->pxe_menu_length);
	dhcp_builder_add_string(b, DHCP_OPT_TFTP_SERVER, s->tftp_string);
	/* PXE 2.1: the server echoes the client's machine identifier. */
	uuid = dhcp_packet_option(p, DHCP_OPT_CLIENT_UUID, &n);
	if (uuid)
		dhcp_builder_add(b, DHCP_OPT_CLIENT_UUID, uuid, n);
	if (s->config.boot_file[0]) {
		dhcp_builder_set_file(b, s->config.boot_file);
		dhcp_builder_add_string(b, DHCP_OPT_BOOTFILE, s->config.boot_file);
	}
}

static int finish(struct dhcp_server *s, struct dhcp_builder *b, const struct dhcp_packet *p,
		  struct dhcp_reply *r, uint8_t type, uint32_t yiaddr)
{
	int n = dhcp_builder_finish(b);
	if (n < 0) {
		logf_(s, NETLOG_WARN,
		      "%s for xid %08x does not fit the client's %zu "
		      "bytes; not sent",
		      dhcp_message_type_name(type), p->xid, b->capacity);
		return 0;
	}
	r->length = (size_t)n;
	r->message_type = type;
	r->yiaddr = yiaddr;
	memcpy(r->mac, p->chaddr, 6);
	set_destination(s, p, r, type);
	return 1;
}

/* The options every server-mode reply carries (RFC 2132). */
static void add_network_options(struct dhcp_server *s, struct dhcp_builder *b,
				const struct dhcp_lease *lease, bool with_lease_time)
{
	const struct dhcp_config *c = &s->config;

	if (with_lease_time) {
		dhcp_builder_add_u32(b, DHCP_OPT_LEASE_TIME, c->lease_time);
		/* RFC 2131 §4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease. */
		dhcp_builder_add_u32(b, DHCP_OPT_RENEWAL_TIME, c->lease_time / 2);
		dhcp_builder_add_u32(b, DHCP_OPT_REBINDING_TIME,
				     (uint32_t)((uint64_t)c->lease_time * 7 / 8));
	}
	dhcp_builder_add_ip(b, DHCP_OPT_SUBNET_MASK, c->netmask);
	dhcp_builder_add_ip(b, DHCP_OPT_BROADCAST, (c->server_ip & c->netmask) | ~c->netmask);
	if (c->router)
		dhcp_builder_add_ip(b, DHCP_OPT_ROUTER, c->router);
	if (c->dns_count) {
		uint8_t dns[4 * DHCP_DNS_MAX];
		for (size_t i = 0; i < c->dns_count && i < DHCP_DNS_MAX; i++) {
			dns[4 * i] = (uint8_t)(c->dns[i] >> 24);
			dns[4 * i + 1] = (uint8_t)(c->dns[i] >> 16);
			dns[4 * i + 2] = (uint8_t)(c->dns[i] >> 8);
			dns[4 * i + 3] = (uint8_t)c->dns[i];
		}
		dhcp_builder_add(b, DHCP_OPT_DNS, dns, 4 * MIN(c->dns_count, (size_t)DHCP_DNS_MAX));
	}
	if (c->domain[0])
		dhcp_builder_add_string(b, DHCP_OPT_DOMAIN, c->domain);
	if (lease && lease->hostname[0])
		dhcp_builder_add_string(b, DHCP_OPT_HOSTNAME, lease->hostname);
}

static void begin_reply(struct dhcp_server *s, struct dhcp_builder *b, struct dhcp_reply *r,
			const struct dhcp_packet *p, uint8_t type)
{
	dhcp_builder_init(b, r->data, reply_capacity(p), DHCP_OP_REPLY, p);
	dhcp_builder_add_u8(b, DHCP_OPT_MESSAGE_TYPE, type);
	dhcp_builder_add_ip(b, DHCP_OPT_SERVER_ID, s->config.server_ip);
}

static int reply_lease(struct dhcp_server *s, const struct dhcp_packet *p,
		       const struct dhcp_client_info *c, const struct dhcp_lease *lease,
		       uint8_t type, struct dhcp_reply *r)
{
	struct dhcp_builder b;

	begin_reply(s, &b, r, p, type);
	dhcp_builder_set_yiaddr(&b, lease->ip);
	add_network_options(s, &b, lease, true);
	if (c->pxe)
		add_pxe(s, &b, p, c);
	return finish(s, &b, p, r, type, lease->ip);
}

static int reply_nak(struct dhcp_server *s, const struct dhcp_packet *p, const char *why,
		     struct dhcp_reply *r)
{
	struct dhcp_builder b;

	s->stats.naks++;
	begin_reply(s, &b, r, p, DHCP_NAK);
	dhcp_builder_add_string(&b, DHCP_OPT_MESSAGE, why);
	return finish(s, &b, p, r, DHCP_NAK, 0);
}

static bool in_subnet(const struct dhcp_server *s, uint32_t ip)
{
	return (ip & s->config.netmask) == (s->config.server_ip & s->config.netmask);
}

/* The slot for a client's static lease, or NULL when it has none. */
static struct dhcp_lease *static_slot(struct dhcp_server *s, const struct dhcp_client_info *c)
{
	const struct dhcp_static_lease *st = dhcp_leases_static_for(s->leases, c->mac, c->hostname);
	return st ? dhcp_leases_by_ip(s->leases, st->ip) : NULL;
}

/* A static slot may go to its client unless another MAC holds it (a
 * hostname static whose first owner's lease is still running). */
static bool static_usable(const struct dhcp_lease *slot, const uint8_t *mac, int64_t now)
{
	if (!slot->has_mac || memcmp(slot->mac, mac, 6) == 0)
		return true;
	return slot->state == DHCP_LEASE_FREE || slot->state == DHCP_LEASE_RELEASED ||
	       slot->expires <= now;
}

/* RFC 2131 §3.1 (2): a server SHOULD check that an address it offers is
 * not already in use (its example is an ICMP echo); on the link an ARP
 * probe (RFC 5227) also finds hosts that drop pings.  Not for static leases
 * (reserved: nobody else may take them), an address this client holds
 * now, or one a probe found silent a moment ago. */
static bool needs_probe(const struct dhcp_server *s, const struct dhcp_lease *slot,
			const uint8_t *mac, int64_t now)
{
	if (s->config.probe_ms == 0 || slot->is_static)
		return false;
	if (slot->state == DHCP_LEASE_BOUND && slot->expires > now && slot->has_mac &&
	    memcmp(slot->mac, mac, 6) == 0)
		return false;
	return !(slot->probed && now >= slot->probed &&
		 now - slot->probed < DHCP_PROBE_FRESH_SECONDS);
}

static int handle_discover(struct dhcp_server *s, const struct dhcp_packet *p,
			   const struct dhcp_client_info *c, const char *who, int64_t now,
			   struct dhcp_reply *r)
{
	struct dhcp_lease *slot = static_slot(s, c), *own;
	uint32_t want = 0;
	char ip[16];
	int ret;

	if (slot && !static_usable(slot, c->mac, now)) {
		logf_(s, NETLOG_WARN,
		      "DISCOVER from %s: static address %s is held by "
		      "another client",
		      who, dhcp_ip_string(slot->ip, ip));
		return 0;
	}
	if (!slot) {
		own = dhcp_leases_by_mac(s->leases, c->mac);
		if (own && !own->is_static && dhcp_leases_available(s->leases, own, c->mac, now))
			slot = own;
	}
	if (!slot && dhcp_packet_option_ip(p, DHCP_OPT_REQUESTED_IP, &want) == 0) {
		struct dhcp_lease *asked = dhcp_leases_by_ip(s->leases, want);
		if (asked && dhcp_leases_available(s->leases, asked, c->mac, now))
			slot = asked;
	}
	if (!slot)
		slot = dhcp_leases_pick_free(s->leases, now);
	if (!slot) {
		logf_(s, NETLOG_WARN, "DISCOVER from %s: no free address", who);
		return 0;
	}
	if (needs_probe(s, slot, c->mac, now)) {
		/* Held for this client while the link is asked who has it. */
		ret = dhcp_leases_set(s->leases, slot, c->mac, DHCP_LEASE_OFFERED,
				      now + DHCP_OFFER_HOLD_SECONDS, c->hostname, NULL);
		if (ret < 0)
			return ret;
		s->stats.probes++;
		memset(r, 0, sizeof(*r));
		r->probe_ip = slot->ip;
		memcpy(r->mac, c->mac, 6);
		logf_(s, NETLOG_DEBUG, "DISCOVER from %s: probing %s before the offer", who,
		      dhcp_ip_string(slot->ip, ip));
		return DHCP_HANDLE_PROBE;
	}

	if (c->pi3b_rom || c->pi == DHCP_PI_3) {
		/* The Pi 3 ROM takes the offer as its lease and never REQUESTs. */
		ret = dhcp_leases_set(s->leases, slot, c->mac, DHCP_LEASE_BOUND,
				      now + s->config.lease_time, c->hostname, NULL);
	} else if (slot->state == DHCP_LEASE_BOUND && slot->expires > now && slot->has_mac &&
		   memcmp(slot->mac, c->mac, 6) == 0) {
		/* Still leased to this client: keep the lease, offer it again. */
		ret = 0;
	} else {
		ret = dhcp_leases_set(s->leases, slot, c->mac, DHCP_LEASE_OFFERED,
				      now + DHCP_OFFER_HOLD_SECONDS, c->hostname, NULL);
	}
	if (ret < 0)
		return ret;
	s->stats.offers++;
	logf_(s, NETLOG_INFO, "DISCOVER from %s: OFFER %s%s", who, dhcp_ip_string(slot->ip, ip),
	      c->pi == DHCP_PI_3 ? " (Pi 3 ROM: bound)" : "");
	return reply_lease(s, p, c, slot, DHCP_OFFER, r);
}

static int ack(struct dhcp_server *s, const struct dhcp_packet *p, const struct dhcp_client_info *c,
	       struct dhcp_lease *slot, const char *who, const char *how, int64_t now,
	       struct dhcp_reply *r)
{
	char ip[16];
	int ret =
	    dhcp_leases_set(s->leases, slot, c->mac, DHCP_LEASE_BOUND, now + s->config.lease_time,
			    c->hostname[0] ? c->hostname : NULL, NULL);
	if (ret < 0)
		return ret;
	s->stats.acks++;
	logf_(s, NETLOG_INFO, "REQUEST (%s) from %s: ACK %s for %u s", how, who,
	      dhcp_ip_string(slot->ip, ip), s->config.lease_time);
	return reply_lease(s, p, c, slot, DHCP_ACK, r);
}

static int handle_request(struct dhcp_server *s, const struct dhcp_packet *p,
			  const struct dhcp_client_info *c, const char *who, int64_t now,
			  struct dhcp_reply *r)
{
	struct dhcp_lease *slot, *fixed;
	uint32_t server_id = 0, want = 0;
	bool selecting = dhcp_packet_option_ip(p, DHCP_OPT_SERVER_ID, &server_id) == 0;
	bool has_want = dhcp_packet_option_ip(p, DHCP_OPT_REQUESTED_IP, &want) == 0;
	const char *how;
	char ip[16];

	if (selecting && server_id != s->config.server_ip) {
		/* §4.3.2: the client chose another server; withdraw our offer. */
		slot = dhcp_leases_by_mac(s->leases, c->mac);
		if (slot && slot->state == DHCP_LEASE_OFFERED)
			return dhcp_leases_set(s->leases, slot, NULL, DHCP_LEASE_FREE, 0, NULL,
					       NULL);
		logf_(s, NETLOG_DEBUG, "REQUEST from %s is for server %s", who,
		      dhcp_ip_string(server_id, ip));
		return 0;
	}
	if (selecting) {
		how = "selecting";
		if (!has_want)
			want = p->ciaddr;
	} else if (has_want) {
		how = "init-reboot";
	} else {
		how = "renewing";
		want = p->ciaddr;
	}
	if (want == 0) {
		logf_(s, NETLOG_WARN, "REQUEST from %s names no address; ignored", who);
		s->stats.ignored++;
		return 0;
	}
	if (!in_subnet(s, want)) {
		logf_(s, NETLOG_INFO, "REQUEST (%s) from %s for %s: NAK (wrong network)", how, who,
		      dhcp_ip_string(want, ip));
		return reply_nak(s, p, "wrong network", r);
	}
	fixed = static_slot(s, c);
	if (fixed && fixed->ip != want) {
		logf_(s, NETLOG_INFO,
		      "REQUEST (%s) from %s for %s: NAK (static lease is "
		      "another address)",
		      how, who, dhcp_ip_string(want, ip));
		return reply_nak(s, p, "client has a static lease", r);
	}
	slot = dhcp_leases_by_ip(s->leases, want);
	if (slot && fixed == slot && static_usable(slot, c->mac, now))
		return ack(s, p, c, slot, who, how, now, r);
	if (slot && !slot->is_static && dhcp_leases_available(s->leases, slot, c->mac, now)) {
		/* SELECTING must match what we offered; the others may take any
		 * free address they already configured (e.g. after our restart
		 * lost nothing, or the offer hold ran out). */
		if (selecting && !(slot->has_mac && memcmp(slot->mac, c->mac, 6) == 0)) {
			logf_(s, NETLOG_INFO,
			      "REQUEST (%s) from %s for %s: NAK (not "
			      "offered)",
			      how, who, dhcp_ip_string(want, ip));
			return reply_nak(s, p, "address not offered", r);
		}
		return ack(s, p, c, slot, who, how, now, r);
	}
	logf_(s, NETLOG_INFO, "REQUEST (%s) from %s for %s: NAK (%s)", how, who,
	      dhcp_ip_string(want, ip), slot ? "address in use" : "not in the pool");
	return reply_nak(s, p, slot ? "address in use" : "address not available", r);
}

static int handle_decline(struct dhcp_server *s, const struct dhcp_packet *p,
			  const struct dhcp_client_info *c, const char *who, int64_t now)
{
	uint32_t server_id, want;
	struct dhcp_lease *slot;
	char ip[16];

	s->stats.declines++;
	if (dhcp_packet_option_ip(p, DHCP_OPT_SERVER_ID, &server_id) == 0 &&
	    server_id != s->config.server_ip)
		return 0;
	if (dhcp_packet_option_ip(p, DHCP_OPT_REQUESTED_IP, &want) < 0) {
		logf_(s, NETLOG_WARN, "DECLINE from %s without option 50; ignored", who);
		return 0;
	}
	slot = dhcp_leases_by_ip(s->leases, want);
	if (!slot || !slot->has_mac || memcmp(slot->mac, c->mac, 6) != 0) {
		logf_(s, NETLOG_WARN,
		      "DECLINE from %s for %s, which it does not hold; "
		      "ignored",
		      who, dhcp_ip_string(want, ip));
		return 0;
	}
	/* §4.3.3: the address is in use by someone we do not know about. */
	logf_(s, NETLOG_WARN,
	      "DECLINE from %s: %s is in use on the network; "
	      "quarantined for %d s",
	      who, dhcp_ip_string(want, ip), DHCP_DECLINE_HOLD_SECONDS);
	return dhcp_leases_set(s->leases, slot, NULL, DHCP_LEASE_DECLINED,
			       now + DHCP_DECLINE_HOLD_SECONDS, NULL, NULL);
}

static int handle_release(struct dhcp_server *s, const struct dhcp_packet *p,
			  const struct dhcp_client_info *c, const char *who, int64_t now)
{
	struct dhcp_lease *slot = dhcp_leases_by_mac(s->leases, c->mac);
	char ip[16];

	s->stats.releases++;
	if (!slot || slot->ip != p->ciaddr || slot->state != DHCP_LEASE_BOUND) {
		logf_(s, NETLOG_INFO,
		      "RELEASE from %s for %s, which it does not hold; "
		      "ignored",
		      who, dhcp_ip_string(p->ciaddr, ip));
		return 0;
	}
	logf_(s, NETLOG_INFO, "RELEASE from %s: %s is free", who, dhcp_ip_string(slot->ip, ip));
	/* Keep the MAC on the slot so the client gets the same address back. */
	return dhcp_leases_set(s->leases, slot, c->mac, DHCP_LEASE_RELEASED, now, NULL, NULL);
}

static int handle_inform(struct dhcp_server *s, const struct dhcp_packet *p,
			 const struct dhcp_client_info *c, const char *who, struct dhcp_reply *r)
{
	struct dhcp_builder b;
	char ip[16];

	s->stats.informs++;
	if (p->ciaddr == 0) {
		logf_(s, NETLOG_WARN, "INFORM from %s without ciaddr; ignored", who);
		return 0;
	}
	logf_(s, NETLOG_INFO, "INFORM from %s at %s: ACK", who, dhcp_ip_string(p->ciaddr, ip));
	/* §3.4: no lease time, no yiaddr. */
	begin_reply(s, &b, r, p, DHCP_ACK);
	dhcp_builder_set_ciaddr(&b, p->ciaddr);
	add_network_options(s, &b, NULL, false);
	if (c->pxe)
		add_pxe(s, &b, p, c);
	s->stats.acks++;
	return finish(s, &b, p, r, DHCP_ACK, 0);
}

static int handle_proxy(struct dhcp_server *s, const struct dhcp_packet *p,
			const struct dhcp_client_info *c, const char *who, struct dhcp_reply *r)
{
	struct dhcp_builder b;
	uint32_t server_id;
	uint8_t type;

	if (!c->pxe) {
		logf_(s, NETLOG_DEBUG,
		      "%s from %s: not a PXE client; left to the "
		      "network's DHCP server",
		      dhcp_message_type_name(p->message_type), who);
		s->stats.ignored++;
		return 0;
	}
	if (p->message_type == DHCP_DISCOVER) {
		type = DHCP_OFFER;
	} else if (p->message_type == DHCP_REQUEST &&
		   dhcp_packet_option_ip(p, DHCP_OPT_SERVER_ID, &server_id) == 0 &&
		   server_id == s->config.server_ip) {
		/* A client that picked our offer to get the boot server. */
		type = DHCP_ACK;
	} else {
		logf_(s, NETLOG_DEBUG, "%s from %s: not for the proxy",
		      dhcp_message_type_name(p->message_type), who);
		s->stats.ignored++;
		return 0;
	}
	begin_reply(s, &b, r, p, type);
	add_pxe(s, &b, p, c);
	if (type == DHCP_OFFER)
		s->stats.offers++;
	else
		s->stats.acks++;
	logf_(s, NETLOG_INFO, "%s from %s: proxy %s, boot server %s",
	      dhcp_message_type_name(p->message_type), who, dhcp_message_type_name(type),
	      s->tftp_string);
	return finish(s, &b, p, r, type, 0);
}

int dhcp_server_probe_done(struct dhcp_server *s, uint32_t ip, const uint8_t *answered_by,
			   int64_t now)
{
	struct dhcp_lease *slot = dhcp_leases_by_ip(s->leases, ip);
	char a[16], mac[18];

	if (!slot)
		return 0;
	if (!answered_by) {
		slot->probed = now;
		return 0;
	}
	s->stats.conflicts++;
	logf_(s, NETLOG_WARN,
	      "conflict: %s is in use on the network by %s, which holds no lease; "
	      "quarantined for %d s",
	      dhcp_ip_string(ip, a), dhcp_mac_string(answered_by, mac), DHCP_DECLINE_HOLD_SECONDS);
	slot->probed = 0;
	return dhcp_leases_set(s->leases, slot, NULL, DHCP_LEASE_DECLINED,
			       now + DHCP_DECLINE_HOLD_SECONDS, NULL, NULL);
}

static int handle(struct dhcp_server *s, const uint8_t *buf, size_t len, int64_t now,
		  struct dhcp_reply *ret_reply, bool resumed)
{
	struct herd_error err = {0};
	struct dhcp_packet *p;
	struct dhcp_client_info c;
	char who[96];
	int r;

	if (!resumed)
		s->stats.received++;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (dhcp_packet_parse(buf, len, p, &err) < 0) {
		s->stats.malformed++;
		logf_(s, NETLOG_WARN, "ignored: %s", herd_error_message(&err));
		r = 0;
		goto out;
	}
	if (p->op != DHCP_OP_REQUEST || p->htype != 1 || p->hlen != 6) {
		s->stats.malformed++;
		logf_(s, NETLOG_WARN,
		      "packet with op %u, hardware type %u, length %u is not an Ethernet "
		      "client request; ignored",
		      p->op, p->htype, p->hlen);
		r = 0;
		goto out;
	}
	if (p->message_type < DHCP_DISCOVER || p->message_type > DHCP_INFORM) {
		s->stats.ignored++;
		logf_(s, NETLOG_WARN, "message type %u (%s) from %s; ignored", p->message_type,
		      dhcp_message_type_name(p->message_type),
		      dhcp_mac_string(p->chaddr, (char[18]){0}));
		r = 0;
		goto out;
	}
	dhcp_client_identify(p, &c);
	client_label(&c, who, sizeof(who));
	r = resumed ? 0 : dhcp_leases_note_client(s->leases, &c, now, &err);
	if (r < 0) {
		logf_(s, NETLOG_ERROR, "%s", herd_error_message(&err));
		goto out;
	}

	if (s->config.mode == DHCP_MODE_PROXY) {
		r = handle_proxy(s, p, &c, who, ret_reply);
		goto out;
	}
	switch (p->message_type) {
	case DHCP_DISCOVER:
		r = handle_discover(s, p, &c, who, now, ret_reply);
		break;
	case DHCP_REQUEST:
		r = handle_request(s, p, &c, who, now, ret_reply);
		break;
	case DHCP_DECLINE:
		r = handle_decline(s, p, &c, who, now);
		break;
	case DHCP_RELEASE:
		r = handle_release(s, p, &c, who, now);
		break;
	case DHCP_INFORM:
		r = handle_inform(s, p, &c, who, ret_reply);
		break;
	default:
		logf_(s, NETLOG_WARN, "%s from %s is a server message; ignored",
		      dhcp_message_type_name(p->message_type), who);
		s->stats.ignored++;
		r = 0;
		break;
	}
	if (r < 0)
		logf_(s, NETLOG_ERROR, "lease database: %s", strerror(-r));
out:
	free(p);
	return r;
}

int dhcp_server_handle(struct dhcp_server *s, const uint8_t *buf, size_t len, int64_t now,
		       struct dhcp_reply *ret_reply)
{
	return handle(s, buf, len, now, ret_reply, false);
}

int dhcp_server_resume(struct dhcp_server *s, const uint8_t *buf, size_t len, int64_t now,
		       struct dhcp_reply *ret_reply)
{
	return handle(s, buf, len, now, ret_reply, true);
}
