/*
 * cmd_devices.c — `herd devices`: the block devices a card could be burnt
 * to, with herd's verdict on each (libherd burn/devices.h does the work).
 *
 * Test hooks (environment): HERD_SYSFS_ROOT (default /sys),
 * HERD_MOUNTINFO (default /proc/self/mountinfo), HERD_SWAPS (default
 * /proc/swaps).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "burn/devices.h"
#include "cli.h"
#include "output.h"

void cli_devices_options(struct burn_devices_options *opts)
{
	const char *v;

	if ((v = getenv("HERD_SYSFS_ROOT")) && v[0])
		opts->sysfs_root = v;
	if ((v = getenv("HERD_MOUNTINFO")) && v[0])
		opts->mountinfo = v;
	if ((v = getenv("HERD_SWAPS")) && v[0])
		opts->swaps = v;
}

struct devices_args {
	struct burn_devices_options opts;
	bool all;
};

static int devices_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct devices_args *a = ctx;

	switch (opt) {
	case 'm':
		if (parse_size(arg, &a->opts.max_size) < 0 || a->opts.max_size == 0)
			return cli_usage_error(cli, "--max-size %s: not a size like 256G", arg);
		return 0;
	case 'f':
		a->opts.force = true;
		return 0;
	case 'a':
		a->all = true;
		return 0;
	}
	return EXIT_USAGE;
}

static json_t *device_json(const struct burn_device *d)
{
	json_t *o = json_object(), *mounts = json_array();

	json_object_set_new(o, "path", json_string(d->path));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "vendor", json_string(d->vendor));
	json_object_set_new(o, "model", json_string(d->model));
	json_object_set_new(o, "serial", json_string(d->serial));
	json_object_set_new(o, "size", json_integer((json_int_t)d->size));
	json_object_set_new(o, "bus", json_string(d->bus));
	json_object_set_new(o, "removable", json_boolean(d->removable));
	json_object_set_new(o, "read_only", json_boolean(d->read_only));
	json_object_set_new(o, "system", json_boolean(d->system));
	for (size_t i = 0; i < d->mounts.count; i++)
		json_array_append_new(mounts, json_string(d->mounts.items[i]));
	json_object_set_new(o, "mounted", mounts);
	json_object_set_new(o, "writable", json_boolean(d->writable));
	json_object_set_new(o, "reason", d->writable ? json_null() : json_string(d->reason));
	return o;
}

static int devices_run(struct cli *cli, int argc, char **argv);

const struct cli_command cmd_devices = {
    .name = "devices",
    .summary = "block devices a card could be burnt to",
    .usage = "Usage: herd devices [--json] [--all] [--max-size SIZE] [--force]\n"
	     "\n"
	     "List block devices from sysfs: path, size, bus (usb, sd, mmc, nvme,\n"
	     "virtio, ata, scsi, loop), vendor, model, serial, removable, read-only,\n"
	     "mounted partitions, and whether 'herd burn' would write to it.  When not,\n"
	     "the reason: system disk (holds /, /boot or swap), mounted, read-only, no\n"
	     "medium, too large (over --max-size, default 256G) or not removable; the\n"
	     "last two are lifted by --force.  Native SD slots (mmcblk) count as\n"
	     "removable.  Without --all only removable devices and loop devices are\n"
	     "shown.\n",
    .run = devices_run,
};

static int devices_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {{"max-size", required_argument, NULL, 'm'},
						{"force", no_argument, NULL, 'f'},
						{"all", no_argument, NULL, 'a'},
						{0}};
	struct devices_args a = {0};
	struct burn_device_list list = {0};
	struct herd_error err = {0};
	int r = cli_parse(cli, &cmd_devices, argc, argv, "", options, devices_option, &a);

	if (r >= 0)
		return r;
	if (optind != argc)
		return cli_usage_error(cli, "no arguments expected");
	cli_devices_options(&a.opts);
	if (burn_devices_scan(&a.opts, &list, &err) < 0)
		return cli_fail_error(&err);
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < list.count; i++)
			if (a.all || list.items[i].removable ||
			    strcmp(list.items[i].bus, "loop") == 0)
				json_array_append_new(arr, device_json(&list.items[i]));
		r = output_json(arr);
	} else {
		struct table *t = table_new(9);
		static const char *const titles[] = {"DEVICE", "SIZE", "BUS",	  "MODEL", "SERIAL",
						     "RM",     "RO",   "MOUNTED", "BURN"};
		if (!t) {
			burn_device_list_free(&list);
			return cli_fail("out of memory");
		}
		for (size_t c = 0; c < 9; c++)
			table_set_header(t, c, titles[c], c == 1 ? TABLE_RIGHT : TABLE_LEFT);
		for (size_t i = 0; i < list.count; i++) {
			const struct burn_device *d = &list.items[i];
			char size[32], model[200], mounted[256], verdict[200];
			if (!a.all && !d->removable && strcmp(d->bus, "loop") != 0)
				continue;
			format_size(size, sizeof(size), d->size);
			snprintf(model, sizeof(model), "%s%s%s", d->vendor, d->vendor[0] ? " " : "",
				 d->model);
			snprintf(mounted, sizeof(mounted), "%s%s",
				 d->mounts.count ? d->mounts.items[0] : "-",
				 d->mounts.count > 1 ? ", ..." : "");
			snprintf(verdict, sizeof(verdict), "%s%s",
				 d->writable ? "yes" : "no: ", d->writable ? "" : d->reason);
			const char *cells[9] = {d->path,
						size,
						d->bus,
						model[0] ? model : NULL,
						d->serial[0] ? d->serial : NULL,
						d->removable ? "yes" : "no",
						d->read_only ? "yes" : "no",
						mounted,
						verdict};
			table_add_row(t, cells);
		}
		table_print(t, stdout);
		table_free(t);
		r = EXIT_OK;
	}
	burn_device_list_free(&list);
	return r;
}
