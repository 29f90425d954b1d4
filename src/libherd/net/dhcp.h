/*
 * dhcp.h — the DHCP service of `herd serve`: proxyDHCP for PXE clients and
 * the Raspberry Pi bootloader, or a full DHCP server with leases in SQLite.
 *
 * The service runs on the serve event loop (evloop.h) and logs through
 * netlog.h.  Its configuration is struct dhcp_config, embedded in
 * struct serve_config (serve.h).
 */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include "base/error.h"

struct evloop;
struct netlog;
struct serve_config;

enum dhcp_mode {
	DHCP_MODE_OFF = 0,
	DHCP_MODE_PROXY,
	DHCP_MODE_SERVER,
};

struct dhcp_config {
	enum dhcp_mode mode;
	struct in_addr range_first, range_last; /* server mode */
	uint32_t lease_time;			/* seconds */
};

struct dhcp_server;

/* Bind the DHCP socket(s) on cfg->interface and register them on `loop`.
 * Called as root, before privileges are dropped. */
int dhcp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct dhcp_server **ret, struct herd_error *err);
void dhcp_server_free(struct dhcp_server *server);
