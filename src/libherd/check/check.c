/*
 * check.c — the `herd image check` driver: mount both partitions
 * read-only, run each filesystem's own check, the structure checks
 * (check_files.c) and, given settings, verify that every operation of the
 * host's recipe already holds on the image.  See check.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "check/check_internal.h"
#include "recipe/recipe.h"

void check_problem(struct check_ctx *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strv_push(c->problems, line) < 0)
		c->oom = true;
	c->count++;
}

struct fs_problem {
	struct check_ctx *c;
	const char *part;
};

static void on_fs_problem(void *userdata, const char *problem)
{
	struct fs_problem *p = userdata;

	check_problem(p->c, "%s: %s", p->part, problem);
}

static void check_fs(struct check_ctx *c, struct vfs *fs, const char *part)
{
	struct fs_problem p = {c, part};
	struct herd_error err = {0};

	if (vfs_check(fs, on_fs_problem, &p, &err) < 0)
		check_problem(c, "%s: cannot check the filesystem: %s", part,
			      herd_error_message(&err));
}

/* ---- settings: does every operation of the recipe already hold? ------- */

static void op_problem(struct check_ctx *c, const struct recipe_op *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void op_problem(struct check_ctx *c, const struct recipe_op *op, const char *fmt, ...)
{
	char what[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	check_problem(c, "%s: %s:%s: %s", op->setting, op->part == RECIPE_BOOT ? "boot" : "root",
		      op->path, what);
}

static bool fs_is_fat(struct vfs *fs)
{
	struct vfs_info info;

	return vfs_info(fs, &info, NULL) == 0 && strncmp(info.type, "fat", 3) == 0;
}

static void check_attrs(struct check_ctx *c, struct vfs *fs, const struct recipe_op *op,
			const struct vfs_stat *st, bool mode, bool owner)
{
	if (fs_is_fat(fs))
		return; /* FAT has no modes or owners */
	if (mode && (st->mode & 07777) != op->mode)
		op_problem(c, op, "mode %04o, want %04o", st->mode & 07777, op->mode);
	if (owner && (st->uid != op->uid || st->gid != op->gid))
		op_problem(c, op, "owner %u:%u, want %u:%u", st->uid, st->gid, op->uid, op->gid);
}

static void check_op(struct check_ctx *c, const struct recipe_target *t, const struct recipe_op *op)
{
	struct vfs *fs = op->part == RECIPE_BOOT ? t->boot : t->root;
	_cleanup_free_ char *data = NULL, *edited = NULL;
	char target[4096];
	struct vfs_stat st;
	size_t len = 0;
	bool exists;

	if (!fs)
		return;
	exists = vfs_lstat(fs, op->path, &st, NULL) == 0;
	switch (op->type) {
	case RECIPE_WRITE:
		if (!exists) {
			op_problem(c, op, "missing");
			break;
		}
		if (st.type != VFS_FILE) {
			op_problem(c, op, "not a regular file");
			break;
		}
		if (st.size != op->len ||
		    vfs_read_all(fs, op->path, op->len + 1, &data, &len, NULL) < 0 ||
		    len != op->len || memcmp(data, op->data, len) != 0) {
			op_problem(c, op, "content differs from the setting");
			break;
		}
		check_attrs(c, fs, op, &st, true, true);
		break;
	case RECIPE_MKDIR:
		if (!exists || st.type != VFS_DIR)
			op_problem(c, op, "directory missing");
		break;
	case RECIPE_SYMLINK:
		if (!exists || st.type != VFS_SYMLINK)
			op_problem(c, op, "symlink missing");
		else if (vfs_readlink(fs, op->path, target, sizeof(target), NULL) < 0 ||
			 strcmp(target, op->data) != 0)
			op_problem(c, op, "links to %s, want %s", target, op->data);
		break;
	case RECIPE_CHMOD:
	case RECIPE_CHOWN:
		if (!exists || vfs_stat(fs, op->path, &st, NULL) < 0)
			op_problem(c, op, "missing");
		else
			check_attrs(c, fs, op, &st, op->type == RECIPE_CHMOD,
				    op->type == RECIPE_CHOWN);
		break;
	case RECIPE_SET_LINE:
	case RECIPE_SET_WORD:
	case RECIPE_CONFIG_TXT:
	case RECIPE_CMDLINE: {
		int k;
		if (!exists) {
			op_problem(c, op, "missing");
			break;
		}
		if (vfs_read_all(fs, op->path, 16u << 20, &data, NULL, NULL) < 0) {
			op_problem(c, op, "unreadable");
			break;
		}
		/* Present means: applying the edit again changes nothing. */
		if (op->type == RECIPE_SET_WORD)
			k = recipe_edit_word(data, op->key, op->data, &edited);
		else if (op->type == RECIPE_SET_LINE)
			k = recipe_edit_lines(data, op->key, op->data, op->flags, &edited);
		else if (op->type == RECIPE_CONFIG_TXT)
			k = recipe_config_txt_edit(data, op->key, op->data, &edited);
		else
			k = recipe_cmdline_edit(data, op->key, op->data, &edited);
		if (k < 0) {
			c->oom = true;
			break;
		}
		if (strcmp(data, edited) != 0) {
			if (op->flags & RECIPE_LINE_BLOCK)
				op_problem(c, op, "herd's '%s' block missing or different",
					   op->key);
			else if (op->data)
				op_problem(c, op, "'%s' missing or different", op->data);
			else
				op_problem(c, op, "'%s...' still present", op->key);
		}
		break;
	}
	case RECIPE_REMOVE:
		if (exists)
			op_problem(c, op, "still present");
		break;
	case RECIPE_RENAME:
		if (exists)
			op_problem(c, op, "not renamed to %s", op->data);
		break;
	case RECIPE_COPY_TREE:
		if (!exists || st.type != VFS_DIR)
			op_problem(c, op, "missing");
		break;
	}
}

static void check_settings(struct check_ctx *c, struct image *img, const struct recipe_target *t,
			   const struct herd_settings *s)
{
	struct herd_error err = {0};
	struct recipe *r = NULL;
	struct image_os os;
	bool have_os = image_detect_os(img, &os, NULL) == 0;

	if (!t->root) {
		check_problem(c, "settings: the image has no root filesystem");
		return;
	}
	if (recipe_plan(t, have_os ? &os : NULL, s, &r, &err) < 0) {
		check_problem(c, "settings: %s", herd_error_message(&err));
		return;
	}
	for (size_t i = 0; i < r->count; i++)
		check_op(c, t, &r->ops[i]);
	recipe_free(r);
}

int check_image_open(struct image *img, const struct herd_settings *settings, struct strv *problems,
		     struct herd_error *err)
{
	struct check_ctx c = {.problems = problems};
	struct recipe_target t = {0};
	struct herd_error merr = {0};
	unsigned number;

	if (image_find_partition(img, "boot", &number, NULL) == 0) {
		if (image_mount(img, "boot", false, &t.boot, &merr) < 0)
			check_problem(&c, "boot: cannot mount: %s", herd_error_message(&merr));
		else
			check_fs(&c, t.boot, "boot");
	}
	if (image_find_partition(img, "root", &number, NULL) == 0) {
		herd_error_clear(&merr);
		if (image_mount(img, "root", false, &t.root, &merr) < 0)
			check_problem(&c, "root: cannot mount: %s", herd_error_message(&merr));
		else
			check_fs(&c, t.root, "root");
	} else {
		check_problem(&c, "no root filesystem found (no ext4 partition labelled rootfs "
				  "or holding /etc/os-release)");
	}
	if (t.root)
		check_root_files(&c, t.root);
	if (t.boot)
		check_boot_files(&c, t.boot);
	if (settings)
		check_settings(&c, img, &t, settings);
	vfs_close(t.boot, NULL);
	vfs_close(t.root, NULL);
	if (c.oom)
		return herd_error_set(err, ENOMEM, "out of memory");
	return (int)c.count;
}

int check_image(const char *path, const struct herd_settings *settings, struct strv *problems,
		struct herd_error *err)
{
	struct image *img = NULL;
	int r = image_open(path, IMAGE_READ_ONLY, &img, err);

	if (r < 0)
		return r;
	r = check_image_open(img, settings, problems, err);
	image_close(img);
	return r;
}
