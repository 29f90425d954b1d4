/*
 * http.h — the HTTP service of `herd serve` (libmicrohttpd): files and
 * images with Range, /healthz; the REST API plugs in here later.
 */
#pragma once

#include "base/error.h"

struct evloop;
struct netlog;
struct serve_config;

struct http_config {
	const char *listen; /* ADDR:PORT; NULL: HTTP off */
};

struct http_server;

int http_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct http_server **ret, struct herd_error *err);
void http_server_free(struct http_server *server);
