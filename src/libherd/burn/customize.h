/*
 * customize.h — the per-card customization burn applies in-stream, kept
 * behind one function so the recipe engine (recipe/) can replace it.
 *
 * Today: the hostname only (/etc/hostname and the 127.0.1.1 line of
 * /etc/hosts on the root partition), written into a fresh copy-on-write
 * overlay over the shared image, which stays untouched.
 */
#pragma once

#include "base/error.h"
#include "blk/blockdev.h"

struct burn_card_settings {
	const char *hostname; /* NULL: leave as is */
};

/* A new overlay over `source` holding this card's changes (*ret: one
 * reference for the caller).  With nothing to change it is an empty
 * overlay.  On failure nothing is returned and `source` is unchanged. */
int burn_prepare_target_overlay(struct blockdev *source, const struct burn_card_settings *settings,
				struct blockdev **ret, struct herd_error *err);
