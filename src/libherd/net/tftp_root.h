/*
 * tftp_root.h — what a TFTP server serves: a directory, or a directory
 * inside an image's partition ("IMAGE:PART:/path", e.g. "pi.img:boot:/"),
 * read through the block engine without extracting anything.
 *
 * tftp_root_open_file() applies the filename rules of tftp_path.h, opens
 * the file confined to the root (directories: openat2 RESOLVE_BENEATH, so
 * a symlink or ".." leading out of the root is refused by the kernel;
 * images: vfs paths, which cannot leave the filesystem), falls back from
 * "<serial>/file" to "file", and returns a reference-counted
 * `struct tftp_file`.
 *
 * Files up to `cache_file_max` bytes are read once into memory and shared
 * by every transfer of the same file (keyed by device, inode, size and
 * mtime, so a replaced file is read afresh); the cache keeps unused files
 * while the total stays under `cache_max`.  Bigger files are read per
 * window with pread (or vfs_read) into the transfer's buffer.  netascii
 * transfers (RFC 1350: LF -> CR LF, CR -> CR NUL) get a private converted
 * copy, so only files that fit the cache can be sent in that mode.
 *
 * Not thread-safe: one event loop owns a root.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "net/tftp_wire.h"

struct tftp_root;

struct tftp_file {
	const uint8_t *data; /* whole content in memory, or NULL: use tftp_file_read */
	uint64_t size;
	char path[TFTP_FILENAME_MAX + 1]; /* as served, relative to the root */
	bool fallback;			  /* served from the shared file, prefix dropped */
	/* private to tftp_root.c */
	unsigned refs;
	struct tftp_cache_entry *entry;
	uint8_t *owned; /* netascii copy */
	int fd;		/* directory roots, when not cached (see tftp_root_limits.no_cache) */
	struct tftp_root *root;
	char vfs_path[TFTP_FILENAME_MAX + 64];
};

struct tftp_root_limits {
	uint64_t cache_max;	 /* bytes held in memory for all files (default 512 MiB) */
	uint64_t cache_file_max; /* largest file cached (default 128 MiB) */
	bool no_cache;		 /* never cache: directory files keep their fd (HTTP
				    sends them with sendfile), image files read per call */
};

/* `spec` is a directory, or IMAGE:PART:/path.  The root keeps the
 * directory (or image) open until tftp_root_free. */
int tftp_root_open(const char *spec, const struct tftp_root_limits *limits, struct tftp_root **ret,
		   struct herd_error *err);
/* Accepts NULL; files still referenced keep working until unref'd. */
struct tftp_root *tftp_root_free(struct tftp_root *root);
bool tftp_root_is_image(const struct tftp_root *root);

/* Open `filename` (as the client sent it) for reading.  On refusal
 * returns -errno with *ret_code (TFTP error to send) and *ret_why. */
int tftp_root_open_file(struct tftp_root *root, const char *filename, enum tftp_mode mode,
			struct tftp_file **ret, enum tftp_error_code *ret_code,
			const char **ret_why);
void tftp_file_unref(struct tftp_file *file);
/* Read from a file that is not in memory; returns bytes read or -errno. */
ssize_t tftp_file_read(struct tftp_file *file, uint64_t offset, void *buf, size_t len);

/* Bytes currently held by the cache (for logs and tests). */
uint64_t tftp_root_cached_bytes(const struct tftp_root *root);
