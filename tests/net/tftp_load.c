/*
 * tftp_load.c — many TFTP downloads at once from one process, for
 * bench/tftp.sh.
 *
 *   tftp_load SERVER FILE COUNT [-b BLKSIZE] [-w WINDOWSIZE] [-c LOCAL_COPY]
 *             [-p PORT] [-t TIMEOUT_MS]
 *
 * COUNT transfers of FILE run at once, each on its own UDP socket (so the
 * server sees COUNT clients, as it does when COUNT boards power on), with
 * the options RFC 2347/2348/7440 define (blksize, tsize, windowsize; the
 * defaults — blksize 1468, windowsize 1 — are what the Raspberry Pi
 * bootloader and curl ask for).  One epoll loop drives them all, so on a
 * small machine the clients cost little CPU and the server's own cost per
 * packet decides the throughput — where curl, one process and one wake-up
 * per block, spends most of the machine itself.  With -c every block is
 * compared with the local copy at its offset, and the size must match.
 *
 * Prints one line: "COUNT transfers, OK ok, BYTES bytes in MS ms, X MiB/s"
 * and exits 0 only when every transfer completed intact.
 *
 * Written from RFC 1350/2347/2348/2349/7440 without libherd, so a bench
 * or test does not check herd's TFTP with herd's own code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };

struct xfer {
	int fd;
	bool connected, done, failed;
	uint32_t blksize, windowsize;
	uint64_t next_block; /* 64-bit count of the next expected DATA block */
	uint64_t acked;	     /* the last block acknowledged */
	uint64_t bytes;
	uint64_t deadline_ms;
	unsigned retries;
	uint8_t last_sent[600]; /* the RRQ or the last ACK, resent on timeout */
	size_t last_len;
	char why[96];
};

static struct sockaddr_in server;
static const uint8_t *copy;
static uint64_t copy_size;
static uint64_t timeout_ms = 1000;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fail(struct xfer *x, const char *why)
{
	if (x->done || x->failed)
		return;
	x->failed = true;
	snprintf(x->why, sizeof(x->why), "%s", why);
}

static void transmit(struct xfer *x)
{
	ssize_t n;

	if (x->connected)
		n = send(x->fd, x->last_sent, x->last_len, MSG_DONTWAIT);
	else
		n = sendto(x->fd, x->last_sent, x->last_len, MSG_DONTWAIT,
			   (const struct sockaddr *)&server, sizeof(server));
	(void)n; /* a lost send is a lost packet: the timeout resends */
	x->deadline_ms = now_ms() + timeout_ms;
}

static void send_ack(struct xfer *x, uint64_t block)
{
	x->acked = block;
	x->last_sent[0] = 0;
	x->last_sent[1] = OP_ACK;
	x->last_sent[2] = (uint8_t)(block >> 8);
	x->last_sent[3] = (uint8_t)block;
	x->last_len = 4;
	x->retries = 0;
	transmit(x);
}

/* Append "NAME\0VALUE\0" (RFC 2347) at `at`; the RRQ fits: main() limits
 * the file name so that every option does. */
static size_t put_option(uint8_t *p, size_t cap, size_t at, const char *name, unsigned long value)
{
	int n = snprintf((char *)p + at, cap - at, "%s%c%lu", name, 0, value);

	return at + (size_t)n + 1;
}

static void send_rrq(struct xfer *x, const char *file, uint32_t blksize, uint32_t windowsize)
{
	uint8_t *p = x->last_sent;
	size_t cap = sizeof(x->last_sent), at = 2, len = strlen(file);

	p[0] = 0;
	p[1] = OP_RRQ;
	memcpy(p + at, file, len + 1);
	at += len + 1;
	memcpy(p + at, "octet", sizeof("octet"));
	at += sizeof("octet");
	at = put_option(p, cap, at, "blksize", blksize);
	at = put_option(p, cap, at, "tsize", 0);
	if (windowsize > 1)
		at = put_option(p, cap, at, "windowsize", windowsize);
	x->last_len = at;
	transmit(x);
}

/* The options the server accepted (RFC 2347): it may lower what we asked. */
static void read_oack(struct xfer *x, const uint8_t *p, size_t len)
{
	size_t at = 2;

	while (at < len) {
		const char *name = (const char *)p + at;
		size_t nl = strnlen(name, len - at);
		const char *value;

		if (at + nl + 1 >= len)
			break;
		value = name + nl + 1;
		if (!memchr(value, 0, len - (at + nl + 1)))
			break;
		if (!strcasecmp(name, "blksize"))
			x->blksize = (uint32_t)strtoul(value, NULL, 10);
		else if (!strcasecmp(name, "windowsize"))
			x->windowsize = (uint32_t)strtoul(value, NULL, 10);
		else if (!strcasecmp(name, "tsize") && copy &&
			 strtoull(value, NULL, 10) != copy_size)
			fail(x, "tsize differs from the local copy");
		at += nl + 1 + strlen(value) + 1;
	}
}

static void on_packet(struct xfer *x, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	unsigned op = len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;

	if (!x->connected) {
		/* The server answers from its transfer port (its TID). */
		if (from->sin_addr.s_addr != server.sin_addr.s_addr)
			return;
		if (connect(x->fd, (const struct sockaddr *)from, sizeof(*from)) < 0) {
			fail(x, "connect to the transfer port failed");
			return;
		}
		x->connected = true;
	}
	if (op == OP_ERROR) {
		char why[80];

		snprintf(why, sizeof(why), "server error: %.*s", (int)(len > 4 ? len - 4 : 0),
			 (const char *)p + 4);
		fail(x, why);
		return;
	}
	if (op == OP_OACK && x->next_block == 1) {
		read_oack(x, p, len);
		if (!x->failed)
			send_ack(x, 0);
		return;
	}
	if (op != OP_DATA || len < 4)
		return;
	uint16_t wire = (uint16_t)(p[2] << 8 | p[3]);
	size_t data = len - 4;

	if (wire != (uint16_t)x->next_block) {
		/* A gap in a window: acknowledge what we have so the server
		 * resends from there (RFC 7440 section 4).  In lock step, a
		 * repeat of the last block means our ACK was lost: repeat it. */
		if (x->windowsize > 1 || wire == (uint16_t)x->acked)
			send_ack(x, x->next_block - 1);
		return;
	}
	if (data > x->blksize) {
		fail(x, "DATA larger than the blksize");
		return;
	}
	if (copy) {
		uint64_t off = (x->next_block - 1) * x->blksize;

		if (off + data > copy_size || memcmp(copy + off, p + 4, data) != 0) {
			fail(x, "data differs from the local copy");
			return;
		}
	}
	x->bytes += data;
	if (data < x->blksize) {
		if (copy && x->bytes != copy_size) {
			fail(x, "size differs from the local copy");
			return;
		}
		send_ack(x, x->next_block);
		x->done = true;
		return;
	}
	if (x->next_block - x->acked == x->windowsize)
		send_ack(x, x->next_block);
	else
		x->deadline_ms = now_ms() + timeout_ms;
	x->next_block++;
}

static void usage(void)
{
	fprintf(stderr, "usage: tftp_load SERVER FILE COUNT [-b BLKSIZE] [-w WINDOWSIZE] "
			"[-c LOCAL_COPY] [-p PORT] [-t TIMEOUT_MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint32_t blksize = 1468, windowsize = 1;
	const char *copy_path = NULL;
	unsigned port = 69;
	int opt, ep;
	long count;

	while ((opt = getopt(argc, argv, "b:w:c:p:t:")) != -1) {
		switch (opt) {
		case 'b':
			blksize = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			windowsize = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			copy_path = optarg;
			break;
		case 'p':
			port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			timeout_ms = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	count = strtol(argv[optind + 2], NULL, 10);
	/* The RRQ with its options must fit in last_sent (and one packet). */
	if (strlen(argv[optind + 1]) > 400 || count < 1 || count > 10000 || blksize < 8 ||
	    blksize > 65464 || windowsize < 1 || windowsize > 65535 || !timeout_ms || !port ||
	    port > 65535)
		usage();
	server = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, argv[optind], &server.sin_addr) != 1) {
		fprintf(stderr, "tftp_load: %s: not an IPv4 address\n", argv[optind]);
		return 2;
	}
	if (copy_path) {
		int fd = open(copy_path, O_RDONLY | O_CLOEXEC);
		struct stat st;

		if (fd < 0 || fstat(fd, &st) < 0) {
			fprintf(stderr, "tftp_load: %s: %s\n", copy_path, strerror(errno));
			return 2;
		}
		copy_size = (uint64_t)st.st_size;
		copy = copy_size ? mmap(NULL, copy_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
		if (copy == MAP_FAILED) {
			fprintf(stderr, "tftp_load: %s: mmap: %s\n", copy_path, strerror(errno));
			return 2;
		}
		close(fd);
	}

	struct xfer *xs = calloc((size_t)count, sizeof(*xs));
	uint8_t packet[65536 + 4];
	long left = count;
	uint64_t t0 = now_ms(), last_scan = t0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!xs || ep < 0) {
		perror("tftp_load");
		return 2;
	}
	for (long i = 0; i < count; i++) {
		struct xfer *x = &xs[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};

		x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (x->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev) < 0) {
			perror("tftp_load: socket");
			return 2;
		}
		/* RFC 1350's defaults until an OACK says otherwise. */
		x->blksize = 512;
		x->windowsize = 1;
		x->next_block = 1;
		send_rrq(x, argv[optind + 1], blksize, windowsize);
	}
	while (left > 0) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 50);
		uint64_t now;

		for (int i = 0; i < n; i++) {
			struct xfer *x = evs[i].data.ptr;

			for (;;) {
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				ssize_t len = recvfrom(x->fd, packet, sizeof(packet), MSG_DONTWAIT,
						       (struct sockaddr *)&from, &fl);

				if (len < 0)
					break;
				if (x->done || x->failed)
					continue;
				on_packet(x, packet, (size_t)len, &from);
				if (x->done || x->failed) {
					epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
					left--;
					break;
				}
			}
		}
		now = now_ms();
		if (now - last_scan < 50)
			continue;
		last_scan = now;
		for (long i = 0; i < count; i++) {
			struct xfer *x = &xs[i];

			if (x->done || x->failed || now < x->deadline_ms)
				continue;
			if (++x->retries > 10) {
				fail(x, "timed out");
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				left--;
				continue;
			}
			transmit(x);
		}
	}

	uint64_t ms = now_ms() - t0, bytes = 0;
	long ok = 0;

	for (long i = 0; i < count; i++) {
		bytes += xs[i].bytes;
		if (xs[i].done)
			ok++;
		else
			fprintf(stderr, "tftp_load: transfer %ld: %s after %llu bytes\n", i,
				xs[i].why, (unsigned long long)xs[i].bytes);
		close(xs[i].fd);
	}
	printf("%ld transfers, %ld ok, %llu bytes in %llu ms, %.1f MiB/s\n", count, ok,
	       (unsigned long long)bytes, (unsigned long long)ms,
	       ms ? (double)bytes / 1048576.0 / ((double)ms / 1000.0) : 0.0);
	free(xs);
	return ok == count ? 0 : 1;
}
