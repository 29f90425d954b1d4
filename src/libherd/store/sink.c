/*
 * sink.c — the sparse raw writer behind every unpack (see sink.h).
 *
 * Why 4 KiB: it is the page size and the block size of the filesystems
 * the store lives on, so a skipped block really becomes a hole; smaller
 * units would not save space and larger ones would miss holes.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "store/sink.h"

bool store_is_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	/* Check a 16-byte head by hand, then compare the buffer with itself
	 * shifted by 16: memcmp is vectorised and this needs no zero page. */
	if (len <= 16) {
		for (size_t i = 0; i < len; i++)
			if (b[i])
				return false;
		return true;
	}
	for (size_t i = 0; i < 16; i++)
		if (b[i])
			return false;
	return memcmp(b, b + 16, len - 16) == 0;
}

void store_sha256_hex(const unsigned char digest[32], char ret[STORE_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		ret[2 * i] = hex[digest[i] >> 4];
		ret[2 * i + 1] = hex[digest[i] & 15];
	}
	ret[64] = '\0';
}

int store_sink_init(struct store_sink *s, int fd, struct herd_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
		return herd_error_set(err, ENOMEM, "sha256: cannot initialise");
	}
	return 0;
}

void store_sink_free(struct store_sink *s)
{
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
}

static int write_all(int fd, const unsigned char *p, size_t len, uint64_t off,
		     struct herd_error *err)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return herd_error_set(err, errno, "write: %s", strerror(errno));
		if (n == 0)
			return herd_error_set(err, ENOSPC, "write: %s", strerror(ENOSPC));
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int store_sink_write(struct store_sink *s, const void *buf, size_t len, struct herd_error *err)
{
	const unsigned char *p = buf;
	size_t run_start = 0, i = 0;
	bool in_run = false;
	int r;

	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(s->md, buf, len) != 1)
		return herd_error_set(err, EIO, "sha256: update failed");
	while (i < len) {
		/* Pieces end on absolute 4 KiB boundaries so holes line up with
		 * filesystem blocks whatever the caller's chunk sizes are. */
		uint64_t abs = s->offset + i;
		size_t piece = STORE_SINK_BLOCK - (size_t)(abs % STORE_SINK_BLOCK);
		if (piece > len - i)
			piece = len - i;
		bool zero = store_is_zero(p + i, piece);
		if (!zero && !in_run) {
			run_start = i;
			in_run = true;
		} else if (zero && in_run) {
			r = write_all(s->fd, p + run_start, i - run_start, s->offset + run_start,
				      err);
			if (r < 0)
				return r;
			s->written += i - run_start;
			in_run = false;
		}
		i += piece;
	}
	if (in_run) {
		r = write_all(s->fd, p + run_start, len - run_start, s->offset + run_start, err);
		if (r < 0)
			return r;
		s->written += len - run_start;
	}
	s->offset += len;
	return 0;
}

int store_sink_finish(struct store_sink *s, char ret_sha256[STORE_SHA256_HEX],
		      struct herd_error *err)
{
	unsigned char digest[32];
	unsigned int dlen = 0;

	if (ftruncate(s->fd, (off_t)s->offset) < 0)
		return herd_error_set(err, errno, "truncate: %s", strerror(errno));
	if (fsync(s->fd) < 0)
		return herd_error_set(err, errno, "fsync: %s", strerror(errno));
	if (EVP_DigestFinal_ex(s->md, digest, &dlen) != 1 || dlen != 32)
		return herd_error_set(err, EIO, "sha256: final failed");
	store_sha256_hex(digest, ret_sha256);
	return 0;
}
