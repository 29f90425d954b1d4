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
#include "config/validate.h"
#include "image/image.h"
#include "recipe/recipe.h"

int burn_prepare_target_overlay(struct blockdev *source, const struct burn_card_settings *settings,
				struct blockdev **ret, struct herd_error *err)
{
	struct blockdev *overlay = NULL;
	struct herd_settings s;
	struct recipe *rec = NULL;
	struct image *img = NULL;
	int r;

	if (settings && settings->hostname && !validate_hostname(settings->hostname))
		return herd_error_set(err, EINVAL,
				      "hostname '%s': not a valid host name (RFC 1123: letters, "
				      "digits and '-', labels of at most 63)",
				      settings->hostname);
	r = blockdev_new_overlay(source, NULL, &overlay, err);
	if (r < 0)
		return r;
	if (settings && settings->hostname) {
		settings_init(&s);
		s.hostname = strdup(settings->hostname);
		if (!s.hostname) {
			blockdev_unref(overlay);
			return herd_error_set(err, ENOMEM, "out of memory");
		}
		/* The overlay is the writable layer: open it without a second one. */
		r = image_open_blockdev(overlay, IMAGE_WRITABLE, &img, err);
		if (r >= 0)
			r = recipe_apply_image(img, settings->hostname, &s, false, NULL, &rec, err);
		recipe_free(rec);
		image_close(img);
		settings_free(&s);
		if (r < 0) {
			blockdev_unref(overlay);
			return r;
		}
	}
	*ret = overlay;
	return 0;
}
