/*
 * unpack_xz.c — block-parallel .xz unpacking for files with several
 * blocks (see unpack_xz.h).
 *
 * A multi-block .xz (what `xz -T` writes, and what Raspberry Pi OS ships)
 * records every block's offset and sizes in the index at its end (xz file
 * format 1.1.0, section 4: Index).  Reading the index first lets us
 * schedule the blocks ourselves instead of feeding liblzma's threaded
 * stream decoder through one input pipe:
 *
 *   workers (one per CPU)   pread block i → decode it whole
 *                           (lzma_block_buffer_decode) → write its
 *                           non-zero 4 KiB pieces at its own offset →
 *                           start writeback (sync_file_range)
 *   this thread             SHA-256 of the input file, then of the raw
 *                           image block by block in order (SHA-256 is
 *                           sequential; zero blocks are hashed from a
 *                           zero buffer, nothing is copied)
 *
 * Decoding is a pure function of a block's bytes (header, data, check), so
 * a block byte-identical to one that already decoded to all zeros decodes
 * to all zeros again and is not decoded: an image's free space compresses
 * to the same few kilobytes in every block, and those blocks are most of a
 * freshly built image.  At most `threads + 2` decoded blocks wait for the
 * hasher, which bounds memory to a few block sizes (24 MiB for xz -6).
 *
 * Not handled here (the caller falls back to liblzma's stream decoder): a
 * single block (nothing to parallelise), blocks over 256 MiB, input that is
 * not a regular file (the index is at the end).
 */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/unpack_xz.h"

#define XZ_MAX_BLOCK	 (256ull << 20)
#define XZ_MAX_WORKERS	 16
#define XZ_ZERO_MEMO	 4
#define XZ_HASH_CHUNK	 (1u << 20)
#define XZ_MAX_INDEX_MEM (256ull << 20)

struct xz_block {
	uint64_t in_off, in_size; /* the whole block: header .. check */
	uint64_t unpadded;
	uint64_t out_off, out_size;
	lzma_check check;
	/* Results, under the job lock. */
	unsigned char *out; /* decoded bytes; NULL when all zero */
	bool done, zero;
};

struct xz_memo {
	unsigned char *bytes; /* compressed bytes of a block that decoded to zeros */
	size_t len;
};

struct xz_job {
	int in_fd, out_fd;
	struct xz_block *blocks;
	size_t count;
	uint64_t raw_size;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next;   /* next block to claim */
	size_t hashed; /* blocks hashed so far */
	size_t window; /* claimed blocks may run this far ahead of hashed */
	bool quit;
	int error; /* first failure, -errno */
	struct herd_error err;
	struct xz_memo memo[XZ_ZERO_MEMO];
	size_t memo_count;
	uint64_t written;
};

/* Read the index (and so validate stream headers, footers and padding). */
static int read_index(int fd, uint64_t file_size, lzma_index **ret, struct herd_error *err)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	unsigned char *buf = malloc(1u << 16);
	uint64_t pos = 0;
	lzma_ret lr;
	int r = 0;

	if (!buf)
		return herd_error_set(err, ENOMEM, "out of memory");
	lr = lzma_file_info_decoder(&strm, &idx, XZ_MAX_INDEX_MEM, file_size);
	if (lr != LZMA_OK) {
		free(buf);
		return herd_error_set(err, ENOMEM, "xz: cannot read the index (%d)", (int)lr);
	}
	for (;;) {
		if (strm.avail_in == 0) {
			ssize_t n = pread(fd, buf, 1u << 16, (off_t)pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = herd_error_set(err, errno, "read: %s", strerror(errno));
				break;
			}
			strm.next_in = buf;
			strm.avail_in = (size_t)n;
			pos += (uint64_t)n;
		}
		lr = lzma_code(&strm, LZMA_RUN);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr == LZMA_SEEK_NEEDED) {
			pos = strm.seek_pos;
			strm.avail_in = 0;
			continue;
		}
		if (lr != LZMA_OK) {
			r = herd_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EBADMSG, "xz: %s",
					   lr == LZMA_FORMAT_ERROR ? "not an xz file"
					   : lr == LZMA_DATA_ERROR ? "compressed data is corrupt"
					   : lr == LZMA_BUF_ERROR  ? "file is truncated"
								   : "cannot read the index");
			break;
		}
	}
	lzma_end(&strm);
	free(buf);
	if (r < 0) {
		lzma_index_end(idx, NULL);
		return r;
	}
	*ret = idx;
	return 0;
}

static void job_fail(struct xz_job *job, int r, const struct herd_error *err)
{
	pthread_mutex_lock(&job->lock);
	if (!job->error) {
		job->error = r;
		if (err)
			job->err = *err;
	}
	job->quit = true;
	pthread_cond_broadcast(&job->cond);
	pthread_mutex_unlock(&job->lock);
}

static bool memo_match(struct xz_job *job, const unsigned char *in, size_t len)
{
	size_t n;

	pthread_mutex_lock(&job->lock);
	n = job->memo_count; /* entries below memo_count never change */
	pthread_mutex_unlock(&job->lock);
	for (size_t i = 0; i < n; i++)
		if (job->memo[i].len == len && memcmp(job->memo[i].bytes, in, len) == 0)
			return true;
	return false;
}

static void memo_add(struct xz_job *job, const unsigned char *in, size_t len)
{
	unsigned char *copy;

	pthread_mutex_lock(&job->lock);
	for (size_t i = 0; i < job->memo_count; i++)
		if (job->memo[i].len == len && memcmp(job->memo[i].bytes, in, len) == 0) {
			pthread_mutex_unlock(&job->lock);
			return;
		}
	if (job->memo_count < XZ_ZERO_MEMO && (copy = malloc(len))) {
		memcpy(copy, in, len);
		job->memo[job->memo_count].bytes = copy;
		job->memo[job->memo_count].len = len;
		job->memo_count++;
	}
	pthread_mutex_unlock(&job->lock);
}

static int decode_block(const struct xz_block *b, const unsigned char *in, unsigned char *out,
			struct herd_error *err)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	lzma_block block = {.version = 1, .check = b->check, .filters = filters};
	size_t in_pos, out_pos = 0;
	lzma_ret lr;

	block.header_size = lzma_block_header_size_decode(in[0]);
	if (in[0] == 0 || block.header_size > b->in_size)
		return herd_error_set(err, EBADMSG, "xz: compressed data is corrupt");
	lr = lzma_block_header_decode(&block, NULL, in);
	if (lr == LZMA_OK)
		lr = lzma_block_compressed_size(&block, b->unpadded);
	if (lr == LZMA_OK) {
		in_pos = block.header_size;
		lr = lzma_block_buffer_decode(&block, NULL, in, &in_pos, (size_t)b->in_size, out,
					      &out_pos, (size_t)b->out_size);
		for (size_t i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
			free(filters[i].options);
	}
	if (lr == LZMA_OK && out_pos != b->out_size)
		lr = LZMA_DATA_ERROR;
	if (lr != LZMA_OK)
		return herd_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EBADMSG, "xz: %s",
				      lr == LZMA_MEM_ERROR	 ? "out of memory"
				      : lr == LZMA_OPTIONS_ERROR ? "unsupported options"
								 : "compressed data is corrupt");
	return 0;
}

static int pread_all(int fd, unsigned char *p, size_t len, uint64_t off, struct herd_error *err)
{
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return herd_error_set(err, errno, "read: %s", strerror(errno));
		if (n == 0)
			return herd_error_set(err, EBADMSG, "xz: file is truncated");
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* One block: decode (unless known zero), write sparse, hand over. */
static int work_block(struct xz_job *job, struct xz_block *b, unsigned char **inbuf, size_t *incap,
		      uint64_t *written, struct herd_error *err)
{
	unsigned char *out = NULL;
	bool zero;
	int r;

	if (b->in_size > *incap) {
		unsigned char *p = realloc(*inbuf, (size_t)b->in_size);
		if (!p)
			return herd_error_set(err, ENOMEM, "out of memory");
		*inbuf = p;
		*incap = (size_t)b->in_size;
	}
	r = pread_all(job->in_fd, *inbuf, (size_t)b->in_size, b->in_off, err);
	if (r < 0)
		return r;
	zero = memo_match(job, *inbuf, (size_t)b->in_size);
	if (!zero) {
		out = malloc(b->out_size ? (size_t)b->out_size : 1);
		if (!out)
			return herd_error_set(err, ENOMEM, "out of memory");
		r = decode_block(b, *inbuf, out, err);
		if (r < 0) {
			free(out);
			return r;
		}
		zero = store_is_zero(out, (size_t)b->out_size);
		if (zero) {
			free(out);
			out = NULL;
			memo_add(job, *inbuf, (size_t)b->in_size);
		} else {
			r = store_write_sparse(job->out_fd, out, (size_t)b->out_size, b->out_off,
					       written, err);
			if (r < 0) {
				free(out);
				return r;
			}
		}
	}
	pthread_mutex_lock(&job->lock);
	b->out = out;
	b->zero = zero;
	b->done = true;
	pthread_cond_broadcast(&job->cond);
	pthread_mutex_unlock(&job->lock);
	return 0;
}

static void *worker(void *userdata)
{
	struct xz_job *job = userdata;
	unsigned char *inbuf = NULL;
	size_t incap = 0;
	uint64_t written = 0;

	for (;;) {
		struct herd_error err = {0};
		size_t i;
		int r;

		pthread_mutex_lock(&job->lock);
		while (!job->quit && job->next < job->count &&
		       job->next >= job->hashed + job->window)
			pthread_cond_wait(&job->cond, &job->lock);
		if (job->quit || job->next >= job->count) {
			pthread_mutex_unlock(&job->lock);
			break;
		}
		i = job->next++;
		pthread_mutex_unlock(&job->lock);
		r = work_block(job, &job->blocks[i], &inbuf, &incap, &written, &err);
		if (r < 0) {
			job_fail(job, r, &err);
			break;
		}
	}
	free(inbuf);
	pthread_mutex_lock(&job->lock);
	job->written += written;
	pthread_mutex_unlock(&job->lock);
	return NULL;
}

/* SHA-256 of the whole input file (the download checksum). */
static int hash_input(struct xz_job *job, EVP_MD_CTX *md, uint64_t size, struct herd_error *err)
{
	unsigned char *buf = malloc(XZ_HASH_CHUNK);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return herd_error_set(err, ENOMEM, "out of memory");
	while (off < size) {
		size_t n = (size_t)(size - off < XZ_HASH_CHUNK ? size - off : XZ_HASH_CHUNK);
		r = pread_all(job->in_fd, buf, n, off, err);
		if (r < 0)
			break;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			r = herd_error_set(err, EIO, "sha256: update failed");
			break;
		}
		off += n;
	}
	free(buf);
	return r;
}

struct input_hash {
	struct xz_job *job;
	EVP_MD_CTX *md;
	uint64_t size;
	int r;
	struct herd_error err;
};

static void *hash_input_thread(void *userdata)
{
	struct input_hash *h = userdata;

	h->r = hash_input(h->job, h->md, h->size, &h->err);
	if (h->r < 0)
		job_fail(h->job, h->r, &h->err);
	return NULL;
}

static int hash_raw(struct xz_job *job, EVP_MD_CTX *md, store_progress_fn progress, void *userdata,
		    uint64_t in_size, struct herd_error *err)
{
	unsigned char *zeros = calloc(1, XZ_HASH_CHUNK);

	if (!zeros)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < job->count; i++) {
		struct xz_block *b = &job->blocks[i];
		bool ok = true;

		pthread_mutex_lock(&job->lock);
		while (!b->done && !job->error)
			pthread_cond_wait(&job->cond, &job->lock);
		pthread_mutex_unlock(&job->lock);
		if (!b->done)
			break;
		if (b->zero) {
			for (uint64_t left = b->out_size; ok && left > 0;) {
				size_t n = (size_t)(left < XZ_HASH_CHUNK ? left : XZ_HASH_CHUNK);
				ok = EVP_DigestUpdate(md, zeros, n) == 1;
				left -= n;
			}
		} else {
			ok = EVP_DigestUpdate(md, b->out, (size_t)b->out_size) == 1;
		}
		free(b->out);
		b->out = NULL;
		pthread_mutex_lock(&job->lock);
		job->hashed = i + 1;
		pthread_cond_broadcast(&job->cond);
		pthread_mutex_unlock(&job->lock);
		if (!ok) {
			free(zeros);
			return herd_error_set(err, EIO, "sha256: update failed");
		}
		if (progress)
			progress(userdata, "unpack", b->in_off + b->in_size, in_size);
	}
	free(zeros);
	return 0;
}

/* Blocks from the index; -ENOTSUP when this file is not for us. */
static int collect_blocks(lzma_index *idx, struct xz_job *job, struct herd_error *err)
{
	lzma_index_iter iter;
	lzma_vli n = lzma_index_block_count(idx);

	if (n < 2)
		return -ENOTSUP;
	job->blocks = calloc((size_t)n, sizeof(*job->blocks));
	if (!job->blocks)
		return herd_error_set(err, ENOMEM, "out of memory");
	lzma_index_iter_init(&iter, idx);
	while (!lzma_index_iter_next(&iter, LZMA_INDEX_ITER_NONEMPTY_BLOCK)) {
		struct xz_block *b = &job->blocks[job->count];
		if (job->count >= n)
			break;
		if (iter.block.uncompressed_size > XZ_MAX_BLOCK ||
		    iter.block.total_size > XZ_MAX_BLOCK + (1u << 20))
			return -ENOTSUP;
		b->in_off = iter.block.compressed_file_offset;
		b->in_size = iter.block.total_size;
		b->unpadded = iter.block.unpadded_size;
		b->out_off = iter.block.uncompressed_file_offset;
		b->out_size = iter.block.uncompressed_size;
		b->check = iter.stream.flags ? iter.stream.flags->check : LZMA_CHECK_NONE;
		job->count++;
	}
	job->raw_size = lzma_index_uncompressed_size(idx);
	return job->count >= 2 ? 0 : -ENOTSUP;
}

int store_unpack_xz_blocks(int in_fd, int out_fd, unsigned threads, store_progress_fn progress,
			   void *userdata, struct store_unpack_result *ret, struct herd_error *err)
{
	struct xz_job job = {.in_fd = in_fd, .out_fd = out_fd};
	struct input_hash in_hash = {0};
	pthread_t tids[XZ_MAX_WORKERS], in_tid;
	bool in_hash_started;
	unsigned started = 0;
	lzma_index *idx = NULL;
	EVP_MD_CTX *in_md = NULL, *raw_md = NULL;
	unsigned char digest[32];
	unsigned int dlen = 0;
	struct stat st;
	int r;

	if (fstat(in_fd, &st) < 0)
		return herd_error_set(err, errno, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	r = read_index(in_fd, (uint64_t)st.st_size, &idx, err);
	if (r < 0)
		return r;
	r = collect_blocks(idx, &job, err);
	lzma_index_end(idx, NULL);
	if (r < 0) {
		free(job.blocks);
		return r;
	}
	if (threads == 0)
		threads = 1;
	if (threads > XZ_MAX_WORKERS)
		threads = XZ_MAX_WORKERS;
	{
		/* Decoded blocks in flight stay within a quarter of RAM
		 * (liblzma's own default for its threaded decoder). */
		uint64_t biggest = 1, budget = lzma_physmem() / 4;
		for (size_t i = 0; i < job.count; i++)
			if (job.blocks[i].out_size > biggest)
				biggest = job.blocks[i].out_size;
		if (budget == 0)
			budget = 1ull << 30;
		if (budget / biggest < 2) {
			free(job.blocks);
			return -ENOTSUP;
		}
		if (threads + 2 > budget / biggest)
			threads = (unsigned)(budget / biggest) - 1;
		job.window = threads + 1 < budget / biggest ? threads + 2 : threads + 1;
	}
	in_md = EVP_MD_CTX_new();
	raw_md = EVP_MD_CTX_new();
	if (!in_md || !raw_md || EVP_DigestInit_ex(in_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(raw_md, EVP_sha256(), NULL) != 1) {
		r = herd_error_set(err, ENOMEM, "sha256: cannot initialise");
		goto out;
	}
	pthread_mutex_init(&job.lock, NULL);
	pthread_cond_init(&job.cond, NULL);
	posix_fadvise(in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (; started < threads; started++)
		if (pthread_create(&tids[started], NULL, worker, &job) != 0)
			break;
	if (started == 0) {
		r = herd_error_set(err, EAGAIN, "unpack: cannot start a thread");
		goto out_sync;
	}
	/* The download's sum on a thread of its own: it is independent of
	 * the raw sum, which is the longest sequential chain here. */
	in_hash.job = &job;
	in_hash.md = in_md;
	in_hash.size = (uint64_t)st.st_size;
	in_hash_started = pthread_create(&in_tid, NULL, hash_input_thread, &in_hash) == 0;
	if (!in_hash_started)
		hash_input_thread(&in_hash);
	r = hash_raw(&job, raw_md, progress, userdata, (uint64_t)st.st_size, err);
	if (r < 0)
		job_fail(&job, r, NULL);
	if (in_hash_started)
		pthread_join(in_tid, NULL);
	if (r >= 0 && in_hash.r < 0) {
		r = in_hash.r;
		if (err)
			*err = in_hash.err;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (r >= 0 && job.error) {
		r = job.error;
		if (err)
			*err = job.err;
	}
	if (r >= 0 && ftruncate(out_fd, (off_t)job.raw_size) < 0)
		r = herd_error_set(err, errno, "truncate: %s", strerror(errno));
	if (r >= 0 && fsync(out_fd) < 0)
		r = herd_error_set(err, errno, "fsync: %s", strerror(errno));
	if (r >= 0) {
		struct store_unpack_result res = {.format = STORE_FORMAT_XZ};
		if (EVP_DigestFinal_ex(in_md, digest, &dlen) != 1 || dlen != 32) {
			r = herd_error_set(err, EIO, "sha256: final failed");
			goto out_sync;
		}
		store_sha256_hex(digest, res.download_sha256);
		if (EVP_DigestFinal_ex(raw_md, digest, &dlen) != 1 || dlen != 32) {
			r = herd_error_set(err, EIO, "sha256: final failed");
			goto out_sync;
		}
		store_sha256_hex(digest, res.raw_sha256);
		res.download_size = (uint64_t)st.st_size;
		res.raw_size = job.raw_size;
		res.raw_written = job.written;
		*ret = res;
	}
out_sync:
	pthread_mutex_destroy(&job.lock);
	pthread_cond_destroy(&job.cond);
out:
	for (size_t i = 0; i < job.count; i++)
		free(job.blocks[i].out);
	for (size_t i = 0; i < job.memo_count; i++)
		free(job.memo[i].bytes);
	free(job.blocks);
	EVP_MD_CTX_free(in_md);
	EVP_MD_CTX_free(raw_md);
	return r;
}
