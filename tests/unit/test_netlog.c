/*
 * test_netlog.c — service log lines: formatted once per event, filtered
 * by level before formatting, and control bytes from clients escaped as
 * \xNN so a line stays one line; long lines are cut, never mid-escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/netlog.h"

struct capture {
	int calls;
	enum netlog_level level;
	char component[16];
	char msg[2048];
};

static void capture_fn(void *ctx, enum netlog_level level, const char *component, const char *msg)
{
	struct capture *c = ctx;

	c->calls++;
	c->level = level;
	snprintf(c->component, sizeof(c->component), "%s", component);
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void test_formats_and_filters(void **state)
{
	struct capture c = {0};
	struct netlog log = {capture_fn, &c, NETLOG_INFO};

	(void)state;
	netlog(&log, NETLOG_INFO, "tftp", "%s sent %d blocks", "10.0.0.2:1234", 7);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, NETLOG_INFO);
	assert_string_equal(c.component, "tftp");
	assert_string_equal(c.msg, "10.0.0.2:1234 sent 7 blocks");
	netlog(&log, NETLOG_DEBUG, "tftp", "not formatted");
	assert_int_equal(c.calls, 1);
	netlog(NULL, NETLOG_ERROR, "tftp", "no log: discarded");
	log.fn = NULL;
	netlog(&log, NETLOG_ERROR, "tftp", "no callback: discarded");
	assert_int_equal(c.calls, 1);
}

static void test_control_bytes_escaped(void **state)
{
	struct capture c = {0};
	struct netlog log = {capture_fn, &c, NETLOG_DEBUG};

	(void)state;
	netlog(&log, NETLOG_WARN, "http", "GET %s Range: %s", "/a\nforged line",
	       "bytes=0-\r\x1b[2J\x7f");
	assert_string_equal(c.msg, "GET /a\\x0aforged line Range: bytes=0-\\x0d\\x1b[2J\\x7f");
	assert_null(strchr(c.msg, '\n'));
	/* Bytes >= 0x80 (UTF-8 names) pass as they are. */
	netlog(&log, NETLOG_INFO, "dhcp", "host %s",
	       "k\xc3\xbc"
	       "che");
	assert_string_equal(c.msg, "host k\xc3\xbc"
				   "che");
}

static void test_long_line_cut_between_escapes(void **state)
{
	struct capture c = {0};
	struct netlog log = {capture_fn, &c, NETLOG_DEBUG};
	char in[1100];
	size_t len;

	(void)state;
	memset(in, '\n', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	netlog(&log, NETLOG_INFO, "tftp", "%s", in);
	len = strlen(c.msg);
	assert_true(len > 1000 && len < 1024);
	assert_int_equal(len % 4, 0); /* whole "\x0a" escapes only */
	for (size_t i = 0; i < len; i += 4)
		assert_memory_equal(c.msg + i, "\\x0a", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats_and_filters),
	    cmocka_unit_test(test_control_bytes_escaped),
	    cmocka_unit_test(test_long_line_cut_between_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
