/*
 * fuzz_dhcp.c — libFuzzer harness for DHCP packet handling.
 *
 * Each input is one received datagram.  It goes through dhcp_packet_parse
 * (invariants: every present option lies inside option_data) and through
 * the request handler of a server-mode and a proxy-mode server (leases in
 * memory; the pool of 16 addresses fills up, expires and is reused as the
 * clock advances; a DISCOVER deferred for the conflict probe is resumed
 * after a silent or an answered probe), and every reply must parse again
 * as a BOOTREPLY of at most the size a client accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dhcp_server *make(enum dhcp_mode mode)
{
	struct dhcp_config c;
	struct dhcp_server *s = NULL;

	dhcp_config_init(&c);
	c.mode = mode;
	c.server_ip = 0x0a090001;
	c.netmask = 0xffffff00;
	c.range_first = 0x0a090064;
	c.range_last = 0x0a090073;
	c.lease_time = 120;
	c.router = c.server_ip;
	c.dns[0] = c.server_ip;
	c.dns_count = 1;
	memcpy(c.domain, "fuzz.example", 13);
	memcpy(c.boot_file, "bootcode.bin", 13);
	if (mode == DHCP_MODE_SERVER) {
		dhcp_config_add_static(&c, "02:00:00:00:00:01=10.9.0.200", NULL);
		dhcp_config_add_static(&c, "red01=10.9.0.101", NULL);
	}
	if (dhcp_server_create(&c, NULL, &s, NULL) < 0)
		abort();
	dhcp_config_clear(&c);
	return s;
}

static void check_reply(const struct dhcp_reply *r)
{
	static struct dhcp_packet p;
	if (r->length < DHCP_BOOTP_MIN || r->length > DHCP_PACKET_MAX)
		abort();
	if (dhcp_packet_parse(r->data, r->length, &p, NULL) < 0)
		abort();
	if (p.op != DHCP_OP_REPLY || p.message_type < DHCP_OFFER || p.message_type > DHCP_NAK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dhcp_server *server, *proxy;
	static struct dhcp_packet p;
	static struct dhcp_reply reply;
	static int64_t now = 1700000000;
	int r;

	if (!server) {
		server = make(DHCP_MODE_SERVER);
		proxy = make(DHCP_MODE_PROXY);
	}
	if (dhcp_packet_parse(data, size, &p, NULL) == 0) {
		size_t total = 0;
		for (int c = 0; c < 256; c++) {
			if (!p.option_present[c])
				continue;
			if ((size_t)p.option_offset[c] + p.option_length[c] > sizeof(p.option_data))
				abort();
			total += p.option_length[c];
		}
		if (total > size)
			abort();
	}
	now += 7;
	r = dhcp_server_handle(server, data, size, now, &reply);
	if (r == DHCP_HANDLE_PROBE) {
		/* The probe's outcome from the input's last byte: silence, or a
		 * host (its MAC from the packet) that uses the address. */
		static const uint8_t squatter[6] = {0x02, 0xee, 0, 0, 0, 1};
		bool conflict = data[size - 1] & 1;
		if (reply.probe_ip < 0x0a090064 || reply.probe_ip > 0x0a090073)
			abort();
		if (dhcp_server_probe_done(server, reply.probe_ip, conflict ? squatter : NULL,
					   now) < 0)
			abort();
		r = dhcp_server_resume(server, data, size, now, &reply);
	}
	if (r == 1)
		check_reply(&reply);
	if (dhcp_server_handle(proxy, data, size, now, &reply) == 1)
		check_reply(&reply);
	return 0;
}
