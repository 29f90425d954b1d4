/*
 * unpack.h — turn a downloaded or local image file (plain, .xz, .zst,
 * .gz, .bz2 or .zip) into a sparse raw image, hashing both sides.
 *
 * The format is found from the first bytes (magic numbers), not from the
 * file name.  .xz goes through liblzma's multi-threaded decoder (it
 * decodes blocks in parallel when the file has several, and falls back to
 * one thread otherwise), .zst through libzstd's streaming API, .gz, .bz2
 * and .zip through libarchive (for .zip the first entry named *.img).
 * The whole input is read once: its SHA-256 is the download checksum, the
 * SHA-256 of the output is the raw checksum.
 */
#pragma once

#include <stdint.h>

#include "base/error.h"
#include "store/sink.h"

enum store_format {
	STORE_FORMAT_RAW = 0,
	STORE_FORMAT_XZ,
	STORE_FORMAT_ZSTD,
	STORE_FORMAT_GZIP,
	STORE_FORMAT_BZIP2,
	STORE_FORMAT_ZIP,
};

/* Progress of a long operation: `phase` is "download" or "unpack";
 * `total` 0 means unknown. */
typedef void (*store_progress_fn)(void *userdata, const char *phase, uint64_t done, uint64_t total);

struct store_unpack_result {
	enum store_format format;
	uint64_t download_size;
	char download_sha256[STORE_SHA256_HEX];
	uint64_t raw_size;
	uint64_t raw_written; /* non-zero bytes written */
	char raw_sha256[STORE_SHA256_HEX];
};

enum store_format store_detect_format(const void *head, size_t len);
const char *store_format_name(enum store_format f);

/* Read all of in_fd from its start, unpack into out_fd (a new empty
 * file), fsync it.  `threads` 0 means one per online CPU. */
int store_unpack_fd(int in_fd, int out_fd, unsigned threads, store_progress_fn progress,
		    void *userdata, struct store_unpack_result *ret, struct herd_error *err);
