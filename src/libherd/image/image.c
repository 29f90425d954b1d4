/*
 * image.c — opening images, finding partitions by number or role,
 * mounting them, and detecting the OS (see image.h).
 */
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/macros.h"
#include "base/parse.h"

int image_open_blockdev(struct blockdev *bd, unsigned flags, struct image **ret,
			struct herd_error *err)
{
	struct image *img = calloc(1, sizeof(*img));
	int r;

	if (!img)
		return herd_error_set(err, ENOMEM, "out of memory");
	img->file = blockdev_ref(bd);
	img->flags = flags;
	if (flags & IMAGE_OVERLAY) {
		r = blockdev_new_overlay(bd, NULL, &img->bd, err);
		if (r < 0) {
			image_close(img);
			return r;
		}
	} else {
		img->bd = blockdev_ref(bd);
	}
	r = ptable_read(img->bd, &img->table, err);
	if (r < 0) {
		image_close(img);
		return r;
	}
	*ret = img;
	return 0;
}

int image_open(const char *path, unsigned flags, struct image **ret, struct herd_error *err)
{
	struct blockdev *bd = NULL;
	unsigned bdflags = (flags & IMAGE_WRITABLE) ? BLOCKDEV_READ_WRITE : BLOCKDEV_READ_ONLY;
	int r;

	r = blockdev_open_file(path, bdflags, &bd, err);
	if (r < 0)
		return r;
	r = image_open_blockdev(bd, flags, ret, err);
	blockdev_unref(bd);
	if (r < 0)
		return herd_error_prefix(err, r, "%s", path);
	return 0;
}

struct image *image_close(struct image *img)
{
	if (!img)
		return NULL;
	blockdev_unref(img->bd);
	blockdev_unref(img->file);
	free(img);
	return NULL;
}

int image_commit(struct image *img, struct herd_error *err)
{
	if (!(img->flags & IMAGE_OVERLAY))
		return blockdev_flush(img->bd, err);
	return blockdev_overlay_commit(img->bd, err);
}

int image_open_partition(struct image *img, unsigned number, struct blockdev **ret,
			 struct herd_error *err)
{
	if (number == 0 || (img->table.type == PTABLE_NONE && number == 1)) {
		*ret = blockdev_ref(img->bd);
		return 0;
	}
	return ptable_open_partition(img->bd, &img->table, number, ret, err);
}

/* Mount partition `number` read-only, quietly; NULL when nothing understood. */
static struct vfs *probe_mount(struct image *img, unsigned number)
{
	struct blockdev *part = NULL;
	struct vfs *fs = NULL;

	if (image_open_partition(img, number, &part, NULL) < 0)
		return NULL;
	if (vfs_probe(part))
		vfs_mount(part, false, &fs, NULL);
	blockdev_unref(part);
	return fs;
}

static bool fs_has_file(struct vfs *fs, const char *path)
{
	struct vfs_stat st;
	return vfs_stat(fs, path, &st, NULL) == 0 && st.type == VFS_FILE;
}

/*
 * Score a partition for a role: 3 = labelled for it, 2 = holds the marker
 * file, 1 = right filesystem type, 0 = no.  The best score wins; ties go
 * to the lower partition number.
 */
static int role_score(struct vfs *fs, bool want_boot)
{
	struct vfs_info info;

	if (!fs || vfs_info(fs, &info, NULL) < 0)
		return 0;
	if (want_boot) {
		if (strncmp(info.type, "fat", 3) != 0)
			return 0;
		if (strcasecmp(info.label, "bootfs") == 0 || strcasecmp(info.label, "boot") == 0)
			return 3;
		return fs_has_file(fs, "/config.txt") ? 2 : 1;
	}
	if (strncmp(info.type, "ext", 3) != 0)
		return 0;
	if (strcmp(info.label, "rootfs") == 0)
		return 3;
	return fs_has_file(fs, "/etc/os-release") ? 2 : 1;
}

static int find_role(struct image *img, bool want_boot, unsigned *ret_number)
{
	int best = 0;
	unsigned best_number = 0;

	if (img->table.type == PTABLE_NONE) {
		struct vfs *fs = probe_mount(img, 0);
		best = role_score(fs, want_boot);
		vfs_close(fs, NULL);
		if (best > 0) {
			*ret_number = 1;
			return 0;
		}
		return -ENOENT;
	}
	for (unsigned i = 0; i < img->table.count; i++) {
		const struct ptable_partition *p = &img->table.partitions[i];
		struct vfs *fs;
		int score;

		if (ptable_mbr_is_extended(p->mbr_type))
			continue;
		fs = probe_mount(img, p->number);
		score = role_score(fs, want_boot);
		vfs_close(fs, NULL);
		if (score > best) {
			best = score;
			best_number = p->number;
		}
	}
	if (best == 0)
		return -ENOENT;
	*ret_number = best_number;
	return 0;
}

int image_find_partition(struct image *img, const char *spec, unsigned *ret_number,
			 struct herd_error *err)
{
	uint32_t n;

	if (parse_u32(spec, 0, 1000, &n) == 0) {
		if (n == 0 || (img->table.type == PTABLE_NONE && n == 1) ||
		    ptable_find(&img->table, n)) {
			*ret_number = n;
			return 0;
		}
		return herd_error_set(err, ENOENT, "no partition %u (the image has %u)", n,
				      img->table.count);
	}
	if (strcmp(spec, "boot") == 0 || strcmp(spec, "root") == 0) {
		bool boot = spec[0] == 'b';
		if (find_role(img, boot, ret_number) == 0)
			return 0;
		return herd_error_set(
		    err, ENOENT, "no %s partition (%s)", spec,
		    boot ? "no FAT filesystem labelled bootfs or holding config.txt"
			 : "no ext2/3/4 filesystem");
	}
	return herd_error_set(err, EINVAL, "'%s' is not a partition number, 'boot' or 'root'",
			      spec);
}

int image_mount(struct image *img, const char *spec, bool writable, struct vfs **ret,
		struct herd_error *err)
{
	struct blockdev *part = NULL;
	unsigned number;
	int r;

	r = image_find_partition(img, spec, &number, err);
	if (r < 0)
		return r;
	r = image_open_partition(img, number, &part, err);
	if (r < 0)
		return r;
	r = vfs_mount(part, writable, ret, err);
	blockdev_unref(part);
	if (r < 0)
		return herd_error_prefix(err, r, "partition %u", number);
	return 0;
}

/* Copy the value of KEY= from os-release text, unquoting "..." or '...'. */
static void os_release_value(const char *text, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *line = text;

	out[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			const char *v = line + klen + 1;
			size_t vlen = len - klen - 1;
			if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
				v++;
				vlen -= 2;
			}
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return;
		}
		line = end ? end + 1 : NULL;
	}
}

int image_detect_os(struct image *img, struct image_os *ret, struct herd_error *err)
{
	struct image_os os = {0};
	struct vfs *fs = NULL;
	char *text = NULL;
	int r;

	r = image_mount(img, "root", false, &fs, err);
	if (r < 0)
		return r;
	r = vfs_read_all(fs, "/etc/os-release", 64 * 1024, &text, NULL, NULL);
	if (r < 0)
		r = vfs_read_all(fs, "/usr/lib/os-release", 64 * 1024, &text, NULL, NULL);
	if (r < 0) {
		vfs_close(fs, NULL);
		return herd_error_set(err, ENOENT, "root filesystem has no /etc/os-release");
	}
	os_release_value(text, "ID", os.id, sizeof(os.id));
	os_release_value(text, "VERSION_ID", os.version_id, sizeof(os.version_id));
	os_release_value(text, "VERSION_CODENAME", os.codename, sizeof(os.codename));
	os_release_value(text, "PRETTY_NAME", os.pretty_name, sizeof(os.pretty_name));
	free(text);
	text = NULL;
	if (vfs_read_all(fs, "/etc/rpi-issue", 64 * 1024, &text, NULL, NULL) == 0) {
		size_t n = strcspn(text, "\n");
		if (n >= sizeof(os.rpi_issue))
			n = sizeof(os.rpi_issue) - 1;
		memcpy(os.rpi_issue, text, n);
		os.rpi_issue[n] = '\0';
		os.raspberry_pi_os = true;
		free(text);
	}
	if (strcmp(os.id, "raspbian") == 0)
		os.raspberry_pi_os = true;
	vfs_close(fs, NULL);
	*ret = os;
	return 0;
}

static bool is_part_spec(const char *s, size_t n)
{
	if (n == 4 && (strncmp(s, "boot", 4) == 0 || strncmp(s, "root", 4) == 0))
		return true;
	if (n == 0 || n > 4)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

int image_parse_location(const char *spec, char **ret_image, char **ret_part, char **ret_path,
			 struct herd_error *err)
{
	/* IMAGE and the path may both contain ':' — the separator is the
	 * first ":PART:/" whose PART is a number, boot or root. */
	for (const char *colon = strchr(spec, ':'); colon; colon = strchr(colon + 1, ':')) {
		const char *part = colon + 1, *end = strchr(part, ':');
		char *a, *b, *c;

		if (colon == spec || !end || end[1] != '/' ||
		    !is_part_spec(part, (size_t)(end - part)))
			continue;
		a = strndup(spec, (size_t)(colon - spec));
		b = strndup(part, (size_t)(end - part));
		c = strdup(end + 1);
		if (!a || !b || !c) {
			free(a);
			free(b);
			free(c);
			return herd_error_set(err, ENOMEM, "out of memory");
		}
		*ret_image = a;
		*ret_part = b;
		*ret_path = c;
		return 0;
	}
	return herd_error_set(
	    err, EINVAL, "'%s' is not IMAGE:PART:/path (PART is a number, boot or root)", spec);
}
