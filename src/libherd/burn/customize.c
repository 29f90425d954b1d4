/*
 * customize.c — one card's settings written into a copy-on-write overlay
 * over the shared image (see customize.h).  The work is the recipe
 * engine's (recipe/): the same plan `herd customize` applies, so a burnt
 * card and a customized image file get byte-identical files.  The overlay
 * is never committed: burn streams it to the card beside the image.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "burn/customize.h"
#include "image/image.h"
#include "recipe/recipe.h"

bool burn_settings_any(const struct herd_settings *s)
{
	size_t n;
	const struct settings_key *keys = settings_keys(&n);

	if (!s)
		return false;
	for (size_t i = 0; i < n; i++)
		if (keys[i].type != SETTINGS_RESERVED && strcmp(keys[i].name, "image") != 0 &&
		    settings_is_set(s, &keys[i]))
			return true;
	return false;
}

int burn_prepare_target_overlay(struct blockdev *source, const char *name,
				const struct herd_settings *settings, struct strv *warnings,
				struct blockdev **ret, struct herd_error *err)
{
	struct blockdev *overlay = NULL;
	struct recipe *rec = NULL;
	struct image *img = NULL;
	int r;

	r = blockdev_new_overlay(source, NULL, &overlay, err);
	if (r < 0)
		return r;
	if (burn_settings_any(settings)) {
		/* The overlay is the writable layer: open it without a second one. */
		r = image_open_blockdev(overlay, IMAGE_WRITABLE, &img, err);
		if (r >= 0)
			r = recipe_apply_image(img, name ? name : "card", settings, false, NULL,
					       &rec, err);
		for (size_t i = 0; r >= 0 && warnings && rec && i < rec->warnings.count; i++)
			if (strv_push(warnings, rec->warnings.items[i]) < 0)
				r = herd_error_set(err, ENOMEM, "out of memory");
		recipe_free(rec);
		image_close(img);
		if (r < 0) {
			blockdev_unref(overlay);
			return r;
		}
	}
	*ret = overlay;
	return 0;
}
