/*
 * store.c — the image store's directory, SQLite metadata, locks and the
 * get/import pipeline (see store.h for the layout and the rules).
 *
 * A get runs: lock the source → already stored? done → download into the
 * resumable partial (URLs) → unpack partial or file into a temp raw while
 * hashing both sides → compare with the expected sums → detect the OS →
 * publish (rename + row) under the store lock.  Every failure on the way
 * removes the temp raw; the partial stays only when a retry can use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "image/image.h"
#include "store/fetch.h"
#include "store/store.h"

#define STORE_SIDECAR_MAX (64u * 1024)
#define STORE_OS_LIST_MAX (64u * 1024 * 1024)

struct store {
	char *dir;
	sqlite3 *db;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS images ("
			     " name TEXT PRIMARY KEY,"
			     " version TEXT NOT NULL DEFAULT '',"
			     " source TEXT NOT NULL,"
			     " format TEXT NOT NULL,"
			     " download_size INTEGER NOT NULL,"
			     " download_sha256 TEXT NOT NULL,"
			     " raw_size INTEGER NOT NULL,"
			     " raw_sha256 TEXT NOT NULL,"
			     " os TEXT NOT NULL DEFAULT '',"
			     " added INTEGER NOT NULL,"
			     " raw_path TEXT NOT NULL);"
			     "CREATE INDEX IF NOT EXISTS images_source ON images(source);";

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

static int mkdir_p(const char *path, struct herd_error *err)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return herd_error_set(err, errno, "%s: %s", copy, strerror(errno));
		*p = '/';
	}
	if (mkdir(copy, 0755) < 0 && errno != EEXIST)
		return herd_error_set(err, errno, "%s: %s", copy, strerror(errno));
	return 0;
}

int store_default_dir_role(const char *option, enum store_role role, char **ret,
			   struct herd_error *err)
{
	const char *env = getenv("HERD_STORE"), *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char *p;

	if (option && option[0])
		p = strdup(option);
	else if (env && env[0])
		p = strdup(env);
	else if (role == STORE_ROLE_SERVER)
		p = strdup(STORE_SERVER_DIR);
	else if (xdg && xdg[0] == '/')
		p = path_join(xdg, "herd");
	else if (home && home[0] == '/')
		p = path_join(home, ".local/share/herd");
	else
		return herd_error_set(err, ENOENT,
				      "store: no directory (set --store, HERD_STORE or HOME)");
	if (!p)
		return herd_error_set(err, ENOMEM, "out of memory");
	*ret = p;
	return 0;
}

int store_default_dir(const char *option, char **ret, struct herd_error *err)
{
	return store_default_dir_role(option, STORE_ROLE_USER, ret, err);
}

static int db_fail(struct store *s, int code, const char *what, struct herd_error *err)
{
	return herd_error_set(err, code, "store database: %s: %s", what, sqlite3_errmsg(s->db));
}

int store_open(const char *dir, struct store **ret, struct herd_error *err)
{
	static const char *const subdirs[] = {"images", "downloads", "locks"};
	struct store *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *dbpath = NULL;
	int r;

	if (!s)
		return herd_error_set(err, ENOMEM, "out of memory");
	s->dir = strdup(dir);
	if (!s->dir) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	r = mkdir_p(dir, err);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(subdirs); i++) {
		_cleanup_free_ char *sub = path_join(dir, subdirs[i]);
		if (!sub)
			r = herd_error_set(err, ENOMEM, "out of memory");
		else if (mkdir(sub, 0755) < 0 && errno != EEXIST)
			r = herd_error_set(err, errno, "%s: %s", sub, strerror(errno));
	}
	if (r < 0) {
		herd_error_prefix(err, -r, "store");
		goto fail;
	}
	dbpath = path_join(dir, "herd.db");
	if (!dbpath) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(dbpath, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		r = herd_error_set(err, EIO, "%s: %s", dbpath,
				   s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	/* Concurrent herd processes share the file: wait for each other's
	 * short write transactions instead of failing with SQLITE_BUSY. */
	sqlite3_busy_timeout(s->db, 10000);
	/* Keep the -wal and -shm files when the last connection closes:
	 * every herd command opens the store, and recreating them each time
	 * costs a dozen system calls and page faults for nothing. */
	{
		int persist = 1;
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		r = db_fail(s, EIO, dbpath, err);
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

struct store *store_close(struct store *s)
{
	if (!s)
		return NULL;
	sqlite3_close(s->db);
	free(s->dir);
	free(s);
	return NULL;
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

void store_entry_info_clear(struct store_entry_info *info)
{
	free(info->name);
	free(info->version);
	free(info->source);
	free(info->format);
	free(info->download_sha256);
	free(info->raw_sha256);
	free(info->os);
	free(info->raw_path);
	memset(info, 0, sizeof(*info));
}

#define ROW_COLUMNS                                                                                \
	"name, version, source, format, download_size, download_sha256, raw_size, raw_sha256, "    \
	"os, added, raw_path"

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return strdup(t ? (const char *)t : "");
}

static int row_to_info(sqlite3_stmt *st, struct store_entry_info *ret, struct herd_error *err)
{
	struct store_entry_info info = {0};
	struct stat sb;

	info.name = column_dup(st, 0);
	info.version = column_dup(st, 1);
	info.source = column_dup(st, 2);
	info.format = column_dup(st, 3);
	info.download_size = (uint64_t)sqlite3_column_int64(st, 4);
	info.download_sha256 = column_dup(st, 5);
	info.raw_size = (uint64_t)sqlite3_column_int64(st, 6);
	info.raw_sha256 = column_dup(st, 7);
	info.os = column_dup(st, 8);
	info.added = sqlite3_column_int64(st, 9);
	info.raw_path = column_dup(st, 10);
	if (!info.name || !info.version || !info.source || !info.format || !info.download_sha256 ||
	    !info.raw_sha256 || !info.os || !info.raw_path) {
		store_entry_info_clear(&info);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	if (stat(info.raw_path, &sb) == 0)
		info.allocated = (uint64_t)sb.st_blocks * 512;
	*ret = info;
	return 0;
}

static int query_one(struct store *s, const char *where, const char *value,
		     struct store_entry_info *ret, struct herd_error *err)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int rc, r;

	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS " FROM images WHERE %s = ?1 LIMIT 1",
		 where);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, EIO, "query", err);
	sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row_to_info(st, ret, err);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = db_fail(s, EIO, "query", err);
	sqlite3_finalize(st);
	return r;
}

/* The row for `source`; with a sum, the row holding that sum first. */
static int query_source(struct store *s, const char *source, const char *sha256,
			struct store_entry_info *ret, struct herd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(
		s->db,
		"SELECT " ROW_COLUMNS " FROM images WHERE source = ?1"
		" ORDER BY lower(download_sha256) = lower(?2) DESC, added DESC LIMIT 1",
		-1, &st, NULL) != SQLITE_OK)
		return db_fail(s, EIO, "query", err);
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sha256 ? sha256 : "", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row_to_info(st, ret, err);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = db_fail(s, EIO, "query", err);
	sqlite3_finalize(st);
	return r;
}

int store_find_source(struct store *s, const char *source, struct store_entry_info *ret,
		      struct herd_error *err)
{
	int r = query_source(s, source, NULL, ret, err);
	if (r == -ENOENT)
		return herd_error_set(err, ENOENT, "%s: not in the store", source);
	return r;
}

int store_find(struct store *s, const char *name, struct store_entry_info *ret,
	       struct herd_error *err)
{
	int r = query_one(s, "name", name, ret, err);
	if (r == -ENOENT)
		return herd_error_set(err, ENOENT, "%s: no such image in the store", name);
	return r;
}

int store_list(struct store *s, struct store_entry_info **ret, size_t *ret_count,
	       struct herd_error *err)
{
	sqlite3_stmt *st = NULL;
	struct store_entry_info *v = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT " ROW_COLUMNS " FROM images ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(s, EIO, "list", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t c = cap ? cap * 2 : 8;
			struct store_entry_info *p = realloc(v, c * sizeof(*p));
			if (!p) {
				r = herd_error_set(err, ENOMEM, "out of memory");
				break;
			}
			v = p;
			cap = c;
		}
		r = row_to_info(st, &v[n], err);
		if (r < 0)
			break;
		n++;
	}
	if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(s, EIO, "list", err);
	sqlite3_finalize(st);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			store_entry_info_clear(&v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_count = n;
	return 0;
}

int store_open_entry(struct store *s, const char *name, struct store_entry **ret,
		     struct herd_error *err)
{
	struct store_entry *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return herd_error_set(err, ENOMEM, "out of memory");
	e->lock_fd = -1;
	r = store_find(s, name, &e->info, err);
	if (r < 0) {
		free(e);
		return r;
	}
	e->lock_fd = open(e->info.raw_path, O_RDONLY | O_CLOEXEC);
	if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_SH) < 0) {
		r = herd_error_set(err, errno, "%s: %s: %s", name, e->info.raw_path,
				   strerror(errno));
		store_entry_close(e);
		return r;
	}
	*ret = e;
	return 0;
}

struct store_entry *store_entry_close(struct store_entry *e)
{
	if (!e)
		return NULL;
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	store_entry_info_clear(&e->info);
	free(e);
	return NULL;
}

/* Open and flock a file under locks/; returns the fd or -errno. */
static int lock_file(struct store *s, const char *key, int how, struct herd_error *err)
{
	char rel[128];
	_cleanup_free_ char *path = NULL;
	int fd;

	snprintf(rel, sizeof(rel), "locks/%s.lock", key);
	path = path_join(s->dir, rel);
	if (!path)
		return herd_error_set(err, ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return herd_error_set(err, e, "%s: lock: %s", path, strerror(e));
	}
	return fd;
}

int store_remove(struct store *s, const char *name, struct herd_error *err)
{
	struct store_entry_info info = {0};
	_cleanup_close_ int store_lock = -1, fd = -1;
	sqlite3_stmt *st = NULL;
	int r;

	store_lock = lock_file(s, "store", LOCK_EX, err);
	if (store_lock < 0)
		return store_lock;
	r = store_find(s, name, &info, err);
	if (r < 0)
		return r;
	fd = open(info.raw_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK
			? herd_error_set(err, EBUSY, "%s: in use by another herd process", name)
			: herd_error_set(err, errno, "%s: lock: %s", name, strerror(errno));
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "DELETE FROM images WHERE name = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_fail(s, EIO, "remove", err);
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, EIO, "remove", err);
	sqlite3_finalize(st);
	if (r >= 0 && unlink(info.raw_path) < 0 && errno != ENOENT)
		r = herd_error_set(err, errno, "%s: %s", info.raw_path, strerror(errno));
out:
	store_entry_info_clear(&info);
	return r;
}

static bool name_char_valid(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '+' || c == '@' || c == '-';
}

bool store_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128 || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_valid(name[i]))
			return false;
	return true;
}

static bool strip_suffix(char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	if (n > m && strcasecmp(s + n - m, suffix) == 0) {
		s[n - m] = '\0';
		return true;
	}
	return false;
}

int store_name_from_source(const char *source, char **ret, struct herd_error *err)
{
	static const char *const suffixes[] = {".xz", ".zst", ".gz", ".bz2", ".zip"};
	const char *end = source + strcspn(source, "?#");
	const char *start = end;
	char *name;

	while (start > source && start[-1] != '/')
		start--;
	name = strndup(start, (size_t)(end - start));
	if (!name)
		return herd_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
		if (strip_suffix(name, suffixes[i]))
			break;
	strip_suffix(name, ".img");
	for (char *p = name; *p; p++)
		if (!name_char_valid(*p))
			*p = '_';
	if (!store_name_valid(name)) {
		herd_error_set(err, EINVAL, "%s: cannot derive an image name (use --name)", source);
		free(name);
		return -EINVAL;
	}
	*ret = name;
	return 0;
}

/* Lower-case 32 hex digits of SHA-256(text): lock and partial-file keys. */
static void source_key(const char *text, char ret[33])
{
	unsigned char digest[32];
	char hex[STORE_SHA256_HEX];
	unsigned int n = 0;

	EVP_Digest(text, strlen(text), digest, &n, EVP_sha256(), NULL);
	store_sha256_hex(digest, hex);
	memcpy(ret, hex, 32);
	ret[32] = '\0';
}

static bool sha256_valid(const char *hex)
{
	if (strlen(hex) != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* The first token of a sha256sum-style line ("HEX  name"). */
static int parse_sidecar(const char *text, char ret[STORE_SHA256_HEX], struct herd_error *err)
{
	size_t skip = strspn(text, " \t\r\n"), n = strcspn(text + skip, " \t\r\n");
	char hex[STORE_SHA256_HEX];

	if (n != 64)
		return herd_error_set(err, EINVAL, "sidecar: not a SHA-256 checksum file");
	memcpy(hex, text + skip, 64);
	hex[64] = '\0';
	if (!sha256_valid(hex))
		return herd_error_set(err, EINVAL, "sidecar: not a SHA-256 checksum file");
	memcpy(ret, hex, STORE_SHA256_HEX);
	return 0;
}

struct get_job {
	struct store *s;
	const char *source;
	const struct store_get_options *opts;
	char *name;
	char expected[STORE_SHA256_HEX]; /* download sum; "" when none */
	const char *verified_by;
	bool local; /* an import: a changed file at the same path is a new entry */
};

static int insert_row(struct store *s, const struct store_entry_info *i, struct herd_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO images (" ROW_COLUMNS
			       ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, EIO, "insert", err);
	sqlite3_bind_text(st, 1, i->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, i->version, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, i->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, i->format, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)i->download_size);
	sqlite3_bind_text(st, 6, i->download_sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)i->raw_size);
	sqlite3_bind_text(st, 8, i->raw_sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, i->os, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 10, i->added);
	sqlite3_bind_text(st, 11, i->raw_path, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, EIO, "insert", err);
	sqlite3_finalize(st);
	return r;
}

static void detect_os(const char *path, char *buf, size_t len)
{
	struct image *img = NULL;
	struct image_os os;

	buf[0] = '\0';
	if (image_open(path, IMAGE_READ_ONLY, &img, NULL) < 0)
		return;
	if (image_detect_os(img, &os, NULL) == 0)
		snprintf(buf, len, "%s", os.pretty_name[0] ? os.pretty_name : os.id);
	image_close(img);
}

static void default_version(const char *name, char *buf, size_t len)
{
	/* Raspberry Pi OS file names start with the release date: 2024-11-19-raspios-... */
	buf[0] = '\0';
	if (strlen(name) >= 10 && name[4] == '-' && name[7] == '-') {
		for (size_t i = 0; i < 10; i++)
			if (i != 4 && i != 7 && (name[i] < '0' || name[i] > '9'))
				return;
		snprintf(buf, len, "%.10s", name);
	}
}

/* Unpack in_fd into a temp raw, check the sums, publish.  *ret_bad_data
 * tells the caller the input itself is bad (so a partial must go). */
static int unpack_and_publish(struct get_job *job, int in_fd, struct store_get_result *ret,
			      bool *ret_bad_data, struct herd_error *err)
{
	const struct store_get_options *o = job->opts;
	struct store_unpack_result res;
	struct store_entry_info info = {0};
	_cleanup_free_ char *images = path_join(job->s->dir, "images");
	_cleanup_free_ char *tmp = NULL, *final = NULL;
	_cleanup_close_ int out = -1, store_lock = -1, dirfd = -1;
	char rel[256], os[160], version[64];
	int r;

	*ret_bad_data = false;
	if (!images)
		return herd_error_set(err, ENOMEM, "out of memory");
	snprintf(rel, sizeof(rel), ".%s.tmp.%ld", job->name, (long)getpid());
	tmp = path_join(images, rel);
	snprintf(rel, sizeof(rel), "%s.img", job->name);
	final = path_join(images, rel);
	if (!tmp || !final)
		return herd_error_set(err, ENOMEM, "out of memory");
	out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return herd_error_set(err, errno, "%s: %s", tmp, strerror(errno));
	r = store_unpack_fd(in_fd, out, o->threads, o->progress, o->userdata, &res, err);
	if (r < 0) {
		*ret_bad_data = r == -EBADMSG || r == -ENOENT;
		if (r == -ENOSPC)
			herd_error_prefix(err, ENOSPC, "store %s: disk full", job->s->dir);
		goto fail;
	}
	if (job->expected[0] && strcasecmp(job->expected, res.download_sha256) != 0) {
		r = herd_error_set(err, EBADMSG, "%s: checksum mismatch (%s): expected %s, got %s",
				   job->source, job->verified_by, job->expected,
				   res.download_sha256);
		*ret_bad_data = true;
		goto fail;
	}
	if (o->raw_sha256 && o->raw_sha256[0] && strcasecmp(o->raw_sha256, res.raw_sha256) != 0) {
		r = herd_error_set(err, EBADMSG,
				   "%s: checksum of the unpacked image mismatch (%s): expected %s, "
				   "got %s",
				   job->source, o->sha256_origin ? o->sha256_origin : "os list",
				   o->raw_sha256, res.raw_sha256);
		*ret_bad_data = true;
		goto fail;
	}
	if (o->raw_sha256 && o->raw_sha256[0] && !job->verified_by)
		job->verified_by = o->sha256_origin ? o->sha256_origin : "os list";
	detect_os(tmp, os, sizeof(os));
	if (o->version)
		snprintf(version, sizeof(version), "%s", o->version);
	else
		default_version(job->name, version, sizeof(version));

	store_lock = lock_file(job->s, "store", LOCK_EX, err);
	if (store_lock < 0) {
		r = store_lock;
		goto fail;
	}
	r = query_one(job->s, "name", job->name, &info, err);
	if (r == 0) {
		r = herd_error_set(err, EEXIST,
				   "%s: an image of that name is already in the store (from %s)",
				   job->name, info.source);
		store_entry_info_clear(&info);
		goto fail;
	}
	if (r != -ENOENT)
		goto fail;
	if (rename(tmp, final) < 0) {
		r = herd_error_set(err, errno, "%s: %s", final, strerror(errno));
		goto fail;
	}
	/* The rename is durable only once the directory is synced. */
	dirfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0)
		fsync(dirfd);
	info.name = job->name;
	info.version = version;
	info.source = (char *)job->source;
	info.format = (char *)store_format_name(res.format);
	info.download_size = res.download_size;
	info.download_sha256 = res.download_sha256;
	info.raw_size = res.raw_size;
	info.raw_sha256 = res.raw_sha256;
	info.os = os;
	info.added = (int64_t)time(NULL);
	info.raw_path = final;
	r = insert_row(job->s, &info, err);
	if (r < 0) {
		unlink(final);
		return r;
	}
	r = query_one(job->s, "name", job->name, &ret->info, err);
	if (r < 0)
		return r;
	ret->verified_by = job->verified_by;
	return 0;
fail:
	unlink(tmp);
	return r;
}

/* Common start: name, lock, cached?  Returns 1 when the entry was cached
 * (result filled), 0 to go on, -errno. */
static int job_start(struct get_job *job, int *ret_lock, struct store_get_result *ret,
		     struct herd_error *err)
{
	const struct store_get_options *o = job->opts;
	char key[33];
	int r, fd;

	if (o->name) {
		if (!store_name_valid(o->name))
			return herd_error_set(err, EINVAL,
					      "%s: invalid image name (letters, digits, . _ + @ -)",
					      o->name);
		job->name = strdup(o->name);
		if (!job->name)
			return herd_error_set(err, ENOMEM, "out of memory");
	} else {
		r = store_name_from_source(job->source, &job->name, err);
		if (r < 0)
			return r;
	}
	if (o->sha256) {
		if (!sha256_valid(o->sha256))
			return herd_error_set(err, EINVAL, "--sha256 %s: not 64 hex digits",
					      o->sha256);
		memcpy(job->expected, o->sha256, STORE_SHA256_HEX);
		job->verified_by = o->sha256_origin ? o->sha256_origin : "--sha256";
	}
	/* Already stored: answer without the lock (a fully cached get must
	 * stay cheap: no lock file, no hashing, nothing loaded). */
	r = query_source(job->s, job->source, job->expected, &ret->info, err);
	if (r == 0) {
		if (access(ret->info.raw_path, R_OK) == 0 &&
		    (!job->expected[0] ||
		     strcasecmp(job->expected, ret->info.download_sha256) == 0)) {
			ret->cached = true;
			return 1;
		}
		store_entry_info_clear(&ret->info);
	} else if (r != -ENOENT) {
		return r;
	}
	source_key(job->source, key);
	fd = lock_file(job->s, key, LOCK_EX, err);
	if (fd < 0)
		return fd;
	/* Whoever held the lock before us may have stored this source. */
	r = query_source(job->s, job->source, job->expected, &ret->info, err);
	if (r == 0) {
		struct stat st;
		if (stat(ret->info.raw_path, &st) == 0 &&
		    (!job->expected[0] ||
		     strcasecmp(job->expected, ret->info.download_sha256) == 0)) {
			ret->cached = true;
			close(fd);
			return 1;
		}
		if (job->local && job->expected[0]) {
			/* The file at this path changed since it was imported:
			 * its new content is a new entry. */
			store_entry_info_clear(&ret->info);
			*ret_lock = fd;
			return 0;
		}
		if (stat(ret->info.raw_path, &st) == 0)
			r = herd_error_set(
			    err, EBADMSG,
			    "%s: checksum mismatch (%s): stored as '%s' with sha256 %s, "
			    "expected %s",
			    job->source, job->verified_by, ret->info.name,
			    ret->info.download_sha256, job->expected);
		else
			r = herd_error_set(
			    err, ENOENT, "%s: stored as '%s' but %s is missing (herd image rm it)",
			    job->source, ret->info.name, ret->info.raw_path);
		store_entry_info_clear(&ret->info);
		close(fd);
		return r;
	}
	if (r != -ENOENT) {
		close(fd);
		return r;
	}
	*ret_lock = fd;
	return 0;
}

int store_import(struct store *s, const char *path, const struct store_get_options *opts,
		 struct store_get_result *ret, struct herd_error *err)
{
	struct store_get_result res = {0};
	char abs[PATH_MAX];
	struct get_job job = {.s = s, .opts = opts};
	_cleanup_close_ int lock = -1, in = -1;
	bool bad;
	int r;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (!realpath(path, abs))
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	job.source = abs;
	job.local = true;
	r = job_start(&job, &lock, &res, err);
	if (r == 0)
		r = unpack_and_publish(&job, in, &res, &bad, err);
	free(job.name);
	if (r < 0)
		return herd_error_prefix(err, -r, "import %s", path);
	*ret = res;
	return 0;
}

int store_get_url(struct store *s, const char *url, const struct store_get_options *opts,
		  struct store_get_result *ret, struct herd_error *err)
{
	struct store_get_result res = {0};
	struct get_job job = {.s = s, .source = url, .opts = opts};
	_cleanup_close_ int lock = -1, partial_fd = -1;
	_cleanup_free_ char *partial = NULL;
	char key[33], rel[64];
	struct stat st;
	bool bad = false;
	int r;

	r = job_start(&job, &lock, &res, err);
	if (r != 0)
		goto out;
	if (!job.expected[0] && !(opts->raw_sha256 && opts->raw_sha256[0]) && opts->sidecar) {
		_cleanup_free_ char *side_url = NULL, *text = NULL;
		size_t n = strlen(url) + sizeof(".sha256");
		side_url = malloc(n);
		if (!side_url) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		snprintf(side_url, n, "%s.sha256", url);
		r = store_fetch_small(side_url, STORE_SIDECAR_MAX, &text, NULL, err);
		if (r == 0) {
			r = parse_sidecar(text, job.expected, err);
			if (r < 0) {
				herd_error_prefix(err, -r, "%s", side_url);
				goto out;
			}
			job.verified_by = "sidecar";
		} else if (r == -ENOENT) {
			herd_error_clear(err);
			r = 0;
		} else {
			goto out;
		}
	}
	source_key(url, key);
	snprintf(rel, sizeof(rel), "downloads/%s.partial", key);
	partial = path_join(s->dir, rel);
	if (!partial) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	partial_fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (partial_fd < 0 || fstat(partial_fd, &st) < 0) {
		r = herd_error_set(err, errno, "%s: %s", partial, strerror(errno));
		goto out;
	}
	r = store_fetch_to_fd(url, partial_fd, opts->progress, opts->userdata, &res.resumed_from,
			      err);
	if (r < 0) {
		if (r == -ENOSPC)
			herd_error_prefix(err, ENOSPC, "store %s: disk full", s->dir);
		/* A 404 leaves nothing worth resuming. */
		if (r == -ENOENT && fstat(partial_fd, &st) == 0 && st.st_size == 0)
			unlink(partial);
		goto out;
	}
	if (fstat(partial_fd, &st) == 0)
		res.downloaded = (uint64_t)st.st_size - res.resumed_from;
	r = unpack_and_publish(&job, partial_fd, &res, &bad, err);
	if (r == 0 || bad)
		unlink(partial);
out:
	free(job.name);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t done = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		done += (size_t)n;
	}
	buf[done] = '\0';
	*ret = buf;
	*ret_len = done;
	return 0;
}

static int write_file_atomic(const char *path, const char *data, size_t len, struct herd_error *err)
{
	size_t n = strlen(path) + 16;
	_cleanup_free_ char *tmp = malloc(n);
	int fd;

	if (!tmp)
		return herd_error_set(err, ENOMEM, "out of memory");
	snprintf(tmp, n, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", tmp, strerror(errno));
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		return herd_error_set(err, e, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return herd_error_set(err, e, "%s: %s", path, strerror(e));
	}
	return 0;
}

int store_os_list_load(struct store *s, const char *url, bool refresh, struct store_os_list *ret,
		       struct herd_error *err)
{
	_cleanup_free_ char *json_path = path_join(s->dir, "os-list.json");
	_cleanup_free_ char *url_path = path_join(s->dir, "os-list.url");
	_cleanup_free_ char *text = NULL, *cached_url = NULL;
	size_t len = 0, ulen = 0;
	int r;

	if (!json_path || !url_path)
		return herd_error_set(err, ENOMEM, "out of memory");
	/* No URL asked for: whatever list is cached serves (it came from
	 * --os-list earlier, or from the default). */
	if (!refresh && !url && read_file(json_path, STORE_OS_LIST_MAX, &text, &len) == 0) {
		r = store_os_list_parse(text, len, ret, err);
		if (r == 0)
			return 0;
		herd_error_clear(err);
		free(text);
		text = NULL;
	}
	if (!url)
		url = STORE_DEFAULT_OS_LIST_URL;
	if (!refresh && read_file(url_path, 4096, &cached_url, &ulen) == 0 &&
	    strcmp(cached_url, url) == 0 &&
	    read_file(json_path, STORE_OS_LIST_MAX, &text, &len) == 0) {
		r = store_os_list_parse(text, len, ret, err);
		if (r == 0)
			return 0;
		herd_error_clear(err); /* a damaged cache is fetched again */
		free(text);
		text = NULL;
	}
	r = store_fetch_small(url, STORE_OS_LIST_MAX, &text, &len, err);
	if (r < 0)
		return herd_error_prefix(err, -r, "os list");
	r = store_os_list_parse(text, len, ret, err);
	if (r < 0)
		return herd_error_prefix(err, -r, "%s", url);
	/* Cache only what parsed; a failed write only costs a refetch. */
	if (write_file_atomic(json_path, text, len, NULL) == 0)
		write_file_atomic(url_path, url, strlen(url), NULL);
	return 0;
}

static bool is_url(const char *arg)
{
	const char *p = strstr(arg, "://");

	if (!p || p == arg)
		return false;
	for (const char *c = arg; c < p; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (c > arg &&
		       ((*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))))
			return false;
	return true;
}

/* Open the default (or given) store only when it already exists: a
 * lookup must not create ~/.local/share/herd as a side effect.  1 when
 * opened, 0 when there is none. */
static int open_existing_store(const char *dir_option, struct store **ret, struct herd_error *err)
{
	_cleanup_free_ char *dir = NULL, *db = NULL;
	struct stat st;
	int r;

	if (store_default_dir(dir_option, &dir, NULL) < 0)
		return 0;
	db = path_join(dir, "herd.db");
	if (!db)
		return herd_error_set(err, ENOMEM, "out of memory");
	if (stat(db, &st) < 0)
		return 0;
	r = store_open(dir, ret, err);
	return r < 0 ? r : 1;
}

const char *store_image_kind_name(enum store_image_kind kind)
{
	switch (kind) {
	case STORE_IMAGE_RAW_FILE:
		return "raw image file";
	case STORE_IMAGE_COMPRESSED:
		return "compressed image file";
	case STORE_IMAGE_URL:
		return "URL";
	case STORE_IMAGE_STORE_NAME:
		return "store image";
	case STORE_IMAGE_MISSING:
		break;
	}
	return "missing";
}

static int classify_file(const char *path, enum store_image_kind *ret, struct herd_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char head[8];
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode)) {
		/* Block devices and the like are raw by nature. */
		*ret = STORE_IMAGE_RAW_FILE;
		return 0;
	}
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	*ret = store_detect_format(head, (size_t)n) == STORE_FORMAT_RAW ? STORE_IMAGE_RAW_FILE
									: STORE_IMAGE_COMPRESSED;
	return 0;
}

int store_classify_image(const char *arg, enum store_image_kind *ret, struct herd_error *err)
{
	struct store *s = NULL;
	struct store_entry_info info;
	struct stat st;
	int r;

	if (is_url(arg)) {
		*ret = STORE_IMAGE_URL;
		return 0;
	}
	if (stat(arg, &st) == 0)
		return classify_file(arg, ret, err);
	*ret = STORE_IMAGE_MISSING;
	if (strchr(arg, '/') || !store_name_valid(arg))
		return 0;
	r = open_existing_store(NULL, &s, NULL);
	if (r <= 0)
		return 0;
	if (store_find(s, arg, &info, NULL) == 0) {
		*ret = STORE_IMAGE_STORE_NAME;
		store_entry_info_clear(&info);
	}
	store_close(s);
	return 0;
}

/* SHA-256 of a whole file (lower-case hex). */
static int hash_file(int fd, char ret[STORE_SHA256_HEX], struct herd_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_free_ unsigned char *buf = malloc(1u << 20);
	unsigned char digest[32];
	unsigned int dlen = 0;
	uint64_t off = 0;
	int r = 0;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = pread(fd, buf, 1u << 20, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = herd_error_set(err, errno, "read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			r = herd_error_set(err, EIO, "sha256: update failed");
			break;
		}
		off += (uint64_t)n;
	}
	if (r == 0 && (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32))
		r = herd_error_set(err, EIO, "sha256: final failed");
	EVP_MD_CTX_free(md);
	if (r == 0)
		store_sha256_hex(digest, ret);
	return r;
}

/* Is any entry's download `size` bytes long?  Then a file of that size
 * may be a copy of it, and hashing it is worth the read. */
static bool size_known(struct store *s, uint64_t size)
{
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM images WHERE download_size = ?1 LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		return true; /* unsure: let the caller hash */
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* A name for a new entry from `source`: the derived name, or NAME-TAG
 * when another source already holds it. */
static int free_name(struct store *s, const char *source, const char *tag, char **ret,
		     struct herd_error *err)
{
	struct store_entry_info info;
	_cleanup_free_ char *name = NULL;
	char *p;
	size_t n;
	int r;

	r = store_name_from_source(source, &name, err);
	if (r < 0)
		return r;
	r = query_one(s, "name", name, &info, NULL);
	if (r == -ENOENT) {
		*ret = TAKE_PTR(name);
		return 0;
	}
	if (r == 0)
		store_entry_info_clear(&info);
	n = strlen(name) + 10;
	p = malloc(n);
	if (!p)
		return herd_error_set(err, ENOMEM, "out of memory");
	/* Names are at most 128 characters: keep room for the tag. */
	snprintf(p, n, "%.*s-%.8s", 119, name, tag);
	*ret = p;
	return 0;
}

/* The entry an import or get produced (or found), opened. */
static int open_result(struct store *s, struct store_get_result *res, char **ret_path,
		       struct store_entry **ret_entry, struct herd_error *err)
{
	struct store_entry *e = NULL;
	char *p;
	int r = store_open_entry(s, res->info.name, &e, err);

	store_entry_info_clear(&res->info);
	if (r < 0)
		return r;
	p = strdup(e->info.raw_path);
	if (!p) {
		store_entry_close(e);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	*ret_path = p;
	*ret_entry = e;
	return 0;
}

static int resolve_compressed(struct store *s, const char *arg,
			      const struct store_resolve_options *o, char **ret_path,
			      struct store_entry **ret_entry, struct herd_error *err)
{
	struct store_get_options go = {.progress = o->progress, .userdata = o->userdata};
	struct store_get_result res = {0};
	struct store_entry_info info = {0};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *name = NULL;
	char abs[PATH_MAX], sum[STORE_SHA256_HEX] = "";
	struct stat st;
	int r;

	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !realpath(arg, abs))
		return herd_error_set(err, errno, "%s: %s", arg, strerror(errno));
	/* Fast path: imported from this path, and the file has not been
	 * touched since (same size, last change before the import). */
	r = query_source(s, abs, NULL, &info, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0) {
		bool same = info.download_size == (uint64_t)st.st_size &&
			    info.added > (int64_t)st.st_mtim.tv_sec &&
			    info.added > (int64_t)st.st_ctim.tv_sec;
		store_entry_info_clear(&info);
		if (same && query_source(s, abs, NULL, &res.info, NULL) == 0)
			return open_result(s, &res, ret_path, ret_entry, err);
	}
	/* The same bytes under another path (or changed in place): by sum. */
	if (r == 0 || size_known(s, (uint64_t)st.st_size)) {
		r = hash_file(fd, sum, err);
		if (r < 0)
			return herd_error_prefix(err, -r, "%s", arg);
		r = query_one(s, "download_sha256", sum, &res.info, err);
		if (r == 0) {
			if (access(res.info.raw_path, R_OK) == 0)
				return open_result(s, &res, ret_path, ret_entry, err);
			store_entry_info_clear(&res.info);
		} else if (r != -ENOENT) {
			return r;
		}
		go.sha256 = sum;
		go.sha256_origin = "the file's own sum";
	}
	{
		char key[33];
		source_key(abs, key);
		r = free_name(s, abs, sum[0] ? sum : key, &name, err);
		if (r < 0)
			return r;
	}
	go.name = name;
	r = store_import(s, arg, &go, &res, err);
	if (r < 0)
		return r;
	return open_result(s, &res, ret_path, ret_entry, err);
}

static int resolve_url(struct store *s, const char *url, const struct store_resolve_options *o,
		       char **ret_path, struct store_entry **ret_entry, struct herd_error *err)
{
	struct store_get_options go = {
	    .sidecar = true, .progress = o->progress, .userdata = o->userdata};
	struct store_get_result res = {0};
	_cleanup_free_ char *name = NULL;
	char key[33];
	int r;

	/* Stored before: no network at all. */
	r = query_source(s, url, NULL, &res.info, err);
	if (r == 0 && access(res.info.raw_path, R_OK) == 0)
		return open_result(s, &res, ret_path, ret_entry, err);
	if (r == 0)
		store_entry_info_clear(&res.info);
	else if (r != -ENOENT)
		return r;
	source_key(url, key);
	r = free_name(s, url, key, &name, err);
	if (r < 0)
		return r;
	go.name = name;
	r = store_get_url(s, url, &go, &res, err);
	if (r < 0)
		return r;
	return open_result(s, &res, ret_path, ret_entry, err);
}

int store_resolve_image(const char *arg, const struct store_resolve_options *opts, char **ret_path,
			struct store_entry **ret_entry, struct herd_error *err)
{
	static const struct store_resolve_options defaults = {0};
	const struct store_resolve_options *o = opts ? opts : &defaults;
	_cleanup_free_ char *dir = NULL;
	struct store *s = NULL;
	struct store_entry *e = NULL;
	enum store_image_kind kind;
	char *p;
	int r;

	r = store_classify_image(arg, &kind, err);
	if (r < 0)
		return r;
	if (kind == STORE_IMAGE_RAW_FILE) {
		p = strdup(arg);
		if (!p)
			return herd_error_set(err, ENOMEM, "out of memory");
		*ret_path = p;
		*ret_entry = NULL;
		return 0;
	}
	if (kind == STORE_IMAGE_MISSING)
		return herd_error_set(err, ENOENT, "%s: no such file, URL or store image", arg);
	if (kind == STORE_IMAGE_STORE_NAME && !o->store_dir) {
		r = open_existing_store(NULL, &s, err);
		if (r == 0)
			r = herd_error_set(err, ENOENT, "%s: no such file or store image", arg);
	} else {
		/* Imports create the store on first use. */
		r = store_default_dir(o->store_dir, &dir, err);
		if (r >= 0)
			r = store_open(dir, &s, err);
	}
	if (r < 0)
		return r;
	if (kind == STORE_IMAGE_STORE_NAME) {
		r = store_open_entry(s, arg, &e, err);
		if (r == 0) {
			p = strdup(e->info.raw_path);
			if (!p) {
				store_entry_close(e);
				r = herd_error_set(err, ENOMEM, "out of memory");
			} else {
				*ret_path = p;
				*ret_entry = e;
			}
		}
	} else if (kind == STORE_IMAGE_COMPRESSED) {
		r = resolve_compressed(s, arg, o, ret_path, ret_entry, err);
	} else {
		r = resolve_url(s, arg, o, ret_path, ret_entry, err);
	}
	store_close(s);
	return r;
}

int store_os_list_cached(struct store *s, struct store_os_list *ret, struct herd_error *err)
{
	_cleanup_free_ char *json_path = path_join(s->dir, "os-list.json");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!json_path)
		return herd_error_set(err, ENOMEM, "out of memory");
	r = read_file(json_path, STORE_OS_LIST_MAX, &text, &len);
	if (r < 0)
		return herd_error_set(err, -r, "os list: no cached copy");
	return store_os_list_parse(text, len, ret, err);
}
