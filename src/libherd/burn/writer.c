/*
 * writer.c — the burn engine (see writer.h for the contract).
 *
 * Threads: the caller's thread reads the source and fans chunks out; one
 * worker thread per target writes (or, in the verify pass, reads back and
 * compares).  The only shared mutable state is each target's queue
 * (mutex + two condition variables) and the chunks' atomic reference
 * counts; every blockdev is touched by exactly one thread (the shared
 * source and the per-target views by the reader, a blockdev target by its
 * worker), because blockdevs are not thread-safe.
 *
 * Waits on a queue are timed (100 ms) so a cancel request is seen even
 * when nobody signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "burn/writer.h"

#define ALIGN 4096u

/* Chunks are recycled: a fresh 4 MiB allocation is an mmap plus a page
 * fault per page, which showed up in the reader's profile. */
struct chunk_pool {
	pthread_mutex_t lock;
	struct chunk *free_list;
	size_t capacity; /* bytes of every pooled chunk's buffer */
};

struct chunk {
	atomic_int refs;
	struct chunk_pool *pool;
	struct chunk *next; /* in the pool's free list */
	uint64_t offset;
	size_t length;
	size_t index; /* in the plan, counting chunks from 0 */
	/* Bit i: sub-block i (of sub_size bytes) is all zeros.  Files skip
	 * those: after the truncate they already read as zero (holes). */
	uint64_t zero_mask;
	size_t sub_size;
	unsigned char digest[32]; /* SHA-256 of the chunk (write pass) */
	unsigned char *data;	  /* ALIGN-aligned, length rounded up to ALIGN */
};

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct chunk **items;
	unsigned capacity, head, count;
	bool closed; /* the reader is done */
	bool dead;   /* the consumer gave up: drop pushes */
};

enum pass_mode { PASS_WRITE, PASS_VERIFY };

/* I/O threads per target.  One synchronous 4 MiB request at a time left
 * the disk idle while the thread hashed or waited for the next chunk
 * (queue depth 1); two keep a request in flight.  blockdev targets get
 * one: blockdevs are not thread-safe. */
#define LANES_PER_TARGET 2

struct worker;

struct lane {
	struct worker *w;
	unsigned index;
	pthread_t thread;
	bool started;
	unsigned char *vbuf; /* read-back buffer */
};

struct worker {
	struct burn_target *t;
	size_t index;
	const struct burn_options *opts;
	enum pass_mode mode;
	uint64_t total; /* bytes in this pass */
	atomic_uint_fast64_t done;
	atomic_uint_fast64_t written, verified;
	atomic_uint_fast64_t attempted; /* for the fault_after test hook */
	struct queue q;
	struct lane lanes[LANES_PER_TARGET];
	unsigned n_lanes;
	int fd; /* -1 for blockdev targets */
	/* O_DIRECT state of fd: aligned transfers hold `io` shared; turning
	 * O_DIRECT off for an unaligned tail (or for good, when a file
	 * system refuses it) holds it exclusively, so no lane's request
	 * runs with the flag changing under it. */
	pthread_rwlock_t io;
	bool direct;		   /* O_DIRECT currently set on fd */
	bool file_direct;	   /* a regular file that accepts O_DIRECT */
	unsigned lbs;		   /* logical block size (block devices) */
	bool in_pass;		   /* takes part in the current pass */
	atomic_bool failed;	   /* this pass failed (error or mismatch) */
	pthread_mutex_t fail_lock; /* the first failure's message wins */
	bool reported;		   /* BURN_PHASE_DONE sent */
	/* Reader-side: failures met while preparing this worker's chunks, and
	 * whether the worker stopped taking chunks (written by the reader only). */
	bool reader_failed, reader_dropped;
	struct herd_error reader_error;
	struct rangeset diff; /* where its view differs from the shared source */
	size_t diff_cursor;
	bool whole_diff;
	/* Write pass: the SHA-256 of each chunk by its index in the plan, so
	 * the target's hash list is in offset order however the lanes
	 * interleave. */
	unsigned char (*digests)[32];
	size_t n_digests;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool cancelled(const struct burn_options *opts)
{
	return opts->cancel && atomic_load(opts->cancel);
}

const char *burn_target_state_name(enum burn_target_state state)
{
	switch (state) {
	case BURN_TARGET_PENDING:
		return "pending";
	case BURN_TARGET_WRITTEN:
		return "ok";
	case BURN_TARGET_FAILED:
		return "failed";
	case BURN_TARGET_MISMATCH:
		return "mismatch";
	case BURN_TARGET_INCOMPLETE:
		return "incomplete";
	}
	return "?";
}

const char *burn_verify_result_name(enum burn_verify_result result)
{
	switch (result) {
	case BURN_VERIFY_NOT_RUN:
		return "skipped";
	case BURN_VERIFY_OK:
		return "ok";
	case BURN_VERIFY_MISMATCH:
		return "mismatch";
	case BURN_VERIFY_ERROR:
		return "error";
	}
	return "?";
}

/* ---- chunks ---- */

static struct chunk *chunk_new(struct chunk_pool *pool, uint64_t offset, size_t length)
{
	struct chunk *c = NULL;
	void *data = NULL;

	if (length > pool->capacity)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->free_list) {
		c = pool->free_list;
		pool->free_list = c->next;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || posix_memalign(&data, ALIGN, pool->capacity) != 0) {
			free(c);
			return NULL;
		}
		c->data = data;
		c->pool = pool;
	}
	atomic_init(&c->refs, 1);
	c->offset = offset;
	c->length = length;
	c->next = NULL;
	return c;
}

static void chunk_pool_destroy(struct chunk_pool *pool)
{
	while (pool->free_list) {
		struct chunk *c = pool->free_list;
		pool->free_list = c->next;
		free(c->data);
		free(c);
	}
	pthread_mutex_destroy(&pool->lock);
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* The chunk's SHA-256, computed once by the reader however many targets
 * share the buffer: hashing per target cost a core per four targets. */
static int chunk_hash(struct chunk *c)
{
	unsigned len = 0;
	return EVP_Digest(c->data, c->length, c->digest, &len, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* Split the chunk into at most 64 sub-blocks (4 KiB multiples) and mark
 * the all-zero ones; done once per chunk by the reader. */
static void chunk_scan_zeros(struct chunk *c)
{
	size_t sub = (c->length + 63) / 64;

	sub = (sub + ALIGN - 1) / ALIGN * ALIGN;
	c->sub_size = sub ? sub : ALIGN;
	c->zero_mask = 0;
	for (size_t i = 0, off = 0; off < c->length; i++, off += c->sub_size)
		if (all_zero(c->data + off, MIN(c->sub_size, c->length - off)))
			c->zero_mask |= 1ull << i;
}

static int lane_transfer(struct worker *w, bool write_it, void *buf, size_t len, uint64_t offset);

/* Write a chunk to a file target, skipping its zero sub-blocks. */
static int write_file_chunk(struct worker *w, struct chunk *c)
{
	size_t off = 0;

	while (off < c->length) {
		size_t start, i = off / c->sub_size;
		if (c->zero_mask & (1ull << i)) {
			off += c->sub_size;
			continue;
		}
		start = off;
		while (off < c->length && !(c->zero_mask & (1ull << (off / c->sub_size))))
			off += c->sub_size;
		off = MIN(off, c->length);
		int r = lane_transfer(w, true, c->data + start, off - start, c->offset + start);
		if (r < 0)
			return r;
	}
	return 0;
}

static void chunk_unref(struct chunk *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
		pthread_mutex_lock(&c->pool->lock);
		c->next = c->pool->free_list;
		c->pool->free_list = c;
		pthread_mutex_unlock(&c->pool->lock);
	}
}

/* ---- queues ---- */

static int queue_init(struct queue *q, unsigned capacity)
{
	memset(q, 0, sizeof(*q));
	q->items = calloc(capacity, sizeof(*q->items));
	if (!q->items)
		return -ENOMEM;
	q->capacity = capacity;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return 0;
}

static void queue_destroy(struct queue *q)
{
	if (!q->items)
		return;
	for (unsigned i = 0; i < q->count; i++)
		chunk_unref(q->items[(q->head + i) % q->capacity]);
	free(q->items);
	q->items = NULL;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
}

static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *lock)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, lock, &ts);
}

/* Hand `c` (the caller's reference is kept) to the queue; false when the
 * consumer is dead or the run was cancelled. */
static bool queue_push(struct queue *q, struct chunk *c, const struct burn_options *opts)
{
	bool pushed = false;

	pthread_mutex_lock(&q->lock);
	while (q->count == q->capacity && !q->dead && !cancelled(opts))
		timed_wait(&q->not_full, &q->lock);
	if (!q->dead && !cancelled(opts)) {
		atomic_fetch_add(&c->refs, 1);
		q->items[(q->head + q->count) % q->capacity] = c;
		q->count++;
		pushed = true;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return pushed;
}

/* Next chunk (a reference for the caller), NULL once closed and empty. */
static struct chunk *queue_pop(struct queue *q)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed)
		timed_wait(&q->not_empty, &q->lock);
	if (q->count) {
		c = q->items[q->head];
		q->head = (q->head + 1) % q->capacity;
		q->count--;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->lock);
	return c;
}

static void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

static void queue_kill(struct queue *q)
{
	if (!q->items)
		return; /* no queue in this pass (digest verify) */
	pthread_mutex_lock(&q->lock);
	q->dead = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

/* ---- target I/O ---- */

static int set_direct(struct worker *w, bool on)
{
	int fl = fcntl(w->fd, F_GETFL);

	if (fl < 0 || fcntl(w->fd, F_SETFL, on ? (fl | O_DIRECT) : (fl & ~O_DIRECT)) < 0)
		return -errno;
	w->direct = on;
	return 0;
}

static int fd_transfer(int fd, bool write_it, void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write_it
				? pwrite(fd, (char *)buf + done, len - done, (off_t)(offset + done))
				: pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return write_it ? -ENOSPC : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* One transfer on the target's fd, bypassing the page cache when it can.
 * O_DIRECT needs whole logical blocks at aligned offsets; the image's last
 * chunk may end inside one, so that one goes through the page cache (the
 * fsync at the end covers it).  A file system that accepts O_DIRECT at
 * open but refuses a transfer (EINVAL) gets the page cache from then on;
 * fsync and the fadvise before verify keep that honest. */
static int lane_transfer(struct worker *w, bool write_it, void *buf, size_t len, uint64_t offset)
{
	bool aligned = len % (w->lbs ? w->lbs : 512) == 0 && offset % ALIGN == 0;
	int r;

	pthread_rwlock_rdlock(&w->io);
	if (w->direct == aligned || (!w->t->is_block_device && !w->file_direct)) {
		bool was_direct = w->direct && !w->t->is_block_device;
		r = fd_transfer(w->fd, write_it, buf, len, offset);
		pthread_rwlock_unlock(&w->io);
		if (r != -EINVAL || !was_direct)
			return r;
		pthread_rwlock_wrlock(&w->io);
		w->file_direct = false;
		r = w->direct ? set_direct(w, false) : 0;
		if (r == 0)
			r = fd_transfer(w->fd, write_it, buf, len, offset);
		pthread_rwlock_unlock(&w->io);
		return r;
	}
	pthread_rwlock_unlock(&w->io);
	/* The unaligned tail: O_DIRECT off for this one transfer. */
	pthread_rwlock_wrlock(&w->io);
	r = set_direct(w, false);
	if (r == 0)
		r = fd_transfer(w->fd, write_it, buf, len, offset);
	if ((w->t->is_block_device || w->file_direct) && set_direct(w, true) < 0 && r == 0)
		r = -errno;
	pthread_rwlock_unlock(&w->io);
	return r;
}

static void worker_fail(struct worker *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void worker_fail(struct worker *w, int code, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->fail_lock);
	if (!atomic_load(&w->failed)) {
		va_start(ap, fmt);
		herd_error_setv(&w->t->error, code, fmt, ap);
		va_end(ap);
		atomic_store(&w->failed, true);
	}
	pthread_mutex_unlock(&w->fail_lock);
	queue_kill(&w->q);
}

static void write_chunk(struct worker *w, struct chunk *c)
{
	struct burn_target *t = w->t;
	int r;

	if (t->fault_after &&
	    atomic_fetch_add(&w->attempted, c->length) + c->length > t->fault_after) {
		worker_fail(w, EIO, "write at offset %llu: %s (injected fault)",
			    (unsigned long long)c->offset, strerror(EIO));
		return;
	}
	if (w->fd >= 0 && !t->is_block_device) {
		r = write_file_chunk(w, c);
	} else if (w->fd >= 0) {
		r = lane_transfer(w, true, c->data, c->length, c->offset);
	} else {
		struct herd_error e = {0};
		r = blockdev_pwrite(t->bd, c->data, c->length, c->offset, &e);
		if (r < 0) {
			worker_fail(w, -r, "write at offset %llu: %s",
				    (unsigned long long)c->offset, herd_error_message(&e));
			return;
		}
	}
	if (r < 0) {
		worker_fail(w, -r, "write at offset %llu: %s", (unsigned long long)c->offset,
			    strerror(-r));
		return;
	}
	if (c->index < w->n_digests)
		memcpy(w->digests[c->index], c->digest, sizeof(c->digest));
	atomic_fetch_add(&w->written, c->length);
}

/* Compare the read-back with the source bytes the reader handed out.
 *
 * Measured (bench/burn.sh, 2.5 GiB image, 374 MiB used, 2 cores, files):
 * checking each target's read-back against the SHA-256 taken while
 * writing instead cost one SHA-256 per target (1.6 s CPU for 4 targets
 * against 0.6 s) and was slower in wall time for 1 target (median 5.1 s
 * against 4.0 s) and 4 (6.7 s against 6.0 s): the source's used ranges
 * were read moments before and come back from the page cache, once for
 * all the targets, and memcmp costs a fraction of SHA-256. */
static void verify_chunk(struct lane *l, struct chunk *c)
{
	struct worker *w = l->w;
	struct burn_target *t = w->t;
	int r;

	if (w->fd >= 0)
		r = lane_transfer(w, false, l->vbuf, c->length, c->offset);
	else
		r = blockdev_pread(t->bd, l->vbuf, c->length, c->offset, NULL);
	if (r < 0) {
		t->verify = BURN_VERIFY_ERROR;
		worker_fail(w, -r, "read back at offset %llu: %s", (unsigned long long)c->offset,
			    strerror(-r));
		return;
	}
	if (memcmp(l->vbuf, c->data, c->length) != 0) {
		size_t i = 0;
		while (i < c->length && l->vbuf[i] == c->data[i])
			i++;
		/* Chunks in flight on two lanes: keep the lowest offset. */
		pthread_mutex_lock(&w->fail_lock);
		if (t->verify != BURN_VERIFY_MISMATCH || c->offset + i < t->bad_offset) {
			t->bad_offset = c->offset + i;
			t->verify = BURN_VERIFY_MISMATCH;
			herd_error_set(&t->error, EIO,
				       "verify: first difference at offset %llu (0x%llx): wrote "
				       "0x%02x, read 0x%02x",
				       (unsigned long long)t->bad_offset,
				       (unsigned long long)t->bad_offset, c->data[i], l->vbuf[i]);
		}
		atomic_store(&w->failed, true);
		pthread_mutex_unlock(&w->fail_lock);
		queue_kill(&w->q);
		return;
	}
	atomic_fetch_add(&w->verified, c->length);
}

static void lane_progress(struct worker *w, enum burn_phase phase, uint64_t len)
{
	uint64_t done = atomic_fetch_add(&w->done, len) + len;
	if (w->opts->progress)
		w->opts->progress(w->opts->userdata, w->index, phase, done, w->total);
}

static void *lane_main(void *arg)
{
	struct lane *l = arg;
	struct worker *w = l->w;
	struct chunk *c;
	enum burn_phase phase = w->mode == PASS_WRITE ? BURN_PHASE_WRITE : BURN_PHASE_VERIFY;

	while ((c = queue_pop(&w->q))) {
		if (!atomic_load(&w->failed) && !cancelled(w->opts)) {
			if (w->mode == PASS_WRITE)
				write_chunk(w, c);
			else
				verify_chunk(l, c);
			if (!atomic_load(&w->failed))
				lane_progress(w, phase, c->length);
		}
		chunk_unref(c);
	}
	return NULL;
}

/* ---- opening targets ---- */

static int open_target(struct worker *w, uint64_t need, bool create, struct herd_error *err)
{
	struct burn_target *t = w->t;
	struct stat st, st2;
	int fd, fd2;

	w->fd = -1;
	if (t->bd) {
		if (blockdev_size(t->bd) < need)
			return herd_error_set(
			    err, ENOSPC, "%s: too small (%llu bytes, the image needs %llu)",
			    blockdev_name(t->bd), (unsigned long long)blockdev_size(t->bd),
			    (unsigned long long)need);
		if (!blockdev_writable(t->bd))
			return herd_error_set(err, EROFS, "%s: not writable", blockdev_name(t->bd));
		return 0;
	}
	fd = open(t->path, O_RDWR | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT : 0), 0644);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", t->path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return herd_error_set(err, errno, "%s: %s", t->path, strerror(errno));
	}
	if (S_ISREG(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		if (!create && (uint64_t)st.st_size < need) {
			close(fd);
			return herd_error_set(
			    err, ENOSPC, "%s: too small (%llu bytes, the image needs %llu)",
			    t->path, (unsigned long long)st.st_size, (unsigned long long)need);
		}
		/* Files too are written and read back with O_DIRECT where the
		 * file system takes it: buffered writes left the whole image
		 * dirty in memory until the final fsync (the background
		 * writeback threshold is a share of RAM), so nothing reached
		 * the disk while the source was being read. */
		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0) {
			w->file_direct = true;
			w->direct = true;
		}
		w->fd = fd;
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		close(fd);
		return herd_error_set(err, EINVAL, "%s: not a regular file or block device",
				      t->path);
	}
	/* Block device: reopen exclusively (O_EXCL fails with EBUSY while
	 * anything has it mounted or claimed) and bypassing the cache.  Read
	 * access too, so verify runs on the same exclusive handle. */
	fd2 = open(t->path, O_RDWR | O_EXCL | O_DIRECT | O_CLOEXEC | O_NOCTTY);
	if (fd2 < 0) {
		int e = errno;
		close(fd);
		return herd_error_set(err, e, "%s: %s", t->path,
				      e == EBUSY ? "device is busy (mounted or in use)"
						 : strerror(e));
	}
	close(fd);
	if (fstat(fd2, &st2) < 0 || !S_ISBLK(st2.st_mode) || st2.st_rdev != st.st_rdev) {
		close(fd2);
		return herd_error_set(err, EBUSY, "%s: changed while opening", t->path);
	}
	w->fd = fd2;
	w->direct = true;
	t->is_block_device = true;
	{
		uint64_t size = 0;
		int lbs = 512;
		if (ioctl(fd2, BLKGETSIZE64, &size) < 0) {
			int e = errno;
			close(fd2);
			w->fd = -1;
			return herd_error_set(err, e, "%s: size: %s", t->path, strerror(e));
		}
		if (ioctl(fd2, BLKSSZGET, &lbs) == 0 && lbs > 0)
			w->lbs = (unsigned)lbs;
		if (size < need) {
			close(fd2);
			w->fd = -1;
			return herd_error_set(
			    err, ENOSPC, "%s: too small (%llu bytes, the image needs %llu)",
			    t->path, (unsigned long long)size, (unsigned long long)need);
		}
	}
	return 0;
}

/* Files: zero length first, then the image size, so every range we do not
 * write reads back as zero.  Block devices: optional BLKDISCARD. */
static int prepare_target(struct worker *w, uint64_t size, struct herd_error *err)
{
	struct burn_target *t = w->t;

	if (w->fd < 0)
		return 0;
	if (!t->is_block_device) {
		if (ftruncate(w->fd, 0) < 0 || ftruncate(w->fd, (off_t)size) < 0)
			return herd_error_set(err, errno, "%s: truncate: %s", t->path,
					      strerror(errno));
		return 0;
	}
	if (t->discard) {
		uint64_t dev_size = 0, range[2];
		if (ioctl(w->fd, BLKGETSIZE64, &dev_size) < 0)
			return herd_error_set(err, errno, "%s: %s", t->path, strerror(errno));
		range[0] = 0;
		range[1] = dev_size;
		if (ioctl(w->fd, BLKDISCARD, range) < 0 && errno != EOPNOTSUPP)
			return herd_error_set(err, errno, "%s: discard: %s", t->path,
					      strerror(errno));
	}
	return 0;
}

/* ---- the plan ---- */

struct extents_ctx {
	struct rangeset *set;
};

static int add_extent(void *userdata, uint64_t offset, uint64_t length)
{
	struct extents_ctx *x = userdata;
	return rangeset_add(x->set, offset, length);
}

/* Where a target's view differs from the shared source. */
static int target_diff(struct blockdev *source, struct burn_target *t, struct rangeset *ret,
		       bool *ret_whole, struct herd_error *err)
{
	struct extents_ctx x = {ret};

	*ret_whole = false;
	if (!t->source || t->source == source)
		return 0;
	if (blockdev_is_overlay(t->source) && blockdev_base(t->source) == source) {
		int r = blockdev_overlay_extents(t->source, add_extent, &x, err);
		if (r < 0)
			return r;
		rangeset_align(ret, ALIGN);
		rangeset_clip(ret, blockdev_size(source));
		return 0;
	}
	*ret_whole = true;
	return 0;
}

int burn_plan_ranges(struct blockdev *source, const struct rangeset *map,
		     struct burn_target *targets, size_t n, struct rangeset *ret,
		     struct herd_error *err)
{
	struct rangeset plan = RANGESET_INIT;
	uint64_t size = blockdev_size(source);
	int r = 0;

	if (map)
		r = rangeset_add_set(&plan, map, 0);
	else
		r = rangeset_add(&plan, 0, size);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct rangeset diff = RANGESET_INIT;
		bool whole;
		r = target_diff(source, &targets[i], &diff, &whole, err);
		if (r >= 0)
			r = whole ? rangeset_add(&plan, 0, size)
				  : rangeset_add_set(&plan, &diff, 0);
		rangeset_free(&diff);
	}
	if (r < 0) {
		rangeset_free(&plan);
		if (r == -ENOMEM)
			herd_error_set(err, ENOMEM, "out of memory");
		return r;
	}
	rangeset_align(&plan, ALIGN);
	rangeset_clip(&plan, size);
	*ret = plan;
	return 0;
}

/* Does [offset, offset+length) touch the worker's diff?  Chunks come in
 * ascending order, so a cursor walks the sorted set once. */
static bool worker_differs(struct worker *w, uint64_t offset, uint64_t length)
{
	if (w->whole_diff)
		return true;
	while (w->diff_cursor < w->diff.count &&
	       w->diff.ranges[w->diff_cursor].offset + w->diff.ranges[w->diff_cursor].length <=
		   offset)
		w->diff_cursor++;
	return w->diff_cursor < w->diff.count &&
	       w->diff.ranges[w->diff_cursor].offset < offset + length;
}

/* ---- one pass ---- */

static void report_done(struct worker *w)
{
	if (w->reported)
		return;
	w->reported = true;
	if (w->opts->progress)
		w->opts->progress(w->opts->userdata, w->index, BURN_PHASE_DONE,
				  atomic_load(&w->done), w->total);
}

static void free_pass_buffers(struct worker *w)
{
	for (unsigned j = 0; j < LANES_PER_TARGET; j++) {
		free(w->lanes[j].vbuf);
		w->lanes[j].vbuf = NULL;
	}
}

/* The target's hash list: SHA-256 over its chunks' digests in offset order. */
static void finish_hash_list(struct worker *w)
{
	unsigned char digest[32];
	unsigned len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	w->t->sha256[0] = '\0';
	if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, w->digests, w->n_digests * sizeof(*w->digests)) == 1 &&
	    EVP_DigestFinal_ex(md, digest, &len) == 1)
		for (unsigned k = 0; k < len && k < 32; k++)
			snprintf(w->t->sha256 + 2 * k, 3, "%02x", digest[k]);
	EVP_MD_CTX_free(md);
}

/* Read the plan once and feed every worker in the pass. */
static int run_pass(struct blockdev *source, struct rangeset *plan, struct worker *workers,
		    size_t n, enum pass_mode mode, const struct burn_options *opts,
		    struct chunk_pool *pool, struct herd_error *err)
{
	uint64_t blocksize = opts->blocksize, total = rangeset_total(plan);
	uint64_t start = now_ns();
	size_t n_chunks = 0, k = 0;
	int r = 0;
	size_t live = 0;

	for (size_t ri = 0; ri < plan->count; ri++)
		n_chunks += (size_t)((plan->ranges[ri].length + blocksize - 1) / blocksize);
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		if (!w->in_pass)
			continue;
		w->mode = mode;
		w->total = total;
		atomic_store(&w->done, 0);
		atomic_store(&w->failed, false);
		w->reader_failed = w->reader_dropped = false;
		w->diff_cursor = 0;
		w->n_lanes = w->fd >= 0 ? LANES_PER_TARGET : 1;
		if (queue_init(&w->q, opts->queue_depth) < 0)
			goto nomem;
		if (mode == PASS_WRITE) {
			free(w->digests);
			w->digests = calloc(n_chunks ? n_chunks : 1, sizeof(*w->digests));
			if (!w->digests)
				goto nomem;
			w->n_digests = n_chunks;
			atomic_store(&w->written, 0);
			atomic_store(&w->attempted, 0);
		} else {
			atomic_store(&w->verified, 0);
			for (unsigned j = 0; j < w->n_lanes; j++) {
				void *buf = NULL;
				if (posix_memalign(&buf, ALIGN, blocksize) != 0)
					goto nomem;
				w->lanes[j].vbuf = buf;
			}
		}
	}
	/* Everything is allocated: start the lanes. */
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		unsigned started = 0;
		if (!w->in_pass)
			continue;
		if (mode == PASS_VERIFY && w->fd >= 0 && !w->t->is_block_device)
			/* After the fsync, drop the file's cached pages so a
			 * read-back that cannot use O_DIRECT comes from the
			 * disk, not from memory. */
			posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
		if (opts->progress)
			opts->progress(opts->userdata, i,
				       mode == PASS_WRITE ? BURN_PHASE_WRITE : BURN_PHASE_VERIFY, 0,
				       total);
		for (unsigned j = 0; j < w->n_lanes; j++) {
			struct lane *l = &w->lanes[j];
			l->w = w;
			l->index = j;
			l->started = pthread_create(&l->thread, NULL, lane_main, l) == 0;
			started += l->started;
		}
		if (!started) {
			worker_fail(w, EAGAIN, "cannot start a thread");
			continue;
		}
		live++;
	}

	for (size_t ri = 0; ri < plan->count && live && !cancelled(opts); ri++) {
		const struct range *range = &plan->ranges[ri];
		for (uint64_t off = range->offset; off < range->offset + range->length; k++) {
			size_t len = (size_t)MIN(blocksize, range->offset + range->length - off);
			struct chunk *c;
			struct herd_error e = {0};

			if (cancelled(opts))
				break;
			c = chunk_new(pool, off, len);
			if (!c) {
				r = herd_error_set(err, ENOMEM, "out of memory");
				break;
			}
			c->index = k;
			if (blockdev_pread(source, c->data, len, off, &e) < 0) {
				r = herd_error_set(err, e.code ? e.code : EIO, "%s",
						   herd_error_message(&e));
				chunk_unref(c);
				break;
			}
			if (mode == PASS_WRITE) {
				chunk_scan_zeros(c);
				if (chunk_hash(c) < 0) {
					r = herd_error_set(err, EIO, "SHA-256 failed");
					chunk_unref(c);
					break;
				}
			}
			live = 0;
			for (size_t i = 0; i < n; i++) {
				struct worker *w = &workers[i];
				struct chunk *mine = c;
				if (!w->in_pass || !w->lanes[0].started || w->reader_dropped)
					continue;
				if (worker_differs(w, off, len)) {
					struct herd_error pe = {0};
					mine = chunk_new(pool, off, len);
					if (!mine || blockdev_pread(w->t->source, mine->data, len,
								    off, &pe) < 0) {
						herd_error_set(&w->reader_error,
							       mine ? (pe.code ? pe.code : EIO)
								    : ENOMEM,
							       "reading its customized image: %s",
							       mine ? herd_error_message(&pe)
								    : "out of memory");
						w->reader_failed = w->reader_dropped = true;
						queue_kill(&w->q);
						chunk_unref(mine);
						continue;
					}
					mine->index = k;
					if (mode == PASS_WRITE) {
						chunk_scan_zeros(mine);
						chunk_hash(mine);
					}
				}
				if (queue_push(&w->q, mine, opts))
					live++;
				else
					w->reader_dropped = true;
				if (mine != c)
					chunk_unref(mine);
			}
			chunk_unref(c);
			off += len;
		}
		if (r < 0)
			break;
	}

	for (size_t i = 0; i < n; i++)
		if (workers[i].in_pass && workers[i].lanes[0].started)
			queue_close(&workers[i].q);
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		struct burn_target *t = w->t;
		uint64_t done;
		bool failed;
		if (!w->in_pass)
			continue;
		for (unsigned j = 0; j < w->n_lanes; j++)
			if (w->lanes[j].started) {
				pthread_join(w->lanes[j].thread, NULL);
				w->lanes[j].started = false;
			}
		queue_destroy(&w->q);
		done = atomic_load(&w->done);
		failed = atomic_load(&w->failed);
		if (w->reader_failed && !failed) {
			t->error = w->reader_error;
			failed = true;
		}
		if (r < 0 && !failed) {
			/* The source could not be read: nobody can finish. */
			herd_error_set(&t->error, -r, "%s", herd_error_message(err));
			failed = true;
		}
		if (mode == PASS_WRITE) {
			t->bytes_written = atomic_load(&w->written);
			if (!failed && done == total) {
				int fr = 0;
				struct herd_error fe = {0};
				if (w->fd >= 0)
					fr = fsync(w->fd) < 0 ? -errno : 0;
				else
					fr = blockdev_flush(t->bd, &fe);
				if (fr < 0) {
					herd_error_set(&t->error, -fr, "flush: %s",
						       fe.message[0] ? fe.message : strerror(-fr));
					failed = true;
				}
			}
			t->write_ns = now_ns() - start;
		} else {
			t->bytes_verified = atomic_load(&w->verified);
			free_pass_buffers(w);
			t->verify_ns = now_ns() - start;
		}
		if (failed) {
			t->state = t->verify == BURN_VERIFY_MISMATCH ? BURN_TARGET_MISMATCH
								     : BURN_TARGET_FAILED;
			w->in_pass = false;
			report_done(w);
		} else if (done < total) {
			t->state = BURN_TARGET_INCOMPLETE;
			herd_error_set(&t->error, EINTR, "interrupted after %llu of %llu bytes",
				       (unsigned long long)done, (unsigned long long)total);
			w->in_pass = false;
			report_done(w);
		} else if (mode == PASS_WRITE) {
			t->state = BURN_TARGET_WRITTEN;
			finish_hash_list(w);
		} else {
			t->verify = BURN_VERIFY_OK;
		}
	}
	return r;

nomem:
	/* No thread runs yet: free what the setup loop allocated. */
	for (size_t i = 0; i < n; i++) {
		queue_destroy(&workers[i].q);
		free_pass_buffers(&workers[i]);
	}
	return herd_error_set(err, ENOMEM, "out of memory");
}

int burn_run(struct blockdev *source, const struct rangeset *map, struct burn_target *targets,
	     size_t n, const struct burn_options *user_opts, struct herd_error *err)
{
	struct burn_options opts = user_opts ? *user_opts : (struct burn_options){0};
	struct rangeset plan = RANGESET_INIT;
	struct worker *workers = NULL;
	struct chunk_pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER};
	uint64_t size = blockdev_size(source);
	bool failed = false;
	int r;

	if (opts.blocksize == 0)
		opts.blocksize = BURN_DEFAULT_BLOCKSIZE;
	if (opts.queue_depth == 0)
		opts.queue_depth = BURN_DEFAULT_QUEUE_DEPTH;
	if (opts.blocksize % ALIGN || opts.blocksize > (1u << 30))
		return herd_error_set(err, EINVAL,
				      "block size %llu: must be a multiple of 4 KiB, at most 1 GiB",
				      (unsigned long long)opts.blocksize);
	if (n == 0)
		return herd_error_set(err, EINVAL, "no target");
	for (size_t i = 0; i < n; i++) {
		if (!targets[i].path == !targets[i].bd)
			return herd_error_set(err, EINVAL, "target %zu: give a path or a blockdev",
					      i + 1);
		if (targets[i].source && blockdev_size(targets[i].source) != size)
			return herd_error_set(
			    err, EINVAL, "target %zu: its image view has a different size", i + 1);
	}

	pool.capacity = opts.blocksize;
	workers = calloc(n, sizeof(*workers));
	if (!workers)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		workers[i].fd = -1;
		pthread_rwlock_init(&workers[i].io, NULL);
		pthread_mutex_init(&workers[i].fail_lock, NULL);
		workers[i].t = &targets[i];
		workers[i].index = i;
		workers[i].opts = &opts;
		targets[i].state = BURN_TARGET_PENDING;
		targets[i].verify = BURN_VERIFY_NOT_RUN;
		targets[i].bytes_written = targets[i].bytes_verified = 0;
		targets[i].sha256[0] = '\0';
		herd_error_clear(&targets[i].error);
	}

	r = burn_plan_ranges(source, map, targets, n, &plan, err);
	/* Open and size-check every target before anything is written. */
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = open_target(&workers[i], size, !opts.verify_only, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bool whole;
		r = target_diff(source, &targets[i], &workers[i].diff, &whole, err);
		workers[i].whole_diff = whole;
		workers[i].in_pass = true;
	}
	if (r < 0)
		goto out;

	if (!opts.verify_only) {
		for (size_t i = 0; i < n; i++) {
			struct herd_error pe = {0};
			if (prepare_target(&workers[i], size, &pe) < 0) {
				targets[i].error = pe;
				targets[i].state = BURN_TARGET_FAILED;
				workers[i].in_pass = false;
				report_done(&workers[i]);
			}
		}
		r = run_pass(source, &plan, workers, n, PASS_WRITE, &opts, &pool, err);
		if (r < 0)
			goto out;
	} else {
		for (size_t i = 0; i < n; i++)
			targets[i].state = BURN_TARGET_WRITTEN;
	}
	if (opts.after_write && !opts.verify_only)
		opts.after_write(opts.hook_userdata);
	if ((opts.verify || opts.verify_only) && !cancelled(&opts)) {
		r = run_pass(source, &plan, workers, n, PASS_VERIFY, &opts, &pool, err);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (workers[i].in_pass && cancelled(&opts) && (opts.verify || opts.verify_only) &&
		    targets[i].verify != BURN_VERIFY_OK) {
			targets[i].state = BURN_TARGET_INCOMPLETE;
			herd_error_set(&targets[i].error, EINTR, "interrupted before verify");
		}
		report_done(&workers[i]);
		if (targets[i].state != BURN_TARGET_WRITTEN)
			failed = true;
	}
	if (cancelled(&opts) && failed)
		r = herd_error_set(err, EINTR, "interrupted");
	else if (failed)
		r = herd_error_set(err, EIO, "some targets failed");
out:
	for (size_t i = 0; i < n; i++) {
		if (workers[i].fd >= 0)
			close(workers[i].fd);
		rangeset_free(&workers[i].diff);
		free(workers[i].digests);
		pthread_rwlock_destroy(&workers[i].io);
		pthread_mutex_destroy(&workers[i].fail_lock);
	}
	free(workers);
	rangeset_free(&plan);
	chunk_pool_destroy(&pool);
	return r;
}
