/*
 * cmd_image_store.c — `herd image get|import|ls|versions|rm`: the image
 * store on the command line.  The work is libherd's store/ module; this
 * file parses options, shows progress and prints results.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/macros.h"
#include "cmd_image_store.h"
#include "output.h"
#include "progress.h"

enum {
	OPT_STORE = 1000,
	OPT_NAME,
	OPT_SHA256,
	OPT_OS_LIST,
	OPT_MODEL,
	OPT_LITE,
	OPT_DESKTOP,
	OPT_ARCH,
	OPT_REFRESH,
	OPT_NO_SIDECAR,
};

struct store_args {
	const char *store;
	const char *name;
	const char *sha256;
	const char *os_list;
	struct store_os_filter filter;
	bool refresh;
	bool no_sidecar;
};

static const struct option store_options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"name", required_argument, NULL, OPT_NAME},
    {"sha256", required_argument, NULL, OPT_SHA256},
    {"os-list", required_argument, NULL, OPT_OS_LIST},
    {"model", required_argument, NULL, OPT_MODEL},
    {"lite", no_argument, NULL, OPT_LITE},
    {"desktop", no_argument, NULL, OPT_DESKTOP},
    {"arch", required_argument, NULL, OPT_ARCH},
    {"refresh", no_argument, NULL, OPT_REFRESH},
    {"no-sidecar", no_argument, NULL, OPT_NO_SIDECAR},
    {0},
};

static int store_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct store_args *a = ctx;

	switch (opt) {
	case OPT_STORE:
		a->store = arg;
		return 0;
	case OPT_NAME:
		a->name = arg;
		return 0;
	case OPT_SHA256:
		a->sha256 = arg;
		return 0;
	case OPT_OS_LIST:
		a->os_list = arg;
		return 0;
	case OPT_MODEL:
		a->filter.model = arg;
		return 0;
	case OPT_LITE:
		a->filter.variant = STORE_OS_LITE;
		return 0;
	case OPT_DESKTOP:
		a->filter.variant = STORE_OS_DESKTOP;
		return 0;
	case OPT_ARCH:
		if (strcmp(arg, "arm64") != 0 && strcmp(arg, "armhf") != 0)
			return cli_usage_error(cli, "--arch must be arm64 or armhf, not '%s'", arg);
		a->filter.arch = arg;
		return 0;
	case OPT_REFRESH:
		a->refresh = true;
		return 0;
	case OPT_NO_SIDECAR:
		a->no_sidecar = true;
		return 0;
	}
	return cli_usage_error(cli, "unexpected option");
}

/* Usage errors found before anything is opened; -1 to go on. */
static int check_args(struct cli *cli, const struct store_args *a)
{
	if (a->sha256) {
		size_t n = strlen(a->sha256);
		if (n != 64 || strspn(a->sha256, "0123456789abcdefABCDEF") != 64)
			return cli_usage_error(cli, "--sha256 %s: not 64 hex digits", a->sha256);
	}
	if (a->name && !store_name_valid(a->name))
		return cli_usage_error(cli, "--name %s: use letters, digits and . _ + @ -",
				       a->name);
	return -1;
}

static int open_store(const struct store_args *a, struct store **ret)
{
	struct herd_error err = {0};
	_cleanup_free_ char *dir = NULL;

	if (store_default_dir(a->store, &dir, &err) < 0 || store_open(dir, ret, &err) < 0)
		return cli_fail_error(&err);
	return -1;
}

/* The start of ls and versions, which take no operand: the store options,
 * then the store opened.  Returns -1 with *ret set, else the exit code. */
static int parse_and_open_store(struct cli *cli, const struct cli_command *cmd, int argc,
				char **argv, struct store_args *a, struct store **ret)
{
	int r = cli_parse(cli, cmd, argc, argv, "", store_options, store_option, a);

	if (r >= 0)
		return r;
	if (optind != argc)
		return cli_usage_error(cli, "too many arguments");
	return open_store(a, ret);
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

json_t *image_store_entry_json(const struct store_entry_info *i)
{
	json_t *o = json_object();
	char added[64];

	format_time(i->added, added, sizeof(added));
	json_object_set_new(o, "name", json_string(i->name));
	json_object_set_new(o, "version", json_string(i->version));
	json_object_set_new(o, "source", json_string(i->source));
	json_object_set_new(o, "format", json_string(i->format));
	json_object_set_new(o, "download_size", json_integer((json_int_t)i->download_size));
	json_object_set_new(o, "download_sha256", json_string(i->download_sha256));
	json_object_set_new(o, "raw_size", json_integer((json_int_t)i->raw_size));
	json_object_set_new(o, "raw_sha256", json_string(i->raw_sha256));
	json_object_set_new(o, "allocated", json_integer((json_int_t)i->allocated));
	json_object_set_new(o, "os", i->os[0] ? json_string(i->os) : json_null());
	json_object_set_new(o, "added", json_string(added));
	json_object_set_new(o, "path", json_string(i->raw_path));
	return o;
}

void image_store_entry_print(const struct store_entry_info *i)
{
	char dl[32], raw[32], alloc[32], added[64];

	format_size(dl, sizeof(dl), i->download_size);
	format_size(raw, sizeof(raw), i->raw_size);
	format_size(alloc, sizeof(alloc), i->allocated);
	format_time(i->added, added, sizeof(added));
	printf("store:  %s%s%s, added %s\n", i->name, i->version[0] ? " version " : "", i->version,
	       added);
	printf("source: %s (%s, %s)\n", i->source, i->format, dl);
	printf("sha256: download %s\n        raw      %s\n", i->download_sha256, i->raw_sha256);
	printf("raw:    %s (%s, %s allocated)\n", i->raw_path, raw, alloc);
}

/* Progress glue: libherd reports phases and byte counts. */
struct get_progress {
	struct progress *p;
	int bar;
	const char *phase;
};

static void on_progress(void *userdata, const char *phase, uint64_t done, uint64_t total)
{
	struct get_progress *g = userdata;

	if (!g->p || g->bar < 0)
		return;
	if (g->phase != phase && (!g->phase || strcmp(g->phase, phase) != 0)) {
		g->phase = phase;
		progress_set_phase(g->p, g->bar, phase);
	}
	progress_set_total(g->p, g->bar, total);
	progress_update(g->p, g->bar, done);
}

/* One bar labelled `label`, or none with --quiet or no terminal. */
static void progress_begin(struct cli *cli, struct get_progress *g, const char *label)
{
	g->p = progress_new(stderr, cli->quiet ? PROGRESS_NONE : PROGRESS_AUTO);
	if (g->p)
		g->bar = progress_add(g->p, label, 0);
}

/* A failure is reported once, as the error line; the bar just goes. */
static void progress_end(struct get_progress *g, bool ok)
{
	if (!g->p)
		return;
	if (ok)
		progress_finish(g->p, g->bar, true, NULL);
	else
		progress_clear(g->p);
	g->p = progress_free(g->p);
}

static int print_result(struct cli *cli, const struct store_get_result *res)
{
	if (cli->json) {
		json_t *o = image_store_entry_json(&res->info);
		json_object_set_new(o, "cached", json_boolean(res->cached));
		json_object_set_new(o, "verified_by",
				    res->verified_by ? json_string(res->verified_by) : json_null());
		json_object_set_new(o, "resumed_from", json_integer((json_int_t)res->resumed_from));
		json_object_set_new(o, "downloaded", json_integer((json_int_t)res->downloaded));
		return output_json(o);
	}
	if (res->cached)
		cli_info(cli, "%s: already in the store", res->info.name);
	else if (!res->verified_by)
		cli_warn("%s: no checksum to verify against (no --sha256, sidecar or OS list "
			 "entry); stored sha256 %s",
			 res->info.name, res->info.download_sha256);
	else
		cli_info(cli, "%s: verified (%s)", res->info.name, res->verified_by);
	printf("%s %s\n", res->info.name, res->info.raw_path);
	return EXIT_OK;
}

/* Checksums the OS list knows for `url`, from the cache only. */
static void os_list_sums(struct store *s, const char *url, char **ret_dl, char **ret_raw,
			 char **ret_version)
{
	struct store_os_list list = {0};

	if (store_os_list_cached(s, &list, NULL) < 0)
		return;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_os_image *img = &list.images[i];
		if (strcmp(img->url, url) != 0)
			continue;
		if (img->download_sha256[0])
			*ret_dl = strdup(img->download_sha256);
		if (img->extract_sha256[0])
			*ret_raw = strdup(img->extract_sha256);
		if (img->release_date[0])
			*ret_version = strdup(img->release_date);
		break;
	}
	store_os_list_free(&list);
}

static int run_get(struct cli *cli, struct store *s, const struct store_args *a, const char *what,
		   bool import)
{
	struct herd_error err = {0};
	struct store_get_result res = {0};
	struct get_progress g = {.bar = -1};
	struct store_get_options o = {
	    .name = a->name,
	    .sha256 = a->sha256,
	    .sidecar = !a->no_sidecar,
	    .progress = on_progress,
	    .userdata = &g,
	};
	_cleanup_free_ char *url = NULL, *dl = NULL, *raw = NULL, *version = NULL;
	int r;

	if (!import && strcmp(what, "latest") == 0) {
		struct store_os_list list = {0};
		const struct store_os_image *img = NULL;
		if (store_os_list_load(s, a->os_list ? a->os_list : getenv("HERD_OS_LIST"),
				       a->refresh, &list, &err) < 0 ||
		    store_os_list_latest(&list, &a->filter, &img, &err) < 0) {
			store_os_list_free(&list);
			return cli_fail_error(&err);
		}
		url = strdup(img->url);
		dl = img->download_sha256[0] ? strdup(img->download_sha256) : NULL;
		raw = img->extract_sha256[0] ? strdup(img->extract_sha256) : NULL;
		version = img->release_date[0] ? strdup(img->release_date) : NULL;
		store_os_list_free(&list);
		if (!url)
			return cli_fail("out of memory");
		cli_info(cli, "latest: %s", url);
	} else if (!import && !strstr(what, "://")) {
		struct store_entry_info info;
		struct stat st;
		if (store_find(s, what, &info, NULL) == 0) {
			res.info = info;
			res.cached = true;
			r = print_result(cli, &res);
			store_entry_info_clear(&res.info);
			return r;
		}
		if (stat(what, &st) < 0)
			return cli_fail("%s: not a URL, 'latest', a store name or a file", what);
		import = true;
	} else if (!import) {
		struct store_entry_info info;
		struct stat st;
		url = strdup(what);
		if (!url)
			return cli_fail("out of memory");
		/* Stored already: answer before parsing the OS list. */
		if (!a->sha256 && store_find_source(s, url, &info, NULL) == 0) {
			if (stat(info.raw_path, &st) == 0) {
				res.info = info;
				res.cached = true;
				r = print_result(cli, &res);
				store_entry_info_clear(&res.info);
				return r;
			}
			store_entry_info_clear(&info);
		}
		if (!a->sha256)
			os_list_sums(s, url, &dl, &raw, &version);
	}
	if (!a->sha256 && dl) {
		o.sha256 = dl;
		o.sha256_origin = "os list";
	}
	if (!a->sha256 && raw)
		o.raw_sha256 = raw;
	o.version = version;
	{
		const char *label = a->name ? a->name : strrchr(what, '/');
		progress_begin(cli, &g, label ? (label == a->name ? label : label + 1) : what);
	}
	if (import)
		r = store_import(s, what, &o, &res, &err);
	else
		r = store_get_url(s, url, &o, &res, &err);
	progress_end(&g, r == 0);
	if (r < 0)
		return cli_fail_error(&err);
	r = print_result(cli, &res);
	store_entry_info_clear(&res.info);
	return r;
}

/* get and import: the same steps, one source argument, differing only in
 * whether a local file is imported. */
static int get_or_import(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
			 const char *missing, bool import)
{
	struct store_args a = {0};
	struct store *s = NULL;
	int r = cli_parse(cli, cmd, argc, argv, "", store_options, store_option, &a);

	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return cli_usage_error(cli, "%s", optind >= argc ? missing : "too many arguments");
	r = check_args(cli, &a);
	if (r >= 0)
		return r;
	r = open_store(&a, &s);
	if (r >= 0)
		return r;
	r = run_get(cli, s, &a, argv[optind], import);
	store_close(s);
	return r;
}

static int image_get_run(struct cli *cli, int argc, char **argv)
{
	return get_or_import(cli, &cmd_image_get, argc, argv, "missing URL, 'latest' or NAME",
			     false);
}

static int image_import_run(struct cli *cli, int argc, char **argv)
{
	return get_or_import(cli, &cmd_image_import, argc, argv, "missing FILE", true);
}

static int image_ls_run(struct cli *cli, int argc, char **argv)
{
	struct store_args a = {0};
	struct herd_error err = {0};
	struct store_entry_info *list = NULL;
	struct store *s = NULL;
	size_t n = 0;
	int r = parse_and_open_store(cli, &cmd_image_ls, argc, argv, &a, &s);

	if (r >= 0)
		return r;
	if (store_list(s, &list, &n, &err) < 0) {
		store_close(s);
		return cli_fail_error(&err);
	}
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, image_store_entry_json(&list[i]));
		r = output_json(arr);
	} else {
		static const char *const titles[] = {"NAME",	  "VERSION", "DOWNLOAD", "RAW",
						     "ALLOCATED", "ADDED",   "SHA256",	 "PATH"};
		struct table *t = table_new(8);
		r = EXIT_OK;
		if (!t) {
			r = cli_fail("out of memory");
		} else {
			for (size_t c = 0; c < 8; c++)
				table_set_header(t, c, titles[c],
						 c >= 2 && c <= 4 ? TABLE_RIGHT : TABLE_LEFT);
			for (size_t i = 0; i < n; i++) {
				char dl[32], raw[32], alloc[32], added[64], sha[16];
				format_size(dl, sizeof(dl), list[i].download_size);
				format_size(raw, sizeof(raw), list[i].raw_size);
				format_size(alloc, sizeof(alloc), list[i].allocated);
				format_time(list[i].added, added, sizeof(added));
				snprintf(sha, sizeof(sha), "%.12s", list[i].raw_sha256);
				const char *cells[8] = {
				    list[i].name, list[i].version[0] ? list[i].version : NULL,
				    dl,		  raw,
				    alloc,	  added,
				    sha,	  list[i].raw_path};
				table_add_row(t, cells);
			}
			table_print(t, stdout);
			table_free(t);
		}
	}
	for (size_t i = 0; i < n; i++)
		store_entry_info_clear(&list[i]);
	free(list);
	store_close(s);
	return r;
}

static int image_versions_run(struct cli *cli, int argc, char **argv)
{
	struct store_args a = {0};
	struct herd_error err = {0};
	struct store_os_list list = {0};
	struct store *s = NULL;
	int r = parse_and_open_store(cli, &cmd_image_versions, argc, argv, &a, &s);

	if (r >= 0)
		return r;
	if (store_os_list_load(s, a.os_list ? a.os_list : getenv("HERD_OS_LIST"), a.refresh, &list,
			       &err) < 0) {
		store_close(s);
		return cli_fail_error(&err);
	}
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < list.count; i++) {
			const struct store_os_image *img = &list.images[i];
			json_t *o = json_object(), *dev = json_array();
			json_object_set_new(o, "name", json_string(img->name));
			json_object_set_new(o, "release_date", json_string(img->release_date));
			json_object_set_new(o, "url", json_string(img->url));
			json_object_set_new(o, "download_size",
					    json_integer((json_int_t)img->download_size));
			json_object_set_new(o, "download_sha256",
					    json_string(img->download_sha256));
			json_object_set_new(o, "extract_size",
					    json_integer((json_int_t)img->extract_size));
			json_object_set_new(o, "extract_sha256", json_string(img->extract_sha256));
			for (size_t d = 0; d < img->devices.count; d++)
				json_array_append_new(dev, json_string(img->devices.items[d]));
			json_object_set_new(o, "devices", dev);
			json_object_set_new(o, "raspberry_pi_os",
					    json_boolean(store_os_image_matches(
						img, &(struct store_os_filter){0})));
			json_array_append_new(arr, o);
		}
		r = output_json(arr);
	} else {
		struct table *t = table_new(4);
		r = EXIT_OK;
		if (t) {
			table_set_header(t, 0, "RELEASE", TABLE_LEFT);
			table_set_header(t, 1, "NAME", TABLE_LEFT);
			table_set_header(t, 2, "DOWNLOAD", TABLE_RIGHT);
			table_set_header(t, 3, "URL", TABLE_LEFT);
			for (size_t i = 0; i < list.count; i++) {
				const struct store_os_image *img = &list.images[i];
				char size[32];
				format_size(size, sizeof(size), img->download_size);
				const char *cells[4] = {
				    img->release_date[0] ? img->release_date : NULL, img->name,
				    img->download_size ? size : NULL, img->url};
				table_add_row(t, cells);
			}
			table_print(t, stdout);
			table_free(t);
		} else {
			r = cli_fail("out of memory");
		}
	}
	store_os_list_free(&list);
	store_close(s);
	return r;
}

static int image_rm_run(struct cli *cli, int argc, char **argv)
{
	struct store_args a = {0};
	struct herd_error err = {0};
	struct store *s = NULL;
	int r = cli_parse(cli, &cmd_image_rm, argc, argv, "", store_options, store_option, &a);

	if (r >= 0)
		return r;
	if (optind >= argc)
		return cli_usage_error(cli, "missing NAME");
	r = open_store(&a, &s);
	if (r >= 0)
		return r;
	r = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		herd_error_clear(&err);
		if (store_remove(s, argv[i], &err) < 0)
			r = cli_fail_error(&err);
		else
			cli_info(cli, "removed %s", argv[i]);
	}
	store_close(s);
	return r;
}

#define STORE_OPTION_HELP                                                                          \
	"  --store DIR    the store (default $HERD_STORE, else $XDG_DATA_HOME/herd,\n"             \
	"                 else ~/.local/share/herd)\n"

const struct cli_command cmd_image_get = {
    .name = "get",
    .summary = "download an image into the store, verify, unpack once",
    .usage = "Usage: herd image get [URL|latest|NAME] [--name N] [--sha256 HEX] [options]\n"
	     "\n"
	     "Download URL (http, https; redirects followed, proxies from http_proxy /\n"
	     "https_proxy / no_proxy), resuming an interrupted download, verify it and\n"
	     "unpack it (.xz, .zst, .gz, .bz2, .zip with an .img inside, or a plain\n"
	     "image) into a sparse raw image in the store.  The checksum comes from\n"
	     "--sha256, else the OS list entry for URL, else URL.sha256; a mismatch\n"
	     "stores nothing.  A source already stored is not fetched again.\n"
	     "\n"
	     "'latest' picks the newest Raspberry Pi OS from the OS list:\n"
	     "  --model pi4|pi5|...   --lite | --desktop   --arch arm64|armhf\n"
	     "  --os-list URL         the OS list (default $HERD_OS_LIST, else Raspberry Pi's)\n"
	     "  --refresh             fetch the OS list again\n"
	     "  --name N              entry name (default: the file name without suffixes)\n"
	     "  --no-sidecar          do not look for URL.sha256\n" STORE_OPTION_HELP,
    .run = image_get_run,
};

const struct cli_command cmd_image_import = {
    .name = "import",
    .summary = "put a local image file into the store",
    .usage =
	"Usage: herd image import FILE [--name N] [--sha256 HEX] [--store DIR]\n"
	"\n"
	"Verify (with --sha256) and unpack FILE like 'herd image get' does.\n" STORE_OPTION_HELP,
    .run = image_import_run,
};

const struct cli_command cmd_image_ls = {
    .name = "ls",
    .summary = "list the images in the store",
    .usage = "Usage: herd image ls [--json] [--store DIR]\n"
	     "\n"
	     "Name, version, download and raw sizes, allocated bytes, added time, the\n"
	     "raw image's sha256 and path; --json adds the source, the format and both\n"
	     "checksums in full.\n" STORE_OPTION_HELP,
    .run = image_ls_run,
};

const struct cli_command cmd_image_versions = {
    .name = "versions",
    .summary = "images offered by the OS list",
    .usage = "Usage: herd image versions [--refresh] [--os-list URL] [--json] [--store DIR]\n"
	     "\n"
	     "Read a Raspberry Pi Imager style OS list (cached in the store; --refresh\n"
	     "fetches it again) and print every image in it.\n" STORE_OPTION_HELP,
    .run = image_versions_run,
};

const struct cli_command cmd_image_rm = {
    .name = "rm",
    .summary = "remove images from the store",
    .usage = "Usage: herd image rm NAME... [--store DIR]\n"
	     "\n"
	     "Refuses while another herd process uses the image.\n" STORE_OPTION_HELP,
    .run = image_rm_run,
};

int image_store_resolve(struct cli *cli, const char *arg, char **ret_path,
			struct store_entry **ret_entry)
{
	struct herd_error err = {0};
	struct get_progress g = {.bar = -1};
	struct store_resolve_options o = {.progress = on_progress, .userdata = &g};
	enum store_image_kind kind = STORE_IMAGE_RAW_FILE;
	int r;

	/* Only an import or download is worth a bar (and a terminal check). */
	if (store_classify_image(arg, &kind, NULL) == 0 &&
	    (kind == STORE_IMAGE_COMPRESSED || kind == STORE_IMAGE_URL)) {
		const char *label = strrchr(arg, '/');
		progress_begin(cli, &g, label && label[1] ? label + 1 : arg);
	}
	r = store_resolve_image(arg, &o, ret_path, ret_entry, &err);
	progress_end(&g, r == 0);
	if (r < 0)
		return cli_fail_error(&err);
	return -1;
}

int image_store_require_raw_file(const char *arg, const char *hint_command)
{
	struct herd_error err = {0};
	enum store_image_kind kind;

	if (store_classify_image(arg, &kind, &err) < 0)
		return cli_fail_error(&err);
	switch (kind) {
	case STORE_IMAGE_RAW_FILE:
	case STORE_IMAGE_MISSING: /* the caller's open says "no such file" */
		return -1;
	case STORE_IMAGE_STORE_NAME:
		return cli_fail("%s: a store image is read-only (the verified copy every later "
				"use reads); use '%s', or copy its file ('herd image ls') and "
				"edit the copy",
				arg, hint_command);
	case STORE_IMAGE_URL:
		return cli_fail("%s: a URL cannot be edited in place; use '%s' (it fetches "
				"the image into the store and writes customized copies)",
				arg, hint_command);
	case STORE_IMAGE_COMPRESSED:
		return cli_fail("%s: a compressed image cannot be edited in place; use '%s', "
				"or decompress it first",
				arg, hint_command);
	}
	return -1;
}
