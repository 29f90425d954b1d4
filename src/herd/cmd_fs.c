/*
 * cmd_fs.c — `herd fs ls|cat|put|get|rm|mkdir|ln|chmod|chown|stat
 * IMAGE:PART:/path`: file operations inside an image, as an unprivileged
 * user, through the same file API the recipes use.
 *
 * Every writing subcommand works through a copy-on-write overlay and
 * commits it only after the filesystem was flushed cleanly, so a failure
 * (full filesystem, bad path) leaves the image byte-for-byte untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "base/parse.h"
#include "cli.h"
#include "cmd_image_store.h"
#include "image/image.h"
#include "store/store.h"
#include "output.h"

#define FS_MAX_FILE (1ull << 32) /* largest file put/get moves through memory */

struct fs_target {
	struct image *img;
	struct vfs *fs;
	char *image, *part, *path;
	struct store_entry *entry; /* when IMAGE is a store name: held while in use */
	const char *spec;
	bool writable;
};

static void target_free(struct fs_target *t)
{
	free(t->image);
	free(t->part);
	free(t->path);
	t->image = t->part = t->path = NULL;
	t->entry = store_entry_close(t->entry);
}

/* Open IMAGE:PART:/path; on failure prints and returns an exit code, else -1. */
static int target_open(struct cli *cli, const char *spec, bool writable, struct fs_target *t)
{
	struct herd_error err = {0};
	unsigned flags = writable ? IMAGE_WRITABLE | IMAGE_OVERLAY : IMAGE_READ_ONLY;
	char *resolved = NULL;

	memset(t, 0, sizeof(*t));
	t->spec = spec;
	t->writable = writable;
	if (image_parse_location(spec, &t->image, &t->part, &t->path, &err) < 0) {
		cli_fail("%s", herd_error_message(&err));
		return EXIT_USAGE;
	}
	if (writable) {
		/* Refuse before a URL or .xz is fetched or unpacked for nothing. */
		int rc = image_store_require_raw_file(t->image, "herd build");
		if (rc >= 0) {
			target_free(t);
			return rc;
		}
	}
	{
		int rc = image_store_resolve(cli, t->image, &resolved, &t->entry);
		if (rc >= 0) {
			target_free(t);
			return rc;
		}
	}
	free(t->image);
	t->image = resolved;
	if (t->entry && writable) {
		/* A store entry is a verified cache shared by every later get,
		 * burn and build; edits belong in a copy. */
		cli_fail("%s: a store image is read-only (copy %s and edit the copy)",
			 t->entry->info.name, t->image);
		target_free(t);
		return EXIT_FAIL;
	}
	if (image_open(t->image, flags, &t->img, &err) < 0) {
		target_free(t);
		return cli_fail_error(&err);
	}
	if (image_mount(t->img, t->part, writable, &t->fs, &err) < 0) {
		cli_fail("%s:%s: %s", t->image, t->part, herd_error_message(&err));
		t->img = image_close(t->img);
		target_free(t);
		return EXIT_FAIL;
	}
	return -1;
}

/*
 * Finish: with ok, flush the filesystem into the overlay and commit the
 * overlay to the image; otherwise drop everything.  Returns the exit code.
 */
static int target_close(struct fs_target *t, int rc)
{
	struct herd_error err = {0};
	int r = vfs_close(t->fs, &err);

	t->fs = NULL;
	if (rc == EXIT_OK && t->writable) {
		if (r < 0)
			rc = cli_fail("%s: %s (image left unchanged)", t->spec,
				      herd_error_message(&err));
		else if (image_commit(t->img, &err) < 0)
			rc = cli_fail("%s: writing the changes failed: %s", t->image,
				      herd_error_message(&err));
	}
	t->img = image_close(t->img);
	target_free(t);
	return rc;
}

/* Print an operation failure naming the location; returns EXIT_FAIL. */
static int op_fail(const struct fs_target *t, const struct herd_error *err)
{
	return cli_fail("%s: %s%s", t->spec, herd_error_message(err),
			t->writable ? " (image left unchanged)" : "");
}

static const char *type_name(enum vfs_type type)
{
	switch (type) {
	case VFS_FILE:
		return "file";
	case VFS_DIR:
		return "directory";
	case VFS_SYMLINK:
		return "symlink";
	default:
		return "other";
	}
}

static char type_char(enum vfs_type type)
{
	return type == VFS_DIR ? 'd' : type == VFS_SYMLINK ? 'l' : type == VFS_FILE ? '-' : '?';
}

static void format_mode(char *buf, const struct vfs_stat *st)
{
	static const char rwx[] = "rwxrwxrwx";

	buf[0] = type_char(st->type);
	for (int i = 0; i < 9; i++)
		buf[1 + i] = (st->mode & (0400u >> i)) ? rwx[i] : '-';
	if (st->mode & 04000)
		buf[3] = (st->mode & 0100) ? 's' : 'S';
	if (st->mode & 02000)
		buf[6] = (st->mode & 0010) ? 's' : 'S';
	if (st->mode & 01000)
		buf[9] = (st->mode & 0001) ? 't' : 'T';
	buf[10] = '\0';
}

static void format_time(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	else
		snprintf(buf, len, "%" PRId64, t);
}

static json_t *stat_json(const char *name, const struct vfs_stat *st, const char *link)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "type", json_string(type_name(st->type)));
	json_object_set_new(o, "mode", json_integer(st->mode));
	json_object_set_new(o, "uid", json_integer(st->uid));
	json_object_set_new(o, "gid", json_integer(st->gid));
	json_object_set_new(o, "size", json_integer((json_int_t)st->size));
	json_object_set_new(o, "nlink", json_integer(st->nlink));
	json_object_set_new(o, "ino", json_integer((json_int_t)st->ino));
	json_object_set_new(o, "mtime", json_integer(st->mtime));
	if (link)
		json_object_set_new(o, "target", json_string(link));
	return o;
}

/* ---- ls ---------------------------------------------------------------- */

struct ls_ctx {
	struct cli *cli;
	bool long_format;
	json_t *array;
	struct table *table;
};

static int ls_entry(void *userdata, const struct vfs_dirent *e)
{
	struct ls_ctx *c = userdata;

	if (c->array) {
		json_array_append_new(c->array, stat_json(e->name, &e->st, NULL));
	} else if (c->long_format) {
		char mode[11], owner[32], size[32], when[32];
		format_mode(mode, &e->st);
		snprintf(owner, sizeof(owner), "%u:%u", e->st.uid, e->st.gid);
		snprintf(size, sizeof(size), "%" PRIu64, e->st.size);
		format_time(when, sizeof(when), e->st.mtime);
		const char *cells[] = {mode, owner, size, when, e->name};
		table_add_row(c->table, cells);
	} else {
		printf("%s%s\n", e->name, e->st.type == VFS_DIR ? "/" : "");
	}
	return 0;
}

static int ls_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	*(bool *)ctx = true;
	return 0;
}

static int fs_ls_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_ls = {
    .name = "ls",
    .usage = "Usage: herd fs ls [-l] [--json] IMAGE:PART:/dir\n"
	     "\n"
	     "List a directory (or show one file).  -l adds mode, owner, size and\n"
	     "modification time (UTC); --json prints an array with all of them.\n",
    .run = fs_ls_run,
};

static int fs_ls_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {{"long", no_argument, NULL, 'l'}, {0}};
	struct ls_ctx c = {.cli = cli};
	struct herd_error err = {0};
	struct fs_target t;
	struct vfs_stat st;
	int rc = cli_parse(cli, &cmd_fs_ls, argc, argv, "l", options, ls_option, &c.long_format);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "expected one IMAGE:PART:/dir");
	rc = target_open(cli, argv[optind], false, &t);
	if (rc >= 0)
		return rc;
	if (cli->json)
		c.array = json_array();
	else if (c.long_format) {
		c.table = table_new(5);
		table_set_header(c.table, 0, "MODE", TABLE_LEFT);
		table_set_header(c.table, 1, "OWNER", TABLE_LEFT);
		table_set_header(c.table, 2, "SIZE", TABLE_RIGHT);
		table_set_header(c.table, 3, "MODIFIED", TABLE_LEFT);
		table_set_header(c.table, 4, "NAME", TABLE_LEFT);
	}
	rc = EXIT_OK;
	if (vfs_stat(t.fs, t.path, &st, &err) < 0) {
		rc = op_fail(&t, &err);
	} else if (st.type != VFS_DIR) {
		const char *base = strrchr(t.path, '/');
		struct vfs_dirent e = {.name = base ? base + 1 : t.path, .st = st};
		ls_entry(&c, &e);
	} else if (vfs_readdir(t.fs, t.path, ls_entry, &c, &err) < 0) {
		rc = op_fail(&t, &err);
	}
	if (rc == EXIT_OK && c.array)
		rc = output_json(c.array);
	else if (c.array)
		json_decref(c.array);
	if (rc == EXIT_OK && c.table)
		table_print(c.table, stdout);
	table_free(c.table);
	return target_close(&t, rc);
}

/* ---- cat / get --------------------------------------------------------- */

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int copy_out(struct cli *cli, const char *spec, const char *dest)
{
	struct herd_error err = {0};
	struct fs_target t;
	char *data = NULL;
	size_t len = 0;
	int rc = target_open(cli, spec, false, &t), fd = STDOUT_FILENO, r;

	if (rc >= 0)
		return rc;
	if (vfs_read_all(t.fs, t.path, FS_MAX_FILE, &data, &len, &err) < 0)
		return target_close(&t, op_fail(&t, &err));
	rc = EXIT_OK;
	if (dest && strcmp(dest, "-") != 0) {
		fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = cli_fail("%s: %s", dest, strerror(errno));
	}
	if (rc == EXIT_OK && (r = write_all(fd, data, len)) < 0)
		rc = cli_fail("%s: %s", dest ? dest : "stdout", strerror(-r));
	if (fd != STDOUT_FILENO && fd >= 0 && close(fd) < 0 && rc == EXIT_OK)
		rc = cli_fail("%s: %s", dest, strerror(errno));
	free(data);
	return target_close(&t, rc);
}

static int fs_cat_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_cat = {
    .name = "cat",
    .usage = "Usage: herd fs cat IMAGE:PART:/file\n"
	     "\n"
	     "Write a file's contents to standard output (symlinks are followed inside\n"
	     "the image, never on the host).\n",
    .run = fs_cat_run,
};

static int fs_cat_run(struct cli *cli, int argc, char **argv)
{
	int rc = cli_parse(cli, &cmd_fs_cat, argc, argv, "", NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "expected one IMAGE:PART:/file");
	return copy_out(cli, argv[optind], NULL);
}

static int fs_get_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_get = {
    .name = "get",
    .usage = "Usage: herd fs get IMAGE:PART:/file LOCAL\n"
	     "\n"
	     "Copy a file out of the image to LOCAL ('-' for standard output).\n",
    .run = fs_get_run,
};

static int fs_get_run(struct cli *cli, int argc, char **argv)
{
	int rc = cli_parse(cli, &cmd_fs_get, argc, argv, "", NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	if (optind + 2 != argc)
		return cli_usage_error(cli, "expected IMAGE:PART:/file LOCAL");
	return copy_out(cli, argv[optind], argv[optind + 1]);
}

/* ---- put / mkdir: --mode and --owner ------------------------------------ */

struct attr_opts {
	bool has_mode, has_owner;
	uint32_t mode, uid, gid;
};

static int parse_owner(const char *arg, uint32_t *uid, uint32_t *gid)
{
	const char *colon = strchr(arg, ':');
	char u[16];

	if (!colon || (size_t)(colon - arg) >= sizeof(u))
		return -EINVAL;
	memcpy(u, arg, (size_t)(colon - arg));
	u[colon - arg] = '\0';
	if (parse_u32(u, 0, UINT32_MAX - 1, uid) < 0 ||
	    parse_u32(colon + 1, 0, UINT32_MAX - 1, gid) < 0)
		return -EINVAL;
	return 0;
}

static int attr_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct attr_opts *a = ctx;

	if (opt == 'm') {
		if (parse_mode(arg, &a->mode) < 0)
			return cli_usage_error(cli, "--mode: '%s' is not an octal mode like 0644",
					       arg);
		a->has_mode = true;
	} else if (opt == 'o') {
		if (parse_owner(arg, &a->uid, &a->gid) < 0)
			return cli_usage_error(cli, "--owner: '%s' is not UID:GID (numbers)", arg);
		a->has_owner = true;
	} else {
		return cli_usage_error(cli, "unexpected option");
	}
	return 0;
}

static const struct option attr_options[] = {
    {"mode", required_argument, NULL, 'm'},
    {"owner", required_argument, NULL, 'o'},
    {0},
};

static int read_local(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	size_t cap = 65536, len = 0;
	char *buf;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		if (len == cap) {
			char *nb;
			if (cap >= FS_MAX_FILE) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int fs_put_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_put = {
    .name = "put",
    .usage = "Usage: herd fs put [--mode MODE] [--owner UID:GID] LOCAL IMAGE:PART:/path\n"
	     "\n"
	     "Copy LOCAL ('-' for standard input) into the image, creating or replacing\n"
	     "the file.  A new file gets mode 0644 and owner 0:0 unless given; an\n"
	     "existing one keeps its mode and owner unless given.  Missing parent\n"
	     "directories are an error (use 'herd fs mkdir').  FAT stores neither\n"
	     "owner nor mode (a mode without write bits sets the read-only attribute).\n",
    .run = fs_put_run,
};

static int apply_attrs(struct fs_target *t, const struct attr_opts *a, struct herd_error *err)
{
	int r = 0;

	if (a->has_mode)
		r = vfs_chmod(t->fs, t->path, a->mode, err);
	if (r == 0 && a->has_owner)
		r = vfs_chown(t->fs, t->path, a->uid, a->gid, err);
	return r;
}

static int fs_put_run(struct cli *cli, int argc, char **argv)
{
	struct attr_opts a = {0};
	struct herd_error err = {0};
	struct fs_target t;
	char *data = NULL;
	size_t len = 0;
	int r, rc = cli_parse(cli, &cmd_fs_put, argc, argv, "", attr_options, attr_option, &a);

	if (rc >= 0)
		return rc;
	if (optind + 2 != argc)
		return cli_usage_error(cli, "expected LOCAL IMAGE:PART:/path");
	r = read_local(argv[optind], &data, &len);
	if (r < 0)
		return cli_fail("%s: %s", argv[optind], strerror(-r));
	rc = target_open(cli, argv[optind + 1], true, &t);
	if (rc >= 0) {
		free(data);
		return rc;
	}
	r = vfs_write(t.fs, t.path, data, len, VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE,
		      a.has_mode ? a.mode : 0644, a.has_owner ? a.uid : 0, a.has_owner ? a.gid : 0,
		      &err);
	if (r == 0)
		r = apply_attrs(&t, &a, &err);
	free(data);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

static int fs_mkdir_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_mkdir = {
    .name = "mkdir",
    .usage = "Usage: herd fs mkdir [--mode MODE] [--owner UID:GID] IMAGE:PART:/dir\n"
	     "\n"
	     "Create a directory and any missing parents (mode 0755, owner 0:0 unless\n"
	     "given).  An existing directory is not an error.\n",
    .run = fs_mkdir_run,
};

static int fs_mkdir_run(struct cli *cli, int argc, char **argv)
{
	struct attr_opts a = {0};
	struct herd_error err = {0};
	struct fs_target t;
	int r, rc = cli_parse(cli, &cmd_fs_mkdir, argc, argv, "", attr_options, attr_option, &a);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "expected one IMAGE:PART:/dir");
	rc = target_open(cli, argv[optind], true, &t);
	if (rc >= 0)
		return rc;
	r = vfs_mkdir(t.fs, t.path, a.has_mode ? a.mode : 0755, a.uid, a.gid, true, &err);
	if (r == 0)
		r = apply_attrs(&t, &a, &err);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

/* ---- rm ---------------------------------------------------------------- */

static int collect_name(void *userdata, const struct vfs_dirent *e)
{
	return strv_push(userdata, e->name);
}

/* Remove `path` and, for a directory, everything below it.  Children are
 * listed first and removed afterwards, so readdir never walks a directory
 * that changes under it. */
static int rm_tree(struct vfs *fs, const char *path, int depth, struct herd_error *err)
{
	struct strv names = STRV_INIT;
	struct vfs_stat st;
	int r = vfs_lstat(fs, path, &st, err);

	if (r < 0)
		return r;
	if (st.type != VFS_DIR)
		return vfs_unlink(fs, path, err);
	if (depth > 256)
		return herd_error_set(err, ELOOP, "directory tree deeper than 256 levels");
	r = vfs_readdir(fs, path, collect_name, &names, err);
	for (size_t i = 0; r >= 0 && i < names.count; i++) {
		char child[4096];
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "",
				     names.items[i]) >= sizeof(child))
			r = herd_error_set(err, ENAMETOOLONG, "path too long");
		else
			r = rm_tree(fs, child, depth + 1, err);
	}
	strv_free(&names);
	if (r < 0)
		return r;
	return vfs_rmdir(fs, path, err);
}

static int fs_rm_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_rm = {
    .name = "rm",
    .usage = "Usage: herd fs rm [-r] IMAGE:PART:/path\n"
	     "\n"
	     "Remove a file or symlink; an empty directory; with -r a directory and\n"
	     "everything below it.\n",
    .run = fs_rm_run,
};

static int rm_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	*(bool *)ctx = true;
	return 0;
}

static int fs_rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {{"recursive", no_argument, NULL, 'r'}, {0}};
	struct herd_error err = {0};
	struct fs_target t;
	struct vfs_stat st;
	bool recursive = false;
	int r, rc = cli_parse(cli, &cmd_fs_rm, argc, argv, "r", options, rm_option, &recursive);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "expected one IMAGE:PART:/path");
	rc = target_open(cli, argv[optind], true, &t);
	if (rc >= 0)
		return rc;
	r = vfs_lstat(t.fs, t.path, &st, &err);
	if (r == 0 && recursive)
		r = rm_tree(t.fs, t.path, 0, &err);
	else if (r == 0 && st.type == VFS_DIR)
		r = vfs_rmdir(t.fs, t.path, &err);
	else if (r == 0)
		r = vfs_unlink(t.fs, t.path, &err);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

/* ---- ln ---------------------------------------------------------------- */

static int fs_ln_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_ln = {
    .name = "ln",
    .usage = "Usage: herd fs ln -s TARGET IMAGE:PART:/path\n"
	     "       herd fs ln /existing IMAGE:PART:/path\n"
	     "\n"
	     "With -s, create a symbolic link holding TARGET (any text; resolved inside\n"
	     "the image when followed).  Without -s, create a hard link to /existing in\n"
	     "the same filesystem.  FAT has neither.\n",
    .run = fs_ln_run,
};

static int fs_ln_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {{"symbolic", no_argument, NULL, 's'}, {0}};
	struct herd_error err = {0};
	struct fs_target t;
	bool symbolic = false;
	int r, rc = cli_parse(cli, &cmd_fs_ln, argc, argv, "s", options, rm_option, &symbolic);

	if (rc >= 0)
		return rc;
	if (optind + 2 != argc)
		return cli_usage_error(cli, "expected TARGET IMAGE:PART:/path");
	rc = target_open(cli, argv[optind + 1], true, &t);
	if (rc >= 0)
		return rc;
	if (symbolic)
		r = vfs_symlink(t.fs, argv[optind], t.path, 0, 0, &err);
	else
		r = vfs_link(t.fs, argv[optind], t.path, &err);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

/* ---- chmod / chown ----------------------------------------------------- */

static int fs_chmod_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_chmod = {
    .name = "chmod",
    .usage = "Usage: herd fs chmod MODE IMAGE:PART:/path\n"
	     "\n"
	     "Set permission bits (octal, e.g. 0600 or 4755).  Symlinks are not\n"
	     "followed.\n",
    .run = fs_chmod_run,
};

static int fs_chmod_run(struct cli *cli, int argc, char **argv)
{
	struct herd_error err = {0};
	struct fs_target t;
	uint32_t mode;
	int r, rc = cli_parse(cli, &cmd_fs_chmod, argc, argv, "", NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	if (optind + 2 != argc)
		return cli_usage_error(cli, "expected MODE IMAGE:PART:/path");
	if (parse_mode(argv[optind], &mode) < 0)
		return cli_usage_error(cli, "'%s' is not an octal mode like 0644", argv[optind]);
	rc = target_open(cli, argv[optind + 1], true, &t);
	if (rc >= 0)
		return rc;
	r = vfs_chmod(t.fs, t.path, mode, &err);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

static int fs_chown_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_chown = {
    .name = "chown",
    .usage = "Usage: herd fs chown UID:GID IMAGE:PART:/path\n"
	     "\n"
	     "Set numeric owner and group.  Symlinks are not followed.\n",
    .run = fs_chown_run,
};

static int fs_chown_run(struct cli *cli, int argc, char **argv)
{
	struct herd_error err = {0};
	struct fs_target t;
	uint32_t uid, gid;
	int r, rc = cli_parse(cli, &cmd_fs_chown, argc, argv, "", NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	if (optind + 2 != argc)
		return cli_usage_error(cli, "expected UID:GID IMAGE:PART:/path");
	if (parse_owner(argv[optind], &uid, &gid) < 0)
		return cli_usage_error(cli, "'%s' is not UID:GID (numbers)", argv[optind]);
	rc = target_open(cli, argv[optind + 1], true, &t);
	if (rc >= 0)
		return rc;
	r = vfs_chown(t.fs, t.path, uid, gid, &err);
	return target_close(&t, r < 0 ? op_fail(&t, &err) : EXIT_OK);
}

/* ---- stat -------------------------------------------------------------- */

static int fs_stat_run(struct cli *cli, int argc, char **argv);
static const struct cli_command cmd_fs_stat = {
    .name = "stat",
    .usage = "Usage: herd fs stat [--json] IMAGE:PART:/path\n"
	     "\n"
	     "Show type, mode, owner, size, links, inode and modification time (UTC)\n"
	     "of a path; a symlink is shown itself, with its target.\n",
    .run = fs_stat_run,
};

static int fs_stat_run(struct cli *cli, int argc, char **argv)
{
	struct herd_error err = {0};
	struct fs_target t;
	struct vfs_stat st;
	char link[4096] = "";
	int rc = cli_parse(cli, &cmd_fs_stat, argc, argv, "", NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "expected one IMAGE:PART:/path");
	rc = target_open(cli, argv[optind], false, &t);
	if (rc >= 0)
		return rc;
	if (vfs_lstat(t.fs, t.path, &st, &err) < 0 ||
	    (st.type == VFS_SYMLINK && vfs_readlink(t.fs, t.path, link, sizeof(link), &err) < 0))
		return target_close(&t, op_fail(&t, &err));
	if (cli->json) {
		rc = output_json(stat_json(t.path, &st, st.type == VFS_SYMLINK ? link : NULL));
	} else {
		char mode[11], when[32];
		format_mode(mode, &st);
		format_time(when, sizeof(when), st.mtime);
		printf("path:  %s%s%s\n", t.path, st.type == VFS_SYMLINK ? " -> " : "", link);
		printf("type:  %s\n", type_name(st.type));
		printf("mode:  %04o (%s)\n", st.mode, mode);
		printf("owner: %u:%u\n", st.uid, st.gid);
		printf("size:  %" PRIu64 "\n", st.size);
		printf("links: %u\n", st.nlink);
		printf("inode: %" PRIu64 "\n", st.ino);
		printf("mtime: %s UTC\n", when);
		rc = EXIT_OK;
	}
	return target_close(&t, rc);
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct cli_command *const fs_subcommands[] = {
    &cmd_fs_ls,	   &cmd_fs_cat, &cmd_fs_get,   &cmd_fs_put,   &cmd_fs_rm,
    &cmd_fs_mkdir, &cmd_fs_ln,	&cmd_fs_chmod, &cmd_fs_chown, &cmd_fs_stat,
};

static int fs_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, &cmd_fs, fs_subcommands, ELEMENTSOF(fs_subcommands), argc, argv);
}

const struct cli_command cmd_fs = {
    .name = "fs",
    .summary = "files inside an image: ls, cat, put, get, rm, mkdir, ln, chmod, chown, stat",
    .usage = "Usage: herd fs <subcommand> [options] IMAGE:PART:/path ...\n"
	     "\n"
	     "Work on files inside an image without mounting it, as any user.\n"
	     "PART is a partition number, 'boot' (the FAT partition with config.txt)\n"
	     "or 'root' (the ext4 root filesystem); 0 is the whole device.\n"
	     "\n"
	     "Subcommands:\n"
	     "  ls [-l] LOC                    list a directory\n"
	     "  cat LOC                        print a file\n"
	     "  get LOC LOCAL                  copy a file out\n"
	     "  put [--mode M] [--owner U:G] LOCAL LOC   copy a file in\n"
	     "  rm [-r] LOC                    remove\n"
	     "  mkdir [--mode M] [--owner U:G] LOC       make a directory (and parents)\n"
	     "  ln -s TARGET LOC | ln /existing LOC      symbolic or hard link\n"
	     "  chmod MODE LOC                 set permission bits\n"
	     "  chown UID:GID LOC              set owner\n"
	     "  stat LOC                       show metadata\n"
	     "\n"
	     "Changes go through a copy-on-write overlay committed only when the\n"
	     "operation succeeded: a failed command leaves the image unchanged.\n",
    .run = fs_run,
};
