/*
 * cmd_serve.c — `herd serve`: parse the daemon's flags into a
 * struct serve_config, print the services' log lines, run libherd's
 * serve loop (net/serve.h) until SIGTERM.
 *
 * Log lines go to stderr, one per event, "herd serve: <component>: <msg>"
 * (systemd's journal adds the timestamps).  -v adds debug lines, -q keeps
 * only warnings and errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli.h"
#include "net/netlog.h"
#include "net/serve.h"

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void log_line(void *ctx, enum netlog_level level, const char *component, const char *msg)
{
	if (level <= NETLOG_WARN)
		fprintf(stderr, "herd serve: %s: %s: %s\n", component, level_names[level], msg);
	else
		fprintf(stderr, "herd serve: %s: %s\n", component, msg);
}

/* "3600", "90s", "30m", "12h", "7d" → seconds. */
static int parse_duration_s(const char *arg, uint32_t *ret)
{
	char num[32];
	size_t n = strlen(arg);
	uint32_t mult = 1, v;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, arg, n + 1);
	switch (num[n - 1]) {
	case 's':
		num[--n] = '\0';
		break;
	case 'm':
		mult = 60;
		num[--n] = '\0';
		break;
	case 'h':
		mult = 3600;
		num[--n] = '\0';
		break;
	case 'd':
		mult = 86400;
		num[--n] = '\0';
		break;
	}
	if (parse_u32(num, 1, UINT32_MAX / mult, &v) < 0)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

/* DHCP flags without a short form. */
enum {
	OPT_STATIC = 256,
	OPT_ROUTER,
	OPT_DNS,
	OPT_DOMAIN,
	OPT_TFTP_SERVER,
	OPT_BOOT_FILE,
	OPT_PXE_MENU,
	OPT_ARP_PROBE,
};

/* --dns A[,B...]: up to DHCP_DNS_MAX addresses, repeatable. */
static int parse_dns(struct cli *cli, struct serve_config *cfg, const char *arg)
{
	char one[16];
	const char *p = arg;

	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(one))
			return cli_usage_error(cli, "--dns %s: expected IPv4 addresses", arg);
		memcpy(one, p, n);
		one[n] = '\0';
		if (cfg->dhcp.dns_count >= DHCP_DNS_MAX)
			return cli_usage_error(cli, "--dns: at most %d servers", DHCP_DNS_MAX);
		if (dhcp_ip_parse(one, &cfg->dhcp.dns[cfg->dhcp.dns_count]) < 0)
			return cli_usage_error(cli, "--dns %s: '%s' is not an IPv4 address", arg,
					       one);
		cfg->dhcp.dns_count++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int serve_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct serve_config *cfg = ctx;
	struct herd_error err = {0};
	uint32_t port;

	switch (opt) {
	case 'c':
		cfg->config_path = arg;
		return 0;
	case 'i':
		cfg->interface = arg;
		return 0;
	case 'd':
		if (strcmp(arg, "proxy") == 0)
			cfg->dhcp.mode = DHCP_MODE_PROXY;
		else if (strcmp(arg, "server") == 0)
			cfg->dhcp.mode = DHCP_MODE_SERVER;
		else if (strcmp(arg, "off") == 0)
			cfg->dhcp.mode = DHCP_MODE_OFF;
		else
			return cli_usage_error(cli, "--dhcp %s: expected proxy, server or off",
					       arg);
		return 0;
	case 'r':
		if (dhcp_config_set_range(&cfg->dhcp, arg, &err) < 0)
			return cli_usage_error(cli, "--range: %s", herd_error_message(&err));
		return 0;
	case OPT_STATIC:
		if (dhcp_config_add_static(&cfg->dhcp, arg, &err) < 0)
			return cli_usage_error(cli, "--static-lease: %s", herd_error_message(&err));
		return 0;
	case OPT_ROUTER:
		if (dhcp_ip_parse(arg, &cfg->dhcp.router) < 0)
			return cli_usage_error(cli, "--router %s: expected an IPv4 address", arg);
		return 0;
	case OPT_DNS:
		return parse_dns(cli, cfg, arg);
	case OPT_DOMAIN:
		if (strlen(arg) >= sizeof(cfg->dhcp.domain) || !*arg)
			return cli_usage_error(cli, "--domain %s: 1 to %zu characters", arg,
					       sizeof(cfg->dhcp.domain) - 1);
		memcpy(cfg->dhcp.domain, arg, strlen(arg) + 1);
		return 0;
	case OPT_TFTP_SERVER:
		if (dhcp_ip_parse(arg, &cfg->dhcp.tftp_server) < 0)
			return cli_usage_error(cli, "--tftp-server %s: expected an IPv4 address",
					       arg);
		return 0;
	case OPT_BOOT_FILE:
		if (strlen(arg) >= sizeof(cfg->dhcp.boot_file) || !*arg)
			return cli_usage_error(cli, "--boot-file %s: 1 to %zu characters", arg,
					       sizeof(cfg->dhcp.boot_file) - 1);
		memcpy(cfg->dhcp.boot_file, arg, strlen(arg) + 1);
		return 0;
	case OPT_PXE_MENU:
		if (strlen(arg) >= sizeof(cfg->dhcp.pxe_menu_text) || !*arg)
			return cli_usage_error(cli, "--pxe-menu: 1 to %zu characters",
					       sizeof(cfg->dhcp.pxe_menu_text) - 1);
		memcpy(cfg->dhcp.pxe_menu_text, arg, strlen(arg) + 1);
		return 0;
	case OPT_ARP_PROBE:
		if (parse_u32(arg, 0, DHCP_PROBE_MS_MAX, &cfg->dhcp.probe_ms) < 0)
			return cli_usage_error(cli, "--arp-probe %s: expected 0-%u (milliseconds)",
					       arg, DHCP_PROBE_MS_MAX);
		return 0;
	case 'l':
		if (parse_duration_s(arg, &cfg->dhcp.lease_time) < 0)
			return cli_usage_error(
			    cli, "--lease-time %s: expected seconds or 30m, 12h, 7d", arg);
		return 0;
	case 't':
		cfg->tftp.root = arg;
		return 0;
	case 'p':
		if (parse_u32(arg, 1, 65535, &port) < 0)
			return cli_usage_error(cli, "--tftp-port %s: expected 1-65535", arg);
		cfg->tftp.port = (uint16_t)port;
		return 0;
	case 'H':
		cfg->http.listen = arg;
		return 0;
	case 'D':
		cfg->db_path = arg;
		return 0;
	case 'u':
		cfg->user = arg;
		return 0;
	case 'R':
		cfg->http.root = arg;
		return 0;
	case 'B':
		if (parse_u32(arg, 8, 65464, &cfg->tftp.max_blksize) < 0)
			return cli_usage_error(cli, "--tftp-blksize-max %s: expected 8-65464", arg);
		return 0;
	case 'W':
		if (parse_u32(arg, 1, 65535, &cfg->tftp.max_windowsize) < 0)
			return cli_usage_error(cli, "--tftp-windowsize-max %s: expected 1-65535",
					       arg);
		return 0;
	case 'T':
		if (parse_u32(arg, 1, 1000000, &cfg->tftp.max_transfers) < 0)
			return cli_usage_error(cli, "--tftp-max-transfers %s: expected 1-1000000",
					       arg);
		return 0;
	case 'C':
		if (parse_u32(arg, 1, 1000000, &cfg->tftp.max_per_client) < 0)
			return cli_usage_error(cli, "--tftp-max-per-client %s: expected 1-1000000",
					       arg);
		return 0;
	}
	return EXIT_USAGE;
}

static int serve_main(struct cli *cli, struct serve_config *c);

static int serve_run_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"interface", required_argument, NULL, 'i'},
	    {"dhcp", required_argument, NULL, 'd'},
	    {"range", required_argument, NULL, 'r'},
	    {"lease-time", required_argument, NULL, 'l'},
	    {"tftp-root", required_argument, NULL, 't'},
	    {"tftp-port", required_argument, NULL, 'p'},
	    {"http", required_argument, NULL, 'H'},
	    {"db", required_argument, NULL, 'D'},
	    {"user", required_argument, NULL, 'u'},
	    {"static-lease", required_argument, NULL, OPT_STATIC},
	    {"router", required_argument, NULL, OPT_ROUTER},
	    {"dns", required_argument, NULL, OPT_DNS},
	    {"domain", required_argument, NULL, OPT_DOMAIN},
	    {"tftp-server", required_argument, NULL, OPT_TFTP_SERVER},
	    {"boot-file", required_argument, NULL, OPT_BOOT_FILE},
	    {"pxe-menu", required_argument, NULL, OPT_PXE_MENU},
	    {"arp-probe", required_argument, NULL, OPT_ARP_PROBE},
	    {"http-root", required_argument, NULL, 'R'},
	    {"tftp-blksize-max", required_argument, NULL, 'B'},
	    {"tftp-windowsize-max", required_argument, NULL, 'W'},
	    {"tftp-max-transfers", required_argument, NULL, 'T'},
	    {"tftp-max-per-client", required_argument, NULL, 'C'},
	    {0}};
	struct serve_config cfg = {
	    .tftp = {.port = 69},
	};
	int r;

	dhcp_config_init(&cfg.dhcp);
	cfg.dhcp.mode = DHCP_MODE_PROXY;
	r = cli_parse(cli, &cmd_serve, argc, argv, "c:i:", options, serve_option, &cfg);
	if (r >= 0) {
		dhcp_config_clear(&cfg.dhcp);
		return r;
	}
	if (optind != argc)
		r = cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	else
		r = serve_main(cli, &cfg);
	dhcp_config_clear(&cfg.dhcp);
	return r;
}

static int serve_main(struct cli *cli, struct serve_config *c)
{
	struct serve_config cfg = *c;
	struct netlog log = {.fn = log_line, .max = NETLOG_INFO};
	struct herd_error err = {0};
	struct serve *s = NULL;

	if (cfg.dhcp.mode != DHCP_MODE_OFF && !cfg.interface)
		return cli_usage_error(cli, "--dhcp %s needs --interface",
				       cfg.dhcp.mode == DHCP_MODE_PROXY ? "proxy" : "server");
	if (cfg.dhcp.mode == DHCP_MODE_SERVER && !cfg.dhcp.range_first)
		return cli_usage_error(cli, "--dhcp server needs --range FIRST-LAST");
	if (cfg.dhcp.mode == DHCP_MODE_OFF && !cfg.tftp.root && !cfg.http.listen)
		return cli_usage_error(cli,
				       "nothing to serve: enable --dhcp, --tftp-root or --http");
	if (cli->verbose)
		log.max = NETLOG_DEBUG;
	else if (cli->quiet)
		log.max = NETLOG_WARN;
	if (serve_new(&cfg, &log, &s, &err) < 0 || serve_run(s, &err) < 0) {
		serve_free(s);
		return cli_fail_error(&err);
	}
	serve_free(s);
	return EXIT_OK;
}

const struct cli_command cmd_serve = {
    .name = "serve",
    .summary = "netboot server: DHCP (proxy or server), TFTP, HTTP",
    .usage =
	"Usage: herd serve [--config FILE] --interface IF [--dhcp proxy|server|off]\n"
	"                  [--range FIRST-LAST] [--lease-time T] [--tftp-root DIR|IMAGE:PART:/]\n"
	"                  [--tftp-port 69] [--http ADDR:PORT] [--http-root DIR|IMAGE:PART:/]\n"
	"                  [--db PATH] [--user NAME] [--static-lease MAC=IP|HOSTNAME=IP]...\n"
	"                  [--router IP] [--dns IP,...] [--domain NAME] [--tftp-server IP]\n"
	"                  [--boot-file NAME] [--pxe-menu TEXT] [--tftp-blksize-max N]\n"
	"                  [--tftp-windowsize-max N] [--tftp-max-transfers N]\n"
	"                  [--tftp-max-per-client N] [--arp-probe MS]\n"
	"\n"
	"One process, one event loop: answers the boards on the network named by\n"
	"--interface, serves their boot files, and logs one line per boot step per\n"
	"device.  Binds its ports, then drops root.  SIGHUP re-opens the TFTP root;\n"
	"SIGTERM or SIGINT stops taking requests, lets running transfers finish (at\n"
	"most 30 s) and exits.\n"
	"\n"
	"  -c, --config FILE     fleet file (static leases and per-host settings)\n"
	"  -i, --interface IF    the network interface the boards are on\n"
	"      --dhcp MODE       proxy (default: answer PXE clients and the Raspberry Pi\n"
	"                        bootloader beside an existing DHCP server), server (hand\n"
	"                        out leases from --range) or off\n"
	"      --range A-B       first and last address to lease (server mode)\n"
	"      --lease-time T    lease length: seconds, or 30m, 12h, 7d (default 1h)\n"
	"      --arp-probe MS    before offering an address nobody holds, ask the link\n"
	"                        who has it and wait MS ms (default 200); an answer\n"
	"                        quarantines it as in use; 0: no check (server mode)\n"
	"      --static-lease MAC=IP, --static-lease HOSTNAME=IP\n"
	"                        always give IP to this MAC, or to the client sending\n"
	"                        this host name (option 12); repeatable (server mode)\n"
	"      --router IP       default gateway for leases (option 3)\n"
	"      --dns IP[,IP]     DNS servers for leases (option 6, up to 4)\n"
	"      --domain NAME     domain name for leases (option 15)\n"
	"      --tftp-server IP  boot server for PXE clients (siaddr, option 66;\n"
	"                        default: the interface's address)\n"
	"      --boot-file NAME  boot file for PXE clients (option 67; the Pi ignores it)\n"
	"      --pxe-menu TEXT   PXE menu text in option 43 (default \"Raspberry Pi Boot\")\n"
	"      --tftp-root R     serve files over TFTP from directory R, or from an\n"
	"                        image's partition (IMAGE:boot:/)\n"
	"                        (read-only; RFC 2347 options blksize, tsize, timeout,\n"
	"                        windowsize; <serial>/file falls back to file)\n"
	"      --tftp-port N     TFTP port (default 69)\n"
	"      --tftp-blksize-max N     largest block size (default: interface MTU - 32)\n"
	"      --tftp-windowsize-max N  largest RFC 7440 window (default 64)\n"
	"      --tftp-max-transfers N   concurrent transfers in all (default 4096)\n"
	"      --tftp-max-per-client N  concurrent transfers per client (default 64)\n"
	"      --http ADDR:PORT  serve files over HTTP too (Range, /healthz); IPv6 as\n"
	"                        [ADDR6]:PORT\n"
	"      --http-root R     what HTTP serves under / (default: the TFTP root)\n"
	"      --db PATH         state database (leases, clients seen)\n"
	"      --user NAME       drop to this user after binding the ports (default:\n"
	"                        herd if it exists, else nobody; root keeps root)\n"
	"  -v, --verbose         log debug lines too\n"
	"  -q, --quiet           log only warnings and errors\n",
    .run = serve_run_cmd,
};
