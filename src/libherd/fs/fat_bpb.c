/*
 * fat_bpb.c — FAT boot sector: probe, BPB validation, mount, FSInfo, info.
 *
 * The BPB is read through bounds-checked little-endian helpers and checked
 * the way fatgen103 describes ("BPB" and "FAT Type Determination"): the
 * type follows from the cluster count (< 4085 FAT12, < 65525 FAT16,
 * else FAT32), never from the BS_FilSysType string.  A filesystem may be
 * smaller than its blockdev (partition slack) but never larger.
 *
 * FSInfo (FAT32) is trusted only when both its lead and structure
 * signatures match; otherwise the free count is recomputed on demand and
 * FSInfo is left untouched.  The dirty-volume bits in FAT[1] and BPB are
 * never changed: we leave them as found.  Nothing is written at unmount
 * unless something was changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fat_internal.h"

#define FSINFO_LEAD_SIG	  0x41615252u
#define FSINFO_STRUCT_SIG 0x61417272u

static bool is_power_of_two(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void copy_label(char out[12], const uint8_t *src)
{
	size_t n = 11;

	memcpy(out, src, 11);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
	/* Replace bytes that are not printable ASCII so labels stay UTF-8. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			out[i] = '_';
	if (strcmp(out, "NO NAME") == 0)
		out[0] = '\0';
}

int fat_parse_bpb(const uint8_t *s, size_t len, uint64_t device_size, struct fat_geometry *ret,
		  struct herd_error *err)
{
	struct fat_geometry g = {0};
	uint32_t fat16_size, root_dir_sectors, total16, needed_fat_bytes;
	uint64_t meta_sectors, data_sectors;

	if (len < 512)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: boot sector too short");
	if (s[0] != 0xeb && s[0] != 0xe9)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: no jump instruction");
	g.bytes_per_sector = fat_le16(s, len, 11);
	if (g.bytes_per_sector < 512 || g.bytes_per_sector > 4096 ||
	    !is_power_of_two(g.bytes_per_sector))
		return herd_error_set(err, EINVAL, "FAT: bad BPB: %u bytes per sector",
				      g.bytes_per_sector);
	g.sectors_per_cluster = s[13];
	if (!is_power_of_two(g.sectors_per_cluster))
		return herd_error_set(err, EINVAL, "FAT: bad BPB: %u sectors per cluster",
				      g.sectors_per_cluster);
	g.cluster_size = g.bytes_per_sector * g.sectors_per_cluster;
	if (g.cluster_size > 65536)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: cluster size %u above 64 KiB",
				      g.cluster_size);
	g.reserved_sectors = fat_le16(s, len, 14);
	if (g.reserved_sectors < 1)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: no reserved sectors");
	g.num_fats = s[16];
	if (g.num_fats < 1 || g.num_fats > 4)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: %u FAT copies", g.num_fats);
	g.root_entries = fat_le16(s, len, 17);
	total16 = fat_le16(s, len, 19);
	g.total_sectors = total16 ? total16 : fat_le32(s, len, 32);
	fat16_size = fat_le16(s, len, 22);
	g.fat_sectors = fat16_size ? fat16_size : fat_le32(s, len, 36);
	if (g.fat_sectors == 0)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: FAT size is zero");
	if (g.total_sectors == 0)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: total sector count is zero");

	root_dir_sectors = (g.root_entries * 32 + g.bytes_per_sector - 1) / g.bytes_per_sector;
	meta_sectors =
	    (uint64_t)g.reserved_sectors + (uint64_t)g.num_fats * g.fat_sectors + root_dir_sectors;
	if (meta_sectors >= g.total_sectors)
		return herd_error_set(err, EINVAL,
				      "FAT: bad BPB: metadata (%llu sectors) fills the volume "
				      "(%llu sectors)",
				      (unsigned long long)meta_sectors,
				      (unsigned long long)g.total_sectors);
	data_sectors = g.total_sectors - meta_sectors;
	if (data_sectors / g.sectors_per_cluster > 0x0ffffff5u - 2)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: too many clusters");
	g.cluster_count = (uint32_t)(data_sectors / g.sectors_per_cluster);
	if (g.cluster_count == 0)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: no data clusters");

	/* fatgen103 "FAT Type Determination".  One deviation, shared with
	 * Linux and dosfstools: a BPB with the FAT32 layout (BPB_FATSz16 = 0
	 * and no fixed root) is FAT32 even below 65525 clusters, because
	 * mkfs.fat -F 32 makes such volumes (e.g. 256 MiB with 4 KiB
	 * clusters) and reading their FAT as 16-bit would be wrong. */
	if (g.cluster_count < 4085)
		g.type = FAT12;
	else if (g.cluster_count < 65525)
		g.type = FAT16;
	else
		g.type = FAT32;
	if (fat16_size == 0 && g.root_entries == 0)
		g.type = FAT32;

	if (g.type == FAT32) {
		uint16_t ext_flags = fat_le16(s, len, 40);
		if (fat16_size != 0 || g.root_entries != 0)
			return herd_error_set(err, EINVAL,
					      "FAT: bad BPB: FAT32 cluster count but FAT16 fields");
		if (fat_le16(s, len, 42) != 0)
			return herd_error_set(err, EINVAL, "FAT: bad BPB: unknown FAT32 version");
		g.root_cluster = fat_le32(s, len, 44);
		if (g.root_cluster < 2 || g.root_cluster - 2 >= g.cluster_count)
			return herd_error_set(err, EINVAL,
					      "FAT: bad BPB: root cluster %u outside the volume",
					      g.root_cluster);
		g.fsinfo_sector = fat_le16(s, len, 48);
		if (g.fsinfo_sector >= g.reserved_sectors)
			g.fsinfo_sector = 0;
		/* fatgen103 BPB_ExtFlags: bit 7 set = only the active FAT is used. */
		g.mirrored = !(ext_flags & 0x80);
		g.active_fat = g.mirrored ? 0 : (ext_flags & 0x0f);
		if (g.active_fat >= g.num_fats)
			return herd_error_set(err, EINVAL, "FAT: bad BPB: active FAT %u of %u",
					      g.active_fat, g.num_fats);
		if (s[66] == 0x29) {
			g.has_volume_id = true;
			g.volume_id = fat_le32(s, len, 67);
			copy_label(g.bpb_label, s + 71);
		}
	} else {
		if (g.root_entries == 0)
			return herd_error_set(err, EINVAL,
					      "FAT: bad BPB: FAT12/16 without root directory");
		g.mirrored = true;
		if (s[38] == 0x29) {
			g.has_volume_id = true;
			g.volume_id = fat_le32(s, len, 39);
			copy_label(g.bpb_label, s + 43);
		}
	}

	/* The FAT must hold an entry for every cluster (+2 reserved). */
	if (g.type == FAT12)
		needed_fat_bytes = (g.cluster_count + 2) * 3 / 2 + 1;
	else
		needed_fat_bytes = (g.cluster_count + 2) * (g.type == FAT16 ? 2u : 4u);
	g.fat_bytes = (uint64_t)g.fat_sectors * g.bytes_per_sector;
	if (g.fat_bytes < needed_fat_bytes)
		return herd_error_set(err, EINVAL,
				      "FAT: bad BPB: FAT of %llu bytes too small for %u clusters",
				      (unsigned long long)g.fat_bytes, g.cluster_count);
	g.fat_offset = (uint64_t)g.reserved_sectors * g.bytes_per_sector;
	g.root_offset = g.fat_offset + (uint64_t)g.num_fats * g.fat_bytes;
	g.root_bytes = g.type == FAT32 ? 0 : (uint64_t)g.root_entries * FAT_DIRENT_SIZE;
	g.data_offset = g.root_offset + (uint64_t)root_dir_sectors * g.bytes_per_sector;

	if (g.total_sectors * g.bytes_per_sector > device_size)
		return herd_error_set(err, EINVAL,
				      "FAT: bad BPB: filesystem of %llu bytes is larger than the "
				      "device (%llu bytes; truncated image?)",
				      (unsigned long long)(g.total_sectors * g.bytes_per_sector),
				      (unsigned long long)device_size);
	*ret = g;
	return 0;
}

int fat_probe(struct blockdev *bd)
{
	uint8_t sector[512];
	struct fat_geometry g;

	if (blockdev_size(bd) < sizeof(sector))
		return 0;
	if (blockdev_pread(bd, sector, sizeof(sector), 0, NULL) < 0)
		return 0;
	return fat_parse_bpb(sector, sizeof(sector), blockdev_size(bd), &g, NULL) == 0;
}

/* Read FSInfo; on any mismatch keep it invalid (never fatal). */
static void fsinfo_load(struct fat_fs *fs)
{
	uint8_t buf[512];
	uint32_t free_count, next_free;

	if (fs->g.type != FAT32 || fs->g.fsinfo_sector == 0)
		return;
	if (blockdev_pread(fs->bd, buf, sizeof(buf),
			   (uint64_t)fs->g.fsinfo_sector * fs->g.bytes_per_sector, NULL) < 0)
		return;
	if (fat_le32(buf, sizeof(buf), 0) != FSINFO_LEAD_SIG ||
	    fat_le32(buf, sizeof(buf), 484) != FSINFO_STRUCT_SIG)
		return;
	fs->fsinfo_valid = true;
	free_count = fat_le32(buf, sizeof(buf), 488);
	next_free = fat_le32(buf, sizeof(buf), 492);
	if (free_count <= fs->g.cluster_count)
		fs->free_count = free_count;
	if (fat_cluster_valid(fs, next_free))
		fs->next_free = next_free;
}

static int fsinfo_store(struct fat_fs *fs, struct herd_error *err)
{
	uint8_t buf[8];
	uint64_t off = (uint64_t)fs->g.fsinfo_sector * fs->g.bytes_per_sector;
	int r;

	if (!fs->fsinfo_valid || !fs->fsinfo_dirty)
		return 0;
	if (fs->free_count == FAT_FREE_UNKNOWN) {
		r = fat_count_free(fs, err);
		if (r < 0)
			return r;
	}
	fat_put32(buf, sizeof(buf), 0, fs->free_count);
	fat_put32(buf, sizeof(buf), 4, fs->next_free);
	r = blockdev_pwrite(fs->bd, buf, sizeof(buf), off + 488, err);
	if (r < 0)
		return r;
	fs->fsinfo_dirty = false;
	return 0;
}

int fat_flush(struct fat_fs *fs, struct herd_error *err)
{
	int r;

	if (!fs->writable || !fs->dirty)
		return 0;
	r = fat_table_flush(fs, err);
	if (r < 0)
		return r;
	r = fsinfo_store(fs, err);
	if (r < 0)
		return r;
	r = blockdev_flush(fs->bd, err);
	if (r < 0)
		return r;
	fs->dirty = false;
	return 0;
}

void fat_fs_free(struct fat_fs *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->chunk_count; i++)
		free(fs->chunks[i]);
	free(fs->chunks);
	free(fs->chunk_dirty);
	blockdev_unref(fs->bd);
	free(fs);
}

int fat_mount(struct blockdev *bd, bool writable, void **ret_fs, struct herd_error *err)
{
	uint8_t sector[4096];
	struct fat_fs *fs;
	size_t len = sizeof(sector);
	int r;

	if (blockdev_size(bd) < 512)
		return herd_error_set(err, EINVAL, "FAT: bad BPB: device smaller than a sector");
	if (blockdev_size(bd) < len)
		len = 512;
	r = blockdev_pread(bd, sector, len, 0, err);
	if (r < 0)
		return herd_error_prefix(err, r, "FAT: reading boot sector");
	if (writable && !blockdev_writable(bd))
		return herd_error_set(err, EROFS, "FAT: device is read-only");

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	r = fat_parse_bpb(sector, len, blockdev_size(bd), &fs->g, err);
	if (r < 0) {
		free(fs);
		return r;
	}
	fs->bd = blockdev_ref(bd);
	fs->writable = writable;
	fs->free_count = FAT_FREE_UNKNOWN;
	fs->next_free = 2;
	r = fat_table_init(fs, err);
	if (r < 0)
		goto fail;
	fsinfo_load(fs);
	/* FAT12/16 tables are at most 6 KiB / 128 KiB: counting is cheap and
	 * gives info() an exact answer.  FAT32 counts only when FSInfo lies. */
	if (fs->g.type != FAT32) {
		r = fat_count_free(fs, err);
		if (r < 0)
			goto fail;
	}
	/* Writing into a volume with shared clusters would corrupt the other
	 * owner: refuse before the first change (fat_check.c). */
	if (writable) {
		r = fat_check_crosslinks(fs, err);
		if (r < 0)
			goto fail;
	}
	*ret_fs = fs;
	return 0;
fail:
	fat_fs_free(fs);
	return r;
}

int fat_unmount(void *opaque, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	int r = fat_flush(fs, err);

	fat_fs_free(fs);
	return r;
}

/* The volume label lives in a root directory entry with ATTR_VOLUME_ID;
 * Windows and mtools write it there, the BPB copy is a fallback. */
static void root_label(struct fat_fs *fs, char out[12])
{
	struct fat_dir dir;

	if (fat_dir_load(fs, 0, "/", &dir, NULL) < 0)
		return;
	for (size_t off = 0; off + FAT_DIRENT_SIZE <= dir.size; off += FAT_DIRENT_SIZE) {
		const uint8_t *e = dir.data + off;
		if (e[0] == 0)
			break;
		if (e[0] == FAT_DELETED || (e[11] & 0x3f) == FAT_ATTR_LONG_NAME)
			continue;
		if (e[11] & FAT_ATTR_VOLUME_ID) {
			copy_label(out, e);
			break;
		}
	}
	fat_dir_release(&dir);
}

int fat_info(void *opaque, struct vfs_info *ret, struct herd_error *err)
{
	struct fat_fs *fs = opaque;
	struct vfs_info info = {0};
	char label[12];
	uint64_t used_clusters;
	int r;

	if (fs->free_count == FAT_FREE_UNKNOWN) {
		r = fat_count_free(fs, err);
		if (r < 0)
			return r;
	}
	info.type = fs->g.type == FAT12 ? "fat12" : fs->g.type == FAT16 ? "fat16" : "fat32";
	memcpy(label, fs->g.bpb_label, sizeof(label));
	root_label(fs, label);
	snprintf(info.label, sizeof(info.label), "%s", label);
	if (fs->g.has_volume_id)
		snprintf(info.uuid, sizeof(info.uuid), "%04X-%04X", fs->g.volume_id >> 16,
			 fs->g.volume_id & 0xffff);
	info.size = fs->g.total_sectors * fs->g.bytes_per_sector;
	used_clusters = fs->g.cluster_count - fs->free_count;
	info.used = fs->g.data_offset + used_clusters * fs->g.cluster_size;
	info.block_size = fs->g.cluster_size;
	*ret = info;
	return 0;
}
