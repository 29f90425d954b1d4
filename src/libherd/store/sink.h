/*
 * sink.h — where unpacked image bytes go: a sparse raw file plus the
 * SHA-256 of every byte (zero or not).
 *
 * The writer looks at the output in 4 KiB blocks aligned to the file
 * offset: all-zero blocks are skipped (the file gets a hole there), runs of
 * non-zero blocks are written with one pwrite.  store_sink_finish sets the
 * final length with ftruncate (so trailing zeros are a hole too) and
 * fsyncs.  It does not punch holes into data already in the file: the
 * target must be a new, empty file.
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define STORE_SINK_BLOCK 4096u
#define STORE_SHA256_HEX 65 /* 64 hex digits + NUL */

struct store_sink {
	int fd;		  /* not owned */
	uint64_t offset;  /* logical bytes received so far */
	uint64_t written; /* bytes actually written (non-zero blocks) */
	EVP_MD_CTX *md;
};

int store_sink_init(struct store_sink *s, int fd, struct herd_error *err);
/* Append `len` bytes at the current offset.  -ENOSPC etc. with a message. */
int store_sink_write(struct store_sink *s, const void *buf, size_t len, struct herd_error *err);
/* Truncate to the final size, fsync, and give the SHA-256 (lower-case hex). */
int store_sink_finish(struct store_sink *s, char ret_sha256[STORE_SHA256_HEX],
		      struct herd_error *err);
void store_sink_free(struct store_sink *s);

/* True when the `len` bytes at p are all zero. */
bool store_is_zero(const void *p, size_t len);
/* Lower-case hex of a SHA-256 digest. */
void store_sha256_hex(const unsigned char digest[32], char ret[STORE_SHA256_HEX]);
