/*
 * test_dhcp_server.c — the DHCP request handler as a pure function: bytes
 * and a clock in, a reply (or silence and a log line) out.  Server mode
 * (RFC 2131 §4.3 message by message, static leases, persistence across a
 * restart, the Pi 3 ROM rule, the conflict probe) and proxy mode (PXE
 * boot options only).
 */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dhcp_testlib.h"
#include "net/dhcp.h"

#define SERVER TP_IP(10, 9, 0, 1)
#define FIRST  TP_IP(10, 9, 0, 100)
#define LAST   TP_IP(10, 9, 0, 103)
#define NOW    1700000000

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0xc};
static const uint8_t mac_pi[6] = {0xe4, 0x5f, 0x01, 0x09, 0x02, 0xf7};

struct fixture {
	struct dhcp_config config;
	struct dhcp_server *server;
	struct dhcp_reply reply;
	struct dhcp_packet parsed;
	char dir[64];
	char db_path[128];
	char last_log[1024];
	int log_lines;
	struct netlog log;
};

static void capture_log(void *userdata, enum netlog_level level, const char *component,
			const char *message)
{
	struct fixture *f = userdata;
	assert_string_equal(component, "dhcp");
	snprintf(f->last_log, sizeof(f->last_log), "%s", message);
	f->log_lines++;
}

static void base_config(struct fixture *f, enum dhcp_mode mode)
{
	dhcp_config_init(&f->config);
	f->config.mode = mode;
	f->config.server_ip = SERVER;
	f->config.netmask = TP_IP(255, 255, 255, 0);
	f->config.range_first = FIRST;
	f->config.range_last = LAST;
	f->config.lease_time = 600;
	f->config.router = SERVER;
	f->config.dns[0] = TP_IP(10, 9, 0, 2);
	f->config.dns[1] = TP_IP(10, 9, 0, 3);
	f->config.dns_count = 2;
	snprintf(f->config.domain, sizeof(f->config.domain), "lab.example");
	snprintf(f->db_path, sizeof(f->db_path), "%s/leases.db", f->dir);
	f->config.db_path = f->db_path;
	f->config.probe_ms = 0; /* test_probe turns it on */
}

static void start(struct fixture *f)
{
	struct herd_error err = {0};
	int r;

	f->log = (struct netlog){.fn = capture_log, .ctx = f, .max = NETLOG_DEBUG};
	r = dhcp_server_create(&f->config, &f->log, &f->server, &err);
	if (r < 0)
		fail_msg("create: %s", err.message);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/herd-dhcp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	base_config(f, DHCP_MODE_SERVER);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];
	dhcp_server_free(f->server);
	dhcp_config_clear(&f->config);
	static const char *const names[] = {"leases.db", "leases.db-wal", "leases.db-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Handle t; return the reply's message type (0: no reply) and keep the
 * parsed reply in f->parsed. */
static int send_packet(struct fixture *f, struct test_packet *t, int64_t now)
{
	int r = dhcp_server_handle(f->server, t->data, t->length, now, &f->reply);
	assert_true(r >= 0);
	if (r == 0)
		return 0;
	assert_int_equal(dhcp_packet_parse(f->reply.data, f->reply.length, &f->parsed, NULL), 0);
	assert_int_equal(f->parsed.op, DHCP_OP_REPLY);
	return f->parsed.message_type;
}

static int discover(struct fixture *f, const uint8_t *mac, uint32_t xid, int64_t now)
{
	struct test_packet t;
	tp_init(&t, xid, mac);
	tp_opt_u8(&t, 53, DHCP_DISCOVER);
	tp_end(&t);
	return send_packet(f, &t, now);
}

static int request(struct fixture *f, const uint8_t *mac, uint32_t server_id, uint32_t want,
		   uint32_t ciaddr, int64_t now)
{
	struct test_packet t;
	tp_init(&t, 42, mac);
	tp_be32(t.data + 12, ciaddr);
	tp_opt_u8(&t, 53, DHCP_REQUEST);
	if (server_id)
		tp_opt_ip(&t, 54, server_id);
	if (want)
		tp_opt_ip(&t, 50, want);
	tp_end(&t);
	return send_packet(f, &t, now);
}

static uint32_t opt_u32(struct fixture *f, uint8_t code)
{
	uint32_t v = 0;
	assert_int_equal(dhcp_packet_option_u32(&f->parsed, code, &v), 0);
	return v;
}

/* DISCOVER → OFFER → REQUEST → ACK, with every option and the destination. */
static void test_four_way(void **state)
{
	struct fixture *f = *state;
	size_t n;
	const uint8_t *v;
	uint32_t offered;

	start(f);
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	offered = f->parsed.yiaddr;
	assert_true(offered >= FIRST && offered <= LAST);
	assert_int_equal(f->parsed.xid, 1);
	assert_memory_equal(f->parsed.chaddr, mac_a, 6);
	assert_int_equal(opt_u32(f, 54), SERVER);
	assert_int_equal(opt_u32(f, 51), 600);
	assert_int_equal(opt_u32(f, 58), 300);
	assert_int_equal(opt_u32(f, 59), 525);
	assert_int_equal(opt_u32(f, 1), TP_IP(255, 255, 255, 0));
	assert_int_equal(opt_u32(f, 28), TP_IP(10, 9, 0, 255));
	assert_int_equal(opt_u32(f, 3), SERVER);
	v = dhcp_packet_option(&f->parsed, 6, &n);
	assert_int_equal(n, 8);
	assert_memory_equal(v, "\x0a\x09\x00\x02\x0a\x09\x00\x03", 8);
	v = dhcp_packet_option(&f->parsed, 15, &n);
	assert_memory_equal(v, "lab.example", n);
	assert_null(dhcp_packet_option(&f->parsed, 43, &n)); /* not a PXE client */
	assert_true(f->reply.broadcast);
	assert_int_equal(f->reply.dest_port, 68);

	/* another client gets another address while the offer is held */
	assert_int_equal(discover(f, mac_b, 2, NOW), DHCP_OFFER);
	assert_int_not_equal(f->parsed.yiaddr, offered);

	assert_int_equal(request(f, mac_a, SERVER, offered, 0, NOW + 1), DHCP_ACK);
	assert_int_equal(f->parsed.yiaddr, offered);
	assert_int_equal(opt_u32(f, 51), 600);
	assert_true(f->reply.broadcast);
	assert_int_equal(dhcp_server_commit(f->server, NULL), 1);
	assert_int_equal(dhcp_leases_bound(dhcp_server_leases(f->server), NOW + 1), 1);

	/* the same client asking again gets the same address */
	assert_int_equal(discover(f, mac_a, 3, NOW + 2), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, offered);
	/* and its lease stays bound meanwhile */
	assert_int_equal(dhcp_leases_bound(dhcp_server_leases(f->server), NOW + 2), 1);
}

/* Renewing (unicast, ciaddr), rebinding from the wrong MAC, wrong network,
 * REQUEST for another server. */
static void test_renew_and_nak(void **state)
{
	struct fixture *f = *state;
	uint32_t ip;

	start(f);
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	ip = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_a, SERVER, ip, 0, NOW), DHCP_ACK);

	assert_int_equal(request(f, mac_a, 0, 0, ip, NOW + 300), DHCP_ACK);
	assert_false(f->reply.broadcast);
	assert_int_equal(f->reply.dest_ip, ip);
	assert_int_equal(f->reply.dest_port, 68);
	assert_int_equal(f->parsed.yiaddr, ip);
	const struct dhcp_lease *l = dhcp_leases_by_ip(dhcp_server_leases(f->server), ip);
	assert_int_equal(l->expires, NOW + 300 + 600);

	/* somebody else claiming that address: NAK, broadcast */
	assert_int_equal(request(f, mac_b, 0, 0, ip, NOW + 301), DHCP_NAK);
	assert_true(f->reply.broadcast);
	assert_int_equal(f->parsed.yiaddr, 0);
	assert_non_null(strstr(f->last_log, "NAK"));

	/* INIT-REBOOT on a foreign network */
	assert_int_equal(request(f, mac_c, 0, TP_IP(192, 168, 1, 5), 0, NOW), DHCP_NAK);
	assert_non_null(strstr(f->last_log, "wrong network"));

	/* selecting another server's offer withdraws ours */
	assert_int_equal(discover(f, mac_c, 5, NOW), DHCP_OFFER);
	uint32_t offered = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_c, TP_IP(10, 9, 0, 254), TP_IP(10, 9, 0, 50), 0, NOW), 0);
	l = dhcp_leases_by_ip(dhcp_server_leases(f->server), offered);
	assert_int_equal(l->state, DHCP_LEASE_FREE);
	assert_false(l->has_mac);

	/* SELECTING an address we did not offer: NAK */
	assert_int_equal(request(f, mac_c, SERVER, ip, 0, NOW), DHCP_NAK);
	/* no address at all: ignored */
	assert_int_equal(request(f, mac_c, 0, 0, 0, NOW), 0);
}

static void test_decline_release_inform(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;
	uint32_t ip;
	size_t n;

	start(f);
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	ip = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_a, SERVER, ip, 0, NOW), DHCP_ACK);

	/* DECLINE: quarantined, nobody gets it for DHCP_DECLINE_HOLD_SECONDS */
	tp_init(&t, 9, mac_a);
	tp_opt_u8(&t, 53, DHCP_DECLINE);
	tp_opt_ip(&t, 54, SERVER);
	tp_opt_ip(&t, 50, ip);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW + 1), 0);
	assert_non_null(strstr(f->last_log, "DECLINE"));
	const struct dhcp_lease *l = dhcp_leases_by_ip(dhcp_server_leases(f->server), ip);
	assert_int_equal(l->state, DHCP_LEASE_DECLINED);
	for (int i = 0; i < 3; i++) {
		const uint8_t *m = i == 0 ? mac_a : i == 1 ? mac_b : mac_c;
		assert_int_equal(discover(f, m, 10 + (uint32_t)i, NOW + 2), DHCP_OFFER);
		assert_int_not_equal(f->parsed.yiaddr, ip);
	}
	/* pool of 4, one quarantined, three offered: the fourth client waits */
	static const uint8_t mac_d[6] = {2, 0, 0, 0, 0, 0xd};
	assert_int_equal(discover(f, mac_d, 20, NOW + 3), 0);
	assert_non_null(strstr(f->last_log, "no free address"));
	/* after the quarantine (and the offer holds) it is usable again */
	assert_int_equal(discover(f, mac_d, 21, NOW + 1 + DHCP_DECLINE_HOLD_SECONDS), DHCP_OFFER);

	/* RELEASE: free, and the same client gets it back */
	uint32_t b_ip;
	assert_int_equal(discover(f, mac_b, 30, NOW + 700), DHCP_OFFER);
	b_ip = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_b, SERVER, b_ip, 0, NOW + 700), DHCP_ACK);
	tp_init(&t, 31, mac_b);
	tp_be32(t.data + 12, b_ip);
	tp_opt_u8(&t, 53, DHCP_RELEASE);
	tp_opt_ip(&t, 54, SERVER);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW + 701), 0);
	l = dhcp_leases_by_ip(dhcp_server_leases(f->server), b_ip);
	assert_int_equal(l->state, DHCP_LEASE_RELEASED);
	assert_int_equal(discover(f, mac_b, 32, NOW + 702), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, b_ip);

	/* INFORM: options, no lease, unicast to ciaddr */
	tp_init(&t, 40, mac_c);
	tp_be32(t.data + 12, TP_IP(10, 9, 0, 77));
	tp_opt_u8(&t, 53, DHCP_INFORM);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_ACK);
	assert_int_equal(f->parsed.yiaddr, 0);
	assert_null(dhcp_packet_option(&f->parsed, 51, &n));
	assert_non_null(dhcp_packet_option(&f->parsed, 6, &n));
	assert_int_equal(f->reply.dest_ip, TP_IP(10, 9, 0, 77));
}

static void test_static_leases(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;
	struct herd_error err = {0};
	size_t n;
	const uint8_t *v;

	assert_int_equal(dhcp_config_add_static(&f->config, "02:00:00:00:00:0a=10.9.0.50", &err),
			 0);
	assert_int_equal(dhcp_config_add_static(&f->config, "red01=10.9.0.101", &err), 0);
	assert_int_equal(dhcp_config_add_static(&f->config, "red02=10.9.0.101", &err), -EEXIST);
	assert_int_equal(dhcp_config_add_static(&f->config, "bad name=10.9.0.9", &err), -EINVAL);
	assert_int_equal(dhcp_config_add_static(&f->config, "red03=10.9.0", &err), -EINVAL);
	start(f);

	/* by MAC, outside the range */
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, TP_IP(10, 9, 0, 50));
	assert_int_equal(request(f, mac_a, SERVER, TP_IP(10, 9, 0, 50), 0, NOW), DHCP_ACK);
	/* asking for another address: NAK, so it comes back for its own */
	assert_int_equal(request(f, mac_a, 0, FIRST, 0, NOW), DHCP_NAK);

	/* by host name, inside the range; the name is sent back */
	tp_init(&t, 2, mac_b);
	tp_opt_u8(&t, 53, DHCP_DISCOVER);
	tp_opt(&t, 12, "red01", 5);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, TP_IP(10, 9, 0, 101));
	v = dhcp_packet_option(&f->parsed, 12, &n);
	assert_non_null(v);
	assert_memory_equal(v, "red01", 5);

	/* others never get a static address, even the in-range one */
	for (uint32_t i = 0; i < 3; i++) {
		uint8_t m[6] = {2, 1, 0, 0, 0, (uint8_t)i};
		assert_int_equal(discover(f, m, 100 + i, NOW), DHCP_OFFER);
		assert_int_not_equal(f->parsed.yiaddr, TP_IP(10, 9, 0, 101));
		assert_int_not_equal(f->parsed.yiaddr, TP_IP(10, 9, 0, 50));
	}
	uint8_t m4[6] = {2, 1, 0, 0, 0, 9};
	assert_int_equal(discover(f, m4, 200, NOW), 0);
	/* nor by REQUESTing it */
	assert_int_equal(request(f, m4, 0, TP_IP(10, 9, 0, 101), 0, NOW), DHCP_NAK);
}

/* Leases survive a restart: same address on INIT-REBOOT and on DISCOVER. */
static void test_persistence(void **state)
{
	struct fixture *f = *state;
	uint32_t ip_a, ip_b;
	sqlite3 *db;
	sqlite3_stmt *st;

	start(f);
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	ip_a = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_a, SERVER, ip_a, 0, NOW), DHCP_ACK);
	assert_int_equal(discover(f, mac_b, 2, NOW), DHCP_OFFER);
	ip_b = f->parsed.yiaddr;
	assert_int_equal(request(f, mac_b, SERVER, ip_b, 0, NOW), DHCP_ACK);
	assert_int_equal(dhcp_server_commit(f->server, NULL), 1);

	/* what is on disk, read by sqlite itself before the server closes */
	char path[128];
	snprintf(path, sizeof(path), "%s/leases.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT address, state, expires FROM leases WHERE mac "
					    "= '02:00:00:00:00:0a'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char want[16];
	assert_string_equal((const char *)sqlite3_column_text(st, 0), dhcp_ip_string(ip_a, want));
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "bound");
	assert_int_equal(sqlite3_column_int64(st, 2), NOW + 600);
	sqlite3_finalize(st);
	sqlite3_close(db);

	dhcp_server_free(f->server);
	f->server = NULL;
	start(f);
	assert_int_equal(dhcp_leases_bound(dhcp_server_leases(f->server), NOW + 10), 2);
	/* a third client cannot take either address */
	assert_int_equal(discover(f, mac_c, 3, NOW + 10), DHCP_OFFER);
	assert_int_not_equal(f->parsed.yiaddr, ip_a);
	assert_int_not_equal(f->parsed.yiaddr, ip_b);
	assert_int_equal(request(f, mac_a, 0, ip_a, 0, NOW + 10), DHCP_ACK);
	assert_int_equal(f->parsed.yiaddr, ip_a);
	assert_int_equal(discover(f, mac_b, 4, NOW + 10), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, ip_b);
}

/* Pi 3 ROM: same xid on every board, no REQUEST: each offer is a lease,
 * never the same address twice, and the 3B menu text with three spaces. */
static void test_pi3_rom(void **state)
{
	struct fixture *f = *state;
	static const uint8_t pi_x[6] = {0xb8, 0x27, 0xeb, 0, 0, 1};
	static const uint8_t pi_y[6] = {0xb8, 0x27, 0xeb, 0, 0, 2};
	struct test_packet t;
	uint32_t ip_x;
	size_t n;
	const uint8_t *v;

	start(f);
	for (int i = 0; i < 2; i++) {
		tp_init(&t, DHCP_PI3B_ROM_XID, i == 0 ? pi_x : pi_y);
		tp_opt_u8(&t, 53, DHCP_DISCOVER);
		tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
		tp_end(&t);
		assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
		if (i == 0)
			ip_x = f->parsed.yiaddr;
		else
			assert_int_not_equal(f->parsed.yiaddr, ip_x);
		v = dhcp_packet_option(&f->parsed, 43, &n);
		assert_int_equal(n, 35);
		assert_memory_equal(v + 14, "Raspberry Pi Boot   ", 20);
		assert_int_equal(f->parsed.siaddr, SERVER);
	}
	/* both are bound for the full lease time, well past the offer hold */
	assert_int_equal(dhcp_leases_bound(dhcp_server_leases(f->server), NOW + 500), 2);
	assert_non_null(strstr(f->last_log, "Pi 3 ROM"));
}

/* Server mode gives boot clients the PXE options along with the lease. */
static void test_server_pxe_options(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;
	size_t n;
	const uint8_t *v;

	snprintf(f->config.boot_file, sizeof(f->config.boot_file), "bootcode.bin");
	start(f);
	tp_pi4_discover(&t, 77, mac_pi);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_true(f->parsed.yiaddr >= FIRST);
	assert_int_equal(f->parsed.siaddr, SERVER);
	v = dhcp_packet_option(&f->parsed, 43, &n);
	assert_int_equal(n, 32);
	assert_memory_equal(v + 14, "Raspberry Pi Boot", 17);
	v = dhcp_packet_option(&f->parsed, 67, &n);
	assert_memory_equal(v, "bootcode.bin", n);
	assert_string_equal(f->parsed.file, "bootcode.bin");
	assert_non_null(strstr(f->last_log, "serial 91cdf03d"));
}

static void test_proxy(void **state)
{
	struct fixture *f = *state;
	static const uint8_t menu[] = {6,   1,	 3,   10,  4,	0,   'P', 'X', 'E', 9,	 20,
				       0,   0,	 17,  'R', 'a', 's', 'p', 'b', 'e', 'r', 'r',
				       'y', ' ', 'P', 'i', ' ', 'B', 'o', 'o', 't', 255};
	struct test_packet t;
	size_t n;
	const uint8_t *v;

	base_config(f, DHCP_MODE_PROXY);
	f->config.range_first = f->config.range_last = 0;
	f->config.tftp_server = TP_IP(10, 9, 0, 5);
	start(f);

	tp_pi4_discover(&t, 0x2713259, mac_pi);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, 0);
	assert_int_equal(f->parsed.siaddr, TP_IP(10, 9, 0, 5));
	assert_int_equal(f->parsed.xid, 0x2713259);
	v = dhcp_packet_option(&f->parsed, 60, &n);
	assert_int_equal(n, 9);
	assert_memory_equal(v, "PXEClient", 9);
	v = dhcp_packet_option(&f->parsed, 43, &n);
	assert_int_equal(n, sizeof(menu));
	assert_memory_equal(v, menu, sizeof(menu));
	v = dhcp_packet_option(&f->parsed, 66, &n);
	assert_int_equal(n, 8);
	assert_memory_equal(v, "10.9.0.5", 8);
	v = dhcp_packet_option(&f->parsed, 97, &n);
	assert_int_equal(n, 17);
	assert_int_equal(opt_u32(f, 54), SERVER);
	/* nothing that competes with the real server */
	assert_null(dhcp_packet_option(&f->parsed, 51, &n));
	assert_null(dhcp_packet_option(&f->parsed, 1, &n));
	assert_null(dhcp_packet_option(&f->parsed, 3, &n));
	assert_true(f->reply.broadcast);

	/* an ordinary client: ignored */
	assert_int_equal(discover(f, mac_a, 5, NOW), 0);
	assert_int_equal(request(f, mac_a, SERVER, TP_IP(10, 9, 0, 7), 0, NOW), 0);
	/* a PXE REQUEST for the real server: ignored; for us: proxy ACK */
	tp_pi4_packet(&t, 6, mac_pi, DHCP_REQUEST, TP_IP(10, 9, 0, 254));
	assert_int_equal(send_packet(f, &t, NOW), 0);
	tp_pi4_packet(&t, 6, mac_pi, DHCP_REQUEST, SERVER);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_ACK);
	assert_int_equal(f->parsed.yiaddr, 0);
	assert_non_null(dhcp_packet_option(&f->parsed, 43, &n));

	/* iPXE (same vendor class as a BIOS PXE ROM, user class "iPXE"):
	 * boot server yes, the Pi's boot menu no — iPXE would wait on it. */
	tp_init(&t, 0x1234, mac_a);
	tp_opt_u8(&t, 53, DHCP_DISCOVER);
	tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(&t, 77, "iPXE", 4);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_int_equal(f->parsed.siaddr, TP_IP(10, 9, 0, 5));
	assert_null(dhcp_packet_option(&f->parsed, 43, &n));
	assert_non_null(dhcp_packet_option(&f->parsed, 66, &n));
}

/* Every client is recorded: MAC, vendor class, Pi model and serial. */
static void test_clients_table(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;
	sqlite3 *db;
	sqlite3_stmt *st;
	char path[128];

	start(f);
	tp_pi4_discover(&t, 1, mac_pi);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_int_equal(discover(f, mac_a, 2, NOW + 5), DHCP_OFFER);
	assert_int_equal(discover(f, mac_a, 3, NOW + 9), DHCP_OFFER);
	assert_int_equal(dhcp_server_commit(f->server, NULL), 1);

	snprintf(path, sizeof(path), "%s/leases.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT mac, vendor_class, model, serial, first_seen, "
					    "last_seen FROM clients ORDER BY mac",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "02:00:00:00:00:0a");
	assert_int_equal(sqlite3_column_int64(st, 4), NOW + 5);
	assert_int_equal(sqlite3_column_int64(st, 5), NOW + 9);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "e4:5f:01:09:02:f7");
	assert_string_equal((const char *)sqlite3_column_text(st, 1),
			    "PXEClient:Arch:00000:UNDI:002001");
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "Pi 4");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "91cdf03d");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Bad input: ignored with a log line, and the server keeps serving. */
static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;
	int lines;

	start(f);
	tp_init(&t, 1, mac_a);
	tp_opt_u8(&t, 53, DHCP_DISCOVER);
	tp_end(&t);

	lines = f->log_lines;
	assert_int_equal(dhcp_server_handle(f->server, t.data, 100, NOW, &f->reply), 0);
	assert_int_equal(f->log_lines, lines + 1);
	assert_non_null(strstr(f->last_log, "too short"));

	t.data[0] = DHCP_OP_REPLY; /* wrong op */
	assert_int_equal(dhcp_server_handle(f->server, t.data, t.length, NOW, &f->reply), 0);
	assert_non_null(strstr(f->last_log, "op 2"));
	t.data[0] = DHCP_OP_REQUEST;

	t.data[242] = DHCP_OFFER; /* a server message */
	assert_int_equal(dhcp_server_handle(f->server, t.data, t.length, NOW, &f->reply), 0);
	assert_non_null(strstr(f->last_log, "server message"));
	t.data[242] = 0; /* BOOTP */
	assert_int_equal(dhcp_server_handle(f->server, t.data, t.length, NOW, &f->reply), 0);
	assert_non_null(strstr(f->last_log, "BOOTP"));
	t.data[242] = DHCP_DISCOVER;

	t.data[241] = 250; /* option length past the end */
	assert_int_equal(dhcp_server_handle(f->server, t.data, t.length, NOW, &f->reply), 0);
	assert_non_null(strstr(f->last_log, "runs past"));
	t.data[241] = 1;

	/* a huge option list: 600 small options, still parsed, answered */
	struct test_packet big;
	tp_init(&big, 9, mac_b);
	tp_opt_u8(&big, 53, DHCP_DISCOVER);
	for (int i = 0; i < 600; i++)
		tp_opt(&big, 224, "", 0);
	tp_end(&big);
	assert_int_equal(send_packet(f, &big, NOW), DHCP_OFFER);

	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	const struct dhcp_stats *s = dhcp_server_stats(f->server);
	assert_int_equal(s->malformed, 3);
	assert_int_equal(s->offers, 2);
}

/* Relayed requests go back to the relay on the server port; option 57
 * limits the reply. */
static void test_relay_and_size(void **state)
{
	struct fixture *f = *state;
	struct test_packet t;

	start(f);
	tp_init(&t, 1, mac_a);
	tp_be32(t.data + 24, TP_IP(10, 9, 0, 254));
	tp_opt_u8(&t, 53, DHCP_DISCOVER);
	tp_end(&t);
	assert_int_equal(send_packet(f, &t, NOW), DHCP_OFFER);
	assert_false(f->reply.broadcast);
	assert_int_equal(f->reply.dest_ip, TP_IP(10, 9, 0, 254));
	assert_int_equal(f->reply.dest_port, 67);
	assert_int_equal(f->parsed.giaddr, TP_IP(10, 9, 0, 254));
	assert_true(f->reply.length <= DHCP_REPLY_MIN_MAX);
}

/* handle() for a DISCOVER that is expected to be deferred for a probe;
 * returns the address to probe. */
static uint32_t discover_deferred(struct fixture *f, struct test_packet *t, const uint8_t *mac,
				  uint32_t xid, int64_t now)
{
	tp_init(t, xid, mac);
	tp_opt_u8(t, 53, DHCP_DISCOVER);
	tp_end(t);
	assert_int_equal(dhcp_server_handle(f->server, t->data, t->length, now, &f->reply),
			 DHCP_HANDLE_PROBE);
	assert_memory_equal(f->reply.mac, mac, 6);
	assert_true(f->reply.probe_ip >= FIRST && f->reply.probe_ip <= LAST);
	return f->reply.probe_ip;
}

/* Conflict check: a DISCOVER for an address nobody holds waits for the
 * probe with the address held; silence gets the OFFER, an answer from
 * another host quarantines the address and the DISCOVER moves on. */
static void test_probe(void **state)
{
	struct fixture *f = *state;
	static const uint8_t squatter[6] = {0x02, 0xee, 0, 0, 0, 1};
	struct test_packet ta, tb;
	uint32_t a_ip, b_ip, b_ip2;
	const struct dhcp_lease *l;
	const struct dhcp_stats *st;

	f->config.probe_ms = 100;
	start(f);
	a_ip = discover_deferred(f, &ta, mac_a, 1, NOW);
	l = dhcp_leases_by_ip(dhcp_server_leases(f->server), a_ip);
	assert_int_equal(l->state, DHCP_LEASE_OFFERED);
	assert_memory_equal(l->mac, mac_a, 6);
	/* held: the next client is probed on another address */
	b_ip = discover_deferred(f, &tb, mac_b, 2, NOW);
	assert_int_not_equal(b_ip, a_ip);

	/* silence: a's DISCOVER gets its OFFER, with its own xid */
	assert_int_equal(dhcp_server_probe_done(f->server, a_ip, NULL, NOW), 0);
	assert_int_equal(dhcp_server_resume(f->server, ta.data, ta.length, NOW, &f->reply), 1);
	assert_int_equal(dhcp_packet_parse(f->reply.data, f->reply.length, &f->parsed, NULL), 0);
	assert_int_equal(f->parsed.message_type, DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, a_ip);
	assert_int_equal(f->parsed.xid, 1);

	/* a host answers for b's address: quarantined, b moves on */
	assert_int_equal(dhcp_server_probe_done(f->server, b_ip, squatter, NOW), 0);
	assert_non_null(strstr(f->last_log, "conflict"));
	assert_non_null(strstr(f->last_log, "02:ee:00:00:00:01"));
	l = dhcp_leases_by_ip(dhcp_server_leases(f->server), b_ip);
	assert_int_equal(l->state, DHCP_LEASE_DECLINED);
	assert_false(l->has_mac);
	assert_int_equal(dhcp_server_resume(f->server, tb.data, tb.length, NOW, &f->reply),
			 DHCP_HANDLE_PROBE);
	b_ip2 = f->reply.probe_ip;
	assert_true(b_ip2 != a_ip && b_ip2 != b_ip);
	assert_int_equal(dhcp_server_probe_done(f->server, b_ip2, NULL, NOW), 0);
	assert_int_equal(dhcp_server_resume(f->server, tb.data, tb.length, NOW, &f->reply), 1);
	assert_int_equal(f->reply.yiaddr, b_ip2);

	/* resuming counts nothing twice */
	st = dhcp_server_stats(f->server);
	assert_int_equal(st->received, 2);
	assert_int_equal(st->probes, 3);
	assert_int_equal(st->conflicts, 1);
	assert_int_equal(st->offers, 2);

	/* a's lease: REQUEST/ACK; asking again while bound needs no probe */
	assert_int_equal(request(f, mac_a, SERVER, a_ip, 0, NOW + 1), DHCP_ACK);
	assert_int_equal(discover(f, mac_a, 3, NOW + 2), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, a_ip);
	/* the lease ran out and the probe is stale: probed again */
	assert_int_equal(discover_deferred(f, &ta, mac_a, 4, NOW + 601 + DHCP_PROBE_FRESH_SECONDS),
			 a_ip);
	/* a probe that vouched a moment ago is enough */
	assert_int_equal(dhcp_server_probe_done(f->server, a_ip, NULL, NOW + 700), 0);
	assert_int_equal(discover(f, mac_a, 5, NOW + 710), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, a_ip);
}

/* Proxy mode and static leases are never probed. */
static void test_probe_not_for_statics(void **state)
{
	struct fixture *f = *state;

	f->config.probe_ms = 100;
	assert_int_equal(dhcp_config_add_static(&f->config, "02:00:00:00:00:0a=10.9.0.102", NULL),
			 0);
	start(f);
	assert_int_equal(discover(f, mac_a, 1, NOW), DHCP_OFFER);
	assert_int_equal(f->parsed.yiaddr, TP_IP(10, 9, 0, 102));
	assert_int_equal(dhcp_server_stats(f->server)->probes, 0);
}

static void test_config(void **state)
{
	struct dhcp_config c;
	struct herd_error err = {0};
	enum dhcp_mode m;

	dhcp_config_init(&c);
	assert_int_equal(dhcp_mode_parse("proxy", &m), 0);
	assert_int_equal(m, DHCP_MODE_PROXY);
	assert_int_equal(dhcp_mode_parse("on", &m), -EINVAL);
	assert_int_equal(dhcp_config_set_range(&c, "10.0.0.10-10.0.0.20", &err), 0);
	assert_int_equal(c.range_first, TP_IP(10, 0, 0, 10));
	assert_int_equal(dhcp_config_set_range(&c, "10.0.0.20-10.0.0.10", &err), -EINVAL);
	assert_int_equal(dhcp_config_set_range(&c, "10.0.0.20", &err), -EINVAL);
	assert_int_equal(dhcp_config_set_range(&c, "10.0.0.0-10.255.0.0", &err), -EINVAL);
	c.mode = DHCP_MODE_SERVER;
	c.server_ip = TP_IP(10, 0, 0, 1);
	c.netmask = TP_IP(255, 255, 255, 0);
	assert_int_equal(dhcp_config_validate(&c, &err), 0);
	c.netmask = TP_IP(255, 0, 255, 0);
	assert_int_equal(dhcp_config_validate(&c, &err), -EINVAL);
	c.netmask = TP_IP(255, 255, 255, 0);
	c.server_ip = TP_IP(10, 0, 0, 15);
	assert_int_equal(dhcp_config_validate(&c, &err), -EINVAL);
	assert_non_null(strstr(err.message, "contains the server"));
	c.server_ip = TP_IP(10, 0, 1, 1);
	assert_int_equal(dhcp_config_validate(&c, &err), -EINVAL);
	assert_non_null(strstr(err.message, "not in the subnet"));
	c.server_ip = TP_IP(10, 0, 0, 1);
	c.probe_ms = DHCP_PROBE_MS_MAX + 1;
	assert_int_equal(dhcp_config_validate(&c, &err), -EINVAL);
	assert_non_null(strstr(err.message, "ARP probe"));
	dhcp_config_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_four_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_and_nak, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_decline_release_inform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_static_leases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pi3_rom, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_pxe_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clients_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_and_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe_not_for_statics, setup, teardown),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
