/*
 * serve.c — the lifetime of `herd serve`'s services on one event loop.
 *
 * Order matters: every socket is bound first (ports below 1024 need
 * root or CAP_NET_BIND_SERVICE), then privileges are dropped, then the
 * loop runs.  SIGTERM and SIGINT stop the loop; services drain in their
 * free functions.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	struct evloop_timer *drain_timer;
	bool draining;
};

/* How long SIGTERM waits for running TFTP transfers before giving up. */
#define SERVE_DRAIN_US (30ull * 1000 * 1000)

static void on_drained(void *userdata)
{
	struct serve *s = userdata;

	netlog(s->log, NETLOG_INFO, "serve", "drained: exiting");
	evloop_stop(s->loop, 0);
}

static void on_drain_timeout(struct evloop *loop, struct evloop_timer *timer, void *userdata)
{
	struct serve *s = userdata;

	netlog(s->log, NETLOG_WARN, "serve", "drain timed out with %u transfers left: exiting",
	       s->tftp ? tftp_server_active(s->tftp) : 0);
	evloop_stop(loop, 0);
}

/* SIGTERM/SIGINT: stop taking new work, let running transfers finish
 * (at most SERVE_DRAIN_US), then leave the loop.  A second signal stops
 * at once. */
static void on_stop_signal(struct evloop *loop, int signo, void *userdata)
{
	struct serve *s = userdata;

	if (s->draining || !s->tftp || !s->drain_timer) {
		netlog(s->log, NETLOG_INFO, "serve", "signal %d: stopping", signo);
		evloop_stop(loop, 0);
		return;
	}
	s->draining = true;
	netlog(s->log, NETLOG_INFO, "serve", "signal %d: draining", signo);
	http_server_quiesce(s->http);
	evloop_timer_arm_in(s->drain_timer, SERVE_DRAIN_US);
	tftp_server_drain(s->tftp, on_drained, s);
}

/* SIGHUP: re-read what can change under a running server. */
static void on_reload_signal(struct evloop *loop, int signo, void *userdata)
{
	struct serve *s = userdata;
	struct herd_error err = {0};

	netlog(s->log, NETLOG_INFO, "serve", "SIGHUP: reloading");
	if (s->tftp && tftp_server_reload(s->tftp, &err) < 0)
		netlog(s->log, NETLOG_ERROR, "serve", "reload failed, keeping the old root: %s",
		       herd_error_message(&err));
}

static int capset_keep(uint64_t keep)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

/* After binding: become `user` (default "herd" if that system user
 * exists, else "nobody"), keeping only CAP_NET_RAW when DHCP may need raw
 * sockets.  Every socket is already bound, so CAP_NET_BIND_SERVICE is not
 * kept.  "root" keeps everything (tests, debugging). */
static int drop_privileges(struct serve *s, struct herd_error *err)
{
	const char *name = s->cfg.user;
	uint64_t keep = 0;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (!name)
		name = getpwnam("herd") ? "herd" : "nobody";
	if (strcmp(name, "root") == 0) {
		netlog(s->log, NETLOG_WARN, "serve", "--user root: keeping all privileges");
		return 0;
	}
	pw = getpwnam(name);
	if (!pw)
		return herd_error_set(err, ENOENT, "serve: --user %s: no such user", name);
	if (pw->pw_uid == 0)
		return herd_error_set(err, EINVAL, "serve: --user %s: has uid 0", name);
	if (s->dhcp)
		keep |= 1ull << CAP_NET_RAW;
	/* The kernel keeps the permitted set across setuid only with
	 * KEEPCAPS; glibc applies set*id to every thread (libmicrohttpd's
	 * included), capset only to this one — the loop's thread. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return herd_error_set(err, errno, "serve: become %s: %m", name);
	if (capset_keep(keep) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return herd_error_set(err, errno, "serve: capabilities: %m");
	if (setuid(0) == 0)
		return herd_error_set(err, EPERM,
				      "serve: still able to become root after dropping");
	netlog(s->log, NETLOG_INFO, "serve", "running as %s (uid %u)%s", name, (unsigned)pw->pw_uid,
	       keep ? ", keeping CAP_NET_RAW" : "");
	return 0;
}

void serve_free(struct serve *s)
{
	if (!s)
		return;
	http_server_free(s->http);
	tftp_server_free(s->tftp);
	evloop_timer_free(s->drain_timer);
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
		       (r = evloop_add_signal(s->loop, SIGINT, on_stop_signal, s)) < 0 ||
		       (r = evloop_add_signal(s->loop, SIGHUP, on_reload_signal, s)) < 0))
		herd_error_set(err, -r, "serve: signals: %s", strerror(-r));
	if (r >= 0 && cfg->dhcp.mode != DHCP_MODE_OFF)
		r = dhcp_server_new(s->loop, &s->cfg, log, &s->dhcp, err);
	if (r >= 0 && cfg->tftp.root)
		r = tftp_server_new(s->loop, &s->cfg, log, &s->tftp, err);
	if (r >= 0 && cfg->http.listen)
		r = http_server_new(s->loop, &s->cfg, log, &s->http, err);
	if (r >= 0 && !(s->drain_timer = evloop_timer_new(s->loop, on_drain_timeout, s)))
		r = herd_error_set(err, ENOMEM, "serve: out of memory");
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

	r = drop_privileges(s, err);
	if (r < 0)
		return r;
	netlog(s->log, NETLOG_INFO, "serve", "ready on %s (dhcp %s, tftp %s, http %s)",
	       s->cfg.interface ? s->cfg.interface : "all interfaces",
	       s->dhcp ? (s->cfg.dhcp.mode == DHCP_MODE_PROXY ? "proxy" : "server") : "off",
	       s->tftp ? s->cfg.tftp.root : "off", s->http ? s->cfg.http.listen : "off");
	r = evloop_run(s->loop);
	if (r < 0)
		return herd_error_set(err, -r, "serve: event loop: %s", strerror(-r));
	return 0;
}
