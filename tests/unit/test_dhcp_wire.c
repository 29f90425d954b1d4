/*
 * test_dhcp_wire.c — DHCP packet parsing and building, PXE/Pi recognition
 * and option 43 bytes (dhcp_wire.h, dhcp_pxe.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dhcp_testlib.h"
#include "net/dhcp_pxe.h"
#include "net/dhcp_wire.h"

static const uint8_t mac1[6] = {0xe4, 0x5f, 0x01, 0x09, 0x02, 0xf7};

static void test_parse_basic(void **state)
{
	struct test_packet t;
	struct dhcp_packet p;
	uint32_t v;
	size_t n;

	tp_init(&t, 0x12345678, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_opt_ip(&t, 50, TP_IP(10, 0, 0, 7));
	tp_opt(&t, 12, "red01", 5);
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	assert_int_equal(p.op, 1);
	assert_int_equal(p.xid, 0x12345678);
	assert_memory_equal(p.chaddr, mac1, 6);
	assert_int_equal(p.message_type, DHCP_DISCOVER);
	assert_int_equal(dhcp_packet_option_ip(&p, 50, &v), 0);
	assert_int_equal(v, TP_IP(10, 0, 0, 7));
	assert_memory_equal(dhcp_packet_option(&p, 12, &n), "red01", 5);
	assert_int_equal(n, 5);
	assert_null(dhcp_packet_option(&p, 54, &n));
	assert_int_equal(dhcp_packet_option_ip(&p, 54, &v), -ENOENT);
	assert_int_equal(dhcp_packet_option_u16(&p, 50, (uint16_t *)&n), -EBADMSG);
}

static void test_parse_refuses(void **state)
{
	struct test_packet t;
	struct dhcp_packet p;
	struct herd_error err = {0};

	tp_init(&t, 1, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_end(&t);
	/* too short */
	assert_int_equal(dhcp_packet_parse(t.data, 239, &p, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "too short"));
	/* too long */
	assert_int_equal(dhcp_packet_parse(t.data, DHCP_PACKET_MAX + 1, &p, NULL), -EBADMSG);
	/* bad cookie */
	t.data[236] ^= 1;
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
	t.data[236] ^= 1;
	/* option length past the end */
	tp_init(&t, 1, mac1);
	t.data[240] = 12;
	t.data[241] = 200;
	t.length = 250;
	herd_error_clear(&err);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "runs past"));
	/* code without length byte at the very end */
	tp_init(&t, 1, mac1);
	t.data[240] = 53;
	t.length = 241;
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
	/* message type of 2 bytes */
	tp_init(&t, 1, mac1);
	tp_opt(&t, 53, "\x01\x01", 2);
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
	/* hlen > 16 */
	tp_init(&t, 1, mac1);
	t.data[2] = 17;
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
	/* bad overload value */
	tp_init(&t, 1, mac1);
	tp_opt_u8(&t, 52, 4);
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
}

/* No END, only padding to the end: accepted. */
static void test_parse_no_end(void **state)
{
	struct test_packet t;
	struct dhcp_packet p;

	tp_init(&t, 1, mac1);
	tp_opt_u8(&t, 53, 3);
	t.length = 300;
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	assert_int_equal(p.message_type, DHCP_REQUEST);
}

/* RFC 3396: the same code twice is one option, concatenated in order;
 * RFC 2132 §9.3: overload continues options in file, then sname. */
static void test_parse_concat_and_overload(void **state)
{
	struct test_packet t;
	struct dhcp_packet p;
	size_t n;
	const uint8_t *v;

	tp_init(&t, 1, mac1);
	tp_opt(&t, 60, "PXECl", 5);
	tp_opt_u8(&t, 52, 3);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "ient", 4);
	tp_end(&t);
	/* file (108..236): more of option 60, then END */
	t.data[108] = 60;
	t.data[109] = 3;
	memcpy(t.data + 110, ":Ar", 3);
	t.data[113] = 255;
	/* sname (44..108): the last piece and a host name */
	t.data[44] = 60;
	t.data[45] = 2;
	memcpy(t.data + 46, "ch", 2);
	t.data[48] = 12;
	t.data[49] = 2;
	memcpy(t.data + 50, "pi", 2);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	v = dhcp_packet_option(&p, 60, &n);
	assert_int_equal(n, 14);
	assert_memory_equal(v, "PXEClient:Arch", 14);
	v = dhcp_packet_option(&p, 12, &n);
	assert_int_equal(n, 2);
	assert_string_equal(p.sname, "");
	assert_string_equal(p.file, "");

	/* an option in file running past the field is refused */
	t.data[108] = 60;
	t.data[109] = 200;
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), -EBADMSG);
}

static void test_builder(void **state)
{
	uint8_t buf[800], big[400];
	struct test_packet t;
	struct dhcp_packet req, p;
	struct dhcp_builder b;
	size_t n;
	int len;

	tp_init(&t, 0xabcdef01, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_end(&t);
	t.data[10] = 0x80; /* broadcast flag */
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &req, NULL), 0);

	memset(big, 'x', sizeof(big));
	dhcp_builder_init(&b, buf, sizeof(buf), DHCP_OP_REPLY, &req);
	dhcp_builder_set_yiaddr(&b, TP_IP(10, 0, 0, 9));
	dhcp_builder_add_u8(&b, 53, DHCP_OFFER);
	dhcp_builder_add_ip(&b, 54, TP_IP(10, 0, 0, 1));
	dhcp_builder_add(&b, 77, big, sizeof(big)); /* split into 255 + 145 */
	dhcp_builder_set_file(&b, "start4.elf");
	len = dhcp_builder_finish(&b);
	assert_int_equal(len, 240 + 3 + 6 + 2 + 255 + 2 + 145 + 1);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[10], 0x80);
	assert_int_equal(dhcp_packet_parse(buf, (size_t)len, &p, NULL), 0);
	assert_int_equal(p.xid, 0xabcdef01);
	assert_int_equal(p.yiaddr, TP_IP(10, 0, 0, 9));
	assert_int_equal(p.message_type, DHCP_OFFER);
	assert_non_null(dhcp_packet_option(&p, 77, &n));
	assert_int_equal(n, sizeof(big));
	assert_string_equal(p.file, "start4.elf");

	/* too small: sticky overflow */
	dhcp_builder_init(&b, buf, 300, DHCP_OP_REPLY, &req);
	dhcp_builder_add(&b, 77, big, sizeof(big));
	dhcp_builder_add_u8(&b, 53, 2);
	assert_int_equal(dhcp_builder_finish(&b), -EMSGSIZE);

	/* short packets are padded to the BOOTP minimum */
	dhcp_builder_init(&b, buf, sizeof(buf), DHCP_OP_REPLY, &req);
	assert_int_equal(dhcp_builder_finish(&b), DHCP_BOOTP_MIN);
}

static void test_addresses(void **state)
{
	uint32_t ip;
	uint8_t mac[6];
	char s[18];

	assert_int_equal(dhcp_ip_parse("10.1.2.254", &ip), 0);
	assert_int_equal(ip, TP_IP(10, 1, 2, 254));
	assert_string_equal(dhcp_ip_string(ip, s), "10.1.2.254");
	assert_int_equal(dhcp_ip_parse("10.1.2", &ip), -EINVAL);
	assert_int_equal(dhcp_ip_parse("10.1.2.256", &ip), -EINVAL);
	assert_int_equal(dhcp_ip_parse("10.1.2.3.", &ip), -EINVAL);
	assert_int_equal(dhcp_ip_parse("10.1.2.0003", &ip), -EINVAL);
	assert_int_equal(dhcp_ip_parse("", &ip), -EINVAL);
	assert_int_equal(dhcp_mac_parse("E4:5f:01:09:02:f7", mac), 0);
	assert_memory_equal(mac, mac1, 6);
	assert_int_equal(dhcp_mac_parse("e4-5f-01-09-02-f7", mac), 0);
	assert_string_equal(dhcp_mac_string(mac, s), "e4:5f:01:09:02:f7");
	assert_int_equal(dhcp_mac_parse("e4:5f:01:09:02", mac), -EINVAL);
	assert_int_equal(dhcp_mac_parse("e4:5f:01:09:02:f7:00", mac), -EINVAL);
	assert_int_equal(dhcp_mac_parse("g4:5f:01:09:02:f7", mac), -EINVAL);
}

/* Documented bytes: 6.1.3 | 10.4.0."PXE" | 9.20.0.0.17."Raspberry Pi Boot" | 255 */
static void test_pxe_menu(void **state)
{
	static const uint8_t want[] = {6,   1,	 3,   10,  4,	0,   'P', 'X', 'E', 9,	 20,
				       0,   0,	 17,  'R', 'a', 's', 'p', 'b', 'e', 'r', 'r',
				       'y', ' ', 'P', 'i', ' ', 'B', 'o', 'o', 't', 255};
	uint8_t buf[80];
	int n = dhcp_pxe_menu(DHCP_PXE_MENU_TEXT, buf, sizeof(buf));

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* Pi 3B: three trailing spaces, lengths 23 and 20 */
	n = dhcp_pxe_menu(DHCP_PXE_MENU_TEXT_PI3B, buf, sizeof(buf));
	assert_int_equal(n, 35);
	assert_int_equal(buf[10], 23);
	assert_int_equal(buf[13], 20);
	assert_memory_equal(buf + 14, "Raspberry Pi Boot   ", 20);
	assert_int_equal(buf[34], 255);
	assert_int_equal(dhcp_pxe_menu("", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dhcp_pxe_menu("x", buf, 10), -ENOBUFS);
}

static void test_identify_pi4(void **state)
{
	struct test_packet t;
	struct dhcp_packet p;
	struct dhcp_client_info c;

	tp_pi4_discover(&t, 0x2713259, mac1);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_true(c.pxe);
	assert_false(c.pi3b_rom);
	assert_int_equal(c.pi, DHCP_PI_4);
	assert_string_equal(c.serial, "91cdf03d");
	assert_int_equal(c.board_revision, 0xd03114);
	assert_string_equal(c.vendor_class, "PXEClient:Arch:00000:UNDI:002001");
	assert_memory_equal(c.mac, mac1, 6);
}

/* The other firmware byte order: "RPi4"/"RPi5" and big-endian fields. */
static void test_identify_big_endian_and_pi5(void **state)
{
	static const uint8_t be4[17] = {0,    'R',  'P',  'i',	'4',  0x00, 0xd0, 0x31, 0x14,
					0x01, 0x09, 0x02, 0xf7, 0x91, 0xcd, 0xf0, 0x3d};
	static const uint8_t cm5[17] = {0,    0x35, 0x69, 0x50, 0x52, 0x40, 0x41, 0x18, 0x00,
					0x01, 0x09, 0x02, 0xf7, 0x78, 0x56, 0x34, 0x12};
	struct test_packet t;
	struct dhcp_packet p;
	struct dhcp_client_info c;

	tp_init(&t, 7, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(&t, 97, be4, sizeof(be4));
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_int_equal(c.pi, DHCP_PI_4);
	assert_string_equal(c.serial, "91cdf03d");
	assert_int_equal(c.board_revision, 0xd03114);

	tp_init(&t, 7, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(&t, 97, cm5, sizeof(cm5));
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_int_equal(c.pi, DHCP_PI_5);
	assert_string_equal(c.serial, "12345678");
	assert_string_equal(dhcp_pi_model_name(c.pi), "Pi 5");
}

static void test_identify_pi3_and_others(void **state)
{
	static const uint8_t pi3mac[6] = {0xb8, 0x27, 0xeb, 0x11, 0x22, 0x33};
	static const uint8_t guid[17] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct test_packet t;
	struct dhcp_packet p;
	struct dhcp_client_info c;

	tp_init(&t, DHCP_PI3B_ROM_XID, pi3mac);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(&t, 97, guid, sizeof(guid));
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_int_equal(c.pi, DHCP_PI_3);
	assert_true(c.pi3b_rom);
	assert_string_equal(c.serial, "");

	/* the old form: serial repeated four times */
	static const uint8_t old_form[17] = {0,	   0x3d, 0xf0, 0xcd, 0x91, 0x3d, 0xf0, 0xcd, 0x91,
					     0x3d, 0xf0, 0xcd, 0x91, 0x3d, 0xf0, 0xcd, 0x91};
	tp_init(&t, 11, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
	tp_opt(&t, 97, old_form, sizeof(old_form));
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_int_equal(c.pi, DHCP_PI_4);
	assert_string_equal(c.serial, "91cdf03d");

	/* an ordinary client with a host name and odd bytes in option 60 */
	tp_init(&t, 9, mac1);
	tp_opt_u8(&t, 53, 1);
	tp_opt(&t, 60, "udhcp\x01", 6);
	tp_opt(&t, 12, "node-1", 6);
	tp_end(&t);
	assert_int_equal(dhcp_packet_parse(t.data, t.length, &p, NULL), 0);
	dhcp_client_identify(&p, &c);
	assert_false(c.pxe);
	assert_int_equal(c.pi, DHCP_PI_NONE);
	assert_string_equal(c.vendor_class, "udhcp?");
	assert_string_equal(c.hostname, "node-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_basic),
	    cmocka_unit_test(test_parse_refuses),
	    cmocka_unit_test(test_parse_no_end),
	    cmocka_unit_test(test_parse_concat_and_overload),
	    cmocka_unit_test(test_builder),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_pxe_menu),
	    cmocka_unit_test(test_identify_pi4),
	    cmocka_unit_test(test_identify_big_endian_and_pi5),
	    cmocka_unit_test(test_identify_pi3_and_others),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
