/*
 * sink.c — where a built image's bytes go: a sparse raw file, a zstd
 * stream or a multi-block xz stream, hashing the raw bytes and the bytes
 * written on the way.
 *
 * Raw: the file is sized to the image first (ftruncate), then only 4 KiB
 * blocks holding a non-zero byte are written, so zero runs stay holes and
 * the file costs only its used blocks on disk.
 *
 * xz: lzma_stream_encoder_mt() with an explicit block size.  The
 * multi-threaded encoder cuts the input into blocks of that size, encodes
 * them independently and records compressed and uncompressed sizes in
 * every block header; that is what lets a threaded decoder (xz -T0, liblzma
 * lzma_stream_decoder_mt) work on several blocks at once.  The output does
 * not depend on the thread count.  CRC64 check, as xz(1) uses.
 *
 * zstd: one frame with the content checksum, streamed; nbWorkers > 0 turns
 * on libzstd's own threads (its output is the same for any worker count
 * >= 1).
 *
 * This file does not read images and does not name files.
 */
#include <errno.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "build/build_internal.h"

#define SINK_OUT_SIZE (1u << 20)
#define SINK_BLOCK    4096u

struct build_sink {
	int fd;
	enum build_compress compress;
	uint64_t raw_size, offset, file_size, raw_written;
	EVP_MD_CTX *raw_md, *file_md;
	lzma_stream xz;
	bool xz_live;
	ZSTD_CCtx *zstd;
	unsigned char *out;
};

void build_hex(const unsigned char digest[32], char ret[BUILD_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		ret[2 * i] = hex[digest[i] >> 4];
		ret[2 * i + 1] = hex[digest[i] & 15];
	}
	ret[64] = '\0';
}

struct build_sink *build_sink_free(struct build_sink *s)
{
	if (!s)
		return NULL;
	EVP_MD_CTX_free(s->raw_md);
	EVP_MD_CTX_free(s->file_md);
	if (s->xz_live)
		lzma_end(&s->xz);
	ZSTD_freeCCtx(s->zstd);
	free(s->out);
	free(s);
	return NULL;
}

static int write_full(struct build_sink *s, const void *data, size_t len, struct herd_error *err)
{
	const unsigned char *p = data;

	if (EVP_DigestUpdate(s->file_md, data, len) != 1)
		return herd_error_set(err, EIO, "SHA-256 failed");
	while (len) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return herd_error_set(err, n < 0 ? errno : EIO, "write: %s",
					      strerror(n < 0 ? errno : EIO));
		p += n;
		len -= (size_t)n;
		s->file_size += (uint64_t)n;
	}
	return 0;
}

int build_sink_new(int fd, enum build_compress compress, uint64_t raw_size, int level,
		   unsigned threads, uint64_t xz_block_size, struct build_sink **ret,
		   struct herd_error *err)
{
	struct build_sink *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return herd_error_set(err, ENOMEM, "out of memory");
	s->fd = fd;
	s->compress = compress;
	s->raw_size = raw_size;
	s->raw_md = EVP_MD_CTX_new();
	s->file_md = EVP_MD_CTX_new();
	s->out = malloc(SINK_OUT_SIZE);
	if (!s->raw_md || !s->file_md || !s->out) {
		build_sink_free(s);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	if (EVP_DigestInit_ex(s->raw_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(s->file_md, EVP_sha256(), NULL) != 1) {
		build_sink_free(s);
		return herd_error_set(err, EIO, "SHA-256 init failed");
	}
	switch (compress) {
	case BUILD_COMPRESS_NONE:
		if (ftruncate(fd, (off_t)raw_size) < 0)
			r = herd_error_set(err, errno, "cannot size the output: %s",
					   strerror(errno));
		break;
	case BUILD_COMPRESS_XZ: {
		lzma_mt mt = {
		    .flags = 0,
		    .threads = threads ? threads : 1,
		    .block_size = xz_block_size ? xz_block_size : BUILD_DEFAULT_XZ_BLOCK_SIZE,
		    .timeout = 0,
		    .preset = (uint32_t)(level > 0 ? level : 6),
		    .check = LZMA_CHECK_CRC64,
		};
		lzma_stream init = LZMA_STREAM_INIT;
		s->xz = init;
		lzma_ret lr = lzma_stream_encoder_mt(&s->xz, &mt);
		if (lr != LZMA_OK)
			r = herd_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EINVAL,
					   "xz encoder: cannot start (liblzma error %d)", (int)lr);
		else
			s->xz_live = true;
		break;
	}
	case BUILD_COMPRESS_ZSTD:
		s->zstd = ZSTD_createCCtx();
		if (!s->zstd) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			break;
		}
		if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_compressionLevel,
							level > 0 ? level : 3)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_checksumFlag, 1)) ||
		    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(s->zstd, raw_size))) {
			r = herd_error_set(err, EINVAL, "zstd encoder: bad parameters");
			break;
		}
		/* Without libzstd's threading support this fails; then one
		 * thread does the work, which is still correct. */
		if (threads > 1)
			(void)ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_nbWorkers, (int)threads);
		break;
	}
	if (r < 0) {
		build_sink_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static bool block_is_zero(const unsigned char *p, size_t n)
{
	/* Word-wise: the common case is a block of data, which fails fast. */
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int raw_write(struct build_sink *s, const unsigned char *p, size_t len,
		     struct herd_error *err)
{
	uint64_t off = s->offset;
	size_t i = 0;

	/* Runs of non-zero 4 KiB blocks become one pwrite each. */
	while (i < len) {
		size_t n = len - i < SINK_BLOCK ? len - i : SINK_BLOCK;
		if (block_is_zero(p + i, n)) {
			i += n;
			continue;
		}
		size_t start = i;
		while (i < len) {
			n = len - i < SINK_BLOCK ? len - i : SINK_BLOCK;
			if (block_is_zero(p + i, n))
				break;
			i += n;
		}
		size_t run = i - start;
		const unsigned char *q = p + start;
		uint64_t at = off + start;
		while (run) {
			ssize_t w = pwrite(s->fd, q, run, (off_t)at);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return herd_error_set(err, w < 0 ? errno : EIO, "write: %s",
						      strerror(w < 0 ? errno : EIO));
			q += w;
			at += (uint64_t)w;
			run -= (size_t)w;
			s->raw_written += (uint64_t)w;
		}
	}
	return 0;
}

static int xz_feed(struct build_sink *s, const void *data, size_t len, lzma_action action,
		   struct herd_error *err)
{
	s->xz.next_in = data;
	s->xz.avail_in = len;
	for (;;) {
		s->xz.next_out = s->out;
		s->xz.avail_out = SINK_OUT_SIZE;
		lzma_ret lr = lzma_code(&s->xz, action);
		size_t produced = SINK_OUT_SIZE - s->xz.avail_out;
		if (produced) {
			int r = write_full(s, s->out, produced, err);
			if (r < 0)
				return r;
		}
		if (lr == LZMA_STREAM_END)
			return 0;
		if (lr != LZMA_OK)
			return herd_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EIO,
					      "xz encoder failed (liblzma error %d)", (int)lr);
		if (action == LZMA_RUN && s->xz.avail_in == 0)
			return 0;
	}
}

static int zstd_feed(struct build_sink *s, const void *data, size_t len, ZSTD_EndDirective mode,
		     struct herd_error *err)
{
	ZSTD_inBuffer in = {data, len, 0};

	for (;;) {
		ZSTD_outBuffer out = {s->out, SINK_OUT_SIZE, 0};
		size_t left = ZSTD_compressStream2(s->zstd, &out, &in, mode);
		if (ZSTD_isError(left))
			return herd_error_set(err, EIO, "zstd encoder: %s",
					      ZSTD_getErrorName(left));
		if (out.pos) {
			int r = write_full(s, s->out, out.pos, err);
			if (r < 0)
				return r;
		}
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

int build_sink_write(struct build_sink *s, const void *data, size_t len, bool zero,
		     struct herd_error *err)
{
	int r = 0;

	if (len > s->raw_size - s->offset)
		return herd_error_set(err, EINVAL, "more data than the image size");
	if (EVP_DigestUpdate(s->raw_md, data, len) != 1)
		return herd_error_set(err, EIO, "SHA-256 failed");
	switch (s->compress) {
	case BUILD_COMPRESS_NONE:
		if (!zero)
			r = raw_write(s, data, len, err);
		break;
	case BUILD_COMPRESS_XZ:
		r = xz_feed(s, data, len, LZMA_RUN, err);
		break;
	case BUILD_COMPRESS_ZSTD:
		r = zstd_feed(s, data, len, ZSTD_e_continue, err);
		break;
	}
	if (r == 0)
		s->offset += len;
	return r;
}

int build_sink_finish(struct build_sink *s, char ret_raw_sha256[BUILD_SHA256_HEX],
		      char ret_file_sha256[BUILD_SHA256_HEX], uint64_t *ret_file_size,
		      uint64_t *ret_raw_written, struct herd_error *err)
{
	unsigned char d[32];
	unsigned int dl = 0;
	int r = 0;

	if (s->offset != s->raw_size)
		return herd_error_set(err, EIO, "short stream: %llu of %llu bytes",
				      (unsigned long long)s->offset,
				      (unsigned long long)s->raw_size);
	if (s->compress == BUILD_COMPRESS_XZ)
		r = xz_feed(s, NULL, 0, LZMA_FINISH, err);
	else if (s->compress == BUILD_COMPRESS_ZSTD)
		r = zstd_feed(s, NULL, 0, ZSTD_e_end, err);
	if (r < 0)
		return r;
	if (fsync(s->fd) < 0)
		return herd_error_set(err, errno, "fsync: %s", strerror(errno));
	if (EVP_DigestFinal_ex(s->raw_md, d, &dl) != 1 || dl != 32)
		return herd_error_set(err, EIO, "SHA-256 failed");
	build_hex(d, ret_raw_sha256);
	if (s->compress == BUILD_COMPRESS_NONE) {
		/* The file is the raw image. */
		memcpy(ret_file_sha256, ret_raw_sha256, BUILD_SHA256_HEX);
		*ret_file_size = s->raw_size;
	} else {
		if (EVP_DigestFinal_ex(s->file_md, d, &dl) != 1 || dl != 32)
			return herd_error_set(err, EIO, "SHA-256 failed");
		build_hex(d, ret_file_sha256);
		*ret_file_size = s->file_size;
	}
	*ret_raw_written = s->compress == BUILD_COMPRESS_NONE ? s->raw_written : s->raw_size;
	return 0;
}
