/*
 * store.h — the image store: every image herd downloads or imports, kept
 * once, verified, decompressed into a sparse raw file, described in SQLite.
 *
 * Layout of a store directory:
 *   herd.db                 SQLite (WAL): one row per entry (table images)
 *   images/NAME.img         the raw image, sparse
 *   images/.NAME.tmp.PID    an unpack in progress (renamed when complete)
 *   downloads/KEY.partial   a download in progress, resumable (KEY from the URL)
 *   locks/KEY.lock          flock: one get per source at a time
 *   locks/store.lock        flock: publishing and removing entries
 *   os-list.json, os-list.url   the cached OS list and where it came from
 *
 * Concurrency: a get holds an exclusive flock on its source's lock file, so
 * a second get of the same source waits and then finds the entry.  Whoever
 * uses an entry (store_open_entry) holds a shared flock on its raw file;
 * store_remove takes an exclusive one without waiting and refuses (-EBUSY)
 * while anybody else holds it.
 *
 * Publishing is atomic: unpack to a temp name, fsync, rename, fsync the
 * directory, then insert the row.  A failed get leaves no entry, no temp
 * file and at most a resumable partial download (removed when the data
 * proved bad: checksum mismatch, corrupt archive).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/oslist.h"
#include "store/unpack.h"

#define STORE_DEFAULT_OS_LIST_URL "https://downloads.raspberrypi.com/os_list_imagingutility_v4.json"

struct store;

struct store_entry_info {
	char *name;
	char *version; /* "" when unknown */
	char *source;  /* URL or absolute path of the imported file */
	char *format;  /* "xz", "zstd", "gzip", "bzip2", "zip", "raw" */
	uint64_t download_size;
	char *download_sha256;
	uint64_t raw_size;
	char *raw_sha256;
	uint64_t allocated; /* st_blocks * 512 of the raw file, now */
	char *os;	    /* detected OS pretty name; "" when none */
	int64_t added;	    /* seconds since the epoch */
	char *raw_path;
};

/* An entry in use: holds a shared lock on its raw file until closed. */
struct store_entry {
	struct store_entry_info info;
	int lock_fd;
};

/* Who is asking for the store directory: a user's command, or the
 * server (`herd serve`, a system service with no meaningful $HOME). */
enum store_role {
	STORE_ROLE_USER = 0,
	STORE_ROLE_SERVER,
};

#define STORE_SERVER_DIR "/var/lib/herd"

/* The store directory: `option` (--store), else $HERD_STORE, else
 * $XDG_DATA_HOME/herd, else ~/.local/share/herd. */
int store_default_dir(const char *option, char **ret, struct herd_error *err);
/* The same for a role: STORE_ROLE_SERVER skips the XDG/HOME steps and
 * falls back to STORE_SERVER_DIR (FHS: variable state of a service). */
int store_default_dir_role(const char *option, enum store_role role, char **ret,
			   struct herd_error *err);

/* Open (and create) a store.  Free with store_close. */
int store_open(const char *dir, struct store **ret, struct herd_error *err);
struct store *store_close(struct store *s);
const char *store_dir(const struct store *s);

void store_entry_info_clear(struct store_entry_info *info);

/* All entries sorted by name; free each with store_entry_info_clear, then the array. */
int store_list(struct store *s, struct store_entry_info **ret, size_t *ret_count,
	       struct herd_error *err);
/* One entry by name; -ENOENT. */
int store_find(struct store *s, const char *name, struct store_entry_info *ret,
	       struct herd_error *err);

/* The newest entry made from `source` (a URL or absolute path); -ENOENT. */
int store_find_source(struct store *s, const char *source, struct store_entry_info *ret,
		      struct herd_error *err);

int store_open_entry(struct store *s, const char *name, struct store_entry **ret,
		     struct herd_error *err);
struct store_entry *store_entry_close(struct store_entry *e);

/* Remove an entry; -EBUSY while another process has it open. */
int store_remove(struct store *s, const char *name, struct herd_error *err);

struct store_get_options {
	const char *name;	    /* NULL: derived from the source's file name */
	const char *version;	    /* NULL: the leading YYYY-MM-DD of the name, if any */
	const char *sha256;	    /* expected SHA-256 of the download (--sha256) */
	const char *raw_sha256;	    /* expected SHA-256 of the raw image (OS list) */
	const char *sha256_origin;  /* what to call the expected sums in errors */
	bool sidecar;		    /* URLs: try URL.sha256 when no sum is given */
	unsigned threads;	    /* unpack threads; 0 = one per CPU */
	store_progress_fn progress; /* may be NULL */
	void *userdata;
};

struct store_get_result {
	struct store_entry_info info;
	bool cached;		 /* was already in the store; nothing fetched */
	const char *verified_by; /* "--sha256", "sidecar", "os list", or NULL */
	uint64_t resumed_from;	 /* bytes of the download that were already there */
	uint64_t downloaded;	 /* bytes moved over the network by this get */
};

/* Fetch `url` (or find it in the store) and unpack it into an entry. */
int store_get_url(struct store *s, const char *url, const struct store_get_options *opts,
		  struct store_get_result *ret, struct herd_error *err);
/* The same for a local file (the store keeps its own raw copy). */
int store_import(struct store *s, const char *path, const struct store_get_options *opts,
		 struct store_get_result *ret, struct herd_error *err);

/* The OS list from `url` (NULL: the default), cached in the store
 * directory; fetched when absent, when the cached one came from another
 * URL, or when `refresh`. */
int store_os_list_load(struct store *s, const char *url, bool refresh, struct store_os_list *ret,
		       struct herd_error *err);

/* Is `name` acceptable as an entry name? [A-Za-z0-9._+@-], 1..128, no leading '.'. */
bool store_name_valid(const char *name);
/* Entry name from a URL or path: the last component without query,
 * compression suffix and ".img". */
int store_name_from_source(const char *source, char **ret, struct herd_error *err);

/* What an IMAGE argument names (store_classify_image). */
enum store_image_kind {
	STORE_IMAGE_RAW_FILE = 0, /* an existing file that is not compressed */
	STORE_IMAGE_COMPRESSED,	  /* an existing .xz/.zst/.gz/.bz2/.zip (by magic) */
	STORE_IMAGE_URL,	  /* scheme://... */
	STORE_IMAGE_STORE_NAME,	  /* no such file, but an entry of the default store */
	STORE_IMAGE_MISSING,	  /* none of these */
};

/*
 * Classify an IMAGE argument without changing anything: an existing file
 * (raw or compressed, told apart by its first bytes), a URL, a name in
 * the default store (HERD_STORE, XDG; only looked up when the argument is
 * no file and a valid name), or missing.  Never fails on a missing
 * argument; -errno only when a file exists but cannot be read.
 */
int store_classify_image(const char *arg, enum store_image_kind *ret, struct herd_error *err);
const char *store_image_kind_name(enum store_image_kind kind);

struct store_resolve_options {
	const char *store_dir;	    /* NULL: store_default_dir(NULL) */
	store_progress_fn progress; /* for imports and downloads; may be NULL */
	void *userdata;
};

/*
 * One resolver for every command taking an IMAGE, so they all accept the
 * same things.  `arg` is:
 *   - a raw image file: returned as is (*ret_entry NULL);
 *   - a store name (and no such file): the entry's raw path, the entry held
 *     open (shared lock, so `image rm` refuses) in *ret_entry until the
 *     caller closes it;
 *   - a compressed file (.xz .zst .gz .bz2 .zip by magic): decompressed into
 *     the store once, found again by its SHA-256 (or, unchanged since the
 *     import, by path, size and time without reading it);
 *   - a URL: fetched into the store once (like `herd image get URL`, with
 *     the .sha256 sidecar when the server has one), found by URL later.
 * Imports take the name derived from the source; when another source
 * already holds that name, NAME-<8 hex of the source's sum or key>.
 * A missing argument gives -ENOENT "no such file or store image".
 * *ret_path is always an absolute or caller-relative readable path.
 */
int store_resolve_image(const char *arg, const struct store_resolve_options *opts, char **ret_path,
			struct store_entry **ret_entry, struct herd_error *err);

/* The cached OS list only, never the network; -ENOENT when none is cached. */
int store_os_list_cached(struct store *s, struct store_os_list *ret, struct herd_error *err);
