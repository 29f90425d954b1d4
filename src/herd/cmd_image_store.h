/*
 * cmd_image_store.h — the image store's subcommands of `herd image`
 * (get, import, ls, versions, rm) and the store part of `image info`.
 */
#pragma once

#include <jansson.h>

#include "cli.h"
#include "store/store.h"

extern const struct cli_command cmd_image_get;
extern const struct cli_command cmd_image_import;
extern const struct cli_command cmd_image_ls;
extern const struct cli_command cmd_image_versions;
extern const struct cli_command cmd_image_rm;

/* One entry as JSON (the shape of `herd image ls --json` items). */
json_t *image_store_entry_json(const struct store_entry_info *info);
/* The store lines of `herd image info` for an entry. */
void image_store_entry_print(const struct store_entry_info *info);
