/*
 * cmd_expand.c — `herd expand EXPR...`: print the items of host-list
 * expressions, one per line (or a JSON array with --json).  Every later
 * command that takes a LIST uses the same library function, so this is
 * the way to check what `red[01-03]` will mean before burning cards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hostlist.h"
#include "base/parse.h"
#include "cli.h"
#include "output.h"

static int expand_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	size_t *max = ctx;
	uint64_t v;

	if (opt != 'm')
		return cli_usage_error(cli, "unexpected option");
	if (parse_u64(arg, 1, HOSTLIST_MAX_DEFAULT, &v) < 0)
		return cli_usage_error(cli, "--max: '%s' is not a number from 1 to %d", arg,
				       HOSTLIST_MAX_DEFAULT);
	*max = (size_t)v;
	return 0;
}

static int expand_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"max", required_argument, NULL, 'm'},
	    {0},
	};
	struct strv all = STRV_INIT;
	size_t max = HOSTLIST_MAX_DEFAULT;
	int rc = cli_parse(cli, &cmd_expand, argc, argv, "m:", options, expand_option, &max);

	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(cli, "missing EXPR");

	/* Several expressions behave like one joined by commas: duplicates
	 * across them drop too, and the limit counts them all.  Each is first
	 * checked alone so an error's column refers to the argument. */
	size_t joined_len = 0;
	for (int i = optind; i < argc; i++) {
		struct herd_error err = {0};
		size_t n;
		if (hostlist_count(argv[i], max, &n, &err) < 0) {
			cli_fail("expand: '%s': %s", argv[i], herd_error_message(&err));
			return EXIT_USAGE;
		}
		joined_len += strlen(argv[i]) + 1;
	}
	char *joined = malloc(joined_len);
	if (!joined)
		return cli_fail("expand: out of memory");
	size_t pos = 0;
	for (int i = optind; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (i > optind)
			joined[pos++] = ',';
		memcpy(joined + pos, argv[i], n);
		pos += n;
	}
	joined[pos] = '\0';
	struct herd_error err = {0};
	int r = hostlist_expand(joined, max, &all, &err);
	free(joined);
	if (r < 0) {
		cli_fail("expand: %s", herd_error_message(&err));
		return EXIT_USAGE;
	}

	rc = EXIT_OK;
	if (cli->json)
		rc = output_json_strv(&all);
	else
		for (size_t k = 0; k < all.count; k++)
			printf("%s\n", all.items[k]);
	strv_free(&all);
	return rc;
}

const struct cli_command cmd_expand = {
    .name = "expand",
    .summary = "expand host-list expressions (red[01-03], 10.1.1.[1-3])",
    .usage = "Usage: herd expand [--json] [--max N] EXPR...\n"
	     "\n"
	     "Print the items of each host-list expression, one per line.\n"
	     "\n"
	     "  a,b            top-level commas separate items\n"
	     "  red00[1-2]     red001 red002 (numbers keep the low bound's zero padding)\n"
	     "  red[08-11]     red08 red09 red10 red11\n"
	     "  red[a-c]       reda redb redc (letters step through letters)\n"
	     "  r[1-2]x[1-2]   r1x1 r1x2 r2x1 r2x2 (groups multiply)\n"
	     "  10.1.1.[1-3]   addresses expand the same way\n"
	     "  red[1-3,7]     several ranges in one group\n"
	     "Duplicates are dropped (first kept).  Errors name the column.\n"
	     "\n"
	     "Options:\n"
	     "  --json      print a JSON array\n"
	     "  --max N     refuse expressions with more than N items (default 100000)\n"
	     "\n"
	     "Exit status: 0 success, 2 bad expression or usage.\n",
    .run = expand_run,
};
