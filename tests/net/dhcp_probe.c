/*
 * dhcp_probe.c — a tiny DHCP test client for tests/integration/dhcp.sh.
 *
 *   dhcp_probe pi4 IFACE [TIMEOUT_MS]
 *       broadcast a Raspberry Pi 4 bootloader DISCOVER (byte-exact to the
 *       netboot notes, built by tests/unit/dhcp_testlib.h) from port 68 and
 *       print the first reply for its xid:
 *         type=2 yiaddr=0.0.0.0 siaddr=10.1.1.1 opt43=0601030a04... opt60=PXEClient
 *         opt66=10.1.1.1 opt54=10.1.1.1 opt51=-
 *       or "none" when nothing came within the timeout (exit 0 either way).
 *   dhcp_probe garbage IFACE
 *       broadcast malformed packets: truncated, an option length past the
 *       end, wrong op, a server message, a 1400-byte option list, 8 bytes.
 *
 * The reply is read with an option walk of its own, not with libherd, so
 * the test does not check herd with herd.  The interface needs no address:
 * Linux sends limited broadcasts from 0.0.0.0 on a socket bound to it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../unit/dhcp_testlib.h"

static int open_socket(const char *ifname)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(68)};

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "dhcp_probe: socket on %s: %s\n", ifname, strerror(errno));
		exit(2);
	}
	return fd;
}

static void send_bytes(int fd, const uint8_t *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(67),
				 .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fprintf(stderr, "dhcp_probe: send: %s\n", strerror(errno));
		exit(2);
	}
}

static void print_ip(const char *name, const uint8_t *p)
{
	printf(" %s=%u.%u.%u.%u", name, p[0], p[1], p[2], p[3]);
}

/* Print the fields the test checks; options walked in the options field. */
static void print_reply(const uint8_t *buf, size_t len)
{
	const uint8_t *opt[256] = {0};
	uint8_t optlen[256] = {0};
	size_t i = 240;

	while (i < len && buf[i] != 255) {
		if (buf[i] == 0) {
			i++;
			continue;
		}
		if (i + 1 >= len || i + 2 + buf[i + 1] > len)
			break;
		opt[buf[i]] = buf + i + 2;
		optlen[buf[i]] = buf[i + 1];
		i += 2 + buf[i + 1];
	}
	printf("type=%u", opt[53] ? opt[53][0] : 0);
	print_ip("yiaddr", buf + 16);
	print_ip("siaddr", buf + 20);
	printf(" opt43=");
	for (size_t k = 0; opt[43] && k < optlen[43]; k++)
		printf("%02x", opt[43][k]);
	printf(" opt60=%.*s", opt[60] ? optlen[60] : 1, opt[60] ? (const char *)opt[60] : "-");
	printf(" opt66=%.*s", opt[66] ? optlen[66] : 1, opt[66] ? (const char *)opt[66] : "-");
	if (opt[54] && optlen[54] == 4)
		print_ip("opt54", opt[54]);
	printf(" opt51=%s opt97=%u\n", opt[51] ? "yes" : "-", opt[97] ? optlen[97] : 0);
}

static int probe_pi4(const char *ifname, int timeout_ms)
{
	static const uint8_t mac[6] = {0xe4, 0x5f, 0x01, 0x09, 0x02, 0xf7};
	struct test_packet t;
	uint8_t buf[2048];
	int fd = open_socket(ifname);
	uint32_t xid = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	struct timespec start, now;

	tp_pi4_discover(&t, xid, mac);
	send_bytes(fd, t.data, t.length);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 240 || buf[0] != 2)
			continue;
		if (((uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 |
		     buf[7]) != xid)
			continue;
		print_reply(buf, (size_t)n);
		close(fd);
		return 0;
	}
	printf("none\n");
	close(fd);
	return 0;
}

static int send_garbage(const char *ifname)
{
	static const uint8_t mac[6] = {0x02, 0xba, 0xd0, 0, 0, 1};
	struct test_packet t;
	int fd = open_socket(ifname);

	/* truncated inside the header */
	tp_init(&t, 1, mac);
	send_bytes(fd, t.data, 100);
	/* option length past the end */
	tp_init(&t, 2, mac);
	tp_opt_u8(&t, 53, 1);
	t.data[t.length++] = 60;
	t.data[t.length++] = 250;
	t.data[t.length++] = 'x';
	send_bytes(fd, t.data, t.length);
	/* a BOOTREPLY */
	tp_init(&t, 3, mac);
	tp_opt_u8(&t, 53, 1);
	tp_end(&t);
	t.data[0] = 2;
	send_bytes(fd, t.data, t.length);
	/* a server message type from a client */
	tp_init(&t, 4, mac);
	tp_opt_u8(&t, 53, 5);
	tp_end(&t);
	send_bytes(fd, t.data, t.length);
	/* bad message type length */
	tp_init(&t, 5, mac);
	tp_opt(&t, 53, "\x01\x01\x01", 3);
	tp_end(&t);
	send_bytes(fd, t.data, t.length);
	/* a huge option list: 1400 bytes of options, none END-terminated */
	tp_init(&t, 6, mac);
	while (t.length + 2 < 1500)
		tp_opt(&t, 250, "", 0);
	send_bytes(fd, t.data, t.length);
	/* eight bytes */
	send_bytes(fd, (const uint8_t *)"garbage!", 8);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "pi4") == 0)
		return probe_pi4(argv[2], argc >= 4 ? (int)strtol(argv[3], NULL, 10) : 2000);
	if (argc == 3 && strcmp(argv[1], "garbage") == 0)
		return send_garbage(argv[2]);
	fprintf(stderr, "usage: dhcp_probe pi4 IFACE [TIMEOUT_MS] | garbage IFACE\n");
	return 2;
}
