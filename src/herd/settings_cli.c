/*
 * settings_cli.c — getopt long options generated from the settings
 * registry (see settings_cli.h).
 *
 * Paths given on the command line are the shell's: relative to the
 * current directory, "~/" expanded with HOME (for --sshkey=~/k.pub, which
 * the shell leaves alone).
 */
#include "settings_cli.h"

#include "cli.h"
#include "config/fleet.h"

extern char **environ;

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

size_t settings_cli_option_count(void)
{
	size_t nkeys, n = 0;
	const struct settings_key *keys = settings_keys(&nkeys);

	for (size_t i = 0; i < nkeys; i++)
		n += (keys[i].flag != NULL) + (keys[i].negated_flag != NULL);
	return n;
}

int settings_cli_add_options(struct option *buf, size_t cap)
{
	size_t nkeys, n = 0;
	const struct settings_key *keys = settings_keys(&nkeys);

	if (cap < settings_cli_option_count())
		return -ENOBUFS;
	for (size_t i = 0; i < nkeys; i++) {
		const struct settings_key *k = &keys[i];
		bool takes_value = k->type != SETTINGS_BOOL && k->type != SETTINGS_RESERVED;
		if (k->flag)
			buf[n++] =
			    (struct option){k->flag, takes_value ? required_argument : no_argument,
					    NULL, SETTINGS_CLI_OPT_BASE + (int)(2 * i)};
		if (k->negated_flag)
			buf[n++] = (struct option){k->negated_flag, no_argument, NULL,
						   SETTINGS_CLI_OPT_BASE + (int)(2 * i + 1)};
	}
	return (int)n;
}

int settings_cli_parse(int opt, const char *value, struct herd_settings *overrides,
		       struct herd_error *err)
{
	const struct settings_origin flag = {.source = SETTINGS_SOURCE_FLAG};
	struct settings_context ctx;
	size_t nkeys, idx;
	const struct settings_key *keys = settings_keys(&nkeys);
	const struct settings_key *k;
	bool negated;
	int r;

	if (opt < SETTINGS_CLI_OPT_BASE || (size_t)(opt - SETTINGS_CLI_OPT_BASE) >= 2 * nkeys)
		return 0;
	idx = (size_t)(opt - SETTINGS_CLI_OPT_BASE) / 2;
	negated = (opt - SETTINGS_CLI_OPT_BASE) % 2;
	k = &keys[idx];
	settings_context_init(&ctx, environ, NULL);

	if (k->type == SETTINGS_RESERVED)
		return herd_error_set(err, EINVAL, "--%s: %s", k->flag, k->hint);
	if (k->type == SETTINGS_BOOL)
		value = negated ? "false" : "true";
	r = settings_set_text(overrides, k, value, true, &ctx, &flag, err);
	if (r < 0)
		return settings_error_rename(err, r, k, negated ? k->negated_flag : k->flag, "--");
	return 1;
}

void settings_cli_print_help(FILE *out)
{
	size_t nkeys;
	const struct settings_key *keys = settings_keys(&nkeys);

	fputs("Settings (each also the [key] in the fleet file and HERD_<KEY> in the\n"
	      "environment, upper-cased with '.' as '_': HERD_WIFI_PSK; --passwd excepted):\n",
	      out);
	for (size_t i = 0; i < nkeys; i++) {
		const struct settings_key *k = &keys[i];
		char left[64];

		if (!k->flag)
			continue;
		if (k->negated_flag)
			snprintf(left, sizeof(left), "--%s, --%s", k->flag, k->negated_flag);
		else if (k->type == SETTINGS_RESERVED)
			snprintf(left, sizeof(left), "--%s", k->flag);
		else
			snprintf(left, sizeof(left), "--%s %s", k->flag,
				 k->metavar ? k->metavar : "VALUE");
		fprintf(out, "  %-28s %s [%s]\n", left, k->help, k->name);
	}
	/* The rest exist in the file and the environment only. */
	fputs("Without a flag (fleet file, and HERD_<KEY> except files):\n ", out);
	size_t col = 1;
	for (size_t i = 0; i < nkeys; i++) {
		size_t n = strlen(keys[i].name);
		if (keys[i].flag)
			continue;
		if (col + n + 1 > 78) {
			fputs("\n ", out);
			col = 1;
		}
		fprintf(out, " %s", keys[i].name);
		col += n + 1;
	}
	fputc('\n', out);
}

int settings_cli_options(const struct option *own, size_t own_count, struct option *buf, size_t cap)
{
	int r;

	if (own_count + 1 > cap)
		return -ENOBUFS;
	memcpy(buf, own, own_count * sizeof(*own));
	r = settings_cli_add_options(buf + own_count, cap - own_count - 1);
	if (r < 0)
		return r;
	buf[own_count + (size_t)r] = (struct option){0};
	return 0;
}

int settings_cli_resolve(struct cli *cli, const char *config, const char *host,
			 struct herd_settings *overrides, struct herd_settings *ret)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	int r;

	if (config && !host) {
		settings_free(overrides);
		return cli_usage_error(cli, "--config needs --host NAME (see 'herd config hosts')");
	}
	if (host && !config) {
		settings_free(overrides);
		return cli_usage_error(cli, "--host needs --config FILE");
	}
	if (config && fleet_load(config, environ, &fleet, &err) < 0) {
		settings_free(overrides);
		return cli_fail_error(&err);
	}
	r = fleet_resolve_host(fleet, host, overrides, environ, ret, &err);
	settings_free(overrides);
	fleet_free(fleet);
	if (r < 0)
		return cli_fail_error(&err);
	return -1;
}
