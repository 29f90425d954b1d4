/*
 * settings_cli.h — the host settings as command-line flags.
 *
 * Built from the key registry (config/settings.h), so every command that
 * takes settings (config show, customize, build, burn) offers the same
 * flags with the same meaning, and a new setting with a flag appears in
 * all of them and in their --help at once.
 *
 * Use:
 *   struct option opts[96];
 *   settings_cli_options(own, ELEMENTSOF(own), opts, ELEMENTSOF(opts));
 *   while ((opt = getopt_long(...)) != -1) {
 *           int r = settings_cli_parse(opt, optarg, &overrides, &err);
 *           if (r > 0) continue;            // was a settings flag
 *           if (r < 0) usage error with err  // bad value
 *           ...
 *   }
 *   rc = settings_cli_resolve(cli, config, host, &overrides, &resolved);
 *
 * Option values are SETTINGS_CLI_OPT_BASE and up, clear of any character
 * a command uses as a short option.  List flags (--sshkey, --dns) may be
 * repeated and take comma-separated values; later flags of a scalar
 * setting win.  Values are validated as they are parsed.
 */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include "base/error.h"
#include "config/settings.h"

#define SETTINGS_CLI_OPT_BASE 0x1000

/* How many struct option entries settings_cli_add_options() writes. */
size_t settings_cli_option_count(void);
/* Write the settings' long options to buf[0..cap).  Returns the number
 * written, or -ENOBUFS (nothing useful written) when cap is too small. */
int settings_cli_add_options(struct option *buf, size_t cap);
/* Handle one getopt_long() result: 1 when it was a settings flag (stored
 * in `overrides` with source FLAG), 0 when it is not ours, -errno with
 * "--flag: why" in err for a bad value or a reserved flag. */
int settings_cli_parse(int opt, const char *value, struct herd_settings *overrides,
		       struct herd_error *err);
/* --passwd / --passwd-stdin: read the clear text (terminal, twice, no
 * echo; or one line of stdin), hash it with the --passwd-scheme and set
 * password_hash in `overrides` (source FLAG); the clear text is wiped.
 * Called by settings_cli_resolve() when overrides->password_input is set. */
int settings_cli_read_password(struct herd_settings *overrides, struct herd_error *err);
/* The "Settings:" help section: one line per flag, generated. */
void settings_cli_print_help(FILE *out);

struct cli;

/* Own options followed by the settings flags and the terminator, in buf.
 * Returns 0, or -ENOBUFS when cap is too small. */
int settings_cli_options(const struct option *own, size_t own_count, struct option *buf,
			 size_t cap);

/*
 * One host's settings, resolved the way every settings-taking command does
 * (config show, customize; build and burn next): --config and --host go
 * together; the fleet file, if given, is loaded and the host resolved with
 * flags > HERD_<KEY> > host entry > defaults.  `overrides` (the flags) is
 * consumed: freed in every case.  Returns -1 with *ret filled, or the exit
 * code after printing the one-line error.
 */
int settings_cli_resolve(struct cli *cli, const char *config, const char *host,
			 struct herd_settings *overrides, struct herd_settings *ret);
