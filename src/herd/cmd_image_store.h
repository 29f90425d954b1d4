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

/*
 * Resolve an IMAGE argument for any command (store_resolve_image): a raw
 * file as is, a store name, a compressed file or a URL imported into the
 * store once, with a progress bar while that runs.  On failure prints
 * the error and returns an exit code; -1 to go on, with *ret_path set and
 * *ret_entry (may be NULL) to close with store_entry_close.
 */
int image_store_resolve(struct cli *cli, const char *arg, char **ret_path,
			struct store_entry **ret_entry);
/*
 * For commands that edit IMAGE in place: only a raw image file can be
 * edited.  A store name, URL or compressed file is refused with a hint
 * naming `hint_command` (e.g. "herd build").  Returns an exit code after
 * printing, or -1 to go on.
 */
int image_store_require_raw_file(const char *arg, const char *hint_command);
