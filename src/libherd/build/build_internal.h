/*
 * build_internal.h — the output sink shared by build.c and its tests: one
 * raw image byte stream in, one file out (sparse raw, zstd or xz), with
 * SHA-256 of both sides.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build/build.h"

struct build_sink;

/* Write to the open fd (positioned at 0, empty).  raw_size is the total
 * the stream will carry; threads/level/xz_block_size as in build_options. */
int build_sink_new(int fd, enum build_compress compress, uint64_t raw_size, int level,
		   unsigned threads, uint64_t xz_block_size, struct build_sink **ret,
		   struct herd_error *err);
/* The next `len` bytes of the raw stream.  `zero` says the caller knows
 * they are all zero (data may then be a zero buffer of at least len). */
int build_sink_write(struct build_sink *s, const void *data, size_t len, bool zero,
		     struct herd_error *err);
/* Flush the compressor, fsync; hashes as hex.  The sink stays to be freed. */
int build_sink_finish(struct build_sink *s, char ret_raw_sha256[BUILD_SHA256_HEX],
		      char ret_file_sha256[BUILD_SHA256_HEX], uint64_t *ret_file_size,
		      uint64_t *ret_raw_written, struct herd_error *err);
struct build_sink *build_sink_free(struct build_sink *s);

void build_hex(const unsigned char digest[32], char ret[BUILD_SHA256_HEX]);
