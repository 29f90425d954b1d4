/*
 * dhcp.c — the DHCP service's socket: UDP port 67 on one interface, fed
 * to the request handler (dhcp_server.c) on the serve event loop.
 *
 * The socket is bound to INADDR_ANY:67 so it sees broadcasts, and to the
 * interface with SO_BINDTODEVICE so it sees nothing else; IP_PKTINFO on
 * receive tells the arrival interface, on send it pins the source address
 * to the server's.  Each readable event drains the socket in batches of
 * DHCP_BATCH datagrams (recvmmsg), handles them, commits the lease changes
 * once (one fsync for the batch), and only then sends the replies
 * (sendmmsg) — so no ACK leaves before its lease is on disk, at one disk
 * flush per batch rather than per client.
 *
 * Replies to clients without an address go to 255.255.255.255:68 on the
 * interface (RFC 2131 §4.1 allows broadcast whenever unicast to yiaddr is
 * not possible; unicasting would need an ARP entry for an address the
 * client has not configured).  udhcpc, dhclient and the Raspberry Pi
 * bootloader all listen with raw sockets and take broadcasts.  Clients
 * that have an address (ciaddr: renewing, INFORM) get unicasts; relays
 * (giaddr) get unicasts to port 67.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "net/dhcp_private.h"
#include "net/evloop.h"
#include "net/netlog.h"
#include "net/serve.h"

/* Batches per readable event before yielding to the rest of the loop. */
#define DHCP_BATCHES_PER_EVENT 8

struct dhcp_batch {
	uint8_t in[DHCP_BATCH][DHCP_PACKET_MAX + 1];
	struct iovec in_iov[DHCP_BATCH];
	struct sockaddr_in in_from[DHCP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} in_control[DHCP_BATCH];
	struct mmsghdr in_msgs[DHCP_BATCH];

	struct dhcp_reply out[DHCP_BATCH];
	struct iovec out_iov[DHCP_BATCH];
	struct sockaddr_in out_to[DHCP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} out_control[DHCP_BATCH];
	struct mmsghdr out_msgs[DHCP_BATCH];
};

void dhcp_socket_close(struct dhcp_server *s)
{
	dhcp_probe_close(s);
	if (s->fd >= 0) {
		const struct dhcp_stats *st = &s->stats;
		netlog(s->log, NETLOG_INFO, "dhcp",
		       "stopping: %llu received, %llu offers, %llu acks, %llu naks, %llu declines, "
		       "%llu probes, %llu conflicts, %llu releases, %llu informs, %llu ignored, "
		       "%llu malformed, %llu send failures, %llu batches",
		       (unsigned long long)st->received, (unsigned long long)st->offers,
		       (unsigned long long)st->acks, (unsigned long long)st->naks,
		       (unsigned long long)st->declines, (unsigned long long)st->probes,
		       (unsigned long long)st->conflicts, (unsigned long long)st->releases,
		       (unsigned long long)st->informs, (unsigned long long)st->ignored,
		       (unsigned long long)st->malformed, (unsigned long long)s->send_failures,
		       (unsigned long long)s->batches);
		if (s->loop)
			evloop_del_fd(s->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	free(s->batch);
	s->batch = NULL;
}

int64_t dhcp_wall_clock_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static int receive_batch(struct dhcp_server *s)
{
	struct dhcp_batch *b = s->batch;

	for (int i = 0; i < DHCP_BATCH; i++) {
		b->in_iov[i] = (struct iovec){.iov_base = b->in[i], .iov_len = sizeof(b->in[i])};
		b->in_msgs[i].msg_hdr = (struct msghdr){
		    .msg_name = &b->in_from[i],
		    .msg_namelen = sizeof(b->in_from[i]),
		    .msg_iov = &b->in_iov[i],
		    .msg_iovlen = 1,
		    .msg_control = b->in_control[i].buf,
		    .msg_controllen = sizeof(b->in_control[i].buf),
		};
		b->in_msgs[i].msg_len = 0;
	}
	return recvmmsg(s->fd, b->in_msgs, DHCP_BATCH, MSG_DONTWAIT, NULL);
}

static int arrival_ifindex(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo info;
			memcpy(&info, CMSG_DATA(c), sizeof(info));
			return info.ipi_ifindex;
		}
	return 0;
}

struct dhcp_reply *dhcp_reply_slot(struct dhcp_server *s, int n)
{
	return &s->batch->out[n];
}

void dhcp_queue_reply(struct dhcp_server *s, int n)
{
	struct dhcp_batch *b = s->batch;
	struct dhcp_reply *r = &b->out[n];
	struct in_pktinfo info = {0};
	struct cmsghdr *c;

	b->out_iov[n] = (struct iovec){.iov_base = r->data, .iov_len = r->length};
	b->out_to[n] = (struct sockaddr_in){
	    .sin_family = AF_INET,
	    .sin_port = htons(r->dest_port),
	    .sin_addr.s_addr = htonl(r->dest_ip),
	};
	b->out_msgs[n].msg_hdr = (struct msghdr){
	    .msg_name = &b->out_to[n],
	    .msg_namelen = sizeof(b->out_to[n]),
	    .msg_iov = &b->out_iov[n],
	    .msg_iovlen = 1,
	    .msg_control = b->out_control[n].buf,
	    .msg_controllen = sizeof(b->out_control[n].buf),
	};
	/* Out of our interface, from our address, whatever the routes say. */
	c = CMSG_FIRSTHDR(&b->out_msgs[n].msg_hdr);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(info));
	info.ipi_ifindex = s->ifindex;
	info.ipi_spec_dst.s_addr = htonl(s->config.server_ip);
	memcpy(CMSG_DATA(c), &info, sizeof(info));
}

static void send_replies(struct dhcp_server *s, int count)
{
	struct dhcp_batch *b = s->batch;
	int sent = 0;

	while (sent < count) {
		int r = sendmmsg(s->fd, b->out_msgs + sent, (unsigned)(count - sent), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* One bad destination must not cost the rest of the batch. */
			s->send_failures++;
			netlog(s->log, NETLOG_WARN, "dhcp", "send %s to %s: %s",
			       dhcp_message_type_name(b->out[sent].message_type),
			       inet_ntoa(b->out_to[sent].sin_addr), strerror(errno));
			sent++;
			continue;
		}
		sent += r;
	}
}

void dhcp_flush(struct dhcp_server *s, int replies)
{
	struct herd_error err = {0};

	/* Durable before anyone hears of it. */
	if (dhcp_server_commit(s, &err) < 0) {
		netlog(s->log, NETLOG_ERROR, "dhcp", "%s; %d replies not sent",
		       herd_error_message(&err), replies);
		herd_error_clear(&err);
		return;
	}
	if (replies)
		send_replies(s, replies);
}

static void on_readable(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct dhcp_server *s = userdata;
	struct dhcp_batch *b = s->batch;

	for (int round = 0; round < DHCP_BATCHES_PER_EVENT; round++) {
		int got = receive_batch(s), replies = 0;
		int64_t now;

		if (got < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				netlog(s->log, NETLOG_WARN, "dhcp", "receive: %s", strerror(errno));
			return;
		}
		if (got == 0)
			return;
		now = dhcp_wall_clock_s();
		s->batches++;
		for (int i = 0; i < got; i++) {
			struct mmsghdr *m = &b->in_msgs[i];
			int ifindex = arrival_ifindex(&m->msg_hdr);
			int r;

			if (m->msg_hdr.msg_flags & MSG_TRUNC || m->msg_len > DHCP_PACKET_MAX) {
				s->stats.received++;
				s->stats.malformed++;
				netlog(s->log, NETLOG_WARN, "dhcp",
				       "ignored: datagram from %s longer than %d bytes",
				       inet_ntoa(b->in_from[i].sin_addr), DHCP_PACKET_MAX);
				continue;
			}
			if (ifindex && ifindex != s->ifindex)
				continue;
			r = dhcp_server_handle(s, b->in[i], m->msg_len, now, &b->out[replies]);
			if (r == DHCP_HANDLE_PROBE && s->prober)
				dhcp_probe_defer(s, b->in[i], m->msg_len, &b->out[replies]);
			else if (r == 1)
				dhcp_queue_reply(s, replies++);
		}
		dhcp_flush(s, replies);
		if (got < DHCP_BATCH)
			return;
	}
}

/* The interface's IPv4 address and netmask (SIOCGIFADDR/SIOCGIFNETMASK). */
static int interface_address(const char *ifname, uint32_t *ret_ip, uint32_t *ret_mask,
			     struct herd_error *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	struct sockaddr_in sin;

	if (fd < 0)
		return herd_error_set(err, errno, "dhcp: socket: %s", strerror(errno));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
		return herd_error_set(err, errno, "dhcp: interface %s has no IPv4 address: %s",
				      ifname, strerror(errno));
	memcpy(&sin, &ifr.ifr_addr, sizeof(sin));
	*ret_ip = ntohl(sin.sin_addr.s_addr);
	if (ioctl(fd, SIOCGIFNETMASK, &ifr) < 0)
		return herd_error_set(err, errno, "dhcp: interface %s: netmask: %s", ifname,
				      strerror(errno));
	memcpy(&sin, &ifr.ifr_netmask, sizeof(sin));
	*ret_mask = ntohl(sin.sin_addr.s_addr);
	return 0;
}

static int open_socket(struct dhcp_server *s, struct herd_error *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = {
	    .sin_family = AF_INET,
	    .sin_port = htons(s->config.server_port),
	    .sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1, rcvbuf = 4 << 20;

	if (fd < 0)
		return herd_error_set(err, errno, "dhcp: socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		return herd_error_set(err, errno, "dhcp: socket options: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, s->ifname, (socklen_t)strlen(s->ifname)) <
	    0)
		return herd_error_set(err, errno, "dhcp: bind to interface %s: %s", s->ifname,
				      strerror(errno));
	/* A hundred boards powering on at once: room for the burst.  FORCE
	 * needs CAP_NET_ADMIN; without it the plain option's cap applies. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return herd_error_set(err, errno, "dhcp: bind UDP port %u on %s: %s",
				      s->config.server_port, s->ifname, strerror(errno));
	s->fd = TAKE_FD(fd);
	return 0;
}

int dhcp_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct dhcp_server **ret, struct herd_error *err)
{
	struct dhcp_config config = cfg->dhcp;
	struct dhcp_server *s = NULL;
	unsigned ifindex;
	uint32_t ip = 0, mask = 0;
	char a[16], m[16];
	int r;

	if (!cfg->interface || !*cfg->interface)
		return herd_error_set(err, EINVAL, "dhcp: no --interface");
	if (strlen(cfg->interface) >= IF_NAMESIZE)
		return herd_error_set(err, EINVAL, "dhcp: interface name '%s' is too long",
				      cfg->interface);
	ifindex = if_nametoindex(cfg->interface);
	if (ifindex == 0)
		return herd_error_set(err, errno, "dhcp: interface %s: %s", cfg->interface,
				      strerror(errno));
	if (!config.server_ip || !config.netmask) {
		r = interface_address(cfg->interface, &ip, &mask, err);
		if (r < 0)
			return r;
		if (!config.server_ip)
			config.server_ip = ip;
		if (!config.netmask)
			config.netmask = mask;
	}
	config.db_path = cfg->db_path;

	r = dhcp_server_create(&config, log, &s, err);
	if (r < 0)
		return r;
	s->ifindex = (int)ifindex;
	memcpy(s->ifname, cfg->interface, strlen(cfg->interface) + 1);
	s->batch = calloc(1, sizeof(*s->batch));
	if (!s->batch) {
		dhcp_server_free(s);
		return herd_error_set(err, ENOMEM, "dhcp: out of memory");
	}
	r = open_socket(s, err);
	if (r >= 0) {
		r = evloop_add_fd(loop, s->fd, EPOLLIN, on_readable, s);
		if (r < 0)
			herd_error_set(err, -r, "dhcp: event loop: %s", strerror(-r));
		else
			s->loop = loop;
	}
	if (r >= 0) {
		r = dhcp_probe_open(s);
		if (r < 0)
			herd_error_set(err, -r, "dhcp: conflict check: %s", strerror(-r));
	}
	if (r < 0) {
		dhcp_server_free(s);
		return r;
	}
	if (config.mode == DHCP_MODE_SERVER)
		netlog(log, NETLOG_INFO, "dhcp",
		       "server on %s (%s/%s): range %s-%s, lease %u s, %zu static, %zu bound",
		       s->ifname, dhcp_ip_string(config.server_ip, a),
		       dhcp_ip_string(config.netmask, m),
		       dhcp_ip_string(config.range_first, (char[16]){0}),
		       dhcp_ip_string(config.range_last, (char[16]){0}), s->config.lease_time,
		       config.static_count, dhcp_leases_bound(s->leases, dhcp_wall_clock_s()));
	else
		netlog(log, NETLOG_INFO, "dhcp", "proxy on %s (%s): boot server %s", s->ifname,
		       dhcp_ip_string(config.server_ip, a), s->tftp_string);
	*ret = s;
	return 0;
}
