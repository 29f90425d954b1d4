/*
 * tftp.h — the TFTP service of `herd serve`: read-only, option
 * negotiation, per-serial directories, roots that are directories or an
 * image's partition read through the block engine.
 *
 * The protocol itself is pure code (tftp_wire.h, tftp_transfer.h,
 * tftp_path.h, tftp_root.h); this service owns the sockets: the listening
 * socket (port 69) takes requests, and every transfer gets its own socket
 * (RFC 1350 "transfer identifier"), connected to the client, bound to the
 * address the request arrived on, and watched by the serve event loop
 * together with one timer.  A window of DATA blocks leaves in one
 * sendmmsg(2) call whose iovecs point straight into the shared file cache.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct evloop;
struct netlog;
struct serve_config;

struct tftp_config {
	const char *root; /* DIR or IMAGE:PART:/; NULL: TFTP off */
	uint16_t port;	  /* 69 */
	/* Limits; 0 picks the default in brackets. */
	uint32_t max_blksize;	 /* [the interface's MTU - 32, at most 65464] */
	uint32_t max_windowsize; /* [64] */
	uint32_t max_transfers;	 /* concurrent transfers in all [4096] */
	uint32_t max_per_client; /* concurrent transfers per client address [64] */
};

struct tftp_server;

int tftp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct tftp_server **ret, struct herd_error *err);
/* Ends every transfer at once; accepts NULL. */
void tftp_server_free(struct tftp_server *server);

/* SIGHUP: open the root again (new requests see the new files; running
 * transfers finish with what they had). */
int tftp_server_reload(struct tftp_server *server, struct herd_error *err);

/* SIGTERM: refuse new requests; `idle` runs (from the loop) once no
 * transfer is left, at once if none is running. */
void tftp_server_drain(struct tftp_server *server, void (*idle)(void *userdata), void *userdata);
unsigned tftp_server_active(const struct tftp_server *server);
