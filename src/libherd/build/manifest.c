/*
 * manifest.c — what `herd build` records about its outputs: the settings
 * digest of each host and manifest.json.
 *
 * The settings digest is the SHA-256 of a canonical text built by walking
 * the settings registry (so a setting added later is covered without a
 * change here): "name=value\n" per set key in registry order, list items
 * one line each, booleans as true/false, addresses as a.b.c.d/n.  Local
 * files a setting refers to (key files, the PSK file, files[].source)
 * count by their content's SHA-256, not their path, so moving a key file
 * keeps the digest and editing it changes it.  `image` is left out: the
 * base image is identified by its own SHA-256 in the manifest.
 *
 * The manifest is written with jansson, keys sorted and indented, to a
 * temporary file renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "build/build_internal.h"
#include "config/validate.h"

#define DIGEST_FILE_MAX (64u << 20)

struct canon {
	EVP_MD_CTX *md;
	bool failed;
};

static void canon_put(struct canon *c, const char *name, const char *value)
{
	if (c->failed)
		return;
	if (EVP_DigestUpdate(c->md, name, strlen(name)) != 1 ||
	    EVP_DigestUpdate(c->md, "=", 1) != 1 ||
	    EVP_DigestUpdate(c->md, value, strlen(value)) != 1 ||
	    EVP_DigestUpdate(c->md, "\n", 1) != 1)
		c->failed = true;
}

/* "sha256:<hex>" of a local file, or "unreadable:<path>". */
static void file_ref(const char *path, char *buf, size_t len)
{
	unsigned char d[32], chunk[65536];
	char hex[BUILD_SHA256_HEX];
	unsigned int dl = 0;
	uint64_t total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = fd >= 0 && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	while (ok) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		total += (uint64_t)n;
		ok = total <= DIGEST_FILE_MAX && EVP_DigestUpdate(md, chunk, (size_t)n) == 1;
	}
	if (ok && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32) {
		build_hex(d, hex);
		snprintf(buf, len, "sha256:%s", hex);
	} else {
		snprintf(buf, len, "unreadable:%s", path);
	}
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
}

static void canon_key(struct canon *c, const struct herd_settings *s, const struct settings_key *k)
{
	const void *f = (const char *)s + k->offset;
	bool is_file = k->validate == validate_file_ref_value;
	char buf[4200], sub[300];

	switch (k->type) {
	case SETTINGS_STRING: {
		const char *v = *(char *const *)f;
		if (!v)
			return;
		if (is_file) {
			file_ref(v, buf, sizeof(buf));
			v = buf;
		}
		canon_put(c, k->name, v);
		break;
	}
	case SETTINGS_BOOL:
		canon_put(c, k->name, *(const bool *)f ? "true" : "false");
		break;
	case SETTINGS_PROMPT:
		/* --passwd: what it produces is password_hash, digested there. */
		break;
	case SETTINGS_LIST: {
		const struct strv *l = f;
		for (size_t i = 0; i < l->count; i++) {
			const char *v = l->items[i];
			if (is_file) {
				file_ref(v, buf, sizeof(buf));
				v = buf;
			}
			canon_put(c, k->name, v);
		}
		break;
	}
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR:
		settings_format_ipv4(f, true, buf, sizeof(buf));
		canon_put(c, k->name, buf);
		break;
	case SETTINGS_FILES: {
		const struct herd_file_list *l = f;
		for (size_t i = 0; i < l->count; i++) {
			const struct herd_file_spec *fs = &l->items[i];
			snprintf(sub, sizeof(sub), "%s[%zu].path", k->name, i);
			canon_put(c, sub, fs->path ? fs->path : "");
			snprintf(sub, sizeof(sub), "%s[%zu].content", k->name, i);
			if (fs->source) {
				file_ref(fs->source, buf, sizeof(buf));
				canon_put(c, sub, buf);
			} else {
				unsigned char d[32];
				char hex[BUILD_SHA256_HEX];
				const char *t = fs->content ? fs->content : "";
				if (EVP_Digest(t, strlen(t), d, NULL, EVP_sha256(), NULL) != 1)
					c->failed = true;
				build_hex(d, hex);
				snprintf(buf, sizeof(buf), "sha256:%s", hex);
				canon_put(c, sub, buf);
			}
			snprintf(sub, sizeof(sub), "%s[%zu].mode", k->name, i);
			snprintf(buf, sizeof(buf), "%04o", fs->has_mode ? fs->mode : 0644);
			canon_put(c, sub, buf);
			snprintf(sub, sizeof(sub), "%s[%zu].owner", k->name, i);
			canon_put(c, sub, fs->owner ? fs->owner : "root");
		}
		break;
	}
	case SETTINGS_RESERVED:
		break;
	}
}

int build_settings_digest(const struct herd_settings *s, char ret[BUILD_SHA256_HEX],
			  struct herd_error *err)
{
	struct canon c = {.md = EVP_MD_CTX_new()};
	unsigned char d[32];
	unsigned int dl = 0;
	size_t count;
	const struct settings_key *keys = settings_keys(&count);

	if (!c.md || EVP_DigestInit_ex(c.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c.md);
		return herd_error_set(err, ENOMEM, "SHA-256: cannot start");
	}
	canon_put(&c, "herd-settings", "1");
	for (size_t i = 0; i < count; i++) {
		if (strcmp(keys[i].name, "image") == 0 || !settings_is_set(s, &keys[i]))
			continue;
		canon_key(&c, s, &keys[i]);
	}
	if (c.failed || EVP_DigestFinal_ex(c.md, d, &dl) != 1 || dl != 32) {
		EVP_MD_CTX_free(c.md);
		return herd_error_set(err, EIO, "SHA-256 failed");
	}
	EVP_MD_CTX_free(c.md);
	build_hex(d, ret);
	return 0;
}

static json_t *host_json(const struct build_host *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "host", json_string(h->name));
	json_object_set_new(o, "ok", json_boolean(h->ok));
	json_object_set_new(o, "settings_sha256",
			    h->settings_sha256[0] ? json_string(h->settings_sha256) : json_null());
	if (!h->ok) {
		json_object_set_new(o, "error", json_string(herd_error_message(&h->error)));
		return o;
	}
	json_object_set_new(o, "file", json_string(h->file));
	json_object_set_new(o, "size", json_integer((json_int_t)h->size));
	json_object_set_new(o, "sha256", json_string(h->file_sha256));
	json_object_set_new(o, "raw_size", json_integer((json_int_t)h->raw_size));
	json_object_set_new(o, "raw_sha256", json_string(h->raw_sha256));
	json_object_set_new(o, "source_image", json_string(h->image_path));
	json_object_set_new(o, "source_sha256", json_string(h->image_sha256));
	return o;
}

int build_manifest_write(const char *out_dir, const struct build_manifest_info *info,
			 const struct build_host *hosts, size_t n, struct herd_error *err)
{
	char tmp[4096], final[4096], when[32];
	json_t *root = json_object(), *arr = json_array();
	struct tm tm;
	time_t t = (time_t)info->build_time;
	int fd, r = 0;

	if (!root || !arr) {
		json_decref(root);
		json_decref(arr);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(root, "herd_version", json_string(info->herd_version));
	json_object_set_new(root, "build_time", json_string(when));
	json_object_set_new(root, "build_epoch", json_integer((json_int_t)info->build_time));
	json_object_set_new(root, "compress", json_string(build_compress_name(info->compress)));
	if (info->config)
		json_object_set_new(root, "config", json_string(info->config));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, host_json(&hosts[i]));
	json_object_set_new(root, "hosts", arr);

	snprintf(final, sizeof(final), "%s/manifest.json", out_dir);
	snprintf(tmp, sizeof(tmp), "%s/.manifest.json.tmp-XXXXXX", out_dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		json_decref(root);
		return herd_error_set(err, errno, "%s: %s", tmp, strerror(errno));
	}
	(void)fchmod(fd, 0644);
	if (json_dumpfd(root, fd, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 || write(fd, "\n", 1) != 1)
		r = herd_error_set(err, EIO, "%s: write failed", tmp);
	if (r == 0 && fsync(fd) < 0)
		r = herd_error_set(err, errno, "%s: %s", tmp, strerror(errno));
	close(fd);
	if (r == 0 && rename(tmp, final) < 0)
		r = herd_error_set(err, errno, "%s: %s", final, strerror(errno));
	if (r < 0)
		unlink(tmp);
	json_decref(root);
	return r;
}
