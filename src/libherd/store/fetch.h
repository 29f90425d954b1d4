/*
 * fetch.h — HTTP(S) downloads with libcurl: follow redirects, take proxies
 * from the environment (libcurl's http_proxy/https_proxy/no_proxy), and
 * resume into a partial file with a Range request.
 *
 * This only moves bytes; checksums and unpacking are store.c's business.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/unpack.h"

/* Download `url` into `fd` (a regular file opened read-write), resuming
 * after the bytes it already holds.  A server that ignores the Range
 * restarts the file from zero.  On success the file holds the whole body;
 * on failure it keeps what arrived (for the next resume).
 * *ret_resumed_from (may be NULL) gets the offset the transfer started at. */
int store_fetch_to_fd(const char *url, int fd, store_progress_fn progress, void *userdata,
		      uint64_t *ret_resumed_from, struct herd_error *err);

/* Fetch a small document (at most `max` bytes) into memory, NUL-terminated.
 * -ENOENT for HTTP 404/410. */
int store_fetch_small(const char *url, size_t max, char **ret_buf, size_t *ret_len,
		      struct herd_error *err);
