/*
 * cmd_build.c — `herd build --config FILE [--hosts LIST] --out DIR
 * [--compress none|zstd|xz] [--jobs N] [IMAGE]`: one customized image per
 * host, plus manifest.json.
 *
 * This file resolves what libherd's build_run() needs: the fleet, the
 * hosts (all of the file's, or --hosts expanded and checked against it),
 * each host's settings (defaults < host entry < HERD_<KEY> < flags), and
 * the base image (IMAGE, else the host's `image` setting: a path relative
 * to the fleet file, or a store name through the store API, whose recorded
 * SHA-256 then saves hashing the base again).  It shows one progress bar
 * per host, prints a result table (or --json), writes the manifest, and
 * exits 1 when any host failed (the others are still built).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/hostlist.h"
#include "base/macros.h"
#include "base/parse.h"
#include "build/build.h"
#include "cli.h"
#include "config/fleet.h"
#include "herd-config.h"
#include "output.h"
#include "progress.h"
#include "settings_cli.h"
#include "store/store.h"

struct build_args {
	const char *config, *hosts, *out, *image;
	enum build_compress compress;
	unsigned jobs;
	int level;
	uint64_t block_size;
};

struct build_progress {
	struct progress *p;
	int *bars;
};

static void on_progress(void *userdata, size_t host, uint64_t done, uint64_t total)
{
	struct build_progress *bp = userdata;

	if (!bp->p)
		return;
	progress_set_total(bp->p, bp->bars[host], total);
	progress_update(bp->p, bp->bars[host], done);
}

static void usage(FILE *out)
{
	fputs(cmd_build.usage, out);
	settings_cli_print_help(out);
}

static int parse_option(struct cli *cli, struct build_args *a, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case 'c':
		a->config = arg;
		return 0;
	case 'H':
		a->hosts = arg;
		return 0;
	case 'o':
		a->out = arg;
		return 0;
	case 'z':
		if (build_compress_parse(arg, &a->compress) < 0)
			return cli_usage_error(cli, "--compress: '%s' is not none, zstd or xz",
					       arg);
		return 0;
	case 'j':
		if (parse_u64(arg, 1, 256, &v) < 0)
			return cli_usage_error(cli, "--jobs: '%s' is not a number from 1 to 256",
					       arg);
		a->jobs = (unsigned)v;
		return 0;
	case 'L':
		if (parse_u64(arg, 1, 19, &v) < 0)
			return cli_usage_error(cli, "--level: '%s' is not a number from 1 to 19",
					       arg);
		a->level = (int)v;
		return 0;
	case 'B':
		if (parse_size(arg, &v) < 0 || v < (1u << 20) || v > (1ull << 32))
			return cli_usage_error(
			    cli, "--block-size: '%s' is not a size from 1M to 4G", arg);
		a->block_size = v;
		return 0;
	}
	return -1;
}

/* The image a host builds from, as a path (store entries resolved and
 * kept open in *entry until the build is over). */
static int resolve_image(const char *spec, const char *config, char **ret_path,
			 struct store_entry **ret_entry, struct herd_error *err)
{
	struct stat st;

	/* A relative path in the fleet file means relative to the file. */
	if (spec[0] != '/' && config && strchr(config, '/')) {
		char buf[PATH_MAX];
		const char *slash = strrchr(config, '/');
		int w = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(slash - config), config, spec);
		if (w > 0 && (size_t)w < sizeof(buf) && stat(buf, &st) == 0) {
			*ret_path = strdup(buf);
			*ret_entry = NULL;
			return *ret_path ? 0 : herd_error_set(err, ENOMEM, "out of memory");
		}
	}
	return store_resolve_image(spec, NULL, ret_path, ret_entry, err);
}

static json_t *results_json(const struct build_host *h, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "host", json_string(h[i].name));
		json_object_set_new(o, "ok", json_boolean(h[i].ok));
		if (h[i].ok) {
			json_object_set_new(o, "file", json_string(h[i].file));
			json_object_set_new(o, "size", json_integer((json_int_t)h[i].size));
			json_object_set_new(o, "sha256", json_string(h[i].file_sha256));
			json_object_set_new(o, "raw_sha256", json_string(h[i].raw_sha256));
			json_object_set_new(o, "changed_operations",
					    json_integer((json_int_t)h[i].changed_ops));
			json_object_set_new(o, "seconds", json_real((double)h[i].ns / 1e9));
		} else {
			json_object_set_new(o, "error",
					    json_string(herd_error_message(&h[i].error)));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

static void print_results(const struct build_host *h, size_t n)
{
	struct table *t = table_new(5);
	char size[32], secs[32];

	if (!t)
		return;
	table_set_header(t, 0, "HOST", TABLE_LEFT);
	table_set_header(t, 1, "FILE", TABLE_LEFT);
	table_set_header(t, 2, "SIZE", TABLE_RIGHT);
	table_set_header(t, 3, "TIME", TABLE_RIGHT);
	table_set_header(t, 4, "STATUS", TABLE_LEFT);
	for (size_t i = 0; i < n; i++) {
		format_size(size, sizeof(size), h[i].size);
		snprintf(secs, sizeof(secs), "%.1fs", (double)h[i].ns / 1e9);
		const char *cells[] = {h[i].name, h[i].ok ? h[i].file : NULL, h[i].ok ? size : NULL,
				       secs, h[i].ok ? "ok" : herd_error_message(&h[i].error)};
		table_add_row(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
}

/* SOURCE_DATE_EPOCH (reproducible-builds.org) replaces the clock. */
static int build_time(int64_t *ret)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t v;

	if (!sde || !*sde) {
		*ret = (int64_t)time(NULL);
		return 0;
	}
	if (parse_u64(sde, 0, (uint64_t)INT64_MAX, &v) < 0)
		return cli_fail("SOURCE_DATE_EPOCH: '%s' is not a number of seconds", sde);
	*ret = (int64_t)v;
	return 0;
}

static int execute(struct cli *cli, struct build_args *a, struct herd_settings *overrides)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	struct strv names = STRV_INIT;
	struct herd_settings *settings = NULL;
	struct build_host *hosts = NULL;
	struct store_entry **entries = NULL;
	char **paths = NULL;
	struct build_progress bp = {0};
	int64_t when = 0;
	size_t n = 0;
	int rc = EXIT_FAIL, r;

	if (build_time(&when) != 0)
		return EXIT_FAIL;
	if (fleet_load(a->config, environ, &fleet, &err) < 0)
		return cli_fail_error(&err);
	if (a->hosts) {
		if (hostlist_expand(a->hosts, FLEET_MAX_HOSTS, &names, &err) < 0) {
			rc = cli_usage_error(cli, "--hosts %s: %s", a->hosts,
					     herd_error_message(&err));
			goto out;
		}
		for (size_t i = 0; i < names.count; i++)
			if (!fleet_has_host(fleet, names.items[i])) {
				rc = cli_fail("%s: no host '%s'", a->config, names.items[i]);
				goto out;
			}
	} else if (strv_copy(fleet_hosts(fleet), &names) < 0) {
		rc = cli_fail("out of memory");
		goto out;
	}
	n = names.count;
	if (n == 0) {
		rc = cli_fail("%s: no hosts to build", a->config);
		goto out;
	}
	settings = calloc(n, sizeof(*settings));
	hosts = calloc(n, sizeof(*hosts));
	entries = calloc(n, sizeof(*entries));
	paths = calloc(n, sizeof(*paths));
	bp.bars = calloc(n, sizeof(*bp.bars));
	if (!settings || !hosts || !entries || !paths || !bp.bars) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *spec;
		settings_init(&settings[i]);
		if (fleet_resolve_host(fleet, names.items[i], overrides, environ, &settings[i],
				       &err) < 0) {
			rc = cli_fail_error(&err);
			goto out;
		}
		spec = a->image ? a->image : settings[i].image;
		if (!spec) {
			rc = cli_fail("%s: no image: set 'image' in %s or give IMAGE",
				      names.items[i], a->config);
			goto out;
		}
		if (resolve_image(spec, a->image ? NULL : a->config, &paths[i], &entries[i], &err) <
		    0) {
			rc = cli_fail("%s: %s", names.items[i], herd_error_message(&err));
			goto out;
		}
		/* A missing base is the build's error, not each host's. */
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			rc = cli_fail("%s: %s", paths[i], strerror(errno));
			goto out;
		}
		hosts[i].name = names.items[i];
		hosts[i].settings = &settings[i];
		hosts[i].image_path = paths[i];
		if (entries[i] && entries[i]->info.raw_sha256 && entries[i]->info.raw_sha256[0])
			hosts[i].source_sha256 = entries[i]->info.raw_sha256;
	}
	if (mkdir(a->out, 0755) < 0 && errno != EEXIST) {
		rc = cli_fail("%s: %s", a->out, strerror(errno));
		goto out;
	}

	bp.p = progress_new(stderr, cli->quiet || cli->json ? PROGRESS_NONE : PROGRESS_AUTO);
	for (size_t i = 0; bp.p && i < n; i++)
		bp.bars[i] = progress_add(bp.p, names.items[i], 0);
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned jobs = a->jobs ? a->jobs : 1;
		unsigned threads = cpus > (long)jobs ? (unsigned)(cpus / (long)jobs) : 1;
		struct build_options opts = {
		    .out_dir = a->out,
		    .compress = a->compress,
		    .level = a->level,
		    .jobs = jobs,
		    .threads = threads,
		    .xz_block_size = a->block_size,
		    .progress = on_progress,
		    .userdata = &bp,
		};
		r = build_run(hosts, n, &opts, &err);
	}
	for (size_t i = 0; bp.p && i < n; i++)
		progress_finish(bp.p, bp.bars[i], hosts[i].ok, hosts[i].ok ? NULL : "failed");
	bp.p = progress_free(bp.p);
	if (r < 0 && r != -EIO) {
		rc = cli_fail_error(&err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < hosts[i].warnings.count; k++)
			cli_warn("%s: %s", hosts[i].name, hosts[i].warnings.items[k]);
	{
		struct build_manifest_info info = {
		    .herd_version = HERD_VERSION,
		    .build_time = when,
		    .compress = a->compress,
		    .config = a->config,
		};
		if (build_manifest_write(a->out, &info, hosts, n, &err) < 0) {
			rc = cli_fail("%s: %s", a->out, herd_error_message(&err));
			goto out;
		}
	}
	if (cli->json)
		output_json(results_json(hosts, n));
	else
		print_results(hosts, n);
	rc = EXIT_OK;
	for (size_t i = 0; i < n; i++)
		if (!hosts[i].ok) {
			cli_fail("%s: %s", hosts[i].name, herd_error_message(&hosts[i].error));
			rc = EXIT_FAIL;
		}
out:
	for (size_t i = 0; i < n; i++) {
		if (settings)
			settings_free(&settings[i]);
		if (entries)
			store_entry_close(entries[i]);
		if (paths)
			free(paths[i]);
	}
	if (hosts)
		build_hosts_clear(hosts, n);
	free(settings);
	free(hosts);
	free(entries);
	free(paths);
	free(bp.bars);
	strv_free(&names);
	fleet_free(fleet);
	return rc;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"hosts", required_argument, NULL, 'H'},
	    {"out", required_argument, NULL, 'o'},
	    {"compress", required_argument, NULL, 'z'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"level", required_argument, NULL, 'L'},
	    {"block-size", required_argument, NULL, 'B'},
	    CLI_COMMON_OPTIONS,
	};
	struct option options[96];
	struct herd_settings overrides;
	struct build_args a = {0};
	int opt, rc;

	if (settings_cli_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options)) < 0)
		return cli_fail("build: too many options");
	settings_init(&overrides);
	const struct settings_cli_getopt g = {
	    &cmd_build, usage, CLI_OPTSTRING("c:o:j:"), options, &overrides, argc, argv,
	};
	while ((opt = settings_cli_next(cli, &g, &rc)) > 0) {
		/* parse_option(): 0 taken, -1 not its own, > 0 the exit code. */
		rc = parse_option(cli, &a, opt, optarg);
		if (rc > 0) {
			settings_free(&overrides);
			return rc;
		}
	}
	if (opt == SETTINGS_CLI_EXIT) {
		settings_free(&overrides);
		return rc;
	}
	rc = EXIT_USAGE;
	if (!a.config)
		cli_usage_error(cli, "--config FILE is required");
	else if (!a.out)
		cli_usage_error(cli, "--out DIR is required");
	else if (optind + 1 < argc)
		cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	else
		rc = -1;
	if (rc < 0) {
		a.image = optind < argc ? argv[optind] : NULL;
		rc = execute(cli, &a, &overrides);
	}
	settings_free(&overrides);
	return rc;
}

const struct cli_command cmd_build = {
    .name = "build",
    .summary = "write one customized image per host of a fleet file, with a manifest",
    .usage = "Usage: herd build --config FILE [--hosts LIST] --out DIR [--compress none|zstd|xz]\n"
	     "                  [--jobs N] [settings...] [IMAGE]\n"
	     "\n"
	     "Build one image per host of FILE (or of LIST, e.g. red[01-04]): each is the\n"
	     "base image (IMAGE, else the host's 'image' setting: a path, relative to FILE,\n"
	     "or a store name) with that host's settings applied through a copy-on-write\n"
	     "overlay, so the base is never changed and each host costs only its own\n"
	     "blocks.  Only the used-block map and what the host changed are copied; the\n"
	     "rest is zero.  Raw output is sparse; zstd and xz outputs are streamed (xz in\n"
	     "independent blocks, so it decompresses in parallel).  Every output is written\n"
	     "under a temporary name and renamed when complete.  DIR/manifest.json lists\n"
	     "per host: file, size, SHA-256 of the file and of the raw image, the settings\n"
	     "digest and the base image's SHA-256; SOURCE_DATE_EPOCH sets its build time.\n"
	     "A host that fails is reported and the others are still built.\n"
	     "\n"
	     "Options:\n"
	     "  -c, --config FILE     fleet file (required)\n"
	     "  --hosts LIST          build only these hosts of FILE\n"
	     "  -o, --out DIR         output directory (created if missing)\n"
	     "  --compress KIND       none (default), zstd or xz\n"
	     "  --level N             compression level (zstd default 3, xz default 6)\n"
	     "  --block-size SIZE     xz block size (default 16M)\n"
	     "  -j, --jobs N          hosts built at once (default 1)\n"
	     "  --json                print the per-host results as JSON\n"
	     "\n"
	     "Exit status: 0 all built, 1 some host failed, 2 usage error.\n"
	     "\n",
    .run = run,
};
