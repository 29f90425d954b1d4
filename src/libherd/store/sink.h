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
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define STORE_SINK_BLOCK 4096u
#define STORE_SHA256_HEX 65 /* 64 hex digits + NUL */

/* Size of each buffer from store_sink_buffer.  Large on purpose: every
 * buffer is one hand-over between the decoding and the hashing thread
 * (two wake-ups), so decoders fill it completely before handing it over. */
#define STORE_SINK_CHUNK (32u << 20)

struct store_sink {
	int fd;		  /* not owned */
	uint64_t offset;  /* logical bytes received so far */
	uint64_t written; /* bytes actually written (non-zero blocks) */
	EVP_MD_CTX *md;
	/* SHA-256 runs on its own thread over one of two buffers while the
	 * caller decodes into the other (hashing is the single most expensive
	 * step for images that are mostly zeros). */
	unsigned char *bufs[2];
	int pending; /* index of the buffer being hashed, -1 when none */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const unsigned char *job;
	size_t job_len;
	bool has_job, quit, thread_started, hash_failed;
};

int store_sink_init(struct store_sink *s, int fd, struct herd_error *err);
/* A buffer of STORE_SINK_CHUNK bytes to decode into, then hand to
 * store_sink_write: it is hashed in the background while the next one is
 * filled.  Waits until the buffer is free again. */
unsigned char *store_sink_buffer(struct store_sink *s);
/* Append `len` bytes at the current offset.  -ENOSPC etc. with a message.
 * A buffer from store_sink_buffer must not change until the next call;
 * any other buffer is hashed before this returns. */
int store_sink_write(struct store_sink *s, const void *buf, size_t len, struct herd_error *err);
/* Truncate to the final size, fsync, and give the SHA-256 (lower-case hex). */
int store_sink_finish(struct store_sink *s, char ret_sha256[STORE_SHA256_HEX],
		      struct herd_error *err);
void store_sink_free(struct store_sink *s);

/* Write `len` bytes at `offset` of fd, leaving out the 4 KiB blocks
 * (aligned to the file offset) that are all zero; adds the bytes written
 * to *written.  The file must not hold data there already. */
int store_write_sparse(int fd, const void *buf, size_t len, uint64_t offset, uint64_t *written,
		       struct herd_error *err);
/* True when the `len` bytes at p are all zero. */
bool store_is_zero(const void *p, size_t len);
/* Lower-case hex of a SHA-256 digest. */
void store_sha256_hex(const unsigned char digest[32], char ret[STORE_SHA256_HEX]);
