/*
 * build.c — the `herd build` engine: per host, base + overlay + recipe →
 * one output file, hosts in parallel (see build.h for the contract).
 *
 * Work items are pulled by `jobs` worker threads from one atomic counter:
 * first the SHA-256 of every base image whose sum is not known yet (each
 * read once, whatever the number of hosts on it), then the hosts.  Every
 * worker opens its own file handle on the base; the only shared data is
 * each base's used map, computed (and normalised, so queries never write
 * to it) before the workers start.
 *
 * A host's output stream walks [0, size) in chunks: inside the written
 * ranges the bytes come from the host's overlay, outside them a zero
 * buffer is fed without reading anything.  Chunks are 4 MiB: large enough
 * that syscalls and hash calls are noise, small enough to keep memory per
 * worker at two buffers.
 *
 * Does not print; the progress callback runs on the worker threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/macros.h"
#include "blk/blockdev.h"
#include "build/build_internal.h"
#include "config/validate.h"
#include "image/image.h"
#include "recipe/recipe.h"

#define CHUNK (4u << 20)

struct base {
	const char *path;
	struct rangeset map;
	uint64_t size;
	char sha256[BUILD_SHA256_HEX];
	bool need_hash;
	int error; /* -errno when the base could not be read; msg in err */
	struct herd_error err;
};

struct build_ctx {
	struct build_host *hosts;
	size_t n;
	const struct build_options *opts;
	struct base *bases;
	size_t nbases;
	size_t *host_base; /* hosts[i] uses bases[host_base[i]] */
	size_t *hash_tasks;
	size_t nhash;
	atomic_size_t next;
};

const char *build_compress_name(enum build_compress c)
{
	switch (c) {
	case BUILD_COMPRESS_ZSTD:
		return "zstd";
	case BUILD_COMPRESS_XZ:
		return "xz";
	case BUILD_COMPRESS_NONE:
		break;
	}
	return "none";
}

const char *build_compress_suffix(enum build_compress c)
{
	switch (c) {
	case BUILD_COMPRESS_ZSTD:
		return ".img.zst";
	case BUILD_COMPRESS_XZ:
		return ".img.xz";
	case BUILD_COMPRESS_NONE:
		break;
	}
	return ".img";
}

int build_compress_parse(const char *name, enum build_compress *ret)
{
	if (strcmp(name, "none") == 0)
		*ret = BUILD_COMPRESS_NONE;
	else if (strcmp(name, "zstd") == 0 || strcmp(name, "zst") == 0)
		*ret = BUILD_COMPRESS_ZSTD;
	else if (strcmp(name, "xz") == 0)
		*ret = BUILD_COMPRESS_XZ;
	else
		return -EINVAL;
	return 0;
}

void build_hosts_clear(struct build_host *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strv_free(&hosts[i].warnings);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- base images ------------------------------------------------------ */

static int base_prepare(struct base *b)
{
	struct image *img = NULL;
	int r;

	r = image_open(b->path, IMAGE_READ_ONLY, &img, &b->err);
	if (r >= 0) {
		b->size = blockdev_size(img->bd);
		r = image_used_map(img, &b->map, &b->err);
		if (r < 0)
			herd_error_prefix(&b->err, -r, "%s: used map", b->path);
	}
	image_close(img);
	if (r < 0)
		return b->error = r;
	/* Normalise now: afterwards the map is only read, from any thread. */
	rangeset_align(&b->map, 4096);
	rangeset_clip(&b->map, b->size);
	return 0;
}

static int base_hash(struct base *b, unsigned char *buf)
{
	struct blockdev *bd = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned int dl = 0;
	int r;

	if (!md)
		return herd_error_set(&b->err, ENOMEM, "out of memory");
	r = blockdev_open_file(b->path, BLOCKDEV_READ_ONLY, &bd, &b->err);
	if (r >= 0 && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		r = herd_error_set(&b->err, EIO, "SHA-256 failed");
	for (uint64_t off = 0; r >= 0 && off < b->size; off += CHUNK) {
		size_t n = b->size - off < CHUNK ? (size_t)(b->size - off) : CHUNK;
		r = blockdev_pread(bd, buf, n, off, &b->err);
		if (r >= 0 && EVP_DigestUpdate(md, buf, n) != 1)
			r = herd_error_set(&b->err, EIO, "SHA-256 failed");
	}
	if (r >= 0 && (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl != 32))
		r = herd_error_set(&b->err, EIO, "SHA-256 failed");
	if (r >= 0)
		build_hex(d, b->sha256);
	else
		herd_error_prefix(&b->err, -r, "%s: hashing", b->path);
	EVP_MD_CTX_free(md);
	blockdev_unref(bd);
	return r < 0 ? (b->error = r) : 0;
}

/* ---- one host --------------------------------------------------------- */

struct extent_acc {
	struct rangeset *set;
};

static int add_extent(void *userdata, uint64_t offset, uint64_t length)
{
	struct extent_acc *a = userdata;

	return rangeset_add(a->set, offset, length);
}

struct stream {
	struct build_sink *sink;
	struct blockdev *bd;
	unsigned char *buf, *zero;
	uint64_t pos, size, fail_at;
	size_t host;
	const struct build_options *opts;
};

static int stream_to(struct stream *st, uint64_t end, bool data, struct herd_error *err)
{
	while (st->pos < end) {
		size_t n = end - st->pos < CHUNK ? (size_t)(end - st->pos) : CHUNK;
		int r;
		if (st->fail_at && st->pos + n > st->fail_at)
			return herd_error_set(err, EIO, "injected failure at byte %llu",
					      (unsigned long long)st->fail_at);
		if (data) {
			r = blockdev_pread(st->bd, st->buf, n, st->pos, err);
			if (r >= 0)
				r = build_sink_write(st->sink, st->buf, n, false, err);
		} else {
			r = build_sink_write(st->sink, st->zero, n, true, err);
		}
		if (r < 0)
			return r;
		st->pos += n;
		if (st->opts->progress)
			st->opts->progress(st->opts->userdata, st->host, st->pos, st->size);
	}
	return 0;
}

static int write_output(struct build_host *h, size_t index, const struct build_options *opts,
			struct image *img, struct rangeset *ranges, unsigned char *buf,
			unsigned char *zero, struct herd_error *err)
{
	char tmp[4096], final[4096];
	struct build_sink *sink = NULL;
	uint64_t size = blockdev_size(img->bd);
	int fd, r;

	snprintf(h->file, sizeof(h->file), "%s%s", h->name, build_compress_suffix(opts->compress));
	if ((size_t)snprintf(final, sizeof(final), "%s/%s", opts->out_dir, h->file) >=
		sizeof(final) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-XXXXXX", opts->out_dir, h->file) >=
		sizeof(tmp))
		return herd_error_set(err, ENAMETOOLONG, "%s: output path too long", h->file);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", tmp, strerror(errno));
	/* mkostemp creates 0600; an image is not a secret beyond what the
	 * directory's own mode says. */
	(void)fchmod(fd, 0644);
	r = build_sink_new(fd, opts->compress, size, opts->level, opts->threads,
			   opts->xz_block_size, &sink, err);
	if (r >= 0) {
		struct stream st = {
		    .sink = sink,
		    .bd = img->bd,
		    .buf = buf,
		    .zero = zero,
		    .size = size,
		    .host = index,
		    .opts = opts,
		    .fail_at = opts->fail_host == index + 1 ? size / 2 : 0,
		};
		for (size_t i = 0; r >= 0 && i < ranges->count; i++) {
			const struct range *rg = &ranges->ranges[i];
			r = stream_to(&st, rg->offset, false, err);
			if (r >= 0)
				r = stream_to(&st, rg->offset + rg->length, true, err);
		}
		if (r >= 0)
			r = stream_to(&st, size, false, err);
		if (r >= 0)
			r = build_sink_finish(sink, h->raw_sha256, h->file_sha256, &h->size,
					      &h->raw_written, err);
	}
	build_sink_free(sink);
	close(fd);
	if (r >= 0 && rename(tmp, final) < 0)
		r = herd_error_set(err, errno, "%s: %s", final, strerror(errno));
	if (r < 0) {
		unlink(tmp);
		return herd_error_prefix(err, -r, "%s", h->file);
	}
	h->raw_size = size;
	return 0;
}

static int build_one(struct build_ctx *c, size_t index, unsigned char *buf, unsigned char *zero)
{
	struct build_host *h = &c->hosts[index];
	struct base *b = &c->bases[c->host_base[index]];
	struct herd_error *err = &h->error;
	struct blockdev *bd = NULL;
	struct image *img = NULL;
	struct recipe *rec = NULL;
	struct rangeset ranges = RANGESET_INIT;
	struct extent_acc acc = {&ranges};
	uint64_t start = now_ns();
	int r;

	if (b->error < 0) {
		memcpy(err, &b->err, sizeof(*err));
		return b->error;
	}
	r = build_settings_digest(h->settings, h->settings_sha256, err);
	if (r >= 0)
		r = blockdev_open_file(b->path, BLOCKDEV_READ_ONLY, &bd, err);
	if (r >= 0)
		r = image_open_blockdev(bd, IMAGE_WRITABLE | IMAGE_OVERLAY, &img, err);
	if (r >= 0)
		r = recipe_apply_image(img, h->name, h->settings, false, NULL, &rec, err);
	if (r >= 0) {
		for (size_t i = 0; i < rec->count; i++)
			h->changed_ops += rec->ops[i].changed;
		for (size_t i = 0; r >= 0 && i < rec->warnings.count; i++)
			if (strv_push(&h->warnings, rec->warnings.items[i]) < 0)
				r = herd_error_set(err, ENOMEM, "out of memory");
	}
	/* What to write: the base's map and whatever this host changed. */
	if (r >= 0 && rangeset_add_set(&ranges, &b->map, 0) < 0)
		r = herd_error_set(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = blockdev_overlay_extents(img->bd, add_extent, &acc, err);
	if (r >= 0) {
		rangeset_align(&ranges, 4096);
		rangeset_clip(&ranges, blockdev_size(img->bd));
		r = write_output(h, index, c->opts, img, &ranges, buf, zero, err);
	}
	recipe_free(rec);
	image_close(img);
	blockdev_unref(bd);
	rangeset_free(&ranges);
	h->ok = r >= 0;
	h->ns = now_ns() - start;
	return r;
}

static void *worker(void *userdata)
{
	struct build_ctx *c = userdata;
	unsigned char *buf = malloc(CHUNK), *zero = calloc(1, CHUNK);

	for (;;) {
		size_t t = atomic_fetch_add(&c->next, 1);
		if (t >= c->nhash + c->n)
			break;
		if (!buf || !zero) {
			if (t >= c->nhash) {
				herd_error_set(&c->hosts[t - c->nhash].error, ENOMEM,
					       "out of memory");
				c->hosts[t - c->nhash].ok = false;
			}
			continue;
		}
		if (t < c->nhash)
			base_hash(&c->bases[c->hash_tasks[t]], buf);
		else
			build_one(c, t - c->nhash, buf, zero);
	}
	free(buf);
	free(zero);
	return NULL;
}

int build_run(struct build_host *hosts, size_t n, const struct build_options *opts,
	      struct herd_error *err)
{
	struct build_ctx c = {.hosts = hosts, .n = n, .opts = opts};
	unsigned jobs = opts->jobs ? opts->jobs : 1;
	pthread_t *threads = NULL;
	unsigned started = 0;
	struct stat st;
	int r = 0;

	if (!opts->out_dir)
		return herd_error_set(err, EINVAL, "no output directory");
	if (stat(opts->out_dir, &st) < 0)
		return herd_error_set(err, errno, "%s: %s", opts->out_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return herd_error_set(err, ENOTDIR, "%s: not a directory", opts->out_dir);
	for (size_t i = 0; i < n; i++) {
		if (!hosts[i].name || !validate_hostname(hosts[i].name))
			return herd_error_set(err, EINVAL, "'%s' is not a valid host name",
					      hosts[i].name ? hosts[i].name : "");
		if (!hosts[i].image_path || !hosts[i].settings)
			return herd_error_set(err, EINVAL, "%s: no image", hosts[i].name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(hosts[k].name, hosts[i].name) == 0)
				return herd_error_set(err, EINVAL, "%s: host given twice",
						      hosts[i].name);
	}
	if (jobs > n)
		jobs = n ? (unsigned)n : 1;

	c.bases = calloc(n ? n : 1, sizeof(*c.bases));
	c.host_base = calloc(n ? n : 1, sizeof(*c.host_base));
	c.hash_tasks = calloc(n ? n : 1, sizeof(*c.hash_tasks));
	threads = calloc(jobs, sizeof(*threads));
	if (!c.bases || !c.host_base || !c.hash_tasks || !threads) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct build_host *h = &hosts[i];
		size_t k = 0;
		h->ok = false;
		herd_error_clear(&h->error);
		while (k < c.nbases && strcmp(c.bases[k].path, h->image_path) != 0)
			k++;
		if (k == c.nbases) {
			c.bases[k].path = h->image_path;
			c.bases[k].map = (struct rangeset)RANGESET_INIT;
			c.bases[k].need_hash = true;
			c.nbases++;
			base_prepare(&c.bases[k]);
		}
		if (h->source_sha256 && strlen(h->source_sha256) == 64 && c.bases[k].need_hash) {
			memcpy(c.bases[k].sha256, h->source_sha256, BUILD_SHA256_HEX);
			c.bases[k].need_hash = false;
		}
		c.host_base[i] = k;
	}
	for (size_t k = 0; k < c.nbases; k++)
		if (c.bases[k].need_hash && c.bases[k].error == 0)
			c.hash_tasks[c.nhash++] = k;
	atomic_init(&c.next, 0);
	for (; started < jobs; started++)
		if (pthread_create(&threads[started], NULL, worker, &c) != 0)
			break;
	if (started == 0)
		worker(&c);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	/* A base whose hash failed after its hosts were built fails them. */
	for (size_t i = 0; i < n; i++) {
		struct base *b = &c.bases[c.host_base[i]];
		if (hosts[i].ok && b->error < 0) {
			hosts[i].ok = false;
			memcpy(&hosts[i].error, &b->err, sizeof(b->err));
		}
		/* Copied only now: the base's hash task may have finished last. */
		if (hosts[i].ok)
			memcpy(hosts[i].image_sha256, b->sha256, BUILD_SHA256_HEX);
		if (!hosts[i].ok)
			r = -EIO;
	}
out:
	for (size_t k = 0; c.bases && k < c.nbases; k++)
		rangeset_free(&c.bases[k].map);
	free(c.bases);
	free(c.host_base);
	free(c.hash_tasks);
	free(threads);
	if (r == -EIO)
		herd_error_set(err, EIO, "some hosts failed");
	return r;
}
