/*
 * fuzz_tftp.c — libFuzzer harness for the TFTP core.
 *
 * The input is cut into records "len(1) | op(1) | bytes[len]".  The first
 * record is parsed as a request (tftp_parse_request); its filename goes
 * through tftp_path_normalize.  A transfer is then set up from the parsed
 * request (or a default one) with a file size and limits taken from the
 * input, and the remaining records are fed to it as client packets or, when
 * op is odd, as clock jumps and timeouts.  Invariants are checked after
 * every step: the window stays within (acked, last_block], ignored packets
 * never ask for a send, a normalised path never climbs out of the root.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/tftp_path.h"
#include "net/tftp_transfer.h"
#include "net/tftp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *filename)
{
	char out[TFTP_FILENAME_MAX + 1];
	const char *why = NULL;
	int r = tftp_path_normalize(filename, out, sizeof(out), &why);

	if (r == -EACCES && !why)
		abort();
	if (r != 0)
		return;
	if (out[0] == '/' || out[0] == '\0' || strstr(out, "//"))
		abort();
	for (const char *p = out; *p;) {
		const char *end = strchrnul(p, '/');

		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			abort();
		p = *end ? end + 1 : end;
	}
	(void)tftp_path_device_prefix(out);
}

static void check_send(const struct tftp_transfer *t, const struct tftp_send *s)
{
	if (t->acked > t->sent_end || t->sent_end > t->last_block)
		abort();
	if (s->oack && s->first <= s->last)
		abort();
	if (s->first <= s->last) {
		if (s->first != t->acked + 1 || s->last != t->sent_end)
			abort();
		if (s->last - s->first + 1 > t->windowsize)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_request req = {.opcode = TFTP_OP_RRQ, .mode = TFTP_MODE_OCTET};
	struct tftp_transfer_limits limits;
	struct tftp_transfer t;
	struct tftp_send s;
	size_t pos = 0;
	uint64_t now = 1000, file_size;

	if (size < 4)
		return 0;
	/* Header: file size (scaled so rollover is reachable) and limits. */
	file_size = ((uint64_t)data[0] << 16 | (uint64_t)data[1] << 8 | data[2]) *
		    (data[3] & 0x80 ? 97 : 1);
	tftp_transfer_limits_default(&limits);
	limits.max_windowsize = (data[3] & 0x3f) + 1;
	limits.max_retries = data[3] & 7;
	pos = 4;

	if (pos < size) {
		size_t len = data[pos] * 3u;
		struct tftp_request parsed;
		enum tftp_error_code code;
		const char *why = NULL;

		pos++;
		if (len > size - pos)
			len = size - pos;
		if (tftp_parse_request(data + pos, len, &parsed, &code, &why) == 0) {
			if (strlen(parsed.filename) > TFTP_FILENAME_MAX)
				abort();
			check_path(parsed.filename);
			req = parsed;
		} else if (!why) {
			abort();
		}
		pos += len;
	}

	tftp_transfer_init(&t, &req, file_size, &limits);
	if (t.blksize < TFTP_BLKSIZE_MIN || t.blksize > limits.max_blksize ||
	    t.windowsize > limits.max_windowsize || t.last_block != file_size / t.blksize + 1)
		abort();
	tftp_transfer_start(&t, now, &s);
	check_send(&t, &s);

	while (pos + 2 <= size && t.state == TFTP_TRANSFER_SENDING) {
		size_t len = data[pos];
		uint8_t op = data[pos + 1];
		enum tftp_event ev;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		if (op & 1) {
			uint64_t before = t.acked;

			now += (uint64_t)op * 997;
			if (tftp_transfer_timeout(&t, now, &s))
				check_send(&t, &s);
			else if (t.state == TFTP_TRANSFER_SENDING)
				abort();
			if (t.acked != before)
				abort();
		} else {
			uint64_t before = t.acked;

			now += op;
			ev = tftp_transfer_receive(&t, data + pos, len, now, &s);
			if (ev != TFTP_EVENT_SEND && s.first <= s.last)
				abort();
			if (ev == TFTP_EVENT_SEND)
				check_send(&t, &s);
			if (t.acked < before)
				abort();
			if (ev == TFTP_EVENT_DONE && t.acked != t.last_block)
				abort();
			pos += len;
		}
	}
	return 0;
}
