/*
 * fetch.c — libcurl transfers for the store (see fetch.h).
 *
 * Resume (RFC 9110 section 14): we ask for "bytes=N-".  A 206 reply
 * appends; a 200 reply means the server sent the whole body again, so
 * the file is cut back to zero first; a 416 means our partial file does
 * not fit the resource (it changed, or is complete and the server will
 * not say so) and we start over once without a range.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/parse.h"
#include "herd-config.h"
#include "store/curl_loader.h"
#include "store/fetch.h"

struct fetch_ctx {
	int fd;
	CURL *curl;
	uint64_t start;	     /* offset the transfer was asked to start at */
	uint64_t written;    /* body bytes written in this transfer */
	bool checked;	     /* response status looked at */
	int64_t range_total; /* complete length stated by a 416 reply; -1 if none */
	int error;	     /* -errno from a failed write */
	store_progress_fn progress;
	void *userdata;
};

static size_t fetch_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_ctx *ctx = userdata;
	size_t len = size * nmemb, done = 0;

	if (!ctx->checked) {
		long status = 0;
		herd_curl()->easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &status);
		ctx->checked = true;
		if (ctx->start > 0 && status != 206) {
			/* The server ignored the Range: start the file over. */
			if (ftruncate(ctx->fd, 0) < 0) {
				ctx->error = -errno;
				return 0;
			}
			ctx->start = 0;
		}
	}
	while (done < len) {
		ssize_t n =
		    pwrite(ctx->fd, data + done, len - done, (off_t)(ctx->start + ctx->written));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ctx->error = n < 0 ? -errno : -ENOSPC;
			return 0;
		}
		done += (size_t)n;
		ctx->written += (uint64_t)n;
	}
	return len;
}

/* Remember the complete length a 416 reply states (RFC 9110 section
 * 14.4: "Content-Range: bytes *" "/N"), so a partial file that is in fact
 * complete is not downloaded again. */
static size_t fetch_header_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_ctx *ctx = userdata;
	size_t len = size * nmemb;
	static const char name[] = "content-range:";
	char value[64];
	const char *slash;
	uint64_t n;

	if (len > sizeof(name) - 1 && len - (sizeof(name) - 1) < sizeof(value) &&
	    strncasecmp(data, name, sizeof(name) - 1) == 0) {
		memcpy(value, data + sizeof(name) - 1, len - (sizeof(name) - 1));
		value[len - (sizeof(name) - 1)] = '\0';
		value[strcspn(value, "\r\n")] = '\0';
		slash = strchr(value, '/');
		if (strstr(value, "bytes *") && slash &&
		    parse_u64(slash + 1, 0, INT64_MAX, &n) == 0)
			ctx->range_total = (int64_t)n;
	}
	return len;
}

static int fetch_progress_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
			     curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch_ctx *ctx = userdata;

	(void)ultotal;
	(void)ulnow;
	if (ctx->progress)
		ctx->progress(ctx->userdata, "download", ctx->start + (uint64_t)dlnow,
			      dltotal > 0 ? ctx->start + (uint64_t)dltotal : 0);
	return 0;
}

static void fetch_common_options(CURL *c, const char *url)
{
	herd_curl()->easy_setopt(c, CURLOPT_URL, url);
	herd_curl()->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	herd_curl()->easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	herd_curl()->easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	herd_curl()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	herd_curl()->easy_setopt(c, CURLOPT_USERAGENT, "herd/" HERD_VERSION);
	herd_curl()->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* Give up on a stalled connection: under 1 byte/s for 60 s. */
	herd_curl()->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	herd_curl()->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	herd_curl()->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	herd_curl()->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
}

static int curl_failure(CURL *c, CURLcode cr, const char *errbuf, const char *url,
			struct herd_error *err)
{
	long status = 0;

	herd_curl()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cr == CURLE_HTTP_RETURNED_ERROR)
		return herd_error_set(err, status == 404 || status == 410 ? ENOENT : EIO,
				      "%s: HTTP %ld", url, status);
	if (cr == CURLE_PARTIAL_FILE)
		return herd_error_set(err, EIO, "%s: transfer ended early (truncated body)", url);
	return herd_error_set(err, EIO, "%s: %s", url,
			      errbuf[0] ? errbuf : herd_curl()->easy_strerror(cr));
}

int store_fetch_to_fd(const char *url, int fd, store_progress_fn progress, void *userdata,
		      uint64_t *ret_resumed_from, struct herd_error *err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct stat st;
	uint64_t resumed = 0;
	int r = herd_curl_load(err);

	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return herd_error_set(err, errno, "partial file: %s", strerror(errno));
	for (int attempt = 0; attempt < 2; attempt++) {
		struct fetch_ctx ctx = {
		    .fd = fd, .progress = progress, .userdata = userdata, .range_total = -1};
		CURL *c = herd_curl()->easy_init();
		CURLcode cr;
		long status = 0;

		if (!c)
			return herd_error_set(err, ENOMEM, "curl: cannot initialise");
		ctx.curl = c;
		ctx.start = attempt == 0 ? (uint64_t)st.st_size : 0;
		if (attempt > 0 && ftruncate(fd, 0) < 0) {
			herd_curl()->easy_cleanup(c);
			return herd_error_set(err, errno, "partial file: %s", strerror(errno));
		}
		errbuf[0] = '\0';
		fetch_common_options(c, url);
		herd_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		herd_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write_cb);
		herd_curl()->easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
		herd_curl()->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		herd_curl()->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_progress_cb);
		herd_curl()->easy_setopt(c, CURLOPT_XFERINFODATA, &ctx);
		herd_curl()->easy_setopt(c, CURLOPT_HEADERFUNCTION, fetch_header_cb);
		herd_curl()->easy_setopt(c, CURLOPT_HEADERDATA, &ctx);
		if (ctx.start > 0)
			herd_curl()->easy_setopt(c, CURLOPT_RESUME_FROM_LARGE,
						 (curl_off_t)ctx.start);
		resumed = ctx.start;
		cr = herd_curl()->easy_perform(c);
		herd_curl()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cr == CURLE_OK) {
			/* An empty 206/200 never calls the write callback. */
			if (!ctx.checked && ctx.start > 0 && status != 206 && ftruncate(fd, 0) < 0)
				r = herd_error_set(err, errno, "partial file: %s", strerror(errno));
			if (ctx.checked)
				resumed = ctx.start;
			herd_curl()->easy_cleanup(c);
			break;
		}
		if (ctx.error < 0) {
			r = herd_error_set(err, -ctx.error, "%s: writing the download: %s", url,
					   strerror(-ctx.error));
			herd_curl()->easy_cleanup(c);
			break;
		}
		if (status == 416 && ctx.start > 0 && ctx.range_total == (int64_t)ctx.start) {
			/* Everything is already here (killed after the download). */
			herd_curl()->easy_cleanup(c);
			break;
		}
		if (attempt == 0 && ctx.start > 0 &&
		    (status == 416 || cr == CURLE_RANGE_ERROR || cr == CURLE_BAD_DOWNLOAD_RESUME)) {
			herd_curl()->easy_cleanup(c);
			continue;
		}
		r = curl_failure(c, cr, errbuf, url, err);
		herd_curl()->easy_cleanup(c);
		break;
	}
	if (r >= 0 && ret_resumed_from)
		*ret_resumed_from = resumed;
	return r;
}

struct small_ctx {
	char *buf;
	size_t len, max;
	bool too_big;
};

static size_t small_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct small_ctx *ctx = userdata;
	size_t len = size * nmemb;
	char *p;

	if (ctx->len + len > ctx->max) {
		ctx->too_big = true;
		return 0;
	}
	p = realloc(ctx->buf, ctx->len + len + 1);
	if (!p)
		return 0;
	ctx->buf = p;
	memcpy(p + ctx->len, data, len);
	ctx->len += len;
	p[ctx->len] = '\0';
	return len;
}

int store_fetch_small(const char *url, size_t max, char **ret_buf, size_t *ret_len,
		      struct herd_error *err)
{
	struct small_ctx ctx = {.max = max};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;

	if (herd_curl_load(err) < 0)
		return -ELIBACC;
	c = herd_curl()->easy_init();
	CURLcode cr;
	int r = 0;

	if (!c)
		return herd_error_set(err, ENOMEM, "curl: cannot initialise");
	fetch_common_options(c, url);
	herd_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	herd_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, small_write_cb);
	herd_curl()->easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
	cr = herd_curl()->easy_perform(c);
	if (cr != CURLE_OK) {
		if (ctx.too_big)
			r = herd_error_set(err, EFBIG, "%s: larger than %zu bytes", url, max);
		else
			r = curl_failure(c, cr, errbuf, url, err);
	} else if (!ctx.buf) {
		ctx.buf = calloc(1, 1);
		if (!ctx.buf)
			r = herd_error_set(err, ENOMEM, "%s: out of memory", url);
	}
	herd_curl()->easy_cleanup(c);
	if (r < 0) {
		free(ctx.buf);
		return r;
	}
	*ret_buf = ctx.buf;
	if (ret_len)
		*ret_len = ctx.len;
	return 0;
}
