/*
 * cli.h — the frame every `herd` command plugs into.
 *
 * A command is one file, cmd_<name>.c, exporting a `struct cli_command`,
 * plus one line in the table in main.c.  Commands with subcommands
 * (image, fs, config) dispatch with cli_dispatch() over their own table.
 *
 * Exit status is the contract: 0 success, 1 failure, 2 usage error.
 * Every error is one line on stderr starting "herd: ".  This layer is the
 * only place that prints; libherd hands back `struct herd_error`.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

struct cli {
	bool json;	     /* --json: machine-readable output on stdout */
	int verbose;	     /* -v, repeatable */
	bool quiet;	     /* -q: no progress, no informational lines */
	const char *command; /* "image info", for messages */
};

struct cli_command {
	const char *name;
	const char *summary; /* one line for `herd --help` */
	const char *usage;   /* full text for `herd <name> --help` */
	/* argv[0] is the command name; getopt state is reset before the call. */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Long options every command accepts; append to a command's own table. */
#define CLI_COMMON_OPTIONS                                                                         \
	{"json", no_argument, NULL, 'J'}, {"verbose", no_argument, NULL, 'v'},                     \
	    {"quiet", no_argument, NULL, 'q'},                                                     \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
/* getopt short-option string: leading : so a missing value is reported as such. */
#define CLI_OPTSTRING(s) ":" s "vqh"

enum cli_common_result {
	CLI_NOT_COMMON = 0,
	CLI_HANDLED,
	CLI_HELP_SHOWN, /* caller returns EXIT_OK */
	CLI_BAD_OPTION, /* an error was printed; caller returns EXIT_USAGE */
};

/* Handle a getopt result that belongs to the common set (--json, -v, -q,
 * --help) or is an error ('?' / ':').  `cmd` is used for help and messages. */
enum cli_common_result cli_common_option(struct cli *cli, const struct cli_command *cmd, int opt,
					 char **argv);

/* Print "herd: <command>: <message> (see 'herd <command> --help')"; returns EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "herd: <message>"; returns EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "herd: <err message>"; returns EXIT_FAIL (EXIT_USAGE for EINVAL when usage is true). */
int cli_fail_error(const struct herd_error *err);
/* Informational line on stderr unless --quiet. */
void cli_info(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the subcommand named by argv[1] from `table`.  `parent` gives the
 * help text when no subcommand or --help is given. */
int cli_dispatch(struct cli *cli, const struct cli_command *parent,
		 const struct cli_command *const *table, size_t n, int argc, char **argv);

/* Reset getopt before parsing a new argv. */
void cli_reset_getopt(void);

extern const struct cli_command cmd_expand;
extern const struct cli_command cmd_config;

/* Option callback for cli_parse: return 0 to go on, or an exit code. */
typedef int (*cli_option_fn)(struct cli *cli, void *ctx, int opt, const char *arg);

/*
 * Parse argv with getopt_long: `longopts` are the command's own (the
 * common ones are appended automatically), `shortopts` its short letters
 * ("m:" — the common "vqh" and the leading ':' are added).  Own options go
 * to on_option.  Returns -1 when the caller should go on (operands start
 * at optind), else the exit code to return (help shown, usage error).
 */
int cli_parse(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
	      const char *shortopts, const struct option *longopts, cli_option_fn on_option,
	      void *ctx);

extern const struct cli_command cmd_image;
extern const struct cli_command cmd_fs;
extern const struct cli_command cmd_customize;
extern const struct cli_command cmd_devices;
extern const struct cli_command cmd_burn;
extern const struct cli_command cmd_serve;
extern const struct cli_command cmd_build;

struct burn_devices_options;
/* Fill the sysfs/mountinfo/swaps paths from HERD_SYSFS_ROOT, HERD_MOUNTINFO
 * and HERD_SWAPS (test hooks; cmd_devices.c). */
void cli_devices_options(struct burn_devices_options *opts);
