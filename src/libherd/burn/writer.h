/*
 * writer.h — the burn engine: one source image, many targets, written in
 * one pass and verified by reading back.
 *
 * Source: a blockdev (the image) plus the ranges to write (the used-block
 * map; NULL writes everything, i.e. --full).  Each target may bring its
 * own view of the source (`source` below, normally a copy-on-write overlay
 * over the shared image holding that card's customization); the ranges
 * that overlay changed are written too, even outside the map.
 *
 * Fan-out: the calling thread is the one reader.  It reads each chunk
 * (opts->blocksize, default 4 MiB) of the shared source once into an
 * aligned, reference-counted buffer and hands it to every target through
 * a bounded queue (opts->queue_depth chunks) served by the target's I/O
 * threads.  A target whose view differs in a chunk gets a private copy
 * read from its view.  Each target runs at its own speed: when a target's
 * queue stays full while another target has nothing left to write, the
 * slow one is detached and its own controller thread reads its remaining
 * chunks itself (from the page cache as a rule: the reader read them
 * moments ago), so a slow card never holds back the fast ones and memory
 * stays bounded at about (depth + 1) x blocksize x targets.  A target that
 * fails is dropped at once; the others go on.

 * Targets: a regular file (truncated to zero and then to the image size,
 * so every range not written reads back as zero; O_DIRECT writes where
 * the file system takes them, fsync at the end), a block device
 * (O_RDWR|O_EXCL|O_DIRECT — read access for the verify pass on the same
 * exclusive handle; ranges outside the map are not
 * written, since the map guarantees nothing there matters, unless the map
 * is NULL; optional BLKDISCARD first), or an open blockdev (tests).  A
 * target smaller than the source refuses the whole run before anything
 * is written.
 *
 * Hashing while writing (SHA-256, OpenSSL EVP): each chunk of the shared
 * source is hashed once, by whoever reads it first, and each target's
 * `sha256` is the SHA-256 of the list of its chunks' digests in offset
 * order (a hash list, so shared chunks are hashed once for all targets).
 * Verify (opts->verify) runs for each target as soon as that target is
 * written and flushed — after its last write, so a card that wraps writes
 * around, a fake-capacity card, is caught: it re-reads exactly the
 * written ranges, bypassing the page cache, and compares them byte for
 * byte with the source (its view) read again; the first differing byte is
 * reported with its offset.  Each file or block-device target runs two
 * I/O threads (lanes) on one queue, so a request is in flight while the
 * other lane compares or waits; block devices are opened O_EXCL|O_DIRECT
 * and files get O_DIRECT too where the file system takes it (a buffered
 * file write left the whole image dirty in memory until the final fsync).
 *
 * Cancel: when *opts->cancel becomes non-zero (a SIGINT handler), the
 * reader stops, writers stop after their current chunk, and every target
 * not finished is left BURN_TARGET_INCOMPLETE.
 *
 * No printing: progress goes through the callback, which is called from
 * the writer threads (it must be thread-safe).
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rangeset.h"
#include "blk/blockdev.h"

#define BURN_DEFAULT_BLOCKSIZE	 (4u << 20)
#define BURN_DEFAULT_QUEUE_DEPTH 4u

enum burn_target_state {
	BURN_TARGET_PENDING = 0,
	BURN_TARGET_WRITTEN,	/* written and flushed (verify not run or passed) */
	BURN_TARGET_FAILED,	/* open, write, flush or read-back failed */
	BURN_TARGET_MISMATCH,	/* verify found different bytes */
	BURN_TARGET_INCOMPLETE, /* cancelled before it was done */
};

enum burn_phase {
	BURN_PHASE_WRITE,
	BURN_PHASE_VERIFY,
	BURN_PHASE_DONE, /* the target reached its final state */
};

enum burn_verify_result {
	BURN_VERIFY_NOT_RUN = 0,
	BURN_VERIFY_OK,
	BURN_VERIFY_MISMATCH,
	BURN_VERIFY_ERROR,
};

struct burn_target {
	/* Input: exactly one of path / bd. */
	const char *path;	 /* regular file (created if missing) or block device */
	struct blockdev *bd;	 /* an open writable blockdev (tests); used by one thread */
	struct blockdev *source; /* this target's view of the image, NULL = the shared one */
	bool discard;		 /* BLKDISCARD the whole device first (block devices) */
	/* Test hook: writes past this many bytes fail with EIO (0 = off). */
	uint64_t fault_after;
	/* Test hook: sleep this long before writing each chunk (a slow card). */
	unsigned write_delay_us;

	/* Output. */
	enum burn_target_state state;
	enum burn_verify_result verify;
	bool is_block_device;
	uint64_t bytes_written;
	uint64_t bytes_verified;
	uint64_t write_ns, verify_ns; /* wall time of each phase, flush included */
	uint64_t bad_offset;	      /* first differing byte when verify == MISMATCH */
	char sha256[65];	      /* hash list: SHA-256 of the chunks' SHA-256s */
	struct herd_error error;      /* why it FAILED / MISMATCHED */
};

typedef void (*burn_progress_fn)(void *userdata, size_t target, enum burn_phase phase,
				 uint64_t done, uint64_t total);

struct burn_options {
	uint64_t blocksize;   /* 0 = BURN_DEFAULT_BLOCKSIZE; multiple of 4096 */
	unsigned queue_depth; /* 0 = BURN_DEFAULT_QUEUE_DEPTH */
	bool verify;	      /* read back and compare after writing */
	bool verify_only;     /* do not write: compare the targets as they are */
	atomic_int *cancel;   /* lock-free: safe from a signal handler and threads */
	burn_progress_fn progress;
	void *userdata;
	/* Test hook: called on the caller's thread once every target is
	 * written and flushed, before any verifies (with the hook set, the
	 * targets wait for each other at that point).  NULL = none. */
	void (*after_write)(void *hook_userdata);
	void *hook_userdata;
};

/* Burn `source` over `map` (NULL: everything) to `n` targets.  Returns 0
 * when every target ended WRITTEN (and verified if asked), -EIO when some
 * target failed or mismatched (see each target's state and error),
 * -EINTR when cancelled, or another -errno with nothing written when the
 * run could not start (a target too small, cannot be opened, bad options). */
int burn_run(struct blockdev *source, const struct rangeset *map, struct burn_target *targets,
	     size_t n, const struct burn_options *opts, struct herd_error *err);

/* The bytes burn_run will write for `map` and these targets' views
 * (map ∪ changed overlay ranges, 4 KiB-aligned, clipped to the source). */
int burn_plan_ranges(struct blockdev *source, const struct rangeset *map,
		     struct burn_target *targets, size_t n, struct rangeset *ret,
		     struct herd_error *err);

const char *burn_target_state_name(enum burn_target_state state);
const char *burn_verify_result_name(enum burn_verify_result result);
