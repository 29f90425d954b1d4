/*
 * dhcp_private.h — struct dhcp_server, shared by the request handler
 * (dhcp_server.c) and its socket front end (dhcp.c).  Nothing outside
 * those two files includes this.
 */
#pragma once

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dhcp.h"

/* Datagrams taken from the socket per recvmmsg() call; their replies are
 * sent after one commit (group commit, see dhcp_leases.h). */
#define DHCP_BATCH 64

struct dhcp_batch;

struct dhcp_server {
	/* the handler */
	struct dhcp_config config;
	struct dhcp_leases *leases;
	const struct netlog *log;
	struct dhcp_stats stats;
	uint8_t pxe_menu[128];
	size_t pxe_menu_length;
	uint8_t pxe_menu_pi3b[128];
	size_t pxe_menu_pi3b_length;
	char tftp_string[16];

	/* the socket side (dhcp.c); fd -1 when there is none */
	struct evloop *loop;
	int fd;
	int ifindex;
	char ifname[IF_NAMESIZE];
	struct dhcp_batch *batch;
	uint64_t batches, send_failures;
};

/* Unregister and close the socket, free the batch buffers (dhcp.c). */
void dhcp_socket_close(struct dhcp_server *s);
