/*
 * cmd_config.c — `herd config show|hosts`: what the fleet file, the
 * environment and the flags make of a host, before anything is written.
 *
 *   herd config show [--config FILE --host NAME] [--json] [settings...]
 *   herd config hosts --config FILE [--json]
 *
 * `show` prints every setting with its value and where it came from
 * (fleet.yaml:12, env HERD_X, flag --x); secrets print as "(secret)".
 * Without --config it shows what the environment and flags alone give.
 * `hosts` lists the hosts of the file in file order with their address.
 * All checking is libherd's (config/fleet.c, config/settings.c); this file
 * only parses arguments and prints.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "cli.h"
#include "config/fleet.h"
#include "config/settings.h"
#include "output.h"
#include "settings_cli.h"

extern char **environ;

static const struct cli_command config_show, config_hosts;

static void show_usage(FILE *out)
{
	fputs(config_show.usage, out);
	settings_cli_print_help(out);
	fputs("\n"
	      "Exit status: 0 success, 1 the file, host or environment is wrong, 2 usage error.\n",
	      out);
}

static json_t *value_json(const struct herd_settings *s, const struct settings_key *key)
{
	const void *f = (const char *)s + key->offset;
	char buf[64];

	if (key->flags & SETTINGS_KEY_SECRET)
		return json_string("(secret)");
	switch (key->type) {
	case SETTINGS_STRING:
		return json_string(*(char *const *)f);
	case SETTINGS_BOOL:
		return json_boolean(*(const bool *)f);
	case SETTINGS_LIST: {
		const struct strv *v = f;
		json_t *a = json_array();
		for (size_t i = 0; a && i < v->count; i++)
			json_array_append_new(a, json_string(v->items[i]));
		return a;
	}
	case SETTINGS_IPV4_CIDR:
	case SETTINGS_IPV4_ADDR:
		settings_format_ipv4(f, key->type == SETTINGS_IPV4_CIDR, buf, sizeof(buf));
		return json_string(buf);
	case SETTINGS_FILES: {
		const struct herd_file_list *l = f;
		json_t *a = json_array();
		for (size_t i = 0; a && i < l->count; i++) {
			const struct herd_file_spec *spec = &l->items[i];
			json_t *o = json_object();
			json_object_set_new(o, "path", json_string(spec->path));
			if (spec->content)
				json_object_set_new(o, "content", json_string(spec->content));
			if (spec->source)
				json_object_set_new(o, "source", json_string(spec->source));
			if (spec->has_mode) {
				snprintf(buf, sizeof(buf), "%04o", spec->mode);
				json_object_set_new(o, "mode", json_string(buf));
			}
			if (spec->owner)
				json_object_set_new(o, "owner", json_string(spec->owner));
			json_array_append_new(a, o);
		}
		return a;
	}
	case SETTINGS_RESERVED:
	case SETTINGS_PROMPT:
		break;
	}
	return json_null();
}

static int print_settings(struct cli *cli, const char *host, const struct herd_settings *s)
{
	size_t nkeys;
	const struct settings_key *keys = settings_keys(&nkeys);
	char source[512];

	if (cli->json) {
		json_t *root = json_object(), *values = json_object(), *sources = json_object();
		json_object_set_new(root, "host", host ? json_string(host) : json_null());
		for (size_t i = 0; i < nkeys; i++) {
			if (keys[i].type == SETTINGS_RESERVED || keys[i].type == SETTINGS_PROMPT)
				continue;
			if (settings_is_set(s, &keys[i]))
				json_object_set_new(values, keys[i].name, value_json(s, &keys[i]));
			if (s->origin[i].source != SETTINGS_SOURCE_NONE) {
				settings_format_source(s, &keys[i], source, sizeof(source));
				json_object_set_new(sources, keys[i].name, json_string(source));
			}
		}
		json_object_set_new(root, "values", values);
		json_object_set_new(root, "sources", sources);
		return output_json(root);
	}

	struct table *t = table_new(3);
	if (!t)
		return cli_fail("config show: out of memory");
	table_set_header(t, 0, "KEY", TABLE_LEFT);
	table_set_header(t, 1, "VALUE", TABLE_LEFT);
	table_set_header(t, 2, "SOURCE", TABLE_LEFT);
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].type == SETTINGS_RESERVED || keys[i].type == SETTINGS_PROMPT)
			continue;
		_cleanup_free_ char *value = settings_format_value(s, &keys[i]);
		/* One line per key: multi-line values (file content, commands)
		 * are shown escaped. */
		for (char *p = value; p && *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		settings_format_source(s, &keys[i], source, sizeof(source));
		const char *cells[3] = {keys[i].name, value, source};
		if (table_add_row(t, cells) < 0) {
			table_free(t);
			return cli_fail("config show: out of memory");
		}
	}
	table_print(t, stdout);
	table_free(t);
	return EXIT_OK;
}

static int show_run(struct cli *cli, int argc, char **argv)
{
	struct option options[80];
	static const struct option own[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"host", required_argument, NULL, 'H'},
	    CLI_COMMON_OPTIONS,
	};
	struct herd_settings overrides, resolved;
	const char *config = NULL, *host = NULL;
	int opt, rc;

	if (settings_cli_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options)) < 0)
		return cli_fail("config show: too many options");

	settings_init(&overrides);
	const struct settings_cli_getopt g = {
	    &config_show, show_usage, CLI_OPTSTRING("c:"), options, &overrides, argc, argv,
	};
	while ((opt = settings_cli_next(cli, &g, &rc)) > 0) {
		if (opt == 'c')
			config = optarg;
		else if (opt == 'H')
			host = optarg;
	}
	if (opt == SETTINGS_CLI_EXIT) {
		settings_free(&overrides);
		return rc;
	}
	if (optind < argc) {
		settings_free(&overrides);
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	}
	rc = settings_cli_resolve(cli, config, host, &overrides, &resolved);
	if (rc >= 0)
		return rc;
	rc = print_settings(cli, host, &resolved);
	settings_free(&resolved);
	return rc;
}

/* cli_parse() callback of config hosts: --config is its one option. */
static int hosts_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	if (opt == 'c')
		*(const char **)ctx = arg;
	return 0;
}

static int hosts_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {0},
	};
	const struct settings_key *ipaddr = settings_key_find("ipaddr");
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	const char *config = NULL;
	struct table *t = NULL;
	json_t *list = NULL;
	int rc = cli_parse(cli, &config_hosts, argc, argv, "c:", options, hosts_option, &config);

	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (!config)
		return cli_usage_error(cli, "missing --config FILE");
	if (fleet_load(config, environ, &fleet, &err) < 0)
		return cli_fail_error(&err);

	const struct strv *hosts = fleet_hosts(fleet);
	if (cli->json) {
		list = json_array();
	} else {
		t = table_new(2);
		if (t) {
			table_set_header(t, 0, "HOST", TABLE_LEFT);
			table_set_header(t, 1, "IPADDR", TABLE_LEFT);
		}
	}
	if (!list && !t) {
		fleet_free(fleet);
		return cli_fail("config hosts: out of memory");
	}
	rc = EXIT_OK;
	for (size_t i = 0; i < hosts->count; i++) {
		struct herd_settings s;
		_cleanup_free_ char *addr = NULL;

		if (fleet_resolve_host(fleet, hosts->items[i], NULL, environ, &s, &err) < 0) {
			rc = cli_fail_error(&err);
			break;
		}
		addr = settings_format_value(&s, ipaddr);
		settings_free(&s);
		if (list) {
			json_t *o = json_object();
			json_object_set_new(o, "host", json_string(hosts->items[i]));
			json_object_set_new(o, "ipaddr", addr ? json_string(addr) : json_null());
			json_array_append_new(list, o);
		} else {
			const char *cells[2] = {hosts->items[i], addr};
			if (table_add_row(t, cells) < 0) {
				rc = cli_fail("config hosts: out of memory");
				break;
			}
		}
	}
	fleet_free(fleet);
	if (list) {
		if (rc == EXIT_OK)
			return output_json(list);
		json_decref(list);
		return rc;
	}
	if (rc == EXIT_OK)
		table_print(t, stdout);
	table_free(t);
	return rc;
}

static const struct cli_command config_show = {
    .name = "show",
    .summary = "print the resolved settings of one host, with their sources",
    .usage = "Usage: herd config show [--config FILE --host NAME] [--json] [settings...]\n"
	     "\n"
	     "Print every setting of one host: its value and where it came from\n"
	     "(FILE:LINE, env HERD_<KEY>, flag --<name>; '(null)' marks a key unset\n"
	     "on purpose).  Precedence, lowest first: the file's defaults, the host's\n"
	     "entry, HERD_<KEY> environment variables, command-line flags.  Without\n"
	     "--config only the environment and the flags apply.  Secrets print as\n"
	     "'(secret)'.\n"
	     "\n"
	     "Options:\n"
	     "  -c, --config FILE   fleet file (YAML, see data/examples/fleet.yaml)\n"
	     "  --host NAME         the host to show; must be in FILE\n"
	     "  --json              print {\"host\", \"values\", \"sources\"} as JSON\n"
	     "  -h, --help          this text\n"
	     "\n",
    .run = show_run,
};

static const struct cli_command config_hosts = {
    .name = "hosts",
    .summary = "list the hosts of a fleet file",
    .usage =
	"Usage: herd config hosts --config FILE [--json]\n"
	"\n"
	"List the hosts of a fleet file in file order with their IPv4 address\n"
	"('-' when none).  HERD_<KEY> environment variables apply as in\n"
	"'herd config show'.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   fleet file\n"
	"  --json              print [{\"host\", \"ipaddr\"}] as JSON (ipaddr null when unset)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 success, 1 the file or environment is wrong, 2 usage error.\n",
    .run = hosts_run,
};

static const struct cli_command *const config_table[] = {&config_show, &config_hosts};

static int config_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, &cmd_config, config_table, ELEMENTSOF(config_table), argc, argv);
}

const struct cli_command cmd_config = {
    .name = "config",
    .summary = "check a fleet file: resolved settings per host, host list",
    .usage = "Usage: herd config <subcommand> [options]\n"
	     "\n"
	     "Read a fleet file the way customize, build and burn will, and show the\n"
	     "result without touching any image.\n"
	     "\n"
	     "Subcommands:\n"
	     "  show [--config FILE --host NAME] [--json] [settings...]\n"
	     "                      resolved settings of one host, with sources\n"
	     "  hosts --config FILE [--json]\n"
	     "                      the hosts of the file, in file order, with addresses\n"
	     "\n"
	     "Errors name the file, line and key: 'herd: fleet.yaml:7: ipaddr: ...'.\n"
	     "Every setting is a key in the file, a HERD_<KEY> environment variable\n"
	     "(dots become underscores: HERD_SSH_ENABLED) and, for most, a flag;\n"
	     "see 'herd config show --help'.\n"
	     "\n"
	     "Exit status: 0 success, 1 failure, 2 usage error.\n",
    .run = config_run,
};
