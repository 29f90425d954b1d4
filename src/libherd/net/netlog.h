/*
 * netlog.h — how the network services report what they do.
 *
 * libherd never prints: `herd serve` hands every service a struct netlog
 * whose callback the CLI turns into one line per event on stderr (or the
 * journal).  A line names the component ("dhcp", "tftp", "http", "serve")
 * and, for a boot step, the device (MAC, address, Pi serial) and the step,
 * so one board's whole boot can be followed with grep.
 */
#pragma once

#include <stdarg.h>

enum netlog_level {
	NETLOG_ERROR,
	NETLOG_WARN,
	NETLOG_INFO,
	NETLOG_DEBUG,
};

struct netlog {
	/* `msg` is one line without a newline; valid only during the call. */
	void (*fn)(void *ctx, enum netlog_level level, const char *component, const char *msg);
	void *ctx;
	enum netlog_level max; /* levels above this are not formatted at all */
};

/* Format and deliver one line; a NULL log or callback discards it. */
void netlog(const struct netlog *log, enum netlog_level level, const char *component,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void netlogv(const struct netlog *log, enum netlog_level level, const char *component,
	     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
