/*
 * tftp.c — the TFTP service: sockets, timers and logging around the pure
 * core (see tftp.h).
 *
 * One request becomes one `struct tftp_conn` with a single free point
 * (conn_free), like OpenBSD tftpd's client_free.  The listening socket is
 * drained in a loop on each wake-up; a transfer's socket likewise.  Sends
 * that fail with EAGAIN/ENOBUFS are treated as lost packets: the
 * transfer's retransmission timer covers them, exactly as for loss on the
 * wire, so no send queue is needed.
 *
 * Per-transfer sockets are connect()ed to the client: the kernel then
 * drops datagrams from any other port, which RFC 1350 wants answered
 * with error 5 (unknown transfer ID) — the stranger gets an ICMP port
 * unreachable instead, and the transfer is never disturbed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/macros.h"
#include "net/evloop.h"
#include "net/netlog.h"
#include "net/serve.h"
#include "net/tftp.h"
#include "net/tftp_root.h"
#include "net/tftp_transfer.h"
#include "net/tftp_wire.h"

#define TFTP_BATCH	  64  /* DATA packets per sendmmsg call */
#define TFTP_RECV_BUDGET  256 /* datagrams handled per wake-up of one socket */
#define TFTP_PACKET_MAX	  (TFTP_DATA_HEADER + TFTP_BLKSIZE_MAX)
#define TFTP_PEER_STR_MAX 32

struct tftp_conn {
	struct tftp_server *server;
	struct tftp_conn *prev, *next;
	int fd;
	struct evloop_timer *timer;
	struct sockaddr_in peer;
	char peer_str[TFTP_PEER_STR_MAX];
	char requested[TFTP_FILENAME_MAX + 1];
	struct tftp_transfer t;
	struct tftp_file *file;
	uint8_t *window_buf; /* files not in memory: one window read with pread */
	uint64_t started_us;
};

struct tftp_server {
	struct evloop *loop;
	const struct netlog *log;
	struct tftp_config cfg;
	char root_spec[4096];
	char interface[IF_NAMESIZE];
	int fd;
	struct tftp_root *root;
	struct tftp_conn *conns;
	unsigned active;
	bool draining;
	void (*idle)(void *userdata);
	void *idle_userdata;
	struct evloop_timer *idle_timer;
	uint8_t packet[TFTP_PACKET_MAX]; /* receive buffer, one loop thread */
	uint64_t transfers_done, transfers_failed, bytes_sent;
};

static const char *peer_string(const struct sockaddr_in *sin, char *buf, size_t cap)
{
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	snprintf(buf, cap, "%s:%u", ip, ntohs(sin->sin_port));
	return buf;
}

/* Names from clients go into log lines: keep them printable. */
static void printable(const char *in, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; in[i] && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)in[i];
		out[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	out[j] = '\0';
}

static void send_error_to(int fd, const struct sockaddr_in *to, enum tftp_error_code code,
			  const char *message)
{
	uint8_t buf[4 + TFTP_ERROR_MESSAGE_MAX + 1];
	int len = tftp_build_error(buf, sizeof(buf), code, message);

	if (len > 0)
		(void)sendto(fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)to,
			     to ? sizeof(*to) : 0);
}

static void maybe_idle(struct tftp_server *server)
{
	if (server->draining && server->active == 0 && server->idle && server->idle_timer)
		evloop_timer_arm_in(server->idle_timer, 0);
}

static void conn_free(struct tftp_conn *c)
{
	struct tftp_server *server = c->server;

	if (c->fd >= 0) {
		evloop_del_fd(server->loop, c->fd);
		close(c->fd);
	}
	evloop_timer_free(c->timer);
	tftp_file_unref(c->file);
	free(c->window_buf);
	if (c->prev)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	server->active--;
	free(c);
	maybe_idle(server);
}

/* Send OACK or DATA blocks first..last.  Failures are loss (see top). */
static void conn_send(struct tftp_conn *c, const struct tftp_send *s)
{
	struct tftp_transfer *t = &c->t;
	struct mmsghdr msgs[TFTP_BATCH];
	struct iovec iov[TFTP_BATCH][2];
	uint8_t headers[TFTP_BATCH][TFTP_DATA_HEADER];

	if (s->oack) {
		uint8_t buf[128];
		int len = tftp_build_oack(buf, sizeof(buf), &t->oack);

		if (len > 0)
			(void)send(c->fd, buf, (size_t)len, MSG_DONTWAIT);
		return;
	}
	for (uint64_t block = s->first; block <= s->last;) {
		unsigned n = 0;
		uint64_t window_off = 0;

		if (!c->file->data && c->window_buf) {
			/* One pread for the whole batch. */
			uint64_t off;
			uint32_t len;
			uint16_t wire;
			uint64_t count = MIN(s->last - block + 1, (uint64_t)TFTP_BATCH);
			ssize_t got;

			tftp_transfer_block(t, block, &off, &len, &wire);
			window_off = off;
			got = tftp_file_read(
			    c->file, off, c->window_buf,
			    (size_t)MIN(count * t->blksize, t->size - MIN(off, t->size)));
			if (got < 0) {
				netlog(c->server->log, NETLOG_WARN, "tftp", "%s %s: read: %s",
				       c->peer_str, c->file->path, strerror((int)-got));
				return;
			}
		}
		for (; block <= s->last && n < TFTP_BATCH; block++, n++) {
			uint64_t off;
			uint32_t len;
			uint16_t wire;

			tftp_transfer_block(t, block, &off, &len, &wire);
			tftp_build_data_header(headers[n], wire);
			iov[n][0] = (struct iovec){headers[n], TFTP_DATA_HEADER};
			if (c->file->data)
				iov[n][1] = (struct iovec){(void *)(c->file->data + off), len};
			else
				iov[n][1] = (struct iovec){c->window_buf + (off - window_off), len};
			msgs[n] = (struct mmsghdr){.msg_hdr = {.msg_iov = iov[n], .msg_iovlen = 2}};
			c->server->bytes_sent += len;
		}
		if (n == 1)
			(void)sendmsg(c->fd, &msgs[0].msg_hdr, MSG_DONTWAIT);
		else
			(void)sendmmsg(c->fd, msgs, n, MSG_DONTWAIT);
	}
}

static void conn_arm(struct tftp_conn *c)
{
	evloop_timer_arm(c->timer, tftp_transfer_deadline(&c->t));
}

static void conn_finish(struct tftp_conn *c, enum tftp_transfer_state state)
{
	struct tftp_server *server = c->server;
	uint64_t ms = (evloop_now_us(server->loop) - c->started_us) / 1000;
	struct tftp_transfer *t = &c->t;

	switch (state) {
	case TFTP_TRANSFER_DONE:
		server->transfers_done++;
		netlog(server->log, NETLOG_INFO, "tftp",
		       "%s %s: sent %s%s, %llu bytes in %llu ms (%llu blocks resent)", c->peer_str,
		       c->requested, c->file->path, c->file->fallback ? " (shared file)" : "",
		       (unsigned long long)t->size, (unsigned long long)ms,
		       (unsigned long long)t->blocks_resent);
		break;
	case TFTP_TRANSFER_ABORTED:
		/* The Pi bootloader aborts after block 1 to probe for a file:
		 * normal, so not a warning. */
		netlog(server->log, NETLOG_INFO, "tftp",
		       "%s %s: client ended the transfer (error %u) after %llu of %llu blocks",
		       c->peer_str, c->requested, t->client_error_code,
		       (unsigned long long)t->acked, (unsigned long long)t->last_block);
		break;
	default:
		server->transfers_failed++;
		netlog(server->log, NETLOG_WARN, "tftp",
		       "%s %s: gave up after %u timeouts at block %llu of %llu", c->peer_str,
		       c->requested, t->retries, (unsigned long long)t->acked,
		       (unsigned long long)t->last_block);
		break;
	}
	conn_free(c);
}

static void on_conn_timer(struct evloop *loop, struct evloop_timer *timer, void *userdata)
{
	struct tftp_conn *c = userdata;
	struct tftp_send s;

	if (!tftp_transfer_timeout(&c->t, evloop_now_us(loop), &s)) {
		conn_finish(c, c->t.state);
		return;
	}
	conn_send(c, &s);
	conn_arm(c);
}

/* One datagram per wake-up: with lock-step windows there is rarely more
 * than one waiting, and the epoll watch is level-triggered, so reading on
 * until EAGAIN would only add a failing recv() to every block. */
static void on_conn_readable(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct tftp_conn *c = userdata;
	struct tftp_server *server = c->server;
	ssize_t n = recv(fd, server->packet, sizeof(server->packet), MSG_DONTWAIT);
	struct tftp_send s;

	if (n < 0)
		/* ECONNREFUSED: the client went away (ICMP); the timer ends
		 * the transfer if it does not come back. */
		return;
	switch (tftp_transfer_receive(&c->t, server->packet, (size_t)n, evloop_now_us(loop), &s)) {
	case TFTP_EVENT_SEND:
		conn_send(c, &s);
		conn_arm(c);
		break;
	case TFTP_EVENT_DONE:
	case TFTP_EVENT_ABORTED:
		conn_finish(c, c->t.state);
		break;
	case TFTP_EVENT_MALFORMED:
		netlog(server->log, NETLOG_DEBUG, "tftp",
		       "%s %s: ignored a %zd-byte packet that is not an ACK", c->peer_str,
		       c->requested, n);
		break;
	case TFTP_EVENT_IGNORED:
		break;
	}
}

/* The largest blksize the interface carries without fragmenting:
 * MTU - 20 (IPv4) - 8 (UDP) - 4 (TFTP). */
static uint32_t interface_max_blksize(struct tftp_server *server, int ifindex)
{
	struct ifreq ifr = {0};
	uint32_t max;

	if (server->cfg.max_blksize)
		return server->cfg.max_blksize;
	if (!if_indextoname((unsigned)ifindex, ifr.ifr_name) ||
	    ioctl(server->fd, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu < 576)
		return 1468;
	max = (uint32_t)ifr.ifr_mtu - 32;
	return max > TFTP_BLKSIZE_MAX ? TFTP_BLKSIZE_MAX : max;
}

static unsigned transfers_from(struct tftp_server *server, const struct sockaddr_in *peer,
			       const char *filename, bool *ret_duplicate)
{
	unsigned count = 0;

	*ret_duplicate = false;
	for (struct tftp_conn *c = server->conns; c; c = c->next) {
		if (c->peer.sin_addr.s_addr != peer->sin_addr.s_addr)
			continue;
		count++;
		if (c->peer.sin_port == peer->sin_port && strcmp(c->requested, filename) == 0)
			*ret_duplicate = true;
	}
	return count;
}

static void handle_request(struct tftp_server *server, const uint8_t *buf, size_t len,
			   const struct sockaddr_in *peer, const struct in_addr *local, int ifindex)
{
	struct tftp_transfer_limits limits;
	struct tftp_request req;
	enum tftp_error_code code = TFTP_ERR_UNDEFINED;
	const char *why = "";
	char peer_str[TFTP_PEER_STR_MAX], name[TFTP_FILENAME_MAX + 1];
	struct tftp_conn *c;
	struct sockaddr_in bind_addr = {.sin_family = AF_INET};
	struct tftp_send s;
	bool duplicate;
	int r;

	peer_string(peer, peer_str, sizeof(peer_str));
	r = tftp_parse_request(buf, len, &req, &code, &why);
	if (r < 0) {
		uint16_t opcode = len >= 2 ? (uint16_t)(buf[0] << 8 | buf[1]) : 0;

		if (len < 2 || opcode == TFTP_OP_ACK || opcode == TFTP_OP_ERROR ||
		    opcode == TFTP_OP_DATA) {
			/* Too short to answer, or a late packet of a finished
			 * transfer: answering could start an error ping-pong. */
			netlog(server->log, NETLOG_INFO, "tftp",
			       "%s: ignored %zu-byte packet (opcode %u) on the request port",
			       peer_str, len, opcode);
			return;
		}
		netlog(server->log, NETLOG_WARN, "tftp", "%s: refused request: %s", peer_str, why);
		send_error_to(server->fd, peer, code, why);
		return;
	}
	printable(req.filename, name, sizeof(name));
	if (req.opcode == TFTP_OP_WRQ) {
		netlog(server->log, NETLOG_WARN, "tftp", "%s %s: refused write request", peer_str,
		       name);
		send_error_to(server->fd, peer, TFTP_ERR_ACCESS, "herd serves read-only");
		return;
	}
	if (server->draining) {
		send_error_to(server->fd, peer, TFTP_ERR_UNDEFINED, "server shutting down");
		return;
	}
	if (transfers_from(server, peer, req.filename, &duplicate) >= server->cfg.max_per_client ||
	    server->active >= server->cfg.max_transfers) {
		netlog(server->log, NETLOG_WARN, "tftp", "%s %s: refused: too many transfers",
		       peer_str, name);
		send_error_to(server->fd, peer, TFTP_ERR_UNDEFINED, "too many transfers, retry");
		return;
	}
	if (duplicate) {
		/* The Pi bootloader may send the same RRQ twice: the first
		 * transfer answers both. */
		netlog(server->log, NETLOG_DEBUG, "tftp", "%s %s: duplicate request ignored",
		       peer_str, name);
		return;
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->server = server;
	c->fd = -1;
	c->peer = *peer;
	memcpy(c->peer_str, peer_str, sizeof(peer_str));
	memcpy(c->requested, name, sizeof(name));
	c->next = server->conns;
	if (server->conns)
		server->conns->prev = c;
	server->conns = c;
	server->active++;

	r = tftp_root_open_file(server->root, req.filename, req.mode, &c->file, &code, &why);
	if (r < 0) {
		/* Most of these are the Pi probing optional files: info. */
		netlog(server->log, NETLOG_INFO, "tftp", "%s %s: %s", peer_str, name, why);
		send_error_to(server->fd, peer, code, why);
		conn_free(c);
		return;
	}

	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bind_addr.sin_addr = *local;
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&bind_addr, sizeof(bind_addr)) < 0 ||
	    connect(c->fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0 ||
	    evloop_add_fd(server->loop, c->fd, EPOLLIN, on_conn_readable, c) < 0 ||
	    !(c->timer = evloop_timer_new(server->loop, on_conn_timer, c))) {
		netlog(server->log, NETLOG_ERROR, "tftp", "%s %s: transfer socket: %m", peer_str,
		       name);
		send_error_to(server->fd, peer, TFTP_ERR_UNDEFINED, "server out of resources");
		conn_free(c);
		return;
	}

	tftp_transfer_limits_default(&limits);
	limits.max_blksize = interface_max_blksize(server, ifindex);
	limits.max_windowsize = server->cfg.max_windowsize;
	tftp_transfer_init(&c->t, &req, c->file->size, &limits);
	if (!c->file->data) {
		c->window_buf = malloc((size_t)c->t.blksize * TFTP_BATCH);
		if (!c->window_buf) {
			send_error_to(server->fd, peer, TFTP_ERR_UNDEFINED, "out of memory");
			conn_free(c);
			return;
		}
	}
	c->started_us = evloop_now_us(server->loop);
	netlog(server->log, NETLOG_INFO, "tftp",
	       "%s %s: sending %s%s (%llu bytes, blksize %u, windowsize %u%s)", peer_str, name,
	       c->file->path, c->file->fallback ? " (shared file)" : "",
	       (unsigned long long)c->file->size, c->t.blksize, c->t.windowsize,
	       req.mode == TFTP_MODE_NETASCII ? ", netascii" : "");
	tftp_transfer_start(&c->t, c->started_us, &s);
	conn_send(c, &s);
	conn_arm(c);
}

static void on_request_readable(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct tftp_server *server = userdata;

	for (unsigned i = 0; i < TFTP_RECV_BUDGET; i++) {
		struct sockaddr_in peer;
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		} control;
		struct iovec iov = {server->packet, sizeof(server->packet)};
		struct msghdr msg = {.msg_name = &peer,
				     .msg_namelen = sizeof(peer),
				     .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf)};
		struct in_addr local = {0};
		int ifindex = 0;
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

		if (n < 0)
			return;
		if (msg.msg_namelen != sizeof(peer) || peer.sin_family != AF_INET ||
		    peer.sin_port == 0)
			continue;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				/* ipi_spec_dst, not ipi_addr: for a request sent to
				 * a broadcast address it is the interface's own
				 * address, which the transfer socket can bind. */
				local = pi.ipi_spec_dst;
				ifindex = pi.ipi_ifindex;
			}
		}
		if (msg.msg_flags & MSG_TRUNC) {
			char peer_str[TFTP_PEER_STR_MAX];

			netlog(server->log, NETLOG_WARN, "tftp", "%s: refused oversized request",
			       peer_string(&peer, peer_str, sizeof(peer_str)));
			send_error_to(fd, &peer, TFTP_ERR_ILLEGAL, "request too long");
			continue;
		}
		handle_request(server, server->packet, (size_t)n, &peer, &local, ifindex);
	}
}

static void on_idle_timer(struct evloop *loop, struct evloop_timer *timer, void *userdata)
{
	struct tftp_server *server = userdata;

	if (server->draining && server->active == 0 && server->idle)
		server->idle(server->idle_userdata);
}

void tftp_server_free(struct tftp_server *server)
{
	if (!server)
		return;
	while (server->conns)
		conn_free(server->conns);
	if (server->fd >= 0) {
		evloop_del_fd(server->loop, server->fd);
		close(server->fd);
	}
	evloop_timer_free(server->idle_timer);
	tftp_root_free(server->root);
	free(server);
}

static int open_socket(struct tftp_server *server, struct herd_error *err)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(server->cfg.port)};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return herd_error_set(err, errno, "tftp: socket: %m");
	server->fd = fd;
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		return herd_error_set(err, errno, "tftp: IP_PKTINFO: %m");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (server->interface[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, server->interface,
					       (socklen_t)strlen(server->interface)) < 0)
		return herd_error_set(err, errno, "tftp: bind to interface %s: %m",
				      server->interface);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return herd_error_set(err, errno, "tftp: bind UDP port %u: %m", server->cfg.port);
	return evloop_add_fd(server->loop, fd, EPOLLIN, on_request_readable, server) < 0
		   ? herd_error_set(err, EIO, "tftp: cannot watch the socket")
		   : 0;
}

int tftp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct tftp_server **ret, struct herd_error *err)
{
	struct tftp_server *server;
	int r;

	if (!cfg->tftp.root)
		return herd_error_set(err, EINVAL, "tftp: no root given");
	if (strlen(cfg->tftp.root) >= sizeof(server->root_spec))
		return herd_error_set(err, ENAMETOOLONG, "tftp: root path too long");
	if (cfg->interface && strlen(cfg->interface) >= IF_NAMESIZE)
		return herd_error_set(err, EINVAL, "tftp: interface name too long");
	server = calloc(1, sizeof(*server));
	if (!server)
		return herd_error_set(err, ENOMEM, "tftp: out of memory");
	server->loop = loop;
	server->log = log;
	server->fd = -1;
	server->cfg = cfg->tftp;
	memcpy(server->root_spec, cfg->tftp.root, strlen(cfg->tftp.root) + 1);
	server->cfg.root = server->root_spec;
	if (cfg->interface)
		memcpy(server->interface, cfg->interface, strlen(cfg->interface) + 1);
	if (!server->cfg.port)
		server->cfg.port = 69;
	if (!server->cfg.max_windowsize)
		server->cfg.max_windowsize = 64;
	if (server->cfg.max_windowsize > TFTP_WINDOWSIZE_MAX)
		server->cfg.max_windowsize = TFTP_WINDOWSIZE_MAX;
	if (server->cfg.max_blksize > TFTP_BLKSIZE_MAX)
		server->cfg.max_blksize = TFTP_BLKSIZE_MAX;
	if (!server->cfg.max_transfers)
		server->cfg.max_transfers = 4096;
	if (!server->cfg.max_per_client)
		server->cfg.max_per_client = 64;

	r = tftp_root_open(server->root_spec, NULL, &server->root, err);
	if (r < 0) {
		herd_error_prefix(err, -r, "tftp: root");
		tftp_server_free(server);
		return r;
	}
	r = open_socket(server, err);
	if (r >= 0 && !(server->idle_timer = evloop_timer_new(loop, on_idle_timer, server)))
		r = herd_error_set(err, ENOMEM, "tftp: out of memory");
	if (r < 0) {
		tftp_server_free(server);
		return r;
	}
	netlog(log, NETLOG_INFO, "tftp", "serving %s (%s) on UDP port %u", server->root_spec,
	       tftp_root_is_image(server->root) ? "image partition" : "directory",
	       server->cfg.port);
	*ret = server;
	return 0;
}

int tftp_server_reload(struct tftp_server *server, struct herd_error *err)
{
	struct tftp_root *root = NULL;
	int r = tftp_root_open(server->root_spec, NULL, &root, err);

	if (r < 0)
		return herd_error_prefix(err, -r, "tftp: reload %s", server->root_spec);
	/* Running transfers hold references to the old root's files. */
	tftp_root_free(server->root);
	server->root = root;
	netlog(server->log, NETLOG_INFO, "tftp", "reloaded %s", server->root_spec);
	return 0;
}

void tftp_server_drain(struct tftp_server *server, void (*idle)(void *userdata), void *userdata)
{
	server->draining = true;
	server->idle = idle;
	server->idle_userdata = userdata;
	if (server->active)
		netlog(server->log, NETLOG_INFO, "tftp", "draining %u transfers", server->active);
	maybe_idle(server);
}

unsigned tftp_server_active(const struct tftp_server *server)
{
	return server->active;
}
