/*
 * error.h — how libherd reports failure.
 *
 * Every library function that can fail returns 0 (or a positive count) on
 * success and a negative errno on failure.  The human-readable detail goes
 * into a caller-supplied `struct herd_error`, never to stdout/stderr: the
 * CLI prints it once as `herd: <message>`.  A NULL `err` is allowed
 * everywhere and simply discards the detail.
 *
 * Messages are built as "<what>: <why>"; callers add context on the way up
 * with herd_error_prefix(), so the final line reads like
 * "herd: image.img: partition 2: ext4: bad superblock magic".
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#define HERD_ERROR_MAX 1024

struct herd_error {
	int code;		      /* positive errno of the first failure */
	char message[HERD_ERROR_MAX]; /* "" when nothing was recorded */
};

/* Record a failure; returns -code so callers can `return herd_error_set(...)`.
 * A code of 0 is turned into EIO. */
int herd_error_set(struct herd_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int herd_error_setv(struct herd_error *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prepend "<context>: " to an already recorded message (or set one from
 * strerror(code) if nothing was recorded).  Returns -code. */
int herd_error_prefix(struct herd_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void herd_error_clear(struct herd_error *err);

/* The message, or strerror(code) when no message was set. */
const char *herd_error_message(const struct herd_error *err);
