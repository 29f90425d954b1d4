/*
 * tftp_root.c — confined file access and the shared file cache for the
 * TFTP server (see tftp_root.h).
 *
 * The cache is a short list: a boot root holds tens of files, and a
 * lookup happens once per RRQ, not per block, so a hash table would buy
 * nothing measurable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/macros.h"
#include "fs/vfs.h"
#include "image/image.h"
#include "net/tftp_path.h"
#include "net/tftp_root.h"

struct tftp_cache_entry {
	struct tftp_cache_entry *next;
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	char key[TFTP_FILENAME_MAX + 64]; /* image roots: the vfs path */
	uint8_t *data;
	unsigned users;
	uint64_t last_used;
};

struct tftp_root {
	unsigned refs;
	int dir_fd; /* directory roots */
	struct image *image;
	struct vfs *vfs;
	char
	    base[TFTP_FILENAME_MAX + 1]; /* image roots: directory inside the fs, no trailing '/' */
	struct tftp_root_limits limits;
	struct tftp_cache_entry *cache;
	uint64_t cached_bytes, clock;
};

static void root_unref(struct tftp_root *root)
{
	if (!root || --root->refs > 0)
		return;
	while (root->cache) {
		struct tftp_cache_entry *e = root->cache;

		root->cache = e->next;
		free(e->data);
		free(e);
	}
	if (root->dir_fd >= 0)
		close(root->dir_fd);
	vfs_close(root->vfs, NULL);
	image_close(root->image);
	free(root);
}

struct tftp_root *tftp_root_free(struct tftp_root *root)
{
	root_unref(root);
	return NULL;
}

bool tftp_root_is_image(const struct tftp_root *root)
{
	return root->vfs != NULL;
}

uint64_t tftp_root_cached_bytes(const struct tftp_root *root)
{
	return root->cached_bytes;
}

static int open_image_root(struct tftp_root *root, const char *spec, struct herd_error *err)
{
	_cleanup_free_ char *image = NULL, *part = NULL, *path = NULL;
	char norm[TFTP_FILENAME_MAX + 1];
	struct vfs_stat st;
	int r;

	r = image_parse_location(spec, &image, &part, &path, err);
	if (r < 0)
		return r;
	r = vfs_normalize_path(path, norm, sizeof(norm), err);
	if (r < 0)
		return r;
	r = image_open(image, IMAGE_READ_ONLY, &root->image, err);
	if (r < 0)
		return r;
	r = image_mount(root->image, part, false, &root->vfs, err);
	if (r < 0)
		return herd_error_prefix(err, -r, "%s", image);
	r = vfs_stat(root->vfs, norm, &st, err);
	if (r < 0)
		return herd_error_prefix(err, -r, "%s", spec);
	if (st.type != VFS_DIR)
		return herd_error_set(err, ENOTDIR, "%s: not a directory", spec);
	/* "/" becomes "", so file paths are base + "/" + name. */
	memcpy(root->base, strcmp(norm, "/") == 0 ? "" : norm,
	       strcmp(norm, "/") == 0 ? 1 : strlen(norm) + 1);
	return 0;
}

int tftp_root_open(const char *spec, const struct tftp_root_limits *limits, struct tftp_root **ret,
		   struct herd_error *err)
{
	struct tftp_root *root;
	struct stat st;
	int r;

	root = calloc(1, sizeof(*root));
	if (!root)
		return herd_error_set(err, ENOMEM, "out of memory");
	root->refs = 1;
	root->dir_fd = -1;
	root->limits.cache_max = 512ull << 20;
	root->limits.cache_file_max = 128ull << 20;
	if (limits && limits->cache_max)
		root->limits.cache_max = limits->cache_max;
	if (limits && limits->cache_file_max)
		root->limits.cache_file_max = limits->cache_file_max;
	root->limits.no_cache = limits && limits->no_cache;

	/* An existing directory wins over IMAGE:PART:/ parsing, so a
	 * directory whose name contains ':' still works. */
	if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
		root->dir_fd = open(spec, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = root->dir_fd < 0 ? herd_error_set(err, errno, "%s: %m", spec) : 0;
	} else if (strstr(spec, ":/")) {
		r = open_image_root(root, spec, err);
	} else {
		r = herd_error_set(err, ENOENT, "%s: no such directory (nor IMAGE:PART:/path)",
				   spec);
	}
	if (r < 0) {
		root_unref(root);
		return r;
	}
	*ret = root;
	return 0;
}

/* openat2 with RESOLVE_BENEATH: the kernel refuses any resolution that
 * leaves dir_fd ("..", absolute symlinks, symlinks pointing outside) with
 * EXDEV.  glibc 2.36 has no wrapper. */
static int open_beneath(int dir_fd, const char *path)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) {
		/* Kernels before 5.6: no symlinks at all, component by component. */
		char copy[TFTP_FILENAME_MAX + 1];
		int cur = dir_fd;
		char *p = copy, *slash;

		if (strlen(path) >= sizeof(copy))
			return -ENAMETOOLONG;
		memcpy(copy, path, strlen(path) + 1);
		for (;;) {
			int next;

			slash = strchr(p, '/');
			if (slash)
				*slash = '\0';
			next = openat(cur, p,
				      (slash ? O_PATH | O_DIRECTORY : O_RDONLY | O_NONBLOCK) |
					  O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
			if (cur != dir_fd)
				close(cur);
			if (next < 0)
				return -errno;
			if (!slash)
				return next;
			cur = next;
			p = slash + 1;
		}
	}
	return fd < 0 ? -errno : (int)fd;
}

static void cache_evict(struct tftp_root *root)
{
	/* Drop unused entries, least recently used first, until under the cap. */
	while (root->cached_bytes > root->limits.cache_max) {
		struct tftp_cache_entry **victim = NULL;

		for (struct tftp_cache_entry **pp = &root->cache; *pp; pp = &(*pp)->next)
			if ((*pp)->users == 0 &&
			    (!victim || (*pp)->last_used < (*victim)->last_used))
				victim = pp;
		if (!victim)
			return;
		struct tftp_cache_entry *e = *victim;
		*victim = e->next;
		root->cached_bytes -= e->size;
		free(e->data);
		free(e);
	}
}

static struct tftp_cache_entry *cache_find(struct tftp_root *root, uint64_t dev, uint64_t ino,
					   uint64_t size, int64_t mtime_ns, const char *key)
{
	for (struct tftp_cache_entry **pp = &root->cache; *pp; pp = &(*pp)->next) {
		struct tftp_cache_entry *e = *pp;

		if (e->dev == dev && e->ino == ino && strcmp(e->key, key) == 0) {
			if (e->size == size && e->mtime_ns == mtime_ns)
				return e;
			if (e->users == 0) {
				/* Stale: the file changed since it was read. */
				*pp = e->next;
				root->cached_bytes -= e->size;
				free(e->data);
				free(e);
			}
			return NULL;
		}
	}
	return NULL;
}

/* Read the whole file into a new cache entry. */
static int cache_load(struct tftp_root *root, struct tftp_file *f, uint64_t dev, uint64_t ino,
		      int64_t mtime_ns, const char *key, struct tftp_cache_entry **ret)
{
	struct tftp_cache_entry *e = calloc(1, sizeof(*e));
	uint64_t done = 0;

	if (!e)
		return -ENOMEM;
	e->data = malloc(f->size ? f->size : 1);
	if (!e->data) {
		free(e);
		return -ENOMEM;
	}
	while (done < f->size) {
		ssize_t n = tftp_file_read(f, done, e->data + done,
					   MIN(f->size - done, (uint64_t)(8u << 20)));
		if (n <= 0) {
			free(e->data);
			free(e);
			return n < 0 ? (int)n : -EIO; /* shrank while reading */
		}
		done += (uint64_t)n;
	}
	e->dev = dev;
	e->ino = ino;
	e->size = f->size;
	e->mtime_ns = mtime_ns;
	memcpy(e->key, key, strlen(key) + 1);
	e->next = root->cache;
	root->cache = e;
	root->cached_bytes += e->size;
	*ret = e;
	return 0;
}

/* netascii (RFC 1350 / RFC 764): CR LF for end of line, CR NUL for a bare CR. */
static int make_netascii(struct tftp_file *f)
{
	uint64_t extra = 0, pos = 0;
	uint8_t *out;

	for (uint64_t i = 0; i < f->size; i++)
		if (f->data[i] == '\n' || f->data[i] == '\r')
			extra++;
	out = malloc(f->size + extra + 1);
	if (!out)
		return -ENOMEM;
	for (uint64_t i = 0; i < f->size; i++) {
		uint8_t ch = f->data[i];

		if (ch == '\n') {
			out[pos++] = '\r';
			out[pos++] = '\n';
		} else if (ch == '\r') {
			out[pos++] = '\r';
			out[pos++] = '\0';
		} else {
			out[pos++] = ch;
		}
	}
	f->owned = out;
	f->data = out;
	f->size = pos;
	return 0;
}

static int refuse(int r, enum tftp_error_code code, const char *why, enum tftp_error_code *ret_code,
		  const char **ret_why)
{
	if (ret_code)
		*ret_code = code;
	if (ret_why)
		*ret_why = why;
	return r;
}

/* Map an open/stat errno to the TFTP answer. */
static int refuse_errno(int r, enum tftp_error_code *ret_code, const char **ret_why)
{
	switch (-r) {
	case ENOENT:
	case ENOTDIR:
		return refuse(r, TFTP_ERR_NOT_FOUND, "no such file", ret_code, ret_why);
	case EXDEV:
	case ELOOP:
		return refuse(-EACCES, TFTP_ERR_ACCESS, "path leaves the root", ret_code, ret_why);
	case EACCES:
	case EPERM:
		return refuse(r, TFTP_ERR_ACCESS, "permission denied", ret_code, ret_why);
	case EISDIR:
		return refuse(r, TFTP_ERR_NOT_FOUND, "not a regular file", ret_code, ret_why);
	default:
		return refuse(r, TFTP_ERR_UNDEFINED, "cannot read the file", ret_code, ret_why);
	}
}

/* Open one candidate path; fills f (size, fd or vfs path) and identity. */
static int open_candidate(struct tftp_root *root, const char *path, struct tftp_file *f,
			  uint64_t *dev, uint64_t *ino, int64_t *mtime_ns)
{
	if (root->vfs) {
		struct vfs_stat st;
		int r;

		if ((size_t)snprintf(f->vfs_path, sizeof(f->vfs_path), "%s/%s", root->base, path) >=
		    sizeof(f->vfs_path))
			return -ENAMETOOLONG;
		r = vfs_stat(root->vfs, f->vfs_path, &st, NULL);
		if (r < 0)
			return r;
		if (st.type != VFS_FILE)
			return -EISDIR;
		f->size = st.size;
		*dev = 0;
		*ino = st.ino;
		*mtime_ns = st.mtime;
		return 0;
	}

	struct stat st;
	int fd = open_beneath(root->dir_fd, path);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	*dev = st.st_dev;
	*ino = st.st_ino;
	*mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

int tftp_root_open_file(struct tftp_root *root, const char *filename, enum tftp_mode mode,
			struct tftp_file **ret, enum tftp_error_code *ret_code,
			const char **ret_why)
{
	char path[TFTP_FILENAME_MAX + 1];
	struct tftp_file *f;
	struct tftp_cache_entry *e;
	uint64_t dev = 0, ino = 0;
	int64_t mtime_ns = 0;
	size_t prefix;
	int r;

	r = tftp_path_normalize(filename, path, sizeof(path), ret_why);
	if (r == -EACCES)
		return refuse(r, TFTP_ERR_ACCESS, ret_why ? *ret_why : "refused", ret_code, NULL);
	if (r < 0)
		return refuse(r, TFTP_ERR_ACCESS, "filename too long", ret_code, ret_why);

	f = calloc(1, sizeof(*f));
	if (!f)
		return refuse(-ENOMEM, TFTP_ERR_UNDEFINED, "out of memory", ret_code, ret_why);
	f->fd = -1;
	f->refs = 1;
	f->root = root;
	root->refs++;

	r = open_candidate(root, path, f, &dev, &ino, &mtime_ns);
	prefix = tftp_path_device_prefix(path);
	if (r == -ENOENT && prefix > 0) {
		/* "<serial>/start4.elf" falls back to the shared "start4.elf",
		 * as the Pi bootloader's TFTP_PREFIX schemes expect. */
		memmove(path, path + prefix, strlen(path + prefix) + 1);
		r = open_candidate(root, path, f, &dev, &ino, &mtime_ns);
		f->fallback = true;
	}
	if (r < 0) {
		tftp_file_unref(f);
		return refuse_errno(r, ret_code, ret_why);
	}
	memcpy(f->path, path, strlen(path) + 1);

	if (!root->limits.no_cache && f->size <= root->limits.cache_file_max) {
		const char *key = root->vfs ? f->vfs_path : "";

		e = cache_find(root, dev, ino, f->size, mtime_ns, key);
		if (!e) {
			r = cache_load(root, f, dev, ino, mtime_ns, key, &e);
			if (r < 0) {
				tftp_file_unref(f);
				return refuse_errno(r, ret_code, ret_why);
			}
		}
		e->users++;
		e->last_used = ++root->clock;
		f->entry = e;
		f->data = e->data;
		if (f->fd >= 0) {
			close(f->fd);
			f->fd = -1;
		}
		cache_evict(root);
	}
	if (mode == TFTP_MODE_NETASCII) {
		if (!f->data) {
			tftp_file_unref(f);
			return refuse(-EFBIG, TFTP_ERR_UNDEFINED,
				      "file too large for netascii; use octet mode", ret_code,
				      ret_why);
		}
		r = make_netascii(f);
		if (r < 0) {
			tftp_file_unref(f);
			return refuse(r, TFTP_ERR_UNDEFINED, "out of memory", ret_code, ret_why);
		}
	}
	*ret = f;
	return 0;
}

void tftp_file_unref(struct tftp_file *f)
{
	if (!f || --f->refs > 0)
		return;
	if (f->entry) {
		f->entry->users--;
		f->entry = NULL;
		cache_evict(f->root);
	}
	if (f->fd >= 0)
		close(f->fd);
	free(f->owned);
	root_unref(f->root);
	free(f);
}

ssize_t tftp_file_read(struct tftp_file *f, uint64_t offset, void *buf, size_t len)
{
	if (f->data) {
		if (offset >= f->size)
			return 0;
		len = (size_t)MIN((uint64_t)len, f->size - offset);
		memcpy(buf, f->data + offset, len);
		return (ssize_t)len;
	}
	if (f->root->vfs) {
		size_t got = 0;
		int r = vfs_read(f->root->vfs, f->vfs_path, offset, buf, len, &got, NULL);

		return r < 0 ? r : (ssize_t)got;
	}
	for (;;) {
		ssize_t n = pread(f->fd, buf, len, (off_t)offset);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}
