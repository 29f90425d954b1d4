/*
 * fat_check.c — the whole-volume consistency check run before the first
 * change to a FAT filesystem: every cluster may belong to one chain only.
 *
 * Reading one file cannot tell that another file shares its clusters
 * ("cross-linked"): both chains look well formed.  Writing to such a file
 * would silently corrupt the other, so a writable mount first walks the
 * whole tree once, marks each chain's clusters in a bitmap, and refuses
 * with a message naming both owners when a cluster is claimed twice.
 * Loops and out-of-range links are caught by fat_chain_collect on the way.
 * Cost: one pass over directory entries and the FAT (already cached for
 * the allocation that follows) — a Raspberry Pi boot partition with a few
 * hundred files takes well under a millisecond of CPU.
 *
 * It does not check free-count, lost clusters (allocated but unowned:
 * harmless for writing, fsck.fat reclaims them) or long-name consistency.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fat_internal.h"

#define FAT_CHECK_MAX_DEPTH 64
#define FAT_CHECK_PATH_MAX  4096

struct fat_check {
	struct fat_fs *fs;
	uint8_t *bitmap; /* one bit per data cluster */
	struct herd_error *err;
};

static bool test_and_set(uint8_t *bitmap, uint32_t index)
{
	bool was = bitmap[index / 8] & (1u << (index % 8));
	bitmap[index / 8] |= (uint8_t)(1u << (index % 8));
	return was;
}

/* Mark a chain; -EIO naming `path` when a cluster is already taken. */
static int mark_chain(struct fat_check *c, const uint32_t *chain, size_t count, const char *path)
{
	for (size_t i = 0; i < count; i++) {
		if (test_and_set(c->bitmap, chain[i] - 2))
			return herd_error_set(
			    c->err, EIO,
			    "FAT: cross-linked clusters: %s uses cluster %u, which "
			    "another file or directory also uses (run fsck.fat)",
			    path, chain[i]);
	}
	return 0;
}

static int walk_dir(struct fat_check *c, uint32_t first_cluster, char *path, size_t pathlen,
		    int depth)
{
	struct fat_dir dir;
	struct fat_node node;
	size_t pos = 0;
	int r;

	if (depth > FAT_CHECK_MAX_DEPTH)
		return herd_error_set(c->err, EIO, "FAT: directories nested deeper than %d at %s",
				      FAT_CHECK_MAX_DEPTH, path[0] ? path : "/");
	r = fat_dir_load(c->fs, first_cluster, path[0] ? path : "/", &dir, c->err);
	if (r < 0)
		return r;
	if (!dir.fixed_root)
		r = mark_chain(c, dir.clusters, dir.cluster_count, path[0] ? path : "/");
	while (r == 0 && fat_dir_next(c->fs, &dir, &pos, &node) == 1) {
		uint32_t first = fat_node_cluster(c->fs, &node);
		size_t n = strlen(node.name);

		if (pathlen + 1 + n + 1 > FAT_CHECK_PATH_MAX) {
			r = herd_error_set(c->err, ENAMETOOLONG, "FAT: path too long under %s",
					   path);
			break;
		}
		path[pathlen] = '/';
		memcpy(path + pathlen + 1, node.name, n + 1);
		if (fat_node_is_dir(&node)) {
			if (first != 0)
				r = walk_dir(c, first, path, pathlen + 1 + n, depth + 1);
		} else if (first != 0) {
			uint32_t *chain = NULL;
			size_t count = 0;
			r = fat_chain_collect(c->fs, first, path, &chain, &count, c->err);
			if (r == 0)
				r = mark_chain(c, chain, count, path);
			free(chain);
		}
		path[pathlen] = '\0';
	}
	fat_dir_release(&dir);
	return r;
}

int fat_check_crosslinks(struct fat_fs *fs, struct herd_error *err)
{
	struct fat_check c = {.fs = fs, .err = err};
	char *path;
	int r;

	c.bitmap = calloc((fs->g.cluster_count + 7) / 8 + 1, 1);
	path = calloc(FAT_CHECK_PATH_MAX, 1);
	if (!c.bitmap || !path) {
		free(c.bitmap);
		free(path);
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	}
	r = walk_dir(&c, 0, path, 0, 0); /* 0: the root, fixed region or FAT32 chain */
	free(c.bitmap);
	free(path);
	return r;
}

/* The read-only check behind vfs_check(): cross-linked chains (and, on
 * the way, loops and links out of range), then FSInfo's free count, which
 * fsck.fat also compares with the FAT ("free cluster summary"). */
int fat_check(void *fsp, vfs_problem_cb cb, void *userdata, struct herd_error *err)
{
	struct fat_fs *fs = fsp;
	struct herd_error found = {0};
	uint32_t hint = fs->fsinfo_valid ? fs->free_count : FAT_FREE_UNKNOWN;
	bool hint_exact = fs->free_exact;
	char line[300];
	int problems = 0, r;

	r = fat_check_crosslinks(fs, &found);
	if (r == -ENOMEM)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	if (r < 0) {
		cb(userdata, herd_error_message(&found));
		problems++;
	}
	if (hint != FAT_FREE_UNKNOWN && !hint_exact) {
		r = fat_count_free(fs, err);
		if (r < 0)
			return r;
		if (fs->free_count != hint) {
			snprintf(line, sizeof(line),
				 "FAT: FSInfo says %u free clusters, the FAT has %u", hint,
				 fs->free_count);
			cb(userdata, line);
			problems++;
		}
	}
	return problems;
}
