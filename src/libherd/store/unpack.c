/*
 * unpack.c — decompressors behind store_unpack_fd (see unpack.h).
 *
 * Every format reads through one `struct unpack_input`, which hashes the
 * compressed bytes as they pass, and writes through a store_sink, which
 * hashes the raw bytes and leaves holes.  After the decoder has finished,
 * whatever input it did not need (a zip's central directory, padding) is
 * still read so the download checksum covers the whole file.
 */
#include <errno.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "base/macros.h"
#include "store/archive_loader.h"
#include "store/unpack.h"
#include "store/unpack_xz.h"

#define UNPACK_IN_CHUNK (1u << 20)

struct unpack_input {
	int fd;
	uint64_t done, total;
	bool eof;
	EVP_MD_CTX *md;
	unsigned char *buf;
	store_progress_fn progress;
	void *userdata;
};

/* Read up to `cap` bytes into dst; returns the count, 0 at end of file,
 * or -errno. */
static ssize_t input_read_into(struct unpack_input *in, unsigned char *dst, size_t cap,
			       struct herd_error *err)
{
	ssize_t n;

	do
		n = read(in->fd, dst, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return herd_error_set(err, errno, "read: %s", strerror(errno));
	if (n == 0) {
		in->eof = true;
		return 0;
	}
	if (in->md && EVP_DigestUpdate(in->md, dst, (size_t)n) != 1)
		return herd_error_set(err, EIO, "sha256: update failed");
	in->done += (uint64_t)n;
	if (in->progress)
		in->progress(in->userdata, "unpack", in->done, in->total);
	return n;
}

static ssize_t input_read(struct unpack_input *in, struct herd_error *err)
{
	return input_read_into(in, in->buf, UNPACK_IN_CHUNK, err);
}

static int input_drain(struct unpack_input *in, struct herd_error *err)
{
	while (!in->eof) {
		ssize_t n = input_read(in, err);
		if (n < 0)
			return (int)n;
	}
	return 0;
}

enum store_format store_detect_format(const void *head, size_t len)
{
	const unsigned char *h = head;

	if (len >= 6 && memcmp(h,
			       "\xfd"
			       "7zXZ\0",
			       6) == 0)
		return STORE_FORMAT_XZ;
	if (len >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
		return STORE_FORMAT_ZSTD;
	if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return STORE_FORMAT_GZIP;
	if (len >= 4 && memcmp(h, "BZh", 3) == 0 && h[3] >= '1' && h[3] <= '9')
		return STORE_FORMAT_BZIP2;
	if (len >= 4 && memcmp(h, "PK\3\4", 4) == 0)
		return STORE_FORMAT_ZIP;
	return STORE_FORMAT_RAW;
}

const char *store_format_name(enum store_format f)
{
	switch (f) {
	case STORE_FORMAT_XZ:
		return "xz";
	case STORE_FORMAT_ZSTD:
		return "zstd";
	case STORE_FORMAT_GZIP:
		return "gzip";
	case STORE_FORMAT_BZIP2:
		return "bzip2";
	case STORE_FORMAT_ZIP:
		return "zip";
	case STORE_FORMAT_RAW:
		break;
	}
	return "raw";
}

/* A plain image: the download is the raw image, so it is hashed once
 * (by the sink) and read straight into the sink's buffers. */
static int unpack_raw(struct unpack_input *in, struct store_sink *sink, struct herd_error *err)
{
	for (;;) {
		unsigned char *buf = store_sink_buffer(sink);
		ssize_t n = input_read_into(in, buf, STORE_SINK_CHUNK, err);
		if (n <= 0)
			return (int)n;
		int r = store_sink_write(sink, buf, (size_t)n, err);
		if (r < 0)
			return r;
	}
}

static int unpack_xz(struct unpack_input *in, struct store_sink *sink, unsigned threads,
		     struct herd_error *err)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_mt mt = {
	    .flags = LZMA_CONCATENATED,
	    .threads = threads,
	    .timeout = 0,
	    /* Use threads while a quarter of RAM suffices; beyond that fall
	     * back to one thread instead of failing (memlimit_stop). */
	    .memlimit_threading = lzma_physmem() / 4,
	    .memlimit_stop = UINT64_MAX,
	};
	unsigned char *out = store_sink_buffer(sink);
	lzma_ret lr;
	int r = 0;

	if (mt.memlimit_threading == 0)
		mt.memlimit_threading = 1ull << 30;
	lr = lzma_stream_decoder_mt(&strm, &mt);
	if (lr != LZMA_OK)
		return herd_error_set(err, ENOMEM, "xz: cannot start the decoder (%d)", (int)lr);
	strm.next_out = out;
	strm.avail_out = STORE_SINK_CHUNK;
	for (;;) {
		lzma_action action = LZMA_RUN;
		if (strm.avail_in == 0 && !in->eof) {
			ssize_t n = input_read(in, err);
			if (n < 0) {
				r = (int)n;
				break;
			}
			strm.next_in = in->buf;
			strm.avail_in = (size_t)n;
		}
		if (in->eof)
			action = LZMA_FINISH;
		lr = lzma_code(&strm, action);
		if (strm.avail_out == 0 || lr == LZMA_STREAM_END) {
			r = store_sink_write(sink, out, STORE_SINK_CHUNK - strm.avail_out, err);
			if (r < 0)
				break;
			out = store_sink_buffer(sink);
			strm.next_out = out;
			strm.avail_out = STORE_SINK_CHUNK;
		}
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK) {
			const char *why = lr == LZMA_FORMAT_ERROR ? "not an xz file"
					  : lr == LZMA_DATA_ERROR ? "compressed data is corrupt"
					  : lr == LZMA_BUF_ERROR  ? "file is truncated"
					  : lr == LZMA_MEM_ERROR  ? "out of memory"
								  : "decoder error";
			r = herd_error_set(err, lr == LZMA_MEM_ERROR ? ENOMEM : EBADMSG, "xz: %s",
					   why);
			break;
		}
	}
	lzma_end(&strm);
	return r;
}

static int unpack_zstd(struct unpack_input *in, struct store_sink *sink, struct herd_error *err)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	unsigned char *out = store_sink_buffer(sink);
	ZSTD_outBuffer ob = {out, STORE_SINK_CHUNK, 0};
	size_t last = 0;
	int r = 0;

	if (!ds)
		return herd_error_set(err, ENOMEM, "zstd: out of memory");
	ZSTD_initDStream(ds);
	for (;;) {
		ssize_t n = input_read(in, err);
		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		ZSTD_inBuffer ib = {in->buf, (size_t)n, 0};
		for (;;) {
			last = ZSTD_decompressStream(ds, &ob, &ib);
			if (ZSTD_isError(last)) {
				r = herd_error_set(err, EBADMSG, "zstd: %s",
						   ZSTD_getErrorName(last));
				goto out;
			}
			/* Hand over only full buffers: each hand-over is a
			 * round trip with the hashing thread. */
			if (ob.pos == ob.size) {
				r = store_sink_write(sink, out, ob.pos, err);
				if (r < 0)
					goto out;
				out = store_sink_buffer(sink);
				ob = (ZSTD_outBuffer){out, STORE_SINK_CHUNK, 0};
				/* 0: the frame is complete and flushed.  Calling
				 * again without input would only ask for the next
				 * frame's header. */
				if (last == 0 && ib.pos == ib.size)
					break;
				continue; /* the decoder may hold more */
			}
			/* Output not full: the decoder flushed all it could
			 * from this input (zstd.h, ZSTD_decompressStream). */
			if (ib.pos == ib.size)
				break;
		}
	}
	if (last != 0) {
		r = herd_error_set(err, EBADMSG, "zstd: file is truncated");
		goto out;
	}
	if (ob.pos > 0)
		r = store_sink_write(sink, out, ob.pos, err);
out:
	ZSTD_freeDStream(ds);
	return r;
}

struct archive_ctx {
	struct unpack_input *in;
	struct herd_error *err;
	int failed;
};

static la_ssize_t archive_read_cb(struct archive *a, void *userdata, const void **buf)
{
	struct archive_ctx *ctx = userdata;
	ssize_t n = input_read(ctx->in, ctx->err);

	if (n < 0) {
		ctx->failed = (int)n;
		herd_archive()->set_error(a, -(int)n, "read failed");
		return -1;
	}
	*buf = ctx->in->buf;
	return n;
}

static bool name_is_image(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 4 && strcasecmp(name + n - 4, ".img") == 0;
}

static int unpack_archive(struct unpack_input *in, struct store_sink *sink, enum store_format f,
			  struct herd_error *err)
{
	struct archive *a;
	struct archive_ctx ctx = {.in = in, .err = err};
	struct archive_entry *entry;
	const char *fmt = store_format_name(f);
	bool found = false;
	int r = herd_archive_load(err);

	if (r < 0)
		return herd_error_prefix(err, -r, "%s", fmt);
	a = herd_archive()->read_new();
	if (!a) {
		herd_archive()->read_free(a);
		return herd_error_set(err, ENOMEM, "%s: out of memory", fmt);
	}
	if (f == STORE_FORMAT_ZIP) {
		herd_archive()->read_support_format_zip(a);
	} else {
		herd_archive()->read_support_filter_gzip(a);
		herd_archive()->read_support_filter_bzip2(a);
		herd_archive()->read_support_format_raw(a);
	}
	if (herd_archive()->read_open(a, &ctx, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
		r = ctx.failed ? ctx.failed
			       : herd_error_set(err, EBADMSG, "%s: %s", fmt,
						herd_archive()->error_string(a));
		goto out;
	}
	for (;;) {
		int ar = herd_archive()->read_next_header(a, &entry);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r = ctx.failed ? ctx.failed
				       : herd_error_set(err, EBADMSG, "%s: %s", fmt,
							herd_archive()->error_string(a));
			goto out;
		}
		if (f == STORE_FORMAT_ZIP &&
		    (herd_archive()->entry_filetype(entry) != AE_IFREG ||
		     !name_is_image(herd_archive()->entry_pathname(entry)))) {
			herd_archive()->read_data_skip(a);
			continue;
		}
		found = true;
		for (;;) {
			/* Fill the buffer before handing it over (libarchive
			 * returns a few dozen KiB per call). */
			unsigned char *out = store_sink_buffer(sink);
			size_t have = 0;
			la_ssize_t n = 1;
			while (have < STORE_SINK_CHUNK && n > 0) {
				n = herd_archive()->read_data(a, out + have,
							      STORE_SINK_CHUNK - have);
				if (n > 0)
					have += (size_t)n;
			}
			if (n < 0) {
				r = ctx.failed ? ctx.failed
					       : herd_error_set(err, EBADMSG, "%s: %s", fmt,
								herd_archive()->error_string(a));
				goto out;
			}
			if (have > 0) {
				r = store_sink_write(sink, out, have, err);
				if (r < 0)
					goto out;
			}
			if (n == 0)
				break;
		}
		break;
	}
	if (!found)
		r = herd_error_set(err, ENOENT, "zip: no .img file inside");
out:
	herd_archive()->read_free(a);
	return r;
}

int store_unpack_fd(int in_fd, int out_fd, unsigned threads, store_progress_fn progress,
		    void *userdata, struct store_unpack_result *ret, struct herd_error *err)
{
	struct unpack_input in = {.fd = in_fd, .progress = progress, .userdata = userdata};
	struct store_unpack_result res = {0};
	struct store_sink sink;
	unsigned char head[8], digest[32];
	unsigned int dlen = 0;
	struct stat st;
	ssize_t hn;
	int r;

	if (fstat(in_fd, &st) < 0)
		return herd_error_set(err, errno, "stat: %s", strerror(errno));
	in.total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	hn = pread(in_fd, head, sizeof(head), 0);
	if (hn < 0)
		return herd_error_set(err, errno, "read: %s", strerror(errno));
	if (lseek(in_fd, 0, SEEK_SET) < 0)
		return herd_error_set(err, errno, "seek: %s", strerror(errno));
	res.format = store_detect_format(head, (size_t)hn);
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	if (res.format == STORE_FORMAT_XZ) {
		r = store_unpack_xz_blocks(in_fd, out_fd, threads, progress, userdata, ret, err);
		if (r != -ENOTSUP)
			return r < 0 ? r : 0;
		herd_error_clear(err);
	}
	in.buf = malloc(UNPACK_IN_CHUNK);
	in.md = res.format == STORE_FORMAT_RAW ? NULL : EVP_MD_CTX_new();
	if (!in.buf || (res.format != STORE_FORMAT_RAW &&
			(!in.md || EVP_DigestInit_ex(in.md, EVP_sha256(), NULL) != 1))) {
		free(in.buf);
		EVP_MD_CTX_free(in.md);
		return herd_error_set(err, ENOMEM, "unpack: out of memory");
	}
	r = store_sink_init(&sink, out_fd, err);
	if (r < 0)
		goto out_in;
	switch (res.format) {
	case STORE_FORMAT_RAW:
		r = unpack_raw(&in, &sink, err);
		break;
	case STORE_FORMAT_XZ:
		r = unpack_xz(&in, &sink, threads, err);
		break;
	case STORE_FORMAT_ZSTD:
		r = unpack_zstd(&in, &sink, err);
		break;
	case STORE_FORMAT_GZIP:
	case STORE_FORMAT_BZIP2:
	case STORE_FORMAT_ZIP:
		r = unpack_archive(&in, &sink, res.format, err);
		break;
	}
	if (r >= 0)
		r = input_drain(&in, err);
	if (r >= 0)
		r = store_sink_finish(&sink, res.raw_sha256, err);
	if (r >= 0 && in.md && (EVP_DigestFinal_ex(in.md, digest, &dlen) != 1 || dlen != 32))
		r = herd_error_set(err, EIO, "sha256: final failed");
	if (r >= 0) {
		if (in.md)
			store_sha256_hex(digest, res.download_sha256);
		else
			memcpy(res.download_sha256, res.raw_sha256, STORE_SHA256_HEX);
		res.download_size = in.done;
		res.raw_size = sink.offset;
		res.raw_written = sink.written;
		*ret = res;
	}
	store_sink_free(&sink);
out_in:
	free(in.buf);
	EVP_MD_CTX_free(in.md);
	return r < 0 ? r : 0;
}
