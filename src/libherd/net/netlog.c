/*
 * netlog.c — format a service log line and hand it to the callback.
 *
 * Lines carry what clients sent (file names, Range headers, host names,
 * vendor classes), so control bytes are escaped as \xNN here, once for
 * every service: a client cannot end a line early or forge another one.
 */
#include <stdio.h>

#include "netlog.h"

/* Copy `in` to `out` (size `len` > 0) with bytes below 0x20 and 0x7f as
 * \xNN; truncated rather than split in an escape. */
static void escape_line(const char *in, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			if (o + 4 >= len)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			if (o + 1 >= len)
				break;
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

void netlogv(const struct netlog *log, enum netlog_level level, const char *component,
	     const char *fmt, va_list ap)
{
	char raw[1024], line[1024];

	if (!log || !log->fn || level > log->max)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_line(raw, line, sizeof(line));
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
