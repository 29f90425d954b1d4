/*
 * writer.c — the burn engine (see writer.h for the contract).
 *
 * Threads: the caller's thread reads the source and fans chunks out to
 * the attached targets; each target has a controller thread (its write
 * phase, its flush, its verify phase, and the reading of its own chunks
 * once detached or while verifying) and one or two lanes that write or
 * read back.  Shared mutable state: each target's queues (mutex + three
 * condition variables), the chunks' atomic reference counts and the
 * run's digest table (atomic state per chunk).  Reads of a blockdev tree
 * keep no state, so the reader and the controllers read the shared
 * source at once; a blockdev target is used by its one lane at a time,
 * then by its controller (flush).
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
	pthread_cond_t handoff; /* closed, dead or detached: for the controller */
	struct chunk **items;
	unsigned capacity, head, count;
	bool closed;   /* the producer is done */
	bool dead;     /* the consumer gave up: drop pushes, lanes stop */
	bool detached; /* the reader let go: the controller feeds it now */
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

struct run;
struct plan_cursor {
	size_t range;	 /* index in plan->ranges */
	uint64_t offset; /* of the next chunk */
	size_t k;	 /* its index, counting chunks from 0 */
};

struct worker {
	struct burn_target *t;
	struct run *run;
	pthread_t ctl; /* the target's controller thread */
	bool ctl_started;
	size_t index;
	const struct burn_options *opts;
	enum pass_mode mode;
	uint64_t total; /* bytes in this pass */
	atomic_uint_fast64_t done;
	atomic_uint_fast64_t written, verified;
	atomic_uint_fast64_t attempted; /* for the fault_after test hook */
	/* The write queue (fed by the reader, then by the controller if
	 * detached; freed by the caller after the run) and the verify queue
	 * (the controller's own); q is the one the lanes work on. */
	struct queue wq, vq;
	struct queue *q;
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
	bool in_pass;		   /* takes part in the run */
	atomic_bool failed;	   /* this pass failed (error or mismatch) */
	pthread_mutex_t fail_lock; /* the first failure's message wins */
	bool reported;		   /* BURN_PHASE_DONE sent */
	/* Producer side: a failure met while preparing this worker's chunks
	 * (by the reader while attached, by the controller after), and
	 * whether the reader stopped feeding it: dropped (it failed) or
	 * detached (it fell behind and reads on by itself from feed_from). */
	atomic_bool reader_failed;
	bool reader_dropped, detached;
	struct herd_error reader_error;
	struct plan_cursor feed_from;
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
	pthread_cond_init(&q->handoff, NULL);
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
	pthread_cond_destroy(&q->handoff);
}

static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *lock, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
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
		timed_wait(&q->not_full, &q->lock, 100);
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

/* Next chunk (a reference for the caller), NULL once closed and empty or
 * dead (what is left is freed with the queue). */
static struct chunk *queue_pop(struct queue *q)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed && !q->dead)
		timed_wait(&q->not_empty, &q->lock, 100);
	if (q->count && !q->dead) {
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
	pthread_cond_broadcast(&q->handoff);
	pthread_mutex_unlock(&q->lock);
}

static void queue_kill(struct queue *q)
{
	if (!q->items)
		return; /* no queue in this pass (digest verify) */
	pthread_mutex_lock(&q->lock);
	q->dead = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->handoff);
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
	queue_kill(w->q);
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
	if (t->write_delay_us)
		usleep(t->write_delay_us);
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
		queue_kill(w->q);
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

	while ((c = queue_pop(w->q))) {
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

/* ---- the plan, chunk by chunk ---- */

static void cursor_settle(const struct rangeset *plan, struct plan_cursor *cur)
{
	while (cur->range < plan->count &&
	       cur->offset >= plan->ranges[cur->range].offset + plan->ranges[cur->range].length) {
		cur->range++;
		if (cur->range < plan->count)
			cur->offset = plan->ranges[cur->range].offset;
	}
}

static struct plan_cursor cursor_start(const struct rangeset *plan)
{
	struct plan_cursor cur = {0, plan->count ? plan->ranges[0].offset : 0, 0};

	cursor_settle(plan, &cur);
	return cur;
}

/* The chunk under the cursor; false past the end of the plan. */
static bool cursor_chunk(const struct rangeset *plan, uint64_t blocksize,
			 const struct plan_cursor *cur, uint64_t *ret_off, size_t *ret_len)
{
	const struct range *r;

	if (cur->range >= plan->count)
		return false;
	r = &plan->ranges[cur->range];
	*ret_off = cur->offset;
	*ret_len = (size_t)MIN(blocksize, r->offset + r->length - cur->offset);
	return true;
}

static void cursor_next(const struct rangeset *plan, struct plan_cursor *cur, size_t len)
{
	cur->offset += len;
	cur->k++;
	cursor_settle(plan, cur);
}

/* ---- one run ---- */

enum { DIGEST_NONE, DIGEST_BUSY, DIGEST_READY };

/* What the reader and the targets' controllers share for one run. */
struct run {
	struct blockdev *source;
	const struct rangeset *plan;
	const struct burn_options *opts;
	struct chunk_pool *pool;
	struct worker *workers;
	size_t n;
	uint64_t total; /* bytes in the plan */
	size_t n_chunks;
	/* The SHA-256 of each chunk of the shared source by its index,
	 * taken by whoever reads it first (normally the reader), so a target
	 * that reads on by itself does not hash it again. */
	unsigned char (*digests)[32];
	atomic_uchar *digest_state;
	/* after_write hook: controllers that finished writing wait here
	 * until the caller has run it. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t arrived;
	bool hook_done;
};

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

/* c->digest for a chunk of the shared source: from the table when
 * someone hashed it already, else hashed here and published. */
static int shared_digest(struct run *run, struct chunk *c)
{
	atomic_uchar *state = &run->digest_state[c->index];
	unsigned char expect = DIGEST_NONE;

	if (atomic_load_explicit(state, memory_order_acquire) == DIGEST_READY) {
		memcpy(c->digest, run->digests[c->index], sizeof(c->digest));
		return 0;
	}
	if (chunk_hash(c) < 0)
		return -EIO;
	if (atomic_compare_exchange_strong(state, &expect, DIGEST_BUSY)) {
		memcpy(run->digests[c->index], c->digest, sizeof(c->digest));
		atomic_store_explicit(state, DIGEST_READY, memory_order_release);
	}
	return 0;
}

/* Read chunk c (offset, length and index set) from `bd`; for writing,
 * also mark its zero sub-blocks and take its SHA-256. */
static int chunk_fill(struct run *run, struct chunk *c, struct blockdev *bd, bool shared,
		      enum pass_mode mode, struct herd_error *err)
{
	int r = blockdev_pread(bd, c->data, c->length, c->offset, err);

	if (r < 0 || mode != PASS_WRITE)
		return r;
	chunk_scan_zeros(c);
	r = shared ? shared_digest(run, c) : chunk_hash(c);
	return r < 0 ? herd_error_set(err, EIO, "SHA-256 failed") : 0;
}

/* The chunk at (off, len, k) as target w must write or compare it: a new
 * reference to `shared` (the reader's buffer, NULL when w reads by
 * itself) unless w's own view differs there.  NULL on failure, with w's
 * reader error set. */
static struct chunk *worker_chunk(struct run *run, struct worker *w, enum pass_mode mode,
				  struct chunk *shared, uint64_t off, size_t len, size_t k)
{
	struct herd_error e = {0};
	bool own = worker_differs(w, off, len);
	struct chunk *c;

	if (!own && shared) {
		atomic_fetch_add(&shared->refs, 1);
		return shared;
	}
	c = chunk_new(run->pool, off, len);
	if (!c) {
		herd_error_set(&w->reader_error, ENOMEM, "out of memory");
		atomic_store(&w->reader_failed, true);
		return NULL;
	}
	c->index = k;
	if (chunk_fill(run, c, own ? w->t->source : run->source, !own, mode, &e) < 0) {
		if (own)
			herd_error_set(&w->reader_error, e.code ? e.code : EIO,
				       "reading its customized image: %s", herd_error_message(&e));
		else
			herd_error_set(&w->reader_error, e.code ? e.code : EIO, "%s",
				       herd_error_message(&e));
		atomic_store(&w->reader_failed, true);
		chunk_unref(c);
		return NULL;
	}
	return c;
}

/* Fed by the reader: takes part in the run, and neither dropped nor
 * detached (reading on by itself). */
static bool attached(const struct worker *w)
{
	return w->in_pass && w->ctl_started && !w->detached && !w->reader_dropped;
}

/* Does some other attached target have nothing left to write?  Then it
 * is waiting for the reader, which is waiting for the caller's target. */
static bool others_starve(struct run *run, const struct worker *w)
{
	for (size_t i = 0; i < run->n; i++) {
		struct worker *x = &run->workers[i];
		bool starving;

		if (x == w || !attached(x))
			continue;
		pthread_mutex_lock(&x->wq.lock);
		starving = x->wq.count == 0 && !x->wq.dead;
		pthread_mutex_unlock(&x->wq.lock);
		if (starving)
			return true;
	}
	return false;
}

enum push_result { PUSHED, DETACHED, DROPPED };

/* Hand chunk c to attached target w.  When w's queue stays full while
 * another target starves, w is detached instead: from w->feed_from on
 * its controller reads the chunks itself (from the page cache, as a rule:
 * the reader read them moments ago), so a slow card never holds back the
 * others and memory stays bounded. */
static enum push_result push_or_detach(struct run *run, struct worker *w, struct chunk *c)
{
	struct queue *q = &w->wq;

	for (;;) {
		bool full;

		pthread_mutex_lock(&q->lock);
		if (q->dead || cancelled(run->opts)) {
			pthread_mutex_unlock(&q->lock);
			return DROPPED;
		}
		if (q->count < q->capacity) {
			atomic_fetch_add(&c->refs, 1);
			q->items[(q->head + q->count) % q->capacity] = c;
			q->count++;
			pthread_cond_signal(&q->not_empty);
			pthread_mutex_unlock(&q->lock);
			return PUSHED;
		}
		timed_wait(&q->not_full, &q->lock, 10);
		full = q->count == q->capacity && !q->dead;
		pthread_mutex_unlock(&q->lock);
		if (full && others_starve(run, w)) {
			pthread_mutex_lock(&q->lock);
			q->detached = true;
			pthread_cond_broadcast(&q->handoff);
			pthread_mutex_unlock(&q->lock);
			return DETACHED;
		}
	}
}

/* The caller's thread: read the plan once and fan every chunk out to the
 * attached targets.  Stops early when none is left attached. */
static int read_and_fan_out(struct run *run, struct herd_error *err)
{
	uint64_t blocksize = run->opts->blocksize;
	struct plan_cursor cur = cursor_start(run->plan);
	uint64_t off;
	size_t len;
	int r = 0;

	while (cursor_chunk(run->plan, blocksize, &cur, &off, &len) && !cancelled(run->opts)) {
		struct herd_error e = {0};
		struct chunk *c;
		size_t live = 0;

		for (size_t i = 0; i < run->n; i++)
			live += attached(&run->workers[i]);
		if (!live)
			break;
		c = chunk_new(run->pool, off, len);
		if (!c) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			break;
		}
		c->index = cur.k;
		if (chunk_fill(run, c, run->source, true, PASS_WRITE, &e) < 0) {
			r = herd_error_set(err, e.code ? e.code : EIO, "%s",
					   herd_error_message(&e));
			chunk_unref(c);
			break;
		}
		for (size_t i = 0; i < run->n; i++) {
			struct worker *w = &run->workers[i];
			struct chunk *mine;

			if (!attached(w))
				continue;
			mine = worker_chunk(run, w, PASS_WRITE, c, off, len, cur.k);
			if (!mine) {
				w->reader_dropped = true;
				queue_kill(&w->wq);
				continue;
			}
			w->feed_from = cur;
			switch (push_or_detach(run, w, mine)) {
			case PUSHED:
				break;
			case DETACHED:
				w->detached = true;
				break;
			case DROPPED:
				w->reader_dropped = true;
				break;
			}
			chunk_unref(mine);
		}
		chunk_unref(c);
		cursor_next(run->plan, &cur, len);
	}
	for (size_t i = 0; i < run->n; i++) {
		struct worker *w = &run->workers[i];

		if (!w->in_pass || !w->ctl_started || w->detached)
			continue; /* a detached target's controller closes its queue */
		if (r < 0 && attached(w)) {
			/* The source could not be read: nobody fed by it can finish. */
			w->reader_error = *err;
			atomic_store(&w->reader_failed, true);
			queue_kill(&w->wq);
		}
		queue_close(&w->wq);
	}
	return r;
}

/* A controller feeding its own target: every chunk from `cur` on. */
static void self_feed(struct run *run, struct worker *w, enum pass_mode mode,
		      struct plan_cursor cur)
{
	uint64_t off;
	size_t len;

	while (cursor_chunk(run->plan, run->opts->blocksize, &cur, &off, &len) &&
	       !cancelled(run->opts)) {
		struct chunk *c = worker_chunk(run, w, mode, NULL, off, len, cur.k);
		bool pushed;

		if (!c) {
			queue_kill(w->q);
			break;
		}
		pushed = queue_push(w->q, c, run->opts);
		chunk_unref(c);
		if (!pushed)
			break;
		cursor_next(run->plan, &cur, len);
	}
	queue_close(w->q);
}

static bool start_lanes(struct worker *w)
{
	unsigned started = 0;

	for (unsigned j = 0; j < w->n_lanes; j++) {
		struct lane *l = &w->lanes[j];

		l->w = w;
		l->index = j;
		l->started = pthread_create(&l->thread, NULL, lane_main, l) == 0;
		started += l->started;
	}
	return started > 0;
}

static void join_lanes(struct worker *w)
{
	for (unsigned j = 0; j < w->n_lanes; j++)
		if (w->lanes[j].started) {
			pthread_join(w->lanes[j].thread, NULL);
			w->lanes[j].started = false;
		}
}

/* Reset the per-phase counters before the lanes start on queue q (the
 * producer-side fields are reset by whoever owns them then). */
static void phase_begin(struct worker *w, struct run *run, enum pass_mode mode, struct queue *q)
{
	w->mode = mode;
	w->total = run->total;
	w->q = q;
	atomic_store(&w->done, 0);
	atomic_store(&w->failed, false);
	if (w->opts->progress)
		w->opts->progress(w->opts->userdata, w->index,
				  mode == PASS_WRITE ? BURN_PHASE_WRITE : BURN_PHASE_VERIFY, 0,
				  run->total);
}

/* After a phase: false when the target is out (failed or interrupted),
 * with its state and error set. */
static bool phase_end(struct worker *w, struct run *run)
{
	struct burn_target *t = w->t;
	uint64_t done = atomic_load(&w->done);
	bool failed = atomic_load(&w->failed);

	if (atomic_load(&w->reader_failed) && !failed) {
		t->error = w->reader_error;
		failed = true;
	}
	if (failed) {
		t->state =
		    t->verify == BURN_VERIFY_MISMATCH ? BURN_TARGET_MISMATCH : BURN_TARGET_FAILED;
		return false;
	}
	if (done < run->total) {
		t->state = BURN_TARGET_INCOMPLETE;
		herd_error_set(&t->error, EINTR, "interrupted after %llu of %llu bytes",
			       (unsigned long long)done, (unsigned long long)run->total);
		return false;
	}
	return true;
}

/* The write phase of one target: fed by the reader until it is detached
 * (then by itself), flushed at the end. */
static bool write_phase(struct run *run, struct worker *w)
{
	struct burn_target *t = w->t;
	uint64_t start = now_ns();
	bool ok, detached = false;

	phase_begin(w, run, PASS_WRITE, &w->wq);
	atomic_store(&w->written, 0);
	atomic_store(&w->attempted, 0);
	if (!start_lanes(w)) {
		worker_fail(w, EAGAIN, "cannot start a thread");
	} else {
		pthread_mutex_lock(&w->wq.lock);
		while (!w->wq.closed && !w->wq.detached && !w->wq.dead)
			timed_wait(&w->wq.handoff, &w->wq.lock, 100);
		detached = w->wq.detached && !w->wq.closed;
		pthread_mutex_unlock(&w->wq.lock);
		if (detached)
			self_feed(run, w, PASS_WRITE, w->feed_from);
		join_lanes(w);
	}
	t->bytes_written = atomic_load(&w->written);
	ok = phase_end(w, run);
	if (ok) {
		struct herd_error fe = {0};
		int fr = w->fd >= 0 ? (fsync(w->fd) < 0 ? -errno : 0) : blockdev_flush(t->bd, &fe);

		if (fr < 0) {
			herd_error_set(&t->error, -fr, "flush: %s",
				       fe.message[0] ? fe.message : strerror(-fr));
			t->state = BURN_TARGET_FAILED;
			ok = false;
		}
	}
	t->write_ns = now_ns() - start;
	if (ok) {
		t->state = BURN_TARGET_WRITTEN;
		finish_hash_list(w);
	}
	return ok;
}

/* The verify phase of one target: it reads the plan's chunks of its view
 * itself (the page cache has them: they were just written from there),
 * and its lanes read the target back and compare. */
static bool verify_phase(struct run *run, struct worker *w)
{
	struct burn_target *t = w->t;
	uint64_t start = now_ns();
	bool ok = false;

	if (queue_init(&w->vq, run->opts->queue_depth) < 0) {
		herd_error_set(&t->error, ENOMEM, "out of memory");
		t->state = BURN_TARGET_FAILED;
		return false;
	}
	for (unsigned j = 0; j < w->n_lanes; j++) {
		void *buf = NULL;

		if (posix_memalign(&buf, ALIGN, run->opts->blocksize) != 0)
			goto out;
		w->lanes[j].vbuf = buf;
	}
	if (w->fd >= 0 && !t->is_block_device)
		/* After the fsync, drop the file's cached pages so a read-back
		 * that cannot use O_DIRECT comes from the disk, not memory. */
		posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
	atomic_store(&w->reader_failed, false);
	w->diff_cursor = 0;
	phase_begin(w, run, PASS_VERIFY, &w->vq);
	atomic_store(&w->verified, 0);
	if (!start_lanes(w)) {
		worker_fail(w, EAGAIN, "cannot start a thread");
	} else {
		self_feed(run, w, PASS_VERIFY, cursor_start(run->plan));
		join_lanes(w);
	}
	t->bytes_verified = atomic_load(&w->verified);
	ok = phase_end(w, run);
	if (ok)
		t->verify = BURN_VERIFY_OK;
out:
	if (!ok && t->state == BURN_TARGET_WRITTEN) {
		herd_error_set(&t->error, ENOMEM, "out of memory");
		t->state = BURN_TARGET_FAILED;
	}
	queue_destroy(&w->vq);
	free_pass_buffers(w);
	t->verify_ns = now_ns() - start;
	return ok;
}

/* One thread per target: its write phase, then (once every target is
 * written, when the after_write hook asks for that point) its verify
 * phase, at its own pace. */
static void *controller_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	const struct burn_options *opts = run->opts;
	bool ok = true;

	if (!opts->verify_only) {
		ok = write_phase(run, w);
		if (opts->after_write) {
			pthread_mutex_lock(&run->lock);
			run->arrived++;
			pthread_cond_broadcast(&run->cond);
			while (!run->hook_done)
				pthread_cond_wait(&run->cond, &run->lock);
			pthread_mutex_unlock(&run->lock);
		}
	}
	if (ok && (opts->verify || opts->verify_only) && !cancelled(opts))
		verify_phase(run, w);
	if (!cancelled(opts))
		report_done(w); /* on cancel, burn_run settles the state first */
	return NULL;
}

/* Run every target in the pass: one controller thread each, the caller's
 * thread reading for all of them. */
static int run_targets(struct run *run, struct herd_error *err)
{
	const struct burn_options *opts = run->opts;
	size_t started = 0;
	int r = 0;

	for (size_t i = 0; i < run->plan->count; i++)
		run->n_chunks +=
		    (size_t)((run->plan->ranges[i].length + opts->blocksize - 1) / opts->blocksize);
	run->digests = calloc(run->n_chunks ? run->n_chunks : 1, sizeof(*run->digests));
	run->digest_state = calloc(run->n_chunks ? run->n_chunks : 1, sizeof(*run->digest_state));
	if (!run->digests || !run->digest_state)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < run->n; i++) {
		struct worker *w = &run->workers[i];

		if (!w->in_pass)
			continue;
		w->run = run;
		w->n_lanes = w->fd >= 0 ? LANES_PER_TARGET : 1;
		w->diff_cursor = 0;
		atomic_store(&w->reader_failed, false);
		if (!opts->verify_only) {
			free(w->digests);
			w->digests = calloc(run->n_chunks ? run->n_chunks : 1, sizeof(*w->digests));
			if (!w->digests || queue_init(&w->wq, opts->queue_depth) < 0)
				return herd_error_set(err, ENOMEM, "out of memory");
			w->n_digests = run->n_chunks;
		}
	}
	for (size_t i = 0; i < run->n; i++) {
		struct worker *w = &run->workers[i];

		if (!w->in_pass)
			continue;
		w->ctl_started = pthread_create(&w->ctl, NULL, controller_main, w) == 0;
		if (w->ctl_started) {
			started++;
			continue;
		}
		herd_error_set(&w->t->error, EAGAIN, "cannot start a thread");
		w->t->state = BURN_TARGET_FAILED;
		w->in_pass = false;
		report_done(w);
	}
	if (!opts->verify_only)
		r = read_and_fan_out(run, err);
	if (opts->after_write && !opts->verify_only) {
		pthread_mutex_lock(&run->lock);
		while (run->arrived < started)
			pthread_cond_wait(&run->cond, &run->lock);
		pthread_mutex_unlock(&run->lock);
		opts->after_write(opts->hook_userdata);
		pthread_mutex_lock(&run->lock);
		run->hook_done = true;
		pthread_cond_broadcast(&run->cond);
		pthread_mutex_unlock(&run->lock);
	}
	for (size_t i = 0; i < run->n; i++)
		if (run->workers[i].ctl_started) {
			pthread_join(run->workers[i].ctl, NULL);
			run->workers[i].ctl_started = false;
		}
	return r;
}

int burn_run(struct blockdev *source, const struct rangeset *map, struct burn_target *targets,
	     size_t n, const struct burn_options *user_opts, struct herd_error *err)
{
	struct burn_options opts = user_opts ? *user_opts : (struct burn_options){0};
	struct rangeset plan = RANGESET_INIT;
	struct worker *workers = NULL;
	struct chunk_pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct run run = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
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
	} else {
		for (size_t i = 0; i < n; i++)
			targets[i].state = BURN_TARGET_WRITTEN;
	}
	run.source = source;
	run.plan = &plan;
	run.opts = &opts;
	run.pool = &pool;
	run.workers = workers;
	run.n = n;
	run.total = rangeset_total(&plan);
	r = run_targets(&run, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (targets[i].state == BURN_TARGET_WRITTEN && cancelled(&opts) &&
		    (opts.verify || opts.verify_only) && targets[i].verify != BURN_VERIFY_OK) {
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
		queue_destroy(&workers[i].wq);
		if (workers[i].fd >= 0)
			close(workers[i].fd);
		rangeset_free(&workers[i].diff);
		free(workers[i].digests);
		pthread_rwlock_destroy(&workers[i].io);
		pthread_mutex_destroy(&workers[i].fail_lock);
	}
	free(workers);
	free(run.digests);
	free(run.digest_state);
	rangeset_free(&plan);
	chunk_pool_destroy(&pool);
	return r;
}
