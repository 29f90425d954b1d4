/*
 * serve.h — `herd serve`: DHCP, TFTP and HTTP in one process on one event
 * loop.
 *
 * serve_new() binds every enabled service (as root), serve_run() drops to
 * the configured user and runs the loop until SIGTERM/SIGINT (stop taking
 * requests, let running TFTP transfers finish for up to 30 s, exit; a
 * second signal exits at once).  SIGHUP re-opens the TFTP root.
 * The services themselves live in dhcp.c, tftp.c and http.c; this file
 * only owns their lifetime.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "dhcp.h"
#include "http.h"
#include "tftp.h"

struct netlog;

struct serve_config {
	const char *interface;	 /* the network the boards are on */
	const char *db_path;	 /* SQLite: leases, clients seen */
	const char *user;	 /* drop to this user after binding; NULL: "herd" if
				    that user exists, else "nobody"; "root": stay */
	const char *config_path; /* --config: fleet file (static leases, per-host boot) */
	struct dhcp_config dhcp;
	struct tftp_config tftp;
	struct http_config http;
};

struct serve;

int serve_new(const struct serve_config *cfg, const struct netlog *log, struct serve **ret,
	      struct herd_error *err);
/* Run until SIGTERM or SIGINT; returns 0 after a clean drain. */
int serve_run(struct serve *s, struct herd_error *err);
void serve_free(struct serve *s);
