/*
 * customize.h — the per-card customization burn applies in-stream.
 *
 * The recipe engine (recipe/) writes the card's settings into a fresh
 * copy-on-write overlay over the shared image, which stays untouched.
 * Today burn passes the hostname only (/etc/hostname and the 127.0.1.1
 * line of /etc/hosts); the rest of the settings model plugs in here.
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
