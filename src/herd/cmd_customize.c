/*
 * cmd_customize.c — `herd customize IMAGE [settings...] [--config FILE
 * --host NAME] [--dryrun]`: apply one host's settings to an image in
 * place, offline, as an unprivileged user.
 *
 * Settings resolve as everywhere (fleet_resolve_host: defaults < host
 * entry < HERD_<KEY> < flags).  The work is libherd's recipe_customize():
 * plan, apply through a copy-on-write overlay, commit at the end, so a
 * failure leaves the image byte-for-byte as it was.  This file parses
 * arguments and prints: the operations (--dryrun), what changed, and the
 * recipe's warnings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "cli.h"
#include "cmd_image_store.h"
#include "output.h"
#include "recipe/recipe.h"
#include "settings_cli.h"

static void usage(FILE *out)
{
	fputs(cmd_customize.usage, out);
	settings_cli_print_help(out);
	fputs("\n"
	      "Exit status: 0 success, 1 failure (image left unchanged), 2 usage error.\n",
	      out);
}

static json_t *recipe_json(const char *image, const struct recipe *r, bool dryrun)
{
	json_t *root = json_object(), *ops = json_array(), *warnings = json_array();
	char line[8192];

	json_object_set_new(root, "image", json_string(image));
	json_object_set_new(root, "os", json_string(r->os.id[0] ? r->os.id : "unknown"));
	json_object_set_new(root, "os_known", json_boolean(r->os_known));
	json_object_set_new(root, "network", json_string(recipe_network_name(r->network)));
	json_object_set_new(root, "dryrun", json_boolean(dryrun));
	for (size_t i = 0; i < r->count; i++) {
		json_t *o = json_object();
		recipe_op_describe(&r->ops[i], line, sizeof(line));
		json_object_set_new(o, "setting", json_string(r->ops[i].setting));
		json_object_set_new(o, "op", json_string(line));
		if (!dryrun)
			json_object_set_new(o, "changed", json_boolean(r->ops[i].changed));
		json_array_append_new(ops, o);
	}
	for (size_t i = 0; i < r->warnings.count; i++)
		json_array_append_new(warnings, json_string(r->warnings.items[i]));
	/* A dry run with a new key shows none: the key made for the plan is
	 * thrown away, the real run makes another. */
	if (r->wireguard_public_key[0] && !(dryrun && r->wireguard_key_generated))
		json_object_set_new(root, "wireguard_public_key",
				    json_string(r->wireguard_public_key));
	json_object_set_new(root, "operations", ops);
	json_object_set_new(root, "warnings", warnings);
	return root;
}

static void print_summary(struct cli *cli, const char *image, const struct recipe *r, bool dryrun)
{
	char line[8192];
	size_t changed = 0;

	for (size_t i = 0; i < r->count; i++) {
		const struct recipe_op *op = &r->ops[i];
		if (!dryrun && !op->changed)
			continue;
		changed++;
		if (dryrun || !cli->quiet) {
			recipe_op_describe(op, line, sizeof(line));
			printf("%-20s %s\n", op->setting, line);
		}
	}
	/* The public key is the one thing peers need from this host: on
	 * stdout, even with --quiet. */
	if (r->wireguard_public_key[0]) {
		if (dryrun && r->wireguard_key_generated)
			printf("wireguard public key: (a new key is generated when applied)\n");
		else
			printf("wireguard public key: %s\n", r->wireguard_public_key);
	}
	if (dryrun)
		cli_info(cli, "%s: %zu operations planned (%s, network: %s); nothing written",
			 image, r->count, r->os_known ? r->os.id : "unknown OS",
			 recipe_network_name(r->network));
	else
		cli_info(cli, "%s: %zu of %zu operations changed the image", image, changed,
			 r->count);
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"host", required_argument, NULL, 'H'},
	    {"dryrun", no_argument, NULL, 'n'},
	    {"dry-run", no_argument, NULL, 'n'},
	    CLI_COMMON_OPTIONS,
	};
	struct option options[96];
	struct herd_settings overrides, resolved;
	struct herd_error err = {0};
	struct recipe *rec = NULL;
	const char *config = NULL, *host = NULL, *image;
	bool dryrun = false;
	int opt, r, rc = EXIT_OK;

	if (settings_cli_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options)) < 0)
		return cli_fail("customize: too many options");

	settings_init(&overrides);
	const struct settings_cli_getopt g = {
	    &cmd_customize, usage, CLI_OPTSTRING("c:n"), options, &overrides, argc, argv,
	};
	while ((opt = settings_cli_next(cli, &g, &rc)) > 0) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'n':
			dryrun = true;
			break;
		}
	}
	if (opt == SETTINGS_CLI_EXIT) {
		settings_free(&overrides);
		return rc;
	}
	if (optind >= argc) {
		settings_free(&overrides);
		return cli_usage_error(cli, "missing IMAGE");
	}
	image = argv[optind];
	if (optind + 1 < argc) {
		settings_free(&overrides);
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	}
	/* In place means a raw file: never the store's verified copy, a URL
	 * or a compressed file (herd build writes customized copies). */
	rc = image_store_require_raw_file(image, "herd build");
	if (rc >= 0) {
		settings_free(&overrides);
		return rc;
	}
	rc = settings_cli_resolve(cli, config, host, &overrides, &resolved);
	if (rc >= 0)
		return rc;
	rc = EXIT_OK;

	r = recipe_customize(image, &resolved, dryrun, NULL, &rec, &err);
	settings_free(&resolved);
	if (r < 0)
		return cli_fail("%s%s", herd_error_message(&err),
				dryrun ? "" : " (image left unchanged)");
	for (size_t i = 0; i < rec->warnings.count; i++)
		cli_warn("%s", rec->warnings.items[i]);
	if (cli->json)
		rc = output_json(recipe_json(image, rec, dryrun));
	else
		print_summary(cli, image, rec, dryrun);
	recipe_free(rec);
	return rc;
}

const struct cli_command cmd_customize = {
    .name = "customize",
    .summary = "apply one host's settings to an image in place (offline, no root)",
    .usage = "Usage: herd customize IMAGE [settings...] [--config FILE --host NAME] [--dryrun]\n"
	     "\n"
	     "Edit IMAGE in place for one host: hostname, user, password (hash, or\n"
	     "--passwd to be asked), SSH service and keys, key-only login, Wi-Fi,\n"
	     "static address, timezone, locale, keymap, extra files, systemd units\n"
	     "(enable, disable, mask), config.txt and cmdline.txt, a WireGuard\n"
	     "interface, an nftables firewall, first-boot packages and commands.  The\n"
	     "root filesystem is edited directly (no mount, no root, no chroot), so\n"
	     "the result is right before the first boot.  Changes go through a\n"
	     "copy-on-write overlay and are committed at the end: on any error the\n"
	     "image is left unchanged.  Running it twice changes nothing the second\n"
	     "time.  The OS (Raspberry Pi OS, Debian, Ubuntu) and its network stack\n"
	     "(NetworkManager, dhcpcd, netplan, systemd-networkd) are detected from\n"
	     "the image; an unknown OS gets the portable settings only, with a\n"
	     "warning naming what was skipped.\n"
	     "\n"
	     "Prints the operations that changed something (setting, operation),\n"
	     "and the WireGuard public key when wireguard.* is set.\n"
	     "\n"
	     "Notes on some settings:\n"
	     "  --passwd asks twice on the terminal (no echo); with no terminal it\n"
	     "  fails unless --passwd-stdin is given.  Only the hash is written.\n"
	     "  --enable/--disable/--mask work like systemctl --root: links from the\n"
	     "  unit's [Install] section (WantedBy, RequiredBy, Alias, Also,\n"
	     "  DefaultInstance); an unknown unit is an error.\n"
	     "  --config-txt KEY=VALUE and --config-txt-remove KEY edit config.txt's\n"
	     "  [all] context only (lines under [pi4] etc. are kept); --dtoverlay\n"
	     "  adds an overlay once (same name: parameters replaced).\n"
	     "  --cmdline KEY[=VALUE] / --cmdline-remove KEY edit the one line of\n"
	     "  cmdline.txt by parameter name, keeping everything else.\n"
	     "  --wg-*: interface wg0; a NetworkManager keyfile on NetworkManager\n"
	     "  images, else /etc/wireguard/wg0.conf + wg-quick@wg0.  The private key\n"
	     "  is --wg-private-key-file, else the image's own (kept), else new.\n"
	     "  --allow PORT writes /etc/nftables.conf (input dropped except replies,\n"
	     "  loopback, ICMP, the ports) and enables nftables.service; when SSH is\n"
	     "  on, 22/tcp is added so the firewall cannot lock you out.\n"
	     "\n"
	     "Options:\n"
	     "  -c, --config FILE   fleet file; with --host, that host's settings\n"
	     "  --host NAME         the host to apply (must be in FILE)\n"
	     "  -n, --dryrun        print the planned operations, write nothing\n"
	     "  --json              print {image, os, network, operations, warnings,\n"
	     "                      wireguard_public_key}\n",
    .run = run,
};
