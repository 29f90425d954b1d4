/*
 * dhcp_testlib.h — build client DHCP packets byte by byte for the unit
 * tests (test_dhcp_wire.c, test_dhcp_server.c).  Independent of
 * dhcp_builder on purpose: the tests must not use the code under test to
 * make their input.
 */
#pragma once

#include <stdint.h>
#include <string.h>

struct test_packet {
	uint8_t data[1600];
	size_t length;
};

static inline void tp_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* BOOTREQUEST, Ethernet, xid, chaddr = mac, cookie; options follow. */
static inline void tp_init(struct test_packet *t, uint32_t xid, const uint8_t mac[6])
{
	memset(t, 0, sizeof(*t));
	t->data[0] = 1;
	t->data[1] = 1;
	t->data[2] = 6;
	tp_be32(t->data + 4, xid);
	memcpy(t->data + 28, mac, 6);
	tp_be32(t->data + 236, 0x63825363u);
	t->length = 240;
}

static inline void tp_opt(struct test_packet *t, uint8_t code, const void *v, size_t n)
{
	t->data[t->length++] = code;
	t->data[t->length++] = (uint8_t)n;
	memcpy(t->data + t->length, v, n);
	t->length += n;
}

static inline void tp_opt_u8(struct test_packet *t, uint8_t code, uint8_t v)
{
	tp_opt(t, code, &v, 1);
}

static inline void tp_opt_ip(struct test_packet *t, uint8_t code, uint32_t ip)
{
	uint8_t b[4];
	tp_be32(b, ip);
	tp_opt(t, code, b, 4);
}

static inline void tp_end(struct test_packet *t)
{
	t->data[t->length++] = 255;
	while (t->length < 300)
		t->data[t->length++] = 0;
}

#define TP_IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* A Pi 4 bootloader DISCOVER as the netboot notes describe it: option 60
 * "PXEClient:Arch:00000:UNDI:002001", 93 = 0, 94 = 1.2.1, 97 = 0 + "4iPR"
 * + revision 0x00d03114 + MAC low 4 bytes + serial (all little-endian,
 * serial 0x91cdf03d), 55 = 1, 3, 43, 60, 66, 67, 128..135. */
static inline void tp_pi4_packet(struct test_packet *t, uint32_t xid, const uint8_t mac[6],
				 uint8_t type, uint32_t server_id)
{
	static const uint8_t params[] = {1,   3,   43,	60,  66,  67,  128,
					 129, 130, 131, 132, 133, 134, 135};
	static const uint8_t arch[] = {0, 0};
	static const uint8_t ndi[] = {1, 2, 1};
	uint8_t uuid[17] = {0, 0x34, 0x69, 0x50, 0x52, 0x14, 0x31, 0xd0, 0x00};

	memcpy(uuid + 9, mac + 2, 4);
	uuid[13] = 0x3d;
	uuid[14] = 0xf0;
	uuid[15] = 0xcd;
	uuid[16] = 0x91;
	tp_init(t, xid, mac);
	tp_opt_u8(t, 53, type);
	if (server_id)
		tp_opt_ip(t, 54, server_id);
	tp_opt(t, 55, params, sizeof(params));
	tp_opt(t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(t, 93, arch, 2);
	tp_opt(t, 94, ndi, 3);
	tp_opt(t, 97, uuid, sizeof(uuid));
	tp_end(t);
}

static inline void tp_pi4_discover(struct test_packet *t, uint32_t xid, const uint8_t mac[6])
{
	tp_pi4_packet(t, xid, mac, 1, 0);
}
