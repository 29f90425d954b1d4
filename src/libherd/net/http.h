/*
 * http.h — the HTTP service of `herd serve` (libmicrohttpd): boot files
 * and images from a directory or an image partition, with Range, sent
 * with sendfile where the file is a real file; /healthz.
 *
 * Requests are dispatched through a route table (method + exact path or
 * path prefix -> handler), so the REST API, events and UI of the next
 * issue add routes with http_server_add_route() instead of editing the
 * dispatcher.  libmicrohttpd runs one internal thread (epoll); handlers
 * run on that thread, never on the serve event loop, so a handler must
 * not touch state owned by the loop without its own lock.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"

struct evloop;
struct netlog;
struct serve_config;
struct MHD_Connection;

struct http_config {
	const char *listen; /* ADDR:PORT, :PORT or PORT; NULL: HTTP off */
	const char *root;   /* DIR or IMAGE:PART:/ served under /; NULL: the TFTP root */
};

struct http_server;

/* A route handler: queue a response on `conn` (MHD_queue_response) and
 * return MHD_YES, or MHD_NO to drop the connection.  `path` is the URL
 * path (decoded), `method` "GET", "HEAD", ... */
typedef int (*http_route_fn)(struct http_server *server, struct MHD_Connection *conn,
			     const char *method, const char *path, void *userdata);

enum http_route_match {
	HTTP_ROUTE_EXACT = 0,
	HTTP_ROUTE_PREFIX = 1,
};

/* Routes are tried in the order added, first match wins; the built-in
 * file route ("/" prefix) is always last.  method NULL matches GET and
 * HEAD.  Add routes before clients can connect (right after
 * http_server_new, before the loop runs). */
int http_server_add_route(struct http_server *server, const char *method, const char *path,
			  enum http_route_match match, http_route_fn fn, void *userdata);

int http_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct http_server **ret, struct herd_error *err);
void http_server_free(struct http_server *server);

/* SIGTERM: stop accepting connections; running responses finish while
 * the process drains. */
void http_server_quiesce(struct http_server *server);
/* Small helper for handlers: a complete response from a string. */
int http_respond_text(struct MHD_Connection *conn, unsigned status, const char *content_type,
		      const char *body);
