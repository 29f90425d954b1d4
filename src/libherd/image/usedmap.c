/*
 * usedmap.c — the used-block map of an image: every byte range that holds
 * anything a reader could need.  burn writes only these ranges, build
 * copies only these, verify reads back only these.
 *
 * The map must be safe above all: zeroing every byte outside it must not
 * change a single file or fsck result.  So it is built from what is known
 * to be free, not from what is known to be used:
 *   - partition-table structures (MBR, EBRs, GPT headers and arrays);
 *   - everything before the first partition and between partitions —
 *     bootloaders and vendor data live there on some boards;
 *   - for each partition whose filesystem herd understands, the
 *     filesystem's own used ranges (metadata + allocated data);
 *   - every other partition whole.
 * Space after the last partition is not included (no filesystem claims it;
 * the GPT backup header there is covered as table metadata).
 */
#include <errno.h>

#include "image/image.h"

struct shift_ctx {
	struct rangeset *set;
	uint64_t shift;
};

static int add_shifted(void *userdata, uint64_t offset, uint64_t length)
{
	struct shift_ctx *c = userdata;
	return rangeset_add(c->set, c->shift + offset, length);
}

/* Add the used ranges of the filesystem on `part` at `start`, or all of it. */
static int add_partition(struct image *img, unsigned number, uint64_t start, uint64_t size,
			 struct rangeset *set, struct herd_error *err)
{
	struct blockdev *part = NULL;
	struct vfs *fs = NULL;
	struct shift_ctx ctx = {set, start};
	int r;

	r = image_open_partition(img, number, &part, err);
	if (r < 0)
		return r;
	if (!vfs_probe(part) || vfs_mount(part, false, &fs, NULL) < 0) {
		/* Not understood (or not mountable): keep every byte. */
		blockdev_unref(part);
		return rangeset_add(set, start, size);
	}
	r = vfs_used_ranges(fs, add_shifted, &ctx, err);
	vfs_close(fs, NULL);
	blockdev_unref(part);
	if (r < 0)
		return herd_error_prefix(err, r, "partition %u", number);
	return 0;
}

int image_used_map(struct image *img, struct rangeset *ret, struct herd_error *err)
{
	struct rangeset set = RANGESET_INIT, parts = RANGESET_INIT;
	const struct ptable *t = &img->table;
	uint64_t size = blockdev_size(img->bd), end = 0;
	int r = 0;

	if (t->type == PTABLE_NONE) {
		r = add_partition(img, 0, 0, size, &set, err);
		goto done;
	}
	for (unsigned i = 0; i < t->meta_count && r == 0; i++)
		r = rangeset_add(&set, t->meta[i].offset, t->meta[i].length);
	for (unsigned i = 0; i < t->count && r == 0; i++) {
		const struct ptable_partition *p = &t->partitions[i];
		if (ptable_mbr_is_extended(p->mbr_type))
			continue;
		r = rangeset_add(&parts, p->start, p->size);
		if (r == 0)
			r = add_partition(img, p->number, p->start, p->size, &set, err);
		if (p->start + p->size > end)
			end = p->start + p->size;
	}
	/* Gaps: everything below the end of the last partition that no data
	 * partition covers (boot code, EBRs, alignment gaps, vendor blobs). */
	rangeset_normalize(&parts);
	uint64_t pos = 0;
	for (size_t i = 0; i < parts.count && r == 0; i++) {
		if (parts.ranges[i].offset > pos)
			r = rangeset_add(&set, pos, parts.ranges[i].offset - pos);
		pos = parts.ranges[i].offset + parts.ranges[i].length;
	}
	if (r == 0 && pos < end)
		r = rangeset_add(&set, pos, end - pos);
done:
	rangeset_free(&parts);
	if (r < 0) {
		rangeset_free(&set);
		if (err && !err->message[0])
			herd_error_set(err, -r, "building the used-block map failed");
		return r;
	}
	rangeset_clip(&set, size);
	*ret = set;
	return 0;
}
