/*
 * cmd_burn.c — `herd burn IMAGE --device DEV[,DEV...]`: write one image to
 * many cards (or files) at once, each customized for its host, and
 * verify by reading back.  The engine is libherd burn/writer.h; this file
 * does the safety checks, the per-card settings, the plan, the
 * confirmation, progress, the one-reader card sequence and the result
 * table.
 *
 * Cards and hosts: the hosts come from --hostname LIST, else from the
 * fleet file's hosts (--config), and card n gets host n.  Each card's
 * settings are resolved the way `herd customize` resolves them
 * (settings_cli_resolve: fleet defaults < host entry < HERD_<KEY> <
 * flags), with the card's own hostname and --ipaddr entry as flags, and
 * written by the recipe engine into the card's copy-on-write overlay, so
 * the image itself is never modified.  With as many devices as cards the
 * cards burn at once; with one device and several cards they burn one
 * after another in that reader (burn/cardwait.h waits for each swap).
 *
 * Safety, before anything is opened for writing: a block device must be a
 * whole disk that `herd devices` would call writable (not the system disk,
 * nothing mounted, not read-only; non-removable or over --max-size only
 * with --force) and must not hold the source image.  A regular file is
 * always a valid target (tests, demos) unless it is the image itself.  In
 * a card sequence every new card is checked again (a desktop may have
 * mounted it on insertion).
 *
 * IMAGE goes through the store's resolver (image_store_resolve): a raw
 * file is burned as is; a store name, a URL or a compressed file (.xz,
 * .zst, .gz, .bz2, .zip) is decompressed into the store once and burned
 * from its sparse raw copy, so the next burn of it is warm.
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
#include "base/macros.h"
#include "base/parse.h"
#include "burn/cardwait.h"
#include "burn/customize.h"
#include "burn/devices.h"
#include "burn/writer.h"
#include "cli.h"
#include "cmd_image_store.h"
#include "config/fleet.h"
#include "image/image.h"
#include "output.h"
#include "progress.h"
#include "settings_cli.h"

extern char **environ;

struct burn_args {
	struct strv devices;
	const char *hostnames;		/* --hostname LIST */
	const char *ipaddrs;		/* --ipaddr LIST */
	const char *config;		/* --config FILE */
	struct herd_settings overrides; /* the other settings flags, shared by every card */
	bool verify;
	bool verify_only;
	uint64_t blocksize;
	bool full, dryrun, yes, discard;
	struct burn_devices_options dev_opts;
};

/* What one --device turned into after the safety checks. */
struct burn_slot {
	const char *path;
	char label[96];
	bool block;
	bool exists;
	uint64_t size; /* device or existing file size */
	char model[200];
};

/* One card: a host (or none) and what happened to it. */
struct burn_card {
	const char *host;   /* NULL without hosts */
	const char *ipaddr; /* this card's --ipaddr entry, or NULL */
	struct herd_settings settings;
	struct blockdev *view; /* its customized image (an overlay), NULL = the image */
	size_t slot;	       /* the device it goes to */
	struct burn_target target;
};

/* SIGINT sets this; the writer and the card wait poll it.  A signal
 * handler can only reach static storage, so this one flag is the
 * exception to "no globals"; a lock-free atomic is safe both there and
 * across the writer threads. */
static atomic_int burn_cancel;

static void on_sigint(int sig)
{
	(void)sig;
	atomic_store(&burn_cancel, 1);
}

static void usage(FILE *out);

static int burn_run_cmd(struct cli *cli, int argc, char **argv);

const struct cli_command cmd_burn = {
    .name = "burn",
    .summary = "write an image to many cards at once, customized per host and verified",
    .usage = "Usage: herd burn IMAGE --device DEV[,DEV...] [--config FILE] [--hostname LIST]\n"
	     "                 [--ipaddr LIST] [settings...] [--verify|--no-verify|--verify-only]\n"
	     "                 [--blocksize 4M] [--full] [--discard] [--dryrun] [--yes] [--force]\n"
	     "                 [--max-size SIZE] [--json]\n"
	     "\n"
	     "Write IMAGE to every DEV at once: one read of the image feeds one writer per\n"
	     "target.  IMAGE is a raw image file, a store name, a URL or a compressed file\n"
	     "(.xz .zst .gz .bz2 .zip; URLs and compressed files are unpacked into the\n"
	     "store once, see 'herd image get').  DEV is a whole block device (see 'herd\n"
	     "devices')\n"
	     "or a regular file (created or replaced).  LIST arguments expand like\n"
	     "red[01-03], 10.1.1.[11-13] or /dev/sd[b-d].  Only the used-block map is\n"
	     "written ('herd image map'): files get every other byte as zero, block devices\n"
	     "keep whatever was there, which nothing on the card reads; --full writes every\n"
	     "byte.\n"
	     "\n"
	     "Cards: card n gets host n, from --hostname LIST or else every host of the\n"
	     "fleet file (--config).  Each card gets its host's full settings (fleet file\n"
	     "defaults and host entry, HERD_<KEY> variables, then the settings flags below,\n"
	     "which apply to every card), written by the same engine as 'herd customize'\n"
	     "into a copy-on-write layer in the same pass: IMAGE is never modified.\n"
	     "--ipaddr LIST pairs with the hosts the same way.  As many devices as cards:\n"
	     "all at once.  One device and several cards: one card after another in that\n"
	     "reader; after each card herd rings the bell and waits until the card is taken\n"
	     "out and the next one put in (or, on a terminal, Enter with the next card in).\n"
	     "\n"
	     "Options:\n"
	     "  -d, --device LIST   targets: whole block devices or files\n"
	     "  -c, --config FILE   fleet file: its hosts and their settings\n"
	     "  --hostname LIST     the cards' hosts, in order (with --config: hosts of FILE)\n"
	     "  --ipaddr LIST       the cards' static addresses, in order (ADDR[/N])\n"
	     "  --verify            read back what was written, bypassing the page cache, and\n"
	     "                      compare with the SHA-256 taken while writing (default);\n"
	     "                      --no-verify skips it\n"
	     "  --verify-only       write nothing: compare the targets with IMAGE and the\n"
	     "                      cards' settings (set SOURCE_DATE_EPOCH to the value used\n"
	     "                      when burning); names the card and the first bad offset\n"
	     "  --blocksize N       transfer size (default 4M)\n"
	     "  --full              write every byte, not just the used-block map\n"
	     "  --discard           BLKDISCARD block devices before writing\n"
	     "  -n, --dryrun        print the plan (devices, cards, hosts), write nothing\n"
	     "  -y, --yes           do not ask for confirmation; in a card sequence, wait for\n"
	     "                      each card swap without a prompt\n"
	     "  --force             allow non-removable devices and devices over --max-size\n"
	     "  --max-size SIZE     largest device written without --force (default 256G)\n"
	     "  --json              print the plan (--dryrun) or the results as JSON\n",
    .run = burn_run_cmd,
};

static void usage(FILE *out)
{
	fputs(cmd_burn.usage, out);
	fputc('\n', out);
	settings_cli_print_help(out);
	fputs("(In burn, --hostname and --ipaddr take LISTs, one entry per card; the other\n"
	      "settings apply to every card.)\n"
	      "\n"
	      "Refused always: the system disk, a device with a mounted partition, a\n"
	      "read-only device, the device holding IMAGE, a target smaller than IMAGE.\n"
	      "Block devices are opened with O_EXCL.  Ctrl-C stops cleanly and reports the\n"
	      "cards not done.  Exit status: 0 every card ok, 1 any card failed, mismatched\n"
	      "or not done, 2 usage error.\n",
	      out);
}

/* Safety checks for one target.  Returns -1 to go on, else an exit code. */
static int check_target(struct burn_args *a, const struct burn_device_list *devs,
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
	snprintf(slot->label, sizeof(slot->label), "%s", base ? base + 1 : slot->path);
	return -1;
}

/* Rescan and check `slot` again (a new card in a sequence). */
static int recheck_target(struct burn_args *a, const struct stat *image_st, struct burn_slot *slot)
{
	struct burn_device_list devs = {0};
	struct herd_error err = {0};
	int rc;

	if (burn_devices_scan(&a->dev_opts, &devs, &err) < 0)
		return cli_fail_error(&err);
	rc = check_target(a, &devs, image_st, slot);
	burn_device_list_free(&devs);
	return rc;
}

static const char *card_label(const struct burn_card *c, const struct burn_slot *slots)
{
	return c->host ? c->host : slots[c->slot].label;
}

static void print_plan(FILE *out, const char *image, uint64_t image_size, uint64_t plan_bytes,
		       const struct burn_slot *slots, size_t n_slots, const struct burn_card *cards,
		       size_t n_cards, bool verify)
{
	char isize[32], psize[32];
	bool sequence = n_cards > n_slots;

	format_size(isize, sizeof(isize), image_size);
	format_size(psize, sizeof(psize), plan_bytes);
	fprintf(out, "image:   %s (%s, %s to write)\n", image, isize, psize);
	for (size_t i = 0; i < n_slots; i++) {
		char size[32] = "new file";
		if (slots[i].exists)
			format_size(size, sizeof(size), slots[i].size);
		fprintf(out, "target:  %s (%s%s%s%s)%s%s -- %s\n", slots[i].path,
			slots[i].block ? "block device, " : "file, ", slots[i].model,
			slots[i].model[0] ? ", " : "", size,
			!sequence && cards[i].host ? " host " : "",
			!sequence && cards[i].host ? cards[i].host : "",
			slots[i].block ? "everything on it is erased"
				       : (slots[i].exists ? "replaced" : "created"));
	}
	if (sequence) {
		fprintf(out, "cards:   %zu, one after another in %s:", n_cards, slots[0].path);
		for (size_t i = 0; i < n_cards; i++)
			fprintf(out, "%s %s", i ? "," : "", card_label(&cards[i], slots));
		fputc('\n', out);
	}
	fprintf(out, "verify:  %s\n", verify ? "yes" : "no");
}

static json_t *plan_json(const char *image, uint64_t image_size, uint64_t plan_bytes,
			 const struct burn_slot *slots, size_t n_slots,
			 const struct burn_card *cards, size_t n_cards)
{
	json_t *o = json_object(), *arr = json_array(), *carr = json_array();

	json_object_set_new(o, "image", json_string(image));
	json_object_set_new(o, "image_size", json_integer((json_int_t)image_size));
	json_object_set_new(o, "bytes_to_write", json_integer((json_int_t)plan_bytes));
	json_object_set_new(o, "sequence", json_boolean(n_cards > n_slots));
	for (size_t i = 0; i < n_slots; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "device", json_string(slots[i].path));
		json_object_set_new(t, "host",
				    n_cards == n_slots && cards[i].host ? json_string(cards[i].host)
									: json_null());
		json_object_set_new(t, "type", json_string(slots[i].block ? "block" : "file"));
		json_object_set_new(t, "size",
				    slots[i].exists ? json_integer((json_int_t)slots[i].size)
						    : json_null());
		json_object_set_new(t, "model", json_string(slots[i].model));
		json_array_append_new(arr, t);
	}
	for (size_t i = 0; i < n_cards; i++) {
		json_t *c = json_object();
		json_object_set_new(c, "device", json_string(slots[cards[i].slot].path));
		json_object_set_new(c, "host",
				    cards[i].host ? json_string(cards[i].host) : json_null());
		char *ip = settings_format_value(&cards[i].settings, settings_key_find("ipaddr"));
		json_object_set_new(c, "ipaddr", ip ? json_string(ip) : json_null());
		free(ip);
		json_object_set_new(c, "customized", json_boolean(cards[i].view != NULL));
		json_array_append_new(carr, c);
	}
	json_object_set_new(o, "targets", arr);
	json_object_set_new(o, "cards", carr);
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
static int confirm(struct burn_args *a, const struct burn_slot *slots, size_t n, bool sequence)
{
	char line[16];
	bool any_block = false;

	for (size_t i = 0; i < n; i++)
		any_block |= slots[i].block;
	if (a->yes || !any_block)
		return -1;
	fprintf(stderr,
		"Everything on %s above will be erased%s.\n"
		"Type 'yes' to continue: ",
		n == 1 ? "the block device" : "the block devices",
		sequence ? ", and on every card put in it after this one" : "");
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

static const char *card_status(const struct burn_target *t)
{
	return t->state == BURN_TARGET_PENDING ? "not done" : burn_target_state_name(t->state);
}

static void print_results(const struct burn_slot *slots, const struct burn_card *cards, size_t n)
{
	static const char *const titles[] = {"DEVICE", "HOST",	 "WRITTEN",
					     "MB/s",   "VERIFY", "STATUS"};
	struct table *t = table_new(6);

	if (!t)
		return;
	for (size_t c = 0; c < 6; c++)
		table_set_header(t, c, titles[c], c == 2 || c == 3 ? TABLE_RIGHT : TABLE_LEFT);
	for (size_t i = 0; i < n; i++) {
		const struct burn_target *tg = &cards[i].target;
		char written[32], rate[32];
		format_size(written, sizeof(written), tg->bytes_written);
		format_rate(rate, sizeof(rate), tg->bytes_written, tg->write_ns);
		const char *cells[6] = {
		    slots[cards[i].slot].path,		 cards[i].host,	 written, rate,
		    burn_verify_result_name(tg->verify), card_status(tg)};
		table_add_row(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
	for (size_t i = 0; i < n; i++) {
		const struct burn_target *tg = &cards[i].target;
		if (tg->state != BURN_TARGET_WRITTEN && tg->state != BURN_TARGET_PENDING)
			fprintf(stderr, "herd: %s%s%s: %s\n", slots[cards[i].slot].path,
				cards[i].host ? " " : "", cards[i].host ? cards[i].host : "",
				herd_error_message(&tg->error));
	}
}

static json_t *results_json(const struct burn_slot *slots, const struct burn_card *cards, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct burn_target *t = &cards[i].target;
		json_t *o = json_object();
		json_object_set_new(o, "device", json_string(slots[cards[i].slot].path));
		json_object_set_new(o, "host",
				    cards[i].host ? json_string(cards[i].host) : json_null());
		json_object_set_new(o, "status", json_string(card_status(t)));
		json_object_set_new(o, "bytes_written", json_integer((json_int_t)t->bytes_written));
		json_object_set_new(o, "write_seconds", json_real((double)t->write_ns / 1e9));
		json_object_set_new(o, "verify_seconds", json_real((double)t->verify_ns / 1e9));
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
				    t->state == BURN_TARGET_WRITTEN ||
					    t->state == BURN_TARGET_PENDING
					? json_null()
					: json_string(herd_error_message(&t->error)));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* ---- cards and their settings ---- */

static int set_flag(struct herd_settings *s, const char *key, const char *value,
		    struct herd_error *err)
{
	const struct settings_origin flag = {.source = SETTINGS_SOURCE_FLAG};
	const struct settings_key *k = settings_key_find(key);
	struct settings_context ctx;
	int r;

	settings_context_init(&ctx, environ, NULL);
	r = settings_set_text(s, k, value, false, &ctx, &flag, err);
	return r < 0 ? settings_error_rename(err, r, k, k->flag, "--") : 0;
}

/* The hosts (--hostname, else the fleet's) and addresses, expanded. */
static int expand_lists(struct cli *cli, struct burn_args *a, struct strv *hosts, struct strv *ips)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;

	if (a->hostnames && hostlist_expand(a->hostnames, 0, hosts, &err) < 0)
		return cli_usage_error(cli, "--hostname %s: %s", a->hostnames,
				       herd_error_message(&err));
	if (a->ipaddrs && hostlist_expand(a->ipaddrs, 0, ips, &err) < 0)
		return cli_usage_error(cli, "--ipaddr %s: %s", a->ipaddrs,
				       herd_error_message(&err));
	if (a->config && !a->hostnames) {
		if (fleet_load(a->config, environ, &fleet, &err) < 0)
			return cli_fail_error(&err);
		for (size_t i = 0; i < fleet_hosts(fleet)->count; i++)
			if (strv_push(hosts, fleet_hosts(fleet)->items[i]) < 0) {
				fleet_free(fleet);
				return cli_fail("out of memory");
			}
		fleet_free(fleet);
		if (hosts->count == 0)
			return cli_fail("%s: no hosts; give --hostname LIST", a->config);
	}
	if (hosts->count && ips->count && hosts->count != ips->count)
		return cli_usage_error(cli, "%zu addresses for %zu hosts; give one per host",
				       ips->count, hosts->count);
	return -1;
}

/* Resolve every card's settings and customize its overlay, all before
 * anything is written: a bad value for card 7 must not leave 6 cards
 * burnt and the rest not. */
static int prepare_cards(struct cli *cli, struct burn_args *a, struct image *img,
			 struct burn_card *cards, size_t n)
{
	struct herd_error err = {0};
	struct strv warnings = STRV_INIT;
	int rc = -1;

	for (size_t i = 0; i < n && rc < 0; i++) {
		struct burn_card *c = &cards[i];
		struct herd_settings ov;
		struct strv w = STRV_INIT;

		if (settings_copy(&a->overrides, &ov) < 0) {
			rc = cli_fail("out of memory");
			break;
		}
		/* Without a fleet file the host's name is its hostname; with
		 * one, the file says (it defaults to the host's name too). */
		if ((c->host && !a->config && set_flag(&ov, "hostname", c->host, &err) < 0) ||
		    (c->ipaddr && set_flag(&ov, "ipaddr", c->ipaddr, &err) < 0)) {
			settings_free(&ov);
			rc = cli_usage_error(cli, "card %zu (%s): %s", i + 1,
					     c->host ? c->host : c->ipaddr,
					     herd_error_message(&err));
			break;
		}
		rc = settings_cli_resolve(cli, a->config, a->config ? c->host : NULL, &ov,
					  &c->settings);
		if (rc >= 0)
			break;
		if (!burn_settings_any(&c->settings))
			continue;
		if (burn_prepare_target_overlay(img->bd, c->host, &c->settings, &w, &c->view,
						&err) < 0) {
			rc = cli_fail("%s: %s", c->host ? c->host : "card",
				      herd_error_message(&err));
			strv_free(&w);
			break;
		}
		for (size_t k = 0; k < w.count; k++)
			if (!strv_contains(&warnings, w.items[k]))
				strv_push(&warnings, w.items[k]);
		strv_free(&w);
	}
	for (size_t k = 0; rc < 0 && k < warnings.count; k++)
		cli_warn("%s", warnings.items[k]);
	strv_free(&warnings);
	return rc;
}

/* ---- running ---- */

struct run_ctx {
	struct cli *cli;
	struct burn_args *a;
	struct image *img;
	const struct rangeset *map;
	uint64_t plan_bytes;
	struct burn_slot *slots;
	struct herd_error err;
};

/* Burn cards[0..n) at once, card i on slot cards[i].slot.  Returns
 * burn_run's result; the cards' targets hold the outcome. */
static int burn_cards(struct run_ctx *x, struct burn_card *cards, size_t n)
{
	struct burn_target *targets = calloc(n, sizeof(*targets));
	struct progress_ctx pctx = {0};
	int r;

	pctx.bars = calloc(n, sizeof(*pctx.bars));
	if (!targets || !pctx.bars) {
		free(targets);
		free(pctx.bars);
		return herd_error_set(&x->err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		targets[i].path = x->slots[cards[i].slot].path;
		targets[i].discard = x->a->discard;
		targets[i].source = cards[i].view;
	}
	pctx.targets = targets;
	pctx.p = progress_new(stderr, x->cli->quiet ? PROGRESS_NONE : PROGRESS_AUTO);
	for (size_t i = 0; pctx.p && i < n; i++)
		pctx.bars[i] = progress_add(pctx.p, card_label(&cards[i], x->slots), x->plan_bytes);
	{
		struct burn_options opts = {
		    .blocksize = x->a->blocksize,
		    .verify = x->a->verify,
		    .verify_only = x->a->verify_only,
		    .cancel = &burn_cancel,
		    .progress = on_progress,
		    .userdata = &pctx,
		};
		r = burn_run(x->img->bd, x->map, targets, n, &opts, &x->err);
	}
	pctx.p = progress_free(pctx.p);
	for (size_t i = 0; i < n; i++) {
		cards[i].target = targets[i];
		cards[i].target.path = NULL;
		cards[i].target.source = NULL;
	}
	free(targets);
	free(pctx.bars);
	return r;
}

static void on_card_removed(void *userdata)
{
	struct run_ctx *x = userdata;
	cli_info(x->cli, "card out; put in the next one");
}

/* One reader, many cards: burn card after card in slots[0], waiting for
 * each swap.  Returns 0 when every card was burnt, -EIO when some failed,
 * -EINTR when stopped. */
static int burn_sequence(struct run_ctx *x, struct burn_card *cards, size_t n,
			 const struct stat *image_st)
{
	struct burn_slot *slot = &x->slots[0];
	bool failed = false;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			struct burn_wait_options w = {
			    .sysfs_root = x->a->dev_opts.sysfs_root,
			    .cancel = &burn_cancel,
			    .input_fd = !x->a->yes && isatty(STDIN_FILENO) ? STDIN_FILENO : -1,
			    .on_removed = on_card_removed,
			    .userdata = x,
			};
			struct herd_error err = {0};
			/* The bell: the card is done, whoever watches the
			 * terminal from across the room. */
			if (!x->cli->quiet)
				fputc('\a', stderr);
			cli_info(
			    x->cli,
			    "card %zu of %zu (%s) %s; take it out and put in the card for %s%s", i,
			    n, card_label(&cards[i - 1], x->slots),
			    cards[i - 1].target.state == BURN_TARGET_WRITTEN ? "done" : "failed",
			    card_label(&cards[i], x->slots),
			    w.input_fd >= 0 ? " (or press Enter once it is in)" : "");
			r = burn_wait_card_swap(slot->path, &w, &err);
			if (r == -EINTR)
				break;
			if (r < 0) {
				cli_fail_error(&err);
				return -EIO;
			}
			/* Same checks as for the first card: a desktop may have
			 * mounted the new one, or it may be read-only. */
			if (recheck_target(x->a, image_st, slot) >= 0) {
				herd_error_set(&cards[i].target.error, EPERM,
					       "the new card was refused (see above)");
				cards[i].target.state = BURN_TARGET_FAILED;
				failed = true;
				continue;
			}
			cli_info(x->cli, "card %zu of %zu in %s%s%s%s: %s", i + 1, n, slot->path,
				 slot->model[0] ? " (" : "", slot->model, slot->model[0] ? ")" : "",
				 card_label(&cards[i], x->slots));
		}
		r = burn_cards(x, &cards[i], 1);
		if (r == -EINTR)
			break;
		if (r < 0 && r != -EIO) {
			/* Could not start (too small, busy): that card only. */
			cards[i].target.state = BURN_TARGET_FAILED;
			cards[i].target.error = x->err;
			herd_error_clear(&x->err);
		}
		if (cards[i].target.state != BURN_TARGET_WRITTEN)
			failed = true;
		if (atomic_load(&burn_cancel))
			break;
	}
	if (atomic_load(&burn_cancel))
		return -EINTR;
	return failed ? -EIO : 0;
}

static void report_sequence_stop(const struct burn_card *cards, size_t n,
				 const struct burn_slot *slots)
{
	char done[1024] = "", todo[1024] = "";
	size_t dl = 0, tl = 0;

	for (size_t i = 0; i < n; i++) {
		bool ok = cards[i].target.state == BURN_TARGET_WRITTEN;
		char *buf = ok ? done : todo;
		size_t *len = ok ? &dl : &tl;
		int w = snprintf(buf + *len, sizeof(done) - *len, "%s%s", *len ? ", " : "",
				 card_label(&cards[i], slots));
		if (w > 0 && (size_t)w < sizeof(done) - *len)
			*len += (size_t)w;
	}
	cli_warn("interrupted: done: %s; not done: %s", dl ? done : "none", tl ? todo : "none");
}

static int burn_execute(struct cli *cli, struct burn_args *a, const char *image_path)
{
	struct herd_error err = {0};
	struct image *img = NULL;
	struct rangeset map = RANGESET_INIT, plan = RANGESET_INIT;
	struct burn_device_list devs = {0};
	struct strv hosts = STRV_INIT, ips = STRV_INIT;
	struct burn_slot *slots = NULL;
	struct burn_card *cards = NULL;
	struct burn_target *plan_targets = NULL;
	struct stat image_st;
	struct sigaction sa = {0}, old_sa;
	size_t n_slots = a->devices.count, n_cards;
	bool sequence;
	int rc = EXIT_FAIL, r;

	if ((rc = expand_lists(cli, a, &hosts, &ips)) >= 0)
		goto out;
	rc = EXIT_FAIL;
	n_cards = hosts.count ? hosts.count : ips.count ? ips.count : n_slots;
	sequence = n_slots == 1 && n_cards > 1;
	if (n_cards != n_slots && !sequence) {
		rc = cli_usage_error(cli,
				     "%zu %s for %zu devices; give one device per card, or one "
				     "device to burn the cards one after another",
				     n_cards,
				     a->hostnames  ? "hostnames"
				     : hosts.count ? "hosts"
						   : "addresses",
				     n_slots);
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
	slots = calloc(n_slots, sizeof(*slots));
	cards = calloc(n_cards, sizeof(*cards));
	plan_targets = calloc(n_cards, sizeof(*plan_targets));
	if (!slots || !cards || !plan_targets) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_slots; i++) {
		slots[i].path = a->devices.items[i];
		r = check_target(a, &devs, &image_st, &slots[i]);
		if (r >= 0) {
			rc = r;
			goto out;
		}
	}
	if (sequence && !slots[0].block) {
		rc = cli_usage_error(cli,
				     "%zu cards for one device: a sequence needs a card reader (a "
				     "block device); give one file per card",
				     n_cards);
		goto out;
	}
	for (size_t i = 0; i < n_cards; i++) {
		cards[i].host = hosts.count ? hosts.items[i] : NULL;
		cards[i].ipaddr = ips.count ? ips.items[i] : NULL;
		cards[i].slot = sequence ? 0 : i;
		settings_init(&cards[i].settings);
	}
	if ((r = check_can_confirm(a, slots, n_slots)) >= 0) {
		rc = r;
		goto out;
	}
	if ((r = prepare_cards(cli, a, img, cards, n_cards)) >= 0) {
		rc = r;
		goto out;
	}
	for (size_t i = 0; i < n_cards; i++) {
		plan_targets[i].path = slots[cards[i].slot].path;
		plan_targets[i].source = cards[i].view;
	}
	if (burn_plan_ranges(img->bd, a->full ? NULL : &map, plan_targets, n_cards, &plan, &err) <
	    0) {
		rc = cli_fail_error(&err);
		goto out;
	}
	if (a->dryrun) {
		if (cli->json)
			rc = output_json(plan_json(image_path, blockdev_size(img->bd),
						   rangeset_total(&plan), slots, n_slots, cards,
						   n_cards));
		else {
			print_plan(stdout, image_path, blockdev_size(img->bd),
				   rangeset_total(&plan), slots, n_slots, cards, n_cards,
				   a->verify);
			printf("dry run: nothing written\n");
			rc = EXIT_OK;
		}
		goto out;
	}
	if (!cli->quiet)
		print_plan(stderr, image_path, blockdev_size(img->bd), rangeset_total(&plan), slots,
			   n_slots, cards, n_cards, a->verify || a->verify_only);
	if (!a->verify_only && (r = confirm(a, slots, n_slots, sequence)) >= 0) {
		rc = r;
		goto out;
	}

	/* No SA_RESTART: a SIGINT also ends the card wait's poll(). */
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	{
		struct run_ctx x = {
		    .cli = cli,
		    .a = a,
		    .img = img,
		    .map = a->full ? NULL : &map,
		    .plan_bytes = rangeset_total(&plan),
		    .slots = slots,
		};
		if (sequence) {
			r = burn_sequence(&x, cards, n_cards, &image_st);
		} else {
			r = burn_cards(&x, cards, n_cards);
			if (r < 0 && r != -EIO && r != -EINTR) {
				sigaction(SIGINT, &old_sa, NULL);
				rc = cli_fail_error(&x.err);
				goto out;
			}
		}
	}
	sigaction(SIGINT, &old_sa, NULL);
	if (cli->json)
		output_json(results_json(slots, cards, n_cards));
	else
		print_results(slots, cards, n_cards);
	if (r == -EINTR) {
		if (sequence)
			report_sequence_stop(cards, n_cards, slots);
		else
			cli_warn("interrupted: the targets not marked ok are incomplete");
	}
	rc = r < 0 ? EXIT_FAIL : EXIT_OK;
out:
	for (size_t i = 0; cards && i < n_cards; i++) {
		blockdev_unref(cards[i].view);
		settings_free(&cards[i].settings);
	}
	free(cards);
	free(plan_targets);
	free(slots);
	burn_device_list_free(&devs);
	rangeset_free(&map);
	rangeset_free(&plan);
	strv_free(&hosts);
	strv_free(&ips);
	image_close(img);
	return rc;
}

/* Our own options; returns -1 when `opt` is not one, else 0 or an exit code. */
static int burn_option(struct cli *cli, struct burn_args *a, int opt, const char *arg)
{
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
	case 'I':
		a->ipaddrs = arg;
		return 0;
	case 'c':
		a->config = arg;
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
	return -1;
}

static int burn_run_cmd(struct cli *cli, int argc, char **argv)
{
	/* --hostname and --ipaddr come before the settings flags of the same
	 * name: getopt_long takes the first exact match, and here they are
	 * lists, one entry per card. */
	static const struct option own[] = {
	    {"device", required_argument, NULL, 'd'}, {"hostname", required_argument, NULL, 'H'},
	    {"ipaddr", required_argument, NULL, 'I'}, {"config", required_argument, NULL, 'c'},
	    {"verify", no_argument, NULL, 'V'},	      {"no-verify", no_argument, NULL, 'N'},
	    {"verify-only", no_argument, NULL, 'O'},  {"blocksize", required_argument, NULL, 'b'},
	    {"full", no_argument, NULL, 'F'},	      {"dryrun", no_argument, NULL, 'n'},
	    {"dry-run", no_argument, NULL, 'n'},      {"yes", no_argument, NULL, 'y'},
	    {"force", no_argument, NULL, 'f'},	      {"max-size", required_argument, NULL, 'm'},
	    {"discard", no_argument, NULL, 'D'},      CLI_COMMON_OPTIONS,
	};
	struct option options[128];
	struct burn_args a = {.verify = true, .blocksize = BURN_DEFAULT_BLOCKSIZE};
	struct store_entry *entry = NULL;
	char *image_path = NULL;
	int opt, r = -1;

	if (settings_cli_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options)) < 0)
		return cli_fail("burn: too many options");
	settings_init(&a.overrides);
	const struct settings_cli_getopt g = {
	    &cmd_burn, usage, CLI_OPTSTRING("d:c:ny"), options, &a.overrides, argc, argv,
	};
	while ((opt = settings_cli_next(cli, &g, &r)) > 0) {
		/* burn_option(): 0 taken, -1 not its own, > 0 the exit code. */
		r = burn_option(cli, &a, opt, optarg);
		if (r > 0)
			goto out;
	}
	if (opt == SETTINGS_CLI_EXIT)
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
	settings_free(&a.overrides);
	strv_free(&a.devices);
	return r;
}
