/*
 * oslist.h — Raspberry Pi Imager style OS lists ("os_list" with nested
 * "subitems"), as published at downloads.raspberrypi.com/os_list_imagingutility_v4.json.
 *
 * Parsing flattens the tree into the entries that have a download `url`;
 * categories (entries with `subitems`) and entries without a URL
 * (subitems_url links, "erase") are not images and are skipped.  Nothing
 * here downloads; store.c caches the document.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"

struct store_os_image {
	char *name;
	char *description;
	char *url;
	char *release_date;	/* "2024-11-19"; "" when absent */
	char *extract_sha256;	/* raw image; "" when absent */
	char *download_sha256;	/* compressed download; "" when absent */
	uint64_t extract_size;	/* 0 when absent */
	uint64_t download_size; /* 0 when absent */
	struct strv devices;	/* "pi5-64bit", "pi4-32bit", ... */
};

struct store_os_list {
	struct store_os_image *images;
	size_t count;
};

/* Parse the JSON text; -EINVAL with a message when it is not an OS list. */
int store_os_list_parse(const char *json, size_t len, struct store_os_list *ret,
			struct herd_error *err);
void store_os_list_free(struct store_os_list *list);

enum store_os_variant { STORE_OS_ANY = 0, STORE_OS_LITE, STORE_OS_DESKTOP };

struct store_os_filter {
	const char *model; /* "pi4", "pi5", ...; NULL = any */
	enum store_os_variant variant;
	const char *arch; /* "arm64" or "armhf"; NULL = any */
};

/* Is this entry Raspberry Pi OS matching the filter? */
bool store_os_image_matches(const struct store_os_image *img, const struct store_os_filter *f);
/* The newest (release_date) Raspberry Pi OS entry matching `f`; -ENOENT. */
int store_os_list_latest(const struct store_os_list *list, const struct store_os_filter *f,
			 const struct store_os_image **ret, struct herd_error *err);
