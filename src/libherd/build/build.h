/*
 * build.h — `herd build`: one customized image file per host from one
 * shared base image, and the manifest that describes them.
 *
 * Per host: the base is opened read-only under a copy-on-write overlay,
 * the host's recipe is applied into the overlay (recipe_apply_image), and
 * the result is streamed to a new file in one pass:
 *
 *   - what is written: the base's used-block map (computed once per base,
 *     image_used_map: partition tables, gaps, filesystem allocation, every
 *     partition not understood) plus every range the overlay changed, 4 KiB
 *     aligned — the same rule as burn, so a built image equals the card
 *     `herd burn` would write.  Everything else is zero.
 *   - raw output is sparse: the file is sized first and only non-zero
 *     4 KiB blocks are written, so free space stays holes;
 *   - zstd output goes through libzstd's streaming API (checksummed, with
 *     worker threads); xz output through lzma_stream_encoder_mt with a fixed
 *     block size, so the file has many independent blocks with their sizes
 *     in the headers and `xz -T0 -d` (or herd) decompresses it in parallel.
 *     Both are deterministic for the same input whatever the thread count.
 *   - SHA-256 of the raw bytes (holes included) and of the file as written
 *     are computed in the same pass.
 *
 * Outputs are written under a temporary name in the output directory,
 * flushed, and renamed into place only when complete: a failed or
 * interrupted host never leaves a partial file under its final name.  A
 * host that fails is reported in its own `error`; the others still build.
 *
 * Hosts build in parallel (`jobs` worker threads, each with its own
 * handles on the base; nothing is shared but the read-only used map).
 *
 * This module does not resolve settings or fleet files (the CLI does), and
 * does not print.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "config/settings.h"

#define BUILD_SHA256_HEX	    65
#define BUILD_DEFAULT_XZ_BLOCK_SIZE (16u << 20)

enum build_compress {
	BUILD_COMPRESS_NONE = 0,
	BUILD_COMPRESS_ZSTD,
	BUILD_COMPRESS_XZ,
};

struct build_host {
	/* Input. */
	const char *name;		      /* output file name stem; a valid hostname */
	const struct herd_settings *settings; /* resolved settings */
	const char *image_path;		      /* the base image (raw file) */
	const char *source_sha256;	      /* known SHA-256 of the base (store), or NULL */

	/* Output. */
	bool ok;
	struct herd_error error;
	char file[300];			    /* file name inside the output directory */
	uint64_t size;			    /* bytes of the file written */
	uint64_t raw_size;		    /* bytes of the raw image */
	uint64_t raw_written;		    /* non-zero bytes actually copied */
	char raw_sha256[BUILD_SHA256_HEX];  /* of the raw image */
	char file_sha256[BUILD_SHA256_HEX]; /* of the file as written */
	char settings_sha256[BUILD_SHA256_HEX];
	char image_sha256[BUILD_SHA256_HEX]; /* of the base image */
	size_t changed_ops;		     /* recipe operations that changed something */
	struct strv warnings;		     /* the recipe's warnings */
	uint64_t ns;			     /* wall time of this host */
};

typedef void (*build_progress_fn)(void *userdata, size_t host, uint64_t done, uint64_t total);

struct build_options {
	const char *out_dir;
	enum build_compress compress;
	int level;		    /* 0 = default (zstd 3, xz 6) */
	unsigned jobs;		    /* hosts built at once; 0 = 1 */
	unsigned threads;	    /* compressor threads per host; 0 = 1 */
	uint64_t xz_block_size;	    /* 0 = BUILD_DEFAULT_XZ_BLOCK_SIZE */
	build_progress_fn progress; /* called from worker threads */
	void *userdata;
	/* Testing hook: the host at this index (1-based) fails half-way
	 * through its output; 0 = never. */
	size_t fail_host;
};

/* Build every host.  Returns 0 when all succeeded, -EIO when some failed
 * (see each host's ok/error), or another -errno with err set when the
 * build could not start (output directory missing, bad options); then no
 * host was attempted. */
int build_run(struct build_host *hosts, size_t n, const struct build_options *opts,
	      struct herd_error *err);

/* Release what build_run() allocated in each host (warnings). */
void build_hosts_clear(struct build_host *hosts, size_t n);

const char *build_compress_name(enum build_compress c);
/* "none", "zstd", "xz" → enum; -EINVAL otherwise. */
int build_compress_parse(const char *name, enum build_compress *ret);
/* ".img", ".img.zst", ".img.xz" */
const char *build_compress_suffix(enum build_compress c);

/* SHA-256 (hex) of a canonical text of the settings: every set key of the
 * registry except `image`, in registry order, one "name=value" line each
 * (lists one line per item, secrets included, files as path/mode/owner and
 * the SHA-256 of their content or source file; key files by content too).
 * The same settings give the same digest on any machine. */
int build_settings_digest(const struct herd_settings *s, char ret[BUILD_SHA256_HEX],
			  struct herd_error *err);

struct build_manifest_info {
	const char *herd_version;
	int64_t build_time; /* seconds since the epoch (SOURCE_DATE_EPOCH honoured by the caller) */
	enum build_compress compress;
	const char *config; /* fleet file as given, or NULL */
};

/* Write `manifest.json` in out_dir (temp file + rename): one object per
 * host, failed ones with their error and no file.  Keys sorted, two-space
 * indent, so equal builds give equal manifests. */
int build_manifest_write(const char *out_dir, const struct build_manifest_info *info,
			 const struct build_host *hosts, size_t n, struct herd_error *err);
