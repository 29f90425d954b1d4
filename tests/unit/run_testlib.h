/*
 * run_testlib.h — run(): a shell command for a unit test's fixtures
 * (mkfs.fat, mke2fs, sfdisk, debugfs, the sample-image script...), built
 * printf-style; the test fails with the command and its status when it
 * does not exit 0.  Header-only (a static function) because each test is
 * its own program; include it after <cmocka.h>.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));

static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}
