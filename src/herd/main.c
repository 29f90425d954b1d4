/*
 * main.c — herd's entry point: global options, then dispatch to one
 * command from the table below.  Adding a command = one cmd_<name>.c file
 * plus one line here (and its man page section in docs/herd.1.scd).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "herd-config.h"

static const struct cli_command *const commands[] = {
    &cmd_expand,  &cmd_config, &cmd_image, &cmd_fs,    &cmd_customize,
    &cmd_devices, &cmd_burn,   &cmd_build, &cmd_serve,

};

static void print_main_help(void)
{
	printf("Usage: herd [--json] [-v|--verbose] [-q|--quiet] <command> [<args>]\n"
	       "\n"
	       "Provision Raspberry Pi fleets: fetch and customize images without root,\n"
	       "burn many cards verified, netboot and provision from one server.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
	printf("\n"
	       "Global options:\n"
	       "  --json         machine-readable output (every listing)\n"
	       "  -v, --verbose  more detail on stderr (repeatable)\n"
	       "  -q, --quiet    no progress or informational lines\n"
	       "  -h, --help     this text; 'herd <command> --help' for a command\n"
	       "  --version      print the version\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n"
	       "See herd(1) for the full manual.\n");
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_main_help();
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("herd %s\n", HERD_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			cli.json = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cli.verbose++;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			cli.quiet = true;
		} else {
			fprintf(stderr, "herd: unknown option '%s' (see 'herd --help')\n", a);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "herd: missing command (see 'herd --help')\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		print_main_help();
		return EXIT_OK;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(commands[k]->name, argv[i]) != 0)
			continue;
		cli.command = commands[k]->name;
		cli_reset_getopt();
		return commands[k]->run(&cli, argc - i, argv + i);
	}
	fprintf(stderr, "herd: unknown command '%s' (see 'herd --help')\n", argv[i]);
	return EXIT_USAGE;
}
