/*
 * cmd_image_check.h — `herd image check`, a subcommand of `herd image`.
 */
#pragma once

#include "cli.h"

extern const struct cli_command cmd_image_check;
