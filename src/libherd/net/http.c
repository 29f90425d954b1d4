/*
 * http.c — placeholder until the http service lands: refuses to start
 * with a clear message, so `herd serve` never pretends to serve.
 */
#include <errno.h>

#include "http.h"

int http_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct http_server **ret, struct herd_error *err)
{
	return herd_error_set(err, ENOSYS, "http: not implemented yet");
}

void http_server_free(struct http_server *server)
{
}
