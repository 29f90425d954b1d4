/*
 * test_fat_model.c — randomized model test of the FAT driver.
 *
 * For each FAT type, HERD_FAT_MODEL_OPS (default 1200) random operations
 * (create/overwrite/append/truncate/unlink/mkdir/rmdir/rename) run against
 * herd and against an in-memory model of the tree.  Names mix 8.3 names in
 * both cases, spaces, Unicode (BMP and non-BMP), "Long Name N.txt" short
 * name collisions and a 255-character name; sizes hit 0, 1, cluster-1,
 * cluster, cluster+1 and several MiB.  Every operation's return code is
 * checked against the model (-ENOSPC is accepted and must change nothing),
 * the touched file is read back, the whole tree is compared every 100
 * operations, and every 400 the image is unmounted, checked with
 * fsck.fat -n and remounted.  At the end mtools must list exactly the
 * model's tree and return every file's bytes (names with non-BMP
 * characters are compared through herd only: mtools 4.0 truncates them).
 *
 * Seed: HERD_TEST_SEED or the time; it is printed first and on failure.
 */
#include "test_fat_util.h"

#include <time.h>

#include "base/parse.h"

#define MAX_NODES    400
#define PATH_MAX_LEN 1400

struct mnode {
	bool used, dir;
	char path[PATH_MAX_LEN];
	uint8_t *data;
	size_t len;
};

struct model {
	struct mnode n[MAX_NODES];
	uint64_t rng;
	uint32_t cluster;
	void *fs;
	char dir[64], img[128];
	unsigned long long seed;
	int op;
	int ok, enospc, refused; /* outcome tally, printed at the end */
};

static void tally(struct model *m, int r)
{
	if (r == 0)
		m->ok++;
	else if (r == -ENOSPC)
		m->enospc++;
	else
		m->refused++;
}

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static uint64_t below(struct model *m, uint64_t n)
{
	return n ? rnd(m) % n : 0;
}

#define CHECK(m, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "seed %llu op %d: ", (m)->seed, (m)->op);                  \
			fail_msg(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

static bool path_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
		if (!x)
			return true;
	}
}

/* Is `path` equal to `dir` or below it (case-insensitive)? */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	char prefix[PATH_MAX_LEN];

	if (strlen(path) < n)
		return false;
	memcpy(prefix, path, n);
	prefix[n] = '\0';
	return path_equal(prefix, dir) && (path[n] == '\0' || path[n] == '/');
}

static void parent_of(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == path ? 1 : (size_t)(slash - path);

	memcpy(out, path, n);
	out[n] = '\0';
}

static struct mnode *find(struct model *m, const char *path)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (m->n[i].used && path_equal(m->n[i].path, path))
			return &m->n[i];
	return NULL;
}

static bool has_children(struct model *m, const char *dir)
{
	char parent[PATH_MAX_LEN];

	for (int i = 0; i < MAX_NODES; i++) {
		if (!m->n[i].used)
			continue;
		parent_of(m->n[i].path, parent);
		if (path_equal(parent, dir))
			return true;
	}
	return false;
}

static struct mnode *add(struct model *m, const char *path, bool dir)
{
	for (int i = 0; i < MAX_NODES; i++) {
		if (!m->n[i].used) {
			struct mnode *n = &m->n[i];
			memset(n, 0, sizeof(*n));
			n->used = true;
			n->dir = dir;
			snprintf(n->path, sizeof(n->path), "%s", path);
			return n;
		}
	}
	return NULL;
}

static void drop(struct mnode *n)
{
	free(n->data);
	memset(n, 0, sizeof(*n));
}

static int node_count(struct model *m)
{
	int c = 0;

	for (int i = 0; i < MAX_NODES; i++)
		c += m->n[i].used;
	return c;
}

/* A random existing node; dirs_only selects directories (root included
 * as NULL when allowed). */
static struct mnode *pick(struct model *m, int want) /* 0 any, 1 file, 2 dir */
{
	int candidates[MAX_NODES], count = 0;

	for (int i = 0; i < MAX_NODES; i++)
		if (m->n[i].used && (want == 0 || (want == 1) == !m->n[i].dir))
			candidates[count++] = i;
	return count ? &m->n[candidates[below(m, (uint64_t)count)]] : NULL;
}

static const char *names[] = {
    "a.txt",
    "config.txt",
    "README",
    "Long Name 1.txt",
    "Long Name 2.txt",
    "Long Name 3.txt",
    "with space",
    "grüße.txt",
    "日本語ファイル.txt",
    "emoji\xf0\x9f\x98\x80.bin",
    "x",
    "UPPER.TXT",
    "MiXeD.TxT",
    "mixed.txt",
    "dir",
    "sub dir",
    ".dotfile",
    "a.b.c.d",
    "cmdline.txt",
    "Ab",
    "LONG255",
};

static void random_name(struct model *m, char *out, size_t len)
{
	const char *n = names[below(m, sizeof(names) / sizeof(names[0]))];

	if (strcmp(n, "LONG255") == 0) {
		char buf[256];
		for (int i = 0; i < 255; i++)
			buf[i] = (char)('A' + (i * 7) % 26);
		buf[255] = '\0';
		snprintf(out, len, "%s", buf);
		return;
	}
	snprintf(out, len, "%s", n);
}

/* A random directory path (root or a model dir). */
static void random_dir(struct model *m, char *out)
{
	struct mnode *d = below(m, 3) == 0 ? NULL : pick(m, 2);

	snprintf(out, PATH_MAX_LEN, "%s", d ? d->path : "/");
}

static bool join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX_LEN, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);

	return n > 0 && n < PATH_MAX_LEN - 300;
}

static size_t random_size(struct model *m)
{
	uint32_t cs = m->cluster;

	switch (below(m, 10)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return cs - 1;
	case 3:
		return cs;
	case 4:
		return cs + 1;
	case 5:
		return below(m, 50) == 0 ? 2 * 1024 * 1024 + below(m, 2 * 1024 * 1024) : 3 * cs;
	default:
		return below(m, 3 * cs);
	}
}

static uint8_t *random_data(struct model *m, size_t len)
{
	uint8_t *d = malloc(len + 1);

	fill_pattern(d, len, (uint32_t)rnd(m));
	return d;
}

static void check_file(struct model *m, const struct mnode *n)
{
	struct herd_error err = {0};
	struct vfs_stat st;
	uint8_t *buf;
	size_t got = 0;
	int r;

	r = vfs_fat_ops.lstat(m->fs, n->path, &st, &err);
	CHECK(m, r == 0, "lstat %s: %s", n->path, err.message);
	CHECK(m, (st.type == VFS_DIR) == n->dir, "%s: type differs", n->path);
	if (n->dir)
		return;
	CHECK(m, st.size == n->len, "%s: size %llu, model %zu", n->path,
	      (unsigned long long)st.size, n->len);
	buf = malloc(n->len + 1);
	r = vfs_fat_ops.read(m->fs, n->path, 0, buf, n->len + 1, &got, &err);
	CHECK(m, r == 0 && got == n->len, "read %s: %d %s", n->path, r, err.message);
	CHECK(m, memcmp(buf, n->data, n->len) == 0, "%s: content differs", n->path);
	free(buf);
}

struct dir_names {
	char names[MAX_NODES][300];
	int count;
};

static int collect_names(void *userdata, const struct vfs_dirent *e)
{
	struct dir_names *d = userdata;

	if (d->count < MAX_NODES)
		snprintf(d->names[d->count++], sizeof(d->names[0]), "%s", e->name);
	return 0;
}

static void check_dir(struct model *m, const char *dir)
{
	struct herd_error err = {0};
	struct dir_names *d = calloc(1, sizeof(*d));
	char parent[PATH_MAX_LEN];
	int expected = 0, r;

	r = vfs_fat_ops.readdir(m->fs, dir, collect_names, d, &err);
	CHECK(m, r == 0, "readdir %s: %s", dir, err.message);
	for (int i = 0; i < MAX_NODES; i++) {
		const char *name;
		bool found = false;
		if (!m->n[i].used)
			continue;
		parent_of(m->n[i].path, parent);
		if (!path_equal(parent, dir))
			continue;
		expected++;
		name = strrchr(m->n[i].path, '/') + 1;
		for (int j = 0; j < d->count; j++)
			found |= strcmp(d->names[j], name) == 0;
		CHECK(m, found, "%s missing from readdir of %s", name, dir);
	}
	CHECK(m, expected == d->count, "%s: readdir gave %d entries, model %d", dir, d->count,
	      expected);
	free(d);
}

static void check_tree(struct model *m)
{
	check_dir(m, "/");
	for (int i = 0; i < MAX_NODES; i++) {
		if (!m->n[i].used)
			continue;
		check_file(m, &m->n[i]);
		if (m->n[i].dir)
			check_dir(m, m->n[i].path);
	}
}

static void expect_rc(struct model *m, const char *what, int r, int want,
		      const struct herd_error *err)
{
	CHECK(m, r == want, "%s: got %d (%s), want %d", what, r, err->message, want);
}

static void op_write(struct model *m)
{
	struct herd_error err = {0};
	char dir[PATH_MAX_LEN], name[300], path[PATH_MAX_LEN];
	struct mnode *n;
	size_t len = random_size(m);
	uint8_t *data;
	int r, mode = (int)below(m, 4); /* 0 create/trunc, 1 append, 2 overwrite, 3 excl */
	unsigned flags;

	if (mode == 0 || mode == 3 || !(n = pick(m, 1))) {
		random_dir(m, dir);
		random_name(m, name, sizeof(name));
		if (!join(path, dir, name))
			return;
		n = find(m, path);
		flags = VFS_WRITE_CREATE | (mode == 3 ? VFS_WRITE_EXCL : VFS_WRITE_TRUNCATE);
	} else {
		snprintf(path, sizeof(path), "%s", n->path);
		flags = mode == 1 ? VFS_WRITE_APPEND : 0;
	}
	data = random_data(m, len);
	r = vfs_fat_ops.write(m->fs, path, data, len, flags, 0644, 0, 0, &err);
	tally(m, r);
	if (n && n->dir) {
		expect_rc(m, path, r, (flags & VFS_WRITE_EXCL) ? -EEXIST : -EISDIR, &err);
	} else if (n && (flags & VFS_WRITE_EXCL)) {
		expect_rc(m, path, r, -EEXIST, &err);
	} else if (r == -ENOSPC) {
		struct vfs_stat st;
		/* nothing may have changed: checked below, or still absent */
		if (!n)
			CHECK(m, vfs_fat_ops.lstat(m->fs, path, &st, &err) == -ENOENT,
			      "%s created despite ENOSPC", path);
	} else {
		expect_rc(m, path, r, 0, &err);
		if (!n) {
			n = add(m, path, false);
			CHECK(m, n, "model full");
		}
		if (flags & VFS_WRITE_APPEND) {
			n->data = realloc(n->data, n->len + len + 1);
			memcpy(n->data + n->len, data, len);
			n->len += len;
		} else if (flags & VFS_WRITE_TRUNCATE || !n->data) {
			free(n->data);
			n->data = data;
			n->len = len;
			data = NULL;
		} else {
			if (len > n->len) {
				n->data = realloc(n->data, len + 1);
				n->len = len;
			}
			memcpy(n->data, data, len);
		}
	}
	free(data);
	if (n && !n->dir)
		check_file(m, n);
}

static void op_truncate(struct model *m)
{
	struct herd_error err = {0};
	struct mnode *n = pick(m, 1);
	size_t len;
	int r;

	if (!n)
		return;
	len = below(m, 2) ? below(m, n->len + 1) : n->len + random_size(m);
	r = vfs_fat_ops.truncate(m->fs, n->path, len, &err);
	tally(m, r);
	if (r == -ENOSPC && len > n->len)
		return check_file(m, n);
	expect_rc(m, "truncate", r, 0, &err);
	n->data = realloc(n->data, len + 1);
	if (len > n->len)
		memset(n->data + n->len, 0, len - n->len);
	n->len = len;
	check_file(m, n);
}

static void op_unlink(struct model *m)
{
	struct herd_error err = {0};
	struct mnode *n = pick(m, 0);
	int r;

	if (!n)
		return;
	r = vfs_fat_ops.unlink(m->fs, n->path, &err);
	tally(m, r);
	if (n->dir) {
		expect_rc(m, n->path, r, -EISDIR, &err);
		return;
	}
	expect_rc(m, n->path, r, 0, &err);
	struct vfs_stat st;
	CHECK(m, vfs_fat_ops.lstat(m->fs, n->path, &st, &err) == -ENOENT, "%s still there",
	      n->path);
	drop(n);
}

static void op_mkdir(struct model *m)
{
	struct herd_error err = {0};
	char dir[PATH_MAX_LEN], name[300], path[PATH_MAX_LEN];
	struct mnode *n;
	int r;

	random_dir(m, dir);
	random_name(m, name, sizeof(name));
	if (!join(path, dir, name) || strlen(path) > 600)
		return;
	n = find(m, path);
	r = vfs_fat_ops.mkdir(m->fs, path, 0755, 0, 0, &err);
	tally(m, r);
	if (n) {
		expect_rc(m, path, r, -EEXIST, &err);
		return;
	}
	if (r == -ENOSPC)
		return;
	expect_rc(m, path, r, 0, &err);
	n = add(m, path, true);
	CHECK(m, n, "model full");
	check_file(m, n);
}

static void op_rmdir(struct model *m)
{
	struct herd_error err = {0};
	struct mnode *n = pick(m, 2);
	int r;

	if (!n)
		return;
	r = vfs_fat_ops.rmdir(m->fs, n->path, &err);
	tally(m, r);
	if (has_children(m, n->path)) {
		expect_rc(m, n->path, r, -ENOTEMPTY, &err);
		return;
	}
	expect_rc(m, n->path, r, 0, &err);
	drop(n);
}

static void op_rename(struct model *m)
{
	struct herd_error err = {0};
	char dir[PATH_MAX_LEN], name[300], to[PATH_MAX_LEN], from[PATH_MAX_LEN];
	struct mnode *src = pick(m, 0), *dst;
	int r, want = 0;

	if (!src)
		return;
	random_dir(m, dir);
	random_name(m, name, sizeof(name));
	if (!join(to, dir, name) || strlen(to) > 600)
		return;
	snprintf(from, sizeof(from), "%s", src->path);
	dst = find(m, to);
	if (src->dir && path_within(dir, src->path))
		want = -EINVAL;
	else if (dst && dst != src) {
		if (dst->dir && !src->dir)
			want = -EISDIR;
		else if (!dst->dir && src->dir)
			want = -ENOTDIR;
		else if (dst->dir && has_children(m, dst->path))
			want = -ENOTEMPTY;
	}
	r = vfs_fat_ops.rename(m->fs, from, to, &err);
	tally(m, r);
	if (r == -ENOSPC && want == 0)
		return;
	expect_rc(m, "rename", r, want, &err);
	if (want)
		return;
	if (dst && dst != src)
		drop(dst);
	/* Move src and, for a directory, everything below it. */
	size_t old_len = strlen(from);
	for (int i = 0; i < MAX_NODES; i++) {
		struct mnode *n = &m->n[i];
		char moved[PATH_MAX_LEN * 2];
		if (!n->used || !path_within(n->path, from))
			continue;
		snprintf(moved, sizeof(moved), "%s%s", to, n->path + old_len);
		CHECK(m, strlen(moved) < PATH_MAX_LEN, "path too long");
		memcpy(n->path, moved, strlen(moved) + 1);
	}
	check_file(m, src);
	struct vfs_stat st;
	if (!path_equal(from, to))
		CHECK(m, vfs_fat_ops.lstat(m->fs, from, &st, &err) == -ENOENT, "%s still there",
		      from);
}

static bool has_non_bmp(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s & 0xf8) == 0xf0)
			return true;
	return false;
}

/* mtools must see exactly the model's tree and bytes. */
static void check_with_mtools(struct model *m)
{
	char *tree = mtools_tree(m->img), line[PATH_MAX_LEN + 8];
	int lines = 0, expected = 0;

	for (char *p = tree; *p; p++)
		lines += *p == '\n';
	for (int i = 0; i < MAX_NODES; i++) {
		struct mnode *n = &m->n[i];
		if (!n->used)
			continue;
		expected++;
		if (has_non_bmp(n->path))
			continue;
		snprintf(line, sizeof(line), "::%s%s", n->path, n->dir ? "/" : "");
		CHECK(m, line_present(tree, line), "mtools does not list %s", line);
		if (!n->dir) {
			size_t len;
			uint8_t *data = mtools_get(m->dir, m->img, n->path, &len);
			CHECK(m, len == n->len && memcmp(data, n->data, len) == 0,
			      "mtools reads %s differently", n->path);
			free(data);
		}
	}
	CHECK(m, lines == expected, "mtools lists %d entries, model has %d", lines, expected);
	free(tree);
}

static void remount(struct model *m)
{
	fat_close(m->fs);
	fsck_clean(m->img);
	m->fs = fat_open(m->img, true);
}

static void run_model(int type, unsigned kib, const char *mkfs_extra)
{
	struct model *m = calloc(1, sizeof(*m));
	struct herd_error err = {0};
	struct vfs_info info;
	const char *seed_env = getenv("HERD_TEST_SEED"), *ops_env = getenv("HERD_FAT_MODEL_OPS");
	uint64_t seed = (uint64_t)time(NULL);
	uint32_t ops = 1200;

	if (seed_env && parse_u64(seed_env, 0, UINT64_MAX, &seed) < 0)
		fail_msg("HERD_TEST_SEED is not a number");
	if (ops_env && parse_u32(ops_env, 1, 1000000, &ops) < 0)
		fail_msg("HERD_FAT_MODEL_OPS is not a number");
	m->seed = seed;
	m->rng = m->seed * 2654435761u + (uint64_t)type;
	if (!m->rng)
		m->rng = 1;
	printf("# FAT%d model: seed %llu, %u ops\n", type, m->seed, ops);
	snprintf(m->dir, sizeof(m->dir), "/tmp/herd-test-fat-model-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->img, sizeof(m->img), "%s/fat.img", m->dir);
	make_image(m->img, type, kib, mkfs_extra);
	m->fs = fat_open(m->img, true);
	assert_int_equal(vfs_fat_ops.info(m->fs, &info, &err), 0);
	m->cluster = info.block_size;

	for (m->op = 0; m->op < (int)ops; m->op++) {
		uint64_t what = below(m, 100);
		if (what < 35)
			op_write(m);
		else if (what < 45)
			op_truncate(m);
		else if (what < 58)
			op_unlink(m);
		else if (what < 72)
			op_mkdir(m);
		else if (what < 82)
			op_rmdir(m);
		else
			op_rename(m);
		if (m->op % 100 == 99)
			check_tree(m);
		if (m->op % 400 == 399)
			remount(m);
	}
	check_tree(m);
	printf("# FAT%d model: %d nodes at the end; %d ops succeeded, %d ENOSPC, %d refused "
	       "as expected\n",
	       type, node_count(m), m->ok, m->enospc, m->refused);
	CHECK(m, m->ok > (int)ops / 3, "too few operations succeeded");
	fat_close(m->fs);
	fsck_clean(m->img);
	check_with_mtools(m);
	for (int i = 0; i < MAX_NODES; i++)
		if (m->n[i].used)
			drop(&m->n[i]);
	tmpdir_remove(m->dir);
	free(m);
}

static void test_model_fat12(void **state)
{
	run_model(12, 8192, "-s 4 -S 512");
}

/* 512-byte clusters on 2 MiB: cluster boundaries everywhere, and the
 * multi-MiB writes run into -ENOSPC. */
static void test_model_fat12_small(void **state)
{
	run_model(12, 2048, "-s 1 -S 512");
}

static void test_model_fat16(void **state)
{
	run_model(16, 32768, "-s 2 -S 512");
}

static void test_model_fat32(void **state)
{
	run_model(32, 65536, "-s 1 -S 512");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_fat12),
	    cmocka_unit_test(test_model_fat12_small),
	    cmocka_unit_test(test_model_fat16),
	    cmocka_unit_test(test_model_fat32),
	};

	tool_env();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
