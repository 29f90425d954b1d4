/*
 * test_tftp.c — the pure TFTP core: packet parsing and building, the
 * per-transfer state machine driven with a fake clock, and filename rules
 * (issue 6, scope 3).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/macros.h"
#include "net/tftp_path.h"
#include "net/tftp_transfer.h"
#include "net/tftp_wire.h"

static size_t rrq(uint8_t *buf, const char *file, const char *const *opts, size_t n)
{
	int len = tftp_build_request(buf, 600, TFTP_OP_RRQ, file, "octet", opts, n);

	assert_true(len > 0);
	return (size_t)len;
}

static struct tftp_request parse_ok(const uint8_t *buf, size_t len)
{
	struct tftp_request req;
	enum tftp_error_code code = 0;
	const char *why = NULL;

	if (tftp_parse_request(buf, len, &req, &code, &why) != 0)
		fail_msg("request refused: %s", why);
	return req;
}

static void test_parse_request_options(void **state)
{
	const char *opts[] = {"BLKSIZE", "1468",       "tsize", "0",   "timeout",
			      "3",	 "windowsize", "8",	"foo", "bar"};
	uint8_t buf[600];
	size_t len = rrq(buf, "bootcode.bin", opts, 5);
	struct tftp_request req = parse_ok(buf, len);

	assert_int_equal(req.opcode, TFTP_OP_RRQ);
	assert_string_equal(req.filename, "bootcode.bin");
	assert_int_equal(req.mode, TFTP_MODE_OCTET);
	assert_true(req.has_blksize && req.has_tsize && req.has_timeout && req.has_windowsize);
	assert_int_equal(req.blksize, 1468);
	assert_int_equal(req.tsize, 0);
	assert_int_equal(req.timeout, 3);
	assert_int_equal(req.windowsize, 8);
	assert_int_equal(req.ignored_options, 1);
}

static void test_parse_request_bad_values_ignored(void **state)
{
	/* Invalid values are not acknowledged (RFC 2347), not fatal. */
	const char *opts[] = {"blksize", "7", "timeout", "0", "windowsize", "x", "tsize", "-1"};
	uint8_t buf[600];
	size_t len = rrq(buf, "f", opts, 4);
	struct tftp_request req = parse_ok(buf, len);

	assert_false(req.has_blksize || req.has_timeout || req.has_windowsize || req.has_tsize);
	assert_int_equal(req.ignored_options, 4);

	/* Oversized blksize is clamped to the RFC 2348 maximum. */
	const char *big[] = {"blksize", "99999"};
	len = rrq(buf, "f", big, 1);
	req = parse_ok(buf, len);
	assert_int_equal(req.blksize, TFTP_BLKSIZE_MAX);
}

static void expect_refused(const uint8_t *buf, size_t len, int want_r,
			   enum tftp_error_code want_code)
{
	struct tftp_request req;
	enum tftp_error_code code = 99;
	const char *why = NULL;
	int r = tftp_parse_request(buf, len, &req, &code, &why);

	assert_int_equal(r, want_r);
	assert_int_equal(code, want_code);
	assert_non_null(why);
}

static void test_parse_request_malformed(void **state)
{
	static const uint8_t no_nul[] = {0, 1, 'a', 'b'};
	static const uint8_t no_mode_nul[] = {0, 1, 'a', 0, 'o', 'c'};
	static const uint8_t unpaired[] = {0,	1,   'a', 0,   'o', 'c', 't',
					   'e', 't', 0,	  'b', 'l', 'k', 0};
	static const uint8_t mail[] = {0, 1, 'a', 0, 'm', 'a', 'i', 'l', 0};
	static const uint8_t empty_name[] = {0, 1, 0, 'o', 'c', 't', 'e', 't', 0};
	static const uint8_t ack[] = {0, 4, 0, 1};
	static const uint8_t padded[] = {0, 1, 'a', 0, 'o', 'c', 't', 'e', 't', 0, 0, 0};
	uint8_t big[TFTP_REQUEST_MAX + 1];
	struct tftp_request req;

	expect_refused(no_nul, sizeof(no_nul), -EBADMSG, TFTP_ERR_ILLEGAL);
	expect_refused(no_mode_nul, sizeof(no_mode_nul), -EBADMSG, TFTP_ERR_ILLEGAL);
	expect_refused(unpaired, sizeof(unpaired), -EBADMSG, TFTP_ERR_ILLEGAL);
	expect_refused(mail, sizeof(mail), -EINVAL, TFTP_ERR_ILLEGAL);
	expect_refused(empty_name, sizeof(empty_name), -EINVAL, TFTP_ERR_NOT_FOUND);
	expect_refused(ack, sizeof(ack), -EPROTO, TFTP_ERR_ILLEGAL);
	expect_refused(ack, 1, -EBADMSG, TFTP_ERR_ILLEGAL);
	memset(big, 'a', sizeof(big));
	big[0] = 0;
	big[1] = 1;
	big[sizeof(big) - 1] = 0;
	expect_refused(big, sizeof(big), -EBADMSG, TFTP_ERR_ILLEGAL);
	/* Trailing NUL padding (some PXE ROMs) is accepted. */
	assert_int_equal(tftp_parse_request(padded, sizeof(padded), &req, NULL, NULL), 0);
	/* WRQ parses: the server refuses it, not the parser. */
	uint8_t buf[600];
	int len = tftp_build_request(buf, sizeof(buf), TFTP_OP_WRQ, "x", "NetASCII", NULL, 0);
	req = parse_ok(buf, (size_t)len);
	assert_int_equal(req.opcode, TFTP_OP_WRQ);
	assert_int_equal(req.mode, TFTP_MODE_NETASCII);
}

static void test_build_packets(void **state)
{
	static const uint8_t want_oack[] = {0,	 6,   'b', 'l', 'k', 's', 'i', 'z',
					    'e', 0,   '1', '4', '6', '8', 0,   't',
					    's', 'i', 'z', 'e', 0,   '4', '2', 0};
	static const uint8_t want_error[] = {0, 5, 0, 2, 'n', 'o', 0};
	struct tftp_oack oack = {
	    .blksize = true, .blksize_value = 1468, .tsize = true, .tsize_value = 42};
	uint8_t buf[64], hdr[4];
	struct tftp_packet pkt;

	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &oack), sizeof(want_oack));
	assert_memory_equal(buf, want_oack, sizeof(want_oack));
	assert_int_equal(tftp_build_oack(buf, 10, &oack), -ENOSPC);
	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_ERR_ACCESS, "no"),
			 sizeof(want_error));
	assert_memory_equal(buf, want_error, sizeof(want_error));
	tftp_build_data_header(hdr, 0xabcd);
	assert_int_equal(hdr[0], 0);
	assert_int_equal(hdr[1], 3);
	assert_int_equal(hdr[2], 0xab);
	assert_int_equal(hdr[3], 0xcd);

	assert_int_equal(tftp_parse_packet(want_error, sizeof(want_error), &pkt), 0);
	assert_int_equal(pkt.opcode, TFTP_OP_ERROR);
	assert_int_equal(pkt.error_code, 2);
	assert_string_equal(pkt.error_message, "no");
	assert_int_equal(tftp_parse_packet((const uint8_t *)"\0\x09zz", 4, &pkt), -EPROTO);
	assert_int_equal(tftp_parse_packet((const uint8_t *)"\0\x04\0", 3, &pkt), -EBADMSG);
}

/* ---- transfer state machine ---- */

static struct tftp_transfer_limits limits(void)
{
	struct tftp_transfer_limits l;

	tftp_transfer_limits_default(&l);
	return l;
}

static enum tftp_event ack(struct tftp_transfer *t, uint16_t block, uint64_t now,
			   struct tftp_send *send)
{
	uint8_t buf[4];

	tftp_build_ack(buf, sizeof(buf), block);
	return tftp_transfer_receive(t, buf, sizeof(buf), now, send);
}

static void test_transfer_plain(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ, .mode = TFTP_MODE_OCTET};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	uint64_t off;
	uint32_t len;
	uint16_t wire;

	tftp_transfer_init(&t, &req, 1000, &l);
	assert_false(t.send_oack);
	assert_int_equal(t.blksize, 512);
	assert_int_equal(t.last_block, 2);
	tftp_transfer_start(&t, 0, &s);
	assert_false(s.oack);
	assert_int_equal(s.first, 1);
	assert_int_equal(s.last, 1);
	tftp_transfer_block(&t, 2, &off, &len, &wire);
	assert_int_equal(off, 512);
	assert_int_equal(len, 488);

	assert_int_equal(ack(&t, 1, 100, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 2);
	assert_int_equal(s.last, 2);
	/* Duplicate ACK 1: no resend (sorcerer's apprentice). */
	assert_int_equal(ack(&t, 1, 150, &s), TFTP_EVENT_IGNORED);
	assert_true(s.first > s.last);
	/* ACK of a block never sent. */
	assert_int_equal(ack(&t, 7, 160, &s), TFTP_EVENT_IGNORED);
	assert_int_equal(ack(&t, 2, 200, &s), TFTP_EVENT_DONE);
	assert_int_equal(t.state, TFTP_TRANSFER_DONE);
	assert_int_equal(tftp_transfer_deadline(&t), UINT64_MAX);
	assert_int_equal(t.blocks_sent, 2);
}

static void test_transfer_exact_multiple_and_empty(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	uint64_t off;
	uint32_t len;
	uint16_t wire;

	/* A file that is a multiple of blksize ends with an empty block. */
	tftp_transfer_init(&t, &req, 1024, &l);
	assert_int_equal(t.last_block, 3);
	tftp_transfer_block(&t, 3, &off, &len, &wire);
	assert_int_equal(len, 0);
	tftp_transfer_init(&t, &req, 0, &l);
	assert_int_equal(t.last_block, 1);
	/* tsize 0 is not acknowledged (curl rejects it); no OACK at all here. */
	req.has_tsize = true;
	tftp_transfer_init(&t, &req, 0, &l);
	assert_false(t.oack.tsize);
	assert_false(t.send_oack);
	tftp_transfer_block(&t, 1, &off, &len, &wire);
	assert_int_equal(off, 0);
	assert_int_equal(len, 0);
}

static void test_transfer_options_and_caps(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ,
				   .has_blksize = true,
				   .blksize = 65464,
				   .has_tsize = true,
				   .has_windowsize = true,
				   .windowsize = 1000,
				   .has_timeout = true,
				   .timeout = 2};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;

	tftp_transfer_init(&t, &req, 5000000, &l);
	assert_true(t.send_oack);
	assert_int_equal(t.oack.blksize_value, 1468);
	assert_int_equal(t.oack.windowsize_value, 64);
	assert_int_equal(t.oack.tsize_value, 5000000);
	assert_int_equal(t.oack.timeout_value, 2);
	assert_int_equal(t.rto_us, 2000000);
	tftp_transfer_start(&t, 0, &s);
	assert_true(s.oack);
	/* Only ACK 0 answers an OACK. */
	assert_int_equal(ack(&t, 1, 10, &s), TFTP_EVENT_IGNORED);
	assert_int_equal(ack(&t, 0, 10, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 1);
	assert_int_equal(s.last, 64);
	/* The RTT of the OACK exchange pulled the RTO down. */
	assert_true(t.rto_us < 2000000);
}

static void test_transfer_window_gap(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ, .has_windowsize = true, .windowsize = 4};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;

	tftp_transfer_init(&t, &req, 512 * 10 + 1, &l); /* 11 blocks */
	tftp_transfer_start(&t, 0, &s);
	assert_int_equal(ack(&t, 0, 10, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 1);
	assert_int_equal(s.last, 4);
	/* Client saw blocks 1-2 then a gap: window restarts after 2. */
	assert_int_equal(ack(&t, 2, 20, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 3);
	assert_int_equal(s.last, 6);
	assert_true(t.retransmitted);
	assert_int_equal(ack(&t, 2, 25, &s), TFTP_EVENT_IGNORED);
	assert_int_equal(ack(&t, 6, 30, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 7);
	assert_int_equal(s.last, 10);
	assert_int_equal(ack(&t, 10, 40, &s), TFTP_EVENT_SEND);
	assert_int_equal(s.first, 11);
	assert_int_equal(s.last, 11);
	assert_int_equal(ack(&t, 11, 50, &s), TFTP_EVENT_DONE);
}

static void test_transfer_rollover(void **state)
{
	/* 70000 blocks of 512: wire numbers wrap 65535 -> 0. */
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	uint64_t now = 0, blocks = 0;
	enum tftp_event ev = TFTP_EVENT_SEND;

	tftp_transfer_init(&t, &req, 512ull * 70000 - 3, &l);
	assert_int_equal(t.last_block, 70000);
	tftp_transfer_start(&t, now, &s);
	while (ev == TFTP_EVENT_SEND) {
		uint64_t off;
		uint32_t len;
		uint16_t wire;

		assert_int_equal(s.first, s.last);
		tftp_transfer_block(&t, s.first, &off, &len, &wire);
		assert_int_equal(wire, (uint16_t)s.first);
		if (s.first == 65536)
			assert_int_equal(wire, 0);
		blocks++;
		now += 50;
		ev = ack(&t, wire, now, &s);
		/* A stale duplicate of the previous ACK never resends. */
		if (ev == TFTP_EVENT_SEND) {
			struct tftp_send dup;
			assert_int_equal(ack(&t, (uint16_t)(wire), now, &dup), TFTP_EVENT_IGNORED);
		}
	}
	assert_int_equal(ev, TFTP_EVENT_DONE);
	assert_int_equal(blocks, 70000);
	assert_int_equal(t.blocks_resent, 0);
}

static void test_transfer_timeouts(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	uint64_t deadline, prev_rto;

	l.max_retries = 3;
	l.give_up_us = 0; /* the count alone decides here */
	tftp_transfer_init(&t, &req, 100000, &l);
	tftp_transfer_start(&t, 0, &s);
	deadline = tftp_transfer_deadline(&t);
	assert_int_equal(deadline, l.rto_initial_us);
	/* Early call: nothing to do. */
	assert_true(tftp_transfer_timeout(&t, deadline - 1, &s));
	assert_true(s.first > s.last);
	prev_rto = t.rto_us;
	for (unsigned i = 0; i < 3; i++) {
		uint64_t now = tftp_transfer_deadline(&t);

		assert_true(tftp_transfer_timeout(&t, now, &s));
		assert_int_equal(s.first, 1);
		assert_int_equal(s.last, 1);
		assert_int_equal(t.rto_us, MIN(prev_rto * 2, l.rto_max_us));
		prev_rto = t.rto_us;
	}
	/* A late ACK of block 1 still counts, and resets the retry count. */
	assert_int_equal(ack(&t, 1, tftp_transfer_deadline(&t) - 1, &s), TFTP_EVENT_SEND);
	assert_int_equal(t.retries, 0);
	assert_true(t.srtt_us == 0); /* Karn: no sample from a resent block */
	for (unsigned i = 0; i < 3; i++)
		assert_true(tftp_transfer_timeout(&t, tftp_transfer_deadline(&t), &s));
	assert_false(tftp_transfer_timeout(&t, tftp_transfer_deadline(&t), &s));
	assert_int_equal(t.state, TFTP_TRANSFER_FAILED);
	assert_int_equal(tftp_transfer_deadline(&t), UINT64_MAX);
}

static void test_transfer_give_up_needs_time(void **state)
{
	/* A fast RTO must not end a transfer whose client is only slow: the
	 * retry count and the time without progress must both be exceeded. */
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	uint64_t now = 0;
	unsigned timeouts = 0;

	l.rto_initial_us = 2000;
	l.rto_max_us = 100000;
	tftp_transfer_init(&t, &req, 100000, &l);
	tftp_transfer_start(&t, now, &s);
	while (tftp_transfer_timeout(&t, (now = tftp_transfer_deadline(&t)), &s))
		timeouts++;
	assert_int_equal(t.state, TFTP_TRANSFER_FAILED);
	assert_true(timeouts > l.max_retries);
	assert_true(now >= l.give_up_us);
	assert_true(now < l.give_up_us + l.rto_max_us + 1);
}

static void test_transfer_rto_adapts(void **state)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	uint64_t now = 0;

	tftp_transfer_init(&t, &req, 512 * 200, &l);
	tftp_transfer_start(&t, now, &s);
	for (uint64_t b = 1; b <= 100; b++) {
		now += 300; /* 300 us round trips */
		assert_int_equal(ack(&t, (uint16_t)b, now, &s), TFTP_EVENT_SEND);
	}
	assert_true(t.srtt_us >= 250 && t.srtt_us <= 350);
	assert_int_equal(t.rto_us, l.rto_min_us);
}

static void test_transfer_client_error(void **state)
{
	/* The Pi bootloader aborts after block 1 to probe a file. */
	static const uint8_t err[] = {0, 5, 0, 0, 'a', 'b', 'o', 'r', 't', 0};
	struct tftp_request req = {.opcode = TFTP_OP_RRQ};
	struct tftp_transfer_limits l = limits();
	struct tftp_transfer t;
	struct tftp_send s;
	static const uint8_t data[] = {0, 3, 0, 1, 'x'};

	tftp_transfer_init(&t, &req, 100000, &l);
	tftp_transfer_start(&t, 0, &s);
	assert_int_equal(tftp_transfer_receive(&t, data, sizeof(data), 5, &s),
			 TFTP_EVENT_MALFORMED);
	assert_int_equal(tftp_transfer_receive(&t, err, 1, 5, &s), TFTP_EVENT_MALFORMED);
	assert_int_equal(tftp_transfer_receive(&t, err, sizeof(err), 10, &s), TFTP_EVENT_ABORTED);
	assert_int_equal(t.state, TFTP_TRANSFER_ABORTED);
	assert_int_equal(ack(&t, 1, 20, &s), TFTP_EVENT_IGNORED);
	assert_false(tftp_transfer_timeout(&t, 10000000, &s));
}

/* ---- filenames ---- */

static void path_ok(const char *in, const char *want)
{
	char out[300];
	const char *why = NULL;

	if (tftp_path_normalize(in, out, sizeof(out), &why) != 0)
		fail_msg("'%s' refused: %s", in, why);
	assert_string_equal(out, want);
}

static void path_refused(const char *in)
{
	char out[300];
	const char *why = NULL;

	assert_int_equal(tftp_path_normalize(in, out, sizeof(out), &why), -EACCES);
	assert_non_null(why);
}

static void test_path_rules(void **state)
{
	path_ok("bootcode.bin", "bootcode.bin");
	path_ok("./overlays//vc4.dtbo", "overlays/vc4.dtbo");
	path_ok("a/b/", "a/b");
	path_ok("..foo/bar..", "..foo/bar..");
	path_refused("../etc/passwd");
	path_refused("a/../../b");
	path_refused("a/..");
	path_refused("/etc/passwd");
	path_refused("a\\..\\b");
	path_refused("a\nb");
	path_refused("a\x7f");
	path_refused(".");
	path_refused("./");
	path_refused("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/1/2/3/4/5/6/7");

	assert_int_equal(tftp_path_device_prefix("1234abcd/start4.elf"), 9);
	assert_int_equal(tftp_path_device_prefix("dc-a6-32-01-36-c2/start4.elf"), 18);
	assert_int_equal(tftp_path_device_prefix("0123456789abcdef/x"), 17);
	assert_int_equal(tftp_path_device_prefix("overlays/vc4.dtbo"), 0);
	assert_int_equal(tftp_path_device_prefix("1234abcg/x"), 0);
	assert_int_equal(tftp_path_device_prefix("1234abcd"), 0);
	assert_int_equal(tftp_path_device_prefix("dc-a6-32-01-36/x"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_request_options),
	    cmocka_unit_test(test_parse_request_bad_values_ignored),
	    cmocka_unit_test(test_parse_request_malformed),
	    cmocka_unit_test(test_build_packets),
	    cmocka_unit_test(test_transfer_plain),
	    cmocka_unit_test(test_transfer_exact_multiple_and_empty),
	    cmocka_unit_test(test_transfer_options_and_caps),
	    cmocka_unit_test(test_transfer_window_gap),
	    cmocka_unit_test(test_transfer_rollover),
	    cmocka_unit_test(test_transfer_timeouts),
	    cmocka_unit_test(test_transfer_give_up_needs_time),
	    cmocka_unit_test(test_transfer_rto_adapts),
	    cmocka_unit_test(test_transfer_client_error),
	    cmocka_unit_test(test_path_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
