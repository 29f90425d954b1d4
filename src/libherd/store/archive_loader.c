/*
 * archive_loader.c — dlopen() of libarchive on first use (see
 * archive_loader.h).
 */
#include "store/archive_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct herd_archive_api api; /* written once under load_once, then read-only */
static char load_error[256];
static int load_status = -ELIBACC;

/* One dlsym per entry point; `*missing` names the first one absent. */
static void *sym(void *h, const char *name, const char **missing)
{
	void *p = dlsym(h, name);

	if (!p && !*missing)
		*missing = name;
	return p;
}

static void load(void)
{
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load libarchive: %s", dlerror());
		return;
	}
	/* POSIX (dlsym rationale) guarantees a function pointer survives the
	 * round trip through void *. */
	*(void **)&api.read_new = sym(h, "archive_read_new", &missing);
	*(void **)&api.read_support_format_zip =
	    sym(h, "archive_read_support_format_zip", &missing);
	*(void **)&api.read_support_format_raw =
	    sym(h, "archive_read_support_format_raw", &missing);
	*(void **)&api.read_support_filter_gzip =
	    sym(h, "archive_read_support_filter_gzip", &missing);
	*(void **)&api.read_support_filter_bzip2 =
	    sym(h, "archive_read_support_filter_bzip2", &missing);
	*(void **)&api.read_open = sym(h, "archive_read_open", &missing);
	*(void **)&api.read_next_header = sym(h, "archive_read_next_header", &missing);
	*(void **)&api.read_data = sym(h, "archive_read_data", &missing);
	*(void **)&api.read_data_skip = sym(h, "archive_read_data_skip", &missing);
	*(void **)&api.read_free = sym(h, "archive_read_free", &missing);
	*(void **)&api.error_string = sym(h, "archive_error_string", &missing);
	*(void **)&api.set_error = sym(h, "archive_set_error", &missing);
	*(void **)&api.entry_filetype = sym(h, "archive_entry_filetype", &missing);
	*(void **)&api.entry_pathname = sym(h, "archive_entry_pathname", &missing);
	if (missing) {
		snprintf(load_error, sizeof(load_error), "libarchive.so.13 lacks %s", missing);
		return;
	}
	load_status = 0;
}

int herd_archive_load(struct herd_error *err)
{
	pthread_once(&load_once, load);
	if (load_status < 0)
		return herd_error_set(err, ELIBACC, "%s", load_error);
	return 0;
}

const struct herd_archive_api *herd_archive(void)
{
	return &api;
}
