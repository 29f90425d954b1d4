/*
 * tftp_transfer.h — the state machine of one TFTP read transfer, with the
 * clock as a parameter.
 *
 * The transfer decides *which* packets go out and *when*; the caller does
 * the I/O: it feeds each packet the client sends (tftp_transfer_receive),
 * calls tftp_transfer_timeout once tftp_transfer_deadline() has passed,
 * and after each call sends what `struct tftp_send` names (an OACK, or
 * DATA blocks first..last, whose bytes tftp_transfer_block() locates in
 * the file).  Nothing here touches a socket, a file or the real clock, so
 * unit tests and the fuzz harness drive it with made-up times.
 *
 * Behaviour, with the spec it follows:
 *  - options: RFC 2347 negotiation — an OACK goes first when any option
 *    was accepted, and data starts after ACK 0; blksize (RFC 2348) capped
 *    by the server's limit, tsize (RFC 2349) answered with the file size,
 *    timeout (RFC 2349) used as the initial and maximum retransmission
 *    timeout, windowsize (RFC 7440) capped by the server's limit;
 *  - block numbers are 16 bits on the wire and wrap 65535 -> 0, so files
 *    of any size transfer; internally blocks are counted in 64 bits;
 *  - an ACK for the end of the window moves the window on; an ACK inside
 *    the window (RFC 7440: the client saw a gap) restarts the window after
 *    it; an ACK for an already acknowledged block is ignored, so duplicate
 *    ACKs never cause duplicate sends (RFC 1350's "sorcerer's apprentice");
 *  - the retransmission timeout adapts to the measured round trip
 *    (RFC 6298's smoothed RTT and variance, Karn's rule: no sample from a
 *    retransmitted window) and doubles on each timeout; the transfer fails
 *    after max_retries consecutive timeouts spanning at least give_up_us;
 *  - an ERROR from the client ends the transfer (the Raspberry Pi
 *    bootloader aborts after block 1 to test that a file exists).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "net/tftp_wire.h"

struct tftp_transfer_limits {
	uint32_t max_blksize;	 /* from the interface MTU; <= TFTP_BLKSIZE_MAX */
	uint32_t max_windowsize; /* <= TFTP_WINDOWSIZE_MAX */
	uint32_t rto_initial_us; /* before the first RTT sample */
	uint32_t rto_min_us;
	uint32_t rto_max_us;
	uint32_t max_retries; /* consecutive timeouts before giving up ... */
	uint64_t give_up_us;  /* ... and at least this long without progress */
};

/* Defaults: blksize up to 1468 (Ethernet MTU 1500), window up to 64,
 * first timeout 500 ms, RTO between 5 ms and 5 s; give up after 6
 * retries and 15 s without progress (a client descheduled on a loaded
 * machine, or a Pi with TFTP_FILE_TIMEOUT 30 s, must not lose its
 * transfer to a fast RTO). */
void tftp_transfer_limits_default(struct tftp_transfer_limits *ret);

enum tftp_transfer_state {
	TFTP_TRANSFER_SENDING = 1,
	TFTP_TRANSFER_DONE,    /* the last block was acknowledged */
	TFTP_TRANSFER_ABORTED, /* the client sent an ERROR */
	TFTP_TRANSFER_FAILED,  /* too many timeouts */
};

/* What the caller must send now. */
struct tftp_send {
	bool oack;	      /* the OACK (tftp_transfer_oack()) */
	uint64_t first, last; /* DATA blocks first..last (absolute); none when first > last */
};

/* What a received packet did. */
enum tftp_event {
	TFTP_EVENT_IGNORED = 0, /* duplicate or stale ACK, stray packet: nothing to do */
	TFTP_EVENT_SEND,	/* progress: send struct tftp_send */
	TFTP_EVENT_DONE,	/* transfer complete */
	TFTP_EVENT_ABORTED,	/* the client sent an ERROR */
	TFTP_EVENT_MALFORMED,	/* not a TFTP packet we understand: log, ignore */
};

struct tftp_transfer {
	enum tftp_transfer_state state;
	uint64_t size;	     /* file size in bytes */
	uint32_t blksize;    /* negotiated */
	uint32_t windowsize; /* negotiated */
	uint64_t last_block; /* number of DATA blocks: size / blksize + 1 */
	struct tftp_oack oack;
	bool send_oack;	 /* any option accepted: data waits for ACK 0 */
	bool oack_acked; /* ACK 0 seen (or no OACK) */

	uint64_t acked;	   /* highest block the client acknowledged */
	uint64_t sent_end; /* highest block of the window in flight */

	/* Retransmission timing (microseconds). */
	uint64_t window_sent_us; /* when the current window first went out */
	bool retransmitted;	 /* current window was resent: no RTT sample (Karn) */
	uint64_t deadline_us;
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t rto_min_us, rto_max_us;
	uint32_t retries, max_retries;
	uint64_t give_up_us;
	uint64_t progress_us; /* last time the client acknowledged something */

	/* Counters for logs and metrics. */
	uint64_t blocks_sent, blocks_resent, timeouts;
	uint16_t client_error_code;
};

/* Set up a read transfer of `size` bytes for `req` (an RRQ already
 * checked by the caller) and negotiate its options against `limits`. */
void tftp_transfer_init(struct tftp_transfer *t, const struct tftp_request *req, uint64_t size,
			const struct tftp_transfer_limits *limits);

/* First packets: the OACK, or the first window of data. */
void tftp_transfer_start(struct tftp_transfer *t, uint64_t now_us, struct tftp_send *ret);

/* A packet from the client's address and port. */
enum tftp_event tftp_transfer_receive(struct tftp_transfer *t, const uint8_t *buf, size_t len,
				      uint64_t now_us, struct tftp_send *ret);

/* When the caller must call tftp_transfer_timeout (UINT64_MAX once finished). */
uint64_t tftp_transfer_deadline(const struct tftp_transfer *t);

/* Deadline passed: returns true with the packets to resend, or false when
 * the transfer gave up (state FAILED) or is not sending. */
bool tftp_transfer_timeout(struct tftp_transfer *t, uint64_t now_us, struct tftp_send *ret);

/* Where absolute block `block` (1..last_block) lies in the file, and its
 * 16-bit wire number. */
void tftp_transfer_block(const struct tftp_transfer *t, uint64_t block, uint64_t *ret_offset,
			 uint32_t *ret_length, uint16_t *ret_wire_block);
