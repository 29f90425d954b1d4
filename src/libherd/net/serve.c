/*
 * serve.c — the lifetime of `herd serve`'s services on one event loop.
 *
 * Order matters: every socket is bound first (ports below 1024 need
 * root or CAP_NET_BIND_SERVICE), then privileges are dropped, then the
 * loop runs.  SIGTERM and SIGINT stop the loop; services drain in their
 * free functions.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "netlog.h"
#include "serve.h"

struct serve {
	struct serve_config cfg;
	const struct netlog *log;
	struct evloop *loop;
	struct dhcp_server *dhcp;
	struct tftp_server *tftp;
	struct http_server *http;
};

static void on_stop_signal(struct evloop *loop, int signo, void *userdata)
{
	struct serve *s = userdata;

	netlog(s->log, NETLOG_INFO, "serve", "signal %d: stopping", signo);
	evloop_stop(loop, 0);
}

void serve_free(struct serve *s)
{
	if (!s)
		return;
	http_server_free(s->http);
	tftp_server_free(s->tftp);
	dhcp_server_free(s->dhcp);
	evloop_free(s->loop);
	free(s);
}

int serve_new(const struct serve_config *cfg, const struct netlog *log, struct serve **ret,
	      struct herd_error *err)
{
	struct serve *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return herd_error_set(err, ENOMEM, "serve: out of memory");
	s->cfg = *cfg;
	s->log = log;
	r = evloop_new(&s->loop, err);
	if (r >= 0 && ((r = evloop_add_signal(s->loop, SIGTERM, on_stop_signal, s)) < 0 ||
		       (r = evloop_add_signal(s->loop, SIGINT, on_stop_signal, s)) < 0))
		herd_error_set(err, -r, "serve: signals: %s", strerror(-r));
	if (r >= 0 && cfg->dhcp.mode != DHCP_MODE_OFF)
		r = dhcp_server_new(s->loop, &s->cfg, log, &s->dhcp, err);
	if (r >= 0 && cfg->tftp.root)
		r = tftp_server_new(s->loop, &s->cfg, log, &s->tftp, err);
	if (r >= 0 && cfg->http.listen)
		r = http_server_new(s->loop, &s->cfg, log, &s->http, err);
	if (r < 0) {
		serve_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int serve_run(struct serve *s, struct herd_error *err)
{
	int r;

	netlog(s->log, NETLOG_INFO, "serve", "ready on %s (dhcp %s, tftp %s, http %s)",
	       s->cfg.interface ? s->cfg.interface : "all interfaces",
	       s->dhcp ? (s->cfg.dhcp.mode == DHCP_MODE_PROXY ? "proxy" : "server") : "off",
	       s->tftp ? s->cfg.tftp.root : "off", s->http ? s->cfg.http.listen : "off");
	r = evloop_run(s->loop);
	if (r < 0)
		return herd_error_set(err, -r, "serve: event loop: %s", strerror(-r));
	return 0;
}
