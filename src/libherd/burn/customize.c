/*
 * customize.c — write one card's hostname into an overlay over the image
 * (see customize.h).  Debian's convention (hostname(5), and what
 * raspi-config does): /etc/hostname holds the name, and /etc/hosts maps
 * 127.0.1.1 to it.  Our /etc/hosts edit replaces an existing 127.0.1.1
 * line or appends one, leaving every other line as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burn/customize.h"
#include "image/image.h"

#define HOSTS_MAX (1u << 20)

static bool valid_hostname(const char *h)
{
	size_t len = strlen(h);

	if (len == 0 || len > 63 || h[0] == '-' || h[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
			return false;
	return true;
}

/* New /etc/hosts text: every line kept except 127.0.1.1 ones, replaced
 * (in place of the first) by "127.0.1.1\t<host>". */
static char *rewrite_hosts(const char *old, size_t len, const char *host)
{
	size_t cap = len + strlen(host) + 32, out = 0;
	char *buf = malloc(cap);
	bool done = false;
	const char *p = old, *end = old + len;

	if (!buf)
		return NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		bool ours = l >= 9 && memcmp(p, "127.0.1.1", 9) == 0 &&
			    (l == 9 || p[9] == ' ' || p[9] == '\t');
		if (ours) {
			if (!done)
				out +=
				    (size_t)snprintf(buf + out, cap - out, "127.0.1.1\t%s\n", host);
			done = true;
		} else {
			memcpy(buf + out, p, l);
			out += l;
			buf[out++] = '\n';
		}
		p += l + (nl ? 1 : 0);
	}
	if (!done)
		out += (size_t)snprintf(buf + out, cap - out, "127.0.1.1\t%s\n", host);
	buf[out < cap ? out : cap - 1] = '\0';
	return buf;
}

static int set_hostname(struct image *img, const char *host, struct herd_error *err)
{
	struct vfs *fs = NULL;
	char line[80], *hosts = NULL, *rewritten;
	size_t hosts_len = 0;
	int r;

	r = image_mount(img, "root", true, &fs, err);
	if (r < 0)
		return r;
	snprintf(line, sizeof(line), "%s\n", host);
	r = vfs_write(fs, "/etc/hostname", line, strlen(line),
		      VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, err);
	if (r < 0)
		goto out;
	r = vfs_read_all(fs, "/etc/hosts", HOSTS_MAX, &hosts, &hosts_len, err);
	if (r == -ENOENT) {
		hosts = NULL;
		hosts_len = 0;
		r = 0;
	} else if (r < 0)
		goto out;
	rewritten = rewrite_hosts(hosts ? hosts : "", hosts_len, host);
	if (!rewritten) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	r = vfs_write(fs, "/etc/hosts", rewritten, strlen(rewritten),
		      VFS_WRITE_CREATE | VFS_WRITE_TRUNCATE, 0644, 0, 0, err);
	free(rewritten);
out:
	free(hosts);
	if (vfs_close(fs, r < 0 ? NULL : err) < 0 && r >= 0)
		r = -EIO;
	return r;
}

int burn_prepare_target_overlay(struct blockdev *source, const struct burn_card_settings *settings,
				struct blockdev **ret, struct herd_error *err)
{
	struct blockdev *overlay = NULL;
	struct image *img = NULL;
	int r;

	if (settings && settings->hostname && !valid_hostname(settings->hostname))
		return herd_error_set(err, EINVAL,
				      "hostname '%s': use letters, digits and '-' (at most 63)",
				      settings->hostname);
	r = blockdev_new_overlay(source, NULL, &overlay, err);
	if (r < 0)
		return r;
	if (settings && settings->hostname) {
		r = image_open_blockdev(overlay, IMAGE_WRITABLE, &img, err);
		if (r >= 0)
			r = set_hostname(img, settings->hostname, err);
		image_close(img);
		if (r < 0) {
			herd_error_prefix(err, -r, "hostname %s", settings->hostname);
			blockdev_unref(overlay);
			return r;
		}
	}
	*ret = overlay;
	return 0;
}
