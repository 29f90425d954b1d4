/*
 * customize.h — the per-card customization burn applies in-stream.
 *
 * The recipe engine (recipe/) writes one card's resolved settings (every
 * setting it supports: hostname, user, password hash, SSH, Wi-Fi, static
 * address, timezone, locale, keymap, files, first-boot work) into a fresh
 * copy-on-write overlay over the shared image, which stays untouched.
 * Resolving the settings (fleet file, environment, flags) is the
 * caller's job (config/fleet.h); this file only applies them.
 */
#pragma once

#include "base/error.h"
#include "base/strv.h"
#include "blk/blockdev.h"
#include "config/settings.h"

/* True when `s` sets (or clears) any key, i.e. the card needs an overlay. */
bool burn_settings_any(const struct herd_settings *s);

/* A new overlay over `source` holding this card's changes (*ret: one
 * reference for the caller).  `settings` NULL or empty gives an empty
 * overlay.  `name` names the card in messages.  The recipe's warnings
 * (settings an unknown OS cannot take) are appended to `warnings` when it
 * is not NULL.  On failure nothing is returned and `source` is unchanged. */
int burn_prepare_target_overlay(struct blockdev *source, const char *name,
				const struct herd_settings *settings, struct strv *warnings,
				struct blockdev **ret, struct herd_error *err);
