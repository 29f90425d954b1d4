/*
 * cli.c — shared option handling, error printing and subcommand dispatch
 * for the herd commands (see cli.h).
 */
#include "cli.h"

#include "base/macros.h"

#include <stdarg.h>
#include <string.h>

static const char *cli_command_name(const struct cli *cli)
{
	return cli && cli->command ? cli->command : "herd";
}

void cli_reset_getopt(void)
{
	optind = 0; /* glibc: 0 forces a full re-initialisation */
	opterr = 0; /* we print our own one-line errors */
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "herd: %s: ", cli_command_name(cli));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'herd %s --help')\n", cli_command_name(cli));
	return EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("herd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_fail_error(const struct herd_error *err)
{
	return cli_fail("%s", herd_error_message(err));
}

void cli_info(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("herd: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

enum cli_common_result cli_common_option(struct cli *cli, const struct cli_command *cmd, int opt,
					 char **argv)
{
	switch (opt) {
	case 'J':
		cli->json = true;
		return CLI_HANDLED;
	case 'v':
		cli->verbose++;
		return CLI_HANDLED;
	case 'q':
		cli->quiet = true;
		return CLI_HANDLED;
	case 'h':
		fputs(cmd->usage, stdout);
		return CLI_HELP_SHOWN;
	case ':':
		cli_usage_error(cli, "option '%s' needs a value", argv[optind - 1]);
		return CLI_BAD_OPTION;
	case '?':
		if (optopt)
			cli_usage_error(cli, "unknown option '-%c'", optopt);
		else
			cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
		return CLI_BAD_OPTION;
	default:
		return CLI_NOT_COMMON;
	}
}

int cli_dispatch(struct cli *cli, const struct cli_command *parent,
		 const struct cli_command *const *table, size_t n, int argc, char **argv)
{
	static char name[128];
	const char *sub;

	/* Accept global flags before the subcommand: `herd image --json ls`. */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(parent->usage, stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli->json = true;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			cli->verbose++;
		} else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			cli->quiet = true;
		} else {
			return cli_usage_error(cli, "unknown option '%s' before the subcommand",
					       argv[i]);
		}
	}
	if (i >= argc)
		return cli_usage_error(cli, "missing subcommand");
	sub = argv[i];
	if (strcmp(sub, "help") == 0) {
		fputs(parent->usage, stdout);
		return EXIT_OK;
	}
	for (size_t k = 0; k < n; k++) {
		if (strcmp(table[k]->name, sub) != 0)
			continue;
		snprintf(name, sizeof(name), "%s %s", parent->name, sub);
		cli->command = name;
		cli_reset_getopt();
		return table[k]->run(cli, argc - i, argv + i);
	}
	return cli_usage_error(cli, "unknown subcommand '%s'", sub);
}

int cli_parse(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
	      const char *shortopts, const struct option *longopts, cli_option_fn on_option,
	      void *ctx)
{
	static const struct option common[] = {CLI_COMMON_OPTIONS};
	struct option all[64];
	char optstring[128];
	size_t n = 0;
	int opt;

	for (; longopts && longopts[n].name; n++) {
		if (n + ELEMENTSOF(common) + 1 >= ELEMENTSOF(all))
			return cli_fail("internal: too many options for %s", cmd->name);
		all[n] = longopts[n];
	}
	for (size_t i = 0; i < ELEMENTSOF(common); i++)
		all[n++] = common[i];
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(optstring, sizeof(optstring), ":%svqh", shortopts ? shortopts : "");

	while ((opt = getopt_long(argc, argv, optstring, all, NULL)) != -1) {
		int r;
		switch (cli_common_option(cli, cmd, opt, argv)) {
		case CLI_HANDLED:
			continue;
		case CLI_HELP_SHOWN:
			return EXIT_OK;
		case CLI_BAD_OPTION:
			return EXIT_USAGE;
		case CLI_NOT_COMMON:
			break;
		}
		if (!on_option)
			return cli_usage_error(cli, "unexpected option");
		r = on_option(cli, ctx, opt, optarg);
		if (r != 0)
			return r;
	}
	return -1;
}
