/*
 * test_ext4_model.c — randomized model test of vfs_ext4_ops.
 *
 * Thousands of random operations (create, overwrite, append, truncate,
 * unlink, mkdir, rmdir, rename, symlink, hard link, chmod, chown) run against an
 * ext4 image with the Raspberry Pi OS feature set and, in parallel,
 * against a tiny in-memory model.  Every result code and the state of
 * every touched path is compared after each operation, and the whole tree
 * every 100 operations.  At the end the image must pass e2fsck -fn, and
 * debugfs (rdump + ls -p) must show exactly the model's tree: names,
 * types, modes, owners, sizes, contents and link targets.
 *
 * Sizes include 0, 1, block-1, block, block+1 and several MiB; names
 * include spaces, UTF-8 and 255-byte names.  The seed is printed; rerun
 * one with HERD_TEST_SEED=<seed>, and change the length with
 * HERD_TEST_OPS=<n>.
 */
#include <inttypes.h>
#include <time.h>

#include "base/macros.h"
#include "base/parse.h"
#include "ext4_testlib.h"

enum mtype { M_FILE = 1, M_DIR, M_LINK };

struct mnode {
	char *path;
	enum mtype type;
	uint8_t *data;
	size_t len;
	char *target;
	uint32_t mode, uid, gid;
	unsigned group; /* files: names of one inode (hard links) share it */
};

struct model {
	struct mnode *n;
	size_t count, cap;
	uint64_t rng;
	struct tfs t;
	char dir[256];
	char img[300];
	uint64_t ops;
	uint64_t bs;
	unsigned next_group;
};

static uint64_t rnd(struct model *m, uint64_t n)
{
	return n ? t_rng(&m->rng) % n : 0;
}

static struct mnode *find(struct model *m, const char *path)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->n[i].path, path) == 0)
			return &m->n[i];
	return NULL;
}

static struct mnode *add(struct model *m, const char *path, enum mtype type)
{
	struct mnode *n;

	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->n = realloc(m->n, m->cap * sizeof(*m->n));
		assert_non_null(m->n);
	}
	n = &m->n[m->count++];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	n->type = type;
	return n;
}

static void drop(struct model *m, struct mnode *n)
{
	free(n->path);
	free(n->data);
	free(n->target);
	*n = m->n[--m->count];
}

/* Hard links: copy n's content and attributes to its other names. */
static void sync_group(struct model *m, const struct mnode *n)
{
	for (size_t i = 0; i < m->count; i++) {
		struct mnode *o = &m->n[i];

		if (o == n || o->type != M_FILE || o->group != n->group)
			continue;
		free(o->data);
		o->data = malloc(n->len + 1);
		assert_non_null(o->data);
		memcpy(o->data, n->data, n->len);
		o->len = n->len;
		o->mode = n->mode;
		o->uid = n->uid;
		o->gid = n->gid;
	}
}

static unsigned group_size(struct model *m, const struct mnode *n)
{
	unsigned count = 0;

	for (size_t i = 0; i < m->count; i++)
		count += m->n[i].type == M_FILE && m->n[i].group == n->group;
	return count;
}

static bool is_child_of(const char *path, const char *dir)
{
	size_t dl = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/' && path[1] && !strchr(path + 1, '/');
	return strncmp(path, dir, dl) == 0 && path[dl] == '/' && !strchr(path + dl + 1, '/');
}

static bool is_below(const char *path, const char *dir)
{
	size_t dl = strlen(dir);

	return strncmp(path, dir, dl) == 0 && path[dl] == '/';
}

static int depth(const char *path)
{
	int d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static void join(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
}

/* Names with spaces, UTF-8 and the 255-byte maximum; never '/', quotes,
 * backslashes or control bytes (debugfs reads them in commands). */
static void random_name(struct model *m, char *out)
{
	static const char *const parts[] = {"a",     "b",      "conf", "x y",
					    "ünï",   "日本",   "z-9",  "file.txt",
					    " lead", "trail ", "_",    "e\xcc\x81"};
	size_t len = 0;

	if (rnd(m, 15) == 0) {
		for (len = 0; len < 255; len++)
			out[len] = (char)('a' + rnd(m, 26));
		out[len] = '\0';
		return;
	}
	for (int i = 0, k = 1 + (int)rnd(m, 3); i < k; i++) {
		const char *p = parts[rnd(m, ELEMENTSOF(parts))];

		memcpy(out + len, p, strlen(p));
		len += strlen(p);
	}
	len += (size_t)snprintf(out + len, 16, "%" PRIu64, rnd(m, 1000));
	out[len] = '\0';
}

static struct mnode *pick(struct model *m, int types)
{
	size_t start, i;

	if (!m->count)
		return NULL;
	start = rnd(m, m->count);
	for (i = 0; i < m->count; i++) {
		struct mnode *n = &m->n[(start + i) % m->count];

		if (types & (1 << n->type))
			return n;
	}
	return NULL;
}

/* A directory (possibly "/") to put something in, kept shallow. */
static void pick_dir(struct model *m, char *out, size_t len)
{
	struct mnode *d = rnd(m, 4) ? pick(m, 1 << M_DIR) : NULL;

	if (d && depth(d->path) < 3)
		snprintf(out, len, "%s", d->path);
	else
		snprintf(out, len, "/");
}

static size_t random_size(struct model *m)
{
	switch (rnd(m, 10)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return m->bs - 1;
	case 3:
		return m->bs;
	case 4:
		return m->bs + 1;
	case 5:
		return rnd(m, 40) == 0 ? (2 << 20) + rnd(m, 3 << 20) : rnd(m, 3 * m->bs);
	default:
		return rnd(m, 300);
	}
}

static uint8_t *random_bytes(struct model *m, size_t len)
{
	uint8_t *b = malloc(len + 1);

	assert_non_null(b);
	t_fill(b, len, t_rng(&m->rng));
	return b;
}

/* ---- checks ----------------------------------------------------------- */

static void check_node(struct model *m, const struct mnode *n)
{
	struct herd_error err = {0};
	struct vfs_stat st;
	int r = vfs_ext4_ops.lstat(m->t.fs, n->path, &st, &err);

	if (r < 0)
		fprintf(stderr, "lstat %s: %s\n", n->path, err.message);
	assert_int_equal(r, 0);
	assert_int_equal(st.type, n->type == M_FILE  ? VFS_FILE
				  : n->type == M_DIR ? VFS_DIR
						     : VFS_SYMLINK);
	if (n->type != M_LINK) {
		assert_int_equal(st.mode, n->mode);
		assert_int_equal(st.uid, n->uid);
		assert_int_equal(st.gid, n->gid);
	}
	if (n->type == M_FILE) {
		uint8_t *buf = malloc(n->len + 1);
		size_t got = 0;

		assert_non_null(buf);
		assert_int_equal(st.size, n->len);
		assert_int_equal(st.nlink, group_size(m, n));
		assert_int_equal(
		    vfs_ext4_ops.read(m->t.fs, n->path, 0, buf, n->len + 1, &got, &err), 0);
		assert_int_equal(got, n->len);
		assert_memory_equal(buf, n->data, n->len);
		free(buf);
	} else if (n->type == M_LINK) {
		char link[4096];

		assert_int_equal(vfs_ext4_ops.readlink(m->t.fs, n->path, link, sizeof(link), &err),
				 (int)strlen(n->target));
		assert_string_equal(link, n->target);
	}
}

static void check_absent(struct model *m, const char *path)
{
	struct vfs_stat st;

	assert_int_equal(vfs_ext4_ops.lstat(m->t.fs, path, &st, NULL), -ENOENT);
}

struct count_ctx {
	struct model *m;
	const char *dir;
	size_t count;
};

static int count_cb(void *userdata, const struct vfs_dirent *d)
{
	struct count_ctx *c = userdata;
	char path[4096];

	if (strcmp(c->dir, "/") == 0 && strcmp(d->name, "lost+found") == 0)
		return 0;
	join(path, sizeof(path), c->dir, d->name);
	if (!find(c->m, path))
		fprintf(stderr, "unexpected entry %s\n", path);
	assert_non_null(find(c->m, path));
	c->count++;
	return 0;
}

static void check_tree(struct model *m)
{
	const char *dirs[1024];
	size_t ndirs = 0;

	dirs[ndirs++] = "/";
	for (size_t i = 0; i < m->count; i++) {
		check_node(m, &m->n[i]);
		if (m->n[i].type == M_DIR && ndirs < ELEMENTSOF(dirs))
			dirs[ndirs++] = m->n[i].path;
	}
	for (size_t d = 0; d < ndirs; d++) {
		struct count_ctx c = {.m = m, .dir = dirs[d]};
		size_t expect = 0;

		T_OK(vfs_ext4_ops.readdir(m->t.fs, dirs[d], count_cb, &c, &_e));
		for (size_t i = 0; i < m->count; i++)
			expect += is_child_of(m->n[i].path, dirs[d]);
		assert_int_equal(c.count, expect);
	}
}

/* ---- operations --------------------------------------------------------- */

static void op_write(struct model *m)
{
	struct mnode *n = rnd(m, 3) ? NULL : pick(m, 1 << M_FILE);
	unsigned flags = VFS_WRITE_CREATE;
	char path[4096], dir[4096], name[256];
	size_t len = random_size(m);
	uint8_t *data = random_bytes(m, len);
	struct herd_error err = {0};
	uint32_t mode = (uint32_t)rnd(m, 01000);
	struct mnode *existing;
	int r;

	if (n) {
		snprintf(path, sizeof(path), "%s", n->path);
		switch (rnd(m, 3)) {
		case 0:
			flags |= VFS_WRITE_TRUNCATE;
			break;
		case 1:
			flags |= VFS_WRITE_APPEND;
			break;
		default:
			break; /* overwrite from offset 0 */
		}
	} else {
		pick_dir(m, dir, sizeof(dir));
		random_name(m, name);
		join(path, sizeof(path), dir, name);
		flags |= VFS_WRITE_TRUNCATE | (rnd(m, 2) ? VFS_WRITE_EXCL : 0);
	}
	existing = find(m, path);
	r = vfs_ext4_ops.write(m->t.fs, path, data, len, flags, mode, 1000, 1000, &err);
	if (existing && existing->type != M_FILE) {
		if ((flags & VFS_WRITE_EXCL))
			assert_int_equal(r, -EEXIST);
		else if (existing->type == M_DIR)
			assert_int_equal(r, -EISDIR);
		/* a symlink is followed: its random target may or may not
		 * resolve, the model does not know; skip the check */
		free(data);
		if (existing->type == M_LINK && r == 0)
			fail_msg("write through a model symlink %s succeeded", path);
		return;
	}
	if (existing && (flags & VFS_WRITE_EXCL)) {
		assert_int_equal(r, -EEXIST);
		free(data);
		return;
	}
	if (r < 0)
		fprintf(stderr, "write %s (%zu bytes): %s\n", path, len, err.message);
	assert_int_equal(r, 0);
	if (!existing) {
		existing = add(m, path, M_FILE);
		existing->mode = mode;
		existing->uid = existing->gid = 1000;
		existing->group = ++m->next_group;
		existing->data = data;
		existing->len = len;
	} else if (flags & VFS_WRITE_APPEND) {
		existing->data = realloc(existing->data, existing->len + len + 1);
		memcpy(existing->data + existing->len, data, len);
		existing->len += len;
		free(data);
	} else if (flags & VFS_WRITE_TRUNCATE) {
		free(existing->data);
		existing->data = data;
		existing->len = len;
	} else {
		if (len > existing->len) {
			existing->data = realloc(existing->data, len + 1);
			existing->len = len;
		}
		memcpy(existing->data, data, len);
		free(data);
	}
	sync_group(m, existing);
	check_node(m, existing);
}

static void op_truncate(struct model *m)
{
	struct mnode *n = pick(m, 1 << M_FILE);
	size_t size = random_size(m);

	if (!n)
		return;
	T_OK(vfs_ext4_ops.truncate(m->t.fs, n->path, size, &_e));
	n->data = realloc(n->data, size + 1);
	if (size > n->len)
		memset(n->data + n->len, 0, size - n->len);
	n->len = size;
	sync_group(m, n);
	check_node(m, n);
}

static void op_mkdir(struct model *m)
{
	char path[4096], dir[4096], name[256];
	struct herd_error err = {0};
	uint32_t mode = (uint32_t)(0700 | rnd(m, 010000));
	uint32_t uid = (uint32_t)rnd(m, 3) * 70000;
	struct mnode *n;
	int r;

	pick_dir(m, dir, sizeof(dir));
	random_name(m, name);
	join(path, sizeof(path), dir, name);
	r = vfs_ext4_ops.mkdir(m->t.fs, path, mode, uid, uid + 1, &err);
	if (find(m, path)) {
		assert_int_equal(r, -EEXIST);
		return;
	}
	assert_int_equal(r, 0);
	n = add(m, path, M_DIR);
	n->mode = mode & 07777;
	n->uid = uid;
	n->gid = uid + 1;
	check_node(m, n);
}

static void op_symlink(struct model *m)
{
	char path[4096], dir[4096], name[256], target[400];
	size_t tlen = 14 + (rnd(m, 2) ? rnd(m, 45) : rnd(m, 300));
	struct mnode *n;
	int r;

	pick_dir(m, dir, sizeof(dir));
	random_name(m, name);
	join(path, sizeof(path), dir, name);
	/* targets that never resolve, so writes never follow them */
	for (size_t i = 0; i < tlen; i++)
		target[i] = (char)('a' + rnd(m, 26));
	memcpy(target, "/nonexistent/", 13);
	target[tlen] = '\0';
	r = vfs_ext4_ops.symlink(m->t.fs, target, path, 0, 0, NULL);
	if (find(m, path)) {
		assert_int_equal(r, -EEXIST);
		return;
	}
	assert_int_equal(r, 0);
	n = add(m, path, M_LINK);
	n->target = strdup(target);
	check_node(m, n);
}

static void op_unlink(struct model *m)
{
	struct mnode *n = pick(m, 1 << M_FILE | 1 << M_LINK | (rnd(m, 10) ? 0 : 1 << M_DIR));
	char path[4096];
	int r;

	if (!n)
		return;
	snprintf(path, sizeof(path), "%s", n->path);
	r = vfs_ext4_ops.unlink(m->t.fs, path, NULL);
	if (n->type == M_DIR) {
		assert_int_equal(r, -EISDIR);
		return;
	}
	assert_int_equal(r, 0);
	drop(m, n);
	check_absent(m, path);
}

static void op_rmdir(struct model *m)
{
	struct mnode *n = pick(m, 1 << M_DIR);
	char path[4096];
	bool empty = true;
	int r;

	if (!n)
		return;
	snprintf(path, sizeof(path), "%s", n->path);
	for (size_t i = 0; i < m->count; i++)
		empty &= !is_below(m->n[i].path, path);
	r = vfs_ext4_ops.rmdir(m->t.fs, path, NULL);
	if (!empty) {
		assert_int_equal(r, -ENOTEMPTY);
		return;
	}
	assert_int_equal(r, 0);
	drop(m, n);
	check_absent(m, path);
}

static void op_rename(struct model *m)
{
	struct mnode *src = pick(m, 1 << M_FILE | 1 << M_DIR | 1 << M_LINK), *dst;
	char from[4096], to[4096], dir[4096], name[256];
	struct herd_error err = {0};
	bool dst_empty = true;
	int r;

	if (!src)
		return;
	snprintf(from, sizeof(from), "%s", src->path);
	dst = rnd(m, 3) == 0 ? pick(m, 1 << src->type) : NULL;
	if (dst) {
		snprintf(to, sizeof(to), "%s", dst->path);
	} else {
		pick_dir(m, dir, sizeof(dir));
		random_name(m, name);
		join(to, sizeof(to), dir, name);
		dst = find(m, to);
	}
	if (src->type == M_DIR && depth(to) + 2 > 4)
		return; /* keep the tree shallow (path lengths) */
	r = vfs_ext4_ops.rename(m->t.fs, from, to, &err);
	if (strcmp(from, to) == 0 ||
	    (dst && src->type == M_FILE && dst->type == M_FILE && dst->group == src->group)) {
		assert_int_equal(r, 0); /* same inode: rename(2) does nothing */
		return;
	}
	if (src->type == M_DIR && is_below(to, from)) {
		assert_int_equal(r, -EINVAL);
		return;
	}
	if (dst) {
		if (src->type == M_DIR && dst->type != M_DIR) {
			assert_int_equal(r, -ENOTDIR);
			return;
		}
		if (src->type != M_DIR && dst->type == M_DIR) {
			assert_int_equal(r, -EISDIR);
			return;
		}
		if (dst->type == M_DIR)
			for (size_t i = 0; i < m->count; i++)
				dst_empty &= !is_below(m->n[i].path, to);
		if (!dst_empty) {
			assert_int_equal(r, -ENOTEMPTY);
			return;
		}
	}
	if (r < 0)
		fprintf(stderr, "rename %s -> %s: %s\n", from, to, err.message);
	assert_int_equal(r, 0);
	if (dst)
		drop(m, dst);
	/* src may have moved in the array; find it again, then its subtree */
	for (size_t i = 0; i < m->count; i++) {
		struct mnode *n = &m->n[i];
		char moved[8192];

		if (strcmp(n->path, from) == 0)
			snprintf(moved, sizeof(moved), "%s", to);
		else if (is_below(n->path, from))
			snprintf(moved, sizeof(moved), "%s%s", to, n->path + strlen(from));
		else
			continue;
		free(n->path);
		n->path = strdup(moved);
	}
	check_absent(m, from);
	check_node(m, find(m, to));
}

static void op_link(struct model *m)
{
	struct mnode *src = pick(m, 1 << M_FILE), *n;
	char path[4096], dir[4096], name[256], from[4096];
	struct herd_error err = {0};
	int r;

	if (!src)
		return;
	snprintf(from, sizeof(from), "%s", src->path);
	pick_dir(m, dir, sizeof(dir));
	random_name(m, name);
	join(path, sizeof(path), dir, name);
	r = vfs_ext4_ops.link(m->t.fs, from, path, &err);
	if (find(m, path)) {
		assert_int_equal(r, -EEXIST);
		return;
	}
	if (r < 0)
		fprintf(stderr, "link %s -> %s: %s\n", from, path, err.message);
	assert_int_equal(r, 0);
	n = add(m, path, M_FILE);
	src = find(m, from); /* add() may have moved the array */
	n->group = src->group;
	sync_group(m, src);
	check_node(m, n);
	check_node(m, src);
}

static void op_chmod_chown(struct model *m)
{
	struct mnode *n = pick(m, 1 << M_FILE | 1 << M_DIR);

	if (!n)
		return;
	if (rnd(m, 2)) {
		uint32_t mode = (uint32_t)rnd(m, 010000) | (n->type == M_DIR ? 0700 : 0);

		T_OK(vfs_ext4_ops.chmod(m->t.fs, n->path, mode, &_e));
		n->mode = mode;
	} else {
		uint32_t uid = (uint32_t)rnd(m, 200000), gid = (uint32_t)rnd(m, 70000);

		T_OK(vfs_ext4_ops.chown(m->t.fs, n->path, uid, gid, &_e));
		n->uid = uid;
		n->gid = gid;
	}
	if (n->type == M_FILE)
		sync_group(m, n);
	check_node(m, n);
}

/* ---- the final witness: debugfs ----------------------------------------- */

static void check_with_debugfs(struct model *m)
{
	char dump[400], cmds[400], line[8192];
	FILE *f;
	char *out, *p;
	size_t nchecked = 0;

	snprintf(dump, sizeof(dump), "%s/dump", m->dir);
	snprintf(cmds, sizeof(cmds), "%s/cmds", m->dir);
	assert_int_equal(t_sh("mkdir '%s' && debugfs -R 'rdump / %s' '%s' >/dev/null 2>&1; "
			      "chmod -R u+rwX '%s'",
			      dump, dump, m->img, dump),
			 0);
	/* contents, types and link targets from the dumped tree */
	for (size_t i = 0; i < m->count; i++) {
		struct mnode *n = &m->n[i];
		char host[8192];
		struct stat st;

		snprintf(host, sizeof(host), "%s%s", dump, n->path);
		assert_int_equal(lstat(host, &st), 0);
		if (n->type == M_FILE) {
			size_t len;
			char *data = t_capture(&len, "cat \"%s\"", host);

			assert_true(S_ISREG(st.st_mode));
			assert_int_equal(len, n->len);
			assert_memory_equal(data, n->data, len);
			free(data);
		} else if (n->type == M_LINK) {
			char target[4096];
			ssize_t tl = readlink(host, target, sizeof(target) - 1);

			assert_true(S_ISLNK(st.st_mode));
			assert_true(tl > 0);
			target[tl] = '\0';
			assert_string_equal(target, n->target);
		} else {
			assert_true(S_ISDIR(st.st_mode));
		}
	}
	/* modes and owners from ls -p, one debugfs run for every directory */
	f = fopen(cmds, "w");
	assert_non_null(f);
	fprintf(f, "ls -p /\n");
	for (size_t i = 0; i < m->count; i++)
		if (m->n[i].type == M_DIR)
			fprintf(f, "ls -p \"%s\"\n", m->n[i].path);
	fclose(f);
	out = t_capture(NULL, "debugfs -f '%s' '%s' 2>/dev/null", cmds, m->img);
	{
		char cur[4096] = "/";

		for (p = out; *p;) {
			char *nl = strchr(p, '\n');
			size_t ll = nl ? (size_t)(nl - p) : strlen(p);
			unsigned ino, mode, uid, gid;
			char name[512];

			memcpy(line, p, MIN(ll, sizeof(line) - 1));
			line[MIN(ll, sizeof(line) - 1)] = '\0';
			p += ll + (nl ? 1 : 0);
			if (strncmp(line, "debugfs: ls -p ", 15) == 0) {
				const char *d = line + 15;
				size_t dl;

				if (*d == '"')
					d++;
				snprintf(cur, sizeof(cur), "%s", d);
				dl = strlen(cur);
				if (dl && cur[dl - 1] == '"')
					cur[dl - 1] = '\0';
				continue;
			}
			if (sscanf(line, "/%u/%o/%u/%u/", &ino, &mode, &uid, &gid) == 4) {
				/* the name is between the 5th and 6th slash */
				char *s = line;
				char path[8192];
				struct mnode *n;

				for (int k = 0; k < 4; k++)
					s = strchr(s + 1, '/');
				*strchr(s + 1, '/') = '\0';
				snprintf(name, sizeof(name), "%s", s + 1);
				/* ino 0: a deleted entry kept at the start of a block */
				if (ino == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
				    strcmp(name, "lost+found") == 0)
					continue;
				join(path, sizeof(path), cur, name);
				n = find(m, path);
				if (!n)
					fprintf(stderr, "debugfs shows %s, model does not\n%s\n",
						path, getenv("HERD_TEST_VERBOSE") ? out : "");
				assert_non_null(n);
				nchecked++;
				if (n->type == M_LINK) {
					assert_int_equal(mode & 0170000, 0120000);
					continue;
				}
				assert_int_equal(mode & 07777, n->mode);
				assert_int_equal(mode & 0170000,
						 n->type == M_DIR ? 0040000 : 0100000);
				assert_int_equal(uid, n->uid);
				assert_int_equal(gid, n->gid);
			}
		}
	}
	assert_int_equal(nchecked, m->count);
	free(out);
}

static void run_model(const char *mkfs_opts, uint64_t block_size, uint64_t default_ops)
{
	struct model *m = calloc(1, sizeof(*m));
	const char *env_seed = getenv("HERD_TEST_SEED");
	const char *env_ops = getenv("HERD_TEST_OPS");
	uint64_t seed = 0, nops = default_ops;

	assert_non_null(m);
	if (env_seed && parse_u64(env_seed, 1, UINT64_MAX, &seed) < 0)
		fail_msg("HERD_TEST_SEED is not a number");
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
		seed |= 1;
	}
	if (env_ops && parse_u64(env_ops, 1, 1000000, &nops) < 0)
		fail_msg("HERD_TEST_OPS is not a number");
	fprintf(stderr,
		"test_ext4_model: seed %" PRIu64 " (rerun with HERD_TEST_SEED=%" PRIu64
		"), %" PRIu64 " ops\n",
		seed, seed, nops);
	m->rng = seed;
	t_mkdtemp(m->dir, sizeof(m->dir), "ext4-model");
	snprintf(m->img, sizeof(m->img), "%s/img", m->dir);
	fprintf(stderr, "test_ext4_model: mke2fs %s\n", mkfs_opts);
	t_mkfs(m->img, 256, mkfs_opts, NULL);
	m->bs = block_size;
	t_mount_ok(m->img, true, &m->t);

	for (m->ops = 0; m->ops < nops; m->ops++) {
		uint64_t dice = rnd(m, 100);

		if (dice < 30)
			op_write(m);
		else if (dice < 38)
			op_truncate(m);
		else if (dice < 50)
			op_mkdir(m);
		else if (dice < 58)
			op_symlink(m);
		else if (dice < 70)
			op_unlink(m);
		else if (dice < 76)
			op_rmdir(m);
		else if (dice < 85)
			op_rename(m);
		else if (dice < 89)
			op_link(m);
		else
			op_chmod_chown(m);
		if (m->ops % 100 == 99)
			check_tree(m);
		/* now and then, unmount and mount again: state must persist */
		if (m->ops % 500 == 499) {
			t_umount(&m->t);
			t_mount_ok(m->img, true, &m->t);
			check_tree(m);
		}
	}
	check_tree(m);
	t_umount(&m->t);
	fprintf(stderr, "test_ext4_model: %zu entries at the end\n", m->count);
	t_fsck_clean(m->img);
	check_with_debugfs(m);

	t_sh("rm -rf '%s'", m->dir);
	while (m->count)
		drop(m, &m->n[0]);
	free(m->n);
	free(m);
}

/* The Raspberry Pi OS root filesystem feature set. */
static void test_model_rpi_ext4(void **state)
{
	run_model("-t ext4 -b 4096 -O " EXT4_RPI_FEATURES, 4096, 1500);
}

/* Block-mapped files (indirect blocks), 1 KiB blocks, 128-byte inodes. */
static void test_model_ext2(void **state)
{
	run_model("-t ext2 -b 1024 -I 128", 1024, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_rpi_ext4),
	    cmocka_unit_test(test_model_ext2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
