/*
 * fuzz_store_oslist.c — libFuzzer harness for the OS list parser.
 *
 * Arbitrary bytes go to store_os_list_parse; on success every image has a
 * non-empty URL and non-NULL strings, and `latest` with every filter
 * either finds a matching image or says why; on failure a message is set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/oslist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct store_os_filter filters[] = {
	    {0},
	    {.model = "pi4", .variant = STORE_OS_LITE, .arch = "arm64"},
	    {.model = "pi5", .variant = STORE_OS_DESKTOP, .arch = "armhf"},
	};
	struct herd_error err = {0};
	struct store_os_list list;

	if (size > 1 << 20)
		return 0;
	if (store_os_list_parse((const char *)data, size, &list, &err) < 0) {
		if (!err.message[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < list.count; i++) {
		const struct store_os_image *img = &list.images[i];
		if (!img->name || !img->url || !img->url[0] || !img->release_date ||
		    !img->extract_sha256 || !img->download_sha256)
			abort();
	}
	for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
		const struct store_os_image *img = NULL;
		herd_error_clear(&err);
		if (store_os_list_latest(&list, &filters[f], &img, &err) == 0) {
			if (!img || !store_os_image_matches(img, &filters[f]))
				abort();
		} else if (!err.message[0]) {
			abort();
		}
	}
	store_os_list_free(&list);
	return 0;
}
