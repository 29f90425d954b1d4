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
 *   struct settings_cli_getopt g = {&cmd, usage, CLI_OPTSTRING("c:"), opts,
 *                                   &overrides, argc, argv};
 *   while ((opt = settings_cli_next(cli, &g, &rc)) > 0)
 *           switch (opt) { ... the command's own options ... }
 *   if (opt == SETTINGS_CLI_EXIT) { free overrides; return rc; }
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
 * The option loop every settings-taking command runs, in one place, so
 * --help, the settings flags and the common flags behave the same in all
 * of them.  The fields are the getopt_long() arguments plus what the loop
 * needs besides: `usage` prints the command's full help (its text and the
 * generated Settings section: `cmd->usage` alone lacks the latter), `cmd`
 * names the command in the common flags' messages.
 */
struct settings_cli_getopt {
	const struct cli_command *cmd;
	void (*usage)(FILE *out);
	const char *optstring;		 /* CLI_OPTSTRING("...") */
	const struct option *options;	 /* from settings_cli_options() */
	struct herd_settings *overrides; /* receives the settings flags */
	int argc;
	char **argv;
};

enum {
	SETTINGS_CLI_END = -1,	/* options done: operands start at optind */
	SETTINGS_CLI_EXIT = -2, /* the command returns *ret_exit now */
};

/*
 * Next getopt_long() result that is the command's own option (> 0, its
 * value in optarg).  On the way it handles -h/--help (usage on stdout,
 * exit 0), the settings flags (into g->overrides; a bad value is a usage
 * error, exit 2) and the common flags (--json, -v, -q; an unknown option
 * or a missing value is a usage error, exit 2).  Returns SETTINGS_CLI_END
 * after the last option, or SETTINGS_CLI_EXIT with *ret_exit set (any
 * message already printed); *ret_exit is written only then.  Never frees
 * g->overrides: the caller does on every path.
 */
int settings_cli_next(struct cli *cli, const struct settings_cli_getopt *g, int *ret_exit);

/*
 * One host's settings, resolved the way every settings-taking command does
 * (config show, customize, build, burn): --config and --host go
 * together; the fleet file, if given, is loaded and the host resolved with
 * flags > HERD_<KEY> > host entry > defaults.  `overrides` (the flags) is
 * consumed: freed in every case.  Returns -1 with *ret filled, or the exit
 * code after printing the one-line error.
 */
int settings_cli_resolve(struct cli *cli, const char *config, const char *host,
			 struct herd_settings *overrides, struct herd_settings *ret);
