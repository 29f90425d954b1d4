/*
 * tftp.c — placeholder until the tftp service lands: refuses to start
 * with a clear message, so `herd serve` never pretends to serve.
 */
#include <errno.h>

#include "tftp.h"

int tftp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct tftp_server **ret, struct herd_error *err)
{
	return herd_error_set(err, ENOSYS, "tftp: not implemented yet");
}

void tftp_server_free(struct tftp_server *server)
{
}
