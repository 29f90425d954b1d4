/*
 * archive_loader.h — libarchive, loaded when the first .gz, .bz2 or .zip
 * is unpacked.
 *
 * libarchive drags libxml2, ICU (with its 30 MB data library), libstdc++,
 * nettle, acl, lz4, bz2 and zlib into every process that links it: about
 * 170 page faults and 4 ms of dynamic loading at each start of herd, for
 * formats only `image get`/`import` of gzip, bzip2 and zip ever read.  So
 * it is dlopen()ed then, like libcurl (curl_loader.h): herd_archive_load()
 * resolves the entry points once per process (pthread_once; the table is
 * immutable afterwards) and herd_archive() returns the table.  Headers
 * and types still come from <archive.h>.
 */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "base/error.h"

struct herd_archive_api {
	struct archive *(*read_new)(void);
	int (*read_support_format_zip)(struct archive *a);
	int (*read_support_format_raw)(struct archive *a);
	int (*read_support_filter_gzip)(struct archive *a);
	int (*read_support_filter_bzip2)(struct archive *a);
	int (*read_open)(struct archive *a, void *userdata, archive_open_callback *open,
			 archive_read_callback *read, archive_close_callback *close);
	int (*read_next_header)(struct archive *a, struct archive_entry **entry);
	la_ssize_t (*read_data)(struct archive *a, void *buf, size_t len);
	int (*read_data_skip)(struct archive *a);
	int (*read_free)(struct archive *a);
	const char *(*error_string)(struct archive *a);
	void (*set_error)(struct archive *a, int code, const char *fmt, ...);
	__LA_MODE_T (*entry_filetype)(struct archive_entry *e);
	const char *(*entry_pathname)(struct archive_entry *e);
};

/* Load libarchive.so.13 once.  Returns 0, or -ELIBACC with a message. */
int herd_archive_load(struct herd_error *err);
/* The loaded table; only valid after herd_archive_load() returned 0. */
const struct herd_archive_api *herd_archive(void);
