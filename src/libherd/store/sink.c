/*
 * sink.c — the sparse raw writer behind every unpack (see sink.h).
 *
 * Why 4 KiB: it is the page size and the block size of the filesystems
 * the store lives on, so a skipped block really becomes a hole; smaller
 * units would not save space and larger ones would miss holes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
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

static void *hash_thread(void *userdata)
{
	struct store_sink *s = userdata;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->has_job && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->has_job)
			break;
		const unsigned char *p = s->job;
		size_t len = s->job_len;
		pthread_mutex_unlock(&s->lock);
		bool ok = EVP_DigestUpdate(s->md, p, len) == 1;
		pthread_mutex_lock(&s->lock);
		if (!ok)
			s->hash_failed = true;
		s->has_job = false;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Wait until the background hash (if any) is done. */
static void hash_wait(struct store_sink *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->lock);
	while (s->has_job)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	s->pending = -1;
}

int store_sink_init(struct store_sink *s, int fd, struct herd_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->pending = -1;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
		return herd_error_set(err, ENOMEM, "sha256: cannot initialise");
	}
	s->bufs[0] = malloc(STORE_SINK_CHUNK);
	s->bufs[1] = malloc(STORE_SINK_CHUNK);
	if (!s->bufs[0] || !s->bufs[1]) {
		store_sink_free(s);
		return herd_error_set(err, ENOMEM, "unpack: out of memory");
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	/* Without a thread everything still works, hashing inline. */
	s->thread_started = pthread_create(&s->thread, NULL, hash_thread, s) == 0;
	return 0;
}

void store_sink_free(struct store_sink *s)
{
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		while (s->has_job)
			pthread_cond_wait(&s->cond, &s->lock);
		s->quit = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	if (s->bufs[0] || s->bufs[1]) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
	}
	free(s->bufs[0]);
	free(s->bufs[1]);
	s->bufs[0] = s->bufs[1] = NULL;
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
}

unsigned char *store_sink_buffer(struct store_sink *s)
{
	int i = s->pending == 0 ? 1 : 0;
	return s->bufs[i];
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

int store_write_sparse(int fd, const void *buf, size_t len, uint64_t offset, uint64_t *written,
		       struct herd_error *err)
{
	const unsigned char *p = buf;
	size_t run_start = 0, i = 0;
	bool in_run = false;
	int r;

	while (i < len) {
		/* Pieces end on absolute 4 KiB boundaries so holes line up with
		 * filesystem blocks whatever the caller's chunk sizes are. */
		uint64_t abs = offset + i;
		size_t piece = STORE_SINK_BLOCK - (size_t)(abs % STORE_SINK_BLOCK);
		if (piece > len - i)
			piece = len - i;
		bool zero = store_is_zero(p + i, piece);
		if (!zero && !in_run) {
			run_start = i;
			in_run = true;
		} else if (zero && in_run) {
			r = write_all(fd, p + run_start, i - run_start, offset + run_start, err);
			if (r < 0)
				return r;
			*written += i - run_start;
			in_run = false;
		}
		i += piece;
	}
	if (in_run) {
		r = write_all(fd, p + run_start, len - run_start, offset + run_start, err);
		if (r < 0)
			return r;
		*written += len - run_start;
	}
	/* Start writeback of what we just wrote (asynchronous, does not
	 * wait), so the fsync that publishes the entry finds little left to
	 * do instead of the whole image's worth of dirty pages.  Best effort:
	 * some filesystems do not support it. */
	sync_file_range(fd, (off_t)offset, (off_t)len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

int store_sink_write(struct store_sink *s, const void *buf, size_t len, struct herd_error *err)
{
	const unsigned char *p = buf;
	int r;

	if (len == 0)
		return 0;
	/* SHA-256 is sequential: the previous buffer's hash must finish first. */
	hash_wait(s);
	if (s->hash_failed)
		return herd_error_set(err, EIO, "sha256: update failed");
	if (s->thread_started && (p == s->bufs[0] || p == s->bufs[1])) {
		pthread_mutex_lock(&s->lock);
		s->job = p;
		s->job_len = len;
		s->has_job = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		s->pending = p == s->bufs[0] ? 0 : 1;
	} else if (EVP_DigestUpdate(s->md, buf, len) != 1) {
		return herd_error_set(err, EIO, "sha256: update failed");
	}
	r = store_write_sparse(s->fd, p, len, s->offset, &s->written, err);
	if (r < 0)
		return r;
	s->offset += len;
	return 0;
}

int store_sink_finish(struct store_sink *s, char ret_sha256[STORE_SHA256_HEX],
		      struct herd_error *err)
{
	unsigned char digest[32];
	unsigned int dlen = 0;

	hash_wait(s);
	if (s->hash_failed)
		return herd_error_set(err, EIO, "sha256: update failed");
	if (ftruncate(s->fd, (off_t)s->offset) < 0)
		return herd_error_set(err, errno, "truncate: %s", strerror(errno));
	if (fsync(s->fd) < 0)
		return herd_error_set(err, errno, "fsync: %s", strerror(errno));
	if (EVP_DigestFinal_ex(s->md, digest, &dlen) != 1 || dlen != 32)
		return herd_error_set(err, EIO, "sha256: final failed");
	store_sha256_hex(digest, ret_sha256);
	return 0;
}
