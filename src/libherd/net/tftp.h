/*
 * tftp.h — the TFTP service of `herd serve`: read-only, option
 * negotiation, per-serial directories, roots that are directories or an
 * image's partition read through the block engine.
 */
#pragma once

#include <stdint.h>

#include "base/error.h"

struct evloop;
struct netlog;
struct serve_config;

struct tftp_config {
	const char *root; /* DIR or IMAGE:PART:/; NULL: TFTP off */
	uint16_t port;	  /* 69 */
};

struct tftp_server;

int tftp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct tftp_server **ret, struct herd_error *err);
void tftp_server_free(struct tftp_server *server);
