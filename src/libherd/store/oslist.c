/*
 * oslist.c — parse and query Raspberry Pi Imager OS lists (see oslist.h).
 *
 * The document is outside input: every field is type-checked, unknown
 * fields are ignored, nesting is capped (OSLIST_MAX_DEPTH) so a hostile
 * list cannot recurse the parser deep, and a missing optional field reads
 * as empty rather than failing the whole list.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/oslist.h"

#define OSLIST_MAX_DEPTH  8
#define OSLIST_MAX_IMAGES 100000

static void os_image_clear(struct store_os_image *img)
{
	free(img->name);
	free(img->description);
	free(img->url);
	free(img->release_date);
	free(img->extract_sha256);
	free(img->download_sha256);
	strv_free(&img->devices);
	memset(img, 0, sizeof(*img));
}

void store_os_list_free(struct store_os_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		os_image_clear(&list->images[i]);
	free(list->images);
	list->images = NULL;
	list->count = 0;
}

static char *dup_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static uint64_t get_size(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	return 0;
}

static int add_image(struct store_os_list *list, size_t *capacity, json_t *item,
		     struct herd_error *err)
{
	struct store_os_image img = {0};
	json_t *devices = json_object_get(item, "devices");

	if (list->count >= OSLIST_MAX_IMAGES)
		return herd_error_set(err, EINVAL, "os list: more than %d images",
				      OSLIST_MAX_IMAGES);
	img.name = dup_string(item, "name");
	img.description = dup_string(item, "description");
	img.url = dup_string(item, "url");
	img.release_date = dup_string(item, "release_date");
	img.extract_sha256 = dup_string(item, "extract_sha256");
	img.download_sha256 = dup_string(item, "image_download_sha256");
	img.extract_size = get_size(item, "extract_size");
	img.download_size = get_size(item, "image_download_size");
	if (!img.name || !img.description || !img.url || !img.release_date || !img.extract_sha256 ||
	    !img.download_sha256)
		goto oom;
	if (json_is_array(devices)) {
		size_t i;
		json_t *d;
		json_array_foreach(devices, i, d)
		{
			if (json_is_string(d) && strv_push(&img.devices, json_string_value(d)) < 0)
				goto oom;
		}
	}
	if (list->count == *capacity) {
		size_t n = *capacity ? *capacity * 2 : 16;
		struct store_os_image *p = realloc(list->images, n * sizeof(*p));
		if (!p)
			goto oom;
		list->images = p;
		*capacity = n;
	}
	list->images[list->count++] = img;
	return 0;
oom:
	os_image_clear(&img);
	return herd_error_set(err, ENOMEM, "os list: out of memory");
}

static int walk(struct store_os_list *list, size_t *capacity, json_t *items, unsigned depth,
		struct herd_error *err)
{
	size_t i;
	json_t *item;

	if (depth > OSLIST_MAX_DEPTH)
		return herd_error_set(err, EINVAL, "os list: subitems nested deeper than %d",
				      OSLIST_MAX_DEPTH);
	json_array_foreach(items, i, item)
	{
		json_t *sub, *url;
		int r;
		if (!json_is_object(item))
			continue;
		sub = json_object_get(item, "subitems");
		if (sub && !json_is_array(sub))
			return herd_error_set(err, EINVAL, "os list: 'subitems' is not an array");
		if (sub) {
			r = walk(list, capacity, sub, depth + 1, err);
			if (r < 0)
				return r;
			continue;
		}
		url = json_object_get(item, "url");
		if (!json_is_string(url) || json_string_value(url)[0] == '\0')
			continue;
		r = add_image(list, capacity, item, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_os_list_parse(const char *text, size_t len, struct store_os_list *ret,
			struct herd_error *err)
{
	struct store_os_list list = {0};
	size_t capacity = 0;
	json_error_t jerr;
	json_t *root, *items;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return herd_error_set(err, EINVAL, "os list: line %d: %s", jerr.line, jerr.text);
	items = json_object_get(root, "os_list");
	if (!json_is_object(root) || !json_is_array(items)) {
		json_decref(root);
		return herd_error_set(err, EINVAL, "os list: no 'os_list' array");
	}
	r = walk(&list, &capacity, items, 0, err);
	json_decref(root);
	if (r < 0) {
		store_os_list_free(&list);
		return r;
	}
	*ret = list;
	return 0;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

bool store_os_image_matches(const struct store_os_image *img, const struct store_os_filter *f)
{
	bool lite = contains_nocase(img->name, "lite");

	if (!contains_nocase(img->name, "raspberry pi os"))
		return false;
	if (f->variant == STORE_OS_LITE && !lite)
		return false;
	/* "Full" is the desktop plus recommended software: not what --desktop asks. */
	if (f->variant == STORE_OS_DESKTOP && (lite || contains_nocase(img->name, "full")))
		return false;
	if (f->arch) {
		bool arm64 =
		    contains_nocase(img->name, "64-bit") || contains_nocase(img->url, "arm64");
		bool armhf =
		    contains_nocase(img->name, "32-bit") || contains_nocase(img->url, "armhf");
		if (strcmp(f->arch, "arm64") == 0 ? !arm64 : !armhf)
			return false;
	}
	if (f->model && img->devices.count > 0) {
		size_t n = strlen(f->model);
		bool any = false;
		for (size_t i = 0; i < img->devices.count && !any; i++) {
			const char *d = img->devices.items[i];
			any = strncmp(d, f->model, n) == 0 && (d[n] == '\0' || d[n] == '-');
		}
		if (!any)
			return false;
	}
	return true;
}

int store_os_list_latest(const struct store_os_list *list, const struct store_os_filter *f,
			 const struct store_os_image **ret, struct herd_error *err)
{
	const struct store_os_image *best = NULL;

	for (size_t i = 0; i < list->count; i++) {
		const struct store_os_image *img = &list->images[i];
		if (!store_os_image_matches(img, f))
			continue;
		if (!best || strcmp(img->release_date, best->release_date) > 0)
			best = img;
	}
	if (!best)
		return herd_error_set(
		    err, ENOENT, "os list: no Raspberry Pi OS image matches (model %s, %s, %s)",
		    f->model ? f->model : "any",
		    f->variant == STORE_OS_LITE	     ? "lite"
		    : f->variant == STORE_OS_DESKTOP ? "desktop"
						     : "any variant",
		    f->arch ? f->arch : "any arch");
	*ret = best;
	return 0;
}
