/*
 * cmd_burn.c — `herd burn IMAGE --device DEV[,DEV...]`: write one image to
 * many cards (or files) at once, optionally customized per card, and
 * verify by reading back.  The engine is libherd burn/writer.h; this file
 * does the safety checks, the plan, the confirmation, progress and the
 * result table.
 *
 * Safety, before anything is opened for writing: a block device must be a
 * whole disk that `herd devices` would call writable (not the system disk,
 * nothing mounted, not read-only; non-removable or over --max-size only
 * with --force) and must not hold the source image.  A regular file is
 * always a valid target (tests, demos) unless it is the image itself.
 *
 * IMAGE goes through the store's resolver (image_store_resolve): a raw
 * file is burned as is; a store name, a URL or a compressed file (.xz,
 * .zst, .gz, .bz2, .zip) is decompressed into the store once and burned
 * from its sparse raw copy, so the next burn of it is warm.
 *
 * Not here yet (issue 5): settings besides --hostname, the one-reader
 * many-cards-in-a-row flow.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/hostlist.h"
#include "base/parse.h"
#include "burn/customize.h"
#include "burn/devices.h"
#include "burn/writer.h"
#include "cli.h"
#include "cmd_image_store.h"
#include "image/image.h"
#include "output.h"
#include "progress.h"

struct burn_args {
	struct strv devices;
	const char *hostnames;
	bool verify;
	bool verify_only;
	uint64_t blocksize;
	bool full, dryrun, yes, discard;
	struct burn_devices_options dev_opts;
	int status; /* a usage error met while parsing */
};

/* What one --device turned into after the safety checks. */
struct burn_slot {
	const char *path;
	const char *host; /* NULL without --hostname */
	char label[96];
	bool block;
	bool exists;
	uint64_t size; /* device or existing file size */
	char model[200];
};

/* SIGINT sets this; the writer polls it.  A signal handler can only reach
 * static storage, so this one flag is the exception to "no globals"; a
 * lock-free atomic is safe both there and across the writer threads. */
static atomic_int burn_cancel;

static void on_sigint(int sig)
{
	(void)sig;
	atomic_store(&burn_cancel, 1);
}

static int burn_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct burn_args *a = ctx;
	struct herd_error err = {0};
	struct strv list = STRV_INIT;

	switch (opt) {
	case 'd':
		if (hostlist_expand(arg, 0, &list, &err) < 0)
			return cli_usage_error(cli, "--device %s: %s", arg,
					       herd_error_message(&err));
		for (size_t i = 0; i < list.count; i++) {
			if (strv_contains(&a->devices, list.items[i])) {
				strv_free(&list);
				return cli_usage_error(cli, "--device %s given twice", arg);
			}
			strv_push(&a->devices, list.items[i]);
		}
		strv_free(&list);
		return 0;
	case 'H':
		a->hostnames = arg;
		return 0;
	case 'V':
		a->verify = true;
		return 0;
	case 'N':
		a->verify = false;
		return 0;
	case 'O':
		a->verify_only = true;
		return 0;
	case 'b':
		if (parse_size(arg, &a->blocksize) < 0 || a->blocksize < 4096 ||
		    a->blocksize % 4096 || a->blocksize > (1u << 30))
			return cli_usage_error(
			    cli, "--blocksize %s: a multiple of 4K between 4K and 1G", arg);
		return 0;
	case 'F':
		a->full = true;
		return 0;
	case 'n':
		a->dryrun = true;
		return 0;
	case 'y':
		a->yes = true;
		return 0;
	case 'f':
		a->dev_opts.force = true;
		return 0;
	case 'm':
		if (parse_size(arg, &a->dev_opts.max_size) < 0 || a->dev_opts.max_size == 0)
			return cli_usage_error(cli, "--max-size %s: not a size like 256G", arg);
		return 0;
	case 'D':
		a->discard = true;
		return 0;
	}
	return EXIT_USAGE;
}

static int burn_run_cmd(struct cli *cli, int argc, char **argv);

const struct cli_command cmd_burn = {
    .name = "burn",
    .summary = "write an image to many cards at once, customized and verified",
    .usage =
	"Usage: herd burn IMAGE --device DEV[,DEV...] [--hostname LIST]\n"
	"                 [--verify|--no-verify|--verify-only] [--blocksize 4M] [--full]\n"
	"                 [--discard] [--dryrun] [--yes] [--force] [--max-size SIZE] [--json]\n"
	"\n"
	"Write IMAGE to every DEV at once: one read of the image feeds one writer per\n"
	"target.  IMAGE is a raw image file, a store name, a URL or a compressed file\n"
	"(.xz .zst .gz .bz2 .zip; URLs and compressed files are unpacked into the\n"
	"store once, see 'herd image get').  DEV is a whole block device (see 'herd devices')\n"
	"or a regular file (created or replaced).  LIST arguments expand like\n"
	"red[01-03] or /dev/sd[b-d].  Only the used-block map is written ('herd image\n"
	"map'): files get every other byte as zero, block devices keep whatever was\n"
	"there, which nothing on the card reads; --full writes every byte.\n"
	"\n"
	"  --hostname LIST  card n gets host n: /etc/hostname and the 127.0.1.1 line of\n"
	"                   /etc/hosts, written in the same pass (the image is untouched)\n"
	"  --verify         read back what was written, bypassing the page cache, and\n"
	"                   compare (default); --no-verify skips it\n"
	"  --verify-only    write nothing: compare the targets with IMAGE (and --hostname;\n"
	"                   set SOURCE_DATE_EPOCH to the value used when burning)\n"
	"  --blocksize N    transfer size (default 4M)\n"
	"  --discard        BLKDISCARD block devices before writing\n"
	"  --dryrun         print the plan, write nothing\n"
	"  --yes            do not ask for confirmation\n"
	"  --force          allow non-removable devices and devices over --max-size\n"
	"  --max-size SIZE  largest device written without --force (default 256G)\n"
	"\n"
	"Refused always: the system disk, a device with a mounted partition, a\n"
	"read-only device, the device holding IMAGE, a target smaller than IMAGE.\n"
	"Ctrl-C stops cleanly and reports the incomplete targets.  Exit status 1 when\n"
	"any target failed.\n",
    .run = burn_run_cmd,
};

/* Safety checks for one target.  Returns -1 to go on, else an exit code. */
static int check_target(struct cli *cli, struct burn_args *a, const struct burn_device_list *devs,
			const struct stat *image_st, struct burn_slot *slot)
{
	struct stat st;
	const char *base;

	if (stat(slot->path, &st) < 0) {
		if (errno != ENOENT || a->verify_only)
			return cli_fail("%s: %s", slot->path, strerror(errno));
		slot->exists = false;
	} else {
		slot->exists = true;
		if (S_ISREG(st.st_mode)) {
			if (st.st_dev == image_st->st_dev && st.st_ino == image_st->st_ino)
				return cli_fail("%s: is the source image", slot->path);
			slot->size = (uint64_t)st.st_size;
		} else if (S_ISBLK(st.st_mode)) {
			const struct burn_device *d = burn_device_find(devs, st.st_rdev);
			slot->block = true;
			if (!d) {
				for (size_t i = 0; i < devs->count; i++)
					if (burn_device_contains(&devs->items[i], st.st_rdev))
						return cli_fail("%s: is a partition of %s; give "
								"the whole disk",
								slot->path, devs->items[i].path);
				return cli_fail("%s: not a disk herd knows (not in sysfs)",
						slot->path);
			}
			if (!a->verify_only && !d->writable)
				return cli_fail("%s: refusing: %s", slot->path, d->reason);
			if (burn_device_contains(d, image_st->st_dev))
				return cli_fail("%s: refusing: holds the source image", slot->path);
			slot->size = d->size;
			snprintf(slot->model, sizeof(slot->model), "%s%s%s", d->vendor,
				 d->vendor[0] ? " " : "", d->model);
		} else {
			return cli_fail("%s: not a regular file or block device", slot->path);
		}
	}
	base = strrchr(slot->path, '/');
	snprintf(slot->label, sizeof(slot->label), "%s",
		 slot->host ? slot->host
		 : base	    ? base + 1
			    : slot->path);
	return -1;
}

static void print_plan(FILE *out, const char *image, uint64_t image_size, uint64_t plan_bytes,
		       const struct burn_slot *slots, size_t n, bool verify)
{
	char isize[32], psize[32];

	format_size(isize, sizeof(isize), image_size);
	format_size(psize, sizeof(psize), plan_bytes);
	fprintf(out, "image:   %s (%s, %s to write)\n", image, isize, psize);
	for (size_t i = 0; i < n; i++) {
		char size[32] = "new file";
		if (slots[i].exists)
			format_size(size, sizeof(size), slots[i].size);
		fprintf(out, "target:  %s (%s%s%s%s)%s%s -- %s\n", slots[i].path,
			slots[i].block ? "block device, " : "file, ", slots[i].model,
			slots[i].model[0] ? ", " : "", size, slots[i].host ? " host " : "",
			slots[i].host ? slots[i].host : "",
			slots[i].block ? "everything on it is erased"
				       : (slots[i].exists ? "replaced" : "created"));
	}
	fprintf(out, "verify:  %s\n", verify ? "yes" : "no");
}

static json_t *plan_json(const char *image, uint64_t image_size, uint64_t plan_bytes,
			 const struct burn_slot *slots, size_t n)
{
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "image", json_string(image));
	json_object_set_new(o, "image_size", json_integer((json_int_t)image_size));
	json_object_set_new(o, "bytes_to_write", json_integer((json_int_t)plan_bytes));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "device", json_string(slots[i].path));
		json_object_set_new(t, "host",
				    slots[i].host ? json_string(slots[i].host) : json_null());
		json_object_set_new(t, "type", json_string(slots[i].block ? "block" : "file"));
		json_array_append_new(arr, t);
	}
	json_object_set_new(o, "targets", arr);
	return o;
}

/* Without --yes a block device is erased only after a "yes" typed on a
 * terminal: refuse early (before printing the plan) when there is none. */
static int check_can_confirm(struct burn_args *a, const struct burn_slot *slots, size_t n)
{
	bool any_block = false;

	for (size_t i = 0; i < n; i++)
		any_block |= slots[i].block;
	if (a->yes || a->dryrun || a->verify_only || !any_block || isatty(STDIN_FILENO))
		return -1;
	return cli_fail("refusing to erase block devices without --yes (stdin is not a terminal)");
}

/* Ask on the terminal unless --yes.  Returns -1 to go on, else an exit code. */
static int confirm(struct burn_args *a, const struct burn_slot *slots, size_t n)
{
	char line[16];
	bool any_block = false;

	for (size_t i = 0; i < n; i++)
		any_block |= slots[i].block;
	if (a->yes || !any_block)
		return -1;
	fprintf(stderr, "Everything on the block devices above will be erased.\n"
			"Type 'yes' to continue: ");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0)
		return cli_fail("not confirmed; nothing written");
	return -1;
}

struct progress_ctx {
	struct progress *p;
	int *bars;
	struct burn_target *targets;
};

static void on_progress(void *userdata, size_t i, enum burn_phase phase, uint64_t done,
			uint64_t total)
{
	struct progress_ctx *c = userdata;
	struct progress_state st;

	if (!c->p)
		return;
	if (phase == BURN_PHASE_DONE) {
		const struct burn_target *t = &c->targets[i];
		progress_finish(c->p, c->bars[i], t->state == BURN_TARGET_WRITTEN,
				t->state == BURN_TARGET_WRITTEN ? NULL
								: herd_error_message(&t->error));
		return;
	}
	if (progress_get_state(c->p, c->bars[i], &st) == 0) {
		bool want_verify = phase == BURN_PHASE_VERIFY;
		bool is_verify = st.phase && strcmp(st.phase, "verify") == 0;
		if (want_verify != is_verify)
			progress_set_phase(c->p, c->bars[i], want_verify ? "verify" : NULL);
		if (st.total != total)
			progress_set_total(c->p, c->bars[i], total);
	}
	progress_update(c->p, c->bars[i], done);
}

static void format_rate(char *buf, size_t len, uint64_t bytes, uint64_t ns)
{
	if (ns == 0 || bytes == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", (double)bytes / 1e6 / ((double)ns / 1e9));
}

static void print_results(const struct burn_slot *slots, const struct burn_target *targets,
			  size_t n)
{
	static const char *const titles[] = {"DEVICE", "HOST",	 "WRITTEN",
					     "MB/s",   "VERIFY", "STATUS"};
	struct table *t = table_new(6);

	if (!t)
		return;
	for (size_t c = 0; c < 6; c++)
		table_set_header(t, c, titles[c], c == 2 || c == 3 ? TABLE_RIGHT : TABLE_LEFT);
	for (size_t i = 0; i < n; i++) {
		char written[32], rate[32];
		format_size(written, sizeof(written), targets[i].bytes_written);
		format_rate(rate, sizeof(rate), targets[i].bytes_written, targets[i].write_ns);
		const char *cells[6] = {slots[i].path,
					slots[i].host,
					written,
					rate,
					burn_verify_result_name(targets[i].verify),
					burn_target_state_name(targets[i].state)};
		table_add_row(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
	for (size_t i = 0; i < n; i++)
		if (targets[i].state != BURN_TARGET_WRITTEN)
			fprintf(stderr, "herd: %s: %s\n", slots[i].path,
				herd_error_message(&targets[i].error));
}

static json_t *results_json(const struct burn_slot *slots, const struct burn_target *targets,
			    size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct burn_target *t = &targets[i];
		json_t *o = json_object();
		json_object_set_new(o, "device", json_string(slots[i].path));
		json_object_set_new(o, "host",
				    slots[i].host ? json_string(slots[i].host) : json_null());
		json_object_set_new(o, "status", json_string(burn_target_state_name(t->state)));
		json_object_set_new(o, "bytes_written", json_integer((json_int_t)t->bytes_written));
		json_object_set_new(o, "write_seconds", json_real((double)t->write_ns / 1e9));
		json_object_set_new(o, "mb_per_s",
				    json_real(t->write_ns ? (double)t->bytes_written / 1e6 /
								((double)t->write_ns / 1e9)
							  : 0.0));
		json_object_set_new(o, "sha256",
				    t->sha256[0] ? json_string(t->sha256) : json_null());
		json_object_set_new(o, "verify", json_string(burn_verify_result_name(t->verify)));
		json_object_set_new(o, "bytes_verified",
				    json_integer((json_int_t)t->bytes_verified));
		if (t->verify == BURN_VERIFY_MISMATCH)
			json_object_set_new(o, "bad_offset",
					    json_integer((json_int_t)t->bad_offset));
		json_object_set_new(o, "error",
				    t->state == BURN_TARGET_WRITTEN
					? json_null()
					: json_string(herd_error_message(&t->error)));
		json_array_append_new(arr, o);
	}
	return arr;
}

static int burn_execute(struct cli *cli, struct burn_args *a, const char *image_path)
{
	struct herd_error err = {0};
	struct image *img = NULL;
	struct rangeset map = RANGESET_INIT, plan = RANGESET_INIT;
	struct burn_device_list devs = {0};
	struct strv hosts = STRV_INIT;
	struct burn_slot *slots = NULL;
	struct burn_target *targets = NULL;
	struct progress_ctx pctx = {0};
	struct stat image_st;
	struct sigaction sa = {0}, old_sa;
	size_t n = a->devices.count;
	int rc = EXIT_FAIL, r;

	if (a->hostnames && hostlist_expand(a->hostnames, 0, &hosts, &err) < 0)
		return cli_usage_error(cli, "--hostname %s: %s", a->hostnames,
				       herd_error_message(&err));
	if (a->hostnames && hosts.count != n) {
		rc = cli_usage_error(cli, "%zu hostnames for %zu devices; give one per device",
				     hosts.count, n);
		goto out;
	}
	if (image_open(image_path, IMAGE_READ_ONLY, &img, &err) < 0) {
		rc = cli_fail_error(&err);
		goto out;
	}
	if (stat(image_path, &image_st) < 0) {
		rc = cli_fail("%s: %s", image_path, strerror(errno));
		goto out;
	}
	if (!a->full && image_used_map(img, &map, &err) < 0) {
		rc = cli_fail("%s: %s", image_path, herd_error_message(&err));
		goto out;
	}
	cli_devices_options(&a->dev_opts);
	if (burn_devices_scan(&a->dev_opts, &devs, &err) < 0) {
		rc = cli_fail_error(&err);
		goto out;
	}
	slots = calloc(n, sizeof(*slots));
	targets = calloc(n, sizeof(*targets));
	pctx.bars = calloc(n, sizeof(*pctx.bars));
	if (!slots || !targets || !pctx.bars) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		slots[i].path = a->devices.items[i];
		slots[i].host = a->hostnames ? hosts.items[i] : NULL;
		r = check_target(cli, a, &devs, &image_st, &slots[i]);
		if (r >= 0) {
			rc = r;
			goto out;
		}
		targets[i].path = slots[i].path;
		targets[i].discard = a->discard;
	}
	if ((r = check_can_confirm(a, slots, n)) >= 0) {
		rc = r;
		goto out;
	}
	/* Per-card customization, each in its own overlay over the image. */
	for (size_t i = 0; i < n; i++) {
		struct burn_card_settings s = {.hostname = slots[i].host};
		if (!slots[i].host)
			continue;
		if (burn_prepare_target_overlay(img->bd, &s, &targets[i].source, &err) < 0) {
			rc = cli_fail("%s: %s", slots[i].path, herd_error_message(&err));
			goto out;
		}
	}
	if (burn_plan_ranges(img->bd, a->full ? NULL : &map, targets, n, &plan, &err) < 0) {
		rc = cli_fail_error(&err);
		goto out;
	}
	if (a->dryrun) {
		if (cli->json)
			rc = output_json(plan_json(image_path, blockdev_size(img->bd),
						   rangeset_total(&plan), slots, n));
		else {
			print_plan(stdout, image_path, blockdev_size(img->bd),
				   rangeset_total(&plan), slots, n, a->verify);
			printf("dry run: nothing written\n");
			rc = EXIT_OK;
		}
		goto out;
	}
	if (!cli->quiet)
		print_plan(stderr, image_path, blockdev_size(img->bd), rangeset_total(&plan), slots,
			   n, a->verify || a->verify_only);
	if (!a->verify_only && (r = confirm(a, slots, n)) >= 0) {
		rc = r;
		goto out;
	}

	pctx.targets = targets;
	pctx.p = progress_new(stderr, cli->quiet ? PROGRESS_NONE : PROGRESS_AUTO);
	for (size_t i = 0; pctx.p && i < n; i++)
		pctx.bars[i] = progress_add(pctx.p, slots[i].label, rangeset_total(&plan));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	{
		struct burn_options opts = {
		    .blocksize = a->blocksize,
		    .verify = a->verify,
		    .verify_only = a->verify_only,
		    .cancel = &burn_cancel,
		    .progress = on_progress,
		    .userdata = &pctx,
		};
		r = burn_run(img->bd, a->full ? NULL : &map, targets, n, &opts, &err);
	}
	sigaction(SIGINT, &old_sa, NULL);
	pctx.p = progress_free(pctx.p);
	if (r < 0 && r != -EIO && r != -EINTR) {
		rc = cli_fail_error(&err);
		goto out;
	}
	if (cli->json)
		output_json(results_json(slots, targets, n));
	else
		print_results(slots, targets, n);
	if (r == -EINTR)
		cli_warn("interrupted: the targets not marked ok are incomplete");
	rc = r < 0 ? EXIT_FAIL : EXIT_OK;
out:
	for (size_t i = 0; targets && i < n; i++)
		blockdev_unref(targets[i].source);
	free(targets);
	free(slots);
	free(pctx.bars);
	burn_device_list_free(&devs);
	rangeset_free(&map);
	rangeset_free(&plan);
	strv_free(&hosts);
	image_close(img);
	return rc;
}

static int burn_run_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"device", required_argument, NULL, 'd'}, {"hostname", required_argument, NULL, 'H'},
	    {"verify", no_argument, NULL, 'V'},	      {"no-verify", no_argument, NULL, 'N'},
	    {"verify-only", no_argument, NULL, 'O'},  {"blocksize", required_argument, NULL, 'b'},
	    {"full", no_argument, NULL, 'F'},	      {"dryrun", no_argument, NULL, 'n'},
	    {"dry-run", no_argument, NULL, 'n'},      {"yes", no_argument, NULL, 'y'},
	    {"force", no_argument, NULL, 'f'},	      {"max-size", required_argument, NULL, 'm'},
	    {"discard", no_argument, NULL, 'D'},      {0},
	};
	struct burn_args a = {.verify = true, .blocksize = BURN_DEFAULT_BLOCKSIZE};
	struct store_entry *entry = NULL;
	char *image_path = NULL;
	int r = cli_parse(cli, &cmd_burn, argc, argv, "d:y", options, burn_option, &a);

	if (r >= 0)
		goto out;
	if (optind + 1 != argc) {
		r = cli_usage_error(cli, optind >= argc ? "missing IMAGE" : "too many arguments");
		goto out;
	}
	if (a.devices.count == 0) {
		r = cli_usage_error(cli, "--device is required");
		goto out;
	}
	/* IMAGE may be a store name, a URL or a compressed file: those are
	 * decompressed into the store once and burned from its sparse raw. */
	r = image_store_resolve(cli, argv[optind], &image_path, &entry);
	if (r >= 0)
		goto out;
	r = burn_execute(cli, &a, image_path);
out:
	store_entry_close(entry);
	free(image_path);
	strv_free(&a.devices);
	return r;
}
