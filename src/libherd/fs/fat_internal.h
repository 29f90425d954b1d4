/*
 * fat_internal.h — shared state of the FAT12/16/32 driver (fat*.c).
 *
 * The driver is split by reason to change:
 *   fat_bpb.c    boot sector (BPB) parsing, probe, mount/unmount, FSInfo, info;
 *   fat_table.c  the file allocation table: lazy chunk cache with write-back
 *                to every FAT copy, chain walking with loop/range checks,
 *                allocation and freeing, used ranges;
 *   fat_name.c   names: UTF-8 <-> UTF-16, VFAT long-name slots and checksum,
 *                8.3 short-name generation, case-insensitive compare, and
 *                the FAT date/time encoding;
 *   fat_dir.c    directories: loading, iterating entries (LFN assembly),
 *                lookup by path, planning and writing new entries;
 *   fat.c        the `struct vfs_ops` table and the file operations.
 *
 * Nothing here is exported outside src/libherd/fs; the only public symbol
 * is `vfs_fat_ops` (vfs.h).  Section names in comments refer to Microsoft's
 * "FAT: General Overview of On-Disk Format" (fatgen103).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "blk/blockdev.h"
#include "fs/vfs.h"

#define FAT_DIRENT_SIZE	   32
#define FAT_ATTR_READ_ONLY 0x01
#define FAT_ATTR_HIDDEN	   0x02
#define FAT_ATTR_SYSTEM	   0x04
#define FAT_ATTR_VOLUME_ID 0x08
#define FAT_ATTR_DIRECTORY 0x10
#define FAT_ATTR_ARCHIVE   0x20
#define FAT_ATTR_LONG_NAME 0x0f
#define FAT_NT_LOWER_BASE  0x08
#define FAT_NT_LOWER_EXT   0x10
#define FAT_DELETED	   0xe5
#define FAT_LFN_LAST	   0x40
#define FAT_LFN_CHARS	   13
#define FAT_LFN_MAX_UNITS  255
#define FAT_LFN_MAX_SLOTS  20 /* ceil(255 / 13) */
#define FAT_NAME_MAX_UTF8  (FAT_LFN_MAX_UNITS * 3 + 1)
/* fatgen103 "FAT Directories": at most 65536 entries (2 MiB) per directory. */
#define FAT_DIR_MAX_ENTRIES 65536
#define FAT_CHUNK_SIZE	    65536u /* FAT cache granularity in bytes */
#define FAT_FREE_UNKNOWN    0xffffffffu

/* Bounds-checked little-endian access: out-of-range reads give 0 and
 * out-of-range writes are dropped, so a bad offset can never touch memory
 * outside the buffer.  Callers check lengths before relying on values. */
static inline uint16_t fat_le16(const uint8_t *buf, size_t len, size_t off)
{
	if (off > len || len - off < 2)
		return 0;
	return (uint16_t)(buf[off] | (buf[off + 1] << 8));
}

static inline uint32_t fat_le32(const uint8_t *buf, size_t len, size_t off)
{
	if (off > len || len - off < 4)
		return 0;
	return (uint32_t)buf[off] | ((uint32_t)buf[off + 1] << 8) | ((uint32_t)buf[off + 2] << 16) |
	       ((uint32_t)buf[off + 3] << 24);
}

static inline void fat_put16(uint8_t *buf, size_t len, size_t off, uint16_t v)
{
	if (off > len || len - off < 2)
		return;
	buf[off] = (uint8_t)v;
	buf[off + 1] = (uint8_t)(v >> 8);
}

static inline void fat_put32(uint8_t *buf, size_t len, size_t off, uint32_t v)
{
	if (off > len || len - off < 4)
		return;
	for (int i = 0; i < 4; i++)
		buf[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

enum fat_type { FAT12 = 12, FAT16 = 16, FAT32 = 32 };

/* Geometry as decoded from the BPB, all in bytes where it says offset. */
struct fat_geometry {
	enum fat_type type;
	uint32_t bytes_per_sector;
	uint32_t sectors_per_cluster;
	uint32_t cluster_size;
	uint32_t reserved_sectors;
	uint32_t num_fats;
	uint32_t fat_sectors;  /* per FAT copy */
	uint32_t root_entries; /* FAT12/16 fixed root */
	uint64_t total_sectors;
	uint32_t cluster_count; /* data clusters: valid numbers 2..cluster_count+1 */
	uint32_t root_cluster;	/* FAT32 */
	uint32_t fsinfo_sector; /* FAT32, 0 = none */
	uint32_t active_fat;	/* FAT32 with mirroring disabled, else 0 */
	bool mirrored;		/* write every FAT copy */
	uint64_t fat_offset;	/* first FAT copy */
	uint64_t fat_bytes;	/* one FAT copy */
	uint64_t root_offset;	/* FAT12/16 root region */
	uint64_t root_bytes;
	uint64_t data_offset; /* cluster 2 */
	uint32_t volume_id;
	bool has_volume_id;
	char bpb_label[12];
};

struct fat_fs {
	struct blockdev *bd;
	bool writable;
	struct fat_geometry g;

	/* FAT cache: one copy of the active FAT in FAT_CHUNK_SIZE pieces,
	 * loaded on first touch, written to every copy on flush. */
	uint8_t **chunks;
	bool *chunk_dirty;
	size_t chunk_count;

	uint32_t free_count; /* FAT_FREE_UNKNOWN until counted */
	bool free_exact;     /* counted by us, not taken from FSInfo */
	uint32_t next_free;  /* allocation hint (FSInfo FSI_Nxt_Free) */
	bool fsinfo_valid;
	bool fsinfo_dirty;
	bool dirty; /* anything written since mount */
};

/* fat_bpb.c */
int fat_parse_bpb(const uint8_t *sector, size_t len, uint64_t device_size, struct fat_geometry *ret,
		  struct herd_error *err);
int fat_flush(struct fat_fs *fs, struct herd_error *err);
void fat_fs_free(struct fat_fs *fs);
int fat_mount(struct blockdev *bd, bool writable, void **ret_fs, struct herd_error *err);
int fat_probe(struct blockdev *bd);
int fat_unmount(void *fs, struct herd_error *err);
int fat_info(void *fs, struct vfs_info *ret, struct herd_error *err);

/* fat_table.c */
int fat_table_init(struct fat_fs *fs, struct herd_error *err);
int fat_get(struct fat_fs *fs, uint32_t cluster, uint32_t *ret, struct herd_error *err);
int fat_set(struct fat_fs *fs, uint32_t cluster, uint32_t value, struct herd_error *err);
bool fat_is_eoc(const struct fat_fs *fs, uint32_t value);
uint32_t fat_eoc(const struct fat_fs *fs);
static inline bool fat_cluster_valid(const struct fat_fs *fs, uint32_t c)
{
	return c >= 2 && c - 2 < fs->g.cluster_count;
}
static inline uint64_t fat_cluster_offset(const struct fat_fs *fs, uint32_t c)
{
	return fs->g.data_offset + (uint64_t)(c - 2) * fs->g.cluster_size;
}
/* Walk the chain starting at `first` into a malloc'ed array; -EIO for
 * loops, out-of-range links, free or bad clusters inside the chain.
 * `what` names the owner in messages. */
int fat_chain_collect(struct fat_fs *fs, uint32_t first, const char *what, uint32_t **ret,
		      size_t *ret_count, struct herd_error *err);
/* Find `count` free clusters without changing anything (-ENOSPC). */
int fat_find_free(struct fat_fs *fs, size_t count, uint32_t **ret, struct herd_error *err);
/* Link `count` clusters into a chain ending in EOC; after `prev` if nonzero. */
int fat_chain_link(struct fat_fs *fs, uint32_t prev, const uint32_t *clusters, size_t count,
		   struct herd_error *err);
/* Free clusters (set to 0), updating the free count. */
int fat_chain_free(struct fat_fs *fs, const uint32_t *clusters, size_t count,
		   struct herd_error *err);
int fat_count_free(struct fat_fs *fs, struct herd_error *err);
int fat_table_flush(struct fat_fs *fs, struct herd_error *err);
int fat_used_ranges(void *fs, vfs_range_cb cb, void *userdata, struct herd_error *err);
/* Read or write [offset, offset+len) of a chain, one device I/O per run
 * of consecutive clusters. */
int fat_chain_io(struct fat_fs *fs, const uint32_t *chain, size_t count, uint64_t offset, void *buf,
		 size_t len, bool write, struct herd_error *err);
/* Write zeros over whole clusters. */
int fat_zero_clusters(struct fat_fs *fs, const uint32_t *clusters, size_t count,
		      struct herd_error *err);

/* fat_name.c */
/* UTF-8 name -> UTF-16 units; -EINVAL for bad UTF-8, characters FAT
 * forbids, trailing dot/space, or more than 255 units. */
int fat_name_to_utf16(const char *name, uint16_t *units, size_t *ret_count, struct herd_error *err);
/* UTF-16 -> UTF-8 (NUL-terminated, out >= FAT_NAME_MAX_UTF8); -EILSEQ on
 * unpaired surrogates. */
int fat_utf16_to_name(const uint16_t *units, size_t count, char *out, size_t outlen);
uint8_t fat_lfn_checksum(const uint8_t shortname[11]);
/* Decode an 11-byte short name plus NT case flags into "name.ext". */
void fat_short_to_name(const uint8_t shortname[11], uint8_t nt_flags, char *out, size_t outlen);
/* Short name for a new entry.  Sets *ret_needs_lfn; when the name fits 8.3
 * in one case per part, returns the NT lowercase flags instead.  `existing`
 * holds `existing_count` 11-byte short names of the directory. */
int fat_make_short_name(const uint16_t *units, size_t count, const uint8_t *existing,
			size_t existing_count, uint8_t ret_short[11], uint8_t *ret_nt_flags,
			bool *ret_needs_lfn, struct herd_error *err);
bool fat_name_equal(const char *a, const char *b);
void fat_time_encode(int64_t t, uint16_t *ret_date, uint16_t *ret_time, uint8_t *ret_tenth);
int64_t fat_time_decode(uint16_t date, uint16_t time);

/* fat_check.c: -EIO when two chains share a cluster (or a chain is broken);
 * run once on writable mounts before anything is changed. */
int fat_check_crosslinks(struct fat_fs *fs, struct herd_error *err);
/* vfs check op: cross-links, and the FSInfo free count against the FAT. */
int fat_check(void *fs, vfs_problem_cb cb, void *userdata, struct herd_error *err);

/* fat_dir.c */
struct fat_dir {
	uint32_t first_cluster; /* 0 = root directory */
	bool fixed_root;	/* FAT12/16 root region */
	uint32_t *clusters;
	size_t cluster_count;
	uint8_t *data;
	size_t size;
};

/* One directory entry as found on disk, with where its slots live. */
struct fat_node {
	bool is_root;
	uint32_t parent_cluster; /* 0 = root */
	uint8_t entry[FAT_DIRENT_SIZE];
	size_t slot_first, slot_short; /* slot indices in the parent */
	uint64_t slot_offsets[FAT_LFN_MAX_SLOTS + 1];
	size_t slot_count;
	char name[FAT_NAME_MAX_UTF8];
};

static inline uint32_t fat_node_cluster(const struct fat_fs *fs, const struct fat_node *n)
{
	if (n->is_root)
		return 0;
	uint32_t c = fat_le16(n->entry, FAT_DIRENT_SIZE, 26);
	if (fs->g.type == FAT32)
		c |= (uint32_t)fat_le16(n->entry, FAT_DIRENT_SIZE, 20) << 16;
	return c;
}
static inline bool fat_node_is_dir(const struct fat_node *n)
{
	return n->is_root || (n->entry[11] & FAT_ATTR_DIRECTORY);
}
void fat_node_set_cluster(struct fat_fs *fs, struct fat_node *n, uint32_t c);

int fat_dir_load(struct fat_fs *fs, uint32_t first_cluster, const char *what, struct fat_dir *ret,
		 struct herd_error *err);
void fat_dir_release(struct fat_dir *dir);
uint64_t fat_dir_slot_offset(const struct fat_fs *fs, const struct fat_dir *dir, size_t slot);
/* Iterate live entries (not deleted, not LFN, not the volume label).
 * Returns 1 with *node filled, 0 at the end.  *pos starts at 0. */
int fat_dir_next(struct fat_fs *fs, const struct fat_dir *dir, size_t *pos, struct fat_node *node);
/* Find `name` (case-insensitive, long or short name) in a loaded dir. */
int fat_dir_find(struct fat_fs *fs, const struct fat_dir *dir, const char *name,
		 struct fat_node *ret);
/* Resolve an absolute normalised path. -ENOENT / -ENOTDIR with message. */
int fat_lookup(struct fat_fs *fs, const char *path, struct fat_node *ret, struct herd_error *err);
/* Split "/a/b/c" into parent node ("/a/b", must be a directory) and "c". */
int fat_lookup_parent(struct fat_fs *fs, const char *path, struct fat_node *ret_parent,
		      const char **ret_name, struct herd_error *err);

/* Planned new entry: its slots and where they go in the directory. */
struct fat_entry_plan {
	uint8_t slots[FAT_LFN_MAX_SLOTS + 1][FAT_DIRENT_SIZE];
	size_t slot_count;
	size_t slot_index;    /* first slot */
	size_t grow_clusters; /* clusters to append to the directory first */
	size_t end_slot;      /* first 0x00 end-of-directory slot before the change */
};
/* Build the slots for `name` with the short entry `tmpl` (name bytes and
 * NT flags are filled in) and find room; nothing is written. */
int fat_dir_plan(struct fat_fs *fs, const struct fat_dir *dir, const char *name,
		 const uint8_t tmpl[FAT_DIRENT_SIZE], struct fat_entry_plan *ret,
		 struct herd_error *err);
/* Grow the directory with `new_clusters` (plan->grow_clusters of them,
 * zeroed) and write the slots.  Fills *ret_offset with the short entry's
 * device offset. */
int fat_dir_commit(struct fat_fs *fs, struct fat_dir *dir, struct fat_entry_plan *plan,
		   const uint32_t *new_clusters, uint64_t *ret_offset, struct herd_error *err);
/* Mark the node's slots deleted. */
int fat_dir_remove(struct fat_fs *fs, const struct fat_node *node, struct herd_error *err);
/* Write the node's short entry back. */
int fat_node_store(struct fat_fs *fs, const struct fat_node *node, struct herd_error *err);
/* 1 if the directory has no entries besides "." and "..", 0 if it has. */
int fat_dir_is_empty(struct fat_fs *fs, uint32_t first_cluster, const char *what,
		     struct herd_error *err);
void fat_node_stat(const struct fat_fs *fs, const struct fat_node *node, struct vfs_stat *ret);
