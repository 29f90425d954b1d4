/*
 * fat_table.c — the file allocation table.
 *
 * One copy of the FAT (the active one) is cached in FAT_CHUNK_SIZE pieces
 * that are read on first touch, so mounting a large FAT32 reads nothing
 * and a small put reads one or two chunks.  Changed chunks are written to
 * every FAT copy at flush (fatgen103: all copies are kept identical unless
 * BPB_ExtFlags disables mirroring, in which case only the active one is
 * written).
 *
 * Chains are always walked with a visited bitmap and bounded by the
 * cluster count, so a corrupted FAT (loops, links outside the volume,
 * free or bad clusters inside a chain) is an -EIO with the cluster named,
 * never a hang.  Allocation first finds every cluster it needs and only
 * then links them, so -ENOSPC leaves the table untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fat_internal.h"

int fat_table_init(struct fat_fs *fs, struct herd_error *err)
{
	fs->chunk_count = (size_t)((fs->g.fat_bytes + FAT_CHUNK_SIZE - 1) / FAT_CHUNK_SIZE);
	fs->chunks = calloc(fs->chunk_count, sizeof(*fs->chunks));
	fs->chunk_dirty = calloc(fs->chunk_count, sizeof(*fs->chunk_dirty));
	if (!fs->chunks || !fs->chunk_dirty)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	return 0;
}

static size_t chunk_length(const struct fat_fs *fs, size_t index)
{
	uint64_t start = (uint64_t)index * FAT_CHUNK_SIZE;
	uint64_t left = fs->g.fat_bytes - start;

	return left < FAT_CHUNK_SIZE ? (size_t)left : FAT_CHUNK_SIZE;
}

/* Pointer to byte `off` of the cached FAT, loading its chunk. */
static int fat_byte(struct fat_fs *fs, uint64_t off, uint8_t **ret, struct herd_error *err)
{
	size_t index = (size_t)(off / FAT_CHUNK_SIZE);
	int r;

	if (off >= fs->g.fat_bytes)
		return herd_error_set(err, EIO, "FAT: table offset %llu out of range",
				      (unsigned long long)off);
	if (!fs->chunks[index]) {
		size_t len = chunk_length(fs, index);
		uint8_t *chunk = malloc(len);
		if (!chunk)
			return herd_error_set(err, ENOMEM, "FAT: out of memory");
		r = blockdev_pread(fs->bd, chunk, len,
				   fs->g.fat_offset + (uint64_t)fs->g.active_fat * fs->g.fat_bytes +
				       (uint64_t)index * FAT_CHUNK_SIZE,
				   err);
		if (r < 0) {
			free(chunk);
			return herd_error_prefix(err, r, "FAT: reading the table");
		}
		fs->chunks[index] = chunk;
	}
	*ret = fs->chunks[index] + (off % FAT_CHUNK_SIZE);
	return 0;
}

static void mark_dirty(struct fat_fs *fs, uint64_t off)
{
	fs->chunk_dirty[off / FAT_CHUNK_SIZE] = true;
	fs->dirty = true;
	fs->fsinfo_dirty = true;
}

bool fat_is_eoc(const struct fat_fs *fs, uint32_t v)
{
	switch (fs->g.type) {
	case FAT12:
		return v >= 0xff8;
	case FAT16:
		return v >= 0xfff8;
	default:
		return v >= 0x0ffffff8;
	}
}

uint32_t fat_eoc(const struct fat_fs *fs)
{
	return fs->g.type == FAT12 ? 0xfff : fs->g.type == FAT16 ? 0xffff : 0x0fffffff;
}

int fat_get(struct fat_fs *fs, uint32_t c, uint32_t *ret, struct herd_error *err)
{
	uint8_t *p, *q;
	uint64_t off;
	int r;

	switch (fs->g.type) {
	case FAT12:
		/* fatgen103: 12-bit entries packed, entry N at byte N + N/2. */
		off = (uint64_t)c + c / 2;
		r = fat_byte(fs, off, &p, err);
		if (r >= 0)
			r = fat_byte(fs, off + 1, &q, err);
		if (r < 0)
			return r;
		*ret = (c & 1) ? (uint32_t)(*p >> 4) | ((uint32_t)*q << 4)
			       : (uint32_t)*p | ((uint32_t)(*q & 0x0f) << 8);
		return 0;
	case FAT16:
		off = (uint64_t)c * 2;
		r = fat_byte(fs, off + 1, &q, err);
		if (r >= 0)
			r = fat_byte(fs, off, &p, err);
		if (r < 0)
			return r;
		*ret = (uint32_t)p[0] | ((uint32_t)q[0] << 8);
		return 0;
	default:
		off = (uint64_t)c * 4;
		r = fat_byte(fs, off + 3, &q, err); /* chunks are 4-aligned */
		if (r >= 0)
			r = fat_byte(fs, off, &p, err);
		if (r < 0)
			return r;
		*ret = fat_le32(p, 4, 0) & 0x0fffffff;
		return 0;
	}
}

int fat_set(struct fat_fs *fs, uint32_t c, uint32_t v, struct herd_error *err)
{
	uint8_t *p, *q;
	uint64_t off;
	int r;

	switch (fs->g.type) {
	case FAT12:
		off = (uint64_t)c + c / 2;
		r = fat_byte(fs, off, &p, err);
		if (r >= 0)
			r = fat_byte(fs, off + 1, &q, err);
		if (r < 0)
			return r;
		if (c & 1) {
			*p = (uint8_t)((*p & 0x0f) | ((v & 0x0f) << 4));
			*q = (uint8_t)(v >> 4);
		} else {
			*p = (uint8_t)v;
			*q = (uint8_t)((*q & 0xf0) | ((v >> 8) & 0x0f));
		}
		mark_dirty(fs, off);
		mark_dirty(fs, off + 1);
		return 0;
	case FAT16:
		off = (uint64_t)c * 2;
		r = fat_byte(fs, off, &p, err);
		if (r < 0)
			return r;
		fat_put16(p, 2, 0, (uint16_t)v);
		mark_dirty(fs, off);
		return 0;
	default:
		off = (uint64_t)c * 4;
		r = fat_byte(fs, off, &p, err);
		if (r < 0)
			return r;
		/* fatgen103: the high 4 bits of a FAT32 entry are reserved and
		 * must be preserved. */
		fat_put32(p, 4, 0, (fat_le32(p, 4, 0) & 0xf0000000u) | (v & 0x0fffffff));
		mark_dirty(fs, off);
		return 0;
	}
}

int fat_chain_collect(struct fat_fs *fs, uint32_t first, const char *what, uint32_t **ret,
		      size_t *ret_count, struct herd_error *err)
{
	uint8_t *visited = NULL;
	uint32_t *chain = NULL;
	size_t count = 0, cap = 0;
	uint32_t c = first, next;
	int r;

	if (first == 0) {
		*ret = NULL;
		*ret_count = 0;
		return 0;
	}
	visited = calloc(fs->g.cluster_count / 8 + 1, 1);
	if (!visited)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	for (;;) {
		uint32_t index;
		if (!fat_cluster_valid(fs, c)) {
			r = herd_error_set(err, EIO,
					   "FAT: cluster chain of %s points outside the volume "
					   "(cluster %u)",
					   what, c);
			goto fail;
		}
		index = c - 2;
		if (visited[index / 8] & (1u << (index % 8))) {
			r = herd_error_set(err, EIO, "FAT: cluster chain of %s loops at cluster %u",
					   what, c);
			goto fail;
		}
		visited[index / 8] |= (uint8_t)(1u << (index % 8));
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint32_t *n = realloc(chain, ncap * sizeof(*chain));
			if (!n) {
				r = herd_error_set(err, ENOMEM, "FAT: out of memory");
				goto fail;
			}
			chain = n;
			cap = ncap;
		}
		chain[count++] = c;
		r = fat_get(fs, c, &next, err);
		if (r < 0)
			goto fail;
		if (fat_is_eoc(fs, next))
			break;
		if (next == 0) {
			r = herd_error_set(err, EIO,
					   "FAT: cluster chain of %s runs into free cluster after "
					   "cluster %u",
					   what, c);
			goto fail;
		}
		if (next == fat_eoc(fs) - 8) {
			r = herd_error_set(err, EIO,
					   "FAT: cluster chain of %s runs into a bad cluster after "
					   "cluster %u",
					   what, c);
			goto fail;
		}
		c = next;
	}
	free(visited);
	*ret = chain;
	*ret_count = count;
	return 0;
fail:
	free(visited);
	free(chain);
	return r;
}

int fat_count_free(struct fat_fs *fs, struct herd_error *err)
{
	uint32_t free_count = 0, v;
	int r;

	for (uint32_t c = 2; c - 2 < fs->g.cluster_count; c++) {
		r = fat_get(fs, c, &v, err);
		if (r < 0)
			return r;
		if (v == 0)
			free_count++;
	}
	fs->free_count = free_count;
	fs->free_exact = true;
	return 0;
}

int fat_find_free(struct fat_fs *fs, size_t count, uint32_t **ret, struct herd_error *err)
{
	uint32_t *found;
	size_t n = 0;
	uint32_t c, v;
	int r;

	if (count == 0) {
		*ret = NULL;
		return 0;
	}
	/* FSInfo's count is only a hint (fatgen103 "FAT32 FSInfo Sector
	 * Structure"): recount before refusing on its word alone. */
	if (fs->free_count != FAT_FREE_UNKNOWN && count > fs->free_count && !fs->free_exact) {
		r = fat_count_free(fs, err);
		if (r < 0)
			return r;
	}
	if (fs->free_count != FAT_FREE_UNKNOWN && count > fs->free_count)
		return herd_error_set(err, ENOSPC, "FAT: no free clusters (%zu needed, %u free)",
				      count, fs->free_count);
	found = malloc(count * sizeof(*found));
	if (!found)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	c = fat_cluster_valid(fs, fs->next_free) ? fs->next_free : 2;
	/* One pass over every cluster starting at the hint, wrapping. */
	for (uint32_t i = 0; i < fs->g.cluster_count && n < count; i++) {
		r = fat_get(fs, c, &v, err);
		if (r < 0) {
			free(found);
			return r;
		}
		if (v == 0)
			found[n++] = c;
		c = c - 2 + 1 >= fs->g.cluster_count ? 2 : c + 1;
	}
	if (n < count) {
		/* The scan saw every cluster: n is now the exact free count. */
		fs->free_count = (uint32_t)n;
		fs->free_exact = true;
		free(found);
		return herd_error_set(err, ENOSPC, "FAT: no free clusters (%zu needed, %zu free)",
				      count, n);
	}
	*ret = found;
	return 0;
}

int fat_chain_link(struct fat_fs *fs, uint32_t prev, const uint32_t *clusters, size_t count,
		   struct herd_error *err)
{
	int r;

	if (count == 0)
		return 0;
	for (size_t i = 0; i < count; i++) {
		r = fat_set(fs, clusters[i], i + 1 < count ? clusters[i + 1] : fat_eoc(fs), err);
		if (r < 0)
			return r;
	}
	if (prev) {
		r = fat_set(fs, prev, clusters[0], err);
		if (r < 0)
			return r;
	}
	if (fs->free_count != FAT_FREE_UNKNOWN)
		fs->free_count -= (uint32_t)count;
	fs->next_free = clusters[count - 1] + 1;
	if (!fat_cluster_valid(fs, fs->next_free))
		fs->next_free = 2;
	return 0;
}

int fat_chain_free(struct fat_fs *fs, const uint32_t *clusters, size_t count,
		   struct herd_error *err)
{
	int r;

	for (size_t i = 0; i < count; i++) {
		r = fat_set(fs, clusters[i], 0, err);
		if (r < 0)
			return r;
	}
	if (fs->free_count != FAT_FREE_UNKNOWN)
		fs->free_count += (uint32_t)count;
	return 0;
}

int fat_zero_clusters(struct fat_fs *fs, const uint32_t *clusters, size_t count,
		      struct herd_error *err)
{
	uint8_t *zero;
	int r = 0;

	if (count == 0)
		return 0;
	zero = calloc(1, fs->g.cluster_size);
	if (!zero)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	for (size_t i = 0; i < count && r >= 0; i++)
		r = blockdev_pwrite(fs->bd, zero, fs->g.cluster_size,
				    fat_cluster_offset(fs, clusters[i]), err);
	free(zero);
	fs->dirty = true;
	return r;
}

/* Read or write [offset, offset+len) of a chain, joining runs of
 * consecutive clusters into one device I/O. */
int fat_chain_io(struct fat_fs *fs, const uint32_t *chain, size_t count, uint64_t offset, void *buf,
		 size_t len, bool write, struct herd_error *err)
{
	uint8_t *p = buf;
	uint32_t cs = fs->g.cluster_size;

	while (len > 0) {
		size_t index = (size_t)(offset / cs), run = 1;
		uint64_t within = offset % cs, span;
		int r;
		if (index >= count)
			return herd_error_set(err, EIO, "FAT: I/O beyond the cluster chain");
		while (index + run < count && chain[index + run] == chain[index] + run &&
		       (uint64_t)run * cs - within < len)
			run++;
		span = (uint64_t)run * cs - within;
		if (span > len)
			span = len;
		if (write)
			r = blockdev_pwrite(fs->bd, p, (size_t)span,
					    fat_cluster_offset(fs, chain[index]) + within, err);
		else
			r = blockdev_pread(fs->bd, p, (size_t)span,
					   fat_cluster_offset(fs, chain[index]) + within, err);
		if (r < 0)
			return r;
		p += span;
		offset += span;
		len -= (size_t)span;
	}
	if (write)
		fs->dirty = true;
	return 0;
}

int fat_table_flush(struct fat_fs *fs, struct herd_error *err)
{
	int r;

	for (size_t i = 0; i < fs->chunk_count; i++) {
		if (!fs->chunk_dirty[i])
			continue;
		for (uint32_t copy = 0; copy < fs->g.num_fats; copy++) {
			if (!fs->g.mirrored && copy != fs->g.active_fat)
				continue;
			r = blockdev_pwrite(fs->bd, fs->chunks[i], chunk_length(fs, i),
					    fs->g.fat_offset + (uint64_t)copy * fs->g.fat_bytes +
						(uint64_t)i * FAT_CHUNK_SIZE,
					    err);
			if (r < 0)
				return herd_error_prefix(err, r, "FAT: writing FAT copy %u",
							 copy + 1);
		}
		fs->chunk_dirty[i] = false;
	}
	return 0;
}

int fat_used_ranges(void *opaque, vfs_range_cb cb, void *userdata, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	uint64_t start = 0, end = fs->g.data_offset; /* reserved + FATs + root */
	uint32_t v;
	int r;

	for (uint32_t c = 2; c - 2 < fs->g.cluster_count; c++) {
		uint64_t off;
		r = fat_get(fs, c, &v, err);
		if (r < 0)
			return r;
		if (v == 0)
			continue;
		off = fat_cluster_offset(fs, c);
		if (off == end) {
			end += fs->g.cluster_size;
			continue;
		}
		r = cb(userdata, start, end - start);
		if (r < 0)
			return r;
		start = off;
		end = off + fs->g.cluster_size;
	}
	return cb(userdata, start, end - start);
}
