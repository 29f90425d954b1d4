/*
 * tftp_transfer.c — one read transfer's state machine (see tftp_transfer.h
 * for the behaviour and the specs it follows).
 *
 * The window is lock-step, as RFC 7440 describes it: the server sends
 * blocks acked+1 .. acked+windowsize, then waits for the ACK of the last
 * one.  An ACK of a block inside the window means the client saw a gap
 * and dropped everything after that block, so the next window starts
 * right after it.  ACK numbers are 16 bits: they are mapped to the unique
 * absolute block in (acked, sent_end] with the same low 16 bits; there is
 * at most one because a window never exceeds 65535 blocks.
 */
#include <string.h>

#include "net/tftp_transfer.h"

void tftp_transfer_limits_default(struct tftp_transfer_limits *ret)
{
	*ret = (struct tftp_transfer_limits){
	    .max_blksize = 1468, /* 1500 - 20 (IPv4) - 8 (UDP) - 4 (TFTP) */
	    .max_windowsize = 64,
	    .rto_initial_us = 500 * 1000,
	    .rto_min_us = 5 * 1000,
	    .rto_max_us = 5 * 1000 * 1000,
	    .max_retries = 6,
	    .give_up_us = 15ull * 1000 * 1000,
	};
}

static uint32_t clamp_u32(uint64_t v, uint32_t lo, uint32_t hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return (uint32_t)v;
}

void tftp_transfer_init(struct tftp_transfer *t, const struct tftp_request *req, uint64_t size,
			const struct tftp_transfer_limits *limits)
{
	uint32_t max_blksize = clamp_u32(limits->max_blksize, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX);
	uint32_t max_window = clamp_u32(limits->max_windowsize, 1, TFTP_WINDOWSIZE_MAX);

	memset(t, 0, sizeof(*t));
	t->state = TFTP_TRANSFER_SENDING;
	t->size = size;
	t->blksize = TFTP_BLKSIZE_DEFAULT;
	t->windowsize = 1;
	t->rto_min_us = limits->rto_min_us ? limits->rto_min_us : 1000;
	t->rto_max_us = limits->rto_max_us > t->rto_min_us ? limits->rto_max_us : t->rto_min_us;
	t->rto_us = clamp_u32(limits->rto_initial_us, t->rto_min_us, t->rto_max_us);
	t->max_retries = limits->max_retries;
	t->give_up_us = limits->give_up_us;

	if (req->has_blksize) {
		/* RFC 2348: the server may answer with a smaller size. */
		t->blksize = req->blksize < max_blksize ? req->blksize : max_blksize;
		t->oack.blksize = true;
		t->oack.blksize_value = t->blksize;
	} else if (t->blksize > max_blksize) {
		t->blksize = max_blksize;
	}
	if (req->has_tsize && size > 0) {
		/* RFC 2349: in an RRQ the client sends 0; we answer the size.
		 * Not for an empty file: curl (8.x) takes "tsize 0" in an OACK
		 * for invalid and quits without a word, so the option is simply
		 * not acknowledged (RFC 2347 lets the server drop any option). */
		t->oack.tsize = true;
		t->oack.tsize_value = size;
	}
	if (req->has_timeout) {
		/* RFC 2349: the interval to wait before retransmitting.  We start
		 * there and never wait longer, but still adapt downwards to the
		 * measured round trip. */
		uint32_t us = req->timeout * 1000u * 1000u;

		t->oack.timeout = true;
		t->oack.timeout_value = req->timeout;
		t->rto_us = us;
		t->rto_max_us = us;
		if (t->rto_min_us > us)
			t->rto_min_us = us;
	}
	if (req->has_windowsize) {
		t->windowsize = req->windowsize < max_window ? req->windowsize : max_window;
		t->oack.windowsize = true;
		t->oack.windowsize_value = t->windowsize;
	}
	t->send_oack = t->oack.blksize || t->oack.tsize || t->oack.timeout || t->oack.windowsize;
	t->oack_acked = !t->send_oack;
	t->last_block = size / t->blksize + 1;
}

static void send_none(struct tftp_send *ret)
{
	*ret = (struct tftp_send){.oack = false, .first = 1, .last = 0};
}

/* Send the window after `acked`, at `now`. */
static void send_window(struct tftp_transfer *t, uint64_t now_us, bool resend,
			struct tftp_send *ret)
{
	uint64_t last = t->acked + t->windowsize;

	if (last > t->last_block)
		last = t->last_block;
	t->sent_end = last;
	t->window_sent_us = now_us;
	t->retransmitted = resend;
	t->deadline_us = now_us + t->rto_us;
	t->blocks_sent += last - t->acked;
	if (resend)
		t->blocks_resent += last - t->acked;
	*ret = (struct tftp_send){.oack = false, .first = t->acked + 1, .last = last};
}

void tftp_transfer_start(struct tftp_transfer *t, uint64_t now_us, struct tftp_send *ret)
{
	t->progress_us = now_us;
	if (t->send_oack) {
		t->sent_end = 0;
		t->window_sent_us = now_us;
		t->retransmitted = false;
		t->deadline_us = now_us + t->rto_us;
		*ret = (struct tftp_send){.oack = true, .first = 1, .last = 0};
		return;
	}
	send_window(t, now_us, false, ret);
}

/* RFC 6298 section 2, in microseconds; the clock granularity term is our
 * minimum RTO. */
static void rtt_sample(struct tftp_transfer *t, uint64_t sample_us)
{
	uint32_t r = sample_us > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)sample_us;
	uint64_t rto;

	if (t->srtt_us == 0) {
		t->srtt_us = r ? r : 1;
		t->rttvar_us = r / 2;
	} else {
		uint32_t diff = t->srtt_us > r ? t->srtt_us - r : r - t->srtt_us;

		t->rttvar_us = (uint32_t)(((uint64_t)t->rttvar_us * 3 + diff) / 4);
		t->srtt_us = (uint32_t)(((uint64_t)t->srtt_us * 7 + r) / 8);
	}
	rto = (uint64_t)t->srtt_us + 4 * (uint64_t)t->rttvar_us;
	t->rto_us = clamp_u32(rto, t->rto_min_us, t->rto_max_us);
}

enum tftp_event tftp_transfer_receive(struct tftp_transfer *t, const uint8_t *buf, size_t len,
				      uint64_t now_us, struct tftp_send *ret)
{
	struct tftp_packet pkt;
	uint64_t in_flight, distance, block;

	send_none(ret);
	if (tftp_parse_packet(buf, len, &pkt) < 0)
		return TFTP_EVENT_MALFORMED;
	if (pkt.opcode == TFTP_OP_ERROR) {
		if (t->state != TFTP_TRANSFER_SENDING)
			return TFTP_EVENT_IGNORED;
		t->state = TFTP_TRANSFER_ABORTED;
		t->client_error_code = pkt.error_code;
		return TFTP_EVENT_ABORTED;
	}
	if (pkt.opcode != TFTP_OP_ACK)
		/* DATA, requests or OACK on a read transfer's port. */
		return TFTP_EVENT_MALFORMED;
	if (t->state != TFTP_TRANSFER_SENDING)
		return TFTP_EVENT_IGNORED;

	if (!t->oack_acked) {
		/* RFC 2347: the client acknowledges the OACK with ACK 0. */
		if (pkt.block != 0)
			return TFTP_EVENT_IGNORED;
		if (!t->retransmitted)
			rtt_sample(t, now_us - t->window_sent_us);
		t->oack_acked = true;
		t->retries = 0;
		t->progress_us = now_us;
		send_window(t, now_us, false, ret);
		return TFTP_EVENT_SEND;
	}

	/* Map the 16-bit number into (acked, sent_end]. */
	in_flight = t->sent_end - t->acked;
	distance = (uint16_t)((uint16_t)t->sent_end - pkt.block);
	if (distance >= in_flight)
		/* Already acknowledged (a duplicate ACK) or never sent: resending
		 * here is the sorcerer's apprentice bug, so do nothing and let
		 * the timer cover real loss. */
		return TFTP_EVENT_IGNORED;
	block = t->sent_end - distance;

	if (block == t->sent_end && !t->retransmitted)
		rtt_sample(t, now_us - t->window_sent_us);
	t->acked = block;
	t->retries = 0;
	t->progress_us = now_us;
	if (t->acked == t->last_block) {
		t->state = TFTP_TRANSFER_DONE;
		t->deadline_us = UINT64_MAX;
		return TFTP_EVENT_DONE;
	}
	/* A block inside the window: the rest of it is resent (RFC 7440). */
	send_window(t, now_us, block != t->sent_end, ret);
	return TFTP_EVENT_SEND;
}

uint64_t tftp_transfer_deadline(const struct tftp_transfer *t)
{
	return t->state == TFTP_TRANSFER_SENDING ? t->deadline_us : UINT64_MAX;
}

bool tftp_transfer_timeout(struct tftp_transfer *t, uint64_t now_us, struct tftp_send *ret)
{
	uint64_t rto;

	send_none(ret);
	if (t->state != TFTP_TRANSFER_SENDING)
		return false;
	if (now_us < t->deadline_us)
		return true;
	t->timeouts++;
	if (++t->retries > t->max_retries && now_us - t->progress_us >= t->give_up_us) {
		t->state = TFTP_TRANSFER_FAILED;
		t->deadline_us = UINT64_MAX;
		return false;
	}
	/* Back off: double the timeout (RFC 6298 section 5.5). */
	rto = (uint64_t)t->rto_us * 2;
	t->rto_us = clamp_u32(rto, t->rto_min_us, t->rto_max_us);
	if (!t->oack_acked) {
		t->window_sent_us = now_us;
		t->retransmitted = true;
		t->deadline_us = now_us + t->rto_us;
		*ret = (struct tftp_send){.oack = true, .first = 1, .last = 0};
		return true;
	}
	send_window(t, now_us, true, ret);
	return true;
}

void tftp_transfer_block(const struct tftp_transfer *t, uint64_t block, uint64_t *ret_offset,
			 uint32_t *ret_length, uint16_t *ret_wire_block)
{
	uint64_t offset = (block - 1) * t->blksize;
	uint64_t left = offset < t->size ? t->size - offset : 0;

	*ret_offset = offset;
	*ret_length = left < t->blksize ? (uint32_t)left : t->blksize;
	*ret_wire_block = (uint16_t)block;
}
