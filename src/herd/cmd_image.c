/*
 * cmd_image.c — `herd image info|map IMAGE`: what is in an image (table,
 * partitions, filesystems, OS) and which byte ranges hold anything.
 * The image store's subcommands (get, import, ls, versions, rm) join this
 * table when the store lands.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_image_check.h"
#include "cmd_image_store.h"
#include "base/macros.h"
#include "image/image.h"
#include "output.h"

/* Parse the options shared by info and map; returns -1 to continue, else an exit code. */
static int parse_image_args(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
			    const char **ret_path)
{
	int r = cli_parse(cli, cmd, argc, argv, "", NULL, NULL, NULL);

	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return cli_usage_error(cli,
				       optind >= argc ? "missing IMAGE" : "too many arguments");
	*ret_path = argv[optind];
	return -1;
}

struct part_row {
	const struct ptable_partition *p;
	bool has_fs;
	struct vfs_info fs;
};

static void describe_type(const struct ptable *t, const struct ptable_partition *p, char *buf,
			  size_t len)
{
	if (t->type == PTABLE_MBR)
		snprintf(buf, len, "0x%02x", p->mbr_type);
	else
		snprintf(buf, len, "%s", p->type_guid);
}

static json_t *info_json(const char *path, struct image *img, const struct part_row *rows,
			 unsigned n, const struct image_os *os, bool have_os)
{
	json_t *root = json_object(), *table = json_object(), *parts = json_array();

	json_object_set_new(root, "path", json_string(path));
	json_object_set_new(root, "size", json_integer((json_int_t)blockdev_size(img->bd)));
	json_object_set_new(table, "type", json_string(ptable_type_name(img->table.type)));
	json_object_set_new(table, "disk_id", json_string(img->table.disk_id));
	json_object_set_new(table, "sector_size", json_integer(img->table.sector_size));
	if (img->table.warning[0])
		json_object_set_new(table, "warning", json_string(img->table.warning));
	json_object_set_new(root, "table", table);
	for (unsigned i = 0; i < n; i++) {
		const struct ptable_partition *p = rows[i].p;
		json_t *o = json_object();
		char type[64];
		describe_type(&img->table, p, type, sizeof(type));
		json_object_set_new(o, "number", json_integer(p->number));
		json_object_set_new(o, "start", json_integer((json_int_t)p->start));
		json_object_set_new(o, "size", json_integer((json_int_t)p->size));
		json_object_set_new(o, "type", json_string(type));
		json_object_set_new(o, "partuuid", json_string(p->partuuid));
		if (p->name[0])
			json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "bootable", json_boolean(p->bootable));
		if (rows[i].has_fs) {
			json_t *fs = json_object();
			json_object_set_new(fs, "type", json_string(rows[i].fs.type));
			json_object_set_new(fs, "label", json_string(rows[i].fs.label));
			json_object_set_new(fs, "uuid", json_string(rows[i].fs.uuid));
			json_object_set_new(fs, "size", json_integer((json_int_t)rows[i].fs.size));
			json_object_set_new(fs, "used", json_integer((json_int_t)rows[i].fs.used));
			json_object_set_new(fs, "block_size", json_integer(rows[i].fs.block_size));
			json_object_set_new(o, "filesystem", fs);
		} else {
			json_object_set_new(o, "filesystem", json_null());
		}
		json_array_append_new(parts, o);
	}
	json_object_set_new(root, "partitions", parts);
	if (have_os) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(os->id));
		json_object_set_new(o, "version_id", json_string(os->version_id));
		json_object_set_new(o, "codename", json_string(os->codename));
		json_object_set_new(o, "pretty_name", json_string(os->pretty_name));
		json_object_set_new(o, "raspberry_pi_os", json_boolean(os->raspberry_pi_os));
		if (os->rpi_issue[0])
			json_object_set_new(o, "rpi_issue", json_string(os->rpi_issue));
		json_object_set_new(root, "os", o);
	} else {
		json_object_set_new(root, "os", json_null());
	}
	return root;
}

static void info_text(const char *path, struct image *img, const struct part_row *rows, unsigned n,
		      const struct image_os *os, bool have_os)
{
	struct table *t = table_new(11);
	static const char *const titles[] = {"#",     "START", "SIZE",	 "TYPE", "PARTUUID", "FS",
					     "LABEL", "UUID",  "FSSIZE", "USED", "NAME"};
	char size[32];

	format_size(size, sizeof(size), blockdev_size(img->bd));
	printf("image:  %s (%s)\n", path, size);
	printf("table:  %s", ptable_type_name(img->table.type));
	if (img->table.disk_id[0])
		printf(", disk id %s", img->table.disk_id);
	if (img->table.hybrid_mbr)
		printf(", hybrid MBR");
	printf("\n");
	if (img->table.warning[0])
		printf("warning: %s\n", img->table.warning);
	if (have_os)
		printf("os:     %s%s%s\n", os->pretty_name[0] ? os->pretty_name : os->id,
		       os->raspberry_pi_os ? " (Raspberry Pi OS" : "",
		       os->raspberry_pi_os ? (os->rpi_issue[0] ? ", rpi-issue present)" : ")")
					   : "");
	else
		printf("os:     not detected\n");
	if (!t)
		return;
	for (size_t c = 0; c < 11; c++)
		table_set_header(t, c, titles[c],
				 (c == 1 || c == 2 || c == 8 || c == 9) ? TABLE_RIGHT : TABLE_LEFT);
	for (unsigned i = 0; i < n; i++) {
		const struct ptable_partition *p = rows[i].p;
		char num[16], start[32], psize[32], type[64], fssize[32], used[32];
		snprintf(num, sizeof(num), "%u", p->number);
		snprintf(start, sizeof(start), "%" PRIu64, p->start);
		format_size(psize, sizeof(psize), p->size);
		describe_type(&img->table, p, type, sizeof(type));
		if (rows[i].has_fs) {
			format_size(fssize, sizeof(fssize), rows[i].fs.size);
			format_size(used, sizeof(used), rows[i].fs.used);
		}
		const char *cells[11] = {
		    num,
		    start,
		    psize,
		    type,
		    p->partuuid[0] ? p->partuuid : NULL,
		    rows[i].has_fs ? rows[i].fs.type : NULL,
		    rows[i].has_fs && rows[i].fs.label[0] ? rows[i].fs.label : NULL,
		    rows[i].has_fs && rows[i].fs.uuid[0] ? rows[i].fs.uuid : NULL,
		    rows[i].has_fs ? fssize : NULL,
		    rows[i].has_fs ? used : NULL,
		    p->name[0] ? p->name : NULL,
		};
		table_add_row(t, cells);
	}
	printf("\n");
	table_print(t, stdout);
	table_free(t);
}

static int image_info_run(struct cli *cli, int argc, char **argv);
static int image_map_run(struct cli *cli, int argc, char **argv);

static const struct cli_command cmd_image_info = {
    .name = "info",
    .summary = "partitions, filesystems and OS of an image",
    .usage = "Usage: herd image info [--json] IMAGE\n"
	     "\n"
	     "Show the partition table (type, disk id), each partition (number, start,\n"
	     "size, type, PARTUUID) with its filesystem (type, label, UUID, size, used)\n"
	     "and the OS found on the root partition (/etc/os-release, /etc/rpi-issue).\n"
	     "Reads only; works on a plain image file as an unprivileged user.\n",
    .run = image_info_run,
};

static const struct cli_command cmd_image_map = {
    .name = "map",
    .summary = "byte ranges of an image that hold anything",
    .usage = "Usage: herd image map [--json] IMAGE\n"
	     "\n"
	     "Print the used-block map: partition-table structures, gaps before and\n"
	     "between partitions, every understood filesystem's metadata and allocated\n"
	     "blocks, and every partition herd does not understand in full.  Zeroing\n"
	     "everything outside the map leaves every file and fsck result unchanged;\n"
	     "burn and build copy only these ranges.\n"
	     "\n"
	     "Text output: one 'START LENGTH' line per range (bytes), then a total.\n",
    .run = image_map_run,
};

static int image_info_run(struct cli *cli, int argc, char **argv)
{
	struct herd_error err = {0};
	struct store_entry *entry = NULL;
	char *resolved = NULL;
	struct image *img = NULL;
	struct part_row rows[PTABLE_MAX_PARTITIONS];
	struct image_os os;
	bool have_os;
	const char *path = NULL;
	unsigned n = 0;
	int r = parse_image_args(cli, &cmd_image_info, argc, argv, &path);

	if (r >= 0)
		return r;
	r = image_store_resolve(cli, path, &resolved, &entry);
	if (r >= 0)
		return r;
	path = resolved;
	if (image_open(path, IMAGE_READ_ONLY, &img, &err) < 0) {
		r = cli_fail_error(&err);
		goto out;
	}
	for (unsigned i = 0; i < img->table.count; i++) {
		struct blockdev *part = NULL;
		struct vfs *fs = NULL;
		rows[n].p = &img->table.partitions[i];
		rows[n].has_fs = false;
		if (image_open_partition(img, rows[n].p->number, &part, NULL) == 0 &&
		    vfs_probe(part) && vfs_mount(part, false, &fs, NULL) == 0) {
			rows[n].has_fs = vfs_info(fs, &rows[n].fs, NULL) == 0;
			vfs_close(fs, NULL);
		}
		blockdev_unref(part);
		n++;
	}
	have_os = image_detect_os(img, &os, NULL) == 0;
	if (cli->json) {
		json_t *root = info_json(path, img, rows, n, &os, have_os);
		if (root && entry)
			json_object_set_new(root, "store", image_store_entry_json(&entry->info));
		r = output_json(root);
	} else {
		if (entry)
			image_store_entry_print(&entry->info);
		info_text(path, img, rows, n, &os, have_os);
		r = EXIT_OK;
	}
	image_close(img);
out:
	store_entry_close(entry);
	free(resolved);
	return r;
}

static int image_map_run(struct cli *cli, int argc, char **argv)
{
	struct herd_error err = {0};
	struct rangeset map = RANGESET_INIT;
	struct image *img = NULL;
	struct store_entry *entry = NULL;
	_cleanup_free_ char *resolved = NULL;
	const char *path = NULL;
	uint64_t total;
	int r = parse_image_args(cli, &cmd_image_map, argc, argv, &path);

	if (r >= 0)
		return r;
	r = image_store_resolve(cli, path, &resolved, &entry);
	if (r >= 0)
		return r;
	path = resolved;
	r = image_open(path, IMAGE_READ_ONLY, &img, &err);
	/* The entry's shared lock only has to outlive the open: rm then
	 * refuses, and an unlinked file stays readable through our fd. */
	entry = store_entry_close(entry);
	if (r < 0)
		return cli_fail_error(&err);
	if (image_used_map(img, &map, &err) < 0) {
		image_close(img);
		return cli_fail("%s: %s", path, herd_error_message(&err));
	}
	total = rangeset_total(&map);
	if (cli->json) {
		json_t *root = json_object(), *ranges = json_array();
		for (size_t i = 0; i < map.count; i++) {
			json_t *pair = json_array();
			json_array_append_new(pair, json_integer((json_int_t)map.ranges[i].offset));
			json_array_append_new(pair, json_integer((json_int_t)map.ranges[i].length));
			json_array_append_new(ranges, pair);
		}
		json_object_set_new(root, "size", json_integer((json_int_t)blockdev_size(img->bd)));
		json_object_set_new(root, "used", json_integer((json_int_t)total));
		json_object_set_new(root, "ranges", ranges);
		r = output_json(root);
	} else {
		char human[32], whole[32];
		for (size_t i = 0; i < map.count; i++)
			printf("%" PRIu64 " %" PRIu64 "\n", map.ranges[i].offset,
			       map.ranges[i].length);
		format_size(human, sizeof(human), total);
		format_size(whole, sizeof(whole), blockdev_size(img->bd));
		printf("total %" PRIu64 " bytes (%s of %s, %.1f%%) in %zu ranges\n", total, human,
		       whole,
		       blockdev_size(img->bd)
			   ? 100.0 * (double)total / (double)blockdev_size(img->bd)
			   : 0.0,
		       map.count);
		r = EXIT_OK;
	}
	rangeset_free(&map);
	image_close(img);
	return r;
}

static const struct cli_command *const image_subcommands[] = {
    &cmd_image_info, &cmd_image_map, &cmd_image_get,	  &cmd_image_import,
    &cmd_image_ls,   &cmd_image_rm,  &cmd_image_versions, &cmd_image_check,
};

static int image_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, &cmd_image, image_subcommands,
			    sizeof(image_subcommands) / sizeof(image_subcommands[0]), argc, argv);
}

const struct cli_command cmd_image = {
    .name = "image",
    .summary = "the image store and image inspection: get, ls, info, map, check",
    .usage = "Usage: herd image <subcommand> [--json] ...\n"
	     "\n"
	     "Subcommands:\n"
	     "  get URL|latest|NAME   download into the store, verify, unpack once\n"
	     "  import FILE           put a local image file into the store\n"
	     "  ls                    images in the store\n"
	     "  versions              images offered by the OS list\n"
	     "  rm NAME               remove an image from the store\n"
	     "  info IMAGE            partition table, partitions, filesystems, detected OS\n"
	     "  map IMAGE             the used-block map (ranges that hold anything)\n"
	     "  check IMAGE           filesystems consistent, a host's settings present\n"
	     "\n"
	     "IMAGE is a store name, a raw image file or a block device (read-only).\n"
	     "'herd image <subcommand> --help' for details.\n",
    .run = image_run,
};
