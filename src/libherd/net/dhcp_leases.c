/*
 * dhcp_leases.c — address pool in memory, persisted in SQLite (see
 * dhcp_leases.h for the model and the durability rule).
 *
 * Slots 0 .. range_count-1 are the range in address order, so finding an
 * address is a subtraction; static leases outside the range follow.  A
 * hash of chains (head per bucket, mac_next per slot) finds a MAC's slot.
 * Writes are prepared statements inside one transaction that
 * dhcp_leases_commit() ends.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "net/dhcp_leases.h"

#define POOL_MAX (1u << 20)

struct dhcp_leases {
	struct dhcp_lease *slots;
	size_t count;	    /* all slots */
	size_t range_count; /* the first range_count are [first, last] */
	uint32_t first;
	int32_t *buckets;
	size_t bucket_mask;
	size_t cursor; /* next never-used candidate for pick_free */
	struct dhcp_static_lease *statics;
	size_t static_count;

	sqlite3 *db;
	sqlite3_stmt *put_lease;
	sqlite3_stmt *put_client;
	bool in_transaction;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS leases ("
			     " ip INTEGER PRIMARY KEY,"
			     " address TEXT NOT NULL,"
			     " mac TEXT NOT NULL DEFAULT '',"
			     " hostname TEXT NOT NULL DEFAULT '',"
			     " state TEXT NOT NULL,"
			     " expires INTEGER NOT NULL);"
			     "CREATE TABLE IF NOT EXISTS clients ("
			     " mac TEXT PRIMARY KEY,"
			     " vendor_class TEXT NOT NULL DEFAULT '',"
			     " model TEXT NOT NULL DEFAULT '',"
			     " serial TEXT NOT NULL DEFAULT '',"
			     " hostname TEXT NOT NULL DEFAULT '',"
			     " first_seen INTEGER NOT NULL,"
			     " last_seen INTEGER NOT NULL);";

static const char *const state_names[] = {"free", "offered", "bound", "declined", "released"};

const char *dhcp_lease_state_name(enum dhcp_lease_state state)
{
	if ((size_t)state < ELEMENTSOF(state_names))
		return state_names[state];
	return "unknown";
}

static int state_from_name(const char *s)
{
	for (size_t i = 0; s && i < ELEMENTSOF(state_names); i++)
		if (strcmp(s, state_names[i]) == 0)
			return (int)i;
	return -1;
}

static size_t mac_hash(const struct dhcp_leases *l, const uint8_t *mac)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h & l->bucket_mask;
}

static void index_add(struct dhcp_leases *l, int32_t i)
{
	size_t b = mac_hash(l, l->slots[i].mac);
	l->slots[i].mac_next = l->buckets[b];
	l->buckets[b] = i;
}

static void index_remove(struct dhcp_leases *l, int32_t i)
{
	int32_t *link = &l->buckets[mac_hash(l, l->slots[i].mac)];
	while (*link >= 0) {
		if (*link == i) {
			*link = l->slots[i].mac_next;
			l->slots[i].mac_next = -1;
			return;
		}
		link = &l->slots[*link].mac_next;
	}
}

static int db_fail(struct dhcp_leases *l, struct herd_error *err, const char *what)
{
	return herd_error_set(err, EIO, "dhcp lease database: %s: %s", what,
			      l->db ? sqlite3_errmsg(l->db) : "not open");
}

struct dhcp_lease *dhcp_leases_by_ip(struct dhcp_leases *l, uint32_t ip)
{
	if (ip - l->first < l->range_count)
		return &l->slots[ip - l->first];
	for (size_t i = l->range_count; i < l->count; i++)
		if (l->slots[i].ip == ip)
			return &l->slots[i];
	return NULL;
}

struct dhcp_lease *dhcp_leases_by_mac(struct dhcp_leases *l, const uint8_t mac[static 6])
{
	for (int32_t i = l->buckets[mac_hash(l, mac)]; i >= 0; i = l->slots[i].mac_next)
		if (memcmp(l->slots[i].mac, mac, 6) == 0)
			return &l->slots[i];
	return NULL;
}

const struct dhcp_static_lease *dhcp_leases_static_for(const struct dhcp_leases *l,
						       const uint8_t mac[static 6],
						       const char *hostname)
{
	for (size_t i = 0; i < l->static_count; i++)
		if (l->statics[i].has_mac && memcmp(l->statics[i].mac, mac, 6) == 0)
			return &l->statics[i];
	if (!hostname || !*hostname)
		return NULL;
	for (size_t i = 0; i < l->static_count; i++)
		if (!l->statics[i].has_mac && strcmp(l->statics[i].hostname, hostname) == 0)
			return &l->statics[i];
	return NULL;
}

bool dhcp_leases_available(const struct dhcp_leases *l, const struct dhcp_lease *slot,
			   const uint8_t mac[static 6], int64_t now)
{
	if (slot->has_mac && memcmp(slot->mac, mac, 6) == 0)
		return slot->state != DHCP_LEASE_DECLINED || slot->expires <= now;
	if (slot->is_static)
		return false;
	if (slot->state == DHCP_LEASE_FREE)
		return true;
	return slot->expires <= now;
}

struct dhcp_lease *dhcp_leases_pick_free(struct dhcp_leases *l, int64_t now)
{
	struct dhcp_lease *oldest = NULL;

	for (size_t n = 0; n < l->range_count; n++) {
		struct dhcp_lease *s = &l->slots[l->cursor];
		l->cursor = (l->cursor + 1) % l->range_count;
		if (!s->is_static && s->state == DHCP_LEASE_FREE && !s->has_mac)
			return s;
	}
	for (size_t i = 0; i < l->range_count; i++) {
		struct dhcp_lease *s = &l->slots[i];
		if (s->is_static || (s->state != DHCP_LEASE_FREE && s->expires > now))
			continue;
		if (!oldest || s->expires < oldest->expires)
			oldest = s;
	}
	return oldest;
}

static int begin(struct dhcp_leases *l, struct herd_error *err)
{
	if (!l->db || l->in_transaction)
		return 0;
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(l, err, "begin");
	l->in_transaction = true;
	return 0;
}

static int write_slot(struct dhcp_leases *l, const struct dhcp_lease *s, struct herd_error *err)
{
	char address[16], mac[18];
	sqlite3_stmt *st = l->put_lease;
	int r = begin(l, err);

	if (r < 0 || !l->db)
		return r;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, s->ip);
	sqlite3_bind_text(st, 2, dhcp_ip_string(s->ip, address), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, s->has_mac ? dhcp_mac_string(s->mac, mac) : "", -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, s->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, dhcp_lease_state_name(s->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, s->expires);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(l, err, "write lease");
	return 0;
}

static void set_hostname(struct dhcp_lease *s, const char *hostname)
{
	size_t n = hostname ? strlen(hostname) : 0;
	if (n >= sizeof(s->hostname))
		n = sizeof(s->hostname) - 1;
	if (n)
		memcpy(s->hostname, hostname, n);
	s->hostname[n] = '\0';
}

int dhcp_leases_set(struct dhcp_leases *l, struct dhcp_lease *slot, const uint8_t *mac,
		    enum dhcp_lease_state state, int64_t expires, const char *hostname,
		    struct herd_error *err)
{
	int32_t index = (int32_t)(slot - l->slots);

	if (mac) {
		struct dhcp_lease *old = dhcp_leases_by_mac(l, mac);
		if (old && old != slot) {
			/* One MAC, one slot: the old one becomes free for others. */
			index_remove(l, (int32_t)(old - l->slots));
			old->has_mac = false;
			memset(old->mac, 0, 6);
			old->hostname[0] = '\0';
			old->state = DHCP_LEASE_FREE;
			old->expires = 0;
			int r = write_slot(l, old, err);
			if (r < 0)
				return r;
		}
	}
	if (slot->has_mac && (!mac || memcmp(slot->mac, mac, 6) != 0)) {
		index_remove(l, index);
		slot->has_mac = false;
		memset(slot->mac, 0, 6);
	}
	if (mac && !slot->has_mac) {
		memcpy(slot->mac, mac, 6);
		slot->has_mac = true;
		index_add(l, index);
	}
	if (hostname)
		set_hostname(slot, hostname);
	else if (!mac)
		slot->hostname[0] = '\0';
	slot->state = (uint8_t)state;
	slot->expires = expires;
	return write_slot(l, slot, err);
}

int dhcp_leases_note_client(struct dhcp_leases *l, const struct dhcp_client_info *info, int64_t now,
			    struct herd_error *err)
{
	char mac[18];
	sqlite3_stmt *st = l->put_client;
	int r = begin(l, err);

	if (r < 0 || !l->db)
		return r;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, dhcp_mac_string(info->mac, mac), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, info->vendor_class, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, dhcp_pi_model_name(info->pi), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, info->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, info->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(l, err, "write client");
	return 0;
}

int dhcp_leases_commit(struct dhcp_leases *l, struct herd_error *err)
{
	if (!l->in_transaction)
		return 0;
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int r = db_fail(l, err, "commit");
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
		l->in_transaction = false;
		return r;
	}
	l->in_transaction = false;
	return 1;
}

static int load(struct dhcp_leases *l, struct herd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT ip, mac, hostname, state, expires FROM leases", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(l, err, "read leases");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 ip = sqlite3_column_int64(st, 0);
		const char *mac_text = (const char *)sqlite3_column_text(st, 1);
		const char *hostname = (const char *)sqlite3_column_text(st, 2);
		int state = state_from_name((const char *)sqlite3_column_text(st, 3));
		uint8_t mac[6];
		struct dhcp_lease *s;

		if (ip < 0 || ip > UINT32_MAX || state < 0)
			continue;
		s = dhcp_leases_by_ip(l, (uint32_t)ip);
		if (!s)
			continue;
		if (mac_text && dhcp_mac_parse(mac_text, mac) == 0 && !dhcp_leases_by_mac(l, mac)) {
			memcpy(s->mac, mac, 6);
			s->has_mac = true;
			index_add(l, (int32_t)(s - l->slots));
		}
		set_hostname(s, hostname);
		s->state = (uint8_t)state;
		s->expires = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(l, err, "read leases");
	return 0;
}

static int open_db(struct dhcp_leases *l, const char *path, struct herd_error *err)
{
	if (sqlite3_open_v2(path, &l->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return db_fail(l, err, path);
	sqlite3_busy_timeout(l->db, 5000);
	/* WAL + FULL: a COMMIT is on disk when it returns (fsync of the WAL). */
	if (sqlite3_exec(l->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(l, err, path);
	if (sqlite3_prepare_v3(l->db,
			       "INSERT OR REPLACE INTO leases(ip, address, mac, hostname, state, "
			       "expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       -1, SQLITE_PREPARE_PERSISTENT, &l->put_lease, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(
		l->db,
		"INSERT INTO clients(mac, vendor_class, model, serial, hostname, first_seen, "
		"last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(mac) DO UPDATE SET "
		"vendor_class = CASE WHEN ?2 != '' THEN ?2 ELSE vendor_class END, "
		"model = CASE WHEN ?3 != '' THEN ?3 ELSE model END, "
		"serial = CASE WHEN ?4 != '' THEN ?4 ELSE serial END, "
		"hostname = CASE WHEN ?5 != '' THEN ?5 ELSE hostname END, last_seen = ?6",
		-1, SQLITE_PREPARE_PERSISTENT, &l->put_client, NULL) != SQLITE_OK)
		return db_fail(l, err, "prepare");
	return load(l, err);
}

int dhcp_leases_open(const char *db_path, uint32_t first, uint32_t last,
		     const struct dhcp_static_lease *statics, size_t static_count,
		     struct dhcp_leases **ret, struct herd_error *err)
{
	struct dhcp_leases *l;
	size_t extra = 0, buckets = 1;
	int r;

	if (last < first || last - first >= POOL_MAX)
		return herd_error_set(err, EINVAL, "dhcp: range of %u addresses is not 1..%u",
				      last < first ? 0 : last - first + 1, POOL_MAX);
	for (size_t i = 0; i < static_count; i++) {
		if (statics[i].ip - first > last - first)
			extra++;
		for (size_t j = 0; j < i; j++)
			if (statics[j].ip == statics[i].ip) {
				char ip[16];
				return herd_error_set(err, EINVAL, "dhcp: two static leases for %s",
						      dhcp_ip_string(statics[i].ip, ip));
			}
	}

	l = calloc(1, sizeof(*l));
	if (!l)
		return herd_error_set(err, ENOMEM, "dhcp: out of memory");
	l->first = first;
	l->range_count = (size_t)(last - first) + 1;
	l->count = l->range_count + extra;
	while (buckets < l->count * 2)
		buckets <<= 1;
	l->bucket_mask = buckets - 1;
	l->slots = calloc(l->count, sizeof(*l->slots));
	l->buckets = malloc(buckets * sizeof(*l->buckets));
	l->statics = static_count ? malloc(static_count * sizeof(*statics)) : NULL;
	if (!l->slots || !l->buckets || (static_count && !l->statics)) {
		dhcp_leases_free(l);
		return herd_error_set(err, ENOMEM, "dhcp: out of memory");
	}
	memset(l->buckets, 0xff, buckets * sizeof(*l->buckets));
	if (static_count)
		memcpy(l->statics, statics, static_count * sizeof(*statics));
	l->static_count = static_count;
	for (size_t i = 0; i < l->range_count; i++) {
		l->slots[i].ip = first + (uint32_t)i;
		l->slots[i].mac_next = -1;
	}
	extra = l->range_count;
	for (size_t i = 0; i < static_count; i++) {
		struct dhcp_lease *s;
		if (statics[i].ip - first > last - first) {
			s = &l->slots[extra++];
			s->ip = statics[i].ip;
			s->mac_next = -1;
		} else {
			s = &l->slots[statics[i].ip - first];
		}
		s->is_static = true;
	}

	if (db_path) {
		r = open_db(l, db_path, err);
		if (r < 0) {
			dhcp_leases_free(l);
			return r;
		}
	}
	*ret = l;
	return 0;
}

struct dhcp_leases *dhcp_leases_free(struct dhcp_leases *l)
{
	if (!l)
		return NULL;
	if (l->db) {
		dhcp_leases_commit(l, NULL);
		sqlite3_finalize(l->put_lease);
		sqlite3_finalize(l->put_client);
		sqlite3_close(l->db);
	}
	free(l->slots);
	free(l->buckets);
	free(l->statics);
	free(l);
	return NULL;
}

size_t dhcp_leases_count(const struct dhcp_leases *l)
{
	return l->count;
}

size_t dhcp_leases_bound(const struct dhcp_leases *l, int64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < l->count; i++)
		if (l->slots[i].state == DHCP_LEASE_BOUND && l->slots[i].expires > now)
			n++;
	return n;
}

const struct dhcp_lease *dhcp_leases_slot(const struct dhcp_leases *l, size_t i)
{
	return i < l->count ? &l->slots[i] : NULL;
}
