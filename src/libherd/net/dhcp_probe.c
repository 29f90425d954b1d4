/*
 * dhcp_probe.c — conflict detection for server mode: before a DISCOVER is
 * offered an address nobody holds a lease on, ask the link who has it.
 *
 * The handler (dhcp_server.c) defers such a DISCOVER (DHCP_HANDLE_PROBE)
 * with the address already held for the client.  Here the DISCOVER waits
 * in a queue while an RFC 5227 ARP probe ("who has IP? tell 0.0.0.0",
 * broadcast from our MAC) goes out on the interface; an ARP packet from
 * another MAC that claims the address, or probes for it too, is a
 * conflict: the address is quarantined (dhcp_server_probe_done) and the
 * DISCOVER is handled again at once, which picks and probes another
 * address (at most DHCP_PROBE_ATTEMPTS).  Silence for config.probe_ms
 * vouches for the address and the DISCOVER gets its OFFER.  The client
 * itself answering for its old address is no conflict.
 *
 * The queue is FIFO: every entry waits the same time, so deadlines only
 * grow and one timer, armed for the head, serves them all.  Lease
 * changes are committed before the replies that follow them leave, like
 * the receive path (dhcp.c).
 *
 * The packet socket (AF_PACKET, ETH_P_ARP) needs CAP_NET_RAW; it is
 * opened with the UDP socket, before privileges are dropped.  Without it
 * probing is off, with one warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/macros.h"
#include "net/dhcp_private.h"
#include "net/evloop.h"
#include "net/netlog.h"

/* DISCOVERs waiting for a probe at once; more are dropped (the client
 * retries) with a log line. */
#define DHCP_PROBES_MAX 4096

#define ARP_PACKET_SIZE 28
#define ARP_REQUEST	1
#define ARP_REPLY	2

struct dhcp_probe {
	struct dhcp_probe *next;
	uint64_t deadline_us;
	uint32_t ip;
	uint8_t mac[6];
	int attempts;
	size_t length;
	uint8_t packet[DHCP_PACKET_MAX];
};

struct dhcp_prober {
	int fd;
	uint8_t hwaddr[6];
	struct evloop_timer *timer;
	struct dhcp_probe *head, *tail;
	size_t count;
	uint64_t dropped, send_failures;
};

static void send_probe(struct dhcp_server *s, uint32_t ip)
{
	struct dhcp_prober *pr = s->prober;
	uint8_t arp[ARP_PACKET_SIZE] = {0};
	struct sockaddr_ll to = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ARP),
	    .sll_ifindex = s->ifindex,
	    .sll_halen = 6,
	    .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	char a[16];

	put_be16(arp, 1);	     /* Ethernet */
	put_be16(arp + 2, ETH_P_IP); /* IPv4 */
	arp[4] = 6;		     /* hardware address length */
	arp[5] = 4;		     /* protocol address length */
	put_be16(arp + 6, ARP_REQUEST);
	memcpy(arp + 8, pr->hwaddr, 6);
	/* sender IP 0.0.0.0 (RFC 5227 §2.1.1): nobody's ARP cache learns
	 * from a probe; target MAC zero; target IP the address. */
	put_be32(arp + 24, ip);
	if (sendto(pr->fd, arp, sizeof(arp), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		pr->send_failures++;
		netlog(s->log, NETLOG_WARN, "dhcp", "ARP probe for %s: %s", dhcp_ip_string(ip, a),
		       strerror(errno));
	}
}

static void arm(struct dhcp_server *s)
{
	struct dhcp_prober *pr = s->prober;

	if (pr->head)
		evloop_timer_arm(pr->timer, pr->head->deadline_us);
	else
		evloop_timer_disarm(pr->timer);
}

static void append(struct dhcp_prober *pr, struct dhcp_probe *p)
{
	p->next = NULL;
	if (pr->tail)
		pr->tail->next = p;
	else
		pr->head = p;
	pr->tail = p;
	pr->count++;
}

/* Unlink the entry after prev (NULL: the head) and return it. */
static struct dhcp_probe *unlink_after(struct dhcp_prober *pr, struct dhcp_probe *prev)
{
	struct dhcp_probe *p = prev ? prev->next : pr->head;

	if (prev)
		prev->next = p->next;
	else
		pr->head = p->next;
	if (pr->tail == p)
		pr->tail = prev;
	pr->count--;
	return p;
}

/* Queue (or requeue, attempts counting on) a deferred DISCOVER and send
 * its probe.  Takes p when given, else copies the packet. */
static void enqueue(struct dhcp_server *s, struct dhcp_probe *p, const uint8_t *packet,
		    size_t length, const struct dhcp_reply *deferred, int attempts)
{
	struct dhcp_prober *pr = s->prober;
	char a[16], m[18];

	/* A client that asks again while waiting keeps one place: the newer
	 * DISCOVER (its xid) replaces the older. */
	for (struct dhcp_probe *prev = NULL, *q = pr->head; q; prev = q, q = q->next)
		if (q != p && memcmp(q->mac, deferred->mac, 6) == 0) {
			q = unlink_after(pr, prev);
			attempts = MAX(attempts, q->attempts);
			free(q);
			break;
		}
	if (attempts > DHCP_PROBE_ATTEMPTS || (!p && pr->count >= DHCP_PROBES_MAX)) {
		pr->dropped++;
		netlog(s->log, NETLOG_WARN, "dhcp", "DISCOVER from %s dropped: %s",
		       dhcp_mac_string(deferred->mac, m),
		       attempts > DHCP_PROBE_ATTEMPTS ? "every address it was given is in use"
						      : "too many probes waiting");
		free(p);
		return;
	}
	if (!p) {
		p = malloc(sizeof(*p));
		if (!p) {
			pr->dropped++;
			return;
		}
		memcpy(p->packet, packet, length);
		p->length = length;
	}
	p->ip = deferred->probe_ip;
	memcpy(p->mac, deferred->mac, 6);
	p->attempts = attempts;
	p->deadline_us = evloop_now_us(s->loop) + (uint64_t)s->config.probe_ms * 1000;
	append(pr, p);
	netlog(s->log, NETLOG_DEBUG, "dhcp", "ARP probe for %s (for %s, attempt %d)",
	       dhcp_ip_string(p->ip, a), dhcp_mac_string(p->mac, m), attempts);
	send_probe(s, p->ip);
	arm(s);
}

void dhcp_probe_defer(struct dhcp_server *s, const uint8_t *packet, size_t length,
		      const struct dhcp_reply *deferred)
{
	enqueue(s, NULL, packet, length, deferred, 1);
}

/* Report the probe's outcome, handle the DISCOVER again; a reply goes to
 * the batch (out[*replies]), a new probe back into the queue.  Takes p. */
static void finish(struct dhcp_server *s, struct dhcp_probe *p, const uint8_t *answered_by,
		   int64_t now, int *replies)
{
	struct dhcp_reply *out = dhcp_reply_slot(s, *replies);
	int r = dhcp_server_probe_done(s, p->ip, answered_by, now);

	if (r >= 0)
		r = dhcp_server_resume(s, p->packet, p->length, now, out);
	if (r == 1) {
		dhcp_queue_reply(s, (*replies)++);
	} else if (r == DHCP_HANDLE_PROBE) {
		enqueue(s, p, NULL, 0, out, p->attempts + 1);
		return;
	} else if (r < 0) {
		netlog(s->log, NETLOG_ERROR, "dhcp", "lease database: %s", strerror(-r));
	}
	free(p);
}

static void on_timer(struct evloop *loop, struct evloop_timer *timer, void *userdata)
{
	struct dhcp_server *s = userdata;
	struct dhcp_prober *pr = s->prober;
	uint64_t now_us = evloop_update_now(loop);
	int64_t now = dhcp_wall_clock_s();
	int replies = 0;

	(void)timer;
	while (pr->head && pr->head->deadline_us <= now_us) {
		finish(s, unlink_after(pr, NULL), NULL, now, &replies);
		if (replies == DHCP_BATCH) {
			dhcp_flush(s, replies);
			replies = 0;
		}
	}
	dhcp_flush(s, replies);
	arm(s);
}

/* Does this ARP packet from sha say that ip is taken?  Its sender claims
 * it, or (sender 0.0.0.0) probes for it as well (RFC 5227 §2.1.1).  The
 * client we hold the address for is not a conflict. */
static bool claims(const struct dhcp_probe *p, const uint8_t *sha, uint32_t spa, uint32_t tpa,
		   uint16_t op)
{
	if (memcmp(sha, p->mac, 6) == 0)
		return false;
	if (spa)
		return spa == p->ip;
	return op == ARP_REQUEST && tpa == p->ip;
}

static void on_arp(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct dhcp_server *s = userdata;
	struct dhcp_prober *pr = s->prober;
	int64_t now = dhcp_wall_clock_s();
	int replies = 0;

	(void)loop;
	(void)events;
	for (int n = 0; n < 256; n++) {
		uint8_t arp[64];
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t got = recvfrom(fd, arp, sizeof(arp), MSG_DONTWAIT, (struct sockaddr *)&from,
				       &fromlen);
		uint32_t spa, tpa;
		uint16_t op;

		if (got < 0)
			break;
		if (got < ARP_PACKET_SIZE || from.sll_pkttype == PACKET_OUTGOING || arp[0] != 0 ||
		    arp[1] != 1 || arp[2] != 0x08 || arp[3] != 0x00 || arp[4] != 6 || arp[5] != 4 ||
		    memcmp(arp + 8, pr->hwaddr, 6) == 0)
			continue;
		op = (uint16_t)(arp[6] << 8 | arp[7]);
		if (op != ARP_REQUEST && op != ARP_REPLY)
			continue;
		spa = get_be32(arp + 14);
		tpa = get_be32(arp + 24);
		for (struct dhcp_probe *prev = NULL, *p = pr->head; p; prev = p, p = p->next)
			if (claims(p, arp + 8, spa, tpa, op)) {
				finish(s, unlink_after(pr, prev), arp + 8, now, &replies);
				break;
			}
		if (replies == DHCP_BATCH) {
			dhcp_flush(s, replies);
			replies = 0;
		}
	}
	dhcp_flush(s, replies);
	arm(s);
}

int dhcp_probe_open(struct dhcp_server *s)
{
	struct dhcp_prober *pr;
	struct ifreq ifr = {0};
	struct sockaddr_ll addr = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ARP),
	    .sll_ifindex = s->ifindex,
	};
	const char *why = NULL;
	int fd;

	if (s->config.mode != DHCP_MODE_SERVER || s->config.probe_ms == 0)
		return 0;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->fd = -1;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0) {
		why = "packet socket";
		goto off;
	}
	pr->fd = fd;
	memcpy(ifr.ifr_name, s->ifname, strlen(s->ifname));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		why = "hardware address";
		goto off;
	}
	if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		errno = EAFNOSUPPORT;
		why = "not an Ethernet interface";
		goto off;
	}
	memcpy(pr->hwaddr, ifr.ifr_hwaddr.sa_data, 6);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		why = "bind";
		goto off;
	}
	pr->timer = evloop_timer_new(s->loop, on_timer, s);
	if (!pr->timer) {
		errno = ENOMEM;
		why = "timer";
		goto off;
	}
	if (evloop_add_fd(s->loop, fd, EPOLLIN, on_arp, s) < 0) {
		why = "event loop";
		goto off;
	}
	s->prober = pr;
	netlog(s->log, NETLOG_INFO, "dhcp",
	       "conflict check: ARP probe, %u ms, before each new offer", s->config.probe_ms);
	return 0;
off:
	netlog(s->log, NETLOG_WARN, "dhcp", "conflict check off (%s: %s); offers are not probed",
	       why, strerror(errno));
	if (pr->timer)
		evloop_timer_free(pr->timer);
	if (pr->fd >= 0)
		close(pr->fd);
	free(pr);
	s->config.probe_ms = 0;
	return 0;
}

void dhcp_probe_close(struct dhcp_server *s)
{
	struct dhcp_prober *pr = s->prober;

	if (!pr)
		return;
	if (pr->count || pr->dropped || pr->send_failures)
		netlog(s->log, NETLOG_INFO, "dhcp",
		       "conflict check: %zu DISCOVERs still waiting, %llu dropped, %llu probes not "
		       "sent",
		       pr->count, (unsigned long long)pr->dropped,
		       (unsigned long long)pr->send_failures);
	while (pr->head)
		free(unlink_after(pr, NULL));
	if (s->loop)
		evloop_del_fd(s->loop, pr->fd);
	close(pr->fd);
	evloop_timer_free(pr->timer);
	free(pr);
	s->prober = NULL;
}
