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
struct dhcp_prober;

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
	struct dhcp_prober *prober; /* NULL: offers are not probed */
};

/* Unregister and close the socket, free the batch buffers (dhcp.c). */
void dhcp_socket_close(struct dhcp_server *s);
/* Wall-clock seconds, the handler's time base. */
int64_t dhcp_wall_clock_s(void);
/* The batch's reply slot n (0 .. DHCP_BATCH-1), for the handler to fill;
 * dhcp_queue_reply() then makes it ready to send. */
struct dhcp_reply *dhcp_reply_slot(struct dhcp_server *s, int n);
void dhcp_queue_reply(struct dhcp_server *s, int n);
/* Commit the lease changes, then send the first `replies` queued
 * replies; nothing is sent when the commit fails (logged). */
void dhcp_flush(struct dhcp_server *s, int replies);

/* Conflict check (dhcp_probe.c).  Open the ARP socket on the service's
 * interface (server mode with config.probe_ms; otherwise, or without
 * CAP_NET_RAW, probing is switched off with a log line); needs s->loop. */
int dhcp_probe_open(struct dhcp_server *s);
/* Park a DISCOVER the handler deferred and probe deferred->probe_ip. */
void dhcp_probe_defer(struct dhcp_server *s, const uint8_t *packet, size_t length,
		      const struct dhcp_reply *deferred);
void dhcp_probe_close(struct dhcp_server *s);
