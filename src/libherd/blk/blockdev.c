/*
 * blockdev.c — the four blockdev kinds behind blockdev.h: file (regular
 * file or block device), memory, view and copy-on-write overlay.
 *
 * Every kind is a small set of branches in blockdev_pread/pwrite after one
 * common bounds check, so "past the end" is reported the same way
 * everywhere: reads fail with -EIO, writes with -ENOSPC, and the message
 * names the blockdev and the offset.  Nothing here caches file data: a
 * file blockdev is a thin pread/pwrite loop (EINTR and short transfers
 * retried), an overlay keeps only the 4 KiB chunks that were written.
 *
 * Overlay layout: a sorted array of chunk indexes (chunk = 4 KiB of the
 * base's address space).  In memory mode each entry owns a 4 KiB buffer;
 * in side-file mode the chunk lives at the same offset in a sparse file of
 * the base's size, so the array is only the "which chunks are dirty" map.
 * A sorted array (not a hash map) because extents must come out in order
 * and most edits append near each other; lookups are binary searches.
 *
 * BLOCKDEV_DIRECT: mandatory on block devices (aligned to the logical
 * sector size), best effort on regular files (aligned to 4 KiB, and only
 * when the size is a multiple of that, so the bounce buffer never reads or
 * writes past the end of the file).  Unaligned requests go through an
 * aligned bounce buffer either way.
 *
 * Reads touch no state of the handle (the bounce buffer is per call), so
 * concurrent reads are safe; writes are not locked against anything.
 *
 * Not done here: growing a blockdev (memory blockdevs have a fixed size).
 */
#include "blk/blockdev.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macros.h"

#define OVERLAY_CHUNK_SIZE 4096u
/* Largest single transfer used when copying through a temporary buffer
 * (overlay commit, O_DIRECT bounce): big enough to stream well, small
 * enough not to matter for memory. */
#define COPY_BUFFER_SIZE (1u << 20)

enum blockdev_kind {
	BLOCKDEV_KIND_FILE,
	BLOCKDEV_KIND_MEMORY,
	BLOCKDEV_KIND_VIEW,
	BLOCKDEV_KIND_OVERLAY,
};

struct overlay_chunk {
	uint64_t index;
	uint8_t *data; /* OVERLAY_CHUNK_SIZE bytes; NULL in side-file mode */
};

struct blockdev {
	unsigned refcount;
	enum blockdev_kind kind;
	char *name;
	uint64_t size;
	bool writable;

	/* file */
	int fd;
	bool direct;	       /* fd has O_DIRECT: I/O must be aligned */
	uint32_t direct_align; /* logical block size when direct */
	bool is_block_device;

	/* memory */
	uint8_t *data;

	/* view and overlay */
	struct blockdev *base;
	uint64_t offset; /* view: window start in base */

	/* overlay */
	struct overlay_chunk *chunks;
	size_t chunk_count, chunk_capacity;
	int side_fd;
	char *side_path;
};

static int blockdev_alloc(enum blockdev_kind kind, const char *name, struct blockdev **ret)
{
	struct blockdev *bd = calloc(1, sizeof(*bd));

	if (!bd)
		return -ENOMEM;
	bd->name = strdup(name);
	if (!bd->name) {
		free(bd);
		return -ENOMEM;
	}
	bd->refcount = 1;
	bd->kind = kind;
	bd->fd = -1;
	bd->side_fd = -1;
	*ret = bd;
	return 0;
}

static char *format_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_name(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return strdup(buf);
}

/* ---- raw fd I/O -------------------------------------------------------- */

/*
 * Full-length pread (rbuf) or pwrite (wbuf; exactly one is non-NULL, as
 * in file_direct_io): retries EINTR and short transfers.  A read that
 * meets EOF before `len` (the file shrank under us) and a write that
 * makes no progress are both -EIO.
 */
static int fd_io_full(int fd, uint8_t *rbuf, const uint8_t *wbuf, size_t len, uint64_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = rbuf ? pread(fd, rbuf + done, len - done, (off_t)offset)
				 : pwrite(fd, wbuf + done, len - done, (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int fd_read_full(int fd, void *buf, size_t len, uint64_t offset)
{
	return fd_io_full(fd, buf, NULL, len, offset);
}

static int fd_write_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	return fd_io_full(fd, NULL, buf, len, offset);
}

static bool is_aligned(const struct blockdev *bd, const void *buf, size_t len, uint64_t offset)
{
	uint32_t a = bd->direct_align;

	return ((uintptr_t)buf % a) == 0 && (len % a) == 0 && (offset % a) == 0;
}

/* O_DIRECT needs buffer, length and offset aligned to the logical block
 * size.  Unaligned requests are widened to aligned boundaries in a bounce
 * buffer; writes become read-modify-write of the edge blocks.  A block
 * device's size is a multiple of its logical block size, so the widened
 * range never crosses the end. */
static int file_direct_io(struct blockdev *bd, void *rbuf, const void *wbuf, size_t len,
			  uint64_t offset)
{
	uint32_t a = bd->direct_align;
	_cleanup_free_ uint8_t *bounce = NULL;

	if (is_aligned(bd, rbuf ? rbuf : wbuf, len, offset))
		return rbuf ? fd_read_full(bd->fd, rbuf, len, offset)
			    : fd_write_full(bd->fd, wbuf, len, offset);

	if (posix_memalign((void **)&bounce, a, COPY_BUFFER_SIZE) != 0)
		return -ENOMEM;
	while (len > 0) {
		uint64_t start = offset - offset % a;
		size_t head = (size_t)(offset - start);
		size_t piece = MIN(len, (size_t)COPY_BUFFER_SIZE - head);
		size_t span = head + piece;
		int r;

		span = (span + a - 1) / a * a;
		if (rbuf || head != 0 || piece % a != 0) {
			r = fd_read_full(bd->fd, bounce, span, start);
			if (r < 0)
				return r;
		}
		if (rbuf) {
			memcpy(rbuf, bounce + head, piece);
			rbuf = (uint8_t *)rbuf + piece;
		} else {
			memcpy(bounce + head, wbuf, piece);
			r = fd_write_full(bd->fd, bounce, span, start);
			if (r < 0)
				return r;
			wbuf = (const uint8_t *)wbuf + piece;
		}
		len -= piece;
		offset += piece;
	}
	return 0;
}

/* ---- constructors ------------------------------------------------------ */

int blockdev_open_file(const char *path, unsigned flags, struct blockdev **ret,
		       struct herd_error *err)
{
	_cleanup_close_ int fd = -1;
	struct blockdev *bd = NULL;
	struct stat st;
	uint64_t size;
	int oflags = O_CLOEXEC | O_NOCTTY;
	int r;

	oflags |= (flags & BLOCKDEV_READ_WRITE) ? O_RDWR : O_RDONLY;
	/* Linux: O_EXCL without O_CREAT means "exclusive open" for block
	 * devices and is ignored for other files (open(2)). */
	if (flags & BLOCKDEV_EXCLUSIVE)
		oflags |= O_EXCL;
	fd = open(path, oflags);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return herd_error_set(err, errno, "%s: fstat: %s", path, strerror(errno));

	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return herd_error_set(err, errno, "%s: BLKGETSIZE64: %s", path,
					      strerror(errno));
	} else {
		return herd_error_set(err, EINVAL, "%s: not a regular file or block device", path);
	}

	r = blockdev_alloc(BLOCKDEV_KIND_FILE, path, &bd);
	if (r < 0)
		return herd_error_set(err, r, "%s: out of memory", path);
	bd->size = size;
	bd->writable = (flags & BLOCKDEV_READ_WRITE) != 0;
	bd->is_block_device = S_ISBLK(st.st_mode);

	if ((flags & BLOCKDEV_DIRECT) && bd->is_block_device) {
		int sector = 512;
		int fl = fcntl(fd, F_GETFL);

		if (ioctl(fd, BLKSSZGET, &sector) < 0 || sector <= 0)
			sector = 512;
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
			r = -errno;
			blockdev_unref(bd);
			return herd_error_set(err, r, "%s: O_DIRECT: %s", path, strerror(-r));
		}
		bd->direct = true;
		bd->direct_align = (uint32_t)MAX(sector, 512);
	} else if ((flags & BLOCKDEV_DIRECT) && size % 4096 == 0) {
		/* Some filesystems (older tmpfs) refuse O_DIRECT: stay buffered. */
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0) {
			bd->direct = true;
			bd->direct_align = 4096;
		}
	}
	bd->fd = TAKE_FD(fd);
	*ret = bd;
	return 0;
}

int blockdev_new_memory(const void *data, uint64_t size, struct blockdev **ret,
			struct herd_error *err)
{
	struct blockdev *bd = NULL;
	int r;

	if (size > SIZE_MAX - 1)
		return herd_error_set(err, EFBIG, "memory blockdev: size %" PRIu64 " too large",
				      size);
	r = blockdev_alloc(BLOCKDEV_KIND_MEMORY, "memory", &bd);
	if (r < 0)
		return herd_error_set(err, r, "memory blockdev: out of memory");
	bd->data = calloc(1, size ? (size_t)size : 1);
	if (!bd->data) {
		blockdev_unref(bd);
		return herd_error_set(err, ENOMEM,
				      "memory blockdev of %" PRIu64 " bytes: out of memory", size);
	}
	if (data && size)
		memcpy(bd->data, data, (size_t)size);
	bd->size = size;
	bd->writable = true;
	*ret = bd;
	return 0;
}

int blockdev_new_view(struct blockdev *base, uint64_t offset, uint64_t length,
		      struct blockdev **ret, struct herd_error *err)
{
	struct blockdev *bd = NULL;
	_cleanup_free_ char *name = NULL;
	int r;

	if (offset > base->size || length > base->size - offset)
		return herd_error_set(err, EINVAL,
				      "%s: view at offset %" PRIu64 " of %" PRIu64
				      " bytes exceeds size %" PRIu64,
				      base->name, offset, length, base->size);
	name = format_name("%s@%" PRIu64 "+%" PRIu64, base->name, offset, length);
	if (!name)
		return herd_error_set(err, ENOMEM, "%s: out of memory", base->name);
	r = blockdev_alloc(BLOCKDEV_KIND_VIEW, name, &bd);
	if (r < 0)
		return herd_error_set(err, r, "%s: out of memory", base->name);
	bd->base = blockdev_ref(base);
	bd->offset = offset;
	bd->size = length;
	bd->writable = base->writable;
	*ret = bd;
	return 0;
}

int blockdev_new_overlay(struct blockdev *base, const char *side_path, struct blockdev **ret,
			 struct herd_error *err)
{
	struct blockdev *bd = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int side_fd = -1;
	int r;

	name = format_name("overlay of %s", base->name);
	if (!name)
		return herd_error_set(err, ENOMEM, "%s: out of memory", base->name);
	if (side_path) {
		side_fd = open(side_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
		if (side_fd < 0)
			return herd_error_set(err, errno, "%s: create overlay side file: %s",
					      side_path, strerror(errno));
		/* Sparse: only written chunks take space. */
		if (ftruncate(side_fd, (off_t)base->size) < 0) {
			r = -errno;
			unlink(side_path);
			return herd_error_set(err, r, "%s: size overlay side file: %s", side_path,
					      strerror(-r));
		}
	}
	r = blockdev_alloc(BLOCKDEV_KIND_OVERLAY, name, &bd);
	if (r < 0) {
		if (side_path)
			unlink(side_path);
		return herd_error_set(err, r, "%s: out of memory", base->name);
	}
	if (side_path) {
		bd->side_path = strdup(side_path);
		if (!bd->side_path) {
			unlink(side_path);
			blockdev_unref(bd);
			return herd_error_set(err, ENOMEM, "%s: out of memory", base->name);
		}
	}
	bd->side_fd = TAKE_FD(side_fd);
	bd->base = blockdev_ref(base);
	bd->size = base->size;
	bd->writable = true;
	*ret = bd;
	return 0;
}

static void overlay_clear(struct blockdev *bd)
{
	for (size_t i = 0; i < bd->chunk_count; i++)
		free(bd->chunks[i].data);
	free(bd->chunks);
	bd->chunks = NULL;
	bd->chunk_count = bd->chunk_capacity = 0;
}

struct blockdev *blockdev_ref(struct blockdev *bd)
{
	if (bd)
		bd->refcount++;
	return bd;
}

struct blockdev *blockdev_unref(struct blockdev *bd)
{
	if (!bd || --bd->refcount > 0)
		return NULL;
	if (bd->fd >= 0)
		close(bd->fd);
	free(bd->data);
	overlay_clear(bd);
	if (bd->side_fd >= 0)
		close(bd->side_fd);
	if (bd->side_path) {
		unlink(bd->side_path);
		free(bd->side_path);
	}
	blockdev_unref(bd->base);
	free(bd->name);
	free(bd);
	return NULL;
}

uint64_t blockdev_size(const struct blockdev *bd)
{
	return bd->size;
}

bool blockdev_writable(const struct blockdev *bd)
{
	return bd->writable;
}

const char *blockdev_name(const struct blockdev *bd)
{
	return bd->name;
}

int blockdev_set_name(struct blockdev *bd, const char *name, struct herd_error *err)
{
	char *copy = strdup(name);

	if (!copy)
		return herd_error_set(err, ENOMEM, "%s: out of memory", bd->name);
	free(bd->name);
	bd->name = copy;
	return 0;
}

struct blockdev *blockdev_base(struct blockdev *bd)
{
	return bd->base;
}

bool blockdev_is_direct(const struct blockdev *bd)
{
	return bd->direct;
}

bool blockdev_is_overlay(const struct blockdev *bd)
{
	return bd->kind == BLOCKDEV_KIND_OVERLAY;
}

/* ---- overlay chunk map --------------------------------------------------- */

/* Index of the first chunk entry with index >= `index`. */
static size_t overlay_lower_bound(const struct blockdev *bd, uint64_t index)
{
	size_t lo = 0, hi = bd->chunk_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bd->chunks[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t overlay_chunk_length(const struct blockdev *bd, uint64_t index)
{
	uint64_t start = index * OVERLAY_CHUNK_SIZE;

	return MIN((uint64_t)OVERLAY_CHUNK_SIZE, bd->size - start);
}

/* Find or create the chunk `index`; a new chunk starts as a copy of the
 * base so partial writes keep the base's bytes around them.  Returns the
 * array position in *ret_pos. */
static int overlay_get_chunk(struct blockdev *bd, uint64_t index, bool whole, size_t *ret_pos,
			     struct herd_error *err)
{
	size_t pos = overlay_lower_bound(bd, index);
	uint64_t clen = overlay_chunk_length(bd, index);
	_cleanup_free_ uint8_t *data = NULL;
	int r;

	if (pos < bd->chunk_count && bd->chunks[pos].index == index) {
		*ret_pos = pos;
		return 0;
	}
	if (bd->chunk_count == bd->chunk_capacity) {
		size_t cap = bd->chunk_capacity ? bd->chunk_capacity * 2 : 64;
		struct overlay_chunk *c = realloc(bd->chunks, cap * sizeof(*c));
		if (!c)
			return herd_error_set(err, ENOMEM, "%s: out of memory", bd->name);
		bd->chunks = c;
		bd->chunk_capacity = cap;
	}

	if (bd->side_fd < 0) {
		data = calloc(1, OVERLAY_CHUNK_SIZE);
		if (!data)
			return herd_error_set(err, ENOMEM, "%s: out of memory", bd->name);
		if (!whole) {
			r = blockdev_pread(bd->base, data, (size_t)clen, index * OVERLAY_CHUNK_SIZE,
					   err);
			if (r < 0)
				return r;
		}
	} else if (!whole) {
		uint8_t buf[OVERLAY_CHUNK_SIZE];
		r = blockdev_pread(bd->base, buf, (size_t)clen, index * OVERLAY_CHUNK_SIZE, err);
		if (r < 0)
			return r;
		r = fd_write_full(bd->side_fd, buf, (size_t)clen, index * OVERLAY_CHUNK_SIZE);
		if (r < 0)
			return herd_error_set(err, r, "%s: write side file at %" PRIu64 ": %s",
					      bd->name, index * OVERLAY_CHUNK_SIZE, strerror(-r));
	}

	memmove(bd->chunks + pos + 1, bd->chunks + pos,
		(bd->chunk_count - pos) * sizeof(*bd->chunks));
	bd->chunks[pos].index = index;
	bd->chunks[pos].data = TAKE_PTR(data);
	bd->chunk_count++;
	*ret_pos = pos;
	return 0;
}

/* Read: one pread of the whole range from the base, then the dirty chunks
 * patched in — large sequential reads cost one base transfer. */
static int overlay_read(struct blockdev *bd, uint8_t *buf, size_t len, uint64_t offset,
			struct herd_error *err)
{
	uint64_t end = offset + len;
	size_t pos;
	int r;

	r = blockdev_pread(bd->base, buf, len, offset, err);
	if (r < 0)
		return r;

	for (pos = overlay_lower_bound(bd, offset / OVERLAY_CHUNK_SIZE); pos < bd->chunk_count;
	     pos++) {
		uint64_t cstart = bd->chunks[pos].index * OVERLAY_CHUNK_SIZE;
		uint64_t cend = cstart + overlay_chunk_length(bd, bd->chunks[pos].index);
		uint64_t from, to;

		if (cstart >= end)
			break;
		from = MAX(cstart, offset);
		to = MIN(cend, end);
		if (from >= to)
			continue;
		if (bd->chunks[pos].data) {
			memcpy(buf + (from - offset), bd->chunks[pos].data + (from - cstart),
			       (size_t)(to - from));
			continue;
		}
		/* Side file: extend over following consecutive chunks so a run
		 * of dirty chunks is one pread. */
		while (pos + 1 < bd->chunk_count &&
		       bd->chunks[pos + 1].index == bd->chunks[pos].index + 1 &&
		       bd->chunks[pos + 1].index * OVERLAY_CHUNK_SIZE < end) {
			pos++;
			cend = bd->chunks[pos].index * OVERLAY_CHUNK_SIZE +
			       overlay_chunk_length(bd, bd->chunks[pos].index);
		}
		to = MIN(cend, end);
		r = fd_read_full(bd->side_fd, buf + (from - offset), (size_t)(to - from), from);
		if (r < 0)
			return herd_error_set(err, r, "%s: read side file at %" PRIu64 ": %s",
					      bd->name, from, strerror(-r));
	}
	return 0;
}

static int overlay_write(struct blockdev *bd, const uint8_t *buf, size_t len, uint64_t offset,
			 struct herd_error *err)
{
	while (len > 0) {
		uint64_t index = offset / OVERLAY_CHUNK_SIZE;
		uint64_t cstart = index * OVERLAY_CHUNK_SIZE;
		uint64_t clen = overlay_chunk_length(bd, index);
		size_t within = (size_t)(offset - cstart);
		size_t piece = (size_t)MIN((uint64_t)len, clen - within);
		bool whole = within == 0 && piece == clen;
		size_t pos;
		int r;

		r = overlay_get_chunk(bd, index, whole, &pos, err);
		if (r < 0)
			return r;
		if (bd->chunks[pos].data) {
			memcpy(bd->chunks[pos].data + within, buf, piece);
		} else {
			r = fd_write_full(bd->side_fd, buf, piece, offset);
			if (r < 0)
				return herd_error_set(err, r,
						      "%s: write side file at %" PRIu64 ": %s",
						      bd->name, offset, strerror(-r));
		}
		buf += piece;
		len -= piece;
		offset += piece;
	}
	return 0;
}

/* ---- I/O entry points -------------------------------------------------- */

static int check_range(const struct blockdev *bd, size_t len, uint64_t offset, bool write,
		       struct herd_error *err)
{
	if (offset <= bd->size && (uint64_t)len <= bd->size - offset)
		return 0;
	if (write)
		return herd_error_set(err, ENOSPC,
				      "%s: write of %zu bytes at offset %" PRIu64
				      " past the end (size %" PRIu64 ")",
				      bd->name, len, offset, bd->size);
	return herd_error_set(
	    err, EIO, "%s: read of %zu bytes at offset %" PRIu64 " past the end (size %" PRIu64 ")",
	    bd->name, len, offset, bd->size);
}

int blockdev_pread(struct blockdev *bd, void *buf, size_t len, uint64_t offset,
		   struct herd_error *err)
{
	int r;

	r = check_range(bd, len, offset, false, err);
	if (r < 0 || len == 0)
		return r;

	switch (bd->kind) {
	case BLOCKDEV_KIND_FILE:
		r = bd->direct ? file_direct_io(bd, buf, NULL, len, offset)
			       : fd_read_full(bd->fd, buf, len, offset);
		if (r < 0)
			return herd_error_set(err, r,
					      "%s: read of %zu bytes at offset %" PRIu64 ": %s",
					      bd->name, len, offset, strerror(-r));
		return 0;
	case BLOCKDEV_KIND_MEMORY:
		memcpy(buf, bd->data + offset, len);
		return 0;
	case BLOCKDEV_KIND_VIEW:
		return blockdev_pread(bd->base, buf, len, bd->offset + offset, err);
	case BLOCKDEV_KIND_OVERLAY:
		return overlay_read(bd, buf, len, offset, err);
	}
	return herd_error_set(err, EINVAL, "%s: unknown blockdev kind", bd->name);
}

int blockdev_pwrite(struct blockdev *bd, const void *buf, size_t len, uint64_t offset,
		    struct herd_error *err)
{
	int r;

	if (!bd->writable)
		return herd_error_set(err, EROFS, "%s: opened read-only", bd->name);
	r = check_range(bd, len, offset, true, err);
	if (r < 0 || len == 0)
		return r;

	switch (bd->kind) {
	case BLOCKDEV_KIND_FILE:
		r = bd->direct ? file_direct_io(bd, NULL, buf, len, offset)
			       : fd_write_full(bd->fd, buf, len, offset);
		if (r < 0)
			return herd_error_set(err, r,
					      "%s: write of %zu bytes at offset %" PRIu64 ": %s",
					      bd->name, len, offset, strerror(-r));
		return 0;
	case BLOCKDEV_KIND_MEMORY:
		memcpy(bd->data + offset, buf, len);
		return 0;
	case BLOCKDEV_KIND_VIEW:
		return blockdev_pwrite(bd->base, buf, len, bd->offset + offset, err);
	case BLOCKDEV_KIND_OVERLAY:
		return overlay_write(bd, buf, len, offset, err);
	}
	return herd_error_set(err, EINVAL, "%s: unknown blockdev kind", bd->name);
}

int blockdev_flush(struct blockdev *bd, struct herd_error *err)
{
	switch (bd->kind) {
	case BLOCKDEV_KIND_FILE:
		if (!bd->writable)
			return 0;
		/* Block devices: fsync also flushes the device's write cache. */
		if ((bd->is_block_device ? fsync(bd->fd) : fdatasync(bd->fd)) < 0)
			return herd_error_set(err, errno, "%s: fsync: %s", bd->name,
					      strerror(errno));
		return 0;
	case BLOCKDEV_KIND_VIEW:
		return blockdev_flush(bd->base, err);
	case BLOCKDEV_KIND_MEMORY:
	case BLOCKDEV_KIND_OVERLAY:
		return 0;
	}
	return 0;
}

/* ---- overlay extents and commit ---------------------------------------- */

int blockdev_overlay_discard(struct blockdev *overlay, struct herd_error *err)
{
	if (overlay->kind != BLOCKDEV_KIND_OVERLAY)
		return herd_error_set(err, EINVAL, "%s: not an overlay", overlay->name);
	overlay_clear(overlay);
	if (overlay->side_fd >= 0) {
		if (ftruncate(overlay->side_fd, 0) < 0 ||
		    ftruncate(overlay->side_fd, (off_t)overlay->size) < 0)
			return herd_error_set(err, errno, "%s: reset side file: %s",
					      overlay->side_path, strerror(errno));
	}
	return 0;
}

int blockdev_overlay_extents(struct blockdev *overlay, blockdev_extent_cb cb, void *userdata,
			     struct herd_error *err)
{
	size_t i = 0;

	if (overlay->kind != BLOCKDEV_KIND_OVERLAY)
		return herd_error_set(err, EINVAL, "%s: not an overlay", overlay->name);

	while (i < overlay->chunk_count) {
		uint64_t first = overlay->chunks[i].index;
		uint64_t last = first;
		uint64_t start, end;
		int r;

		while (i + 1 < overlay->chunk_count && overlay->chunks[i + 1].index == last + 1)
			last = overlay->chunks[++i].index;
		i++;
		start = first * OVERLAY_CHUNK_SIZE;
		end = last * OVERLAY_CHUNK_SIZE + overlay_chunk_length(overlay, last);
		r = cb(userdata, start, end - start);
		if (r < 0)
			return r;
	}
	return 0;
}

uint64_t blockdev_overlay_dirty_bytes(const struct blockdev *overlay)
{
	uint64_t total = 0;

	if (overlay->kind != BLOCKDEV_KIND_OVERLAY)
		return 0;
	for (size_t i = 0; i < overlay->chunk_count; i++)
		total += overlay_chunk_length(overlay, overlay->chunks[i].index);
	return total;
}

struct commit_state {
	struct blockdev *overlay;
	uint8_t *buffer;
	struct herd_error *err;
	int error;
};

static int commit_extent(void *userdata, uint64_t offset, uint64_t length)
{
	struct commit_state *s = userdata;

	while (length > 0) {
		size_t piece = (size_t)MIN(length, (uint64_t)COPY_BUFFER_SIZE);
		int r;

		r = overlay_read(s->overlay, s->buffer, piece, offset, s->err);
		if (r >= 0)
			r = blockdev_pwrite(s->overlay->base, s->buffer, piece, offset, s->err);
		if (r < 0) {
			s->error = r;
			return r;
		}
		offset += piece;
		length -= piece;
	}
	return 0;
}

int blockdev_overlay_commit(struct blockdev *overlay, struct herd_error *err)
{
	_cleanup_free_ uint8_t *buffer = NULL;
	struct commit_state s;
	int r;

	if (overlay->kind != BLOCKDEV_KIND_OVERLAY)
		return herd_error_set(err, EINVAL, "%s: not an overlay", overlay->name);
	if (!overlay->base->writable)
		return herd_error_set(err, EROFS, "%s: commit: base %s is read-only", overlay->name,
				      overlay->base->name);
	buffer = malloc(COPY_BUFFER_SIZE);
	if (!buffer)
		return herd_error_set(err, ENOMEM, "%s: out of memory", overlay->name);

	s = (struct commit_state){.overlay = overlay, .buffer = buffer, .err = err};
	r = blockdev_overlay_extents(overlay, commit_extent, &s, err);
	if (r < 0)
		/* The overlay is left intact so the commit can be retried. */
		return herd_error_prefix(err, r, "%s: commit", overlay->name);
	r = blockdev_flush(overlay->base, err);
	if (r < 0)
		return herd_error_prefix(err, r, "%s: commit", overlay->name);

	/* Empty the overlay; the side file's blocks are given back by
	 * truncating it to 0 and re-extending it. */
	return blockdev_overlay_discard(overlay, err);
}
