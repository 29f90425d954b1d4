/*
 * dhcp.c — placeholder until the dhcp service lands: refuses to start
 * with a clear message, so `herd serve` never pretends to serve.
 */
#include <errno.h>

#include "dhcp.h"

int dhcp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct dhcp_server **ret, struct herd_error *err)
{
	return herd_error_set(err, ENOSYS, "dhcp: not implemented yet");
}

void dhcp_server_free(struct dhcp_server *server)
{
}
