/*
 * dhcp.h — the DHCP side of `herd serve`: configuration, the pure request
 * handler, and the socket front end.
 *
 * Modes (RFC 2131 server; PXE 2.1 proxyDHCP):
 *   off     no DHCP at all;
 *   proxy   beside the network's real DHCP server: answer only PXE clients
 *           (option 60 "PXEClient…", which the Raspberry Pi bootloader
 *           sends) with the boot information — option 60 "PXEClient",
 *           option 43 PXE menu, siaddr and option 66 — and no address;
 *           every other client is left to the real server;
 *   server  hand out leases from a range, static leases by MAC or host
 *           name, router / DNS / domain / host name options, and the PXE
 *           options for boot clients.
 *
 * dhcp_server_handle() is a pure function of (state, packet bytes, now):
 * it never touches a socket, so unit tests and the fuzzer drive it
 * directly.  dhcp_server_commit() makes the lease changes of the packets
 * handled so far durable; the front end calls it once per batch, before
 * sending the batch's replies.  Every packet ignored or refused gives one
 * log line through the log hook (libherd never prints).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/dhcp_leases.h"
#include "net/dhcp_wire.h"
#include "net/netlog.h"

struct evloop;
struct serve_config;

enum dhcp_mode {
	DHCP_MODE_OFF = 0,
	DHCP_MODE_PROXY,
	DHCP_MODE_SERVER,
};

#define DHCP_DNS_MAX		  4
#define DHCP_DEFAULT_LEASE_TIME	  3600u
#define DHCP_OFFER_HOLD_SECONDS	  60
#define DHCP_DECLINE_HOLD_SECONDS 600
/* Conflict detection: how long an ARP probe waits for an answer by
 * default, how long a silent probe vouches for an address, and how many
 * addresses one DISCOVER may try before it is dropped. */
#define DHCP_DEFAULT_PROBE_MS	 200u
#define DHCP_PROBE_MS_MAX	 5000u
#define DHCP_PROBE_FRESH_SECONDS 60
#define DHCP_PROBE_ATTEMPTS	 3

struct dhcp_config {
	enum dhcp_mode mode;
	/* 0: take them from the interface the socket is bound to. */
	uint32_t server_ip;
	uint32_t netmask;
	/* server mode */
	uint32_t range_first, range_last;
	uint32_t lease_time; /* seconds; 0 = DHCP_DEFAULT_LEASE_TIME */
	uint32_t router;     /* 0 = none */
	uint32_t dns[DHCP_DNS_MAX];
	size_t dns_count;
	char domain[128];
	/* Static leases; the config owns the array (free it with
	 * dhcp_config_clear()). */
	struct dhcp_static_lease *statics;
	size_t static_count;
	/* boot clients */
	uint32_t tftp_server;	/* 0 = server_ip */
	char boot_file[128];	/* option 67 + file field; "" = none */
	char pxe_menu_text[65]; /* "" = "Raspberry Pi Boot" (3B ROM: with 3 spaces) */
	/* state: SQLite file for leases and clients (NULL = memory only);
	 * dhcp_server_new() takes it from serve_config.db_path */
	const char *db_path;
	/* server mode: before a DISCOVER is offered an address nobody holds
	 * a lease on, ask the link who has it (RFC 5227 ARP probe) and wait
	 * this long for an answer; an answer quarantines the address like a
	 * DECLINE.  0 = no probe (dnsmasq --no-ping). */
	uint32_t probe_ms;
	/* ports: 67/68 except in tests */
	uint16_t server_port, client_port;
};

/* Defaults: mode off, ports 67/68, lease time 3600, probe 200 ms. */
void dhcp_config_init(struct dhcp_config *c);
void dhcp_config_clear(struct dhcp_config *c);
/* Parse a mode name: "off", "proxy", "server". */
int dhcp_mode_parse(const char *s, enum dhcp_mode *ret);
const char *dhcp_mode_name(enum dhcp_mode mode);
/* "FIRST-LAST" (both dotted quads) into range_first/range_last. */
int dhcp_config_set_range(struct dhcp_config *c, const char *s, struct herd_error *err);
/* "MAC=IP" or "HOSTNAME=IP", appended to statics. */
int dhcp_config_add_static(struct dhcp_config *c, const char *s, struct herd_error *err);
/* Check a complete config (server_ip and netmask set); server mode needs
 * a range inside server_ip's subnet that does not contain server_ip. */
int dhcp_config_validate(const struct dhcp_config *c, struct herd_error *err);

/* Where a reply goes (RFC 2131 §4.1): to a relay (giaddr, server port),
 * to a configured client (ciaddr), or broadcast on the link. */
struct dhcp_reply {
	uint8_t data[DHCP_PACKET_MAX];
	size_t length;
	uint32_t dest_ip;
	uint16_t dest_port;
	bool broadcast;
	uint8_t message_type;
	uint32_t yiaddr;
	uint8_t mac[6];
	/* dhcp_server_handle() returned DHCP_HANDLE_PROBE: the address to
	 * probe before this DISCOVER can be answered. */
	uint32_t probe_ip;
};

struct dhcp_server;

/* The service: take the interface's address and netmask (unless the
 * config sets them), open the lease database, bind UDP port 67 on
 * cfg->interface and register it on `loop`.  Called as root, before
 * privileges are dropped. */
int dhcp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct dhcp_server **ret, struct herd_error *err);

/* The handler state without sockets: copies the config (which must
 * validate), opens the lease database.  log may be NULL; it must outlive
 * the server. */
int dhcp_server_create(const struct dhcp_config *config, const struct netlog *log,
		       struct dhcp_server **ret, struct herd_error *err);
/* Commits pending lease writes, closes the socket, frees.  NULL is fine. */
void dhcp_server_free(struct dhcp_server *s);

/* Handle one received datagram at wall-clock time now (seconds).  Returns
 * 1 with *ret_reply filled when a reply is to be sent, 0 when the packet
 * is ignored (with a log line saying why), -errno on an internal failure
 * (database), or DHCP_HANDLE_PROBE when the packet is a DISCOVER whose
 * address must first be probed (config.probe_ms): the address is held
 * for the client and named in ret_reply->probe_ip; the caller probes it,
 * reports with dhcp_server_probe_done() and hands the same bytes to
 * dhcp_server_resume(). */
#define DHCP_HANDLE_PROBE 2
int dhcp_server_handle(struct dhcp_server *s, const uint8_t *buf, size_t len, int64_t now,
		       struct dhcp_reply *ret_reply);

/* The outcome of probing ip: answered_by NULL when nobody answered (the
 * address is vouched for DHCP_PROBE_FRESH_SECONDS), else the MAC of the
 * host that uses it — the address is quarantined for
 * DHCP_DECLINE_HOLD_SECONDS (a conflict, logged).  -errno on a database
 * failure. */
int dhcp_server_probe_done(struct dhcp_server *s, uint32_t ip, const uint8_t *answered_by,
			   int64_t now);

/* dhcp_server_handle() again for a packet it deferred, without counting
 * or recording the client a second time.  Same results. */
int dhcp_server_resume(struct dhcp_server *s, const uint8_t *buf, size_t len, int64_t now,
		       struct dhcp_reply *ret_reply);

/* Make the lease changes so far durable (see dhcp_leases_commit). */
int dhcp_server_commit(struct dhcp_server *s, struct herd_error *err);

/* The lease pool (for listings and tests). */
struct dhcp_leases *dhcp_server_leases(struct dhcp_server *s);
const struct dhcp_config *dhcp_server_config(const struct dhcp_server *s);

/* Counters since create. */
struct dhcp_stats {
	uint64_t received, ignored, malformed, offers, acks, naks, declines, releases, informs;
	uint64_t probes, conflicts;
};
const struct dhcp_stats *dhcp_server_stats(const struct dhcp_server *s);
