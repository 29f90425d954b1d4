/*
 * dhcp_leases.h — the DHCP server's address pool and its SQLite record.
 *
 * The pool is one slot per address of the range, plus one per static lease
 * outside it.  Each slot holds at most one client (MAC) and a state with an
 * expiry time; a MAC is on at most one slot, so one address is never
 * offered to two clients and one client never holds two addresses.  Slots
 * live in memory (an array indexed by address, a hash chain by MAC);
 * SQLite keeps them across restarts:
 *
 *   leases(ip INTEGER PRIMARY KEY, mac TEXT, hostname TEXT, state TEXT,
 *          expires INTEGER)
 *   clients(mac TEXT PRIMARY KEY, vendor_class TEXT, model TEXT,
 *           serial TEXT, hostname TEXT, first_seen INTEGER, last_seen INTEGER)
 *
 * Writes go into one open transaction; dhcp_leases_commit() ends it (WAL,
 * synchronous=FULL: on disk when it returns).  The server commits once per
 * batch of packets, before it sends any ACK of that batch — group commit,
 * so a lease is durable before the client hears of it.
 *
 * Times are seconds since the epoch (wall clock, so expiries survive a
 * restart); the caller passes `now`, which keeps everything testable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/dhcp_pxe.h"

enum dhcp_lease_state {
	DHCP_LEASE_FREE = 0,	 /* never used, or given back */
	DHCP_LEASE_OFFERED = 1,	 /* held for a client until `expires` */
	DHCP_LEASE_BOUND = 2,	 /* leased until `expires` */
	DHCP_LEASE_DECLINED = 3, /* a client saw it in use: quarantined until `expires` */
	DHCP_LEASE_RELEASED = 4, /* given back; remembered for the same client */
};

struct dhcp_lease {
	uint32_t ip;
	uint8_t mac[6];
	bool has_mac;
	bool is_static; /* reserved for one MAC or host name: never handed to others */
	uint8_t state;	/* enum dhcp_lease_state */
	int64_t expires;
	char hostname[64];
	int64_t probed;	  /* in memory only: when an ARP probe last found it free */
	int32_t mac_next; /* private: hash chain */
};

/* A static lease: by MAC (has_mac) or by the host name the client sends
 * in option 12. */
struct dhcp_static_lease {
	bool has_mac;
	uint8_t mac[6];
	char hostname[64];
	uint32_t ip;
};

struct dhcp_leases;

/* Open (creating) the pool for [first, last] (at most 2^20 addresses)
 * plus the statics.  db_path NULL keeps everything in memory.  Rows of the
 * database for addresses no longer in the pool are ignored. */
int dhcp_leases_open(const char *db_path, uint32_t first, uint32_t last,
		     const struct dhcp_static_lease *statics, size_t static_count,
		     struct dhcp_leases **ret, struct herd_error *err);
/* Commits what is pending (errors ignored: call commit first to see them). */
struct dhcp_leases *dhcp_leases_free(struct dhcp_leases *l);

struct dhcp_lease *dhcp_leases_by_mac(struct dhcp_leases *l, const uint8_t mac[static 6]);
struct dhcp_lease *dhcp_leases_by_ip(struct dhcp_leases *l, uint32_t ip);
/* The static lease for this client (MAC first, then host name), or NULL. */
const struct dhcp_static_lease *dhcp_leases_static_for(const struct dhcp_leases *l,
						       const uint8_t mac[static 6],
						       const char *hostname);

/* Can `mac` take this slot at `now`?  Its own slot, a static reserved for
 * it, or a dynamic slot nobody holds (free, released or expired). */
bool dhcp_leases_available(const struct dhcp_leases *l, const struct dhcp_lease *slot,
			   const uint8_t mac[static 6], int64_t now);

/* A free dynamic slot for a new client: never-used addresses first (from
 * a rotating cursor), then the longest-expired.  NULL when the pool is full. */
struct dhcp_lease *dhcp_leases_pick_free(struct dhcp_leases *l, int64_t now);

/* Put `mac` (NULL: nobody) on slot with state and expiry, dropping any
 * other slot the MAC held, and queue the row for the database. */
int dhcp_leases_set(struct dhcp_leases *l, struct dhcp_lease *slot, const uint8_t *mac,
		    enum dhcp_lease_state state, int64_t expires, const char *hostname,
		    struct herd_error *err);

/* Remember a client (every request updates last_seen). */
int dhcp_leases_note_client(struct dhcp_leases *l, const struct dhcp_client_info *info, int64_t now,
			    struct herd_error *err);

/* End the open transaction, if any.  Returns 1 when something was written. */
int dhcp_leases_commit(struct dhcp_leases *l, struct herd_error *err);

/* Number of slots / slots BOUND and unexpired at now. */
size_t dhcp_leases_count(const struct dhcp_leases *l);
size_t dhcp_leases_bound(const struct dhcp_leases *l, int64_t now);
/* Slot i, 0 <= i < dhcp_leases_count(). */
const struct dhcp_lease *dhcp_leases_slot(const struct dhcp_leases *l, size_t i);

const char *dhcp_lease_state_name(enum dhcp_lease_state state);
