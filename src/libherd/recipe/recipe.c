/*
 * recipe.c — the operation list and the executor.
 *
 * Each operation compares before it writes: identical content, an equal
 * link target or matching mode/owner leave the filesystem alone and the
 * operation's `changed` false.  That is what makes a second run a no-op
 * and lets the CLI say what actually changed.  The executor never creates
 * missing parents on its own; the planner asks for them with RECIPE_MKDIR,
 * so the operation list says everything that happens.
 *
 * This file does not decide what a setting means (plan.c, users.c,
 * network.c) and does not print.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macros.h"
#include "recipe/recipe_internal.h"

#define RECIPE_MAX_TEXT (16u << 20) /* text files edited in place are small */

int recipe_add(struct recipe *r, enum recipe_op_type type, enum recipe_part part,
	       const char *setting, const char *path, const char *data, size_t data_len,
	       const char *key, unsigned flags, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct recipe_op op = {
	    .type = type,
	    .part = part,
	    .flags = flags,
	    .mode = mode,
	    .uid = uid,
	    .gid = gid,
	    .setting = setting,
	};

	/* Several settings need the same directory; say so once. */
	if (type == RECIPE_MKDIR)
		for (size_t i = 0; i < r->count; i++)
			if (r->ops[i].type == RECIPE_MKDIR && r->ops[i].part == part &&
			    strcmp(r->ops[i].path, path) == 0)
				return 0;
	if (r->count == r->capacity) {
		size_t cap = r->capacity ? r->capacity * 2 : 32;
		struct recipe_op *n = realloc(r->ops, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		r->ops = n;
		r->capacity = cap;
	}
	op.path = strdup(path);
	if (data) {
		if (type != RECIPE_WRITE)
			data_len = strlen(data);
		op.data = malloc(data_len + 1);
		if (op.data) {
			memcpy(op.data, data, data_len);
			op.data[data_len] = '\0';
		}
		op.len = data_len;
	}
	if (key)
		op.key = strdup(key);
	if (!op.path || (data && !op.data) || (key && !op.key)) {
		free(op.path);
		free(op.data);
		free(op.key);
		return -ENOMEM;
	}
	r->ops[r->count++] = op;
	return 0;
}

int recipe_add_text(struct recipe *r, const char *setting, enum recipe_part part, const char *path,
		    const char *text, uint32_t mode, uint32_t uid, uint32_t gid)
{
	return recipe_add(r, RECIPE_WRITE, part, setting, path, text, strlen(text), NULL, 0, mode,
			  uid, gid);
}

int recipe_warn(struct recipe *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return strv_push(&r->warnings, buf);
}

struct recipe *recipe_free(struct recipe *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->count; i++) {
		free(r->ops[i].path);
		/* Contents may be secrets (shadow, keys): wipe before freeing. */
		if (r->ops[i].data)
			explicit_bzero(r->ops[i].data, r->ops[i].type == RECIPE_WRITE
							   ? r->ops[i].len
							   : strlen(r->ops[i].data));
		free(r->ops[i].data);
		free(r->ops[i].key);
	}
	free(r->ops);
	strv_free(&r->warnings);
	free(r);
	return NULL;
}

const char *recipe_network_name(enum recipe_network n)
{
	switch (n) {
	case RECIPE_NET_NETWORKMANAGER:
		return "NetworkManager";
	case RECIPE_NET_DHCPCD:
		return "dhcpcd";
	case RECIPE_NET_NETPLAN:
		return "netplan";
	case RECIPE_NET_NETWORKD:
		return "systemd-networkd";
	case RECIPE_NET_NONE:
		break;
	}
	return "none";
}

const char *recipe_firstboot_name(enum recipe_firstboot f)
{
	switch (f) {
	case RECIPE_FIRSTBOOT_CLOUD_INIT:
		return "cloud-init";
	case RECIPE_FIRSTBOOT_FIRSTRUN:
		return "firstrun";
	case RECIPE_FIRSTBOOT_OFF:
		break;
	}
	return "off";
}

void recipe_op_describe(const struct recipe_op *op, char *buf, size_t len)
{
	const char *part = op->part == RECIPE_BOOT ? "boot" : "root";

	switch (op->type) {
	case RECIPE_WRITE:
		snprintf(buf, len, "write   %s:%s %04o %u:%u (%zu bytes)", part, op->path, op->mode,
			 op->uid, op->gid, op->len);
		break;
	case RECIPE_MKDIR:
		snprintf(buf, len, "mkdir   %s:%s %04o %u:%u", part, op->path, op->mode, op->uid,
			 op->gid);
		break;
	case RECIPE_SYMLINK:
		snprintf(buf, len, "symlink %s:%s -> %s", part, op->path, op->data);
		break;
	case RECIPE_CHMOD:
		snprintf(buf, len, "chmod   %s:%s %04o", part, op->path, op->mode);
		break;
	case RECIPE_CHOWN:
		snprintf(buf, len, "chown   %s:%s %u:%u", part, op->path, op->uid, op->gid);
		break;
	case RECIPE_SET_LINE:
		if (op->flags & RECIPE_LINE_BLOCK)
			snprintf(buf, len, "block   %s:%s '# %s begin..end'", part, op->path,
				 op->key);
		else if (op->data)
			snprintf(buf, len, "line    %s:%s '%s'", part, op->path, op->data);
		else
			snprintf(buf, len, "unline  %s:%s '%s...'", part, op->path, op->key);
		break;
	case RECIPE_SET_WORD:
		snprintf(buf, len, "word    %s:%s '%s'", part, op->path, op->data);
		break;
	case RECIPE_CONFIG_TXT:
	case RECIPE_CMDLINE:
		if (op->data)
			snprintf(buf, len, "set     %s:%s '%s'", part, op->path, op->data);
		else
			snprintf(buf, len, "unset   %s:%s '%s'", part, op->path, op->key);
		break;
	case RECIPE_REMOVE:
		snprintf(buf, len, "remove  %s:%s", part, op->path);
		break;
	case RECIPE_RENAME:
		snprintf(buf, len, "rename  %s:%s -> %s", part, op->path, op->data);
		break;
	case RECIPE_COPY_TREE:
		snprintf(buf, len, "copy    %s:%s -> %s %u:%u", part, op->data, op->path, op->uid,
			 op->gid);
		break;
	}
}

/* ---- text edits ------------------------------------------------------- */

static void tb_line(struct recipe_text *b, const char *s, size_t n)
{
	recipe_text_put(b, s, n);
	recipe_text_put(b, "\n", 1);
}

static bool line_matches(const char *s, size_t n, const char *key, bool commented)
{
	size_t k = strlen(key);

	if (commented) {
		while (n && (*s == '#' || *s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
	}
	if (n < k || memcmp(s, key, k) != 0)
		return false;
	/* A key ending in a letter or digit is a whole word: "127.0.1.1"
	 * must not match "127.0.1.10". */
	if (k && (isalnum((unsigned char)key[k - 1])) && n > k)
		return s[k] == ' ' || s[k] == '\t';
	return true;
}

static bool is_marker(const char *s, size_t n, const char *key, const char *what)
{
	char m[256];
	int w = snprintf(m, sizeof(m), "# %s %s", key, what);

	return w > 0 && (size_t)w == n && memcmp(s, m, n) == 0;
}

int recipe_edit_lines(const char *text, const char *key, const char *line, unsigned flags,
		      char **ret)
{
	struct recipe_text b = {0};
	bool done = false, in_block = false;
	const char *p = text ? text : "";
	char marker[256];

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (flags & RECIPE_LINE_BLOCK) {
			if (!in_block && is_marker(p, n, key, "begin")) {
				in_block = true;
			} else if (in_block && is_marker(p, n, key, "end")) {
				in_block = false;
				if (!done && line) {
					snprintf(marker, sizeof(marker), "# %s begin", key);
					tb_line(&b, marker, strlen(marker));
					recipe_text_put(&b, line, strlen(line));
					snprintf(marker, sizeof(marker), "# %s end", key);
					tb_line(&b, marker, strlen(marker));
				}
				done = true;
			} else if (!in_block) {
				tb_line(&b, p, n);
			}
		} else if (line_matches(p, n, key, flags & RECIPE_LINE_COMMENTED)) {
			if (!done && line)
				tb_line(&b, line, strlen(line));
			done = true;
		} else {
			tb_line(&b, p, n);
		}
		p += n + (nl ? 1 : 0);
	}
	/* An unterminated block (end marker deleted by hand) is dropped and
	 * written anew: the markers are ours. */
	if (!done && line) {
		if (flags & RECIPE_LINE_BLOCK) {
			snprintf(marker, sizeof(marker), "# %s begin", key);
			tb_line(&b, marker, strlen(marker));
			recipe_text_put(&b, line, strlen(line));
			snprintf(marker, sizeof(marker), "# %s end", key);
			tb_line(&b, marker, strlen(marker));
		} else {
			tb_line(&b, line, strlen(line));
		}
	}
	return recipe_text_take(&b, ret);
}

int recipe_edit_word(const char *text, const char *key, const char *word, char **ret)
{
	struct recipe_text b = {0};
	const char *p = text ? text : "";
	size_t k = strlen(key);
	bool done = false;

	/* cmdline.txt is one line of words separated by single spaces; the
	 * firmware reads only the first line, so everything is kept on it. */
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " \t\r\n");
		bool match = n >= k && memcmp(p, key, k) == 0;
		if (!match || (!done && word)) {
			if (b.len)
				recipe_text_put(&b, " ", 1);
			if (match)
				recipe_text_put(&b, word, strlen(word));
			else
				recipe_text_put(&b, p, n);
		}
		if (match)
			done = true;
		p += n;
	}
	if (!done && word) {
		if (b.len)
			recipe_text_put(&b, " ", 1);
		recipe_text_put(&b, word, strlen(word));
	}
	recipe_text_put(&b, "\n", 1);
	return recipe_text_take(&b, ret);
}

/* ---- generated text ----------------------------------------------------- */

void recipe_text_put(struct recipe_text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->oom = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

void recipe_textf(struct recipe_text *t, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		recipe_text_put(t, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		t->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	recipe_text_put(t, big, (size_t)n);
	free(big);
}

int recipe_text_take(struct recipe_text *t, char **ret)
{
	recipe_text_put(t, "", 0);
	if (t->oom || !t->p) {
		recipe_text_free(t);
		return -ENOMEM;
	}
	*ret = t->p;
	*t = (struct recipe_text){0};
	return 0;
}

void recipe_text_free(struct recipe_text *t)
{
	free(t->p);
	*t = (struct recipe_text){0};
}

/* ---- executor --------------------------------------------------------- */

static struct vfs *op_fs(const struct recipe_target *t, const struct recipe_op *op,
			 struct herd_error *err)
{
	struct vfs *fs = op->part == RECIPE_BOOT ? t->boot : t->root;

	if (!fs)
		herd_error_set(err, ENOENT, "the image has no %s partition",
			       op->part == RECIPE_BOOT ? "boot" : "root");
	return fs;
}

/* Bring mode and owner of an existing path to the operation's values. */
static int settle_attrs(struct vfs *fs, const char *path, const struct vfs_stat *st,
			const struct recipe_op *op, bool *changed, struct herd_error *err)
{
	int r;

	if ((st->mode & 07777) != op->mode) {
		r = vfs_chmod(fs, path, op->mode, err);
		if (r < 0)
			return r;
		*changed = true;
	}
	if (st->uid != op->uid || st->gid != op->gid) {
		r = vfs_chown(fs, path, op->uid, op->gid, err);
		if (r < 0)
			return r;
		*changed = true;
	}
	return 0;
}

static bool is_fat(struct vfs *fs)
{
	struct vfs_info info;

	return vfs_info(fs, &info, NULL) == 0 && strncmp(info.type, "fat", 3) == 0;
}

/* Write data unless the file already holds exactly it. */
static int exec_write(struct vfs *fs, const char *path, const char *data, size_t len,
		      const struct recipe_op *op, bool attrs, bool *changed, struct herd_error *err)
{
	struct vfs_stat st;
	int r = vfs_stat(fs, path, &st, NULL);

	if (r == 0 && st.type == VFS_FILE && st.size == len) {
		_cleanup_free_ char *old = NULL;
		size_t got = 0;
		r = vfs_read_all(fs, path, len + 1, &old, &got, err);
		if (r < 0)
			return r;
		if (got == len && memcmp(old, data, len) == 0)
			return attrs && !is_fat(fs) ? settle_attrs(fs, path, &st, op, changed, err)
						    : 0;
	}
	r = vfs_write(fs, path, data, len, VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, op->mode, op->uid,
		      op->gid, err);
	if (r < 0)
		return r;
	*changed = true;
	if (attrs && !is_fat(fs) && vfs_stat(fs, path, &st, NULL) == 0)
		return settle_attrs(fs, path, &st, op, changed, err);
	return 0;
}

static int exec_symlink(struct vfs *fs, const struct recipe_op *op, bool *changed,
			struct herd_error *err)
{
	struct vfs_stat st;
	char target[4096];
	int r = vfs_lstat(fs, op->path, &st, NULL);

	if (r == 0) {
		if (st.type == VFS_SYMLINK &&
		    vfs_readlink(fs, op->path, target, sizeof(target), NULL) >= 0 &&
		    strcmp(target, op->data) == 0)
			return 0;
		if (st.type == VFS_DIR)
			return herd_error_set(err, EISDIR, "%s: is a directory", op->path);
		r = vfs_unlink(fs, op->path, err);
		if (r < 0)
			return r;
	}
	r = vfs_symlink(fs, op->data, op->path, op->uid, op->gid, err);
	if (r < 0)
		return r;
	*changed = true;
	return 0;
}

static int exec_edit(struct vfs *fs, const struct recipe_op *op, bool *changed,
		     struct herd_error *err)
{
	_cleanup_free_ char *old = NULL, *text = NULL;
	struct vfs_stat st;
	bool existed = true;
	int r;

	r = vfs_read_all(fs, op->path, RECIPE_MAX_TEXT, &old, NULL, err);
	if (r == -ENOENT && (op->flags & RECIPE_LINE_CREATE)) {
		existed = false;
		herd_error_clear(err);
	} else if (r < 0) {
		return r;
	}
	if (op->type == RECIPE_SET_WORD)
		r = recipe_edit_word(old, op->key, op->data, &text);
	else if (op->type == RECIPE_CONFIG_TXT)
		r = recipe_config_txt_edit(old, op->key, op->data, &text);
	else if (op->type == RECIPE_CMDLINE)
		r = recipe_cmdline_edit(old, op->key, op->data, &text);
	else
		r = recipe_edit_lines(old, op->key, op->data, op->flags, &text);
	if (r < 0)
		return herd_error_set(err, -r, "out of memory");
	if (existed && strcmp(old, text) == 0)
		return 0;
	if (existed && vfs_stat(fs, op->path, &st, err) < 0)
		return -EIO;
	struct recipe_op keep = *op;
	if (existed) {
		/* An edit keeps the file's own mode and owner. */
		keep.mode = st.mode & 07777;
		keep.uid = st.uid;
		keep.gid = st.gid;
	}
	return exec_write(fs, op->path, text, strlen(text), &keep, false, changed, err);
}

struct tree_entry {
	struct strv names;
	struct strv kinds; /* "f", "d", "l" */
};

static int collect_entry(void *userdata, const struct vfs_dirent *e)
{
	struct tree_entry *t = userdata;
	const char *kind = e->st.type == VFS_DIR ? "d" : e->st.type == VFS_SYMLINK ? "l" : "f";

	if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
		return 0;
	if (e->st.type == VFS_OTHER)
		return 0;
	if (strv_push(&t->names, e->name) < 0 || strv_push(&t->kinds, kind) < 0)
		return -ENOMEM;
	return 0;
}

static int copy_tree(struct vfs *fs, const char *from, const char *to, const struct recipe_op *op,
		     unsigned depth, bool *changed, struct herd_error *err)
{
	struct tree_entry t = {STRV_INIT, STRV_INIT};
	char src[4096], dst[4096], link[4096];
	int r;

	if (depth > 16)
		return herd_error_set(err, ELOOP, "%s: too deep", from);
	r = vfs_readdir(fs, from, collect_entry, &t, err);
	for (size_t i = 0; r >= 0 && i < t.names.count; i++) {
		struct vfs_stat st, have;
		snprintf(src, sizeof(src), "%s/%s", from, t.names.items[i]);
		snprintf(dst, sizeof(dst), "%s/%s", to, t.names.items[i]);
		r = vfs_lstat(fs, src, &st, err);
		if (r < 0)
			break;
		bool exists = vfs_lstat(fs, dst, &have, NULL) == 0;
		switch (t.kinds.items[i][0]) {
		case 'd':
			if (!exists) {
				r = vfs_mkdir(fs, dst, st.mode & 07777, op->uid, op->gid, false,
					      err);
				*changed = true;
			}
			if (r >= 0)
				r = copy_tree(fs, src, dst, op, depth + 1, changed, err);
			break;
		case 'l':
			if (exists)
				break;
			r = vfs_readlink(fs, src, link, sizeof(link), err);
			if (r >= 0)
				r = vfs_symlink(fs, link, dst, op->uid, op->gid, err);
			*changed = true;
			break;
		default: {
			_cleanup_free_ char *data = NULL;
			size_t len = 0;
			if (exists)
				break;
			r = vfs_read_all(fs, src, RECIPE_MAX_TEXT, &data, &len, err);
			if (r >= 0)
				r = vfs_write(fs, dst, data, len, VFS_WRITE_CREATE | VFS_WRITE_EXCL,
					      st.mode & 07777, op->uid, op->gid, err);
			*changed = true;
			break;
		}
		}
	}
	strv_free(&t.names);
	strv_free(&t.kinds);
	return r < 0 ? r : 0;
}

static int exec_one(const struct recipe_target *t, struct recipe_op *op, struct herd_error *err)
{
	struct vfs *fs = op_fs(t, op, err);
	struct vfs_stat st;
	bool changed = false;
	int r = 0;

	if (!fs)
		return -ENOENT;
	switch (op->type) {
	case RECIPE_WRITE:
		r = exec_write(fs, op->path, op->data, op->len, op, true, &changed, err);
		break;
	case RECIPE_MKDIR:
		if (vfs_lstat(fs, op->path, &st, NULL) == 0 && st.type == VFS_DIR)
			break;
		r = vfs_mkdir(fs, op->path, op->mode, op->uid, op->gid, true, err);
		changed = true;
		break;
	case RECIPE_SYMLINK:
		r = exec_symlink(fs, op, &changed, err);
		break;
	case RECIPE_CHMOD:
	case RECIPE_CHOWN:
		r = vfs_stat(fs, op->path, &st, err);
		if (r < 0)
			break;
		if (op->type == RECIPE_CHMOD && (st.mode & 07777) != op->mode) {
			r = vfs_chmod(fs, op->path, op->mode, err);
			changed = true;
		} else if (op->type == RECIPE_CHOWN && (st.uid != op->uid || st.gid != op->gid)) {
			r = vfs_chown(fs, op->path, op->uid, op->gid, err);
			changed = true;
		}
		break;
	case RECIPE_SET_LINE:
	case RECIPE_SET_WORD:
	case RECIPE_CONFIG_TXT:
	case RECIPE_CMDLINE:
		r = exec_edit(fs, op, &changed, err);
		break;
	case RECIPE_REMOVE:
		if (vfs_lstat(fs, op->path, &st, NULL) < 0)
			break;
		r = vfs_unlink(fs, op->path, err);
		changed = true;
		break;
	case RECIPE_RENAME:
		if (vfs_lstat(fs, op->path, &st, NULL) < 0)
			break;
		if (vfs_lstat(fs, op->data, &st, NULL) == 0)
			return herd_error_set(err, EEXIST, "%s: cannot move to %s: it exists",
					      op->path, op->data);
		r = vfs_rename(fs, op->path, op->data, err);
		changed = true;
		break;
	case RECIPE_COPY_TREE:
		if (vfs_stat(fs, op->data, &st, NULL) < 0 || st.type != VFS_DIR)
			break; /* no /etc/skel: an empty home */
		r = copy_tree(fs, op->data, op->path, op, 0, &changed, err);
		break;
	}
	if (r < 0)
		return r;
	op->changed = changed;
	return changed ? 1 : 0;
}

int recipe_execute(const struct recipe_target *t, struct recipe *r,
		   const struct recipe_exec_options *opt, struct herd_error *err)
{
	int changed = 0;

	for (size_t i = 0; i < r->count; i++) {
		struct recipe_op *op = &r->ops[i];
		int k;

		if (opt && opt->fail_at == i + 1)
			return herd_error_set(err, EIO, "%s: %s: injected failure", op->setting,
					      op->path);
		k = exec_one(t, op, err);
		if (k < 0)
			return herd_error_prefix(err, -k, "%s: %s:%s", op->setting,
						 op->part == RECIPE_BOOT ? "boot" : "root",
						 op->path);
		changed += k;
	}
	return changed;
}

int recipe_read_local(const char *path, size_t max, char **ret, size_t *ret_len,
		      struct herd_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return herd_error_set(err, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return herd_error_set(err, EFBIG, "%s: larger than %zu bytes", path, max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return herd_error_set(err, ENOMEM, "out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return herd_error_set(err, n < 0 ? errno : EIO, "%s: short read", path);
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = got;
	return 0;
}

/* ---- the whole thing on an image path --------------------------------- */

int recipe_apply_image(struct image *img, const char *name, const struct herd_settings *s,
		       bool dryrun, const struct recipe_exec_options *opt, struct recipe **ret,
		       struct herd_error *err)
{
	struct recipe_target t = {0};
	struct recipe *rec = NULL;
	struct image_os os;
	bool have_os;
	unsigned boot_no;
	int r;

	r = image_detect_os(img, &os, err);
	have_os = r == 0;
	if (r == -ENOENT && image_mount(img, "root", false, &t.root, NULL) == 0) {
		/* A root filesystem without os-release: an OS herd does not know. */
		herd_error_clear(err);
		vfs_close(t.root, NULL);
		t.root = NULL;
	} else if (r < 0) {
		herd_error_prefix(err, -r, "%s", name);
		goto out;
	}
	r = image_mount(img, "root", !dryrun, &t.root, err);
	if (r < 0) {
		herd_error_prefix(err, -r, "%s: root", name);
		goto out;
	}
	if (image_find_partition(img, "boot", &boot_no, NULL) == 0) {
		r = image_mount(img, "boot", !dryrun, &t.boot, err);
		if (r < 0) {
			herd_error_prefix(err, -r, "%s: boot", name);
			goto out;
		}
	}
	r = recipe_plan(&t, have_os ? &os : NULL, s, &rec, err);
	if (r < 0)
		goto out;
	if (!dryrun) {
		r = recipe_execute(&t, rec, opt, err);
		if (r < 0)
			goto out;
		/* Flush both filesystems (into the overlay, for callers that
		 * use one) before anything is committed. */
		r = vfs_close(t.boot, err);
		t.boot = NULL;
		if (r >= 0) {
			r = vfs_close(t.root, err);
			t.root = NULL;
		}
		if (r < 0) {
			herd_error_prefix(err, -r, "%s", name);
			goto out;
		}
	}
	*ret = TAKE_PTR(rec);
	r = 0;
out:
	vfs_close(t.boot, NULL);
	vfs_close(t.root, NULL);
	recipe_free(rec);
	return r;
}

int recipe_customize(const char *path, const struct herd_settings *s, bool dryrun,
		     const struct recipe_exec_options *opt, struct recipe **ret,
		     struct herd_error *err)
{
	unsigned flags = dryrun ? IMAGE_READ_ONLY : IMAGE_WRITABLE | IMAGE_OVERLAY;
	struct image *img = NULL;
	struct recipe *rec = NULL;
	int r;

	r = image_open(path, flags, &img, err);
	if (r < 0)
		return r;
	r = recipe_apply_image(img, path, s, dryrun, opt, &rec, err);
	if (r == 0 && !dryrun) {
		/* Only now does anything reach the file: a failure before this
		 * point leaves the image as it was. */
		r = image_commit(img, err);
		if (r < 0)
			herd_error_prefix(err, -r, "%s", path);
	}
	if (r == 0)
		*ret = TAKE_PTR(rec);
	recipe_free(rec);
	image_close(img);
	return r;
}
