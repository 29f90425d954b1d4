/*
 * error.c — recording and prefixing library error messages (see error.h).
 */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int herd_error_setv(struct herd_error *err, int code, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err) {
		err->code = code;
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
	}
	return -code;
}

int herd_error_set(struct herd_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = herd_error_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int herd_error_prefix(struct herd_error *err, int code, const char *fmt, ...)
{
	char prefix[HERD_ERROR_MAX];
	char combined[2 * HERD_ERROR_MAX + 2];
	size_t n;
	va_list ap;

	if (code < 0)
		code = -code;
	if (code == 0)
		code = err && err->code ? err->code : EIO;
	if (!err)
		return -code;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);

	snprintf(combined, sizeof(combined), "%s: %s", prefix,
		 err->message[0] ? err->message : strerror(code));
	/* Truncate explicitly: long context chains keep their beginning. */
	n = strlen(combined);
	if (n >= sizeof(err->message))
		n = sizeof(err->message) - 1;
	memcpy(err->message, combined, n);
	err->message[n] = '\0';
	if (!err->code)
		err->code = code;
	return -code;
}

void herd_error_clear(struct herd_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->message[0] = '\0';
}

const char *herd_error_message(const struct herd_error *err)
{
	if (!err)
		return "";
	if (err->message[0])
		return err->message;
	return strerror(err->code ? err->code : EIO);
}
