/*
 * netlog.c — format a service log line and hand it to the callback.
 */
#include <stdio.h>

#include "netlog.h"

void netlogv(const struct netlog *log, enum netlog_level level, const char *component,
	     const char *fmt, va_list ap)
{
	char line[1024];

	if (!log || !log->fn || level > log->max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log->fn(log->ctx, level, component, line);
}

void netlog(const struct netlog *log, enum netlog_level level, const char *component,
	    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	netlogv(log, level, component, fmt, ap);
	va_end(ap);
}
