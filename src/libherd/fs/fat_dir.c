/*
 * fat_dir.c — FAT directories: load, iterate, look up, add and remove
 * entries.
 *
 * A directory is loaded whole into memory (at most 2 MiB, fatgen103's
 * 65536-entry limit), which keeps slot arithmetic simple; every change is
 * written back slot by slot at the device offset recorded for it, so a
 * loaded `struct fat_dir` is a read-only snapshot.
 *
 * Long names are assembled as fatgen103 "FAT Long Directory Entries"
 * prescribes: a run of LFN slots with descending ordinals (the first
 * flagged 0x40) and one checksum, immediately followed by the short entry
 * whose checksum matches.  Anything else (orphans, wrong order, bad UTF-16)
 * is ignored and the short name is used, as Windows and Linux do.
 *
 * Not here: FAT chain walking and allocation (fat_table.c), name encoding
 * rules (fat_name.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fat_internal.h"

/* Byte offsets of the 13 UTF-16 units inside an LFN slot. */
static const uint8_t lfn_unit_offsets[FAT_LFN_CHARS] = {1,  3,	5,  7,	9,  14, 16,
							18, 20, 22, 24, 28, 30};

int fat_dir_load(struct fat_fs *fs, uint32_t first_cluster, const char *what, struct fat_dir *ret,
		 struct herd_error *err)
{
	struct fat_dir dir = {.first_cluster = first_cluster};
	int r;

	if (first_cluster == 0 && fs->g.type != FAT32) {
		dir.fixed_root = true;
		dir.size = (size_t)fs->g.root_bytes;
		dir.data = malloc(dir.size);
		if (!dir.data)
			return herd_error_set(err, ENOMEM, "FAT: out of memory");
		r = blockdev_pread(fs->bd, dir.data, dir.size, fs->g.root_offset, err);
		if (r < 0) {
			free(dir.data);
			return herd_error_prefix(err, r, "FAT: reading root directory");
		}
		*ret = dir;
		return 0;
	}
	r = fat_chain_collect(fs, first_cluster ? first_cluster : fs->g.root_cluster, what,
			      &dir.clusters, &dir.cluster_count, err);
	if (r < 0)
		return r;
	if (dir.cluster_count == 0 ||
	    (uint64_t)dir.cluster_count * fs->g.cluster_size >
		(uint64_t)FAT_DIR_MAX_ENTRIES * FAT_DIRENT_SIZE + fs->g.cluster_size) {
		free(dir.clusters);
		return herd_error_set(err, EIO, "FAT: directory %s is larger than 2 MiB", what);
	}
	dir.size = dir.cluster_count * fs->g.cluster_size;
	dir.data = malloc(dir.size);
	if (!dir.data) {
		free(dir.clusters);
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	}
	r = fat_chain_io(fs, dir.clusters, dir.cluster_count, 0, dir.data, dir.size, false, err);
	if (r < 0) {
		fat_dir_release(&dir);
		return herd_error_prefix(err, r, "FAT: reading directory %s", what);
	}
	*ret = dir;
	return 0;
}

void fat_dir_release(struct fat_dir *dir)
{
	free(dir->clusters);
	free(dir->data);
	dir->clusters = NULL;
	dir->data = NULL;
}

uint64_t fat_dir_slot_offset(const struct fat_fs *fs, const struct fat_dir *dir, size_t slot)
{
	uint64_t byte = (uint64_t)slot * FAT_DIRENT_SIZE;

	if (dir->fixed_root)
		return fs->g.root_offset + byte;
	return fat_cluster_offset(fs, dir->clusters[byte / fs->g.cluster_size]) +
	       byte % fs->g.cluster_size;
}

static bool is_dot_entry(const uint8_t *e)
{
	return memcmp(e, ".          ", 11) == 0 || memcmp(e, "..         ", 11) == 0;
}

int fat_dir_next(struct fat_fs *fs, const struct fat_dir *dir, size_t *pos, struct fat_node *node)
{
	uint16_t units[FAT_LFN_MAX_SLOTS * FAT_LFN_CHARS];
	unsigned next_ord = 0, total = 0;
	bool in_lfn = false;
	uint8_t sum = 0;
	size_t lfn_start = 0;

	for (; *pos + FAT_DIRENT_SIZE <= dir->size; *pos += FAT_DIRENT_SIZE) {
		const uint8_t *e = dir->data + *pos;
		size_t slot = *pos / FAT_DIRENT_SIZE;

		if (e[0] == 0) {
			*pos = dir->size; /* fatgen103: 0x00 ends the directory */
			return 0;
		}
		if (e[0] == FAT_DELETED) {
			in_lfn = false;
			continue;
		}
		if ((e[11] & 0x3f) == FAT_ATTR_LONG_NAME) {
			unsigned ord = e[0] & 0x1f;
			if (e[0] & FAT_LFN_LAST) {
				if (ord < 1 || ord > FAT_LFN_MAX_SLOTS) {
					in_lfn = false;
					continue;
				}
				in_lfn = true;
				total = ord;
				next_ord = ord;
				sum = e[13];
				lfn_start = slot;
			} else if (!in_lfn || ord != next_ord || ord == 0 || e[13] != sum) {
				in_lfn = false;
				continue;
			}
			for (size_t i = 0; i < FAT_LFN_CHARS; i++)
				units[(ord - 1) * FAT_LFN_CHARS + i] =
				    fat_le16(e, FAT_DIRENT_SIZE, lfn_unit_offsets[i]);
			next_ord--;
			continue;
		}
		if ((e[11] & FAT_ATTR_VOLUME_ID) || is_dot_entry(e)) {
			in_lfn = false;
			continue;
		}

		memset(node, 0, sizeof(*node));
		memcpy(node->entry, e, FAT_DIRENT_SIZE);
		node->parent_cluster = dir->first_cluster;
		node->slot_short = slot;
		node->slot_first = slot;
		node->name[0] = '\0';
		if (in_lfn && next_ord == 0 && sum == fat_lfn_checksum(e)) {
			size_t n = 0;
			while (n < total * FAT_LFN_CHARS && units[n] != 0)
				n++;
			if (n <= FAT_LFN_MAX_UNITS &&
			    fat_utf16_to_name(units, n, node->name, sizeof(node->name)) == 0)
				node->slot_first = lfn_start;
			else
				node->name[0] = '\0';
		}
		if (!node->name[0])
			fat_short_to_name(e, e[12], node->name, sizeof(node->name));
		node->slot_count = node->slot_short - node->slot_first + 1;
		for (size_t i = 0; i < node->slot_count; i++)
			node->slot_offsets[i] = fat_dir_slot_offset(fs, dir, node->slot_first + i);
		*pos += FAT_DIRENT_SIZE;
		return 1;
	}
	return 0;
}

int fat_dir_find(struct fat_fs *fs, const struct fat_dir *dir, const char *name,
		 struct fat_node *ret)
{
	struct fat_node node;
	size_t pos = 0;

	while (fat_dir_next(fs, dir, &pos, &node) == 1) {
		char short_name[16];
		if (fat_name_equal(node.name, name)) {
			*ret = node;
			return 0;
		}
		fat_short_to_name(node.entry, 0, short_name, sizeof(short_name));
		if (fat_name_equal(short_name, name)) {
			*ret = node;
			return 0;
		}
	}
	return -ENOENT;
}

int fat_lookup(struct fat_fs *fs, const char *path, struct fat_node *ret, struct herd_error *err)
{
	struct fat_node node = {.is_root = true};
	const char *p = path;
	char component[FAT_NAME_MAX_UTF8];
	int r;

	if (path[0] != '/')
		return herd_error_set(err, EINVAL, "FAT: path '%s' is not absolute", path);
	while (*p == '/')
		p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct fat_dir dir;
		if (len >= sizeof(component))
			return herd_error_set(err, ENAMETOOLONG, "FAT: %s: name too long", path);
		memcpy(component, p, len);
		component[len] = '\0';
		if (!fat_node_is_dir(&node))
			return herd_error_set(err, ENOTDIR, "FAT: %s: a parent is not a directory",
					      path);
		r = fat_dir_load(fs, fat_node_cluster(fs, &node), path, &dir, err);
		if (r < 0)
			return r;
		r = fat_dir_find(fs, &dir, component, &node);
		fat_dir_release(&dir);
		if (r < 0)
			return herd_error_set(err, ENOENT, "FAT: %s: no such file or directory",
					      path);
		/* A directory entry pointing at cluster 0 means the root ('..'
		 * entries do so); anything else must be a valid cluster. */
		if (fat_node_is_dir(&node) && fat_node_cluster(fs, &node) == 0)
			return herd_error_set(err, EIO, "FAT: %s: directory without clusters",
					      path);
		p += len;
		while (*p == '/')
			p++;
	}
	*ret = node;
	return 0;
}

int fat_lookup_parent(struct fat_fs *fs, const char *path, struct fat_node *ret_parent,
		      const char **ret_name, struct herd_error *err)
{
	const char *slash = strrchr(path, '/');
	struct fat_node node;
	char *parent;
	int r;

	if (!slash || slash[1] == '\0')
		return herd_error_set(err, EINVAL, "FAT: '%s' has no name", path);
	parent = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!parent)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	r = fat_lookup(fs, parent, &node, err);
	if (r >= 0 && !fat_node_is_dir(&node))
		r = herd_error_set(err, ENOTDIR, "FAT: %s: not a directory", parent);
	free(parent);
	if (r < 0)
		return r;
	*ret_parent = node;
	*ret_name = slash + 1;
	return 0;
}

/* Every short name in the directory (11 bytes each) for collision checks. */
static int collect_short_names(const struct fat_dir *dir, uint8_t **ret, size_t *ret_count)
{
	size_t count = 0, slots = dir->size / FAT_DIRENT_SIZE;
	uint8_t *names = malloc(slots * 11 + 1);

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < slots; i++) {
		const uint8_t *e = dir->data + i * FAT_DIRENT_SIZE;
		if (e[0] == 0)
			break;
		if (e[0] == FAT_DELETED || (e[11] & 0x3f) == FAT_ATTR_LONG_NAME)
			continue;
		memcpy(names + 11 * count++, e, 11);
	}
	*ret = names;
	*ret_count = count;
	return 0;
}

int fat_dir_plan(struct fat_fs *fs, const struct fat_dir *dir, const char *name,
		 const uint8_t tmpl[FAT_DIRENT_SIZE], struct fat_entry_plan *ret,
		 struct herd_error *err)
{
	uint16_t units[FAT_LFN_MAX_UNITS];
	uint8_t short_name[11], nt = 0, sum, *names;
	size_t n, name_count, lfn_slots = 0, need, slots, run = 0, found = SIZE_MAX;
	bool needs_lfn;
	struct fat_entry_plan plan = {0};
	int r;

	r = fat_name_to_utf16(name, units, &n, err);
	if (r < 0)
		return r;
	if (collect_short_names(dir, &names, &name_count) < 0)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	r = fat_make_short_name(units, n, names, name_count, short_name, &nt, &needs_lfn, err);
	free(names);
	if (r < 0)
		return r;

	if (needs_lfn)
		lfn_slots = (n + FAT_LFN_CHARS - 1) / FAT_LFN_CHARS;
	sum = fat_lfn_checksum(short_name);
	for (size_t s = 0; s < lfn_slots; s++) {
		uint8_t *e = plan.slots[s];
		size_t ord = lfn_slots - s; /* stored last-first */
		e[0] = (uint8_t)(ord | (s == 0 ? FAT_LFN_LAST : 0));
		e[11] = FAT_ATTR_LONG_NAME;
		e[13] = sum;
		for (size_t i = 0; i < FAT_LFN_CHARS; i++) {
			size_t u = (ord - 1) * FAT_LFN_CHARS + i;
			uint16_t v = u < n ? units[u] : u == n ? 0x0000 : 0xffff;
			fat_put16(e, FAT_DIRENT_SIZE, lfn_unit_offsets[i], v);
		}
	}
	memcpy(plan.slots[lfn_slots], tmpl, FAT_DIRENT_SIZE);
	memcpy(plan.slots[lfn_slots], short_name, 11);
	plan.slots[lfn_slots][12] =
	    (uint8_t)((tmpl[12] & ~(FAT_NT_LOWER_BASE | FAT_NT_LOWER_EXT)) | nt);
	plan.slot_count = need = lfn_slots + 1;

	/* First run of `need` free slots; after the 0x00 end marker every
	 * slot is free. */
	slots = dir->size / FAT_DIRENT_SIZE;
	plan.end_slot = slots;
	bool ended = false;
	for (size_t i = 0; i < slots; i++) {
		const uint8_t *e = dir->data + i * FAT_DIRENT_SIZE;
		if (e[0] == 0 && !ended) {
			ended = true;
			plan.end_slot = i;
		}
		if (ended || e[0] == FAT_DELETED) {
			if (++run == need) {
				found = i + 1 - need;
				break;
			}
		} else {
			run = 0;
		}
	}
	if (found != SIZE_MAX) {
		plan.slot_index = found;
	} else {
		size_t missing = need - run;
		if (dir->fixed_root)
			return herd_error_set(err, ENOSPC, "FAT: root directory full");
		if (slots + missing > FAT_DIR_MAX_ENTRIES)
			return herd_error_set(err, ENOSPC, "FAT: directory full (65536 entries)");
		plan.slot_index = slots - run;
		plan.grow_clusters =
		    (missing * FAT_DIRENT_SIZE + fs->g.cluster_size - 1) / fs->g.cluster_size;
	}
	*ret = plan;
	return 0;
}

int fat_dir_commit(struct fat_fs *fs, struct fat_dir *dir, struct fat_entry_plan *plan,
		   const uint32_t *new_clusters, uint64_t *ret_offset, struct herd_error *err)
{
	int r;

	if (plan->grow_clusters) {
		uint32_t *all = realloc(dir->clusters,
					(dir->cluster_count + plan->grow_clusters) * sizeof(*all));
		if (!all)
			return herd_error_set(err, ENOMEM, "FAT: out of memory");
		dir->clusters = all;
		r = fat_zero_clusters(fs, new_clusters, plan->grow_clusters, err);
		if (r < 0)
			return r;
		r = fat_chain_link(fs, dir->clusters[dir->cluster_count - 1], new_clusters,
				   plan->grow_clusters, err);
		if (r < 0)
			return r;
		memcpy(dir->clusters + dir->cluster_count, new_clusters,
		       plan->grow_clusters * sizeof(*all));
		dir->cluster_count += plan->grow_clusters;
		plan->grow_clusters = 0;
	}
	/* Entries placed past the old end marker: whatever follows them must
	 * still read as the end (fatgen103: everything after a 0x00 entry is
	 * free, but may hold stale bytes), so zero the next slot's first byte. */
	size_t next = plan->slot_index + plan->slot_count;
	if (next > plan->end_slot && next < dir->size / FAT_DIRENT_SIZE &&
	    dir->data[next * FAT_DIRENT_SIZE] != 0) {
		const uint8_t zero = 0;
		r = blockdev_pwrite(fs->bd, &zero, 1, fat_dir_slot_offset(fs, dir, next), err);
		if (r < 0)
			return herd_error_prefix(err, r, "FAT: writing directory entry");
	}
	for (size_t i = 0; i < plan->slot_count; i++) {
		uint64_t off = fat_dir_slot_offset(fs, dir, plan->slot_index + i);
		r = blockdev_pwrite(fs->bd, plan->slots[i], FAT_DIRENT_SIZE, off, err);
		if (r < 0)
			return herd_error_prefix(err, r, "FAT: writing directory entry");
		if (i + 1 == plan->slot_count)
			*ret_offset = off;
	}
	fs->dirty = true;
	return 0;
}

int fat_dir_remove(struct fat_fs *fs, const struct fat_node *node, struct herd_error *err)
{
	const uint8_t deleted = FAT_DELETED;
	int r;

	for (size_t i = 0; i < node->slot_count; i++) {
		r = blockdev_pwrite(fs->bd, &deleted, 1, node->slot_offsets[i], err);
		if (r < 0)
			return herd_error_prefix(err, r, "FAT: removing directory entry");
	}
	fs->dirty = true;
	return 0;
}

int fat_node_store(struct fat_fs *fs, const struct fat_node *node, struct herd_error *err)
{
	int r;

	if (node->is_root)
		return 0;
	r = blockdev_pwrite(fs->bd, node->entry, FAT_DIRENT_SIZE,
			    node->slot_offsets[node->slot_count - 1], err);
	if (r < 0)
		return herd_error_prefix(err, r, "FAT: writing directory entry");
	fs->dirty = true;
	return 0;
}

void fat_node_set_cluster(struct fat_fs *fs, struct fat_node *n, uint32_t c)
{
	fat_put16(n->entry, FAT_DIRENT_SIZE, 26, (uint16_t)c);
	fat_put16(n->entry, FAT_DIRENT_SIZE, 20, fs->g.type == FAT32 ? (uint16_t)(c >> 16) : 0);
}

int fat_dir_is_empty(struct fat_fs *fs, uint32_t first_cluster, const char *what,
		     struct herd_error *err)
{
	struct fat_dir dir;
	struct fat_node node;
	size_t pos = 0;
	int r;

	r = fat_dir_load(fs, first_cluster, what, &dir, err);
	if (r < 0)
		return r;
	r = fat_dir_next(fs, &dir, &pos, &node) == 1 ? 0 : 1;
	fat_dir_release(&dir);
	return r;
}

void fat_node_stat(const struct fat_fs *fs, const struct fat_node *node, struct vfs_stat *ret)
{
	struct vfs_stat st = {0};
	const uint8_t *e = node->entry;

	st.nlink = 1;
	if (node->is_root) {
		st.type = VFS_DIR;
		st.mode = 0755;
		st.nlink = 2;
		*ret = st;
		return;
	}
	st.type = (e[11] & FAT_ATTR_DIRECTORY) ? VFS_DIR : VFS_FILE;
	st.mode = st.type == VFS_DIR ? 0755 : 0644;
	if (e[11] & FAT_ATTR_READ_ONLY)
		st.mode &= ~0222u;
	st.size = st.type == VFS_DIR ? 0 : fat_le32(e, FAT_DIRENT_SIZE, 28);
	st.ino = fat_node_cluster(fs, node);
	st.mtime =
	    fat_time_decode(fat_le16(e, FAT_DIRENT_SIZE, 24), fat_le16(e, FAT_DIRENT_SIZE, 22));
	st.atime = fat_time_decode(fat_le16(e, FAT_DIRENT_SIZE, 18), 0);
	st.ctime =
	    fat_time_decode(fat_le16(e, FAT_DIRENT_SIZE, 16), fat_le16(e, FAT_DIRENT_SIZE, 14));
	*ret = st;
}
